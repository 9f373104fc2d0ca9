/**
 * Decimal adjust instructions: DAA, DAS, AAA, AAS, AAM, AAD (27, 2F, 37, 3F, D4, D5).
 * Flags the SDM calls undefined are set as the P6 family does (SF/ZF/PF from AL for
 * AAA/AAS; OF from the signed addition for DAA and AAD).
 */
import { Ins } from '../decoded.js';
import type { Cpu } from '../cpu.js';
import { VEC_DE } from '../exceptions.js';
import { getAF, getCF, materialize, setLogic, setResultWith, Flag } from '../flags.js';

/** DAA: decimal adjust AL after addition (SDM pseudo-code, OF as P6 sets it). */
export function daa(c: Cpu): void {
  const oldAl = c.r8[0], oldCf = getCF(c);
  let al = oldAl, cf = 0, af = 0;
  if ((al & 0x0f) > 9 || getAF(c) !== 0) {
    cf = oldCf | ((al + 6) >> 8);
    al = (al + 6) & 0xff;
    af = 1;
  }
  if (oldAl > 0x99 || oldCf !== 0) {
    al = (al + 0x60) & 0xff;
    cf = 1;
  } else {
    cf = 0;
  }
  c.r8[0] = al;
  setResultWith(c, al, 8, cf, (~oldAl & al & 0x80) !== 0 ? 1 : 0, af);
}

/** DAS: decimal adjust AL after subtraction (SDM pseudo-code). */
export function das(c: Cpu): void {
  const oldAl = c.r8[0], oldCf = getCF(c);
  let al = oldAl, cf = 0, af = 0;
  if ((al & 0x0f) > 9 || getAF(c) !== 0) {
    cf = oldCf | (al < 6 ? 1 : 0);
    al = (al - 6) & 0xff;
    af = 1;
  }
  if (oldAl > 0x99 || oldCf !== 0) {
    al = (al - 0x60) & 0xff;
    cf = 1;
  }
  c.r8[0] = al;
  setResultWith(c, al, 8, cf, (oldAl & ~al & 0x80) !== 0 ? 1 : 0, af);
}

/** AAA: adjust AL after unpacked BCD addition (AH incremented on carry). */
export function aaa(c: Cpu): void {
  const adjust = (c.r8[0] & 0x0f) > 9 || getAF(c) !== 0;
  if (adjust) {
    c.r16[0] = c.r16[0] + 0x106;
  }
  c.r8[0] = c.r8[0] & 0x0f;
  setAdjustFlags(c, adjust);
}

/** AAS: adjust AL after unpacked BCD subtraction. */
export function aas(c: Cpu): void {
  const adjust = (c.r8[0] & 0x0f) > 9 || getAF(c) !== 0;
  if (adjust) {
    c.r16[0] = c.r16[0] - 6;
    c.r8[1] = c.r8[1] - 1;
  }
  c.r8[0] = c.r8[0] & 0x0f;
  setAdjustFlags(c, adjust);
}

function setAdjustFlags(c: Cpu, adjust: boolean): void {
  setLogic(c, c.r8[0], 8);
  materialize(c);
  c.flagsReg = (c.flagsReg & ~(Flag.AF | Flag.CF | Flag.OF)) | (adjust ? Flag.AF | Flag.CF : 0);
}

/** AAM imm8: AH = AL / imm, AL = AL % imm; #DE when imm is 0. */
export function aam(c: Cpu, i: number): void {
  const base = c.store[i + Ins.Imm] & 0xff;
  if (base === 0) c.raise(VEC_DE);
  const al = c.r8[0];
  c.r8[1] = Math.floor(al / base);
  c.r8[0] = al % base;
  setLogic(c, c.r8[0], 8);
}

/** AAD imm8: AL = AL + AH * imm, AH = 0. */
export function aad(c: Cpu, i: number): void {
  const base = c.store[i + Ins.Imm] & 0xff;
  const a = c.r8[0], b = (c.r8[1] * base) & 0xff;
  const r = a + b;
  c.r16[0] = r & 0xff;
  // Flags as for the 8-bit addition AL + (AH * imm).
  setResultWith(c, r, 8, r > 0xff ? 1 : 0, ((a ^ r) & (b ^ r) & 0x80) !== 0 ? 1 : 0, ((a ^ b ^ r) & 0x10) !== 0 ? 1 : 0);
}
