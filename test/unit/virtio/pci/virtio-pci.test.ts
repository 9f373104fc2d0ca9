// virtio-pci transport: identity, BARs and capabilities, feature negotiation, the status
// machine, queue setup (modern and legacy), notifications, ISR/INTx and MSI-X, device
// failure, bus mastering, and Persist.
import { describe, expect, it } from 'vitest';
import { PciCapabilityId, PciCommand } from '../../../../src/bus/pci/pci-function.js';
import { StateError } from '../../../../src/persist/persist.js';
import { VirtioDeviceType, VirtioFeatureBit, VirtqueueError, featureBit } from '../../../../src/virtio/virtio-device.js';
import {
  VIRTIO_MSI_NO_VECTOR,
  VirtioCommonCfg,
  VirtioLegacyReg,
  VirtioPciFunction,
  VirtioPciLayout,
  VirtioPciOptionError,
  VirtioStatus,
} from '../../../../src/virtio/pci/virtio-pci.js';
import { legacyRingAddresses } from '../../../../src/virtio/virtqueue.js';
import { MockDriver, makeMemory } from '../virtqueue-driver.js';
import { FakeDevice, plug } from './harness.js';

const VERSION_1 = featureBit(VirtioFeatureBit.Version1);
const EVENT_IDX = featureBit(VirtioFeatureBit.EventIndex);
const ALL_STATUS = VirtioStatus.Acknowledge | VirtioStatus.Driver | VirtioStatus.FeaturesOk | VirtioStatus.DriverOk;

/** A fake device behind the transport with queue 0 set up from a mock driver and activated. */
function activeRig(options: { features?: bigint; msix?: boolean; vectors?: [number, number] } = {}) {
  const memory = makeMemory();
  const device = new FakeDevice();
  const rig = plug(device, memory);
  const ring = new MockDriver(memory, 8);
  if (options.msix) rig.context.msixOn = true;
  expect(rig.modern.negotiate(options.features ?? VERSION_1)).toBe(true);
  if (options.vectors) rig.modern.write(VirtioCommonCfg.ConfigMsixVector, 2, options.vectors[1]);
  rig.modern.setupQueue(0, ring, options.vectors?.[0]);
  rig.modern.driverOk();
  return { ...rig, device, ring, memory };
}

/** Device behaviour: complete every available chain on the notified queue and notify. */
function completeAll(index: number, device: FakeDevice): void {
  const queue = device.queues[index]!;
  for (let chain = queue.pop(); chain; chain = queue.pop()) queue.push(chain, 0);
  queue.notify();
}

