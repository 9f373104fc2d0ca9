// Tests for the I/O-port bus: routing, widths, unclaimed ports, overlap, split accesses.
import { describe, expect, it } from 'vitest';
import { type AccessSize, BusOverlapError, BusRangeError, type IoDevice, IoBus, UNCLAIMED_LOG_CAPACITY } from '../../../src/bus/index.js';

/** A device that records every access and reads back `offset * 0x11 + size` per byte lane. */
class RecordingDevice implements IoDevice {
  readonly reads: { offset: number; size: AccessSize }[] = [];
  readonly writes: { offset: number; size: AccessSize; value: number }[] = [];
  readValue: ((offset: number, size: AccessSize) => number) | undefined;
  constructor(readonly name: string) {}
  ioRead(offset: number, size: AccessSize): number {
    this.reads.push({ offset, size });
    return this.readValue ? this.readValue(offset, size) : 0;
  }
  ioWrite(offset: number, size: AccessSize, value: number): void {
    this.writes.push({ offset, size, value });
  }
}

describe('IoBus routing', () => {
  it('routes 8/16/32-bit reads and writes with relative offsets and sizes', () => {
    const bus = new IoBus();
    const dev = new RecordingDevice('dev');
    dev.readValue = (offset, size) => (size === 1 ? 0xa0 + offset : size === 2 ? 0xbeef : 0xdeadbeef);
    bus.register(dev, 0x3f8, 8);
    expect(bus.read(0x3f8, 1)).toBe(0xa0);
    expect(bus.read(0x3fd, 1)).toBe(0xa5);
    expect(bus.read(0x3fa, 2)).toBe(0xbeef);
    expect(bus.read(0x3fc, 4)).toBe(0xdeadbeef);
    expect(dev.reads).toEqual([
      { offset: 0, size: 1 },
      { offset: 5, size: 1 },
      { offset: 2, size: 2 },
      { offset: 4, size: 4 },
    ]);
    bus.write(0x3f9, 1, 0x12);
    bus.write(0x3fa, 2, 0x3456);
    bus.write(0x3fc, 4, 0x89abcdef);
    expect(dev.writes).toEqual([
      { offset: 1, size: 1, value: 0x12 },
      { offset: 2, size: 2, value: 0x3456 },
      { offset: 4, size: 4, value: 0x89abcdef },
    ]);
    expect(bus.unclaimedReads).toBe(0);
    expect(bus.unclaimedWrites).toBe(0);
  });

  it('masks device results and written values to the access size, unsigned', () => {
    const bus = new IoBus();
    const dev = new RecordingDevice('dev');
    dev.readValue = () => -1;
    bus.register(dev, 0x10, 4);
    expect(bus.read(0x10, 1)).toBe(0xff);
    expect(bus.read(0x10, 2)).toBe(0xffff);
    expect(bus.read(0x10, 4)).toBe(0xffffffff);
    bus.write(0x10, 1, 0x1234);
    bus.write(0x10, 2, -1);
    bus.write(0x10, 4, -1);
    expect(dev.writes.map((w) => w.value)).toEqual([0x34, 0xffff, 0xffffffff]);
  });

  it('takes the port modulo 64 K', () => {
    const bus = new IoBus();
    const dev = new RecordingDevice('dev');
    bus.register(dev, 0x80, 1);
    bus.write(0x10080, 1, 7);
    expect(dev.writes).toEqual([{ offset: 0, size: 1, value: 7 }]);
  });
});

describe('IoBus unclaimed ports', () => {
  it('reads all ones for each width', () => {
    const bus = new IoBus();
    expect(bus.read(0x1234, 1)).toBe(0xff);
    expect(bus.read(0x1234, 2)).toBe(0xffff);
    expect(bus.read(0x1234, 4)).toBe(0xffffffff);
    expect(bus.unclaimedReads).toBe(1 + 2 + 4);
  });

  it('counts and logs unclaimed writes and calls the hook', () => {
    const bus = new IoBus();
    const seen: unknown[] = [];
    bus.onUnclaimed = (a) => seen.push(a);
    bus.write(0x80, 1, 0x42);
    bus.read(0x81, 1);
    expect(bus.unclaimedWrites).toBe(1);
    expect(bus.unclaimedReads).toBe(1);
    expect(bus.unclaimedLog()).toEqual([
      { port: 0x80, size: 1, value: 0x42, kind: 'write' },
      { port: 0x81, size: 1, kind: 'read' },
    ]);
    expect(seen).toEqual(bus.unclaimedLog());
  });

  it('keeps only the most recent accesses in the log', () => {
    const bus = new IoBus();
    for (let i = 0; i < UNCLAIMED_LOG_CAPACITY + 10; i++) bus.write(0x100 + i, 1, i);
    const log = bus.unclaimedLog();
    expect(log).toHaveLength(UNCLAIMED_LOG_CAPACITY);
    expect(log[0]!.port).toBe(0x100 + 10);
    expect(log[log.length - 1]!.port).toBe(0x100 + UNCLAIMED_LOG_CAPACITY + 9);
    expect(bus.unclaimedWrites).toBe(UNCLAIMED_LOG_CAPACITY + 10);
  });
});

