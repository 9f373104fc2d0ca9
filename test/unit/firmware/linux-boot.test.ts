/**
 * Linux 32-bit boot protocol loader (src/firmware/linux-boot.ts): bzImage-shaped buffers
 * built here with the header fields each test needs, every boot_params byte checked, the
 * initrd placed against initrd_addr_max / RAM / the kernel footprint, every rejection
 * naming its field; and Debian's 686 kernel when it is on this machine.
 */
import { existsSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  BOOT_PARAMS_ADDRESS,
  buildLinuxBoot,
  CMDLINE_ADDRESS,
  HDR,
  KERNEL_LOAD_ADDRESS,
  parseBzImage,
  ZP,
  type LinuxBootImage,
  type LinuxBootOptions,
} from '../../../src/firmware/linux-boot.js';
import { BootImageError, FirmwareConfigError, flat32EntryOf } from '../../../src/firmware/boot-image.js';
import { buildE820Map } from '../../../src/firmware/e820.js';

const MiB = 0x100000;
const MP = { cpuSignature: 0x633, cpuFeatures: 0x0080a3ff };

interface ImageSpec {
  setupSects?: number;
  version?: number;
  loadflags?: number;
  relocatable?: number;
  kernelAlignment?: number;
  prefAddress?: number;
  initSize?: number;
  cmdlineSize?: number;
  initrdAddrMax?: number;
  xloadflags?: number;
  kernelBytes?: number;
  headerEnd?: number;
  syssizeBytes?: number;
  bootFlag?: number;
  magic?: number;
}

/** A bzImage-shaped file: boot sector + setup sectors with a setup header, then a patterned kernel. */
function makeImage(spec: ImageSpec = {}): Uint8Array {
  const setupSects = spec.setupSects ?? 4;
  const kernelBytes = spec.kernelBytes ?? 0x3000;
  const setupBytes = ((setupSects === 0 ? 4 : setupSects) + 1) * 512;
  const data = new Uint8Array(setupBytes + kernelBytes);
  const v = new DataView(data.buffer);
  // Fill the setup area with a pattern so that a wrong copy range shows.
  for (let k = 0; k < setupBytes; k++) data[k] = (k * 7 + 3) & 0xff;
  for (let k = setupBytes; k < data.length; k++) data[k] = (k * 13 + 1) & 0xff;
  data[HDR.setup_sects] = setupSects;
  v.setUint32(HDR.syssize, Math.floor((spec.syssizeBytes ?? kernelBytes) / 16), true);
  v.setUint16(HDR.boot_flag, spec.bootFlag ?? 0xaa55, true);
  const headerEnd = spec.headerEnd ?? 0x26c;
  data[HDR.jump] = 0xeb;
  data[HDR.jump + 1] = headerEnd - 0x202;
  v.setUint32(HDR.header, spec.magic ?? 0x53726448, true);
  v.setUint16(HDR.version, spec.version ?? 0x020f, true);
  data[HDR.type_of_loader] = 0;
  data[HDR.loadflags] = spec.loadflags ?? 0x01;
  v.setUint32(HDR.code32_start, 0x100000, true);
  v.setUint32(HDR.ramdisk_image, 0, true);
  v.setUint32(HDR.ramdisk_size, 0, true);
  v.setUint16(HDR.heap_end_ptr, 0x1234, true);
  v.setUint32(HDR.cmd_line_ptr, 0, true);
  v.setUint32(HDR.initrd_addr_max, spec.initrdAddrMax ?? 0x7fffffff, true);
  v.setUint32(HDR.kernel_alignment, spec.kernelAlignment ?? 0x200000, true);
  data[HDR.relocatable_kernel] = spec.relocatable ?? 1;
  v.setUint16(HDR.xloadflags, spec.xloadflags ?? 0, true);
  v.setUint32(HDR.cmdline_size, spec.cmdlineSize ?? 255, true);
  v.setBigUint64(HDR.pref_address, BigInt(spec.prefAddress ?? 0x1000000), true);
  v.setUint32(HDR.init_size, spec.initSize ?? 0x800000, true);
  return data;
}

