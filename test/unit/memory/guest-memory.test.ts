// Guest memory: lazy population, COW, dirty tracking, code frames, ROM, alias, MMIO, accesses.
import { describe, expect, it } from 'vitest';
import {
  FRAME_SIZE,
  FramePool,
  GuestMemory,
  GuestMemoryRangeError,
  MemoryOverlapError,
  NO_HOST_ADDRESS,
  NPT_ACCESSED,
  NPT_CODE,
  NPT_DIRTY,
  NPT_PRESENT,
  NPT_SHARED,
  NPT_WRITABLE,
  type HostFrame,
  type MemoryObserver,
  type MmioHandler,
} from '../../../src/memory/index.js';

const MiB = 1024 * 1024;

/** Index of the first differing byte of two arrays (or their shorter length when one is a prefix), -1 when equal. Cheaper than toEqual on large typed arrays. */
function firstDifference(a: ArrayLike<number>, b: ArrayLike<number>): number {
  const length = Math.min(a.length, b.length);
  for (let i = 0; i < length; i++) if (a[i] !== b[i]) return i;
  return a.length === b.length ? -1 : length;
}

/** Records every observer call. */
class RecordingObserver implements MemoryObserver {
  mappingsChangedCount = 0;
  writesRevokedCount = 0;
  codeWrites: number[] = [];
  mappingsChanged(): void {
    this.mappingsChangedCount++;
  }
  writesRevoked(): void {
    this.writesRevokedCount++;
  }
  codeFrameWritten(guestFrame: number): void {
    this.codeWrites.push(guestFrame);
  }
}

/** An MMIO device that logs accesses and answers reads with address-derived values. */
class LoggingDevice implements MmioHandler {
  log: string[] = [];
  mmioRead(address: number, size: 1 | 2 | 4): number {
    this.log.push(`r${size}@${address.toString(16)}`);
    return 0x12345678;
  }
  mmioWrite(address: number, size: 1 | 2 | 4, value: number): void {
    this.log.push(`w${size}@${address.toString(16)}=${value.toString(16)}`);
  }
}

function setup(ramBytes = 4 * MiB): { pool: FramePool; memory: GuestMemory; observer: RecordingObserver } {
  const pool = new FramePool();
  const memory = new GuestMemory(pool, ramBytes);
  const observer = new RecordingObserver();
  memory.addObserver(observer);
  return { pool, memory, observer };
}

describe('GuestMemory construction', () => {
  it('maps every RAM frame to the zero frame, present and copy-on-write, and nothing above', () => {
    const { pool, memory } = setup(1 * MiB);
    const frames = MiB / FRAME_SIZE;
    expect(memory.ramBytes).toBe(MiB);
    expect(memory.npt.hostFrameOf(0)).toBe(pool.zeroFrame);
    expect(memory.npt.hostFrameOf(frames - 1)).toBe(pool.zeroFrame);
    expect(memory.npt.flagsOf(0)).toBe(NPT_PRESENT | NPT_SHARED);
    expect(memory.npt.hostFrameOf(frames)).toBe(-1);
    expect(pool.refCount(pool.zeroFrame)).toBe(1 + frames);
  });

  it('validates ramBytes with an error naming the field', () => {
    const pool = new FramePool();
    expect(() => new GuestMemory(pool, 1000)).toThrow(GuestMemoryRangeError);
    expect(() => new GuestMemory(pool, 1000)).toThrow(/ramBytes/);
    expect(() => new GuestMemory(pool, 0)).toThrow(/ramBytes/);
    expect(() => new GuestMemory(pool, 2 ** 32)).toThrow(/ramBytes/);
  });
});

