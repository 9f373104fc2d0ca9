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
export { loadKernels, readReleaseWasm, KernelLoadError } from './wasm-kernels.js';
