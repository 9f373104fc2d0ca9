/**
 * Decoder edge cases of the real-mode CPU (src/cpu/decoder.ts): every 16-bit ModRM form,
 * 32-bit addressing through the 67h prefix (SIB scales, no index, no base, EBP/ESP bases
 * and their SS default), segment overrides including FS/GS, operand-size and address-size
 * prefixes alone and together, repeated and conflicting prefixes, LOCK validity, the
 * 15-byte limit, 64 KiB wrap of offsets and of IP, segment-limit faults, and A20 gating.
 * SDM vol. 2 ch. 2 (instruction format) and vol. 3 ch. 20 (real-address mode).
 */
import { describe, expect, it } from 'vitest';
import { SEG_CS } from '../../../src/cpu/decoded.js';
import {
  boot, runToCodeHalt, runToFault, u16, u32, CODE_BASE, CODE_SEG, DATA_BASE, EXTRA_BASE, HANDLER_BASE,
  EAX, EBP, EBX, ECX, EDI, EDX, ESI, ESP,
} from '../../helpers/cpu-program.js';
import type { BareCpu } from '../../helpers/real-mode-cpu.js';

const SS_BASE = 0x8000;
const FS_SEG = 0x4000, GS_SEG = 0x5000;
const SEG_BASES: Record<string, number> = {
  es: EXTRA_BASE, cs: CODE_BASE, ss: SS_BASE, ds: DATA_BASE, fs: FS_SEG << 4, gs: GS_SEG << 4,
};
const OVERRIDE_PREFIX: Record<string, number> = { es: 0x26, cs: 0x2e, ss: 0x36, ds: 0x3e, fs: 0x64, gs: 0x65 };
const HLT = 0xf4;
const DECOY = 0x5a5a;

/** Boot `code` + HLT with FS/GS loaded too. */
function bootWithFsGs(code: readonly number[], regs: Record<string, number> = {}, regs32: Partial<Record<number, number>> = {}): BareCpu {
  const vm = boot([...code, HLT], { regs, regs32 });
  vm.cpu.loadSegmentReal(4, FS_SEG);
  vm.cpu.loadSegmentReal(5, GS_SEG);
  return vm;
}

interface FormRow { asm: string; bytes: number[]; off: number; seg: 'ds' | 'ss' }

// 16-bit forms with BX=1000 BP=2000 SI=0100 DI=0200; destination DX (never an address register here).
const REGS16 = { bx: 0x1000, bp: 0x2000, si: 0x0100, di: 0x0200 };
const FORMS16: FormRow[] = [
  // mod 00
  { asm: 'mov dx, [bx+si]', bytes: [0x8b, 0x10], off: 0x1100, seg: 'ds' },
  { asm: 'mov dx, [bx+di]', bytes: [0x8b, 0x11], off: 0x1200, seg: 'ds' },
  { asm: 'mov dx, [bp+si]', bytes: [0x8b, 0x12], off: 0x2100, seg: 'ss' },
  { asm: 'mov dx, [bp+di]', bytes: [0x8b, 0x13], off: 0x2200, seg: 'ss' },
  { asm: 'mov dx, [si]', bytes: [0x8b, 0x14], off: 0x0100, seg: 'ds' },
  { asm: 'mov dx, [di]', bytes: [0x8b, 0x15], off: 0x0200, seg: 'ds' },
  { asm: 'mov dx, [0x1234]', bytes: [0x8b, 0x16, 0x34, 0x12], off: 0x1234, seg: 'ds' },
  { asm: 'mov dx, [bx]', bytes: [0x8b, 0x17], off: 0x1000, seg: 'ds' },
  // mod 01: sign-extended disp8
  { asm: 'mov dx, [bx+si-2]', bytes: [0x8b, 0x50, 0xfe], off: 0x10fe, seg: 'ds' },
  { asm: 'mov dx, [bx+di-2]', bytes: [0x8b, 0x51, 0xfe], off: 0x11fe, seg: 'ds' },
  { asm: 'mov dx, [bp+si-2]', bytes: [0x8b, 0x52, 0xfe], off: 0x20fe, seg: 'ss' },
  { asm: 'mov dx, [bp+di-2]', bytes: [0x8b, 0x53, 0xfe], off: 0x21fe, seg: 'ss' },
  { asm: 'mov dx, [si-2]', bytes: [0x8b, 0x54, 0xfe], off: 0x00fe, seg: 'ds' },
  { asm: 'mov dx, [di-2]', bytes: [0x8b, 0x55, 0xfe], off: 0x01fe, seg: 'ds' },
  { asm: 'mov dx, [bp-2]', bytes: [0x8b, 0x56, 0xfe], off: 0x1ffe, seg: 'ss' },
  { asm: 'mov dx, [bx-2]', bytes: [0x8b, 0x57, 0xfe], off: 0x0ffe, seg: 'ds' },
  { asm: 'mov dx, [bp]', bytes: [0x8b, 0x56, 0x00], off: 0x2000, seg: 'ss' }, // mod 01 with disp8 0: the only way to say [bp]
  { asm: 'mov dx, [bx+0x7f]', bytes: [0x8b, 0x57, 0x7f], off: 0x107f, seg: 'ds' },
  // mod 10: disp16
  { asm: 'mov dx, [bx+si+0x1234]', bytes: [0x8b, 0x90, 0x34, 0x12], off: 0x2334, seg: 'ds' },
  { asm: 'mov dx, [bx+di+0x1234]', bytes: [0x8b, 0x91, 0x34, 0x12], off: 0x2434, seg: 'ds' },
  { asm: 'mov dx, [bp+si+0x1234]', bytes: [0x8b, 0x92, 0x34, 0x12], off: 0x3334, seg: 'ss' },
  { asm: 'mov dx, [bp+di+0x1234]', bytes: [0x8b, 0x93, 0x34, 0x12], off: 0x3434, seg: 'ss' },
  { asm: 'mov dx, [si+0x1234]', bytes: [0x8b, 0x94, 0x34, 0x12], off: 0x1334, seg: 'ds' },
  { asm: 'mov dx, [di+0x1234]', bytes: [0x8b, 0x95, 0x34, 0x12], off: 0x1434, seg: 'ds' },
  { asm: 'mov dx, [bp+0x1234]', bytes: [0x8b, 0x96, 0x34, 0x12], off: 0x3234, seg: 'ss' },
  { asm: 'mov dx, [bx+0x1234]', bytes: [0x8b, 0x97, 0x34, 0x12], off: 0x2234, seg: 'ds' },
];

