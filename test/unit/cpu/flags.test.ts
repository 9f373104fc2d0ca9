/**
 * Lazy flags: the direct compare path of `condition()` (used right after CMP/SUB/NEG and
 * string compares) must agree with the flags computed bit by bit, at every width, for
 * boundary and random operands; SBB records (borrow-in) must take the general path.
 */
import { describe, expect, it } from 'vitest';
import {
  condition, FLAG_CF, FLAG_OF, FLAG_SF, FLAG_ZF, type LazyFlagState, setSub, statusFlags,
} from '../../../src/cpu/flags.js';

function freshState(): LazyFlagState {
  return { flagsReg: 2, lazy: 0, lop: 0, la: 0, lb: 0, lres: 0, lbits: 32 };
}

/** Condition `cc` evaluated from a full FLAGS value, as the SDM defines it. */
function fromFlags(f: number, cc: number): boolean {
  const cf = (f & FLAG_CF) !== 0, zf = (f & FLAG_ZF) !== 0, sf = (f & FLAG_SF) !== 0, of = (f & FLAG_OF) !== 0;
  const pf = (f & 4) !== 0;
  const base = [of, cf, zf, cf || zf, sf, pf, sf !== of, zf || sf !== of][cc >> 1];
  return base !== ((cc & 1) !== 0);
}

function seeded(seed: number): () => number {
  let x = seed >>> 0;
  return () => {
    x ^= x << 13; x ^= x >>> 17; x ^= x << 5;
    return x >>> 0;
  };
}

describe('condition() after a subtraction', () => {
  const widths = [8, 16, 32];
  const edges = (bits: number) => {
    const max = bits === 32 ? 0xffffffff : (1 << bits) - 1, half = 2 ** (bits - 1);
    return [0, 1, 2, half - 1, half, half + 1, max - 1, max];
  };
  for (const bits of widths) {
    it(`agrees with the bit-by-bit flags for ${bits}-bit operands`, () => {
      const rnd = seeded(bits * 7919);
      const mask = bits === 32 ? 0xffffffff : (1 << bits) - 1;
      const values = [...edges(bits), ...Array.from({ length: 40 }, () => rnd() & mask)].map((v) => v >>> 0);
      const s = freshState();
      let checked = 0;
      for (const a of values) {
        for (const b of values) {
          const av = bits === 32 ? a | 0 : a, bv = bits === 32 ? b | 0 : b;
          setSub(s, av, bv, av - bv, bits);
          const flags = statusFlags(s);
          for (let cc = 0; cc < 16; cc++) {
            expect(condition(s, cc), `a=${a.toString(16)} b=${b.toString(16)} cc=${cc}`).toBe(fromFlags(flags, cc));
            checked++;
          }
        }
      }
      expect(checked).toBeGreaterThan(16 * 2000);
    });
  }

  it('uses the borrow of an SBB record (not the bare operands)', () => {
    // 5 - 5 - 1 borrows: CF=1, ZF=0 — the operands alone would say "equal, no borrow".
    const s = freshState();
    s.lop = 4; s.la = 5; s.lb = 5; s.lres = -1; s.lbits = 16; s.lazy = 0x8d5;
    expect(condition(s, 0x2)).toBe(true); // JB
    expect(condition(s, 0x4)).toBe(false); // JE
  });
});
