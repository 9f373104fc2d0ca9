// XOR-delta kernels: decode(encode(x)) = x for both implementations, WASM and TS byte-identical
// and equal to a plain byte-by-byte reference encoder written from delta-format.md, outputs within
// the documented bound, and corrupt deltas rejected with the problem and offset named, leaving
// the output frame exactly as it was — in place (one pass, applied pairs undone) and into another
// frame (nothing written) — and never writing outside the output frame.
import { existsSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { beforeAll, describe, expect, it } from 'vitest';
import { FramePool, FRAME_SIZE } from '../../../src/memory/index.js';
import {
  DELTA_MAX_BYTES,
  DeltaFormatError,
  KernelArgumentError,
  loadDeltaKernels,
  loadKernels,
  tsDeltaKernels,
  type DeltaKernels,
} from '../../../src/kernels/index.js';

const releaseWasm = new URL('../../../dist/wasm/kernels.release.wasm', import.meta.url);

beforeAll(() => {
  if (existsSync(releaseWasm)) return;
  const build = spawnSync('npm', ['run', 'build:wasm'], { cwd: new URL('../../..', import.meta.url).pathname, encoding: 'utf8' });
  if (build.status !== 0) throw new Error(`npm run build:wasm failed:\n${build.stdout}\n${build.stderr}`);
});

/** Seeded generator (LCG), so failures reproduce. */
function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state;
  };
}

/** Straightforward reference encoder, byte by byte from the format description (no xorLimit below 4096). */
function referenceEncode(prev: Uint8Array, cur: Uint8Array): Uint8Array {
  const out: number[] = [1];
  const varint = (v: number) => (v < 128 ? out.push(v) : out.push((v & 0x7f) | 0x80, v >>> 7));
  const changed = (i: number) => prev[i] !== cur[i];
  let i = 0;
  let zeroStart = 0;
  while (i < 4096) {
    while (i < 4096 && !changed(i)) i++;
    if (i === 4096) break;
    const start = i;
    let end = start;
    for (;;) {
      while (end < 4096 && changed(end)) end++;
      let next = end;
      while (next < 4096 && !changed(next)) next++;
      if (next === 4096 || next - end >= 3) break;
      end = next;
    }
    varint(start - zeroStart);
    varint(end - start);
    for (let k = start; k < end; k++) out.push(prev[k] ^ cur[k]);
    zeroStart = end;
    i = end;
  }
  if (out.length > 4096) return Uint8Array.from([0, ...cur]);
  return Uint8Array.from(out);
}

interface Fixture {
  pool: FramePool;
  wasm: DeltaKernels;
  ts: DeltaKernels;
  prev: number;
  cur: number;
  /** Delta output areas (two frames each, so 4097 bytes fit), one per implementation. */
  deltaOut: Record<'wasm' | 'ts', number>;
  /** Decode target frame, with guard frames before and after it. */
  out: number;
}

function fixture(): Fixture {
  const pool = new FramePool();
  const wasm = loadDeltaKernels(pool);
  if (wasm === null) throw new Error('WASM delta kernels did not load on a shared pool');
  const base = pool.allocateContiguous(9) * FRAME_SIZE;
  return {
    pool, wasm, ts: tsDeltaKernels(pool),
    prev: base, cur: base + FRAME_SIZE,
    deltaOut: { wasm: base + 2 * FRAME_SIZE, ts: base + 4 * FRAME_SIZE },
    out: base + 7 * FRAME_SIZE,
  };
}

function firstDifference(a: ArrayLike<number>, b: ArrayLike<number>): number {
  const length = Math.min(a.length, b.length);
  for (let i = 0; i < length; i++) if (a[i] !== b[i]) return i;
  return a.length === b.length ? -1 : length;
}

/** Whether the frame at `offset` holds only `value`. */
function allBytes(f: Fixture, offset: number, value: number): boolean {
  const bytes = f.pool.bytes;
  for (let i = offset; i < offset + FRAME_SIZE; i++) if (bytes[i] !== value) return false;
  return true;
}

/** Frame bytes of the pool at `offset` (a copy). */
function frameAt(f: Fixture, offset: number, length = FRAME_SIZE): Uint8Array {
  return f.pool.bytes.slice(offset, offset + length);
}

