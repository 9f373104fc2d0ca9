// Tests for the 8254 PIT and port 0x61: time conversion, each mode's count/OUT timeline, latch
// and read-back, BCD, gates, IRQ0 edges and scheduling, Linux's PIT sequences, Persist.
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../../src/bus/clock.js';
import { IoBus, IrqLine } from '../../../src/bus/index.js';
import { Pic8259Pair } from '../../../src/devices/pic8259/index.js';
import {
  PIT_CLOCK_HZ,
  PORT_B_OUT2,
  PORT_B_REFRESH,
  PORT_B_REFRESH_HALF_PERIOD_NS,
  Pit8254,
  decodeCount,
  effectiveMode,
  floorDiv,
  pitTickToNs,
  pitTicksAt,
} from '../../../src/devices/pit8254/index.js';
import { StateError } from '../../../src/persist/persist.js';

const HZ = 250;
/** Linux's LATCH for HZ=250: (CLOCK_TICK_RATE + HZ/2) / HZ. */
const LATCH = Math.floor((PIT_CLOCK_HZ + HZ / 2) / HZ);

/** A PIT on a bus with a manual clock and a counted IRQ0 line. */
function makePit(startNs = 0) {
  const clock = new ManualClock();
  clock.set(startNs);
  const irq0 = new IrqLine('irq0');
  const pit = new Pit8254({ clock, irq0 });
  const bus = new IoBus();
  bus.register(pit, 0x40, 4);
  bus.register(pit.portB, 0x61, 1);
  const out = (port: number, value: number) => bus.write(port, 1, value);
  const inb = (port: number) => bus.read(port, 1);
  const atTick = (tick: number) => clock.set(pitTickToNs(tick));
  const tick = () => pitTicksAt(clock.nowNs());
  /** Latch counter `ch` and read its 16-bit count (LSB-then-MSB access assumed). */
  const latched = (ch: number) => {
    out(0x43, ch << 6);
    return inb(0x40 + ch) | (inb(0x40 + ch) << 8);
  };
  /** Read-back status of counter `ch`. */
  const status = (ch: number) => {
    out(0x43, 0xe0 | (2 << ch));
    return inb(0x40 + ch);
  };
  /** Like a board: advance to each event in turn up to `untilNs`, then to `untilNs`. */
  const runUntil = (untilNs: number) => {
    for (;;) {
      const next = pit.nextEventNs();
      if (next > untilNs) break;
      clock.set(Math.max(next, clock.nowNs()));
      pit.advanceTo(clock.nowNs());
    }
    clock.set(untilNs);
    pit.advanceTo(untilNs);
  };
  return { clock, irq0, pit, bus, out, inb, atTick, tick, latched, status, runUntil };
}

type Harness = ReturnType<typeof makePit>;

/** Program counter `ch` with control word `control` and a 16-bit count, at the current time. */
function program(h: Harness, ch: number, control: number, count: number): void {
  h.out(0x43, control);
  h.out(0x40 + ch, count & 0xff);
  h.out(0x40 + ch, count >>> 8);
}

describe('time conversion', () => {
  it('counts 1 193 182 pulses per second', () => {
    expect(pitTicksAt(1_000_000_000)).toBe(PIT_CLOCK_HZ);
    expect(pitTicksAt(0)).toBe(0);
    expect(pitTicksAt(838)).toBe(0);
    expect(pitTicksAt(839)).toBe(1);
  });

  it('pitTickToNs is the first nanosecond at which the pulse has occurred, exactly, up to 2^53', () => {
    const ticks = [1, 2, 1193181, 1193182, 1193183, 123456789, 2 ** 40 + 7, 9_000_000_000_000];
    for (const tick of ticks) {
      const ns = pitTickToNs(tick);
      expect(pitTicksAt(ns)).toBe(tick);
      expect(pitTicksAt(ns - 1)).toBe(tick - 1);
    }
    const big = 2 ** 53 - 1;
    expect(pitTicksAt(big)).toBe(Number(((BigInt(big) * BigInt(PIT_CLOCK_HZ)) / 1_000_000_000n)));
  });

  it('floorDiv is exact where the float quotient rounds up', () => {
    const b = 15_085;
    const a = b * 400_000_000_000 - 1; // true quotient is just below an integer
    expect(floorDiv(a, b)).toBe(399_999_999_999);
    expect(floorDiv(-1, 10)).toBe(-1);
  });
});

