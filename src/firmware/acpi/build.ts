/**
 * The ACPI tables of our PC and where they go in guest memory (ACPI spec 6.4 §5.2; the
 * RSDP search rule is §5.2.5.1 "Finding the RSDP on IA-PC Systems").
 *
 * Layout (default; every address can be moved by an option):
 *
 *   0xE0000            RSDP (36 bytes, 16-byte aligned: the OS scans 0xE0000-0xFFFFF on
 *                      16-byte boundaries for "RSD PTR ")
 *   0xE0040            FACS (64 bytes, 64-byte aligned)
 *   then, 16-byte aligned each: DSDT, FADT (FACP), MADT (APIC), RSDT, XSDT
 *
 * All of it is well under 4 KiB and sits in 0xE0000-0xEFFFF, which the e820 map already
 * reports reserved ([EBDA, 1 MiB) in e820.ts) and which nothing else uses when the board
 * boots a kernel directly (no BIOS ROM is loaded there). Tables in reserved memory are
 * allowed (§15 lets the OS find them in AddressRangeReserved), Linux reads them from there
 * like from a BIOS's F segment, and this placement cannot collide with an initrd the
 * loaders put near the top of RAM. `tablesAddress` moves everything but the RSDP
 * elsewhere (e.g. just below the top of RAM); the returned regions then tell the e820
 * builder what to mark: the FACS reserved (type 2: §5.2.10 forbids reporting it as
 * usable, and the OS keeps using it), the other tables ACPI-reclaimable (type 3).
 *
 * The platform described (see tables.ts and dsdt.ts for the encodings):
 *  - FADT: SCI on ISA IRQ 9; SMI_CMD 0 (the hardware is always in ACPI mode, so the
 *    acpi-pm device reads SCI_EN = 1); PM1a event block at I/O 0x600 (4 bytes), PM1a
 *    control at 0x604 (2), 24-bit PM timer at 0x608 (4); no PM1b, PM2 or GPE blocks;
 *    C2/C3 not supported; century at CMOS 0x32; IAPC_BOOT_ARCH LEGACY_DEVICES | 8042;
 *    flags WBINVD | PROC_C1 | SLP_BUTTON (no sleep button; the fixed power button
 *    exists) | RESET_REG_SUP with RESET_REG = system I/O port 0x64, value 0xFE (the
 *    8042's pulse-reset command).
 *  - MADT: local APIC at 0xFEE00000, PCAT_COMPAT; one enabled local APIC per CPU (ACPI
 *    processor UID n, APIC ID n); the I/O APIC (ID 0, 0xFEC00000, GSI base 0); overrides
 *    ISA IRQ 0 → GSI 2 (flags 0: conforms to ISA, edge / active high) and ISA IRQ 9 (the
 *    SCI) → GSI 9 level / active high; local APIC NMI on LINT1 for all processors.
 *  - DSDT: \_S5_ = {5, 5, 0, 0} and the \_SB_ devices of dsdt.ts `pcDevices` (plus the PCI
 *    root bridge \_SB_.PCI0 with `pci: true`).
 */
import { FirmwareConfigError, hex, type MemoryWrite, type ReservedRegion } from '../boot-image.js';
import { type AcpiDeviceSpec, ACPI_S5_SLEEP_TYPE, buildDsdtBody, pcDevices } from './dsdt.js';
import {
  type AcpiOemIds,
  encodeDsdt,
  encodeFacs,
  encodeFadt,
  encodeMadt,
  encodeRsdp,
  encodeRsdt,
  encodeXsdt,
  FACS_ALIGNMENT,
  FADT_PROC_C1,
  FADT_RESET_REG_SUP,
  FADT_SLP_BUTTON,
  FADT_WBINVD,
  GAS_ACCESS_BYTE,
  IAPC_8042,
  IAPC_LEGACY_DEVICES,
  ioRegister,
  MPS_INTI_POLARITY_HIGH,
  MPS_INTI_TRIGGER_LEVEL,
  RSDP_BYTES,
} from './tables.js';

