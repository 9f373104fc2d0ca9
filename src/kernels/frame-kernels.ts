/**
 * Frame kernels: 64-bit page hash (XXH64), zero test, compare and copy of 4 KiB frames in pool
 * memory, their batch versions over a frame list, and the dirty-bitmap operations including a
 * non-atomic harvest for a bitmap no other thread writes. One interface, two implementations:
 * the WASM module built from assembly/frames.ts (`wasmFrameKernels`, loaded by
 * wasm-kernels.ts) and the pure-TypeScript fallback here (`tsFrameKernels`), which is also the
 * reference the property tests compare the WASM module against.
 *
 * XXH64 follows the xxHash specification (doc/xxhash_spec.md, "XXH64 algorithm description"),
 * written from that description. The TS version never uses BigInt on its hot path: every 64-bit
 * value is a pair of 32-bit halves, products are built from Math.imul (low halves) and an exact
 * double-precision 32x32 high product; BigInt appears only in the `hash64` convenience call.
 *
 * Addresses are byte addresses in pool memory. A frame address is a multiple of 4096 with the
 * whole frame inside the memory. Frame lists are arrays of u32 host frame numbers (address =
 * frame << 12), pair lists arrays of u32 pairs. Batch kernels check each listed frame and throw
 * a KernelArgumentError naming the list entry when one lies outside the memory (for a copy
 * list also when a destination is one of the pool's 16 reserved frames); entries before it have
 * been processed.
 */

import {
  checkCount,
  checkHarvestRegions,
  checkWordRegion,
  RESERVED_FRAMES,
  KernelArgumentError,
  tsBitmapKernels,
  type BitmapKernels,
  type KernelMemory,
} from './bitmap-kernels.js';

/** Size of a frame in bytes. */
export const FRAME_BYTES = 4096;

/** Frame and bitmap operations on pool memory (the bitmap ones as in BitmapKernels). */
export interface FrameKernels extends BitmapKernels {
  /** XXH64 of `byteLength` bytes at `byteOffset` (any alignment) with a 64-bit `seed`; the BigInt is only at this boundary. */
  hash64(byteOffset: number, byteLength: number, seed?: bigint): bigint;
  /**
   * XXH64 of the frame at `frameAddress` with seed `seedHigh:seedLow`, written as two u32
   * halves: `out[outIndex]` = low, `out[outIndex + 1]` = high. No allocation.
   */
  frameHashInto(frameAddress: number, out: Uint32Array, outIndex: number, seedLow?: number, seedHigh?: number): void;
  /** Whether the frame at `frameAddress` is all zeros. */
  isZeroFrame(frameAddress: number): boolean;
  /** First byte offset (0..4095) where the two frames differ, or -1 when they are equal. */
  compareFrames(frameAddressA: number, frameAddressB: number): number;
  /** Copies the frame at `sourceAddress` over the frame at `destinationAddress` (not a reserved frame). */
  copyFrame(destinationAddress: number, sourceAddress: number): void;
  /** XXH64 of each of `count` listed frames (u32 frame numbers at `listOffset`) as little-endian u64 values at `outOffset`. */
  hashFrames(listOffset: number, count: number, outOffset: number, seedLow?: number, seedHigh?: number): void;
  /**
   * Zero test of each of `count` listed frames: bit i of the u32-word bitmap at `bitmapOffset`
   * (`ceil(count / 32)` words, written whole) is set when frame i is all zeros. Returns how many are.
   */
  zeroFrames(listOffset: number, count: number, bitmapOffset: number): number;
  /**
   * Compares `count` frame pairs (u32 pairs a, b at `pairsOffset`); writes per pair an i32 at
   * `outOffset`: -1 when equal, else the first differing byte offset. Returns the equal pairs.
   */
  compareFramePairs(pairsOffset: number, count: number, outOffset: number): number;
  /** Copies `count` frames listed as u32 pairs (destination, source) at `pairsOffset`, in order. */
  copyFramePairs(pairsOffset: number, count: number): void;
  /**
   * Like `bitmapHarvest` (same output, same clearing) but with plain loads and stores: only for
   * a bitmap no other thread sets bits in during the call.
   */
  bitmapHarvestPlain(bitmapOffset: number, byteLength: number, outOffset: number): number;
}

// ---------------------------------------------------------------------------------------------
// Argument checks shared by both implementations.

/** Checks that `address` is a 4 KiB-aligned frame wholly inside `memoryBytes`. */
export function checkFrameAddress(kernel: string, argument: string, address: number, memoryBytes: number): void {
  if (!Number.isInteger(address) || address < 0 || address % FRAME_BYTES !== 0) {
    throw new KernelArgumentError(kernel, argument, `must be a non-negative multiple of 4096 (a frame address), got ${address}`);
  }
  if (address + FRAME_BYTES > memoryBytes) {
    throw new KernelArgumentError(kernel, argument, `frame [${address}, ${address + FRAME_BYTES}) exceeds memory size ${memoryBytes}`);
  }
}

