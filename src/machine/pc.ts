/**
 * The PC board: builds one VM from a config and wires it together — guest memory on the
 * host's frame pool, the I/O bus, the CPU, and the first devices at their PC addresses:
 * COM1 16550A UART at 0x3F8 on IRQ 4, the isa-debug-exit port at 0xF4, the Bochs/QEMU
 * debug console at 0xE9. Firmware is a ROM image that ends at 1 MiB and is mirrored just
 * below 4 GiB, entered from the reset vector F000:FFF0 as on a real PC.
 *
 * Nothing here is global: two machines in one process share only the frame pool.
 */
import { IoBus } from '../bus/io-bus.js';
import { IrqLine } from '../bus/irq.js';
import { Cpu, RunExit } from '../cpu/cpu.js';
import { DebugConsole, DEBUG_CONSOLE_PORT } from '../devices/debug-console/debug-console.js';
import { DebugExit, DEBUG_EXIT_PORT } from '../devices/debug-exit/debug-exit.js';
import { Uart16550 } from '../devices/uart16550/uart16550.js';
import type { FramePool } from '../memory/frame-pool.js';
import { GuestMemory } from '../memory/guest-memory.js';
import { EventQueue, InputKind } from './event-queue.js';

/** COM1's base port and ISA interrupt. */
export const COM1_PORT = 0x3f8;
export const COM1_IRQ = 4;
/** Largest firmware ROM accepted (the legacy BIOS window is 0xC0000-0xFFFFF). */
export const MAX_ROM_BYTES = 256 * 1024;

const ONE_MIB = 0x100000;
const FOUR_GIB = 0x1_0000_0000;

/** A raw image to place in guest RAM. */
export interface ImageLoad {
  readonly name: string;
  readonly address: number;
  readonly data: Uint8Array;
}

/** What to build. */
export interface PcConfig {
  /** Guest RAM size in bytes (multiple of 4 KiB). */
  readonly memoryBytes: number;
  /** Firmware image, loaded to end at 1 MiB and mirrored below 4 GiB. */
  readonly rom?: { readonly name: string; readonly data: Uint8Array };
  /** Raw images loaded into RAM. */
  readonly loads?: readonly ImageLoad[];
  /** Real-mode start address instead of the reset vector. */
  readonly entry?: { readonly cs: number; readonly ip: number };
  /** Receives every byte the guest sends on COM1. */
  readonly serialOut?: (byte: number) => void;
  /** Receives every line the guest writes to the 0xE9 debug console. */
  readonly debugLog?: (line: string) => void;
  /**
   * What a triple fault (processor shutdown) does: 'stop' (default, like QEMU's
   * -no-reboot: `run()` returns `triple-fault`) or 'reset' (the chipset resets the machine:
   * CPU and devices to their power-on state, RAM kept, counted in `resets`).
   */
  readonly onTripleFault?: 'stop' | 'reset';
}

/** A configuration or image the board cannot use. */
export class MachineConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MachineConfigError';
  }
}

/** Why a machine stopped running. */
export type StopReason =
  | { readonly kind: 'exit'; readonly value: number }
  | { readonly kind: 'halted' }
  | { readonly kind: 'triple-fault' }
  | { readonly kind: 'limit' };

/** One virtual PC. */
export class PcMachine {
  readonly memory: GuestMemory;
  readonly io = new IoBus();
  readonly cpu: Cpu;
  readonly uart: Uart16550;
  readonly com1Irq = new IrqLine('irq4');
  readonly input = new EventQueue();
  private exitValue: number | null = null;

  constructor(pool: FramePool, readonly config: PcConfig) {
    this.memory = new GuestMemory(pool, config.memoryBytes);
    try {
      this.cpu = new Cpu(this.memory, this.io);
      this.uart = new Uart16550({ id: 'uart0', irq: this.com1Irq, transmit: config.serialOut ?? (() => {}) });
      this.io.register(this.uart, COM1_PORT, 8);
      this.io.register(new DebugExit({ onExit: (v) => this.requestExit(v) }), DEBUG_EXIT_PORT, 1);
      this.io.register(new DebugConsole({ log: config.debugLog ?? (() => {}) }), DEBUG_CONSOLE_PORT, 1);
      this.loadImages(config);
    } catch (e) {
      this.memory.dispose();
      throw e;
    }
  }

