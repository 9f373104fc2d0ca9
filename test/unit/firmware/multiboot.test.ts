/**
 * Multiboot v1 loader (src/firmware/multiboot.ts): ELF32 and a.out-kludge kernels built
 * here byte by byte, the information structure read back from the writes (flags, memory,
 * cmdline, modules and their strings, mmap, loader name), module placement, and every
 * rejection naming its field.
 */
import { describe, expect, it } from 'vitest';
import {
  buildMultibootBoot,
  MULTIBOOT_INFO_ADDRESS,
  parseMultibootKernel,
  type MultibootImage,
  type MultibootOptions,
} from '../../../src/firmware/multiboot.js';
import { BootImageError, FirmwareConfigError } from '../../../src/firmware/boot-image.js';
import { buildE820Map } from '../../../src/firmware/e820.js';

const MiB = 0x100000;
const MAGIC = 0x1badb002;
const MP = { cpuSignature: 0x633, cpuFeatures: 0x0080a3ff };

interface Segment {
  paddr: number;
  vaddr?: number;
  data: Uint8Array;
  memsz?: number;
}

interface ElfSpec {
  segments?: Segment[];
  entry?: number;
  flags?: number;
  ident?: Partial<Record<4 | 5, number>>;
  type?: number;
  machine?: number;
  phentsize?: number;
  /** Program headers of other types to add first. */
  extraPhdrs?: number;
  checksumDelta?: number;
  headerOffset?: number;
  aoutFields?: number[];
}

/** Bytes counting up from `seed`. */
function pattern(bytes: number, seed: number): Uint8Array {
  return new Uint8Array(bytes).map((_, k) => (seed + k * 5) & 0xff);
}

/** Write the Multiboot header at `at` (magic, flags, checksum, optional address fields). */
function putHeader(v: DataView, at: number, flags: number, checksumDelta = 0, aout: number[] = []): void {
  v.setUint32(at, MAGIC, true);
  v.setUint32(at + 4, flags, true);
  v.setUint32(at + 8, (-(MAGIC + flags) + checksumDelta) >>> 0, true);
  aout.forEach((x, k) => v.setUint32(at + 12 + k * 4, x >>> 0, true));
}

/** An ELF32 executable with a Multiboot header after the program headers and segment data from 0x1000. */
function makeElf(spec: ElfSpec = {}): Uint8Array {
  const segments = spec.segments ?? [{ paddr: 0x100000, data: pattern(0x300, 1), memsz: 0x800 }];
  const phentsize = spec.phentsize ?? 32;
  const extra = spec.extraPhdrs ?? 0;
  const phnum = segments.length + extra;
  const headerOffset = spec.headerOffset ?? 52 + phnum * phentsize + 12;
  let dataOffset = Math.max(0x1000, headerOffset + 48);
  const offsets = segments.map((s) => {
    const at = dataOffset;
    dataOffset += s.data.length;
    return at;
  });
  const file = new Uint8Array(Math.max(dataOffset, headerOffset + 48));
  const v = new DataView(file.buffer);
  file.set([0x7f, 0x45, 0x4c, 0x46, spec.ident?.[4] ?? 1, spec.ident?.[5] ?? 1, 1], 0);
  v.setUint16(16, spec.type ?? 2, true);
  v.setUint16(18, spec.machine ?? 3, true);
  v.setUint32(20, 1, true);
  v.setUint32(24, spec.entry ?? (segments[0].vaddr ?? segments[0].paddr) + 0x10, true);
  v.setUint32(28, 52, true);
  v.setUint16(40, 52, true);
  v.setUint16(42, phentsize, true);
  v.setUint16(44, phnum, true);
  for (let k = 0; k < extra; k++) v.setUint32(52 + k * phentsize, 4, true); // PT_NOTE
  segments.forEach((s, k) => {
    const ph = 52 + (extra + k) * phentsize;
    v.setUint32(ph, 1, true);
    v.setUint32(ph + 4, offsets[k], true);
    v.setUint32(ph + 8, s.vaddr ?? s.paddr, true);
    v.setUint32(ph + 12, s.paddr, true);
    v.setUint32(ph + 16, s.data.length, true);
    v.setUint32(ph + 20, s.memsz ?? s.data.length, true);
    v.setUint32(ph + 24, 7, true);
    file.set(s.data, offsets[k]);
  });
  putHeader(v, headerOffset, spec.flags ?? 3, spec.checksumDelta, spec.aoutFields);
  return file;
}

