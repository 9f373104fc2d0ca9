/**
 * Multiply and divide: MUL/IMUL/DIV/IDIV (F6/F7 /4-/7), IMUL r, r/m (0F AF) and
 * IMUL r, r/m, imm (69/6B). Division faults (#DE) leave every register unchanged.
 * For MUL/IMUL, SF/ZF/PF follow the low half of the result and AF is cleared, as Intel
 * hardware does for these SDM-undefined flags.
 */
import { Reg, Ins } from '../decoded.js';
import type { Cpu } from '../cpu.js';
import { VEC_DE } from '../exceptions.js';
import { setResultWith } from '../flags.js';
import { readE16, readE32, readE8 } from './operands.js';

/** MUL r/m8: AX = AL * src. */
export function mulEb(c: Cpu, i: number): void {
  const r = c.r8[0] * readE8(c, i);
  c.r16[0] = r;
  const hi = r >>> 8;
  setResultWith(c, r, 8, hi, hi, 0);
}
/** IMUL r/m8: AX = AL * src (signed). */
export function imulEb(c: Cpu, i: number): void {
  const r = ((c.r8[0] << 24) >> 24) * ((readE8(c, i) << 24) >> 24);
  c.r16[0] = r;
  const ovf = r !== ((r << 24) >> 24) ? 1 : 0;
  setResultWith(c, r, 8, ovf, ovf, 0);
}
export function mulEw(c: Cpu, i: number): void {
  const r = c.r16[0] * readE16(c, i);
  c.r16[0] = r;
  c.r16[Reg.EDX << 1] = r >>> 16;
  const hi = r >>> 16;
  setResultWith(c, r, 16, hi, hi, 0);
}
export function imulEw(c: Cpu, i: number): void {
  const r = ((c.r16[0] << 16) >> 16) * ((readE16(c, i) << 16) >> 16);
  c.r16[0] = r;
  c.r16[Reg.EDX << 1] = r >> 16;
  const ovf = r !== ((r << 16) >> 16) ? 1 : 0;
  setResultWith(c, r, 16, ovf, ovf, 0);
}
export function mulEd(c: Cpu, i: number): void {
  const a = c.regs[Reg.EAX] >>> 0, b = readE32(c, i) >>> 0;
  const lo = Math.imul(a, b);
  const hi = mulHighUnsigned(a, b);
  c.regs[Reg.EAX] = lo;
  c.regs[Reg.EDX] = hi;
  setResultWith(c, lo, 32, hi, hi, 0);
}
export function imulEd(c: Cpu, i: number): void {
  const a = c.regs[Reg.EAX], b = readE32(c, i);
  const lo = Math.imul(a, b);
  const hi = mulHighSigned(a, b);
  c.regs[Reg.EAX] = lo;
  c.regs[Reg.EDX] = hi;
  const ovf = hi !== (lo >> 31) ? 1 : 0;
  setResultWith(c, lo, 32, ovf, ovf, 0);
}

/** High 32 bits of the unsigned 64-bit product (as int32). */
export function mulHighUnsigned(a: number, b: number): number {
  const aLo = a & 0xffff, aHi = a >>> 16, bLo = b & 0xffff, bHi = b >>> 16;
  const lolo = aLo * bLo;
  const mid1 = aHi * bLo + (lolo >>> 16);
  const mid2 = aLo * bHi + (mid1 & 0xffff);
  return (aHi * bHi + Math.floor(mid1 / 65536) + Math.floor(mid2 / 65536)) | 0;
}

/** High 32 bits of the signed 64-bit product (as int32). */
export function mulHighSigned(a: number, b: number): number {
  let hi = mulHighUnsigned(a >>> 0, b >>> 0);
  if (a < 0) hi = (hi - b) | 0;
  if (b < 0) hi = (hi - a) | 0;
  return hi;
}

