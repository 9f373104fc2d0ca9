/**
 * x87 transcendental kernels: every function against independent references computed here at
 * 640 fraction bits by different methods (pi by Euler's atan formula, ln 2 by sum 1/(k 2^k),
 * logarithms by Newton's iteration on a Taylor exponential, atan by Euler's series, sin/cos by
 * unreduced Taylor series, the x87 reduction by an exact remainder modulo 2P), relative error
 * below 2^-bits at several precisions; identities; exact cases; the SDM's FPATAN / FYL2X /
 * FYL2XP1 zero-sign rules; the 66-bit-pi reduction; tiny and huge operands; bad input; speed.
 */
import { describe, expect, it } from 'vitest';
import {
  atan2, exp2m1, type Fx, log2, log2p1, type SignedFx, sinCos, tan, X87_PI_EXPONENT, X87_PI_MANTISSA,
  yLog2p1x, yLog2x,
} from '../../../../src/cpu/fpu/transcendental.js';

// ---------------------------------------------------------------------------------------------
// Exact helpers

/** A signed exact value v * 2^e (v may be negative). */
interface Ref { v: bigint; e: number }

const REF = 640;
const ONE = 1n << BigInt(REF);

function bitLength(n: bigint): number {
  return n === 0n ? 0 : (n < 0n ? -n : n).toString(2).length;
}

function shiftBy(v: bigint, s: number): bigint {
  return s >= 0 ? v << BigInt(s) : v >> BigInt(-s);
}

function sfx(neg: boolean, m: bigint, e: number): SignedFx {
  return { neg, m, e };
}

/** Exact conversion of a finite double. */
function fromDouble(d: number): SignedFx {
  const neg = d < 0 || Object.is(d, -0);
  let a = Math.abs(d), e = 0;
  while (!Number.isInteger(a)) { a *= 2; e--; }
  return sfx(neg, BigInt(a), e);
}

function toDouble(r: SignedFx): number {
  const len = bitLength(r.m);
  const drop = Math.max(0, len - 60);
  return (r.neg ? -1 : 1) * Number(r.m >> BigInt(drop)) * 2 ** (r.e + drop);
}

/** Sign of |a| - |b|. */
function compareAbs(a: SignedFx, b: SignedFx): number {
  const base = Math.min(a.e, b.e);
  const am = a.m << BigInt(a.e - base), bm = b.m << BigInt(b.e - base);
  return am < bm ? -1 : am > bm ? 1 : 0;
}

function asRef(r: SignedFx): Ref {
  return { v: r.neg ? -r.m : r.m, e: r.e };
}

/**
 * Bits of agreement between a result and a reference: floor(-log2(relative error)) made
 * conservative (Infinity when equal).
 */
function agreementBits(r: SignedFx, ref: Ref): number {
  const a = asRef(r);
  const base = Math.min(a.e, ref.e);
  const av = a.v << BigInt(a.e - base);
  const bv = ref.v << BigInt(ref.e - base);
  const diff = av - bv;
  if (diff === 0n) return Infinity;
  return bitLength(bv) - bitLength(diff) - 1;
}

function expectAgreement(r: SignedFx, ref: Ref, bits: number, what: string): void {
  const got = agreementBits(r, ref);
  if (got < bits) throw new Error(`${what}: only ${got} bits agree with the reference, need ${bits}`);
  expect(got).toBeGreaterThanOrEqual(bits);
}

/** Significant bits of an inexact result must be at least `bits`. */
function expectNormalised(r: SignedFx, bits: number): void {
  expect(bitLength(r.m)).toBeGreaterThanOrEqual(bits);
}

/** Deterministic 64-bit LCG. */
function makeRandom(seed: bigint): () => bigint {
  let s = seed;
  return () => {
    s = (s * 6364136223846793005n + 1442695040888963407n) & ((1n << 64n) - 1n);
    return s;
  };
}

/** A random value with a 64-bit significand and |x| in [2^top-1, 2^top). */
function randomValue(next: () => bigint, top: number, neg?: boolean): SignedFx {
  const m = next() | (1n << 63n);
  return sfx(neg ?? (next() & 1n) === 1n, m, top - 64);
}

