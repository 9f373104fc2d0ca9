/**
 * x87 instruction handlers: the escape opcodes D8-DF and WAIT (9B), per Intel SDM vol. 2
 * (the F* instruction pages), vol. 1 ch. 8 (stack faults, exception masking, condition
 * codes, last-instruction pointers) and vol. 3 §2.5 / §12 (CR0.EM/TS/MP/NE: #NM, #MF and
 * the FERR# legacy path). One handler per escape byte dispatches on ModRM (reg field, and
 * the r/m field for register forms): the decoder leaves the whole ModRM byte in `Ins.Imm`.
 *
 * Order of checks in every instruction: #UD for reserved encodings, #NM (CR0.EM or TS),
 * then for waiting instructions a pending unmasked exception (#MF when CR0.NE = 1, else
 * FERR# is asserted and the instruction proceeds as with IGNNE# active), then memory
 * operands are read before any FPU state changes, and stores write memory before the FPU
 * state (TOP, tags, flags) is updated, so that a faulting instruction can be retried.
 *
 * Undocumented encodings accepted by P6 processors: D9 D8+i FSTP1, DC D0+i FCOM2,
 * DC D8+i FCOMP3, DD C8+i FXCH4, DE D0+i FCOMP5, DF C0+i FFREEP, DF C8+i FXCH7,
 * DF D0+i FSTP8, DF D8+i FSTP9; DB E0/E1/E4 (FNENI, FNDISI, FNSETPM) do nothing.
 */
import type { Cpu } from '../cpu.js';
import { Ins, Pfx, Seg, SegView } from '../decoded.js';
import { VEC_MF, VEC_NM, VEC_UD } from '../exceptions.js';
import { Flag, getCF, getPF, getZF, materialize } from '../flags.js';
import { envSize, readEnvironment, writeEnvironment } from '../fpu/env.js';
import {
  Arith, arith, bcdIndefinite, classify, Cls, Cmp, compare, DOUBLE, Exc, extract, F80, fromBcd, fromBinary,
  fromInteger, indefinite, infinity, isNaNClass, J_BIT, lsbExp, OpResult, propagateNaN, quiet, remainder, roundInt,
  Rounded, roundToExt, scale, SINGLE, sqrt, toBcd, toBinary, toInteger, zero, type Rc, bitLength,
} from '../fpu/float80.js';
import { Sw, type Fpu } from '../fpu/fpu.js';
import * as tr from '../fpu/transcendental.js';

const enum Cr0 { PE = 1, MP = 2, EM = 4, TS = 8, NE = 0x20 }

/** Bits of precision asked of the transcendental kernels (rounded to 64 afterwards). */
const TRANSCENDENTAL_BITS = 80;

// ---------------------------------------------------------------- entry checks

/** #NM and pending-exception checks; returns the FPU. */
function enter(c: Cpu, waiting: boolean): Fpu {
  if ((c.cr0 & (Cr0.EM | Cr0.TS)) !== 0) c.raise(VEC_NM);
  const f = c.fpu;
  if (waiting && f.pending) reportPending(c, f);
  return f;
}

/** A pending unmasked exception met a waiting instruction: #MF, or FERR# with CR0.NE = 0. */
function reportPending(c: Cpu, f: Fpu): void {
  if ((c.cr0 & Cr0.NE) !== 0) c.raise(VEC_MF);
  f.setFerr(true);
}

/** Record FIP/FCS/FOP (and FDP/FDS for memory operands) for a non-control instruction. */
function notePointers(c: Cpu, i: number, esc: number): void {
  const f = c.fpu, d = c.store;
  f.fip = ((c.eip - d[i + Ins.Len]) & c.ipMask) >>> 0;
  f.fcs = c.segSel[Seg.CS];
  f.fop = ((esc & 7) << 8) | (d[i + Ins.Imm] & 0xff);
  if (d[i + Ins.Mem] !== 0) {
    f.fdp = c.eaOffset(i) >>> 0;
    f.fds = c.segSel[d[i + Ins.Seg] & SegView.Reg];
  }
}

/** Start a non-control waiting instruction. */
function begin(c: Cpu, i: number, esc: number): Fpu {
  const f = enter(c, true);
  notePointers(c, i, esc);
  return f;
}

function undefined_(c: Cpu): never {
  return c.raise(VEC_UD);
}

// ---------------------------------------------------------------- memory operands

function readU64(c: Cpu, lin: number): bigint {
  const lo = c.read32(lin) >>> 0;
  const hi = c.read32((lin + 4) | 0) >>> 0;
  return (BigInt(hi) << 32n) | BigInt(lo);
}

/** Write `size` bytes of `v`, the last byte first so that a fault leaves nothing half done in the FPU. */
function writeBytesOf(c: Cpu, lin: number, v: bigint, size: number): void {
  c.write8((lin + size - 1) | 0, Number((v >> BigInt(8 * (size - 1))) & 0xffn));
  let k = 0;
  while (k < size) {
    if (size - k >= 4) { c.write32((lin + k) | 0, Number((v >> BigInt(8 * k)) & 0xffffffffn)); k += 4; }
    else { c.write16((lin + k) | 0, Number((v >> BigInt(8 * k)) & 0xffffn)); k += 2; }
  }
}

function readBytes(c: Cpu, lin: number, n: number): Uint8Array {
  const b = new Uint8Array(n);
  for (let k = 0; k < n; k++) b[k] = c.read8((lin + k) | 0);
  return b;
}

function writeBytes(c: Cpu, lin: number, b: Uint8Array): void {
  c.write8((lin + b.length - 1) | 0, b[b.length - 1]);
  for (let k = 0; k < b.length; k++) c.write8((lin + k) | 0, b[k]);
}

function readF80(c: Cpu, lin: number): F80 {
  const sig = readU64(c, lin);
  const se = c.read16((lin + 8) | 0);
  return new F80(se >> 15, se & 0x7fff, sig);
}

function f80Bits(v: F80): bigint {
  return (BigInt((v.sign << 15) | v.exp) << 64n) | v.sig;
}

/** A memory operand converted to extended, with whether it was a single/double denormal. */
interface MemOperand { v: F80; denormal: boolean }

/** Read the memory operand of an arithmetic group: 0 m32real, 1 m32int, 2 m64real, 3 m16int. */
function readArithOperand(c: Cpu, i: number, kind: number): MemOperand {
  switch (kind) {
    case 0: return fromBinary(BigInt(c.read32(c.ea(i, 4)) >>> 0), SINGLE);
    case 1: return { v: fromInteger(BigInt(c.read32(c.ea(i, 4)))), denormal: false };
    case 2: return fromBinary(readU64(c, c.ea(i, 8)), DOUBLE);
    default: return { v: fromInteger(BigInt((c.read16(c.ea(i, 2)) << 16) >> 16)), denormal: false };
  }
}

