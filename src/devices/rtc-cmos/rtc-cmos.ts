/**
 * MC146818A real-time clock plus CMOS RAM (Motorola MC146818A datasheet; the PC/AT CMOS
 * layout from the IBM AT Technical Reference): the PC's battery-backed clock at I/O ports
 * 0x70 (index; bit 7 = NMI mask) and 0x71 (data), interrupting on IRQ 8.
 *
 *   index  register                      index      register
 *   0      seconds       1 seconds alarm  0x0A       A: UIP | DV2-0 | RS3-0
 *   2      minutes       3 minutes alarm  0x0B       B: SET PIE AIE UIE SQWE DM 24/12 DSE
 *   4      hours         5 hours alarm    0x0C       C: IRQF PF AF UF (read clears)
 *   6      day of week (1 = Sunday)       0x0D       D: VRT
 *   7      day of month  8 month  9 year  0x0E-0x7F  NVRAM (0x32 = century)
 *
 * Time source: the VM's clock only. At power-on the clock reads `baseTimeSeconds` (Unix
 * seconds, supplied by the board) plus the whole seconds of `DeviceClock.nowNs()`; the
 * divider's once-a-second update boundaries fall at whole seconds of guest time until the
 * guest resets the divider chain. Register values are computed when read.
 *
 * Model choices:
 * - The time is held as binary fields (seconds, minutes, hours 0-23, day of week, date,
 *   month, year, century) and encoded on every read per register B: BCD or binary (DM) and
 *   24- or 12-hour (PM = bit 7 of the hours byte). Changing DM or 24/12 therefore changes
 *   the representation at once (the chip would keep the old coding until the guest
 *   rewrites the registers, which the datasheet asks it to do anyway). Writes are decoded
 *   the same way; a value that does not decode (a BCD nibble above 9) or lies outside the
 *   field's range (seconds 0-59, minutes 0-59, hours 0-23 or 1-12, day of week 1-7, date
 *   1-31, month 1-12, year and century 0-99) is ignored and counted in `ignoredWrites`.
 * - The update is instantaneous at each boundary; UIP reads 1 during the 244 µs (8 periods
 *   of the 32.768 kHz time base) before it, so a guest that waits for UIP = 0 always reads
 *   a consistent time. When the date rolls over, the calendar is Gregorian with the
 *   century byte as the high part of the year (the chip itself knows only year % 4); a
 *   date past the end of its month (31 February) counts on into the next month at the
 *   next midnight. The day of week counts on by itself, as on the chip.
 * - Writing a time register: while SET = 1 the write changes the frozen time and counting
 *   resumes from it at the first divider boundary after SET is cleared. With SET = 0 the
 *   write replaces that field of the current time at once and the divider phase is kept:
 *   the next update still comes at the usual boundary and counts on from the new value.
 *   The century lives at CMOS 0x32 and follows the same rules.
 * - Register A: DV = 11x holds the divider chain in reset (time frozen, no periodic or
 *   update interrupts, UIP = 0); leaving reset puts the first update 500 ms later. Every
 *   other DV value runs the clock as the PC's 32.768 kHz crystal does (000/001 select
 *   other crystals and 011/10x are factory tests; none of them exist on a PC). RS selects
 *   the periodic rate per the datasheet's 32.768 kHz column: 0 = none, 1 = 256 Hz,
 *   2 = 128 Hz, n = 3..15 → 65536 >> n Hz (8192 Hz .. 2 Hz).
 * - Register B: setting SET clears UIE (as the MC146818A-compatible DS12887 datasheet
 *   states). SQWE is stored (no SQW pin on a PC). DSE (daylight saving) is stored and
 *   ignored: the chip's US-1980s DST rule is not modelled.
 * - Register C flags PF, AF and UF are set by their events whether or not enabled; IRQF
 *   = (PF & PIE) | (AF & AIE) | (UF & UIE), so enabling an interrupt whose flag is already
 *   set asserts IRQ 8 at once. The IRQ line is high exactly while IRQF is set. Reading C
 *   returns and clears all four bits and lowers the line.
 * - Events: `nextEventNs` is the earliest enabled interrupt (the next periodic tick when
 *   PIE is set, the next update when UIE or AIE is set; the alarm is checked at each
 *   update). If the board calls `advanceTo` late by several periods, each flag is set once
 *   and the line raised once; the missed ticks are not replayed (a flag is a flag, as on
 *   the chip) and the next event is the next tick after that time.
 * - Periodic ticks fall at `phase + s·1 s + floor(j·1 s / rate)` for j = 0..rate-1, so
 *   every second of guest time holds exactly `rate` ticks even when the period is not a
 *   whole number of nanoseconds (1024-8192 Hz).
 * - Register D always reads VRT = 1 (battery good). C and D ignore writes (counted).
 * - Port 0x70 is write-only on the PC; reading it returns the last byte written (index and
 *   NMI mask bit). The NMI mask bit is stored and exposed as `nmiMasked` for the board.
 * - NVRAM 0x0E-0x7F is plain storage. The power-on contents are the standard PC bytes:
 *   floppy types 0x10 = 0 (no drives), equipment 0x14 (math coprocessor + PS/2 pointing
 *   device, display bits 00), base memory 0x15/0x16 (640 KiB), extended memory in KiB
 *   above 1 MiB at 0x17/0x18 and 0x30/0x31 (capped at 0xFFFF), memory above 16 MiB in
 *   64 KiB units at 0x34/0x35 (capped at 0xFFFF), memory above 4 GiB in 64 KiB units at
 *   0x5B-0x5D, and the checksum of 0x10-0x2D at 0x2E (high) / 0x2F (low). The checksum is
 *   computed at power-on only; afterwards it is the guest's to maintain.
 * - `reset()` is power-on: the time goes back to `baseTimeSeconds` + elapsed guest time
 *   and the NVRAM to its power-on contents (the board decides whether a guest reboot
 *   should call it; a real RTC keeps running through a reset).
 * - Accesses of 2 or 4 bytes act as consecutive byte accesses (0x70 then 0x71).
 */

