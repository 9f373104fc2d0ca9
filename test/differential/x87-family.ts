/**
 * Host-CPU differential test, x87 family: each case starts with FRSTOR of a generated
 * 108-byte state image (SDM vol. 1 §8.1.10 / Figure 8-9, 32-bit protected-mode layout: FCW,
 * FSW, full tag word, FIP, FCS+FOP, FDP, FDS, then ST(0)..ST(7) as 80-bit values), runs one
 * or two x87 instructions, and ends with FNSAVE; the saved image is compared exactly with
 * the host's, except:
 *  - the pointer fields: FCS and FDS (selectors differ between the native 32-bit process
 *    and our flat segments), FOP and FDP (this host only records them for unmasked
 *    exceptions: CPUID.(EAX=7):EBX bit 6 "FDP_EXCPTN_ONLY"; FOP likewise since the
 *    Pentium 4's FOP-compatibility default); FIP is compared (the code is at the same address);
 *  - the condition-code bits the SDM calls undefined for the instruction ("FPU Flags
 *    Affected" on each page of vol. 2);
 *  - FSIN FCOS FSINCOS FPTAN FPATAN F2XM1 FYL2X FYL2XP1: stack values within 1 unit in the last
 *    place of the 64-bit significand are accepted, and C1 is not compared unless the
 *    instruction had a stack fault (see `maskX87Pointers`).
 * Exceptions are all masked (FCW bits 0-5 set); precision and rounding control are random.
 */
import {
  DATA_BASE, FPU_IN, FPU_OUT, OPERAND_AREA, Rng, freshState, le32, modrmAbs, poke, type DiffCase, type Outcome,
} from './cases.js';
import type { Family } from './families.js';

const C0 = 0x100, C1 = 0x200, C2 = 0x400, C3 = 0x4000;
/** Stack fault flag of the status word. */
const SW_SF = 0x40;
const IMG_FSW = 4, IMG_FTW = 8, IMG_FIP = 12, IMG_REGS = 28;

/** Cases whose condition codes are partly undefined, and which compare transcendentally. */
interface X87Case extends DiffCase {
  /** FSW bits the SDM leaves undefined. */
  fswUndefined: number;
  /** Transcendental: 1-ulp tolerance on the stack values. */
  ulp: boolean;
}

/** A random 80-bit value of one of the interesting classes, as 10 little-endian bytes. */
function randomF80(r: Rng): Uint8Array {
  const out = new Uint8Array(10);
  const sign = r.chance(0.5) ? 0x8000 : 0;
  let exp: number, hi: number, lo: number;
  const sig = () => { hi = (r.u32() | 0x80000000) >>> 0; lo = r.u32(); };
  hi = 0; lo = 0;
  switch (r.below(16)) {
    case 0: exp = 0; break; // zero
    case 1: exp = 0x7fff; hi = 0x80000000; break; // infinity
    case 2: exp = 0x7fff; hi = (0xc0000000 | (r.u32() & 0x3fffffff)) >>> 0; lo = r.u32(); break; // QNaN
    case 3: exp = 0x7fff; hi = (0x80000000 | (r.u32() & 0x3fffffff) | 1) >>> 0; lo = r.u32(); break; // SNaN
    case 4: exp = 0; hi = r.u32() & 0x7fffffff; lo = r.u32(); break; // denormal
    case 5: exp = r.chance(0.5) ? 0 : r.range(1, 0x7ffe); hi = r.u32() & 0x7fffffff; lo = r.u32(); break; // pseudo-denormal / unnormal
    case 6: { // small integer
      const v = r.range(1, 100000);
      const bits = 32 - Math.clz32(v);
      exp = 0x3fff + bits - 1; hi = (v << (32 - bits)) >>> 0; lo = 0; break;
    }
    case 7: exp = r.range(0x3ff0, 0x400f); hi = 0x80000000; lo = 0; break; // powers of two
    case 8: exp = r.range(0x3ffd, 0x4001); sig(); break; // near 1 (trig, logs)
    case 9: exp = r.range(0x3fc0, 0x403f); sig(); break; // up to 2^64 (trig reduction, integers)
    case 10: exp = r.range(1, 0x7ffe); sig(); break; // anywhere
    case 11: exp = r.chance(0.5) ? r.range(1, 0x40) : r.range(0x7fc0, 0x7ffe); sig(); break; // extremes
    case 12: exp = r.range(0x3c00, 0x4400); hi = (0x80000000 | (r.u32() & 0xfffff800)) >>> 0; lo = 0; break; // double-exact
    default: exp = r.range(0x3f80, 0x407f); sig(); break;
  }
  if (r.chance(0.05)) { hi = (hi & ~0x80000000) >>> 0; } // unsupported/unnormal encodings now and then
  const v = new DataView(out.buffer);
  v.setUint32(0, lo! >>> 0, true);
  v.setUint32(4, hi! >>> 0, true);
  v.setUint16(8, exp | sign, true);
  return out;
}