describe('lazy population', () => {
  it('reads untouched RAM as zero without allocating', () => {
    const { pool, memory } = setup();
    const before = pool.framesInUse;
    expect(memory.read8(0x1234)).toBe(0);
    expect(memory.read32(0x3ffffc)).toBe(0);
    const bytes = new Uint8Array(3 * FRAME_SIZE).fill(1);
    memory.readBytes(0x10000, bytes);
    expect(bytes.every((b) => b === 0)).toBe(true);
    expect(pool.framesInUse).toBe(before);
    expect(memory.npt.flagsOf(1) & NPT_ACCESSED).toBe(NPT_ACCESSED);
  });

  it('allocates exactly one frame on the first write to a page, none on later writes', () => {
    const { pool, memory, observer } = setup();
    const before = pool.framesInUse;
    const zeroRefs = pool.refCount(pool.zeroFrame);
    memory.write8(0x5000, 0xaa);
    expect(pool.framesInUse).toBe(before + 1);
    expect(pool.refCount(pool.zeroFrame)).toBe(zeroRefs - 1);
    expect(observer.mappingsChangedCount).toBe(1);
    memory.write32(0x5ff0, 0xdeadbeef);
    memory.write16(0x5002, 0x1122);
    expect(pool.framesInUse).toBe(before + 1);
    expect(observer.mappingsChangedCount).toBe(1);
    expect(memory.read8(0x5000)).toBe(0xaa);
    expect(memory.read32(0x5ff0)).toBe(0xdeadbeef);
    expect(memory.read16(0x5002)).toBe(0x1122);
    const flags = memory.npt.flagsOf(5);
    expect(flags & (NPT_WRITABLE | NPT_SHARED | NPT_DIRTY | NPT_ACCESSED)).toBe(NPT_WRITABLE | NPT_DIRTY | NPT_ACCESSED);
    const zeroBase = pool.zeroFrame * FRAME_SIZE;
    expect(pool.bytes.subarray(zeroBase, zeroBase + FRAME_SIZE).every((b) => b === 0)).toBe(true);
  });

  it('translateRead/translateWrite return host addresses in pool memory, usable directly', () => {
    const { pool, memory } = setup();
    const writeHost = memory.translateWrite(0x7123);
    expect(writeHost).toBeGreaterThan(0);
    expect(writeHost % FRAME_SIZE).toBe(0x123);
    pool.bytes[writeHost] = 0x5a;
    expect(memory.read8(0x7123)).toBe(0x5a);
    expect(memory.translateRead(0x7123)).toBe(writeHost);
    expect(memory.translateRead(0x7fff_0000)).toBe(NO_HOST_ADDRESS);
    expect(memory.translateWrite(0x7fff_0000)).toBe(NO_HOST_ADDRESS);
  });
});

describe('copy-on-write', () => {
  it('two VMs sharing a frame: a write in one leaves the other unchanged, refcounts follow, observers notified', () => {
    const pool = new FramePool();
    const a = new GuestMemory(pool, MiB);
    const b = new GuestMemory(pool, MiB);
    const observerA = new RecordingObserver();
    const observerB = new RecordingObserver();
    a.addObserver(observerA);
    b.addObserver(observerB);
    a.writeBytes(0x3000, new Uint8Array(FRAME_SIZE).fill(0x11));
    const hostFrame = a.npt.hostFrameOf(3) as HostFrame;
    const writesRevokedBefore = observerA.writesRevokedCount;
    b.shareFrom(8, a, 3);
    expect(b.npt.hostFrameOf(8)).toBe(hostFrame);
    expect(pool.refCount(hostFrame)).toBe(2);
    expect(a.npt.flagsOf(3) & (NPT_SHARED | NPT_WRITABLE)).toBe(NPT_SHARED);
    expect(b.npt.flagsOf(8) & (NPT_SHARED | NPT_WRITABLE)).toBe(NPT_SHARED);
    expect(observerA.writesRevokedCount).toBe(writesRevokedBefore + 1);
    expect(observerB.mappingsChangedCount).toBe(1);
    expect(b.read8(0x8000)).toBe(0x11);

    const changesB = observerB.mappingsChangedCount;
    const framesBefore = pool.framesInUse;
    b.write8(0x8010, 0x99);
    expect(b.read8(0x8010)).toBe(0x99);
    expect(a.read8(0x3010)).toBe(0x11);
    expect(b.read8(0x8011)).toBe(0x11);
    expect(b.npt.hostFrameOf(8)).not.toBe(hostFrame);
    expect(pool.refCount(hostFrame)).toBe(1);
    expect(pool.framesInUse).toBe(framesBefore + 1);
    expect(observerB.mappingsChangedCount).toBe(changesB + 1);

    // The last sharer takes the frame over without copying.
    const changesA = observerA.mappingsChangedCount;
    a.write8(0x3010, 0x22);
    expect(a.npt.hostFrameOf(3)).toBe(hostFrame);
    expect(pool.framesInUse).toBe(framesBefore + 1);
    expect(observerA.mappingsChangedCount).toBe(changesA);
    expect(a.npt.flagsOf(3) & (NPT_SHARED | NPT_WRITABLE)).toBe(NPT_WRITABLE);
    expect(b.read8(0x8010)).toBe(0x99);
  });

  it('dispose releases every frame so the pool returns to its starting use', () => {
    const pool = new FramePool();
    const start = pool.framesInUse;
    const a = new GuestMemory(pool, MiB);
    const b = new GuestMemory(pool, MiB);
    a.write32(0x1000, 1);
    b.shareFrom(2, a, 1);
    b.write32(0x2000, 2);
    a.loadRom(0xffff0000, new Uint8Array(FRAME_SIZE));
    a.dispose();
    b.dispose();
    expect(pool.framesInUse).toBe(start);
    expect(pool.refCount(pool.zeroFrame)).toBe(1);
  });
});

