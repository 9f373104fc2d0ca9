// x87 control and system behaviour, run as real encoded instructions: integer and BCD
// conversions, compares (FCOM/FUCOM/FCOMI/FTST/FXAM), FCMOVcc, stack faults, #NM,
// deferred #MF and the legacy FERR# output, FSAVE/FRSTOR/FSTENV images and the tag word,
// last-instruction pointers, undocumented aliases and #UD, precise memory faults, Persist.
import { describe, expect, it } from 'vitest';
import { CODE_SEG, EXTRA_SEG, handlerVector, runToFault, runToHalt, topFrame } from '../../../helpers/cpu-program.js';
import { Fpu } from '../../../../src/cpu/fpu/fpu.js';
import { readEnvironment, writeEnvironment } from '../../../../src/cpu/fpu/env.js';
import { cw, dataBytes, dataInt, dbl, expectSt, ext, intBytes, runX87, S, sw, word, X } from './x87-program.js';

const A = 0x00, B = 0x10, OUT = 0x40, SWO = 0x60, CW = 0x70, IMG = 0x100;
const ONE = 0x8000000000000000n;
const INDEFINITE: [number, bigint] = [0xffff, 0xc000000000000000n];
const CR0 = 0x60000010, CR0_MP = 2, CR0_EM = 4, CR0_TS = 8, CR0_NE = 0x20;

describe('x87 integer and BCD conversions', () => {
  it('FILD m16/m32/m64 and FISTP back, exact', () => {
    const vm = runX87([X.fild16(A), X.fistp32(OUT), X.fild64(B), X.fistp64(OUT + 8)],
      { data: { [A]: word(0xfffb), [B]: intBytes(-(1n << 63n), 8) } });
    expect(dataInt(vm, OUT, 4)).toBe(BigInt.asUintN(32, -5n));
    expect(dataInt(vm, OUT + 8, 8)).toBe(1n << 63n);
    expect(sw(vm) & S.FLAGS).toBe(0);
  });

  it('FIST m32 rounds by RC: 2.5 -> 2 to nearest, 3 up; PE and C1', () => {
    let vm = runX87([X.fld64(A), X.fist32(OUT), X.fnstsw(SWO)], { data: { [A]: dbl(2.5) } });
    expect(dataInt(vm, OUT, 4)).toBe(2n);
    expect(Number(dataInt(vm, SWO, 2)) & (S.PE | S.C1)).toBe(S.PE);
    vm = runX87([X.fldcw(CW), X.fld64(A), X.fist32(OUT), X.fnstsw(SWO)], { data: { [A]: dbl(2.5), [CW]: word(cw(2)) } });
    expect(dataInt(vm, OUT, 4)).toBe(3n);
    expect(Number(dataInt(vm, SWO, 2)) & (S.PE | S.C1)).toBe(S.PE | S.C1);
  });

  it('FISTP m16 out of range stores the integer indefinite with IE (masked) and pops', () => {
    const vm = runX87([X.fld64(A), X.fistp16(OUT)], { data: { [A]: dbl(40000) } });
    expect(dataInt(vm, OUT, 2)).toBe(0x8000n);
    expect(sw(vm) & S.FLAGS).toBe(S.IE);
    expect(vm.cpu.fpu.isEmpty(0)).toBe(true);
  });

  it('unmasked IE on FISTP leaves memory and the stack alone and sets ES', () => {
    const vm = runX87([X.fldcw(CW), X.fld64(A), X.fistp16(OUT)],
      { data: { [A]: dbl(-40000), [OUT]: [0x11, 0x22], [CW]: word(cw(0, 3, 0x3e)) } });
    expect(dataBytes(vm, OUT, 2)).toEqual([0x11, 0x22]);
    expect(sw(vm) & (S.IE | S.ES | S.B)).toBe(S.IE | S.ES | S.B);
    expect(vm.cpu.fpu.isEmpty(0)).toBe(false);
  });

  it('FBLD / FBSTP round trip a negative 18-digit number', () => {
    const bcd = [0x78, 0x56, 0x34, 0x12, 0x90, 0x78, 0x56, 0x34, 0x12, 0x80];
    const vm = runX87([X.fbld(A), X.fld(0), X.fistp64(B), X.fbstp(OUT)], { data: { [A]: bcd } });
    expect(dataBytes(vm, OUT, 10)).toEqual(bcd);
    expect(BigInt.asIntN(64, dataInt(vm, B, 8))).toBe(-123456789012345678n);
  });

  it('FBSTP of 10^18 is invalid (BCD indefinite); of -0.25 stores negative zero', () => {
    let vm = runX87([X.fld64(A), X.fbstp(OUT)], { data: { [A]: dbl(1e18) } });
    expect(dataBytes(vm, OUT, 10)).toEqual([0, 0, 0, 0, 0, 0, 0, 0xc0, 0xff, 0xff]);
    expect(sw(vm) & S.FLAGS).toBe(S.IE);
    vm = runX87([X.fld64(A), X.fbstp(OUT)], { data: { [A]: dbl(-0.25) } });
    expect(dataBytes(vm, OUT, 10)).toEqual([0, 0, 0, 0, 0, 0, 0, 0, 0, 0x80]);
    expect(sw(vm) & S.FLAGS).toBe(S.PE);
  });
});

