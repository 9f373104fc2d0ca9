/**
 * PCI bus 0 of our PC (PCI Local Bus Specification 3.0): configuration mechanism #1
 * (§3.2.2.3.2: the CONFIG_ADDRESS register at 0xCF8 and the CONFIG_DATA window at
 * 0xCFC-0xCFF), the type-0 configuration header of every function (ch. 6: identity, command
 * and status, BARs with sizing and relocation §6.2.5.1, capability list §6.7, interrupt line
 * and pin §6.2.4), MSI-X (§6.8.2, see msix.ts), and two built-in functions:
 *
 *   00:00.0  Intel 440FX host bridge (8086:1237, class 06 00 00);
 *   00:01.0  Intel 82371SB PIIX3 PCI-to-ISA bridge (8086:7000, class 06 01 00, multi-function
 *            header), with the PIRQ route registers 0x60-0x63 (pirq-router.ts) and the Reset
 *            Control register at I/O port 0xCF9 (82371SB datasheet, RC register: a 0→1
 *            transition of bit 2 with bit 1 set requests a hard reset).
 *
 * Devices plug in as `PciFunction`s (pci-function.ts). The bus keeps their configuration
 * space and maps each BAR on the I/O-port or MMIO bus while the matching decode bit of the
 * command register is on. A BAR at address 0, one that does not fit, or one that overlaps
 * another registration stays unmapped (logged once per address).
 *
 * INTx: a function at device d using pin p drives PIRQ (d + p - 1) mod 4 (the usual
 * rotation of slot wiring), unless its command register has Interrupt Disable or MSI-X is
 * enabled; the PIRQ router drives the 8259 IRQs and I/O APIC pins 16-19.
 *
 * `assignResources()` does what a BIOS would before the OS: PIRQ routes, BAR addresses,
 * interrupt lines and decode enables (we boot Linux directly, without a BIOS).
 */
import { type AccessSize, BusOverlapError, BusRangeError, type IoBus, type IoDevice, allOnes } from '../io-bus.js';
import type { MmioBus, MmioDevice } from '../mmio-bus.js';
import type { ApicMessageSink } from '../apic-bus.js';
import type { GuestMemory } from '../../memory/guest-memory.js';
import { type Persist, type SavedState, StateError, StateReader } from '../../persist/persist.js';
import {
  PciCapabilityId,
  PciCommand,
  PciConfig,
  PciInterruptPin,
  PciStatus,
  type PciBarDefinition,
  type PciCapability,
  type PciFunction,
  type PciFunctionContext,
  type PciIdentity,
} from './pci-function.js';
import { MsixBarWindow, MsixLayout, MsixState, extractBytes, mergeBytes, msixPbaBytes } from './msix.js';
import { PIRQ_COUNT, PIRQ_ROUTE_DISABLED, PirqRouter, pirqForPin } from './pirq-router.js';

/** First address of the 32-bit MMIO window for PCI memory BARs. */
export const PCI_MMIO_BASE = 0xe000_0000;
/** Last address of the PCI MMIO window (just below the I/O APIC at 0xFEC00000). */
export const PCI_MMIO_LIMIT = 0xfebf_ffff;
/** First I/O port handed to PCI I/O BARs by `assignResources`. */
export const PCI_IO_BASE = 0xc000;
/** Last I/O port available to PCI I/O BARs. */
export const PCI_IO_LIMIT = 0xffff;
/** CONFIG_ADDRESS port (dword accesses only). */
export const PCI_CONFIG_ADDRESS_PORT = 0xcf8;
/** CONFIG_DATA window (4 ports). */
export const PCI_CONFIG_DATA_PORT = 0xcfc;
/** PIIX3 Reset Control register port (byte accesses; shares the dword at 0xCF8). */
export const PCI_RESET_CONTROL_PORT = 0xcf9;
/** ISA IRQs `assignResources` steers PIRQA-D to. */
export const PCI_DEFAULT_PIRQ_ROUTES: readonly number[] = [10, 11, 10, 11];
/** Device number of the host bridge and of the PIIX3 ISA bridge. */
export const PCI_HOST_BRIDGE_DEVICE = 0;
export const PCI_ISA_BRIDGE_DEVICE = 1;
/** Lowest and highest device numbers `plug` accepts. */
export const PCI_FIRST_SLOT = 2;
export const PCI_LAST_SLOT = 31;
/** Functions per device. */
export const PCI_FUNCTIONS_PER_DEVICE = 8;

/** CONFIG_ADDRESS fields (§3.2.2.3.2). */
const enum ConfigAddress {
  Enable = 0x8000_0000,
  /** Implemented bits: enable, bus, device, function, dword register number. */
  Writable = 0x80ff_fffc,
  BusShift = 16,
  DeviceShift = 11,
  FunctionShift = 8,
  RegisterMask = 0xfc,
}

/** Reset Control register bits (82371SB). */
const enum ResetControl {
  SystemReset = 1 << 1,
  ResetCpu = 1 << 2,
  FullReset = 1 << 3,
  Implemented = SystemReset | ResetCpu | FullReset,
}

/** BAR low bits (§6.2.5.1). */
const enum BarBits {
  Io = 1,
  IoAddressMask = 0xffff_fffc,
  MemoryPrefetchable = 1 << 3,
  MemoryAddressMask = 0xffff_fff0,
}