import type { DeviceClock, TimedDevice } from '../../bus/clock.js';
import { NS_PER_SECOND } from '../../bus/clock.js';
import type { AccessSize, IoDevice } from '../../bus/io-bus.js';
import type { IrqLine } from '../../bus/irq.js';
import { type Persist, type SavedState, StateError, StateReader } from '../../persist/persist.js';
import { SECONDS_PER_DAY, civilFromDays, daysFromCivil, fromBcd, rtcDayOfWeek, toBcd } from './calendar.js';

// ---- ports ----
/** Index port (bit 7 = NMI mask). */
export const RTC_INDEX_PORT = 0x70;
/** Data port. */
export const RTC_DATA_PORT = 0x71;
/** Number of ports the device occupies starting at RTC_INDEX_PORT. */
export const RTC_PORT_COUNT = 2;
/** Port 0x70 bit 7: NMI disabled. */
export const RTC_INDEX_NMI_MASK = 0x80;
/** Port 0x70 bits 0-6: register index. */
export const RTC_INDEX_MASK = 0x7f;

// ---- register indices ----
/** Seconds. */
export const RTC_SECONDS = 0x00;
/** Seconds alarm. */
export const RTC_SECONDS_ALARM = 0x01;
/** Minutes. */
export const RTC_MINUTES = 0x02;
/** Minutes alarm. */
export const RTC_MINUTES_ALARM = 0x03;
/** Hours. */
export const RTC_HOURS = 0x04;
/** Hours alarm. */
export const RTC_HOURS_ALARM = 0x05;
/** Day of week (1 = Sunday). */
export const RTC_DAY_OF_WEEK = 0x06;
/** Day of month. */
export const RTC_DAY_OF_MONTH = 0x07;
/** Month. */
export const RTC_MONTH = 0x08;
/** Year (0-99). */
export const RTC_YEAR = 0x09;
/** Register A. */
export const RTC_REG_A = 0x0a;
/** Register B. */
export const RTC_REG_B = 0x0b;
/** Register C. */
export const RTC_REG_C = 0x0c;
/** Register D. */
export const RTC_REG_D = 0x0d;
/** Century (PC convention, CMOS 0x32). */
export const RTC_CENTURY = 0x32;

// ---- register A ----
/** Update in progress (read-only). */
export const RTC_A_UIP = 0x80;
/** Divider select DV2-0 (bits 4-6). */
export const RTC_A_DV_MASK = 0x70;
/** DV = 010: 32.768 kHz time base, normal operation. */
export const RTC_A_DV_32KHZ = 0x20;
/** DV2 and DV1 both set (11x): divider chain held in reset. */
export const RTC_A_DV_RESET = 0x60;
/** Rate select RS3-0. */
export const RTC_A_RS_MASK = 0x0f;

// ---- register B ----
/** Updates inhibited; the guest sets the time. */
export const RTC_B_SET = 0x80;
/** Periodic interrupt enable. */
export const RTC_B_PIE = 0x40;
/** Alarm interrupt enable. */
export const RTC_B_AIE = 0x20;
/** Update-ended interrupt enable. */
export const RTC_B_UIE = 0x10;
/** Square-wave output enable (no pin on a PC; stored). */
export const RTC_B_SQWE = 0x08;
/** Data mode: 1 = binary, 0 = BCD. */
export const RTC_B_DM_BINARY = 0x04;
/** 1 = 24-hour mode, 0 = 12-hour mode. */
export const RTC_B_24HOUR = 0x02;
/** Daylight saving enable (stored, ignored). */
export const RTC_B_DSE = 0x01;

// ---- register C ----
/** Interrupt request flag. */
export const RTC_C_IRQF = 0x80;
/** Periodic interrupt flag. */
export const RTC_C_PF = 0x40;
/** Alarm interrupt flag. */
export const RTC_C_AF = 0x20;
/** Update-ended interrupt flag. */
export const RTC_C_UF = 0x10;
const RTC_C_EVENT_FLAGS = RTC_C_PF | RTC_C_AF | RTC_C_UF;

