/**
 * Tests for the initramfs builder: the cpio "newc" writer and reader (round trips, exact
 * header bytes, padding for every name/data length mod 4, determinism, rejections that
 * name the entry or the offset), gzip through node:zlib, and the contents of our Debian
 * initramfs (/init, busybox, device nodes, extra files).
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import {
  type CpioEntry,
  CpioError,
  MAX_COMPONENT_BYTES,
  MAX_NAME_BYTES,
  NEWC_HEADER_SIZE,
  readCpio,
  withParentDirectories,
  writeCpio,
} from '../../../src/firmware/initramfs/cpio.js';
import {
  buildDebianInitramfs,
  buildDebianInitramfsGz,
  DEFAULT_HOSTNAME,
  debianInitramfsEntries,
  INITRAMFS_DIRECTORIES,
  initScript,
  MODULE_LIST_PATH,
  moduleListText,
  MODULES_MARKER,
  READY_MARKER,
  SHELL_EXIT_MARKER,
  SHELL_PROMPT,
} from '../../../src/firmware/initramfs/debian-initramfs.js';
import { GZIP_OS_OFFSET, GZIP_OS_UNKNOWN, gunzipNode, gzipNode } from '../../../src/firmware/initramfs/gzip.js';
import { makeRandom } from '../../helpers/random.js';

const text = new TextEncoder();
const ascii = (bytes: Uint8Array): string => String.fromCharCode(...bytes);

/** Pseudo-random bytes from a seed. */
function randomBytes(length: number, seed: number): Uint8Array {
  const random = makeRandom(seed);
  return Uint8Array.from({ length }, () => random(256));
}

/** Round `n` up to a multiple of 4 (spec: ALGN(4)). */
const align4 = (n: number): number => Math.ceil(n / 4) * 4;

/** Run `action`, expecting a CpioError; returns it. */
function cpioErrorOf(action: () => unknown): CpioError {
  try {
    action();
  } catch (error) {
    expect(error).toBeInstanceOf(CpioError);
    return error as CpioError;
  }
  throw new Error('expected a CpioError, nothing was thrown');
}

/**
 * One newc member built by hand from the format description (independent of the writer):
 * header fields in order ino, mode, uid, gid, nlink, mtime, filesize, devmajor, devminor,
 * rdevmajor, rdevminor, namesize, check; name + NUL padded to 4; data padded to 4.
 */
function rawMember(name: string, mode: number, data: Uint8Array = new Uint8Array(0), upperHex = false): Uint8Array {
  const nameBytes = text.encode(name);
  const fields = [1, mode, 0, 0, 1, 0, data.length, 0, 0, 0, 0, nameBytes.length + 1, 0];
  const hex = fields.map((v) => v.toString(16).padStart(8, '0')).join('');
  const header = '070701' + (upperHex ? hex.toUpperCase() : hex);
  const headAndName = align4(110 + nameBytes.length + 1);
  const out = new Uint8Array(headAndName + align4(data.length));
  out.set(text.encode(header), 0);
  out.set(nameBytes, 110);
  out.set(data, headAndName);
  return out;
}

/** Concatenate byte arrays. */
function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

/** The end marker built by hand. */
const rawTrailer = (upperHex = false): Uint8Array => rawMember('TRAILER!!!', 0, new Uint8Array(0), upperHex);

/** One entry of every kind, with parents first. */
const SAMPLE: CpioEntry[] = [
  { kind: 'dir', path: '/bin', perm: 0o755 },
  { kind: 'file', path: '/bin/tool', perm: 0o755, data: randomBytes(1001, 7) },
  { kind: 'symlink', path: '/bin/sh', target: 'tool' },
  { kind: 'dir', path: '/dev', perm: 0o700 },
  { kind: 'char', path: '/dev/ttyS0', perm: 0o660, major: 4, minor: 64 },
  { kind: 'file', path: '/empty', perm: 0o644, data: new Uint8Array(0) },
  { kind: 'dir', path: '/tmp', perm: 0o1777 },
  { kind: 'file', path: '/tmp/unicode-é', perm: 0o4711, data: text.encode('é') },
];

