/**
 * Decoded instructions, held as fixed-size int32 records in one Int32Array so that
 * executing one needs no object and no allocation. The decoder (decoder.ts) fills a
 * record; a handler reads the fields of its own record at word offset `i` (`d[i + Ins.Reg]`).
 * Basic blocks are runs of consecutive records (block-cache.ts).
 */

/**
 * `Ins.Prefix` bits. Hot-path constants in the CPU are `const enum`s: the compiler inlines
 * them, where a module-level `const` costs a load and a hole check at every use in V8.
 */
export const enum Pfx {
  Rep = 1,
  Repne = 2,
  Op32 = 4,
  Addr32 = 8,
  Lock = 16,
}

/** Segment register numbers (x86 encoding order). */
export const enum Seg {
  ES = 0,
  CS = 1,
  SS = 2,
  DS = 3,
  FS = 4,
  GS = 5,
}
/**
 * Segment views: a memory operand's `Ins.Seg` is the segment register number for reads and
 * reads-then-writes of a read view, plus `Write` when the instruction writes its operand,
 * so that the same limit compare also enforces write permission (cpu.ts `segLimit`).
 */
export const enum SegView {
  Write = 8,
  /** Mask giving the segment register number of a view. */
  Reg = 7,
}

/** The same values under their spec-style names, for code outside the CPU. */
export const SEG_CS = Seg.CS;
export const SEG_SS = Seg.SS;

/** General register numbers (x86 encoding order), then the always-zero pseudo register for absent base/index. */
export const enum Reg {
  EAX = 0,
  ECX = 1,
  EDX = 2,
  EBX = 3,
  ESP = 4,
  EBP = 5,
  ESI = 6,
  EDI = 7,
  Zero = 8,
}

/**
 * Word offsets of the fields of one decoded instruction. Instructions are stored as
 * consecutive records of Ins.Stride int32 words in one Int32Array, so a handler reaches
 * all of its fields through one array (the engine loads its base and length once); a
 * handler's `i` is the offset of its record.
 */
export const enum Ins {
  /** Handler id (index into the handler table). */
  Op = 0,
  /** Instruction length in bytes. */
  Len = 1,
  /** ModRM.reg operand as a register-view index (byte index for 8-bit, word index for 16, dword for 32), or a register number. */
  Reg = 2,
  /** ModRM.rm register operand as a register-view index (when Mem is 0). */
  Rm = 3,
  /** 1 when the r/m operand is in memory. */
  Mem = 4,
  /** Effective-address base and index registers (dword indices; Reg.Zero when absent) and scale shift. */
  Base = 5,
  Index = 6,
  Scale = 7,
  /** Displacement, and the address-size mask applied to the offset (0xFFFF or -1). */
  Disp = 8,
  Amask = 9,
  /** Effective segment register for the memory operand (override or default). */
  Seg = 10,
  /** Immediate operand(s) (sign-extended where the encoding says so). */
  Imm = 11,
  Imm2 = 12,
  /** Pfx bits. */
  Prefix = 13,
  /** Sub-operation fixed by the encoding: ALU kind, condition code, group ModRM.reg... */
  Sub = 14,
  /** Byte offset, from the start of the instruction's block, of the instruction that follows it. */
  Next = 15,
  /** Words per instruction record (a power of two: `>> 4` turns a word offset into a slot). */
  Stride = 16,
  StrideShift = 4,
}

/** Decoded instructions: `capacity` records of Ins.Stride words. */
export type DecodedStore = Int32Array;

/** Allocate a store for `capacity` decoded instructions. */
export function createDecodedStore(capacity: number): DecodedStore {
  return new Int32Array(capacity * Ins.Stride);
}