describe('VirtioPciFunction identity and layout', () => {
  it('uses the transitional IDs, class codes and subsystem ID per device type', () => {
    const memory = makeMemory();
    const cases: Array<[VirtioDeviceType, number, number]> = [
      [VirtioDeviceType.Net, 0x1000, 0x020000],
      [VirtioDeviceType.Block, 0x1001, 0x010000],
      [VirtioDeviceType.Console, 0x1003, 0x078000],
    ];
    for (const [type, deviceId, classCode] of cases) {
      const { fn } = plug(new FakeDevice('d', type), memory);
      expect(fn.identity).toMatchObject({ vendorId: 0x1af4, deviceId, classCode, revisionId: 0, subsystemVendorId: 0x1af4, subsystemId: type });
    }
  });

  it('uses 0x1040 + type and revision 1 when modern-only, without a legacy BAR', () => {
    const { fn } = plug(new FakeDevice('d', VirtioDeviceType.Console), makeMemory(), { transitional: false });
    expect(fn.identity.deviceId).toBe(0x1043);
    expect(fn.identity.revisionId).toBe(1);
    expect(fn.bars.map((b) => b.index)).toEqual([1, 4]);
  });

  it('has a legacy I/O BAR, an MSI-X BAR and a 16 KiB modern BAR', () => {
    const { fn } = plug(new FakeDevice(), makeMemory());
    expect(fn.bars.map((b) => [b.index, b.kind, b.size])).toEqual([
      [0, 'io', 32],
      [1, 'memory', 4096],
      [4, 'memory', 16384],
    ]);
    expect(fn.msix).toEqual({ vectors: 3, tableBar: 1, tableOffset: 0, pbaBar: 1, pbaOffset: 0x800 });
  });

  it('describes the modern structures with vendor capabilities', () => {
    const { fn } = plug(new FakeDevice(), makeMemory());
    const caps = fn.capabilities.map((cap) => ({
      id: cap.id,
      length: cap.length,
      capLen: cap.read(2, 1),
      cfgType: cap.read(3, 1),
      bar: cap.read(4, 1),
      offset: cap.read(8, 4),
      regionLength: cap.read(12, 4),
    }));
    expect(caps).toEqual([
      { id: PciCapabilityId.VendorSpecific, length: 16, capLen: 16, cfgType: 1, bar: 4, offset: 0x0000, regionLength: 0x40 },
      { id: PciCapabilityId.VendorSpecific, length: 16, capLen: 16, cfgType: 3, bar: 4, offset: 0x1000, regionLength: 1 },
      { id: PciCapabilityId.VendorSpecific, length: 16, capLen: 16, cfgType: 4, bar: 4, offset: 0x2000, regionLength: 8 },
      { id: PciCapabilityId.VendorSpecific, length: 20, capLen: 20, cfgType: 2, bar: 4, offset: 0x3000, regionLength: 8 },
      { id: PciCapabilityId.VendorSpecific, length: 20, capLen: 20, cfgType: 5, bar: 0, offset: 0, regionLength: 0 },
    ]);
    expect(fn.capabilities[3].read(16, 4)).toBe(4);
  });

  it('reaches BAR registers through the PCI configuration access capability', () => {
    const { fn, modern } = plug(new FakeDevice(), makeMemory());
    modern.setStatus(VirtioStatus.Acknowledge);
    const cap = fn.capabilities[4];
    cap.write(4, 1, 4);
    cap.write(8, 4, VirtioCommonCfg.DeviceStatus);
    cap.write(12, 4, 1);
    expect(cap.read(16, 1)).toBe(VirtioStatus.Acknowledge);
    cap.write(16, 1, VirtioStatus.Acknowledge | VirtioStatus.Driver);
    expect(modern.status()).toBe(VirtioStatus.Acknowledge | VirtioStatus.Driver);
  });

  it('rejects bad options with a named error', () => {
    expect(() => new VirtioPciFunction({ device: new FakeDevice(), msixVectors: 500 })).toThrow(VirtioPciOptionError);
    expect(() => new VirtioPciFunction({ device: new FakeDevice(), msixVectors: 500 })).toThrow(/fake0: virtio-pci option 'msixVectors'/);
    expect(() => new VirtioPciFunction({ device: new FakeDevice('x', 9 as VirtioDeviceType) })).toThrow(/device type 9/);
  });
});

