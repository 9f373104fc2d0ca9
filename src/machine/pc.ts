/**
 * The PC board: builds one VM from a config and wires it together — guest memory on the
 * host's frame pool, the I/O and MMIO buses, the CPU, the VM clock, the platform's
 * interrupt controllers and timers (platform.ts: 8259A pair, 8254 PIT, RTC/CMOS, i8042,
 * ports 61h/80h/92h, local APIC, I/O APIC), COM1 16550A UART at 0x3F8 on IRQ 4, the
 * isa-debug-exit port at 0xF4 and the Bochs/QEMU debug console at 0xE9, and the PCI bus
 * with the virtio devices of the config (pci-board.ts: host bridge, PIIX3 ISA bridge, virtio
 * console / NICs / disks; its MMIO window is E0000000h-FEBFFFFFh, so RAM ends below it).
 *
 * Two ways to start: firmware (a ROM image that ends at 1 MiB, mirrored below 4 GiB,
 * entered from the reset vector F000:FFF0 as on a real PC), or a kernel booted directly
 * (direct-boot.ts: Linux bzImage or Multiboot, entered in flat 32-bit protected mode with
 * the platform tables in memory, as after a BIOS). A guest-requested reset re-runs the
 * same start path.
 *
 * The run loop plans CPU runs around the clock: it runs no further than the next timer
 * event or queued input, lets due devices act, and when the CPU halts with interrupts
 * enabled it skips guest time forward to the next event (deterministic clock) or reports
 * how long to wait (realtime clock).
 *
 * Nothing here is global: two machines in one process share only the frame pool.
 */
import { IoBus } from '../bus/io-bus.js';
import type { IrqLine } from '../bus/irq.js';
import { MmioBus } from '../bus/mmio-bus.js';
import { Cpu, RunExit } from '../cpu/cpu.js';
import { Flag } from '../cpu/flags.js';
import type { PortIo } from '../cpu/port-io.js';
import { flat32EntryOf } from '../firmware/boot-image.js';
import { DebugConsole, DEBUG_CONSOLE_PORT } from '../devices/debug-console/debug-console.js';
import { DebugExit, DEBUG_EXIT_PORT } from '../devices/debug-exit/debug-exit.js';
import { Uart16550 } from '../devices/uart16550/uart16550.js';
import type { FramePool } from '../memory/frame-pool.js';
import { GuestMemory } from '../memory/guest-memory.js';
import type { Persist } from '../persist/persist.js';
import { buildDirectBoot, type DirectBootConfig } from './direct-boot.js';
import { EventQueue, InputKind } from './event-queue.js';
import { PciBoard, PCI_MMIO_BASE, PCI_MMIO_LIMIT, type PciDevicesConfig } from './pci-board.js';
import {
  BOARD_PERSIST_ID,
  BOARD_STATE_VERSION,
  readBoardState,
  restoreMachineState,
  saveMachineState,
  type BoardState,
  type MachineState,
} from './machine-state.js';
import { PcPlatform } from './platform.js';
import { DEFAULT_NS_PER_TICK, VmClock, type ClockMode } from './vm-clock.js';

/** COM1's base port and ISA interrupt. */
export const COM1_PORT = 0x3f8;
export const COM1_IRQ = 4;
/** Largest firmware ROM accepted (the legacy BIOS window is 0xC0000-0xFFFFF). */
export const MAX_ROM_BYTES = 256 * 1024;

/** Guest time one port I/O access takes (an ISA/LPC bus cycle), in nanoseconds. */
export const ISA_IO_ACCESS_NS = 1000;

/** RTC time at power-on in deterministic mode: 2026-01-01T00:00:00Z. */
export const DEFAULT_RTC_BASE_SECONDS = 1_767_225_600;