// 32-bit forms (67h) with EAX=10 ECX=30 EDX=40 EBX=20 ESP=1000 EBP=400 ESI=100 EDI=200.
const REGS32: Partial<Record<number, number>> = {
  [EAX]: 0x10, [ECX]: 0x30, [EDX]: 0x40, [EBX]: 0x20, [ESP]: 0x1000, [EBP]: 0x400, [ESI]: 0x100, [EDI]: 0x200,
};
const FORMS32: FormRow[] = [
  // mod 00, no SIB
  { asm: 'mov dx, [eax]', bytes: [0x67, 0x8b, 0x10], off: 0x10, seg: 'ds' },
  { asm: 'mov dx, [ecx]', bytes: [0x67, 0x8b, 0x11], off: 0x30, seg: 'ds' },
  { asm: 'mov dx, [edx]', bytes: [0x67, 0x8b, 0x12], off: 0x40, seg: 'ds' },
  { asm: 'mov dx, [ebx]', bytes: [0x67, 0x8b, 0x13], off: 0x20, seg: 'ds' },
  { asm: 'mov dx, [dword 0x1234]', bytes: [0x67, 0x8b, 0x15, 0x34, 0x12, 0x00, 0x00], off: 0x1234, seg: 'ds' }, // mod 00 rm 101: disp32, no base
  { asm: 'mov dx, [esi]', bytes: [0x67, 0x8b, 0x16], off: 0x100, seg: 'ds' },
  { asm: 'mov dx, [edi]', bytes: [0x67, 0x8b, 0x17], off: 0x200, seg: 'ds' },
  // SIB: every scale
  { asm: 'mov dx, [eax+ecx*1]', bytes: [0x67, 0x8b, 0x14, 0x08], off: 0x40, seg: 'ds' },
  { asm: 'mov dx, [eax+ecx*2]', bytes: [0x67, 0x8b, 0x14, 0x48], off: 0x70, seg: 'ds' },
  { asm: 'mov dx, [eax+ecx*4]', bytes: [0x67, 0x8b, 0x14, 0x88], off: 0xd0, seg: 'ds' },
  { asm: 'mov dx, [eax+ecx*8]', bytes: [0x67, 0x8b, 0x14, 0xc8], off: 0x190, seg: 'ds' },
  // SIB index = 100 (none); the scale bits are then ignored
  { asm: 'mov dx, [eax] (SIB scale 0, index none)', bytes: [0x67, 0x8b, 0x14, 0x20], off: 0x10, seg: 'ds' },
  { asm: 'mov dx, [eax] (SIB scale 3, index none)', bytes: [0x67, 0x8b, 0x14, 0xe0], off: 0x10, seg: 'ds' },
  // SIB base = 101 with mod 00: disp32 and no base, so the default segment stays DS
  { asm: 'mov dx, [ecx*4+0x100]', bytes: [0x67, 0x8b, 0x14, 0x8d, 0x00, 0x01, 0x00, 0x00], off: 0x1c0, seg: 'ds' },
  { asm: 'mov dx, [nosplit ebp*2+0x10]', bytes: [0x67, 0x8b, 0x14, 0x6d, 0x10, 0x00, 0x00, 0x00], off: 0x810, seg: 'ds' },
  // EBP index with a non-EBP base: DS (the base decides)
  { asm: 'mov dx, [eax+ebp*2]', bytes: [0x67, 0x8b, 0x14, 0x68], off: 0x810, seg: 'ds' },
  // EBP base: SS
  { asm: 'mov dx, [ebp]', bytes: [0x67, 0x8b, 0x55, 0x00], off: 0x400, seg: 'ss' },
  { asm: 'mov dx, [ebp-4]', bytes: [0x67, 0x8b, 0x55, 0xfc], off: 0x3fc, seg: 'ss' },
  { asm: 'mov dx, [ebp+ecx*2]', bytes: [0x67, 0x8b, 0x54, 0x4d, 0x00], off: 0x460, seg: 'ss' },
  { asm: 'mov dx, [ebp+0x1000]', bytes: [0x67, 0x8b, 0x95, 0x00, 0x10, 0x00, 0x00], off: 0x1400, seg: 'ss' },
  // ESP base: SS
  { asm: 'mov dx, [esp]', bytes: [0x67, 0x8b, 0x14, 0x24], off: 0x1000, seg: 'ss' },
  { asm: 'mov dx, [esp+4]', bytes: [0x67, 0x8b, 0x54, 0x24, 0x04], off: 0x1004, seg: 'ss' },
  { asm: 'mov dx, [esp+ecx*2]', bytes: [0x67, 0x8b, 0x14, 0x4c], off: 0x1060, seg: 'ss' },
  { asm: 'mov dx, [esp+0x100]', bytes: [0x67, 0x8b, 0x94, 0x24, 0x00, 0x01, 0x00, 0x00], off: 0x1100, seg: 'ss' },
  // mod 01 / 10 with other bases
  { asm: 'mov dx, [eax-4]', bytes: [0x67, 0x8b, 0x50, 0xfc], off: 0xc, seg: 'ds' },
  { asm: 'mov dx, [ebx+edx*4+0x10]', bytes: [0x67, 0x8b, 0x54, 0x93, 0x10], off: 0x130, seg: 'ds' },
  { asm: 'mov dx, [esi+edi*8+0x1000]', bytes: [0x67, 0x8b, 0x94, 0xfe, 0x00, 0x10, 0x00, 0x00], off: 0x2100, seg: 'ds' },
];

