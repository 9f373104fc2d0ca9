/**
 * One counter of the 8254 (Intel 82C54 datasheet, "Modes" 0-5, "Read Operations", "Read-Back
 * Command", "Gate" table), evaluated lazily from the input-clock pulse number instead of being
 * clocked: the counter remembers the pulse at which its counting element (CE) was last loaded
 * and derives CE, OUT and null count for any later pulse.
 *
 * Timeline conventions (pulse k occurs at k / 1.193182 MHz; "tick" = the latest pulse that has
 * occurred at the time of an access):
 * - A count written at tick w is transferred to CE on pulse w + 1 (e = 0 there); pulse w + 1 + j
 *   shows e = j. Mode 0: OUT rises at e = N. Mode 1: OUT low for e in [0, N). Mode 2: OUT low at
 *   e ≡ N - 1 (mod N), CE reloads at every multiple of N. Mode 3: OUT high for the first
 *   ceil(N/2) pulses of each period, low for the rest; CE counts down by two (odd N: from N - 1,
 *   the high half ending with one pulse at 0). Modes 4/5: OUT low for the single pulse e = N.
 * - After terminal count in modes 0, 1, 4, 5 the CE keeps wrapping (binary 0 → FFFF,
 *   BCD 0 → 9999), as the datasheet says.
 * - Mode 2/3: a count written while counting takes effect at the next reload (mode 2) or the next
 *   half-cycle boundary (mode 3); modes 1/5: at the next gate trigger; modes 0/4: on the next pulse.
 * - Gate: modes 0/4 suspend counting while low; modes 2/3 stop counting and force OUT high while
 *   low and reload on the pulse after the gate rises; modes 1/5 trigger on a rising gate.
 * - Counts of 1 in modes 2 and 3 (illegal on the 8254) run with a one-pulse period and OUT high.
 * - BCD counts with a nibble above 9 take that digit as 9.
 */

import { floorDiv } from './pit-time.js';

/** Counting element modulus in binary mode. */
const BINARY_MODULUS = 0x10000;
/** Counting element modulus in BCD mode. */
const BCD_MODULUS = 10000;

/** Control-word access field (RW1 RW0). */
export const enum PitAccess {
  Latch = 0,
  Lsb = 1,
  Msb = 2,
  LsbMsb = 3,
}

/** Where a counter is in its life. */
export const enum PitPhase {
  /** Not counting: after a control word, before a trigger, or mode 0 between count bytes. */
  Idle = 0,
  /** Counting along the timeline that starts at `startTick`. */
  Running = 1,
  /** Gate low: modes 0/4 frozen at `frozenE`; modes 2/3 stopped until the gate rises. */
  Gated = 2,
}

/** Saved state of one counter (every field; see `PitCounter` for meanings). */
export interface PitCounterState {
  readonly modeBits: number;
  readonly access: number;
  readonly bcd: boolean;
  readonly cr: number;
  readonly crValid: boolean;
  readonly crLow: number;
  readonly writeMsbNext: boolean;
  readonly readMsbNext: boolean;
  readonly countLatched: boolean;
  readonly latchedCount: number;
  readonly statusLatched: boolean;
  readonly latchedStatus: number;
  readonly gate: boolean;
  readonly phase: number;
  readonly heldCount: number;
  readonly heldOut: boolean;
  readonly count: number;
  readonly startTick: number;
  readonly frozenE: number;
  readonly switchPending: boolean;
  readonly switchTick: number;
  readonly switchCount: number;
  readonly switchStart: number;
  readonly crAwaitingLoad: boolean;
  readonly transferTick: number;
}

/** Mode bits M2-M0 → the mode they select (6 and 7 alias 2 and 3). */
export function effectiveMode(modeBits: number): number {
  return (modeBits & 2) !== 0 ? modeBits & 3 : modeBits;
}

/** Decode a count register value to the number of pulses it stands for (0 = maximum). */
export function decodeCount(cr: number, bcd: boolean): number {
  if (!bcd) return cr === 0 ? BINARY_MODULUS : cr;
  let value = 0;
  for (let shift = 12; shift >= 0; shift -= 4) value = value * 10 + Math.min((cr >>> shift) & 0xf, 9);
  return value === 0 ? BCD_MODULUS : value;
}

