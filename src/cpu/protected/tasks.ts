/**
 * Hardware task switching (SDM vol. 3 ch. 7): JMP or CALL to a TSS descriptor or task
 * gate, an interrupt through a task gate, and IRET with EFLAGS.NT set. 16-bit (type 1/3)
 * and 32-bit (type 9/11) TSS layouts; busy bits, the NT flag and the previous-task link
 * as table 7-2 gives them; CR0.TS set by every switch.
 *
 * Order: every check on the new TSS and the whole new register image are read first;
 * then the outgoing state is written to the old TSS. From the moment TR changes the switch
 * is committed: faults while loading the new task's LDT and segment registers are
 * delivered in the new task's context (`Cpu.faultInNewTask`).
 */
import type { Cpu } from '../cpu.js';
import { Seg } from '../decoded.js';
import { VEC_GP, VEC_NP, VEC_TS } from '../exceptions.js';
import { Flag } from '../flags.js';
import { descriptorAttr, descriptorBase, descriptorLimit, realModeAttr, SegAttr, SysType } from './descriptor.js';
import { checkStackDescriptor, loadData, loadFromDescriptor, readDescriptor } from './segments.js';

/** What started a task switch. */
export const enum TaskSource {
  Jmp = 0,
  Call = 1,
  Iret = 2,
  Interrupt = 3,
}

/** The new task's register image, read before anything changes. */
const image = {
  eip: 0, eflags: 0, cr3: 0, ldt: 0,
  regs: new Int32Array(8),
  segs: new Uint16Array(6),
};

/** Offsets in a 32-bit TSS. */
const enum Tss32 { Link = 0, Cr3 = 0x1c, Eip = 0x20, Eflags = 0x24, Regs = 0x28, Segs = 0x48, Ldt = 0x60, MinLimit = 0x67 }
/** Offsets in a 16-bit TSS. */
const enum Tss16 { Link = 0, Ip = 0x0e, Flags = 0x10, Regs = 0x12, Segs = 0x22, Ldt = 0x2a, MinLimit = 0x2b }

/**
 * Switch to the task whose TSS descriptor `selector` names (already privilege-checked by
 * the caller where the architecture requires it). `c.eip` is the outgoing task's resume
 * point. `ext` is the EXT bit for error codes.
 */
export function switchTask(c: Cpu, selector: number, source: TaskSource, ext: number): void {
  const sel = selector & 0xfffc;
  const failVector = source === TaskSource.Iret ? VEC_TS : VEC_GP;
  if ((selector & 4) !== 0) c.raise(failVector, sel | ext);
  const descLin = readDescriptor(c, selector, failVector, ext);
  const lo = c.descLo, hi = c.descHi;
  const type = (hi >>> 8) & 0x1f;
  const wantBusy = source === TaskSource.Iret;
  const isTss = type === SysType.Tss16Available || type === SysType.Tss32Available || type === SysType.Tss16Busy || type === SysType.Tss32Busy;
  if (!isTss || ((type & 2) !== 0) !== wantBusy) c.raise(failVector, sel | ext);
  if ((hi & 0x8000) === 0) c.raise(VEC_NP, sel | ext);
  const newIs32 = (type & 8) !== 0;
  const newBase = descriptorBase(lo, hi), newLimit = descriptorLimit(lo, hi);
  if (newLimit < (newIs32 ? Tss32.MinLimit : Tss16.MinLimit)) c.raise(VEC_TS, sel | ext);
  readImage(c, newBase, newIs32);

  // Outgoing task: busy bit, NT in the saved image, register state.
  let flags = c.getFlags();
  if (source === TaskSource.Iret) flags &= ~Flag.NT;
  saveState(c, flags);
  if (source === TaskSource.Jmp || source === TaskSource.Iret) setBusy(c, c.trSel, false);

  // Incoming task: link and NT for nesting sources, busy bit, TR.
  if (source === TaskSource.Call || source === TaskSource.Interrupt) {
    c.sysWrite16(newBase, c.trSel);
    image.eflags |= Flag.NT;
  }
  if (source !== TaskSource.Iret) c.sysWrite8((descLin + 5) | 0, ((hi >>> 8) & 0xff) | 2);
  c.trSel = selector & 0xffff;
  c.trBase = newBase;
  c.trLimit = newLimit;
  c.trAttr = (descriptorAttr(hi) | 2) & SegAttr.Mask;
  c.cr0 |= 8;
  loadImage(c, newIs32);
}

/** Read the new task's registers, selectors, EFLAGS, EIP, CR3 and LDT selector. */
function readImage(c: Cpu, base: number, is32: boolean): void {
  const at = (off: number) => (base + off) | 0;
  if (is32) {
    image.cr3 = c.sysRead32(at(Tss32.Cr3));
    image.eip = c.sysRead32(at(Tss32.Eip));
    image.eflags = c.sysRead32(at(Tss32.Eflags));
    for (let r = 0; r < 8; r++) image.regs[r] = c.sysRead32(at(Tss32.Regs + r * 4));
    for (let s = 0; s < 6; s++) image.segs[s] = c.sysRead16(at(Tss32.Segs + s * 4));
    image.ldt = c.sysRead16(at(Tss32.Ldt));
  } else {
    image.cr3 = c.cr3;
    image.eip = c.sysRead16(at(Tss16.Ip));
    image.eflags = (c.getFlags() & ~0xffff) | c.sysRead16(at(Tss16.Flags));
    for (let r = 0; r < 8; r++) image.regs[r] = (c.regs[r] & ~0xffff) | c.sysRead16(at(Tss16.Regs + r * 2));
    for (let s = 0; s < 4; s++) image.segs[s] = c.sysRead16(at(Tss16.Segs + s * 2));
    image.segs[Seg.FS] = c.segSel[Seg.FS];
    image.segs[Seg.GS] = c.segSel[Seg.GS];
    image.ldt = c.sysRead16(at(Tss16.Ldt));
  }
}

