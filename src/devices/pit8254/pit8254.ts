/**
 * The PC's 8254 programmable interval timer (Intel 82C54 datasheet: "Control Word Format",
 * "Counter Latch Command", "Read-Back Command", "Status Byte", "Mode Definitions") and System
 * Control Port B at 0x61 (Intel 82371AB PIIX4 datasheet, "NMI Status and Control Register").
 *
 * Ports (the board registers `Pit8254` at 0x40, 4 ports, and `pit.portB` at 0x61, 1 port):
 *   0x40-0x42  counter 0-2 data (count register write, CE / latch / status read)
 *   0x43       control word (write); reads float (0xFF, counted in `ignoredAccesses`)
 *   0x61       bit 0 gate of counter 2 (R/W), bit 1 speaker data enable (R/W), bits 2-3 parity /
 *              I/O-check NMI enables (R/W, stored only), bit 4 refresh toggle (RO, flips every
 *              15.085 µs of guest time), bit 5 OUT2 (RO), bits 6-7 NMI source status (RO, always
 *              0: no NMI sources are modelled). Writes to bits 4-7 are ignored.
 *
 * Wiring: counter 0 and 1 gates are tied high; counter 2's gate is port 0x61 bit 0; counter
 * 0's OUT drives IRQ0; counter 1 (DRAM refresh) and counter 2 (speaker) OUTs are only visible
 * through read-back status and (counter 2) port 0x61 bit 5.
 *
 * Time: the input clock is 1.193182 MHz derived from `DeviceClock.nowNs()` with exact integer
 * arithmetic (pit-time.ts). Counters are evaluated lazily from the pulse number (pit-counter.ts
 * documents the per-mode timelines); reads return what an 8254 shows at `nowNs()`.
 *
 * The IRQ0 line (`irq0` option) carries counter 0's OUT at event granularity:
 * - a control word for counter 0 drives the line to the mode's initial OUT (mode 0 low,
 *   modes 1-5 high); writing a count (or its first byte) in mode 0 drives it low;
 * - at every rising edge of OUT while counting — mode 0 at terminal count, mode 2 and 3 at
 *   each reload (once per period, at pulses start + N·k), mode 4 one pulse after terminal
 *   count — `advanceTo` lowers the line (a no-op if it is already low) and raises it again,
 *   so the line is left high and an edge-triggered PIC or I/O APIC pin latches exactly one
 *   request per event. The short low phases of OUT (mode 2's one-pulse dip, mode 3's low
 *   half-period, mode 4's strobe) are not reproduced on the line; status reads show them.
 * - If the board calls `advanceTo` late, after several events fell due, the line gets ONE
 *   edge for all of them and the next event is the first one after the given time (an
 *   interrupt controller would have merged them into one pending request anyway).
 * - Before any register write, events already due at the write's time are delivered first,
 *   so reprogramming never loses an edge that real hardware would have produced.
 * `nextEventNs()` is the time of counter 0's next rising edge (Infinity when none is
 * scheduled); a write that moves it earlier calls `clock.reschedule()`.
 *
 * Model choices: power-on state is not defined by the datasheet; `reset()` leaves every
 * counter in mode 0, LSB-then-MSB access, binary, not counting, OUT low, null count set, and
 * port 0x61 cleared (counter 2 gate low). The control word resets the read/write byte
 * flip-flops and discards unread latches. Wide accesses are split into byte accesses.
 */

import type { DeviceClock, TimedDevice } from '../../bus/clock.js';
import type { AccessSize, IoDevice } from '../../bus/io-bus.js';
import type { IrqLine } from '../../bus/irq.js';
import { type Persist, type SavedState, StateError, StateReader } from '../../persist/persist.js';
import { PIT_MAX_COUNT, PitAccess, type PitCounterState, PitCounter, PitPhase } from './pit-counter.js';
import { floorDiv, pitTickToNs, pitTicksAt } from './pit-time.js';

/** I/O base of the 8254. */
export const PIT_BASE = 0x40;
/** Ports the 8254 occupies. */
export const PIT_PORT_COUNT = 4;
/** Offset of the control word register. */
export const PIT_REG_CONTROL = 3;
/** I/O port of System Control Port B. */
export const PIT_PORT_B = 0x61;

