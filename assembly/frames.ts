/**
 * WASM frame kernels (AssemblyScript): 64-bit page hash, zero test, compare and copy of 4 KiB
 * frames, batch versions over a frame list, and a non-atomic dirty-bitmap harvest.
 *
 * Page hash: XXH64 as described in the xxHash specification ("xxHash fast digest algorithm",
 * doc/xxhash_spec.md, section "XXH64 algorithm description"): four 64-bit accumulators fed by
 * 32-byte stripes, merged, then the 8/4/1-byte tail and the final avalanche. Written here
 * from that description; checked against the published sanity vectors in
 * test/unit/kernels/frame-kernels.test.ts.
 *
 * Like assembly/index.ts, the module works in place on the imported pool memory: every
 * address is a byte address in it, nothing is allocated and no static data exists (the hash
 * of the last `frameHash` call leaves its high half in the global `hashHigh`, a WebAssembly
 * global, not memory). Frame lists are arrays of u32 host frame numbers (byte address
 * `frame << 12`). Batch kernels check every listed frame against the current memory size and
 * return `-1 - index` for the first one outside it (nothing is done for that entry or later
 * ones); the TS binding (src/kernels/frame-kernels.ts) turns that into a KernelArgumentError.
 * Single-frame arguments are checked by the binding before the call.
 */

const FRAME_BYTES: usize = 4096;
const FRAME_SHIFT: usize = 12;
/** Frames below this number are the pool's reserved frames (frame 0 and the first 64 KiB). */
const RESERVED_FRAMES: u32 = 16;

const PRIME64_1: u64 = 0x9e3779b185ebca87;
const PRIME64_2: u64 = 0xc2b2ae3d27d4eb4f;
const PRIME64_3: u64 = 0x165667b19e3779f9;
const PRIME64_4: u64 = 0x85ebca77c2b2ae63;
const PRIME64_5: u64 = 0x27d4eb2f165667c5;

/** High 32 bits of the hash returned by the last `frameHash` call (its low half is the return value). */
export let hashHigh: u32 = 0;

/** One accumulator step of XXH64: add lane * P2, rotate left 31, multiply by P1. */
// @ts-ignore: decorator
@inline function accumulate(acc: u64, lane: u64): u64 {
  return rotl<u64>(acc + lane * PRIME64_2, 31) * PRIME64_1;
}

/** Folds one finished accumulator into the converged hash. */
// @ts-ignore: decorator
@inline function mergeAccumulator(hash: u64, acc: u64): u64 {
  return (hash ^ accumulate(0, acc)) * PRIME64_1 + PRIME64_4;
}

/** Final mixing step that spreads every input bit over the whole result. */
// @ts-ignore: decorator
@inline function avalanche(hash: u64): u64 {
  hash ^= hash >> 33;
  hash *= PRIME64_2;
  hash ^= hash >> 29;
  hash *= PRIME64_3;
  return hash ^ (hash >> 32);
}

/** Runs the stripe loop over [pointer, end) (a multiple of 32 bytes) and converges the four accumulators. */
// @ts-ignore: decorator
@inline function stripes(pointer: usize, end: usize, seed: u64): u64 {
  let acc1 = seed + PRIME64_1 + PRIME64_2;
  let acc2 = seed + PRIME64_2;
  let acc3 = seed;
  let acc4 = seed - PRIME64_1;
  while (pointer < end) {
    acc1 = accumulate(acc1, load<u64>(pointer));
    acc2 = accumulate(acc2, load<u64>(pointer, 8));
    acc3 = accumulate(acc3, load<u64>(pointer, 16));
    acc4 = accumulate(acc4, load<u64>(pointer, 24));
    pointer += 32;
  }
  let hash = rotl<u64>(acc1, 1) + rotl<u64>(acc2, 7) + rotl<u64>(acc3, 12) + rotl<u64>(acc4, 18);
  hash = mergeAccumulator(hash, acc1);
  hash = mergeAccumulator(hash, acc2);
  hash = mergeAccumulator(hash, acc3);
  return mergeAccumulator(hash, acc4);
}

