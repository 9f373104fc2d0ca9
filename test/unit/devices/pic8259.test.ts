// Tests for the 8259A master/slave pair: initialisation, priorities and rotation, EOI kinds,
// spurious IR7/IR15, cascade, ELCR and LTIM level mode, special mask, poll, SFNM, Persist.
import { describe, expect, it } from 'vitest';
import { IoBus } from '../../../src/bus/index.js';
import { StateError } from '../../../src/persist/persist.js';
import {
  PIC_ELCR_BASE,
  PIC_MASTER_BASE,
  PIC_OCW2_CLEAR_ROTATE_AEOI,
  PIC_OCW2_EOI,
  PIC_OCW2_NOP,
  PIC_OCW2_ROTATE_EOI,
  PIC_OCW2_ROTATE_SPECIFIC_EOI,
  PIC_OCW2_SET_PRIORITY,
  PIC_OCW2_SET_ROTATE_AEOI,
  PIC_OCW2_SPECIFIC_EOI,
  PIC_OCW3,
  PIC_OCW3_ESMM,
  PIC_OCW3_POLL,
  PIC_OCW3_RIS,
  PIC_OCW3_RR,
  PIC_OCW3_SMM,
  PIC_SLAVE_BASE,
  Pic8259Pair,
} from '../../../src/devices/pic8259/index.js';

const MASTER_VECTOR_BASE = 0x30;
const SLAVE_VECTOR_BASE = 0x38;

/** The pair on a bus, with its output transitions recorded. */
function makePic() {
  const outputs: boolean[] = [];
  const pic = new Pic8259Pair({ onOutput: (level) => outputs.push(level) });
  const bus = new IoBus();
  bus.register(pic.master, PIC_MASTER_BASE, 2);
  bus.register(pic.slave, PIC_SLAVE_BASE, 2);
  bus.register(pic.elcr, PIC_ELCR_BASE, 2);
  const out = (port: number, value: number) => bus.write(port, 1, value);
  const inb = (port: number) => bus.read(port, 1);
  const readIsr = (base: number) => {
    out(base, PIC_OCW3 | PIC_OCW3_RR | PIC_OCW3_RIS);
    return inb(base);
  };
  const readIrr = (base: number) => {
    out(base, PIC_OCW3 | PIC_OCW3_RR);
    return inb(base);
  };
  return { pic, bus, outputs, out, inb, readIsr, readIrr };
}

type Harness = ReturnType<typeof makePic>;

/**
 * The sequence Linux's init_8259A() writes (arch/x86/kernel/i8259.c): mask all, ICW1 0x11,
 * ICW2 vector base, ICW3 cascade, ICW4 8086 mode (optionally AEOI on the master), unmask.
 */
function linuxInit(h: Harness, options: { masterIcw4?: number; slaveIcw4?: number } = {}): void {
  h.out(0x21, 0xff);
  h.out(0xa1, 0xff);
  h.out(0x20, 0x11);
  h.out(0x21, MASTER_VECTOR_BASE);
  h.out(0x21, 1 << 2);
  h.out(0x21, options.masterIcw4 ?? 0x01);
  h.out(0xa0, 0x11);
  h.out(0xa1, SLAVE_VECTOR_BASE);
  h.out(0xa1, 2);
  h.out(0xa1, options.slaveIcw4 ?? 0x01);
  h.out(0x21, 0x00);
  h.out(0xa1, 0x00);
}

function initialized(options: { masterIcw4?: number; slaveIcw4?: number } = {}): Harness {
  const h = makePic();
  linuxInit(h, options);
  return h;
}

/** Pulse an edge-triggered IRQ (raise and lower). */
function pulse(pic: Pic8259Pair, irq: number): void {
  pic.setIrq(irq, true);
  pic.setIrq(irq, false);
}

