// Tests for snapshot files on disk: save through <path>.partial, open read-only, lazy frame
// reads, and a failed save that leaves an existing file as it was.
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openSnapshotFile, saveSnapshotFile, SnapshotError } from '../../../src/checkpoint/index.js';
import { FRAME, makeMemory, memorySource } from './snapshot-helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'snapshot-file-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const state = { version: 1, components: { uart0: { version: 1, ier: 3 } } };

describe('snapshot files', () => {
  it('save and open a file; frames are read on demand', () => {
    const path = join(dir, 'a.snap');
    const ram = makeMemory(64, (gfn) => (gfn % 2 ? 'text' : gfn % 5 ? 'zero' : 'random'), 2);
    const summary = saveSnapshotFile(path, { config: { ramBytes: ram.length }, state, memory: memorySource(ram) });
    expect(existsSync(`${path}.partial`)).toBe(false);
    expect(readFileSync(path).length).toBe(summary.bytes);
    const snapshot = openSnapshotFile(path);
    try {
      expect(snapshot.id).toBe(summary.id);
      expect(snapshot.state).toEqual(state);
      const frame = new Uint8Array(FRAME);
      for (let gfn = 0; gfn < 64; gfn++) {
        snapshot.readFrame(gfn, frame);
        const expected = ram.subarray(gfn * FRAME, (gfn + 1) * FRAME);
        expect(frame.every((b, i) => b === expected[i]), `frame ${gfn}`).toBe(true);
      }
    } finally {
      snapshot.close();
    }
  });

  it('a save that fails midway leaves the existing file untouched and no partial file', () => {
    const path = join(dir, 'b.snap');
    writeFileSync(path, 'previous contents');
    const ram = makeMemory(8, () => 'text');
    const memory = { frameCount: 8, readFrame: (gfn: number, dst: Uint8Array) => { if (gfn === 5) throw new Error('guest memory went away'); dst.set(ram.subarray(gfn * FRAME, (gfn + 1) * FRAME)); } };
    expect(() => saveSnapshotFile(path, { config: null, state, memory })).toThrow('guest memory went away');
    expect(readFileSync(path, 'utf8')).toBe('previous contents');
    expect(existsSync(`${path}.partial`)).toBe(false);
  });

  it('opening a damaged or missing file names it and leaves it as it was', () => {
    const path = join(dir, 'c.snap');
    saveSnapshotFile(path, { config: null, state, memory: memorySource(makeMemory(4, () => 'text')) });
    const bytes = readFileSync(path);
    bytes[bytes.length - 30] ^= 4;
    writeFileSync(path, bytes);
    let error: unknown;
    try {
      openSnapshotFile(path);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(SnapshotError);
    expect((error as SnapshotError).file).toBe(path);
    expect(readFileSync(path).equals(bytes)).toBe(true);
    expect(() => openSnapshotFile(join(dir, 'missing.snap'))).toThrow(/missing\.snap.*cannot open/);
  });
});
