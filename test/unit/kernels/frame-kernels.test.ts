// Frame kernels: XXH64 against the published vectors and against fixed 4 KiB vectors computed
// with an independent implementation (xxhsum 0.8.1, `xxhsum -H64 <file>`); the WASM module and
// the pure-TS fallback agree on random and adversarial frames (all-zero, all-ones, one byte
// different at every position class); batch calls equal single calls; both harvest variants
// give the same frames; bad arguments are refused naming the argument.
import { existsSync, readFileSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { FramePool, FRAME_SIZE } from '../../../src/memory/index.js';
import {
  KernelArgumentError,
  loadFrameKernels,
  tsFrameKernels,
  type FrameKernels,
} from '../../../src/kernels/index.js';
import { ensureReleaseWasm, RELEASE_WASM } from '../../helpers/wasm-build.js';
import { xorshift32 } from '../../helpers/random.js';

/** Whether the built module exists and has the frame kernels (an older build may not). */
function builtModuleHasFrameKernels(): boolean {
  if (!existsSync(RELEASE_WASM)) return false;
  const names = WebAssembly.Module.exports(new WebAssembly.Module(readFileSync(RELEASE_WASM))).map((e) => e.name);
  return names.includes('hashFrames') && names.includes('bitmapHarvestPlain');
}

beforeAll(() => ensureReleaseWasm(builtModuleHasFrameKernels));

const PRIME32 = 2654435761n;

/** The xxHash sanity-check input: byte i is the top byte of PRIME32 * PRIME64^i (mod 2^64). */
function sanityBuffer(length: number): Uint8Array {
  const bytes = new Uint8Array(length);
  let generator = PRIME32;
  for (let i = 0; i < length; i++) {
    bytes[i] = Number(generator >> 56n);
    generator = BigInt.asUintN(64, generator * 11400714785074694797n);
  }
  return bytes;
}

/** Published XXH64 sanity vectors (xxHash cli/xsum_sanity_check.c): [length, seed, hash]. */
const PUBLISHED_SANITY_VECTORS: [number, bigint, bigint][] = [
  [0, 0n, 0xef46db3751d8e999n],
  [0, PRIME32, 0xac75fda2929b17efn],
  [1, 0n, 0xe934a84adb052768n],
  [1, PRIME32, 0x5014607643a9b4c3n],
  [4, 0n, 0x9136a0dca57457een],
  [14, 0n, 0x8282dcc4994e35c8n],
  [14, PRIME32, 0xc3bd6bf63deb6df0n],
  [222, 0n, 0xb641ae8cb691c174n],
  [222, PRIME32, 0x20cb8ab7ae10c14an],
];

/** Published XXH64 values of short strings, seed 0. */
const PUBLISHED_STRING_VECTORS: [string, bigint][] = [
  ['a', 0xd24ec4f1a98c6e5bn],
  ['abc', 0x44bc2cf5ad770999n],
  ['ABC', 0xe66ae7354fcfee98n],
  ['xxhash', 0x32dd38952c4bc720n],
];

/** Sanity-buffer prefixes hashed with xxhsum 0.8.1 (seed 0): stripe and tail boundaries and frame sizes. */
const XXHSUM_SANITY_PREFIXES: [number, bigint][] = [
  [31, 0x299b39a290e6d783n],
  [32, 0x18b216492bb44b70n],
  [33, 0x55c8dc3e578f5b59n],
  [100, 0x4bfe019cd91d9ea4n],
  [4095, 0xf7cfaaa03be2abf0n],
  [4096, 0xab77f4af85f4e70bn],
  [4161, 0xcd3d6df2db509a75n],
];

/** Whole 4 KiB frames hashed with xxhsum 0.8.1 (seed 0). */
const XXHSUM_FRAMES: [string, () => Uint8Array, bigint][] = [
  ['all zeros', () => new Uint8Array(FRAME_SIZE), 0xac869b6f32d8bbdbn],
  ['all ones', () => new Uint8Array(FRAME_SIZE).fill(0xff), 0x10af2cb94282321fn],
  ['bytes i & 255', () => Uint8Array.from({ length: FRAME_SIZE }, (_, i) => i & 255), 0x0f6e64be186af6a4n],
  ['LCG bytes', lcgFrame, 0x3a92151c939fde12n],
  ['sanity buffer', () => sanityBuffer(FRAME_SIZE), 0xab77f4af85f4e70bn],
];

/** Frame whose byte i is the top byte of the i-th state of x = x * 1664525 + 1013904223 from 0x12345678. */
function lcgFrame(): Uint8Array {
  const bytes = new Uint8Array(FRAME_SIZE);
  let state = 0x12345678;
  for (let i = 0; i < FRAME_SIZE; i++) {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    bytes[i] = state >>> 24;
  }
  return bytes;
}


function randomFrame(next: () => number): Uint8Array {
  const frame = new Uint8Array(FRAME_SIZE);
  for (let i = 0; i < FRAME_SIZE; i += 4) new DataView(frame.buffer).setUint32(i, next(), true);
  return frame;
}

/** Index of the first differing element, -1 when equal (cheaper than toEqual on large arrays). */
function firstDifference(a: ArrayLike<number>, b: ArrayLike<number>): number {
  const length = Math.min(a.length, b.length);
  for (let i = 0; i < length; i++) if (a[i] !== b[i]) return i;
  return a.length === b.length ? -1 : length;
}

interface Fixture {
  pool: FramePool;
  wasm: FrameKernels;
  ts: FrameKernels;
  both: FrameKernels[];
  /** First byte address of `count` scratch frames. */
  frames: number;
  count: number;
  /** Frame number of the first scratch frame. */
  firstFrame: number;
  /** A frame-aligned work area for lists and outputs (8 frames). */
  work: number;
}

function fixture(count = 16): Fixture {
  const pool = new FramePool();
  const wasm = loadFrameKernels(pool);
  if (wasm === null) throw new Error('WASM frame kernels did not load on a shared pool');
  const ts = tsFrameKernels(pool);
  const firstFrame = pool.allocateContiguous(count);
  const work = pool.allocateContiguous(8) * FRAME_SIZE;
  return { pool, wasm, ts, both: [wasm, ts], frames: firstFrame * FRAME_SIZE, count, firstFrame, work };
}

function hashOf(kernels: FrameKernels, address: number, seedLow = 0, seedHigh = 0): bigint {
  const out = new Uint32Array(2);
  kernels.frameHashInto(address, out, 0, seedLow, seedHigh);
  return (BigInt(out[1]) << 32n) | BigInt(out[0]);
}

/** Byte positions of every class: first/last byte, each lane of a 16-byte vector, each 8-byte lane and each 32-byte stripe boundary. */
function positionClasses(): number[] {
  const positions = new Set<number>([0, 1, FRAME_SIZE - 1, FRAME_SIZE - 2]);
  for (let lane = 0; lane < 16; lane++) positions.add(2048 + lane).add(lane).add(FRAME_SIZE - 16 + lane);
  for (let lane = 0; lane < 4; lane++) positions.add(96 + lane * 8).add(96 + lane * 8 + 7);
  for (let stripe = 1; stripe < FRAME_SIZE / 32; stripe++) positions.add(stripe * 32 - 1).add(stripe * 32);
  for (let block = 1; block < FRAME_SIZE / 64; block++) positions.add(block * 64 - 1).add(block * 64);
  return [...positions].sort((a, b) => a - b);
}

describe('frame kernels: XXH64 vectors', () => {
  it('match the published sanity vectors (both implementations, seeds 0 and PRIME32)', () => {
    const f = fixture(2);
    f.pool.bytes.set(sanityBuffer(300), f.frames);
    for (const kernels of f.both) {
      for (const [length, seed, expected] of PUBLISHED_SANITY_VECTORS) {
        expect(kernels.hash64(f.frames, length, seed), `${kernels.kind} len ${length} seed ${seed}`).toBe(expected);
      }
    }
  });

  it('match the published values of short strings, at aligned and unaligned offsets', () => {
    const f = fixture(2);
    for (const kernels of f.both) {
      for (const [text, expected] of PUBLISHED_STRING_VECTORS) {
        for (const shift of [0, 1, 3]) {
          f.pool.bytes.set(new TextEncoder().encode(text), f.frames + shift);
          expect(kernels.hash64(f.frames + shift, text.length), `${kernels.kind} '${text}' at +${shift}`).toBe(expected);
        }
      }
    }
  });

  it('match xxhsum on sanity-buffer prefixes around stripe and frame sizes, at aligned and unaligned offsets', () => {
    const f = fixture(4);
    for (const shift of [0, 5]) {
      f.pool.bytes.set(sanityBuffer(4161), f.frames + shift);
      for (const kernels of f.both) {
        for (const [length, expected] of XXHSUM_SANITY_PREFIXES) {
          expect(kernels.hash64(f.frames + shift, length), `${kernels.kind} len ${length} at +${shift}`).toBe(expected);
        }
      }
    }
  });

  it('match xxhsum on whole 4 KiB frames through frameHashInto, hash64 and hashFrames', () => {
    const f = fixture(XXHSUM_FRAMES.length);
    const list = new Uint32Array(f.pool.memory.buffer, f.work, XXHSUM_FRAMES.length);
    XXHSUM_FRAMES.forEach(([, make], k) => {
      f.pool.bytes.set(make(), f.frames + k * FRAME_SIZE);
      list[k] = f.firstFrame + k;
    });
    for (const kernels of f.both) {
      kernels.hashFrames(f.work, XXHSUM_FRAMES.length, f.work + FRAME_SIZE);
      const batch = new BigUint64Array(f.pool.memory.buffer, f.work + FRAME_SIZE, XXHSUM_FRAMES.length);
      XXHSUM_FRAMES.forEach(([name, , expected], k) => {
        const address = f.frames + k * FRAME_SIZE;
        expect(hashOf(kernels, address), `${kernels.kind} frameHashInto ${name}`).toBe(expected);
        expect(kernels.hash64(address, FRAME_SIZE), `${kernels.kind} hash64 ${name}`).toBe(expected);
        expect(batch[k], `${kernels.kind} hashFrames ${name}`).toBe(expected);
      });
    }
  });

  it('seeded frame hashes agree between frameHashInto and the general hash64, and between implementations', () => {
    const f = fixture(1);
    const next = xorshift32(77);
    f.pool.bytes.set(randomFrame(next), f.frames);
    const seeds: [number, number][] = [[0, 0], [1, 0], [0, 1], [0xffffffff, 0xffffffff], [0x9e3779b1, 0], [0x85ebca87, 0x9e3779b1]];
    for (const [low, high] of seeds) {
      const seed = (BigInt(high) << 32n) | BigInt(low);
      const reference = f.ts.hash64(f.frames, FRAME_SIZE, seed);
      expect(f.wasm.hash64(f.frames, FRAME_SIZE, seed)).toBe(reference);
      for (const kernels of f.both) expect(hashOf(kernels, f.frames, low, high), `${kernels.kind} seed ${seed}`).toBe(reference);
    }
    expect(f.ts.hash64(f.frames, FRAME_SIZE, 1n)).not.toBe(f.ts.hash64(f.frames, FRAME_SIZE, 0n));
  });
});

describe('frame kernels: WASM and TS agree', () => {
  it('load as WASM on a shared pool and fall back to TS on a non-shared one', () => {
    expect(loadFrameKernels(new FramePool())?.kind).toBe('wasm');
    expect(loadFrameKernels(new FramePool({ shared: false }))).toBeNull();
    expect(new FramePool().frameKernels().kind).toBe('wasm');
    const unshared = new FramePool({ shared: false });
    expect(unshared.frameKernels().kind).toBe('ts');
    expect(unshared.frameKernels()).toBe(unshared.frameKernels());
  });

  it('on a single byte different at every position class, over zero, ones and random frames', () => {
    const f = fixture(3);
    const next = xorshift32(1234);
    const bases: [string, Uint8Array][] = [
      ['zeros', new Uint8Array(FRAME_SIZE)],
      ['ones', new Uint8Array(FRAME_SIZE).fill(0xff)],
      ['random', randomFrame(next)],
    ];
    const a = f.frames;
    const b = f.frames + FRAME_SIZE;
    const copy = f.frames + 2 * FRAME_SIZE;
    for (const [name, base] of bases) {
      f.pool.bytes.set(base, a);
      const baseHash = hashOf(f.ts, a);
      expect(hashOf(f.wasm, a), `${name} base hash`).toBe(baseHash);
      for (const position of positionClasses()) {
        const changed = base.slice();
        changed[position] ^= 1 << (position & 7);
        f.pool.bytes.set(changed, b);
        const label = `${name}, byte ${position}`;
        const tsHash = hashOf(f.ts, b);
        expect(hashOf(f.wasm, b), `${label}: hash`).toBe(tsHash);
        expect(tsHash, `${label}: hash changes`).not.toBe(baseHash);
        for (const kernels of f.both) {
          expect(kernels.compareFrames(a, b), `${kernels.kind} ${label}: compare`).toBe(position);
          expect(kernels.compareFrames(b, a), `${kernels.kind} ${label}: compare reversed`).toBe(position);
          expect(kernels.isZeroFrame(b), `${kernels.kind} ${label}: zero test`).toBe(false);
          f.pool.bytes.fill(0x5a, copy, copy + FRAME_SIZE);
          kernels.copyFrame(copy, b);
          expect(firstDifference(f.pool.bytes.subarray(copy, copy + FRAME_SIZE), changed), `${kernels.kind} ${label}: copy`).toBe(-1);
        }
      }
    }
  });

  it('on all-zero, all-ones and random frames: hash, zero test, compare with itself and a copy', () => {
    const f = fixture(2);
    const next = xorshift32(99);
    const frames: [string, Uint8Array][] = [['zeros', new Uint8Array(FRAME_SIZE)], ['ones', new Uint8Array(FRAME_SIZE).fill(0xff)]];
    for (let k = 0; k < 24; k++) frames.push([`random ${k}`, randomFrame(next)]);
    const [a, b] = [f.frames, f.frames + FRAME_SIZE];
    for (const [name, bytes] of frames) {
      f.pool.bytes.set(bytes, a);
      f.pool.bytes.set(bytes, b);
      expect(hashOf(f.wasm, a), `${name}: hash`).toBe(hashOf(f.ts, a));
      expect(hashOf(f.wasm, b), `${name}: hash of the copy`).toBe(hashOf(f.ts, a));
      for (const kernels of f.both) {
        expect(kernels.isZeroFrame(a), `${kernels.kind} ${name}: zero test`).toBe(name === 'zeros');
        expect(kernels.compareFrames(a, b), `${kernels.kind} ${name}: equal`).toBe(-1);
        expect(kernels.compareFrames(a, a), `${kernels.kind} ${name}: equal to itself`).toBe(-1);
      }
    }
  });

  it('hash64 of random lengths and offsets agrees between implementations', () => {
    const f = fixture(4);
    const next = xorshift32(4242);
    for (let k = 0; k < 4; k++) f.pool.bytes.set(randomFrame(next), f.frames + k * FRAME_SIZE);
    for (let round = 0; round < 200; round++) {
      const offset = f.frames + (next() % 4096);
      const length = round < 64 ? round : next() % (3 * FRAME_SIZE);
      const seed = (BigInt(next()) << 32n) | BigInt(next());
      expect(f.wasm.hash64(offset, length, seed), `offset ${offset - f.frames} length ${length}`).toBe(f.ts.hash64(offset, length, seed));
    }
  });
});

describe('frame kernels: batches equal single calls', () => {
  /** Fills the fixture's frames: every 3rd zero, some duplicates, the rest random. Returns their bytes. */
  function fillFrames(f: Fixture, next: () => number): Uint8Array[] {
    const contents: Uint8Array[] = [];
    for (let k = 0; k < f.count; k++) {
      let bytes: Uint8Array;
      if (k % 3 === 0) bytes = new Uint8Array(FRAME_SIZE);
      else if (k % 5 === 4) bytes = contents[k - 1].slice();
      else bytes = randomFrame(next);
      if (k % 7 === 6) bytes[next() % FRAME_SIZE] ^= 0x80;
      contents.push(bytes);
      f.pool.bytes.set(bytes, f.frames + k * FRAME_SIZE);
    }
    return contents;
  }

  function randomFrameList(f: Fixture, next: () => number, length: number): number[] {
    return Array.from({ length }, () => f.firstFrame + (next() % f.count));
  }

  it('hashFrames and zeroFrames over lists of several lengths (0, 1, 31, 32, 33, 70) with repeats', () => {
    const f = fixture(40);
    const next = xorshift32(5);
    fillFrames(f, next);
    const listOffset = f.work;
    const outOffset = f.work + FRAME_SIZE;
    for (const length of [0, 1, 31, 32, 33, 70]) {
      const list = randomFrameList(f, next, length);
      new Uint32Array(f.pool.memory.buffer, listOffset, length).set(list);
      for (const kernels of f.both) {
        for (const [low, high] of [[0, 0], [0xdeadbeef, 0x01234567]]) {
          kernels.hashFrames(listOffset, length, outOffset, low, high);
          const hashes = Array.from(new BigUint64Array(f.pool.memory.buffer, outOffset, length));
          const singles = list.map((frame) => hashOf(kernels, frame * FRAME_SIZE, low, high));
          expect(hashes, `${kernels.kind} hashFrames, ${length} frames, seed ${high}:${low}`).toEqual(singles);
        }
        new Uint32Array(f.pool.memory.buffer, outOffset, 4).fill(0xffffffff);
        const zeros = kernels.zeroFrames(listOffset, length, outOffset);
        const bitmap = new Uint32Array(f.pool.memory.buffer, outOffset, 4);
        const expectedZero = list.map((frame) => kernels.isZeroFrame(frame * FRAME_SIZE));
        expect(zeros, `${kernels.kind} zero count`).toBe(expectedZero.filter((z) => z).length);
        expectedZero.forEach((zero, i) => expect(((bitmap[i >>> 5] >>> (i & 31)) & 1) === 1, `${kernels.kind} bit ${i}`).toBe(zero));
        if ((length & 31) !== 0) expect(bitmap[length >>> 5] >>> (length & 31), `${kernels.kind} bits past count cleared`).toBe(0);
      }
      const wasmHashes = (f.wasm.hashFrames(listOffset, length, outOffset), Array.from(new BigUint64Array(f.pool.memory.buffer, outOffset, length)));
      const tsHashes = (f.ts.hashFrames(listOffset, length, outOffset), Array.from(new BigUint64Array(f.pool.memory.buffer, outOffset, length)));
      expect(wasmHashes).toEqual(tsHashes);
    }
  });

  it('compareFramePairs and copyFramePairs equal compareFrames and copyFrame', () => {
    const f = fixture(40);
    const next = xorshift32(6);
    const pairsOffset = f.work;
    const outOffset = f.work + FRAME_SIZE;
    for (const kernels of f.both) {
      fillFrames(f, next);
      const pairs: [number, number][] = Array.from({ length: 45 }, (_, k) => {
        const a = f.firstFrame + (next() % f.count);
        return [a, k % 4 === 0 ? a : f.firstFrame + (next() % f.count)];
      });
      new Uint32Array(f.pool.memory.buffer, pairsOffset, pairs.length * 2).set(pairs.flat());
      const equal = kernels.compareFramePairs(pairsOffset, pairs.length, outOffset);
      const results = Array.from(new Int32Array(f.pool.memory.buffer, outOffset, pairs.length));
      const singles = pairs.map(([a, b]) => kernels.compareFrames(a * FRAME_SIZE, b * FRAME_SIZE));
      expect(results, `${kernels.kind} compare results`).toEqual(singles);
      expect(equal, `${kernels.kind} equal pairs`).toBe(singles.filter((r) => r === -1).length);
      expect(equal).toBeGreaterThan(0);
      expect(equal).toBeLessThan(pairs.length);

      // Copy pairs with distinct destinations (the last 10 frames) from the first 30; compare with single copies on a second pool state.
      const copies: [number, number][] = Array.from({ length: 10 }, (_, k) => [f.firstFrame + 30 + k, f.firstFrame + (next() % 30)]);
      const expected = copies.map(([, source]) => f.pool.bytes.slice(source * FRAME_SIZE, (source + 1) * FRAME_SIZE));
      new Uint32Array(f.pool.memory.buffer, pairsOffset, copies.length * 2).set(copies.flat());
      kernels.copyFramePairs(pairsOffset, copies.length);
      copies.forEach(([destination], k) => {
        const copied = f.pool.bytes.subarray(destination * FRAME_SIZE, (destination + 1) * FRAME_SIZE);
        expect(firstDifference(copied, expected[k]), `${kernels.kind} copy pair ${k}`).toBe(-1);
      });
    }
  });
});

describe('frame kernels: harvest variants', () => {
  it('atomic and plain harvest give the same frames and clear the same bits (WASM and TS, varied density, lengths, offsets)', () => {
    const f = fixture(2);
    const bitmapOffset = f.frames;
    const BYTES = 2 * FRAME_SIZE;
    const outOffset = f.pool.allocateContiguous((BYTES * 32) / FRAME_SIZE) * FRAME_SIZE;
    const next = xorshift32(31337);
    for (let round = 0; round < 48; round++) {
      const bits = new Uint8Array(BYTES);
      const density = [0, 1, 16, 128, 250, 256][round % 6];
      for (let i = 0; i < bits.length; i++) {
        let byte = 0;
        for (let bit = 0; bit < 8; bit++) if ((next() & 255) < density) byte |= 1 << bit;
        bits[i] = byte;
      }
      const offset = (next() % 64) * 4;
      const length = round < 6 ? BYTES - offset : (next() % ((BYTES - offset) / 4)) * 4;
      const results: { indices: number[]; after: Uint8Array; label: string }[] = [];
      for (const kernels of f.both) {
        for (const variant of ['bitmapHarvest', 'bitmapHarvestPlain'] as const) {
          f.pool.bytes.set(bits, bitmapOffset);
          const count = kernels[variant](bitmapOffset + offset, length, outOffset);
          results.push({
            indices: Array.from(new Uint32Array(f.pool.memory.buffer, outOffset, count)),
            after: f.pool.bytes.slice(bitmapOffset, bitmapOffset + BYTES),
            label: `${kernels.kind} ${variant}`,
          });
        }
      }
      const reference: number[] = [];
      for (let byte = 0; byte < length; byte++) {
        for (let bit = 0; bit < 8; bit++) if (bits[offset + byte] & (1 << bit)) reference.push(byte * 8 + bit);
      }
      const expectedAfter = bits.slice();
      expectedAfter.fill(0, offset, offset + length);
      for (const result of results) {
        expect(result.indices.length, `${result.label} round ${round} count`).toBe(reference.length);
        expect(firstDifference(result.indices, reference), `${result.label} round ${round} indices`).toBe(-1);
        expect(firstDifference(result.after, expectedAfter), `${result.label} round ${round} cleared exactly its range`).toBe(-1);
      }
    }
  });
});

describe('frame kernels: harvest output room', () => {
  it('plain harvest never writes past the room it is given (one u32 per bitmap bit), whatever the density', () => {
    const f = fixture(1);
    const next = xorshift32(8);
    const out = f.work;
    for (const byteLength of [4, 12, 16, 20, 64, 100]) {
      const room = byteLength * 32;
      for (const density of [1, 128, 255, 256]) {
        const bits = Uint8Array.from({ length: byteLength }, () => {
          let byte = 0;
          for (let bit = 0; bit < 8; bit++) if ((next() & 255) < density) byte |= 1 << bit;
          return byte;
        });
        for (const kernels of f.both) {
          f.pool.bytes.set(bits, f.frames);
          f.pool.bytes.fill(0xa5, out + room, out + room + 64);
          kernels.bitmapHarvestPlain(f.frames, byteLength, out);
          const canary = f.pool.bytes.subarray(out + room, out + room + 64);
          expect(canary.every((b) => b === 0xa5), `${kernels.kind} ${byteLength} bytes, density ${density}: canary after the room`).toBe(true);
        }
      }
    }
  });
});

describe('frame kernels: arguments', () => {
  it('refuse misaligned and out-of-range frame addresses, naming the argument', () => {
    const f = fixture(2);
    const out = new Uint32Array(2);
    const end = f.pool.bytes.length;
    for (const kernels of f.both) {
      expect(() => kernels.isZeroFrame(f.frames + 8)).toThrow(KernelArgumentError);
      expect(() => kernels.isZeroFrame(f.frames + 8)).toThrow(/'frameAddress' must be a non-negative multiple of 4096/);
      expect(() => kernels.frameHashInto(end, out, 0)).toThrow(/'frameAddress' frame .* exceeds memory size/);
      expect(() => kernels.frameHashInto(f.frames, out, 1)).toThrow(/'outIndex'/);
      expect(() => kernels.frameHashInto(f.frames, out, 0, -1)).toThrow(/'seedLow'/);
      expect(() => kernels.compareFrames(f.frames, 100)).toThrow(/'frameAddressB'/);
      expect(() => kernels.copyFrame(0, f.frames)).toThrow(/'destinationAddress' .*reserved frames/);
      expect(() => kernels.copyFrame(f.frames, end - 4096 + 4096)).toThrow(/'sourceAddress'/);
      expect(() => kernels.hash64(end - 4, 8)).toThrow(/'byteOffset' region/);
    }
  });

  it('refuse bad lists: overlapping output, a frame outside the memory (naming the entry), a reserved copy destination', () => {
    const f = fixture(2);
    const list = new Uint32Array(f.pool.memory.buffer, f.work, 8);
    const memoryFrames = f.pool.bytes.length / FRAME_SIZE;
    for (const kernels of f.both) {
      list.set([f.firstFrame, f.firstFrame + 1, f.firstFrame, memoryFrames + 5]);
      expect(() => kernels.hashFrames(f.work, 4, f.work + 8)).toThrow(/'outOffset' output region .* overlaps the list/);
      expect(() => kernels.hashFrames(f.work, 4, f.work + FRAME_SIZE)).toThrow(/'listOffset\[3\]' \(\d+\) names a frame outside the memory/);
      expect(() => kernels.zeroFrames(f.work, 4, f.work + FRAME_SIZE)).toThrow(/'listOffset\[3\]'/);
      expect(() => kernels.compareFramePairs(f.work, 2, f.work + FRAME_SIZE)).toThrow(/'pairsOffset\[1\]' \(\d+, \d+\) names a frame outside/);
      expect(() => kernels.hashFrames(f.work, -1, f.work + FRAME_SIZE)).toThrow(/'count'/);
      list.set([f.firstFrame, f.firstFrame + 1, 3, f.firstFrame]);
      expect(() => kernels.copyFramePairs(f.work, 2)).toThrow(/'pairsOffset\[1\]' \(3, \d+\) destination frame 3 is a reserved frame/);
    }
  });

  it('TS kernels follow the pool when it grows', () => {
    const pool = new FramePool({ initialFrames: 32 });
    const ts = tsFrameKernels(pool);
    const wasm = pool.frameKernels();
    const before = pool.bytes.length;
    const frame = pool.allocateContiguous(300);
    expect(pool.bytes.length).toBeGreaterThan(before);
    const address = (frame + 299) * FRAME_SIZE;
    expect(address + FRAME_SIZE).toBeGreaterThan(before);
    pool.bytes.fill(0xff, address, address + FRAME_SIZE);
    expect(ts.isZeroFrame(address)).toBe(false);
    expect(hashOf(ts, address)).toBe(0x10af2cb94282321fn);
    expect(hashOf(wasm, address)).toBe(0x10af2cb94282321fn);
  });
});