function randomTop(next: () => bigint, lo: number, hi: number): number {
  return lo + Number(next() >> 40n) % (hi - lo + 1);
}

// ---------------------------------------------------------------------------------------------
// Independent references at REF fraction bits

/** atan(p/q) * 2^REF by the plain Taylor series (small p/q only). */
function refAtanTaylor(p: bigint, q: bigint): bigint {
  let sum = 0n, power = (p * ONE) / q, k = 0n;
  while (power !== 0n) {
    sum += (k & 1n) === 0n ? power / (2n * k + 1n) : -(power / (2n * k + 1n));
    power = (power * p * p) / (q * q);
    k++;
  }
  return sum;
}

/** Euler: pi/4 = 5 atan(1/7) + 2 atan(3/79). */
const REF_PI = 20n * refAtanTaylor(1n, 7n) + 8n * refAtanTaylor(3n, 79n);

/** ln 2 = sum over k >= 1 of 1 / (k 2^k). */
const REF_LN2 = (() => {
  let sum = 0n;
  for (let k = 1n; ; k++) {
    const term = ONE / (k << k);
    if (term === 0n) return sum;
    sum += term;
  }
})();

/** exp(y) for fixed-point |y| <= 1, Taylor series. */
function refExp(y: bigint): bigint {
  let sum = ONE, term = ONE;
  for (let n = 1n; ; n++) {
    term = (term * y) / (ONE * n);
    if (term === 0n) return sum;
    sum += term;
  }
}

/** ln f for fixed-point f in [1/2, 2] by Newton's iteration y <- y + f exp(-y) - 1. */
function refLn(f: bigint): bigint {
  const start = Math.log(Number(f >> BigInt(REF - 52)) / 2 ** 52);
  let y = BigInt(Math.round(start * 2 ** 52)) << BigInt(REF - 52);
  for (let i = 0; i < 5; i++) y = y + (f * refExp(-y)) / ONE - ONE;
  return y;
}

/** log2(m * 2^e) for m > 0. */
function refLog2(m: bigint, e: number): Ref {
  const len = bitLength(m);
  const f = shiftBy(m, REF - (len - 1));
  const k = BigInt(e + len - 1);
  return { v: (k << BigInt(REF)) + (refLn(f) << BigInt(REF)) / REF_LN2, e: -REF };
}

/** sin and cos of a signed exact angle |y| <= 4 by unreduced Taylor series. */
function refSinCos(y: Ref): { sin: Ref; cos: Ref } {
  const u = shiftBy(y.v * y.v, 2 * y.e + REF);
  let s = ONE, c = ONE, term = ONE;
  for (let n = 2n; ; n++) {
    if ((n & 1n) === 0n) term = (term * u) / ONE;
    term /= n;
    if (term === 0n) break;
    const negative = ((n >> 1n) & 1n) === 1n;
    if ((n & 1n) === 1n) s += negative ? -term : term;
    else c += negative ? -term : term;
  }
  return { sin: { v: y.v * s, e: y.e - REF }, cos: { v: c, e: -REF } };
}

/**
 * The angle the x87 evaluates: x itself below P/4, else x * pi / P reduced modulo 2 pi exactly
 * (x / P = N / D, N taken modulo 2D into (-D, D]).
 */
function refModelAngle(x: SignedFx): Ref {
  const quarterShift = -X87_PI_EXPONENT + 2;
  const s = x.e + quarterShift;
  const belowQuarter = s >= 0 ? (x.m << BigInt(s)) < X87_PI_MANTISSA : x.m < (X87_PI_MANTISSA << BigInt(-s));
  if (belowQuarter) return asRef(x);
  const t = x.e - X87_PI_EXPONENT;
  const n = t >= 0 ? x.m << BigInt(t) : x.m;
  const d = t >= 0 ? X87_PI_MANTISSA : X87_PI_MANTISSA << BigInt(-t);
  let r = n % (2n * d);
  if (r > d) r -= 2n * d;
  const angle = (REF_PI * r) / d;
  return { v: x.neg ? -angle : angle, e: -REF };
}

