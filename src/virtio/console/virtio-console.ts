/**
 * virtio-console (VIRTIO 1.2 §5.3 "Console Device"), single port: no MULTIPORT, so queue 0
 * is receiveq (host → guest bytes) and queue 1 transmitq (guest → host bytes). The
 * configuration (§5.3.4) reports an 80x25 console (VIRTIO_CONSOLE_F_SIZE) and accepts
 * emergency writes (VIRTIO_CONSOLE_F_EMERG_WRITE: a byte written to emerg_wr is output at
 * once, usable before the queues are set up).
 *
 * Output: on a transmitq notification every available chain's readable bytes go to
 * `onOutput`, and the chain returns with nothing written. Input: `input()` appends to a
 * bounded pending buffer (64 KiB; excess bytes are dropped and counted) that drains into
 * receiveq buffers as they become available — on `input()` itself and on every receiveq
 * notification. Requests complete synchronously, so nothing is in flight between calls and
 * the saved state is the pending input and the drop counter.
 */
import { type Persist, type SavedState, StateReader } from '../../persist/persist.js';
import {
  type Virtqueue,
  type VirtioDevice,
  type VirtioDeviceHost,
  VirtioDeviceType,
  VirtioFeatureBit,
  VirtqueueError,
  featureBit,
} from '../virtio-device.js';

/** Console feature bits (§5.3.3). */
export const enum VirtioConsoleFeature {
  Size = 0,
  Multiport = 1,
  EmergencyWrite = 2,
}

/** Offsets in struct virtio_console_config (§5.3.4). */
export const enum VirtioConsoleConfig {
  Cols = 0,
  Rows = 2,
  MaxNrPorts = 4,
  EmergencyWrite = 8,
  Size = 12,
}

/** Queue numbers of a single-port console (§5.3.2). */
export const enum VirtioConsoleQueue {
  Receive = 0,
  Transmit = 1,
}

/** Columns and rows the console reports. */
export const VIRTIO_CONSOLE_COLS = 80;
export const VIRTIO_CONSOLE_ROWS = 25;
/** Largest number of input bytes held while the guest has no receive buffers. */
export const VIRTIO_CONSOLE_INPUT_CAPACITY = 64 * 1024;
/** Queue size of both queues. */
export const VIRTIO_CONSOLE_QUEUE_SIZE = 64;

const STATE_VERSION = 1;

/** Options of `new VirtioConsole`. */
export interface VirtioConsoleOptions {
  /** Device name and persist id; default "virtio-console0". */
  readonly name?: string;
  /** Receives the bytes the guest writes (transmitq and emergency writes). */
  readonly onOutput: (bytes: Uint8Array) => void;
}

/** Saved state of a console. */
export interface VirtioConsoleState extends SavedState {
  readonly version: number;
  /** Input bytes not yet delivered to the guest, oldest first. */
  readonly pendingInput: Uint8Array;
  readonly droppedInputBytes: number;
}

/** A single-port virtio console. */
export class VirtioConsole implements VirtioDevice, Persist<VirtioConsoleState> {
  readonly name: string;
  readonly persistId: string;
  readonly deviceType = VirtioDeviceType.Console;
  readonly deviceFeatures =
    featureBit(VirtioConsoleFeature.Size) |
    featureBit(VirtioConsoleFeature.EmergencyWrite) |
    featureBit(VirtioFeatureBit.IndirectDescriptors) |
    featureBit(VirtioFeatureBit.EventIndex) |
    featureBit(VirtioFeatureBit.Version1);
  readonly queueCount = 2;
  readonly configSize = VirtioConsoleConfig.Size;

  private readonly onOutput: (bytes: Uint8Array) => void;
  /** Ring buffer of pending input. */
  private readonly pending = new Uint8Array(VIRTIO_CONSOLE_INPUT_CAPACITY);
  private pendingHead = 0;
  private pendingCount = 0;
  private dropped = 0;
  private receiveQueue: Virtqueue | null = null;
  private transmitQueue: Virtqueue | null = null;
  private host: VirtioDeviceHost | null = null;
  private readonly emergencyByte = new Uint8Array(1);

  constructor(options: VirtioConsoleOptions) {
    this.name = options.name ?? 'virtio-console0';
    this.persistId = this.name;
    this.onOutput = options.onOutput;
  }

  /** Input bytes dropped because the pending buffer was full. */
  get droppedInputBytes(): number {
    return this.dropped;
  }

  /** Input bytes waiting for receive buffers. */
  get pendingInputBytes(): number {
    return this.pendingCount;
  }

  /** Queue bytes for the guest; delivered now if receive buffers are available, else held (bounded). */
  input(bytes: Uint8Array): void {
    const room = VIRTIO_CONSOLE_INPUT_CAPACITY - this.pendingCount;
    const accepted = Math.min(room, bytes.length);
    for (let i = 0; i < accepted; i++) {
      this.pending[(this.pendingHead + this.pendingCount + i) % VIRTIO_CONSOLE_INPUT_CAPACITY] = bytes[i];
    }
    this.pendingCount += accepted;
    this.dropped += bytes.length - accepted;
    if (!this.receiveQueue) return;
    try {
      this.deliverInput();
    } catch (error) {
      this.failOn(error);
    }
  }

