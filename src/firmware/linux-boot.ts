/**
 * Linux x86 boot protocol, 32-bit entry (Documentation/arch/x86/boot.rst: "The Real-Mode
 * Kernel Header", "Details of Header Fields", "Loading The Rest of The Kernel", "32-bit
 * Boot Protocol"; Documentation/arch/x86/zero-page.rst for struct boot_params).
 *
 * `parseBzImage` reads and checks the setup header of a bzImage; `buildLinuxBoot` lays the
 * kernel, its boot_params ("zero page"), command line and initrd out in guest RAM and
 * returns the flat 32-bit entry state. We never run the real-mode setup code: the setup
 * header is copied into a zeroed boot_params and the protected-mode part is entered
 * directly, which is what the 32-bit protocol is for.
 *
 * Choices (each follows the spec unless said otherwise):
 *  - Needs protocol >= 2.06 (cmdline_size) and LOADED_HIGH (a bzImage). A 64-bit kernel
 *    (xloadflags XLF_KERNEL_64) is refused: this machine is a 32-bit 686 CPU.
 *  - The protected-mode part (file offset (setup_sects + 1) * 512, setup_sects 0 meaning 4)
 *    is loaded at 1 MiB, the bzImage address, and code32_start/EIP set to it. A relocatable
 *    kernel may be loaded elsewhere (pref_address), but 1 MiB suits every bzImage: a
 *    relocatable kernel moves itself to its runtime address while decompressing, a
 *    non-relocatable one to pref_address.
 *  - Runtime footprint: [runtime_start, runtime_start + init_size) must be usable RAM and is
 *    kept clear of the initrd. runtime_start is pref_address for a non-relocatable kernel;
 *    for a relocatable one boot.rst gives align_up(load address, kernel_alignment), and
 *    Linux's 32-bit decompressor (arch/x86/boot/compressed/head_32.S) also never goes below
 *    LOAD_PHYSICAL_ADDR, which the header exports as pref_address, so we take the larger of
 *    the two (e.g. 16 MiB for Debian's 686 kernels, init_size ~16 MiB above that). Before
 *    protocol 2.10 there is no init_size: only the loaded image is kept clear.
 *  - boot_params at 0x10000 (4 KiB, zeroed), command line at 0x20000 (NUL-terminated, at
 *    most cmdline_size bytes), ESP = 0x10000 (the free pages below boot_params; Linux's
 *    startup_32 uses boot_params.scratch as its first stack anyway).
 *  - boot_params fields written: the setup header (0x1F1 to 0x202 + the byte at 0x201)
 *    copied from the image, then vid_mode = 0xFFFF ("normal"), type_of_loader = 0xFF
 *    (undefined loader), loadflags with CAN_USE_HEAP cleared (no real-mode heap),
 *    heap_end_ptr = 0, code32_start = 1 MiB, cmd_line_ptr, ramdisk_image/ramdisk_size;
 *    e820_entries (0x1E8) and e820_table (0x2D0, at most 128 entries); the legacy
 *    ext_mem_k (screen_info 0x02, KiB above 1 MiB capped at 0xFFFF) and alt_mem_k (0x1E0,
 *    KiB above 1 MiB); acpi_rsdp_addr (0x070) when given. screen_info is otherwise zero:
 *    orig_video_isVGA = 0 and orig_video_lines/cols = 0. Linux 6.1 then prints nothing on
 *    a VGA screen: the decompressor's __putstr skips the screen when lines or cols is 0,
 *    and vgacon_startup falls back to the dummy console when lines or cols is 0 — the
 *    console is ttyS0.
 *  - The initrd goes page-aligned as high as possible in usable RAM below
 *    min(initrd_addr_max + 1, 4 GiB) and above the kernel's footprint; one that does not
 *    fit is refused with the sizes involved.
 *  - With `platformTables` (default true) the MP tables (mp-table.ts) are written too.
 */
