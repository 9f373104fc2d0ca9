/**
 * The P6 "model" instructions (src/cpu/ops/model.ts, cpuid.ts, msr.ts): CPUID leaves and
 * that every advertised feature bit is backed by a working feature, RDTSC (deterministic,
 * counted in retired instructions, CR4.TSD), RDMSR/WRMSR (the MSRs we have, #GP for the
 * rest), SYSENTER/SYSEXIT, CMPXCHG8B, multi-byte and reserved NOPs, RDPMC, INVD/WBINVD,
 * UD2 and the AMD-only opcodes. SDM vol. 2 (instruction pages), vol. 3A §5.8.7, vol. 3B
 * §17.17, vol. 4 (P6 MSRs).
 *
 * Programs run as real encoded instructions: real-mode ones on the bare CPU
 * (test/helpers/cpu-program.ts), and those that need protected mode, ring 3, virtual-8086
 * mode or paging on the lead's protected-mode machine (test/helpers/pm-machine.ts), which
 * enters protected mode with real instructions and delivers faults through the IDT.
 */
import { describe, expect, it } from 'vitest';
import { RunExit } from '../../../src/cpu/cpu.js';
import {
  CPUID_FEATURES_EDX, CPUID_LEAVES, CPUID_MAX_LEAF, CPUID_SIGNATURE, CpuidEdx,
} from '../../../src/cpu/cpuid.js';
import { SEG_CS, SEG_SS } from '../../../src/cpu/decoded.js';
import { FLAG_AF, FLAG_CF, FLAG_IF, FLAG_OF, FLAG_PF, FLAG_RF, FLAG_SF, FLAG_VM, FLAG_ZF } from '../../../src/cpu/flags.js';
import { MsrFile } from '../../../src/cpu/msr.js';
import { StateError } from '../../../src/persist/persist.js';
import {
  boot, runToCodeHalt, runToFault, u16, u32, DATA_BASE, EAX, EBP, EBX, ECX, EDI, EDX, ESI, ESP,
} from '../../helpers/cpu-program.js';
import type { BareCpu } from '../../helpers/real-mode-cpu.js';
import {
  bootProtected, CODE0, CODE3, DATA0, DATA3, GDT, runProtected, setDescriptor, STACK3, stackDword,
} from '../../helpers/pm-machine.js';

const HLT = 0xf4;
const NOP = 0x90;
const CPUID = [0x0f, 0xa2];
const RDTSC = [0x0f, 0x31];
const RDMSR = [0x0f, 0x32];
const WRMSR = [0x0f, 0x30];
const RDPMC = [0x0f, 0x33];
const SYSENTER = [0x0f, 0x34];
const SYSEXIT = [0x0f, 0x35];
const VEC_UD = 6, VEC_GP = 13;

function le32(v: number): number[] {
  return [v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, (v >>> 24) & 0xff];
}
/** mov r32, imm32 in 16-bit code. */
function mov32(r: number, v: number): number[] {
  return [0x66, 0xb8 + r, ...le32(v)];
}
/** mov [disp16], r32 (DS). */
function store32(r: number, disp: number): number[] {
  return [0x66, 0x89, 0x06 | (r << 3), disp & 0xff, (disp >> 8) & 0xff];
}
/** mov eax, cr4 ... : mov cr4, eax. */
const MOV_CR4_EAX = [0x0f, 0x22, 0xe0];
/** mov ebx, cr4. */
const MOV_EBX_CR4 = [0x0f, 0x20, 0xe3];

/** Run `code` + HLT with the given 32-bit registers, expecting a clean halt. */
function run(code: readonly number[], regs32: Partial<Record<number, number>> = {}, flags = 0x0002): BareCpu {
  const vm = boot([...code, HLT], { regs32, regs: { flags } });
  runToCodeHalt(vm);
  return vm;
}

/** Registers after CPUID with EAX = leaf (ECX = `ecx`; EBX/EDX preloaded with junk). */
function cpuid(leaf: number, ecx = 0): [number, number, number, number] {
  const vm = run(CPUID, { [EAX]: leaf, [ECX]: ecx, [EBX]: 0x5a5a5a5a, [EDX]: 0xa5a5a5a5 });
  return [u32(vm, EAX), u32(vm, EBX), u32(vm, ECX), u32(vm, EDX)];
}

function ascii(...dwords: number[]): string {
  let s = '';
  for (const d of dwords) for (let k = 0; k < 4; k++) s += String.fromCharCode((d >>> (8 * k)) & 0xff);
  return s;
}

/** The 64-bit value EDX:EAX as a BigInt. */
function edxEax(vm: BareCpu): bigint {
  return (BigInt(u32(vm, EDX)) << 32n) | BigInt(u32(vm, EAX));
}

/** The qword at DS:`off`. */
function qword(vm: BareCpu, off: number): bigint {
  return (BigInt(vm.memory.read32(DATA_BASE + off + 4) >>> 0) << 32n) | BigInt(vm.memory.read32(DATA_BASE + off) >>> 0);
}

