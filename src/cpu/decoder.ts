/**
 * The x86 instruction decoder: turns the bytes at CS:EIP into decoded instructions in the
 * DecodedStore, following the declarative opcode table (opcode-table.ts).
 *
 * Prefixes: operand size (66), address size (67), segment overrides (26 2E 36 3E 64 65),
 * LOCK (F0), REP/REPE (F3), REPNE (F2); at most 15 bytes per instruction (#GP beyond).
 * ModRM/SIB forms for 16- and 32-bit addressing are reduced to base + (index << scale) +
 * displacement, masked to the address size, with the default segment (SS for BP/ESP/EBP
 * bases) or the override. A block ends after a control transfer or a repeated string
 * instruction, at the end of its page, or at MAX_BLOCK_LENGTH instructions: so only a
 * block's last instruction ever needs EIP, and the run loop sets it just for that one.
 */
import type { Cpu } from './cpu.js';
import { DecodedStore, Pfx, Reg, Seg, SegView, Ins } from './decoded.js';
import { VEC_GP } from './exceptions.js';
import { IMM_AP, IMM_ENTER, IMM_IB, IMM_IBU, IMM_IV, IMM_IW, IMM_JB, IMM_JV, IMM_MOFFS, K_NONE, K_R16, K_R32, K_R8, K_RAW, OPCODES, TOO_LONG, UNDEFINED, type OpcodeEntry } from './opcode-table.js';

/** What decoding a block produced. */
export interface DecodeResult {
  /** Instructions decoded. */
  count: number;
  /** False when the block must not be cached (bytes from MMIO, or an IP wrap inside it). */
  cacheable: boolean;
  /** Guest-physical address of the block's last byte. */
  lastPhys: number;
  /**
   * The last instruction continues on the next linear page, whose translation may change
   * independently of the first page's: the block cache revalidates such a block's second
   * frame on every lookup (block-cache.ts).
   */
  crosses: boolean;
}

const MAX_INSTRUCTION_BYTES = 15;

/** 16-bit ModRM r/m → base and index registers (Reg.Zero when absent). */
const RM16_BASE = [3, 3, 5, 5, 6, 7, 5, 3];
const RM16_INDEX = [6, 7, 6, 7, Reg.Zero, Reg.Zero, Reg.Zero, Reg.Zero];

/** Register-view index for register number `r` of kind `kind` at operand size 16/32. */
function viewIndex(kind: number, r: number, op32: boolean): number {
  switch (kind) {
    case K_R8: return ((r & 3) << 2) | (r >> 2);
    case K_R16: return r << 1;
    case K_R32: return r;
    case K_RAW: return r;
    case K_NONE: return r;
    default: return op32 ? r : r << 1;
  }
}

/** Reads instruction bytes at CS:IP + k with the IP wrapping at the code-size limit. */
class Fetcher {
  cpu!: Cpu;
  base = 0;
  ip = 0;
  mask = 0xffff;
  pos = 0;
  wrapped = false;

  reset(cpu: Cpu, ip: number): void {
    this.cpu = cpu;
    this.base = cpu.segBase[Seg.CS];
    this.mask = cpu.ipMask;
    this.ip = ip;
    this.pos = 0;
    this.wrapped = false;
  }

  /** Linear address of byte k of the current instruction. */
  linear(k: number): number {
    const off = this.ip + k;
    if ((off & this.mask) !== off && this.mask !== -1) this.wrapped = true;
    return (this.base + (off & this.mask)) | 0;
  }

  /** Next instruction byte; fetching beyond the CS limit is #GP(0) (protected mode). */
  u8(): number {
    const k = this.pos++;
    const cpu = this.cpu;
    if ((cpu.cr0 & 1) !== 0 && (((this.ip + k) & this.mask) >>> 0) > cpu.segTrueLimit[Seg.CS]) cpu.raise(VEC_GP, 0);
    return cpu.read8(this.linear(k));
  }

  s8(): number {
    return (this.u8() << 24) >> 24;
  }

  u16(): number {
    const lo = this.u8();
    return lo | (this.u8() << 8);
  }

  s32(): number {
    const lo = this.u16();
    return lo | (this.u16() << 16);
  }
}

/** Decoder state reused between calls (one per CPU). */
export class Decoder {
  private readonly fetch = new Fetcher();
  readonly result: DecodeResult = { count: 0, cacheable: true, lastPhys: 0, crosses: false };

