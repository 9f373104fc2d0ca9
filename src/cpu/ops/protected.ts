/**
 * Protected-mode system instructions (SDM vol. 2 pages of each): SLDT, STR, LLDT, LTR,
 * VERR, VERW (0F 00 group), LAR and LSL (0F 02/03), ARPL (63), and the I/O permission
 * check shared by IN/OUT/INS/OUTS (vol. 1 §19.5: CPL <= IOPL, else the TSS I/O bitmap).
 * All of them raise #UD outside protected mode, except the I/O check, which also applies
 * in virtual-8086 mode.
 */
import { Ins, Pfx } from '../decoded.js';
import type { Cpu } from '../cpu.js';
import { VEC_GP, VEC_NP, VEC_UD } from '../exceptions.js';
import { Flag, materialize } from '../flags.js';
import { descriptorAttr, descriptorBase, descriptorLimit, SegAttr, SysType } from '../protected/descriptor.js';
import { dplOf, isProtectedMode, readDescriptor } from '../protected/segments.js';
import { setBusy } from '../protected/tasks.js';
import { readE16, rewriteE16, writeE16 } from './operands.js';

/** #UD unless in protected mode proper. */
function requireProtected(c: Cpu): void {
  if (!isProtectedMode(c)) c.raise(VEC_UD);
}

/** #GP(0) unless CPL is 0. */
export function requireCpl0(c: Cpu): void {
  if (c.cpl !== 0) c.raise(VEC_GP, 0);
}

/** Store a selector: 16 bits to memory; a register destination gets it zero-extended at 32-bit size. */
function storeSelector(c: Cpu, i: number, value: number): void {
  const d = c.store;
  if (d[i + Ins.Mem] === 0 && (d[i + Ins.Prefix] & Pfx.Op32) !== 0) c.regs[d[i + Ins.Rm]] = value;
  else writeE16(c, i, value);
}

/** SLDT r/m16. */
export function sldt(c: Cpu, i: number): void {
  requireProtected(c);
  storeSelector(c, i, c.ldtrSel);
}

/** STR r/m16. */
export function str(c: Cpu, i: number): void {
  requireProtected(c);
  storeSelector(c, i, c.trSel);
}

/** LLDT r/m16: a null selector disables the LDT; otherwise a present LDT descriptor in the GDT. */
export function lldt(c: Cpu, i: number): void {
  requireProtected(c);
  requireCpl0(c);
  const selector = readE16(c, i);
  const sel = selector & 0xfffc;
  if (sel === 0) { c.ldtrSel = selector; c.ldtrBase = 0; c.ldtrLimit = 0; return; }
  if ((selector & 4) !== 0) c.raise(VEC_GP, sel);
  readDescriptor(c, selector);
  if (((c.descHi >>> 8) & 0x1f) !== SysType.Ldt) c.raise(VEC_GP, sel);
  if ((c.descHi & 0x8000) === 0) c.raise(VEC_NP, sel);
  c.ldtrSel = selector;
  c.ldtrBase = descriptorBase(c.descLo, c.descHi);
  c.ldtrLimit = descriptorLimit(c.descLo, c.descHi);
}

/** LTR r/m16: an available TSS descriptor in the GDT, which becomes busy. */
export function ltr(c: Cpu, i: number): void {
  requireProtected(c);
  requireCpl0(c);
  const selector = readE16(c, i);
  const sel = selector & 0xfffc;
  if (sel === 0) c.raise(VEC_GP, 0);
  if ((selector & 4) !== 0) c.raise(VEC_GP, sel);
  readDescriptor(c, selector);
  const type = (c.descHi >>> 8) & 0x1f;
  if (type !== SysType.Tss16Available && type !== SysType.Tss32Available) c.raise(VEC_GP, sel);
  if ((c.descHi & 0x8000) === 0) c.raise(VEC_NP, sel);
  const lo = c.descLo, hi = c.descHi;
  setBusy(c, selector, true);
  c.trSel = selector;
  c.trBase = descriptorBase(lo, hi);
  c.trLimit = descriptorLimit(lo, hi);
  c.trAttr = (descriptorAttr(hi) | 2) & SegAttr.Mask;
}

/** Set or clear ZF (other status flags kept). */
function setZF(c: Cpu, on: boolean): void {
  materialize(c);
  c.flagsReg = on ? c.flagsReg | Flag.ZF : c.flagsReg & ~Flag.ZF;
}

/**
 * Read the descriptor for LAR/LSL/VERR/VERW without faulting on a bad selector: returns
 * false for null selectors and selectors beyond their table.
 */
function probeDescriptor(c: Cpu, selector: number): boolean {
  if ((selector & 0xfffc) === 0) return false;
  const limit = (selector & 4) !== 0 ? ((c.ldtrSel & 0xfffc) === 0 ? -1 : c.ldtrLimit) : c.gdtrLimit;
  if ((selector & 0xfff8) + 7 > limit) return false;
  readDescriptor(c, selector);
  return true;
}