describe('CPUID', () => {
  it('leaf 0: maximum basic leaf 2 and the vendor string in EBX, EDX, ECX order', () => {
    const [a, b, c, d] = cpuid(0);
    expect(a).toBe(2);
    expect(ascii(b, d, c)).toBe('GenuineIntel');
  });

  it('leaf 1: family 6 model 3 stepping 3, EBX = ECX = 0, EDX = exactly the issue-3 features', () => {
    const [a, b, c, d] = cpuid(1);
    expect(a).toBe(0x633);
    expect((a >> 8) & 0xf).toBe(6);
    expect((a >> 4) & 0xf).toBe(3);
    expect(a & 0xf).toBe(3);
    expect((a >> 12) & 3, 'processor type').toBe(0);
    expect(b).toBe(0);
    expect(c).toBe(0);
    const present = [0, 2, 3, 4, 5, 6, 8, 11, 13, 15];
    const absent = [1, 7, 9, 10, 12, 14, 16, 17, 18, 19, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31];
    for (const bit of present) expect((d >>> bit) & 1, `EDX bit ${bit} advertised`).toBe(1);
    for (const bit of absent) expect((d >>> bit) & 1, `EDX bit ${bit} not advertised`).toBe(0);
    expect(d).toBe(CPUID_FEATURES_EDX >>> 0);
    expect(a).toBe(CPUID_SIGNATURE);
  });

  it('leaf 2: one iteration, null cache/TLB descriptors', () => {
    expect(cpuid(2)).toEqual([0x00000001, 0, 0, 0]);
  });

  it('leaves above the maximum (basic and 80000000h+) return the highest basic leaf', () => {
    const top = cpuid(CPUID_MAX_LEAF);
    for (const leaf of [3, 4, 0x7fffffff, 0x80000000, 0x80000001, 0x80000004, 0xffffffff]) {
      expect(cpuid(leaf), `leaf ${leaf.toString(16)}`).toEqual(top);
    }
    // Extended-leaf probing: EAX of 80000000h is not in 80000000h..8000FFFFh, so no extended leaves.
    expect((cpuid(0x80000000)[0] & 0xffff0000) >>> 0).not.toBe(0x80000000);
  });

  it('ignores ECX (no sub-leaves) and writes all four registers', () => {
    expect(cpuid(1, 0x12345678)).toEqual(cpuid(1, 0));
    expect(cpuid(0, 7)).toEqual(cpuid(0, 0));
  });

  it('the leaf table and the named constants agree', () => {
    expect(CPUID_LEAVES.length).toBe((CPUID_MAX_LEAF + 1) * 4);
    expect(CPUID_LEAVES[7] >>> 0).toBe(CPUID_FEATURES_EDX >>> 0);
  });
});

/**
 * For every feature bit, a program that uses the feature and checks it worked. The test
 * below fails if CPUID advertises a bit with no entry here.
 */
const EXERCISERS: Record<number, () => void> = {
  [CpuidEdx.FPU]: () => {
    // fninit; fld1; fstp dword [0]; fnstsw ax
    const vm = run([0xdb, 0xe3, 0xd9, 0xe8, 0xd9, 0x1e, 0x00, 0x00, 0xdf, 0xe0], { [EAX]: 0xffff });
    expect(vm.memory.read32(DATA_BASE) >>> 0, 'fstp of 1.0').toBe(0x3f800000);
    expect(u16(vm, EAX), 'status word').toBe(0);
  },
  [CpuidEdx.DE]: () => expectCr4Accepts(1 << 3),
  [CpuidEdx.PSE]: () => expectCr4Accepts(1 << 4),
  [CpuidEdx.PAE]: () => expectCr4Accepts(1 << 5),
  [CpuidEdx.PGE]: () => expectCr4Accepts(1 << 7),
  [CpuidEdx.TSC]: () => {
    const vm = run([NOP, NOP, NOP, ...RDTSC], { [EAX]: -1, [EDX]: -1 });
    expect(edxEax(vm)).toBe(3n);
    expectCr4Accepts(1 << 2); // CR4.TSD belongs to the TSC feature
  },
  [CpuidEdx.MSR]: () => {
    const vm = run([...mov32(ECX, 0x174), ...mov32(EAX, 0x1234), ...mov32(EDX, 0), ...WRMSR,
      ...mov32(EAX, 0), ...RDMSR]);
    expect(u32(vm, EAX)).toBe(0x1234);
  },
  [CpuidEdx.CX8]: () => {
    const vm = boot([0x0f, 0xc7, 0x0e, 0x00, 0x01, HLT], { regs32: { [EAX]: 1, [EDX]: 2, [EBX]: 3, [ECX]: 4 } });
    vm.memory.write32(DATA_BASE + 0x100, 1);
    vm.memory.write32(DATA_BASE + 0x104, 2);
    runToCodeHalt(vm);
    expect(qword(vm, 0x100)).toBe((4n << 32n) | 3n);
  },
  [CpuidEdx.SEP]: () => {
    const vm = sysenterRoundTrip();
    expect(runProtected(vm)).toBe(-1);
    vm.cpu.halted = false;
    expect(runProtected(vm)).toBe(-1);
    expect(vm.cpu.segSel[SEG_CS]).toBe(CODE0);
    expect(u16(vm, EAX), 'ring-3 CS after SYSEXIT').toBe(CODE3);
  },
  [CpuidEdx.CMOV]: () => {
    // cmp ax, ax; cmove bx, cx; cmovne dx, cx
    const vm = run([0x39, 0xc0, 0x0f, 0x44, 0xd9, 0x0f, 0x45, 0xd1], { [ECX]: 0x7777, [EBX]: 1, [EDX]: 2 });
    expect(u16(vm, EBX)).toBe(0x7777);
    expect(u16(vm, EDX)).toBe(2);
    // With FPU also set, CMOV promises FCMOVcc: cmp ax, ax; fninit; fld1; fldz; fcmove st0, st1; fstp dword [0]
    const f = run([0x39, 0xc0, 0xdb, 0xe3, 0xd9, 0xe8, 0xd9, 0xee, 0xda, 0xc9, 0xd9, 0x1e, 0x00, 0x00]);
    expect(f.memory.read32(DATA_BASE) >>> 0, 'FCMOVE moved ST(1) = 1.0').toBe(0x3f800000);
  },
};

/** mov eax, bit; mov cr4, eax; mov ebx, cr4: CR4 takes the bit and reads it back. */
function expectCr4Accepts(bit: number): void {
  const vm = run([...mov32(EAX, bit), ...MOV_CR4_EAX, ...MOV_EBX_CR4]);
  expect(u32(vm, EBX), `CR4 bit ${Math.log2(bit)}`).toBe(bit);
}

describe('advertised features are implemented', () => {
  it('every bit CPUID.01H:EDX reports has an exercising program', () => {
    const edx = cpuid(1)[3];
    for (let bit = 0; bit < 32; bit++) {
      if (((edx >>> bit) & 1) === 0) continue;
      expect(EXERCISERS[1 << bit], `no exerciser for advertised EDX bit ${bit}`).toBeTypeOf('function');
    }
    expect(Object.keys(EXERCISERS).length).toBe(10);
  });
  for (const [name, bit] of Object.entries({
    FPU: CpuidEdx.FPU, DE: CpuidEdx.DE, PSE: CpuidEdx.PSE, TSC: CpuidEdx.TSC, MSR: CpuidEdx.MSR, PAE: CpuidEdx.PAE,
    CX8: CpuidEdx.CX8, SEP: CpuidEdx.SEP, PGE: CpuidEdx.PGE, CMOV: CpuidEdx.CMOV,
  })) {
    it(`${name}: the feature works`, () => EXERCISERS[bit]());
  }
});

