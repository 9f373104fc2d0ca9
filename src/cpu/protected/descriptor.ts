/**
 * Segment descriptors (SDM vol. 3 §3.4.5): decoding the two dwords of a GDT/LDT entry into
 * base, limit and the attribute word the CPU caches per segment register (`Cpu.segAttr`).
 *
 * The attribute word is the descriptor's high dword, bits 8-23, shifted down by 8, so that
 * a descriptor's attributes and a cached segment's attributes use the same bit layout.
 */

/** Bits of an attribute word (descriptor high dword >> 8, masked with SegAttr.Mask). */
export const enum SegAttr {
  /** Type field (4 bits); for code/data: bit 0 accessed, 1 readable/writable, 2 conforming/expand-down, 3 code. */
  Type = 0x0f,
  Accessed = 0x01,
  /** Data: writable. Code: readable. */
  RW = 0x02,
  /** Data: expand-down. Code: conforming. */
  DC = 0x04,
  Code = 0x08,
  /** S: 1 for code/data, 0 for system descriptors. */
  S = 0x10,
  DplShift = 5,
  Dpl = 0x60,
  Present = 0x80,
  Avl = 0x1000,
  /** Default operand size (code) / big (stack, expand-down upper bound). */
  DB = 0x4000,
  /** Limit granularity: 4 KiB units. */
  G = 0x8000,
  /** The bits kept in the cache. */
  Mask = 0xf0ff,
}

/** System descriptor types (S = 0). */
export const enum SysType {
  Tss16Available = 1,
  Ldt = 2,
  Tss16Busy = 3,
  CallGate16 = 4,
  TaskGate = 5,
  InterruptGate16 = 6,
  TrapGate16 = 7,
  Tss32Available = 9,
  Tss32Busy = 11,
  CallGate32 = 12,
  InterruptGate32 = 14,
  TrapGate32 = 15,
}

/** Attributes of a real-mode / v8086 segment: present, DPL as given, writable data, accessed. */
export function realModeAttr(dpl: number): number {
  return SegAttr.Present | SegAttr.S | SegAttr.RW | SegAttr.Accessed | (dpl << SegAttr.DplShift);
}

/** Base address (int32) of the descriptor with dwords `lo`, `hi`. */
export function descriptorBase(lo: number, hi: number): number {
  return ((lo >>> 16) | ((hi & 0xff) << 16) | (hi & 0xff000000)) | 0;
}

/** Limit in bytes (unsigned, granularity applied) of the descriptor with dwords `lo`, `hi`. */
export function descriptorLimit(lo: number, hi: number): number {
  const raw = (lo & 0xffff) | (hi & 0x000f0000);
  return (hi & 0x00800000) !== 0 ? raw * 4096 + 4095 : raw;
}

/** Attribute word of the descriptor with high dword `hi`. */
export function descriptorAttr(hi: number): number {
  return (hi >>> 8) & SegAttr.Mask;
}
