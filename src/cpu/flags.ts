/**
 * EFLAGS bit definitions and lazy evaluation of the six status flags.
 *
 * The recorded values are kept as int32 (`| 0`): bit `lbits-1` and below are all the
 * formulas need, and int32 fields stay small integers in the engine (no boxed doubles).
 *
 * Arithmetic instructions do not compute CF/PF/AF/ZF/SF/OF. They record the operation
 * class, the operands, the result and the operand width in the CPU (`lop`, `la`, `lb`,
 * `lres`, `lbits`) and set `lazy` to the set of status flags that must be derived from
 * that record when read. Flags outside `lazy` live in `cpu.flagsReg`.
 * Carry/borrow/overflow formulas work from bit `lbits-1` of the operands and result, so
 * ADC (whose result includes the carry-in) shares the ADD class; SBB has a class of its
 * own so that conditions after a plain subtraction can compare the operands directly.
 */

/** EFLAGS bits; `Status` is the six arithmetic status flags. */
export const enum Flag {
  CF = 0x0001,
  Reserved1 = 0x0002,
  PF = 0x0004,
  AF = 0x0010,
  ZF = 0x0040,
  SF = 0x0080,
  TF = 0x0100,
  IF = 0x0200,
  DF = 0x0400,
  OF = 0x0800,
  IOPL = 0x3000,
  NT = 0x4000,
  RF = 0x10000,
  VM = 0x20000,
  AC = 0x40000,
  ID = 0x200000,
  Status = 0x08d5,
}
/** The same values under their spec-style names, for code outside the CPU. */
export const FLAG_CF = Flag.CF;
export const FLAG_PF = Flag.PF;
export const FLAG_AF = Flag.AF;
export const FLAG_ZF = Flag.ZF;
export const FLAG_SF = Flag.SF;
export const FLAG_TF = Flag.TF;
export const FLAG_IF = Flag.IF;
export const FLAG_DF = Flag.DF;
export const FLAG_OF = Flag.OF;
export const FLAG_IOPL = Flag.IOPL;
export const FLAG_NT = Flag.NT;
export const FLAG_RF = Flag.RF;
export const FLAG_VM = Flag.VM;
export const FLAG_AC = Flag.AC;
export const FLAG_ID = Flag.ID;
export const STATUS_FLAGS = Flag.Status;

/**
 * Lazy operation classes: Add (ADD, ADC, INC with CF kept eager), Sub (SUB, CMP, NEG, DEC,
 * CMPS/SCAS), Logic (AND, OR, XOR, TEST, and records whose CF/OF/AF are eager), Sbb.
 */
export const enum Lop {
  Add = 1,
  Sub = 2,
  Logic = 3,
  /** SBB: a - b - borrow; flags as for Sub, but the operands alone do not decide conditions. */
  Sbb = 4,
}

/** Parity flag for each byte value: Flag.PF when the count of set bits is even. */
export const PARITY: Uint8Array = (() => {
  const t = new Uint8Array(256);
  for (let v = 0; v < 256; v++) {
    let bits = 0;
    for (let b = v; b !== 0; b >>= 1) bits += b & 1;
    t[v] = (bits & 1) === 0 ? Flag.PF : 0;
  }
  return t;
})();

/** The fields of the CPU that lazy evaluation reads. */
export interface LazyFlagState {
  flagsReg: number;
  lazy: number;
  lop: number;
  la: number;
  lb: number;
  lres: number;
  lbits: number;
}

/** Carry (or borrow) out of the top bit of the recorded operation. */
export function lazyCF(s: LazyFlagState): number {
  const a = s.la, b = s.lb, r = s.lres, top = s.lbits - 1;
  switch (s.lop) {
    case Lop.Add: return (((a & b) | ((a | b) & ~r)) >>> top) & 1;
    case Lop.Sub:
    case Lop.Sbb: return (((~a & b) | ((~a | b) & r)) >>> top) & 1;
    default: return 0;
  }
}

