/**
 * Paging through real instructions (src/cpu/ops/system.ts CR semantics, src/cpu/paging.ts,
 * the soft TLB in src/cpu/cpu.ts, page-crossing blocks in src/cpu/block-cache.ts): MOV to
 * and from CR0/CR3/CR4, LMSW, CLTS, INVLPG, MOV DRn with CR4.DE, #PF delivered through the
 * IDT with its error code and CR2 (data accesses, instruction fetches, an instruction that
 * crosses into a missing page, ring 3), global pages across MOV CR3, PAE set-up, and blocks
 * whose last instruction continues on a page whose mapping changes.
 * SDM vol. 3A §2.5 (control registers), chapter 4 (paging), §6.15 (#PF), vol. 2 (MOV CRn,
 * INVLPG, LMSW, CLTS, MOV DRn).
 */
import { describe, expect, it } from 'vitest';
import { createBareCpu, setRealModeState } from '../../helpers/real-mode-cpu.js';
import { assemble } from '../../helpers/nasm.js';
import { RunExit } from '../../../src/cpu/cpu.js';
import {
  bootProtected, CODE3, DATA, DATA3, runProtected, STACK3, stackDword,
} from '../../helpers/pm-machine.js';

const EAX = 0, ECX = 1, EDX = 2, EBX = 3, ESI = 6, EDI = 7;
const UD = 6, GP = 13, PF = 14;
const P = 1, RW = 2, US = 4, A = 0x20, D = 0x40, PS = 0x80, G = 0x100;

const PD = 0x100000; // page directory
const PT0 = 0x101000; // identity map of linear 0..4 MiB
const PT1 = 0x102000; // linear 4..8 MiB (empty unless a test fills it)
const PT2 = 0x103000; // linear 8..12 MiB
const RAM = 16 << 20;

/** Identity-map 0..4 MiB (user, writable) through PT0; PT1 and PT2 hooked in but empty. */
function identityTables(vm: ReturnType<typeof bootProtected>): void {
  vm.memory.write32(PD, PT0 | P | RW | US);
  vm.memory.write32(PD + 4, PT1 | P | RW | US);
  vm.memory.write32(PD + 8, PT2 | P | RW | US);
  for (let k = 0; k < 1024; k++) vm.memory.write32(PT0 + k * 4, (k << 12) | P | RW | US);
  for (let k = 0; k < 1024; k++) { vm.memory.write32(PT1 + k * 4, 0); vm.memory.write32(PT2 + k * 4, 0); }
}

const ENABLE_PAGING = `
  mov eax, 0x${PD.toString(16)}
  mov cr3, eax
  mov eax, cr0
  or eax, 0x80000000
  mov cr0, eax`;

/** Ring-3 entry: IRET to CODE3:label on the ring-3 stack. */
const toRing3 = (label: string) => `
  push dword ${DATA3}
  push dword ${STACK3}
  push dword 0x202
  push dword ${CODE3}
  push dword ${label}
  iret`;

/** A protected-mode machine with identity page tables ready, running `code` (paging not yet on). */
function paged(code: string): ReturnType<typeof bootProtected> {
  const vm = bootProtected(code, RAM);
  identityTables(vm);
  return vm;
}

const pte = (vm: ReturnType<typeof bootProtected>, table: number, k: number) => vm.memory.read32(table + k * 4);