describe('RDTSC', () => {
  it('counts instructions retired before it (not itself), from 0 at reset', () => {
    expect(edxEax(run(RDTSC))).toBe(0n);
    expect(edxEax(run([NOP, NOP, NOP, NOP, NOP, ...RDTSC]))).toBe(5n);
    // rdtsc; mov esi, eax; rdtsc: one RDTSC and one MOV apart.
    const vm = run([...RDTSC, 0x66, 0x89, 0xc6, ...RDTSC]);
    expect(u32(vm, EAX) - u32(vm, ESI)).toBe(2);
  });

  it('is monotonic: a loop reading it every 5 instructions sees steps of exactly 5', () => {
    // mov di, 0; mov cx, 8; L: rdtsc; mov [di], eax; mov [di+4], edx; add di, 8; loop L
    const vm = run([0xbf, 0x00, 0x00, 0xb9, 0x08, 0x00, ...RDTSC, 0x66, 0x89, 0x05, 0x66, 0x89, 0x55, 0x04, 0x83, 0xc7, 0x08, 0xe2, 0xf2]);
    const values = Array.from({ length: 8 }, (_, k) => qword(vm, 8 * k));
    expect(values[0]).toBe(2n);
    for (let k = 1; k < 8; k++) expect(values[k] - values[k - 1]).toBe(5n);
  });

  it('is deterministic: identical runs, and runs cut into different budgets, read identical values', () => {
    const code = [0xbf, 0x00, 0x00, 0xb9, 0x08, 0x00, ...RDTSC, 0x66, 0x89, 0x05, 0x66, 0x89, 0x55, 0x04, 0x83, 0xc7, 0x08, 0xe2, 0xf2, HLT];
    const readings = (budget: number): bigint[] => {
      const vm = boot(code);
      for (let guard = 0; guard < 1000 && !vm.cpu.halted; guard++) vm.cpu.run(budget);
      expect(vm.cpu.halted).toBe(true);
      return Array.from({ length: 8 }, (_, k) => qword(vm, 8 * k));
    };
    const once = readings(1_000_000);
    expect(readings(1_000_000)).toEqual(once);
    expect(readings(1)).toEqual(once);
    expect(readings(3)).toEqual(once);
    expect(readings(7)).toEqual(once);
  });

  it('WRMSR 10h sets the counter (P6: low 32 bits, high cleared) and it counts on from there', () => {
    const vm = run([...mov32(ECX, 0x10), ...mov32(EAX, 0x12345678), ...mov32(EDX, 0xdeadbeef), ...WRMSR, ...RDTSC]);
    expect(edxEax(vm)).toBe(0x12345678n + 1n);
  });

  it('carries into EDX across 2^32', () => {
    const vm = run([...mov32(ECX, 0x10), ...mov32(EAX, 0xfffffffe), ...WRMSR, NOP, NOP, ...RDTSC]);
    expect(edxEax(vm)).toBe(0xfffffffen + 3n);
  });

  it('RDMSR 10h reads the same counter', () => {
    // rdmsr(10h); mov esi, eax; mov edi, edx; rdtsc
    const vm = run([...mov32(ECX, 0x10), ...RDMSR, 0x66, 0x89, 0xc6, 0x66, 0x89, 0xd7, ...RDTSC]);
    expect(u32(vm, EAX) - u32(vm, ESI)).toBe(3);
    expect(u32(vm, EDI)).toBe(u32(vm, EDX));
  });

  it('CR4.TSD set: still allowed at CPL 0 (real mode)', () => {
    // mov eax, 4; mov cr4, eax; nop; rdtsc
    const vm = run([...mov32(EAX, 1 << 2), ...MOV_CR4_EAX, NOP, ...RDTSC]);
    expect(vm.cpu.cr4).toBe(1 << 2);
    expect(edxEax(vm)).toBe(3n);
  });
});

describe('MsrFile arithmetic and Persist', () => {
  it('TSC = retired * ticksPerInstruction + offset exactly, far past 2^32 and 2^53 products', () => {
    for (const tpi of [1, 3, 1024]) {
      const m = new MsrFile(tpi);
      for (const retired of [0, 1, 0xffffffff, 2 ** 32 + 5, 2 ** 40 + 12345, 2 ** 53 - 1]) {
        m.readTsc(retired);
        const expected = (BigInt(retired) * BigInt(tpi)) & 0xffffffffffffffffn;
        expect((BigInt(m.hi >>> 0) << 32n) | BigInt(m.lo >>> 0), `tpi ${tpi} retired ${retired}`).toBe(expected);
      }
      m.setTsc(2 ** 40, 0xfffffff0, 0xffffffff);
      m.readTsc(2 ** 40 + 100);
      const wrapped = (0xfffffffffffffff0n + 100n * BigInt(tpi)) & 0xffffffffffffffffn;
      expect((BigInt(m.hi >>> 0) << 32n) | BigInt(m.lo >>> 0)).toBe(wrapped);
    }
  });

  it('rejects a bad ticksPerInstruction with a message naming it', () => {
    expect(() => new MsrFile(0)).toThrow(/ticksPerInstruction/);
    expect(() => new MsrFile(1.5)).toThrow(/ticksPerInstruction/);
  });

  it('save -> restore round trip keeps every MSR and the TSC phase', () => {
    const a = new MsrFile(2);
    a.write(0x10, 0x89abcdef, 0, 1000);
    a.write(0x174, 0x0008, 0, 0);
    a.write(0x175, 0xcafe0000 | 0, 0, 0);
    a.write(0x176, 0xc0001000 | 0, 0, 0);
    a.write(0x8b, 0x11, 0x22, 0);
    const saved = a.save();
    const b = new MsrFile(2);
    b.restore(JSON.parse(JSON.stringify(saved)));
    expect(b.save()).toEqual(saved);
    for (const index of [0x10, 0x17, 0x8b, 0x174, 0x175, 0x176]) {
      expect(a.read(index, 5000)).toBe(true);
      const [lo, hi] = [a.lo, a.hi];
      expect(b.read(index, 5000)).toBe(true);
      expect([b.lo, b.hi], `MSR ${index.toString(16)}`).toEqual([lo, hi]);
    }
  });

  it('restore validates every field and leaves the file unchanged on error', () => {
    const m = new MsrFile();
    m.write(0x174, 0x10, 0, 0);
    const good = m.save();
    const bad: [string, unknown][] = [
      ['version', 2], ['tscOffsetLo', -1], ['tscOffsetHi', 2 ** 32], ['sysenterCs', 'x'],
      ['sysenterEsp', 1.5], ['sysenterEip', undefined], ['biosSignIdLo', null], ['biosSignIdHi', -3],
      ['ticksPerInstruction', 4],
    ];
    for (const [field, value] of bad) {
      expect(() => m.restore({ ...good, [field]: value }), field).toThrow(StateError);
      expect(() => m.restore({ ...good, [field]: value }), field).toThrow(new RegExp(field));
      expect(m.save()).toEqual(good);
    }
    expect(() => m.restore(null)).toThrow(StateError);
  });
});

