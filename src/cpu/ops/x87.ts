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
  fromInteger, indefinite, infinity, OpResult, quiet, remainder, roundInt, scale, SINGLE, sqrt, toBcd,
  toBinary, toInteger, zero, type Rc,
} from '../fpu/float80.js';
import { Sw, type Fpu } from '../fpu/fpu.js';
import { commit, full, pushChecked, raiseFlags, stackOverflow, stackUnderflow } from '../fpu/stack-faults.js';
import { f2xm1, fcos, fpatan, fptan, fsin, fsincos, fyl2x } from './x87-transcendental.js';

const enum Cr0 { PE = 1, MP = 2, EM = 4, TS = 8, NE = 0x20 }


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
    case 0: f2xm1(f); return;
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
    case 6: fsin(f); return;
    default: fcos(f); return;
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