describe('#PF delivery', () => {
  it('a read of a not-present page: #PF, error code 0, CR2 = the address, EIP of the faulting instruction', () => {
    const vm = paged(`${ENABLE_PAGING}
  mov esi, fault
fault:
  mov eax, [0x400010]
  hlt`);
    expect(runProtected(vm)).toBe(PF);
    expect(stackDword(vm, 0)).toBe(0);
    expect(stackDword(vm, 1)).toBe(vm.cpu.regs[ESI] >>> 0);
    expect(vm.cpu.cr2 >>> 0).toBe(0x400010);
  });

  it('a supervisor write to a read-only page is allowed with CR0.WP=0 and #PF(P|W) with WP=1', () => {
    const vm = paged(`${ENABLE_PAGING}
  mov dword [0x50000], 0x1234
  mov eax, cr0
  or eax, 0x10000
  mov cr0, eax
  mov dword [0x50004], 0x5678
  hlt`);
    vm.memory.write32(PT0 + 0x50 * 4, 0x50000 | P | US);
    expect(runProtected(vm)).toBe(PF);
    expect(stackDword(vm, 0)).toBe(3);
    expect(vm.cpu.cr2 >>> 0).toBe(0x50004);
    expect(vm.memory.read32(0x50000)).toBe(0x1234);
    expect(vm.memory.read32(0x50004)).toBe(0);
    expect(pte(vm, PT0, 0x50) & (A | D)).toBe(A | D);
  });

  it('ring 3: reading a supervisor page is #PF(P|U) delivered on the ring-0 stack', () => {
    const vm = paged(`${ENABLE_PAGING}
${toRing3('user')}
user:
  mov ax, ${DATA3}
  mov ds, ax
  mov eax, [0x60008]
  hlt`);
    vm.memory.write32(PT0 + 0x60 * 4, 0x60000 | P | RW);
    expect(runProtected(vm)).toBe(PF);
    expect(stackDword(vm, 0)).toBe(5);
    expect(stackDword(vm, 2)).toBe(CODE3);
    expect(vm.cpu.cr2 >>> 0).toBe(0x60008);
    expect(pte(vm, PT0, 0x60) & A).toBe(0);
  });

  it('ring 3: writing a read-only user page is #PF(P|W|U) whatever CR0.WP', () => {
    const vm = paged(`${ENABLE_PAGING}
${toRing3('user')}
user:
  mov ax, ${DATA3}
  mov ds, ax
  mov eax, [0x61000]
  mov [0x61000], eax
  hlt`);
    vm.memory.write32(PT0 + 0x61 * 4, 0x61000 | P | US);
    expect(runProtected(vm)).toBe(PF);
    expect(stackDword(vm, 0)).toBe(7);
    expect(pte(vm, PT0, 0x61) & (A | D)).toBe(A);
  });

  it('ring 3: a not-present page is #PF(U) with P clear; the user-accessible pages work', () => {
    const vm = paged(`${ENABLE_PAGING}
${toRing3('user')}
user:
  mov ax, ${DATA3}
  mov ds, ax
  mov dword [${DATA}], 0xabcd
  mov ebx, [${DATA}]
  mov dword [0x400000], 1
  hlt`);
    expect(runProtected(vm)).toBe(PF);
    expect(stackDword(vm, 0)).toBe(6);
    expect(vm.cpu.regs[EBX]).toBe(0xabcd);
    expect(pte(vm, PT0, DATA >>> 12) & (A | D)).toBe(A | D);
  });

  it('an instruction fetch from a not-present page: #PF(0), CR2 and the pushed EIP are the target', () => {
    const vm = paged(`${ENABLE_PAGING}
  jmp 0x8:0x400000`);
    expect(runProtected(vm)).toBe(PF);
    expect(stackDword(vm, 0)).toBe(0);
    expect(stackDword(vm, 1)).toBe(0x400000);
    expect(vm.cpu.cr2 >>> 0).toBe(0x400000);
  });

  it('ring 3: fetching from a supervisor page is #PF(P|U) (a fetch is a read; P6 has no NX)', () => {
    const vm = paged(`${ENABLE_PAGING}
${toRing3('0x70000')}`);
    vm.memory.write32(PT0 + 0x70 * 4, 0x70000 | P | RW);
    vm.memory.write8(0x70000, 0x90);
    expect(runProtected(vm)).toBe(PF);
    expect(stackDword(vm, 0)).toBe(5);
    expect(stackDword(vm, 1)).toBe(0x70000);
  });

  it('an instruction crossing into a not-present page: the ones before it run, #PF with CR2 at the page boundary', () => {
    const vm = paged(`${ENABLE_PAGING}
  xor ebx, ebx
  jmp 0x3ffffa`);
    // inc ebx; inc ebx; mov eax, 0x12345678 (its last immediate byte on the missing page)
    vm.memory.writeBytes(0x3ffffa, Uint8Array.from([0x43, 0x43, 0xb8, 0x78, 0x56, 0x34]));
    expect(runProtected(vm)).toBe(PF);
    expect(vm.cpu.regs[EBX]).toBe(2);
    expect(stackDword(vm, 0)).toBe(0);
    expect(stackDword(vm, 1)).toBe(0x3ffffc);
    expect(vm.cpu.cr2 >>> 0).toBe(0x400000);
  });
});

describe('privileged control-register instructions at CPL 3', () => {
  const cases: [string, string][] = [
    ['MOV CR0, EAX', 'mov cr0, eax'],
    ['MOV EAX, CR3', 'mov eax, cr3'],
    ['MOV CR4, EAX', 'mov cr4, eax'],
    ['INVLPG', 'invlpg [0x20000]'],
    ['CLTS', 'clts'],
    ['LMSW', 'lmsw ax'],
  ];
  for (const [name, insn] of cases) {
    it(`${name} raises #GP(0)`, () => {
      const vm = paged(`${toRing3('user')}
user:
  mov esi, fault
  xor eax, eax
fault:
  ${insn}
  hlt`);
      expect(runProtected(vm)).toBe(GP);
      expect(stackDword(vm, 0)).toBe(0);
      expect(stackDword(vm, 1)).toBe(vm.cpu.regs[ESI] >>> 0);
    });
  }
});

