/**
 * Processor control and I/O: IN/OUT, HLT, flag instructions (CLC STC CMC CLI STI CLD
 * STD), NOP/WAIT/x87 escapes without an FPU, descriptor-table registers in real mode
 * (LGDT LIDT SGDT SIDT), SMSW/LMSW/CLTS, MOV to/from control registers, INVD/WBINVD/
 * INVLPG, and the invalid-opcode handler.
 */
import { Pfx, Reg, Ins } from '../decoded.js';
import type { Cpu } from '../cpu.js';
import { Shadow } from '../shadow.js';
import { CpuHostError, VEC_GP, VEC_NM, VEC_UD } from '../exceptions.js';
import { materialize, Flag } from '../flags.js';
import { readE16, writeE16 } from './operands.js';

// Port I/O: `imm` holds the port for the immediate forms; DX otherwise.
export function inALIb(c: Cpu, i: number): void { c.r8[0] = c.io.read(c.store[i + Ins.Imm] & 0xff, 1); }
export function inAXIb(c: Cpu, i: number): void { c.r16[0] = c.io.read(c.store[i + Ins.Imm] & 0xff, 2); }
export function inEAXIb(c: Cpu, i: number): void { c.regs[0] = c.io.read(c.store[i + Ins.Imm] & 0xff, 4); }
export function inALDX(c: Cpu): void { c.r8[0] = c.io.read(c.r16[Reg.EDX << 1], 1); }
export function inAXDX(c: Cpu): void { c.r16[0] = c.io.read(c.r16[Reg.EDX << 1], 2); }
export function inEAXDX(c: Cpu): void { c.regs[0] = c.io.read(c.r16[Reg.EDX << 1], 4); }
/** OUT ends the block: the device may raise an interrupt or stop the VM. */
export function outIbAL(c: Cpu, i: number): void { c.io.write(c.store[i + Ins.Imm] & 0xff, 1, c.r8[0]); c.breakBlock = true; }
export function outIbAX(c: Cpu, i: number): void { c.io.write(c.store[i + Ins.Imm] & 0xff, 2, c.r16[0]); c.breakBlock = true; }
export function outIbEAX(c: Cpu, i: number): void { c.io.write(c.store[i + Ins.Imm] & 0xff, 4, c.regs[0]); c.breakBlock = true; }
export function outDXAL(c: Cpu): void { c.io.write(c.r16[Reg.EDX << 1], 1, c.r8[0]); c.breakBlock = true; }
export function outDXAX(c: Cpu): void { c.io.write(c.r16[Reg.EDX << 1], 2, c.r16[0]); c.breakBlock = true; }
export function outDXEAX(c: Cpu): void { c.io.write(c.r16[Reg.EDX << 1], 4, c.regs[0]); c.breakBlock = true; }

/** HLT: stop until an interrupt arrives. */
export function hlt(c: Cpu): void {
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
export function cli(c: Cpu): void { c.flagsReg &= ~Flag.IF; }
/** STI: interrupts are recognised only after the next instruction (the STI shadow). */
export function sti(c: Cpu): void {
  if ((c.flagsReg & Flag.IF) === 0) c.pendingShadow |= Shadow.Interrupts;
  c.flagsReg |= Flag.IF;
  c.breakBlock = true;
}

export function nop(): void { /* no operation */ }

/**
 * x87 escape (D8-DF) on a CPU without its FPU: with CR0.EM set it raises #NM;
 * otherwise the memory operand (size in `sub`) is checked against its segment limit and
 * nothing else happens, as on a processor with no coprocessor attached. The FPU arrives
 * with issue 3.
 */
export function fpuEscape(c: Cpu, i: number): void {
  if ((c.cr0 & 4) !== 0) c.raise(VEC_NM);
  const d = c.store;
  if (d[i + Ins.Mem] !== 0 && d[i + Ins.Sub] !== 0) c.ea(i, d[i + Ins.Sub]);
}

/** WAIT/FWAIT: #NM when CR0.MP and CR0.TS are both set. */
export function fwait(c: Cpu): void {
  if ((c.cr0 & 0xa) === 0xa) c.raise(VEC_NM);
}

/** LGDT/LIDT (`sub` 2 = GDT, 3 = IDT): 16-bit operand size keeps 24 bits of the base. */
export function loadDescriptorTable(c: Cpu, i: number): void {
  const d = c.store;
  if (d[i + Ins.Mem] === 0) c.raise(VEC_UD);
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

/** LMSW: loads PE, MP, EM, TS; cannot clear PE. */
export function lmsw(c: Cpu, i: number): void {
  const v = readE16(c, i);
  const next = (c.cr0 & ~0xe) | (v & 0xf) | (c.cr0 & 1);
  writeCr0(c, next);
}

/** CLTS: clear CR0.TS. */
export function clts(c: Cpu): void { c.cr0 &= ~8; }

function writeCr0(c: Cpu, value: number): void {
  if ((value & 1) !== 0) throw new CpuHostError('entering protected mode (CR0.PE=1) is not implemented yet (issue 3)');
  if ((value & 0x80000000) !== 0) c.raise(VEC_GP, 0);
  c.cr0 = value | 0x10;
  c.breakBlock = true;
}

/** MOV r32, CRn (`reg` = n, `rm` = register). */
export function movRdCr(c: Cpu, i: number): void {
  const d = c.store;
  let v: number;
  switch (d[i + Ins.Reg]) {
    case 0: v = c.cr0; break;
    case 2: v = c.cr2; break;
    case 3: v = c.cr3; break;
    case 4: v = c.cr4; break;
    default: return c.raise(VEC_UD);
  }
  c.regs[d[i + Ins.Rm]] = v;
}

/** MOV CRn, r32. */
export function movCrRd(c: Cpu, i: number): void {
  const d = c.store, v = c.regs[d[i + Ins.Rm]];
  switch (d[i + Ins.Reg]) {
    case 0: writeCr0(c, v); return;
    case 2: c.cr2 = v; return;
    case 3: c.cr3 = v; c.flushTlb(); return;
    case 4:
      if (v !== 0) throw new CpuHostError(`CR4 features (value ${(v >>> 0).toString(16)}) are not implemented yet (issue 3)`);
      c.cr4 = v;
      return;
    default: c.raise(VEC_UD);
  }
}

/** INVD/WBINVD: no caches are modelled. INVLPG: drop cached translations. */
export function invd(): void { /* no caches modelled */ }
export function invlpg(c: Cpu, i: number): void {
  if (c.store[i + Ins.Mem] === 0) c.raise(VEC_UD);
  c.flushTlb();
}

/** Invalid opcode (#UD), also used for UD2 and for LOCK on a non-lockable instruction. */
export function undefinedOpcode(c: Cpu): void { c.raise(VEC_UD); }

/** An instruction whose length exceeds 15 bytes: #GP(0). */
export function tooLong(c: Cpu): void { c.raise(VEC_GP, 0); }

/** MOV r32, DRn: DR4/DR5 alias DR6/DR7 (CR4.DE is not supported). */
export function movRdDr(c: Cpu, i: number): void {
  const d = c.store;
  c.regs[d[i + Ins.Rm]] = c.debugRegs[debugIndex(d[i + Ins.Reg])];
}

/** MOV DRn, r32 (breakpoints are stored but not yet armed). */
export function movDrRd(c: Cpu, i: number): void {
  const d = c.store;
  c.debugRegs[debugIndex(d[i + Ins.Reg])] = c.regs[d[i + Ins.Rm]];
}

function debugIndex(n: number): number {
  return n === 4 ? 6 : n === 5 ? 7 : n;
}