describe('initialisation', () => {
  it('does not interrupt before an ICW sequence completes', () => {
    const h = makePic();
    h.pic.setIrq(4, true);
    expect(h.pic.hasPending()).toBe(false);
    h.out(0x20, 0x11);
    h.out(0x21, MASTER_VECTOR_BASE);
    h.pic.setIrq(1, true);
    expect(h.pic.hasPending()).toBe(false);
    h.out(0x21, 4);
    expect(h.pic.hasPending()).toBe(false);
    h.out(0x21, 0x01);
    expect(h.pic.hasPending()).toBe(true);
    expect(h.pic.acknowledge()).toBe(MASTER_VECTOR_BASE + 1);
  });

  it('takes ICW2-ICW4 on the data port, then OCW1 sets the mask readable at the same port', () => {
    const h = initialized();
    h.out(0x21, 0xa5);
    expect(h.inb(0x21)).toBe(0xa5);
    h.out(0xa1, 0x5a);
    expect(h.inb(0xa1)).toBe(0x5a);
  });

  it('single mode without ICW4 skips ICW3 and ICW4', () => {
    const h = makePic();
    h.out(0x20, 0x12); // ICW1: single, no ICW4
    h.out(0x21, 0x48); // ICW2
    h.out(0x21, 0xfe); // now OCW1
    expect(h.inb(0x21)).toBe(0xfe);
    pulse(h.pic, 0);
    expect(h.pic.acknowledge()).toBe(0x48);
  });

  it('the vector base ignores ICW2 bits 0-2', () => {
    const h = makePic();
    h.out(0x20, 0x13);
    h.out(0x21, 0x57);
    h.out(0x21, 0x01);
    pulse(h.pic, 3);
    expect(h.pic.acknowledge()).toBe(0x53);
  });

  it('ICW1 clears IMR, ISR and latched requests and resets the edge sense', () => {
    const h = initialized();
    pulse(h.pic, 4);
    h.pic.setIrq(5, true);
    h.pic.acknowledge();
    expect(h.readIsr(0x20)).toBe(1 << 4);
    h.out(0x21, 0x0f);
    h.out(0x20, 0x11);
    h.out(0x21, MASTER_VECTOR_BASE);
    h.out(0x21, 4);
    h.out(0x21, 0x01);
    expect(h.inb(0x21)).toBe(0);
    expect(h.readIsr(0x20)).toBe(0);
    expect(h.readIrr(0x20)).toBe(0);
    expect(h.pic.hasPending()).toBe(false);
    // IRQ 5 is still high: only a new low→high transition requests again.
    h.pic.setIrq(5, false);
    h.pic.setIrq(5, true);
    expect(h.pic.acknowledge()).toBe(MASTER_VECTOR_BASE + 5);
  });

  it('reads IRR after ICW1 until OCW3 selects ISR', () => {
    const h = initialized();
    h.pic.setIrq(6, true);
    expect(h.inb(0x20)).toBe(1 << 6);
    h.pic.acknowledge();
    expect(h.inb(0x20)).toBe(0);
    h.out(0x20, PIC_OCW3 | PIC_OCW3_RR | PIC_OCW3_RIS);
    expect(h.inb(0x20)).toBe(1 << 6);
    expect(h.inb(0x20)).toBe(1 << 6);
    // OCW3 without RR keeps the selection.
    h.out(0x20, PIC_OCW3);
    expect(h.inb(0x20)).toBe(1 << 6);
  });

  it('reset() returns to the uninitialised power-on state', () => {
    const h = initialized();
    pulse(h.pic, 1);
    expect(h.pic.hasPending()).toBe(true);
    h.pic.reset();
    expect(h.pic.hasPending()).toBe(false);
    expect(h.outputs.at(-1)).toBe(false);
    expect(h.inb(0x21)).toBe(0);
    expect(h.inb(0x4d0)).toBe(0);
    pulse(h.pic, 1);
    expect(h.pic.hasPending()).toBe(false);
  });
});

