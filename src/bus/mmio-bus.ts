/**
 * MMIO bus: memory-mapped device registers in the 32-bit guest-physical address space
 * (e.g. the local APIC at 0xFEE00000, the I/O APIC at 0xFEC00000, PCI BARs). The memory
 * layer hands accesses to NPT entries marked mmio to this bus with absolute physical
 * addresses; the bus finds the owning device and calls it with an offset relative to the
 * registered base.
 *
 * Registrations are kept as non-overlapping ranges sorted by base; lookup is a binary
 * search with a one-entry cache of the last range hit. Like the I/O-port bus, an access
 * whose bytes span two ranges (or a range and nothing) is split into byte accesses routed
 * per address and assembled little-endian; addresses wrap at 4 GiB within such a split.
 * Unclaimed reads return all ones; unclaimed writes are dropped, counted and logged.
 */

import { RecentRing, hex } from './access-log.js';
import { type AccessSize, BusOverlapError, BusRangeError, UNCLAIMED_LOG_CAPACITY, maskToSize } from './io-bus.js';

/** A memory-mapped device; offsets are relative to the base it was registered at. */
export interface MmioDevice {
  /** Name used in error messages and debug logs. */
  readonly name: string;
  /** Read `size` bytes at `offset`; the bus masks the result to `size` anyway. */
  mmioRead(offset: number, size: AccessSize): number;
  /** Write `size` bytes at `offset`; `value` is already masked to `size`. */
  mmioWrite(offset: number, size: AccessSize, value: number): void;
}

/** One MMIO access no device claimed. `value` is present for writes only. */
export interface UnclaimedMmioAccess {
  readonly address: number;
  readonly size: AccessSize;
  readonly value?: number;
  readonly kind: 'read' | 'write';
}

/** Size of the 32-bit physical address space. */
export const MMIO_ADDRESS_SPACE = 0x1_0000_0000;

/** Format an inclusive address range for messages. */
function addressRange(base: number, length: number): string {
  return `${hex(base, 8)}-${hex(base + length - 1, 8)}`;
}

/** The MMIO bus of one VM; structurally an `MmioHandler` for the memory layer. */
export class MmioBus {
  /** Sorted by base; parallel arrays for a cheap binary search. */
  private readonly bases: number[] = [];
  /** Inclusive last address of each range. */
  private readonly lasts: number[] = [];
  private readonly devices: MmioDevice[] = [];
  /** Index of the range hit last (a cache, -1 = none). */
  private lastHit = -1;
  private readonly recentUnclaimed = new RecentRing<UnclaimedMmioAccess>(UNCLAIMED_LOG_CAPACITY);
  private unclaimedReadCount = 0;
  private unclaimedWriteCount = 0;

  /** Optional hook called on every unclaimed access. */
  onUnclaimed?: (access: UnclaimedMmioAccess) => void;

  /** Number of reads no device claimed (a split access counts once per unclaimed byte). */
  get unclaimedReads(): number {
    return this.unclaimedReadCount;
  }

  /** Number of writes no device claimed (a split access counts once per unclaimed byte). */
  get unclaimedWrites(): number {
    return this.unclaimedWriteCount;
  }

  /**
   * Attach `device` at physical addresses [base, base + length). A device may be registered
   * at several ranges. Throws BusRangeError for a bad range, BusOverlapError on overlap.
   */
  register(device: MmioDevice, base: number, length: number): void {
    this.checkRange(device, base, length);
    const last = base + length - 1;
    const index = this.insertionIndex(base);
    this.checkNeighbour(device, base, length, index - 1);
    this.checkNeighbour(device, base, length, index);
    this.bases.splice(index, 0, base);
    this.lasts.splice(index, 0, last);
    this.devices.splice(index, 0, device);
    this.lastHit = -1;
  }

  /** Detach every range registered for `device`. Throws if it was never registered. */
  unregister(device: MmioDevice): void {
    let found = false;
    for (let i = this.devices.length - 1; i >= 0; i--) {
      if (this.devices[i] !== device) continue;
      this.bases.splice(i, 1);
      this.lasts.splice(i, 1);
      this.devices.splice(i, 1);
      found = true;
    }
    this.lastHit = -1;
    if (!found) throw new BusRangeError(`MMIO bus: device '${device.name}' is not registered`);
  }

