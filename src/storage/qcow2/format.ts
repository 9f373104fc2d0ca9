/**
 * qcow2 on-disk format (QEMU docs/interop/qcow2.txt): header fields and their offsets,
 * feature bits, header extensions, and the 64-bit L1/L2/refcount-table entry layouts.
 * Everything in qcow2 is big-endian. Offsets are kept as JS numbers (exact below 2^53,
 * far beyond any image we open); 64-bit fields above that are rejected as corrupt.
 *
 * `parseQcow2Header` validates the header strictly (section "Header") and throws a
 * StorageError naming the image and the field (with its byte offset) on bad input.
 */
import { RandomAccessFile, StorageError } from '../block-backend.js';

/** "QFI\xfb" (header bytes 0-3). */
export const QCOW2_MAGIC = 0x514649fb;

/** Header field byte offsets (qcow2.txt "Header"). */
export const enum HeaderField {
  Magic = 0,
  Version = 4,
  BackingFileOffset = 8,
  BackingFileSize = 16,
  ClusterBits = 20,
  Size = 24,
  CryptMethod = 32,
  L1Size = 36,
  L1TableOffset = 40,
  RefcountTableOffset = 48,
  RefcountTableClusters = 56,
  NbSnapshots = 60,
  SnapshotsOffset = 64,
  IncompatibleFeatures = 72,
  CompatibleFeatures = 80,
  AutoclearFeatures = 88,
  RefcountOrder = 96,
  HeaderLength = 100,
  /** Length of a version 2 header. */
  V2Length = 72,
  /** Minimum length of a version 3 header. */
  V3MinLength = 104,
}

/** Incompatible feature bits (header bytes 72-79). */
export const enum IncompatibleFeature {
  Dirty = 0,
  Corrupt = 1,
  ExternalDataFile = 2,
  CompressionType = 3,
  ExtendedL2 = 4,
}

/** Header extension types (qcow2.txt "Header extensions"). */
export const enum HeaderExtension {
  End = 0,
  BackingFormat = 0xe2792aca,
  FeatureNameTable = 0x6803f857,
}

/** Smallest cluster_bits (512-byte clusters, the spec's minimum). */
export const MIN_CLUSTER_BITS = 9;
/** Largest cluster_bits (2 MiB clusters, qemu's implementation limit). */
export const MAX_CLUSTER_BITS = 21;
/** The only refcount width supported: refcount_order 4 = 16-bit refcounts. */
export const SUPPORTED_REFCOUNT_ORDER = 4;
/** Longest backing file name the spec allows. */
export const MAX_BACKING_NAME = 1023;

/** Entry bit 63 (in the high 32-bit word): refcount is exactly one ("copied"). */
export const ENTRY_COPIED_HI = 0x80000000;
/** L2 entry bit 62 (high word): compressed cluster. */
export const ENTRY_COMPRESSED_HI = 0x40000000;
/** L2 standard descriptor bit 0 (low word): the cluster reads as zeros (version 3). */
export const ENTRY_ZERO_LO = 1;
/** Offset bits 9-31 of the low word. */
export const ENTRY_OFFSET_LO_MASK = 0xfffffe00;
/** Offset bits 32-55 of the high word. */
export const ENTRY_OFFSET_HI_MASK = 0x00ffffff;
/** Reserved bits 56-61 of an L2 standard descriptor (high word). */
export const L2_RESERVED_HI_MASK = 0x3f000000;
/** Reserved bits 1-8 of an L2 standard descriptor (low word). */
export const L2_RESERVED_LO_MASK = 0x1fe;
/** Reserved bits 56-62 of an L1 entry (high word). */
export const L1_RESERVED_HI_MASK = 0x7f000000;

const TWO_32 = 0x1_0000_0000;

/** Host offset (bits 9-55) of a table entry given as its two 32-bit words. */
export function entryOffset(hi: number, lo: number): number {
  return (hi & ENTRY_OFFSET_HI_MASK) * TWO_32 + ((lo & ENTRY_OFFSET_LO_MASK) >>> 0);
}

/** Store a table entry (host offset plus flag bits) big-endian at `index` of `view`. */
export function setEntry(view: DataView, index: number, offset: number, copied: boolean, zero: boolean): void {
  const hi = Math.floor(offset / TWO_32) | (copied ? ENTRY_COPIED_HI : 0);
  const lo = (offset % TWO_32) | (zero ? ENTRY_ZERO_LO : 0);
  view.setUint32(index * 8, hi >>> 0);
  view.setUint32(index * 8 + 4, lo >>> 0);
}

