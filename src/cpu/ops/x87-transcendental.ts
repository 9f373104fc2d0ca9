/**
 * The x87 transcendental instructions (SDM vol. 2 FSIN, FCOS, FSINCOS, FPTAN, FPATAN, F2XM1,
 * FYL2X, FYL2XP1): special operands, the out-of-range rule (|x| >= 2^63 sets C2), the
 * condition codes Intel hardware leaves, and one rounding of the BigInt kernels' results
 * (fpu/transcendental.ts, computed to TRANSCENDENTAL_BITS and rounded to 64 bits per RC).
 * Called from the D9 register-form groups in ops/x87.ts.
 */
import {
  bitLength, classify, Cls, Exc, F80, propagateNaN, indefinite, infinity, isNaNClass, J_BIT, lsbExp, OpResult, quiet, Rounded,
  roundToExt, zero, type Rc,
} from '../fpu/float80.js';
import { Sw, type Fpu } from '../fpu/fpu.js';
import { commit, full, raiseFlags, stackOverflow, stackUnderflow } from '../fpu/stack-faults.js';
import * as tr from '../fpu/transcendental.js';

/** Bits of precision asked of the transcendental kernels (rounded to 64 afterwards). */
const TRANSCENDENTAL_BITS = 80;

/** An exact value for the transcendental kernels. */
function signedFx(v: F80): tr.SignedFx {
  return { neg: v.sign === 1, m: v.sig, e: lsbExp(v) };
}

/** Round a kernel result to a 64-bit register value. */
function fromSignedFx(f: Fpu, x: tr.SignedFx, flags: number): OpResult {
  const r = new OpResult();
  if (x.m === 0n) {
    r.v = zero(x.neg ? 1 : 0);
    r.flags = flags;
    return r;
  }
  const out = new Rounded();
  r.v = roundToExt(out, x.neg ? 1 : 0, x.m, x.e, 64, f.rc as Rc, f.masks);
  r.flags = flags | out.flags;
  r.up = out.up;
  return r;
}

/** Common special-casing of a one-operand transcendental: a finished result, or null to compute. */
function unarySpecial(a: F80): OpResult | null {
  const k = classify(a);
  const r = new OpResult();
  if (k === Cls.Unsupported) { r.v = indefinite(); r.flags = Exc.IE; return r; }
  if (isNaNClass(k)) { r.v = quiet(a); r.flags = k === Cls.SNaN ? Exc.IE : 0; return r; }
  return null;
}

/** A one-operand transcendental: special cases and the kernel call; may report C2 (out of range). */
type UnaryKernel = (f: Fpu, a: F80) => { r: OpResult; c2: boolean };

/**
 * FSIN/FCOS (`trig`: C2 is cleared, or set with C1 cleared when the operand is out of range,
 * as on Intel hardware) and F2XM1 (C2 is left as it was: the SDM leaves it undefined and
 * Intel hardware does not touch it).
 */
function unaryTranscendental(f: Fpu, fn: UnaryKernel, trig: boolean): void {
  if (trig) f.setCc(Sw.C2, 0);
  if (f.isEmpty(0)) {
    if (stackUnderflow(f)) f.set(0, indefinite());
    return;
  }
  const a = f.get(0);
  const special = unarySpecial(a);
  if (special !== null) { commit(f, special, 0, false); return; }
  const { r, c2 } = fn(f, a);
  if (c2) { f.setCc(Sw.C1 | Sw.C2, Sw.C2); return; }
  commit(f, r, 0, false);
}

/** |x| >= 2^63: FSIN/FCOS/FSINCOS/FPTAN leave the operand and set C2. */
function outOfTrigRange(a: F80): boolean {
  return classify(a) !== Cls.Zero && lsbExp(a) + bitLength(a.sig) - 1 >= 63;
}

function denormalFlag(a: F80): number {
  return classify(a) === Cls.Denormal ? Exc.DE : 0;
}

