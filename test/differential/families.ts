/**
 * Host-CPU differential test: seeded random case generators, one per instruction family
 * (integer instructions; x87 is in x87-family.ts). Each generator encodes one instruction
 * (SDM vol. 2 opcode maps, appendix A) with random operand forms and interesting operand
 * values, sets up the registers, flags and operand memory it reads, and names the flags
 * (flag-masks.ts) and results the SDM leaves undefined. Memory operands stay inside the
 * data window so both sides can access them (outside it the native runner would fault and
 * the emulator would read RAM).
 */
import {
  DATA_BASE, DATA_SIZE, F, OPERAND_AREA, STACK_TOP, Rng, freshState, imm, interesting, le32, modrmAbs, modrmReg,
  opsize, poke, regName, sizeMask, withLow, type DiffCase,
} from './cases.js';
import * as M from './flag-masks.js';

/** A named generator of cases. */
export interface Family {
  name: string;
  generate(r: Rng): DiffCase;
}

type State = ReturnType<typeof freshState>;

/**
 * Set the value of register encoding `enc` at an operand size (8-bit encodings 4-7 are
 * AH..BH). ESP keeps STACK_TOP (an exception frame must land in the data window).
 */
function setReg(st: State, enc: number, bits: number, value: number): void {
  if (bits !== 8 && enc === 4) return;
  if (bits === 8) {
    const r = enc & 3, shift = enc >= 4 ? 8 : 0;
    st.regs[r] = ((st.regs[r] & ~(0xff << shift)) | ((value & 0xff) << shift)) >>> 0;
  } else {
    st.regs[enc] = withLow(st.regs[enc], value, bits);
  }
}

/** Bits of the 32-bit register holding encoding `enc` at an operand size. */
function regBits(enc: number, bits: number): { reg: number; mask: number } {
  if (bits === 8) return { reg: enc & 3, mask: enc >= 4 ? 0xff00 : 0xff };
  return { reg: enc, mask: sizeMask(bits) };
}

function makeCase(name: string, code: number[], st: State, undefinedFlags: number, extra: Partial<DiffCase> = {}): DiffCase {
  return { name, code: Uint8Array.from(code), regs: st.regs, eflags: st.eflags, data: st.data, undefinedFlags, ...extra };
}

/** An r/m operand: a register or an absolute memory address in the operand area, holding `value`. */
interface Rm {
  bytes(reg: number): number[];
  desc: string;
  isMem: boolean;
  offset: number;
  enc: number;
}

function randomRm(r: Rng, st: State, bits: number, value: number, memChance = 0.4, avoidReg = -1): Rm {
  if (r.chance(memChance)) {
    const offset = r.below(OPERAND_AREA - bits / 8 + 1);
    poke(st.data, offset, value, bits);
    return { bytes: (reg) => modrmAbs(reg, DATA_BASE + offset), desc: `[${(DATA_BASE + offset).toString(16)}]`, isMem: true, offset, enc: -1 };
  }
  let enc = r.below(8);
  if (enc === avoidReg) enc = (enc + 1 + r.below(7)) & 7;
  setReg(st, enc, bits, value);
  return { bytes: (reg) => [modrmReg(reg, enc)], desc: regName(enc, bits), isMem: false, offset: -1, enc };
}

function sizePrefix(bits: number): number[] { return opsize(bits); }

const ALU_NAMES = ['ADD', 'OR', 'ADC', 'SBB', 'AND', 'SUB', 'XOR', 'CMP'];
const LOGIC_OPS = new Set([1, 4, 6]);