describe('VirtioPciFunction feature negotiation and status', () => {
  it('offers the device features in two 32-bit words', () => {
    const { modern } = plug(new FakeDevice(), makeMemory());
    expect(modern.deviceFeatures()).toBe(new FakeDevice().deviceFeatures);
    modern.write(VirtioCommonCfg.DeviceFeatureSelect, 4, 2);
    expect(modern.read(VirtioCommonCfg.DeviceFeature, 4)).toBe(0);
  });

  it('never offers transport features it cannot honour (RING_PACKED)', () => {
    const { modern } = plug(new FakeDevice('p', VirtioDeviceType.Block, 2, featureBit(34)), makeMemory());
    expect(modern.deviceFeatures() & featureBit(34)).toBe(0n);
  });

  it('accepts FEATURES_OK for a subset including VERSION_1 and activates on DRIVER_OK', () => {
    const memory = makeMemory();
    const device = new FakeDevice();
    const { fn, modern } = plug(device, memory);
    expect(modern.negotiate(VERSION_1 | EVENT_IDX)).toBe(true);
    modern.setupQueue(0, new MockDriver(memory, 8));
    modern.driverOk();
    expect(modern.status()).toBe(ALL_STATUS);
    expect(fn.isActive).toBe(true);
    expect(device.activations).toHaveLength(1);
    expect(device.activations[0].features).toBe(VERSION_1 | EVENT_IDX);
    expect(device.activations[0].queues.map((q) => q?.size ?? null)).toEqual([8, null]);
  });

  it('refuses FEATURES_OK without VERSION_1 or with unoffered features, and then never activates', () => {
    const device = new FakeDevice();
    const { fn, modern, logs } = plug(device, makeMemory());
    expect(modern.negotiate(EVENT_IDX)).toBe(false);
    expect(logs.at(-1)).toMatch(/fake0: FEATURES_OK refused: VERSION_1/);
    expect(modern.negotiate(VERSION_1 | featureBit(7))).toBe(false);
    expect(logs.at(-1)).toMatch(/not offered/);
    modern.driverOk();
    expect(fn.isActive).toBe(false);
    expect(device.activations).toHaveLength(0);
  });

  it('reads back the driver features and refuses feature bits above 63', () => {
    const { modern } = plug(new FakeDevice(), makeMemory());
    modern.setStatus(VirtioStatus.Acknowledge | VirtioStatus.Driver);
    modern.writeDriverFeatures(VERSION_1 | featureBit(5));
    modern.write(VirtioCommonCfg.DriverFeatureSelect, 4, 1);
    expect(modern.read(VirtioCommonCfg.DriverFeature, 4)).toBe(1);
    modern.write(VirtioCommonCfg.DriverFeatureSelect, 4, 0);
    expect(modern.read(VirtioCommonCfg.DriverFeature, 4)).toBe(1 << 5);
    modern.write(VirtioCommonCfg.DriverFeatureSelect, 4, 3);
    modern.write(VirtioCommonCfg.DriverFeature, 4, 1);
    modern.setStatus(VirtioStatus.Acknowledge | VirtioStatus.Driver | VirtioStatus.FeaturesOk);
    expect(modern.status() & VirtioStatus.FeaturesOk).toBe(0);
  });

  it('does not activate on DRIVER_OK without FEATURES_OK (modern)', () => {
    const device = new FakeDevice();
    const { fn, modern, logs } = plug(device, makeMemory());
    modern.setStatus(VirtioStatus.Acknowledge | VirtioStatus.Driver | VirtioStatus.DriverOk);
    expect(fn.isActive).toBe(false);
    expect(device.activations).toHaveLength(0);
    expect(logs.at(-1)).toMatch(/DRIVER_OK without FEATURES_OK/);
  });

  it('resets device, queues and registers when status 0 is written', () => {
    const rig = activeRig({ msix: true, vectors: [1, 0] });
    rig.modern.write(VirtioCommonCfg.QueueSelect, 2, 0);
    const resetsBefore = rig.device.resets;
    rig.modern.setStatus(0);
    expect(rig.device.resets).toBe(resetsBefore + 1);
    expect(rig.fn.isActive).toBe(false);
    expect(rig.modern.status()).toBe(0);
    expect(rig.modern.read(VirtioCommonCfg.QueueSize, 2)).toBe(16);
    expect(rig.modern.read(VirtioCommonCfg.QueueEnable, 2)).toBe(0);
    expect(rig.modern.read(VirtioCommonCfg.QueueDescLow, 4)).toBe(0);
    expect(rig.modern.read(VirtioCommonCfg.QueueMsixVector, 2)).toBe(VIRTIO_MSI_NO_VECTOR);
    expect(rig.modern.read(VirtioCommonCfg.ConfigMsixVector, 2)).toBe(VIRTIO_MSI_NO_VECTOR);
    rig.modern.kick(0);
    expect(rig.device.notifications).toEqual([]);
  });
});

describe('VirtioPciFunction bus reset', () => {
  it('returns to power-on state: device reset, status 0, generation 0, INTx low', () => {
    const rig = activeRig();
    rig.device.host!.configChanged();
    expect(rig.context.intx).toBe(true);
    const resetsBefore = rig.device.resets;
    rig.fn.reset();
    expect(rig.device.resets).toBe(resetsBefore + 1);
    expect(rig.modern.status()).toBe(0);
    expect(rig.modern.read(VirtioCommonCfg.ConfigGeneration, 1)).toBe(0);
    expect(rig.context.intx).toBe(false);
    expect(rig.fn.isActive).toBe(false);
  });
});

