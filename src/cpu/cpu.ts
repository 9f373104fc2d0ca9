/**
 * The x86 CPU: architectural state, the block-executing run loop and interrupt/exception
 * delivery. Linear memory (the soft TLB, paging glue, CR0/CR3/CR4) is the base class,
 * linear-memory.ts.
 *
 * Instructions are decoded once into basic blocks (decoder.ts, block-cache.ts) and run
 * here by calling one small handler per instruction (ops/*). Registers live in an
 * Int32Array with 16- and 8-bit views over the same bytes; status flags are lazy
 * (flags.ts).
 *
 * Modes: real mode, protected mode (segment loads, gates, far transfers, tasks and the IDT
 * live in protected/*; descriptor-checked loads keep the hidden segment caches here) and
 * virtual-8086 mode; paging (paging.ts) fills the soft TLB, which keeps separate
 * supervisor and user sets selected by CPL. Each segment has a read view (index s) and a
 * write view (s + SegView.Write) whose fast-path limit is -1 whenever the access needs more
 * than a limit compare (unusable, expand-down, read-only, execute-only, alignment checks):
 * those accesses go through `segmentSlow`.
 */
import type { GuestMemory } from '../memory/guest-memory.js';
import type { Persist, SavedState } from '../persist/persist.js';
import { StateError, StateReader } from '../persist/persist.js';
import { BlockCache } from './block-cache.js';
import { createDecodedStore, Ins, Reg, Seg, SegView, type DecodedStore } from './decoded.js';
import { GuestFault, VEC_AC, VEC_DB, VEC_DF, VEC_GP, VEC_PF, VEC_SS } from './exceptions.js';
import { statusFlags, type LazyFlagState, Flag } from './flags.js';
import { dispatch } from './dispatch.js';
import { Shadow } from './shadow.js';
import { HANDLERS } from './opcode-table.js';
import type { InterruptSource, PortIo } from './port-io.js';
import { Fpu } from './fpu/fpu.js';
import { CPUID_SIGNATURE } from './cpuid.js';
import { deliverProtected, EventKind } from './protected/interrupts.js';
import { MsrFile } from './msr.js';
import { realModeAttr, SegAttr, SysType } from './protected/descriptor.js';
import { A20, LinearMemory } from './linear-memory.js';

/** Why `run()` returned. */
export const enum RunExit {
  /** The instruction budget was used up. */
  Budget = 0,
  /** HLT with no interrupt able to wake the CPU. */
  Halted = 1,
  /** Something asked the CPU to stop (`requestStop`), e.g. the debug-exit device. */
  Stopped = 2,
  /** A fault while delivering a double fault: the processor shut down (a PC resets). */
  TripleFault = 3,
}

/** Options for a CPU. */
export interface CpuOptions {
  /** Decoded-instruction capacity (slots); the block cache is flushed when full. */
  decodedCapacity?: number;
  /** TSC ticks per clock tick (instruction or idle tick); default 1. */
  tscTicksPerInstruction?: number;
}

/**
 * The state a 32-bit boot protocol hands over (Linux boot protocol, Multiboot): protected
 * mode with paging off, flat 4 GiB code and data segments from a GDT the loader placed,
 * CPL 0, interrupts disabled.
 */
export interface Flat32Entry {
  readonly eip: number;
  /** EAX, ECX, EDX, EBX, ESP, EBP, ESI, EDI in encoding order. */
  readonly regs: readonly number[];
  readonly gdtBase: number;
  readonly gdtLimit: number;
  readonly codeSelector: number;
  readonly dataSelector: number;
}

/** Saved CPU state (plain data). */
export interface CpuState extends SavedState {
  regs: number[]; eip: number; eflags: number;
  segSel: number[]; segBase: number[]; segLimit: number[];
  /** Segment attribute words (protected/descriptor.ts) and the current privilege level. */
  segAttr: number[]; cpl: number;
  ldtr: { sel: number; base: number; limit: number };
  tr: { sel: number; base: number; limit: number; attr: number };
  /** PAE PDPTE registers (lo/hi dword pairs), kept apart from memory as hardware does. */
  pdpte: number[];
  /** Model-specific registers and the x87 unit. */
  msr: unknown; fpu: unknown;
  cr0: number; cr2: number; cr3: number; cr4: number;
  gdtrBase: number; gdtrLimit: number; idtrBase: number; idtrLimit: number;
  halted: boolean; a20: boolean; instructionCount: number;
  /** Clock ticks skipped while halted (version 3; see `idleTicks`). */
  idleTicks: number;
  /** The next boundary is in an STI/MOV SS interrupt shadow / a MOV SS single-step shadow. */
  interruptShadow: boolean; trapShadow: boolean; shutdown: boolean;
}

