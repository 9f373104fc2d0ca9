/**
 * Content-based page sharing (issue 5, part 3): a KSM-like scanner that finds guest RAM frames
 * with identical contents — inside one VM or across several VMs on one FramePool — and maps
 * them all to one copy-on-write host frame. The design follows the idea of Linux KSM
 * (Documentation/admin-guide/mm/ksm.rst: stable and unstable trees, pages_to_scan,
 * sleep_millisecs, the checksum test for volatile pages); the code and tables here are ours.
 *
 * How a scan works:
 * - The scanner walks the RAM frames of its registered memories in order, a batch at a time
 *   (`pagesPerBatch` frames hashed per `scanStep()`; KSM's pages_to_scan). A *pass* is one
 *   walk over every registered memory (KSM's full_scans). Nothing here uses timers: the caller
 *   drives `scanStep()` / `scan(budget)`; `scheduleScanner` is a helper that calls `scanStep()`
 *   every `pauseMs` milliseconds (KSM's sleep_millisecs) with injectable timers.
 * - Candidates: frames mapped to a private host frame (reference count 1, writable or
 *   copy-on-write). Frames still on the pool's zero frame, MMIO, ROM, unbacked frames, frames
 *   the scanner already merged and frames shared by someone else (reference count > 1, e.g. a
 *   writable alias) are skipped: merging a frame that has another, writable mapping would let
 *   that mapping change what every sharer sees.
 * - Volatile pages (our choice: a re-hash, as KSM does): each candidate's 64-bit hash is kept
 *   per guest frame; a frame is considered only when its hash equals the one recorded at its
 *   previous visit, i.e. its content did not change for a whole pass. The dirty bitmap is not
 *   used because it belongs to its harvesters (migration, checkpoints): harvesting it here would
 *   steal their dirty bits. So a page needs two visits before it can merge, and converged
 *   memory needs about three passes (record, merge, confirm).
 * - Stable frames: an all-zero candidate is mapped to the pool's zero frame. Otherwise the
 *   stable table (hash → host frames this scanner merged, immutable while listed) is tried, then
 *   the unstable table (hash → candidate frames seen this pass, emptied after every pass).
 *   EVERY merge is confirmed by a full 4 KiB compare of the two frames right before it; a
 *   hash match alone never merges (tests inject a hash that collides on everything).
 * - Merging uses `GuestMemory.mapSharedFrame`: the guest frame points at the kept host frame
 *   copy-on-write, the duplicate is released (freed at reference count 0), and the VM's CPU
 *   hears `mappingsChanged`. A later write goes through the ordinary copy-on-write break, which
 *   gives the writer its own copy (the last sharer takes the frame over); the memory reports it
 *   with `mappingReleased(..., byWrite = true)` and the scanner counts an un-share.
 *
 * Counters (`counters`) are exact at every moment: they are updated on merges and from the
 * memories' `mappingReleased` reports (writes, unmap, reset, dispose...).
 */

import type { FrameKernels } from '../kernels/index.js';
import { FRAME_SIZE, FRAME_SHIFT, type FramePool, type HostFrame } from './frame-pool.js';
import type { GuestMemory, MemoryObserver } from './guest-memory.js';
import { NPT_MMIO, NPT_PRESENT, NPT_SHARED, NPT_WRITABLE } from './npt.js';

/**
 * What the scanner needs to know about frame contents. Every argument is a host frame number
 * of the scanner's pool. `frameKernelOps` provides it from the pool's frame kernels; tests wrap
 * it (a hash that collides on everything, call counters).
 */
export interface SharingFrameOps {
  /** Which implementation this is (reported by the bench). */
  readonly kind: string;
  /** 64-bit content hash of `frame`: low 32 bits to `out[0]`, high 32 bits to `out[1]`. */
  hashFrame(frame: number, out: Uint32Array): void;
  /** Whether all 4096 bytes of `frame` are zero. */
  isZeroFrame(frame: number): boolean;
  /** Whether frames `a` and `b` hold the same 4096 bytes (a full compare). */
  framesEqual(a: number, b: number): boolean;
}

