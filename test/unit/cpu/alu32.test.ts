/**
 * 32-bit operand forms of the real-mode CPU reached through the 66h prefix
 * (src/cpu/ops/alu.ts, muldiv.ts, shift.ts, bits.ts, data.ts, stack.ts, flags.ts):
 * exact status flags of ADD/ADC/SUB/SBB/CMP at boundary values, 32x32->64 multiply and
 * 64/32 divide with #DE, shifts and rotates at counts 0/1/31, double shifts, bit tests with
 * out-of-operand and negative offsets, bit scans, BSWAP, MOVZX/MOVSX, CMPXCHG, XADD,
 * CWDE/CDQ, SETcc, CMOVcc, ENTER/LEAVE, PUSHA/POPA and PUSHF/POPF.
 * SDM vol. 2 instruction pages; vol. 1 §3.4.3 (EFLAGS).
 */
import { describe, expect, it } from 'vitest';
import {
  FLAG_AC, FLAG_AF, FLAG_CF, FLAG_DF, FLAG_ID, FLAG_IF, FLAG_IOPL, FLAG_NT, FLAG_OF, FLAG_PF, FLAG_RF, FLAG_SF,
  FLAG_VM, FLAG_ZF, STATUS_FLAGS,
} from '../../../src/cpu/flags.js';
import {
  boot, runToCodeHalt, runToFault, u16, u32, CODE_SEG, DATA_BASE, EAX, EBP, EBX, ECX, EDI, EDX, ESI, ESP,
} from '../../helpers/cpu-program.js';
import type { BareCpu } from '../../helpers/real-mode-cpu.js';

const HLT = 0xf4;
const F = 0x0002;
const SS_BASE = 0x8000;

/** Run `code` + HLT with the given 32-bit registers and FLAGS; returns the machine. */
function exec(code: readonly number[], regs32: Partial<Record<number, number>> = {}, flagsIn = F, regs16: Record<string, number> = {}): BareCpu {
  const vm = boot([...code, HLT], { regs: { ...regs16, flags: flagsIn }, regs32 });
  runToCodeHalt(vm, code.length + 1);
  return vm;
}
const status = (vm: BareCpu) => vm.cpu.getFlags() & STATUS_FLAGS;

describe('ADD/ADC/SUB/SBB/CMP r32 flags', () => {
  const OPS = {
    add: [0x66, 0x01, 0xd8], // add eax, ebx
    adc: [0x66, 0x11, 0xd8], // adc eax, ebx
    sub: [0x66, 0x29, 0xd8], // sub eax, ebx
    sbb: [0x66, 0x19, 0xd8], // sbb eax, ebx
    cmp: [0x66, 0x39, 0xd8], // cmp eax, ebx
  } as const;
  type Op = keyof typeof OPS;

  /** Reference semantics (SDM): result and the six status flags. */
  function reference(op: Op, a: number, b: number, cin: number): { res: number; flags: number } {
    const carry = op === 'adc' || op === 'sbb' ? cin : 0;
    const isAdd = op === 'add' || op === 'adc';
    const full = isAdd ? a + b + carry : a - b - carry;
    const res = ((full % 2 ** 32) + 2 ** 32) % 2 ** 32;
    let f = 0;
    if (isAdd ? full >= 2 ** 32 : a < b + carry) f |= FLAG_CF;
    const ov = isAdd ? ((a ^ res) & (b ^ res)) >>> 31 : ((a ^ b) & (a ^ res)) >>> 31;
    if (ov) f |= FLAG_OF;
    if ((a ^ b ^ res) & 0x10) f |= FLAG_AF;
    if (res === 0) f |= FLAG_ZF;
    if (res >>> 31) f |= FLAG_SF;
    let bits = 0;
    for (let v = res & 0xff; v; v >>= 1) bits += v & 1;
    if ((bits & 1) === 0) f |= FLAG_PF;
    return { res, flags: f };
  }

  it('hand-checked anchors', () => {
    const cases: [Op, number, number, number, number, number][] = [
      // op, a, b, CF in, result, flags
      ['add', 0x7fffffff, 1, 0, 0x80000000, FLAG_OF | FLAG_SF | FLAG_AF | FLAG_PF],
      ['add', 0xffffffff, 1, 0, 0, FLAG_CF | FLAG_ZF | FLAG_AF | FLAG_PF],
      ['add', 0x80000000, 0x80000000, 0, 0, FLAG_CF | FLAG_OF | FLAG_ZF | FLAG_PF],
      ['sub', 0, 1, 0, 0xffffffff, FLAG_CF | FLAG_SF | FLAG_AF | FLAG_PF],
      ['sub', 0x80000000, 1, 0, 0x7fffffff, FLAG_OF | FLAG_AF | FLAG_PF],
      ['sbb', 0, 0xffffffff, 1, 0, FLAG_CF | FLAG_ZF | FLAG_AF | FLAG_PF],
      ['adc', 0xffffffff, 0xffffffff, 1, 0xffffffff, FLAG_CF | FLAG_SF | FLAG_AF | FLAG_PF],
      ['adc', 0x7fffffff, 0, 1, 0x80000000, FLAG_OF | FLAG_SF | FLAG_AF | FLAG_PF],
      ['cmp', 1, 0x80000000, 0, 0x80000001, FLAG_CF | FLAG_OF | FLAG_SF],
    ];
    for (const [op, a, b, cin, res, flags] of cases) {
      expect(reference(op, a, b, cin), `model ${op} ${a.toString(16)}, ${b.toString(16)}`).toEqual({ res, flags });
      const vm = exec(OPS[op], { [EAX]: a, [EBX]: b }, F | cin);
      expect(u32(vm, EAX), `${op} result`).toBe(op === 'cmp' ? a : res);
      expect(status(vm), `${op} ${a.toString(16)}, ${b.toString(16)} flags`).toBe(flags);
    }
  });

  const VALUES = [0, 1, 0x7fffffff, 0x80000000, 0xffffffff];
  for (const op of Object.keys(OPS) as Op[]) {
    it(`${op} eax, ebx over all boundary pairs and carry-in values`, () => {
      for (const a of VALUES) {
        for (const b of VALUES) {
          for (const cin of [0, 1]) {
            // The flags that are not inputs start as the complement of the expected ones, to catch stale bits.
            const want = reference(op, a, b, cin);
            const vm = exec(OPS[op], { [EAX]: a, [EBX]: b }, F | cin | (~want.flags & STATUS_FLAGS & ~FLAG_CF));
            const label = `${op} ${a.toString(16)}, ${b.toString(16)} cf=${cin}`;
            expect(u32(vm, EAX), label).toBe(op === 'cmp' ? a : want.res);
            expect(u32(vm, EBX), label).toBe(b);
            expect(status(vm), label).toBe(want.flags);
          }
        }
      }
    });
  }

  it('32-bit immediate and memory forms', () => {
    const code = [
      0x66, 0x81, 0x07, 0xff, 0xff, 0xff, 0x7f, // add dword [bx], 0x7fffffff
      0x66, 0x13, 0x0f, // adc ecx, [bx]
      0x66, 0x83, 0xea, 0xff, // sub edx, byte -1
    ];
    const vm2 = boot([...code, HLT], { regs: { bx: 0x40 }, regs32: { [ECX]: 0x10, [EDX]: 5 } });
    vm2.memory.write32(DATA_BASE + 0x40, 1);
    runToCodeHalt(vm2);
    expect(vm2.memory.read32(DATA_BASE + 0x40)).toBe(0x80000000);
    expect(u32(vm2, ECX)).toBe(0x80000010);
    expect(u32(vm2, EDX)).toBe(6); // 5 - (-1)
    expect(status(vm2) & FLAG_CF).toBe(FLAG_CF); // borrow: 5 < 0xFFFFFFFF
  });
});