function sinOp(f: Fpu, a: F80): { r: OpResult; c2: boolean } {
  const k = classify(a);
  if (k === Cls.Infinity) return { r: invalidResult(), c2: false };
  if (k === Cls.Zero) return { r: plain(a), c2: false };
  if (outOfTrigRange(a)) return { r: plain(a), c2: true };
  return { r: inexact(fromSignedFx(f, tr.sinCos(signedFx(a), TRANSCENDENTAL_BITS).sin, denormalFlag(a))), c2: false };
}

function cosOp(f: Fpu, a: F80): { r: OpResult; c2: boolean } {
  const k = classify(a);
  if (k === Cls.Infinity) return { r: invalidResult(), c2: false };
  if (k === Cls.Zero) return { r: plain(new F80(0, 0x3fff, J_BIT)), c2: false };
  if (outOfTrigRange(a)) return { r: plain(a), c2: true };
  return { r: inexact(fromSignedFx(f, tr.sinCos(signedFx(a), TRANSCENDENTAL_BITS).cos, denormalFlag(a))), c2: false };
}

function exp2m1Op(f: Fpu, a: F80): { r: OpResult; c2: boolean } {
  const k = classify(a);
  if (k === Cls.Zero) return { r: plain(a), c2: false };
  if (k === Cls.Infinity) return { r: plain(a.sign === 1 ? new F80(1, 0x3fff, J_BIT) : a), c2: false };
  // Outside [-1, 1] the SDM leaves the result undefined: Intel parts return the operand with PE.
  const top = lsbExp(a) + bitLength(a.sig) - 1;
  if (top > 0 || (top === 0 && a.sig !== J_BIT)) return { r: inexact(plain(a)), c2: false };
  return { r: inexact(fromSignedFx(f, tr.exp2m1(signedFx(a), TRANSCENDENTAL_BITS), denormalFlag(a))), c2: false };
}

/**
 * F2XM1, FYL2X and FYL2XP1 report PE for every finite nonzero result, exact ones included
 * (log2(8) * 3 = 9 sets PE on Intel hardware), and UE with it for denormal results. The
 * trigonometric results of nonzero finite operands are never exact either (they are
 * transcendental numbers), so they get the same treatment whatever the kernel returned.
 */
function inexact(r: OpResult): OpResult {
  if (r.v !== null && (r.flags & Exc.IE) === 0) {
    const k = classify(r.v);
    if (k !== Cls.Zero && k !== Cls.Infinity && !isNaNClass(k)) r.flags |= k === Cls.Denormal ? Exc.PE | Exc.UE : Exc.PE;
  }
  return r;
}

function invalidResult(): OpResult {
  const r = new OpResult();
  r.v = indefinite();
  r.flags = Exc.IE;
  return r;
}

function plain(v: F80): OpResult {
  const r = new OpResult();
  r.v = v;
  return r;
}

/**
 * Stack checks of FSINCOS/FPTAN, which replace ST(0) and push a second result: C2 is
 * cleared (by stack faults too, as on Intel hardware); an empty ST(0) is an underflow and an
 * already full stack an overflow, each leaving two indefinites when masked (the second is
 * pushed even onto a full stack, as Intel hardware does). False when the instruction ends here.
 */
function replaceAndPushReady(f: Fpu): boolean {
  f.setCc(Sw.C2, 0);
  if (f.isEmpty(0)) {
    if (stackUnderflow(f)) { f.set(0, indefinite()); f.push(indefinite()); }
    return false;
  }
  if (full(f)) {
    if (stackOverflow(f)) { f.set(0, indefinite()); f.push(indefinite()); }
    return false;
  }
  return true;
}