/** Checks a 32-bit seed half. */
function checkSeedHalf(kernel: string, argument: string, value: number): void {
  if (!Number.isInteger(value) || value < 0 || value > 0xffffffff) {
    throw new KernelArgumentError(kernel, argument, `must be an integer in [0, 0xFFFFFFFF], got ${value}`);
  }
}

/** Checks that a list region and an output region are valid and disjoint. */
function checkListAndOutput(kernel: string, listArgument: string, listOffset: number, listBytes: number, outArgument: string, outOffset: number, outBytes: number, memoryBytes: number): void {
  checkWordRegion(kernel, listArgument, listOffset, listBytes, memoryBytes);
  checkWordRegion(kernel, outArgument, outOffset, outBytes, memoryBytes);
  if (outOffset < listOffset + listBytes && listOffset < outOffset + outBytes) {
    throw new KernelArgumentError(kernel, outArgument, `output region at ${outOffset} overlaps the list at ${listOffset}`);
  }
}

/** Throws the error for list entry `index` that a batch kernel refused. */
function badEntry(kernel: string, listArgument: string, index: number, frames: number[], memoryBytes: number, isCopy: boolean): never {
  const limit = Math.floor(memoryBytes / FRAME_BYTES);
  const described = frames.map((frame) => `${frame}`).join(', ');
  const reason = isCopy && frames[0] < RESERVED_FRAMES && frames[0] < limit
    ? `destination frame ${frames[0]} is a reserved frame (0..${RESERVED_FRAMES - 1})`
    : `names a frame outside the memory (${limit} frames)`;
  throw new KernelArgumentError(kernel, `${listArgument}[${index}]`, `(${described}) ${reason}`);
}

// ---------------------------------------------------------------------------------------------
// XXH64 in 32-bit halves.

/** XXH64 primes, split into high and low 32-bit halves (xxHash spec, "Prime constants"). */
const enum Prime {
  P1High = 0x9e3779b1 | 0, P1Low = 0x85ebca87 | 0,
  P2High = 0xc2b2ae3d | 0, P2Low = 0x27d4eb4f | 0,
  P3High = 0x165667b1, P3Low = 0x9e3779f9 | 0,
  P4High = 0x85ebca77 | 0, P4Low = 0xc2b2ae63 | 0,
  P5High = 0x27d4eb2f, P5Low = 0x165667c5,
  /** P1 + P2 mod 2^64 (first accumulator's offset). */
  P1P2High = 0x60ea27ee, P1P2Low = 0xadc0b5d6 | 0,
  /** 2^64 - P1 (fourth accumulator's offset). */
  NegP1High = 0x61c8864e, NegP1Low = 0x7a143579,
}

/** 16-bit halves of the low words of P1 and P2, for the high product in the stripe loop. */
const P1_LOW_TOP16 = 0x85ebca87 >>> 16;
const P1_LOW_BOTTOM16 = 0x85ebca87 & 0xffff;
const P2_LOW_TOP16 = 0x27d4eb4f >>> 16;
const P2_LOW_BOTTOM16 = 0x27d4eb4f & 0xffff;
const TWO_POW_32 = 4294967296;

/**
 * High half of a 64-bit result, set by the 64-bit helpers below (which return the low half).
 * A typed-array cell, not a `let`: storing int32 values beyond the small-integer range into a
 * module variable would box them on every store.
 */
const high = new Int32Array(1);

/**
 * High 32 bits (as int32) of the unsigned product of the u32 `a` and a u32 whose low and high
 * 16 bits are `bBottom16` and `bTop16`, from four 16x16-bit products (each exact in
 * Math.imul's low 32 bits): int32 arithmetic only, no doubles.
 */
function mulHigh32(a: number, bTop16: number, bBottom16: number): number {
  const a0 = a & 0xffff;
  const a1 = a >>> 16;
  const cross01 = Math.imul(a0, bTop16);
  const cross10 = Math.imul(a1, bBottom16);
  const middle = (Math.imul(a0, bBottom16) >>> 16) + (cross01 & 0xffff) + (cross10 & 0xffff);
  return (Math.imul(a1, bTop16) + (cross01 >>> 16) + (cross10 >>> 16) + (middle >>> 16)) | 0;
}

/** (aHigh:aLow) * (bHigh:bLow) mod 2^64: returns the low half, leaves the high half in `high`. */
function mul64(aHigh: number, aLow: number, bHigh: number, bLow: number): number {
  high[0] = (mulHigh32(aLow, bLow >>> 16, bLow & 0xffff) + Math.imul(aLow, bHigh) + Math.imul(aHigh, bLow)) | 0;
  return Math.imul(aLow, bLow);
}

