/**
 * CPU state persistence (Cpu.save/restore, src/persist/persist.ts): a snapshot restored
 * into a fresh CPU over the same memory gives the same state and the same future, also
 * through JSON; restore() validates every field of untrusted state, names the bad field in
 * a StateError and leaves the CPU untouched. DESIGN.md "State: every stateful thing
 * implements Persist".
 */
import { describe, expect, it } from 'vitest';
import { RunExit, type CpuState } from '../../../src/cpu/cpu.js';
import { StateError } from '../../../src/persist/persist.js';
import type { InterruptSource } from '../../../src/cpu/port-io.js';
import { createBareCpu, type BareCpu } from '../../helpers/real-mode-cpu.js';
import { boot, runToCodeHalt, u16, u32, EAX, EDX } from '../../helpers/cpu-program.js';

const RAM = 2 << 20;

// A loop that touches registers at both widths, lazy flags (ADC after ADD), memory, the stack and CX.
const PROGRAM = [
  0xb9, 0xbc, 0x02, // mov cx, 700
  0x66, 0xbb, 0x00, 0x01, 0x00, 0x00, // mov ebx, 0x100
  // top:
  0x66, 0x01, 0xc8, // add eax, ecx
  0x66, 0xc1, 0xc0, 0x03, // rol eax, 3
  0x66, 0x89, 0x07, // mov [bx], eax
  0x83, 0xc3, 0x04, // add bx, 4
  0x81, 0xe3, 0xff, 0x03, // and bx, 0x3ff
  0x50, // push ax
  0x5a, // pop dx
  0x11, 0xf2, // adc dx, si
  0x89, 0xd6, // mov si, dx
  0x66, 0x6b, 0xf8, 0x07, // imul edi, eax, 7
  0xe2, 0xe3, // loop top
  0xf4, // hlt
];

/** A second machine over a copy of `vm`'s RAM. */
function cloneMemory(vm: BareCpu): BareCpu {
  const other = createBareCpu(RAM);
  const bytes = new Uint8Array(RAM);
  vm.memory.readBytes(0, bytes);
  other.memory.writeBytes(0, bytes);
  return other;
}

function sameRam(a: BareCpu, b: BareCpu): boolean {
  const x = new Uint8Array(RAM), y = new Uint8Array(RAM);
  a.memory.readBytes(0, x);
  b.memory.readBytes(0, y);
  for (let k = 0; k < RAM; k++) if (x[k] !== y[k]) return false;
  return true;
}

describe('save/restore round trip', () => {
  it('a fresh CPU restored from a mid-run snapshot has identical state and continues identically', () => {
    const a = boot(PROGRAM, { regs32: { [EAX]: 0x12345678 } });
    expect(a.cpu.run(137)).toBe(RunExit.Budget);
    const snapshot = a.cpu.save();
    const b = cloneMemory(a);
    b.cpu.restore(snapshot);
    expect(b.cpu.save()).toEqual(snapshot);
    expect(b.cpu.getFlags()).toBe(a.cpu.getFlags());
    for (const n of [1, 10, 333, 1000]) {
      expect(a.cpu.run(n)).toBe(b.cpu.run(n));
      expect(b.cpu.save()).toEqual(a.cpu.save());
    }
    runToCodeHalt(a);
    runToCodeHalt(b);
    expect(b.cpu.save()).toEqual(a.cpu.save());
    expect(sameRam(a, b)).toBe(true);
    expect(u16(b, EDX)).toBe(u16(a, EDX));
  });

  it('the snapshot survives JSON and restores into a CPU that had run other code', () => {
    const a = boot(PROGRAM);
    a.cpu.run(500);
    const json = JSON.parse(JSON.stringify(a.cpu.save())) as unknown;
    const b = boot([0x66, 0x40, 0xeb, 0xfc]); // inc eax; jmp $-2 — leaves decoded blocks at the same address
    b.cpu.run(100);
    const bytes = new Uint8Array(RAM);
    a.memory.readBytes(0, bytes);
    b.memory.writeBytes(0, bytes);
    b.cpu.restore(json);
    expect(b.cpu.save()).toEqual(a.cpu.save());
    runToCodeHalt(a);
    runToCodeHalt(b);
    expect(b.cpu.save()).toEqual(a.cpu.save());
    expect(u32(b, EAX)).toBe(u32(a, EAX));
  });

  it('saves and restores every field: segments, descriptor tables, control registers, A20, halt', () => {
    const a = boot([0xf4]); // hlt
    a.cpu.loadSegmentReal(4, 0x1234);
    a.cpu.loadSegmentReal(5, 0xfedc);
    a.cpu.idtrBase = 0x4000; a.cpu.idtrLimit = 0x1ff;
    a.cpu.gdtrBase = 0x9000; a.cpu.gdtrLimit = 0x27;
    a.cpu.cr2 = 0xdeadbeef | 0; a.cpu.cr3 = 0x5000;
    a.cpu.setA20(false);
    a.cpu.setFlags(0x00247ed7 & ~0x100);
    a.cpu.run(10);
    const s = a.cpu.save();
    expect(s.halted).toBe(true);
    expect(s.a20).toBe(false);
    const b = createBareCpu(RAM);
    b.cpu.restore(s);
    expect(b.cpu.save()).toEqual(s);
    expect(b.cpu.a20Enabled).toBe(false);
    expect(b.cpu.halted).toBe(true);
    expect(b.cpu.segBase[5] >>> 0).toBe(0xfedc0);
    expect(b.cpu.cr2 >>> 0).toBe(0xdeadbeef);
  });

  it('the STI/MOV SS interrupt shadow survives save/restore, so a snapshot taken in it continues identically', () => {
    const code = [
      0xfb, // sti
      0x43, // inc bx
      0x43, // inc bx
      0xf4, // hlt
    ];
    const source = (): InterruptSource => {
      let done = false;
      return { hasPending: () => !done, acknowledge: () => { done = true; return 0x60; } };
    };
    const a = boot(code);
    expect(a.cpu.run(1)).toBe(RunExit.Budget); // just after STI: interrupts held off for one instruction
    const snapshot = a.cpu.save();
    const b = cloneMemory(a);
    b.cpu.restore(snapshot);
    for (const vm of [a, b]) {
      vm.cpu.interrupts = source();
      vm.cpu.interruptLine = true;
      vm.cpu.run(100);
    }
    expect(u16(b, 3)).toBe(u16(a, 3));
    expect(b.cpu.save()).toEqual(a.cpu.save());
  });
});