interface AoutSpec {
  loadAddr?: number;
  headerOffset?: number;
  textBytes?: number;
  headerAddr?: number;
  loadEndAddr?: number;
  bssEndAddr?: number;
  entryAddr?: number;
  flags?: number;
}

/** A flat a.out-kludge image: `textBytes` of pattern with the header at `headerOffset`. */
function makeAout(spec: AoutSpec = {}): Uint8Array {
  const load = spec.loadAddr ?? 0x200000;
  const at = spec.headerOffset ?? 0x40;
  const file = pattern(spec.textBytes ?? 0x400, 9);
  const v = new DataView(file.buffer);
  putHeader(v, at, spec.flags ?? 0x10003, 0, [
    spec.headerAddr ?? load + at,
    load,
    spec.loadEndAddr ?? load + file.length,
    spec.bssEndAddr ?? load + file.length + 0x2000,
    spec.entryAddr ?? load + 0x100,
  ]);
  return file;
}

function options(kernel: Uint8Array, extra: Partial<MultibootOptions> = {}): MultibootOptions {
  return { ramBytes: 64 * MiB, kernel: { name: 'kernel.elf', data: kernel }, mpTable: MP, ...extra };
}

/** Guest RAM (first `bytes`) with the image's writes applied. */
function ram(image: MultibootImage, bytes = 64 * MiB): Uint8Array {
  const mem = new Uint8Array(bytes);
  for (const w of image.writes) mem.set(w.data, w.address);
  return mem;
}

function cstr(mem: Uint8Array, at: number): string {
  const end = mem.indexOf(0, at);
  return new TextDecoder().decode(mem.subarray(at, end));
}

/** The information structure decoded from RAM, independently of the loader's code. */
function readInfo(mem: Uint8Array, at: number) {
  const v = new DataView(mem.buffer);
  const u32 = (a: number) => v.getUint32(a, true);
  const mods = Array.from({ length: u32(at + 20) }, (_, k) => {
    const e = u32(at + 24) + k * 16;
    return { start: u32(e), end: u32(e + 4), string: cstr(mem, u32(e + 8)), reserved: u32(e + 12) };
  });
  const mmap: { size: number; base: number; length: number; type: number }[] = [];
  for (let p = u32(at + 48); p < u32(at + 48) + u32(at + 44); p += u32(p) + 4) {
    mmap.push({ size: u32(p), base: u32(p + 4) + u32(p + 8) * 2 ** 32, length: u32(p + 12) + u32(p + 16) * 2 ** 32, type: u32(p + 20) });
  }
  return {
    flags: u32(at), memLower: u32(at + 4), memUpper: u32(at + 8), bootDevice: u32(at + 12),
    cmdline: cstr(mem, u32(at + 16)), mods, mmap, loader: cstr(mem, u32(at + 64)),
    syms: [u32(at + 28), u32(at + 32), u32(at + 36), u32(at + 40)], drives: [u32(at + 52), u32(at + 56)],
    configTable: u32(at + 60), apm: u32(at + 68), vbe: [u32(at + 72), u32(at + 76), u32(at + 80), u32(at + 84)],
  };
}

function expectRejected(fn: () => unknown, field: string, text: string): void {
  let error: unknown;
  try {
    fn();
  } catch (e) {
    error = e;
  }
  expect(error, `expected a BootImageError for ${field}`).toBeInstanceOf(BootImageError);
  expect((error as BootImageError).field).toBe(field);
  expect((error as Error).message).toContain(text);
}

