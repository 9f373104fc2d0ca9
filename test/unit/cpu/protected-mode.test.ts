/**
 * Protected mode through real instructions (src/cpu/protected/*, ops/protected.ts): entry
 * from real mode, descriptor checks and their error codes, ring 3 ↔ ring 0 through IRET,
 * interrupt gates, call gates (with parameter copy) and RETF, null segments after a return
 * outward, the I/O bitmap, expand-down limits, LAR/LSL/VERR/VERW/ARPL, task switches
 * (JMP, CALL + IRET with NT and back link), virtual-8086 entry and its IOPL-sensitive
 * instructions, the double-fault rules and triple fault, and saving/restoring protected-mode
 * state. SDM vol. 3 chapters 3, 5, 6, 7 and 20.
 */
import { describe, expect, it } from 'vitest';
import { RunExit } from '../../../src/cpu/cpu.js';
import {
  ACC, bootProtected, CODE, CODE0, CODE3, DATA, DATA0, DATA3, GDT, IDT, runProtected, setDescriptor, setGate, stackDword,
  STACK0, STACK3, TSS, TSS_SEL,
} from '../../helpers/pm-machine.js';

const EAX = 0, ECX = 1, EDX = 2, EBX = 3, ESP = 4;
const GP = 13, NP = 11, DF = 8, UD = 6, DE = 0, TS = 10;

/** Ring-3 entry: IRET to CODE3:label with the ring-3 stack. */
const toRing3 = (label: string, eflags = 0x202) => `
  push dword ${DATA3}
  push dword ${STACK3}
  push dword 0x${eflags.toString(16)}
  push dword ${CODE3}
  push dword ${label}
  iret`;

describe('entering protected mode', () => {
  it('runs 32-bit code at CPL 0 after LGDT, MOV CR0 and a far JMP', () => {
    const vm = bootProtected('mov eax, 0x12345678\nadd eax, eax\nhlt');
    expect(runProtected(vm)).toBe(-1);
    expect(vm.cpu.regs[EAX] >>> 0).toBe(0x2468acf0);
    expect(vm.cpu.cpl).toBe(0);
    expect(vm.cpu.ipMask).toBe(-1);
    expect(vm.cpu.segSel[1]).toBe(CODE0);
    expect(vm.cpu.trSel).toBe(TSS_SEL);
    expect(vm.memory.read8(GDT + 5 * 8 + 5) & 0x0f).toBe(0x0b); // TSS marked busy by LTR
  });
});

describe('segment loads', () => {
  it('#NP(selector) for a non-present data segment, #GP(0) for a null SS, #GP(sel) for a code segment in SS', () => {
    const np = bootProtected('mov ax, 0x40\nmov ds, ax\nhlt');
    setDescriptor(np, GDT, 8, 0, 0xffff, ACC.data0 & 0x7f);
    expect(runProtected(np)).toBe(NP);
    expect(stackDword(np, 0)).toBe(0x40);
    expect(stackDword(np, 1)).toBe(CODE + 4); // EIP of the MOV DS (the faulting instruction)

    const nullSs = bootProtected('xor eax, eax\nmov ss, ax\nhlt');
    expect(runProtected(nullSs)).toBe(GP);
    expect(stackDword(nullSs, 0)).toBe(0);

    const codeSs = bootProtected(`mov ax, ${CODE0}\nmov ss, ax\nhlt`);
    expect(runProtected(codeSs)).toBe(GP);
    expect(stackDword(codeSs, 0)).toBe(CODE0);
  });

  it('a null DS loads, and using it raises #GP(0)', () => {
    const vm = bootProtected('xor eax, eax\nmov ds, ax\nmov ebx, 1\nmov eax, [0x20000]\nhlt');
    expect(runProtected(vm)).toBe(GP);
    expect(stackDword(vm, 0)).toBe(0);
    expect(vm.cpu.regs[EBX]).toBe(1);
  });

  it('expand-down segments accept offsets above the limit only', () => {
    const src = (off: number) => `mov ax, 0x40\nmov ds, ax\nmov eax, [0x${off.toString(16)}]\nhlt`;
    const ok = bootProtected(src(0x1000));
    setDescriptor(ok, GDT, 8, 0, 0xfff, 0x96, 0x4); // data, expand-down, writable, B=1
    ok.memory.write32(0x1000, 0xcafe);
    expect(runProtected(ok)).toBe(-1);
    expect(ok.cpu.regs[EAX]).toBe(0xcafe);
    const bad = bootProtected(src(0xffe));
    setDescriptor(bad, GDT, 8, 0, 0xfff, 0x96, 0x4);
    expect(runProtected(bad)).toBe(GP);
  });
});

