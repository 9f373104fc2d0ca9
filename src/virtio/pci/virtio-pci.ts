/**
 * The virtio-over-PCI transport (VIRTIO 1.2 §4.1 "Virtio Over PCI Bus"): one PCI function
 * carrying one `VirtioDevice`.
 *
 * - Identity (§4.1.2): vendor 0x1AF4; a transitional function uses the legacy device IDs
 *   (0x1000 net, 0x1001 block, 0x1003 console; revision 0; subsystem ID = device type), a
 *   modern-only one 0x1040 + device type (revision 1).
 * - BAR0 (transitional only): the legacy I/O register block (§4.1.4.8), with the two MSI-X
 *   vector registers present while MSI-X is enabled and device configuration after them.
 * - BAR1: 4 KiB for the MSI-X table (offset 0) and pending-bit array (offset 0x800); the
 *   PCI bus serves those ranges itself.
 * - BAR4: 16 KiB holding the modern structures, one 4 KiB page each: common configuration
 *   (§4.1.4.3) at 0x0000, ISR status (§4.1.4.5) at 0x1000, device configuration (§4.1.4.6)
 *   at 0x2000, notifications (§4.1.4.4, notify_off = queue index, multiplier 4) at 0x3000.
 *   Vendor-specific capabilities (cfg_type 1..4) point at them, plus the PCI configuration
 *   access capability (cfg_type 5, §4.1.4.9) that reaches any BAR through config space.
 *
 * The transport negotiates features (the driver must accept VERSION_1 on the modern
 * interface and nothing the device did not offer), runs the device status state machine
 * (§2.1: writing 0 resets; FEATURES_OK; DRIVER_OK activates the device with live
 * `SplitVirtqueue`s; DEVICE_NEEDS_RESET when the device fails), and raises interrupts: the
 * queue's or the configuration MSI-X vector when MSI-X is enabled, else an ISR bit and the
 * INTx level (deasserted when the ISR is read). A ring the driver corrupted turns into
 * DEVICE_NEEDS_RESET plus a log line; no guest action throws out of a register handler.
 * While bus mastering is off the device does no DMA (queues pop nothing); when it comes
 * back every live queue is re-notified.
 */
import type { AccessSize, IoDevice } from '../../bus/io-bus.js';
import type { MmioDevice } from '../../bus/mmio-bus.js';
import {
  type PciBarDefinition,
  type PciCapability,
  PciCapabilityId,
  PciCommand,
  type PciFunction,
  type PciFunctionContext,
  type PciIdentity,
  PciInterruptPin,
  type PciMsixDefinition,
} from '../../bus/pci/pci-function.js';
import { type Persist, type SavedState, StateError, StateReader } from '../../persist/persist.js';
import {
  type VirtioDevice,
  type VirtioDeviceHost,
  VirtioDeviceType,
  VirtioFeatureBit,
  featureBit,
} from '../virtio-device.js';
import { SplitVirtqueue, VIRTQ_MAX_SIZE, type VirtqueueCounters, legacyRingAddresses } from '../virtqueue.js';

/** PCI vendor ID of virtio functions (§4.1.2). */
export const VIRTIO_PCI_VENDOR_ID = 0x1af4;
/** Modern device ID = this + device type (§4.1.2). */
export const VIRTIO_PCI_MODERN_DEVICE_ID_BASE = 0x1040;
/** "No vector" for the MSI-X vector registers (§4.1.4.3, §4.1.5.1.2). */
export const VIRTIO_MSI_NO_VECTOR = 0xffff;

/** Device status bits (§2.1). */
export const enum VirtioStatus {
  Acknowledge = 1,
  Driver = 2,
  DriverOk = 4,
  FeaturesOk = 8,
  DeviceNeedsReset = 0x40,
  Failed = 0x80,
}

/** ISR status bits (§4.1.4.5). */
export const enum VirtioIsr {
  Queue = 1,
  ConfigChange = 2,
}

/** virtio_pci_cap.cfg_type values (§4.1.4). */
export const enum VirtioPciCapType {
  CommonCfg = 1,
  NotifyCfg = 2,
  IsrCfg = 3,
  DeviceCfg = 4,
  PciCfg = 5,
}

/** Offsets in the common configuration structure (§4.1.4.3). */
export const enum VirtioCommonCfg {
  DeviceFeatureSelect = 0x00,
  DeviceFeature = 0x04,
  DriverFeatureSelect = 0x08,
  DriverFeature = 0x0c,
  ConfigMsixVector = 0x10,
  NumQueues = 0x12,
  DeviceStatus = 0x14,
  ConfigGeneration = 0x15,
  QueueSelect = 0x16,
  QueueSize = 0x18,
  QueueMsixVector = 0x1a,
  QueueEnable = 0x1c,
  QueueNotifyOff = 0x1e,
  QueueDescLow = 0x20,
  QueueDescHigh = 0x24,
  QueueDriverLow = 0x28,
  QueueDriverHigh = 0x2c,
  QueueDeviceLow = 0x30,
  QueueDeviceHigh = 0x34,
  /** Bytes the capability describes (the 1.2 fields at 0x38/0x3A read as zero). */
  Length = 0x40,
}

/** Offsets in the legacy I/O register block (§4.1.4.8). */
export const enum VirtioLegacyReg {
  HostFeatures = 0x00,
  GuestFeatures = 0x04,
  QueuePfn = 0x08,
  QueueSize = 0x0c,
  QueueSelect = 0x0e,
  QueueNotify = 0x10,
  DeviceStatus = 0x12,
  IsrStatus = 0x13,
  /** Present only while MSI-X is enabled. */
  ConfigMsixVector = 0x14,
  QueueMsixVector = 0x16,
  /** Device configuration starts here without MSI-X ... */
  DeviceConfig = 0x14,
  /** ... and here with MSI-X enabled. */
  DeviceConfigMsix = 0x18,
}

/** Where things sit in the modern BAR (BAR4) and the MSI-X BAR (BAR1). */
export const enum VirtioPciLayout {
  LegacyBar = 0,
  MsixBar = 1,
  ModernBar = 4,
  ModernBarSize = 0x4000,
  CommonOffset = 0x0000,
  IsrOffset = 0x1000,
  DeviceOffset = 0x2000,
  NotifyOffset = 0x3000,
  RegionSize = 0x1000,
  NotifyOffMultiplier = 4,
  MsixBarSize = 0x1000,
  MsixTableOffset = 0,
  MsixPbaOffset = 0x800,
  /** Table entries that fit below the PBA. */
  MaxMsixVectors = 0x80,
}