describe('dirty tracking', () => {
  it('writes and writeBytes mark frames; harvest returns them ascending, clears, and revokes writes', () => {
    const { memory, observer } = setup();
    memory.write8(0x9000, 1);
    memory.write32(0x2ffe, 0x01020304);
    memory.writeBytes(0x20000 - 10, new Uint8Array(20).fill(7));
    memory.read8(0x40000);
    const revoked = observer.writesRevokedCount;
    expect(Array.from(memory.harvestDirty())).toEqual([2, 3, 9, 0x1f, 0x20]);
    expect(observer.writesRevokedCount).toBe(revoked + 1);
    expect(memory.npt.flagsOf(9) & NPT_DIRTY).toBe(0);
    expect(memory.dirty.count()).toBe(0);
    memory.write8(0x9001, 2);
    expect(Array.from(memory.harvestDirty())).toEqual([9]);
  });

  it('translateWrite marks the bitmap even when the CPU then writes pool bytes directly', () => {
    const { pool, memory } = setup();
    pool.bytes[memory.translateWrite(0x6000)] = 3;
    expect(memory.dirty.isDirty(6)).toBe(true);
  });
});

describe('code frames', () => {
  it('markCode revokes writes; the first write reports codeFrameWritten once and clears the flag', () => {
    const { memory, observer } = setup();
    memory.write8(0x4000, 0x90);
    const revoked = observer.writesRevokedCount;
    memory.markCode(4);
    expect(memory.npt.flagsOf(4) & NPT_CODE).toBe(NPT_CODE);
    expect(observer.writesRevokedCount).toBe(revoked + 1);
    memory.write8(0x4001, 0xcc);
    memory.write8(0x4002, 0xcc);
    memory.writeBytes(0x4003, new Uint8Array([1, 2]));
    expect(observer.codeWrites).toEqual([4]);
    expect(memory.npt.flagsOf(4) & NPT_CODE).toBe(0);
  });

  it('reports a code write that arrives through DMA into a still-shared zero page', () => {
    const { memory, observer } = setup();
    memory.markCode(0x10);
    memory.writeBytes(0x10000, new Uint8Array([1]));
    expect(observer.codeWrites).toEqual([0x10]);
    expect(memory.read8(0x10000)).toBe(1);
  });

  it('reports code frames replaced by resetFrames', () => {
    const { memory, observer } = setup();
    memory.write8(0x4000, 1);
    memory.markCode(4);
    memory.resetFrames([4]);
    expect(observer.codeWrites).toEqual([4]);
    expect(memory.read8(0x4000)).toBe(0);
  });
});

