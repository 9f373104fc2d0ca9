/**
 * Processor control and I/O: IN/OUT (with the protected-mode I/O permission check), HLT,
 * flag instructions (CLC STC CMC CLI STI CLD STD; CLI/STI IOPL-sensitive), NOP,
 * descriptor-table registers (LGDT LIDT SGDT SIDT), SMSW/LMSW/CLTS, MOV to/from control
 * and debug registers, INVLPG, and the invalid-opcode handler. Privileged ones raise
 * #GP(0) at CPL > 0. INVD/WBINVD live in model.ts.
 */
import { Pfx, Reg, Ins } from '../decoded.js';
import type { Cpu } from '../cpu.js';
import { Shadow } from '../shadow.js';
import { VEC_GP, VEC_UD } from '../exceptions.js';
import { materialize, Flag } from '../flags.js';
import { readE16, writeE16 } from './operands.js';
import { Cr0, Cr4 } from '../paging.js';
import { checkIoPermission, requireCpl0 } from './protected.js';

// Port I/O: `imm` holds the port for the immediate forms; DX otherwise. In protected mode
// with CPL > IOPL, and in virtual-8086 mode, the TSS I/O bitmap must allow the access.
function port(c: Cpu, p: number, size: number): number {
  if ((c.cr0 & 1) !== 0) checkIoPermission(c, p, size);
  return p;
}
function immPort(c: Cpu, i: number, size: number): number { return port(c, c.store[i + Ins.Imm] & 0xff, size); }
function dxPort(c: Cpu, size: number): number { return port(c, c.r16[Reg.EDX << 1], size); }
export function inALIb(c: Cpu, i: number): void { c.r8[0] = c.io.read(immPort(c, i, 1), 1); }
export function inAXIb(c: Cpu, i: number): void { c.r16[0] = c.io.read(immPort(c, i, 2), 2); }
export function inEAXIb(c: Cpu, i: number): void { c.regs[0] = c.io.read(immPort(c, i, 4), 4); }
export function inALDX(c: Cpu): void { c.r8[0] = c.io.read(dxPort(c, 1), 1); }
export function inAXDX(c: Cpu): void { c.r16[0] = c.io.read(dxPort(c, 2), 2); }
export function inEAXDX(c: Cpu): void { c.regs[0] = c.io.read(dxPort(c, 4), 4); }
/** OUT ends the block: the device may raise an interrupt or stop the VM. */
export function outIbAL(c: Cpu, i: number): void { c.io.write(immPort(c, i, 1), 1, c.r8[0]); c.breakBlock = true; }
export function outIbAX(c: Cpu, i: number): void { c.io.write(immPort(c, i, 2), 2, c.r16[0]); c.breakBlock = true; }
export function outIbEAX(c: Cpu, i: number): void { c.io.write(immPort(c, i, 4), 4, c.regs[0]); c.breakBlock = true; }
export function outDXAL(c: Cpu): void { c.io.write(dxPort(c, 1), 1, c.r8[0]); c.breakBlock = true; }
export function outDXAX(c: Cpu): void { c.io.write(dxPort(c, 2), 2, c.r16[0]); c.breakBlock = true; }
export function outDXEAX(c: Cpu): void { c.io.write(dxPort(c, 4), 4, c.regs[0]); c.breakBlock = true; }

/** HLT: stop until an interrupt arrives. */
export function hlt(c: Cpu): void {
  requireCpl0(c);
  c.halted = true;
  c.breakBlock = true;
}

function setFlagBit(c: Cpu, bit: number, on: boolean): void {
  materialize(c);
  c.flagsReg = on ? c.flagsReg | bit : c.flagsReg & ~bit;
}

