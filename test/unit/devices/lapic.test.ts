// Tests for the local APIC: registers, priorities, EOI, ExtINT, LINT pins, the timer, IPIs, IA32_APIC_BASE, Persist.
import { describe, expect, it } from 'vitest';
import { ApicDelivery, ApicDestinationMode } from '../../../src/bus/apic-bus.js';
import { ManualClock } from '../../../src/bus/clock.js';
import { MmioBus } from '../../../src/bus/index.js';
import type { InterruptSource } from '../../../src/cpu/port-io.js';
import {
  APIC_BASE_ENABLE,
  ESR_ILLEGAL_REGISTER,
  ESR_RECEIVE_ILLEGAL_VECTOR,
  ESR_SEND_ILLEGAL_VECTOR,
  LAPIC_APR,
  LAPIC_DEFAULT_BASE,
  LAPIC_DFR,
  LAPIC_EOI,
  LAPIC_ESR,
  LAPIC_ICR_HIGH,
  LAPIC_ICR_LOW,
  LAPIC_ID,
  LAPIC_IRR,
  LAPIC_ISR,
  LAPIC_LDR,
  LAPIC_LVT_ERROR,
  LAPIC_LVT_LINT0,
  LAPIC_LVT_LINT1,
  LAPIC_LVT_PERF,
  LAPIC_LVT_THERMAL,
  LAPIC_LVT_TIMER,
  LAPIC_MMIO_SIZE,
  LAPIC_PPR,
  LAPIC_SVR,
  LAPIC_TIMER_CURRENT,
  LAPIC_TIMER_DIVIDE,
  LAPIC_TIMER_INITIAL,
  LAPIC_TMR,
  LAPIC_TPR,
  LAPIC_VERSION,
  LVT_ACTIVE_LOW,
  LVT_LEVEL_TRIGGERED,
  LVT_MASKED,
  LVT_REMOTE_IRR,
  LVT_TIMER_PERIODIC,
  LocalApic,
  type LocalApicOptions,
  timerDivisor,
} from '../../../src/devices/lapic/index.js';
import { StateError } from '../../../src/persist/persist.js';

const EXTINT = 0x700;
const NMI = 0x400;
const SELF = 1 << 18;
const ALL_INCLUDING_SELF = 2 << 18;
const ALL_EXCLUDING_SELF = 3 << 18;

/** A stand-in for the 8259 PIC: a queue of vectors; INTR follows "queue not empty". */
class FakePic implements InterruptSource {
  readonly queue: number[] = [];
  acks = 0;
  onIntr: (level: boolean) => void = () => {};
  request(vector: number): void {
    this.queue.push(vector);
    this.onIntr(true);
  }
  hasPending(): boolean {
    return this.queue.length > 0;
  }
  acknowledge(): number {
    this.acks++;
    const vector = this.queue.shift() ?? 0x0f; // an 8259 answers IRQ7's vector when the request vanished
    this.onIntr(this.queue.length > 0);
    return vector;
  }
}

/** A LAPIC on an MMIO bus with recorded outputs. */
function makeApic(extra: Partial<LocalApicOptions> = {}) {
  const clock = new ManualClock();
  const outputs: boolean[] = [];
  const eois: number[] = [];
  const relocations: number[] = [];
  const counts = { nmi: 0, init: 0 };
  const pic = new FakePic();
  const apic = new LocalApic({
    clock,
    extInt: pic,
    onOutput: (level) => outputs.push(level),
    eoiListener: { endOfInterrupt: (vector) => eois.push(vector) },
    onNmi: () => counts.nmi++,
    onInit: () => counts.init++,
    onRelocate: (base) => relocations.push(base),
    ...extra,
  });
  pic.onIntr = (level) => apic.setLint0(level);
  const bus = new MmioBus();
  bus.register(apic, LAPIC_DEFAULT_BASE, LAPIC_MMIO_SIZE);
  const read = (reg: number) => bus.mmioRead(LAPIC_DEFAULT_BASE + reg, 4);
  const write = (reg: number, value: number) => bus.mmioWrite(LAPIC_DEFAULT_BASE + reg, 4, value);
  const enable = () => write(LAPIC_SVR, 0x1ff);
  const fixed = (vector: number, level = false) => apic.deliverMessage(vector, ApicDelivery.Fixed, ApicDestinationMode.Physical, 0, level);
  /** Acknowledge then EOI every deliverable interrupt; returns the vectors in order. */
  const drain = () => {
    const served: number[] = [];
    while (apic.hasPending()) {
      served.push(apic.acknowledge());
      write(LAPIC_EOI, 0);
    }
    return served;
  };
  /** Bit `vector` of the 256-bit register at `base`. */
  const bit = (base: number, vector: number) => (read(base + 16 * (vector >> 5)) >>> (vector & 31)) & 1;
  return { apic, clock, outputs, eois, relocations, counts, pic, bus, read, write, enable, fixed, drain, bit };
}

type Rig = ReturnType<typeof makeApic>;

