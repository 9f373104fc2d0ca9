// x87 data movement and arithmetic, run as real encoded instructions: bit-exact m80 round
// trips, rounding control and precision control on add/mul/div/sqrt, constants, special
// values, NaN propagation and the exception flags (denormal, underflow, overflow, precision).
import { describe, expect, it } from 'vitest';
import { cw, dataBytes, dataInt, dbl, expectSt, ext, runX87, S, sw, word, X } from './x87-program.js';

const A = 0x00, B = 0x10, OUT = 0x40, SWO = 0x60, CW = 0x70;
const ONE = 0x8000000000000000n;

/** Run "FLDCW; FLD A; FLD B; <op>; FNSTSW SWO; FSTP OUT" and return the vm. */
function binary(a: number[], b: number[], op: number[], control = cw(0)) {
  return runX87([X.fldcw(CW), X.fld80(A), X.fld80(B), op, X.fnstsw(SWO), X.fstp80(OUT)], { data: { [A]: a, [B]: b, [CW]: word(control) } });
}

/** The status word saved right after the operation (before the store changed C1). */
function ssw(vm: ReturnType<typeof runX87>): number {
  return Number(dataInt(vm, SWO, 2));
}

function out80(vm: ReturnType<typeof runX87>): string {
  const v = dataInt(vm, OUT, 10);
  return `${(v >> 64n).toString(16)}:${(v & ((1n << 64n) - 1n)).toString(16)}`;
}

describe('x87 m80 round trips', () => {
  const cases: [string, number, bigint][] = [
    ['normal', 0x3fff, 0xc000000000000000n],
    ['negative zero', 0x8000, 0n],
    ['SNaN with payload', 0x7fff, 0x8000000000abcdefn],
    ['QNaN with payload', 0xffff, 0xc123456789abcdefn],
    ['denormal', 0x0000, 0x0000000000001234n],
    ['pseudo-denormal', 0x0000, 0x8000000000000001n],
    ['unnormal', 0x4000, 0x4000000000000000n],
    ['pseudo-infinity', 0x7fff, 0n],
    ['pseudo-NaN', 0xffff, 0x4000000000000001n],
    ['infinity', 0xffff, ONE],
  ];
  for (const [name, se, sig] of cases) {
    it(`FLD m80 / FSTP m80 keeps a ${name} bit for bit, raising nothing`, () => {
      const vm = runX87([X.fld80(A), X.fstp80(OUT)], { data: { [A]: ext(se, sig) } });
      expect(dataBytes(vm, OUT, 10)).toEqual(ext(se, sig));
      expect(sw(vm) & S.FLAGS).toBe(0);
      expect(vm.cpu.fpu.isEmpty(0)).toBe(true);
    });
  }
});