describe('RDMSR / WRMSR', () => {
  /** A stand-in local APIC owning IA32_APIC_BASE: accepts only the default base, BSP and enable bits. */
  function fakeApic(initial: number) {
    const apic = {
      value: initial,
      readApicBaseMsr: () => apic.value,
      writeApicBaseMsr: (lo: number, hi: number) => {
        if (hi !== 0 || (lo & ~0xfffff900) !== 0) return false;
        apic.value = lo;
        return true;
      },
    };
    return apic;
  }

  it('IA32_APIC_BASE (1Bh) goes to the attached APIC; without one it is #GP, and CPUID.1 APIC follows its enable bit', () => {
    const withoutApic = boot([...mov32(ECX, 0x1b), ...RDMSR, HLT]);
    expect(runToFault(withoutApic, VEC_GP).ip).toBe(6);

    const readBack = boot([...mov32(ECX, 0x1b), ...RDMSR, HLT]);
    readBack.cpu.msr.apicBase = fakeApic(0xfee00900);
    runToCodeHalt(readBack);
    expect(edxEax(readBack)).toBe(0xfee00900n);

    const apic = fakeApic(0xfee00900);
    const disable = boot([...mov32(ECX, 0x1b), ...mov32(EAX, 0xfee00100), ...mov32(EDX, 0), ...WRMSR, ...mov32(EAX, 1), ...CPUID, HLT]);
    disable.cpu.msr.apicBase = apic;
    runToCodeHalt(disable);
    expect(apic.value).toBe(0xfee00100);
    expect(u32(disable, EDX) & (1 << 9)).toBe(0);

    const enabled = boot([...mov32(EAX, 1), ...CPUID, HLT]);
    enabled.cpu.msr.apicBase = fakeApic(0xfee00900);
    runToCodeHalt(enabled);
    expect(u32(enabled, EDX) & (1 << 9)).toBe(1 << 9);

    const refused = boot([...mov32(ECX, 0x1b), ...mov32(EAX, 0xfee00901), ...mov32(EDX, 0), ...WRMSR, HLT]);
    refused.cpu.msr.apicBase = fakeApic(0xfee00900);
    expect(runToFault(refused, VEC_GP).ip).toBe(18);
  });

  it('SYSENTER MSRs keep bits 31:0; the high dword is ignored on write and reads 0', () => {
    for (const index of [0x174, 0x175, 0x176]) {
      const vm = run([...mov32(ECX, index), ...mov32(EAX, 0x89abcdef), ...mov32(EDX, 0xffffffff), ...WRMSR,
        ...mov32(EAX, 0), ...mov32(EDX, 0x5555), ...RDMSR]);
      expect(u32(vm, EAX), index.toString(16)).toBe(0x89abcdef);
      expect(u32(vm, EDX), index.toString(16)).toBe(0);
      expect(vm.cpu.msr.read(index, 0)).toBe(true);
    }
  });

  it('IA32_PLATFORM_ID reads 0 and is read-only (#GP on write)', () => {
    const vm = run([...mov32(ECX, 0x17), ...mov32(EAX, -1), ...mov32(EDX, -1), ...RDMSR]);
    expect(edxEax(vm)).toBe(0n);
    const w = boot([...mov32(ECX, 0x17), ...WRMSR, HLT]);
    expect(runToFault(w, VEC_GP).ip).toBe(6);
  });

  it('IA32_BIOS_SIGN_ID accepts writes; after CPUID(1) it reads microcode revision 0', () => {
    const write = [...mov32(ECX, 0x8b), ...mov32(EAX, 0x33334444), ...mov32(EDX, 0x11112222), ...WRMSR];
    const before = run([...write, ...RDMSR]);
    expect(edxEax(before)).toBe(0x1111222233334444n);
    // Linux's sequence: wrmsr(8Bh, 0); cpuid(1); rdmsr(8Bh).
    const after = run([...write, ...mov32(EAX, 1), ...CPUID, ...mov32(ECX, 0x8b), ...RDMSR]);
    expect(edxEax(after)).toBe(0n);
    // CPUID with another leaf leaves it alone.
    const other = run([...write, ...mov32(EAX, 0), ...CPUID, ...mov32(ECX, 0x8b), ...RDMSR]);
    expect(edxEax(other)).toBe(0x1111222233334444n);
  });

  it('#GP(0) for every MSR we do not implement, on read and on write, with registers unchanged', () => {
    const absent = [
      0x0, 0x1, 0x1b /* APIC base: issue 4 */, 0x2a, 0x79, 0x88, 0xc1, 0xc2, 0xfe /* MTRRcap */, 0x179, 0x17a, 0x17b,
      0x186, 0x187, 0x1a0 /* MISC_ENABLE: not on P6 */, 0x1d9, 0x200, 0x2ff, 0x277 /* PAT */, 0x400,
      0xc0000080 /* EFER */, 0xc0000081, 0xffffffff, 0x10010,
    ];
    for (const index of absent) {
      for (const [name, insn] of [['RDMSR', RDMSR], ['WRMSR', WRMSR]] as const) {
        const vm = boot([...mov32(ECX, index), ...insn, HLT], { regs32: { [EAX]: 0x0badf00d, [EDX]: 0x0ddba11 } });
        const frame = runToFault(vm, VEC_GP);
        expect(frame.ip, `${name} ${index.toString(16)}`).toBe(6);
        expect(u32(vm, EAX)).toBe(0x0badf00d);
        expect(u32(vm, EDX)).toBe(0x0ddba11);
      }
    }
  });
});

