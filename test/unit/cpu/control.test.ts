/**
 * Control transfer and exception delivery of the real-mode CPU (src/cpu/ops/control.ts,
 * cpu.ts interrupt delivery): Jcc on every condition, near/far CALL/RET with stack
 * release, LOOP/LOOPE/LOOPNE/JCXZ at both address sizes, INT n/IRET, INT3/INTO, the
 * faults #DE/#BR/#UD with the faulting IP pushed, single-step traps, the MOV SS / STI
 * interrupt shadow, LIDT relocating the real-mode IVT, and HLT ending run().
 * SDM vol. 3 ch. 6 (interrupts), ch. 17.3.1.4 (single step), ch. 20.1.4 (real-mode IVT).
 */
import { describe, expect, it } from 'vitest';
import { RunExit } from '../../../src/cpu/cpu.js';
import { SEG_CS } from '../../../src/cpu/decoded.js';
import { FLAG_CF, FLAG_DF, FLAG_IF, FLAG_OF, FLAG_PF, FLAG_SF, FLAG_TF, FLAG_ZF } from '../../../src/cpu/flags.js';
import type { InterruptSource } from '../../../src/cpu/port-io.js';
import {
  boot, handlerVector, runToCodeHalt, runToFault, runToHalt, topFrame, u16, u32, CODE_SEG, DATA_BASE,
  EAX, EBX, ECX, EDX, ESI, ESP,
} from '../../helpers/cpu-program.js';

const HLT = 0xf4;
const F = 0x0002; // reserved bit 1

/** Flag sets under which the even condition code 2k holds / does not hold (odd codes are the inverse). */
const CONDITIONS: { name: string; cc: number; yes: number[]; no: number[] }[] = [
  { name: 'O', cc: 0x0, yes: [FLAG_OF], no: [0, FLAG_CF | FLAG_ZF | FLAG_SF | FLAG_PF] },
  { name: 'B', cc: 0x2, yes: [FLAG_CF], no: [0, FLAG_ZF | FLAG_OF | FLAG_SF] },
  { name: 'E', cc: 0x4, yes: [FLAG_ZF], no: [0, FLAG_CF | FLAG_OF] },
  { name: 'BE', cc: 0x6, yes: [FLAG_CF, FLAG_ZF, FLAG_CF | FLAG_ZF], no: [0, FLAG_SF | FLAG_OF] },
  { name: 'S', cc: 0x8, yes: [FLAG_SF], no: [0, FLAG_OF | FLAG_CF] },
  { name: 'P', cc: 0xa, yes: [FLAG_PF], no: [0, FLAG_ZF | FLAG_CF] },
  { name: 'L', cc: 0xc, yes: [FLAG_SF, FLAG_OF], no: [0, FLAG_SF | FLAG_OF, FLAG_ZF] },
  { name: 'LE', cc: 0xe, yes: [FLAG_ZF, FLAG_SF, FLAG_OF, FLAG_ZF | FLAG_SF | FLAG_OF], no: [0, FLAG_SF | FLAG_OF] },
];

/** Jcc short: "jcc +3; mov al, 1; hlt; mov al, 2; hlt". */
function shortJcc(cc: number): number[] {
  return [
    0x70 + cc, 0x03, // jcc short +3
    0xb0, 0x01, // mov al, 1
    0xf4, // hlt
    0xb0, 0x02, // mov al, 2
    0xf4, // hlt
  ];
}
/** Jcc near: "jcc near +3; mov al, 1; hlt; mov al, 2; hlt". */
function nearJcc(cc: number): number[] {
  return [
    0x0f, 0x80 + cc, 0x03, 0x00, // jcc near +3
    0xb0, 0x01, // mov al, 1
    0xf4, // hlt
    0xb0, 0x02, // mov al, 2
    0xf4, // hlt
  ];
}

