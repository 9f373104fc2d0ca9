/**
 * String instructions MOVS, CMPS, STOS, LODS, SCAS, INS, OUTS at byte/word/dword width,
 * with REP/REPE/REPNE. The source is seg:(E)SI (segment overridable, default DS), the
 * destination ES:(E)DI; the address size picks SI/DI/CX or ESI/EDI/ECX.
 *
 * A repeated instruction runs at most REP_CHUNK iterations per execution; if work remains
 * it re-executes itself (EIP back on the instruction, block ended), so interrupts are
 * recognised in the middle of a long REP as on hardware and a fault leaves the registers
 * describing exactly the iterations completed.
 */
import type { Cpu } from '../cpu.js';
import { REG_ECX, REG_EDI, REG_EDX, REG_ESI } from '../cpu.js';
import { PFX_ADDR32, PFX_REP, PFX_REPNE, SEG_ES } from '../decoded.js';
import { FLAG_DF, getZF, setSub } from '../flags.js';

const REP_CHUNK = 4096;

export const STR_MOVS = 0, STR_CMPS = 1, STR_STOS = 2, STR_LODS = 3, STR_SCAS = 4, STR_INS = 5, STR_OUTS = 6;

function load(c: Cpu, lin: number, size: number): number {
  return size === 1 ? c.read8(lin) : size === 2 ? c.read16(lin) : c.read32(lin);
}

function store(c: Cpu, lin: number, size: number, v: number): void {
  if (size === 1) c.write8(lin, v);
  else if (size === 2) c.write16(lin, v);
  else c.write32(lin, v);
}

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
    case STR_MOVS: {
      const v = load(c, c.segLinear(srcSeg, si, size), size);
      store(c, c.segLinear(SEG_ES, di, size), size, v);
      return;
    }
    case STR_CMPS: {
      const a = load(c, c.segLinear(srcSeg, si, size), size);
      const b = load(c, c.segLinear(SEG_ES, di, size), size);
      setSub(c, a, b, a - b, size * 8);
      return;
    }
    case STR_STOS:
      store(c, c.segLinear(SEG_ES, di, size), size, accumulator(c, size));
      return;
    case STR_LODS:
      setAccumulator(c, size, load(c, c.segLinear(srcSeg, si, size), size));
      return;
    case STR_SCAS: {
      const a = accumulator(c, size);
      const b = load(c, c.segLinear(SEG_ES, di, size), size);
      setSub(c, a, b, a - b, size * 8);
      return;
    }
    case STR_INS: {
      const lin = c.segLinear(SEG_ES, di, size);
      const v = c.io.read(c.r16[REG_EDX << 1], size as 1 | 2 | 4);
      store(c, lin, size, v);
      return;
    }
    default: {
      const v = load(c, c.segLinear(srcSeg, si, size), size);
      c.io.write(c.r16[REG_EDX << 1], size as 1 | 2 | 4, v);
      return;
    }
  }
}

/** Which index registers an operation advances: bit 0 = SI, bit 1 = DI. */
const ADVANCES = [3, 3, 2, 1, 2, 2, 1];

/** Execute string operation `kind` (with any REP prefix) for instruction `i`. */
export function stringOp(c: Cpu, i: number, kind: number, size: number): void {
  const d = c.store;
  const prefix = d.prefix[i];
  const a32 = (prefix & PFX_ADDR32) !== 0;
  const amask = a32 ? -1 : 0xffff;
  const step = (c.flagsReg & FLAG_DF) !== 0 ? -size : size;
  const srcSeg = d.seg[i];
  const adv = ADVANCES[kind];
  const rep = prefix & (PFX_REP | PFX_REPNE);
  if (rep === 0) {
    iterate(c, kind, size, srcSeg, readIndex(c, REG_ESI, a32), readIndex(c, REG_EDI, a32));
    advance(c, adv, step, a32);
    return;
  }
  const compares = kind === STR_CMPS || kind === STR_SCAS;
  for (let n = 0; n < REP_CHUNK; n++) {
    const count = a32 ? c.regs[REG_ECX] : c.r16[REG_ECX << 1];
    if (count === 0) return;
    iterate(c, kind, size, srcSeg, readIndex(c, REG_ESI, a32) & amask, readIndex(c, REG_EDI, a32) & amask);
    advance(c, adv, step, a32);
    if (a32) c.regs[REG_ECX] = count - 1;
    else c.r16[REG_ECX << 1] = count - 1;
    if (compares && (getZF(c) !== 0) !== (rep === PFX_REP)) return;
    if (count === 1) return;
  }
  // More to do: run this instruction again after giving interrupts a chance.
  c.eip = c.instrStart;
  c.breakBlock = true;
}

function readIndex(c: Cpu, reg: number, a32: boolean): number {
  return a32 ? c.regs[reg] : c.r16[reg << 1];
}

function advance(c: Cpu, which: number, step: number, a32: boolean): void {
  if (a32) {
    if (which & 1) c.regs[REG_ESI] = c.regs[REG_ESI] + step;
    if (which & 2) c.regs[REG_EDI] = c.regs[REG_EDI] + step;
  } else {
    if (which & 1) c.r16[REG_ESI << 1] = c.r16[REG_ESI << 1] + step;
    if (which & 2) c.r16[REG_EDI << 1] = c.r16[REG_EDI << 1] + step;
  }
}

export function movsB(c: Cpu, i: number): void { stringOp(c, i, STR_MOVS, 1); }
export function movsW(c: Cpu, i: number): void { stringOp(c, i, STR_MOVS, 2); }
export function movsD(c: Cpu, i: number): void { stringOp(c, i, STR_MOVS, 4); }
export function cmpsB(c: Cpu, i: number): void { stringOp(c, i, STR_CMPS, 1); }
export function cmpsW(c: Cpu, i: number): void { stringOp(c, i, STR_CMPS, 2); }
export function cmpsD(c: Cpu, i: number): void { stringOp(c, i, STR_CMPS, 4); }
export function stosB(c: Cpu, i: number): void { stringOp(c, i, STR_STOS, 1); }
export function stosW(c: Cpu, i: number): void { stringOp(c, i, STR_STOS, 2); }
export function stosD(c: Cpu, i: number): void { stringOp(c, i, STR_STOS, 4); }
export function lodsB(c: Cpu, i: number): void { stringOp(c, i, STR_LODS, 1); }
export function lodsW(c: Cpu, i: number): void { stringOp(c, i, STR_LODS, 2); }
export function lodsD(c: Cpu, i: number): void { stringOp(c, i, STR_LODS, 4); }
export function scasB(c: Cpu, i: number): void { stringOp(c, i, STR_SCAS, 1); }
export function scasW(c: Cpu, i: number): void { stringOp(c, i, STR_SCAS, 2); }
export function scasD(c: Cpu, i: number): void { stringOp(c, i, STR_SCAS, 4); }
export function insB(c: Cpu, i: number): void { stringOp(c, i, STR_INS, 1); }
export function insW(c: Cpu, i: number): void { stringOp(c, i, STR_INS, 2); }
export function insD(c: Cpu, i: number): void { stringOp(c, i, STR_INS, 4); }
export function outsB(c: Cpu, i: number): void { stringOp(c, i, STR_OUTS, 1); }
export function outsW(c: Cpu, i: number): void { stringOp(c, i, STR_OUTS, 2); }
export function outsD(c: Cpu, i: number): void { stringOp(c, i, STR_OUTS, 4); }