describe('mode 0: interrupt on terminal count', () => {
  it('loads on the next pulse, counts down, raises OUT and IRQ0 at terminal count and keeps wrapping', () => {
    const h = makePit();
    h.atTick(1000);
    program(h, 0, 0x30, 100);
    expect(h.irq0.level).toBe(false);
    expect(h.status(0) & 0x40).toBe(0x40); // null count until the load pulse
    h.atTick(1001);
    expect(h.status(0)).toBe(0x30); // OUT low, count loaded, LSB/MSB, mode 0, binary
    expect(h.latched(0)).toBe(100);
    h.atTick(1051);
    expect(h.latched(0)).toBe(50);
    expect(h.pit.nextEventNs()).toBe(pitTickToNs(1101));
    h.atTick(1100);
    h.pit.advanceTo(h.clock.nowNs());
    expect(h.irq0.raiseCount).toBe(0);
    expect(h.status(0) & 0x80).toBe(0);
    h.atTick(1101);
    expect(h.status(0) & 0x80).toBe(0x80);
    h.pit.advanceTo(h.clock.nowNs());
    expect(h.irq0.raiseCount).toBe(1);
    expect(h.irq0.level).toBe(true);
    expect(h.pit.nextEventNs()).toBe(Infinity);
    h.atTick(1102);
    expect(h.latched(0)).toBe(0xffff);
  });

  it('a new count drops OUT and restarts; the first byte of two stops counting', () => {
    const h = makePit();
    program(h, 0, 0x30, 10);
    h.runUntil(pitTickToNs(20));
    expect(h.irq0.level).toBe(true);
    h.atTick(30);
    h.out(0x40, 5);
    expect(h.irq0.level).toBe(false);
    const held = h.latched(0);
    h.atTick(40);
    expect(h.latched(0)).toBe(held); // counting disabled between the two bytes
    h.out(0x40, 0);
    h.atTick(41);
    expect(h.latched(0)).toBe(5);
    h.runUntil(pitTickToNs(100));
    expect(h.irq0.raiseCount).toBe(2);
  });

  it('the gate suspends counting (counter 2 via port 0x61)', () => {
    const h = makePit();
    h.out(0x61, 0x01);
    program(h, 2, 0xb0, 1000);
    h.atTick(101);
    expect(h.latched(2)).toBe(900);
    h.out(0x61, 0x00);
    h.atTick(500);
    expect(h.latched(2)).toBe(900);
    h.out(0x61, 0x01);
    h.atTick(600);
    expect(h.latched(2)).toBe(800);
  });
});