describe('x87 compares', () => {
  const cmp = (a: number, b: number, op: number[]) =>
    Number(dataInt(runX87([X.fld64(B), X.fld64(A), op, X.fnstsw(SWO)], { data: { [A]: dbl(a), [B]: dbl(b) } }), SWO, 2));
  it('FCOM sets C3/C2/C0 for >, <, = (and zeros of both signs are equal)', () => {
    expect(cmp(2, 1, X.fcom(1)) & S.CC).toBe(0);
    expect(cmp(1, 2, X.fcom(1)) & S.CC).toBe(S.C0);
    expect(cmp(2, 2, X.fcom(1)) & S.CC).toBe(S.C3);
    expect(cmp(0, -0, X.fcom(1)) & S.CC).toBe(S.C3);
  });
  it('FCOM of a QNaN is unordered with IE; FUCOM of a QNaN is unordered without', () => {
    expect(cmp(NaN, 1, X.fcom(1)) & (S.CC | S.IE)).toBe(S.C3 | S.C2 | S.C0 | S.IE);
    expect(cmp(NaN, 1, X.fucom(1)) & (S.CC | S.IE)).toBe(S.C3 | S.C2 | S.C0);
  });
  it('FCOMPP and FUCOMPP pop twice; FCOM m64 compares with memory', () => {
    let vm = runX87([X.fld64(B), X.fld64(A), X.fcompp], { data: { [A]: dbl(1), [B]: dbl(3) } });
    expect(sw(vm) & (S.CC | 0x3800)).toBe(S.C0);
    vm = runX87([X.fld64(B), X.fld64(A), X.fucompp], { data: { [A]: dbl(3), [B]: dbl(3) } });
    expect(sw(vm) & (S.CC | 0x3800)).toBe(S.C3);
    vm = runX87([X.fld64(A), X.fcom64(B)], { data: { [A]: dbl(5), [B]: dbl(7) } });
    expect(sw(vm) & S.CC).toBe(S.C0);
  });
  it('FTST and FXAM', () => {
    expect(Number(dataInt(runX87([X.fld64(A), X.ftst, X.fnstsw(SWO)], { data: { [A]: dbl(-1) } }), SWO, 2)) & S.CC).toBe(S.C0);
    const fxam = (bytes: number[]) => sw(runX87([X.fld80(A), X.fxam], { data: { [A]: bytes } })) & S.CC;
    expect(fxam(ext(0x3fff, ONE))).toBe(S.C2);
    expect(fxam(ext(0xffff, ONE))).toBe(S.C2 | S.C0 | S.C1);
    expect(fxam(ext(0x8000, 0n))).toBe(S.C3 | S.C1);
    expect(fxam(ext(0, 5n))).toBe(S.C3 | S.C2);
    expect(fxam(ext(0x7fff, 0xc000000000000001n))).toBe(S.C0);
    expect(fxam(ext(0x4000, 0x4000000000000000n))).toBe(0);
    expect(sw(runX87([X.fxam])) & S.CC).toBe(S.C3 | S.C0);
  });
  it('FCOMI/FUCOMIP write ZF/PF/CF and clear OF/SF/AF', () => {
    const ZF = 0x40, PF = 0x4, CF = 0x1, OF = 0x800, SF = 0x80, AF = 0x10, MASK = ZF | PF | CF | OF | SF | AF;
    const run = (a: number, b: number, op: number[]) => {
      const vm = runX87([X.fld64(B), X.fld64(A), op], { data: { [A]: dbl(a), [B]: dbl(b) }, setup: (v) => v.cpu.setFlags(0x2 | OF | SF | AF) });
      return vm;
    };
    expect(run(2, 1, X.fcomi(1)).cpu.getFlags() & MASK).toBe(0);
    expect(run(1, 2, X.fcomi(1)).cpu.getFlags() & MASK).toBe(CF);
    expect(run(2, 2, X.fcomi(1)).cpu.getFlags() & MASK).toBe(ZF);
    const vm = run(NaN, 2, X.fucomip(1));
    expect(vm.cpu.getFlags() & MASK).toBe(ZF | PF | CF);
    expect(sw(vm) & (S.IE | 0x3800)).toBe(7 << 11);
    expect(sw(run(NaN, 2, X.fcomi(1))) & S.IE).toBe(S.IE);
  });
  it('FCMOVB moves only when CF is set', () => {
    let vm = runX87([X.stc, X.fld1, X.fldz, X.fcmovb(1)]);
    expectSt(vm, 0, 0x3fff, ONE);
    vm = runX87([X.clc, X.fld1, X.fldz, X.fcmovb(1)]);
    expectSt(vm, 0, 0, 0n);
    vm = runX87([X.clc, X.fld1, X.fldz, X.fcmovnb(1)]);
    expectSt(vm, 0, 0x3fff, ONE);
  });
});

