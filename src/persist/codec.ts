/**
 * Codec: a compact, strict binary form of Persist's plain data (DESIGN.md, "State"), used by
 * snapshot files and migration streams to carry saved state and machine configs.
 *
 * Values the codec carries, each as a one-byte tag and its payload (layout in
 * src/checkpoint/snapshot-format.md, "Value codec"):
 * - null, false, true;
 * - numbers exactly: safe integers as a sign tag plus a LEB128 magnitude, every other number
 *   (fractions, -0, NaN, ±Infinity, integers beyond 2^53) as an IEEE-754 double. NaN comes back
 *   as NaN; its payload bits are not promised (JavaScript does not keep them either);
 * - bigint (sign and little-endian magnitude);
 * - strings as UTF-8 (well-formed only: a lone surrogate is refused on encode, invalid UTF-8 on
 *   decode);
 * - arrays (dense), plain objects (prototype Object.prototype or null, string keys);
 * - Uint8Array, Int8Array, Uint16Array, Int16Array, Uint32Array, Int32Array, Float32Array,
 *   Float64Array, elements little-endian. A decoded typed array owns a fresh buffer.
 *
 * Encode refuses anything else (undefined, functions, symbols, class instances, Maps, sparse
 * arrays, cycles, nesting deeper than MAX_DEPTH) with a CodecError naming the path (`$.a[3]`).
 * Decode refuses a truncated input, an unknown tag, trailing bytes, a length past the end, a
 * non-minimal varint, an integer beyond 2^53, a duplicate or `__proto__` key, or nesting deeper
 * than MAX_DEPTH with a CodecError naming the byte offset. Decoded objects are ordinary objects
 * built by defining own properties, so no input can reach a prototype.
 */

/** Deepest nesting of arrays and objects either direction accepts (the root container is depth 1). */
export const CODEC_MAX_DEPTH = 64;

/** Type tags: the first byte of every encoded value. 0 is never valid. */
export enum CodecTag {
  Invalid = 0x00,
  Null = 0x01,
  False = 0x02,
  True = 0x03,
  PositiveInt = 0x04,
  NegativeInt = 0x05,
  Float64 = 0x06,
  String = 0x07,
  Array = 0x08,
  Object = 0x09,
  TypedArray = 0x0a,
  BigInt = 0x0b,
}

/** Thrown when a value cannot be encoded (`path` set) or bytes cannot be decoded (`offset` set). */
export class CodecError extends Error {
  /** Byte offset in the decoded input where the problem is, or -1 for an encode error. */
  readonly offset: number;
  /** Path of the refused value inside the encoded value (`$`, `$.regs[3]`), or '' for a decode error. */
  readonly path: string;
  /** The problem without the location. */
  readonly problem: string;

  constructor(problem: string, location: { offset: number } | { path: string }) {
    const where = 'offset' in location ? `at offset ${location.offset}` : `at ${location.path}`;
    super(`codec: ${where}: ${problem}`);
    this.name = 'CodecError';
    this.problem = problem;
    this.offset = 'offset' in location ? location.offset : -1;
    this.path = 'path' in location ? location.path : '';
  }
}

/** The typed-array kinds: kind byte → constructor and element size. */
const TYPED_KINDS = [
  { kind: 1, ctor: Uint8Array, size: 1 },
  { kind: 2, ctor: Int8Array, size: 1 },
  { kind: 3, ctor: Uint16Array, size: 2 },
  { kind: 4, ctor: Int16Array, size: 2 },
  { kind: 5, ctor: Uint32Array, size: 4 },
  { kind: 6, ctor: Int32Array, size: 4 },
  { kind: 7, ctor: Float32Array, size: 4 },
  { kind: 8, ctor: Float64Array, size: 8 },
] as const;

type TypedKind = (typeof TYPED_KINDS)[number];
type CodecTypedArray = InstanceType<TypedKind['ctor']>;

const HOST_LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
const utf8Encoder = new TextEncoder();
const utf8Decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

// ---------------------------------------------------------------------------------------------
// Encoding.

/** A growable byte buffer the encoder appends to. */
class ByteWriter {
  private bytes = new Uint8Array(256);
  private view = new DataView(this.bytes.buffer);
  length = 0;

  private reserve(extra: number): void {
    if (this.length + extra <= this.bytes.length) return;
    let size = this.bytes.length * 2;
    while (size < this.length + extra) size *= 2;
    const grown = new Uint8Array(size);
    grown.set(this.bytes.subarray(0, this.length));
    this.bytes = grown;
    this.view = new DataView(grown.buffer);
  }

  byte(value: number): void {
    this.reserve(1);
    this.bytes[this.length++] = value;
  }

