/**
 * Operand access shared by the instruction handlers: the ModRM r/m operand (register or
 * memory) at each width, and read-modify-write write-back to the address just read.
 */
import { Ins } from '../decoded.js';
import type { Cpu } from '../cpu.js';

/** Read the 8-bit r/m operand. */
export function readE8(c: Cpu, i: number): number {
  const d = c.store;
  return d[i + Ins.Mem] !== 0 ? c.read8(c.ea(i, 1)) : c.r8[d[i + Ins.Rm]];
}

/** Read the 16-bit r/m operand (unsigned). */
export function readE16(c: Cpu, i: number): number {
  const d = c.store;
  return d[i + Ins.Mem] !== 0 ? c.read16(c.ea(i, 2)) : c.r16[d[i + Ins.Rm]];
}

/** Read the 32-bit r/m operand (int32). */
export function readE32(c: Cpu, i: number): number {
  const d = c.store;
  return d[i + Ins.Mem] !== 0 ? c.read32(c.ea(i, 4)) : c.regs[d[i + Ins.Rm]];
}

/** Write the 8-bit r/m operand (computing its address). */
export function writeE8(c: Cpu, i: number, v: number): void {
  const d = c.store;
  if (d[i + Ins.Mem] !== 0) c.write8(c.ea(i, 1), v);
  else c.r8[d[i + Ins.Rm]] = v;
}

/** Write the 16-bit r/m operand (computing its address). */
export function writeE16(c: Cpu, i: number, v: number): void {
  const d = c.store;
  if (d[i + Ins.Mem] !== 0) c.write16(c.ea(i, 2), v);
  else c.r16[d[i + Ins.Rm]] = v;
}

/** Write the 32-bit r/m operand (computing its address). */
export function writeE32(c: Cpu, i: number, v: number): void {
  const d = c.store;
  if (d[i + Ins.Mem] !== 0) c.write32(c.ea(i, 4), v);
  else c.regs[d[i + Ins.Rm]] = v;
}

/** Write back an 8-bit r/m operand just read by readE8 (same address, no recompute). */
export function rewriteE8(c: Cpu, i: number, v: number): void {
  const d = c.store;
  if (d[i + Ins.Mem] !== 0) c.write8(c.lastLinear, v);
  else c.r8[d[i + Ins.Rm]] = v;
}

/** Write back a 16-bit r/m operand just read by readE16. */
export function rewriteE16(c: Cpu, i: number, v: number): void {
  const d = c.store;
  if (d[i + Ins.Mem] !== 0) c.write16(c.lastLinear, v);
  else c.r16[d[i + Ins.Rm]] = v;
}

/** Write back a 32-bit r/m operand just read by readE32. */
export function rewriteE32(c: Cpu, i: number, v: number): void {
  const d = c.store;
  if (d[i + Ins.Mem] !== 0) c.write32(c.lastLinear, v);
  else c.regs[d[i + Ins.Rm]] = v;
}
