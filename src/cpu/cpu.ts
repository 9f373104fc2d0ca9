/**
 * The x86 CPU: architectural state, the soft TLB, the block-executing run loop and
 * interrupt/exception delivery.
 *
 * Instructions are decoded once into basic blocks (decoder.ts, block-cache.ts) and run
 * here by calling one small handler per instruction (ops/*). Registers live in an
 * Int32Array with 16- and 8-bit views over the same bytes; status flags are lazy
 * (flags.ts). Guest memory is reached through a soft TLB: per linear 4 KiB page, the host
 * byte address of the frame in the frame pool, separately for reads and for writes. A
 * write entry exists only for frames already marked dirty and not holding decoded code,
 * so steady-state writes pay nothing and self-modifying code is caught by the slow path.
 *
 * This issue's CPU runs real mode (including 32-bit operands and addressing through the
 * 66/67 prefixes); protected mode and paging plug into `physical()` and the segment loads.
 */
import type { GuestMemory, MemoryObserver } from '../memory/guest-memory.js';
import { NPT_CODE } from '../memory/npt.js';
import type { Persist, SavedState } from '../persist/persist.js';
import { StateReader } from '../persist/persist.js';
import { BlockCache } from './block-cache.js';
import { createDecodedStore, Ins, Reg, Seg, type DecodedStore } from './decoded.js';
import { GuestFault, CpuHostError, VEC_DB, VEC_DF, VEC_GP, VEC_SS } from './exceptions.js';
import { statusFlags, type LazyFlagState, Flag } from './flags.js';
import { dispatch } from './dispatch.js';
import { Shadow } from './shadow.js';
import { HANDLERS } from './opcode-table.js';
import type { InterruptSource, PortIo } from './port-io.js';

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

const TLB_PAGES = 1 << 20;
/** Filled TLB pages remembered for cheap flushes; past this a flush clears both 4 MiB tables. */
const TLB_TRACK = 1 << 16;
const A20_ON = -1;
const A20_OFF = ~(1 << 20);

/** Options for a CPU. */
export interface CpuOptions {
  /** Decoded-instruction capacity (slots); the block cache is flushed when full. */
  decodedCapacity?: number;
}

/** Saved CPU state (plain data). */
export interface CpuState extends SavedState {
  regs: number[]; eip: number; eflags: number;
  segSel: number[]; segBase: number[]; segLimit: number[];
  cr0: number; cr2: number; cr3: number; cr4: number;
  gdtrBase: number; gdtrLimit: number; idtrBase: number; idtrLimit: number;
  halted: boolean; a20: boolean; instructionCount: number;
  /** The next boundary is in an STI/MOV SS interrupt shadow / a MOV SS single-step shadow. */
  interruptShadow: boolean; trapShadow: boolean; shutdown: boolean;
}

/** One x86 processor attached to a VM's guest memory and I/O bus. */
export class Cpu implements LazyFlagState, MemoryObserver, Persist<CpuState> {
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
  readonly segBase = new Int32Array(6);
  /** Segment limits as unsigned numbers (real mode: 0xFFFF). */
  readonly segLimit = new Float64Array(6);

  cr0 = 0x60000010;
  cr2 = 0;
  cr3 = 0;
  cr4 = 0;
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
  private a20Mask = A20_ON;
  /** Set when the current instruction delivered an interrupt or exception itself. */
  eventDelivered = false;

  /** Reused fault object (see exceptions.ts). */
  readonly fault = new GuestFault();
  /** Linear address of the last memory operand resolved by `ea()` (read-modify-write reuse). */
  lastLinear = 0;

  // Memory and the soft TLB.
  mem8: Uint8Array;
  memView: DataView;
  private readonly tlbRead = new Int32Array(TLB_PAGES);
  private readonly tlbWrite = new Int32Array(TLB_PAGES);
  private readonly tlbFilled = new Int32Array(TLB_TRACK);
  private tlbFilledCount = 0;
  private readonly unsubscribeGrow: () => void;

