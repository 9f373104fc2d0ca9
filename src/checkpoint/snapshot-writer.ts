/**
 * Snapshot writer: turns a machine's config, device-state tree and memory — given as plain
 * inputs, never the machine itself — into a snapshot file (layout: snapshot-format.md) written
 * in one forward pass to a SnapshotSink. Frames are read one at a time from the memory source,
 * zero frames are left out (full snapshot) or marked (diff snapshot), the others stored raw or
 * as raw DEFLATE when that saves at least `minSaving` bytes. At most one FRAMES section
 * (FRAMES_PER_SECTION frames) is buffered.
 */

import { isAllZero } from '../memory/guest-memory.js';
import { CodecError, encode } from '../persist/codec.js';
import { crc32, crc32c } from './crc32.js';
import { defaultFrameCompressor, type FrameCompressor } from './frame-compression.js';
import { fileSink, type SnapshotSink } from './snapshot-io.js';
import {
  encodeFileHeaderFields,
  encodeSectionHeaderFields,
  END_BODY_BYTES,
  entryInfo,
  FILE_HEADER_BYTES,
  formatSnapshotId,
  FRAME_ENTRY_BYTES,
  FrameEncoding,
  FRAMES_PER_SECTION,
  MAX_FRAME_COUNT,
  type ParentRef,
  SECTION_HEADER_BYTES,
  SectionType,
  sectionName,
  SNAPSHOT_FRAME_BYTES,
  type SnapshotId,
  type SnapshotManifest,
  SnapshotError,
  viewOf,
} from './snapshot-format.js';

/** Guest memory as the writer sees it. */
export interface SnapshotMemorySource {
  /** Guest frames of RAM (RAM bytes / 4096). */
  readonly frameCount: number;
  /** Copies guest frame `gfn` into `dst` (4096 bytes), overwriting all of it. */
  readFrame(gfn: number, dst: Uint8Array): void;
  /** Only these frames (a diff snapshot: the frames dirtied since the parent), any order; absent: every frame. */
  readonly frames?: Iterable<number>;
}

/** What a snapshot holds. */
export interface SnapshotInput {
  /** Machine config: plain data the codec carries, opaque to the snapshot. */
  readonly config: unknown;
  /** Device state: `{ version, components: { [id]: SavedState } }`. */
  readonly state: unknown;
  /** Guest memory. */
  readonly memory: SnapshotMemorySource;
  /** For a diff snapshot (with `memory.frames`): the snapshot it applies over. */
  readonly parent?: ParentRef;
}

/** Writer tuning. */
export interface SnapshotWriteOptions {
  /** Frame compressor; null stores every frame raw. Default: node:zlib level 1 in Node, none elsewhere. */
  readonly compressor?: FrameCompressor | null;
  /** A compressed frame is kept only when it is at least this many bytes smaller than 4096 (default 64). */
  readonly minSaving?: number;
}

/** What was written. */
export interface SnapshotSummary {
  /** The snapshot's id (what a diff over it names as parent). */
  readonly id: SnapshotId;
  readonly kind: 'full' | 'diff';
  /** Total bytes written. */
  readonly bytes: number;
  readonly frameCount: number;
  /** Frame records written (frames present in the file). */
  readonly framesStored: number;
  /** Zero frames: left out (full) or written as ZERO entries (diff). */
  readonly zeroFrames: number;
  readonly rawFrames: number;
  readonly deflatedFrames: number;
  /** Bytes of frame records (raw plus compressed). */
  readonly frameBytes: number;
}

const DEFAULT_MIN_SAVING = 64;
const ID_PATTERN = /^[0-9a-f]{16}$/;

/** Writes one snapshot to `out`; throws SnapshotError on a bad input (naming the field) before or while writing. */
export function writeSnapshot(out: SnapshotSink, input: SnapshotInput, options: SnapshotWriteOptions = {}): SnapshotSummary {
  const writer = new Writer(out, options);
  return writer.write(input);
}

/** Writes a snapshot file at `path` (through `<path>.partial`, renamed when complete; removed on failure). */
export function saveSnapshotFile(path: string, input: SnapshotInput, options: SnapshotWriteOptions = {}): SnapshotSummary {
  const sink = fileSink(path);
  try {
    const summary = writeSnapshot(sink, input, options);
    sink.close();
    return summary;
  } catch (e) {
    sink.abort();
    throw e;
  }
}

