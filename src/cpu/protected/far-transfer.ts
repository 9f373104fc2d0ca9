/**
 * Far control transfers in protected mode (SDM vol. 2 JMP, CALL, RET, IRET pseudocode;
 * vol. 3 §5.8 call gates, §7.3 task switches): JMP/CALL to a code segment (conforming or
 * not), through a call gate (CALL to an inner ring switches stacks through the TSS and
 * copies the gate's parameter count), to a TSS or task gate; RETF to the same or an outer
 * ring (outer: SS:ESP popped, data segments not usable at the new CPL nulled); IRET to
 * the same or an outer ring, to virtual-8086 mode, and out of a nested task (NT).
 *
 * Every check and every stack write happens before CS, EIP, SS or ESP change.
 */
import type { Cpu } from '../cpu.js';
import { Seg } from '../decoded.js';
import { VEC_GP, VEC_NP } from '../exceptions.js';
import { Flag } from '../flags.js';
import { descriptorAttr, descriptorBase, descriptorLimit, realModeAttr, SegAttr, SysType } from './descriptor.js';
import { checkStackDescriptor, dplOf, loadFromDescriptor, markAccessed, nullInaccessibleSegments, readDescriptor } from './segments.js';
import { frame, pushFrame, switchToTargetStack, target, targetCurrentStack, targetInnerStack } from './stack-switch.js';
import { switchTask, TaskSource } from './tasks.js';

/**
 * Read the descriptor a far JMP/CALL names (left in c.descLo/descHi) and return its linear
 * address. A null selector is #GP(0). For a system descriptor (gate or TSS) its DPL must
 * be at least CPL and RPL (#GP(selector)) and it must be present (#NP(selector)); code
 * segments are checked by the caller.
 */
function readFarTarget(c: Cpu, selector: number): number {
  const sel = selector & 0xfffc;
  if (sel === 0) c.raise(VEC_GP, 0);
  const lin = readDescriptor(c, selector);
  const hi = c.descHi;
  if ((hi & 0x1000) !== 0) return lin;
  const dpl = dplOf(hi);
  if (dpl < c.cpl || dpl < (selector & 3)) c.raise(VEC_GP, sel);
  if ((hi & 0x8000) === 0) c.raise(VEC_NP, sel);
  return lin;
}

/** A far JMP in protected mode to `selector`:`offset` (`op32` = 32-bit operand size). */
export function jmpFarProtected(c: Cpu, selector: number, offset: number, op32: boolean): void {
  const lin = readFarTarget(c, selector);
  const hi = c.descHi;
  const attr = descriptorAttr(hi);
  if ((attr & SegAttr.S) !== 0) {
    checkCodeTarget(c, selector, attr);
    jumpToCode(c, lin, selector, c.cpl, op32 ? offset : offset & 0xffff);
    return;
  }
  const type = attr & 0x1f;
  switch (type) {
    case SysType.CallGate16: case SysType.CallGate32: {
      const gateLo = c.descLo;
      const gateOffset = type === SysType.CallGate32 ? (hi & 0xffff0000) | (gateLo & 0xffff) : gateLo & 0xffff;
      const target = gateLo >>> 16;
      if ((target & 0xfffc) === 0) c.raise(VEC_GP, 0);
      const tlin = readDescriptor(c, target);
      const tattr = descriptorAttr(c.descHi);
      checkGateTarget(c, target, tattr);
      const tdpl = dplOf(c.descHi);
      if ((tattr & SegAttr.DC) === 0 && tdpl !== c.cpl) c.raise(VEC_GP, target & 0xfffc);
      jumpToCode(c, tlin, target, c.cpl, gateOffset);
      return;
    }
    case SysType.TaskGate: taskThroughGate(c, c.descLo >>> 16, TaskSource.Jmp); return;
    case SysType.Tss16Available: case SysType.Tss32Available: switchTask(c, selector, TaskSource.Jmp, 0); return;
    default: c.raise(VEC_GP, selector & 0xfffc);
  }
}