/** The tag of an 80-bit value (SDM vol. 1 §8.1.7): 0 valid, 1 zero, 2 special. */
function tagOf(b: Uint8Array): number {
  const v = new DataView(b.buffer, b.byteOffset, 10);
  const exp = v.getUint16(8, true) & 0x7fff, hi = v.getUint32(4, true), lo = v.getUint32(0, true);
  if (exp === 0) return hi === 0 && lo === 0 ? 1 : 2;
  if (exp === 0x7fff) return 2;
  return (hi & 0x80000000) !== 0 ? 0 : 2;
}

/** A random memory operand of `bytes` bytes in a given format, written into the window. */
function memOperand(r: Rng, data: Uint8Array, kind: 'f32' | 'f64' | 'f80' | 'i16' | 'i32' | 'i64' | 'bcd'): number {
  const size = { f32: 4, f64: 8, f80: 10, i16: 2, i32: 4, i64: 8, bcd: 10 }[kind];
  const offset = r.below(OPERAND_AREA - 16) & ~(r.chance(0.8) ? size >= 8 ? 7 : size - 1 : 0);
  const dv = new DataView(data.buffer);
  switch (kind) {
    case 'f32':
      if (r.chance(0.5)) dv.setFloat32(offset, r.pick([0, -0, 1, -1, 0.5, 1e-40, Infinity, -Infinity, NaN, 3.4e38, 1.5, Math.PI]), true);
      else dv.setUint32(offset, r.u32(), true);
      break;
    case 'f64':
      if (r.chance(0.5)) dv.setFloat64(offset, r.pick([0, -0, 1, -1, 2.5, 1e-310, Infinity, -Infinity, NaN, 1.7e308, (r.u32() - 2 ** 31) / 7, Math.PI * r.range(-9, 9)]), true);
      else { dv.setUint32(offset, r.u32(), true); dv.setUint32(offset + 4, r.u32(), true); }
      break;
    case 'f80': data.set(randomF80(r), offset); break;
    case 'i16': dv.setUint16(offset, r.chance(0.5) ? r.range(0, 200) - 100 : r.u32() & 0xffff, true); break;
    case 'i32': dv.setUint32(offset, r.chance(0.5) ? (r.range(0, 2000) - 1000) >>> 0 : r.u32(), true); break;
    case 'i64': dv.setUint32(offset, r.u32(), true); dv.setUint32(offset + 4, r.chance(0.5) ? (r.chance(0.5) ? 0 : 0xffffffff) : r.u32(), true); break;
    case 'bcd':
      for (let k = 0; k < 9; k++) data[offset + k] = r.chance(0.95) ? (r.below(10) << 4) | r.below(10) : r.below(256);
      data[offset + 9] = r.chance(0.5) ? 0x80 : r.chance(0.9) ? 0 : r.below(256);
      break;
  }
  return offset;
}

const CONSTANTS = ['FLD1', 'FLDL2T', 'FLDL2E', 'FLDPI', 'FLDLG2', 'FLDLN2', 'FLDZ'];
const ARITH = ['FADD', 'FMUL', 'FCOM', 'FCOMP', 'FSUB', 'FSUBR', 'FDIV', 'FDIVR'];
const UNDEF_C023 = C0 | C2 | C3;

interface Ins87 { name: string; bytes: number[]; undef: number; ulp?: boolean; }