/** Encodes with both kernels; checks identity, bound and round trip (separate and in place). Returns the delta. */
function roundTrip(f: Fixture, prev: Uint8Array, cur: Uint8Array, xorLimit?: number): Uint8Array {
  f.pool.bytes.set(prev, f.prev);
  f.pool.bytes.set(cur, f.cur);
  const deltas: Uint8Array[] = [];
  for (const kernels of [f.wasm, f.ts]) {
    const length = kernels.deltaEncode(f.prev, f.cur, f.deltaOut[kernels.kind], xorLimit);
    expect(length, `${kernels.kind} bound`).toBeLessThanOrEqual(DELTA_MAX_BYTES);
    expect(length).toBeGreaterThanOrEqual(1);
    const delta = frameAt(f, f.deltaOut[kernels.kind], length);
    if (delta[0] === 1) expect(length, `${kernels.kind} XOR form within xorLimit`).toBeLessThanOrEqual(xorLimit ?? 4096);
    else expect(length, `${kernels.kind} RAW form`).toBe(DELTA_MAX_BYTES);
    deltas.push(delta);
  }
  expect(firstDifference(deltas[0], deltas[1]), 'WASM and TS deltas byte-identical').toBe(-1);
  expect(firstDifference(f.pool.bytes.subarray(f.prev, f.prev + FRAME_SIZE), prev), 'encode leaves prev alone').toBe(-1);
  expect(firstDifference(f.pool.bytes.subarray(f.cur, f.cur + FRAME_SIZE), cur), 'encode leaves cur alone').toBe(-1);
  const delta = deltas[0];
  for (const kernels of [f.wasm, f.ts]) {
    f.pool.bytes.fill(0xa5, f.out - FRAME_SIZE, f.out + 2 * FRAME_SIZE);
    kernels.deltaDecode(f.deltaOut.wasm, delta.length, f.prev, f.out);
    expect(firstDifference(f.pool.bytes.subarray(f.out, f.out + FRAME_SIZE), cur), `${kernels.kind} decode into another frame`).toBe(-1);
    expect(allBytes(f, f.out - FRAME_SIZE, 0xa5), `${kernels.kind} guard before`).toBe(true);
    expect(allBytes(f, f.out + FRAME_SIZE, 0xa5), `${kernels.kind} guard after`).toBe(true);
    f.pool.bytes.set(prev, f.out);
    kernels.deltaDecode(f.deltaOut.ts, delta.length, f.out, f.out);
    expect(firstDifference(f.pool.bytes.subarray(f.out, f.out + FRAME_SIZE), cur), `${kernels.kind} decode in place`).toBe(-1);
  }
  return delta;
}

/** Round trip plus agreement with the reference encoder (for the default limit). */
function checkFrames(f: Fixture, prev: Uint8Array, cur: Uint8Array): Uint8Array {
  const delta = roundTrip(f, prev, cur);
  expect(firstDifference(delta, referenceEncode(prev, cur)), 'delta equals the reference encoding').toBe(-1);
  return delta;
}

function randomFrame(next: () => number): Uint8Array {
  const frame = new Uint8Array(FRAME_SIZE);
  for (let i = 0; i < FRAME_SIZE; i++) frame[i] = next() >>> 24;
  return frame;
}

/** `cur` = `prev` with about `fraction` of its bytes changed, in runs of up to `maxRun` bytes. */
function dirtied(prev: Uint8Array, fraction: number, maxRun: number, next: () => number): Uint8Array {
  const cur = prev.slice();
  let budget = Math.round(fraction * FRAME_SIZE);
  while (budget > 0) {
    const run = Math.min(budget, 1 + (next() % maxRun));
    const start = next() % (FRAME_SIZE - run + 1);
    for (let k = start; k < start + run; k++) cur[k] = prev[k] ^ (1 + (next() % 255));
    budget -= run;
  }
  return cur;
}

/** Expects `action` to throw a DeltaFormatError with this problem and offset. */
function expectProblem(action: () => void, problem: string, offset: number): void {
  let caught: unknown;
  try {
    action();
  } catch (error) {
    caught = error;
  }
  expect(caught).toBeInstanceOf(DeltaFormatError);
  const error = caught as DeltaFormatError;
  expect(error.problem).toBe(problem);
  expect(error.offset).toBe(offset);
  expect(error.message).toContain(problem);
  expect(error.message).toContain(`offset ${offset}`);
}