/** A far CALL in protected mode; pushes the return address (CS:EIP) as the path requires. */
export function callFarProtected(c: Cpu, selector: number, offset: number, op32: boolean): void {
  const lin = readFarTarget(c, selector);
  const attr = descriptorAttr(c.descHi);
  if ((attr & SegAttr.S) !== 0) {
    checkCodeTarget(c, selector, attr);
    const eip = op32 ? offset : offset & 0xffff;
    checkOffset(c, eip);
    sameLevelPush(c, op32);
    jumpToCode(c, lin, selector, c.cpl, eip);
    return;
  }
  const type = attr & 0x1f;
  switch (type) {
    case SysType.CallGate16: case SysType.CallGate32: callGate(c, type === SysType.CallGate32); return;
    case SysType.TaskGate: taskThroughGate(c, c.descLo >>> 16, TaskSource.Call); return;
    case SysType.Tss16Available: case SysType.Tss32Available: switchTask(c, selector, TaskSource.Call, 0); return;
    default: c.raise(VEC_GP, selector & 0xfffc);
  }
}

/** Task gate reached by JMP or CALL: the TSS it names must be in the GDT and available. */
function taskThroughGate(c: Cpu, tssSelector: number, source: TaskSource): void {
  switchTask(c, tssSelector, source, 0);
}

/** CALL through a call gate (descriptor in c.descLo/descHi). */
function callGate(c: Cpu, gate32: boolean): void {
  const gateLo = c.descLo, gateHi = c.descHi;
  const gateOffset = gate32 ? (gateHi & 0xffff0000) | (gateLo & 0xffff) : gateLo & 0xffff;
  const paramCount = gateHi & 0x1f;
  const targetSel = gateLo >>> 16;
  if ((targetSel & 0xfffc) === 0) c.raise(VEC_GP, 0);
  const tlin = readDescriptor(c, targetSel);
  const tlo = c.descLo, thi = c.descHi;
  const tattr = descriptorAttr(thi);
  checkGateTarget(c, targetSel, tattr);
  const tdpl = dplOf(thi);
  const limit = descriptorLimit(tlo, thi);
  if ((gateOffset >>> 0) > limit) c.raise(VEC_GP, 0);
  if ((tattr & SegAttr.DC) !== 0 || tdpl === c.cpl) {
    sameLevelPush(c, gate32);
    jumpToCode(c, tlin, targetSel, c.cpl, gateOffset);
    return;
  }
  // More privileged non-conforming target: switch to the TSS stack of ring tdpl.
  targetInnerStack(c, tdpl, 0);
  const size = gate32 ? 4 : 2;
  let n = 0;
  frame[n++] = c.segSel[Seg.SS];
  frame[n++] = c.regs[4];
  for (let k = paramCount - 1; k >= 0; k--) {
    const off = (c.regs[4] + k * size) & c.stackMask;
    const plin = c.segLinear(Seg.SS, off, size);
    frame[n++] = size === 4 ? c.read32(plin) : c.read16(plin);
  }
  frame[n++] = c.segSel[Seg.CS];
  frame[n++] = c.eip;
  const newEsp = pushFrame(c, target, n, size);
  markAccessed(c, tlin, thi);
  switchToTargetStack(c, newEsp);
  c.loadSegmentCache(Seg.CS, (targetSel & 0xfffc) | tdpl, descriptorBase(tlo, thi), limit, tattr | SegAttr.Accessed);
  c.setCpl(tdpl);
  c.eip = gateOffset;
}

/** A direct code-segment target of JMP/CALL: type, privilege and presence (#GP/#NP(selector)). */
function checkCodeTarget(c: Cpu, selector: number, attr: number): void {
  const sel = selector & 0xfffc;
  if ((attr & SegAttr.Code) === 0) c.raise(VEC_GP, sel);
  const dpl = (attr & SegAttr.Dpl) >> SegAttr.DplShift;
  if ((attr & SegAttr.DC) !== 0) {
    if (dpl > c.cpl) c.raise(VEC_GP, sel);
  } else if ((selector & 3) > c.cpl || dpl !== c.cpl) c.raise(VEC_GP, sel);
  if ((attr & SegAttr.Present) === 0) c.raise(VEC_NP, sel);
}