describe('cpio newc writer and reader', () => {
  it('round-trips every entry kind through the reader, in order', () => {
    const records = readCpio(writeCpio(SAMPLE));
    expect(records.map((r) => r.entry)).toEqual(SAMPLE);
  });

  it('fills in the documented default permissions', () => {
    const entries: CpioEntry[] = [
      { kind: 'file', path: '/f', data: text.encode('x') },
      { kind: 'dir', path: '/d' },
      { kind: 'char', path: '/c', major: 1, minor: 3 },
      { kind: 'symlink', path: '/l', target: '/f' },
    ];
    const modes = readCpio(writeCpio(entries)).map((r) => r.mode.toString(8));
    expect(modes).toEqual(['100644', '40755', '20600', '120777']);
  });

  it('writes the exact header bytes the newc format defines for a small file', () => {
    const bytes = writeCpio([{ kind: 'file', path: '/a', perm: 0o644, data: text.encode('hi') }]);
    const fileHeader =
      '070701' + '00000001' + '000081A4' + '00000000' + '00000000' + '00000001' + '00000000' +
      '00000002' + '00000000' + '00000000' + '00000000' + '00000000' + '00000002' + '00000000';
    expect(ascii(bytes.subarray(0, 110))).toBe(fileHeader);
    // 110 + "a\0" = 112 is aligned; data "hi" + 2 bytes of padding.
    expect([...bytes.subarray(110, 116)]).toEqual([0x61, 0, 0x68, 0x69, 0, 0]);
    const trailerHeader =
      '070701' + '00000000' + '00000000' + '00000000' + '00000000' + '00000001' + '00000000' +
      '00000000' + '00000000' + '00000000' + '00000000' + '00000000' + '0000000B' + '00000000';
    expect(ascii(bytes.subarray(116, 226))).toBe(trailerHeader);
    // "TRAILER!!!\0" is 11 bytes: 110 + 11 = 121, padded with 3 zero bytes to 124.
    expect(ascii(bytes.subarray(226, 236))).toBe('TRAILER!!!');
    expect([...bytes.subarray(236, 240)]).toEqual([0, 0, 0, 0]);
    expect(bytes.length).toBe(240);
  });

  it('writes owner 0, the fixed mtime, counting inode numbers and nlink 2 only for dirs', () => {
    const records = readCpio(writeCpio(SAMPLE, { mtime: 1_700_000_000 }));
    for (const record of records) {
      expect(record.uid).toBe(0);
      expect(record.gid).toBe(0);
      expect(record.mtime).toBe(1_700_000_000);
      expect(record.nlink).toBe(record.entry.kind === 'dir' ? 2 : 1);
    }
    expect(records.map((r) => r.ino)).toEqual(SAMPLE.map((_, k) => k + 1));
  });

  it('is deterministic: the same entries give identical bytes, another mtime changes only mtime fields', () => {
    const first = writeCpio(SAMPLE);
    const second = writeCpio(SAMPLE.map((e) => ({ ...e })));
    expect(Buffer.from(second).equals(Buffer.from(first))).toBe(true);
    const later = writeCpio(SAMPLE, { mtime: 0x12345678 });
    expect(later.length).toBe(first.length);
    const differing = new Set<number>();
    for (let k = 0; k < first.length; k++) if (first[k] !== later[k]) differing.add(k);
    const mtimeFieldOffsets = readCpio(first).flatMap((r) => [0, 1, 2, 3, 4, 5, 6, 7].map((d) => r.offset + 6 + 5 * 8 + d));
    for (const offset of differing) expect(mtimeFieldOffsets).toContain(offset);
    expect(differing.size).toBeGreaterThan(0);
  });

  it('aligns names and data to 4 bytes for every name length and data length mod 4', () => {
    const entries: CpioEntry[] = [];
    for (let nameLength = 1; nameLength <= 8; nameLength++) {
      for (let dataLength = 0; dataLength <= 7; dataLength++) {
        // Unique names: the letter encodes the data length, the repetition the name length.
        const name = String.fromCharCode(0x61 + dataLength).repeat(nameLength);
        entries.push({ kind: 'file', path: `/${name}`, data: randomBytes(dataLength, nameLength * 10 + dataLength + 1) });
      }
    }
    const bytes = writeCpio(entries);
    let expectedOffset = 0;
    const records = readCpio(bytes);
    records.forEach((record, k) => {
      const entry = entries[k]!;
      if (entry.kind !== 'file') throw new Error('only files here');
      const nameBytes = entry.path.length - 1;
      expect(record.offset).toBe(expectedOffset);
      expect(record.offset % 4).toBe(0);
      const nameEnd = record.offset + NEWC_HEADER_SIZE + nameBytes + 1;
      const dataAt = record.offset + align4(NEWC_HEADER_SIZE + nameBytes + 1);
      expect(bytes.subarray(nameEnd, dataAt).every((b) => b === 0)).toBe(true);
      expect([...bytes.subarray(dataAt, dataAt + entry.data.length)]).toEqual([...entry.data]);
      const next = dataAt + align4(entry.data.length);
      expect(bytes.subarray(dataAt + entry.data.length, next).every((b) => b === 0)).toBe(true);
      expectedOffset = next;
    });
    expect(records).toHaveLength(64);
    expect(ascii(bytes.subarray(expectedOffset, expectedOffset + 6))).toBe('070701');
    expect(bytes.length).toBe(expectedOffset + align4(NEWC_HEADER_SIZE + 11));
    expect(bytes.length % 4).toBe(0);
  });

  it('stores a symlink target as the member data, without a NUL', () => {
    const bytes = writeCpio([{ kind: 'symlink', path: '/l', target: 'abc' }]);
    expect(ascii(bytes.subarray(6 + 6 * 8, 6 + 7 * 8))).toBe('00000003');
    expect(ascii(bytes.subarray(112, 115))).toBe('abc');
    expect(bytes[115]).toBe(0);
  });

  it('writes device numbers into rdevmajor/rdevminor and leaves devmajor/devminor 0', () => {
    const bytes = writeCpio([{ kind: 'char', path: '/c', major: 0xabc, minor: 0xfedcb }]);
    const field = (k: number): string => ascii(bytes.subarray(6 + 8 * k, 6 + 8 * (k + 1)));
    expect([field(7), field(8), field(9), field(10)]).toEqual(['00000000', '00000000', '00000ABC', '000FEDCB']);
    expect(readCpio(bytes)[0]!.entry).toEqual({ kind: 'char', path: '/c', perm: 0o600, major: 0xabc, minor: 0xfedcb });
  });

  it('accepts names up to the PATH_MAX and NAME_MAX limits', () => {
    const component = 'c'.repeat(MAX_COMPONENT_BYTES);
    const dirs: CpioEntry[] = [];
    let path = '';
    while ((path + '/' + component).length - 1 <= MAX_NAME_BYTES - (component.length + 1)) {
      path += '/' + component;
      dirs.push({ kind: 'dir', path });
    }
    const last = 'f'.repeat(MAX_NAME_BYTES - (path.length - 1) - 1);
    const longest = `${path}/${last}`;
    expect(longest.length - 1).toBe(MAX_NAME_BYTES);
    const records = readCpio(writeCpio([...dirs, { kind: 'file', path: longest, data: new Uint8Array(1) }]));
    expect(records.at(-1)!.entry.path).toBe(longest);
  });
});

