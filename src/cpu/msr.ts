/**
 * The model-specific registers of our P6-class processor (SDM vol. 4, the MSR table for
 * the P6 family; vol. 3B §17.17 for the time-stamp counter; vol. 3A §5.8.7 for the
 * SYSENTER MSRs), read and written by RDMSR/WRMSR (ops/model.ts), with Persist.
 *
 * Only MSRs behind a feature we advertise exist; every other index raises #GP(0), as the
 * hardware does for an unimplemented MSR (Linux probes several under exception fixup and
 * expects exactly that):
 *
 * | index | name                    | access                                                  |
 * | ----- | ----------------------- | ------------------------------------------------------- |
 * | 10h   | IA32_TIME_STAMP_COUNTER | read: 64 bits; write: low 32 bits, high cleared (P6)     |
 * | 17h   | IA32_PLATFORM_ID        | read-only, 0 (platform 0); WRMSR #GP(0)                   |
 * | 8Bh   | IA32_BIOS_SIGN_ID       | any write accepted; CPUID.01H loads the microcode revision (0) into bits 63:32 |
 * | 174h  | IA32_SYSENTER_CS        | bits 31:0 kept; bits 63:32 ignored on write, read as 0   |
 * | 175h  | IA32_SYSENTER_ESP       | bits 31:0 kept; bits 63:32 ignored on write, read as 0   |
 * | 176h  | IA32_SYSENTER_EIP       | bits 31:0 kept; bits 63:32 ignored on write, read as 0   |
 *
 * | 1Bh   | IA32_APIC_BASE          | owned by the local APIC (`apicBase`); #GP(0) without one |
 *
 * Not implemented, so #GP(0): the MTRRs (FEh, 200h-2FFh) and PAT (277h) which CPUID does not advertise, the
 * machine-check MSRs (no MCE/MCA), the performance counters and event selects (no
 * counters modelled), DEBUGCTL/LBRs, IA32_BIOS_UPDT_TRIG (79h: no microcode loading),
 * and IA32_MISC_ENABLE (1A0h), which P6 processors did not have.
 *
 * The time-stamp counter is deterministic (DESIGN.md): TSC = retired * ticksPerInstruction
 * + offset (mod 2^64), where `retired` is the number of instructions retired before the
 * reading instruction. Writing the TSC stores a new offset. Values are 64-bit, so they are
 * carried as two unsigned 32-bit halves (no BigInt on the RDTSC path).
 */
import type { Persist, SavedState } from '../persist/persist.js';
import { StateError, StateReader } from '../persist/persist.js';
import { MICROCODE_REVISION } from './cpuid.js';
import type { ApicBaseMsr } from './port-io.js';

/** MSR indices we implement (SDM vol. 4 names). */
export const enum Msr {
  TimeStampCounter = 0x10,
  PlatformId = 0x17,
  ApicBase = 0x1b,
  BiosSignId = 0x8b,
  SysenterCs = 0x174,
  SysenterEsp = 0x175,
  SysenterEip = 0x176,
}
/** IA32_TIME_STAMP_COUNTER (10h), for code outside the CPU. */
export const IA32_TIME_STAMP_COUNTER = Msr.TimeStampCounter;
/** IA32_PLATFORM_ID (17h). */
export const IA32_PLATFORM_ID = Msr.PlatformId;
/** IA32_BIOS_SIGN_ID (8Bh). */
export const IA32_BIOS_SIGN_ID = Msr.BiosSignId;
/** IA32_SYSENTER_CS (174h). */
export const IA32_SYSENTER_CS = Msr.SysenterCs;
/** IA32_SYSENTER_ESP (175h). */
export const IA32_SYSENTER_ESP = Msr.SysenterEsp;
/** IA32_SYSENTER_EIP (176h). */
export const IA32_SYSENTER_EIP = Msr.SysenterEip;

const TWO_32 = 4294967296;
/** Largest accepted TSC ticks per instruction (keeps the 64-bit arithmetic exact in doubles). */
export const MAX_TICKS_PER_INSTRUCTION = 1024;

