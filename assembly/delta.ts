/**
 * XOR-delta kernels: encode a 4 KiB frame against its previous copy, and apply such a delta.
 * The format is our own and is specified in src/kernels/delta-format.md; in short:
 *
 *   RAW form  (4097 bytes): 0x00, then the 4096 bytes of the new frame.
 *   XOR form  (1..4096 bytes): 0x01, then pairs
 *                 zeroRun: varint, literalRun: varint (>= 1), literalRun bytes of (cur ^ prev)
 *             covering the frame from byte 0 upwards; bytes after the last pair are unchanged.
 *   varint    LEB128, 7 bits per byte, low group first, at most 2 bytes, minimal (no 0x80 0x00).
 *
 * Runs are counted in bytes. Canonical encoding (the TS implementation produces the same
 * bytes): a literal run starts at a changed byte and ends at the first unchanged run of at
 * least 3 bytes or at an unchanged run reaching the end of the frame; shorter
 * unchanged runs stay inside the literal (splitting there would cost at least what it saves).
 * When the XOR form would be longer than `xorLimit` bytes (at most 4096), the RAW form is
 * written instead, so the output never exceeds DELTA_MAX_BYTES = 4097 bytes.
 *
 * SIMD: the encoder works on 64-byte chunks — four v128 XORs, one any_true for unchanged chunks,
 * else four compares and bitmasks giving a 64-bit changed mask — and finds run boundaries with
 * shifts and count-trailing-zeros on that mask; literals are written 16 bytes per store. The
 * decoder XORs literals into the frame 16 bytes at a time with a masked last step.
 *
 * Decode validates the whole delta before writing anything: a rejected delta leaves the output
 * frame untouched, and a valid one writes only the 4096 bytes of the output frame. Errors come
 * back as a negative number -(problem | offset << 4) (problem codes below, offset = byte of the
 * delta where the problem was found). Callers (src/kernels/delta-kernels.ts) check the regions:
 * frames and delta inside memory, no harmful overlap. Like the other kernels these never
 * allocate and keep no data in memory.
 */

/** Frame size the delta format is defined for. */
const FRAME: u32 = 4096;
/** Kind byte of the RAW form. */
const KIND_RAW: u8 = 0x00;
/** Kind byte of the XOR form. */
const KIND_XOR: u8 = 0x01;
/** Length of the RAW form, and so the largest output of the encoder. */
const DELTA_MAX_BYTES: u32 = FRAME + 1;
// Shortest unchanged run that ends a literal run (except a run reaching the frame end): 3.
// The gap filling in deltaEncode (gaps of 1 and 2 bytes join the literal) is written for it.

// Problem codes returned (negated, with the offset) by deltaDecode; the same numbers are
// named in src/kernels/delta-kernels.ts (DeltaProblemCode).
const PROBLEM_EMPTY: i32 = 1;
const PROBLEM_TOO_LONG: i32 = 2;
const PROBLEM_UNKNOWN_KIND: i32 = 3;
const PROBLEM_RAW_LENGTH: i32 = 4;
const PROBLEM_TRUNCATED_VARINT: i32 = 5;
const PROBLEM_VARINT_TOO_LONG: i32 = 6;
const PROBLEM_VARINT_NOT_MINIMAL: i32 = 7;
const PROBLEM_MISSING_LITERAL_LENGTH: i32 = 8;
const PROBLEM_EMPTY_LITERAL: i32 = 9;
const PROBLEM_RUN_PAST_END: i32 = 10;
const PROBLEM_TRUNCATED_LITERAL: i32 = 11;

/**
 * Bit k set when byte `offset + k` differs between the frames (64 bytes); 0 at or past the
 * frame end. Unchanged chunks (the common case) cost four XORs, three ORs and one any_true.
 */
