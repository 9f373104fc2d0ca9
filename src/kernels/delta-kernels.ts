/**
 * XOR-delta kernels: encode a 4 KiB frame against its previous copy and apply such a delta,
 * behind one interface with two implementations — the WASM module (assembly/delta.ts, bound in
 * wasm-kernels.ts through `wasmDeltaKernels`) and the pure-TypeScript implementation here, the
 * fallback when WASM is unavailable and the reference in tests. Both produce byte-identical
 * output; the format is specified in delta-format.md next to this file:
 *
 *   RAW form (4097 bytes): 0x00 + the 4096 bytes of the new frame.
 *   XOR form (1..4096 bytes): 0x01 + pairs (zeroRun varint, literalRun varint >= 1,
 *   literalRun bytes of cur ^ prev); bytes after the last pair are unchanged. Varints are
 *   LEB128, at most 2 bytes, minimal. A literal run ends at the first unchanged run of at least
 *   3 bytes or at an unchanged run reaching the frame end.
 *
 * Every offset is a byte address in the pool's memory, as for the bitmap kernels. Frames must
 * be 4-byte aligned; a delta may start at any byte. A rejected delta raises DeltaFormatError
 * with the problem and the offset in the delta, and leaves the output frame as it was before the
 * call: decoding in place validates and applies each pair in one pass and, on a problem, XORs
 * the pairs already applied in again (undoing them); decoding into another frame validates the
 * whole delta before writing anything (see delta-format.md, "Validation").
 */

import { KernelArgumentError, RESERVED_FRAMES, checkCount, checkWordRegion, type KernelMemory } from './bitmap-kernels.js';

/** Size of the frames the delta format is defined for. */
export const DELTA_FRAME_BYTES = 4096;
/** Largest delta: the RAW form, kind byte + 4096 frame bytes. Output regions need this much room. */
export const DELTA_MAX_BYTES = 4097;
/** Largest XOR form the encoder produces (the default `xorLimit`). */
export const DELTA_MAX_XOR_BYTES = 4096;
/** Kind byte of the RAW form. */
export const DELTA_KIND_RAW = 0x00;
/** Kind byte of the XOR form. */
export const DELTA_KIND_XOR = 0x01;

const FRAME = 4096;
const FRAME_WORDS = 1024;
/** Shortest unchanged run that ends a literal run (other than a run reaching the frame end). */
const MIN_ZERO_RUN = 3;

/** What is wrong with a rejected delta. The numbers are the codes assembly/delta.ts returns. */
export const enum DeltaProblemCode {
  Empty = 1,
  TooLong = 2,
  UnknownKind = 3,
  RawLength = 4,
  TruncatedVarint = 5,
  VarintTooLong = 6,
  VarintNotMinimal = 7,
  MissingLiteralLength = 8,
  EmptyLiteral = 9,
  RunPastEnd = 10,
  TruncatedLiteral = 11,
}

/** Short names of the problems, indexed by code (shown in DeltaFormatError and its `problem`). */
const PROBLEM_NAMES: readonly string[] = [
  'unknown problem',
  'empty delta',
  'delta longer than 4097 bytes',
  'unknown kind byte',
  'RAW delta not exactly 4097 bytes',
  'truncated varint',
  'varint longer than 2 bytes',
  'varint not minimal',
  'missing literal length',
  'empty literal run',
  'runs past the end of the frame',
  'truncated literal',
];

/** Thrown when a delta is malformed; names the problem and the byte offset in the delta. */
export class DeltaFormatError extends Error {
  /** Short name of the problem (e.g. 'truncated varint'). */
  readonly problem: string;
  /** Numeric problem code (DeltaProblemCode). */
  readonly code: number;
  /** Byte offset in the delta where the problem was found. */
  readonly offset: number;
  /** Index of the delta in a batch (deltaDecodeBatch's list entry); undefined for a single delta. */
  readonly entry: number | undefined;
  constructor(code: number, offset: number, detail = '', entry?: number) {
    const problem = PROBLEM_NAMES[code] ?? PROBLEM_NAMES[0];
    const which = entry === undefined ? 'the delta' : `delta ${entry} of the batch`;
    super(`invalid frame delta: ${problem} at offset ${offset} of ${which}${detail === '' ? '' : ` (${detail})`}`);
    this.name = 'DeltaFormatError';
    this.problem = problem;
    this.code = code;
    this.offset = offset;
    this.entry = entry;
  }
}