/** Two- and three-operand IMUL: reg = src1 * src2 (truncated). */
function imulTo16(c: Cpu, i: number, a: number, b: number): void {
  const r = ((a << 16) >> 16) * ((b << 16) >> 16);
  c.r16[c.store[i + Ins.Reg]] = r;
  const ovf = r !== ((r << 16) >> 16) ? 1 : 0;
  setResultWith(c, r, 16, ovf, ovf, 0);
}
function imulTo32(c: Cpu, i: number, a: number, b: number): void {
  const lo = Math.imul(a, b);
  const hi = mulHighSigned(a | 0, b | 0);
  c.regs[c.store[i + Ins.Reg]] = lo;
  const ovf = hi !== (lo >> 31) ? 1 : 0;
  setResultWith(c, lo, 32, ovf, ovf, 0);
}
export function imulGwEw(c: Cpu, i: number): void { imulTo16(c, i, c.r16[c.store[i + Ins.Reg]], readE16(c, i)); }
export function imulGdEd(c: Cpu, i: number): void { imulTo32(c, i, c.regs[c.store[i + Ins.Reg]], readE32(c, i)); }
export function imulGwEwI(c: Cpu, i: number): void { imulTo16(c, i, readE16(c, i), c.store[i + Ins.Imm]); }
export function imulGdEdI(c: Cpu, i: number): void { imulTo32(c, i, readE32(c, i), c.store[i + Ins.Imm]); }

/** DIV r/m8: AL = AX / src, AH = AX % src. */
export function divEb(c: Cpu, i: number): void {
  const b = readE8(c, i);
  if (b === 0) c.raise(VEC_DE);
  const a = c.r16[0];
  const q = Math.floor(a / b);
  if (q > 0xff) c.raise(VEC_DE);
  c.r8[0] = q;
  c.r8[1] = a % b;
}
export function idivEb(c: Cpu, i: number): void {
  const b = (readE8(c, i) << 24) >> 24;
  if (b === 0) c.raise(VEC_DE);
  const a = (c.r16[0] << 16) >> 16;
  const q = Math.trunc(a / b);
  if (q > 127 || q < -128) c.raise(VEC_DE);
  c.r8[0] = q;
  c.r8[1] = a % b;
}
export function divEw(c: Cpu, i: number): void {
  const b = readE16(c, i);
  if (b === 0) c.raise(VEC_DE);
  const a = (c.r16[Reg.EDX << 1] * 65536) + c.r16[0];
  const q = Math.floor(a / b);
  if (q > 0xffff) c.raise(VEC_DE);
  c.r16[0] = q;
  c.r16[Reg.EDX << 1] = a % b;
}
export function idivEw(c: Cpu, i: number): void {
  const b = (readE16(c, i) << 16) >> 16;
  if (b === 0) c.raise(VEC_DE);
  const a = (c.r16[Reg.EDX << 1] << 16) | c.r16[0];
  const q = Math.trunc(a / b);
  if (q > 32767 || q < -32768) c.raise(VEC_DE);
  c.r16[0] = q;
  c.r16[Reg.EDX << 1] = a % b;
}
export function divEd(c: Cpu, i: number): void {
  const b = readE32(c, i) >>> 0;
  if (b === 0) c.raise(VEC_DE);
  const hi = c.regs[Reg.EDX] >>> 0, lo = c.regs[Reg.EAX] >>> 0;
  if (hi >= b) c.raise(VEC_DE);
  const dividend = (BigInt(hi) << 32n) | BigInt(lo);
  const bb = BigInt(b);
  c.regs[Reg.EAX] = Number(dividend / bb);
  c.regs[Reg.EDX] = Number(dividend % bb);
}
export function idivEd(c: Cpu, i: number): void {
  const b = readE32(c, i);
  if (b === 0) c.raise(VEC_DE);
  const dividend = (BigInt(c.regs[Reg.EDX]) << 32n) | BigInt(c.regs[Reg.EAX] >>> 0);
  const bb = BigInt(b);
  const q = dividend / bb;
  if (q > 0x7fffffffn || q < -0x80000000n) c.raise(VEC_DE);
  c.regs[Reg.EAX] = Number(q);
  c.regs[Reg.EDX] = Number(dividend % bb);
}
