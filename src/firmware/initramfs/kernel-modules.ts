/**
 * Choosing the Linux kernel modules our Debian initramfs carries, and the order /init
 * loads them in. Pure functions over bytes and text (no file system), so they run in a
 * browser build as well as in Node; src/cli/guests-debian.ts feeds them the files of the
 * cached kernel package.
 *
 * Debian's kernel package ships lib/modules/<release>/ without modules.dep (depmod makes
 * it at install time), so the dependency graph is read from the same place depmod reads
 * it: the `.modinfo` section of each module, an ELF section of NUL-separated "key=value"
 * strings (include/linux/module.h MODULE_INFO; the kernel's module loader and kmod read
 * the keys "name", "depends" — a comma-separated list of module names — and "softdep" —
 * "pre: a b post: c"). A module that `modules.builtin` lists is compiled into the kernel
 * (=y in the config) and needs no loading. ELF layout: System V ABI, chapter 4 (ELF
 * header and section header table), both ELFCLASS32 and ELFCLASS64, little-endian.
 */

/**
 * The modules the guest wants, in the order they are asked for (dependencies are added
 * before each): virtio over PCI with its block, network and console drivers, and what
 * mounting an ext2 file system needs (Debian builds ext4 with CONFIG_EXT4_USE_FOR_EXT2;
 * crc32c_generic provides the "crypto-crc32c" that jbd2 and ext4 name as a soft
 * dependency — the SSE4.2 variant, crc32c-intel, would not work on our CPU).
 */
export const DEBIAN_GUEST_MODULES: readonly string[] = [
  'virtio', 'virtio_ring', 'virtio_pci_modern_dev', 'virtio_pci_legacy_dev', 'virtio_pci',
  'virtio_blk', 'failover', 'net_failover', 'virtio_net', 'virtio_console',
  'crc16', 'mbcache', 'crc32c_generic', 'jbd2', 'ext4',
];

/** A module file that does not have the expected ELF layout, or a dependency that cannot be met. */
export class KernelModuleError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'KernelModuleError';
  }
}

/** What a module's .modinfo says about it. */
export interface ModuleInfo {
  /** Canonical module name ("name=" key; '-' already '_'). */
  readonly name: string;
  /** Modules that must be loaded first ("depends=" key), canonical names. */
  readonly depends: readonly string[];
  /** Soft "pre:" dependencies ("softdep=" key); may be aliases rather than module names. */
  readonly softdepPre: readonly string[];
}

/** The canonical module name: file name without directory and ".ko", '-' replaced by '_'. */
export function moduleNameOf(path: string): string {
  const file = path.slice(path.lastIndexOf('/') + 1);
  return (file.endsWith('.ko') ? file.slice(0, -3) : file).replace(/-/g, '_');
}

/** Offsets in the ELF header and section headers (System V ABI ch. 4). */
const enum Elf {
  ClassOffset = 4,
  DataOffset = 5,
  Class32 = 1,
  Class64 = 2,
  DataLittleEndian = 1,
  Header32Size = 52,
  Header64Size = 64,
  Shoff32 = 0x20,
  Shoff64 = 0x28,
  Shentsize32 = 0x2e,
  Shentsize64 = 0x3a,
  Shnum32 = 0x30,
  Shnum64 = 0x3c,
  Shstrndx32 = 0x32,
  Shstrndx64 = 0x3e,
  ShName = 0,
  ShOffset32 = 0x10,
  ShSize32 = 0x14,
  ShOffset64 = 0x18,
  ShSize64 = 0x20,
  SectionHeader32Size = 40,
  SectionHeader64Size = 64,
}

/** One section's file range. */
interface SectionRange {
  readonly offset: number;
  readonly size: number;
}

/** Little-endian field reader with bounds checks that name the module and field. */
class ElfReader {
  private readonly view: DataView;
  readonly is64: boolean;