/** One x86 processor attached to a VM's guest memory and I/O bus. */
export class Cpu extends LinearMemory implements LazyFlagState, Persist<CpuState> {
  readonly persistId = 'cpu0';
  /** General registers EAX..EDI, then the always-zero pseudo register Reg.Zero. */
  readonly regs = new Int32Array(Reg.Zero + 1);
  /** 16-bit view: index r*2 is the low word of register r. */
  readonly r16 = new Uint16Array(this.regs.buffer);
  /** 8-bit view: AL=0, AH=1, CL=4, CH=5, ... (index ((r&3)<<2)|(r>>2) for encoding r). */
  readonly r8 = new Uint8Array(this.regs.buffer);
  /** Instruction pointer (offset in CS) of the next instruction. */
  eip = 0;
  /** EIP of the instruction that faulted (recomputed by the run loop when a fault is caught). */
  instrStart = 0;
  /** 0xFFFF for 16-bit code, -1 for 32-bit. */
  ipMask = 0xffff;
  /** Stack-pointer width mask: 0xFFFF (SS.B=0) or -1. */
  stackMask = 0xffff;

  readonly segSel = new Uint16Array(6);
  /** Segment bases: index s for segment s, mirrored at s + SegView.Write. */
  readonly segBase = new Int32Array(16);
  /** Segment limits as unsigned numbers (real mode: 0xFFFF). */
  readonly segLimit = new Float64Array(16);
  /**
   * Segment attributes from the descriptor's high dword, bits 8-23 shifted down by 8:
   * bits 0-3 type, 4 S, 5-6 DPL, 7 P, 12 AVL, 14 D/B, 15 G (see SegAttr).
   */
  readonly segAttr = new Int32Array(6);
  /**
   * The descriptor limits themselves. `segLimit` is the limit the fast paths compare
   * against: equal to this for ordinary segments, -1 (always "over") for unusable (null)
   * and expand-down segments, whose checks happen in `segmentSlow`.
   */
  readonly segTrueLimit = new Float64Array(6);
  /** Alignment checking is active (CR0.AM, EFLAGS.AC, CPL 3): see updateAlignmentChecks. */
  alignmentChecks = false;
  /** LDTR and TR: selector and hidden base/limit (TR also its descriptor attribute word). */
  ldtrSel = 0; ldtrBase = 0; ldtrLimit = 0;
  trSel = 0; trBase = 0; trLimit = 0; trAttr = 0;
  /** The two dwords of the descriptor read last (protected/segments.ts `readDescriptor`). */
  descLo = 0; descHi = 0;
  /** Set while delivering an exception or external interrupt: faults then carry EXT = 1. */
  deliveringExternal = false;
  /** Set by a task switch once committed: a fault now belongs to the new task (EIP kept). */
  faultInNewTask = false;
  /** Faults delivered since creation (they count against `run()` budgets). */
  faultsDelivered = 0;
  /** The x87 FPU. */
  readonly fpu = new Fpu();
  /** The model-specific registers (TSC, SYSENTER MSRs...). */
  readonly msr: MsrFile;

  /** DR0-DR7 (stored; hardware breakpoints are not armed yet). */
  readonly debugRegs = new Int32Array(8);
  /** Scratch for POPA (avoids allocation). */
  readonly popaScratch = new Int32Array(8);
  gdtrBase = 0; gdtrLimit = 0xffff;
  idtrBase = 0; idtrLimit = 0x3ff;

  // Lazy flags (see flags.ts).
  flagsReg = Flag.Reserved1;
  lazy = 0;
  lop = 0;
  la = 0;
  lb = 0;
  lres = 0;
  lbits = 32;

  halted = false;
  /** Instructions retired since reset. */
  instructionCount = 0;
  /**
   * Clock ticks that passed without retiring instructions: skipped by the board while the
   * CPU sat in HLT waiting for a timer, and the bus time of port I/O cycles. The VM's clock
   * (and so the TSC) counts instructionCount + idleTicks.
   */
  idleTicks = 0;
  /** Instruction count at which the current `run()` ends (lowered by `requestYield`). */
  private runEnd = 0;
  /** `requestYield` was called during the current single step (see runOne). */
  private yieldRequested = false;
  /** Record offsets of the executing block's first and current instruction (equal between blocks). */
  private blockFirstRecord = 0;
  private currentRecord = 0;
  /** Set by a handler to end the current block after this instruction. */
  breakBlock = false;
  /** External interrupts are not recognised at the boundary where instructionCount equals this (STI, MOV SS). */
  inhibitAt = -1;
  /** The single-step trap is held off at the boundary where instructionCount equals this (MOV SS, POP SS). */
  trapInhibitAt = -1;
  /** Shadow bits set by the executing instruction (STI, MOV SS); resolved when its block stops. */
  pendingShadow = 0;
  /** Set by a triple fault; cleared by reset. */
  shutdown = false;
  private stopRequested = false;
  /** Set when the current instruction delivered an interrupt or exception itself. */
  eventDelivered = false;

  /** Reused fault object (see exceptions.ts). */
  readonly fault = new GuestFault();
  /** Linear address of the last memory operand resolved by `ea()` (read-modify-write reuse). */
  lastLinear = 0;

  readonly store: DecodedStore;
  readonly blocks: BlockCache;

  /** Optional interrupt controller; the board connects it. */
  interrupts: InterruptSource | null = null;
  /** Set by the board when the interrupt source's output changes (checked once per block). */
  interruptLine = false;