// ---------------------------------------------------------------- result commit helpers

/** Exceptions that, unmasked, suppress the result and any pop (SDM vol. 1 §8.5.1-8.5.3). */
const SUPPRESSING = Exc.IE | Exc.DE | Exc.ZE;

/** Flags raised; true when an unmasked IE/DE/ZE suppresses the result. */
function raiseFlags(f: Fpu, flags: number): boolean {
  f.signal(flags);
  return (flags & ~f.masks & SUPPRESSING) !== 0;
}

/** Stack underflow (reading an empty register): IE + SF, C1 = 0. Returns true when masked. */
function stackUnderflow(f: Fpu): boolean {
  f.setCc(Sw.C1, 0);
  f.signal(Exc.IE | Exc.SF);
  return (f.masks & Exc.IE) !== 0;
}

/** Stack overflow (pushing onto a full stack): IE + SF, C1 = 1. Returns true when masked. */
function stackOverflow(f: Fpu): boolean {
  f.setCc(Sw.C1, Sw.C1);
  f.signal(Exc.IE | Exc.SF);
  return (f.masks & Exc.IE) !== 0;
}

/** Whether a push would overflow (ST(7) in use). */
function full(f: Fpu): boolean {
  return !f.isEmpty(7);
}

/** Store an arithmetic result in ST(dst) (C1 = round-up), then pop if asked. */
function commit(f: Fpu, r: OpResult, dst: number, pop: boolean): void {
  f.setCc(Sw.C1, 0);
  if (raiseFlags(f, r.flags)) return;
  if (r.up) f.setCc(Sw.C1, Sw.C1);
  if (r.v !== null) f.set(dst, r.v);
  if (pop) f.pop();
}

/** Push a loaded value unless the stack is full (masked overflow pushes the indefinite). */
function pushChecked(f: Fpu, v: F80, flags: number): void {
  if (full(f)) {
    if (stackOverflow(f)) f.push(indefinite());
    return;
  }
  f.setCc(Sw.C1, 0);
  if (raiseFlags(f, flags)) return;
  f.push(v);
}

// ---------------------------------------------------------------- arithmetic groups

/**
 * Two-operand arithmetic: ST(dst) = x op y where the operands are ST(dst) and `other`;
 * `reversed` puts `other` first. `reg` is ModRM.reg (0 add, 1 mul, 4/5 sub, 6/7 div).
 */
function binaryOp(f: Fpu, reg: number, dst: number, other: F80 | null, reversed: boolean, pop: boolean, otherDenormal: boolean): void {
  if (f.isEmpty(dst) || other === null) {
    if (stackUnderflow(f)) {
      f.set(dst, indefinite());
      if (pop) f.pop();
    }
    return;
  }
  const cur = f.get(dst);
  const op = reg === 0 ? Arith.Add : reg === 1 ? Arith.Mul : reg < 6 ? Arith.Sub : Arith.Div;
  const a = reversed ? other : cur, b = reversed ? cur : other;
  const r = arith(op, a, b, f.precision, f.rc as Rc, f.masks, otherDenormal);
  commit(f, r, dst, pop);
}

/** FCOM-style compare of ST(0) with `other`, setting C3/C2/C0 (C1 = 0); pops `pops` times. */
function compareOp(f: Fpu, other: F80 | null, unordered: boolean, pops: number, otherDenormal: boolean): void {
  let cmp: Cmp;
  if (f.isEmpty(0) || other === null) {
    if (!stackUnderflow(f)) return;
    cmp = Cmp.Unordered;
  } else {
    const r = compare(f.get(0), other, unordered, otherDenormal);
    f.setCc(Sw.C1, 0);
    if (raiseFlags(f, r.flags)) return;
    cmp = r.cmp;
  }
  setCompareCc(f, cmp);
  for (let k = 0; k < pops; k++) f.pop();
}

function setCompareCc(f: Fpu, cmp: Cmp): void {
  const cc = cmp === Cmp.Greater ? 0 : cmp === Cmp.Less ? Sw.C0 : cmp === Cmp.Equal ? Sw.C3 : Sw.C0 | Sw.C2 | Sw.C3;
  f.setCc(Sw.C0 | Sw.C1 | Sw.C2 | Sw.C3, cc);
}

/** FCOMI/FUCOMI(P): compare ST(0) with ST(i) into ZF/PF/CF (OF/SF/AF cleared). */
function compareEflags(c: Cpu, f: Fpu, k: number, unordered: boolean, pop: boolean): void {
  let cmp: Cmp;
  if (f.isEmpty(0) || f.isEmpty(k)) {
    if (!stackUnderflow(f)) return;
    cmp = Cmp.Unordered;
  } else {
    // C1 is left as it was (the SDM says "set to 0"; Intel hardware does not touch it).
    const r = compare(f.get(0), f.get(k), unordered);
    if (raiseFlags(f, r.flags)) return;
    cmp = r.cmp;
  }
  materialize(c);
  const bits = cmp === Cmp.Greater ? 0 : cmp === Cmp.Less ? Flag.CF : cmp === Cmp.Equal ? Flag.ZF : Flag.ZF | Flag.PF | Flag.CF;
  c.flagsReg = (c.flagsReg & ~(Flag.ZF | Flag.PF | Flag.CF | Flag.OF | Flag.SF | Flag.AF)) | bits;
  if (pop) f.pop();
}

/** The arithmetic/compare group shared by D8, DA, DC, DE memory forms. */
function arithMemory(c: Cpu, i: number, esc: number, kind: number): void {
  const d = c.store, reg = d[i + Ins.Reg];
  const f = begin(c, i, esc);
  const m = readArithOperand(c, i, kind);
  if (reg === 2 || reg === 3) {
    compareOp(f, m.v, false, reg - 2, m.denormal);
    return;
  }
  binaryOp(f, reg, 0, m.v, (reg & 1) === 1 && reg >= 4, false, m.denormal);
}

/** ST(i) or null when empty. */
function operand(f: Fpu, k: number): F80 | null {
  return f.isEmpty(k) ? null : f.get(k);
}

// ---------------------------------------------------------------- escape handlers