export function clc(c: Cpu): void { setFlagBit(c, Flag.CF, false); }
export function stc(c: Cpu): void { setFlagBit(c, Flag.CF, true); }
export function cmc(c: Cpu): void { materialize(c); c.flagsReg ^= Flag.CF; }
export function cld(c: Cpu): void { c.flagsReg &= ~Flag.DF; }
export function std(c: Cpu): void { c.flagsReg |= Flag.DF; }
/** CLI/STI are IOPL-sensitive in protected mode (CPL > IOPL) and virtual-8086 mode (IOPL < 3): #GP(0). */
function checkIopl(c: Cpu): void {
  if ((c.cr0 & 1) !== 0 && c.cpl > (c.flagsReg & Flag.IOPL) >>> 12) c.raise(VEC_GP, 0);
}
export function cli(c: Cpu): void { checkIopl(c); c.flagsReg &= ~Flag.IF; }
/** STI: interrupts are recognised only after the next instruction (the STI shadow). */
export function sti(c: Cpu): void {
  checkIopl(c);
  if ((c.flagsReg & Flag.IF) === 0) c.pendingShadow |= Shadow.Interrupts;
  c.flagsReg |= Flag.IF;
  c.breakBlock = true;
}

export function nop(): void { /* no operation */ }

/** LGDT/LIDT (`sub` 2 = GDT, 3 = IDT): 16-bit operand size keeps 24 bits of the base. */
export function loadDescriptorTable(c: Cpu, i: number): void {
  const d = c.store;
  if (d[i + Ins.Mem] === 0) c.raise(VEC_UD);
  requireCpl0(c);
  const lin = c.ea(i, 6);
  const limit = c.read16(lin);
  let base = c.read32((lin + 2) | 0);
  if ((d[i + Ins.Prefix] & Pfx.Op32) === 0) base &= 0x00ffffff;
  if (d[i + Ins.Sub] === 2) { c.gdtrLimit = limit; c.gdtrBase = base; }
  else { c.idtrLimit = limit; c.idtrBase = base; }
}

/** SGDT/SIDT (`sub` 0 = GDT, 1 = IDT). */
export function storeDescriptorTable(c: Cpu, i: number): void {
  const d = c.store;
  if (d[i + Ins.Mem] === 0) c.raise(VEC_UD);
  const lin = c.ea(i, 6);
  const isGdt = d[i + Ins.Sub] === 0;
  const limit = isGdt ? c.gdtrLimit : c.idtrLimit;
  let base = isGdt ? c.gdtrBase : c.idtrBase;
  if ((d[i + Ins.Prefix] & Pfx.Op32) === 0) base &= 0x00ffffff;
  c.write16(lin, limit);
  c.write32((lin + 2) | 0, base);
}

/** SMSW r/m16 (a 32-bit register destination receives all of CR0). */
export function smsw(c: Cpu, i: number): void {
  const d = c.store;
  if (d[i + Ins.Mem] === 0 && (d[i + Ins.Prefix] & Pfx.Op32) !== 0) c.regs[d[i + Ins.Rm]] = c.cr0;
  else writeE16(c, i, c.cr0 & 0xffff);
}

/** LMSW: loads PE, MP, EM and TS from the operand's low four bits; cannot clear PE (#GP(0) at CPL > 0). */
export function lmsw(c: Cpu, i: number): void {
  requireCpl0(c);
  const v = readE16(c, i);
  const next = (c.cr0 & ~(Cr0.MP | Cr0.EM | Cr0.TS)) | (v & (Cr0.PE | Cr0.MP | Cr0.EM | Cr0.TS));
  c.setControlRegisters(next, c.cr4);
  c.breakBlock = true;
}

/** CLTS: clear CR0.TS (#GP(0) at CPL > 0). */
export function clts(c: Cpu): void {
  requireCpl0(c);
  c.cr0 &= ~Cr0.TS;
}

/**
 * MOV CR0 (SDM vol. 3A §2.5, vol. 2 "MOV—Move to/from Control Registers"): #GP(0) for PG
 * without PE and for NW without CD. The reserved bits of CR0[31:0] are not a #GP on IA-32:
 * writes to them are ignored and they read as 0; ET is hardwired to 1 (P6).
 */
