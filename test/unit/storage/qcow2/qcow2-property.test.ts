// Property test: random writes, write-zeroes and discards to our qcow2 (on an in-memory file, with
// and without a backing image) and to a plain byte array give the same contents, also
// after reopening; the resulting image passes `qemu-img check`.
import { writeFileSync } from 'node:fs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { MemoryFile } from '../../../../src/storage/memory-file.js';
import { openImageFile } from '../../../../src/storage/open-image.js';
import { createQcow2 } from '../../../../src/storage/qcow2/create.js';
import { expectSameBytes, pattern, Prng, qemuCheck, tempDir } from '../storage-helpers.js';

interface Case {
  seed: number;
  clusterBits: number;
  sizeBytes: number;
  withBacking: boolean;
}

const CASES: Case[] = [
  { seed: 1, clusterBits: 9, sizeBytes: 300_000, withBacking: false },
  { seed: 2, clusterBits: 12, sizeBytes: 1_000_448, withBacking: false },
  { seed: 3, clusterBits: 9, sizeBytes: 200_192, withBacking: true },
  { seed: 4, clusterBits: 16, sizeBytes: 3 << 20, withBacking: true },
];

const OPS = 300;

/**
 * Our documented discard behaviour: clusters wholly inside the range (a last cluster cut
 * short by the end of the disk counts as whole) read as zeros afterwards; partly covered
 * clusters keep their data.
 */
function discardInModel(model: Uint8Array, offset: number, length: number, cs: number): void {
  const end = offset + length;
  for (let start = Math.ceil(offset / cs) * cs; start < end; start += cs) {
    const clusterEnd = Math.min(start + cs, model.length);
    if (clusterEnd <= end) model.fill(0, start, clusterEnd);
  }
}

describe('qcow2 random operations match a byte array', () => {
  let tmp: ReturnType<typeof tempDir>;
  beforeEach(() => (tmp = tempDir('qcow2-prop')));
  afterEach(() => tmp.remove());

  it.each(CASES)('seed $seed, cluster_bits $clusterBits, backing $withBacking', ({ seed, clusterBits, sizeBytes, withBacking }) => {
    const rng = new Prng(seed);
    const cs = 2 ** clusterBits;
    const baseBytes = withBacking ? pattern(sizeBytes - 3 * cs - 100, seed + 100) : new Uint8Array(0);
    const base = new MemoryFile('base.raw', baseBytes, true);
    const file = new MemoryFile('prop.qcow2');
    createQcow2(file, { sizeBytes, clusterBits, backingFile: withBacking ? 'base.raw' : undefined, backingFormat: withBacking ? 'raw' : undefined });
    const opener = () => base;
    const disk = openImageFile(file, { opener });
    const model = new Uint8Array(sizeBytes);
    model.set(baseBytes);
    for (let op = 0; op < OPS; op++) {
      const length = 1 + rng.below(rng.below(4) === 0 ? 4 * cs : cs + 16);
      const offset = rng.below(sizeBytes - length + 1);
      const choice = rng.below(12);
      if (choice >= 10) {
        disk.discard(offset, length);
        discardInModel(model, offset, length, cs);
      } else if (choice < 7) {
        const data = pattern(length, seed * 1000 + op);
        disk.write(offset, data);
        model.set(data, offset);
      } else {
        disk.writeZeroes(offset, length, choice === 9);
        model.fill(0, offset, offset + length);
      }
      if (op % 50 === 49) {
        const all = new Uint8Array(sizeBytes);
        disk.read(0, all);
        expectSameBytes(all, model, `contents after ${op + 1} operations`);
      }
    }
    // Reopen from the same bytes (no cached state) and compare again.
    const reopened = openImageFile(new MemoryFile('prop.qcow2', file.bytes()), { opener });
    const all = new Uint8Array(sizeBytes);
    reopened.read(0, all);
    expectSameBytes(all, model, 'contents after reopening');
    disk.close();
    reopened.close();
    // qemu-img check on the bytes we produced (the base is written next to it for the backing link).
    writeFileSync(tmp.path('base.raw'), baseBytes);
    writeFileSync(tmp.path('prop.qcow2'), file.bytes());
    const check = qemuCheck(tmp.path('prop.qcow2'));
    expect(check.status, check.text).toBe(0);
    expect(check.report.leaks ?? 0, check.text).toBe(0);
    expect(check.report.corruptions ?? 0, check.text).toBe(0);
  });
});
