/**
 * Snapshots of a running PcMachine: the glue between the machine (saveState/restoreState and
 * the RAM frame reader/writer of GuestMemory) and the snapshot file (snapshot-writer.ts,
 * snapshot-reader.ts; layout in snapshot-format.md).
 *
 * A full snapshot holds the machine's state tree and every RAM frame that is not zero; a diff
 * snapshot holds the frames dirtied since its parent (the caller harvests the dirty bitmap
 * when it takes the parent, and again for the diff). Frames the machine cannot carry (ROM
 * inside RAM, MMIO holes) are never stored: the destination is built from the same config,
 * which loads the same ROM.
 *
 * Restore here is eager: every RAM frame is written before the guest runs again. (Lazy
 * restore, faulting frames in from the file on first access, needs the NPT's not-present
 * fault path and comes with the migration work.)
 */
import { FRAME_SIZE } from '../memory/frame-pool.js';
import type { PcMachine } from '../machine/pc.js';
import { SnapshotError, type ParentRef } from './snapshot-format.js';
import type { OpenSnapshot } from './snapshot-reader.js';
import type { SnapshotInput, SnapshotMemorySource } from './snapshot-writer.js';

/** What to snapshot besides the machine. */
export interface MachineSnapshotInput {
  /** Plain data describing how to build the machine again (opaque here; stored in CONFIG). */
  readonly config: unknown;
  /** For a diff snapshot: the parent's id and the frames dirtied since the parent was taken. */
  readonly diff?: { readonly parent: ParentRef; readonly frames: Iterable<number> };
}

/**
 * The machine's RAM as a snapshot memory source. Frames the machine cannot carry read as
 * zeros (so the writer leaves them out); in a diff only the given frames that it can carry.
 */
export function machineMemorySource(machine: PcMachine, frames?: Iterable<number>): SnapshotMemorySource {
  const memory = machine.memory;
  const carried = (gfn: number): boolean => memory.isTransferableFrame(gfn);
  return {
    frameCount: memory.ramFrameCount,
    readFrame: (gfn, dst) => {
      if (carried(gfn)) memory.readFrame(gfn, dst);
      else dst.fill(0, 0, FRAME_SIZE);
    },
    ...(frames !== undefined ? { frames: [...frames].filter(carried) } : {}),
  };
}

/** The writer's inputs for a snapshot of `machine` now (its state and RAM). */
export function machineSnapshotInput(machine: PcMachine, input: MachineSnapshotInput): SnapshotInput {
  return {
    config: input.config,
    state: machine.saveState(),
    memory: machineMemorySource(machine, input.diff?.frames),
    ...(input.diff !== undefined ? { parent: input.diff.parent } : {}),
  };
}

/**
 * Check that `snapshot` fits `machine` (same RAM size, every stored frame one the machine can
 * carry). Throws SnapshotError naming the file; reads no frame.
 */
export function checkSnapshotFits(machine: PcMachine, snapshot: OpenSnapshot): void {
  const memory = machine.memory;
  if (snapshot.frameCount !== memory.ramFrameCount) {
    throw new SnapshotError(snapshot.file, 'MANIFEST', -1, `snapshot has ${snapshot.frameCount} RAM frames, the machine ${memory.ramFrameCount}`);
  }
  for (const gfn of snapshot.frames) {
    if (!memory.isTransferableFrame(gfn)) {
      throw new SnapshotError(snapshot.file, 'FRAMES', -1, `frame ${gfn} is stored but is not a RAM frame of this machine (built from a different config?)`);
    }
  }
}

/**
 * Restore `snapshot` (for a diff: opened with its parent) into `machine`, which must have been
 * built from the snapshot's config: the state tree first (validated in full: a bad tree throws
 * before anything changes), then every RAM frame the machine carries — the snapshot's copy, or
 * zeros for a frame it left out. A frame that fails its check throws SnapshotError part-way
 * through the RAM: the machine is then half restored and must be discarded (restore into a
 * fresh machine); the snapshot file is never written.
 */
export function restoreMachineSnapshot(machine: PcMachine, snapshot: OpenSnapshot): void {
  checkSnapshotFits(machine, snapshot);
  machine.restoreState(snapshot.state);
  const memory = machine.memory;
  const frame = new Uint8Array(FRAME_SIZE);
  for (const gfn of memory.transferableFrames()) {
    snapshot.readFrame(gfn, frame);
    memory.writeFrame(gfn, frame);
  }
}