describe('privilege transitions', () => {
  it('IRET to ring 3 and INT through a DPL-3 interrupt gate back to ring 0 on the TSS stack', () => {
    const vm = bootProtected(`${toRing3('user')}
user:
  mov eax, 7
  int 0x80
  hlt`);
    setGate(vm, IDT, 0x80, CODE0, 0x6000 + 4 * 0x80, ACC.intGate32 | 0x60);
    expect(runProtected(vm)).toBe(0x80);
    const { cpu } = vm;
    expect(cpu.cpl).toBe(0);
    expect(cpu.regs[ESP] >>> 0).toBe(STACK0 - 20);
    expect(stackDword(vm, 1)).toBe(CODE3);
    expect(stackDword(vm, 2) & 0x200).toBe(0x200);
    expect(stackDword(vm, 3)).toBe(STACK3);
    expect(stackDword(vm, 4)).toBe(DATA3);
    expect(cpu.getFlags() & 0x200).toBe(0); // interrupt gate cleared IF
  });

  it('INT n through a DPL-0 gate from ring 3 is #GP(vector*8+2)', () => {
    const vm = bootProtected(`${toRing3('user')}\nuser:\n  int 0x81\n  hlt`);
    expect(runProtected(vm)).toBe(GP);
    expect(stackDword(vm, 0)).toBe(0x81 * 8 + 2);
    expect(stackDword(vm, 2)).toBe(CODE3);
  });

  it('privileged instructions at ring 3 raise #GP(0)', () => {
    for (const insn of ['hlt', 'cli', 'mov cr0, eax', 'lgdt [0x20000]', 'mov dr7, eax']) {
      const vm = bootProtected(`${toRing3('user')}\nuser:\n  ${insn}\n  hlt`);
      expect(runProtected(vm), insn).toBe(GP);
      expect(stackDword(vm, 0), insn).toBe(0);
    }
  });

  it('CALL through a call gate copies parameters to the inner stack; RETF n returns outward and nulls DS', () => {
    const vm = bootProtected(`
  SETGATE GDT, 8, ${CODE0}, ABS(kernel), 0xec, 2
${toRing3('user')}
user:
  push dword 0x1111
  push dword 0x2222
  call 0x43:0
  mov esi, ds
  mov edi, esp
  int 0x80
kernel:
  mov ebx, [esp + 8]
  mov ecx, [esp + 12]
  mov edx, [esp + 16]
  mov ax, ${DATA0}
  mov ds, ax
  retf 8`);
    setGate(vm, IDT, 0x80, CODE0, 0x6000 + 4 * 0x80, ACC.intGate32 | 0x60);
    expect(runProtected(vm)).toBe(0x80);
    const r = vm.cpu.regs;
    expect(r[EBX]).toBe(0x2222); // parameters in the same order as on the caller's stack
    expect(r[ECX]).toBe(0x1111);
    expect(r[EDX] >>> 0).toBe(STACK3 - 8); // caller's ESP saved above the parameters
    expect(r[6]).toBe(0); // DS (DPL 0) nulled on the return to ring 3
    expect(r[7] >>> 0).toBe(STACK3); // RETF 8 released the parameters
  });

  it('RETF to ring 3 with a ring-0 SS selector is #GP(selector)', () => {
    const vm = bootProtected(`
  push dword ${DATA0}
  push dword ${STACK3}
  push dword ${CODE3}
  push dword ABS(user)
  retf
user:
  hlt`);
    expect(runProtected(vm)).toBe(GP);
    expect(stackDword(vm, 0)).toBe(DATA0);
  });
});

describe('I/O permission', () => {
  it('at CPL 3 with IOPL 0 the TSS bitmap decides per port', () => {
    const vm = bootProtected(`
  mov byte [TSS + 0x68 + (0x80 >> 3)], 1
${toRing3('user')}
user:
  out 0x84, al
  mov ebx, 1
  out 0x80, al
  hlt`);
    const written: number[] = [];
    vm.io.register({ name: 'probe', ioRead: () => 0, ioWrite: (o) => { written.push(0x80 + o); } }, 0x80, 8);
    expect(runProtected(vm)).toBe(GP);
    expect(stackDword(vm, 0)).toBe(0);
    expect(vm.cpu.regs[EBX]).toBe(1);
    expect(written).toEqual([0x84]);
  });
});