/** Checks the state tree's shape and returns component id → version for the manifest. */
function componentVersions(file: string, state: unknown): { stateVersion: number; components: Record<string, number> } {
  const bad = (field: string, problem: string): never => {
    throw new SnapshotError(file, 'STATE', -1, `input field '${field}': ${problem}`);
  };
  if (typeof state !== 'object' || state === null || Array.isArray(state)) bad('state', 'expected an object { version, components }');
  const tree = state as { version?: unknown; components?: unknown };
  if (typeof tree.version !== 'number' || !Number.isSafeInteger(tree.version) || tree.version < 0) bad('state.version', `expected a non-negative integer, got ${String(tree.version)}`);
  if (typeof tree.components !== 'object' || tree.components === null || Array.isArray(tree.components)) bad('state.components', 'expected an object keyed by component id');
  const components: Record<string, number> = {};
  for (const [id, saved] of Object.entries(tree.components as Record<string, unknown>)) {
    const version = (saved as { version?: unknown } | null)?.version;
    if (typeof saved !== 'object' || saved === null || typeof version !== 'number' || !Number.isSafeInteger(version) || version < 0) {
      bad(`state.components.${id}.version`, 'expected saved state with a non-negative integer version');
    }
    Object.defineProperty(components, id, { value: version, enumerable: true, writable: true, configurable: true });
  }
  return { stateVersion: tree.version as number, components };
}

/** One write pass: running offset, section index and identity CRCs. */
class Writer {
  private offset = 0;
  private sectionIndex = 0;
  private framesSections = 0;
  private idCrc = 0;
  private idCrcC = 0;
  private readonly compressor: FrameCompressor | null;
  private readonly keepBelow: number;
  private readonly frame = new Uint8Array(SNAPSHOT_FRAME_BYTES);
  private readonly table = new Uint8Array(4 + FRAMES_PER_SECTION * FRAME_ENTRY_BYTES);
  private readonly tableView = viewOf(this.table);
  private readonly records = new Uint8Array(FRAMES_PER_SECTION * SNAPSHOT_FRAME_BYTES);
  private pendingEntries = 0;
  private pendingBytes = 0;
  private stats = { framesStored: 0, zeroFrames: 0, rawFrames: 0, deflatedFrames: 0, frameBytes: 0 };

  constructor(private readonly out: SnapshotSink, options: SnapshotWriteOptions) {
    this.compressor = options.compressor === undefined ? defaultFrameCompressor() : options.compressor;
    const minSaving = options.minSaving ?? DEFAULT_MIN_SAVING;
    if (!Number.isInteger(minSaving) || minSaving < 1 || minSaving > SNAPSHOT_FRAME_BYTES) {
      throw new SnapshotError(out.name, 'options', -1, `minSaving must be an integer in [1, 4096], got ${minSaving}`);
    }
    this.keepBelow = SNAPSHOT_FRAME_BYTES - minSaving;
  }

  write(input: SnapshotInput): SnapshotSummary {
    const file = this.out.name;
    const frameCount = input.memory?.frameCount;
    if (typeof frameCount !== 'number' || !Number.isInteger(frameCount) || frameCount < 0 || frameCount > MAX_FRAME_COUNT) {
      throw new SnapshotError(file, 'MANIFEST', -1, `input field 'memory.frameCount': expected an integer in [0, ${MAX_FRAME_COUNT}], got ${String(frameCount)}`);
    }
    const manifest = this.manifestOf(input, frameCount);
    const manifestBody = this.encodeBody(SectionType.Manifest, manifest, 'manifest');
    const configBody = this.encodeBody(SectionType.Config, input.config, 'config');
    const stateBody = this.encodeBody(SectionType.State, input.state, 'state');
    const frames = manifest.kind === 'diff' ? this.diffFrameList(input.memory.frames as Iterable<number>, frameCount) : null;

    const header = new Uint8Array(FILE_HEADER_BYTES);
    encodeFileHeaderFields(header);
    viewOf(header).setUint32(20, crc32(header.subarray(0, 20)), true);
    this.emit(header, true);
    this.writeSmallSection(SectionType.Manifest, manifestBody);
    this.writeSmallSection(SectionType.Config, configBody);
    this.writeSmallSection(SectionType.State, stateBody);
    this.writeFrames(input.memory, frameCount, frames, manifest.kind);
    const id = formatSnapshotId(this.idCrc, this.idCrcC);
    this.writeEnd();
    return { id, kind: manifest.kind, bytes: this.offset, frameCount, ...this.stats };
  }

  private manifestOf(input: SnapshotInput, frameCount: number): SnapshotManifest {
    const file = this.out.name;
    const { stateVersion, components } = componentVersions(file, input.state);
    const hasFrames = input.memory.frames !== undefined;
    const parent = input.parent;
    if (hasFrames !== (parent !== undefined)) {
      throw new SnapshotError(file, 'MANIFEST', -1, "input fields 'memory.frames' and 'parent' go together: a diff snapshot needs both, a full one neither");
    }
    if (parent !== undefined && (typeof parent.id !== 'string' || !ID_PATTERN.test(parent.id))) {
      throw new SnapshotError(file, 'MANIFEST', -1, `input field 'parent.id': expected 16 lowercase hex digits, got ${String(parent.id)}`);
    }
    return {
      kind: parent === undefined ? 'full' : 'diff',
      frameCount,
      frameBytes: SNAPSHOT_FRAME_BYTES,
      stateVersion,
      components,
      parent: parent === undefined ? null : { id: parent.id },
    };
  }