describe('delta kernels: round trip and identical output', () => {
  it('loads from the same instance as the bitmap kernels, WASM on a shared pool only', () => {
    const pool = new FramePool();
    expect(loadKernels(pool)?.kind).toBe('wasm');
    expect(loadDeltaKernels(pool)?.kind).toBe('wasm');
    expect(loadDeltaKernels(new FramePool({ shared: false }))).toBeNull();
  });

  it('identical frames give the 1-byte XOR delta; all-zero and all-ones frames', () => {
    const f = fixture();
    const zero = new Uint8Array(FRAME_SIZE);
    const ones = new Uint8Array(FRAME_SIZE).fill(0xff);
    expect(Array.from(checkFrames(f, zero, zero))).toEqual([1]);
    expect(Array.from(checkFrames(f, ones, ones))).toEqual([1]);
    const noise = randomFrame(random(1));
    expect(Array.from(checkFrames(f, noise, noise))).toEqual([1]);
    const allChanged = checkFrames(f, zero, ones);
    expect(allChanged[0]).toBe(0);
    expect(allChanged.length).toBe(DELTA_MAX_BYTES);
    expect(checkFrames(f, ones, zero).length).toBe(DELTA_MAX_BYTES);
  });

  it('every byte different (maximal delta) falls back to RAW', () => {
    const f = fixture();
    const next = random(11);
    for (let round = 0; round < 10; round++) {
      const prev = randomFrame(next);
      const cur = prev.map((b) => b ^ (1 + (next() % 255)));
      const delta = checkFrames(f, prev, cur);
      expect(delta[0]).toBe(0);
      expect(firstDifference(delta.subarray(1), cur)).toBe(-1);
    }
  });

  it('a single changed byte at every position of the frame', () => {
    const f = fixture();
    const next = random(5);
    const prev = randomFrame(next);
    for (let position = 0; position < FRAME_SIZE; position++) {
      const cur = prev.slice();
      cur[position] ^= 1 << (position & 7);
      const delta = checkFrames(f, prev, cur);
      const zeroRunBytes = position < 128 ? 1 : 2;
      expect(delta.length, `position ${position}`).toBe(1 + zeroRunBytes + 1 + 1);
    }
  });

  it('runs starting and ending at every position class (lane, 64-byte block, varint boundaries)', () => {
    const f = fixture();
    const prev = randomFrame(random(6));
    const positions = [0, 1, 3, 4, 7, 8, 15, 16, 17, 31, 32, 63, 64, 65, 127, 128, 129, 255, 256, 2047, 2048, 4031, 4032, 4079, 4080, 4092, 4095];
    const lengths = [1, 2, 3, 4, 15, 16, 17, 33, 64, 127, 128, 129, 200];
    for (const start of positions) {
      for (const length of lengths) {
        const cur = prev.slice();
        for (let k = start; k < Math.min(FRAME_SIZE, start + length); k++) cur[k] ^= 0x5a;
        checkFrames(f, prev, cur);
      }
    }
  });

  it('every literal length 1..130 at the frame start, middle and end, alone and 3 bytes after another literal', () => {
    // The decoders XOR literals with overlapping 16/8/4/1-byte steps by length class; the
    // encoder writes up to 64 literal bytes with fixed stores. Every length, every class edge.
    const f = fixture();
    const prev = randomFrame(random(8));
    for (let length = 1; length <= 130; length++) {
      for (const start of [0, 1, 2000, FRAME_SIZE - length]) {
        const cur = prev.slice();
        for (let k = start; k < start + length; k++) cur[k] ^= 0x3c;
        checkFrames(f, prev, cur);
        if (start >= 8) {
          for (let k = start - 8; k < start - 3; k++) cur[k] ^= 0xc3; // a 5-byte literal ending 3 bytes before
          const delta = checkFrames(f, prev, cur);
          expect(delta[0], `length ${length} at ${start}: two literals, XOR form`).toBe(1);
        }
      }
    }
  });

  it('alternating patterns that maximise the number of runs, and short gaps absorbed into literals', () => {
    const f = fixture();
    const prev = randomFrame(random(7));
    for (const [changedRun, unchangedRun] of [[1, 1], [1, 2], [1, 3], [2, 3], [1, 4], [3, 3], [4, 4], [1, 15], [16, 16], [5, 2], [124, 3], [125, 3], [126, 3], [127, 3], [200, 3]]) {
      for (const phase of [0, 1, 2]) {
        const cur = prev.slice();
        for (let i = 0; i < FRAME_SIZE; i++) if ((i + phase) % (changedRun + unchangedRun) < changedRun) cur[i] ^= 0xff;
        const delta = checkFrames(f, prev, cur);
        if (unchangedRun < 3) expect(delta[0], `${changedRun}/${unchangedRun}: gaps of < 3 bytes do not split`).toBe(0);
      }
    }
    // Long literals with 3-byte gaps give XOR forms just under and just over the frame size.
    const sizes = [124, 125, 126, 127].map((changedRun) => {
      const cur = prev.slice();
      for (let i = 0; i < FRAME_SIZE; i++) if (i % (changedRun + 3) < changedRun) cur[i] ^= 0x11;
      return checkFrames(f, prev, cur).length;
    });
    expect(sizes.some((size) => size > 4000 && size <= 4096), `near-frame-size XOR forms: ${sizes}`).toBe(true);
    // 1 changed, 3 unchanged: 1024 pairs of 3 bytes each, the most pairs this rule gives.
    const cur = prev.slice();
    for (let i = 0; i < FRAME_SIZE; i += 4) cur[i] ^= 1;
    expect(checkFrames(f, prev, cur).length).toBe(1 + 1024 * 3);
  });

  it('random frames with random sparse changes (1 %, 10 %, 50 %, in runs)', () => {
    const f = fixture();
    const next = random(42);
    for (let round = 0; round < 300; round++) {
      const prev = round % 5 === 0 ? new Uint8Array(FRAME_SIZE) : randomFrame(next);
      const fraction = [0.001, 0.01, 0.1, 0.5, 0.9][round % 5];
      const maxRun = [1, 8, 64, 512][round % 4];
      checkFrames(f, prev, dirtied(prev, fraction, maxRun, next));
    }
  });

  it('xorLimit: the XOR form when it fits exactly, RAW one byte below', () => {
    const f = fixture();
    const next = random(43);
    for (let round = 0; round < 40; round++) {
      const prev = randomFrame(next);
      const cur = dirtied(prev, [0.01, 0.1, 0.3][round % 3], 32, next);
      const size = roundTrip(f, prev, cur).length;
      expect(size).toBeLessThan(4096);
      const fits = roundTrip(f, prev, cur, size);
      expect(fits[0]).toBe(1);
      expect(fits.length).toBe(size);
      if (size > 1) {
        const raw = roundTrip(f, prev, cur, size - 1);
        expect(raw[0]).toBe(0);
        expect(raw.length).toBe(DELTA_MAX_BYTES);
      }
    }
  });
});