const FLAT_CODE0 = 0xc09b, FLAT_DATA0 = 0xc093, FLAT_CODE3 = 0xc0fb, FLAT_DATA3 = 0xc0f3;
const KERNEL_ESP = 0x8000;

/** Ring-3 entry: IRET to CODE3:label on the ring-3 stack (pm-machine layout). */
function toRing3(label: string, eflags = 0x202): string {
  return `
  push dword ${DATA3}
  push dword ${STACK3}
  push dword 0x${eflags.toString(16)}
  push dword ${CODE3}
  push dword ${label}
  iretd`;
}

/**
 * Ring-0 code programming the SYSENTER MSRs: SYSENTER_CS = CODE0 (so SYSENTER's SS is DATA0
 * and SYSEXIT's CS/SS are CODE3/DATA3, matching the pm-machine GDT), ESP = KERNEL_ESP,
 * EIP = `entry`.
 */
function sysenterSetup(entry: string, cs = CODE0): string {
  return `
  mov ecx, 0x174
  mov eax, ${cs}
  xor edx, edx
  wrmsr
  mov ecx, 0x175
  mov eax, ${KERNEL_ESP}
  wrmsr
  mov ecx, 0x176
  mov eax, ${entry}
  wrmsr`;
}

/**
 * Ring 0 programs the MSRs, sets IF and halts just before SYSEXIT to `user` (ring 3), which
 * records CS, SS, ESP and EFLAGS in AX, DX, EDI, ECX, sets CF and EBP, and does SYSENTER to
 * `kentry`, which records ESP and EFLAGS in ESI, EBX and halts at ring 0.
 */
function sysenterRoundTrip(): BareCpu {
  return bootProtected(`
${sysenterSetup('kentry')}
  mov edx, user
  mov ecx, ${STACK3}
  sti
  hlt
  sysexit
user:
  mov ebp, 0x4321
  mov ax, cs
  mov dx, ss
  mov edi, esp
  pushfd
  pop ecx
  stc
  sysenter
kentry:
  mov esi, esp
  pushfd
  pop ebx
  hlt`);
}

function expectFlatSegments(vm: BareCpu, cs: number, ss: number, codeAttr: number, dataAttr: number): void {
  const { cpu } = vm;
  expect(cpu.segSel[SEG_CS]).toBe(cs);
  expect(cpu.segSel[SEG_SS]).toBe(ss);
  for (const seg of [SEG_CS, SEG_SS]) {
    expect(cpu.segBase[seg]).toBe(0);
    expect(cpu.segLimit[seg]).toBe(0xffffffff);
  }
  expect(cpu.segAttr[SEG_CS].toString(16)).toBe(codeAttr.toString(16));
  expect(cpu.segAttr[SEG_SS].toString(16)).toBe(dataAttr.toString(16));
  expect(cpu.ipMask).toBe(-1);
  expect(cpu.stackMask).toBe(-1);
}

