// Test harness for the virtio-pci transport: a recording PciFunctionContext, a scriptable
// fake VirtioDevice, and small drivers that program the modern (BAR4) and legacy (BAR0)
// interfaces the way a guest driver does.
import type { AccessSize, IoDevice } from '../../../../src/bus/io-bus.js';
import type { MmioDevice } from '../../../../src/bus/mmio-bus.js';
import { PciCommand, type PciFunctionContext } from '../../../../src/bus/pci/pci-function.js';
import type { GuestMemory } from '../../../../src/memory/guest-memory.js';
import { StateReader } from '../../../../src/persist/persist.js';
import {
  type Virtqueue,
  type VirtioDevice,
  type VirtioDeviceHost,
  VirtioDeviceType,
  VirtioFeatureBit,
  featureBit,
} from '../../../../src/virtio/virtio-device.js';
import { VirtioCommonCfg, VirtioPciFunction, VirtioPciLayout, VirtioStatus, type VirtioPciOptions } from '../../../../src/virtio/pci/virtio-pci.js';
import type { MockDriver } from '../virtqueue-driver.js';

/** Records what the function does to its bus. */
export class RecordingContext implements PciFunctionContext {
  commandValue = PciCommand.IoSpace | PciCommand.MemorySpace | PciCommand.BusMaster;
  intx = false;
  intxChanges: boolean[] = [];
  msixOn = false;
  msixVectors = 0;
  msixSignals: number[] = [];

  constructor(readonly memory: GuestMemory) {}

  command(): number {
    return this.commandValue;
  }

  setIntx(level: boolean): void {
    if (level !== this.intx) this.intxChanges.push(level);
    this.intx = level;
  }

  msixEnabled(): boolean {
    return this.msixOn;
  }

  signalMsix(vector: number): boolean {
    if (!this.msixOn || vector >= this.msixVectors) return false;
    this.msixSignals.push(vector);
    return true;
  }
}

/** A VirtioDevice whose behaviour a test scripts; records every transport call. */
export class FakeDevice implements VirtioDevice {
  readonly persistId: string;
  readonly deviceFeatures: bigint;
  readonly configSize = 8;
  readonly config = new Uint8Array(8);
  activations: Array<{ features: bigint; queues: readonly (Virtqueue | null)[] }> = [];
  notifications: number[] = [];
  resets = 0;
  host: VirtioDeviceHost | null = null;
  queues: readonly (Virtqueue | null)[] = [];
  /** What a notification does (default: record only). */
  onNotify: (index: number, device: FakeDevice) => void = () => {};
  /** Device state for Persist. */
  counter = 0;

  constructor(
    readonly name = 'fake0',
    readonly deviceType: VirtioDeviceType = VirtioDeviceType.Block,
    readonly queueCount = 2,
    extraFeatures = 0n,
  ) {
    this.persistId = name;
    this.deviceFeatures =
      featureBit(VirtioFeatureBit.Version1) | featureBit(VirtioFeatureBit.EventIndex) | featureBit(VirtioFeatureBit.IndirectDescriptors) | featureBit(5) | extraFeatures;
    this.config.set([0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88]);
  }

  queueMaxSize(index: number): number {
    return index === 0 ? 16 : 8;
  }

  configRead(offset: number, size: 1 | 2 | 4): number {
    let value = 0;
    for (let i = 0; i < size; i++) value |= this.config[offset + i] << (8 * i);
    return value >>> 0;
  }

  configWrite(offset: number, size: 1 | 2 | 4, value: number): void {
    for (let i = 0; i < size; i++) this.config[offset + i] = (value >>> (8 * i)) & 0xff;
  }

  activate(features: bigint, queues: readonly (Virtqueue | null)[], host: VirtioDeviceHost): void {
    this.activations.push({ features, queues });
    this.queues = queues;
    this.host = host;
  }

  queueNotify(index: number): void {
    this.notifications.push(index);
    this.onNotify(index, this);
  }

  reset(): void {
    this.resets++;
    this.queues = [];
    this.host = null;
  }

  save() {
    return { version: 1, counter: this.counter };
  }

  restore(state: unknown): void {
    const reader = new StateReader(this.persistId, state);
    reader.version([1]);
    this.counter = reader.int('counter', 0, 1000);
  }
}