// @ts-ignore: decorator
@inline function changedMask64(prev: usize, cur: usize, offset: u32): u64 {
  if (offset >= FRAME) return 0;
  const x0 = v128.xor(v128.load(prev + offset), v128.load(cur + offset));
  const x1 = v128.xor(v128.load(prev + offset, 16), v128.load(cur + offset, 16));
  const x2 = v128.xor(v128.load(prev + offset, 32), v128.load(cur + offset, 32));
  const x3 = v128.xor(v128.load(prev + offset, 48), v128.load(cur + offset, 48));
  if (!v128.any_true(v128.or(v128.or(x0, x1), v128.or(x2, x3)))) return 0;
  const zero = i8x16.splat(0);
  const a = <u64>i8x16.bitmask(i8x16.eq(x0, zero));
  const b = <u64>i8x16.bitmask(i8x16.eq(x1, zero));
  const c = <u64>i8x16.bitmask(i8x16.eq(x2, zero));
  const d = <u64>i8x16.bitmask(i8x16.eq(x3, zero));
  return ~(a | (b << 16) | (c << 32) | (d << 48));
}

/** Bytes a varint of `value` (< 16384) takes. */
// @ts-ignore: decorator
@inline function varintSize(value: u32): u32 {
  return value < 128 ? 1 : 2;
}

/** Writes `value` (< 16384) as a varint at `at`; returns the address after it. */
// @ts-ignore: decorator
@inline function writeVarint(at: usize, value: u32): usize {
  if (value < 128) {
    store<u8>(at, <u8>value);
    return at + 1;
  }
  store<u8>(at, <u8>((value & 0x7f) | 0x80));
  store<u8>(at + 1, <u8>(value >>> 7));
  return at + 2;
}

/**
 * Writes prev ^ cur for frame bytes [start, end) at `at`; returns the address after them.
 * With `overrun` the last 16-byte store may write up to 15 bytes past the literal (the caller
 * checked that both the frames and the output region extend 16 bytes further).
 */
function writeLiteral(at: usize, prev: usize, cur: usize, start: u32, end: u32, overrun: bool): usize {
  let i = start;
  if (overrun) {
    const finish = at + (end - start);
    do {
      v128.store(at, v128.xor(v128.load(prev + i), v128.load(cur + i)));
      at += 16;
      i += 16;
    } while (i < end);
    return finish;
  }
  while (i + 16 <= end) {
    v128.store(at, v128.xor(v128.load(prev + i), v128.load(cur + i)));
    at += 16;
    i += 16;
  }
  if (i + 8 <= end) {
    store<u64>(at, load<u64>(prev + i) ^ load<u64>(cur + i));
    at += 8;
    i += 8;
  }
  if (i + 4 <= end) {
    store<u32>(at, load<u32>(prev + i) ^ load<u32>(cur + i));
    at += 4;
    i += 4;
  }
  while (i < end) {
    store<u8>(at, load<u8>(prev + i) ^ load<u8>(cur + i));
    at += 1;
    i += 1;
  }
  return at;
}

/**
 * Writes one pair (zero run from `zeroStart` to `start`, literal [start, end)) at `at`; returns
 * the address after it, or 0 when the XOR form would then exceed `limit`.
 */
function writePair(at: usize, limit: usize, out: usize, prev: usize, cur: usize, zeroStart: u32, start: u32, end: u32): usize {
  const zeroRun = start - zeroStart;
  const literalRun = end - start;
  if (at + varintSize(zeroRun) + varintSize(literalRun) + literalRun > limit) return 0;
  // Overrunning stores are safe while 16 more bytes exist in both frames and in `out`.
  const overrun = end + 16 <= FRAME && <u32>(at - out) + 4 + literalRun + 16 <= DELTA_MAX_BYTES;
  at = writeVarint(at, zeroRun);
  at = writeVarint(at, literalRun);
  return writeLiteral(at, prev, cur, start, end, overrun);
}