/** Turns a packed problem (negative: -(code | offset << 4)) into a DeltaFormatError. */
export function deltaErrorFromPacked(packed: number, detail = '', entry?: number): DeltaFormatError {
  const positive = -packed;
  return new DeltaFormatError(positive & 15, positive >>> 4, detail, entry);
}

/** XOR-delta operations on pool memory. */
export interface DeltaKernels {
  /** Which implementation this is. */
  readonly kind: 'wasm' | 'ts';
  /**
   * Encodes the frame at `curOffset` against its previous copy at `prevOffset` (both 4 KiB,
   * 4-byte aligned) into `outOffset`, which must have room for DELTA_MAX_BYTES (4097) and not
   * overlap either frame. Writes the XOR form when it takes at most `xorLimit` bytes (1..4096,
   * default 4096), the RAW form otherwise. Returns the number of bytes written (1..4097).
   */
  deltaEncode(prevOffset: number, curOffset: number, outOffset: number, xorLimit?: number): number;
  /**
   * Applies the `deltaLength`-byte delta at `deltaOffset` to the previous frame at `prevOffset`,
   * writing the new frame at `outOffset` (equal to `prevOffset` for in place, otherwise not
   * overlapping it; the delta must not overlap the output frame). Throws DeltaFormatError when
   * the delta is malformed; the output frame then holds exactly its old contents (in place, the
   * pairs applied before the problem was found have been undone; into another frame, nothing
   * was written).
   */
  deltaDecode(deltaOffset: number, deltaLength: number, prevOffset: number, outOffset: number): void;
  /**
   * Applies `count` deltas in place, as a receiver applies one message: the deltas lie back to
   * back from `streamOffset`, and the list at `listOffset` (4-byte aligned) holds `count` u32
   * pairs (target frame number, delta length) in stream order. Target frames must not be one of
   * the pool's 16 reserved frames nor overlap the list or the stream. The first entry refused
   * raises KernelArgumentError (argument `listOffset[k]`) or DeltaFormatError (`entry` k); the
   * entries before it have been applied, its frame holds its old contents, later entries are
   * untouched. One call per message instead of one per frame: for small deltas the per-call
   * checks and (WASM) the JS-to-WASM transition cost more than the decoding.
   */
  deltaDecodeBatch(streamOffset: number, listOffset: number, count: number): void;
}

/** Checks that `offset` is a non-negative integer; names the kernel and argument otherwise. */
function checkInteger(kernel: string, argument: string, value: number): void {
  if (!Number.isInteger(value) || value < 0) {
    throw new KernelArgumentError(kernel, argument, `must be a non-negative integer, got ${value}`);
  }
}

/** Checks a 4 KiB frame region: 4-byte aligned and inside memory. */
function checkFrame(kernel: string, argument: string, offset: number, memoryBytes: number): void {
  checkInteger(kernel, argument, offset);
  if ((offset & 3) !== 0) throw new KernelArgumentError(kernel, argument, `must be a multiple of 4, got ${offset}`);
  if (offset + FRAME > memoryBytes) {
    throw new KernelArgumentError(kernel, argument, `frame [${offset}, ${offset + FRAME}) exceeds memory size ${memoryBytes}`);
  }
}

/** True when [a, a + aLength) and [b, b + bLength) share a byte. */
function overlaps(a: number, aLength: number, b: number, bLength: number): boolean {
  return a < b + bLength && b < a + aLength;
}