/** Thrown for an invalid scanner option or registration; names the option or the problem. */
export class PageSharingError extends Error {
  constructor(field: string, problem: string) {
    super(`page sharing: ${field}: ${problem}`);
    this.name = 'PageSharingError';
  }
}

/** Options for `new PageSharingScanner()`. */
export interface PageSharingOptions {
  /** Frames hashed per `scanStep()` (KSM's pages_to_scan). Default 256. */
  pagesPerBatch?: number;
  /** Frame-content operations (default: `frameKernelOps(pool.frameKernels())`). Tests inject colliding hashes here. */
  frameOps?: SharingFrameOps;
}

/** Snapshot of the scanner's counters. */
export interface PageSharingCounters {
  /** Frames hashed since start (every visited candidate counts, whether it merged or not). */
  framesScanned: number;
  /** Host frames the scanner merged that at least two guest pages map now. */
  sharedFrames: number;
  /** Guest pages mapped to those `sharedFrames`. */
  sharingPages: number;
  /** Guest pages the scanner mapped to the pool's zero frame that still map it. */
  zeroPages: number;
  /** Bytes saved now: `(sharingPages - sharedFrames + zeroPages) * 4096`. */
  savedBytes: number;
  /** Merges done since start (one guest page remapped onto a kept frame, zero frame included). */
  merges: number;
  /** Copy-on-write breaks of merged pages (un-shares by a guest write) since start. */
  cowBreaks: number;
  /** Candidates skipped because their content changed since the previous visit. */
  volatileSkips: number;
  /** Complete passes over all registered memories. */
  passes: number;
}

/** Default frames hashed per batch. */
const DEFAULT_PAGES_PER_BATCH = 256;
/** Entries a batch may walk past without hashing anything, per frame of its budget (bounds the cost of skipping unpopulated RAM). */
const VISITS_PER_BUDGET_FRAME = 64;
/** Bits of the high hash half kept in a table key, so that the key is an exact integer (53 bits). */
const KEY_HIGH_MASK = 0x1fffff;
const TWO_TO_32 = 0x1_0000_0000;
/** Unstable-table entries pack (member index, guest frame) as member * 2^20 + frame. */
const GUEST_FRAME_RADIX = 1 << 20;

/** One registered memory and the scanner's per-frame records for it. */
interface Member {
  /** Position in `members` (stable: a removed member leaves null). */
  readonly index: number;
  readonly memory: GuestMemory;
  readonly ramFrames: number;
  /** Hash of each frame at its last visit (low, high) and whether one was recorded. */
  readonly hashLow: Uint32Array;
  readonly hashHigh: Uint32Array;
  readonly hashed: Uint8Array;
  /** Host frame the scanner mapped here (0 = none; real frames are >= the pool's reserved frames). */
  readonly mergedTo: Int32Array;
  readonly observer: MemoryObserver;
}

/** The page-sharing scanner over memories that share one FramePool. */
export class PageSharingScanner {
  /** The pool every registered memory uses. */
  readonly pool: FramePool;
  /** Frames hashed per `scanStep()`. */
  readonly pagesPerBatch: number;
  /** The frame-content operations in use. */
  readonly frameOps: SharingFrameOps;

  private readonly members: (Member | null)[] = [];
  /** Hash key → host frames merged by this scanner (immutable while listed). */
  private readonly stable = new Map<number, number[]>();
  /** Hash key → candidates (packed member/frame) seen this pass. */
  private readonly unstable = new Map<number, number[]>();
  /** Per host frame: guest pages this scanner mapped to it, and its stable-table key. */
  private sharers = new Int32Array(0);
  private stableKey = new Float64Array(0);
  private readonly hashOut = new Uint32Array(2);
  private readonly zeroHashLow: number;
  private readonly zeroHashHigh: number;

  private cursorMember = 0;
  private cursorFrame = 0;
  private hashedThisPass = 0;
  private mergesThisPass = 0;
  private lastPassMerges = -1;
  private volatileThisPass = 0;
  private lastPassVolatile = -1;
  private lastPassHashed = -1;