/** D8: m32real arithmetic, or ST(0) = ST(0) op ST(i). */
export function escD8(c: Cpu, i: number): void {
  const d = c.store;
  if (d[i + Ins.Mem] !== 0) { arithMemory(c, i, 0xd8, 0); return; }
  const reg = d[i + Ins.Reg], k = d[i + Ins.Rm];
  const f = begin(c, i, 0xd8);
  if (reg === 2 || reg === 3) { compareOp(f, operand(f, k), false, reg - 2, false); return; }
  binaryOp(f, reg, 0, operand(f, k), (reg & 1) === 1 && reg >= 4, false, false);
}

/** DC: m64real arithmetic, or ST(i) = ST(i) op ST(0) (FCOM2/FCOMP3 aliases at D0/D8). */
export function escDC(c: Cpu, i: number): void {
  const d = c.store;
  if (d[i + Ins.Mem] !== 0) { arithMemory(c, i, 0xdc, 2); return; }
  const reg = d[i + Ins.Reg], k = d[i + Ins.Rm];
  const f = begin(c, i, 0xdc);
  if (reg === 2 || reg === 3) { compareOp(f, operand(f, k), false, reg - 2, false); return; }
  binaryOp(f, reg, k, operand(f, 0), reg >= 4 && (reg & 1) === 0, false, false);
}

/** DA: m32int arithmetic; register forms FCMOVB/E/BE/U and FUCOMPP. */
export function escDA(c: Cpu, i: number): void {
  const d = c.store;
  if (d[i + Ins.Mem] !== 0) { arithMemory(c, i, 0xda, 1); return; }
  const reg = d[i + Ins.Reg], k = d[i + Ins.Rm];
  if (reg < 4) {
    const f = begin(c, i, 0xda);
    fcmov(f, k, fcmovCondition(c, reg));
    return;
  }
  if (reg === 5 && k === 1) {
    const f = begin(c, i, 0xda);
    compareOp(f, operand(f, 1), true, 2, false);
    return;
  }
  undefined_(c);
}

/** DE: m16int arithmetic; register forms pop (FADDP..FDIVP, FCOMP5, FCOMPP). */
export function escDE(c: Cpu, i: number): void {
  const d = c.store;
  if (d[i + Ins.Mem] !== 0) { arithMemory(c, i, 0xde, 3); return; }
  const reg = d[i + Ins.Reg], k = d[i + Ins.Rm];
  if (reg === 3 && k !== 1) undefined_(c);
  const f = begin(c, i, 0xde);
  if (reg === 2) { compareOp(f, operand(f, k), false, 1, false); return; }
  if (reg === 3) { compareOp(f, operand(f, 1), false, 2, false); return; }
  binaryOp(f, reg, k, operand(f, 0), reg >= 4 && (reg & 1) === 0, true, false);
}

/** FCMOVcc condition for DA (B, E, BE, U) and DB (negated) register forms. */
function fcmovCondition(c: Cpu, reg: number): boolean {
  switch (reg & 3) {
    case 0: return getCF(c) !== 0;
    case 1: return getZF(c) !== 0;
    case 2: return (getCF(c) | getZF(c)) !== 0;
    default: return getPF(c) !== 0;
  }
}

/** FCMOVcc: C1 is cleared only by a stack underflow (otherwise left as it was, as on Intel hardware). */
function fcmov(f: Fpu, k: number, cond: boolean): void {
  if (f.isEmpty(0) || f.isEmpty(k)) {
    if (stackUnderflow(f)) f.set(0, indefinite());
    return;
  }
  if (cond) f.set(0, f.get(k));
}

/** D9: FLD/FST/FSTP m32, FLDENV, FLDCW, FNSTENV, FNSTCW; register forms FLD, FXCH, FNOP, FSTP1, and the D9 E0-FF group. */
export function escD9(c: Cpu, i: number): void {
  const d = c.store, reg = d[i + Ins.Reg];
  if (d[i + Ins.Mem] !== 0) {
    switch (reg) {
      case 0: { const f = begin(c, i, 0xd9); loadBinary(c, f, fromBinary(BigInt(c.read32(c.ea(i, 4)) >>> 0), SINGLE)); return; }
      case 2: case 3: { const f = begin(c, i, 0xd9); storeBinary(c, i, f, 4, reg === 3); return; }
      case 4: fldenv(c, i); return;
      case 5: { const f = enter(c, true); const v = c.read16(c.ea(i, 2)); f.setControlWord(v); return; }
      case 6: fstenv(c, i); return;
      case 7: { const f = enter(c, false); c.write16(c.ea(i, 2), f.cw); return; }
      default: undefined_(c);
    }
  }
  const k = d[i + Ins.Rm];
  switch (reg) {
    case 0: { const f = begin(c, i, 0xd9); fldRegister(f, k); return; }
    case 1: { const f = begin(c, i, 0xd9); fxch(f, k); return; }
    case 2: if (k !== 0) undefined_(c); begin(c, i, 0xd9); return; // FNOP
    case 3: { const f = begin(c, i, 0xd9); fstRegister(f, k, true); return; } // FSTP1
    case 4: escD9Group4(c, i, k); return;
    case 5: if (k === 7) undefined_(c); loadConstant(begin(c, i, 0xd9), k); return;
    case 6: escD9Group6(c, i, k); return;
    default: escD9Group7(c, i, k); return;
  }
}

/** DB: FILD/FIST/FISTP m32, FLD/FSTP m80; FCMOVNcc, FNCLEX, FNINIT, FUCOMI, FCOMI. */
export function escDB(c: Cpu, i: number): void {
  const d = c.store, reg = d[i + Ins.Reg];
  if (d[i + Ins.Mem] !== 0) {
    switch (reg) {
      case 0: { const f = begin(c, i, 0xdb); const v = c.read32(c.ea(i, 4)); pushChecked(f, fromInteger(BigInt(v)), 0); return; }
      case 2: case 3: { const f = begin(c, i, 0xdb); storeInteger(c, i, f, 32, reg === 3); return; }
      case 5: { const f = begin(c, i, 0xdb); pushChecked(f, readF80(c, c.ea(i, 10)), 0); return; }
      case 7: { const f = begin(c, i, 0xdb); storeRaw80(c, i, f); return; }
      default: undefined_(c);
    }
  }
  const k = d[i + Ins.Rm];
  if (reg < 4) { const f = begin(c, i, 0xdb); fcmov(f, k, !fcmovCondition(c, reg)); return; }
  if (reg === 4) {
    switch (k) {
      case 0: case 1: case 4: enter(c, false); return; // FNENI, FNDISI, FNSETPM: no-ops since the 387
      case 2: { const f = enter(c, false); f.sw &= ~(Sw.Flags | Sw.SF); f.updateSummary(); return; }
      case 3: enter(c, false).init(); return;
      default: undefined_(c);
    }
  }
  if (reg === 7) undefined_(c);
  const f = begin(c, i, 0xdb);
  compareEflags(c, f, k, reg === 5, false);
}

