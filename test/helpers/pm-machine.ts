/**
 * Test helper: a bare CPU brought into 32-bit protected mode the way a guest does it (a
 * real-mode stub runs LGDT, LIDT, MOV CR0, a far JMP, segment loads and LTR), with a fixed
 * layout of system tables that tests can extend. Every IDT vector points at its own HLT
 * in ring 0, so a test sees which exception arrived and the frame it pushed.
 *
 * Layout (linear = physical unless a test enables paging):
 *   0x01000 GDT (64 entries)       0x01800 IDT (256 interrupt gates)
 *   0x02000 TSS (32-bit, I/O bitmap at +0x68, all ports allowed)   0x05000 LDT (space)
 *   0x06000 handlers: vector v's HLT at 0x6000 + 4v                 0x07000 boot stub
 *   0x09000 ring-0 stack top (TSS.ESP0)  0x10000 test code  0x20000 data  0x31000 ring-3 stack top
 * Selectors: 0x08 code32 DPL0, 0x10 data32 DPL0, 0x18 code32 DPL3, 0x20 data32 DPL3,
 * 0x28 TSS, 0x30 code16 DPL0, 0x38 data16 DPL0; 0x40 and up are free for tests.
 */
import { expect } from 'vitest';
import { RunExit } from '../../src/cpu/cpu.js';
import { assemble } from './nasm.js';
import { createBareCpu, setRealModeState, type BareCpu } from './real-mode-cpu.js';

export const GDT = 0x1000, IDT = 0x1800, TSS = 0x2000, LDT = 0x5000, HANDLERS = 0x6000, STUB = 0x7000;
export const STACK0 = 0x9000, CODE = 0x10000, DATA = 0x20000, STACK3 = 0x31000;
export const CODE0 = 0x08, DATA0 = 0x10, CODE3 = 0x1b, DATA3 = 0x23, TSS_SEL = 0x28, CODE16 = 0x30, DATA16 = 0x38;
const TSS_LIMIT = 0x68 + 8192;

/** Access-byte values for common descriptors. */
export const ACC = {
  code0: 0x9a, data0: 0x92, code3: 0xfa, data3: 0xf2, tss32: 0x89, ldt: 0x82,
  callGate32: 0x8c, intGate32: 0x8e, trapGate32: 0x8f, taskGate: 0x85,
} as const;

/** Write GDT/LDT entry `index` at table `table` as a segment descriptor. */
export function setDescriptor(vm: BareCpu, table: number, index: number, base: number, limit: number, access: number, flags = 0xc): void {
  const big = limit > 0xfffff;
  const lim = big ? limit >>> 12 : limit;
  const fl = big ? flags | 0x8 : flags & ~0x8;
  const lo = ((base & 0xffff) << 16) | (lim & 0xffff);
  const hi = ((base >>> 16) & 0xff) | (access << 8) | (lim & 0xf0000) | (fl << 20) | (base & 0xff000000);
  vm.memory.write32(table + index * 8, lo >>> 0);
  vm.memory.write32(table + index * 8 + 4, hi >>> 0);
}

/** Write a gate (call/interrupt/trap/task) at entry `index` of `table`. */
export function setGate(vm: BareCpu, table: number, index: number, selector: number, offset: number, access: number, params = 0): void {
  vm.memory.write32(table + index * 8, ((selector << 16) | (offset & 0xffff)) >>> 0);
  vm.memory.write32(table + index * 8 + 4, ((offset & 0xffff0000) | (access << 8) | (params & 0x1f)) >>> 0);
}

