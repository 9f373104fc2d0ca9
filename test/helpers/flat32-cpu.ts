/**
 * Test helper: a bare CPU (real-mode-cpu.ts) put into 32-bit flat protected mode the way a
 * guest does it (SDM vol. 3 §9.9.1 "Switching to Protected Mode"): a real-mode stub loads a
 * GDT (null, flat 32-bit code, flat 32-bit data; §3.4.5) and an IDT (§6.11) with LGDT/LIDT,
 * sets CR0.PE with MOV CR0, far-jumps into the 32-bit code segment and loads DS, ES, SS, FS
 * and GS with the data selector. Every IDT vector 0-31 is a 32-bit interrupt gate to its own
 * one-byte HLT stub, so an exception ends `run()` with EIP just past the stub of its vector
 * and the CPU's exception frame (EIP, CS, EFLAGS, and an error code for the vectors that
 * have one) on the stack.
 *
 * Memory map (guest-physical = linear): stub, tables and handlers below 64 KiB; the code
 * page at CODE_BASE and the data page at DATA_BASE (the same numbers the native runner of
 * the differential test maps, test/native/x86-exec.c).
 */
import { createBareCpu, setRealModeState, type BareCpu } from './real-mode-cpu.js';
import { RunExit } from '../../src/cpu/cpu.js';
import { Seg } from '../../src/cpu/decoded.js';

/** Where test code is placed. */
export const CODE_BASE = 0x00100000;
/** Where test data is placed (one 4 KiB page is reserved). */
export const DATA_BASE = 0x00200000;
/** Flat 32-bit code selector (GDT entry 1, RPL 0). */
export const CODE_SELECTOR = 0x08;
/** Flat 32-bit data selector (GDT entry 2, RPL 0). */
export const DATA_SELECTOR = 0x10;
/** HLT stub of vector v at HANDLER_BASE + v * HANDLER_STRIDE. */
export const HANDLER_BASE = 0x5000;
const HANDLER_STRIDE = 4;
const VECTORS = 32;
const STUB_BASE = 0x1000;
const GDTR_AT = 0x0f00;
const IDTR_AT = 0x0f08;
const GDT_BASE = 0x0800;
const IDT_BASE = 0x3000;
const BOOT_STACK = 0x9000;
/** Exception vectors that push an error code (SDM vol. 3 Table 6-1). */
const ERROR_CODE_VECTORS = new Set([8, 10, 11, 12, 13, 14, 17, 21]);

/** A segment descriptor's two dwords (SDM vol. 3 §3.4.5) for a flat 4 GiB segment. */
function flatDescriptor(type: number): [number, number] {
  const lo = 0x0000ffff; // limit 15:0 = FFFF, base 15:0 = 0
  const hi = (0x00cf0000 | (type << 8)) >>> 0; // G=1 D/B=1, limit 19:16 = F, P=1 DPL=0 S=1
  return [lo, hi];
}

/** A 32-bit interrupt gate (SDM vol. 3 §6.11, type 0xE, DPL 0, present). */
function interruptGate(offset: number, selector: number): [number, number] {
  const lo = ((selector << 16) | (offset & 0xffff)) >>> 0;
  const hi = ((offset & 0xffff0000) | 0x8e00) >>> 0;
  return [lo, hi];
}

function dwords(values: number[]): Uint8Array {
  const out = new Uint8Array(values.length * 4);
  const v = new DataView(out.buffer);
  values.forEach((x, k) => v.setUint32(k * 4, x >>> 0, true));
  return out;
}

/** The real-mode stub that enters flat protected mode, then halts. */
function bootStub(): Uint8Array {
  const pm32 = STUB_BASE + 0x20;
  const lo16 = (x: number) => [x & 0xff, (x >> 8) & 0xff];
  const real16 = [
    0xfa, // cli
    0x0f, 0x01, 0x16, ...lo16(GDTR_AT), // lgdt [GDTR_AT]
    0x0f, 0x01, 0x1e, ...lo16(IDTR_AT), // lidt [IDTR_AT]
    0x0f, 0x20, 0xc0, // mov eax, cr0
    0x0c, 0x01, // or al, 1
    0x0f, 0x22, 0xc0, // mov cr0, eax
    0x66, 0xea, ...lo16(pm32), ...lo16(pm32 >>> 16), ...lo16(CODE_SELECTOR), // jmp dword 08:pm32
  ];
  const flat32 = [
    0x66, 0xb8, ...lo16(DATA_SELECTOR), // mov ax, 0x10
    0x8e, 0xd8, 0x8e, 0xc0, 0x8e, 0xd0, 0x8e, 0xe0, 0x8e, 0xe8, // mov ds/es/ss/fs/gs, ax
    0xbc, ...lo16(BOOT_STACK), 0, 0, // mov esp, BOOT_STACK
    0xf4, // hlt
  ];
  const out = new Uint8Array(0x40);
  out.set(real16, 0);
  out.set(flat32, pm32 - STUB_BASE);
  return out;
}