describe('Jcc', () => {
  for (const c of CONDITIONS) {
    for (const negate of [false, true]) {
      const cc = c.cc | (negate ? 1 : 0);
      const name = (negate ? 'N' : '') + c.name;
      const taken = negate ? c.no : c.yes;
      const notTaken = negate ? c.yes : c.no;
      it(`J${name} (cc ${cc}) short and near: taken and not taken`, () => {
        for (const [form, code, skip] of [['short', shortJcc(cc), 2], ['near', nearJcc(cc), 4]] as const) {
          for (const f of taken) {
            const vm = boot(code, { regs: { flags: F | f } });
            runToCodeHalt(vm, skip + 6);
            expect(u16(vm, EAX) & 0xff, `${form} J${name} flags ${f.toString(16)} taken`).toBe(2);
          }
          for (const f of notTaken) {
            const vm = boot(code, { regs: { flags: F | f } });
            runToCodeHalt(vm, skip + 3);
            expect(u16(vm, EAX) & 0xff, `${form} J${name} flags ${f.toString(16)} not taken`).toBe(1);
          }
        }
      });
    }
  }

  it('conditions read lazily computed flags: signed vs unsigned compares', () => {
    const code = [
      0x31, 0xd2, // xor dx, dx
      0x39, 0xd8, // cmp ax, bx
      0x7c, 0x03, // jl less
      0x80, 0xca, 0x01, // or dl, 1
      // less:
      0x39, 0xd8, // cmp ax, bx
      0x72, 0x03, // jb below
      0x80, 0xca, 0x02, // or dl, 2
      // below:
      0x39, 0xd8, // cmp ax, bx
      0x70, 0x03, // jo over
      0x80, 0xca, 0x04, // or dl, 4
      // over:
      0xf4, // hlt
    ];
    // 0x8000 - 1 = 0x7FFF: signed overflow, so L = SF^OF = 1; unsigned 0x8000 > 1 so not B.
    const vm = boot(code, { regs: { ax: 0x8000, bx: 1 } });
    runToCodeHalt(vm, code.length);
    expect(u16(vm, EDX)).toBe(2);
  });

  it('66h Jcc rel32 in real mode jumps forward', () => {
    const code = [
      0x66, 0x0f, 0x84, 0x02, 0x00, 0x00, 0x00, // db 0x66, 0x0f, 0x84, 0x02, 0x00, 0x00, 0x00 ; jz dword skip (rel32 = 2)
      0xb0, 0x01, // mov al, 1
      // skip:
      0xf4, // hlt
    ];
    const vm = boot(code, { regs: { flags: F | FLAG_ZF } });
    runToCodeHalt(vm, 10);
    expect(u16(vm, EAX)).toBe(0);
  });
});

