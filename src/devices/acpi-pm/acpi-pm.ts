/**
 * ACPI fixed-hardware power-management registers (ACPI spec 6.4 §4.8 "ACPI Hardware
 * Features": §4.8.3.1 PM1 event registers, §4.8.3.2 PM1 control registers, §4.8.3.3 power
 * management timer). One 12-port block the board registers at the FADT's PM1a_EVT_BLK
 * (0x600):
 *
 *   offset  register     width
 *   0       PM1a_STS     16   write 1 to clear
 *   2       PM1a_EN      16
 *   4       PM1a_CNT     16
 *   6-7     (unused)
 *   8       PM_TMR       32   read-only, 24-bit count (TMR_VAL_EXT = 0)
 *
 * Model choices:
 * - Always in ACPI mode: there is no SMI_CMD port, SCI_EN reads 1 and writes to it are
 *   ignored. BM_RLD and SLP_TYP are stored and read back; SLP_EN and GBL_RLS read 0.
 * - Sleep: a write with SLP_EN = 1 requests the state SLP_TYP selects. The soft-off type
 *   (`s5SleepType`, default 5, what the DSDT's \_S5_ says) calls `onPowerOff()`; the board
 *   then stops the VM (Linux spins reading WAK_STS after the write, so it must). Any
 *   other type is ignored, counted in `ignoredSleepRequests` and logged: S1-S4 are not
 *   modelled (the DSDT offers only \_S5_).
 * - PM1_EN: every defined enable bit sticks (TMR_EN, GBL_EN, PWRBTN_EN, SLPBTN_EN, RTC_EN,
 *   PCIEXP_WAKE_DIS) even though only the timer and the power button ever set their
 *   status: ACPICA writes GBL_EN and reads it back to decide whether the global lock
 *   hardware exists, and logs an error when it does not stick.
 * - Status: TMR_STS and PWRBTN_STS are the bits this hardware sets. Writing 1 clears a
 *   bit; writing 0 leaves it. The SCI line is high while (STS & EN) has any of TMR, GBL,
 *   PWRBTN, SLPBTN or RTC set (a level interrupt; the MADT routes ISA IRQ 9 to GSI 9 as
 *   level / active high).
 * - PM timer: 3.579545 MHz from `DeviceClock.nowNs()`, ticks = floor(ns · 3579545 / 10^9)
 *   computed exactly (ns split into whole seconds and a remainder so every product stays
 *   below 2^53), reported modulo 2^24. TMR_STS is set each time bit 23 of the count
 *   toggles (every 2^23 ticks ≈ 2.34 s). The status is latched lazily: the device keeps
 *   the number of the 2^23-tick period it last looked at and sets TMR_STS when a later
 *   period is seen (on a status read, a status write, or `advanceTo`). Only when TMR_EN
 *   is set and TMR_STS clear does it ask for an event (`nextEventNs` = the next toggle),
 *   so the SCI rises on time; enabling the timer calls `clock.reschedule()`.
 * - Wider or narrower accesses act bytewise on the registers they cover (a dword read at
 *   0 returns STS | EN << 16). Reserved offsets 6-7 read 0xFF and ignore writes; writes to
 *   PM_TMR are ignored; both are counted in `ignoredWrites` / `ignoredReads`.
 * - Reset (`reset()`): status, enables and control bits cleared, SCI low; the timer keeps
 *   running (it counts guest time since power-on) and periods already past are not
 *   reported.
 */

import type { DeviceClock, TimedDevice } from '../../bus/clock.js';
import { NS_PER_SECOND } from '../../bus/clock.js';
import type { AccessSize, IoDevice } from '../../bus/io-bus.js';
import type { IrqLine } from '../../bus/irq.js';
import { type Persist, type SavedState, StateError, StateReader } from '../../persist/persist.js';

/** Ports the block occupies. */
export const ACPI_PM_PORT_COUNT = 12;
/** Register offsets. */
export const ACPI_PM1_STS = 0;
export const ACPI_PM1_EN = 2;
export const ACPI_PM1_CNT = 4;
export const ACPI_PM_TMR = 8;

