/**
 * Multiboot version 1 loader (The Multiboot Specification 0.6.96: §3.1 "OS image format",
 * §3.2 "Machine state", §3.3 "Boot information format"; ELF32 per the System V ABI /
 * Tool Interface Standard ELF 1.2, the program header table of an executable).
 *
 * `parseMultibootKernel` finds the Multiboot header (magic 0x1BADB002 on a 4-byte boundary
 * in the first 8192 bytes, magic + flags + checksum = 0 mod 2^32) and works out the
 * segments to load; `buildMultibootBoot` places them, the modules and the Multiboot
 * information structure, and returns the entry state (EAX = 0x2BADB002, EBX = the
 * structure's address, flat 32-bit protected mode, IF = 0).
 *
 * Choices:
 *  - Header flags: bit 0 (page-aligned modules) and bit 1 (memory information) are always
 *    honoured — modules are page-aligned whatever the flag, mem_* and the mmap are always
 *    given. Bit 2 (video mode information) is refused: bits 0-15 are requirements a loader
 *    must fail on when it cannot meet them, and this headless machine has no video modes
 *    to describe. Other bits 3-15 are refused as unknown requirements. Bits 16-31 are
 *    optional; bit 16 (address fields valid) is honoured, the rest ignored.
 *  - Bit 16 set: the a.out kludge — header_addr/load_addr/load_end_addr/bss_end_addr/
 *    entry_addr are used even when the file is also an ELF (the spec says they take the
 *    place of the executable's own header). Bit 16 clear: the file must be an ELF32
 *    executable for the 386 (little-endian); PT_LOAD segments go to p_paddr, p_filesz
 *    bytes from the file and zeros up to p_memsz. e_entry is translated through the
 *    segment whose virtual range holds it (the same address when p_vaddr = p_paddr).
 *  - Every loaded byte must be usable RAM in the e820 map and clear of the loader's own
 *    structures in low memory (GDT, information area, MP tables and BDA words) and of
 *    the caller's `extraWrites`.
 *  - The information structure and everything it points to (mmap, module list, strings)
 *    form one block at 0x10000, below the EBDA. Info flags given: mem_lower/mem_upper
 *    (bit 0), cmdline (bit 2), mods (bit 3, also with zero modules), mmap (bit 6, from the
 *    e820 map), boot_loader_name (bit 9). mod_end is the first byte after the module.
 *  - Modules are placed in order, each at the lowest page-aligned usable address above
 *    the kernel's last byte (and the previous module).
 */
