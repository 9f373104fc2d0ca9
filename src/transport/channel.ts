/**
 * Channel: an ordered, reliable, message-framed link between two endpoints (DESIGN.md,
 * "Migration and the seed layers": transports implement one Channel). A message is a
 * whole byte array: the receiver gets exactly the bytes that were sent, never a piece or a
 * concatenation. Network uplinks between virtual switches use it now; migration streams
 * will use it later, so it knows nothing about what it carries.
 *
 * Here: the interface, a common base (handler lists, messages that arrive before anyone
 * listens, close-once), an in-process loopback pair and a channel over a MessagePort
 * (node:worker_threads or the browser's). The stream-socket channel is in socket-channel.ts.
 */

/** An ordered, reliable, message-framed link. */
export interface Channel {
  /** Send one message. The channel copies or takes it before returning; throws ChannelError once closed. */
  send(message: Uint8Array): void;
  /** Add a handler for incoming messages. Messages that arrived before the first handler are delivered to it. */
  onMessage(handler: (message: Uint8Array) => void): void;
  /** Add a handler called once when the channel closes (either side, or a transport error). */
  onClose(handler: (reason: string) => void): void;
  /** Bytes sent but not yet handed to the other side (for back-pressure); 0 where the transport cannot tell. */
  readonly bufferedBytes: number;
  /** Close both directions; the peer's onClose fires after the messages sent before. */
  close(reason?: string): void;
}

/** Misuse of a channel (sending after close, a message too large for the transport). */
export class ChannelError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ChannelError';
  }
}

/** Reason given when close() is called without one. */
export const DEFAULT_CLOSE_REASON = 'closed';

/** What every channel shares: handlers, early messages, close-once. Transports extend it. */
export abstract class ChannelBase implements Channel {
  private readonly messageHandlers: ((message: Uint8Array) => void)[] = [];
  private readonly closeHandlers: ((reason: string) => void)[] = [];
  private readonly early: Uint8Array[] = [];
  private reason: string | null = null;

  abstract send(message: Uint8Array): void;
  abstract readonly bufferedBytes: number;
  abstract close(reason?: string): void;

  /** True once the channel closed. */
  get closed(): boolean {
    return this.reason !== null;
  }

  /** Why the channel closed (null while open). */
  get closeReason(): string | null {
    return this.reason;
  }

  /** Add a message handler; the first one receives messages that were waiting. */
  onMessage(handler: (message: Uint8Array) => void): void {
    this.messageHandlers.push(handler);
    if (this.messageHandlers.length === 1) {
      while (this.early.length > 0) handler(this.early.shift()!);
    }
  }

  /** Add a close handler; on a closed channel it is called (asynchronously) with the reason. */
  onClose(handler: (reason: string) => void): void {
    const reason = this.reason;
    if (reason !== null) queueMicrotask(() => handler(reason));
    else this.closeHandlers.push(handler);
  }

  /** Throw if closed (for send). */
  protected assertOpen(): void {
    if (this.reason !== null) throw new ChannelError(`send on a closed channel (${this.reason})`);
  }

  /** Hand an incoming message to the handlers (or keep it for the first one). Dropped once closed. */
  protected deliver(message: Uint8Array): void {
    if (this.reason !== null) return;
    if (this.messageHandlers.length === 0) {
      this.early.push(message);
      return;
    }
    for (const handler of this.messageHandlers) handler(message);
  }

  /** Mark closed and call the close handlers once; false when it was already closed. */
  protected finish(reason: string): boolean {
    if (this.reason !== null) return false;
    this.reason = reason;
    const handlers = this.closeHandlers.splice(0);
    for (const handler of handlers) handler(reason);
    return true;
  }
}

/** One end of a loopback pair. */
class LoopbackChannel extends ChannelBase {
  peer: LoopbackChannel | null = null;
  private inTransit = 0;

  get bufferedBytes(): number {
    return this.inTransit;
  }

  send(message: Uint8Array): void {
    this.assertOpen();
    const copy = message.slice();
    const peer = this.peer!;
    this.inTransit += copy.length;
    queueMicrotask(() => {
      this.inTransit -= copy.length;
      peer.receive(copy);
    });
  }

