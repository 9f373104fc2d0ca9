/**
 * Loader and typed bindings for the WASM kernels built from assembly/index.ts
 * (`npm run build:wasm` → dist/wasm/kernels.release.wasm).
 *
 * The module imports the frame pool's shared memory as `env.memory`, so it can only be
 * instantiated over a shared pool. Loading is synchronous so that a dirty bitmap can be
 * built in a constructor: in Node the file is read with fs and compiled with
 * `new WebAssembly.Module`; elsewhere the caller passes the bytes.
 */

import { checkHarvestRegions, checkWordRegion, type BitmapKernels, type KernelMemory } from './bitmap-kernels.js';
import { wasmDeltaKernels, type DeltaExports, type DeltaKernels } from './delta-kernels.js';
import { wasmFrameKernels, type FrameKernelExports, type FrameKernels } from './frame-kernels.js';

/** WebAssembly pages (64 KiB) the module's memory import requires (asconfig.json "initialMemory"). */
const KERNEL_MIN_PAGES = 16;
const FRAMES_PER_WASM_PAGE = 16;

/** Thrown when the kernel module exists but cannot be compiled or linked; names the file. */
export class KernelLoadError extends Error {
  constructor(source: string, cause: unknown) {
    super(`WASM kernels from ${source} failed to load: ${cause instanceof Error ? cause.message : String(cause)}`);
    this.name = 'KernelLoadError';
  }
}

/** The raw exports of the kernel module. */
interface KernelExports extends DeltaExports, FrameKernelExports {
  bitmapCount(byteOffset: number, byteLength: number): number;
  bitmapHarvest(bitmapOffset: number, byteLength: number, outOffset: number): number;
}

/** Where the release module lives relative to this file, from src/ (vitest) and from dist/src/ (built). */
const RELEASE_WASM_CANDIDATES = ['../../dist/wasm/kernels.release.wasm', '../../wasm/kernels.release.wasm'];

type FsModule = { existsSync(path: URL): boolean; readFileSync(path: URL): Uint8Array<ArrayBuffer> };

/** Reads the release module with Node's fs, or returns null when not in Node or not built. */
export function readReleaseWasm(): { bytes: Uint8Array<ArrayBuffer>; source: string } | null {
  const nodeProcess = (globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } }).process;
  const fs = nodeProcess?.getBuiltinModule?.('node:fs') as FsModule | undefined;
  if (fs === undefined) return null;
  for (const candidate of RELEASE_WASM_CANDIDATES) {
    const url = new URL(candidate, import.meta.url);
    if (fs.existsSync(url)) return { bytes: fs.readFileSync(url), source: url.pathname };
  }
  return null;
}

/**
 * Instantiates the WASM kernels over `target.memory`. Returns null when they cannot be
 * used here: WebAssembly missing, the pool not shared, the pool too small for the module's
 * memory import, or (without `wasmBytes`) the module not found. Throws KernelLoadError when
 * the module is found but is broken.
 */
export function loadKernels(target: KernelMemory, wasmBytes?: Uint8Array<ArrayBuffer>): BitmapKernels | null {
  const exports = kernelExports(target, wasmBytes);
  return exports === null ? null : wasmBitmapKernels(target, exports);
}

/**
 * The XOR-delta kernels (assembly/delta.ts) of the module instance `loadKernels` uses for the
 * same memory and bytes; null in the same cases as `loadKernels`.
 */
export function loadDeltaKernels(target: KernelMemory, wasmBytes?: Uint8Array<ArrayBuffer>): DeltaKernels | null {
  const exports = kernelExports(target, wasmBytes);
  return exports === null ? null : wasmDeltaKernels(target, exports);
}

/**
 * The frame kernels (assembly/frames.ts: page hash, zero test, compare, copy, batches, plain
 * harvest) of the module instance `loadKernels` uses for the same memory and bytes, with that
 * instance's bitmap kernels; null in the same cases as `loadKernels`.
 */
export function loadFrameKernels(target: KernelMemory, wasmBytes?: Uint8Array<ArrayBuffer>): FrameKernels | null {
  const exports = kernelExports(target, wasmBytes);
  return exports === null ? null : wasmFrameKernels(target, exports, wasmBitmapKernels(target, exports));
}

/** Instances of the release module per pool memory (modules from supplied bytes are not cached). */
const instancesByMemory = new WeakMap<WebAssembly.Memory, KernelExports>();

/** Instantiates (or reuses) the kernel module over `target.memory`; null when it cannot be used here. */
function kernelExports(target: KernelMemory, wasmBytes?: Uint8Array<ArrayBuffer>): KernelExports | null {
  if (typeof WebAssembly === 'undefined' || !target.shared) return null;
  if (wasmBytes === undefined) {
    const cached = instancesByMemory.get(target.memory);
    if (cached !== undefined) return cached;
  }
  if (target.maxFrames < KERNEL_MIN_PAGES * FRAMES_PER_WASM_PAGE) return null;
  const found = wasmBytes === undefined ? readReleaseWasm() : { bytes: wasmBytes, source: '(supplied bytes)' };
  if (found === null) return null;
  target.ensureCapacity(KERNEL_MIN_PAGES * FRAMES_PER_WASM_PAGE);
  let exports: KernelExports;
  try {
    const module = new WebAssembly.Module(found.bytes);
    const instance = new WebAssembly.Instance(module, { env: { memory: target.memory } });
    exports = instance.exports as unknown as KernelExports;
  } catch (error) {
    throw new KernelLoadError(found.source, error);
  }
  if (wasmBytes === undefined) instancesByMemory.set(target.memory, exports);
  return exports;
}

/** Wraps the raw exports with argument checks (the module itself runs without bounds asserts). */
function wasmBitmapKernels(target: KernelMemory, exports: KernelExports): BitmapKernels {
  return {
    kind: 'wasm',
    bitmapCount(byteOffset: number, byteLength: number): number {
      checkWordRegion('bitmapCount', 'byteOffset', byteOffset, byteLength, target.memory.buffer.byteLength);
      return exports.bitmapCount(byteOffset, byteLength) >>> 0;
    },
    bitmapHarvest(bitmapOffset: number, byteLength: number, outOffset: number): number {
      checkHarvestRegions(bitmapOffset, byteLength, outOffset, target.memory.buffer.byteLength);
      return exports.bitmapHarvest(bitmapOffset, byteLength, outOffset) >>> 0;
    },
  };
}