/** Checks deltaEncode's arguments; returns the effective xorLimit. */
export function checkEncodeArguments(prevOffset: number, curOffset: number, outOffset: number, xorLimit: number | undefined, memoryBytes: number): number {
  checkFrame('deltaEncode', 'prevOffset', prevOffset, memoryBytes);
  checkFrame('deltaEncode', 'curOffset', curOffset, memoryBytes);
  checkInteger('deltaEncode', 'outOffset', outOffset);
  if (outOffset + DELTA_MAX_BYTES > memoryBytes) {
    throw new KernelArgumentError('deltaEncode', 'outOffset', `output [${outOffset}, ${outOffset + DELTA_MAX_BYTES}) exceeds memory size ${memoryBytes}`);
  }
  if (overlaps(outOffset, DELTA_MAX_BYTES, prevOffset, FRAME)) {
    throw new KernelArgumentError('deltaEncode', 'outOffset', `output at ${outOffset} overlaps the previous frame at ${prevOffset}`);
  }
  if (overlaps(outOffset, DELTA_MAX_BYTES, curOffset, FRAME)) {
    throw new KernelArgumentError('deltaEncode', 'outOffset', `output at ${outOffset} overlaps the current frame at ${curOffset}`);
  }
  const limit = xorLimit ?? DELTA_MAX_XOR_BYTES;
  if (!Number.isInteger(limit) || limit < 1 || limit > DELTA_MAX_XOR_BYTES) {
    throw new KernelArgumentError('deltaEncode', 'xorLimit', `must be an integer in [1, ${DELTA_MAX_XOR_BYTES}], got ${xorLimit}`);
  }
  return limit;
}

/** Checks deltaDecode's arguments (the delta's contents are checked by the decoder itself). */
export function checkDecodeArguments(deltaOffset: number, deltaLength: number, prevOffset: number, outOffset: number, memoryBytes: number): void {
  checkInteger('deltaDecode', 'deltaOffset', deltaOffset);
  checkInteger('deltaDecode', 'deltaLength', deltaLength);
  if (deltaOffset + deltaLength > memoryBytes) {
    throw new KernelArgumentError('deltaDecode', 'deltaOffset', `delta [${deltaOffset}, ${deltaOffset + deltaLength}) exceeds memory size ${memoryBytes}`);
  }
  checkFrame('deltaDecode', 'prevOffset', prevOffset, memoryBytes);
  checkFrame('deltaDecode', 'outOffset', outOffset, memoryBytes);
  if (outOffset !== prevOffset && overlaps(outOffset, FRAME, prevOffset, FRAME)) {
    throw new KernelArgumentError('deltaDecode', 'outOffset', `output frame at ${outOffset} partly overlaps the previous frame at ${prevOffset} (must be equal or disjoint)`);
  }
  if (overlaps(deltaOffset, deltaLength, outOffset, FRAME)) {
    throw new KernelArgumentError('deltaDecode', 'deltaOffset', `delta at ${deltaOffset} overlaps the output frame at ${outOffset}`);
  }
}

/** Checks deltaDecodeBatch's arguments (the entries are checked as they are applied). */
export function checkDecodeBatchArguments(streamOffset: number, listOffset: number, count: number, memoryBytes: number): void {
  checkInteger('deltaDecodeBatch', 'streamOffset', streamOffset);
  checkCount('deltaDecodeBatch', count);
  checkWordRegion('deltaDecodeBatch', 'listOffset', listOffset, count * 8, memoryBytes);
}

/** Where delta `index` of a batch starts, and where the whole stream ends. */
function batchOffsets(words: Uint32Array, streamOffset: number, listOffset: number, count: number, index: number): { at: number; streamEnd: number } {
  const list = listOffset >>> 2;
  let streamEnd = streamOffset;
  let at = streamOffset;
  for (let k = 0; k < count; k++) {
    if (k === index) at = streamEnd;
    streamEnd += words[list + 2 * k + 1];
  }
  return { at, streamEnd };
}

/**
 * Why entry `index` of a batch is refused before decoding (target frame reserved or outside
 * memory, delta outside memory, target overlapping the list or the stream), as an error; null
 * when the entry's regions are fine (then its delta itself is invalid). The same checks, in the
 * same order, as the batch loops of both implementations.
 */