/** A protected-mode machine ready to run `code` (32-bit NASM source, `org CODE` added). */
export function bootProtected(code: string, ramBytes = 4 << 20): BareCpu {
  const vm = createBareCpu(ramBytes);
  setDescriptor(vm, GDT, 1, 0, 0xffffffff, ACC.code0);
  setDescriptor(vm, GDT, 2, 0, 0xffffffff, ACC.data0);
  setDescriptor(vm, GDT, 3, 0, 0xffffffff, ACC.code3);
  setDescriptor(vm, GDT, 4, 0, 0xffffffff, ACC.data3);
  setDescriptor(vm, GDT, 5, TSS, TSS_LIMIT, ACC.tss32, 0);
  setDescriptor(vm, GDT, 6, 0, 0xffff, ACC.code0, 0);
  setDescriptor(vm, GDT, 7, 0, 0xffff, ACC.data0, 0);
  for (let v = 0; v < 256; v++) {
    setGate(vm, IDT, v, CODE0, HANDLERS + 4 * v, ACC.intGate32);
    vm.memory.write8(HANDLERS + 4 * v, 0xf4);
  }
  vm.memory.write32(TSS + 4, STACK0);
  vm.memory.write32(TSS + 8, DATA0);
  vm.memory.write16(TSS + 0x66, 0x68);
  vm.memory.write8(TSS + TSS_LIMIT, 0xff);
  vm.memory.writeBytes(STUB, assemble(bootStub()));
  vm.memory.writeBytes(CODE, assemble(`bits 32\norg 0x${CODE.toString(16)}\n${PRELUDE}\n${code}\n`));
  setRealModeState(vm.cpu, { cs: STUB >> 4, ip: 0, flags: 2 });
  return vm;
}

/**
 * NASM definitions available to test code: the layout constants, ABS(label) (a label's
 * address as a plain number), and SETGATE/SETSEG to write descriptors at run time.
 */
const PRELUDE = `
%define GDT 0x${GDT.toString(16)}
%define IDT 0x${IDT.toString(16)}
%define TSS 0x${TSS.toString(16)}
%define DATA 0x${DATA.toString(16)}
%define STACK0 0x${STACK0.toString(16)}
%define STACK3 0x${STACK3.toString(16)}
%define ABS(l) ((l) - $$ + 0x${CODE.toString(16)})
; SETGATE table, index, selector, offset, access, params
%macro SETGATE 6
  mov dword [%1 + (%2) * 8], ((%3) << 16) | ((%4) & 0xffff)
  mov dword [%1 + (%2) * 8 + 4], ((%4) & 0xffff0000) | ((%5) << 8) | (%6)
%endmacro
`;

function bootStub(): string {
  return `bits 16
org 0x${STUB.toString(16)}
  cli
  o32 lgdt [cs:gdtr - 0x${STUB.toString(16)}]
  o32 lidt [cs:idtr - 0x${STUB.toString(16)}]
  mov eax, cr0
  or al, 1
  mov cr0, eax
  jmp dword 0x${CODE0.toString(16)}:pm
bits 32
pm:
  mov ax, 0x${DATA0.toString(16)}
  mov ds, ax
  mov es, ax
  mov fs, ax
  mov gs, ax
  mov ss, ax
  mov esp, 0x${STACK0.toString(16)}
  mov ax, 0x${TSS_SEL.toString(16)}
  ltr ax
  jmp 0x${CODE0.toString(16)}:0x${CODE.toString(16)}
gdtr: dw 64*8-1
  dd 0x${GDT.toString(16)}
idtr: dw 256*8-1
  dd 0x${IDT.toString(16)}
`;
}

/** Run to a HLT; returns the vector whose handler stopped the CPU, or -1 for a HLT elsewhere. */
export function runProtected(vm: BareCpu, budget = 1_000_000): number {
  const exit = vm.cpu.run(budget);
  expect(exit, `run() ended with ${exit} at eip ${vm.cpu.eip.toString(16)}`).toBe(RunExit.Halted);
  const at = vm.cpu.eip - 1;
  if (vm.cpu.segBase[1] === 0 && at >= HANDLERS && at < HANDLERS + 1024 && (at - HANDLERS) % 4 === 0) return (at - HANDLERS) / 4;
  return -1;
}

/** Dword `k` of the stack at SS:ESP (flat stacks). */
export function stackDword(vm: BareCpu, k: number): number {
  return vm.memory.read32((vm.cpu.segBase[2] + vm.cpu.regs[4] + 4 * k) >>> 0) >>> 0;
}