  /** Unsigned LEB128 of a safe non-negative integer. */
  varint(value: number): void {
    this.reserve(8);
    while (value >= 0x80) {
      this.bytes[this.length++] = (value % 0x80) | 0x80;
      value = Math.floor(value / 0x80);
    }
    this.bytes[this.length++] = value;
  }

  float64(value: number): void {
    this.reserve(8);
    this.view.setFloat64(this.length, value, true);
    this.length += 8;
  }

  raw(data: Uint8Array): void {
    this.reserve(data.length);
    this.bytes.set(data, this.length);
    this.length += data.length;
  }

  /** Little-endian elements of a typed array. */
  elements(array: CodecTypedArray, size: number): void {
    const byteLength = array.length * size;
    this.reserve(byteLength);
    const source = new Uint8Array(array.buffer, array.byteOffset, byteLength);
    if (HOST_LITTLE_ENDIAN || size === 1) {
      this.bytes.set(source, this.length);
    } else {
      for (let i = 0; i < array.length; i++) writeElement(this.view, this.length + i * size, array, i);
    }
    this.length += byteLength;
  }

  result(): Uint8Array {
    return this.bytes.slice(0, this.length);
  }
}

/** Writes element `i` of `array` little-endian at `at` (big-endian hosts only). */
function writeElement(view: DataView, at: number, array: CodecTypedArray, i: number): void {
  const v = array[i];
  if (array instanceof Uint16Array) view.setUint16(at, v, true);
  else if (array instanceof Int16Array) view.setInt16(at, v, true);
  else if (array instanceof Uint32Array) view.setUint32(at, v, true);
  else if (array instanceof Int32Array) view.setInt32(at, v, true);
  else if (array instanceof Float32Array) view.setFloat32(at, v, true);
  else view.setFloat64(at, v, true);
}

/** The typed-array kind of `value`, or undefined when it is not one the codec carries. */
function typedKindOf(value: object): TypedKind | undefined {
  const proto = Object.getPrototypeOf(value);
  return TYPED_KINDS.find((k) => k.ctor.prototype === proto);
}

/** Encodes plain data; throws CodecError naming the path of the first value it cannot carry. */
export function encode(value: unknown): Uint8Array {
  const writer = new ByteWriter();
  encodeValue(writer, value, '$', []);
  return writer.result();
}

function encodeValue(w: ByteWriter, value: unknown, path: string, ancestors: object[]): void {
  switch (typeof value) {
    case 'boolean':
      w.byte(value ? CodecTag.True : CodecTag.False);
      return;
    case 'number':
      encodeNumber(w, value);
      return;
    case 'string':
      encodeString(w, value, path, true);
      return;
    case 'bigint':
      encodeBigInt(w, value);
      return;
    case 'object':
      if (value === null) {
        w.byte(CodecTag.Null);
        return;
      }
      encodeObjectValue(w, value, path, ancestors);
      return;
    default:
      throw new CodecError(`not plain data (${typeof value})`, { path });
  }
}

function encodeNumber(w: ByteWriter, value: number): void {
  if (Number.isSafeInteger(value) && !Object.is(value, -0)) {
    w.byte(value < 0 ? CodecTag.NegativeInt : CodecTag.PositiveInt);
    w.varint(Math.abs(value));
  } else {
    w.byte(CodecTag.Float64);
    w.float64(value);
  }
}

function encodeString(w: ByteWriter, value: string, path: string, tagged: boolean): void {
  if (LONE_SURROGATE.test(value)) throw new CodecError('string holds a lone UTF-16 surrogate (not valid Unicode)', { path });
  const bytes = utf8Encoder.encode(value);
  if (tagged) w.byte(CodecTag.String);
  w.varint(bytes.length);
  w.raw(bytes);
}

function encodeBigInt(w: ByteWriter, value: bigint): void {
  w.byte(CodecTag.BigInt);
  w.byte(value < 0n ? 1 : 0);
  let magnitude = value < 0n ? -value : value;
  const bytes: number[] = [];
  while (magnitude > 0n) {
    bytes.push(Number(magnitude & 0xffn));
    magnitude >>= 8n;
  }
  w.varint(bytes.length);
  w.raw(Uint8Array.from(bytes));
}

function encodeObjectValue(w: ByteWriter, value: object, path: string, ancestors: object[]): void {
  const kind = typedKindOf(value);
  if (kind !== undefined) {
    const array = value as CodecTypedArray;
    w.byte(CodecTag.TypedArray);
    w.byte(kind.kind);
    w.varint(array.length * kind.size);
    w.elements(array, kind.size);
    return;
  }
  if (ancestors.includes(value)) throw new CodecError('cycle: the value contains itself', { path });
  if (ancestors.length >= CODEC_MAX_DEPTH) throw new CodecError(`nested deeper than ${CODEC_MAX_DEPTH} levels`, { path });
  ancestors.push(value);
  if (Array.isArray(value) && Object.getPrototypeOf(value) === Array.prototype) encodeArray(w, value, path, ancestors);
  else if (isPlainObject(value)) encodeRecord(w, value as Record<string, unknown>, path, ancestors);
  else throw new CodecError(`not plain data (${describeObject(value)})`, { path });
  ancestors.pop();
}