  readonly store: DecodedStore;
  readonly blocks: BlockCache;

  /** Optional interrupt controller; the board connects it. */
  interrupts: InterruptSource | null = null;
  /** Set by the board when the interrupt source's output changes (checked once per block). */
  interruptLine = false;

  constructor(readonly memory: GuestMemory, readonly io: PortIo, options: CpuOptions = {}) {
    this.store = createDecodedStore(options.decodedCapacity ?? 1 << 17);
    this.blocks = new BlockCache(this.store, memory);
    const pool = memory.pool;
    this.mem8 = pool.bytes;
    this.memView = pool.view;
    this.unsubscribeGrow = pool.onGrow(() => {
      this.mem8 = pool.bytes;
      this.memView = pool.view;
    });
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
    this.regs[Reg.EDX] = 0x00000600; // family 6 signature in DX after reset
    this.eip = 0xfff0;
    this.ipMask = 0xffff;
    this.stackMask = 0xffff;
    for (let s = 0; s < 6; s++) {
      this.segSel[s] = 0;
      this.segBase[s] = 0;
      this.segLimit[s] = 0xffff;
    }
    this.segSel[Seg.CS] = 0xf000;
    this.segBase[Seg.CS] = 0xffff0000 | 0;
    this.cr0 = 0x60000010; this.cr2 = 0; this.cr3 = 0; this.cr4 = 0;
    this.gdtrBase = 0; this.gdtrLimit = 0xffff; this.idtrBase = 0; this.idtrLimit = 0x3ff;
    this.flagsReg = Flag.Reserved1;
    this.lazy = 0;
    this.halted = false;
    this.shutdown = false;
    this.inhibitAt = -1;
    this.trapInhibitAt = -1;
    this.a20Mask = A20_ON;
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
  }

  // ---------------------------------------------------------------- registers and segments

