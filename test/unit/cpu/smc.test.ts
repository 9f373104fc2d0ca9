/**
 * Self-modifying code and the decoded-block cache (src/cpu/block-cache.ts, the code-frame
 * hooks in cpu.ts and memory/guest-memory.ts): a store into a frame holding decoded blocks
 * must drop them so the patched bytes run the next time, whether the patched instruction is
 * later in the same block, in the next block, in a block that ran before, across a frame
 * boundary, or written by REP STOSB or by device DMA (GuestMemory.writeBytes).
 * SDM vol. 3 §11.6 (self-modifying code).
 */
import { describe, expect, it } from 'vitest';
import { RunExit } from '../../../src/cpu/cpu.js';
import { setRealModeState } from '../../helpers/real-mode-cpu.js';
import {
  boot, runToCodeHalt, u16, CODE_BASE, CODE_SEG, DATA_BASE, EAX, EBX, ECX, EDX,
} from '../../helpers/cpu-program.js';

describe('self-modifying code', () => {
  it('patching an immediate later in the same block takes effect immediately', () => {
    const code = [
      0xb9, 0x03, 0x00, // mov cx, 3
      0x31, 0xdb, // xor bx, bx
      // top:
      0x2e, 0x88, 0x0e, 0x0b, 0x00, // mov [cs:patch+1], cl
      // patch:
      0xb0, 0x00, // mov al, 0
      0x00, 0xc3, // add bl, al
      0xe2, 0xf5, // loop top
      0xf4, // hlt
    ];
    const vm = boot(code);
    const before = vm.cpu.blocks.invalidations;
    runToCodeHalt(vm, code.length);
    expect(u16(vm, EBX)).toBe(3 + 2 + 1);
    expect(vm.cpu.blocks.invalidations).toBeGreaterThanOrEqual(before + 3);
  });

  it('patching an instruction in the next block', () => {
    const code = [
      0xb9, 0x03, 0x00, // mov cx, 3
      0x31, 0xdb, // xor bx, bx
      // top:
      0x2e, 0x88, 0x0e, 0x0d, 0x00, // mov [cs:target+1], cl
      0xeb, 0x00, // jmp target
      // target:
      0xb0, 0x00, // mov al, 0
      0x00, 0xc3, // add bl, al
      0xe2, 0xf3, // loop top
      0xf4, // hlt
    ];
    const vm = boot(code);
    runToCodeHalt(vm, code.length);
    expect(u16(vm, EBX)).toBe(3 + 2 + 1);
  });

  it('patching a routine (on another page) after it ran: the next call runs the new bytes', () => {
    const code = [
      0xb9, 0x03, 0x00, // mov cx, 3
      0x31, 0xdb, // xor bx, bx
      // top:
      0xe8, 0xf8, 0x1f, // call 0x2000
      0x00, 0xc3, // add bl, al
      0x2e, 0x88, 0x0e, 0x01, 0x20, // mov [cs:0x2001], cl
      0xe2, 0xf4, // loop top
      0xf4, // hlt
    ];
    const routine = [
      0xb0, 0x10, // mov al, 0x10
      0xc3, // ret
    ];
    const vm = boot(code);
    vm.memory.writeBytes(CODE_BASE + 0x2000, Uint8Array.from(routine));
    runToCodeHalt(vm, code.length);
    expect(u16(vm, EBX) & 0xff).toBe(0x10 + 3 + 2);
  });

  it('patching the part of an instruction that lies in the next frame', () => {
    const code = [
      0xe8, 0xfb, 0x0f, // call 0x0ffe
      0x89, 0xc2, // mov dx, ax
      0x2e, 0xc6, 0x06, 0x00, 0x10, 0x56, // mov byte [cs:0x1000], 0x56
      0xe8, 0xf0, 0x0f, // call 0x0ffe
      0xf4, // hlt
    ];
    // At CS:0FFE (linear 0x1FFE): mov ax, 0x1234 (B8 34 | 12 in the next frame); ret
    const vm = boot(code);
    vm.memory.writeBytes(CODE_BASE + 0x0ffe, Uint8Array.from([0xb8, 0x34, 0x12, 0xc3])); // mov ax, 0x1234; ret
    runToCodeHalt(vm, code.length);
    expect(u16(vm, EDX)).toBe(0x1234);
    expect(u16(vm, EAX)).toBe(0x5634);
  });

  it('REP STOSB overwriting the code right after it', () => {
    const code = [
      0xbf, 0x0a, 0x00, // mov di, after
      0xb9, 0x03, 0x00, // mov cx, 3
      0xb0, 0x90, // mov al, 0x90
      0xf3, 0xaa, // rep stosb
      // after:
      0x43, // inc bx
      0x43, // inc bx
      0x43, // inc bx
      0xf4, // hlt
    ];
    const vm = boot(code, { regs: { es: CODE_SEG } });
    runToCodeHalt(vm, code.length);
    expect(u16(vm, EBX)).toBe(0);
    expect(u16(vm, ECX)).toBe(0);
  });

  it('a page first written as data (write translation cached), then run, then rewritten', () => {
    const code = [
      0x26, 0xc7, 0x06, 0x00, 0x00, 0xb0, 0x11, // mov word [es:0], 0x11b0
      0x26, 0xc6, 0x06, 0x02, 0x00, 0xcb, // mov byte [es:2], 0xcb
      0x9a, 0x00, 0x00, 0x00, 0x03, // call 0x0300:0x0000
      0x88, 0xc3, // mov bl, al
      0x26, 0xc6, 0x06, 0x01, 0x00, 0x22, // mov byte [es:1], 0x22
      0x9a, 0x00, 0x00, 0x00, 0x03, // call 0x0300:0x0000
      0x88, 0xc1, // mov cl, al
      0xf4, // hlt
    ];
    // ES:0 becomes "mov al, 0x11; retf", then "mov al, 0x22; retf".
    const vm = boot(code, { regs: { es: 0x0300 } });
    runToCodeHalt(vm, code.length);
    expect(u16(vm, EBX) & 0xff).toBe(0x11);
    expect(u16(vm, ECX) & 0xff).toBe(0x22);
  });

  it('a loop whose body is rewritten each iteration keeps running the latest bytes', () => {
    const code = [
      0xb9, 0xc8, 0x00, // mov cx, 200
      0x31, 0xd2, // xor dx, dx
      // top:
      0x2e, 0x88, 0x0e, 0x0c, 0x00, // mov [cs:body+2], cl
      // body:
      0x83, 0xc2, 0x00, // add dx, byte 0
      0xe2, 0xf6, // loop top
      0xf4, // hlt
    ];
    const vm = boot(code);
    runToCodeHalt(vm, code.length);
    // The imm8 of "add dx, byte imm8" is sign-extended: counts 128..200 add negative values.
    let want = 0;
    for (let c = 200; c >= 1; c--) want = (want + ((c << 24) >> 24)) & 0xffff;
    expect(u16(vm, EDX)).toBe(want);
  });
});

