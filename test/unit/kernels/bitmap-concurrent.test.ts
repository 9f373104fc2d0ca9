/**
 * The atomic dirty-bitmap harvest (assembly/index.ts `bitmapHarvest`) against a writer on
 * another thread: a worker sets every bit of a bitmap in the shared pool memory exactly once,
 * in a scrambled order, with Atomics.or, while this thread harvests repeatedly. Every bit must
 * be reported exactly once over all harvests: none lost (a bit set between the read and the
 * clear of its word) and none reported twice. The single-writer harvest makes no such promise
 * and is not used here.
 */
import { Worker } from 'node:worker_threads';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadKernels } from '../../../src/kernels/index.js';
import { FramePool, FRAME_SIZE } from '../../../src/memory/index.js';
import { ensureReleaseWasm } from '../../helpers/wasm-build.js';

beforeAll(() => ensureReleaseWasm());

const BITS = 1 << 17; // 16 KiB of bitmap
const BITMAP_BYTES = BITS / 8;

/** Worker body: set each bit once in a scrambled order (multiplicative permutation), then report. */
const WRITER = `
const { parentPort, workerData } = require('node:worker_threads');
const words = new Int32Array(workerData.buffer, workerData.offset, workerData.bits / 32);
const go = new Int32Array(workerData.flag);
Atomics.wait(go, 0, 0);
for (let k = 0; k < workerData.bits; k++) {
  const bit = Math.imul(k, 0x9E3779B1 | 1) & (workerData.bits - 1);
  Atomics.or(words, bit >>> 5, 1 << (bit & 31));
}
parentPort.postMessage('done');
`;

describe('atomic bitmap harvest with a concurrent writer', () => {
  it('reports every bit set by another thread exactly once', async () => {
    const pool = new FramePool();
    const wasm = loadKernels(pool);
    if (wasm === null) throw new Error('WASM kernels did not load on a shared pool');
    const bitmapOffset = pool.allocateContiguous(BITMAP_BYTES / FRAME_SIZE) * FRAME_SIZE;
    const outOffset = pool.allocateContiguous((BITS * 4) / FRAME_SIZE) * FRAME_SIZE;
    const flag = new SharedArrayBuffer(4);
    const worker = new Worker(WRITER, {
      eval: true,
      workerData: { buffer: pool.memory.buffer, offset: bitmapOffset, bits: BITS, flag },
    });
    const done = new Promise<void>((resolve, reject) => {
      worker.once('message', () => resolve());
      worker.once('error', reject);
    });
    let finished = false;
    void done.then(() => { finished = true; });
    const seen = new Uint8Array(BITS);
    let harvests = 0;
    const harvest = (): void => {
      const n = wasm.bitmapHarvest(bitmapOffset, BITMAP_BYTES, outOffset);
      const out = new Uint32Array(pool.memory.buffer, outOffset, n);
      for (let k = 0; k < n; k++) seen[out[k]]++;
      harvests++;
    };
    Atomics.store(new Int32Array(flag), 0, 1);
    Atomics.notify(new Int32Array(flag), 0);
    while (!finished) {
      harvest();
      await new Promise((r) => setImmediate(r));
    }
    harvest(); // whatever was set after the last concurrent harvest
    await worker.terminate();
    let missing = 0, twice = 0;
    for (let b = 0; b < BITS; b++) {
      if (seen[b] === 0) missing++;
      else if (seen[b] > 1) twice++;
    }
    expect({ missing, twice }).toEqual({ missing: 0, twice: 0 });
    expect(harvests).toBeGreaterThan(1);
  });
});