  /** Load a segment register as real mode does: selector, base = selector * 16; limit kept. */
  loadSegmentReal(seg: number, selector: number): void {
    this.segSel[seg] = selector & 0xffff;
    this.segBase[seg] = (selector & 0xffff) << 4;
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

  /** A memory operand does not fit inside its segment's limit. */
  segmentOverrun(seg: number): never {
    return this.raise(seg === Seg.SS ? VEC_SS : VEC_GP, 0);
  }

  /** Linear address of instruction `i`'s memory operand, checked against the segment limit. */
  ea(i: number, size: number): number {
    const d = this.store;
    const r = this.regs;
    const off = (r[d[i + Ins.Base]] + (r[d[i + Ins.Index]] << d[i + Ins.Scale]) + d[i + Ins.Disp]) & d[i + Ins.Amask];
    const s = d[i + Ins.Seg];
    if ((off >>> 0) + size - 1 > this.segLimit[s]) this.segmentOverrun(s);
    const lin = (this.segBase[s] + off) | 0;
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
    if ((offset >>> 0) + size - 1 > this.segLimit[seg]) this.segmentOverrun(seg);
    return (this.segBase[seg] + offset) | 0;
  }

  // ---------------------------------------------------------------- memory (soft TLB)

  /** Read a byte at a linear address. */
  read8(lin: number): number {
    const e = this.tlbRead[lin >>> 12];
    if (e !== 0) return this.mem8[e + (lin & 0xfff)];
    return this.readSlow(lin, 1);
  }

  /** Read a word (unsigned) at a linear address. */
  read16(lin: number): number {
    const e = this.tlbRead[lin >>> 12];
    const off = lin & 0xfff;
    if (e !== 0 && off !== 0xfff) return this.memView.getUint16(e + off, true);
    return this.readSlow(lin, 2);
  }

  /** Read a dword (as int32) at a linear address. */
  read32(lin: number): number {
    const e = this.tlbRead[lin >>> 12];
    const off = lin & 0xfff;
    if (e !== 0 && off <= 0xffc) return this.memView.getInt32(e + off, true);
    return this.readSlow(lin, 4) | 0;
  }

  /** Write a byte at a linear address. */
  write8(lin: number, value: number): void {
    const e = this.tlbWrite[lin >>> 12];
    if (e !== 0) { this.mem8[e + (lin & 0xfff)] = value; return; }
    this.writeSlow(lin, 1, value);
  }

  /** Write a word at a linear address. */
  write16(lin: number, value: number): void {
    const e = this.tlbWrite[lin >>> 12];
    const off = lin & 0xfff;
    if (e !== 0 && off !== 0xfff) { this.memView.setUint16(e + off, value, true); return; }
    this.writeSlow(lin, 2, value);
  }

  /** Write a dword at a linear address. */
  write32(lin: number, value: number): void {
    const e = this.tlbWrite[lin >>> 12];
    const off = lin & 0xfff;
    if (e !== 0 && off <= 0xffc) { this.memView.setInt32(e + off, value, true); return; }
    this.writeSlow(lin, 4, value);
  }

  /** Guest-physical address for a linear one (paging comes with protected mode). */
  physical(lin: number): number {
    return (lin & this.a20Mask) >>> 0;
  }

  private readSlow(lin: number, size: number): number {
    if (size > 1 && ((lin & 0xfff) + size > 0x1000)) {
      let v = 0;
      for (let k = 0; k < size; k++) v |= this.readByteSlow((lin + k) | 0) << (8 * k);
      return size === 4 ? v | 0 : v >>> 0;
    }
    const phys = this.physical(lin);
    const host = this.memory.translateRead(phys);
    if (host < 0) {
      const v = size === 1 ? this.memory.read8(phys) : size === 2 ? this.memory.read16(phys) : this.memory.read32(phys);
      return v;
    }
    this.fillTlb(this.tlbRead, lin, host);
    const at = host;
    return size === 1 ? this.mem8[at] : size === 2 ? this.memView.getUint16(at, true) : this.memView.getInt32(at, true);
  }

  private readByteSlow(lin: number): number {
    const e = this.tlbRead[lin >>> 12];
    if (e !== 0) return this.mem8[e + (lin & 0xfff)];
    return this.readSlow(lin, 1);
  }

  private writeSlow(lin: number, size: number, value: number): void {
    if (size > 1 && ((lin & 0xfff) + size > 0x1000)) {
      for (let k = 0; k < size; k++) this.write8((lin + k) | 0, (value >>> (8 * k)) & 0xff);
      return;
    }
    const phys = this.physical(lin);
    const host = this.memory.translateWrite(phys);
    if (host < 0) {
      if (size === 1) this.memory.write8(phys, value & 0xff);
      else if (size === 2) this.memory.write16(phys, value & 0xffff);
      else this.memory.write32(phys, value);
      return;
    }
    const at = host;
    if (size === 1) this.mem8[at] = value;
    else if (size === 2) this.memView.setUint16(at, value, true);
    else this.memView.setInt32(at, value, true);
    // Cache the writable mapping unless the frame went back to holding code meanwhile.
    if ((this.memory.npt.flagsOf(phys >>> 12) & NPT_CODE) === 0) this.fillTlb(this.tlbWrite, lin, host);
  }

  private fillTlb(tlb: Int32Array, lin: number, hostPageOrAddress: number): void {
    const page = lin >>> 12;
    if (this.tlbFilledCount < TLB_TRACK) this.tlbFilled[this.tlbFilledCount] = page;
    this.tlbFilledCount++;
    tlb[page] = hostPageOrAddress & ~0xfff;
  }

  /** Drop every cached translation. */
  flushTlb(): void {
    if (this.tlbFilledCount > TLB_TRACK) {
      this.tlbRead.fill(0);
      this.tlbWrite.fill(0);
    } else {
      for (let k = 0; k < this.tlbFilledCount; k++) {
        const p = this.tlbFilled[k];
        this.tlbRead[p] = 0;
        this.tlbWrite[p] = 0;
      }
    }
    this.tlbFilledCount = 0;
  }

  /** Gate or ungate address line 20 (keyboard controller / port 0x92). */
  setA20(enabled: boolean): void {
    const mask = enabled ? A20_ON : A20_OFF;
    if (mask === this.a20Mask) return;
    this.a20Mask = mask;
    this.flushTlb();
  }

  /** Whether A20 is enabled. */
  get a20Enabled(): boolean {
    return this.a20Mask === A20_ON;
  }

  // MemoryObserver
  /** @inheritdoc */
  mappingsChanged(): void {
    this.flushTlb();
  }

  /** @inheritdoc */
  writesRevoked(): void {
    if (this.tlbFilledCount > TLB_TRACK) this.tlbWrite.fill(0);
    else for (let k = 0; k < this.tlbFilledCount; k++) this.tlbWrite[this.tlbFilled[k]] = 0;
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
    const vector = this.fault.vector;
    this.eip = this.instrStart;
    if ((this.cr0 & 1) !== 0) throw new CpuHostError(`protected-mode exception delivery (vector ${vector}) is not implemented yet`);
    this.deliverOrEscalate(vector);
  }

  /** Deliver `vector`; if that faults, deliver #DF; if that faults too, shut down. */
  private deliverOrEscalate(vector: number): void {
    if (this.tryInterruptReal(vector)) return;
    if (vector !== VEC_DF && this.tryInterruptReal(VEC_DF)) return;
    this.shutdown = true;
    this.halted = true;
    this.requestStop();
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
    const end = this.instructionCount + budget;
    this.stopRequested = false;
    while (this.instructionCount < end) {
      if (this.shutdown) return RunExit.TripleFault;
      if (this.stopRequested) return RunExit.Stopped;
      if (this.interruptLine && this.instructionCount !== this.inhibitAt && (this.flagsReg & Flag.IF) !== 0) {
        this.acceptExternalInterrupt();
      }
      if (this.halted) return RunExit.Halted;
      if ((this.flagsReg & Flag.TF) !== 0) this.singleStep();
      else this.runBlocks(end);
    }
    if (this.shutdown) return RunExit.TripleFault;
    return this.stopRequested ? RunExit.Stopped : RunExit.Budget;
  }

  private acceptExternalInterrupt(): void {
    const src = this.interrupts;
    if (src === null || !src.hasPending()) return;
    const vector = src.acknowledge();
    this.halted = false;
    this.interruptReal(vector);
  }

  /** Execute one instruction, then take the single-step trap unless it delivered an event itself. */
  private singleStep(): void {
    this.eventDelivered = false;
    this.runBlocks(this.instructionCount + 1);
    // After MOV SS / POP SS the trap waits for the next instruction as well.
    if (this.instructionCount === this.trapInhibitAt && !this.eventDelivered && !this.halted && !this.stopRequested) {
      this.runBlocks(this.instructionCount + 1);
    }
    if (!this.eventDelivered && !this.halted && !this.shutdown) this.deliverOrEscalate(VEC_DB);
  }

  /** Turn the shadow requested by the instruction just retired into the boundary it applies to. */
  private applyPendingShadow(): void {
    if ((this.pendingShadow & Shadow.Interrupts) !== 0) this.inhibitAt = this.instructionCount;
    if ((this.pendingShadow & Shadow.Trap) !== 0) this.trapInhibitAt = this.instructionCount;
    this.pendingShadow = 0;
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
  private runBlocks(end: number): void {
    const bc = this.blocks;
    const d = this.store;
    const handlers = HANDLERS;
    let first = 0;
    let i = 0;
    let blockIp = 0;
    try {
      for (;;) {
        blockIp = this.eip;
        const lin = (this.segBase[Seg.CS] + blockIp) | 0;
        const block = bc.lookup(this, blockIp, this.physical(lin));
        first = bc.blockFirst[block];
        let n = bc.blockLength[block];
        const remaining = end - this.instructionCount;
        if (n > remaining) n = remaining;
        const last = first + (n - 1) * Ins.Stride;
        this.breakBlock = false;
        for (i = first; ; i += Ins.Stride) {
          if (i === last) this.eip = (blockIp + d[last + Ins.Next]) & this.ipMask;
          dispatch(this, i, d[i + Ins.Op], handlers);
          if (i === last) break;
          if (this.breakBlock) {
            this.eip = (blockIp + d[i + Ins.Next]) & this.ipMask;
            this.instructionCount += ((i - first) >> Ins.StrideShift) + 1;
            if (this.pendingShadow !== 0) this.applyPendingShadow();
            return;
          }
        }
        this.instructionCount += n;
        if (this.pendingShadow !== 0) this.applyPendingShadow();
        if (this.breakBlock || this.instructionCount >= end || this.interruptLine) return;
      }
    } catch (e) {
      if (e !== this.fault) throw e;
      this.pendingShadow = 0;
      this.instructionCount += (i - first) >> Ins.StrideShift;
      this.instrStart = (blockIp + (i === first ? 0 : d[i - Ins.Stride + Ins.Next])) & this.ipMask;
      this.deliverFault();
    }
  }

  // ---------------------------------------------------------------- Persist

  /** @inheritdoc */
  save(): CpuState {
    return {
      version: 1,
      regs: Array.from(this.regs.subarray(0, 8)), eip: this.eip, eflags: this.getFlags(),
      segSel: Array.from(this.segSel), segBase: Array.from(this.segBase, (b) => b >>> 0), segLimit: Array.from(this.segLimit),
      cr0: this.cr0 >>> 0, cr2: this.cr2 >>> 0, cr3: this.cr3 >>> 0, cr4: this.cr4 >>> 0,
      gdtrBase: this.gdtrBase >>> 0, gdtrLimit: this.gdtrLimit, idtrBase: this.idtrBase >>> 0, idtrLimit: this.idtrLimit,
      halted: this.halted, a20: this.a20Enabled, instructionCount: this.instructionCount,
      interruptShadow: this.inhibitAt === this.instructionCount, trapShadow: this.trapInhibitAt === this.instructionCount,
      shutdown: this.shutdown,
    };
  }

  /** @inheritdoc */
  restore(state: unknown): void {
    const r = new StateReader(this.persistId, state);
    r.version([1]);
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
    const interruptShadow = r.bool('interruptShadow');
    const trapShadow = r.bool('trapShadow');
    const shutdown = r.bool('shutdown');
    if ((cr[0] & 1) !== 0) throw new CpuHostError('cpu0: restoring protected-mode state is not supported yet');
    for (let k = 0; k < 8; k++) this.regs[k] = regs[k];
    this.eip = eip;
    this.setFlags(eflags & ~(Flag.VM | Flag.RF));
    for (let s = 0; s < 6; s++) {
      this.segSel[s] = segSel[s];
      this.segBase[s] = segBase[s] | 0;
      this.segLimit[s] = segLimit[s];
    }
    [this.cr0, this.cr2, this.cr3, this.cr4] = cr;
    [this.gdtrBase, this.gdtrLimit] = gdtr;
    [this.idtrBase, this.idtrLimit] = idtr;
    this.halted = halted;
    this.instructionCount = count;
    this.inhibitAt = interruptShadow ? count : -1;
    this.trapInhibitAt = trapShadow ? count : -1;
    this.shutdown = shutdown;
    this.a20Mask = a20 ? A20_ON : A20_OFF;
    this.flushTlb();
    this.blocks.flush();
  }
}
