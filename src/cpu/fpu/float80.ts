/**
 * Double extended-precision (80-bit) arithmetic for the x87 FPU, exact to the bit
 * (Intel SDM vol. 1 §4.2 data types, §4.8 real numbers and special values, §4.9 and §8.5
 * floating-point exceptions, §8.1.5 precision and rounding control).
 *
 * A register value is an `F80`: sign, the 15-bit biased exponent and the 64-bit
 * significand with its explicit integer bit (J, bit 63). Arithmetic converts finite values
 * to exact `m * 2^e` BigInt pairs, computes the exact result (or one with enough extra bits
 * and a sticky bit), and rounds once with `roundValue` — to the precision control's 24, 53
 * or 64 bits, with the extended exponent range, denormalizing masked underflows and
 * rescaling unmasked overflows/underflows by 2^24576 as the x87 does for register results.
 * Tininess is detected after rounding (checked against a real x87). Not on the integer hot
 * path: BigInt and small objects are used freely.
 */

/** Exception flags as in the status word (and their masks in the control word), plus SF. */
export const enum Exc {
  IE = 0x01, DE = 0x02, ZE = 0x04, OE = 0x08, UE = 0x10, PE = 0x20, SF = 0x40,
}

/** Rounding control (control word bits 10-11). */
export const enum Rc { Nearest = 0, Down = 1, Up = 2, Zero = 3 }

/** Operand classes (FXAM-like, with pseudo-denormals under Denormal). */
export const enum Cls { Zero = 0, Normal = 1, Denormal = 2, Infinity = 3, QNaN = 4, SNaN = 5, Unsupported = 6 }

/** An 80-bit register value: sign (0/1), biased exponent (0..0x7FFF), 64-bit significand. */
export class F80 {
  constructor(public sign = 0, public exp = 0, public sig = 0n) {}
}

/** The integer bit (J) of the significand. */
export const J_BIT = 1n << 63n;
/** The quiet bit of a NaN's significand. */
export const QUIET_BIT = 1n << 62n;
/** All 64 significand bits. */
export const SIG_MASK = (1n << 64n) - 1n;
/** Exponent bias of the extended format. */
export const EXT_BIAS = 16383;
/** Unbiased exponent of the smallest normal extended value. */
export const EXT_EMIN = -16382;
/** Unbiased exponent of the largest finite extended value. */
export const EXT_EMAX = 16383;
/** Exponent adjustment applied to unmasked overflow/underflow results bound for a register. */
export const WRAP_BIAS = 24576;

/** The QNaN floating-point indefinite (0xFFFF C0000000 00000000). */
export function indefinite(): F80 {
  return new F80(1, 0x7fff, 0xc000000000000000n);
}

/** Signed zero. */
export function zero(sign: number): F80 {
  return new F80(sign, 0, 0n);
}

/** Signed infinity. */
export function infinity(sign: number): F80 {
  return new F80(sign, 0x7fff, J_BIT);
}

/** Class of an 80-bit value. Unnormals, pseudo-NaNs and pseudo-infinities are Unsupported. */
export function classify(v: F80): Cls {
  if (v.exp === 0x7fff) {
    if ((v.sig & J_BIT) === 0n) return Cls.Unsupported;
    if ((v.sig & ~J_BIT) === 0n) return Cls.Infinity;
    return (v.sig & QUIET_BIT) !== 0n ? Cls.QNaN : Cls.SNaN;
  }
  if (v.exp === 0) return v.sig === 0n ? Cls.Zero : Cls.Denormal;
  return (v.sig & J_BIT) !== 0n ? Cls.Normal : Cls.Unsupported;
}

/** True for QNaN and SNaN. */
export function isNaNClass(k: Cls): boolean {
  return k === Cls.QNaN || k === Cls.SNaN;
}

/** Binary exponent of the significand's lsb for a finite value: value = sig * 2^lsbExp. */
export function lsbExp(v: F80): number {
  return (v.exp === 0 ? 1 : v.exp) - EXT_BIAS - 63;
}

/** Number of significant bits of a non-negative BigInt (0 for 0). */
export function bitLength(m: bigint): number {
  if (m === 0n) return 0;
  let n = 0;
  let x = m;
  while (x >= 0x100000000n) { x >>= 32n; n += 32; }
  return n + (32 - Math.clz32(Number(x)));
}