/** ADD OR ADC SBB AND SUB XOR CMP, INC DEC NEG NOT TEST in every form and size. */
function genAlu(r: Rng): DiffCase {
  const st = freshState(r);
  const bits = r.pick([8, 16, 32]);
  const w = bits === 8 ? 0 : 1;
  const pre = sizePrefix(bits);
  const which = r.below(12);
  const a = interesting(r, bits), b = interesting(r, bits);
  if (which < 8) {
    const k = which, mask = LOGIC_OPS.has(k) ? M.LOGIC : M.ARITH, name = ALU_NAMES[k];
    const form = r.below(5);
    if (form === 0 || form === 1) {
      const g = r.below(8);
      const e = randomRm(r, st, bits, a);
      setReg(st, g, bits, b);
      const lock = e.isMem && k !== 7 && form === 0 && r.chance(0.1) ? [0xf0] : r.chance(0.01) ? [0xf0] : [];
      const code = [...lock, ...pre, k * 8 + form * 2 + w, ...e.bytes(g)];
      const text = form === 0 ? `${e.desc}, ${regName(g, bits)}` : `${regName(g, bits)}, ${e.desc}`;
      return makeCase(`${lock.length ? 'LOCK ' : ''}${name} ${text}`, code, st, mask);
    }
    if (form === 2) {
      setReg(st, 0, bits, a);
      return makeCase(`${name} ${regName(0, bits)}, imm${bits}`, [...pre, k * 8 + 4 + w, ...imm(b, bits)], st, mask);
    }
    const e = randomRm(r, st, bits, a);
    const lock = e.isMem && k !== 7 && r.chance(0.1) ? [0xf0] : [];
    if (form === 3 || bits === 8) {
      return makeCase(`${lock.length ? 'LOCK ' : ''}${name} ${e.desc}, imm${bits}`, [...lock, ...pre, 0x80 + w, ...e.bytes(k), ...imm(b, bits)], st, mask);
    }
    return makeCase(`${lock.length ? 'LOCK ' : ''}${name} ${e.desc}, imm8(sx)`, [...lock, ...pre, 0x83, ...e.bytes(k), b & 0xff], st, mask);
  }
  if (which === 8 || which === 9) {
    const dec = which === 9 ? 1 : 0, name = dec ? 'DEC' : 'INC';
    if (bits !== 8 && r.chance(0.3)) {
      const enc = r.below(8);
      setReg(st, enc, bits, a);
      return makeCase(`${name} ${regName(enc, bits)} (short)`, [...pre, 0x40 + dec * 8 + enc], st, M.ARITH);
    }
    const e = randomRm(r, st, bits, a);
    const lock = e.isMem && r.chance(0.1) ? [0xf0] : [];
    return makeCase(`${name} ${e.desc}`, [...lock, ...pre, 0xfe + w, ...e.bytes(dec)], st, M.ARITH);
  }
  if (which === 10) {
    const neg = r.chance(0.5), e = randomRm(r, st, bits, a);
    return makeCase(`${neg ? 'NEG' : 'NOT'} ${e.desc}`, [...pre, 0xf6 + w, ...e.bytes(neg ? 3 : 2)], st, M.ARITH);
  }
  const form = r.below(3);
  if (form === 0) {
    const g = r.below(8), e = randomRm(r, st, bits, a);
    if (e.enc !== g || bits === 8) setReg(st, g, bits, b);
    return makeCase(`TEST ${e.desc}, ${regName(g, bits)}`, [...pre, 0x84 + w, ...e.bytes(g)], st, M.LOGIC);
  }
  if (form === 1) {
    setReg(st, 0, bits, a);
    return makeCase(`TEST ${regName(0, bits)}, imm${bits}`, [...pre, 0xa8 + w, ...imm(b, bits)], st, M.LOGIC);
  }
  const e = randomRm(r, st, bits, a);
  return makeCase(`TEST ${e.desc}, imm${bits}`, [...pre, 0xf6 + w, ...e.bytes(r.below(2)), ...imm(b, bits)], st, M.LOGIC);
}

const GROUP2_NAMES = ['ROL', 'ROR', 'RCL', 'RCR', 'SHL', 'SHR', 'SAL(/6)', 'SAR'];

function shiftCount(r: Rng, bits: number): number {
  const p = r.below(10);
  if (p < 6) return r.below(32);
  if (p < 8) return r.pick([0, 1, bits - 1, bits, bits + 1, 31, 9, 17]);
  return r.range(32, 255);
}