describe('x87 condition codes the SDM leaves open, as Intel hardware sets them (host-CPU differential test)', () => {
  const CC = S.C0 | S.C1 | S.C2 | S.C3;
  /** Run `code` from FNINIT state with the condition codes preset to `preset`. */
  const withCc = (preset: number, code: number[][], data: Record<number, number[]> = {}) =>
    runX87(code, { data, noInit: true, setup: (v) => { v.cpu.fpu.init(); v.cpu.fpu.setStatusWord(preset); } });

  it('FCMOVcc and FCOMI leave C1 alone unless the stack underflows', () => {
    // The loads clear C1; 1 / 3 (FDIVP: ST(1) / ST(0)) rounds up to nearest and sets it again.
    const third = [X.fld1, X.fld1, X.fld1, X.faddp, X.fld1, X.faddp, X.fdivp];
    const c1 = (code: number[][]) => sw(withCc(0, [...third, ...code])) & (S.C1 | S.SF);
    expect(c1([])).toBe(S.C1);
    expect(c1([X.stc, X.fcmovb(0)])).toBe(S.C1);
    expect(c1([X.clc, X.fcmovb(0)])).toBe(S.C1);
    expect(c1([X.fcomi(0)])).toBe(S.C1);
    expect(c1([X.fcmovb(3)])).toBe(S.SF);
  });
  it('FPREM/FPREM1 without a quotient (invalid, NaN, underflow) clear C1 and C2 and keep C0 and C3', () => {
    const inf = { [A]: ext(0x7fff, ONE), [B]: dbl(2) };
    expect(sw(withCc(CC, [X.fld64(B), X.fld80(A), X.fprem], inf)) & (CC | S.IE)).toBe(S.C0 | S.C3 | S.IE);
    expect(sw(withCc(CC, [X.fld64(B), X.fld64(A), X.fprem1], { [A]: dbl(NaN), [B]: dbl(2) })) & CC).toBe(S.C0 | S.C3);
    expect(sw(withCc(CC, [X.fld1, X.fprem])) & (CC | S.SF)).toBe(S.C0 | S.C3 | S.SF);
    // A complete reduction writes all four: 7 = 3 * 2 + 1 gives Q = 3 (C3 = Q1, C1 = Q0).
    expect(sw(withCc(CC, [X.fld64(B), X.fld64(A), X.fprem], { [A]: dbl(7), [B]: dbl(2) })) & CC).toBe(S.C3 | S.C1);
  });
  it('FXAM of an empty register reports the sign of its stale contents in C1', () => {
    expect(sw(withCc(0, [X.fld64(A), X.ffree(0), X.fxam], { [A]: dbl(-2) })) & CC).toBe(S.C3 | S.C0 | S.C1);
  });
  it('FFREE clears C1', () => {
    expect(sw(withCc(CC, [X.fld1, X.ffree(0)])) & CC).toBe(S.C0 | S.C2 | S.C3);
  });
  it('FLD ST(i) of an empty register on a full stack is an underflow (C1 = 0) and pushes the indefinite', () => {
    const vm = withCc(0, [...Array(7).fill(X.fld1), X.fdecstp, X.fld(0)]);
    expect(sw(vm) & (S.FLAGS | S.C1)).toBe(S.IE | S.SF);
    expectSt(vm, 0, ...INDEFINITE);
  });
  it('FSINCOS/FPTAN/FXTRACT of an empty ST(0) push the second indefinite even onto a full stack; stack faults clear C2', () => {
    for (const op of [X.fsincos, X.fptan, X.fxtract]) {
      const vm = withCc(S.C2, [...Array(7).fill(X.fld1), X.fdecstp, op]);
      expect(vm.cpu.fpu.top).toBe(7);
      expectSt(vm, 0, ...INDEFINITE);
      expectSt(vm, 1, ...INDEFINITE);
    }
    expect(sw(withCc(S.C2, [...Array(8).fill(X.fld1), X.fsincos])) & (S.C2 | S.C1)).toBe(S.C1);
    expect(sw(withCc(S.C2, [X.fsin])) & S.C2).toBe(0);
  });
  it('F2XM1 leaves C2 alone; FSIN out of range sets C2 and clears C1', () => {
    expect(sw(withCc(S.C2, [X.fld1, X.f2xm1])) & S.C2).toBe(S.C2);
    expect(sw(withCc(S.C1, [X.fld64(A), X.fsin], { [A]: dbl(2 ** 70) })) & (S.C2 | S.C1)).toBe(S.C2);
  });
});