/** The code segment a call gate points at: code, DPL <= CPL, present. */
function checkGateTarget(c: Cpu, selector: number, attr: number): void {
  const sel = selector & 0xfffc;
  if ((attr & (SegAttr.S | SegAttr.Code)) !== (SegAttr.S | SegAttr.Code)) c.raise(VEC_GP, sel);
  if (((attr & SegAttr.Dpl) >> SegAttr.DplShift) > c.cpl) c.raise(VEC_GP, sel);
  if ((attr & SegAttr.Present) === 0) c.raise(VEC_NP, sel);
}

/** #GP(0) when `eip` is beyond the limit of the descriptor in c.descLo/descHi. */
function checkOffset(c: Cpu, eip: number): void {
  if ((eip >>> 0) > descriptorLimit(c.descLo, c.descHi)) c.raise(VEC_GP, 0);
}

/** Push CS and EIP on the current stack (checked as a unit first). */
function sameLevelPush(c: Cpu, op32: boolean): void {
  const size = op32 ? 4 : 2;
  frame[0] = c.segSel[Seg.CS];
  frame[1] = c.eip;
  targetCurrentStack(c, 0);
  const sp = pushFrame(c, target, 2, size);
  c.setStackPointer(sp);
}

/** Load CS from the descriptor in c.descLo/descHi (at `lin`) with RPL = `cpl`, and jump. */
function jumpToCode(c: Cpu, lin: number, selector: number, cpl: number, eip: number): void {
  checkOffset(c, eip);
  markAccessed(c, lin, c.descHi);
  loadFromDescriptor(c, Seg.CS, (selector & 0xfffc) | cpl);
  c.eip = eip;
}

/**
 * RETF [imm16] in protected mode: pop EIP and CS (and, to an outer ring, ESP and SS after
 * releasing `release` bytes of parameters).
 */
export function retFarProtected(c: Cpu, release: number, op32: boolean): void {
  const size = op32 ? 4 : 2;
  const sp = c.regs[4];
  const eip = readStack(c, sp, 0, size);
  const cs = readStack(c, sp, size, size) & 0xffff;
  returnToCode(c, cs, op32 ? eip : eip & 0xffff, sp, 2 * size, release, size, false, 0);
}

/**
 * Complete a far return (RETF or IRET): `cs`:`eip` popped, `used` bytes consumed from
 * the stack at `sp`; to an outer ring also pops ESP/SS after `release` bytes. For IRET
 * (`iret`) the popped `flags` are applied after the checks.
 */
function returnToCode(c: Cpu, cs: number, eip: number, sp: number, used: number, release: number, size: number,
  iret: boolean, flags: number): void {
  const sel = cs & 0xfffc;
  if (sel === 0) c.raise(VEC_GP, 0);
  const rpl = cs & 3;
  if (rpl < c.cpl) c.raise(VEC_GP, sel);
  const lin = readDescriptor(c, cs);
  const lo = c.descLo, hi = c.descHi;
  const attr = descriptorAttr(hi);
  if ((attr & (SegAttr.S | SegAttr.Code)) !== (SegAttr.S | SegAttr.Code)) c.raise(VEC_GP, sel);
  const dpl = dplOf(hi);
  if ((attr & SegAttr.DC) !== 0 ? dpl > rpl : dpl !== rpl) c.raise(VEC_GP, sel);
  if ((attr & SegAttr.Present) === 0) c.raise(VEC_NP, sel);
  const limit = descriptorLimit(lo, hi);
  if (rpl === c.cpl) {
    if ((eip >>> 0) > limit) c.raise(VEC_GP, 0);
    markAccessed(c, lin, hi);
    if (iret) applyIretFlags(c, flags, size);
    c.loadSegmentCache(Seg.CS, cs, descriptorBase(lo, hi), limit, attr | SegAttr.Accessed);
    c.eip = eip;
    c.setStackPointer(sp + used + release);
    return;
  }
  // Outer ring: SS:ESP follow the (released) parameters.
  const esp = readStack(c, sp, used + release, size);
  const ss = readStack(c, sp, used + release + size, size) & 0xffff;
  checkStackDescriptor(c, ss, rpl, VEC_GP);
  const ssLo = c.descLo, ssHi = c.descHi;
  if ((eip >>> 0) > limit) c.raise(VEC_GP, 0);
  markAccessed(c, lin, hi);
  if (iret) applyIretFlags(c, flags, size);
  c.loadSegmentCache(Seg.CS, cs, descriptorBase(lo, hi), limit, attr | SegAttr.Accessed);
  c.setCpl(rpl);
  c.loadSegmentCache(Seg.SS, ss, descriptorBase(ssLo, ssHi), descriptorLimit(ssLo, ssHi), descriptorAttr(ssHi) | SegAttr.Accessed);
  c.eip = eip;
  c.setStackPointer((size === 2 ? esp & 0xffff : esp) + (iret ? 0 : release));
  nullInaccessibleSegments(c);
}

