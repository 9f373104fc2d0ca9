/**
 * Kernels: typed bindings to the WASM kernels in assembly/ and their pure-TS fallbacks.
 */

export {
  type BitmapKernels,
  type KernelMemory,
  KernelArgumentError,
  tsBitmapKernels,
  popCount32,
} from './bitmap-kernels.js';
export { loadKernels, loadDeltaKernels, loadFrameKernels, readReleaseWasm, KernelLoadError } from './wasm-kernels.js';
export { type FrameKernels, FRAME_BYTES, tsFrameKernels, checkFrameAddress } from './frame-kernels.js';
export {
  type DeltaKernels,
  DeltaFormatError,
  DeltaProblemCode,
  tsDeltaKernels,
  DELTA_FRAME_BYTES,
  DELTA_MAX_BYTES,
  DELTA_MAX_XOR_BYTES,
  DELTA_KIND_RAW,
  DELTA_KIND_XOR,
} from './delta-kernels.js';