/** Byte offsets inside a virtio_pci_cap (§4.1.4). */
const enum CapField {
  Length = 2,
  CfgType = 3,
  Bar = 4,
  Id = 5,
  Offset = 8,
  RegionLength = 12,
  /** notify_off_multiplier (notify cap) or pci_cfg_data (PCI cfg access cap). */
  Extra = 16,
  BaseSize = 16,
  ExtendedSize = 20,
}

/** Feature bits of the transport/ring this implementation cannot honour, never offered even if a device claims them. */
const UNSUPPORTED_TRANSPORT_FEATURES =
  featureBit(33) | // ACCESS_PLATFORM
  featureBit(34) | // RING_PACKED
  featureBit(37) | // SR_IOV
  featureBit(38) | // NOTIFICATION_DATA
  featureBit(40); // RING_RESET

const LOW_32 = 0xffffffffn;
const STATE_VERSION = 1;

/** Transitional device IDs and class codes per device type (§4.1.2, PCI class codes). */
const DEVICE_TABLE: Readonly<Record<number, { readonly transitionalId: number; readonly classCode: number }>> = {
  [VirtioDeviceType.Net]: { transitionalId: 0x1000, classCode: 0x020000 },
  [VirtioDeviceType.Block]: { transitionalId: 0x1001, classCode: 0x010000 },
  [VirtioDeviceType.Console]: { transitionalId: 0x1003, classCode: 0x078000 },
};

/** Thrown for an unusable transport option (names the device and the option). */
export class VirtioPciOptionError extends Error {
  constructor(device: string, option: string, problem: string) {
    super(`${device}: virtio-pci option '${option}': ${problem}`);
    this.name = 'VirtioPciOptionError';
  }
}

/** Options of `new VirtioPciFunction`. */
export interface VirtioPciOptions {
  readonly device: VirtioDevice;
  /** Offer the legacy interface too (BAR0, legacy device ID); default true. */
  readonly transitional?: boolean;
  /** MSI-X table size, 0 for none; default queueCount + 1 (one per queue plus configuration). */
  readonly msixVectors?: number;
  /** Log sink for guest mistakes and device failures; default none. */
  readonly log?: (message: string) => void;
}

/** Driver-side setup of one queue. */
interface QueueConfig {
  size: number;
  msixVector: number;
  enabled: boolean;
  desc: number;
  driver: number;
  device: number;
}

/** Saved state of one queue. */
export interface VirtioPciQueueState extends VirtqueueCounters {
  readonly size: number;
  readonly msixVector: number;
  readonly enabled: boolean;
  readonly desc: number;
  readonly driver: number;
  readonly device: number;
}

/** Saved state of the transport, with the device's own state nested. */
export interface VirtioPciState extends SavedState {
  readonly version: number;
  readonly status: number;
  readonly deviceFeatureSelect: number;
  readonly driverFeatureSelect: number;
  readonly driverFeaturesLow: number;
  readonly driverFeaturesHigh: number;
  readonly unknownFeatureAccepted: boolean;
  readonly configMsixVector: number;
  readonly queueSelect: number;
  readonly isr: number;
  readonly configGeneration: number;
  readonly legacyDriver: boolean;
  readonly activated: boolean;
  readonly broken: boolean;
  readonly queues: readonly VirtioPciQueueState[];
  readonly device: unknown;
}

/** A read-only virtio vendor-specific capability (§4.1.4) as fixed bytes. */
class VirtioCapability implements PciCapability {
  readonly id = PciCapabilityId.VendorSpecific;
  protected readonly bytes: Uint8Array;
  private readonly view: DataView;

  constructor(readonly length: number, cfgType: VirtioPciCapType, bar: number, offset: number, regionLength: number) {
    this.bytes = new Uint8Array(length);
    this.view = new DataView(this.bytes.buffer);
    this.bytes[CapField.Length] = length;
    this.bytes[CapField.CfgType] = cfgType;
    this.bytes[CapField.Bar] = bar;
    this.setField(CapField.Offset, 4, offset);
    this.setField(CapField.RegionLength, 4, regionLength);
  }

  read(offset: number, size: AccessSize): number {
    return this.getField(offset, size);
  }

  write(_offset: number, _size: AccessSize, _value: number): void {
    // The descriptive capabilities are read-only.
  }

  protected getField(offset: number, size: AccessSize): number {
    if (size === 1) return this.bytes[offset];
    if (size === 2) return this.view.getUint16(offset, true);
    return this.view.getUint32(offset, true);
  }

  protected setField(offset: number, size: AccessSize, value: number): void {
    if (size === 1) this.bytes[offset] = value;
    else if (size === 2) this.view.setUint16(offset, value, true);
    else this.view.setUint32(offset, value >>> 0, true);
  }
}

/** The PCI configuration access capability (§4.1.4.9): a window onto any BAR through config space. */
class PciCfgAccessCapability extends VirtioCapability {
  constructor(private readonly access: (bar: number, offset: number, length: number, value: number | null) => number) {
    super(CapField.ExtendedSize, VirtioPciCapType.PciCfg, 0, 0, 0);
  }

  override read(offset: number, size: AccessSize): number {
    if (offset < CapField.Extra) return this.getField(offset, size);
    const data = this.windowAccess(null);
    return size === 4 ? data >>> 0 : (data >>> (8 * (offset - CapField.Extra))) & ((1 << (8 * size)) - 1);
  }

  override write(offset: number, size: AccessSize, value: number): void {
    if (offset === CapField.Bar && size === 1) this.bytes[CapField.Bar] = value;
    else if (offset === CapField.Offset && size === 4) this.setField(CapField.Offset, 4, value);
    else if (offset === CapField.RegionLength && size === 4) this.setField(CapField.RegionLength, 4, value);
    else if (offset >= CapField.Extra) this.windowAccess(value << (8 * (offset - CapField.Extra)));
  }

  private windowAccess(value: number | null): number {
    return this.access(this.bytes[CapField.Bar], this.getField(CapField.Offset, 4), this.getField(CapField.RegionLength, 4), value);
  }
}

