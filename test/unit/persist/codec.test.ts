// Tests for the plain-data codec: round trips of every type and of random trees, edge values,
// and every refusal on encode (with the path) and on decode (with the offset).
import { describe, expect, it } from 'vitest';
import { CODEC_MAX_DEPTH, CodecError, CodecTag, decode, encode } from '../../../src/persist/codec.js';

/** Small deterministic PRNG (xorshift32) so failures reproduce. */
function rng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13; s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5; s >>>= 0;
    return s / 0x100000000;
  };
}

function roundTrip(value: unknown): unknown {
  return decode(encode(value));
}

function codecError(f: () => unknown): CodecError {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(CodecError);
    return e as CodecError;
  }
  throw new Error('expected a CodecError, nothing was thrown');
}

/** A random plain tree of bounded depth. */
function randomTree(next: () => number, depth: number): unknown {
  const pick = Math.floor(next() * (depth > 4 ? 9 : 12));
  switch (pick) {
    case 0: return null;
    case 1: return next() < 0.5;
    case 2: return Math.floor((next() - 0.5) * 2 ** Math.floor(next() * 54));
    case 3: return (next() - 0.5) * 1e10;
    case 4: return String.fromCharCode(...Array.from({ length: Math.floor(next() * 12) }, () => 32 + Math.floor(next() * 0x3000)));
    case 5: return Uint8Array.from({ length: Math.floor(next() * 40) }, () => Math.floor(next() * 256));
    case 6: return Int32Array.from({ length: Math.floor(next() * 10) }, () => Math.floor((next() - 0.5) * 2 ** 32));
    case 7: return BigInt(Math.floor(next() * 2 ** 40)) * (next() < 0.5 ? -1n : 1n) * 2n ** BigInt(Math.floor(next() * 80));
    case 8: return Float64Array.from({ length: Math.floor(next() * 6) }, () => next() * 1e300);
    case 9:
    case 10: return Array.from({ length: Math.floor(next() * 6) }, () => randomTree(next, depth + 1));
    default: {
      const out: Record<string, unknown> = {};
      const n = Math.floor(next() * 6);
      for (let i = 0; i < n; i++) out[`k${Math.floor(next() * 1000)}`] = randomTree(next, depth + 1);
      return out;
    }
  }
}

describe('codec round trips', () => {
  it('carries each scalar exactly, including edge numbers', () => {
    const numbers = [0, 1, -1, 127, 128, -128, 0xffffffff, 2 ** 32, -(2 ** 31), Number.MAX_SAFE_INTEGER, -Number.MAX_SAFE_INTEGER,
      2 ** 53, -(2 ** 53), 2 ** 60, 0.5, -0.1, Math.PI, Number.MIN_VALUE, Number.MAX_VALUE, -Number.MAX_VALUE, Infinity, -Infinity];
    for (const n of numbers) expect(roundTrip(n)).toBe(n);
    expect(Object.is(roundTrip(-0), -0)).toBe(true);
    expect(Object.is(roundTrip(0), 0)).toBe(true);
    expect(Number.isNaN(roundTrip(NaN))).toBe(true);
    for (const v of [null, true, false, '', 'a', 'héllo wörld', '日本語', '😀 emoji', 'x'.repeat(100_000)]) expect(roundTrip(v)).toBe(v);
    for (const b of [0n, 1n, -1n, 255n, 256n, -(2n ** 64n), 2n ** 200n + 12345n]) expect(roundTrip(b)).toBe(b);
  });

  it('uses the short integer form for safe integers and float64 otherwise', () => {
    expect(Array.from(encode(5))).toEqual([CodecTag.PositiveInt, 5]);
    expect(Array.from(encode(-300))).toEqual([CodecTag.NegativeInt, 0xac, 0x02]);
    expect(encode(-0)[0]).toBe(CodecTag.Float64);
    expect(encode(2 ** 53)[0]).toBe(CodecTag.Float64);
    expect(encode(1.5).length).toBe(9);
  });

  it('carries every typed array kind with its values, in a fresh buffer', () => {
    const arrays = [
      Uint8Array.from([0, 1, 255]), Int8Array.from([-128, 0, 127]), Uint16Array.from([0, 0xffff, 0x1234]),
      Int16Array.from([-32768, 32767]), Uint32Array.from([0, 0xffffffff, 0xdeadbeef]), Int32Array.from([-(2 ** 31), 2 ** 31 - 1]),
      Float32Array.from([1.5, -0, Infinity]), Float64Array.from([Math.E, -0, NaN, -Infinity]), new Uint8Array(0),
    ];
    for (const a of arrays) {
      const back = roundTrip(a) as typeof a;
      expect(back.constructor).toBe(a.constructor);
      expect(Array.from(back as ArrayLike<number>).map((x) => Object.is(x, -0) ? '-0' : x)).toEqual(Array.from(a as ArrayLike<number>).map((x) => Object.is(x, -0) ? '-0' : x));
    }
    const source = new Uint8Array(64).fill(7);
    const view = new Uint32Array(source.buffer, 8, 3);
    const bytes = encode(view);
    const back = decode(bytes) as Uint32Array;
    expect(Array.from(back)).toEqual([0x07070707, 0x07070707, 0x07070707]);
    expect(back.buffer.byteLength).toBe(12);
    bytes.fill(0);
    expect(back[0]).toBe(0x07070707);
  });

  it('carries nested arrays and objects, keeping key order', () => {
    const value = { version: 2, components: { uart0: { version: 1, fifo: [1, 2, 3], ier: 5 }, cpu0: { regs: Uint32Array.from([1, 2]), big: -5n } }, list: [[], {}, [null]] };
    const back = roundTrip(value) as typeof value;
    expect(back).toEqual(value);
    expect(Object.keys(back.components)).toEqual(['uart0', 'cpu0']);
    expect(Object.getPrototypeOf(back)).toBe(Object.prototype);
  });

  it('carries objects with a null prototype and keys that are Object.prototype names', () => {
    const value = Object.assign(Object.create(null) as Record<string, unknown>, { constructor: 1, toString: 'x', hasOwnProperty: [] });
    const back = roundTrip(value) as Record<string, unknown>;
    expect(back.constructor).toBe(1);
    expect(back.toString).toBe('x');
    expect(back.hasOwnProperty).toEqual([]);
  });

  it('round-trips 300 random trees', () => {
    const next = rng(0x5eed);
    for (let i = 0; i < 300; i++) {
      const tree = randomTree(next, 0);
      expect(roundTrip(tree)).toEqual(tree);
    }
  });

  it('accepts nesting exactly at the bound', () => {
    let deep: unknown = 1;
    for (let i = 0; i < CODEC_MAX_DEPTH; i++) deep = [deep];
    expect(roundTrip(deep)).toEqual(deep);
  });
});