describe('CALL and RET', () => {
  it('near CALL pushes the return IP; RET pops it', () => {
    const code = [
      0xe8, 0x01, 0x00, // call fn
      0xf4, // hlt
      // fn:
      0x89, 0xe5, // mov bp, sp
      0x8b, 0x46, 0x00, // mov ax, [bp]
      0xc3, // ret
    ];
    const vm = boot(code);
    runToCodeHalt(vm, 4);
    expect(u16(vm, EAX)).toBe(3);
    expect(u16(vm, ESP)).toBe(0x1000);
  });

  it('RET imm16 releases the arguments', () => {
    const code = [
      0x68, 0x11, 0x11, // push word 0x1111
      0x68, 0x22, 0x22, // push word 0x2222
      0xe8, 0x01, 0x00, // call fn
      0xf4, // hlt
      // fn:
      0x89, 0xe5, // mov bp, sp
      0x8b, 0x46, 0x02, // mov ax, [bp+2]
      0x8b, 0x56, 0x04, // mov dx, [bp+4]
      0xc2, 0x04, 0x00, // ret 4
    ];
    const vm = boot(code);
    runToCodeHalt(vm, 10);
    expect(u16(vm, EAX)).toBe(0x2222);
    expect(u16(vm, EDX)).toBe(0x1111);
    expect(u16(vm, ESP)).toBe(0x1000);
  });

  it('far CALL ptr16:16 pushes CS:IP; RETF returns; the callee runs with the new CS', () => {
    const code = [
      0x9a, 0x10, 0x00, 0x00, 0x02, // call 0x0200:0x0010
      0xf4, // hlt
    ];
    const callee = [
      0x89, 0xe5, // mov bp, sp
      0x8b, 0x46, 0x00, // mov ax, [bp]
      0x8b, 0x56, 0x02, // mov dx, [bp+2]
      0x8c, 0xc9, // mov cx, cs
      0xcb, // retf
    ];
    const vm = boot(code);
    vm.memory.writeBytes(0x2010, Uint8Array.from(callee));
    runToCodeHalt(vm, 6);
    expect(u16(vm, EAX)).toBe(5);
    expect(u16(vm, EDX)).toBe(CODE_SEG);
    expect(u16(vm, ECX)).toBe(0x0200);
    expect(u16(vm, ESP)).toBe(0x1000);
  });

  it('RETF imm16 releases the arguments', () => {
    const code = [
      0x68, 0x33, 0x33, // push word 0x3333
      0x68, 0x44, 0x44, // push word 0x4444
      0x68, 0x55, 0x55, // push word 0x5555
      0x9a, 0x10, 0x00, 0x00, 0x02, // call 0x0200:0x0010
      0xf4, // hlt
    ];
    const callee = [
      0x89, 0xe5, // mov bp, sp
      0x8b, 0x46, 0x04, // mov ax, [bp+4]
      0xca, 0x06, 0x00, // retf 6
    ];
    const vm = boot(code);
    vm.memory.writeBytes(0x2010, Uint8Array.from(callee));
    runToCodeHalt(vm, 15);
    expect(u16(vm, EAX)).toBe(0x5555);
    expect(u16(vm, ESP)).toBe(0x1000);
  });

  it('indirect near and far CALL/JMP through memory and registers', () => {
    const code = [
      0xff, 0x17, // call [bx]
      0xff, 0x5f, 0x02, // call far [bx+2]
      0xff, 0xe6, // jmp si
      0x90, // nop
      0x90, // nop
      // target:
      0xff, 0x6f, 0x06, // jmp far [bx+6]
    ];
    // [bx] -> near fn at 0x40; [bx+2] -> far fn 0200:0010; si -> target; [bx+6] -> 0300:0000 (HLT)
    const nearFn = [
      0x40, // inc ax
      0xc3, // ret
    ];
    const farFn = [
      0x83, 0xc0, 0x10, // add ax, 0x10
      0xcb, // retf
    ];
    const vm = boot(code, { regs: { bx: 0x100, si: 9 } });
    vm.memory.writeBytes(0x1040, Uint8Array.from(nearFn));
    vm.memory.writeBytes(0x2010, Uint8Array.from(farFn));
    vm.memory.write8(0x3000, HLT);
    const table = [0x40, 0x0010, 0x0200, 0x0000, 0x0300];
    table.forEach((w, k) => vm.memory.write16(DATA_BASE + 0x100 + 2 * k, w));
    runToHalt(vm);
    expect(vm.cpu.segSel[SEG_CS]).toBe(0x0300);
    expect(vm.cpu.eip).toBe(1);
    expect(u16(vm, EAX)).toBe(0x11);
    expect(u16(vm, ESP)).toBe(0x1000);
  });
});

