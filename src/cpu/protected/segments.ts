/**
 * Segment-register loads in every mode (SDM vol. 3 §3.4-3.5 and §5.1-5.7; the MOV, POP,
 * LDS/LES/LFS/LGS/LSS pages of vol. 2):
 * - real mode: base = selector * 16, the hidden limit and attributes are kept (so a
 *   segment loaded in protected mode keeps its limit after returning to real mode);
 * - virtual-8086 mode: base = selector * 16, limit 0xFFFF, DPL 3 read/write data;
 * - protected mode: the descriptor is read from the GDT or LDT and checked (type, RPL, DPL,
 *   CPL, present) before anything changes; null selectors may be loaded into DS/ES/FS/GS
 *   (making the register unusable) but not into SS.
 * Descriptor-table reads here are implicit supervisor accesses.
 */
import type { Cpu } from '../cpu.js';
import { Seg } from '../decoded.js';
import { VEC_GP, VEC_NP, VEC_SS, VEC_TS } from '../exceptions.js';
import { Flag } from '../flags.js';
import { descriptorAttr, descriptorBase, descriptorLimit, realModeAttr, SegAttr } from './descriptor.js';

/** True in protected mode proper (CR0.PE = 1 and not virtual-8086 mode). */
export function isProtectedMode(c: Cpu): boolean {
  return (c.cr0 & 1) !== 0 && (c.flagsReg & Flag.VM) === 0;
}

/** True in virtual-8086 mode. */
export function isV86(c: Cpu): boolean {
  return (c.cr0 & 1) !== 0 && (c.flagsReg & Flag.VM) !== 0;
}

/**
 * Read the 8-byte descriptor named by `selector` into `c.descLo`/`c.descHi` and return its
 * linear address. A selector beyond its table's limit (or into an absent LDT) raises
 * `vector` (#GP by default, #TS during task switches) with the selector as error code.
 */
export function readDescriptor(c: Cpu, selector: number, vector = VEC_GP, ext = 0): number {
  const index = selector & 0xfff8;
  let base: number, limit: number;
  if ((selector & 4) !== 0) {
    if ((c.ldtrSel & 0xfffc) === 0) c.raise(vector, (selector & 0xfffc) | ext);
    base = c.ldtrBase; limit = c.ldtrLimit;
  } else {
    base = c.gdtrBase; limit = c.gdtrLimit;
  }
  if (index + 7 > limit) c.raise(vector, (selector & 0xfffc) | ext);
  const lin = (base + index) | 0;
  c.descLo = c.sysRead32(lin);
  c.descHi = c.sysRead32((lin + 4) | 0);
  return lin;
}

/** Set the accessed bit of the descriptor at `lin` (high dword already in `hi`). */
export function markAccessed(c: Cpu, lin: number, hi: number): void {
  if ((hi & 0x100) === 0) c.sysWrite8((lin + 5) | 0, ((hi >>> 8) & 0xff) | 1);
}

/** Fill segment register `seg` from the descriptor last read (`c.descLo`/`c.descHi`). */
export function loadFromDescriptor(c: Cpu, seg: number, selector: number): void {
  const lo = c.descLo, hi = c.descHi;
  c.loadSegmentCache(seg, selector, descriptorBase(lo, hi), descriptorLimit(lo, hi), descriptorAttr(hi) | SegAttr.Accessed);
}

/** Make `seg` hold a null selector (unusable in protected mode). */
export function loadNull(c: Cpu, seg: number, selector: number): void {
  c.loadSegmentCache(seg, selector, 0, 0, 0);
}

/** Load `seg` the way real mode (or v8086 mode) does. */
export function loadReal(c: Cpu, seg: number, selector: number): void {
  if ((c.flagsReg & Flag.VM) !== 0) c.loadSegmentCache(seg, selector, (selector & 0xffff) << 4, 0xffff, realModeAttr(3));
  else c.loadSegmentReal(seg, selector);
}

/**
 * Load segment register `seg` (not CS) with `selector` by the rules of the current mode.
 * In protected mode every check happens before the register changes.
 */