/** atan(a/b) for 0 < a <= b by Euler's series sum 2^2n n!^2/(2n+1)! t^(2n+1)/(1+t^2)^(n+1). */
function refAtanAtMostOne(a: bigint, b: bigint): bigint {
  const s = a * a + b * b;
  let term = (a * b * ONE) / s, sum = 0n;
  for (let n = 1n; term !== 0n; n++) {
    sum += term;
    term = (term * 2n * n * a * a) / ((2n * n + 1n) * s);
  }
  return sum;
}

function refAtan2(y: SignedFx, x: SignedFx): Ref {
  const base = Math.min(y.e, x.e);
  const Y = y.m << BigInt(y.e - base), X = x.m << BigInt(x.e - base);
  let a = Y <= X ? refAtanAtMostOne(Y, X) : REF_PI / 2n - refAtanAtMostOne(X, Y);
  if (x.neg) a = REF_PI - a;
  return { v: y.neg ? -a : a, e: -REF };
}

function refExp2m1(x: SignedFx): Ref {
  const z = shiftBy((x.neg ? -x.m : x.m) * REF_LN2, x.e);
  return { v: refExp(z) - ONE, e: -REF };
}

function refLog2p1(x: SignedFx): Ref {
  // 1 + x exactly (x.e < 0 here), then log2.
  const one = 1n << BigInt(-x.e);
  return refLog2(x.neg ? one - x.m : one + x.m, x.e);
}

function refProduct(y: SignedFx, r: Ref): Ref {
  return { v: (y.neg ? -y.m : y.m) * r.v, e: y.e + r.e };
}

const PRECISIONS = [64, 80, 90, 128];

// ---------------------------------------------------------------------------------------------

describe('reference constants', () => {
  it('the SDM 66-bit pi is pi rounded to nearest at 68 bits', () => {
    const rounded = (REF_PI + (1n << BigInt(REF - 66 - 1))) >> BigInt(REF - 66);
    expect(rounded).toBe(X87_PI_MANTISSA);
    expect(X87_PI_MANTISSA & 3n).toBe(0n); // 66 significant bits
    expect(X87_PI_EXPONENT).toBe(-66);
  });

  it('the test references agree with double precision', () => {
    expect(Number(REF_PI >> BigInt(REF - 60)) / 2 ** 60).toBeCloseTo(Math.PI, 15);
    expect(Number(REF_LN2 >> BigInt(REF - 60)) / 2 ** 60).toBeCloseTo(Math.LN2, 15);
    expect(Number(refLn(3n << BigInt(REF - 1)) >> BigInt(REF - 60)) / 2 ** 60).toBeCloseTo(Math.log(1.5), 15);
  });
});

