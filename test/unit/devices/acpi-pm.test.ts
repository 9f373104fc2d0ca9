// Tests for the ACPI PM1 registers and PM timer: write-1-to-clear status, sticky enables, the
// SCI level, SLP_EN / S5 power-off, the 3.579545 MHz 24-bit timer, TMR_STS events, Persist.
import { describe, expect, it } from 'vitest';
import { ManualClock, NS_PER_SECOND } from '../../../src/bus/clock.js';
import { IoBus } from '../../../src/bus/io-bus.js';
import { IrqLine } from '../../../src/bus/irq.js';
import {
  ACPI_GBL_EN,
  ACPI_PCIEXP_WAKE_DIS,
  ACPI_PM1_CNT,
  ACPI_PM1_EN,
  ACPI_PM1_STS,
  ACPI_PM_PORT_COUNT,
  ACPI_PM_TMR,
  ACPI_PWRBTN_EN,
  ACPI_PWRBTN_STS,
  ACPI_RTC_EN,
  ACPI_SCI_EN,
  ACPI_SLP_EN,
  ACPI_SLPBTN_EN,
  ACPI_TMR_EN,
  ACPI_TMR_STS,
  AcpiPm,
  pmTimerTicksAt,
  pmTimerTimeOfTick,
} from '../../../src/devices/acpi-pm/index.js';
import { StateError } from '../../../src/persist/persist.js';

const BASE = 0x600;
/** Ticks of 2^23 (one TMR_STS period). */
const HALF_WRAP = 0x80_0000;

function slpTyp(type: number): number {
  return type << 10;
}

function makePm(options: { s5SleepType?: number } = {}) {
  const clock = new ManualClock();
  const sci = new IrqLine('sci');
  const bus = new IoBus();
  const log: string[] = [];
  let powerOffs = 0;
  const pm = new AcpiPm({
    clock,
    sci,
    onPowerOff: () => {
      powerOffs++;
    },
    log: (m) => log.push(m),
    ...options,
  });
  bus.register(pm, BASE, ACPI_PM_PORT_COUNT);
  return { clock, sci, bus, pm, log, powerOffs: () => powerOffs };
}

/** Reference tick count via BigInt: floor(ns * f / 1e9). */
function referenceTicks(ns: number): number {
  return Number((BigInt(ns) * 3_579_545n) / 1_000_000_000n);
}