/** Run one form and return DX; markers go at the form's segment and a decoy at the other default segment. */
function runForm(code: number[], seg: string, off: number, marker: number, regs: Record<string, number>, regs32: Partial<Record<number, number>>): { vm: BareCpu; dx: number } {
  const vm = bootWithFsGs(code, regs, regs32);
  for (const other of ['ds', 'ss', 'es', 'fs', 'gs']) vm.memory.write16(SEG_BASES[other] + off, DECOY);
  vm.memory.write16(SEG_BASES[seg] + off, marker);
  runToCodeHalt(vm, code.length + 1);
  return { vm, dx: u16(vm, EDX) };
}

describe('16-bit ModRM forms', () => {
  FORMS16.forEach((row, k) => {
    it(`${row.asm} reads ${row.seg}:${row.off.toString(16)}`, () => {
      const marker = 0xa000 + k;
      const { dx } = runForm(row.bytes, row.seg, row.off, marker, REGS16, {});
      expect(dx).toBe(marker);
    });
    it(`fs: ${row.asm} reads fs:${row.off.toString(16)}`, () => {
      const marker = 0xb000 + k;
      const { dx } = runForm([0x64, ...row.bytes], 'fs', row.off, marker, REGS16, {});
      expect(dx).toBe(marker);
    });
  });

  for (const seg of ['es', 'cs', 'ss', 'ds', 'fs', 'gs']) {
    it(`${seg} override on a BP-based form ([bp+si]) and a BX-based form ([bx+di+0x1234])`, () => {
      const a = runForm([OVERRIDE_PREFIX[seg], 0x8b, 0x12], seg, 0x2100, 0xc001, REGS16, {}); // <seg> mov dx, [bp+si]
      expect(a.dx).toBe(0xc001);
      const b = runForm([OVERRIDE_PREFIX[seg], 0x8b, 0x91, 0x34, 0x12], seg, 0x2434, 0xc002, REGS16, {}); // <seg> mov dx, [bx+di+0x1234]
      expect(b.dx).toBe(0xc002);
    });
  }

  it('a store through [bp+di-2] lands in SS and nowhere else', () => {
    const code = [
      0x89, 0x43, 0xfe, // mov [bp+di-2], ax
    ];
    const vm = bootWithFsGs(code, { ...REGS16, ax: 0x1357 });
    runToCodeHalt(vm);
    expect(vm.memory.read16(SS_BASE + 0x21fe)).toBe(0x1357);
    expect(vm.memory.read16(DATA_BASE + 0x21fe)).toBe(0);
  });
});