/** Write the outgoing task's state into the current TSS. */
function saveState(c: Cpu, flags: number): void {
  const base = c.trBase;
  const at = (off: number) => (base + off) | 0;
  if ((c.trAttr & 8) !== 0) {
    c.sysWrite32(at(Tss32.Eip), c.eip);
    c.sysWrite32(at(Tss32.Eflags), flags);
    for (let r = 0; r < 8; r++) c.sysWrite32(at(Tss32.Regs + r * 4), c.regs[r]);
    for (let s = 0; s < 6; s++) c.sysWrite16(at(Tss32.Segs + s * 4), c.segSel[s]);
  } else {
    c.sysWrite16(at(Tss16.Ip), c.eip & 0xffff);
    c.sysWrite16(at(Tss16.Flags), flags & 0xffff);
    for (let r = 0; r < 8; r++) c.sysWrite16(at(Tss16.Regs + r * 2), c.regs[r] & 0xffff);
    for (let s = 0; s < 4; s++) c.sysWrite16(at(Tss16.Segs + s * 2), c.segSel[s]);
  }
}

/** Set or clear the busy bit of the TSS descriptor `selector` in the GDT. */
export function setBusy(c: Cpu, selector: number, busy: boolean): void {
  const lin = (c.gdtrBase + (selector & 0xfff8)) | 0;
  if ((selector & 0xfff8) + 7 > c.gdtrLimit) return;
  const typeByte = c.sysRead8((lin + 5) | 0);
  c.sysWrite8((lin + 5) | 0, busy ? typeByte | 2 : typeByte & ~2);
}

/** Load the new task's state; faults from here on belong to the new task. */
function loadImage(c: Cpu, is32: boolean): void {
  if (is32) c.loadCr3(image.cr3);
  for (let r = 0; r < 8; r++) c.regs[r] = image.regs[r];
  c.setFlags(image.eflags);
  c.eip = is32 ? image.eip : image.eip & 0xffff;
  const segs = image.segs;
  // Selectors first (so a fault shows the new task's values), then descriptor checks.
  for (let s = 0; s < 6; s++) c.segSel[s] = segs[s];
  c.ldtrSel = image.ldt;
  c.faultInNewTask = true;
  if ((image.eflags & Flag.VM) !== 0) {
    for (let s = 0; s < 6; s++) c.loadSegmentCache(s, segs[s], segs[s] << 4, 0xffff, realModeAttr(3));
    c.setCpl(3);
    loadLdt(c, image.ldt);
    c.faultInNewTask = false;
    return;
  }
  loadLdt(c, image.ldt);
  const cpl = segs[Seg.CS] & 3;
  loadCode(c, segs[Seg.CS]);
  c.setCpl(cpl);
  checkStackDescriptor(c, segs[Seg.SS], cpl, VEC_TS);
  loadFromDescriptor(c, Seg.SS, segs[Seg.SS]);
  for (const s of DATA_SEGS) loadData(c, s, segs[s], VEC_TS);
  c.faultInNewTask = false;
}
const DATA_SEGS = [Seg.ES, Seg.DS, Seg.FS, Seg.GS] as const;

/** Load LDTR during a task switch: null, or a present LDT descriptor in the GDT (#TS otherwise). */
function loadLdt(c: Cpu, selector: number): void {
  const sel = selector & 0xfffc;
  if (sel === 0) { c.ldtrBase = 0; c.ldtrLimit = 0; return; }
  if ((selector & 4) !== 0) c.raise(VEC_TS, sel);
  readDescriptor(c, selector & ~4, VEC_TS);
  if (((c.descHi >>> 8) & 0x1f) !== SysType.Ldt || (c.descHi & 0x8000) === 0) c.raise(VEC_TS, sel);
  c.ldtrBase = descriptorBase(c.descLo, c.descHi);
  c.ldtrLimit = descriptorLimit(c.descLo, c.descHi);
}

/** The new task's CS: a present code segment whose DPL fits its RPL (#TS / #NP). */
function loadCode(c: Cpu, selector: number): void {
  const sel = selector & 0xfffc;
  if (sel === 0) c.raise(VEC_TS, 0);
  readDescriptor(c, selector, VEC_TS);
  const attr = descriptorAttr(c.descHi);
  if ((attr & (SegAttr.S | SegAttr.Code)) !== (SegAttr.S | SegAttr.Code)) c.raise(VEC_TS, sel);
  const dpl = (attr & SegAttr.Dpl) >> SegAttr.DplShift, rpl = selector & 3;
  if ((attr & SegAttr.DC) !== 0 ? dpl > rpl : dpl !== rpl) c.raise(VEC_TS, sel);
  if ((attr & SegAttr.Present) === 0) c.raise(VEC_NP, sel);
  loadFromDescriptor(c, Seg.CS, selector);
}
