// Content-based page sharing (src/memory/page-sharing.ts) and the GuestMemory primitive it
// uses (mapSharedFrame, mappingReleased): merges within one VM and across VMs, never on a
// hash match alone, un-share on write, exact counters, rate limiting, zero pages, volatile
// pages, isolation under a seeded random workload, and real guests running correctly while the
// scanner runs between their slices.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  FRAME_SIZE,
  FramePool,
  GuestMemory,
  GuestMemoryRangeError,
  NPT_ACCESSED,
  NPT_CODE,
  NPT_DIRTY,
  NPT_SHARED,
  NPT_WRITABLE,
  PageSharingError,
  PageSharingScanner,
  scheduleScanner,
  frameKernelOps,
  type HostFrame,
  type MemoryObserver,
  type SharingFrameOps,
} from '../../../src/memory/index.js';
import { tsFrameKernels } from '../../../src/kernels/index.js';
import { Host } from '../../../src/vmm/host.js';
import { makeRandom } from '../../helpers/random.js';

const RAM_FRAMES = 32;
const RAM_BYTES = RAM_FRAMES * FRAME_SIZE;


/** A 4 KiB page whose every byte derives from `seed` (different seeds give different pages). */
function page(seed: number): Uint8Array {
  const bytes = new Uint8Array(FRAME_SIZE);
  for (let i = 0; i < FRAME_SIZE; i++) bytes[i] = (seed * 131 + i * 7 + (i >> 8)) & 0xff;
  bytes[0] = seed & 0xff;
  bytes[1] = (seed >>> 8) & 0xff;
  return bytes;
}

function newPool(): FramePool {
  return new FramePool({ maxFrames: 4096 });
}

function hostFrame(memory: GuestMemory, guestFrame: number): number {
  return memory.npt.hostFrameOf(guestFrame);
}

function readPage(memory: GuestMemory, guestFrame: number): Uint8Array {
  const out = new Uint8Array(FRAME_SIZE);
  memory.readBytes(guestFrame * FRAME_SIZE, out);
  return out;
}

