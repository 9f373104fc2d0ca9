// Dirty bitmap in pool memory: mark, count, ordered harvest, clear, dispose, growth.
import { describe, expect, it } from 'vitest';
import { DirtyBitmap, DirtyBitmapError, FRAME_SIZE, FramePool, type HostFrame } from '../../../src/memory/index.js';

describe.each([
  ['shared pool (WASM kernels)', true, 'wasm'],
  ['non-shared pool (TS kernels)', false, 'ts'],
] as const)('DirtyBitmap on a %s', (_label, shared, kind) => {
  it('lives in pool memory, frame-aligned, at an allocated frame', () => {
    const pool = new FramePool({ shared });
    const bitmap = new DirtyBitmap(pool, 1 << 20);
    expect(bitmap.kernels.kind).toBe(kind);
    expect(bitmap.byteOffset % FRAME_SIZE).toBe(0);
    expect(pool.refCount((bitmap.byteOffset / FRAME_SIZE) as HostFrame)).toBe(1);
    bitmap.mark(9);
    expect(pool.bytes[bitmap.byteOffset + 1]).toBe(0x02);
  });

  it('marks, counts and harvests in ascending order, clearing the set', () => {
    const pool = new FramePool({ shared });
    const bitmap = new DirtyBitmap(pool, 1 << 20);
    const frames = [0xfffff, 0, 31, 32, 8191, 8192, 65537, 300000, 31];
    for (const frame of frames) bitmap.mark(frame);
    expect(bitmap.isDirty(31)).toBe(true);
    expect(bitmap.isDirty(30)).toBe(false);
    expect(bitmap.count()).toBe(8);
    const harvested = bitmap.harvest();
    expect(Array.from(harvested)).toEqual([0, 31, 32, 8191, 8192, 65537, 300000, 0xfffff]);
    expect(bitmap.count()).toBe(0);
    expect(bitmap.harvest().length).toBe(0);
  });

  it('harvests a dense bitmap (more frames than one harvest chunk)', () => {
    const pool = new FramePool({ shared });
    const bitmap = new DirtyBitmap(pool, 40000);
    for (let frame = 0; frame < 40000; frame += 1) bitmap.mark(frame);
    const harvested = bitmap.harvest();
    expect(harvested.length).toBe(40000);
    for (let i = 0; i < harvested.length; i++) if (harvested[i] !== i) throw new Error(`harvest[${i}] = ${harvested[i]}`);
  });

  it('clears', () => {
    const pool = new FramePool({ shared });
    const bitmap = new DirtyBitmap(pool, 4096);
    bitmap.mark(1);
    bitmap.mark(4095);
    bitmap.clear();
    expect(bitmap.count()).toBe(0);
  });

  it('keeps working after the pool grows (views refreshed)', () => {
    const pool = new FramePool({ shared, initialFrames: 64, maxFrames: 4096 });
    const bitmap = new DirtyBitmap(pool, 4096);
    bitmap.mark(5);
    const generation = pool.generation;
    for (let i = 0; i < 400; i++) pool.allocate();
    expect(pool.generation).toBeGreaterThan(generation);
    bitmap.mark(6);
    expect(bitmap.isDirty(5)).toBe(true);
    expect(Array.from(bitmap.harvest())).toEqual([5, 6]);
  });

  it('rejects frames out of range and gives its frames back on dispose', () => {
    const pool = new FramePool({ shared });
    const before = pool.framesInUse;
    const bitmap = new DirtyBitmap(pool, 100);
    expect(pool.framesInUse).toBeGreaterThan(before);
    expect(() => bitmap.mark(100)).toThrow(DirtyBitmapError);
    expect(() => bitmap.mark(100)).toThrow(/guest frame 100/);
    bitmap.dispose();
    expect(pool.framesInUse).toBe(before);
    expect(() => bitmap.count()).toThrow(/dispose/);
  });
});