/** XXH64 of one 4 KiB frame: 128 whole stripes, no tail. */
// @ts-ignore: decorator
@inline function frameDigest(address: usize, seed: u64): u64 {
  return avalanche(stripes(address, address + FRAME_BYTES, seed) + <u64>FRAME_BYTES);
}

/** XXH64 of `byteLength` bytes at `address` (any length and alignment). */
export function xxh64(address: usize, byteLength: usize, seed: u64): u64 {
  const end = address + byteLength;
  let pointer = address;
  let hash: u64;
  if (byteLength >= 32) {
    const stripeEnd = address + (byteLength & ~(<usize>31));
    hash = stripes(pointer, stripeEnd, seed);
    pointer = stripeEnd;
  } else {
    hash = seed + PRIME64_5;
  }
  hash += <u64>byteLength;
  while (pointer + 8 <= end) {
    hash = rotl<u64>(hash ^ accumulate(0, load<u64>(pointer)), 27) * PRIME64_1 + PRIME64_4;
    pointer += 8;
  }
  if (pointer + 4 <= end) {
    hash = rotl<u64>(hash ^ (<u64>load<u32>(pointer) * PRIME64_1), 23) * PRIME64_2 + PRIME64_3;
    pointer += 4;
  }
  while (pointer < end) {
    hash = rotl<u64>(hash ^ (<u64>load<u8>(pointer) * PRIME64_5), 11) * PRIME64_1;
    pointer++;
  }
  return avalanche(hash);
}

/** XXH64 of the 4 KiB frame at `address` with seed `seedHigh:seedLow`; returns the low half, the high half goes to `hashHigh`. */
export function frameHash(address: usize, seedLow: u32, seedHigh: u32): u32 {
  const hash = frameDigest(address, (<u64>seedHigh << 32) | <u64>seedLow);
  hashHigh = <u32>(hash >> 32);
  return <u32>hash;
}

/** Whether all 4096 bytes at `address` are zero (OR of 64 bytes per step, stops at the first non-zero block). */
export function frameIsZero(address: usize): bool {
  const end = address + FRAME_BYTES;
  for (let pointer = address; pointer < end; pointer += 64) {
    const any = v128.or(
      v128.or(v128.load(pointer), v128.load(pointer, 16)),
      v128.or(v128.load(pointer, 32), v128.load(pointer, 48)),
    );
    if (v128.any_true(any)) return false;
  }
  return true;
}

/** Offset of the first byte where the frames at `a` and `b` differ, or -1 when they are equal. */
export function frameCompare(a: usize, b: usize): i32 {
  for (let offset: usize = 0; offset < FRAME_BYTES; offset += 64) {
    const difference = v128.or(
      v128.or(v128.xor(v128.load(a + offset), v128.load(b + offset)), v128.xor(v128.load(a + offset, 16), v128.load(b + offset, 16))),
      v128.or(v128.xor(v128.load(a + offset, 32), v128.load(b + offset, 32)), v128.xor(v128.load(a + offset, 48), v128.load(b + offset, 48))),
    );
    if (v128.any_true(difference)) return <i32>(offset + firstDifferenceIn64(a + offset, b + offset));
  }
  return -1;
}

/** Offset of the first differing byte within the 64 bytes at `a` and `b` (which are known to differ). */
function firstDifferenceIn64(a: usize, b: usize): usize {
  for (let offset: usize = 0; offset < 64; offset += 16) {
    const equalMask = i8x16.bitmask(i8x16.eq(v128.load(a + offset), v128.load(b + offset)));
    if (equalMask != 0xffff) return offset + <usize>ctz<u32>(~equalMask);
  }
  return 64;
}

/** Copies the 4 KiB frame at `source` to `destination` with bulk-memory `memory.copy`. */
export function frameCopy(destination: usize, source: usize): void {
  memory.copy(destination, source, FRAME_BYTES);
}

