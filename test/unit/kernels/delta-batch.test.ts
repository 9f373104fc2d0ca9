// Batch delta decoding (deltaDecodeBatch): a message's deltas applied in place with one call give
// the same frames as one deltaDecode per delta, in WASM and in TS; the first refused entry —
// corrupt delta, reserved or out-of-memory target, delta past the end of memory, target over
// the list or the stream — is named (entry index, problem), the entries before it stay
// applied, its frame holds its old contents and the later frames are untouched.
import { existsSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { beforeAll, describe, expect, it } from 'vitest';
import { FramePool, FRAME_SIZE } from '../../../src/memory/index.js';
import { DeltaFormatError, KernelArgumentError, loadDeltaKernels, tsDeltaKernels, type DeltaKernels } from '../../../src/kernels/index.js';
import { xorshift32 } from '../../helpers/random.js';

const releaseWasm = new URL('../../../dist/wasm/kernels.release.wasm', import.meta.url);

beforeAll(() => {
  if (existsSync(releaseWasm)) return;
  const build = spawnSync('npm', ['run', 'build:wasm'], { cwd: new URL('../../..', import.meta.url).pathname, encoding: 'utf8' });
  if (build.status !== 0) throw new Error(`npm run build:wasm failed:\n${build.stdout}\n${build.stderr}`);
});

const FRAMES = 24;

/** A message being received: previous and current frames, the deltas back to back, the list. */
interface Message {
  pool: FramePool;
  wasm: DeltaKernels;
  ts: DeltaKernels;
  prev: Uint8Array[];
  cur: Uint8Array[];
  /** Target frame numbers the batch decodes into. */
  targets: number[];
  lengths: number[];
  stream: number;
  list: number;
}

/**
 * Builds FRAMES frame pairs of every kind of change (none, a byte, sparse, dense runs, all —
 * the last giving a RAW delta), encodes them into a stream and writes the list.
 */
function message(seed: number): Message {
  const pool = new FramePool();
  const wasm = loadDeltaKernels(pool);
  if (wasm === null) throw new Error('WASM delta kernels did not load on a shared pool');
  const next = xorshift32(seed);
  const work = pool.allocateContiguous(FRAMES + 2) * FRAME_SIZE;
  const scratch = pool.allocateContiguous(2) * FRAME_SIZE;
  const stream = pool.allocateContiguous(FRAMES + 2) * FRAME_SIZE;
  const list = pool.allocateContiguous(1) * FRAME_SIZE;
  const prev: Uint8Array[] = [];
  const cur: Uint8Array[] = [];
  const targets: number[] = [];
  const lengths: number[] = [];
  let at = stream;
  for (let frame = 0; frame < FRAMES; frame++) {
    const before = Uint8Array.from({ length: FRAME_SIZE }, () => next() >>> 24);
    const after = before.slice();
    const kind = frame % 6;
    if (kind === 1) after[next() % FRAME_SIZE] ^= 0x40;
    if (kind === 2 || kind === 3) {
      const runs = kind === 2 ? 5 : 150;
      for (let r = 0; r < runs; r++) {
        const run = 1 + (next() % 100);
        const start = next() % (FRAME_SIZE - run);
        for (let k = start; k < start + run; k++) after[k] ^= 1 + (next() % 255);
      }
    }
    if (kind === 4) for (let k = 0; k < FRAME_SIZE; k += 3) after[k] ^= 0x11;
    if (kind === 5) for (let k = 0; k < FRAME_SIZE; k++) after[k] ^= 0xff;
    pool.bytes.set(before, scratch);
    pool.bytes.set(after, scratch + FRAME_SIZE);
    const length = wasm.deltaEncode(scratch, scratch + FRAME_SIZE, at);
    prev.push(before);
    cur.push(after);
    targets.push(work / FRAME_SIZE + 1 + frame); // a guard frame on either side
    lengths.push(length);
    at += length;
  }
  const m: Message = { pool, wasm, ts: tsDeltaKernels(pool), prev, cur, targets, lengths, stream, list };
  writeList(m);
  return m;
}

function writeList(m: Message): void {
  const words = new Uint32Array(m.pool.bytes.buffer, m.list, 2 * FRAMES);
  for (let k = 0; k < FRAMES; k++) {
    words[2 * k] = m.targets[k];
    words[2 * k + 1] = m.lengths[k];
  }
}

/** Puts the previous frames in place and fills the guard frames around them. */
function resetFrames(m: Message): void {
  const first = m.targets[0] * FRAME_SIZE;
  m.pool.bytes.fill(0x5e, first - FRAME_SIZE, first);
  m.pool.bytes.fill(0x5e, first + FRAMES * FRAME_SIZE, first + (FRAMES + 1) * FRAME_SIZE);
  for (let k = 0; k < FRAMES; k++) m.pool.bytes.set(m.prev[k], m.targets[k] * FRAME_SIZE);
}

function frame(m: Message, k: number): Uint8Array {
  const at = m.targets[k] * FRAME_SIZE;
  return m.pool.bytes.subarray(at, at + FRAME_SIZE);
}

function same(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((value, i) => value === b[i]);
}

/** Whether frames before `k` are decoded, frame `k` and later hold their previous contents. */
function appliedBefore(m: Message, k: number): boolean {
  for (let j = 0; j < FRAMES; j++) if (!same(frame(m, j), j < k ? m.cur[j] : m.prev[j])) return false;
  return true;
}

function guardsIntact(m: Message): boolean {
  const first = m.targets[0] * FRAME_SIZE;
  const bytes = m.pool.bytes;
  const guard = (from: number) => bytes.subarray(from, from + FRAME_SIZE).every((b) => b === 0x5e);
  return guard(first - FRAME_SIZE) && guard(first + FRAMES * FRAME_SIZE);
}

/** Offset of delta `k` in the stream. */
function deltaAt(m: Message, k: number): number {
  return m.stream + m.lengths.slice(0, k).reduce((a, b) => a + b, 0);
}

describe('deltaDecodeBatch', () => {
  it('applies a whole message like one deltaDecode per delta, in WASM and TS, touching nothing else', () => {
    const m = message(0xba7c4);
    expect(new Set(m.lengths.map((length) => length === 4097)).size, 'RAW and XOR deltas in the message').toBe(2);
    for (const kernels of [m.wasm, m.ts]) {
      resetFrames(m);
      kernels.deltaDecodeBatch(m.stream, m.list, FRAMES);
      expect(appliedBefore(m, FRAMES), `${kernels.kind}: every frame decoded`).toBe(true);
      expect(guardsIntact(m), `${kernels.kind}: guard frames`).toBe(true);
      // Applying the same XOR deltas again undoes them (RAW ones rewrite the new contents).
      kernels.deltaDecodeBatch(m.stream, m.list, FRAMES);
      for (let k = 0; k < FRAMES; k++) {
        const expected = m.lengths[k] === 4097 ? m.cur[k] : m.prev[k];
        expect(same(frame(m, k), expected), `${kernels.kind}: second pass, frame ${k}`).toBe(true);
      }
      resetFrames(m);
      kernels.deltaDecodeBatch(m.stream, m.list, 0);
      expect(appliedBefore(m, 0), `${kernels.kind}: empty batch changes nothing`).toBe(true);
    }
  });

  it('names the first corrupt delta, keeps the ones before it and leaves its frame and the later ones as they were', () => {
    const m = message(0xc0ffee);
    const xorEntries = m.lengths.map((length, k) => (length < 4097 && length > 8 ? k : -1)).filter((k) => k >= 0);
    for (const k of [xorEntries[0], xorEntries[Math.floor(xorEntries.length / 2)], xorEntries[xorEntries.length - 1]]) {
      const at = deltaAt(m, k);
      const saved = m.pool.bytes.slice(at, at + m.lengths[k]);
      // A literal length of zero in the delta's last pair head that has 4 bytes: find the last
      // pair and set its literal varint to 0 (an empty literal run).
      const heads: number[] = [];
      for (let i = 1; i < saved.length;) {
        const zeroBytes = saved[i] & 0x80 ? 2 : 1;
        const literalAt = i + zeroBytes;
        const literal = saved[literalAt] & 0x80 ? (saved[literalAt] & 0x7f) | (saved[literalAt + 1] << 7) : saved[literalAt];
        heads.push(literalAt);
        i = literalAt + (saved[literalAt] & 0x80 ? 2 : 1) + literal;
      }
      const bad = heads[heads.length - 1];
      m.pool.bytes[at + bad] = 0;
      for (const kernels of [m.wasm, m.ts]) {
        resetFrames(m);
        let caught: unknown;
        try {
          kernels.deltaDecodeBatch(m.stream, m.list, FRAMES);
        } catch (error) {
          caught = error;
        }
        expect(caught, `${kernels.kind} entry ${k}`).toBeInstanceOf(DeltaFormatError);
        const error = caught as DeltaFormatError;
        expect(error.entry).toBe(k);
        expect(error.problem).toBe('empty literal run');
        expect(error.offset).toBe(bad);
        expect(error.message).toContain(`delta ${k} of the batch`);
        expect(appliedBefore(m, k), `${kernels.kind}: entries before ${k} applied, ${k} and later as they were`).toBe(true);
        expect(guardsIntact(m)).toBe(true);
      }
      m.pool.bytes.set(saved, at);
    }
  });

  it('refuses targets it must not write and deltas outside memory, naming the list entry', () => {
    const m = message(0x5eed);
    const words = new Uint32Array(m.pool.bytes.buffer, m.list, 2 * FRAMES);
    const frames = m.pool.bytes.length / FRAME_SIZE;
    const k = 7;
    const cases: { name: string; change: () => void; message: RegExp }[] = [
      { name: 'reserved frame', change: () => { words[2 * k] = 3; }, message: /listOffset\[7\].*reserved frame 3/ },
      { name: 'frame outside memory', change: () => { words[2 * k] = frames; }, message: /listOffset\[7\].*outside the memory/ },
      { name: 'target over the list', change: () => { words[2 * k] = m.list / FRAME_SIZE; }, message: /listOffset\[7\].*overlaps the list/ },
      { name: 'target over the stream', change: () => { words[2 * k] = m.stream / FRAME_SIZE; }, message: /listOffset\[7\].*overlaps the delta stream/ },
      { name: 'delta past the end of memory', change: () => { words[2 * k + 1] = m.pool.bytes.length; }, message: /listOffset\[7\].*exceeds memory size/ },
    ];
    for (const refusal of cases) {
      for (const kernels of [m.wasm, m.ts]) {
        writeList(m);
        refusal.change();
        resetFrames(m);
        const streamBefore = m.pool.bytes.slice(m.stream, deltaAt(m, FRAMES));
        expect(() => kernels.deltaDecodeBatch(m.stream, m.list, FRAMES), `${kernels.kind} ${refusal.name}`).toThrow(KernelArgumentError);
        expect(() => {
          resetFrames(m);
          kernels.deltaDecodeBatch(m.stream, m.list, FRAMES);
        }).toThrow(refusal.message);
        expect(appliedBefore(m, k), `${kernels.kind} ${refusal.name}: entries before applied, the rest untouched`).toBe(true);
        expect(same(m.pool.bytes.slice(m.stream, deltaAt(m, FRAMES)), streamBefore), `${kernels.kind} ${refusal.name}: stream unchanged`).toBe(true);
      }
    }
  });

  it('checks the list region and the count', () => {
    const m = message(1);
    for (const kernels of [m.wasm, m.ts]) {
      expect(() => kernels.deltaDecodeBatch(m.stream, m.list + 2, 1)).toThrow(/'listOffset'.*multiple of 4/);
      expect(() => kernels.deltaDecodeBatch(m.stream, m.list, -1)).toThrow(/'count'/);
      expect(() => kernels.deltaDecodeBatch(m.stream, m.pool.bytes.length - 8, 2)).toThrow(/'listOffset'.*exceeds memory size/);
      expect(() => kernels.deltaDecodeBatch(-4, m.list, 1)).toThrow(/'streamOffset'/);
    }
  });
});