/** PIIX3 PIRQ route control registers. */
const PIIX3_PIRQ_ROUTE = 0x60;
/** Number of BARs in a type-0 header. */
const BAR_COUNT = 6;
/** Command bits we implement. */
const COMMAND_WRITABLE = PciCommand.IoSpace | PciCommand.MemorySpace | PciCommand.BusMaster | PciCommand.InterruptDisable;
/** Header Type bit 7: the device has more than one function. */
const HEADER_MULTI_FUNCTION = 0x80;
/** Interrupt Line value meaning "unknown / not connected" on x86. */
const INTERRUPT_LINE_NONE = 0xff;
const STATE_VERSION = 1;

/** A bad `plug` or an impossible resource assignment (a host configuration error). */
export class PciConfigError extends Error {
  constructor(message: string) {
    super(`PCI: ${message}`);
    this.name = 'PciConfigError';
  }
}

/** What the board hands the bus. */
export interface PciBusOptions {
  readonly io: IoBus;
  readonly mmio: MmioBus;
  /** Guest memory the functions DMA through. */
  readonly memory: GuestMemory;
  /** Where MSI-X messages go (the local APIC). */
  readonly msi: ApicMessageSink;
  /** Drive ISA IRQ `irq` of the 8259 pair (PIRQ routing). */
  setIsaIrq(irq: number, level: boolean): void;
  /** Drive I/O APIC input `pin` (16-19), electrical level: high = idle. */
  setIoApicPin(pin: number, level: boolean): void;
  /** The guest requested a hard reset through port 0xCF9. */
  onReset?(): void;
  /** Guest mistakes and ignored accesses. */
  log?(message: string): void;
  /** Persist id. Default "pci0". */
  readonly persistId?: string;
}

/** Saved state of one function's configuration registers. */
export interface PciFunctionSavedState {
  readonly command: number;
  readonly cacheLineSize: number;
  readonly latencyTimer: number;
  readonly interruptLine: number;
  /** Address bits of BAR0..5 (0 for unimplemented BARs). */
  readonly bars: number[];
  /** Level the function drives on its INTx pin. */
  readonly intx: boolean;
  readonly msix?: { readonly enabled: boolean; readonly functionMask: boolean; readonly table: number[]; readonly pending: number[] };
}

/** Saved state of the bus. */
export interface PciBusState extends SavedState {
  readonly configAddress: number;
  readonly resetControl: number;
  /** PIRQRC[A:D]. */
  readonly routes: number[];
  /** Keyed by "dd.f" (hex device, function), e.g. "03.0". */
  readonly functions: Record<string, PciFunctionSavedState>;
}

/** A built-in function with no BARs, capabilities or interrupts (the bridges). */
class BridgeFunction implements PciFunction {
  readonly bars: readonly PciBarDefinition[] = [];
  readonly capabilities: readonly PciCapability[] = [];
  constructor(readonly name: string, readonly identity: PciIdentity) {}
  attach(): void {}
  reset(): void {}
}

/** A capability placed in configuration space. */
interface PlacedCapability {
  readonly offset: number;
  readonly length: number;
  /** Undefined for the bus's own MSI-X capability. */
  readonly capability: PciCapability | undefined;
  readonly id: number;
  next: number;
}

/** Bus-side state of one function: its configuration registers and BAR mappings. */
class FunctionSlot {
  readonly key: string;
  command = 0;
  cacheLineSize = 0;
  latencyTimer = 0;
  interruptLine = 0;
  /** Level the function drives. */
  intxLevel = false;
  /** Whether this function currently counts as an asserter of its PIRQ. */
  intxDriving = false;
  /** Address bits of each BAR. */
  readonly barAddress = new Uint32Array(BAR_COUNT);
  readonly barDefinitions: (PciBarDefinition | undefined)[] = new Array(BAR_COUNT).fill(undefined);
  /** What the bus registers for each BAR (the handler, or an MSI-X window wrapping it). */
  readonly barTargets: (IoDevice | MmioDevice | undefined)[] = new Array(BAR_COUNT).fill(undefined);
  /** Address each BAR is mapped at, -1 when unmapped. */
  readonly barMappedAt: number[] = new Array(BAR_COUNT).fill(-1);
  /** A failed mapping at the current address was logged already. */
  readonly barFailureLogged: boolean[] = new Array(BAR_COUNT).fill(false);
  readonly capabilities: PlacedCapability[] = [];
  msix: MsixState | undefined;
  /** PIRQ this function's INTx drives, -1 for none. */
  readonly pirq: number;

  constructor(readonly fn: PciFunction, readonly device: number, readonly functionNumber: number, readonly fixedHeaderType: number | undefined) {
    this.key = slotKey(device, functionNumber);
    const pin = fn.identity.interruptPin;
    this.pirq = pin >= PciInterruptPin.IntA && pin <= PciInterruptPin.IntD ? pirqForPin(device, pin) : -1;
  }

  /** Power-on values of the registers the bus owns (BAR mappings are handled by the bus). */
  resetRegisters(): void {
    this.command = 0;
    this.cacheLineSize = 0;
    this.latencyTimer = 0;
    this.interruptLine = 0;
    this.intxLevel = false;
    this.barAddress.fill(0);
    this.barFailureLogged.fill(false);
    this.msix?.reset();
  }
}

/** "dd.f" key of a function in saved state and messages. */
function slotKey(device: number, functionNumber: number): string {
  return `${device.toString(16).padStart(2, '0')}.${functionNumber}`;
}

/** Index of a function in the slot table. */
function slotIndex(device: number, functionNumber: number): number {
  return device * PCI_FUNCTIONS_PER_DEVICE + functionNumber;
}

function isPowerOfTwo(n: number): boolean {
  return Number.isInteger(n) && n > 0 && (n & (n - 1)) === 0;
}