/** A transport around `device`, attached to a recording context over `memory`. */
export function plug(device: VirtioDevice, memory: GuestMemory, options: Omit<VirtioPciOptions, 'device'> = {}) {
  const logs: string[] = [];
  const fn = new VirtioPciFunction({ device, log: (m) => logs.push(m), ...options });
  const context = new RecordingContext(memory);
  context.msixVectors = fn.msixVectors;
  fn.attach(context);
  const modernBar = fn.bars.find((b) => b.index === VirtioPciLayout.ModernBar)!;
  const legacyBar = fn.bars.find((b) => b.index === VirtioPciLayout.LegacyBar);
  const modern = modernBar.handler as MmioDevice;
  const legacy = legacyBar?.handler as IoDevice | undefined;
  return { fn, context, logs, modern: new ModernDriver(modern), legacy: legacy ? new LegacyPort(legacy) : undefined };
}

/** Register access to BAR4 plus the steps of the modern driver initialisation (§3.1.1). */
export class ModernDriver {
  constructor(readonly bar: MmioDevice) {}

  read(offset: number, size: AccessSize): number {
    return this.bar.mmioRead(offset, size);
  }

  write(offset: number, size: AccessSize, value: number): void {
    this.bar.mmioWrite(offset, size, value);
  }

  status(): number {
    return this.read(VirtioCommonCfg.DeviceStatus, 1);
  }

  setStatus(value: number): void {
    this.write(VirtioCommonCfg.DeviceStatus, 1, value);
  }

  deviceFeatures(): bigint {
    this.write(VirtioCommonCfg.DeviceFeatureSelect, 4, 0);
    const low = BigInt(this.read(VirtioCommonCfg.DeviceFeature, 4));
    this.write(VirtioCommonCfg.DeviceFeatureSelect, 4, 1);
    const high = BigInt(this.read(VirtioCommonCfg.DeviceFeature, 4));
    return (high << 32n) | low;
  }

  writeDriverFeatures(features: bigint): void {
    this.write(VirtioCommonCfg.DriverFeatureSelect, 4, 0);
    this.write(VirtioCommonCfg.DriverFeature, 4, Number(features & 0xffffffffn));
    this.write(VirtioCommonCfg.DriverFeatureSelect, 4, 1);
    this.write(VirtioCommonCfg.DriverFeature, 4, Number(features >> 32n));
  }

  /** ACKNOWLEDGE, DRIVER, features, FEATURES_OK; returns whether FEATURES_OK stuck. */
  negotiate(features: bigint): boolean {
    this.setStatus(0);
    this.setStatus(VirtioStatus.Acknowledge);
    this.setStatus(VirtioStatus.Acknowledge | VirtioStatus.Driver);
    this.writeDriverFeatures(features);
    this.setStatus(VirtioStatus.Acknowledge | VirtioStatus.Driver | VirtioStatus.FeaturesOk);
    return (this.status() & VirtioStatus.FeaturesOk) !== 0;
  }

  /** Program queue `index` with a mock driver's ring addresses and size, and enable it. */
  setupQueue(index: number, ring: MockDriver, msixVector?: number): void {
    this.write(VirtioCommonCfg.QueueSelect, 2, index);
    this.write(VirtioCommonCfg.QueueSize, 2, ring.size);
    this.write(VirtioCommonCfg.QueueDescLow, 4, ring.desc);
    this.write(VirtioCommonCfg.QueueDescHigh, 4, 0);
    this.write(VirtioCommonCfg.QueueDriverLow, 4, ring.driver);
    this.write(VirtioCommonCfg.QueueDriverHigh, 4, 0);
    this.write(VirtioCommonCfg.QueueDeviceLow, 4, ring.device);
    this.write(VirtioCommonCfg.QueueDeviceHigh, 4, 0);
    if (msixVector !== undefined) this.write(VirtioCommonCfg.QueueMsixVector, 2, msixVector);
    this.write(VirtioCommonCfg.QueueEnable, 2, 1);
  }

  driverOk(): void {
    this.setStatus(VirtioStatus.Acknowledge | VirtioStatus.Driver | VirtioStatus.FeaturesOk | VirtioStatus.DriverOk);
  }

  /** Notify queue `index` (notify_off = index, multiplier 4). */
  kick(index: number): void {
    this.write(VirtioPciLayout.NotifyOffset + 4 * index, 2, index);
  }

  readIsr(): number {
    return this.read(VirtioPciLayout.IsrOffset, 1);
  }
}

/** Register access to the legacy I/O BAR. */
export class LegacyPort {
  constructor(readonly bar: IoDevice) {}

  read(offset: number, size: AccessSize): number {
    return this.bar.ioRead(offset, size);
  }

  write(offset: number, size: AccessSize, value: number): void {
    this.bar.ioWrite(offset, size, value);
  }
}