describe('SYSENTER / SYSEXIT (protected mode through the pm-machine helper)', () => {
  it('round trip: SYSEXIT to flat CPL-3 at EDX/ECX, SYSENTER to flat CPL-0 with IF/RF cleared', () => {
    const vm = sysenterRoundTrip();
    const { cpu } = vm;
    expect(runProtected(vm)).toBe(-1); // the HLT before SYSEXIT
    expect(cpu.cpl).toBe(0);
    const userEip = u32(vm, EDX);
    cpu.halted = false;
    expect(cpu.run(2)).toBe(RunExit.Budget); // sysexit; mov ebp, 0x4321
    expectFlatSegments(vm, CODE3, DATA3, FLAT_CODE3, FLAT_DATA3);
    expect(cpu.cpl).toBe(3);
    expect(u32(vm, ESP)).toBe(STACK3);
    expect(cpu.eip >>> 0).toBe(userEip + 5);
    expect(cpu.getFlags() & FLAG_IF, 'SYSEXIT leaves EFLAGS alone').toBe(FLAG_IF);

    expect(runProtected(vm)).toBe(-1); // ... sysenter; kentry: ...; hlt
    expectFlatSegments(vm, CODE0, DATA0, FLAT_CODE0, FLAT_DATA0);
    expect(cpu.cpl).toBe(0);
    expect(u16(vm, EAX), 'CS seen at ring 3').toBe(CODE3);
    expect(u16(vm, EDX), 'SS seen at ring 3').toBe(DATA3);
    expect(u32(vm, EDI), 'ESP at ring 3').toBe(STACK3);
    expect(u32(vm, ECX) & FLAG_IF, 'IF at ring 3').toBe(FLAG_IF);
    expect(u32(vm, EBP)).toBe(0x4321);
    expect(u32(vm, ESI), 'ESP after SYSENTER').toBe(KERNEL_ESP);
    expect(u32(vm, EBX) & (FLAG_IF | FLAG_RF | FLAG_VM), 'EFLAGS after SYSENTER').toBe(0);
    expect(u32(vm, EBX) & FLAG_CF, 'CF kept').toBe(FLAG_CF);
    expect(vm.memory.read32(KERNEL_ESP - 4) >>> 0, 'pushed on the flat kernel stack').toBe(u32(vm, EBX));
  });

  it('SYSENTER forces RPL 0 and derives SS from SYSENTER_CS; high MSR halves are ignored', () => {
    const vm = bootProtected(`
  mov ecx, 0x174
  mov eax, 0x0063
  mov edx, 0xffffffff
  wrmsr
  mov ecx, 0x175
  mov eax, 0x7000
  wrmsr
  mov ecx, 0x176
  mov eax, kentry
  wrmsr
  sysenter
  hlt
kentry:
  hlt`);
    expect(runProtected(vm)).toBe(-1);
    expect(vm.cpu.segSel[SEG_CS]).toBe(0x60);
    expect(vm.cpu.segSel[SEG_SS]).toBe(0x68);
    expect(u32(vm, ESP)).toBe(0x7000);
  });

  it('SYSENTER from virtual-8086 mode clears VM and IF and lands at CPL 0', () => {
    const vm = bootProtected(`
${sysenterSetup('kentry')}
  push dword 0        ; GS
  push dword 0        ; FS
  push dword 0x2000   ; DS
  push dword 0        ; ES
  push dword 0x3000   ; SS
  push dword 0x0ff0   ; ESP
  push dword 0x20203  ; EFLAGS: VM, IF, CF, IOPL 0
  push dword 0x1100   ; CS
  push dword 0        ; EIP
  iretd
kentry:
  pushfd
  pop ebx
  hlt`);
    vm.memory.writeBytes(0x11000, Uint8Array.from(SYSENTER));
    expect(runProtected(vm)).toBe(-1);
    expect(vm.cpu.cpl).toBe(0);
    expectFlatSegments(vm, CODE0, DATA0, FLAT_CODE0, FLAT_DATA0);
    expect(u32(vm, EBX) & (FLAG_VM | FLAG_IF)).toBe(0);
    expect(u32(vm, EBX) & FLAG_CF).toBe(FLAG_CF);
    expect(u32(vm, ESP)).toBe(KERNEL_ESP);
  });

  it('#GP(0) in real mode (SYSENTER and SYSEXIT)', () => {
    for (const insn of [SYSENTER, SYSEXIT]) {
      const vm = boot([...mov32(ECX, 0x174), ...mov32(EAX, 0x10), ...mov32(EDX, 0), ...WRMSR, ...insn, HLT], { regs: { flags: 0x0202 } });
      expect(runToFault(vm, VEC_GP).ip).toBe(6 * 3 + 2);
      expect(vm.cpu.segSel[SEG_CS]).toBe(0);
    }
  });

  it('#GP(0) when SYSENTER_CS[15:2] = 0 (SYSENTER and SYSEXIT, CPL 0)', () => {
    for (const insn of ['sysenter', 'sysexit']) {
      for (const cs of [0, 3]) {
        const vm = bootProtected(`${sysenterSetup('0x10000', cs)}\n  mov edi, fault\nfault:\n  ${insn}\n  hlt`);
        expect(runProtected(vm), `${insn} with SYSENTER_CS ${cs}`).toBe(VEC_GP);
        expect(stackDword(vm, 0), 'error code').toBe(0);
        expect(stackDword(vm, 1), 'faulting EIP').toBe(u32(vm, EDI));
        expect(stackDword(vm, 2)).toBe(CODE0);
      }
    }
  });
});

describe('privileged at CPL 3 (ring 3 through IRET, faults through the IDT)', () => {
  /** Ring 0 runs `setup`, enters ring 3, which runs `pre` and then `insn` (EDI = its address). */
  function ring3(insn: string, pre = '', setup = ''): BareCpu {
    return bootProtected(`${setup}\n${toRing3('user')}\nuser:\n${pre}\n  mov edi, fault\nfault:\n  ${insn}\n  mov edi, after\nafter:\n  hlt`);
  }
  const cases: [string, string, string, string][] = [
    ['RDMSR of an existing MSR', 'rdmsr', 'mov ecx, 0x10', ''],
    ['WRMSR of an existing MSR', 'wrmsr', 'mov ecx, 0x174', ''],
    ['RDTSC with CR4.TSD', 'rdtsc', '', 'mov eax, cr4\n  or eax, 4\n  mov cr4, eax'],
    ['RDPMC with CR4.PCE clear', 'rdpmc', 'xor ecx, ecx', ''],
    ['RDPMC with CR4.PCE set (no counters)', 'rdpmc', 'xor ecx, ecx', 'mov eax, cr4\n  or eax, 0x100\n  mov cr4, eax'],
    ['INVD', 'invd', '', ''],
    ['WBINVD', 'wbinvd', '', ''],
    ['SYSEXIT', 'sysexit', 'mov edx, user\n  mov ecx, 0x30000', sysenterSetup('0x10000')],
  ];
  for (const [name, insn, pre, setup] of cases) {
    it(`${name}: #GP(0) at the instruction, EAX unchanged`, () => {
      const vm = ring3(insn, `${pre}\n  mov eax, 0x1111`, setup);
      expect(runProtected(vm)).toBe(VEC_GP);
      expect(stackDword(vm, 0), 'error code').toBe(0);
      expect(stackDword(vm, 1), 'faulting EIP').toBe(u32(vm, EDI));
      expect(stackDword(vm, 2), 'from ring 3').toBe(CODE3);
      expect(u32(vm, EAX)).toBe(0x1111);
      expect(vm.cpu.cpl).toBe(0);
    });
  }

  it('RDTSC (CR4.TSD clear) and CPUID are allowed at CPL 3', () => {
    for (const insn of ['rdtsc', 'cpuid']) {
      const vm = ring3(insn, 'xor eax, eax');
      // The only #GP is the final HLT's (EDI points past the instruction under test).
      expect(runProtected(vm)).toBe(VEC_GP);
      expect(stackDword(vm, 1)).toBe(u32(vm, EDI));
      expect(stackDword(vm, 2)).toBe(CODE3);
      if (insn === 'cpuid') expect(u32(vm, EAX)).toBe(CPUID_MAX_LEAF);
      else expect(u32(vm, EAX)).toBeGreaterThan(0);
    }
  });

  it('RDMSR in virtual-8086 mode (CPL 3) is #GP(0)', () => {
    const vm = bootProtected(`
  push dword 0
  push dword 0
  push dword 0
  push dword 0
  push dword 0x3000
  push dword 0x0ff0
  push dword 0x20002
  push dword 0x1100
  push dword 0
  iretd`);
    vm.memory.writeBytes(0x11000, Uint8Array.from([...mov32(ECX, 0x10), ...RDMSR, HLT]));
    expect(runProtected(vm)).toBe(VEC_GP);
    expect(stackDword(vm, 0)).toBe(0);
    expect(stackDword(vm, 1)).toBe(6);
    expect(stackDword(vm, 2)).toBe(0x1100);
    expect(stackDword(vm, 3) & FLAG_VM).toBe(FLAG_VM);
  });
});