describe('requests, masks and priorities', () => {
  it('latches an edge request, acknowledges it into ISR and reports the vector', () => {
    const h = initialized();
    pulse(h.pic, 4);
    expect(h.readIrr(0x20)).toBe(1 << 4);
    expect(h.pic.hasPending()).toBe(true);
    expect(h.outputs).toEqual([true]);
    expect(h.pic.acknowledge()).toBe(MASTER_VECTOR_BASE + 4);
    expect(h.readIrr(0x20)).toBe(0);
    expect(h.readIsr(0x20)).toBe(1 << 4);
    expect(h.pic.hasPending()).toBe(false);
    expect(h.outputs).toEqual([true, false]);
  });

  it('an edge input held high requests only once', () => {
    const h = initialized();
    h.pic.setIrq(3, true);
    h.pic.acknowledge();
    h.out(0x20, PIC_OCW2_EOI);
    h.pic.setIrq(3, true);
    expect(h.pic.hasPending()).toBe(false);
    h.pic.setIrq(3, false);
    h.pic.setIrq(3, true);
    expect(h.pic.hasPending()).toBe(true);
  });

  it('serves the lowest-numbered request first (fixed priority)', () => {
    const h = initialized();
    pulse(h.pic, 6);
    pulse(h.pic, 3);
    pulse(h.pic, 5);
    expect(h.pic.acknowledge()).toBe(MASTER_VECTOR_BASE + 3);
    h.out(0x20, PIC_OCW2_EOI);
    expect(h.pic.acknowledge()).toBe(MASTER_VECTOR_BASE + 5);
    h.out(0x20, PIC_OCW2_EOI);
    expect(h.pic.acknowledge()).toBe(MASTER_VECTOR_BASE + 6);
  });

  it('an in-service level blocks equal and lower priorities but not higher ones', () => {
    const h = initialized();
    pulse(h.pic, 4);
    h.pic.acknowledge();
    pulse(h.pic, 6);
    expect(h.pic.hasPending()).toBe(false);
    pulse(h.pic, 1);
    expect(h.pic.hasPending()).toBe(true);
    expect(h.pic.acknowledge()).toBe(MASTER_VECTOR_BASE + 1);
    expect(h.readIsr(0x20)).toBe((1 << 1) | (1 << 4));
    h.out(0x20, PIC_OCW2_EOI); // clears 1, the highest in service
    expect(h.readIsr(0x20)).toBe(1 << 4);
    expect(h.pic.hasPending()).toBe(false);
    h.out(0x20, PIC_OCW2_EOI);
    expect(h.pic.acknowledge()).toBe(MASTER_VECTOR_BASE + 6);
  });

  it('masked requests stay visible in IRR and are served once unmasked', () => {
    const h = initialized();
    h.out(0x21, 1 << 3);
    pulse(h.pic, 3);
    expect(h.pic.hasPending()).toBe(false);
    expect(h.readIrr(0x20)).toBe(1 << 3);
    h.out(0x21, 0);
    expect(h.pic.hasPending()).toBe(true);
    expect(h.pic.acknowledge()).toBe(MASTER_VECTOR_BASE + 3);
  });

  it('specific EOI clears the named level only', () => {
    const h = initialized();
    pulse(h.pic, 5);
    h.pic.acknowledge();
    pulse(h.pic, 3);
    h.pic.acknowledge();
    expect(h.readIsr(0x20)).toBe((1 << 3) | (1 << 5));
    h.out(0x20, PIC_OCW2_SPECIFIC_EOI | 5);
    expect(h.readIsr(0x20)).toBe(1 << 3);
    h.out(0x20, PIC_OCW2_NOP | 3);
    expect(h.readIsr(0x20)).toBe(1 << 3);
  });

  it('automatic EOI never sets ISR', () => {
    const h = initialized({ masterIcw4: 0x03 });
    pulse(h.pic, 5);
    pulse(h.pic, 6);
    expect(h.pic.acknowledge()).toBe(MASTER_VECTOR_BASE + 5);
    expect(h.readIsr(0x20)).toBe(0);
    expect(h.pic.hasPending()).toBe(true);
    expect(h.pic.acknowledge()).toBe(MASTER_VECTOR_BASE + 6);
  });

  it('rejects inputs outside 0..15 and the cascade input', () => {
    const pic = new Pic8259Pair();
    expect(() => pic.setIrq(2, true)).toThrow(/cascade/);
    expect(() => pic.setIrq(16, true)).toThrow(RangeError);
    expect(() => pic.setIrq(-1, true)).toThrow(RangeError);
    expect(() => pic.setIrq(1.5, true)).toThrow(RangeError);
  });
});