describe('AcpiPm PM1 status and enable', () => {
  it('reset state: status 0, enable 0, control reads SCI_EN only, SCI low', () => {
    const { bus, sci } = makePm();
    expect(bus.read(BASE + ACPI_PM1_STS, 2)).toBe(0);
    expect(bus.read(BASE + ACPI_PM1_EN, 2)).toBe(0);
    expect(bus.read(BASE + ACPI_PM1_CNT, 2)).toBe(ACPI_SCI_EN);
    expect(sci.level).toBe(false);
  });

  it('the power button sets PWRBTN_STS; writing 1 clears it, writing 0 does not', () => {
    const { bus, pm } = makePm();
    pm.pressPowerButton();
    expect(bus.read(BASE + ACPI_PM1_STS, 2)).toBe(ACPI_PWRBTN_STS);
    bus.write(BASE + ACPI_PM1_STS, 2, 0);
    expect(bus.read(BASE + ACPI_PM1_STS, 2)).toBe(ACPI_PWRBTN_STS);
    bus.write(BASE + ACPI_PM1_STS, 2, ACPI_TMR_STS); // other bit: PWRBTN stays
    expect(bus.read(BASE + ACPI_PM1_STS, 2)).toBe(ACPI_PWRBTN_STS);
    bus.write(BASE + ACPI_PM1_STS, 2, ACPI_PWRBTN_STS);
    expect(bus.read(BASE + ACPI_PM1_STS, 2)).toBe(0);
  });

  it('byte writes to the high status byte clear PWRBTN_STS (bit 8)', () => {
    const { bus, pm } = makePm();
    pm.pressPowerButton();
    bus.write(BASE + ACPI_PM1_STS + 1, 1, 0x01);
    expect(bus.read(BASE + ACPI_PM1_STS, 2)).toBe(0);
  });

  it('every defined enable bit sticks (ACPICA probes GBL_EN); undefined bits read 0 and are counted', () => {
    const { bus, pm } = makePm();
    const all = ACPI_TMR_EN | ACPI_GBL_EN | ACPI_PWRBTN_EN | ACPI_SLPBTN_EN | ACPI_RTC_EN | ACPI_PCIEXP_WAKE_DIS;
    bus.write(BASE + ACPI_PM1_EN, 2, ACPI_GBL_EN);
    expect(bus.read(BASE + ACPI_PM1_EN, 2)).toBe(ACPI_GBL_EN);
    bus.write(BASE + ACPI_PM1_EN, 2, 0xffff);
    expect(bus.read(BASE + ACPI_PM1_EN, 2)).toBe(all);
    expect(pm.ignoredWrites).toBeGreaterThan(0);
    bus.write(BASE + ACPI_PM1_EN, 2, 0);
    expect(bus.read(BASE + ACPI_PM1_EN, 2)).toBe(0);
  });

  it('a dword read at offset 0 returns STS | EN << 16', () => {
    const { bus, pm } = makePm();
    pm.pressPowerButton();
    bus.write(BASE + ACPI_PM1_EN, 2, ACPI_GBL_EN);
    expect(bus.read(BASE + ACPI_PM1_STS, 4)).toBe((ACPI_PWRBTN_STS | (ACPI_GBL_EN << 16)) >>> 0);
  });

  it('SCI is high exactly while an enabled source is pending', () => {
    const { bus, pm, sci } = makePm();
    pm.pressPowerButton();
    expect(sci.level).toBe(false); // not enabled
    bus.write(BASE + ACPI_PM1_EN, 2, ACPI_PWRBTN_EN);
    expect(sci.level).toBe(true); // enabling a pending source raises it at once
    bus.write(BASE + ACPI_PM1_EN, 2, 0);
    expect(sci.level).toBe(false);
    bus.write(BASE + ACPI_PM1_EN, 2, ACPI_PWRBTN_EN);
    expect(sci.level).toBe(true);
    bus.write(BASE + ACPI_PM1_STS, 2, ACPI_PWRBTN_STS);
    expect(sci.level).toBe(false);
    pm.pressPowerButton(); // enabled: straight to the SCI
    expect(sci.level).toBe(true);
    expect(sci.raiseCount).toBe(3);
  });
});

describe('AcpiPm PM1 control and sleep', () => {
  it('SCI_EN always reads 1; writing 0 to it is ignored and counted', () => {
    const { bus, pm } = makePm();
    bus.write(BASE + ACPI_PM1_CNT, 2, 0);
    expect(bus.read(BASE + ACPI_PM1_CNT, 2) & ACPI_SCI_EN).toBe(ACPI_SCI_EN);
    expect(pm.ignoredWrites).toBe(1);
  });

  it('SLP_TYP is stored and read back; SLP_EN reads 0', () => {
    const { bus, powerOffs } = makePm();
    bus.write(BASE + ACPI_PM1_CNT, 2, slpTyp(5) | ACPI_SCI_EN);
    expect(bus.read(BASE + ACPI_PM1_CNT, 2)).toBe(slpTyp(5) | ACPI_SCI_EN);
    expect(powerOffs()).toBe(0); // no SLP_EN yet: Linux writes SLP_TYP first
  });

  it('SLP_EN with the S5 type calls onPowerOff once', () => {
    const { bus, powerOffs } = makePm();
    bus.write(BASE + ACPI_PM1_CNT, 2, slpTyp(5) | ACPI_SCI_EN);
    bus.write(BASE + ACPI_PM1_CNT, 2, slpTyp(5) | ACPI_SLP_EN | ACPI_SCI_EN);
    expect(powerOffs()).toBe(1);
    expect(bus.read(BASE + ACPI_PM1_CNT, 2) & ACPI_SLP_EN).toBe(0);
  });

  it('a byte write of the high control byte (SLP_TYP and SLP_EN together) powers off', () => {
    const { bus, powerOffs } = makePm();
    bus.write(BASE + ACPI_PM1_CNT + 1, 1, (slpTyp(5) | ACPI_SLP_EN) >> 8);
    expect(powerOffs()).toBe(1);
  });

  it('SLP_EN with another sleep type is ignored, counted and logged', () => {
    const { bus, pm, log, powerOffs } = makePm();
    bus.write(BASE + ACPI_PM1_CNT, 2, slpTyp(3) | ACPI_SLP_EN);
    bus.write(BASE + ACPI_PM1_CNT, 2, slpTyp(0) | ACPI_SLP_EN);
    expect(powerOffs()).toBe(0);
    expect(pm.ignoredSleepRequests).toBe(2);
    expect(log).toHaveLength(2);
    expect(log[0]).toContain('sleep type 3');
  });

  it('the S5 type is configurable', () => {
    const { bus, powerOffs } = makePm({ s5SleepType: 7 });
    bus.write(BASE + ACPI_PM1_CNT, 2, slpTyp(5) | ACPI_SLP_EN);
    expect(powerOffs()).toBe(0);
    bus.write(BASE + ACPI_PM1_CNT, 2, slpTyp(7) | ACPI_SLP_EN);
    expect(powerOffs()).toBe(1);
  });
});

