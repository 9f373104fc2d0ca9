/**
 * Data movement: MOV in all its forms (88-8C, 8E, A0-A3, B0-BF, C6/C7), LEA, XCHG,
 * XLAT, CBW/CWDE/CWD/CDQ, MOVZX/MOVSX, LDS/LES/LSS/LFS/LGS, LAHF/SAHF, SALC, BSWAP,
 * CMPXCHG and XADD.
 */
import { Pfx, Reg, Seg, Ins } from '../decoded.js';
import type { Cpu } from '../cpu.js';
import { Shadow } from '../shadow.js';
import { VEC_UD } from '../exceptions.js';
import { getCF, materialize, setAdd, setSub, Flag } from '../flags.js';
import { readE16, readE32, readE8, rewriteE16, rewriteE32, rewriteE8, writeE16, writeE32, writeE8 } from './operands.js';
import { loadSegmentChecked } from '../protected/segments.js';

export function movEbGb(c: Cpu, i: number): void { writeE8(c, i, c.r8[c.store[i + Ins.Reg]]); }
export function movEwGw(c: Cpu, i: number): void { writeE16(c, i, c.r16[c.store[i + Ins.Reg]]); }
export function movEdGd(c: Cpu, i: number): void { writeE32(c, i, c.regs[c.store[i + Ins.Reg]]); }
export function movGbEb(c: Cpu, i: number): void { c.r8[c.store[i + Ins.Reg]] = readE8(c, i); }
export function movGwEw(c: Cpu, i: number): void { c.r16[c.store[i + Ins.Reg]] = readE16(c, i); }
export function movGdEd(c: Cpu, i: number): void { c.regs[c.store[i + Ins.Reg]] = readE32(c, i); }
export function movEbIb(c: Cpu, i: number): void { writeE8(c, i, c.store[i + Ins.Imm]); }
export function movEwIw(c: Cpu, i: number): void { writeE16(c, i, c.store[i + Ins.Imm]); }
export function movEdId(c: Cpu, i: number): void { writeE32(c, i, c.store[i + Ins.Imm]); }
/** MOV r8, imm8 (B0-B7). */
export function movRbIb(c: Cpu, i: number): void { c.r8[c.store[i + Ins.Reg]] = c.store[i + Ins.Imm]; }
export function movRwIw(c: Cpu, i: number): void { c.r16[c.store[i + Ins.Reg]] = c.store[i + Ins.Imm]; }
export function movRdId(c: Cpu, i: number): void { c.regs[c.store[i + Ins.Reg]] = c.store[i + Ins.Imm]; }

/** MOV r/m16, Sreg (8C): a register destination with 32-bit operand size gets the selector zero-extended. */
export function movEwSw(c: Cpu, i: number): void {
  const d = c.store, sreg = d[i + Ins.Reg];
  if (sreg > 5) c.raise(VEC_UD);
  writeE16(c, i, c.segSel[sreg]);
}
export function movEdSw(c: Cpu, i: number): void {
  const d = c.store, sreg = d[i + Ins.Reg];
  if (sreg > 5) c.raise(VEC_UD);
  if (d[i + Ins.Mem] !== 0) c.write16(c.ea(i, 2), c.segSel[sreg]);
  else c.regs[d[i + Ins.Rm]] = c.segSel[sreg];
}

/** MOV Sreg, r/m16 (8E). Loading CS is invalid; loading SS inhibits interrupts for one instruction. */
export function movSwEw(c: Cpu, i: number): void {
  const d = c.store, sreg = d[i + Ins.Reg];
  if (sreg > 5 || sreg === Seg.CS) c.raise(VEC_UD);
  const v = readE16(c, i);
  loadSegment(c, sreg, v);
}

/** Load a segment register by the rules of the current mode (protected/segments.ts). */
export function loadSegment(c: Cpu, sreg: number, selector: number): void {
  loadSegmentChecked(c, sreg, selector);
  if (sreg === Seg.SS) {
    c.pendingShadow = Shadow.Interrupts | Shadow.Trap;
    c.breakBlock = true;
  }
}

/** LEA: the offset itself, truncated to the operand size. */
export function leaGw(c: Cpu, i: number): void {
  if (c.store[i + Ins.Mem] === 0) c.raise(VEC_UD);
  c.r16[c.store[i + Ins.Reg]] = c.eaOffset(i);
}
export function leaGd(c: Cpu, i: number): void {
  if (c.store[i + Ins.Mem] === 0) c.raise(VEC_UD);
  c.regs[c.store[i + Ins.Reg]] = c.eaOffset(i);
}

