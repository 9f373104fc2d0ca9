// Tests for the MC146818A RTC + CMOS: time registers, UIP, SET, interrupts, NVRAM layout, Persist.
import { describe, expect, it } from 'vitest';
import { IoBus, IrqLine } from '../../../src/bus/index.js';
import { ManualClock, NS_PER_SECOND } from '../../../src/bus/clock.js';
import { StateError } from '../../../src/persist/persist.js';
import {
  CMOS_CHECKSUM,
  RTC_A_UIP,
  RTC_B_24HOUR,
  RTC_B_AIE,
  RTC_B_DM_BINARY,
  RTC_B_PIE,
  RTC_B_SET,
  RTC_B_UIE,
  RTC_CENTURY,
  RTC_C_AF,
  RTC_C_IRQF,
  RTC_C_PF,
  RTC_C_UF,
  RTC_DAY_OF_MONTH,
  RTC_DAY_OF_WEEK,
  RTC_HOURS,
  RTC_HOURS_ALARM,
  RTC_MINUTES,
  RTC_MINUTES_ALARM,
  RTC_MONTH,
  RTC_REG_A,
  RTC_REG_B,
  RTC_REG_C,
  RTC_REG_D,
  RTC_SECONDS,
  RTC_SECONDS_ALARM,
  RTC_UIP_LEAD_NS,
  RTC_YEAR,
  RtcCmos,
  civilFromDays,
  daysFromCivil,
  periodicRateHz,
} from '../../../src/devices/rtc-cmos/index.js';

const MIB = 1024 * 1024;
const GIB = 1024 * MIB;
const MS = 1_000_000;

/** Unix seconds of a UTC date (month 1-12), using the host's Date as an independent oracle. */
function unix(year: number, month: number, day: number, hour = 0, minute = 0, second = 0): number {
  return Date.UTC(year, month - 1, day, hour, minute, second) / 1000;
}

function bcd(value: number): number {
  return ((Math.floor(value / 10) % 10) << 4) | value % 10;
}

function makeRtc(baseTimeSeconds = unix(2023, 11, 14, 22, 13, 20), memoryBytes = 128 * MIB, clock = new ManualClock()) {
  const irq = new IrqLine('irq8');
  const rtc = new RtcCmos({ clock, irq, baseTimeSeconds, memoryBytes });
  const bus = new IoBus();
  bus.register(rtc, 0x70, 2);
  const read = (reg: number) => {
    bus.write(0x70, 1, reg);
    return bus.read(0x71, 1);
  };
  const write = (reg: number, value: number) => {
    bus.write(0x70, 1, reg);
    bus.write(0x71, 1, value);
  };
  /** The board's loop: run to each event up to `untilNs`, calling `onEvent` after each. */
  const runEvents = (untilNs: number, onEvent: () => void) => {
    for (;;) {
      const next = rtc.nextEventNs();
      if (next > untilNs) break;
      clock.set(next);
      rtc.advanceTo(next);
      onEvent();
    }
    clock.set(untilNs);
    rtc.advanceTo(untilNs);
  };
  return { rtc, irq, clock, bus, read, write, runEvents };
}

type Rig = ReturnType<typeof makeRtc>;

/** All time registers decoded as binary (sets DM = binary, 24-hour). */
function readBinaryTime(rig: Rig) {
  rig.write(RTC_REG_B, (rig.read(RTC_REG_B) | RTC_B_DM_BINARY | RTC_B_24HOUR) & 0xff);
  return {
    year: rig.read(RTC_CENTURY) * 100 + rig.read(RTC_YEAR),
    month: rig.read(RTC_MONTH),
    day: rig.read(RTC_DAY_OF_MONTH),
    dow: rig.read(RTC_DAY_OF_WEEK),
    hour: rig.read(RTC_HOURS),
    minute: rig.read(RTC_MINUTES),
    second: rig.read(RTC_SECONDS),
  };
}

/** The same fields from the host Date for Unix time `seconds`. */
function expectedTime(seconds: number) {
  const d = new Date(seconds * 1000);
  return {
    year: d.getUTCFullYear(),
    month: d.getUTCMonth() + 1,
    day: d.getUTCDate(),
    dow: d.getUTCDay() + 1,
    hour: d.getUTCHours(),
    minute: d.getUTCMinutes(),
    second: d.getUTCSeconds(),
  };
}