describe('x87 rounding control', () => {
  // 1 + 2^-64 lies exactly half-way between 1 and the next value 1 + 2^-63.
  const half = ext(0x3fbf, ONE); // 2^-64
  const rows: [string, number, number, bigint, boolean][] = [
    ['nearest (ties to even)', 0, 0x3fff, ONE, false],
    ['down', 1, 0x3fff, ONE, false],
    ['up', 2, 0x3fff, ONE + 1n, true],
    ['toward zero', 3, 0x3fff, ONE, false],
  ];
  for (const [name, rc, se, sig, up] of rows) {
    it(`FADD 1 + 2^-64 rounds ${name}, sets PE and C1 = round-up`, () => {
      const vm = binary(ext(0x3fff, ONE), half, X.faddp, cw(rc));
      expect(out80(vm)).toBe(`${se.toString(16)}:${sig.toString(16)}`);
      expect(ssw(vm) & (S.PE | S.C1)).toBe(S.PE | (up ? S.C1 : 0));
    });
  }

  it('negative results round down to the larger magnitude', () => {
    const vm = binary(ext(0xbfff, ONE), ext(0xbfbf, ONE), X.faddp, cw(1));
    expect(out80(vm)).toBe(`bfff:${(ONE + 1n).toString(16)}`);
    expect(ssw(vm) & S.C1).toBe(S.C1);
  });

  it('FMUL (2 - 2^-63)^2: the dropped low part 2^-126 rounds only upward', () => {
    const x = ext(0x3fff, 0xffffffffffffffffn);
    // (2^64 - 1)^2 = (2^64 - 2) * 2^64 + 1.
    expect(out80(binary(x, x, X.fmulp, cw(0)))).toBe('4000:fffffffffffffffe');
    expect(out80(binary(x, x, X.fmulp, cw(2)))).toBe('4000:ffffffffffffffff');
    expect(out80(binary(x, x, X.fmulp, cw(3)))).toBe('4000:fffffffffffffffe');
  });

  it('FDIV 1/3 at 64, 53 and 24 bits of precision control', () => {
    const one = ext(0x3fff, ONE), three = ext(0x4000, 0xc000000000000000n);
    // 1/3 = 1.0101...b * 2^-2: at 64 bits the next bit is 1 with more behind (round up).
    expect(out80(binary(one, three, X.fdivp, cw(0, 3)))).toBe('3ffd:aaaaaaaaaaaaaaab');
    // At 53 bits the next bit is 0 (round down); the 11 low bits stay zero.
    expect(out80(binary(one, three, X.fdivp, cw(0, 2)))).toBe('3ffd:aaaaaaaaaaaaa800');
    // At 24 bits: 1010...1010 (24 bits) then 1010... -> round up to ...AB.
    expect(out80(binary(one, three, X.fdivp, cw(0, 0)))).toBe('3ffd:aaaaab0000000000');
    expect(out80(binary(one, three, X.fdivp, cw(3, 0)))).toBe('3ffd:aaaaaa0000000000');
  });

  it('FSQRT 2 with PC = 24 rounds to 24 bits (0xB504F3|33...), up mode to B504F4', () => {
    const two = ext(0x4000, ONE);
    const run = (control: number) => runX87([X.fldcw(CW), X.fld80(A), X.fsqrt, X.fstp80(OUT)], { data: { [A]: two, [CW]: word(control) } });
    expect(out80(run(cw(0, 0)))).toBe('3fff:b504f30000000000');
    expect(out80(run(cw(2, 0)))).toBe('3fff:b504f40000000000');
    expect(out80(run(cw(0, 3)))).toBe('3fff:b504f333f9de6484');
  });

  it('precision control does not apply to FLD, FSCALE or FRNDINT', () => {
    const x = ext(0x3fff, 0xffffffffffffffffn);
    const vm = runX87([X.fldcw(CW), X.fld1, X.fld80(A), X.fscale, X.fstp80(OUT)], { data: { [A]: x, [CW]: word(cw(0, 0)) } });
    expect(out80(vm)).toBe('4000:ffffffffffffffff');
  });

  it('x + 0 still rounds x to the precision control', () => {
    const vm = binary(ext(0x3fff, 0xffffffffffffffffn), ext(0, 0n), X.faddp, cw(3, 0));
    expect(out80(vm)).toBe('3fff:ffffff0000000000');
    expect(ssw(vm) & S.PE).toBe(S.PE);
  });
});

describe('x87 operand order of the register and memory forms', () => {
  const five = dbl(5), two = dbl(2);
  it('FSUB/FSUBR ST(0),ST(i) and FSUB/FSUBR ST(i),ST(0) and the popping forms', () => {
    const run = (op: number[]) => {
      const vm = runX87([X.fld64(A), X.fld64(B), op, X.fstp64(OUT)], { data: { [A]: five, [B]: two } });
      return new Float64Array(Uint8Array.from(dataBytes(vm, OUT, 8)).buffer)[0];
    };
    // ST(0) = 2, ST(1) = 5.
    expect(run(X.fsubSt0(1))).toBe(-3);
    expect(run(X.fsubrSt0(1))).toBe(3);
    expect(run(X.fsubp)).toBe(3); // ST(1) = ST(1) - ST(0), pop
    expect(run(X.fsubrp)).toBe(-3);
    expect(run(X.fdivp)).toBe(2.5);
    expect(run(X.fdivrp)).toBe(0.4);
  });

  it('memory forms: FSUB m64 / FSUBR m64 / FIADD m16 / FIDIVR m32', () => {
    const value = (code: number[][], data: Record<number, number[]>) => {
      const vm = runX87([...code, X.fstp64(OUT)], { data });
      return new Float64Array(Uint8Array.from(dataBytes(vm, OUT, 8)).buffer)[0];
    };
    expect(value([X.fld64(A), X.fsub64(B)], { [A]: five, [B]: two })).toBe(3);
    expect(value([X.fld64(A), X.fsubr64(B)], { [A]: five, [B]: two })).toBe(-3);
    expect(value([X.fld64(A), X.fiadd16(B)], { [A]: five, [B]: word(0xfffe) })).toBe(3);
    expect(value([X.fld64(A), X.fidivr32(B)], { [A]: two, [B]: [7, 0, 0, 0] })).toBe(3.5);
  });
});

