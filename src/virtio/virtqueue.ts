/**
 * Split virtqueue, device side (VIRTIO 1.2 §2.7 "Split Virtqueues"): the descriptor table
 * (§2.7.5), the driver-written available ring (§2.7.6) and the device-written used ring
 * (§2.7.8) at the guest-physical addresses the driver configured, read and written through
 * GuestMemory (so the device's writes mark pages dirty and break copy-on-write like DMA).
 *
 * `pop()` takes the next head from the available ring and walks its chain: NEXT links,
 * WRITE buffers after the readable ones (§2.7.4.2), and one indirect table (§2.7.5.3) as the
 * last descriptor of a direct chain. Everything the driver wrote is untrusted: an available
 * index that moves by more than the queue size, an out-of-range descriptor index, a loop or a
 * chain longer than its table, a buffer outside guest RAM, an empty, misaligned or nested
 * indirect table, or a readable buffer after a writable one throws `VirtqueueError` naming
 * the queue, the descriptor and the problem. Every walk is bounded by a table's size.
 *
 * `notify()` applies the driver's interrupt suppression: VIRTQ_AVAIL_F_NO_INTERRUPT, or with
 * VIRTIO_F_EVENT_IDX the used_event field (§2.7.10); after each pop the device publishes
 * avail_event (its next expected available index) when EVENT_IDX was negotiated.
 *
 * Legacy layout (§2.7.2, legacy interfaces): one physically contiguous area from a page
 * frame number, used ring aligned to 4096; see `legacyRingAddresses`.
 */
import type { GuestMemory } from '../memory/guest-memory.js';
import { type Virtqueue, type VirtqueueBuffer, type VirtqueueChain, VirtqueueError } from './virtio-device.js';

/** Descriptor flag bits (§2.7.5). */
export const enum VirtqDescFlag {
  Next = 1,
  Write = 2,
  Indirect = 4,
}

/** Available ring flag (§2.7.6). */
export const VIRTQ_AVAIL_F_NO_INTERRUPT = 1;

/** Largest queue size a split virtqueue may have (§2.7). */
export const VIRTQ_MAX_SIZE = 32768;

/** A 16-bit next field reaches at most this many descriptors: bounds every walk, even in a huge indirect table. */
const MAX_REACHABLE_DESCRIPTORS = 0x10000;

/** Byte sizes and offsets of the split ring structures (§2.7.5, §2.7.6, §2.7.8). */
const enum RingLayout {
  DescriptorSize = 16,
  DescAddressLow = 0,
  DescAddressHigh = 4,
  DescLength = 8,
  DescFlags = 12,
  DescNext = 14,
  /** flags (u16) + idx (u16) before the ring entries, in both rings. */
  RingHeader = 4,
  RingFlags = 0,
  RingIndex = 2,
  AvailEntrySize = 2,
  UsedEntrySize = 8,
  /** The trailing used_event / avail_event field. */
  EventFieldSize = 2,
  DescAlignment = 16,
  AvailAlignment = 2,
  UsedAlignment = 4,
  LegacyAlignment = 4096,
}

/** Guest-physical addresses of one queue's three parts. */
export interface VirtqueueAddresses {
  /** Descriptor table (queue_desc). */
  readonly desc: number;
  /** Available ring, the "driver area" (queue_driver). */
  readonly driver: number;
  /** Used ring, the "device area" (queue_device). */
  readonly device: number;
}

/** Where a legacy (pre-1.0) driver's queue lives, given its page frame number (§2.7.2 legacy layout, 4096 alignment). */
export function legacyRingAddresses(pfn: number, size: number): VirtqueueAddresses {
  const desc = pfn * RingLayout.LegacyAlignment;
  const driver = desc + RingLayout.DescriptorSize * size;
  const availEnd = driver + RingLayout.RingHeader + RingLayout.AvailEntrySize * size + RingLayout.EventFieldSize;
  const device = Math.ceil(availEnd / RingLayout.LegacyAlignment) * RingLayout.LegacyAlignment;
  return { desc, driver, device };
}

/** The ring positions a queue keeps between calls (what a snapshot must carry). */
export interface VirtqueueCounters {
  /** Next available-ring index the device will read (free-running 16-bit). */
  readonly lastAvailIndex: number;
  /** Next used-ring index the device will write (free-running 16-bit, = used.idx). */
  readonly usedIndex: number;
  /** used.idx when notify() last looked at the suppression rules. */
  readonly signalledUsedIndex: number;
}