describe('rotation', () => {
  it('rotate on non-specific EOI makes the served level the lowest priority', () => {
    const h = initialized();
    pulse(h.pic, 1);
    expect(h.pic.acknowledge()).toBe(MASTER_VECTOR_BASE + 1);
    h.out(0x20, PIC_OCW2_ROTATE_EOI);
    // Priority order is now 2 3 4 5 6 7 0 1: IRQ 0 ranks below IRQ 4.
    pulse(h.pic, 0);
    pulse(h.pic, 4);
    expect(h.pic.acknowledge()).toBe(MASTER_VECTOR_BASE + 4);
    // IRQ 0 is lower than in-service 4: blocked.
    expect(h.pic.hasPending()).toBe(false);
    h.out(0x20, PIC_OCW2_ROTATE_EOI);
    // Order now 5 6 7 0 1 2 3 4.
    expect(h.pic.acknowledge()).toBe(MASTER_VECTOR_BASE + 0);
  });

  it('rotate on specific EOI and set priority choose the lowest level directly', () => {
    const h = initialized();
    pulse(h.pic, 6);
    h.pic.acknowledge();
    h.out(0x20, PIC_OCW2_ROTATE_SPECIFIC_EOI | 3);
    expect(h.readIsr(0x20)).toBe(1 << 6); // level 3 was not in service; 6 stays
    h.out(0x20, PIC_OCW2_SPECIFIC_EOI | 6);
    // Lowest is 3: order 4 5 6 7 0 1 2 3.
    pulse(h.pic, 3);
    pulse(h.pic, 7);
    expect(h.pic.acknowledge()).toBe(MASTER_VECTOR_BASE + 7);
    h.out(0x20, PIC_OCW2_EOI);
    h.out(0x20, PIC_OCW2_SET_PRIORITY | 6); // order 7 0 1 2 3 4 5 6
    pulse(h.pic, 6);
    pulse(h.pic, 7);
    expect(h.pic.acknowledge()).toBe(MASTER_VECTOR_BASE + 7);
    h.out(0x20, PIC_OCW2_EOI);
    // 3 (still requesting from before) ranks above 6.
    expect(h.pic.acknowledge()).toBe(MASTER_VECTOR_BASE + 3);
    h.out(0x20, PIC_OCW2_EOI);
    expect(h.pic.acknowledge()).toBe(MASTER_VECTOR_BASE + 6);
  });

  it('non-specific EOI clears the highest priority under the current rotation', () => {
    const h = initialized();
    h.out(0x20, PIC_OCW2_SET_PRIORITY | 3); // order 4 5 6 7 0 1 2 3
    pulse(h.pic, 1);
    h.pic.acknowledge();
    pulse(h.pic, 5);
    h.pic.acknowledge(); // 5 ranks above in-service 1
    expect(h.readIsr(0x20)).toBe((1 << 1) | (1 << 5));
    h.out(0x20, PIC_OCW2_EOI);
    expect(h.readIsr(0x20)).toBe(1 << 1);
  });

  it('rotate in automatic EOI mode rotates on each acknowledge until cleared', () => {
    const h = initialized({ masterIcw4: 0x03 });
    h.out(0x20, PIC_OCW2_SET_ROTATE_AEOI);
    pulse(h.pic, 3);
    expect(h.pic.acknowledge()).toBe(MASTER_VECTOR_BASE + 3);
    pulse(h.pic, 1);
    pulse(h.pic, 4);
    // Lowest is now 3: 4 ranks first.
    expect(h.pic.acknowledge()).toBe(MASTER_VECTOR_BASE + 4);
    pulse(h.pic, 3);
    // Lowest is 4: order 5 6 7 0 1 2 3 4 → 1 before 3.
    expect(h.pic.acknowledge()).toBe(MASTER_VECTOR_BASE + 1);
    h.out(0x20, PIC_OCW2_CLEAR_ROTATE_AEOI);
    pulse(h.pic, 0);
    // Lowest stays 1 (the last rotation): order 2 3 4 5 6 7 0 1 → 3 before 0.
    expect(h.pic.acknowledge()).toBe(MASTER_VECTOR_BASE + 3);
    expect(h.pic.acknowledge()).toBe(MASTER_VECTOR_BASE + 0);
    // Had those two rotated, 0 would be lowest and 1 would rank first; it stayed 1.
    pulse(h.pic, 1);
    pulse(h.pic, 3);
    expect(h.pic.acknowledge()).toBe(MASTER_VECTOR_BASE + 3);
  });
});