import {
  BOOT_STACK_TOP,
  BootImageError,
  FirmwareConfigError,
  alignDown,
  alignUp,
  assertWritesFit,
  buildBootGdt,
  cString,
  hex,
  type BootImage,
  type E820Entry,
  type MemoryWrite,
  type ReservedRegion,
} from './boot-image.js';
import { buildE820Map, encodeE820Entries, E820_RAM, upperMemoryKiB, usableEntryContaining } from './e820.js';
import { platformWrites, type MpTableOptions } from './mp-table.js';

/** Where the protected-mode kernel is loaded. */
export const KERNEL_LOAD_ADDRESS = 0x10_0000;
/** Where boot_params (the zero page) goes. */
export const BOOT_PARAMS_ADDRESS = 0x1_0000;
/** Where the command line goes. */
export const CMDLINE_ADDRESS = 0x2_0000;
/** Size of struct boot_params. */
export const BOOT_PARAMS_BYTES = 4096;
/** type_of_loader for a loader without an assigned ID. */
export const LOADER_TYPE_UNDEFINED = 0xff;
/** Most e820 entries boot_params holds (E820_MAX_ENTRIES_ZEROPAGE). */
export const ZERO_PAGE_E820_MAX = 128;

/** Setup header offsets (boot.rst, "The Real-Mode Kernel Header"). */
export const HDR = {
  setup_sects: 0x1f1,
  syssize: 0x1f4,
  vid_mode: 0x1fa,
  boot_flag: 0x1fe,
  jump: 0x200,
  header: 0x202,
  version: 0x206,
  type_of_loader: 0x210,
  loadflags: 0x211,
  code32_start: 0x214,
  ramdisk_image: 0x218,
  ramdisk_size: 0x21c,
  heap_end_ptr: 0x224,
  cmd_line_ptr: 0x228,
  initrd_addr_max: 0x22c,
  kernel_alignment: 0x230,
  relocatable_kernel: 0x234,
  min_alignment: 0x235,
  xloadflags: 0x236,
  cmdline_size: 0x238,
  pref_address: 0x258,
  init_size: 0x260,
} as const;

/** boot_params offsets outside the setup header (zero-page.rst, screen_info.h). */
export const ZP = {
  ext_mem_k: 0x002,
  acpi_rsdp_addr: 0x070,
  orig_video_cols: 0x007,
  orig_video_lines: 0x00e,
  orig_video_isVGA: 0x00f,
  alt_mem_k: 0x1e0,
  e820_entries: 0x1e8,
  sentinel: 0x1ef,
  e820_table: 0x2d0,
} as const;

/** loadflags bits. */
export const LOADED_HIGH = 0x01;
export const CAN_USE_HEAP = 0x80;
/** xloadflags bit: a 64-bit kernel. */
export const XLF_KERNEL_64 = 0x01;

const BOOT_FLAG = 0xaa55;
const HDRS_MAGIC = 0x53726448; // "HdrS"
const MIN_VERSION = 0x0206;
const VERSION_2_10 = 0x020a;
const VERSION_2_12 = 0x020c;
const SECTOR = 512;
const PAGE = 4096;
const FOUR_GIB = 0x1_0000_0000;
const VID_MODE_NORMAL = 0xffff;

/** The setup header fields the loader uses. */
export interface BzImageHeader {
  readonly setupSects: number;
  readonly version: number;
  /** End (exclusive, file offset) of the setup header: 0x202 + the byte at 0x201. */
  readonly headerEnd: number;
  readonly loadflags: number;
  readonly code32Start: number;
  readonly initrdAddrMax: number;
  readonly kernelAlignment: number;
  readonly relocatable: boolean;
  readonly xloadflags: number;
  readonly cmdlineSize: number;
  /** 0 before protocol 2.10. */
  readonly prefAddress: number;
  /** 0 before protocol 2.10. */
  readonly initSize: number;
  /** File offset of the protected-mode kernel. */
  readonly kernelOffset: number;
  /** Bytes of the protected-mode kernel (the rest of the file). */
  readonly kernelBytes: number;
}

/** A kernel or initrd file. */
export interface BootFile {
  readonly name: string;
  readonly data: Uint8Array;
}