// ---- register D ----
/** Valid RAM and time (battery good). */
export const RTC_D_VRT = 0x80;

/** 12-hour mode: PM flag in the hours and hours-alarm bytes. */
export const RTC_HOURS_PM = 0x80;
/** An alarm byte at or above this value matches any time ("don't care"). */
export const RTC_ALARM_DONT_CARE = 0xc0;

// ---- CMOS layout (IBM PC/AT and later conventions) ----
/** Shutdown status byte. */
export const CMOS_SHUTDOWN_STATUS = 0x0f;
/** Floppy drive types (high nibble drive A, low nibble drive B; 0 = none). */
export const CMOS_FLOPPY_TYPES = 0x10;
/** Equipment byte. */
export const CMOS_EQUIPMENT = 0x14;
/** Base memory in KiB, low byte (high byte at +1). */
export const CMOS_BASE_MEMORY = 0x15;
/** Extended memory above 1 MiB in KiB, low byte (high byte at +1). */
export const CMOS_EXTENDED_MEMORY = 0x17;
/** Checksum of 0x10-0x2D, high byte (low byte at +1). */
export const CMOS_CHECKSUM = 0x2e;
/** First byte covered by the checksum. */
export const CMOS_CHECKSUM_FIRST = 0x10;
/** Last byte covered by the checksum. */
export const CMOS_CHECKSUM_LAST = 0x2d;
/** Extended memory above 1 MiB in KiB (copy), low byte (high byte at +1). */
export const CMOS_EXTENDED_MEMORY_2 = 0x30;
/** Memory above 16 MiB in 64 KiB units, low byte (high byte at +1). */
export const CMOS_MEMORY_ABOVE_16M = 0x34;
/** Memory above 4 GiB in 64 KiB units, three bytes little-endian. */
export const CMOS_MEMORY_ABOVE_4G = 0x5b;
/** Equipment byte bit 1: math coprocessor installed. */
export const CMOS_EQUIPMENT_FPU = 0x02;
/** Equipment byte bit 2: pointing device (PS/2 mouse) installed. */
export const CMOS_EQUIPMENT_MOUSE = 0x04;
/** First NVRAM byte (after the clock registers). */
export const CMOS_NVRAM_FIRST = 0x0e;
/** Size of the register + NVRAM space. */
export const CMOS_SIZE = 128;

/** Power-on register A: 32.768 kHz divider, 1024 Hz rate (the value PC firmware programs). */
export const RTC_POWER_ON_REG_A = RTC_A_DV_32KHZ | 0x06;
/** Power-on register B: 24-hour BCD mode, no interrupts. */
export const RTC_POWER_ON_REG_B = RTC_B_24HOUR;
/** UIP lead time: 8 periods of 32.768 kHz = 244.140625 µs, rounded up to whole ns. */
export const RTC_UIP_LEAD_NS = 244_141;
/** Delay from releasing the divider chain to the first update. */
export const RTC_DIVIDER_RELEASE_DELAY_NS = NS_PER_SECOND / 2;

const KIB = 1024;
const MIB = 1024 * KIB;
const GIB = 1024 * MIB;
const BASE_MEMORY_KIB = 640;
const UNIT_64K = 64 * KIB;
const MAX_WORD = 0xffff;
const MAX_3BYTES = 0xff_ffff;
/** Largest baseTimeSeconds accepted: the end of year 9999 (the century byte's range). */
const MAX_BASE_TIME_SECONDS = daysFromCivil(10_000, 1, 1) * SECONDS_PER_DAY - 1;
/** Largest guest time a state may carry (doubles are exact integers up to 2^53). */
const MAX_STATE_NS = Number.MAX_SAFE_INTEGER;
/** Version of the saved state layout. */
const RTC_STATE_VERSION = 1;

/** Options the board gives the RTC. */
export interface RtcCmosOptions {
  /** Persist id and device name (default "rtc"). */
  readonly id?: string;
  /** The VM clock. */
  readonly clock: DeviceClock;
  /** IRQ 8. */
  readonly irq: IrqLine;
  /** Wall-clock time at power-on, Unix seconds (1970 .. 9999-12-31). */
  readonly baseTimeSeconds: number;
  /** Guest RAM below 4 GiB in bytes (a multiple of 1 KiB, at most 4 GiB). */
  readonly memoryBytes: number;
  /** Guest RAM mapped above 4 GiB in bytes (default 0). */
  readonly memoryAbove4GiBBytes?: number;
}