/** One x87 instruction (and the memory operand it reads), with its undefined condition codes. */
function randomInstruction(r: Rng, data: Uint8Array): Ins87 {
  const mem = (reg: number, offset: number) => modrmAbs(reg, DATA_BASE + offset);
  const at = (o: number) => `[${(DATA_BASE + o).toString(16)}]`;
  const i = r.below(8);
  switch (r.below(15)) {
    case 0: { // loads (SDM "FLD", "FILD", "FBLD": C1 stack/round, C0 C2 C3 undefined)
      const k = r.below(7);
      const forms: [string, 'f32' | 'f64' | 'f80' | 'i16' | 'i32' | 'i64' | 'bcd', number, number][] = [
        ['FLD m32', 'f32', 0xd9, 0], ['FLD m64', 'f64', 0xdd, 0], ['FLD m80', 'f80', 0xdb, 5], ['FILD m16', 'i16', 0xdf, 0],
        ['FILD m32', 'i32', 0xdb, 0], ['FILD m64', 'i64', 0xdf, 5], ['FBLD m80', 'bcd', 0xdf, 4]];
      const [name, kind, op, reg] = forms[k];
      const o = memOperand(r, data, kind);
      return { name: `${name} ${at(o)}`, bytes: [op, ...mem(reg, o)], undef: UNDEF_C023 };
    }
    case 1: { // stores ("FST/FSTP", "FIST/FISTP", "FBSTP": C0 C2 C3 undefined)
      const forms: [string, number, number][] = [
        ['FST m32', 0xd9, 2], ['FSTP m32', 0xd9, 3], ['FST m64', 0xdd, 2], ['FSTP m64', 0xdd, 3], ['FSTP m80', 0xdb, 7],
        ['FIST m16', 0xdf, 2], ['FISTP m16', 0xdf, 3], ['FIST m32', 0xdb, 2], ['FISTP m32', 0xdb, 3], ['FISTP m64', 0xdf, 7],
        ['FBSTP m80', 0xdf, 6]];
      const [name, op, reg] = r.pick(forms);
      const o = r.below(OPERAND_AREA - 16);
      return { name: `${name} ${at(o)}`, bytes: [op, ...mem(reg, o)], undef: UNDEF_C023 };
    }
    case 2: { // register loads/stores/exchange, constants ("FLD", "FST", "FXCH", "FLD1...": C0 C2 C3 undefined)
      const k = r.below(5);
      if (k === 0) return { name: `FLD st(${i})`, bytes: [0xd9, 0xc0 + i], undef: UNDEF_C023 };
      if (k === 1) return { name: `FST st(${i})`, bytes: [0xdd, 0xd0 + i], undef: UNDEF_C023 };
      if (k === 2) return { name: `FSTP st(${i})`, bytes: [0xdd, 0xd8 + i], undef: UNDEF_C023 };
      if (k === 3) return { name: `FXCH st(${i})`, bytes: [0xd9, 0xc8 + i], undef: UNDEF_C023 };
      const c = r.below(7);
      return { name: CONSTANTS[c], bytes: [0xd9, 0xe8 + c], undef: UNDEF_C023 };
    }
    case 3: case 4: { // arithmetic with memory operands ("FADD" etc.: C0 C2 C3 undefined; "FCOM": all defined)
      const k = r.below(8);
      const form = r.below(4);
      const [op, kind, what] = ([[0xd8, 'f32', 'm32'], [0xdc, 'f64', 'm64'], [0xda, 'i32', 'm32int'], [0xde, 'i16', 'm16int']] as const)[form];
      const o = memOperand(r, data, kind);
      const name = `${form >= 2 ? ARITH[k].replace('F', 'FI') : ARITH[k]} ${what} ${at(o)}`;
      return { name, bytes: [op, ...mem(k, o)], undef: k === 2 || k === 3 ? 0 : UNDEF_C023 };
    }
    case 5: case 6: { // arithmetic between registers: D8 st0,st(i); DC st(i),st0; DE ...P st(i),st0
      const k = r.below(8);
      const form = r.below(3);
      const op = [0xd8, 0xdc, 0xde][form];
      if (form > 0 && (k === 2 || k === 3)) {
        // DC D0-DF and DE D0-D7 are undocumented aliases of FCOM/FCOMP; DE D9 is FCOMPP.
        return { name: 'FCOMPP', bytes: [0xde, 0xd9], undef: 0 };
      }
      const name = form === 0 ? `${ARITH[k]} st0, st(${i})` : `${ARITH[k]}${form === 2 ? 'P' : ''} st(${i}), st0`;
      return { name, bytes: [op, 0xc0 + k * 8 + i], undef: k === 2 || k === 3 ? 0 : UNDEF_C023 };
    }
    case 7: { // one-operand arithmetic ("FSQRT", "FRNDINT", "FSCALE", "FXTRACT", "FABS", "FCHS": C0 C2 C3 undefined)
      const ops: [string, number][] = [['FSQRT', 0xfa], ['FRNDINT', 0xfc], ['FSCALE', 0xfd], ['FXTRACT', 0xf4], ['FABS', 0xe1], ['FCHS', 0xe0]];
      const [name, b] = r.pick(ops);
      return { name, bytes: [0xd9, b], undef: UNDEF_C023 };
    }
    case 8: { // partial remainders ("FPREM", "FPREM1": C0 C1 C2 C3 all defined)
      return r.chance(0.5) ? { name: 'FPREM', bytes: [0xd9, 0xf8], undef: 0 } : { name: 'FPREM1', bytes: [0xd9, 0xf5], undef: 0 };
    }
    case 9: { // compares ("FCOM", "FUCOM", "FTST", "FXAM": defined; FCOMI/FUCOMI: C0 C2 C3 undefined per vol. 1 Table 8-3)
      const k = r.below(10);
      const forms: Ins87[] = [
        { name: `FCOM st(${i})`, bytes: [0xd8, 0xd0 + i], undef: 0 }, { name: `FCOMP st(${i})`, bytes: [0xd8, 0xd8 + i], undef: 0 },
        { name: `FUCOM st(${i})`, bytes: [0xdd, 0xe0 + i], undef: 0 }, { name: `FUCOMP st(${i})`, bytes: [0xdd, 0xe8 + i], undef: 0 },
        { name: 'FUCOMPP', bytes: [0xda, 0xe9], undef: 0 }, { name: `FCOMI st0, st(${i})`, bytes: [0xdb, 0xf0 + i], undef: UNDEF_C023 },
        { name: `FUCOMI st0, st(${i})`, bytes: [0xdb, 0xe8 + i], undef: UNDEF_C023 }, { name: `FCOMIP st0, st(${i})`, bytes: [0xdf, 0xf0 + i], undef: UNDEF_C023 },
        { name: `FUCOMIP st0, st(${i})`, bytes: [0xdf, 0xe8 + i], undef: UNDEF_C023 },
        r.chance(0.5) ? { name: 'FTST', bytes: [0xd9, 0xe4], undef: 0 } : { name: 'FXAM', bytes: [0xd9, 0xe5], undef: 0 },
      ];
      return forms[k];
    }
    case 10: { // FCMOVcc ("FCMOVcc": C0 C2 C3 undefined)
      const cc = r.below(8);
      const names = ['FCMOVB', 'FCMOVE', 'FCMOVBE', 'FCMOVU', 'FCMOVNB', 'FCMOVNE', 'FCMOVNBE', 'FCMOVNU'];
      return { name: `${names[cc]} st0, st(${i})`, bytes: [cc < 4 ? 0xda : 0xdb, 0xc0 + (cc & 3) * 8 + i], undef: UNDEF_C023 };
    }
    case 11: { // stack management ("FINCSTP", "FDECSTP": C0 C2 C3 undefined; "FFREE": all undefined)
      const k = r.below(3);
      if (k === 0) return { name: 'FINCSTP', bytes: [0xd9, 0xf7], undef: UNDEF_C023 };
      if (k === 1) return { name: 'FDECSTP', bytes: [0xd9, 0xf6], undef: UNDEF_C023 };
      return { name: `FFREE st(${i})`, bytes: [0xdd, 0xc0 + i], undef: UNDEF_C023 | C1 };
    }
    case 12: { // control/status ("FLDCW", "FSTCW", "FSTSW": C0-C3 undefined)
      const k = r.below(3);
      const o = r.below(OPERAND_AREA - 2);
      if (k === 0) {
        poke(data, o, 0x7f | (r.pick([0, 2, 3]) << 8) | (r.below(4) << 10) | (r.chance(0.1) ? 0x1000 : 0), 16);
        return { name: `FLDCW ${at(o)}`, bytes: [0xd9, ...mem(5, o)], undef: UNDEF_C023 | C1 };
      }
      if (k === 1) return { name: `FNSTCW ${at(o)}`, bytes: [0xd9, ...mem(7, o)], undef: UNDEF_C023 | C1 };
      return r.chance(0.5) ? { name: 'FNSTSW ax', bytes: [0xdf, 0xe0], undef: UNDEF_C023 | C1 } : { name: `FNSTSW ${at(o)}`, bytes: [0xdd, ...mem(7, o)], undef: UNDEF_C023 | C1 };
    }
    default: { // transcendentals (FSIN FCOS FSINCOS FPTAN: C2 defined, C0 C3 undefined; FPATAN F2XM1 FYL2X FYL2XP1: C0 C2 C3 undefined)
      const ops: [string, number, number][] = [
        ['FSIN', 0xfe, C0 | C3], ['FCOS', 0xff, C0 | C3], ['FSINCOS', 0xfb, C0 | C3], ['FPTAN', 0xf2, C0 | C3],
        ['FPATAN', 0xf3, UNDEF_C023], ['F2XM1', 0xf0, UNDEF_C023], ['FYL2X', 0xf1, UNDEF_C023], ['FYL2XP1', 0xf9, UNDEF_C023]];
      const [name, b, undef] = r.pick(ops);
      return { name, bytes: [0xd9, b], undef, ulp: true };
    }
  }
}