describe('32-bit addressing through 67h', () => {
  FORMS32.forEach((row, k) => {
    it(`${row.asm} reads ${row.seg}:${row.off.toString(16)}`, () => {
      const marker = 0xd000 + k;
      const { dx } = runForm(row.bytes, row.seg, row.off, marker, {}, REGS32);
      expect(dx).toBe(marker);
    });
    it(`gs: ${row.asm} reads gs:${row.off.toString(16)}`, () => {
      const marker = 0xe000 + k;
      const { dx } = runForm([0x65, ...row.bytes], 'gs', row.off, marker, {}, REGS32);
      expect(dx).toBe(marker);
    });
  });

  it('ds: override on an ESP-based form reads DS', () => {
    const { dx } = runForm([0x3e, 0x67, 0x8b, 0x54, 0x24, 0x04], 'ds', 0x1004, 0x4321, {}, REGS32); // mov dx, [ds:esp+4]
    expect(dx).toBe(0x4321);
  });

  it('LEA with 67h computes the full 32-bit offset without touching memory', () => {
    const code = [
      0x66, 0x67, 0x8d, 0x9c, 0xc8, 0x78, 0x56, 0x34, 0x12, // lea ebx, [eax+ecx*8+0x12345678]
      0x67, 0x8d, 0x54, 0xbe, 0xf8, // lea dx, [esi+edi*4-8]
    ];
    const vm = bootWithFsGs(code, {}, { [EAX]: 0x11111111, [ECX]: 0x01000000, [ESI]: 0x100, [EDI]: 0x40000010 });
    runToCodeHalt(vm);
    expect(u32(vm, EBX)).toBe((0x11111111 + 0x08000000 + 0x12345678) >>> 0);
    expect(u16(vm, EDX)).toBe((0x100 + 0x40 - 8) & 0xffff);
  });
});

describe('operand-size and address-size prefixes', () => {
  it('66h: MOV r32, imm32 and MOV [m], r32 write four bytes', () => {
    const code = [
      0x66, 0xb8, 0xef, 0xcd, 0xab, 0x89, // mov eax, 0x89abcdef
      0x66, 0x89, 0x07, // mov [bx], eax
      0xb9, 0x77, 0x77, // mov cx, 0x7777
    ];
    const vm = boot([...code, HLT], { regs: { bx: 0x10 } });
    runToCodeHalt(vm, code.length + 1);
    expect(u32(vm, EAX)).toBe(0x89abcdef);
    expect(vm.memory.read32(DATA_BASE + 0x10)).toBe(0x89abcdef);
    expect(u16(vm, ECX)).toBe(0x7777);
  });

  it('66h: ADD r32, r32 carries into the upper half; the 16-bit form does not', () => {
    const code = [
      0x66, 0x01, 0xd8, // add eax, ebx
      0x01, 0xd1, // add cx, dx
    ];
    const vm = boot([...code, HLT], { regs32: { [EAX]: 0x0000ffff, [EBX]: 1, [ECX]: 0x1234ffff, [EDX]: 1 } });
    runToCodeHalt(vm);
    expect(u32(vm, EAX)).toBe(0x00010000);
    expect(u32(vm, ECX)).toBe(0x12340000);
  });

  it('66h: PUSH/POP r32 move ESP by four and store a dword; PUSH/POP r16 by two', () => {
    const code = [
      0x66, 0x50, // push eax
      0x51, // push cx
      0x5a, // pop dx
      0x66, 0x5b, // pop ebx
    ];
    const vm = boot([...code, HLT], { regs32: { [EAX]: 0xcafebabe, [ECX]: 0x1234 } });
    vm.cpu.run(2);
    expect(u16(vm, ESP)).toBe(0x1000 - 6);
    expect(vm.memory.read32(SS_BASE + 0x1000 - 4)).toBe(0xcafebabe);
    expect(vm.memory.read16(SS_BASE + 0x1000 - 6)).toBe(0x1234);
    runToCodeHalt(vm);
    expect(u16(vm, ESP)).toBe(0x1000);
    expect(u32(vm, EBX)).toBe(0xcafebabe);
    expect(u16(vm, EDX)).toBe(0x1234);
  });

  it('66h+67h together: MOV [ebx+ecx*4], eax', () => {
    const code = [
      0x66, 0x67, 0x89, 0x44, 0x8b, 0x08, // mov [ebx+ecx*4+8], eax
    ];
    expect(code.slice(0, 2).sort()).toEqual([0x66, 0x67]);
    const vm = boot([...code, HLT], { regs32: { [EAX]: 0x01020304, [EBX]: 0x100, [ECX]: 3 } });
    runToCodeHalt(vm);
    expect(vm.memory.read32(DATA_BASE + 0x100 + 12 + 8)).toBe(0x01020304);
  });

  it('67h+66h in the other order decode the same', () => {
    const vm = boot([0x67, 0x66, 0x89, 0x44, 0x8b, 0x08, HLT], { regs32: { [EAX]: 0x0a0b0c0d, [EBX]: 0x100, [ECX]: 3 } }); // mov [ebx+ecx*4+8], eax
    runToCodeHalt(vm, 7);
    expect(vm.memory.read32(DATA_BASE + 0x114)).toBe(0x0a0b0c0d);
  });

  it('repeated 66h, 67h and segment prefixes are redundant, not toggles', () => {
    const code = [
      0x66, 0x66, 0xb8, 0x44, 0x33, 0x22, 0x11, // db 0x66, 0x66, 0xb8, 0x44, 0x33, 0x22, 0x11 ; o32 o32 mov eax, 0x11223344
      0x67, 0x67, 0x8b, 0x13, // db 0x67, 0x67, 0x8b, 0x13 ; a32 a32 mov dx, [ebx]
      0x3e, 0x3e, 0x3e, 0x8b, 0x0f, // db 0x3e, 0x3e, 0x3e, 0x8b, 0x0f ; ds ds ds mov cx, [bx]
    ];
    const vm = boot([...code, HLT], { regs32: { [EBX]: 0x40 } });
    vm.memory.write16(DATA_BASE + 0x40, 0x5678);
    runToCodeHalt(vm, code.length + 1);
    expect(u32(vm, EAX)).toBe(0x11223344);
    expect(u16(vm, EDX)).toBe(0x5678);
    expect(u16(vm, ECX)).toBe(0x5678);
  });

  it('the last of several segment overrides wins', () => {
    const code = [
      0x26, 0x64, 0x8b, 0x17, // db 0x26, 0x64, 0x8b, 0x17 ; es fs mov dx, [bx]
      0x64, 0x26, 0x8b, 0x0f, // db 0x64, 0x26, 0x8b, 0x0f ; fs es mov cx, [bx]
      0x65, 0x36, 0x3e, 0x8b, 0x07, // db 0x65, 0x36, 0x3e, 0x8b, 0x07 ; gs ss ds mov ax, [bx]
    ];
    const vm = bootWithFsGs(code, { bx: 0x80 });
    vm.memory.write16(EXTRA_BASE + 0x80, 0x1e1e);
    vm.memory.write16((FS_SEG << 4) + 0x80, 0x1f1f);
    vm.memory.write16(DATA_BASE + 0x80, 0x1d1d);
    vm.memory.write16((GS_SEG << 4) + 0x80, 0x1616);
    runToCodeHalt(vm);
    expect(u16(vm, EDX)).toBe(0x1f1f);
    expect(u16(vm, ECX)).toBe(0x1e1e);
    expect(u16(vm, EAX)).toBe(0x1d1d);
  });
});