/** Options of `new SplitVirtqueue`. */
export interface SplitVirtqueueOptions extends VirtqueueAddresses {
  readonly memory: GuestMemory;
  /** Queue number. */
  readonly index: number;
  /** Queue size the driver chose (1..32768). */
  readonly size: number;
  /** VIRTIO_F_EVENT_IDX was negotiated. */
  readonly eventIndex: boolean;
  /** VIRTIO_F_INDIRECT_DESC was negotiated (an indirect descriptor otherwise is an error). */
  readonly indirect: boolean;
  /** Called when notify() decides the driver must be interrupted. */
  readonly interrupt: () => void;
  /** Device name for errors ("virtio-blk0"). */
  readonly deviceName?: string;
  /** False while the device may not access memory (bus mastering off, device broken): pop() then returns null. */
  readonly dmaAllowed?: () => boolean;
  /** Ring positions to resume from (snapshot restore); default all zero. */
  readonly counters?: VirtqueueCounters;
}

/** A readable or writable buffer of a chain. */
class ChainBuffer implements VirtqueueBuffer {
  constructor(readonly address: number, readonly length: number) {}
}

/** One popped descriptor chain; copies go through GuestMemory bulk accesses. */
class SplitChain implements VirtqueueChain {
  /** Set once the chain went to the used ring. */
  pushed = false;

  constructor(
    private readonly memory: GuestMemory,
    private readonly queueName: string,
    readonly head: number,
    readonly readable: readonly ChainBuffer[],
    readonly writable: readonly ChainBuffer[],
    readonly readableLength: number,
    readonly writableLength: number,
  ) {}

  read(offset: number, dst: Uint8Array): void {
    this.checkSpan('read', offset, dst.length, this.readableLength, 'readable');
    copyAcross(this.readable, offset, dst.length, (address, start, end) => this.memory.readBytes(address, dst.subarray(start, end)));
  }

  write(offset: number, src: Uint8Array): void {
    this.checkSpan('write', offset, src.length, this.writableLength, 'writable');
    copyAcross(this.writable, offset, src.length, (address, start, end) => this.memory.writeBytes(address, src.subarray(start, end)));
  }

  private checkSpan(operation: string, offset: number, length: number, available: number, kind: string): void {
    if (!Number.isInteger(offset) || offset < 0 || offset + length > available) {
      throw new VirtqueueError(
        `${this.queueName}: chain at descriptor ${this.head}: ${operation} of ${length} bytes at offset ${offset} exceeds its ${available} ${kind} bytes`,
      );
    }
  }
}

/** Visit the parts of [offset, offset + length) of `buffers` laid end to end: copy(address, start, end) with start/end in the caller's array. */
function copyAcross(
  buffers: readonly ChainBuffer[],
  offset: number,
  length: number,
  copy: (address: number, start: number, end: number) => void,
): void {
  let skip = offset;
  let done = 0;
  for (let i = 0; i < buffers.length && done < length; i++) {
    const buffer = buffers[i];
    if (skip >= buffer.length) {
      skip -= buffer.length;
      continue;
    }
    const count = Math.min(buffer.length - skip, length - done);
    copy(buffer.address + skip, done, done + count);
    done += count;
    skip = 0;
  }
}

function isPowerOfTwo(value: number): boolean {
  return value > 0 && (value & (value - 1)) === 0;
}

/** A split virtqueue over guest memory (device side). */
export class SplitVirtqueue implements Virtqueue {
  readonly index: number;
  readonly size: number;
  readonly addresses: VirtqueueAddresses;
  private readonly memory: GuestMemory;
  private readonly name: string;
  private readonly eventIndex: boolean;
  private readonly indirect: boolean;
  private readonly interrupt: () => void;
  private readonly dmaAllowed: () => boolean;
  private lastAvail: number;
  private usedIdx: number;
  private signalledUsed: number;
  private outstanding = 0;

  /** Validates the ring placement (alignment, inside guest RAM); throws VirtqueueError when the driver placed it badly. */
  constructor(options: SplitVirtqueueOptions) {
    this.memory = options.memory;
    this.index = options.index;
    this.size = options.size;
    this.name = `${options.deviceName ?? 'virtio'} queue ${options.index}`;
    this.eventIndex = options.eventIndex;
    this.indirect = options.indirect;
    this.interrupt = options.interrupt;
    this.dmaAllowed = options.dmaAllowed ?? (() => true);
    this.addresses = { desc: options.desc, driver: options.driver, device: options.device };
    const counters = options.counters ?? { lastAvailIndex: 0, usedIndex: 0, signalledUsedIndex: 0 };
    this.lastAvail = counters.lastAvailIndex & 0xffff;
    this.usedIdx = counters.usedIndex & 0xffff;
    this.signalledUsed = counters.signalledUsedIndex & 0xffff;
    this.checkPlacement();
  }