/** Default RSDP address: the start of the BIOS area Linux scans. */
export const ACPI_DEFAULT_RSDP_ADDRESS = 0xe0000;
/** The RSDP must lie in [0xE0000, 0x100000) (or the EBDA's first KiB, which the MP table uses). */
export const ACPI_RSDP_SCAN_START = 0xe0000;
export const ACPI_RSDP_SCAN_END = 0x100000;
/** Default I/O base of the PM register block (PM1a_EVT; CNT at +4, TMR at +8). */
export const ACPI_PM_DEFAULT_BASE = 0x600;
/** Offsets inside the PM register block. */
export const ACPI_PM1_EVT_OFFSET = 0;
export const ACPI_PM1_CNT_OFFSET = 4;
export const ACPI_PM_TMR_OFFSET = 8;
/** Default SCI: ISA IRQ 9 (GSI 9). */
export const ACPI_DEFAULT_SCI_IRQ = 9;
/** RESET_REG: the 8042 command port and its pulse-reset command. */
export const ACPI_RESET_PORT = 0x64;
export const ACPI_RESET_VALUE = 0xfe;
/** CMOS index of the century byte (our RTC keeps it there). */
export const ACPI_DEFAULT_CENTURY_INDEX = 0x32;
/** Default I/O APIC and local APIC addresses and I/O APIC ID. */
export const ACPI_DEFAULT_IOAPIC_ADDRESS = 0xfec0_0000;
export const ACPI_DEFAULT_LOCAL_APIC_ADDRESS = 0xfee0_0000;
export const ACPI_DEFAULT_IOAPIC_ID = 0;
/** ISA IRQ 0 (the PIT) arrives on I/O APIC pin 2. */
export const ACPI_TIMER_GSI = 2;
/** Our OEM identification. */
export const ACPI_DEFAULT_OEM_IDS: AcpiOemIds = {
  oemId: 'TSHV  ',
  oemTableId: 'TSHVPC  ',
  oemRevision: 1,
  creatorId: 'TSHV',
  creatorRevision: 1,
};

/** e820 type the guest's map should give a region (2 reserved, 3 ACPI reclaimable). */
export type AcpiE820Type = 2 | 3;

/** A range the tables occupy and how the e820 map should report it. */
export interface AcpiRegion extends ReservedRegion {
  readonly e820Type: AcpiE820Type;
}

/** What to build. */
export interface AcpiBuildOptions {
  /** Guest RAM in bytes (RAM is contiguous from 0); at least 1 MiB. */
  readonly memoryBytes: number;
  /** Processors (1..254): local APIC IDs and ACPI processor UIDs 0..cpuCount-1. */
  readonly cpuCount: number;
  /** I/O APIC ID (0-15); must match what the board programs and the MP table says. Default 0. */
  readonly ioApicId?: number;
  readonly ioApicAddress?: number;
  readonly localApicAddress?: number;
  /** I/O base of the 12-port PM block. Default 0x600. */
  readonly pmBase?: number;
  /** SCI ISA IRQ (and GSI). Default 9. */
  readonly sciIrq?: number;
  /** CMOS century index for the FADT (0 = none). Default 0x32. */
  readonly centuryIndex?: number;
  /** RSDP address: 16-byte aligned in [0xE0000, 0x100000). Default 0xE0000. */
  readonly rsdpAddress?: number;
  /** Start of the other tables (64-byte aligned, in RAM). Default: 0x40 after the RSDP. */
  readonly tablesAddress?: number;
  /** \_SB_ devices. Default dsdt.ts `pcDevices(cpuCount, { pci })`. */
  readonly devices?: readonly AcpiDeviceSpec[];
  /** Describe the PCI root bridge \_SB_.PCI0 (with the default devices). Default false. */
  readonly pci?: boolean;
  /** SLP_TYP for S5. Default 5 (the acpi-pm device's default). */
  readonly s5SleepType?: number;
  /** Header identification. Default ACPI_DEFAULT_OEM_IDS. */
  readonly oemIds?: AcpiOemIds;
}

/** Addresses of the individual tables. */
export interface AcpiTableAddresses {
  readonly rsdp: number;
  readonly facs: number;
  readonly dsdt: number;
  readonly fadt: number;
  readonly madt: number;
  readonly rsdt: number;
  readonly xsdt: number;
}

/** The tables and where they go. */
export interface AcpiTables {
  readonly rsdpAddress: number;
  /** One write per table, non-overlapping; the board copies them into RAM. */
  readonly writes: readonly MemoryWrite[];
  /** Ranges to report in the e820 map with the given types. */
  readonly reservedRegions: readonly AcpiRegion[];
  readonly addresses: AcpiTableAddresses;
}

