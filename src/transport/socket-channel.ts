/**
 * A Channel over a stream socket (node:net: a Unix-domain socket or TCP). This is how two
 * VM processes are joined: one listens on a Unix socket path, the other connects, and each
 * wraps its socket in `socketChannel`.
 *
 * Framing: each message is a u32 little-endian byte count followed by that many bytes. The
 * reader reassembles messages from whatever pieces the stream delivers (a header split
 * across reads, several messages in one read) and copies each piece once into the
 * message's own buffer. A count above the maximum closes the channel with a reason naming
 * the size (a corrupt or hostile stream must not make us allocate gigabytes).
 */
import type { Socket } from 'node:net';
import { ChannelBase, ChannelError, DEFAULT_CLOSE_REASON, type Channel } from './channel.js';

/** Default largest message: 16 MiB. */
export const DEFAULT_MAX_MESSAGE_BYTES = 16 * 1024 * 1024;
/** Bytes of the length prefix. */
const LENGTH_PREFIX_BYTES = 4;

/** Options of a socket channel. */
export interface SocketChannelOptions {
  /** Largest message accepted or sent (default 16 MiB). */
  readonly maxMessageBytes?: number;
}

/** Reassembles length-prefixed messages from stream pieces. */
class FrameReader {
  private readonly prefix = new Uint8Array(LENGTH_PREFIX_BYTES);
  private prefixFilled = 0;
  private body: Uint8Array | null = null;
  private bodyFilled = 0;

  constructor(private readonly maxMessageBytes: number) {}

  /** Bytes of a started message (prefix or body) not yet complete. */
  get partialBytes(): number {
    return this.body === null ? this.prefixFilled : LENGTH_PREFIX_BYTES + this.bodyFilled;
  }

  /** Declared size of the message being read, or -1 between messages. */
  get expectedBytes(): number {
    return this.body === null ? -1 : this.body.length;
  }

  /**
   * Take a piece of the stream; calls `onMessage` for each completed message. Returns an
   * error text when a length prefix is above the maximum (the rest is not parsed).
   */
  push(piece: Uint8Array, onMessage: (message: Uint8Array) => void): string | null {
    let at = 0;
    while (at < piece.length) {
      if (this.body === null) {
        const n = Math.min(LENGTH_PREFIX_BYTES - this.prefixFilled, piece.length - at);
        this.prefix.set(piece.subarray(at, at + n), this.prefixFilled);
        this.prefixFilled += n;
        at += n;
        if (this.prefixFilled < LENGTH_PREFIX_BYTES) break;
        const size = new DataView(this.prefix.buffer).getUint32(0, true);
        if (size > this.maxMessageBytes) {
          return `incoming message of ${size} bytes exceeds the maximum of ${this.maxMessageBytes} bytes`;
        }
        this.prefixFilled = 0;
        this.body = new Uint8Array(size);
        this.bodyFilled = 0;
      } else {
        const n = Math.min(this.body.length - this.bodyFilled, piece.length - at);
        this.body.set(piece.subarray(at, at + n), this.bodyFilled);
        this.bodyFilled += n;
        at += n;
      }
      if (this.body !== null && this.bodyFilled === this.body.length) {
        const message = this.body;
        this.body = null;
        onMessage(message);
      }
    }
    return null;
  }
}

/** A channel over a connected node:net Socket. */
class SocketChannel extends ChannelBase {
  private readonly reader: FrameReader;
  private readonly deliverMessage = (message: Uint8Array): void => this.deliver(message);

  constructor(
    private readonly socket: Socket,
    private readonly maxMessageBytes: number,
  ) {
    super();
    this.reader = new FrameReader(maxMessageBytes);
    socket.on('data', (piece: Buffer) => this.receive(piece));
    socket.on('end', () => this.peerEnded());
    socket.on('error', (error: Error) => this.fail(`socket error: ${error.message}`));
    socket.on('close', () => this.fail('socket closed'));
  }

  get bufferedBytes(): number {
    return this.socket.writableLength;
  }

  send(message: Uint8Array): void {
    this.assertOpen();
    if (message.length > this.maxMessageBytes) {
      throw new ChannelError(`message of ${message.length} bytes exceeds the maximum of ${this.maxMessageBytes} bytes`);
    }
    const frame = Buffer.allocUnsafe(LENGTH_PREFIX_BYTES + message.length);
    frame.writeUInt32LE(message.length, 0);
    frame.set(message, LENGTH_PREFIX_BYTES);
    this.socket.write(frame);
  }

  /** Close gracefully: data already written is flushed before the socket ends. */
  close(reason = DEFAULT_CLOSE_REASON): void {
    if (!this.finish(reason)) return;
    this.socket.end();
  }

  private receive(piece: Uint8Array): void {
    if (this.closed) return;
    const error = this.reader.push(piece, this.deliverMessage);
    if (error !== null) this.fail(error);
  }

  /** The peer ended its side: a clean close between messages, a truncated message otherwise. */
  private peerEnded(): void {
    const partial = this.reader.partialBytes;
    if (partial === 0) {
      this.finishAndEnd('peer closed the connection');
    } else {
      const expected = this.reader.expectedBytes;
      const of = expected < 0 ? 'a length prefix' : `a ${expected}-byte message`;
      this.finishAndEnd(`peer closed the connection in the middle of ${of} (${partial} bytes received)`);
    }
  }

  private finishAndEnd(reason: string): void {
    if (this.finish(reason)) this.socket.end();
  }

  /** A transport or framing error: close with `reason` and drop the connection. */
  private fail(reason: string): void {
    if (this.finish(reason)) this.socket.destroy();
  }
}

/**
 * A channel over a connected stream socket with u32-LE length-prefixed framing. Messages
 * larger than `maxMessageBytes` are refused on send (ChannelError) and close the channel
 * when announced by the peer. The socket's end, close and errors close the channel with a
 * reason saying which.
 */
export function socketChannel(socket: Socket, options: SocketChannelOptions = {}): Channel {
  const max = options.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES;
  if (!Number.isInteger(max) || max < 0 || max > 0xffffffff) {
    throw new RangeError(`socketChannel: maxMessageBytes ${max} is not an integer in [0, 2^32)`);
  }
  return new SocketChannel(socket, max);
}