describe('x87 special values and exceptions', () => {
  it('0 * inf, inf - inf, 0/0 give the QNaN indefinite with IE', () => {
    const inf = ext(0x7fff, ONE), zero = ext(0, 0n);
    for (const [a, b, op] of [[zero, inf, X.fmulp], [inf, inf, X.fsubp], [zero, zero, X.fdivp]] as const) {
      const vm = binary(a, b, op);
      expect(out80(vm)).toBe('ffff:c000000000000000');
      expect(ssw(vm) & S.FLAGS).toBe(S.IE);
    }
  });

  it('x / 0 raises ZE and gives a signed infinity', () => {
    const vm = binary(ext(0xbfff, ONE), ext(0, 0n), X.fdivp);
    expect(out80(vm)).toBe('ffff:8000000000000000');
    expect(ssw(vm) & S.FLAGS).toBe(S.ZE);
  });

  it('an unnormal operand is invalid (IE, indefinite)', () => {
    const vm = binary(ext(0x4000, 0x4000000000000000n), ext(0x3fff, ONE), X.faddp);
    expect(out80(vm)).toBe('ffff:c000000000000000');
    expect(ssw(vm) & S.FLAGS).toBe(S.IE);
  });

  it('a pseudo-denormal operand raises DE and is normalized by arithmetic', () => {
    const vm = binary(ext(0, 0x8000000000000001n), ext(0, 0n), X.faddp);
    expect(out80(vm)).toBe('1:8000000000000001');
    expect(ssw(vm) & S.FLAGS).toBe(S.DE);
  });

  it('x - x is +0 except when rounding down', () => {
    const x = ext(0x3fff, ONE);
    expect(out80(binary(x, x, X.fsubp, cw(0)))).toBe('0:0');
    expect(out80(binary(x, x, X.fsubp, cw(1)))).toBe('8000:0');
    expect(out80(binary(ext(0x8000, 0n), ext(0x8000, 0n), X.faddp, cw(0)))).toBe('8000:0');
  });

  it('masked underflow: tininess is detected after rounding', () => {
    // (2^33 - 1)(2^33 + 1) * 2^-66 * 2^-16382 = 2^-16382 - 2^-16448: tiny before rounding,
    // but rounds (64 bits, unbounded exponent) to 2^-16382, the smallest normal: PE only.
    const a = ext(0x3ffe, ((1n << 33n) - 1n) << 31n), b = ext(0x0001, ((1n << 33n) + 1n) << 30n);
    const vm = binary(a, b, X.fmulp);
    expect(out80(vm)).toBe('1:8000000000000000');
    expect(ssw(vm) & S.FLAGS).toBe(S.PE);
  });

  it('masked underflow: tiny and inexact gives UE + PE and a denormal; tiny and exact raises nothing', () => {
    // 2^-16382 * (1 + 2^-63) / 4: tiny, the last bit falls off when denormalized.
    let vm = binary(ext(0x0001, ONE + 1n), ext(0x4001, ONE), X.fdivp);
    expect(out80(vm)).toBe('0:2000000000000000');
    expect(ssw(vm) & S.FLAGS).toBe(S.UE | S.PE);
    vm = binary(ext(0x0001, ONE), ext(0x4000, ONE), X.fdivp);
    expect(out80(vm)).toBe('0:4000000000000000');
    expect(ssw(vm) & S.FLAGS).toBe(0);
  });

  it('unmasked underflow to a register delivers the result scaled by 2^24576', () => {
    const vm = binary(ext(0x0001, ONE), ext(0x4000, ONE), X.fdivp, cw(0, 3, 0x3f & ~S.UE));
    // 2^-16383 scaled by 2^24576 = 2^8193: biased exponent 8193 + 16383.
    expect(out80(vm)).toBe(`${(8193 + 16383).toString(16)}:8000000000000000`);
    expect(ssw(vm) & (S.FLAGS | S.ES)).toBe(S.UE | S.ES);
  });

  it('masked overflow: infinity (OE, PE, C1) to nearest, the largest finite toward zero', () => {
    const max = ext(0x7ffe, 0xffffffffffffffffn), two = ext(0x4000, ONE);
    let vm = binary(max, two, X.fmulp, cw(0));
    expect(out80(vm)).toBe('7fff:8000000000000000');
    expect(ssw(vm) & (S.FLAGS | S.C1)).toBe(S.OE | S.PE | S.C1);
    vm = binary(max, two, X.fmulp, cw(3));
    expect(out80(vm)).toBe('7ffe:ffffffffffffffff');
    expect(ssw(vm) & (S.FLAGS | S.C1)).toBe(S.OE | S.PE);
    vm = binary(max, two, X.fmulp, cw(3, 0));
    expect(out80(vm)).toBe('7ffe:ffffff0000000000');
  });

  it('unmasked overflow to a register delivers the result scaled by 2^-24576', () => {
    const vm = binary(ext(0x7ffe, ONE), ext(0x4000, ONE), X.fmulp, cw(0, 3, 0x3f & ~S.OE));
    expect(out80(vm)).toBe(`${(16384 - 24576 + 16383).toString(16)}:8000000000000000`);
    expect(ssw(vm) & (S.FLAGS | S.ES)).toBe(S.OE | S.ES);
  });
});

