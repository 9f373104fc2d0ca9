/**
 * Snapshot reader: opens a snapshot file (layout: snapshot-format.md) from a random-access
 * SnapshotSource. `openSnapshot` checks the whole envelope up front — file header, every
 * section header, the MANIFEST/CONFIG/STATE bodies and every FRAMES table against their CRCs,
 * the section order, the frame tables' order and extent, the END totals and the snapshot id —
 * and decodes config and state. Frame records are checked when `readFrame` reads them, so a
 * lazy restore can fault frames in one by one without reading the rest of the file. The reader
 * never writes to its source, and `readFrame` leaves `dst` untouched when it throws.
 */

import { CodecError, decode } from '../persist/codec.js';
import { crc32, crc32c } from './crc32.js';
import { defaultFrameCompressor, type FrameCompressor } from './frame-compression.js';
import { fileSource, type SnapshotSource } from './snapshot-io.js';
import {
  END_BODY_BYTES,
  entryInfoProblem,
  FILE_HEADER_BYTES,
  formatSnapshotId,
  FRAME_ENTRY_BYTES,
  FrameEncoding,
  MAX_ENTRIES_PER_SECTION,
  MAX_FRAME_COUNT,
  MAX_SMALL_SECTION_BYTES,
  type ParentRef,
  parseSectionHeader,
  SECTION_HEADER_BYTES,
  SECTION_VERSION,
  sectionLengthIsExact,
  sectionName,
  SectionType,
  SNAPSHOT_FORMAT_VERSION,
  SNAPSHOT_FRAME_BYTES,
  SNAPSHOT_MAGIC,
  type SnapshotId,
  type SnapshotManifest,
  SnapshotError,
  viewOf,
} from './snapshot-format.js';

/** An opened snapshot: its envelope checked, config and state decoded, frames readable on demand. */
export interface OpenSnapshot {
  /** The source's name. */
  readonly file: string;
  /** This snapshot's id (a diff over it names it as parent). */
  readonly id: SnapshotId;
  /** The MANIFEST: kind, frame count, state and component versions, parent. */
  readonly header: SnapshotManifest;
  /** The machine config as written. */
  readonly config: unknown;
  /** The device-state tree as written (`{ version, components }`). */
  readonly state: unknown;
  /** Guest frames of RAM. */
  readonly frameCount: number;
  /** Frames with a record in this file, ascending (full: the non-zero frames; diff: the dirtied ones). */
  readonly frames: Uint32Array;
  /** The base of a diff, or null. */
  readonly parent: ParentRef | null;
  /** Whether this file holds a record for `gfn`. */
  hasFrame(gfn: number): boolean;
  /**
   * Fills `dst` (4096 bytes) with guest frame `gfn`: its record, checked; zeros for a frame a
   * full snapshot left out; for a frame a diff does not hold, the parent's copy (the parent
   * given to openSnapshot) or a SnapshotError when no parent was given.
   */
  readFrame(gfn: number, dst: Uint8Array): void;
}

/** Reader options. */
export interface SnapshotOpenOptions {
  /** Decompressor for DEFLATE records. Default: node:zlib in Node; elsewhere reading such a record throws. */
  readonly compressor?: FrameCompressor | null;
  /** For a diff: the opened parent, checked against the recorded parent id and used for frames the diff lacks. */
  readonly parent?: OpenSnapshot;
}

/** Opens and checks a snapshot; throws SnapshotError naming the file, section and offset of the first problem. */
export function openSnapshot(source: SnapshotSource, options: SnapshotOpenOptions = {}): OpenSnapshot {
  return new SnapshotReader(source, options).open();
}

/** Opens the snapshot file at `path`; `close()` releases the file (frames cannot be read after it). */
export function openSnapshotFile(path: string, options: SnapshotOpenOptions = {}): OpenSnapshot & { close(): void } {
  const source = fileSource(path);
  try {
    return Object.assign(openSnapshot(source, options), { close: () => source.close() });
  } catch (e) {
    source.close();
    throw e;
  }
}

