/**
 * Storage backends behind virtual disks. A `BlockBackend` is a flat array of bytes (the
 * guest's disk); formats (raw, qcow2) implement it on top of a `RandomAccessFile`, which is
 * the only thing that touches the host's storage (a Node file here; an OPFS sync access
 * handle in a browser worker later), so every format works on every host.
 *
 * All calls are synchronous: the virtio-blk device completes a request within the guest
 * instruction that notified it, which keeps the machine deterministic. Errors are thrown
 * as `StorageError` naming the image and what is wrong.
 */

/** A random-access byte store (a host file). */
export interface RandomAccessFile {
  /** Name for errors (the path). */
  readonly name: string;
  readonly readOnly: boolean;
  /** Current size in bytes. */
  size(): number;
  /** Read dst.length bytes at `position`; bytes past the end of the file read as zero. */
  read(position: number, dst: Uint8Array): void;
  /** Write `src` at `position`, growing the file when it passes the end. */
  write(position: number, src: Uint8Array): void;
  /** Set the size (grow with zeros or shrink). */
  truncate(size: number): void;
  /** Make written data durable (fsync). */
  flush(): void;
  close(): void;
}

/** Opens another file by name, relative to the image that names it (qcow2 backing files). */
export type FileOpener = (name: string, relativeTo: RandomAccessFile, readOnly: boolean) => RandomAccessFile;

/** A virtual disk's contents. Offsets and lengths are bytes; the device uses multiples of 512. */
export interface BlockBackend {
  readonly name: string;
  /** Virtual disk size in bytes. */
  readonly sizeBytes: number;
  readonly readOnly: boolean;
  read(offset: number, dst: Uint8Array): void;
  write(offset: number, src: Uint8Array): void;
  flush(): void;
  /** The guest no longer needs these bytes (they may read back as anything; formats free space). */
  discard(offset: number, length: number): void;
  /** Make these bytes read as zero (`mayUnmap`: the format may free the space). */
  writeZeroes(offset: number, length: number, mayUnmap: boolean): void;
  close(): void;
}

/** An image or backend error; the message names the image and the field or offset. */
export class StorageError extends Error {
  constructor(readonly image: string, problem: string) {
    super(`${image}: ${problem}`);
    this.name = 'StorageError';
  }
}