describe('mode 2: rate generator', () => {
  it('counts N..1, dips OUT for one pulse and reloads; IRQ0 once per period', () => {
    const h = makePit();
    program(h, 0, 0x34, 10);
    expect(h.irq0.level).toBe(true);
    const seen: number[] = [];
    const outs: number[] = [];
    for (let t = 1; t <= 21; t++) {
      h.atTick(t);
      seen.push(h.latched(0));
      outs.push(h.status(0) >> 7);
    }
    expect(seen).toEqual([10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 10]);
    expect(outs).toEqual([1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 1]);
    const fresh = makePit();
    program(fresh, 0, 0x34, 10);
    // The control word took OUT (low after reset) high: one edge already.
    expect(fresh.irq0.raiseCount).toBe(1);
    const edges: number[] = [];
    for (let i = 0; i < 3; i++) {
      const next = fresh.pit.nextEventNs();
      edges.push(pitTicksAt(next));
      fresh.clock.set(next);
      fresh.pit.advanceTo(next);
    }
    expect(edges).toEqual([11, 21, 31]);
    expect(fresh.irq0.raiseCount).toBe(1 + 3);
    expect(fresh.irq0.level).toBe(true);
  });

  it('a count written while counting takes effect at the next reload', () => {
    const h = makePit();
    program(h, 0, 0x34, 100);
    h.atTick(51);
    h.out(0x40, 20);
    h.out(0x40, 0);
    expect(h.status(0) & 0x40).toBe(0x40);
    h.atTick(60);
    expect(h.latched(0)).toBe(41);
    expect(h.pit.nextEventNs()).toBe(pitTickToNs(101));
    h.runUntil(pitTickToNs(101));
    expect(h.status(0) & 0x40).toBe(0);
    expect(h.latched(0)).toBe(20);
    expect(pitTicksAt(h.pit.nextEventNs())).toBe(121);
  });

  it('gate low forces OUT high and stops; gate high reloads on the next pulse', () => {
    const h = makePit();
    h.out(0x61, 1);
    program(h, 2, 0xb4, 10);
    h.atTick(10);
    expect(h.status(2) & 0x80).toBe(0); // e = 9: the low pulse
    h.out(0x61, 0);
    expect(h.status(2) & 0x80).toBe(0x80);
    h.atTick(50);
    expect(h.latched(2)).toBe(1);
    h.out(0x61, 1);
    h.atTick(51);
    expect(h.latched(2)).toBe(10);
  });
});

describe('mode 3: square wave', () => {
  /** Counts and OUT levels of counter 2 at pulses 1..n after programming mode 3 with `count`. */
  function wave(count: number, pulses: number) {
    const h = makePit();
    h.out(0x61, 1);
    program(h, 2, 0xb6, count);
    const counts: number[] = [];
    const outs: number[] = [];
    for (let t = 1; t <= pulses; t++) {
      h.atTick(t);
      counts.push(h.latched(2));
      outs.push(h.inb(0x61) & PORT_B_OUT2 ? 1 : 0);
    }
    return { counts, outs };
  }

  it('even counts: decrements by two, half high half low', () => {
    const { counts, outs } = wave(6, 7);
    expect(counts).toEqual([6, 4, 2, 6, 4, 2, 6]);
    expect(outs).toEqual([1, 1, 1, 0, 0, 0, 1]);
  });

  it('odd counts: high for (N+1)/2 pulses, low for (N-1)/2', () => {
    const { counts, outs } = wave(5, 6);
    expect(counts).toEqual([4, 2, 0, 4, 2, 4]);
    expect(outs).toEqual([1, 1, 1, 0, 0, 1]);
  });

  it('raises IRQ0 once per period at HZ=250 for ten seconds', () => {
    const h = makePit();
    program(h, 0, 0x36, LATCH);
    const base = h.irq0.raiseCount;
    h.runUntil(10 * 1_000_000_000);
    const expected = Math.floor((pitTicksAt(10 * 1_000_000_000) - 1) / LATCH);
    expect(h.irq0.raiseCount - base).toBe(expected);
    expect(expected).toBe(2499);
  });

  it('a new count takes effect at the next half-cycle boundary', () => {
    const h = makePit();
    program(h, 0, 0x36, 100);
    const base = h.irq0.raiseCount;
    h.atTick(11); // e = 10, high half (50 pulses)
    h.out(0x40, 40);
    h.out(0x40, 0);
    h.atTick(50);
    expect(h.latched(0)).toBe(100 - 2 * 49);
    h.atTick(51); // low half starts with the new count
    expect(h.latched(0)).toBe(40);
    expect(h.status(0) & 0xc0).toBe(0);
    expect(pitTicksAt(h.pit.nextEventNs())).toBe(71);
    h.atTick(70);
    expect(h.status(0) & 0x80).toBe(0);
    h.atTick(71); // low half of 20 pulses is over: OUT rises, IRQ0 edge
    expect(h.status(0) & 0x80).toBe(0x80);
    h.runUntil(pitTickToNs(200));
    // Edges at 71, 111, 151, 191.
    expect(h.irq0.raiseCount - base).toBe(4);
  });
});