// Control word fields.
/** Control word SC field value selecting the read-back command. */
export const PIT_SC_READ_BACK = 3;
/** Read-back: do NOT latch count (active low). */
export const PIT_READ_BACK_NO_COUNT = 0x20;
/** Read-back: do NOT latch status (active low). */
export const PIT_READ_BACK_NO_STATUS = 0x10;
/** Status byte: OUT pin. */
export const PIT_STATUS_OUT = 0x80;
/** Status byte: null count. */
export const PIT_STATUS_NULL_COUNT = 0x40;

// Port 0x61 bits.
/** Port B: counter 2 gate. */
export const PORT_B_GATE2 = 0x01;
/** Port B: speaker data enable. */
export const PORT_B_SPEAKER = 0x02;
/** Port B: parity check (PCI SERR#) NMI enable, active low. */
export const PORT_B_PARITY_NMI_DISABLE = 0x04;
/** Port B: I/O channel check NMI enable, active low. */
export const PORT_B_IOCHK_NMI_DISABLE = 0x08;
/** Port B: refresh request toggle. */
export const PORT_B_REFRESH = 0x10;
/** Port B: counter 2 OUT. */
export const PORT_B_OUT2 = 0x20;
/** Port B bits a write changes. */
export const PORT_B_WRITABLE = 0x0f;
/** Half-period of the refresh toggle (bit 4), in ns. */
export const PORT_B_REFRESH_HALF_PERIOD_NS = 15_085;

const PIT_STATE_VERSION = 1;
const COUNTER_COUNT = 3;

/** Options the board gives the PIT. */
export interface Pit8254Options {
  /** The VM clock. */
  readonly clock: DeviceClock;
  /** The line counter 0's OUT drives (IRQ0). */
  readonly irq0: IrqLine;
}

/** Saved state of the PIT and port 0x61. */
export interface Pit8254State extends SavedState {
  readonly version: number;
  readonly channel0: PitCounterState;
  readonly channel1: PitCounterState;
  readonly channel2: PitCounterState;
  /** Counter 0 edges at pulses up to this one have been delivered. */
  readonly deliveredTick: number;
  /** Port 0x61 bits 0-3. */
  readonly portB: number;
  /** Level of the IRQ0 line. */
  readonly irqLevel: boolean;
}

/** System Control Port B (0x61): counter 2 gate, speaker enable, refresh toggle, OUT2. */
export class SystemControlPortB implements IoDevice {
  readonly name = 'port61';
  private control = 0;

  constructor(private readonly pit: Pit8254) {}

  /** Bits 0-3 as last written. */
  get controlBits(): number {
    return this.control;
  }

  /** True when the speaker data enable bit is set (the speaker then sounds OUT2). */
  get speakerDataEnabled(): boolean {
    return (this.control & PORT_B_SPEAKER) !== 0;
  }

  /** Read: stored bits 0-3, refresh toggle, OUT2; bits 6-7 read 0. */
  ioRead(_offset: number, _size: AccessSize): number {
    const now = this.pit.clockNs();
    const refresh = (floorDiv(now, PORT_B_REFRESH_HALF_PERIOD_NS) & 1) !== 0 ? PORT_B_REFRESH : 0;
    const out2 = this.pit.channel2Out() ? PORT_B_OUT2 : 0;
    // Registered as one port, the bus splits wider accesses into byte reads.
    return this.control | refresh | out2;
  }

  /** Write: bits 0-3 stick; bit 0 drives counter 2's gate. */
  ioWrite(_offset: number, _size: AccessSize, value: number): void {
    this.setControl(value & PORT_B_WRITABLE);
  }

  /** Set bits 0-3 and drive the gate (also used by restore and reset). */
  setControl(bits: number): void {
    this.control = bits & PORT_B_WRITABLE;
    this.pit.setChannel2Gate((bits & PORT_B_GATE2) !== 0);
  }
}

