/**
 * Control transfer: JMP/CALL (relative, indirect, far), RET/RETF, Jcc, LOOP/LOOPE/LOOPNE,
 * JCXZ/JECXZ, INT n/INT3/INTO/INT1, IRET, BOUND. Every handler here ends its basic block
 * (the decoder marks them so). `c.eip` already holds the address of the next instruction.
 */
import { Pfx, Reg, Seg, Ins } from '../decoded.js';
import type { Cpu } from '../cpu.js';
import { VEC_BP, VEC_BR, VEC_DB, VEC_GP, VEC_OF, VEC_UD } from '../exceptions.js';
import { condition, getOF, getZF, Flag } from '../flags.js';
import { readE16, readE32 } from './operands.js';
import { applyPoppedFlags } from './stack.js';
import { callFarProtected, iretProtected, jmpFarProtected, retFarProtected } from '../protected/far-transfer.js';
import { deliverProtected, EventKind } from '../protected/interrupts.js';
import { isProtectedMode, loadReal } from '../protected/segments.js';

/** Set EIP to `target` after checking it against the CS limit (#GP(0) beyond it). */
function jumpTo(c: Cpu, target: number): void {
  if ((target >>> 0) > c.segTrueLimit[Seg.CS]) c.raise(VEC_GP, 0);
  c.eip = target;
}

/** JMP rel8/rel16 (16-bit operand size truncates the target to 16 bits). */
export function jmpRelW(c: Cpu, i: number): void { jumpTo(c, (c.eip + c.store[i + Ins.Imm]) & 0xffff); }
export function jmpRelD(c: Cpu, i: number): void { jumpTo(c, (c.eip + c.store[i + Ins.Imm]) | 0); }

/** Jcc: `sub` is the condition code. */
export function jccW(c: Cpu, i: number): void {
  const d = c.store;
  if (condition(c, d[i + Ins.Sub])) jumpTo(c, (c.eip + d[i + Ins.Imm]) & 0xffff);
}
export function jccD(c: Cpu, i: number): void {
  const d = c.store;
  if (condition(c, d[i + Ins.Sub])) jumpTo(c, (c.eip + d[i + Ins.Imm]) | 0);
}

/** Decrement (E)CX per the address size and return the new count (0 means exhausted). */
function decrementCount(c: Cpu, i: number): number {
  if ((c.store[i + Ins.Prefix] & Pfx.Addr32) !== 0) return (c.regs[Reg.ECX] = c.regs[Reg.ECX] - 1);
  return (c.r16[Reg.ECX << 1] = c.r16[Reg.ECX << 1] - 1);
}

/** LOOP/LOOPE/LOOPNE (`sub`: 0 = LOOPNE, 1 = LOOPE, 2 = LOOP) with operand-size target masking. */
export function loopW(c: Cpu, i: number): void { loopCommon(c, i, 0xffff); }
export function loopD(c: Cpu, i: number): void { loopCommon(c, i, -1); }

function loopCommon(c: Cpu, i: number, mask: number): void {
  const d = c.store, kind = d[i + Ins.Sub];
  const count = decrementCount(c, i);
  let take = count !== 0;
  if (take && kind === 0) take = getZF(c) === 0;
  else if (take && kind === 1) take = getZF(c) !== 0;
  if (take) jumpTo(c, (c.eip + d[i + Ins.Imm]) & mask);
}

/** JCXZ/JECXZ (the address size picks CX or ECX). */
export function jcxzW(c: Cpu, i: number): void { jcxz(c, i, 0xffff); }
export function jcxzD(c: Cpu, i: number): void { jcxz(c, i, -1); }

function jcxz(c: Cpu, i: number, mask: number): void {
  const d = c.store;
  const count = (d[i + Ins.Prefix] & Pfx.Addr32) !== 0 ? c.regs[Reg.ECX] : c.r16[Reg.ECX << 1];
  if (count === 0) jumpTo(c, (c.eip + d[i + Ins.Imm]) & mask);
}

/** CALL rel16/rel32. */
export function callRelW(c: Cpu, i: number): void {
  const target = (c.eip + c.store[i + Ins.Imm]) & 0xffff;
  if ((target >>> 0) > c.segTrueLimit[Seg.CS]) c.raise(VEC_GP, 0);
  c.push16(c.eip);
  c.eip = target;
}
export function callRelD(c: Cpu, i: number): void {
  const target = (c.eip + c.store[i + Ins.Imm]) | 0;
  if ((target >>> 0) > c.segTrueLimit[Seg.CS]) c.raise(VEC_GP, 0);
  c.push32(c.eip);
  c.eip = target;
}

