/**
 * Intel MultiProcessor Specification 1.4 tables (chapter 4, "MP Configuration Table"):
 * the MP floating pointer structure (§4.1) and the MP configuration table (§4.2) with its
 * base entries (§4.3) for our one-CPU PC with an I/O APIC.
 *
 * What we describe:
 *  - floating pointer: "_MP_", physical pointer to the configuration table, length 1
 *    (16 bytes), spec revision 4 (1.4), feature byte 1 = 0 (a configuration table is
 *    present, no default configuration), feature byte 2 bit 7 (IMCRP) = 0: no IMCR, the
 *    local APIC is in virtual wire mode (§3.6.2.2), feature bytes 3-5 zero;
 *  - configuration table header "PCMP", revision 4, OEM/product IDs, local APIC at
 *    0xFEE00000, no OEM table, no extended entries (length 0, checksum 0);
 *  - entries in the order §4.3 requires (ascending entry type):
 *      processor: APIC ID 0, APIC version 0x14, enabled, bootstrap processor, CPUID
 *        signature and feature flags from the caller;
 *      buses: PCI bus 0 (optional, off by default) then ISA (bus ID 0, or 1 after PCI);
 *      I/O APIC: ID (default 1), version 0x11, enabled, at 0xFEC00000;
 *      I/O interrupts: ExtINT from the 8259 on pin 0; ISA IRQ 0 on pin 2 (the timer, as on
 *        common PCs); ISA IRQ n on pin n for n = 1, 3..15 (IRQ 2 is the cascade and has no
 *        entry); polarity and trigger "conforms to bus" (ISA: active high, edge); then, for
 *        each distinct (device, INTx pin) of `pciFunctions`, a PCI entry (source IRQ per
 *        §D.3) to I/O APIC pin 16 + ((device + pin - 1) mod 4), level triggered, active low
 *        — the PIRQ wiring of src/bus/pci; then the caller's extra entries;
 *      local interrupts: ExtINT on LINT0 and NMI on LINT1 of every local APIC (ID 0xFF).
 *
 * Placement: the floating pointer at the start of the EBDA, 0x9FC00 by default, which is
 * the last KiB of 640 KiB base memory — Linux (arch/x86/kernel/mpparse.c) scans that KiB
 * unconditionally, as well as the first KiB of the EBDA the BDA points at and 0xF0000-
 * 0xFFFFF. The configuration table follows the pointer in the same KiB. That KiB is RAM
 * whether or not a BIOS ROM is loaded, and the e820 map reports it reserved. The BIOS data
 * area words 0x40E (EBDA segment) and 0x413 (base memory in KiB) are written to match.
 */
import { FirmwareConfigError, hex, type MemoryWrite, type ReservedRegion } from './boot-image.js';
import { IOAPIC_BASE, LOCAL_APIC_BASE } from './e820.js';

/** Default guest-physical address of the floating pointer (start of the EBDA). */
export const MP_DEFAULT_BASE = 0x9fc00;
/** Bytes of the floating pointer structure. */
export const MP_FLOATING_POINTER_BYTES = 16;
/** Bytes of the configuration table header. */
export const MP_CONFIG_HEADER_BYTES = 44;
/** BIOS data area word holding the EBDA segment. */
export const BDA_EBDA_SEGMENT = 0x40e;
/** BIOS data area word holding the base memory size in KiB. */
export const BDA_BASE_MEMORY_KIB = 0x413;

/** Entry types (§4.3, table 4-3). */
export const MP_ENTRY_PROCESSOR = 0;
export const MP_ENTRY_BUS = 1;
export const MP_ENTRY_IOAPIC = 2;
export const MP_ENTRY_IO_INTERRUPT = 3;
export const MP_ENTRY_LOCAL_INTERRUPT = 4;

/** Interrupt types of I/O and local interrupt entries (table 4-10). */
export const MP_INT_TYPES = { int: 0, nmi: 1, smi: 2, extint: 3 } as const;
/** Polarity field values (bits 1:0 of the interrupt flags). */
export const MP_POLARITY = { bus: 0, high: 1, low: 3 } as const;
/** Trigger mode values (bits 3:2 of the interrupt flags). */
export const MP_TRIGGER = { bus: 0, edge: 1, level: 3 } as const;