function batchEntryRefusal(frame: number, length: number, at: number, streamOffset: number, streamEnd: number, listOffset: number, count: number, index: number, memoryBytes: number): KernelArgumentError | null {
  const target = frame * FRAME;
  const refuse = (reason: string) => new KernelArgumentError('deltaDecodeBatch', `listOffset[${index}]`, `(frame ${frame}, length ${length}) ${reason}`);
  if (frame < RESERVED_FRAMES) return refuse(`targets reserved frame ${frame} (0..${RESERVED_FRAMES - 1})`);
  if (target + FRAME > memoryBytes) return refuse(`targets a frame outside the memory (${Math.floor(memoryBytes / FRAME)} frames)`);
  if (at + length > memoryBytes) return refuse(`delta [${at}, ${at + length}) exceeds memory size ${memoryBytes}`);
  if (overlaps(target, FRAME, listOffset, count * 8)) return refuse(`target frame overlaps the list at ${listOffset}`);
  if (overlaps(target, FRAME, streamOffset, streamEnd - streamOffset)) return refuse(`target frame overlaps the delta stream [${streamOffset}, ${streamEnd})`);
  return null;
}

/**
 * Throws the error for entry `index` that a batch decode refused: the argument problem, or
 * else the delta's format problem found by `decodeAgain` (a decode in place of that one delta,
 * which leaves its frame unchanged again and returns the packed problem).
 */
export function throwBatchProblem(memory: WebAssembly.Memory, streamOffset: number, listOffset: number, count: number, index: number, decodeAgain: (deltaOffset: number, deltaLength: number, target: number) => number): never {
  const buffer = memory.buffer;
  const words = new Uint32Array(buffer, 0, buffer.byteLength >>> 2);
  const { at, streamEnd } = batchOffsets(words, streamOffset, listOffset, count, index);
  const frame = words[(listOffset >>> 2) + 2 * index];
  const length = words[(listOffset >>> 2) + 2 * index + 1];
  const refusal = batchEntryRefusal(frame, length, at, streamOffset, streamEnd, listOffset, count, index, buffer.byteLength);
  if (refusal !== null) throw refusal;
  const packed = decodeAgain(at, length, frame * FRAME);
  if (packed >= 0) throw new Error(`deltaDecodeBatch: entry ${index} was refused but decodes again without a problem (memory changed during the call?)`);
  throw deltaErrorFromPacked(packed, kindDetail(new Uint8Array(buffer), at, length, packed), index);
}

// ---------------------------------------------------------------------------------------------
// Pure-TypeScript implementation (same algorithm and format as assembly/delta.ts).
// Scans 32-bit words (Int32Array views; little-endian hosts, as every WebAssembly host is) and
// narrows run boundaries to bytes with count-trailing-zeros tricks.
// ---------------------------------------------------------------------------------------------

/** Index (0..3) of the lowest non-zero byte of a non-zero 32-bit value. */
function lowestNonZeroByte(x: number): number {
  return (31 - Math.clz32(x & -x)) >>> 3;
}

/** Bit 7 of each byte set where the byte of `x` is zero (exact for the lowest zero byte). */
function zeroByteFlags(x: number): number {
  return (x - 0x01010101) & ~x & 0x80808080;
}

/** Pool memory seen as bytes and words, with the two frames' word indices. */
interface FramePair {
  bytes: Uint8Array;
  words: Int32Array;
  prev: number;
  cur: number;
}

/** The one FramePair the encoder reuses (no allocation per call). */
const scratchPair: FramePair = { bytes: new Uint8Array(0), words: new Int32Array(0), prev: 0, cur: 0 };

/** First byte index >= `from` that differs between the frames, FRAME when none does. */
function tsNextChanged(f: FramePair, from: number): number {
  const { words, bytes } = f;
  const prevWord = f.prev >>> 2;
  const curWord = f.cur >>> 2;
  let i = from;
  while ((i & 3) !== 0 && i < FRAME) {
    if (bytes[f.prev + i] !== bytes[f.cur + i]) return i;
    i++;
  }
  for (let w = i >>> 2; w < FRAME_WORDS; w++) {
    const x = words[prevWord + w] ^ words[curWord + w];
    if (x !== 0) return (w << 2) + lowestNonZeroByte(x);
  }
  return FRAME;
}

