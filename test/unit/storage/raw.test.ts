import { readFileSync, writeFileSync } from 'node:fs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { StorageError } from '../../../src/storage/block-backend.js';
import { MemoryFile } from '../../../src/storage/memory-file.js';
import { openImage } from '../../../src/storage/open-image.js';
import { RawImage } from '../../../src/storage/raw.js';
import { expectSameBytes, pattern, tempDir } from './storage-helpers.js';

describe('RawImage', () => {
  let tmp: ReturnType<typeof tempDir>;
  beforeEach(() => (tmp = tempDir('raw')));
  afterEach(() => tmp.remove());

  it('reads and writes the file byte for byte', () => {
    const initial = pattern(8192, 1);
    writeFileSync(tmp.path('disk.img'), initial);
    const disk = openImage(tmp.path('disk.img'));
    expect(disk).toBeInstanceOf(RawImage);
    expect(disk.sizeBytes).toBe(8192);
    const dst = new Uint8Array(1000);
    disk.read(3000, dst);
    expect(dst).toEqual(initial.subarray(3000, 4000));
    const data = pattern(700, 2);
    disk.write(511, data);
    disk.flush();
    disk.close();
    const expected = initial.slice();
    expected.set(data, 511);
    expectSameBytes(new Uint8Array(readFileSync(tmp.path('disk.img'))), expected);
  });

  it('refuses accesses past the end and keeps the size fixed', () => {
    const disk = new RawImage(new MemoryFile('m', new Uint8Array(1024)));
    expect(() => disk.write(1020, new Uint8Array(8))).toThrow(StorageError);
    expect(() => disk.read(1024, new Uint8Array(1))).toThrow(/outside the disk/);
    expect(() => disk.write(-1, new Uint8Array(1))).toThrow(/outside the disk/);
    expect(disk.sizeBytes).toBe(1024);
  });

  it('writeZeroes zeroes exactly the range; discard leaves data readable', () => {
    const file = new MemoryFile('m', pattern(3 << 20, 3));
    const disk = new RawImage(file);
    const before = file.bytes().slice();
    disk.writeZeroes(100, (2 << 20) + 5, true);
    const expected = before.slice();
    expected.fill(0, 100, 100 + (2 << 20) + 5);
    expectSameBytes(file.bytes(), expected);
    disk.discard(0, 4096);
    const dst = new Uint8Array(100);
    disk.read(0, dst);
    expect(dst).toEqual(before.subarray(0, 100));
    expect(() => disk.discard(0, (3 << 20) + 1)).toThrow(/outside the disk/);
  });

  it('refuses writes when opened read-only', () => {
    writeFileSync(tmp.path('ro.img'), new Uint8Array(512));
    const disk = openImage(tmp.path('ro.img'), { readOnly: true });
    expect(disk.readOnly).toBe(true);
    expect(() => disk.write(0, new Uint8Array(1))).toThrow(/read-only/);
    expect(() => disk.writeZeroes(0, 512, false)).toThrow(/read-only/);
    disk.close();
  });
});