/** Local APIC version we describe (integrated APIC). */
export const MP_LOCAL_APIC_VERSION = 0x14;
/** I/O APIC version we describe (82093AA). */
export const MP_IOAPIC_VERSION = 0x11;
/** I/O APIC ID we describe unless told otherwise: 1, distinct from the CPU's APIC ID 0 (§3.6.1: one ID space on the APIC bus). */
export const MP_DEFAULT_IOAPIC_ID = 1;
/** The timer (ISA IRQ 0) goes to this I/O APIC pin. */
export const MP_TIMER_PIN = 2;

const PROCESSOR_ENTRY_BYTES = 20;
const SHORT_ENTRY_BYTES = 8;
const SPEC_REVISION = 4;
const CPU_FLAG_ENABLED = 1;
const CPU_FLAG_BSP = 2;
const IOAPIC_FLAG_ENABLED = 1;
const ALL_LOCAL_APICS = 0xff;
const ISA_IRQS = 16;
const ISA_CASCADE_IRQ = 2;
const SCANNED_REGIONS: readonly [number, number][] = [[0, 0x400], [0x9fc00, 0xa0000], [0xf0000, 0x100000]];

/** One I/O interrupt assignment entry (§4.3.4). */
export interface MpIoInterrupt {
  readonly kind: keyof typeof MP_INT_TYPES;
  readonly polarity?: keyof typeof MP_POLARITY;
  readonly trigger?: keyof typeof MP_TRIGGER;
  /** Source bus: 'isa' or 'pci' (needs `pciBus`). */
  readonly sourceBus: 'isa' | 'pci';
  /** ISA: the IRQ number. PCI: see `pciInterruptSource`. */
  readonly sourceIrq: number;
  /** Input pin of the I/O APIC (0-23). */
  readonly ioApicPin: number;
}

/** A PCI function's INTx as the MP table needs it. */
export interface MpPciFunction {
  /** Device number on bus 0 (0-31). */
  readonly device: number;
  /** Interrupt Pin register value: 1 = INTA# .. 4 = INTD#; 0 = no INTx (no entry). */
  readonly interruptPin: number;
}

/** I/O APIC input of PIRQA#; PIRQn is on MP_PCI_IOAPIC_BASE_PIN + n. */
export const MP_PCI_IOAPIC_BASE_PIN = 16;

/** What to describe. */
export interface MpTableOptions {
  /** CPUID.01H:EAX (stepping 3:0, model 7:4, family 11:8). */
  readonly cpuSignature: number;
  /** CPUID.01H:EDX feature flags. */
  readonly cpuFeatures: number;
  /** I/O APIC ID (0-15, not 0 = the CPU's APIC ID). Default 1. */
  readonly ioApicId?: number;
  /** Describe a PCI bus 0 (bus IDs: PCI 0, ISA 1). Default false (ISA bus 0 only). */
  readonly pciBus?: boolean;
  /**
   * The plugged PCI functions: when given (even empty), implies `pciBus` and adds one PCI
   * I/O interrupt entry per distinct (device, pin) after the ISA entries.
   */
  readonly pciFunctions?: readonly MpPciFunction[];
  /** Extra I/O interrupt entries after the ISA (and PCI) ones. */
  readonly extraInterrupts?: readonly MpIoInterrupt[];
  /** Address of the floating pointer; 16-byte aligned inside a region Linux scans. Default 0x9FC00. */
  readonly base?: number;
  /** OEM ID (up to 8 ASCII characters). Default "TSX86". */
  readonly oemId?: string;
  /** Product ID (up to 12 ASCII characters). Default "PC". */
  readonly productId?: string;
}

/** The tables and where they go. */
export interface MpTables {
  /** Floating pointer + configuration table (one block), and the two BIOS data area words. */
  readonly writes: readonly MemoryWrite[];
  readonly floatingPointerAddress: number;
  readonly configTableAddress: number;
  readonly configTableBytes: number;
  /** Range to report reserved in the e820 map. */
  readonly reserved: ReservedRegion;
}

/** Source bus IRQ field of a PCI interrupt (§D.3): device number in bits 6:2, INTA#-INTD# (0-3) in bits 1:0. */
export function pciInterruptSource(device: number, pin: number): number {
  if (!Number.isInteger(device) || device < 0 || device > 31) throw new FirmwareConfigError('PCI device', `must be 0-31, got ${device}`);
  if (!Number.isInteger(pin) || pin < 0 || pin > 3) throw new FirmwareConfigError('PCI interrupt pin', `must be 0 (INTA#) to 3 (INTD#), got ${pin}`);
  return (device << 2) | pin;
}