describe('cpio writer rejections name the entry', () => {
  const file = (path: string): CpioEntry => ({ kind: 'file', path, data: new Uint8Array(0) });

  it.each([
    ['relative', 'bin', 'must be absolute'],
    ['root', '/', 'root directory'],
    ['trailing slash', '/bin/', 'ends with "/"'],
    ['double slash', '/a//b', 'empty component'],
    ['dot component', '/a/./b', '"." component'],
    ['dot-dot component', '/a/../b', '".." component'],
    ['NUL', '/a\0b', 'NUL'],
    ['empty', '', 'empty'],
    ['the trailer name', '/TRAILER!!!', 'reserved'],
  ])('rejects a %s path', (_what, path, problem) => {
    const error = cpioErrorOf(() => writeCpio([{ kind: 'dir', path: '/a' }, file(path)]));
    expect(error.message).toContain('cpio entry 1');
    expect(error.message).toContain(problem);
  });

  it('rejects a component longer than NAME_MAX and a name longer than PATH_MAX', () => {
    const longComponent = '/' + 'x'.repeat(MAX_COMPONENT_BYTES + 1);
    expect(cpioErrorOf(() => writeCpio([file(longComponent)])).message).toContain(`longer than ${MAX_COMPONENT_BYTES} bytes`);
    const dirs: CpioEntry[] = [];
    let path = '';
    for (let k = 0; k < 16; k++) {
      path += '/' + 'd'.repeat(255);
      dirs.push({ kind: 'dir', path });
    }
    expect(path.length - 1).toBe(MAX_NAME_BYTES); // 16 components of 255 and 15 slashes
    const error = cpioErrorOf(() => writeCpio([...dirs, file(`${path}/x`)]));
    expect(error.message).toMatch(/^cpio entry 16 .*the name is 4097 bytes, more than 4095/);
  });

  it('rejects a duplicate path, naming both entries', () => {
    const error = cpioErrorOf(() => writeCpio([file('/x'), { kind: 'dir', path: '/y' }, { kind: 'dir', path: '/x' }]));
    expect(error.message).toBe("cpio entry 2 '/x': duplicate path (also entry 0)");
    expect(error.path).toBe('/x');
  });

  it('rejects a missing parent directory and a parent listed after its child', () => {
    expect(cpioErrorOf(() => writeCpio([file('/bin/sh')])).message)
      .toBe("cpio entry 0 '/bin/sh': parent directory '/bin' is not an earlier entry");
    expect(cpioErrorOf(() => writeCpio([file('/bin/sh'), { kind: 'dir', path: '/bin' }])).path).toBe('/bin/sh');
  });

  it('rejects a parent that is not a directory', () => {
    const error = cpioErrorOf(() => writeCpio([file('/f'), file('/f/g')]));
    expect(error.message).toBe("cpio entry 1 '/f/g': parent '/f' (entry 0) is a file, not a dir");
  });

  it.each([
    [{ kind: 'file', path: '/p', perm: 0o10000, data: new Uint8Array(0) }, 'perm 4096'],
    [{ kind: 'dir', path: '/p', perm: -1 }, 'perm -1'],
    [{ kind: 'dir', path: '/p', perm: 1.5 }, 'perm 1.5'],
    [{ kind: 'char', path: '/p', major: 0x1000, minor: 0 }, 'device major 4096'],
    [{ kind: 'char', path: '/p', major: 1, minor: 0x100000 }, 'device minor 1048576'],
    [{ kind: 'symlink', path: '/p', target: '' }, 'symlink target is empty'],
    [{ kind: 'symlink', path: '/p', target: 'a\0' }, 'NUL'],
    [{ kind: 'file', path: '/p', data: [1, 2] }, 'not a Uint8Array'],
    [{ kind: 'fifo', path: '/p' }, 'unknown kind "fifo"'],
  ])('rejects a bad field: %j', (entry, problem) => {
    const error = cpioErrorOf(() => writeCpio([entry as unknown as CpioEntry]));
    expect(error.message).toMatch(/^cpio entry 0 '\/p': /);
    expect(error.message).toContain(problem);
  });

  it('rejects an mtime that does not fit the 8-digit field', () => {
    expect(cpioErrorOf(() => writeCpio([], { mtime: 2 ** 32 })).message).toContain('mtime');
  });
});