/** The notify capability: a virtio_pci_cap plus notify_off_multiplier (§4.1.4.4). */
class NotifyCapability extends VirtioCapability {
  constructor(bar: number, offset: number, length: number, multiplier: number) {
    super(CapField.ExtendedSize, VirtioPciCapType.NotifyCfg, bar, offset, length);
    this.setField(CapField.Extra, 4, multiplier);
  }
}

function isPowerOfTwo(value: number): boolean {
  return value > 0 && (value & (value - 1)) === 0;
}

function hex(value: number): string {
  return `0x${value.toString(16)}`;
}

/** One virtio device as a PCI function (modern + optionally legacy interface). */
export class VirtioPciFunction implements PciFunction, Persist<VirtioPciState> {
  readonly name: string;
  readonly persistId: string;
  readonly identity: PciIdentity;
  readonly bars: readonly PciBarDefinition[];
  readonly capabilities: readonly PciCapability[];
  readonly msix?: PciMsixDefinition;
  /** The wrapped device. */
  readonly device: VirtioDevice;
  readonly transitional: boolean;
  /** Size of the MSI-X table (0 = no MSI-X). */
  readonly msixVectors: number;
  /** Feature bits offered to the driver. */
  readonly offeredFeatures: bigint;

  private readonly logSink: (message: string) => void;
  private readonly host: VirtioDeviceHost;
  private readonly legacyConfigBarSize: number;
  private context: PciFunctionContext | null = null;

  private status = 0;
  private deviceFeatureSelect = 0;
  private driverFeatureSelect = 0;
  private driverFeatures = 0n;
  /** The driver wrote a 1 to a feature bit above 63 (never offered): FEATURES_OK must fail. */
  private unknownFeatureAccepted = false;
  private configMsixVector = VIRTIO_MSI_NO_VECTOR;
  private queueSelect = 0;
  private isr = 0;
  private configGeneration = 0;
  /** The last status write came through the legacy registers. */
  private legacyDriver = false;
  private activated = false;
  private broken = false;
  private busMaster = false;
  private readonly queueConfigs: QueueConfig[];
  private liveQueues: (SplitVirtqueue | null)[] = [];

  constructor(options: VirtioPciOptions) {
    const device = options.device;
    this.device = device;
    this.name = device.name;
    this.persistId = device.persistId;
    this.transitional = options.transitional ?? true;
    this.logSink = options.log ?? (() => {});
    this.msixVectors = options.msixVectors ?? device.queueCount + 1;
    this.checkOptions();
    this.offeredFeatures = device.deviceFeatures & ~UNSUPPORTED_TRANSPORT_FEATURES;
    this.identity = this.buildIdentity();
    this.legacyConfigBarSize = this.legacyBarSize();
    this.bars = this.buildBars();
    this.capabilities = this.buildCapabilities();
    if (this.msixVectors > 0) {
      this.msix = {
        vectors: this.msixVectors,
        tableBar: VirtioPciLayout.MsixBar,
        tableOffset: VirtioPciLayout.MsixTableOffset,
        pbaBar: VirtioPciLayout.MsixBar,
        pbaOffset: VirtioPciLayout.MsixPbaOffset,
      };
    }
    this.queueConfigs = [];
    for (let i = 0; i < device.queueCount; i++) this.queueConfigs.push(this.initialQueueConfig(i));
    this.host = {
      configChanged: () => this.configChanged(),
      fail: (reason: string) => this.fail(reason),
      log: (message: string) => this.log(message),
    };
  }

  // ---- PciFunction -------------------------------------------------------------------------

  attach(context: PciFunctionContext): void {
    this.context = context;
    this.busMaster = (context.command() & PciCommand.BusMaster) !== 0;
  }

  commandChanged(command: number): void {
    const busMaster = (command & PciCommand.BusMaster) !== 0;
    const resumed = busMaster && !this.busMaster;
    this.busMaster = busMaster;
    if (resumed) this.renotifyQueues();
  }

  reset(): void {
    this.resetDevice();
    this.configGeneration = 0;
  }

  // ---- Persist -----------------------------------------------------------------------------

  save(): VirtioPciState {
    return {
      version: STATE_VERSION,
      status: this.status,
      deviceFeatureSelect: this.deviceFeatureSelect,
      driverFeatureSelect: this.driverFeatureSelect,
      driverFeaturesLow: Number(this.driverFeatures & LOW_32),
      driverFeaturesHigh: Number((this.driverFeatures >> 32n) & LOW_32),
      unknownFeatureAccepted: this.unknownFeatureAccepted,
      configMsixVector: this.configMsixVector,
      queueSelect: this.queueSelect,
      isr: this.isr,
      configGeneration: this.configGeneration,
      legacyDriver: this.legacyDriver,
      activated: this.activated,
      broken: this.broken,
      queues: this.queueConfigs.map((config, index) => this.saveQueue(config, index)),
      device: this.device.save(),
    };
  }

  /**
   * Validates everything, restores the device (which validates its own state), then applies
   * the transport state. An activated device gets `activate()` again with queues resumed at
   * the saved ring positions, after its own `restore()`.
   */
  restore(state: unknown): void {
    const valid = this.validateState(state);
    const queues = valid.activated ? this.buildRestoredQueues(valid) : [];
    this.device.restore(valid.device);
    if (this.activated && !valid.activated) {
      // Drop the device's current activation (its queues), then put the validated state back.
      this.device.reset();
      this.device.restore(valid.device);
    }
    if (this.context) this.busMaster = (this.context.command() & PciCommand.BusMaster) !== 0;
    this.status = valid.status;
    this.deviceFeatureSelect = valid.deviceFeatureSelect;
    this.driverFeatureSelect = valid.driverFeatureSelect;
    this.driverFeatures = (BigInt(valid.driverFeaturesHigh) << 32n) | BigInt(valid.driverFeaturesLow);
    this.unknownFeatureAccepted = valid.unknownFeatureAccepted;
    this.configMsixVector = valid.configMsixVector;
    this.queueSelect = valid.queueSelect;
    this.isr = valid.isr;
    this.configGeneration = valid.configGeneration;
    this.legacyDriver = valid.legacyDriver;
    this.broken = valid.broken;
    valid.queues.forEach((queue, index) => {
      const config = this.queueConfigs[index];
      config.size = queue.size;
      config.msixVector = queue.msixVector;
      config.enabled = queue.enabled;
      config.desc = queue.desc;
      config.driver = queue.driver;
      config.device = queue.device;
    });
    this.liveQueues = queues;
    this.activated = valid.activated;
    if (valid.activated) {
      try {
        this.device.activate(this.negotiatedFeatures(), queues, this.host);
      } catch (error) {
        this.fail(`activation after restore failed: ${errorMessage(error)}`);
      }
    }
    this.updateIntx();
  }