  get inFlight(): number {
    return this.outstanding;
  }

  /** The ring positions (for a snapshot). */
  counters(): VirtqueueCounters {
    return { lastAvailIndex: this.lastAvail, usedIndex: this.usedIdx, signalledUsedIndex: this.signalledUsed };
  }

  pop(): VirtqueueChain | null {
    if (!this.dmaAllowed()) return null;
    const driver = this.addresses.driver;
    const availIdx = this.memory.read16(driver + RingLayout.RingIndex);
    const pending = (availIdx - this.lastAvail) & 0xffff;
    if (pending === 0) return null;
    if (pending > this.size) {
      throw new VirtqueueError(
        `${this.name}: available index jumped from ${this.lastAvail} to ${availIdx}, more than the queue size ${this.size}`,
      );
    }
    const slot = driver + RingLayout.RingHeader + RingLayout.AvailEntrySize * (this.lastAvail % this.size);
    const head = this.memory.read16(slot);
    if (head >= this.size) {
      throw new VirtqueueError(`${this.name}: descriptor ${head}: head index out of range (queue size ${this.size})`);
    }
    const chain = this.walkChain(head);
    this.lastAvail = (this.lastAvail + 1) & 0xffff;
    if (this.eventIndex) this.memory.write16(this.availEventAddress(), this.lastAvail);
    this.outstanding++;
    return chain;
  }

  push(chain: VirtqueueChain, written: number): void {
    if (!(chain instanceof SplitChain) || chain.pushed) {
      throw new Error(`${this.name}: push of a chain that is not in flight on this queue (head ${chain.head})`);
    }
    if (!Number.isInteger(written) || written < 0 || written > chain.writableLength) {
      throw new Error(`${this.name}: push of chain ${chain.head} with ${written} bytes written, it has ${chain.writableLength} writable`);
    }
    chain.pushed = true;
    const device = this.addresses.device;
    const element = device + RingLayout.RingHeader + RingLayout.UsedEntrySize * (this.usedIdx % this.size);
    this.memory.write32(element, chain.head);
    this.memory.write32(element + 4, written);
    this.usedIdx = (this.usedIdx + 1) & 0xffff;
    this.memory.write16(device + RingLayout.RingIndex, this.usedIdx);
    this.outstanding--;
  }

  notify(): void {
    const previous = this.signalledUsed;
    const current = this.usedIdx;
    this.signalledUsed = current;
    if (previous === current) return;
    if (this.eventIndex) {
      const usedEvent = this.memory.read16(this.usedEventAddress());
      // Interrupt when used_event lies in the entries published since the last check (§2.7.10).
      if (((current - usedEvent - 1) & 0xffff) >= ((current - previous) & 0xffff)) return;
    } else if ((this.memory.read16(this.addresses.driver + RingLayout.RingFlags) & VIRTQ_AVAIL_F_NO_INTERRUPT) !== 0) {
      return;
    }
    this.interrupt();
  }

  /** used_event: after the available ring's entries. */
  private usedEventAddress(): number {
    return this.addresses.driver + RingLayout.RingHeader + RingLayout.AvailEntrySize * this.size;
  }

  /** avail_event: after the used ring's elements. */
  private availEventAddress(): number {
    return this.addresses.device + RingLayout.RingHeader + RingLayout.UsedEntrySize * this.size;
  }

  private checkPlacement(): void {
    if (!Number.isInteger(this.size) || this.size < 1 || this.size > VIRTQ_MAX_SIZE || !isPowerOfTwo(this.size)) {
      throw new VirtqueueError(`${this.name}: queue size ${this.size} is not a power of two in 1..${VIRTQ_MAX_SIZE}`);
    }
    const ringBytes = RingLayout.RingHeader + RingLayout.EventFieldSize;
    this.checkArea('descriptor table', this.addresses.desc, RingLayout.DescriptorSize * this.size, RingLayout.DescAlignment);
    this.checkArea('available ring', this.addresses.driver, ringBytes + RingLayout.AvailEntrySize * this.size, RingLayout.AvailAlignment);
    this.checkArea('used ring', this.addresses.device, ringBytes + RingLayout.UsedEntrySize * this.size, RingLayout.UsedAlignment);
  }