describe('VirtioPciFunction queue setup (modern)', () => {
  it('reports queue count, per-queue maximum sizes and notify offsets', () => {
    const { modern } = plug(new FakeDevice('q', VirtioDeviceType.Block, 3), makeMemory());
    expect(modern.read(VirtioCommonCfg.NumQueues, 2)).toBe(3);
    const sizes = [0, 1, 2, 3].map((q) => {
      modern.write(VirtioCommonCfg.QueueSelect, 2, q);
      return [modern.read(VirtioCommonCfg.QueueSize, 2), modern.read(VirtioCommonCfg.QueueNotifyOff, 2)];
    });
    expect(sizes).toEqual([[16, 0], [8, 1], [8, 2], [0, 0]]);
  });

  it('takes a smaller power-of-two size and ignores invalid ones', () => {
    const { modern, logs } = plug(new FakeDevice(), makeMemory());
    modern.write(VirtioCommonCfg.QueueSelect, 2, 0);
    modern.write(VirtioCommonCfg.QueueSize, 2, 4);
    expect(modern.read(VirtioCommonCfg.QueueSize, 2)).toBe(4);
    modern.write(VirtioCommonCfg.QueueSize, 2, 6);
    modern.write(VirtioCommonCfg.QueueSize, 2, 32);
    expect(modern.read(VirtioCommonCfg.QueueSize, 2)).toBe(4);
    expect(logs.filter((l) => /queue_size/.test(l))).toHaveLength(2);
  });

  it('stores the three ring addresses as 64-bit halves', () => {
    const { modern } = plug(new FakeDevice(), makeMemory());
    modern.write(VirtioCommonCfg.QueueDescLow, 4, 0x12345000);
    modern.write(VirtioCommonCfg.QueueDescHigh, 4, 0x1);
    modern.write(VirtioCommonCfg.QueueDriverLow, 4, 0x6000);
    modern.write(VirtioCommonCfg.QueueDeviceLow, 4, 0x7000);
    expect(modern.read(VirtioCommonCfg.QueueDescLow, 4)).toBe(0x12345000);
    expect(modern.read(VirtioCommonCfg.QueueDescHigh, 4)).toBe(1);
    expect(modern.read(VirtioCommonCfg.QueueDriverLow, 4)).toBe(0x6000);
    expect(modern.read(VirtioCommonCfg.QueueDeviceLow, 4)).toBe(0x7000);
  });

  it('fails the device when an enabled ring lies outside guest RAM at DRIVER_OK', () => {
    const { fn, modern, logs } = plug(new FakeDevice(), makeMemory());
    modern.negotiate(VERSION_1);
    modern.write(VirtioCommonCfg.QueueDescLow, 4, 0x12345000);
    modern.write(VirtioCommonCfg.QueueDescHigh, 4, 0x1);
    modern.write(VirtioCommonCfg.QueueEnable, 2, 1);
    modern.driverOk();
    expect(fn.needsReset).toBe(true);
    expect(modern.status() & VirtioStatus.DeviceNeedsReset).not.toBe(0);
    expect(logs.at(-1)).toMatch(/fake0: device needs reset: fake0 queue 0: descriptor table at 0x112345000 .* outside guest RAM/);
  });

  it('delivers notifications to the device by queue', () => {
    const rig = activeRig();
    rig.modern.kick(0);
    rig.modern.kick(1); // not enabled
    rig.modern.kick(5); // no such queue
    expect(rig.device.notifications).toEqual([0]);
    expect(rig.logs.some((l) => /disabled queue 1/.test(l))).toBe(true);
    expect(rig.logs.some((l) => /missing queue 5/.test(l))).toBe(true);
  });

  it('delegates device configuration to the device', () => {
    const { modern } = plug(new FakeDevice(), makeMemory());
    expect(modern.read(VirtioPciLayout.DeviceOffset, 4)).toBe(0x44332211);
    expect(modern.read(VirtioPciLayout.DeviceOffset + 6, 2)).toBe(0x8877);
    expect(modern.read(VirtioPciLayout.DeviceOffset + 8, 4)).toBe(0);
    modern.write(VirtioPciLayout.DeviceOffset + 1, 1, 0xab);
    expect(modern.read(VirtioPciLayout.DeviceOffset, 2)).toBe(0xab11);
  });
});