/**
 * Encodes the 4 KiB frame at `cur` against its previous copy at `prev` into `out` and returns
 * the number of bytes written (1..4097). The XOR form is written when it takes at most
 * `xorLimit` bytes (1..4096), the RAW form otherwise; `out` must have room for 4097 bytes, and
 * bytes of it past the returned length may be overwritten (scratch).
 *
 * Works on 64-byte chunks: `m` = changed-byte mask of the chunk (four v128 compares), the masks
 * of the neighbouring chunks supply the two bits on either side, and `f` = `m` plus the
 * unchanged bytes of gaps shorter than 3 bytes with changed bytes on both sides — the bytes
 * that belong to literals. Bits where `f` differs from the bit before are the run boundaries,
 * visited with count-trailing-zeros; chunks with no boundary cost one mask computation.
 */
export function deltaEncode(prev: usize, cur: usize, out: usize, xorLimit: u32): u32 {
  store<u8>(out, KIND_XOR);
  let at = out + 1;
  const limit = out + xorLimit;
  let zeroStart: u32 = 0;
  let literalStart: u32 = 0;
  let before: u64 = 0;
  let mask = changedMask64(prev, cur, 0);
  let previousTop: u64 = 0;
  for (let offset: u32 = 0; offset < FRAME; offset += 64) {
    const after = changedMask64(prev, cur, offset + 64);
    if ((before | mask | after) != 0) {
      const left1 = (mask << 1) | (before >> 63);
      const left2 = (mask << 2) | (before >> 62);
      const right1 = (mask >> 1) | (after << 63);
      const right2 = (mask >> 2) | (after << 62);
      const literal = mask | (left1 & right1) | (left1 & right2) | (left2 & right1);
      let boundaries = literal ^ ((literal << 1) | previousTop);
      previousTop = literal >> 63;
      while (boundaries != 0) {
        const bit = <u32>ctz<u64>(boundaries);
        boundaries &= boundaries - 1;
        const position = offset + bit;
        if (((literal >> bit) & 1) != 0) {
          literalStart = position;
          continue;
        }
        at = writePair(at, limit, out, prev, cur, zeroStart, literalStart, position);
        if (at == 0) return writeRaw(out, cur);
        zeroStart = position;
      }
    }
    before = mask;
    mask = after;
  }
  if (previousTop != 0) {
    at = writePair(at, limit, out, prev, cur, zeroStart, literalStart, FRAME);
    if (at == 0) return writeRaw(out, cur);
  }
  return <u32>(at - out);
}

/** Writes the RAW form of the frame at `cur`; returns its length. */
function writeRaw(out: usize, cur: usize): u32 {
  store<u8>(out, KIND_RAW);
  memory.copy(out + 1, cur, FRAME);
  return DELTA_MAX_BYTES;
}

/** Packs a decode error: negative, problem code in the low 4 bits, delta offset above. */
// @ts-ignore: decorator
@inline function problem(code: i32, offset: u32): i32 {
  return -(code | (<i32>offset << 4));
}

/**
 * Reads the varint at delta byte `i` (< length): (value << 2) | byteCount when valid, else a
 * packed problem (negative).
 */
function readVarint(delta: usize, length: u32, i: u32): i32 {
  const first = <u32>load<u8>(delta + i);
  if ((first & 0x80) == 0) return <i32>((first << 2) | 1);
  if (i + 1 >= length) return problem(PROBLEM_TRUNCATED_VARINT, i);
  const second = <u32>load<u8>(delta + i + 1);
  if ((second & 0x80) != 0) return problem(PROBLEM_VARINT_TOO_LONG, i);
  if (second == 0) return problem(PROBLEM_VARINT_NOT_MINIMAL, i);
  return <i32>((((first & 0x7f) | (second << 7)) << 2) | 2);
}

