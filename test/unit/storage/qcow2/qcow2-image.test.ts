// qcow2 images made by qemu-img, read and written by us; every image we wrote must pass
// `qemu-img check` and convert to the raw bytes we expect.
import { readFileSync, writeFileSync } from 'node:fs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { BlockBackend } from '../../../../src/storage/block-backend.js';
import { openImage } from '../../../../src/storage/open-image.js';
import { Qcow2Image } from '../../../../src/storage/qcow2/qcow2-image.js';
import { expectSameBytes, pattern, qemuCheck, qemuImg, qemuIo, tempDir } from '../storage-helpers.js';

const KiB = 1024, MiB = 1024 * 1024;

/** A disk plus a plain byte array mirroring what it should contain. */
class Mirrored {
  readonly expected: Uint8Array;
  constructor(public disk: BlockBackend) {
    this.expected = new Uint8Array(disk.sizeBytes);
  }
  write(offset: number, data: Uint8Array): void {
    this.disk.write(offset, data);
    this.expected.set(data, offset);
  }
  zero(offset: number, length: number, mayUnmap: boolean): void {
    this.disk.writeZeroes(offset, length, mayUnmap);
    this.expected.fill(0, offset, offset + length);
  }
  /** Read the whole disk through the backend and compare. */
  verify(disk: BlockBackend = this.disk): void {
    const all = new Uint8Array(disk.sizeBytes);
    disk.read(0, all);
    expectSameBytes(all, this.expected, `${disk.name} contents`);
  }
}

/** `qemu-img check` is clean (exit 0, no corruptions, no leaks). */
function expectClean(path: string): void {
  const check = qemuCheck(path);
  expect(check.report.corruptions ?? 0, check.text).toBe(0);
  expect(check.report.leaks ?? 0, check.text).toBe(0);
  expect(check.report['check-errors'], check.text).toBe(0);
  expect(check.status, check.text).toBe(0);
}

/** Raw bytes of the image as qemu-img sees them. */
function convertToRaw(path: string, out: string): Uint8Array {
  qemuImg('convert', '-O', 'raw', path, out);
  return new Uint8Array(readFileSync(out));
}

