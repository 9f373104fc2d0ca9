/**
 * The AML body of our DSDT (ACPI spec 6.4 §5.2.11.1 "Differentiated System Description
 * Table"; the objects are from chapter 6 "Device Configuration" and §7.4.2 "\_Sx (System
 * States)"), written with the encoder in aml.ts.
 *
 * What the namespace holds:
 *
 *   \_S5_  Package {SLP_TYPa, SLP_TYPb, 0, 0}: the soft-off sleep type the OS writes to
 *          PM1a_CNT.SLP_TYP (with SLP_EN) to power off; our acpi-pm device acts on it.
 *   \_SB_  one Device per entry of `devices`, each with
 *            _HID  a compressed EISA ID for "LLLhhhh" ids (PNP0303), a string otherwise
 *                  (ACPI0007);
 *            _UID  when given;
 *            _STA  a method returning the given status (default 0x0F: present, enabled,
 *                  shown in the UI, functioning);
 *            _CRS  a ResourceTemplate of the given descriptors, when there are any;
 *            extra term objects, appended as given (child devices, _ADR, _PRT ...).
 *
 * `pcDevices()` lists our board: the processor (ACPI0007, _UID n matching the MADT's ACPI
 * processor UID), the i8042 keyboard controller (PNP0303: ports 0x60 and 0x64, IRQ 1),
 * its PS/2 mouse port (PNP0F13: IRQ 12), the RTC (PNP0B00: ports 0x70-0x71, IRQ 8) and
 * COM1 (PNP0501: ports 0x3F8-0x3FF, IRQ 4). ISA interrupts use the IRQNoFlags form (edge,
 * active high, exclusive), as ISA devices are.
 *
 * With `pci: true`, `pcDevices()` adds the PCI root bridge \_SB_.PCI0 (`pciHostBridgeDevice`,
 * §6.1.1 _ADR, §6.5.5 _BBN, §6.2.13 _PRT; PCI Firmware Specification 3.0 §4.1.1 for PNP0A03):
 *   _HID PNP0A03, _UID 0, _ADR 0, _BBN 0;
 *   _CRS  the windows the bridge produces: bus numbers 0-0xFF, I/O 0x0000-0x0CF7 and
 *         0x0D00-0xFFFF (everything except the configuration ports, which it consumes as an
 *         IO descriptor 0xCF8 length 8), memory 0xA0000-0xBFFFF (legacy VGA) and the PCI
 *         MMIO window PCI_MMIO_BASE-PCI_MMIO_LIMIT;
 *   _PRT  for every device 1-31 and pin 0-3 (INTA-INTD): Package {0xDDDDFFFF, pin, 0, GSI}
 *         with GSI = 16 + ((device + pin) mod 4): the static form (source 0) that names an
 *         I/O APIC input directly. ACPI treats such inputs as level triggered, active low,
 *         which is how the PCI bus drives them (see src/bus/pci/pirq-router.ts).
 * The ISA devices keep living directly under \_SB_, which Linux enumerates just the same.
 */
import { PCI_MMIO_BASE, PCI_MMIO_LIMIT } from '../../bus/pci/pci-bus.js';
import {
  concatBytes,
  device,
  dwordAddressDescriptor,
  memoryTypeFlags,
  wordAddressDescriptor,
  eisaId,
  integer,
  ioPortDescriptor,
  irqDescriptor,
  method,
  name,
  packageOp,
  resourceTemplate,
  returnOp,
  scope,
  string,
} from './aml.js';

/** _STA value: present, enabled, shown in UI, functioning (bits 0-3). */
export const ACPI_STA_PRESENT_ENABLED_FUNCTIONING = 0x0f;
/** SLP_TYP value our PM1a_CNT treats as soft-off (S5), reported in \_S5_. */
export const ACPI_S5_SLEEP_TYPE = 5;