/** (aHigh:aLow) + (bHigh:bLow) mod 2^64: returns the low half, leaves the high half in `high`. */
function add64(aHigh: number, aLow: number, bHigh: number, bLow: number): number {
  const low = (aLow >>> 0) + (bLow >>> 0);
  high[0] = (aHigh + bHigh + (low >= TWO_POW_32 ? 1 : 0)) | 0;
  return low | 0;
}

/** Rotates (h:l) left by `r` (1..31): returns the low half, leaves the high half in `high`. */
function rotl64(h: number, l: number, r: number): number {
  high[0] = (h << r) | (l >>> (32 - r));
  return (l << r) | (h >>> (32 - r));
}

/** One XXH64 accumulator step: (acc + lane * P2) rotl 31, * P1. Returns low, leaves high in `high`. */
function accumulate(accHigh: number, accLow: number, laneHigh: number, laneLow: number): number {
  let low = mul64(laneHigh, laneLow, Prime.P2High, Prime.P2Low);
  low = add64(accHigh, accLow, high[0], low);
  // Rotate left by 31 = rotate right by 1 (32 - 31), written out to spare a swap.
  const rotatedHigh = (high[0] << 31) | (low >>> 1);
  const rotatedLow = (low << 31) | (high[0] >>> 1);
  return mul64(rotatedHigh, rotatedLow, Prime.P1High, Prime.P1Low);
}

/** hash = (hash ^ accumulate(0, acc)) * P1 + P4. Returns low, leaves high in `high`. */
function mergeAccumulator(hashHigh: number, hashLow: number, accHigh: number, accLow: number): number {
  const low = accumulate(0, 0, accHigh, accLow);
  const mixedLow = mul64(hashHigh ^ high[0], hashLow ^ low, Prime.P1High, Prime.P1Low);
  return add64(high[0], mixedLow, Prime.P4High, Prime.P4Low);
}

/** Final avalanche of XXH64. Returns low, leaves high in `high`. */
function avalanche(h: number, l: number): number {
  l ^= (h >>> 1); // >> 33
  l = mul64(h, l, Prime.P2High, Prime.P2Low);
  h = high[0];
  l ^= (l >>> 29) | (h << 3); // >> 29 over 64 bits
  h ^= h >>> 29;
  l = mul64(h, l, Prime.P3High, Prime.P3Low);
  h = high[0];
  l ^= h; // >> 32
  return l;
}

/**
 * Runs XXH64's stripe loop over `stripeCount` 32-byte stripes of little-endian 32-bit `words`
 * starting at word `first`, and converges the four accumulators (seed + P1 + P2, seed + P2,
 * seed, seed - P1). Returns low, leaves high in `high`.
 */