/** DD: FLD/FST/FSTP m64, FRSTOR, FNSAVE, FNSTSW m16; FFREE, FXCH4, FST, FSTP, FUCOM, FUCOMP. */
export function escDD(c: Cpu, i: number): void {
  const d = c.store, reg = d[i + Ins.Reg];
  if (d[i + Ins.Mem] !== 0) {
    switch (reg) {
      case 0: { const f = begin(c, i, 0xdd); loadBinary(c, f, fromBinary(readU64(c, c.ea(i, 8)), DOUBLE)); return; }
      case 2: case 3: { const f = begin(c, i, 0xdd); storeBinary(c, i, f, 8, reg === 3); return; }
      case 4: frstor(c, i); return;
      case 6: fsave(c, i); return;
      case 7: { const f = enter(c, false); c.write16(c.ea(i, 2), f.statusWord()); return; }
      default: undefined_(c);
    }
  }
  const k = d[i + Ins.Rm];
  if (reg >= 6) undefined_(c);
  const f = begin(c, i, 0xdd);
  switch (reg) {
    case 0: f.free(k); f.setCc(Sw.C1, 0); return; // FFREE: C0-C3 undefined; Intel hardware clears C1
    case 1: fxch(f, k); return;
    case 2: case 3: fstRegister(f, k, reg === 3); return;
    default: compareOp(f, operand(f, k), true, reg - 4, false);
  }
}

/** DF: FILD/FIST/FISTP m16, FBLD, FILD m64, FBSTP, FISTP m64; FFREEP, FXCH7, FSTP8/9, FNSTSW AX, FUCOMIP, FCOMIP. */
export function escDF(c: Cpu, i: number): void {
  const d = c.store, reg = d[i + Ins.Reg];
  if (d[i + Ins.Mem] !== 0) {
    switch (reg) {
      case 0: { const f = begin(c, i, 0xdf); const v = (c.read16(c.ea(i, 2)) << 16) >> 16; pushChecked(f, fromInteger(BigInt(v)), 0); return; }
      case 2: case 3: { const f = begin(c, i, 0xdf); storeInteger(c, i, f, 16, reg === 3); return; }
      case 4: { const f = begin(c, i, 0xdf); pushChecked(f, fromBcd(readBytes(c, c.ea(i, 10), 10)), 0); return; }
      case 5: { const f = begin(c, i, 0xdf); const v = BigInt.asIntN(64, readU64(c, c.ea(i, 8))); pushChecked(f, fromInteger(v), 0); return; }
      case 6: { const f = begin(c, i, 0xdf); storeBcd(c, i, f); return; }
      case 7: { const f = begin(c, i, 0xdf); storeInteger(c, i, f, 64, true); return; }
      default: undefined_(c);
    }
  }
  const k = d[i + Ins.Rm];
  switch (reg) {
    case 0: { const f = begin(c, i, 0xdf); f.free(k); f.pop(); f.setCc(Sw.C1, 0); return; } // FFREEP (C1 cleared like FFREE)
    case 1: { const f = begin(c, i, 0xdf); fxch(f, k); return; } // FXCH7
    case 2: case 3: { const f = begin(c, i, 0xdf); fstRegister(f, k, true); return; } // FSTP8, FSTP9
    case 4: {
      if (k !== 0) undefined_(c);
      const f = enter(c, false);
      c.r16[0] = f.statusWord();
      return;
    }
    case 7: undefined_(c); return;
    default: { const f = begin(c, i, 0xdf); compareEflags(c, f, k, reg === 5, true); }
  }
}

/** WAIT/FWAIT: #NM only when CR0.TS and CR0.MP are both set; reports pending exceptions. */
export function fwait(c: Cpu): void {
  if ((c.cr0 & (Cr0.TS | Cr0.MP)) === (Cr0.TS | Cr0.MP)) c.raise(VEC_NM);
  const f = c.fpu;
  if (f.pending) reportPending(c, f);
}

// ---------------------------------------------------------------- loads and stores

function loadBinary(c: Cpu, f: Fpu, m: MemOperand): void {
  if (full(f)) {
    if (stackOverflow(f)) f.push(indefinite());
    return;
  }
  const k = classify(m.v);
  let v = m.v, flags = m.denormal ? Exc.DE : 0;
  if (k === Cls.SNaN) { v = quiet(v); flags = Exc.IE; }
  pushChecked(f, v, flags);
}

/** FLD ST(i). An empty source is a stack underflow (C1 = 0) even when ST(7) is in use too (as on Intel hardware). */
function fldRegister(f: Fpu, k: number): void {
  if (f.isEmpty(k)) {
    if (stackUnderflow(f)) f.push(indefinite());
    return;
  }
  pushChecked(f, f.get(k), 0);
}

/** FST/FSTP ST(i): a plain copy of ST(0). */
function fstRegister(f: Fpu, k: number, pop: boolean): void {
  if (f.isEmpty(0)) {
    if (stackUnderflow(f)) {
      f.set(k, indefinite());
      if (pop) f.pop();
    }
    return;
  }
  f.setCc(Sw.C1, 0);
  f.set(k, f.get(0));
  if (pop) f.pop();
}

function fxch(f: Fpu, k: number): void {
  if (f.isEmpty(0) || f.isEmpty(k)) {
    if (!stackUnderflow(f)) return;
    if (f.isEmpty(0)) f.set(0, indefinite());
    if (f.isEmpty(k)) f.set(k, indefinite());
  } else {
    f.setCc(Sw.C1, 0);
  }
  const a = f.get(0), b = f.get(k);
  f.set(0, b);
  f.set(k, a);
}

/** FST/FSTP m32 (size 4) or m64 (size 8). */
function storeBinary(c: Cpu, i: number, f: Fpu, size: number, pop: boolean): void {
  const lin = c.ea(i, size);
  if (f.isEmpty(0)) {
    if ((f.masks & Exc.IE) !== 0) writeBytesOf(c, lin, size === 4 ? 0xffc00000n : 0xfff8000000000000n, size);
    if (stackUnderflow(f) && pop) f.pop();
    return;
  }
  const s = toBinary(f.get(0), size === 4 ? SINGLE : DOUBLE, f.rc as Rc, f.masks);
  if (s.store) writeBytesOf(c, lin, s.bits, size);
  f.setCc(Sw.C1, s.up ? Sw.C1 : 0);
  f.signal(s.flags);
  if (s.store && pop) f.pop();
}