describe('REP prefixes on string instructions', () => {
  // DS:SI = "AAAB", ES:DI = "AAAC", CX = 4: REPE stops at the mismatch after 4 steps, REPNE after the first (equal) byte.
  function cmps(code: number[]): BareCpu {
    const vm = boot([...code, HLT], { regs: { cx: 4, si: 0x10, di: 0x20 } });
    vm.memory.writeBytes(DATA_BASE + 0x10, Uint8Array.from([0x41, 0x41, 0x41, 0x42]));
    vm.memory.writeBytes(EXTRA_BASE + 0x20, Uint8Array.from([0x41, 0x41, 0x41, 0x43]));
    runToCodeHalt(vm);
    return vm;
  }
  it('F2 F3 CMPSB acts as REPE (last prefix wins)', () => {
    const vm = cmps([0xf2, 0xf3, 0xa6]); // repne repe cmpsb
    expect(u16(vm, ECX)).toBe(0);
    expect(u16(vm, ESI)).toBe(0x14);
    expect(vm.cpu.getFlags() & 0x40).toBe(0);
  });
  it('F3 F2 CMPSB acts as REPNE (last prefix wins)', () => {
    const vm = cmps([0xf3, 0xf2, 0xa6]); // repe repne cmpsb
    expect(u16(vm, ECX)).toBe(3);
    expect(u16(vm, ESI)).toBe(0x11);
    expect(vm.cpu.getFlags() & 0x40).toBe(0x40);
  });
  it('F3 F3 with a segment override between them still repeats', () => {
    const vm = boot([0xf3, 0x26, 0xf3, 0xa4, HLT], { regs: { cx: 3, si: 0, di: 0x100 } }); // rep es rep movsb
    vm.memory.writeBytes(EXTRA_BASE, Uint8Array.from([7, 8, 9]));
    runToCodeHalt(vm);
    expect(u16(vm, ECX)).toBe(0);
    expect([0, 1, 2].map((k) => vm.memory.read8(EXTRA_BASE + 0x100 + k))).toEqual([7, 8, 9]);
  });
  it('67h REP uses ECX/ESI/EDI', () => {
    const code = [
      0xf3, 0x67, 0xa4, // a32 rep movsb
    ];
    const vm = boot([...code, HLT], { regs32: { [ECX]: 0x00000002, [ESI]: 0x10, [EDI]: 0x20 } });
    vm.memory.writeBytes(DATA_BASE + 0x10, Uint8Array.from([0xaa, 0xbb]));
    runToCodeHalt(vm);
    expect(u32(vm, ECX)).toBe(0);
    expect(u32(vm, ESI)).toBe(0x12);
    expect(u32(vm, EDI)).toBe(0x22);
    expect(vm.memory.read16(EXTRA_BASE + 0x20)).toBe(0xbbaa);
  });
});

