// Test doubles for the PCI bus tests: a recording PCI function with one I/O and one memory
// BAR (and optionally MSI-X and vendor capabilities), and a bus harness on real I/O and
// MMIO buses that records the interrupt outputs and MSI messages.
import type { AccessSize, IoDevice } from '../../../../src/bus/io-bus.js';
import { IoBus } from '../../../../src/bus/io-bus.js';
import { type MmioDevice, MmioBus } from '../../../../src/bus/mmio-bus.js';
import type { ApicMessageSink } from '../../../../src/bus/apic-bus.js';
import type { GuestMemory } from '../../../../src/memory/guest-memory.js';
import {
  PciBus,
  type PciBarDefinition,
  type PciCapability,
  type PciFunction,
  type PciFunctionContext,
  type PciIdentity,
  type PciMsixDefinition,
} from '../../../../src/bus/pci/index.js';

/** An I/O or MMIO handler that records accesses and reads back `0x50 + offset` per byte. */
export class RecordingHandler implements IoDevice, MmioDevice {
  readonly reads: { offset: number; size: AccessSize }[] = [];
  readonly writes: { offset: number; size: AccessSize; value: number }[] = [];
  constructor(readonly name: string) {}
  private read(offset: number, size: AccessSize): number {
    this.reads.push({ offset, size });
    let v = 0;
    for (let k = 0; k < size; k++) v |= ((0x50 + offset + k) & 0xff) << (8 * k);
    return v >>> 0;
  }
  ioRead(offset: number, size: AccessSize): number {
    return this.read(offset, size);
  }
  ioWrite(offset: number, size: AccessSize, value: number): void {
    this.writes.push({ offset, size, value });
  }
  mmioRead(offset: number, size: AccessSize): number {
    return this.read(offset, size);
  }
  mmioWrite(offset: number, size: AccessSize, value: number): void {
    this.writes.push({ offset, size, value });
  }
}

/** A vendor capability whose body bytes read `0xC0 + offset` and whose writes are recorded. */
export class RecordingCapability implements PciCapability {
  readonly id = 0x09;
  readonly reads: { offset: number; size: AccessSize }[] = [];
  readonly writes: { offset: number; size: AccessSize; value: number }[] = [];
  constructor(readonly length: number) {}
  read(offset: number, size: AccessSize): number {
    this.reads.push({ offset, size });
    let v = 0;
    for (let k = 0; k < size; k++) v |= ((0xc0 + offset + k) & 0xff) << (8 * k);
    return v >>> 0;
  }
  write(offset: number, size: AccessSize, value: number): void {
    this.writes.push({ offset, size, value });
  }
}

/** Options of a test function. */
export interface TestFunctionOptions {
  readonly name?: string;
  readonly ioSize?: number;
  readonly memorySize?: number;
  readonly prefetchable?: boolean;
  readonly interruptPin?: number;
  readonly capabilities?: PciCapability[];
  /** Adds memory BAR 2 (0x1000) holding the table at 0 and the PBA at 0x800. */
  readonly msixVectors?: number;
}

/** A recording PciFunction: BAR 0 = I/O, BAR 1 = memory, optional BAR 2 for MSI-X. */
export class TestFunction implements PciFunction {
  readonly name: string;
  readonly identity: PciIdentity;
  readonly bars: PciBarDefinition[];
  readonly capabilities: PciCapability[];
  readonly msix?: PciMsixDefinition;
  readonly io: RecordingHandler;
  readonly memory: RecordingHandler;
  readonly msixBar: RecordingHandler;
  context: PciFunctionContext | undefined;
  readonly commandChanges: number[] = [];
  resets = 0;

  constructor(options: TestFunctionOptions = {}) {
    this.name = options.name ?? 'test';
    this.identity = {
      vendorId: 0x1af4,
      deviceId: 0x1041,
      classCode: 0x020000,
      revisionId: 1,
      subsystemVendorId: 0x1af4,
      subsystemId: 0x0001,
      interruptPin: options.interruptPin ?? 1,
    };
    this.io = new RecordingHandler(`${this.name}-io`);
    this.memory = new RecordingHandler(`${this.name}-mem`);
    this.msixBar = new RecordingHandler(`${this.name}-msix`);
    this.bars = [
      { index: 0, kind: 'io', size: options.ioSize ?? 32, handler: this.io },
      { index: 1, kind: 'memory', size: options.memorySize ?? 0x1000, prefetchable: options.prefetchable ?? false, handler: this.memory },
    ];
    this.capabilities = options.capabilities ?? [];
    if (options.msixVectors !== undefined) {
      this.bars.push({ index: 2, kind: 'memory', size: 0x1000, handler: this.msixBar });
      this.msix = { vectors: options.msixVectors, tableBar: 2, tableOffset: 0, pbaBar: 2, pbaOffset: 0x800 };
    }
  }
  attach(context: PciFunctionContext): void {
    this.context = context;
  }
  commandChanged(command: number): void {
    this.commandChanges.push(command);
  }
  reset(): void {
    this.resets++;
  }
}

/** One recorded MSI message. */
export interface Message {
  vector: number;
  delivery: number;
  destinationMode: number;
  destination: number;
  level: boolean;
}

/** A PCI bus on real I/O and MMIO buses, with recorded outputs and config-access helpers. */
export class Harness {
  readonly io = new IoBus();
  readonly mmio = new MmioBus();
  readonly isa: [number, boolean][] = [];
  readonly pins: [number, boolean][] = [];
  readonly messages: Message[] = [];
  readonly logs: string[] = [];
  resets = 0;
  readonly bus: PciBus;

  constructor() {
    const msi: ApicMessageSink = {
      deliverMessage: (vector, delivery, destinationMode, destination, level) => {
        this.messages.push({ vector, delivery, destinationMode, destination, level });
        return true;
      },
    };
    this.bus = new PciBus({
      io: this.io,
      mmio: this.mmio,
      memory: {} as GuestMemory,
      msi,
      setIsaIrq: (irq, level) => this.isa.push([irq, level]),
      setIoApicPin: (pin, level) => this.pins.push([pin, level]),
      onReset: () => this.resets++,
      log: (m) => this.logs.push(m),
    });
  }

  /** Select a register through CONFIG_ADDRESS with the enable bit. */
  select(device: number, fn: number, offset: number, bus = 0): void {
    this.io.write(0xcf8, 4, (0x8000_0000 | (bus << 16) | (device << 11) | (fn << 8) | (offset & 0xfc)) >>> 0);
  }
  /** Read through 0xCF8/0xCFC. */
  read(device: number, fn: number, offset: number, size: AccessSize): number {
    this.select(device, fn, offset);
    return this.io.read(0xcfc + (offset & 3), size);
  }
  /** Write through 0xCF8/0xCFC. */
  write(device: number, fn: number, offset: number, size: AccessSize, value: number): void {
    this.select(device, fn, offset);
    this.io.write(0xcfc + (offset & 3), size, value);
  }
  /** The last level driven on I/O APIC pin `pin`. */
  pinLevel(pin: number): boolean | undefined {
    for (let i = this.pins.length - 1; i >= 0; i--) if (this.pins[i]![0] === pin) return this.pins[i]![1];
    return undefined;
  }
  /** The last level driven on ISA IRQ `irq` (false when never driven). */
  isaLevel(irq: number): boolean {
    for (let i = this.isa.length - 1; i >= 0; i--) if (this.isa[i]![0] === irq) return this.isa[i]![1];
    return false;
  }
}
