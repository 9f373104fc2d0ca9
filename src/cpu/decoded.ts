/**
 * Decoded instructions, held as a struct of arrays so that executing one needs no object
 * and no allocation. The decoder (decoder.ts) fills slot `i` of every array; handlers read
 * the fields of their own slot. Basic blocks are runs of consecutive slots (block-cache.ts).
 */

/** Register-file index of the permanently-zero pseudo register used for absent base/index. */
export const ZERO_REG = 8;

/** `prefix` bits. */
export const PFX_REP = 1; // F3: REP / REPE
export const PFX_REPNE = 2; // F2: REPNE
export const PFX_OP32 = 4; // effective operand size is 32
export const PFX_ADDR32 = 8; // effective address size is 32
export const PFX_LOCK = 16; // F0

/** Segment register numbers (x86 encoding order). */
export const SEG_ES = 0, SEG_CS = 1, SEG_SS = 2, SEG_DS = 3, SEG_FS = 4, SEG_GS = 5;

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
  /** Effective-address base and index registers (dword indices; ZERO_REG when absent) and scale shift. */
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
  }
}