describe('MOV CRn semantics', () => {
  it('CR0: PG without PE and NW without CD are #GP(0); reserved bits are ignored and ET stays set', () => {
    // The third value sets PE, NE, WP, AM and reserved bits 8-11, 17, 19-27, with ET clear.
    for (const [value, vector] of [[0x80000010, GP], [0x20000011, GP], [0x0fff0f21, -1]] as const) {
      const vm = paged(`
  mov eax, 0x${(value >>> 0).toString(16)}
  mov cr0, eax
  mov ebx, cr0
  hlt`);
      expect(runProtected(vm), `CR0 <- ${value.toString(16)}`).toBe(vector);
      if (vector === GP) expect(vm.cpu.cr0 >>> 0).toBe(0x60000011);
      else expect(vm.cpu.regs[EBX] >>> 0).toBe(0x00050031); // PE, ET, NE, WP, AM; reserved bits gone
    }
  });

  it('CR4: the implemented bits (TSD DE PSE PAE PGE PCE) load; VME, PVI, MCE, OSFXSR and reserved bits are #GP(0)', () => {
    const ok = paged(`
  mov eax, 0x1bc
  mov cr4, eax
  mov ebx, cr4
  hlt`);
    expect(runProtected(ok)).toBe(-1);
    expect(ok.cpu.regs[EBX]).toBe(0x1bc);
    for (const bit of [0, 1, 6, 9, 10, 11, 13, 20, 31]) {
      const vm = paged(`
  mov eax, 0x${((1 << bit) >>> 0).toString(16)}
  mov cr4, eax
  hlt`);
      expect(runProtected(vm), `CR4 bit ${bit}`).toBe(GP);
      expect(vm.cpu.cr4).toBe(0);
    }
  });

  it('CR1 and CR5-CR7 are #UD in both directions', () => {
    for (const insn of ['mov cr1, eax', 'mov eax, cr5', 'mov cr6, eax', 'mov eax, cr7']) {
      // nasm rejects cr1/cr5-7 by name, so encode them: 0F 20/22 with reg = n, rm = eax.
      const n = Number(insn.match(/cr(\d)/)![1]);
      const bytes = insn.startsWith('mov cr') ? [0x0f, 0x22, 0xc0 | (n << 3)] : [0x0f, 0x20, 0xc0 | (n << 3)];
      const vm = paged(`db ${bytes.join(', ')}\nhlt`);
      expect(runProtected(vm), insn).toBe(UD);
    }
  });

  it('CR2 is a plain register: MOV to and from it', () => {
    const vm = paged(`
  mov eax, 0xdeadbeef
  mov cr2, eax
  mov ebx, cr2
  hlt`);
    expect(runProtected(vm)).toBe(-1);
    expect(vm.cpu.regs[EBX] >>> 0).toBe(0xdeadbeef);
  });

  it('DR4/DR5 alias DR6/DR7 while CR4.DE = 0 and are #UD when it is 1', () => {
    // nasm refuses DR4/DR5 by name: MOV EBX, DR4 is 0F 21 E3; MOV DR5, EAX is 0F 23 E8.
    const alias = paged(`
  mov eax, 0xff0
  mov dr6, eax
  db 0x0f, 0x21, 0xe3
  mov eax, 0x400
  db 0x0f, 0x23, 0xe8
  mov ecx, dr7
  hlt`);
    expect(runProtected(alias)).toBe(-1);
    expect(alias.cpu.regs[EBX]).toBe(0xff0);
    expect(alias.cpu.regs[ECX]).toBe(0x400);
    const de = paged(`
  mov eax, 8
  mov cr4, eax
  mov ecx, dr6
  mov esi, fault
fault:
  db 0x0f, 0x21, 0xe3
  hlt`);
    expect(runProtected(de)).toBe(UD);
    expect(stackDword(de, 0)).toBe(de.cpu.regs[ESI] >>> 0); // #UD pushes no error code: EIP on top
  });

  it('LMSW loads MP/EM/TS and cannot clear PE; CLTS clears TS', () => {
    const vm = paged(`
  mov ax, 0xe
  lmsw ax
  smsw ebx
  clts
  smsw ecx
  mov ax, 0
  lmsw ax
  mov edx, cr0
  hlt`);
    expect(runProtected(vm)).toBe(-1);
    expect(vm.cpu.regs[EBX] & 0xf).toBe(0xf);
    expect(vm.cpu.regs[ECX] & 0xf).toBe(0x7);
    expect(vm.cpu.regs[EDX] & 0xf).toBe(0x1);
  });

  it('with PAE, MOV CR3 loads the PDPTEs: an invalid present one is #GP(0) and CR3 keeps its value', () => {
    const vm = paged(`
  mov eax, 0x20
  mov cr4, eax
  mov eax, 0x104000
  mov cr3, eax
  mov eax, cr0
  or eax, 0x80000000
  mov cr0, eax
  mov ebx, [0x400123]
  mov eax, 0x104020
  mov cr3, eax
  hlt`);
    // PDPT at 0x104000: PDPTE 0 → PD 0x105000 (2 MiB identity pages for 0..4 MiB... and a 2 MiB page at 4 MiB → 8 MiB).
    vm.memory.write32(0x104000, 0x105000 | P);
    vm.memory.write32(0x105000, 0x000000 | P | RW | PS);
    vm.memory.write32(0x105008, 0x200000 | P | RW | PS);
    vm.memory.write32(0x105010, 0x800000 | P | RW | PS);
    vm.memory.write32(0x800123, 0x7e57);
    // A second PDPT whose PDPTE 1 is present with reserved bit 63.
    vm.memory.write32(0x104020, 0x105000 | P);
    vm.memory.write32(0x104028, 0x105000 | P);
    vm.memory.write32(0x10402c, 0x80000000);
    expect(runProtected(vm)).toBe(GP);
    expect(stackDword(vm, 0)).toBe(0);
    expect(vm.cpu.regs[EBX]).toBe(0x7e57);
    expect(vm.cpu.cr3 >>> 0).toBe(0x104000);
    expect(vm.memory.read32(0x105010) & (A | D)).toBe(A);
  });
});