/** Which bits of the destination are undefined, as register bits or data ranges. */
function undefinedDest(e: Rm, bits: number): Partial<DiffCase> {
  if (e.isMem) return { undefinedData: [[e.offset, bits / 8]] };
  const { reg, mask } = regBits(e.enc, bits);
  const regsMask = [0, 0, 0, 0, 0, 0, 0, 0];
  regsMask[reg] = mask;
  return { undefinedRegBits: regsMask };
}

/** ROL ROR RCL RCR SHL SHR SAL SAR (by 1, CL, imm8) and SHLD/SHRD (imm8, CL). */
function genShift(r: Rng): DiffCase {
  const st = freshState(r);
  if (r.chance(0.25)) {
    const bits = r.pick([16, 32]), pre = sizePrefix(bits);
    const right = r.chance(0.5), byCl = r.chance(0.5);
    const g = r.below(8);
    setReg(st, g, bits, interesting(r, bits));
    const e = randomRm(r, st, bits, interesting(r, bits), 0.4, g);
    let count = shiftCount(r, bits);
    if (byCl) setReg(st, 1, 8, count);
    count = byCl ? st.regs[1] & 0xff : count;
    const op = 0xa4 + (right ? 8 : 0) + (byCl ? 1 : 0);
    const code = [...pre, 0x0f, op, ...e.bytes(g), ...(byCl ? [] : [count])];
    const name = `${right ? 'SHRD' : 'SHLD'} ${e.desc}, ${regName(g, bits)}, ${byCl ? `cl(${count})` : count}`;
    const extra = M.doubleShiftResultUndefined(bits, count) ? undefinedDest(e, bits) : {};
    return makeCase(name, code, st, M.doubleShiftMask(bits, count), extra);
  }
  const bits = r.pick([8, 16, 32]), pre = sizePrefix(bits), w = bits === 8 ? 0 : 1;
  const kind = r.below(8);
  const form = r.below(3);
  const e = randomRm(r, st, bits, interesting(r, bits));
  let count: number, code: number[], how: string;
  if (form === 0) {
    count = 1; code = [...pre, 0xd0 + w, ...e.bytes(kind)]; how = '1';
  } else if (form === 1) {
    count = shiftCount(r, bits);
    code = [...pre, 0xc0 + w, ...e.bytes(kind), count]; how = `${count}`;
  } else {
    if (e.enc !== 1) setReg(st, 1, 8, shiftCount(r, bits));
    count = st.regs[1] & 0xff;
    code = [...pre, 0xd2 + w, ...e.bytes(kind)]; how = `cl(${count})`;
  }
  return makeCase(`${GROUP2_NAMES[kind]} ${e.desc}, ${how}`, code, st, M.group2Mask(kind, bits, count));
}

/** MUL IMUL DIV IDIV (one operand), IMUL r,r/m and IMUL r,r/m,imm; divides that raise #DE. */
function genMulDiv(r: Rng): DiffCase {
  const st = freshState(r);
  const pick = r.below(10);
  if (pick >= 8) {
    const bits = r.pick([16, 32]), pre = sizePrefix(bits);
    const g = r.below(8);
    setReg(st, g, bits, interesting(r, bits));
    const e = randomRm(r, st, bits, interesting(r, bits));
    const form = r.below(3);
    if (form === 0) return makeCase(`IMUL ${regName(g, bits)}, ${e.desc}`, [...pre, 0x0f, 0xaf, ...e.bytes(g)], st, M.MULTIPLY);
    if (form === 1) {
      const v = interesting(r, bits);
      return makeCase(`IMUL ${regName(g, bits)}, ${e.desc}, imm${bits}`, [...pre, 0x69, ...e.bytes(g), ...imm(v, bits)], st, M.MULTIPLY);
    }
    const v = interesting(r, 8);
    return makeCase(`IMUL ${regName(g, bits)}, ${e.desc}, imm8`, [...pre, 0x6b, ...e.bytes(g), v], st, M.MULTIPLY);
  }
  const bits = r.pick([8, 16, 32]), pre = sizePrefix(bits), w = bits === 8 ? 0 : 1;
  const kind = 4 + (pick & 3);
  const names = ['MUL', 'IMUL', 'DIV', 'IDIV'];
  const divisor = interesting(r, bits);
  const e = randomRm(r, st, bits, divisor);
  const isDiv = kind >= 6;
  if (isDiv && r.chance(0.7)) {
    // Mostly quotients that fit: a high half below the divisor (DIV) or the sign extension of the low half (IDIV).
    const low = interesting(r, bits);
    const dv = (e.isMem ? divisor : regValue(st, e.enc, bits)) >>> 0;
    let high: number;
    if (kind === 6) high = dv === 0 ? 0 : r.below(Math.min(dv, 2 ** 31));
    else high = (low & (2 ** (bits - 1))) !== 0 ? sizeMask(bits) : 0;
    setDividend(st, bits, high, low, e);
  } else {
    setDividend(st, bits, interesting(r, bits), interesting(r, bits), e);
  }
  return makeCase(`${names[kind - 4]} ${e.desc}`, [...pre, 0xf6 + w, ...e.bytes(kind)], st, isDiv ? M.DIVIDE : M.MULTIPLY);
}