/** Read a stack slot `at` bytes above `sp` (SS limit checked: #SS(0)). */
function readStack(c: Cpu, sp: number, at: number, size: number): number {
  const off = (sp + at) & c.stackMask;
  const lin = c.segLinear(Seg.SS, off, size);
  return size === 4 ? c.read32(lin) : c.read16(lin);
}

/**
 * IRET/IRETD in protected mode: a nested-task return when NT is set; otherwise pop EIP, CS,
 * EFLAGS and return to the same ring, an outer ring, or virtual-8086 mode.
 */
export function iretProtected(c: Cpu, op32: boolean): void {
  if ((c.flagsReg & Flag.NT) !== 0) {
    const link = c.sysRead16(c.trBase);
    switchTask(c, link, TaskSource.Iret, 0);
    return;
  }
  const size = op32 ? 4 : 2;
  const sp = c.regs[4];
  const eip = readStack(c, sp, 0, size);
  const cs = readStack(c, sp, size, size) & 0xffff;
  const flags = readStack(c, sp, 2 * size, size);
  if (op32 && (flags & Flag.VM) !== 0 && c.cpl === 0) {
    returnToV86(c, sp, eip, cs, flags);
    return;
  }
  returnToCode(c, cs, op32 ? eip : eip & 0xffff, sp, 3 * size, 0, size, true, op32 ? flags : (c.getFlags() & ~0xffff) | flags);
}

/** IRETD from ring 0 with VM set in the popped EFLAGS: pop ESP, SS, ES, DS, FS, GS; enter v8086. */
function returnToV86(c: Cpu, sp: number, eip: number, cs: number, flags: number): void {
  const esp = readStack(c, sp, 12, 4);
  const vals = [0, 0, 0, 0, 0];
  for (let k = 0; k < 5; k++) vals[k] = readStack(c, sp, 16 + 4 * k, 4) & 0xffff;
  const [ss, es, ds, fs, gs] = vals;
  c.setFlags((flags & V86_IRET_FLAGS) | Flag.VM);
  const attr = realModeAttr(3);
  c.loadSegmentCache(Seg.CS, cs, cs << 4, 0xffff, attr);
  c.loadSegmentCache(Seg.SS, ss, ss << 4, 0xffff, attr);
  c.loadSegmentCache(Seg.ES, es, es << 4, 0xffff, attr);
  c.loadSegmentCache(Seg.DS, ds, ds << 4, 0xffff, attr);
  c.loadSegmentCache(Seg.FS, fs, fs << 4, 0xffff, attr);
  c.loadSegmentCache(Seg.GS, gs, gs << 4, 0xffff, attr);
  c.setCpl(3);
  c.regs[4] = esp;
  c.eip = eip & 0xffff;
}
const V86_IRET_FLAGS = Flag.Status | Flag.TF | Flag.IF | Flag.DF | Flag.IOPL | Flag.NT | Flag.RF | Flag.AC | Flag.ID;

/**
 * Apply the EFLAGS image popped by IRET at the current CPL (before a ring change): IOPL
 * only at CPL 0, IF only when CPL <= IOPL, VM never here; 16-bit IRET keeps the high word.
 */
function applyIretFlags(c: Cpu, popped: number, size: number): void {
  const old = c.getFlags();
  let mask = Flag.Status | Flag.TF | Flag.DF | Flag.NT | Flag.RF;
  if (size === 4) mask |= Flag.AC | Flag.ID;
  if (c.cpl === 0) mask |= Flag.IOPL;
  if (c.cpl <= ((old & Flag.IOPL) >>> 12)) mask |= Flag.IF;
  c.setFlags((old & ~mask) | (popped & mask));
}