/** Build the FRSTOR image: random TOP, a random number of valid registers, consistent tags, all exceptions masked. */
function stateImage(r: Rng, data: Uint8Array): void {
  const img = new Uint8Array(108);
  const dv = new DataView(img.buffer);
  const pc = r.pick([0, 2, 3, 3]), rc = r.below(4);
  dv.setUint16(0, 0x7f | (pc << 8) | (rc << 10), true);
  const top = r.below(8);
  const cc = r.chance(0.5) ? 0 : r.u32() & (C0 | C1 | C2 | C3);
  const sticky = r.chance(0.3) ? r.u32() & 0x3f : 0;
  dv.setUint16(IMG_FSW, (top << 11) | cc | sticky, true);
  const depth = r.chance(0.1) ? r.below(9) : r.range(2, 8);
  let tags = 0;
  for (let st = 0; st < 8; st++) {
    const phys = (top + st) & 7;
    const value = randomF80(r);
    img.set(value, IMG_REGS + st * 10);
    const tag = st < depth ? tagOf(value) : 3;
    tags |= tag << (phys * 2);
  }
  dv.setUint16(IMG_FTW, tags, true);
  data.set(img, FPU_IN - DATA_BASE);
}

function genX87(r: Rng): DiffCase {
  const st = freshState(r);
  stateImage(r, st.data);
  const first = randomInstruction(r, st.data);
  const list = [first];
  // Transcendentals run alone, so that their operand (and domain) is the generated ST(0).
  if (!first.ulp && r.chance(0.25)) {
    const second = randomInstruction(r, st.data);
    if (!second.ulp) list.push(second);
  }
  const code = [0xdd, 0x25, ...le32(FPU_IN), ...list.flatMap((x) => x.bytes), 0xdd, 0x35, ...le32(FPU_OUT)];
  // With two instructions the union of their undefined condition codes is masked (a little more than needed).
  let undef = 0;
  for (const x of list) undef |= x.undef;
  const c: X87Case = {
    name: list.map((x) => x.name).join('; '), code: Uint8Array.from(code), regs: st.regs, eflags: st.eflags, data: st.data,
    undefinedFlags: 0, x87: true, fswUndefined: undef, ulp: first.ulp === true,
  };
  if (first.ulp) transcendentalDomain(c, first.name);
  return c;
}

