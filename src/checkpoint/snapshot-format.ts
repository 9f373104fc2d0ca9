/**
 * Snapshot file format (version 1): constants, section types, the typed error, and the
 * encoders/parsers of the fixed-size parts (file header, section header, frame-table entry, end
 * body) shared by the writer and the reader. The layout byte by byte is in
 * src/checkpoint/snapshot-format.md; DESIGN.md "State" and "Migration" give the idea: an
 * envelope (magic, format version, checksums, component versions) around sections that each
 * carry a type, an index, a version and a length.
 *
 * All integers are little-endian. Every byte of a valid file lies in a region covered by a
 * CRC-32: the file header and each section header by their own, small section bodies and frame
 * tables by the section header's, each frame record by its table entry's.
 */

/** File magic: 0x89 'X' '8' '6' 'S' 'N' 'P' '\n' (the high first byte and the newline catch text-mode mangling). */
export const SNAPSHOT_MAGIC: readonly number[] = [0x89, 0x58, 0x38, 0x36, 0x53, 0x4e, 0x50, 0x0a];
/** The format version this code writes and the only one it reads. */
export const SNAPSHOT_FORMAT_VERSION = 1;
/** Bytes of the file header. */
export const FILE_HEADER_BYTES = 24;
/** Bytes of every section header. */
export const SECTION_HEADER_BYTES = 24;
/** Bytes of a frame-table entry. */
export const FRAME_ENTRY_BYTES = 12;
/** Bytes of the END section's body. */
export const END_BODY_BYTES = 16;
/** Bytes of a guest frame. */
export const SNAPSHOT_FRAME_BYTES = 4096;
/** Most guest frames a snapshot describes (4 GiB of RAM). */
export const MAX_FRAME_COUNT = 1 << 20;
/** Most entries one FRAMES section holds (the reader's limit; the writer uses FRAMES_PER_SECTION). */
export const MAX_ENTRIES_PER_SECTION = 65536;
/** Entries per FRAMES section the writer emits (at most 1 MiB of raw frames buffered). */
export const FRAMES_PER_SECTION = 256;
/** Largest MANIFEST, CONFIG or STATE body the reader accepts. */
export const MAX_SMALL_SECTION_BYTES = 256 * 1024 * 1024;
/** Largest section length (2^53 - 1: file offsets stay exact doubles). */
const MAX_SECTION_LENGTH = Number.MAX_SAFE_INTEGER;

/** Section types, in the order they appear in a file (FRAMES zero or more times). */
export enum SectionType {
  Invalid = 0,
  Manifest = 1,
  Config = 2,
  State = 3,
  Frames = 4,
  End = 5,
}

/** Layout version of each section type this code writes and reads. */
export const SECTION_VERSION = 1;

/** How a frame record is stored (bits 16..23 of a table entry's info word). */
export enum FrameEncoding {
  Invalid = 0,
  /** All zeros; no stored bytes (only in diff snapshots: full snapshots leave zero frames out). */
  Zero = 1,
  /** The 4096 bytes as they are. */
  Raw = 2,
  /** Raw DEFLATE (RFC 1951) of the 4096 bytes, 1..4095 stored bytes. */
  DeflateRaw = 3,
}

/** Thrown for a snapshot that cannot be written or read; names the file, the section and the byte offset. */
export class SnapshotError extends Error {
  constructor(
    /** The file (or buffer) name. */
    readonly file: string,
    /** The section (`MANIFEST`, `FRAMES#2`, `file header`, ...). */
    readonly section: string,
    /** Byte offset in the file where the problem is (-1 when none applies). */
    readonly offset: number,
    /** The problem. */
    readonly problem: string,
  ) {
    super(`snapshot ${file}: ${section}${offset >= 0 ? ` at offset ${offset}` : ''}: ${problem}`);
    this.name = 'SnapshotError';
  }
}

/** Names a section for messages: its type name, plus the ordinal for FRAMES sections. */
export function sectionName(type: number, framesOrdinal = -1): string {
  const name = SectionType[type] === undefined || type === SectionType.Invalid ? `type ${type}` : SectionType[type].toUpperCase();
  return type === SectionType.Frames && framesOrdinal >= 0 ? `${name}#${framesOrdinal}` : name;
}

/** A snapshot's identity: 16 hex digits (CRC-32 then CRC-32C of the file's identity bytes). */
export type SnapshotId = string;

/** What a diff snapshot names as its base. */
export interface ParentRef {
  /** The parent snapshot's id. */
  readonly id: SnapshotId;
}