function stripeLoop(words: Int32Array, first: number, stripeCount: number, seedHigh: number, seedLow: number): number {
  let a1l = add64(seedHigh, seedLow, Prime.P1P2High, Prime.P1P2Low);
  let a1h = high[0];
  let a2l = add64(seedHigh, seedLow, Prime.P2High, Prime.P2Low);
  let a2h = high[0];
  let a3l = seedLow | 0;
  let a3h = seedHigh | 0;
  let a4l = add64(seedHigh, seedLow, Prime.NegP1High, Prime.NegP1Low);
  let a4h = high[0];
  let inLow: number, inHigh: number, productHigh: number, sumLow: number, sumHigh: number;
  const end = first + stripeCount * 8;
  // The whole cost of a frame hash is this loop, so the accumulator step is written out once per
  // lane on int32 locals (a call that is not inlined would box int32 values outside the
  // small-integer range). Per lane: sum = acc + input * P2 with the carry of the low halves;
  // rotate left 31 of (h:l) gives low (l << 31) | (h >>> 1), high (h << 31) | (l >>> 1); then the
  // product with P1, its high half first since it reads the rotated low half.
  for (let w = first; w < end; w += 8) {
    // Lane 1: a1 = (a1 + input * P2) rotl 31, * P1.
    inLow = words[w + 0];
    inHigh = words[w + 1];
    productHigh = mulHigh32(inLow, P2_LOW_TOP16, P2_LOW_BOTTOM16) + Math.imul(inLow, Prime.P2High) + Math.imul(inHigh, Prime.P2Low);
    sumLow = (a1l + Math.imul(inLow, Prime.P2Low)) | 0;
    sumHigh = (a1h + productHigh + ((sumLow >>> 0) < (a1l >>> 0) ? 1 : 0)) | 0;
    a1l = (sumLow << 31) | (sumHigh >>> 1);
    a1h = (sumHigh << 31) | (sumLow >>> 1);
    a1h = (mulHigh32(a1l, P1_LOW_TOP16, P1_LOW_BOTTOM16) + Math.imul(a1l, Prime.P1High) + Math.imul(a1h, Prime.P1Low)) | 0;
    a1l = Math.imul(a1l, Prime.P1Low);
    // Lane 2: a2 = (a2 + input * P2) rotl 31, * P1.
    inLow = words[w + 2];
    inHigh = words[w + 3];
    productHigh = mulHigh32(inLow, P2_LOW_TOP16, P2_LOW_BOTTOM16) + Math.imul(inLow, Prime.P2High) + Math.imul(inHigh, Prime.P2Low);
    sumLow = (a2l + Math.imul(inLow, Prime.P2Low)) | 0;
    sumHigh = (a2h + productHigh + ((sumLow >>> 0) < (a2l >>> 0) ? 1 : 0)) | 0;
    a2l = (sumLow << 31) | (sumHigh >>> 1);
    a2h = (sumHigh << 31) | (sumLow >>> 1);
    a2h = (mulHigh32(a2l, P1_LOW_TOP16, P1_LOW_BOTTOM16) + Math.imul(a2l, Prime.P1High) + Math.imul(a2h, Prime.P1Low)) | 0;
    a2l = Math.imul(a2l, Prime.P1Low);
    // Lane 3: a3 = (a3 + input * P2) rotl 31, * P1.
    inLow = words[w + 4];
    inHigh = words[w + 5];
    productHigh = mulHigh32(inLow, P2_LOW_TOP16, P2_LOW_BOTTOM16) + Math.imul(inLow, Prime.P2High) + Math.imul(inHigh, Prime.P2Low);
    sumLow = (a3l + Math.imul(inLow, Prime.P2Low)) | 0;
    sumHigh = (a3h + productHigh + ((sumLow >>> 0) < (a3l >>> 0) ? 1 : 0)) | 0;
    a3l = (sumLow << 31) | (sumHigh >>> 1);
    a3h = (sumHigh << 31) | (sumLow >>> 1);
    a3h = (mulHigh32(a3l, P1_LOW_TOP16, P1_LOW_BOTTOM16) + Math.imul(a3l, Prime.P1High) + Math.imul(a3h, Prime.P1Low)) | 0;
    a3l = Math.imul(a3l, Prime.P1Low);
    // Lane 4: a4 = (a4 + input * P2) rotl 31, * P1.
    inLow = words[w + 6];
    inHigh = words[w + 7];
    productHigh = mulHigh32(inLow, P2_LOW_TOP16, P2_LOW_BOTTOM16) + Math.imul(inLow, Prime.P2High) + Math.imul(inHigh, Prime.P2Low);
    sumLow = (a4l + Math.imul(inLow, Prime.P2Low)) | 0;
    sumHigh = (a4h + productHigh + ((sumLow >>> 0) < (a4l >>> 0) ? 1 : 0)) | 0;
    a4l = (sumLow << 31) | (sumHigh >>> 1);
    a4h = (sumHigh << 31) | (sumLow >>> 1);
    a4h = (mulHigh32(a4l, P1_LOW_TOP16, P1_LOW_BOTTOM16) + Math.imul(a4l, Prime.P1High) + Math.imul(a4h, Prime.P1Low)) | 0;
    a4l = Math.imul(a4l, Prime.P1Low);
  }
  let l = rotl64(a1h, a1l, 1);
  let h = high[0];
  let r = rotl64(a2h, a2l, 7);
  l = add64(h, l, high[0], r);
  h = high[0];
  r = rotl64(a3h, a3l, 12);
  l = add64(h, l, high[0], r);
  h = high[0];
  r = rotl64(a4h, a4l, 18);
  l = add64(h, l, high[0], r);
  l = mergeAccumulator(high[0], l, a1h, a1l);
  l = mergeAccumulator(high[0], l, a2h, a2l);
  l = mergeAccumulator(high[0], l, a3h, a3l);
  return mergeAccumulator(high[0], l, a4h, a4l);
}

/** XXH64 of the 4 KiB frame whose first word is `words[first]`. Returns low, leaves high in `high`. */
function frameDigest(words: Int32Array, first: number, seedHigh: number, seedLow: number): number {
  const l = stripeLoop(words, first, FRAME_BYTES / 32, seedHigh, seedLow);
  const withLength = add64(high[0], l, 0, FRAME_BYTES);
  return avalanche(high[0], withLength);
}

/**
 * XXH64 of `byteLength` bytes of `bytes` from `offset` (any alignment): the stripe loop runs on
 * a word view (the pool's own when `offset` is 4-byte aligned, else an aligned copy), then the
 * 8/4/1-byte tail. Returns low, leaves high in `high`.
 */
