/**
 * x87 environment images (FSTENV/FLDENV, and the first part of FSAVE/FRSTOR images):
 * the four layouts of Intel SDM vol. 1 §8.1.10 figures 8-9 to 8-12 — protected mode
 * (selector:offset pointers) or real/virtual-8086 mode (linear 20/32-bit pointers), each
 * with 16-bit (14 bytes) or 32-bit (28 bytes) operand size.
 *
 * Reserved halves of 32-bit images are written as 0xFFFF, as Intel processors store them.
 * In real mode FIP/FDP are stored as linear addresses (CS*16 + offset) and come back from
 * FLDENV as linear offsets with a zero selector.
 */
import type { EnvFields, EnvLayout } from './fpu.js';

/** Size in bytes of an environment image. */
export function envSize(layout: EnvLayout): number {
  return layout.op32 ? 28 : 14;
}

function put16(b: Uint8Array, at: number, v: number): void {
  b[at] = v & 0xff;
  b[at + 1] = (v >>> 8) & 0xff;
}

function put32(b: Uint8Array, at: number, v: number): void {
  put16(b, at, v & 0xffff);
  put16(b, at + 2, (v >>> 16) & 0xffff);
}

function get16(b: Uint8Array, at: number): number {
  return b[at] | (b[at + 1] << 8);
}

function get32(b: Uint8Array, at: number): number {
  return (get16(b, at) | (get16(b, at + 2) << 16)) >>> 0;
}

/** Linear address of a real-mode pointer (selector * 16 + offset). */
function realLinear(sel: number, off: number): number {
  return ((sel << 4) + off) >>> 0;
}

/** Write `env` into `out` (at least envSize bytes) in the given layout. */
export function writeEnvironment(out: Uint8Array, env: EnvFields, layout: EnvLayout): void {
  if (layout.op32) {
    put32(out, 0, 0xffff0000 | env.cw);
    put32(out, 4, 0xffff0000 | env.sw);
    put32(out, 8, 0xffff0000 | env.tw);
    if (layout.protectedMode) {
      put32(out, 12, env.fip);
      put32(out, 16, ((env.fop & 0x7ff) << 16) | env.fcs);
      put32(out, 20, env.fdp);
      put32(out, 24, 0xffff0000 | env.fds);
    } else {
      const ip = realLinear(env.fcs, env.fip), dp = realLinear(env.fds, env.fdp);
      put32(out, 12, 0xffff0000 | (ip & 0xffff));
      put32(out, 16, (((ip >>> 16) & 0xffff) << 12) | (env.fop & 0x7ff));
      put32(out, 20, 0xffff0000 | (dp & 0xffff));
      put32(out, 24, ((dp >>> 16) & 0xffff) << 12);
    }
    return;
  }
  put16(out, 0, env.cw);
  put16(out, 2, env.sw);
  put16(out, 4, env.tw);
  if (layout.protectedMode) {
    put16(out, 6, env.fip);
    put16(out, 8, env.fcs);
    put16(out, 10, env.fdp);
    put16(out, 12, env.fds);
  } else {
    const ip = realLinear(env.fcs, env.fip), dp = realLinear(env.fds, env.fdp);
    put16(out, 6, ip);
    put16(out, 8, (((ip >>> 16) & 0xf) << 12) | (env.fop & 0x7ff));
    put16(out, 10, dp);
    put16(out, 12, ((dp >>> 16) & 0xf) << 12);
  }
}

/** Read an environment image in the given layout. */
export function readEnvironment(b: Uint8Array, layout: EnvLayout): EnvFields {
  if (layout.op32) {
    const cw = get16(b, 0), sw = get16(b, 4), tw = get16(b, 8);
    if (layout.protectedMode) {
      const w = get32(b, 16);
      return { cw, sw, tw, fip: get32(b, 12), fcs: w & 0xffff, fop: (w >>> 16) & 0x7ff, fdp: get32(b, 20), fds: get16(b, 24) };
    }
    const w = get32(b, 16);
    const fip = (get16(b, 12) | (((w >>> 12) & 0xffff) << 16)) >>> 0;
    const fdp = (get16(b, 20) | (((get32(b, 24) >>> 12) & 0xffff) << 16)) >>> 0;
    return { cw, sw, tw, fip, fcs: 0, fop: w & 0x7ff, fdp, fds: 0 };
  }
  const cw = get16(b, 0), sw = get16(b, 2), tw = get16(b, 4);
  if (layout.protectedMode) {
    return { cw, sw, tw, fip: get16(b, 6), fcs: get16(b, 8), fop: 0, fdp: get16(b, 10), fds: get16(b, 12) };
  }
  const w = get16(b, 8);
  return {
    cw, sw, tw,
    fip: get16(b, 6) | (((w >> 12) & 0xf) << 16), fcs: 0, fop: w & 0x7ff,
    fdp: get16(b, 10) | (((get16(b, 12) >> 12) & 0xf) << 16), fds: 0,
  };
}
