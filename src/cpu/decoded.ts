/**
 * Decoded instructions, held as a struct of arrays so that executing one needs no object
 * and no allocation. The decoder (decoder.ts) fills slot `i` of every array; handlers read
 * the fields of their own slot. Basic blocks are runs of consecutive slots (block-cache.ts).
 */

/** Constants inlined by the compiler (a `const enum`): no module-variable load on the hot path. */
export const enum Pfx {
  Rep = 1,
  Repne = 2,
  Op32 = 4,
  Addr32 = 8,
  Lock = 16,
}

/** Constants inlined by the compiler (a `const enum`): no module-variable load on the hot path. */
export const enum Seg {
  ES = 0,
  CS = 1,
  SS = 2,
  DS = 3,
  FS = 4,
  GS = 5,
}
/** The same values under their spec-style names, for code outside the CPU. */
export const SEG_CS = Seg.CS;
export const SEG_SS = Seg.SS;

/** Constants inlined by the compiler (a `const enum`): no module-variable load on the hot path. */
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

/** Register-file index of the permanently-zero pseudo register used for absent base/index. */

/** `prefix` bits. */

/** Segment register numbers (x86 encoding order). */

/** Storage for decoded instructions. */
export class DecodedStore {
  /** Handler id (index into the handler table). */
  readonly op: Uint16Array;
  /** Instruction length in bytes. */
  readonly len: Uint8Array;
  /** ModRM.reg operand as a register-view index (byte index for 8-bit, word index for 16, dword for 32), or a sub-operation number. */
  readonly reg: Uint8Array;
  /** ModRM.rm register operand as a register-view index (when `mem` is 0). */
  readonly rm: Uint8Array;
  /** 1 when the r/m operand is in memory. */
  readonly mem: Uint8Array;
  /** Effective-address base and index registers (dword indices; Reg.Zero when absent) and scale shift. */
  readonly base: Uint8Array;
  readonly index: Uint8Array;
  readonly scale: Uint8Array;
  /** Displacement, and the address-size mask applied to the offset (0xFFFF or -1). */
  readonly disp: Int32Array;
  readonly amask: Int32Array;
  /** Effective segment register for the memory operand (override or default). */
  readonly seg: Uint8Array;
  /** Immediate operand(s) (sign-extended where the encoding says so). */
  readonly imm: Int32Array;
  readonly imm2: Int32Array;
  /** PFX_* bits. */
  readonly prefix: Uint8Array;
  /** Byte offset, from the start of the instruction's block, of the instruction that follows it. */
  readonly next: Uint16Array;
  /** Sub-operation fixed by the encoding: ALU kind, condition code, group ModRM.reg, port... */
  readonly sub: Uint8Array;

  constructor(readonly capacity: number) {
    this.op = new Uint16Array(capacity);
    this.len = new Uint8Array(capacity);
    this.reg = new Uint8Array(capacity);
    this.rm = new Uint8Array(capacity);
    this.mem = new Uint8Array(capacity);
    this.base = new Uint8Array(capacity);
    this.index = new Uint8Array(capacity);
    this.scale = new Uint8Array(capacity);
    this.disp = new Int32Array(capacity);
    this.amask = new Int32Array(capacity);
    this.seg = new Uint8Array(capacity);
    this.imm = new Int32Array(capacity);
    this.imm2 = new Int32Array(capacity);
    this.prefix = new Uint8Array(capacity);
    this.sub = new Uint8Array(capacity);
    this.next = new Uint16Array(capacity);
  }
}
