/**
 * Checkpoint: snapshot files of a VM — envelope, device state and memory, full or diff — on top
 * of Persist's plain state and the codec (DESIGN.md, "State"; layout in snapshot-format.md).
 * The file layer takes plain inputs (config, state tree, a memory source); machine-snapshot.ts
 * connects it to a PcMachine.
 */

export {
  SnapshotError,
  SectionType,
  FrameEncoding,
  SNAPSHOT_MAGIC,
  SNAPSHOT_FORMAT_VERSION,
  SNAPSHOT_FRAME_BYTES,
  MAX_FRAME_COUNT,
  FRAMES_PER_SECTION,
  type ParentRef,
  type SnapshotId,
  type SnapshotManifest,
} from './snapshot-format.js';
export {
  writeSnapshot,
  saveSnapshotFile,
  type SnapshotMemorySource,
  type SnapshotInput,
  type SnapshotWriteOptions,
  type SnapshotSummary,
} from './snapshot-writer.js';
export { openSnapshot, openSnapshotFile, type OpenSnapshot, type SnapshotOpenOptions } from './snapshot-reader.js';
export {
  bufferSink,
  bufferSource,
  fileSink,
  fileSource,
  type SnapshotSink,
  type SnapshotSource,
  type BufferSink,
  type FileSink,
  type FileSource,
} from './snapshot-io.js';
export { type FrameCompressor, nodeDeflateCompressor, defaultFrameCompressor } from './frame-compression.js';
export { crc32, crc32c } from './crc32.js';
export {
  machineMemorySource,
  machineSnapshotInput,
  checkSnapshotFits,
  restoreMachineSnapshot,
  type MachineSnapshotInput,
} from './machine-snapshot.js';