describe('LOOP family and JCXZ', () => {
  it('LOOP counts CX down to zero', () => {
    const code = [
      // top:
      0x40, // inc ax
      0xe2, 0xfd, // loop top
      0xf4, // hlt
    ];
    const vm = boot(code, { regs: { cx: 5 } });
    runToCodeHalt(vm, 4);
    expect(u16(vm, EAX)).toBe(5);
    expect(u16(vm, ECX)).toBe(0);
  });

  it('16-bit LOOP uses only CX (the upper half of ECX is untouched)', () => {
    const code = [
      // top:
      0x66, 0x40, // inc eax
      0xe2, 0xfc, // loop top
      0xf4, // hlt
    ];
    const vm = boot(code, { regs32: { [ECX]: 0x00010002 } });
    runToCodeHalt(vm);
    expect(u32(vm, EAX)).toBe(2);
    expect(u32(vm, ECX)).toBe(0x00010000);
  });

  it('67h LOOP uses ECX', () => {
    const code = [
      // top:
      0x66, 0x40, // inc eax
      0x67, 0xe2, 0xfb, // a32 loop top
      0xf4, // hlt
    ];
    const vm = boot(code, { regs32: { [ECX]: 0x00010002 } });
    runToCodeHalt(vm);
    expect(u32(vm, EAX)).toBe(0x10002);
    expect(u32(vm, ECX)).toBe(0);
  });

  it('LOOP with CX=0 runs 65536 times', () => {
    const code = [
      // top:
      0x66, 0x40, // inc eax
      0xe2, 0xfc, // loop top
      0xf4, // hlt
    ];
    const vm = boot(code, { regs: { cx: 0 } });
    runToCodeHalt(vm);
    expect(u32(vm, EAX)).toBe(0x10000);
  });

  const scan = [
    // top:
    0xac, // lodsb
    0x3c, 0x00, // cmp al, 0
    0xe1, 0xfb, // loope top
    0xf4, // hlt
  ];
  it('LOOPE stops at the first non-matching element', () => {
    const vm = boot(scan, { regs: { cx: 8, si: 0 } });
    vm.memory.writeBytes(DATA_BASE, Uint8Array.from([0, 0, 5, 0, 0]));
    runToCodeHalt(vm);
    expect(u16(vm, ESI)).toBe(3);
    expect(u16(vm, ECX)).toBe(5);
  });
  it('LOOPE stops when CX runs out even while ZF=1', () => {
    const vm = boot(scan, { regs: { cx: 4, si: 0 } });
    runToCodeHalt(vm);
    expect(u16(vm, ESI)).toBe(4);
    expect(u16(vm, ECX)).toBe(0);
  });
  it('LOOPNE stops at the first matching element', () => {
    const code = [...scan];
    code[code.length - 3] = 0xe0; // loopne top (was loope)
    const vm = boot(code, { regs: { cx: 8, si: 0 } });
    vm.memory.writeBytes(DATA_BASE, Uint8Array.from([1, 2, 0, 3]));
    runToCodeHalt(vm);
    expect(u16(vm, ESI)).toBe(3);
    expect(u16(vm, ECX)).toBe(5);
  });

  const jcxz = [
    0xe3, 0x03, // jcxz zero
    0xb0, 0x01, // mov al, 1
    0xf4, // hlt
    // zero:
    0xb0, 0x02, // mov al, 2
    0xf4, // hlt
  ];
  const jecxz = [
    0x67, 0xe3, 0x03, // jecxz zero
    0xb0, 0x01, // mov al, 1
    0xf4, // hlt
    // zero:
    0xb0, 0x02, // mov al, 2
    0xf4, // hlt
  ];
  it('JCXZ tests CX only; JECXZ (67h) tests ECX', () => {
    const run = (code: number[], ecx: number) => {
      const vm = boot(code, { regs32: { [ECX]: ecx } });
      runToCodeHalt(vm);
      return u16(vm, EAX) & 0xff;
    };
    expect(jecxz[0]).toBe(0x67);
    expect(run(jcxz, 0)).toBe(2);
    expect(run(jcxz, 0x00010000)).toBe(2);
    expect(run(jcxz, 1)).toBe(1);
    expect(run(jecxz, 0)).toBe(2);
    expect(run(jecxz, 0x00010000)).toBe(1);
  });
});