/** Saved state of the RTC. */
export interface RtcCmosState extends SavedState {
  readonly version: number;
  /** Last byte written to port 0x70 (index and NMI mask). */
  readonly index: number;
  /** Register A bits 0-6. */
  readonly regA: number;
  readonly regB: number;
  /** Register C PF/AF/UF bits (IRQF is derived). */
  readonly flags: number;
  readonly secondsAlarm: number;
  readonly minutesAlarm: number;
  readonly hoursAlarm: number;
  readonly second: number;
  readonly minute: number;
  /** 0-23. */
  readonly hour: number;
  readonly dayOfWeek: number;
  readonly dayOfMonth: number;
  readonly month: number;
  readonly year: number;
  readonly century: number;
  /** Update boundaries fall at guest times ≡ phaseNs (mod 1 s). */
  readonly phaseNs: number;
  /** Guest time up to which events have been accounted. */
  readonly accountedNs: number;
  /** All 128 bytes of the register/NVRAM space (only 0x0E-0x7F except 0x32 are used). */
  readonly nvram: number[];
  readonly ignoredWrites: number;
}

/** The MC146818A RTC and CMOS RAM at ports 0x70/0x71. */
export class RtcCmos implements IoDevice, TimedDevice, Persist<RtcCmosState> {
  readonly name: string;
  readonly persistId: string;
  private readonly clock: DeviceClock;
  private readonly irq: IrqLine;
  private readonly baseTimeSeconds: number;
  private readonly powerOnNvram: Uint8Array;

  private index = 0;
  private regA = RTC_POWER_ON_REG_A;
  private regB = RTC_POWER_ON_REG_B;
  private flags = 0;
  private secondsAlarm = 0;
  private minutesAlarm = 0;
  private hoursAlarm = 0;
  private second = 0;
  private minute = 0;
  private hour = 0;
  private dayOfWeek = 1;
  private dayOfMonth = 1;
  private month = 1;
  private year = 0;
  private century = 0;
  private phaseNs = 0;
  private accountedNs = 0;
  private readonly nvram = new Uint8Array(CMOS_SIZE);
  private ignoredWriteCount = 0;

  /** Create the RTC in its power-on state at the clock's current time. */
  constructor(options: RtcCmosOptions) {
    this.name = options.id ?? 'rtc';
    this.persistId = this.name;
    this.clock = options.clock;
    this.irq = options.irq;
    this.baseTimeSeconds = checkBaseTime(options.baseTimeSeconds);
    this.powerOnNvram = buildPowerOnNvram(
      checkMemorySize('memoryBytes', options.memoryBytes, 4 * GIB),
      checkMemorySize('memoryAbove4GiBBytes', options.memoryAbove4GiBBytes ?? 0, MAX_3BYTES * UNIT_64K),
    );
    this.reset();
  }

  /** Power-on state: time from baseTimeSeconds + elapsed guest seconds, default registers and NVRAM. */
  reset(): void {
    const now = this.clock.nowNs();
    this.index = 0;
    this.regA = RTC_POWER_ON_REG_A;
    this.regB = RTC_POWER_ON_REG_B;
    this.flags = 0;
    this.secondsAlarm = 0;
    this.minutesAlarm = 0;
    this.hoursAlarm = 0;
    this.phaseNs = 0;
    this.accountedNs = now;
    this.setTimeFromUnixSeconds(this.baseTimeSeconds + Math.floor(now / NS_PER_SECOND));
    this.nvram.set(this.powerOnNvram);
    this.ignoredWriteCount = 0;
    this.updateIrq();
  }

  /** True when the guest last wrote port 0x70 with bit 7 set (NMI disabled). */
  get nmiMasked(): boolean {
    return (this.index & RTC_INDEX_NMI_MASK) !== 0;
  }

  /** Writes the device ignored (read-only registers, undecodable or out-of-range time values). */
  get ignoredWrites(): number {
    return this.ignoredWriteCount;
  }

  // ---- IoDevice ----

  /** Read port 0x70 (offset 0) or 0x71 (offset 1); wider reads take consecutive ports. */
  ioRead(offset: number, size: AccessSize): number {
    let value = 0;
    for (let i = 0; i < size; i++) value |= this.readPort(offset + i) << (8 * i);
    return value >>> 0;
  }

  /** Write port 0x70 (offset 0) or 0x71 (offset 1); wider writes take consecutive ports. */
  ioWrite(offset: number, size: AccessSize, value: number): void {
    for (let i = 0; i < size; i++) this.writePort(offset + i, (value >>> (8 * i)) & 0xff);
  }

  private readPort(offset: number): number {
    if (offset === 0) return this.index;
    if (offset === 1) return this.readRegister(this.index & RTC_INDEX_MASK);
    return 0xff;
  }

  private writePort(offset: number, value: number): void {
    if (offset === 0) this.index = value;
    else if (offset === 1) this.writeRegister(this.index & RTC_INDEX_MASK, value);
    else this.ignoredWriteCount++;
  }

  // ---- TimedDevice ----

  /** Guest time of the next enabled interrupt (periodic tick or update), or Infinity. */
  nextEventNs(): number {
    let next = Infinity;
    if ((this.regB & RTC_B_PIE) !== 0) {
      const rate = this.periodicRate();
      if (rate !== 0) next = this.nextTickAfter(this.accountedNs, rate);
    }
    if ((this.regB & (RTC_B_UIE | RTC_B_AIE)) !== 0 && this.updatesRunning()) {
      next = Math.min(next, this.nextBoundaryAfter(this.accountedNs));
    }
    return next;
  }

