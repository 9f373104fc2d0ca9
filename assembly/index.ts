/**
 * WASM memory kernels (AssemblyScript), compiled by `npm run build:wasm` into
 * dist/wasm/kernels.{debug,release}.wasm.
 *
 * The module imports the frame pool's shared `WebAssembly.Memory` (asconfig.json: imported
 * shared memory, memoryBase 0) and works on it in place: every argument is a byte address
 * in pool memory. The kernels never allocate and keep no static data, so the module only
 * ever touches the ranges it is handed plus nothing in the pool's reserved first 64 KiB.
 *
 * Bitmaps are arrays of little-endian 32-bit words; bit `i` lives in word `i >>> 5` at bit
 * position `i & 31`. Callers (src/kernels/wasm-kernels.ts) validate offsets and lengths:
 * offsets 4-byte aligned, lengths multiples of 4, ranges inside the memory.
 */

/** Number of set bits in the `byteLength` bytes of bitmap at `byteOffset`. */
export function bitmapCount(byteOffset: usize, byteLength: usize): u32 {
  let total: u64 = 0;
  const end = byteOffset + byteLength;
  let pointer = byteOffset;
  while (pointer + 8 <= end) {
    total += popcnt<u64>(load<u64>(pointer));
    pointer += 8;
  }
  while (pointer < end) {
    total += <u64>popcnt<u32>(load<u32>(pointer));
    pointer += 4;
  }
  return <u32>total;
}

/**
 * Writes the index of every set bit of the bitmap at `bitmapOffset` (ascending, relative
 * to the bitmap start) as a u32 at `outOffset`, clears those bits, and returns how many
 * were written. Each non-zero word is cleared with an atomic exchange, so a bit set
 * concurrently by another thread is either reported now or left set for the next harvest,
 * never lost. The output area must hold up to `byteLength * 8` u32 values.
 */
export function bitmapHarvest(bitmapOffset: usize, byteLength: usize, outOffset: usize): u32 {
  let written: u32 = 0;
  const wordCount = byteLength >>> 2;
  for (let wordIndex: usize = 0; wordIndex < wordCount; wordIndex++) {
    const wordPointer = bitmapOffset + (wordIndex << 2);
    if (load<u32>(wordPointer) == 0) continue;
    let bits = atomic.xchg<u32>(wordPointer, 0);
    const firstBitIndex = <u32>(wordIndex << 5);
    while (bits != 0) {
      store<u32>(outOffset + (<usize>written << 2), firstBitIndex + ctz<u32>(bits));
      written++;
      bits &= bits - 1;
    }
  }
  return written;
}

export * from './delta';
export * from './frames';
