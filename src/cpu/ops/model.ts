/**
 * The Pentium Pro-class ("model-specific") instructions of the 0F page (SDM vol. 2 pages of
 * each instruction; vol. 3A §5.8.7 for SYSENTER/SYSEXIT, vol. 3B §17.17 for the TSC):
 * CPUID, RDTSC, RDMSR, WRMSR, RDPMC, SYSENTER, SYSEXIT, CMPXCHG8B, the multi-byte and
 * reserved NOPs (0F 19-1F), and the privileged cache instructions INVD/WBINVD.
 *
 * Which features CPUID advertises is data in ../cpuid.ts; the MSRs live in ../msr.ts.
 *
 * The TSC counts the VM clock's ticks (`cpu.clockTicks`: instructions retired before the
 * executing one, including those of its own block, plus idle and stall ticks): RDTSC reads
 * ticks * ticksPerInstruction + offset, where `ticks` does NOT include the RDTSC itself, so
 * two RDTSCs back to back differ by exactly one instruction's ticks. RDMSR/WRMSR of
 * IA32_TIME_STAMP_COUNTER use the same count; a compiled tier must keep clockTicks exact.
 *
 * Deliberate #UD/#GP (the P6 behaviour, or no such hardware here):
 * - RDPMC: no performance counters are modelled, so every ECX is outside the implemented
 *   counters and RDPMC always raises #GP(0) (after the CR4.PCE/CPL check, which also #GPs).
 * - 0F 18 (PREFETCHh, SSE) stays #UD: we do not advertise SSE and found no statement that P6
 *   parts before the Pentium III executed it as a NOP. 0F 0D (AMD PREFETCH) stays #UD.
 * - 0F 05/07 (SYSCALL/SYSRET) are AMD instructions: #UD on an Intel-style P6.
 */
import type { Cpu } from '../cpu.js';
import { CPUID_LEAVES, CpuidEdx, cpuidRow } from '../cpuid.js';
import { Ins, Reg, Seg } from '../decoded.js';
import { VEC_GP, VEC_UD } from '../exceptions.js';
import { Flag, materialize } from '../flags.js';
import { Cr4 } from '../paging.js';
import { SegAttr } from '../protected/descriptor.js';

/** Segment attribute words loaded by SYSENTER/SYSEXIT: flat 4 GiB, 32-bit, page granular. */
const enum FlatAttr {
  /** Execute/read code, accessed, S, present, D = 1, G = 1 (DPL added separately). */
  Code = SegAttr.Code | SegAttr.RW | SegAttr.Accessed | SegAttr.S | SegAttr.Present | SegAttr.DB | SegAttr.G,
  /** Read/write data, accessed, S, present, B = 1, G = 1. */
  Data = SegAttr.RW | SegAttr.Accessed | SegAttr.S | SegAttr.Present | SegAttr.DB | SegAttr.G,
  Dpl3 = 3 << SegAttr.DplShift,
}

const FLAT_LIMIT = 0xffffffff;
/** IA32_APIC_BASE bit 11: the local APIC is globally enabled. */
const APIC_GLOBAL_ENABLE = 0x800;

/** CPUID (0F A2): the leaf in EAX answered from the table in cpuid.ts; ECX is ignored. */
export function cpuid(c: Cpu): void {
  const r = c.regs;
  const leaf = r[Reg.EAX];
  const row = cpuidRow(leaf);
  const t = CPUID_LEAVES;
  r[Reg.EAX] = t[row];
  r[Reg.EBX] = t[row + 1];
  r[Reg.ECX] = t[row + 2];
  r[Reg.EDX] = t[row + 3];
  if (leaf === 1) {
    c.msr.cpuidSignatureRead();
    // The APIC feature flag follows IA32_APIC_BASE's global enable bit (SDM §11.4.3).
    const apic = c.msr.apicBase;
    if (apic !== null && (apic.readApicBaseMsr() & APIC_GLOBAL_ENABLE) !== 0) r[Reg.EDX] |= CpuidEdx.APIC;
  }
}

/** RDTSC (0F 31): EDX:EAX = TSC; #GP(0) when CR4.TSD is set and CPL > 0. */
export function rdtsc(c: Cpu, i: number): void {
  if ((c.cr4 & Cr4.TSD) !== 0 && c.cpl !== 0) c.raise(VEC_GP, 0);
  const m = c.msr;
  m.readTsc(c.clockTicks);
  c.regs[Reg.EAX] = m.lo;
  c.regs[Reg.EDX] = m.hi;
}

/** RDMSR (0F 32): EDX:EAX = MSR[ECX]; #GP(0) at CPL > 0 or for an MSR that does not exist. */
export function rdmsr(c: Cpu, i: number): void {
  if (c.cpl !== 0) c.raise(VEC_GP, 0);
  const m = c.msr;
  if (!m.read(c.regs[Reg.ECX], c.clockTicks)) c.raise(VEC_GP, 0);
  c.regs[Reg.EAX] = m.lo;
  c.regs[Reg.EDX] = m.hi;
}

