/**
 * Encoders for the fixed ACPI tables of our PC (ACPI spec 6.4 chapter 5.2 "ACPI System
 * Description Tables"): RSDP (§5.2.5.3), the common header (§5.2.6), RSDT (§5.2.7), XSDT
 * (§5.2.8), FADT (§5.2.9), FACS (§5.2.10), DSDT (§5.2.11.1) and MADT (§5.2.12).
 * Each encoder takes the addresses it points at and returns finished bytes (checksums
 * filled in); build.ts lays the tables out in guest memory.
 *
 * Revisions (what Linux 6.1's ACPICA parses without complaint):
 *  - RSDP revision 2 (ACPI 2.0+ layout, 36 bytes) carrying both the RSDT and the XSDT;
 *    ACPICA uses the XSDT when the revision is > 1. Both list the same tables.
 *  - FADT revision 6, minor version 4 (ACPI 6.4), 276 bytes: exactly the size of ACPICA's
 *    `struct acpi_table_fadt`, so it is neither truncated nor padded.
 *  - FACS version 2, 64 bytes, 64-byte aligned.
 *  - MADT revision 5, DSDT revision 2 (64-bit AML integers), RSDT/XSDT revision 1.
 *
 * FADT facts that keep ACPICA quiet (drivers/acpi/acpica/tbfadt.c behaviour):
 *  - every X_ register block that is present has the same address as its 32-bit field and
 *    a bit width of 8 × its legacy length (else "32/64X address/length mismatch"), and the
 *    widths equal ACPICA's defaults (PM1 event 32, PM1 control 16, PM timer 32; else
 *    "Invalid length for FADT/...");
 *  - PM1a event and control blocks are required (non-zero address and length); PM1b, PM2
 *    and both GPE blocks are absent with address and length both zero (an address without
 *    a length, or the reverse, draws "Optional FADT field ... has zero address or length").
 *    With no GPE block ACPICA installs no GPE handlers, which our board does not need;
 *  - DSDT and X_DSDT hold the same address; the FACS is given in FIRMWARE_CTRL only
 *    (X_FIRMWARE_CTRL = 0), as §5.2.9 asks when the address is below 4 GiB.
 */
import { concatBytes } from './aml.js';

/** Length of the common table header. */
export const ACPI_HEADER_BYTES = 36;
/** RSDP length for revision 2. */
export const RSDP_BYTES = 36;
/** The RSDP's first checksum covers the ACPI 1.0 part: this many bytes. */
export const RSDP_V1_CHECKSUM_BYTES = 20;
/** FADT length for revision 6. */
export const FADT_BYTES = 276;
/** FACS length. */
export const FACS_BYTES = 64;
/** FACS alignment required by §5.2.10. */
export const FACS_ALIGNMENT = 64;

/** RSDP revision (2: XSDT present). */
export const RSDP_REVISION = 2;
/** FADT major revision. */
export const FADT_REVISION = 6;
/** FADT minor version (ACPI 6.4). */
export const FADT_MINOR_VERSION = 4;
/** FACS version. */
export const FACS_VERSION = 2;
/** MADT revision. */
export const MADT_REVISION = 5;
/** DSDT revision (2 = 64-bit integers). */
export const DSDT_REVISION = 2;
/** RSDT and XSDT revision. */
export const RSDT_REVISION = 1;

// FADT Flags (§5.2.9, table "Fixed ACPI Description Table Fixed Feature Flags").
/** WBINVD works correctly. */
export const FADT_WBINVD = 1 << 0;
/** C1 (HLT) is supported on all processors. */
export const FADT_PROC_C1 = 1 << 2;
/** Set: there is NO fixed-feature power button (we leave it clear: the button exists). */
export const FADT_PWR_BUTTON = 1 << 4;
/** Set: there is no fixed-feature sleep button. */
export const FADT_SLP_BUTTON = 1 << 5;
/** Set: the PM timer is 32 bits (clear: 24 bits). */
export const FADT_TMR_VAL_EXT = 1 << 8;
/** RESET_REG is supported. */
export const FADT_RESET_REG_SUP = 1 << 10;
/** Hardware-reduced ACPI (not us). */
export const FADT_HW_REDUCED_ACPI = 1 << 20;