/** Read a big-endian 64-bit value as a number; throws when it is not exactly representable. */
export function readU64(view: DataView, at: number, image: string, field: string): number {
  const value = view.getUint32(at) * TWO_32 + view.getUint32(at + 4);
  if (!Number.isSafeInteger(value)) throw fieldError(image, field, at, `value ${view.getBigUint64(at)} is too large`);
  return value;
}

/** Write `value` as a big-endian 64-bit number. */
export function writeU64(view: DataView, at: number, value: number): void {
  view.setUint32(at, Math.floor(value / TWO_32));
  view.setUint32(at + 4, value % TWO_32);
}

/** StorageError for a header field: names the field and its byte offset. */
export function fieldError(image: string, field: string, at: number, problem: string): StorageError {
  return new StorageError(image, `qcow2 header field ${field} (byte ${at}): ${problem}`);
}

/** The decoded, validated qcow2 header. */
export interface Qcow2Header {
  readonly version: 2 | 3;
  readonly clusterBits: number;
  readonly clusterSize: number;
  readonly sizeBytes: number;
  readonly l1Size: number;
  readonly l1TableOffset: number;
  readonly refcountTableOffset: number;
  readonly refcountTableClusters: number;
  readonly nbSnapshots: number;
  readonly snapshotsOffset: number;
  readonly incompatibleFeatures: bigint;
  readonly compatibleFeatures: bigint;
  readonly autoclearFeatures: bigint;
  readonly refcountOrder: number;
  readonly headerLength: number;
  /** Backing file name, or undefined when the image has none. */
  readonly backingFile: string | undefined;
  /** Backing format from the header extension ("raw", "qcow2", ...), if present. */
  readonly backingFormat: string | undefined;
}

/** Names of incompatible features we know, for error messages. */
const INCOMPATIBLE_NAMES: Record<number, string> = {
  [IncompatibleFeature.Dirty]: 'dirty',
  [IncompatibleFeature.Corrupt]: 'corrupt',
  [IncompatibleFeature.ExternalDataFile]: 'external data file',
  [IncompatibleFeature.CompressionType]: 'compression type',
  [IncompatibleFeature.ExtendedL2]: 'extended L2 entries',
};

/**
 * Read and validate the header (and its extensions) of the qcow2 image in `file`.
 * Throws StorageError naming the field for: truncation, bad magic/version, cluster_bits
 * out of 9..21, encryption, unsupported refcount_order, bad header_length, any incompatible
 * feature bit, unaligned or out-of-file table offsets, an L1 table too small for the size.
 */