/** Bus 0 with configuration mechanism #1, the 440FX host bridge and the PIIX3 ISA bridge. */
export class PciBus implements Persist<PciBusState> {
  readonly persistId: string;
  private readonly slots: (FunctionSlot | undefined)[] = new Array(32 * PCI_FUNCTIONS_PER_DEVICE).fill(undefined);
  /** Plugged slots in plug order (bridges first). */
  private readonly plugged: FunctionSlot[] = [];
  private readonly router: PirqRouter;
  private readonly isaBridge: FunctionSlot;
  private readonly usedHandlers = new Set<IoDevice | MmioDevice>();
  private readonly log: (message: string) => void;
  private configAddress = 0;
  private resetControl = 0;

  constructor(private readonly options: PciBusOptions) {
    this.persistId = options.persistId ?? 'pci0';
    this.log = options.log ?? (() => {});
    this.router = new PirqRouter(options);
    this.addSlot(
      new BridgeFunction('i440fx', { vendorId: 0x8086, deviceId: 0x1237, classCode: 0x060000, revisionId: 0x02, subsystemVendorId: 0, subsystemId: 0, interruptPin: PciInterruptPin.None }),
      PCI_HOST_BRIDGE_DEVICE,
      0,
      0x00,
    );
    this.isaBridge = this.addSlot(
      new BridgeFunction('piix3', { vendorId: 0x8086, deviceId: 0x7000, classCode: 0x060100, revisionId: 0x00, subsystemVendorId: 0, subsystemId: 0, interruptPin: PciInterruptPin.None }),
      PCI_ISA_BRIDGE_DEVICE,
      0,
      HEADER_MULTI_FUNCTION,
    );
    options.io.register(this.configAddressDevice, PCI_CONFIG_ADDRESS_PORT, 4);
    options.io.register(this.configDataDevice, PCI_CONFIG_DATA_PORT, 4);
  }

  // ---- plugging ----

  /**
   * Plug `fn` in at `device`.`functionNumber` (device 2..31, function 0..7): builds its
   * configuration space and calls `fn.attach`. Throws PciConfigError for a taken slot, bad
   * numbers, or a malformed description (BARs, capabilities, MSI-X).
   */
  plug(fn: PciFunction, device: number, functionNumber = 0): void {
    if (!Number.isInteger(device) || device < PCI_FIRST_SLOT || device > PCI_LAST_SLOT) {
      throw new PciConfigError(`${fn.name}: device number ${device} is outside ${PCI_FIRST_SLOT}..${PCI_LAST_SLOT}`);
    }
    if (!Number.isInteger(functionNumber) || functionNumber < 0 || functionNumber >= PCI_FUNCTIONS_PER_DEVICE) {
      throw new PciConfigError(`${fn.name}: function number ${functionNumber} is outside 0..7`);
    }
    const taken = this.slots[slotIndex(device, functionNumber)];
    if (taken) throw new PciConfigError(`${fn.name}: slot ${slotKey(device, functionNumber)} is taken by ${taken.fn.name}`);
    this.checkIdentity(fn);
    const slot = new FunctionSlot(fn, device, functionNumber, undefined);
    this.setUpBars(slot);
    this.placeCapabilities(slot);
    for (const target of slot.barTargets) if (target) this.usedHandlers.add(target);
    for (const def of slot.barDefinitions) if (def) this.usedHandlers.add(def.handler);
    this.slots[slotIndex(device, functionNumber)] = slot;
    this.plugged.push(slot);
    fn.attach(this.contextFor(slot));
  }

  /** The function plugged at `device`.`functionNumber`, if any. */
  functionAt(device: number, functionNumber = 0): PciFunction | undefined {
    return this.slots[slotIndex(device, functionNumber)]?.fn;
  }

  private addSlot(fn: PciFunction, device: number, functionNumber: number, headerType: number): FunctionSlot {
    const slot = new FunctionSlot(fn, device, functionNumber, headerType);
    this.slots[slotIndex(device, functionNumber)] = slot;
    this.plugged.push(slot);
    return slot;
  }

  private checkIdentity(fn: PciFunction): void {
    const id = fn.identity;
    const fields: [string, number, number][] = [
      ['vendorId', id.vendorId, 0xfffe],
      ['deviceId', id.deviceId, 0xffff],
      ['classCode', id.classCode, 0xffffff],
      ['revisionId', id.revisionId, 0xff],
      ['subsystemVendorId', id.subsystemVendorId, 0xffff],
      ['subsystemId', id.subsystemId, 0xffff],
      ['interruptPin', id.interruptPin, PciInterruptPin.IntD],
    ];
    for (const [field, value, max] of fields) {
      if (!Number.isInteger(value) || value < 0 || value > max) throw new PciConfigError(`${fn.name}: identity.${field} ${value} is outside 0..${max}`);
    }
  }

  /** Validate the BAR definitions and, for MSI-X, create the state and the BAR windows. */
  private setUpBars(slot: FunctionSlot): void {
    const fn = slot.fn;
    for (const bar of fn.bars) {
      if (!Number.isInteger(bar.index) || bar.index < 0 || bar.index >= BAR_COUNT) throw new PciConfigError(`${fn.name}: BAR index ${bar.index} is outside 0..5`);
      if (slot.barDefinitions[bar.index]) throw new PciConfigError(`${fn.name}: BAR ${bar.index} is defined twice`);
      const [min, max] = bar.kind === 'io' ? [4, 256] : [4096, 0x8000_0000];
      if (!isPowerOfTwo(bar.size) || bar.size < min || bar.size > max) {
        throw new PciConfigError(`${fn.name}: BAR ${bar.index} size ${bar.size} must be a power of two in ${min}..${max}`);
      }
      if (this.usedHandlers.has(bar.handler) || slot.barTargets.includes(bar.handler)) {
        throw new PciConfigError(`${fn.name}: BAR ${bar.index} handler '${bar.handler.name}' is already used by another BAR`);
      }
      slot.barDefinitions[bar.index] = bar;
      slot.barTargets[bar.index] = bar.handler;
    }
    if (fn.msix) this.setUpMsix(slot);
  }

