/**
 * Frame pool: the host's physical memory (DESIGN.md, "Memory: the heart of every seed").
 *
 * One `WebAssembly.Memory`, shared when the host can share, cut into 4 KiB host frames with
 * reference counts. Every VM's guest-physical memory is a set of these frames reached through
 * its nested page table; the WASM kernels work on the same memory in place and TypeScript sees
 * it through the whole-pool views `bytes` and `view`, which are replaced whenever the memory
 * grows (listeners registered with `onGrow` are told synchronously).
 *
 * Free frames are kept zero: a frame is zero-filled when its reference count drops to zero
 * (and frames added by growing the memory are zero already), so `allocate()` hands out a
 * zeroed frame without touching it and a copy-on-write break can copy straight over it.
 */

import { loadFrameKernels, loadKernels, tsBitmapKernels, tsFrameKernels, type BitmapKernels, type FrameKernels } from '../kernels/index.js';

/** log2 of the frame size. */
export const FRAME_SHIFT = 12;
/** Size in bytes of one host or guest frame. */
export const FRAME_SIZE = 4096;

/** Number of a 4 KiB frame in the pool's memory. Its byte address is `frame << FRAME_SHIFT`. */
export type HostFrame = number & { readonly __hostFrame: true };
/** Number of a 4 KiB frame in a guest's physical address space. */
export type GuestFrame = number & { readonly __guestFrame: true };

/** Frames per 64 KiB WebAssembly page. */
const FRAMES_PER_WASM_PAGE = 16;
/** Default limit: 262144 frames = 1 GiB. */
const DEFAULT_MAX_FRAMES = 262144;
/**
 * Hard ceiling: 524287 frames, just under 2 GiB. Keeping every pool byte address below 2^31
 * means host addresses, `hostFrame << 12` (the frame field of an NPT entry) and
 * `(hostFrame << 12) | offset` are all positive int32 values: they fit Int32Array soft-TLB
 * entries and `| 0` arithmetic without turning negative, so -1 can mean "no mapping".
 */
const MAX_FRAMES_CEILING = 524287;
/** Default initial size: 256 frames = 1 MiB, the 16 WebAssembly pages the kernels import. */
const DEFAULT_INITIAL_FRAMES = 256;
/** Frames never handed out: frame 0 (the "no mapping" sentinel) and the kernels' 64 KiB. */
const RESERVED_FRAMES = 16;

/** Thrown when an allocation would exceed `maxFrames`. */
export class FramePoolLimitError extends Error {
  constructor(requestedFrames: number, framesInUse: number, maxFrames: number) {
    super(
      `frame pool limit reached: requested ${requestedFrames} frame(s) (${requestedFrames * FRAME_SIZE} bytes) ` +
        `with ${framesInUse} in use, limit maxFrames=${maxFrames} (${maxFrames * FRAME_SIZE} bytes)`,
    );
    this.name = 'FramePoolLimitError';
  }
}

/** Thrown for invalid constructor options; the message names the option. */
export class FramePoolOptionError extends Error {
  constructor(option: string, problem: string) {
    super(`FramePool option '${option}': ${problem}`);
    this.name = 'FramePoolOptionError';
  }
}

/** Thrown for a reference-count misuse (release of a free frame, a reserved frame, ...); names the frame. */
export class FrameRefCountError extends Error {
  constructor(frame: number, problem: string) {
    super(`host frame ${frame}: ${problem}`);
    this.name = 'FrameRefCountError';
  }
}

/** Options for `new FramePool()`. */
export interface FramePoolOptions {
  /** Frames backed at construction (rounded up to whole 64 KiB pages; default 256). */
  initialFrames?: number;
  /** Upper limit on frames (default 262144 = 1 GiB, at most 524287). */
  maxFrames?: number;
  /** Use a shared WebAssembly.Memory (default: when SharedArrayBuffer is usable). */
  shared?: boolean;
}

/** Whether this host can use shared memory: SharedArrayBuffer exists and, in a browser, the page is crossOriginIsolated. */
function hostCanShare(): boolean {
  if (typeof SharedArrayBuffer === 'undefined') return false;
  const isolated = (globalThis as { crossOriginIsolated?: boolean }).crossOriginIsolated;
  return isolated !== false;
}

function checkFrameCountOption(option: string, value: number, min: number, max: number): void {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new FramePoolOptionError(option, `expected an integer in [${min}, ${max}], got ${value}`);
  }
}

function pagesFor(frames: number): number {
  return Math.ceil(frames / FRAMES_PER_WASM_PAGE);
}