/** Signed overflow of the recorded operation (Flag.OF or 0). */
export function lazyOF(s: LazyFlagState): number {
  const a = s.la, b = s.lb, r = s.lres, top = s.lbits - 1;
  switch (s.lop) {
    case Lop.Add: return ((((a ^ r) & (b ^ r)) >>> top) & 1) !== 0 ? Flag.OF : 0;
    case Lop.Sub:
    case Lop.Sbb: return ((((a ^ b) & (a ^ r)) >>> top) & 1) !== 0 ? Flag.OF : 0;
    default: return 0;
  }
}

/** Zero flag of the recorded result (Flag.ZF or 0). */
export function lazyZF(s: LazyFlagState): number {
  const shift = 32 - s.lbits;
  return (s.lres << shift) === 0 ? Flag.ZF : 0;
}

/** Sign flag of the recorded result (Flag.SF or 0). */
export function lazySF(s: LazyFlagState): number {
  return ((s.lres >>> (s.lbits - 1)) & 1) !== 0 ? Flag.SF : 0;
}

/** Auxiliary carry (Flag.AF or 0). */
export function lazyAF(s: LazyFlagState): number {
  return s.lop === Lop.Logic ? 0 : (s.la ^ s.lb ^ s.lres) & Flag.AF;
}

/** The six status flags as currently defined (eager ones from flagsReg, lazy ones computed). */
export function statusFlags(s: LazyFlagState): number {
  const lazy = s.lazy;
  let f = s.flagsReg & Flag.Status & ~lazy;
  if (lazy === 0) return f;
  if (lazy & Flag.CF) f |= lazyCF(s);
  if (lazy & Flag.PF) f |= PARITY[s.lres & 0xff];
  if (lazy & Flag.AF) f |= lazyAF(s);
  if (lazy & Flag.ZF) f |= lazyZF(s);
  if (lazy & Flag.SF) f |= lazySF(s);
  if (lazy & Flag.OF) f |= lazyOF(s);
  return f;
}

/** Fold every lazy flag into flagsReg so that it can be edited bit by bit. */
export function materialize(s: LazyFlagState): void {
  if (s.lazy === 0) return;
  s.flagsReg = (s.flagsReg & ~Flag.Status) | statusFlags(s);
  s.lazy = 0;
}

/** Current CF as 0/1. */
export function getCF(s: LazyFlagState): number {
  return (s.lazy & Flag.CF) !== 0 ? lazyCF(s) : s.flagsReg & Flag.CF;
}

/** Current ZF as 0/1. */
export function getZF(s: LazyFlagState): number {
  return (s.lazy & Flag.ZF) !== 0 ? (lazyZF(s) !== 0 ? 1 : 0) : (s.flagsReg >> 6) & 1;
}

/** Current SF as 0/1. */
export function getSF(s: LazyFlagState): number {
  return (s.lazy & Flag.SF) !== 0 ? (lazySF(s) !== 0 ? 1 : 0) : (s.flagsReg >> 7) & 1;
}

/** Current OF as 0/1. */
export function getOF(s: LazyFlagState): number {
  return (s.lazy & Flag.OF) !== 0 ? (lazyOF(s) !== 0 ? 1 : 0) : (s.flagsReg >> 11) & 1;
}

/** Current PF as 0/1. */
export function getPF(s: LazyFlagState): number {
  return (s.lazy & Flag.PF) !== 0 ? (PARITY[s.lres & 0xff] !== 0 ? 1 : 0) : (s.flagsReg >> 2) & 1;
}

/** Current AF as 0/1. */
export function getAF(s: LazyFlagState): number {
  return (s.lazy & Flag.AF) !== 0 ? (lazyAF(s) !== 0 ? 1 : 0) : (s.flagsReg >> 4) & 1;
}