function regValue(st: State, enc: number, bits: number): number {
  if (bits === 8) return (st.regs[enc & 3] >>> (enc >= 4 ? 8 : 0)) & 0xff;
  return st.regs[enc] & sizeMask(bits);
}

/** Set AX (8-bit), DX:AX or EDX:EAX, unless the r/m register operand is one of them (then it stays the divisor). */
function setDividend(st: State, bits: number, high: number, low: number, e: Rm): void {
  if (bits === 8) {
    if (!e.isMem && (e.enc === 0 || e.enc === 4)) return;
    st.regs[0] = withLow(st.regs[0], ((high & 0xff) << 8) | (low & 0xff), 16);
    return;
  }
  if (e.isMem || e.enc !== 0) setReg(st, 0, bits, low);
  if (e.isMem || e.enc !== 2) setReg(st, 2, bits, high);
}

/** DAA DAS AAA AAS AAM AAD (including AAM 0 and bases other than 10). */
function genBcd(r: Rng): DiffCase {
  const st = freshState(r);
  const k = r.below(6);
  const al = r.chance(0.5) ? r.below(256) : (r.below(10) << 4) | r.below(16);
  setReg(st, 0, 8, al);
  setReg(st, 4, 8, r.chance(0.5) ? r.below(256) : r.below(10));
  if (k < 4) {
    const op = [0x27, 0x2f, 0x37, 0x3f][k];
    const mask = k < 2 ? M.DAA_DAS : M.AAA_AAS;
    return makeCase(['DAA', 'DAS', 'AAA', 'AAS'][k], [op], st, mask);
  }
  const p = r.below(10);
  const base = p < 5 ? 10 : p < 6 ? 0 : r.below(256);
  return makeCase(`${k === 4 ? 'AAM' : 'AAD'} ${base}`, [k === 4 ? 0xd4 : 0xd5, base], st, M.AAM_AAD);
}

const BT_NAMES = ['BT', 'BTS', 'BTR', 'BTC'];

