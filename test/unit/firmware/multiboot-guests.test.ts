/**
 * End to end: our Multiboot test kernels (guests/multiboot/mb-info.asm, built as an ELF
 * and as an a.out-kludge image) loaded by src/firmware/multiboot.ts into a PC board, started
 * in the loader's flat 32-bit entry state, print what they found in the Multiboot
 * information structure; every line is compared with what the loader says it wrote.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { buildMultibootBoot, type MultibootImage } from '../../../src/firmware/multiboot.js';
import { flat32EntryOf } from '../../../src/firmware/boot-image.js';
import { Host } from '../../../src/vmm/host.js';

const GUESTS = new URL('../../../guests/', import.meta.url);
const RAM_BYTES = 16 << 20;
const INSTRUCTION_LIMIT = 5_000_000;
const MP = { cpuSignature: 0x633, cpuFeatures: 0x0080a3ff };

const hex8 = (n: number) => `0x${n.toString(16).toUpperCase().padStart(8, '0')}`;
const hex16 = (n: number) => `0x${n.toString(16).toUpperCase().padStart(16, '0')}`;

/** The lines mb-info must print for `image` (module 0 is `module`). */
function expectedLines(format: string, image: MultibootImage, cmdline: string, module: { data: Uint8Array; cmdline: string }): string[] {
  const low = image.e820.find((e) => e.base === 0)!;
  const high = image.e820.find((e) => e.base === 0x100000)!;
  const mod = image.modules[0];
  const bytes = [...module.data.subarray(0, 16)].map((b) => b.toString(16).toUpperCase().padStart(2, '0')).join(' ');
  return [
    `mb-info: ${format}`,
    'magic=0x2BADB002',
    `flags=${hex8(image.info.flags)}`,
    `mem_lower=${low.length / 1024} mem_upper=${high.length / 1024}`,
    `cmdline='${cmdline}'`,
    'mods_count=1',
    `mod0 start=${hex8(mod.address)} end=${hex8(mod.address + mod.bytes)} string='${module.cmdline}' bytes=${bytes}`,
    ...image.e820.map((e) => `mmap base=${hex16(e.base)} length=${hex16(e.length)} type=${e.type}`),
    "loader='x86-hypervisor'",
    'bss=zero',
    'done',
  ];
}

/** Load `file` with the Multiboot loader into a fresh PC and run it. */
function runMultiboot(file: string, cmdline: string, module: { name: string; data: Uint8Array; cmdline: string }) {
  const data = new Uint8Array(readFileSync(new URL(file, GUESTS)));
  const image = buildMultibootBoot({ ramBytes: RAM_BYTES, kernel: { name: file, data }, cmdline, modules: [module], mpTable: MP });
  const host = new Host({ maxFrames: 8192 });
  const lines: string[] = [];
  let serial = '';
  const vm = host.createMachine('mb', { memoryBytes: RAM_BYTES, debugLog: (l) => lines.push(l), serialOut: (b) => { serial += String.fromCharCode(b); } });
  try {
    for (const w of image.writes) vm.memory.writeBytes(w.address, w.data);
    vm.cpu.enterFlat32(flat32EntryOf(image));
    const stop = vm.run(INSTRUCTION_LIMIT);
    return { image, stop, lines, serial };
  } finally {
    host.destroyMachine('mb');
  }
}

describe('Multiboot test kernels on the PC board', () => {
  const module = { name: 'mod0.bin', data: new TextEncoder().encode('HELLO-MODULE-0123456789'), cmdline: 'mod0.bin arg1 arg2' };
  for (const [file, format, loadAddress] of [['multiboot/mb-elf.elf', 'elf', 0x100000], ['multiboot/mb-aout.bin', 'aout', 0x200000]] as const) {
    it(`${file} (${format}) prints the information the loader wrote and exits 0`, () => {
      const cmdline = `${file} root=/dev/null quiet`;
      const run = runMultiboot(file, cmdline, module);
      expect(run.image.kernel.format).toBe(format);
      expect(run.image.kernel.segments[0].address).toBe(loadAddress);
      expect(run.lines).toEqual(expectedLines(format, run.image, cmdline, module));
      expect(run.serial).toBe(run.lines.map((l) => `${l}\r\n`).join(''));
      expect(run.stop).toEqual({ kind: 'exit', value: 0 });
    });
  }
});