  constructor(memory: GuestMemory, readonly io: PortIo, options: CpuOptions = {}) {
    super(memory);
    this.msr = new MsrFile(options.tscTicksPerInstruction ?? 1);
    this.store = createDecodedStore(options.decodedCapacity ?? 1 << 17);
    this.blocks = new BlockCache(this.store, memory);
    memory.addObserver(this);
    this.reset();
  }

  /** Detach from memory and the pool (the CPU must not be used afterwards). */
  dispose(): void {
    this.memory.removeObserver(this);
    this.unsubscribeGrow();
  }

  /** Power-on / RESET state: real mode, CS:IP = F000:FFF0 with CS base FFFF0000. */
  reset(): void {
    this.regs.fill(0);
    this.regs[Reg.EDX] = CPUID_SIGNATURE; // the processor signature in EDX after reset
    this.eip = 0xfff0;
    this.ipMask = 0xffff;
    this.stackMask = 0xffff;
    for (let s = 0; s < 6; s++) this.loadSegmentCache(s, 0, 0, 0xffff, realModeAttr(0));
    this.loadSegmentCache(Seg.CS, 0xf000, 0xffff0000, 0xffff, realModeAttr(0));
    this.setCpl(0);
    this.ldtrSel = 0; this.ldtrBase = 0; this.ldtrLimit = 0xffff;
    this.trSel = 0; this.trBase = 0; this.trLimit = 0xffff; this.trAttr = SysType.Tss32Busy | SegAttr.Present;
    this.deliveringExternal = false;
    this.cr0 = 0x60000010; this.cr2 = 0; this.cr3 = 0; this.cr4 = 0;
    this.gdtrBase = 0; this.gdtrLimit = 0xffff; this.idtrBase = 0; this.idtrLimit = 0x3ff;
    this.flagsReg = Flag.Reserved1;
    this.lazy = 0;
    this.halted = false;
    this.shutdown = false;
    this.inhibitAt = -1;
    this.trapInhibitAt = -1;
    this.a20Mask = A20.On;
    this.fpu.reset();
    this.msr.reset(this.instructionCount + this.idleTicks);
    this.flushTlb();
  }

  // ---------------------------------------------------------------- flags

  /** The full EFLAGS value. */
  getFlags(): number {
    return (this.flagsReg & ~Flag.Status) | statusFlags(this) | Flag.Reserved1;
  }

  /** Replace EFLAGS (caller has applied the bits the instruction may change). */
  setFlags(value: number): void {
    this.flagsReg = (value | Flag.Reserved1) & ~0x8028;
    this.lazy = 0;
    if (this.alignmentChecks || (value & Flag.AC) !== 0) this.updateAlignmentChecks();
  }

  // ---------------------------------------------------------------- registers and segments

  /**
   * Fill segment register `seg`'s hidden cache directly (descriptor loads, SYSENTER/SYSEXIT,
   * task switches, state restore). `attr` is an attribute word (protected/descriptor.ts).
   * For CS this also sets the code size; for SS the stack width. CPL is set separately.
   */
  loadSegmentCache(seg: number, selector: number, base: number, limit: number, attr: number): void {
    this.segSel[seg] = selector & 0xffff;
    this.segBase[seg] = base | 0;
    this.segBase[seg + SegView.Write] = base | 0;
    this.segAttr[seg] = attr & SegAttr.Mask;
    this.segTrueLimit[seg] = limit >>> 0;
    this.refreshSegmentViews(seg);
    if (seg === Seg.CS) this.ipMask = (attr & SegAttr.DB) !== 0 ? -1 : 0xffff;
    else if (seg === Seg.SS) this.stackMask = (attr & SegAttr.DB) !== 0 ? -1 : 0xffff;
  }

  /**
   * Recompute the fast-path limits of segment `seg`'s read view (index seg) and write view
   * (seg + SegView.Write). A view whose accesses need more than a limit compare (unusable,
   * expand-down, not readable/writable, alignment checking on) gets -1, which sends every
   * access through `segmentSlow`.
   */
  private refreshSegmentViews(seg: number): void {
    const attr = this.segAttr[seg], limit = this.segTrueLimit[seg];
    const present = (attr & SegAttr.Present) !== 0;
    const isCode = (attr & SegAttr.Code) !== 0;
    const expandDown = !isCode && (attr & SegAttr.DC) !== 0;
    const simple = present && !expandDown && !this.alignmentChecks;
    this.segLimit[seg] = simple && (!isCode || (attr & SegAttr.RW) !== 0) ? limit : -1;
    this.segLimit[seg + SegView.Write] = simple && !isCode && (attr & SegAttr.RW) !== 0 ? limit : -1;
  }

  /**
   * Re-evaluate alignment checking (CR0.AM, EFLAGS.AC, CPL 3); called when any of them may
   * have changed. While it is on, every segment access takes the slow path, which checks it.
   */
  updateAlignmentChecks(): void {
    const on = (this.cr0 & 0x40000) !== 0 && (this.flagsReg & Flag.AC) !== 0 && this.cpl === 3;
    if (on === this.alignmentChecks) return;
    this.alignmentChecks = on;
    for (let s = 0; s < 6; s++) this.refreshSegmentViews(s);
  }