describe('calendar helpers', () => {
  it('round-trips day counts against the host Date', () => {
    for (const days of [-719_468, -1, 0, 1, 59, 365, 11_016, 19_675, 47_482, 2_932_896]) {
      const date = civilFromDays(days);
      const d = new Date(days * 86_400_000);
      expect([date.year, date.month, date.day]).toEqual([d.getUTCFullYear(), d.getUTCMonth() + 1, d.getUTCDate()]);
      expect(daysFromCivil(date.year, date.month, date.day)).toBe(days);
    }
  });

  it('maps rate select to the datasheet 32.768 kHz rates', () => {
    expect([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15].map(periodicRateHz)).toEqual([
      0, 256, 128, 8192, 4096, 2048, 1024, 512, 256, 128, 64, 32, 16, 8, 4, 2,
    ]);
  });
});

describe('RtcCmos time registers', () => {
  it('reads the power-on time in BCD, 24-hour mode', () => {
    const rig = makeRtc(unix(2023, 11, 14, 22, 13, 20));
    expect(rig.read(RTC_SECONDS)).toBe(0x20);
    expect(rig.read(RTC_MINUTES)).toBe(0x13);
    expect(rig.read(RTC_HOURS)).toBe(0x22);
    expect(rig.read(RTC_DAY_OF_WEEK)).toBe(3); // Tuesday
    expect(rig.read(RTC_DAY_OF_MONTH)).toBe(0x14);
    expect(rig.read(RTC_MONTH)).toBe(0x11);
    expect(rig.read(RTC_YEAR)).toBe(0x23);
    expect(rig.read(RTC_CENTURY)).toBe(0x20);
    expect(rig.read(RTC_REG_B)).toBe(RTC_B_24HOUR);
    expect(rig.read(RTC_REG_A)).toBe(0x26);
    expect(rig.read(RTC_REG_D)).toBe(0x80);
  });

  it('reads the same time in binary when DM is set', () => {
    const rig = makeRtc(unix(2009, 7, 31, 19, 58, 47));
    rig.write(RTC_REG_B, RTC_B_24HOUR | RTC_B_DM_BINARY);
    expect([RTC_SECONDS, RTC_MINUTES, RTC_HOURS, RTC_DAY_OF_MONTH, RTC_MONTH, RTC_YEAR, RTC_CENTURY].map(rig.read)).toEqual([
      47, 58, 19, 31, 7, 9, 20,
    ]);
  });

  it('codes hours in 12-hour mode with the PM bit, both for reads and writes', () => {
    const rig = makeRtc(unix(2020, 1, 1, 22, 0, 0));
    rig.write(RTC_REG_B, 0); // BCD, 12-hour
    expect(rig.read(RTC_HOURS)).toBe(0x80 | 0x10);
    rig.write(RTC_HOURS, 0x12); // 12 AM = midnight
    rig.write(RTC_REG_B, RTC_B_24HOUR);
    expect(rig.read(RTC_HOURS)).toBe(0x00);
    rig.write(RTC_REG_B, 0);
    rig.write(RTC_HOURS, 0x80 | 0x12); // 12 PM = noon
    expect(rig.read(RTC_HOURS)).toBe(0x92);
    rig.write(RTC_HOURS, 0x80 | 0x01); // 1 PM
    rig.write(RTC_REG_B, RTC_B_24HOUR | RTC_B_DM_BINARY);
    expect(rig.read(RTC_HOURS)).toBe(13);
    rig.write(RTC_REG_B, RTC_B_DM_BINARY); // binary, 12-hour
    expect(rig.read(RTC_HOURS)).toBe(0x80 | 1);
  });

  it('counts with the VM clock and matches the host calendar across day, month, leap and year ends', () => {
    const starts = [unix(2023, 12, 31, 23, 59, 58), unix(2024, 2, 28, 23, 59, 59), unix(2100, 2, 28, 23, 59, 59), unix(1999, 12, 31, 23, 59, 59)];
    for (const base of starts) {
      const rig = makeRtc(base);
      for (const delta of [0, 1, 2, 61, 3_600, 86_400, 86_401, 400 * 86_400 + 7]) {
        rig.clock.set(delta * NS_PER_SECOND);
        expect(readBinaryTime(rig)).toEqual(expectedTime(base + delta));
      }
    }
  });

  it('sets UIP for the 244 µs before each update and updates at the boundary', () => {
    const rig = makeRtc(unix(2023, 1, 1, 0, 0, 0));
    rig.clock.set(NS_PER_SECOND - RTC_UIP_LEAD_NS - 1);
    expect(rig.read(RTC_REG_A) & RTC_A_UIP).toBe(0);
    rig.clock.set(NS_PER_SECOND - RTC_UIP_LEAD_NS);
    expect(rig.read(RTC_REG_A) & RTC_A_UIP).toBe(RTC_A_UIP);
    rig.clock.set(NS_PER_SECOND - 1);
    expect(rig.read(RTC_REG_A) & RTC_A_UIP).toBe(RTC_A_UIP);
    expect(rig.read(RTC_SECONDS)).toBe(0x00);
    rig.clock.set(NS_PER_SECOND);
    expect(rig.read(RTC_REG_A) & RTC_A_UIP).toBe(0);
    expect(rig.read(RTC_SECONDS)).toBe(0x01);
    rig.clock.set(2 * NS_PER_SECOND - 100_000);
    expect(rig.read(RTC_REG_A) & RTC_A_UIP).toBe(RTC_A_UIP);
  });

  it('freezes updates while SET is set and continues from the written time', () => {
    const rig = makeRtc(unix(2023, 1, 1, 10, 0, 0));
    rig.clock.set(300 * MS);
    rig.write(RTC_REG_B, RTC_B_24HOUR | RTC_B_SET);
    rig.clock.set(5 * NS_PER_SECOND - 100_000); // inside what would be a UIP window
    expect(rig.read(RTC_REG_A) & RTC_A_UIP).toBe(0);
    expect(rig.read(RTC_SECONDS)).toBe(0x00);
    rig.clock.set(5 * NS_PER_SECOND + 200 * MS);
    expect(rig.read(RTC_SECONDS)).toBe(0x00);
    rig.write(RTC_SECONDS, 0x30);
    rig.write(RTC_MINUTES, 0x45);
    rig.write(RTC_HOURS, 0x08);
    rig.write(RTC_DAY_OF_MONTH, 0x31); // set 31 March in two steps: day first (January has 31 days anyway)
    rig.write(RTC_MONTH, 0x03);
    rig.write(RTC_YEAR, 0x25);
    rig.write(RTC_REG_B, RTC_B_24HOUR);
    expect(rig.read(RTC_SECONDS)).toBe(0x30);
    rig.clock.set(6 * NS_PER_SECOND - 1);
    expect(rig.read(RTC_SECONDS)).toBe(0x30);
    rig.clock.set(6 * NS_PER_SECOND); // the divider kept its phase: the next update is at 6 s
    expect(readBinaryTime(rig)).toMatchObject({ year: 2025, month: 3, day: 31, hour: 8, minute: 45, second: 31 });
  });

  it('clears UIE when SET is written', () => {
    const rig = makeRtc();
    rig.write(RTC_REG_B, RTC_B_24HOUR | RTC_B_UIE);
    expect(rig.read(RTC_REG_B)).toBe(RTC_B_24HOUR | RTC_B_UIE);
    rig.write(RTC_REG_B, RTC_B_24HOUR | RTC_B_UIE | RTC_B_SET);
    expect(rig.read(RTC_REG_B)).toBe(RTC_B_24HOUR | RTC_B_SET);
  });

  it('applies a time write outside SET at once and keeps the divider phase', () => {
    const rig = makeRtc(unix(2023, 1, 1, 10, 20, 30));
    rig.clock.set(1_500 * MS);
    expect(rig.read(RTC_SECONDS)).toBe(0x31);
    rig.write(RTC_MINUTES, 0x59);
    rig.write(RTC_SECONDS, 0x59);
    expect(rig.read(RTC_MINUTES)).toBe(0x59);
    rig.clock.set(2 * NS_PER_SECOND);
    expect([rig.read(RTC_HOURS), rig.read(RTC_MINUTES), rig.read(RTC_SECONDS)]).toEqual([0x11, 0x00, 0x00]);
  });

  it('ignores undecodable or out-of-range time writes and counts them', () => {
    const rig = makeRtc(unix(2023, 1, 1, 10, 20, 30));
    rig.write(RTC_SECONDS, 0x5a); // bad BCD nibble
    rig.write(RTC_SECONDS, 0x60); // 60
    rig.write(RTC_MONTH, 0x13);
    rig.write(RTC_DAY_OF_WEEK, 0);
    rig.write(RTC_REG_B, 0); // 12-hour
    rig.write(RTC_HOURS, 0x13);
    rig.write(RTC_HOURS, 0x00);
    expect(rig.rtc.ignoredWrites).toBe(6);
    rig.write(RTC_REG_B, RTC_B_24HOUR);
    expect([rig.read(RTC_SECONDS), rig.read(RTC_MONTH), rig.read(RTC_HOURS), rig.read(RTC_DAY_OF_WEEK)]).toEqual([0x30, 0x01, 0x10, 1]);
  });

  it('holds the time while the divider chain is in reset and updates 500 ms after release', () => {
    const rig = makeRtc(unix(2023, 1, 1, 0, 0, 0));
    rig.write(RTC_REG_A, 0x70);
    rig.clock.set(3_250 * MS);
    expect(rig.read(RTC_SECONDS)).toBe(0x00);
    expect(rig.read(RTC_REG_A)).toBe(0x70);
    rig.write(RTC_REG_A, 0x26);
    rig.clock.set(3_750 * MS - 1);
    expect(rig.read(RTC_SECONDS)).toBe(0x00);
    rig.clock.set(3_750 * MS);
    expect(rig.read(RTC_SECONDS)).toBe(0x01);
    rig.clock.set(4_750 * MS);
    expect(rig.read(RTC_SECONDS)).toBe(0x02);
  });

  it('reports the index port, the NMI mask and ignores writes to C and D', () => {
    const rig = makeRtc();
    rig.bus.write(0x70, 1, 0x80 | RTC_REG_D);
    expect(rig.rtc.nmiMasked).toBe(true);
    expect(rig.bus.read(0x70, 1)).toBe(0x80 | RTC_REG_D);
    expect(rig.bus.read(0x71, 1)).toBe(0x80);
    rig.bus.write(0x71, 1, 0x00);
    expect(rig.bus.read(0x71, 1)).toBe(0x80);
    rig.bus.write(0x70, 1, RTC_REG_C);
    rig.bus.write(0x71, 1, 0xf0);
    expect(rig.rtc.nmiMasked).toBe(false);
    expect(rig.bus.read(0x71, 1)).toBe(0);
    expect(rig.rtc.ignoredWrites).toBe(2);
    // A 16-bit write selects the register and writes it.
    rig.bus.write(0x70, 2, (0x5a << 8) | 0x40);
    expect(rig.read(0x40)).toBe(0x5a);
  });
});