/** Write the GDT, IDT, their pseudo-descriptors, the HLT stubs and the boot stub. */
function writeBootImage(bare: BareCpu): void {
  const { memory } = bare;
  memory.writeBytes(GDT_BASE, dwords([0, 0, ...flatDescriptor(0x9a), ...flatDescriptor(0x92)]));
  const gates: number[] = [];
  for (let v = 0; v < VECTORS; v++) gates.push(...interruptGate(HANDLER_BASE + v * HANDLER_STRIDE, CODE_SELECTOR));
  memory.writeBytes(IDT_BASE, dwords(gates));
  const pseudo = new Uint8Array(16);
  const pv = new DataView(pseudo.buffer);
  pv.setUint16(0, 3 * 8 - 1, true);
  pv.setUint32(2, GDT_BASE, true);
  pv.setUint16(8, VECTORS * 8 - 1, true);
  pv.setUint32(10, IDT_BASE, true);
  memory.writeBytes(GDTR_AT, pseudo);
  memory.writeBytes(HANDLER_BASE, new Uint8Array(VECTORS * HANDLER_STRIDE).fill(0xf4));
  memory.writeBytes(STUB_BASE, bootStub());
}

/** Check the state the stub should have reached; returns what is wrong, or null. */
function checkFlatState(bare: BareCpu, exit: RunExit): string | null {
  const c = bare.cpu;
  if (exit !== RunExit.Halted) return `the boot stub did not reach its HLT (run() returned ${exit})`;
  if (c.eip !== STUB_BASE + 0x20 + 0x14) return `the boot stub halted at EIP ${c.eip.toString(16)} (an exception?)`;
  if ((c.cr0 & 1) === 0) return 'CR0.PE is clear after MOV CR0';
  if (c.segSel[Seg.CS] !== CODE_SELECTOR || c.ipMask !== -1) return `CS is ${c.segSel[Seg.CS].toString(16)} (ipMask ${c.ipMask}), not the 32-bit code selector`;
  for (const s of [Seg.DS, Seg.ES, Seg.SS, Seg.FS, Seg.GS]) {
    if (c.segSel[s] !== DATA_SELECTOR || c.segBase[s] !== 0 || c.segLimit[s] !== 0xffffffff) {
      return `segment ${s} is selector ${c.segSel[s].toString(16)} base ${c.segBase[s]} limit ${c.segLimit[s]}, not flat data`;
    }
  }
  if (c.stackMask !== -1) return 'SS is not a 32-bit (B=1) stack';
  return null;
}

/**
 * A bare CPU in 32-bit flat protected mode at CPL 0, booted through the real-mode stub.
 * Throws an Error naming what went wrong when the CPU cannot get there (e.g. a CpuHostError
 * from an unimplemented protected-mode step, or a state check that fails).
 */
export function createFlat32Cpu(ramBytes = 4 << 20): BareCpu {
  const bare = createBareCpu(ramBytes);
  writeBootImage(bare);
  setRealModeState(bare.cpu, { ip: STUB_BASE, flags: 2 });
  let exit: RunExit;
  try {
    exit = bare.cpu.run(100);
  } catch (e) {
    throw new Error(`entering flat protected mode failed: ${(e as Error).name}: ${(e as Error).message}`);
  }
  const problem = checkFlatState(bare, exit);
  if (problem !== null) throw new Error(`entering flat protected mode failed: ${problem}`);
  return bare;
}

/** The vector whose HLT stub the CPU halted in (EIP just past it), or -1. */
export function haltedVector(eip: number): number {
  const at = eip - 1 - HANDLER_BASE;
  if (at < 0 || at >= VECTORS * HANDLER_STRIDE || at % HANDLER_STRIDE !== 0) return -1;
  return at / HANDLER_STRIDE;
}

/** A 32-bit exception frame as the CPU pushed it at CPL 0 (SDM vol. 3 Figure 6-4). */
export interface ExceptionFrame {
  eip: number;
  cs: number;
  eflags: number;
  /** -1 when the vector pushes none. */
  errorCode: number;
  /** ESP before the frame was pushed. */
  espBefore: number;
  /** Bytes the frame occupies (12 or 16). */
  size: number;
}

/** Read the exception frame of `vector` at the CPU's current ESP. */
export function readExceptionFrame(bare: BareCpu, vector: number): ExceptionFrame {
  const c = bare.cpu;
  const hasError = ERROR_CODE_VECTORS.has(vector);
  const esp = c.regs[4] >>> 0;
  const buf = new Uint8Array(16);
  bare.memory.readBytes(esp, buf);
  const v = new DataView(buf.buffer);
  const at = hasError ? 4 : 0;
  const size = hasError ? 16 : 12;
  return {
    errorCode: hasError ? v.getUint32(0, true) : -1,
    eip: v.getUint32(at, true),
    cs: v.getUint32(at + 4, true) & 0xffff,
    eflags: v.getUint32(at + 8, true),
    espBefore: (esp + size) >>> 0,
    size,
  };
}