describe('modes 1, 4 and 5', () => {
  it('mode 1: a gate trigger starts a one-shot with OUT low for N pulses; retrigger restarts', () => {
    const h = makePit();
    program(h, 2, 0xb2, 10);
    h.atTick(5);
    expect(h.status(2) & 0xc0).toBe(0xc0); // OUT high, null count until the trigger
    h.out(0x61, 1);
    h.atTick(6);
    expect(h.status(2)).toBe(0x32); // OUT low, count loaded
    expect(h.latched(2)).toBe(10);
    h.atTick(14);
    h.out(0x61, 0);
    h.out(0x61, 1); // retrigger at e = 8
    h.atTick(24);
    expect(h.latched(2)).toBe(1);
    expect(h.inb(0x61) & PORT_B_OUT2).toBe(0);
    h.atTick(25);
    expect(h.inb(0x61) & PORT_B_OUT2).toBe(PORT_B_OUT2);
  });

  it('mode 4: OUT strobes low for one pulse at terminal count; IRQ0 on the rising edge after it', () => {
    const h = makePit();
    program(h, 0, 0x38, 10);
    expect(h.irq0.level).toBe(true);
    expect(pitTicksAt(h.pit.nextEventNs())).toBe(12);
    h.atTick(10);
    expect(h.status(0) & 0x80).toBe(0x80);
    h.atTick(11);
    expect(h.status(0) & 0x80).toBe(0);
    expect(h.latched(0)).toBe(0);
    h.atTick(12);
    expect(h.status(0) & 0x80).toBe(0x80);
    // The read-back write at pulse 12 delivered the due edge first.
    expect(h.irq0.raiseCount).toBe(2);
    expect(h.pit.nextEventNs()).toBe(Infinity);
  });

  it('mode 5: a gate trigger starts the strobe count', () => {
    const h = makePit();
    program(h, 2, 0xba, 4);
    h.atTick(20);
    h.out(0x61, 1);
    h.atTick(25);
    expect(h.inb(0x61) & PORT_B_OUT2).toBe(0);
    h.atTick(26);
    expect(h.inb(0x61) & PORT_B_OUT2).toBe(PORT_B_OUT2);
  });

  it('mode 4 gate low suspends counting', () => {
    const h = makePit();
    h.out(0x61, 1);
    program(h, 2, 0xb8, 100);
    h.atTick(11);
    h.out(0x61, 0);
    h.atTick(80);
    expect(h.latched(2)).toBe(90);
    h.out(0x61, 1);
    h.atTick(90);
    expect(h.latched(2)).toBe(80);
  });
});