describe('ROM, alias, reset', () => {
  it('ROM reads its data; writes are dropped and counted', () => {
    const { pool, memory } = setup();
    const rom = new Uint8Array(2 * FRAME_SIZE).map((_, i) => i & 0xff);
    memory.loadRom(0xffffe000, rom);
    expect(memory.read8(0xffffe005)).toBe(5);
    expect(memory.read32(0xfffffffc)).toBe(0xfffefdfc);
    const framesBefore = pool.framesInUse;
    memory.write8(0xffffe005, 0xee);
    memory.write32(0xfffff000, 0);
    memory.writeBytes(0xffffe000, new Uint8Array(8));
    expect(memory.read8(0xffffe005)).toBe(5);
    expect(memory.droppedWrites).toBe(3);
    expect(memory.translateWrite(0xffffe000)).toBe(NO_HOST_ADDRESS);
    expect(pool.framesInUse).toBe(framesBefore);
  });

  it('loadRom validates address and length alignment', () => {
    const { memory } = setup();
    expect(() => memory.loadRom(0x1000, new Uint8Array(100))).toThrow(/loadRom length/);
    expect(() => memory.loadRom(0x1001, new Uint8Array(4096))).toThrow(/loadRom address/);
  });

  it('alias maps the same host frames, retained, so both addresses read the same bytes', () => {
    const { pool, memory } = setup();
    const bios = new Uint8Array(16 * FRAME_SIZE).map((_, i) => (i * 7) & 0xff);
    memory.loadRom(0xf0000, bios);
    memory.alias(0xffff0000, 0xf0000, 0x10000);
    const hostFrame = memory.npt.hostFrameOf(0xf0) as HostFrame;
    expect(memory.npt.hostFrameOf(0xffff0)).toBe(hostFrame);
    expect(pool.refCount(hostFrame)).toBe(2);
    expect(memory.npt.flagsOf(0xffff0) & (NPT_WRITABLE | NPT_SHARED)).toBe(0);
    const low = new Uint8Array(0x10000);
    const high = new Uint8Array(0x10000);
    memory.readBytes(0xf0000, low);
    memory.readBytes(0xffff0000, high);
    expect(firstDifference(high, low)).toBe(-1);
    expect(firstDifference(high, bios)).toBe(-1);
  });

  it('alias of writable RAM is a true alias', () => {
    const { memory } = setup();
    memory.write32(0x2000, 0xcafe);
    memory.alias(0x80000000, 0x2000, FRAME_SIZE);
    memory.write32(0x80000004, 0xbeef);
    expect(memory.read32(0x2004)).toBe(0xbeef);
    expect(memory.read32(0x80000000)).toBe(0xcafe);
  });

  it('resetFrames maps frames back to the zero frame and releases the old ones', () => {
    const { pool, memory, observer } = setup();
    memory.write8(0x1000, 5);
    const hostFrame = memory.npt.hostFrameOf(1) as HostFrame;
    const inUse = pool.framesInUse;
    const changes = observer.mappingsChangedCount;
    memory.resetFrames([1, 2]);
    expect(pool.refCount(hostFrame)).toBe(0);
    expect(pool.framesInUse).toBe(inUse - 1);
    expect(memory.read8(0x1000)).toBe(0);
    expect(memory.npt.hostFrameOf(1)).toBe(pool.zeroFrame);
    expect(observer.mappingsChangedCount).toBe(changes + 1);
    expect(() => memory.resetFrames([memory.ramBytes / FRAME_SIZE])).toThrow(/resetFrames frames\[0\]/);
  });
});

describe('MMIO', () => {
  it('dispatches sized reads and writes to the handler with the absolute address', () => {
    const { memory } = setup();
    const device = new LoggingDevice();
    memory.mapMmio(0xfee00000, 0x1000, device, 'lapic');
    expect(memory.read32(0xfee00020)).toBe(0x12345678);
    expect(memory.read16(0xfee00030)).toBe(0x5678);
    expect(memory.read8(0xfee00031)).toBe(0x78);
    memory.write32(0xfee000b0, 0xffffffff);
    memory.write8(0xfee000b4, 0x1ff);
    expect(device.log).toEqual(['r4@fee00020', 'r2@fee00030', 'r1@fee00031', 'w4@fee000b0=ffffffff', 'w1@fee000b4=ff']);
    expect(memory.translateRead(0xfee00000)).toBe(NO_HOST_ADDRESS);
    expect(memory.translateWrite(0xfee00000)).toBe(NO_HOST_ADDRESS);
    expect(memory.droppedWrites).toBe(0);
  });

  it('handles two small ranges sharing a page and holes between them', () => {
    const { memory } = setup();
    const first = new LoggingDevice();
    const second = new LoggingDevice();
    memory.mapMmio(0xfec00000, 0x20, first, 'ioapic');
    memory.mapMmio(0xfec00800, 0x20, second, 'other');
    memory.read8(0xfec00000);
    memory.read8(0xfec00810);
    expect(first.log).toEqual(['r1@fec00000']);
    expect(second.log).toEqual(['r1@fec00810']);
    expect(memory.read32(0xfec00400)).toBe(0xffffffff);
    memory.write8(0xfec00400, 1);
    expect(memory.droppedWrites).toBe(1);
    memory.unmapMmio('ioapic');
    memory.read8(0xfec00000);
    memory.read8(0xfec00800);
    expect(first.log).toEqual(['r1@fec00000']);
    expect(second.log).toEqual(['r1@fec00810', 'r1@fec00800']);
  });

  it('rejects overlap with another MMIO range or with RAM, naming both', () => {
    const { memory } = setup(4 * MiB);
    memory.mapMmio(0xfee00000, 0x1000, new LoggingDevice(), 'lapic');
    expect(() => memory.mapMmio(0xfee00800, 0x1000, new LoggingDevice(), 'hpet')).toThrow(MemoryOverlapError);
    expect(() => memory.mapMmio(0xfee00800, 0x1000, new LoggingDevice(), 'hpet')).toThrow(
      'MMIO range "hpet" [0xfee00800, 0xfee01800) overlaps MMIO range "lapic" [0xfee00000, 0xfee01000)',
    );
    expect(() => memory.mapMmio(0xa0000, 0x20000, new LoggingDevice(), 'vga')).toThrow(
      'MMIO range "vga" [0xa0000, 0xc0000) overlaps RAM [0x0, 0x400000)',
    );
    expect(() => memory.loadRom(0xfee00000, new Uint8Array(FRAME_SIZE))).toThrow(/lapic/);
  });

  it('can be placed in RAM after unmapping the hole', () => {
    const { pool, memory } = setup(4 * MiB);
    memory.write8(0xa0000, 1);
    const inUse = pool.framesInUse;
    memory.unmap(0xa0000, 0x20000);
    expect(pool.framesInUse).toBe(inUse - 1);
    expect(memory.read8(0xa0000)).toBe(0xff);
    const vga = new LoggingDevice();
    memory.mapMmio(0xa0000, 0x20000, vga, 'vga');
    memory.write8(0xb8000, 0x41);
    expect(vga.log).toEqual(['w1@b8000=41']);
  });
});

