/**
 * Host files for the storage backends under Node: `NodeFile` implements `RandomAccessFile`
 * on a file descriptor with node:fs's synchronous calls (the virtio-blk device completes a
 * request inside one guest instruction, so every storage call is synchronous). Reads past
 * the end of the file yield zeros, as the `RandomAccessFile` contract asks.
 *
 * `nodeFileOpener` is the `FileOpener` used for qcow2 backing files: a relative backing
 * name is resolved against the directory of the image that names it (the rule qemu-img
 * uses when it writes a relative `-b` name).
 */
import { closeSync, fstatSync, fsyncSync, ftruncateSync, openSync, readSync, realpathSync, writeSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { FileOpener, RandomAccessFile, StorageError } from './block-backend.js';

/** A host file opened with node:fs; `name` is the file's real (symlink-free) absolute path. */
export class NodeFile implements RandomAccessFile {
  private fd: number;

  /** Wrap an already opened descriptor (use `openNodeFile` normally). */
  constructor(readonly name: string, fd: number, readonly readOnly: boolean) {
    this.fd = fd;
  }

  size(): number {
    return fstatSync(this.descriptor()).size;
  }

  read(position: number, dst: Uint8Array): void {
    const fd = this.descriptor();
    let done = 0;
    while (done < dst.length) {
      const got = readSync(fd, dst, done, dst.length - done, position + done);
      if (got === 0) break;
      done += got;
    }
    if (done < dst.length) dst.fill(0, done);
  }

  write(position: number, src: Uint8Array): void {
    this.checkWritable();
    const fd = this.descriptor();
    let done = 0;
    while (done < src.length) done += writeSync(fd, src, done, src.length - done, position + done);
  }

  truncate(size: number): void {
    this.checkWritable();
    ftruncateSync(this.descriptor(), size);
  }

  flush(): void {
    if (!this.readOnly) fsyncSync(this.descriptor());
  }

  close(): void {
    if (this.fd < 0) return;
    closeSync(this.fd);
    this.fd = -1;
  }

  private descriptor(): number {
    if (this.fd < 0) throw new StorageError(this.name, 'file is closed');
    return this.fd;
  }

  private checkWritable(): void {
    if (this.readOnly) throw new StorageError(this.name, 'file is open read-only');
  }
}

/** Open `path` (read-only or read-write; never created). Throws StorageError when it cannot be opened. */
export function openNodeFile(path: string, readOnly: boolean): NodeFile {
  let real: string;
  let fd: number;
  try {
    real = realpathSync(path);
    fd = openSync(real, readOnly ? 'r' : 'r+');
  } catch (e) {
    throw new StorageError(path, `cannot open: ${(e as Error).message}`);
  }
  return new NodeFile(real, fd, readOnly);
}

/** FileOpener for Node: relative names are taken relative to the referring image's directory. */
export const nodeFileOpener: FileOpener = (name, relativeTo, readOnly) => {
  const path = isAbsolute(name) ? name : resolve(dirname(relativeTo.name), name);
  return openNodeFile(path, readOnly);
};

/** Create (or truncate) the file at `path` and open it read-write. */
export function createNodeFile(path: string): NodeFile {
  let fd: number;
  try {
    fd = openSync(path, 'w+');
  } catch (e) {
    throw new StorageError(path, `cannot create: ${(e as Error).message}`);
  }
  return new NodeFile(realpathSync(path), fd, false);
}