export function parseQcow2Header(file: RandomAccessFile): Qcow2Header {
  const image = file.name;
  const fileSize = file.size();
  if (fileSize < HeaderField.V2Length) {
    throw new StorageError(image, `qcow2 header is truncated: the file has ${fileSize} bytes, a header needs at least ${HeaderField.V2Length}`);
  }
  const head = new Uint8Array(HeaderField.V3MinLength);
  file.read(0, head);
  const hv = new DataView(head.buffer);
  const magic = hv.getUint32(HeaderField.Magic);
  if (magic !== QCOW2_MAGIC) throw fieldError(image, 'magic', HeaderField.Magic, `0x${magic.toString(16)} is not the qcow2 magic "QFI\\xfb"`);
  const version = hv.getUint32(HeaderField.Version);
  if (version !== 2 && version !== 3) throw fieldError(image, 'version', HeaderField.Version, `${version} is not supported (2 or 3)`);
  const clusterBits = hv.getUint32(HeaderField.ClusterBits);
  if (clusterBits < MIN_CLUSTER_BITS || clusterBits > MAX_CLUSTER_BITS) {
    throw fieldError(image, 'cluster_bits', HeaderField.ClusterBits, `${clusterBits} is outside ${MIN_CLUSTER_BITS}..${MAX_CLUSTER_BITS}`);
  }
  const clusterSize = 2 ** clusterBits;
  const headerLength = version === 2 ? HeaderField.V2Length : hv.getUint32(HeaderField.HeaderLength);
  if (version === 3) {
    if (fileSize < HeaderField.V3MinLength) {
      throw new StorageError(image, `qcow2 header is truncated: the file has ${fileSize} bytes, a version 3 header needs ${HeaderField.V3MinLength}`);
    }
    if (headerLength < HeaderField.V3MinLength || headerLength % 8 !== 0 || headerLength > clusterSize) {
      throw fieldError(image, 'header_length', HeaderField.HeaderLength, `${headerLength} must be a multiple of 8 between ${HeaderField.V3MinLength} and the cluster size ${clusterSize}`);
    }
  }
  // The header and its extensions live in the first cluster.
  const first = new Uint8Array(clusterSize);
  file.read(0, first);
  const view = new DataView(first.buffer);
  const sizeBytes = readU64(view, HeaderField.Size, image, 'size');
  const cryptMethod = view.getUint32(HeaderField.CryptMethod);
  if (cryptMethod !== 0) throw fieldError(image, 'crypt_method', HeaderField.CryptMethod, `${cryptMethod}: encrypted images are not supported`);
  const v3 = version === 3;
  const incompatibleFeatures = v3 ? view.getBigUint64(HeaderField.IncompatibleFeatures) : 0n;
  const compatibleFeatures = v3 ? view.getBigUint64(HeaderField.CompatibleFeatures) : 0n;
  const autoclearFeatures = v3 ? view.getBigUint64(HeaderField.AutoclearFeatures) : 0n;
  const refcountOrder = v3 ? view.getUint32(HeaderField.RefcountOrder) : SUPPORTED_REFCOUNT_ORDER;
  const extensions = readExtensions(image, view, headerLength, clusterSize);
  checkIncompatibleFeatures(image, incompatibleFeatures, extensions.featureNames);
  if (refcountOrder !== SUPPORTED_REFCOUNT_ORDER) {
    throw fieldError(image, 'refcount_order', HeaderField.RefcountOrder, `${refcountOrder} (${2 ** refcountOrder}-bit refcounts) is not supported; only 4 (16-bit refcounts) is`);
  }
  const header: Qcow2Header = {
    version,
    clusterBits,
    clusterSize,
    sizeBytes,
    l1Size: view.getUint32(HeaderField.L1Size),
    l1TableOffset: readU64(view, HeaderField.L1TableOffset, image, 'l1_table_offset'),
    refcountTableOffset: readU64(view, HeaderField.RefcountTableOffset, image, 'refcount_table_offset'),
    refcountTableClusters: view.getUint32(HeaderField.RefcountTableClusters),
    nbSnapshots: view.getUint32(HeaderField.NbSnapshots),
    snapshotsOffset: readU64(view, HeaderField.SnapshotsOffset, image, 'snapshots_offset'),
    incompatibleFeatures,
    compatibleFeatures,
    autoclearFeatures,
    refcountOrder,
    headerLength,
    backingFile: readBackingName(image, view, fileSize),
    backingFormat: extensions.backingFormat,
  };
  checkTables(image, header, fileSize);
  return header;
}

/** Known contents of the header extension area. */
interface Extensions {
  backingFormat: string | undefined;
  /** Feature names by "type:bit" (type 0 incompatible, 1 compatible, 2 autoclear). */
  featureNames: Map<string, string>;
}

/** Walk the header extensions (8-byte aligned records after the header); unknown types are skipped. */
function readExtensions(image: string, view: DataView, headerLength: number, clusterSize: number): Extensions {
  const result: Extensions = { backingFormat: undefined, featureNames: new Map() };
  let at = headerLength;
  while (at + 8 <= clusterSize) {
    const type = view.getUint32(at);
    const length = view.getUint32(at + 4);
    if (type === HeaderExtension.End) break;
    const data = at + 8;
    if (data + length > clusterSize) {
      throw new StorageError(image, `qcow2 header extension 0x${type.toString(16)} at byte ${at} has length ${length}, which runs past the first cluster`);
    }
    if (type === HeaderExtension.BackingFormat) {
      result.backingFormat = decodeString(view, data, length);
    } else if (type === HeaderExtension.FeatureNameTable) {
      for (let entry = data; entry + 48 <= data + length; entry += 48) {
        result.featureNames.set(`${view.getUint8(entry)}:${view.getUint8(entry + 1)}`, decodeString(view, entry + 2, 46).replace(/\0.*$/s, ''));
      }
    }
    at = data + Math.ceil(length / 8) * 8;
  }
  return result;
}

