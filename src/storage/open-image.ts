/**
 * Open a disk image as a `BlockBackend`, choosing raw or qcow2 (given, or probed from the
 * qcow2 magic "QFI\xfb" in the first four bytes; anything else is raw), and open qcow2
 * backing chains read-only through a `FileOpener`.
 *
 * Backing chains are bounded: at most MAX_BACKING_DEPTH images below the top one, and the
 * same file (by the opener's name, a real path under Node) may not appear twice, so a
 * loop in the chain is refused instead of recursing forever.
 */
import { BlockBackend, FileOpener, RandomAccessFile, StorageError } from './block-backend.js';
import { nodeFileOpener, openNodeFile } from './node-file.js';
import { QCOW2_MAGIC } from './qcow2/format.js';
import { Qcow2Image } from './qcow2/qcow2-image.js';
import { RawImage } from './raw.js';

/** Image formats we read and write. */
export type ImageFormat = 'raw' | 'qcow2';

/** Deepest backing chain accepted (images below the top one). */
export const MAX_BACKING_DEPTH = 16;

/** Options for `openImage`. */
export interface OpenImageOptions {
  /** Open without write access (default false). Backing files are always read-only. */
  readonly readOnly?: boolean;
  /** Image format; 'auto' (the default) probes the qcow2 magic. */
  readonly format?: ImageFormat | 'auto';
}

/** Options for `openImageFile`. */
export interface OpenImageFileOptions {
  readonly format?: ImageFormat | 'auto';
  /** Opens backing files (default: Node files relative to the image's directory). */
  readonly opener?: FileOpener;
}

/** Open the image at `path` (a host file) with its backing chain. */
export function openImage(path: string, options: OpenImageOptions = {}): BlockBackend {
  const file = openNodeFile(path, options.readOnly ?? false);
  return openImageFile(file, { format: options.format, opener: nodeFileOpener });
}

/** Open an image held in an already opened file; the file is closed on failure and with the image. */
export function openImageFile(file: RandomAccessFile, options: OpenImageFileOptions = {}): BlockBackend {
  return openInChain(file, options.format ?? 'auto', options.opener ?? nodeFileOpener, [file.name]);
}

/** 'qcow2' when the file starts with the qcow2 magic, else 'raw'. */
export function probeFormat(file: RandomAccessFile): ImageFormat {
  const magic = new Uint8Array(4);
  file.read(0, magic);
  const value = ((magic[0] << 24) | (magic[1] << 16) | (magic[2] << 8) | magic[3]) >>> 0;
  return value === QCOW2_MAGIC ? 'qcow2' : 'raw';
}

/** Open `file` as `format`; `chain` holds the names of this image and every image above it. */
function openInChain(file: RandomAccessFile, format: ImageFormat | 'auto', opener: FileOpener, chain: readonly string[]): BlockBackend {
  try {
    const resolved = format === 'auto' ? probeFormat(file) : format;
    if (resolved === 'raw') return new RawImage(file);
    return Qcow2Image.open(file, {
      openBacking: (name, backingFormat, referrer) => openBacking(name, backingFormat, referrer, opener, chain),
    });
  } catch (e) {
    file.close();
    throw e;
  }
}

/** Open one backing image read-only, refusing loops and over-deep chains. */
function openBacking(name: string, format: string | undefined, referrer: RandomAccessFile, opener: FileOpener, chain: readonly string[]): BlockBackend {
  if (chain.length > MAX_BACKING_DEPTH) {
    throw new StorageError(referrer.name, `backing chain is deeper than ${MAX_BACKING_DEPTH} images`);
  }
  const checkedFormat = backingFormat(referrer, format);
  const file = opener(name, referrer, true);
  if (chain.includes(file.name)) {
    file.close();
    throw new StorageError(referrer.name, `backing file "${name}" (${file.name}) is already in the backing chain: loop refused`);
  }
  return openInChain(file, checkedFormat, opener, [...chain, file.name]);
}

/** Map a header's backing format string to a format we open (or 'auto' when absent). */
function backingFormat(referrer: RandomAccessFile, format: string | undefined): ImageFormat | 'auto' {
  if (format === undefined) return 'auto';
  if (format === 'raw' || format === 'qcow2') return format;
  throw new StorageError(referrer.name, `backing format "${format}" is not supported (raw or qcow2)`);
}