  private setUpMsix(slot: FunctionSlot): void {
    const fn = slot.fn;
    const m = fn.msix!;
    if (!Number.isInteger(m.vectors) || m.vectors < 1 || m.vectors > MsixLayout.MaxVectors) {
      throw new PciConfigError(`${fn.name}: MSI-X vectors ${m.vectors} is outside 1..${MsixLayout.MaxVectors}`);
    }
    const ranges: [string, number, number, number][] = [
      ['table', m.tableBar, m.tableOffset, m.vectors * MsixLayout.EntryBytes],
      ['PBA', m.pbaBar, m.pbaOffset, msixPbaBytes(m.vectors)],
    ];
    for (const [what, barIndex, offset, length] of ranges) {
      const bar = slot.barDefinitions[barIndex];
      if (!bar || bar.kind !== 'memory') throw new PciConfigError(`${fn.name}: MSI-X ${what} BAR ${barIndex} is not a memory BAR`);
      if (!Number.isInteger(offset) || offset < 0 || offset % 8 !== 0 || offset + length > bar.size) {
        throw new PciConfigError(`${fn.name}: MSI-X ${what} at offset ${offset} (+${length}) is not 8-byte aligned inside BAR ${barIndex}`);
      }
    }
    if (m.tableBar === m.pbaBar && m.tableOffset < m.pbaOffset + msixPbaBytes(m.vectors) && m.pbaOffset < m.tableOffset + m.vectors * MsixLayout.EntryBytes) {
      throw new PciConfigError(`${fn.name}: MSI-X table and PBA overlap`);
    }
    const msix = new MsixState(m, fn.name, this.options.msi, this.log);
    slot.msix = msix;
    for (const barIndex of new Set([m.tableBar, m.pbaBar])) {
      const bar = slot.barDefinitions[barIndex]!;
      slot.barTargets[barIndex] = new MsixBarWindow(bar.handler as MmioDevice, msix, barIndex);
    }
  }

  /** Lay the capabilities out from 0x40, 4-byte aligned, MSI-X last, and link them. */
  private placeCapabilities(slot: FunctionSlot): void {
    const fn = slot.fn;
    let offset = PciConfig.DeviceSpecific as number;
    const place = (id: number, length: number, capability: PciCapability | undefined): void => {
      if (!Number.isInteger(length) || length < 2) throw new PciConfigError(`${fn.name}: capability 0x${id.toString(16)} length ${length} is below 2`);
      if (offset + length > PciConfig.Size) throw new PciConfigError(`${fn.name}: capabilities do not fit in the 256-byte configuration space`);
      slot.capabilities.push({ offset, length, capability, id, next: 0 });
      offset = (offset + length + 3) & ~3;
    };
    for (const cap of fn.capabilities) {
      if (!Number.isInteger(cap.id) || cap.id < 0 || cap.id > 0xff) throw new PciConfigError(`${fn.name}: capability ID ${cap.id} is not a byte`);
      place(cap.id, cap.length, cap);
    }
    if (slot.msix) place(PciCapabilityId.MsiX, MsixLayout.CapabilityLength, undefined);
    for (let i = 0; i + 1 < slot.capabilities.length; i++) slot.capabilities[i]!.next = slot.capabilities[i + 1]!.offset;
  }

  /** The context handed to `fn.attach` (closures made once, at plug time). */
  private contextFor(slot: FunctionSlot): PciFunctionContext {
    return {
      memory: this.options.memory,
      command: () => slot.command,
      setIntx: (level: boolean) => {
        slot.intxLevel = level;
        this.updateIntx(slot);
      },
      msixEnabled: () => slot.msix?.active() ?? false,
      signalMsix: (vector: number) => slot.msix?.signal(vector) ?? false,
    };
  }

  // ---- configuration mechanism #1 ----

  /** 0xCF8-0xCFB: CONFIG_ADDRESS for dword accesses; byte 0xCF9 is the Reset Control register. */
  private readonly configAddressDevice: IoDevice = {
    name: 'pci-config-address',
    ioRead: (offset, size) => {
      if (offset === 0 && size === 4) return this.configAddress;
      if (offset === 1 && size === 1) return this.resetControl;
      return allOnes(size);
    },
    ioWrite: (offset, size, value) => {
      if (offset === 0 && size === 4) this.configAddress = (value & ConfigAddress.Writable) >>> 0;
      else if (offset === 1 && size === 1) this.writeResetControl(value);
    },
  };

  /** 0xCFC-0xCFF: CONFIG_DATA, any width at any offset inside the dword. */
  private readonly configDataDevice: IoDevice = {
    name: 'pci-config-data',
    ioRead: (offset, size) => {
      const slot = this.addressedSlot();
      if (!slot) return allOnes(size);
      return this.readConfig(slot, (this.configAddress & ConfigAddress.RegisterMask) + offset, size);
    },
    ioWrite: (offset, size, value) => {
      const slot = this.addressedSlot();
      if (slot) this.writeConfig(slot, (this.configAddress & ConfigAddress.RegisterMask) + offset, size, value);
    },
  };

