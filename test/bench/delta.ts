/**
 * XOR-delta benchmark rows for the kernel table of test/bench/kernels.ts (part of
 * `npm run bench` and `--only kernels`): encode and decode, WASM (assembly/delta.ts) vs the
 * pure-TS implementation, on the same frames in the same run, with the issue-5 target
 * "delta >= 5x TS" judged from this run's figures (the lowest ratio over the densities).
 *
 * Data: DELTA_FRAMES pairs of 4 KiB frames (pseudo-random previous copies) where the current
 * copy differs from the previous one in 1 %, 10 % or 50 % of its bytes, changed in runs of
 * 1..64 bytes at random places — the shape of pages dirtied between two migration rounds. Encode
 * writes the deltas one after the other into a stream buffer (as a migration sender would);
 * decode applies them in place to a copy of the previous frames (as a receiver would; applying a
 * delta twice restores the frame, so every pass does the same work), once with one call per
 * delta and once with one deltaDecodeBatch call for all of them (how a receiver applies a
 * message; the decode target is judged on this row). GB/s counts 4096 bytes of
 * frame data per frame, whatever the delta size; the mean delta size is shown in the data column.
 * Each pass goes SWEEPS times over all frames; the two implementations alternate pass by pass
 * (ROUNDS each, after a warm-up) and the median
 * pass of each counts, so load from other processes on this shared machine hits both alike.
 */
import { FramePool, FRAME_SIZE } from '../../src/memory/index.js';
import { DELTA_MAX_BYTES, loadDeltaKernels, tsDeltaKernels, type DeltaKernels } from '../../src/kernels/index.js';
import { addKernelRow, addKernelTarget } from './kernels.js';
import { xorshift32 } from '../helpers/random.js';

const DELTA_FRAMES = 1024;
const ROUNDS = 11;
/** Untimed passes of each side before the timed rounds. */
const WARMUP_PASSES = 5;
/** Times each pass goes over all frames (longer passes, steadier figures). */
const SWEEPS = 4;
const TARGET_RATIO = 5;


/** Median seconds of `wasmPass` and of `tsPass`, timed alternately. */
function alternatingMedians(wasmSweep: () => void, tsSweep: () => void): [number, number] {
  const wasmPass = () => {
    for (let sweep = 0; sweep < SWEEPS; sweep++) wasmSweep();
  };
  const tsPass = () => {
    for (let sweep = 0; sweep < SWEEPS; sweep++) tsSweep();
  };
  // Warm-up: enough passes for V8 to finish optimizing the TS side before anything is timed.
  for (let warm = 0; warm < WARMUP_PASSES; warm++) {
    wasmPass();
    tsPass();
  }
  const wasmTimes: number[] = [];
  const tsTimes: number[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    let t0 = performance.now();
    wasmPass();
    wasmTimes.push((performance.now() - t0) / 1000);
    t0 = performance.now();
    tsPass();
    tsTimes.push((performance.now() - t0) / 1000);
  }
  const median = (xs: number[]) => xs.sort((a, b) => a - b)[xs.length >> 1];
  return [median(wasmTimes), median(tsTimes)];
}

/** Fills the previous frames with random bytes and the current ones with dirtied copies. */
function fillPairs(pool: FramePool, prev: number, cur: number, percent: number, seed: number): void {
  const next = xorshift32(seed);
  const bytes = pool.bytes;
  const frameBytes = DELTA_FRAMES * FRAME_SIZE;
  for (let i = 0; i < frameBytes; i++) bytes[prev + i] = next() >>> 24;
  bytes.copyWithin(cur, prev, prev + frameBytes);
  for (let frame = 0; frame < DELTA_FRAMES; frame++) {
    const base = cur + frame * FRAME_SIZE;
    let budget = Math.round((percent / 100) * FRAME_SIZE);
    while (budget > 0) {
      const run = Math.min(budget, 1 + (next() % 64));
      const start = next() % (FRAME_SIZE - run + 1);
      for (let k = start; k < start + run; k++) bytes[base + k] ^= 1 + (next() % 255);
      budget -= run;
    }
  }
}

/** Encodes every pair into the stream at `stream`; returns the delta lengths. */
function encodeAll(kernels: DeltaKernels, prev: number, cur: number, stream: number, lengths: Uint32Array): void {
  let at = stream;
  for (let frame = 0; frame < DELTA_FRAMES; frame++) {
    const length = kernels.deltaEncode(prev + frame * FRAME_SIZE, cur + frame * FRAME_SIZE, at);
    lengths[frame] = length;
    at += length;
  }
}