describe('MUL/IMUL/DIV/IDIV r32', () => {
  const MUL = [0x66, 0xf7, 0xe3]; // mul ebx
  const IMUL = [0x66, 0xf7, 0xeb]; // imul ebx
  const DIV = [0x66, 0xf7, 0xf3]; // div ebx
  const IDIV = [0x66, 0xf7, 0xfb]; // idiv ebx

  it('MUL gives the 64-bit product in EDX:EAX; CF=OF=(EDX != 0)', () => {
    const cases: [number, number, number, number][] = [
      [0xffffffff, 0xffffffff, 0xfffffffe, 0x00000001],
      [0x10000, 0x10000, 1, 0],
      [0x12345678, 2, 0, 0x2468acf0],
      [0x89abcdef, 0x12345678, 0x09ca39e0, 0xe242d208],
    ];
    for (const [a, b, hi, lo] of cases) {
      const vm = exec(MUL, { [EAX]: a, [EBX]: b, [EDX]: 0x5555 });
      expect([u32(vm, EDX), u32(vm, EAX)]).toEqual([hi, lo]);
      const cfof = hi !== 0 ? FLAG_CF | FLAG_OF : 0;
      expect(status(vm) & (FLAG_CF | FLAG_OF)).toBe(cfof);
    }
  });

  it('IMUL r/m32 gives the signed 64-bit product; CF=OF=(EDX:EAX != sign-extended EAX)', () => {
    const cases: [number, number, number, number, boolean][] = [
      [0xffffffff, 0xffffffff, 0, 1, false], // -1 * -1
      [0x80000000, 0xffffffff, 0, 0x80000000, true], // -2^31 * -1 = 2^31
      [0x7fffffff, 0x7fffffff, 0x3fffffff, 0x00000001, true],
      [0xfffffffe, 0x40000000, 0xffffffff, 0x80000000, false], // -2 * 2^30 = -2^31 fits
      [0x80000000, 0x80000000, 0x40000000, 0, true],
      [3, 0xfffffffb, 0xffffffff, 0xfffffff1, false], // 3 * -5 = -15
    ];
    for (const [a, b, hi, lo, ovf] of cases) {
      const vm = exec(IMUL, { [EAX]: a, [EBX]: b });
      expect([u32(vm, EDX), u32(vm, EAX)], `${a.toString(16)} * ${b.toString(16)}`).toEqual([hi, lo]);
      expect(status(vm) & (FLAG_CF | FLAG_OF)).toBe(ovf ? FLAG_CF | FLAG_OF : 0);
    }
  });

  it('DIV r/m32 divides EDX:EAX', () => {
    const cases: [number, number, number, number, number][] = [
      // edx, eax, divisor, quotient, remainder
      [1, 0, 2, 0x80000000, 0],
      [0xfffffffe, 0xffffffff, 0xffffffff, 0xffffffff, 0xfffffffe],
      [0, 100, 7, 14, 2],
    ];
    for (const [hi, lo, d, q, r] of cases) {
      const vm = exec(DIV, { [EDX]: hi, [EAX]: lo, [EBX]: d });
      expect([u32(vm, EAX), u32(vm, EDX)]).toEqual([q, r]);
    }
  });

  it('IDIV r/m32 truncates toward zero; the remainder has the dividend\'s sign', () => {
    const cases: [number, number, number, number, number][] = [
      [0xffffffff, 0xfffffff9, 2, 0xfffffffd, 0xffffffff], // -7 / 2 = -3 r -1
      [0, 7, 0xfffffffe, 0xfffffffd, 1], // 7 / -2 = -3 r 1
      [0xffffffff, 0x80000000, 1, 0x80000000, 0], // -2^31 / 1
      [0, 0x80000000, 0xffffffff, 0x80000000, 0], // 2^31 / -1 = -2^31 fits
      [0x00000001, 0x00000000, 0x00010000, 0x00010000, 0], // 2^32 / 2^16
    ];
    for (const [hi, lo, d, q, r] of cases) {
      const vm = exec(IDIV, { [EDX]: hi, [EAX]: lo, [EBX]: d });
      expect([u32(vm, EAX), u32(vm, EDX)], `${hi.toString(16)}:${lo.toString(16)} / ${d.toString(16)}`).toEqual([q, r]);
    }
  });

  it('#DE on divide by zero and on quotient overflow, registers unchanged, faulting IP pushed', () => {
    const cases: [number[], number, number, number][] = [
      [DIV, 0, 5, 0],
      [DIV, 2, 0, 2], // quotient >= 2^32
      [DIV, 0xffffffff, 0xffffffff, 0xffffffff],
      [IDIV, 0, 5, 0],
      [IDIV, 0xffffffff, 0x80000000, 0xffffffff], // -2^31 / -1
      [IDIV, 0x80000000, 0, 0xffffffff], // -2^63 / -1
      [IDIV, 0x40000000, 0, 2], // 2^62 / 2
    ];
    for (const [op, hi, lo, d] of cases) {
      const vm = boot([0x90, ...op, HLT], { regs32: { [EDX]: hi, [EAX]: lo, [EBX]: d } }); // nop; div/idiv ebx
      const frame = runToFault(vm, 0);
      expect(frame.ip).toBe(1);
      expect(frame.cs).toBe(CODE_SEG);
      expect([u32(vm, EDX), u32(vm, EAX), u32(vm, EBX)]).toEqual([hi, lo, d]);
    }
  });

  it('IMUL two- and three-operand forms truncate and flag overflow', () => {
    const three = [
      0x66, 0x69, 0xc3, 0x78, 0x56, 0x34, 0x12, // imul eax, ebx, 0x12345678
    ];
    let vm = exec(three, { [EBX]: 0x10 });
    expect(u32(vm, EAX)).toBe(0x23456780);
    expect(status(vm) & (FLAG_CF | FLAG_OF)).toBe(FLAG_CF | FLAG_OF);

    const threeMem = [
      0x66, 0x6b, 0x0f, 0xfd, // imul ecx, [bx], -3
    ];
    vm = boot([...threeMem, HLT], { regs: { bx: 0x40 } });
    vm.memory.write32(DATA_BASE + 0x40, 0x11111111);
    runToCodeHalt(vm);
    expect(u32(vm, ECX)).toBe(0xcccccccd);
    expect(status(vm) & (FLAG_CF | FLAG_OF)).toBe(0);

    const two = [
      0x66, 0x0f, 0xaf, 0xd3, // imul edx, ebx
    ];
    vm = exec(two, { [EDX]: 0x10000, [EBX]: 0x8000 });
    expect(u32(vm, EDX)).toBe(0x80000000);
    expect(status(vm) & (FLAG_CF | FLAG_OF)).toBe(FLAG_CF | FLAG_OF);
    vm = exec(two, { [EDX]: 0xffff0000, [EBX]: 0x8000 });
    expect(u32(vm, EDX)).toBe(0x80000000);
    expect(status(vm) & (FLAG_CF | FLAG_OF)).toBe(0);
  });
});