describe('latch, read-back, access modes and BCD', () => {
  it('a latched count stays until read; a second latch is ignored', () => {
    const h = makePit();
    program(h, 1, 0x74, 1000);
    h.atTick(101);
    h.out(0x43, 0x40);
    h.atTick(201);
    h.out(0x43, 0x40);
    expect(h.inb(0x41) | (h.inb(0x41) << 8)).toBe(900);
    expect(h.inb(0x41) | (h.inb(0x41) << 8)).toBe(800); // live again
  });

  it('LSB-only and MSB-only access modes read and write one byte', () => {
    const h = makePit();
    h.out(0x43, 0x54); // counter 1, LSB only, mode 2
    h.out(0x41, 0x12);
    h.atTick(1);
    expect(h.inb(0x41)).toBe(0x12);
    expect(h.inb(0x41)).toBe(0x12);
    h.out(0x43, 0x64); // counter 1, MSB only, mode 2
    h.out(0x41, 0x12);
    h.atTick(2);
    expect(h.inb(0x41)).toBe(0x12); // 0x1200 just loaded
    h.atTick(3);
    expect(h.inb(0x41)).toBe(0x11); // 0x11FF
  });

  it('read-back latches status then count for several counters at once', () => {
    const h = makePit();
    program(h, 0, 0x34, 0x1234);
    program(h, 1, 0x76, 0x100);
    h.atTick(17);
    h.out(0x43, 0xc6); // latch count and status of counters 0 and 1
    h.atTick(500);
    // Counter 0: status (OUT high, mode 2, LSB/MSB), then the count latched at e = 16.
    expect(h.inb(0x40)).toBe(0x80 | 0x34);
    expect(h.inb(0x40) | (h.inb(0x40) << 8)).toBe(0x1234 - 16);
    // Counter 1: mode 3, 256 pulses, e = 16: high half, counted down by 2 per pulse.
    expect(h.inb(0x41)).toBe(0x80 | 0x36);
    expect(h.inb(0x41) | (h.inb(0x41) << 8)).toBe(256 - 32);
    // Latches consumed: live values now.
    expect(h.inb(0x40) | (h.inb(0x40) << 8)).toBe(0x1234 - 499);
  });

  it('status byte reports OUT, null count and the programmed control bits', () => {
    const h = makePit();
    h.out(0x43, 0x3d); // counter 0, LSB/MSB, mode 6 (alias of 2), BCD
    expect(h.status(0)).toBe(0x80 | 0x40 | 0x3d);
    h.out(0x40, 0x00);
    h.out(0x40, 0x10); // BCD 1000
    expect(h.status(0)).toBe(0x80 | 0x40 | 0x3d);
    h.atTick(h.tick() + 1);
    expect(h.status(0)).toBe(0x80 | 0x3d);
  });

  it('counts in BCD, with 0 meaning 10000', () => {
    const h = makePit();
    program(h, 1, 0x71, 0x0100);
    h.atTick(2);
    expect(h.latched(1)).toBe(0x0099);
    h.atTick(101);
    expect(h.latched(1)).toBe(0x0000);
    h.atTick(102);
    expect(h.latched(1)).toBe(0x9999);
    const g = makePit();
    program(g, 0, 0x35, 0); // mode 2, BCD, count 0 = 10000
    g.atTick(2);
    expect(g.latched(0)).toBe(0x9999);
    expect(pitTicksAt(g.pit.nextEventNs())).toBe(10001);
  });

  it('decodes counts: binary and BCD 0 mean the maximum, BCD digits above 9 count as 9', () => {
    expect(decodeCount(0, false)).toBe(0x10000);
    expect(decodeCount(0, true)).toBe(10000);
    expect(decodeCount(0x1234, true)).toBe(1234);
    expect(decodeCount(0x00ff, true)).toBe(99);
    expect(effectiveMode(6)).toBe(2);
    expect(effectiveMode(7)).toBe(3);
    expect(effectiveMode(5)).toBe(5);
  });

  it('unlatched 16-bit reads sample the counter at each byte', () => {
    const h = makePit();
    h.out(0x61, 1);
    program(h, 2, 0xb0, 0x0300);
    h.atTick(1 + 0x100);
    const lsb = h.inb(0x42); // count 0x0200
    h.atTick(2 + 0x100);
    const msb = h.inb(0x42); // count 0x01FF
    expect(lsb).toBe(0x00);
    expect(msb).toBe(0x01);
  });

  it('reads of the control port float and are counted', () => {
    const h = makePit();
    expect(h.inb(0x43)).toBe(0xff);
    expect(h.pit.ignoredAccesses).toBe(1);
  });
});