  /** Account every tick and update up to `nowNs`; raises IRQ 8 for enabled events. */
  advanceTo(nowNs: number): void {
    this.catchUp(nowNs);
  }

  // ---- registers ----

  /** Read register `reg` (0-0x7F) at the clock's current time. */
  private readRegister(reg: number): number {
    const now = this.clock.nowNs();
    this.catchUp(now);
    switch (reg) {
      case RTC_SECONDS:
        return this.encode(this.second);
      case RTC_SECONDS_ALARM:
        return this.secondsAlarm;
      case RTC_MINUTES:
        return this.encode(this.minute);
      case RTC_MINUTES_ALARM:
        return this.minutesAlarm;
      case RTC_HOURS:
        return this.encodeHour(this.hour);
      case RTC_HOURS_ALARM:
        return this.hoursAlarm;
      case RTC_DAY_OF_WEEK:
        return this.encode(this.dayOfWeek);
      case RTC_DAY_OF_MONTH:
        return this.encode(this.dayOfMonth);
      case RTC_MONTH:
        return this.encode(this.month);
      case RTC_YEAR:
        return this.encode(this.year);
      case RTC_REG_A:
        return this.regA | (this.updateInProgress(now) ? RTC_A_UIP : 0);
      case RTC_REG_B:
        return this.regB;
      case RTC_REG_C:
        return this.readRegisterC();
      case RTC_REG_D:
        return RTC_D_VRT;
      case RTC_CENTURY:
        return this.encode(this.century);
      default:
        return this.nvram[reg]!;
    }
  }

  /** Write register `reg` (0-0x7F) at the clock's current time. */
  private writeRegister(reg: number, value: number): void {
    const now = this.clock.nowNs();
    this.catchUp(now);
    switch (reg) {
      case RTC_SECONDS:
        this.writeTimeField(reg, this.decode(value), 0, 59);
        break;
      case RTC_MINUTES:
        this.writeTimeField(reg, this.decode(value), 0, 59);
        break;
      case RTC_HOURS:
        this.writeTimeField(reg, this.decodeHour(value), 0, 23);
        break;
      case RTC_DAY_OF_WEEK:
        this.writeTimeField(reg, this.decode(value), 1, 7);
        break;
      case RTC_DAY_OF_MONTH:
        this.writeTimeField(reg, this.decode(value), 1, 31);
        break;
      case RTC_MONTH:
        this.writeTimeField(reg, this.decode(value), 1, 12);
        break;
      case RTC_YEAR:
      case RTC_CENTURY:
        this.writeTimeField(reg, this.decode(value), 0, 99);
        break;
      case RTC_SECONDS_ALARM:
        this.secondsAlarm = value;
        break;
      case RTC_MINUTES_ALARM:
        this.minutesAlarm = value;
        break;
      case RTC_HOURS_ALARM:
        this.hoursAlarm = value;
        break;
      case RTC_REG_A:
        this.writeRegisterA(value, now);
        break;
      case RTC_REG_B:
        this.writeRegisterB(value);
        break;
      case RTC_REG_C:
      case RTC_REG_D:
        this.ignoredWriteCount++;
        break;
      default:
        this.nvram[reg] = value;
    }
  }

  /** Store a decoded time field if it is in [min, max]; otherwise count the write as ignored. */
  private writeTimeField(reg: number, value: number, min: number, max: number): void {
    if (value < min || value > max) {
      this.ignoredWriteCount++;
      return;
    }
    switch (reg) {
      case RTC_SECONDS:
        this.second = value;
        break;
      case RTC_MINUTES:
        this.minute = value;
        break;
      case RTC_HOURS:
        this.hour = value;
        break;
      case RTC_DAY_OF_WEEK:
        this.dayOfWeek = value;
        break;
      case RTC_DAY_OF_MONTH:
        this.dayOfMonth = value;
        break;
      case RTC_MONTH:
        this.month = value;
        break;
      case RTC_YEAR:
        this.year = value;
        break;
      default:
        this.century = value;
    }
  }

  /** Register A: UIP is read-only; leaving divider reset starts the chain half a second before an update. */
  private writeRegisterA(value: number, now: number): void {
    const before = this.nextEventNs();
    const wasHeld = this.dividerHeld();
    this.regA = value & ~RTC_A_UIP & 0xff;
    if (wasHeld && !this.dividerHeld()) {
      this.phaseNs = positiveModulo(now + RTC_DIVIDER_RELEASE_DELAY_NS, NS_PER_SECOND);
    }
    this.rescheduleIfEarlier(before);
  }