describe('Multiboot kernel parsing', () => {
  it('ELF: PT_LOAD segments at p_paddr, other program headers skipped, entry as given', () => {
    const k = parseMultibootKernel('k', makeElf({
      extraPhdrs: 1,
      segments: [{ paddr: 0x100000, data: pattern(0x200, 1) }, { paddr: 0x180000, data: pattern(0x80, 2), memsz: 0x3000 }],
      entry: 0x100040,
    }));
    expect(k.format).toBe('elf');
    expect(k.flags).toBe(3);
    expect(k.headerOffset).toBe(52 + 3 * 32 + 12);
    expect(k.segments).toEqual([
      { address: 0x100000, fileOffset: 0x1000, fileBytes: 0x200, memBytes: 0x200 },
      { address: 0x180000, fileOffset: 0x1200, fileBytes: 0x80, memBytes: 0x3000 },
    ]);
    expect(k.entry).toBe(0x100040);
  });

  it('ELF: a higher-half entry is translated through its segment (p_vaddr -> p_paddr)', () => {
    const k = parseMultibootKernel('k', makeElf({ segments: [{ paddr: 0x100000, vaddr: 0xc0100000, data: pattern(0x100, 3) }], entry: 0xc0100020 }));
    expect(k.entry).toBe(0x100020);
  });

  it('a.out kludge: address fields give load address, file offset, bss and entry', () => {
    const k = parseMultibootKernel('k', makeAout({ loadAddr: 0x300000, headerOffset: 0x80, textBytes: 0x500 }));
    expect(k).toEqual({
      format: 'aout', headerOffset: 0x80, flags: 0x10003,
      segments: [{ address: 0x300000, fileOffset: 0, fileBytes: 0x500, memBytes: 0x2500 }],
      entry: 0x300100,
    });
    // Text starting after a file prologue: header_addr - load_addr smaller than the header offset.
    const skipped = parseMultibootKernel('k', makeAout({ loadAddr: 0x300000, headerOffset: 0x80, headerAddr: 0x300040, loadEndAddr: 0x300200, bssEndAddr: 0, entryAddr: 0x300000 }));
    expect(skipped.segments).toEqual([{ address: 0x300000, fileOffset: 0x40, fileBytes: 0x200, memBytes: 0x200 }]);
    // load_end_addr 0: the rest of the file.
    const rest = parseMultibootKernel('k', makeAout({ headerOffset: 0x20, textBytes: 0x700, loadEndAddr: 0, bssEndAddr: 0 }));
    expect(rest.segments[0]).toMatchObject({ fileBytes: 0x700, memBytes: 0x700 });
  });

  it('flags bit 16 on an ELF file: the address fields win', () => {
    const load = 0x400000;
    const elf = makeElf({ flags: 0x10003, headerOffset: 0x100, aoutFields: [load + 0x100, load, load + 0x200, load + 0x1000, load + 0x10] });
    const k = parseMultibootKernel('k', elf);
    expect(k.format).toBe('aout');
    expect(k.segments).toEqual([{ address: load, fileOffset: 0, fileBytes: 0x200, memBytes: 0x1000 }]);
  });

  it('finds the header anywhere 4-byte aligned in the first 8 KiB, not at an unaligned offset or beyond', () => {
    expect(parseMultibootKernel('k', makeElf({ headerOffset: 8192 - 12 })).headerOffset).toBe(8192 - 12);
    expectRejected(() => parseMultibootKernel('k', makeElf({ headerOffset: 8192 })), 'magic', 'no Multiboot header');
    expectRejected(() => parseMultibootKernel('k', makeElf({ headerOffset: 0x102 })), 'magic', 'no Multiboot header');
  });

  it('rejects malformed headers and ELF files, naming the field', () => {
    expectRejected(() => parseMultibootKernel('k', new Uint8Array(0)), 'magic', 'k: no Multiboot header (magic 0x1BADB002');
    expectRejected(() => parseMultibootKernel('k', makeElf({ checksumDelta: 1, headerOffset: 0x200 })), 'checksum', 'checksum at 0x208 is');
    expectRejected(() => parseMultibootKernel('k', makeElf({ flags: 0x7 })), 'flags', 'bit 2 requires video mode information');
    expectRejected(() => parseMultibootKernel('k', makeElf({ flags: 0x23 })), 'flags', 'required bits 0x0020 are not known');
    const notElf = makeElf();
    notElf[1] = 0x46;
    expectRejected(() => parseMultibootKernel('k', notElf), 'e_ident', 'not an ELF file');
    expectRejected(() => parseMultibootKernel('k', makeElf({ ident: { 4: 2 } })), 'EI_CLASS', 'EI_CLASS at 0x4 is 2; need 1 (ELFCLASS32)');
    expectRejected(() => parseMultibootKernel('k', makeElf({ ident: { 5: 2 } })), 'EI_DATA', 'is 2; need 1');
    expectRejected(() => parseMultibootKernel('k', makeElf({ type: 3 })), 'e_type', 'e_type at 0x10 is 3; need 2 (ET_EXEC)');
    expectRejected(() => parseMultibootKernel('k', makeElf({ machine: 62 })), 'e_machine', 'is 62; need 3 (EM_386)');
    expectRejected(() => parseMultibootKernel('k', makeElf({ phentsize: 16 })), 'e_phentsize', 'is 16');
    const tableCut = makeElf();
    new DataView(tableCut.buffer).setUint32(28, tableCut.length - 16, true); // e_phoff: the table runs past the end
    expectRejected(() => parseMultibootKernel('k', tableCut), 'e_phoff', 'truncated file: the program header table (1 entries at');
    expectRejected(() => parseMultibootKernel('k', makeElf({ segments: [{ paddr: 0x100000, data: pattern(0x100, 1), memsz: 0x80 }] })), 'p_filesz', 'more than p_memsz 0x80');
    const dataCut = makeElf({ segments: [{ paddr: 0x100000, data: pattern(0x100, 1) }] });
    expectRejected(() => parseMultibootKernel('k', dataCut.subarray(0, 0x1080)), 'p_offset', 'truncated file: segment 0 (256 bytes at file offset 0x1000)');
    expectRejected(() => parseMultibootKernel('k', makeElf({ segments: [{ paddr: 0x100000, data: new Uint8Array(0) }], entry: 0x100000 })), 'e_phnum', 'no PT_LOAD segment');
    expectRejected(() => parseMultibootKernel('k', makeElf({ entry: 0x90000 })), 'e_entry', 'is 0x90000, outside every loadable segment');
    expectRejected(() => parseMultibootKernel('k', makeElf({ segments: [{ paddr: 0xfffff000, data: pattern(0x10, 1), memsz: 0x2000 }] })), 'p_paddr', 'run past 4 GiB');
    expectRejected(() => parseMultibootKernel('k', makeElf({ segments: [{ paddr: 0x100000, data: pattern(0x100, 1), memsz: 0x2000 }, { paddr: 0x101000, data: pattern(0x10, 1) }] })), 'p_paddr', 'overlap');
  });

  it('rejects inconsistent a.out address fields, naming the field', () => {
    expectRejected(() => parseMultibootKernel('k', makeAout({ headerAddr: 0x1fff00 })), 'load_addr', 'above header_addr');
    expectRejected(() => parseMultibootKernel('k', makeAout({ headerAddr: 0x200000 + 0x80 })), 'header_addr', 'the text would start 128 bytes before the header, but the header is at file offset 0x40');
    expectRejected(() => parseMultibootKernel('k', makeAout({ loadEndAddr: 0x200000 })), 'load_end_addr', 'not above load_addr');
    expectRejected(() => parseMultibootKernel('k', makeAout({ loadEndAddr: 0x200800 })), 'load_end_addr', 'truncated file');
    expectRejected(() => parseMultibootKernel('k', makeAout({ bssEndAddr: 0x200100 })), 'bss_end_addr', 'below the end of the loaded text 0x200400');
    expectRejected(() => parseMultibootKernel('k', makeAout({ entryAddr: 0x200400 })), 'entry_addr', 'outside the loaded text');
    expectRejected(() => parseMultibootKernel('k', makeAout({ headerOffset: 0x48 }).subarray(0, 0x48 + 20)), 'entry_addr', 'truncated file: the Multiboot header address fields');
  });
});