describe('sinCos', () => {
  it('matches the unreduced Taylor reference below P/4 and the x87 model above, at several precisions', () => {
    const next = makeRandom(11n);
    for (const bits of PRECISIONS) {
      for (let i = 0; i < 24; i++) {
        const x = randomValue(next, randomTop(next, -20, 3));
        const { sin, cos } = sinCos(x, bits);
        const ref = refSinCos(refModelAngle(x));
        expectAgreement(sin, ref.sin, bits, `sin(${toDouble(x)}) at ${bits} bits`);
        expectAgreement(cos, ref.cos, bits, `cos(${toDouble(x)}) at ${bits} bits`);
        expectNormalised(sin, bits);
        expectNormalised(cos, bits);
      }
    }
  });

  it('reduces huge arguments (up to 2^63) exactly modulo the 66-bit pi', () => {
    const next = makeRandom(12n);
    for (let i = 0; i < 40; i++) {
      const x = randomValue(next, randomTop(next, 4, 63));
      const { sin, cos } = sinCos(x, 80);
      const ref = refSinCos(refModelAngle(x));
      expectAgreement(sin, ref.sin, 80, `sin(m*2^${x.e})`);
      expectAgreement(cos, ref.cos, 80, `cos(m*2^${x.e})`);
    }
  });

  it('keeps full relative precision next to multiples of P/2 (no cancellation)', () => {
    const next = makeRandom(13n);
    for (let i = 0; i < 30; i++) {
      // x = k * P/2 rounded to 64 bits: the model angle is within an ulp of a multiple of pi/2.
      const k = (next() >> BigInt(Number(next() >> 58n))) | 1n;
      const exact = X87_PI_MANTISSA * k;
      const len = bitLength(exact);
      const x = sfx(false, (exact >> BigInt(len - 64)) + (next() & 1n), X87_PI_EXPONENT - 1 + len - 64);
      const { sin, cos } = sinCos(x, 80);
      const ref = refSinCos(refModelAngle(x));
      expectAgreement(sin, ref.sin, 80, `sin near ${k} P/2`);
      expectAgreement(cos, ref.cos, 80, `cos near ${k} P/2`);
    }
  });

  it('sin^2 + cos^2 = 1 within 2^(1-bits)', () => {
    const next = makeRandom(14n);
    for (let i = 0; i < 60; i++) {
      const bits = PRECISIONS[i % PRECISIONS.length];
      const x = randomValue(next, randomTop(next, -8, 62));
      const { sin, cos } = sinCos(x, bits);
      const base = Math.min(2 * sin.e, 2 * cos.e);
      const sum = (sin.m * sin.m << BigInt(2 * sin.e - base)) + (cos.m * cos.m << BigInt(2 * cos.e - base));
      const one = 1n << BigInt(-base);
      const err = sum > one ? sum - one : one - sum;
      expect(err << BigInt(bits - 1)).toBeLessThan(one);
    }
  });

  it('agrees with Math.sin / Math.cos to 2^-50 for moderate arguments', () => {
    for (const d of [0.1, 0.5, 1, 2, 3, 3.5, 5, 6.2, 10, 33.3, 100, -0.7, -4]) {
      const { sin, cos } = sinCos(fromDouble(d), 80);
      expect(Math.abs(toDouble(sin) - Math.sin(d))).toBeLessThan(2 ** -50);
      expect(Math.abs(toDouble(cos) - Math.cos(d))).toBeLessThan(2 ** -50);
    }
  });

  it('gives sin(pi/6) = 1/2 (true pi below P/4) and cos(pi/3) = 1/2 within the 66-bit-pi model', () => {
    // pi/6 truncated to 100 bits: sin moves by under 2^-99 relative.
    const sixth = sfx(false, REF_PI / 6n >> BigInt(REF - 100), -100);
    const s = sinCos(sixth, 90).sin;
    expectAgreement(s, { v: 1n, e: -1 }, 90, 'sin(pi/6)');
    const third = sfx(false, REF_PI / 3n >> BigInt(REF - 100), -100);
    const c = sinCos(third, 90).cos;
    // x * pi / P differs from pi/3 by about 2^-69 relatively (pi/3 >= P/4 is reduced with P).
    expectAgreement(c, { v: 1n, e: -1 }, 66, 'cos(pi/3)');
    expect(agreementBits(c, { v: 1n, e: -1 })).toBeLessThan(75);
  });

  it('reproduces the x87 result for the long double nearest pi: P - x, not pi - x', () => {
    const x = sfx(false, 0xC90FDAA22168C235n, -62);
    const { sin } = sinCos(x, 80);
    // sin(x pi / P) = -(x - P) pi / P + O(2^-190) and x - P = 2^-64 exactly.
    expectAgreement(sin, { v: -1n, e: -64 }, 66, 'sin(M_PIl)');
    const trueSin = refSinCos(asRef(x)).sin; // the mathematical value, about -5.0165e-20
    expect(agreementBits(sin, trueSin)).toBeLessThan(8);
  });

  it('handles zeros and tiny operands down to 2^-16509 on the correct side of the exact value', () => {
    expect(sinCos(sfx(false, 0n, 0), 80)).toEqual({ sin: sfx(false, 0n, 0), cos: sfx(false, 1n, 0) });
    expect(sinCos(sfx(true, 0n, 0), 80).sin).toEqual(sfx(true, 0n, 0));
    for (const e of [-16509, -1000, -60]) {
      const x = sfx(true, 0xB504F333F9DE6484n, e - 63);
      const { sin, cos } = sinCos(x, 80);
      expect(sin.neg).toBe(true);
      expect(cos.neg).toBe(false);
      // |sin x| < |x| and cos x < 1, each within 2^-80.
      expect(agreementBits(sin, asRef(x))).toBeGreaterThanOrEqual(80);
      expect(compareAbs(sin, x)).toBe(-1);
      expect(agreementBits(cos, { v: 1n, e: 0 })).toBeGreaterThanOrEqual(80);
      expect(compareAbs(cos, sfx(false, 1n, 0))).toBe(-1);
    }
  });
});