describe('spurious interrupts', () => {
  it('a level request that falls before acknowledge gives IR7 without ISR', () => {
    const h = initialized();
    h.out(0x4d0, 1 << 5);
    h.pic.setIrq(5, true);
    expect(h.pic.hasPending()).toBe(true);
    h.pic.setIrq(5, false);
    expect(h.pic.hasPending()).toBe(false);
    expect(h.pic.acknowledge()).toBe(MASTER_VECTOR_BASE + 7);
    expect(h.readIsr(0x20)).toBe(0);
  });

  it('a request masked after INT rose gives IR7', () => {
    const h = initialized();
    pulse(h.pic, 4);
    h.out(0x21, 1 << 4);
    expect(h.pic.acknowledge()).toBe(MASTER_VECTOR_BASE + 7);
    expect(h.readIsr(0x20)).toBe(0);
    expect(h.readIrr(0x20)).toBe(1 << 4);
  });

  it('a vanished slave request gives IR15 and the master still marks IR2 in service', () => {
    const h = initialized();
    h.out(0x4d1, 1 << (11 - 8));
    h.pic.setIrq(11, true);
    expect(h.pic.hasPending()).toBe(true);
    h.pic.setIrq(11, false);
    // The master latched the slave's INT edge on IR2, so it still asks.
    expect(h.pic.hasPending()).toBe(true);
    expect(h.pic.acknowledge()).toBe(SLAVE_VECTOR_BASE + 7);
    expect(h.readIsr(0x20)).toBe(1 << 2);
    expect(h.readIsr(0xa0)).toBe(0);
    // Linux's handling: EOI the master only.
    h.out(0x20, PIC_OCW2_SPECIFIC_EOI | 2);
    expect(h.readIsr(0x20)).toBe(0);
    expect(h.pic.hasPending()).toBe(false);
  });
});

describe('cascade', () => {
  it('delivers slave vectors and sets ISR on both chips', () => {
    const h = initialized();
    pulse(h.pic, 12);
    expect(h.readIrr(0xa0)).toBe(1 << 4);
    expect(h.pic.hasPending()).toBe(true);
    expect(h.pic.acknowledge()).toBe(SLAVE_VECTOR_BASE + 4);
    expect(h.readIsr(0x20)).toBe(1 << 2);
    expect(h.readIsr(0xa0)).toBe(1 << 4);
  });

  it('slave levels rank between master IRQ 1 and IRQ 3', () => {
    const h = initialized();
    pulse(h.pic, 3);
    pulse(h.pic, 15);
    pulse(h.pic, 1);
    expect(h.pic.acknowledge()).toBe(MASTER_VECTOR_BASE + 1);
    h.out(0x20, PIC_OCW2_EOI);
    expect(h.pic.acknowledge()).toBe(SLAVE_VECTOR_BASE + 7);
    expect(h.readIsr(0xa0)).toBe(1 << 7);
    h.out(0xa0, PIC_OCW2_EOI);
    h.out(0x20, PIC_OCW2_EOI);
    expect(h.pic.acknowledge()).toBe(MASTER_VECTOR_BASE + 3);
  });

  it('a second slave request waits for both EOIs without special fully nested mode', () => {
    const h = initialized();
    pulse(h.pic, 12);
    h.pic.acknowledge();
    pulse(h.pic, 9); // higher priority on the slave, but master IR2 is in service
    expect(h.pic.hasPending()).toBe(false);
    h.out(0x20, PIC_OCW2_EOI);
    expect(h.pic.hasPending()).toBe(true);
    expect(h.pic.acknowledge()).toBe(SLAVE_VECTOR_BASE + 1);
    pulse(h.pic, 14); // lower than in-service 9 and 12 on the slave
    h.out(0x20, PIC_OCW2_EOI);
    expect(h.pic.hasPending()).toBe(false);
    h.out(0xa0, PIC_OCW2_EOI); // clears 9; 12 still in service blocks 14
    expect(h.pic.hasPending()).toBe(false);
    h.out(0xa0, PIC_OCW2_EOI);
    expect(h.pic.acknowledge()).toBe(SLAVE_VECTOR_BASE + 6);
  });

  it('special fully nested mode lets a higher slave request through while IR2 is in service', () => {
    const h = initialized({ masterIcw4: 0x11 });
    pulse(h.pic, 12);
    expect(h.pic.acknowledge()).toBe(SLAVE_VECTOR_BASE + 4);
    pulse(h.pic, 9);
    expect(h.pic.hasPending()).toBe(true);
    expect(h.pic.acknowledge()).toBe(SLAVE_VECTOR_BASE + 1);
    expect(h.readIsr(0xa0)).toBe((1 << 1) | (1 << 4));
    pulse(h.pic, 13); // lower than in-service slave levels: the slave's INT stays low
    expect(h.pic.hasPending()).toBe(false);
  });

  it('a slave whose ICW3 ID is not 2 leaves the data bus floating', () => {
    const h = makePic();
    h.out(0x20, 0x11);
    h.out(0x21, MASTER_VECTOR_BASE);
    h.out(0x21, 1 << 2);
    h.out(0x21, 0x01);
    h.out(0xa0, 0x11);
    h.out(0xa1, SLAVE_VECTOR_BASE);
    h.out(0xa1, 5);
    h.out(0xa1, 0x01);
    pulse(h.pic, 10);
    expect(h.pic.acknowledge()).toBe(0xff);
    expect(h.pic.unansweredCascades).toBe(1);
  });

  it('a master without a slave on IR2 answers IR2 itself', () => {
    const h = makePic();
    h.out(0x20, 0x11);
    h.out(0x21, MASTER_VECTOR_BASE);
    h.out(0x21, 0x00); // ICW3: no slaves
    h.out(0x21, 0x01);
    h.out(0xa0, 0x11);
    h.out(0xa1, SLAVE_VECTOR_BASE);
    h.out(0xa1, 2);
    h.out(0xa1, 0x01);
    pulse(h.pic, 10);
    expect(h.pic.acknowledge()).toBe(MASTER_VECTOR_BASE + 2);
    expect(h.readIsr(0xa0)).toBe(0);
  });
});

