/**
 * Host-CPU differential test: the shape of a test case and of its outcome, the layout of
 * the data window both sides share, a seeded PRNG and small x86 encoding helpers for the
 * generators (families.ts). Encodings follow the SDM vol. 2 §2.1 (prefixes, ModRM, SIB,
 * displacement, immediate).
 */
import { CODE_BASE, DATA_BASE } from '../helpers/flat32-cpu.js';

export { CODE_BASE, DATA_BASE };

/** Bytes of the data window exchanged with both sides (starting at DATA_BASE). */
export const DATA_SIZE = 1024;
/** Longest instruction sequence a case may hold. */
export const MAX_CODE = 64;
/** Operand memory: offsets [0, OPERAND_AREA) of the window. */
export const OPERAND_AREA = 0x280;
/** Initial ESP of every case: the scratch stack occupies [0x280, 0x2C0) of the window. */
export const STACK_TOP = DATA_BASE + 0x2c0;
/** x87 state image loaded by FRSTOR before an x87 case (108 bytes, 32-bit protected-mode layout). */
export const FPU_IN = DATA_BASE + 0x300;
/** x87 state image stored by FNSAVE after an x87 case. */
export const FPU_OUT = DATA_BASE + 0x380;

/** EFLAGS status flags. */
export const enum F {
  CF = 0x001, PF = 0x004, AF = 0x010, ZF = 0x040, SF = 0x080, DF = 0x400, OF = 0x800,
  /** The six arithmetic status flags. */
  Status = 0x8d5,
  /** The bits a case sets and compares: status flags and DF. */
  Compared = 0xcd5,
}

/** One generated test: an instruction sequence and the state it starts from. */
export interface DiffCase {
  /** Disassembly-ish description, e.g. "ADC r/m16, imm8 [mem]". */
  name: string;
  code: Uint8Array;
  /** EAX..EDI as unsigned 32-bit values. */
  regs: number[];
  /** Status flags and DF (other bits are ignored). */
  eflags: number;
  data: Uint8Array;
  /** Status flags the SDM leaves undefined for this case (see flag-masks.ts). */
  undefinedFlags: number;
  /** Per register, the bits the SDM leaves undefined (absent: none). */
  undefinedRegBits?: number[];
  /** [offset in the data window, length] ranges the SDM leaves undefined. */
  undefinedData?: [number, number][];
  /** Compare the FNSAVE image at FPU_OUT by x87 rules (x87 family). */
  x87?: boolean;
}

/** What one side produced for a case. */
export interface Outcome {
  /** -1 ran to the end; otherwise the exception vector delivered. */
  vector: number;
  /** The end of the code, or the EIP the exception reported (fault: the instruction; trap: after it). */
  eip: number;
  /** EAX..EDI (unsigned), ESP as it was before any exception frame was pushed. */
  regs: number[];
  eflags: number;
  data: Uint8Array;
  /** [offset, length] ranges of the window this side wrote for its own bookkeeping (emulator exception frame). */
  scratch: [number, number][];
  /** A host-side failure (unimplemented feature, time-out, ...), or null. */
  error: string | null;
}

