// Tests for system control port A (0x92) and the POST code port (0x80), including Persist.
import { describe, expect, it } from 'vitest';
import { IoBus } from '../../../src/bus/index.js';
import { StateError } from '../../../src/persist/persist.js';
import {
  POST_HISTORY_LENGTH,
  PostCodePort,
  SystemControlPortA,
} from '../../../src/devices/system-control/index.js';

function makePort92() {
  const a20: boolean[] = [];
  let resets = 0;
  const port = new SystemControlPortA({ onA20: (on) => a20.push(on), onReset: () => resets++ });
  const bus = new IoBus();
  bus.register(port, 0x92, 1);
  return {
    port, bus, a20,
    get resets() {
      return resets;
    },
  };
}

describe('SystemControlPortA (0x92)', () => {
  it('reads back what was written and reports A20 changes', () => {
    const rig = makePort92();
    expect(rig.bus.read(0x92, 1)).toBe(0);
    rig.bus.write(0x92, 1, 0x02);
    expect(rig.a20).toEqual([true]);
    expect(rig.port.a20Enabled).toBe(true);
    rig.bus.write(0x92, 1, 0x82); // bit 7 stored, A20 unchanged: no call
    expect(rig.bus.read(0x92, 1)).toBe(0x82);
    expect(rig.a20).toEqual([true]);
    rig.bus.write(0x92, 1, 0x00);
    expect(rig.a20).toEqual([true, false]);
    expect(rig.resets).toBe(0);
  });

  it('resets on a 0 → 1 transition of bit 0 only', () => {
    const rig = makePort92();
    rig.bus.write(0x92, 1, 0x03);
    expect(rig.resets).toBe(1);
    expect(rig.a20).toEqual([true]);
    rig.bus.write(0x92, 1, 0x03); // still 1: no new reset
    expect(rig.resets).toBe(1);
    rig.bus.write(0x92, 1, 0x02);
    rig.bus.write(0x92, 1, 0x03);
    expect(rig.resets).toBe(2);
  });

  it('reset() returns to 0 without calling back', () => {
    const rig = makePort92();
    rig.bus.write(0x92, 1, 0x03);
    rig.port.reset();
    expect(rig.bus.read(0x92, 1)).toBe(0);
    expect(rig.a20).toEqual([true]);
    expect(rig.resets).toBe(1);
    rig.bus.write(0x92, 1, 0x01);
    expect(rig.resets).toBe(2);
  });

  it('restores into a fresh instance that continues identically, and rejects bad state', () => {
    const a = makePort92();
    a.bus.write(0x92, 1, 0x03);
    const b = makePort92();
    b.port.restore(structuredClone(a.port.save()));
    expect(b.bus.read(0x92, 1)).toBe(0x03);
    expect(b.a20).toEqual([]); // restore does not call back
    for (const rig of [a, b]) {
      rig.bus.write(0x92, 1, 0x03);
      rig.bus.write(0x92, 1, 0x00);
      rig.bus.write(0x92, 1, 0x01);
    }
    expect(b.resets).toBe(1);
    expect(a.resets).toBe(2);
    expect(b.a20).toEqual([false]);
    expect(a.a20.slice(1)).toEqual(b.a20);
    expect(() => b.port.restore({ version: 1, value: 256 })).toThrow(StateError);
    expect(() => b.port.restore({ version: 1, value: 256 })).toThrow(/'value'/);
    expect(() => b.port.restore({ version: 7, value: 1 })).toThrow(/'version'/);
    expect(b.bus.read(0x92, 1)).toBe(0x01);
  });
});

describe('PostCodePort (0x80)', () => {
  it('records the last code, a count and a short history; reads return the last code', () => {
    const port = new PostCodePort();
    const bus = new IoBus();
    bus.register(port, 0x80, 1);
    expect(bus.read(0x80, 1)).toBe(0);
    expect(port.history()).toEqual([]);
    for (let i = 1; i <= 20; i++) bus.write(0x80, 1, i);
    expect(bus.read(0x80, 1)).toBe(20);
    expect(port.lastCode).toBe(20);
    expect(port.writeCount).toBe(20);
    expect(port.history()).toEqual(Array.from({ length: POST_HISTORY_LENGTH }, (_, i) => 20 - POST_HISTORY_LENGTH + 1 + i));
    port.ioWrite(0, 2, 0x1234);
    expect(port.lastCode).toBe(0x34);
    port.reset();
    expect([port.lastCode, port.writeCount, port.history().length]).toEqual([0, 0, 0]);
  });

  it('restores into a fresh instance that continues identically, and rejects bad state', () => {
    const a = new PostCodePort();
    for (const code of [0x10, 0x20, 0x30]) a.ioWrite(0, 1, code);
    const b = new PostCodePort();
    b.restore(structuredClone(a.save()));
    for (const p of [a, b]) for (let i = 0; i < 17; i++) p.ioWrite(0, 1, 0x40 + i);
    expect(b.save()).toEqual(a.save());
    expect(b.history()).toEqual(a.history());
    const good = a.save();
    const before = b.save();
    expect(() => b.restore({ ...good, history: [1, 2] })).toThrow(/'history'/);
    expect(() => b.restore({ ...good, history: [...good.history.slice(0, -1), 0xff] })).toThrow(/'history'/);
    expect(() => b.restore({ ...good, last: -1 })).toThrow(StateError);
    expect(() => b.restore({ ...good, writes: 1.5 })).toThrow(/'writes'/);
    expect(b.save()).toEqual(before);
    const short = new PostCodePort();
    short.ioWrite(0, 1, 0x55);
    b.restore(short.save());
    expect(b.history()).toEqual([0x55]);
  });
});