/** What to boot. */
export interface LinuxBootOptions {
  /** Guest RAM size (see e820.ts for the limits). */
  readonly ramBytes: number;
  readonly kernel: BootFile;
  readonly initrd?: BootFile;
  /** Kernel command line (default empty). */
  readonly cmdline?: string;
  /** Write the MP tables (default true); needs `mpTable`. */
  readonly platformTables?: boolean;
  readonly mpTable?: MpTableOptions;
  /** Size of the firmware ROM alias below 4 GiB, if a ROM is loaded (e820). */
  readonly romAliasBytes?: number;
  /** More ranges to report reserved. */
  readonly reserved?: readonly ReservedRegion[];
  /** Physical address of the ACPI RSDP, written to boot_params.acpi_rsdp_addr (default 0: Linux scans for it). */
  readonly acpiRsdpAddress?: number;
  /** More bytes to place (e.g. ACPI tables); checked against every other write. */
  readonly extraWrites?: readonly MemoryWrite[];
}

/** Where things went. */
export interface LinuxBootLayout {
  readonly bootParams: number;
  readonly cmdline: number;
  readonly kernel: { readonly address: number; readonly bytes: number };
  /** Memory the kernel occupies until it has read the memory map. */
  readonly footprint: { readonly start: number; readonly end: number };
  readonly initrd?: { readonly address: number; readonly bytes: number };
}

/** A BootImage plus the parsed header and the layout. */
export interface LinuxBootImage extends BootImage {
  readonly header: BzImageHeader;
  readonly layout: LinuxBootLayout;
}

/** Little-endian readers over a file that name the file in their errors. */
class HeaderReader {
  private readonly view: DataView;
  constructor(readonly name: string, readonly data: Uint8Array) {
    this.view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  }
  u8(offset: number): number { return this.view.getUint8(offset); }
  u16(offset: number): number { return this.view.getUint16(offset, true); }
  u32(offset: number): number { return this.view.getUint32(offset, true); }
  u64(offset: number): number { return Number(this.view.getBigUint64(offset, true)); }

  /** Throws a truncation error unless the file has at least `bytes` bytes. */
  need(bytes: number, what: string): void {
    if (this.data.length < bytes) {
      throw new BootImageError(this.name, 'size', this.data.length, `truncated file: ${this.data.length} bytes, but ${what} needs ${bytes}`);
    }
  }

  /** An error about header field `field`. */
  fieldError(field: keyof typeof HDR | 'jump', value: string, problem: string): BootImageError {
    const offset = HDR[field];
    return new BootImageError(this.name, field, offset, `setup header field '${field}' at ${hex(offset)} is ${value}; ${problem}`);
  }
}

/** Protocol version as "2.06". */
function versionText(version: number): string {
  return `${version >> 8}.${(version & 0xff).toString(16).padStart(2, '0')}`;
}