  constructor(readonly bytes: Uint8Array, readonly where: string) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    if (bytes.length < Elf.Header32Size || bytes[0] !== 0x7f || bytes[1] !== 0x45 || bytes[2] !== 0x4c || bytes[3] !== 0x46) {
      throw new KernelModuleError(`${where}: not an ELF file (no \\x7fELF magic at offset 0)`);
    }
    const elfClass = bytes[Elf.ClassOffset];
    if (elfClass !== Elf.Class32 && elfClass !== Elf.Class64) {
      throw new KernelModuleError(`${where}: ELF class ${elfClass} at offset ${Elf.ClassOffset} is neither 32- nor 64-bit`);
    }
    if (bytes[Elf.DataOffset] !== Elf.DataLittleEndian) {
      throw new KernelModuleError(`${where}: ELF data encoding ${bytes[Elf.DataOffset]} at offset ${Elf.DataOffset} is not little-endian`);
    }
    this.is64 = elfClass === Elf.Class64;
    if (this.is64 && bytes.length < Elf.Header64Size) throw new KernelModuleError(`${where}: truncated ELF64 header`);
  }

  u16(offset: number, field: string): number {
    this.check(offset, 2, field);
    return this.view.getUint16(offset, true);
  }

  u32(offset: number, field: string): number {
    this.check(offset, 4, field);
    return this.view.getUint32(offset, true);
  }

  /** A 64-bit field that must fit a JavaScript safe integer (files are far smaller). */
  u64(offset: number, field: string): number {
    this.check(offset, 8, field);
    const value = this.view.getBigUint64(offset, true);
    if (value > BigInt(Number.MAX_SAFE_INTEGER)) throw new KernelModuleError(`${this.where}: ${field} at offset ${offset} is out of range`);
    return Number(value);
  }

  /** An address-sized field (32 or 64 bits by class). */
  word(offset: number, field: string): number {
    return this.is64 ? this.u64(offset, field) : this.u32(offset, field);
  }

  check(offset: number, length: number, field: string): void {
    if (offset < 0 || offset + length > this.bytes.length) {
      throw new KernelModuleError(`${this.where}: ${field} at offset ${offset} lies past the end of the file (${this.bytes.length} bytes)`);
    }
  }
}

/** The file range of the section called `wanted`, or null when there is none. */
function findSection(elf: ElfReader, wanted: string): SectionRange | null {
  const shoff = elf.word(elf.is64 ? Elf.Shoff64 : Elf.Shoff32, 'e_shoff');
  const shentsize = elf.u16(elf.is64 ? Elf.Shentsize64 : Elf.Shentsize32, 'e_shentsize');
  const shnum = elf.u16(elf.is64 ? Elf.Shnum64 : Elf.Shnum32, 'e_shnum');
  const shstrndx = elf.u16(elf.is64 ? Elf.Shstrndx64 : Elf.Shstrndx32, 'e_shstrndx');
  const minimum = elf.is64 ? Elf.SectionHeader64Size : Elf.SectionHeader32Size;
  if (shnum === 0) return null;
  if (shentsize < minimum) throw new KernelModuleError(`${elf.where}: e_shentsize ${shentsize} is smaller than ${minimum}`);
  if (shstrndx >= shnum) throw new KernelModuleError(`${elf.where}: e_shstrndx ${shstrndx} is not below e_shnum ${shnum}`);
  const rangeOf = (index: number): SectionRange => {
    const header = shoff + index * shentsize;
    elf.check(header, minimum, `section header ${index}`);
    const offset = elf.word(header + (elf.is64 ? Elf.ShOffset64 : Elf.ShOffset32), `sh_offset of section ${index}`);
    const size = elf.word(header + (elf.is64 ? Elf.ShSize64 : Elf.ShSize32), `sh_size of section ${index}`);
    elf.check(offset, size, `contents of section ${index}`);
    return { offset, size };
  };
  const names = rangeOf(shstrndx);
  const target = new TextEncoder().encode(wanted);
  for (let index = 0; index < shnum; index++) {
    const nameOffset = elf.u32(shoff + index * shentsize + Elf.ShName, `sh_name of section ${index}`);
    if (nameOffset + target.length >= names.size) continue;
    const at = names.offset + nameOffset;
    if (target.every((byte, i) => elf.bytes[at + i] === byte) && elf.bytes[at + target.length] === 0) return rangeOf(index);
  }
  return null;
}

