/**
 * Raw disk images: the virtual disk is the file, byte for byte. The virtual size is the
 * file's size when opened and never changes (writes past it are an error, as on a real
 * disk). `discard` only validates its range: the interface lets discarded bytes read back
 * as anything, and writing zeros for a whole-disk discard (mkfs does one) would rewrite the
 * entire file. `writeZeroes` writes zeros (a raw file cannot record "zero" any other way).
 */
import { BlockBackend, RandomAccessFile, StorageError } from './block-backend.js';

/** Largest chunk `writeZeroes` writes at once. */
const ZERO_CHUNK = 1 << 20;

/** Check that [offset, offset + length) lies inside a disk of `sizeBytes`; throws StorageError naming `image`. */
export function checkDiskRange(image: string, sizeBytes: number, offset: number, length: number): void {
  if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0 || offset + length > sizeBytes) {
    throw new StorageError(image, `access of ${length} bytes at offset ${offset} is outside the disk (${sizeBytes} bytes)`);
  }
}

/** A raw image over a RandomAccessFile; the file is closed with the image. */
export class RawImage implements BlockBackend {
  readonly name: string;
  readonly sizeBytes: number;
  readonly readOnly: boolean;

  constructor(private readonly file: RandomAccessFile) {
    this.name = file.name;
    this.sizeBytes = file.size();
    this.readOnly = file.readOnly;
  }

  read(offset: number, dst: Uint8Array): void {
    checkDiskRange(this.name, this.sizeBytes, offset, dst.length);
    this.file.read(offset, dst);
  }

  write(offset: number, src: Uint8Array): void {
    this.checkWritable();
    checkDiskRange(this.name, this.sizeBytes, offset, src.length);
    this.file.write(offset, src);
  }

  flush(): void {
    this.file.flush();
  }

  discard(offset: number, length: number): void {
    this.checkWritable();
    checkDiskRange(this.name, this.sizeBytes, offset, length);
  }

  writeZeroes(offset: number, length: number, _mayUnmap: boolean): void {
    this.checkWritable();
    checkDiskRange(this.name, this.sizeBytes, offset, length);
    const zeros = new Uint8Array(Math.min(length, ZERO_CHUNK));
    for (let done = 0; done < length; done += zeros.length) {
      const n = Math.min(zeros.length, length - done);
      this.file.write(offset + done, n === zeros.length ? zeros : zeros.subarray(0, n));
    }
  }

  close(): void {
    this.file.close();
  }

  private checkWritable(): void {
    if (this.readOnly) throw new StorageError(this.name, 'image is open read-only');
  }
}