describe('x87 stack faults', () => {
  it('a ninth push overflows: IE + SF + C1, ST(0) becomes the indefinite (masked)', () => {
    const vm = runX87([...Array(9).fill(X.fld1)]);
    expect(sw(vm) & (S.FLAGS | S.C1 | 0x3800)).toBe(S.IE | S.SF | S.C1 | (7 << 11));
    expectSt(vm, 0, ...INDEFINITE);
  });
  it('unmasked stack overflow pushes nothing', () => {
    const vm = runX87([X.fldcw(CW), ...Array(9).fill(X.fld1)], { data: { [CW]: word(cw(0, 3, 0x3e)) } });
    expect(sw(vm) & (S.IE | S.SF | S.ES | 0x3800)).toBe(S.IE | S.SF | S.ES);
    expectSt(vm, 0, 0x3fff, ONE);
  });
  it('reading an empty register underflows: IE + SF, C1 = 0, destination indefinite', () => {
    const vm = runX87([X.fld1, X.fadd(3)]);
    expect(sw(vm) & (S.FLAGS | S.C1)).toBe(S.IE | S.SF);
    expectSt(vm, 0, ...INDEFINITE);
  });
  it('FSTP m64 from an empty stack stores the double indefinite', () => {
    const vm = runX87([X.fstp64(OUT)]);
    expect(dataInt(vm, OUT, 8)).toBe(0xfff8000000000000n);
    expect(sw(vm) & S.FLAGS).toBe(S.IE | S.SF);
  });
  it('FINCSTP/FDECSTP move TOP without changing tags; FFREE empties a register', () => {
    const vm = runX87([X.fld1, X.fldz, X.fincstp, X.ffree(0)]);
    expect(vm.cpu.fpu.top).toBe(7);
    expect(vm.cpu.fpu.isEmpty(0)).toBe(true);
    expect(vm.cpu.fpu.isEmpty(7)).toBe(false);
  });
});

