/**
 * Interrupt and exception delivery in protected and virtual-8086 mode through the IDT
 * (SDM vol. 3 §6.10-6.14 and §20.3; the INT n / INTO / INT3 pseudocode of vol. 2):
 * interrupt gates (IF cleared), trap gates, task gates (a task switch), the privilege
 * check of software interrupts against the gate's DPL, the stack switch to an inner ring
 * through the TSS, the extended frame pushed when leaving virtual-8086 mode, and the EXT
 * bit in error codes of faults met while delivering an external event or exception.
 *
 * Every check happens and the whole frame is written before any register changes, so a
 * fault during delivery leaves the interrupted state intact (the caller then escalates per
 * the double-fault rules in cpu.ts).
 */
import type { Cpu } from '../cpu.js';
import { Seg } from '../decoded.js';
import { VEC_GP, VEC_NP, VEC_SS } from '../exceptions.js';
import { Flag } from '../flags.js';
import { descriptorAttr, descriptorBase, descriptorLimit, SegAttr } from './descriptor.js';
import { dplOf, loadNull, markAccessed, readDescriptor } from './segments.js';
import { frame, pushFrame, switchToTargetStack, target, targetCurrentStack, targetInnerStack } from './stack-switch.js';
import { switchTask, TaskSource } from './tasks.js';

/** What kind of event is being delivered (decides the privilege checks and EXT). */
export const enum EventKind {
  /** A processor exception (also INT1/ICEBP): no gate DPL check, EXT = 1. */
  Exception = 0,
  /** A hardware interrupt: no gate DPL check, EXT = 1. */
  External = 1,
  /** INT n: gate DPL checked; IOPL-sensitive in virtual-8086 mode. */
  SoftInt = 2,
  /** INT3 / INTO: gate DPL checked. */
  SoftTrap = 3,
}

/**
 * Deliver `vector` through the IDT. `errorCode` < 0 means none. `c.eip` holds the return
 * address (the faulting instruction for faults, the next one for traps and INT n).
 */
export function deliverProtected(c: Cpu, vector: number, kind: EventKind, errorCode: number): void {
  const ext = kind === EventKind.Exception || kind === EventKind.External ? 1 : 0;
  const v86 = (c.flagsReg & Flag.VM) !== 0;
  if (v86 && kind === EventKind.SoftInt && (c.flagsReg & Flag.IOPL) !== Flag.IOPL) c.raise(VEC_GP, 0);
  const idtCode = (vector << 3) | 2 | ext;
  if ((vector << 3) + 7 > c.idtrLimit) c.raise(VEC_GP, idtCode);
  const gateLin = (c.idtrBase + (vector << 3)) | 0;
  const lo = c.sysRead32(gateLin), hi = c.sysRead32((gateLin + 4) | 0);
  const type = (hi >>> 8) & 0x1f;
  if (type !== 5 && type !== 6 && type !== 7 && type !== 14 && type !== 15) c.raise(VEC_GP, idtCode);
  if ((kind === EventKind.SoftInt || kind === EventKind.SoftTrap) && dplOf(hi) < c.cpl) c.raise(VEC_GP, idtCode);
  if ((hi & 0x8000) === 0) c.raise(VEC_NP, idtCode);
  if (type === 5) {
    deliverThroughTaskGate(c, lo >>> 16, errorCode, ext);
    return;
  }
  const gate32 = type >= 14;
  const offset = gate32 ? (hi & 0xffff0000) | (lo & 0xffff) : lo & 0xffff;
  deliverThroughGate(c, lo >>> 16, offset, gate32, (type & 1) === 0, errorCode, ext);
}

/** Interrupt or trap gate: check the target code segment, switch stacks if needed, push, jump. */
function deliverThroughGate(c: Cpu, selector: number, offset: number, gate32: boolean, clearIf: boolean,
  errorCode: number, ext: number): void {
  if ((selector & 0xfffc) === 0) c.raise(VEC_GP, ext);
  const csLin = readDescriptor(c, selector, VEC_GP, ext);
  const csLo = c.descLo, csHi = c.descHi;
  const attr = descriptorAttr(csHi);
  const sel = (selector & 0xfffc) | ext;
  if ((attr & (SegAttr.S | SegAttr.Code)) !== (SegAttr.S | SegAttr.Code)) c.raise(VEC_GP, sel);
  const dpl = dplOf(csHi);
  if (dpl > c.cpl) c.raise(VEC_GP, sel);
  if ((attr & SegAttr.Present) === 0) c.raise(VEC_NP, sel);
  const v86 = (c.flagsReg & Flag.VM) !== 0;
  const inner = (attr & SegAttr.DC) === 0 && dpl < c.cpl;
  if (v86 && (!inner || dpl !== 0)) c.raise(VEC_GP, sel);
  const csLimit = descriptorLimit(csLo, csHi);
  const eip = gate32 ? offset : offset & 0xffff;
  if ((eip >>> 0) > csLimit) c.raise(VEC_GP, ext);
  const size = gate32 ? 4 : 2;
  const flags = c.getFlags();
  let n = 0;
  if (inner) {
    targetInnerStack(c, dpl, ext);
    if (v86) {
      frame[n++] = c.segSel[Seg.GS]; frame[n++] = c.segSel[Seg.FS];
      frame[n++] = c.segSel[Seg.DS]; frame[n++] = c.segSel[Seg.ES];
    }
    frame[n++] = c.segSel[Seg.SS]; frame[n++] = c.regs[4];
  } else {
    targetCurrentStack(c, ext);
    if ((c.segAttr[Seg.SS] & SegAttr.Present) === 0) c.raise(VEC_SS, ext);
  }
  frame[n++] = size === 4 ? flags : flags & 0xffff;
  frame[n++] = c.segSel[Seg.CS];
  frame[n++] = c.eip;
  if (errorCode >= 0) frame[n++] = errorCode;
  const newEsp = pushFrame(c, target, n, size);
  // Committed from here on: nothing below can fault.
  markAccessed(c, csLin, csHi);
  if (inner) {
    if (v86) {
      loadNull(c, Seg.ES, 0); loadNull(c, Seg.DS, 0); loadNull(c, Seg.FS, 0); loadNull(c, Seg.GS, 0);
    }
    switchToTargetStack(c, newEsp);
  }
  let cleared = flags & ~(Flag.TF | Flag.NT | Flag.VM | Flag.RF);
  if (clearIf) cleared &= ~Flag.IF;
  c.setFlags(cleared);
  const newCpl = inner ? dpl : c.cpl;
  c.loadSegmentCache(Seg.CS, (selector & 0xfffc) | newCpl, descriptorBase(csLo, csHi), csLimit, attr | SegAttr.Accessed);
  c.setCpl(newCpl);
  if (!inner) c.setStackPointer(newEsp);
  c.eip = eip;
  c.eventDelivered = true;
}

/** Task gate in the IDT: switch to the task (nested), then push the error code on its stack. */
function deliverThroughTaskGate(c: Cpu, tssSelector: number, errorCode: number, ext: number): void {
  switchTask(c, tssSelector, TaskSource.Interrupt, ext);
  if (errorCode >= 0) {
    if ((c.trAttr & 8) !== 0) c.push32(errorCode);
    else c.push16(errorCode);
  }
  c.eventDelivered = true;
}