describe('delta kernels: corrupt deltas', () => {
  /** Writes `delta` into the pool and expects both kernels to reject it with nothing written. */
  function rejects(f: Fixture, delta: number[] | Uint8Array, problem: string, offset: number): void {
    f.pool.bytes.set(delta, f.deltaOut.wasm);
    for (const kernels of [f.wasm, f.ts]) {
      for (const inPlace of [false, true]) {
        f.pool.bytes.fill(0x3c, f.out - FRAME_SIZE, f.out + 2 * FRAME_SIZE);
        expectProblem(() => kernels.deltaDecode(f.deltaOut.wasm, delta.length, inPlace ? f.out : f.prev, f.out), problem, offset);
        expect(f.pool.bytes.subarray(f.out - FRAME_SIZE, f.out + 2 * FRAME_SIZE).every((b) => b === 0x3c), `${kernels.kind} in place ${inPlace}: frame unchanged`).toBe(true);
      }
    }
  }

  it('rejects each kind of malformed delta, naming the problem and offset', () => {
    const f = fixture();
    rejects(f, [], 'empty delta', 0);
    rejects(f, new Uint8Array(4098).fill(1), 'delta longer than 4097 bytes', 4097);
    rejects(f, [2, 0, 1, 9], 'unknown kind byte', 0);
    rejects(f, [0xff], 'unknown kind byte', 0);
    rejects(f, new Uint8Array(4096), 'RAW delta not exactly 4097 bytes', 4096);
    rejects(f, [0], 'RAW delta not exactly 4097 bytes', 1);
    rejects(f, [1, 0x80], 'truncated varint', 1);
    rejects(f, [1, 3, 0x81], 'truncated varint', 2);
    rejects(f, [1, 0x80, 0x80, 1], 'varint longer than 2 bytes', 1);
    rejects(f, [1, 0x85, 0x00, 1, 7], 'varint not minimal', 1);
    rejects(f, [1, 5], 'missing literal length', 2);
    rejects(f, [1, 0x80, 0x20], 'missing literal length', 3); // a zero run of exactly 4096 is fine so far
    rejects(f, [1, 4, 0], 'empty literal run', 2);
    rejects(f, [1, 0x81, 0x20, 1, 7], 'runs past the end of the frame', 1); // zero run 4097
    rejects(f, [1, 0x80, 0x20, 1, 7], 'runs past the end of the frame', 3); // 4096 + 1
    rejects(f, [1, 0xe0, 0x1f, 0x21, ...new Array(33).fill(1)], 'runs past the end of the frame', 3); // 4064 + 33
    rejects(f, [1, 0, 5, 1, 2, 3, 4], 'truncated literal', 3);
    rejects(f, [1, 0, 1, 9, 2], 'missing literal length', 5);
    f.pool.bytes[f.deltaOut.wasm] = 2;
    expect(() => f.ts.deltaDecode(f.deltaOut.wasm, 1, f.prev, f.out)).toThrow(/unknown kind byte at offset 0 of the delta \(kind 0x02\)/);
  });

  it('accepts the boundary cases next to those errors', () => {
    const f = fixture();
    const prev = randomFrame(random(9));
    f.pool.bytes.set(prev, f.prev);
    const expected = prev.slice();
    expected[4095] ^= 7;
    for (const kernels of [f.wasm, f.ts]) {
      f.pool.bytes.set([1, 0xff, 0x1f, 1, 7], f.deltaOut.wasm); // zero run 4095, literal 1: ends exactly at 4096
      kernels.deltaDecode(f.deltaOut.wasm, 5, f.prev, f.out);
      expect(firstDifference(frameAt(f, f.out), expected)).toBe(-1);
    }
  });

  it('a seeded fuzz of garbage and mutated deltas: both kernels agree, never write outside the frame', () => {
    const f = fixture();
    const next = random(2024);
    const prev = randomFrame(next);
    f.pool.bytes.set(prev, f.prev);
    let rejected = 0;
    let accepted = 0;
    for (let round = 0; round < 3000; round++) {
      let delta: Uint8Array;
      if (round % 3 === 0) {
        delta = new Uint8Array(next() % 80);
        for (let i = 0; i < delta.length; i++) delta[i] = next() >>> 24;
        if (delta.length > 0 && (next() & 1) === 1) delta[0] = 1;
      } else {
        const cur = dirtied(prev, [0.01, 0.05, 0.2][round % 3], 40, next);
        delta = referenceEncode(prev, cur).slice();
        const mutation = next() % 4;
        if (mutation === 0 && delta.length > 1) delta = delta.slice(0, next() % delta.length);
        else if (mutation === 1) delta[next() % delta.length] = next() >>> 24;
        else if (mutation === 2) delta[1 + (next() % Math.max(1, delta.length - 1))] ^= 0x80;
        else {
          const extended = new Uint8Array(delta.length + 1 + (next() % 4));
          extended.set(delta);
          for (let i = delta.length; i < extended.length; i++) extended[i] = next() >>> 24;
          delta = extended;
        }
      }
      f.pool.bytes.set(delta, f.deltaOut.wasm);
      const outcomes: { error: string; frame: Uint8Array }[] = [];
      for (const kernels of [f.wasm, f.ts]) {
        f.pool.bytes.fill(0x77, f.out - FRAME_SIZE, f.out + 2 * FRAME_SIZE);
        let error = '';
        try {
          kernels.deltaDecode(f.deltaOut.wasm, delta.length, f.prev, f.out);
        } catch (caught) {
          if (!(caught instanceof DeltaFormatError)) throw caught;
          error = `${caught.problem}@${caught.offset}`;
        }
        expect(allBytes(f, f.out - FRAME_SIZE, 0x77), 'guard before').toBe(true);
        expect(allBytes(f, f.out + FRAME_SIZE, 0x77), 'guard after').toBe(true);
        const frame = frameAt(f, f.out);
        if (error !== '') expect(allBytes(f, f.out, 0x77), 'rejected: output untouched').toBe(true);
        outcomes.push({ error, frame });
        // In place on a copy of prev: the same verdict and offset, and a rejected delta leaves
        // the frame exactly as it was (pairs applied before the problem are undone).
        f.pool.bytes.set(prev, f.out);
        let inPlaceError = '';
        try {
          kernels.deltaDecode(f.deltaOut.wasm, delta.length, f.out, f.out);
        } catch (caught) {
          if (!(caught instanceof DeltaFormatError)) throw caught;
          inPlaceError = `${caught.problem}@${caught.offset}`;
        }
        expect(inPlaceError, `${kernels.kind} round ${round}: in place, same verdict`).toBe(error);
        expect(allBytes(f, f.out - FRAME_SIZE, 0x77), 'in place: guard before').toBe(true);
        expect(allBytes(f, f.out + FRAME_SIZE, 0x77), 'in place: guard after').toBe(true);
        const expected = error === '' ? frame : prev;
        expect(firstDifference(frameAt(f, f.out), expected), `${kernels.kind} round ${round}: in place, ${error === '' ? 'same frame' : 'frame restored'}`).toBe(-1);
      }
      expect(outcomes[1].error, `round ${round}`).toBe(outcomes[0].error);
      expect(firstDifference(outcomes[0].frame, outcomes[1].frame), `round ${round}`).toBe(-1);
      if (outcomes[0].error === '') accepted++;
      else rejected++;
    }
    expect(rejected).toBeGreaterThan(1000);
    expect(accepted).toBeGreaterThan(100);
  });
});