/** Parse and check the setup header of a bzImage (see the module header for what is refused). */
export function parseBzImage(name: string, data: Uint8Array): BzImageHeader {
  const r = new HeaderReader(name, data);
  r.need(HDR.boot_flag + 2, 'the boot sector');
  const bootFlag = r.u16(HDR.boot_flag);
  if (bootFlag !== BOOT_FLAG) throw r.fieldError('boot_flag', hex(bootFlag, 4), `need ${hex(BOOT_FLAG, 4)}: not a Linux kernel image`);
  r.need(HDR.version + 2, 'the setup header');
  const magic = r.u32(HDR.header);
  if (magic !== HDRS_MAGIC) throw r.fieldError('header', hex(magic, 8), `need ${hex(HDRS_MAGIC, 8)} ("HdrS"): kernel too old for the 2.00+ boot protocol`);
  const version = r.u16(HDR.version);
  if (version < MIN_VERSION) throw r.fieldError('version', hex(version, 4), `need boot protocol >= ${versionText(MIN_VERSION)}`);
  const headerEnd = HDR.header + r.u8(HDR.jump + 1);
  const neededEnd = version >= VERSION_2_10 ? HDR.init_size + 4 : HDR.cmdline_size + 4;
  if (headerEnd < neededEnd) {
    throw r.fieldError('jump', hex(r.u16(HDR.jump), 4), `the setup header ends at ${hex(headerEnd)} but protocol ${versionText(version)} has fields up to ${hex(neededEnd)}`);
  }
  r.need(headerEnd, 'the setup header');
  const setupSectsField = r.u8(HDR.setup_sects);
  const setupSects = setupSectsField === 0 ? 4 : setupSectsField;
  const kernelOffset = (setupSects + 1) * SECTOR;
  if (kernelOffset >= data.length) {
    throw r.fieldError('setup_sects', String(setupSectsField), `the protected-mode kernel would start at ${hex(kernelOffset)}, past the end of the file (${data.length} bytes)`);
  }
  const syssizeBytes = r.u32(HDR.syssize) * 16;
  if (kernelOffset + syssizeBytes > data.length) {
    throw new BootImageError(name, 'syssize', HDR.syssize, `truncated file: setup header field 'syssize' at ${hex(HDR.syssize)} says the protected-mode kernel has ${syssizeBytes} bytes from ${hex(kernelOffset)}, but the file has ${data.length} bytes`);
  }
  const loadflags = r.u8(HDR.loadflags);
  if (!(loadflags & LOADED_HIGH)) throw r.fieldError('loadflags', hex(loadflags, 2), 'LOADED_HIGH (bit 0) is clear: a zImage, not a bzImage; only bzImages are supported');
  const xloadflags = version >= VERSION_2_12 ? r.u16(HDR.xloadflags) : 0;
  if (xloadflags & XLF_KERNEL_64) throw r.fieldError('xloadflags', hex(xloadflags, 4), 'XLF_KERNEL_64 is set: a 64-bit kernel; this machine has a 32-bit CPU');
  const relocatable = r.u8(HDR.relocatable_kernel) !== 0;
  const kernelAlignment = r.u32(HDR.kernel_alignment);
  if (relocatable && (kernelAlignment < PAGE || (kernelAlignment & (kernelAlignment - 1)) !== 0)) {
    throw r.fieldError('kernel_alignment', hex(kernelAlignment), 'a relocatable kernel needs a power-of-two alignment of at least 4 KiB');
  }
  const cmdlineSize = r.u32(HDR.cmdline_size);
  return {
    setupSects,
    version,
    headerEnd,
    loadflags,
    code32Start: r.u32(HDR.code32_start),
    initrdAddrMax: r.u32(HDR.initrd_addr_max),
    kernelAlignment,
    relocatable,
    xloadflags,
    cmdlineSize,
    prefAddress: version >= VERSION_2_10 ? r.u64(HDR.pref_address) : 0,
    initSize: version >= VERSION_2_10 ? r.u32(HDR.init_size) : 0,
    kernelOffset,
    kernelBytes: data.length - kernelOffset,
  };
}

/** The range the kernel occupies until it has read the memory map (see the module header). */
export function kernelFootprint(h: BzImageHeader, loadAddress = KERNEL_LOAD_ADDRESS): { start: number; end: number; runtimeStart: number } {
  const loadEnd = loadAddress + h.kernelBytes;
  if (h.version < VERSION_2_10) return { start: loadAddress, end: loadEnd, runtimeStart: loadAddress };
  let runtimeStart: number;
  if (h.relocatable) runtimeStart = Math.max(alignUp(loadAddress, h.kernelAlignment), h.prefAddress);
  else runtimeStart = h.prefAddress !== 0 ? h.prefAddress : loadAddress;
  return {
    start: Math.min(loadAddress, runtimeStart),
    end: Math.max(loadEnd, runtimeStart + h.initSize),
    runtimeStart,
  };
}

