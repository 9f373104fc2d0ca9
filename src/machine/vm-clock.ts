/**
 * The VM's clock: the one source of guest time for every timer device (PIT, RTC, local
 * APIC timer) and the TSC (DESIGN.md, "Deterministic by default").
 *
 * Guest time advances in ticks, one per retired instruction, plus the ticks the board
 * skips while the CPU idles in HLT (`cpu.idleTicks`): nowNs = ticks × nsPerTick. The TSC
 * counts the same ticks (the board configures the CPU with nsPerTick TSC ticks per
 * tick, so the TSC runs at exactly 1 GHz of guest time).
 *
 * Two modes:
 * - deterministic (the default, used by tests): time is a function of the instruction
 *   stream alone. HLT with a timer armed jumps straight to the timer's deadline (the
 *   board adds the skipped ticks to `cpu.idleTicks`), so an idle guest costs nothing and
 *   a run is reproducible bit for bit.
 * - realtime (interactive use): the same ticks, but whenever guest time has fallen behind
 *   the host's wall clock (the emulated CPU is slower than its nominal rate, or the VM was
 *   paused) the clock jumps forward to wall time at the next slice boundary; and an idle
 *   guest waits in wall time (the caller sleeps for `idleWaitMs()`) instead of skipping.
 *
 * The clock also keeps the list of timed devices and answers the board's two questions:
 * how many instructions may run before the next device event, and which devices are due.
 */
import type { DeviceClock, TimedDevice } from '../bus/clock.js';
import { type Persist, type SavedState, StateError, StateReader } from '../persist/persist.js';

/** How guest time relates to host time. */
export type ClockMode = 'deterministic' | 'realtime';

/** The clock's view of the CPU: its tick count and the way to cut a run short. */
export interface ClockedCpu {
  /** Instructions retired plus idle/stall ticks, exact at the executing instruction. */
  readonly clockTicks: number;
  /** Ticks that passed without instructions (the clock adds to it when time jumps). */
  idleTicks: number;
  requestYield(): void;
}

/** Default guest nanoseconds per instruction: a nominal 100 MIPS processor. */
export const DEFAULT_NS_PER_TICK = 10;

/** Version of VmClockState this code writes and reads. */
export const VM_CLOCK_STATE_VERSION = 1;

/**
 * Saved clock state. Guest time itself lives in the CPU's state (instructions retired plus
 * idle ticks); `ticks` repeats it so that a restore can check the two agree, and `nsPerTick`
 * is the rate the ticks were counted at. The clock mode is configuration, not state: a
 * realtime clock's wall-clock anchor belongs to the host, and a restored realtime clock
 * re-anchors to the new host's wall clock at the restored tick.
 */
export interface VmClockState extends SavedState {
  readonly ticks: number;
  readonly nsPerTick: number;
}

/** The VM clock (one per machine). */
export class VmClock implements DeviceClock, Persist<VmClockState> {
  /** Component id in a machine's saved state. */
  readonly persistId = 'clock0';
  private readonly devices: TimedDevice[] = [];
  /** Host wall-clock reading (ms) matching tick `wallBaseTicks`, in realtime mode. */
  private wallBaseMs = 0;
  private wallBaseTicks = 0;

  /**
   * `nsPerTick`: guest nanoseconds per instruction (integer 1..1000). `wallNowMs` is the
   * host's monotonic clock, used only in realtime mode.
   */
  constructor(
    private readonly cpu: ClockedCpu,
    readonly mode: ClockMode = 'deterministic',
    readonly nsPerTick = DEFAULT_NS_PER_TICK,
    private readonly wallNowMs: () => number = () => performance.now(),
  ) {
    if (!Number.isInteger(nsPerTick) || nsPerTick < 1 || nsPerTick > 1000) {
      throw new RangeError(`VM clock: nanoseconds per instruction must be an integer in 1..1000, got ${nsPerTick}`);
    }
    if (mode === 'realtime') this.anchorWallClock();
  }

  /** Ticks elapsed: instructions retired plus idle ticks skipped. */
  ticks(): number {
    return this.cpu.clockTicks;
  }

  /** @inheritdoc */
  nowNs(): number {
    return this.ticks() * this.nsPerTick;
  }

  /** @inheritdoc */
  reschedule(): void {
    this.cpu.requestYield();
  }

  /** Add a device whose events the board must honour. */
  addDevice(device: TimedDevice): void {
    this.devices.push(device);
  }

  /** Guest time (ns) of the earliest pending device event, or Infinity. */
  nextEventNs(): number {
    let next = Infinity;
    for (const d of this.devices) {
      const t = d.nextEventNs();
      if (t < next) next = t;
    }
    return next;
  }

  /** Instructions that may run before the next device event is due (at least 1; Infinity if none). */
  ticksUntilNextEvent(): number {
    const next = this.nextEventNs();
    if (next === Infinity) return Infinity;
    return Math.max(1, Math.ceil(next / this.nsPerTick) - this.ticks());
  }

  /** Let every device with an event due by now act on it. */
  fireDueEvents(): void {
    const now = this.nowNs();
    for (const d of this.devices) {
      if (d.nextEventNs() <= now) d.advanceTo(now);
    }
  }

  /** Realtime mode: move guest time forward to wall time if it has fallen behind. */
  catchUpWithWallClock(): void {
    if (this.mode !== 'realtime') return;
    const wallTicks = this.wallBaseTicks + Math.floor(((this.wallNowMs() - this.wallBaseMs) * 1e6) / this.nsPerTick);
    const now = this.ticks();
    if (wallTicks > now) this.jump(wallTicks - now);
  }

  /** Let `ticks` ticks pass without instructions (an idle CPU, or time catching up). */
  jump(ticks: number): void {
    this.cpu.idleTicks += ticks;
  }

  /** Realtime mode: host milliseconds until the next device event (Infinity if none). */
  idleWaitMs(): number {
    const next = this.nextEventNs();
    if (next === Infinity) return Infinity;
    return Math.max(0, (next - this.nowNs()) / 1e6);
  }

  /** Re-anchor wall time to the current tick (after a restore or a pause). */
  anchorWallClock(): void {
    this.wallBaseMs = this.wallNowMs();
    this.wallBaseTicks = this.ticks();
  }

  /** @inheritdoc */
  save(): VmClockState {
    return { version: VM_CLOCK_STATE_VERSION, ticks: this.ticks(), nsPerTick: this.nsPerTick };
  }

  /**
   * Check `state` against this clock: the same tick rate, and the tick count the CPU holds
   * (restore the CPU first). Nothing else to apply but, in realtime mode, a fresh anchor:
   * guest time continues from the restored tick at the new host's wall time.
   */
  restore(state: unknown): void {
    const r = new StateReader(this.persistId, state);
    r.version([VM_CLOCK_STATE_VERSION]);
    const nsPerTick = r.int('nsPerTick', 1, 1000);
    const ticks = r.int('ticks', 0, Number.MAX_SAFE_INTEGER);
    if (nsPerTick !== this.nsPerTick) {
      throw new StateError(this.persistId, 'nsPerTick', `saved at ${nsPerTick} ns per tick, this clock runs at ${this.nsPerTick}`);
    }
    if (ticks !== this.ticks()) {
      throw new StateError(this.persistId, 'ticks', `${ticks} differs from the CPU's tick count ${this.ticks()}`);
    }
    if (this.mode === 'realtime') this.anchorWallClock();
  }
}
