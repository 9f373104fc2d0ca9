/**
 * qcow2 images (QEMU docs/interop/qcow2.txt), versions 2 and 3, as a `BlockBackend`.
 *
 * Mapping ("Cluster mapping"): guest offset -> L1 entry -> L2 table (one cluster) -> L2
 * entry -> host data cluster. The L1 table is held in memory; L2 tables are cached (a
 * bounded number, write-through). Refcounts and allocation live in `Refcounts`.
 *
 * Reads: a standard cluster reads from the file; a zero cluster (descriptor bit 0, version
 * 3 only) reads zeros; an unallocated cluster reads from the backing image (zeros past its
 * end) or zeros without one; a compressed cluster throws StorageError.
 *
 * Writes: into an allocated cluster in place; otherwise a new cluster is allocated at the
 * end of the file, filled with the old contents (backing data or zeros) around the written
 * bytes, written, and only then linked into the L2 table with the "copied" flag (refcount
 * exactly 1). L2 tables are allocated on demand the same way (zeroed, then linked from L1).
 * A preallocated zero cluster (offset + zero flag + copied) is reused for the write.
 *
 * Discard: a fully covered cluster is unlinked and its host cluster freed (refcount 0).
 * When the image is version 3 and has a backing file the entry becomes a zero cluster (also
 * for a cluster that was unallocated, so the backing data never shows through); otherwise it
 * becomes unallocated (reads zeros without a backing file; a version 2 image with a backing
 * file then reads the backing data, which discard allows). Partly covered clusters are left
 * alone. So on version 3 images, or without a backing file, discarded whole clusters read
 * as zeros.
 *
 * writeZeroes: fully covered clusters get the zero flag (version 3; with `mayUnmap` their
 * host cluster is freed, else kept as a preallocated zero cluster); without a backing file
 * an unallocated cluster already reads zeros and is left so. Version 2 has no zero flag:
 * clusters are unlinked when that reads zeros (no backing, `mayUnmap`), else written with
 * zeros. Partly covered clusters are written with zeros.
 *
 * Not supported: writing to images with internal snapshots (they open read-only only;
 * shared clusters would need copy-on-write of L2 tables), compressed clusters (read or
 * write), and every incompatible feature (see `parseQcow2Header`).
 */
import { BlockBackend, RandomAccessFile, StorageError } from '../block-backend.js';
import { checkDiskRange } from '../raw.js';
import {
  ENTRY_COMPRESSED_HI,
  ENTRY_COPIED_HI,
  ENTRY_ZERO_LO,
  entryOffset,
  HeaderField,
  L1_RESERVED_HI_MASK,
  L2_RESERVED_HI_MASK,
  L2_RESERVED_LO_MASK,
  parseQcow2Header,
  Qcow2Header,
  setEntry,
} from './format.js';
import { Refcounts } from './refcounts.js';

/**
 * Opens the backing image named by a qcow2 header, read-only. `format` is the backing
 * format from the header extension ("raw", "qcow2", ...), or undefined to probe.
 */
export type BackingOpener = (name: string, format: string | undefined, referrer: RandomAccessFile) => BlockBackend;

/** Options for `Qcow2Image.open`. */
export interface Qcow2OpenOptions {
  /** Opens the backing file; required when the image has one. */
  readonly openBacking?: BackingOpener;
  /** How many L2 tables to keep cached (default 256). */
  readonly l2CacheTables?: number;
}

const DEFAULT_L2_CACHE_TABLES = 256;

/** A cached L2 table: its host offset and contents. */
interface L2Table {
  readonly offset: number;
  readonly view: DataView;
}

/** Where a guest cluster's L2 entry is and what it holds (not a compressed cluster). */
interface ClusterEntry {
  readonly l1Index: number;
  /** Index of the entry in its L2 table. */
  readonly index: number;
  /** The L2 table, undefined when its L1 entry is unallocated (the entry then reads as 0). */
  readonly table: L2Table | undefined;
  readonly hi: number;
  readonly lo: number;
  /** Host offset of the data cluster, 0 when none. */
  readonly host: number;
}

