/**
 * gzip compression of an initramfs archive (RFC 1952 container around DEFLATE, RFC 1951),
 * behind a one-function interface: Node uses node:zlib here; a browser build can supply
 * a `GzipFunction` built on CompressionStream('gzip') instead, without importing this
 * module.
 *
 * Output is made reproducible: zlib already writes MTIME 0 and no file name; the header's
 * OS byte (offset 9), which zlib sets from the build platform, is forced to 255
 * ("unknown") so that the same input gives the same bytes on every host with the same
 * zlib. The Linux decompressor ignores MTIME and OS.
 */
import { gunzipSync, gzipSync } from 'node:zlib';

/** Compresses bytes into a gzip member; may be asynchronous (CompressionStream is). */
export type GzipFunction = (data: Uint8Array) => Uint8Array | Promise<Uint8Array>;

/** Offset of the OS field in the gzip header (RFC 1952 section 2.3). */
export const GZIP_OS_OFFSET = 9;
/** OS value "unknown" (RFC 1952 section 2.3.1). */
export const GZIP_OS_UNKNOWN = 255;

/** gzip at level 9 with node:zlib; the OS byte is set to "unknown" for reproducibility. */
export const gzipNode: GzipFunction = (data: Uint8Array): Uint8Array => {
  const packed = new Uint8Array(gzipSync(data, { level: 9 }));
  packed[GZIP_OS_OFFSET] = GZIP_OS_UNKNOWN;
  return packed;
};

/** Decompress a gzip member with node:zlib (for tests and checks of what we wrote). */
export function gunzipNode(data: Uint8Array): Uint8Array {
  return new Uint8Array(gunzipSync(data));
}
