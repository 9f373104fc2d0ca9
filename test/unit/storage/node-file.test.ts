import { readFileSync, writeFileSync } from 'node:fs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { StorageError } from '../../../src/storage/block-backend.js';
import { MemoryFile } from '../../../src/storage/memory-file.js';
import { createNodeFile, nodeFileOpener, openNodeFile } from '../../../src/storage/node-file.js';
import { tempDir } from './storage-helpers.js';

describe('NodeFile', () => {
  let tmp: ReturnType<typeof tempDir>;
  beforeEach(() => (tmp = tempDir('nodefile')));
  afterEach(() => tmp.remove());

  it('reads, writes, grows, and reads zeros past the end', () => {
    writeFileSync(tmp.path('f'), Uint8Array.from([1, 2, 3, 4]));
    const f = openNodeFile(tmp.path('f'), false);
    expect(f.size()).toBe(4);
    const dst = new Uint8Array(8).fill(0xee);
    f.read(2, dst);
    expect([...dst]).toEqual([3, 4, 0, 0, 0, 0, 0, 0]);
    f.write(6, Uint8Array.from([9, 8]));
    expect(f.size()).toBe(8);
    f.flush();
    f.close();
    expect([...readFileSync(tmp.path('f'))]).toEqual([1, 2, 3, 4, 0, 0, 9, 8]);
  });

  it('truncates and refuses writes when read-only', () => {
    const f = createNodeFile(tmp.path('g'));
    f.write(0, new Uint8Array(100).fill(7));
    f.truncate(10);
    expect(f.size()).toBe(10);
    f.close();
    const ro = openNodeFile(tmp.path('g'), true);
    expect(ro.readOnly).toBe(true);
    expect(() => ro.write(0, new Uint8Array(1))).toThrow(StorageError);
    ro.close();
    expect(() => ro.size()).toThrow(/closed/);
  });

  it('names a missing file in the error', () => {
    expect(() => openNodeFile(tmp.path('missing'), true)).toThrow(/missing.*cannot open/);
  });

  it('resolves relative backing names against the referring file', () => {
    writeFileSync(tmp.path('base'), Uint8Array.from([5]));
    const referrer = createNodeFile(tmp.path('top'));
    const base = nodeFileOpener('base', referrer, true);
    expect(base.name).toBe(openNodeFile(tmp.path('base'), true).name);
    const dst = new Uint8Array(1);
    base.read(0, dst);
    expect(dst[0]).toBe(5);
    const absolute = nodeFileOpener(tmp.path('base'), referrer, true);
    expect(absolute.name).toBe(base.name);
    base.close();
    absolute.close();
    referrer.close();
  });
});

describe('MemoryFile', () => {
  it('grows on writes past the end with zero fill and reads zeros past the end', () => {
    const f = new MemoryFile('mem', Uint8Array.from([1, 2]));
    f.write(10_000, Uint8Array.from([3]));
    expect(f.size()).toBe(10_001);
    const dst = new Uint8Array(4).fill(0xff);
    f.read(1, dst);
    expect([...dst]).toEqual([2, 0, 0, 0]);
    f.read(10_000, dst);
    expect([...dst]).toEqual([3, 0, 0, 0]);
  });

  it('truncate shrinks and regrowing gives zeros, not stale bytes', () => {
    const f = new MemoryFile('mem');
    f.write(0, new Uint8Array(16).fill(9));
    f.truncate(4);
    f.write(8, Uint8Array.from([1]));
    expect([...f.bytes()]).toEqual([9, 9, 9, 9, 0, 0, 0, 0, 1]);
    f.truncate(12);
    expect([...f.bytes().subarray(9)]).toEqual([0, 0, 0]);
  });

  it('refuses writes when read-only or closed', () => {
    const ro = new MemoryFile('ro', new Uint8Array(4), true);
    expect(() => ro.write(0, new Uint8Array(1))).toThrow(/read-only/);
    const f = new MemoryFile('c');
    f.close();
    expect(() => f.read(0, new Uint8Array(1))).toThrow(/closed/);
  });
});
