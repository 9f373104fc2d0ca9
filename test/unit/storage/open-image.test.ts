import { writeFileSync } from 'node:fs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { MemoryFile } from '../../../src/storage/memory-file.js';
import { createNodeFile } from '../../../src/storage/node-file.js';
import { openImage, openImageFile, probeFormat } from '../../../src/storage/open-image.js';
import { createQcow2 } from '../../../src/storage/qcow2/create.js';
import { Qcow2Image } from '../../../src/storage/qcow2/qcow2-image.js';
import { RawImage } from '../../../src/storage/raw.js';
import { pattern, qemuImg, tempDir } from './storage-helpers.js';

describe('openImage', () => {
  let tmp: ReturnType<typeof tempDir>;
  beforeEach(() => (tmp = tempDir('open-image')));
  afterEach(() => tmp.remove());

  it('probes qcow2 by its magic and everything else as raw', () => {
    qemuImg('create', '-q', '-f', 'qcow2', tmp.path('q'), '1M');
    writeFileSync(tmp.path('r'), pattern(4096, 1));
    const q = openImage(tmp.path('q'));
    const r = openImage(tmp.path('r'));
    expect(q).toBeInstanceOf(Qcow2Image);
    expect(r).toBeInstanceOf(RawImage);
    expect(q.sizeBytes).toBe(1 << 20);
    expect(r.sizeBytes).toBe(4096);
    q.close();
    r.close();
    expect(probeFormat(new MemoryFile('m', Uint8Array.from([0x51, 0x46, 0x49, 0xfb])))).toBe('qcow2');
    expect(probeFormat(new MemoryFile('m', Uint8Array.from([0x51, 0x46, 0x49])))).toBe('raw');
  });

  it('format raw opens a qcow2 file as its raw bytes', () => {
    qemuImg('create', '-q', '-f', 'qcow2', tmp.path('q'), '1M');
    const disk = openImage(tmp.path('q'), { format: 'raw', readOnly: true });
    expect(disk).toBeInstanceOf(RawImage);
    const magic = new Uint8Array(4);
    disk.read(0, magic);
    expect([...magic]).toEqual([0x51, 0x46, 0x49, 0xfb]);
    disk.close();
  });

  it('refuses a backing format it does not support, naming it', () => {
    const f = createNodeFile(tmp.path('o'));
    createQcow2(f, { sizeBytes: 1 << 20, backingFile: 'b' });
    f.close();
    writeFileSync(tmp.path('b'), new Uint8Array(1 << 20));
    // Rewrite the backing-format extension's value ("raw" would be valid) to "vmdk".
    const top = new MemoryFile('top');
    createQcow2(top, { sizeBytes: 1 << 20, backingFile: 'b', backingFormat: 'raw' });
    const bytes = top.bytes().slice();
    const at = bytes.indexOf(0x72, 104); // the 'r' of "raw" in the extension data
    bytes.set([0x76, 0x6d, 0x64, 0x6b], at);
    new DataView(bytes.buffer).setUint32(104 + 4, 4);
    expect(() => openImageFile(new MemoryFile('top', bytes), { opener: () => new MemoryFile('b', new Uint8Array(1 << 20)) })).toThrow(
      /top: backing format "vmdk" is not supported/,
    );
    // Without a format extension the backing file is probed.
    const probed = openImage(tmp.path('o')) as Qcow2Image;
    expect(probed.backing).toBeInstanceOf(RawImage);
    probed.close();
  });

  it('reports a missing backing file with both names', () => {
    const f = createNodeFile(tmp.path('o'));
    createQcow2(f, { sizeBytes: 1 << 20, backingFile: 'gone.raw', backingFormat: 'raw' });
    f.close();
    expect(() => openImage(tmp.path('o'))).toThrow(/gone\.raw.*cannot open/);
  });
});