describe('AcpiPm PM timer', () => {
  it('counts at 3.579545 MHz: exact values at chosen times', () => {
    const { bus, clock } = makePm();
    expect(bus.read(BASE + ACPI_PM_TMR, 4)).toBe(0);
    clock.set(1000); // 1 µs: 3.58 ticks
    expect(bus.read(BASE + ACPI_PM_TMR, 4)).toBe(3);
    clock.set(NS_PER_SECOND); // one second: exactly f ticks
    expect(bus.read(BASE + ACPI_PM_TMR, 4)).toBe(3_579_545);
    const second = makePm();
    second.clock.set(1_000_000); // 1 ms: 3579.545 ticks
    expect(second.bus.read(BASE + ACPI_PM_TMR, 4)).toBe(3579);
  });

  it('wraps at 2^24 and matches a BigInt reference at many times, incl. after 100 days', () => {
    const times = [
      279, 280, 4_686_902_000, 4_686_903_000, 9_373_806_000, 12_345_678_901, 1e15 + 7, 86_400 * 100 * NS_PER_SECOND + 123_456_789,
    ];
    for (const ns of times) {
      const { bus, clock } = makePm();
      clock.set(ns);
      const expected = referenceTicks(ns) % 0x100_0000;
      expect(bus.read(BASE + ACPI_PM_TMR, 4), `at ${ns} ns`).toBe(expected);
      expect(pmTimerTicksAt(ns), `ticks at ${ns} ns`).toBe(referenceTicks(ns));
    }
  });

  it('the 24-bit wrap: the count goes from 0xFFFFFF to 0 at the right nanosecond', () => {
    const wrapNs = pmTimerTimeOfTick(0x100_0000);
    const { bus, clock } = makePm();
    clock.set(wrapNs - 1);
    expect(bus.read(BASE + ACPI_PM_TMR, 4)).toBe(0xff_ffff);
    clock.set(wrapNs);
    expect(bus.read(BASE + ACPI_PM_TMR, 4)).toBe(0);
  });

  it('pmTimerTimeOfTick is the earliest ns reaching the tick (checked against BigInt)', () => {
    for (const tick of [1, 3, 3_579_545, HALF_WRAP, 2 * HALF_WRAP, 12345 * HALF_WRAP + 1]) {
      const ns = pmTimerTimeOfTick(tick);
      expect(referenceTicks(ns)).toBeGreaterThanOrEqual(tick);
      expect(referenceTicks(ns - 1)).toBeLessThan(tick);
    }
  });

  it('byte and word reads of PM_TMR give the bytes of the count; writes are ignored', () => {
    const { bus, clock, pm } = makePm();
    clock.set(3_000_000_000); // 10738635 ticks = 0xA3DBCB
    const value = referenceTicks(3_000_000_000);
    expect(bus.read(BASE + ACPI_PM_TMR, 4)).toBe(value);
    expect(bus.read(BASE + ACPI_PM_TMR, 1)).toBe(value & 0xff);
    expect(bus.read(BASE + ACPI_PM_TMR + 1, 1)).toBe((value >> 8) & 0xff);
    expect(bus.read(BASE + ACPI_PM_TMR + 2, 2)).toBe(value >> 16);
    expect(bus.read(BASE + ACPI_PM_TMR + 3, 1)).toBe(0);
    bus.write(BASE + ACPI_PM_TMR, 4, 0);
    expect(bus.read(BASE + ACPI_PM_TMR, 4)).toBe(value);
    expect(pm.ignoredWrites).toBe(4);
  });

  it('reserved offsets 6-7 read 0xFF and are counted', () => {
    const { bus, pm } = makePm();
    expect(bus.read(BASE + 6, 2)).toBe(0xffff);
    expect(pm.ignoredReads).toBe(2);
  });
});