describe('codec refuses on encode, naming the path', () => {
  it.each([
    ['undefined', { a: { b: undefined } }, '$.a.b'],
    ['function', [1, () => 1], '$[1]'],
    ['symbol', { s: Symbol('x') }, '$.s'],
    ['Map', { m: new Map() }, '$.m'],
    ['Date', [new Date(0)], '$[0]'],
    ['class instance', { c: new (class Foo { x = 1; })() }, '$.c'],
    ['DataView', { v: new DataView(new ArrayBuffer(4)) }, '$.v'],
    ['Uint8ClampedArray', { v: new Uint8ClampedArray(2) }, '$.v'],
    ['BigInt64Array', { v: new BigInt64Array(2) }, '$.v'],
    ['lone surrogate in a value', { s: 'a\uD800b' }, '$.s'],
  ])('%s', (_name, value, path) => {
    const error = codecError(() => encode(value));
    expect(error.path).toBe(path);
    expect(error.message).toContain(path);
  });

  it('a sparse array', () => {
    const holes = [1, , 3]; // eslint-disable-line no-sparse-arrays
    expect(codecError(() => encode({ h: holes })).path).toBe('$.h[1]');
  });

  it('a cycle', () => {
    const a: Record<string, unknown> = { x: 1 };
    a.self = { back: a };
    expect(codecError(() => encode(a)).message).toContain('cycle');
  });

  it('nesting past the bound', () => {
    let deep: unknown = 1;
    for (let i = 0; i < CODEC_MAX_DEPTH + 1; i++) deep = [deep];
    expect(codecError(() => encode(deep)).message).toContain(`deeper than ${CODEC_MAX_DEPTH}`);
  });

  it('a __proto__ own key, a lone surrogate in a key, an accessor, a symbol key, a non-enumerable property', () => {
    const proto = JSON.parse('{"__proto__": 1}') as object;
    expect(codecError(() => encode({ p: proto })).path).toBe('$.p.__proto__');
    expect(codecError(() => encode({ ['k\uDC00']: 1 })).message).toContain('surrogate');
    const accessor = Object.defineProperty({}, 'g', { get: () => 1, enumerable: true });
    expect(codecError(() => encode(accessor)).path).toBe('$.g');
    expect(codecError(() => encode({ [Symbol('s')]: 1 })).message).toContain('symbol keys');
    expect(codecError(() => encode(Object.defineProperty({}, 'hidden', { value: 1 }))).message).toContain('non-enumerable');
  });
});