describe('VirtioPciFunction interrupts', () => {
  it('raises ISR bit 0 and INTx for a used buffer; reading the ISR clears both', () => {
    const rig = activeRig();
    rig.device.onNotify = completeAll;
    rig.ring.makeAvailable(rig.ring.addChain([{ address: 0x40000, length: 4 }]));
    rig.modern.kick(0);
    expect(rig.ring.takeUsed()).toEqual([[0, 0]]);
    expect(rig.context.intx).toBe(true);
    expect(rig.modern.readIsr()).toBe(1);
    expect(rig.context.intx).toBe(false);
    expect(rig.modern.readIsr()).toBe(0);
    expect(rig.context.intxChanges).toEqual([true, false]);
  });

  it('signals the queue MSI-X vector instead of INTx when MSI-X is enabled', () => {
    const rig = activeRig({ msix: true, vectors: [2, 0] });
    rig.device.onNotify = completeAll;
    rig.ring.makeAvailable(rig.ring.addChain([{ address: 0x40000, length: 4 }]));
    rig.modern.kick(0);
    expect(rig.context.msixSignals).toEqual([2]);
    expect(rig.context.intx).toBe(false);
    expect(rig.modern.readIsr()).toBe(0);
  });

  it('sends nothing for NO_VECTOR and reads back NO_VECTOR for an out-of-range vector', () => {
    const rig = activeRig({ msix: true, vectors: [VIRTIO_MSI_NO_VECTOR, 0] });
    rig.device.onNotify = completeAll;
    rig.ring.makeAvailable(rig.ring.addChain([{ address: 0x40000, length: 4 }]));
    rig.modern.kick(0);
    expect(rig.context.msixSignals).toEqual([]);
    rig.modern.write(VirtioCommonCfg.QueueSelect, 2, 1);
    rig.modern.write(VirtioCommonCfg.QueueMsixVector, 2, 3);
    expect(rig.modern.read(VirtioCommonCfg.QueueMsixVector, 2)).toBe(VIRTIO_MSI_NO_VECTOR);
    rig.modern.write(VirtioCommonCfg.QueueMsixVector, 2, 1);
    expect(rig.modern.read(VirtioCommonCfg.QueueMsixVector, 2)).toBe(1);
  });

  it('bumps config_generation and raises a configuration interrupt on configChanged', () => {
    const rig = activeRig();
    const before = rig.modern.read(VirtioCommonCfg.ConfigGeneration, 1);
    rig.device.host!.configChanged();
    expect(rig.modern.read(VirtioCommonCfg.ConfigGeneration, 1)).toBe((before + 1) & 0xff);
    expect(rig.context.intx).toBe(true);
    expect(rig.modern.readIsr()).toBe(2);
    expect(rig.context.intx).toBe(false);
  });

  it('uses the configuration MSI-X vector for a configuration change', () => {
    const rig = activeRig({ msix: true, vectors: [1, 2] });
    rig.device.host!.configChanged();
    expect(rig.context.msixSignals).toEqual([2]);
    expect(rig.context.intx).toBe(false);
  });
});

