/**
 * The x87 floating-point unit's architectural state (Intel SDM vol. 1 ch. 8: §8.1 the
 * register stack, status word, control word, tag word and last-instruction pointers;
 * §8.1.10 and figures 8-9 to 8-12 the environment images; §8.7 and appendix D the legacy
 * FERR# error reporting; vol. 3 table 9-1 the state after RESET).
 *
 * Eight physical 80-bit registers (sign+exponent and significand kept separately), TOP,
 * the exception/condition bits of the status word, the control word and, per physical
 * register, only whether it is empty: the 2-bit tags valid/zero/special are computed from
 * the contents when FSTENV/FSAVE store the tag word. The instruction handlers live in
 * ops/x87.ts; the arithmetic in float80.ts.
 */
import type { Persist, SavedState } from '../../persist/persist.js';
import { StateReader, StateError } from '../../persist/persist.js';
import { Cls, classify, F80 } from './float80.js';

/** Status-word bits other than the exception flags (float80.ts `Exc`) and condition codes. */
export const enum Sw {
  /** Exception flags IE..PE. */
  Flags = 0x3f,
  SF = 0x40,
  /** Error summary. */
  ES = 0x80,
  C0 = 0x0100, C1 = 0x0200, C2 = 0x0400, C3 = 0x4000,
  /** FPU busy (mirrors ES on the 387 and later). */
  B = 0x8000,
  TopShift = 11,
  TopMask = 0x3800,
}

/** Control-word fields. */
export const enum Cw {
  Masks = 0x3f,
  PcShift = 8,
  RcShift = 10,
  /** Bits FLDCW keeps (bit 6 always reads 1, bits 7 and 13-15 read 0; bit 12 is the 287's infinity control). */
  Writable = 0x1f3f,
  AlwaysOne = 0x40,
  /** FNINIT value. */
  Init = 0x037f,
  /** Value after RESET (SDM vol. 3 table 9-1). */
  Reset = 0x0040,
}

/** 2-bit tags of the tag word. */
export const enum Tag { Valid = 0, Zero = 1, Special = 2, Empty = 3 }

/** Saved FPU state (plain data). */
export interface FpuState extends SavedState {
  /** Per physical register: sign and exponent (bits 15-0), significand high and low dwords. */
  se: number[]; sigHi: number[]; sigLo: number[];
  cw: number; sw: number; top: number;
  /** Bit r set: physical register r is empty. */
  empty: number;
  fip: number; fcs: number; fop: number; fdp: number; fds: number;
  ferr: boolean;
}

/** Environment-image layout choice (SDM vol. 1 figures 8-9 to 8-12). */
export interface EnvLayout {
  /** Protected-mode layout (offsets and selectors) instead of real-mode (linear pointers). */
  protectedMode: boolean;
  /** 32-bit operand size: 28-byte environment, else 14-byte. */
  op32: boolean;
}

/** Environment fields as stored/loaded. */
export interface EnvFields {
  cw: number; sw: number; tw: number;
  fip: number; fcs: number; fop: number; fdp: number; fds: number;
}

/** x87 state owned by a CPU (`cpu.fpu`). */
export class Fpu implements Persist<FpuState> {
  readonly persistId = 'fpu0';
  /** Sign (bit 15) and biased exponent of each physical register. */
  readonly se = new Uint16Array(8);
  /** 64-bit significand of each physical register. */
  readonly sig: bigint[] = [0n, 0n, 0n, 0n, 0n, 0n, 0n, 0n];
  /** Control word. */
  cw: number = Cw.Reset;
  /** Status word without TOP (bits 11-13 kept zero here). */
  sw = 0;
  /** Top-of-stack physical register number. */
  top = 0;
  /** Bit r set: physical register r is empty. */
  empty = 0;
  /** Last non-control instruction: offset, CS selector, opcode (11 bits). */
  fip = 0;
  fcs = 0;
  fop = 0;
  /** Last memory operand: offset and segment selector. */
  fdp = 0;
  fds = 0;
  /** Legacy FERR# output (CR0.NE = 0 error reporting); the board wires it to IRQ 13. */
  onFerr: ((asserted: boolean) => void) | null = null;
  /** Whether FERR# is currently asserted. */
  ferr = false;

  constructor() {
    this.reset();
  }

