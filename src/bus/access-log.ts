/**
 * Access log: a bounded ring of recent records, used by the I/O-port and MMIO buses to keep
 * the last unclaimed accesses for the debug log without growing without bound.
 */

/** A fixed-capacity ring that keeps the most recent `capacity` records, oldest first. */
export class RecentRing<T> {
  private readonly entries: (T | undefined)[];
  private next = 0;
  private count = 0;

  /** `capacity` must be a positive integer. */
  constructor(private readonly capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1) {
      throw new RangeError(`RecentRing capacity must be a positive integer, got ${capacity}`);
    }
    this.entries = new Array<T | undefined>(capacity);
  }

  /** Append a record, dropping the oldest when full. */
  push(entry: T): void {
    this.entries[this.next] = entry;
    this.next = (this.next + 1) % this.capacity;
    if (this.count < this.capacity) this.count++;
  }

  /** The kept records, oldest first (a fresh array). */
  toArray(): T[] {
    const out: T[] = [];
    const start = (this.next - this.count + this.capacity) % this.capacity;
    for (let i = 0; i < this.count; i++) {
      out.push(this.entries[(start + i) % this.capacity] as T);
    }
    return out;
  }
}

/** Format `value` as 0x-prefixed upper-case hex padded to `digits`. */
export function hex(value: number, digits: number): string {
  return '0x' + (value >>> 0).toString(16).toUpperCase().padStart(digits, '0');
}
