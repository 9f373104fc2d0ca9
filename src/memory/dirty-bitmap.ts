/**
 * Dirty bitmap (DESIGN.md, "Dirty tracking"): one bit per guest frame, living inside the
 * frame pool's WebAssembly memory so the WASM kernels can count and harvest it in place.
 *
 * Layout in pool memory (one contiguous allocation): the bitmap words, rounded up to whole
 * frames, followed by a scratch area the harvest kernel writes frame numbers into. Harvest
 * walks the bitmap in chunks sized so one chunk's worst case fits the scratch area.
 * Bits are set with Atomics.or and cleared by atomic exchange, so marking from another thread
 * during a harvest never loses a bit.
 */

import { FRAME_SHIFT, FRAME_SIZE, type FramePool, type HostFrame } from './frame-pool.js';
import type { BitmapKernels } from '../kernels/index.js';

/** Frames of scratch space for harvest output (8192 frame numbers per kernel call). */
const SCRATCH_FRAMES = 8;
/** Bitmap bytes per harvest call: each bit can become one u32 of output. */
const HARVEST_CHUNK_BYTES = (SCRATCH_FRAMES * FRAME_SIZE) / 32;

/** Thrown for a frame number outside the bitmap, or use after dispose; names the frame. */
export class DirtyBitmapError extends Error {
  constructor(problem: string) {
    super(`dirty bitmap: ${problem}`);
    this.name = 'DirtyBitmapError';
  }
}

/** One dirty bit per guest frame, in pool memory. */
export class DirtyBitmap {
  /** Where the bitmap starts in pool memory (frame-aligned). */
  readonly byteOffset: number;
  /** Bitmap size in bytes (a multiple of HARVEST_CHUNK_BYTES, so at least 4-byte aligned). */
  readonly byteLength: number;
  /** Number of guest frames tracked. */
  readonly frameCount: number;
  /** The kernels counting and harvesting this bitmap (WASM when the pool supports it). */
  readonly kernels: BitmapKernels;

  private readonly pool: FramePool;
  private readonly firstFrame: HostFrame;
  private readonly allocatedFrames: number;
  private readonly scratchOffset: number;
  private words: Int32Array;
  private readonly unsubscribeGrow: () => void;
  private disposed = false;

  /** Allocates a cleared bitmap for `frameCount` guest frames in `pool`. */
  constructor(pool: FramePool, frameCount: number, kernels: BitmapKernels = pool.bitmapKernels()) {
    if (!Number.isInteger(frameCount) || frameCount < 1 || frameCount > 1 << 20) {
      throw new DirtyBitmapError(`frameCount ${frameCount} out of range (1..${1 << 20})`);
    }
    this.pool = pool;
    this.kernels = kernels;
    this.frameCount = frameCount;
    this.byteLength = Math.ceil(frameCount / 8 / HARVEST_CHUNK_BYTES) * HARVEST_CHUNK_BYTES;
    const bitmapFrames = Math.ceil(this.byteLength / FRAME_SIZE);
    this.allocatedFrames = bitmapFrames + SCRATCH_FRAMES;
    this.firstFrame = pool.allocateContiguous(this.allocatedFrames);
    this.byteOffset = this.firstFrame << FRAME_SHIFT;
    this.scratchOffset = this.byteOffset + bitmapFrames * FRAME_SIZE;
    this.words = this.wordView();
    this.unsubscribeGrow = pool.onGrow(() => {
      this.words = this.wordView();
    });
  }

  /** Marks `guestFrame` dirty. */
  mark(guestFrame: number): void {
    if (!(guestFrame >= 0 && guestFrame < this.frameCount)) this.rangeError(guestFrame);
    Atomics.or(this.words, guestFrame >>> 5, 1 << (guestFrame & 31));
  }

  /** Whether `guestFrame` is marked dirty. */
  isDirty(guestFrame: number): boolean {
    if (!(guestFrame >= 0 && guestFrame < this.frameCount)) this.rangeError(guestFrame);
    return (this.words[guestFrame >>> 5] & (1 << (guestFrame & 31))) !== 0;
  }

  /** Number of dirty frames. */
  count(): number {
    this.checkAlive();
    return this.kernels.bitmapCount(this.byteOffset, this.byteLength);
  }

  /** Returns the dirty frame numbers in ascending order and clears them. */
  harvest(): Uint32Array {
    this.checkAlive();
    let result: Uint32Array = new Uint32Array(this.count());
    let filled = 0;
    for (let chunkStart = 0; chunkStart < this.byteLength; chunkStart += HARVEST_CHUNK_BYTES) {
      const found = this.kernels.bitmapHarvest(this.byteOffset + chunkStart, HARVEST_CHUNK_BYTES, this.scratchOffset);
      if (found === 0) continue;
      if (filled + found > result.length) result = grownCopy(result, filled + found);
      const scratch = new Uint32Array(this.pool.memory.buffer, this.scratchOffset, found);
      const firstFrameOfChunk = chunkStart * 8;
      for (let i = 0; i < found; i++) result[filled + i] = firstFrameOfChunk + scratch[i];
      filled += found;
    }
    return filled === result.length ? result : result.slice(0, filled);
  }

  /** Clears every bit. */
  clear(): void {
    this.checkAlive();
    this.words.fill(0);
  }

  /** Gives the bitmap's frames back to the pool. Further use throws. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.unsubscribeGrow();
    for (let i = 0; i < this.allocatedFrames; i++) this.pool.release((this.firstFrame + i) as HostFrame);
    this.words = new Int32Array(0);
  }

  private wordView(): Int32Array {
    return new Int32Array(this.pool.memory.buffer, this.byteOffset, this.byteLength >>> 2);
  }

  private rangeError(guestFrame: number): never {
    this.checkAlive();
    throw new DirtyBitmapError(`guest frame ${guestFrame} out of range (0..${this.frameCount - 1})`);
  }

  private checkAlive(): void {
    if (this.disposed) throw new DirtyBitmapError('used after dispose()');
  }
}

function grownCopy(from: Uint32Array, minimumLength: number): Uint32Array {
  const to = new Uint32Array(Math.max(minimumLength, from.length * 2));
  to.set(from);
  return to;
}