/** Encode a counting-element value (0..9999) as four BCD digits. */
function toBcd(value: number): number {
  let result = 0;
  for (let shift = 0; shift < 16; shift += 4) {
    result |= (value % 10) << shift;
    value = Math.floor(value / 10);
  }
  return result;
}

/** One 8254 counter. Fields are public to the PIT module for Persist; guests reach them via ports. */
export class PitCounter {
  /** Control word mode bits M2-M0 as written (status byte reports these). */
  modeBits = 0;
  access: PitAccess = PitAccess.LsbMsb;
  bcd = false;
  /** Count register as last written (raw 16 bits). */
  cr = 0;
  /** A complete count has been written since the last control word. */
  crValid = false;
  /** First byte of an LSB-then-MSB write. */
  crLow = 0;
  writeMsbNext = false;
  readMsbNext = false;
  countLatched = false;
  latchedCount = 0;
  statusLatched = false;
  latchedStatus = 0;
  gate: boolean;
  phase: PitPhase = PitPhase.Idle;
  /** CE (displayed form) shown while not counting or before the load pulse. */
  heldCount = 0;
  /** OUT shown while not counting or before the load pulse. */
  heldOut = false;
  /** N: pulses per count cycle of the running timeline (1..65536, BCD 1..10000). */
  count = BINARY_MODULUS;
  /** Pulse at which CE held N (e = 0). */
  startTick = 0;
  /** Modes 0/4 gated: elapsed pulses at the moment the gate fell. */
  frozenE = 0;
  /** Modes 2/3: a new count waits for the next reload / half-cycle boundary. */
  switchPending = false;
  switchTick = 0;
  switchCount = BINARY_MODULUS;
  switchStart = 0;
  /** Null count: the count register has not been transferred to CE yet... */
  crAwaitingLoad = true;
  /** ...or will be at this pulse. */
  transferTick = 0;

  constructor(readonly index: number, private readonly gateAtReset: boolean) {
    this.gate = gateAtReset;
  }

  /** Power-on state (the datasheet leaves it undefined): mode 0, LSB-then-MSB, binary, idle, OUT low. */
  reset(): void {
    this.apply(this.resetState());
  }

  get mode(): number {
    return effectiveMode(this.modeBits);
  }

  private modulus(): number {
    return this.bcd ? BCD_MODULUS : BINARY_MODULUS;
  }

  // ---- timeline evaluation ----

  /** Apply a pending mode 2/3 count change whose boundary has passed. */
  settle(tick: number): void {
    if (!this.switchPending || tick < this.switchTick) return;
    this.count = this.switchCount;
    this.startTick = this.switchStart;
    this.switchPending = false;
  }

  /** Numeric CE value at elapsed pulse e ≥ 0 of a timeline with count n. */
  private valueAt(e: number, n: number): number {
    const mode = this.mode;
    const m = this.modulus();
    if (mode === 2) return (n - (e % n)) % m;
    if (mode === 3) {
      const high = (n + 1) >> 1;
      const q = e % n;
      const j = q < high ? q : q - high;
      const top = (n & 1) === 0 ? n : n - 1;
      return (top - 2 * j) % m;
    }
    return (((n - e) % m) + m) % m;
  }

  /** OUT level at elapsed pulse e ≥ 0 of a timeline with count n. */
  private outAtElapsed(e: number, n: number): boolean {
    switch (this.mode) {
      case 0:
        return e >= n;
      case 1:
        return e >= n;
      case 2:
        return n === 1 || e % n !== n - 1;
      case 3:
        return e % n < (n + 1) >> 1;
      default: // 4, 5
        return e !== n;
    }
  }

  /** Displayed CE (binary or BCD digits) at `tick`. */
  countAt(tick: number): number {
    this.settle(tick);
    let e: number;
    if (this.phase === PitPhase.Running) e = tick - this.startTick;
    else if (this.phase === PitPhase.Gated && this.frozenGating()) e = this.frozenE;
    else return this.heldCount;
    if (e < 0) return this.heldCount;
    const value = this.valueAt(e, this.count);
    return this.bcd ? toBcd(value) : value;
  }

