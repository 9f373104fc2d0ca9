/**
 * Shifts and rotates: group 2 (C0/C1, D0-D3: ROL ROR RCL RCR SHL SHR SAL SAR with a
 * count of 1, CL or imm8) and the double shifts SHLD/SHRD (0F A4/A5/AC/AD).
 * Counts are masked to 5 bits as on every CPU since the 80286. Flags that the SDM leaves
 * undefined for counts other than 1 get the values of the last one-bit step, as the
 * hardware produces them (OF from that step, even when a rotate through carry by a multiple
 * of width+1 leaves the value unchanged; AF cleared by shifts).
 */
import { Ins } from '../decoded.js';
import type { Cpu } from '../cpu.js';
import { getCF, materialize, setResultWith, Flag } from '../flags.js';
import { readE16, readE32, readE8, rewriteE16, rewriteE32, rewriteE8 } from './operands.js';

/** Group-2 shift/rotate kinds in ModRM.reg order. */
export const enum ShiftKind {
  Rol = 0,
  Ror = 1,
  Rcl = 2,
  Rcr = 3,
  Shl = 4,
  Shr = 5,
  Sal = 6,
  Sar = 7,
}

/** Set CF and OF directly, leaving the other flags as they are (rotates). */
function setCfOf(c: Cpu, cf: number, of: number): void {
  materialize(c);
  c.flagsReg = (c.flagsReg & ~(Flag.CF | Flag.OF)) | (cf !== 0 ? Flag.CF : 0) | (of !== 0 ? Flag.OF : 0);
}

/**
 * Apply shift/rotate `kind` to `v` (zero-extended, `bits` wide) by `count` (already masked
 * to 0..31 and non-zero). Returns the result and records the flags.
 */
export function shiftOp(c: Cpu, kind: number, v: number, count: number, bits: number): number {
  const mask = bits === 32 ? -1 : (1 << bits) - 1;
  const top = bits - 1;
  let r: number, cf: number;
  switch (kind) {
    case ShiftKind.Rol: {
      const n = count & top;
      r = n === 0 ? v : ((v << n) | (v >>> (bits - n))) & mask;
      cf = r & 1;
      setCfOf(c, cf, ((r >>> top) & 1) ^ cf);
      return r;
    }
    case ShiftKind.Ror: {
      const n = count & top;
      r = n === 0 ? v : ((v >>> n) | (v << (bits - n))) & mask;
      cf = (r >>> top) & 1;
      setCfOf(c, cf, cf ^ ((r >>> (top - 1)) & 1));
      return r;
    }
    case ShiftKind.Rcl: {
      const n = bits === 32 ? count : count % (bits + 1);
      r = v;
      cf = getCF(c);
      for (let k = 0; k < n; k++) {
        const out = (r >>> top) & 1;
        r = ((r << 1) | cf) & mask;
        cf = out;
      }
      setCfOf(c, cf, ((r >>> top) & 1) ^ cf);
      return r;
    }
    case ShiftKind.Rcr: {
      const n = bits === 32 ? count : count % (bits + 1);
      r = v;
      cf = getCF(c);
      for (let k = 0; k < n; k++) {
        const out = r & 1;
        r = ((r >>> 1) | (cf << top)) & mask;
        cf = out;
      }
      setCfOf(c, cf, ((r >>> top) ^ (r >>> (top - 1))) & 1);
      return r;
    }
    case ShiftKind.Shl:
    case ShiftKind.Sal: {
      if (count <= top) {
        r = (v << count) & mask;
        cf = (v >>> (bits - count)) & 1;
      } else {
        r = 0;
        cf = count === bits ? v & 1 : 0;
      }
      setResultWith(c, r, bits, cf, ((r >>> top) & 1) ^ cf, 0);
      return r;
    }
    case ShiftKind.Shr: {
      r = count <= top ? (v >>> count) & mask : 0;
      cf = count <= bits ? (v >>> (count - 1)) & 1 : 0;
      // OF is the top bit before the last one-bit step: the original MSB for a count of 1.
      setResultWith(c, r, bits, cf, (((r << 1) ^ r) >>> top) & 1, 0);
      return r;
    }
    default: {
      const signed = (v << (32 - bits)) >> (32 - bits);
      const n = count > top ? top : count;
      r = (signed >> n) & mask;
      cf = count > top ? (signed >>> 31) & 1 : (signed >> (count - 1)) & 1;
      setResultWith(c, r, bits, cf, 0, 0);
      return r;
    }
  }
}