describe('CMPXCHG8B', () => {
  const M = 0x100;
  /** cmpxchg8b [0x100] with the qword there and the registers given. */
  function cx8(mem: bigint, eax: number, edx: number, prefix: number[] = [], flags = 0x0002, before: number[] = []): BareCpu {
    const vm = boot([...before, ...prefix, 0x0f, 0xc7, 0x0e, M & 0xff, M >> 8, HLT],
      { regs32: { [EAX]: eax, [EDX]: edx, [EBX]: 0x33333333, [ECX]: 0x44444444 }, regs: { flags } });
    vm.memory.write32(DATA_BASE + M, Number(mem & 0xffffffffn));
    vm.memory.write32(DATA_BASE + M + 4, Number(mem >> 32n));
    runToCodeHalt(vm);
    return vm;
  }

  it('equal: stores ECX:EBX, sets ZF, leaves EDX:EAX', () => {
    const vm = cx8(0x1111111122222222n, 0x22222222, 0x11111111);
    expect(qword(vm, M)).toBe(0x4444444433333333n);
    expect(vm.cpu.getFlags() & FLAG_ZF).toBe(FLAG_ZF);
    expect(u32(vm, EAX)).toBe(0x22222222);
    expect(u32(vm, EDX)).toBe(0x11111111);
  });

  it('different (in either half): loads m64 into EDX:EAX, clears ZF, memory keeps its value', () => {
    for (const [eax, edx] of [[0x22222222, 0x11111110], [0x22222223, 0x11111111], [0, 0]]) {
      const vm = cx8(0x1111111122222222n, eax, edx, [], 0x0002 | FLAG_ZF);
      expect(qword(vm, M)).toBe(0x1111111122222222n);
      expect(vm.cpu.getFlags() & FLAG_ZF).toBe(0);
      expect(u32(vm, EAX)).toBe(0x22222222);
      expect(u32(vm, EDX)).toBe(0x11111111);
    }
  });

  it('changes only ZF: other status flags survive, including lazily computed ones', () => {
    const others = FLAG_CF | FLAG_PF | FLAG_AF | FLAG_SF | FLAG_OF;
    const eager = cx8(5n, 5, 0, [], 0x0002 | others);
    expect(eager.cpu.getFlags() & 0x8d5).toBe(others | FLAG_ZF);
    // mov al, 0FFh; add al, 1 -> CF, ZF, AF, PF set (lazily); then a failing compare clears only ZF.
    const lazy = cx8(5n, 4, 0, [], 0x0002, [0xb0, 0xff, 0x04, 0x01]);
    expect(lazy.cpu.getFlags() & 0x8d5).toBe(FLAG_CF | FLAG_AF | FLAG_PF);
    // mov al, 7Fh; add al, 1 -> OF, SF, AF set; a succeeding compare sets ZF and keeps them.
    const lazy2 = cx8(0x80n, 0x80, 0, [], 0x0002, [0xb0, 0x7f, 0x04, 0x01]);
    expect(lazy2.cpu.getFlags() & 0x8d5).toBe(FLAG_OF | FLAG_SF | FLAG_AF | FLAG_ZF);
  });

  it('accepts LOCK', () => {
    const vm = cx8(7n, 7, 0, [0xf0]);
    expect(qword(vm, M)).toBe(0x4444444433333333n);
  });

  it('#UD for a register operand (with or without LOCK) and for the other 0F C7 /r', () => {
    for (const code of [[0x0f, 0xc7, 0xc9], [0xf0, 0x0f, 0xc7, 0xc9], [0x0f, 0xc7, 0x06, 0, 1], [0x0f, 0xc7, 0x3e, 0, 1]]) {
      const vm = boot([...code, HLT]);
      expect(runToFault(vm, VEC_UD).ip, code.map((b) => b.toString(16)).join(' ')).toBe(0);
    }
  });

  it('#GP when the 8 bytes pass the segment limit; nothing changes', () => {
    const vm = boot([0x0f, 0xc7, 0x0e, 0xf9, 0xff, HLT], { regs32: { [EAX]: 1, [EDX]: 2 } });
    expect(runToFault(vm, VEC_GP).ip).toBe(0);
    expect(u32(vm, EAX)).toBe(1);
    expect(u32(vm, EDX)).toBe(2);
  });
  it('#GP(0) for a read-only data segment, whether or not the compare succeeds', () => {
    for (const equal of [true, false]) {
      const vm = bootProtected(`
  mov ax, 0x40
  mov ds, ax
  xor eax, eax
  mov edx, ${equal ? 0 : 1}
  mov edi, fault
fault:
  cmpxchg8b [0x20000]
  hlt`);
      setDescriptor(vm, GDT, 8, 0, 0xfffff, 0x90); // present, DPL 0, data, read-only
      expect(runProtected(vm)).toBe(VEC_GP);
      expect(stackDword(vm, 0)).toBe(0);
      expect(stackDword(vm, 1)).toBe(u32(vm, EDI));
      expect(u32(vm, EDX)).toBe(equal ? 0 : 1);
    }
  });

  it('a read-only page under either half faults (#PF) before anything is stored, in both outcomes', () => {
    // Paging with CR0.WP: identity map of the first 4 MiB, one page read-only.
    const paged = (readOnlyPage: number, at: number, equal: boolean) => bootProtected(`
  mov edi, 0x301000
  mov eax, 7
  mov ecx, 1024
fill:
  mov [edi], eax
  add eax, 0x1000
  add edi, 4
  loop fill
  mov dword [0x301000 + ${readOnlyPage} * 4], (${readOnlyPage} << 12) | 5
  mov dword [0x300000], 0x301007
  mov eax, 0x300000
  mov cr3, eax
  mov eax, cr0
  or eax, 0x80010000
  mov cr0, eax
  mov eax, ${equal ? '[' + at + ']' : '0x5a5a5a5a'}
  mov edx, [${at} + 4]
  mov ebx, 0x33333333
  mov ecx, 0x44444444
  cmp eax, eax
  mov edi, fault
fault:
  cmpxchg8b [${at}]
  hlt`);
    for (const at of [0x20ff8 + 4, 0x20ffa, 0x20ffe, 0x20ff9, 0x20fff]) {
      for (const readOnlyPage of [0x20, 0x21]) {
        for (const equal of [true, false]) {
          const vm = paged(readOnlyPage, at, equal);
          vm.memory.write32(at, 0x04030201);
          vm.memory.write32(at + 4, 0x08070605);
          const before = [0, 4].map((k) => vm.memory.read32(at + k));
          const name = `at ${at.toString(16)}, page ${readOnlyPage.toString(16)} read-only, ${equal ? 'equal' : 'different'}`;
          expect(runProtected(vm), name).toBe(14);
          expect(stackDword(vm, 0) & 3, `${name}: error code P|W`).toBe(3);
          expect(stackDword(vm, 1), `${name}: faulting EIP`).toBe(u32(vm, EDI));
          expect(vm.cpu.cr2 >>> 12, `${name}: CR2 page`).toBe(readOnlyPage);
          expect([0, 4].map((k) => vm.memory.read32(at + k)), name).toEqual(before);
          expect(vm.cpu.getFlags() & FLAG_ZF, name).toBe(FLAG_ZF); // from the CMP, untouched
        }
      }
    }
  });
});