/** The chipset's interrupt-controller MMIO window (I/O APIC at its start, local APIC at FEE00000h). */
const APIC_WINDOW_BASE = 0xfec00000;
const APIC_WINDOW_BYTES = 0x400000;

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
  /** A kernel booted directly instead of firmware (Linux bzImage or Multiboot). */
  readonly kernel?: DirectBootConfig;
  /** Guest time: 'deterministic' (default) or 'realtime'; guest ns per instruction (default 10). */
  readonly clock?: { readonly mode?: ClockMode; readonly nsPerInstruction?: number };
  /** Unix seconds the RTC shows at power-on (default DEFAULT_RTC_BASE_SECONDS). */
  readonly rtcBaseTimeSeconds?: number;
  /**
   * What a guest-requested reset (keyboard controller, port 92h) does: 'reset' (default:
   * CPU and devices to power-on state, RAM kept, the start path run again) or 'stop'
   * (`run()` returns `reset`, like QEMU's -no-reboot).
   */
  readonly onReset?: 'reset' | 'stop';
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
  /** Virtio devices on the PCI bus (the bus and its two bridges are always there). */
  readonly pci?: PciDevicesConfig;
  /** Guest mistakes the devices report (bad virtqueues, ignored register writes). */
  readonly deviceLog?: (message: string) => void;
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
  /** HLT with nothing able to wake the CPU (interrupts off, or no timer and no input). */
  | { readonly kind: 'halted' }
  /** Realtime clock only: the CPU idles in HLT; call run() again after `waitMs` or on input. */
  | { readonly kind: 'idle'; readonly waitMs: number }
  | { readonly kind: 'triple-fault' }
  /** The guest asked for a reset (keyboard controller, port 92h, ACPI) and `onReset` is 'stop'. */
  | { readonly kind: 'reset' }
  /** The guest powered the machine off (ACPI S5). */
  | { readonly kind: 'power-off' }
  | { readonly kind: 'limit' };

/** One virtual PC. */
export class PcMachine {
  readonly memory: GuestMemory;
  readonly io = new IoBus();
  readonly mmio = new MmioBus();
  readonly cpu: Cpu;
  readonly clock: VmClock;
  readonly platform: PcPlatform;
  readonly uart: Uart16550;
  /** The 0xE9 debug console (its unfinished line is saved state). */
  private readonly debugConsole: DebugConsole;
  readonly com1Irq: IrqLine;
  readonly pci: PciBoard;
  readonly input = new EventQueue();
  private exitValue: number | null = null;
  /** A reset or power-off the guest asked for, acted on between CPU runs. */
  private pendingChipsetAction: 'reset' | 'power-off' | null = null;

  constructor(pool: FramePool, readonly config: PcConfig) {
    if (config.memoryBytes > PCI_MMIO_BASE) {
      throw new MachineConfigError(`${config.memoryBytes} bytes of RAM reach into the PCI window at 0x${PCI_MMIO_BASE.toString(16)} (at most ${PCI_MMIO_BASE} bytes)`);
    }
    this.memory = new GuestMemory(pool, config.memoryBytes);
    try {
      const nsPerTick = config.clock?.nsPerInstruction ?? DEFAULT_NS_PER_TICK;
      this.cpu = new Cpu(this.memory, this.isaTimedPorts(Math.ceil(ISA_IO_ACCESS_NS / nsPerTick)), { tscTicksPerInstruction: nsPerTick });
      this.clock = new VmClock(this.cpu, config.clock?.mode ?? 'deterministic', nsPerTick);
      this.platform = new PcPlatform({
        io: this.io, mmio: this.mmio, clock: this.clock, memoryBytes: config.memoryBytes,
        rtcBaseTimeSeconds: config.rtcBaseTimeSeconds ?? DEFAULT_RTC_BASE_SECONDS,
        onA20: (enabled) => this.cpu.setA20(enabled),
        onReset: () => this.requestChipsetAction('reset'),
        onPowerOff: () => this.requestChipsetAction('power-off'),
        onInterruptOutput: (level) => this.cpu.setInterruptLine(level),
      });
      this.cpu.interrupts = this.platform.lapic;
      this.cpu.fpu.onFerr = (asserted) => this.platform.fpuError.setFerr(asserted);
      this.cpu.msr.apicBase = this.platform.lapic;
      this.com1Irq = this.platform.isaIrq[COM1_IRQ];
      this.uart = new Uart16550({ id: 'uart0', irq: this.com1Irq, transmit: config.serialOut ?? (() => {}) });
      this.io.register(this.uart, COM1_PORT, 8);
      this.io.register(new DebugExit({ onExit: (v) => this.requestExit(v) }), DEBUG_EXIT_PORT, 1);
      this.debugConsole = new DebugConsole({ log: config.debugLog ?? (() => {}) });
      this.io.register(this.debugConsole, DEBUG_CONSOLE_PORT, 1);
      this.pci = new PciBoard({
        io: this.io, mmio: this.mmio, memory: this.memory, platform: this.platform, devices: config.pci ?? {},
        onReset: () => this.requestChipsetAction('reset'),
        log: config.deviceLog,
      });
      this.mapMmioWindows();
      this.loadImages(config);
      this.start();
    } catch (e) {
      this.memory.dispose();
      throw e;
    }
  }

  /**
   * The CPU's view of the port bus: every IN/OUT also lets `ticks` clock ticks pass, the
   * time an I/O cycle takes on a PC's ISA/LPC bus (about a microsecond). Guests rely on it:
   * Linux delays with port 80h writes and expects the PIT to have moved between two reads
   * of its counter (quick_pit_calibrate).
   */
  private isaTimedPorts(ticks: number): PortIo {
    const bus = this.io;
    return {
      read: (port, size) => { this.cpu.stall(ticks); return bus.read(port, size); },
      write: (port, size, value) => { this.cpu.stall(ticks); bus.write(port, size, value); },
    };
  }