describe('software interrupts', () => {
  it('INT n / IRET round trip: handler sees IF and TF clear, IRET restores FLAGS, CS, IP', () => {
    const code = [
      0xcd, 0x40, // int 0x40
      0xf4, // hlt
    ];
    const handler = [
      0x9c, // pushf
      0x5b, // pop bx
      0xb8, 0x34, 0x12, // mov ax, 0x1234
      0x8c, 0xc9, // mov cx, cs
      0xcf, // iret
    ];
    const vm = boot(code, { regs: { flags: F | FLAG_IF | FLAG_DF | FLAG_CF } });
    vm.memory.writeBytes(0x800, Uint8Array.from(handler));
    vm.memory.write16(0x40 * 4, 0x0800);
    vm.memory.write16(0x40 * 4 + 2, 0x0000);
    runToCodeHalt(vm, 3);
    expect(u16(vm, EAX)).toBe(0x1234);
    expect(u16(vm, ECX)).toBe(0);
    expect(u16(vm, EBX) & 0x0fff).toBe(F | FLAG_DF | FLAG_CF);
    expect(vm.cpu.getFlags() & 0x0fff).toBe(F | FLAG_IF | FLAG_DF | FLAG_CF);
    expect(u16(vm, ESP)).toBe(0x1000);
  });

  it('INT n pushes FLAGS, CS and the IP after the instruction', () => {
    const vm = boot([0x90, 0xcd, 0x41, HLT], { regs: { flags: F | FLAG_IF | FLAG_ZF } }); // nop; int 0x41; hlt
    const frame = runToFault(vm, 0x41);
    expect(frame).toEqual({ ip: 3, cs: CODE_SEG, flags: F | FLAG_IF | FLAG_ZF });
    expect(vm.cpu.getFlags() & FLAG_IF).toBe(0);
    expect(u16(vm, ESP)).toBe(0x1000 - 6);
  });

  it('INT3 (CC) and INT 3 (CD 03) deliver vector 3 with the next IP', () => {
    expect(runToFault(boot([0xcc, HLT]), 3).ip).toBe(1); // int3
    expect(runToFault(boot([0xcd, 0x03, HLT]), 3).ip).toBe(2); // int 3
  });

  it('INTO traps (vector 4) only when OF=1', () => {
    const frame = runToFault(boot([0xce, HLT], { regs: { flags: F | FLAG_OF } }), 4); // into
    expect(frame.ip).toBe(1);
    expect(frame.flags & FLAG_OF).toBe(FLAG_OF);
    runToCodeHalt(boot([0xce, HLT], { regs: { flags: F } }), 2);
  });
});

describe('faults push the IP of the faulting instruction', () => {
  const faults: { name: string; bytes: number[]; regs: Record<string, number>; vector: number; check?: Record<string, number> }[] = [
    { name: 'div bl with BL=0', bytes: [0xf6, 0xf3], regs: { ax: 0x1234, bx: 0 }, vector: 0, check: { ax: 0x1234 } },
    { name: 'div bl with quotient > FF', bytes: [0xf6, 0xf3], regs: { ax: 0x1234, bx: 0x10 }, vector: 0, check: { ax: 0x1234 } },
    { name: 'div cx with DX:AX / CX > FFFF', bytes: [0xf7, 0xf1], regs: { dx: 1, ax: 0, cx: 1 }, vector: 0, check: { dx: 1, ax: 0 } },
    { name: 'idiv bl: -32768 / -1', bytes: [0xf6, 0xfb], regs: { ax: 0x8000, bx: 0xff }, vector: 0, check: { ax: 0x8000 } },
    { name: 'idiv cx: -2^31 / -1', bytes: [0xf7, 0xf9], regs: { dx: 0x8000, ax: 0, cx: 0xffff }, vector: 0, check: { dx: 0x8000, ax: 0 } },
    { name: 'aam 0', bytes: [0xd4, 0x00], regs: { ax: 0x0055 }, vector: 0, check: { ax: 0x0055 } },
    { name: 'bound ax, [bx] above the upper bound', bytes: [0x62, 0x07], regs: { ax: 11, bx: 0x20 }, vector: 5 },
    { name: 'bound ax, [bx] below the (negative) lower bound', bytes: [0x62, 0x07], regs: { ax: 0xfffa, bx: 0x20 }, vector: 5 },
    { name: 'ud2 (0F 0B)', bytes: [0x0f, 0x0b], regs: {}, vector: 6 },
    { name: 'FF /7 with a memory operand', bytes: [0xff, 0x38], regs: {}, vector: 6 },
    { name: 'FF /7 with a register operand', bytes: [0xff, 0xf8], regs: {}, vector: 6 },
    { name: 'FE /2', bytes: [0xfe, 0x10], regs: {}, vector: 6 },
    { name: '8F /1', bytes: [0x8f, 0x08], regs: {}, vector: 6 },
    { name: 'C6 /1', bytes: [0xc6, 0x08, 0x00], regs: {}, vector: 6 },
    { name: '0F FF', bytes: [0x0f, 0xff], regs: {}, vector: 6 },
    { name: 'bound ax, ax (register form)', bytes: [0x62, 0xc0], regs: {}, vector: 6 },
    { name: 'lea ax, bx (register form)', bytes: [0x8d, 0xc3], regs: {}, vector: 6 },
    { name: 'mov cs, ax', bytes: [0x8e, 0xc8], regs: {}, vector: 6 },
    { name: 'jmp far bx (register form)', bytes: [0xff, 0xeb], regs: {}, vector: 6 },
  ];
  for (const f of faults) {
    it(`${f.name}: vector ${f.vector}`, () => {
      // nop at 0, the faulting instruction at 1
      const vm = boot([0x90, ...f.bytes, HLT], { regs: { ...f.regs, flags: F | FLAG_CF | FLAG_IF } });
      vm.memory.write16(DATA_BASE + 0x20, 0xfffb); // bound: lower = -5
      vm.memory.write16(DATA_BASE + 0x22, 10); // bound: upper = 10
      const frame = runToFault(vm, f.vector);
      expect(frame).toEqual({ ip: 1, cs: CODE_SEG, flags: F | FLAG_CF | FLAG_IF });
      expect(vm.cpu.getFlags() & FLAG_IF).toBe(0);
      const names = ['ax', 'cx', 'dx', 'bx'];
      for (const [r, v] of Object.entries(f.check ?? {})) expect(u16(vm, names.indexOf(r)), r).toBe(v);
    });
  }

  it('BOUND inside the bounds (inclusive, signed) does not fault', () => {
    for (const ax of [0xfffb, 0, 10]) {
      const vm = boot([0x62, 0x07, HLT], { regs: { ax, bx: 0x20 } }); // bound ax, [bx]
      vm.memory.write16(DATA_BASE + 0x20, 0xfffb);
      vm.memory.write16(DATA_BASE + 0x22, 10);
      runToCodeHalt(vm, 3);
    }
  });
});

