// Bitmap kernels: the WASM module and the pure-TS fallback agree on random and adversarial
// bitmaps (all zeros, all ones, single bits at every position class), in place in pool memory.
import { beforeAll, describe, expect, it } from 'vitest';
import { FramePool, FRAME_SIZE } from '../../../src/memory/index.js';
import {
  KernelArgumentError,
  loadKernels,
  popCount32,
  tsBitmapKernels,
  type BitmapKernels,
} from '../../../src/kernels/index.js';
import { ensureReleaseWasm } from '../../helpers/wasm-build.js';

beforeAll(() => ensureReleaseWasm());

interface Fixture {
  pool: FramePool;
  wasm: BitmapKernels;
  ts: BitmapKernels;
  bitmapOffset: number;
  outOffset: number;
}

const BITMAP_BYTES = 2 * FRAME_SIZE;

/** Index of the first differing byte of two arrays (or their shorter length when one is a prefix), -1 when equal. Cheaper than toEqual on large typed arrays. */
function firstDifference(a: ArrayLike<number>, b: ArrayLike<number>): number {
  const length = Math.min(a.length, b.length);
  for (let i = 0; i < length; i++) if (a[i] !== b[i]) return i;
  return a.length === b.length ? -1 : length;
}


function fixture(): Fixture {
  const pool = new FramePool();
  const wasm = loadKernels(pool);
  if (wasm === null) throw new Error('WASM kernels did not load on a shared pool');
  const bitmapOffset = pool.allocateContiguous(2) * FRAME_SIZE;
  const outOffset = pool.allocateContiguous((BITMAP_BYTES * 32) / FRAME_SIZE) * FRAME_SIZE;
  return { pool, wasm, ts: tsBitmapKernels(pool), bitmapOffset, outOffset };
}

/** Runs count + harvest with one implementation on a copy of `bits`; returns what it saw. */
function runKernel(f: Fixture, kernels: BitmapKernels, bits: Uint8Array, offset = 0, length = bits.length) {
  f.pool.bytes.set(bits, f.bitmapOffset);
  const count = kernels.bitmapCount(f.bitmapOffset + offset, length);
  const harvested = kernels.bitmapHarvest(f.bitmapOffset + offset, length, f.outOffset);
  const indices = Array.from(new Uint32Array(f.pool.memory.buffer, f.outOffset, harvested));
  const after = f.pool.bytes.slice(f.bitmapOffset, f.bitmapOffset + bits.length);
  return { count, harvested, indices, after };
}

/** Straightforward reference: indices of set bits in [offset, offset + length). */
function referenceIndices(bits: Uint8Array, offset: number, length: number): number[] {
  const indices: number[] = [];
  for (let byte = 0; byte < length; byte++) {
    for (let bit = 0; bit < 8; bit++) if (bits[offset + byte] & (1 << bit)) indices.push(byte * 8 + bit);
  }
  return indices;
}

function checkAgreement(f: Fixture, bits: Uint8Array, offset = 0, length = bits.length): void {
  const expected = referenceIndices(bits, offset, length);
  const expectedAfter = bits.slice();
  expectedAfter.fill(0, offset, offset + length);
  for (const kernels of [f.wasm, f.ts]) {
    const result = runKernel(f, kernels, bits, offset, length);
    expect(result.count, `${kernels.kind} count`).toBe(expected.length);
    expect(result.harvested, `${kernels.kind} harvested`).toBe(expected.length);
    expect(firstDifference(result.indices, expected), `${kernels.kind} indices`).toBe(-1);
    expect(firstDifference(result.after, expectedAfter), `${kernels.kind} cleared only its range`).toBe(-1);
  }
}

describe('bitmap kernels', () => {
  it('loads the WASM kernels on a shared pool and not on a non-shared one', () => {
    expect(loadKernels(new FramePool())?.kind).toBe('wasm');
    expect(loadKernels(new FramePool({ shared: false }))).toBeNull();
    expect(new FramePool().bitmapKernels().kind).toBe('wasm');
  });

  it('agree on all zeros and all ones', () => {
    const f = fixture();
    checkAgreement(f, new Uint8Array(BITMAP_BYTES));
    checkAgreement(f, new Uint8Array(BITMAP_BYTES).fill(0xff));
  });

  it('agree on a single bit at every position of a 64-bit word and at the ends', () => {
    const f = fixture();
    const positions = [...Array.from({ length: 128 }, (_, i) => i), BITMAP_BYTES * 8 - 1, BITMAP_BYTES * 8 - 32, 4095 * 8 + 7];
    for (const position of positions) {
      const bits = new Uint8Array(BITMAP_BYTES);
      bits[position >>> 3] = 1 << (position & 7);
      checkAgreement(f, bits);
    }
  });

  it('agree on random bitmaps of varied density, lengths and offsets (4-byte tails included)', () => {
    const f = fixture();
    let state = 0x9e3779b9;
    const next = () => {
      state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
      return state;
    };
    for (let round = 0; round < 40; round++) {
      const bits = new Uint8Array(BITMAP_BYTES);
      const density = [1, 16, 128, 250][round % 4];
      for (let i = 0; i < bits.length; i++) {
        let byte = 0;
        for (let bit = 0; bit < 8; bit++) if ((next() & 255) < density) byte |= 1 << bit;
        bits[i] = byte;
      }
      const offset = (next() % 64) * 4;
      const length = (next() % ((BITMAP_BYTES - offset) / 4)) * 4;
      checkAgreement(f, bits, offset, length);
    }
  });

  it('reject misaligned, out-of-range and overlapping regions, naming the argument', () => {
    const f = fixture();
    for (const kernels of [f.wasm, f.ts]) {
      expect(() => kernels.bitmapCount(f.bitmapOffset + 2, 8)).toThrow(KernelArgumentError);
      expect(() => kernels.bitmapCount(f.bitmapOffset, 6)).toThrow(/byteOffset length/);
      expect(() => kernels.bitmapCount(f.pool.bytes.length - 4, 8)).toThrow(/exceeds memory size/);
      expect(() => kernels.bitmapHarvest(f.bitmapOffset, 64, f.bitmapOffset + 32)).toThrow(/outOffset/);
    }
  });

  it('popCount32 counts bits of any 32-bit value', () => {
    expect(popCount32(0)).toBe(0);
    expect(popCount32(-1)).toBe(32);
    expect(popCount32(0x80000001)).toBe(2);
    expect(popCount32(0x12345678)).toBe(13);
  });
});