/** Refuse every incompatible feature bit (we support none of them), naming it. */
function checkIncompatibleFeatures(image: string, bits: bigint, featureNames: Map<string, string>): void {
  if (bits === 0n) return;
  const at = HeaderField.IncompatibleFeatures;
  if (bits & (1n << BigInt(IncompatibleFeature.Dirty))) {
    throw fieldError(image, 'incompatible_features', at, 'the dirty bit is set (refcounts may be inconsistent); repair the image with `qemu-img check -r all` first');
  }
  if (bits & (1n << BigInt(IncompatibleFeature.Corrupt))) {
    throw fieldError(image, 'incompatible_features', at, 'the corrupt bit is set; the image must be repaired (`qemu-img check -r all`) before use');
  }
  for (let bit = 2; bit < 64; bit++) {
    if (!(bits & (1n << BigInt(bit)))) continue;
    const name = INCOMPATIBLE_NAMES[bit] ?? featureNames.get(`0:${bit}`);
    throw fieldError(image, 'incompatible_features', at, name === undefined ? `unknown feature bit ${bit} is set` : `feature "${name}" (bit ${bit}) is not supported`);
  }
}

/** The backing file name (header bytes 8-19), or undefined. */
function readBackingName(image: string, view: DataView, fileSize: number): string | undefined {
  const offset = readU64(view, HeaderField.BackingFileOffset, image, 'backing_file_offset');
  if (offset === 0) return undefined;
  const size = view.getUint32(HeaderField.BackingFileSize);
  if (size === 0 || size > MAX_BACKING_NAME) throw fieldError(image, 'backing_file_size', HeaderField.BackingFileSize, `${size} must be 1..${MAX_BACKING_NAME}`);
  if (offset + size > view.byteLength || offset + size > fileSize) {
    throw fieldError(image, 'backing_file_offset', HeaderField.BackingFileOffset, `name at ${offset} (+${size} bytes) lies outside the first cluster or the file`);
  }
  return decodeString(view, offset, size);
}

/** Table placement checks: cluster alignment, inside the file, L1 large enough for the size. */
function checkTables(image: string, h: Qcow2Header, fileSize: number): void {
  const cs = h.clusterSize;
  checkArea(image, 'l1_table_offset', HeaderField.L1TableOffset, h.l1TableOffset, h.l1Size * 8, cs, fileSize);
  checkArea(image, 'refcount_table_offset', HeaderField.RefcountTableOffset, h.refcountTableOffset, h.refcountTableClusters * cs, cs, fileSize);
  if (h.refcountTableClusters === 0) throw fieldError(image, 'refcount_table_clusters', HeaderField.RefcountTableClusters, 'is 0');
  if (h.nbSnapshots > 0 && h.snapshotsOffset % cs !== 0) {
    throw fieldError(image, 'snapshots_offset', HeaderField.SnapshotsOffset, `${h.snapshotsOffset} is not aligned to the cluster size ${cs}`);
  }
  const bytesPerL1Entry = cs * (cs / 8);
  const needed = Math.ceil(h.sizeBytes / bytesPerL1Entry);
  if (h.l1Size < needed) {
    throw fieldError(image, 'l1_size', HeaderField.L1Size, `${h.l1Size} entries cannot map the virtual size ${h.sizeBytes} (needs ${needed})`);
  }
}

/** A table of `length` bytes at `offset` must be cluster aligned and inside the file. */
function checkArea(image: string, field: string, at: number, offset: number, length: number, cs: number, fileSize: number): void {
  if (offset % cs !== 0) throw fieldError(image, field, at, `${offset} is not aligned to the cluster size ${cs}`);
  if (offset === 0 && length > 0) throw fieldError(image, field, at, 'table overlaps the header at offset 0');
  if (offset + length > fileSize) throw fieldError(image, field, at, `table at ${offset} (+${length} bytes) runs past the end of the file (${fileSize} bytes)`);
}

/** Bytes [at, at+length) of `view` decoded as UTF-8. */
function decodeString(view: DataView, at: number, length: number): string {
  return new TextDecoder('utf-8').decode(new Uint8Array(view.buffer, view.byteOffset + at, length));
}