describe('LAR, LSL, VERR, VERW, ARPL', () => {
  it('report access rights, limits and accessibility with ZF', () => {
    const vm = bootProtected(`
  mov ax, ${DATA3}
  lar ebx, ax
  lsl ecx, ax
  mov ax, ${CODE0}
  verr ax
  setz dl
  verw ax
  setz dh
  mov ax, 0x7f8
  lsl esi, ax
  setz al
  movzx edi, al
  mov ax, 0x10
  mov bp, 0x23
  arpl ax, bp
  hlt`);
    expect(runProtected(vm)).toBe(-1);
    const r = vm.cpu.regs;
    expect(r[EBX] >>> 0).toBe(0x00c0f200);
    expect(r[ECX] >>> 0).toBe(0xffffffff);
    expect(r[EDX] & 0xffff).toBe(0x0001); // code readable (VERR), not writable (VERW)
    expect(r[7]).toBe(0); // beyond the GDT limit: ZF=0, no fault
    expect(r[EAX] & 0xffff).toBe(0x13);
  });
});

describe('task switches', () => {
  // The second TSS is at 0x3000 (GDT index 9, selector 0x48); the test code fills in its
  // image: EIP = 'task', EFLAGS = 2, ESP = 0x8800, flat ring-0 segments.
  const SECOND_TASK = `
  mov dword [0x3000 + 0x20], ABS(task)
  mov dword [0x3000 + 0x24], 0x2
  mov dword [0x3000 + 0x38], 0x8800
  mov word [0x3000 + 0x48], ${DATA0}
  mov word [0x3000 + 0x4c], ${CODE0}
  mov word [0x3000 + 0x50], ${DATA0}
  mov word [0x3000 + 0x54], ${DATA0}`;
  it('JMP to a TSS saves the old task, marks busy bits and runs the new one', () => {
    const vm = bootProtected(`
${SECOND_TASK}
  mov dword [0x3000 + 0x1c], 0
  mov eax, 0xabc
  jmp 0x48:0
back:
  hlt
task:
  mov ebx, 0xdef
  hlt`);
    setDescriptor(vm, GDT, 9, 0x3000, 0x67, ACC.tss32, 0);
    expect(runProtected(vm)).toBe(-1);
    const { cpu, memory } = vm;
    expect(cpu.trSel).toBe(0x48);
    expect(cpu.regs[EBX]).toBe(0xdef);
    expect(cpu.regs[ESP]).toBe(0x8800);
    expect(memory.read8(GDT + 9 * 8 + 5) & 0xf).toBe(0xb); // new busy
    expect(memory.read8(GDT + 5 * 8 + 5) & 0xf).toBe(0x9); // old available again (JMP)
    expect(memory.read32(TSS + 0x28)).toBe(0xabc); // old EAX saved
    expect(cpu.cr0 & 8).toBe(8); // CR0.TS
  });

  it('CALL to a TSS nests (NT, back link) and IRET returns to the caller', () => {
    const vm = bootProtected(`
${SECOND_TASK}
  call 0x48:0
  mov ecx, 0x77
  hlt
task:
  pushfd
  pop dword [DATA]
  mov eax, [0x3000]
  mov [DATA + 4], eax
  iretd`);
    setDescriptor(vm, GDT, 9, 0x3000, 0x67, ACC.tss32, 0);
    expect(runProtected(vm)).toBe(-1);
    const { cpu, memory } = vm;
    expect(memory.read32(DATA) & 0x4000).toBe(0x4000); // NT set in the called task
    expect(memory.read32(DATA + 4)).toBe(TSS_SEL); // back link
    expect(cpu.getFlags() & 0x4000).toBe(0); // the caller's NT is clear again
    expect(cpu.regs[ECX]).toBe(0x77);
    expect(cpu.trSel).toBe(TSS_SEL);
    expect(memory.read8(GDT + 9 * 8 + 5) & 0xf).toBe(0x9); // IRET cleared the nested task's busy bit
  });
});

describe('virtual-8086 mode', () => {
  it('runs 16-bit code with segment*16 addressing and traps CLI to the monitor when IOPL < 3', () => {
    const vm = bootProtected(`
  push dword 0        ; GS
  push dword 0        ; FS
  push dword 0x2000   ; DS
  push dword 0        ; ES
  push dword 0x3000   ; SS
  push dword 0x0ff0   ; ESP
  push dword 0x20002  ; EFLAGS: VM, IOPL 0
  push dword 0x1100   ; CS
  push dword 0        ; EIP
  iretd`);
    vm.memory.writeBytes(0x11000, Uint8Array.from([0xa1, 0x10, 0x00, 0xfa, 0xf4])); // mov ax,[0x10]; cli; hlt
    vm.memory.write16(0x20010, 0x4242);
    expect(runProtected(vm)).toBe(GP);
    expect(vm.cpu.regs[EAX] & 0xffff).toBe(0x4242);
    expect(stackDword(vm, 0)).toBe(0); // error code
    expect(stackDword(vm, 1)).toBe(3); // EIP of CLI
    expect(stackDword(vm, 2)).toBe(0x1100);
    expect(stackDword(vm, 3) & 0x20000).toBe(0x20000); // VM in the saved EFLAGS
    expect(stackDword(vm, 4)).toBe(0x0ff0);
    expect(stackDword(vm, 5)).toBe(0x3000);
    expect(stackDword(vm, 7)).toBe(0x2000); // DS saved
    expect(vm.cpu.segSel[3]).toBe(0); // DS nulled in the monitor
    expect(vm.cpu.cpl).toBe(0);
  });
});