  // ---- Introspection (tests, debugging) -----------------------------------------------------

  /** Current device status byte. */
  get deviceStatus(): number {
    return this.status;
  }

  /** True once DRIVER_OK activated the device (until reset). */
  get isActive(): boolean {
    return this.activated;
  }

  /** True after the device failed (DEVICE_NEEDS_RESET), until reset. */
  get needsReset(): boolean {
    return this.broken;
  }

  /** The features the device was activated with (valid once active). */
  negotiatedFeatures(): bigint {
    const accepted = this.legacyDriver ? this.driverFeatures & LOW_32 : this.driverFeatures;
    return accepted & this.offeredFeatures;
  }

  // ---- Construction helpers -----------------------------------------------------------------

  private checkOptions(): void {
    const device = this.device;
    if (DEVICE_TABLE[device.deviceType] === undefined) {
      throw new VirtioPciOptionError(device.name, 'device', `device type ${device.deviceType} has no PCI identity here`);
    }
    if (!Number.isInteger(this.msixVectors) || this.msixVectors < 0 || this.msixVectors > VirtioPciLayout.MaxMsixVectors) {
      throw new VirtioPciOptionError(device.name, 'msixVectors', `expected 0..${VirtioPciLayout.MaxMsixVectors}, got ${this.msixVectors}`);
    }
    if (device.queueCount < 1 || device.queueCount > VirtioPciLayout.RegionSize / VirtioPciLayout.NotifyOffMultiplier) {
      throw new VirtioPciOptionError(device.name, 'device.queueCount', `${device.queueCount} queues do not fit the notify region`);
    }
    if (device.configSize > VirtioPciLayout.RegionSize) {
      throw new VirtioPciOptionError(device.name, 'device.configSize', `${device.configSize} bytes do not fit the device region`);
    }
    if (this.transitional && device.configSize > 0x100 - VirtioLegacyReg.DeviceConfigMsix) {
      throw new VirtioPciOptionError(device.name, 'transitional', `${device.configSize} bytes of configuration do not fit a 256-byte legacy BAR`);
    }
    if ((device.deviceFeatures & featureBit(VirtioFeatureBit.Version1)) === 0n) {
      throw new VirtioPciOptionError(device.name, 'device.deviceFeatures', 'VERSION_1 is not offered');
    }
    for (let i = 0; i < device.queueCount; i++) {
      const max = device.queueMaxSize(i);
      if (!isPowerOfTwo(max) || max > VIRTQ_MAX_SIZE) {
        throw new VirtioPciOptionError(device.name, `device.queueMaxSize(${i})`, `${max} is not a power of two up to ${VIRTQ_MAX_SIZE}`);
      }
    }
  }

  private buildIdentity(): PciIdentity {
    const type = this.device.deviceType;
    const entry = DEVICE_TABLE[type];
    return {
      vendorId: VIRTIO_PCI_VENDOR_ID,
      deviceId: this.transitional ? entry.transitionalId : VIRTIO_PCI_MODERN_DEVICE_ID_BASE + type,
      classCode: entry.classCode,
      revisionId: this.transitional ? 0 : 1,
      subsystemVendorId: VIRTIO_PCI_VENDOR_ID,
      subsystemId: type,
      interruptPin: PciInterruptPin.IntA,
    };
  }

  /** Smallest power of two holding the legacy registers (with MSI-X fields) and the device configuration. */
  private legacyBarSize(): number {
    let size = 32;
    while (size < VirtioLegacyReg.DeviceConfigMsix + this.device.configSize) size *= 2;
    return size;
  }

  private buildBars(): PciBarDefinition[] {
    const bars: PciBarDefinition[] = [];
    if (this.transitional) {
      const legacy: IoDevice = {
        name: `${this.name} legacy`,
        ioRead: (offset, size) => this.legacyRead(offset, size),
        ioWrite: (offset, size, value) => this.legacyWrite(offset, size, value),
      };
      bars.push({ index: VirtioPciLayout.LegacyBar, kind: 'io', size: this.legacyConfigBarSize, handler: legacy });
    }
    if (this.msixVectors > 0) {
      const msixPage: MmioDevice = { name: `${this.name} msix`, mmioRead: () => 0, mmioWrite: () => {} };
      bars.push({ index: VirtioPciLayout.MsixBar, kind: 'memory', size: VirtioPciLayout.MsixBarSize, handler: msixPage });
    }
    const modern: MmioDevice = {
      name: `${this.name} modern`,
      mmioRead: (offset, size) => this.modernRead(offset, size),
      mmioWrite: (offset, size, value) => this.modernWrite(offset, size, value),
    };
    bars.push({ index: VirtioPciLayout.ModernBar, kind: 'memory', size: VirtioPciLayout.ModernBarSize, handler: modern });
    return bars;
  }

  private buildCapabilities(): PciCapability[] {
    const bar = VirtioPciLayout.ModernBar;
    const caps: PciCapability[] = [
      new VirtioCapability(CapField.BaseSize, VirtioPciCapType.CommonCfg, bar, VirtioPciLayout.CommonOffset, VirtioCommonCfg.Length),
      new VirtioCapability(CapField.BaseSize, VirtioPciCapType.IsrCfg, bar, VirtioPciLayout.IsrOffset, 1),
    ];
    if (this.device.configSize > 0) {
      caps.push(new VirtioCapability(CapField.BaseSize, VirtioPciCapType.DeviceCfg, bar, VirtioPciLayout.DeviceOffset, this.device.configSize));
    }
    const notifyLength = this.device.queueCount * VirtioPciLayout.NotifyOffMultiplier;
    const notify = new NotifyCapability(bar, VirtioPciLayout.NotifyOffset, notifyLength, VirtioPciLayout.NotifyOffMultiplier);
    caps.push(notify);
    caps.push(new PciCfgAccessCapability((b, offset, length, value) => this.barWindowAccess(b, offset, length, value)));
    return caps;
  }

  private initialQueueConfig(index: number): QueueConfig {
    return { size: this.device.queueMaxSize(index), msixVector: VIRTIO_MSI_NO_VECTOR, enabled: false, desc: 0, driver: 0, device: 0 };
  }

  // ---- Modern interface (BAR4) ----------------------------------------------------------------