/** FSTP m80: a bit-exact copy of ST(0). */
function storeRaw80(c: Cpu, i: number, f: Fpu): void {
  const lin = c.ea(i, 10);
  if (f.isEmpty(0)) {
    if ((f.masks & Exc.IE) !== 0) writeBytesOf(c, lin, f80Bits(indefinite()), 10);
    if (stackUnderflow(f)) f.pop();
    return;
  }
  writeBytesOf(c, lin, f80Bits(f.get(0)), 10);
  f.setCc(Sw.C1, 0);
  f.pop();
}

/** FIST/FISTP m16/m32/m64. */
function storeInteger(c: Cpu, i: number, f: Fpu, bits: number, pop: boolean): void {
  const size = bits >> 3;
  const lin = c.ea(i, size);
  const indef = 1n << BigInt(bits - 1);
  if (f.isEmpty(0)) {
    if ((f.masks & Exc.IE) !== 0) writeBytesOf(c, lin, indef, size);
    if (stackUnderflow(f) && pop) f.pop();
    return;
  }
  const r = toInteger(f.get(0), bits, f.rc as Rc);
  const masked = (f.masks & Exc.IE) !== 0;
  if (r.value !== null) writeBytesOf(c, lin, BigInt.asUintN(bits, r.value), size);
  else if (masked) writeBytesOf(c, lin, indef, size);
  f.setCc(Sw.C1, r.up ? Sw.C1 : 0);
  f.signal(r.flags);
  if (pop && (r.value !== null || masked)) f.pop();
}

/** FBSTP m80bcd. */
function storeBcd(c: Cpu, i: number, f: Fpu): void {
  const lin = c.ea(i, 10);
  const out = new Uint8Array(10);
  const masked = (f.masks & Exc.IE) !== 0;
  if (f.isEmpty(0)) {
    if (masked) { bcdIndefinite(out); writeBytes(c, lin, out); }
    if (stackUnderflow(f)) f.pop();
    return;
  }
  const r = toBcd(f.get(0), f.rc as Rc, out);
  if (!r.ok) bcdIndefinite(out);
  if (r.ok || masked) writeBytes(c, lin, out);
  f.setCc(Sw.C1, r.up ? Sw.C1 : 0);
  f.signal(r.flags);
  if (r.ok || masked) f.pop();
}

// ---------------------------------------------------------------- constants

/**
 * FLD1, FLDL2T, FLDL2E, FLDPI, FLDLG2, FLDLN2, FLDZ (D9 E8-EE). The x87 keeps 66-bit
 * constants (SDM vol. 1 §8.3.8): to nearest they give the correctly rounded 64-bit value,
 * in the directed modes the 66-bit constant rounded that way — for these constants (whose
 * two extra bits are never 00) the truncated significand down/toward zero and the next one up.
 * Each entry: exponent (biased), significand truncated to 64 bits, whether RN rounds up.
 */
const CONSTANTS: readonly (readonly [number, bigint, boolean])[] = [
  [0x3fff, 0x8000000000000000n, false], // 1
  [0x4000, 0xd49a784bcd1b8afen, false], // log2(10)
  [0x3fff, 0xb8aa3b295c17f0bbn, true], // log2(e)
  [0x4000, 0xc90fdaa22168c234n, true], // pi
  [0x3ffd, 0x9a209a84fbcff798n, true], // log10(2)
  [0x3ffe, 0xb17217f7d1cf79abn, true], // ln(2)
];

function loadConstant(f: Fpu, k: number): void {
  let v: F80;
  if (k === 6) v = zero(0);
  else {
    const [exp, sig, nearestUp] = CONSTANTS[k];
    const rc = f.rc;
    const inexact = k !== 0;
    const up = inexact && (rc === 2 || (rc === 0 && nearestUp));
    v = new F80(0, exp, sig + (up ? 1n : 0n));
  }
  pushChecked(f, v, 0);
}

// ---------------------------------------------------------------- D9 E0-FF

function escD9Group4(c: Cpu, i: number, k: number): void {
  if (k === 2 || k === 3 || k > 5) undefined_(c);
  const f = begin(c, i, 0xd9);
  if (k === 5) { fxam(f); return; }
  if (f.isEmpty(0)) {
    if (k === 4) { if (stackUnderflow(f)) setCompareCc(f, Cmp.Unordered); return; }
    if (stackUnderflow(f)) f.set(0, indefinite());
    return;
  }
  const v = f.get(0);
  f.setCc(Sw.C1, 0);
  if (k === 0) { v.sign ^= 1; f.set(0, v); return; } // FCHS
  if (k === 1) { v.sign = 0; f.set(0, v); return; } // FABS
  compareOp(f, zero(0), false, 0, false); // FTST
}

/** FXAM: the class in C3 C2 C0; C1 is the sign bit of ST(0) even when the register is empty (SDM "FXAM"). */
function fxam(f: Fpu): void {
  const v = f.get(0);
  let cc: number;
  if (f.isEmpty(0)) cc = Sw.C3 | Sw.C0;
  else {
    switch (classify(v)) {
      case Cls.Unsupported: cc = 0; break;
      case Cls.QNaN: case Cls.SNaN: cc = Sw.C0; break;
      case Cls.Normal: cc = Sw.C2; break;
      case Cls.Infinity: cc = Sw.C2 | Sw.C0; break;
      case Cls.Zero: cc = Sw.C3; break;
      default: cc = Sw.C3 | Sw.C2; break;
    }
  }
  if (v.sign === 1) cc |= Sw.C1;
  f.setCc(Sw.C0 | Sw.C1 | Sw.C2 | Sw.C3, cc);
}

function escD9Group6(c: Cpu, i: number, k: number): void {
  const f = begin(c, i, 0xd9);
  switch (k) {
    case 0: unaryTranscendental(f, exp2m1Op, false); return; // F2XM1
    case 1: fyl2x(f, false); return;
    case 2: fptan(f); return;
    case 3: fpatan(f); return;
    case 4: fxtract(f); return;
    case 5: fprem(f, true); return;
    case 6: f.top = (f.top - 1) & 7; f.setCc(Sw.C1, 0); return; // FDECSTP
    default: f.top = (f.top + 1) & 7; f.setCc(Sw.C1, 0); return; // FINCSTP
  }
}