/**
 * Evaluate condition code `cc` (0..15, the low nibble of Jcc/SETcc/CMOVcc):
 * O, NO, B, AE, E, NE, BE, A, S, NS, P, NP, L, GE, LE, G.
 */
export function condition(s: LazyFlagState, cc: number): boolean {
  let r: number;
  if (s.lop === Lop.Sub && s.lazy === Flag.Status) {
    // The flags come from a plain a - b (CMP, SUB, NEG, CMPS/SCAS...): compare the
    // operands directly, aligned to the top of 32 bits so one comparison serves every width.
    const shift = 32 - s.lbits, a = s.la << shift, b = s.lb << shift;
    switch (cc >> 1) {
      case 1: return ((a >>> 0) < (b >>> 0)) !== ((cc & 1) !== 0);
      case 2: return (a === b) !== ((cc & 1) !== 0);
      case 3: return ((a >>> 0) <= (b >>> 0)) !== ((cc & 1) !== 0);
      case 6: return (a < b) !== ((cc & 1) !== 0);
      case 7: return (a <= b) !== ((cc & 1) !== 0);
    }
  }
  switch (cc >> 1) {
    case 0: r = getOF(s); break;
    case 1: r = getCF(s); break;
    case 2: r = getZF(s); break;
    case 3: r = getCF(s) | getZF(s); break;
    case 4: r = getSF(s); break;
    case 5: r = getPF(s); break;
    case 6: r = getSF(s) ^ getOF(s); break;
    default: r = (getSF(s) ^ getOF(s)) | getZF(s); break;
  }
  return (r !== 0) !== ((cc & 1) !== 0);
}

/** Record an ADD-class result of width `bits` (all six flags lazy). */
export function setAdd(s: LazyFlagState, a: number, b: number, res: number, bits: number): void {
  s.lop = Lop.Add; s.la = a | 0; s.lb = b | 0; s.lres = res | 0; s.lbits = bits; s.lazy = Flag.Status;
}

/** Record a SUB-class result of width `bits` (all six flags lazy). */
export function setSub(s: LazyFlagState, a: number, b: number, res: number, bits: number): void {
  s.lop = Lop.Sub; s.la = a | 0; s.lb = b | 0; s.lres = res | 0; s.lbits = bits; s.lazy = Flag.Status;
}

/** Record a logical result: CF=OF=AF=0, PF/ZF/SF from the result. */
export function setLogic(s: LazyFlagState, res: number, bits: number): void {
  s.lop = Lop.Logic; s.la = 0; s.lb = 0; s.lres = res | 0; s.lbits = bits; s.lazy = Flag.Status;
}

/**
 * Record a result whose PF/ZF/SF come from `res` while CF, OF and AF are given eagerly
 * (shifts, multiplies, BCD adjusts).
 */
export function setResultWith(s: LazyFlagState, res: number, bits: number, cf: number, of: number, af: number): void {
  s.flagsReg = (s.flagsReg & ~(Flag.CF | Flag.OF | Flag.AF)) | (cf !== 0 ? Flag.CF : 0) | (of !== 0 ? Flag.OF : 0) | (af !== 0 ? Flag.AF : 0);
  s.lop = Lop.Logic; s.la = 0; s.lb = 0; s.lres = res | 0; s.lbits = bits;
  s.lazy = Flag.PF | Flag.ZF | Flag.SF;
}

/** Record INC/DEC: like ADD/SUB by one but CF keeps its current value. */
export function setIncDec(s: LazyFlagState, a: number, res: number, bits: number, isDec: boolean): void {
  if (s.lazy & Flag.CF) s.flagsReg = (s.flagsReg & ~Flag.CF) | lazyCF(s);
  s.lop = isDec ? Lop.Sub : Lop.Add; s.la = a | 0; s.lb = 1; s.lres = res | 0; s.lbits = bits;
  s.lazy = Flag.Status & ~Flag.CF;
}