describe('single step (TF)', () => {
  it('POPF setting TF traps after the NEXT instruction, with that instruction\'s end pushed and TF clear in the handler', () => {
    const code = [
      0x68, 0x02, 0x01, // push word 0x0102
      0x9d, // popf
      0x40, // inc ax
      0x40, // inc ax
      0xf4, // hlt
    ];
    const vm = boot(code);
    const frame = runToFault(vm, 1);
    expect(frame.ip).toBe(5);
    expect(frame.cs).toBe(CODE_SEG);
    expect(frame.flags & FLAG_TF).toBe(FLAG_TF);
    expect(u16(vm, EAX)).toBe(1);
    expect(vm.cpu.getFlags() & FLAG_TF).toBe(0);
  });

  it('a single-stepped taken jump pushes the jump target', () => {
    const code = [
      0xeb, 0x01, // jmp short there
      0x40, // inc ax
      // there:
      0xf4, // hlt
    ];
    const vm = boot(code, { regs: { flags: F | FLAG_TF } });
    const frame = runToFault(vm, 1);
    expect(frame.ip).toBe(3);
    expect(u16(vm, EAX)).toBe(0);
  });

  it('a handler that counts traps sees one per instruction, including the POPF that clears TF', () => {
    const code = [
      0x68, 0x02, 0x01, // push word 0x0102
      0x9d, // popf
      0x40, // inc ax
      0x40, // inc ax
      0x40, // inc ax
      0x6a, 0x02, // push word 0x0002
      0x9d, // popf
      0x40, // inc ax
      0xf4, // hlt
    ];
    const handler = [
      0x2e, 0xff, 0x06, 0x00, 0x09, // cs inc word [0x0900]
      0xcf, // iret
    ];
    const vm = boot(code);
    vm.memory.writeBytes(0x800, Uint8Array.from(handler));
    vm.memory.write16(1 * 4, 0x0800);
    runToCodeHalt(vm, code.length);
    expect(vm.memory.read16(0x900)).toBe(5);
    expect(u16(vm, EAX)).toBe(4);
  });

  it('a REP string instruction under TF traps after each iteration, pushing its own IP until done', () => {
    const vm = boot([0xf3, 0xa4, HLT], { regs: { cx: 3, si: 0x10, di: 0x20, flags: F | FLAG_TF } }); // rep movsb; hlt
    vm.memory.writeBytes(DATA_BASE + 0x10, Uint8Array.from([1, 2, 3]));
    const frame = runToFault(vm, 1);
    expect(frame.ip).toBe(0);
    expect(u16(vm, ECX)).toBe(2);
    expect(u16(vm, ESI)).toBe(0x11);

    const counted = [
      0xf3, 0xa4, // rep movsb
      0xf4, // hlt
    ];
    const handler = [
      0x2e, 0xff, 0x06, 0x00, 0x09, // cs inc word [0x0900]
      0xcf, // iret
    ];
    const vm2 = boot(counted, { regs: { cx: 3, si: 0x10, di: 0x20, flags: F | FLAG_TF } });
    vm2.memory.writeBytes(0x800, Uint8Array.from(handler));
    vm2.memory.write16(1 * 4, 0x0800);
    runToCodeHalt(vm2, 3);
    expect(vm2.memory.read16(0x900)).toBe(3);
    expect(u16(vm2, ECX)).toBe(0);
  });

  it('MOV SS holds the single-step trap off until after the next instruction', () => {
    const code = [
      0x8e, 0xd0, // mov ss, ax
      0x43, // inc bx
      0xf4, // hlt
    ];
    const vm = boot(code, { regs: { ax: 0x0800, flags: F | FLAG_TF } });
    const frame = runToFault(vm, 1);
    expect(u16(vm, EBX)).toBe(1);
    expect(frame.ip).toBe(3);
  });
});