/** The frame index: per guest frame, where its record is and how it is stored. */
interface FrameIndex {
  /** File offset of each frame's record. */
  readonly offsets: Float64Array;
  /** Table info word per frame; 0 = no record. */
  readonly infos: Uint32Array;
  /** CRC-32 of each frame's stored bytes. */
  readonly crcs: Uint32Array;
  /** Start offsets of the FRAMES sections, ascending (to name a section from an offset). */
  readonly sectionStarts: number[];
  /** Frames with records, ascending. */
  readonly present: Uint32Array;
}

/** The open pass over one source. */
class SnapshotReader {
  private readonly file: string;
  private readonly size: number;
  private offset = 0;
  private sectionIndex = 0;
  private idCrc = 0;
  private idCrcC = 0;

  constructor(private readonly source: SnapshotSource, private readonly options: SnapshotOpenOptions) {
    this.file = source.name;
    this.size = source.size;
  }

  private fail(section: string, offset: number, problem: string): never {
    throw new SnapshotError(this.file, section, offset, problem);
  }

  /** Reads exactly `length` bytes at `position`, or fails as a truncation of `section`. */
  private read(position: number, length: number, section: string, what: string): Uint8Array {
    if (position + length > this.size) {
      this.fail(section, position, `truncated: ${what} needs ${length} bytes, the file has ${Math.max(0, this.size - position)} left`);
    }
    const bytes = new Uint8Array(length);
    const n = this.source.readAt(position, bytes);
    if (n !== length) this.fail(section, position + n, `truncated: short read of ${what} (${n} of ${length} bytes)`);
    return bytes;
  }

  private addIdentity(bytes: Uint8Array): void {
    this.idCrc = crc32(bytes, this.idCrc);
    this.idCrcC = crc32c(bytes, this.idCrcC);
  }

  open(): OpenSnapshot {
    this.readFileHeader();
    const manifest = this.readManifest(this.readSmallSection(SectionType.Manifest));
    const configStart = this.offset;
    const config = this.decodeBody(SectionType.Config, this.readSmallSection(SectionType.Config), configStart);
    const stateStart = this.offset;
    const state = this.decodeBody(SectionType.State, this.readSmallSection(SectionType.State), stateStart);
    this.checkStateMatchesManifest(state, manifest, stateStart);
    const index = this.readFrameSections(manifest);
    const id = formatSnapshotId(this.idCrc, this.idCrcC);
    this.readEnd(index);
    const parent = this.checkParent(manifest);
    return this.snapshot(id, manifest, config, state, index, parent);
  }

  private readFileHeader(): void {
    const section = 'file header';
    if (this.size < FILE_HEADER_BYTES) this.fail(section, this.size, `truncated: ${this.size} bytes, not even a file header (${FILE_HEADER_BYTES})`);
    const header = this.read(0, FILE_HEADER_BYTES, section, 'the file header');
    for (let i = 0; i < SNAPSHOT_MAGIC.length; i++) {
      if (header[i] !== SNAPSHOT_MAGIC[i]) this.fail(section, i, 'bad magic: not a snapshot file');
    }
    const view = viewOf(header);
    if (crc32(header.subarray(0, 20)) !== view.getUint32(20, true)) this.fail(section, 20, 'checksum mismatch (file header damaged)');
    const version = view.getUint32(8, true);
    if (version !== SNAPSHOT_FORMAT_VERSION) this.fail(section, 8, `unsupported format version ${version} (this reader supports ${SNAPSHOT_FORMAT_VERSION})`);
    if (view.getUint32(12, true) !== 0 || view.getUint32(16, true) !== 0) this.fail(section, 12, 'reserved fields not zero');
    this.addIdentity(header);
    this.offset = FILE_HEADER_BYTES;
  }