// Scratch results of roundAt (no allocation for the intermediate step).
let rq = 0n;
let rInexact = false;
let rUp = false;

/** Round m*2^e to a multiple of 2^lsb by `rc` (sign says which way is "up"); sets rq/rInexact/rUp. */
function roundAt(sign: number, m: bigint, e: number, lsb: number, rc: Rc): void {
  if (lsb <= e) {
    rq = m << BigInt(e - lsb);
    rInexact = false;
    rUp = false;
    return;
  }
  const sh = BigInt(lsb - e);
  let q = m >> sh;
  const rem = m - (q << sh);
  if (rem === 0n) {
    rq = q; rInexact = false; rUp = false;
    return;
  }
  let inc: boolean;
  switch (rc) {
    case Rc.Nearest: {
      const half = 1n << (sh - 1n);
      inc = rem > half || (rem === half && (q & 1n) === 1n);
      break;
    }
    case Rc.Down: inc = sign === 1; break;
    case Rc.Up: inc = sign === 0; break;
    default: inc = false;
  }
  if (inc) q += 1n;
  rq = q; rInexact = true; rUp = inc;
}

/** A rounded result: value m * 2^e (m = 0 for zero) or infinity, with the flags raised. */
export class Rounded {
  sign = 0;
  m = 0n;
  e = 0;
  inf = false;
  /** Exception flags raised by the rounding (PE, UE, OE). */
  flags = 0;
  /** The magnitude was rounded up (C1). */
  up = false;
  /** False when an unmasked overflow/underflow forbids storing (memory destinations). */
  store = true;
}

/** A binary format's precision and normal exponent range (unbiased exponents of the top bit). */
export interface Format {
  readonly p: number;
  readonly emin: number;
  readonly emax: number;
}
/** Single precision (m32). */
export const SINGLE: Format = { p: 24, emin: -126, emax: 127 };
/** Double precision (m64). */
export const DOUBLE: Format = { p: 53, emin: -1022, emax: 1023 };

/**
 * Round the exact value (-1)^sign * m * 2^e to `p` significant bits within the exponent
 * range [emin, emax] by rounding mode `rc`. `masks` are the control word's exception masks;
 * `wrap` says the destination is a register (unmasked overflow/underflow then deliver the
 * result scaled by 2^-24576 / 2^24576; for memory destinations they store nothing).
 */
export function roundValue(out: Rounded, sign: number, m: bigint, e: number, p: number, emin: number, emax: number,
  rc: Rc, masks: number, wrap: boolean): Rounded {
  out.sign = sign; out.flags = 0; out.up = false; out.inf = false; out.store = true; out.m = 0n; out.e = 0;
  if (m === 0n) return out;
  const t = e + bitLength(m) - 1;
  let lsb = t - p + 1;
  roundAt(sign, m, e, lsb, rc);
  let q = rq;
  if (bitLength(q) > p) { q >>= 1n; lsb += 1; }
  const inexact = rInexact, up = rUp;
  const top = lsb + p - 1;
  if (top < emin) {
    if ((masks & Exc.UE) === 0) {
      out.flags = Exc.UE | (inexact ? Exc.PE : 0);
      if (!wrap) { out.store = false; return out; }
      out.m = q; out.e = lsb + WRAP_BIAS; out.up = up;
      return out;
    }
    const dl = emin - p + 1;
    roundAt(sign, m, e, dl, rc);
    out.m = rq; out.e = dl; out.up = rUp;
    if (rInexact) out.flags = Exc.UE | Exc.PE;
    return out;
  }
  if (top > emax) {
    if ((masks & Exc.OE) === 0) {
      out.flags = Exc.OE | (inexact ? Exc.PE : 0);
      if (!wrap) { out.store = false; return out; }
      out.m = q; out.e = lsb - WRAP_BIAS; out.up = up;
      return out;
    }
    out.flags = Exc.OE | Exc.PE;
    const toInf = rc === Rc.Nearest || (rc === Rc.Up && sign === 0) || (rc === Rc.Down && sign === 1);
    if (toInf) { out.inf = true; out.up = true; } else { out.m = (1n << BigInt(p)) - 1n; out.e = emax - p + 1; }
    return out;
  }
  out.m = q; out.e = lsb; out.up = up;
  if (inexact) out.flags = Exc.PE;
  return out;
}