// PM1 status bits (§4.8.3.1.1).
/** Timer carry: bit 23 of PM_TMR toggled. */
export const ACPI_TMR_STS = 1 << 0;
/** Bus master activity. */
export const ACPI_BM_STS = 1 << 4;
/** Global lock released by the BIOS. */
export const ACPI_GBL_STS = 1 << 5;
/** Power button pressed. */
export const ACPI_PWRBTN_STS = 1 << 8;
/** Sleep button pressed. */
export const ACPI_SLPBTN_STS = 1 << 9;
/** RTC alarm. */
export const ACPI_RTC_STS = 1 << 10;
/** PCI Express wake. */
export const ACPI_PCIEXP_WAKE_STS = 1 << 14;
/** Woken from a sleep state. */
export const ACPI_WAK_STS = 1 << 15;
/** Every defined status bit (the ones a write-1 clears). */
export const ACPI_PM1_STS_DEFINED =
  ACPI_TMR_STS | ACPI_BM_STS | ACPI_GBL_STS | ACPI_PWRBTN_STS | ACPI_SLPBTN_STS | ACPI_RTC_STS | ACPI_PCIEXP_WAKE_STS | ACPI_WAK_STS;

// PM1 enable bits (§4.8.3.1.2).
export const ACPI_TMR_EN = 1 << 0;
export const ACPI_GBL_EN = 1 << 5;
export const ACPI_PWRBTN_EN = 1 << 8;
export const ACPI_SLPBTN_EN = 1 << 9;
export const ACPI_RTC_EN = 1 << 10;
export const ACPI_PCIEXP_WAKE_DIS = 1 << 14;
/** Every defined enable bit (all stick). */
export const ACPI_PM1_EN_DEFINED = ACPI_TMR_EN | ACPI_GBL_EN | ACPI_PWRBTN_EN | ACPI_SLPBTN_EN | ACPI_RTC_EN | ACPI_PCIEXP_WAKE_DIS;
/** Status bits that raise the SCI when enabled (the enable bit sits at the same position). */
export const ACPI_SCI_SOURCES = ACPI_TMR_STS | ACPI_GBL_STS | ACPI_PWRBTN_STS | ACPI_SLPBTN_STS | ACPI_RTC_STS;

// PM1 control bits (§4.8.3.2.1).
/** SCI enable: 1 = ACPI mode (always, here). */
export const ACPI_SCI_EN = 1 << 0;
/** Bus master reload. */
export const ACPI_BM_RLD = 1 << 1;
/** Global release (write-only: would signal the BIOS). */
export const ACPI_GBL_RLS = 1 << 2;
/** SLP_TYP field position and mask (bits 12:10). */
export const ACPI_SLP_TYP_SHIFT = 10;
export const ACPI_SLP_TYP_MASK = 0x7 << ACPI_SLP_TYP_SHIFT;
/** Sleep enable (write-only). */
export const ACPI_SLP_EN = 1 << 13;
/** Control bits that are stored and read back. */
const CNT_STORED = ACPI_BM_RLD | ACPI_SLP_TYP_MASK;

/** PM timer frequency (Hz). */
export const ACPI_PM_TIMER_HZ = 3_579_545;
/** The PM timer counts modulo 2^24 (TMR_VAL_EXT = 0). */
export const ACPI_PM_TIMER_MODULUS = 0x100_0000;
/** TMR_STS is set every time bit 23 toggles: every 2^23 ticks. */
export const ACPI_PM_TIMER_STATUS_PERIOD = 0x80_0000;
/** SLP_TYP value meaning soft-off (matches the DSDT's \_S5_). */
export const ACPI_PM_DEFAULT_S5_TYPE = 5;

const STATE_VERSION = 1;
/** Largest period number a saved state may carry (2^31: far beyond 2^53 ns of guest time). */
const MAX_PERIOD = 0x7fff_ffff;