/** Applies every delta of the stream in place to the frames at `work`, one call per delta. */
function decodeAll(kernels: DeltaKernels, stream: number, lengths: Uint32Array, work: number): void {
  let at = stream;
  for (let frame = 0; frame < DELTA_FRAMES; frame++) {
    const target = work + frame * FRAME_SIZE;
    kernels.deltaDecode(at, lengths[frame], target, target);
    at += lengths[frame];
  }
}

/** Writes the batch list (target frame number, delta length) for the frames at `work`. */
function writeBatchList(pool: FramePool, list: number, lengths: Uint32Array, work: number): void {
  const words = new Uint32Array(pool.bytes.buffer, list, DELTA_FRAMES * 2);
  for (let frame = 0; frame < DELTA_FRAMES; frame++) {
    words[2 * frame] = work / FRAME_SIZE + frame;
    words[2 * frame + 1] = lengths[frame];
  }
}

/** Runs the delta rows (encode and decode at 1 %, 10 %, 50 % changed) and adds the delta targets. */
export function runDeltaKernelBench(): void {
  const streamFrames = Math.ceil((DELTA_FRAMES * DELTA_MAX_BYTES) / FRAME_SIZE);
  const pool = new FramePool({ maxFrames: 3 * DELTA_FRAMES + streamFrames + 1024 });
  const wasm = loadDeltaKernels(pool);
  if (wasm === null) {
    addKernelTarget({ label: 'delta >= 5x TS', met: false, detail: 'WASM delta kernels unavailable (pool not shared or module not built)' });
    return;
  }
  const ts = tsDeltaKernels(pool);
  const prev = pool.allocateContiguous(DELTA_FRAMES) * FRAME_SIZE;
  const cur = pool.allocateContiguous(DELTA_FRAMES) * FRAME_SIZE;
  const work = pool.allocateContiguous(DELTA_FRAMES) * FRAME_SIZE;
  const stream = pool.allocateContiguous(streamFrames) * FRAME_SIZE;
  const list = pool.allocateContiguous(Math.ceil((DELTA_FRAMES * 8) / FRAME_SIZE)) * FRAME_SIZE;
  const lengths = new Uint32Array(DELTA_FRAMES);
  const bytes = DELTA_FRAMES * FRAME_SIZE;
  const bytesPerPass = bytes * SWEEPS;
  let lowestEncode = Infinity;
  let lowestDecode = Infinity;
  for (const percent of [1, 10, 50]) {
    fillPairs(pool, prev, cur, percent, 0x51ed270b + percent);
    const [encodeWasm, encodeTs] = alternatingMedians(() => encodeAll(wasm, prev, cur, stream, lengths), () => encodeAll(ts, prev, cur, stream, lengths));
    let total = 0;
    for (let frame = 0; frame < DELTA_FRAMES; frame++) total += lengths[frame];
    const data = `${DELTA_FRAMES} frames, ${percent} % changed, ~${Math.round(total / DELTA_FRAMES)} B/delta`;
    addKernelRow({ kernel: 'delta encode (XOR + runs)', data, bytes: bytesPerPass, wasmSeconds: encodeWasm, tsSeconds: encodeTs });
    pool.bytes.copyWithin(work, prev, prev + bytes);
    const [decodeWasm, decodeTs] = alternatingMedians(() => decodeAll(wasm, stream, lengths, work), () => decodeAll(ts, stream, lengths, work));
    addKernelRow({ kernel: 'delta decode (in place, per call)', data, bytes: bytesPerPass, wasmSeconds: decodeWasm, tsSeconds: decodeTs });
    writeBatchList(pool, list, lengths, work);
    const [batchWasm, batchTs] = alternatingMedians(() => wasm.deltaDecodeBatch(stream, list, DELTA_FRAMES), () => ts.deltaDecodeBatch(stream, list, DELTA_FRAMES));
    addKernelRow({ kernel: 'delta decode (in place, batch)', data, bytes: bytesPerPass, wasmSeconds: batchWasm, tsSeconds: batchTs });
    lowestEncode = Math.min(lowestEncode, encodeTs / encodeWasm);
    lowestDecode = Math.min(lowestDecode, batchTs / batchWasm);
  }
  addKernelTarget({ label: `delta encode >= ${TARGET_RATIO}x TS at 1/10/50 % changed`, met: lowestEncode >= TARGET_RATIO, detail: `lowest ${lowestEncode.toFixed(1)}x` });
  addKernelTarget({ label: `delta decode (batch) >= ${TARGET_RATIO}x TS at 1/10/50 % changed`, met: lowestDecode >= TARGET_RATIO, detail: `lowest ${lowestDecode.toFixed(1)}x` });
}