  private modernRead(offset: number, size: AccessSize): number {
    if (offset < VirtioPciLayout.IsrOffset) return this.commonRead(offset, size);
    if (offset < VirtioPciLayout.DeviceOffset) return offset === VirtioPciLayout.IsrOffset ? this.readIsr() : 0;
    if (offset < VirtioPciLayout.NotifyOffset) return this.deviceConfigRead(offset - VirtioPciLayout.DeviceOffset, size);
    return 0;
  }

  private modernWrite(offset: number, size: AccessSize, value: number): void {
    if (offset < VirtioPciLayout.IsrOffset) this.commonWrite(offset, size, value);
    else if (offset < VirtioPciLayout.DeviceOffset) return;
    else if (offset < VirtioPciLayout.NotifyOffset) this.deviceConfigWrite(offset - VirtioPciLayout.DeviceOffset, size, value);
    else this.notifyWrite(offset - VirtioPciLayout.NotifyOffset);
  }

  private commonRead(offset: number, size: AccessSize): number {
    const queue = this.selectedQueue();
    switch (offset) {
      case VirtioCommonCfg.DeviceFeatureSelect:
        return this.deviceFeatureSelect;
      case VirtioCommonCfg.DeviceFeature:
        return this.featureWord(this.offeredFeatures, this.deviceFeatureSelect);
      case VirtioCommonCfg.DriverFeatureSelect:
        return this.driverFeatureSelect;
      case VirtioCommonCfg.DriverFeature:
        return this.featureWord(this.driverFeatures, this.driverFeatureSelect);
      case VirtioCommonCfg.ConfigMsixVector:
        return this.configMsixVector;
      case VirtioCommonCfg.NumQueues:
        return size === 1 ? this.device.queueCount & 0xff : this.device.queueCount;
      case VirtioCommonCfg.DeviceStatus:
        return size === 1 ? this.status : this.status | (this.configGeneration << 8);
      case VirtioCommonCfg.ConfigGeneration:
        return this.configGeneration;
      case VirtioCommonCfg.QueueSelect:
        return this.queueSelect;
      case VirtioCommonCfg.QueueSize:
        return queue ? queue.size : 0;
      case VirtioCommonCfg.QueueMsixVector:
        return queue ? queue.msixVector : VIRTIO_MSI_NO_VECTOR;
      case VirtioCommonCfg.QueueEnable:
        return queue?.enabled ? 1 : 0;
      case VirtioCommonCfg.QueueNotifyOff:
        return queue ? this.queueSelect : 0;
      case VirtioCommonCfg.QueueDescLow:
      case VirtioCommonCfg.QueueDescHigh:
        return queue ? this.addressHalf(queue.desc, offset === VirtioCommonCfg.QueueDescHigh) : 0;
      case VirtioCommonCfg.QueueDriverLow:
      case VirtioCommonCfg.QueueDriverHigh:
        return queue ? this.addressHalf(queue.driver, offset === VirtioCommonCfg.QueueDriverHigh) : 0;
      case VirtioCommonCfg.QueueDeviceLow:
      case VirtioCommonCfg.QueueDeviceHigh:
        return queue ? this.addressHalf(queue.device, offset === VirtioCommonCfg.QueueDeviceHigh) : 0;
      default:
        return 0;
    }
  }

  private commonWrite(offset: number, size: AccessSize, value: number): void {
    switch (offset) {
      case VirtioCommonCfg.DeviceFeatureSelect:
        this.deviceFeatureSelect = value >>> 0;
        return;
      case VirtioCommonCfg.DriverFeatureSelect:
        this.driverFeatureSelect = value >>> 0;
        return;
      case VirtioCommonCfg.DriverFeature:
        this.writeDriverFeatureWord(this.driverFeatureSelect, value >>> 0);
        return;
      case VirtioCommonCfg.ConfigMsixVector:
        this.configMsixVector = this.checkedVector(value & 0xffff);
        return;
      case VirtioCommonCfg.DeviceStatus:
        if (size === 1) this.writeStatus(value, false);
        else this.log(`${size}-byte write to device_status ignored`);
        return;
      case VirtioCommonCfg.QueueSelect:
        this.queueSelect = value & 0xffff;
        return;
      case VirtioCommonCfg.QueueMsixVector: {
        const queue = this.selectedQueue();
        if (queue) queue.msixVector = this.checkedVector(value & 0xffff);
        return;
      }
      case VirtioCommonCfg.QueueSize:
      case VirtioCommonCfg.QueueEnable:
      case VirtioCommonCfg.QueueDescLow:
      case VirtioCommonCfg.QueueDescHigh:
      case VirtioCommonCfg.QueueDriverLow:
      case VirtioCommonCfg.QueueDriverHigh:
      case VirtioCommonCfg.QueueDeviceLow:
      case VirtioCommonCfg.QueueDeviceHigh:
        this.writeQueueSetup(offset, value >>> 0);
        return;
      default:
        this.log(`write of ${hex(value)} to read-only or unknown common config offset ${hex(offset)} ignored`);
    }
  }

  /** Queue setup registers: only before DRIVER_OK, only for an existing, not yet enabled queue. */
  private writeQueueSetup(offset: VirtioCommonCfg, value: number): void {
    const queue = this.selectedQueue();
    if (!queue) {
      this.log(`queue setup write to missing queue ${this.queueSelect} ignored`);
      return;
    }
    if (this.activated || (queue.enabled && offset !== VirtioCommonCfg.QueueEnable)) {
      this.log(`queue ${this.queueSelect} setup write at ${hex(offset)} after the queue was enabled ignored`);
      return;
    }
    switch (offset) {
      case VirtioCommonCfg.QueueSize:
        this.writeQueueSize(queue, value & 0xffff);
        return;
      case VirtioCommonCfg.QueueEnable:
        if ((value & 0xffff) === 1) queue.enabled = true;
        else this.log(`queue ${this.queueSelect}: queue_enable write of ${value} ignored (only 1 is allowed)`);
        return;
      case VirtioCommonCfg.QueueDescLow:
      case VirtioCommonCfg.QueueDescHigh:
        queue.desc = this.withAddressHalf(queue.desc, offset === VirtioCommonCfg.QueueDescHigh, value);
        return;
      case VirtioCommonCfg.QueueDriverLow:
      case VirtioCommonCfg.QueueDriverHigh:
        queue.driver = this.withAddressHalf(queue.driver, offset === VirtioCommonCfg.QueueDriverHigh, value);
        return;
      default:
        queue.device = this.withAddressHalf(queue.device, offset === VirtioCommonCfg.QueueDeviceHigh, value);
    }
  }

