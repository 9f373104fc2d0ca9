/**
 * Bitmap kernels: the operations the dirty bitmap needs on pool memory, behind one interface
 * with two implementations — the WASM module from assembly/index.ts (wasm-kernels.ts) and
 * the pure-TypeScript fallback here, used when the pool is not shared or WASM is unavailable.
 *
 * Both work in place on the pool's memory; every offset is a byte address in it. Bitmaps are
 * little-endian 32-bit words, bit `i` in word `i >>> 5` at position `i & 31`.
 */

/** The memory the kernels work on: the frame pool, seen through only what the kernels need. */
export interface KernelMemory {
  readonly memory: WebAssembly.Memory;
  readonly shared: boolean;
  /** Makes sure at least `frames` 4 KiB frames are backed (grows the memory if needed). */
  ensureCapacity(frames: number): void;
  readonly maxFrames: number;
}

/** Bitmap operations on pool memory. Offsets 4-byte aligned, lengths multiples of 4. */
export interface BitmapKernels {
  /** Which implementation this is. */
  readonly kind: 'wasm' | 'ts';
  /** Number of set bits in `byteLength` bytes at `byteOffset`. */
  bitmapCount(byteOffset: number, byteLength: number): number;
  /**
   * Writes the indices (relative to the bitmap start, ascending) of all set bits as u32
   * values at `outOffset`, clears those bits and returns how many were written. The output
   * area must have room for `byteLength * 8` values.
   */
  bitmapHarvest(bitmapOffset: number, byteLength: number, outOffset: number): number;
}

/** Thrown when a kernel is called with a misaligned or out-of-range region; names the argument. */
export class KernelArgumentError extends Error {
  constructor(kernel: string, argument: string, problem: string) {
    super(`${kernel}: argument '${argument}' ${problem}`);
    this.name = 'KernelArgumentError';
  }
}

/** Frames below this number are the pool's reserved frames (the WASM module's own 64 KiB); kernels never write them. */
export const RESERVED_FRAMES = 16;

/** Checks a list count of a batch kernel: an integer in [0, 2^28). */
export function checkCount(kernel: string, count: number): void {
  if (!Number.isInteger(count) || count < 0 || count >= 1 << 28) {
    throw new KernelArgumentError(kernel, 'count', `must be an integer in [0, ${1 << 28}), got ${count}`);
  }
}

/** Checks that [offset, offset + length) is 4-byte aligned and inside `memoryBytes`. */
export function checkWordRegion(kernel: string, argument: string, offset: number, length: number, memoryBytes: number): void {
  if (!Number.isInteger(offset) || offset < 0 || (offset & 3) !== 0) {
    throw new KernelArgumentError(kernel, argument, `must be a non-negative multiple of 4, got ${offset}`);
  }
  if (!Number.isInteger(length) || length < 0 || (length & 3) !== 0) {
    throw new KernelArgumentError(kernel, `${argument} length`, `must be a non-negative multiple of 4, got ${length}`);
  }
  if (offset + length > memoryBytes) {
    throw new KernelArgumentError(kernel, argument, `region [${offset}, ${offset + length}) exceeds memory size ${memoryBytes}`);
  }
}

/** Checks everything `bitmapHarvest` needs: both regions valid and not overlapping. */
export function checkHarvestRegions(bitmapOffset: number, byteLength: number, outOffset: number, memoryBytes: number): void {
  checkWordRegion('bitmapHarvest', 'bitmapOffset', bitmapOffset, byteLength, memoryBytes);
  checkWordRegion('bitmapHarvest', 'outOffset', outOffset, byteLength * 32, memoryBytes);
  if (outOffset < bitmapOffset + byteLength && bitmapOffset < outOffset + byteLength * 32) {
    throw new KernelArgumentError('bitmapHarvest', 'outOffset', `output region at ${outOffset} overlaps the bitmap at ${bitmapOffset}`);
  }
}

/** Number of set bits in a 32-bit value. */
export function popCount32(value: number): number {
  let v = value - ((value >>> 1) & 0x55555555);
  v = (v & 0x33333333) + ((v >>> 2) & 0x33333333);
  return (Math.imul((v + (v >>> 4)) & 0x0f0f0f0f, 0x01010101) >>> 24);
}

/** Pure-TypeScript bitmap kernels over `target.memory`. */
export function tsBitmapKernels(target: Pick<KernelMemory, 'memory'>): BitmapKernels {
  return {
    kind: 'ts',
    bitmapCount(byteOffset: number, byteLength: number): number {
      const buffer = target.memory.buffer;
      checkWordRegion('bitmapCount', 'byteOffset', byteOffset, byteLength, buffer.byteLength);
      const words = new Int32Array(buffer, byteOffset, byteLength >>> 2);
      let total = 0;
      for (let i = 0; i < words.length; i++) total += popCount32(words[i]);
      return total;
    },
    bitmapHarvest(bitmapOffset: number, byteLength: number, outOffset: number): number {
      const buffer = target.memory.buffer;
      checkHarvestRegions(bitmapOffset, byteLength, outOffset, buffer.byteLength);
      return harvestWords(new Int32Array(buffer, bitmapOffset, byteLength >>> 2), new Uint32Array(buffer, outOffset, byteLength * 8));
    },
  };
}

/** Moves set bit indices of `words` into `out` (clearing each non-zero word atomically); returns the count. */
function harvestWords(words: Int32Array, out: Uint32Array): number {
  let written = 0;
  for (let wordIndex = 0; wordIndex < words.length; wordIndex++) {
    if (words[wordIndex] === 0) continue;
    let bits = Atomics.exchange(words, wordIndex, 0);
    const firstBitIndex = wordIndex << 5;
    while (bits !== 0) {
      const lowest = bits & -bits;
      out[written++] = firstBitIndex + (31 - Math.clz32(lowest));
      bits ^= lowest;
    }
  }
  return written;
}