/** Where the parts of each pair of an XOR-form delta start (parsed from the format description). */
interface PairLayout {
  start: number;
  literalLengthAt: number;
  literalAt: number;
  literalRun: number;
}

function pairsOf(delta: Uint8Array): PairLayout[] {
  const pairs: PairLayout[] = [];
  let i = 1;
  const varint = (): number => {
    const first = delta[i++];
    return (first & 0x80) === 0 ? first : (first & 0x7f) | (delta[i++] << 7);
  };
  while (i < delta.length) {
    const start = i;
    varint();
    const literalLengthAt = i;
    const literalRun = varint();
    pairs.push({ start, literalLengthAt, literalAt: i, literalRun });
    i += literalRun;
  }
  return pairs;
}

describe('delta kernels: a delta valid for many pairs, then corrupt', () => {
  /** A corruption of a valid delta and the problem it must be rejected with. */
  interface Corruption {
    name: string;
    delta: Uint8Array;
    problem: string;
    offset: number;
    /** Delta bytes before the bad pair: a valid delta that does change the frame. */
    validPrefix: number;
  }

  function corruptions(delta: Uint8Array): Corruption[] {
    const pairs = pairsOf(delta);
    const last = pairs[pairs.length - 1];
    const middle = pairs[pairs.length >> 1];
    const append = (bytes: number[]) => Uint8Array.from([...delta, ...bytes]);
    const edit = (at: number, bytes: number[]) => {
      const copy = delta.slice();
      copy.set(bytes, at);
      return copy;
    };
    return [
      { name: 'truncated last literal', delta: delta.slice(0, last.literalAt + last.literalRun - 1), problem: 'truncated literal', offset: last.literalAt, validPrefix: last.start },
      { name: 'empty last literal run', delta: edit(last.literalLengthAt, [0]), problem: 'empty literal run', offset: last.literalLengthAt, validPrefix: last.start },
      { name: 'empty literal run in the middle', delta: edit(middle.literalLengthAt, [0]), problem: 'empty literal run', offset: middle.literalLengthAt, validPrefix: middle.start },
      { name: 'non-minimal varint in the middle', delta: edit(middle.start, [0x81, 0x00]), problem: 'varint not minimal', offset: middle.start, validPrefix: middle.start },
      { name: 'too-long varint in the last pair', delta: edit(last.start, [0x81, 0x80]), problem: 'varint longer than 2 bytes', offset: last.start, validPrefix: last.start },
      { name: 'appended pair past the frame end', delta: append([0xff, 0x1f, 1, 7]), problem: 'runs past the end of the frame', offset: delta.length, validPrefix: delta.length },
      { name: 'appended truncated varint (last bytes)', delta: append([0x80]), problem: 'truncated varint', offset: delta.length, validPrefix: delta.length },
      { name: 'appended zero run without literal length', delta: append([5]), problem: 'missing literal length', offset: delta.length + 1, validPrefix: delta.length },
      { name: 'appended pair with an empty literal', delta: append([3, 0, 1, 2]), problem: 'empty literal run', offset: delta.length + 1, validPrefix: delta.length },
      { name: 'appended literal longer than the rest', delta: append([0, 9, 1, 2]), problem: 'truncated literal', offset: delta.length + 2, validPrefix: delta.length },
    ];
  }

  it('leaves the frame exactly unchanged, in place and into another frame, with the same problem and offset', () => {
    const f = fixture();
    const next = random(31337);
    const prev = randomFrame(next);
    // 1 changed byte in every 4 (about 1020 pairs, near the most); short literals with 3-byte
    // gaps; runs of 1..200 bytes (literals of every length class, including > 64). The last 16
    // bytes stay unchanged, so the pairs appended below fit in the frame.
    const every4 = prev.slice();
    for (let i = 0; i < FRAME_SIZE - 16; i += 4) every4[i] ^= 0x21;
    const sparse = dirtied(prev, 0.1, 16, next);
    sparse.set(prev.subarray(FRAME_SIZE - 16), FRAME_SIZE - 16);
    const mixed = prev.slice();
    for (let i = 0; i < FRAME_SIZE - 200;) {
      const run = 1 + (next() % 200);
      for (let k = i; k < i + run; k++) mixed[k] ^= 1 + (next() % 255);
      i += run + 3 + (next() % 20);
    }
    for (const cur of [every4, sparse, mixed]) {
      const delta = referenceEncode(prev, cur);
      expect(delta[0], 'XOR form').toBe(1);
      expect(pairsOf(delta).length, 'many pairs').toBeGreaterThan(20);
      for (const corruption of corruptions(delta)) {
        f.pool.bytes.set(corruption.delta, f.deltaOut.wasm);
        for (const kernels of [f.wasm, f.ts]) {
          const label = `${kernels.kind} ${corruption.name}`;
          // The pairs before the bad one are valid and do change the frame, so a decoder that
          // applies them first must really undo them.
          f.pool.bytes.set(prev, f.out);
          kernels.deltaDecode(f.deltaOut.wasm, corruption.validPrefix, f.out, f.out);
          expect(firstDifference(frameAt(f, f.out), prev), `${label}: valid prefix changes the frame`).not.toBe(-1);
          // In place.
          f.pool.bytes.fill(0x5e, f.out - FRAME_SIZE, f.out);
          f.pool.bytes.fill(0x5e, f.out + FRAME_SIZE, f.out + 2 * FRAME_SIZE);
          f.pool.bytes.set(prev, f.out);
          expectProblem(() => kernels.deltaDecode(f.deltaOut.wasm, corruption.delta.length, f.out, f.out), corruption.problem, corruption.offset);
          expect(firstDifference(frameAt(f, f.out), prev), `${label}: in place, frame unchanged`).toBe(-1);
          expect(allBytes(f, f.out - FRAME_SIZE, 0x5e) && allBytes(f, f.out + FRAME_SIZE, 0x5e), `${label}: in place, guards`).toBe(true);
          // Into another frame.
          f.pool.bytes.set(prev, f.prev);
          f.pool.bytes.fill(0x5e, f.out - FRAME_SIZE, f.out + 2 * FRAME_SIZE);
          expectProblem(() => kernels.deltaDecode(f.deltaOut.wasm, corruption.delta.length, f.prev, f.out), corruption.problem, corruption.offset);
          expect(f.pool.bytes.subarray(f.out - FRAME_SIZE, f.out + 2 * FRAME_SIZE).every((b) => b === 0x5e), `${label}: output untouched`).toBe(true);
          expect(firstDifference(frameAt(f, f.prev), prev), `${label}: previous frame untouched`).toBe(-1);
        }
      }
    }
  });
});

