/**
 * How x87 instructions finish (SDM vol. 1 §8.5 and §8.5.1.1): raising exception flags with the
 * rule that an unmasked IE, DE or ZE suppresses the result and any pop, stack underflow and
 * overflow (IE + SF with C1 telling which), and committing a result to a stack register with
 * C1 as the round-up indicator. Shared by the x87 handlers (ops/x87.ts, ops/x87-transcendental.ts).
 */
import { Exc, indefinite, type F80, type OpResult } from './float80.js';
import { Sw, type Fpu } from './fpu.js';

/** Exceptions that, unmasked, suppress the result and any pop (SDM vol. 1 §8.5.1-8.5.3). */
const SUPPRESSING = Exc.IE | Exc.DE | Exc.ZE;

/** Flags raised; true when an unmasked IE/DE/ZE suppresses the result. */
export function raiseFlags(f: Fpu, flags: number): boolean {
  f.signal(flags);
  return (flags & ~f.masks & SUPPRESSING) !== 0;
}

/** Stack underflow (reading an empty register): IE + SF, C1 = 0. Returns true when masked. */
export function stackUnderflow(f: Fpu): boolean {
  f.setCc(Sw.C1, 0);
  f.signal(Exc.IE | Exc.SF);
  return (f.masks & Exc.IE) !== 0;
}

/** Stack overflow (pushing onto a full stack): IE + SF, C1 = 1. Returns true when masked. */
export function stackOverflow(f: Fpu): boolean {
  f.setCc(Sw.C1, Sw.C1);
  f.signal(Exc.IE | Exc.SF);
  return (f.masks & Exc.IE) !== 0;
}

/** Whether a push would overflow (ST(7) in use). */
export function full(f: Fpu): boolean {
  return !f.isEmpty(7);
}

/** Store an arithmetic result in ST(dst) (C1 = round-up), then pop if asked. */
export function commit(f: Fpu, r: OpResult, dst: number, pop: boolean): void {
  f.setCc(Sw.C1, 0);
  if (raiseFlags(f, r.flags)) return;
  if (r.up) f.setCc(Sw.C1, Sw.C1);
  if (r.v !== null) f.set(dst, r.v);
  if (pop) f.pop();
}

/** Push a loaded value unless the stack is full (masked overflow pushes the indefinite). */
export function pushChecked(f: Fpu, v: F80, flags: number): void {
  if (full(f)) {
    if (stackOverflow(f)) f.push(indefinite());
    return;
  }
  f.setCc(Sw.C1, 0);
  if (raiseFlags(f, flags)) return;
  f.push(v);
}