describe('x87 exceptions to the CPU', () => {
  // FNINIT; FLDCW (ZE unmasked); FLD1; FLDZ; FDIVP: 2+4+2+2+2 = 12 bytes.
  const divideByZero = [X.fldcw(CW), X.fld1, X.fldz, X.fdivp];
  const data = { [CW]: word(cw(0, 3, 0x3b)) };

  it('an unmasked ZE is not reported by the instruction that caused it (no result, no pop)', () => {
    const vm = runX87(divideByZero, { data });
    expect(sw(vm) & (S.ZE | S.ES | 0x3800)).toBe(S.ZE | S.ES | (6 << 11));
    expectSt(vm, 0, 0, 0n);
    expectSt(vm, 1, 0x3fff, ONE);
  });

  it('CR0.NE = 1: the next waiting instruction raises #MF (vector 16) before executing; FNSTSW does not', () => {
    const vm = runX87([...divideByZero, X.fnstsw(SWO), X.fnop, X.fld1], { data, cr0: CR0 | CR0_NE, expectFault: true });
    const frame = runToFault(vm, 16);
    expect(frame.cs).toBe(CODE_SEG);
    expect(frame.ip).toBe(16); // the FNOP after the 4-byte FNSTSW
    expect(Number(dataInt(vm, SWO, 2)) & S.ES).toBe(S.ES);
    expect(vm.cpu.fpu.top).toBe(6);
  });

  it('WAIT reports the pending exception too', () => {
    const vm = runX87([...divideByZero, X.fwait], { data, cr0: CR0 | CR0_NE, expectFault: true });
    expect(runToFault(vm, 16).ip).toBe(12);
  });

  it('CR0.NE = 0: FERR# is asserted at the next waiting instruction and dropped by FNCLEX', () => {
    const early: boolean[] = [];
    const vm = runX87([...divideByZero], { data, setup: (v) => { v.cpu.fpu.onFerr = (on) => early.push(on); } });
    expect(early).toEqual([]);
    expect(vm.cpu.fpu.ferr).toBe(false);
    const calls: boolean[] = [];
    const vm2 = runX87([...divideByZero, X.fnop, X.fld1, X.fnclex, X.fld1], { data, setup: (v) => { v.cpu.fpu.onFerr = (on) => calls.push(on); } });
    expect(calls).toEqual([true, false]);
    expect(vm2.cpu.fpu.ferr).toBe(false);
    expectSt(vm2, 0, 0x3fff, ONE);
  });

  it('#NM: CR0.EM faults every escape but not WAIT; CR0.TS faults escapes, WAIT only with MP', () => {
    let vm = runX87([X.fld1], { noInit: true, cr0: CR0 | CR0_EM, expectFault: true });
    expect(runToFault(vm, 7).ip).toBe(0);
    vm = runX87([X.fwait], { noInit: true, cr0: CR0 | CR0_EM });
    vm = runX87([X.fld1], { noInit: true, cr0: CR0 | CR0_TS, expectFault: true });
    runToFault(vm, 7);
    vm = runX87([X.fwait], { noInit: true, cr0: CR0 | CR0_TS });
    vm = runX87([X.fwait], { noInit: true, cr0: CR0 | CR0_TS | CR0_MP, expectFault: true });
    runToFault(vm, 7);
    vm = runX87([X.fninit], { noInit: true, cr0: CR0 | CR0_TS, expectFault: true });
    runToFault(vm, 7);
  });
});