  /** OUT at `tick`. */
  outAt(tick: number): boolean {
    this.settle(tick);
    let e: number;
    if (this.phase === PitPhase.Running) e = tick - this.startTick;
    else if (this.phase === PitPhase.Gated && this.frozenGating()) e = this.frozenE;
    else return this.heldOut;
    if (e < 0) return this.heldOut;
    return this.outAtElapsed(e, this.count);
  }

  /** True while null count is set at `tick`. */
  nullCountAt(tick: number): boolean {
    return this.crAwaitingLoad || tick < this.transferTick;
  }

  /** Modes 0 and 4 freeze their count while gated (2/3 stop and hold a snapshot). */
  private frozenGating(): boolean {
    const mode = this.mode;
    return mode === 0 || mode === 4;
  }

  /** First rising edge of OUT after `afterTick` on the timeline (start, n), or Infinity. */
  private firstEdge(start: number, n: number, afterTick: number): number {
    const mode = this.mode;
    if (mode === 2 || mode === 3) {
      if (afterTick < start + n) return start + n;
      return start + n * (floorDiv(afterTick - start, n) + 1);
    }
    const edge = mode === 0 || mode === 1 ? start + n : start + n + 1;
    return edge > afterTick ? edge : Infinity;
  }

  /** The first pulse after `afterTick` at which OUT rises while counting, or Infinity. */
  nextRisingEdge(afterTick: number): number {
    if (this.phase !== PitPhase.Running) return Infinity;
    if (!this.switchPending) return this.firstEdge(this.startTick, this.count, afterTick);
    const old = this.firstEdge(this.startTick, this.count, afterTick);
    if (old <= this.switchTick) return old;
    return this.firstEdge(this.switchStart, this.switchCount, Math.max(afterTick, this.switchTick));
  }

  // ---- guest accesses ----

  /** Control word (not a latch command) for this counter at `tick`. */
  writeControl(tick: number, value: number): void {
    this.heldCount = this.countAt(tick);
    this.access = ((value >> 4) & 3) as PitAccess;
    this.modeBits = (value >> 1) & 7;
    this.bcd = (value & 1) !== 0;
    this.heldOut = this.mode !== 0;
    this.phase = PitPhase.Idle;
    this.crValid = false;
    this.crAwaitingLoad = true;
    this.switchPending = false;
    this.writeMsbNext = false;
    this.readMsbNext = false;
    this.countLatched = false;
    this.statusLatched = false;
  }

  /** Counter latch command: freeze the current CE for reading (ignored while a latch is unread). */
  latchCount(tick: number): void {
    if (this.countLatched) return;
    this.latchedCount = this.countAt(tick);
    this.countLatched = true;
  }

  /** Read-back status latch (ignored while a status is unread). */
  latchStatus(tick: number): void {
    if (this.statusLatched) return;
    const out = this.outAt(tick) ? 0x80 : 0;
    const nullCount = this.nullCountAt(tick) ? 0x40 : 0;
    this.latchedStatus = out | nullCount | (this.access << 4) | (this.modeBits << 1) | (this.bcd ? 1 : 0);
    this.statusLatched = true;
  }

  /** A read of the counter's data port at `tick`. */
  read(tick: number): number {
    if (this.statusLatched) {
      this.statusLatched = false;
      return this.latchedStatus;
    }
    const latched = this.countLatched;
    const value = latched ? this.latchedCount : this.countAt(tick);
    let byte: number;
    switch (this.access) {
      case PitAccess.Lsb:
        byte = value & 0xff;
        this.countLatched = false;
        break;
      case PitAccess.Msb:
        byte = value >>> 8;
        this.countLatched = false;
        break;
      default:
        byte = this.readMsbNext ? value >>> 8 : value & 0xff;
        if (this.readMsbNext) this.countLatched = false;
        this.readMsbNext = !this.readMsbNext;
        break;
    }
    return byte;
  }

  /**
   * A write of the counter's data port at `tick`. Returns true when a complete count was
   * written (the caller then re-plans events), false for the first byte of two.
   */
  write(tick: number, value: number): boolean {
    switch (this.access) {
      case PitAccess.Lsb:
        this.cr = value;
        break;
      case PitAccess.Msb:
        this.cr = value << 8;
        break;
      default:
        if (!this.writeMsbNext) {
          this.crLow = value;
          this.writeMsbNext = true;
          if (this.mode === 0) this.stopForFirstByte(tick);
          return false;
        }
        this.cr = this.crLow | (value << 8);
        this.writeMsbNext = false;
        break;
    }
    this.countWritten(tick);
    return true;
  }