describe('port 0x61', () => {
  it('stores bits 0-3, ignores writes to bits 4-7, toggles refresh every 15.085 µs', () => {
    const h = makePit();
    h.out(0x61, 0xfe);
    expect(h.inb(0x61) & 0xcf).toBe(0x0e);
    expect(h.pit.portB.speakerDataEnabled).toBe(true);
    h.clock.set(PORT_B_REFRESH_HALF_PERIOD_NS - 1);
    expect(h.inb(0x61) & PORT_B_REFRESH).toBe(0);
    h.clock.set(PORT_B_REFRESH_HALF_PERIOD_NS);
    expect(h.inb(0x61) & PORT_B_REFRESH).toBe(PORT_B_REFRESH);
    h.clock.set(2 * PORT_B_REFRESH_HALF_PERIOD_NS);
    expect(h.inb(0x61) & PORT_B_REFRESH).toBe(0);
  });

  it('bit 5 follows counter 2 OUT and bit 0 drives its gate', () => {
    const h = makePit();
    program(h, 2, 0xb0, 10);
    h.atTick(50);
    expect(h.inb(0x61) & PORT_B_OUT2).toBe(0); // gate low: not counting
    h.out(0x61, 0x01); // the count was loaded with the gate low; it runs from the next pulse
    h.atTick(59);
    expect(h.inb(0x61) & PORT_B_OUT2).toBe(0);
    h.atTick(60);
    expect(h.inb(0x61) & PORT_B_OUT2).toBe(PORT_B_OUT2);
  });
});

describe('IRQ0 scheduling', () => {
  it('HZ=250 periodic mode gives exactly one edge per period over ten seconds', () => {
    const h = makePit();
    h.clock.set(123_456);
    const start = h.tick();
    program(h, 0, 0x34, LATCH);
    const base = h.irq0.raiseCount;
    h.runUntil(10 * 1_000_000_000);
    expect(h.irq0.raiseCount - base).toBe(Math.floor((pitTicksAt(10e9) - (start + 1)) / LATCH));
  });

  it('an edge-triggered PIC sees exactly one interrupt per period', () => {
    const h = makePit();
    const pic = new Pic8259Pair();
    h.irq0.connect((level) => pic.setIrq(0, level));
    const picBus = new IoBus();
    picBus.register(pic.master, 0x20, 2);
    for (const v of [0x11, 0x30, 0x04, 0x01]) picBus.write(v === 0x11 ? 0x20 : 0x21, 1, v);
    program(h, 0, 0x34, LATCH);
    // OUT went high with the control word (it was low after reset): that edge counts once.
    expect(pic.acknowledge()).toBe(0x30);
    picBus.write(0x20, 1, 0x20);
    let interrupts = 0;
    for (let i = 0; i < 500; i++) {
      const next = h.pit.nextEventNs();
      h.clock.set(next);
      h.pit.advanceTo(next);
      while (pic.hasPending()) {
        expect(pic.acknowledge()).toBe(0x30);
        interrupts++;
        picBus.write(0x20, 1, 0x20);
      }
    }
    expect(interrupts).toBe(500);
  });

  it('a late board gets one edge for many elapsed periods, then resumes on schedule', () => {
    const h = makePit();
    program(h, 0, 0x34, LATCH);
    const base = h.irq0.raiseCount;
    h.clock.set(1_000_000_000);
    h.pit.advanceTo(1_000_000_000);
    expect(h.irq0.raiseCount - base).toBe(1);
    const next = pitTicksAt(h.pit.nextEventNs());
    expect(next).toBeGreaterThan(pitTicksAt(1_000_000_000));
    expect((next - 1) % LATCH).toBe(0);
  });

  it('asks for a reschedule when a write makes the next event earlier', () => {
    const h = makePit();
    h.out(0x43, 0x34);
    h.out(0x40, LATCH & 0xff);
    expect(h.clock.rescheduleCount).toBe(0);
    h.out(0x40, LATCH >> 8);
    expect(h.clock.rescheduleCount).toBe(1);
    h.out(0x43, 0x30);
    h.out(0x40, 10);
    h.out(0x40, 0);
    expect(h.clock.rescheduleCount).toBe(2);
  });

  it('delivers an already-due edge before a reprogramming write', () => {
    const h = makePit();
    program(h, 0, 0x30, 10);
    h.atTick(50); // the board never called advanceTo
    program(h, 0, 0x30, 10);
    expect(h.irq0.raiseCount).toBe(1);
    expect(h.irq0.level).toBe(false);
  });
});