/** Options the board gives the PM block. */
export interface AcpiPmOptions {
  /** Persist id and device name. Default "acpi-pm". */
  readonly id?: string;
  /** The VM clock (PM timer source). */
  readonly clock: DeviceClock;
  /** SCI output (ISA IRQ 9 on our board). */
  readonly sci: IrqLine;
  /** Called when the guest enters S5 (SLP_EN with SLP_TYP = `s5SleepType`). */
  readonly onPowerOff: () => void;
  /** SLP_TYP meaning S5. Default 5. */
  readonly s5SleepType?: number;
  /** Diagnostic messages (ignored sleep requests). Default: none. */
  readonly log?: (message: string) => void;
}

/** Saved state of the PM block. */
export interface AcpiPmState extends SavedState {
  readonly version: number;
  /** PM1_STS latched bits (TMR_STS as of `timerPeriod`). */
  readonly status: number;
  readonly enable: number;
  /** PM1_CNT stored bits (BM_RLD, SLP_TYP). */
  readonly control: number;
  /** Number of the 2^23-tick timer period last examined. */
  readonly timerPeriod: number;
}

/** floor(a / b) for non-negative integers with a < 2^53, exact. */
function floorDiv(a: number, b: number): number {
  let q = Math.floor(a / b);
  if (q * b > a) q--;
  else if ((q + 1) * b <= a) q++;
  return q;
}

/** PM timer ticks since power-on at `ns`: floor(ns · f / 10^9), exact. */
export function pmTimerTicksAt(ns: number): number {
  const seconds = Math.floor(ns / NS_PER_SECOND);
  const remainder = ns - seconds * NS_PER_SECOND;
  return seconds * ACPI_PM_TIMER_HZ + floorDiv(remainder * ACPI_PM_TIMER_HZ, NS_PER_SECOND);
}

/** The earliest time (ns) at which the tick count reaches `ticks`: ceil(ticks · 10^9 / f), exact. */
export function pmTimerTimeOfTick(ticks: number): number {
  const seconds = Math.floor(ticks / ACPI_PM_TIMER_HZ);
  const remainder = ticks - seconds * ACPI_PM_TIMER_HZ;
  const scaled = remainder * NS_PER_SECOND;
  let fraction = floorDiv(scaled, ACPI_PM_TIMER_HZ);
  if (fraction * ACPI_PM_TIMER_HZ < scaled) fraction++;
  return seconds * NS_PER_SECOND + fraction;
}

/** The PM1a event/control block and PM timer on the I/O-port bus. */
export class AcpiPm implements IoDevice, TimedDevice, Persist<AcpiPmState> {
  readonly name: string;
  readonly persistId: string;
  private readonly clock: DeviceClock;
  private readonly sci: IrqLine;
  private readonly onPowerOff: () => void;
  private readonly s5SleepType: number;
  private readonly log: ((message: string) => void) | undefined;

  private status = 0;
  private enable = 0;
  private control = 0;
  private timerPeriod = 0;

  /** Writes to read-only or reserved bits/registers ignored so far. */
  ignoredWrites = 0;
  /** Reads of the reserved offsets 6-7 so far. */
  ignoredReads = 0;
  /** SLP_EN writes with a sleep type other than S5 (ignored). */
  ignoredSleepRequests = 0;

  /** Create the block in its reset state (SCI low); the timer runs from guest time 0. */
  constructor(options: AcpiPmOptions) {
    this.name = options.id ?? 'acpi-pm';
    this.persistId = this.name;
    this.clock = options.clock;
    this.sci = options.sci;
    this.onPowerOff = options.onPowerOff;
    const s5 = options.s5SleepType ?? ACPI_PM_DEFAULT_S5_TYPE;
    if (!Number.isInteger(s5) || s5 < 0 || s5 > 7) throw new RangeError(`${this.name}: s5SleepType ${s5} is outside 0..7`);
    this.s5SleepType = s5;
    this.log = options.log;
    this.reset();
  }

  /** Power-on state: status, enables and control cleared, SCI low; the timer keeps counting. */
  reset(): void {
    this.status = 0;
    this.enable = 0;
    this.control = 0;
    this.timerPeriod = this.currentPeriod();
    this.updateSci();
  }