describe('shifts and rotates r32', () => {
  const ALL = FLAG_CF | FLAG_PF | FLAG_AF | FLAG_ZF | FLAG_SF | FLAG_OF;
  it('a count of 0 changes neither the operand nor any flag', () => {
    const code = [
      0x66, 0xc1, 0xe0, 0x00, // shl eax, 0
      0x66, 0xc1, 0xfb, 0x00, // sar ebx, 0
      0x66, 0xc1, 0xd1, 0x00, // rcl ecx, 0
      0x66, 0xd3, 0xea, // shr edx, cl
    ];
    for (const flagsIn of [F, F | ALL]) {
      const vm = exec(code, { [EAX]: 0x80000001, [EBX]: 0x80000000, [ECX]: 0x12345620, [EDX]: 0x55 }, flagsIn);
      expect([u32(vm, EAX), u32(vm, EBX), u32(vm, ECX), u32(vm, EDX)]).toEqual([0x80000001, 0x80000000, 0x12345620, 0x55]);
      expect(vm.cpu.getFlags() & 0xfff).toBe(flagsIn);
    }
  });

  const cases: { asm: string; bytes: number[]; input: number; cf: number; out: number; flags: number; mask: number }[] = [
    // mask: the flags defined for the case (OF only for 1-bit shifts)
    { asm: 'shl eax, 1', bytes: [0x66, 0xd1, 0xe0], input: 0x80000001, cf: 0, out: 0x00000002, flags: FLAG_CF | FLAG_OF, mask: FLAG_CF | FLAG_OF | FLAG_ZF | FLAG_SF | FLAG_PF },
    { asm: 'shl eax, 31', bytes: [0x66, 0xc1, 0xe0, 0x1f], input: 0x00000003, cf: 0, out: 0x80000000, flags: FLAG_CF | FLAG_SF | FLAG_PF, mask: FLAG_CF | FLAG_ZF | FLAG_SF | FLAG_PF },
    { asm: 'shr eax, 1', bytes: [0x66, 0xd1, 0xe8], input: 0x80000001, cf: 0, out: 0x40000000, flags: FLAG_CF | FLAG_OF | FLAG_PF, mask: FLAG_CF | FLAG_OF | FLAG_ZF | FLAG_SF | FLAG_PF },
    { asm: 'shr eax, 31', bytes: [0x66, 0xc1, 0xe8, 0x1f], input: 0x80000000, cf: 1, out: 0x00000001, flags: 0, mask: FLAG_CF | FLAG_ZF | FLAG_SF | FLAG_PF },
    { asm: 'sar eax, 1', bytes: [0x66, 0xd1, 0xf8], input: 0x80000001, cf: 0, out: 0xc0000000, flags: FLAG_CF | FLAG_SF | FLAG_PF, mask: FLAG_CF | FLAG_OF | FLAG_ZF | FLAG_SF | FLAG_PF },
    { asm: 'sar eax, 31', bytes: [0x66, 0xc1, 0xf8, 0x1f], input: 0x80000000, cf: 1, out: 0xffffffff, flags: FLAG_SF | FLAG_PF, mask: FLAG_CF | FLAG_ZF | FLAG_SF | FLAG_PF },
    { asm: 'sar eax, 31', bytes: [0x66, 0xc1, 0xf8, 0x1f], input: 0x40000000, cf: 0, out: 0x00000000, flags: FLAG_CF | FLAG_ZF | FLAG_PF, mask: FLAG_CF | FLAG_ZF | FLAG_SF | FLAG_PF },
    { asm: 'rol eax, 1', bytes: [0x66, 0xd1, 0xc0], input: 0x80000001, cf: 0, out: 0x00000003, flags: FLAG_CF | FLAG_OF, mask: FLAG_CF | FLAG_OF },
    { asm: 'rol eax, 31', bytes: [0x66, 0xc1, 0xc0, 0x1f], input: 0x80000001, cf: 1, out: 0xc0000000, flags: 0, mask: FLAG_CF },
    { asm: 'ror eax, 1', bytes: [0x66, 0xd1, 0xc8], input: 0x80000001, cf: 0, out: 0xc0000000, flags: FLAG_CF, mask: FLAG_CF | FLAG_OF },
    { asm: 'ror eax, 31', bytes: [0x66, 0xc1, 0xc8, 0x1f], input: 0x80000001, cf: 1, out: 0x00000003, flags: 0, mask: FLAG_CF },
    { asm: 'rcl eax, 1', bytes: [0x66, 0xd1, 0xd0], input: 0x80000000, cf: 1, out: 0x00000001, flags: FLAG_CF | FLAG_OF, mask: FLAG_CF | FLAG_OF },
    { asm: 'rcl eax, 1', bytes: [0x66, 0xd1, 0xd0], input: 0x40000000, cf: 0, out: 0x80000000, flags: FLAG_OF, mask: FLAG_CF | FLAG_OF },
    { asm: 'rcr eax, 1', bytes: [0x66, 0xd1, 0xd8], input: 0x00000001, cf: 1, out: 0x80000000, flags: FLAG_CF | FLAG_OF, mask: FLAG_CF | FLAG_OF },
    { asm: 'rcr eax, 1', bytes: [0x66, 0xd1, 0xd8], input: 0x00000001, cf: 0, out: 0x00000000, flags: FLAG_CF, mask: FLAG_CF | FLAG_OF },
    { asm: 'rcl eax, 31', bytes: [0x66, 0xc1, 0xd0, 0x1f], input: 0x00000001, cf: 0, out: 0x80000000, flags: 0, mask: FLAG_CF },
    { asm: 'rcl eax, 31', bytes: [0x66, 0xc1, 0xd0, 0x1f], input: 0x00000002, cf: 1, out: 0x40000000, flags: FLAG_CF, mask: FLAG_CF },
    { asm: 'rcr eax, 31', bytes: [0x66, 0xc1, 0xd8, 0x1f], input: 0x80000000, cf: 1, out: 0x00000003, flags: 0, mask: FLAG_CF },
  ];
  for (const c of cases) {
    it(`${c.asm} of ${c.input.toString(16)} with CF=${c.cf}`, () => {
      const vm = exec(c.bytes, { [EAX]: c.input }, F | c.cf);
      expect(u32(vm, EAX)).toBe(c.out);
      expect(status(vm) & c.mask).toBe(c.flags);
    });
  }

  it('RCL/RCR agree with a 33-bit rotate model for every count 1..31', () => {
    const rcl = (v: bigint, cf: bigint, n: number): [bigint, bigint] => {
      let x = (cf << 32n) | v;
      for (let k = 0; k < n; k++) x = ((x << 1n) | (x >> 32n)) & 0x1ffffffffn;
      return [x & 0xffffffffn, x >> 32n];
    };
    const rcr = (v: bigint, cf: bigint, n: number): [bigint, bigint] => {
      let x = (cf << 32n) | v;
      for (let k = 0; k < n; k++) x = ((x >> 1n) | ((x & 1n) << 32n)) & 0x1ffffffffn;
      return [x & 0xffffffffn, x >> 32n];
    };
    const input = 0x9abc1235;
    for (let n = 1; n < 32; n++) {
      for (const cf of [0, 1]) {
        for (const [name, ext, model] of [['rcl', 2, rcl], ['rcr', 3, rcr]] as const) {
          const vm = exec([0x66, 0xc1, 0xc0 | (ext << 3), n], { [EAX]: input }, F | cf); // rcl/rcr eax, n
          const [v, c] = model(BigInt(input), BigInt(cf), n);
          expect(u32(vm, EAX), `${name} ${n} cf=${cf}`).toBe(Number(v));
          expect(status(vm) & FLAG_CF, `${name} ${n} cf=${cf}`).toBe(Number(c));
        }
      }
    }
  });

  it('the count from CL is masked to 5 bits', () => {
    const vm = exec([0x66, 0xd3, 0xe0], { [EAX]: 1, [ECX]: 33 }); // shl eax, cl
    expect(u32(vm, EAX)).toBe(2);
  });
});

