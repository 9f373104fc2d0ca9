/**
 * The PC board end to end: our own guests boot from the reset vector, talk over COM1 and
 * the 0xE9 console, and leave through the debug-exit port; serial input reaches the guest
 * through the VM's input queue; bad images are refused with a clear error.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { MachineConfigError } from '../../../src/machine/pc.js';
import { Host } from '../../../src/vmm/host.js';

const hello = new Uint8Array(readFileSync(new URL('../../../guests/hello/hello.bin', import.meta.url)));
const benchShort = new Uint8Array(readFileSync(new URL('../../../guests/bench/bench-short.bin', import.meta.url)));

function boot(rom: Uint8Array, extra: { loads?: { name: string; address: number; data: Uint8Array }[]; entry?: { cs: number; ip: number } } = {}) {
  const host = new Host({ maxFrames: 8192 });
  let serial = '';
  const e9: string[] = [];
  const vm = host.createMachine('vm0', {
    memoryBytes: 16 << 20, rom: { name: 'rom', data: rom }, ...extra,
    serialOut: (b) => { serial += String.fromCharCode(b); }, debugLog: (l) => e9.push(l),
  });
  return { host, vm, serial: () => serial, e9 };
}

/** Echo guest at 0000:7C00: copy COM1 input to COM1 output until 'q', then exit with 0x2A. */
const ECHO_GUEST = new Uint8Array([
  0xba, 0xfd, 0x03, //       mov dx, 0x3FD (LSR)
  0xec, //             poll: in al, dx
  0xa8, 0x01, //             test al, 1 (DR)
  0x74, 0xfb, //             jz poll
  0xba, 0xf8, 0x03, //       mov dx, 0x3F8
  0xec, //                   in al, dx
  0xee, //                   out dx, al
  0x3c, 0x71, //             cmp al, 'q'
  0x75, 0xef, //             jne start (mov dx,0x3FD)
  0xb0, 0x2a, //             mov al, 42
  0xe6, 0xf4, //             out 0xF4, al
  0xf4, //                   hlt
]);

describe('PC board', () => {
  it('boots the hello guest from the reset vector to its serial line and exit code 0', () => {
    const { vm, serial, e9 } = boot(hello);
    const stop = vm.run(10_000_000);
    expect(stop).toEqual({ kind: 'exit', value: 0 });
    expect(serial()).toBe('Hello from the hello guest!\r\n');
    expect(e9).toEqual(['Hello from the hello guest!']);
  });

  it('runs the short benchmark guest to its expected checksum', () => {
    const { vm, serial } = boot(benchShort);
    const stop = vm.run(50_000_000);
    expect(serial()).toBe('bench: repeats=1 primes=6179 checksum=E9D772FC\r\n');
    expect(stop).toEqual({ kind: 'exit', value: 0 });
    expect(vm.cpu.instructionCount).toBeGreaterThan(500_000);
  });

  it('delivers serial input through the input queue at its clock tick', () => {
    const { vm, serial } = boot(hello, { loads: [{ name: 'echo', address: 0x7c00, data: ECHO_GUEST }], entry: { cs: 0, ip: 0x7c00 } });
    vm.sendSerial(new TextEncoder().encode('abc'), 1000);
    vm.sendSerial(new TextEncoder().encode('xyz'.repeat(10) + 'q'), 50_000);
    const stop = vm.run(10_000_000);
    expect(stop).toEqual({ kind: 'exit', value: 42 });
    expect(serial()).toBe('abc' + 'xyz'.repeat(10) + 'q');
    expect(vm.clock.ticks()).toBeGreaterThan(50_000);
  });

  it('is deterministic: the same guest and inputs give the same instruction count and registers', () => {
    const runOnce = () => {
      const { vm } = boot(hello, { loads: [{ name: 'echo', address: 0x7c00, data: ECHO_GUEST }], entry: { cs: 0, ip: 0x7c00 } });
      vm.sendSerial(new TextEncoder().encode('hello world q'), 777);
      vm.run(1_000_000);
      return { count: vm.cpu.instructionCount, state: vm.cpu.save() };
    };
    expect(runOnce()).toEqual(runOnce());
  });

  it('reports a guest that halts with nothing to wake it', () => {
    const { vm } = boot(hello, { loads: [{ name: 'hlt', address: 0x7c00, data: new Uint8Array([0xfa, 0xf4]) }], entry: { cs: 0, ip: 0x7c00 } });
    expect(vm.run(1000)).toEqual({ kind: 'halted' });
  });

  it('stops at the instruction limit', () => {
    const { vm } = boot(hello, { loads: [{ name: 'loop', address: 0x7c00, data: new Uint8Array([0xeb, 0xfe]) }], entry: { cs: 0, ip: 0x7c00 } });
    expect(vm.run(12345)).toEqual({ kind: 'limit' });
    expect(vm.cpu.instructionCount).toBe(12345);
  });

  it('refuses a ROM that is not a multiple of 4 KiB, naming it', () => {
    expect(() => boot(new Uint8Array(1000))).toThrow(MachineConfigError);
    expect(() => boot(new Uint8Array(1000))).toThrow(/rom: a ROM image must be/);
  });

  it('refuses an image that does not fit in RAM', () => {
    expect(() => boot(hello, { loads: [{ name: 'big.bin', address: (16 << 20) - 10, data: new Uint8Array(100) }] })).toThrow(/big.bin/);
  });
});

describe('PC board faults', () => {
  it('reports a triple fault (a fault while delivering a double fault)', () => {
    // lidt [cs:idt] with a limit of 3 (only vector 0), then int 0x21: #GP and #DF cannot be delivered.
    const code = new Uint8Array([0x2e, 0x0f, 0x01, 0x1e, 0x08, 0x7c, 0xcd, 0x21, 0x03, 0x00, 0x00, 0x00, 0x00, 0x00]);
    const { vm } = boot(hello, { loads: [{ name: 'tf', address: 0x7c00, data: code }], entry: { cs: 0, ip: 0x7c00 } });
    expect(vm.run(1000)).toEqual({ kind: 'triple-fault' });
  });
});