describe('Linux sequences', () => {
  it('quick_pit_calibrate: channel 2 mode 0 from 0xffff, MSB polled down one step per 256 pulses', () => {
    const h = makePit(5_000_000);
    h.out(0x61, (h.inb(0x61) & ~0x02) | 0x01);
    h.out(0x43, 0xb0);
    h.out(0x42, 0xff);
    h.out(0x42, 0xff);
    const poll = () => {
      h.clock.advance(1000); // each inb costs about a microsecond
      h.inb(0x42);
      h.clock.advance(1000);
      return h.inb(0x42);
    };
    // pit_verify_msb(0): the first read still shows the old MSB or 0xff; then pit_expect_msb.
    poll();
    const changeTimes: number[] = [];
    let expected = 0xff;
    for (let i = 0; i < 40; i++) {
      let reads = 0;
      while (poll() === expected) reads++;
      expect(reads).toBeGreaterThan(5);
      changeTimes.push(h.tick());
      expected--;
      expect(poll()).toBe(expected);
    }
    const steps = changeTimes.slice(1).map((t, i) => t - changeTimes[i]!);
    for (const step of steps) expect(Math.abs(step - 256)).toBeLessThanOrEqual(3);
  });

  it('pit_calibrate_tsc: 50 ms one-shot on channel 2, polled through port 0x61 bit 5', () => {
    const h = makePit(7_777_777);
    h.out(0x61, (h.inb(0x61) & ~0x02) | 0x01);
    h.out(0x43, 0xb0);
    const latch = Math.floor(PIT_CLOCK_HZ / (1000 / 50));
    const written = h.tick();
    h.out(0x42, latch & 0xff);
    h.out(0x42, latch >> 8);
    let polls = 0;
    while ((h.inb(0x61) & 0x20) === 0) {
      h.clock.advance(500);
      polls++;
    }
    expect(polls).toBeGreaterThan(1000);
    expect(h.tick()).toBe(written + 1 + latch);
  });

  it('clockevent periodic, shutdown, oneshot and clocksource reads on channel 0', () => {
    const h = makePit();
    // pit_set_periodic
    h.out(0x43, 0x34);
    h.out(0x40, LATCH & 0xff);
    h.out(0x40, LATCH >> 8);
    const base = h.irq0.raiseCount;
    h.runUntil(100_000_000);
    const periodic = h.irq0.raiseCount;
    expect(periodic - base).toBe(Math.floor((pitTicksAt(100_000_000) - 1) / LATCH));
    // i8253 clocksource read: latch counter 0, LSB then MSB.
    const now = h.tick();
    h.out(0x43, 0x00);
    const count = h.inb(0x40) | (h.inb(0x40) << 8);
    expect(count).toBe(LATCH - ((now - 1) % LATCH));
    // pit_shutdown: mode 0 with count 0 — one interrupt 65536 pulses later, then silence.
    h.out(0x43, 0x30);
    h.out(0x40, 0);
    h.out(0x40, 0);
    expect(h.irq0.level).toBe(false);
    const shutdownAt = h.tick();
    expect(pitTicksAt(h.pit.nextEventNs())).toBe(shutdownAt + 1 + 0x10000);
    // pit_set_oneshot then pit_next_event(delta) several times.
    h.out(0x43, 0x38);
    expect(h.irq0.raiseCount).toBe(periodic + 1); // OUT rises with the mode 4 control word
    let raised = h.irq0.raiseCount;
    for (const delta of [1000, 50, 12345]) {
      h.clock.advance(3_000);
      const at = h.tick();
      h.out(0x40, delta & 0xff);
      h.out(0x40, delta >> 8);
      expect(pitTicksAt(h.pit.nextEventNs())).toBe(at + 1 + delta + 1);
      h.runUntil(pitTickToNs(at + delta + 1));
      expect(h.irq0.raiseCount).toBe(raised);
      h.runUntil(pitTickToNs(at + delta + 2));
      expect(h.irq0.raiseCount).toBe(raised + 1);
      raised++;
      expect(h.pit.nextEventNs()).toBe(Infinity);
    }
  });
});