describe('VirtioPciFunction device failure and bus mastering', () => {
  it('turns a corrupt ring into DEVICE_NEEDS_RESET, a log line and a configuration interrupt', () => {
    const rig = activeRig();
    rig.device.onNotify = completeAll;
    rig.ring.setAvailIdx(100);
    expect(() => rig.modern.kick(0)).not.toThrow();
    expect(rig.modern.status()).toBe(ALL_STATUS | VirtioStatus.DeviceNeedsReset);
    expect(rig.logs.at(-1)).toBe('fake0: device needs reset: fake0 queue 0: available index jumped from 0 to 100, more than the queue size 8');
    expect(rig.modern.readIsr()).toBe(2);
    rig.modern.kick(0);
    expect(rig.device.notifications).toEqual([0]);
  });

  it('stops a failed device from popping and keeps DEVICE_NEEDS_RESET against driver writes until reset', () => {
    const rig = activeRig();
    rig.device.host!.fail('disk went away');
    expect(rig.logs.at(-1)).toBe('fake0: device needs reset: disk went away');
    rig.ring.makeAvailable(rig.ring.addChain([{ address: 0x40000, length: 4 }]));
    expect(rig.device.queues[0]!.pop()).toBeNull();
    rig.modern.setStatus(ALL_STATUS);
    expect(rig.modern.status() & VirtioStatus.DeviceNeedsReset).not.toBe(0);
    rig.modern.setStatus(0);
    expect(rig.fn.needsReset).toBe(false);
    expect(rig.modern.status()).toBe(0);
  });

  it('catches a device exception during notify instead of throwing out of the MMIO handler', () => {
    const rig = activeRig();
    rig.device.onNotify = () => {
      throw new VirtqueueError('fake0 queue 0: descriptor 3: nested indirect table');
    };
    expect(() => rig.modern.kick(0)).not.toThrow();
    expect(rig.fn.needsReset).toBe(true);
    expect(rig.logs.at(-1)).toMatch(/descriptor 3: nested indirect table/);
  });

  it('does no DMA while bus mastering is off and re-notifies when it returns', () => {
    const rig = activeRig();
    rig.device.onNotify = completeAll;
    rig.context.commandValue = PciCommand.MemorySpace;
    rig.fn.commandChanged(rig.context.commandValue);
    rig.ring.makeAvailable(rig.ring.addChain([{ address: 0x40000, length: 4 }]));
    rig.modern.kick(0);
    expect(rig.device.notifications).toEqual([]);
    expect(rig.device.queues[0]!.pop()).toBeNull();
    expect(rig.ring.usedIdx()).toBe(0);
    rig.context.commandValue = PciCommand.MemorySpace | PciCommand.BusMaster;
    rig.fn.commandChanged(rig.context.commandValue);
    expect(rig.device.notifications).toEqual([0]);
    expect(rig.ring.usedIdx()).toBe(1);
  });
});

describe('VirtioPciFunction legacy interface', () => {
  it('negotiates 32 feature bits, sets queues up by PFN and activates without VERSION_1', () => {
    const memory = makeMemory();
    const device = new FakeDevice();
    const { fn, legacy } = plug(device, memory);
    const io = legacy!;
    expect(io.read(VirtioLegacyReg.HostFeatures, 4)).toBe(Number(device.deviceFeatures & 0xffffffffn));
    io.write(VirtioLegacyReg.DeviceStatus, 1, VirtioStatus.Acknowledge | VirtioStatus.Driver);
    io.write(VirtioLegacyReg.GuestFeatures, 4, Number(EVENT_IDX));
    io.write(VirtioLegacyReg.QueueSelect, 2, 1);
    expect(io.read(VirtioLegacyReg.QueueSize, 2)).toBe(8);
    io.write(VirtioLegacyReg.QueuePfn, 4, 0x50);
    expect(io.read(VirtioLegacyReg.QueuePfn, 4)).toBe(0x50);
    io.write(VirtioLegacyReg.DeviceStatus, 1, VirtioStatus.Acknowledge | VirtioStatus.Driver | VirtioStatus.DriverOk);
    expect(fn.isActive).toBe(true);
    expect(device.activations[0].features).toBe(EVENT_IDX);
    const queue = device.activations[0].queues[1]!;
    expect(queue.size).toBe(8);
    expect(device.activations[0].queues[0]).toBeNull();

    // The legacy ring layout works end to end.
    const addresses = legacyRingAddresses(0x50, 8);
    const ring = new MockDriver(memory, 8, addresses.desc, addresses.driver, addresses.device);
    device.onNotify = completeAll;
    ring.makeAvailable(ring.addChain([{ address: 0x40000, length: 4 }]));
    io.write(VirtioLegacyReg.QueueNotify, 2, 1);
    expect(ring.takeUsed()).toEqual([[0, 0]]);
    expect(io.read(VirtioLegacyReg.IsrStatus, 1)).toBe(1);
    expect(io.read(VirtioLegacyReg.IsrStatus, 1)).toBe(0);
  });

  it('places device configuration after the MSI-X vector registers only while MSI-X is enabled', () => {
    const { legacy, context } = plug(new FakeDevice(), makeMemory());
    const io = legacy!;
    expect(io.read(0x14, 4)).toBe(0x44332211);
    context.msixOn = true;
    expect(io.read(VirtioLegacyReg.ConfigMsixVector, 2)).toBe(VIRTIO_MSI_NO_VECTOR);
    io.write(VirtioLegacyReg.ConfigMsixVector, 2, 0);
    io.write(VirtioLegacyReg.QueueSelect, 2, 0);
    io.write(VirtioLegacyReg.QueueMsixVector, 2, 1);
    expect(io.read(VirtioLegacyReg.ConfigMsixVector, 2)).toBe(0);
    expect(io.read(VirtioLegacyReg.QueueMsixVector, 2)).toBe(1);
    expect(io.read(0x18, 4)).toBe(0x44332211);
  });

  it('disables a queue when PFN 0 is written', () => {
    const { legacy } = plug(new FakeDevice(), makeMemory());
    legacy!.write(VirtioLegacyReg.QueuePfn, 4, 0x50);
    legacy!.write(VirtioLegacyReg.QueuePfn, 4, 0);
    expect(legacy!.read(VirtioLegacyReg.QueuePfn, 4)).toBe(0);
  });
});