  /** Mode 0: writing the first byte of a two-byte count disables counting; OUT goes low. */
  private stopForFirstByte(tick: number): void {
    this.heldCount = this.countAt(tick);
    this.heldOut = false;
    this.phase = PitPhase.Idle;
    this.switchPending = false;
  }

  /** A complete count register value arrived at `tick`. */
  private countWritten(tick: number): void {
    this.settle(tick);
    this.crValid = true;
    this.crAwaitingLoad = true;
    switch (this.mode) {
      case 0:
      case 4:
        this.restartOneShot(tick);
        break;
      case 2:
      case 3:
        this.newPeriodicCount(tick);
        break;
      default: // 1, 5: the count waits for the next gate trigger
        break;
    }
  }

  /** Modes 0/4: load on the next pulse; a low gate holds the count until it rises. */
  private restartOneShot(tick: number): void {
    this.heldCount = this.countAt(tick);
    if (this.mode === 0) this.heldOut = false;
    else this.heldOut = this.outAt(tick);
    this.count = decodeCount(this.cr, this.bcd);
    this.switchPending = false;
    this.crAwaitingLoad = false;
    this.transferTick = tick + 1;
    if (this.gate) {
      this.phase = PitPhase.Running;
      this.startTick = tick + 1;
    } else {
      this.phase = PitPhase.Gated;
      this.frozenE = 0;
    }
  }

  /** Modes 2/3: start now if idle, else switch at the next reload boundary. */
  private newPeriodicCount(tick: number): void {
    const n = decodeCount(this.cr, this.bcd);
    if (this.phase === PitPhase.Gated || !this.gate) {
      this.heldCount = this.countAt(tick);
      this.heldOut = true;
      this.phase = PitPhase.Gated;
      return;
    }
    if (this.phase === PitPhase.Idle || tick < this.startTick) {
      if (this.phase === PitPhase.Idle) this.heldCount = this.countAt(tick);
      this.heldOut = true;
      this.phase = PitPhase.Running;
      this.startTick = tick + 1;
      this.count = n;
      this.switchPending = false;
      this.crAwaitingLoad = false;
      this.transferTick = tick + 1;
      return;
    }
    this.scheduleSwitch(tick, n);
  }

  /** Mode 2/3 count change while counting: record the boundary where the new count starts. */
  private scheduleSwitch(tick: number, n: number): void {
    const old = this.count;
    const e = tick - this.startTick;
    const periodStart = this.startTick + old * floorDiv(e, old);
    let boundary: number;
    let newStart: number;
    if (this.mode === 2) {
      boundary = periodStart + old;
      newStart = boundary;
    } else {
      const lowStart = periodStart + ((old + 1) >> 1);
      if (tick < lowStart) {
        boundary = lowStart;
        newStart = lowStart - ((n + 1) >> 1);
      } else {
        boundary = periodStart + old;
        newStart = boundary;
      }
    }
    this.switchPending = true;
    this.switchTick = boundary;
    this.switchCount = n;
    this.switchStart = newStart;
    this.crAwaitingLoad = false;
    this.transferTick = boundary;
  }

  /** The gate input changed to `level` at `tick`. */
  setGate(tick: number, level: boolean): void {
    if (level === this.gate) return;
    this.settle(tick);
    const mode = this.mode;
    if (mode === 1 || mode === 5) {
      if (level) this.trigger(tick);
    } else if (mode === 0 || mode === 4) {
      this.gateOneShot(tick, level);
    } else {
      this.gatePeriodic(tick, level);
    }
    this.gate = level;
  }

  /** Modes 1/5: a rising gate (re)loads the count on the next pulse. */
  private trigger(tick: number): void {
    if (!this.crValid) return;
    this.heldCount = this.countAt(tick);
    this.heldOut = this.outAt(tick);
    this.count = decodeCount(this.cr, this.bcd);
    this.phase = PitPhase.Running;
    this.startTick = tick + 1;
    this.crAwaitingLoad = false;
    this.transferTick = tick + 1;
  }