/** The 8254 PIT of a PC. */
export class Pit8254 implements IoDevice, TimedDevice, Persist<Pit8254State> {
  readonly name = 'pit';
  readonly persistId = 'pit';
  /** System Control Port B face: register at 0x61, 1 port. */
  readonly portB: SystemControlPortB;
  private readonly clock: DeviceClock;
  private readonly irq0: IrqLine;
  private readonly counters: readonly PitCounter[];
  private deliveredTick = 0;
  private ignoredAccessCount = 0;

  /** Create the PIT in its power-on state; IRQ0 is driven low. */
  constructor(options: Pit8254Options) {
    this.clock = options.clock;
    this.irq0 = options.irq0;
    this.counters = [new PitCounter(0, true), new PitCounter(1, true), new PitCounter(2, false)];
    this.portB = new SystemControlPortB(this);
    this.reset();
  }

  /** Back to the power-on state (see the module comment). */
  reset(): void {
    for (const counter of this.counters) counter.reset();
    this.portB.setControl(0);
    this.deliveredTick = pitTicksAt(this.clock.nowNs());
    this.irq0.lower();
  }

  /** Reads of the write-only control port so far. */
  get ignoredAccesses(): number {
    return this.ignoredAccessCount;
  }

  /** Guest time now (for port B). */
  clockNs(): number {
    return this.clock.nowNs();
  }

  /** Counter 2's OUT now. */
  channel2Out(): boolean {
    return this.counters[2]!.outAt(this.nowTick());
  }

  /** Drive counter 2's gate (port 0x61 bit 0) now. */
  setChannel2Gate(level: boolean): void {
    this.counters[2]!.setGate(this.nowTick(), level);
  }

  private nowTick(): number {
    return pitTicksAt(this.clock.nowNs());
  }

  // ---- TimedDevice ----

  /** Time of counter 0's next rising OUT edge, or Infinity. */
  nextEventNs(): number {
    const edge = this.counters[0]!.nextRisingEdge(this.deliveredTick);
    return edge === Infinity ? Infinity : pitTickToNs(edge);
  }

  /** Deliver counter 0's edges due by `nowNs` (one edge however many fell due). */
  advanceTo(nowNs: number): void {
    this.deliverDue(pitTicksAt(nowNs));
  }

  private deliverDue(tick: number): void {
    if (tick <= this.deliveredTick) return;
    const edge = this.counters[0]!.nextRisingEdge(this.deliveredTick);
    this.deliveredTick = tick;
    if (edge > tick) return;
    this.irq0.lower();
    this.irq0.raise();
  }

  // ---- IoDevice ----

  /** Read; wide accesses read consecutive ports, little-endian. */
  ioRead(offset: number, size: AccessSize): number {
    const tick = this.nowTick();
    let value = 0;
    for (let i = 0; i < size; i++) value |= this.readRegister((offset + i) & 3, tick) << (8 * i);
    return value >>> 0;
  }

  /** Write; wide accesses write consecutive ports, little-endian. */
  ioWrite(offset: number, size: AccessSize, value: number): void {
    const tick = this.nowTick();
    this.deliverDue(tick);
    for (let i = 0; i < size; i++) this.writeRegister((offset + i) & 3, tick, (value >>> (8 * i)) & 0xff);
  }

  private readRegister(offset: number, tick: number): number {
    if (offset === PIT_REG_CONTROL) {
      this.ignoredAccessCount++;
      return 0xff;
    }
    return this.counters[offset]!.read(tick);
  }

  private writeRegister(offset: number, tick: number, value: number): void {
    const before = this.nextEventNs();
    if (offset === PIT_REG_CONTROL) this.writeControl(tick, value);
    else this.writeCount(offset, tick, value);
    if (this.nextEventNs() < before) this.clock.reschedule();
  }

  private writeCount(index: number, tick: number, value: number): void {
    const counter = this.counters[index]!;
    counter.write(tick, value);
    if (index === 0 && counter.mode === 0) this.irq0.lower();
  }

  private writeControl(tick: number, value: number): void {
    const select = value >>> 6;
    if (select === PIT_SC_READ_BACK) {
      this.readBack(tick, value);
      return;
    }
    const counter = this.counters[select]!;
    if (((value >> 4) & 3) === PitAccess.Latch) {
      counter.latchCount(tick);
      return;
    }
    counter.writeControl(tick, value);
    if (select === 0) this.irq0.set(counter.heldOut);
  }