describe('SHLD/SHRD', () => {
  it('SHLD r32, r32, imm8 and SHRD r32, r32, imm8', () => {
    let vm = exec([0x66, 0x0f, 0xa4, 0xd8, 0x04], { [EAX]: 0x12345678, [EBX]: 0x9abcdef0 }); // shld eax, ebx, 4
    expect(u32(vm, EAX)).toBe(0x23456789);
    expect(u32(vm, EBX)).toBe(0x9abcdef0);
    expect(status(vm) & FLAG_CF).toBe(FLAG_CF);
    vm = exec([0x66, 0x0f, 0xac, 0xd8, 0x08], { [EAX]: 0x12345678, [EBX]: 0x9abcdef0 }); // shrd eax, ebx, 8
    expect(u32(vm, EAX)).toBe(0xf0123456);
    expect(status(vm) & (FLAG_CF | FLAG_SF)).toBe(FLAG_SF);
    vm = exec([0x66, 0x0f, 0xac, 0xd8, 0x01], { [EAX]: 1, [EBX]: 1 }); // shrd eax, ebx, 1
    expect(u32(vm, EAX)).toBe(0x80000000);
    expect(status(vm) & (FLAG_CF | FLAG_OF)).toBe(FLAG_CF | FLAG_OF);
  });

  it('SHLD by CL: 0 changes nothing, 36 acts as 4', () => {
    const code = [0x66, 0x0f, 0xa5, 0xd8]; // shld eax, ebx, cl
    let vm = exec(code, { [EAX]: 0x12345678, [EBX]: 0x9abcdef0, [ECX]: 0 }, F | FLAG_ZF | FLAG_CF);
    expect(u32(vm, EAX)).toBe(0x12345678);
    expect(status(vm)).toBe(FLAG_ZF | FLAG_CF);
    vm = exec(code, { [EAX]: 0x12345678, [EBX]: 0x9abcdef0, [ECX]: 36 });
    expect(u32(vm, EAX)).toBe(0x23456789);
  });

  it('SHRD with a memory destination', () => {
    const vm = boot([0x66, 0x0f, 0xad, 0x1f, HLT], { regs: { bx: 0x40 }, regs32: { [EBX]: 0x40, [ECX]: 16 } }); // shrd [bx], ebx, cl
    vm.memory.write32(DATA_BASE + 0x40, 0xaaaabbbb);
    runToCodeHalt(vm);
    expect(vm.memory.read32(DATA_BASE + 0x40)).toBe(0x0040aaaa);
  });

  it('16-bit SHLD', () => {
    const vm = exec([0x0f, 0xa4, 0xd8, 0x04], {}, F, { ax: 0x1234, bx: 0xabcd }); // shld ax, bx, 4
    expect(u16(vm, EAX)).toBe(0x234a);
    expect(status(vm) & FLAG_CF).toBe(FLAG_CF);
  });
});

