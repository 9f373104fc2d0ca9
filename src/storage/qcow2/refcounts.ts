/**
 * qcow2 host cluster management (qcow2.txt "Host cluster management"): the two-level
 * refcount structure (refcount table -> refcount blocks of 16-bit big-endian entries) and
 * cluster allocation.
 *
 * Policy:
 * - New clusters are always taken at the end of the file (`nextFree`); clusters whose
 *   refcount drops to 0 are not reused. qemu-img check accepts free clusters inside the
 *   file, and never reusing them means a freed cluster can never be pointed to twice.
 * - Refcount blocks are allocated on demand. When the refcount table is too small it is
 *   moved to a larger copy at the end of the file (up to 8 MiB, qemu's own limit; beyond
 *   that a StorageError is thrown).
 * - Every change is written through to the file at once, in an order that never lets
 *   metadata point at unwritten data: a new block is zeroed before the table points to it,
 *   a new table is fully written before the header points to it, and a cluster's refcount
 *   is raised before anything points at it (a crash can leak a cluster, never corrupt).
 */
import { RandomAccessFile, StorageError } from '../block-backend.js';
import { entryOffset, HeaderField, writeU64 } from './format.js';

/** Largest refcount table we grow to (bytes). */
export const MAX_REFCOUNT_TABLE_BYTES = 8 << 20;
/** Largest value of a 16-bit refcount. */
const MAX_REFCOUNT = 0xffff;

/** Refcounts and allocation of one qcow2 image file. */
export class Refcounts {
  private table: number[];
  private tableOffset: number;
  private tableClusters: number;
  private readonly blocks = new Map<number, DataView>();
  /** Index of the first cluster past everything allocated (allocation point). */
  private nextFree: number;
  private readonly entriesPerBlock: number;
  private readonly scratch2 = new Uint8Array(2);
  private readonly scratch8 = new Uint8Array(8);
  private readonly scratch8View = new DataView(this.scratch8.buffer);

  private constructor(
    private readonly file: RandomAccessFile,
    private readonly clusterSize: number,
    table: number[],
    tableOffset: number,
    tableClusters: number,
  ) {
    this.table = table;
    this.tableOffset = tableOffset;
    this.tableClusters = tableClusters;
    this.entriesPerBlock = clusterSize / 2;
    this.nextFree = Math.ceil(file.size() / clusterSize);
  }

  /** Load and validate the refcount table (entries aligned, blocks inside the file). */
  static load(file: RandomAccessFile, clusterSize: number, tableOffset: number, tableClusters: number): Refcounts {
    const bytes = new Uint8Array(tableClusters * clusterSize);
    file.read(tableOffset, bytes);
    const view = new DataView(bytes.buffer);
    const fileSize = file.size();
    const table: number[] = [];
    for (let i = 0; i < bytes.length / 8; i++) {
      const hi = view.getUint32(i * 8), lo = view.getUint32(i * 8 + 4);
      const offset = entryOffset(hi, lo);
      const at = tableOffset + i * 8;
      if ((lo & 0x1ff) !== 0 || (hi & ~0x00ffffff) !== 0 || offset % clusterSize !== 0) {
        throw new StorageError(file.name, `qcow2 refcount table entry ${i} (byte ${at}) is malformed or not cluster aligned`);
      }
      if (offset !== 0 && offset + clusterSize > fileSize) {
        throw new StorageError(file.name, `qcow2 refcount table entry ${i} (byte ${at}) points to ${offset}, past the end of the file (${fileSize} bytes)`);
      }
      table.push(offset);
    }
    return new Refcounts(file, clusterSize, table, tableOffset, tableClusters);
  }

  /** Refcount of host cluster `cluster` (index, not byte offset). */
  get(cluster: number): number {
    const tableIndex = Math.floor(cluster / this.entriesPerBlock);
    if (tableIndex >= this.table.length || this.table[tableIndex] === 0) return 0;
    return this.loadBlock(this.table[tableIndex]).getUint16((cluster % this.entriesPerBlock) * 2);
  }

  /** Allocate one cluster at the end of the file with refcount 1; returns its byte offset. Its contents are not written. */
  allocate(): number {
    const cluster = this.nextFree++;
    this.set(cluster, 1);
    return cluster * this.clusterSize;
  }