function escD9Group7(c: Cpu, i: number, k: number): void {
  const f = begin(c, i, 0xd9);
  switch (k) {
    case 0: fprem(f, false); return;
    case 1: fyl2x(f, true); return;
    case 2: unaryOp(f, (a) => sqrt(a, f.precision, f.rc as Rc, f.masks)); return;
    case 3: fsincos(f); return;
    case 4: unaryOp(f, (a) => roundInt(a, f.rc as Rc)); return;
    case 5: fscale(f); return;
    case 6: unaryTranscendental(f, sinOp, true); return;
    default: unaryTranscendental(f, cosOp, true); return;
  }
}

/** ST(0) = fn(ST(0)). */
function unaryOp(f: Fpu, fn: (a: F80) => OpResult): void {
  if (f.isEmpty(0)) {
    if (stackUnderflow(f)) f.set(0, indefinite());
    return;
  }
  commit(f, fn(f.get(0)), 0, false);
}

/** FPREM/FPREM1. A stack underflow clears C2 too (C0 and C3 keep their values, as on Intel hardware). */
function fprem(f: Fpu, ieee: boolean): void {
  if (f.isEmpty(0) || f.isEmpty(1)) {
    f.setCc(Sw.C2, 0);
    if (stackUnderflow(f)) f.set(0, indefinite());
    return;
  }
  const r = remainder(f.get(0), f.get(1), ieee, f.masks);
  f.setCc(Sw.C1, 0);
  if (raiseFlags(f, r.flags)) return;
  f.setCc(r.ccMask, r.cc);
  if (r.v !== null) f.set(0, r.v);
}

function fscale(f: Fpu): void {
  if (f.isEmpty(0) || f.isEmpty(1)) {
    if (stackUnderflow(f)) f.set(0, indefinite());
    return;
  }
  commit(f, scale(f.get(0), f.get(1), f.rc as Rc, f.masks), 0, false);
}

/** FXTRACT: ST(0) = exponent, then push the significand. */
function fxtract(f: Fpu): void {
  if (f.isEmpty(0)) {
    if (stackUnderflow(f)) { f.set(0, indefinite()); f.push(indefinite()); } // pushed even onto a full stack (Intel hardware)
    return;
  }
  if (full(f)) {
    if (stackOverflow(f)) { f.set(0, indefinite()); f.push(indefinite()); }
    return;
  }
  const a = f.get(0);
  const k = classify(a);
  let expPart: F80, sigPart: F80, flags = 0;
  switch (k) {
    case Cls.Unsupported: expPart = indefinite(); sigPart = indefinite(); flags = Exc.IE; break;
    case Cls.SNaN: case Cls.QNaN: expPart = quiet(a); sigPart = quiet(a); flags = k === Cls.SNaN ? Exc.IE : 0; break;
    case Cls.Zero: expPart = infinity(1); sigPart = zero(a.sign); flags = Exc.ZE; break;
    case Cls.Infinity: expPart = infinity(0); sigPart = infinity(a.sign); break;
    default: [expPart, sigPart] = extract(a); flags = k === Cls.Denormal ? Exc.DE : 0;
  }
  f.setCc(Sw.C1, 0);
  if (raiseFlags(f, flags)) return;
  f.set(0, expPart);
  f.push(sigPart);
}

// ---------------------------------------------------------------- transcendentals

/** An exact value for the transcendental kernels. */
function signedFx(v: F80): tr.SignedFx {
  return { neg: v.sign === 1, m: v.sig, e: lsbExp(v) };
}

/** Round a kernel result to a 64-bit register value. */
function fromSignedFx(f: Fpu, x: tr.SignedFx, flags: number): OpResult {
  const r = new OpResult();
  if (x.m === 0n) {
    r.v = zero(x.neg ? 1 : 0);
    r.flags = flags;
    return r;
  }
  const out = new Rounded();
  r.v = roundToExt(out, x.neg ? 1 : 0, x.m, x.e, 64, f.rc as Rc, f.masks);
  r.flags = flags | out.flags;
  r.up = out.up;
  return r;
}

/** Common special-casing of a one-operand transcendental: a finished result, or null to compute. */
function unarySpecial(a: F80): OpResult | null {
  const k = classify(a);
  const r = new OpResult();
  if (k === Cls.Unsupported) { r.v = indefinite(); r.flags = Exc.IE; return r; }
  if (isNaNClass(k)) { r.v = quiet(a); r.flags = k === Cls.SNaN ? Exc.IE : 0; return r; }
  return null;
}

/** A one-operand transcendental: special cases and the kernel call; may report C2 (out of range). */
type UnaryKernel = (f: Fpu, a: F80) => { r: OpResult; c2: boolean };

/**
 * FSIN/FCOS (`trig`: C2 is cleared, or set with C1 cleared when the operand is out of range,
 * as on Intel hardware) and F2XM1 (C2 is left as it was: the SDM leaves it undefined and
 * Intel hardware does not touch it).
 */
function unaryTranscendental(f: Fpu, fn: UnaryKernel, trig: boolean): void {
  if (trig) f.setCc(Sw.C2, 0);
  if (f.isEmpty(0)) {
    if (stackUnderflow(f)) f.set(0, indefinite());
    return;
  }
  const a = f.get(0);
  const special = unarySpecial(a);
  if (special !== null) { commit(f, special, 0, false); return; }
  const { r, c2 } = fn(f, a);
  if (c2) { f.setCc(Sw.C1 | Sw.C2, Sw.C2); return; }
  commit(f, r, 0, false);
}

/** |x| >= 2^63: FSIN/FCOS/FSINCOS/FPTAN leave the operand and set C2. */
function outOfTrigRange(a: F80): boolean {
  return classify(a) !== Cls.Zero && lsbExp(a) + bitLength(a.sig) - 1 >= 63;
}

function denormalFlag(a: F80): number {
  return classify(a) === Cls.Denormal ? Exc.DE : 0;
}

function sinOp(f: Fpu, a: F80): { r: OpResult; c2: boolean } {
  const k = classify(a);
  if (k === Cls.Infinity) return { r: invalidResult(), c2: false };
  if (k === Cls.Zero) return { r: plain(a), c2: false };
  if (outOfTrigRange(a)) return { r: plain(a), c2: true };
  return { r: inexact(fromSignedFx(f, tr.sinCos(signedFx(a), TRANSCENDENTAL_BITS).sin, denormalFlag(a))), c2: false };
}

