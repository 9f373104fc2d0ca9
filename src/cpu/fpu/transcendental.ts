/**
 * Transcendental-function core of the x87 emulation: the exact-arithmetic kernels behind
 * FSIN, FCOS, FSINCOS, FPTAN, FPATAN, F2XM1, FYL2X and FYL2XP1 (Intel SDM Vol. 1 §8.3.7–8.3.10,
 * Vol. 2 instruction pages; FPATAN zero/sign cases follow its results table).
 *
 * Numbers are plain BigInt floats: a value is `m * 2^e` (with a sign for `SignedFx`). Every
 * function takes `bits` (8..256) and returns a result whose relative error is below
 * 2^-bits; inexact results carry exactly `bits + 2` significant bits, rounded to odd (truncated
 * with the last bit set when anything was dropped), so a caller rounding to 64 bits in any
 * rounding mode never mistakes an inexact result for an exactly representable one. Exact
 * results (log2 of a power of two, 2^±1 - 1, y * integer logarithm, exact zeros) come back
 * exact. Near-exact cases (sin, tan, atan of a tiny argument; cos of a tiny argument) keep a
 * one-unit correction on the correct side of the exact value so directed rounding is right.
 *
 * Method: constants (pi by Machin's formula, ln 2 = 2 atanh(1/3), atan(j/16), pi/(4 P)) are
 * computed once at module load to CONST_FRAC bits with exact integer series. Kernels are Taylor
 * series in fixed point at `bits + 24` fraction bits after argument reduction: sin/cos on
 * [0, pi/4]; atan by atan(j/16) + atan((16t - j)/(16 + jt)); logarithms by
 * ln f = 2 atanh((f - 1)/(f + 1)) with f in [sqrt(2)/2, sqrt(2)]; 2^x - 1 = expm1(x ln 2).
 *
 * Trigonometric argument reduction emulates the hardware, not the mathematics. The x87 reduces
 * with its internal pi, P = 0.C90FDAA2_2168C234_C (hex) * 2^2, which has 66 significant bits
 * (pi rounded to nearest at 68 bits; SDM Vol. 1 §8.3.8 "Pi"). FSIN(x), FCOS(x), FPTAN(x) thus
 * approximate sin, cos, tan of x * pi / P (Intel, "The Difference Between x87 Instructions
 * FSIN, FCOS, FSINCOS, and FPTAN and Their Mathematical Counterparts"). This module computes
 * those functions exactly: x is divided by P/4 in exact integer arithmetic (quotient k gives the
 * octant, the remainder r is exact), and the reduced angle is r * pi / P in true radians. This
 * is done for EVERY |x| >= P/4, not only for huge x: the difference from true pi already shows
 * near small multiples of pi (the host's FSIN of the long double nearest pi is exactly -2^-64 =
 * P - x, whereas sin(x) = -5.0165e-20). For |x| < P/4 no reduction happens and the true
 * function of x is returned (hardware and mathematics agree there to 2^-69 relative).
 */

/** A positive finite value m * 2^e (m > 0n). */
export interface Fx { m: bigint; e: number }

/** A signed value; m = 0n means exact zero. */
export interface SignedFx { neg: boolean; m: bigint; e: number }

/** Positive float m * 2^e used inside the kernels. */
interface Flt { m: bigint; e: number }

/** Fraction bits of the load-time constants. */
const CONST_FRAC = 352;
/** Extra bits the constants are computed with before truncation to CONST_FRAC. */
const CONST_GUARD = 32;
/** Accepted range of the `bits` argument. */
const MIN_BITS = 8;
const MAX_BITS = 256;
/** Fixed-point fraction bits of the kernels beyond `bits`. */
const KERNEL_GUARD = 24;
/** Significant bits of an inexact result beyond `bits`. */
const OUTPUT_GUARD = 2;

/**
 * The x87's internal pi as an integer: P = X87_PI_M * 2^-66 (68 bits, the last two zero).
 * SDM Vol. 1 §8.3.8 gives the fraction C90FDAA2 2168C234 C with P = 0.f * 2^2.
 */
