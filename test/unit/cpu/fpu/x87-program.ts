/**
 * Test helper for the x87 instruction tests: hand-assembled encodings of the x87
 * instructions (memory operands as [disp16] in DS = DATA_SEG), 80-bit/64-bit/32-bit data
 * builders, and a runner that boots a real-mode CPU on the program (FNINIT first unless
 * asked otherwise) and runs it to its final HLT.
 */
import { expect } from 'vitest';
import { boot, DATA_BASE, runToCodeHalt } from '../../../helpers/cpu-program.js';
import type { BareCpu } from '../../../helpers/real-mode-cpu.js';

/** ESC opcode with a [disp16] memory operand and ModRM.reg = `reg`. */
export function mem(op: number, reg: number, disp: number): number[] {
  return [op, (reg << 3) | 6, disp & 0xff, (disp >> 8) & 0xff];
}

/** ESC opcode, register form with ModRM.reg = `reg` and r/m = `i`. */
export function regForm(op: number, reg: number, i: number): number[] {
  return [op, 0xc0 | (reg << 3) | i];
}

/** Encodings by mnemonic (memory forms take the data offset). */
export const X = {
  fld80: (d: number) => mem(0xdb, 5, d), fstp80: (d: number) => mem(0xdb, 7, d),
  fld64: (d: number) => mem(0xdd, 0, d), fst64: (d: number) => mem(0xdd, 2, d), fstp64: (d: number) => mem(0xdd, 3, d),
  fld32: (d: number) => mem(0xd9, 0, d), fst32: (d: number) => mem(0xd9, 2, d), fstp32: (d: number) => mem(0xd9, 3, d),
  fldcw: (d: number) => mem(0xd9, 5, d), fnstcw: (d: number) => mem(0xd9, 7, d), fnstsw: (d: number) => mem(0xdd, 7, d),
  fild16: (d: number) => mem(0xdf, 0, d), fild32: (d: number) => mem(0xdb, 0, d), fild64: (d: number) => mem(0xdf, 5, d),
  fist16: (d: number) => mem(0xdf, 2, d), fistp16: (d: number) => mem(0xdf, 3, d), fist32: (d: number) => mem(0xdb, 2, d),
  fistp32: (d: number) => mem(0xdb, 3, d), fistp64: (d: number) => mem(0xdf, 7, d),
  fbld: (d: number) => mem(0xdf, 4, d), fbstp: (d: number) => mem(0xdf, 6, d),
  fnsave: (d: number) => mem(0xdd, 6, d), frstor: (d: number) => mem(0xdd, 4, d),
  fnstenv: (d: number) => mem(0xd9, 6, d), fldenv: (d: number) => mem(0xd9, 4, d),
  fadd32: (d: number) => mem(0xd8, 0, d), fcom64: (d: number) => mem(0xdc, 2, d), fiadd16: (d: number) => mem(0xde, 0, d),
  fidivr32: (d: number) => mem(0xda, 7, d), fsub64: (d: number) => mem(0xdc, 4, d), fsubr64: (d: number) => mem(0xdc, 5, d),
  faddp: [0xde, 0xc1], fmulp: [0xde, 0xc9], fsubp: [0xde, 0xe9], fsubrp: [0xde, 0xe1], fdivp: [0xde, 0xf9], fdivrp: [0xde, 0xf1],
  fadd: (i: number) => regForm(0xd8, 0, i), fsubSt0: (i: number) => regForm(0xd8, 4, i), fsubrSt0: (i: number) => regForm(0xd8, 5, i),
  fsubToSti: (i: number) => regForm(0xdc, 5, i), fsubrToSti: (i: number) => regForm(0xdc, 4, i),
  fdivToSti: (i: number) => regForm(0xdc, 7, i), fdivrToSti: (i: number) => regForm(0xdc, 6, i),
  fsqrt: [0xd9, 0xfa], fld1: [0xd9, 0xe8], fldl2t: [0xd9, 0xe9], fldl2e: [0xd9, 0xea], fldpi: [0xd9, 0xeb],
  fldlg2: [0xd9, 0xec], fldln2: [0xd9, 0xed], fldz: [0xd9, 0xee],
  fninit: [0xdb, 0xe3], fnclex: [0xdb, 0xe2], fwait: [0x9b], fnop: [0xd9, 0xd0], fnstswAx: [0xdf, 0xe0],
  fcom: (i: number) => regForm(0xd8, 2, i), fcomp: (i: number) => regForm(0xd8, 3, i), fcompp: [0xde, 0xd9],
  fucom: (i: number) => regForm(0xdd, 4, i), fucompp: [0xda, 0xe9],
  fcomi: (i: number) => regForm(0xdb, 6, i), fucomi: (i: number) => regForm(0xdb, 5, i), fcomip: (i: number) => regForm(0xdf, 6, i),
  fucomip: (i: number) => regForm(0xdf, 5, i),
  fxam: [0xd9, 0xe5], ftst: [0xd9, 0xe4], fprem: [0xd9, 0xf8], fprem1: [0xd9, 0xf5], fxtract: [0xd9, 0xf4],
  fscale: [0xd9, 0xfd], frndint: [0xd9, 0xfc], fchs: [0xd9, 0xe0], fabs: [0xd9, 0xe1],
  fsin: [0xd9, 0xfe], fcos: [0xd9, 0xff], fsincos: [0xd9, 0xfb], fptan: [0xd9, 0xf2], fpatan: [0xd9, 0xf3],
  f2xm1: [0xd9, 0xf0], fyl2x: [0xd9, 0xf1], fyl2xp1: [0xd9, 0xf9],
  fxch: (i: number) => regForm(0xd9, 1, i), fld: (i: number) => regForm(0xd9, 0, i), fst: (i: number) => regForm(0xdd, 2, i),
  fstp: (i: number) => regForm(0xdd, 3, i), ffree: (i: number) => regForm(0xdd, 0, i),
  fincstp: [0xd9, 0xf7], fdecstp: [0xd9, 0xf6],
  fcmovb: (i: number) => regForm(0xda, 0, i), fcmovnb: (i: number) => regForm(0xdb, 0, i),
  fcmove: (i: number) => regForm(0xda, 1, i), fcmovu: (i: number) => regForm(0xda, 3, i),
  stc: [0xf9], clc: [0xf8],
};

