/**
 * Integer ALU instructions: ADD OR ADC SBB AND SUB XOR CMP in every operand form
 * (opcodes 00-3D and group 1, 80-83), INC/DEC (40-4F, FE/FF /0-/1), NEG/NOT/TEST
 * (F6/F7 /0-/3, 84/85, A8/A9). The ALU kind (0..7 in the x86 encoding order) is the
 * decoded `sub` field. Flags are recorded lazily (flags.ts).
 */
import { Ins } from '../decoded.js';
import type { Cpu } from '../cpu.js';
import { Flag, Lop, getCF, setIncDec, setLogic, setSub } from '../flags.js';
import { readE16, readE32, readE8, rewriteE16, rewriteE32, rewriteE8 } from './operands.js';

/** ALU operation kinds in encoding order (the `Ins.Sub` field of ALU instructions). */
export const enum AluKind {
  Add = 0,
  Or = 1,
  Adc = 2,
  Sbb = 3,
  And = 4,
  Sub = 5,
  Xor = 6,
  Cmp = 7,
}

/** ALU kinds in encoding order. */

/** Perform ALU operation `kind` on `a` and `b` at width `bits`, record flags, return the result. */
export function alu(c: Cpu, kind: number, a: number, b: number, bits: number): number {
  let r: number, lop: number;
  switch (kind) {
    case AluKind.Add: r = a + b; lop = Lop.Add; break;
    case AluKind.Or: r = a | b; lop = Lop.Logic; break;
    case AluKind.Adc: r = a + b + getCF(c); lop = Lop.Add; break;
    case AluKind.Sbb: r = a - b - getCF(c); lop = Lop.Sbb; break;
    case AluKind.And: r = a & b; lop = Lop.Logic; break;
    case AluKind.Xor: r = a ^ b; lop = Lop.Logic; break;
    default: r = a - b; lop = Lop.Sub; break; // SUB, CMP
  }
  c.lop = lop; c.la = a | 0; c.lb = b | 0; c.lres = r | 0; c.lbits = bits; c.lazy = Flag.Status;
  return r;
}

/**
 * r/m = alu(r/m, src) at each width: the r/m operand is resolved once (register index or
 * linear address) and written back only when the kind is not CMP.
 */
function aluToE8(c: Cpu, i: number, src: number): void {
  const d = c.store, k = d[i + Ins.Sub];
  if (d[i + Ins.Mem] === 0) {
    const rm = d[i + Ins.Rm], r8 = c.r8;
    const r = alu(c, k, r8[rm], src, 8);
    if (k !== AluKind.Cmp) r8[rm] = r;
    return;
  }
  const lin = c.ea(i, 1);
  const r = alu(c, k, c.read8(lin), src, 8);
  if (k !== AluKind.Cmp) c.write8(lin, r);
}
function aluToE16(c: Cpu, i: number, src: number): void {
  const d = c.store, k = d[i + Ins.Sub];
  if (d[i + Ins.Mem] === 0) {
    const rm = d[i + Ins.Rm], r16 = c.r16;
    const r = alu(c, k, r16[rm], src, 16);
    if (k !== AluKind.Cmp) r16[rm] = r;
    return;
  }
  const lin = c.ea(i, 2);
  const r = alu(c, k, c.read16(lin), src, 16);
  if (k !== AluKind.Cmp) c.write16(lin, r);
}
function aluToE32(c: Cpu, i: number, src: number): void {
  const d = c.store, k = d[i + Ins.Sub];
  if (d[i + Ins.Mem] === 0) {
    const rm = d[i + Ins.Rm], regs = c.regs;
    const r = alu(c, k, regs[rm], src, 32);
    if (k !== AluKind.Cmp) regs[rm] = r;
    return;
  }
  const lin = c.ea(i, 4);
  const r = alu(c, k, c.read32(lin), src, 32);
  if (k !== AluKind.Cmp) c.write32(lin, r);
}

// r/m, reg
export function aluEbGb(c: Cpu, i: number): void { aluToE8(c, i, c.r8[c.store[i + Ins.Reg]]); }
export function aluEwGw(c: Cpu, i: number): void { aluToE16(c, i, c.r16[c.store[i + Ins.Reg]]); }
export function aluEdGd(c: Cpu, i: number): void { aluToE32(c, i, c.regs[c.store[i + Ins.Reg]]); }