/** Encode a rounded value (already within the extended range) as an F80. */
export function packExt(r: Rounded): F80 {
  if (r.inf) return infinity(r.sign);
  if (r.m === 0n) return zero(r.sign);
  const bl = bitLength(r.m);
  const t = r.e + bl - 1;
  if (t > EXT_EMAX) return infinity(r.sign);
  if (t >= EXT_EMIN) return new F80(r.sign, t + EXT_BIAS, (r.m << BigInt(64 - bl)) & SIG_MASK);
  const shift = r.e - (EXT_EMIN - 63);
  if (shift < 0) return zero(r.sign);
  return new F80(r.sign, 0, r.m << BigInt(shift));
}

/** Round an exact value to an extended register result with `p` bits (64 unless PC applies). */
export function roundToExt(out: Rounded, sign: number, m: bigint, e: number, p: number, rc: Rc, masks: number): F80 {
  roundValue(out, sign, m, e, p, EXT_EMIN, EXT_EMAX, rc, masks, true);
  return packExt(out);
}

/** Encode a rounded value in a binary interchange format of `fmt` (single/double) as bits. */
export function packBinary(r: Rounded, fmt: Format): bigint {
  const fracBits = fmt.p - 1, bias = fmt.emax;
  const signBit = BigInt(r.sign) << BigInt(fracBits + bitsOfExponent(fmt));
  if (r.inf) return signBit | (BigInt(2 * bias + 1) << BigInt(fracBits));
  if (r.m === 0n) return signBit;
  const bl = bitLength(r.m);
  const t = r.e + bl - 1;
  if (t >= fmt.emin) {
    const frac = (r.m << BigInt(fracBits - (bl - 1))) & ((1n << BigInt(fracBits)) - 1n);
    return signBit | (BigInt(t + bias) << BigInt(fracBits)) | frac;
  }
  return signBit | (r.m << BigInt(r.e - (fmt.emin - fracBits)));
}

function bitsOfExponent(fmt: Format): number {
  return fmt.p === 24 ? 8 : 11;
}

/** Result of loading a single/double value: the extended value and whether it was a denormal. */
export interface Loaded { v: F80; denormal: boolean }

/**
 * Convert single/double bits to extended exactly. NaNs keep their payload and quiet bit
 * (SNaNs stay signalling: the caller decides whether that is an invalid operation).
 */
export function fromBinary(bits: bigint, fmt: Format): Loaded {
  const fracBits = fmt.p - 1, expBits = bitsOfExponent(fmt), bias = fmt.emax;
  const frac = bits & ((1n << BigInt(fracBits)) - 1n);
  const ef = Number((bits >> BigInt(fracBits)) & BigInt((1 << expBits) - 1));
  const sign = Number((bits >> BigInt(fracBits + expBits)) & 1n);
  if (ef === (1 << expBits) - 1) {
    return { v: new F80(sign, 0x7fff, J_BIT | (frac << BigInt(63 - fracBits))), denormal: false };
  }
  if (ef === 0) {
    if (frac === 0n) return { v: zero(sign), denormal: false };
    const out = new Rounded();
    return { v: roundToExt(out, sign, frac, fmt.emin - fracBits, 64, Rc.Nearest, 0x3f), denormal: true };
  }
  return { v: new F80(sign, ef - bias + EXT_BIAS, J_BIT | (frac << BigInt(63 - fracBits))), denormal: false };
}

/** A value to store in memory: its bits (when `store`), the flags raised and C1. */
export interface Stored { bits: bigint; flags: number; up: boolean; store: boolean }