  /** Drop one reference to the cluster at byte `offset`. */
  release(offset: number): void {
    const cluster = offset / this.clusterSize;
    const count = this.get(cluster);
    if (count === 0) throw new StorageError(this.file.name, `qcow2 refcount of cluster at ${offset} is already 0 (image is inconsistent; run \`qemu-img check -r all\`)`);
    this.set(cluster, count - 1);
  }

  /** Byte offset just past the last allocated cluster. */
  allocatedEnd(): number {
    return this.nextFree * this.clusterSize;
  }

  private set(cluster: number, value: number): void {
    if (value > MAX_REFCOUNT) throw new StorageError(this.file.name, `qcow2 refcount overflow at cluster ${cluster}`);
    const block = this.ensureBlock(Math.floor(cluster / this.entriesPerBlock));
    const index = cluster % this.entriesPerBlock;
    block.view.setUint16(index * 2, value);
    this.scratch2[0] = value >>> 8;
    this.scratch2[1] = value & 0xff;
    this.file.write(block.offset + index * 2, this.scratch2);
  }

  private ensureBlock(tableIndex: number): { view: DataView; offset: number } {
    if (tableIndex >= this.table.length) this.growTable(tableIndex + 1);
    const existing = this.table[tableIndex];
    if (existing !== 0) return { view: this.loadBlock(existing), offset: existing };
    const blockCluster = this.nextFree++;
    const offset = blockCluster * this.clusterSize;
    const zeros = new Uint8Array(this.clusterSize);
    this.file.write(offset, zeros);
    const view = new DataView(zeros.buffer);
    this.blocks.set(offset, view);
    this.table[tableIndex] = offset;
    this.writeTableEntry(tableIndex);
    this.set(blockCluster, 1);
    return { view, offset };
  }

  private loadBlock(offset: number): DataView {
    let view = this.blocks.get(offset);
    if (!view) {
      const bytes = new Uint8Array(this.clusterSize);
      this.file.read(offset, bytes);
      view = new DataView(bytes.buffer);
      this.blocks.set(offset, view);
    }
    return view;
  }

  private writeTableEntry(tableIndex: number): void {
    writeU64(this.scratch8View, 0, this.table[tableIndex]);
    this.file.write(this.tableOffset + tableIndex * 8, this.scratch8);
  }

  /** Move the refcount table to a larger copy at the end of the file holding at least `minEntries` entries. */
  private growTable(minEntries: number): void {
    const entriesPerCluster = this.clusterSize / 8;
    let clusters = Math.max(this.tableClusters * 2, Math.ceil(minEntries / entriesPerCluster));
    // The new table must also cover the refcount blocks describing its own clusters.
    while (clusters * entriesPerCluster <= Math.floor((this.nextFree + clusters + 2) / this.entriesPerBlock)) clusters++;
    if (clusters * this.clusterSize > MAX_REFCOUNT_TABLE_BYTES) {
      throw new StorageError(this.file.name, `qcow2 refcount table would need ${clusters * this.clusterSize} bytes; more than the supported ${MAX_REFCOUNT_TABLE_BYTES}`);
    }
    const oldOffset = this.tableOffset, oldClusters = this.tableClusters;
    const firstCluster = this.nextFree;
    this.nextFree += clusters;
    this.tableOffset = firstCluster * this.clusterSize;
    this.tableClusters = clusters;
    while (this.table.length < clusters * entriesPerCluster) this.table.push(0);
    const bytes = new Uint8Array(clusters * this.clusterSize);
    const view = new DataView(bytes.buffer);
    this.table.forEach((offset, i) => writeU64(view, i * 8, offset));
    this.file.write(this.tableOffset, bytes);
    for (let c = 0; c < clusters; c++) this.set(firstCluster + c, 1);
    this.writeHeaderTableFields();
    const oldFirst = oldOffset / this.clusterSize;
    for (let c = 0; c < oldClusters; c++) this.set(oldFirst + c, 0);
  }

  /** Point the header at the current table (refcount_table_offset and _clusters, one write). */
  private writeHeaderTableFields(): void {
    const bytes = new Uint8Array(12);
    const view = new DataView(bytes.buffer);
    writeU64(view, 0, this.tableOffset);
    view.setUint32(8, this.tableClusters);
    this.file.write(HeaderField.RefcountTableOffset, bytes);
  }
}