/** One device in \_SB_. */
export interface AcpiDeviceSpec {
  /** NameSeg (1-4 characters, padded with '_'). */
  readonly name: string;
  /** "LLLhhhh" (encoded as an EISA ID integer) or any other id (encoded as a string). */
  readonly hid: string;
  /** _UID, when the device has one. */
  readonly uid?: number;
  /** _STA result; default 0x0F. */
  readonly status?: number;
  /** Resource descriptors for _CRS (aml.ts `ioPortDescriptor`, `irqDescriptor`); none = no _CRS. */
  readonly resources?: readonly Uint8Array[];
  /** More encoded term objects placed inside the device after the standard ones. */
  readonly extra?: readonly Uint8Array[];
}

/** What the DSDT describes. */
export interface DsdtOptions {
  /** Devices under \_SB_, in order. */
  readonly devices: readonly AcpiDeviceSpec[];
  /** SLP_TYP for S5 (both a and b values). Default ACPI_S5_SLEEP_TYPE. */
  readonly s5SleepType?: number;
}

const PNP_ID_PATTERN = /^[A-Z]{3}[0-9A-F]{4}$/;

/** The _HID value: an EISA ID integer for PNP-style ids, a string otherwise. */
export function hidValue(hid: string): Uint8Array {
  return PNP_ID_PATTERN.test(hid) ? integer(eisaId(hid)) : string(hid);
}

/** `Method (_STA, 0) { Return (status) }`. */
export function staMethod(status: number): Uint8Array {
  return method('_STA', { argCount: 0 }, returnOp(integer(status)));
}

/** One device's AML. */
export function deviceAml(spec: AcpiDeviceSpec): Uint8Array {
  const terms: Uint8Array[] = [name('_HID', hidValue(spec.hid))];
  if (spec.uid !== undefined) terms.push(name('_UID', integer(spec.uid)));
  terms.push(staMethod(spec.status ?? ACPI_STA_PRESENT_ENABLED_FUNCTIONING));
  if (spec.resources && spec.resources.length > 0) terms.push(name('_CRS', resourceTemplate(...spec.resources)));
  terms.push(...(spec.extra ?? []));
  return device(spec.name, ...terms);
}

/** `Name (\_S5_, Package () {t, t, 0, 0})`. */
export function s5Object(sleepType: number): Uint8Array {
  return name('\\_S5_', packageOp([integer(sleepType), integer(sleepType), integer(0), integer(0)]));
}

/** The DSDT's definition block body (everything after the 36-byte table header). */
export function buildDsdtBody(options: DsdtOptions): Uint8Array {
  const s5 = s5Object(options.s5SleepType ?? ACPI_S5_SLEEP_TYPE);
  return concatBytes(s5, scope('\\_SB_', ...options.devices.map(deviceAml)));
}

/** The PC board's ISA devices as fixed resources (see the module header). */
export const PC_ISA_DEVICES: readonly AcpiDeviceSpec[] = [
  {
    name: 'KBD_',
    hid: 'PNP0303',
    resources: [
      ioPortDescriptor({ min: 0x60, max: 0x60, alignment: 1, length: 1 }),
      ioPortDescriptor({ min: 0x64, max: 0x64, alignment: 1, length: 1 }),
      irqDescriptor([1]),
    ],
  },
  { name: 'MOU_', hid: 'PNP0F13', resources: [irqDescriptor([12])] },
  {
    name: 'RTC_',
    hid: 'PNP0B00',
    resources: [ioPortDescriptor({ min: 0x70, max: 0x70, alignment: 1, length: 2 }), irqDescriptor([8])],
  },
  {
    name: 'COM1',
    hid: 'PNP0501',
    uid: 1,
    resources: [ioPortDescriptor({ min: 0x3f8, max: 0x3f8, alignment: 8, length: 8 }), irqDescriptor([4])],
  },
];