describe('TLB maintenance by instructions', () => {
  it('a PTE rewritten by the guest takes effect after INVLPG', () => {
    const vm = paged(`${ENABLE_PAGING}
  mov eax, [0x400000]
  mov dword [0x${(PT1).toString(16)}], 0x201000 | 3
  mov ebx, [0x400000]
  invlpg [0x400000]
  mov ecx, [0x400000]
  hlt`);
    vm.memory.write32(PT1, 0x200000 | P | RW);
    vm.memory.write32(0x200000, 0xaaaa);
    vm.memory.write32(0x201000, 0xbbbb);
    expect(runProtected(vm)).toBe(-1);
    expect(vm.cpu.regs[EAX]).toBe(0xaaaa);
    expect(vm.cpu.regs[EBX]).toBe(0xaaaa); // the old translation is still cached (as on hardware)
    expect(vm.cpu.regs[ECX]).toBe(0xbbbb);
  });

  it('MOV CR3 drops non-global translations, keeps global ones (CR4.PGE); clearing PGE drops them too', () => {
    const vm = paged(`
  mov eax, 0x80
  mov cr4, eax
${ENABLE_PAGING}
  mov eax, [0x400000]
  mov edx, [0x401000]
  mov dword [0x${PT1.toString(16)}], 0x202000 | 3 | 0x100
  mov dword [0x${(PT1 + 4).toString(16)}], 0x203000 | 3
  mov ecx, cr3
  mov cr3, ecx
  mov ebx, [0x400000]
  mov esi, [0x401000]
  xor ecx, ecx
  mov cr4, ecx
  mov edi, [0x400000]
  hlt`);
    vm.memory.write32(PT1, 0x200000 | P | RW | G);
    vm.memory.write32(PT1 + 4, 0x201000 | P | RW);
    for (let k = 0; k < 4; k++) vm.memory.write32(0x200000 + k * 0x1000, 0x1110 + k);
    expect(runProtected(vm)).toBe(-1);
    expect(vm.cpu.regs[EAX]).toBe(0x1110);
    expect(vm.cpu.regs[EDX]).toBe(0x1111);
    expect(vm.cpu.regs[EBX]).toBe(0x1110); // global: survived MOV CR3
    expect(vm.cpu.regs[ESI]).toBe(0x1113); // not global: walked again
    expect(vm.cpu.regs[EDI]).toBe(0x1112); // PGE cleared: everything flushed
  });

  it('a block whose last instruction ends on a remapped page runs the new bytes after INVLPG', () => {
    const vm = paged(`${ENABLE_PAGING}
  call 0x3ffffd
  mov esi, eax
  mov dword [0x${PT1.toString(16)}], 0x201000 | 3
  invlpg [0x400000]
  call 0x3ffffd
  mov edi, eax
  hlt`);
    // mov eax, imm32 at 0x3ffffd: two immediate bytes on this page, two and a RET on the next.
    vm.memory.writeBytes(0x3ffffd, Uint8Array.from([0xb8, 0x11, 0x22]));
    vm.memory.writeBytes(0x200000, Uint8Array.from([0x33, 0x44, 0xc3]));
    vm.memory.writeBytes(0x201000, Uint8Array.from([0x55, 0x66, 0xc3]));
    vm.memory.write32(PT1, 0x200000 | P | RW);
    expect(runProtected(vm)).toBe(-1);
    expect(vm.cpu.regs[ESI] >>> 0).toBe(0x44332211);
    expect(vm.cpu.regs[EDI] >>> 0).toBe(0x66552211);
  });

  it('one frame mapped at two linear pages whose next pages differ: each entry runs its own bytes', () => {
    const vm = paged(`${ENABLE_PAGING}
  call 0x3ffffd
  mov esi, eax
  call 0x7ffffd
  mov edi, eax
  call 0x3ffffd
  mov ebx, eax
  hlt`);
    vm.memory.writeBytes(0x3ffffd, Uint8Array.from([0xb8, 0x11, 0x22]));
    vm.memory.writeBytes(0x200000, Uint8Array.from([0x33, 0x44, 0xc3]));
    vm.memory.writeBytes(0x201000, Uint8Array.from([0x55, 0x66, 0xc3]));
    vm.memory.write32(PT1, 0x200000 | P | RW); // 0x400000 → A
    vm.memory.write32(PT1 + 0x3ff * 4, 0x3ff000 | P | RW); // 0x7ff000 → the frame of 0x3ff000
    vm.memory.write32(PT2, 0x201000 | P | RW); // 0x800000 → B
    expect(runProtected(vm)).toBe(-1);
    expect(vm.cpu.regs[ESI] >>> 0).toBe(0x44332211);
    expect(vm.cpu.regs[EDI] >>> 0).toBe(0x66552211);
    expect(vm.cpu.regs[EBX] >>> 0).toBe(0x44332211);
  });

  it('instruction accesses set A on reads and A|D on writes in the PTEs used', () => {
    const vm = paged(`${ENABLE_PAGING}
  mov eax, [0x21000]
  mov [0x22000], eax
  hlt`);
    expect(runProtected(vm)).toBe(-1);
    expect(pte(vm, PT0, 0x21) & (A | D)).toBe(A);
    expect(pte(vm, PT0, 0x22) & (A | D)).toBe(A | D);
    expect(pte(vm, PT0, 0x23) & (A | D)).toBe(0);
    expect(vm.memory.read32(PD) & A).toBe(A);
  });
});

