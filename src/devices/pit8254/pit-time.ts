/**
 * Exact conversion between guest nanoseconds and 8254 input-clock pulses (PC/AT: 14.31818 MHz
 * / 12, which Linux and most references round to 1 193 182 Hz). All arithmetic stays in
 * integers below 2^53: nanoseconds are split into whole seconds and a remainder before
 * multiplying by the clock rate.
 */

/** Input clock of the PC's 8254, in Hz. */
export const PIT_CLOCK_HZ = 1_193_182;
const NS_PER_SECOND = 1_000_000_000;

/** floor(a / b) for integers a (|a| < 2^53) and b > 0, exact (corrects the float quotient). */
export function floorDiv(a: number, b: number): number {
  let q = Math.floor(a / b);
  if (q * b > a) q--;
  else if ((q + 1) * b <= a) q++;
  return q;
}

/** Clock pulses that have occurred at or before guest time `ns` (pulse k happens at k / f s). */
export function pitTicksAt(ns: number): number {
  const seconds = floorDiv(ns, NS_PER_SECOND);
  const remainder = ns - seconds * NS_PER_SECOND;
  return seconds * PIT_CLOCK_HZ + floorDiv(remainder * PIT_CLOCK_HZ, NS_PER_SECOND);
}

/** The first guest nanosecond at which pulse `tick` has occurred (inverse of `pitTicksAt`). */
export function pitTickToNs(tick: number): number {
  const seconds = floorDiv(tick, PIT_CLOCK_HZ);
  const remainder = tick - seconds * PIT_CLOCK_HZ;
  return seconds * NS_PER_SECOND - floorDiv(-remainder * NS_PER_SECOND, PIT_CLOCK_HZ);
}
