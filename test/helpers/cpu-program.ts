/**
 * Test helper for instruction-level CPU tests (test/unit/cpu): a bare real-mode CPU with a
 * fixed memory layout, every interrupt vector pointing at its own one-byte HLT handler,
 * and small readers for registers, flags, memory and the frame an exception pushed.
 *
 * Layout (linear addresses):
 *   0x00000-0x003FF  IVT: vector v -> 0000:(HANDLER_BASE + v)
 *   0x00600-0x006FF  handlers: one HLT per vector
 *   0x01000-         code (CS = CODE_SEG, IP = 0)
 *   0x08000-0x08FFF  stack (SS = STACK_SEG, SP = STACK_TOP: top at 0x9000)
 *   0x20000-         data (DS = DATA_SEG)
 *   0x30000-         extra (ES = EXTRA_SEG)
 */
import { expect } from 'vitest';
import { RunExit } from '../../src/cpu/cpu.js';
import { SEG_CS, SEG_SS } from '../../src/cpu/decoded.js';
import { createBareCpu, setRealModeState, type BareCpu } from './real-mode-cpu.js';

export const CODE_SEG = 0x0100;
export const CODE_BASE = CODE_SEG << 4;
export const STACK_SEG = 0x0800;
export const STACK_TOP = 0x1000;
export const DATA_SEG = 0x2000;
export const DATA_BASE = DATA_SEG << 4;
export const EXTRA_SEG = 0x3000;
export const EXTRA_BASE = EXTRA_SEG << 4;
/** Offset (in segment 0) of the HLT handling vector 0; vector v's handler is at HANDLER_BASE + v. */
export const HANDLER_BASE = 0x600;

/** Register numbers in encoding order. */
export const EAX = 0, ECX = 1, EDX = 2, EBX = 3, ESP = 4, EBP = 5, ESI = 6, EDI = 7;

/** Options for `boot`. */
export interface BootOptions {
  /** 16-bit register and segment values for setRealModeState (ax, cx, ..., es, cs, ss, ds, ip, flags). */
  regs?: Record<string, number>;
  /** Full 32-bit values for general registers, applied after `regs`. */
  regs32?: Partial<Record<number, number>>;
  /** Where the code goes (linear); defaults to CS:IP. */
  codeAt?: number;
}

/** A bare CPU loaded with `code` at CODE_SEG:0000 (or `regs.cs:regs.ip`), HLT handlers installed. */
export function boot(code: readonly number[], options: BootOptions = {}): BareCpu {
  const vm = createBareCpu(2 << 20);
  for (let v = 0; v < 256; v++) {
    vm.memory.write16(v * 4, HANDLER_BASE + v);
    vm.memory.write16(v * 4 + 2, 0);
    vm.memory.write8(HANDLER_BASE + v, 0xf4);
  }
  const regs = {
    cs: CODE_SEG, ip: 0, ss: STACK_SEG, sp: STACK_TOP, ds: DATA_SEG, es: EXTRA_SEG, flags: 0x0002,
    ...options.regs,
  };
  const codeAt = options.codeAt ?? ((regs.cs << 4) + regs.ip);
  vm.memory.writeBytes(codeAt, Uint8Array.from(code));
  setRealModeState(vm.cpu, regs);
  for (const [r, v] of Object.entries(options.regs32 ?? {})) vm.cpu.regs[Number(r)] = v as number;
  return vm;
}

/** Run until HLT; fails the test if the budget runs out first. */
export function runToHalt(vm: BareCpu, budget = 1_000_000): void {
  const exit = vm.cpu.run(budget);
  expect(exit, `run() ended with ${exit} at ${vm.cpu.segSel[SEG_CS].toString(16)}:${vm.cpu.eip.toString(16)}`).toBe(RunExit.Halted);
}

/** Run until HLT and check it was the HLT at CODE_SEG:`ipAfterHlt - 1` (no exception). */
export function runToCodeHalt(vm: BareCpu, ipAfterHlt?: number): void {
  runToHalt(vm);
  const { cpu } = vm;
  expect(handlerVector(vm), 'an exception handler ran').toBe(-1);
  expect(cpu.segSel[SEG_CS]).toBe(CODE_SEG);
  if (ipAfterHlt !== undefined) expect(cpu.eip).toBe(ipAfterHlt);
}

/** The vector whose HLT handler the CPU stopped in, or -1. */
export function handlerVector(vm: BareCpu): number {
  const { cpu } = vm;
  if (cpu.segSel[SEG_CS] !== 0) return -1;
  const v = cpu.eip - 1 - HANDLER_BASE;
  return v >= 0 && v < 256 ? v : -1;
}

/** The real-mode interrupt frame on top of the stack. */
export interface InterruptFrame { ip: number; cs: number; flags: number }

/** The frame at SS:SP (IP, CS, FLAGS). */
export function topFrame(vm: BareCpu): InterruptFrame {
  const { cpu, memory } = vm;
  const base = cpu.segBase[SEG_SS] >>> 0, sp = cpu.regs[ESP] & 0xffff;
  const at = (k: number) => memory.read16(base + ((sp + 2 * k) & 0xffff));
  return { ip: at(0), cs: at(1), flags: at(2) };
}

/** Run to HLT, expect the handler of `vector` to be where it stopped, and return the pushed frame. */
export function runToFault(vm: BareCpu, vector: number): InterruptFrame {
  runToHalt(vm);
  expect(handlerVector(vm), 'vector of the handler reached').toBe(vector);
  return topFrame(vm);
}

/** Unsigned 32-bit value of general register r. */
export function u32(vm: BareCpu, r: number): number {
  return vm.cpu.regs[r] >>> 0;
}

/** 16-bit value of general register r. */
export function u16(vm: BareCpu, r: number): number {
  return vm.cpu.regs[r] & 0xffff;
}

/** The six status flags plus DF/IF/TF of the CPU, as a number. */
export function flags(vm: BareCpu): number {
  return vm.cpu.getFlags();
}