/** Checks that the kernel's footprint is usable RAM; throws naming init_size or the file size. */
function checkFootprint(name: string, h: BzImageHeader, map: readonly E820Entry[], fp: { start: number; end: number; runtimeStart: number }): void {
  if (usableEntryContaining(map, fp.start, fp.end)) return;
  const loadEnd = KERNEL_LOAD_ADDRESS + h.kernelBytes;
  if (!usableEntryContaining(map, KERNEL_LOAD_ADDRESS, loadEnd)) {
    throw new BootImageError(name, 'size', h.kernelOffset, `the protected-mode kernel (${h.kernelBytes} bytes from file offset ${hex(h.kernelOffset)}) does not fit in usable RAM at ${hex(KERNEL_LOAD_ADDRESS)}-${hex(loadEnd)}`);
  }
  throw new BootImageError(name, 'init_size', HDR.init_size, `setup header field 'init_size' at ${hex(HDR.init_size)} is ${hex(h.initSize)}: the kernel needs [${hex(fp.runtimeStart)}, ${hex(fp.runtimeStart + h.initSize)}) while decompressing, which is not usable RAM (RAM too small)`);
}

/** Highest page-aligned address for `bytes` in usable RAM within [low, ceiling), or -1. */
export function placeHigh(map: readonly E820Entry[], bytes: number, low: number, ceiling: number): number {
  let best = -1;
  for (const e of map) {
    if (e.type !== E820_RAM) continue;
    const lo = Math.max(e.base, low);
    const hi = Math.min(e.base + e.length, ceiling);
    const at = alignDown(hi - bytes, PAGE);
    if (at >= alignUp(lo, PAGE) && at > best) best = at;
  }
  return best;
}

/** Place the initrd (see the module header); throws naming the sizes when it does not fit. */
function placeInitrd(initrd: BootFile, h: BzImageHeader, map: readonly E820Entry[], footprintEnd: number, ramBytes: number): number {
  if (initrd.data.length === 0) throw new BootImageError(initrd.name, 'size', 0, 'the initrd is empty');
  const ceiling = Math.min(h.initrdAddrMax + 1, FOUR_GIB);
  const at = placeHigh(map, initrd.data.length, footprintEnd, ceiling);
  if (at < 0) {
    const top = Math.min(ceiling, ramBytes);
    throw new BootImageError(initrd.name, 'size', undefined, `${initrd.data.length} bytes do not fit in usable RAM between the kernel's end ${hex(footprintEnd)} and ${hex(top)} (initrd_addr_max ${hex(h.initrdAddrMax)}, RAM size ${hex(ramBytes)})`);
  }
  return at;
}

/** boot_params for `h` with everything the module header lists. */
function buildBootParams(kernel: BootFile, h: BzImageHeader, map: readonly E820Entry[], cmdlineAddress: number, rsdp: number, initrd?: { address: number; bytes: number }): Uint8Array {
  if (map.length > ZERO_PAGE_E820_MAX) throw new FirmwareConfigError('reserved', `the e820 map has ${map.length} entries; boot_params holds ${ZERO_PAGE_E820_MAX}`);
  const zp = new Uint8Array(BOOT_PARAMS_BYTES);
  const v = new DataView(zp.buffer);
  zp.set(kernel.data.subarray(HDR.setup_sects, h.headerEnd), HDR.setup_sects);
  v.setUint16(HDR.vid_mode, VID_MODE_NORMAL, true);
  zp[HDR.type_of_loader] = LOADER_TYPE_UNDEFINED;
  zp[HDR.loadflags] = h.loadflags & ~CAN_USE_HEAP;
  v.setUint32(HDR.code32_start, KERNEL_LOAD_ADDRESS, true);
  v.setUint32(HDR.ramdisk_image, initrd ? initrd.address : 0, true);
  v.setUint32(HDR.ramdisk_size, initrd ? initrd.bytes : 0, true);
  v.setUint16(HDR.heap_end_ptr, 0, true);
  v.setUint32(HDR.cmd_line_ptr, cmdlineAddress, true);
  const upperKiB = upperMemoryKiB(map);
  v.setUint16(ZP.ext_mem_k, Math.min(upperKiB, 0xffff), true);
  v.setUint32(ZP.alt_mem_k, upperKiB, true);
  v.setBigUint64(ZP.acpi_rsdp_addr, BigInt(rsdp), true);
  zp[ZP.e820_entries] = map.length;
  zp.set(encodeE820Entries(map), ZP.e820_table);
  return zp;
}