describe('interrupt shadow', () => {
  /** An interrupt source that raises `vector` once the CPU has retired `after` instructions. */
  function lateSource(vm: ReturnType<typeof boot>, vector: number, after: number): InterruptSource {
    let delivered = false;
    return {
      hasPending: () => !delivered && vm.cpu.instructionCount >= after,
      acknowledge: () => { delivered = true; return vector; },
    };
  }

  it('MOV SS holds off an external interrupt for one instruction', () => {
    const code = [
      0x8e, 0xd0, // mov ss, ax
      0x43, // inc bx
      0x43, // inc bx
      0xf4, // hlt
    ];
    const vm = boot(code, { regs: { ax: 0x0800, flags: F | FLAG_IF } });
    vm.cpu.interrupts = lateSource(vm, 0x50, 1);
    vm.cpu.interruptLine = true;
    runToHalt(vm);
    expect(handlerVector(vm)).toBe(0x50);
    expect(topFrame(vm).ip).not.toBe(2); // not between MOV SS and the next instruction
    expect(u16(vm, EBX)).toBeGreaterThanOrEqual(1);
  });

  it('an external interrupt with IF=1 is delivered at the first boundary, with IF cleared', () => {
    const vm = boot([0x43, 0x43, HLT], { regs: { flags: F | FLAG_IF } }); // inc bx; inc bx; hlt
    vm.cpu.interrupts = lateSource(vm, 0x51, 0);
    vm.cpu.interruptLine = true;
    const frame = runToFault(vm, 0x51);
    expect(frame.ip).toBe(0);
    expect(frame.flags & FLAG_IF).toBe(FLAG_IF);
    expect(u16(vm, EBX)).toBe(0);
  });

  it('HLT with IF=1 is woken by an interrupt; the frame holds the IP after HLT', () => {
    const vm = boot([HLT, 0x43, HLT], { regs: { flags: F | FLAG_IF } }); // hlt; inc bx; hlt
    expect(vm.cpu.run(100)).toBe(RunExit.Halted);
    vm.cpu.interrupts = lateSource(vm, 0x52, 0);
    vm.cpu.interruptLine = true;
    const frame = runToFault(vm, 0x52);
    expect(frame.ip).toBe(1);
  });
});