// IAPC_BOOT_ARCH (§5.2.9.3).
/** Legacy devices (ISA/LPC) that the OS may probe. */
export const IAPC_LEGACY_DEVICES = 1 << 0;
/** An 8042 keyboard controller is present. */
export const IAPC_8042 = 1 << 1;
/** Set: VGA is not present. */
export const IAPC_VGA_NOT_PRESENT = 1 << 2;
/** Set: no CMOS RTC. */
export const IAPC_CMOS_RTC_NOT_PRESENT = 1 << 5;

// Generic Address Structure (§5.2.3.2).
/** GAS address space: system I/O. */
export const GAS_SYSTEM_IO = 1;
/** GAS access size codes: undefined, byte, word, dword, qword. */
export const GAS_ACCESS_BYTE = 1;
export const GAS_ACCESS_WORD = 2;
export const GAS_ACCESS_DWORD = 3;
/** Bytes of one GAS. */
export const GAS_BYTES = 12;

// MADT (§5.2.12).
/** MADT flag: the system also has dual 8259 PICs (PCAT_COMPAT). */
export const MADT_PCAT_COMPAT = 1;
/** Interrupt controller structure types. */
export const MADT_TYPE_LOCAL_APIC = 0;
export const MADT_TYPE_IO_APIC = 1;
export const MADT_TYPE_INTERRUPT_OVERRIDE = 2;
export const MADT_TYPE_LOCAL_APIC_NMI = 4;
/** Local APIC flags: Enabled. */
export const MADT_LAPIC_ENABLED = 1;
/** MPS INTI flags: polarity bits 1:0 and trigger bits 3:2 (00 = conforms to the bus). */
export const MPS_INTI_POLARITY_HIGH = 0b01;
export const MPS_INTI_POLARITY_LOW = 0b11;
export const MPS_INTI_TRIGGER_EDGE = 0b01 << 2;
export const MPS_INTI_TRIGGER_LEVEL = 0b11 << 2;
/** ACPI processor UID meaning "all processors" in a local APIC NMI structure. */
export const MADT_ALL_PROCESSORS = 0xff;

/** The identification every table header carries. */
export interface AcpiOemIds {
  /** OEM ID, exactly 6 ASCII characters (pad with spaces). */
  readonly oemId: string;
  /** OEM table ID, exactly 8 ASCII characters; the same in every table (the FADT's must match the RSDT's). */
  readonly oemTableId: string;
  readonly oemRevision: number;
  /** Creator ID, exactly 4 ASCII characters. */
  readonly creatorId: string;
  readonly creatorRevision: number;
}

/** A Generic Address Structure. */
export interface GenericAddress {
  readonly spaceId: number;
  readonly bitWidth: number;
  readonly bitOffset: number;
  readonly accessSize: number;
  readonly address: number;
}

/** A zero GAS (register not present). */
export const GAS_NONE: GenericAddress = { spaceId: 0, bitWidth: 0, bitOffset: 0, accessSize: 0, address: 0 };

/** A system I/O register of `bytes` bytes accessed `accessSize`-wide at `port`. */
export function ioRegister(port: number, bytes: number, accessSize: number): GenericAddress {
  return { spaceId: GAS_SYSTEM_IO, bitWidth: bytes * 8, bitOffset: 0, accessSize, address: port };
}

/** Byte that makes `data` sum to zero modulo 256 when stored at `at` (which must hold 0 when called). */
export function checksumByte(data: Uint8Array, start = 0, end = data.length): number {
  let sum = 0;
  for (let k = start; k < end; k++) sum = (sum + data[k]!) & 0xff;
  return (0x100 - sum) & 0xff;
}