/** Advance the clock and let the APIC act, as the board does. */
function runTo(rig: Rig, ns: number): void {
  rig.clock.set(ns);
  rig.apic.advanceTo(ns);
}

describe('LocalApic registers', () => {
  it('has the SDM power-on values', () => {
    const { apic, read } = makeApic();
    expect(read(LAPIC_ID)).toBe(0);
    expect(read(LAPIC_VERSION)).toBe(0x00050014);
    expect(read(LAPIC_TPR)).toBe(0);
    expect(read(LAPIC_PPR)).toBe(0);
    expect(read(LAPIC_LDR)).toBe(0);
    expect(read(LAPIC_DFR)).toBe(0xffffffff);
    expect(read(LAPIC_SVR)).toBe(0xff);
    for (const lvt of [LAPIC_LVT_TIMER, LAPIC_LVT_THERMAL, LAPIC_LVT_PERF, LAPIC_LVT_LINT0, LAPIC_LVT_LINT1, LAPIC_LVT_ERROR]) {
      expect(read(lvt)).toBe(LVT_MASKED);
    }
    expect(read(LAPIC_TIMER_INITIAL)).toBe(0);
    expect(read(LAPIC_TIMER_CURRENT)).toBe(0);
    expect(read(LAPIC_TIMER_DIVIDE)).toBe(0);
    expect(apic.readApicBaseMsr()).toBe(0xfee00900);
    expect(apic.hasPending()).toBe(false);
    expect(apic.nextEventNs()).toBe(Infinity);
  });

  it('keeps only the architected bits of writable registers', () => {
    const { read, write, enable } = makeApic();
    enable();
    write(LAPIC_ID, 0xffffffff);
    expect(read(LAPIC_ID)).toBe(0xff000000);
    write(LAPIC_TPR, 0xfff);
    expect(read(LAPIC_TPR)).toBe(0xff);
    write(LAPIC_LDR, 0xffffffff);
    expect(read(LAPIC_LDR)).toBe(0xff000000);
    write(LAPIC_DFR, 0);
    expect(read(LAPIC_DFR)).toBe(0x0fffffff);
    write(LAPIC_SVR, 0xffffffff);
    expect(read(LAPIC_SVR)).toBe(0x3ff);
    write(LAPIC_ICR_HIGH, 0xffffffff);
    expect(read(LAPIC_ICR_HIGH)).toBe(0xff000000);
    write(LAPIC_LVT_TIMER, 0xffffffff); // bit 18 (TSC-deadline) is not offered
    expect(read(LAPIC_LVT_TIMER)).toBe(0x300ff);
    write(LAPIC_LVT_LINT0, 0xffffffff); // delivery status and remote IRR are read-only
    expect(read(LAPIC_LVT_LINT0)).toBe(0x1a7ff);
    write(LAPIC_LVT_THERMAL, 0xffffffff);
    expect(read(LAPIC_LVT_THERMAL)).toBe(0x107ff);
    write(LAPIC_LVT_ERROR, 0xffffffff);
    expect(read(LAPIC_LVT_ERROR)).toBe(0x100ff);
    write(LAPIC_TIMER_DIVIDE, 0xffffffff);
    expect(read(LAPIC_TIMER_DIVIDE)).toBe(0xb);
  });

  it('ignores (and counts) writes to read-only registers', () => {
    const { apic, read, write, enable, fixed } = makeApic();
    enable();
    fixed(0x41);
    const before = apic.ignoredAccesses;
    write(LAPIC_VERSION, 0);
    write(LAPIC_PPR, 0xff);
    write(LAPIC_APR, 0xff);
    write(LAPIC_IRR + 0x20, 0);
    write(LAPIC_ISR + 0x20, 0xffffffff);
    write(LAPIC_TMR + 0x20, 0xffffffff);
    write(LAPIC_TIMER_CURRENT, 1234);
    expect(apic.ignoredAccesses - before).toBe(7);
    expect(read(LAPIC_VERSION)).toBe(0x00050014);
    expect(read(LAPIC_IRR + 0x20)).toBe(1 << 1);
    expect(read(LAPIC_ISR + 0x20)).toBe(0);
    expect(read(LAPIC_TMR + 0x20)).toBe(0);
    expect(read(LAPIC_TIMER_CURRENT)).toBe(0);
  });

  it('reads narrow accesses from the register dword and ignores narrow writes', () => {
    const { apic, bus, read } = makeApic();
    expect(bus.mmioRead(LAPIC_DEFAULT_BASE + LAPIC_VERSION, 1)).toBe(0x14);
    expect(bus.mmioRead(LAPIC_DEFAULT_BASE + LAPIC_VERSION + 2, 2)).toBe(0x0005);
    expect(bus.mmioRead(LAPIC_DEFAULT_BASE + LAPIC_VERSION + 4, 4)).toBe(0); // reserved bytes of the slot
    bus.mmioWrite(LAPIC_DEFAULT_BASE + LAPIC_TPR, 1, 0x50);
    bus.mmioWrite(LAPIC_DEFAULT_BASE + LAPIC_TPR + 4, 4, 0x50);
    expect(read(LAPIC_TPR)).toBe(0);
    expect(apic.ignoredAccesses).toBe(2);
  });

  it('ESR: errors appear only after a write, which also clears them', () => {
    const { read, write, enable, fixed } = makeApic();
    enable();
    expect(fixed(0x05)).toBe(false); // vectors 0-15 are illegal
    expect(read(LAPIC_ESR)).toBe(0);
    write(LAPIC_ESR, 0);
    expect(read(LAPIC_ESR)).toBe(ESR_RECEIVE_ILLEGAL_VECTOR);
    expect(read(LAPIC_IRR)).toBe(0);
    write(LAPIC_ESR, 0);
    expect(read(LAPIC_ESR)).toBe(0);
    read(0x040); // reserved register
    write(LAPIC_ICR_LOW, 0x0f | SELF); // fixed IPI with an illegal vector
    write(LAPIC_ESR, 0);
    expect(read(LAPIC_ESR)).toBe(ESR_ILLEGAL_REGISTER | ESR_SEND_ILLEGAL_VECTOR);
  });

  it('raises the LVT error interrupt for a new error when unmasked', () => {
    const { apic, write, enable, fixed } = makeApic();
    enable();
    write(LAPIC_LVT_ERROR, 0xfe);
    fixed(0x03);
    expect(apic.hasPending()).toBe(true);
    expect(apic.acknowledge()).toBe(0xfe);
    write(LAPIC_EOI, 0);
    fixed(0x03); // same error again before an ESR write: no second interrupt
    expect(apic.hasPending()).toBe(false);
  });
});