describe('scalar accesses', () => {
  it('handles page-crossing 16- and 32-bit accesses little-endian', () => {
    const { memory } = setup();
    memory.write32(0x1ffe, 0xa1b2c3d4);
    expect(memory.read8(0x1ffe)).toBe(0xd4);
    expect(memory.read8(0x1fff)).toBe(0xc3);
    expect(memory.read8(0x2000)).toBe(0xb2);
    expect(memory.read8(0x2001)).toBe(0xa1);
    expect(memory.read32(0x1ffe)).toBe(0xa1b2c3d4);
    memory.write16(0x2fff, 0xbeef);
    expect(memory.read16(0x2fff)).toBe(0xbeef);
    expect(memory.read8(0x3000)).toBe(0xbe);
    expect(memory.read32(0x1fff)).toBe(0x00a1b2c3);
    expect(memory.read32(0x2ffd)).toBe(0xbeef0000);
    expect(memory.dirty.isDirty(1) && memory.dirty.isDirty(2) && memory.dirty.isDirty(3)).toBe(true);
  });

  it('reads unbacked memory as all ones (unsigned), also half-backed across a page', () => {
    const { memory } = setup(MiB);
    expect(memory.read8(0x40000000)).toBe(0xff);
    expect(memory.read16(0x40000000)).toBe(0xffff);
    expect(memory.read32(0x40000000)).toBe(0xffffffff);
    memory.write16(0xffffe, 0x1234);
    expect(memory.read32(0xffffe)).toBe(0xffff1234);
    memory.write32(0x40000000, 1);
    expect(memory.droppedWrites).toBe(1);
    memory.write32(0xffffe, 0x55667788);
    expect(memory.droppedWrites).toBe(2);
    expect(memory.read16(0xffffe)).toBe(0x7788);
  });

  it('wraps at 4 GiB for an access crossing the top of the address space', () => {
    const { memory } = setup();
    memory.loadRom(0xfffff000, new Uint8Array(FRAME_SIZE).fill(0xab));
    memory.write8(0, 0xcd);
    expect(memory.read16(0xffffffff)).toBe(0xcdab);
  });

  it('bulk copies across pages and validates the range', () => {
    const { memory } = setup();
    const data = new Uint8Array(3 * FRAME_SIZE + 100).map((_, i) => (i * 13) & 0xff);
    memory.writeBytes(0x7f80, data);
    const back = new Uint8Array(data.length);
    memory.readBytes(0x7f80, back);
    expect(firstDifference(back, data)).toBe(-1);
    expect(() => memory.readBytes(0xffffffff, new Uint8Array(2))).toThrow(GuestMemoryRangeError);
  });
});