describe('tan', () => {
  it('matches sin/cos of the references at several precisions, small to huge', () => {
    const next = makeRandom(21n);
    for (const bits of PRECISIONS) {
      for (let i = 0; i < 20; i++) {
        const x = randomValue(next, randomTop(next, -20, 63));
        const ref = refSinCos(refModelAngle(x));
        // tan = sin / cos as an exact ratio: compare tan * cos with sin.
        const t = tan(x, bits);
        expectNormalised(t, bits);
        const product: SignedFx = sfx(t.neg !== (ref.cos.v < 0n), t.m * (ref.cos.v < 0n ? -ref.cos.v : ref.cos.v), t.e + ref.cos.e);
        expectAgreement(product, ref.sin, bits - 1, `tan(m*2^${x.e}) at ${bits} bits`);
      }
    }
  });

  it('is accurate next to the poles of the 66-bit-pi model', () => {
    for (const k of [1n, 3n, 5n, 1001n, 123456789n]) {
      const exact = X87_PI_MANTISSA * k;
      const len = bitLength(exact);
      const x = sfx(false, exact >> BigInt(len - 64), X87_PI_EXPONENT - 1 + len - 64);
      const ref = refSinCos(refModelAngle(x));
      const t = tan(x, 80);
      const product = sfx(t.neg !== (ref.cos.v < 0n), t.m * (ref.cos.v < 0n ? -ref.cos.v : ref.cos.v), t.e + ref.cos.e);
      expectAgreement(product, ref.sin, 79, `tan near ${k} P/2`);
    }
  });

  it('atan2(tan x, 1) = x below P/4', () => {
    const next = makeRandom(22n);
    for (let i = 0; i < 30; i++) {
      const x = randomValue(next, randomTop(next, -30, -1));
      const back = atan2(tan(x, 90), sfx(false, 1n, 0), 90);
      expectAgreement(back, asRef(x), 88, `atan(tan(${toDouble(x)}))`);
    }
  });

  it('agrees with Math.tan to 2^-50 relative', () => {
    for (const d of [0.25, 1, 1.5, 2, 3, -1.2, 7.5, 20]) {
      const t = toDouble(tan(fromDouble(d), 80));
      expect(Math.abs(t - Math.tan(d))).toBeLessThan(Math.abs(Math.tan(d)) * 2 ** -50);
    }
  });

  it('keeps signed zeros and puts tan of a tiny x just above |x|', () => {
    expect(tan(sfx(true, 0n, 0), 80)).toEqual(sfx(true, 0n, 0));
    for (const e of [-16509, -200, -40]) {
      const x = sfx(false, 1n << 63n, e - 63);
      const t = tan(x, 80);
      expect(agreementBits(t, asRef(x))).toBeGreaterThanOrEqual(80);
      expect(compareAbs(t, x)).toBe(1);
    }
  });
});

