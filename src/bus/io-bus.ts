/**
 * I/O-port bus: the x86 64 KiB port address space (IN/OUT/INS/OUTS, Intel SDM vol. 1
 * ch. 19 "Input/Output"). Devices register a contiguous port range; the CPU reads and writes
 * ports through this bus, which routes each access to the device owning the port with the
 * offset relative to the registered base.
 *
 * Lookup is O(1): a 64 K-entry table maps each port to a registration slot. An access of
 * 2 or 4 bytes that lies entirely inside one registration goes to that device with its
 * size. An access whose bytes span two registrations (or a registration and unclaimed
 * ports) is split into byte accesses, each routed by its own port and assembled
 * little-endian, like an ISA bus controller splits a wide cycle into byte cycles. Ports
 * wrap at 0xFFFF within such a split. Unclaimed ports read as all ones (a floating ISA
 * bus) and writes to them are dropped but counted and kept in a small ring for debugging.
 */

import { RecentRing, hex } from './access-log.js';

/** Width of one bus access in bytes. */
export type AccessSize = 1 | 2 | 4;

/** A device on the I/O-port bus; offsets are relative to the base it was registered at. */
export interface IoDevice {
  /** Name used in error messages and debug logs. */
  readonly name: string;
  /** Read `size` bytes at `offset`; the bus masks the result to `size` anyway. */
  ioRead(offset: number, size: AccessSize): number;
  /** Write `size` bytes at `offset`; `value` is already masked to `size`. */
  ioWrite(offset: number, size: AccessSize, value: number): void;
}

/** One access no device claimed. `value` is present for writes only. */
export interface UnclaimedAccess {
  readonly port: number;
  readonly size: AccessSize;
  readonly value?: number;
  readonly kind: 'read' | 'write';
}

/** Thrown when a registration would overlap an existing one; names both devices and ranges. */
export class BusOverlapError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'BusOverlapError';
  }
}

/** Thrown when a registration range is malformed or outside the bus's address space. */
export class BusRangeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'BusRangeError';
  }
}

/** Size of the x86 I/O-port address space. */
export const IO_PORT_COUNT = 0x10000;
/** Highest valid I/O port. */
export const IO_PORT_MAX = 0xffff;
/** How many unclaimed accesses the debug ring keeps. */
export const UNCLAIMED_LOG_CAPACITY = 64;

/** Slot value in the port table meaning "no device". */
const NO_SLOT = 0;

/** All-ones value for an access of `size` bytes (what a floating bus reads). */
export function allOnes(size: AccessSize): number {
  return size === 1 ? 0xff : size === 2 ? 0xffff : 0xffffffff;
}

/** Mask `value` to `size` bytes, unsigned. */
export function maskToSize(value: number, size: AccessSize): number {
  return size === 1 ? value & 0xff : size === 2 ? value & 0xffff : value >>> 0;
}

/** Check `size` is 1, 2 or 4 (callers outside TypeScript's reach may pass anything). */
function checkAccessSize(size: number): void {
  if (size !== 1 && size !== 2 && size !== 4) {
    throw new RangeError(`I/O access size must be 1, 2 or 4, got ${size}`);
  }
}

/** Format an inclusive port range for messages. */
function portRange(base: number, length: number): string {
  return `${hex(base, 4)}-${hex(base + length - 1, 4)}`;
}

/** The I/O-port bus of one VM. */
export class IoBus {
  /** Port → slot index + 1 (0 = unclaimed). */
  private readonly portSlots = new Uint32Array(IO_PORT_COUNT);
  /** Slot index → device (undefined = free slot). */
  private readonly slotDevices: (IoDevice | undefined)[] = [];
  /** Slot index → registered base port. */
  private readonly slotBases: number[] = [];
  /** Slot index → registered length. */
  private readonly slotLengths: number[] = [];
  private readonly recentUnclaimed = new RecentRing<UnclaimedAccess>(UNCLAIMED_LOG_CAPACITY);
  private unclaimedReadCount = 0;
  private unclaimedWriteCount = 0;

  /** Optional hook called on every unclaimed access (the CLI prints it with --debug-io). */
  onUnclaimed?: (access: UnclaimedAccess) => void;

  /** Number of reads no device claimed (a split access counts once per unclaimed byte). */
  get unclaimedReads(): number {
    return this.unclaimedReadCount;
  }

  /** Number of writes no device claimed (a split access counts once per unclaimed byte). */
  get unclaimedWrites(): number {
    return this.unclaimedWriteCount;
  }

  /**
   * Attach `device` at ports [base, base + length). A device may be registered at several
   * ranges. Throws BusRangeError for a bad range, BusOverlapError if any port is taken.
   */
  register(device: IoDevice, base: number, length: number): void {
    this.checkRange(device, base, length);
    this.checkNoOverlap(device, base, length);
    const slot = this.allocateSlot(device, base, length);
    this.portSlots.fill(slot + 1, base, base + length);
  }