/** FSINCOS: ST(0) = sin, then push cos. C2 is cleared by stack faults too (as on Intel hardware). */
export function fsincos(f: Fpu): void {
  if (!replaceAndPushReady(f)) return;
  const a = f.get(0);
  const special = unarySpecial(a);
  const k = classify(a);
  let s: OpResult, co: OpResult;
  if (special !== null) { s = special; co = special; }
  else if (k === Cls.Infinity) { s = invalidResult(); co = invalidResult(); }
  else if (k === Cls.Zero) { s = plain(a); co = plain(new F80(0, 0x3fff, J_BIT)); }
  else if (outOfTrigRange(a)) { f.setCc(Sw.C1 | Sw.C2, Sw.C2); return; }
  else {
    const sc = tr.sinCos(signedFx(a), TRANSCENDENTAL_BITS);
    s = inexact(fromSignedFx(f, sc.sin, denormalFlag(a)));
    co = inexact(fromSignedFx(f, sc.cos, denormalFlag(a)));
  }
  f.setCc(Sw.C1 | Sw.C2, 0);
  if (raiseFlags(f, s.flags | co.flags)) return;
  if (co.up) f.setCc(Sw.C1, Sw.C1);
  f.set(0, s.v as F80);
  f.push(co.v as F80);
}

/** FPTAN: ST(0) = tan, then push 1.0. C2 is cleared by stack faults too (as on Intel hardware). */
export function fptan(f: Fpu): void {
  if (!replaceAndPushReady(f)) return;
  const a = f.get(0);
  const special = unarySpecial(a);
  const k = classify(a);
  let r: OpResult;
  if (special !== null) r = special;
  else if (k === Cls.Infinity) r = invalidResult();
  else if (k === Cls.Zero) r = plain(a);
  else if (outOfTrigRange(a)) { f.setCc(Sw.C1 | Sw.C2, Sw.C2); return; }
  else r = inexact(fromSignedFx(f, tr.tan(signedFx(a), TRANSCENDENTAL_BITS), denormalFlag(a)));
  f.setCc(Sw.C1 | Sw.C2, 0);
  if (raiseFlags(f, r.flags)) return;
  if (r.up) f.setCc(Sw.C1, Sw.C1);
  f.set(0, r.v as F80);
  const nan = r.v !== null && isNaNClass(classify(r.v));
  f.push(nan ? (r.v as F80) : new F80(0, 0x3fff, J_BIT));
}

/** Two-operand prelude for FPATAN/FYL2X/FYL2XP1 (ST(1) op ST(0), result to ST(1), pop). */
function binaryTranscendental(f: Fpu, fn: (y: F80, x: F80) => OpResult): void {
  if (f.isEmpty(0) || f.isEmpty(1)) {
    if (stackUnderflow(f)) { f.set(1, indefinite()); f.pop(); }
    return;
  }
  const x = f.get(0), y = f.get(1);
  const kx = classify(x), ky = classify(y);
  let r: OpResult;
  if (kx === Cls.Unsupported || ky === Cls.Unsupported) r = invalidResult();
  else if (isNaNClass(kx) || isNaNClass(ky)) {
    r = plain(propagateNaN(y, x));
    r.flags = kx === Cls.SNaN || ky === Cls.SNaN ? Exc.IE : 0;
  } else r = fn(y, x);
  commit(f, r, 1, true);
}

export function fpatan(f: Fpu): void {
  binaryTranscendental(f, (y, x) => {
    const de = denormalFlag(x) | denormalFlag(y);
    const ky = classify(y), kx = classify(x);
    if (ky === Cls.Infinity || kx === Cls.Infinity) {
      // atan2 with infinities: quarter and three-quarter angles, or 0/pi.
      const yv: tr.SignedFx = ky === Cls.Infinity ? { neg: y.sign === 1, m: 1n, e: 0 } : { neg: y.sign === 1, m: 0n, e: 0 };
      const xv: tr.SignedFx = kx === Cls.Infinity ? { neg: x.sign === 1, m: 1n, e: 0 } : { neg: x.sign === 1, m: 0n, e: 0 };
      if (ky === Cls.Infinity && kx !== Cls.Infinity) xv.m = 0n;
      return fromSignedFx(f, tr.atan2(yv, xv, TRANSCENDENTAL_BITS), de);
    }
    return inexact(fromSignedFx(f, tr.atan2(signedFx(y), signedFx(x), TRANSCENDENTAL_BITS), de));
  });
}