  /** The sorted, de-duplicated frame list of a diff, each checked against `frameCount`. */
  private diffFrameList(frames: Iterable<number>, frameCount: number): Uint32Array {
    const list: number[] = [];
    let i = 0;
    for (const gfn of frames) {
      if (!Number.isInteger(gfn) || gfn < 0 || gfn >= frameCount) {
        throw new SnapshotError(this.out.name, 'FRAMES', -1, `input field 'memory.frames[${i}]': expected a frame number in [0, ${frameCount}), got ${String(gfn)}`);
      }
      list.push(gfn);
      i++;
    }
    const sorted = Uint32Array.from(list).sort();
    let unique = 0;
    for (let k = 0; k < sorted.length; k++) if (k === 0 || sorted[k] !== sorted[k - 1]) sorted[unique++] = sorted[k];
    return sorted.subarray(0, unique);
  }

  private encodeBody(type: SectionType, value: unknown, field: string): Uint8Array {
    try {
      return encode(value);
    } catch (e) {
      if (!(e instanceof CodecError)) throw e;
      throw new SnapshotError(this.out.name, sectionName(type), -1, `input field '${field}${e.path.slice(1)}': ${e.problem}`);
    }
  }

  /** Writes bytes to the sink; identity bytes also feed the snapshot id. */
  private emit(bytes: Uint8Array, identity: boolean): void {
    this.out.write(bytes);
    this.offset += bytes.length;
    if (identity) {
      this.idCrc = crc32(bytes, this.idCrc);
      this.idCrcC = crc32c(bytes, this.idCrcC);
    }
  }

  private sectionHeader(type: SectionType, length: number, bodyCrc: number): Uint8Array {
    const header = new Uint8Array(SECTION_HEADER_BYTES);
    encodeSectionHeaderFields(header, type, this.sectionIndex++, length, bodyCrc);
    viewOf(header).setUint32(20, crc32(header.subarray(0, 20)), true);
    return header;
  }

  private writeSmallSection(type: SectionType, body: Uint8Array): void {
    this.emit(this.sectionHeader(type, body.length, crc32(body)), true);
    this.emit(body, true);
  }

  private writeFrames(memory: SnapshotMemorySource, frameCount: number, list: Uint32Array | null, kind: 'full' | 'diff'): void {
    const count = list === null ? frameCount : list.length;
    for (let k = 0; k < count; k++) {
      const gfn = list === null ? k : list[k];
      memory.readFrame(gfn, this.frame);
      if (isAllZero(this.frame)) {
        this.stats.zeroFrames++;
        if (kind === 'full') continue;
        this.addEntry(gfn, FrameEncoding.Zero, this.frame.subarray(0, 0));
      } else {
        this.addStoredFrame(gfn);
      }
      if (this.pendingEntries === FRAMES_PER_SECTION) this.flushFrames();
    }
    if (this.pendingEntries > 0) this.flushFrames();
  }

  private addStoredFrame(gfn: number): void {
    const compressed = this.compressor?.compress(this.frame);
    if (compressed !== undefined && compressed.length > 0 && compressed.length <= this.keepBelow) {
      this.stats.deflatedFrames++;
      this.addEntry(gfn, FrameEncoding.DeflateRaw, compressed);
    } else {
      this.stats.rawFrames++;
      this.addEntry(gfn, FrameEncoding.Raw, this.frame);
    }
  }

  private addEntry(gfn: number, encoding: FrameEncoding, stored: Uint8Array): void {
    const at = 4 + this.pendingEntries * FRAME_ENTRY_BYTES;
    this.tableView.setUint32(at, gfn, true);
    this.tableView.setUint32(at + 4, entryInfo(encoding, stored.length), true);
    this.tableView.setUint32(at + 8, stored.length === 0 ? 0 : crc32(stored), true);
    this.records.set(stored, this.pendingBytes);
    this.pendingEntries++;
    this.pendingBytes += stored.length;
    this.stats.framesStored++;
    this.stats.frameBytes += stored.length;
  }

  private flushFrames(): void {
    this.tableView.setUint32(0, this.pendingEntries, true);
    const table = this.table.subarray(0, 4 + this.pendingEntries * FRAME_ENTRY_BYTES);
    this.emit(this.sectionHeader(SectionType.Frames, table.length + this.pendingBytes, crc32(table)), true);
    this.emit(table, true);
    this.emit(this.records.subarray(0, this.pendingBytes), false);
    this.framesSections++;
    this.pendingEntries = 0;
    this.pendingBytes = 0;
  }

  private writeEnd(): void {
    const body = new Uint8Array(END_BODY_BYTES);
    const view = viewOf(body);
    view.setUint32(0, this.framesSections, true);
    view.setUint32(4, this.stats.framesStored, true);
    view.setUint32(8, this.idCrc, true);
    view.setUint32(12, this.idCrcC, true);
    this.emit(this.sectionHeader(SectionType.End, body.length, crc32(body)), false);
    this.emit(body, false);
  }
}