function options(extra: Partial<LinuxBootOptions> & { image?: Uint8Array } = {}): LinuxBootOptions {
  return { ramBytes: 64 * MiB, kernel: { name: 'vmlinuz', data: extra.image ?? makeImage() }, mpTable: MP, ...extra };
}

/** Guest RAM (first `bytes`) with the image's writes applied. */
function ram(image: LinuxBootImage, bytes: number): Uint8Array {
  const mem = new Uint8Array(bytes);
  for (const w of image.writes) mem.set(w.data, w.address);
  return mem;
}

function bootParams(image: LinuxBootImage): { bytes: Uint8Array; v: DataView } {
  const w = image.writes.find((x) => x.name === 'boot_params');
  if (!w) throw new Error('no boot_params write');
  expect(w.address).toBe(BOOT_PARAMS_ADDRESS);
  return { bytes: w.data, v: new DataView(w.data.buffer, w.data.byteOffset, w.data.byteLength) };
}

function readU64(v: DataView, at: number): number {
  return v.getUint32(at, true) + v.getUint32(at + 4, true) * 2 ** 32;
}

/** Expect `fn` to throw a BootImageError for `field` whose message contains `text`. */
function expectRejected(fn: () => unknown, field: string, text: string): void {
  let error: unknown;
  try {
    fn();
  } catch (e) {
    error = e;
  }
  expect(error).toBeInstanceOf(BootImageError);
  expect((error as BootImageError).field).toBe(field);
  expect((error as Error).message).toContain(text);
}

/** Fields of the setup header the loader writes, with their sizes. */
const WRITTEN_FIELDS: [number, number][] = [
  [HDR.vid_mode, 2], [HDR.type_of_loader, 1], [HDR.loadflags, 1], [HDR.code32_start, 4],
  [HDR.ramdisk_image, 4], [HDR.ramdisk_size, 4], [HDR.heap_end_ptr, 2], [HDR.cmd_line_ptr, 4],
];

describe('bzImage header parsing', () => {
  it('reads the fields of a protocol 2.15 header', () => {
    const h = parseBzImage('vmlinuz', makeImage({ setupSects: 6, kernelBytes: 0x5000, kernelAlignment: 0x400000, initSize: 0x1234000, cmdlineSize: 2047, initrdAddrMax: 0x37ffffff }));
    expect(h).toEqual({
      setupSects: 6, version: 0x020f, headerEnd: 0x26c, loadflags: 1, code32Start: 0x100000,
      initrdAddrMax: 0x37ffffff, kernelAlignment: 0x400000, relocatable: true, xloadflags: 0,
      cmdlineSize: 2047, prefAddress: 0x1000000, initSize: 0x1234000, kernelOffset: 7 * 512, kernelBytes: 0x5000,
    });
  });

  it('setup_sects 0 means 4', () => {
    expect(parseBzImage('k', makeImage({ setupSects: 0 })).kernelOffset).toBe(5 * 512);
  });

  it('protocol 2.06: no pref_address or init_size read, shorter header accepted', () => {
    const h = parseBzImage('k', makeImage({ version: 0x0206, headerEnd: 0x23c }));
    expect(h.prefAddress).toBe(0);
    expect(h.initSize).toBe(0);
  });

  it('rejects malformed images, naming the field and offset', () => {
    expectRejected(() => parseBzImage('vmlinuz', makeImage().subarray(0, 0x100)), 'size', 'truncated file: 256 bytes');
    expectRejected(() => parseBzImage('vmlinuz', makeImage({ bootFlag: 0x1234 })), 'boot_flag', "setup header field 'boot_flag' at 0x1FE is 0x1234");
    expectRejected(() => parseBzImage('vmlinuz', makeImage({ magic: 0x12345678 })), 'header', "field 'header' at 0x202 is 0x12345678");
    expect(() => parseBzImage('vmlinuz', makeImage({ version: 0x0201 }))).toThrow(
      "vmlinuz: setup header field 'version' at 0x206 is 0x0201; need boot protocol >= 2.06");
    expectRejected(() => parseBzImage('vmlinuz', makeImage({ headerEnd: 0x250 })), 'jump', 'the setup header ends at 0x250 but protocol 2.0f has fields up to 0x264');
    expectRejected(() => parseBzImage('vmlinuz', makeImage().subarray(0, 0x260)), 'size', 'truncated file: 608 bytes');
    const shortKernel = makeImage({ setupSects: 4 }).subarray(0, 5 * 512);
    expectRejected(() => parseBzImage('vmlinuz', shortKernel), 'setup_sects', "field 'setup_sects' at 0x1F1 is 4; the protected-mode kernel would start at 0xA00, past the end of the file (2560 bytes)");
    expectRejected(() => parseBzImage('vmlinuz', makeImage({ syssizeBytes: 0x4000 })), 'syssize', 'says the protected-mode kernel has 16384 bytes');
    expectRejected(() => parseBzImage('vmlinuz', makeImage({ loadflags: 0x80 })), 'loadflags', 'LOADED_HIGH (bit 0) is clear');
    expectRejected(() => parseBzImage('vmlinuz', makeImage({ xloadflags: 0x3 })), 'xloadflags', 'XLF_KERNEL_64 is set');
    expectRejected(() => parseBzImage('vmlinuz', makeImage({ kernelAlignment: 0x3000 })), 'kernel_alignment', 'power-of-two');
  });
});