function encodeArray(w: ByteWriter, value: unknown[], path: string, ancestors: object[]): void {
  w.byte(CodecTag.Array);
  w.varint(value.length);
  for (let i = 0; i < value.length; i++) {
    if (!(i in value)) throw new CodecError('sparse array (hole)', { path: `${path}[${i}]` });
    encodeValue(w, value[i], `${path}[${i}]`, ancestors);
  }
}

function encodeRecord(w: ByteWriter, value: Record<string, unknown>, path: string, ancestors: object[]): void {
  if (Object.getOwnPropertySymbols(value).length > 0) throw new CodecError('object has symbol keys', { path });
  const keys = Object.keys(value);
  if (Object.getOwnPropertyNames(value).length !== keys.length) throw new CodecError('object has non-enumerable properties', { path });
  w.byte(CodecTag.Object);
  w.varint(keys.length);
  for (const key of keys) {
    const keyPath = `${path}.${key}`;
    if (key === '__proto__') throw new CodecError("key '__proto__' is refused", { path: keyPath });
    const descriptor = Object.getOwnPropertyDescriptor(value, key);
    if (descriptor === undefined || !('value' in descriptor)) throw new CodecError('accessor property', { path: keyPath });
    encodeString(w, key, keyPath, false);
    encodeValue(w, descriptor.value, keyPath, ancestors);
  }
}