const ONE_MIB = 0x10_0000;
const FOUR_GIB = 0x1_0000_0000;
const TABLE_ALIGNMENT = 16;

function alignTo(value: number, alignment: number): number {
  return Math.ceil(value / alignment) * alignment;
}

function checkInt(option: string, value: number, min: number, max: number): void {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new FirmwareConfigError(option, `must be an integer in [${hex(min)}, ${hex(max)}], got ${value}`);
  }
}

function checkOptions(o: AcpiBuildOptions): void {
  checkInt('memoryBytes', o.memoryBytes, ONE_MIB, FOUR_GIB);
  checkInt('cpuCount', o.cpuCount, 1, 254);
  if (o.ioApicId !== undefined) checkInt('ioApicId', o.ioApicId, 0, 15);
  if (o.ioApicAddress !== undefined) checkInt('ioApicAddress', o.ioApicAddress, 0, FOUR_GIB - 1);
  if (o.localApicAddress !== undefined) checkInt('localApicAddress', o.localApicAddress, 0, FOUR_GIB - 1);
  if (o.pmBase !== undefined) checkInt('pmBase', o.pmBase, 1, 0xffff - 11);
  if (o.sciIrq !== undefined) checkInt('sciIrq', o.sciIrq, 0, 15);
  if (o.centuryIndex !== undefined) checkInt('centuryIndex', o.centuryIndex, 0, 0x7f);
  if (o.s5SleepType !== undefined) checkInt('s5SleepType', o.s5SleepType, 0, 7);
  const rsdp = o.rsdpAddress ?? ACPI_DEFAULT_RSDP_ADDRESS;
  checkInt('rsdpAddress', rsdp, ACPI_RSDP_SCAN_START, ACPI_RSDP_SCAN_END - RSDP_BYTES);
  if (rsdp % 16 !== 0) throw new FirmwareConfigError('rsdpAddress', `must be 16-byte aligned, got ${hex(rsdp)}`);
  if (o.tablesAddress !== undefined) {
    checkInt('tablesAddress', o.tablesAddress, 0, FOUR_GIB - 1);
    if (o.tablesAddress % FACS_ALIGNMENT !== 0) {
      throw new FirmwareConfigError('tablesAddress', `must be 64-byte aligned (the FACS comes first), got ${hex(o.tablesAddress)}`);
    }
  }
}

/** Hands out 16-byte-aligned addresses from `start`. */
class Placer {
  constructor(private next: number) {}
  place(length: number, alignment = TABLE_ALIGNMENT): number {
    const at = alignTo(this.next, alignment);
    this.next = at + length;
    return at;
  }
  get end(): number {
    return this.next;
  }
}

/** The MADT contents for `o` (see the module header). */
function madtFields(o: AcpiBuildOptions, sciIrq: number) {
  const processors = [];
  for (let i = 0; i < o.cpuCount; i++) processors.push({ uid: i, apicId: i });
  return {
    localApicAddress: o.localApicAddress ?? ACPI_DEFAULT_LOCAL_APIC_ADDRESS,
    processors,
    ioApic: { id: o.ioApicId ?? ACPI_DEFAULT_IOAPIC_ID, address: o.ioApicAddress ?? ACPI_DEFAULT_IOAPIC_ADDRESS, gsiBase: 0 },
    overrides: [
      { isaIrq: 0, gsi: ACPI_TIMER_GSI, flags: 0 },
      { isaIrq: sciIrq, gsi: sciIrq, flags: MPS_INTI_POLARITY_HIGH | MPS_INTI_TRIGGER_LEVEL },
    ],
    nmiLint: 1,
  };
}

/**
 * Build RSDP, RSDT, XSDT, FADT, FACS, DSDT and MADT for our board (see the module header)
 * and place them. Throws FirmwareConfigError naming the option when an option is unusable
 * or a table would not fit in RAM.
 */