describe('multi-byte and reserved NOPs (0F 19-1F)', () => {
  const FORMS: [string, number[]][] = [
    ['nop ax', [0x0f, 0x1f, 0xc0]],
    ['nop [bx+si]', [0x0f, 0x1f, 0x00]],
    ['nop [disp16]', [0x0f, 0x1f, 0x06, 0x34, 0x12]],
    ['nop [bx+si+disp8]', [0x0f, 0x1f, 0x40, 0x7f]],
    ['nop [bx+si+disp16]', [0x0f, 0x1f, 0x80, 0x34, 0x12]],
    ['nop [bp+0]', [0x0f, 0x1f, 0x46, 0x00]],
    ['o32 nop [bx+si]', [0x66, 0x0f, 0x1f, 0x00]],
    ['a32 nop [eax]', [0x67, 0x0f, 0x1f, 0x00]],
    ['a32 nop [eax+disp8]', [0x67, 0x0f, 0x1f, 0x40, 0x00]],
    ['a32 nop [eax+eax+disp8]', [0x67, 0x0f, 0x1f, 0x44, 0x00, 0x00]],
    ['o32 a32 nop [eax+eax+disp8]', [0x66, 0x67, 0x0f, 0x1f, 0x44, 0x00, 0x00]],
    ['a32 nop [eax+disp32]', [0x67, 0x0f, 0x1f, 0x80, 0, 0, 0, 0]],
    ['a32 nop [eax+eax+disp32]', [0x67, 0x0f, 0x1f, 0x84, 0x00, 0, 0, 0, 0]],
    ['a32 nop [disp32] via SIB', [0x67, 0x0f, 0x1f, 0x04, 0x25, 0, 0, 0, 0]],
    ['a32 nop [0FFFFFFF0h] (past the limit: no access)', [0x67, 0x0f, 0x1f, 0x05, 0xf0, 0xff, 0xff, 0xff]],
    ['cs nop [si+disp16]', [0x2e, 0x0f, 0x1f, 0x84, 0x00, 0x00]],
    ['0F 1F /7', [0x0f, 0x1f, 0x38]],
    ['0F 1F /3 reg', [0x0f, 0x1f, 0xdb]],
    ...[0x19, 0x1a, 0x1b, 0x1c, 0x1d, 0x1e].map((op): [string, number[]] => [`0F ${op.toString(16)} [0FFFFh]`, [0x0f, op, 0x06, 0xff, 0xff]]),
  ];

  for (const [name, bytes] of FORMS) {
    it(`${name}: ${bytes.length} bytes, nothing changes`, () => {
      const regs32 = { [EAX]: 0x11, [ECX]: 0x22, [EDX]: 0x33, [EBX]: 0x44, [EBP]: 0x66, [ESI]: 0x77, [EDI]: 0x88 };
      const vm = boot([...bytes, HLT], { regs32, regs: { flags: 0x0002 | FLAG_CF | FLAG_ZF } });
      runToCodeHalt(vm, bytes.length + 1);
      for (const [r, v] of Object.entries(regs32)) expect(u32(vm, Number(r))).toBe(v);
      expect(vm.cpu.getFlags() & 0x8d5).toBe(FLAG_CF | FLAG_ZF);
    });
  }

  it('a run of all forms decodes back to back', () => {
    const all = FORMS.flatMap(([, b]) => b);
    const vm = boot([...all, HLT]);
    runToCodeHalt(vm, all.length + 1);
    expect(vm.cpu.instructionCount).toBe(FORMS.length + 1);
  });

  it('LOCK NOP Ev is #UD', () => {
    expect(runToFault(boot([0xf0, 0x0f, 0x1f, 0x00, HLT]), VEC_UD).ip).toBe(0);
  });
});

describe('other 0F odds', () => {
  it('UD2, 0F 18 (no SSE), 0F 0D, SYSCALL/SYSRET (AMD) are #UD', () => {
    for (const code of [[0x0f, 0x0b], [0x0f, 0x18, 0x06, 0, 0], [0x0f, 0x0d, 0x06, 0, 0], [0x0f, 0x05], [0x0f, 0x07]]) {
      const vm = boot([NOP, ...code, HLT]);
      expect(runToFault(vm, VEC_UD).ip, code.map((b) => b.toString(16)).join(' ')).toBe(1);
    }
  });

  it('RDPMC: #GP(0) for every counter (none implemented), at CPL 0 too', () => {
    for (const ecx of [0, 1, 2, 0x40000000]) {
      const vm = boot([...mov32(ECX, ecx), ...RDPMC, HLT]);
      expect(runToFault(vm, VEC_GP).ip).toBe(6);
    }
  });

  it('INVD/WBINVD run at CPL 0', () => {
    for (const op of [0x08, 0x09]) runToCodeHalt(boot([0x0f, op, HLT]), 3);
  });
});
