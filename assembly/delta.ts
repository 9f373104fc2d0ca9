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
 * shifts and count-trailing-zeros on that mask; a pair's two varints go out in one store and
 * literals of up to 64 bytes in four unconditional 16-byte stores (the output past the returned
 * length is scratch), so the usual short literals cost no length-dependent branches. The
 * decoder reads each pair's two varints from one u32 load without branches, validates each
 * pair into a single error flag tested by one well-predicted branch (the exact, branchy check
 * runs only on the last bytes and to name the problem of a rejected delta), and XORs literals into the frame with 16-byte steps (8/4/1-byte
 * steps below 16) that overlap instead of looping over a tail, touching no byte outside the
 * literal.
 *
 * Decode in place (output = previous copy) is one pass: each pair is validated and applied at
 * once; when a later pair turns out invalid, the pairs already applied are XORed in again (XOR
 * is its own inverse), so when decode returns a rejected delta has left the frame byte for byte
 * as it was (a thread reading the frame during the call may see the transient change). Decode
 * into another frame validates the whole delta before writing anything (an undo could not bring
 * back the output's old contents), so there a rejected delta never writes the output. Either
 * way a valid delta writes only the 4096 bytes of the output frame. Errors come
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
 * The varint bytes of `value` (< 16384) as a little-endian number: one byte below 128, else two
 * (low 7 bits with the continuation bit, then the high bits). Branch-free.
 */
// @ts-ignore: decorator
@inline function varintBytes(value: u32): u32 {
  const long = <u32>(value > 127);
  return (value & 0x7f) | (long << 7) | ((value >>> 7) << 8);
}

/**
 * Writes one pair (zero run from `zeroStart` to `start`, literal [start, end)) at `at`; returns
 * the address after it, or 0 when the XOR form would then exceed `limit`. Both varints go out
 * in one 4-byte store (the bytes past them are scratch, overwritten by the literal or the next
 * pair). Literals of up to 64 bytes away from the frame and output ends are written with four
 * unconditional 16-byte stores (the bytes past the literal are scratch as well), so the number
 * of steps does not depend on the length and costs no mispredicted loop exit.
 */
// @ts-ignore: decorator
@inline function writePair(at: usize, limit: usize, out: usize, prev: usize, cur: usize, zeroStart: u32, start: u32, end: u32): usize {
  const zeroRun = start - zeroStart;
  const literalRun = end - start;
  const zeroLong = <u32>(zeroRun > 127);
  const literalLong = <u32>(literalRun > 127);
  const header = 2 + zeroLong + literalLong;
  if (at + header + literalRun > limit) return 0;
  // at + header + literalRun <= out + 4096 and literalRun >= 1, so 4 bytes at `at` fit in out.
  store<u32>(at, varintBytes(zeroRun) | (varintBytes(literalRun) << ((1 + zeroLong) << 3)));
  at += header;
  if (start + 64 <= FRAME && <u32>(at - out) + 64 <= DELTA_MAX_BYTES) {
    v128.store(at, v128.xor(v128.load(prev + start), v128.load(cur + start)));
    v128.store(at, v128.xor(v128.load(prev + start, 16), v128.load(cur + start, 16)), 16);
    v128.store(at, v128.xor(v128.load(prev + start, 32), v128.load(cur + start, 32)), 32);
    v128.store(at, v128.xor(v128.load(prev + start, 48), v128.load(cur + start, 48)), 48);
    if (literalRun <= 64) return at + literalRun;
    const overrun = end + 16 <= FRAME && <u32>(at - out) + literalRun + 16 <= DELTA_MAX_BYTES;
    return writeLiteral(at + 64, prev, cur, start + 64, end, overrun);
  }
  const overrun = end + 16 <= FRAME && <u32>(at - out) + literalRun + 16 <= DELTA_MAX_BYTES;
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

/**
 * Checks the pairs of an XOR-form delta of `length` bytes from delta byte `i`, frame position
 * `position` on (the pairs before are valid); 0 when valid, else a packed problem. Exact and
 * branchy: used for the last few bytes of a delta and to name the problem of a rejected one.
 */
function validateXorFrom(delta: usize, length: u32, i: u32, position: u32): i32 {
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

/*
 * Pair heads. While 4 bytes of the delta remain at a pair's start, both its varints are inside
 * one little-endian u32 `w`, and they are decoded without branches: c = bit 7 of the first byte
 * (a second byte follows), value = low 7 bits | (next byte << 7 when c). The second byte's own
 * bit 7 lands in bit 14 of the value, so a too-long varint shows as a value >= 16384 (and
 * makes the runs pass the frame end); a non-minimal one is c with a zero second byte.
 */

/** Value of the varint starting in the low byte of `w` (see above). */
// @ts-ignore: decorator
@inline function headValue(w: u32, long: u32): u32 {
  return (w & 0x7f) | ((w >>> 1) & (0x7f80 & (0 - long)));
}

/**
 * Checks an XOR-form delta of `length` bytes; 0 when valid, else a packed problem. The pairs
 * with 4 bytes left at their start are checked branch-free, errors collected in one flag; the
 * last bytes, and any delta found invalid (to name the first problem), go through the exact
 * validateXorFrom.
 */
function validateXor(delta: usize, length: u32): i32 {
  let i: u32 = 1;
  let position: u32 = 0;
  let bad: u32 = 0;
  while (i + 4 <= length) {
    const w = load<u32>(delta + i);
    const zeroLong = (w >>> 7) & 1;
    const zeroRun = headValue(w, zeroLong);
    const rest = w >>> ((zeroLong << 3) + 8);
    const literalLong = (rest >>> 7) & 1;
    const literalRun = headValue(rest, literalLong);
    bad |= (zeroLong & <u32>((w & 0xff00) == 0)) | (literalLong & <u32>((rest & 0xff00) == 0)) | <u32>(literalRun == 0);
    position += zeroRun + literalRun;
    i += 2 + zeroLong + literalLong + literalRun;
  }
  if ((bad | <u32>(position > FRAME) | <u32>(i > length)) != 0) return validateXorFrom(delta, length, 1, 0);
  return validateXorFrom(delta, length, i, position);
}

/**
 * XORs one literal of `count` (>= 1) delta bytes at `source` into the frame bytes at `target`,
 * touching no byte outside the literal. Overlapping steps compute all their values from the
 * bytes as they were before any of the steps stores (XOR is not idempotent), so the overlap
 * writes the same values twice. A literal of 16..64 bytes takes four 16-byte steps at
 * offsets 0, 16, 32, 48 clamped to `count - 16`, whatever its length: no length-dependent loop.
 * Not reading or writing past the literal also keeps a literal's loads from waiting on the
 * previous literal's stores.
 */
// @ts-ignore: decorator
@inline function applyLiteral(target: usize, source: usize, count: u32): void {
  if (count >= 16) {
    const last = count - 16;
    if (count <= 64) {
      const o1 = <usize>min<u32>(16, last);
      const o2 = <usize>min<u32>(32, last);
      const o3 = <usize>min<u32>(48, last);
      const a = v128.xor(v128.load(target), v128.load(source));
      const b = v128.xor(v128.load(target + o1), v128.load(source + o1));
      const c = v128.xor(v128.load(target + o2), v128.load(source + o2));
      const d = v128.xor(v128.load(target + o3), v128.load(source + o3));
      v128.store(target, a);
      v128.store(target + o1, b);
      v128.store(target + o2, c);
      v128.store(target + o3, d);
      return;
    }
    const tail = v128.xor(v128.load(target + last), v128.load(source + last));
    let k: u32 = 0;
    do {
      v128.store(target + k, v128.xor(v128.load(target + k), v128.load(source + k)));
      k += 16;
    } while (k < last);
    v128.store(target + last, tail);
    return;
  }
  if (count >= 8) {
    const last = count - 8;
    const a = load<u64>(target) ^ load<u64>(source);
    const b = load<u64>(target + last) ^ load<u64>(source + last);
    store<u64>(target, a);
    store<u64>(target + last, b);
    return;
  }
  if (count >= 4) {
    const last = count - 4;
    const a = load<u32>(target) ^ load<u32>(source);
    const b = load<u32>(target + last) ^ load<u32>(source + last);
    store<u32>(target, a);
    store<u32>(target + last, b);
    return;
  }
  const middle = count >>> 1;
  const last = count - 1;
  const a = load<u8>(target) ^ load<u8>(source);
  const b = load<u8>(target + middle) ^ load<u8>(source + middle);
  const c = load<u8>(target + last) ^ load<u8>(source + last);
  store<u8>(target, a);
  store<u8>(target + middle, b);
  store<u8>(target + last, c);
}

/**
 * Applies the pairs of an XOR-form delta from delta byte `i` (frame position `position`) to
 * the end, with the exact varint reader. Only for pairs already validated (the tail of a delta
 * after validateXorFrom, a whole delta after validateXor, or — with `length` cut at the
 * first bad pair — the valid prefix being undone after a rejection).
 */
function applyXorFrom(delta: usize, length: u32, out: usize, i: u32, position: u32): void {
  while (i < length) {
    const zero = readVarint(delta, length, i);
    position += <u32>zero >>> 2;
    i += <u32>zero & 3;
    const literal = readVarint(delta, length, i);
    const literalRun = <u32>literal >>> 2;
    i += <u32>literal & 3;
    applyLiteral(out + position, delta + i, literalRun);
    position += literalRun;
    i += literalRun;
  }
}

/** Applies an already validated XOR-form delta to the frame at `out` (second pass). */
function applyXor(delta: usize, length: u32, out: usize): void {
  let i: u32 = 1;
  let position: u32 = 0;
  while (i + 4 <= length) {
    const w = load<u32>(delta + i);
    const zeroLong = (w >>> 7) & 1;
    const rest = w >>> ((zeroLong << 3) + 8);
    const literalLong = (rest >>> 7) & 1;
    const literalRun = headValue(rest, literalLong);
    position += headValue(w, zeroLong);
    i += 2 + zeroLong + literalLong;
    applyLiteral(out + position, delta + i, literalRun);
    position += literalRun;
    i += literalRun;
  }
  applyXorFrom(delta, length, out, i, position);
}

/**
 * Single pass, in place: validates each pair and applies it at once to the frame at `out`.
 * Returns 0, or a packed problem after undoing the pairs already applied (XORing their
 * literals again), so that a rejected delta leaves the frame as it was.
 *
 * While 4 delta bytes remain at a pair's start, the pair is checked branch-free into one flag
 * (non-minimal varint, empty literal, runs past the frame end — which also catches a too-long
 * varint, see headValue — and a literal passing the delta's end) and one well-predicted branch
 * leaves the loop before a bad pair is applied; the checks are exactly validateXorFrom's for
 * such a pair. The last bytes (at most one pair) are validated exactly before being applied.
 * A rejected delta is named by validateXorFrom from the first bad pair (the pairs before it
 * are valid), so the problem and offset are the same as the two-pass decoder's.
 */
function applyXorInPlace(delta: usize, length: u32, out: usize): i32 {
  let i: u32 = 1;
  let position: u32 = 0;
  while (i + 4 <= length) {
    const w = load<u32>(delta + i);
    const zeroLong = (w >>> 7) & 1;
    const rest = w >>> ((zeroLong << 3) + 8);
    const literalLong = (rest >>> 7) & 1;
    const literalRun = headValue(rest, literalLong);
    const start = position + headValue(w, zeroLong);
    const end = start + literalRun;
    const literalAt = i + 2 + zeroLong + literalLong;
    const next = literalAt + literalRun;
    const bad = (zeroLong & <u32>((w & 0xff00) == 0)) | (literalLong & <u32>((rest & 0xff00) == 0))
      | <u32>(literalRun == 0) | <u32>(end > FRAME) | <u32>(next > length);
    if (bad != 0) break;
    applyLiteral(out + start, delta + literalAt, literalRun);
    position = end;
    i = next;
  }
  if (i == length) return 0; // the usual end: every pair had 4 bytes at its start
  const invalid = validateXorFrom(delta, length, i, position);
  if (invalid != 0) {
    // XOR is its own inverse: applying the pairs before delta byte i again removes them
    // (they are valid, so the exact reader bounded at i reads exactly them; error path only).
    applyXorFrom(delta, i, out, 1, 0);
    return invalid;
  }
  applyXorFrom(delta, length, out, i, position);
  return 0;
}

/**
 * Applies the delta of `length` bytes at `delta` to the previous frame at `prev`, writing the
 * new frame at `out` (`out` may equal `prev`: in place). Returns 0, or a negative packed problem
 * when the delta is invalid, in which case the output frame holds its old contents again (in
 * place: pairs applied before the problem was found were undone; into another frame: nothing
 * was written).
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
  if (out == prev) return applyXorInPlace(delta, length, out);
  // Into another frame: the output's old contents are not kept anywhere, so an undo could not
  // restore them; validate everything first (branch-free pass), then copy and apply.
  const invalid = validateXor(delta, length);
  if (invalid != 0) return invalid;
  memory.copy(out, prev, FRAME);
  applyXor(delta, length, out);
  return 0;
}

/** Frames below this number are the pool's reserved frames (the module's own first 64 KiB). */
const RESERVED_FRAMES: u32 = 16;

/**
 * Applies `count` deltas in place, as a receiver applies one message: the deltas lie back to
 * back from `stream`, and the list at `list` holds `count` u32 pairs (target frame number,
 * delta length) in stream order. Returns `count` when every delta was applied, else the index
 * of the first entry refused — target frame reserved or outside memory, target frame
 * overlapping the list or the stream, delta outside memory, or delta invalid; the entries
 * before it were applied, the refused entry's frame holds its old contents and later entries
 * were not touched. src/kernels/delta-kernels.ts names the problem of a refused entry.
 */
export function deltaDecodeBatch(stream: usize, list: usize, count: u32): u32 {
  const memoryBytes = <u64>memory.size() << 16;
  let streamEnd = <u64>stream;
  for (let index: u32 = 0; index < count; index++) streamEnd += <u64>load<u32>(list + (<usize>index << 3), 4);
  const listStart = <u64>list;
  const listEnd = listStart + (<u64>count << 3);
  let at = <u64>stream;
  for (let index: u32 = 0; index < count; index++) {
    const entry = list + (<usize>index << 3);
    const frame = load<u32>(entry);
    const end = at + <u64>load<u32>(entry, 4);
    const target = <u64>frame << 12;
    const targetEnd = target + FRAME;
    const refused = <u32>(frame < RESERVED_FRAMES) | <u32>(targetEnd > memoryBytes) | <u32>(end > memoryBytes)
      | <u32>(target < listEnd && listStart < targetEnd) | <u32>(target < streamEnd && <u64>stream < targetEnd);
    if (refused != 0) return index;
    if (deltaDecode(<usize>at, <u32>(end - at), <usize>target, <usize>target) != 0) return index;
    at = end;
  }
  return count;
}