export const X87_PI_MANTISSA = 0xC90FDAA22168C234Cn;
/** Power of two of the x87 pi: P = X87_PI_MANTISSA * 2^X87_PI_EXPONENT. */
export const X87_PI_EXPONENT = -66;
/** Dividing by P/4 = X87_PI_MANTISSA * 2^-68 is dividing by the mantissa after a shift of 68. */
const QUARTER_P_SHIFT = 68;

// ---------------------------------------------------------------------------------------------
// BigInt helpers

/** Number of significant bits of n > 0n. */
function bitLength(n: bigint): number {
  if (n < 0x100000000n) return 32 - Math.clz32(Number(n));
  const hex = n.toString(16);
  return hex.length * 4 - (Math.clz32(parseInt(hex[0], 16)) - 28);
}

/** v * 2^s, flooring when s < 0. */
function shiftBy(v: bigint, s: number): bigint {
  return s >= 0 ? v << BigInt(s) : v >> BigInt(-s);
}

/** True when n > 0n is a power of two. */
function isPowerOfTwo(n: bigint): boolean {
  return (n & (n - 1n)) === 0n;
}

/**
 * m * 2^e (m > 0n) with exactly p significant bits, rounded to odd: dropped bits are OR-ed into
 * the last kept bit, so the result is exact or strictly inside the open interval it truncates.
 */
function roundOdd(m: bigint, e: number, p: number): Flt {
  const len = bitLength(m);
  if (len > p) {
    const drop = len - p;
    const bd = BigInt(drop);
    let r = m >> bd;
    if (r << bd !== m) r |= 1n;
    return { m: r, e: e + drop };
  }
  return { m: m << BigInt(p - len), e: e - (p - len) };
}

/** (am * 2^ae) / (bm * 2^be) with at least p + 1 quotient bits, a sticky last bit when inexact. */
function divide(am: bigint, ae: number, bm: bigint, be: number, p: number): Flt {
  const shift = Math.max(0, p + 1 + bitLength(bm) - bitLength(am));
  const n = am << BigInt(shift);
  let q = n / bm;
  if (q * bm !== n) q |= 1n;
  return { m: q, e: ae - be - shift };
}

/** A signed result from a positive float, rounded to odd at `bits + OUTPUT_GUARD` bits. */
function signedResult(neg: boolean, v: Flt, bits: number): SignedFx {
  const r = roundOdd(v.m, v.e, bits + OUTPUT_GUARD);
  return { neg, m: r.m, e: r.e };
}

// ---------------------------------------------------------------------------------------------
// Load-time constants

/** atan(p/q) * 2^frac for 0 <= p/q <= 1/2, by the alternating Taylor series. */
function atanOfRatioFixed(p: bigint, q: bigint, frac: number): bigint {
  const p2 = p * p, q2 = q * q;
  let power = (p << BigInt(frac)) / q;
  let sum = 0n;
  for (let k = 0; power !== 0n; k++) {
    const term = power / BigInt(2 * k + 1);
    sum += (k & 1) === 0 ? term : -term;
    power = power * p2 / q2;
  }
  return sum;
}

/** atanh(p/q) * 2^frac for 0 <= p/q <= 1/2, by the Taylor series. */
function atanhOfRatioFixed(p: bigint, q: bigint, frac: number): bigint {
  const p2 = p * p, q2 = q * q;
  let power = (p << BigInt(frac)) / q;
  let sum = 0n;
  for (let k = 0; power !== 0n; k++) {
    sum += power / BigInt(2 * k + 1);
    power = power * p2 / q2;
  }
  return sum;
}

const WORK_FRAC = CONST_FRAC + CONST_GUARD;
const WORK_GUARD = BigInt(CONST_GUARD);