/** A qcow2 image; the file (and the backing chain) is closed with it. */
export class Qcow2Image implements BlockBackend {
  readonly name: string;
  readonly sizeBytes: number;
  readonly readOnly: boolean;
  /** The decoded header. */
  readonly header: Qcow2Header;
  /** The backing image, if any (opened read-only). */
  readonly backing: BlockBackend | undefined;

  private readonly clusterSize: number;
  private readonly l2Entries: number;
  private readonly l1: number[];
  private readonly refcounts: Refcounts;
  private readonly l2Cache = new Map<number, L2Table>();
  private readonly l2CacheLimit: number;
  private readonly clusterScratch: Uint8Array;
  private readonly zeroCluster: Uint8Array;
  private readonly entryScratch = new Uint8Array(8);
  private readonly entryScratchView = new DataView(this.entryScratch.buffer);

  /** Open the qcow2 image in `file` (validating the header and tables) and its backing chain. */
  static open(file: RandomAccessFile, options: Qcow2OpenOptions = {}): Qcow2Image {
    const header = parseQcow2Header(file);
    if (header.nbSnapshots > 0 && !file.readOnly) {
      throw new StorageError(file.name, `qcow2 image has ${header.nbSnapshots} internal snapshot(s); such images can only be opened read-only`);
    }
    const refcounts = Refcounts.load(file, header.clusterSize, header.refcountTableOffset, header.refcountTableClusters);
    const l1 = loadL1(file, header);
    const backing = openBackingImage(file, header, options.openBacking);
    return new Qcow2Image(file, header, l1, refcounts, backing, options.l2CacheTables ?? DEFAULT_L2_CACHE_TABLES);
  }

  private constructor(
    private readonly file: RandomAccessFile,
    header: Qcow2Header,
    l1: number[],
    refcounts: Refcounts,
    backing: BlockBackend | undefined,
    l2CacheLimit: number,
  ) {
    this.name = file.name;
    this.header = header;
    this.sizeBytes = header.sizeBytes;
    this.readOnly = file.readOnly;
    this.backing = backing;
    this.clusterSize = header.clusterSize;
    this.l2Entries = header.clusterSize / 8;
    this.l1 = l1;
    this.refcounts = refcounts;
    this.l2CacheLimit = Math.max(1, l2CacheLimit);
    this.clusterScratch = new Uint8Array(this.clusterSize);
    this.zeroCluster = new Uint8Array(this.clusterSize);
    if (!this.readOnly && header.autoclearFeatures !== 0n) this.clearAutoclearFeatures();
  }

  read(offset: number, dst: Uint8Array): void {
    checkDiskRange(this.name, this.sizeBytes, offset, dst.length);
    const cs = this.clusterSize;
    for (let pos = 0; pos < dst.length;) {
      const guest = offset + pos;
      const within = guest % cs;
      const n = Math.min(cs - within, dst.length - pos);
      this.readInCluster(guest, dst.subarray(pos, pos + n));
      pos += n;
    }
  }

  write(offset: number, src: Uint8Array): void {
    this.checkWritable();
    checkDiskRange(this.name, this.sizeBytes, offset, src.length);
    const cs = this.clusterSize;
    for (let pos = 0; pos < src.length;) {
      const guest = offset + pos;
      const within = guest % cs;
      const n = Math.min(cs - within, src.length - pos);
      this.writeInCluster(guest - within, within, src.subarray(pos, pos + n));
      pos += n;
    }
  }

  flush(): void {
    this.file.flush();
  }

  discard(offset: number, length: number): void {
    this.checkWritable();
    checkDiskRange(this.name, this.sizeBytes, offset, length);
    this.forWholeClusters(offset, length, (clusterStart) => this.discardCluster(clusterStart), () => undefined);
  }