/** Checks the pairs of an XOR-form delta of `length` bytes; 0 when valid, else a packed problem. */
function validateXor(delta: usize, length: u32): i32 {
  let i: u32 = 1;
  let position: u32 = 0;
  while (i < length) {
    const zero = readVarint(delta, length, i);
    if (zero < 0) return zero;
    position += <u32>zero >>> 2;
    if (position > FRAME) return problem(PROBLEM_RUN_PAST_END, i);
    i += <u32>zero & 3;
    if (i >= length) return problem(PROBLEM_MISSING_LITERAL_LENGTH, i);
    const literal = readVarint(delta, length, i);
    if (literal < 0) return literal;
    const literalRun = <u32>literal >>> 2;
    if (literalRun == 0) return problem(PROBLEM_EMPTY_LITERAL, i);
    position += literalRun;
    if (position > FRAME) return problem(PROBLEM_RUN_PAST_END, i);
    i += <u32>literal & 3;
    if (literalRun > length - i) return problem(PROBLEM_TRUNCATED_LITERAL, i);
    i += literalRun;
  }
  return 0;
}

/**
 * XORs `count` delta bytes at `source` into the frame bytes at `target`. With `padded` (the
 * caller checked that `count` rounded up to 16 bytes stays inside the frame and inside memory)
 * the last step is a full 16-byte access with the lanes past `count` masked to zero, so those
 * frame bytes are rewritten unchanged; this avoids a branchy byte tail per literal run.
 */
function xorInto(target: usize, source: usize, count: u32, padded: bool): void {
  let k: u32 = 0;
  if (padded) {
    const lanes = i8x16(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    do {
      const keep = i8x16.lt_u(lanes, i8x16.splat(<i8>min<u32>(count - k, 16)));
      v128.store(target + k, v128.xor(v128.load(target + k), v128.and(v128.load(source + k), keep)));
      k += 16;
    } while (k < count);
    return;
  }
  while (k + 16 <= count) {
    v128.store(target + k, v128.xor(v128.load(target + k), v128.load(source + k)));
    k += 16;
  }
  if (k + 8 <= count) {
    store<u64>(target + k, load<u64>(target + k) ^ load<u64>(source + k));
    k += 8;
  }
  if (k + 4 <= count) {
    store<u32>(target + k, load<u32>(target + k) ^ load<u32>(source + k));
    k += 4;
  }
  while (k < count) {
    store<u8>(target + k, load<u8>(target + k) ^ load<u8>(source + k));
    k += 1;
  }
}

/** Applies an already validated XOR-form delta to the frame at `out`. */
function applyXor(delta: usize, length: u32, out: usize): void {
  const memoryEnd = <usize>memory.size() << 16;
  let i: u32 = 1;
  let position: u32 = 0;
  while (i < length) {
    const zero = readVarint(delta, length, i);
    position += <u32>zero >>> 2;
    i += <u32>zero & 3;
    const literal = readVarint(delta, length, i);
    const literalRun = <u32>literal >>> 2;
    i += <u32>literal & 3;
    const rounded = (literalRun + 15) & ~15;
    const padded = position + rounded <= FRAME && delta + i + rounded <= memoryEnd;
    xorInto(out + position, delta + i, literalRun, padded);
    position += literalRun;
    i += literalRun;
  }
}

/**
 * Applies the delta of `length` bytes at `delta` to the previous frame at `prev`, writing the
 * new frame at `out` (`out` may equal `prev`: in place). Returns 0, or a negative packed problem
 * when the delta is invalid, in which case nothing was written.
 */
export function deltaDecode(delta: usize, length: u32, prev: usize, out: usize): i32 {
  if (length == 0) return problem(PROBLEM_EMPTY, 0);
  if (length > DELTA_MAX_BYTES) return problem(PROBLEM_TOO_LONG, DELTA_MAX_BYTES);
  const kind = load<u8>(delta);
  if (kind == KIND_RAW) {
    if (length != DELTA_MAX_BYTES) return problem(PROBLEM_RAW_LENGTH, length);
    memory.copy(out, delta + 1, FRAME);
    return 0;
  }
  if (kind != KIND_XOR) return problem(PROBLEM_UNKNOWN_KIND, 0);
  const invalid = validateXor(delta, length);
  if (invalid != 0) return invalid;
  if (out != prev) memory.copy(out, prev, FRAME);
  applyXor(delta, length, out);
  return 0;
}