/** Convert an extended value to single/double bits for FST/FSTP m32/m64. */
export function toBinary(v: F80, fmt: Format, rc: Rc, masks: number): Stored {
  const fracBits = fmt.p - 1, expBits = bitsOfExponent(fmt);
  const signBit = BigInt(v.sign) << BigInt(fracBits + expBits);
  const expAll = BigInt((1 << expBits) - 1) << BigInt(fracBits);
  const quiet = 1n << BigInt(fracBits - 1);
  const k = classify(v);
  switch (k) {
    case Cls.Unsupported:
      return { bits: (1n << BigInt(fracBits + expBits)) | expAll | quiet, flags: Exc.IE, up: false, store: (masks & Exc.IE) !== 0 };
    case Cls.SNaN:
    case Cls.QNaN: {
      const payload = (v.sig >> BigInt(63 - fracBits)) & ((1n << BigInt(fracBits)) - 1n);
      const flags = k === Cls.SNaN ? Exc.IE : 0;
      return { bits: signBit | expAll | payload | quiet, flags, up: false, store: flags === 0 || (masks & Exc.IE) !== 0 };
    }
    case Cls.Infinity: return { bits: signBit | expAll, flags: 0, up: false, store: true };
    case Cls.Zero: return { bits: signBit, flags: 0, up: false, store: true };
    default: {
      const r = roundValue(new Rounded(), v.sign, v.sig, lsbExp(v), fmt.p, fmt.emin, fmt.emax, rc, masks, false);
      return { bits: r.store ? packBinary(r, fmt) : 0n, flags: r.flags, up: r.up, store: r.store };
    }
  }
}

/** Convert a signed integer to extended (exact). */
export function fromInteger(n: bigint): F80 {
  if (n === 0n) return zero(0);
  const sign = n < 0n ? 1 : 0;
  const m = n < 0n ? -n : n;
  const bl = bitLength(m);
  return new F80(sign, bl - 1 + EXT_BIAS, m << BigInt(64 - bl));
}

/** Round a finite value to an integer by `rc`: the magnitude and whether it was inexact / rounded up. */
export function roundToInteger(v: F80, rc: Rc): { mag: bigint; inexact: boolean; up: boolean } {
  if (v.sig === 0n) return { mag: 0n, inexact: false, up: false };
  roundAt(v.sign, v.sig, lsbExp(v), 0, rc);
  return { mag: rq, inexact: rInexact, up: rUp };
}

/** Integer conversion result: the value (or null when invalid), the flags, C1. */
export interface IntResult { value: bigint | null; flags: number; up: boolean }

/** FIST/FISTP: round to a `bits`-bit signed integer; out of range, NaN, infinity or unsupported is IE. */
export function toInteger(v: F80, bits: number, rc: Rc): IntResult {
  const k = classify(v);
  if (k === Cls.Unsupported || k === Cls.QNaN || k === Cls.SNaN || k === Cls.Infinity) return { value: null, flags: Exc.IE, up: false };
  const r = roundToInteger(v, rc);
  const limit = 1n << BigInt(bits - 1);
  if (v.sign === 0 ? r.mag >= limit : r.mag > limit) return { value: null, flags: Exc.IE, up: false };
  return { value: v.sign === 1 ? -r.mag : r.mag, flags: r.inexact ? Exc.PE : 0, up: r.up };
}

/** Packed BCD (10 bytes, low digit first; byte 9 bit 7 the sign) to extended. Bad digits count by their value. */
export function fromBcd(bytes: Uint8Array): F80 {
  let n = 0n;
  for (let k = 8; k >= 0; k--) {
    n = n * 10n + BigInt(bytes[k] >> 4);
    n = n * 10n + BigInt(bytes[k] & 15);
  }
  const v = fromInteger(n);
  v.sign = (bytes[9] & 0x80) !== 0 ? 1 : 0;
  return v;
}

/** The packed BCD indefinite (FF FF C0 00 ... from byte 9 down). */
export function bcdIndefinite(out: Uint8Array): void {
  out.fill(0);
  out[9] = 0xff; out[8] = 0xff; out[7] = 0xc0;
}

/** FBSTP: round to an integer and encode 18 BCD digits; IE when it does not fit or is not finite. */
export function toBcd(v: F80, rc: Rc, out: Uint8Array): { ok: boolean; flags: number; up: boolean } {
  const k = classify(v);
  if (k === Cls.Unsupported || k === Cls.QNaN || k === Cls.SNaN || k === Cls.Infinity) return { ok: false, flags: Exc.IE, up: false };
  const r = roundToInteger(v, rc);
  if (r.mag >= 1000000000000000000n) return { ok: false, flags: Exc.IE, up: false };
  let n = r.mag;
  out.fill(0);
  for (let b = 0; b < 9; b++) {
    const lo = Number(n % 10n); n /= 10n;
    const hi = Number(n % 10n); n /= 10n;
    out[b] = (hi << 4) | lo;
  }
  out[9] = v.sign === 1 ? 0x80 : 0;
  return { ok: true, flags: r.inexact ? Exc.PE : 0, up: r.up };
}