/** CALL r/m16 and JMP r/m16 (FF /2, /4). */
export function callEw(c: Cpu, i: number): void {
  const target = readE16(c, i);
  if (target > c.segTrueLimit[Seg.CS]) c.raise(VEC_GP, 0);
  c.push16(c.eip);
  c.eip = target;
}
export function callEd(c: Cpu, i: number): void {
  const target = readE32(c, i);
  if ((target >>> 0) > c.segTrueLimit[Seg.CS]) c.raise(VEC_GP, 0);
  c.push32(c.eip);
  c.eip = target;
}
export function jmpEw(c: Cpu, i: number): void { jumpTo(c, readE16(c, i)); }
export function jmpEd(c: Cpu, i: number): void { jumpTo(c, readE32(c, i)); }

/** Real-mode (or virtual-8086) far transfer of control to selector:offset. */
function farJumpReal(c: Cpu, selector: number, offset: number): void {
  loadReal(c, Seg.CS, selector);
  c.eip = offset;
}

/** Far JMP to selector:offset by the rules of the current mode. */
function farJump(c: Cpu, selector: number, offset: number, op32: boolean): void {
  if (isProtectedMode(c)) jmpFarProtected(c, selector, offset, op32);
  else farJumpReal(c, selector, offset);
}

/** Far CALL to selector:offset by the rules of the current mode (pushes the return address). */
function farCall(c: Cpu, selector: number, offset: number, op32: boolean): void {
  if (isProtectedMode(c)) { callFarProtected(c, selector, offset, op32); return; }
  pushReturnFar(c, op32 ? 4 : 2);
  farJumpReal(c, selector, offset);
}

/** JMP ptr16:16 / ptr16:32 (EA): offset in imm, selector in imm2. */
export function jmpFarW(c: Cpu, i: number): void { farJump(c, c.store[i + Ins.Imm2], c.store[i + Ins.Imm] & 0xffff, false); }
export function jmpFarD(c: Cpu, i: number): void { farJump(c, c.store[i + Ins.Imm2], c.store[i + Ins.Imm], true); }

/** CALL ptr16:16 / ptr16:32 (9A). */
export function callFarW(c: Cpu, i: number): void { farCall(c, c.store[i + Ins.Imm2], c.store[i + Ins.Imm] & 0xffff, false); }
export function callFarD(c: Cpu, i: number): void { farCall(c, c.store[i + Ins.Imm2], c.store[i + Ins.Imm], true); }

function pushReturnFar(c: Cpu, size: number): void {
  if (size === 2) {
    c.push16(c.segSel[Seg.CS]);
    c.push16(c.eip);
  } else {
    c.push32(c.segSel[Seg.CS]);
    c.push32(c.eip);
  }
}

/** JMP m16:16 / CALL m16:16 (FF /5, /3): the register form is #UD. */
export function jmpFarEw(c: Cpu, i: number): void {
  if (c.store[i + Ins.Mem] === 0) c.raise(VEC_UD);
  const lin = c.ea(i, 4);
  const off = c.read16(lin), sel = c.read16((lin + 2) | 0);
  farJump(c, sel, off, false);
}
export function jmpFarEd(c: Cpu, i: number): void {
  if (c.store[i + Ins.Mem] === 0) c.raise(VEC_UD);
  const lin = c.ea(i, 6);
  const off = c.read32(lin), sel = c.read16((lin + 4) | 0);
  farJump(c, sel, off, true);
}
export function callFarEw(c: Cpu, i: number): void {
  if (c.store[i + Ins.Mem] === 0) c.raise(VEC_UD);
  const lin = c.ea(i, 4);
  const off = c.read16(lin), sel = c.read16((lin + 2) | 0);
  farCall(c, sel, off, false);
}
export function callFarEd(c: Cpu, i: number): void {
  if (c.store[i + Ins.Mem] === 0) c.raise(VEC_UD);
  const lin = c.ea(i, 6);
  const off = c.read32(lin), sel = c.read16((lin + 4) | 0);
  farCall(c, sel, off, true);
}

/** RET / RET imm16 (imm is 0 for the plain form). */
export function retW(c: Cpu, i: number): void {
  const ip = c.pop16();
  if (ip > c.segTrueLimit[Seg.CS]) c.raise(VEC_GP, 0);
  c.eip = ip;
  releaseStack(c, c.store[i + Ins.Imm]);
}
export function retD(c: Cpu, i: number): void {
  const ip = c.pop32();
  if ((ip >>> 0) > c.segTrueLimit[Seg.CS]) c.raise(VEC_GP, 0);
  c.eip = ip;
  releaseStack(c, c.store[i + Ins.Imm]);
}

function releaseStack(c: Cpu, bytes: number): void {
  if (bytes !== 0) c.setStackPointer(c.regs[4] + bytes);
}