/** BSF BSR (zero sources included), BT BTS BTR BTC with register and immediate offsets, register and memory operands. */
function genBits(r: Rng): DiffCase {
  const st = freshState(r);
  const bits = r.pick([16, 32]), pre = sizePrefix(bits);
  const k = r.below(7);
  if (k < 2) {
    const g = r.below(8);
    setReg(st, g, bits, r.u32());
    const src = r.chance(0.25) ? 0 : interesting(r, bits);
    const e = randomRm(r, st, bits, src, 0.4, g);
    return makeCase(`${k ? 'BSR' : 'BSF'} ${regName(g, bits)}, ${e.desc}${src === 0 ? ' (zero)' : ''}`,
      [...pre, 0x0f, 0xbc + k, ...e.bytes(g)], st, M.BIT_SCAN);
  }
  const op = r.below(4);
  const lock = (e: Rm) => (op > 0 && e.isMem && r.chance(0.15) ? [0xf0] : []);
  if (k < 5) {
    // Register bit offset; with a memory operand the offset is signed and may reach far outside the operand.
    const g = r.pick([0, 1, 2, 3, 5, 6, 7]); // not ESP: it stays STACK_TOP
    if (r.chance(0.5)) {
      const base = 0x140;
      const offset = r.range(-8 * base, 8 * (OPERAND_AREA - base - 4));
      setReg(st, g, bits, bits === 16 ? offset & 0xffff : offset >>> 0);
      const e: Rm = {
        bytes: (reg) => modrmAbs(reg, DATA_BASE + base), desc: `[${(DATA_BASE + base).toString(16)}]`, isMem: true, offset: base, enc: -1,
      };
      const lk = lock(e);
      return makeCase(`${lk.length ? 'LOCK ' : ''}${BT_NAMES[op]} ${e.desc}, ${regName(g, bits)}(${offset})`,
        [...lk, ...pre, 0x0f, 0xa3 + op * 8, ...e.bytes(g)], st, M.BIT_TEST);
    }
    setReg(st, g, bits, interesting(r, bits));
    const e = randomRm(r, st, bits, interesting(r, bits), 0, -1);
    return makeCase(`${BT_NAMES[op]} ${e.desc}, ${regName(g, bits)}`, [...pre, 0x0f, 0xa3 + op * 8, ...e.bytes(g)], st, M.BIT_TEST);
  }
  const e = randomRm(r, st, bits, interesting(r, bits));
  const ib = r.below(256);
  const lk = lock(e);
  return makeCase(`${lk.length ? 'LOCK ' : ''}${BT_NAMES[op]} ${e.desc}, ${ib}`, [...lk, ...pre, 0x0f, 0xba, ...e.bytes(4 + op), ib], st, M.BIT_TEST);
}

const STRING_OPS = [
  { name: 'MOVS', op: 0xa4 }, { name: 'CMPS', op: 0xa6 }, { name: 'STOS', op: 0xaa },
  { name: 'LODS', op: 0xac }, { name: 'SCAS', op: 0xae },
];

/** MOVS CMPS STOS LODS SCAS, 8/16/32, plain or with REP/REPE/REPNE, small counts, DF = 0 or 1. */
function genString(r: Rng): DiffCase {
  const st = freshState(r);
  const s = r.pick(STRING_OPS);
  const bits = r.pick([8, 16, 32]), pre = sizePrefix(bits), w = bits === 8 ? 0 : 1;
  const rep = r.pick([[], [0xf3], [0xf2], [0xf3]]);
  const count = r.chance(0.1) ? 0 : r.range(1, 8);
  if (rep.length) st.regs[1] = count;
  const down = r.chance(0.5);
  st.eflags = (st.eflags & ~F.DF) | (down ? F.DF : 0);
  const src = r.range(0x40, 0x13f), dst = r.range(0x140, 0x23f);
  st.regs[6] = DATA_BASE + src;
  st.regs[7] = DATA_BASE + dst;
  // Make compares find equal elements often: copy the source run into the destination, then perturb it.
  if (r.chance(0.6)) {
    const from = down ? src - 40 : src, to = down ? dst - 40 : dst;
    st.data.copyWithin(to, from, from + 48);
    if (r.chance(0.7)) st.data[to + r.below(48)] ^= 1 << r.below(8);
  }
  if (s.op === 0xae && r.chance(0.5)) {
    const at = dst + (down ? -r.below(4) * (bits / 8) : r.below(4) * (bits / 8));
    let v = 0;
    for (let b = bits / 8 - 1; b >= 0; b--) v = v * 256 + st.data[at + b];
    setReg(st, 0, bits, v);
  }
  const prefix = rep.length ? (rep[0] === 0xf3 ? 'REP(E) ' : 'REPNE ') : '';
  const name = `${prefix}${s.name}${bits === 8 ? 'B' : bits === 16 ? 'W' : 'D'} (${down ? 'DF=1' : 'DF=0'}${rep.length ? `, ecx=${st.regs[1]}` : ''})`;
  return makeCase(name, [...rep, ...pre, s.op + w], st, M.NONE);
}