describe('AcpiPm TMR_STS', () => {
  it('TMR_STS is set when bit 23 toggles (each 2^23 ticks), even with TMR_EN clear; no event without TMR_EN', () => {
    const { bus, clock, pm, sci } = makePm();
    const firstToggle = pmTimerTimeOfTick(HALF_WRAP);
    expect(pm.nextEventNs()).toBe(Infinity);
    clock.set(firstToggle - 1);
    expect(bus.read(BASE + ACPI_PM1_STS, 2) & ACPI_TMR_STS).toBe(0);
    clock.set(firstToggle);
    expect(bus.read(BASE + ACPI_PM1_STS, 2) & ACPI_TMR_STS).toBe(ACPI_TMR_STS);
    expect(sci.level).toBe(false);
    bus.write(BASE + ACPI_PM1_STS, 2, ACPI_TMR_STS);
    expect(bus.read(BASE + ACPI_PM1_STS, 2) & ACPI_TMR_STS).toBe(0);
    // The 1 → 0 toggle of bit 23 (the 24-bit wrap) sets it again.
    clock.set(pmTimerTimeOfTick(2 * HALF_WRAP));
    expect(bus.read(BASE + ACPI_PM1_STS, 2) & ACPI_TMR_STS).toBe(ACPI_TMR_STS);
  });

  it('with TMR_EN the device schedules the toggle, reschedules on enable, and raises the SCI in advanceTo', () => {
    const { bus, clock, pm, sci } = makePm();
    clock.set(1_000_000_000);
    bus.write(BASE + ACPI_PM1_EN, 2, ACPI_TMR_EN);
    expect(clock.rescheduleCount).toBe(1);
    const toggle = pmTimerTimeOfTick(HALF_WRAP);
    expect(pm.nextEventNs()).toBe(toggle);
    clock.set(toggle - 1);
    pm.advanceTo(toggle - 1);
    expect(sci.level).toBe(false);
    clock.set(toggle);
    pm.advanceTo(toggle);
    expect(sci.level).toBe(true);
    expect(pm.nextEventNs()).toBe(Infinity); // pending: nothing more to report
    // The guest clears TMR_STS: SCI drops, the next toggle is scheduled (earlier than Infinity).
    const before = clock.rescheduleCount;
    bus.write(BASE + ACPI_PM1_STS, 2, ACPI_TMR_STS);
    expect(sci.level).toBe(false);
    expect(clock.rescheduleCount).toBe(before + 1);
    expect(pm.nextEventNs()).toBe(pmTimerTimeOfTick(2 * HALF_WRAP));
  });

  it('a late advanceTo over several toggles sets TMR_STS once', () => {
    const { clock, bus, pm, sci } = makePm();
    bus.write(BASE + ACPI_PM1_EN, 2, ACPI_TMR_EN);
    const late = pmTimerTimeOfTick(5 * HALF_WRAP) + 10;
    clock.set(late);
    pm.advanceTo(late);
    expect(sci.raiseCount).toBe(1);
    bus.write(BASE + ACPI_PM1_STS, 2, ACPI_TMR_STS);
    expect(pm.nextEventNs()).toBe(pmTimerTimeOfTick(6 * HALF_WRAP));
  });

  it('enabling the timer after a toggle went unobserved reports it at once', () => {
    const { clock, bus, sci } = makePm();
    clock.set(pmTimerTimeOfTick(HALF_WRAP) + 5);
    bus.write(BASE + ACPI_PM1_EN, 2, ACPI_TMR_EN);
    expect(sci.level).toBe(true);
  });

  it('reset clears registers and SCI; toggles before the reset are not reported', () => {
    const { clock, bus, pm, sci } = makePm();
    bus.write(BASE + ACPI_PM1_EN, 2, ACPI_TMR_EN | ACPI_PWRBTN_EN);
    pm.pressPowerButton();
    expect(sci.level).toBe(true);
    clock.set(pmTimerTimeOfTick(HALF_WRAP) + 1);
    pm.reset();
    expect(sci.level).toBe(false);
    expect(bus.read(BASE + ACPI_PM1_STS, 2)).toBe(0);
    expect(bus.read(BASE + ACPI_PM1_EN, 2)).toBe(0);
    expect(bus.read(BASE + ACPI_PM1_CNT, 2)).toBe(ACPI_SCI_EN);
  });
});