/** pi * 2^WORK_FRAC (Machin: pi = 16 atan(1/5) - 4 atan(1/239)). */
const PI_WORK = 16n * atanOfRatioFixed(1n, 5n, WORK_FRAC) - 4n * atanOfRatioFixed(1n, 239n, WORK_FRAC);
/** pi * 2^CONST_FRAC. */
const PI_FIXED = PI_WORK >> WORK_GUARD;
/** ln 2 * 2^CONST_FRAC (ln 2 = 2 atanh(1/3)). */
const LN2_FIXED = (2n * atanhOfRatioFixed(1n, 3n, WORK_FRAC)) >> WORK_GUARD;
/** (1 / ln 2) * 2^CONST_FRAC. */
const INV_LN2_FIXED = (1n << BigInt(2 * CONST_FRAC)) / LN2_FIXED;

/** atan(j/16) * 2^CONST_FRAC for j = 0..16 (j > 8 via pi/4 - atan((16 - j)/(16 + j))). */
const ATAN_SIXTEENTHS: readonly bigint[] = (() => {
  const table: bigint[] = [];
  const quarterPi = PI_WORK >> 2n;
  for (let j = 0; j <= 16; j++) {
    const v = j <= 8
      ? atanOfRatioFixed(BigInt(j), 16n, WORK_FRAC)
      : quarterPi - atanOfRatioFixed(BigInt(16 - j), BigInt(16 + j), WORK_FRAC);
    table.push(v >> WORK_GUARD);
  }
  return table;
})();

/** pi / (4 * X87_PI_MANTISSA) as a float: the reduced angle is remainder * this (see header). */
const REDUCED_ANGLE_SCALE: Flt = {
  m: (PI_FIXED << 80n) / (4n * X87_PI_MANTISSA),
  e: -(CONST_FRAC + 80),
};
const REDUCED_ANGLE_SCALE_BITS = bitLength(REDUCED_ANGLE_SCALE.m);

/** A load-time constant truncated to `frac` fraction bits. */
function constAt(c: bigint, frac: number): bigint {
  return c >> BigInt(CONST_FRAC - frac);
}

// ---------------------------------------------------------------------------------------------
// Argument checks

/** Rejects a precision outside [MIN_BITS, MAX_BITS]. */
function checkBits(bits: number, fn: string): void {
  if (!Number.isInteger(bits) || bits < MIN_BITS || bits > MAX_BITS) {
    throw new RangeError(`${fn}: bits must be an integer in [${MIN_BITS}, ${MAX_BITS}], got ${bits}`);
  }
}

/** Rejects a signed operand whose m is not a bigint >= 0n or whose e is not an integer. */
function checkSigned(x: SignedFx, fn: string, name: string): void {
  if (typeof x.m !== 'bigint' || x.m < 0n) throw new RangeError(`${fn}: ${name}.m must be a bigint >= 0n, got ${String(x.m)}`);
  if (!Number.isSafeInteger(x.e)) throw new RangeError(`${fn}: ${name}.e must be an integer, got ${x.e}`);
}

/** Rejects a positive operand whose m is not a bigint > 0n or whose e is not an integer. */
function checkPositive(x: Fx, fn: string, name: string): void {
  if (typeof x.m !== 'bigint' || x.m <= 0n) throw new RangeError(`${fn}: ${name}.m must be a bigint > 0n, got ${String(x.m)}`);
  if (!Number.isSafeInteger(x.e)) throw new RangeError(`${fn}: ${name}.e must be an integer, got ${x.e}`);
}

/** Rejects trigonometric operands of magnitude 2^63 or more (x87: C2 set, caller's job). */
function checkTrigRange(x: SignedFx, fn: string): void {
  if (x.m !== 0n && bitLength(x.m) + x.e > 63) {
    throw new RangeError(`${fn}: |x| must be below 2^63 (x = m * 2^${x.e} with ${bitLength(x.m)}-bit m); the caller handles larger operands (C2)`);
  }
}

// ---------------------------------------------------------------------------------------------
// Trigonometric kernels