  private framesScanned = 0;
  private sharedFrames = 0;
  private sharingPages = 0;
  private zeroPages = 0;
  private merges = 0;
  private cowBreaks = 0;
  private volatileSkips = 0;
  private passes = 0;

  /** A scanner over memories of `pool` (register them with `addMemory`). */
  constructor(pool: FramePool, options: PageSharingOptions = {}) {
    const pagesPerBatch = options.pagesPerBatch ?? DEFAULT_PAGES_PER_BATCH;
    if (!Number.isInteger(pagesPerBatch) || pagesPerBatch < 1) {
      throw new PageSharingError('pagesPerBatch', `expected a positive integer, got ${pagesPerBatch}`);
    }
    this.pool = pool;
    this.pagesPerBatch = pagesPerBatch;
    this.frameOps = options.frameOps ?? frameKernelOps(pool.frameKernels());
    this.frameOps.hashFrame(pool.zeroFrame, this.hashOut);
    this.zeroHashLow = this.hashOut[0];
    this.zeroHashHigh = this.hashOut[1];
  }

  // ---- Registration ---------------------------------------------------------------------------

  /** Registers `memory` (it must use this scanner's pool); its RAM frames join the scan. */
  addMemory(memory: GuestMemory): void {
    if (memory.pool !== this.pool) throw new PageSharingError('addMemory', 'the memory uses a different frame pool');
    if (this.members.some((m) => m !== null && m.memory === memory)) {
      throw new PageSharingError('addMemory', 'the memory is already registered');
    }
    const ramFrames = memory.ramBytes / FRAME_SIZE;
    const member: Member = {
      index: this.members.length,
      memory,
      ramFrames,
      hashLow: new Uint32Array(ramFrames),
      hashHigh: new Uint32Array(ramFrames),
      hashed: new Uint8Array(ramFrames),
      mergedTo: new Int32Array(ramFrames),
      observer: {
        mappingsChanged: () => {},
        writesRevoked: () => {},
        codeFrameWritten: () => {},
        mappingReleased: (guestFrame, hostFrame, byWrite) => this.onMappingReleased(member, guestFrame, hostFrame, byWrite),
      },
    };
    this.members.push(member);
    memory.addObserver(member.observer);
  }

  /**
   * Unregisters `memory`. Its merged pages stay mapped copy-on-write (still correct: nothing can
   * write them without a COW break) but no longer count as shared here.
   */
  removeMemory(memory: GuestMemory): void {
    const index = this.members.findIndex((m) => m !== null && m.memory === memory);
    if (index < 0) throw new PageSharingError('removeMemory', 'the memory is not registered');
    const member = this.members[index]!;
    memory.removeObserver(member.observer);
    for (let frame = 0; frame < member.ramFrames; frame++) {
      const host = member.mergedTo[frame];
      if (host !== 0) this.forgetMerged(member, frame, host);
    }
    this.members[index] = null;
  }

  // ---- Scanning -------------------------------------------------------------------------------

  /**
   * One batch: hashes up to `pagesPerBatch` candidate frames (fewer when `limit` is smaller),
   * merging what it can, and stops early at the end of a pass. Returns the frames hashed.
   */
  scanStep(limit: number = this.pagesPerBatch): number {
    if (!Number.isInteger(limit) || limit < 0) {
      throw new PageSharingError('scanStep limit', `expected a non-negative integer, got ${limit}`);
    }
    const budget = Math.min(limit, this.pagesPerBatch);
    let hashed = 0;
    let visitsLeft = budget * VISITS_PER_BUDGET_FRAME;
    while (hashed < budget && visitsLeft > 0) {
      const member = this.members[this.cursorMember];
      if (member === undefined) {
        this.endPass();
        break;
      }
      if (member === null || this.cursorFrame >= member.ramFrames) {
        this.cursorMember++;
        this.cursorFrame = 0;
        continue;
      }
      visitsLeft -= this.skipUnpopulated(member, visitsLeft);
      if (visitsLeft <= 0 || this.cursorFrame >= member.ramFrames) continue;
      const frame = this.cursorFrame++;
      visitsLeft--;
      if (this.visit(member, frame)) hashed++;
    }
    return hashed;
  }