describe('AcpiPm Persist', () => {
  it('save → restore into a fresh instance behaves identically', () => {
    const a = makePm();
    a.clock.set(2_000_000_000);
    a.bus.write(BASE + ACPI_PM1_EN, 2, ACPI_TMR_EN | ACPI_PWRBTN_EN | ACPI_GBL_EN);
    a.pm.pressPowerButton();
    a.bus.write(BASE + ACPI_PM1_CNT, 2, slpTyp(2));
    const state = a.pm.save();

    const b = makePm();
    b.clock.set(2_000_000_000);
    b.pm.restore(state);
    expect(b.pm.save()).toEqual(state);
    expect(b.sci.level).toBe(true);
    for (const off of [ACPI_PM1_STS, ACPI_PM1_EN, ACPI_PM1_CNT, ACPI_PM_TMR]) {
      expect(b.bus.read(BASE + off, 2), `offset ${off}`).toBe(a.bus.read(BASE + off, 2));
    }
    expect(b.pm.nextEventNs()).toBe(a.pm.nextEventNs());
    // Both evolve the same way: clear PWRBTN, run to the next toggle.
    for (const x of [a, b]) {
      x.bus.write(BASE + ACPI_PM1_STS, 2, ACPI_PWRBTN_STS);
      expect(x.sci.level).toBe(false);
      const t = x.pm.nextEventNs();
      x.clock.set(t);
      x.pm.advanceTo(t);
      expect(x.sci.level).toBe(true);
    }
    expect(b.pm.save()).toEqual(a.pm.save());
  });

  it('restore lowers the SCI when the restored state has nothing pending', () => {
    const a = makePm();
    const clean = a.pm.save();
    a.bus.write(BASE + ACPI_PM1_EN, 2, ACPI_PWRBTN_EN);
    a.pm.pressPowerButton();
    expect(a.sci.level).toBe(true);
    a.pm.restore(clean);
    expect(a.sci.level).toBe(false);
  });

  it.each([
    ['status', 0x0002, 'status'],
    ['enable', 0x0002, 'enable'],
    ['control', ACPI_SLP_EN, 'control'],
    ['timerPeriod', -1, 'timerPeriod'],
    ['version', 99, 'version'],
    ['status', 'x', 'status'],
  ] as const)('a corrupted %s (%s) is rejected naming the field, device unchanged', (field, bad, named) => {
    const { pm, bus } = makePm();
    pm.pressPowerButton();
    const good = pm.save();
    const before = bus.read(BASE + ACPI_PM1_STS, 2);
    const corrupted = { ...good, [field]: bad };
    expect(() => pm.restore(corrupted)).toThrow(StateError);
    expect(() => pm.restore(corrupted)).toThrow(new RegExp(`'${named}'`));
    expect(bus.read(BASE + ACPI_PM1_STS, 2)).toBe(before);
    expect(pm.save()).toEqual(good);
  });

  it('a missing field is rejected', () => {
    const { pm } = makePm();
    const { enable: _enable, ...missing } = pm.save();
    expect(() => pm.restore(missing)).toThrow(/'enable'/);
  });
});
