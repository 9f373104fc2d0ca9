/**
 * An in-memory `RandomAccessFile`: a growable byte array. Used by tests and, later, by the
 * browser build for images held in memory. Capacity doubles when a write passes it, so a
 * sequence of appends costs amortised O(1) per byte.
 */
import { RandomAccessFile, StorageError } from './block-backend.js';

/** Growable in-memory file. `bytes()` returns a view of the current contents. */
export class MemoryFile implements RandomAccessFile {
  private buffer: Uint8Array;
  private length: number;
  private closed = false;

  /** A file named `name` holding a copy of `initial` (empty by default). */
  constructor(readonly name: string, initial: Uint8Array = new Uint8Array(0), readonly readOnly = false) {
    this.buffer = new Uint8Array(Math.max(initial.length, 4096));
    this.buffer.set(initial);
    this.length = initial.length;
  }

  /** The current contents (a view, valid until the next write that grows the file). */
  bytes(): Uint8Array {
    return this.buffer.subarray(0, this.length);
  }

  size(): number {
    return this.length;
  }

  read(position: number, dst: Uint8Array): void {
    this.checkOpen();
    const available = Math.max(0, Math.min(dst.length, this.length - position));
    if (available > 0) dst.set(this.buffer.subarray(position, position + available));
    if (available < dst.length) dst.fill(0, available);
  }

  write(position: number, src: Uint8Array): void {
    this.checkWritable();
    const end = position + src.length;
    this.ensureCapacity(end);
    if (position > this.length) this.buffer.fill(0, this.length, position);
    this.buffer.set(src, position);
    if (end > this.length) this.length = end;
  }

  truncate(size: number): void {
    this.checkWritable();
    this.ensureCapacity(size);
    if (size > this.length) this.buffer.fill(0, this.length, size);
    this.length = size;
  }

  flush(): void {
    this.checkOpen();
  }

  close(): void {
    this.closed = true;
  }

  private ensureCapacity(size: number): void {
    if (size <= this.buffer.length) return;
    const grown = new Uint8Array(Math.max(size, this.buffer.length * 2));
    grown.set(this.buffer.subarray(0, this.length));
    this.buffer = grown;
  }

  private checkOpen(): void {
    if (this.closed) throw new StorageError(this.name, 'file is closed');
  }

  private checkWritable(): void {
    this.checkOpen();
    if (this.readOnly) throw new StorageError(this.name, 'file is open read-only');
  }
}