  // ---- host side ----

  /** The power button was pressed: PWRBTN_STS, and the SCI if PWRBTN_EN is set. */
  pressPowerButton(): void {
    this.status |= ACPI_PWRBTN_STS;
    this.updateSci();
  }

  /** Current SCI level (for diagnostics). */
  get sciLevel(): boolean {
    return this.sci.level;
  }

  /** PM_TMR as the guest would read it now. */
  timerValue(): number {
    return pmTimerTicksAt(this.clock.nowNs()) % ACPI_PM_TIMER_MODULUS;
  }

  // ---- TimedDevice ----

  /** The next bit-23 toggle while TMR_EN is set and TMR_STS clear; Infinity otherwise. */
  nextEventNs(): number {
    if ((this.enable & ACPI_TMR_EN) === 0 || (this.status & ACPI_TMR_STS) !== 0) return Infinity;
    return pmTimerTimeOfTick((this.timerPeriod + 1) * ACPI_PM_TIMER_STATUS_PERIOD);
  }

  /** Latch TMR_STS for toggles up to `nowNs` and drive the SCI. */
  advanceTo(nowNs: number): void {
    this.latchTimerStatus(nowNs);
    this.updateSci();
  }

  // ---- guest side (IoDevice) ----

  /** Read `size` bytes at `offset`, little-endian, one register byte at a time. */
  ioRead(offset: number, size: AccessSize): number {
    const nowNs = this.clock.nowNs();
    if (offset < ACPI_PM1_STS + 2) {
      // The read covers PM1_STS: report every bit-23 toggle up to now.
      this.latchTimerStatus(nowNs);
      this.updateSci();
    }
    let value = 0;
    for (let i = 0; i < size; i++) value += this.readByte(offset + i, nowNs) * 2 ** (8 * i);
    return value;
  }

  /** Write `size` bytes at `offset`, little-endian, one register byte at a time. */
  ioWrite(offset: number, size: AccessSize, value: number): void {
    const nextBefore = this.nextEventNs();
    for (let i = 0; i < size; i++) this.writeByte(offset + i, Math.floor(value / 2 ** (8 * i)) & 0xff);
    this.updateSci();
    if (this.nextEventNs() < nextBefore) this.clock.reschedule();
  }

  private readByte(offset: number, nowNs: number): number {
    const shift = 8 * (offset & 1);
    switch (offset & ~1) {
      case ACPI_PM1_STS:
        return (this.status >> shift) & 0xff;
      case ACPI_PM1_EN:
        return (this.enable >> shift) & 0xff;
      case ACPI_PM1_CNT:
        return ((this.control | ACPI_SCI_EN) >> shift) & 0xff;
      case ACPI_PM_TMR:
      case ACPI_PM_TMR + 2: {
        const ticks = pmTimerTicksAt(nowNs) % ACPI_PM_TIMER_MODULUS;
        return Math.floor(ticks / 2 ** (8 * (offset - ACPI_PM_TMR))) & 0xff;
      }
      default:
        this.ignoredReads++;
        return 0xff;
    }
  }

  private writeByte(offset: number, byte: number): void {
    const shift = 8 * (offset & 1);
    const bits = byte << shift;
    const laneMask = 0xff << shift;
    switch (offset & ~1) {
      case ACPI_PM1_STS:
        this.writeStatus(bits & laneMask);
        break;
      case ACPI_PM1_EN:
        this.writeEnable(bits, laneMask);
        break;
      case ACPI_PM1_CNT:
        this.writeControl(bits, laneMask);
        break;
      default:
        // PM_TMR is read-only; offsets 6-7 are reserved.
        this.ignoredWrites++;
    }
  }

  /** Write-1-to-clear. TMR_STS is brought up to date first, so a toggle before the write is cleared by it. */
  private writeStatus(clearBits: number): void {
    if ((clearBits & ACPI_TMR_STS) !== 0) this.latchTimerStatus(this.clock.nowNs());
    if ((clearBits & ~ACPI_PM1_STS_DEFINED) !== 0) this.ignoredWrites++;
    this.status &= ~(clearBits & ACPI_PM1_STS_DEFINED);
  }