/** Octant j (0..7) of x * pi / P and the angle within it, folded into [0, pi/4]. */
interface ReducedAngle { octant: number; angle: Flt }

/**
 * Reduces |x| = m * 2^e: below P/4 the angle is x itself (octant 0); otherwise x = k * P/4 + r
 * exactly and the angle is r * pi / P (or (P/4 - r) * pi / P in odd octants, so that it lies in
 * [0, pi/4]). An exactly zero angle comes back with m = 0n.
 */
function reduceAngle(m: bigint, e: number, frac: number): ReducedAngle {
  if (bitLength(m) + e <= -1) return { octant: 0, angle: { m, e } };
  const s = e + QUARTER_P_SHIFT;
  const num = s >= 0 ? m << BigInt(s) : m;
  const den = s >= 0 ? X87_PI_MANTISSA : X87_PI_MANTISSA << BigInt(-s);
  const k = num / den;
  if (k === 0n) return { octant: 0, angle: { m, e } };
  const octant = Number(k & 7n);
  const rem = num - k * den;
  const r = (octant & 1) === 1 ? den - rem : rem;
  if (r === 0n) return { octant, angle: { m: 0n, e: 0 } };
  const keep = frac + 8;
  const drop = REDUCED_ANGLE_SCALE_BITS - keep;
  const scale = REDUCED_ANGLE_SCALE.m >> BigInt(drop);
  const angle = roundOdd(r * scale, REDUCED_ANGLE_SCALE.e + drop + Math.min(s, 0), keep);
  return { octant, angle };
}

/**
 * For 0 < theta <= pi/4: S = sin(theta)/theta, C = cos(theta), R = tan(theta)/theta, each as a
 * fixed-point value with `frac` fraction bits. Below 2^-(frac-8)/2 the corrections vanish in
 * fixed point and one unit on the correct side stands for them.
 */
function sinCosFactors(theta: Flt, frac: number): { S: bigint; C: bigint; R: bigint } {
  const bf = BigInt(frac);
  const one = 1n << bf;
  const u = shiftBy(theta.m * theta.m, 2 * theta.e + frac);
  if (u < 256n) return { S: one - 1n, C: one - 1n, R: one + 1n };
  let S = one, C = one, b = one;
  for (let n = 2; ; n++) {
    // b = u^floor(n/2) / n!: cosine terms at even n, sine-factor terms at odd n.
    if ((n & 1) === 0) b = (b * u) >> bf;
    b /= BigInt(n);
    if (b === 0n) break;
    const negative = ((n >> 1) & 1) === 1;
    if ((n & 1) === 1) S += negative ? -b : b;
    else C += negative ? -b : b;
  }
  return { S, C, R: (S << bf) / C };
}

/** sin(theta) as a float given its factor S (theta > 0). */
function sinFromFactor(theta: Flt, S: bigint, frac: number): Flt {
  return { m: theta.m * S, e: theta.e - frac };
}

/** Octants whose sine is the cosine of the folded angle (and vice versa). */
const OCTANT_SWAPS = 0b01100110;
/** Octants where the sine is negative. */
const OCTANT_SIN_NEGATIVE = 0b11110000;
/** Octants where the cosine is negative. */
const OCTANT_COS_NEGATIVE = 0b00111100;

/**
 * FSIN / FCOS / FSINCOS kernel: sine and cosine of x for |x| < 2^63, with the x87's reduction
 * (see the module header). x = 0 gives sin = x (signed zero) and cos = 1, both exact.
 */