describe('LocalApic acceptance and priorities', () => {
  it('delivers the highest IRR vector first and blocks its class and lower ones while it is in service', () => {
    const { apic, read, enable, fixed, bit } = makeApic();
    enable();
    fixed(0x31);
    fixed(0x45);
    fixed(0x52);
    expect(bit(LAPIC_IRR, 0x31) + bit(LAPIC_IRR, 0x45) + bit(LAPIC_IRR, 0x52)).toBe(3);
    expect(apic.acknowledge()).toBe(0x52);
    expect(bit(LAPIC_IRR, 0x52)).toBe(0);
    expect(bit(LAPIC_ISR, 0x52)).toBe(1);
    expect(read(LAPIC_PPR)).toBe(0x50);
    expect(apic.hasPending()).toBe(false);
    fixed(0x5f); // same class as the in-service vector
    expect(apic.hasPending()).toBe(false);
    expect(read(LAPIC_APR)).toBe(0x50);
    fixed(0x60);
    expect(apic.hasPending()).toBe(true);
    expect(read(LAPIC_APR)).toBe(0x60);
    expect(apic.acknowledge()).toBe(0x60);
  });

  it('PPR follows TPR and the in-service class; only a higher class is deliverable', () => {
    const { apic, read, write, enable, fixed } = makeApic();
    enable();
    fixed(0x45);
    expect(apic.acknowledge()).toBe(0x45);
    expect(read(LAPIC_PPR)).toBe(0x40);
    fixed(0x41);
    expect(apic.hasPending()).toBe(false); // class 4 is not above PPR class 4
    fixed(0x51);
    expect(apic.hasPending()).toBe(true);
    write(LAPIC_TPR, 0x5a);
    expect(read(LAPIC_PPR)).toBe(0x5a);
    expect(apic.hasPending()).toBe(false);
    write(LAPIC_TPR, 0x4a); // same class as the in-service vector: PPR is TPR
    expect(read(LAPIC_PPR)).toBe(0x4a);
    write(LAPIC_TPR, 0x20);
    expect(read(LAPIC_PPR)).toBe(0x40);
    expect(apic.acknowledge()).toBe(0x51);
    expect(read(LAPIC_PPR)).toBe(0x50);
    write(LAPIC_EOI, 0);
    write(LAPIC_EOI, 0);
    expect(read(LAPIC_PPR)).toBe(0x20);
    expect(apic.acknowledge()).toBe(0x41);
  });

  it('EOI retires the highest in-service vector first (nesting)', () => {
    const { apic, write, enable, fixed, bit } = makeApic();
    enable();
    fixed(0x40);
    expect(apic.acknowledge()).toBe(0x40);
    fixed(0x60);
    expect(apic.acknowledge()).toBe(0x60);
    expect(bit(LAPIC_ISR, 0x40) + bit(LAPIC_ISR, 0x60)).toBe(2);
    write(LAPIC_EOI, 0);
    expect(bit(LAPIC_ISR, 0x60)).toBe(0);
    expect(bit(LAPIC_ISR, 0x40)).toBe(1);
    write(LAPIC_EOI, 0);
    expect(bit(LAPIC_ISR, 0x40)).toBe(0);
  });

  it('a vector raised again while in service is held in IRR and delivered after EOI', () => {
    const { apic, write, enable, fixed } = makeApic();
    enable();
    fixed(0x70);
    expect(apic.acknowledge()).toBe(0x70);
    fixed(0x70);
    expect(apic.hasPending()).toBe(false);
    write(LAPIC_EOI, 0);
    expect(apic.hasPending()).toBe(true);
    expect(apic.acknowledge()).toBe(0x70);
  });

  it('sets TMR for level messages and broadcasts their EOI; edge EOIs stay local', () => {
    const { apic, write, enable, fixed, bit, eois } = makeApic();
    enable();
    fixed(0x61, true);
    fixed(0x62, false);
    expect(bit(LAPIC_TMR, 0x61)).toBe(1);
    expect(bit(LAPIC_TMR, 0x62)).toBe(0);
    expect(apic.acknowledge()).toBe(0x62);
    write(LAPIC_EOI, 0);
    expect(eois).toEqual([]);
    expect(apic.acknowledge()).toBe(0x61);
    write(LAPIC_EOI, 0);
    expect(eois).toEqual([0x61]);
  });

  it('returns the spurious vector when the request vanished, without touching ISR', () => {
    const { apic, read, write, fixed } = makeApic();
    write(LAPIC_SVR, 0x1ef);
    expect(apic.acknowledge()).toBe(0xef);
    fixed(0x80);
    expect(apic.hasPending()).toBe(true);
    write(LAPIC_TPR, 0xf0);
    expect(apic.hasPending()).toBe(false);
    expect(apic.acknowledge()).toBe(0xef);
    for (let i = 0; i < 8; i++) expect(read(LAPIC_ISR + 16 * i)).toBe(0);
  });

  it('drives onOutput only on changes', () => {
    const { apic, outputs, write, enable, fixed } = makeApic();
    enable();
    fixed(0x40);
    fixed(0x41);
    expect(outputs).toEqual([true]);
    apic.acknowledge();
    expect(outputs).toEqual([true, false]); // 0x40 blocked by the in-service 0x41
    write(LAPIC_EOI, 0);
    expect(outputs).toEqual([true, false, true]);
    apic.acknowledge();
    write(LAPIC_EOI, 0);
    expect(outputs).toEqual([true, false, true, false]);
  });

  it('software-disabled: LVTs stay masked, new fixed interrupts are lost, pending ones are still served', () => {
    const { apic, read, write, enable, fixed } = makeApic();
    write(LAPIC_LVT_TIMER, 0x20);
    expect(read(LAPIC_LVT_TIMER)).toBe(0x20 | LVT_MASKED);
    expect(fixed(0x50)).toBe(false);
    expect(apic.lostInterrupts).toBe(1);
    expect(apic.hasPending()).toBe(false);
    enable();
    write(LAPIC_LVT_TIMER, 0x20);
    write(LAPIC_LVT_LINT1, NMI);
    expect(read(LAPIC_LVT_TIMER)).toBe(0x20);
    fixed(0x50);
    write(LAPIC_SVR, 0xff); // software disable
    expect(read(LAPIC_LVT_TIMER)).toBe(0x20 | LVT_MASKED);
    expect(read(LAPIC_LVT_LINT1)).toBe(NMI | LVT_MASKED);
    expect(apic.hasPending()).toBe(true);
    expect(apic.acknowledge()).toBe(0x50);
    // NMI messages are still accepted.
    expect(apic.deliverMessage(0, ApicDelivery.Nmi, ApicDestinationMode.Physical, 0, false)).toBe(true);
  });
});