/** The host's pool of reference-counted 4 KiB frames inside one WebAssembly.Memory. */
export class FramePool {
  /** The memory all frames live in (imported by the WASM kernels). */
  readonly memory: WebAssembly.Memory;
  /** Whether `memory` is a shared memory (SharedArrayBuffer-backed). */
  readonly shared: boolean;
  /** Upper limit on frames this pool may back. */
  readonly maxFrames: number;
  /**
   * Frames [0, reservedFrames) are never handed out: frame 0 is a permanent sentinel so that a
   * host byte address 0 can mean "no mapping" in TLBs; the first 64 KiB hold the WASM kernels'
   * static data.
   */
  readonly reservedFrames: number = RESERVED_FRAMES;
  /** A frame that is always all zeros, mapped copy-on-write for unpopulated guest memory. The pool holds one reference forever. */
  readonly zeroFrame: HostFrame;
  /** Byte view of the whole pool. Replaced whenever the pool grows. */
  bytes: Uint8Array;
  /** DataView of the whole pool. Replaced whenever the pool grows. */
  view: DataView;
  /** Incremented every time the memory grows (and the views are replaced). */
  generation = 0;

  private capacity: number;
  private inUse = 0;
  private refCounts: Uint32Array;
  /** Stack of free frame numbers; `freeSlot[frame]` is the frame's index in it, or -1. */
  private freeStack: Int32Array;
  private freeSlot: Int32Array;
  private freeCount = 0;
  private readonly growListeners = new Set<() => void>();
  private kernels: BitmapKernels | undefined;
  private frameKernelSet: FrameKernels | undefined;

  /** Creates a pool; see `FramePoolOptions` for the defaults. */
  constructor(options: FramePoolOptions = {}) {
    const maxFrames = options.maxFrames ?? DEFAULT_MAX_FRAMES;
    checkFrameCountOption('maxFrames', maxFrames, RESERVED_FRAMES + 1, MAX_FRAMES_CEILING);
    const initialFrames = options.initialFrames ?? Math.min(DEFAULT_INITIAL_FRAMES, maxFrames);
    checkFrameCountOption('initialFrames', initialFrames, 0, maxFrames);
    const shared = options.shared ?? hostCanShare();
    if (shared && typeof SharedArrayBuffer === 'undefined') {
      throw new FramePoolOptionError('shared', 'SharedArrayBuffer is not available on this host');
    }
    this.maxFrames = maxFrames;
    this.shared = shared;
    const initialPages = pagesFor(Math.max(initialFrames, RESERVED_FRAMES + 1));
    this.memory = new WebAssembly.Memory({ initial: initialPages, maximum: pagesFor(maxFrames), shared });
    this.capacity = Math.min(initialPages * FRAMES_PER_WASM_PAGE, maxFrames);
    this.bytes = new Uint8Array(this.memory.buffer);
    this.view = new DataView(this.memory.buffer);
    this.refCounts = new Uint32Array(this.capacity);
    this.freeStack = new Int32Array(this.capacity);
    this.freeSlot = new Int32Array(this.capacity).fill(-1);
    this.pushFreeFrames(RESERVED_FRAMES, this.capacity);
    this.zeroFrame = this.allocate();
  }

  /** Frames currently handed out (reference count > 0), the zero frame included. */
  get framesInUse(): number {
    return this.inUse;
  }

  /** Frames currently backed by the memory (reserved frames included). */
  get capacityFrames(): number {
    return this.capacity;
  }

  /** Registers `listener`, called synchronously after every grow (views already replaced). Returns an unsubscribe function. */
  onGrow(listener: () => void): () => void {
    this.growListeners.add(listener);
    return () => {
      this.growListeners.delete(listener);
    };
  }

  /** Hands out one zero-filled frame with reference count 1, growing the memory if needed. */
  allocate(): HostFrame {
    if (this.freeCount === 0) this.growFor(1);
    const frame = this.freeStack[this.freeCount - 1];
    this.takeFreeFrame(frame);
    return frame as HostFrame;
  }

  /** Hands out `count` contiguous zero-filled frames (each with reference count 1) and returns the first. */
  allocateContiguous(count: number): HostFrame {
    if (!Number.isInteger(count) || count < 1) {
      throw new RangeError(`allocateContiguous: count must be a positive integer, got ${count}`);
    }
    let first = this.findFreeRun(count);
    if (first < 0) {
      this.growFor(count);
      first = this.findFreeRun(count);
      if (first < 0) throw new FramePoolLimitError(count, this.inUse, this.maxFrames);
    }
    for (let frame = first; frame < first + count; frame++) this.takeFreeFrame(frame);
    return first as HostFrame;
  }

  /** Adds `count` (default 1) references to an allocated frame. */
  retain(frame: HostFrame, count = 1): void {
    this.checkAllocated(frame, 'retain');
    this.refCounts[frame] += count;
  }

  /** Drops one reference; at zero the frame is zero-filled and returns to the free list. The zero frame never drops its pool reference. */
  release(frame: HostFrame): void {
    this.checkAllocated(frame, 'release');
    if (frame === this.zeroFrame && this.refCounts[frame] === 1) {
      throw new FrameRefCountError(frame, 'release would free the pool zero frame (more releases than retains)');
    }
    const remaining = this.refCounts[frame] - 1;
    this.refCounts[frame] = remaining;
    if (remaining === 0) this.freeFrame(frame);
  }