function cosOp(f: Fpu, a: F80): { r: OpResult; c2: boolean } {
  const k = classify(a);
  if (k === Cls.Infinity) return { r: invalidResult(), c2: false };
  if (k === Cls.Zero) return { r: plain(new F80(0, 0x3fff, J_BIT)), c2: false };
  if (outOfTrigRange(a)) return { r: plain(a), c2: true };
  return { r: inexact(fromSignedFx(f, tr.sinCos(signedFx(a), TRANSCENDENTAL_BITS).cos, denormalFlag(a))), c2: false };
}

function exp2m1Op(f: Fpu, a: F80): { r: OpResult; c2: boolean } {
  const k = classify(a);
  if (k === Cls.Zero) return { r: plain(a), c2: false };
  if (k === Cls.Infinity) return { r: plain(a.sign === 1 ? new F80(1, 0x3fff, J_BIT) : a), c2: false };
  // Outside [-1, 1] the SDM leaves the result undefined: Intel parts return the operand with PE.
  const top = lsbExp(a) + bitLength(a.sig) - 1;
  if (top > 0 || (top === 0 && a.sig !== J_BIT)) return { r: inexact(plain(a)), c2: false };
  return { r: inexact(fromSignedFx(f, tr.exp2m1(signedFx(a), TRANSCENDENTAL_BITS), denormalFlag(a))), c2: false };
}

/**
 * F2XM1, FYL2X and FYL2XP1 report PE for every finite nonzero result, exact ones included
 * (log2(8) * 3 = 9 sets PE on Intel hardware), and UE with it for denormal results. The
 * trigonometric results of nonzero finite operands are never exact either (they are
 * transcendental numbers), so they get the same treatment whatever the kernel returned.
 */
function inexact(r: OpResult): OpResult {
  if (r.v !== null && (r.flags & Exc.IE) === 0) {
    const k = classify(r.v);
    if (k !== Cls.Zero && k !== Cls.Infinity && !isNaNClass(k)) r.flags |= k === Cls.Denormal ? Exc.PE | Exc.UE : Exc.PE;
  }
  return r;
}

function invalidResult(): OpResult {
  const r = new OpResult();
  r.v = indefinite();
  r.flags = Exc.IE;
  return r;
}

function plain(v: F80): OpResult {
  const r = new OpResult();
  r.v = v;
  return r;
}

/**
 * Stack checks of FSINCOS/FPTAN, which replace ST(0) and push a second result: C2 is
 * cleared (by stack faults too, as on Intel hardware); an empty ST(0) is an underflow and an
 * already full stack an overflow, each leaving two indefinites when masked (the second is
 * pushed even onto a full stack, as Intel hardware does). False when the instruction ends here.
 */
function replaceAndPushReady(f: Fpu): boolean {
  f.setCc(Sw.C2, 0);
  if (f.isEmpty(0)) {
    if (stackUnderflow(f)) { f.set(0, indefinite()); f.push(indefinite()); }
    return false;
  }
  if (full(f)) {
    if (stackOverflow(f)) { f.set(0, indefinite()); f.push(indefinite()); }
    return false;
  }
  return true;
}

/** FSINCOS: ST(0) = sin, then push cos. C2 is cleared by stack faults too (as on Intel hardware). */
function fsincos(f: Fpu): void {
  if (!replaceAndPushReady(f)) return;
  const a = f.get(0);
  const special = unarySpecial(a);
  const k = classify(a);
  let s: OpResult, co: OpResult;
  if (special !== null) { s = special; co = special; }
  else if (k === Cls.Infinity) { s = invalidResult(); co = invalidResult(); }
  else if (k === Cls.Zero) { s = plain(a); co = plain(new F80(0, 0x3fff, J_BIT)); }
  else if (outOfTrigRange(a)) { f.setCc(Sw.C1 | Sw.C2, Sw.C2); return; }
  else {
    const sc = tr.sinCos(signedFx(a), TRANSCENDENTAL_BITS);
    s = inexact(fromSignedFx(f, sc.sin, denormalFlag(a)));
    co = inexact(fromSignedFx(f, sc.cos, denormalFlag(a)));
  }
  f.setCc(Sw.C1 | Sw.C2, 0);
  if (raiseFlags(f, s.flags | co.flags)) return;
  if (co.up) f.setCc(Sw.C1, Sw.C1);
  f.set(0, s.v as F80);
  f.push(co.v as F80);
}

/** FPTAN: ST(0) = tan, then push 1.0. C2 is cleared by stack faults too (as on Intel hardware). */
function fptan(f: Fpu): void {
  if (!replaceAndPushReady(f)) return;
  const a = f.get(0);
  const special = unarySpecial(a);
  const k = classify(a);
  let r: OpResult;
  if (special !== null) r = special;
  else if (k === Cls.Infinity) r = invalidResult();
  else if (k === Cls.Zero) r = plain(a);
  else if (outOfTrigRange(a)) { f.setCc(Sw.C1 | Sw.C2, Sw.C2); return; }
  else r = inexact(fromSignedFx(f, tr.tan(signedFx(a), TRANSCENDENTAL_BITS), denormalFlag(a)));
  f.setCc(Sw.C1 | Sw.C2, 0);
  if (raiseFlags(f, r.flags)) return;
  if (r.up) f.setCc(Sw.C1, Sw.C1);
  f.set(0, r.v as F80);
  const nan = r.v !== null && isNaNClass(classify(r.v));
  f.push(nan ? (r.v as F80) : new F80(0, 0x3fff, J_BIT));
}

/** Two-operand prelude for FPATAN/FYL2X/FYL2XP1 (ST(1) op ST(0), result to ST(1), pop). */
function binaryTranscendental(f: Fpu, fn: (y: F80, x: F80) => OpResult): void {
  if (f.isEmpty(0) || f.isEmpty(1)) {
    if (stackUnderflow(f)) { f.set(1, indefinite()); f.pop(); }
    return;
  }
  const x = f.get(0), y = f.get(1);
  const kx = classify(x), ky = classify(y);
  let r: OpResult;
  if (kx === Cls.Unsupported || ky === Cls.Unsupported) r = invalidResult();
  else if (isNaNClass(kx) || isNaNClass(ky)) {
    r = plain(propagateNaN(y, x));
    r.flags = kx === Cls.SNaN || ky === Cls.SNaN ? Exc.IE : 0;
  } else r = fn(y, x);
  commit(f, r, 1, true);
}