/** WRMSR (0F 30): MSR[ECX] = EDX:EAX; #GP(0) at CPL > 0 or for a missing/read-only MSR. */
export function wrmsr(c: Cpu, i: number): void {
  if (c.cpl !== 0) c.raise(VEC_GP, 0);
  const r = c.regs;
  if (!c.msr.write(r[Reg.ECX], r[Reg.EAX], r[Reg.EDX], c.clockTicks)) c.raise(VEC_GP, 0);
}

/** RDPMC (0F 33): no counters are implemented, so every form raises #GP(0). */
export function rdpmc(c: Cpu): void {
  // With CR4.PCE clear and CPL > 0 the privilege check fails; otherwise ECX names a
  // counter we do not have. Both are #GP(0).
  c.raise(VEC_GP, 0);
}

/** INVD/WBINVD (0F 08/09): privileged; no caches are modelled, so nothing else happens. */
export function invd(c: Cpu): void {
  if (c.cpl !== 0) c.raise(VEC_GP, 0);
}

/** SYSENTER (0F 34): fast call to CPL 0 through the SYSENTER MSRs. */
export function sysenter(c: Cpu): void {
  const m = c.msr;
  const cs = m.sysenterCs & 0xfffc;
  if ((c.cr0 & 1) === 0 || cs === 0) c.raise(VEC_GP, 0);
  c.setFlags(c.getFlags() & ~(Flag.VM | Flag.IF | Flag.RF));
  c.loadSegmentCache(Seg.CS, cs, 0, FLAT_LIMIT, FlatAttr.Code);
  c.loadSegmentCache(Seg.SS, (cs + 8) & 0xffff, 0, FLAT_LIMIT, FlatAttr.Data);
  c.setCpl(0);
  c.regs[Reg.ESP] = m.sysenterEsp;
  c.eip = m.sysenterEip;
}

/** SYSEXIT (0F 35): fast return to CPL 3: EIP = EDX, ESP = ECX. */
export function sysexit(c: Cpu): void {
  const base = c.msr.sysenterCs & 0xffff;
  if ((c.cr0 & 1) === 0 || (base & 0xfffc) === 0 || c.cpl !== 0) c.raise(VEC_GP, 0);
  c.loadSegmentCache(Seg.CS, ((base + 16) | 3) & 0xffff, 0, FLAT_LIMIT, FlatAttr.Code | FlatAttr.Dpl3);
  c.loadSegmentCache(Seg.SS, ((base + 24) | 3) & 0xffff, 0, FLAT_LIMIT, FlatAttr.Data | FlatAttr.Dpl3);
  c.setCpl(3);
  c.regs[Reg.ESP] = c.regs[Reg.ECX];
  c.eip = c.regs[Reg.EDX];
}

/**
 * CMPXCHG8B m64 (0F C7 /1): if EDX:EAX equals m64, ZF = 1 and m64 = ECX:EBX; otherwise
 * ZF = 0 and EDX:EAX = m64, and m64 is written back with its own value (the processor
 * always performs the write, so a read-only destination faults either way). Only ZF
 * changes. A register operand is #UD. Memory is read and written before any register or
 * flag changes, so a fault leaves the instruction without effect.
 */
export function cmpxchg8b(c: Cpu, i: number): void {
  if (c.store[i + Ins.Mem] === 0) c.raise(VEC_UD);
  const lin = c.ea(i, 8);
  const hiLin = (lin + 4) | 0;
  const lo = c.read32(lin);
  const hi = c.read32(hiLin);
  const r = c.regs;
  const equal = lo === r[Reg.EAX] && hi === r[Reg.EDX];
  const newLo = equal ? r[Reg.EBX] : lo;
  const newHi = equal ? r[Reg.ECX] : hi;
  writeAcrossPageFirst(c, lin, newLo, newHi);
  c.write32(lin, newLo);
  c.write32(hiLin, newHi);
  if (!equal) {
    r[Reg.EAX] = lo;
    r[Reg.EDX] = hi;
  }
  materialize(c);
  c.flagsReg = equal ? c.flagsReg | Flag.ZF : c.flagsReg & ~Flag.ZF;
}

/**
 * When the 8 bytes at `lin` cross a page boundary, first write the (final) dword that
 * straddles the boundary: the CPU checks both pages before any byte of a straddling write
 * lands, so a page that refuses the write faults before either half is stored. Without
 * this, an operand split exactly between its dwords could store the first half and then
 * fault on the second.
 */
function writeAcrossPageFirst(c: Cpu, lin: number, lo: number, hi: number): void {
  const onFirstPage = 0x1000 - (lin & 0xfff);
  if (onFirstPage >= 8) return;
  const start = onFirstPage <= 2 ? 0 : onFirstPage >= 6 ? 4 : onFirstPage - 2;
  const bits = 8 * start;
  const v = start === 0 ? lo : start === 4 ? hi : (lo >>> bits) | (hi << (32 - bits));
  c.write32((lin + start) | 0, v);
}