describe('LIDT', () => {
  it('moves the real-mode interrupt vector table', () => {
    const code = [
      0x0f, 0x01, 0x1f, // lidt [bx]
      0xcd, 0x21, // int 0x21
      0xf4, // hlt
    ];
    const vm = boot(code, { regs: { bx: 0x10 } });
    vm.memory.write16(DATA_BASE + 0x10, 0x03ff); // limit
    vm.memory.write32(DATA_BASE + 0x12, 0xab004000); // base; a 16-bit LIDT keeps 24 bits
    vm.memory.write16(0x4000 + 0x21 * 4, 0x0780);
    vm.memory.write16(0x4000 + 0x21 * 4 + 2, 0x0000);
    vm.memory.write8(0x780, HLT);
    runToHalt(vm);
    expect(vm.cpu.idtrBase).toBe(0x4000);
    expect(vm.cpu.idtrLimit).toBe(0x3ff);
    expect(vm.cpu.segSel[SEG_CS]).toBe(0);
    expect(vm.cpu.eip).toBe(0x781);
  });

  it('faults are delivered through the new table too', () => {
    const code = [
      0x0f, 0x01, 0x1f, // lidt [bx]
      0x0f, 0x0b, // ud2
    ];
    const vm = boot(code, { regs: { bx: 0x10 } });
    vm.memory.write16(DATA_BASE + 0x10, 0x03ff);
    vm.memory.write32(DATA_BASE + 0x12, 0x4000);
    vm.memory.write16(0x4000 + 6 * 4, 0x0790);
    vm.memory.write8(0x790, HLT);
    runToHalt(vm);
    expect(vm.cpu.eip).toBe(0x791);
    expect(topFrame(vm).ip).toBe(3);
  });
});

describe('faults while delivering an exception', () => {
  it('a fault while delivering an interrupt becomes a double fault (#DF, vector 8)', () => {
    const vm = boot([0xcd, 0x21, HLT]); // int 0x21
    vm.cpu.idtrLimit = 8 * 4 + 3; // entries 0..8: INT 21h and #GP (13) are beyond the limit, #DF is not
    const frame = runToFault(vm, 8);
    expect(frame.cs).toBe(CODE_SEG);
    expect(frame.ip).toBe(0); // the faulting INT 21h itself
  });

  it('a fault while delivering a double fault shuts the CPU down (triple fault) instead of escaping run()', () => {
    const vm = boot([0xcd, 0x21, HLT]); // int 0x21
    vm.cpu.idtrLimit = 0x10; // entries 0..3 only: INT 21h, #GP and #DF are all beyond the limit
    expect(vm.cpu.run(100)).toBe(RunExit.TripleFault);
    expect(vm.cpu.shutdown).toBe(true);
    expect(vm.cpu.run(100)).toBe(RunExit.TripleFault);
  });
});

describe('HLT and run()', () => {
  it('HLT stops run() with RunExit.Halted; running again stays halted without executing', () => {
    const vm = boot([0x40, HLT, 0x40]); // inc ax; hlt; inc ax
    expect(vm.cpu.run(1000)).toBe(RunExit.Halted);
    expect(vm.cpu.halted).toBe(true);
    expect(vm.cpu.eip).toBe(2);
    expect(vm.cpu.instructionCount).toBe(2);
    expect(vm.cpu.run(1000)).toBe(RunExit.Halted);
    expect(vm.cpu.instructionCount).toBe(2);
    expect(u16(vm, EAX)).toBe(1);
  });

  it('run() returns Budget after exactly the budget on an endless loop', () => {
    const vm = boot([0xeb, 0xfe]); // jmp $
    expect(vm.cpu.run(100)).toBe(RunExit.Budget);
    expect(vm.cpu.instructionCount).toBe(100);
    expect(vm.cpu.run(50)).toBe(RunExit.Budget);
    expect(vm.cpu.instructionCount).toBe(150);
  });

  it('run() stops before the budget when a long block would overrun it', () => {
    const vm = boot([0x40, 0x40, 0x40, 0x40, 0x40, HLT]); // inc ax x5; hlt
    expect(vm.cpu.run(3)).toBe(RunExit.Budget);
    expect(u16(vm, EAX)).toBe(3);
    expect(vm.cpu.eip).toBe(3);
  });
});