describe('BT/BTS/BTR/BTC', () => {
  const BASE = 0x100; // BX points here; dwords around it are prepared per test
  function bitTest(code: number[], offset: number, prepare: Record<number, number>): BareCpu {
    const vm = boot([...code, HLT], { regs: { bx: BASE }, regs32: { [EAX]: offset } });
    for (const [off, v] of Object.entries(prepare)) vm.memory.write32(DATA_BASE + Number(off), v);
    runToCodeHalt(vm);
    return vm;
  }
  const BT = [0x66, 0x0f, 0xa3, 0x07]; // bt [bx], eax
  const BTS = [0x66, 0x0f, 0xab, 0x07]; // bts [bx], eax
  const BTR = [0x66, 0x0f, 0xb3, 0x07]; // btr [bx], eax
  const BTC = [0x66, 0x0f, 0xbb, 0x07]; // btc [bx], eax

  it('BT with a register offset past the operand reads the dword it addresses', () => {
    let vm = bitTest(BT, 35, { [BASE]: 0, [BASE + 4]: 0x8 });
    expect(status(vm) & FLAG_CF).toBe(FLAG_CF);
    vm = bitTest(BT, 35, { [BASE]: 0x8, [BASE + 4]: 0 });
    expect(status(vm) & FLAG_CF).toBe(0);
  });
  it('BTS with offset 100 sets bit 4 of the dword at +12', () => {
    const vm = bitTest(BTS, 100, {});
    expect(vm.memory.read32(DATA_BASE + BASE + 12)).toBe(0x10);
    expect(vm.memory.read32(DATA_BASE + BASE)).toBe(0);
    expect(status(vm) & FLAG_CF).toBe(0);
  });
  it('BTR with offset -1 clears bit 31 of the dword below the operand', () => {
    const vm = bitTest(BTR, -1, { [BASE - 4]: 0xffffffff, [BASE]: 0xffffffff });
    expect(vm.memory.read32(DATA_BASE + BASE - 4)).toBe(0x7fffffff);
    expect(vm.memory.read32(DATA_BASE + BASE)).toBe(0xffffffff);
    expect(status(vm) & FLAG_CF).toBe(FLAG_CF);
  });
  it('BTC with offset -33 complements bit 31 two dwords below', () => {
    const vm = bitTest(BTC, -33, {});
    expect(vm.memory.read32(DATA_BASE + BASE - 8)).toBe(0x80000000);
    expect(status(vm) & FLAG_CF).toBe(0);
  });
  it('16-bit BT/BTS: offset -1 is bit 15 of the word below; 17 is bit 1 of the next word', () => {
    const vm = boot([0x0f, 0xa3, 0x07, 0x0f, 0xab, 0x0f, HLT], { regs: { bx: BASE, ax: 0xffff, cx: 17 } }); // bt [bx], ax; bts [bx], cx
    vm.memory.write16(DATA_BASE + BASE - 2, 0x8000);
    runToCodeHalt(vm);
    expect(status(vm) & FLAG_CF).toBe(0); // from BTS: bit was clear
    expect(vm.memory.read16(DATA_BASE + BASE + 2)).toBe(0x0002);
    const vm2 = boot([0x0f, 0xa3, 0x07, HLT], { regs: { bx: BASE, ax: 0xffff } }); // bt [bx], ax
    vm2.memory.write16(DATA_BASE + BASE - 2, 0x8000);
    runToCodeHalt(vm2);
    expect(status(vm2) & FLAG_CF).toBe(FLAG_CF);
  });
  it('register operands and immediate offsets are taken modulo the width', () => {
    let vm = exec([0x66, 0x0f, 0xa3, 0xc1], { [EAX]: 35, [ECX]: 0x8 }); // bt ecx, eax
    expect(status(vm) & FLAG_CF).toBe(FLAG_CF);
    vm = exec([0x66, 0x0f, 0xab, 0xc1], { [EAX]: 63, [ECX]: 0 }); // bts ecx, eax
    expect(u32(vm, ECX)).toBe(0x80000000);
    vm = boot([0x66, 0x0f, 0xba, 0x27, 0x23, HLT], { regs: { bx: BASE } }); // bt dword [bx], 35
    vm.memory.write32(DATA_BASE + BASE + 4, 0x8);
    runToCodeHalt(vm);
    expect(status(vm) & FLAG_CF).toBe(0);
  });
});

describe('BSF/BSR', () => {
  const BSF = [0x66, 0x0f, 0xbc, 0xd0]; // bsf edx, eax
  const BSR = [0x66, 0x0f, 0xbd, 0xd0]; // bsr edx, eax
  it('find the lowest and highest set bit', () => {
    for (const [v, lo, hi] of [[0x00f00000, 20, 23], [1, 0, 0], [0x80000000, 31, 31], [0x80000001, 0, 31]]) {
      let vm = exec(BSF, { [EAX]: v, [EDX]: 0xdeadbeef }, F | FLAG_ZF);
      expect(u32(vm, EDX)).toBe(lo);
      expect(status(vm) & FLAG_ZF).toBe(0);
      vm = exec(BSR, { [EAX]: v, [EDX]: 0xdeadbeef }, F | FLAG_ZF);
      expect(u32(vm, EDX)).toBe(hi);
      expect(status(vm) & FLAG_ZF).toBe(0);
    }
  });
  it('a zero source sets ZF and leaves the destination unchanged', () => {
    for (const code of [BSF, BSR]) {
      const vm = exec(code, { [EAX]: 0, [EDX]: 0xdeadbeef });
      expect(u32(vm, EDX)).toBe(0xdeadbeef);
      expect(status(vm) & FLAG_ZF).toBe(FLAG_ZF);
    }
  });
  it('16-bit BSF with a memory source', () => {
    const vm = boot([0x0f, 0xbc, 0x17, HLT], { regs: { bx: 0x40, dx: 0x7777 } }); // bsf dx, [bx]
    vm.memory.write16(DATA_BASE + 0x40, 0x8000);
    runToCodeHalt(vm);
    expect(u16(vm, EDX)).toBe(15);
  });
});