  /** The function CONFIG_ADDRESS selects, or undefined (disabled, other bus, empty slot). */
  private addressedSlot(): FunctionSlot | undefined {
    const a = this.configAddress;
    if ((a & ConfigAddress.Enable) === 0 || ((a >>> ConfigAddress.BusShift) & 0xff) !== 0) return undefined;
    return this.slots[(a >>> ConfigAddress.FunctionShift) & 0xff];
  }

  private writeResetControl(value: number): void {
    const rising = (value & ResetControl.ResetCpu) !== 0 && (this.resetControl & ResetControl.ResetCpu) === 0;
    this.resetControl = value & ResetControl.Implemented;
    if (!rising) return;
    if ((value & ResetControl.SystemReset) !== 0) {
      this.resetControl &= ~ResetControl.ResetCpu;
      this.options.onReset?.();
    } else {
      this.log('pci: soft reset (INIT) requested through port 0xCF9 is not supported; ignored');
    }
  }

  // ---- configuration space ----

  /**
   * Read `size` bytes at configuration `offset` of the function at `device`.`functionNumber`
   * (the same path as the guest's 0xCFC accesses; absent functions read all ones). For the
   * board and tests.
   */
  configRead(device: number, functionNumber: number, offset: number, size: AccessSize): number {
    const slot = this.slots[slotIndex(device, functionNumber)];
    return slot ? this.readConfig(slot, offset, size) : allOnes(size);
  }

  /** Write `size` bytes at configuration `offset` (as the guest would through 0xCFC). */
  configWrite(device: number, functionNumber: number, offset: number, size: AccessSize, value: number): void {
    const slot = this.slots[slotIndex(device, functionNumber)];
    if (slot) this.writeConfig(slot, offset, size, value);
  }

  private readConfig(slot: FunctionSlot, offset: number, size: AccessSize): number {
    if (offset < PciConfig.DeviceSpecific) return extractBytes(this.headerDword(slot, offset >>> 2), offset & 3, size);
    if (slot === this.isaBridge && offset >= PIIX3_PIRQ_ROUTE && offset < PIIX3_PIRQ_ROUTE + PIRQ_COUNT) {
      const routes = this.router.routes;
      const dword = routes[0]! | (routes[1]! << 8) | (routes[2]! << 16) | (routes[3]! << 24);
      return extractBytes(dword, offset & 3, size);
    }
    const placed = findCapability(slot, offset);
    if (!placed) return 0;
    const relative = offset - placed.offset;
    if (placed.capability === undefined) return extractBytes(this.msixCapabilityDword(slot, placed, relative >>> 2), relative & 3, size);
    if (relative >= 2 && relative + size <= placed.length) return placed.capability.read(relative, size);
    let value = 0;
    for (let k = 0; k < size; k++) value |= this.capabilityByte(slot, offset + k) << (8 * k);
    return value >>> 0;
  }

  /** One byte of the capability area (header bytes, body bytes, or 0 outside any capability). */
  private capabilityByte(slot: FunctionSlot, offset: number): number {
    const placed = findCapability(slot, offset);
    if (!placed) return 0;
    const relative = offset - placed.offset;
    if (relative === 0) return placed.id;
    if (relative === 1) return placed.next;
    return placed.capability!.read(relative, 1) & 0xff;
  }

  private msixCapabilityDword(slot: FunctionSlot, placed: PlacedCapability, index: number): number {
    const msix = slot.msix!;
    if (index === 0) return (placed.id | (placed.next << 8) | (msix.control() << 16)) >>> 0;
    if (index === 1) return msix.tableOffsetRegister();
    return msix.pbaOffsetRegister();
  }

  /** The header dword `index` (0..15) as the guest reads it. */
  private headerDword(slot: FunctionSlot, index: number): number {
    const id = slot.fn.identity;
    switch (index) {
      case 0:
        return (id.vendorId | (id.deviceId << 16)) >>> 0;
      case 1:
        return (slot.command | (this.status(slot) << 16)) >>> 0;
      case 2:
        return (id.revisionId | (id.classCode << 8)) >>> 0;
      case 3:
        return (slot.cacheLineSize | (slot.latencyTimer << 8) | (this.headerType(slot) << 16)) >>> 0;
      case 4: case 5: case 6: case 7: case 8: case 9:
        return this.barRegister(slot, index - 4);
      case 11:
        return (id.subsystemVendorId | (id.subsystemId << 16)) >>> 0;
      case 13:
        return slot.capabilities.length > 0 ? slot.capabilities[0]!.offset : 0;
      case 15:
        return slot.interruptLine | (id.interruptPin << 8);
      default:
        return 0;
    }
  }

  private status(slot: FunctionSlot): number {
    return (slot.capabilities.length > 0 ? PciStatus.CapabilitiesList : 0) | (slot.intxLevel ? PciStatus.InterruptStatus : 0);
  }

  /** Header Type: type 0, multi-function when other functions share the device. */
  private headerType(slot: FunctionSlot): number {
    if (slot.fixedHeaderType !== undefined) return slot.fixedHeaderType;
    for (let f = 0; f < PCI_FUNCTIONS_PER_DEVICE; f++) {
      if (f !== slot.functionNumber && this.slots[slotIndex(slot.device, f)]) return HEADER_MULTI_FUNCTION;
    }
    return 0;
  }