describe('cpio reader rejections name the offset', () => {
  const archive = writeCpio(SAMPLE);

  it('rejects every truncation of a valid archive', () => {
    for (let cut = 0; cut < archive.length; cut++) {
      const error = cpioErrorOf(() => readCpio(archive.subarray(0, cut)));
      expect(error.offset).toBeDefined();
      expect(error.offset!).toBeLessThanOrEqual(cut);
      expect(error.message).toContain(`offset ${error.offset}`);
    }
  });

  it('names the member offset for a bad magic', () => {
    const second = readCpio(archive)[1]!.offset;
    const corrupt = archive.slice();
    corrupt[second + 5] = 0x37; // "070707", the old odc magic
    const error = cpioErrorOf(() => readCpio(corrupt));
    expect(error.offset).toBe(second);
    expect(error.message).toContain('bad magic "070707"');
  });

  it('names the field offset for a field that is not hex', () => {
    const corrupt = archive.slice();
    corrupt[6 + 8 + 3] = 0x47; // 'G' inside c_mode of the first member
    const error = cpioErrorOf(() => readCpio(corrupt));
    expect(error.offset).toBe(6 + 8);
    expect(error.message).toContain('c_mode');
  });

  it('rejects non-zero padding, garbage after the trailer and a missing trailer', () => {
    const withPadding = writeCpio([{ kind: 'file', path: '/a', data: text.encode('hi') }]);
    const padded = withPadding.slice();
    padded[114] = 1;
    expect(cpioErrorOf(() => readCpio(padded)).offset).toBe(114);
    const garbage = new Uint8Array([...withPadding, 0, 0, 9, 0]);
    expect(cpioErrorOf(() => readCpio(garbage)).offset).toBe(withPadding.length + 2);
    expect(readCpio(new Uint8Array([...withPadding, 0, 0, 0, 0]))).toHaveLength(1);
    const noTrailer = withPadding.subarray(0, 116);
    const error = cpioErrorOf(() => readCpio(noTrailer));
    expect(error.offset).toBe(116);
    expect(error.message).toContain('without a TRAILER!!! member');
  });

  it('rejects a bad name size, an unterminated name and a name that is not normalised', () => {
    const bytes = writeCpio([{ kind: 'file', path: '/abc', data: new Uint8Array(0) }]);
    const setNameSize = (value: string): Uint8Array => {
      const copy = bytes.slice();
      copy.set(text.encode(value), 6 + 11 * 8);
      return copy;
    };
    expect(cpioErrorOf(() => readCpio(setNameSize('00000001'))).message).toContain('c_namesize 1 is too small');
    expect(cpioErrorOf(() => readCpio(setNameSize('00000003'))).message).toContain('not NUL-terminated');
    const second = rawMember('a/../b', 0o100644);
    const dotted = concat(rawMember('a', 0o40755), second, rawTrailer());
    const error = cpioErrorOf(() => readCpio(dotted));
    expect(error.offset).toBe(rawMember('a', 0o40755).length);
    expect(error.message).toContain('".." component');
  });

  it('rejects a member type the reader does not support (block device)', () => {
    const bytes = writeCpio([{ kind: 'char', path: '/b', major: 8, minor: 0 }]);
    bytes.set(text.encode('000061B0'), 6 + 8); // S_IFBLK | 0660
    expect(cpioErrorOf(() => readCpio(bytes)).message).toContain('unsupported file type');
  });

  it('reads a hand-built archive (lowercase hex): names with a leading "./", the "." root member skipped', () => {
    const archive = concat(
      rawMember('.', 0o40755),
      rawMember('./ab', 0o40700),
      rawMember('ab/c', 0o100600, text.encode('xyz')),
      rawMember('ab/l', 0o120777, text.encode('c')),
      rawTrailer(),
    );
    expect(readCpio(archive).map((r) => r.entry)).toEqual([
      { kind: 'dir', path: '/ab', perm: 0o700 },
      { kind: 'file', path: '/ab/c', perm: 0o600, data: text.encode('xyz') },
      { kind: 'symlink', path: '/ab/l', target: 'c' },
    ]);
  });

  it('matches the hand-built bytes exactly for the same members', () => {
    const byHand = concat(rawMember('d', 0o40755, new Uint8Array(0), true), rawTrailer(true));
    // The hand-built member has ino 1 and nlink 1; the writer gives a dir nlink 2.
    byHand.set(text.encode('00000002'), 6 + 4 * 8);
    const trailerAt = align4(110 + 2);
    byHand.set(text.encode('00000000'), trailerAt + 6); // trailer ino 0
    expect(ascii(writeCpio([{ kind: 'dir', path: '/d' }]))).toBe(ascii(byHand));
  });
});