/** First byte index >= `from` that is the same in both frames, FRAME when none is. */
function tsNextUnchanged(f: FramePair, from: number): number {
  const { words, bytes } = f;
  const prevWord = f.prev >>> 2;
  const curWord = f.cur >>> 2;
  let i = from;
  while ((i & 3) !== 0 && i < FRAME) {
    if (bytes[f.prev + i] === bytes[f.cur + i]) return i;
    i++;
  }
  for (let w = i >>> 2; w < FRAME_WORDS; w++) {
    const flags = zeroByteFlags(words[prevWord + w] ^ words[curWord + w]);
    if (flags !== 0) return (w << 2) + lowestNonZeroByte(flags);
  }
  return FRAME;
}

/** End of the literal run starting at the changed byte `start` (canonical rule). */
function tsLiteralEnd(f: FramePair, start: number): number {
  let from = start + 1;
  for (;;) {
    const zero = tsNextUnchanged(f, from);
    if (zero >= FRAME) return FRAME;
    const changed = tsNextChanged(f, zero + 1);
    if (changed >= FRAME || changed - zero >= MIN_ZERO_RUN) return zero;
    from = changed + 1;
  }
}

/** Writes `value` (< 16384) as a varint at `at`; returns the index after it. */
function tsWriteVarint(bytes: Uint8Array, at: number, value: number): number {
  if (value < 128) {
    bytes[at] = value;
    return at + 1;
  }
  bytes[at] = (value & 0x7f) | 0x80;
  bytes[at + 1] = value >>> 7;
  return at + 2;
}

/** Encodes as described on DeltaKernels.deltaEncode; arguments already checked. */
function tsEncode(bytes: Uint8Array, words: Int32Array, view: DataView, prev: number, cur: number, out: number, xorLimit: number): number {
  const f = scratchPair;
  f.bytes = bytes;
  f.words = words;
  f.prev = prev;
  f.cur = cur;
  bytes[out] = DELTA_KIND_XOR;
  let at = out + 1;
  const limit = out + xorLimit;
  let zeroStart = 0;
  let start = tsNextChanged(f, 0);
  while (start < FRAME) {
    const end = tsLiteralEnd(f, start);
    const zeroRun = start - zeroStart;
    const literalRun = end - start;
    if (at + (zeroRun < 128 ? 1 : 2) + (literalRun < 128 ? 1 : 2) + literalRun > limit) {
      bytes[out] = DELTA_KIND_RAW;
      bytes.copyWithin(out + 1, cur, cur + FRAME);
      return DELTA_MAX_BYTES;
    }
    at = tsWriteVarint(bytes, at, zeroRun);
    at = tsWriteVarint(bytes, at, literalRun);
    let k = start;
    if (end - k >= 8) {
      for (; k + 4 <= end; k += 4, at += 4) view.setInt32(at, view.getInt32(prev + k, true) ^ view.getInt32(cur + k, true), true);
    }
    for (; k < end; k++) bytes[at++] = bytes[prev + k] ^ bytes[cur + k];
    zeroStart = end;
    start = tsNextChanged(f, end);
  }
  return at - out;
}

/** Reads the varint at delta index `i` (< end): (value << 2) | byteCount, or a packed problem (< 0). */
function tsReadVarint(bytes: Uint8Array, delta: number, length: number, i: number): number {
  const first = bytes[delta + i];
  if ((first & 0x80) === 0) return (first << 2) | 1;
  if (i + 1 >= length) return -(DeltaProblemCode.TruncatedVarint | (i << 4));
  const second = bytes[delta + i + 1];
  if ((second & 0x80) !== 0) return -(DeltaProblemCode.VarintTooLong | (i << 4));
  if (second === 0) return -(DeltaProblemCode.VarintNotMinimal | (i << 4));
  return (((first & 0x7f) | (second << 7)) << 2) | 2;
}

