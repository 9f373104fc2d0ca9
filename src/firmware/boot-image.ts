/**
 * What a firmware-side loader hands the board: the bytes to place in guest RAM and the CPU
 * state to start in. Loaders (linux-boot.ts, multiboot.ts) are pure functions from image
 * files and options to a `BootImage`; the board writes `writes` into RAM, loads GDTR from
 * `gdt` and enters the flat 32-bit state in `entry`.
 *
 * The entry state is the one both the Linux 32-bit boot protocol (Documentation/arch/x86/
 * boot.rst, "32-bit Boot Protocol") and Multiboot 0.6.96 (section 3.2, "Machine state")
 * accept: protected mode, paging off, interrupts off, CS = 0x10 (flat 4 GiB execute/read
 * code, 32-bit), DS = ES = SS = FS = GS = 0x18 (flat 4 GiB read/write data). The GDT with
 * those two descriptors (entries 0 and 1 null) is one of the writes.
 *
 * Low-memory layout shared by the loaders (guest-physical; nothing here below 1 MiB is
 * used by the board itself):
 *
 *   0x00400-0x004FF  BIOS data area: EBDA segment (0x40E) and base memory KiB (0x413)
 *                    are written when the platform tables are (see mp-table.ts)
 *   0x01000-0x0101F  boot GDT (4 descriptors)
 *   0x01020-0x0FFFF  free; the initial stack grows down from 0x10000
 *   0x10000-...      boot_params (Linux) or the Multiboot information area
 *   0x20000-...      Linux kernel command line
 *   0x9FC00-0x9FFFF  EBDA (1 KiB): the MP tables, reported reserved in the e820 map
 */

/** Guest-physical address of the boot GDT. */
export const BOOT_GDT_ADDRESS = 0x1000;
/** Selector of the flat code segment (Linux's __BOOT_CS). */
export const FLAT32_CODE_SELECTOR = 0x10;
/** Selector of the flat data segment (Linux's __BOOT_DS). */
export const FLAT32_DATA_SELECTOR = 0x18;
/** Access byte of the code descriptor: present, DPL 0, code, execute/read, accessed. */
export const FLAT32_CODE_ACCESS = 0x9b;
/** Access byte of the data descriptor: present, DPL 0, data, read/write, accessed. */
export const FLAT32_DATA_ACCESS = 0x93;
/** Flags nibble of both descriptors: G (4 KiB granularity) and D/B (32-bit). */
export const FLAT32_FLAGS = 0xc;
/** Initial ESP: top of the free page range below 0x10000 (16-byte aligned). */
export const BOOT_STACK_TOP = 0x10000;

const GDT_ENTRIES = 4;
const DESCRIPTOR_BYTES = 8;

/** One block of bytes the board copies into guest RAM before starting the CPU. */
export interface MemoryWrite {
  /** What the bytes are (for error messages and logs), e.g. "boot_params". */
  readonly name: string;
  /** Guest-physical address of the first byte. */
  readonly address: number;
  readonly data: Uint8Array;
}

/** A guest-physical range the map given to the guest reports as reserved. */
export interface ReservedRegion {
  readonly name: string;
  readonly base: number;
  readonly length: number;
}

/** The CPU state at entry: flat 32-bit protected mode (see the module header) plus registers. */
export interface EntryState {
  /** Protected mode, paging off, IF = 0, CS = 0x10 and data selectors 0x18, all flat 4 GiB. */
  readonly mode: 'flat32';
  readonly eip: number;
  readonly eax: number;
  readonly ebx: number;
  readonly ecx: number;
  readonly edx: number;
  readonly esi: number;
  readonly edi: number;
  readonly ebp: number;
  readonly esp: number;
}

/** GDTR contents for the boot GDT. */
export interface GdtRegister {
  readonly base: number;
  readonly limit: number;
}

/** One range of the e820 memory map (see e820.ts). */
export interface E820Entry {
  readonly base: number;
  readonly length: number;
  /** 1 usable RAM, 2 reserved (E820Type). */
  readonly type: number;
}

/** Everything the board needs to start a loaded kernel. */
export interface BootImage {
  /** Bytes to copy into RAM, non-overlapping, in the order produced. */
  readonly writes: readonly MemoryWrite[];
  readonly entry: EntryState;
  readonly gdt: GdtRegister;
  /** Ranges reported reserved beyond the fixed PC ones (e.g. the MP tables). */
  readonly reserved: readonly ReservedRegion[];
  /** The memory map handed to the guest. */
  readonly e820: readonly E820Entry[];
}

/**
 * A kernel, initrd or module the loaders cannot use. The message names the image, the field
 * and its offset in the file, e.g. "vmlinuz: setup header field 'version' at 0x206 is
 * 0x0201; need boot protocol >= 2.06".
 */