// XCHG
export function xchgEbGb(c: Cpu, i: number): void {
  const d = c.store, v = readE8(c, i);
  rewriteE8(c, i, c.r8[d[i + Ins.Reg]]);
  c.r8[d[i + Ins.Reg]] = v;
}
export function xchgEwGw(c: Cpu, i: number): void {
  const d = c.store, v = readE16(c, i);
  rewriteE16(c, i, c.r16[d[i + Ins.Reg]]);
  c.r16[d[i + Ins.Reg]] = v;
}
export function xchgEdGd(c: Cpu, i: number): void {
  const d = c.store, v = readE32(c, i);
  rewriteE32(c, i, c.regs[d[i + Ins.Reg]]);
  c.regs[d[i + Ins.Reg]] = v;
}
/** XCHG AX, r16 (91-97; 90 decodes as NOP). */
export function xchgAxRw(c: Cpu, i: number): void {
  const x = c.store[i + Ins.Reg], v = c.r16[x];
  c.r16[x] = c.r16[0];
  c.r16[0] = v;
}
export function xchgEaxRd(c: Cpu, i: number): void {
  const x = c.store[i + Ins.Reg], v = c.regs[x];
  c.regs[x] = c.regs[Reg.EAX];
  c.regs[Reg.EAX] = v;
}

/** XLAT: AL = [seg:(E)BX + AL]. */
export function xlat(c: Cpu, i: number): void {
  const d = c.store;
  const off = (d[i + Ins.Prefix] & Pfx.Addr32) !== 0 ? (c.regs[Reg.EBX] + c.r8[0]) | 0 : (c.r16[Reg.EBX << 1] + c.r8[0]) & 0xffff;
  c.r8[0] = c.read8(c.segLinear(d[i + Ins.Seg], off, 1));
}

export function cbw(c: Cpu): void { c.r16[0] = (c.r8[0] << 24) >> 24; }
export function cwde(c: Cpu): void { c.regs[Reg.EAX] = (c.r16[0] << 16) >> 16; }
export function cwd(c: Cpu): void { c.r16[Reg.EDX << 1] = (c.r16[0] & 0x8000) !== 0 ? 0xffff : 0; }
export function cdq(c: Cpu): void { c.regs[Reg.EDX] = c.regs[Reg.EAX] >> 31; }

// MOVZX / MOVSX
export function movzxGwEb(c: Cpu, i: number): void { c.r16[c.store[i + Ins.Reg]] = readE8(c, i); }
export function movzxGdEb(c: Cpu, i: number): void { c.regs[c.store[i + Ins.Reg]] = readE8(c, i); }
export function movzxGwEw(c: Cpu, i: number): void { c.r16[c.store[i + Ins.Reg]] = readE16(c, i); }
export function movzxGdEw(c: Cpu, i: number): void { c.regs[c.store[i + Ins.Reg]] = readE16(c, i); }
export function movsxGwEb(c: Cpu, i: number): void { c.r16[c.store[i + Ins.Reg]] = (readE8(c, i) << 24) >> 24; }
export function movsxGdEb(c: Cpu, i: number): void { c.regs[c.store[i + Ins.Reg]] = (readE8(c, i) << 24) >> 24; }
export function movsxGwEw(c: Cpu, i: number): void { c.r16[c.store[i + Ins.Reg]] = readE16(c, i); }
export function movsxGdEw(c: Cpu, i: number): void { c.regs[c.store[i + Ins.Reg]] = (readE16(c, i) << 16) >> 16; }

/** LDS/LES/LSS/LFS/LGS with a 16-bit offset: `sub` is the segment register. Register forms are #UD. */
export function loadFarPointerW(c: Cpu, i: number): void {
  const d = c.store;
  if (d[i + Ins.Mem] === 0) c.raise(VEC_UD);
  const lin = c.ea(i, 4);
  const off = c.read16(lin);
  const sel = c.read16((lin + 2) | 0);
  loadSegment(c, d[i + Ins.Sub], sel);
  c.r16[d[i + Ins.Reg]] = off;
}
export function loadFarPointerD(c: Cpu, i: number): void {
  const d = c.store;
  if (d[i + Ins.Mem] === 0) c.raise(VEC_UD);
  const lin = c.ea(i, 6);
  const off = c.read32(lin);
  const sel = c.read16((lin + 4) | 0);
  loadSegment(c, d[i + Ins.Sub], sel);
  c.regs[d[i + Ins.Reg]] = off;
}