/** Saved MSR state (plain data; all 32-bit halves unsigned). */
export interface MsrState extends SavedState {
  ticksPerInstruction: number;
  tscOffsetLo: number; tscOffsetHi: number;
  sysenterCs: number; sysenterEsp: number; sysenterEip: number;
  biosSignIdLo: number; biosSignIdHi: number;
}

/** The MSR file of one processor (`cpu.msr`). */
export class MsrFile implements Persist<MsrState> {
  readonly persistId = 'cpu0.msr';
  /** TSC ticks per retired instruction. */
  readonly ticksPerInstruction: number;
  /** Result of the last `read()` / `readTsc()`: low and high dwords (int32). */
  lo = 0;
  hi = 0;
  /** IA32_SYSENTER_CS/ESP/EIP, low 32 bits (int32). */
  sysenterCs = 0;
  sysenterEsp = 0;
  sysenterEip = 0;
  /** The local APIC's IA32_APIC_BASE, when the board attached an APIC. */
  apicBase: ApicBaseMsr | null = null;
  private tscOffsetLo = 0;
  private tscOffsetHi = 0;
  private biosSignIdLo = 0;
  private biosSignIdHi = 0;

  /** `ticksPerInstruction` is an integer in [1, MAX_TICKS_PER_INSTRUCTION] (default 1). */
  constructor(ticksPerInstruction = 1) {
    if (!Number.isInteger(ticksPerInstruction) || ticksPerInstruction < 1 || ticksPerInstruction > MAX_TICKS_PER_INSTRUCTION) {
      throw new RangeError(`MsrFile: ticksPerInstruction must be an integer in [1, ${MAX_TICKS_PER_INSTRUCTION}], got ${ticksPerInstruction}`);
    }
    this.ticksPerInstruction = ticksPerInstruction;
  }

  /** Power-on/RESET values, `retired` instructions into the run: TSC = 0, the rest cleared. */
  reset(retired: number): void {
    this.setTsc(retired, 0, 0);
    this.sysenterCs = 0;
    this.sysenterEsp = 0;
    this.sysenterEip = 0;
    this.biosSignIdLo = 0;
    this.biosSignIdHi = 0;
  }

  /** The TSC after `retired` retired instructions, into `lo`/`hi`. */
  readTsc(retired: number): void {
    const tpi = this.ticksPerInstruction;
    // retired * tpi as two unsigned halves (retired < 2^53, tpi <= 2^10: each product exact).
    const low = (retired >>> 0) * tpi;
    const lowHalf = low % TWO_32;
    const high = (Math.floor(retired / TWO_32) * tpi + Math.floor(low / TWO_32)) % TWO_32;
    const sumLo = lowHalf + this.tscOffsetLo;
    this.lo = sumLo | 0;
    this.hi = (high + this.tscOffsetHi + (sumLo >= TWO_32 ? 1 : 0)) | 0;
  }

  /** Make the TSC read `hi:lo` (unsigned halves or int32) at `retired` retired instructions. */
  setTsc(retired: number, lo: number, hi: number): void {
    // offset = value - retired * tpi (mod 2^64); first compute retired * tpi with a zero offset.
    this.tscOffsetLo = 0;
    this.tscOffsetHi = 0;
    this.readTsc(retired);
    const diffLo = (lo >>> 0) - (this.lo >>> 0);
    this.tscOffsetLo = diffLo >>> 0;
    this.tscOffsetHi = ((hi >>> 0) - (this.hi >>> 0) - (diffLo < 0 ? 1 : 0)) >>> 0;
  }