  /** Change the current privilege level (the soft TLB keeps separate user/supervisor views). */
  setCpl(cpl: number): void {
    this.cpl = cpl;
    if (this.alignmentChecks || cpl === 3) this.updateAlignmentChecks();
    if ((cpl === 3) !== this.tlbUser) this.selectTlb(cpl === 3);
  }

  /**
   * Load a segment register as real mode does: selector, base = selector * 16; the hidden
   * limit and attributes are kept (a segment made unusable by a null selector in protected
   * mode becomes a present 64 KiB segment again).
   */
  loadSegmentReal(seg: number, selector: number): void {
    this.segSel[seg] = selector & 0xffff;
    this.segBase[seg] = (selector & 0xffff) << 4;
    this.segBase[seg + SegView.Write] = (selector & 0xffff) << 4;
    if ((this.segAttr[seg] & SegAttr.Present) === 0) {
      this.loadSegmentCache(seg, selector, (selector & 0xffff) << 4, 0xffff, realModeAttr(0));
    }
  }

  /** Write SP or ESP according to the stack width. */
  setStackPointer(value: number): void {
    if (this.stackMask === -1) this.regs[Reg.ESP] = value;
    else this.r16[Reg.ESP << 1] = value;
  }

  // ---------------------------------------------------------------- faults

  /** Raise a guest fault from inside an instruction (throws; never returns). */
  raise(vector: number, errorCode = -1): never {
    const f = this.fault;
    f.vector = vector;
    f.hasErrorCode = errorCode >= 0;
    f.errorCode = errorCode >= 0 ? errorCode : 0;
    throw f;
  }

  /**
   * The slow segment check, reached when `offset..offset+size-1` is not below `segLimit`:
   * an expand-down segment's valid range is above its limit (up to 0xFFFF or 0xFFFFFFFF by
   * its B bit); an unusable (null) segment faults; otherwise the access overruns the limit.
   * Faults are #SS(0) for SS and #GP(0) for the others. Returns the linear address.
   */
  segmentSlow(view: number, offset: number, size: number): number {
    const seg = view & 7;
    const vector = seg === Seg.SS ? VEC_SS : VEC_GP;
    const attr = this.segAttr[seg];
    if ((attr & SegAttr.Present) === 0) this.raise(vector, 0);
    const isCode = (attr & SegAttr.Code) !== 0;
    // Type checks apply in protected mode only (real mode ignores a cached code type).
    const denied = view >= SegView.Write ? isCode || (attr & SegAttr.RW) === 0 : isCode && (attr & SegAttr.RW) === 0;
    if (denied && (this.cr0 & 1) !== 0) this.raise(VEC_GP, 0);
    const start = offset >>> 0, end = start + size - 1;
    if (!isCode && (attr & SegAttr.DC) !== 0) {
      const upper = (attr & SegAttr.DB) !== 0 ? 0xffffffff : 0xffff;
      if (start <= this.segTrueLimit[seg] || end > upper) this.raise(vector, 0);
    } else if (end > this.segTrueLimit[seg]) this.raise(vector, 0);
    const lin = (this.segBase[seg] + offset) | 0;
    if (this.alignmentChecks && size > 1 && (lin & (size > 8 ? 7 : size - 1)) !== 0) this.raise(VEC_AC, 0);
    return lin;
  }

  /** Linear address of instruction `i`'s memory operand, checked against the segment limit. */
  ea(i: number, size: number): number {
    const d = this.store;
    const r = this.regs;
    const off = (r[d[i + Ins.Base]] + (r[d[i + Ins.Index]] << d[i + Ins.Scale]) + d[i + Ins.Disp]) & d[i + Ins.Amask];
    const s = d[i + Ins.Seg];
    const lin = (off >>> 0) + size - 1 > this.segLimit[s] ? this.segmentSlow(s, off, size) : (this.segBase[s] + off) | 0;
    this.lastLinear = lin;
    return lin;
  }

  /** Offset (not linear) of instruction `i`'s memory operand: LEA and the bound/far-pointer forms. */
  eaOffset(i: number): number {
    const d = this.store;
    const r = this.regs;
    return (r[d[i + Ins.Base]] + (r[d[i + Ins.Index]] << d[i + Ins.Scale]) + d[i + Ins.Disp]) & d[i + Ins.Amask];
  }

  /** Linear address for `offset` in segment `seg`, checked against the limit for `size` bytes. */
  segLinear(seg: number, offset: number, size: number): number {
    if ((offset >>> 0) + size - 1 > this.segLimit[seg]) return this.segmentSlow(seg, offset, size);
    return (this.segBase[seg] + offset) | 0;
  }

  /** @inheritdoc */
  codeFrameWritten(guestFrame: number): void {
    if (this.blocks.invalidateFrame(guestFrame)) this.breakBlock = true;
  }

  // ---------------------------------------------------------------- stack