const CC_NAMES = ['O', 'NO', 'B', 'AE', 'E', 'NE', 'BE', 'A', 'S', 'NS', 'P', 'NP', 'L', 'GE', 'LE', 'G'];

/** CMPXCHG XADD XCHG BSWAP MOVZX MOVSX CBW CWDE CWD CDQ CMOVcc SETcc. */
function genData(r: Rng): DiffCase {
  const st = freshState(r);
  const k = r.below(10);
  const bits = r.pick([8, 16, 32]), w = bits === 8 ? 0 : 1;
  if (k === 0 || k === 1) {
    const g = r.below(8);
    const v = interesting(r, bits);
    const e = randomRm(r, st, bits, v, 0.5);
    setReg(st, g, bits, interesting(r, bits));
    if (k === 0 && r.chance(0.5) && (e.isMem || (e.enc !== 0 && !(bits === 8 && e.enc === 4)))) setReg(st, 0, bits, v);
    const lock = e.isMem && r.chance(0.15) ? [0xf0] : [];
    const name = `${lock.length ? 'LOCK ' : ''}${k === 0 ? 'CMPXCHG' : 'XADD'} ${e.desc}, ${regName(g, bits)}`;
    return makeCase(name, [...lock, ...opsize(bits), 0x0f, (k === 0 ? 0xb0 : 0xc0) + w, ...e.bytes(g)], st, M.NONE);
  }
  if (k === 2) {
    if (bits !== 8 && r.chance(0.3)) {
      const enc = r.below(8);
      return makeCase(`XCHG ${regName(0, bits)}, ${regName(enc, bits)}`, [...opsize(bits), 0x90 + enc], st, M.NONE);
    }
    const g = r.below(8), e = randomRm(r, st, bits, interesting(r, bits));
    return makeCase(`XCHG ${e.desc}, ${regName(g, bits)}`, [...opsize(bits), 0x86 + w, ...e.bytes(g)], st, M.NONE);
  }
  if (k === 3) {
    const enc = r.below(8);
    return makeCase(`BSWAP ${regName(enc, 32)}`, [0x0f, 0xc8 + enc], st, M.NONE);
  }
  if (k === 4) {
    const dbits = r.pick([16, 32]), sbits = dbits === 16 ? 8 : r.pick([8, 16]), sx = r.chance(0.5);
    const g = r.below(8), e = randomRm(r, st, sbits, interesting(r, sbits));
    const op = (sx ? 0xbe : 0xb6) + (sbits === 16 ? 1 : 0);
    return makeCase(`${sx ? 'MOVSX' : 'MOVZX'} ${regName(g, dbits)}, ${e.desc}`, [...opsize(dbits), 0x0f, op, ...e.bytes(g)], st, M.NONE);
  }
  if (k === 5) {
    const b16 = r.chance(0.5), cwd = r.chance(0.5);
    setReg(st, 0, 32, interesting(r, 32));
    const name = cwd ? (b16 ? 'CWD' : 'CDQ') : b16 ? 'CBW' : 'CWDE';
    return makeCase(name, [...(b16 ? [0x66] : []), cwd ? 0x99 : 0x98], st, M.NONE);
  }
  if (k === 6 || k === 7) {
    const cbits = r.pick([16, 32]), cc = r.below(16), g = r.below(8);
    const e = randomRm(r, st, cbits, interesting(r, cbits));
    return makeCase(`CMOV${CC_NAMES[cc]} ${regName(g, cbits)}, ${e.desc}`, [...opsize(cbits), 0x0f, 0x40 + cc, ...e.bytes(g)], st, M.NONE);
  }
  const cc = r.below(16), e = randomRm(r, st, 8, r.below(256));
  return makeCase(`SET${CC_NAMES[cc]} ${e.desc}`, [0x0f, 0x90 + cc, ...e.bytes(0)], st, M.NONE);
}