  /** RESET state (SDM vol. 3 table 9-1): CW 0040, SW 0, all registers +0 and tagged valid (TW 5555). */
  reset(): void {
    this.cw = Cw.Reset;
    this.sw = 0;
    this.top = 0;
    this.empty = 0;
    this.se.fill(0);
    this.sig.fill(0n);
    this.fip = 0; this.fcs = 0; this.fop = 0; this.fdp = 0; this.fds = 0;
    this.setFerr(false);
  }

  /** FNINIT: CW 037F, SW 0, all tags empty, pointers cleared; register contents kept. */
  init(): void {
    this.cw = Cw.Init;
    this.sw = 0;
    this.top = 0;
    this.empty = 0xff;
    this.fip = 0; this.fcs = 0; this.fop = 0; this.fdp = 0; this.fds = 0;
    this.setFerr(false);
  }

  /** Rounding control (0-3). */
  get rc(): number {
    return (this.cw >> Cw.RcShift) & 3;
  }

  /** Significand bits chosen by the precision control (24, 53 or 64; the reserved value 01 acts as 64). */
  get precision(): number {
    const pc = (this.cw >> Cw.PcShift) & 3;
    return pc === 0 ? 24 : pc === 2 ? 53 : 64;
  }

  /** Exception masks of the control word. */
  get masks(): number {
    return this.cw & Cw.Masks;
  }

  /** The full status word with TOP. */
  statusWord(): number {
    return (this.sw & ~Sw.TopMask) | (this.top << Sw.TopShift);
  }

  /** Load a status word (FLDENV/FRSTOR): TOP from bits 11-13, ES/B recomputed from flags and masks. */
  setStatusWord(v: number): void {
    this.top = (v >> Sw.TopShift) & 7;
    this.sw = v & ~(Sw.TopMask | Sw.ES | Sw.B);
    this.updateSummary();
  }

  /** Load a control word (FLDCW/FLDENV/FRSTOR); a flag unmasked by it becomes pending. */
  setControlWord(v: number): void {
    this.cw = (v & Cw.Writable) | Cw.AlwaysOne;
    this.updateSummary();
  }

  /** Recompute ES and B from the flags and masks; drop FERR# when no error remains. */
  updateSummary(): void {
    if ((this.sw & ~this.cw & Sw.Flags) !== 0) this.sw |= Sw.ES | Sw.B;
    else {
      this.sw &= ~(Sw.ES | Sw.B);
      if (this.ferr) this.setFerr(false);
    }
  }

  /** Raise exception flags (and SF), updating the error summary. */
  signal(flags: number): void {
    if (flags === 0) return;
    this.sw |= flags;
    this.updateSummary();
  }

  /** Set or clear the condition bits in `mask` to `value`. */
  setCc(mask: number, value: number): void {
    this.sw = (this.sw & ~mask) | (value & mask);
  }

  /** Whether unmasked exceptions are pending (ES). */
  get pending(): boolean {
    return (this.sw & Sw.ES) !== 0;
  }

  /** Drive the FERR# output. */
  setFerr(asserted: boolean): void {
    if (this.ferr === asserted) return;
    this.ferr = asserted;
    if (this.onFerr !== null) this.onFerr(asserted);
  }

  /** Physical register number of ST(k). */
  phys(k: number): number {
    return (this.top + k) & 7;
  }

  /** Whether ST(k) is empty. */
  isEmpty(k: number): boolean {
    return ((this.empty >> this.phys(k)) & 1) !== 0;
  }

  /** The value of ST(k) (a fresh object; the caller checks emptiness). */
  get(k: number): F80 {
    return this.getPhys(this.phys(k));
  }

  /** The value of physical register r. */
  getPhys(r: number): F80 {
    const se = this.se[r];
    return new F80(se >> 15, se & 0x7fff, this.sig[r]);
  }

  /** Write ST(k) and tag it non-empty. */
  set(k: number, v: F80): void {
    this.setPhys(this.phys(k), v);
  }

  /** Write physical register r and tag it non-empty. */
  setPhys(r: number, v: F80): void {
    this.se[r] = (v.sign << 15) | v.exp;
    this.sig[r] = v.sig;
    this.empty &= ~(1 << r);
  }

  /** Push: TOP - 1, then write ST(0). */
  push(v: F80): void {
    this.top = (this.top - 1) & 7;
    this.set(0, v);
  }

  /** Pop: tag ST(0) empty, TOP + 1. */
  pop(): void {
    this.empty |= 1 << this.top;
    this.top = (this.top + 1) & 7;
  }

  /** Tag ST(k) empty (FFREE). */
  free(k: number): void {
    this.empty |= 1 << this.phys(k);
  }