  /** Push a 16-bit value. */
  push16(value: number): void {
    const sp = (this.regs[Reg.ESP] - 2) & this.stackMask;
    this.write16(this.segLinear(Seg.SS, sp, 2), value);
    this.setStackPointer(sp);
  }

  /** Push a 32-bit value. */
  push32(value: number): void {
    const sp = (this.regs[Reg.ESP] - 4) & this.stackMask;
    this.write32(this.segLinear(Seg.SS, sp, 4), value);
    this.setStackPointer(sp);
  }

  /** Pop a 16-bit value. */
  pop16(): number {
    const sp = this.regs[Reg.ESP] & this.stackMask;
    const v = this.read16(this.segLinear(Seg.SS, sp, 2));
    this.setStackPointer(sp + 2);
    return v;
  }

  /** Pop a 32-bit value. */
  pop32(): number {
    const sp = this.regs[Reg.ESP] & this.stackMask;
    const v = this.read32(this.segLinear(Seg.SS, sp, 4));
    this.setStackPointer(sp + 4);
    return v;
  }

  // ---------------------------------------------------------------- interrupts

  /**
   * Deliver interrupt `vector` the real-mode way: push FLAGS, CS, IP (the current `eip`,
   * which the caller set to the return address), clear IF/TF/AC/RF, load CS:IP from the
   * interrupt vector table at IDTR.base.
   */
  interruptReal(vector: number): void {
    const entry = vector << 2;
    if (entry + 3 > this.idtrLimit) this.raise(VEC_GP, (vector << 3) | 2);
    const ivt = (this.idtrBase + entry) | 0;
    const newIp = this.read16(ivt);
    const newCs = this.read16((ivt + 2) | 0);
    const flags = this.getFlags();
    this.push16(flags & 0xffff);
    this.push16(this.segSel[Seg.CS]);
    this.push16(this.eip & 0xffff);
    this.flagsReg = (this.flagsReg | 0) & ~(Flag.IF | Flag.TF | Flag.AC | Flag.RF);
    this.loadSegmentReal(Seg.CS, newCs);
    this.eip = newIp;
    this.eventDelivered = true;
  }

  /**
   * Deliver a fault caught by the run loop: restart EIP at the faulting instruction. A fault
   * while delivering it becomes a double fault (#DF); a fault while delivering that shuts
   * the processor down (triple fault).
   */
  private deliverFault(): void {
    const f = this.fault;
    this.faultsDelivered++;
    // A fault while loading a new task's segments is delivered in the new task (EIP is its own).
    if (this.faultInNewTask) this.faultInNewTask = false;
    else this.eip = this.instrStart;
    this.deliverOrEscalate(f.vector, f.hasErrorCode ? f.errorCode : -1);
  }

  /**
   * Deliver exception `vector` (`errorCode` < 0: none). In real mode a fault during delivery
   * becomes #DF, and a fault delivering that shuts the processor down. In protected mode
   * the SDM's classes decide (vol. 3 table 6-5): contributory (#DE #TS #NP #SS #GP) after
   * contributory, or #PF/contributory after #PF, give #DF; a benign first event lets the
   * second be delivered on its own; anything faulting while delivering #DF shuts down.
   */
  private deliverOrEscalate(vector: number, errorCode = -1): void {
    if ((this.cr0 & 1) !== 0) { this.deliverProtectedOrEscalate(vector, EventKind.Exception, errorCode); return; }
    if (this.tryInterruptReal(vector)) return;
    if (vector !== VEC_DF && this.tryInterruptReal(VEC_DF)) return;
    this.shutdown = true;
    this.halted = true;
    this.requestStop();
  }

  /** Protected-mode delivery of an exception or external interrupt with the double-fault rules. */
  private deliverProtectedOrEscalate(vector: number, kind: EventKind, errorCode: number): void {
    let first = kind === EventKind.External ? -1 : vector;
    for (let attempt = 0; attempt < 4; attempt++) {
      if (this.tryDeliverProtected(vector, kind, errorCode)) return;
      const second = this.fault.vector;
      const secondCode = this.fault.hasErrorCode ? this.fault.errorCode : -1;
      if (first === VEC_DF) break;
      if (isContributory(second) && (isContributory(first) || first === VEC_PF) || (first === VEC_PF && second === VEC_PF)) {
        vector = VEC_DF; errorCode = 0;
      } else {
        vector = second; errorCode = secondCode;
      }
      kind = EventKind.Exception;
      first = vector;
    }
    this.shutdown = true;
    this.halted = true;
    this.requestStop();
  }

  /** One protected-mode delivery attempt; false if it faulted (the fault is in `this.fault`). */
  private tryDeliverProtected(vector: number, kind: EventKind, errorCode: number): boolean {
    this.deliveringExternal = kind === EventKind.Exception || kind === EventKind.External;
    try {
      deliverProtected(this, vector, kind, errorCode);
      return true;
    } catch (e) {
      if (e !== this.fault) throw e;
      return false;
    } finally {
      this.deliveringExternal = false;
    }
  }