describe('BSWAP', () => {
  it('BSWAP EDI (0F CF) reverses the bytes', () => {
    const vm = exec([0x0f, 0xcf], { [EDI]: 0x11223344 }); // bswap edi
    expect(u32(vm, EDI)).toBe(0x44332211);
  });
  it('BSWAP r32 (0F C8+r) swaps the register named by the low bits of C8+r', () => {
    const regs = [EAX, ECX, EDX, EBX, ESP, EBP, ESI];
    for (const r of regs) {
      const vm = exec([0x0f, 0xc8 + r], { [r]: 0x11223344, [EDI]: 0xaabbccdd }); // bswap <r>
      expect(u32(vm, r), `bswap reg ${r}`).toBe(0x44332211);
      expect(u32(vm, EDI), `bswap reg ${r} left EDI alone`).toBe(0xaabbccdd);
    }
  });
});

describe('MOVZX/MOVSX and sign extension', () => {
  it('MOVZX/MOVSX from bytes and words, registers and memory', () => {
    const code = [
      0x66, 0x0f, 0xb6, 0x07, // movzx eax, byte [bx]
      0x66, 0x0f, 0xbe, 0x0f, // movsx ecx, byte [bx]
      0x66, 0x0f, 0xb7, 0x57, 0x02, // movzx edx, word [bx+2]
      0x66, 0x0f, 0xbf, 0x77, 0x02, // movsx esi, word [bx+2]
      0x0f, 0xbe, 0xfb, // movsx di, bl
      0x66, 0x0f, 0xb6, 0xec, // movzx ebp, ah
    ];
    const vm = boot([...code, HLT], { regs: { bx: 0x40fe }, regs32: { [EAX]: 0xffffffff, [EDI]: 0x12340000 } });
    vm.memory.write8(DATA_BASE + 0x40fe, 0x80);
    vm.memory.write16(DATA_BASE + 0x4100, 0x8001);
    runToCodeHalt(vm);
    expect(u32(vm, EAX)).toBe(0x00000080);
    expect(u32(vm, ECX)).toBe(0xffffff80);
    expect(u32(vm, EDX)).toBe(0x00008001);
    expect(u32(vm, ESI)).toBe(0xffff8001);
    expect(u32(vm, EDI)).toBe(0x1234fffe); // 16-bit destination keeps the upper half
    expect(u32(vm, EBP)).toBe(0x00000000); // AH of 0x00000080
  });
  it('CWDE, CDQ, CBW, CWD', () => {
    let vm = exec([0x66, 0x98], { [EAX]: 0x12348000 }); // cwde
    expect(u32(vm, EAX)).toBe(0xffff8000);
    vm = exec([0x66, 0x98], { [EAX]: 0xffff7fff }); // cwde
    expect(u32(vm, EAX)).toBe(0x00007fff);
    vm = exec([0x66, 0x99], { [EAX]: 0x80000000, [EDX]: 0 }); // cdq
    expect(u32(vm, EDX)).toBe(0xffffffff);
    vm = exec([0x66, 0x99], { [EAX]: 0x7fffffff, [EDX]: 0x1234 }); // cdq
    expect(u32(vm, EDX)).toBe(0);
    vm = exec([0x98], { [EAX]: 0xabcd0080 }); // cbw
    expect(u32(vm, EAX)).toBe(0xabcdff80);
    vm = exec([0x99], { [EAX]: 0x8000, [EDX]: 0x55550000 }); // cwd
    expect(u32(vm, EDX)).toBe(0x5555ffff);
  });
});

describe('CMPXCHG and XADD', () => {
  it('CMPXCHG m32: equal stores the source and sets ZF', () => {
    const vm = boot([0x66, 0x0f, 0xb1, 0x0f, HLT], { regs: { bx: 0x40 }, regs32: { [EAX]: 5, [ECX]: 0x77 } }); // cmpxchg [bx], ecx
    vm.memory.write32(DATA_BASE + 0x40, 5);
    runToCodeHalt(vm);
    expect(vm.memory.read32(DATA_BASE + 0x40)).toBe(0x77);
    expect(u32(vm, EAX)).toBe(5);
    expect(status(vm) & (FLAG_ZF | FLAG_CF)).toBe(FLAG_ZF);
  });
  it('CMPXCHG m32: not equal loads the accumulator and clears ZF', () => {
    const vm = boot([0x66, 0x0f, 0xb1, 0x0f, HLT], { regs: { bx: 0x40 }, regs32: { [EAX]: 5, [ECX]: 0x77 } }); // cmpxchg [bx], ecx
    vm.memory.write32(DATA_BASE + 0x40, 9);
    runToCodeHalt(vm);
    expect(vm.memory.read32(DATA_BASE + 0x40)).toBe(9);
    expect(u32(vm, EAX)).toBe(9);
    expect(status(vm) & (FLAG_ZF | FLAG_CF | FLAG_SF)).toBe(FLAG_CF | FLAG_SF); // 5 - 9
  });
  it('CMPXCHG r32 and r8 forms', () => {
    let vm = exec([0x66, 0x0f, 0xb1, 0xca], { [EAX]: 0x1234, [EDX]: 0x1234, [ECX]: 0xabcd }); // cmpxchg edx, ecx
    expect(u32(vm, EDX)).toBe(0xabcd);
    vm = exec([0x66, 0x0f, 0xb1, 0xca], { [EAX]: 0x1234, [EDX]: 0x4321, [ECX]: 0xabcd }); // cmpxchg edx, ecx
    expect([u32(vm, EAX), u32(vm, EDX)]).toEqual([0x4321, 0x4321]);
    vm = exec([0x0f, 0xb0, 0xca], { [EAX]: 0xffffff10, [EDX]: 0x10, [ECX]: 0x99 }); // cmpxchg dl, cl
    expect(u32(vm, EDX)).toBe(0x99);
  });
  it('XADD exchanges and adds, with ADD flags', () => {
    const vm = boot([0x66, 0x0f, 0xc1, 0x07, HLT], { regs: { bx: 0x40 }, regs32: { [EAX]: 1 } }); // xadd [bx], eax
    vm.memory.write32(DATA_BASE + 0x40, 0xffffffff);
    runToCodeHalt(vm);
    expect(vm.memory.read32(DATA_BASE + 0x40)).toBe(0);
    expect(u32(vm, EAX)).toBe(0xffffffff);
    expect(status(vm)).toBe(FLAG_CF | FLAG_ZF | FLAG_AF | FLAG_PF);
    const vm2 = exec([0x66, 0x0f, 0xc1, 0xd1], { [ECX]: 3, [EDX]: 4 }); // xadd ecx, edx
    expect([u32(vm2, ECX), u32(vm2, EDX)]).toEqual([7, 3]);
  });
});