  private writeQueueSize(queue: QueueConfig, size: number): void {
    const max = this.device.queueMaxSize(this.queueSelect);
    if (!isPowerOfTwo(size) || size > max) {
      this.log(`queue ${this.queueSelect}: queue_size ${size} is not a power of two up to ${max}; ignored`);
      return;
    }
    queue.size = size;
  }

  private notifyWrite(offset: number): void {
    if (offset % VirtioPciLayout.NotifyOffMultiplier !== 0) {
      this.log(`notify write at unaligned offset ${hex(offset)} ignored`);
      return;
    }
    this.notifyQueue(offset / VirtioPciLayout.NotifyOffMultiplier);
  }

  // ---- Legacy interface (BAR0) -----------------------------------------------------------------

  private legacyRead(offset: number, size: AccessSize): number {
    const configStart = this.legacyConfigStart();
    if (offset >= configStart) return this.deviceConfigRead(offset - configStart, size);
    const queue = this.selectedQueue();
    switch (offset) {
      case VirtioLegacyReg.HostFeatures:
        return Number(this.offeredFeatures & LOW_32);
      case VirtioLegacyReg.GuestFeatures:
        return Number(this.driverFeatures & LOW_32);
      case VirtioLegacyReg.QueuePfn:
        return queue?.enabled ? Math.floor(queue.desc / 4096) : 0;
      case VirtioLegacyReg.QueueSize:
        return queue ? this.device.queueMaxSize(this.queueSelect) : 0;
      case VirtioLegacyReg.QueueSelect:
        return this.queueSelect;
      case VirtioLegacyReg.DeviceStatus:
        return this.status;
      case VirtioLegacyReg.IsrStatus:
        return this.readIsr();
      case VirtioLegacyReg.ConfigMsixVector:
        return this.configMsixVector;
      case VirtioLegacyReg.QueueMsixVector:
        return queue ? queue.msixVector : VIRTIO_MSI_NO_VECTOR;
      default:
        return 0;
    }
  }

  private legacyWrite(offset: number, size: AccessSize, value: number): void {
    const configStart = this.legacyConfigStart();
    if (offset >= configStart) {
      this.deviceConfigWrite(offset - configStart, size, value);
      return;
    }
    switch (offset) {
      case VirtioLegacyReg.GuestFeatures:
        if (this.activated) this.log('legacy guest features write after DRIVER_OK ignored');
        else this.driverFeatures = BigInt(value >>> 0);
        return;
      case VirtioLegacyReg.QueuePfn:
        this.writeLegacyPfn(value >>> 0);
        return;
      case VirtioLegacyReg.QueueSelect:
        this.queueSelect = value & 0xffff;
        return;
      case VirtioLegacyReg.QueueNotify:
        this.notifyQueue(value & 0xffff);
        return;
      case VirtioLegacyReg.DeviceStatus:
        this.writeStatus(value & 0xff, true);
        return;
      case VirtioLegacyReg.ConfigMsixVector:
        this.configMsixVector = this.checkedVector(value & 0xffff);
        return;
      case VirtioLegacyReg.QueueMsixVector: {
        const queue = this.selectedQueue();
        if (queue) queue.msixVector = this.checkedVector(value & 0xffff);
        return;
      }
      default:
        this.log(`legacy write of ${hex(value)} to read-only or unknown register ${hex(offset)} ignored`);
    }
  }

  /** Legacy queue address: PFN 0 disables, else the legacy layout at PFN * 4096 with the maximum size. */
  private writeLegacyPfn(pfn: number): void {
    const queue = this.selectedQueue();
    if (!queue || this.activated) {
      this.log(`legacy queue PFN write for queue ${this.queueSelect} ignored`);
      return;
    }
    if (pfn === 0) {
      queue.enabled = false;
      queue.desc = queue.driver = queue.device = 0;
      return;
    }
    queue.size = this.device.queueMaxSize(this.queueSelect);
    const addresses = legacyRingAddresses(pfn, queue.size);
    queue.desc = addresses.desc;
    queue.driver = addresses.driver;
    queue.device = addresses.device;
    queue.enabled = true;
  }

  private legacyConfigStart(): number {
    return this.context?.msixEnabled() ? VirtioLegacyReg.DeviceConfigMsix : VirtioLegacyReg.DeviceConfig;
  }

  // ---- Shared register semantics -----------------------------------------------------------------

  private selectedQueue(): QueueConfig | undefined {
    return this.queueConfigs[this.queueSelect];
  }

  private featureWord(features: bigint, select: number): number {
    if (select > 1) return 0;
    return Number((features >> BigInt(32 * select)) & LOW_32);
  }

  private writeDriverFeatureWord(select: number, value: number): void {
    if (this.activated || (this.status & VirtioStatus.FeaturesOk) !== 0) {
      this.log('driver_feature write after FEATURES_OK ignored');
      return;
    }
    if (select > 1) {
      if (value !== 0) this.unknownFeatureAccepted = true;
      return;
    }
    const shift = BigInt(32 * select);
    this.driverFeatures = (this.driverFeatures & ~(LOW_32 << shift)) | (BigInt(value) << shift);
  }

  private addressHalf(address: number, high: boolean): number {
    return high ? Math.floor(address / 0x1_0000_0000) : address % 0x1_0000_0000;
  }

  private withAddressHalf(address: number, high: boolean, value: number): number {
    const low = address % 0x1_0000_0000;
    const upper = Math.floor(address / 0x1_0000_0000);
    // Addresses above 2^52 cannot be guest RAM on this board; keep them representable (and invalid).
    return high ? (value & 0xfffff) * 0x1_0000_0000 + low : upper * 0x1_0000_0000 + value;
  }

  /** A vector register write: out-of-range vectors read back as NO_VECTOR (§4.1.5.1.2). */
  private checkedVector(vector: number): number {
    if (vector === VIRTIO_MSI_NO_VECTOR || vector < this.msixVectors) return vector;
    this.log(`MSI-X vector ${vector} out of range (${this.msixVectors} vectors); set to NO_VECTOR`);
    return VIRTIO_MSI_NO_VECTOR;
  }

  private deviceConfigRead(offset: number, size: AccessSize): number {
    if (offset + size > this.device.configSize) return 0;
    return this.device.configRead(offset, size);
  }