  /** BAR `index` as read: address bits plus the read-only type bits; 0 when unimplemented. */
  private barRegister(slot: FunctionSlot, index: number): number {
    const bar = slot.barDefinitions[index];
    if (!bar) return 0;
    if (bar.kind === 'io') return (slot.barAddress[index]! | BarBits.Io) >>> 0;
    return (slot.barAddress[index]! | (bar.prefetchable ? BarBits.MemoryPrefetchable : 0)) >>> 0;
  }

  private writeConfig(slot: FunctionSlot, offset: number, size: AccessSize, value: number): void {
    if (offset < PciConfig.DeviceSpecific) {
      this.writeHeader(slot, offset, size, value);
      return;
    }
    if (slot === this.isaBridge) {
      for (let k = 0; k < size; k++) {
        const register = offset + k - PIIX3_PIRQ_ROUTE;
        if (register >= 0 && register < PIRQ_COUNT) this.router.writeRoute(register, (value >>> (8 * k)) & 0xff);
      }
      return;
    }
    const placed = findCapability(slot, offset);
    if (!placed) return;
    const relative = offset - placed.offset;
    if (placed.capability === undefined) {
      this.writeMsixCapability(slot, placed, relative, size, value);
      return;
    }
    if (relative >= 2 && relative + size <= placed.length) {
      placed.capability.write(relative, size, value);
      return;
    }
    for (let k = 0; k < size; k++) {
      const byteOffset = offset + k;
      const inner = findCapability(slot, byteOffset);
      const rel = inner ? byteOffset - inner.offset : 0;
      if (inner?.capability && rel >= 2) inner.capability.write(rel, 1, (value >>> (8 * k)) & 0xff);
    }
  }

  /** MSI-X capability writes: only Message Control's enable and function-mask bits are writable. */
  private writeMsixCapability(slot: FunctionSlot, placed: PlacedCapability, relative: number, size: AccessSize, value: number): void {
    const msix = slot.msix!;
    if (relative >= 4 || relative + size <= MsixLayout.ControlOffset) return;
    const merged = mergeBytes(this.msixCapabilityDword(slot, placed, 0), relative & 3, size, value);
    const wasEnabled = msix.enabled;
    msix.writeControl(merged >>> 16);
    if (wasEnabled !== msix.enabled) this.updateIntx(slot);
  }

  private writeHeader(slot: FunctionSlot, offset: number, size: AccessSize, value: number): void {
    const index = offset >>> 2;
    const byte = offset & 3;
    const merged = mergeBytes(this.headerDword(slot, index), byte, size, value);
    const touches = (b: number): boolean => b >= byte && b < byte + size;
    switch (index) {
      case 1:
        if (touches(0) || touches(1)) this.setCommand(slot, merged & COMMAND_WRITABLE);
        break;
      case 3:
        if (touches(0)) slot.cacheLineSize = merged & 0xff;
        if (touches(1)) slot.latencyTimer = (merged >>> 8) & 0xff;
        break;
      case 4: case 5: case 6: case 7: case 8: case 9:
        this.writeBar(slot, index - 4, merged);
        break;
      case 15:
        if (touches(0)) slot.interruptLine = merged & 0xff;
        break;
      default:
        break;
    }
  }

  /** Command register write: re-map BARs, update INTx, tell the function. */
  private setCommand(slot: FunctionSlot, command: number): void {
    if (command === slot.command) return;
    slot.command = command;
    for (let i = 0; i < BAR_COUNT; i++) this.remapBar(slot, i);
    this.updateIntx(slot);
    slot.fn.commandChanged?.(command);
  }

  private writeBar(slot: FunctionSlot, index: number, value: number): void {
    const bar = slot.barDefinitions[index];
    if (!bar) return;
    const typeMask = bar.kind === 'io' ? BarBits.IoAddressMask : BarBits.MemoryAddressMask;
    const address = (value & typeMask & ~(bar.size - 1)) >>> 0;
    if (address === slot.barAddress[index]) return;
    slot.barAddress[index] = address;
    slot.barFailureLogged[index] = false;
    this.remapBar(slot, index);
  }

  /** Bring BAR `index`'s mapping in line with its address and the command register. */
  private remapBar(slot: FunctionSlot, index: number): void {
    const bar = slot.barDefinitions[index];
    if (!bar) return;
    const want = this.wantedMapping(slot, index, bar);
    if (want === slot.barMappedAt[index]) return;
    const target = slot.barTargets[index]!;
    if (slot.barMappedAt[index]! >= 0) {
      if (bar.kind === 'io') this.options.io.unregister(target as IoDevice);
      else this.options.mmio.unregister(target as MmioDevice);
      slot.barMappedAt[index] = -1;
    }
    if (want < 0) return;
    try {
      if (bar.kind === 'io') this.options.io.register(target as IoDevice, want, bar.size);
      else this.options.mmio.register(target as MmioDevice, want, bar.size);
      slot.barMappedAt[index] = want;
    } catch (error) {
      if (!(error instanceof BusOverlapError || error instanceof BusRangeError)) throw error;
      if (!slot.barFailureLogged[index]) this.log(`pci ${slot.key} ${slot.fn.name}: BAR ${index} at 0x${want.toString(16)} not mapped: ${error.message}`);
      slot.barFailureLogged[index] = true;
    }
  }