import {
  BOOT_STACK_TOP,
  BootImageError,
  FirmwareConfigError,
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
import { buildE820Map, E820_ENTRY_BYTES, E820_RAM, lowerMemoryKiB, upperMemoryKiB, usableEntryContaining } from './e820.js';
import { platformWrites, type MpTableOptions } from './mp-table.js';

/** The magic in a kernel's Multiboot header. */
export const MULTIBOOT_HEADER_MAGIC = 0x1badb002;
/** EAX at entry: what tells the kernel a Multiboot loader started it. */
export const MULTIBOOT_BOOTLOADER_MAGIC = 0x2badb002;
/** The header must start in the first this many bytes of the file. */
export const MULTIBOOT_SEARCH_BYTES = 8192;
/** Address of the Multiboot information structure. */
export const MULTIBOOT_INFO_ADDRESS = 0x1_0000;
/** Bytes of the information structure (0.6.96, up to the framebuffer fields). */
export const MULTIBOOT_INFO_BYTES = 116;

/** Header flags. */
export const MB_PAGE_ALIGN = 1 << 0;
export const MB_MEMORY_INFO = 1 << 1;
export const MB_VIDEO_MODE = 1 << 2;
export const MB_AOUT_KLUDGE = 1 << 16;

/** Information structure flags. */
export const MBI_MEMORY = 1 << 0;
export const MBI_CMDLINE = 1 << 2;
export const MBI_MODS = 1 << 3;
export const MBI_MMAP = 1 << 6;
export const MBI_BOOT_LOADER_NAME = 1 << 9;

/** Information structure offsets (§3.3). */
export const MBI = {
  flags: 0,
  mem_lower: 4,
  mem_upper: 8,
  boot_device: 12,
  cmdline: 16,
  mods_count: 20,
  mods_addr: 24,
  mmap_length: 44,
  mmap_addr: 48,
  boot_loader_name: 64,
} as const;

/** Header field offsets, relative to the magic (§3.1.1). */
export const MBH = {
  magic: 0,
  flags: 4,
  checksum: 8,
  header_addr: 12,
  load_addr: 16,
  load_end_addr: 20,
  bss_end_addr: 24,
  entry_addr: 28,
} as const;

/** Bytes of one module list entry: mod_start, mod_end, string, reserved. */
export const MODULE_ENTRY_BYTES = 16;
/** Bytes of one mmap entry including its size field. */
export const MMAP_ENTRY_BYTES = 4 + E820_ENTRY_BYTES;

const REQUIRED_FLAGS_MASK = 0xffff;
const SUPPORTED_REQUIRED = MB_PAGE_ALIGN | MB_MEMORY_INFO;
const PAGE = 4096;
const FOUR_GIB = 0x1_0000_0000;
const ELF_HEADER_BYTES = 52;
const ELF_PHDR_MIN_BYTES = 32;
const ELFCLASS32 = 1;
const ELFDATA2LSB = 1;
const ET_EXEC = 2;
const EM_386 = 3;
const PT_LOAD = 1;
const DEFAULT_LOADER_NAME = 'x86-hypervisor';

/** One range to load: `fileBytes` from the file, then zeros up to `memBytes`. */
export interface LoadSegment {
  readonly address: number;
  readonly fileOffset: number;
  readonly fileBytes: number;
  readonly memBytes: number;
}

/** A parsed Multiboot kernel. */
export interface MultibootKernel {
  readonly format: 'elf' | 'aout';
  /** File offset of the header's magic. */
  readonly headerOffset: number;
  readonly flags: number;
  readonly segments: readonly LoadSegment[];
  /** Physical entry address. */
  readonly entry: number;
}

/** A boot module. */
export interface MultibootModule {
  readonly name: string;
  readonly data: Uint8Array;
  /** The module's string (default: its name). */
  readonly cmdline?: string;
}

/** What to boot. */
export interface MultibootOptions {
  readonly ramBytes: number;
  readonly kernel: { readonly name: string; readonly data: Uint8Array };
  readonly modules?: readonly MultibootModule[];
  /** Kernel command line (default empty). */
  readonly cmdline?: string;
  /** boot_loader_name (default "x86-hypervisor"). */
  readonly bootLoaderName?: string;
  /** Write the MP tables (default true); needs `mpTable`. */
  readonly platformTables?: boolean;
  readonly mpTable?: MpTableOptions;
  readonly romAliasBytes?: number;
  readonly reserved?: readonly ReservedRegion[];
  /** More bytes to place (e.g. ACPI tables): kept clear of the kernel and modules. */
  readonly extraWrites?: readonly MemoryWrite[];
}

/** A BootImage plus where the kernel, modules and information structure went. */
export interface MultibootImage extends BootImage {
  readonly kernel: MultibootKernel;
  readonly info: { readonly address: number; readonly flags: number; readonly bytes: number };
  readonly modules: readonly { readonly name: string; readonly address: number; readonly bytes: number }[];
}

/** Little-endian reads of a kernel file, with errors naming the file. */
class FileReader {
  private readonly view: DataView;
  constructor(readonly name: string, readonly data: Uint8Array) {
    this.view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  }
  u8(offset: number): number { return this.view.getUint8(offset); }
  u16(offset: number): number { return this.view.getUint16(offset, true); }
  u32(offset: number): number { return this.view.getUint32(offset, true); }

  /** Throws a truncation error for `field` unless the file has `bytes` bytes. */
  need(bytes: number, field: string, offset: number, what: string): void {
    if (this.data.length < bytes) {
      throw new BootImageError(this.name, field, offset, `truncated file: ${what} needs ${bytes} bytes, the file has ${this.data.length}`);
    }
  }

  error(field: string, offset: number, message: string): BootImageError {
    return new BootImageError(this.name, field, offset, `${field} at ${hex(offset)} ${message}`);
  }
}

/** File offset of the first valid header, or throws (bad checksum / none found). */
function findHeader(r: FileReader): number {
  const limit = Math.min(r.data.length, MULTIBOOT_SEARCH_BYTES);
  let badChecksumAt = -1;
  for (let at = 0; at + 12 <= limit; at += 4) {
    if (r.u32(at) !== MULTIBOOT_HEADER_MAGIC) continue;
    if (((r.u32(at) + r.u32(at + 4) + r.u32(at + 8)) >>> 0) === 0) return at;
    if (badChecksumAt < 0) badChecksumAt = at;
  }
  if (badChecksumAt >= 0) {
    const sum = (r.u32(badChecksumAt) + r.u32(badChecksumAt + 4) + r.u32(badChecksumAt + 8)) >>> 0;
    throw r.error('checksum', badChecksumAt + MBH.checksum, `is ${hex(r.u32(badChecksumAt + 8), 8)}: magic + flags + checksum is ${hex(sum, 8)}, not 0`);
  }
  throw new BootImageError(r.name, 'magic', undefined, `no Multiboot header (magic ${hex(MULTIBOOT_HEADER_MAGIC, 8)} on a 4-byte boundary) in the first ${MULTIBOOT_SEARCH_BYTES} bytes`);
}

/** Refuses required flag bits we cannot meet. */
function checkFlags(r: FileReader, at: number, flags: number): void {
  const offset = at + MBH.flags;
  if (flags & MB_VIDEO_MODE) {
    throw r.error('flags', offset, `is ${hex(flags, 8)}: bit 2 requires video mode information; this headless machine has none`);
  }
  const unknown = flags & REQUIRED_FLAGS_MASK & ~SUPPORTED_REQUIRED;
  if (unknown) throw r.error('flags', offset, `is ${hex(flags, 8)}: required bits ${hex(unknown, 4)} are not known to this loader`);
}

/** Segments of an ELF32 executable (see the module header). */
function parseElf(r: FileReader): { segments: LoadSegment[]; entry: number } {
  r.need(ELF_HEADER_BYTES, 'e_ident', 0, 'the ELF header');
  const d = r.data;
  if (d[0] !== 0x7f || d[1] !== 0x45 || d[2] !== 0x4c || d[3] !== 0x46) {
    throw new BootImageError(r.name, 'e_ident', 0, 'not an ELF file (no \\x7fELF at 0), and the Multiboot header has no address fields (flags bit 16 clear)');
  }
  if (d[4] !== ELFCLASS32) throw r.error('EI_CLASS', 4, `is ${d[4]}; need 1 (ELFCLASS32)`);
  if (d[5] !== ELFDATA2LSB) throw r.error('EI_DATA', 5, `is ${d[5]}; need 1 (little-endian)`);
  const type = r.u16(16);
  if (type !== ET_EXEC) throw r.error('e_type', 16, `is ${type}; need 2 (ET_EXEC)`);
  const machine = r.u16(18);
  if (machine !== EM_386) throw r.error('e_machine', 18, `is ${machine}; need 3 (EM_386)`);
  const entry = r.u32(24);
  const phoff = r.u32(28);
  const phentsize = r.u16(42);
  const phnum = r.u16(44);
  if (phentsize < ELF_PHDR_MIN_BYTES) throw r.error('e_phentsize', 42, `is ${phentsize}; need at least ${ELF_PHDR_MIN_BYTES}`);
  r.need(phoff + phnum * phentsize, 'e_phoff', 28, `the program header table (${phnum} entries at ${hex(phoff)})`);
  const segments: LoadSegment[] = [];
  const vaddrs: number[] = [];
  for (let k = 0; k < phnum; k++) {
    const ph = phoff + k * phentsize;
    if (r.u32(ph) !== PT_LOAD) continue;
    const fileOffset = r.u32(ph + 4);
    const vaddr = r.u32(ph + 8);
    const paddr = r.u32(ph + 12);
    const fileBytes = r.u32(ph + 16);
    const memBytes = r.u32(ph + 20);
    if (fileBytes > memBytes) throw r.error('p_filesz', ph + 16, `of segment ${k} is ${hex(fileBytes)}, more than p_memsz ${hex(memBytes)}`);
    r.need(fileOffset + fileBytes, 'p_offset', ph + 4, `segment ${k} (${fileBytes} bytes at file offset ${hex(fileOffset)})`);
    if (paddr + memBytes > FOUR_GIB) throw r.error('p_paddr', ph + 12, `of segment ${k} is ${hex(paddr)}: ${hex(memBytes)} bytes run past 4 GiB`);
    if (memBytes === 0) continue;
    segments.push({ address: paddr, fileOffset, fileBytes, memBytes });
    vaddrs.push(vaddr);
  }
  if (segments.length === 0) throw r.error('e_phnum', 44, `is ${phnum}: no PT_LOAD segment with bytes to load`);
  const k = segments.findIndex((s, i) => entry >= vaddrs[i] && entry < vaddrs[i] + s.memBytes);
  if (k < 0) throw r.error('e_entry', 24, `is ${hex(entry)}, outside every loadable segment`);
  return { segments, entry: segments[k].address + (entry - vaddrs[k]) };
}

/** The single segment of an a.out-kludge kernel (header address fields). */
function parseAout(r: FileReader, at: number): { segments: LoadSegment[]; entry: number } {
  r.need(at + MBH.entry_addr + 4, 'entry_addr', at + MBH.entry_addr, 'the Multiboot header address fields');
  const headerAddr = r.u32(at + MBH.header_addr);
  const loadAddr = r.u32(at + MBH.load_addr);
  const loadEndAddr = r.u32(at + MBH.load_end_addr);
  const bssEndAddr = r.u32(at + MBH.bss_end_addr);
  const entryAddr = r.u32(at + MBH.entry_addr);
  if (loadAddr > headerAddr) throw r.error('load_addr', at + MBH.load_addr, `is ${hex(loadAddr)}, above header_addr ${hex(headerAddr)}`);
  const fileOffset = at - (headerAddr - loadAddr);
  if (fileOffset < 0) {
    throw r.error('header_addr', at + MBH.header_addr, `is ${hex(headerAddr)}: with load_addr ${hex(loadAddr)} the text would start ${headerAddr - loadAddr} bytes before the header, but the header is at file offset ${hex(at)}`);
  }
  let fileBytes: number;
  if (loadEndAddr === 0) fileBytes = r.data.length - fileOffset;
  else {
    if (loadEndAddr <= loadAddr) throw r.error('load_end_addr', at + MBH.load_end_addr, `is ${hex(loadEndAddr)}, not above load_addr ${hex(loadAddr)}`);
    fileBytes = loadEndAddr - loadAddr;
    r.need(fileOffset + fileBytes, 'load_end_addr', at + MBH.load_end_addr, `loading ${hex(loadAddr)}-${hex(loadEndAddr)} from file offset ${hex(fileOffset)}`);
  }
  const loadEnd = loadAddr + fileBytes;
  let memBytes = fileBytes;
  if (bssEndAddr !== 0) {
    if (bssEndAddr < loadEnd) throw r.error('bss_end_addr', at + MBH.bss_end_addr, `is ${hex(bssEndAddr)}, below the end of the loaded text ${hex(loadEnd)}`);
    memBytes = bssEndAddr - loadAddr;
  }
  if (loadAddr + memBytes > FOUR_GIB) throw r.error('load_addr', at + MBH.load_addr, `is ${hex(loadAddr)}: ${hex(memBytes)} bytes run past 4 GiB`);
  if (entryAddr < loadAddr || entryAddr >= loadEnd) {
    throw r.error('entry_addr', at + MBH.entry_addr, `is ${hex(entryAddr)}, outside the loaded text ${hex(loadAddr)}-${hex(loadEnd)}`);
  }
  return { segments: [{ address: loadAddr, fileOffset, fileBytes, memBytes }], entry: entryAddr };
}

/** Find and check the Multiboot header and the segments to load (see the module header). */
export function parseMultibootKernel(name: string, data: Uint8Array): MultibootKernel {
  const r = new FileReader(name, data);
  const at = findHeader(r);
  const flags = r.u32(at + MBH.flags);
  checkFlags(r, at, flags);
  const format = flags & MB_AOUT_KLUDGE ? 'aout' : 'elf';
  const { segments, entry } = format === 'aout' ? parseAout(r, at) : parseElf(r);
  const sorted = [...segments].sort((a, b) => a.address - b.address);
  for (let k = 1; k < sorted.length; k++) {
    const prev = sorted[k - 1];
    if (sorted[k].address < prev.address + prev.memBytes) {
      throw new BootImageError(name, 'p_paddr', undefined, `segments at ${hex(prev.address)} (${hex(prev.memBytes)} bytes) and ${hex(sorted[k].address)} overlap`);
    }
  }
  return { format, headerOffset: at, flags, segments, entry };
}

/** A range something already occupies. */
interface Occupied {
  readonly name: string;
  readonly start: number;
  readonly end: number;
}

/** Throws unless every segment is usable RAM and clear of `low` (the loader's structures). */
function checkSegments(name: string, kernel: MultibootKernel, map: readonly E820Entry[], low: readonly Occupied[]): void {
  for (const s of kernel.segments) {
    const end = s.address + s.memBytes;
    const clash = low.find((o) => s.address < o.end && o.start < end);
    if (clash) {
      throw new BootImageError(name, 'load address', undefined, `segment ${hex(s.address)}-${hex(end)} overlaps the loader's ${clash.name} at ${hex(clash.start)}-${hex(clash.end)}`);
    }
    if (!usableEntryContaining(map, s.address, end)) {
      throw new BootImageError(name, 'load address', undefined, `segment ${hex(s.address)}-${hex(end)} is not in usable RAM (RAM size and reserved ranges: see the e820 map)`);
    }
  }
}

/** Lowest page-aligned address >= `from` where `bytes` fit in usable RAM clear of `taken`, or -1. */
export function placeLow(map: readonly E820Entry[], bytes: number, from: number, taken: readonly Occupied[]): number {
  let at = alignUp(from, PAGE);
  for (;;) {
    const entry = map.find((e) => e.type === E820_RAM && e.base + e.length > at);
    if (!entry) return -1;
    if (entry.base > at) at = alignUp(entry.base, PAGE);
    if (at + bytes > entry.base + entry.length) {
      at = alignUp(entry.base + entry.length, PAGE);
      continue;
    }
    const clash = taken.find((o) => at < o.end && o.start < at + Math.max(bytes, 1));
    if (!clash) return at;
    at = alignUp(clash.end, PAGE);
  }
}

/** The information block: the structure, mmap, module list and strings, laid out from `base`. */
class InfoBlock {
  private readonly parts: { offset: number; bytes: Uint8Array }[] = [];
  private used = MULTIBOOT_INFO_BYTES;
  readonly info = new Uint8Array(MULTIBOOT_INFO_BYTES);
  readonly view = new DataView(this.info.buffer);
  constructor(readonly base: number) {}

  /** Append `bytes` (4-byte aligned); returns their guest address. */
  add(bytes: Uint8Array): number {
    const offset = alignUp(this.used, 4);
    this.parts.push({ offset, bytes });
    this.used = offset + bytes.length;
    return this.base + offset;
  }

  get bytes(): number {
    return this.used;
  }

  /** The whole block. */
  build(): Uint8Array {
    const out = new Uint8Array(this.used);
    out.set(this.info, 0);
    for (const p of this.parts) out.set(p.bytes, p.offset);
    return out;
  }
}

/** The mmap entries (size field 20, then the e820 entry). */
function mmapBytes(map: readonly E820Entry[]): Uint8Array {
  const out = new Uint8Array(map.length * MMAP_ENTRY_BYTES);
  const v = new DataView(out.buffer);
  map.forEach((e, k) => {
    const at = k * MMAP_ENTRY_BYTES;
    v.setUint32(at, E820_ENTRY_BYTES, true);
    v.setBigUint64(at + 4, BigInt(e.base), true);
    v.setBigUint64(at + 12, BigInt(e.length), true);
    v.setUint32(at + 20, e.type, true);
  });
  return out;
}

/** Place the modules above the kernel; throws naming the module and sizes when one does not fit. */
function placeModules(modules: readonly MultibootModule[], map: readonly E820Entry[], kernelEnd: number, taken: Occupied[], ramBytes: number): number[] {
  let cursor = kernelEnd;
  return modules.map((m) => {
    const at = placeLow(map, m.data.length, cursor, taken);
    if (at < 0) {
      throw new BootImageError(m.name, 'size', undefined, `module of ${m.data.length} bytes does not fit in usable RAM above ${hex(cursor)} (RAM size ${hex(ramBytes)})`);
    }
    taken.push({ name: `module ${m.name}`, start: at, end: at + m.data.length });
    cursor = at + m.data.length;
    return at;
  });
}

/** Load a Multiboot kernel with its modules (see the module header). */
export function buildMultibootBoot(options: MultibootOptions): MultibootImage {
  const { kernel: file } = options;
  const kernel = parseMultibootKernel(file.name, file.data);
  const platform = platformWrites(options);
  const reserved = [...platform.reserved, ...(options.reserved ?? [])];
  const map = buildE820Map({ ramBytes: options.ramBytes, romAliasBytes: options.romAliasBytes, reserved });
  const gdt = buildBootGdt();

  const block = new InfoBlock(MULTIBOOT_INFO_ADDRESS);
  const cmdline = block.add(cString(options.cmdline ?? '', 'cmdline'));
  const loaderName = block.add(cString(options.bootLoaderName ?? DEFAULT_LOADER_NAME, 'bootLoaderName'));
  const mmap = mmapBytes(map);
  const mmapAddress = block.add(mmap);
  const modules = options.modules ?? [];
  const moduleStrings = modules.map((m) => block.add(cString(m.cmdline ?? m.name, `module ${m.name} cmdline`)));
  const moduleList = new Uint8Array(modules.length * MODULE_ENTRY_BYTES);
  const modsAddress = block.add(moduleList);
  const lowEntry = map.find((e) => e.type === E820_RAM && e.base === 0);
  if (!lowEntry || MULTIBOOT_INFO_ADDRESS + block.bytes > lowEntry.length) {
    throw new FirmwareConfigError('cmdline', `the Multiboot information (${block.bytes} bytes with strings) does not fit between ${hex(MULTIBOOT_INFO_ADDRESS)} and the EBDA`);
  }

  const lowWrites: MemoryWrite[] = [gdt.write, ...platform.writes, ...(options.extraWrites ?? [])];
  const taken: Occupied[] = [
    ...lowWrites.map((w) => ({ name: w.name, start: w.address, end: w.address + w.data.length })),
    { name: 'Multiboot information', start: MULTIBOOT_INFO_ADDRESS, end: MULTIBOOT_INFO_ADDRESS + block.bytes },
  ];
  checkSegments(file.name, kernel, map, taken);
  const kernelEnd = Math.max(...kernel.segments.map((s) => s.address + s.memBytes));
  for (const s of kernel.segments) taken.push({ name: `${file.name} segment`, start: s.address, end: s.address + s.memBytes });
  const moduleAddresses = placeModules(modules, map, kernelEnd, taken, options.ramBytes);

  const listView = new DataView(moduleList.buffer);
  modules.forEach((m, k) => {
    listView.setUint32(k * MODULE_ENTRY_BYTES, moduleAddresses[k], true);
    listView.setUint32(k * MODULE_ENTRY_BYTES + 4, moduleAddresses[k] + m.data.length, true);
    listView.setUint32(k * MODULE_ENTRY_BYTES + 8, moduleStrings[k], true);
  });
  const flags = MBI_MEMORY | MBI_CMDLINE | MBI_MODS | MBI_MMAP | MBI_BOOT_LOADER_NAME;
  const v = block.view;
  v.setUint32(MBI.flags, flags, true);
  v.setUint32(MBI.mem_lower, lowerMemoryKiB(map), true);
  v.setUint32(MBI.mem_upper, upperMemoryKiB(map), true);
  v.setUint32(MBI.cmdline, cmdline, true);
  v.setUint32(MBI.mods_count, modules.length, true);
  v.setUint32(MBI.mods_addr, modsAddress, true);
  v.setUint32(MBI.mmap_length, mmap.length, true);
  v.setUint32(MBI.mmap_addr, mmapAddress, true);
  v.setUint32(MBI.boot_loader_name, loaderName, true);

  const writes: MemoryWrite[] = [
    ...lowWrites,
    { name: 'Multiboot information', address: MULTIBOOT_INFO_ADDRESS, data: block.build() },
    ...kernel.segments.map((s, k) => ({ name: `${file.name} segment ${k}`, address: s.address, data: segmentBytes(file.data, s) })),
    ...modules.map((m, k) => ({ name: m.name, address: moduleAddresses[k], data: m.data })),
  ];
  assertWritesFit(writes, options.ramBytes);
  return {
    writes,
    entry: { mode: 'flat32', eip: kernel.entry, eax: MULTIBOOT_BOOTLOADER_MAGIC, ebx: MULTIBOOT_INFO_ADDRESS, ecx: 0, edx: 0, esi: 0, edi: 0, ebp: 0, esp: BOOT_STACK_TOP },
    gdt: gdt.gdtr,
    reserved,
    e820: map,
    kernel,
    info: { address: MULTIBOOT_INFO_ADDRESS, flags, bytes: block.bytes },
    modules: modules.map((m, k) => ({ name: m.name, address: moduleAddresses[k], bytes: m.data.length })),
  };
}

/** A segment's bytes in memory: the file part, then zeros up to memBytes. */
function segmentBytes(data: Uint8Array, s: LoadSegment): Uint8Array {
  if (s.fileBytes === s.memBytes) return data.subarray(s.fileOffset, s.fileOffset + s.fileBytes);
  const out = new Uint8Array(s.memBytes);
  out.set(data.subarray(s.fileOffset, s.fileOffset + s.fileBytes));
  return out;
}
