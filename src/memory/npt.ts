/**
 * Nested page table (DESIGN.md, "Memory"): per VM, guest frame number → host frame number
 * plus flags, covering the whole 32-bit guest-physical space (1 << 20 entries of 4 KiB).
 *
 * An entry is one int32: `(hostFrame << 12) | flags`; 0 means not present. Host frames stay
 * below 2^19 (FramePool's ceiling), so entries are never negative and `entry >>> 12` reads the
 * frame. For MMIO entries (NPT_MMIO) the frame field is not a host frame: GuestMemory keeps an
 * MMIO region number there, and `hostFrameOf` reports -1.
 *
 * The table only stores; reference counts and copy-on-write live in GuestMemory.
 */

/** The entry maps something. */
export const NPT_PRESENT = 1;
/** Direct writes allowed (private RAM). Present without WRITABLE or SHARED is read-only (ROM). */
export const NPT_WRITABLE = 2;
/** The frame was read or written since this bit was last cleared. */
export const NPT_ACCESSED = 4;
/** The frame was written since the last dirty harvest. */
export const NPT_DIRTY = 8;
/** Copy-on-write: the host frame may be shared; the first write copies it. */
export const NPT_SHARED = 16;
/** Memory-mapped I/O: accesses go to a handler, there is no host frame. */
export const NPT_MMIO = 32;
/** The frame holds decoded code: writes must be reported. */
export const NPT_CODE = 64;

/** Mask of the flag bits in an entry. */
export const NPT_FLAGS_MASK = 0xfff;
/** Entries in a table covering 4 GiB of 4 KiB frames. */
export const NPT_FULL_FRAME_COUNT = 1 << 20;
/** Largest host frame an entry can hold (the frame pool's ceiling). */
const MAX_HOST_FRAME = 524287;

/** Thrown for an out-of-range guest frame, host frame or flag value; names which. */
export class NptRangeError extends Error {
  constructor(field: string, value: number, limit: string) {
    super(`nested page table: ${field} ${value} out of range (${limit})`);
    this.name = 'NptRangeError';
  }
}

/** Guest frame → host frame + flags for one VM. */
export class NestedPageTable {
  /** The raw entries, `(hostFrame << 12) | flags`, 0 = not present. */
  readonly entries: Int32Array;

  /** A table of `frameCount` entries (default: the whole 32-bit guest-physical space). */
  constructor(frameCount: number = NPT_FULL_FRAME_COUNT) {
    if (!Number.isInteger(frameCount) || frameCount < 1 || frameCount > NPT_FULL_FRAME_COUNT) {
      throw new NptRangeError('frameCount', frameCount, `1..${NPT_FULL_FRAME_COUNT}`);
    }
    this.entries = new Int32Array(frameCount);
  }

  /** Number of guest frames the table covers. */
  get frameCount(): number {
    return this.entries.length;
  }

  /** Maps `guestFrame` to `hostFrame` with `flags` (NPT_PRESENT is always added). */
  map(guestFrame: number, hostFrame: number, flags: number): void {
    this.checkGuestFrame(guestFrame);
    if (!Number.isInteger(hostFrame) || hostFrame < 0 || hostFrame > MAX_HOST_FRAME) {
      throw new NptRangeError('hostFrame', hostFrame, `0..${MAX_HOST_FRAME}`);
    }
    if (!Number.isInteger(flags) || flags < 0 || flags > NPT_FLAGS_MASK) {
      throw new NptRangeError('flags', flags, `0..0x${NPT_FLAGS_MASK.toString(16)}`);
    }
    this.entries[guestFrame] = (hostFrame << 12) | flags | NPT_PRESENT;
  }

  /** Makes `guestFrame` not present. */
  unmap(guestFrame: number): void {
    this.checkGuestFrame(guestFrame);
    this.entries[guestFrame] = 0;
  }

  /** Host frame mapped at `guestFrame`, or -1 when not present or MMIO. */
  hostFrameOf(guestFrame: number): number {
    this.checkGuestFrame(guestFrame);
    const entry = this.entries[guestFrame];
    if ((entry & (NPT_PRESENT | NPT_MMIO)) !== NPT_PRESENT) return -1;
    return entry >>> 12;
  }

  /** Flag bits of `guestFrame` (0 when not present). */
  flagsOf(guestFrame: number): number {
    this.checkGuestFrame(guestFrame);
    return this.entries[guestFrame] & NPT_FLAGS_MASK;
  }

  /** Sets flag `bits` on a present entry (no effect on a not-present one). Use map/unmap to change presence. */
  setFlags(guestFrame: number, bits: number): void {
    this.checkGuestFrame(guestFrame);
    const entry = this.entries[guestFrame];
    if ((entry & NPT_PRESENT) !== 0) this.entries[guestFrame] = entry | (bits & NPT_FLAGS_MASK & ~NPT_PRESENT);
  }

  /** Clears flag `bits` (NPT_PRESENT excepted: use unmap). */
  clearFlags(guestFrame: number, bits: number): void {
    this.checkGuestFrame(guestFrame);
    this.entries[guestFrame] &= ~(bits & NPT_FLAGS_MASK & ~NPT_PRESENT);
  }

  private checkGuestFrame(guestFrame: number): void {
    if (!(guestFrame >= 0 && guestFrame < this.entries.length) || !Number.isInteger(guestFrame)) {
      throw new NptRangeError('guestFrame', guestFrame, `0..${this.entries.length - 1}`);
    }
  }
}