/** The quieted NaN a single NaN operand propagates as. */
export function quiet(v: F80): F80 {
  return new F80(v.sign, 0x7fff, v.sig | QUIET_BIT);
}

/**
 * NaN result of a two-operand operation where at least one operand is a NaN (SDM vol. 1
 * table 4-7): a QNaN beats an SNaN; between two NaNs of the same kind the larger
 * significand wins, and on equal significands the positive one (as a real x87 does).
 */
export function propagateNaN(a: F80, b: F80): F80 {
  const ka = classify(a), kb = classify(b);
  const an = isNaNClass(ka), bn = isNaNClass(kb);
  if (!an) return quiet(b);
  if (!bn) return quiet(a);
  if (ka !== kb) return quiet(ka === Cls.QNaN ? a : b);
  if (a.sig !== b.sig) return quiet(a.sig > b.sig ? a : b);
  return quiet(a.sign <= b.sign ? a : b);
}

/** The arithmetic operation of a binary x87 instruction. */
export const enum Arith { Add = 0, Sub = 1, Mul = 2, Div = 3 }

/** A register result with its flags and C1. `v` is null when nothing may be stored. */
export class OpResult {
  v: F80 | null = null;
  flags = 0;
  up = false;
}

function result(v: F80 | null, flags: number, up = false): OpResult {
  const r = new OpResult();
  r.v = v; r.flags = flags; r.up = up;
  return r;
}

/**
 * Checks shared by two-operand arithmetic: invalid (unsupported/SNaN) and NaN operands, then
 * the denormal flag. Returns a finished result for the NaN/invalid cases, else null with
 * `flagsOut[0]` holding DE when an operand is a denormal (`bDenormal`: b came from a
 * single/double denormal).
 */
function prelude(a: F80, b: F80, ka: Cls, kb: Cls, bDenormal: boolean, flagsOut: number[]): OpResult | null {
  if (ka === Cls.Unsupported || kb === Cls.Unsupported) return result(indefinite(), Exc.IE);
  if (isNaNClass(ka) || isNaNClass(kb)) {
    const flags = ka === Cls.SNaN || kb === Cls.SNaN ? Exc.IE : 0;
    return result(propagateNaN(a, b), flags);
  }
  flagsOut[0] = ka === Cls.Denormal || kb === Cls.Denormal || bDenormal ? Exc.DE : 0;
  return null;
}

const scratchFlags = [0];

/** a (op) b rounded to `p` bits with `rc` (SDM vol. 1 §8.5 special cases, table 4-7). */
export function arith(op: Arith, a: F80, b: F80, p: number, rc: Rc, masks: number, bDenormal = false): OpResult {
  const ka = classify(a), kb = classify(b);
  const pre = prelude(a, b, ka, kb, bDenormal, scratchFlags);
  if (pre !== null) return pre;
  const de = scratchFlags[0];
  const ainf = ka === Cls.Infinity, binf = kb === Cls.Infinity;
  const az = ka === Cls.Zero, bz = kb === Cls.Zero;
  const out = new Rounded();
  switch (op) {
    case Arith.Add:
    case Arith.Sub: {
      const bs = op === Arith.Sub ? b.sign ^ 1 : b.sign;
      if (ainf || binf) {
        if (ainf && binf && a.sign !== bs) return result(indefinite(), Exc.IE);
        return result(infinity(ainf ? a.sign : bs), de);
      }
      if (az && bz) {
        const s = a.sign === bs ? a.sign : rc === Rc.Down ? 1 : 0;
        return result(zero(s), de);
      }
      return addFinite(a, b, bs, p, rc, masks, de, out);
    }
    case Arith.Mul: {
      const s = a.sign ^ b.sign;
      if (ainf || binf) {
        if (az || bz) return result(indefinite(), Exc.IE);
        return result(infinity(s), de);
      }
      if (az || bz) return result(zero(s), de);
      const v = roundToExt(out, s, a.sig * b.sig, lsbExp(a) + lsbExp(b), p, rc, masks);
      return result(v, de | out.flags, out.up);
    }
    default: {
      const s = a.sign ^ b.sign;
      if (ainf && binf) return result(indefinite(), Exc.IE);
      if (az && bz) return result(indefinite(), Exc.IE);
      if (ainf) return result(infinity(s), de);
      if (binf) return result(zero(s), de);
      // A zero divisor wins over a denormal dividend: ZE alone (as a real x87 reports).
      if (bz) return result(infinity(s), Exc.ZE);
      if (az) return result(zero(s), de);
      const k = Math.max(0, 130 + bitLength(b.sig) - bitLength(a.sig));
      const num = a.sig << BigInt(k);
      const q = num / b.sig;
      const sticky = num - q * b.sig !== 0n ? 1n : 0n;
      const v = roundToExt(out, s, (q << 1n) | sticky, lsbExp(a) - lsbExp(b) - k - 1, p, rc, masks);
      return result(v, de | out.flags, out.up);
    }
  }
}