export class BootImageError extends Error {
  /** The image's name as given by the caller. */
  readonly image: string;
  /** The field at fault (e.g. "version", "checksum", "p_memsz", "size"). */
  readonly field: string;
  /** Its offset in the file, when it has one. */
  readonly offset: number | undefined;

  constructor(image: string, field: string, offset: number | undefined, message: string) {
    super(`${image}: ${message}`);
    this.name = 'BootImageError';
    this.image = image;
    this.field = field;
    this.offset = offset;
  }
}

/** Options the loaders cannot work with (sizes, addresses); the message names the option. */
export class FirmwareConfigError extends Error {
  constructor(option: string, problem: string) {
    super(`firmware options: ${option}: ${problem}`);
    this.name = 'FirmwareConfigError';
  }
}

/** `0x` and at least `digits` upper-case hex digits. */
export function hex(value: number, digits = 1): string {
  return `0x${value.toString(16).toUpperCase().padStart(digits, '0')}`;
}

/** `value` rounded up to a multiple of `alignment` (a power of two up to 2^31). */
export function alignUp(value: number, alignment: number): number {
  return Math.ceil(value / alignment) * alignment;
}

/** `value` rounded down to a multiple of `alignment`. */
export function alignDown(value: number, alignment: number): number {
  return Math.floor(value / alignment) * alignment;
}

/** Write the 8-byte descriptor of a flat 4 GiB segment with `access` at `offset`. */
function writeFlatDescriptor(view: DataView, offset: number, access: number): void {
  view.setUint16(offset, 0xffff, true); // limit 15:0 (limit 0xFFFFF pages = 4 GiB)
  view.setUint16(offset + 2, 0, true); // base 15:0
  view.setUint8(offset + 4, 0); // base 23:16
  view.setUint8(offset + 5, access);
  view.setUint8(offset + 6, (FLAT32_FLAGS << 4) | 0xf); // flags, limit 19:16
  view.setUint8(offset + 7, 0); // base 31:24
}

/** The boot GDT: null, null, flat code at 0x10, flat data at 0x18. */
export function buildBootGdt(): { write: MemoryWrite; gdtr: GdtRegister } {
  const data = new Uint8Array(GDT_ENTRIES * DESCRIPTOR_BYTES);
  const view = new DataView(data.buffer);
  writeFlatDescriptor(view, FLAT32_CODE_SELECTOR, FLAT32_CODE_ACCESS);
  writeFlatDescriptor(view, FLAT32_DATA_SELECTOR, FLAT32_DATA_ACCESS);
  return {
    write: { name: 'boot GDT', address: BOOT_GDT_ADDRESS, data },
    gdtr: { base: BOOT_GDT_ADDRESS, limit: data.length - 1 },
  };
}

/**
 * Throw a FirmwareConfigError naming both writes when two of `writes` overlap, or when a
 * write does not lie inside [0, ramBytes).
 */
export function assertWritesFit(writes: readonly MemoryWrite[], ramBytes: number): void {
  for (const w of writes) {
    if (w.address < 0 || w.address + w.data.length > ramBytes) {
      throw new FirmwareConfigError(w.name, `${w.data.length} bytes at ${hex(w.address)} do not fit in ${hex(ramBytes)} bytes of RAM`);
    }
  }
  const sorted = [...writes].filter((w) => w.data.length > 0).sort((a, b) => a.address - b.address);
  for (let k = 1; k < sorted.length; k++) {
    const prev = sorted[k - 1];
    const cur = sorted[k];
    if (cur.address < prev.address + prev.data.length) {
      throw new FirmwareConfigError(cur.name, `[${hex(cur.address)}, ${hex(cur.address + cur.data.length)}) overlaps ${prev.name} [${hex(prev.address)}, ${hex(prev.address + prev.data.length)})`);
    }
  }
}

/**
 * The entry state in the shape of the CPU's `Flat32Entry` (src/cpu/cpu.ts `enterFlat32`):
 * registers in encoding order EAX, ECX, EDX, EBX, ESP, EBP, ESI, EDI. Structural, so this
 * module needs no CPU import.
 */
export function flat32EntryOf(image: BootImage): {
  eip: number; regs: number[]; gdtBase: number; gdtLimit: number; codeSelector: number; dataSelector: number;
} {
  const e = image.entry;
  return {
    eip: e.eip,
    regs: [e.eax, e.ecx, e.edx, e.ebx, e.esp, e.ebp, e.esi, e.edi],
    gdtBase: image.gdt.base,
    gdtLimit: image.gdt.limit,
    codeSelector: FLAT32_CODE_SELECTOR,
    dataSelector: FLAT32_DATA_SELECTOR,
  };
}

/** A copy of `text` as NUL-terminated bytes (UTF-8); throws when it contains a NUL. */
export function cString(text: string, what: string): Uint8Array {
  if (text.includes('\0')) throw new FirmwareConfigError(what, 'contains a NUL character');
  const body = new TextEncoder().encode(text);
  const out = new Uint8Array(body.length + 1);
  out.set(body);
  return out;
}