function digestBytes(bytes: Uint8Array, words: Int32Array, offset: number, byteLength: number, seedHigh: number, seedLow: number): number {
  let h: number;
  let l: number;
  let p = offset;
  const end = offset + byteLength;
  if (byteLength >= 32) {
    const stripeCount = byteLength >>> 5;
    if ((offset & 3) === 0) {
      l = stripeLoop(words, offset >>> 2, stripeCount, seedHigh, seedLow);
    } else {
      const aligned = new Int32Array(stripeCount * 8);
      new Uint8Array(aligned.buffer).set(bytes.subarray(offset, offset + stripeCount * 32));
      l = stripeLoop(aligned, 0, stripeCount, seedHigh, seedLow);
    }
    h = high[0];
    p += stripeCount * 32;
  } else {
    l = add64(seedHigh, seedLow, Prime.P5High, Prime.P5Low);
    h = high[0];
  }
  l = add64(h, l, 0, byteLength);
  h = high[0];
  for (; p + 8 <= end; p += 8) {
    const laneLow = accumulate(0, 0, readU32(bytes, p + 4), readU32(bytes, p));
    // hash = rotl(hash ^ lane, 27) * P1 + P4
    l = rotl64(h ^ high[0], l ^ laneLow, 27);
    l = mul64(high[0], l, Prime.P1High, Prime.P1Low);
    l = add64(high[0], l, Prime.P4High, Prime.P4Low);
    h = high[0];
  }
  if (p + 4 <= end) {
    // hash = rotl(hash ^ (u32 * P1), 23) * P2 + P3
    const productLow = mul64(0, readU32(bytes, p), Prime.P1High, Prime.P1Low);
    l = rotl64(h ^ high[0], l ^ productLow, 23);
    l = mul64(high[0], l, Prime.P2High, Prime.P2Low);
    l = add64(high[0], l, Prime.P3High, Prime.P3Low);
    h = high[0];
    p += 4;
  }
  for (; p < end; p++) {
    // hash = rotl(hash ^ (byte * P5), 11) * P1
    const productLow = mul64(0, bytes[p], Prime.P5High, Prime.P5Low);
    l = rotl64(h ^ high[0], l ^ productLow, 11);
    l = mul64(high[0], l, Prime.P1High, Prime.P1Low);
    h = high[0];
  }
  return avalanche(h, l);
}

/** Little-endian u32 at any byte offset, as an int32. */
function readU32(bytes: Uint8Array, p: number): number {
  return bytes[p] | (bytes[p + 1] << 8) | (bytes[p + 2] << 16) | (bytes[p + 3] << 24);
}

/** The 64-bit value (h:l) as an unsigned BigInt (boundary only). */
function toBigInt(h: number, l: number): bigint {
  return (BigInt(h >>> 0) << 32n) | BigInt(l >>> 0);
}

// ---------------------------------------------------------------------------------------------
// Zero test, compare, copy, harvest on 32-bit words.

/** Whether the 1024 words from `first` are all zero (checks 8 words per step). */
function wordsAreZero(words: Int32Array, first: number): boolean {
  const end = first + FRAME_BYTES / 4;
  for (let w = first; w < end; w += 8) {
    if ((words[w] | words[w + 1] | words[w + 2] | words[w + 3] | words[w + 4] | words[w + 5] | words[w + 6] | words[w + 7]) !== 0) return false;
  }
  return true;
}

/** First differing byte offset of the frames whose first words are `a` and `b`, or -1. */
function compareWords(words: Int32Array, a: number, b: number): number {
  for (let k = 0; k < FRAME_BYTES / 4; k++) {
    const difference = words[a + k] ^ words[b + k];
    if (difference !== 0) return (k << 2) + ((31 - Math.clz32(difference & -difference)) >>> 3);
  }
  return -1;
}

/** Moves the set bit indices of `words[first, first + count)` to `out` from `outFirst`, clearing them with plain stores. */
function harvestPlainWords(words: Int32Array, first: number, count: number, out: Uint32Array, outFirst: number): number {
  let written = outFirst;
  for (let k = 0; k < count; k++) {
    let bits = words[first + k];
    if (bits === 0) continue;
    words[first + k] = 0;
    const firstBitIndex = k << 5;
    while (bits !== 0) {
      const lowest = bits & -bits;
      out[written++] = firstBitIndex + (31 - Math.clz32(lowest));
      bits ^= lowest;
    }
  }
  return written - outFirst;
}

// ---------------------------------------------------------------------------------------------
// The pure-TypeScript implementation.

/**
 * Pure-TypeScript frame kernels over `target.memory`; `bitmapCount` and `bitmapHarvest` are
 * those of `bitmap` (default: the TS bitmap kernels). Views of the memory are refreshed when
 * it has grown.
 */