describe('IoBus registration', () => {
  it('rejects an overlap naming both devices and both ranges in hex', () => {
    const bus = new IoBus();
    bus.register(new RecordingDevice('uart0'), 0x3f8, 8);
    let error: unknown;
    try {
      bus.register(new RecordingDevice('sneaky'), 0x3fc, 8);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(BusOverlapError);
    const message = (error as Error).message;
    expect(message).toContain('uart0');
    expect(message).toContain('sneaky');
    expect(message).toContain('0x03F8-0x03FF');
    expect(message).toContain('0x03FC-0x0403');
  });

  it('accepts adjacent ranges', () => {
    const bus = new IoBus();
    const a = new RecordingDevice('a');
    const b = new RecordingDevice('b');
    bus.register(a, 0x60, 4);
    bus.register(b, 0x64, 4);
    bus.register(new RecordingDevice('c'), 0x5c, 4);
    bus.write(0x63, 1, 1);
    bus.write(0x64, 1, 2);
    expect(a.writes).toEqual([{ offset: 3, size: 1, value: 1 }]);
    expect(b.writes).toEqual([{ offset: 0, size: 1, value: 2 }]);
  });

  it('rejects ranges outside the port space', () => {
    const bus = new IoBus();
    const dev = new RecordingDevice('dev');
    expect(() => bus.register(dev, 0xfffe, 4)).toThrow(BusRangeError);
    expect(() => bus.register(dev, -1, 1)).toThrow(BusRangeError);
    expect(() => bus.register(dev, 0x10, 0)).toThrow(BusRangeError);
    bus.register(dev, 0xfffc, 4);
    expect(bus.read(0xffff, 1)).toBe(0);
  });

  it('unregister frees all ranges of a device and allows re-registration', () => {
    const bus = new IoBus();
    const pic = new RecordingDevice('pic');
    bus.register(pic, 0x20, 2);
    bus.register(pic, 0xa0, 2);
    bus.unregister(pic);
    expect(bus.read(0x20, 1)).toBe(0xff);
    expect(bus.read(0xa1, 1)).toBe(0xff);
    expect(pic.reads).toHaveLength(0);
    const other = new RecordingDevice('other');
    bus.register(other, 0x20, 2);
    bus.write(0x21, 1, 5);
    expect(other.writes).toEqual([{ offset: 1, size: 1, value: 5 }]);
    expect(() => bus.unregister(pic)).toThrow(/not registered/);
  });
});

describe('IoBus split accesses', () => {
  it('splits a word spanning two devices into byte accesses, little-endian', () => {
    const bus = new IoBus();
    const low = new RecordingDevice('low');
    const high = new RecordingDevice('high');
    low.readValue = (offset) => 0x10 + offset;
    high.readValue = (offset) => 0x20 + offset;
    bus.register(low, 0x100, 2);
    bus.register(high, 0x102, 2);
    expect(bus.read(0x101, 2)).toBe(0x2011);
    expect(bus.read(0x100, 4)).toBe(0x21201110);
    expect(low.reads).toEqual([
      { offset: 1, size: 1 },
      { offset: 0, size: 1 },
      { offset: 1, size: 1 },
    ]);
    bus.write(0x101, 4, 0x44332211);
    expect(low.writes).toEqual([{ offset: 1, size: 1, value: 0x11 }]);
    expect(high.writes).toEqual([
      { offset: 0, size: 1, value: 0x22 },
      { offset: 1, size: 1, value: 0x33 },
    ]);
    expect(bus.unclaimedWrites).toBe(1);
    expect(bus.unclaimedLog()).toEqual([{ port: 0x104, size: 1, value: 0x44, kind: 'write' }]);
  });

  it('fills unclaimed bytes of a split read with ones', () => {
    const bus = new IoBus();
    const dev = new RecordingDevice('dev');
    dev.readValue = () => 0x00;
    bus.register(dev, 0x200, 1);
    expect(bus.read(0x1ff, 2)).toBe(0x00ff);
    expect(bus.read(0x200, 4)).toBe(0xffffff00);
    expect(bus.unclaimedReads).toBe(4);
  });
});