describe('x87 NaN propagation', () => {
  const q = (se: number, payload: bigint) => ext(se, 0xc000000000000000n | payload);
  const s = (se: number, payload: bigint) => ext(se, 0x8000000000000000n | payload);
  it('QNaN and SNaN: the QNaN wins, IE for the SNaN', () => {
    const vm = binary(q(0x7fff, 1n), s(0x7fff, 0x100n), X.faddp);
    expect(out80(vm)).toBe('7fff:c000000000000001');
    expect(ssw(vm) & S.FLAGS).toBe(S.IE);
  });
  it('two QNaNs: the larger significand wins whatever the order; equal ones: the positive', () => {
    expect(out80(binary(q(0xffff, 5n), q(0x7fff, 3n), X.faddp))).toBe('ffff:c000000000000005');
    expect(out80(binary(q(0x7fff, 3n), q(0xffff, 5n), X.faddp))).toBe('ffff:c000000000000005');
    expect(out80(binary(q(0xffff, 7n), q(0x7fff, 7n), X.faddp))).toBe('7fff:c000000000000007');
    expect(ssw(binary(q(0xffff, 7n), q(0x7fff, 7n), X.faddp)) & S.FLAGS).toBe(0);
  });
  it('SNaN and a number: the SNaN quieted, IE; FLD m32 SNaN converts and quiets', () => {
    let vm = binary(s(0xffff, 0x42n), ext(0x3fff, ONE), X.fmulp);
    expect(out80(vm)).toBe('ffff:c000000000000042');
    expect(ssw(vm) & S.FLAGS).toBe(S.IE);
    vm = runX87([X.fld32(A), X.fstp80(OUT)], { data: { [A]: [1, 0, 0x80, 0x7f] } });
    expect(out80(vm)).toBe('7fff:c000010000000000');
    expect(sw(vm) & S.FLAGS).toBe(S.IE);
  });
  it('FST m32 of a QNaN keeps the top payload bits', () => {
    const vm = runX87([X.fld80(A), X.fstp32(OUT)], { data: { [A]: ext(0x7fff, 0xc123456789abcdefn) } });
    expect(dataInt(vm, OUT, 4)).toBe(0x7fc12345n);
    expect(sw(vm) & S.FLAGS).toBe(0);
  });
});

