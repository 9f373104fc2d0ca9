/**
 * Stack instructions: PUSH/POP of registers, segment registers, immediates and memory,
 * PUSHA/POPA, PUSHF/POPF, ENTER/LEAVE.
 */
import { Reg, Seg, Ins } from '../decoded.js';
import { Flag } from '../flags.js';
import type { Cpu } from '../cpu.js';
import { VEC_GP, VEC_UD } from '../exceptions.js';
import { loadSegment } from './data.js';
import { readE16, readE32 } from './operands.js';

export function pushRw(c: Cpu, i: number): void { c.push16(c.r16[c.store[i + Ins.Reg]]); }
export function pushRd(c: Cpu, i: number): void { c.push32(c.regs[c.store[i + Ins.Reg]]); }
export function popRw(c: Cpu, i: number): void { const v = c.pop16(); c.r16[c.store[i + Ins.Reg]] = v; }
export function popRd(c: Cpu, i: number): void { const v = c.pop32(); c.regs[c.store[i + Ins.Reg]] = v; }
export function pushIw(c: Cpu, i: number): void { c.push16(c.store[i + Ins.Imm]); }
export function pushId(c: Cpu, i: number): void { c.push32(c.store[i + Ins.Imm]); }
export function pushEw(c: Cpu, i: number): void { c.push16(readE16(c, i)); }
export function pushEd(c: Cpu, i: number): void { c.push32(readE32(c, i)); }

/**
 * POP r/m (8F /0). The memory destination's address is computed with the stack pointer
 * already incremented, as the SDM specifies; nothing changes if the store faults.
 */
export function popEw(c: Cpu, i: number): void {
  const d = c.store;
  const sp = c.regs[Reg.ESP];
  const v = c.pop16();
  if (d[i + Ins.Mem] === 0) { c.r16[d[i + Ins.Rm]] = v; return; }
  try {
    c.write16(c.ea(i, 2), v);
  } catch (e) {
    c.regs[Reg.ESP] = sp;
    throw e;
  }
}
export function popEd(c: Cpu, i: number): void {
  const d = c.store;
  const sp = c.regs[Reg.ESP];
  const v = c.pop32();
  if (d[i + Ins.Mem] === 0) { c.regs[d[i + Ins.Rm]] = v; return; }
  try {
    c.write32(c.ea(i, 4), v);
  } catch (e) {
    c.regs[Reg.ESP] = sp;
    throw e;
  }
}

/** PUSH Sreg (`sub` = segment). */
export function pushSw(c: Cpu, i: number): void { c.push16(c.segSel[c.store[i + Ins.Sub]]); }
/** PUSH Sreg with 32-bit operand size: a dword slot whose low word is the selector. */
export function pushSd(c: Cpu, i: number): void {
  const sp = (c.regs[Reg.ESP] - 4) & c.stackMask;
  c.write16(c.segLinear(Seg.SS, sp, 4), c.segSel[c.store[i + Ins.Sub]]);
  c.setStackPointer(sp);
}
export function popSw(c: Cpu, i: number): void {
  const sp = c.regs[Reg.ESP] & c.stackMask;
  const v = c.read16(c.segLinear(Seg.SS, sp, 2));
  loadSegment(c, c.store[i + Ins.Sub], v);
  c.setStackPointer(sp + 2);
}
export function popSd(c: Cpu, i: number): void {
  const sp = c.regs[Reg.ESP] & c.stackMask;
  const v = c.read16(c.segLinear(Seg.SS, sp, 4));
  loadSegment(c, c.store[i + Ins.Sub], v);
  c.setStackPointer(sp + 4);
}

/** PUSHA: AX CX DX BX (original SP) BP SI DI; each slot is checked on its own (a 16-bit stack wraps). */
export function pushaW(c: Cpu): void {
  const sp0 = c.regs[Reg.ESP] & c.stackMask;
  const base = (sp0 - 16) & c.stackMask;
  for (let r = 0; r < 8; r++) c.write16(c.segLinear(Seg.SS, (sp0 - 2 * (r + 1)) & c.stackMask, 2), r === Reg.ESP ? sp0 : c.r16[r << 1]);
  c.setStackPointer(base);
}
export function pushaD(c: Cpu): void {
  const sp0 = c.regs[Reg.ESP] & c.stackMask;
  const base = (sp0 - 32) & c.stackMask;
  for (let r = 0; r < 8; r++) c.write32(c.segLinear(Seg.SS, (sp0 - 4 * (r + 1)) & c.stackMask, 4), r === Reg.ESP ? c.regs[Reg.ESP] : c.regs[r]);
  c.setStackPointer(base);
}
/** POPA: DI SI BP (skip) BX DX CX AX. */
export function popaW(c: Cpu): void {
  const sp0 = c.regs[Reg.ESP] & c.stackMask;
  const vals = c.popaScratch;
  for (let r = 7; r >= 0; r--) vals[r] = c.read16(c.segLinear(Seg.SS, (sp0 + 2 * (7 - r)) & c.stackMask, 2));
  for (let r = 0; r < 8; r++) if (r !== Reg.ESP) c.r16[r << 1] = vals[r];
  c.setStackPointer(sp0 + 16);
}
export function popaD(c: Cpu): void {
  const sp0 = c.regs[Reg.ESP] & c.stackMask;
  const vals = c.popaScratch;
  for (let r = 7; r >= 0; r--) vals[r] = c.read32(c.segLinear(Seg.SS, (sp0 + 4 * (7 - r)) & c.stackMask, 4));
  for (let r = 0; r < 8; r++) if (r !== Reg.ESP) c.regs[r] = vals[r];
  c.setStackPointer(sp0 + 32);
}