/** Checks an XOR-form delta; 0 when valid, else a packed problem (< 0). */
function tsValidateXor(bytes: Uint8Array, delta: number, length: number): number {
  let i = 1;
  let position = 0;
  while (i < length) {
    const zero = tsReadVarint(bytes, delta, length, i);
    if (zero < 0) return zero;
    position += zero >>> 2;
    if (position > FRAME) return -(DeltaProblemCode.RunPastEnd | (i << 4));
    i += zero & 3;
    if (i >= length) return -(DeltaProblemCode.MissingLiteralLength | (i << 4));
    const literal = tsReadVarint(bytes, delta, length, i);
    if (literal < 0) return literal;
    const literalRun = literal >>> 2;
    if (literalRun === 0) return -(DeltaProblemCode.EmptyLiteral | (i << 4));
    position += literalRun;
    if (position > FRAME) return -(DeltaProblemCode.RunPastEnd | (i << 4));
    i += literal & 3;
    if (literalRun > length - i) return -(DeltaProblemCode.TruncatedLiteral | (i << 4));
    i += literalRun;
  }
  return 0;
}

/**
 * XORs the literals of the pairs from delta index 1 up to (not including) `stop` into the frame
 * at `out`; the pairs must be valid. Applies a validated delta (`stop` = its length) and undoes
 * the pairs a rejected one had applied in place (XOR is its own inverse).
 */
function tsApplyPairs(bytes: Uint8Array, view: DataView, delta: number, length: number, stop: number, out: number): void {
  let i = 1;
  let position = out;
  while (i < stop) {
    const zero = tsReadVarint(bytes, delta, length, i);
    position += zero >>> 2;
    i += zero & 3;
    const literal = tsReadVarint(bytes, delta, length, i);
    i += literal & 3;
    position = tsXorLiteral(bytes, view, position, delta + i, literal >>> 2);
    i += literal >>> 2;
  }
}

/** XORs `count` delta bytes at `source` into the bytes at `target`; returns `target + count`. */
function tsXorLiteral(bytes: Uint8Array, view: DataView, target: number, source: number, count: number): number {
  const end = source + count;
  let k = source;
  if (count >= 8) {
    for (; k + 4 <= end; k += 4, target += 4) view.setInt32(target, view.getInt32(target, true) ^ view.getInt32(k, true), true);
  }
  for (; k < end; k++) bytes[target++] ^= bytes[k];
  return target;
}

/**
 * Single pass in place: validates each pair and XORs its literal into the frame at `out` at
 * once. On the first problem, undoes the pairs already applied and returns the packed problem
 * (the same checks, in the same order, as tsValidateXor); 0 when the delta was valid.
 */
function tsDecodeXorInPlace(bytes: Uint8Array, view: DataView, delta: number, length: number, out: number): number {
  let i = 1;
  let position = 0;
  let problem = 0;
  while (i < length) {
    const pairStart = i;
    const zero = tsReadVarint(bytes, delta, length, i);
    if (zero < 0) problem = zero;
    else {
      position += zero >>> 2;
      i += zero & 3;
      if (position > FRAME) problem = -(DeltaProblemCode.RunPastEnd | (pairStart << 4));
      else if (i >= length) problem = -(DeltaProblemCode.MissingLiteralLength | (i << 4));
      else {
        const literal = tsReadVarint(bytes, delta, length, i);
        const literalRun = literal >>> 2;
        if (literal < 0) problem = literal;
        else if (literalRun === 0) problem = -(DeltaProblemCode.EmptyLiteral | (i << 4));
        else if (position + literalRun > FRAME) problem = -(DeltaProblemCode.RunPastEnd | (i << 4));
        else {
          i += literal & 3;
          if (literalRun > length - i) problem = -(DeltaProblemCode.TruncatedLiteral | (i << 4));
          else {
            tsXorLiteral(bytes, view, out + position, delta + i, literalRun);
            position += literalRun;
            i += literalRun;
            continue;
          }
        }
      }
    }
    tsApplyPairs(bytes, view, delta, length, pairStart, out);
    return problem;
  }
  return 0;
}

