// Tests for the I/O APIC: indirect registers, redirection entries, edge/level/mask/polarity, EOI, Persist,
// and the I/O APIC wired to the local APIC as the PC board does it.
import { describe, expect, it } from 'vitest';
import { ApicDelivery, ApicDestinationMode, type ApicMessageSink } from '../../../src/bus/apic-bus.js';
import { ManualClock } from '../../../src/bus/clock.js';
import { IrqLine, MmioBus } from '../../../src/bus/index.js';
import {
  IOAPIC_ACTIVE_LOW,
  IOAPIC_DEFAULT_BASE,
  IOAPIC_IOREGSEL,
  IOAPIC_IOWIN,
  IOAPIC_LEVEL_TRIGGERED,
  IOAPIC_LOGICAL,
  IOAPIC_MASKED,
  IOAPIC_MMIO_SIZE,
  IOAPIC_REG_ARBITRATION,
  IOAPIC_REG_ID,
  IOAPIC_REG_REDIRECTION,
  IOAPIC_REG_VERSION,
  IOAPIC_REMOTE_IRR,
  IoApic,
} from '../../../src/devices/ioapic/index.js';
import { LAPIC_DEFAULT_BASE, LAPIC_EOI, LAPIC_LDR, LAPIC_MMIO_SIZE, LAPIC_SVR, LAPIC_TMR, LocalApic } from '../../../src/devices/lapic/index.js';
import { StateError } from '../../../src/persist/persist.js';

interface Message {
  vector: number;
  delivery: ApicDelivery;
  mode: ApicDestinationMode;
  destination: number;
  level: boolean;
}

/** A sink that records messages and accepts them unless told otherwise. */
class RecordingSink implements ApicMessageSink {
  readonly messages: Message[] = [];
  accept = true;
  deliverMessage(vector: number, delivery: ApicDelivery, mode: ApicDestinationMode, destination: number, level: boolean): boolean {
    this.messages.push({ vector, delivery, mode, destination, level });
    return this.accept;
  }
}

function makeIoApic(apicId?: number) {
  const sink = new RecordingSink();
  const ioapic = new IoApic({ sink, apicId });
  const bus = new MmioBus();
  bus.register(ioapic, IOAPIC_DEFAULT_BASE, IOAPIC_MMIO_SIZE);
  const read = (register: number) => {
    bus.mmioWrite(IOAPIC_DEFAULT_BASE + IOAPIC_IOREGSEL, 4, register);
    return bus.mmioRead(IOAPIC_DEFAULT_BASE + IOAPIC_IOWIN, 4);
  };
  const write = (register: number, value: number) => {
    bus.mmioWrite(IOAPIC_DEFAULT_BASE + IOAPIC_IOREGSEL, 4, register);
    bus.mmioWrite(IOAPIC_DEFAULT_BASE + IOAPIC_IOWIN, 4, value);
  };
  /** Program pin's entry the way Linux does: high dword first, then low. */
  const program = (pin: number, low: number, destination = 0) => {
    write(IOAPIC_REG_REDIRECTION + 2 * pin + 1, destination << 24);
    write(IOAPIC_REG_REDIRECTION + 2 * pin, low);
  };
  const low = (pin: number) => read(IOAPIC_REG_REDIRECTION + 2 * pin);
  return { ioapic, sink, bus, read, write, program, low };
}