  private deviceConfigWrite(offset: number, size: AccessSize, value: number): void {
    if (offset + size > this.device.configSize) {
      this.log(`device config write past its ${this.device.configSize} bytes at ${hex(offset)} ignored`);
      return;
    }
    this.device.configWrite(offset, size, value);
  }

  private readIsr(): number {
    const value = this.isr;
    this.isr = 0;
    this.updateIntx();
    return value;
  }

  /** Device status write (§2.1, §3.1.1): 0 resets; FEATURES_OK is checked; DRIVER_OK activates. */
  private writeStatus(value: number, viaLegacy: boolean): void {
    value &= 0xff;
    if (value === 0) {
      this.resetDevice();
      return;
    }
    this.legacyDriver = viaLegacy;
    const newlySet = value & ~this.status;
    let next = (value & ~VirtioStatus.DeviceNeedsReset) | (this.status & VirtioStatus.DeviceNeedsReset);
    // FEATURES_OK is a modern-interface handshake; legacy drivers never had it.
    if ((newlySet & VirtioStatus.FeaturesOk) !== 0 && !viaLegacy && !this.featuresAcceptable()) next &= ~VirtioStatus.FeaturesOk;
    this.status = next;
    if ((newlySet & VirtioStatus.DriverOk) !== 0 && !this.activated && !this.broken) this.activateDevice();
  }

  /** FEATURES_OK may be set: a subset of the offered features, including VERSION_1. */
  private featuresAcceptable(): boolean {
    const unoffered = this.driverFeatures & ~this.offeredFeatures;
    if (unoffered !== 0n || this.unknownFeatureAccepted) {
      this.log(`FEATURES_OK refused: driver accepted features not offered (${hex(Number(unoffered & LOW_32))}/${hex(Number(unoffered >> 32n))})`);
      return false;
    }
    if ((this.driverFeatures & featureBit(VirtioFeatureBit.Version1)) === 0n) {
      this.log('FEATURES_OK refused: VERSION_1 not accepted on the modern interface');
      return false;
    }
    return true;
  }

  private activateDevice(): void {
    if (!this.legacyDriver && (this.status & VirtioStatus.FeaturesOk) === 0) {
      this.log('DRIVER_OK without FEATURES_OK: device not started');
      return;
    }
    if (this.legacyDriver && (this.driverFeatures & ~this.offeredFeatures & LOW_32) !== 0n) {
      this.log(`legacy driver accepted unoffered features ${hex(Number(this.driverFeatures & ~this.offeredFeatures & LOW_32))}; masked`);
    }
    const features = this.negotiatedFeatures();
    const queues: (SplitVirtqueue | null)[] = [];
    try {
      for (let i = 0; i < this.queueConfigs.length; i++) queues.push(this.makeQueue(i, this.queueConfigs[i], features, undefined));
    } catch (error) {
      this.fail(errorMessage(error));
      return;
    }
    this.liveQueues = queues;
    this.activated = true;
    try {
      this.device.activate(features, queues, this.host);
    } catch (error) {
      this.fail(`activation failed: ${errorMessage(error)}`);
    }
  }

  /** A live queue for queue `index` if enabled (throws VirtqueueError for a bad placement). */
  private makeQueue(index: number, config: QueueConfig, features: bigint, counters: VirtqueueCounters | undefined): SplitVirtqueue | null {
    if (!config.enabled) return null;
    if (!this.context) throw new Error('not attached to a PCI bus');
    return new SplitVirtqueue({
      memory: this.context.memory,
      index,
      size: config.size,
      desc: config.desc,
      driver: config.driver,
      device: config.device,
      eventIndex: (features & featureBit(VirtioFeatureBit.EventIndex)) !== 0n,
      indirect: (features & featureBit(VirtioFeatureBit.IndirectDescriptors)) !== 0n,
      interrupt: () => this.queueInterrupt(index),
      deviceName: this.name,
      dmaAllowed: () => this.dmaAllowed(),
      counters,
    });
  }

  private dmaAllowed(): boolean {
    return this.busMaster && !this.broken;
  }

  /** Driver notification for queue `index`: hand it to the device; ring errors fail the device. */
  private notifyQueue(index: number): void {
    if (index >= this.queueConfigs.length) {
      this.log(`notification for missing queue ${index} ignored`);
      return;
    }
    if (!this.activated || this.broken || !this.busMaster) return;
    if (!this.liveQueues[index]) {
      this.log(`notification for disabled queue ${index} ignored`);
      return;
    }
    try {
      this.device.queueNotify(index);
    } catch (error) {
      this.fail(errorMessage(error));
    }
  }

  /** Bus mastering came back: let the device look at every live queue again. */
  private renotifyQueues(): void {
    for (let i = 0; i < this.liveQueues.length; i++) if (this.liveQueues[i]) this.notifyQueue(i);
  }

  /** Device reset (status 0 or bus reset): device, queues, features, interrupts back to initial values. */
  private resetDevice(): void {
    this.device.reset();
    this.status = 0;
    this.deviceFeatureSelect = 0;
    this.driverFeatureSelect = 0;
    this.driverFeatures = 0n;
    this.unknownFeatureAccepted = false;
    this.configMsixVector = VIRTIO_MSI_NO_VECTOR;
    this.queueSelect = 0;
    this.isr = 0;
    this.legacyDriver = false;
    this.activated = false;
    this.broken = false;
    this.liveQueues = [];
    for (let i = 0; i < this.queueConfigs.length; i++) this.queueConfigs[i] = this.initialQueueConfig(i);
    this.updateIntx();
  }

  // ---- Interrupts and host callbacks ---------------------------------------------------------------

  private queueInterrupt(index: number): void {
    const context = this.context;
    if (!context) return;
    if (context.msixEnabled()) {
      const vector = this.queueConfigs[index].msixVector;
      if (vector !== VIRTIO_MSI_NO_VECTOR) context.signalMsix(vector);
      return;
    }
    this.isr |= VirtioIsr.Queue;
    this.updateIntx();
  }

  private configInterrupt(): void {
    this.isr |= VirtioIsr.ConfigChange;
    const context = this.context;
    if (context?.msixEnabled()) {
      if (this.configMsixVector !== VIRTIO_MSI_NO_VECTOR) context.signalMsix(this.configMsixVector);
      return;
    }
    this.updateIntx();
  }

