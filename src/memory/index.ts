/**
 * Memory layer: frame pool, nested page tables, dirty bitmaps and the guest-physical memory
 * view (DESIGN.md, "Memory: the heart of every seed").
 */

export {
  FRAME_SHIFT,
  FRAME_SIZE,
  type HostFrame,
  type GuestFrame,
  type FramePoolOptions,
  FramePool,
  FramePoolLimitError,
  FramePoolOptionError,
  FrameRefCountError,
  hostAddressOf,
} from './frame-pool.js';
export {
  NPT_PRESENT,
  NPT_WRITABLE,
  NPT_ACCESSED,
  NPT_DIRTY,
  NPT_SHARED,
  NPT_MMIO,
  NPT_CODE,
  NPT_FLAGS_MASK,
  NPT_FULL_FRAME_COUNT,
  NestedPageTable,
  NptRangeError,
} from './npt.js';
export { DirtyBitmap, DirtyBitmapError } from './dirty-bitmap.js';
export {
  type MmioHandler,
  type MemoryObserver,
  NO_HOST_ADDRESS,
  MAX_RAM_BYTES,
  GuestMemory,
  GuestMemoryRangeError,
  isAllZero,
  MemoryOverlapError,
} from './guest-memory.js';
export {
  type SharingFrameOps,
  type PageSharingOptions,
  type PageSharingCounters,
  type ScannerTimers,
  type ScannerSchedule,
  PageSharingScanner,
  PageSharingError,
  frameKernelOps,
  scheduleScanner,
} from './page-sharing.js';