describe('exceptions', () => {
  it('#DE and #UD are faults: the saved EIP is the faulting instruction', () => {
    const de = bootProtected('xor ecx, ecx\nmov eax, 1\ndiv ecx\nhlt');
    expect(runProtected(de)).toBe(DE);
    expect(stackDword(de, 0)).toBe(CODE + 7);
    const ud = bootProtected('nop\nud2\nhlt');
    expect(runProtected(ud)).toBe(UD);
    expect(stackDword(ud, 0)).toBe(CODE + 1);
  });

  it('a contributory fault while delivering #GP becomes #DF(0); a fault delivering #DF shuts down', () => {
    const df = bootProtected('xor eax, eax\nmov ss, ax\nhlt');
    df.memory.write8(IDT + GP * 8 + 5, 0x0e); // #GP gate not present → #NP while delivering #GP
    expect(runProtected(df)).toBe(DF);
    expect(stackDword(df, 0)).toBe(0);

    const triple = bootProtected('xor eax, eax\nmov ss, ax\nhlt');
    triple.memory.write8(IDT + GP * 8 + 5, 0x0e);
    triple.memory.write8(IDT + DF * 8 + 5, 0x0e);
    expect(triple.cpu.run(100000)).toBe(RunExit.TripleFault);
  });

  it('a fault that repeats forever (its handler faults at once) still ends run() at the budget', () => {
    // The #GP handler's first instruction loads a null SS: #GP again, forever, with no
    // instruction ever retiring. Delivered faults count against the budget.
    const vm = bootProtected(`
  SETGATE IDT, 13, ${CODE0}, ABS(handler), 0x8e, 0
  mov esp, 0x300000   ; room for thousands of 12-byte fault frames in plain RAM
  xor eax, eax
  mov ss, ax
handler:
  mov ss, ax`);
    const start = vm.cpu.instructionCount;
    expect(vm.cpu.run(5000)).toBe(RunExit.Budget);
    expect(vm.cpu.instructionCount - start).toBeLessThan(50); // only the boot stub and the set-up retire
    expect(vm.cpu.faultsDelivered).toBeGreaterThan(100);
  });

  it('#TS for a task switch to a TSS whose limit is too small', () => {
    const vm = bootProtected('jmp 0x48:0\nhlt');
    setDescriptor(vm, GDT, 9, 0x3000, 0x20, ACC.tss32, 0);
    expect(runProtected(vm)).toBe(TS);
    expect(stackDword(vm, 0)).toBe(0x48);
  });
});

describe('saved state', () => {
  it('a protected-mode CPU at ring 3 round-trips through save/restore', () => {
    const src = `${toRing3('user')}\nuser:\n  mov eax, 5\n  add eax, 6\n  int 0x80`;
    const vm = bootProtected(src);
    setGate(vm, IDT, 0x80, CODE0, 0x6000 + 4 * 0x80, ACC.intGate32 | 0x60);
    // Stop right after entering ring 3 (before 'mov eax, 5').
    let steps = 0;
    while (vm.cpu.cpl !== 3 && steps++ < 1000) vm.cpu.run(1);
    expect(vm.cpu.cpl).toBe(3);
    const state = JSON.parse(JSON.stringify(vm.cpu.save()));
    const copy = bootProtected(src);
    setGate(copy, IDT, 0x80, CODE0, 0x6000 + 4 * 0x80, ACC.intGate32 | 0x60);
    copy.cpu.restore(state);
    expect(copy.cpu.cpl).toBe(3);
    expect(runProtected(copy)).toBe(0x80);
    expect(copy.cpu.regs[EAX]).toBe(11);
    expect(stackDword(copy, 1)).toBe(CODE3);
  });

  it('rejects a CPL that does not fit the mode', () => {
    const vm = bootProtected('hlt');
    const state = { ...vm.cpu.save(), cpl: 3 };
    expect(() => vm.cpu.restore(state)).toThrow(/cpl/);
  });
});

