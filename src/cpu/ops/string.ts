/**
 * String instructions MOVS, CMPS, STOS, LODS, SCAS, INS, OUTS at byte/word/dword width,
 * with REP/REPE/REPNE. The source is seg:(E)SI (segment overridable, default DS), the
 * destination ES:(E)DI; the address size picks SI/DI/CX or ESI/EDI/ECX.
 *
 * A repeated instruction runs at most Rep.Chunk (4096) iterations per execution; if work remains
 * it re-executes itself (EIP back on the instruction, block ended), so interrupts are
 * recognised in the middle of a long REP as on hardware and a fault leaves the registers
 * describing exactly the iterations completed.
 */
import { Pfx, Reg, Seg, SegView, Ins } from '../decoded.js';
import type { Cpu } from '../cpu.js';
import { getZF, setSub, Flag } from '../flags.js';
import { checkIoPermission } from './protected.js';

/** String operations handled by `stringOp`. */
export const enum StringOp {
  Movs = 0,
  Cmps = 1,
  Stos = 2,
  Lods = 3,
  Scas = 4,
  Ins = 5,
  Outs = 6,
}

/** Iterations a repeated string instruction runs before giving interrupts a chance. */
const enum Rep {
  Chunk = 4096,
}

function load(c: Cpu, lin: number, size: number): number {
  return size === 1 ? c.read8(lin) : size === 2 ? c.read16(lin) : c.read32(lin);
}

function store(c: Cpu, lin: number, size: number, v: number): void {
  if (size === 1) c.write8(lin, v);
  else if (size === 2) c.write16(lin, v);
  else c.write32(lin, v);
}

/** The ES destination of MOVS/STOS/INS is written: its write view checks writability. */
const enum StringSeg { EsWrite = Seg.ES | SegView.Write }

function accumulator(c: Cpu, size: number): number {
  return size === 1 ? c.r8[0] : size === 2 ? c.r16[0] : c.regs[0];
}

function setAccumulator(c: Cpu, size: number, v: number): void {
  if (size === 1) c.r8[0] = v;
  else if (size === 2) c.r16[0] = v;
  else c.regs[0] = v;
}

/** One iteration of string operation `kind`; si/di are offsets already masked to the address size. */
function iterate(c: Cpu, kind: number, size: number, srcSeg: number, si: number, di: number): void {
  switch (kind) {
    case StringOp.Movs: {
      const v = load(c, c.segLinear(srcSeg, si, size), size);
      store(c, c.segLinear(StringSeg.EsWrite, di, size), size, v);
      return;
    }
    case StringOp.Cmps: {
      const a = load(c, c.segLinear(srcSeg, si, size), size);
      const b = load(c, c.segLinear(Seg.ES, di, size), size);
      setSub(c, a, b, a - b, size * 8);
      return;
    }
    case StringOp.Stos:
      store(c, c.segLinear(StringSeg.EsWrite, di, size), size, accumulator(c, size));
      return;
    case StringOp.Lods:
      setAccumulator(c, size, load(c, c.segLinear(srcSeg, si, size), size));
      return;
    case StringOp.Scas: {
      const a = accumulator(c, size);
      const b = load(c, c.segLinear(Seg.ES, di, size), size);
      setSub(c, a, b, a - b, size * 8);
      return;
    }
    case StringOp.Ins: {
      const lin = c.segLinear(StringSeg.EsWrite, di, size);
      if ((c.cr0 & 1) !== 0) checkIoPermission(c, c.r16[Reg.EDX << 1], size);
      const v = c.io.read(c.r16[Reg.EDX << 1], size as 1 | 2 | 4);
      store(c, lin, size, v);
      return;
    }
    default: {
      const v = load(c, c.segLinear(srcSeg, si, size), size);
      if ((c.cr0 & 1) !== 0) checkIoPermission(c, c.r16[Reg.EDX << 1], size);
      c.io.write(c.r16[Reg.EDX << 1], size as 1 | 2 | 4, v);
      return;
    }
  }
}

/** Which index registers an operation advances: bit 0 = SI, bit 1 = DI. */
const ADVANCES = [3, 3, 2, 1, 2, 2, 1];