  writeZeroes(offset: number, length: number, mayUnmap: boolean): void {
    this.checkWritable();
    checkDiskRange(this.name, this.sizeBytes, offset, length);
    this.forWholeClusters(
      offset,
      length,
      (clusterStart) => this.zeroWholeCluster(clusterStart, mayUnmap),
      (clusterStart, within, n) => this.writeInCluster(clusterStart, within, this.zeroCluster.subarray(0, n)),
    );
  }

  close(): void {
    this.file.close();
    this.backing?.close();
  }

  /** Refcount of the host cluster at byte `hostOffset` (for tests and tools). */
  refcountAt(hostOffset: number): number {
    return this.refcounts.get(Math.floor(hostOffset / this.clusterSize));
  }

  // ---- reading ----

  private readInCluster(guest: number, dst: Uint8Array): void {
    const l2 = this.lookupL2(this.l1IndexOf(guest));
    if (!l2) return this.readUnallocated(guest, dst);
    const index = this.l2Index(guest);
    const hi = l2.view.getUint32(index * 8), lo = l2.view.getUint32(index * 8 + 4);
    if (hi & ENTRY_COMPRESSED_HI) throw this.compressedError(guest);
    if (this.isZero(lo)) {
      dst.fill(0);
      return;
    }
    const host = entryOffset(hi, lo);
    if (host === 0) return this.readUnallocated(guest, dst);
    this.file.read(host + (guest % this.clusterSize), dst);
  }

  /** Bytes of an unallocated range: the backing image's (zeros past its end), else zeros. */
  private readUnallocated(guest: number, dst: Uint8Array): void {
    const backing = this.backing;
    if (!backing || guest >= backing.sizeBytes) {
      dst.fill(0);
      return;
    }
    const available = Math.min(dst.length, backing.sizeBytes - guest);
    backing.read(guest, available === dst.length ? dst : dst.subarray(0, available));
    if (available < dst.length) dst.fill(0, available);
  }

  // ---- writing ----

  private writeInCluster(clusterStart: number, within: number, data: Uint8Array): void {
    const l2 = this.l2ForWrite(this.l1IndexOf(clusterStart));
    const index = this.l2Index(clusterStart);
    const hi = l2.view.getUint32(index * 8), lo = l2.view.getUint32(index * 8 + 4);
    if (hi & ENTRY_COMPRESSED_HI) throw this.compressedError(clusterStart);
    const host = entryOffset(hi, lo);
    const zero = this.isZero(lo);
    if (host !== 0 && !zero) {
      this.file.write(host + within, data);
      return;
    }
    const reuse = host !== 0 && zero && (hi & ENTRY_COPIED_HI) !== 0;
    const target = reuse ? host : this.refcounts.allocate();
    if (data.length === this.clusterSize) {
      this.file.write(target, data);
    } else {
      const cluster = this.clusterScratch;
      if (zero) cluster.fill(0);
      else this.readUnallocated(clusterStart, cluster);
      cluster.set(data, within);
      this.file.write(target, cluster);
    }
    this.setL2Entry(l2, index, target, true, false);
    if (host !== 0 && !reuse) this.refcounts.release(host);
  }

  /** The L2 table for `l1Index`, allocating (zeroed, then linked from L1) when missing. */
  private l2ForWrite(l1Index: number): L2Table {
    const existing = this.lookupL2(l1Index);
    if (existing) return existing;
    const offset = this.refcounts.allocate();
    const bytes = new Uint8Array(this.clusterSize);
    this.file.write(offset, bytes);
    const table: L2Table = { offset, view: new DataView(bytes.buffer) };
    this.cacheL2(table);
    this.l1[l1Index] = offset;
    setEntry(this.entryScratchView, 0, offset, true, false);
    this.file.write(this.header.l1TableOffset + l1Index * 8, this.entryScratch);
    return table;
  }

  private setL2Entry(l2: L2Table, index: number, host: number, copied: boolean, zero: boolean): void {
    setEntry(l2.view, index, host, copied, zero);
    this.file.write(l2.offset + index * 8, new Uint8Array(l2.view.buffer, index * 8, 8));
  }

  // ---- discard and write-zeroes ----