describe('Multiboot boot layout', () => {
  const modules = [
    { name: 'initrd.cpio', data: pattern(0x1234, 7), cmdline: 'initrd.cpio rdinit=/init' },
    { name: 'second', data: pattern(0x10, 99) },
  ];

  it('entry state and the information structure with every field the loader gives', () => {
    const kernel = makeElf({ segments: [{ paddr: 0x100000, data: pattern(0x300, 1), memsz: 0x2100 }] });
    const image = buildMultibootBoot(options(kernel, { cmdline: '/boot/kernel console=com1', modules, ramBytes: 96 * MiB }));
    expect(image.entry).toEqual({ mode: 'flat32', eip: 0x100010, eax: 0x2badb002, ebx: MULTIBOOT_INFO_ADDRESS, ecx: 0, edx: 0, esi: 0, edi: 0, ebp: 0, esp: 0x10000 });
    const mem = ram(image, 96 * MiB);
    const info = readInfo(mem, image.entry.ebx);
    const map = buildE820Map({ ramBytes: 96 * MiB, reserved: image.reserved });
    expect(info).toEqual({
      flags: (1 << 0) | (1 << 2) | (1 << 3) | (1 << 6) | (1 << 9),
      memLower: 639, memUpper: 95 * 1024, bootDevice: 0,
      cmdline: '/boot/kernel console=com1',
      mods: [
        { start: 0x103000, end: 0x103000 + 0x1234, string: 'initrd.cpio rdinit=/init', reserved: 0 },
        { start: 0x105000, end: 0x105010, string: 'second', reserved: 0 },
      ],
      mmap: map.map((e) => ({ size: 20, base: e.base, length: e.length, type: e.type })),
      loader: 'x86-hypervisor',
      syms: [0, 0, 0, 0], drives: [0, 0], configTable: 0, apm: 0, vbe: [0, 0, 0, 0],
    });
    expect(image.modules).toEqual([{ name: 'initrd.cpio', address: 0x103000, bytes: 0x1234 }, { name: 'second', address: 0x105000, bytes: 0x10 }]);
    expect([...mem.subarray(0x103000, 0x103000 + 0x1234)]).toEqual([...modules[0].data]);
    expect([...mem.subarray(0x105000, 0x105010)]).toEqual([...modules[1].data]);
  });

  it('segments: file bytes then zero fill up to p_memsz', () => {
    const text = pattern(0x300, 1);
    const data = pattern(0x40, 2);
    const image = buildMultibootBoot(options(makeElf({ segments: [{ paddr: 0x100000, data: text }, { paddr: 0x200000, data, memsz: 0x1000 }] })));
    const w = image.writes.filter((x) => x.name.startsWith('kernel.elf segment'));
    expect(w.map((x) => [x.address, x.data.length])).toEqual([[0x100000, 0x300], [0x200000, 0x1000]]);
    expect([...w[0].data]).toEqual([...text]);
    expect([...w[1].data.subarray(0, 0x40)]).toEqual([...data]);
    expect(w[1].data.subarray(0x40).every((b) => b === 0)).toBe(true);
    // Modules go above the highest segment end, page-aligned.
    const withModule = buildMultibootBoot(options(makeElf({ segments: [{ paddr: 0x100000, data: text }, { paddr: 0x200000, data, memsz: 0x1001 }] }), { modules: [modules[1]] }));
    expect(withModule.modules[0].address).toBe(0x202000);
  });

  it('a.out kernel with bss: loaded at load_addr, bss zero, modules after bss_end', () => {
    const file = makeAout();
    const image = buildMultibootBoot(options(file, { modules: [modules[1]] }));
    const seg = image.writes.find((x) => x.name === 'kernel.elf segment 0')!;
    expect(seg.address).toBe(0x200000);
    expect([...seg.data.subarray(0, file.length)]).toEqual([...file]);
    expect(seg.data.length).toBe(0x2400);
    expect(seg.data.subarray(file.length).every((b) => b === 0)).toBe(true);
    expect(image.entry.eip).toBe(0x200100);
    expect(image.modules[0].address).toBe(0x203000);
  });

  it('modules skip reserved ranges and stop at the end of RAM', () => {
    const image = buildMultibootBoot(options(makeElf(), {
      modules: [{ name: 'big', data: new Uint8Array(0x3000) }],
      reserved: [{ name: 'hole', base: 0x101000, length: 0x2000 }],
    }));
    expect(image.modules[0].address).toBe(0x103000);
    const full = 4 * MiB - 0x101000;
    expect(buildMultibootBoot(options(makeElf(), { ramBytes: 4 * MiB, modules: [{ name: 'fits', data: new Uint8Array(full) }] })).modules[0].address).toBe(0x101000);
    expectRejected(() => buildMultibootBoot(options(makeElf(), { ramBytes: 4 * MiB, modules: [{ name: 'toobig', data: new Uint8Array(full + 1) }] })), 'size',
      'toobig: module of 3141633 bytes does not fit in usable RAM above 0x100800 (RAM size 0x400000)');
  });

  it('refuses segments outside usable RAM or over the loader\'s own structures', () => {
    expectRejected(() => buildMultibootBoot(options(makeElf({ segments: [{ paddr: 63 * MiB, data: pattern(0x10, 1), memsz: MiB + 1 }] }))), 'load address', 'is not in usable RAM');
    expectRejected(() => buildMultibootBoot(options(makeElf({ segments: [{ paddr: 0xa0000, data: pattern(0x100, 1) }] }))), 'load address', 'segment 0xA0000-0xA0100 is not in usable RAM');
    expectRejected(() => buildMultibootBoot(options(makeElf({ segments: [{ paddr: 0x10000, data: pattern(0x100, 1) }] }))), 'load address', "overlaps the loader's Multiboot information at 0x10000");
    expectRejected(() => buildMultibootBoot(options(makeElf({ segments: [{ paddr: 0x800, data: pattern(0x1000, 1) }] }))), 'load address', "overlaps the loader's boot GDT");
    expectRejected(() => buildMultibootBoot(options(makeElf({ segments: [{ paddr: 0x9f000, data: pattern(0x100, 1), memsz: 0xd00 }] }))), 'load address', 'MP tables');
    // Low memory that nothing uses is fine.
    expect(buildMultibootBoot(options(makeElf({ segments: [{ paddr: 0x30000, data: pattern(0x100, 1) }] }))).entry.eip).toBe(0x30010);
  });

  it('extra writes (e.g. ACPI tables) are kept clear of segments and modules', () => {
    const table = { name: 'ACPI tables', address: 0x30000, data: new Uint8Array(0x100) };
    expectRejected(() => buildMultibootBoot(options(makeElf({ segments: [{ paddr: 0x30000, data: pattern(0x100, 1) }] }), { extraWrites: [table] })), 'load address',
      "segment 0x30000-0x30100 overlaps the loader's ACPI tables at 0x30000-0x30100");
    const high = { name: 'high table', address: 0x101000, data: new Uint8Array(0x10) };
    const image = buildMultibootBoot(options(makeElf(), { extraWrites: [high], modules: [{ name: 'm', data: new Uint8Array(0x10) }] }));
    expect(image.modules[0].address).toBe(0x102000);
    expect(image.writes).toContain(high);
  });

  it('platformTables: false leaves out the MP tables and needs no mpTable', () => {
    const image = buildMultibootBoot({ ramBytes: 8 * MiB, kernel: { name: 'k', data: makeElf() }, platformTables: false });
    expect(image.writes.map((w) => w.name)).toEqual(['boot GDT', 'Multiboot information', 'k segment 0']);
    expect(() => buildMultibootBoot({ ramBytes: 8 * MiB, kernel: { name: 'k', data: makeElf() } })).toThrow('firmware options: mpTable:');
  });

  it('an information block too big for the space below the EBDA is refused', () => {
    expect(() => buildMultibootBoot(options(makeElf(), { cmdline: 'x'.repeat(0x90000) }))).toThrow(FirmwareConfigError);
  });
});