describe('RtcCmos interrupts', () => {
  for (const rs of [3, 6, 10, 15, 1]) {
    it(`delivers exactly the datasheet number of periodic interrupts in one second (RS=${rs})`, () => {
      const rig = makeRtc();
      const rate = periodicRateHz(rs);
      rig.write(RTC_REG_A, 0x20 | rs);
      rig.write(RTC_REG_B, RTC_B_24HOUR | RTC_B_PIE);
      let count = 0;
      let lastAt = 0;
      let minGap = Infinity;
      rig.runEvents(NS_PER_SECOND, () => {
        if (!rig.irq.level) return;
        count++;
        const now = rig.clock.nowNs();
        minGap = Math.min(minGap, now - lastAt);
        lastAt = now;
        // UF may ride along on the tick that coincides with the once-a-second update.
        expect(rig.read(RTC_REG_C) & ~RTC_C_UF).toBe(RTC_C_IRQF | RTC_C_PF);
        expect(rig.irq.level).toBe(false);
      });
      expect(count).toBe(rate);
      expect(rig.irq.raiseCount).toBe(rate);
      expect(minGap).toBeGreaterThanOrEqual(Math.floor(NS_PER_SECOND / rate));
    });
  }

  it('raises once when the board is many periods late and then continues on the tick grid', () => {
    const rig = makeRtc();
    rig.write(RTC_REG_B, RTC_B_24HOUR | RTC_B_PIE); // 1024 Hz
    const first = rig.rtc.nextEventNs();
    expect(first).toBe(Math.floor(NS_PER_SECOND / 1024));
    rig.clock.set(500 * MS + 10);
    rig.rtc.advanceTo(500 * MS + 10);
    expect(rig.irq.raiseCount).toBe(1);
    expect(rig.read(RTC_REG_C)).toBe(RTC_C_IRQF | RTC_C_PF);
    const next = rig.rtc.nextEventNs();
    expect(next).toBeGreaterThan(500 * MS + 10);
    expect(next - (500 * MS + 10)).toBeLessThanOrEqual(Math.ceil(NS_PER_SECOND / 1024));
  });

  it('asks the board to reschedule when PIE or a faster rate makes the next event earlier', () => {
    const rig = makeRtc();
    expect(rig.rtc.nextEventNs()).toBe(Infinity);
    rig.write(RTC_REG_A, 0x2f); // 2 Hz
    expect(rig.clock.rescheduleCount).toBe(0);
    rig.write(RTC_REG_B, RTC_B_24HOUR | RTC_B_PIE);
    expect(rig.clock.rescheduleCount).toBe(1);
    expect(rig.rtc.nextEventNs()).toBe(500 * MS);
    rig.write(RTC_REG_A, 0x23); // 8192 Hz
    expect(rig.clock.rescheduleCount).toBe(2);
    rig.write(RTC_REG_A, 0x2f); // slower: no reschedule needed
    expect(rig.clock.rescheduleCount).toBe(2);
  });

  it('raises an update-ended interrupt once per second', () => {
    const rig = makeRtc();
    rig.write(RTC_REG_B, RTC_B_24HOUR | RTC_B_UIE);
    const times: number[] = [];
    rig.runEvents(3 * NS_PER_SECOND + 1, () => {
      if (!rig.irq.level) return;
      times.push(rig.clock.nowNs());
      // PF is set by the (disabled) 1024 Hz periodic ticks as well; it does not interrupt.
      expect(rig.read(RTC_REG_C)).toBe(RTC_C_IRQF | RTC_C_UF | RTC_C_PF);
    });
    expect(times).toEqual([1, 2, 3].map((s) => s * NS_PER_SECOND));
  });

  it('sets flags without their enables, keeps IRQ 8 low, and asserts it when the enable follows', () => {
    const rig = makeRtc();
    rig.clock.set(1_200 * MS);
    rig.rtc.advanceTo(1_200 * MS);
    expect(rig.irq.level).toBe(false);
    rig.write(RTC_REG_B, RTC_B_24HOUR | RTC_B_UIE);
    expect(rig.irq.level).toBe(true);
    expect(rig.read(RTC_REG_C)).toBe(RTC_C_IRQF | RTC_C_UF | RTC_C_PF);
    expect(rig.irq.level).toBe(false);
    expect(rig.read(RTC_REG_C)).toBe(0);
  });

  it('fires the alarm at the programmed time (BCD)', () => {
    const rig = makeRtc(unix(2023, 6, 1, 12, 34, 50));
    rig.write(RTC_SECONDS_ALARM, 0x05);
    rig.write(RTC_MINUTES_ALARM, 0x35);
    rig.write(RTC_HOURS_ALARM, 0x12);
    rig.write(RTC_REG_B, RTC_B_24HOUR | RTC_B_AIE);
    const fired: number[] = [];
    rig.runEvents(30 * NS_PER_SECOND, () => {
      if (!rig.irq.level) return;
      fired.push(rig.clock.nowNs());
      expect(rig.read(RTC_REG_C) & (RTC_C_IRQF | RTC_C_AF)).toBe(RTC_C_IRQF | RTC_C_AF);
      expect([rig.read(RTC_HOURS), rig.read(RTC_MINUTES), rig.read(RTC_SECONDS)]).toEqual([0x12, 0x35, 0x05]);
    });
    expect(fired).toEqual([15 * NS_PER_SECOND]);
  });

  it('treats alarm bytes 0xC0-0xFF as don\'t care', () => {
    const rig = makeRtc(unix(2023, 6, 1, 12, 34, 50));
    rig.write(RTC_SECONDS_ALARM, 0x00);
    rig.write(RTC_MINUTES_ALARM, 0xc0);
    rig.write(RTC_HOURS_ALARM, 0xff);
    rig.write(RTC_REG_B, RTC_B_24HOUR | RTC_B_AIE);
    let fired = 0;
    rig.runEvents(185 * NS_PER_SECOND, () => {
      if (!rig.irq.level) return;
      fired++;
      expect(rig.read(RTC_SECONDS)).toBe(0x00);
      rig.read(RTC_REG_C);
    });
    expect(fired).toBe(3); // 12:35:00, 12:36:00, 12:37:00
  });

  it('matches a 12-hour alarm against the PM-coded hour and notices a missed alarm on a late read', () => {
    const rig = makeRtc(unix(2023, 6, 1, 13, 59, 58));
    rig.write(RTC_REG_B, 0); // 12-hour BCD, no interrupts enabled
    rig.write(RTC_SECONDS_ALARM, 0x00);
    rig.write(RTC_MINUTES_ALARM, 0x00);
    rig.write(RTC_HOURS_ALARM, 0x82); // 2 PM
    rig.clock.set(3_600 * NS_PER_SECOND);
    expect(rig.read(RTC_REG_C) & RTC_C_AF).toBe(RTC_C_AF);
    rig.write(RTC_HOURS_ALARM, 0x02); // 2 AM: not in the next hour
    rig.clock.set(7_200 * NS_PER_SECOND);
    expect(rig.read(RTC_REG_C) & RTC_C_AF).toBe(0);
  });
});