  /** Current reference count of `frame` (0 when free). */
  refCount(frame: HostFrame): number {
    if (!Number.isInteger(frame) || frame < 0 || frame >= this.capacity) return 0;
    return this.refCounts[frame];
  }

  /** Grows the memory (if allowed) until at least `frames` frames are backed. */
  ensureCapacity(frames: number): void {
    if (frames > this.maxFrames) throw new FramePoolLimitError(frames - this.capacity, this.inUse, this.maxFrames);
    if (frames > this.capacity) this.growTo(frames);
  }

  /**
   * The bitmap kernels for this pool: WASM when the pool is shared and the compiled module
   * is available, the pure-TS fallback otherwise. Loaded once per pool.
   */
  bitmapKernels(): BitmapKernels {
    if (this.kernels === undefined) this.kernels = loadKernels(this) ?? tsBitmapKernels(this);
    return this.kernels;
  }

  /**
   * The frame kernels for this pool (page hash, zero test, compare, copy, their batches, plain
   * harvest): WASM under the same conditions as `bitmapKernels()`, else the pure-TS fallback.
   * Loaded once per pool; shares the module instance with `bitmapKernels()`.
   */
  frameKernels(): FrameKernels {
    if (this.frameKernelSet === undefined) this.frameKernelSet = loadFrameKernels(this) ?? tsFrameKernels(this, this.bitmapKernels());
    return this.frameKernelSet;
  }

  private checkAllocated(frame: number, operation: string): void {
    if (!Number.isInteger(frame) || frame < RESERVED_FRAMES || frame >= this.capacity) {
      throw new FrameRefCountError(frame, `${operation}: not an allocatable frame (valid: ${RESERVED_FRAMES}..${this.capacity - 1})`);
    }
    if (this.refCounts[frame] === 0) throw new FrameRefCountError(frame, `${operation}: frame is free`);
  }

  private takeFreeFrame(frame: number): void {
    const slot = this.freeSlot[frame];
    const lastFrame = this.freeStack[this.freeCount - 1];
    this.freeStack[slot] = lastFrame;
    this.freeSlot[lastFrame] = slot;
    this.freeCount--;
    this.freeSlot[frame] = -1;
    this.refCounts[frame] = 1;
    this.inUse++;
  }

  private freeFrame(frame: number): void {
    const start = frame << FRAME_SHIFT;
    this.bytes.fill(0, start, start + FRAME_SIZE);
    this.freeStack[this.freeCount] = frame;
    this.freeSlot[frame] = this.freeCount;
    this.freeCount++;
    this.inUse--;
  }

  /** Pushes [start, end) so that the lowest frame is popped first. */
  private pushFreeFrames(start: number, end: number): void {
    for (let frame = end - 1; frame >= start; frame--) {
      this.freeStack[this.freeCount] = frame;
      this.freeSlot[frame] = this.freeCount;
      this.freeCount++;
    }
  }

  /** Lowest frame starting a run of `count` free frames, or -1. */
  private findFreeRun(count: number): number {
    let runStart = RESERVED_FRAMES;
    for (let frame = RESERVED_FRAMES; frame < this.capacity; frame++) {
      if (this.refCounts[frame] !== 0) {
        runStart = frame + 1;
      } else if (frame - runStart + 1 === count) {
        return runStart;
      }
    }
    return -1;
  }

  /** Grows so that at least `extraFrames` more frames are backed: doubles, capped at maxFrames. */
  private growFor(extraFrames: number): void {
    const needed = this.capacity + extraFrames;
    if (needed > this.maxFrames) throw new FramePoolLimitError(extraFrames, this.inUse, this.maxFrames);
    this.growTo(Math.min(this.maxFrames, Math.max(needed, this.capacity * 2)));
  }

  private growTo(frames: number): void {
    const oldCapacity = this.capacity;
    const currentPages = this.memory.buffer.byteLength / (FRAMES_PER_WASM_PAGE * FRAME_SIZE);
    const targetPages = pagesFor(frames);
    if (targetPages > currentPages) this.memory.grow(targetPages - currentPages);
    this.capacity = Math.min(targetPages * FRAMES_PER_WASM_PAGE, this.maxFrames);
    this.refCounts = resizedCopy(this.refCounts, new Uint32Array(this.capacity));
    this.freeStack = resizedCopy(this.freeStack, new Int32Array(this.capacity));
    this.freeSlot = resizedCopy(this.freeSlot, new Int32Array(this.capacity).fill(-1));
    this.pushFreeFrames(oldCapacity, this.capacity);
    this.bytes = new Uint8Array(this.memory.buffer);
    this.view = new DataView(this.memory.buffer);
    this.generation++;
    for (const listener of [...this.growListeners]) listener();
  }
}

function resizedCopy<T extends Uint32Array | Int32Array>(from: T, to: T): T {
  to.set(from);
  return to;
}

/** Byte address in pool memory of the first byte of `frame`. */
export function hostAddressOf(frame: HostFrame | number): number {
  return frame << FRAME_SHIFT;
}