describe('atan2', () => {
  it('matches Euler-series references in all quadrants at several precisions', () => {
    const next = makeRandom(31n);
    for (const bits of PRECISIONS) {
      for (let i = 0; i < 24; i++) {
        const y = randomValue(next, randomTop(next, -12, 12));
        const x = randomValue(next, randomTop(next, -12, 12));
        const r = atan2(y, x, bits);
        expectAgreement(r, refAtan2(y, x), bits, `atan2(${toDouble(y)}, ${toDouble(x)}) at ${bits} bits`);
        expectNormalised(r, bits);
      }
    }
  });

  it('handles very unequal magnitudes', () => {
    const tinyY = sfx(false, 0xDEADBEEFCAFEBABEn, -16509);
    const one = sfx(false, 1n, 0);
    // atan(t) = t (1 - t^2/3 ...): below t, within 2^-80.
    const small = atan2(tinyY, one, 80);
    expect(agreementBits(small, asRef(tinyY))).toBeGreaterThanOrEqual(80);
    expect(compareAbs(small, tinyY)).toBe(-1);
    const hugeY = sfx(true, 3n, 16000);
    expectAgreement(atan2(hugeY, one, 80), { v: -REF_PI / 2n, e: -REF }, 80, 'atan2(-huge, 1)');
    expectAgreement(atan2(one, sfx(true, 5n, 9000), 80), { v: REF_PI, e: -REF }, 80, 'atan2(1, -huge)');
  });

  it('gives atan2(1, 1) = pi/4 and atan2(1, -1) = 3pi/4', () => {
    const one = sfx(false, 1n, 0);
    expectAgreement(atan2(one, one, 80), { v: REF_PI / 4n, e: -REF }, 80, 'pi/4');
    expectAgreement(atan2(one, sfx(true, 1n, 0), 80), { v: (3n * REF_PI) / 4n, e: -REF }, 80, '3pi/4');
  });

  it('follows the SDM FPATAN table for zero operands', () => {
    const f = (neg: boolean) => sfx(neg, 3n, -1);
    const z = (neg: boolean) => sfx(neg, 0n, 0);
    const pi = (neg: boolean): Ref => ({ v: neg ? -REF_PI : REF_PI, e: -REF });
    const halfPi = (neg: boolean): Ref => ({ v: neg ? -REF_PI / 2n : REF_PI / 2n, e: -REF });
    for (const yNeg of [false, true]) {
      // y = ±0: ±0 for x = +0 or +F, ±pi for x = -0 or -F.
      expect(atan2(z(yNeg), z(false), 80)).toEqual(z(yNeg));
      expect(atan2(z(yNeg), f(false), 80)).toEqual(z(yNeg));
      expectAgreement(atan2(z(yNeg), z(true), 80), pi(yNeg), 80, 'atan2(±0, -0)');
      expectAgreement(atan2(z(yNeg), f(true), 80), pi(yNeg), 80, 'atan2(±0, -F)');
      // x = ±0 with y finite nonzero: ±pi/2 with the sign of y.
      expectAgreement(atan2(f(yNeg), z(false), 80), halfPi(yNeg), 80, 'atan2(F, +0)');
      expectAgreement(atan2(f(yNeg), z(true), 80), halfPi(yNeg), 80, 'atan2(F, -0)');
    }
  });
});

describe('exp2m1', () => {
  it('matches exp(x ln 2) - 1 at several precisions', () => {
    const next = makeRandom(41n);
    for (const bits of PRECISIONS) {
      for (let i = 0; i < 24; i++) {
        const x = randomValue(next, randomTop(next, -40, 0));
        const r = exp2m1(x, bits);
        expectAgreement(r, refExp2m1(x), bits, `exp2m1(${toDouble(x)}) at ${bits} bits`);
        expectNormalised(r, bits);
      }
    }
  });

  it('is exact at 1, -1 and ±0', () => {
    expect(exp2m1(sfx(false, 1n, 0), 80)).toEqual(sfx(false, 1n, 0));
    expect(exp2m1(sfx(false, 1n << 63n, -63), 80)).toEqual(sfx(false, 1n, 0));
    expect(exp2m1(sfx(true, 1n, 0), 80)).toEqual(sfx(true, 1n, -1));
    expect(exp2m1(sfx(true, 0n, 0), 80)).toEqual(sfx(true, 0n, 0));
  });

  it('gives 2^(1/2) - 1: (r + 1)^2 = 2', () => {
    const r = exp2m1(sfx(false, 1n, -1), 90);
    const onePlus = r.m + (1n << BigInt(-r.e));
    const square = onePlus * onePlus;
    const two = 2n << BigInt(-2 * r.e);
    const err = square > two ? square - two : two - square;
    expect(err << 89n).toBeLessThan(two);
  });

  it('stays accurate for tiny x (no cancellation): x ln 2 (1 + x ln 2 / 2)', () => {
    for (const e of [-16509, -3000, -300]) {
      const x = sfx(true, 0xF00DF00DF00DF00Dn, e - 63);
      const r = exp2m1(x, 80);
      expectAgreement(r, { v: -x.m * REF_LN2, e: x.e - REF }, 80, `exp2m1(2^${e})`);
    }
  });

  it('agrees with 2 ** x - 1 to 2^-50 absolute', () => {
    for (const d of [-1, -0.75, -0.3, 0.125, 0.5, 0.9]) {
      expect(Math.abs(toDouble(exp2m1(fromDouble(d), 80)) - (2 ** d - 1))).toBeLessThan(2 ** -50);
    }
  });
});