describe('RtcCmos NVRAM', () => {
  function word(rig: Rig, reg: number): number {
    return rig.read(reg) | (rig.read(reg + 1) << 8);
  }

  it('fills the memory-size bytes for 16 MiB, 128 MiB and 3.5 GiB', () => {
    const cases = [
      { bytes: 16 * MIB, ext: 15 * 1024, above16: 0 },
      { bytes: 128 * MIB, ext: 0xffff, above16: (128 - 16) * 16 },
      { bytes: 3.5 * GIB, ext: 0xffff, above16: (3584 - 16) * 16 },
    ];
    for (const c of cases) {
      const rig = makeRtc(undefined, c.bytes);
      expect(word(rig, 0x15)).toBe(640);
      expect(word(rig, 0x17)).toBe(c.ext);
      expect(word(rig, 0x30)).toBe(c.ext);
      expect(word(rig, 0x34)).toBe(c.above16);
      expect([rig.read(0x5b), rig.read(0x5c), rig.read(0x5d)]).toEqual([0, 0, 0]);
      expect(rig.read(0x10)).toBe(0);
      expect(rig.read(0x14)).toBe(0x06);
    }
  });

  it('stores a checksum of 0x10-0x2D at 0x2E/0x2F', () => {
    for (const bytes of [16 * MIB, 3.5 * GIB]) {
      const rig = makeRtc(undefined, bytes);
      let sum = 0;
      for (let i = 0x10; i <= 0x2d; i++) sum += rig.read(i);
      expect(sum).toBeGreaterThan(0);
      expect((rig.read(CMOS_CHECKSUM) << 8) | rig.read(CMOS_CHECKSUM + 1)).toBe(sum);
    }
  });

  it('keeps guest writes to NVRAM and restores power-on contents on reset', () => {
    const rig = makeRtc(unix(2023, 1, 1, 0, 0, 0), 16 * MIB);
    rig.write(0x0f, 0x0a);
    rig.write(0x7f, 0x99);
    rig.write(0x15, 0x00);
    rig.write(RTC_REG_B, RTC_B_24HOUR | RTC_B_PIE);
    rig.write(RTC_YEAR, 0x99);
    expect([rig.read(0x0f), rig.read(0x7f), rig.read(0x15)]).toEqual([0x0a, 0x99, 0x00]);
    rig.clock.set(5 * NS_PER_SECOND + 1);
    rig.rtc.advanceTo(5 * NS_PER_SECOND + 1);
    expect(rig.irq.level).toBe(true);
    rig.rtc.reset();
    expect(rig.irq.level).toBe(false);
    expect([rig.read(0x0f), rig.read(0x7f), rig.read(0x15)]).toEqual([0x00, 0x00, 0x80]);
    expect(readBinaryTime(rig)).toEqual(expectedTime(unix(2023, 1, 1, 0, 0, 5)));
  });

  it('rejects bad constructor options naming them', () => {
    const clock = new ManualClock();
    const irq = new IrqLine('irq8');
    expect(() => new RtcCmos({ clock, irq, baseTimeSeconds: 0, memoryBytes: 1000 })).toThrow(/memoryBytes/);
    expect(() => new RtcCmos({ clock, irq, baseTimeSeconds: 1.5, memoryBytes: 16 * MIB })).toThrow(/baseTimeSeconds/);
    expect(() => new RtcCmos({ clock, irq, baseTimeSeconds: 0, memoryBytes: 5 * GIB })).toThrow(/memoryBytes/);
  });
});

