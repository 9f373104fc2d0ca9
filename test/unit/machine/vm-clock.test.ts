/**
 * The VM clock (src/machine/vm-clock.ts): guest time from instruction and idle ticks,
 * device event planning, and wall-clock catch-up in realtime mode.
 */
import { describe, expect, it } from 'vitest';
import type { TimedDevice } from '../../../src/bus/clock.js';
import { VmClock, type ClockedCpu } from '../../../src/machine/vm-clock.js';

/** A CPU stand-in whose counters the test moves. */
function fakeCpu(): ClockedCpu & { instructionCount: number; yields: number } {
  return {
    instructionCount: 0,
    idleTicks: 0,
    yields: 0,
    get clockTicks() { return this.instructionCount + this.idleTicks; },
    requestYield() { this.yields++; },
  };
}

/** A device with one event at a fixed time, recording when it was advanced. */
function oneShot(atNs: number): TimedDevice & { firedAt: number[] } {
  let next = atNs;
  const firedAt: number[] = [];
  return {
    name: 'one-shot',
    firedAt,
    nextEventNs: () => next,
    advanceTo(now: number) { if (now >= next) { firedAt.push(now); next = Infinity; } },
  };
}

describe('VmClock', () => {
  it('counts instructions and idle ticks as guest nanoseconds', () => {
    const cpu = fakeCpu();
    const clock = new VmClock(cpu, 'deterministic', 10);
    cpu.instructionCount = 1234;
    cpu.idleTicks = 66;
    expect(clock.ticks()).toBe(1300);
    expect(clock.nowNs()).toBe(13000);
  });

  it('plans runs up to the earliest device event and fires only due devices', () => {
    const cpu = fakeCpu();
    const clock = new VmClock(cpu, 'deterministic', 10);
    const early = oneShot(1005);
    const late = oneShot(50_000);
    clock.addDevice(late);
    clock.addDevice(early);
    expect(clock.nextEventNs()).toBe(1005);
    // 1005 ns is reached after ceil(100.5) = 101 ticks.
    expect(clock.ticksUntilNextEvent()).toBe(101);
    cpu.instructionCount = 100;
    clock.fireDueEvents();
    expect(early.firedAt).toEqual([]);
    cpu.instructionCount = 101;
    clock.fireDueEvents();
    expect(early.firedAt).toEqual([1010]);
    expect(late.firedAt).toEqual([]);
    expect(clock.nextEventNs()).toBe(50_000);
  });

  it('reschedule asks the CPU to yield', () => {
    const cpu = fakeCpu();
    new VmClock(cpu).reschedule();
    expect(cpu.yields).toBe(1);
  });

  it('realtime mode never skips idle time but catches up with the wall clock', () => {
    const cpu = fakeCpu();
    let wall = 1000;
    const clock = new VmClock(cpu, 'realtime', 10, () => wall);
    clock.addDevice(oneShot(5_000_000));
    expect(clock.idleWaitMs()).toBe(5);
    wall += 2; // 2 ms of wall time = 200,000 ticks at 10 ns
    cpu.instructionCount = 50_000;
    clock.catchUpWithWallClock();
    expect(clock.ticks()).toBe(200_000);
    cpu.instructionCount = 450_000; // guest now ahead of wall time: nothing to catch up
    clock.catchUpWithWallClock();
    expect(clock.ticks()).toBe(600_000);
  });

  it('rejects a bad tick length', () => {
    expect(() => new VmClock(fakeCpu(), 'deterministic', 0)).toThrow(/1\.\.1000/);
    expect(() => new VmClock(fakeCpu(), 'deterministic', 2.5)).toThrow(/integer/);
  });
});