  /** Modes 0/4: freeze while the gate is low, resume where it stopped. */
  private gateOneShot(tick: number, level: boolean): void {
    if (!level && this.phase === PitPhase.Running) {
      this.frozenE = Math.max(0, tick - this.startTick);
      this.phase = PitPhase.Gated;
    } else if (level && this.phase === PitPhase.Gated) {
      this.startTick = tick - this.frozenE;
      this.phase = PitPhase.Running;
    }
  }

  /** Modes 2/3: stop with OUT high while low; reload on the pulse after the gate rises. */
  private gatePeriodic(tick: number, level: boolean): void {
    if (!level && this.phase === PitPhase.Running) {
      this.heldCount = this.countAt(tick);
      this.heldOut = true;
      this.phase = PitPhase.Gated;
      this.switchPending = false;
    } else if (level && this.phase === PitPhase.Gated && this.crValid) {
      this.heldOut = true;
      this.count = decodeCount(this.cr, this.bcd);
      this.phase = PitPhase.Running;
      this.startTick = tick + 1;
      this.crAwaitingLoad = false;
      this.transferTick = tick + 1;
    }
  }

  // ---- Persist ----

  private resetState(): PitCounterState {
    return {
      modeBits: 0,
      access: PitAccess.LsbMsb,
      bcd: false,
      cr: 0,
      crValid: false,
      crLow: 0,
      writeMsbNext: false,
      readMsbNext: false,
      countLatched: false,
      latchedCount: 0,
      statusLatched: false,
      latchedStatus: 0,
      gate: this.gateAtReset,
      phase: PitPhase.Idle,
      heldCount: 0,
      heldOut: false,
      count: BINARY_MODULUS,
      startTick: 0,
      frozenE: 0,
      switchPending: false,
      switchTick: 0,
      switchCount: BINARY_MODULUS,
      switchStart: 0,
      crAwaitingLoad: true,
      transferTick: 0,
    };
  }

  save(): PitCounterState {
    return {
      modeBits: this.modeBits,
      access: this.access,
      bcd: this.bcd,
      cr: this.cr,
      crValid: this.crValid,
      crLow: this.crLow,
      writeMsbNext: this.writeMsbNext,
      readMsbNext: this.readMsbNext,
      countLatched: this.countLatched,
      latchedCount: this.latchedCount,
      statusLatched: this.statusLatched,
      latchedStatus: this.latchedStatus,
      gate: this.gate,
      phase: this.phase,
      heldCount: this.heldCount,
      heldOut: this.heldOut,
      count: this.count,
      startTick: this.startTick,
      frozenE: this.frozenE,
      switchPending: this.switchPending,
      switchTick: this.switchTick,
      switchCount: this.switchCount,
      switchStart: this.switchStart,
      crAwaitingLoad: this.crAwaitingLoad,
      transferTick: this.transferTick,
    };
  }

  apply(s: PitCounterState): void {
    this.modeBits = s.modeBits;
    this.access = s.access as PitAccess;
    this.bcd = s.bcd;
    this.cr = s.cr;
    this.crValid = s.crValid;
    this.crLow = s.crLow;
    this.writeMsbNext = s.writeMsbNext;
    this.readMsbNext = s.readMsbNext;
    this.countLatched = s.countLatched;
    this.latchedCount = s.latchedCount;
    this.statusLatched = s.statusLatched;
    this.latchedStatus = s.latchedStatus;
    this.gate = s.gate;
    this.phase = s.phase as PitPhase;
    this.heldCount = s.heldCount;
    this.heldOut = s.heldOut;
    this.count = s.count;
    this.startTick = s.startTick;
    this.frozenE = s.frozenE;
    this.switchPending = s.switchPending;
    this.switchTick = s.switchTick;
    this.switchCount = s.switchCount;
    this.switchStart = s.switchStart;
    this.crAwaitingLoad = s.crAwaitingLoad;
    this.transferTick = s.transferTick;
  }
}

/** Largest count a timeline can have (binary 0 = 65536). */
export const PIT_MAX_COUNT = BINARY_MODULUS;