  /** The address BAR `index` should be mapped at, or -1 (decode off, address 0, does not fit). */
  private wantedMapping(slot: FunctionSlot, index: number, bar: PciBarDefinition): number {
    const decode = bar.kind === 'io' ? PciCommand.IoSpace : PciCommand.MemorySpace;
    const address = slot.barAddress[index]!;
    if ((slot.command & decode) === 0 || address === 0) return -1;
    const end = address + bar.size;
    if (bar.kind === 'io' ? end > PCI_IO_LIMIT + 1 : end > 0x1_0000_0000) {
      if (!slot.barFailureLogged[index]) this.log(`pci ${slot.key} ${slot.fn.name}: BAR ${index} at 0x${address.toString(16)} does not fit the address space; not mapped`);
      slot.barFailureLogged[index] = true;
      return -1;
    }
    return address;
  }

  // ---- INTx ----

  /** Recompute whether `slot` asserts its PIRQ (level, Interrupt Disable, MSI-X enable). */
  private updateIntx(slot: FunctionSlot): void {
    if (slot.pirq < 0) return;
    const drive = slot.intxLevel && (slot.command & PciCommand.InterruptDisable) === 0 && !(slot.msix?.enabled ?? false);
    if (drive === slot.intxDriving) return;
    slot.intxDriving = drive;
    this.router.change(slot.pirq, drive);
  }

  /** Recompute every function's INTx contribution and drive all router outputs (reset, restore). */
  private reloadInterrupts(routes: ArrayLike<number>): void {
    const asserters = [0, 0, 0, 0];
    for (const slot of this.plugged) {
      slot.intxDriving = slot.pirq >= 0 && slot.intxLevel && (slot.command & PciCommand.InterruptDisable) === 0 && !(slot.msix?.enabled ?? false);
      if (slot.intxDriving) asserters[slot.pirq]!++;
    }
    this.router.load(routes, asserters);
  }

  // ---- firmware's job ----

  /**
   * Program the bus as a BIOS would: PIRQ A-D → ISA IRQ 10, 11, 10, 11; I/O BARs from
   * 0xC000 and memory BARs from PCI_MMIO_BASE, each aligned to its size, largest first;
   * Interrupt Line = the routed IRQ; decode enabled (I/O and memory, not bus master).
   * Throws PciConfigError when the BARs do not fit their windows.
   */
  assignResources(): void {
    PCI_DEFAULT_PIRQ_ROUTES.forEach((irq, n) => this.router.writeRoute(n, irq));
    const devices = this.plugged.filter((slot) => slot.fixedHeaderType === undefined);
    const requests: { slot: FunctionSlot; index: number; bar: PciBarDefinition }[] = [];
    for (const slot of devices) {
      slot.barDefinitions.forEach((bar, index) => bar && requests.push({ slot, index, bar }));
    }
    requests.sort((a, b) => b.bar.size - a.bar.size);
    this.unmapAllBars();
    let nextIo = PCI_IO_BASE;
    let nextMemory = PCI_MMIO_BASE;
    for (const { slot, index, bar } of requests) {
      const [next, limit] = bar.kind === 'io' ? [nextIo, PCI_IO_LIMIT] : [nextMemory, PCI_MMIO_LIMIT];
      const address = Math.ceil(next / bar.size) * bar.size;
      if (address + bar.size - 1 > limit) {
        throw new PciConfigError(`${slot.fn.name}: BAR ${index} (${bar.size} bytes, ${bar.kind}) does not fit below 0x${limit.toString(16)}`);
      }
      if (bar.kind === 'io') nextIo = address + bar.size;
      else nextMemory = address + bar.size;
      slot.barAddress[index] = address;
      slot.barFailureLogged[index] = false;
    }
    for (const slot of devices) {
      slot.interruptLine = slot.pirq >= 0 ? Math.max(this.router.routedIrq(slot.pirq), 0) : INTERRUPT_LINE_NONE;
      this.setCommand(slot, (slot.command | PciCommand.IoSpace | PciCommand.MemorySpace) & COMMAND_WRITABLE);
    }
    this.remapAllBars();
  }

  // ---- reset ----

  /** Bus reset: every configuration space to power-on, BARs unmapped, every function reset. */
  reset(): void {
    this.configAddress = 0;
    this.resetControl = 0;
    for (const slot of this.plugged) {
      slot.resetRegisters();
      for (let i = 0; i < BAR_COUNT; i++) this.remapBar(slot, i);
    }
    for (const slot of this.plugged) slot.fn.reset();
    this.reloadInterrupts([PIRQ_ROUTE_DISABLED, PIRQ_ROUTE_DISABLED, PIRQ_ROUTE_DISABLED, PIRQ_ROUTE_DISABLED]);
  }

  // ---- Persist ----

  /** Configuration registers, BAR addresses, MSI-X tables and pending bits, PIRQ routes. */
  save(): PciBusState {
    const functions: Record<string, PciFunctionSavedState> = {};
    for (const slot of this.plugged) {
      const msix = slot.msix;
      functions[slot.key] = {
        command: slot.command,
        cacheLineSize: slot.cacheLineSize,
        latencyTimer: slot.latencyTimer,
        interruptLine: slot.interruptLine,
        bars: Array.from(slot.barAddress),
        intx: slot.intxLevel,
        ...(msix
          ? { msix: { enabled: msix.enabled, functionMask: msix.functionMask, table: Array.from(msix.table), pending: Array.from(msix.pending) } }
          : {}),
      };
    }
    return {
      version: STATE_VERSION,
      configAddress: this.configAddress,
      resetControl: this.resetControl,
      routes: Array.from(this.router.routes),
      functions,
    };
  }