/** PUSHF/PUSHFD: VM and RF read as 0 in the pushed image; in virtual-8086 mode IOPL < 3 → #GP(0). */
export function pushfW(c: Cpu): void { checkV86Iopl(c); c.push16(c.getFlags() & 0xffff); }
export function pushfD(c: Cpu): void { checkV86Iopl(c); c.push32(c.getFlags() & ~(Flag.VM | Flag.RF)); }

/** PUSHF/POPF in virtual-8086 mode need IOPL = 3 (no VME). */
function checkV86Iopl(c: Cpu): void {
  if ((c.flagsReg & Flag.VM) !== 0 && (c.flagsReg & Flag.IOPL) !== Flag.IOPL) c.raise(VEC_GP, 0);
}

/**
 * What POPF may change at the current privilege: IOPL only at CPL 0 (never in v8086 mode),
 * IF only when CPL <= IOPL; real mode is CPL 0.
 */
function popfPrivilegeMask(c: Cpu): number {
  if ((c.cr0 & 1) === 0) return -1;
  checkV86Iopl(c);
  let mask = ~(Flag.IOPL | Flag.IF);
  if (c.cpl === 0 && (c.flagsReg & Flag.VM) === 0) mask |= Flag.IOPL;
  if (c.cpl <= (c.flagsReg & Flag.IOPL) >>> 12) mask |= Flag.IF;
  return mask;
}

/** Bits POPF may change in real mode (CPL 0): everything architectural in the low word. */
const POPF_MASK_16 = Flag.Status | Flag.TF | Flag.IF | Flag.DF | Flag.IOPL | Flag.NT;
const POPF_MASK_32 = POPF_MASK_16 | Flag.AC | Flag.ID;

/** POPF: may set TF/IF (the run loop re-checks both at the next boundary). */
export function popfW(c: Cpu): void {
  const mask = POPF_MASK_16 & popfPrivilegeMask(c);
  const v = c.pop16();
  applyPoppedFlags(c, v, mask);
}
export function popfD(c: Cpu): void {
  const mask = POPF_MASK_32 & popfPrivilegeMask(c);
  const v = c.pop32();
  applyPoppedFlags(c, v, mask);
}

/** Merge a popped flags image into EFLAGS under `mask` and end the block. */
export function applyPoppedFlags(c: Cpu, value: number, mask: number): void {
  const old = c.getFlags();
  c.setFlags((old & ~mask) | (value & mask));
  c.breakBlock = true;
}

/** ENTER imm16, imm8 (nesting level mod 32). */
export function enterW(c: Cpu, i: number): void { enter(c, i, 2); }
export function enterD(c: Cpu, i: number): void { enter(c, i, 4); }

function enter(c: Cpu, i: number, size: number): void {
  const d = c.store;
  const frameSize = d[i + Ins.Imm] & 0xffff;
  const level = d[i + Ins.Imm2] & 31;
  const mask = c.stackMask;
  let sp = c.regs[Reg.ESP] & mask;
  let bp = c.regs[Reg.EBP] & mask;
  // Compute every store first so that a fault leaves registers unchanged.
  sp = (sp - size) & mask;
  writeStack(c, sp, c.regs[Reg.EBP], size);
  const frameTemp = sp;
  for (let k = 1; k < level; k++) {
    bp = (bp - size) & mask;
    const v = size === 2 ? c.read16(c.segLinear(Seg.SS, bp, 2)) : c.read32(c.segLinear(Seg.SS, bp, 4));
    sp = (sp - size) & mask;
    writeStack(c, sp, v, size);
  }
  if (level > 0) {
    sp = (sp - size) & mask;
    writeStack(c, sp, frameTemp, size);
  }
  const newSp = (sp - frameSize) & mask;
  if (size === 2) c.r16[Reg.EBP << 1] = frameTemp; else setBp32(c, frameTemp);
  c.setStackPointer(newSp);
}

function setBp32(c: Cpu, v: number): void {
  if (c.stackMask === -1) c.regs[Reg.EBP] = v; else c.r16[Reg.EBP << 1] = v;
}

function writeStack(c: Cpu, sp: number, v: number, size: number): void {
  if (size === 2) c.write16(c.segLinear(Seg.SS, sp, 2), v);
  else c.write32(c.segLinear(Seg.SS, sp, 4), v);
}

/** LEAVE: (E)SP = (E)BP, then pop (E)BP. */
export function leaveW(c: Cpu): void {
  const bp = c.regs[Reg.EBP] & c.stackMask;
  const v = c.read16(c.segLinear(Seg.SS, bp, 2));
  c.setStackPointer(bp + 2);
  c.r16[Reg.EBP << 1] = v;
}
export function leaveD(c: Cpu): void {
  const bp = c.regs[Reg.EBP] & c.stackMask;
  const v = c.read32(c.segLinear(Seg.SS, bp, 4));
  c.setStackPointer(bp + 4);
  c.regs[Reg.EBP] = v;
}