  /** The tag of physical register r computed from its contents. */
  tagOf(r: number): Tag {
    if (((this.empty >> r) & 1) !== 0) return Tag.Empty;
    switch (classify(this.getPhys(r))) {
      case Cls.Normal: return Tag.Valid;
      case Cls.Zero: return Tag.Zero;
      default: return Tag.Special;
    }
  }

  /** The full tag word (physical register r in bits 2r+1..2r). */
  tagWord(): number {
    let tw = 0;
    for (let r = 0; r < 8; r++) tw |= this.tagOf(r) << (2 * r);
    return tw;
  }

  /** Load a tag word: 11 marks a register empty, any other tag non-empty. */
  setTagWord(tw: number): void {
    let empty = 0;
    for (let r = 0; r < 8; r++) if (((tw >> (2 * r)) & 3) === Tag.Empty) empty |= 1 << r;
    this.empty = empty;
  }

  /** The environment fields as FSTENV stores them. */
  environment(): EnvFields {
    return {
      cw: this.cw, sw: this.statusWord(), tw: this.tagWord(),
      fip: this.fip, fcs: this.fcs, fop: this.fop, fdp: this.fdp, fds: this.fds,
    };
  }

  /** Load environment fields (FLDENV/FRSTOR). */
  loadEnvironment(env: EnvFields): void {
    this.setTagWord(env.tw);
    this.fip = env.fip >>> 0; this.fcs = env.fcs & 0xffff; this.fop = env.fop & 0x7ff;
    this.fdp = env.fdp >>> 0; this.fds = env.fds & 0xffff;
    this.cw = (env.cw & Cw.Writable) | Cw.AlwaysOne;
    this.setStatusWord(env.sw);
  }

  // ---------------------------------------------------------------- Persist

  /** @inheritdoc */
  save(): FpuState {
    const sigHi: number[] = [], sigLo: number[] = [];
    for (let r = 0; r < 8; r++) {
      sigHi.push(Number(this.sig[r] >> 32n));
      sigLo.push(Number(this.sig[r] & 0xffffffffn));
    }
    return {
      version: 1, se: Array.from(this.se), sigHi, sigLo,
      cw: this.cw, sw: this.statusWord(), top: this.top, empty: this.empty,
      fip: this.fip >>> 0, fcs: this.fcs, fop: this.fop, fdp: this.fdp >>> 0, fds: this.fds, ferr: this.ferr,
    };
  }

  /** @inheritdoc */
  restore(state: unknown): void {
    const r = new StateReader(this.persistId, state);
    r.version([1]);
    const u32 = 0xffffffff;
    const se = r.ints('se', 0, 0xffff, 8, 8);
    const sigHi = r.ints('sigHi', 0, u32, 8, 8);
    const sigLo = r.ints('sigLo', 0, u32, 8, 8);
    const cw = r.int('cw', 0, 0xffff);
    const sw = r.int('sw', 0, 0xffff);
    const top = r.int('top', 0, 7);
    const empty = r.int('empty', 0, 0xff);
    const fip = r.int('fip', 0, u32);
    const fcs = r.int('fcs', 0, 0xffff);
    const fop = r.int('fop', 0, 0x7ff);
    const fdp = r.int('fdp', 0, u32);
    const fds = r.int('fds', 0, 0xffff);
    const ferr = r.bool('ferr');
    if ((cw & ~Cw.Writable) !== Cw.AlwaysOne) throw new StateError(this.persistId, 'cw', `reserved bits in ${cw.toString(16)}`);
    if (((sw >> Sw.TopShift) & 7) !== top) throw new StateError(this.persistId, 'top', `TOP ${top} disagrees with sw ${sw.toString(16)}`);
    const pending = (sw & ~cw & Sw.Flags) !== 0;
    if (ferr && !pending) throw new StateError(this.persistId, 'ferr', 'FERR# asserted with no unmasked exception pending');
    for (let k = 0; k < 8; k++) {
      this.se[k] = se[k];
      this.sig[k] = (BigInt(sigHi[k]) << 32n) | BigInt(sigLo[k]);
    }
    this.cw = cw;
    this.empty = empty;
    this.fip = fip; this.fcs = fcs; this.fop = fop; this.fdp = fdp; this.fds = fds;
    this.top = top;
    this.sw = (sw & ~(Sw.TopMask | Sw.ES | Sw.B)) | (pending ? Sw.ES | Sw.B : 0);
    this.setFerr(ferr);
  }
}