function fpatan(f: Fpu): void {
  binaryTranscendental(f, (y, x) => {
    const de = denormalFlag(x) | denormalFlag(y);
    const ky = classify(y), kx = classify(x);
    if (ky === Cls.Infinity || kx === Cls.Infinity) {
      // atan2 with infinities: quarter and three-quarter angles, or 0/pi.
      const yv: tr.SignedFx = ky === Cls.Infinity ? { neg: y.sign === 1, m: 1n, e: 0 } : { neg: y.sign === 1, m: 0n, e: 0 };
      const xv: tr.SignedFx = kx === Cls.Infinity ? { neg: x.sign === 1, m: 1n, e: 0 } : { neg: x.sign === 1, m: 0n, e: 0 };
      if (ky === Cls.Infinity && kx !== Cls.Infinity) xv.m = 0n;
      return fromSignedFx(f, tr.atan2(yv, xv, TRANSCENDENTAL_BITS), de);
    }
    return inexact(fromSignedFx(f, tr.atan2(signedFx(y), signedFx(x), TRANSCENDENTAL_BITS), de));
  });
}

/** FYL2X (`p1` false: ST(1) * log2(ST(0))) and FYL2XP1 (ST(1) * log2(ST(0) + 1)). */
function fyl2x(f: Fpu, p1: boolean): void {
  binaryTranscendental(f, (y, x) => {
    const de = denormalFlag(x) | denormalFlag(y);
    const kx = classify(x), ky = classify(y);
    if (!p1) {
      if (x.sign === 1 && kx !== Cls.Zero) return invalidResult();
      if (kx === Cls.Zero) {
        if (ky === Cls.Zero) return invalidResult();
        // A zero x wins over denormal operands: ZE alone, as on Intel hardware.
        const r = plain(infinity(y.sign ^ 1));
        r.flags = ky === Cls.Infinity ? 0 : Exc.ZE;
        return r;
      }
      if (kx === Cls.Infinity) {
        if (ky === Cls.Zero) return invalidResult();
        const r = plain(infinity(y.sign));
        r.flags = de;
        return r;
      }
      const isOne = x.exp === 0x3fff && x.sig === J_BIT;
      if (ky === Cls.Infinity) {
        if (isOne) return invalidResult();
        const below = lsbExp(x) + bitLength(x.sig) - 1 < 0;
        const r = plain(infinity(y.sign ^ (below ? 1 : 0)));
        r.flags = de;
        return r;
      }
      if (ky === Cls.Zero) {
        const below = lsbExp(x) + bitLength(x.sig) - 1 < 0;
        const r = plain(zero(y.sign ^ (below ? 1 : 0)));
        r.flags = de;
        return r;
      }
      return inexact(fromSignedFx(f, tr.yLog2x(signedFx(y), { m: x.sig, e: lsbExp(x) }, TRANSCENDENTAL_BITS), de));
    }
    // FYL2XP1: defined for |x| < 1 - sqrt(2)/2; larger magnitudes are computed as log2(1 + x) while 1 + x > 0.
    if (kx === Cls.Infinity) {
      if (x.sign === 1 || ky === Cls.Zero) return invalidResult();
      const r = plain(infinity(y.sign));
      r.flags = de;
      return r;
    }
    if (ky === Cls.Zero) {
      const r = plain(zero(y.sign ^ x.sign));
      r.flags = de;
      return r;
    }
    if (ky === Cls.Infinity) {
      if (kx === Cls.Zero) return invalidResult();
      const r = plain(infinity(y.sign ^ x.sign));
      r.flags = de;
      return r;
    }
    if (kx === Cls.Zero) {
      const r = plain(zero(y.sign ^ x.sign));
      r.flags = de;
      return r;
    }
    // x <= -1 is outside the domain: Intel parts return x itself with PE.
    if (x.sign === 1 && lsbExp(x) + bitLength(x.sig) - 1 >= 0) {
      const r = inexact(plain(x));
      r.flags |= de;
      return r;
    }
    return inexact(fromSignedFx(f, tr.yLog2p1x(signedFx(y), signedFx(x), TRANSCENDENTAL_BITS), de));
  });
}

// ---------------------------------------------------------------- environment and state

function envLayout(c: Cpu, i: number): { protectedMode: boolean; op32: boolean } {
  return {
    protectedMode: (c.cr0 & Cr0.PE) !== 0 && (c.getFlags() & Flag.VM) === 0,
    op32: (c.store[i + Ins.Prefix] & Pfx.Op32) !== 0,
  };
}

/** FNSTENV: store the environment, then mask all exceptions. */
function fstenv(c: Cpu, i: number): void {
  const f = enter(c, false);
  const layout = envLayout(c, i);
  const size = envSize(layout);
  const lin = c.ea(i, size);
  const b = new Uint8Array(size);
  writeEnvironment(b, f.environment(), layout);
  writeBytes(c, lin, b);
  f.setControlWord(f.cw | Exc.IE | Exc.DE | Exc.ZE | Exc.OE | Exc.UE | Exc.PE);
}

function fldenv(c: Cpu, i: number): void {
  const f = enter(c, true);
  const layout = envLayout(c, i);
  const size = envSize(layout);
  const b = readBytes(c, c.ea(i, size), size);
  f.loadEnvironment(readEnvironment(b, layout));
}

/** FNSAVE: environment plus ST(0)..ST(7), then FNINIT. */
function fsave(c: Cpu, i: number): void {
  const f = enter(c, false);
  const layout = envLayout(c, i);
  const envBytes = envSize(layout);
  const lin = c.ea(i, envBytes + 80);
  const b = new Uint8Array(envBytes + 80);
  writeEnvironment(b, f.environment(), layout);
  for (let k = 0; k < 8; k++) {
    const r = f.phys(k), at = envBytes + 10 * k;
    let sig = f.sig[r];
    for (let n = 0; n < 8; n++) { b[at + n] = Number(sig & 0xffn); sig >>= 8n; }
    b[at + 8] = f.se[r] & 0xff;
    b[at + 9] = f.se[r] >> 8;
  }
  writeBytes(c, lin, b);
  f.init();
}

/** FRSTOR: load the environment and the eight registers (in stack order from the new TOP). */
function frstor(c: Cpu, i: number): void {
  const f = enter(c, true);
  const layout = envLayout(c, i);
  const envBytes = envSize(layout);
  const b = readBytes(c, c.ea(i, envBytes + 80), envBytes + 80);
  const env = readEnvironment(b, layout);
  const top = (env.sw >> Sw.TopShift) & 7;
  for (let k = 0; k < 8; k++) {
    const r = (top + k) & 7, at = envBytes + 10 * k;
    let sig = 0n;
    for (let n = 7; n >= 0; n--) sig = (sig << 8n) | BigInt(b[at + n]);
    f.sig[r] = sig;
    f.se[r] = b[at + 8] | (b[at + 9] << 8);
  }
  f.loadEnvironment(env);
}