export function sinCos(x: SignedFx, bits: number): { sin: SignedFx; cos: SignedFx } {
  checkBits(bits, 'sinCos');
  checkSigned(x, 'sinCos', 'x');
  checkTrigRange(x, 'sinCos');
  if (x.m === 0n) return { sin: { neg: x.neg, m: 0n, e: 0 }, cos: { neg: false, m: 1n, e: 0 } };
  const frac = bits + KERNEL_GUARD;
  const { octant, angle } = reduceAngle(x.m, x.e, frac);
  const swap = ((OCTANT_SWAPS >> octant) & 1) === 1;
  const sinNeg = (((OCTANT_SIN_NEGATIVE >> octant) & 1) === 1) !== x.neg;
  const cosNeg = ((OCTANT_COS_NEGATIVE >> octant) & 1) === 1;
  let sinOfAngle: SignedFx, cosOfAngle: SignedFx;
  if (angle.m === 0n) {
    sinOfAngle = { neg: false, m: 0n, e: 0 };
    cosOfAngle = { neg: false, m: 1n, e: 0 };
  } else {
    const { S, C } = sinCosFactors(angle, frac);
    sinOfAngle = signedResult(false, sinFromFactor(angle, S, frac), bits);
    cosOfAngle = signedResult(false, { m: C, e: -frac }, bits);
  }
  const sinMag = swap ? cosOfAngle : sinOfAngle;
  const cosMag = swap ? sinOfAngle : cosOfAngle;
  return {
    sin: { neg: sinNeg, m: sinMag.m, e: sinMag.e },
    cos: { neg: cosNeg, m: cosMag.m, e: cosMag.e },
  };
}

/** FPTAN kernel: tan(x) for |x| < 2^63 with the x87's reduction (see the module header). */
export function tan(x: SignedFx, bits: number): SignedFx {
  checkBits(bits, 'tan');
  checkSigned(x, 'tan', 'x');
  checkTrigRange(x, 'tan');
  if (x.m === 0n) return { neg: x.neg, m: 0n, e: 0 };
  const frac = bits + KERNEL_GUARD;
  const { octant, angle } = reduceAngle(x.m, x.e, frac);
  const quadrantOctant = octant & 3;
  const cotangent = quadrantOctant === 1 || quadrantOctant === 2;
  const neg = (quadrantOctant >= 2) !== x.neg;
  if (angle.m === 0n) {
    if (cotangent) throw new RangeError('tan: x is an exact odd multiple of the x87 pi/2; the tangent is infinite');
    return { neg, m: 0n, e: 0 };
  }
  const { R } = sinCosFactors(angle, frac);
  const tanOfAngle: Flt = { m: angle.m * R, e: angle.e - frac };
  const value = cotangent ? divide(1n, 0, tanOfAngle.m, tanOfAngle.e, bits + KERNEL_GUARD) : tanOfAngle;
  return signedResult(neg, value, bits);
}

// ---------------------------------------------------------------------------------------------
// Arctangent

/**
 * Sum over k of (-z^2)^k / (2k + 1) (atan(z)/z) or of (z^2)^k / (2k + 1) (atanh(z)/z) in fixed
 * point with `frac` fraction bits, for |z| <= 1/5; tiny z gives one unit on the correct side.
 */
function arcSeriesFactor(z: Flt, frac: number, alternating: boolean): bigint {
  const bf = BigInt(frac);
  const one = 1n << bf;
  const u = shiftBy(z.m * z.m, 2 * z.e + frac);
  if (u < 256n) return alternating ? one - 1n : one + 1n;
  let power = one, sum = one;
  for (let k = 1; ; k++) {
    power = (power * u) >> bf;
    if (power === 0n) break;
    const term = power / BigInt(2 * k + 1);
    sum += alternating && (k & 1) === 1 ? -term : term;
  }
  return sum;
}