/** Copies the 4 KiB frame at `source` to `destination` with a v128 load/store loop (kept for the bench's comparison with `frameCopy`). */
export function frameCopySimd(destination: usize, source: usize): void {
  for (let offset: usize = 0; offset < FRAME_BYTES; offset += 64) {
    const v0 = v128.load(source + offset);
    const v1 = v128.load(source + offset, 16);
    const v2 = v128.load(source + offset, 32);
    const v3 = v128.load(source + offset, 48);
    v128.store(destination + offset, v0);
    v128.store(destination + offset, v1, 16);
    v128.store(destination + offset, v2, 32);
    v128.store(destination + offset, v3, 48);
  }
}

/** Frames currently backed by the memory (64 KiB pages × 16). */
// @ts-ignore: decorator
@inline function memoryFrames(): u32 {
  return <u32>memory.size() << 4;
}

/**
 * XXH64 of each of the `count` frames listed (u32 frame numbers) at `listAddress`, written as
 * little-endian u64 values at `outAddress`. Returns `count`, or `-1 - index` of the first
 * frame outside the memory.
 */
export function hashFrames(listAddress: usize, count: u32, outAddress: usize, seedLow: u32, seedHigh: u32): i32 {
  const seed = (<u64>seedHigh << 32) | <u64>seedLow;
  const limit = memoryFrames();
  for (let index: u32 = 0; index < count; index++) {
    const frame = load<u32>(listAddress + (<usize>index << 2));
    if (frame >= limit) return -1 - <i32>index;
    store<u64>(outAddress + (<usize>index << 3), frameDigest(<usize>frame << FRAME_SHIFT, seed));
  }
  return <i32>count;
}

/**
 * Zero test of each of the `count` listed frames: bit `index` of the bitmap at `bitmapAddress`
 * (u32 words, `ceil(count / 32)` of them, written whole: bits past `count` are cleared) is set
 * when that frame is all zeros. Returns the number of zero frames, or `-1 - index` of the
 * first frame outside the memory (the bitmap is then partly written).
 */
export function zeroFrames(listAddress: usize, count: u32, bitmapAddress: usize): i32 {
  const limit = memoryFrames();
  let zeros: u32 = 0;
  let word: u32 = 0;
  for (let index: u32 = 0; index < count; index++) {
    const frame = load<u32>(listAddress + (<usize>index << 2));
    if (frame >= limit) return -1 - <i32>index;
    if (frameIsZero(<usize>frame << FRAME_SHIFT)) {
      word |= 1 << (index & 31);
      zeros++;
    }
    if ((index & 31) == 31) {
      store<u32>(bitmapAddress + (<usize>(index >>> 5) << 2), word);
      word = 0;
    }
  }
  if ((count & 31) != 0) store<u32>(bitmapAddress + (<usize>(count >>> 5) << 2), word);
  return <i32>zeros;
}

/**
 * Compares `count` pairs of frames listed as u32 pairs (a, b) at `pairsAddress`; writes for
 * each pair an i32 at `outAddress`: -1 when equal, else the first differing byte offset.
 * Returns the number of equal pairs, or `-1 - index` of the first pair naming a frame outside
 * the memory.
 */
export function compareFramePairs(pairsAddress: usize, count: u32, outAddress: usize): i32 {
  const limit = memoryFrames();
  let equal: u32 = 0;
  for (let index: u32 = 0; index < count; index++) {
    const entry = pairsAddress + (<usize>index << 3);
    const a = load<u32>(entry);
    const b = load<u32>(entry, 4);
    if (a >= limit || b >= limit) return -1 - <i32>index;
    const result = frameCompare(<usize>a << FRAME_SHIFT, <usize>b << FRAME_SHIFT);
    store<i32>(outAddress + (<usize>index << 2), result);
    if (result < 0) equal++;
  }
  return <i32>equal;
}

/**
 * Copies `count` frames listed as u32 pairs (destination, source) at `pairsAddress`, in list
 * order. Returns `count`, or `-1 - index` of the first pair with a frame outside the memory or
 * a destination among the reserved frames (earlier pairs are already copied).
 */