function isPlainObject(value: object): boolean {
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

function describeObject(value: object): string {
  const proto = Object.getPrototypeOf(value);
  const name = proto?.constructor?.name;
  return typeof name === 'string' && name !== '' ? name : 'object';
}

// ---------------------------------------------------------------------------------------------
// Decoding.

/** A cursor over the input that refuses to read past its end. */
class ByteReader {
  offset = 0;
  private readonly view: DataView;

  constructor(readonly bytes: Uint8Array) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  get remaining(): number {
    return this.bytes.length - this.offset;
  }

  fail(problem: string, at = this.offset): never {
    throw new CodecError(problem, { offset: at });
  }

  need(count: number, what: string): void {
    if (count > this.remaining) this.fail(`truncated input: ${what} needs ${count} bytes, ${this.remaining} left`);
  }

  byte(what: string): number {
    this.need(1, what);
    return this.bytes[this.offset++];
  }

  /** Minimal unsigned LEB128, at most 2^53 - 1. */
  varint(what: string): number {
    const start = this.offset;
    let value = 0;
    let scale = 1;
    for (let i = 0; ; i++) {
      if (i === 8) this.fail(`${what}: varint longer than 8 bytes`, start);
      const b = this.byte(what);
      value += (b & 0x7f) * scale;
      if ((b & 0x80) === 0) {
        if (b === 0 && i > 0) this.fail(`${what}: varint not minimal`, start);
        break;
      }
      scale *= 0x80;
    }
    if (value > Number.MAX_SAFE_INTEGER) this.fail(`${what}: varint ${value} beyond 2^53 - 1`, start);
    return value;
  }

  /** A length that must fit in the bytes left, each counted item taking at least `minItemBytes`. */
  length(what: string, minItemBytes: number): number {
    const start = this.offset;
    const n = this.varint(what);
    if (n * minItemBytes > this.remaining) this.fail(`${what} ${n} runs past the end of the input (${this.remaining} bytes left)`, start);
    return n;
  }

  float64(): number {
    this.need(8, 'float64');
    const v = this.view.getFloat64(this.offset, true);
    this.offset += 8;
    return v;
  }

  take(count: number): Uint8Array {
    const slice = this.bytes.subarray(this.offset, this.offset + count);
    this.offset += count;
    return slice;
  }
}

/** Decodes bytes produced by `encode`; throws CodecError naming the offset of the first problem. */
export function decode(bytes: Uint8Array): unknown {
  const r = new ByteReader(bytes);
  const value = decodeValue(r, 0);
  if (r.remaining !== 0) r.fail(`${r.remaining} trailing bytes after the value`);
  return value;
}

function decodeValue(r: ByteReader, depth: number): unknown {
  const tagOffset = r.offset;
  const tag = r.byte('tag');
  switch (tag) {
    case CodecTag.Null: return null;
    case CodecTag.False: return false;
    case CodecTag.True: return true;
    case CodecTag.PositiveInt: return r.varint('integer');
    case CodecTag.NegativeInt: return decodeNegative(r);
    case CodecTag.Float64: return r.float64();
    case CodecTag.String: return decodeString(r, 'string');
    case CodecTag.BigInt: return decodeBigInt(r);
    case CodecTag.TypedArray: return decodeTypedArray(r);
    case CodecTag.Array: return decodeArray(r, depth + 1, tagOffset);
    case CodecTag.Object: return decodeRecord(r, depth + 1, tagOffset);
    default: return r.fail(`unknown tag 0x${tag.toString(16).padStart(2, '0')}`, tagOffset);
  }
}

function decodeNegative(r: ByteReader): number {
  const start = r.offset;
  const magnitude = r.varint('integer');
  if (magnitude === 0) r.fail('negative integer with magnitude 0 (-0 is a float64)', start);
  return -magnitude;
}

function decodeString(r: ByteReader, what: string): string {
  const n = r.length(`${what} length`, 1);
  const start = r.offset;
  try {
    return utf8Decoder.decode(r.take(n));
  } catch {
    return r.fail(`${what} is not valid UTF-8`, start);
  }
}

function decodeBigInt(r: ByteReader): bigint {
  const signOffset = r.offset;
  const sign = r.byte('bigint sign');
  if (sign > 1) r.fail(`bigint sign byte ${sign} (expected 0 or 1)`, signOffset);
  const n = r.length('bigint length', 1);
  const bytes = r.take(n);
  if (n > 0 && bytes[n - 1] === 0) r.fail('bigint magnitude not minimal (top byte zero)', r.offset - 1);
  if (n === 0 && sign === 1) r.fail('negative bigint zero', signOffset);
  let magnitude = 0n;
  for (let i = n - 1; i >= 0; i--) magnitude = (magnitude << 8n) | BigInt(bytes[i]);
  return sign === 1 ? -magnitude : magnitude;
}

function decodeTypedArray(r: ByteReader): CodecTypedArray {
  const kindOffset = r.offset;
  const kindByte = r.byte('typed array kind');
  const kind = TYPED_KINDS.find((k) => k.kind === kindByte);
  if (kind === undefined) r.fail(`unknown typed array kind ${kindByte}`, kindOffset);
  const lengthOffset = r.offset;
  const byteLength = r.length('typed array byte length', 1);
  if (byteLength % kind.size !== 0) r.fail(`typed array byte length ${byteLength} is not a multiple of ${kind.size}`, lengthOffset);
  const source = r.take(byteLength);
  const copy = source.slice();
  if (HOST_LITTLE_ENDIAN || kind.size === 1) return new kind.ctor(copy.buffer, 0, byteLength / kind.size);
  return readBigEndianHost(kind, copy);
}

/** Builds a typed array from little-endian bytes on a big-endian host. */
function readBigEndianHost(kind: TypedKind, bytes: Uint8Array): CodecTypedArray {
  const view = new DataView(bytes.buffer);
  const out = new kind.ctor(bytes.length / kind.size);
  for (let i = 0; i < out.length; i++) {
    const at = i * kind.size;
    if (out instanceof Uint16Array) out[i] = view.getUint16(at, true);
    else if (out instanceof Int16Array) out[i] = view.getInt16(at, true);
    else if (out instanceof Uint32Array) out[i] = view.getUint32(at, true);
    else if (out instanceof Int32Array) out[i] = view.getInt32(at, true);
    else if (out instanceof Float32Array) out[i] = view.getFloat32(at, true);
    else out[i] = view.getFloat64(at, true);
  }
  return out;
}

function decodeArray(r: ByteReader, depth: number, tagOffset: number): unknown[] {
  if (depth > CODEC_MAX_DEPTH) r.fail(`nested deeper than ${CODEC_MAX_DEPTH} levels`, tagOffset);
  const n = r.length('array length', 1);
  const out = new Array<unknown>(n);
  for (let i = 0; i < n; i++) out[i] = decodeValue(r, depth);
  return out;
}

function decodeRecord(r: ByteReader, depth: number, tagOffset: number): Record<string, unknown> {
  if (depth > CODEC_MAX_DEPTH) r.fail(`nested deeper than ${CODEC_MAX_DEPTH} levels`, tagOffset);
  const n = r.length('object size', 2);
  const out: Record<string, unknown> = {};
  for (let i = 0; i < n; i++) {
    const keyOffset = r.offset;
    const key = decodeString(r, 'key');
    if (key === '__proto__') r.fail("key '__proto__' is refused", keyOffset);
    if (Object.prototype.hasOwnProperty.call(out, key)) r.fail(`duplicate key '${key}'`, keyOffset);
    Object.defineProperty(out, key, { value: decodeValue(r, depth), enumerable: true, writable: true, configurable: true });
  }
  return out;
}
