/**
 * Guest time as devices see it. Timers (8254 PIT, MC146818 RTC, local APIC timer) never
 * read the host's clock: they read the VM's virtual clock through `DeviceClock.nowNs()`,
 * which the board derives from the instruction counter (deterministic mode) or paces to
 * wall-clock time (interactive mode) — DESIGN.md, "Deterministic by default".
 *
 * The contract between a timed device and the board:
 * - the device implements `TimedDevice`: `nextEventNs()` says when it next needs to act
 *   (raise an interrupt, flip an output), `advanceTo(nowNs)` lets it act on everything
 *   due by then. The board runs the CPU no further than the earliest event, then calls
 *   `advanceTo` on every timed device.
 * - when a register write makes a device's next event earlier than before (a timer armed,
 *   a count reloaded), the device calls `DeviceClock.reschedule()` so the board cuts the
 *   CPU's current run short at the next instruction-block boundary and asks again.
 * - between events a device computes register values (a PIT count, the RTC's
 *   update-in-progress bit) from `nowNs()` at the moment of the read.
 *
 * Times are nanoseconds since power-on as integer-valued doubles (exact up to 2^53 ns,
 * about 104 days of guest time).
 */

/** The VM's clock, as handed to devices by the board. */
export interface DeviceClock {
  /** Guest time now, in nanoseconds since the machine was powered on. */
  nowNs(): number;
  /** A device's next event moved earlier: stop the current CPU run and re-plan. */
  reschedule(): void;
}

/** A device with timed behaviour (see the module comment for the contract). */
export interface TimedDevice {
  /** Name for logs. */
  readonly name: string;
  /** Guest time (ns) of this device's next event, or Infinity when it has none. */
  nextEventNs(): number;
  /** Act on every event due at or before `nowNs` (called with non-decreasing times). */
  advanceTo(nowNs: number): void;
}

/** Nanoseconds per second. */
export const NS_PER_SECOND = 1_000_000_000;

/**
 * A clock for unit tests and tools: time moves only when `set`/`advance` is called;
 * `reschedule()` calls are counted.
 */
export class ManualClock implements DeviceClock {
  private now = 0;
  /** How many times a device asked to be rescheduled. */
  rescheduleCount = 0;

  nowNs(): number {
    return this.now;
  }

  reschedule(): void {
    this.rescheduleCount++;
  }

  /** Jump to `ns` (must not go backwards). */
  set(ns: number): void {
    if (ns < this.now) throw new RangeError(`ManualClock: time cannot go backwards (${ns} < ${this.now})`);
    this.now = ns;
  }

  /** Move forward by `ns`. */
  advance(ns: number): void {
    this.set(this.now + ns);
  }
}