/** FYL2X (`p1` false: ST(1) * log2(ST(0))) and FYL2XP1 (ST(1) * log2(ST(0) + 1)). */
export function fyl2x(f: Fpu, p1: boolean): void {
  binaryTranscendental(f, (y, x) => {
    const de = denormalFlag(x) | denormalFlag(y);
    const kx = classify(x), ky = classify(y);
    if (!p1) {
      if (x.sign === 1 && kx !== Cls.Zero) return invalidResult();
      if (kx === Cls.Zero) {
        if (ky === Cls.Zero) return invalidResult();
        // A zero x wins over denormal operands: ZE alone, as on Intel hardware.
        const r = plain(infinity(y.sign ^ 1));
        r.flags = ky === Cls.Infinity ? 0 : Exc.ZE;
        return r;
      }
      if (kx === Cls.Infinity) {
        if (ky === Cls.Zero) return invalidResult();
        const r = plain(infinity(y.sign));
        r.flags = de;
        return r;
      }
      const isOne = x.exp === 0x3fff && x.sig === J_BIT;
      if (ky === Cls.Infinity) {
        if (isOne) return invalidResult();
        const below = lsbExp(x) + bitLength(x.sig) - 1 < 0;
        const r = plain(infinity(y.sign ^ (below ? 1 : 0)));
        r.flags = de;
        return r;
      }
      if (ky === Cls.Zero) {
        const below = lsbExp(x) + bitLength(x.sig) - 1 < 0;
        const r = plain(zero(y.sign ^ (below ? 1 : 0)));
        r.flags = de;
        return r;
      }
      return inexact(fromSignedFx(f, tr.yLog2x(signedFx(y), { m: x.sig, e: lsbExp(x) }, TRANSCENDENTAL_BITS), de));
    }
    // FYL2XP1: defined for |x| < 1 - sqrt(2)/2; larger magnitudes are computed as log2(1 + x) while 1 + x > 0.
    if (kx === Cls.Infinity) {
      if (x.sign === 1 || ky === Cls.Zero) return invalidResult();
      const r = plain(infinity(y.sign));
      r.flags = de;
      return r;
    }
    if (ky === Cls.Zero) {
      const r = plain(zero(y.sign ^ x.sign));
      r.flags = de;
      return r;
    }
    if (ky === Cls.Infinity) {
      if (kx === Cls.Zero) return invalidResult();
      const r = plain(infinity(y.sign ^ x.sign));
      r.flags = de;
      return r;
    }
    if (kx === Cls.Zero) {
      const r = plain(zero(y.sign ^ x.sign));
      r.flags = de;
      return r;
    }
    // x <= -1 is outside the domain: Intel parts return x itself with PE.
    if (x.sign === 1 && lsbExp(x) + bitLength(x.sig) - 1 >= 0) {
      const r = inexact(plain(x));
      r.flags |= de;
      return r;
    }
    return inexact(fromSignedFx(f, tr.yLog2p1x(signedFx(y), signedFx(x), TRANSCENDENTAL_BITS), de));
  });
}

/** F2XM1: ST(0) = 2^ST(0) - 1. */
export function f2xm1(f: Fpu): void { unaryTranscendental(f, exp2m1Op, false); }
/** FSIN: ST(0) = sin ST(0). */
export function fsin(f: Fpu): void { unaryTranscendental(f, sinOp, true); }
/** FCOS: ST(0) = cos ST(0). */
export function fcos(f: Fpu): void { unaryTranscendental(f, cosOp, true); }