/** atan(n / d) for positive n = nm * 2^ne <= d = dm * 2^de, as a float (rel. error ~2^-(frac-4)). */
function atanAtMostOne(nm: bigint, ne: number, dm: bigint, de: number, frac: number): Flt {
  const t = divide(nm, ne, dm, de, frac + 8);
  // j = round(16 t); t.e < -(frac + 8) here, so the shift below is to the right.
  const j = Number(((t.m >> BigInt(-(t.e + 5))) + 1n) >> 1n);
  if (j === 0) {
    const A = arcSeriesFactor(t, frac, true);
    return { m: t.m * A, e: t.e - frac };
  }
  // atan(t) = atan(j/16) + atan((16n - jd) / (16d + jn)), with n and d aligned exactly.
  const base = Math.min(ne, de);
  const n = nm << BigInt(ne - base);
  const d = dm << BigInt(de - base);
  const bj = BigInt(j);
  const num = 16n * n - bj * d;
  const den = 16n * d + bj * n;
  const sumFrac = frac + 8;
  let sum = constAt(ATAN_SIXTEENTHS[j], sumFrac);
  if (num !== 0n) {
    const tr = divide(num < 0n ? -num : num, 0, den, 0, frac + 8);
    const A = arcSeriesFactor(tr, frac, true);
    const correction = shiftBy(tr.m * A, tr.e - frac + sumFrac);
    sum += num < 0n ? -correction : correction;
  }
  return { m: sum, e: -sumFrac };
}

/** atan(|y| / |x|) in (0, pi/2] for nonzero y and x, as a float. */
function atanOfQuotient(y: SignedFx, x: SignedFx, frac: number): Flt {
  const yTop = bitLength(y.m) + y.e;
  const xTop = bitLength(x.m) + x.e;
  const yAtMostX = yTop < xTop || (yTop === xTop && compareMagnitude(y, x) <= 0);
  if (yAtMostX) return atanAtMostOne(y.m, y.e, x.m, x.e, frac);
  const sumFrac = frac + 8;
  const inner = atanAtMostOne(x.m, x.e, y.m, y.e, frac);
  const halfPi = constAt(PI_FIXED, sumFrac) >> 1n;
  return { m: halfPi - shiftBy(inner.m, inner.e + sumFrac), e: -sumFrac };
}

/** Sign of |a| - |b| for nonzero a, b, compared exactly. */
function compareMagnitude(a: SignedFx, b: SignedFx): number {
  const base = Math.min(a.e, b.e);
  const am = a.m << BigInt(a.e - base);
  const bm = b.m << BigInt(b.e - base);
  return am < bm ? -1 : am > bm ? 1 : 0;
}

/**
 * FPATAN kernel: the angle of the point (x, y), i.e. atan(y / x) placed in the quadrant of
 * (x, y), in [-pi, pi]. Zero operands follow the SDM's FPATAN table: y = ±0 gives ±0 when x is
 * +0 or positive and ±pi when x is -0 or negative; x = ±0 with y nonzero gives ±pi/2 (sign of y).
 */
export function atan2(y: SignedFx, x: SignedFx, bits: number): SignedFx {
  checkBits(bits, 'atan2');
  checkSigned(y, 'atan2', 'y');
  checkSigned(x, 'atan2', 'x');
  if (y.m === 0n) {
    if (!x.neg) return { neg: y.neg, m: 0n, e: 0 };
    return signedResult(y.neg, { m: PI_FIXED, e: -CONST_FRAC }, bits);
  }
  if (x.m === 0n) return signedResult(y.neg, { m: PI_FIXED, e: -CONST_FRAC - 1 }, bits);
  const frac = bits + KERNEL_GUARD;
  const a = atanOfQuotient(y, x, frac);
  if (!x.neg) return signedResult(y.neg, a, bits);
  const sumFrac = frac + 8;
  const rest = constAt(PI_FIXED, sumFrac) - shiftBy(a.m, a.e + sumFrac);
  return signedResult(y.neg, { m: rest, e: -sumFrac }, bits);
}

// ---------------------------------------------------------------------------------------------
// Exponential