describe('LocalApic destinations and IPIs', () => {
  it('matches physical, flat logical and cluster logical destinations', () => {
    const { apic, write, enable } = makeApic({ apicId: 3 });
    enable();
    const send = (mode: ApicDestinationMode, dest: number) => apic.deliverMessage(0x40, ApicDelivery.Fixed, mode, dest, false);
    expect(send(ApicDestinationMode.Physical, 3)).toBe(true);
    expect(send(ApicDestinationMode.Physical, 0xff)).toBe(true);
    expect(send(ApicDestinationMode.Physical, 0)).toBe(false);
    expect(send(ApicDestinationMode.Logical, 0x01)).toBe(false); // LDR 0
    write(LAPIC_LDR, 0x01000000);
    expect(send(ApicDestinationMode.Logical, 0x01)).toBe(true);
    expect(send(ApicDestinationMode.Logical, 0xff)).toBe(true);
    expect(send(ApicDestinationMode.Logical, 0x02)).toBe(false);
    write(LAPIC_DFR, 0x0fffffff); // cluster model
    write(LAPIC_LDR, 0x21000000); // cluster 2, member bit 0
    expect(send(ApicDestinationMode.Logical, 0x21)).toBe(true);
    expect(send(ApicDestinationMode.Logical, 0xf1)).toBe(true);
    expect(send(ApicDestinationMode.Logical, 0x11)).toBe(false);
    expect(send(ApicDestinationMode.Logical, 0x22)).toBe(false);
  });

  it('accepts fixed self IPIs (shorthand, own ID, all-including-self) into IRR', () => {
    const { apic, read, write, enable, drain } = makeApic();
    enable();
    write(LAPIC_ICR_LOW, 0x41 | SELF);
    write(LAPIC_ICR_HIGH, 0x00000000);
    write(LAPIC_ICR_LOW, 0x42);
    write(LAPIC_ICR_LOW, 0x43 | ALL_INCLUDING_SELF);
    expect(read(LAPIC_ICR_LOW)).toBe(0x43 | ALL_INCLUDING_SELF); // delivery status reads idle
    expect(drain()).toEqual([0x43, 0x42, 0x41]);
    expect(apic.undeliverableIpis).toBe(0);
  });

  it('counts IPIs nobody can receive with one processor', () => {
    const { apic, write, enable } = makeApic();
    enable();
    write(LAPIC_ICR_LOW, 0x41 | ALL_EXCLUDING_SELF);
    write(LAPIC_ICR_HIGH, 0x05000000);
    write(LAPIC_ICR_LOW, 0x42);
    write(LAPIC_ICR_LOW, 0x0500 | 0x4000); // INIT assert to APIC 5
    write(LAPIC_ICR_LOW, 0x0600 | 0x10); // start-up to APIC 5
    expect(apic.undeliverableIpis).toBe(4);
    expect(apic.hasPending()).toBe(false);
  });

  it('sends NMI and INIT to itself through the callbacks; INIT de-assert is a no-op', () => {
    const { write, enable, counts } = makeApic();
    enable();
    write(LAPIC_ICR_LOW, NMI | ALL_INCLUDING_SELF);
    expect(counts.nmi).toBe(1);
    write(LAPIC_ICR_HIGH, 0);
    write(LAPIC_ICR_LOW, 0x0500 | 0x4000);
    expect(counts.init).toBe(1);
    write(LAPIC_ICR_LOW, 0x0500 | 0x8000); // level de-assert
    expect(counts.init).toBe(1);
  });
});