describe('LOCK', () => {
  it('LOCK on lockable memory operations executes them', () => {
    const code = [
      0xf0, 0x01, 0x07, // lock add [bx], ax
      0xf0, 0xff, 0x47, 0x02, // lock inc word [bx+2]
      0xf0, 0x87, 0x4f, 0x04, // lock xchg [bx+4], cx
      0xf0, 0x0f, 0xba, 0x6f, 0x06, 0x03, // lock bts word [bx+6], 3
      0xf0, 0x0f, 0xb1, 0x57, 0x08, // lock cmpxchg [bx+8], dx
    ];
    const vm = boot([...code, HLT], { regs: { bx: 0x40, ax: 5, cx: 0x1111, dx: 0x2222 } });
    vm.memory.write16(DATA_BASE + 0x40, 10);
    vm.memory.write16(DATA_BASE + 0x42, 0xffff);
    vm.memory.write16(DATA_BASE + 0x44, 0x3333);
    vm.memory.write16(DATA_BASE + 0x48, 5); // equals AX: CMPXCHG stores DX
    runToCodeHalt(vm, code.length + 1);
    expect(vm.memory.read16(DATA_BASE + 0x40)).toBe(15);
    expect(vm.memory.read16(DATA_BASE + 0x42)).toBe(0);
    expect(vm.memory.read16(DATA_BASE + 0x44)).toBe(0x1111);
    expect(u16(vm, ECX)).toBe(0x3333);
    expect(vm.memory.read16(DATA_BASE + 0x46)).toBe(8);
    expect(vm.memory.read16(DATA_BASE + 0x48)).toBe(0x2222);
  });

  const invalid: { name: string; bytes: number[] }[] = [
    { name: 'lock add ax, bx (register destination)', bytes: [0xf0, 0x01, 0xd8] },
    { name: 'lock mov [bx], ax (not lockable)', bytes: [0xf0, 0x89, 0x07] },
    { name: 'lock cmp [bx], ax (CMP is not lockable)', bytes: [0xf0, 0x39, 0x07] },
    { name: 'lock add ax, [bx] (memory is the source)', bytes: [0xf0, 0x03, 0x07] },
    { name: 'lock inc ax (40+r)', bytes: [0xf0, 0x40] },
    { name: 'lock nop', bytes: [0xf0, 0x90] },
    { name: 'lock bt [bx], ax (BT is not lockable)', bytes: [0xf0, 0x0f, 0xa3, 0x07] },
    { name: 'lock not bx (register destination)', bytes: [0xf0, 0xf7, 0xd3] },
  ];
  for (const { name, bytes } of invalid) {
    it(`#UD for ${name}, with the faulting IP pushed and nothing changed`, () => {
      // nop at offset 0, then the faulting instruction at offset 1
      const vm = boot([0x90, ...bytes, HLT], { regs: { ax: 0x1111, bx: 0x40, flags: 0x0003 } });
      vm.memory.write16(DATA_BASE + 0x40, 0x2222);
      const frame = runToFault(vm, 6);
      expect(frame.ip).toBe(1);
      expect(frame.cs).toBe(CODE_SEG);
      expect(frame.flags & 0x0fff).toBe(0x0003);
      expect(u16(vm, EAX)).toBe(0x1111);
      expect(u16(vm, EBX)).toBe(0x40);
      expect(vm.memory.read16(DATA_BASE + 0x40)).toBe(0x2222);
    });
  }
});

describe('instruction length limit', () => {
  it('15 bytes (13 prefixes + MOV) execute', () => {
    const code = [...new Array<number>(13).fill(0x3e), 0x8b, 0x17]; // ds x13; mov dx, [bx]
    const vm = boot([...code, HLT], { regs: { bx: 0x10 } });
    vm.memory.write16(DATA_BASE + 0x10, 0x600d);
    runToCodeHalt(vm, 16);
    expect(u16(vm, EDX)).toBe(0x600d);
  });
  it('16 bytes (14 prefixes + MOV) raise #GP with the instruction start pushed', () => {
    const code = [0x90, ...new Array<number>(14).fill(0x3e), 0x8b, 0x17]; // nop; ds x14; mov dx, [bx]
    const vm = boot([...code, HLT], { regs: { bx: 0x10, dx: 0x1234 } });
    vm.memory.write16(DATA_BASE + 0x10, 0xbad0);
    const frame = runToFault(vm, 13);
    expect(frame.ip).toBe(1);
    expect(u16(vm, EDX)).toBe(0x1234);
  });
  it('16 prefixes alone (no opcode within 15 bytes) raise #GP', () => {
    const vm = boot([...new Array<number>(16).fill(0x66), 0x90, HLT]); // o32 x16; nop
    expect(runToFault(vm, 13).ip).toBe(0);
  });
});