// reg, r/m
export function aluGbEb(c: Cpu, i: number): void {
  const d = c.store, k = d[i + Ins.Sub];
  const r = alu(c, k, c.r8[d[i + Ins.Reg]], readE8(c, i), 8);
  if (k !== AluKind.Cmp) c.r8[d[i + Ins.Reg]] = r;
}
export function aluGwEw(c: Cpu, i: number): void {
  const d = c.store, k = d[i + Ins.Sub];
  const r = alu(c, k, c.r16[d[i + Ins.Reg]], readE16(c, i), 16);
  if (k !== AluKind.Cmp) c.r16[d[i + Ins.Reg]] = r;
}
export function aluGdEd(c: Cpu, i: number): void {
  const d = c.store, k = d[i + Ins.Sub];
  const r = alu(c, k, c.regs[d[i + Ins.Reg]], readE32(c, i), 32);
  if (k !== AluKind.Cmp) c.regs[d[i + Ins.Reg]] = r;
}

// r/m, immediate (80/81/82/83) and accumulator, immediate (04/05/...): the decoder points rm at AL/AX/EAX for the latter.
export function aluEbIb(c: Cpu, i: number): void { aluToE8(c, i, c.store[i + Ins.Imm] & 0xff); }
export function aluEwIw(c: Cpu, i: number): void { aluToE16(c, i, c.store[i + Ins.Imm] & 0xffff); }
export function aluEdId(c: Cpu, i: number): void { aluToE32(c, i, c.store[i + Ins.Imm]); }

// TEST
export function testEbGb(c: Cpu, i: number): void {
  setLogic(c, readE8(c, i) & c.r8[c.store[i + Ins.Reg]], 8);
}
export function testEwGw(c: Cpu, i: number): void {
  setLogic(c, readE16(c, i) & c.r16[c.store[i + Ins.Reg]], 16);
}
export function testEdGd(c: Cpu, i: number): void {
  setLogic(c, readE32(c, i) & c.regs[c.store[i + Ins.Reg]], 32);
}
export function testEbIb(c: Cpu, i: number): void {
  setLogic(c, readE8(c, i) & c.store[i + Ins.Imm], 8);
}
export function testEwIw(c: Cpu, i: number): void {
  setLogic(c, readE16(c, i) & c.store[i + Ins.Imm], 16);
}
export function testEdId(c: Cpu, i: number): void {
  setLogic(c, readE32(c, i) & c.store[i + Ins.Imm], 32);
}

// INC/DEC: sub = 0 for INC, 1 for DEC.
export function incDecEb(c: Cpu, i: number): void {
  const a = readE8(c, i), dec = c.store[i + Ins.Sub] !== 0;
  const r = dec ? a - 1 : a + 1;
  setIncDec(c, a, r, 8, dec);
  rewriteE8(c, i, r);
}
export function incDecEw(c: Cpu, i: number): void {
  const a = readE16(c, i), dec = c.store[i + Ins.Sub] !== 0;
  const r = dec ? a - 1 : a + 1;
  setIncDec(c, a, r, 16, dec);
  rewriteE16(c, i, r);
}
export function incDecEd(c: Cpu, i: number): void {
  const a = readE32(c, i), dec = c.store[i + Ins.Sub] !== 0;
  const r = dec ? a - 1 : a + 1;
  setIncDec(c, a, r, 32, dec);
  rewriteE32(c, i, r);
}
/** INC/DEC r16 (40-4F): register in `reg`. */
export function incDecRw(c: Cpu, i: number): void {
  const d = c.store, x = d[i + Ins.Reg], a = c.r16[x], dec = d[i + Ins.Sub] !== 0;
  const r = dec ? a - 1 : a + 1;
  setIncDec(c, a, r, 16, dec);
  c.r16[x] = r;
}
/** INC/DEC r32. */
export function incDecRd(c: Cpu, i: number): void {
  const d = c.store, x = d[i + Ins.Reg], a = c.regs[x], dec = d[i + Ins.Sub] !== 0;
  const r = dec ? a - 1 : a + 1;
  setIncDec(c, a, r, 32, dec);
  c.regs[x] = r;
}

// NOT / NEG
export function notEb(c: Cpu, i: number): void { rewriteE8(c, i, ~readE8(c, i)); }
export function notEw(c: Cpu, i: number): void { rewriteE16(c, i, ~readE16(c, i)); }
export function notEd(c: Cpu, i: number): void { rewriteE32(c, i, ~readE32(c, i)); }
export function negEb(c: Cpu, i: number): void {
  const b = readE8(c, i), r = -b;
  setSub(c, 0, b, r, 8);
  rewriteE8(c, i, r);
}
export function negEw(c: Cpu, i: number): void {
  const b = readE16(c, i), r = -b;
  setSub(c, 0, b, r, 16);
  rewriteE16(c, i, r);
}
export function negEd(c: Cpu, i: number): void {
  const b = readE32(c, i), r = -b;
  setSub(c, 0, b, r, 32);
  rewriteE32(c, i, r);
}