export function copyFramePairs(pairsAddress: usize, count: u32): i32 {
  const limit = memoryFrames();
  for (let index: u32 = 0; index < count; index++) {
    const entry = pairsAddress + (<usize>index << 3);
    const destination = load<u32>(entry);
    const source = load<u32>(entry, 4);
    if (destination >= limit || source >= limit || destination < RESERVED_FRAMES) return -1 - <i32>index;
    memory.copy(<usize>destination << FRAME_SHIFT, <usize>source << FRAME_SHIFT, FRAME_BYTES);
  }
  return <i32>count;
}

/**
 * Non-atomic harvest, for a bitmap no other thread writes: same contract as `bitmapHarvest`
 * in index.ts (indices ascending relative to the bitmap start, bits cleared, returns the
 * count; output room for `byteLength * 8` u32 values) but with plain loads and stores, 16
 * zero bytes skipped per step and 64 bits extracted per word.
 */
export function bitmapHarvestPlain(bitmapOffset: usize, byteLength: usize, outOffset: usize): u32 {
  let written: u32 = 0;
  const end = bitmapOffset + byteLength;
  let pointer = bitmapOffset;
  while (pointer + 16 <= end) {
    if (v128.any_true(v128.load(pointer))) {
      written = extractBits(load<u64>(pointer), <u32>(pointer - bitmapOffset) << 3, outOffset, written);
      written = extractBits(load<u64>(pointer, 8), <u32>(pointer + 8 - bitmapOffset) << 3, outOffset, written);
      v128.store(pointer, i64x2.splat(0));
    }
    pointer += 16;
  }
  while (pointer < end) {
    const word = load<u32>(pointer);
    if (word != 0) {
      written = extractBits(<u64>word, <u32>(pointer - bitmapOffset) << 3, outOffset, written);
      store<u32>(pointer, 0);
    }
    pointer += 4;
  }
  return written;
}

/**
 * Appends `firstBitIndex + position` for every set bit of `bits` (ascending) to the u32 output;
 * returns the new count. Branch-light: four positions are always stored, four more when the
 * word has more than four bits, the rest in a loop; stores past the word's bit count are garbage
 * that later entries overwrite, so sparse words take no data-dependent branch. Room is never
 * exceeded: before this word at most `firstBitIndex` entries were written and the output holds
 * one entry per bitmap bit, so the 64 entries this word may touch are inside it.
 */
// @ts-ignore: decorator
@inline function extractBits(bits: u64, firstBitIndex: u32, outOffset: usize, written: u32): u32 {
  const count = <u32>popcnt<u64>(bits);
  let out = outOffset + (<usize>written << 2);
  store<u32>(out, firstBitIndex + <u32>ctz<u64>(bits));
  bits &= bits - 1;
  store<u32>(out, firstBitIndex + <u32>ctz<u64>(bits), 4);
  bits &= bits - 1;
  store<u32>(out, firstBitIndex + <u32>ctz<u64>(bits), 8);
  bits &= bits - 1;
  store<u32>(out, firstBitIndex + <u32>ctz<u64>(bits), 12);
  bits &= bits - 1;
  if (count > 4) {
    store<u32>(out, firstBitIndex + <u32>ctz<u64>(bits), 16);
    bits &= bits - 1;
    store<u32>(out, firstBitIndex + <u32>ctz<u64>(bits), 20);
    bits &= bits - 1;
    store<u32>(out, firstBitIndex + <u32>ctz<u64>(bits), 24);
    bits &= bits - 1;
    store<u32>(out, firstBitIndex + <u32>ctz<u64>(bits), 28);
    bits &= bits - 1;
    out += 16;
  }
  out += 16;
  while (bits != 0) {
    store<u32>(out, firstBitIndex + <u32>ctz<u64>(bits));
    out += 4;
    bits &= bits - 1;
  }
  return written + count;
}