describe('IoApic registers', () => {
  it('has the power-on values: ID, version, every entry masked', () => {
    const { read, bus } = makeIoApic();
    expect(read(IOAPIC_REG_ID)).toBe(0);
    expect(read(IOAPIC_REG_VERSION)).toBe(0x00170011);
    expect(read(IOAPIC_REG_ARBITRATION)).toBe(0);
    for (let pin = 0; pin < 24; pin++) {
      expect(read(IOAPIC_REG_REDIRECTION + 2 * pin)).toBe(IOAPIC_MASKED);
      expect(read(IOAPIC_REG_REDIRECTION + 2 * pin + 1)).toBe(0);
    }
    expect(bus.mmioRead(IOAPIC_DEFAULT_BASE + IOAPIC_IOREGSEL, 4)).toBe(IOAPIC_REG_REDIRECTION + 47);
  });

  it('keeps ID bits 27:24, mirrors them in the arbitration ID, and ignores version writes', () => {
    const { ioapic, read, write } = makeIoApic(2);
    expect(read(IOAPIC_REG_ID)).toBe(0x02000000);
    write(IOAPIC_REG_ID, 0xffffffff);
    expect(read(IOAPIC_REG_ID)).toBe(0x0f000000);
    expect(read(IOAPIC_REG_ARBITRATION)).toBe(0x0f000000);
    write(IOAPIC_REG_VERSION, 0);
    write(IOAPIC_REG_ARBITRATION, 0);
    expect(read(IOAPIC_REG_VERSION)).toBe(0x00170011);
    expect(read(IOAPIC_REG_ARBITRATION)).toBe(0x0f000000);
    expect(read(0x05)).toBe(0);
    expect(read(0x40)).toBe(0);
    expect(ioapic.ignoredAccesses).toBe(4);
    ioapic.reset();
    expect(read(IOAPIC_REG_ID)).toBe(0x02000000);
  });

  it('stores only the defined entry bits; delivery status and remote IRR are read-only', () => {
    const { read, write, low } = makeIoApic();
    write(IOAPIC_REG_REDIRECTION + 6, 0xffffffff);
    write(IOAPIC_REG_REDIRECTION + 7, 0xffffffff);
    expect(low(3)).toBe(0x1afff);
    expect(read(IOAPIC_REG_REDIRECTION + 7)).toBe(0xff000000);
  });

  it('supports byte access to IOREGSEL and narrow IOWIN accesses', () => {
    const { bus, read } = makeIoApic();
    bus.mmioWrite(IOAPIC_DEFAULT_BASE + IOAPIC_IOREGSEL, 1, IOAPIC_REG_REDIRECTION + 2);
    bus.mmioWrite(IOAPIC_DEFAULT_BASE + IOAPIC_IOWIN, 1, 0x31);
    bus.mmioWrite(IOAPIC_DEFAULT_BASE + IOAPIC_IOWIN + 2, 1, 0x00); // clear the mask (bit 16)
    expect(read(IOAPIC_REG_REDIRECTION + 2)).toBe(0x31);
    bus.mmioWrite(IOAPIC_DEFAULT_BASE + IOAPIC_IOREGSEL, 1, IOAPIC_REG_VERSION);
    expect(bus.mmioRead(IOAPIC_DEFAULT_BASE + IOAPIC_IOWIN + 2, 1)).toBe(0x17);
    expect(bus.mmioRead(IOAPIC_DEFAULT_BASE + IOAPIC_IOWIN, 2)).toBe(0x0011);
  });
});

describe('IoApic delivery', () => {
  it('edge: one message per asserting edge, with the entry fields', () => {
    const { ioapic, sink, program } = makeIoApic();
    program(4, 0x34 | IOAPIC_LOGICAL, 0x01);
    ioapic.setPin(4, true);
    ioapic.setPin(4, true);
    expect(sink.messages).toEqual([{ vector: 0x34, delivery: ApicDelivery.Fixed, mode: ApicDestinationMode.Logical, destination: 0x01, level: false }]);
    ioapic.setPin(4, false);
    expect(sink.messages.length).toBe(1);
    ioapic.setPin(4, true);
    expect(sink.messages.length).toBe(2);
  });

  it('edge: edges while masked are lost, unmasking does not replay them', () => {
    const { ioapic, sink, program } = makeIoApic();
    program(1, 0x31 | IOAPIC_MASKED);
    ioapic.setPin(1, true);
    program(1, 0x31);
    expect(sink.messages).toEqual([]);
    ioapic.setPin(1, false);
    ioapic.setPin(1, true);
    expect(sink.messages.length).toBe(1);
  });

  it('level: one message until EOI, then again while still asserted', () => {
    const { ioapic, sink, program, low } = makeIoApic();
    program(10, 0x3a | IOAPIC_LEVEL_TRIGGERED);
    ioapic.setPin(10, true);
    expect(sink.messages.map((m) => [m.vector, m.level])).toEqual([[0x3a, true]]);
    expect(low(10) & IOAPIC_REMOTE_IRR).toBe(IOAPIC_REMOTE_IRR);
    ioapic.endOfInterrupt(0x3b); // another vector: no effect
    expect(low(10) & IOAPIC_REMOTE_IRR).toBe(IOAPIC_REMOTE_IRR);
    ioapic.endOfInterrupt(0x3a);
    expect(sink.messages.length).toBe(2);
    expect(low(10) & IOAPIC_REMOTE_IRR).toBe(IOAPIC_REMOTE_IRR);
    ioapic.setPin(10, false);
    ioapic.endOfInterrupt(0x3a);
    expect(sink.messages.length).toBe(2);
    expect(low(10) & IOAPIC_REMOTE_IRR).toBe(0);
  });

  it('level: unmasking an asserted pin delivers', () => {
    const { ioapic, sink, program } = makeIoApic();
    program(11, 0x3b | IOAPIC_LEVEL_TRIGGERED | IOAPIC_MASKED);
    ioapic.setPin(11, true);
    expect(sink.messages).toEqual([]);
    program(11, 0x3b | IOAPIC_LEVEL_TRIGGERED);
    expect(sink.messages.length).toBe(1);
  });

  it('polarity: an active-low pin is asserted while its level is low', () => {
    const { ioapic, sink, program } = makeIoApic();
    ioapic.setPin(16, true); // idle level of an active-low line
    program(16, 0x50 | IOAPIC_LEVEL_TRIGGERED | IOAPIC_ACTIVE_LOW);
    expect(sink.messages).toEqual([]);
    ioapic.setPin(16, false);
    expect(sink.messages.map((m) => m.vector)).toEqual([0x50]);
    program(17, 0x51 | IOAPIC_ACTIVE_LOW);
    ioapic.setPin(17, true);
    ioapic.setPin(17, false);
    expect(sink.messages.map((m) => m.vector)).toEqual([0x50, 0x51]);
  });

  it('a message nobody accepts is counted and leaves remote IRR clear', () => {
    const { ioapic, sink, program, low } = makeIoApic();
    sink.accept = false;
    program(5, 0x35 | IOAPIC_LEVEL_TRIGGERED);
    ioapic.setPin(5, true);
    expect(ioapic.undeliveredMessages).toBe(1);
    expect(low(5) & IOAPIC_REMOTE_IRR).toBe(0);
  });

  it('switching an entry to edge clears a stuck remote IRR', () => {
    const { ioapic, program, low } = makeIoApic();
    program(9, 0x39 | IOAPIC_LEVEL_TRIGGERED);
    ioapic.setPin(9, true);
    expect(low(9) & IOAPIC_REMOTE_IRR).toBe(IOAPIC_REMOTE_IRR);
    program(9, 0x39 | IOAPIC_MASKED);
    expect(low(9) & IOAPIC_REMOTE_IRR).toBe(0);
  });

  it('NMI and ExtINT entries are sent as edge messages even with the level bit', () => {
    const { ioapic, sink, program } = makeIoApic();
    program(0, 0x700 | IOAPIC_LEVEL_TRIGGERED);
    ioapic.setPin(0, true);
    ioapic.setPin(0, false);
    ioapic.setPin(0, true);
    expect(sink.messages.map((m) => [m.delivery, m.level])).toEqual([
      [ApicDelivery.ExtInt, false],
      [ApicDelivery.ExtInt, false],
    ]);
  });

  it('rejects a pin number outside 0..23', () => {
    const { ioapic } = makeIoApic();
    expect(() => ioapic.setPin(24, true)).toThrow(/pin/);
  });
});