describe('qcow2 images made by qemu-img', () => {
  let tmp: ReturnType<typeof tempDir>;
  beforeEach(() => (tmp = tempDir('qcow2')));
  afterEach(() => tmp.remove());

  it('reads a fresh image as zeros and reports its header', () => {
    qemuImg('create', '-q', '-f', 'qcow2', tmp.path('a.qcow2'), '64M');
    const disk = openImage(tmp.path('a.qcow2'));
    expect(disk).toBeInstanceOf(Qcow2Image);
    const q = disk as Qcow2Image;
    expect(q.sizeBytes).toBe(64 * MiB);
    expect(q.header.version).toBe(3);
    expect(q.header.clusterSize).toBe(64 * KiB);
    const dst = new Uint8Array(200 * KiB).fill(0x55);
    disk.read(64 * MiB - dst.length, dst);
    expect(dst.every((b) => b === 0)).toBe(true);
    disk.close();
  });

  it('writes aligned, unaligned and sparse data that reads back, survives reopen, passes check and converts', () => {
    const path = tmp.path('w.qcow2');
    qemuImg('create', '-q', '-f', 'qcow2', path, '64M');
    const m = new Mirrored(openImage(path));
    m.write(0, pattern(64 * KiB, 1)); // one whole cluster
    m.write(64 * KiB - 100, pattern(300, 2)); // across a cluster boundary
    m.write(3 * 64 * KiB + 17, pattern(200 * KiB, 3)); // several clusters, unaligned both ends
    m.write(60 * MiB + 123, pattern(5000, 4)); // far, sparse
    m.write(64 * MiB - 512, pattern(512, 5)); // the last sector
    m.write(10, pattern(20, 6)); // overwrite inside an allocated cluster
    m.verify();
    m.disk.flush();
    m.disk.close();
    const reopened = openImage(path);
    m.verify(reopened);
    reopened.close();
    expectClean(path);
    expectSameBytes(convertToRaw(path, tmp.path('w.raw')), m.expected, 'qemu-img convert output');
  });

  it('crosses L2 tables and refcount blocks and grows the refcount table with 512-byte clusters', () => {
    const path = tmp.path('small.qcow2');
    qemuImg('create', '-q', '-f', 'qcow2', '-o', 'cluster_size=512', path, '16M');
    const m = new Mirrored(openImage(path));
    const q = m.disk as Qcow2Image;
    const tableBefore = q.header.refcountTableOffset;
    // 512-byte clusters: an L2 table maps 32 KiB, a refcount block counts 256 clusters, one
    // refcount table cluster covers 64 blocks (8 MiB of file): 12 MiB of data must grow it.
    for (let i = 0; i < 12; i++) m.write(i * MiB + i * 37, pattern(MiB - 1000, 10 + i));
    m.write(15 * MiB + 300, pattern(40 * KiB, 30));
    m.verify();
    m.disk.close();
    const reopened = openImage(path) as Qcow2Image;
    expect(reopened.header.refcountTableOffset).not.toBe(tableBefore);
    m.verify(reopened);
    reopened.close();
    expectClean(path);
    expectSameBytes(convertToRaw(path, tmp.path('small.raw')), m.expected, 'qemu-img convert output');
  });

  it('reads data, zero clusters and unallocated clusters written by qemu-io', () => {
    const path = tmp.path('q.qcow2');
    qemuImg('create', '-q', '-f', 'qcow2', path, '8M');
    qemuIo(path, 'qcow2', 'write -P 0xab 0 192k', 'write -P 0x5c 1000k 3k', 'write -z 64k 64k', 'write -P 0x11 7M 4k');
    const disk = openImage(path);
    const all = new Uint8Array(8 * MiB);
    disk.read(0, all);
    const expected = new Uint8Array(8 * MiB);
    expected.fill(0xab, 0, 192 * KiB);
    expected.fill(0, 64 * KiB, 128 * KiB);
    expected.fill(0x5c, 1000 * KiB, 1003 * KiB);
    expected.fill(0x11, 7 * MiB, 7 * MiB + 4 * KiB);
    expectSameBytes(all, expected);
    disk.close();
  });

  it('writes into a zero cluster made by qemu-io with copy-on-write of the zeros', () => {
    const path = tmp.path('z.qcow2');
    qemuImg('create', '-q', '-f', 'qcow2', path, '4M');
    qemuIo(path, 'qcow2', 'write -P 0x77 0 256k', 'write -z 64k 64k', 'write -z -u 128k 64k');
    const m = new Mirrored(openImage(path));
    m.expected.fill(0x77, 0, 256 * KiB);
    m.expected.fill(0, 64 * KiB, 192 * KiB);
    m.verify();
    m.write(64 * KiB + 1000, pattern(100, 7)); // zero cluster with preallocated host cluster
    m.write(128 * KiB + 5, pattern(10, 8)); // zero cluster without host cluster
    m.verify();
    m.disk.close();
    expectClean(path);
    expectSameBytes(convertToRaw(path, tmp.path('z.raw')), m.expected);
  });

  it('writeZeroes and discard free clusters and keep the image consistent', () => {
    const path = tmp.path('d.qcow2');
    qemuImg('create', '-q', '-f', 'qcow2', path, '4M');
    const m = new Mirrored(openImage(path));
    const q = m.disk as Qcow2Image;
    m.write(0, pattern(1 * MiB, 9));
    const clusterHost = (): number => {
      // The first data cluster's host offset, found by asking qemu-img map.
      const map = JSON.parse(qemuImg('map', '--output=json', path)) as Array<{ start: number; offset?: number; data: boolean }>;
      return map.find((e) => e.start === 0 && e.data)!.offset!;
    };
    m.disk.flush();
    const host0 = clusterHost();
    expect(q.refcountAt(host0)).toBe(1);
    m.zero(0, 64 * KiB, true); // whole cluster, unmap: freed
    expect(q.refcountAt(host0)).toBe(0);
    m.zero(64 * KiB, 128 * KiB, false); // whole clusters kept allocated as zero clusters
    m.zero(300 * KiB + 7, 100 * KiB, true); // partial at both ends
    q.discard(512 * KiB, 256 * KiB); // whole clusters, no backing: reads zeros afterwards
    m.expected.fill(0, 512 * KiB, 768 * KiB);
    q.discard(900 * KiB + 1, 10); // partial: allowed to do nothing
    m.verify();
    m.disk.close();
    expectClean(path);
    expectSameBytes(convertToRaw(path, tmp.path('d.raw')), m.expected);
  });

  it('reads and writes version 2 (compat=0.10) images', () => {
    const path = tmp.path('v2.qcow2');
    qemuImg('create', '-q', '-f', 'qcow2', '-o', 'compat=0.10', path, '4M');
    qemuIo(path, 'qcow2', 'write -P 0x42 128k 64k');
    const m = new Mirrored(openImage(path));
    expect((m.disk as Qcow2Image).header.version).toBe(2);
    m.expected.fill(0x42, 128 * KiB, 192 * KiB);
    m.write(100, pattern(70 * KiB, 11));
    m.zero(128 * KiB, 64 * KiB, true);
    m.zero(256 * KiB, 64 * KiB, true); // unallocated, no backing: stays unallocated
    m.verify();
    m.disk.close();
    expectClean(path);
    expectSameBytes(convertToRaw(path, tmp.path('v2.raw')), m.expected);
  });

  it('refuses to read compressed clusters, naming the problem', () => {
    // Compressible data (qemu stores a cluster uncompressed when compression does not help).
    writeFileSync(tmp.path('src.raw'), new Uint8Array(256 * KiB).map((_, i) => (i >> 4) & 0x0f | 0x40));
    qemuImg('convert', '-c', '-f', 'raw', '-O', 'qcow2', tmp.path('src.raw'), tmp.path('c.qcow2'));
    const disk = openImage(tmp.path('c.qcow2'));
    expect(() => disk.read(0, new Uint8Array(512))).toThrow(/compressed clusters are not supported/);
    expect(() => disk.write(70 * KiB, new Uint8Array(512))).toThrow(/compressed clusters are not supported/);
    disk.close();
  });

  it('opens images with internal snapshots read-only only', () => {
    const path = tmp.path('s.qcow2');
    qemuImg('create', '-q', '-f', 'qcow2', path, '1M');
    qemuIo(path, 'qcow2', 'write -P 0x31 0 4k');
    qemuImg('snapshot', '-c', 'snap1', path);
    expect(() => openImage(path)).toThrow(/internal snapshot.*read-only/);
    const ro = openImage(path, { readOnly: true });
    const dst = new Uint8Array(4096);
    ro.read(0, dst);
    expect(dst.every((b) => b === 0x31)).toBe(true);
    ro.close();
  });
});