  /** Register B: SET clears UIE; enabling an interrupt whose flag is set asserts IRQ 8. */
  private writeRegisterB(value: number): void {
    const before = this.nextEventNs();
    let b = value & 0xff;
    if ((b & RTC_B_SET) !== 0) b &= ~RTC_B_UIE;
    this.regB = b;
    this.updateIrq();
    this.rescheduleIfEarlier(before);
  }

  /** Register C: flags and IRQF, cleared by the read; the IRQ line falls. */
  private readRegisterC(): number {
    const value = this.flags | (this.interruptRequested() ? RTC_C_IRQF : 0);
    this.flags = 0;
    this.updateIrq();
    return value;
  }

  private rescheduleIfEarlier(before: number): void {
    if (this.nextEventNs() < before) this.clock.reschedule();
  }

  // ---- time keeping ----

  /** Set every time field from a Unix time (seconds). */
  private setTimeFromUnixSeconds(unixSeconds: number): void {
    const days = Math.floor(unixSeconds / SECONDS_PER_DAY);
    const secondOfDay = unixSeconds - days * SECONDS_PER_DAY;
    this.setTimeOfDay(secondOfDay);
    const date = civilFromDays(days);
    this.dayOfMonth = date.day;
    this.month = date.month;
    this.year = date.year % 100;
    this.century = Math.floor(date.year / 100) % 100;
    this.dayOfWeek = rtcDayOfWeek(days);
  }

  private setTimeOfDay(secondOfDay: number): void {
    this.hour = Math.floor(secondOfDay / 3600);
    this.minute = Math.floor(secondOfDay / 60) % 60;
    this.second = secondOfDay % 60;
  }

  private secondOfDay(): number {
    return this.hour * 3600 + this.minute * 60 + this.second;
  }

  /** Count the time on by `seconds` updates; the date changes only when midnight passes. */
  private advanceTime(seconds: number): void {
    const total = this.secondOfDay() + seconds;
    const dayDelta = Math.floor(total / SECONDS_PER_DAY);
    this.setTimeOfDay(total - dayDelta * SECONDS_PER_DAY);
    if (dayDelta === 0) return;
    const fullYear = this.century * 100 + this.year;
    const date = civilFromDays(daysFromCivil(fullYear, this.month, this.dayOfMonth) + dayDelta);
    this.dayOfMonth = date.day;
    this.month = date.month;
    this.year = date.year % 100;
    this.century = Math.floor(date.year / 100) % 100;
    this.dayOfWeek = ((this.dayOfWeek - 1 + (dayDelta % 7)) % 7) + 1;
  }

  /**
   * Account every periodic tick and update in (accountedNs, now]: set PF/UF/AF, advance the
   * time, and drive the IRQ line. Times earlier than already accounted are ignored.
   */
  private catchUp(now: number): void {
    if (!(now > this.accountedNs)) return;
    const from = this.accountedNs;
    const rate = this.periodicRate();
    if (rate !== 0 && this.nextTickAfter(from, rate) <= now) this.flags |= RTC_C_PF;
    if (this.updatesRunning()) {
      const firstUpdate = this.nextBoundaryAfter(from);
      if (firstUpdate <= now) {
        const updates = Math.floor((now - firstUpdate) / NS_PER_SECOND) + 1;
        this.flags |= RTC_C_UF;
        if (this.alarmMatchesWithin(updates)) this.flags |= RTC_C_AF;
        this.advanceTime(updates);
      }
    }
    this.accountedNs = now;
    this.updateIrq();
  }

  /** True when the alarm matches the time after any of the next `updates` updates. */
  private alarmMatchesWithin(updates: number): boolean {
    const start = this.secondOfDay();
    // After a full day every time of day has been visited once.
    const count = Math.min(updates, SECONDS_PER_DAY);
    for (let i = 1; i <= count; i++) {
      if (this.alarmMatches((start + i) % SECONDS_PER_DAY)) return true;
    }
    return false;
  }

  /** Compare the alarm bytes with the encoded time `secondOfDay` (0xC0-0xFF = don't care). */
  private alarmMatches(secondOfDay: number): boolean {
    return (
      alarmFieldMatches(this.secondsAlarm, this.encode(secondOfDay % 60)) &&
      alarmFieldMatches(this.minutesAlarm, this.encode(Math.floor(secondOfDay / 60) % 60)) &&
      alarmFieldMatches(this.hoursAlarm, this.encodeHour(Math.floor(secondOfDay / 3600)))
    );
  }

  /** UIP: updates running and the next update less than 244 µs away. */
  private updateInProgress(now: number): boolean {
    return this.updatesRunning() && this.nextBoundaryAfter(now) - now <= RTC_UIP_LEAD_NS;
  }

  private dividerHeld(): boolean {
    return (this.regA & RTC_A_DV_RESET) === RTC_A_DV_RESET;
  }

  /** The time counts: divider running and SET clear. */
  private updatesRunning(): boolean {
    return !this.dividerHeld() && (this.regB & RTC_B_SET) === 0;
  }

  /** Periodic interrupt rate in Hz (0 = none or divider held). */
  private periodicRate(): number {
    if (this.dividerHeld()) return 0;
    return periodicRateHz(this.regA & RTC_A_RS_MASK);
  }

