// In-memory fakes of the virtio device-side interfaces (Virtqueue, VirtqueueChain,
// VirtioDeviceHost) and of a BlockBackend, for testing devices without a transport.
import type { BlockBackend } from '../../../src/storage/block-backend.js';
import { StorageError } from '../../../src/storage/block-backend.js';
import {
  VirtqueueError,
  type Virtqueue,
  type VirtqueueBuffer,
  type VirtqueueChain,
  type VirtioDeviceHost,
} from '../../../src/virtio/virtio-device.js';

/** A flat "guest memory" that fake chains point into; buffers are handed out in order. */
export class FakeMemory {
  readonly bytes: Uint8Array;
  private next = 0x1000;

  constructor(size = 4 * 1024 * 1024) {
    this.bytes = new Uint8Array(size);
  }

  /** Reserve `length` bytes (optionally filled with `content`) and return the buffer. */
  buffer(length: number, content?: Uint8Array): VirtqueueBuffer {
    const address = this.next;
    this.next += length + 16;
    if (this.next > this.bytes.length) throw new Error('FakeMemory exhausted');
    if (content) this.bytes.set(content.subarray(0, length), address);
    return { address, length };
  }

  /** Copy of the bytes of a buffer. */
  contents(buffer: VirtqueueBuffer): Uint8Array {
    return this.bytes.slice(buffer.address, buffer.address + buffer.length);
  }
}

/** A descriptor chain over FakeMemory buffers. */
export class FakeChain implements VirtqueueChain {
  readonly readableLength: number;
  readonly writableLength: number;

  constructor(
    private readonly memory: FakeMemory,
    readonly head: number,
    readonly readable: readonly VirtqueueBuffer[],
    readonly writable: readonly VirtqueueBuffer[],
  ) {
    this.readableLength = readable.reduce((sum, b) => sum + b.length, 0);
    this.writableLength = writable.reduce((sum, b) => sum + b.length, 0);
  }

  read(offset: number, dst: Uint8Array): void {
    this.copy(this.readable, this.readableLength, offset, dst.length, (addr, at, n) => dst.set(this.memory.bytes.subarray(addr, addr + n), at));
  }

  write(offset: number, src: Uint8Array): void {
    this.copy(this.writable, this.writableLength, offset, src.length, (addr, at, n) => this.memory.bytes.set(src.subarray(at, at + n), addr));
  }

  /** All writable bytes concatenated. */
  written(): Uint8Array {
    const out = new Uint8Array(this.writableLength);
    let at = 0;
    for (const b of this.writable) {
      out.set(this.memory.contents(b), at);
      at += b.length;
    }
    return out;
  }

  private copy(
    buffers: readonly VirtqueueBuffer[],
    total: number,
    offset: number,
    length: number,
    move: (address: number, at: number, n: number) => void,
  ): void {
    if (offset < 0 || offset + length > total) {
      throw new VirtqueueError(`fake chain ${this.head}: access [${offset}, ${offset + length}) past ${total} bytes`);
    }
    let skip = offset;
    let at = 0;
    for (const b of buffers) {
      if (at === length) break;
      if (skip >= b.length) {
        skip -= b.length;
        continue;
      }
      const n = Math.min(b.length - skip, length - at);
      move(b.address + skip, at, n);
      at += n;
      skip = 0;
    }
  }
}

/** A used-ring entry the fake queue recorded. */
export interface UsedEntry {
  readonly chain: FakeChain;
  readonly written: number;
}

/** A virtqueue whose available ring is a list of prepared chains. */
export class FakeQueue implements Virtqueue {
  readonly available: FakeChain[] = [];
  readonly used: UsedEntry[] = [];
  notifications = 0;
  /** When set, the next pop throws this as a VirtqueueError. */
  corruptWith: string | null = null;
  private popped = 0;
  private nextHead = 0;

  constructor(
    readonly memory: FakeMemory,
    readonly index: number,
    readonly size = 256,
  ) {}

  get inFlight(): number {
    return this.popped - this.used.length;
  }

  /** Make a chain from readable contents and writable sizes, and make it available. */
  add(readable: readonly Uint8Array[], writableSizes: readonly number[]): FakeChain {
    const chain = new FakeChain(
      this.memory,
      this.nextHead++ % this.size,
      readable.map((content) => this.memory.buffer(content.length, content)),
      writableSizes.map((size) => this.memory.buffer(size)),
    );
    this.available.push(chain);
    return chain;
  }

  pop(): FakeChain | null {
    if (this.corruptWith !== null) {
      const message = this.corruptWith;
      this.corruptWith = null;
      throw new VirtqueueError(message);
    }
    const chain = this.available.shift() ?? null;
    if (chain) this.popped++;
    return chain;
  }

  push(chain: VirtqueueChain, written: number): void {
    if (!(chain instanceof FakeChain)) throw new Error('push of a foreign chain');
    if (written < 0 || written > chain.writableLength) throw new Error(`push with written=${written} of ${chain.writableLength}`);
    if (this.used.some((u) => u.chain === chain)) throw new Error(`chain ${chain.head} pushed twice`);
    this.used.push({ chain, written });
  }

  notify(): void {
    this.notifications++;
  }
}

/** Records what a device tells its transport. */
export class FakeHost implements VirtioDeviceHost {
  readonly failures: string[] = [];
  readonly logs: string[] = [];
  configChanges = 0;

  configChanged(): void {
    this.configChanges++;
  }

  fail(reason: string): void {
    this.failures.push(reason);
  }

  log(message: string): void {
    this.logs.push(message);
  }
}

/** One call the fake backend saw. */
export type BackendCall =
  | { op: 'read' | 'write'; offset: number; length: number }
  | { op: 'flush' }
  | { op: 'discard'; offset: number; length: number }
  | { op: 'writeZeroes'; offset: number; length: number; mayUnmap: boolean };

/** A BlockBackend over a Uint8Array that records its calls. */
export class FakeBackend implements BlockBackend {
  readonly calls: BackendCall[] = [];
  readonly data: Uint8Array;
  /** When set, every call throws a StorageError with this problem. */
  failWith: string | null = null;

  constructor(
    readonly sizeBytes: number,
    readonly readOnly = false,
    readonly name = 'fake.img',
  ) {
    this.data = new Uint8Array(sizeBytes);
  }

  read(offset: number, dst: Uint8Array): void {
    this.check(offset, dst.length);
    this.calls.push({ op: 'read', offset, length: dst.length });
    dst.set(this.data.subarray(offset, offset + dst.length));
  }

  write(offset: number, src: Uint8Array): void {
    this.check(offset, src.length);
    if (this.readOnly) throw new StorageError(this.name, 'read-only');
    this.calls.push({ op: 'write', offset, length: src.length });
    this.data.set(src, offset);
  }

  flush(): void {
    this.check(0, 0);
    this.calls.push({ op: 'flush' });
  }

  discard(offset: number, length: number): void {
    this.check(offset, length);
    this.calls.push({ op: 'discard', offset, length });
  }

  writeZeroes(offset: number, length: number, mayUnmap: boolean): void {
    this.check(offset, length);
    this.calls.push({ op: 'writeZeroes', offset, length, mayUnmap });
    this.data.fill(0, offset, offset + length);
  }

  close(): void {}

  private check(offset: number, length: number): void {
    if (this.failWith !== null) throw new StorageError(this.name, this.failWith);
    if (offset < 0 || offset + length > this.sizeBytes) throw new Error(`fake backend: access [${offset}, ${offset + length}) out of range`);
  }
}