describe('Linux 32-bit boot layout', () => {
  it('entry state: flat32 at code32_start, ESI = boot_params, EBP = EDI = EBX = 0, stack below boot_params', () => {
    const image = buildLinuxBoot(options());
    expect(image.entry).toEqual({ mode: 'flat32', eip: 0x100000, eax: 0, ebx: 0, ecx: 0, edx: 0, esi: 0x10000, edi: 0, ebp: 0, esp: 0x10000 });
    expect(image.entry.esp).toBeLessThanOrEqual(BOOT_PARAMS_ADDRESS);
    expect(flat32EntryOf(image)).toEqual({ eip: 0x100000, regs: [0, 0, 0, 0, 0x10000, 0, 0x10000, 0], gdtBase: 0x1000, gdtLimit: 31, codeSelector: 0x10, dataSelector: 0x18 });
  });

  it('the GDT holds null, null, flat 4 GiB code (0x10) and data (0x18)', () => {
    const image = buildLinuxBoot(options());
    const mem = ram(image, 2 * MiB);
    const v = new DataView(mem.buffer);
    expect(image.gdt).toEqual({ base: 0x1000, limit: 31 });
    expect([...mem.subarray(0x1000, 0x1010)]).toEqual(new Array(16).fill(0));
    for (const [sel, access] of [[0x10, 0x9b], [0x18, 0x93]]) {
      const lo = v.getUint32(0x1000 + sel, true);
      const hi = v.getUint32(0x1000 + sel + 4, true);
      const base = (lo >>> 16) | ((hi & 0xff) << 16) | (hi & 0xff000000);
      const limit = (lo & 0xffff) | (hi & 0xf0000);
      expect(base).toBe(0);
      expect(limit).toBe(0xfffff);
      expect((hi >>> 8) & 0xff).toBe(access);
      expect((hi >>> 20) & 0xf).toBe(0xc); // G, D/B
    }
  });

  it('boot_params: setup header copied, the loader fields written, everything else zero but memory fields and e820', () => {
    const kernel = makeImage({ cmdlineSize: 100 });
    const initrd = new Uint8Array(0x2345).fill(0x5a);
    const image = buildLinuxBoot(options({ image: kernel, cmdline: 'console=ttyS0 root=/dev/ram0', initrd: { name: 'initrd.img', data: initrd } }));
    const { bytes, v } = bootParams(image);
    expect(bytes.length).toBe(4096);
    const written = new Set<number>();
    const mark = (at: number, size: number) => { for (let k = 0; k < size; k++) written.add(at + k); };
    // Setup header: copied byte for byte except the fields a loader writes.
    for (const [at, size] of WRITTEN_FIELDS) mark(at, size);
    for (let at = 0x1f1; at < 0x26c; at++) if (!written.has(at)) expect(bytes[at], `header byte ${at.toString(16)}`).toBe(kernel[at]);
    expect(v.getUint16(HDR.vid_mode, true)).toBe(0xffff);
    expect(bytes[HDR.type_of_loader]).toBe(0xff);
    expect(bytes[HDR.loadflags]).toBe(0x01);
    expect(v.getUint32(HDR.code32_start, true)).toBe(KERNEL_LOAD_ADDRESS);
    expect(v.getUint32(HDR.ramdisk_image, true)).toBe(image.layout.initrd?.address);
    expect(v.getUint32(HDR.ramdisk_size, true)).toBe(0x2345);
    expect(v.getUint16(HDR.heap_end_ptr, true)).toBe(0);
    expect(v.getUint32(HDR.cmd_line_ptr, true)).toBe(CMDLINE_ADDRESS);
    for (let at = 0x1f1; at < 0x26c; at++) written.add(at);
    // Memory sizes: 63 MiB above 1 MiB.
    expect(v.getUint16(ZP.ext_mem_k, true)).toBe(63 * 1024);
    expect(v.getUint32(ZP.alt_mem_k, true)).toBe(63 * 1024);
    mark(ZP.ext_mem_k, 2);
    mark(ZP.alt_mem_k, 4);
    // e820 table.
    const expected = buildE820Map({ ramBytes: 64 * MiB, reserved: image.reserved });
    expect(image.e820).toEqual(expected);
    expect(bytes[ZP.e820_entries]).toBe(expected.length);
    mark(ZP.e820_entries, 1);
    expected.forEach((e, k) => {
      const at = ZP.e820_table + k * 20;
      expect([readU64(v, at), readU64(v, at + 8), v.getUint32(at + 16, true)]).toEqual([e.base, e.length, e.type]);
      mark(at, 20);
    });
    // No VGA text console: isVGA, lines, cols zero; sentinel zero; the rest zero too.
    expect([bytes[ZP.orig_video_isVGA], bytes[ZP.orig_video_lines], bytes[ZP.orig_video_cols], bytes[ZP.sentinel]]).toEqual([0, 0, 0, 0]);
    for (let at = 0; at < 4096; at++) if (!written.has(at)) expect(bytes[at], `boot_params byte ${at.toString(16)}`).toBe(0);
  });

  it('CAN_USE_HEAP is cleared, other loadflags kept', () => {
    const image = buildLinuxBoot(options({ image: makeImage({ loadflags: 0x81 | 0x20 }) }));
    expect(bootParams(image).bytes[HDR.loadflags]).toBe(0x21);
  });

  it('command line: NUL-terminated at 0x20000; cmdline_size long is accepted, one more is refused', () => {
    const line = 'x'.repeat(100);
    const image = buildLinuxBoot(options({ image: makeImage({ cmdlineSize: 100 }), cmdline: line }));
    const mem = ram(image, 2 * MiB);
    expect(new TextDecoder().decode(mem.subarray(CMDLINE_ADDRESS, CMDLINE_ADDRESS + 100))).toBe(line);
    expect(mem[CMDLINE_ADDRESS + 100]).toBe(0);
    expectRejected(() => buildLinuxBoot(options({ image: makeImage({ cmdlineSize: 100 }), cmdline: line + 'y' })), 'cmdline_size',
      "the command line has 101 bytes but setup header field 'cmdline_size' at 0x238 allows 100");
    expect(() => buildLinuxBoot(options({ cmdline: 'a\0b' }))).toThrow(FirmwareConfigError);
  });

  it('an empty command line is still a valid pointer to a NUL', () => {
    const image = buildLinuxBoot(options());
    const mem = ram(image, 2 * MiB);
    expect(mem[CMDLINE_ADDRESS]).toBe(0);
  });

  it('the protected-mode kernel lands at 1 MiB, exactly the bytes after the setup sectors', () => {
    const kernel = makeImage({ setupSects: 3, kernelBytes: 0x4321 });
    const image = buildLinuxBoot(options({ image: kernel }));
    const mem = ram(image, 2 * MiB);
    expect([...mem.subarray(0x100000, 0x100000 + 0x4321)]).toEqual([...kernel.subarray(4 * 512)]);
    expect(mem[0x100000 + 0x4321]).toBe(0);
    expect(image.layout.kernel).toEqual({ address: 0x100000, bytes: 0x4321 });
  });

  it('footprint: relocatable kernel runs at max(align_up(1 MiB), pref_address) for init_size', () => {
    const a = buildLinuxBoot(options({ image: makeImage({ kernelAlignment: 0x200000, prefAddress: 0x1000000, initSize: 0x800000 }) }));
    expect(a.layout.footprint).toEqual({ start: 0x100000, end: 0x1800000 });
    const b = buildLinuxBoot(options({ image: makeImage({ kernelAlignment: 0x400000, prefAddress: 0x100000, initSize: 0x300000 }) }));
    expect(b.layout.footprint).toEqual({ start: 0x100000, end: 0x700000 });
    const nonReloc = buildLinuxBoot(options({ image: makeImage({ relocatable: 0, prefAddress: 0x200000, initSize: 0x100000 }) }));
    expect(nonReloc.layout.footprint).toEqual({ start: 0x100000, end: 0x300000 });
    const old = buildLinuxBoot(options({ image: makeImage({ version: 0x0206, headerEnd: 0x23c, kernelBytes: 0x8000 }) }));
    expect(old.layout.footprint).toEqual({ start: 0x100000, end: 0x108000 });
  });

  it('initrd: page-aligned, as high as RAM allows, above the footprint, bytes copied', () => {
    for (const ramBytes of [32 * MiB, 64 * MiB, 200 * MiB + 0x3000]) {
      const data = new Uint8Array(0x12345).map((_, k) => k & 0xff);
      const image = buildLinuxBoot(options({ ramBytes, initrd: { name: 'initrd', data } }));
      const at = image.layout.initrd!.address;
      expect(at % 4096).toBe(0);
      expect(at + data.length).toBeLessThanOrEqual(ramBytes);
      expect(at + data.length + 4096).toBeGreaterThan(ramBytes); // not a page higher
      expect(at).toBeGreaterThanOrEqual(image.layout.footprint.end);
      const w = image.writes.find((x) => x.name === 'initrd')!;
      expect(w.address).toBe(at);
      expect(w.data).toBe(data);
    }
  });

  it('initrd: kept below initrd_addr_max + 1 (the highest byte it may occupy)', () => {
    const image = buildLinuxBoot(options({ image: makeImage({ initrdAddrMax: 0x2ffffff }), ramBytes: 128 * MiB, initrd: { name: 'initrd', data: new Uint8Array(0x1800) } }));
    expect(image.layout.initrd!.address).toBe(0x3000000 - 0x2000);
    // initrd_addr_max 0x2FFFFFF with an exactly page-sized initrd ends on the limit.
    const exact = buildLinuxBoot(options({ image: makeImage({ initrdAddrMax: 0x2ffffff }), ramBytes: 128 * MiB, initrd: { name: 'initrd', data: new Uint8Array(0x2000) } }));
    expect(exact.layout.initrd!.address + 0x2000 - 1).toBe(0x2ffffff);
  });

  it('initrd: refused with the sizes when it does not fit between the footprint and the ceiling', () => {
    // 32 MiB RAM, footprint ends at 24 MiB: 8 MiB of room.
    expect(buildLinuxBoot(options({ ramBytes: 32 * MiB, initrd: { name: 'initrd', data: new Uint8Array(8 * MiB) } })).layout.initrd!.address).toBe(24 * MiB);
    expectRejected(() => buildLinuxBoot(options({ ramBytes: 32 * MiB, initrd: { name: 'initrd', data: new Uint8Array(8 * MiB + 1) } })), 'size',
      "initrd: 8388609 bytes do not fit in usable RAM between the kernel's end 0x1800000 and 0x2000000 (initrd_addr_max 0x7FFFFFFF, RAM size 0x2000000)");
    expectRejected(() => buildLinuxBoot(options({ image: makeImage({ initrdAddrMax: 0x17fffff }), initrd: { name: 'initrd', data: new Uint8Array(4096) } })), 'size',
      'initrd_addr_max 0x17FFFFF');
    expectRejected(() => buildLinuxBoot(options({ initrd: { name: 'initrd', data: new Uint8Array(0) } })), 'size', 'initrd: the initrd is empty');
  });

  it('refuses a kernel whose init_size or image does not fit in RAM', () => {
    expectRejected(() => buildLinuxBoot(options({ ramBytes: 16 * MiB })), 'init_size',
      "vmlinuz: setup header field 'init_size' at 0x260 is 0x800000: the kernel needs [0x1000000, 0x1800000) while decompressing");
    expectRejected(() => buildLinuxBoot(options({ ramBytes: 2 * MiB, image: makeImage({ kernelBytes: MiB + 4096, initSize: 0, prefAddress: 0x100000 }) })), 'size',
      'the protected-mode kernel (1052672 bytes from file offset 0xA00) does not fit in usable RAM');
  });

  it('platform tables: MP tables written and reserved by default, absent with platformTables: false', () => {
    const withTables = buildLinuxBoot(options());
    expect(withTables.writes.map((w) => w.name)).toContain('MP tables');
    expect(withTables.reserved.map((r) => r.name)).toEqual(['MP tables']);
    const mem = ram(withTables, 2 * MiB);
    expect(String.fromCharCode(...mem.subarray(0x9fc00, 0x9fc04))).toBe('_MP_');
    const without = buildLinuxBoot({ ramBytes: 64 * MiB, kernel: { name: 'vmlinuz', data: makeImage() }, platformTables: false });
    expect(without.writes.map((w) => w.name)).toEqual(['boot GDT', 'boot_params', 'kernel command line', 'vmlinuz (protected-mode kernel)']);
    expect(() => buildLinuxBoot({ ramBytes: 64 * MiB, kernel: { name: 'vmlinuz', data: makeImage() } })).toThrow('firmware options: mpTable:');
  });

  it('acpi_rsdp_addr: written as a u64 at 0x070 when given, refused when misaligned', () => {
    const { v } = bootParams(buildLinuxBoot(options({ acpiRsdpAddress: 0xe0000 })));
    expect(readU64(v, ZP.acpi_rsdp_addr)).toBe(0xe0000);
    expect(readU64(v, ZP.acpi_rsdp_addr)).not.toBe(readU64(bootParams(buildLinuxBoot(options())).v, ZP.acpi_rsdp_addr));
    expect(() => buildLinuxBoot(options({ acpiRsdpAddress: 0xe0008 }))).toThrow('firmware options: acpiRsdpAddress:');
  });

  it('extra writes are placed too and checked against the loader\'s own', () => {
    const acpi = { name: 'ACPI tables', address: 0xe0000, data: new Uint8Array(0x200).fill(1) };
    const image = buildLinuxBoot(options({ extraWrites: [acpi] }));
    expect(image.writes).toContain(acpi);
    expect(() => buildLinuxBoot(options({ extraWrites: [{ name: 'clash', address: BOOT_PARAMS_ADDRESS + 0x800, data: new Uint8Array(16) }] })))
      .toThrow('firmware options: clash: [0x10800, 0x10810) overlaps boot_params [0x10000, 0x11000)');
  });

  it('an e820 map of more than 128 entries does not fit in boot_params', () => {
    // Each hole in high RAM adds two entries (the hole and the RAM after it): 5 fixed + 2 * 62 = 129.
    const holes = (n: number) => Array.from({ length: n }, (_, k) => ({ name: `hole${k}`, base: 48 * MiB + k * 0x2000, length: 0x1000 }));
    expect(buildLinuxBoot(options({ reserved: holes(61) })).e820).toHaveLength(127);
    expect(() => buildLinuxBoot(options({ reserved: holes(62) }))).toThrow('the e820 map has 129 entries; boot_params holds 128');
  });

  it('no two writes overlap and all lie in RAM', () => {
    const image = buildLinuxBoot(options({ cmdline: 'quiet', initrd: { name: 'initrd', data: new Uint8Array(50000) } }));
    const sorted = [...image.writes].sort((a, b) => a.address - b.address);
    for (let k = 1; k < sorted.length; k++) expect(sorted[k].address).toBeGreaterThanOrEqual(sorted[k - 1].address + sorted[k - 1].data.length);
    expect(sorted.at(-1)!.address + sorted.at(-1)!.data.length).toBeLessThanOrEqual(64 * MiB);
  });
});

