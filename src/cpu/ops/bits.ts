/**
 * Bit instructions: BT/BTS/BTR/BTC (0F A3/AB/B3/BB and group 8, 0F BA), BSF/BSR
 * (0F BC/BD), SETcc (0F 90-9F) and CMOVcc (0F 40-4F).
 * A register bit offset with a memory operand addresses memory beyond the operand
 * (signed offset), as the SDM describes; an immediate offset is taken modulo the width.
 */
import { Ins } from '../decoded.js';
import type { Cpu } from '../cpu.js';
import { condition, materialize, Flag } from '../flags.js';
import { readE16, readE32, writeE8 } from './operands.js';

/** BT family: test, set, reset, complement. */
export const enum BitOp {
  Test = 0,
  Set = 1,
  Reset = 2,
  Complement = 3,
}

function setCF(c: Cpu, bit: number): void {
  materialize(c);
  c.flagsReg = (c.flagsReg & ~Flag.CF) | (bit & 1);
}

function applyBit(kind: number, v: number, bit: number): number {
  const m = 1 << bit;
  switch (kind) {
    case BitOp.Set: return v | m;
    case BitOp.Reset: return v & ~m;
    case BitOp.Complement: return v ^ m;
    default: return v;
  }
}

/** BT family on a 16-bit operand; `sub` = kind, offset from the register or the immediate (`mem` + `imm2` = 1 for the immediate form). */
function bitOp16(c: Cpu, i: number, offset: number, fromImmediate: boolean): void {
  const d = c.store, kind = d[i + Ins.Sub];
  if (d[i + Ins.Mem] === 0) {
    const bit = offset & 15, v = c.r16[d[i + Ins.Rm]];
    setCF(c, v >>> bit);
    if (kind !== BitOp.Test) c.r16[d[i + Ins.Rm]] = applyBit(kind, v, bit);
    return;
  }
  let lin = c.ea(i, 2);
  let bit = offset & 15;
  if (!fromImmediate) {
    const wordIndex = ((offset << 16) >> 16) >> 4;
    lin = (lin + wordIndex * 2) | 0;
    bit = offset & 15;
  }
  const v = c.read16(lin);
  if (kind !== BitOp.Test) c.write16(lin, applyBit(kind, v, bit));
  setCF(c, v >>> bit);
}

function bitOp32(c: Cpu, i: number, offset: number, fromImmediate: boolean): void {
  const d = c.store, kind = d[i + Ins.Sub];
  if (d[i + Ins.Mem] === 0) {
    const bit = offset & 31, v = c.regs[d[i + Ins.Rm]];
    setCF(c, v >>> bit);
    if (kind !== BitOp.Test) c.regs[d[i + Ins.Rm]] = applyBit(kind, v, bit);
    return;
  }
  let lin = c.ea(i, 4);
  const bit = offset & 31;
  if (!fromImmediate) lin = (lin + (offset >> 5) * 4) | 0;
  const v = c.read32(lin);
  if (kind !== BitOp.Test) c.write32(lin, applyBit(kind, v, bit));
  setCF(c, v >>> bit);
}

export function btEwGw(c: Cpu, i: number): void { bitOp16(c, i, c.r16[c.store[i + Ins.Reg]], false); }
export function btEdGd(c: Cpu, i: number): void { bitOp32(c, i, c.regs[c.store[i + Ins.Reg]], false); }
export function btEwIb(c: Cpu, i: number): void { bitOp16(c, i, c.store[i + Ins.Imm], true); }
export function btEdIb(c: Cpu, i: number): void { bitOp32(c, i, c.store[i + Ins.Imm], true); }

function setZF(c: Cpu, zero: boolean): void {
  materialize(c);
  c.flagsReg = (c.flagsReg & ~Flag.ZF) | (zero ? Flag.ZF : 0);
}

/** BSF/BSR: `sub` 0 = forward, 1 = reverse. A zero source sets ZF and leaves the destination unchanged. */
export function bsfGwEw(c: Cpu, i: number): void {
  const v = readE16(c, i);
  setZF(c, v === 0);
  if (v !== 0) c.r16[c.store[i + Ins.Reg]] = c.store[i + Ins.Sub] === 0 ? 31 - Math.clz32(v & -v) : 31 - Math.clz32(v);
}
export function bsfGdEd(c: Cpu, i: number): void {
  const v = readE32(c, i);
  setZF(c, v === 0);
  if (v !== 0) c.regs[c.store[i + Ins.Reg]] = c.store[i + Ins.Sub] === 0 ? 31 - Math.clz32(v & -v) : 31 - Math.clz32(v);
}

/** SETcc r/m8 (`sub` = condition). */
export function setcc(c: Cpu, i: number): void { writeE8(c, i, condition(c, c.store[i + Ins.Sub]) ? 1 : 0); }

/** CMOVcc: the source is always read (it may fault) even when the move does not happen. */
export function cmovGwEw(c: Cpu, i: number): void {
  const v = readE16(c, i);
  if (condition(c, c.store[i + Ins.Sub])) c.r16[c.store[i + Ins.Reg]] = v;
}
export function cmovGdEd(c: Cpu, i: number): void {
  const v = readE32(c, i);
  if (condition(c, c.store[i + Ins.Sub])) c.regs[c.store[i + Ins.Reg]] = v;
}