/** Decodes as described on DeltaKernels.deltaDecode; returns 0 or a packed problem (< 0). */
function tsDecode(bytes: Uint8Array, view: DataView, delta: number, length: number, prev: number, out: number): number {
  if (length === 0) return -(DeltaProblemCode.Empty | 0);
  if (length > DELTA_MAX_BYTES) return -(DeltaProblemCode.TooLong | (DELTA_MAX_BYTES << 4));
  const kind = bytes[delta];
  if (kind === DELTA_KIND_RAW) {
    if (length !== DELTA_MAX_BYTES) return -(DeltaProblemCode.RawLength | (length << 4));
    bytes.copyWithin(out, delta + 1, delta + 1 + FRAME);
    return 0;
  }
  if (kind !== DELTA_KIND_XOR) return -(DeltaProblemCode.UnknownKind | 0);
  if (out === prev) return tsDecodeXorInPlace(bytes, view, delta, length, out);
  // Into another frame: an undo could not bring back the output's old contents, so validate
  // the whole delta first, then copy and apply (as the WASM decoder does).
  const invalid = tsValidateXor(bytes, delta, length);
  if (invalid !== 0) return invalid;
  bytes.copyWithin(out, prev, prev + FRAME);
  tsApplyPairs(bytes, view, delta, length, length, out);
  return 0;
}

/**
 * Applies a batch in place as described on DeltaKernels.deltaDecodeBatch (list region already
 * checked); returns `count`, or the index of the first entry refused (see batchEntryRefusal).
 */
function tsDecodeBatch(bytes: Uint8Array, uwords: Uint32Array, view: DataView, stream: number, listOffset: number, count: number): number {
  const list = listOffset >>> 2;
  const memoryBytes = bytes.length;
  const { streamEnd } = batchOffsets(uwords, stream, listOffset, count, count);
  const listEnd = listOffset + count * 8;
  let at = stream;
  for (let index = 0; index < count; index++) {
    const frame = uwords[list + 2 * index];
    const end = at + uwords[list + 2 * index + 1];
    const target = frame * FRAME;
    const targetEnd = target + FRAME;
    if (frame < RESERVED_FRAMES || targetEnd > memoryBytes || end > memoryBytes
      || (target < listEnd && listOffset < targetEnd) || (target < streamEnd && stream < targetEnd)) return index;
    if (tsDecode(bytes, view, at, end - at, target, target) !== 0) return index;
    at = end;
  }
  return count;
}

/** Names the kind byte in a DeltaFormatError detail. */
function kindDetail(bytes: Uint8Array, delta: number, length: number, packed: number): string {
  return (-packed & 15) === DeltaProblemCode.UnknownKind && length > 0 ? `kind 0x${bytes[delta].toString(16).padStart(2, '0')}` : '';
}

/** Throws the DeltaFormatError for a packed problem returned by either decoder. */
export function throwDeltaProblem(memory: WebAssembly.Memory, deltaOffset: number, deltaLength: number, packed: number): never {
  throw deltaErrorFromPacked(packed, kindDetail(new Uint8Array(memory.buffer), deltaOffset, deltaLength, packed));
}

/*
 * Memory size in the bindings: `memory.buffer` of a shared memory costs about 80 ns per access
 * in V8 (it checks for growth by other threads), more than decoding a small delta. The memory
 * never shrinks, so the bindings check regions against the size seen last; only when a check
 * fails do they look at the current size and check again (throwing if it still fails).
 */