describe('reset and Persist', () => {
  it('reset() stops counting, clears port 0x61 and lowers IRQ0', () => {
    const h = makePit();
    h.out(0x61, 0x03);
    program(h, 0, 0x34, 100);
    h.pit.reset();
    expect(h.irq0.level).toBe(false);
    expect(h.inb(0x61) & 0x0f).toBe(0);
    expect(h.pit.nextEventNs()).toBe(Infinity);
    expect(h.status(0)).toBe(0x40 | 0x30);
  });

  /** A PIT in the middle of things: periodic ch0 with a pending switch, half-read latch on ch2. */
  function midState(): Harness {
    const h = makePit(1_000_000);
    program(h, 0, 0x34, LATCH);
    h.out(0x61, 0x03);
    program(h, 2, 0xb6, 1001);
    program(h, 1, 0x54, 18);
    h.runUntil(30_000_000);
    h.out(0x40, 100);
    h.out(0x40, 0); // new period, pending until the next reload
    h.out(0x43, 0xb6);
    h.out(0x42, 0x34); // first byte of a new count for counter 2
    h.out(0x43, 0x80); // latch counter 2
    h.inb(0x42); // LSB read, MSB pending
    return h;
  }

  /** Run the same interaction on a harness and record what it observes. */
  function script(h: Harness): number[] {
    const seen: number[] = [h.inb(0x42), h.inb(0x61) & 0x2f];
    h.out(0x42, 0x12);
    for (let i = 0; i < 20; i++) {
      h.runUntil(h.clock.nowNs() + 777_777);
      seen.push(h.latched(0), h.latched(1), h.latched(2), h.status(0), h.status(2), h.irq0.raiseCount, h.pit.nextEventNs());
      if (i === 7) h.out(0x61, 0x00);
      if (i === 11) h.out(0x61, 0x01);
    }
    return seen;
  }

  it('a restored PIT behaves identically from the same time on', () => {
    const original = midState();
    const saved = original.pit.save();
    const copy = makePit(original.clock.nowNs());
    copy.pit.restore(structuredClone(saved));
    expect(copy.pit.save()).toEqual(saved);
    expect(copy.irq0.level).toBe(original.irq0.level);
    const base = original.irq0.raiseCount - copy.irq0.raiseCount;
    const a = script(original);
    const b = script(copy);
    const normalise = (xs: number[], offset: number) => xs.map((x, i) => (i >= 2 && (i - 2) % 7 === 5 ? x - offset : x));
    expect(normalise(b, 0)).toEqual(normalise(a, base));
  });

  it('rejects corrupted state naming the field and leaves the PIT unchanged', () => {
    const h = midState();
    const before = h.pit.save();
    const bad = (patch: (s: Record<string, any>) => void) => {
      const s = structuredClone(before) as Record<string, any>;
      patch(s);
      return s;
    };
    expect(() => h.pit.restore(bad((s) => (s.channel0.modeBits = 8)))).toThrow(/'channel0\.modeBits'/);
    expect(() => h.pit.restore(bad((s) => (s.channel1.access = 0)))).toThrow(/'channel1\.access'/);
    expect(() => h.pit.restore(bad((s) => (s.channel2.count = 0)))).toThrow(/'channel2\.count'/);
    expect(() => h.pit.restore(bad((s) => (s.channel0.gate = false)))).toThrow(/'channel0\.gate'/);
    expect(() => h.pit.restore(bad((s) => (s.channel2.gate = false)))).toThrow(/'channel2\.gate'/);
    expect(() => h.pit.restore(bad((s) => (s.channel2.phase = 3)))).toThrow(/'channel2\.phase'/);
    expect(() => h.pit.restore(bad((s) => (s.channel0.startTick = 0.5)))).toThrow(/'channel0\.startTick'/);
    expect(() => h.pit.restore(bad((s) => (s.portB = 0x10)))).toThrow(/'portB'/);
    expect(() => h.pit.restore(bad((s) => delete s.channel1))).toThrow(/'channel1'/);
    expect(() => h.pit.restore(bad((s) => (s.version = 9)))).toThrow(StateError);
    expect(h.pit.save()).toEqual(before);
  });
});