  /** Validate all of `state`, then apply it, re-map the BARs and re-drive the interrupt lines. */
  restore(state: unknown): void {
    const reader = new StateReader(this.persistId, state);
    reader.version([STATE_VERSION]);
    const configAddress = reader.int('configAddress', 0, 0xffff_ffff);
    if ((configAddress & ~ConfigAddress.Writable) !== 0) throw new StateError(this.persistId, 'configAddress', 'reserved bits set');
    const resetControl = reader.int('resetControl', 0, 0xff);
    if ((resetControl & ~ResetControl.Implemented) !== 0) throw new StateError(this.persistId, 'resetControl', 'unimplemented bits set');
    const routes = reader.ints('routes', 0, 0xff, PIRQ_COUNT, PIRQ_COUNT);
    routes.forEach((r, n) => {
      if ((r & ~0x8f) !== 0) throw new StateError(this.persistId, `routes[${n}]`, `unimplemented bits in 0x${r.toString(16)}`);
    });
    const functionsReader = reader.object('functions');
    const raw = (state as { functions: Record<string, Record<string, unknown>> }).functions;
    for (const key of Object.keys(raw)) {
      if (!this.plugged.some((slot) => slot.key === key)) throw new StateError(this.persistId, `functions.${key}`, 'no such function on this bus');
    }
    const parsed = this.plugged.map((slot) => this.readFunctionState(slot, functionsReader, raw));

    this.configAddress = configAddress;
    this.resetControl = resetControl;
    this.unmapAllBars();
    this.plugged.forEach((slot, k) => this.applyFunctionState(slot, parsed[k]!));
    this.remapAllBars();
    this.reloadInterrupts(routes);
  }

  private readFunctionState(slot: FunctionSlot, functions: StateReader, raw: Record<string, Record<string, unknown>>): PciFunctionSavedState {
    const r = functions.object(slot.key);
    const field = `functions.${slot.key}`;
    const command = r.int('command', 0, 0xffff);
    if ((command & ~COMMAND_WRITABLE) !== 0) throw new StateError(this.persistId, `${field}.command`, `unimplemented bits in 0x${command.toString(16)}`);
    const bars = r.ints('bars', 0, 0xffff_ffff, BAR_COUNT, BAR_COUNT);
    bars.forEach((address, i) => {
      const bar = slot.barDefinitions[i];
      const mask = bar ? (bar.kind === 'io' ? BarBits.IoAddressMask : BarBits.MemoryAddressMask) & ~(bar.size - 1) : 0;
      if ((address & ~mask) !== 0) throw new StateError(this.persistId, `${field}.bars[${i}]`, `0x${address.toString(16)} is not a valid address for this BAR`);
    });
    const result: PciFunctionSavedState = {
      command,
      cacheLineSize: r.int('cacheLineSize', 0, 0xff),
      latencyTimer: r.int('latencyTimer', 0, 0xff),
      interruptLine: r.int('interruptLine', 0, 0xff),
      bars,
      intx: r.bool('intx'),
    };
    const msix = slot.msix;
    const hasMsix = raw[slot.key]!['msix'] !== undefined;
    if (!msix) {
      if (hasMsix) throw new StateError(this.persistId, `${field}.msix`, 'this function has no MSI-X');
      return result;
    }
    const m = r.object('msix');
    const table = m.ints('table', 0, 0xffff_ffff, msix.table.length, msix.table.length);
    table.forEach((word, i) => {
      const fieldIndex = i % MsixLayout.EntryDwords;
      const bad = (fieldIndex === MsixLayout.AddressDword && (word & 3) !== 0) || (fieldIndex === MsixLayout.VectorControlDword && word > 1);
      if (bad) throw new StateError(this.persistId, `${field}.msix.table[${i}]`, `reserved bits set in 0x${word.toString(16)}`);
    });
    return {
      ...result,
      msix: {
        enabled: m.bool('enabled'),
        functionMask: m.bool('functionMask'),
        table,
        pending: m.ints('pending', 0, 1, msix.vectors, msix.vectors),
      },
    };
  }

  private applyFunctionState(slot: FunctionSlot, s: PciFunctionSavedState): void {
    slot.command = s.command;
    slot.cacheLineSize = s.cacheLineSize;
    slot.latencyTimer = s.latencyTimer;
    slot.interruptLine = s.interruptLine;
    slot.intxLevel = s.intx;
    slot.barAddress.set(s.bars);
    slot.barFailureLogged.fill(false);
    if (slot.msix && s.msix) {
      slot.msix.enabled = s.msix.enabled;
      slot.msix.functionMask = s.msix.functionMask;
      slot.msix.table.set(s.msix.table);
      slot.msix.pending.set(s.msix.pending);
    }
  }

  /** Take every BAR off the I/O and MMIO buses (before moving many at once). */
  private unmapAllBars(): void {
    for (const slot of this.plugged) {
      slot.barDefinitions.forEach((bar, index) => {
        if (!bar || slot.barMappedAt[index]! < 0) return;
        if (bar.kind === 'io') this.options.io.unregister(slot.barTargets[index] as IoDevice);
        else this.options.mmio.unregister(slot.barTargets[index] as MmioDevice);
        slot.barMappedAt[index] = -1;
      });
    }
  }

  /** Map every BAR whose decode is on at its current address. */
  private remapAllBars(): void {
    for (const slot of this.plugged) for (let i = 0; i < BAR_COUNT; i++) this.remapBar(slot, i);
  }
}

/** The placed capability containing configuration `offset`, if any. */
function findCapability(slot: FunctionSlot, offset: number): PlacedCapability | undefined {
  for (const placed of slot.capabilities) {
    if (offset >= placed.offset && offset < placed.offset + placed.length) return placed;
  }
  return undefined;
}