describe('restore rejects bad state', () => {
  const bad: { what: string; field: string; patch: (s: Record<string, unknown>) => void }[] = [
    { what: 'wrong version', field: 'version', patch: (s) => { s.version = 4; } },
    { what: 'segment attributes beyond the attribute mask', field: 'segAttr[1]', patch: (s) => { (s.segAttr as number[])[1] = 0x10000; } },
    { what: 'CPL 4', field: 'cpl', patch: (s) => { s.cpl = 4; } },
    { what: 'CPL 3 in real mode', field: 'cpl', patch: (s) => { s.cpl = 3; } },
    { what: 'LDTR not an object', field: 'ldtr', patch: (s) => { s.ldtr = 5; } },
    { what: 'TR base beyond 32 bits', field: 'tr.base', patch: (s) => { (s.tr as Record<string, number>).base = 2 ** 32; } },
    { what: 'missing version', field: 'version', patch: (s) => { delete s.version; } },
    { what: 'regs of length 7', field: 'regs', patch: (s) => { s.regs = (s.regs as number[]).slice(0, 7); } },
    { what: 'regs of length 9', field: 'regs', patch: (s) => { s.regs = [...(s.regs as number[]), 0]; } },
    { what: 'regs not an array', field: 'regs', patch: (s) => { s.regs = 'eax'; } },
    { what: 'a register of 2^32', field: 'regs[3]', patch: (s) => { (s.regs as number[])[3] = 2 ** 32; } },
    { what: 'non-integer eip', field: 'eip', patch: (s) => { s.eip = 1.5; } },
    { what: 'negative eip', field: 'eip', patch: (s) => { s.eip = -1; } },
    { what: 'eip as a string', field: 'eip', patch: (s) => { s.eip = '16'; } },
    { what: 'out-of-range selector', field: 'segSel[2]', patch: (s) => { (s.segSel as number[])[2] = 0x10000; } },
    { what: 'negative selector', field: 'segSel[0]', patch: (s) => { (s.segSel as number[])[0] = -1; } },
    { what: 'five selectors', field: 'segSel', patch: (s) => { s.segSel = (s.segSel as number[]).slice(1); } },
    { what: 'segment base beyond 32 bits', field: 'segBase[1]', patch: (s) => { (s.segBase as number[])[1] = 2 ** 33; } },
    { what: 'NaN eflags', field: 'eflags', patch: (s) => { s.eflags = Number.NaN; } },
    { what: 'IDT limit beyond 16 bits', field: 'idtrLimit', patch: (s) => { s.idtrLimit = 0x10000; } },
    { what: 'halted not a boolean', field: 'halted', patch: (s) => { s.halted = 1; } },
    { what: 'a20 missing', field: 'a20', patch: (s) => { delete s.a20; } },
    { what: 'negative instruction count', field: 'instructionCount', patch: (s) => { s.instructionCount = -5; } },
  ];

  for (const b of bad) {
    it(`${b.what}: StateError naming '${b.field}', CPU unchanged`, () => {
      const a = boot(PROGRAM);
      a.cpu.run(77);
      const good = a.cpu.save();
      const state = JSON.parse(JSON.stringify(good)) as Record<string, unknown>;
      b.patch(state);
      const target = boot(PROGRAM, { regs32: { [EAX]: 0xabcdef } });
      target.cpu.run(5);
      const before = target.cpu.save();
      let error: unknown;
      try {
        target.cpu.restore(state);
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(StateError);
      expect((error as Error).message).toContain(`'${b.field}'`);
      expect((error as Error).message).toContain('cpu0');
      expect(target.cpu.save()).toEqual(before);
      // And the untouched CPU still runs as it would have.
      const reference = boot(PROGRAM, { regs32: { [EAX]: 0xabcdef } });
      reference.cpu.run(5);
      target.cpu.run(200);
      reference.cpu.run(200);
      expect(target.cpu.save()).toEqual(reference.cpu.save());
    });
  }

  it('rejects a non-object', () => {
    const vm = boot(PROGRAM);
    const before = vm.cpu.save();
    for (const s of [null, 42, 'cpu', undefined]) expect(() => vm.cpu.restore(s)).toThrow(StateError);
    expect(vm.cpu.save()).toEqual(before);
  });

  it('the saved state is plain data with the documented fields', () => {
    const s: CpuState = boot(PROGRAM).cpu.save();
    expect(s.version).toBe(3);
    expect(s.idleTicks).toBe(0);
    expect(s.regs).toHaveLength(8);
    expect(s.segSel).toHaveLength(6);
    expect(JSON.parse(JSON.stringify(s))).toEqual(s);
  });
});