describe('PE=1 with real-mode segment caches (right after MOV CR0)', () => {
  it('MOV CR0 = PE|PG from real mode turns paging on for the following accesses', () => {
    const vm = createBareCpu(8 << 20);
    // PD at 0x10000, PT at 0x11000: identity for the first MiB except linear 0x20000 → 0x300000.
    vm.memory.write32(0x10000, 0x11000 | P | RW);
    for (let k = 0; k < 256; k++) vm.memory.write32(0x11000 + k * 4, (k << 12) | P | RW);
    vm.memory.write32(0x11000 + 0x20 * 4, 0x300000 | P | RW);
    vm.memory.write32(0x300000, 0x5a5a5a5a);
    vm.memory.write32(0x20000, 0x0bad0bad);
    const code = assemble(`bits 16
org 0x1000
  mov eax, 0x10000
  mov cr3, eax
  mov eax, cr0
  or eax, 0x80000001
  mov cr0, eax
  mov ebx, [0]
  mov dword [4], 0x600d
  hlt`);
    vm.memory.writeBytes(0x1000, code);
    setRealModeState(vm.cpu, { cs: 0, ip: 0x1000, ds: 0x2000, ss: 0, sp: 0x800, flags: 2 });
    expect(vm.cpu.run(100)).toBe(RunExit.Halted);
    expect(vm.cpu.regs[EBX]).toBe(0x5a5a5a5a);
    expect(vm.memory.read32(0x300004)).toBe(0x600d);
    expect(vm.memory.read32(0x20004)).toBe(0);
    expect(vm.cpu.cr0 >>> 0).toBe(0xe0000011);
  });
});