/** Sum of two finite values (b's effective sign `bs`), one of which may be zero. */
function addFinite(a: F80, b: F80, bs: number, p: number, rc: Rc, masks: number, de: number, out: Rounded): OpResult {
  let ma = a.sig, ea = lsbExp(a), mb = b.sig, eb = lsbExp(b);
  // Operands far apart: the smaller one only matters as a sticky bit far below the lsb.
  if (ma !== 0n && mb !== 0n) {
    const ta = ea + bitLength(ma), tb = eb + bitLength(mb);
    if (ta - tb > 140) { mb = 1n; eb = ta - 140; } else if (tb - ta > 140) { ma = 1n; ea = tb - 140; }
  }
  const e = Math.min(ea, eb);
  const A = ma << BigInt(ea - e), B = mb << BigInt(eb - e);
  const sa = a.sign === 1 ? -A : A, sb = bs === 1 ? -B : B;
  const sum = sa + sb;
  if (sum === 0n) return result(zero(rc === Rc.Down ? 1 : 0), de);
  const v = roundToExt(out, sum < 0n ? 1 : 0, sum < 0n ? -sum : sum, e, p, rc, masks);
  return result(v, de | out.flags, out.up);
}

/** Integer square root (floor). */
function isqrt(n: bigint): bigint {
  if (n < 2n) return n;
  let x = 1n << BigInt((bitLength(n) + 1) >> 1);
  for (;;) {
    const y = (x + n / x) >> 1n;
    if (y >= x) return x;
    x = y;
  }
}

/** FSQRT with `p` bits of precision. */
export function sqrt(a: F80, p: number, rc: Rc, masks: number): OpResult {
  const k = classify(a);
  if (k === Cls.Unsupported) return result(indefinite(), Exc.IE);
  if (k === Cls.SNaN) return result(quiet(a), Exc.IE);
  if (k === Cls.QNaN) return result(quiet(a), 0);
  if (k === Cls.Zero) return result(zero(a.sign), 0);
  if (a.sign === 1) return result(indefinite(), Exc.IE);
  if (k === Cls.Infinity) return result(infinity(0), 0);
  const de = k === Cls.Denormal ? Exc.DE : 0;
  let m = a.sig, e = lsbExp(a);
  if ((e & 1) !== 0) { m <<= 1n; e -= 1; }
  let s2 = 260 - bitLength(m);
  s2 = s2 > 0 ? s2 + (s2 & 1) : 0;
  const n = m << BigInt(s2);
  const r = isqrt(n);
  const sticky = r * r !== n ? 1n : 0n;
  const out = new Rounded();
  const v = roundToExt(out, 0, (r << 1n) | sticky, (e - s2) / 2 - 1, p, rc, masks);
  return result(v, de | out.flags, out.up);
}

/** Comparison outcome: 0 greater, 1 less, 2 equal, 3 unordered. */
export const enum Cmp { Greater = 0, Less = 1, Equal = 2, Unordered = 3 }