describe('ELCR and level-triggered mode', () => {
  it('reads back writable bits only (IRQ 0, 1, 2, 8, 13 are read-only zero)', () => {
    const h = makePic();
    h.out(0x4d0, 0xff);
    h.out(0x4d1, 0xff);
    expect(h.inb(0x4d0)).toBe(0xf8);
    expect(h.inb(0x4d1)).toBe(0xde);
    h.bus.write(0x4d0, 2, 0x0a20);
    expect(h.bus.read(0x4d0, 2)).toBe(0x0a20);
  });

  it('a level input re-requests after EOI while still high and its IRR follows the wire', () => {
    const h = initialized();
    h.out(0x4d1, 1 << 3); // IRQ 11 level-triggered
    h.pic.setIrq(11, true);
    expect(h.pic.acknowledge()).toBe(SLAVE_VECTOR_BASE + 3);
    expect(h.readIrr(0xa0)).toBe(1 << 3);
    h.out(0xa0, PIC_OCW2_EOI);
    h.out(0x20, PIC_OCW2_EOI);
    expect(h.pic.hasPending()).toBe(true);
    expect(h.pic.acknowledge()).toBe(SLAVE_VECTOR_BASE + 3);
    h.pic.setIrq(11, false);
    expect(h.readIrr(0xa0)).toBe(0);
    h.out(0xa0, PIC_OCW2_EOI);
    h.out(0x20, PIC_OCW2_EOI);
    expect(h.pic.hasPending()).toBe(false);
  });

  it('an edge input does not re-request after EOI while held high', () => {
    const h = initialized();
    h.pic.setIrq(11, true);
    expect(h.pic.acknowledge()).toBe(SLAVE_VECTOR_BASE + 3);
    h.out(0xa0, PIC_OCW2_EOI);
    h.out(0x20, PIC_OCW2_EOI);
    expect(h.pic.hasPending()).toBe(false);
  });

  it('switching an input to level mode picks up a wire that is already high', () => {
    const h = initialized();
    h.pic.setIrq(5, true);
    h.pic.acknowledge();
    h.out(0x20, PIC_OCW2_EOI);
    expect(h.pic.hasPending()).toBe(false);
    h.out(0x4d0, 1 << 5);
    expect(h.pic.hasPending()).toBe(true);
    h.out(0x4d0, 0);
    expect(h.pic.hasPending()).toBe(false);
  });

  it('ICW1 LTIM makes every input of that chip level-triggered', () => {
    const h = makePic();
    h.out(0x20, 0x19);
    h.out(0x21, MASTER_VECTOR_BASE);
    h.out(0x21, 4);
    h.out(0x21, 0x01);
    h.pic.setIrq(0, true);
    expect(h.pic.acknowledge()).toBe(MASTER_VECTOR_BASE + 0);
    h.out(0x20, PIC_OCW2_EOI);
    expect(h.pic.hasPending()).toBe(true);
    h.pic.setIrq(0, false);
    expect(h.pic.hasPending()).toBe(false);
  });
});