/** RETF / RETF imm16. */
export function retfW(c: Cpu, i: number): void {
  if (isProtectedMode(c)) { retFarProtected(c, c.store[i + Ins.Imm], false); return; }
  const ip = c.pop16();
  const cs = c.pop16();
  farJumpReal(c, cs, ip);
  releaseStack(c, c.store[i + Ins.Imm]);
}
export function retfD(c: Cpu, i: number): void {
  if (isProtectedMode(c)) { retFarProtected(c, c.store[i + Ins.Imm], true); return; }
  const ip = c.pop32();
  const cs = c.pop32() & 0xffff;
  farJumpReal(c, cs, ip);
  releaseStack(c, c.store[i + Ins.Imm]);
}

/**
 * IRET (16-bit): pop IP, CS, FLAGS. Protected mode: see protected/far-transfer.ts.
 * Virtual-8086 mode: #GP(0) unless IOPL = 3, and IOPL itself is not changed.
 */
export function iretW(c: Cpu): void {
  if (isProtectedMode(c)) { iretProtected(c, false); return; }
  const v86 = v86IretMask(c);
  const sp = c.regs[Reg.ESP];
  const ip = c.pop16();
  const cs = c.pop16();
  const flags = c.pop16();
  c.regs[Reg.ESP] = sp;
  farJumpReal(c, cs, ip);
  c.setStackPointer(sp + 6);
  applyPoppedFlags(c, flags, (Flag.Status | Flag.TF | Flag.IF | Flag.DF | Flag.IOPL | Flag.NT) & v86);
}
/** IRETD outside protected mode: pop EIP, CS, EFLAGS (VM, RF and VIP/VIF unaffected). */
export function iretD(c: Cpu): void {
  if (isProtectedMode(c)) { iretProtected(c, true); return; }
  const v86 = v86IretMask(c);
  const sp = c.regs[Reg.ESP];
  const ip = c.pop32();
  const cs = c.pop32() & 0xffff;
  const flags = c.pop32();
  c.regs[Reg.ESP] = sp;
  farJumpReal(c, cs, ip);
  c.setStackPointer(sp + 12);
  applyPoppedFlags(c, flags, (Flag.Status | Flag.TF | Flag.IF | Flag.DF | Flag.IOPL | Flag.NT | Flag.AC | Flag.ID) & v86);
}

/** In virtual-8086 mode IRET needs IOPL = 3 (#GP(0)) and cannot change IOPL; elsewhere no restriction. */
function v86IretMask(c: Cpu): number {
  if ((c.flagsReg & Flag.VM) === 0) return -1;
  if ((c.flagsReg & Flag.IOPL) !== Flag.IOPL) c.raise(VEC_GP, 0);
  return ~Flag.IOPL;
}

/** INT imm8 (IOPL-sensitive in virtual-8086 mode; gate DPL checked in protected mode). */
export function intN(c: Cpu, i: number): void { softwareInterrupt(c, c.store[i + Ins.Imm] & 0xff, EventKind.SoftInt); }
/** INT3 (CC). */
export function int3(c: Cpu): void { softwareInterrupt(c, VEC_BP, EventKind.SoftTrap); }
/** INT1 / ICEBP (F1): delivered like a debug exception (no gate DPL check). */
export function int1(c: Cpu): void { softwareInterrupt(c, VEC_DB, EventKind.Exception); }
/** INTO: INT 4 when OF is set. */
export function into(c: Cpu): void { if (getOF(c) !== 0) softwareInterrupt(c, VEC_OF, EventKind.SoftTrap); }

function softwareInterrupt(c: Cpu, vector: number, kind: EventKind): void {
  if ((c.cr0 & 1) !== 0) deliverProtected(c, vector, kind, -1);
  else c.interruptReal(vector);
}

/** BOUND r16, m16&16: #BR when the index is outside [lower, upper] (signed). */
export function boundW(c: Cpu, i: number): void {
  const d = c.store;
  if (d[i + Ins.Mem] === 0) c.raise(VEC_UD);
  const lin = c.ea(i, 4);
  const lower = (c.read16(lin) << 16) >> 16;
  const upper = (c.read16((lin + 2) | 0) << 16) >> 16;
  const idx = (c.r16[d[i + Ins.Reg]] << 16) >> 16;
  if (idx < lower || idx > upper) c.raise(VEC_BR);
}
export function boundD(c: Cpu, i: number): void {
  const d = c.store;
  if (d[i + Ins.Mem] === 0) c.raise(VEC_UD);
  const lin = c.ea(i, 8);
  const lower = c.read32(lin);
  const upper = c.read32((lin + 4) | 0);
  const idx = c.regs[d[i + Ins.Reg]];
  if (idx < lower || idx > upper) c.raise(VEC_BR);
}