  /** Deliver an interrupt; false if delivering it faulted (state as before the attempt). */
  private tryInterruptReal(vector: number): boolean {
    const sp = this.regs[Reg.ESP];
    try {
      this.interruptReal(vector);
      return true;
    } catch (e) {
      if (e !== this.fault) throw e;
      this.regs[Reg.ESP] = sp;
      return false;
    }
  }

  /**
   * Ask `run()` to return (RunExit.Budget) at the next block boundary: the board calls this
   * when a device's next timer event moved earlier than the end of the current run.
   */
  requestYield(): void {
    this.runEnd = this.instructionCount;
    this.yieldRequested = true;
  }

  /**
   * Let `ticks` clock ticks pass without retiring an instruction (a bus cycle the CPU waits
   * for). They count against the current run, so a run planned to end at a timer event
   * still ends there however much of it the CPU spent waiting; and the block ends after
   * this instruction, so the run's end is checked at the exact instruction boundary.
   */
  stall(ticks: number): void {
    this.idleTicks += ticks;
    this.runEnd -= ticks;
    this.breakBlock = true;
  }

  /**
   * The interrupt controller's output changed. A request that appears in the middle of a
   * block ends the block after the current instruction, so it is recognised at the next
   * instruction boundary — the same boundary however the caller slices its runs.
   */
  setInterruptLine(level: boolean): void {
    this.interruptLine = level;
    if (level) this.breakBlock = true;
  }

  /**
   * Clock ticks so far: instructions retired (including those of the executing block before
   * the current instruction) plus idle and stall ticks. Exact at every instruction, so a
   * device that reads the time in the middle of a block sees the time of that instruction.
   */
  get clockTicks(): number {
    return this.instructionCount + this.idleTicks + ((this.currentRecord - this.blockFirstRecord) >> Ins.StrideShift);
  }

  /** Enter the flat 32-bit protected-mode state of a boot protocol (see Flat32Entry). */
  enterFlat32(entry: Flat32Entry): void {
    for (let r = 0; r < 8; r++) this.regs[r] = entry.regs[r] | 0;
    this.cr0 = 0x00000011; // PE, ET: what firmware leaves (caches on, paging off)
    this.gdtrBase = entry.gdtBase | 0;
    this.gdtrLimit = entry.gdtLimit & 0xffff;
    const code = SegAttr.Code | SegAttr.RW | SegAttr.Accessed | SegAttr.S | SegAttr.Present | SegAttr.DB | SegAttr.G;
    const data = SegAttr.RW | SegAttr.Accessed | SegAttr.S | SegAttr.Present | SegAttr.DB | SegAttr.G;
    this.loadSegmentCache(Seg.CS, entry.codeSelector, 0, 0xffffffff, code);
    for (const s of [Seg.ES, Seg.SS, Seg.DS, Seg.FS, Seg.GS]) this.loadSegmentCache(s, entry.dataSelector, 0, 0xffffffff, data);
    this.setCpl(0);
    this.setFlags(Flag.Reserved1);
    this.eip = entry.eip >>> 0;
    this.halted = false;
    this.flushTlb();
  }

  /** Ask `run()` to return at the next instruction boundary. */
  requestStop(): void {
    this.stopRequested = true;
    this.breakBlock = true;
  }

  // ---------------------------------------------------------------- run loop

  /**
   * Execute up to `budget` instructions. Returns why it stopped. Interrupts are
   * recognised at block boundaries; a single-step trap (TF) after every instruction.
   */
  run(budget: number): RunExit {
    this.runEnd = this.instructionCount + budget;
    this.stopRequested = false;
    // Delivered faults use budget too, so a fault that repeats forever cannot hang run().
    const faultsAtStart = this.faultsDelivered;
    while (this.instructionCount + (this.faultsDelivered - faultsAtStart) < this.runEnd) {
      if (this.shutdown) return RunExit.TripleFault;
      if (this.stopRequested) return RunExit.Stopped;
      if (this.interruptLine && this.instructionCount !== this.inhibitAt && (this.flagsReg & Flag.IF) !== 0) {
        this.acceptExternalInterrupt();
      }
      if (this.halted) return RunExit.Halted;
      if ((this.flagsReg & Flag.TF) !== 0) this.singleStep();
      else this.runBlocks();
    }
    if (this.shutdown) return RunExit.TripleFault;
    return this.stopRequested ? RunExit.Stopped : RunExit.Budget;
  }

  private acceptExternalInterrupt(): void {
    const src = this.interrupts;
    if (src === null || !src.hasPending()) return;
    const vector = src.acknowledge();
    this.halted = false;
    if ((this.cr0 & 1) !== 0) this.deliverProtectedOrEscalate(vector, EventKind.External, -1);
    else this.interruptReal(vector);
  }

  /** Execute one instruction, then take the single-step trap unless it delivered an event itself. */
  private singleStep(): void {
    this.eventDelivered = false;
    this.runOne();
    // After MOV SS / POP SS the trap waits for the next instruction as well.
    if (this.instructionCount === this.trapInhibitAt && !this.eventDelivered && !this.halted && !this.stopRequested) {
      this.runOne();
    }
    if (!this.eventDelivered && !this.halted && !this.shutdown) {
      this.debugRegs[6] |= 0x4000; // DR6.BS: the trap came from single-stepping
      this.deliverOrEscalate(VEC_DB);
    }
  }