/**
 * The I/O interrupt entries for `functions`' INTx pins: one per distinct (device, pin),
 * ordered by device then pin, level triggered and active low, to I/O APIC pin
 * 16 + ((device + pin - 1) mod 4).
 */
export function pciInterruptEntries(functions: readonly MpPciFunction[]): MpIoInterrupt[] {
  const seen = new Set<number>();
  functions.forEach((f, k) => {
    if (!Number.isInteger(f.interruptPin) || f.interruptPin < 0 || f.interruptPin > 4) {
      throw new FirmwareConfigError(`pciFunctions[${k}]`, `interruptPin must be 0 (none) or 1 (INTA#) to 4 (INTD#), got ${f.interruptPin}`);
    }
    if (f.interruptPin === 0) return;
    seen.add(pciInterruptSource(f.device, f.interruptPin - 1));
  });
  return [...seen].sort((a, b) => a - b).map((source) => {
    const device = source >> 2;
    const pin = (source & 3) + 1;
    return { kind: 'int', polarity: 'low', trigger: 'level', sourceBus: 'pci', sourceIrq: source, ioApicPin: MP_PCI_IOAPIC_BASE_PIN + ((device + pin - 1) % 4) };
  });
}

/** Bytes summing to zero mod 256 with `bytes` (the checksum byte's value). */
function checksumByte(bytes: Uint8Array): number {
  let sum = 0;
  for (const b of bytes) sum = (sum + b) & 0xff;
  return (0x100 - sum) & 0xff;
}

/** Copy `text` as ASCII into `out` at `offset`, space-padded to `width`. */
function putPaddedAscii(out: Uint8Array, offset: number, text: string, width: number, what: string): void {
  if (text.length > width || !/^[\x20-\x7e]*$/.test(text)) {
    throw new FirmwareConfigError(what, `must be at most ${width} printable ASCII characters, got '${text}'`);
  }
  for (let k = 0; k < width; k++) out[offset + k] = k < text.length ? text.charCodeAt(k) : 0x20;
}

/** The short entries' interrupt flags word. */
function interruptFlags(polarity: keyof typeof MP_POLARITY = 'bus', trigger: keyof typeof MP_TRIGGER = 'bus'): number {
  return MP_POLARITY[polarity] | (MP_TRIGGER[trigger] << 2);
}

/** True when the table describes PCI bus 0. */
function hasPciBus(o: MpTableOptions): boolean {
  return o.pciBus === true || o.pciFunctions !== undefined;
}

/** Checks every option; returns the I/O APIC ID and the base. */
function checkOptions(o: MpTableOptions): { ioApicId: number; base: number } {
  const ioApicId = o.ioApicId ?? MP_DEFAULT_IOAPIC_ID;
  if (!Number.isInteger(ioApicId) || ioApicId < 1 || ioApicId > 15) throw new FirmwareConfigError('ioApicId', `must be 1-15 (0 is the CPU's local APIC), got ${ioApicId}`);
  for (const [name, v] of [['cpuSignature', o.cpuSignature], ['cpuFeatures', o.cpuFeatures]] as const) {
    if (!Number.isInteger(v) || v < 0 || v > 0xffffffff) throw new FirmwareConfigError(name, `must be a 32-bit unsigned value, got ${v}`);
  }
  const base = o.base ?? MP_DEFAULT_BASE;
  if (!Number.isInteger(base) || base % 16 !== 0 || !SCANNED_REGIONS.some(([lo, hi]) => base >= lo && base + MP_FLOATING_POINTER_BYTES <= hi)) {
    throw new FirmwareConfigError('base', `the floating pointer must be 16-byte aligned inside 0x0-0x3FF, 0x9FC00-0x9FFFF or 0xF0000-0xFFFFF, got ${hex(base)}`);
  }
  for (const [k, e] of (o.extraInterrupts ?? []).entries()) {
    const what = `extraInterrupts[${k}]`;
    if (!(e.kind in MP_INT_TYPES)) throw new FirmwareConfigError(what, `unknown interrupt kind '${e.kind}'`);
    if (e.polarity !== undefined && !(e.polarity in MP_POLARITY)) throw new FirmwareConfigError(what, `unknown polarity '${e.polarity}'`);
    if (e.trigger !== undefined && !(e.trigger in MP_TRIGGER)) throw new FirmwareConfigError(what, `unknown trigger '${e.trigger}'`);
    if (e.sourceBus === 'pci' && !hasPciBus(o)) throw new FirmwareConfigError(what, 'source bus PCI needs pciBus: true');
    if (e.sourceBus !== 'pci' && e.sourceBus !== 'isa') throw new FirmwareConfigError(what, `unknown source bus '${String(e.sourceBus)}'`);
    if (!Number.isInteger(e.sourceIrq) || e.sourceIrq < 0 || e.sourceIrq > 0xff) throw new FirmwareConfigError(what, `sourceIrq must be 0-255, got ${e.sourceIrq}`);
    if (!Number.isInteger(e.ioApicPin) || e.ioApicPin < 0 || e.ioApicPin > 23) throw new FirmwareConfigError(what, `ioApicPin must be 0-23, got ${e.ioApicPin}`);
  }
  return { ioApicId, base };
}