describe('delta kernels: regions at the end of memory', () => {
  it('decode reads a delta ending at the last byte of memory, and frames ending there, without over-reading', () => {
    const memory = new WebAssembly.Memory({ initial: 16, maximum: 16, shared: true });
    const target = { memory, shared: true, maxFrames: 256, ensureCapacity: () => {} };
    const wasm = loadDeltaKernels(target);
    if (wasm === null) throw new Error('WASM delta kernels did not load on a shared memory');
    const bytes = new Uint8Array(memory.buffer);
    const end = bytes.length;
    const prev = 0x10000;
    const cur = end - FRAME_SIZE; // the current frame is the last frame of memory
    const next = random(77);
    for (const kernels of [wasm, tsDeltaKernels(target)]) {
      for (let round = 0; round < 20; round++) {
        bytes.set(randomFrame(next), prev);
        bytes.set(dirtied(bytes.subarray(prev, prev + FRAME_SIZE), 0.05, 20, next), cur);
        const expected = bytes.slice(cur, cur + FRAME_SIZE);
        const length = kernels.deltaEncode(prev, cur, 0x20000);
        expect(length).toBeLessThan(DELTA_MAX_BYTES);
        // Move the delta so that it ends exactly at the end of memory (over the current frame,
        // which the decode does not use), then apply it in place to the previous frame.
        bytes.copyWithin(end - length, 0x20000, 0x20000 + length);
        kernels.deltaDecode(end - length, length, prev, prev);
        expect(firstDifference(bytes.subarray(prev, prev + FRAME_SIZE), expected), `${kernels.kind} round ${round}`).toBe(-1);
      }
    }
  });
});

