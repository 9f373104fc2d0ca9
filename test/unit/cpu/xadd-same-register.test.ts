/**
 * XADD with the same register as source and destination (src/cpu/ops/data.ts), found by the
 * host-CPU differential test: SDM vol. 2B "XADD" does TEMP <- SRC + DEST; SRC <- DEST;
 * DEST <- TEMP, so the register ends up holding the sum (the host CPU agrees), not its old value.
 * The memory form keeps its order: memory first, so a faulting write leaves the register alone.
 */
import { describe, expect, it } from 'vitest';
import { boot, runToCodeHalt, DATA_SEG, EAX, ECX } from '../../helpers/cpu-program.js';

const HLT = 0xf4;

function exec(code: number[], regs32: Partial<Record<number, number>>) {
  const vm = boot([...code, HLT], { regs: { ds: DATA_SEG, flags: 2 }, regs32 });
  runToCodeHalt(vm, code.length + 1);
  return vm;
}

describe('XADD reg, same reg', () => {
  it('8-bit: xadd ch, ch leaves the sum in CH', () => {
    const vm = exec([0x0f, 0xc0, 0xed], { [ECX]: 0xa72f40d5 });
    expect(vm.cpu.regs[ECX] >>> 0).toBe(0xa72f80d5);
  });
  it('16-bit: xadd ax, ax leaves the sum in AX', () => {
    const vm = exec([0x0f, 0xc1, 0xc0], { [EAX]: 0x12348001 });
    expect(vm.cpu.regs[EAX] >>> 0).toBe(0x12340002);
    expect(vm.cpu.getFlags() & 0x801).toBe(0x801); // 0x8001 + 0x8001: carry and signed overflow
  });
  it('32-bit: xadd eax, eax leaves the sum in EAX', () => {
    const vm = exec([0x66, 0x0f, 0xc1, 0xc0], { [EAX]: 0x40000001 });
    expect(vm.cpu.regs[EAX] >>> 0).toBe(0x80000002);
  });
  it('memory form still swaps: the register gets the old memory value, memory the sum', () => {
    const vm = boot([0x0f, 0xc1, 0x06, 0x10, 0x00, HLT], { regs: { ds: DATA_SEG, flags: 2 }, regs32: { [EAX]: 0x00000005 } });
    vm.memory.write16((DATA_SEG << 4) + 0x10, 0x0100);
    runToCodeHalt(vm, 6);
    expect(vm.cpu.regs[EAX] & 0xffff).toBe(0x0100);
    expect(vm.memory.read16((DATA_SEG << 4) + 0x10)).toBe(0x0105);
  });
});