  /**
   * Moves the cursor past (at most `limit`) frames that cannot be candidates because they map
   * the zero frame or nothing — the bulk of a sparsely used RAM — in a tight loop; returns how many.
   */
  private skipUnpopulated(member: Member, limit: number): number {
    const entries = member.memory.npt.entries;
    const zeroFrame = this.pool.zeroFrame;
    const start = this.cursorFrame;
    const end = Math.min(member.ramFrames, start + limit);
    let frame = start;
    while (frame < end) {
      const entry = entries[frame];
      if ((entry & NPT_PRESENT) !== 0 && entry >>> FRAME_SHIFT !== zeroFrame) break;
      frame++;
    }
    this.cursorFrame = frame;
    return frame - start;
  }

  /**
   * Hashes up to `budgetPages` frames in batches of at most `pagesPerBatch`; returns early when
   * a whole pass finds nothing to hash. Returns the frames hashed.
   */
  scan(budgetPages: number): number {
    if (!Number.isInteger(budgetPages) || budgetPages < 0) {
      throw new PageSharingError('scan budgetPages', `expected a non-negative integer, got ${budgetPages}`);
    }
    let done = 0;
    while (done < budgetPages) {
      const passesBefore = this.passes;
      done += this.scanStep(budgetPages - done);
      if (this.passes !== passesBefore && this.lastPassHashed === 0) break;
    }
    return done;
  }

  /**
   * Scans whole passes until a pass neither merges anything nor finds a changed page (so nothing
   * is pending for the next one; at least two passes, since a page needs two visits) or
   * `maxPasses` passes ran. Returns the passes run by this call.
   */
  scanUntilConverged(maxPasses = 16): number {
    if (!Number.isInteger(maxPasses) || maxPasses < 1) {
      throw new PageSharingError('scanUntilConverged maxPasses', `expected a positive integer, got ${maxPasses}`);
    }
    const start = this.passes;
    this.finishPass();
    while (this.passes - start < maxPasses) {
      const passesBefore = this.passes;
      while (this.passes === passesBefore) this.scanStep();
      if (this.passes - start >= 2 && this.lastPassMerges === 0 && this.lastPassVolatile === 0) break;
    }
    return this.passes - start;
  }

  /** Counters at this moment (a fresh object). */
  get counters(): PageSharingCounters {
    return {
      framesScanned: this.framesScanned,
      sharedFrames: this.sharedFrames,
      sharingPages: this.sharingPages,
      zeroPages: this.zeroPages,
      savedBytes: (this.sharingPages - this.sharedFrames + this.zeroPages) * FRAME_SIZE,
      merges: this.merges,
      cowBreaks: this.cowBreaks,
      volatileSkips: this.volatileSkips,
      passes: this.passes,
    };
  }

  /** Finishes the pass in progress, if one is under way (so that a new pass starts at the first frame). */
  private finishPass(): void {
    if (this.cursorMember === 0 && this.cursorFrame === 0) return;
    const passesBefore = this.passes;
    while (this.passes === passesBefore) this.scanStep();
  }

  private endPass(): void {
    this.cursorMember = 0;
    this.cursorFrame = 0;
    this.unstable.clear();
    this.passes++;
    this.lastPassHashed = this.hashedThisPass;
    this.lastPassMerges = this.mergesThisPass;
    this.lastPassVolatile = this.volatileThisPass;
    this.hashedThisPass = 0;
    this.volatileThisPass = 0;
    this.mergesThisPass = 0;
  }