  /**
   * Call `whole(clusterStart)` for each cluster fully inside [offset, offset+length) (a
   * final cluster cut short by the end of the disk counts as whole) and
   * `partial(clusterStart, within, n)` for the partly covered pieces.
   */
  private forWholeClusters(
    offset: number,
    length: number,
    whole: (clusterStart: number) => void,
    partial: (clusterStart: number, within: number, n: number) => void,
  ): void {
    const cs = this.clusterSize;
    const end = offset + length;
    for (let pos = offset; pos < end;) {
      const within = pos % cs;
      const clusterStart = pos - within;
      const clusterEnd = Math.min(clusterStart + cs, this.sizeBytes);
      const n = Math.min(clusterEnd, end) - pos;
      if (within === 0 && pos + n === clusterEnd) whole(clusterStart);
      else partial(clusterStart, within, n);
      pos += n;
    }
  }

  /** The L2 entry of the cluster at `clusterStart`; a compressed cluster is refused. */
  private clusterEntry(clusterStart: number): ClusterEntry {
    const l1Index = this.l1IndexOf(clusterStart);
    const index = this.l2Index(clusterStart);
    const table = this.lookupL2(l1Index);
    const hi = table ? table.view.getUint32(index * 8) : 0;
    const lo = table ? table.view.getUint32(index * 8 + 4) : 0;
    if (hi & ENTRY_COMPRESSED_HI) throw this.compressedError(clusterStart);
    return { l1Index, index, table, hi, lo, host: entryOffset(hi, lo) };
  }

  /** Index of the L1 entry covering guest byte `guest`. */
  private l1IndexOf(guest: number): number {
    return Math.floor(guest / this.clusterSize / this.l2Entries);
  }

  private discardCluster(clusterStart: number): void {
    const { l1Index, index, table: found, lo, host } = this.clusterEntry(clusterStart);
    const zeroFlag = this.header.version === 3 && this.backing !== undefined;
    if (host === 0 && (!zeroFlag || this.isZero(lo))) return;
    this.setL2Entry(found ?? this.l2ForWrite(l1Index), index, 0, false, zeroFlag);
    if (host !== 0) this.refcounts.release(host);
  }

  private zeroWholeCluster(clusterStart: number, mayUnmap: boolean): void {
    const { l1Index, index, table: found, hi, lo, host } = this.clusterEntry(clusterStart);
    const unallocated = host === 0 && !this.isZero(lo);
    if (unallocated && !this.backing) return;
    if (host === 0 && this.isZero(lo)) return;
    if (this.header.version === 2) {
      if (!this.backing && mayUnmap && found) {
        this.setL2Entry(found, index, 0, false, false);
        this.refcounts.release(host);
      } else {
        this.writeInCluster(clusterStart, 0, this.zeroCluster.subarray(0, this.clusterSize));
      }
      return;
    }
    const l2 = found ?? this.l2ForWrite(l1Index);
    if (host !== 0 && !mayUnmap) {
      this.setL2Entry(l2, index, host, (hi & ENTRY_COPIED_HI) !== 0, true);
    } else {
      this.setL2Entry(l2, index, 0, false, true);
      if (host !== 0) this.refcounts.release(host);
    }
  }

  // ---- tables ----

  /** The L2 table for `l1Index`, or undefined when that L1 entry is unallocated. */
  private lookupL2(l1Index: number): L2Table | undefined {
    const offset = this.l1[l1Index];
    if (offset === 0) return undefined;
    const cached = this.l2Cache.get(offset);
    if (cached) return cached;
    const bytes = new Uint8Array(this.clusterSize);
    this.file.read(offset, bytes);
    const table: L2Table = { offset, view: new DataView(bytes.buffer) };
    this.validateL2(table);
    this.cacheL2(table);
    return table;
  }

  private cacheL2(table: L2Table): void {
    if (this.l2Cache.size >= this.l2CacheLimit) {
      const oldest = this.l2Cache.keys().next().value;
      if (oldest !== undefined) this.l2Cache.delete(oldest);
    }
    this.l2Cache.set(table.offset, table);
  }