export function tsFrameKernels(target: Pick<KernelMemory, 'memory'>, bitmap: BitmapKernels = tsBitmapKernels(target)): FrameKernels {
  let buffer = target.memory.buffer;
  let bytes = new Uint8Array(buffer);
  let words = new Int32Array(buffer, 0, buffer.byteLength >>> 2);
  let uwords = new Uint32Array(buffer, 0, buffer.byteLength >>> 2);
  /** Refreshes the views after growth; returns the memory size in bytes. */
  const refresh = (): number => {
    const current = target.memory.buffer;
    if (current !== buffer) {
      buffer = current;
      bytes = new Uint8Array(buffer);
      words = new Int32Array(buffer, 0, buffer.byteLength >>> 2);
      uwords = new Uint32Array(buffer, 0, buffer.byteLength >>> 2);
    }
    return buffer.byteLength;
  };
  const frameLimit = (): number => buffer.byteLength / FRAME_BYTES;
  return {
    kind: 'ts',
    bitmapCount: (byteOffset, byteLength) => bitmap.bitmapCount(byteOffset, byteLength),
    bitmapHarvest: (bitmapOffset, byteLength, outOffset) => bitmap.bitmapHarvest(bitmapOffset, byteLength, outOffset),
    hash64(byteOffset: number, byteLength: number, seed = 0n): bigint {
      const size = refresh();
      checkByteRegion('hash64', byteOffset, byteLength, size);
      const s = BigInt.asUintN(64, seed);
      const l = digestBytes(bytes, words, byteOffset, byteLength, Number(s >> 32n) | 0, Number(s & 0xffffffffn) | 0);
      return toBigInt(high[0], l);
    },
    frameHashInto(frameAddress: number, out: Uint32Array, outIndex: number, seedLow = 0, seedHigh = 0): void {
      checkFrameAddress('frameHashInto', 'frameAddress', frameAddress, refresh());
      checkHashSeed('frameHashInto', seedLow, seedHigh);
      checkOutPair(out, outIndex);
      const l = frameDigest(words, frameAddress >>> 2, seedHigh | 0, seedLow | 0);
      out[outIndex] = l;
      out[outIndex + 1] = high[0];
    },
    isZeroFrame(frameAddress: number): boolean {
      checkFrameAddress('isZeroFrame', 'frameAddress', frameAddress, refresh());
      return wordsAreZero(words, frameAddress >>> 2);
    },
    compareFrames(frameAddressA: number, frameAddressB: number): number {
      const size = refresh();
      checkFrameAddress('compareFrames', 'frameAddressA', frameAddressA, size);
      checkFrameAddress('compareFrames', 'frameAddressB', frameAddressB, size);
      return compareWords(words, frameAddressA >>> 2, frameAddressB >>> 2);
    },
    copyFrame(destinationAddress: number, sourceAddress: number): void {
      const size = refresh();
      checkCopyDestination('copyFrame', destinationAddress, size);
      checkFrameAddress('copyFrame', 'sourceAddress', sourceAddress, size);
      bytes.copyWithin(destinationAddress, sourceAddress, sourceAddress + FRAME_BYTES);
    },
    hashFrames(listOffset: number, count: number, outOffset: number, seedLow = 0, seedHigh = 0): void {
      checkCount('hashFrames', count);
      checkListAndOutput('hashFrames', 'listOffset', listOffset, count * 4, 'outOffset', outOffset, count * 8, refresh());
      checkHashSeed('hashFrames', seedLow, seedHigh);
      const limit = frameLimit();
      const list = listOffset >>> 2;
      const out = outOffset >>> 2;
      for (let i = 0; i < count; i++) {
        const frame = uwords[list + i];
        if (frame >= limit) badEntry('hashFrames', 'listOffset', i, [frame], buffer.byteLength, false);
        const l = frameDigest(words, frame << 10, seedHigh | 0, seedLow | 0);
        words[out + 2 * i] = l;
        words[out + 2 * i + 1] = high[0];
      }
    },
    zeroFrames(listOffset: number, count: number, bitmapOffset: number): number {
      checkCount('zeroFrames', count);
      checkListAndOutput('zeroFrames', 'listOffset', listOffset, count * 4, 'bitmapOffset', bitmapOffset, Math.ceil(count / 32) * 4, refresh());
      const limit = frameLimit();
      const list = listOffset >>> 2;
      const bitmapWord = bitmapOffset >>> 2;
      let zeros = 0;
      let word = 0;
      for (let i = 0; i < count; i++) {
        const frame = uwords[list + i];
        if (frame >= limit) badEntry('zeroFrames', 'listOffset', i, [frame], buffer.byteLength, false);
        if (wordsAreZero(words, frame << 10)) {
          word |= 1 << (i & 31);
          zeros++;
        }
        if ((i & 31) === 31) {
          words[bitmapWord + (i >>> 5)] = word;
          word = 0;
        }
      }
      if ((count & 31) !== 0) words[bitmapWord + (count >>> 5)] = word;
      return zeros;
    },
    compareFramePairs(pairsOffset: number, count: number, outOffset: number): number {
      checkCount('compareFramePairs', count);
      checkListAndOutput('compareFramePairs', 'pairsOffset', pairsOffset, count * 8, 'outOffset', outOffset, count * 4, refresh());
      const limit = frameLimit();
      const pairs = pairsOffset >>> 2;
      const out = outOffset >>> 2;
      let equal = 0;
      for (let i = 0; i < count; i++) {
        const a = uwords[pairs + 2 * i];
        const b = uwords[pairs + 2 * i + 1];
        if (a >= limit || b >= limit) badEntry('compareFramePairs', 'pairsOffset', i, [a, b], buffer.byteLength, false);
        const result = compareWords(words, a << 10, b << 10);
        words[out + i] = result;
        if (result < 0) equal++;
      }
      return equal;
    },
    copyFramePairs(pairsOffset: number, count: number): void {
      checkCount('copyFramePairs', count);
      checkWordRegion('copyFramePairs', 'pairsOffset', pairsOffset, count * 8, refresh());
      const limit = frameLimit();
      const pairs = pairsOffset >>> 2;
      for (let i = 0; i < count; i++) {
        const destination = uwords[pairs + 2 * i];
        const source = uwords[pairs + 2 * i + 1];
        if (destination >= limit || source >= limit || destination < RESERVED_FRAMES) {
          badEntry('copyFramePairs', 'pairsOffset', i, [destination, source], buffer.byteLength, true);
        }
        bytes.copyWithin(destination * FRAME_BYTES, source * FRAME_BYTES, source * FRAME_BYTES + FRAME_BYTES);
      }
    },
    bitmapHarvestPlain(bitmapOffset: number, byteLength: number, outOffset: number): number {
      checkHarvestRegions(bitmapOffset, byteLength, outOffset, refresh());
      return harvestPlainWords(words, bitmapOffset >>> 2, byteLength >>> 2, uwords, outOffset >>> 2);
    },
  };
}