  private checkArea(what: string, address: number, length: number, alignment: number): void {
    if (!Number.isInteger(address) || address % alignment !== 0) {
      throw new VirtqueueError(`${this.name}: ${what} at 0x${address.toString(16)} is not ${alignment}-byte aligned`);
    }
    if (address < 0 || address + length > this.memory.ramBytes) {
      throw new VirtqueueError(`${this.name}: ${what} at 0x${address.toString(16)} (+${length}) is outside guest RAM`);
    }
  }

  /** Walk the chain starting at `head` into readable and writable buffers. */
  private walkChain(head: number): SplitChain {
    const readable: ChainBuffer[] = [];
    const writable: ChainBuffer[] = [];
    let readableLength = 0;
    let writableLength = 0;
    let table = this.addresses.desc;
    let tableSize = this.size;
    let inIndirect = false;
    let index = head;
    let visited = 0;
    const memory = this.memory;
    for (;;) {
      if (++visited > Math.min(tableSize, MAX_REACHABLE_DESCRIPTORS)) {
        throw this.descriptorError(index, inIndirect, `chain loops or is longer than its table of ${tableSize} descriptors`);
      }
      const entry = table + RingLayout.DescriptorSize * index;
      const addressLow = memory.read32(entry + RingLayout.DescAddressLow);
      const addressHigh = memory.read32(entry + RingLayout.DescAddressHigh);
      const length = memory.read32(entry + RingLayout.DescLength);
      const flags = memory.read16(entry + RingLayout.DescFlags);
      const next = memory.read16(entry + RingLayout.DescNext);
      if ((flags & VirtqDescFlag.Indirect) !== 0) {
        this.checkIndirect(index, inIndirect, flags, addressHigh, addressLow, length);
        table = addressLow;
        tableSize = length / RingLayout.DescriptorSize;
        inIndirect = true;
        index = 0;
        visited = 0;
        continue;
      }
      this.checkBuffer(index, inIndirect, addressHigh, addressLow, length);
      if ((flags & VirtqDescFlag.Write) !== 0) {
        writable.push(new ChainBuffer(addressLow, length));
        writableLength += length;
      } else {
        if (writable.length > 0) throw this.descriptorError(index, inIndirect, 'readable buffer after a writable one');
        readable.push(new ChainBuffer(addressLow, length));
        readableLength += length;
      }
      if ((flags & VirtqDescFlag.Next) === 0) break;
      if (next >= tableSize) throw this.descriptorError(index, inIndirect, `next index ${next} out of range (table of ${tableSize})`);
      index = next;
    }
    return new SplitChain(memory, this.name, head, readable, writable, readableLength, writableLength);
  }

  /** The rules for a descriptor that points at an indirect table (§2.7.5.3.1). */
  private checkIndirect(index: number, inIndirect: boolean, flags: number, addressHigh: number, address: number, length: number): void {
    if (!this.indirect) throw this.descriptorError(index, inIndirect, 'indirect descriptor but VIRTIO_F_INDIRECT_DESC was not negotiated');
    if (inIndirect) throw this.descriptorError(index, inIndirect, 'nested indirect table');
    if ((flags & VirtqDescFlag.Next) !== 0) throw this.descriptorError(index, inIndirect, 'indirect descriptor with NEXT set');
    if (length === 0) throw this.descriptorError(index, inIndirect, 'zero-length indirect table');
    if (length % RingLayout.DescriptorSize !== 0) {
      throw this.descriptorError(index, inIndirect, `indirect table length ${length} is not a multiple of 16`);
    }
    if (address % RingLayout.DescAlignment !== 0) {
      throw this.descriptorError(index, inIndirect, `indirect table at 0x${address.toString(16)} is not 16-byte aligned`);
    }
    this.checkBuffer(index, inIndirect, addressHigh, address, length);
  }

  private checkBuffer(index: number, inIndirect: boolean, addressHigh: number, address: number, length: number): void {
    if (addressHigh !== 0 || address + length > this.memory.ramBytes) {
      const full = addressHigh * 0x1_0000_0000 + address;
      throw this.descriptorError(index, inIndirect, `buffer 0x${full.toString(16)} (+${length}) is outside guest RAM`);
    }
  }

  private descriptorError(index: number, inIndirect: boolean, problem: string): VirtqueueError {
    const where = inIndirect ? `indirect descriptor ${index}` : `descriptor ${index}`;
    return new VirtqueueError(`${this.name}: ${where}: ${problem}`);
  }
}