/** Whether the descriptor just probed is visible at CPL/RPL (conforming code always is). */
function privilegeAllows(c: Cpu, selector: number): boolean {
  const attr = descriptorAttr(c.descHi);
  const conformingCode = (attr & (SegAttr.S | SegAttr.Code | SegAttr.DC)) === (SegAttr.S | SegAttr.Code | SegAttr.DC);
  const dpl = dplOf(c.descHi);
  return conformingCode || (dpl >= c.cpl && dpl >= (selector & 3));
}

/** System types LAR accepts (LSL accepts these minus the gates). */
const LAR_SYSTEM = (1 << 1) | (1 << 2) | (1 << 3) | (1 << 4) | (1 << 5) | (1 << 9) | (1 << 11) | (1 << 12);
const LSL_SYSTEM = (1 << 1) | (1 << 2) | (1 << 3) | (1 << 9) | (1 << 11);

function typeAllowed(c: Cpu, systemTypes: number): boolean {
  const attr = descriptorAttr(c.descHi);
  return (attr & SegAttr.S) !== 0 || ((systemTypes >> (attr & 0xf)) & 1) !== 0;
}

/** LAR r16/32, r/m16: access rights (high dword & 0x00F0FF00, or its low word) and ZF. */
export function lar(c: Cpu, i: number): void {
  requireProtected(c);
  const d = c.store;
  const selector = readE16(c, i);
  if (!probeDescriptor(c, selector) || !typeAllowed(c, LAR_SYSTEM) || !privilegeAllows(c, selector)) { setZF(c, false); return; }
  const rights = c.descHi & 0x00f0ff00;
  if ((d[i + Ins.Prefix] & Pfx.Op32) !== 0) c.regs[d[i + Ins.Reg]] = rights;
  else c.r16[d[i + Ins.Reg]] = rights & 0xffff;
  setZF(c, true);
}

/** LSL r16/32, r/m16: the segment limit in bytes (granularity applied) and ZF. */
export function lsl(c: Cpu, i: number): void {
  requireProtected(c);
  const d = c.store;
  const selector = readE16(c, i);
  if (!probeDescriptor(c, selector) || !typeAllowed(c, LSL_SYSTEM) || !privilegeAllows(c, selector)) { setZF(c, false); return; }
  const limit = descriptorLimit(c.descLo, c.descHi);
  if ((d[i + Ins.Prefix] & Pfx.Op32) !== 0) c.regs[d[i + Ins.Reg]] = limit | 0;
  else c.r16[d[i + Ins.Reg]] = limit & 0xffff;
  setZF(c, true);
}

/** VERR (`sub` 4) / VERW (`sub` 5) r/m16: ZF = segment readable / writable at CPL and RPL. */
export function verify(c: Cpu, i: number): void {
  requireProtected(c);
  const selector = readE16(c, i);
  const write = c.store[i + Ins.Sub] === 5;
  if (!probeDescriptor(c, selector)) { setZF(c, false); return; }
  const attr = descriptorAttr(c.descHi);
  if ((attr & SegAttr.S) === 0) { setZF(c, false); return; }
  const isCode = (attr & SegAttr.Code) !== 0;
  const usable = write ? !isCode && (attr & SegAttr.RW) !== 0 : !isCode || (attr & SegAttr.RW) !== 0;
  setZF(c, usable && privilegeAllows(c, selector));
}

/** ARPL r/m16, r16: raise the destination selector's RPL to the source's (ZF = adjusted). */
export function arpl(c: Cpu, i: number): void {
  requireProtected(c);
  const dest = readE16(c, i);
  const src = c.r16[c.store[i + Ins.Reg]];
  if ((dest & 3) < (src & 3)) {
    rewriteE16(c, i, (dest & ~3) | (src & 3));
    setZF(c, true);
  } else setZF(c, false);
}

/**
 * I/O permission for `size` bytes at `port`: in protected mode with CPL > IOPL, and always in
 * virtual-8086 mode, every bit for those ports in the TSS I/O bitmap must be clear (#GP(0)
 * otherwise, also when the bitmap or a 16-bit TSS does not cover them).
 */
export function checkIoPermission(c: Cpu, port: number, size: number): void {
  const iopl = (c.flagsReg & Flag.IOPL) >>> 12;
  if ((c.flagsReg & Flag.VM) === 0 && c.cpl <= iopl) return;
  if ((c.trAttr & 8) === 0 || c.trLimit < 0x67) c.raise(VEC_GP, 0);
  const mapBase = c.sysRead16((c.trBase + 0x66) | 0);
  const at = mapBase + (port >>> 3);
  if (at + 1 > c.trLimit) c.raise(VEC_GP, 0);
  const bits = c.sysRead16((c.trBase + at) | 0);
  if ((bits & (((1 << size) - 1) << (port & 7))) !== 0) c.raise(VEC_GP, 0);
}