/** The MANIFEST section's content: what a reader learns before any state. */
export interface SnapshotManifest {
  /** 'full': every non-zero frame is in the file. 'diff': only frames dirtied since `parent`. */
  readonly kind: 'full' | 'diff';
  /** Guest frames of RAM the snapshot describes. */
  readonly frameCount: number;
  /** Bytes per frame (always 4096). */
  readonly frameBytes: number;
  /** Version of the device-state tree (`state.version`). */
  readonly stateVersion: number;
  /** Component id → its state version, as in the state tree. */
  readonly components: Readonly<Record<string, number>>;
  /** The base of a diff snapshot; null for a full one. */
  readonly parent: ParentRef | null;
}

/** Header of one section as parsed. */
export interface SectionHeader {
  readonly type: number;
  readonly version: number;
  readonly index: number;
  readonly length: number;
  readonly bodyCrc: number;
  readonly headerCrc: number;
}

/** Writes the file header (magic, version, reserved zero, CRC) into `out` (24 bytes); the caller fills the CRC. */
export function encodeFileHeaderFields(out: Uint8Array): void {
  out.set(SNAPSHOT_MAGIC, 0);
  const view = viewOf(out);
  view.setUint32(8, SNAPSHOT_FORMAT_VERSION, true);
  view.setUint32(12, 0, true);
  view.setUint32(16, 0, true);
}

/** Writes a section header's first 20 bytes into `out`; the caller fills the header CRC at 20. */
export function encodeSectionHeaderFields(out: Uint8Array, type: SectionType, index: number, length: number, bodyCrc: number): void {
  const view = viewOf(out);
  view.setUint16(0, type, true);
  view.setUint16(2, SECTION_VERSION, true);
  view.setUint32(4, index, true);
  view.setUint32(8, length % 0x100000000, true);
  view.setUint32(12, Math.floor(length / 0x100000000), true);
  view.setUint32(16, bodyCrc >>> 0, true);
}

/** Parses the 24 bytes of a section header (no checks beyond reading). */
export function parseSectionHeader(bytes: Uint8Array): SectionHeader & { lengthHigh: number } {
  const view = viewOf(bytes);
  const lengthHigh = view.getUint32(12, true);
  return {
    type: view.getUint16(0, true),
    version: view.getUint16(2, true),
    index: view.getUint32(4, true),
    length: view.getUint32(8, true) + lengthHigh * 0x100000000,
    lengthHigh,
    bodyCrc: view.getUint32(16, true),
    headerCrc: view.getUint32(20, true),
  };
}

/** Whether a length parsed from a header stays below 2^53. */
export function sectionLengthIsExact(lengthHigh: number, length: number): boolean {
  return lengthHigh < 0x200000 && length <= MAX_SECTION_LENGTH;
}

/** Packs a table entry's info word: encoding in bits 16..23, stored length in bits 0..15 (4096 needs 13). */
export function entryInfo(encoding: FrameEncoding, storedLength: number): number {
  return ((encoding << 16) | storedLength) >>> 0;
}

/** The problem with an entry's info word, or null when it is valid. */
export function entryInfoProblem(info: number, kind: 'full' | 'diff'): string | null {
  if (info >>> 24 !== 0) return `reserved bits set in info word 0x${info.toString(16)}`;
  const encoding = (info >>> 16) & 0xff;
  const stored = info & 0xffff;
  switch (encoding) {
    case FrameEncoding.Zero:
      if (kind === 'full') return 'ZERO entry in a full snapshot (zero frames are left out)';
      return stored === 0 ? null : `ZERO entry with ${stored} stored bytes`;
    case FrameEncoding.Raw:
      return stored === SNAPSHOT_FRAME_BYTES ? null : `RAW entry with ${stored} stored bytes (expected 4096)`;
    case FrameEncoding.DeflateRaw:
      return stored >= 1 && stored < SNAPSHOT_FRAME_BYTES ? null : `DEFLATE entry with ${stored} stored bytes (expected 1..4095)`;
    default:
      return `unknown frame encoding ${encoding}`;
  }
}

/** Formats the two identity CRCs as a SnapshotId. */
export function formatSnapshotId(crcA: number, crcB: number): SnapshotId {
  return (crcA >>> 0).toString(16).padStart(8, '0') + (crcB >>> 0).toString(16).padStart(8, '0');
}

/** A DataView over exactly `bytes`. */
export function viewOf(bytes: Uint8Array): DataView {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}