  /**
   * Decode the basic block starting at CS:`ip` into `store` from record `first`, at most
   * `max` instructions.
   */
  decodeBlock(cpu: Cpu, store: DecodedStore, first: number, ip: number, max: number): DecodeResult {
    const res = this.result;
    res.count = 0;
    res.cacheable = true;
    const f = this.fetch;
    const startLin = (cpu.segBase[Seg.CS] + ip) | 0;
    const startPage = startLin >>> 12;
    let lastLin = startLin;
    let cur = ip;
    let offset = 0;
    const cr2 = cpu.cr2;
    for (let n = 0; n < max; n++) {
      f.reset(cpu, cur);
      const at = (first + n) * Ins.Stride;
      let ends: boolean;
      if (n === 0) ends = this.decodeOne(cpu, store, at, f);
      else {
        // A later instruction whose bytes cannot be fetched (page fault, CS limit) ends the
        // block before it: its fault is raised when it is reached as a block's first.
        try {
          ends = this.decodeOne(cpu, store, at, f);
        } catch (e) {
          if (e !== cpu.fault) throw e;
          cpu.cr2 = cr2; // no #PF was delivered
          res.cacheable = false;
          break;
        }
      }
      offset += f.pos;
      store[at + Ins.Next] = offset;
      res.count++;
      lastLin = f.linear(Math.max(0, f.pos - 1));
      // An IP that wraps inside the block ties it to this CS:IP, not just to its physical address.
      if (f.wrapped || (cpu.ipMask !== -1 && cur + f.pos > cpu.ipMask)) res.cacheable = false;
      cur = (cur + f.pos) & cpu.ipMask;
      const nextLin = (cpu.segBase[Seg.CS] + cur) | 0;
      if (ends || f.wrapped || nextLin >>> 12 !== startPage) break;
    }
    res.lastPhys = cpu.physical(lastLin);
    res.crosses = lastLin >>> 12 !== startPage;
    const mem = cpu.memory;
    if (mem.translateRead(cpu.physical(startLin)) < 0 || mem.translateRead(res.lastPhys) < 0) res.cacheable = false;
    return res;
  }

  /** Decode one instruction into slot `i`. Returns true if it ends the block. */
  private decodeOne(cpu: Cpu, d: DecodedStore, i: number, f: Fetcher): boolean {
    const defaultOp32 = cpu.ipMask === -1;
    let op32 = defaultOp32, addr32 = defaultOp32;
    let seg = -1, prefix = 0, b = 0;
    for (;;) {
      if (f.pos >= MAX_INSTRUCTION_BYTES) return this.emitSpecial(d, i, f, TOO_LONG);
      b = f.u8();
      switch (b) {
        case 0x66: op32 = !defaultOp32; continue;
        case 0x67: addr32 = !defaultOp32; continue;
        case 0x26: seg = 0; continue;
        case 0x2e: seg = 1; continue;
        case 0x36: seg = 2; continue;
        case 0x3e: seg = 3; continue;
        case 0x64: seg = 4; continue;
        case 0x65: seg = 5; continue;
        case 0xf0: prefix |= Pfx.Lock; continue;
        case 0xf2: prefix = (prefix & ~Pfx.Rep) | Pfx.Repne; continue;
        case 0xf3: prefix = (prefix & ~Pfx.Repne) | Pfx.Rep; continue;
      }
      break;
    }
    // For the 0F page the opcode byte (whose low bits may name a register) is the second one.
    const opcode = b === 0x0f ? f.u8() : b;
    let entry: OpcodeEntry = b === 0x0f ? OPCODES[0x100 + opcode] : OPCODES[b];
    if (op32) prefix |= Pfx.Op32;
    if (addr32) prefix |= Pfx.Addr32;

    d[i + Ins.Prefix] = prefix;
    d[i + Ins.Mem] = 0;
    d[i + Ins.Base] = Reg.Zero;
    d[i + Ins.Index] = Reg.Zero;
    d[i + Ins.Scale] = 0;
    d[i + Ins.Disp] = 0;
    d[i + Ins.Amask] = addr32 ? -1 : 0xffff;
    d[i + Ins.Seg] = seg >= 0 ? seg : Seg.DS;
    d[i + Ins.Imm] = 0;
    d[i + Ins.Imm2] = 0;
    d[i + Ins.Reg] = 0;
    d[i + Ins.Rm] = 0;

    let modrmReg = 0;
    if (entry.modrm || entry.group !== null) {
      const modrm = f.u8();
      modrmReg = (modrm >> 3) & 7;
      if (entry.group !== null) entry = entry.group[modrmReg];
      if (entry === UNDEFINED) return this.emitSpecial(d, i, f, UNDEFINED);
      this.decodeModrm(d, i, f, modrm, entry, op32, addr32, seg);
      if (entry.modrmInImm) d[i + Ins.Imm] = modrm;
    }
    if ((prefix & Pfx.Lock) !== 0 && (!entry.lockable || d[i + Ins.Mem] === 0)) return this.emitSpecial(d, i, f, UNDEFINED);
    if (entry.embedded) d[i + Ins.Reg] = viewIndex(entry.regKind, opcode & 7, op32);
    else if (entry.fixedReg >= 0) d[i + Ins.Reg] = viewIndex(entry.regKind, entry.fixedReg, op32);
    if (entry.accumulator) { d[i + Ins.Rm] = 0; d[i + Ins.Mem] = 0; }
    d[i + Ins.Sub] = entry.sub >= 0 ? entry.sub : modrmReg;
    this.decodeImmediate(d, i, f, entry.imm, op32, addr32);
    if (entry.writes && d[i + Ins.Mem] !== 0) d[i + Ins.Seg] |= SegView.Write;
    if (f.pos > MAX_INSTRUCTION_BYTES) return this.emitSpecial(d, i, f, TOO_LONG);
    d[i + Ins.Op] = op32 ? entry.h32 : entry.h16;
    d[i + Ins.Len] = f.pos;
    return entry.ends || (entry.string && (prefix & (Pfx.Rep | Pfx.Repne)) !== 0);
  }