describe('withParentDirectories', () => {
  it('inserts missing parents before the first child and lets a later listed dir replace its placeholder', () => {
    const entries = withParentDirectories([
      { kind: 'file', path: '/lib/modules/6.1/kernel/x.ko', data: text.encode('ko') },
      { kind: 'dir', path: '/lib/modules', perm: 0o700 },
      { kind: 'file', path: '/etc/x', data: new Uint8Array(0) },
    ]);
    expect(entries.map((e) => [e.kind, e.path, 'perm' in e ? e.perm : undefined])).toEqual([
      ['dir', '/lib', 0o755],
      ['dir', '/lib/modules', 0o700],
      ['dir', '/lib/modules/6.1', 0o755],
      ['dir', '/lib/modules/6.1/kernel', 0o755],
      ['file', '/lib/modules/6.1/kernel/x.ko', undefined],
      ['dir', '/etc', 0o755],
      ['file', '/etc/x', undefined],
    ]);
    expect(readCpio(writeCpio(entries)).map((r) => r.entry.path)).toEqual(entries.map((e) => e.path));
  });

  it('keeps a duplicate for the writer to reject', () => {
    const entries = withParentDirectories([{ kind: 'dir', path: '/a' }, { kind: 'dir', path: '/a' }]);
    expect(cpioErrorOf(() => writeCpio(entries)).message).toContain('duplicate path');
  });
});