  queueMaxSize(_index: number): number {
    return VIRTIO_CONSOLE_QUEUE_SIZE;
  }

  configRead(offset: number, size: 1 | 2 | 4): number {
    let value = 0;
    for (let i = 0; i < size; i++) value |= this.configByte(offset + i) << (8 * i);
    return value >>> 0;
  }

  configWrite(offset: number, size: 1 | 2 | 4, value: number): void {
    if (offset === VirtioConsoleConfig.EmergencyWrite) {
      this.emergencyByte[0] = value & 0xff;
      this.onOutput(this.emergencyByte.slice());
      return;
    }
    this.host?.log(`${size}-byte write to read-only config offset ${offset} ignored`);
  }

  activate(_features: bigint, queues: readonly (Virtqueue | null)[], host: VirtioDeviceHost): void {
    this.receiveQueue = queues[VirtioConsoleQueue.Receive] ?? null;
    this.transmitQueue = queues[VirtioConsoleQueue.Transmit] ?? null;
    this.host = host;
    if (this.receiveQueue && this.pendingCount > 0) this.deliverInput();
  }

  queueNotify(index: number): void {
    if (index === VirtioConsoleQueue.Transmit) this.drainTransmit();
    else if (index === VirtioConsoleQueue.Receive) this.deliverInput();
  }

  /** Drops the queues; pending input stays for the next driver (it is the host's data, not the guest's). */
  reset(): void {
    this.receiveQueue = null;
    this.transmitQueue = null;
    this.host = null;
  }

  save(): VirtioConsoleState {
    return { version: STATE_VERSION, pendingInput: this.pendingBytes(), droppedInputBytes: this.dropped };
  }

  restore(state: unknown): void {
    const reader = new StateReader(this.persistId, state);
    reader.version([STATE_VERSION]);
    const pending = reader.ints('pendingInput', 0, 0xff, 0, VIRTIO_CONSOLE_INPUT_CAPACITY);
    const dropped = reader.int('droppedInputBytes', 0, Number.MAX_SAFE_INTEGER);
    this.pending.set(pending);
    this.pendingHead = 0;
    this.pendingCount = pending.length;
    this.dropped = dropped;
  }

  private configByte(offset: number): number {
    switch (offset) {
      case VirtioConsoleConfig.Cols:
        return VIRTIO_CONSOLE_COLS & 0xff;
      case VirtioConsoleConfig.Cols + 1:
        return VIRTIO_CONSOLE_COLS >>> 8;
      case VirtioConsoleConfig.Rows:
        return VIRTIO_CONSOLE_ROWS & 0xff;
      case VirtioConsoleConfig.Rows + 1:
        return VIRTIO_CONSOLE_ROWS >>> 8;
      case VirtioConsoleConfig.MaxNrPorts:
        return 1;
      default:
        return 0;
    }
  }

  /** Every available transmit chain: its readable bytes go out; pushed back with 0 bytes written. */
  private drainTransmit(): void {
    const queue = this.transmitQueue;
    if (!queue) return;
    let any = false;
    for (let chain = queue.pop(); chain !== null; chain = queue.pop()) {
      if (chain.readableLength > 0) {
        const bytes = new Uint8Array(chain.readableLength);
        chain.read(0, bytes);
        this.onOutput(bytes);
      }
      queue.push(chain, 0);
      any = true;
    }
    if (any) queue.notify();
  }

  /** Fill receive buffers with pending input while both last. */
  private deliverInput(): void {
    const queue = this.receiveQueue;
    if (!queue) return;
    let any = false;
    while (this.pendingCount > 0) {
      const chain = queue.pop();
      if (chain === null) break;
      const count = Math.min(this.pendingCount, chain.writableLength);
      if (count === 0) this.host?.log('receive buffer without writable space returned empty');
      else chain.write(0, this.takePending(count));
      queue.push(chain, count);
      any = true;
    }
    if (any) queue.notify();
  }

  /** Removes and returns the oldest `count` pending bytes. */
  private takePending(count: number): Uint8Array {
    const out = new Uint8Array(count);
    const first = Math.min(count, VIRTIO_CONSOLE_INPUT_CAPACITY - this.pendingHead);
    out.set(this.pending.subarray(this.pendingHead, this.pendingHead + first));
    if (first < count) out.set(this.pending.subarray(0, count - first), first);
    this.pendingHead = (this.pendingHead + count) % VIRTIO_CONSOLE_INPUT_CAPACITY;
    this.pendingCount -= count;
    return out;
  }

  private pendingBytes(): Uint8Array {
    const out = new Uint8Array(this.pendingCount);
    for (let i = 0; i < this.pendingCount; i++) out[i] = this.pending[(this.pendingHead + i) % VIRTIO_CONSOLE_INPUT_CAPACITY];
    return out;
  }

  /** A ring error found outside a driver notification (during input()): report it through the transport. */
  private failOn(error: unknown): void {
    if (error instanceof VirtqueueError && this.host) {
      this.host.fail(error.message);
      return;
    }
    throw error;
  }
}