describe('x87 state images', () => {
  it('FNSAVE (16-bit real mode): environment, tag word, registers in stack order, then FNINIT; FRSTOR restores', () => {
    // FNINIT(2) FLD1(2) FLDPI(2) FLDZ at offset 6, FNSAVE.
    const vm = runX87([X.fld1, X.fldpi, X.fldz, X.fnsave(IMG)]);
    const img = (k: number) => Number(dataInt(vm, IMG + k, 2));
    expect(img(0)).toBe(0x037f);
    expect(img(2)).toBe(5 << 11);
    expect(img(4)).toBe(0x07ff); // phys 0-4 empty, 5 zero, 6 and 7 valid
    expect(img(6)).toBe(0x1006); // linear FIP of FLDZ (CS 0x100: 0x1000 + 6)
    expect(img(8)).toBe(0x1ee); // FOP of D9 EE
    expect(dataBytes(vm, IMG + 14, 10)).toEqual(ext(0, 0n));
    expect(dataBytes(vm, IMG + 24, 10)).toEqual(ext(0x4000, 0xc90fdaa22168c235n));
    expect(dataBytes(vm, IMG + 34, 10)).toEqual(ext(0x3fff, ONE));
    const f = vm.cpu.fpu;
    expect([f.cw, f.statusWord(), f.tagWord()]).toEqual([0x037f, 0, 0xffff]);

    const vm2 = runX87([X.fld1, X.fldpi, X.fldz, X.fnsave(IMG), X.frstor(IMG)]);
    expect([vm2.cpu.fpu.top, vm2.cpu.fpu.tagWord()]).toEqual([5, 0x07ff]);
    expectSt(vm2, 1, 0x4000, 0xc90fdaa22168c235n);
    expectSt(vm2, 2, 0x3fff, ONE);
  });

  it('FNSAVE with a 32-bit operand size writes the 108-byte image with reserved halves 0xFFFF', () => {
    const vm = runX87([X.fld1, [0x66, ...X.fnsave(IMG)]]);
    expect(dataInt(vm, IMG, 4)).toBe(0xffff037fn);
    expect(dataInt(vm, IMG + 4, 4)).toBe(0xffff0000n | BigInt(7 << 11));
    expect(dataInt(vm, IMG + 12, 4)).toBe(0xffff0000n | 0x1002n);
    expect(dataInt(vm, IMG + 16, 4)).toBe(0x1e8n);
    expect(dataBytes(vm, IMG + 28, 10)).toEqual(ext(0x3fff, ONE));
  });

  it('FNSTENV masks all exceptions after storing; FLDENV loads tags and a pending flag', () => {
    let vm = runX87([X.fldcw(CW), X.fnstenv(IMG)], { data: { [CW]: word(cw(0, 3, 0)) } });
    expect(dataInt(vm, IMG, 2)).toBe(BigInt(cw(0, 3, 0)));
    expect(vm.cpu.fpu.cw).toBe(cw(0, 3, 0x3f));
    // Environment: CW with ZE unmasked, SW with ZE set and TOP 3, TW all valid except empty phys 7.
    const env = [...word(cw(0, 3, 0x3b)), ...word(S.ZE | (3 << 11)), ...word(0xc000), 0, 0, 0, 0, 0, 0, 0, 0];
    vm = runX87([X.fldenv(IMG)], { data: { [IMG]: env } });
    expect(vm.cpu.fpu.top).toBe(3);
    expect(vm.cpu.fpu.empty).toBe(0x80);
    expect(sw(vm) & (S.ES | S.ZE)).toBe(S.ES | S.ZE);
  });

  it('environment layouts: protected-mode 32-bit and 16-bit images and their round trip', () => {
    const env = { cw: 0x037f, sw: 0x3800, tw: 0x5aff, fip: 0x12345678, fcs: 0x0008, fop: 0x5ee, fdp: 0x9abcdef0, fds: 0x0010 };
    const b32 = new Uint8Array(28);
    writeEnvironment(b32, env, { protectedMode: true, op32: true });
    const dw = (k: number) => (b32[k] | (b32[k + 1] << 8) | (b32[k + 2] << 16) | (b32[k + 3] << 24)) >>> 0;
    expect([dw(0), dw(4), dw(8), dw(12), dw(16), dw(20), dw(24)]).toEqual(
      [0xffff037f, 0xffff3800, 0xffff5aff, 0x12345678, 0x05ee0008, 0x9abcdef0, 0xffff0010]);
    expect(readEnvironment(b32, { protectedMode: true, op32: true })).toEqual(env);
    const b16 = new Uint8Array(14);
    writeEnvironment(b16, env, { protectedMode: true, op32: false });
    expect(Array.from(b16)).toEqual([0x7f, 0x03, 0x00, 0x38, 0xff, 0x5a, 0x78, 0x56, 0x08, 0x00, 0xf0, 0xde, 0x10, 0x00]);
    const real = new Uint8Array(28);
    writeEnvironment(real, { ...env, fcs: 0x1000, fip: 0x0234, fds: 0x2000, fdp: 0x10 }, { protectedMode: false, op32: true });
    const back = readEnvironment(real, { protectedMode: false, op32: true });
    expect([back.fip, back.fop, back.fdp]).toEqual([0x10234, 0x5ee, 0x20010]);
  });
});