/** Compare two values; `quietNaNsOk` for the unordered (FUCOM) forms. Returns the outcome and flags. */
export function compare(a: F80, b: F80, quietNaNsOk: boolean, bDenormal = false): { cmp: Cmp; flags: number } {
  const ka = classify(a), kb = classify(b);
  if (ka === Cls.Unsupported || kb === Cls.Unsupported || ka === Cls.SNaN || kb === Cls.SNaN) return { cmp: Cmp.Unordered, flags: Exc.IE };
  if (ka === Cls.QNaN || kb === Cls.QNaN) return { cmp: Cmp.Unordered, flags: quietNaNsOk ? 0 : Exc.IE };
  const flags = ka === Cls.Denormal || kb === Cls.Denormal || bDenormal ? Exc.DE : 0;
  return { cmp: compareNumbers(a, ka, b, kb), flags };
}

/** Order of two non-NaN values (zeros equal whatever their signs). */
function compareNumbers(a: F80, ka: Cls, b: F80, kb: Cls): Cmp {
  const az = ka === Cls.Zero, bz = kb === Cls.Zero;
  if (az && bz) return Cmp.Equal;
  const sa = az ? 1 - b.sign : a.sign, sb = bz ? 1 - a.sign : b.sign;
  if (sa !== sb) return sa === 0 ? Cmp.Greater : Cmp.Less;
  const mag = az ? -1 : bz ? 1 : compareMagnitude(a, ka, b, kb);
  if (mag === 0) return Cmp.Equal;
  return (mag > 0) !== (sa === 1) ? Cmp.Greater : Cmp.Less;
}

/** Sign of |a| - |b| for nonzero, non-NaN values. */
function compareMagnitude(a: F80, ka: Cls, b: F80, kb: Cls): number {
  if (ka === Cls.Infinity || kb === Cls.Infinity) return ka === kb ? 0 : ka === Cls.Infinity ? 1 : -1;
  const ea = lsbExp(a), eb = lsbExp(b);
  const ta = ea + bitLength(a.sig), tb = eb + bitLength(b.sig);
  if (ta !== tb) return ta > tb ? 1 : -1;
  const e = Math.min(ea, eb);
  const A = a.sig << BigInt(ea - e), B = b.sig << BigInt(eb - e);
  return A === B ? 0 : A > B ? 1 : -1;
}

/** FRNDINT: round to an integer by `rc` (not affected by precision control). */
export function roundInt(a: F80, rc: Rc): OpResult {
  const k = classify(a);
  if (k === Cls.Unsupported) return result(indefinite(), Exc.IE);
  if (k === Cls.SNaN) return result(quiet(a), Exc.IE);
  if (k === Cls.QNaN || k === Cls.Infinity || k === Cls.Zero) return result(k === Cls.QNaN ? quiet(a) : a, 0);
  const de = k === Cls.Denormal ? Exc.DE : 0;
  if (lsbExp(a) >= 0) return result(new F80(a.sign, a.exp, a.sig), de);
  const r = roundToInteger(a, rc);
  const v = r.mag === 0n ? zero(a.sign) : fromInteger(r.mag);
  v.sign = a.sign;
  return result(v, de | (r.inexact ? Exc.PE : 0), r.up);
}

/** Truncate a finite value toward zero to an integer (FSCALE's scale factor), clamped to ±2^20. */
function truncClamp(v: F80): number {
  const e = lsbExp(v);
  if (v.sig === 0n) return 0;
  const t = e + bitLength(v.sig) - 1;
  if (t >= 20) return v.sign === 1 ? -(1 << 20) : 1 << 20;
  const mag = e >= 0 ? Number(v.sig) * 2 ** e : Number(v.sig >> BigInt(-e));
  return v.sign === 1 ? -mag : mag;
}

/** FSCALE: ST0 * 2^trunc(ST1), rounded to 64 bits. */
export function scale(a: F80, b: F80, rc: Rc, masks: number): OpResult {
  const ka = classify(a), kb = classify(b);
  const pre = prelude(a, b, ka, kb, false, scratchFlags);
  if (pre !== null) return pre;
  const de = scratchFlags[0];
  if (kb === Cls.Infinity) {
    if (b.sign === 0) {
      if (ka === Cls.Zero) return result(indefinite(), Exc.IE);
      return result(infinity(a.sign), de);
    }
    if (ka === Cls.Infinity) return result(indefinite(), Exc.IE);
    return result(zero(a.sign), de);
  }
  if (ka === Cls.Infinity || ka === Cls.Zero) return result(new F80(a.sign, a.exp, a.sig), de);
  const n = truncClamp(b);
  const out = new Rounded();
  const v = roundToExt(out, a.sign, a.sig, lsbExp(a) + n, 64, rc, masks);
  return result(v, de | out.flags, out.up);
}