/** Builds the entry list of the configuration table as bytes, with the entry count. */
function buildEntries(o: MpTableOptions, ioApicId: number): { bytes: Uint8Array; count: number } {
  const chunks: Uint8Array[] = [];
  const processor = new Uint8Array(PROCESSOR_ENTRY_BYTES);
  const pv = new DataView(processor.buffer);
  processor[0] = MP_ENTRY_PROCESSOR;
  processor[1] = 0; // local APIC ID
  processor[2] = MP_LOCAL_APIC_VERSION;
  processor[3] = CPU_FLAG_ENABLED | CPU_FLAG_BSP;
  pv.setUint32(4, o.cpuSignature >>> 0, true);
  pv.setUint32(8, o.cpuFeatures >>> 0, true);
  chunks.push(processor);

  const pciBusId = 0;
  const pci = hasPciBus(o);
  const isaBusId = pci ? 1 : 0;
  const bus = (id: number, type: string): Uint8Array => {
    const e = new Uint8Array(SHORT_ENTRY_BYTES);
    e[0] = MP_ENTRY_BUS;
    e[1] = id;
    putPaddedAscii(e, 2, type, 6, 'bus type');
    return e;
  };
  if (pci) chunks.push(bus(pciBusId, 'PCI'));
  chunks.push(bus(isaBusId, 'ISA'));

  const ioapic = new Uint8Array(SHORT_ENTRY_BYTES);
  ioapic[0] = MP_ENTRY_IOAPIC;
  ioapic[1] = ioApicId;
  ioapic[2] = MP_IOAPIC_VERSION;
  ioapic[3] = IOAPIC_FLAG_ENABLED;
  new DataView(ioapic.buffer).setUint32(4, IOAPIC_BASE, true);
  chunks.push(ioapic);

  const interrupt = (entryType: number, kind: number, flags: number, busId: number, irq: number, destId: number, pin: number): Uint8Array => {
    const e = new Uint8Array(SHORT_ENTRY_BYTES);
    e[0] = entryType;
    e[1] = kind;
    new DataView(e.buffer).setUint16(2, flags, true);
    e[4] = busId;
    e[5] = irq;
    e[6] = destId;
    e[7] = pin;
    return e;
  };
  const conforms = interruptFlags();
  chunks.push(interrupt(MP_ENTRY_IO_INTERRUPT, MP_INT_TYPES.extint, conforms, isaBusId, 0, ioApicId, 0));
  for (let irq = 0; irq < ISA_IRQS; irq++) {
    if (irq === ISA_CASCADE_IRQ) continue;
    chunks.push(interrupt(MP_ENTRY_IO_INTERRUPT, MP_INT_TYPES.int, conforms, isaBusId, irq, ioApicId, irq === 0 ? MP_TIMER_PIN : irq));
  }
  for (const e of [...pciInterruptEntries(o.pciFunctions ?? []), ...(o.extraInterrupts ?? [])]) {
    const busId = e.sourceBus === 'pci' ? pciBusId : isaBusId;
    chunks.push(interrupt(MP_ENTRY_IO_INTERRUPT, MP_INT_TYPES[e.kind], interruptFlags(e.polarity, e.trigger), busId, e.sourceIrq, ioApicId, e.ioApicPin));
  }
  chunks.push(interrupt(MP_ENTRY_LOCAL_INTERRUPT, MP_INT_TYPES.extint, conforms, isaBusId, 0, ALL_LOCAL_APICS, 0));
  chunks.push(interrupt(MP_ENTRY_LOCAL_INTERRUPT, MP_INT_TYPES.nmi, conforms, isaBusId, 0, ALL_LOCAL_APICS, 1));

  const bytes = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let at = 0;
  for (const c of chunks) {
    bytes.set(c, at);
    at += c.length;
  }
  return { bytes, count: chunks.length };
}