  /**
   * Route the PCI window (E0000000h-FEBFFFFFh, where memory BARs are placed) and the
   * chipset's interrupt-controller window (FEC00000h-FEFFFFFFh: the I/O APIC, the local APIC
   * and the room the local APIC may be moved to) to the MMIO bus, where the devices decode
   * their own registers; unclaimed addresses there read all ones.
   */
  private mapMmioWindows(): void {
    this.memory.mapMmio(PCI_MMIO_BASE, PCI_MMIO_LIMIT + 1 - PCI_MMIO_BASE, this.mmio, 'pci window');
    this.memory.mapMmio(APIC_WINDOW_BASE, APIC_WINDOW_BYTES, this.mmio, 'apic window');
  }

  private loadImages(config: PcConfig): void {
    if (config.rom && config.kernel) throw new MachineConfigError('a ROM and a directly booted kernel cannot be combined');
    if (config.rom) this.loadRom(config.rom.name, config.rom.data);
    for (const load of config.loads ?? []) {
      const end = load.address + load.data.length;
      if (load.address < 0 || end > config.memoryBytes) {
        throw new MachineConfigError(`${load.name}: ${load.data.length} bytes at 0x${load.address.toString(16)} do not fit in ${config.memoryBytes} bytes of RAM`);
      }
      this.memory.writeBytes(load.address, load.data);
    }
  }

