/**
 * Test helper: a small deterministic pseudo-random generator (xorshift32), so randomized
 * tests are reproducible from their seed.
 */

/** A generator returning integers in [0, limit) from `seed` (0 is replaced by 1). */
export function makeRandom(seed: number): (limit: number) => number {
  let state = seed >>> 0 || 1;
  return (limit: number) => {
    state ^= state << 13;
    state >>>= 0;
    state ^= state >>> 17;
    state ^= state << 5;
    state >>>= 0;
    return state % limit;
  };
}