  /** Reads and checks the next section header; `expected` lists the types allowed here. */
  private readSectionHeader(expected: readonly SectionType[], framesOrdinal: number) {
    const at = this.offset;
    const wanted = expected.map((t) => sectionName(t)).join(' or ');
    if (at === this.size) this.fail(wanted, at, `truncated: the file ends where the ${wanted} section should start`);
    const bytes = this.read(at, SECTION_HEADER_BYTES, wanted, 'a section header');
    const header = parseSectionHeader(bytes);
    if (crc32(bytes.subarray(0, 20)) !== header.headerCrc) this.fail(wanted, at, 'section header checksum mismatch (header damaged)');
    const name = sectionName(header.type, framesOrdinal);
    if (!expected.includes(header.type)) this.fail(name, at, `unexpected section ${sectionName(header.type)} (expected ${wanted})`);
    if (header.version !== SECTION_VERSION) this.fail(name, at + 2, `unsupported section version ${header.version} (this reader supports ${SECTION_VERSION})`);
    if (header.index !== this.sectionIndex) this.fail(name, at + 4, `section index ${header.index}, expected ${this.sectionIndex} (sections out of order)`);
    if (!sectionLengthIsExact(header.lengthHigh, header.length)) this.fail(name, at + 8, 'section length beyond 2^53');
    const bodyStart = at + SECTION_HEADER_BYTES;
    if (bodyStart + header.length > this.size) {
      this.fail(name, bodyStart, `truncated: the body needs ${header.length} bytes, the file has ${this.size - bodyStart} left`);
    }
    this.sectionIndex++;
    return { header, bytes, name, at, bodyStart };
  }

  private readSmallSection(type: SectionType): Uint8Array {
    const { header, bytes, name, bodyStart } = this.readSectionHeader([type], -1);
    if (header.length > MAX_SMALL_SECTION_BYTES) this.fail(name, bodyStart - 16, `body of ${header.length} bytes exceeds the limit ${MAX_SMALL_SECTION_BYTES}`);
    const body = this.read(bodyStart, header.length, name, 'the section body');
    if (crc32(body) !== header.bodyCrc) this.fail(name, bodyStart, 'body checksum mismatch (section damaged)');
    this.addIdentity(bytes);
    this.addIdentity(body);
    this.offset = bodyStart + header.length;
    return body;
  }

  private decodeBody(type: SectionType, body: Uint8Array, sectionStart: number): unknown {
    try {
      return decode(body);
    } catch (e) {
      if (!(e instanceof CodecError)) throw e;
      return this.fail(sectionName(type), sectionStart + SECTION_HEADER_BYTES + e.offset, `body does not decode: ${e.problem}`);
    }
  }

  /** Decodes and validates the MANIFEST, naming the field on a problem. */
  private readManifest(body: Uint8Array): SnapshotManifest {
    const start = FILE_HEADER_BYTES + SECTION_HEADER_BYTES;
    const value = this.decodeBody(SectionType.Manifest, body, FILE_HEADER_BYTES);
    const bad = (field: string, problem: string): never => this.fail('MANIFEST', start, `field '${field}': ${problem}`);
    if (!isRecord(value)) return bad('(root)', 'expected an object');
    const kind = value.kind;
    if (kind !== 'full' && kind !== 'diff') bad('kind', `expected 'full' or 'diff', got ${String(kind)}`);
    const frameCount = intField(value.frameCount, 0, MAX_FRAME_COUNT) ?? bad('frameCount', `expected an integer in [0, ${MAX_FRAME_COUNT}]`);
    if (value.frameBytes !== SNAPSHOT_FRAME_BYTES) bad('frameBytes', `expected ${SNAPSHOT_FRAME_BYTES}, got ${String(value.frameBytes)}`);
    const stateVersion = intField(value.stateVersion, 0, Number.MAX_SAFE_INTEGER) ?? bad('stateVersion', 'expected a non-negative integer');
    if (!isRecord(value.components)) bad('components', 'expected an object of component id → version');
    const components = value.components as Record<string, unknown>;
    for (const [id, version] of Object.entries(components)) {
      if (intField(version, 0, Number.MAX_SAFE_INTEGER) === null) bad(`components.${id}`, `expected a non-negative integer version, got ${String(version)}`);
    }
    const parent = value.parent;
    if (kind === 'full' && parent !== null) bad('parent', 'a full snapshot has no parent');
    if (kind === 'diff' && !(isRecord(parent) && typeof parent.id === 'string' && /^[0-9a-f]{16}$/.test(parent.id))) {
      bad('parent', 'a diff snapshot needs { id: 16 hex digits }');
    }
    return {
      kind: kind as 'full' | 'diff',
      frameCount,
      frameBytes: SNAPSHOT_FRAME_BYTES,
      stateVersion,
      components: components as Record<string, number>,
      parent: kind === 'diff' ? { id: (parent as { id: string }).id } : null,
    };
  }