describe('delta kernels: argument checks', () => {
  it('reject misaligned, out-of-range and overlapping regions, naming the argument', () => {
    const f = fixture();
    const size = f.pool.bytes.length;
    for (const kernels of [f.wasm, f.ts]) {
      expect(() => kernels.deltaEncode(f.prev + 2, f.cur, f.deltaOut.wasm)).toThrow(KernelArgumentError);
      expect(() => kernels.deltaEncode(f.prev + 2, f.cur, f.deltaOut.wasm)).toThrow(/'prevOffset'/);
      expect(() => kernels.deltaEncode(f.prev, size - 4092, f.deltaOut.wasm)).toThrow(/'curOffset'.*exceeds memory size/);
      expect(() => kernels.deltaEncode(f.prev, f.cur, size - 4096)).toThrow(/'outOffset'.*exceeds memory size/);
      expect(() => kernels.deltaEncode(f.prev, f.cur, f.cur + 4095)).toThrow(/'outOffset'.*overlaps the current frame/);
      expect(() => kernels.deltaEncode(f.prev, f.cur, f.prev - 4096)).toThrow(/'outOffset'.*overlaps the previous frame/);
      expect(() => kernels.deltaEncode(f.prev, f.cur, f.deltaOut.wasm, 0)).toThrow(/'xorLimit'/);
      expect(() => kernels.deltaEncode(f.prev, f.cur, f.deltaOut.wasm, 4097)).toThrow(/'xorLimit'/);
      expect(() => kernels.deltaEncode(f.prev, f.cur, f.deltaOut.wasm, 1.5)).toThrow(/'xorLimit'/);
      expect(() => kernels.deltaDecode(f.deltaOut.wasm, -1, f.prev, f.out)).toThrow(/'deltaLength'/);
      expect(() => kernels.deltaDecode(size - 10, 20, f.prev, f.out)).toThrow(/'deltaOffset'.*exceeds memory size/);
      expect(() => kernels.deltaDecode(f.out + 100, 20, f.prev, f.out)).toThrow(/'deltaOffset'.*overlaps the output frame/);
      expect(() => kernels.deltaDecode(f.deltaOut.wasm, 1, f.prev, f.prev + 2048)).toThrow(/'outOffset'.*partly overlaps/);
      expect(() => kernels.deltaDecode(f.deltaOut.wasm, 1, f.prev, f.out + 1)).toThrow(/'outOffset'.*multiple of 4/);
    }
  });
});
