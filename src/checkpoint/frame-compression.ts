/**
 * Frame compression for snapshot files, behind one small interface so the host supplies it:
 * Node's zlib here (raw DEFLATE, RFC 1951, synchronous), a browser build another raw-DEFLATE
 * implementation. The snapshot format stores raw DEFLATE as encoding 3
 * (src/checkpoint/snapshot-format.md); whatever implements this interface must read and write
 * exactly that.
 */

/** Compresses and decompresses single 4 KiB frames with raw DEFLATE. Synchronous by design: a lazy restore decompresses inside a page-fault handler. */
export interface FrameCompressor {
  /** What it is, for messages (`node:zlib deflateRaw level 1`). */
  readonly name: string;
  /** Raw-DEFLATE form of `frame`; the caller keeps it only when it is smaller. The result may be a view the next call overwrites. */
  compress(frame: Uint8Array): Uint8Array;
  /** Inflates `stored` into `dst`, which it must fill exactly (`dst.length` bytes); throws on any other outcome. */
  decompress(stored: Uint8Array, dst: Uint8Array): void;
}

type ZlibModule = {
  deflateRawSync(data: Uint8Array, options: { level: number }): Uint8Array;
  inflateRawSync(data: Uint8Array, options: { maxOutputLength: number }): Uint8Array;
};

/** Node's zlib, or null outside Node. */
function nodeZlib(): ZlibModule | null {
  const nodeProcess = (globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } }).process;
  return (nodeProcess?.getBuiltinModule?.('node:zlib') as ZlibModule | undefined) ?? null;
}

/** Raw DEFLATE through node:zlib at `level` (1 fastest .. 9 smallest); null when not running in Node. */
export function nodeDeflateCompressor(level = 1): FrameCompressor | null {
  const zlib = nodeZlib();
  if (zlib === null) return null;
  if (!Number.isInteger(level) || level < 0 || level > 9) throw new RangeError(`deflate level must be an integer in [0, 9], got ${level}`);
  return {
    name: `node:zlib deflateRaw level ${level}`,
    compress: (frame) => zlib.deflateRawSync(frame, { level }),
    decompress(stored, dst) {
      // Allow one byte more than the frame so that an over-long stream is seen as such.
      const out = zlib.inflateRawSync(stored, { maxOutputLength: dst.length + 1 });
      if (out.length !== dst.length) throw new Error(`inflated to ${out.length} bytes, expected ${dst.length}`);
      dst.set(out);
    },
  };
}

/** The compressor used when none is given: node:zlib level 1 in Node, none elsewhere. */
export function defaultFrameCompressor(): FrameCompressor | null {
  return nodeDeflateCompressor(1);
}