describe('LocalApic LINT pins and ExtINT', () => {
  it('virtual wire: LINT0 ExtINT hands the PIC vector to the processor, regardless of TPR', () => {
    const { apic, pic, read, write, outputs } = makeApic();
    pic.request(0x08);
    expect(apic.hasPending()).toBe(false); // LINT0 masked at power-on
    apic.configureVirtualWire();
    expect(read(LAPIC_SVR) & 0x100).toBe(0x100);
    expect(read(LAPIC_LVT_LINT0)).toBe(EXTINT);
    expect(read(LAPIC_LVT_LINT1)).toBe(NMI);
    expect(apic.hasPending()).toBe(true);
    write(LAPIC_TPR, 0xff);
    expect(apic.hasPending()).toBe(true);
    expect(apic.acknowledge()).toBe(0x08);
    expect(pic.acks).toBe(1);
    expect(apic.hasPending()).toBe(false);
    expect(outputs).toEqual([true, false]);
    write(LAPIC_LVT_LINT0, EXTINT | LVT_MASKED);
    pic.request(0x09);
    expect(apic.hasPending()).toBe(false);
    write(LAPIC_LVT_LINT0, EXTINT);
    expect(apic.hasPending()).toBe(true);
  });

  it('serves ExtINT messages from the I/O APIC with the PIC vector', () => {
    const { apic, pic, enable } = makeApic();
    enable();
    pic.queue.push(0x20);
    expect(apic.deliverMessage(0, ApicDelivery.ExtInt, ApicDestinationMode.Physical, 0, false)).toBe(true);
    expect(apic.hasPending()).toBe(true);
    expect(apic.acknowledge()).toBe(0x20);
    expect(apic.hasPending()).toBe(false);
  });

  it('LINT1 as NMI fires on asserting edges only', () => {
    const { apic, counts } = makeApic();
    apic.configureVirtualWire();
    apic.setLint1(true);
    apic.setLint1(true);
    apic.setLint1(false);
    apic.setLint1(true);
    expect(counts.nmi).toBe(2);
  });

  it('LINT0 fixed edge-triggered raises its vector per edge; polarity inverts the input', () => {
    const { apic, write, enable, drain } = makeApic();
    enable();
    write(LAPIC_LVT_LINT0, 0x55);
    apic.setLint0(true);
    expect(drain()).toEqual([0x55]);
    apic.setLint0(false);
    expect(drain()).toEqual([]);
    write(LAPIC_LVT_LINT0, 0x56 | LVT_ACTIVE_LOW);
    apic.setLint0(true);
    apic.setLint0(false); // asserting edge of an active-low input
    expect(drain()).toEqual([0x56]);
  });

  it('LINT0 fixed level-triggered holds remote IRR until EOI and re-raises while asserted', () => {
    const { apic, read, write, enable, eois } = makeApic();
    enable();
    write(LAPIC_LVT_LINT0, 0x57 | LVT_LEVEL_TRIGGERED);
    apic.setLint0(true);
    expect(read(LAPIC_LVT_LINT0) & LVT_REMOTE_IRR).toBe(LVT_REMOTE_IRR);
    expect(apic.acknowledge()).toBe(0x57);
    write(LAPIC_EOI, 0);
    expect(eois).toEqual([0x57]);
    expect(apic.hasPending()).toBe(true); // still asserted: raised again
    expect(apic.acknowledge()).toBe(0x57);
    apic.setLint0(false);
    write(LAPIC_EOI, 0);
    expect(read(LAPIC_LVT_LINT0) & LVT_REMOTE_IRR).toBe(0);
    expect(apic.hasPending()).toBe(false);
  });
});