  close(reason = DEFAULT_CLOSE_REASON): void {
    if (!this.finish(reason)) return;
    const peer = this.peer!;
    queueMicrotask(() => peer.finish(reason));
  }

  /** A message from the peer. */
  receive(message: Uint8Array): void {
    this.deliver(message);
  }
}

/**
 * Two connected in-process channels. Delivery is asynchronous (a microtask per message), in
 * order; messages are copied, so the sender may reuse its buffer. Closing one end closes the
 * other after the messages already sent have been delivered.
 */
export function loopbackChannelPair(): [Channel, Channel] {
  const a = new LoopbackChannel();
  const b = new LoopbackChannel();
  a.peer = b;
  b.peer = a;
  return [a, b];
}

/**
 * The part of a MessagePort a channel uses: node:worker_threads' MessagePort (`on`) and the
 * browser's (`addEventListener` + `start`) both fit.
 */
export interface MessagePortLike {
  postMessage(message: unknown, transfer: ArrayBuffer[]): void;
  close(): void;
  on?(event: string, listener: (value: unknown) => void): unknown;
  addEventListener?(type: string, listener: (event: Event) => void): void;
  start?(): void;
}

/** Options of a MessagePort channel. */
export interface MessagePortChannelOptions {
  /**
   * Transfer a message's buffer instead of copying it when the message covers its whole
   * ArrayBuffer: faster, but the sender's array is detached (empty) after send.
   */
  readonly transfer?: boolean;
}

/** The control record that carries a close across the port. */
interface CloseRecord {
  readonly channelClose: string;
}

function isCloseRecord(value: unknown): value is CloseRecord {
  return typeof value === 'object' && value !== null && typeof (value as { channelClose?: unknown }).channelClose === 'string';
}

/** A channel over a MessagePort. */
class MessagePortChannel extends ChannelBase {
  readonly bufferedBytes = 0;

  constructor(
    private readonly port: MessagePortLike,
    private readonly transfer: boolean,
  ) {
    super();
    if (typeof port.on === 'function') {
      port.on('message', (value) => this.receive(value));
      port.on('close', () => this.finish('port closed'));
    } else if (typeof port.addEventListener === 'function') {
      port.addEventListener('message', (event) => this.receive((event as unknown as { readonly data: unknown }).data));
      port.addEventListener('close', () => this.finish('port closed'));
      port.start?.();
    } else {
      throw new ChannelError('messagePortChannel: the port has neither on() nor addEventListener()');
    }
  }

  send(message: Uint8Array): void {
    this.assertOpen();
    const buffer = message.buffer;
    const whole = buffer instanceof ArrayBuffer && message.byteOffset === 0 && message.byteLength === buffer.byteLength;
    if (whole && !this.transfer) {
      this.port.postMessage(message, []);
      return;
    }
    // A view into a larger (or shared) buffer: copy just its bytes and hand over the copy.
    const owned = whole ? message : message.slice();
    this.port.postMessage(owned, [owned.buffer as ArrayBuffer]);
  }

  close(reason = DEFAULT_CLOSE_REASON): void {
    if (this.closed) return;
    const record: CloseRecord = { channelClose: reason };
    try {
      this.port.postMessage(record, []);
    } finally {
      this.port.close();
      this.finish(reason);
    }
  }

  /** A value from the port: a message, the peer's close, or something this channel never sends. */
  private receive(value: unknown): void {
    if (value instanceof Uint8Array) {
      this.deliver(value);
    } else if (value instanceof ArrayBuffer) {
      this.deliver(new Uint8Array(value));
    } else if (isCloseRecord(value)) {
      this.port.close();
      this.finish(value.channelClose);
    } else {
      this.port.close();
      this.finish(`unexpected value on the port (${typeof value})`);
    }
  }
}

/**
 * A channel over a MessagePort (one end of a MessageChannel, or a worker's port). Messages
 * are posted as Uint8Arrays; close() posts a close record carrying the reason before
 * closing the port, so the peer's onClose gets the same reason.
 */
export function messagePortChannel(port: MessagePortLike, options: MessagePortChannelOptions = {}): Channel {
  return new MessagePortChannel(port, options.transfer ?? false);
}