/** LAHF: AH = SF:ZF:0:AF:0:PF:1:CF. */
export function lahf(c: Cpu): void {
  c.r8[1] = (c.getFlags() & (Flag.SF | Flag.ZF | Flag.AF | Flag.PF | Flag.CF)) | 2;
}
/** SAHF: load SF ZF AF PF CF from AH. */
export function sahf(c: Cpu): void {
  materialize(c);
  const m = Flag.SF | Flag.ZF | Flag.AF | Flag.PF | Flag.CF;
  c.flagsReg = (c.flagsReg & ~m) | (c.r8[1] & m);
}
/** SALC (undocumented D6): AL = CF ? FF : 00. */
export function salc(c: Cpu): void { c.r8[0] = getCF(c) !== 0 ? 0xff : 0; }

/** BSWAP r32 (0F C8+r). */
export function bswap(c: Cpu, i: number): void {
  const x = c.store[i + Ins.Reg], v = c.regs[x];
  c.regs[x] = ((v & 0xff) << 24) | ((v & 0xff00) << 8) | ((v >>> 8) & 0xff00) | (v >>> 24);
}

// CMPXCHG (0F B0/B1): compare accumulator with r/m; equal → r/m = reg, else accumulator = r/m.
export function cmpxchgEbGb(c: Cpu, i: number): void {
  const d = c.store, v = readE8(c, i), acc = c.r8[0];
  setSub(c, acc, v, acc - v, 8);
  if (acc === v) rewriteE8(c, i, c.r8[d[i + Ins.Reg]]);
  else { rewriteE8(c, i, v); c.r8[0] = v; }
}
export function cmpxchgEwGw(c: Cpu, i: number): void {
  const d = c.store, v = readE16(c, i), acc = c.r16[0];
  setSub(c, acc, v, acc - v, 16);
  if (acc === v) rewriteE16(c, i, c.r16[d[i + Ins.Reg]]);
  else { rewriteE16(c, i, v); c.r16[0] = v; }
}
export function cmpxchgEdGd(c: Cpu, i: number): void {
  const d = c.store, v = readE32(c, i), acc = c.regs[Reg.EAX];
  setSub(c, acc, v, acc - v, 32);
  if (acc === v) rewriteE32(c, i, c.regs[d[i + Ins.Reg]]);
  else { rewriteE32(c, i, v); c.regs[Reg.EAX] = v; }
}

// XADD (0F C0/C1): temp = dst + src; src = dst; dst = temp.
export function xaddEbGb(c: Cpu, i: number): void {
  const d = c.store, a = readE8(c, i), b = c.r8[d[i + Ins.Reg]], r = a + b;
  setAdd(c, a, b, r, 8);
  // SDM "XADD": SRC <- DEST, then DEST <- sum, so with one register for both the sum wins; a
  // memory destination is written first so that a faulting write leaves the register alone.
  if (d[i + Ins.Mem] !== 0) { rewriteE8(c, i, r); c.r8[d[i + Ins.Reg]] = a; }
  else { c.r8[d[i + Ins.Reg]] = a; rewriteE8(c, i, r); }
}
export function xaddEwGw(c: Cpu, i: number): void {
  const d = c.store, a = readE16(c, i), b = c.r16[d[i + Ins.Reg]], r = a + b;
  setAdd(c, a, b, r, 16);
  if (d[i + Ins.Mem] !== 0) { rewriteE16(c, i, r); c.r16[d[i + Ins.Reg]] = a; }
  else { c.r16[d[i + Ins.Reg]] = a; rewriteE16(c, i, r); }
}
export function xaddEdGd(c: Cpu, i: number): void {
  const d = c.store, a = readE32(c, i), b = c.regs[d[i + Ins.Reg]], r = a + b;
  setAdd(c, a, b, r, 32);
  if (d[i + Ins.Mem] !== 0) { rewriteE32(c, i, r); c.regs[d[i + Ins.Reg]] = a; }
  else { c.regs[d[i + Ins.Reg]] = a; rewriteE32(c, i, r); }
}