describe('64 KiB offset wrap and segment limits', () => {
  it('[bx+si+disp16] wraps at 64 KiB', () => {
    const { dx } = runForm([0x8b, 0x90, 0x10, 0x00], 'ds', 0x0020, 0x7e7e, { bx: 0xfff0, si: 0x0020 }, {}); // mov dx, [bx+si+0x10]
    expect(dx).toBe(0x7e7e);
  });
  it('[bp+di-2] with BP=DI=0 wraps to SS:FFFE', () => {
    const { dx } = runForm([0x8b, 0x53, 0xfe], 'ss', 0xfffe, 0x7f7f, { bp: 0, di: 0 }, {}); // mov dx, [bp+di-2]
    expect(dx).toBe(0x7f7f);
  });
  it('a byte access at offset FFFF is fine', () => {
    const { vm } = runForm([0x8a, 0x17], 'ds', 0xffff, 0x0042, { bx: 0xffff }, {}); // mov dl, [bx]
    expect(u16(vm, EDX) & 0xff).toBe(0x42);
  });
  it('a word read at DS:FFFF raises #GP(13) with registers unchanged', () => {
    const vm = boot([0x90, 0x8b, 0x17, HLT], { regs: { bx: 0xffff, dx: 0x1111 } }); // nop; mov dx, [bx]
    const frame = runToFault(vm, 13);
    expect(frame.ip).toBe(1);
    expect(u16(vm, EDX)).toBe(0x1111);
    expect(u16(vm, EBX)).toBe(0xffff);
  });
  it('a word write at DS:FFFF raises #GP and writes nothing', () => {
    const vm = boot([0x89, 0x07, HLT], { regs: { bx: 0xffff, ax: 0xabcd } }); // mov [bx], ax
    runToFault(vm, 13);
    expect(vm.memory.read8(DATA_BASE + 0xffff)).toBe(0);
    expect(vm.memory.read8(DATA_BASE + 0x10000)).toBe(0);
  });
  it('a dword read at DS:FFFD raises #GP', () => {
    const vm = boot([0x66, 0x8b, 0x17, HLT], { regs: { bx: 0xfffd } }); // mov edx, [bx]
    expect(runToFault(vm, 13).ip).toBe(0);
  });
  it('a word read at SS:FFFF through [bp] raises #SS(12)', () => {
    const vm = boot([0x8b, 0x56, 0x00, HLT], { regs: { bp: 0xffff, dx: 0x2222 } }); // mov dx, [bp]
    const frame = runToFault(vm, 12);
    expect(frame.ip).toBe(0);
    expect(u16(vm, EDX)).toBe(0x2222);
  });
  it('an explicit ss: override on a BX form overrunning raises #SS; ds: on a BP form raises #GP', () => {
    const a = boot([0x36, 0x8b, 0x17, HLT], { regs: { bx: 0xffff } }); // mov dx, [ss:bx]
    runToFault(a, 12);
    const b = boot([0x3e, 0x8b, 0x56, 0x00, HLT], { regs: { bp: 0xffff } }); // mov dx, [ds:bp]
    runToFault(b, 13);
  });
  it('POP with SP=FFFF raises #SS with the destination unchanged', () => {
    const vm = boot([0x58, HLT], { regs: { sp: 0xffff, ax: 0x1234 } }); // pop ax
    const frame = runToFault(vm, 12);
    expect(frame.ip).toBe(0);
    expect(u16(vm, EAX)).toBe(0x1234);
    expect(u16(vm, ESP)).toBe(0xffff - 6); // only the exception frame was pushed
  });
  it('32-bit offsets beyond FFFF raise #GP (or #SS for EBP/ESP bases) in real mode', () => {
    const cases: { bytes: number[]; regs32: Partial<Record<number, number>>; vector: number; asm: string }[] = [
      { asm: 'mov dx, [eax]', bytes: [0x67, 0x8b, 0x10], regs32: { [EAX]: 0x10000 }, vector: 13 },
      { asm: 'mov dx, [eax+ecx*4]', bytes: [0x67, 0x8b, 0x14, 0x88], regs32: { [EAX]: 0xfff0, [ECX]: 8 }, vector: 13 },
      { asm: 'mov dx, [eax-1]', bytes: [0x67, 0x8b, 0x50, 0xff], regs32: { [EAX]: 0 }, vector: 13 },
      { asm: 'mov dx, [dword 0x10000]', bytes: [0x67, 0x8b, 0x15, 0x00, 0x00, 0x01, 0x00], regs32: {}, vector: 13 },
      { asm: 'mov dx, [eax] (word at FFFF)', bytes: [0x67, 0x8b, 0x10], regs32: { [EAX]: 0xffff }, vector: 13 },
      { asm: 'mov dx, [ebp]', bytes: [0x67, 0x8b, 0x55, 0x00], regs32: { [EBP]: 0x10000 }, vector: 12 },
      { asm: 'mov dx, [esp+0x10000]', bytes: [0x67, 0x8b, 0x94, 0x24, 0x00, 0x00, 0x01, 0x00], regs32: {}, vector: 12 },
    ];
    for (const c of cases) {
      const vm = boot([...c.bytes, HLT], { regs: { dx: 0x3333 }, regs32: c.regs32 });
      const frame = runToFault(vm, c.vector);
      expect(frame.ip, c.asm).toBe(0);
      expect(u16(vm, EDX), c.asm).toBe(0x3333);
    }
  });
});