/** Split a comma-separated module list ("a,b" or ""), canonicalising names. */
function splitDepends(value: string): string[] {
  return value.split(',').map((name) => name.trim()).filter((name) => name !== '').map(moduleNameOf);
}

/** The names after "pre:" in a softdep value, up to "post:" (or the end). */
export function softdepPreNames(value: string): string[] {
  const names: string[] = [];
  let inPre = false;
  for (const token of value.trim().split(/\s+/)) {
    if (token === 'pre:') inPre = true;
    else if (token === 'post:') inPre = false;
    else if (inPre && token !== '') names.push(moduleNameOf(token));
  }
  return names;
}

/**
 * Read a module's .modinfo: its name, hard dependencies and soft "pre:" dependencies.
 * `where` names the file in errors. Throws KernelModuleError for a file that is not a
 * little-endian ELF object, has no .modinfo section or no "name=" key.
 */
export function readModuleInfo(bytes: Uint8Array, where: string): ModuleInfo {
  const elf = new ElfReader(bytes, where);
  const section = findSection(elf, '.modinfo');
  if (section === null) throw new KernelModuleError(`${where}: no .modinfo section (not a kernel module?)`);
  const text = new TextDecoder('latin1').decode(bytes.subarray(section.offset, section.offset + section.size));
  let name: string | null = null;
  const depends: string[] = [];
  const softdepPre: string[] = [];
  for (const entry of text.split('\0')) {
    const equals = entry.indexOf('=');
    if (equals <= 0) continue;
    const key = entry.slice(0, equals);
    const value = entry.slice(equals + 1);
    if (key === 'name') name = moduleNameOf(value);
    else if (key === 'depends') depends.push(...splitDepends(value));
    else if (key === 'softdep') softdepPre.push(...softdepPreNames(value));
  }
  if (name === null || name === '') throw new KernelModuleError(`${where}: .modinfo has no name= entry`);
  return { name, depends, softdepPre };
}

/** Canonical names of the modules listed in a `modules.builtin` file (one path per line). */
export function parseModulesBuiltin(text: string): Set<string> {
  const names = new Set<string>();
  for (const line of text.split('\n')) {
    const path = line.trim();
    if (path !== '') names.add(moduleNameOf(path));
  }
  return names;
}

/** What the load-order computation needs to know about the kernel's modules. */
export interface ModuleCatalog {
  /** True when the module is compiled into the kernel (listed in modules.builtin). */
  isBuiltin(name: string): boolean;
  /** The module's .modinfo, or undefined when the module tree has no such module file. */
  info(name: string): ModuleInfo | undefined;
}

/**
 * The modules to insmod, dependencies first: for each wanted module in order, its hard
 * dependencies and those of its soft "pre:" dependencies that are real module files
 * (softdeps naming an alias such as "crypto-crc32c" are skipped — list the provider in
 * `wanted`), then the module itself; each module once. Built-in modules are left out
 * (nothing to load), as are their dependencies. Throws KernelModuleError naming the
 * module and who needed it when a hard dependency is neither built in nor a module file,
 * or for a dependency cycle.
 */
export function moduleLoadOrder(wanted: readonly string[], catalog: ModuleCatalog): string[] {
  const order: string[] = [];
  const done = new Set<string>();
  const visiting = new Set<string>();
  const visit = (name: string, chain: readonly string[], optional: boolean): void => {
    if (done.has(name) || catalog.isBuiltin(name)) return;
    if (visiting.has(name)) throw new KernelModuleError(`module dependency cycle: ${[...chain, name].join(' -> ')}`);
    const info = catalog.info(name);
    if (info === undefined) {
      if (optional) return;
      const neededBy = chain.length === 0 ? 'wanted by the initramfs' : `needed by ${chain.join(' -> ')}`;
      throw new KernelModuleError(`module ${name} (${neededBy}) is neither built into the kernel nor in its module tree`);
    }
    visiting.add(name);
    for (const dependency of info.depends) visit(dependency, [...chain, name], false);
    for (const soft of info.softdepPre) visit(soft, [...chain, name], true);
    visiting.delete(name);
    done.add(name);
    order.push(name);
  };
  for (const name of wanted) visit(moduleNameOf(name), [], false);
  return order;
}