describe('codec refuses on decode, naming the offset', () => {
  const sample = encode({ version: 1, name: 'uart0', fifo: Uint8Array.from([1, 2, 3]), n: -5, f: 0.25, big: 7n, list: [true, null] });

  it('every truncation of a valid encoding', () => {
    for (let cut = 0; cut < sample.length; cut++) {
      const error = codecError(() => decode(sample.subarray(0, cut)));
      expect(error.offset).toBeGreaterThanOrEqual(0);
      expect(error.offset).toBeLessThanOrEqual(cut);
    }
  });

  it('trailing bytes', () => {
    const longer = new Uint8Array(sample.length + 2);
    longer.set(sample);
    const error = codecError(() => decode(longer));
    expect(error.offset).toBe(sample.length);
    expect(error.message).toContain('2 trailing bytes');
  });

  it('an unknown tag, including the invalid tag 0', () => {
    expect(codecError(() => decode(Uint8Array.from([0x00]))).message).toContain('unknown tag 0x00');
    const error = codecError(() => decode(Uint8Array.from([CodecTag.Array, 2, CodecTag.Null, 0x7f])));
    expect(error.offset).toBe(3);
    expect(error.message).toContain('unknown tag 0x7f');
  });

  it('lengths past the end (array, object, string, typed array, bigint)', () => {
    expect(codecError(() => decode(Uint8Array.from([CodecTag.Array, 0xff, 0xff, 0x03]))).offset).toBe(1);
    expect(codecError(() => decode(Uint8Array.from([CodecTag.Object, 5, 1, 0x61]))).offset).toBe(1);
    expect(codecError(() => decode(Uint8Array.from([CodecTag.String, 9, 0x61]))).message).toContain('past the end');
    expect(codecError(() => decode(Uint8Array.from([CodecTag.TypedArray, 1, 4, 1, 2]))).offset).toBe(2);
    expect(codecError(() => decode(Uint8Array.from([CodecTag.BigInt, 0, 3, 1]))).offset).toBe(2);
  });

  it('bad varints: not minimal, too long, beyond 2^53', () => {
    expect(codecError(() => decode(Uint8Array.from([CodecTag.PositiveInt, 0x81, 0x00]))).message).toContain('not minimal');
    expect(codecError(() => decode(Uint8Array.from([CodecTag.PositiveInt, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01]))).message).toContain('longer than 8');
    expect(codecError(() => decode(Uint8Array.from([CodecTag.PositiveInt, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f]))).message).toContain('beyond 2^53');
    expect(codecError(() => decode(Uint8Array.from([CodecTag.NegativeInt, 0]))).message).toContain('magnitude 0');
  });

  it('nesting deeper than the bound, at the offset of the first container too deep', () => {
    const deep = new Uint8Array(2 * (CODEC_MAX_DEPTH + 1) + 1);
    for (let i = 0; i <= CODEC_MAX_DEPTH; i++) {
      deep[2 * i] = CodecTag.Array;
      deep[2 * i + 1] = 1;
    }
    deep[deep.length - 1] = CodecTag.Null;
    const error = codecError(() => decode(deep));
    expect(error.offset).toBe(2 * CODEC_MAX_DEPTH);
    expect(error.message).toContain('deeper');
  });

  it('__proto__ and duplicate keys', () => {
    const proto = Uint8Array.from([CodecTag.Object, 1, 9, ...new TextEncoder().encode('__proto__'), CodecTag.Null]);
    const e1 = codecError(() => decode(proto));
    expect(e1.offset).toBe(2);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    const dup = Uint8Array.from([CodecTag.Object, 2, 1, 0x61, CodecTag.Null, 1, 0x61, CodecTag.True]);
    const e2 = codecError(() => decode(dup));
    expect(e2.offset).toBe(5);
    expect(e2.message).toContain("duplicate key 'a'");
  });

  it('invalid UTF-8, bad typed array kind or length, bad bigint encodings', () => {
    expect(codecError(() => decode(Uint8Array.from([CodecTag.String, 2, 0xc3, 0x28]))).message).toContain('UTF-8');
    expect(codecError(() => decode(Uint8Array.from([CodecTag.TypedArray, 99, 0]))).message).toContain('kind 99');
    expect(codecError(() => decode(Uint8Array.from([CodecTag.TypedArray, 5, 3, 1, 2, 3]))).message).toContain('multiple of 4');
    expect(codecError(() => decode(Uint8Array.from([CodecTag.BigInt, 2, 0]))).message).toContain('sign byte');
    expect(codecError(() => decode(Uint8Array.from([CodecTag.BigInt, 0, 2, 1, 0]))).message).toContain('not minimal');
    expect(codecError(() => decode(Uint8Array.from([CodecTag.BigInt, 1, 0]))).message).toContain('negative bigint zero');
  });

  it('random byte flips of a valid encoding either decode or throw a CodecError, never anything else', () => {
    const next = rng(99);
    for (let i = 0; i < 2000; i++) {
      const bytes = sample.slice();
      bytes[Math.floor(next() * bytes.length)] ^= 1 + Math.floor(next() * 255);
      try {
        decode(bytes);
      } catch (e) {
        expect(e).toBeInstanceOf(CodecError);
      }
    }
  });
});