  /** Turn the shadow requested by the instruction just retired into the boundary it applies to. */
  private applyPendingShadow(): void {
    if ((this.pendingShadow & Shadow.Interrupts) !== 0) this.inhibitAt = this.instructionCount;
    if ((this.pendingShadow & Shadow.Trap) !== 0) this.trapInhibitAt = this.instructionCount;
    this.pendingShadow = 0;
  }

  /** Execute exactly one instruction (single-stepping), keeping the run's end. */
  private runOne(): void {
    const end = this.runEnd;
    const stalledBefore = this.idleTicks;
    this.yieldRequested = false;
    this.runEnd = this.instructionCount + 1;
    this.runBlocks();
    this.runEnd = this.yieldRequested ? this.instructionCount : end - (this.idleTicks - stalledBefore);
  }

  /** Restart instruction `i` (the last of its block) later: EIP back on it, block ended. */
  restartInstruction(i: number): void {
    this.eip = (this.eip - this.store[i + Ins.Len]) & this.ipMask;
    this.breakBlock = true;
  }

  /**
   * The hot loop: look up (or decode) the block at CS:EIP and run its instructions, block
   * after block, until the budget is used, a handler ends the block early (breakBlock:
   * HLT, STI, OUT, self-modifying write...), or an interrupt is waiting. EIP is written
   * only before a block's last instruction (the only one that reads it) and when leaving
   * early; a guest fault is delivered here with EIP recomputed for the faulting instruction.
   */
  private runBlocks(): void {
    const bc = this.blocks;
    const d = this.store;
    const handlers = HANDLERS;
    let first = 0;
    let i = 0;
    let blockIp = 0;
    try {
      for (;;) {
        blockIp = this.eip;
        // A fault while looking up or decoding belongs to the block's first instruction.
        first = 0; i = 0;
        const lin = (this.segBase[Seg.CS] + blockIp) | 0;
        const block = bc.lookup(this, blockIp, this.physical(lin));
        first = bc.blockFirst[block];
        let n = bc.blockLength[block];
        const remaining = this.runEnd - this.instructionCount;
        if (n > remaining) n = remaining;
        const last = first + (n - 1) * Ins.Stride;
        this.breakBlock = false;
        this.blockFirstRecord = first;
        for (i = first; ; i += Ins.Stride) {
          if (i === last) this.eip = (blockIp + d[last + Ins.Next]) & this.ipMask;
          this.currentRecord = i;
          dispatch(this, i, d[i + Ins.Op], handlers);
          if (i === last) break;
          if (this.breakBlock) {
            this.eip = (blockIp + d[i + Ins.Next]) & this.ipMask;
            this.instructionCount += ((i - first) >> Ins.StrideShift) + 1;
            this.currentRecord = first;
            if (this.pendingShadow !== 0) this.applyPendingShadow();
            return;
          }
        }
        this.instructionCount += n;
        this.currentRecord = first;
        if (this.pendingShadow !== 0) this.applyPendingShadow();
        if (this.breakBlock || this.instructionCount >= this.runEnd || this.interruptLine) return;
      }
    } catch (e) {
      if (e !== this.fault) throw e;
      this.pendingShadow = 0;
      this.instructionCount += (i - first) >> Ins.StrideShift;
      this.currentRecord = this.blockFirstRecord;
      this.instrStart = (blockIp + (i === first ? 0 : d[i - Ins.Stride + Ins.Next])) & this.ipMask;
      this.deliverFault();
    }
  }

  // ---------------------------------------------------------------- Persist

  /** @inheritdoc */
  save(): CpuState {
    return {
      version: 3,
      regs: Array.from(this.regs.subarray(0, 8)), eip: this.eip, eflags: this.getFlags(),
      segSel: Array.from(this.segSel), segBase: Array.from(this.segBase.subarray(0, 6), (b) => b >>> 0), segLimit: Array.from(this.segTrueLimit),
      segAttr: Array.from(this.segAttr), cpl: this.cpl,
      ldtr: { sel: this.ldtrSel, base: this.ldtrBase >>> 0, limit: this.ldtrLimit >>> 0 },
      tr: { sel: this.trSel, base: this.trBase >>> 0, limit: this.trLimit >>> 0, attr: this.trAttr },
      pdpte: Array.from(this.walker.pdpte),
      msr: this.msr.save(), fpu: this.fpu.save(),
      cr0: this.cr0 >>> 0, cr2: this.cr2 >>> 0, cr3: this.cr3 >>> 0, cr4: this.cr4 >>> 0,
      gdtrBase: this.gdtrBase >>> 0, gdtrLimit: this.gdtrLimit, idtrBase: this.idtrBase >>> 0, idtrLimit: this.idtrLimit,
      halted: this.halted, a20: this.a20Enabled, instructionCount: this.instructionCount, idleTicks: this.idleTicks,
      interruptShadow: this.inhibitAt === this.instructionCount, trapShadow: this.trapInhibitAt === this.instructionCount,
      shutdown: this.shutdown,
    };
  }