/** Little-endian field writer over a byte array (64-bit values are below 2^53). */
class Fields {
  readonly view: DataView;
  constructor(readonly bytes: Uint8Array) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }
  u8(at: number, v: number): void {
    this.view.setUint8(at, v);
  }
  u16(at: number, v: number): void {
    this.view.setUint16(at, v, true);
  }
  u32(at: number, v: number): void {
    this.view.setUint32(at, v >>> 0, true);
  }
  u64(at: number, v: number): void {
    this.view.setUint32(at, v % 0x1_0000_0000, true);
    this.view.setUint32(at + 4, Math.floor(v / 0x1_0000_0000), true);
  }
  ascii(at: number, text: string, length: number, field: string): void {
    if (text.length !== length || !/^[\x20-\x7e]*$/.test(text)) {
      throw new RangeError(`ACPI: ${field} '${text}' must be exactly ${length} printable ASCII characters`);
    }
    for (let k = 0; k < length; k++) this.bytes[at + k] = text.charCodeAt(k);
  }
  gas(at: number, g: GenericAddress): void {
    this.u8(at, g.spaceId);
    this.u8(at + 1, g.bitWidth);
    this.u8(at + 2, g.bitOffset);
    this.u8(at + 3, g.accessSize);
    this.u64(at + 4, g.address);
  }
}

/** A table of `length` bytes with its header filled in; the caller fills the body then calls `sealTable`. */
function newTable(signature: string, length: number, revision: number, ids: AcpiOemIds): Fields {
  const f = new Fields(new Uint8Array(length));
  f.ascii(0, signature, 4, 'signature');
  f.u32(4, length);
  f.u8(8, revision);
  f.ascii(10, ids.oemId, 6, 'OEM ID');
  f.ascii(16, ids.oemTableId, 8, 'OEM table ID');
  f.u32(24, ids.oemRevision);
  f.ascii(28, ids.creatorId, 4, 'creator ID');
  f.u32(32, ids.creatorRevision);
  return f;
}

/** Fill the header checksum (byte 9) so the whole table sums to zero. */
function sealTable(f: Fields): Uint8Array {
  f.bytes[9] = 0;
  f.bytes[9] = checksumByte(f.bytes);
  return f.bytes;
}

/** RSDP revision 2: signature, checksum over 20 bytes, OEM ID, RSDT and XSDT addresses, extended checksum over 36. */
export function encodeRsdp(oemId: string, rsdtAddress: number, xsdtAddress: number): Uint8Array {
  const f = new Fields(new Uint8Array(RSDP_BYTES));
  f.ascii(0, 'RSD PTR ', 8, 'RSDP signature');
  f.ascii(9, oemId, 6, 'OEM ID');
  f.u8(15, RSDP_REVISION);
  f.u32(16, rsdtAddress);
  f.u32(20, RSDP_BYTES);
  f.u64(24, xsdtAddress);
  f.u8(8, checksumByte(f.bytes, 0, RSDP_V1_CHECKSUM_BYTES));
  f.u8(32, checksumByte(f.bytes, 0, RSDP_BYTES));
  return f.bytes;
}

/** RSDT: 32-bit pointers to the tables. */
export function encodeRsdt(tableAddresses: readonly number[], ids: AcpiOemIds): Uint8Array {
  const f = newTable('RSDT', ACPI_HEADER_BYTES + 4 * tableAddresses.length, RSDT_REVISION, ids);
  tableAddresses.forEach((a, k) => f.u32(ACPI_HEADER_BYTES + 4 * k, a));
  return sealTable(f);
}

/** XSDT: 64-bit pointers to the tables. */
export function encodeXsdt(tableAddresses: readonly number[], ids: AcpiOemIds): Uint8Array {
  const f = newTable('XSDT', ACPI_HEADER_BYTES + 8 * tableAddresses.length, RSDT_REVISION, ids);
  tableAddresses.forEach((a, k) => f.u64(ACPI_HEADER_BYTES + 8 * k, a));
  return sealTable(f);
}

/** The FADT fields our board chooses (see build.ts for the values). */
export interface FadtFields {
  readonly facsAddress: number;
  readonly dsdtAddress: number;
  readonly sciInterrupt: number;
  readonly pm1aEventBlock: number;
  readonly pm1aControlBlock: number;
  readonly pmTimerBlock: number;
  /** CMOS index of the century byte (0 = none). */
  readonly century: number;
  readonly iapcBootArch: number;
  readonly flags: number;
  readonly resetRegister: GenericAddress;
  readonly resetValue: number;
}