describe('x87 last-instruction pointers', () => {
  it('FIP includes prefixes, FOP is 11 bits, FDP/FDS name the memory operand; control instructions keep them', () => {
    // FNINIT(2) FLD1(2), then ES: FADD dword [0x20] at offset 4, then FNSTCW.
    const vm = runX87([X.fld1, [0x26, ...X.fadd32(0x20)], X.fnstcw(CW)], { data: {} });
    const f = vm.cpu.fpu;
    expect([f.fip, f.fcs, f.fop, f.fdp, f.fds]).toEqual([4, CODE_SEG, 0x006, 0x20, EXTRA_SEG]);
  });
});

describe('x87 encodings', () => {
  it('undocumented aliases: FSTP1, FXCH4, FCOMP5, FFREEP, FSTP8', () => {
    let vm = runX87([X.fld1, X.fldz, [0xd9, 0xd9]]); // FSTP1 ST(1)
    expectSt(vm, 0, 0, 0n);
    vm = runX87([X.fld1, X.fldz, [0xdd, 0xc9]]); // FXCH4 ST(1)
    expectSt(vm, 0, 0x3fff, ONE);
    vm = runX87([X.fld1, X.fldz, [0xde, 0xd1], X.fnstsw(SWO)]); // FCOMP5 ST(1): 0 < 1, pop
    expect(Number(dataInt(vm, SWO, 2)) & (S.CC | 0x3800)).toBe(S.C0 | (7 << 11));
    vm = runX87([X.fld1, X.fldz, [0xdf, 0xc0]]); // FFREEP ST(0)
    expect([vm.cpu.fpu.top, vm.cpu.fpu.isEmpty(0), vm.cpu.fpu.isEmpty(7)]).toEqual([7, false, true]);
    vm = runX87([X.fld1, X.fldz, [0xdf, 0xd1]]); // FSTP8 ST(1)
    expectSt(vm, 0, 0, 0n);
  });
  for (const [name, bytes] of [['D9 D1', [0xd9, 0xd1]], ['D9 /1 m', [0xd9, 0x0e, 0, 0]], ['DB /1 m (FISTTP)', [0xdb, 0x0e, 0, 0]],
    ['DD F0', [0xdd, 0xf0]], ['DE D8', [0xde, 0xd8]], ['DF E1', [0xdf, 0xe1]], ['DB E5', [0xdb, 0xe5]], ['DA E8', [0xda, 0xe8]]] as const) {
    it(`${name} is #UD`, () => {
      const vm = runX87([[...bytes]], { expectFault: true });
      expect(runToFault(vm, 6).ip).toBe(2);
    });
  }
  it('FNENI/FNDISI/FNSETPM do nothing; FNOP is accepted', () => {
    const vm = runX87([[0xdb, 0xe0], [0xdb, 0xe1], [0xdb, 0xe4], X.fnop]);
    expect(sw(vm)).toBe(0);
  });
});

