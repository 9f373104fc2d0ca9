// Snapshots of a running machine through files: our memory-dirtying guest is snapshotted
// mid-run (a full snapshot, then a diff of the frames dirtied since), restored from the files
// into fresh machines on another host, and must finish exactly like an uninterrupted run:
// the same serial output byte for byte, the same final state and RAM.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import {
  machineSnapshotInput,
  openSnapshotFile,
  restoreMachineSnapshot,
  saveSnapshotFile,
  SnapshotError,
} from '../../../src/checkpoint/index.js';
import type { PcMachine } from '../../../src/machine/pc.js';
import { Host } from '../../../src/vmm/host.js';
import { ramHash } from '../../helpers/ram-hash.js';

const IMAGE = new URL('../../../guests/dirty/dirty-short.bin', import.meta.url);
const MEMORY_BYTES = 16 << 20;
const TICK_LIMIT = 400_000_000;
const dir = mkdtempSync(join(tmpdir(), 'tshv-machine-snapshot-'));
const hosts: Host[] = [];

afterEach(() => {
  for (const host of hosts.splice(0)) for (const name of host.machineNames) host.destroyMachine(name);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A machine running the dirty guest on a host of its own; COM1 bytes go to `serial`. */
function boot(serial: number[], memoryBytes = MEMORY_BYTES): PcMachine {
  const host = new Host({ maxFrames: 16384 });
  hosts.push(host);
  return host.createMachine('vm', {
    memoryBytes,
    rom: { name: 'dirty-short.bin', data: new Uint8Array(readFileSync(IMAGE)) },
    serialOut: (b) => { serial.push(b); },
  });
}

/** How a run ended. */
interface Outcome {
  readonly serial: string;
  readonly state: unknown;
  readonly ram: string;
}

function finish(vm: PcMachine, serial: number[]): Outcome {
  expect(vm.run(TICK_LIMIT)).toEqual({ kind: 'exit', value: 0 });
  return { serial: Buffer.from(serial).toString('latin1'), state: vm.saveState(), ram: ramHash(vm) };
}

const CONFIG = { guest: 'dirty-short.bin', memoryBytes: MEMORY_BYTES };

describe('machine snapshots through files', () => {
  const wholeSerial: number[] = [];
  const wholeVm = boot(wholeSerial);
  const whole = finish(wholeVm, wholeSerial);
  const wholeTicks = wholeVm.clock.ticks();
  const fullPath = join(dir, 'full.snap');
  const diffPath = join(dir, 'diff.snap');
  let serialAtFull = '';
  let serialAtDiff = '';

  it('a full snapshot at 30 % and a diff at 60 % of the run are written from the running guest', () => {
    const serial: number[] = [];
    const vm = boot(serial);
    expect(vm.run(Math.floor(wholeTicks * 0.3))).toEqual({ kind: 'limit' });
    vm.memory.harvestDirty(); // dirty tracking starts with the full snapshot
    const full = saveSnapshotFile(fullPath, machineSnapshotInput(vm, { config: CONFIG }));
    serialAtFull = Buffer.from(serial).toString('latin1');
    expect(full.kind).toBe('full');
    expect(vm.run(Math.floor(wholeTicks * 0.3))).toEqual({ kind: 'limit' });
    const dirtied = vm.memory.harvestDirty();
    expect(dirtied.length).toBeGreaterThan(16);
    const diff = saveSnapshotFile(diffPath, machineSnapshotInput(vm, { config: CONFIG, diff: { parent: { id: full.id }, frames: dirtied } }));
    serialAtDiff = Buffer.from(serial).toString('latin1');
    expect(diff.kind).toBe('diff');
    // The diff carries exactly the dirtied RAM frames (the ROM's frames are never carried).
    const carried = Array.from(dirtied).filter((f) => vm.memory.isTransferableFrame(f));
    expect(diff.framesStored).toBe(carried.length);
    expect(diff.framesStored).toBeLessThan(vm.memory.ramFrameCount / 4);
    expect(serialAtDiff.length).toBeGreaterThan(serialAtFull.length);
    // The source keeps running to the same end as a run never snapshotted.
    expect(finish(vm, serial)).toEqual(whole);
  });

  it('restored from the full snapshot on another host, the guest finishes exactly like the uninterrupted run', () => {
    const snapshot = openSnapshotFile(fullPath);
    try {
      expect(snapshot.config).toEqual(CONFIG);
      const serial = [...Buffer.from(serialAtFull, 'latin1')];
      const vm = boot(serial);
      restoreMachineSnapshot(vm, snapshot);
      expect(finish(vm, serial)).toEqual(whole);
    } finally {
      snapshot.close();
    }
  });

  it('restored from the diff over its parent, the guest finishes exactly like the uninterrupted run', () => {
    const parent = openSnapshotFile(fullPath);
    const snapshot = openSnapshotFile(diffPath, { parent });
    try {
      const serial = [...Buffer.from(serialAtDiff, 'latin1')];
      const vm = boot(serial);
      restoreMachineSnapshot(vm, snapshot);
      expect(finish(vm, serial)).toEqual(whole);
    } finally {
      snapshot.close();
      parent.close();
    }
  });

  it('a machine of another RAM size is refused before anything changes', () => {
    const snapshot = openSnapshotFile(fullPath);
    try {
      const vm = boot([], 8 << 20);
      const before = vm.saveState();
      expect(() => restoreMachineSnapshot(vm, snapshot)).toThrow(SnapshotError);
      expect(() => restoreMachineSnapshot(vm, snapshot)).toThrow(/snapshot has 4096 RAM frames, the machine 2048/);
      expect(vm.saveState()).toEqual(before);
    } finally {
      snapshot.close();
    }
  });

  it('a damaged snapshot file is refused at open, naming the file, and the file is left as it was', () => {
    const bytes = readFileSync(fullPath);
    const damaged = join(dir, 'damaged.snap');
    const copy = Uint8Array.from(bytes);
    copy[Math.floor(copy.length / 3)] ^= 0x40;
    writeFileSync(damaged, copy);
    let error: unknown;
    try {
      const snapshot = openSnapshotFile(damaged);
      // Frame data is checked when read: the restore must then refuse the frame.
      try {
        restoreMachineSnapshot(boot([]), snapshot);
      } finally {
        snapshot.close();
      }
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(SnapshotError);
    expect((error as Error).message).toContain(damaged);
    expect(readFileSync(damaged)).toEqual(Buffer.from(copy));
  });
});