  /** Detach every range registered for `device`. Throws if it was never registered. */
  unregister(device: IoDevice): void {
    let found = false;
    for (let slot = 0; slot < this.slotDevices.length; slot++) {
      if (this.slotDevices[slot] !== device) continue;
      const base = this.slotBases[slot]!;
      this.portSlots.fill(NO_SLOT, base, base + this.slotLengths[slot]!);
      this.slotDevices[slot] = undefined;
      found = true;
    }
    if (!found) throw new BusRangeError(`I/O bus: device '${device.name}' is not registered`);
  }

  /** Read `size` bytes at `port` (taken modulo 64 K); unsigned; unclaimed bytes read as all ones. */
  read(port: number, size: AccessSize): number {
    checkAccessSize(size);
    port &= IO_PORT_MAX;
    const slot = this.portSlots[port]!;
    if (slot !== NO_SLOT && (size === 1 || this.sameSlot(port, size, slot))) {
      const device = this.slotDevices[slot - 1]!;
      return maskToSize(device.ioRead(port - this.slotBases[slot - 1]!, size), size);
    }
    if (size === 1) return this.readUnclaimed(port);
    return this.readSplit(port, size);
  }

  /** Write `size` bytes of `value` at `port` (taken modulo 64 K); unclaimed bytes are counted and dropped. */
  write(port: number, size: AccessSize, value: number): void {
    checkAccessSize(size);
    port &= IO_PORT_MAX;
    const slot = this.portSlots[port]!;
    if (slot !== NO_SLOT && (size === 1 || this.sameSlot(port, size, slot))) {
      const device = this.slotDevices[slot - 1]!;
      device.ioWrite(port - this.slotBases[slot - 1]!, size, maskToSize(value, size));
      return;
    }
    if (size === 1) this.writeUnclaimed(port, value & 0xff);
    else this.writeSplit(port, size, value);
  }

  /** Recent unclaimed accesses, oldest first (at most UNCLAIMED_LOG_CAPACITY). */
  unclaimedLog(): readonly UnclaimedAccess[] {
    return this.recentUnclaimed.toArray();
  }

  /** True when all bytes of the access at `port` belong to registration `slot`. */
  private sameSlot(port: number, size: AccessSize, slot: number): boolean {
    const last = port + size - 1;
    return last <= IO_PORT_MAX && this.portSlots[last] === slot;
  }

  /** Read a wide access byte by byte, each byte routed by its own port. */
  private readSplit(port: number, size: AccessSize): number {
    let value = 0;
    for (let i = 0; i < size; i++) {
      value |= this.read((port + i) & IO_PORT_MAX, 1) << (8 * i);
    }
    return value >>> 0;
  }

  /** Write a wide access byte by byte, each byte routed by its own port. */
  private writeSplit(port: number, size: AccessSize, value: number): void {
    for (let i = 0; i < size; i++) {
      this.write((port + i) & IO_PORT_MAX, 1, (value >>> (8 * i)) & 0xff);
    }
  }

  private readUnclaimed(port: number): number {
    this.unclaimedReadCount++;
    this.noteUnclaimed({ port, size: 1, kind: 'read' });
    return 0xff;
  }

  private writeUnclaimed(port: number, value: number): void {
    this.unclaimedWriteCount++;
    this.noteUnclaimed({ port, size: 1, value, kind: 'write' });
  }

  private noteUnclaimed(access: UnclaimedAccess): void {
    this.recentUnclaimed.push(access);
    this.onUnclaimed?.(access);
  }

  private checkRange(device: IoDevice, base: number, length: number): void {
    if (!Number.isInteger(base) || !Number.isInteger(length) || base < 0 || length < 1 || base + length > IO_PORT_COUNT) {
      throw new BusRangeError(
        `I/O bus: device '${device.name}' range base=${base} length=${length} does not fit in ports 0x0000-0xFFFF`,
      );
    }
  }

  private checkNoOverlap(device: IoDevice, base: number, length: number): void {
    for (let port = base; port < base + length; port++) {
      const slot = this.portSlots[port]!;
      if (slot === NO_SLOT) continue;
      const other = this.slotDevices[slot - 1]!;
      throw new BusOverlapError(
        `I/O bus: device '${device.name}' at ports ${portRange(base, length)} overlaps device '${other.name}' ` +
          `at ports ${portRange(this.slotBases[slot - 1]!, this.slotLengths[slot - 1]!)}`,
      );
    }
  }

  /** Reuse a free slot or append one; returns the slot index. */
  private allocateSlot(device: IoDevice, base: number, length: number): number {
    let slot = this.slotDevices.indexOf(undefined);
    if (slot < 0) slot = this.slotDevices.length;
    this.slotDevices[slot] = device;
    this.slotBases[slot] = base;
    this.slotLengths[slot] = length;
    return slot;
  }
}