  /** Read `size` bytes at physical `address`; unsigned; unclaimed bytes read as all ones. */
  mmioRead(address: number, size: AccessSize): number {
    address = address >>> 0;
    const index = this.find(address);
    if (index >= 0 && address + size - 1 <= this.lasts[index]!) {
      return maskToSize(this.devices[index]!.mmioRead(address - this.bases[index]!, size), size);
    }
    if (size === 1) return this.readUnclaimed(address);
    let value = 0;
    for (let i = 0; i < size; i++) value |= this.mmioRead((address + i) >>> 0, 1) << (8 * i);
    return value >>> 0;
  }

  /** Write `size` bytes of `value` at physical `address`; unclaimed bytes are counted. */
  mmioWrite(address: number, size: AccessSize, value: number): void {
    address = address >>> 0;
    const index = this.find(address);
    if (index >= 0 && address + size - 1 <= this.lasts[index]!) {
      this.devices[index]!.mmioWrite(address - this.bases[index]!, size, maskToSize(value, size));
      return;
    }
    if (size === 1) {
      this.writeUnclaimed(address, value & 0xff);
      return;
    }
    for (let i = 0; i < size; i++) this.mmioWrite((address + i) >>> 0, 1, (value >>> (8 * i)) & 0xff);
  }

  /** True if some device claims `address` (the board uses it to mark NPT entries mmio). */
  claims(address: number): boolean {
    return this.find(address >>> 0) >= 0;
  }

  /** Recent unclaimed accesses, oldest first (at most UNCLAIMED_LOG_CAPACITY). */
  unclaimedLog(): readonly UnclaimedMmioAccess[] {
    return this.recentUnclaimed.toArray();
  }

  /** Index of the range containing `address`, or -1. */
  private find(address: number): number {
    const cached = this.lastHit;
    if (cached >= 0 && address >= this.bases[cached]! && address <= this.lasts[cached]!) return cached;
    const index = this.insertionIndex(address + 1) - 1;
    if (index >= 0 && address <= this.lasts[index]!) {
      this.lastHit = index;
      return index;
    }
    return -1;
  }

  /** First index whose base is >= `base` (binary search). */
  private insertionIndex(base: number): number {
    let low = 0;
    let high = this.bases.length;
    while (low < high) {
      const mid = (low + high) >>> 1;
      if (this.bases[mid]! < base) low = mid + 1;
      else high = mid;
    }
    return low;
  }

  private checkNeighbour(device: MmioDevice, base: number, length: number, index: number): void {
    if (index < 0 || index >= this.bases.length) return;
    const otherBase = this.bases[index]!;
    const otherLast = this.lasts[index]!;
    if (otherLast < base || otherBase > base + length - 1) return;
    throw new BusOverlapError(
      `MMIO bus: device '${device.name}' at ${addressRange(base, length)} overlaps device ` +
        `'${this.devices[index]!.name}' at ${addressRange(otherBase, otherLast - otherBase + 1)}`,
    );
  }

  private checkRange(device: MmioDevice, base: number, length: number): void {
    if (!Number.isInteger(base) || !Number.isInteger(length) || base < 0 || length < 1 || base + length > MMIO_ADDRESS_SPACE) {
      throw new BusRangeError(
        `MMIO bus: device '${device.name}' range base=${base} length=${length} does not fit in 0x00000000-0xFFFFFFFF`,
      );
    }
  }

  private readUnclaimed(address: number): number {
    this.unclaimedReadCount++;
    this.noteUnclaimed({ address, size: 1, kind: 'read' });
    return 0xff;
  }

  private writeUnclaimed(address: number, value: number): void {
    this.unclaimedWriteCount++;
    this.noteUnclaimed({ address, size: 1, value, kind: 'write' });
  }

  private noteUnclaimed(access: UnclaimedMmioAccess): void {
    this.recentUnclaimed.push(access);
    this.onUnclaimed?.(access);
  }
}