  private updateIntx(): void {
    const context = this.context;
    if (!context) return;
    context.setIntx(this.isr !== 0 && !context.msixEnabled());
  }

  private configChanged(): void {
    this.configGeneration = (this.configGeneration + 1) & 0xff;
    if ((this.status & VirtioStatus.DriverOk) !== 0) this.configInterrupt();
  }

  /** The device cannot go on: DEVICE_NEEDS_RESET, no more processing, a configuration interrupt. */
  private fail(reason: string): void {
    this.log(`device needs reset: ${reason}`);
    if (this.broken) return;
    this.broken = true;
    this.status |= VirtioStatus.DeviceNeedsReset;
    if ((this.status & VirtioStatus.DriverOk) !== 0) this.configInterrupt();
  }

  private log(message: string): void {
    this.logSink(`${this.name}: ${message}`);
  }

  /** The PCI configuration access window (§4.1.4.9): one access of `length` bytes at `offset` of BAR `bar`. */
  private barWindowAccess(bar: number, offset: number, length: number, value: number | null): number {
    if ((length !== 1 && length !== 2 && length !== 4) || offset % length !== 0) {
      this.log(`PCI cfg access window with length ${length} at offset ${hex(offset)} ignored`);
      return 0;
    }
    const size = length as AccessSize;
    const definition = this.bars.find((b) => b.index === bar);
    if (!definition || offset + size > definition.size) return 0;
    if (value === null) {
      return definition.kind === 'io' ? definition.handler.ioRead(offset, size) : definition.handler.mmioRead(offset, size);
    }
    const masked = size === 4 ? value >>> 0 : value & ((1 << (8 * size)) - 1);
    if (definition.kind === 'io') definition.handler.ioWrite(offset, size, masked);
    else definition.handler.mmioWrite(offset, size, masked);
    return 0;
  }

  // ---- Persist helpers ------------------------------------------------------------------------------

  private saveQueue(config: QueueConfig, index: number): VirtioPciQueueState {
    const live = this.liveQueues[index];
    const counters = live ? live.counters() : { lastAvailIndex: 0, usedIndex: 0, signalledUsedIndex: 0 };
    return { ...config, ...counters };
  }

  private validateState(state: unknown): VirtioPciState {
    const id = this.persistId;
    const reader = new StateReader(id, state);
    const version = reader.version([STATE_VERSION]);
    const queuesField = (state as Record<string, unknown>).queues;
    if (!Array.isArray(queuesField) || queuesField.length !== this.queueConfigs.length) {
      throw new StateError(id, 'queues', `expected an array of ${this.queueConfigs.length} queue records`);
    }
    const queues = queuesField.map((queue: unknown, index) => this.validateQueue(new StateReader(id, queue, `queues[${index}].`), index));
    if (!('device' in (state as Record<string, unknown>))) throw new StateError(id, 'device', 'missing');
    const valid: VirtioPciState = {
      version,
      status: reader.int('status', 0, 0xff),
      deviceFeatureSelect: reader.int('deviceFeatureSelect', 0, 0xffffffff),
      driverFeatureSelect: reader.int('driverFeatureSelect', 0, 0xffffffff),
      driverFeaturesLow: reader.int('driverFeaturesLow', 0, 0xffffffff),
      driverFeaturesHigh: reader.int('driverFeaturesHigh', 0, 0xffffffff),
      unknownFeatureAccepted: reader.bool('unknownFeatureAccepted'),
      configMsixVector: this.validVector(reader.int('configMsixVector', 0, 0xffff), 'configMsixVector'),
      queueSelect: reader.int('queueSelect', 0, 0xffff),
      isr: reader.int('isr', 0, VirtioIsr.Queue | VirtioIsr.ConfigChange),
      configGeneration: reader.int('configGeneration', 0, 0xff),
      legacyDriver: reader.bool('legacyDriver'),
      activated: reader.bool('activated'),
      broken: reader.bool('broken'),
      queues,
      device: (state as Record<string, unknown>).device,
    };
    if (valid.broken !== ((valid.status & VirtioStatus.DeviceNeedsReset) !== 0)) {
      throw new StateError(id, 'broken', 'disagrees with DEVICE_NEEDS_RESET in status');
    }
    if (valid.activated && (valid.status & VirtioStatus.DriverOk) === 0) {
      throw new StateError(id, 'activated', 'set without DRIVER_OK in status');
    }
    return valid;
  }

  private validateQueue(q: StateReader, index: number): VirtioPciQueueState {
    const max = this.device.queueMaxSize(index);
    const size = q.int('size', 1, max);
    if (!isPowerOfTwo(size)) throw new StateError(this.persistId, `queues[${index}].size`, `${size} is not a power of two`);
    return {
      size,
      msixVector: this.validVector(q.int('msixVector', 0, 0xffff), `queues[${index}].msixVector`),
      enabled: q.bool('enabled'),
      desc: q.int('desc', 0, Number.MAX_SAFE_INTEGER),
      driver: q.int('driver', 0, Number.MAX_SAFE_INTEGER),
      device: q.int('device', 0, Number.MAX_SAFE_INTEGER),
      lastAvailIndex: q.int('lastAvailIndex', 0, 0xffff),
      usedIndex: q.int('usedIndex', 0, 0xffff),
      signalledUsedIndex: q.int('signalledUsedIndex', 0, 0xffff),
    };
  }

  private validVector(vector: number, field: string): number {
    if (vector !== VIRTIO_MSI_NO_VECTOR && vector >= this.msixVectors) {
      throw new StateError(this.persistId, field, `vector ${vector} outside the ${this.msixVectors}-entry MSI-X table`);
    }
    return vector;
  }

  /** Live queues for a validated activated state (placement errors become StateError; nothing changes). */
  private buildRestoredQueues(valid: VirtioPciState): (SplitVirtqueue | null)[] {
    if (!this.context) throw new StateError(this.persistId, 'activated', 'cannot restore an active device before it is attached to a PCI bus');
    const features = (BigInt(valid.driverFeaturesHigh) << 32n) | BigInt(valid.driverFeaturesLow);
    const negotiated = (valid.legacyDriver ? features & LOW_32 : features) & this.offeredFeatures;
    try {
      return valid.queues.map((queue, index) => this.makeQueue(index, { ...queue }, negotiated, queue));
    } catch (error) {
      throw new StateError(this.persistId, 'queues', errorMessage(error));
    }
  }
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