  /** Check every standard entry of a freshly read L2 table: reserved bits clear, aligned, inside the file. */
  private validateL2(table: L2Table): void {
    const end = Math.max(this.file.size(), this.refcounts.allocatedEnd());
    for (let i = 0; i < this.l2Entries; i++) {
      const hi = table.view.getUint32(i * 8), lo = table.view.getUint32(i * 8 + 4);
      if (hi & ENTRY_COMPRESSED_HI) continue;
      const host = entryOffset(hi, lo);
      const where = `qcow2 L2 table at ${table.offset}, entry ${i} (byte ${table.offset + i * 8})`;
      const zeroBitInV2 = this.header.version === 2 && (lo & ENTRY_ZERO_LO) !== 0;
      if ((hi & L2_RESERVED_HI_MASK) !== 0 || (lo & L2_RESERVED_LO_MASK) !== 0 || zeroBitInV2) {
        throw new StorageError(this.name, `${where}: reserved bits are set`);
      }
      if (host === 0 && (hi & ENTRY_COPIED_HI) !== 0 && !this.isZero(lo)) {
        throw new StorageError(this.name, `${where}: host offset 0 with the copied flag (only valid with an external data file)`);
      }
      if (host % this.clusterSize !== 0) throw new StorageError(this.name, `${where}: host offset ${host} is not cluster aligned`);
      if (host + this.clusterSize > end) throw new StorageError(this.name, `${where}: host offset ${host} points past the end of the file (${end} bytes)`);
    }
  }

  private l2Index(guest: number): number {
    return Math.floor(guest / this.clusterSize) % this.l2Entries;
  }

  private isZero(lo: number): boolean {
    return this.header.version === 3 && (lo & ENTRY_ZERO_LO) !== 0;
  }

  private compressedError(guest: number): StorageError {
    return new StorageError(this.name, `compressed clusters are not supported (guest offset ${guest})`);
  }

  private checkWritable(): void {
    if (this.readOnly) throw new StorageError(this.name, 'image is open read-only');
  }

  /** We do not maintain any auto-clear feature (bitmaps), so the bits are cleared before writing (qcow2.txt). */
  private clearAutoclearFeatures(): void {
    this.file.write(HeaderField.AutoclearFeatures, new Uint8Array(8));
  }
}

/** Read and validate the L1 table: each entry's L2 offset is aligned, inside the file, reserved bits clear. */
function loadL1(file: RandomAccessFile, header: Qcow2Header): number[] {
  const bytes = new Uint8Array(header.l1Size * 8);
  file.read(header.l1TableOffset, bytes);
  const view = new DataView(bytes.buffer);
  const fileSize = file.size();
  const l1: number[] = [];
  for (let i = 0; i < header.l1Size; i++) {
    const hi = view.getUint32(i * 8), lo = view.getUint32(i * 8 + 4);
    const offset = entryOffset(hi, lo);
    const at = header.l1TableOffset + i * 8;
    if ((hi & L1_RESERVED_HI_MASK) !== 0 || (lo & 0x1ff) !== 0 || offset % header.clusterSize !== 0) {
      throw new StorageError(file.name, `qcow2 L1 entry ${i} (byte ${at}) is malformed or not cluster aligned`);
    }
    if (offset !== 0 && offset + header.clusterSize > fileSize) {
      throw new StorageError(file.name, `qcow2 L1 entry ${i} (byte ${at}) points to an L2 table at ${offset}, past the end of the file (${fileSize} bytes)`);
    }
    l1.push(offset);
  }
  return l1;
}

/** Open the backing image named in the header (if any) through `openBacking`. */
function openBackingImage(file: RandomAccessFile, header: Qcow2Header, openBacking: BackingOpener | undefined): BlockBackend | undefined {
  if (header.backingFile === undefined) return undefined;
  if (!openBacking) throw new StorageError(file.name, `qcow2 image has backing file "${header.backingFile}" but no backing opener was given`);
  return openBacking(header.backingFile, header.backingFormat, file);
}