  private loadImages(config: PcConfig): void {
    if (config.rom) this.loadRom(config.rom.name, config.rom.data);
    for (const load of config.loads ?? []) {
      const end = load.address + load.data.length;
      if (load.address < 0 || end > config.memoryBytes) {
        throw new MachineConfigError(`${load.name}: ${load.data.length} bytes at 0x${load.address.toString(16)} do not fit in ${config.memoryBytes} bytes of RAM`);
      }
      this.memory.writeBytes(load.address, load.data);
    }
    if (config.entry) {
      this.cpu.loadSegmentReal(1, config.entry.cs);
      this.cpu.eip = config.entry.ip;
    }
  }

  private loadRom(name: string, data: Uint8Array): void {
    if (data.length === 0 || data.length % 4096 !== 0 || data.length > MAX_ROM_BYTES) {
      throw new MachineConfigError(`${name}: a ROM image must be a non-empty multiple of 4 KiB up to ${MAX_ROM_BYTES / 1024} KiB (got ${data.length} bytes)`);
    }
    const low = ONE_MIB - data.length;
    if (low < this.config.memoryBytes) this.memory.unmap(low, data.length);
    this.memory.loadRom(low, data);
    this.memory.alias(FOUR_GIB - data.length, low, data.length);
  }

  private requestExit(value: number): void {
    this.exitValue = value;
    this.cpu.requestStop();
  }

  /** Queue serial input, deliverable from instruction count `at` (default: now). */
  sendSerial(bytes: Uint8Array, at = this.cpu.instructionCount): void {
    for (const b of bytes) this.input.push(at, InputKind.SerialByte, b);
  }

  /** Hand due input events to their devices (a byte waits while the UART FIFO is full). */
  private deliverInput(): void {
    const now = this.cpu.instructionCount;
    for (let e = this.input.peekDue(now); e !== null; e = this.input.peekDue(now)) {
      if (e.kind === InputKind.SerialByte && !this.uart.receive(e.value)) return;
      this.input.shift();
    }
  }

  /**
   * Run until the guest exits through the debug port, halts for good, or `maxInstructions`
   * have run. Runs in slices so that input events arrive at their instruction counts.
   */
  run(maxInstructions = Infinity, sliceInstructions = 1 << 20): StopReason {
    const end = this.cpu.instructionCount + maxInstructions;
    for (;;) {
      if (this.exitValue !== null) return { kind: 'exit', value: this.exitValue };
      const now = this.cpu.instructionCount;
      if (now >= end) return { kind: 'limit' };
      this.deliverInput();
      const until = Math.min(end, now + sliceInstructions, Math.max(this.input.nextAt(), now + 1));
      const exit = this.cpu.run(until - now);
      // A PC's chipset turns the shutdown cycle into a reset; by default the board reports
      // it instead, so that the caller sees the guest crashed.
      if (exit === RunExit.TripleFault) {
        if (this.config.onTripleFault !== 'reset') return { kind: 'triple-fault' };
        this.resetAfterShutdown();
      }
      // No interrupt controller is wired yet (it comes with the platform devices), so a
      // halted CPU can never be woken: report it instead of spinning.
      if (exit === RunExit.Halted && this.exitValue === null) return { kind: 'halted' };
    }
  }

  /** Times the machine was reset after a triple fault (`onTripleFault: 'reset'`). */
  resets = 0;

  /** The chipset's answer to a shutdown cycle: CPU and devices to power-on state, RAM kept. */
  private resetAfterShutdown(): void {
    this.resets++;
    this.cpu.reset();
    this.uart.reset();
  }

  /** The value the guest wrote to the debug-exit port, if it has. */
  get exitCode(): number | null {
    return this.exitValue;
  }

  /** Release the machine's memory. */
  dispose(): void {
    this.cpu.dispose();
    this.memory.dispose();
  }
}