function samePage(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Frame ops whose hash maps every frame to the same value: only full compares can tell frames apart. */
function collidingOps(pool: FramePool): SharingFrameOps & { hashes: number } {
  const real = frameKernelOps(pool.frameKernels());
  const ops = {
    kind: 'colliding',
    hashes: 0,
    hashFrame(_frame: number, out: Uint32Array): void {
      ops.hashes++;
      out[0] = 0x1234;
      out[1] = 0x5678;
    },
    isZeroFrame: (frame: number) => real.isZeroFrame(frame),
    framesEqual: (a: number, b: number) => real.framesEqual(a, b),
  };
  return ops;
}

/** Frame ops that count hash calls (to check the per-batch limit). */
function countingOps(pool: FramePool): SharingFrameOps & { hashes: number } {
  const real = frameKernelOps(pool.frameKernels());
  const ops = {
    kind: 'counting',
    hashes: 0,
    hashFrame(frame: number, out: Uint32Array): void {
      ops.hashes++;
      real.hashFrame(frame, out);
    },
    isZeroFrame: (frame: number) => real.isZeroFrame(frame),
    framesEqual: (a: number, b: number) => real.framesEqual(a, b),
  };
  return ops;
}

/** Every host frame mapped more than once must have no writable mapping in any of `memories`. */
function expectNoWritableSharedFrame(pool: FramePool, memories: GuestMemory[]): void {
  const writable = new Map<number, number>();
  const mappings = new Map<number, number>();
  for (const memory of memories) {
    for (let f = 0; f < memory.ramBytes / FRAME_SIZE; f++) {
      const host = hostFrame(memory, f);
      if (host < 0) continue;
      mappings.set(host, (mappings.get(host) ?? 0) + 1);
      if ((memory.npt.flagsOf(f) & NPT_WRITABLE) !== 0) writable.set(host, (writable.get(host) ?? 0) + 1);
    }
  }
  for (const [host, count] of writable) {
    expect({ host, writable: count, refCount: pool.refCount(host as HostFrame) }).toEqual({ host, writable: 1, refCount: 1 });
  }
  for (const [host, count] of mappings) expect(pool.refCount(host as HostFrame)).toBeGreaterThanOrEqual(count);
}

describe('GuestMemory.mapSharedFrame and mappingReleased', () => {
  function recorder(): MemoryObserver & { log: string[] } {
    const log: string[] = [];
    return {
      log,
      mappingsChanged: () => log.push('mappingsChanged'),
      writesRevoked: () => log.push('writesRevoked'),
      codeFrameWritten: (f) => log.push(`code ${f}`),
      mappingReleased: (g, h, byWrite) => log.push(`released ${g} ${h} ${byWrite}`),
    };
  }

  it('maps an existing host frame copy-on-write, keeps ACCESSED/DIRTY/CODE, releases the old frame and notifies', () => {
    const pool = newPool();
    const memory = new GuestMemory(pool, RAM_BYTES);
    memory.writeBytes(1 * FRAME_SIZE, page(7));
    memory.writeBytes(2 * FRAME_SIZE, page(7));
    memory.markCode(2);
    const kept = hostFrame(memory, 1);
    const dropped = hostFrame(memory, 2);
    const observer = recorder();
    memory.addObserver(observer);
    const inUse = pool.framesInUse;
    memory.mapSharedFrame(1, kept as HostFrame); // onto itself: becomes COW, nothing released
    memory.mapSharedFrame(2, kept as HostFrame);
    expect(hostFrame(memory, 2)).toBe(kept);
    expect(memory.npt.flagsOf(2) & (NPT_SHARED | NPT_WRITABLE | NPT_CODE | NPT_DIRTY | NPT_ACCESSED)).toBe(NPT_SHARED | NPT_CODE | NPT_DIRTY | NPT_ACCESSED);
    expect(memory.npt.flagsOf(1) & (NPT_SHARED | NPT_WRITABLE)).toBe(NPT_SHARED);
    expect(pool.refCount(kept as HostFrame)).toBe(2);
    expect(pool.refCount(dropped as HostFrame)).toBe(0);
    expect(pool.framesInUse).toBe(inUse - 1);
    expect(observer.log).toEqual(['mappingsChanged', `released 2 ${dropped} false`, 'mappingsChanged']);
    expect(samePage(readPage(memory, 2), page(7))).toBe(true);
  });

  it('a write to a shared frame reports mappingReleased(byWrite) and the CODE flag still reports the write', () => {
    const pool = newPool();
    const memory = new GuestMemory(pool, RAM_BYTES);
    memory.writeBytes(1 * FRAME_SIZE, page(3));
    memory.writeBytes(2 * FRAME_SIZE, page(3));
    memory.markCode(2);
    const kept = hostFrame(memory, 1);
    memory.mapSharedFrame(1, kept as HostFrame);
    memory.mapSharedFrame(2, kept as HostFrame);
    const observer = recorder();
    memory.addObserver(observer);
    memory.write8(2 * FRAME_SIZE + 5, 0xee);
    expect(observer.log).toContain(`released 2 ${kept} true`);
    expect(observer.log).toContain('code 2');
    expect(memory.read8(2 * FRAME_SIZE + 5)).toBe(0xee);
    expect(memory.read8(1 * FRAME_SIZE + 5)).toBe(page(3)[5]);
    observer.log.length = 0;
    memory.write8(1 * FRAME_SIZE + 5, 0x11); // last reference: taken over, still reported
    expect(observer.log).toContain(`released 1 ${kept} true`);
    expect(hostFrame(memory, 1)).toBe(kept);
  });

  it('rejects ROM, MMIO and unbacked frames and free host frames with errors naming them', () => {
    const pool = newPool();
    const memory = new GuestMemory(pool, RAM_BYTES);
    memory.loadRom(0x100000, new Uint8Array(FRAME_SIZE));
    memory.mapMmio(0x200000, FRAME_SIZE, { mmioRead: () => 0, mmioWrite: () => {} }, 'dev');
    memory.writeBytes(0, page(1));
    const host = hostFrame(memory, 0) as HostFrame;
    expect(() => memory.mapSharedFrame(0x100, host)).toThrow(/mapSharedFrame guestFrame: frame 0x100 is ROM/);
    expect(() => memory.mapSharedFrame(0x200, host)).toThrow(/frame 0x200 is MMIO/);
    expect(() => memory.mapSharedFrame(0x300, host)).toThrow(/frame 0x300 is unbacked/);
    expect(() => memory.mapSharedFrame(1, 999 as HostFrame)).toThrow(GuestMemoryRangeError);
    expect(() => memory.mapSharedFrame(1, 999 as HostFrame)).toThrow(/host frame 999 is not allocated/);
    expect(() => memory.mapSharedFrame(-1, host)).toThrow(/mapSharedFrame guestFrame/);
  });

  it('dispose, unmap and resetFrames report the released mappings', () => {
    const pool = newPool();
    const memory = new GuestMemory(pool, RAM_BYTES);
    memory.writeBytes(3 * FRAME_SIZE, page(9));
    const h3 = hostFrame(memory, 3);
    const observer = recorder();
    memory.addObserver(observer);
    memory.resetFrames([3]);
    expect(observer.log).toContain(`released 3 ${h3} false`);
    memory.unmap(4 * FRAME_SIZE, FRAME_SIZE);
    expect(observer.log).toContain(`released 4 ${pool.zeroFrame} false`);
    observer.log.length = 0;
    memory.dispose();
    expect(observer.log.filter((l) => l.startsWith('released')).length).toBe(RAM_FRAMES - 1);
  });
});

describe('PageSharingScanner', () => {
  it('merges identical frames within one VM into one copy-on-write frame, with exact counters', () => {
    const pool = newPool();
    const memory = new GuestMemory(pool, RAM_BYTES);
    memory.writeBytes(1 * FRAME_SIZE, page(5));
    memory.writeBytes(2 * FRAME_SIZE, page(5));
    memory.writeBytes(3 * FRAME_SIZE, page(6));
    const scanner = new PageSharingScanner(pool);
    scanner.addMemory(memory);
    const inUse = pool.framesInUse;
    const passes = scanner.scanUntilConverged();
    expect(passes).toBe(3);
    expect(hostFrame(memory, 1)).toBe(hostFrame(memory, 2));
    expect(hostFrame(memory, 3)).not.toBe(hostFrame(memory, 1));
    expect(memory.npt.flagsOf(1) & (NPT_SHARED | NPT_WRITABLE)).toBe(NPT_SHARED);
    expect(memory.npt.flagsOf(2) & (NPT_SHARED | NPT_WRITABLE)).toBe(NPT_SHARED);
    expect(memory.npt.flagsOf(3) & (NPT_SHARED | NPT_WRITABLE)).toBe(NPT_WRITABLE);
    expect(pool.framesInUse).toBe(inUse - 1);
    // Pass 1 hashes 3 frames (all new: volatile); pass 2 hashes 3 and merges 1+2; pass 3 hashes only frame 3.
    expect(scanner.counters).toEqual({
      framesScanned: 7, sharedFrames: 1, sharingPages: 2, zeroPages: 0, savedBytes: FRAME_SIZE,
      merges: 2, cowBreaks: 0, volatileSkips: 3, passes: 3,
    });
    expect(samePage(readPage(memory, 1), page(5))).toBe(true);
    expect(samePage(readPage(memory, 2), page(5))).toBe(true);
    expect(samePage(readPage(memory, 3), page(6))).toBe(true);
  });

  it('merges identical frames across VMs (at different guest addresses) and saves the bytes it reports', () => {
    const pool = newPool();
    const vms = [0, 1, 2].map(() => new GuestMemory(pool, RAM_BYTES));
    vms.forEach((vm, k) => {
      vm.writeBytes((4 + k) * FRAME_SIZE, page(42)); // the same content at frames 4, 5, 6
      vm.writeBytes(10 * FRAME_SIZE, page(100 + k)); // private content
    });
    const scanner = new PageSharingScanner(pool);
    vms.forEach((vm) => scanner.addMemory(vm));
    const inUse = pool.framesInUse;
    scanner.scanUntilConverged();
    const shared = hostFrame(vms[0], 4);
    expect(hostFrame(vms[1], 5)).toBe(shared);
    expect(hostFrame(vms[2], 6)).toBe(shared);
    expect(pool.refCount(shared as HostFrame)).toBe(3);
    expect(new Set(vms.map((vm) => hostFrame(vm, 10))).size).toBe(3);
    const c = scanner.counters;
    expect(c).toMatchObject({ sharedFrames: 1, sharingPages: 3, zeroPages: 0, savedBytes: 2 * FRAME_SIZE, merges: 3, cowBreaks: 0 });
    expect(inUse - pool.framesInUse).toBe(c.savedBytes / FRAME_SIZE);
    vms.forEach((vm, k) => {
      expect(samePage(readPage(vm, 4 + k), page(42))).toBe(true);
      expect(samePage(readPage(vm, 10), page(100 + k))).toBe(true);
    });
    expectNoWritableSharedFrame(pool, vms);
  });

  it.each(['pool', 'ts'] as const)('merges the same with the %s frame kernels (pool: WASM when available; ts: the fallback)', (which) => {
    const pool = newPool();
    const kernels = which === 'pool' ? pool.frameKernels() : tsFrameKernels(pool);
    const vms = [0, 1].map(() => new GuestMemory(pool, RAM_BYTES));
    const random = makeRandom(7);
    vms.forEach((vm) => { for (let f = 0; f < 16; f++) vm.writeBytes(f * FRAME_SIZE, f % 5 === 4 ? new Uint8Array(FRAME_SIZE) : page(random(4))); });
    const scanner = new PageSharingScanner(pool, { frameOps: frameKernelOps(kernels) });
    expect(scanner.frameOps.kind).toBe(kernels.kind);
    vms.forEach((vm) => scanner.addMemory(vm));
    const inUse = pool.framesInUse;
    scanner.scanUntilConverged();
    // 32 pages: 6 zero pages, the other 26 from 4 contents (all four occur with this seed).
    expect(scanner.counters).toMatchObject({ zeroPages: 6, sharedFrames: 4, sharingPages: 26, savedBytes: (6 + 22) * FRAME_SIZE });
    expect(inUse - pool.framesInUse).toBe(28);
  });

  it('never merges on a hash collision: with a hash that collides on everything only equal frames share', () => {
    const pool = newPool();
    const vms = [0, 1].map(() => new GuestMemory(pool, RAM_BYTES));
    // 12 pages per VM from 6 contents, plus pages differing from page(1) in one byte at many positions.
    const contents = new Map<string, Uint8Array>();
    const seeds = new Set<number>();
    const random = makeRandom(99);
    vms.forEach((vm, k) => {
      for (let f = 0; f < 12; f++) {
        const seed = 1 + random(6);
        seeds.add(seed);
        const data = page(seed);
        vm.writeBytes(f * FRAME_SIZE, data);
        contents.set(`${k}:${f}`, data);
      }
      for (const [f, position] of [[12, 0], [13, 1], [14, 2047], [15, 4095], [16, 4092 + k]] as const) {
        const data = page(1);
        data[position] ^= 0x80;
        vm.writeBytes(f * FRAME_SIZE, data);
        contents.set(`${k}:${f}`, data);
      }
    });
    const ops = collidingOps(pool);
    const scanner = new PageSharingScanner(pool, { frameOps: ops });
    vms.forEach((vm) => scanner.addMemory(vm));
    scanner.scanUntilConverged();
    expect(ops.hashes).toBeGreaterThan(0);
    // Every page still reads its own content, and two pages share a host frame only when equal.
    const byHost = new Map<number, Uint8Array>();
    for (const [key, data] of contents) {
      const [k, f] = key.split(':').map(Number);
      expect(samePage(readPage(vms[k], f), data), key).toBe(true);
      const host = hostFrame(vms[k], f);
      const seen = byHost.get(host);
      if (seen !== undefined) expect(samePage(seen, data), `host frame ${host} shared by different contents (${key})`).toBe(true);
      byHost.set(host, data);
    }
    // Frames 0..11 collapse to one host frame per distinct content; the single-byte variants
    // merge only with their equal twin in the other VM (frames 12..15), not with page(1).
    const shared = new Set<number>();
    for (const vm of vms) for (let f = 0; f < 12; f++) shared.add(hostFrame(vm, f));
    expect(shared.size).toBe(seeds.size);
    const variants = new Set<number>();
    for (const vm of vms) for (let f = 12; f < 17; f++) variants.add(hostFrame(vm, f));
    expect(variants.size).toBe(6); // frames 12..15 pair up across the VMs (4), frame 16 differs (2)
    expect(scanner.counters.savedBytes).toBe((24 - shared.size + 10 - variants.size) * FRAME_SIZE);
    expectNoWritableSharedFrame(pool, vms);
  });

  it('un-shares on write: each VM gets its own copy with the right contents, counted as COW breaks', () => {
    const pool = newPool();
    const a = new GuestMemory(pool, RAM_BYTES);
    const b = new GuestMemory(pool, RAM_BYTES);
    a.writeBytes(2 * FRAME_SIZE, page(8));
    b.writeBytes(2 * FRAME_SIZE, page(8));
    const scanner = new PageSharingScanner(pool);
    scanner.addMemory(a);
    scanner.addMemory(b);
    scanner.scanUntilConverged();
    const shared = hostFrame(a, 2);
    expect(hostFrame(b, 2)).toBe(shared);
    expect(scanner.counters).toMatchObject({ sharedFrames: 1, sharingPages: 2, savedBytes: FRAME_SIZE, cowBreaks: 0 });

    a.write32(2 * FRAME_SIZE + 100, 0xdeadbeef);
    expect(hostFrame(a, 2)).not.toBe(shared);
    expect(hostFrame(b, 2)).toBe(shared);
    expect(a.read32(2 * FRAME_SIZE + 100)).toBe(0xdeadbeef);
    const expectedA = page(8);
    new DataView(expectedA.buffer).setUint32(100, 0xdeadbeef, true);
    expect(samePage(readPage(a, 2), expectedA)).toBe(true);
    expect(samePage(readPage(b, 2), page(8))).toBe(true);
    expect(scanner.counters).toMatchObject({ sharedFrames: 0, sharingPages: 0, savedBytes: 0, cowBreaks: 1 });

    b.write8(2 * FRAME_SIZE, 0x77); // the last sharer takes the frame over
    expect(hostFrame(b, 2)).toBe(shared);
    expect(b.read8(2 * FRAME_SIZE)).toBe(0x77);
    expect(a.read8(2 * FRAME_SIZE)).toBe(page(8)[0]);
    expect(scanner.counters).toMatchObject({ sharedFrames: 0, savedBytes: 0, cowBreaks: 2 });
    expect(a.npt.flagsOf(2) & NPT_WRITABLE).toBe(NPT_WRITABLE);
    expect(b.npt.flagsOf(2) & NPT_WRITABLE).toBe(NPT_WRITABLE);

    // The frame b took over is writable now: nothing may merge into it any more.
    a.writeBytes(2 * FRAME_SIZE, page(8));
    const c = new GuestMemory(pool, RAM_BYTES);
    c.writeBytes(0, page(8));
    scanner.addMemory(c);
    scanner.scanUntilConverged();
    expect(hostFrame(a, 2)).toBe(hostFrame(c, 0));
    expect(hostFrame(b, 2)).not.toBe(hostFrame(a, 2));
    b.write8(2 * FRAME_SIZE + 1, 0x55);
    expect(samePage(readPage(a, 2), page(8))).toBe(true);
    expect(samePage(readPage(c, 0), page(8))).toBe(true);
    expectNoWritableSharedFrame(pool, [a, b, c]);
  });

  it('maps all-zero frames to the pool zero frame, and a later write un-shares them', () => {
    const pool = newPool();
    const memory = new GuestMemory(pool, RAM_BYTES);
    memory.writeBytes(5 * FRAME_SIZE, page(1));
    memory.writeBytes(5 * FRAME_SIZE, new Uint8Array(FRAME_SIZE)); // populated, now all zero
    memory.write8(6 * FRAME_SIZE, 0);
    const inUse = pool.framesInUse;
    const scanner = new PageSharingScanner(pool);
    scanner.addMemory(memory);
    scanner.scanUntilConverged();
    expect(hostFrame(memory, 5)).toBe(pool.zeroFrame);
    expect(hostFrame(memory, 6)).toBe(pool.zeroFrame);
    expect(pool.framesInUse).toBe(inUse - 2);
    expect(scanner.counters).toMatchObject({ zeroPages: 2, sharedFrames: 0, savedBytes: 2 * FRAME_SIZE, merges: 2 });
    memory.write8(5 * FRAME_SIZE + 9, 3);
    expect(memory.read8(5 * FRAME_SIZE + 9)).toBe(3);
    expect(scanner.counters).toMatchObject({ zeroPages: 1, savedBytes: FRAME_SIZE, cowBreaks: 1 });
    expect(pool.bytes[pool.zeroFrame * FRAME_SIZE + 9]).toBe(0);
  });

  it('does not merge frames whose content changes between scans, and merges them once they settle', () => {
    const pool = newPool();
    const a = new GuestMemory(pool, RAM_BYTES);
    const b = new GuestMemory(pool, RAM_BYTES);
    const scanner = new PageSharingScanner(pool);
    scanner.addMemory(a);
    scanner.addMemory(b);
    for (let round = 0; round < 6; round++) {
      // Identical at every scan, but different from one pass to the next.
      a.writeBytes(3 * FRAME_SIZE, page(200 + round));
      b.writeBytes(3 * FRAME_SIZE, page(200 + round));
      scanner.scan(2); // one visit of each page per round
      expect(hostFrame(a, 3)).not.toBe(hostFrame(b, 3));
    }
    expect(scanner.counters.merges).toBe(0);
    expect(scanner.counters.volatileSkips).toBe(12);
    scanner.scan(4); // both settled for one more pass: merged
    expect(hostFrame(a, 3)).toBe(hostFrame(b, 3));
    expect(scanner.counters.merges).toBe(2);
  });

  it('respects the per-batch limit and the scan budget', () => {
    const pool = newPool();
    const memory = new GuestMemory(pool, RAM_BYTES);
    for (let f = 0; f < 20; f++) memory.writeBytes(f * FRAME_SIZE, page(f + 1));
    const ops = countingOps(pool);
    const scanner = new PageSharingScanner(pool, { pagesPerBatch: 4, frameOps: ops });
    scanner.addMemory(memory);
    const perStep: number[] = [];
    for (let k = 0; k < 6; k++) {
      const before = ops.hashes;
      const n = scanner.scanStep();
      perStep.push(n);
      expect(ops.hashes - before).toBe(n);
    }
    // 20 candidates in batches of 4: five full batches, then the pass ends (the sixth batch
    // finds the end of the memory), and the next pass starts.
    expect(perStep).toEqual([4, 4, 4, 4, 4, 0]);
    expect(scanner.counters.passes).toBe(1);
    expect(scanner.scanStep(2)).toBe(2);
    expect(scanner.scan(9)).toBe(9);
    expect(scanner.counters.framesScanned).toBe(31);
    expect(scanner.counters.framesScanned).toBe(ops.hashes - 1); // minus the zero-frame hash taken at construction
    expect(() => new PageSharingScanner(pool, { pagesPerBatch: 0 })).toThrow(PageSharingError);
    expect(() => new PageSharingScanner(pool, { pagesPerBatch: 0 })).toThrow(/pagesPerBatch: expected a positive integer, got 0/);
    expect(() => scanner.scan(-1)).toThrow(/scan budgetPages/);
  });

  it('scan() stops when a whole pass has nothing to hash (all merged)', () => {
    const pool = newPool();
    const memory = new GuestMemory(pool, RAM_BYTES);
    memory.writeBytes(0, page(1));
    memory.writeBytes(FRAME_SIZE, page(1));
    const scanner = new PageSharingScanner(pool);
    scanner.addMemory(memory);
    expect(scanner.scan(1000)).toBe(4);
    expect(scanner.counters.merges).toBe(2);
  });

  it('scheduleScanner runs one batch per pause on the given timers until stopped', () => {
    const pool = newPool();
    const memory = new GuestMemory(pool, RAM_BYTES);
    for (let f = 0; f < 10; f++) memory.writeBytes(f * FRAME_SIZE, page(f + 1));
    const scanner = new PageSharingScanner(pool, { pagesPerBatch: 3 });
    scanner.addMemory(memory);
    const pending: { callback: () => void; ms: number }[] = [];
    let cleared = 0;
    const schedule = scheduleScanner(scanner, 25, {
      setTimeout: (callback, ms) => pending.push({ callback, ms }),
      clearTimeout: () => cleared++,
    });
    expect(scanner.counters.framesScanned).toBe(0);
    const scanned: number[] = [];
    for (let tick = 0; tick < 3; tick++) {
      const next = pending.shift()!;
      expect(next.ms).toBe(25);
      next.callback();
      scanned.push(scanner.counters.framesScanned);
    }
    expect(scanned).toEqual([3, 6, 9]);
    schedule.stop();
    expect(cleared).toBe(1);
    pending.shift()?.callback();
    expect(scanner.counters.framesScanned).toBe(9);
    expect(() => scheduleScanner(scanner, -1)).toThrow(/pauseMs/);
  });

  it('skips frames shared by someone else (a writable alias) and ROM', () => {
    const pool = newPool();
    const memory = new GuestMemory(pool, RAM_BYTES);
    memory.writeBytes(0, page(4));
    memory.alias(8 * FRAME_SIZE, 0, FRAME_SIZE); // frame 0 and 8: one writable frame, refcount 2
    memory.writeBytes(1 * FRAME_SIZE, page(4));
    memory.loadRom(0x100000, page(4));
    const scanner = new PageSharingScanner(pool);
    scanner.addMemory(memory);
    scanner.scanUntilConverged();
    expect(hostFrame(memory, 0)).toBe(hostFrame(memory, 8));
    expect(hostFrame(memory, 1)).not.toBe(hostFrame(memory, 0));
    expect(hostFrame(memory, 0x100)).not.toBe(hostFrame(memory, 1));
    expect(scanner.counters.merges).toBe(0);
    memory.write8(8 * FRAME_SIZE, 0xab); // the alias still works: both places see the write
    expect(memory.read8(0)).toBe(0xab);
    expect(memory.read8(FRAME_SIZE)).toBe(page(4)[0]);
  });

  it('keeps counters exact when merged pages are unmapped, reset, unregistered or disposed', () => {
    const pool = newPool();
    const vms = [0, 1, 2, 3].map(() => new GuestMemory(pool, RAM_BYTES));
    vms.forEach((vm) => {
      vm.writeBytes(1 * FRAME_SIZE, page(11));
      vm.writeBytes(2 * FRAME_SIZE, page(12));
    });
    const scanner = new PageSharingScanner(pool);
    vms.forEach((vm) => scanner.addMemory(vm));
    scanner.scanUntilConverged();
    expect(scanner.counters).toMatchObject({ sharedFrames: 2, sharingPages: 8, savedBytes: 6 * FRAME_SIZE });
    vms[0].resetFrames([1]);
    expect(scanner.counters).toMatchObject({ sharedFrames: 2, sharingPages: 7, savedBytes: 5 * FRAME_SIZE, cowBreaks: 0 });
    vms[1].unmap(2 * FRAME_SIZE, FRAME_SIZE);
    expect(scanner.counters).toMatchObject({ sharedFrames: 2, sharingPages: 6, savedBytes: 4 * FRAME_SIZE });
    scanner.removeMemory(vms[2]);
    expect(scanner.counters).toMatchObject({ sharedFrames: 2, sharingPages: 4, savedBytes: 2 * FRAME_SIZE });
    vms[3].dispose();
    expect(scanner.counters).toMatchObject({ sharedFrames: 0, sharingPages: 0, savedBytes: 0, cowBreaks: 0 });
    expect(() => scanner.removeMemory(vms[2])).toThrow(/not registered/);
    expect(() => scanner.addMemory(vms[0])).toThrow(/already registered/);
    expect(() => scanner.addMemory(new GuestMemory(newPool(), RAM_BYTES))).toThrow(/different frame pool/);
    // The unregistered VM still reads its data, and writing it affects nobody else.
    vms[2].write8(FRAME_SIZE, 0x99);
    expect(vms[0].read8(FRAME_SIZE)).toBe(0);
    expect(vms[1].read8(FRAME_SIZE)).toBe(page(11)[0]);
  });

  it('isolation: 4 VMs under seeded random writes with the scanner interleaved match their byte models', () => {
    const pool = newPool();
    const frames = 24;
    const vms = [0, 1, 2, 3].map(() => ({ memory: new GuestMemory(pool, frames * FRAME_SIZE), model: new Uint8Array(frames * FRAME_SIZE) }));
    const scanner = new PageSharingScanner(pool, { pagesPerBatch: 7 });
    vms.forEach((vm) => scanner.addMemory(vm.memory));
    const random = makeRandom(0x5eed);
    // A small palette of page contents so that many pages are equal within and across VMs.
    const palette = [0, 1, 2, 3].map((k) => (k === 0 ? new Uint8Array(FRAME_SIZE) : page(k)));
    for (let round = 0; round < 400; round++) {
      const vm = vms[random(4)];
      const op = random(10);
      const frame = random(frames);
      if (op < 4) {
        const data = palette[random(palette.length)];
        vm.memory.writeBytes(frame * FRAME_SIZE, data);
        vm.model.set(data, frame * FRAME_SIZE);
      } else if (op < 9) {
        const address = frame * FRAME_SIZE + random(FRAME_SIZE - 3);
        const value = random(0x100000000);
        vm.memory.write32(address, value);
        new DataView(vm.model.buffer).setUint32(address, value, true);
      } else {
        vm.memory.resetFrames([frame]);
        vm.model.fill(0, frame * FRAME_SIZE, (frame + 1) * FRAME_SIZE);
      }
      scanner.scan(1 + random(12));
      if (round % 20 === 19) {
        for (const v of vms) for (let f = 0; f < frames; f++) {
          expect(samePage(readPage(v.memory, f), v.model.subarray(f * FRAME_SIZE, (f + 1) * FRAME_SIZE)), `round ${round} frame ${f}`).toBe(true);
        }
        expectNoWritableSharedFrame(pool, vms.map((v) => v.memory));
      }
    }
    const c = scanner.counters;
    expect(c.merges).toBeGreaterThan(20);
    expect(c.cowBreaks).toBeGreaterThan(5);
    // savedBytes agrees with the mappings themselves: pages the scanner merged minus distinct frames.
    let pagesOnShared = 0;
    const refs = new Map<number, number>();
    for (const v of vms) for (let f = 0; f < frames; f++) {
      const h = hostFrame(v.memory, f);
      refs.set(h, (refs.get(h) ?? 0) + 1);
    }
    for (const [h, n] of refs) if (h !== pool.zeroFrame && n >= 2) pagesOnShared += n;
    expect(c.sharingPages).toBe(pagesOnShared);
    expect(c.sharedFrames).toBe([...refs].filter(([h, n]) => h !== pool.zeroFrame && n >= 2).length);
  });
});

describe('guests keep running correctly while the scanner merges and un-shares their memory', () => {
  const GUESTS = new URL('../../../guests/', import.meta.url);

  interface Outcome { serial: string; stop: string }

  /** Runs `images` as VMs on one host, `slice` instructions each in turn, scanning `budget` frames between slices. */
  function runInterleaved(images: string[], slice: number, budget: number | null): { outcomes: Outcome[]; scanner: PageSharingScanner } {
    const host = new Host({ maxFrames: 16384 });
    const scanner = new PageSharingScanner(host.pool, { pagesPerBatch: 32 });
    const serials = images.map(() => '');
    const vms = images.map((image, k) => {
      const rom = new Uint8Array(readFileSync(new URL(image, GUESTS)));
      const vm = host.createMachine(`vm${k}`, {
        memoryBytes: 16 << 20, rom: { name: image, data: rom },
        serialOut: (b) => { serials[k] += String.fromCharCode(b); },
      });
      if (budget !== null) scanner.addMemory(vm.memory);
      return vm;
    });
    const stops: (string | null)[] = images.map(() => null);
    for (let round = 0; stops.includes(null) && round < 10_000; round++) {
      vms.forEach((vm, k) => {
        if (stops[k] !== null) return;
        const stop = vm.run(slice);
        if (stop.kind !== 'limit') stops[k] = JSON.stringify(stop);
      });
      if (budget !== null) scanner.scan(budget);
    }
    const outcomes = images.map((_, k) => ({ serial: serials[k], stop: stops[k] ?? 'did not finish' }));
    images.forEach((_, k) => host.destroyMachine(`vm${k}`));
    return { outcomes, scanner };
  }

  it('4 VMs of the same protected-mode guest (pm-paging) print their TAP and exit 0 as when run alone', () => {
    const images = ['pm/pm-paging.bin', 'pm/pm-paging.bin', 'pm/pm-paging.bin', 'pm/pm-paging.bin'];
    const alone = runInterleaved(['pm/pm-paging.bin'], 1_000_000_000, null).outcomes[0];
    expect(alone.stop).toBe('{"kind":"exit","value":0}');
    expect(alone.serial).toMatch(/^1\.\.60\r?$/m);
    const { outcomes, scanner } = runInterleaved(images, 1500, 64);
    for (const outcome of outcomes) expect(outcome).toEqual(alone);
    const c = scanner.counters;
    expect(c.merges).toBeGreaterThan(0);
    expect(c.cowBreaks).toBeGreaterThan(0);
    expect(c.passes).toBeGreaterThan(10);
  });

  it('host-side remaps between slices are invisible to the guest: pm-paging (global pages, stale TLB entries) passes', () => {
    // Any NPT change reaches the CPU as mappingsChanged; the CPU must drop only host addresses,
    // not the guest's own linear translations (check 51 reads through a deliberately stale
    // global translation after a CR3 reload).
    const rom = new Uint8Array(readFileSync(new URL('pm/pm-paging.bin', GUESTS)));
    const host = new Host({ maxFrames: 8192 });
    let serial = '';
    const vm = host.createMachine('remapped', {
      memoryBytes: 16 << 20, rom: { name: 'pm-paging.bin', data: rom }, serialOut: (b) => { serial += String.fromCharCode(b); },
    });
    let stop = vm.run(97);
    let remaps = 0;
    while (stop.kind === 'limit' && remaps < 100_000) {
      vm.memory.unmap(0x3000000, FRAME_SIZE); // an unbacked frame above RAM: changes nothing but notifies
      remaps++;
      stop = vm.run(97);
    }
    host.destroyMachine('remapped');
    expect(remaps).toBeGreaterThan(500);
    expect(serial).not.toMatch(/^not ok/m);
    expect(serial).toContain('# all 60 checks passed');
    expect(stop).toEqual({ kind: 'exit', value: 0 });
  });

  it('4 different guests (rings, tasks, exceptions, 32-bit bench) give the same output and exit code as alone', () => {
    const images = ['pm/pm-rings.bin', 'pm/pm-tasks.bin', 'pm/pm-exceptions.bin', 'bench/bench32-paged-short.bin'];
    const alone = images.map((image) => runInterleaved([image], 1_000_000_000, null).outcomes[0]);
    for (const outcome of alone) expect(outcome.stop).toBe('{"kind":"exit","value":0}');
    expect(alone[3].serial).toContain('checksum=E9D772FC');
    const { outcomes, scanner } = runInterleaved(images, 2000, 48);
    expect(outcomes).toEqual(alone);
    expect(scanner.counters.merges).toBeGreaterThan(0);
  });
});