/** The configuration table: header + entries, checksummed. */
function buildConfigTable(o: MpTableOptions, ioApicId: number): Uint8Array {
  const entries = buildEntries(o, ioApicId);
  const table = new Uint8Array(MP_CONFIG_HEADER_BYTES + entries.bytes.length);
  const v = new DataView(table.buffer);
  putPaddedAscii(table, 0, 'PCMP', 4, 'signature');
  v.setUint16(4, table.length, true); // base table length
  table[6] = SPEC_REVISION;
  putPaddedAscii(table, 8, o.oemId ?? 'TSX86', 8, 'oemId');
  putPaddedAscii(table, 16, o.productId ?? 'PC', 12, 'productId');
  // 28: OEM table pointer 0, 32: OEM table size 0
  v.setUint16(34, entries.count, true);
  v.setUint32(36, LOCAL_APIC_BASE, true);
  // 40: extended table length 0, 42: extended table checksum 0, 43: reserved
  table.set(entries.bytes, MP_CONFIG_HEADER_BYTES);
  table[7] = checksumByte(table);
  return table;
}

/** The floating pointer structure pointing at `configAddress`. */
function buildFloatingPointer(configAddress: number): Uint8Array {
  const mpf = new Uint8Array(MP_FLOATING_POINTER_BYTES);
  putPaddedAscii(mpf, 0, '_MP_', 4, 'signature');
  new DataView(mpf.buffer).setUint32(4, configAddress, true);
  mpf[8] = 1; // length in 16-byte paragraphs
  mpf[9] = SPEC_REVISION;
  mpf[11] = 0; // feature byte 1: configuration table present
  mpf[12] = 0; // feature byte 2: IMCRP clear, virtual wire mode
  mpf[10] = checksumByte(mpf);
  return mpf;
}

/** The end of the scanned region holding `base` (the tables must not leave it). */
function regionEnd(base: number): number {
  const region = SCANNED_REGIONS.find(([lo, hi]) => base >= lo && base < hi);
  return region ? region[1] : base;
}

/** MP floating pointer + configuration table for our PC (see the module header). */
export function buildMpTables(options: MpTableOptions): MpTables {
  const { ioApicId, base } = checkOptions(options);
  const configAddress = base + MP_FLOATING_POINTER_BYTES;
  const config = buildConfigTable(options, ioApicId);
  const total = MP_FLOATING_POINTER_BYTES + config.length;
  if (base + total > regionEnd(base)) {
    throw new FirmwareConfigError('extraInterrupts', `the MP tables need ${total} bytes but only ${regionEnd(base) - base} fit at ${hex(base)}`);
  }
  const block = new Uint8Array(total);
  block.set(buildFloatingPointer(configAddress), 0);
  block.set(config, MP_FLOATING_POINTER_BYTES);
  const bda = new Uint8Array(2);
  const writes: MemoryWrite[] = [{ name: 'MP tables', address: base, data: block }];
  if (base >= 0x80000 && base < 0xa0000) {
    new DataView(bda.buffer).setUint16(0, base >>> 4, true);
    const baseKiB = new Uint8Array(2);
    new DataView(baseKiB.buffer).setUint16(0, Math.floor(base / 1024), true);
    writes.push({ name: 'BDA EBDA segment', address: BDA_EBDA_SEGMENT, data: bda });
    writes.push({ name: 'BDA base memory size', address: BDA_BASE_MEMORY_KIB, data: baseKiB });
  }
  return {
    writes,
    floatingPointerAddress: base,
    configTableAddress: configAddress,
    configTableBytes: config.length,
    reserved: { name: 'MP tables', base, length: total },
  };
}

/**
 * The MP tables' writes and reserved region for a loader, when its `platformTables` option
 * is on (the default); throws a FirmwareConfigError when it is on without `mpTable`.
 */
export function platformWrites(o: { platformTables?: boolean; mpTable?: MpTableOptions }): { writes: MemoryWrite[]; reserved: ReservedRegion[] } {
  if (o.platformTables === false) return { writes: [], reserved: [] };
  if (!o.mpTable) throw new FirmwareConfigError('mpTable', 'platformTables is on (the default) but no mpTable options (cpuSignature, cpuFeatures) were given');
  const mp = buildMpTables(o.mpTable);
  return { writes: [...mp.writes], reserved: [mp.reserved] };
}
