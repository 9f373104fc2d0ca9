/**
 * The e820 memory map of our PC (ACPI spec 6.x §15, "System Address Map Interfaces": the
 * INT 15h E820h range types; the 20-byte entry layout is the one Linux's boot_params and
 * Multiboot's mmap carry).
 *
 * Our board's RAM is contiguous from guest-physical 0 (no hole below 4 GiB). The map says:
 *
 *   [0, ebdaBase)                usable (conventional memory; default ebdaBase 0x9FC00)
 *   [ebdaBase, 0x100000)         reserved (EBDA, VGA window, option ROMs, BIOS area)
 *   [0x100000, ramBytes)         usable
 *   [0xFEC00000, +4 KiB)         reserved: I/O APIC registers
 *   [0xFEE00000, +4 KiB)         reserved: local APIC registers
 *   [4 GiB - romAliasBytes, 4 GiB) reserved: the firmware ROM's alias, when a ROM is loaded
 *   extra ranges from the caller reserved (carved out of usable RAM where they overlap)
 *
 * RAM is capped at 3 GiB (E820_MAX_RAM_BYTES): above that, contiguous RAM would run into the
 * region where the APICs, the ROM alias and (later) PCI MMIO BARs live, and the board has no
 * memory hole to remap RAM above 4 GiB.
 */
import { FirmwareConfigError, hex, type E820Entry, type ReservedRegion } from './boot-image.js';

/** Range type: usable RAM. */
export const E820_RAM = 1;
/** Range type: reserved, not to be used by the OS. */
export const E820_RESERVED = 2;
/** Largest RAM size this map supports (see the module header). */
export const E820_MAX_RAM_BYTES = 0xc000_0000;
/** Default start of the Extended BIOS Data Area: the last KiB of 640 KiB base memory. */
export const DEFAULT_EBDA_BASE = 0x9fc00;
/** I/O APIC register window (82093AA datasheet default). */
export const IOAPIC_BASE = 0xfec0_0000;
/** Local APIC register window (SDM vol. 3A §10.4.1 default). */
export const LOCAL_APIC_BASE = 0xfee0_0000;
/** Bytes of one e820 entry as stored in memory: u64 base, u64 length, u32 type. */
export const E820_ENTRY_BYTES = 20;

const ONE_MIB = 0x10_0000;
const FOUR_GIB = 0x1_0000_0000;
const APIC_WINDOW_BYTES = 0x1000;
const LOWEST_EBDA_BASE = 0x80000;
const LEGACY_END = 0xa0000;

/** What to map. */
export interface E820Options {
  /** RAM size in bytes: a multiple of 4 KiB, at least 1 MiB, at most E820_MAX_RAM_BYTES. */
  readonly ramBytes: number;
  /** Start of the EBDA (1 KiB aligned, 0x80000..0xA0000; 0xA0000 means none). Default 0x9FC00. */
  readonly ebdaBase?: number;
  /** Size of the firmware ROM mirrored just below 4 GiB; 0 or absent when there is none. */
  readonly romAliasBytes?: number;
  /** More ranges to report reserved (e.g. the MP tables when outside the EBDA). */
  readonly reserved?: readonly ReservedRegion[];
}

interface Range {
  start: number;
  end: number;
}

/** Throws unless `options` are usable; returns the EBDA base. */
function checkOptions(options: E820Options): number {
  const { ramBytes } = options;
  if (!Number.isInteger(ramBytes) || ramBytes % 4096 !== 0 || ramBytes < ONE_MIB || ramBytes > E820_MAX_RAM_BYTES) {
    throw new FirmwareConfigError('ramBytes', `must be a multiple of 4 KiB from 1 MiB to ${hex(E820_MAX_RAM_BYTES)} (3 GiB), got ${ramBytes}`);
  }
  const ebda = options.ebdaBase ?? DEFAULT_EBDA_BASE;
  if (!Number.isInteger(ebda) || ebda % 1024 !== 0 || ebda < LOWEST_EBDA_BASE || ebda > LEGACY_END) {
    throw new FirmwareConfigError('ebdaBase', `must be 1 KiB aligned in [${hex(LOWEST_EBDA_BASE)}, ${hex(LEGACY_END)}], got ${ebda}`);
  }
  const rom = options.romAliasBytes ?? 0;
  if (!Number.isInteger(rom) || rom < 0 || rom % 4096 !== 0 || rom > 0x100000) {
    throw new FirmwareConfigError('romAliasBytes', `must be a multiple of 4 KiB up to 1 MiB, got ${rom}`);
  }
  for (const r of options.reserved ?? []) {
    if (!Number.isInteger(r.base) || !Number.isInteger(r.length) || r.base < 0 || r.length <= 0 || r.base + r.length > FOUR_GIB) {
      throw new FirmwareConfigError(`reserved region '${r.name}'`, `base ${r.base} length ${r.length} is not a non-empty range below 4 GiB`);
    }
  }
  return ebda;
}