/** CMPXCHG8B m64 (equal and unequal, LOCK), and its register form (#UD). */
function genCmpxchg8b(r: Rng): DiffCase {
  const st = freshState(r);
  const offset = r.below(OPERAND_AREA - 8 + 1);
  const lo = interesting(r, 32), hi = interesting(r, 32);
  poke(st.data, offset, lo, 32);
  poke(st.data, offset + 4, hi, 32);
  if (r.chance(0.5)) { st.regs[0] = lo; st.regs[2] = r.chance(0.8) ? hi : hi ^ 1; }
  st.regs[3] = interesting(r, 32);
  st.regs[1] = interesting(r, 32);
  if (r.chance(0.05)) {
    const enc = r.below(8);
    return makeCase(`CMPXCHG8B ${regName(enc, 32)} (register form)`, [0x0f, 0xc7, modrmReg(1, enc)], st, M.NONE);
  }
  const lock = r.chance(0.3) ? [0xf0] : [];
  return makeCase(`${lock.length ? 'LOCK ' : ''}CMPXCHG8B [${(DATA_BASE + offset).toString(16)}]`, [...lock, 0x0f, 0xc7, ...modrmAbs(1, DATA_BASE + offset)], st, M.NONE);
}

/** A 32-bit ModRM/SIB/displacement encoding with `reg`, and the registers it reads. */
interface Addr32 {
  bytes: number[]; base: number; index: number; scale: number; disp: number;
  /** Where a 32-bit displacement starts in `bytes`, or -1 (none or 8-bit). */
  disp32At: number;
}

function randomAddr32(r: Rng, reg: number): Addr32 {
  const mod = r.below(3);
  let rm = r.below(8);
  const disp = mod === 1 ? (r.below(256) << 24) >> 24 : mod === 2 ? r.u32() | 0 : 0;
  if (rm !== 4) {
    if (mod === 0 && rm === 5) {
      const d = r.u32() | 0;
      return { bytes: [(reg << 3) | 5, ...le32(d)], base: -1, index: -1, scale: 0, disp: d, disp32At: 1 };
    }
    return { bytes: [(mod << 6) | (reg << 3) | rm, ...dispBytes(mod, disp)], base: rm, index: -1, scale: 0, disp, disp32At: mod === 2 ? 1 : -1 };
  }
  rm = 4;
  const scale = r.below(4), index = r.below(8), base = r.below(8);
  const sib = (scale << 6) | (index << 3) | base;
  if (mod === 0 && base === 5) {
    const d = r.u32() | 0;
    return { bytes: [(reg << 3) | 4, sib, ...le32(d)], base: -1, index: index === 4 ? -1 : index, scale, disp: d, disp32At: 2 };
  }
  return {
    bytes: [(mod << 6) | (reg << 3) | 4, sib, ...dispBytes(mod, disp)], base, index: index === 4 ? -1 : index, scale, disp,
    disp32At: mod === 2 ? 2 : -1,
  };
}

function dispBytes(mod: number, disp: number): number[] {
  return mod === 1 ? [disp & 0xff] : mod === 2 ? le32(disp) : [];
}

/**
 * LEA with every 32-bit addressing form (and 16-bit destinations / 16-bit addressing), and
 * MOV loads and stores through the same forms with registers set so the address lands in
 * the operand area.
 */