describe('gzip', () => {
  it('round-trips through node:zlib gunzip and marks the OS byte unknown', async () => {
    const data = writeCpio(SAMPLE);
    const packed = await gzipNode(data);
    expect([packed[0], packed[1], packed[2]]).toEqual([0x1f, 0x8b, 8]);
    expect(packed[GZIP_OS_OFFSET]).toBe(GZIP_OS_UNKNOWN);
    expect(Buffer.from(gunzipSync(packed)).equals(Buffer.from(data))).toBe(true);
    expect(Buffer.from(gunzipNode(packed)).equals(Buffer.from(data))).toBe(true);
  });

  it('gives identical bytes for identical input', async () => {
    const data = randomBytes(50_000, 3);
    expect(Buffer.from(await gzipNode(data)).equals(Buffer.from(await gzipNode(data.slice())))).toBe(true);
  });
});

describe('the Debian initramfs', () => {
  const busybox = randomBytes(4099, 11);
  const records = readCpio(buildDebianInitramfs({ busybox }));
  const byPath = new Map(records.map((r) => [r.entry.path, r]));
  const get = (path: string) => {
    const record = byPath.get(path);
    if (!record) throw new Error(`${path} is not in the initramfs`);
    return record;
  };

  it('holds /init as an executable (0755) busybox shell script', () => {
    const init = get('/init');
    expect(init.mode).toBe(0o100755);
    if (init.entry.kind !== 'file') throw new Error('/init is not a file');
    const script = new TextDecoder().decode(init.entry.data);
    expect(script.startsWith('#!/bin/busybox sh\n')).toBe(true);
    expect(script).toBe(initScript());
  });

  it('holds /bin/busybox with the given bytes, mode 0755', () => {
    const record = get('/bin/busybox');
    expect(record.mode).toBe(0o100755);
    if (record.entry.kind !== 'file') throw new Error('/bin/busybox is not a file');
    expect(Buffer.from(record.entry.data).equals(Buffer.from(busybox))).toBe(true);
  });

  it('holds /dev/console (char 5,1) and /dev/ttyS0 (char 4,64)', () => {
    expect(get('/dev/console').entry).toEqual({ kind: 'char', path: '/dev/console', perm: 0o600, major: 5, minor: 1 });
    expect(get('/dev/ttyS0').entry).toEqual({ kind: 'char', path: '/dev/ttyS0', perm: 0o660, major: 4, minor: 64 });
  });

  it('holds the directories, /etc/hostname, no /etc/passwd, everything owned by root', () => {
    for (const dir of ['/dev', '/proc', '/sys', '/tmp', '/root', '/etc', '/mnt', '/bin', '/sbin', '/usr/bin', '/usr/sbin']) {
      expect(get(dir).entry.kind).toBe('dir');
    }
    expect(INITRAMFS_DIRECTORIES.every((dir) => byPath.has(dir))).toBe(true);
    expect(get('/tmp').mode).toBe(0o41777);
    const hostname = get('/etc/hostname').entry;
    expect(hostname.kind === 'file' && new TextDecoder().decode(hostname.data)).toBe(`${DEFAULT_HOSTNAME}\n`);
    expect(byPath.has('/etc/passwd')).toBe(false);
    expect(records.every((r) => r.uid === 0 && r.gid === 0 && r.mtime === 0)).toBe(true);
  });

  it('runs the steps of /init in order: mounts, applets, prompt, marker, job-control shell, poweroff', () => {
    const script = initScript();
    const order = [
      'mount -t proc proc /proc',
      'mount -t sysfs sysfs /sys',
      'mount -t devtmpfs devtmpfs /dev',
      '/bin/busybox --install -s',
      `export PS1='${SHELL_PROMPT}'`,
      `hostname ${DEFAULT_HOSTNAME}`,
      `done < ${MODULE_LIST_PATH}`,
      `echo "${MODULES_MARKER} $loaded loaded, $failed failed =="`,
      `echo '${READY_MARKER}'`,
      'setsid cttyhack sh',
      `echo '${SHELL_EXIT_MARKER}'`,
      'poweroff -f',
    ].map((step) => script.indexOf(step));
    expect(order.every((at) => at >= 0)).toBe(true);
    expect([...order].sort((a, b) => a - b)).toEqual(order);
    expect(SHELL_PROMPT).toBe('~ # ');
  });

  it('uses the given hostname and rejects one the script could not hold safely', () => {
    expect(initScript('box-1')).toContain('hostname box-1\n');
    expect(() => initScript("x'; rm -rf /")).toThrow(/not a valid host name/);
    expect(() => debianInitramfsEntries({ busybox, hostname: '' })).toThrow(/not a valid host name/);
  });

  it('adds extra files with their missing parent directories', () => {
    const module = text.encode('\x7fELF module');
    const entries = debianInitramfsEntries({
      busybox,
      extraFiles: [{ kind: 'file', path: '/lib/modules/6.1.0-50-686/kernel/drivers/x.ko', data: module }],
    });
    const paths = entries.map((e) => e.path);
    expect(paths.slice(-6)).toEqual([
      '/lib', '/lib/modules', '/lib/modules/6.1.0-50-686', '/lib/modules/6.1.0-50-686/kernel',
      '/lib/modules/6.1.0-50-686/kernel/drivers', '/lib/modules/6.1.0-50-686/kernel/drivers/x.ko',
    ]);
    const read = readCpio(writeCpio(entries)).at(-1)!.entry;
    expect(read.kind === 'file' && [...read.data]).toEqual([...module]);
  });

  it('rejects a missing busybox and an extra file that collides with ours', () => {
    expect(() => buildDebianInitramfs({ busybox: new Uint8Array(0) })).toThrow(/busybox binary is missing or empty/);
    const error = cpioErrorOf(() => buildDebianInitramfs({ busybox, extraFiles: [{ kind: 'file', path: '/init', data: new Uint8Array(1) }] }));
    expect(error.message).toContain("'/init': duplicate path");
  });

  it('is reproducible, and the gzipped form unpacks to the same archive', async () => {
    const first = buildDebianInitramfs({ busybox });
    expect(Buffer.from(buildDebianInitramfs({ busybox: busybox.slice() })).equals(Buffer.from(first))).toBe(true);
    const gz = await buildDebianInitramfsGz({ busybox }, gzipNode);
    expect(Buffer.from(gunzipSync(gz)).equals(Buffer.from(first))).toBe(true);
    const gzAgain = await buildDebianInitramfsGz({ busybox }, gzipNode);
    expect(Buffer.from(gzAgain).equals(Buffer.from(gz))).toBe(true);
  });

  it('holds an empty module list when no modules are given', () => {
    const list = get(MODULE_LIST_PATH);
    expect(list.mode).toBe(0o100644);
    expect(list.entry.kind === 'file' && list.entry.data.length).toBe(0);
  });
});