/** Pure-TypeScript delta kernels over `target.memory` (views refreshed when the memory grew). */
export function tsDeltaKernels(target: Pick<KernelMemory, 'memory'>): DeltaKernels {
  let bytes = new Uint8Array(target.memory.buffer);
  let words = new Int32Array(bytes.buffer, 0, bytes.length >>> 2);
  let uwords = new Uint32Array(bytes.buffer, 0, bytes.length >>> 2);
  let view = new DataView(bytes.buffer);
  const refresh = (): void => {
    const current = target.memory.buffer;
    if (current.byteLength === bytes.length) return;
    bytes = new Uint8Array(current);
    words = new Int32Array(current, 0, current.byteLength >>> 2);
    uwords = new Uint32Array(current, 0, current.byteLength >>> 2);
    view = new DataView(current);
  };
  const decodeOneInPlace = (deltaOffset: number, deltaLength: number, frame: number): number => tsDecode(bytes, view, deltaOffset, deltaLength, frame, frame);
  return {
    kind: 'ts',
    deltaEncode(prevOffset: number, curOffset: number, outOffset: number, xorLimit?: number): number {
      let limit: number;
      try {
        limit = checkEncodeArguments(prevOffset, curOffset, outOffset, xorLimit, bytes.length);
      } catch {
        refresh();
        limit = checkEncodeArguments(prevOffset, curOffset, outOffset, xorLimit, bytes.length);
      }
      return tsEncode(bytes, words, view, prevOffset, curOffset, outOffset, limit);
    },
    deltaDecode(deltaOffset: number, deltaLength: number, prevOffset: number, outOffset: number): void {
      try {
        checkDecodeArguments(deltaOffset, deltaLength, prevOffset, outOffset, bytes.length);
      } catch {
        refresh();
        checkDecodeArguments(deltaOffset, deltaLength, prevOffset, outOffset, bytes.length);
      }
      const result = tsDecode(bytes, view, deltaOffset, deltaLength, prevOffset, outOffset);
      if (result < 0) throwDeltaProblem(target.memory, deltaOffset, deltaLength, result);
    },
    deltaDecodeBatch(streamOffset: number, listOffset: number, count: number): void {
      refresh();
      checkDecodeBatchArguments(streamOffset, listOffset, count, bytes.length);
      const applied = tsDecodeBatch(bytes, uwords, view, streamOffset, listOffset, count);
      if (applied < count) throwBatchProblem(target.memory, streamOffset, listOffset, count, applied, decodeOneInPlace);
    },
  };
}

/** The raw WASM exports of assembly/delta.ts. */
export interface DeltaExports {
  deltaEncode(prev: number, cur: number, out: number, xorLimit: number): number;
  deltaDecode(delta: number, length: number, prev: number, out: number): number;
  deltaDecodeBatch(stream: number, list: number, count: number): number;
}

/** Wraps the raw WASM exports with argument checks and error translation. */
export function wasmDeltaKernels(target: Pick<KernelMemory, 'memory'>, exports: DeltaExports): DeltaKernels {
  let knownBytes = target.memory.buffer.byteLength;
  const decodeOneInPlace = (deltaOffset: number, deltaLength: number, frame: number): number => exports.deltaDecode(deltaOffset, deltaLength, frame, frame) | 0;
  return {
    kind: 'wasm',
    deltaEncode(prevOffset: number, curOffset: number, outOffset: number, xorLimit?: number): number {
      let limit: number;
      try {
        limit = checkEncodeArguments(prevOffset, curOffset, outOffset, xorLimit, knownBytes);
      } catch {
        knownBytes = target.memory.buffer.byteLength;
        limit = checkEncodeArguments(prevOffset, curOffset, outOffset, xorLimit, knownBytes);
      }
      return exports.deltaEncode(prevOffset, curOffset, outOffset, limit) >>> 0;
    },
    deltaDecode(deltaOffset: number, deltaLength: number, prevOffset: number, outOffset: number): void {
      try {
        checkDecodeArguments(deltaOffset, deltaLength, prevOffset, outOffset, knownBytes);
      } catch {
        knownBytes = target.memory.buffer.byteLength;
        checkDecodeArguments(deltaOffset, deltaLength, prevOffset, outOffset, knownBytes);
      }
      const result = exports.deltaDecode(deltaOffset, deltaLength, prevOffset, outOffset) | 0;
      if (result < 0) throwDeltaProblem(target.memory, deltaOffset, deltaLength, result);
    },
    deltaDecodeBatch(streamOffset: number, listOffset: number, count: number): void {
      knownBytes = target.memory.buffer.byteLength;
      checkDecodeBatchArguments(streamOffset, listOffset, count, knownBytes);
      const applied = exports.deltaDecodeBatch(streamOffset, listOffset, count) >>> 0;
      if (applied < count) throwBatchProblem(target.memory, streamOffset, listOffset, count, applied, decodeOneInPlace);
    },
  };
}