/** F2XM1 kernel: 2^x - 1 for -1 <= x <= 1 (exact at x = 0, 1 and -1). */
export function exp2m1(x: SignedFx, bits: number): SignedFx {
  checkBits(bits, 'exp2m1');
  checkSigned(x, 'exp2m1', 'x');
  if (x.m === 0n) return { neg: x.neg, m: 0n, e: 0 };
  const top = bitLength(x.m) + x.e;
  const isOne = top === 1 && isPowerOfTwo(x.m);
  if (top > 1 || (top === 1 && !isOne)) throw new RangeError(`exp2m1: x must lie in [-1, 1], got m * 2^${x.e} with ${bitLength(x.m)}-bit m`);
  if (isOne) return x.neg ? { neg: true, m: 1n, e: -1 } : { neg: false, m: 1n, e: 0 };
  const frac = bits + KERNEL_GUARD;
  const bf = BigInt(frac);
  // z = x ln 2 as a float; expm1(z) = z * sum over k of z^k / (k + 1)!.
  const z = roundOdd(x.m * constAt(LN2_FIXED, frac + 8), x.e - (frac + 8), frac + 8);
  const zFixed = x.neg ? -shiftBy(z.m, z.e + frac) : shiftBy(z.m, z.e + frac);
  const one = 1n << bf;
  let term = one, sum = one;
  for (let n = 2; ; n++) {
    term = ((term * zFixed) >> bf) / BigInt(n);
    if (term === 0n) break;
    sum += term;
  }
  return signedResult(x.neg, { m: z.m * sum, e: z.e - frac }, bits);
}

// ---------------------------------------------------------------------------------------------
// Logarithms

/** A logarithm before final rounding: exact (an integer or zero) or a float with sign. */
interface Log2Value { neg: boolean; m: bigint; e: number; exact: boolean }

/**
 * 2 * atanh(z) / ln 2 = log2((1 + z)/(1 - z)) for |z| <= 0.18 given as sign and float, as a
 * float with relative error around 2^-(frac - 6).
 */
function log2OfAtanhArgument(z: Flt, frac: number): Flt {
  const A = arcSeriesFactor(z, frac, false);
  return { m: z.m * A * constAt(INV_LN2_FIXED, frac), e: z.e + 1 - 2 * frac };
}

/** log2(m * 2^e) for m > 0n, before final rounding. */
function log2Value(m: bigint, e: number, frac: number): Log2Value {
  const len = bitLength(m);
  if (isPowerOfTwo(m)) {
    const k = e + len - 1;
    return { neg: k < 0, m: BigInt(k < 0 ? -k : k), e: 0, exact: true };
  }
  // x = f * 2^k with f = m / 2^shift in [sqrt(2)/2, sqrt(2)]; ln f = 2 atanh((m - 2^shift)/(m + 2^shift)).
  const aboveSqrt2 = m * m > 1n << BigInt(2 * len - 1);
  const shift = aboveSqrt2 ? len : len - 1;
  const k = e + shift;
  const pow = 1n << BigInt(shift);
  const num = m - pow;
  const zNeg = num < 0n;
  const z = divide(zNeg ? -num : num, 0, m + pow, 0, frac + 8);
  const lf = log2OfAtanhArgument(z, frac);
  if (k === 0) return { neg: zNeg, m: lf.m, e: lf.e, exact: false };
  // |k + log2 f| >= 1/2: fixed point with frac + 8 fraction bits is relative precision.
  const sumFrac = frac + 8;
  const fraction = shiftBy(lf.m, lf.e + sumFrac);
  const total = (BigInt(k) << BigInt(sumFrac)) + (zNeg ? -fraction : fraction);
  return { neg: total < 0n, m: total < 0n ? -total : total, e: -sumFrac, exact: false };
}