describe('VirtioPciFunction Persist', () => {
  it('round-trips an active device with its ring positions and device state', () => {
    const rig = activeRig({ features: VERSION_1 | EVENT_IDX });
    rig.device.onNotify = completeAll;
    rig.device.counter = 7;
    for (let i = 0; i < 3; i++) rig.ring.makeAvailable(rig.ring.addChain([{ address: 0x40000, length: 4 }]));
    rig.modern.kick(0);
    rig.modern.readIsr();
    const saved = rig.fn.save();

    const device2 = new FakeDevice();
    const rig2 = plug(device2, rig.memory);
    rig2.fn.restore(JSON.parse(JSON.stringify(saved)));
    expect(device2.counter).toBe(7);
    expect(device2.activations).toHaveLength(1);
    expect(device2.activations[0].features).toBe(VERSION_1 | EVENT_IDX);
    expect(rig2.fn.save()).toEqual(saved);
    expect(rig2.modern.status()).toBe(ALL_STATUS);

    // The restored queue carries on where the first one stopped.
    device2.onNotify = completeAll;
    rig.ring.makeAvailable(rig.ring.addChain([{ address: 0x40000, length: 4 }]));
    rig2.modern.kick(0);
    expect(rig.ring.takeUsed().map(([head]) => head)).toEqual([0, 1, 2, 3]);
    expect(rig.ring.usedIdx()).toBe(4);
  });

  it('round-trips an idle function and leaves a restored inactive device reset', () => {
    const rig = activeRig();
    const idle = plug(new FakeDevice(), makeMemory());
    idle.modern.setStatus(VirtioStatus.Acknowledge);
    const saved = idle.fn.save();
    const resetsBefore = rig.device.resets;
    rig.fn.restore(saved);
    expect(rig.fn.isActive).toBe(false);
    expect(rig.device.resets).toBe(resetsBefore + 1);
    expect(rig.fn.save()).toEqual(saved);
  });

  it('rejects corrupted state naming the field and changes nothing', () => {
    const rig = activeRig();
    const good = rig.fn.save();
    const before = JSON.stringify(rig.fn.save());
    const corrupt = (patch: Record<string, unknown>) => ({ ...JSON.parse(JSON.stringify(good)), ...patch });
    const cases: Array<[unknown, RegExp]> = [
      [corrupt({ version: 9 }), /'version'/],
      [corrupt({ status: 300 }), /'status'/],
      [corrupt({ queues: [] }), /'queues'/],
      [corrupt({ broken: true }), /'broken'/],
      [corrupt({ configMsixVector: 50 }), /'configMsixVector'/],
      [corrupt({ device: { version: 1, counter: -1 } }), /fake0: bad saved state field 'counter'/],
      [corrupt({ queues: [{ ...good.queues[0], size: 3 }, good.queues[1]] }), /'queues\[0\]\.size'/],
      [corrupt({ queues: [{ ...good.queues[0], desc: 0x7fff0000 }, good.queues[1]] }), /'queues'.*outside guest RAM/],
      [corrupt({ activated: true, status: VirtioStatus.Acknowledge }), /'activated'/],
      [null, /'\(root\)'/],
    ];
    for (const [state, message] of cases) {
      expect(() => rig.fn.restore(state)).toThrow(StateError);
      expect(() => rig.fn.restore(state)).toThrow(message);
    }
    expect(JSON.stringify(rig.fn.save())).toBe(before);
    expect(rig.device.activations).toHaveLength(1);
  });
});
