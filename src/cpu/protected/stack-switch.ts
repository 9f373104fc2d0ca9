/**
 * Privilege-level stack switching (SDM vol. 3 §5.8.5 and §6.12.1): the inner stack
 * pointers kept in the current TSS, and building a frame of pushed values on a stack that
 * is not (yet) SS:ESP. Interrupt delivery and far CALL through a call gate both check every
 * slot of the frame before any register changes, so a fault leaves the CPU untouched.
 */
import type { Cpu } from '../cpu.js';
import { Seg } from '../decoded.js';
import { VEC_SS, VEC_TS } from '../exceptions.js';
import { descriptorAttr, descriptorBase, descriptorLimit, SegAttr } from './descriptor.js';
import { checkStackDescriptor } from './segments.js';

/** Stack pointer and selector read by `readTssStack`. */
const tssStack = { ss: 0, esp: 0 };

/** True when the current TSS is a 32-bit one (type 9 or 11). */
export function tss32(c: Cpu): boolean {
  return (c.trAttr & 8) !== 0;
}

/**
 * Read SS:ESP for privilege `dpl` from the current TSS into `tssStack`. An entry beyond the
 * TSS limit raises #TS(TR selector).
 */
function readTssStack(c: Cpu, dpl: number, ext: number): void {
  if (tss32(c)) {
    const at = 4 + dpl * 8;
    if (at + 5 > c.trLimit) c.raise(VEC_TS, (c.trSel & 0xfffc) | ext);
    tssStack.esp = c.sysRead32((c.trBase + at) | 0);
    tssStack.ss = c.sysRead16((c.trBase + at + 4) | 0);
  } else {
    const at = 2 + dpl * 4;
    if (at + 3 > c.trLimit) c.raise(VEC_TS, (c.trSel & 0xfffc) | ext);
    tssStack.esp = c.sysRead16((c.trBase + at) | 0);
    tssStack.ss = c.sysRead16((c.trBase + at + 2) | 0);
  }
}

/** Values to push, first pushed first (filled by callers; never reallocated). */
export const frame = new Int32Array(16);

/** Where a frame goes: a stack segment's selector, base, limit, attribute word and starting ESP. */
export interface StackTarget {
  selector: number; base: number; limit: number; attr: number; esp: number;
  /** Error code for a frame that does not fit: #SS with this value. */
  faultCode: number;
  /** Write with supervisor rights (the new CPL is below 3). */
  supervisor: boolean;
}

/** A reusable StackTarget (slow path only). */
export const target: StackTarget = { selector: 0, base: 0, limit: 0, attr: 0, esp: 0, faultCode: 0, supervisor: false };

/**
 * Aim `target` at the inner stack of ring `dpl` named by the current TSS, after checking its
 * descriptor (#TS for a bad selector or descriptor, as the SDM gives for stack switches).
 */
export function targetInnerStack(c: Cpu, dpl: number, ext: number): void {
  readTssStack(c, dpl, ext);
  const ss = tssStack.ss;
  checkStackDescriptor(c, ss, dpl, VEC_TS);
  target.selector = ss;
  target.base = descriptorBase(c.descLo, c.descHi);
  target.limit = descriptorLimit(c.descLo, c.descHi);
  target.attr = descriptorAttr(c.descHi) | SegAttr.Accessed;
  target.esp = tssStack.esp;
  target.faultCode = (ss & 0xfffc) | ext;
  target.supervisor = dpl < 3;
}

/** Aim `target` at the current SS:ESP (a frame that does not fit is #SS(faultCode)). */
export function targetCurrentStack(c: Cpu, faultCode: number): void {
  target.selector = c.segSel[Seg.SS];
  target.base = c.segBase[Seg.SS];
  target.limit = c.segTrueLimit[Seg.SS];
  target.attr = c.segAttr[Seg.SS];
  target.esp = c.regs[4];
  target.faultCode = faultCode;
  target.supervisor = false;
}

/** After a frame was pushed onto the inner stack in `target`: make it SS:ESP. */
export function switchToTargetStack(c: Cpu, esp: number): void {
  c.loadSegmentCache(Seg.SS, target.selector, target.base, target.limit, target.attr);
  c.regs[4] = esp;
}

/**
 * Push `count` values from `frame` (each `size` bytes) onto the stack described by `t`,
 * checking every slot against the segment's limit first (#SS(faultCode)). Returns the new
 * stack pointer (masked to the stack's width); registers are not touched.
 */
export function pushFrame(c: Cpu, t: StackTarget, count: number, size: number): number {
  const mask = (t.attr & SegAttr.DB) !== 0 ? -1 : 0xffff;
  const expandDown = (t.attr & (SegAttr.Code | SegAttr.DC)) === SegAttr.DC;
  const upper = (t.attr & SegAttr.DB) !== 0 ? 0xffffffff : 0xffff;
  for (let k = 1; k <= count; k++) {
    const off = ((t.esp - k * size) & mask) >>> 0;
    const end = off + size - 1;
    const ok = expandDown ? off > t.limit && end <= upper : end <= t.limit;
    if (!ok) c.raise(VEC_SS, t.faultCode);
  }
  for (let k = 1; k <= count; k++) {
    const lin = (t.base + ((t.esp - k * size) & mask)) | 0;
    const v = frame[k - 1];
    if (size === 4) {
      if (t.supervisor) c.sysWrite32(lin, v); else c.write32(lin, v);
    } else if (t.supervisor) c.sysWrite16(lin, v & 0xffff);
    else c.write16(lin, v & 0xffff);
  }
  return (t.esp - count * size) & mask;
}
