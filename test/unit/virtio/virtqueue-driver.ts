// A small test-only virtio driver: lays out split rings in guest memory and fills them the
// way a driver would (VIRTIO 1.2 §2.7.13), so the device-side code can be exercised.
import { FramePool, GuestMemory } from '../../../src/memory/index.js';

export const RAM_BYTES = 1024 * 1024;

/** One buffer the mock driver adds to a chain. */
export interface DriverBuffer {
  readonly address: number;
  readonly length: number;
  readonly write?: boolean;
}

/** Guest memory of RAM_BYTES over a fresh frame pool. */
export function makeMemory(): GuestMemory {
  return new GuestMemory(new FramePool({ initialFrames: 512 }), RAM_BYTES);
}

/** The driver side of one split queue with its rings at desc/driver/device. */
export class MockDriver {
  /** Next free descriptor in the direct table (descriptors are never reused in tests that don't free them). */
  nextFree = 0;
  availIdx = 0;
  lastSeenUsed = 0;

  constructor(
    readonly memory: GuestMemory,
    readonly size: number,
    readonly desc = 0x10000,
    readonly driver = 0x20000,
    readonly device = 0x30000,
  ) {}

  /** Writes descriptor `index` of the table at `table`. */
  writeDescriptor(table: number, index: number, address: number, length: number, flags: number, next: number, addressHigh = 0): void {
    const at = table + 16 * index;
    this.memory.write32(at, address);
    this.memory.write32(at + 4, addressHigh);
    this.memory.write32(at + 8, length);
    this.memory.write16(at + 12, flags);
    this.memory.write16(at + 14, next);
  }

  /** Adds a direct chain of `buffers` at the next free descriptors; returns its head (not yet made available). */
  addChain(buffers: readonly DriverBuffer[]): number {
    const head = this.nextFree % this.size;
    for (let i = 0; i < buffers.length; i++) {
      const index = (this.nextFree + i) % this.size;
      const last = i === buffers.length - 1;
      const flags = (last ? 0 : 1) | (buffers[i].write ? 2 : 0);
      this.writeDescriptor(this.desc, index, buffers[i].address, buffers[i].length, flags, (index + 1) % this.size);
    }
    this.nextFree += buffers.length;
    return head;
  }

  /** Adds one descriptor pointing at an indirect table at `tableAddress` holding `buffers`; returns its head. */
  addIndirect(tableAddress: number, buffers: readonly DriverBuffer[]): number {
    for (let i = 0; i < buffers.length; i++) {
      const last = i === buffers.length - 1;
      const flags = (last ? 0 : 1) | (buffers[i].write ? 2 : 0);
      this.writeDescriptor(tableAddress, i, buffers[i].address, buffers[i].length, flags, i + 1);
    }
    const head = this.nextFree % this.size;
    this.writeDescriptor(this.desc, head, tableAddress, 16 * buffers.length, 4, 0);
    this.nextFree++;
    return head;
  }

  /** Puts `head` in the available ring and publishes the new avail.idx. */
  makeAvailable(head: number): void {
    this.memory.write16(this.driver + 4 + 2 * (this.availIdx % this.size), head);
    this.availIdx = (this.availIdx + 1) & 0xffff;
    this.memory.write16(this.driver + 2, this.availIdx);
  }

  /** Sets avail.idx directly (for corrupt-ring tests and index wrap-around). */
  setAvailIdx(value: number): void {
    this.availIdx = value & 0xffff;
    this.memory.write16(this.driver + 2, this.availIdx);
  }

  setAvailFlags(flags: number): void {
    this.memory.write16(this.driver, flags);
  }

  /** used_event (with EVENT_IDX): interrupt me once used.idx passes this. */
  setUsedEvent(value: number): void {
    this.memory.write16(this.driver + 4 + 2 * this.size, value);
  }

  usedIdx(): number {
    return this.memory.read16(this.device + 2);
  }

  /** avail_event written by the device. */
  availEvent(): number {
    return this.memory.read16(this.device + 4 + 8 * this.size);
  }

  /** Used elements published since the last call: [head, written]. */
  takeUsed(): Array<[number, number]> {
    const out: Array<[number, number]> = [];
    const idx = this.usedIdx();
    while (this.lastSeenUsed !== idx) {
      const at = this.device + 4 + 8 * (this.lastSeenUsed % this.size);
      out.push([this.memory.read32(at), this.memory.read32(at + 4)]);
      this.lastSeenUsed = (this.lastSeenUsed + 1) & 0xffff;
    }
    return out;
  }

  fill(address: number, bytes: Uint8Array): void {
    this.memory.writeBytes(address, bytes);
  }

  bytesAt(address: number, length: number): Uint8Array {
    const out = new Uint8Array(length);
    this.memory.readBytes(address, out);
    return out;
  }
}