  /** @inheritdoc */
  restore(state: unknown): void {
    const r = new StateReader(this.persistId, state);
    const version = r.version([1, 2, 3]);
    const u32 = 0xffffffff;
    const regs = r.ints('regs', -0x80000000, u32, 8, 8);
    const eip = r.int('eip', 0, u32);
    const eflags = r.int('eflags', 0, u32);
    const segSel = r.ints('segSel', 0, 0xffff, 6, 6);
    const segBase = r.ints('segBase', 0, u32, 6, 6);
    const segLimit = r.ints('segLimit', 0, u32, 6, 6);
    const cr = [r.int('cr0', 0, u32), r.int('cr2', 0, u32), r.int('cr3', 0, u32), r.int('cr4', 0, u32)];
    const gdtr = [r.int('gdtrBase', 0, u32), r.int('gdtrLimit', 0, 0xffff)];
    const idtr = [r.int('idtrBase', 0, u32), r.int('idtrLimit', 0, 0xffff)];
    const halted = r.bool('halted');
    const a20 = r.bool('a20');
    const count = r.int('instructionCount', 0, Number.MAX_SAFE_INTEGER);
    const idleTicks = version >= 3 ? r.int('idleTicks', 0, Number.MAX_SAFE_INTEGER - count) : 0;
    const interruptShadow = r.bool('interruptShadow');
    const trapShadow = r.bool('trapShadow');
    const shutdown = r.bool('shutdown');
    // Version 1 (real mode only) had no attributes: real-mode segments, CPL 0.
    const segAttr = version >= 2 ? r.ints('segAttr', 0, SegAttr.Mask, 6, 6) : [0, 1, 2, 3, 4, 5].map(() => realModeAttr(0));
    const cpl = version >= 2 ? r.int('cpl', 0, 3) : 0;
    const ldtr = version >= 2 ? r.object('ldtr') : null;
    const tr = version >= 2 ? r.object('tr') : null;
    const ldtrSel = ldtr ? ldtr.int('sel', 0, 0xffff) : 0, ldtrBase = ldtr ? ldtr.int('base', 0, u32) : 0, ldtrLimit = ldtr ? ldtr.int('limit', 0, u32) : 0xffff;
    const trSel = tr ? tr.int('sel', 0, 0xffff) : 0, trBase = tr ? tr.int('base', 0, u32) : 0, trLimit = tr ? tr.int('limit', 0, u32) : 0xffff;
    const trAttr = tr ? tr.int('attr', 0, SegAttr.Mask) : SysType.Tss32Busy | SegAttr.Present;
    const pdpte = version >= 2 ? r.ints('pdpte', -0x80000000, 0x7fffffff, 8, 8) : new Array<number>(8).fill(0);
    const rawState = state as { msr?: unknown; fpu?: unknown };
    // Validate the sub-states on scratch instances first, so bad state changes nothing.
    if (version >= 2) {
      new MsrFile(this.msr.ticksPerInstruction).restore(rawState.msr);
      new Fpu().restore(rawState.fpu);
    }
    if (version === 1 && (cr[0] & 1) !== 0) throw new StateError(this.persistId, 'cr0', 'version 1 state cannot hold protected mode (PE set)');
    if ((cr[0] & 1) === 0 && cpl !== 0) throw new StateError(this.persistId, 'cpl', `${cpl} in real mode (must be 0)`);
    for (let k = 0; k < 8; k++) this.regs[k] = regs[k];
    this.eip = eip;
    this.setFlags(eflags & ~(Flag.VM | Flag.RF));
    for (let s = 0; s < 6; s++) this.loadSegmentCache(s, segSel[s], segBase[s], segLimit[s], segAttr[s]);
    this.setCpl(cpl);
    this.ldtrSel = ldtrSel; this.ldtrBase = ldtrBase | 0; this.ldtrLimit = ldtrLimit;
    this.trSel = trSel; this.trBase = trBase | 0; this.trLimit = trLimit; this.trAttr = trAttr;
    this.walker.pdpte.set(pdpte);
    if (version >= 2) {
      this.msr.restore(rawState.msr);
      this.fpu.restore(rawState.fpu);
    } else {
      this.fpu.reset();
    }
    [this.cr0, this.cr2, this.cr3, this.cr4] = cr;
    [this.gdtrBase, this.gdtrLimit] = gdtr;
    [this.idtrBase, this.idtrLimit] = idtr;
    this.halted = halted;
    this.instructionCount = count;
    this.idleTicks = idleTicks;
    this.inhibitAt = interruptShadow ? count : -1;
    this.trapInhibitAt = trapShadow ? count : -1;
    this.shutdown = shutdown;
    this.a20Mask = a20 ? A20.On : A20.Off;
    this.flushTlb();
    this.blocks.flush();
    this.updateAlignmentChecks();
  }
}

/** Contributory exceptions for the double-fault rules: #DE, #TS, #NP, #SS, #GP. */
function isContributory(vector: number): boolean {
  return vector === 0 || (vector >= 10 && vector <= 13);
}
