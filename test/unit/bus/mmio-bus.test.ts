// Tests for the MMIO bus: routing, unclaimed all-ones, overlap, unregister, split accesses.
import { describe, expect, it } from 'vitest';
import { type AccessSize, BusOverlapError, BusRangeError, type MmioDevice, MmioBus } from '../../../src/bus/index.js';

/** What the memory layer expects of an MMIO handler (absolute addresses). */
interface MmioHandler {
  mmioRead(address: number, size: 1 | 2 | 4): number;
  mmioWrite(address: number, size: 1 | 2 | 4, value: number): void;
}

class RecordingMmio implements MmioDevice {
  readonly reads: { offset: number; size: AccessSize }[] = [];
  readonly writes: { offset: number; size: AccessSize; value: number }[] = [];
  constructor(readonly name: string, private readonly readValue: (offset: number, size: AccessSize) => number = () => 0) {}
  mmioRead(offset: number, size: AccessSize): number {
    this.reads.push({ offset, size });
    return this.readValue(offset, size);
  }
  mmioWrite(offset: number, size: AccessSize, value: number): void {
    this.writes.push({ offset, size, value });
  }
}

describe('MmioBus', () => {
  it('is usable as the memory layer MmioHandler', () => {
    const handler: MmioHandler = new MmioBus();
    expect(handler.mmioRead(0, 4)).toBe(0xffffffff);
  });

  it('routes reads and writes of each width with relative offsets', () => {
    const bus = new MmioBus();
    const apic = new RecordingMmio('lapic', (offset, size) => (size === 4 ? 0x80000000 + offset : offset));
    const ioapic = new RecordingMmio('ioapic', () => -1);
    bus.register(apic, 0xfee00000, 0x1000);
    bus.register(ioapic, 0xfec00000, 0x20);
    expect(bus.mmioRead(0xfee00020, 4)).toBe(0x80000020);
    expect(bus.mmioRead(0xfee00ffe, 2)).toBe(0xffe);
    expect(bus.mmioRead(0xfec00010, 1)).toBe(0xff);
    expect(bus.mmioRead(0xfec00010, 4)).toBe(0xffffffff);
    bus.mmioWrite(0xfee000b0, 4, 0);
    bus.mmioWrite(0xfec00000, 1, 0x1ff);
    expect(apic.writes).toEqual([{ offset: 0xb0, size: 4, value: 0 }]);
    expect(ioapic.writes).toEqual([{ offset: 0, size: 1, value: 0xff }]);
    expect(bus.claims(0xfee00fff)).toBe(true);
    expect(bus.claims(0xfee01000)).toBe(false);
  });

  it('reads all ones when unclaimed, counting and logging', () => {
    const bus = new MmioBus();
    bus.register(new RecordingMmio('dev'), 0x1000, 0x10);
    expect(bus.mmioRead(0x2000, 1)).toBe(0xff);
    expect(bus.mmioRead(0x2000, 2)).toBe(0xffff);
    expect(bus.mmioRead(0xfffffffc, 4)).toBe(0xffffffff);
    bus.mmioWrite(0x0fff, 1, 9);
    expect(bus.unclaimedReads).toBe(7);
    expect(bus.unclaimedWrites).toBe(1);
    expect(bus.unclaimedLog().at(-1)).toEqual({ address: 0x0fff, size: 1, value: 9, kind: 'write' });
  });

  it('rejects overlaps on either side naming both devices, accepts adjacent ranges', () => {
    const bus = new MmioBus();
    bus.register(new RecordingMmio('a'), 0x2000, 0x1000);
    bus.register(new RecordingMmio('b'), 0x1000, 0x1000);
    bus.register(new RecordingMmio('c'), 0x3000, 0x1000);
    expect(() => bus.register(new RecordingMmio('x'), 0x2fff, 2)).toThrow(BusOverlapError);
    expect(() => bus.register(new RecordingMmio('y'), 0x0800, 0x1000)).toThrow(
      /'y' at 0x00000800-0x000017FF overlaps device 'b' at 0x00001000-0x00001FFF/,
    );
    expect(() => bus.register(new RecordingMmio('z'), 0x0, 0x10000)).toThrow(BusOverlapError);
    expect(() => bus.register(new RecordingMmio('big'), 0xfffff000, 0x2000)).toThrow(BusRangeError);
    bus.register(new RecordingMmio('top'), 0xfffff000, 0x1000);
  });

  it('unregister frees the range', () => {
    const bus = new MmioBus();
    const dev = new RecordingMmio('dev');
    bus.register(dev, 0x1000, 0x100);
    expect(bus.mmioRead(0x1000, 4)).toBe(0);
    bus.unregister(dev);
    expect(bus.mmioRead(0x1000, 4)).toBe(0xffffffff);
    expect(() => bus.unregister(dev)).toThrow(/not registered/);
    bus.register(new RecordingMmio('again'), 0x1000, 0x100);
  });

  it('splits accesses spanning two devices or a device and nothing', () => {
    const bus = new MmioBus();
    const a = new RecordingMmio('a', (offset) => 0xa0 + offset);
    const b = new RecordingMmio('b', (offset) => 0xb0 + offset);
    bus.register(a, 0x1000, 2);
    bus.register(b, 0x1002, 1);
    expect(bus.mmioRead(0x1001, 4)).toBe(0xffffb0a1);
    bus.mmioWrite(0x1000, 4, 0x04030201);
    expect(a.writes).toEqual([
      { offset: 0, size: 1, value: 1 },
      { offset: 1, size: 1, value: 2 },
    ]);
    expect(b.writes).toEqual([{ offset: 0, size: 1, value: 3 }]);
    expect(bus.unclaimedWrites).toBe(1);
  });
});