/** ST(0) of the FRSTOR image as a number (NaN for empty, NaN or unsupported encodings). */
function inputSt0(data: Uint8Array): number {
  const img = new DataView(data.buffer, FPU_IN - DATA_BASE, 108);
  const top = (img.getUint16(IMG_FSW, true) >> 11) & 7;
  if (((img.getUint16(IMG_FTW, true) >> (top * 2)) & 3) === 3) return NaN;
  const se = img.getUint16(IMG_REGS + 8, true), exp = se & 0x7fff;
  const hi = img.getUint32(IMG_REGS + 4, true), lo = img.getUint32(IMG_REGS, true);
  if (exp === 0x7fff || (exp !== 0 && (hi & 0x80000000) === 0)) return NaN;
  const mag = (hi * 2 ** 32 + lo) * 2 ** (Math.max(exp, 1) - 0x3fff - 63);
  return se & 0x8000 ? -mag : mag;
}

/**
 * Results the SDM leaves undefined for a transcendental's operand: F2XM1 outside [-1, 1]
 * ("F2XM1": "If the source value is outside this range, the result is undefined"), FYL2XP1
 * outside ±(1 - √2/2) ("FYL2XP1": the result is undefined), and C1 of FSIN FCOS FSINCOS
 * FPTAN when the operand is out of range (|x| ≥ 2^63, vol. 1 Table 8-3: "Undefined if C2 = 1").
 * An undefined result masks the whole output stack, the tag word and the exception flags.
 */