  /** First update boundary strictly after `t`. */
  private nextBoundaryAfter(t: number): number {
    return this.phaseNs + (Math.floor((t - this.phaseNs) / NS_PER_SECOND) + 1) * NS_PER_SECOND;
  }

  /** First periodic tick strictly after `t` at `rate` Hz (ticks are aligned to the update boundaries). */
  private nextTickAfter(t: number, rate: number): number {
    const second = Math.floor((t - this.phaseNs) / NS_PER_SECOND);
    const secondStart = this.phaseNs + second * NS_PER_SECOND;
    const within = t - secondStart;
    let j = Math.floor((within * rate) / NS_PER_SECOND);
    while (Math.floor((j * NS_PER_SECOND) / rate) <= within) j++;
    if (j >= rate) return secondStart + NS_PER_SECOND;
    return secondStart + Math.floor((j * NS_PER_SECOND) / rate);
  }

  // ---- interrupts ----

  private interruptRequested(): boolean {
    const b = this.regB;
    const f = this.flags;
    return (
      ((f & RTC_C_PF) !== 0 && (b & RTC_B_PIE) !== 0) ||
      ((f & RTC_C_AF) !== 0 && (b & RTC_B_AIE) !== 0) ||
      ((f & RTC_C_UF) !== 0 && (b & RTC_B_UIE) !== 0)
    );
  }

  private updateIrq(): void {
    this.irq.set(this.interruptRequested());
  }

  // ---- register coding ----

  private binaryMode(): boolean {
    return (this.regB & RTC_B_DM_BINARY) !== 0;
  }

  /** Binary value → register byte (BCD unless DM = binary). */
  private encode(value: number): number {
    return this.binaryMode() ? value : toBcd(value);
  }

  /** Register byte → binary value, -1 if it does not decode. */
  private decode(value: number): number {
    return this.binaryMode() ? value : fromBcd(value);
  }

  /** Hours 0-23 → register byte per the 24/12 and DM bits. */
  private encodeHour(hour: number): number {
    if ((this.regB & RTC_B_24HOUR) !== 0) return this.encode(hour);
    const twelve = hour % 12 === 0 ? 12 : hour % 12;
    return this.encode(twelve) | (hour >= 12 ? RTC_HOURS_PM : 0);
  }

  /** Register byte → hours 0-23, -1 if it does not decode to a valid hour. */
  private decodeHour(value: number): number {
    if ((this.regB & RTC_B_24HOUR) !== 0) return this.decode(value);
    const twelve = this.decode(value & ~RTC_HOURS_PM);
    if (twelve < 1 || twelve > 12) return -1;
    return (twelve % 12) + ((value & RTC_HOURS_PM) !== 0 ? 12 : 0);
  }

  // ---- Persist ----

  /** Capture registers, time, divider phase and NVRAM. */
  save(): RtcCmosState {
    return {
      version: RTC_STATE_VERSION,
      index: this.index,
      regA: this.regA,
      regB: this.regB,
      flags: this.flags,
      secondsAlarm: this.secondsAlarm,
      minutesAlarm: this.minutesAlarm,
      hoursAlarm: this.hoursAlarm,
      second: this.second,
      minute: this.minute,
      hour: this.hour,
      dayOfWeek: this.dayOfWeek,
      dayOfMonth: this.dayOfMonth,
      month: this.month,
      year: this.year,
      century: this.century,
      phaseNs: this.phaseNs,
      accountedNs: this.accountedNs,
      nvram: Array.from(this.nvram),
      ignoredWrites: this.ignoredWriteCount,
    };
  }

  /** Validate `state` completely, then apply it and drive IRQ 8 to match. */
  restore(state: unknown): void {
    const s = this.validateState(state);
    this.index = s.index;
    this.regA = s.regA;
    this.regB = s.regB;
    this.flags = s.flags;
    this.secondsAlarm = s.secondsAlarm;
    this.minutesAlarm = s.minutesAlarm;
    this.hoursAlarm = s.hoursAlarm;
    this.second = s.second;
    this.minute = s.minute;
    this.hour = s.hour;
    this.dayOfWeek = s.dayOfWeek;
    this.dayOfMonth = s.dayOfMonth;
    this.month = s.month;
    this.year = s.year;
    this.century = s.century;
    this.phaseNs = s.phaseNs;
    this.accountedNs = s.accountedNs;
    this.nvram.set(s.nvram);
    this.ignoredWriteCount = s.ignoredWrites;
    this.updateIrq();
  }