describe('IoApic Persist', () => {
  function busy() {
    const rig = makeIoApic(1);
    rig.program(2, 0x30, 0x01);
    rig.program(10, 0x3a | IOAPIC_LEVEL_TRIGGERED);
    rig.ioapic.setPin(10, true);
    rig.ioapic.setPin(2, true);
    rig.write(IOAPIC_REG_REDIRECTION + 9, 0x0f000000);
    return rig;
  }

  it('restores into a fresh instance that behaves identically', () => {
    const a = busy();
    const state = a.ioapic.save();
    const b = makeIoApic();
    b.ioapic.restore(structuredClone(state));
    expect(b.ioapic.save()).toEqual(state);
    expect(b.sink.messages).toEqual([]); // restore sends nothing
    for (const rig of [a, b]) {
      rig.sink.messages.length = 0;
      rig.ioapic.setPin(2, true); // already high: no edge
      rig.ioapic.endOfInterrupt(0x3a); // still asserted: re-sent
      rig.ioapic.setPin(2, false);
      rig.ioapic.setPin(2, true);
    }
    expect(b.sink.messages).toEqual(a.sink.messages);
    expect(a.sink.messages.map((m) => m.vector)).toEqual([0x3a, 0x30]);
    expect(b.bus.mmioRead(IOAPIC_DEFAULT_BASE + IOAPIC_IOWIN, 4)).toBe(0x0f000000);
  });

  it('rejects corrupted state naming the field and stays unchanged', () => {
    const state = busy().ioapic.save();
    const edgeWithRemoteIrr = [...state.redirectionLow];
    edgeWithRemoteIrr[2] = 0x30 | IOAPIC_REMOTE_IRR;
    const deliveryStatus = [...state.redirectionLow];
    deliveryStatus[7] = IOAPIC_MASKED | 0x1000;
    const cases: [string, Record<string, unknown>][] = [
      ['version', { version: 2 }],
      ['apicId', { apicId: 16 }],
      ['ioregsel', { ioregsel: 0x100 }],
      ['redirectionLow', { redirectionLow: [0] }],
      ['redirectionLow[2]', { redirectionLow: edgeWithRemoteIrr }],
      ['redirectionLow[7]', { redirectionLow: deliveryStatus }],
      ['redirectionHigh[0]', { redirectionHigh: [1, ...state.redirectionHigh.slice(1)] }],
      ['pinLevels', { pinLevels: 1 << 24 }],
    ];
    const b = makeIoApic();
    const before = b.ioapic.save();
    for (const [field, patch] of cases) {
      let error: unknown;
      try {
        b.ioapic.restore({ ...structuredClone(state), ...patch });
      } catch (e) {
        error = e;
      }
      expect(error, field).toBeInstanceOf(StateError);
      expect((error as Error).message).toContain(`'${field}'`);
      expect(b.ioapic.save()).toEqual(before);
    }
  });
});