  /** Read-back command: latch count and/or status of each selected counter. */
  private readBack(tick: number, value: number): void {
    for (let i = 0; i < COUNTER_COUNT; i++) {
      if ((value & (2 << i)) === 0) continue;
      const counter = this.counters[i]!;
      if ((value & PIT_READ_BACK_NO_COUNT) === 0) counter.latchCount(tick);
      if ((value & PIT_READ_BACK_NO_STATUS) === 0) counter.latchStatus(tick);
    }
  }

  // ---- Persist ----

  /** Capture all counters, port 0x61 and the IRQ0 bookkeeping. */
  save(): Pit8254State {
    return {
      version: PIT_STATE_VERSION,
      channel0: this.counters[0]!.save(),
      channel1: this.counters[1]!.save(),
      channel2: this.counters[2]!.save(),
      deliveredTick: this.deliveredTick,
      portB: this.portB.controlBits,
      irqLevel: this.irq0.level,
    };
  }

  /** Validate `state` completely, then apply it and drive IRQ0 to the saved level. */
  restore(state: unknown): void {
    const reader = new StateReader(this.persistId, state);
    reader.version([PIT_STATE_VERSION]);
    const channels = [0, 1, 2].map((i) => readCounterState(this.persistId, reader, i));
    const deliveredTick = reader.int('deliveredTick', 0, Number.MAX_SAFE_INTEGER);
    const portB = reader.int('portB', 0, PORT_B_WRITABLE);
    const irqLevel = reader.bool('irqLevel');
    if (((portB & PORT_B_GATE2) !== 0) !== channels[2]!.gate) {
      throw new StateError(this.persistId, 'channel2.gate', 'differs from portB bit 0');
    }
    for (let i = 0; i < COUNTER_COUNT; i++) this.counters[i]!.apply(channels[i]!);
    this.portB.setControl(portB);
    this.deliveredTick = deliveredTick;
    this.irq0.set(irqLevel);
  }
}

/** Read and validate one counter's record; errors name `channelN.field`. */
function readCounterState(component: string, reader: StateReader, index: number): PitCounterState {
  const name = `channel${index}`;
  const r = reader.object(name);
  const tickMin = Number.MIN_SAFE_INTEGER;
  const tickMax = Number.MAX_SAFE_INTEGER;
  const gate = r.bool('gate');
  if (index < 2 && !gate) throw new StateError(component, `${name}.gate`, 'counters 0 and 1 have their gate tied high');
  return {
    modeBits: r.int('modeBits', 0, 7),
    access: r.int('access', PitAccess.Lsb, PitAccess.LsbMsb),
    bcd: r.bool('bcd'),
    cr: r.int('cr', 0, 0xffff),
    crValid: r.bool('crValid'),
    crLow: r.int('crLow', 0, 0xff),
    writeMsbNext: r.bool('writeMsbNext'),
    readMsbNext: r.bool('readMsbNext'),
    countLatched: r.bool('countLatched'),
    latchedCount: r.int('latchedCount', 0, 0xffff),
    statusLatched: r.bool('statusLatched'),
    latchedStatus: r.int('latchedStatus', 0, 0xff),
    gate,
    phase: r.int('phase', PitPhase.Idle, PitPhase.Gated),
    heldCount: r.int('heldCount', 0, 0xffff),
    heldOut: r.bool('heldOut'),
    count: r.int('count', 1, PIT_MAX_COUNT),
    startTick: r.int('startTick', tickMin, tickMax),
    frozenE: r.int('frozenE', 0, tickMax),
    switchPending: r.bool('switchPending'),
    switchTick: r.int('switchTick', tickMin, tickMax),
    switchCount: r.int('switchCount', 1, PIT_MAX_COUNT),
    switchStart: r.int('switchStart', tickMin, tickMax),
    crAwaitingLoad: r.bool('crAwaitingLoad'),
    transferTick: r.int('transferTick', tickMin, tickMax),
  };
}