describe('SETcc and CMOVcc', () => {
  it('SETcc writes one byte from the condition', () => {
    const code = [
      0x66, 0x39, 0xd8, // cmp eax, ebx
      0x0f, 0x9c, 0xc1, // setl cl
      0x0f, 0x92, 0xc5, // setb ch
      0x0f, 0x94, 0x07, // setz [bx]
      0x0f, 0x95, 0xc2, // setnz dl
      0x0f, 0x9f, 0xc6, // setg dh
    ];
    const vm = boot([...code, HLT], { regs: { bx: 0x40 }, regs32: { [EAX]: 0xffffffff, [EBX]: 0x40, [ECX]: 0xffffffff, [EDX]: 0xffffffff } });
    vm.memory.write16(DATA_BASE + 0x40, 0xffff);
    runToCodeHalt(vm);
    expect(u32(vm, ECX)).toBe(0xffff0001); // CL = L (-1 < 64), CH = B (0xFFFFFFFF not below 64)
    expect(u32(vm, EDX)).toBe(0xffff0001); // DL = NZ, DH = G
    expect(vm.memory.read16(DATA_BASE + 0x40)).toBe(0xff00);
  });
  it('CMOVcc moves only when the condition holds', () => {
    let vm = exec([0x66, 0x0f, 0x44, 0xc3], { [EAX]: 1, [EBX]: 2 }, F | FLAG_ZF); // cmovz eax, ebx
    expect(u32(vm, EAX)).toBe(2);
    vm = exec([0x66, 0x0f, 0x44, 0xc3], { [EAX]: 0xaaaaaaaa, [EBX]: 2 }, F); // cmovz eax, ebx
    expect(u32(vm, EAX)).toBe(0xaaaaaaaa);
    vm = exec([0x0f, 0x42, 0xd3], { [EDX]: 0x11110000, [EBX]: 0x2222 }, F | FLAG_CF); // cmovb dx, bx
    expect(u32(vm, EDX)).toBe(0x11112222);
    const mem = boot([0x66, 0x0f, 0x4c, 0x0f, HLT], { regs: { bx: 0x40, flags: F | FLAG_SF } }); // cmovl ecx, [bx]
    mem.memory.write32(DATA_BASE + 0x40, 0xfeedface);
    runToCodeHalt(mem);
    expect(u32(mem, ECX)).toBe(0xfeedface);
  });
  it('CMOVcc reads its memory source even when not moving (so it can fault)', () => {
    const vm = boot([0x66, 0x0f, 0x44, 0x07, HLT], { regs: { bx: 0xfffe, flags: F } }); // cmovz eax, [bx]
    expect(runToFault(vm, 13).ip).toBe(0);
  });
});

describe('ENTER and LEAVE', () => {
  it('ENTER 8, 0 and LEAVE', () => {
    const vm = boot([0xc8, 0x08, 0x00, 0x00, HLT, 0xc9, HLT], { regs: { bp: 0x1234 } }); // enter 8, 0; hlt; leave; hlt
    runToCodeHalt(vm, 5);
    expect(u16(vm, EBP)).toBe(0x0ffe);
    expect(u16(vm, ESP)).toBe(0x0ff6);
    expect(vm.memory.read16(SS_BASE + 0xffe)).toBe(0x1234);
    vm.cpu.halted = false;
    runToCodeHalt(vm, 7);
    expect(u16(vm, EBP)).toBe(0x1234);
    expect(u16(vm, ESP)).toBe(0x1000);
  });
  it('ENTER 4, 1 pushes the frame pointer as the display', () => {
    const vm = exec([0xc8, 0x04, 0x00, 0x01], {}, F, { bp: 0x1234 }); // enter 4, 1
    expect(u16(vm, EBP)).toBe(0x0ffe);
    expect(u16(vm, ESP)).toBe(0x0ff8);
    expect(vm.memory.read16(SS_BASE + 0xffe)).toBe(0x1234);
    expect(vm.memory.read16(SS_BASE + 0xffc)).toBe(0x0ffe);
  });
  it('ENTER 4, 3 copies two outer frame pointers from [BP-2], [BP-4]', () => {
    const code = [
      0xc8, 0x04, 0x00, 0x03, // enter 4, 3
      0xf4, // hlt
      0xc9, // leave
    ];
    const vm = boot([...code, HLT], { regs: { bp: 0x0f00 } });
    vm.memory.write16(SS_BASE + 0x0efe, 0xaaaa);
    vm.memory.write16(SS_BASE + 0x0efc, 0xbbbb);
    runToCodeHalt(vm, 5);
    expect(u16(vm, EBP)).toBe(0x0ffe);
    expect(u16(vm, ESP)).toBe(0x0ff4);
    expect([0xffe, 0xffc, 0xffa, 0xff8].map((a) => vm.memory.read16(SS_BASE + a))).toEqual([0x0f00, 0xaaaa, 0xbbbb, 0x0ffe]);
    vm.cpu.halted = false;
    runToCodeHalt(vm, 7);
    expect(u16(vm, EBP)).toBe(0x0f00);
    expect(u16(vm, ESP)).toBe(0x1000);
  });
  it('32-bit ENTER 8, 1 and LEAVE on a 16-bit stack', () => {
    const code = [
      0x66, 0xc8, 0x08, 0x00, 0x01, // o32 enter 8, 1
      0xf4, // hlt
      0x66, 0xc9, // o32 leave
    ];
    const vm = boot([...code, HLT], { regs32: { [EBP]: 0xabcd0f00 } });
    runToCodeHalt(vm, 6);
    expect(vm.memory.read32(SS_BASE + 0xffc)).toBe(0xabcd0f00);
    expect(vm.memory.read32(SS_BASE + 0xff8)).toBe(0x0ffc);
    expect(u16(vm, ESP)).toBe(0x0ff0);
    expect(u32(vm, EBP)).toBe(0xabcd0ffc); // BP <- frame temp (16-bit stack)
    vm.cpu.halted = false;
    runToCodeHalt(vm, 9);
    expect(u32(vm, EBP)).toBe(0xabcd0f00);
    expect(u16(vm, ESP)).toBe(0x1000);
  });
});

