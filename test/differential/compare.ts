/**
 * Host-CPU differential test: comparing the emulator's outcome of a case with the host
 * CPU's, and reporting a difference in full. Everything is compared exactly except the
 * status flags and results the SDM leaves undefined for the case (flag-masks.ts, carried on
 * the case), the emulator's exception-frame bytes, and the x87 pointer fields of an FNSAVE
 * image (x87-family.ts). Exceptions are precise on both sides, so for a fault the state at
 * the faulting instruction (and for a trap, after it) is compared the same way, with all
 * status flags (nothing has executed that could leave them undefined).
 */
import { DATA_BASE, F, FPU_IN, FPU_OUT, R32, hexBytes, type DiffCase, type Outcome } from './cases.js';

/** A hook that narrows the per-byte AND mask of the data comparison for a case (x87 image fields). */
export type DataMask = (c: DiffCase, mask: Uint8Array, host: Outcome, emu: Outcome) => void;

const hex = (v: number) => (v >>> 0).toString(16).padStart(8, '0');

/** The differences between `emu` and `host` for case `c` (empty when they agree). */
export function differences(c: DiffCase, host: Outcome, emu: Outcome, dataMask?: DataMask): string[] {
  const out: string[] = [];
  if (host.error) out.push(`host: ${host.error}`);
  if (emu.error) out.push(`emulator: ${emu.error}`);
  if (out.length) return out;
  if (host.vector !== emu.vector) out.push(`vector: host ${vectorName(host.vector)}, emulator ${vectorName(emu.vector)}`);
  if (host.eip !== emu.eip) out.push(`EIP: host ${hex(host.eip)}, emulator ${hex(emu.eip)}`);
  const faulted = host.vector >= 0;
  for (let r = 0; r < 8; r++) {
    const undefinedBits = faulted ? 0 : (c.undefinedRegBits?.[r] ?? 0);
    if (((host.regs[r] ^ emu.regs[r]) & ~undefinedBits) !== 0) {
      out.push(`${R32[r]}: host ${hex(host.regs[r])}, emulator ${hex(emu.regs[r])}`);
    }
  }
  const flagMask = F.Compared & ~(faulted ? 0 : c.undefinedFlags);
  if (((host.eflags ^ emu.eflags) & flagMask) !== 0) {
    out.push(`EFLAGS: host ${flagString(host.eflags)}, emulator ${flagString(emu.eflags)} (compared ${flagString(flagMask)})`);
  }
  const mask = new Uint8Array(host.data.length).fill(0xff);
  for (const [at, len] of [...host.scratch, ...emu.scratch, ...(faulted ? [] : c.undefinedData ?? [])]) {
    mask.fill(0, Math.max(0, at), Math.max(0, at + len));
  }
  if (c.x87 && !faulted && dataMask) dataMask(c, mask, host, emu);
  const bad: string[] = [];
  for (let k = 0; k < host.data.length; k++) {
    if (((host.data[k] ^ emu.data[k]) & mask[k]) !== 0) {
      if (bad.length < 16) bad.push(`[${(DATA_BASE + k).toString(16)}] host ${host.data[k].toString(16)} emulator ${emu.data[k].toString(16)}`);
      else { bad.push('...'); break; }
    }
  }
  if (bad.length) out.push(`memory: ${bad.join(', ')}`);
  return out;
}

function vectorName(v: number): string {
  const names: Record<number, string> = { 0: '#DE', 1: '#DB', 3: '#BP', 4: '#OF', 5: '#BR', 6: '#UD', 7: '#NM', 12: '#SS', 13: '#GP', 14: '#PF', 16: '#MF', 17: '#AC' };
  return v === -1 ? 'none' : `${names[v] ?? 'vector'} (${v})`;
}

/** EFLAGS status flags and DF as letters (upper case = set). */
export function flagString(f: number): string {
  const bits: [number, string][] = [[F.OF, 'o'], [F.DF, 'd'], [F.SF, 's'], [F.ZF, 'z'], [F.AF, 'a'], [F.PF, 'p'], [F.CF, 'c']];
  return bits.map(([b, n]) => ((f & b) !== 0 ? n.toUpperCase() : n)).join('') + `(${(f >>> 0).toString(16)})`;
}

/** A full report of one differing case. */
export function describeFailure(c: DiffCase, host: Outcome, emu: Outcome, diffs: string[]): string {
  const regs = (o: number[]) => o.map((v, k) => `${R32[k]}=${hex(v)}`).join(' ');
  const lines = [
    `case: ${c.name}`,
    `  bytes: ${hexBytes(c.code)}`,
    `  input: ${regs(c.regs)} flags=${flagString(c.eflags)}`,
    `  undefined flags masked: ${flagString(c.undefinedFlags)}`,
    `  host:     vector=${vectorName(host.vector)} eip=${hex(host.eip)} ${host.regs.length ? regs(host.regs) : ''} flags=${flagString(host.eflags)}`,
    `  emulator: vector=${vectorName(emu.vector)} eip=${hex(emu.eip)} ${emu.regs.length ? regs(emu.regs) : ''} flags=${flagString(emu.eflags)}`,
    ...diffs.map((d) => `  DIFF ${d}`),
  ];
  if (c.x87) {
    lines.push(`  x87 in:       ${fpuImage(c.data, FPU_IN - DATA_BASE)}`);
    lines.push(`  x87 host:     ${fpuImage(host.data, FPU_OUT - DATA_BASE)}`);
    lines.push(`  x87 emulator: ${fpuImage(emu.data, FPU_OUT - DATA_BASE)}`);
  }
  return lines.join('\n');
}

/** An FSAVE image (32-bit layout) as FCW, FSW, FTW and ST(0)..ST(7) in hex (sign+exponent:significand; empty ones marked). */
function fpuImage(data: Uint8Array, at: number): string {
  const v = new DataView(data.buffer, data.byteOffset + at, 108);
  const h = (n: number, w: number) => n.toString(16).padStart(w, '0');
  const sw = v.getUint16(4, true), tw = v.getUint16(8, true), top = (sw >> 11) & 7;
  const regs: string[] = [];
  for (let k = 0; k < 8; k++) {
    const o = 28 + 10 * k;
    const tag = (tw >> (((top + k) & 7) * 2)) & 3;
    regs.push(`${tag === 3 ? '-' : ''}${h(v.getUint16(o + 8, true), 4)}:${h(v.getUint32(o + 4, true), 8)}${h(v.getUint32(o, true), 8)}`);
  }
  return `cw=${h(v.getUint16(0, true), 4)} sw=${h(sw, 4)} tw=${h(tw, 4)} st=[${regs.join(' ')}]`;
}
