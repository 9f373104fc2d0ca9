// x87 transcendental instructions run as encoded instructions: the special cases this FPU
// owns (zeros, infinities, out-of-range operands with C2, FPTAN's pushed 1.0, PE on every
// nonzero result) and a few values checked by reasoning (pi/4, log2 of powers of two).
import { describe, expect, it } from 'vitest';
import { dataInt, dbl, expectSt, ext, runX87, S, sw, X } from './x87-program.js';

const A = 0x00, B = 0x10, SWO = 0x60;
const ONE = 0x8000000000000000n;

describe('x87 transcendentals', () => {
  it('FSIN(+0) = +0 and FCOS(-0) = 1, exactly (no PE)', () => {
    let vm = runX87([X.fldz, X.fsin]);
    expectSt(vm, 0, 0, 0n);
    vm = runX87([X.fldz, X.fchs, X.fcos]);
    expectSt(vm, 0, 0x3fff, ONE);
    expect(sw(vm) & S.FLAGS).toBe(0);
  });

  it('FSIN/FPTAN of |x| >= 2^63 set C2 and leave the operand', () => {
    let vm = runX87([X.fld80(A), X.fsin], { data: { [A]: ext(0x403e, ONE) } });
    expect(sw(vm) & S.C2).toBe(S.C2);
    expectSt(vm, 0, 0x403e, ONE);
    vm = runX87([X.fld80(A), X.fptan], { data: { [A]: ext(0xc040, ONE) } });
    expect(sw(vm) & (S.C2 | 0x3800)).toBe(S.C2 | (7 << 11));
  });

  it('FPTAN pushes 1.0 after tan(x); tan(0) = 0', () => {
    const vm = runX87([X.fldz, X.fptan]);
    expectSt(vm, 0, 0x3fff, ONE);
    expectSt(vm, 1, 0, 0n);
  });

  it('FSIN of infinity is invalid (indefinite)', () => {
    const vm = runX87([X.fld64(A), X.fsin], { data: { [A]: dbl(-Infinity) } });
    expectSt(vm, 0, 0xffff, 0xc000000000000000n);
    expect(sw(vm) & (S.FLAGS | S.C2)).toBe(S.IE);
  });

  it('FPATAN(1, 1) = pi/4 rounded to nearest (the significand of FLDPI), PE', () => {
    const vm = runX87([X.fld1, X.fld1, X.fpatan]);
    expectSt(vm, 0, 0x3ffe, 0xc90fdaa22168c235n);
    expect(sw(vm) & (S.PE | 0x3800)).toBe(S.PE | (7 << 11));
  });

  it('FYL2X: 3 * log2(8) = 9 exactly (PE still set, as on hardware); log2(0) is ZE and -inf', () => {
    let vm = runX87([X.fld64(B), X.fld64(A), X.fyl2x, X.fnstsw(SWO)], { data: { [A]: dbl(8), [B]: dbl(3) } });
    expectSt(vm, 0, 0x4002, 0x9000000000000000n);
    expect(Number(dataInt(vm, SWO, 2)) & S.FLAGS).toBe(S.PE);
    vm = runX87([X.fld64(B), X.fldz, X.fyl2x], { data: { [B]: dbl(2) } });
    expectSt(vm, 0, 0xffff, ONE);
    expect(sw(vm) & S.FLAGS).toBe(S.ZE);
    vm = runX87([X.fld64(B), X.fld64(A), X.fyl2x], { data: { [A]: dbl(-1), [B]: dbl(2) } });
    expect(sw(vm) & S.FLAGS).toBe(S.IE);
  });

  it('F2XM1(-1) = -0.5; out-of-range operands come back unchanged with PE', () => {
    let vm = runX87([X.fld64(A), X.f2xm1], { data: { [A]: dbl(-1) } });
    expectSt(vm, 0, 0xbffe, ONE);
    vm = runX87([X.fld64(A), X.f2xm1], { data: { [A]: dbl(3) } });
    expectSt(vm, 0, 0x4000, 0xc000000000000000n);
    expect(sw(vm) & S.FLAGS).toBe(S.PE);
  });

  it('FYL2XP1: 3 * log2(1 + 3) = 6; FSINCOS(0) gives sin 0 under cos 1', () => {
    let vm = runX87([X.fld64(B), X.fld64(A), X.fyl2xp1], { data: { [A]: dbl(3), [B]: dbl(3) } });
    expectSt(vm, 0, 0x4001, 0xc000000000000000n);
    vm = runX87([X.fldz, X.fsincos]);
    expectSt(vm, 0, 0x3fff, ONE);
    expectSt(vm, 1, 0, 0n);
  });
});