/** Checks a byte region of any alignment for `hash64`. */
function checkByteRegion(kernel: string, byteOffset: number, byteLength: number, memoryBytes: number): void {
  if (!Number.isInteger(byteOffset) || byteOffset < 0) {
    throw new KernelArgumentError(kernel, 'byteOffset', `must be a non-negative integer, got ${byteOffset}`);
  }
  if (!Number.isInteger(byteLength) || byteLength < 0) {
    throw new KernelArgumentError(kernel, 'byteLength', `must be a non-negative integer, got ${byteLength}`);
  }
  if (byteOffset + byteLength > memoryBytes) {
    throw new KernelArgumentError(kernel, 'byteOffset', `region [${byteOffset}, ${byteOffset + byteLength}) exceeds memory size ${memoryBytes}`);
  }
}

/** Checks both seed halves. */
function checkHashSeed(kernel: string, seedLow: number, seedHigh: number): void {
  checkSeedHalf(kernel, 'seedLow', seedLow);
  checkSeedHalf(kernel, 'seedHigh', seedHigh);
}

/** Checks that `out[outIndex]` and `out[outIndex + 1]` exist. */
function checkOutPair(out: Uint32Array, outIndex: number): void {
  if (!Number.isInteger(outIndex) || outIndex < 0 || outIndex + 2 > out.length) {
    throw new KernelArgumentError('frameHashInto', 'outIndex', `needs out[${outIndex}] and out[${outIndex + 1}], out has length ${out.length}`);
  }
}

/** Checks a copy destination: a frame address inside the memory and not a reserved frame. */
function checkCopyDestination(kernel: string, destinationAddress: number, memoryBytes: number): void {
  checkFrameAddress(kernel, 'destinationAddress', destinationAddress, memoryBytes);
  if (destinationAddress < RESERVED_FRAMES * FRAME_BYTES) {
    throw new KernelArgumentError(kernel, 'destinationAddress', `${destinationAddress} lies in the pool's reserved frames (below ${RESERVED_FRAMES * FRAME_BYTES})`);
  }
}

// ---------------------------------------------------------------------------------------------
// The WASM binding.

/** The raw frame-kernel exports of the module built from assembly/frames.ts. */
export interface FrameKernelExports {
  hashHigh: WebAssembly.Global;
  xxh64(address: number, byteLength: number, seed: bigint): bigint;
  frameHash(address: number, seedLow: number, seedHigh: number): number;
  frameIsZero(address: number): number;
  frameCompare(a: number, b: number): number;
  frameCopy(destination: number, source: number): void;
  frameCopySimd(destination: number, source: number): void;
  hashFrames(listAddress: number, count: number, outAddress: number, seedLow: number, seedHigh: number): number;
  zeroFrames(listAddress: number, count: number, bitmapAddress: number): number;
  compareFramePairs(pairsAddress: number, count: number, outAddress: number): number;
  copyFramePairs(pairsAddress: number, count: number): number;
  bitmapHarvestPlain(bitmapOffset: number, byteLength: number, outOffset: number): number;
}

