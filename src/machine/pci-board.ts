/**
 * The PC board's PCI side: the PCI bus (i440FX host bridge at 00:00.0, PIIX3 ISA bridge at
 * 00:01.0, configuration mechanism #1 at CF8h/CFCh, reset control at CF9h) wired to the
 * platform's interrupt controllers, and the virtio functions a VM config asks for.
 *
 * Interrupts: PIRQA-D go to the 8259 pair through the PIIX3 route registers (the ISA IRQ
 * lines of platform.ts) and to I/O APIC pins 16-19 as active-low levels; MSI-X messages go
 * to the local APIC. The firmware tables describe the same wiring (direct-boot.ts passes
 * `firmwareFunctions()` to the ACPI _PRT and the MP table).
 *
 * Slots, fixed by the config so that a guest sees the same machine on every boot: the
 * virtio console (when configured) in slot 2, then the NICs, then the disks in config order
 * (so Linux names them vda, vdb, ... in that order). Each function is a transitional
 * virtio-pci device (modern and legacy interfaces) with MSI-X.
 *
 * Like a PC BIOS, `firmwareSetup` programs the PIRQ routes, assigns BAR addresses and
 * enables decoding before a directly booted kernel starts; a bus reset (machine reset)
 * returns every function to power-on state first.
 */
import { PciBus, PCI_MMIO_BASE, PCI_MMIO_LIMIT, type PciFunction } from '../bus/pci/index.js';
import type { IoBus } from '../bus/io-bus.js';
import type { MmioBus } from '../bus/mmio-bus.js';
import type { GuestMemory } from '../memory/guest-memory.js';
import type { NetworkPort } from '../net/network-port.js';
import type { BlockBackend } from '../storage/block-backend.js';
import { VirtioBlock } from '../virtio/blk/virtio-blk.js';
import { VirtioConsole } from '../virtio/console/virtio-console.js';
import { VirtioNet } from '../virtio/net/virtio-net.js';
import { VirtioPciFunction } from '../virtio/pci/virtio-pci.js';
import type { VirtioDevice } from '../virtio/virtio-device.js';
import type { Persist } from '../persist/persist.js';
import type { PcPlatform } from './platform.js';

export { PCI_MMIO_BASE, PCI_MMIO_LIMIT };

/** A virtio disk. */
export interface VirtioDiskConfig {
  readonly backend: BlockBackend;
  /** Serial number the guest reads with GET_ID (at most 20 bytes). */
  readonly serial?: string;
}

/** A virtio NIC plugged into a network port (a switch port). */
export interface VirtioNicConfig {
  readonly port: NetworkPort;
  /** MAC address, 6 bytes. */
  readonly mac: Uint8Array;
}

/** The virtio console (hvc0 in Linux). */
export interface VirtioConsoleConfig {
  /** Receives what the guest writes to the console. */
  readonly onOutput: (bytes: Uint8Array) => void;
}

/** The PCI devices of a VM. */
export interface PciDevicesConfig {
  readonly disks?: readonly VirtioDiskConfig[];
  readonly nics?: readonly VirtioNicConfig[];
  readonly console?: VirtioConsoleConfig;
}

/** A plugged function as the firmware tables describe it. */
export interface FirmwarePciFunction {
  readonly device: number;
  /** Interrupt Pin register value (1 = INTA#; 0 = none). */
  readonly interruptPin: number;
}

/** First slot given to configured devices (0 and 1 are the bridges). */
const FIRST_DEVICE_SLOT = 2;
/** Slots 2..31 are free for devices. */
const LAST_DEVICE_SLOT = 31;

/** What the board hands the PCI side. */
export interface PciBoardOptions {
  readonly io: IoBus;
  readonly mmio: MmioBus;
  readonly memory: GuestMemory;
  readonly platform: PcPlatform;
  readonly devices: PciDevicesConfig;
  /** The guest asked for a hard reset through CF9h. */
  readonly onReset: () => void;
  /** Guest mistakes and device failures; default none. */
  readonly log?: (message: string) => void;
}

/** The bus and its functions. */
export class PciBoard {
  readonly bus: PciBus;
  /** The virtio console device, when configured (host input goes to `console.input`). */
  readonly console: VirtioConsole | null = null;
  /** Every plugged device function (slot order). */
  readonly functions: readonly VirtioPciFunction[];
  private readonly plugged: FirmwarePciFunction[] = [];

  constructor(options: PciBoardOptions) {
    const { platform } = options;
    const log = options.log ?? (() => {});
    this.bus = new PciBus({
      io: options.io,
      mmio: options.mmio,
      memory: options.memory,
      msi: platform.lapic,
      setIsaIrq: (irq, level) => platform.isaIrq[irq]!.set(level),
      setIoApicPin: (pin, level) => platform.ioapic.setPin(pin, level),
      onReset: options.onReset,
      log,
    });
    const devices = virtioDevicesOf(options.devices, log);
    this.console = devices.find((d): d is VirtioConsole => d instanceof VirtioConsole) ?? null;
    if (FIRST_DEVICE_SLOT + devices.length - 1 > LAST_DEVICE_SLOT) {
      throw new RangeError(`${devices.length} PCI devices configured; the bus has room for ${LAST_DEVICE_SLOT - FIRST_DEVICE_SLOT + 1}`);
    }
    this.functions = devices.map((device) => new VirtioPciFunction({ device, log }));
    this.functions.forEach((fn, k) => this.plug(fn, FIRST_DEVICE_SLOT + k));
  }

  private plug(fn: PciFunction, device: number): void {
    this.bus.plug(fn, device);
    this.plugged.push({ device, interruptPin: fn.identity.interruptPin });
  }

  /** The plugged functions' slots and INTx pins, for the ACPI _PRT and the MP table. */
  firmwareFunctions(): readonly FirmwarePciFunction[] {
    return this.plugged;
  }

  /** What a BIOS does before the OS: PIRQ routes, BAR addresses, decoding on. */
  firmwareSetup(): void {
    this.bus.assignResources();
  }

  /**
   * Components with saved state, in restore order: the bus first (configuration registers,
   * BARs, MSI-X, PIRQ routes), then each function (a virtio function reads its bus-master
   * bit from the restored command register and re-drives its INTx line).
   */
  persistables(): Persist[] {
    return [this.bus, ...this.functions];
  }

  /** Machine reset: every function to power-on state, BARs unmapped. */
  reset(): void {
    this.bus.reset();
  }
}

/** The virtio devices of `config` in slot order: console, NICs, disks. */
function virtioDevicesOf(config: PciDevicesConfig, log: (message: string) => void): VirtioDevice[] {
  const devices: VirtioDevice[] = [];
  if (config.console) devices.push(new VirtioConsole({ name: 'virtio-console0', onOutput: config.console.onOutput }));
  (config.nics ?? []).forEach((nic, k) => devices.push(new VirtioNet({ name: `virtio-net${k}`, mac: nic.mac, port: nic.port, log })));
  (config.disks ?? []).forEach((disk, k) => devices.push(new VirtioBlock({ name: `virtio-blk${k}`, backend: disk.backend, serial: disk.serial, log })));
  return devices;
}