/** The command line as NUL-terminated bytes, checked against cmdline_size and the space below the EBDA. */
function commandLineBytes(kernelName: string, h: BzImageHeader, cmdline: string, spaceEnd: number): Uint8Array {
  const bytes = cString(cmdline, 'cmdline');
  const length = bytes.length - 1;
  if (length > h.cmdlineSize) {
    throw new BootImageError(kernelName, 'cmdline_size', HDR.cmdline_size, `the command line has ${length} bytes but setup header field 'cmdline_size' at ${hex(HDR.cmdline_size)} allows ${h.cmdlineSize}`);
  }
  if (CMDLINE_ADDRESS + bytes.length > spaceEnd) {
    throw new FirmwareConfigError('cmdline', `${length} bytes do not fit between ${hex(CMDLINE_ADDRESS)} and ${hex(spaceEnd)}`);
  }
  return bytes;
}

/** The RSDP address option, checked. */
function rsdpAddress(address: number | undefined): number {
  if (address === undefined) return 0;
  if (!Number.isInteger(address) || address <= 0 || address >= FOUR_GIB || address % 16 !== 0) {
    throw new FirmwareConfigError('acpiRsdpAddress', `must be a 16-byte aligned address below 4 GiB, got ${address}`);
  }
  return address;
}

/** Lay out a bzImage for the 32-bit boot protocol (see the module header). */
export function buildLinuxBoot(options: LinuxBootOptions): LinuxBootImage {
  const { kernel } = options;
  const header = parseBzImage(kernel.name, kernel.data);
  const platform = platformWrites(options);
  const reserved = [...platform.reserved, ...(options.reserved ?? [])];
  const map = buildE820Map({ ramBytes: options.ramBytes, romAliasBytes: options.romAliasBytes, reserved });
  const fp = kernelFootprint(header);
  checkFootprint(kernel.name, header, map, fp);
  const lowEnd = map.find((e) => e.type === E820_RAM && e.base === 0);
  const cmdline = commandLineBytes(kernel.name, header, options.cmdline ?? '', lowEnd ? lowEnd.length : 0);
  const initrd = options.initrd
    ? { address: placeInitrd(options.initrd, header, map, fp.end, options.ramBytes), bytes: options.initrd.data.length }
    : undefined;
  const gdt = buildBootGdt();
  const writes: MemoryWrite[] = [
    gdt.write,
    ...platform.writes,
    { name: 'boot_params', address: BOOT_PARAMS_ADDRESS, data: buildBootParams(kernel, header, map, CMDLINE_ADDRESS, rsdpAddress(options.acpiRsdpAddress), initrd) },
    { name: 'kernel command line', address: CMDLINE_ADDRESS, data: cmdline },
    { name: `${kernel.name} (protected-mode kernel)`, address: KERNEL_LOAD_ADDRESS, data: kernel.data.subarray(header.kernelOffset) },
  ];
  if (options.initrd && initrd) writes.push({ name: options.initrd.name, address: initrd.address, data: options.initrd.data });
  writes.push(...(options.extraWrites ?? []));
  assertWritesFit(writes, options.ramBytes);
  return {
    writes,
    entry: { mode: 'flat32', eip: KERNEL_LOAD_ADDRESS, eax: 0, ebx: 0, ecx: 0, edx: 0, esi: BOOT_PARAMS_ADDRESS, edi: 0, ebp: 0, esp: BOOT_STACK_TOP },
    gdt: gdt.gdtr,
    reserved,
    e820: map,
    header,
    layout: {
      bootParams: BOOT_PARAMS_ADDRESS,
      cmdline: CMDLINE_ADDRESS,
      kernel: { address: KERNEL_LOAD_ADDRESS, bytes: header.kernelBytes },
      footprint: { start: fp.start, end: fp.end },
      initrd,
    },
  };
}