function genAddressing(r: Rng): DiffCase {
  const st = freshState(r);
  const g = r.below(8);
  if (r.chance(0.5)) {
    const d16 = r.chance(0.2), a16 = r.chance(0.2);
    if (a16) {
      const mod = r.below(3), rm = r.below(8);
      const disp = mod === 1 ? [r.below(256)] : mod === 2 || rm === 6 && mod === 0 ? [r.below(256), r.below(256)] : [];
      return makeCase(`LEA ${regName(g, d16 ? 16 : 32)}, [16-bit mod=${mod} rm=${rm}]`,
        [...(d16 ? [0x66] : []), 0x67, 0x8d, (mod << 6) | (g << 3) | rm, ...disp], st, M.NONE);
    }
    const a = randomAddr32(r, g);
    return makeCase(`LEA ${regName(g, d16 ? 16 : 32)}, [${describeAddr(a)}]`, [...(d16 ? [0x66] : []), 0x8d, ...a.bytes], st, M.NONE);
  }
  // A memory access: pick the target, then the register values that reach it.
  for (;;) {
    const a = randomAddr32(r, g);
    const target = DATA_BASE + r.below(OPERAND_AREA - 4 + 1);
    if (a.index >= 0) st.regs[a.index] = r.range(-64, 64) >>> 0;
    const indexPart = a.index >= 0 ? Math.imul(st.regs[a.index], 1 << a.scale) : 0;
    if (a.base >= 0 && a.base !== 4 && a.base !== a.index) {
      st.regs[a.base] = (target - indexPart - a.disp) >>> 0;
    } else {
      // No free base register: the displacement has to supply the rest (ESP is fixed, a base equal to the index is taken).
      const basePart = a.base >= 0 ? st.regs[a.base] : 0;
      const need = (target - basePart - indexPart) | 0;
      if (a.disp32At >= 0) {
        a.bytes.splice(a.disp32At, 4, ...le32(need));
        a.disp = need;
      } else if (need !== a.disp) {
        continue; // this form cannot reach the target; draw another
      }
    }
    const store = r.chance(0.4);
    if (store && (g === a.base || g === a.index)) continue;
    return makeCase(`MOV ${store ? `[${describeAddr(a)}], ${regName(g, 32)}` : `${regName(g, 32)}, [${describeAddr(a)}]`}`,
      [store ? 0x89 : 0x8b, ...a.bytes], st, M.NONE);
  }
}

function describeAddr(a: Addr32): string {
  const parts: string[] = [];
  if (a.base >= 0) parts.push(regName(a.base, 32));
  if (a.index >= 0) parts.push(`${regName(a.index, 32)}*${1 << a.scale}`);
  parts.push(`${a.disp}`);
  return parts.join('+');
}

/** INT3, INTO (OF set and clear), BOUND (inside and outside the bounds), UD2, LOCK on a register operand. */
function genFaults(r: Rng): DiffCase {
  const st = freshState(r);
  const k = r.below(5);
  if (k === 0) return makeCase('INT3', [0xcc], st, M.NONE);
  if (k === 1) return makeCase(`INTO (OF=${(st.eflags & F.OF) ? 1 : 0})`, [0xce], st, M.NONE);
  if (k === 2) return makeCase('UD2', [0x0f, 0x0b], st, M.NONE);
  if (k === 3) {
    const g = r.below(8), e = r.below(8);
    return makeCase(`LOCK ADD ${regName(e, 32)}, ${regName(g, 32)}`, [0xf0, 0x01, modrmReg(g, e)], st, M.NONE);
  }
  const bits = r.pick([16, 32]);
  const offset = r.below(OPERAND_AREA - 2 * (bits / 8) + 1);
  const lower = interesting(r, bits), upper = r.chance(0.5) ? interesting(r, bits) : (lower + r.below(100)) & sizeMask(bits);
  poke(st.data, offset, lower, bits);
  poke(st.data, offset + bits / 8, upper, bits);
  const g = r.below(8);
  if (g !== 4) setReg(st, g, bits, r.pick([lower, upper, lower - 1, upper + 1, interesting(r, bits), lower + 1]) & sizeMask(bits));
  return makeCase(`BOUND ${regName(g, bits)}, [${(DATA_BASE + offset).toString(16)}]`, [...opsize(bits), 0x62, ...modrmAbs(g, DATA_BASE + offset)], st, M.NONE);
}

/** The integer families, in the order they run. */
export const INTEGER_FAMILIES: readonly Family[] = [
  { name: 'alu', generate: genAlu },
  { name: 'shift-rotate', generate: genShift },
  { name: 'mul-div', generate: genMulDiv },
  { name: 'bcd', generate: genBcd },
  { name: 'bit-scan-test', generate: genBits },
  { name: 'string', generate: genString },
  { name: 'data-move', generate: genData },
  { name: 'cmpxchg8b', generate: genCmpxchg8b },
  { name: 'lea-addressing', generate: genAddressing },
  { name: 'int-bound-ud', generate: genFaults },
];

export { DATA_SIZE, STACK_TOP };