describe('IoApic wired to the LocalApic (as the board does it)', () => {
  function board() {
    const clock = new ManualClock();
    const outputs: boolean[] = [];
    let ioapic: IoApic | undefined;
    const lapic = new LocalApic({
      clock,
      onOutput: (level) => outputs.push(level),
      eoiListener: { endOfInterrupt: (vector) => ioapic!.endOfInterrupt(vector) },
    });
    ioapic = new IoApic({ sink: lapic, apicId: 1 });
    const bus = new MmioBus();
    bus.register(lapic, LAPIC_DEFAULT_BASE, LAPIC_MMIO_SIZE);
    bus.register(ioapic, IOAPIC_DEFAULT_BASE, IOAPIC_MMIO_SIZE);
    const lapicWrite = (reg: number, value: number) => bus.mmioWrite(LAPIC_DEFAULT_BASE + reg, 4, value);
    const lapicRead = (reg: number) => bus.mmioRead(LAPIC_DEFAULT_BASE + reg, 4);
    const ioWrite = (register: number, value: number) => {
      bus.mmioWrite(IOAPIC_DEFAULT_BASE + IOAPIC_IOREGSEL, 4, register);
      bus.mmioWrite(IOAPIC_DEFAULT_BASE + IOAPIC_IOWIN, 4, value);
    };
    // Linux's flat logical mode: LDR = 1 << cpu, DFR flat, APIC software-enabled.
    lapicWrite(LAPIC_LDR, 0x01000000);
    lapicWrite(LAPIC_SVR, 0x1ff);
    const route = (pin: number, low: number) => {
      ioWrite(IOAPIC_REG_REDIRECTION + 2 * pin + 1, 0x01000000);
      ioWrite(IOAPIC_REG_REDIRECTION + 2 * pin, low | IOAPIC_LOGICAL);
    };
    return { lapic, ioapic, outputs, route, lapicWrite, lapicRead };
  }

  it('an ISA edge IRQ fanned out from an IrqLine reaches the CPU once per pulse', () => {
    const { lapic, ioapic, route, lapicWrite } = board();
    route(4, 0x34);
    const irq4 = new IrqLine('irq4', (level) => ioapic.setPin(4, level));
    irq4.pulse();
    expect(lapic.hasPending()).toBe(true);
    expect(lapic.acknowledge()).toBe(0x34);
    lapicWrite(LAPIC_EOI, 0);
    expect(lapic.hasPending()).toBe(false);
    irq4.pulse();
    irq4.pulse();
    expect(lapic.acknowledge()).toBe(0x34);
    lapicWrite(LAPIC_EOI, 0);
    expect(lapic.hasPending()).toBe(false); // the two pulses merged in IRR
  });

  it('a level IRQ: the EOI broadcast reaches the I/O APIC, which re-delivers while the line is high', () => {
    const { lapic, ioapic, route, lapicWrite, lapicRead, outputs } = board();
    route(11, 0x4b | IOAPIC_LEVEL_TRIGGERED);
    ioapic.setPin(11, true);
    expect(lapic.acknowledge()).toBe(0x4b);
    expect((lapicRead(LAPIC_TMR + 0x20) >>> 0xb) & 1).toBe(1);
    lapicWrite(LAPIC_EOI, 0); // the device has not been serviced: line still high
    expect(lapic.hasPending()).toBe(true);
    expect(lapic.acknowledge()).toBe(0x4b);
    ioapic.setPin(11, false); // the handler quietened the device
    lapicWrite(LAPIC_EOI, 0);
    expect(lapic.hasPending()).toBe(false);
    ioapic.setPin(11, true);
    expect(lapic.acknowledge()).toBe(0x4b);
    expect(outputs).toEqual([true, false, true, false, true, false]);
  });

  it('messages to a software-disabled local APIC are refused and do not wedge remote IRR', () => {
    const { lapic, ioapic, route, lapicWrite } = board();
    route(11, 0x4b | IOAPIC_LEVEL_TRIGGERED);
    lapicWrite(LAPIC_SVR, 0xff);
    ioapic.setPin(11, true);
    expect(lapic.hasPending()).toBe(false);
    expect(ioapic.undeliveredMessages).toBe(1);
    lapicWrite(LAPIC_SVR, 0x1ff);
    route(11, 0x4b | IOAPIC_LEVEL_TRIGGERED); // the rewrite re-evaluates the asserted pin
    expect(lapic.acknowledge()).toBe(0x4b);
  });
});