describe('special mask mode and poll', () => {
  it('special mask mode lets lower levels interrupt a masked in-service level', () => {
    const h = initialized();
    pulse(h.pic, 3);
    h.pic.acknowledge();
    pulse(h.pic, 6);
    expect(h.pic.hasPending()).toBe(false);
    h.out(0x21, 1 << 3);
    expect(h.pic.hasPending()).toBe(false); // normal mask mode: ISR 3 still blocks
    h.out(0x20, PIC_OCW3 | PIC_OCW3_ESMM | PIC_OCW3_SMM);
    expect(h.pic.hasPending()).toBe(true);
    expect(h.pic.acknowledge()).toBe(MASTER_VECTOR_BASE + 6);
    h.out(0x20, PIC_OCW2_SPECIFIC_EOI | 6);
    // Leave special mask mode: in-service 3 blocks 7 again.
    h.out(0x20, PIC_OCW3 | PIC_OCW3_ESMM);
    pulse(h.pic, 7);
    expect(h.pic.hasPending()).toBe(false);
    // SMM bit without ESMM changes nothing.
    h.out(0x20, PIC_OCW3 | PIC_OCW3_SMM);
    expect(h.pic.hasPending()).toBe(false);
  });

  it('poll acknowledges the highest request and reports it once', () => {
    const h = initialized();
    pulse(h.pic, 5);
    pulse(h.pic, 4);
    h.out(0x20, PIC_OCW3 | PIC_OCW3_POLL);
    expect(h.inb(0x20)).toBe(0x80 | 4);
    expect(h.readIsr(0x20)).toBe(1 << 4);
    h.out(0x20, PIC_OCW3 | PIC_OCW3_POLL);
    expect(h.inb(0x20)).toBe(0); // 5 is blocked by in-service 4
    h.out(0x20, PIC_OCW2_EOI);
    h.out(0x20, PIC_OCW3 | PIC_OCW3_POLL);
    expect(h.inb(0x20)).toBe(0x80 | 5);
    expect(h.pic.hasPending()).toBe(false);
    // The poll is one-shot: the next read is a register read again (ISR selected above).
    expect(h.inb(0x20)).toBe(1 << 5);
  });

  it('polling the slave after the master reports the slave level', () => {
    const h = initialized();
    pulse(h.pic, 10);
    h.out(0x20, PIC_OCW3 | PIC_OCW3_POLL);
    expect(h.inb(0x20)).toBe(0x80 | 2);
    h.out(0xa0, PIC_OCW3 | PIC_OCW3_POLL);
    expect(h.inb(0xa0)).toBe(0x80 | 2);
    expect(h.readIsr(0xa0)).toBe(1 << 2);
    expect(h.readIsr(0x20)).toBe(1 << 2);
  });
});

describe('output and wide accesses', () => {
  it('reports each INT change exactly once', () => {
    const h = initialized();
    pulse(h.pic, 1);
    pulse(h.pic, 7);
    h.pic.acknowledge();
    h.out(0x20, PIC_OCW2_EOI);
    h.pic.acknowledge();
    h.out(0x20, PIC_OCW2_EOI);
    expect(h.outputs).toEqual([true, false, true, false]);
    expect(h.pic.output).toBe(false);
  });

  it('counts reserved-bit command writes instead of throwing', () => {
    const h = initialized();
    h.out(0x20, 0x80 | PIC_OCW3);
    expect(h.pic.ignoredWrites).toBe(1);
  });
});