describe('RtcCmos Persist', () => {
  /** Every register the guest can read, in order (reading C clears it, so it goes last). */
  function snapshotRegisters(rig: Rig): number[] {
    const regs: number[] = [];
    for (let i = 0; i < 0x80; i++) if (i !== RTC_REG_C) regs.push(rig.read(i));
    regs.push(rig.read(RTC_REG_C));
    return regs;
  }

  function busyRig(clock: ManualClock) {
    const rig = makeRtc(unix(2024, 2, 28, 23, 59, 57), 64 * MIB, clock);
    rig.write(RTC_REG_A, 0x2c); // 16 Hz
    rig.write(RTC_REG_B, RTC_B_24HOUR | RTC_B_PIE | RTC_B_AIE);
    rig.write(RTC_SECONDS_ALARM, 0x01);
    rig.write(RTC_MINUTES_ALARM, 0xc0);
    rig.write(RTC_HOURS_ALARM, 0xc0);
    rig.write(0x40, 0x12);
    rig.bus.write(0x70, 1, 0x80);
    clock.set(1_234 * MS);
    rig.rtc.advanceTo(1_234 * MS); // PF pending, IRQ high
    return rig;
  }

  it('restores into a fresh instance that continues identically', () => {
    const a = busyRig(new ManualClock());
    const state = structuredClone(a.rtc.save());
    const clockB = new ManualClock();
    clockB.set(1_234 * MS);
    const b = makeRtc(0, 16 * MIB, clockB);
    b.rtc.restore(state);
    expect(b.irq.level).toBe(a.irq.level);
    expect(b.irq.level).toBe(true);
    expect(b.rtc.nmiMasked).toBe(true);
    const trace = (rig: Rig) => {
      const out: number[] = [];
      rig.runEvents(4 * NS_PER_SECOND, () => {
        out.push(rig.clock.nowNs(), rig.irq.level ? 1 : 0, rig.read(RTC_REG_C), rig.read(RTC_SECONDS));
      });
      return out.concat(snapshotRegisters(rig));
    };
    const ta = trace(a);
    expect(ta.length).toBeGreaterThan(100);
    expect(trace(b)).toEqual(ta);
  });

  it('rejects corrupted state naming the field and leaves the device unchanged', () => {
    const a = busyRig(new ManualClock());
    const good = a.rtc.save();
    const clockB = new ManualClock();
    clockB.set(1_234 * MS);
    const b = makeRtc(unix(2001, 1, 1), 16 * MIB, clockB);
    const before = b.rtc.save();
    const bad: [string, unknown][] = [
      ['hour', 24],
      ['dayOfMonth', 0],
      ['flags', RTC_C_IRQF],
      ['regA', 0x80],
      ['phaseNs', NS_PER_SECOND],
      ['nvram', new Array(127).fill(0)],
      ['accountedNs', -1],
      ['version', 99],
    ];
    for (const [field, value] of bad) {
      expect(() => b.rtc.restore({ ...good, [field]: value }), field).toThrow(StateError);
      expect(() => b.rtc.restore({ ...good, [field]: value }), field).toThrow(new RegExp(`'${field}`));
      expect(b.rtc.save()).toEqual(before);
    }
    expect(() => b.rtc.restore(null)).toThrow(StateError);
  });
});

describe('RtcCmos encoding sanity', () => {
  it('agrees with BCD coding of the host calendar at several base times', () => {
    for (const base of [unix(1980, 1, 1), unix(2000, 2, 29, 12, 0, 0), unix(2038, 1, 19, 3, 14, 7)]) {
      const rig = makeRtc(base);
      const e = expectedTime(base);
      expect(rig.read(RTC_YEAR)).toBe(bcd(e.year % 100));
      expect(rig.read(RTC_CENTURY)).toBe(bcd(Math.floor(e.year / 100)));
      expect(rig.read(RTC_MONTH)).toBe(bcd(e.month));
      expect(rig.read(RTC_DAY_OF_MONTH)).toBe(bcd(e.day));
      expect(rig.read(RTC_DAY_OF_WEEK)).toBe(e.dow);
      expect(rig.read(RTC_HOURS)).toBe(bcd(e.hour));
    }
  });
});