describe('x87 stores to single and double', () => {
  it('FST m64 rounds by RC and reports PE/C1; FST m32 of a denormal extended underflows (no DE)', () => {
    const third = ext(0x3ffd, 0xaaaaaaaaaaaaaaabn);
    let vm = runX87([X.fldcw(CW), X.fld80(A), X.fst64(OUT), X.fnstsw(SWO)], { data: { [A]: third, [CW]: word(cw(2)) } });
    expect(dataInt(vm, OUT, 8)).toBe(0x3fd5555555555556n);
    expect(ssw(vm) & (S.FLAGS | S.C1)).toBe(S.PE | S.C1);
    vm = runX87([X.fld80(A), X.fstp32(OUT)], { data: { [A]: ext(0, 0x1234n) } });
    expect(dataInt(vm, OUT, 4)).toBe(0n);
    expect(sw(vm) & S.FLAGS).toBe(S.UE | S.PE);
  });

  it('FST m32 overflow: masked stores infinity; unmasked stores nothing and keeps ST(0)', () => {
    const big = ext(0x4100, ONE);
    let vm = runX87([X.fld80(A), X.fstp32(OUT)], { data: { [A]: big, [OUT]: [1, 2, 3, 4] } });
    expect(dataInt(vm, OUT, 4)).toBe(0x7f800000n);
    vm = runX87([X.fldcw(CW), X.fld80(A), X.fstp32(OUT)], { data: { [A]: big, [OUT]: [1, 2, 3, 4], [CW]: word(cw(0, 3, 0x37)) } });
    expect(dataBytes(vm, OUT, 4)).toEqual([1, 2, 3, 4]);
    expect(sw(vm) & (S.OE | S.ES)).toBe(S.OE | S.ES);
    expectSt(vm, 0, 0x4100, ONE);
  });

  it('FLD m32 denormal raises DE and loads the exact normalized value', () => {
    const vm = runX87([X.fld32(A), X.fstp80(OUT)], { data: { [A]: [1, 0, 0, 0] } });
    expect(out80(vm)).toBe(`${(16383 - 149).toString(16)}:8000000000000000`);
    expect(sw(vm) & S.FLAGS).toBe(S.DE);
  });
});

describe('x87 constants', () => {
  const load = (op: number[], rc: number) => out80(runX87([X.fldcw(CW), op, X.fstp80(OUT)], { data: { [CW]: word(cw(rc)) } }));
  it('FLDPI / FLDL2E / FLDLG2 / FLDLN2 / FLDL2T to nearest are the correctly rounded values', () => {
    expect(load(X.fldpi, 0)).toBe('4000:c90fdaa22168c235');
    expect(load(X.fldl2e, 0)).toBe('3fff:b8aa3b295c17f0bc');
    expect(load(X.fldlg2, 0)).toBe('3ffd:9a209a84fbcff799');
    expect(load(X.fldln2, 0)).toBe('3ffe:b17217f7d1cf79ac');
    expect(load(X.fldl2t, 0)).toBe('4000:d49a784bcd1b8afe');
  });
  it('directed rounding of the 66-bit constants', () => {
    expect(load(X.fldpi, 3)).toBe('4000:c90fdaa22168c234');
    expect(load(X.fldpi, 1)).toBe('4000:c90fdaa22168c234');
    expect(load(X.fldl2t, 2)).toBe('4000:d49a784bcd1b8aff');
    expect(load(X.fldl2e, 3)).toBe('3fff:b8aa3b295c17f0bb');
    expect(load(X.fld1, 2)).toBe('3fff:8000000000000000');
    expect(load(X.fldz, 1)).toBe('0:0');
  });
});