describe('PUSHA/POPA', () => {
  it('PUSHA stores AX CX DX BX SP BP SI DI; POPA restores all but SP', () => {
    const code = [
      0x60, // pusha
      0x89, 0xe5, // mov bp, sp
      0xc7, 0x46, 0x06, 0x55, 0x55, // mov word [bp+6], 0x5555
      0x31, 0xc0, // xor ax, ax
      0x89, 0xc1, // mov cx, ax
      0x89, 0xc2, // mov dx, ax
      0x89, 0xc3, // mov bx, ax
      0x89, 0xc6, // mov si, ax
      0x89, 0xc7, // mov di, ax
      0x89, 0xc5, // mov bp, ax
      0x61, // popa
    ];
    const vm = boot([...code, HLT], { regs: { ax: 1, cx: 2, dx: 3, bx: 4, bp: 6, si: 7, di: 8 } });
    vm.cpu.run(1);
    expect(u16(vm, ESP)).toBe(0x0ff0);
    const image = Array.from({ length: 8 }, (_, k) => vm.memory.read16(SS_BASE + 0xff0 + 2 * k));
    expect(image).toEqual([8, 7, 6, 0x1000, 4, 3, 2, 1]);
    runToCodeHalt(vm);
    expect([EAX, ECX, EDX, EBX, ESP, EBP, ESI, EDI].map((r) => u16(vm, r))).toEqual([1, 2, 3, 4, 0x1000, 6, 7, 8]);
  });
  it('PUSHAD/POPAD move full 32-bit registers', () => {
    const code = [
      0x66, 0x60, // pushad
      0x66, 0x31, 0xc0, // xor eax, eax
      0x66, 0x89, 0xc1, // mov ecx, eax
      0x66, 0x89, 0xc2, // mov edx, eax
      0x66, 0x89, 0xc3, // mov ebx, eax
      0x66, 0x89, 0xc5, // mov ebp, eax
      0x66, 0x89, 0xc6, // mov esi, eax
      0x66, 0x89, 0xc7, // mov edi, eax
      0x66, 0x61, // popad
    ];
    const init = { [EAX]: 0x11111111, [ECX]: 0x22222222, [EDX]: 0x33333333, [EBX]: 0x44444444, [EBP]: 0x66666666, [ESI]: 0x77777777, [EDI]: 0x88888888 };
    const vm = boot([...code, HLT], { regs32: init });
    vm.cpu.run(1);
    expect(u16(vm, ESP)).toBe(0x0fe0);
    const image = Array.from({ length: 8 }, (_, k) => vm.memory.read32(SS_BASE + 0xfe0 + 4 * k));
    expect(image).toEqual([0x88888888, 0x77777777, 0x66666666, 0x1000, 0x44444444, 0x33333333, 0x22222222, 0x11111111]);
    runToCodeHalt(vm);
    for (const [r, v] of Object.entries(init)) expect(u32(vm, Number(r))).toBe(v);
    expect(u32(vm, ESP)).toBe(0x1000);
  });
});

describe('PUSHF/POPF', () => {
  it('POPFD in real mode writes IOPL, NT, AC and ID but not VM or RF; PUSHFD reads them back', () => {
    const code = [
      0x66, 0x68, 0xff, 0xfe, 0xff, 0xff, // push dword 0xfffffeff
      0x66, 0x9d, // popfd
      0x66, 0x9c, // pushfd
      0x66, 0x5b, // pop ebx
    ];
    const vm = exec(code);
    const want = F | STATUS_FLAGS | FLAG_DF | FLAG_IF | FLAG_IOPL | FLAG_NT | FLAG_AC | FLAG_ID;
    expect(want).toBe(0x00247ed7);
    expect(vm.cpu.getFlags() >>> 0).toBe(want);
    expect(u32(vm, EBX)).toBe(want);
    expect(vm.cpu.getFlags() & (FLAG_VM | FLAG_RF)).toBe(0);
  });
  it('POPFD 0 clears everything but bit 1; VM/RF set in the image stay clear', () => {
    let vm = exec([0x66, 0x6a, 0x00, 0x66, 0x9d], {}, F | FLAG_CF | FLAG_IOPL); // push dword 0; popfd
    expect(vm.cpu.getFlags() >>> 0).toBe(F);
    vm = exec([0x66, 0x68, 0x00, 0x00, 0x03, 0x00, 0x66, 0x9d]); // push dword 0x30000; popfd
    expect(vm.cpu.getFlags() >>> 0).toBe(F);
  });
  it('16-bit POPF writes IOPL and NT, keeps AC/ID; PUSHF pushes the low word', () => {
    const code = [
      0x68, 0xff, 0xfe, // push word 0xfeff
      0x9d, // popf
      0x9c, // pushf
      0x5a, // pop dx
    ];
    const vm = boot([...code, HLT], { regs: { flags: F } });
    vm.cpu.setFlags(F | FLAG_AC);
    runToCodeHalt(vm);
    expect(vm.cpu.getFlags() >>> 0).toBe(0x7ed7 | FLAG_AC);
    expect(u16(vm, EDX)).toBe(0x7ed7);
  });
});
