// Bad qcow2 input: every malformed header field, unsupported feature and out-of-file table
// pointer gives a StorageError that names the image and the field or offset.
import { openSync, closeSync, readFileSync, writeFileSync, writeSync } from 'node:fs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { StorageError } from '../../../../src/storage/block-backend.js';
import { openImage } from '../../../../src/storage/open-image.js';
import { qemuImg, qemuIo, tempDir } from '../storage-helpers.js';

/** Overwrite bytes of a file in place. */
function patch(path: string, offset: number, bytes: Uint8Array): void {
  const fd = openSync(path, 'r+');
  writeSync(fd, bytes, 0, bytes.length, offset);
  closeSync(fd);
}

function u32(value: number): Uint8Array {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, value);
  return b;
}

function u64(value: bigint): Uint8Array {
  const b = new Uint8Array(8);
  new DataView(b.buffer).setBigUint64(0, value);
  return b;
}

/** A big-endian u64 header field of the image at `path`. */
function readU64(path: string, offset: number): number {
  return Number(new DataView(readFileSync(path).buffer).getBigUint64(offset));
}

/** Expect opening (and reading the first cluster) to fail with a StorageError matching `pattern` and naming the image. */
function expectStorageError(path: string, pattern: RegExp, options: { format?: 'qcow2' | 'auto'; readOnly?: boolean } = {}): void {
  let caught: unknown;
  try {
    const disk = openImage(path, { format: options.format ?? 'qcow2', readOnly: options.readOnly });
    try {
      disk.read(0, new Uint8Array(512));
    } finally {
      disk.close();
    }
  } catch (e) {
    caught = e;
  }
  expect(caught).toBeInstanceOf(StorageError);
  const message = (caught as Error).message;
  expect(message).toMatch(pattern);
  expect(message).toContain(path.split('/').pop()!);
}

describe('corrupt or unsupported qcow2 images', () => {
  let tmp: ReturnType<typeof tempDir>;
  let img: string;
  beforeEach(() => {
    tmp = tempDir('qcow2-bad');
    img = tmp.path('bad.qcow2');
    qemuImg('create', '-q', '-f', 'qcow2', img, '1M');
  });
  afterEach(() => tmp.remove());

  it('accepts the unmodified image (control)', () => {
    const disk = openImage(img, { format: 'qcow2' });
    disk.read(0, new Uint8Array(512));
    disk.close();
  });

  it('truncated header', () => {
    writeFileSync(img, readFileSync(img).subarray(0, 50));
    expectStorageError(img, /truncated/);
  });

  it('wrong magic when the format is qcow2', () => {
    writeFileSync(img, new Uint8Array(1 << 20));
    expectStorageError(img, /field magic \(byte 0\)/);
  });

  it('unsupported version', () => {
    patch(img, 4, u32(4));
    expectStorageError(img, /field version \(byte 4\): 4/);
  });

  it('cluster_bits out of range', () => {
    patch(img, 20, u32(8));
    expectStorageError(img, /field cluster_bits \(byte 20\): 8 is outside 9\.\.21/);
    patch(img, 20, u32(22));
    expectStorageError(img, /field cluster_bits \(byte 20\): 22/);
  });

  it('encryption', () => {
    patch(img, 32, u32(2));
    expectStorageError(img, /field crypt_method \(byte 32\)/);
  });

  it('misaligned or out-of-file L1 table', () => {
    const l1 = readU64(img, 40);
    patch(img, 40, u64(BigInt(l1 + 8)));
    expectStorageError(img, /field l1_table_offset \(byte 40\).*not aligned/);
    patch(img, 40, u64(1n << 30n));
    expectStorageError(img, /field l1_table_offset \(byte 40\).*past the end of the file/);
  });

  it('misaligned or out-of-file refcount table', () => {
    const rt = readU64(img, 48);
    patch(img, 48, u64(BigInt(rt + 512)));
    expectStorageError(img, /field refcount_table_offset \(byte 48\).*not aligned/);
    patch(img, 48, u64(1n << 30n));
    expectStorageError(img, /field refcount_table_offset \(byte 48\).*past the end of the file/);
  });

  it('L1 table too small for the virtual size', () => {
    patch(img, 24, u64(1n << 40n));
    expectStorageError(img, /field l1_size \(byte 36\).*cannot map the virtual size/);
  });

  it('dirty bit asks for qemu-img check -r all', () => {
    patch(img, 72, u64(1n));
    expectStorageError(img, /dirty bit.*qemu-img check -r all/);
  });

  it('corrupt bit', () => {
    patch(img, 72, u64(2n));
    expectStorageError(img, /incompatible_features.*corrupt bit/);
  });

  it.each([
    [2, /feature "external data file" \(bit 2\)/],
    [3, /feature "compression type" \(bit 3\)/],
    [4, /feature "extended L2 entries" \(bit 4\)/],
    [9, /unknown feature bit 9/],
  ])('incompatible feature bit %i is refused by name', (bit, pattern) => {
    patch(img, 72, u64(1n << BigInt(bit)));
    expectStorageError(img, pattern);
  });

  it('extended L2 entries made by qemu-img are refused', () => {
    qemuImg('create', '-q', '-f', 'qcow2', '-o', 'extended_l2=on', img, '1M');
    expectStorageError(img, /extended L2 entries/);
  });

  it('refcount widths other than 16 bits', () => {
    qemuImg('create', '-q', '-f', 'qcow2', '-o', 'refcount_bits=8', img, '1M');
    expectStorageError(img, /field refcount_order \(byte 96\): 3 \(8-bit refcounts\) is not supported/);
  });

  it('bad header_length', () => {
    patch(img, 100, u32(100));
    expectStorageError(img, /field header_length \(byte 100\)/);
  });

  it('bad backing file name size', () => {
    patch(img, 8, u64(512n));
    patch(img, 16, u32(5000));
    expectStorageError(img, /field backing_file_size \(byte 16\)/);
  });

  it('L1 entry pointing past the end of the file', () => {
    const l1 = readU64(img, 40);
    patch(img, l1, u64((1n << 63n) | (1n << 30n)));
    expectStorageError(img, new RegExp(`L1 entry 0 \\(byte ${l1}\\).*past the end of the file`));
  });

  it('L2 entry pointing past the end of the file', () => {
    qemuIo(img, 'qcow2', 'write -P 0x12 0 4k');
    const l1 = readU64(img, 40);
    const l2 = readU64(img, l1) & Number((1n << 56n) - 512n);
    patch(img, l2, u64((1n << 63n) | (1n << 30n)));
    expectStorageError(img, new RegExp(`L2 table at ${l2}, entry 0 \\(byte ${l2}\\).*past the end of the file`));
  });

  it('misaligned refcount table entry', () => {
    const rt = readU64(img, 48);
    const block = readU64(img, rt);
    patch(img, rt, u64(BigInt(block + 512)));
    expectStorageError(img, new RegExp(`refcount table entry 0 \\(byte ${rt}\\).*not cluster aligned`));
  });
});