describe('IP wrap at FFFF', () => {
  it('a short jump past FFFF lands at the wrapped offset', () => {
    const vm = boot([0xeb, 0x20], { regs: { ip: 0xfff0 } }); // jmp short $+0x22 (to 0x0012)
    vm.memory.write8(CODE_BASE + 0x12, HLT);
    vm.memory.write8(CODE_BASE + 0x10012, 0xcc); // the unwrapped target: INT3 if reached
    runToCodeHalt(vm, 0x13);
  });
  it('a near jump backwards past 0000 lands at FFxx', () => {
    const vm = boot([0xe9, 0xf0, 0xff], { regs: { ip: 0x0004 } }); // jmp near $-0x0d (to FFF7)
    vm.memory.write8(CODE_BASE + 0xfff7, HLT);
    runToCodeHalt(vm, 0xfff8);
  });
  it('an instruction straddling FFFF/0000 is fetched with the wrapped IP', () => {
    // mov ax, 0x1234 at FFFE: B8 at FFFE, 34 at FFFF, 12 at 0000; then inc ax; hlt at 0001.
    const vm = boot([0xb8, 0x34], { regs: { ip: 0xfffe } });
    vm.memory.writeBytes(CODE_BASE, Uint8Array.from([0x12, 0x40, HLT])); // (imm high byte); inc ax; hlt
    vm.memory.write8(CODE_BASE + 0x10000, 0x99); // must not be used as the immediate's high byte
    runToCodeHalt(vm, 3);
    expect(u16(vm, EAX)).toBe(0x1235);
  });
});

describe('A20 gate', () => {
  const code = [
    0x26, 0x8b, 0x16, 0x10, 0x00, // mov dx, [es:0x10]
    0x26, 0xc7, 0x06, 0x20, 0x00, 0x44, 0x44, // mov word [es:0x20], 0x4444
  ];
  it('with A20 enabled FFFF:0010 reaches physical 0x100000', () => {
    const vm = boot([...code, HLT], { regs: { es: 0xffff } });
    vm.memory.write16(0x100000, 0xbeef);
    runToCodeHalt(vm);
    expect(vm.cpu.a20Enabled).toBe(true);
    expect(u16(vm, EDX)).toBe(0xbeef);
    expect(vm.memory.read16(0x100010)).toBe(0x4444);
  });
  it('with A20 disabled FFFF:0010 aliases 0000:0000', () => {
    const vm = boot([...code, HLT], { regs: { es: 0xffff } });
    vm.memory.write16(0x100000, 0xbeef);
    vm.cpu.setA20(false);
    runToCodeHalt(vm);
    expect(u16(vm, EDX)).toBe(HANDLER_BASE); // IVT entry 0, offset word
    expect(vm.memory.read16(0x10)).toBe(0x4444);
    expect(vm.memory.read16(0x100010)).toBe(0);
  });
  it('toggling A20 between runs takes effect (no stale translation)', () => {
    const vm = boot([...code, HLT], { regs: { es: 0xffff } });
    vm.memory.write16(0x100000, 0xbeef);
    runToCodeHalt(vm);
    expect(u16(vm, EDX)).toBe(0xbeef);
    vm.cpu.setA20(false);
    vm.cpu.eip = 0;
    vm.cpu.halted = false;
    runToCodeHalt(vm);
    expect(u16(vm, EDX)).toBe(HANDLER_BASE);
    vm.cpu.setA20(true);
    vm.cpu.eip = 0;
    vm.cpu.halted = false;
    runToCodeHalt(vm);
    expect(u16(vm, EDX)).toBe(0xbeef);
    expect(vm.cpu.segSel[SEG_CS]).toBe(CODE_SEG);
  });
});
