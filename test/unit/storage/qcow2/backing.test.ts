// Backing chains: overlays made by qemu-img or createQcow2 over raw and qcow2 bases, reads
// through the chain, copy-on-write into the overlay leaving the base untouched, and the
// refusal of loops and over-deep chains.
import { readFileSync, writeFileSync } from 'node:fs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { StorageError } from '../../../../src/storage/block-backend.js';
import { MemoryFile } from '../../../../src/storage/memory-file.js';
import { createNodeFile } from '../../../../src/storage/node-file.js';
import { MAX_BACKING_DEPTH, openImage, openImageFile } from '../../../../src/storage/open-image.js';
import { createQcow2 } from '../../../../src/storage/qcow2/create.js';
import { Qcow2Image } from '../../../../src/storage/qcow2/qcow2-image.js';
import { expectSameBytes, pattern, qemuCheck, qemuImg, qemuInfo, qemuIo, tempDir } from '../storage-helpers.js';

const KiB = 1024, MiB = 1024 * 1024;

function readAll(path: string): Uint8Array {
  const disk = openImage(path, { readOnly: true });
  const all = new Uint8Array(disk.sizeBytes);
  disk.read(0, all);
  disk.close();
  return all;
}

function expectClean(path: string): void {
  const check = qemuCheck(path);
  expect(check.status, check.text).toBe(0);
  expect(check.report.corruptions ?? 0, check.text).toBe(0);
  expect(check.report.leaks ?? 0, check.text).toBe(0);
}

function convertToRaw(path: string, out: string): Uint8Array {
  qemuImg('convert', '-O', 'raw', path, out);
  return new Uint8Array(readFileSync(out));
}