const DEBIAN_KERNEL = '/tmp/deb/k/boot/vmlinuz-6.1.0-50-686';
const haveDebian = existsSync(DEBIAN_KERNEL);
if (!haveDebian) console.log(`linux-boot.test: skipping the Debian kernel case: ${DEBIAN_KERNEL} is not on this machine (the real-kernel boot test covers it in CI)`);

describe('Debian 6.1 686 kernel', () => {
  it.skipIf(!haveDebian)(`parses ${DEBIAN_KERNEL} and lays it out in 128 MiB with an initrd`, () => {
    const data = new Uint8Array(readFileSync(DEBIAN_KERNEL));
    const v = new DataView(data.buffer, data.byteOffset, data.byteLength);
    const h = parseBzImage('vmlinuz-6.1.0-50-686', data);
    // Compare with the raw fields read here.
    expect(h.version).toBe(v.getUint16(0x206, true));
    expect(h.version).toBeGreaterThanOrEqual(0x020a);
    expect(h.kernelOffset).toBe((data[0x1f1] + 1) * 512);
    expect(h.kernelBytes).toBe(v.getUint32(0x1f4, true) * 16);
    expect(h.relocatable).toBe(true);
    expect(h.prefAddress).toBe(v.getUint32(0x258, true));
    expect(h.initSize).toBe(v.getUint32(0x260, true));
    expect(h.cmdlineSize).toBe(v.getUint32(0x238, true));
    const initrd = new Uint8Array(3 * MiB + 123);
    const image = buildLinuxBoot({
      ramBytes: 128 * MiB, kernel: { name: 'vmlinuz', data }, initrd: { name: 'initrd', data: initrd },
      cmdline: 'console=ttyS0,115200 earlyprintk=serial panic=-1', mpTable: MP,
    });
    expect(image.layout.footprint.end).toBe(h.prefAddress + h.initSize);
    const at = image.layout.initrd!.address;
    expect(at).toBe(128 * MiB - 3 * MiB - 4096); // 3 MiB + 123 bytes, page-aligned down from the top
    expect(at).toBeGreaterThanOrEqual(image.layout.footprint.end);
    const bp = bootParams(image);
    expect(bp.v.getUint32(HDR.ramdisk_image, true)).toBe(at);
    expect(bp.v.getUint32(HDR.init_size, true)).toBe(h.initSize);
    expect([...bp.bytes.subarray(0x1f1, h.headerEnd)].filter((_, k) => !WRITTEN_FIELDS.some(([o, s]) => k + 0x1f1 >= o && k + 0x1f1 < o + s)))
      .toEqual([...data.subarray(0x1f1, h.headerEnd)].filter((_, k) => !WRITTEN_FIELDS.some(([o, s]) => k + 0x1f1 >= o && k + 0x1f1 < o + s)));
    // 32 MiB is not enough: the decompressor needs pref_address + init_size.
    expectRejected(() => buildLinuxBoot({ ramBytes: 32 * MiB, kernel: { name: 'vmlinuz', data }, mpTable: MP }), 'init_size', 'RAM too small');
  });
});