describe('Persist', () => {
  /** Run a fixed interaction and record everything observable. */
  function script(h: Harness): number[] {
    const seen: number[] = [];
    pulse(h.pic, 3);
    seen.push(h.pic.acknowledge());
    pulse(h.pic, 1);
    pulse(h.pic, 6);
    seen.push(h.pic.hasPending() ? 1 : 0);
    seen.push(h.pic.acknowledge());
    h.out(0x20, PIC_OCW2_ROTATE_EOI);
    seen.push(h.readIsr(0x20), h.readIrr(0x20), h.readIsr(0xa0), h.readIrr(0xa0), h.inb(0x21), h.inb(0x4d1));
    h.out(0xa0, PIC_OCW2_EOI);
    h.out(0x20, PIC_OCW2_EOI);
    h.out(0x20, PIC_OCW2_EOI);
    for (let round = 0; round < 6; round++) {
      seen.push(h.pic.hasPending() ? 1 : 0);
      if (h.pic.hasPending()) seen.push(h.pic.acknowledge());
      h.out(0xa0, PIC_OCW2_EOI);
      h.out(0x20, PIC_OCW2_EOI);
      if (round === 2) h.pic.setIrq(11, false);
      if (round === 3) h.out(0xa1, 0);
    }
    return seen;
  }

  function midState(): Harness {
    const h = initialized({ masterIcw4: 0x01 });
    h.out(0x4d1, 1 << 3);
    h.out(0x20, PIC_OCW2_SET_PRIORITY | 4);
    h.out(0xa1, 1 << 6);
    h.pic.setIrq(11, true);
    pulse(h.pic, 14);
    pulse(h.pic, 9);
    h.pic.acknowledge();
    h.out(0x20, PIC_OCW3 | PIC_OCW3_RR | PIC_OCW3_RIS);
    return h;
  }

  it('a restored pair behaves identically to the original', () => {
    const original = midState();
    const saved = original.pic.save();
    const copy = makePic();
    copy.pic.restore(structuredClone(saved));
    expect(copy.pic.save()).toEqual(saved);
    expect(copy.pic.hasPending()).toBe(original.pic.hasPending());
    expect(copy.inb(0x20)).toBe(original.inb(0x20));
    expect(script(copy)).toEqual(script(original));
  });

  it('restores the INT output and reports it', () => {
    const h = initialized();
    pulse(h.pic, 4);
    const saved = h.pic.save();
    const copy = makePic();
    copy.pic.restore(saved);
    expect(copy.pic.hasPending()).toBe(true);
    expect(copy.outputs).toEqual([true]);
  });

  it('rejects corrupted state naming the field and leaves the pair unchanged', () => {
    const h = midState();
    const before = h.pic.save();
    const bad = (patch: (s: Record<string, any>) => void) => {
      const s = structuredClone(before) as Record<string, any>;
      patch(s);
      return s;
    };
    expect(() => h.pic.restore(bad((s) => (s.master.elcr = 0x01)))).toThrow(/'master\.elcr'/);
    expect(() => h.pic.restore(bad((s) => (s.slave.vectorBase = 0x71)))).toThrow(/'slave\.vectorBase'/);
    expect(() => h.pic.restore(bad((s) => (s.slave.isr = 0x100)))).toThrow(/'slave\.isr'/);
    expect(() => h.pic.restore(bad((s) => (s.master.initStep = 1)))).toThrow(/'master\.initStep'/);
    expect(() => h.pic.restore(bad((s) => (s.master.lowestPriority = 8)))).toThrow(/'master\.lowestPriority'/);
    expect(() => h.pic.restore(bad((s) => (s.master.specialMask = 1)))).toThrow(/'master\.specialMask'/);
    expect(() => h.pic.restore(bad((s) => delete s.slave))).toThrow(/'slave'/);
    expect(() => h.pic.restore(bad((s) => (s.version = 2)))).toThrow(StateError);
    expect(() => h.pic.restore(null)).toThrow(StateError);
    expect(h.pic.save()).toEqual(before);
  });
});
