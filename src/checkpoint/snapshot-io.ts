/**
 * Where snapshot bytes go and come from: a sink the writer appends to and a random-access
 * source the reader reads from, each in two forms — an in-memory buffer (any host) and a file
 * through node:fs (Node only; reached through `process.getBuiltinModule` so this module loads in
 * a browser too). A file sink writes `<path>.partial` and renames it over `path` only when
 * closed, so an interrupted save never leaves a file that looks whole; a file source opens the
 * file read-only.
 */

import { SnapshotError } from './snapshot-format.js';

/** Receives a snapshot's bytes in order. */
export interface SnapshotSink {
  /** Name for messages (a path, or `(buffer)`). */
  readonly name: string;
  /** Appends `bytes`; the sink may not keep a reference to them after returning. */
  write(bytes: Uint8Array): void;
}

/** Random-access reads of a snapshot's bytes. */
export interface SnapshotSource {
  /** Name for messages (a path, or `(buffer)`). */
  readonly name: string;
  /** Total bytes. */
  readonly size: number;
  /** Copies bytes starting at `position` into `dst`; returns how many (fewer only at the end). */
  readAt(position: number, dst: Uint8Array): number;
}

/** An in-memory sink; `bytes()` returns everything written so far as one array. */
export interface BufferSink extends SnapshotSink {
  /** The bytes written so far (a copy). */
  bytes(): Uint8Array;
  /** Bytes written so far. */
  readonly length: number;
}

/** A sink that collects the snapshot in memory. */
export function bufferSink(name = '(buffer)'): BufferSink {
  let store = new Uint8Array(1 << 16);
  let length = 0;
  return {
    name,
    get length() {
      return length;
    },
    write(bytes) {
      if (length + bytes.length > store.length) {
        let size = store.length * 2;
        while (size < length + bytes.length) size *= 2;
        const grown = new Uint8Array(size);
        grown.set(store.subarray(0, length));
        store = grown;
      }
      store.set(bytes, length);
      length += bytes.length;
    },
    bytes: () => store.slice(0, length),
  };
}

/** A source over bytes in memory. */
export function bufferSource(bytes: Uint8Array, name = '(buffer)'): SnapshotSource {
  return {
    name,
    size: bytes.length,
    readAt(position, dst) {
      const n = Math.max(0, Math.min(dst.length, bytes.length - position));
      dst.set(bytes.subarray(position, position + n));
      return n;
    },
  };
}

type FsModule = {
  openSync(path: string, flags: string): number;
  closeSync(fd: number): void;
  fstatSync(fd: number): { size: number };
  readSync(fd: number, buffer: Uint8Array, offset: number, length: number, position: number): number;
  writeSync(fd: number, buffer: Uint8Array, offset: number, length: number): number;
  fsyncSync(fd: number): void;
  renameSync(from: string, to: string): void;
  rmSync(path: string, options: { force: boolean }): void;
};

/** node:fs, or a SnapshotError naming `file` outside Node. */
function nodeFs(file: string): FsModule {
  const nodeProcess = (globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } }).process;
  const fs = nodeProcess?.getBuiltinModule?.('node:fs') as FsModule | undefined;
  if (fs === undefined) throw new SnapshotError(file, 'file', -1, 'file access needs Node (node:fs)');
  return fs;
}

/** Describes an fs error in one line. */
function reason(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** A file sink: call `close()` to publish the file, `abort()` to drop it. */
export interface FileSink extends SnapshotSink {
  /** Flushes, closes and renames `<path>.partial` to `path`. */
  close(): void;
  /** Closes and deletes `<path>.partial`; `path` is left as it was. */
  abort(): void;
}

/** Opens `<path>.partial` for writing (replacing a stale one). */
export function fileSink(path: string): FileSink {
  const fs = nodeFs(path);
  const partial = `${path}.partial`;
  let fd: number;
  try {
    fd = fs.openSync(partial, 'w');
  } catch (e) {
    throw new SnapshotError(path, 'file', -1, `cannot create ${partial}: ${reason(e)}`);
  }
  let open = true;
  let written = 0;
  const closeFd = (): void => {
    if (open) {
      open = false;
      fs.closeSync(fd);
    }
  };
  return {
    name: path,
    write(bytes) {
      if (!open) throw new SnapshotError(path, 'file', written, 'write after close');
      try {
        for (let done = 0; done < bytes.length;) done += fs.writeSync(fd, bytes, done, bytes.length - done);
      } catch (e) {
        throw new SnapshotError(path, 'file', written, `write failed: ${reason(e)}`);
      }
      written += bytes.length;
    },
    close() {
      if (!open) throw new SnapshotError(path, 'file', written, 'already closed');
      try {
        fs.fsyncSync(fd);
        closeFd();
        fs.renameSync(partial, path);
      } catch (e) {
        closeFd();
        throw new SnapshotError(path, 'file', written, `cannot publish the file: ${reason(e)}`);
      }
    },
    abort() {
      closeFd();
      fs.rmSync(partial, { force: true });
    },
  };
}

/** A read-only file source; `close()` releases the descriptor. */
export interface FileSource extends SnapshotSource {
  /** Closes the file. */
  close(): void;
}

/** Opens `path` read-only as a snapshot source. */
export function fileSource(path: string): FileSource {
  const fs = nodeFs(path);
  let fd: number;
  let size: number;
  try {
    fd = fs.openSync(path, 'r');
    size = fs.fstatSync(fd).size;
  } catch (e) {
    throw new SnapshotError(path, 'file', -1, `cannot open: ${reason(e)}`);
  }
  return {
    name: path,
    size,
    readAt(position, dst) {
      let done = 0;
      try {
        while (done < dst.length) {
          const n = fs.readSync(fd, dst, done, dst.length - done, position + done);
          if (n === 0) break;
          done += n;
        }
      } catch (e) {
        throw new SnapshotError(path, 'file', position, `read failed: ${reason(e)}`);
      }
      return done;
    },
    close: () => fs.closeSync(fd),
  };
}