/** PM1 event block length (status + enable, 2 bytes each). */
export const FADT_PM1_EVT_LEN = 4;
/** PM1 control block length. */
export const FADT_PM1_CNT_LEN = 2;
/** PM timer block length. */
export const FADT_PM_TMR_LEN = 4;
/** P_LVL2_LAT above 100 µs: C2 not supported. */
export const FADT_C2_NOT_SUPPORTED = 101;
/** P_LVL3_LAT above 1000 µs: C3 not supported. */
export const FADT_C3_NOT_SUPPORTED = 1001;

/** FADT revision 6 (field offsets from §5.2.9, table "FADT Format"). */
export function encodeFadt(v: FadtFields, ids: AcpiOemIds): Uint8Array {
  const f = newTable('FACP', FADT_BYTES, FADT_REVISION, ids);
  f.u32(36, v.facsAddress); // FIRMWARE_CTRL
  f.u32(40, v.dsdtAddress); // DSDT
  // 44 reserved (was INT_MODEL) = 0; 45 Preferred_PM_Profile = 0 (unspecified)
  f.u16(46, v.sciInterrupt);
  // 48 SMI_CMD = 0 (no SMI: always in ACPI mode); 52 ACPI_ENABLE, 53 ACPI_DISABLE,
  // 54 S4BIOS_REQ, 55 PSTATE_CNT = 0
  f.u32(56, v.pm1aEventBlock); // PM1a_EVT_BLK; 60 PM1b_EVT_BLK = 0
  f.u32(64, v.pm1aControlBlock); // PM1a_CNT_BLK; 68 PM1b_CNT_BLK = 0; 72 PM2_CNT_BLK = 0
  f.u32(76, v.pmTimerBlock); // PM_TMR_BLK; 80 GPE0_BLK = 0; 84 GPE1_BLK = 0
  f.u8(88, FADT_PM1_EVT_LEN);
  f.u8(89, FADT_PM1_CNT_LEN);
  // 90 PM2_CNT_LEN = 0
  f.u8(91, FADT_PM_TMR_LEN);
  // 92 GPE0_BLK_LEN = 0, 93 GPE1_BLK_LEN = 0, 94 GPE1_BASE = 0, 95 CST_CNT = 0
  f.u16(96, FADT_C2_NOT_SUPPORTED); // P_LVL2_LAT
  f.u16(98, FADT_C3_NOT_SUPPORTED); // P_LVL3_LAT
  // 100 FLUSH_SIZE, 102 FLUSH_STRIDE, 104 DUTY_OFFSET, 105 DUTY_WIDTH, 106 DAY_ALRM,
  // 107 MON_ALRM = 0
  f.u8(108, v.century);
  f.u16(109, v.iapcBootArch);
  // 111 reserved
  f.u32(112, v.flags);
  f.gas(116, v.resetRegister);
  f.u8(128, v.resetValue);
  // 129 ARM_BOOT_ARCH = 0
  f.u8(131, FADT_MINOR_VERSION);
  // 132 X_FIRMWARE_CTRL = 0 (FIRMWARE_CTRL holds the FACS address)
  f.u64(140, v.dsdtAddress); // X_DSDT
  f.gas(148, ioRegister(v.pm1aEventBlock, FADT_PM1_EVT_LEN, GAS_ACCESS_WORD)); // X_PM1a_EVT_BLK
  // 160 X_PM1b_EVT_BLK = none
  f.gas(172, ioRegister(v.pm1aControlBlock, FADT_PM1_CNT_LEN, GAS_ACCESS_WORD)); // X_PM1a_CNT_BLK
  // 184 X_PM1b_CNT_BLK, 196 X_PM2_CNT_BLK = none
  f.gas(208, ioRegister(v.pmTimerBlock, FADT_PM_TMR_LEN, GAS_ACCESS_DWORD)); // X_PM_TMR_BLK
  // 220 X_GPE0_BLK, 232 X_GPE1_BLK, 244 SLEEP_CONTROL_REG, 256 SLEEP_STATUS_REG = none;
  // 268 hypervisor vendor identity = 0
  return sealTable(f);
}