/** Execute string operation `kind` (with any REP prefix) for instruction `i`. */
export function stringOp(c: Cpu, i: number, kind: number, size: number): void {
  const d = c.store;
  const prefix = d[i + Ins.Prefix];
  const a32 = (prefix & Pfx.Addr32) !== 0;
  const amask = a32 ? -1 : 0xffff;
  const step = (c.flagsReg & Flag.DF) !== 0 ? -size : size;
  const srcSeg = d[i + Ins.Seg];
  const adv = ADVANCES[kind];
  const rep = prefix & (Pfx.Rep | Pfx.Repne);
  if (rep === 0) {
    iterate(c, kind, size, srcSeg, readIndex(c, Reg.ESI, a32), readIndex(c, Reg.EDI, a32));
    advance(c, adv, step, a32);
    return;
  }
  const compares = kind === StringOp.Cmps || kind === StringOp.Scas;
  // Under TF a repeated string instruction single-steps per iteration (the trap's pushed IP
  // is the instruction itself until the count runs out), so do one iteration per execution.
  const chunk = (c.flagsReg & Flag.TF) !== 0 ? 1 : Rep.Chunk;
  for (let n = 0; n < chunk; n++) {
    const count = a32 ? c.regs[Reg.ECX] : c.r16[Reg.ECX << 1];
    if (count === 0) return;
    iterate(c, kind, size, srcSeg, readIndex(c, Reg.ESI, a32) & amask, readIndex(c, Reg.EDI, a32) & amask);
    advance(c, adv, step, a32);
    if (a32) c.regs[Reg.ECX] = count - 1;
    else c.r16[Reg.ECX << 1] = count - 1;
    if (compares && (getZF(c) !== 0) !== (rep === Pfx.Rep)) return;
    if (count === 1) return;
  }
  // More to do: run this instruction again after giving interrupts a chance.
  c.restartInstruction(i);
}

function readIndex(c: Cpu, reg: number, a32: boolean): number {
  return a32 ? c.regs[reg] : c.r16[reg << 1];
}

function advance(c: Cpu, which: number, step: number, a32: boolean): void {
  if (a32) {
    if (which & 1) c.regs[Reg.ESI] = c.regs[Reg.ESI] + step;
    if (which & 2) c.regs[Reg.EDI] = c.regs[Reg.EDI] + step;
  } else {
    if (which & 1) c.r16[Reg.ESI << 1] = c.r16[Reg.ESI << 1] + step;
    if (which & 2) c.r16[Reg.EDI << 1] = c.r16[Reg.EDI << 1] + step;
  }
}

export function movsB(c: Cpu, i: number): void { stringOp(c, i, StringOp.Movs, 1); }
export function movsW(c: Cpu, i: number): void { stringOp(c, i, StringOp.Movs, 2); }
export function movsD(c: Cpu, i: number): void { stringOp(c, i, StringOp.Movs, 4); }
export function cmpsB(c: Cpu, i: number): void { stringOp(c, i, StringOp.Cmps, 1); }
export function cmpsW(c: Cpu, i: number): void { stringOp(c, i, StringOp.Cmps, 2); }
export function cmpsD(c: Cpu, i: number): void { stringOp(c, i, StringOp.Cmps, 4); }
export function stosB(c: Cpu, i: number): void { stringOp(c, i, StringOp.Stos, 1); }
export function stosW(c: Cpu, i: number): void { stringOp(c, i, StringOp.Stos, 2); }
export function stosD(c: Cpu, i: number): void { stringOp(c, i, StringOp.Stos, 4); }
export function lodsB(c: Cpu, i: number): void { stringOp(c, i, StringOp.Lods, 1); }
export function lodsW(c: Cpu, i: number): void { stringOp(c, i, StringOp.Lods, 2); }
export function lodsD(c: Cpu, i: number): void { stringOp(c, i, StringOp.Lods, 4); }
export function scasB(c: Cpu, i: number): void { stringOp(c, i, StringOp.Scas, 1); }
export function scasW(c: Cpu, i: number): void { stringOp(c, i, StringOp.Scas, 2); }
export function scasD(c: Cpu, i: number): void { stringOp(c, i, StringOp.Scas, 4); }
export function insB(c: Cpu, i: number): void { stringOp(c, i, StringOp.Ins, 1); }
export function insW(c: Cpu, i: number): void { stringOp(c, i, StringOp.Ins, 2); }
export function insD(c: Cpu, i: number): void { stringOp(c, i, StringOp.Ins, 4); }
export function outsB(c: Cpu, i: number): void { stringOp(c, i, StringOp.Outs, 1); }
export function outsW(c: Cpu, i: number): void { stringOp(c, i, StringOp.Outs, 2); }
export function outsD(c: Cpu, i: number): void { stringOp(c, i, StringOp.Outs, 4); }
