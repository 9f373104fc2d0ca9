/**
 * Create an empty qcow2 version 3 image (QEMU docs/interop/qcow2.txt) without qemu-img:
 * used for copy-on-write overlays over a base image.
 *
 * Layout, in clusters: [0] header + extensions (+ backing file name at the end of the
 * extension area), then the refcount table, the refcount blocks covering all of these
 * metadata clusters, then the L1 table (all entries 0: every cluster unallocated). The
 * refcount of every metadata cluster is 1; refcount_order is 4 (16-bit refcounts).
 */
import { RandomAccessFile, StorageError } from '../block-backend.js';
import {
  HeaderExtension,
  HeaderField,
  MAX_BACKING_NAME,
  MAX_CLUSTER_BITS,
  MIN_CLUSTER_BITS,
  QCOW2_MAGIC,
  SUPPORTED_REFCOUNT_ORDER,
  writeU64,
} from './format.js';

/** Options for `createQcow2`. */
export interface CreateQcow2Options {
  /** Virtual disk size in bytes. */
  readonly sizeBytes: number;
  /** log2 of the cluster size, 9..21 (default 16 = 64 KiB, qemu's default). */
  readonly clusterBits?: number;
  /** Backing file name, stored as given (relative names resolve against the image's directory). */
  readonly backingFile?: string;
  /** Backing format recorded in the backing-format header extension ("raw" or "qcow2"); probed on open when absent. */
  readonly backingFormat?: 'raw' | 'qcow2';
}

/** Write a new, empty qcow2 v3 image into `file` (its previous contents are discarded). */
export function createQcow2(file: RandomAccessFile, options: CreateQcow2Options): void {
  const clusterBits = options.clusterBits ?? 16;
  if (!Number.isInteger(clusterBits) || clusterBits < MIN_CLUSTER_BITS || clusterBits > MAX_CLUSTER_BITS) {
    throw new StorageError(file.name, `createQcow2: clusterBits ${clusterBits} is outside ${MIN_CLUSTER_BITS}..${MAX_CLUSTER_BITS}`);
  }
  if (!Number.isSafeInteger(options.sizeBytes) || options.sizeBytes < 0) {
    throw new StorageError(file.name, `createQcow2: sizeBytes ${options.sizeBytes} is not a non-negative integer`);
  }
  const cs = 2 ** clusterBits;
  const l1Size = Math.ceil(options.sizeBytes / (cs * (cs / 8)));
  const l1Clusters = Math.max(1, Math.ceil((l1Size * 8) / cs));
  const { tableClusters, blockClusters } = refcountLayout(cs, l1Clusters);
  const refcountTable = 1;
  const firstBlock = refcountTable + tableClusters;
  const l1Table = firstBlock + blockClusters;
  const totalClusters = l1Table + l1Clusters;

  const image = new Uint8Array(totalClusters * cs);
  const view = new DataView(image.buffer);
  writeHeader(file.name, view, options, clusterBits, l1Size, l1Table * cs, refcountTable * cs, tableClusters);
  const perBlock = cs / 2;
  for (let b = 0; b < blockClusters; b++) writeU64(view, refcountTable * cs + b * 8, (firstBlock + b) * cs);
  for (let c = 0; c < totalClusters; c++) {
    view.setUint16((firstBlock + Math.floor(c / perBlock)) * cs + (c % perBlock) * 2, 1);
  }
  file.truncate(0);
  file.write(0, image);
}

/** Sizes of the refcount table and blocks needed to count all metadata clusters (fixed point). */
function refcountLayout(cs: number, l1Clusters: number): { tableClusters: number; blockClusters: number } {
  let tableClusters = 1, blockClusters = 1;
  for (;;) {
    const total = 1 + tableClusters + blockClusters + l1Clusters;
    const blocks = Math.ceil(total / (cs / 2));
    const table = Math.ceil(blocks / (cs / 8));
    if (blocks === blockClusters && table === tableClusters) return { tableClusters, blockClusters };
    tableClusters = table;
    blockClusters = blocks;
  }
}

/** Fill the first cluster: v3 header, backing-format extension, end marker, backing name. */
function writeHeader(
  image: string,
  view: DataView,
  options: CreateQcow2Options,
  clusterBits: number,
  l1Size: number,
  l1Offset: number,
  refcountTableOffset: number,
  refcountTableClusters: number,
): void {
  view.setUint32(HeaderField.Magic, QCOW2_MAGIC);
  view.setUint32(HeaderField.Version, 3);
  view.setUint32(HeaderField.ClusterBits, clusterBits);
  writeU64(view, HeaderField.Size, options.sizeBytes);
  view.setUint32(HeaderField.L1Size, l1Size);
  writeU64(view, HeaderField.L1TableOffset, l1Offset);
  writeU64(view, HeaderField.RefcountTableOffset, refcountTableOffset);
  view.setUint32(HeaderField.RefcountTableClusters, refcountTableClusters);
  view.setUint32(HeaderField.RefcountOrder, SUPPORTED_REFCOUNT_ORDER);
  view.setUint32(HeaderField.HeaderLength, HeaderField.V3MinLength);
  const encoder = new TextEncoder();
  let at: number = HeaderField.V3MinLength;
  if (options.backingFormat !== undefined) {
    const format = encoder.encode(options.backingFormat);
    view.setUint32(at, HeaderExtension.BackingFormat);
    view.setUint32(at + 4, format.length);
    new Uint8Array(view.buffer).set(format, at + 8);
    at += 8 + Math.ceil(format.length / 8) * 8;
  }
  at += 8; // End-of-extensions marker (type 0, length 0): already zero.
  if (options.backingFile === undefined) return;
  const name = encoder.encode(options.backingFile);
  if (name.length === 0 || name.length > MAX_BACKING_NAME) {
    throw new StorageError(image, `createQcow2: backing file name must be 1..${MAX_BACKING_NAME} bytes (got ${name.length})`);
  }
  if (at + name.length > 2 ** clusterBits) {
    throw new StorageError(image, `createQcow2: backing file name of ${name.length} bytes does not fit in the first cluster`);
  }
  new Uint8Array(view.buffer).set(name, at);
  writeU64(view, HeaderField.BackingFileOffset, at);
  view.setUint32(HeaderField.BackingFileSize, name.length);
}