function writeCr0(c: Cpu, value: number): void {
  if ((value & (Cr0.PG | Cr0.PE)) === Cr0.PG) c.raise(VEC_GP, 0);
  if ((value & (Cr0.NW | Cr0.CD)) === Cr0.NW) c.raise(VEC_GP, 0);
  c.setControlRegisters((value & Cr0.Defined) | Cr0.ET, c.cr4);
  c.breakBlock = true;
}

/**
 * MOV CR4: only the features we implement (and CPUID advertises) may be set: TSD, DE, PSE,
 * PAE, PGE and PCE (stored; RDPMC consults it). VME, PVI, MCE, OSFXSR, OSXMMEXCPT and every
 * reserved bit raise #GP(0).
 */
function writeCr4(c: Cpu, value: number): void {
  if ((value & ~Cr4.Supported) !== 0) c.raise(VEC_GP, 0);
  c.setControlRegisters(c.cr0, value);
  c.breakBlock = true;
}

/** MOV r32, CRn (`reg` = n, `rm` = register): #GP(0) at CPL > 0 (v8086 included), #UD for CR1, CR5-CR7. */
export function movRdCr(c: Cpu, i: number): void {
  const d = c.store, n = d[i + Ins.Reg];
  if (n === 1 || n > 4) c.raise(VEC_UD);
  requireCpl0(c);
  c.regs[d[i + Ins.Rm]] = n === 0 ? c.cr0 : n === 2 ? c.cr2 : n === 3 ? c.cr3 : c.cr4;
}

/** MOV CRn, r32: #GP(0) at CPL > 0; CR3 loads go through `loadCr3` (PDPTEs, TLB flush). */
export function movCrRd(c: Cpu, i: number): void {
  const d = c.store, n = d[i + Ins.Reg];
  if (n === 1 || n > 4) c.raise(VEC_UD);
  requireCpl0(c);
  const v = c.regs[d[i + Ins.Rm]];
  switch (n) {
    case 0: writeCr0(c, v); return;
    case 2: c.cr2 = v; return;
    case 3: c.loadCr3(v); c.breakBlock = true; return;
    default: writeCr4(c, v);
  }
}

/** INVLPG m: drop the translations of the page holding the operand's linear address (#GP(0) at CPL > 0, #UD for a register operand). */
export function invlpg(c: Cpu, i: number): void {
  const d = c.store;
  if (d[i + Ins.Mem] === 0) c.raise(VEC_UD);
  requireCpl0(c);
  c.invalidatePage((c.segBase[d[i + Ins.Seg]] + c.eaOffset(i)) | 0);
  c.breakBlock = true;
}

/** Invalid opcode (#UD), also used for UD2 and for LOCK on a non-lockable instruction. */
export function undefinedOpcode(c: Cpu): void { c.raise(VEC_UD); }

/** An instruction whose length exceeds 15 bytes: #GP(0). */
export function tooLong(c: Cpu): void { c.raise(VEC_GP, 0); }

/** MOV r32, DRn: DR4/DR5 alias DR6/DR7, or #UD with CR4.DE. */
export function movRdDr(c: Cpu, i: number): void {
  requireCpl0(c);
  const d = c.store;
  c.regs[d[i + Ins.Rm]] = c.debugRegs[debugIndex(c, d[i + Ins.Reg])];
}

/** MOV DRn, r32 (breakpoints are stored but not yet armed). */
export function movDrRd(c: Cpu, i: number): void {
  requireCpl0(c);
  const d = c.store;
  c.debugRegs[debugIndex(c, d[i + Ins.Reg])] = c.regs[d[i + Ins.Rm]];
}

/** DR4/DR5 alias DR6/DR7 unless CR4.DE is set, when using them is #UD. */
function debugIndex(c: Cpu, n: number): number {
  if (n === 4 || n === 5) {
    if ((c.cr4 & Cr4.DE) !== 0) c.raise(VEC_UD);
    return n + 2;
  }
  return n;
}