/** Frame kernels running in the WASM module `exports` (instantiated over `target.memory`), with argument checks. */
export function wasmFrameKernels(target: Pick<KernelMemory, 'memory'>, exports: FrameKernelExports, bitmap: BitmapKernels): FrameKernels {
  const memoryBytes = (): number => target.memory.buffer.byteLength;
  /** Reads list entry `index` (u32 values from `offset`, `width` per entry) for an error message. */
  const entry = (offset: number, index: number, width: number): number[] => {
    const view = new Uint32Array(target.memory.buffer, offset + index * width * 4, width);
    return Array.from(view);
  };
  return {
    kind: 'wasm',
    bitmapCount: (byteOffset, byteLength) => bitmap.bitmapCount(byteOffset, byteLength),
    bitmapHarvest: (bitmapOffset, byteLength, outOffset) => bitmap.bitmapHarvest(bitmapOffset, byteLength, outOffset),
    hash64(byteOffset: number, byteLength: number, seed = 0n): bigint {
      checkByteRegion('hash64', byteOffset, byteLength, memoryBytes());
      return BigInt.asUintN(64, exports.xxh64(byteOffset, byteLength, BigInt.asUintN(64, seed)));
    },
    frameHashInto(frameAddress: number, out: Uint32Array, outIndex: number, seedLow = 0, seedHigh = 0): void {
      checkFrameAddress('frameHashInto', 'frameAddress', frameAddress, memoryBytes());
      checkHashSeed('frameHashInto', seedLow, seedHigh);
      checkOutPair(out, outIndex);
      out[outIndex] = exports.frameHash(frameAddress, seedLow, seedHigh);
      out[outIndex + 1] = exports.hashHigh.value;
    },
    isZeroFrame(frameAddress: number): boolean {
      checkFrameAddress('isZeroFrame', 'frameAddress', frameAddress, memoryBytes());
      return exports.frameIsZero(frameAddress) !== 0;
    },
    compareFrames(frameAddressA: number, frameAddressB: number): number {
      const size = memoryBytes();
      checkFrameAddress('compareFrames', 'frameAddressA', frameAddressA, size);
      checkFrameAddress('compareFrames', 'frameAddressB', frameAddressB, size);
      return exports.frameCompare(frameAddressA, frameAddressB);
    },
    copyFrame(destinationAddress: number, sourceAddress: number): void {
      const size = memoryBytes();
      checkCopyDestination('copyFrame', destinationAddress, size);
      checkFrameAddress('copyFrame', 'sourceAddress', sourceAddress, size);
      exports.frameCopy(destinationAddress, sourceAddress);
    },
    hashFrames(listOffset: number, count: number, outOffset: number, seedLow = 0, seedHigh = 0): void {
      checkCount('hashFrames', count);
      checkListAndOutput('hashFrames', 'listOffset', listOffset, count * 4, 'outOffset', outOffset, count * 8, memoryBytes());
      checkHashSeed('hashFrames', seedLow, seedHigh);
      const result = exports.hashFrames(listOffset, count, outOffset, seedLow, seedHigh);
      if (result < 0) badEntry('hashFrames', 'listOffset', -1 - result, entry(listOffset, -1 - result, 1), memoryBytes(), false);
    },
    zeroFrames(listOffset: number, count: number, bitmapOffset: number): number {
      checkCount('zeroFrames', count);
      checkListAndOutput('zeroFrames', 'listOffset', listOffset, count * 4, 'bitmapOffset', bitmapOffset, Math.ceil(count / 32) * 4, memoryBytes());
      const result = exports.zeroFrames(listOffset, count, bitmapOffset);
      if (result < 0) badEntry('zeroFrames', 'listOffset', -1 - result, entry(listOffset, -1 - result, 1), memoryBytes(), false);
      return result;
    },
    compareFramePairs(pairsOffset: number, count: number, outOffset: number): number {
      checkCount('compareFramePairs', count);
      checkListAndOutput('compareFramePairs', 'pairsOffset', pairsOffset, count * 8, 'outOffset', outOffset, count * 4, memoryBytes());
      const result = exports.compareFramePairs(pairsOffset, count, outOffset);
      if (result < 0) badEntry('compareFramePairs', 'pairsOffset', -1 - result, entry(pairsOffset, -1 - result, 2), memoryBytes(), false);
      return result;
    },
    copyFramePairs(pairsOffset: number, count: number): void {
      checkCount('copyFramePairs', count);
      checkWordRegion('copyFramePairs', 'pairsOffset', pairsOffset, count * 8, memoryBytes());
      const result = exports.copyFramePairs(pairsOffset, count);
      if (result < 0) badEntry('copyFramePairs', 'pairsOffset', -1 - result, entry(pairsOffset, -1 - result, 2), memoryBytes(), true);
    },
    bitmapHarvestPlain(bitmapOffset: number, byteLength: number, outOffset: number): number {
      checkHarvestRegions(bitmapOffset, byteLength, outOffset, memoryBytes());
      return exports.bitmapHarvestPlain(bitmapOffset, byteLength, outOffset) >>> 0;
    },
  };
}