  /** Looks at one guest frame; returns whether it was hashed. */
  private visit(member: Member, frame: number): boolean {
    const host = this.privateFrameAt(member, frame);
    if (host < 0) return false;
    const ops = this.frameOps;
    ops.hashFrame(host, this.hashOut);
    const low = this.hashOut[0];
    const high = this.hashOut[1];
    this.framesScanned++;
    this.hashedThisPass++;
    if (member.hashed[frame] === 0 || member.hashLow[frame] !== low || member.hashHigh[frame] !== high) {
      member.hashLow[frame] = low;
      member.hashHigh[frame] = high;
      member.hashed[frame] = 1;
      this.volatileSkips++;
      this.volatileThisPass++;
      return true;
    }
    if (low === this.zeroHashLow && high === this.zeroHashHigh && ops.isZeroFrame(host)) {
      this.mergeInto(member, frame, this.pool.zeroFrame);
      return true;
    }
    const key = (high & KEY_HIGH_MASK) * TWO_TO_32 + low;
    if (this.mergeWithStable(member, frame, host, key)) return true;
    this.mergeWithUnstable(member, frame, host, key);
    return true;
  }

  /**
   * The host frame behind `frame` when it is a merge candidate: present memory, writable or
   * copy-on-write, not the zero frame, not merged by this scanner, reference count 1. Else -1.
   */
  private privateFrameAt(member: Member, frame: number): number {
    const entry = member.memory.npt.entries[frame];
    if ((entry & (NPT_PRESENT | NPT_MMIO)) !== NPT_PRESENT || (entry & (NPT_WRITABLE | NPT_SHARED)) === 0) return -1;
    const host = entry >>> FRAME_SHIFT;
    if (host === this.pool.zeroFrame || member.mergedTo[frame] !== 0) return -1;
    if (this.pool.refCount(host as HostFrame) !== 1) return -1;
    return host;
  }

  /** Merges into a listed stable frame with the same key and content; returns whether it did. */
  private mergeWithStable(member: Member, frame: number, host: number, key: number): boolean {
    const bucket = this.stable.get(key);
    if (bucket === undefined) return false;
    for (let i = 0; i < bucket.length; i++) {
      if (this.frameOps.framesEqual(host, bucket[i])) {
        this.mergeInto(member, frame, bucket[i]);
        return true;
      }
    }
    return false;
  }

  /**
   * Merges with a candidate seen earlier this pass with the same key and content, making its
   * frame a new stable frame; otherwise lists this frame as a candidate.
   */
  private mergeWithUnstable(member: Member, frame: number, host: number, key: number): void {
    const memberIndex = member.index;
    const bucket = this.unstable.get(key);
    if (bucket === undefined) {
      this.unstable.set(key, [memberIndex * GUEST_FRAME_RADIX + frame]);
      return;
    }
    for (let i = 0; i < bucket.length; i++) {
      const otherMember = this.members[Math.floor(bucket[i] / GUEST_FRAME_RADIX)];
      const otherFrame = bucket[i] % GUEST_FRAME_RADIX;
      const otherHost = otherMember ? this.privateFrameAt(otherMember, otherFrame) : -1;
      if (otherHost < 0 || otherHost === host) {
        bucket.splice(i--, 1); // changed hands since it was listed: no longer a candidate
        continue;
      }
      if (!this.frameOps.framesEqual(host, otherHost)) continue;
      bucket.splice(i, 1);
      this.addStable(otherHost, key);
      this.mergeInto(otherMember!, otherFrame, otherHost);
      this.mergeInto(member, frame, otherHost);
      return;
    }
    bucket.push(memberIndex * GUEST_FRAME_RADIX + frame);
  }

  /** Maps `frame` of `member` to `target` copy-on-write and records it. */
  private mergeInto(member: Member, frame: number, target: number): void {
    member.memory.mapSharedFrame(frame, target as HostFrame);
    member.mergedTo[frame] = target;
    this.merges++;
    this.mergesThisPass++;
    if (target === this.pool.zeroFrame) {
      this.zeroPages++;
      return;
    }
    this.ensureHostArrays(target);
    const count = ++this.sharers[target];
    if (count === 2) {
      this.sharedFrames++;
      this.sharingPages += 2;
    } else if (count > 2) {
      this.sharingPages++;
    }
  }

  private addStable(host: number, key: number): void {
    this.ensureHostArrays(host);
    this.stableKey[host] = key;
    const bucket = this.stable.get(key);
    if (bucket === undefined) this.stable.set(key, [host]);
    else bucket.push(host);
  }