  private writeEnable(bits: number, laneMask: number): void {
    if ((bits & ~ACPI_PM1_EN_DEFINED) !== 0) this.ignoredWrites++;
    const wasTimerEnabled = (this.enable & ACPI_TMR_EN) !== 0;
    this.enable = (this.enable & ~laneMask) | (bits & laneMask & ACPI_PM1_EN_DEFINED);
    // Enabling the timer: bring the status up to date so an old toggle is reported now and
    // the next event is the next toggle after this moment.
    if (!wasTimerEnabled && (this.enable & ACPI_TMR_EN) !== 0) this.latchTimerStatus(this.clock.nowNs());
  }

  private writeControl(bits: number, laneMask: number): void {
    const written = bits & laneMask;
    const clearsSciEn = (laneMask & ACPI_SCI_EN) !== 0 && (written & ACPI_SCI_EN) === 0;
    if ((written & ACPI_GBL_RLS) !== 0 || clearsSciEn) this.ignoredWrites++;
    this.control = (this.control & ~laneMask) | (written & CNT_STORED);
    if ((written & ACPI_SLP_EN) !== 0) this.enterSleep((this.control & ACPI_SLP_TYP_MASK) >> ACPI_SLP_TYP_SHIFT);
  }

  /** SLP_EN written: power off for the S5 type, ignore (and log) any other. */
  private enterSleep(sleepType: number): void {
    if (sleepType === this.s5SleepType) {
      this.onPowerOff();
      return;
    }
    this.ignoredSleepRequests++;
    this.log?.(`${this.name}: sleep type ${sleepType} requested (SLP_EN); only soft-off (type ${this.s5SleepType}) is supported, ignored`);
  }

  // ---- timer status ----

  /** Number of the 2^23-tick period the timer is in at `nowNs`. */
  private periodAt(nowNs: number): number {
    return Math.floor(pmTimerTicksAt(nowNs) / ACPI_PM_TIMER_STATUS_PERIOD);
  }

  private currentPeriod(): number {
    return this.periodAt(this.clock.nowNs());
  }

  /** Set TMR_STS if bit 23 toggled since the period last examined. */
  private latchTimerStatus(nowNs: number): void {
    const period = this.periodAt(nowNs);
    if (period > this.timerPeriod) {
      this.status |= ACPI_TMR_STS;
      this.timerPeriod = period;
    }
  }

  /** SCI level: any enabled SCI source pending. */
  private updateSci(): void {
    this.sci.set((this.status & this.enable & ACPI_SCI_SOURCES) !== 0);
  }

  // ---- Persist ----

  /** Capture the registers and the timer period last examined. */
  save(): AcpiPmState {
    return { version: STATE_VERSION, status: this.status, enable: this.enable, control: this.control, timerPeriod: this.timerPeriod };
  }

  /** Validate `state` completely, then apply it and drive the SCI to match. */
  restore(state: unknown): void {
    const reader = new StateReader(this.persistId, state);
    reader.version([STATE_VERSION]);
    const status = this.maskedField(reader, 'status', ACPI_PM1_STS_DEFINED);
    const enable = this.maskedField(reader, 'enable', ACPI_PM1_EN_DEFINED);
    const control = this.maskedField(reader, 'control', CNT_STORED);
    const timerPeriod = reader.int('timerPeriod', 0, MAX_PERIOD);
    this.status = status;
    this.enable = enable;
    this.control = control;
    this.timerPeriod = timerPeriod;
    this.updateSci();
  }

  /** A 16-bit field whose set bits must all lie in `allowed`. */
  private maskedField(reader: StateReader, field: string, allowed: number): number {
    const value = reader.int(field, 0, 0xffff);
    if ((value & ~allowed) !== 0) {
      throw new StateError(this.persistId, field, `bits 0x${(value & ~allowed).toString(16)} are not defined for this register`);
    }
    return value;
  }
}