  /** Check every field of untrusted state; throws StateError naming the bad field. */
  private validateState(state: unknown): RtcCmosState {
    const r = new StateReader(this.persistId, state);
    const version = r.version([RTC_STATE_VERSION]);
    const flags = r.int('flags', 0, 0xff);
    if ((flags & ~RTC_C_EVENT_FLAGS) !== 0) {
      throw new StateError(this.persistId, 'flags', `bits ${flags} outside PF|AF|UF`);
    }
    return {
      version,
      index: r.int('index', 0, 0xff),
      regA: r.int('regA', 0, 0x7f),
      regB: r.int('regB', 0, 0xff),
      flags,
      secondsAlarm: r.int('secondsAlarm', 0, 0xff),
      minutesAlarm: r.int('minutesAlarm', 0, 0xff),
      hoursAlarm: r.int('hoursAlarm', 0, 0xff),
      second: r.int('second', 0, 59),
      minute: r.int('minute', 0, 59),
      hour: r.int('hour', 0, 23),
      dayOfWeek: r.int('dayOfWeek', 1, 7),
      dayOfMonth: r.int('dayOfMonth', 1, 31),
      month: r.int('month', 1, 12),
      year: r.int('year', 0, 99),
      century: r.int('century', 0, 99),
      phaseNs: r.int('phaseNs', 0, NS_PER_SECOND - 1),
      accountedNs: r.int('accountedNs', 0, MAX_STATE_NS),
      nvram: [...r.ints('nvram', 0, 0xff, CMOS_SIZE, CMOS_SIZE)],
      ignoredWrites: r.int('ignoredWrites', 0, Number.MAX_SAFE_INTEGER),
    };
  }
}

/** Periodic interrupt rate in Hz for rate-select `rs` with the 32.768 kHz time base (0 = off). */
export function periodicRateHz(rs: number): number {
  if (rs === 0) return 0;
  if (rs <= 2) return 0x10000 >>> (rs + 7);
  return 0x10000 >>> rs;
}

function alarmFieldMatches(alarm: number, current: number): boolean {
  return alarm >= RTC_ALARM_DONT_CARE || alarm === current;
}

function positiveModulo(value: number, modulus: number): number {
  return ((value % modulus) + modulus) % modulus;
}

function checkBaseTime(seconds: number): number {
  if (!Number.isInteger(seconds) || seconds < 0 || seconds > MAX_BASE_TIME_SECONDS) {
    throw new RangeError(`rtc: baseTimeSeconds must be an integer Unix time in [0, ${MAX_BASE_TIME_SECONDS}], got ${seconds}`);
  }
  return seconds;
}

function checkMemorySize(option: string, bytes: number, max: number): number {
  if (!Number.isInteger(bytes) || bytes < 0 || bytes > max || bytes % KIB !== 0) {
    throw new RangeError(`rtc: ${option} must be a multiple of 1024 in [0, ${max}], got ${bytes}`);
  }
  return bytes;
}

/** The standard PC CMOS contents for the given memory sizes, checksum included. */
function buildPowerOnNvram(memoryBytes: number, above4GiBBytes: number): Uint8Array {
  const nvram = new Uint8Array(CMOS_SIZE);
  nvram[CMOS_FLOPPY_TYPES] = 0;
  nvram[CMOS_EQUIPMENT] = CMOS_EQUIPMENT_FPU | CMOS_EQUIPMENT_MOUSE;
  writeWord(nvram, CMOS_BASE_MEMORY, Math.min(BASE_MEMORY_KIB, Math.floor(memoryBytes / KIB)));
  const extendedKib = memoryBytes > MIB ? Math.min(MAX_WORD, Math.floor((memoryBytes - MIB) / KIB)) : 0;
  writeWord(nvram, CMOS_EXTENDED_MEMORY, extendedKib);
  writeWord(nvram, CMOS_EXTENDED_MEMORY_2, extendedKib);
  const above16M = memoryBytes > 16 * MIB ? Math.min(MAX_WORD, Math.floor((memoryBytes - 16 * MIB) / UNIT_64K)) : 0;
  writeWord(nvram, CMOS_MEMORY_ABOVE_16M, above16M);
  const above4G = Math.min(MAX_3BYTES, Math.floor(above4GiBBytes / UNIT_64K));
  nvram[CMOS_MEMORY_ABOVE_4G] = above4G & 0xff;
  nvram[CMOS_MEMORY_ABOVE_4G + 1] = (above4G >>> 8) & 0xff;
  nvram[CMOS_MEMORY_ABOVE_4G + 2] = (above4G >>> 16) & 0xff;
  writeChecksum(nvram);
  return nvram;
}

/** Store the 16-bit sum of bytes 0x10-0x2D at 0x2E (high byte) and 0x2F (low byte). */
export function writeChecksum(nvram: Uint8Array): void {
  let sum = 0;
  for (let i = CMOS_CHECKSUM_FIRST; i <= CMOS_CHECKSUM_LAST; i++) sum += nvram[i]!;
  nvram[CMOS_CHECKSUM] = (sum >>> 8) & 0xff;
  nvram[CMOS_CHECKSUM + 1] = sum & 0xff;
}

function writeWord(nvram: Uint8Array, offset: number, value: number): void {
  nvram[offset] = value & 0xff;
  nvram[offset + 1] = (value >>> 8) & 0xff;
}