export function loadSegmentChecked(c: Cpu, seg: number, selector: number): void {
  if (!isProtectedMode(c)) { loadReal(c, seg, selector); return; }
  if (seg === Seg.SS) loadStack(c, selector, VEC_GP);
  else loadData(c, seg, selector, VEC_GP);
}

/**
 * Protected-mode load of DS/ES/FS/GS. `vector` is #GP for instructions, #TS while
 * loading a new task's registers.
 */
export function loadData(c: Cpu, seg: number, selector: number, vector: number): void {
  const sel = selector & 0xfffc;
  if (sel === 0) { loadNull(c, seg, selector); return; }
  const lin = readDescriptor(c, selector, vector);
  const hi = c.descHi;
  const attr = descriptorAttr(hi);
  const isCode = (attr & SegAttr.Code) !== 0;
  if ((attr & SegAttr.S) === 0 || (isCode && (attr & SegAttr.RW) === 0)) c.raise(vector, sel);
  const dpl = (attr & SegAttr.Dpl) >> SegAttr.DplShift;
  const conformingCode = isCode && (attr & SegAttr.DC) !== 0;
  if (!conformingCode && ((selector & 3) > dpl || c.cpl > dpl)) c.raise(vector, sel);
  if ((attr & SegAttr.Present) === 0) c.raise(VEC_NP, sel);
  markAccessed(c, lin, hi);
  loadFromDescriptor(c, seg, selector);
}

/**
 * Protected-mode load of SS at the current CPL (MOV/POP/LSS): a writable data segment
 * with RPL = DPL = CPL. `vector` is #GP for instructions, #TS in task switches.
 */
export function loadStack(c: Cpu, selector: number, vector: number): void {
  checkStackDescriptor(c, selector, c.cpl, vector);
  loadFromDescriptor(c, Seg.SS, selector);
}

/**
 * Check that `selector` names a present writable data segment usable as the stack at
 * privilege `cpl` (RPL = DPL = cpl); leaves the descriptor in `c.descLo/descHi` and marks
 * it accessed. Errors: null → vector(0); other → vector(selector); not present → #SS(selector)
 * (or #TS for task switches, whose caller passes VEC_TS).
 */
export function checkStackDescriptor(c: Cpu, selector: number, cpl: number, vector: number): void {
  const sel = selector & 0xfffc;
  if (sel === 0) c.raise(vector, 0);
  if ((selector & 3) !== cpl) c.raise(vector, sel);
  const lin = readDescriptor(c, selector, vector);
  const hi = c.descHi;
  const attr = descriptorAttr(hi);
  const writableData = (attr & (SegAttr.S | SegAttr.Code | SegAttr.RW)) === (SegAttr.S | SegAttr.RW);
  if (!writableData || ((attr & SegAttr.Dpl) >> SegAttr.DplShift) !== cpl) c.raise(vector, sel);
  if ((attr & SegAttr.Present) === 0) c.raise(vector === VEC_TS ? VEC_TS : VEC_SS, sel);
  markAccessed(c, lin, hi);
}

/**
 * After a return to an outer privilege level (RET far, IRET): data segment registers whose
 * descriptors are not accessible at the new CPL become null (SDM "RET" pseudocode).
 */
export function nullInaccessibleSegments(c: Cpu): void {
  for (const seg of OUTER_SEGS) {
    const attr = c.segAttr[seg];
    const dpl = (attr & SegAttr.Dpl) >> SegAttr.DplShift;
    const dataOrNonconforming = (attr & SegAttr.Code) === 0 || (attr & SegAttr.DC) === 0;
    if ((attr & SegAttr.Present) === 0 || (dataOrNonconforming && dpl < c.cpl)) loadNull(c, seg, 0);
  }
}
const OUTER_SEGS = [Seg.ES, Seg.DS, Seg.FS, Seg.GS] as const;

/** DPL of the descriptor whose high dword is `hi`. */
export function dplOf(hi: number): number {
  return (hi >>> 13) & 3;
}