/** Processor devices CPU0..CPUn-1 (ACPI0007, _UID = ACPI processor UID = index). */
export function processorDevices(cpuCount: number): AcpiDeviceSpec[] {
  const cpus: AcpiDeviceSpec[] = [];
  for (let i = 0; i < cpuCount; i++) {
    cpus.push({ name: `C${i.toString(16).toUpperCase().padStart(3, '0')}`, hid: 'ACPI0007', uid: i });
  }
  return cpus;
}

/** The PCI root bridge's windows (defaults: the bus's PCI_MMIO_BASE and PCI_MMIO_LIMIT). */
export interface PciHostBridgeAcpiOptions {
  readonly mmioBase?: number;
  readonly mmioLimit?: number;
}

/** First and last PCI device numbers the _PRT describes. */
export const ACPI_PRT_FIRST_DEVICE = 1;
export const ACPI_PRT_LAST_DEVICE = 31;
/** I/O APIC input of PIRQA (PIRQn is on 16 + n). */
export const ACPI_PCI_GSI_BASE = 16;

/** The _PRT entry list: every device 1-31, pins INTA-INTD (0-3), static GSI form. */
export function pciRoutingTable(): Uint8Array {
  const entries: Uint8Array[] = [];
  for (let dev = ACPI_PRT_FIRST_DEVICE; dev <= ACPI_PRT_LAST_DEVICE; dev++) {
    for (let pin = 0; pin < 4; pin++) {
      const address = dev * 0x1_0000 + 0xffff;
      entries.push(packageOp([integer(address), integer(pin), integer(0), integer(ACPI_PCI_GSI_BASE + ((dev + pin) % 4))]));
    }
  }
  return packageOp(entries);
}

/** The resources \_SB_.PCI0 produces and consumes (see the module header). */
export function pciHostBridgeResources(options: PciHostBridgeAcpiOptions = {}): Uint8Array[] {
  const mmioBase = options.mmioBase ?? PCI_MMIO_BASE;
  const mmioLimit = options.mmioLimit ?? PCI_MMIO_LIMIT;
  return [
    wordAddressDescriptor({ type: 'bus', min: 0x00, max: 0xff }),
    ioPortDescriptor({ min: 0xcf8, max: 0xcf8, alignment: 1, length: 8 }),
    wordAddressDescriptor({ type: 'io', min: 0x0000, max: 0x0cf7 }),
    wordAddressDescriptor({ type: 'io', min: 0x0d00, max: 0xffff }),
    dwordAddressDescriptor({ type: 'memory', min: 0x000a_0000, max: 0x000b_ffff, typeFlags: memoryTypeFlags('cacheable') }),
    dwordAddressDescriptor({ type: 'memory', min: mmioBase, max: mmioLimit, typeFlags: memoryTypeFlags('nonCacheable') }),
  ];
}

/** \_SB_.PCI0: the PCI root bridge (see the module header). */
export function pciHostBridgeDevice(options: PciHostBridgeAcpiOptions = {}): AcpiDeviceSpec {
  return {
    name: 'PCI0',
    hid: 'PNP0A03',
    uid: 0,
    resources: pciHostBridgeResources(options),
    extra: [name('_ADR', integer(0)), name('_BBN', integer(0)), name('_PRT', pciRoutingTable())],
  };
}

/** What `pcDevices` adds beyond the processors and ISA devices. */
export interface PcDevicesOptions {
  /** Add the PCI root bridge \_SB_.PCI0. Default false. */
  readonly pci?: boolean | PciHostBridgeAcpiOptions;
}

/** Our board's \_SB_ devices: the processors, the ISA devices, then PCI0 when asked for. */
export function pcDevices(cpuCount: number, options: PcDevicesOptions = {}): AcpiDeviceSpec[] {
  const devices = [...processorDevices(cpuCount), ...PC_ISA_DEVICES];
  if (options.pci) devices.push(pciHostBridgeDevice(options.pci === true ? {} : options.pci));
  return devices;
}