  /** The state tree must be `{ version, components }` with the ids and versions the manifest lists. */
  private checkStateMatchesManifest(state: unknown, manifest: SnapshotManifest, sectionStart: number): void {
    const bad = (problem: string): never => this.fail('STATE', sectionStart, problem);
    if (!isRecord(state) || !isRecord(state.components)) return bad('expected { version, components }');
    if (state.version !== manifest.stateVersion) bad(`state version ${String(state.version)} differs from the manifest's ${manifest.stateVersion}`);
    const stateIds = Object.keys(state.components);
    const manifestIds = Object.keys(manifest.components);
    if (stateIds.length !== manifestIds.length) bad(`${stateIds.length} components, the manifest lists ${manifestIds.length}`);
    for (const id of manifestIds) {
      const saved = Object.prototype.hasOwnProperty.call(state.components, id) ? (state.components as Record<string, unknown>)[id] : undefined;
      const version = isRecord(saved) ? saved.version : undefined;
      if (version !== manifest.components[id]) bad(`component '${id}' has version ${String(version)}, the manifest lists ${manifest.components[id]}`);
    }
  }

  /** Reads every FRAMES section's table, checking CRCs, order and extent; builds the frame index. */
  private readFrameSections(manifest: SnapshotManifest): FrameIndex {
    const frameCount = manifest.frameCount;
    const offsets = new Float64Array(frameCount);
    const infos = new Uint32Array(frameCount);
    const crcs = new Uint32Array(frameCount);
    const sectionStarts: number[] = [];
    const present: number[] = [];
    for (let ordinal = 0; ; ordinal++) {
      const { header, bytes, name, at, bodyStart } = this.readSectionHeader([SectionType.Frames, SectionType.End], ordinal);
      if (header.type === SectionType.End) {
        this.offset = at;
        this.sectionIndex--;
        break;
      }
      sectionStarts.push(at);
      this.addIdentity(bytes);
      const countBytes = this.read(bodyStart, 4, name, 'the entry count');
      const count = viewOf(countBytes).getUint32(0, true);
      const tableBytes = 4 + count * FRAME_ENTRY_BYTES;
      if (count < 1 || count > MAX_ENTRIES_PER_SECTION || tableBytes > header.length) {
        this.fail(name, bodyStart, `entry count ${count} impossible for a body of ${header.length} bytes (1..${MAX_ENTRIES_PER_SECTION} entries)`);
      }
      const table = this.read(bodyStart, tableBytes, name, 'the frame table');
      if (crc32(table) !== header.bodyCrc) this.fail(name, bodyStart, 'frame table checksum mismatch (table damaged)');
      this.addIdentity(table);
      const view = viewOf(table);
      let recordAt = bodyStart + tableBytes;
      for (let e = 0; e < count; e++) {
        const entryAt = bodyStart + 4 + e * FRAME_ENTRY_BYTES;
        const gfn = view.getUint32(4 + e * FRAME_ENTRY_BYTES, true);
        const info = view.getUint32(8 + e * FRAME_ENTRY_BYTES, true);
        const previous = present.length > 0 ? present[present.length - 1] : -1;
        if (gfn >= frameCount) this.fail(name, entryAt, `entry ${e}: frame ${gfn} outside the ${frameCount} frames of RAM`);
        if (gfn <= previous) this.fail(name, entryAt, `entry ${e}: frame ${gfn} not after frame ${previous} (frames must ascend)`);
        const problem = entryInfoProblem(info, manifest.kind);
        if (problem !== null) this.fail(name, entryAt + 4, `entry ${e} (frame ${gfn}): ${problem}`);
        offsets[gfn] = recordAt;
        infos[gfn] = info;
        crcs[gfn] = view.getUint32(12 + e * FRAME_ENTRY_BYTES, true);
        present.push(gfn);
        recordAt += info & 0xffff;
      }
      if (recordAt !== bodyStart + header.length) {
        this.fail(name, bodyStart, `records take ${recordAt - bodyStart - tableBytes} bytes, the body has ${header.length - tableBytes} after the table`);
      }
      this.offset = recordAt;
    }
    return { offsets, infos, crcs, sectionStarts, present: Uint32Array.from(present) };
  }