describe('x87 FPREM, FPREM1, FRNDINT, FSCALE, FXTRACT, FSQRT', () => {
  const two = (a: number[], b: number[], op: number[]) =>
    runX87([X.fld80(B), X.fld80(A), op, X.fnstsw(SWO), X.fstp80(OUT)], { data: { [A]: a, [B]: b } });
  const num = (x: number) => dbl(x);
  const r64 = (vm: ReturnType<typeof runX87>) => new Float64Array(Uint8Array.from(dataBytes(vm, OUT, 8)).buffer)[0];

  it('FPREM 7 mod 3 = 1 (Q = 2: C3 = Q1); FPREM1 8 rem 3 = -1 (Q = 3: C3 = Q1, C1 = Q0)', () => {
    let vm = runX87([X.fld64(B), X.fld64(A), X.fprem, X.fnstsw(SWO), X.fstp64(OUT)], { data: { [A]: num(7), [B]: num(3) } });
    expect(r64(vm)).toBe(1);
    expect(ssw(vm) & S.CC).toBe(S.C3);
    vm = runX87([X.fld64(B), X.fld64(A), X.fprem1, X.fnstsw(SWO), X.fstp64(OUT)], { data: { [A]: num(8), [B]: num(3) } });
    expect(r64(vm)).toBe(-1);
    expect(ssw(vm) & S.CC).toBe(S.C3 | S.C1);
    vm = runX87([X.fld64(B), X.fld64(A), X.fprem, X.fnstsw(SWO), X.fstp64(OUT)], { data: { [A]: num(-29), [B]: num(4) } });
    expect(r64(vm)).toBe(-1);
    expect(ssw(vm) & S.CC).toBe(S.C0 | S.C1 | S.C3); // Q = 7
  });

  it('FPREM with an exponent difference >= 64 reduces partially and sets C2 (P6 reduction by 2^(D - 32 - D mod 32))', () => {
    // ST0 = 1.5 * 2^67, ST1 = 1: D = 67, N = 35, reduce modulo 2^32: 1.5 * 2^67 = 3 * 2^66 is 0 mod 2^32.
    let vm = two(ext(0x3fff + 67, 0xc000000000000000n), ext(0x3fff, ONE), X.fprem);
    expect(out80(vm)).toBe('0:0');
    expect(ssw(vm) & S.CC).toBe(S.C2);
    // (2^64 - 1) * 2^4 with ST1 = 3: D = 67; remainder mod 3 * 2^32 of (2^64 - 1) * 2^4.
    const x = ((1n << 64n) - 1n) << 4n, m = 3n << 32n, r = x % m;
    vm = two(ext(0x3fff + 67, 0xffffffffffffffffn), ext(0x4000, 0xc000000000000000n), X.fprem);
    expect(ssw(vm) & S.CC).toBe(S.C2);
    const got = dataInt(vm, OUT, 10);
    const e = Number(got >> 64n) - 16383 - 63, sig = got & ((1n << 64n) - 1n);
    expect(e >= 0 ? sig << BigInt(e) : sig >> BigInt(-e)).toBe(r);
    expect(r).not.toBe(0n);
  });

  it('FRNDINT by rounding mode: 2.5 -> 2 / 2 / 3 / 2, and -2.5 down -> -3; PE and C1', () => {
    const run = (x: number, rc: number) => runX87([X.fldcw(CW), X.fld64(A), X.frndint, X.fnstsw(SWO), X.fstp64(OUT)], { data: { [A]: num(x), [CW]: word(cw(rc)) } });
    expect([0, 1, 2, 3].map((rc) => r64(run(2.5, rc)))).toEqual([2, 2, 3, 2]);
    const vm = run(-2.5, 1);
    expect(r64(vm)).toBe(-3);
    expect(ssw(vm) & (S.PE | S.C1)).toBe(S.PE | S.C1);
    expect(Object.is(r64(run(-0.25, 0)), -0)).toBe(true);
  });

  it('FSCALE multiplies by 2^trunc(ST1); FXTRACT splits exponent and significand', () => {
    let vm = runX87([X.fld64(B), X.fld64(A), X.fscale, X.fstp64(OUT)], { data: { [A]: num(3), [B]: num(-2.9) } });
    expect(r64(vm)).toBe(0.75);
    vm = runX87([X.fld64(A), X.fxtract, X.fstp64(OUT), X.fstp64(OUT + 8)], { data: { [A]: num(-40) } });
    expect(r64(vm)).toBe(-1.25);
    expect(new Float64Array(Uint8Array.from(dataBytes(vm, OUT + 8, 8)).buffer)[0]).toBe(5);
    vm = runX87([X.fldz, X.fxtract], {});
    expectSt(vm, 1, 0xffff, ONE);
    expectSt(vm, 0, 0, 0n);
    expect(sw(vm) & S.FLAGS).toBe(S.ZE);
  });

  it('FSQRT of a negative number is invalid; of -0 is -0', () => {
    let vm = runX87([X.fld64(A), X.fsqrt], { data: { [A]: num(-4) } });
    expectSt(vm, 0, 0xffff, 0xc000000000000000n);
    expect(sw(vm) & S.FLAGS).toBe(S.IE);
    vm = runX87([X.fld64(A), X.fsqrt], { data: { [A]: num(-0) } });
    expectSt(vm, 0, 0x8000, 0n);
  });

  it('FCHS, FABS and FXCH', () => {
    const vm = runX87([X.fld64(A), X.fld64(B), X.fchs, X.fxch(1), X.fabs], { data: { [A]: num(-3), [B]: num(2) } });
    expectSt(vm, 0, 0x4000, 0xc000000000000000n);
    expectSt(vm, 1, 0xc000, ONE);
  });
});