describe('log2, yLog2x', () => {
  it('matches Newton-iteration references over the whole exponent range', () => {
    const next = makeRandom(51n);
    for (const bits of PRECISIONS) {
      for (let i = 0; i < 16; i++) {
        const x: Fx = { m: next() | (1n << 63n), e: randomTop(next, -16400, 16400) - 64 };
        const r = log2(x, bits);
        expectAgreement(r, refLog2(x.m, x.e), bits, `log2(m*2^${x.e}) at ${bits} bits`);
        expectNormalised(r, bits);
      }
    }
  });

  it('keeps relative precision right next to 1', () => {
    for (const x of [
      { m: (1n << 63n) + 1n, e: -63 }, { m: (1n << 64n) - 1n, e: -64 }, { m: (1n << 63n) + 12345n, e: -63 },
    ]) {
      expectAgreement(log2(x, 80), refLog2(x.m, x.e), 80, `log2 near 1`);
    }
  });

  it('is exact for powers of two', () => {
    expect(log2({ m: 1n, e: 0 }, 80)).toEqual(sfx(false, 0n, 0));
    expect(log2({ m: 1n << 63n, e: -53 }, 80)).toEqual(sfx(false, 10n, 0));
    expect(log2({ m: 4n, e: -16447 }, 80)).toEqual(sfx(true, 16445n, 0));
    expect(yLog2x(sfx(true, 3n, -1), { m: 8n, e: 0 }, 80)).toEqual(sfx(true, 9n, -1));
  });

  it('yLog2x is y times the reference logarithm, with the y * (±0) sign rule', () => {
    const next = makeRandom(52n);
    for (let i = 0; i < 20; i++) {
      const y = randomValue(next, randomTop(next, -10, 10));
      const x: Fx = { m: next() | (1n << 63n), e: randomTop(next, -300, 300) - 64 };
      expectAgreement(yLog2x(y, x, 80), refProduct(y, refLog2(x.m, x.e)), 80, 'yLog2x');
    }
    const one: Fx = { m: 1n, e: 0 };
    expect(yLog2x(sfx(false, 5n, 0), one, 80)).toEqual(sfx(false, 0n, 0));
    expect(yLog2x(sfx(true, 5n, 0), one, 80)).toEqual(sfx(true, 0n, 0));
    expect(yLog2x(sfx(false, 0n, 0), { m: 1n, e: -1 }, 80)).toEqual(sfx(true, 0n, 0));
    expect(yLog2x(sfx(true, 0n, 0), { m: 3n, e: 0 }, 80)).toEqual(sfx(true, 0n, 0));
  });

  it('agrees with Math.log2 to 2^-50 relative', () => {
    for (const d of [0.001, 0.3, 0.9, 1.1, 3, 1000, 1e300]) {
      const r = toDouble(log2(fromDouble(d) as Fx, 80));
      expect(Math.abs(r - Math.log2(d))).toBeLessThan(Math.abs(Math.log2(d)) * 2 ** -50);
    }
  });
});