/** A small, fast, seeded PRNG (mulberry32) with helpers. Deterministic for a seed. */
export class Rng {
  private s: number;
  constructor(seed: number) { this.s = seed >>> 0; }
  /** Uniform unsigned 32-bit integer. */
  u32(): number {
    let t = (this.s = (this.s + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  }
  /** Integer in [0, n). */
  below(n: number): number { return Math.floor((this.u32() / 4294967296) * n); }
  /** Integer in [lo, hi]. */
  range(lo: number, hi: number): number { return lo + this.below(hi - lo + 1); }
  /** True with probability p. */
  chance(p: number): boolean { return this.u32() / 4294967296 < p; }
  /** One element of a list. */
  pick<T>(list: readonly T[]): T { return list[this.below(list.length)]; }
  /** Fill a byte array with random bytes. */
  fill(bytes: Uint8Array, from = 0, to = bytes.length): void {
    for (let k = from; k < to; k += 4) {
      const v = this.u32();
      for (let b = 0; b < 4 && k + b < to; b++) bytes[k + b] = (v >>> (8 * b)) & 0xff;
    }
  }
}

/** All-ones mask of an operand size in bits (8, 16, 32), as an unsigned number. */
export function sizeMask(bits: number): number {
  return bits === 32 ? 0xffffffff : (1 << bits) - 1;
}

/**
 * An "interesting" operand of `bits` bits: 0, 1, 2, all ones, the sign bit and its
 * neighbours, small values, powers of two, or uniform random.
 */
export function interesting(r: Rng, bits: number): number {
  const m = sizeMask(bits), sign = 2 ** (bits - 1);
  switch (r.below(12)) {
    case 0: return 0;
    case 1: return 1;
    case 2: return m;
    case 3: return sign;
    case 4: return sign - 1;
    case 5: return (sign + 1) >>> 0;
    case 6: return r.below(256) & m;
    case 7: return 2 ** r.below(bits);
    case 8: return (m - r.below(4)) >>> 0;
    case 9: return 2;
    default: return (r.u32() & m) >>> 0;
  }
}

/** Replace the low `bits` bits of `full` with `low` (keeps random upper bits around narrow operands). */
export function withLow(full: number, low: number, bits: number): number {
  const m = sizeMask(bits);
  return ((full & ~m) | (low & m)) >>> 0;
}

/** A fresh case state: random registers (ESP = STACK_TOP), random status flags and DF, random operand memory. */
export function freshState(r: Rng): { regs: number[]; eflags: number; data: Uint8Array } {
  const regs = [0, 0, 0, 0, 0, 0, 0, 0].map(() => r.u32());
  regs[4] = STACK_TOP;
  const data = new Uint8Array(DATA_SIZE);
  r.fill(data, 0, OPERAND_AREA);
  return { regs, eflags: r.u32() & F.Compared, data };
}

/** ModRM byte for a register operand: mod = 3. */
export function modrmReg(reg: number, rm: number): number {
  return 0xc0 | ((reg & 7) << 3) | (rm & 7);
}

/** ModRM + disp32 for an absolute memory operand [disp32] (mod 0, r/m 5). */
export function modrmAbs(reg: number, address: number): number[] {
  return [((reg & 7) << 3) | 5, ...le32(address)];
}

/** Little-endian bytes of a 16-bit value. */
export function le16(v: number): number[] {
  return [v & 0xff, (v >>> 8) & 0xff];
}

/** Little-endian bytes of a 32-bit value. */
export function le32(v: number): number[] {
  return [v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, (v >>> 24) & 0xff];
}

/** Immediate bytes of an operand size. */
export function imm(v: number, bits: number): number[] {
  return bits === 8 ? [v & 0xff] : bits === 16 ? le16(v) : le32(v);
}

/** Operand-size prefix for 16-bit operations in 32-bit code. */
export function opsize(bits: number): number[] {
  return bits === 16 ? [0x66] : [];
}

/** Write `bits` of `value` little-endian into the data window at `offset`. */
export function poke(data: Uint8Array, offset: number, value: number, bits: number): void {
  for (let b = 0; b < bits / 8; b++) data[offset + b] = (value >>> (8 * b)) & 0xff;
}

/** Hex bytes for reports. */
export function hexBytes(bytes: ArrayLike<number>): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join(' ');
}

/** 8-bit register names by encoding. */
export const R8 = ['al', 'cl', 'dl', 'bl', 'ah', 'ch', 'dh', 'bh'];
/** 16-bit register names by encoding. */
export const R16 = ['ax', 'cx', 'dx', 'bx', 'sp', 'bp', 'si', 'di'];
/** 32-bit register names by encoding. */
export const R32 = ['eax', 'ecx', 'edx', 'ebx', 'esp', 'ebp', 'esi', 'edi'];

/** Register name of an encoding at an operand size. */
export function regName(reg: number, bits: number): string {
  return (bits === 8 ? R8 : bits === 16 ? R16 : R32)[reg & 7];
}