describe('LocalApic timer', () => {
  it('maps the divide configuration to 1..128', () => {
    expect([0, 1, 2, 3, 8, 9, 10, 11].map(timerDivisor)).toEqual([2, 4, 8, 16, 32, 64, 128, 1]);
  });

  it('one-shot: counts down from the clock, interrupts once at expiry, then reads 0', () => {
    const rig = makeApic();
    const { apic, clock, read, write, enable, drain } = rig;
    enable();
    write(LAPIC_TIMER_DIVIDE, 0xb); // divide by 1: one count per ns at 1 GHz
    write(LAPIC_LVT_TIMER, 0xec);
    clock.set(100);
    const reschedules = clock.rescheduleCount;
    write(LAPIC_TIMER_INITIAL, 1000);
    expect(clock.rescheduleCount).toBeGreaterThan(reschedules);
    expect(read(LAPIC_TIMER_CURRENT)).toBe(1000);
    expect(apic.nextEventNs()).toBe(1100);
    clock.set(500);
    expect(read(LAPIC_TIMER_CURRENT)).toBe(600);
    runTo(rig, 1099);
    expect(apic.hasPending()).toBe(false);
    expect(read(LAPIC_TIMER_CURRENT)).toBe(1);
    runTo(rig, 1100);
    expect(drain()).toEqual([0xec]);
    expect(read(LAPIC_TIMER_CURRENT)).toBe(0);
    expect(apic.nextEventNs()).toBe(Infinity);
    runTo(rig, 10_000);
    expect(drain()).toEqual([]);
    expect(read(LAPIC_TIMER_INITIAL)).toBe(1000);
  });

  it('periodic with divide by 16: reloads and interrupts every period', () => {
    const rig = makeApic();
    const { apic, read, write, enable, drain } = rig;
    enable();
    write(LAPIC_TIMER_DIVIDE, 0x3); // divide by 16
    write(LAPIC_LVT_TIMER, 0xef | LVT_TIMER_PERIODIC);
    write(LAPIC_TIMER_INITIAL, 250); // 250 × 16 ns = 4 µs
    expect(apic.nextEventNs()).toBe(4000);
    rig.clock.set(16 * 10 + 5);
    expect(read(LAPIC_TIMER_CURRENT)).toBe(240);
    let interrupts = 0;
    for (let t = 1000; t <= 40_000; t += 1000) {
      runTo(rig, t);
      interrupts += drain().length;
    }
    expect(interrupts).toBe(10);
    expect(apic.nextEventNs()).toBe(44_000);
    rig.clock.set(40_000 + 16 * 249);
    expect(read(LAPIC_TIMER_CURRENT)).toBe(1);
    rig.clock.set(44_000); // reload point, before advanceTo runs
    expect(read(LAPIC_TIMER_CURRENT)).toBe(250);
  });

  it('periodic: missed periods collapse into one interrupt and the phase is kept', () => {
    const rig = makeApic();
    const { apic, write, enable, drain } = rig;
    enable();
    write(LAPIC_TIMER_DIVIDE, 0xb);
    write(LAPIC_LVT_TIMER, 0x30 | LVT_TIMER_PERIODIC);
    write(LAPIC_TIMER_INITIAL, 100);
    runTo(rig, 1050);
    expect(drain()).toEqual([0x30]);
    expect(apic.nextEventNs()).toBe(1100);
  });

  it('honours timerHz: a 100 MHz timer with divide by 2 counts every 20 ns', () => {
    const rig = makeApic({ timerHz: 100_000_000 });
    const { apic, read, write, enable } = rig;
    enable();
    write(LAPIC_LVT_TIMER, 0x31);
    write(LAPIC_TIMER_INITIAL, 50);
    expect(apic.nextEventNs()).toBe(1000);
    rig.clock.set(399);
    expect(read(LAPIC_TIMER_CURRENT)).toBe(31);
    rig.clock.set(400);
    expect(read(LAPIC_TIMER_CURRENT)).toBe(30);
  });

  it('stays exact for long counts at a timerHz that does not divide 1 GHz into whole ns', () => {
    const rig = makeApic({ timerHz: 300_000_000 }); // 3.33... ns per bus tick
    const { apic, read, write, enable } = rig;
    enable();
    write(LAPIC_TIMER_DIVIDE, 0xa); // divide by 128
    write(LAPIC_LVT_TIMER, 0x35);
    write(LAPIC_TIMER_INITIAL, 0xffffffff);
    // 0xffffffff × 128 bus ticks × 10/3 ns, rounded up.
    expect(apic.nextEventNs()).toBe(Math.ceil((0xffffffff * 128 * 10) / 3));
    rig.clock.set(426_666_666_667); // about 1e9 counts in
    const elapsedTicks = Number((BigInt(rig.clock.nowNs()) * 300_000_000n) / 1_000_000_000n / 128n);
    expect(read(LAPIC_TIMER_CURRENT)).toBe(0xffffffff - elapsedTicks);
    expect(elapsedTicks).toBeGreaterThan(999_000_000);
  });

  it('rejects a bad timerHz or APIC ID', () => {
    expect(() => makeApic({ timerHz: 0 })).toThrow(/timerHz/);
    expect(() => makeApic({ timerHz: 1.5 })).toThrow(/timerHz/);
    expect(() => makeApic({ apicId: 256 })).toThrow(/apicId/);
  });

  it('a divide change while counting continues from the current count at the new rate', () => {
    const rig = makeApic();
    const { apic, read, write, enable } = rig;
    enable();
    write(LAPIC_TIMER_DIVIDE, 0xb);
    write(LAPIC_LVT_TIMER, 0x32);
    write(LAPIC_TIMER_INITIAL, 1000);
    rig.clock.set(400);
    write(LAPIC_TIMER_DIVIDE, 0x0); // divide by 2
    expect(read(LAPIC_TIMER_CURRENT)).toBe(600);
    expect(apic.nextEventNs()).toBe(400 + 1200);
    rig.clock.set(600);
    expect(read(LAPIC_TIMER_CURRENT)).toBe(500);
  });

  it('writing 0 to the initial count stops the timer', () => {
    const rig = makeApic();
    const { apic, read, write, enable, drain } = rig;
    enable();
    write(LAPIC_LVT_TIMER, 0x33 | LVT_TIMER_PERIODIC);
    write(LAPIC_TIMER_INITIAL, 100);
    rig.clock.set(50);
    write(LAPIC_TIMER_INITIAL, 0);
    expect(read(LAPIC_TIMER_CURRENT)).toBe(0);
    expect(apic.nextEventNs()).toBe(Infinity);
    runTo(rig, 10_000);
    expect(drain()).toEqual([]);
  });

  it('a masked timer keeps counting without events; unmasking schedules the next expiry', () => {
    const rig = makeApic();
    const { apic, clock, read, write, enable, drain } = rig;
    enable();
    write(LAPIC_TIMER_DIVIDE, 0xb);
    write(LAPIC_LVT_TIMER, 0x34 | LVT_TIMER_PERIODIC | LVT_MASKED);
    write(LAPIC_TIMER_INITIAL, 1000);
    expect(apic.nextEventNs()).toBe(Infinity);
    clock.set(2300);
    expect(read(LAPIC_TIMER_CURRENT)).toBe(700);
    const reschedules = clock.rescheduleCount;
    write(LAPIC_LVT_TIMER, 0x34 | LVT_TIMER_PERIODIC);
    expect(clock.rescheduleCount).toBeGreaterThan(reschedules);
    expect(drain()).toEqual([]); // expiries while masked raised nothing
    expect(apic.nextEventNs()).toBe(3000);
    runTo(rig, 3000);
    expect(drain()).toEqual([0x34]);
  });
});