describe('log2p1, yLog2p1x', () => {
  it('matches log2(1 + x) references in the FYL2XP1 range at several precisions', () => {
    const next = makeRandom(61n);
    for (const bits of PRECISIONS) {
      for (let i = 0; i < 16; i++) {
        const x = randomValue(next, randomTop(next, -60, -2));
        const r = log2p1(x, bits);
        expectAgreement(r, refLog2p1(x), bits, `log2p1(${toDouble(x)}) at ${bits} bits`);
        expectNormalised(r, bits);
      }
    }
    for (const d of [0.29, -0.29, 0.2928, -0.2928]) {
      expectAgreement(log2p1(fromDouble(d), 80), refLog2p1(fromDouble(d)), 80, `log2p1(${d})`);
    }
  });

  it('stays accurate for tiny x: x (1 - x/2) / ln 2', () => {
    for (const e of [-16509, -2000, -250]) {
      const x = sfx(false, 0xABCDEF0123456789n, e - 63);
      const xRef = (x.m << BigInt(2 * REF)) / REF_LN2;
      expectAgreement(log2p1(x, 80), { v: xRef, e: x.e - REF }, 80, `log2p1(2^${e})`);
    }
  });

  it('exp2m1(log2p1(x)) = x', () => {
    const next = makeRandom(62n);
    for (let i = 0; i < 20; i++) {
      const x = randomValue(next, randomTop(next, -50, -2));
      expectAgreement(exp2m1(log2p1(x, 100), 100), asRef(x), 97, 'exp2m1(log2p1(x))');
    }
  });

  it('computes larger x > -1 through the exact 1 + x', () => {
    expect(log2p1(sfx(false, 3n, 0), 80)).toEqual(sfx(false, 2n, 0));
    expect(log2p1(sfx(true, 1n, -1), 80)).toEqual(sfx(true, 1n, 0));
    expectAgreement(log2p1(sfx(false, 5n, -2), 80), refLog2(9n, -2), 80, 'log2p1(1.25)');
  });

  it('yLog2p1x is y times the reference, with the SDM zero-sign rules', () => {
    const next = makeRandom(63n);
    for (let i = 0; i < 12; i++) {
      const y = randomValue(next, randomTop(next, -10, 10));
      const x = randomValue(next, randomTop(next, -40, -2));
      expectAgreement(yLog2p1x(y, x, 80), refProduct(y, refLog2p1(x)), 80, 'yLog2p1x');
    }
    expect(yLog2p1x(sfx(false, 7n, 0), sfx(true, 0n, 0), 80)).toEqual(sfx(true, 0n, 0));
    expect(yLog2p1x(sfx(true, 7n, 0), sfx(true, 0n, 0), 80)).toEqual(sfx(false, 0n, 0));
    expect(yLog2p1x(sfx(true, 0n, 0), sfx(false, 1n, -3), 80)).toEqual(sfx(true, 0n, 0));
    expect(yLog2p1x(sfx(false, 0n, 0), sfx(true, 1n, -3), 80)).toEqual(sfx(true, 0n, 0));
  });
});

describe('bad input', () => {
  it('names the offending argument', () => {
    const one = sfx(false, 1n, 0);
    expect(() => sinCos(one, 4)).toThrow(/sinCos: bits must be an integer/);
    expect(() => tan(one, 80.5)).toThrow(/tan: bits/);
    expect(() => sinCos(sfx(false, 1n, 63), 80)).toThrow(/sinCos: \|x\| must be below 2\^63/);
    expect(() => tan(sfx(false, -1n, 0), 80)).toThrow(/tan: x\.m must be a bigint >= 0n/);
    expect(() => exp2m1(sfx(false, 3n, -1), 80)).toThrow(/exp2m1: x must lie in \[-1, 1\]/);
    expect(() => log2({ m: 0n, e: 0 }, 80)).toThrow(/log2: x\.m must be a bigint > 0n/);
    expect(() => log2p1(sfx(true, 1n, 0), 80)).toThrow(/log2p1: x must be greater than -1/);
    expect(() => yLog2x(one, { m: 1n, e: 0.5 }, 80)).toThrow(/yLog2x: x\.e must be an integer/);
    expect(() => atan2(sfx(false, -2n, 0), one, 80)).toThrow(/atan2: y\.m/);
  });
});

describe('speed', () => {
  it('stays well under 0.3 ms per call at 80 bits', () => {
    const next = makeRandom(71n);
    const args = Array.from({ length: 100 }, () => randomValue(next, randomTop(next, -3, 40)));
    const small = Array.from({ length: 100 }, () => randomValue(next, randomTop(next, -20, -2)));
    const calls: Array<() => unknown> = [
      () => args.forEach((x) => sinCos(x, 80)),
      () => args.forEach((x) => tan(x, 80)),
      () => args.forEach((x, i) => atan2(x, small[i], 80)),
      () => small.forEach((x) => exp2m1(x, 80)),
      () => args.forEach((x) => yLog2x(small[0], x, 80)),
      () => small.forEach((x) => yLog2p1x(args[0], x, 80)),
    ];
    for (const run of calls) {
      run(); // warm-up
      const start = performance.now();
      run();
      const perCall = (performance.now() - start) / 100;
      expect(perCall).toBeLessThan(0.3);
    }
  });
});