describe('x87 precise memory faults', () => {
  it('FSTP m80 past the segment limit faults (#GP) with the stack and memory unchanged', () => {
    const vm = runX87([X.fld1, X.fstp80(0xfff8)], { expectFault: true });
    runToFault(vm, 13);
    expect(vm.cpu.fpu.top).toBe(7);
    expectSt(vm, 0, 0x3fff, ONE);
    expect(dataBytes(vm, 0xfff8, 8)).toEqual([0, 0, 0, 0, 0, 0, 0, 0]);
  });
  it('FNSAVE past the limit faults before initializing the FPU', () => {
    const vm = runX87([X.fld1, X.fnsave(0xffc0)], { expectFault: true });
    runToFault(vm, 13);
    expect(vm.cpu.fpu.top).toBe(7);
    expect(vm.cpu.fpu.cw).toBe(0x037f);
    expectSt(vm, 0, 0x3fff, ONE);
  });
  it('the fault frame points at the faulting x87 instruction', () => {
    const vm = runX87([X.fld1, X.fistp32(0xfffe)], { expectFault: true });
    runToHalt(vm);
    expect(handlerVector(vm)).toBe(13);
    expect(topFrame(vm).ip).toBe(4);
  });
});

describe('x87 reset, init and Persist', () => {
  it('RESET state differs from FNINIT: CW 0040, tag word 5555 (all +0, valid)', () => {
    const f = new Fpu();
    expect([f.cw, f.statusWord(), f.tagWord()]).toEqual([0x0040, 0, 0x5555]);
    f.init();
    expect([f.cw, f.statusWord(), f.tagWord()]).toEqual([0x037f, 0, 0xffff]);
  });
  it('FLDCW keeps bits 0-5 and 8-12, forces bit 6', () => {
    const vm = runX87([X.fldcw(CW), X.fnstcw(OUT)], { data: { [CW]: word(0xffff) } });
    expect(dataInt(vm, OUT, 2)).toBe(0x1f7fn);
  });
  it('save/restore round-trips the whole state through plain data', () => {
    const vm = runX87([X.fld1, X.fldpi, X.fldcw(CW), X.fldz, X.fdivp], { data: { [CW]: word(cw(1, 2, 0x3b)) } });
    const saved = JSON.parse(JSON.stringify(vm.cpu.fpu.save()));
    const g = new Fpu();
    g.restore(saved);
    expect(g.save()).toEqual(vm.cpu.fpu.save());
    expect(g.pending).toBe(true);
    expect(g.get(1).sig).toBe(0xc90fdaa22168c235n);
  });
  it('restore rejects bad fields by name', () => {
    const good = new Fpu().save();
    expect(() => new Fpu().restore({ ...good, cw: 0x80 })).toThrow(/'cw'/);
    expect(() => new Fpu().restore({ ...good, sigHi: [0, 0, 0, 0, 0, 0, 0, 2 ** 32] })).toThrow(/sigHi\[7\]/);
    expect(() => new Fpu().restore({ ...good, top: 3 })).toThrow(/'top'/);
    expect(() => new Fpu().restore({ ...good, ferr: true })).toThrow(/'ferr'/);
    expect(() => new Fpu().restore({ ...good, version: 9 })).toThrow(/version/);
  });
});