  /** A recorded merged mapping went away: update the counters and drop an unreferenced stable frame. */
  private forgetMerged(member: Member, frame: number, host: number): void {
    member.mergedTo[frame] = 0;
    member.hashed[frame] = 0;
    if (host === this.pool.zeroFrame) {
      this.zeroPages--;
      return;
    }
    const count = --this.sharers[host];
    if (count === 1) {
      this.sharedFrames--;
      this.sharingPages -= 2;
    } else if (count > 1) {
      this.sharingPages--;
    } else {
      this.removeStable(host);
    }
  }

  private removeStable(host: number): void {
    const key = this.stableKey[host];
    const bucket = this.stable.get(key);
    if (bucket === undefined) return;
    const index = bucket.indexOf(host);
    if (index >= 0) bucket.splice(index, 1);
    if (bucket.length === 0) this.stable.delete(key);
  }

  private onMappingReleased(member: Member, guestFrame: number, hostFrame: number, byWrite: boolean): void {
    if (guestFrame >= member.ramFrames || member.mergedTo[guestFrame] !== hostFrame) return;
    this.forgetMerged(member, guestFrame, hostFrame);
    if (byWrite) this.cowBreaks++;
  }

  private ensureHostArrays(host: number): void {
    if (host < this.sharers.length) return;
    const size = Math.max(host + 1, this.pool.capacityFrames, this.sharers.length * 2);
    const sharers = new Int32Array(size);
    sharers.set(this.sharers);
    this.sharers = sharers;
    const keys = new Float64Array(size);
    keys.set(this.stableKey);
    this.stableKey = keys;
  }
}

// ---- Frame operations from the frame kernels -------------------------------------------------

/**
 * Scanner frame operations on top of the frame kernels (src/kernels/frame-kernels.ts): XXH64
 * page hash, zero test and full compare, in WASM when the pool has it, else the TS fallback.
 */
export function frameKernelOps(kernels: FrameKernels): SharingFrameOps {
  return {
    kind: kernels.kind,
    hashFrame(frame: number, out: Uint32Array): void {
      kernels.frameHashInto(frame << FRAME_SHIFT, out, 0);
    },
    isZeroFrame(frame: number): boolean {
      return kernels.isZeroFrame(frame << FRAME_SHIFT);
    },
    framesEqual(a: number, b: number): boolean {
      return kernels.compareFrames(a << FRAME_SHIFT, b << FRAME_SHIFT) === -1;
    },
  };
}

// ---- Scheduling helper ----------------------------------------------------------------------

/** Timer functions for `scheduleScanner` (defaults: the host's setTimeout/clearTimeout). */
export interface ScannerTimers {
  setTimeout(callback: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

/** A running schedule; `stop()` cancels the next batch. */
export interface ScannerSchedule {
  stop(): void;
}

/**
 * Runs `scanner.scanStep()` every `pauseMs` milliseconds (KSM's sleep_millisecs) until stopped.
 * The first batch runs after one pause. Timers are injectable for deterministic tests.
 */
export function scheduleScanner(scanner: PageSharingScanner, pauseMs: number, timers?: ScannerTimers): ScannerSchedule {
  if (!Number.isFinite(pauseMs) || pauseMs < 0) {
    throw new PageSharingError('pauseMs', `expected a non-negative number of milliseconds, got ${pauseMs}`);
  }
  const clock: ScannerTimers = timers ?? {
    setTimeout: (callback, ms) => globalThis.setTimeout(callback, ms),
    clearTimeout: (handle) => globalThis.clearTimeout(handle as ReturnType<typeof globalThis.setTimeout>),
  };
  let stopped = false;
  let handle: unknown;
  const tick = (): void => {
    if (stopped) return;
    scanner.scanStep();
    handle = clock.setTimeout(tick, pauseMs);
  };
  handle = clock.setTimeout(tick, pauseMs);
  return {
    stop(): void {
      stopped = true;
      clock.clearTimeout(handle);
    },
  };
}