  /**
   * RDMSR `index` (unsigned ECX) with `retired` instructions retired: true and the value in
   * `lo`/`hi`, or false if the MSR does not exist (the caller raises #GP(0)).
   */
  read(index: number, retired: number): boolean {
    switch (index >>> 0) {
      case Msr.TimeStampCounter: this.readTsc(retired); return true;
      case Msr.PlatformId: this.lo = 0; this.hi = 0; return true;
      case Msr.ApicBase:
        if (this.apicBase === null) return false;
        this.lo = this.apicBase.readApicBaseMsr() | 0; this.hi = 0; return true;
      case Msr.BiosSignId: this.lo = this.biosSignIdLo; this.hi = this.biosSignIdHi; return true;
      case Msr.SysenterCs: this.lo = this.sysenterCs; this.hi = 0; return true;
      case Msr.SysenterEsp: this.lo = this.sysenterEsp; this.hi = 0; return true;
      case Msr.SysenterEip: this.lo = this.sysenterEip; this.hi = 0; return true;
      default: return false;
    }
  }

  /**
   * WRMSR `index` (unsigned ECX) with EDX:EAX = `hi`:`lo`: true if written, false if the MSR
   * does not exist or is read-only (the caller raises #GP(0)).
   */
  write(index: number, lo: number, hi: number, retired: number): boolean {
    switch (index >>> 0) {
      // P6: only the low 32 bits of the TSC can be written; the high 32 bits are cleared.
      case Msr.TimeStampCounter: this.setTsc(retired, lo, 0); return true;
      case Msr.BiosSignId: this.biosSignIdLo = lo | 0; this.biosSignIdHi = hi | 0; return true;
      case Msr.ApicBase: return this.apicBase !== null && this.apicBase.writeApicBaseMsr(lo >>> 0, hi >>> 0);
      case Msr.SysenterCs: this.sysenterCs = lo | 0; return true;
      case Msr.SysenterEsp: this.sysenterEsp = lo | 0; return true;
      case Msr.SysenterEip: this.sysenterEip = lo | 0; return true;
      default: return false;
    }
  }

  /** CPUID with EAX = 1 loads the microcode update revision into IA32_BIOS_SIGN_ID[63:32]. */
  cpuidSignatureRead(): void {
    this.biosSignIdLo = 0;
    this.biosSignIdHi = MICROCODE_REVISION;
  }

  /** @inheritdoc */
  save(): MsrState {
    return {
      version: 1,
      ticksPerInstruction: this.ticksPerInstruction,
      tscOffsetLo: this.tscOffsetLo, tscOffsetHi: this.tscOffsetHi,
      sysenterCs: this.sysenterCs >>> 0, sysenterEsp: this.sysenterEsp >>> 0, sysenterEip: this.sysenterEip >>> 0,
      biosSignIdLo: this.biosSignIdLo >>> 0, biosSignIdHi: this.biosSignIdHi >>> 0,
    };
  }

  /** @inheritdoc */
  restore(state: unknown): void {
    const r = new StateReader(this.persistId, state);
    r.version([1]);
    const u32 = 0xffffffff;
    const tpi = r.int('ticksPerInstruction', 1, MAX_TICKS_PER_INSTRUCTION);
    if (tpi !== this.ticksPerInstruction) {
      throw new StateError(this.persistId, 'ticksPerInstruction', `saved with ${tpi} TSC ticks per instruction, this CPU is configured for ${this.ticksPerInstruction}`);
    }
    const tscOffsetLo = r.int('tscOffsetLo', 0, u32);
    const tscOffsetHi = r.int('tscOffsetHi', 0, u32);
    const sysenterCs = r.int('sysenterCs', 0, u32);
    const sysenterEsp = r.int('sysenterEsp', 0, u32);
    const sysenterEip = r.int('sysenterEip', 0, u32);
    const biosSignIdLo = r.int('biosSignIdLo', 0, u32);
    const biosSignIdHi = r.int('biosSignIdHi', 0, u32);
    this.tscOffsetLo = tscOffsetLo;
    this.tscOffsetHi = tscOffsetHi;
    this.sysenterCs = sysenterCs | 0;
    this.sysenterEsp = sysenterEsp | 0;
    this.sysenterEip = sysenterEip | 0;
    this.biosSignIdLo = biosSignIdLo | 0;
    this.biosSignIdHi = biosSignIdHi | 0;
  }
}
