/**
 * What a PCI function is to the PCI bus (PCI Local Bus Specification 3.0, ch. 6
 * "Configuration Space"). A device describes itself once — identity, BARs, capabilities —
 * and the bus owns the configuration space built from that description: the type-0 header,
 * BAR sizing and relocation, the command and status registers, the capability list and its
 * linking, the interrupt line/pin registers, and MSI-X. Devices never decode 0xCF8/0xCFC and
 * never see their BAR addresses: the bus maps each enabled BAR on the I/O-port or MMIO bus,
 * and the device's handler gets offsets relative to the BAR.
 *
 * The device-specific part of configuration space is its capabilities other than MSI-X
 * (e.g. the virtio vendor capabilities, read-only) through `PciCapability.read/write`.
 */
import type { AccessSize, IoDevice } from '../io-bus.js';
import type { MmioDevice } from '../mmio-bus.js';
import type { GuestMemory } from '../../memory/guest-memory.js';

/** Offsets in the type-0 configuration header (PCI 3.0 §6.1). */
export const enum PciConfig {
  VendorId = 0x00,
  DeviceId = 0x02,
  Command = 0x04,
  Status = 0x06,
  RevisionId = 0x08,
  ClassCode = 0x09,
  CacheLineSize = 0x0c,
  LatencyTimer = 0x0d,
  HeaderType = 0x0e,
  Bar0 = 0x10,
  SubsystemVendorId = 0x2c,
  SubsystemId = 0x2e,
  ExpansionRom = 0x30,
  CapabilitiesPointer = 0x34,
  InterruptLine = 0x3c,
  InterruptPin = 0x3d,
  /** First byte after the header: capabilities are laid out from here. */
  DeviceSpecific = 0x40,
  /** Size of a conventional function's configuration space. */
  Size = 0x100,
}

/** Command register bits (PCI 3.0 §6.2.2). */
export const enum PciCommand {
  IoSpace = 1 << 0,
  MemorySpace = 1 << 1,
  BusMaster = 1 << 2,
  InterruptDisable = 1 << 10,
}

/** Status register bits (PCI 3.0 §6.2.3). */
export const enum PciStatus {
  InterruptStatus = 1 << 3,
  CapabilitiesList = 1 << 4,
}

/** Capability IDs (PCI Code and ID Assignment Specification). */
export const enum PciCapabilityId {
  Msi = 0x05,
  VendorSpecific = 0x09,
  MsiX = 0x11,
}

/** INTx pin a function uses (the Interrupt Pin register's values). */
export const enum PciInterruptPin {
  None = 0,
  IntA = 1,
  IntB = 2,
  IntC = 3,
  IntD = 4,
}

/** Who the function is: the read-only header fields. */
export interface PciIdentity {
  readonly vendorId: number;
  readonly deviceId: number;
  /** Base class, sub-class and programming interface: 0xBBSSPP. */
  readonly classCode: number;
  readonly revisionId: number;
  readonly subsystemVendorId: number;
  readonly subsystemId: number;
  /** INTx pin, or None for a function that never uses INTx. */
  readonly interruptPin: PciInterruptPin;
}

/** One base address register (a 32-bit BAR; 64-bit BARs are not used on this 32-bit board). */
export type PciBarDefinition =
  | {
      readonly index: number;
      readonly kind: 'io';
      /** Power of two, 4..256 bytes. */
      readonly size: number;
      readonly handler: IoDevice;
    }
  | {
      readonly index: number;
      readonly kind: 'memory';
      /** Power of two, at least 4096 bytes (one page, so BARs never share an NPT frame). */
      readonly size: number;
      readonly prefetchable?: boolean;
      readonly handler: MmioDevice;
    };

/**
 * A capability in the function's configuration space, other than MSI-X (which the bus
 * provides from `PciFunction.msix`). The bus places it (4-byte aligned, from 0x40 on) and
 * owns its first two bytes (ID and next pointer); `read`/`write` get offsets relative to
 * the capability's start, always >= 2, and never span past `length`.
 */
export interface PciCapability {
  readonly id: PciCapabilityId | number;
  /** Length in bytes including the 2-byte header. */
  readonly length: number;
  read(offset: number, size: AccessSize): number;
  write(offset: number, size: AccessSize, value: number): void;
}

/** Where a function's MSI-X table and pending-bit array live (PCI 3.0 §6.8.2). */
export interface PciMsixDefinition {
  /** Number of vectors (table entries), 1..2048. */
  readonly vectors: number;
  /** BAR holding the table, and the table's offset in it (8-byte aligned). */
  readonly tableBar: number;
  readonly tableOffset: number;
  /** BAR holding the pending-bit array, and its offset (8-byte aligned). */
  readonly pbaBar: number;
  readonly pbaOffset: number;
}

/** What the bus hands a function once it is plugged in. */
export interface PciFunctionContext {
  /** The VM's memory: all DMA goes through it (so it marks pages dirty and honours the NPT). */
  readonly memory: GuestMemory;
  /** The function's command register now (bus mastering, INTx disable). */
  command(): number;
  /**
   * Drive the function's INTx pin (level; the bus routes it through the PIRQ router to the
   * 8259 and the I/O APIC, and honours Command.InterruptDisable and sets Status.InterruptStatus).
   */
  setIntx(level: boolean): void;
  /** True when the guest enabled MSI-X (and did not set the function mask). */
  msixEnabled(): boolean;
  /**
   * Signal MSI-X vector `vector`: sent to the local APIC when enabled and unmasked, else its
   * pending bit is set (and sent when unmasked). Returns false when MSI-X is disabled or
   * `vector` is out of range (the caller then falls back to INTx or drops it).
   */
  signalMsix(vector: number): boolean;
}

/** One PCI function as the bus sees it. */
export interface PciFunction {
  /** Name for logs and errors ("virtio-blk0"). */
  readonly name: string;
  readonly identity: PciIdentity;
  readonly bars: readonly PciBarDefinition[];
  /** Capabilities in list order (MSI-X, when `msix` is set, is linked in by the bus). */
  readonly capabilities: readonly PciCapability[];
  readonly msix?: PciMsixDefinition;
  /** Called once when the function is plugged into a bus. */
  attach(context: PciFunctionContext): void;
  /** The command register changed (e.g. bus mastering turned off: stop DMA). */
  commandChanged?(command: number): void;
  /** Power-on / bus reset state (the bus resets its own configuration space). */
  reset(): void;
}