/** An 80-bit value as 10 little-endian bytes. */
export function ext(se: number, sig: bigint): number[] {
  const b: number[] = [];
  for (let k = 0; k < 8; k++) b.push(Number((sig >> BigInt(8 * k)) & 0xffn));
  b.push(se & 0xff, (se >> 8) & 0xff);
  return b;
}

/** A double as 8 bytes. */
export function dbl(x: number): number[] {
  return Array.from(new Uint8Array(new Float64Array([x]).buffer));
}

/** A 16-bit word as 2 bytes. */
export function word(v: number): number[] {
  return [v & 0xff, (v >> 8) & 0xff];
}

/** Little-endian bytes of a `size`-byte integer. */
export function intBytes(v: bigint, size: number): number[] {
  const u = BigInt.asUintN(size * 8, v);
  const b: number[] = [];
  for (let k = 0; k < size; k++) b.push(Number((u >> BigInt(8 * k)) & 0xffn));
  return b;
}

/** Options for `runX87`. */
export interface X87Options {
  /** Data bytes by offset in DATA_SEG. */
  data?: Record<number, number[]>;
  /** CR0 value to run with. */
  cr0?: number;
  /** Leave out the leading FNINIT (the FPU then starts in its RESET state). */
  noInit?: boolean;
  /** Do not require the program to reach its own HLT (a fault is expected). */
  expectFault?: boolean;
  /** Called after boot, before running. */
  setup?: (vm: BareCpu) => void;
}

/** Boot `code` (instructions, then HLT) and run it. */
export function runX87(code: number[][], options: X87Options = {}): BareCpu {
  const program = [...(options.noInit ? [] : X.fninit), ...code.flat(), 0xf4];
  const vm = boot(program);
  for (const [off, bytes] of Object.entries(options.data ?? {})) vm.memory.writeBytes(DATA_BASE + Number(off), Uint8Array.from(bytes));
  if (options.cr0 !== undefined) vm.cpu.cr0 = options.cr0;
  options.setup?.(vm);
  if (!options.expectFault) runToCodeHalt(vm);
  return vm;
}

/** Bytes of guest data at DATA_SEG:off. */
export function dataBytes(vm: BareCpu, off: number, n: number): number[] {
  const out: number[] = [];
  for (let k = 0; k < n; k++) out.push(vm.memory.read8(DATA_BASE + off + k));
  return out;
}

/** A little-endian unsigned integer of `size` bytes at DATA_SEG:off. */
export function dataInt(vm: BareCpu, off: number, size: number): bigint {
  const b = dataBytes(vm, off, size);
  let v = 0n;
  for (let k = size - 1; k >= 0; k--) v = (v << 8n) | BigInt(b[k]);
  return v;
}

/** ST(k) as [sign+exponent, significand]. */
export function st(vm: BareCpu, k: number): [number, bigint] {
  const f = vm.cpu.fpu;
  const r = f.phys(k);
  return [f.se[r], f.sig[r]];
}

/** Expect ST(k) to hold exactly `se`:`sig`. */
export function expectSt(vm: BareCpu, k: number, se: number, sig: bigint): void {
  const [gotSe, gotSig] = st(vm, k);
  expect(vm.cpu.fpu.isEmpty(k), `ST(${k}) empty`).toBe(false);
  expect(`${gotSe.toString(16)}:${gotSig.toString(16)}`, `ST(${k})`).toBe(`${se.toString(16)}:${sig.toString(16)}`);
}

/** The status word. */
export function sw(vm: BareCpu): number {
  return vm.cpu.fpu.statusWord();
}

/** Status-word bits. */
export const S = {
  IE: 0x01, DE: 0x02, ZE: 0x04, OE: 0x08, UE: 0x10, PE: 0x20, SF: 0x40, ES: 0x80,
  C0: 0x100, C1: 0x200, C2: 0x400, C3: 0x4000, B: 0x8000, FLAGS: 0x7f, CC: 0x4700,
};

/** Control word with rounding control `rc`, precision control `pc` and masks `masks`. */
export function cw(rc: number, pc = 3, masks = 0x3f): number {
  return 0x40 | masks | (pc << 8) | (rc << 10);
}