describe('LocalApic IA32_APIC_BASE', () => {
  it('refuses reserved bits (#GP) and leaves the MSR unchanged', () => {
    const { apic } = makeApic();
    expect(apic.writeApicBaseMsr(0xfee00900 | 0x1, 0)).toBe(false);
    expect(apic.writeApicBaseMsr(0xfee00900 | 0x200, 0)).toBe(false);
    expect(apic.writeApicBaseMsr(0xfee00900 | 0x400, 0)).toBe(false); // x2APIC not supported
    expect(apic.writeApicBaseMsr(0xfee00900, 1)).toBe(false);
    expect(apic.readApicBaseMsr()).toBe(0xfee00900);
    expect(apic.writeApicBaseMsr(0xfee00800, 0)).toBe(true); // BSP bit is status: ignored
    expect(apic.readApicBaseMsr()).toBe(0xfee00900);
  });

  it('relocates the register page through onRelocate', () => {
    const { apic, relocations } = makeApic();
    expect(apic.writeApicBaseMsr(0xfed00000 | APIC_BASE_ENABLE, 0)).toBe(true);
    expect(relocations).toEqual([0xfed00000]);
    expect(apic.base).toBe(0xfed00000);
    expect(apic.readApicBaseMsr()).toBe(0xfed00900);
    apic.reset();
    expect(relocations).toEqual([0xfed00000, LAPIC_DEFAULT_BASE]);
  });

  it('hardware disable: PIC straight to the processor, page reads all ones; re-enable gives the power-on state', () => {
    const { apic, pic, read, write, enable, fixed, counts } = makeApic();
    enable();
    write(LAPIC_TPR, 0x30);
    write(LAPIC_TIMER_INITIAL, 1000);
    fixed(0x40);
    expect(apic.writeApicBaseMsr(0xfee00100, 0)).toBe(true);
    expect(apic.hardwareEnabled).toBe(false);
    expect(apic.readApicBaseMsr()).toBe(0xfee00100);
    expect(apic.hasPending()).toBe(false); // the accepted 0x40 is gone with the APIC
    expect(read(LAPIC_VERSION)).toBe(0xffffffff);
    expect(fixed(0x41)).toBe(false);
    expect(apic.nextEventNs()).toBe(Infinity);
    pic.request(0x08);
    expect(apic.hasPending()).toBe(true); // no APIC: INTR goes straight to the core
    expect(apic.acknowledge()).toBe(0x08);
    apic.setLint1(true);
    expect(counts.nmi).toBe(1); // LINT1 is the NMI pin
    expect(apic.writeApicBaseMsr(0xfee00900, 0)).toBe(true);
    expect(apic.hardwareEnabled).toBe(true);
    expect(read(LAPIC_SVR)).toBe(0xff);
    expect(read(LAPIC_TPR)).toBe(0);
    expect(read(LAPIC_TIMER_INITIAL)).toBe(0);
    expect(read(LAPIC_LVT_LINT0)).toBe(LVT_MASKED);
  });
});