  /** Emit an instruction that only raises a fault when executed. */
  private emitSpecial(d: DecodedStore, i: number, f: Fetcher, entry: OpcodeEntry): boolean {
    d[i + Ins.Op] = entry.h16;
    d[i + Ins.Len] = Math.min(f.pos, MAX_INSTRUCTION_BYTES);
    d[i + Ins.Mem] = 0;
    return true;
  }

  private decodeModrm(d: DecodedStore, i: number, f: Fetcher, modrm: number, e: OpcodeEntry,
    op32: boolean, addr32: boolean, seg: number): void {
    const mod = modrm >> 6, rm = modrm & 7, reg = (modrm >> 3) & 7;
    d[i + Ins.Reg] = viewIndex(e.regKind, reg, op32);
    if (mod === 3) {
      d[i + Ins.Rm] = viewIndex(e.rmKind, rm, op32);
      return;
    }
    d[i + Ins.Mem] = 1;
    let defaultSeg = Seg.DS;
    if (!addr32) {
      if (mod === 0 && rm === 6) {
        d[i + Ins.Disp] = f.u16();
      } else {
        d[i + Ins.Base] = RM16_BASE[rm];
        d[i + Ins.Index] = RM16_INDEX[rm];
        if (rm === 2 || rm === 3 || rm === 6) defaultSeg = Seg.SS;
        if (mod === 1) d[i + Ins.Disp] = f.s8();
        else if (mod === 2) d[i + Ins.Disp] = f.u16();
      }
    } else {
      let base = rm;
      if (rm === 4) {
        const sib = f.u8();
        const index = (sib >> 3) & 7;
        base = sib & 7;
        d[i + Ins.Scale] = sib >> 6;
        d[i + Ins.Index] = index === 4 ? Reg.Zero : index;
      }
      if (mod === 0 && base === 5) {
        d[i + Ins.Base] = Reg.Zero;
        d[i + Ins.Disp] = f.s32();
      } else {
        d[i + Ins.Base] = base;
        if (base === 4 || base === 5) defaultSeg = Seg.SS;
        if (mod === 1) d[i + Ins.Disp] = f.s8();
        else if (mod === 2) d[i + Ins.Disp] = f.s32();
      }
    }
    d[i + Ins.Seg] = seg >= 0 ? seg : defaultSeg;
  }

  private decodeImmediate(d: DecodedStore, i: number, f: Fetcher, kind: number, op32: boolean, addr32: boolean): void {
    switch (kind) {
      case IMM_IB: case IMM_JB: d[i + Ins.Imm] = f.s8(); return;
      case IMM_IBU: d[i + Ins.Imm] = f.u8(); return;
      case IMM_IW: d[i + Ins.Imm] = f.u16(); return;
      case IMM_IV: d[i + Ins.Imm] = op32 ? f.s32() : f.u16(); return;
      case IMM_JV: d[i + Ins.Imm] = op32 ? f.s32() : (f.u16() << 16) >> 16; return;
      case IMM_AP: d[i + Ins.Imm] = op32 ? f.s32() : f.u16(); d[i + Ins.Imm2] = f.u16(); return;
      case IMM_MOFFS: d[i + Ins.Mem] = 1; d[i + Ins.Disp] = addr32 ? f.s32() : f.u16(); return;
      case IMM_ENTER: d[i + Ins.Imm] = f.u16(); d[i + Ins.Imm2] = f.u8(); return;
      default: return;
    }
  }
}