/** log2(1 + x) for x > -1, before final rounding; no cancellation for small |x|. */
function log2p1Value(x: SignedFx, frac: number): Log2Value {
  if (x.m === 0n) return { neg: x.neg, m: 0n, e: 0, exact: true };
  const top = bitLength(x.m) + x.e;
  if (top >= -1) {
    // |x| may be 1/4 or more: 1 + x is formed exactly and handed to log2.
    if (x.e >= 0) return log2Value((x.m << BigInt(x.e)) + 1n, 0, frac); // x >= 1 (x > -1 checked)
    const one = 1n << BigInt(-x.e);
    const sum = x.neg ? one - x.m : one + x.m;
    return log2Value(sum, x.e, frac);
  }
  // |x| < 1/4: log2(1 + x) = 2 atanh(z)/ln 2 with z = x / (2 + x), |z| < 1/7.
  const denFrac = frac + 8;
  const xFixed = shiftBy(x.m, x.e + denFrac);
  const den = (2n << BigInt(denFrac)) + (x.neg ? -xFixed : xFixed);
  const z = divide(x.m, x.e, den, -denFrac, frac + 8);
  const v = log2OfAtanhArgument(z, frac);
  return { neg: x.neg, m: v.m, e: v.e, exact: false };
}

/** A logarithm value as a result: exact values as they are, others rounded to odd. */
function logResult(v: Log2Value, bits: number): SignedFx {
  if (v.exact) return { neg: v.neg, m: v.m, e: v.e };
  return signedResult(v.neg, v, bits);
}

/** y * log, exact when the logarithm is exact; zero products keep the sign rule of y * (±0). */
function scaledLogResult(y: SignedFx, v: Log2Value, bits: number): SignedFx {
  const neg = y.neg !== v.neg;
  if (y.m === 0n || v.m === 0n) return { neg, m: 0n, e: 0 };
  if (v.exact) return { neg, m: y.m * v.m, e: y.e + v.e };
  return signedResult(neg, { m: y.m * v.m, e: y.e + v.e }, bits);
}

/** log2(x) for x > 0 (exact integer k when x = 2^k; log2(1) = +0). */
export function log2(x: Fx, bits: number): SignedFx {
  checkBits(bits, 'log2');
  checkPositive(x, 'log2', 'x');
  return logResult(log2Value(x.m, x.e, bits + KERNEL_GUARD), bits);
}

/** Rejects x <= -1, where log2(1 + x) is undefined. */
function checkAboveMinusOne(x: SignedFx, fn: string): void {
  // |x| >= 1 exactly when its top bit is at 2^0 or above.
  if (x.neg && x.m !== 0n && bitLength(x.m) + x.e >= 1) {
    throw new RangeError(`${fn}: x must be greater than -1 (1 + x must be positive)`);
  }
}

/**
 * FYL2XP1's logarithm: log2(1 + x) for x > -1, accurate for tiny x (computed from
 * x / (2 + x) without forming 1 + x). The x87 defines FYL2XP1 for |x| < 1 - sqrt(2)/2; larger
 * x is still computed correctly here. log2p1(±0) = ±0.
 */
export function log2p1(x: SignedFx, bits: number): SignedFx {
  checkBits(bits, 'log2p1');
  checkSigned(x, 'log2p1', 'x');
  checkAboveMinusOne(x, 'log2p1');
  return logResult(log2p1Value(x, bits + KERNEL_GUARD), bits);
}

/**
 * FYL2X kernel: y * log2(x) for x > 0 with one final rounding by the caller. Exact when x is a
 * power of two; a zero product is signed as y * (±0) (log2(1) = +0, log2 of x < 1 negative).
 */
export function yLog2x(y: SignedFx, x: Fx, bits: number): SignedFx {
  checkBits(bits, 'yLog2x');
  checkSigned(y, 'yLog2x', 'y');
  checkPositive(x, 'yLog2x', 'x');
  return scaledLogResult(y, log2Value(x.m, x.e, bits + KERNEL_GUARD), bits);
}

/** FYL2XP1 kernel: y * log2(1 + x) for x > -1; zero products are signed as y * x's zero. */
export function yLog2p1x(y: SignedFx, x: SignedFx, bits: number): SignedFx {
  checkBits(bits, 'yLog2p1x');
  checkSigned(y, 'yLog2p1x', 'y');
  checkSigned(x, 'yLog2p1x', 'x');
  checkAboveMinusOne(x, 'yLog2p1x');
  return scaledLogResult(y, log2p1Value(x, bits + KERNEL_GUARD), bits);
}