describe('LocalApic Persist', () => {
  /** A busy APIC: periodic timer mid-period, an interrupt in service, one pending, LINT0 level fixed. */
  function busyRig() {
    const rig = makeApic();
    const { apic, clock, write, enable, fixed } = rig;
    enable();
    write(LAPIC_LDR, 0x01000000);
    write(LAPIC_TPR, 0x10);
    write(LAPIC_LVT_ERROR, 0xfe);
    write(LAPIC_TIMER_DIVIDE, 0x1); // divide by 4
    write(LAPIC_LVT_TIMER, 0xef | LVT_TIMER_PERIODIC);
    clock.set(1000);
    write(LAPIC_TIMER_INITIAL, 500); // 2 µs period
    fixed(0x61, true);
    expect(apic.acknowledge()).toBe(0x61);
    fixed(0x51);
    fixed(0x71);
    clock.set(2234);
    return rig;
  }

  /** What the rig does from now on: reads and served vectors over a few periods. */
  function behaviour(rig: Rig): unknown[] {
    const log: unknown[] = [];
    for (let t = rig.clock.nowNs(); t <= 12_000; t += 700) {
      runTo(rig, t);
      log.push(rig.read(LAPIC_TIMER_CURRENT), rig.read(LAPIC_PPR), rig.apic.nextEventNs(), rig.drain(), [...rig.eois]);
    }
    return log;
  }

  it('restores into a fresh instance that behaves identically (mid-timer)', () => {
    const a = busyRig();
    const state = a.apic.save();
    const b = makeApic();
    b.clock.set(a.clock.nowNs());
    b.apic.restore(structuredClone(state));
    expect(b.apic.save()).toEqual(state);
    expect(b.apic.hasPending()).toBe(a.apic.hasPending());
    expect(b.outputs.at(-1)).toBe(true);
    const expected = behaviour(a);
    expect(behaviour(b)).toEqual(expected);
    expect(expected.length).toBeGreaterThan(10);
  });

  it('rejects corrupted state naming the field and stays unchanged', () => {
    const a = busyRig();
    const state = a.apic.save();
    const cases: [string, Record<string, unknown>][] = [
      ['version', { version: 99 }],
      ['irr[0]', { irr: [0x8, 0, 0, 0, 0, 0, 0, 0] }],
      ['isr', { isr: [0, 0, 0] }],
      ['lvt[3]', { svr: 0xff, lvt: [LVT_MASKED, LVT_MASKED, LVT_MASKED, EXTINT, LVT_MASKED, LVT_MASKED] }],
      ['lvt[0]', { lvt: [0x40000, LVT_MASKED, LVT_MASKED, LVT_MASKED, LVT_MASKED, LVT_MASKED] }],
      ['timerRunning', { timerInitialCount: 0 }],
      ['tpr', { tpr: 0x100 }],
      ['baseAddress', { baseAddress: 0xfee00800 }],
      ['dfr', { dfr: 0 }],
      ['timerStartNs', { timerStartNs: -1 }],
      ['lint0Level', { lint0Level: 1 }],
    ];
    const b = makeApic();
    const before = b.apic.save();
    for (const [field, patch] of cases) {
      let error: unknown;
      try {
        b.apic.restore({ ...structuredClone(state), ...patch });
      } catch (e) {
        error = e;
      }
      expect(error, field).toBeInstanceOf(StateError);
      expect((error as Error).message).toContain(`'${field}`);
      expect(b.apic.save()).toEqual(before);
    }
  });
});