describe('code written from outside the CPU (DMA)', () => {
  it('GuestMemory.writeBytes over executed code is re-decoded on the next run', () => {
    const vm = boot([0xb8, 0x01, 0x00, 0xf4]); // mov ax, 1; hlt
    runToCodeHalt(vm, 4);
    expect(u16(vm, EAX)).toBe(1);
    const before = vm.cpu.blocks.invalidations;
    vm.memory.writeBytes(CODE_BASE, Uint8Array.from([0xb8, 0x02, 0x00, 0xf4])); // mov ax, 2; hlt
    expect(vm.cpu.blocks.invalidations).toBe(before + 1);
    vm.cpu.eip = 0;
    vm.cpu.halted = false;
    runToCodeHalt(vm, 4);
    expect(u16(vm, EAX)).toBe(2);
  });

  it('a DMA write to a data frame does not invalidate code', () => {
    const vm = boot([0xb8, 0x01, 0x00, 0xf4]); // mov ax, 1; hlt
    runToCodeHalt(vm);
    const before = vm.cpu.blocks.invalidations;
    const decoded = vm.cpu.blocks.decodedBlocks;
    vm.memory.writeBytes(DATA_BASE, Uint8Array.from([1, 2, 3]));
    expect(vm.cpu.blocks.invalidations).toBe(before);
    vm.cpu.eip = 0;
    vm.cpu.halted = false;
    runToCodeHalt(vm);
    expect(vm.cpu.blocks.decodedBlocks).toBe(decoded); // the cached block was reused
  });

  it('a single-byte DMA write in the middle of a long block', () => {
    const code = [
      0x40, // inc ax
      0x40, // inc ax
      0x40, // inc ax
      0x40, // inc ax
      0xf4, // hlt
    ];
    const vm = boot(code);
    runToCodeHalt(vm);
    expect(u16(vm, EAX)).toBe(4);
    vm.memory.write8(CODE_BASE + 2, 0x48); // third instruction becomes dec ax
    vm.cpu.eip = 0;
    vm.cpu.halted = false;
    runToCodeHalt(vm);
    expect(u16(vm, EAX)).toBe(4 + 2);
  });
});

describe('block cache keyed by physical address', () => {
  it('a block cached at one CS:IP is not reused from another CS:IP whose IP would wrap at FFFF inside it', () => {
    // Phys 0x11000: 16 x inc ax, then hlt. Phys 0x1010 (= 0101:0000): inc bx; hlt.
    const vm = boot([0xf4]);
    vm.memory.writeBytes(0x11000, Uint8Array.from([...new Array<number>(16).fill(0x40), 0xf4])); // inc ax x16; hlt
    vm.memory.writeBytes(0x1010, Uint8Array.from([0x43, 0xf4])); // inc bx; hlt
    // First run it as 1100:0000 (no wrap): the block 0x11000.. is decoded and cached.
    setRealModeState(vm.cpu, { cs: 0x1100, ip: 0, ss: 0x0800, sp: 0x1000 });
    expect(vm.cpu.run(1000)).toBe(RunExit.Halted);
    expect(u16(vm, EAX)).toBe(16);
    // Then as 0101:FFF0, the same physical bytes: after 16 bytes IP wraps to 0000 = phys 0x1010.
    setRealModeState(vm.cpu, { cs: 0x0101, ip: 0xfff0, ss: 0x0800, sp: 0x1000 });
    expect(vm.cpu.run(1000)).toBe(RunExit.Halted);
    expect(u16(vm, EAX)).toBe(16);
    expect(u16(vm, EBX)).toBe(1);
    expect(vm.cpu.eip).toBe(2);
  });

  it('the same code reached through a fresh CS:IP that wraps runs correctly when not cached', () => {
    const vm = boot([0xf4]);
    vm.memory.writeBytes(0x11000, Uint8Array.from([...new Array<number>(16).fill(0x40), 0xf4])); // inc ax x16; hlt
    vm.memory.writeBytes(0x1010, Uint8Array.from([0x43, 0xf4])); // inc bx; hlt
    setRealModeState(vm.cpu, { cs: 0x0101, ip: 0xfff0, ss: 0x0800, sp: 0x1000 });
    expect(vm.cpu.run(1000)).toBe(RunExit.Halted);
    expect(u16(vm, EAX)).toBe(16);
    expect(u16(vm, EBX)).toBe(1);
    expect(vm.cpu.eip).toBe(2);
  });
});