/** FXTRACT of a finite nonzero value: [exponent, significand] as extended values. */
export function extract(a: F80): [F80, F80] {
  const bl = bitLength(a.sig);
  const t = lsbExp(a) + bl - 1;
  return [fromInteger(BigInt(t)), new F80(a.sign, EXT_BIAS, (a.sig << BigInt(64 - bl)) & SIG_MASK)];
}

/**
 * Partial remainder result: value, flags, the condition bits (C0..C3 as a status-word mask)
 * and `ccMask`, the condition bits the instruction writes (the others keep their values).
 */
export interface Remainder { v: F80 | null; flags: number; cc: number; ccMask: number }

/** Status-word condition code bits. */
export const enum Cc { C0 = 0x0100, C1 = 0x0200, C2 = 0x0400, C3 = 0x4000, All = 0x4700 }

/**
 * FPREM (`ieee` false: quotient truncated) and FPREM1 (`ieee` true: quotient rounded to
 * nearest-even). Exponent differences of 64 or more reduce partially by 2^(D-N) with
 * N = 32 + (D mod 32) (the P6 choice, checked on hardware) and set C2.
 * A NaN or invalid-operation result (SNaN, unsupported, infinite dividend, zero divisor)
 * has no quotient: C1 and C2 are cleared and C0, C3 keep their values (as on Intel hardware).
 */
export function remainder(a: F80, b: F80, ieee: boolean, masks: number): Remainder {
  const ka = classify(a), kb = classify(b);
  const pre = prelude(a, b, ka, kb, false, scratchFlags);
  if (pre !== null) return { v: pre.v, flags: pre.flags, cc: 0, ccMask: Cc.C1 | Cc.C2 };
  const de = scratchFlags[0];
  if (ka === Cls.Infinity || kb === Cls.Zero) return { v: indefinite(), flags: Exc.IE, cc: 0, ccMask: Cc.C1 | Cc.C2 };
  if (ka === Cls.Zero || kb === Cls.Infinity) {
    const out = new Rounded();
    const v = ka === Cls.Zero ? zero(a.sign) : roundToExt(out, a.sign, a.sig, lsbExp(a), 64, Rc.Nearest, masks);
    return { v, flags: de | out.flags, cc: 0, ccMask: Cc.All };
  }
  const ea = lsbExp(a), eb = lsbExp(b);
  const ta = ea + bitLength(a.sig) - 1, tb = eb + bitLength(b.sig) - 1;
  const d = ta - tb;
  const out = new Rounded();
  if (d < -1) {
    const v = roundToExt(out, a.sign, a.sig, ea, 64, Rc.Nearest, masks);
    return { v, flags: de | out.flags, cc: 0, ccMask: Cc.All };
  }
  const partial = d >= 64;
  const shift = partial ? d - (32 + (d & 31)) : 0;
  const ebs = eb + shift;
  const e = Math.min(ea, ebs);
  const A = a.sig << BigInt(ea - e), B = b.sig << BigInt(ebs - e);
  let q = A / B;
  let r = A - q * B;
  let sign = a.sign;
  if (ieee && !partial) {
    const twice = r << 1n;
    if (twice > B || (twice === B && (q & 1n) === 1n)) { q += 1n; r = B - r; sign ^= 1; }
  }
  const v = r === 0n ? zero(a.sign) : roundToExt(out, sign, r, e, 64, Rc.Nearest, masks);
  let cc = 0;
  if (partial) cc = Cc.C2;
  else {
    if ((q & 4n) !== 0n) cc |= Cc.C0;
    if ((q & 2n) !== 0n) cc |= Cc.C3;
    if ((q & 1n) !== 0n) cc |= Cc.C1;
  }
  return { v, flags: de | out.flags, cc, ccMask: Cc.All };
}