/** FACS (no header checksum): signature, length, zero hardware signature, no waking vector, version 2. */
export function encodeFacs(): Uint8Array {
  const f = new Fields(new Uint8Array(FACS_BYTES));
  f.ascii(0, 'FACS', 4, 'FACS signature');
  f.u32(4, FACS_BYTES);
  // 8 hardware signature, 12 firmware waking vector, 16 global lock, 20 flags,
  // 24 X firmware waking vector = 0
  f.u8(32, FACS_VERSION);
  // 36 OSPM flags, 40..63 reserved = 0
  return f.bytes;
}

/** A DSDT: header + AML body. */
export function encodeDsdt(amlBody: Uint8Array, ids: AcpiOemIds): Uint8Array {
  const f = newTable('DSDT', ACPI_HEADER_BYTES + amlBody.length, DSDT_REVISION, ids);
  f.bytes.set(amlBody, ACPI_HEADER_BYTES);
  return sealTable(f);
}

/** An interrupt source override (ISA bus). */
export interface InterruptOverride {
  readonly isaIrq: number;
  readonly gsi: number;
  /** MPS INTI flags (polarity | trigger). */
  readonly flags: number;
}

/** What the MADT describes. */
export interface MadtFields {
  readonly localApicAddress: number;
  /** Processor local APICs: ACPI processor UID and APIC ID, all enabled. */
  readonly processors: readonly { readonly uid: number; readonly apicId: number }[];
  readonly ioApic: { readonly id: number; readonly address: number; readonly gsiBase: number };
  readonly overrides: readonly InterruptOverride[];
  /** Local APIC NMI: which LINT pin (0/1), for all processors. */
  readonly nmiLint: number;
}

/** MADT: header, local APIC address, PCAT_COMPAT, then the interrupt controller structures. */
export function encodeMadt(v: MadtFields, ids: AcpiOemIds): Uint8Array {
  const entries: Uint8Array[] = [];
  for (const p of v.processors) {
    const e = new Fields(new Uint8Array(8));
    e.u8(0, MADT_TYPE_LOCAL_APIC);
    e.u8(1, 8);
    e.u8(2, p.uid);
    e.u8(3, p.apicId);
    e.u32(4, MADT_LAPIC_ENABLED);
    entries.push(e.bytes);
  }
  const io = new Fields(new Uint8Array(12));
  io.u8(0, MADT_TYPE_IO_APIC);
  io.u8(1, 12);
  io.u8(2, v.ioApic.id);
  io.u32(4, v.ioApic.address);
  io.u32(8, v.ioApic.gsiBase);
  entries.push(io.bytes);
  for (const o of v.overrides) {
    const e = new Fields(new Uint8Array(10));
    e.u8(0, MADT_TYPE_INTERRUPT_OVERRIDE);
    e.u8(1, 10);
    e.u8(2, 0); // bus: ISA
    e.u8(3, o.isaIrq);
    e.u32(4, o.gsi);
    e.u16(8, o.flags);
    entries.push(e.bytes);
  }
  const nmi = new Fields(new Uint8Array(6));
  nmi.u8(0, MADT_TYPE_LOCAL_APIC_NMI);
  nmi.u8(1, 6);
  nmi.u8(2, MADT_ALL_PROCESSORS);
  nmi.u16(3, 0); // flags: conforms to the bus (edge, active high)
  nmi.u8(5, v.nmiLint);
  entries.push(nmi.bytes);

  const body = concatBytes(...entries);
  const f = newTable('APIC', ACPI_HEADER_BYTES + 8 + body.length, MADT_REVISION, ids);
  f.u32(36, v.localApicAddress);
  f.u32(40, MADT_PCAT_COMPAT);
  f.bytes.set(body, ACPI_HEADER_BYTES + 8);
  return sealTable(f);
}
