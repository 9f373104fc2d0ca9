// Frame pool: allocation, reference counts, reuse, growth and the frame limit.
import { describe, expect, it } from 'vitest';
import {
  FRAME_SIZE,
  FramePool,
  FramePoolLimitError,
  FramePoolOptionError,
  FrameRefCountError,
  type HostFrame,
} from '../../../src/memory/index.js';

function frameBytes(pool: FramePool, frame: HostFrame): Uint8Array {
  return pool.bytes.subarray(frame * FRAME_SIZE, (frame + 1) * FRAME_SIZE);
}

describe('FramePool', () => {
  it('reserves the first 16 frames and allocates a zero frame above them', () => {
    const pool = new FramePool();
    expect(pool.reservedFrames).toBe(16);
    expect(pool.zeroFrame).toBeGreaterThanOrEqual(16);
    expect(pool.refCount(pool.zeroFrame)).toBe(1);
    expect(pool.framesInUse).toBe(1);
    expect(pool.maxFrames).toBe(262144);
    expect(pool.shared).toBe(true);
    expect(pool.memory.buffer).toBeInstanceOf(SharedArrayBuffer);
  });

  it('hands out distinct zeroed frames with refcount 1, never reserved ones', () => {
    const pool = new FramePool();
    const seen = new Set<number>();
    for (let i = 0; i < 100; i++) {
      const frame = pool.allocate();
      expect(frame).toBeGreaterThanOrEqual(pool.reservedFrames);
      expect(seen.has(frame)).toBe(false);
      seen.add(frame);
      expect(pool.refCount(frame)).toBe(1);
      expect(frameBytes(pool, frame).every((b) => b === 0)).toBe(true);
    }
    expect(pool.framesInUse).toBe(101);
  });

  it('counts references and frees at zero; a reused frame is zero again', () => {
    const pool = new FramePool();
    const frame = pool.allocate();
    frameBytes(pool, frame).fill(0xab);
    pool.retain(frame);
    expect(pool.refCount(frame)).toBe(2);
    pool.release(frame);
    expect(pool.refCount(frame)).toBe(1);
    expect(pool.framesInUse).toBe(2);
    pool.release(frame);
    expect(pool.refCount(frame)).toBe(0);
    expect(pool.framesInUse).toBe(1);
    const again = pool.allocate();
    expect(again).toBe(frame);
    expect(frameBytes(pool, again).every((b) => b === 0)).toBe(true);
  });

  it('rejects releasing a free frame, a reserved frame, or the pool reference of the zero frame', () => {
    const pool = new FramePool();
    const frame = pool.allocate();
    pool.release(frame);
    expect(() => pool.release(frame)).toThrow(FrameRefCountError);
    expect(() => pool.release(frame)).toThrow(`host frame ${frame}`);
    expect(() => pool.release(0 as HostFrame)).toThrow(/not an allocatable frame/);
    expect(() => pool.retain(3 as HostFrame)).toThrow(FrameRefCountError);
    expect(() => pool.release(pool.zeroFrame)).toThrow(/zero frame/);
  });

  it('grows on demand, replacing the views, bumping generation and firing onGrow after the swap', () => {
    const pool = new FramePool({ initialFrames: 32, maxFrames: 4096 });
    expect(pool.capacityFrames).toBe(32);
    const oldBytes = pool.bytes;
    const oldView = pool.view;
    const events: Array<{ generation: number; bytesLength: number }> = [];
    const unsubscribe = pool.onGrow(() => events.push({ generation: pool.generation, bytesLength: pool.bytes.length }));
    const frames: HostFrame[] = [];
    while (frames.length < 40) frames.push(pool.allocate());
    expect(pool.capacityFrames).toBeGreaterThanOrEqual(57);
    expect(pool.bytes).not.toBe(oldBytes);
    expect(pool.view).not.toBe(oldView);
    expect(pool.bytes.length).toBe(pool.memory.buffer.byteLength);
    expect(events.length).toBeGreaterThanOrEqual(1);
    expect(events[0].generation).toBe(1);
    expect(events[0].bytesLength).toBeGreaterThan(oldBytes.length);
    unsubscribe();
    const before = events.length;
    while (frames.length < 200) frames.push(pool.allocate());
    expect(pool.generation).toBeGreaterThan(1);
    expect(events.length).toBe(before);
  });

  it('grows by doubling, capped at maxFrames', () => {
    const pool = new FramePool({ initialFrames: 64, maxFrames: 100 });
    while (pool.framesInUse < 48) pool.allocate();
    pool.allocate();
    expect(pool.capacityFrames).toBe(100);
  });

  it('throws FramePoolLimitError naming the limit in frames and bytes and the request', () => {
    const pool = new FramePool({ initialFrames: 32, maxFrames: 64 });
    const available = 64 - 16 - 1;
    for (let i = 0; i < available; i++) pool.allocate();
    let error: unknown;
    try {
      pool.allocate();
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(FramePoolLimitError);
    const message = (error as Error).message;
    expect(message).toContain('maxFrames=64');
    expect(message).toContain(`${64 * 4096} bytes`);
    expect(message).toContain('requested 1 frame');
    expect(() => pool.allocateContiguous(2)).toThrow(FramePoolLimitError);
  });

  it('allocates contiguous zeroed runs and reuses freed holes', () => {
    const pool = new FramePool({ initialFrames: 64, maxFrames: 1024 });
    const first = pool.allocateContiguous(10);
    for (let i = 0; i < 10; i++) expect(pool.refCount((first + i) as HostFrame)).toBe(1);
    const big = pool.allocateContiguous(100);
    expect(pool.capacityFrames).toBeGreaterThanOrEqual(big + 100);
    expect(big >= first + 10).toBe(true);
    for (let i = 0; i < 10; i++) pool.release((first + i) as HostFrame);
    expect(pool.allocateContiguous(10)).toBe(first);
    const single = pool.allocate();
    expect(single < first || single >= first + 10).toBe(true);
  });

  it('validates options with errors naming the option', () => {
    expect(() => new FramePool({ maxFrames: 524288 })).toThrow(FramePoolOptionError);
    expect(() => new FramePool({ maxFrames: 524288 })).toThrow(/maxFrames/);
    expect(() => new FramePool({ maxFrames: 100, initialFrames: 200 })).toThrow(/initialFrames/);
    expect(new FramePool({ maxFrames: 524287, initialFrames: 16 }).maxFrames).toBe(524287);
  });

  it('supports a non-shared memory', () => {
    const pool = new FramePool({ shared: false });
    expect(pool.shared).toBe(false);
    expect(pool.memory.buffer).toBeInstanceOf(ArrayBuffer);
    expect(pool.bitmapKernels().kind).toBe('ts');
  });

  it('keeps two pools independent', () => {
    const a = new FramePool({ initialFrames: 32 });
    const b = new FramePool({ initialFrames: 32 });
    const fa = a.allocate();
    a.bytes[fa * FRAME_SIZE] = 7;
    expect(b.bytes[fa * FRAME_SIZE]).toBe(0);
    expect(b.framesInUse).toBe(1);
  });
});
