/**
 * Test and bench helper: a small deterministic pseudo-random generator (xorshift32), so
 * randomized tests and benchmark data are reproducible from their seed.
 */

/** A stream of unsigned 32-bit values from `seed` (0 is replaced by 1). */
export function xorshift32(seed: number): () => number {
  let state = seed | 0 || 1;
  return () => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return state >>> 0;
  };
}

/** A generator returning integers in [0, limit) from `seed`. */
export function makeRandom(seed: number): (limit: number) => number {
  const next = xorshift32(seed);
  return (limit: number) => next() % limit;
}