function transcendentalDomain(c: X87Case, name: string): void {
  const x = inputSt0(c.data);
  const limit = name === 'F2XM1' ? 1 : name === 'FYL2XP1' ? 1 - Math.SQRT2 / 2 : Infinity;
  if (Number.isFinite(limit) && Number.isFinite(x) && Math.abs(x) > limit) {
    const base = FPU_OUT - DATA_BASE;
    c.undefinedData = [[base + IMG_FSW, 1], [base + IMG_FTW, 2], [base + IMG_REGS, 80]];
  }
  if (['FSIN', 'FCOS', 'FSINCOS', 'FPTAN'].includes(name) && Math.abs(x) >= 2 ** 63) c.fswUndefined |= C1;
}

/** The x87 family. */
export const X87_FAMILY: Family = { name: 'x87', generate: genX87 };

/**
 * 80-bit value as sign and the ordinal of its magnitude among extended values, for ulp
 * distances: consecutive representable magnitudes have consecutive ordinals, across
 * binades too (the explicit integer bit is dropped, so 1 - 2^-64 and 1.0 are neighbours).
 * Denormals (exponent 0) count from 0 up to 2^63 - 1, then exponent e >= 1 continues at e * 2^63.
 */
function magnitude(b: Uint8Array, at: number): { sign: number; mag: bigint } {
  const v = new DataView(b.buffer, b.byteOffset + at, 10);
  const se = v.getUint16(8, true);
  const exp = BigInt(se & 0x7fff);
  const sig = (BigInt(v.getUint32(4, true)) << 32n) | BigInt(v.getUint32(0, true));
  const fraction = sig & ((1n << 63n) - 1n);
  return { sign: se >> 15, mag: (exp << 63n) | fraction };
}

/** Two finite values with the explicit integer bit where it belongs, one ulp apart. */
function withinOneUlp(a: Uint8Array, b: Uint8Array, at: number): boolean {
  if (!canonical(a, at) || !canonical(b, at)) return false;
  const x = magnitude(a, at), y = magnitude(b, at);
  if (x.sign !== y.sign) return false;
  const d = x.mag - y.mag;
  return d === 1n || d === -1n;
}

/** A finite value whose integer bit matches its exponent (normal, zero or denormal). */
function canonical(b: Uint8Array, at: number): boolean {
  const v = new DataView(b.buffer, b.byteOffset + at, 10);
  const exp = v.getUint16(8, true) & 0x7fff, j = (v.getUint32(4, true) & 0x80000000) !== 0;
  return exp !== 0x7fff && j === (exp !== 0);
}

/**
 * Mask, in the comparison of an x87 case, the FNSAVE image's FCS/FOP/FDP/FDS fields, the
 * undefined condition codes and, for transcendentals, stack values within one ulp and C1.
 * C1 of a transcendental's result is the round-up indicator (vol. 1 Table 8-3, "C1 ...
 * indicates whether the result was rounded up"), and the rounding it reports is that of the
 * processor's own approximation, whose last bit differs between implementations (the issue
 * accepts results within 1 ulp for exactly these instructions): a result can agree exactly
 * while C1 differs. After a stack fault (SF set in the host's status word; the generated
 * images never preset SF) C1 means overflow/underflow instead and is compared.
 */
export function maskX87Pointers(c: DiffCase, mask: Uint8Array, host: Outcome, emu: Outcome): void {
  const x = c as X87Case;
  const base = FPU_OUT - DATA_BASE;
  mask.fill(0, base + IMG_FIP + 4, base + IMG_FIP + 16); // FCS+FOP, FDP, FDS
  const undef = x.fswUndefined;
  mask[base + IMG_FSW + 1] &= ~(undef >> 8) & 0xff;
  if (!x.ulp) return;
  const hostSw = host.data[base + IMG_FSW] | (host.data[base + IMG_FSW + 1] << 8);
  if ((hostSw & SW_SF) === 0) mask[base + IMG_FSW + 1] &= ~(C1 >> 8) & 0xff;
  for (let k = 0; k < 8; k++) {
    const at = base + IMG_REGS + k * 10;
    let same = true;
    for (let b = 0; b < 10; b++) if (host.data[at + b] !== emu.data[at + b]) same = false;
    if (!same && withinOneUlp(host.data, emu.data, at)) mask.fill(0, at, at + 10);
  }
}