  /** Put the CPU where the configured start path begins (power-on and after every reset). */
  private start(): void {
    const config = this.config;
    if (config.kernel) {
      const image = buildDirectBoot(config.kernel, config.memoryBytes, this.pci.firmwareFunctions());
      for (const w of image.writes) this.memory.writeBytes(w.address, w.data);
      this.platform.firmwareSetup();
      this.pci.firmwareSetup();
      this.cpu.enterFlat32(flat32EntryOf(image));
    } else if (config.entry) {
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

  /** A device asked for a reset or power-off: finish the current instruction, then act. */
  private requestChipsetAction(action: 'reset' | 'power-off'): void {
    if (this.pendingChipsetAction !== 'power-off') this.pendingChipsetAction = action;
    this.cpu.requestStop();
  }

  /** Queue serial input, deliverable from clock tick `at` (default: now). */
  sendSerial(bytes: Uint8Array, at = this.clock.ticks()): void {
    for (const b of bytes) this.input.push(at, InputKind.SerialByte, b);
  }

  /** Hand due input events to their devices (a byte waits while the UART FIFO is full). */
  private deliverInput(): void {
    const now = this.clock.ticks();
    for (let e = this.input.peekDue(now); e !== null; e = this.input.peekDue(now)) {
      if (e.kind === InputKind.SerialByte && !this.uart.receive(e.value)) return;
      this.input.shift();
    }
  }

  /**
   * Run until the guest exits through the debug port, stops for good (halt with nothing to
   * wake it, triple fault, reset or power-off when configured to stop), `maxTicks` clock
   * ticks have passed (instructions plus idle time: an idle guest uses its budget too), or
   * — realtime clock only — the CPU idles waiting for time to pass. Where the caller splits
   * a run into several calls does not change what the guest sees.
   */
  run(maxTicks = Infinity, sliceInstructions = 1 << 20): StopReason {
    const end = this.clock.ticks() + maxTicks;
    for (;;) {
      if (this.exitValue !== null) return { kind: 'exit', value: this.exitValue };
      const action = this.takeChipsetAction();
      if (action !== null) return action;
      const now = this.clock.ticks();
      if (now >= end) return { kind: 'limit' };
      this.clock.catchUpWithWallClock();
      this.clock.fireDueEvents();
      this.deliverInput();
      const exit = this.cpu.run(this.planRun(end - now, sliceInstructions));
      this.clock.fireDueEvents();
      if (exit === RunExit.TripleFault) {
        // A PC's chipset turns the shutdown cycle into a reset; by default the board reports
        // it instead, so that the caller sees the guest crashed.
        if (this.config.onTripleFault !== 'reset') return { kind: 'triple-fault' };
        this.resetMachine();
        continue;
      }
      if (exit === RunExit.Halted && this.exitValue === null && this.pendingChipsetAction === null) {
        const idle = this.idle(end);
        if (idle !== null) return idle;
      }
    }
  }

  /** Instructions the next CPU run may take: up to the next timer event, input or slice end. */
  private planRun(remaining: number, slice: number): number {
    const ticks = this.clock.ticks();
    const untilInput = Math.max(this.input.nextAt() - ticks, 1);
    return Math.min(remaining, slice, untilInput, this.clock.ticksUntilNextEvent());
  }

  /**
   * The CPU halted. With interrupts enabled, let time pass to the next event (timer or
   * input): skipped at once with the deterministic clock, or reported as `idle` with the
   * realtime clock. Returns a stop reason when nothing can ever wake the CPU.
   */
  private idle(end: number): StopReason | null {
    const interruptsEnabled = (this.cpu.getFlags() & Flag.IF) !== 0;
    if (!interruptsEnabled) return { kind: 'halted' };
    if (this.platform.lapic.hasPending()) return null;
    const now = this.clock.ticks();
    const inputAt = this.input.nextAt();
    const wake = Math.min(inputAt, now + this.clock.ticksUntilNextEvent());
    if (this.clock.mode === 'realtime') {
      const waitMs = inputAt !== Infinity ? 0 : this.clock.idleWaitMs();
      return { kind: 'idle', waitMs };
    }
    if (wake === Infinity) return { kind: 'halted' };
    // Jump to the next timer event or input, but no further than the end of this run.
    this.clock.jump(Math.max(0, Math.min(wake, end) - now));
    return null;
  }

  /** Act on a reset or power-off the guest asked for; a stop reason when the machine stops. */
  private takeChipsetAction(): StopReason | null {
    const action = this.pendingChipsetAction;
    if (action === null) return null;
    this.pendingChipsetAction = null;
    if (action === 'power-off') return { kind: 'power-off' };
    if (this.config.onReset === 'stop') return { kind: 'reset' };
    this.resetMachine();
    return null;
  }

  /** Times the machine was reset (guest request, or triple fault with `onTripleFault: 'reset'`). */
  resets = 0;

  /** A system reset: CPU and devices to power-on state, RAM kept, the start path run again. */
  private resetMachine(): void {
    this.resets++;
    this.cpu.reset();
    this.platform.reset();
    this.uart.reset();
    this.pci.reset();
    this.start();
  }

  // ---- Saved state (issue 7: snapshots, migration) -----------------------------------------

  /** The board's own run-loop fields as a component of the machine's state. */
  private readonly boardPersist: Persist<BoardState> = {
    persistId: BOARD_PERSIST_ID,
    save: () => this.saveBoard(),
    restore: (state) => this.restoreBoard(state),
  };

  private saveBoard(): BoardState {
    return {
      version: BOARD_STATE_VERSION,
      memoryBytes: this.config.memoryBytes,
      exited: this.exitValue !== null,
      exitValue: this.exitValue ?? 0,
      pendingChipsetAction: this.pendingChipsetAction ?? 'none',
      resets: this.resets,
    };
  }

  private restoreBoard(state: unknown): void {
    const s = readBoardState(state, this.config.memoryBytes);
    this.exitValue = s.exited ? s.exitValue : null;
    this.pendingChipsetAction = s.pendingChipsetAction === 'none' ? null : s.pendingChipsetAction;
    this.resets = s.resets;
  }

  /**
   * Every component with saved state, in restore order. Devices that drive interrupt lines
   * restore first (the PCI bus and its functions, the UART, the platform's timers and
   * ports); the interrupt controllers then overwrite whatever those lines did to them (8259
   * pair, I/O APIC, then the local APIC, which re-drives the CPU's INTR); the CPU after them
   * (its A20 and interrupt-shadow state win; its restore flushes the soft TLB and the
   * decoded blocks); the clock last (it checks its tick count against the CPU's). Not here:
   * the debug-exit port (stateless) and guest RAM (frame by frame, see
   * GuestMemory.readFrame/writeFrame).
   */
  persistables(): Persist[] {
    const p = this.platform;
    return [
      this.boardPersist, this.input, ...this.pci.persistables(), this.uart, this.debugConsole,
      p.pit, p.rtc, p.i8042, p.port92, p.port80, p.acpiPm, p.fpuError,
      p.pic, p.ioapic, p.lapic,
      this.cpu, this.clock,
    ];
  }

  /** The whole machine's state except RAM (see machine-state.ts for the shape). */
  saveState(): MachineState {
    return saveMachineState(this.persistables());
  }

  /**
   * Replace the machine's state with `state` (untrusted: checked in full; on any refusal a
   * StateError names the component and field and the machine is left as it was). RAM is
   * not part of it: write the frames with `memory.writeFrame` before or after. The machine
   * must be built from the same config as the one that saved the state.
   */
  restoreState(state: unknown): void {
    restoreMachineState(this.persistables(), state);
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