  /** Reads the END section: totals and the snapshot id must match; nothing may follow it. */
  private readEnd(index: FrameIndex): void {
    const { header, name, bodyStart } = this.readSectionHeader([SectionType.End], -1);
    if (header.length !== END_BODY_BYTES) this.fail(name, bodyStart - 16, `body of ${header.length} bytes, expected ${END_BODY_BYTES}`);
    const body = this.read(bodyStart, END_BODY_BYTES, name, 'the END body');
    if (crc32(body) !== header.bodyCrc) this.fail(name, bodyStart, 'body checksum mismatch (section damaged)');
    const view = viewOf(body);
    if (view.getUint32(0, true) !== index.sectionStarts.length) this.fail(name, bodyStart, `records ${view.getUint32(0, true)} FRAMES sections, the file has ${index.sectionStarts.length}`);
    if (view.getUint32(4, true) !== index.present.length) this.fail(name, bodyStart + 4, `records ${view.getUint32(4, true)} frames, the tables list ${index.present.length}`);
    if (view.getUint32(8, true) !== this.idCrc || view.getUint32(12, true) !== this.idCrcC) this.fail(name, bodyStart + 8, 'snapshot id does not match the file (damaged)');
    const end = bodyStart + END_BODY_BYTES;
    if (end !== this.size) this.fail(name, end, `${this.size - end} bytes after the END section`);
  }

  private checkParent(manifest: SnapshotManifest): OpenSnapshot | null {
    const given = this.options.parent;
    if (manifest.parent === null) {
      if (given !== undefined) this.fail('MANIFEST', FILE_HEADER_BYTES, 'a parent was given but this is a full snapshot');
      return null;
    }
    if (given === undefined) return null;
    if (given.id !== manifest.parent.id) this.fail('MANIFEST', FILE_HEADER_BYTES, `wrong parent: this diff applies over snapshot ${manifest.parent.id}, the given parent ${given.file} is ${given.id}`);
    if (given.frameCount !== manifest.frameCount) this.fail('MANIFEST', FILE_HEADER_BYTES, `parent has ${given.frameCount} frames, this diff ${manifest.frameCount}`);
    return given;
  }

  private snapshot(id: SnapshotId, manifest: SnapshotManifest, config: unknown, state: unknown, index: FrameIndex, parent: OpenSnapshot | null): OpenSnapshot {
    const frames = new FrameFetcher(this.source, index, this.options.compressor === undefined ? defaultFrameCompressor() : this.options.compressor, manifest, parent);
    return {
      file: this.file,
      id,
      header: manifest,
      config,
      state,
      frameCount: manifest.frameCount,
      frames: index.present,
      parent: manifest.parent,
      hasFrame: (gfn) => frames.has(gfn),
      readFrame: (gfn, dst) => frames.read(gfn, dst),
    };
  }
}