describe('kernel modules in the Debian initramfs', () => {
  const busybox = randomBytes(777, 5);
  const modules = [
    { name: 'virtio', path: '/lib/modules/6.1.0-50-686/kernel/drivers/virtio/virtio.ko', data: randomBytes(300, 1) },
    { name: 'virtio_pci', path: '/lib/modules/6.1.0-50-686/kernel/drivers/virtio/virtio_pci.ko', data: randomBytes(301, 2) },
    { name: 'ext4', path: '/lib/modules/6.1.0-50-686/kernel/fs/ext4/ext4.ko', data: randomBytes(302, 3) },
  ];

  it('stores each module at its path (0644) and lists them in load order', () => {
    const records = readCpio(buildDebianInitramfs({ busybox, modules }));
    const byPath = new Map(records.map((r) => [r.entry.path, r]));
    for (const module of modules) {
      const record = byPath.get(module.path);
      expect(record?.mode).toBe(0o100644);
      expect(record?.entry.kind === 'file' && Buffer.from(record.entry.data).equals(Buffer.from(module.data))).toBe(true);
    }
    expect(byPath.get('/lib/modules/6.1.0-50-686/kernel/fs')?.entry.kind).toBe('dir');
    const list = byPath.get(MODULE_LIST_PATH)?.entry;
    expect(list?.kind === 'file' && new TextDecoder().decode(list.data)).toBe(
      'virtio /lib/modules/6.1.0-50-686/kernel/drivers/virtio/virtio.ko\n' +
      'virtio_pci /lib/modules/6.1.0-50-686/kernel/drivers/virtio/virtio_pci.ko\n' +
      'ext4 /lib/modules/6.1.0-50-686/kernel/fs/ext4/ext4.ko\n');
  });

  it('rejects module names and paths the /init loop could not read back', () => {
    const data = new Uint8Array(1);
    expect(() => moduleListText([{ name: 'a b', path: '/lib/modules/x/a.ko', data }])).toThrow(/"a b" is not a module name/);
    expect(() => moduleListText([{ name: 'a', path: '/lib/modules/x y/a.ko', data }])).toThrow(/module a: path .* is not a \.ko file under \/lib\/modules\//);
    expect(() => moduleListText([{ name: 'a', path: '/tmp/a.ko', data }])).toThrow(/is not a \.ko file under \/lib\/modules\//);
    expect(() => buildDebianInitramfs({ busybox, modules: [{ name: 'a', path: '/lib/modules/v/a.o', data }] })).toThrow(/module a: path/);
  });

  it('the /init module loop prints one line per module, goes on after a failure and prints the summary', () => {
    // Run the loop part of the real script under the host's POSIX sh, with a stub insmod
    // that fails for ext4 the way busybox's does and records what it was asked to load.
    const script = initScript();
    const loop = script.slice(script.indexOf('loaded=0'), script.indexOf('\n', script.indexOf(MODULES_MARKER)) + 1);
    const dir = mkdtempSync(join(tmpdir(), 'tshv-init-loop-'));
    try {
      const listFile = join(dir, 'modules');
      writeFileSync(listFile, moduleListText(modules));
      const calls = join(dir, 'calls');
      writeFileSync(join(dir, 'insmod'), `#!/bin/sh\necho "$1" >> ${calls}\ncase "$1" in *ext4*) echo "insmod: can't insert '$1': unknown symbol in module" >&2; exit 1;; esac\n`);
      chmodSync(join(dir, 'insmod'), 0o755);
      const run = spawnSync('/bin/sh', ['-c', loop.split(MODULE_LIST_PATH).join(listFile)], {
        encoding: 'utf8',
        env: { PATH: `${dir}:/usr/bin:/bin` },
      });
      expect(run.status).toBe(0);
      expect(run.stdout).toBe(
        'tshv: insmod virtio: ok\n' +
        'tshv: insmod virtio_pci: ok\n' +
        `tshv: insmod ext4: FAILED: insmod: can't insert '${modules[2]!.path}': unknown symbol in module\n` +
        `${MODULES_MARKER} 2 loaded, 1 failed ==\n`);
      expect(spawnSync('cat', [calls], { encoding: 'utf8' }).stdout).toBe(modules.map((m) => `${m.path}\n`).join(''));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