export function buildAcpiTables(options: AcpiBuildOptions): AcpiTables {
  checkOptions(options);
  const ids = options.oemIds ?? ACPI_DEFAULT_OEM_IDS;
  const pmBase = options.pmBase ?? ACPI_PM_DEFAULT_BASE;
  const sciIrq = options.sciIrq ?? ACPI_DEFAULT_SCI_IRQ;
  const rsdpAddress = options.rsdpAddress ?? ACPI_DEFAULT_RSDP_ADDRESS;
  const tablesStart = options.tablesAddress ?? alignTo(rsdpAddress + RSDP_BYTES, FACS_ALIGNMENT);

  const dsdtBody = buildDsdtBody({
    devices: options.devices ?? pcDevices(options.cpuCount, { pci: options.pci ?? false }),
    s5SleepType: options.s5SleepType ?? ACPI_S5_SLEEP_TYPE,
  });
  const dsdt = encodeDsdt(dsdtBody, ids);
  const madt = encodeMadt(madtFields(options, sciIrq), ids);
  const facs = encodeFacs();

  const placer = new Placer(tablesStart);
  const facsAddress = placer.place(facs.length, FACS_ALIGNMENT);
  const dsdtAddress = placer.place(dsdt.length);
  const fadt = encodeFadt(
    {
      facsAddress,
      dsdtAddress,
      sciInterrupt: sciIrq,
      pm1aEventBlock: pmBase + ACPI_PM1_EVT_OFFSET,
      pm1aControlBlock: pmBase + ACPI_PM1_CNT_OFFSET,
      pmTimerBlock: pmBase + ACPI_PM_TMR_OFFSET,
      century: options.centuryIndex ?? ACPI_DEFAULT_CENTURY_INDEX,
      iapcBootArch: IAPC_LEGACY_DEVICES | IAPC_8042,
      flags: FADT_WBINVD | FADT_PROC_C1 | FADT_SLP_BUTTON | FADT_RESET_REG_SUP,
      resetRegister: ioRegister(ACPI_RESET_PORT, 1, GAS_ACCESS_BYTE),
      resetValue: ACPI_RESET_VALUE,
    },
    ids,
  );
  const fadtAddress = placer.place(fadt.length);
  const madtAddress = placer.place(madt.length);
  const pointed = [fadtAddress, madtAddress];
  const rsdt = encodeRsdt(pointed, ids);
  const rsdtAddress = placer.place(rsdt.length);
  const xsdt = encodeXsdt(pointed, ids);
  const xsdtAddress = placer.place(xsdt.length);
  const tablesEnd = placer.end;
  const rsdp = encodeRsdp(ids.oemId, rsdtAddress, xsdtAddress);

  const writes: MemoryWrite[] = [
    { name: 'ACPI RSDP', address: rsdpAddress, data: rsdp },
    { name: 'ACPI FACS', address: facsAddress, data: facs },
    { name: 'ACPI DSDT', address: dsdtAddress, data: dsdt },
    { name: 'ACPI FADT', address: fadtAddress, data: fadt },
    { name: 'ACPI MADT', address: madtAddress, data: madt },
    { name: 'ACPI RSDT', address: rsdtAddress, data: rsdt },
    { name: 'ACPI XSDT', address: xsdtAddress, data: xsdt },
  ];
  checkPlacement(writes, options.memoryBytes, rsdpAddress, tablesStart, tablesEnd);

  const afterFacs = facsAddress + facs.length;
  const reservedRegions: AcpiRegion[] = [
    { name: 'ACPI RSDP', base: rsdpAddress, length: RSDP_BYTES, e820Type: 2 },
    { name: 'ACPI FACS', base: facsAddress, length: facs.length, e820Type: 2 },
    { name: 'ACPI tables', base: afterFacs, length: tablesEnd - afterFacs, e820Type: 3 },
  ];
  return {
    rsdpAddress,
    writes,
    reservedRegions,
    addresses: { rsdp: rsdpAddress, facs: facsAddress, dsdt: dsdtAddress, fadt: fadtAddress, madt: madtAddress, rsdt: rsdtAddress, xsdt: xsdtAddress },
  };
}

/** Every table inside RAM and below 4 GiB, and the RSDP outside the table block. */
function checkPlacement(writes: readonly MemoryWrite[], memoryBytes: number, rsdp: number, start: number, end: number): void {
  for (const w of writes) {
    if (w.address + w.data.length > memoryBytes) {
      throw new FirmwareConfigError(
        w.name === 'ACPI RSDP' ? 'rsdpAddress' : 'tablesAddress',
        `${w.name} (${w.data.length} bytes at ${hex(w.address)}) does not fit in ${hex(memoryBytes)} bytes of RAM`,
      );
    }
  }
  if (rsdp + RSDP_BYTES > start && rsdp < end) {
    throw new FirmwareConfigError('tablesAddress', `table block [${hex(start)}, ${hex(end)}) overlaps the RSDP at ${hex(rsdp)}`);
  }
}