/** Reads single frames on demand, checking each record. */
class FrameFetcher {
  private readonly stored = new Uint8Array(SNAPSHOT_FRAME_BYTES);
  private readonly inflated = new Uint8Array(SNAPSHOT_FRAME_BYTES);

  constructor(
    private readonly source: SnapshotSource,
    private readonly index: FrameIndex,
    private readonly compressor: FrameCompressor | null,
    private readonly manifest: SnapshotManifest,
    private readonly parent: OpenSnapshot | null,
  ) {}

  has(gfn: number): boolean {
    return Number.isInteger(gfn) && gfn >= 0 && gfn < this.manifest.frameCount && this.index.infos[gfn] !== 0;
  }

  read(gfn: number, dst: Uint8Array): void {
    if (!Number.isInteger(gfn) || gfn < 0 || gfn >= this.manifest.frameCount) {
      throw new RangeError(`frame ${gfn} outside the snapshot's ${this.manifest.frameCount} frames`);
    }
    if (dst.length !== SNAPSHOT_FRAME_BYTES) throw new RangeError(`destination must be ${SNAPSHOT_FRAME_BYTES} bytes, got ${dst.length}`);
    const info = this.index.infos[gfn];
    if (info === 0) return this.readAbsent(gfn, dst);
    const encoding = (info >>> 16) & 0xff;
    if (encoding === FrameEncoding.Zero) {
      dst.fill(0);
      return;
    }
    const length = info & 0xffff;
    const at = this.index.offsets[gfn];
    const stored = this.stored.subarray(0, length);
    const n = this.source.readAt(at, stored);
    if (n !== length) this.fail(gfn, at + n, `truncated: short read of frame ${gfn} (${n} of ${length} bytes)`);
    if (crc32(stored) !== this.index.crcs[gfn]) this.fail(gfn, at, `frame ${gfn} checksum mismatch (record damaged)`);
    if (encoding === FrameEncoding.Raw) {
      dst.set(stored);
      return;
    }
    this.inflate(gfn, at, stored);
    dst.set(this.inflated);
  }

  private readAbsent(gfn: number, dst: Uint8Array): void {
    if (this.manifest.kind === 'full') {
      dst.fill(0);
    } else if (this.parent !== null) {
      this.parent.readFrame(gfn, dst);
    } else {
      throw new SnapshotError(this.source.name, 'FRAMES', -1, `frame ${gfn} is not in this diff snapshot and no parent was given to read it from`);
    }
  }

  private inflate(gfn: number, at: number, stored: Uint8Array): void {
    if (this.compressor === null) this.fail(gfn, at, `frame ${gfn} is DEFLATE-compressed and no decompressor is available`);
    try {
      this.compressor.decompress(stored, this.inflated);
    } catch (e) {
      this.fail(gfn, at, `frame ${gfn} does not inflate: ${e instanceof Error ? e.message : String(e)}`);
    }
  }

  private fail(gfn: number, offset: number, problem: string): never {
    throw new SnapshotError(this.source.name, this.sectionOf(offset), offset, problem);
  }

  /** Names the FRAMES section holding `offset`. */
  private sectionOf(offset: number): string {
    const starts = this.index.sectionStarts;
    let lo = 0;
    let hi = starts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (starts[mid] <= offset) lo = mid;
      else hi = mid - 1;
    }
    return sectionName(SectionType.Frames, lo);
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && !ArrayBuffer.isView(value);
}

/** `value` when it is an integer in [min, max], else null. */
function intField(value: unknown, min: number, max: number): number | null {
  return typeof value === 'number' && Number.isInteger(value) && value >= min && value <= max ? value : null;
}