function countOf(c: Cpu, i: number, source: number): number {
  // source: 0 = constant 1, 1 = CL, 2 = imm8
  if (source === 0) return 1;
  return (source === 1 ? c.r8[4] : c.store[i + Ins.Imm]) & 31;
}

function shiftE8(c: Cpu, i: number, source: number): void {
  const v = readE8(c, i);
  const n = countOf(c, i, source);
  if (n === 0) return;
  rewriteE8(c, i, shiftOp(c, c.store[i + Ins.Sub], v, n, 8));
}
function shiftE16(c: Cpu, i: number, source: number): void {
  const v = readE16(c, i);
  const n = countOf(c, i, source);
  if (n === 0) return;
  rewriteE16(c, i, shiftOp(c, c.store[i + Ins.Sub], v, n, 16));
}
function shiftE32(c: Cpu, i: number, source: number): void {
  const v = readE32(c, i) >>> 0;
  const n = countOf(c, i, source);
  if (n === 0) return;
  rewriteE32(c, i, shiftOp(c, c.store[i + Ins.Sub], v, n, 32));
}

export function shiftEb1(c: Cpu, i: number): void { shiftE8(c, i, 0); }
export function shiftEbCL(c: Cpu, i: number): void { shiftE8(c, i, 1); }
export function shiftEbIb(c: Cpu, i: number): void { shiftE8(c, i, 2); }
export function shiftEw1(c: Cpu, i: number): void { shiftE16(c, i, 0); }
export function shiftEwCL(c: Cpu, i: number): void { shiftE16(c, i, 1); }
export function shiftEwIb(c: Cpu, i: number): void { shiftE16(c, i, 2); }
export function shiftEd1(c: Cpu, i: number): void { shiftE32(c, i, 0); }
export function shiftEdCL(c: Cpu, i: number): void { shiftE32(c, i, 1); }
export function shiftEdIb(c: Cpu, i: number): void { shiftE32(c, i, 2); }

/** SHLD/SHRD: `sub` bit 0 = right (SHRD), bit 1 = count from CL. */
export function shldEwGw(c: Cpu, i: number): void {
  const d = c.store;
  const dst = readE16(c, i), src = c.r16[d[i + Ins.Reg]];
  const n = ((d[i + Ins.Sub] & 2) !== 0 ? c.r8[4] : d[i + Ins.Imm]) & 31;
  if (n === 0) return;
  let r: number, cf: number;
  if ((d[i + Ins.Sub] & 1) === 0) {
    const wide = ((dst << 16) | src) >>> 0;
    const shifted = n <= 16 ? wide << n : (wide << n) | (dst << (n - 16));
    r = (shifted >>> 16) & 0xffff;
    cf = n <= 16 ? (dst >>> (16 - n)) & 1 : (src >>> (32 - n)) & 1;
  } else {
    const wide = ((src << 16) | dst) >>> 0;
    const shifted = n <= 16 ? wide >>> n : (wide >>> n) | (dst << (32 - n));
    r = shifted & 0xffff;
    cf = n <= 16 ? (dst >>> (n - 1)) & 1 : (src >>> (n - 17)) & 1;
  }
  setResultWith(c, r, 16, cf, ((r ^ dst) >>> 15) & 1, 0);
  rewriteE16(c, i, r);
}
export function shldEdGd(c: Cpu, i: number): void {
  const d = c.store;
  const dst = readE32(c, i), src = c.regs[d[i + Ins.Reg]];
  const n = ((d[i + Ins.Sub] & 2) !== 0 ? c.r8[4] : d[i + Ins.Imm]) & 31;
  if (n === 0) return;
  let r: number, cf: number;
  if ((d[i + Ins.Sub] & 1) === 0) {
    r = (dst << n) | (src >>> (32 - n));
    cf = (dst >>> (32 - n)) & 1;
  } else {
    r = (dst >>> n) | (src << (32 - n));
    cf = (dst >>> (n - 1)) & 1;
  }
  setResultWith(c, r, 32, cf, ((r ^ dst) >>> 31) & 1, 0);
  rewriteE32(c, i, r);
}