describe('qcow2 backing chains', () => {
  let tmp: ReturnType<typeof tempDir>;
  beforeEach(() => (tmp = tempDir('qcow2-chain')));
  afterEach(() => tmp.remove());

  it('reads a raw base through a qemu-img overlay and copies on write into the overlay only', () => {
    const baseBytes = pattern(2 * MiB, 1);
    writeFileSync(tmp.path('base.raw'), baseBytes);
    qemuImg('create', '-q', '-f', 'qcow2', '-b', 'base.raw', '-F', 'raw', tmp.path('ov.qcow2'));
    const disk = openImage(tmp.path('ov.qcow2')) as Qcow2Image;
    const direct = openImage(tmp.path('base.raw'), { readOnly: true });
    expect(disk.backing?.name).toBe(direct.name);
    direct.close();
    expect(disk.backing?.readOnly).toBe(true);
    const expected = baseBytes.slice();
    const all = new Uint8Array(disk.sizeBytes);
    disk.read(0, all);
    expectSameBytes(all, expected, 'overlay before writes');
    const writes: Array<[number, Uint8Array]> = [
      [100, pattern(50, 2)], // partial cluster: the rest comes from the base
      [64 * KiB - 10, pattern(20, 3)], // across a boundary, two partial clusters
      [1 * MiB, pattern(64 * KiB, 4)], // whole cluster
    ];
    for (const [offset, data] of writes) {
      disk.write(offset, data);
      expected.set(data, offset);
    }
    disk.read(0, all);
    expectSameBytes(all, expected, 'overlay after writes');
    disk.close();
    expectSameBytes(new Uint8Array(readFileSync(tmp.path('base.raw'))), baseBytes, 'base after overlay writes');
    expectClean(tmp.path('ov.qcow2'));
    expectSameBytes(convertToRaw(tmp.path('ov.qcow2'), tmp.path('ov.raw')), expected, 'qemu-img convert of the overlay');
  });

  it('reads a three-level chain (qcow2 base written by qemu-io, two qcow2 overlays)', () => {
    const base = tmp.path('base.qcow2'), mid = tmp.path('mid.qcow2'), top = tmp.path('top.qcow2');
    qemuImg('create', '-q', '-f', 'qcow2', base, '4M');
    qemuIo(base, 'qcow2', 'write -P 0x01 0 1M', 'write -P 0x02 3M 64k');
    qemuImg('create', '-q', '-f', 'qcow2', '-b', base, '-F', 'qcow2', mid);
    qemuIo(mid, 'qcow2', 'write -P 0x03 512k 64k', 'write -z 3M 4k');
    qemuImg('create', '-q', '-f', 'qcow2', '-b', mid, '-F', 'qcow2', top);
    qemuIo(top, 'qcow2', 'write -P 0x04 2M 1k');
    const expected = new Uint8Array(4 * MiB);
    expected.fill(0x01, 0, MiB);
    expected.fill(0x02, 3 * MiB, 3 * MiB + 64 * KiB);
    expected.fill(0x03, 512 * KiB, 576 * KiB);
    expected.fill(0, 3 * MiB, 3 * MiB + 4 * KiB);
    expected.fill(0x04, 2 * MiB, 2 * MiB + KiB);
    const baseBefore = readFileSync(base), midBefore = readFileSync(mid);
    expectSameBytes(readAll(top), expected, 'three-level chain');
    const disk = openImage(top);
    const data = pattern(3000, 5);
    disk.write(512 * KiB + 63 * KiB, data);
    expected.set(data, 512 * KiB + 63 * KiB);
    disk.close();
    expectSameBytes(readAll(top), expected, 'after writing the top');
    expect(readFileSync(base).equals(baseBefore)).toBe(true);
    expect(readFileSync(mid).equals(midBefore)).toBe(true);
    expectClean(top);
  });

  it('reads zeros past the end of a shorter backing file', () => {
    const baseBytes = pattern(100_000, 6); // not a multiple of the cluster size
    writeFileSync(tmp.path('short.raw'), baseBytes);
    qemuImg('create', '-q', '-f', 'qcow2', '-b', 'short.raw', '-F', 'raw', tmp.path('long.qcow2'), '1M');
    const expected = new Uint8Array(MiB);
    expected.set(baseBytes);
    expectSameBytes(readAll(tmp.path('long.qcow2')), expected);
    const disk = openImage(tmp.path('long.qcow2'));
    disk.write(65536 + 40_000, pattern(10, 7)); // partial cluster straddling the base's end
    expected.set(pattern(10, 7), 65536 + 40_000);
    disk.close();
    expectSameBytes(readAll(tmp.path('long.qcow2')), expected);
    expectClean(tmp.path('long.qcow2'));
  });

  it('discard and writeZeroes hide the backing data with zero clusters', () => {
    writeFileSync(tmp.path('b.raw'), pattern(MiB, 8));
    qemuImg('create', '-q', '-f', 'qcow2', '-b', 'b.raw', '-F', 'raw', tmp.path('o.qcow2'));
    const disk = openImage(tmp.path('o.qcow2'));
    const expected = pattern(MiB, 8);
    disk.write(0, pattern(128 * KiB, 9));
    expected.set(pattern(128 * KiB, 9), 0);
    disk.discard(0, 64 * KiB); // allocated cluster: freed, becomes a zero cluster
    expected.fill(0, 0, 64 * KiB);
    disk.writeZeroes(256 * KiB, 128 * KiB, true); // unallocated: zero clusters over the base
    expected.fill(0, 256 * KiB, 384 * KiB);
    disk.writeZeroes(64 * KiB, 64 * KiB, false); // allocated, kept as a preallocated zero cluster
    expected.fill(0, 64 * KiB, 128 * KiB);
    disk.writeZeroes(600 * KiB + 3, 1000, true); // partial: copy-on-write with zeros
    expected.fill(0, 600 * KiB + 3, 600 * KiB + 1003);
    const all = new Uint8Array(MiB);
    disk.read(0, all);
    expectSameBytes(all, expected);
    disk.close();
    expectClean(tmp.path('o.qcow2'));
    expectSameBytes(convertToRaw(tmp.path('o.qcow2'), tmp.path('o.out')), expected);
  });

  it('createQcow2 makes images qemu-img accepts, with and without a backing file', () => {
    const plain = createNodeFile(tmp.path('new.qcow2'));
    createQcow2(plain, { sizeBytes: 3 * MiB + 512 });
    plain.close();
    expectClean(tmp.path('new.qcow2'));
    const info = qemuInfo(tmp.path('new.qcow2'));
    expect(info['virtual-size']).toBe(3 * MiB + 512);
    expect(info['cluster-size']).toBe(64 * KiB);
    expect(info.format).toBe('qcow2');

    const baseBytes = pattern(2 * MiB, 10);
    writeFileSync(tmp.path('base.raw'), baseBytes);
    const ov = createNodeFile(tmp.path('ov.qcow2'));
    createQcow2(ov, { sizeBytes: 2 * MiB, clusterBits: 12, backingFile: 'base.raw', backingFormat: 'raw' });
    ov.close();
    const ovInfo = qemuInfo(tmp.path('ov.qcow2'));
    expect(ovInfo['backing-filename']).toBe('base.raw');
    expect(ovInfo['backing-filename-format']).toBe('raw');
    expect(ovInfo['cluster-size']).toBe(4096);
    expectClean(tmp.path('ov.qcow2'));
    const disk = openImage(tmp.path('ov.qcow2'));
    const expected = baseBytes.slice();
    disk.write(5000, pattern(9000, 11));
    expected.set(pattern(9000, 11), 5000);
    disk.close();
    expectSameBytes(readAll(tmp.path('ov.qcow2')), expected);
    expectClean(tmp.path('ov.qcow2'));
    expectSameBytes(convertToRaw(tmp.path('ov.qcow2'), tmp.path('ov.raw')), expected);
    expectSameBytes(new Uint8Array(readFileSync(tmp.path('base.raw'))), baseBytes, 'base untouched');
  });

  it('createQcow2 with 512-byte clusters and a large disk needs several refcount blocks', () => {
    const f = createNodeFile(tmp.path('big.qcow2'));
    createQcow2(f, { sizeBytes: 2 * 1024 * MiB, clusterBits: 9 });
    f.close();
    expectClean(tmp.path('big.qcow2'));
    const disk = openImage(tmp.path('big.qcow2'));
    disk.write(2 * 1024 * MiB - 700, pattern(700, 12));
    const back = new Uint8Array(700);
    disk.read(2 * 1024 * MiB - 700, back);
    expectSameBytes(back, pattern(700, 12));
    disk.close();
    expectClean(tmp.path('big.qcow2'));
  });

  it('refuses a loop in the backing chain', () => {
    for (const [name, backing] of [['a.qcow2', 'b.qcow2'], ['b.qcow2', 'a.qcow2'], ['self.qcow2', 'self.qcow2']]) {
      const f = createNodeFile(tmp.path(name));
      createQcow2(f, { sizeBytes: MiB, backingFile: backing, backingFormat: 'qcow2' });
      f.close();
    }
    expect(() => openImage(tmp.path('a.qcow2'))).toThrow(/already in the backing chain: loop refused/);
    expect(() => openImage(tmp.path('self.qcow2'))).toThrow(StorageError);
  });

  it(`refuses chains deeper than ${MAX_BACKING_DEPTH} images`, () => {
    const make = (i: number): void => {
      const f = createNodeFile(tmp.path(`l${i}.qcow2`));
      createQcow2(f, { sizeBytes: MiB, backingFile: i === 0 ? undefined : `l${i - 1}.qcow2`, backingFormat: i === 0 ? undefined : 'qcow2' });
      f.close();
    };
    for (let i = 0; i <= MAX_BACKING_DEPTH + 1; i++) make(i);
    openImage(tmp.path(`l${MAX_BACKING_DEPTH}.qcow2`)).close();
    expect(() => openImage(tmp.path(`l${MAX_BACKING_DEPTH + 1}.qcow2`))).toThrow(/deeper than 16/);
  });

  it('works on in-memory files with a custom opener', () => {
    const base = new MemoryFile('base', pattern(256 * KiB, 13));
    const top = new MemoryFile('top');
    createQcow2(top, { sizeBytes: 256 * KiB, clusterBits: 10, backingFile: 'base' });
    const disk = openImageFile(top, { opener: (name) => (name === 'base' ? base : new MemoryFile(name)) });
    const expected = pattern(256 * KiB, 13);
    disk.write(1000, pattern(3000, 14));
    expected.set(pattern(3000, 14), 1000);
    const all = new Uint8Array(256 * KiB);
    disk.read(0, all);
    expectSameBytes(all, expected);
    expectSameBytes(base.bytes(), pattern(256 * KiB, 13), 'in-memory base untouched');
  });
});