/** `ranges` minus every range in `holes`. */
function subtract(ranges: Range[], holes: readonly Range[]): Range[] {
  let out = ranges;
  for (const h of holes) {
    const next: Range[] = [];
    for (const r of out) {
      if (h.end <= r.start || h.start >= r.end) {
        next.push(r);
        continue;
      }
      if (r.start < h.start) next.push({ start: r.start, end: h.start });
      if (h.end < r.end) next.push({ start: h.end, end: r.end });
    }
    out = next;
  }
  return out;
}

/** `ranges` sorted, with overlapping or touching ranges merged. */
function coalesce(ranges: Range[]): Range[] {
  const sorted = [...ranges].sort((a, b) => a.start - b.start);
  const out: Range[] = [];
  for (const r of sorted) {
    const last = out[out.length - 1];
    if (last && r.start <= last.end) last.end = Math.max(last.end, r.end);
    else out.push({ ...r });
  }
  return out;
}

/** The e820 map for `options`: sorted by base, non-overlapping, adjacent equal types merged. */
export function buildE820Map(options: E820Options): E820Entry[] {
  const ebda = checkOptions(options);
  const reserved: Range[] = [
    { start: ebda, end: ONE_MIB },
    { start: IOAPIC_BASE, end: IOAPIC_BASE + APIC_WINDOW_BYTES },
    { start: LOCAL_APIC_BASE, end: LOCAL_APIC_BASE + APIC_WINDOW_BYTES },
  ];
  const rom = options.romAliasBytes ?? 0;
  if (rom > 0) reserved.push({ start: FOUR_GIB - rom, end: FOUR_GIB });
  for (const r of options.reserved ?? []) reserved.push({ start: r.base, end: r.base + r.length });
  const holes = coalesce(reserved);
  const ram = [{ start: 0, end: ebda }, { start: ONE_MIB, end: options.ramBytes }].filter((r) => r.end > r.start);
  const usable = coalesce(subtract(ram, holes));
  const entries: E820Entry[] = [
    ...usable.map((r) => ({ base: r.start, length: r.end - r.start, type: E820_RAM })),
    ...holes.map((r) => ({ base: r.start, length: r.end - r.start, type: E820_RESERVED })),
  ];
  return entries.sort((a, b) => a.base - b.base);
}

/** The map as packed 20-byte entries (u64 base, u64 length, u32 type), little-endian. */
export function encodeE820Entries(map: readonly E820Entry[]): Uint8Array {
  const out = new Uint8Array(map.length * E820_ENTRY_BYTES);
  const view = new DataView(out.buffer);
  map.forEach((e, k) => {
    const at = k * E820_ENTRY_BYTES;
    view.setBigUint64(at, BigInt(e.base), true);
    view.setBigUint64(at + 8, BigInt(e.length), true);
    view.setUint32(at + 16, e.type, true);
  });
  return out;
}

/** The usable entry of `map` that holds all of [start, end), or undefined. */
export function usableEntryContaining(map: readonly E820Entry[], start: number, end: number): E820Entry | undefined {
  return map.find((e) => e.type === E820_RAM && e.base <= start && end <= e.base + e.length);
}

/** KiB of usable RAM from 0 up to the first hole (Multiboot mem_lower, at most 640). */
export function lowerMemoryKiB(map: readonly E820Entry[]): number {
  const first = usableEntryContaining(map, 0, 1);
  return first ? Math.floor(Math.min(first.length, LEGACY_END) / 1024) : 0;
}

/** KiB of usable RAM from 1 MiB up to the first hole (Multiboot mem_upper, Linux alt_mem_k). */
export function upperMemoryKiB(map: readonly E820Entry[]): number {
  const high = usableEntryContaining(map, ONE_MIB, ONE_MIB + 1);
  return high && high.base === ONE_MIB ? Math.floor(high.length / 1024) : 0;
}
