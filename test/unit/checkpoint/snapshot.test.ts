// Tests for snapshot files: write → open round trips (full and diff), the envelope's checks
// (every flipped byte, every truncation, magic, versions, parent), writer input refusals.
import { describe, expect, it } from 'vitest';
import {
  bufferSink,
  bufferSource,
  FRAMES_PER_SECTION,
  nodeDeflateCompressor,
  openSnapshot,
  type OpenSnapshot,
  SectionType,
  SnapshotError,
  type SnapshotInput,
  type SnapshotSource,
  writeSnapshot,
} from '../../../src/checkpoint/index.js';
import { decode, encode } from '../../../src/persist/codec.js';
import { FRAME, fillRandom, fillText, makeMemory, memorySource, resign, rng, sectionsOf } from './snapshot-helpers.js';

const state = {
  version: 1,
  components: {
    cpu0: { version: 3, regs: [1, 2, 3, 4, 5, 6, 7, 8], eip: 0xfff0, fpu: { version: 1, se: [0, 0x3fff] } },
    uart0: { version: 1, ier: 5, fifo: Uint8Array.from([65, 66]) },
    net0: { version: 2, backlog: [Uint8Array.from([1, 2, 3])], features: 2 ** 40 },
  },
};
const config = { ramBytes: 0, cpu: 'pentium-pro', disks: [{ path: '/tmp/a.qcow2', readonly: false }], cmdline: 'console=ttyS0' };

/** Writes a snapshot to memory and returns its bytes and summary. */
function write(input: SnapshotInput, options = {}) {
  const sink = bufferSink();
  const summary = writeSnapshot(sink, input, options);
  return { bytes: sink.bytes(), summary };
}

function snapshotError(f: () => unknown): SnapshotError {
  try {
    f();
  } catch (e) {
    if (!(e instanceof SnapshotError)) throw e;
    return e;
  }
  throw new Error('expected a SnapshotError, nothing was thrown');
}

/** First index where two byte arrays differ (or the shorter length when lengths differ), -1 when equal; fast where toEqual is not. */
function firstDifference(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return i;
  return a.length === b.length ? -1 : n;
}

/** Reads every frame of a snapshot into one memory image. */
function readAll(snapshot: OpenSnapshot): Uint8Array {
  const ram = new Uint8Array(snapshot.frameCount * FRAME);
  for (let gfn = 0; gfn < snapshot.frameCount; gfn++) snapshot.readFrame(gfn, ram.subarray(gfn * FRAME, (gfn + 1) * FRAME));
  return ram;
}

/** A source that fails the test if anything tries to write through the array it wraps. */
function frozenSource(bytes: Uint8Array, name = 'test.snap'): SnapshotSource & { unchanged(): boolean } {
  const copy = bytes.slice();
  return { ...bufferSource(bytes, name), unchanged: () => firstDifference(copy, bytes) === -1 };
}

/** A small snapshot with one raw, one compressed and two elided zero frames, three other text frames. */
const smallRam = makeMemory(7, (gfn) => (gfn === 1 || gfn === 4 ? 'zero' : gfn === 2 ? 'random' : 'text'), 7);
const small = write({ config, state, memory: memorySource(smallRam) });

describe('snapshot round trip', () => {
  it('returns every frame, the state and the config; zero frames are left out', () => {
    const ram = makeMemory(600, (gfn) => (gfn % 4 === 0 ? 'random' : gfn % 4 === 1 ? 'text' : 'zero'), 3);
    const { bytes, summary } = write({ config, state, memory: memorySource(ram) });
    expect(summary).toMatchObject({ kind: 'full', frameCount: 600, framesStored: 300, zeroFrames: 300, rawFrames: 150, deflatedFrames: 150, bytes: bytes.length });
    expect(sectionsOf(bytes).filter((s) => s.type === SectionType.Frames)).toHaveLength(Math.ceil(300 / FRAMES_PER_SECTION));
    const snapshot = openSnapshot(bufferSource(bytes));
    expect(snapshot.id).toBe(summary.id);
    expect(snapshot.header).toEqual({ kind: 'full', frameCount: 600, frameBytes: 4096, stateVersion: 1, components: { cpu0: 3, uart0: 1, net0: 2 }, parent: null });
    expect(snapshot.state).toEqual(state);
    expect(snapshot.config).toEqual(config);
    expect(Array.from(snapshot.frames)).toEqual(Array.from({ length: 600 }, (_, g) => g).filter((g) => g % 4 < 2));
    expect(snapshot.hasFrame(0) && snapshot.hasFrame(1) && !snapshot.hasFrame(2)).toBe(true);
    expect(firstDifference(readAll(snapshot), ram)).toBe(-1);
    // Compression pays: text frames shrink, random ones are stored raw.
    expect(summary.frameBytes).toBeLessThan(150 * FRAME + 150 * 2048);
  });

  it('stores every frame raw without a compressor, and reads back the same', () => {
    const { bytes, summary } = write({ config, state, memory: memorySource(smallRam) }, { compressor: null });
    expect(summary).toMatchObject({ rawFrames: 5, deflatedFrames: 0, zeroFrames: 2 });
    expect(firstDifference(readAll(openSnapshot(bufferSource(bytes), { compressor: null })), smallRam)).toBe(-1);
  });

  it('keeps compression only when it saves at least minSaving bytes', () => {
    const deflate = nodeDeflateCompressor(1)!;
    const textFrame = smallRam.subarray(0, FRAME);
    const size = deflate.compress(textFrame).length;
    const one = makeMemory(1, () => 'zero');
    one.set(textFrame);
    expect(write({ config, state, memory: memorySource(one) }, { minSaving: FRAME - size }).summary.deflatedFrames).toBe(1);
    expect(write({ config, state, memory: memorySource(one) }, { minSaving: FRAME - size + 1 }).summary.rawFrames).toBe(1);
  });

  it('refuses to read a compressed frame without a decompressor, naming the frame', () => {
    const snapshot = openSnapshot(bufferSource(small.bytes), { compressor: null });
    const error = snapshotError(() => snapshot.readFrame(0, new Uint8Array(FRAME)));
    expect(error.message).toContain('frame 0 is DEFLATE-compressed');
    expect(error.section).toBe('FRAMES#0');
  });

  it('handles a 64 MiB sparse memory quickly, reading only what is asked', () => {
    const frameCount = 16384;
    const ram = new Uint8Array(frameCount * FRAME);
    const next = rng(64);
    const used = [0, 1, 2, 100, 4095, 8000, 12000, 16383];
    used.forEach((gfn, i) => (i % 2 ? fillRandom : fillText)(ram.subarray(gfn * FRAME, (gfn + 1) * FRAME), next));
    const { bytes, summary } = write({ config, state, memory: memorySource(ram) });
    expect(summary.framesStored).toBe(used.length);
    expect(bytes.length).toBeLessThan(used.length * FRAME + 4096);
    let reads = 0;
    const source = bufferSource(bytes);
    const counting: SnapshotSource = { ...source, readAt: (p, d) => (reads += d.length, source.readAt(p, d)) };
    const snapshot = openSnapshot(counting);
    expect(reads).toBeLessThan(2048);
    const frame = new Uint8Array(FRAME);
    snapshot.readFrame(12000, frame);
    expect(firstDifference(frame, ram.subarray(12000 * FRAME, 12001 * FRAME))).toBe(-1);
    expect(reads).toBeLessThan(2048 + FRAME);
    expect(firstDifference(readAll(snapshot), ram)).toBe(-1);
  });

  it('an empty memory and an empty state tree', () => {
    const { bytes } = write({ config: null, state: { version: 0, components: {} }, memory: memorySource(new Uint8Array(0)) });
    const snapshot = openSnapshot(bufferSource(bytes));
    expect(snapshot.frameCount).toBe(0);
    expect(snapshot.frames.length).toBe(0);
    expect(snapshot.config).toBeNull();
  });

  it('readFrame refuses a frame number outside RAM or a wrong-sized buffer', () => {
    const snapshot = openSnapshot(bufferSource(small.bytes));
    expect(() => snapshot.readFrame(7, new Uint8Array(FRAME))).toThrow(RangeError);
    expect(() => snapshot.readFrame(-1, new Uint8Array(FRAME))).toThrow(RangeError);
    expect(() => snapshot.readFrame(0, new Uint8Array(100))).toThrow(RangeError);
  });
});

describe('diff snapshots', () => {
  const frameCount = 300;
  const base = makeMemory(frameCount, (gfn) => (gfn % 3 === 0 ? 'zero' : gfn % 3 === 1 ? 'text' : 'random'), 11);
  const parent = write({ config, state, memory: memorySource(base) });
  const next = rng(5);
  const current = base.slice();
  const dirty = [3, 4, 5, 50, 51, 120, 299, 1];
  for (const gfn of dirty) {
    const frame = current.subarray(gfn * FRAME, (gfn + 1) * FRAME);
    if (gfn === 4 || gfn === 5) frame.fill(0);
    else if (gfn % 2) fillText(frame, next);
    else fillRandom(frame, next);
  }
  const laterState = { ...state, components: { ...state.components, uart0: { version: 1, ier: 7, fifo: new Uint8Array(0) } } };
  const diff = write({ config, state: laterState, memory: memorySource(current, dirty), parent: { id: parent.summary.id } });

  it('holds only the dirty frames, zeroed ones marked, and the parent id', () => {
    expect(diff.summary).toMatchObject({ kind: 'diff', framesStored: dirty.length, zeroFrames: 2 });
    const snapshot = openSnapshot(bufferSource(diff.bytes));
    expect(Array.from(snapshot.frames)).toEqual([...dirty].sort((a, b) => a - b));
    expect(snapshot.parent).toEqual({ id: parent.summary.id });
    expect(snapshot.header.kind).toBe('diff');
    expect(snapshot.state).toEqual(laterState);
    expect(diff.bytes.length).toBeLessThan(parent.bytes.length / 10);
  });

  it('applied over its parent gives the current memory', () => {
    const base = openSnapshot(bufferSource(parent.bytes));
    const snapshot = openSnapshot(bufferSource(diff.bytes), { parent: base });
    expect(firstDifference(readAll(snapshot), current)).toBe(-1);
  });

  it('without its parent, reads its own frames and refuses the others', () => {
    const snapshot = openSnapshot(bufferSource(diff.bytes));
    const frame = new Uint8Array(FRAME);
    snapshot.readFrame(50, frame);
    expect(firstDifference(frame, current.subarray(50 * FRAME, 51 * FRAME))).toBe(-1);
    expect(snapshotError(() => snapshot.readFrame(2, frame)).message).toContain('no parent was given');
  });

  it('refuses a wrong parent, naming both ids', () => {
    const other = write({ config, state, memory: memorySource(current) });
    const error = snapshotError(() => openSnapshot(bufferSource(diff.bytes, 'diff.snap'), { parent: openSnapshot(bufferSource(other.bytes, 'other.snap')) }));
    expect(error.message).toContain('wrong parent');
    expect(error.message).toContain(parent.summary.id);
    expect(error.message).toContain(other.summary.id);
    expect(error.file).toBe('diff.snap');
    expect(error.section).toBe('MANIFEST');
  });

  it('refuses a parent given for a full snapshot', () => {
    const p = openSnapshot(bufferSource(parent.bytes));
    expect(snapshotError(() => openSnapshot(bufferSource(parent.bytes), { parent: p })).message).toContain('full snapshot');
  });

  it('a diff of a diff chains to the first snapshot', () => {
    const third = current.slice();
    fillText(third.subarray(0, FRAME), rng(9));
    const diff2 = write({ config, state, memory: memorySource(third, [0]), parent: { id: diff.summary.id } });
    const chain = openSnapshot(bufferSource(diff2.bytes), { parent: openSnapshot(bufferSource(diff.bytes), { parent: openSnapshot(bufferSource(parent.bytes)) }) });
    expect(firstDifference(readAll(chain), third)).toBe(-1);
  });

  it('snapshot ids differ when content differs and repeat when it does not', () => {
    expect(write({ config, state, memory: memorySource(base) }).summary.id).toBe(parent.summary.id);
    expect(diff.summary.id).not.toBe(parent.summary.id);
    const changed = base.slice();
    changed[5 * FRAME + 100] ^= 1;
    expect(write({ config, state, memory: memorySource(changed) }).summary.id).not.toBe(parent.summary.id);
  });
});

describe('damaged files are refused and nothing is modified', () => {
  /** Opens and reads every frame; returns the error or null. */
  function tryAll(bytes: Uint8Array, parent?: OpenSnapshot): unknown {
    try {
      readAll(openSnapshot(bufferSource(bytes, 'bad.snap'), parent === undefined ? {} : { parent }));
      return null;
    } catch (e) {
      return e;
    }
  }

  it('every flipped byte of a small snapshot (two patterns per byte) is detected', () => {
    const bytes = small.bytes;
    for (let i = 0; i < bytes.length; i++) {
      for (const pattern of [0x01, 0xff]) {
        const bad = bytes.slice();
        bad[i] ^= pattern;
        const error = tryAll(bad);
        if (!(error instanceof SnapshotError)) throw new Error(`flip 0x${pattern.toString(16)} at byte ${i} not detected: ${String(error)}`);
        expect(error.file).toBe('bad.snap');
      }
    }
  });

  it('a strided sample of flipped bytes in a bigger snapshot with several FRAMES sections is detected', () => {
    const ram = makeMemory(700, (gfn) => (gfn % 3 === 0 ? 'zero' : gfn % 3 === 1 ? 'text' : 'random'), 21);
    const { bytes } = write({ config, state, memory: memorySource(ram) });
    const next = rng(77);
    for (let i = 0; i < bytes.length; i += 2003) {
      const bad = bytes.slice();
      bad[i] ^= 1 + (next() % 255);
      expect(tryAll(bad), `flip at byte ${i}`).toBeInstanceOf(SnapshotError);
    }
  });

  it('a flipped byte of a diff snapshot is detected too', () => {
    const ram = makeMemory(40, (gfn) => (gfn % 2 ? 'text' : 'zero'), 4);
    const parent = write({ config, state, memory: memorySource(ram) });
    const changed = ram.slice();
    changed.fill(0, 3 * FRAME, 4 * FRAME);
    changed[5 * FRAME] = 9;
    const diff = write({ config, state, memory: memorySource(changed, [3, 5]), parent: { id: parent.summary.id } });
    const base = openSnapshot(bufferSource(parent.bytes));
    for (let i = 0; i < diff.bytes.length; i++) {
      const bad = diff.bytes.slice();
      bad[i] ^= 0x20;
      expect(tryAll(bad, base), `flip at byte ${i}`).toBeInstanceOf(SnapshotError);
    }
  });

  it('a damaged frame is reported when read, naming section and offset, and leaves dst untouched', () => {
    const sections = sectionsOf(small.bytes);
    const frames = sections.find((s) => s.type === SectionType.Frames)!;
    const bad = small.bytes.slice();
    const lastByte = frames.end - 1; // inside the last frame record
    bad[lastByte] ^= 0x10;
    const source = frozenSource(bad);
    const snapshot = openSnapshot(source); // the envelope is fine: frames are checked when read
    const dst = new Uint8Array(FRAME).fill(0xa5);
    const error = snapshotError(() => snapshot.readFrame(6, dst));
    expect(error.section).toBe('FRAMES#0');
    expect(error.message).toContain('frame 6 checksum mismatch');
    expect(error.offset).toBeGreaterThan(frames.bodyStart);
    expect(error.offset).toBeLessThanOrEqual(lastByte);
    expect(dst.every((b) => b === 0xa5)).toBe(true);
    expect(source.unchanged()).toBe(true);
    snapshot.readFrame(0, dst);
    expect(firstDifference(dst, smallRam.subarray(0, FRAME))).toBe(-1);
  });

  it('every truncation — at each section boundary and inside each section — is refused as truncated', () => {
    const bytes = small.bytes;
    const cuts = new Set<number>();
    for (const s of sectionsOf(bytes)) for (const at of [s.start, s.start + 5, s.bodyStart, (s.bodyStart + s.end) >> 1, s.end - 1]) cuts.add(at);
    for (let cut = 0; cut < bytes.length; cut++) cuts.add(cut);
    for (const cut of cuts) {
      if (cut >= bytes.length) continue;
      const source = frozenSource(bytes.subarray(0, cut), 'cut.snap');
      const error = snapshotError(() => openSnapshot(source));
      expect(error.message, `cut at ${cut}`).toContain('truncated');
      expect(error.offset).toBeLessThanOrEqual(cut);
      expect(source.unchanged()).toBe(true);
    }
  });

  it('names the section a truncation falls in', () => {
    const sections = sectionsOf(small.bytes);
    const state = sections.find((s) => s.type === SectionType.State)!;
    const error = snapshotError(() => openSnapshot(bufferSource(small.bytes.subarray(0, state.bodyStart + 3))));
    expect(error.section).toBe('STATE');
    expect(error.offset).toBe(state.bodyStart);
    const end = sections.find((s) => s.type === SectionType.End)!;
    expect(snapshotError(() => openSnapshot(bufferSource(small.bytes.subarray(0, end.start)))).message).toContain('where the FRAMES or END section should start');
  });

  it('refuses trailing bytes after END', () => {
    const longer = new Uint8Array(small.bytes.length + 1);
    longer.set(small.bytes);
    const error = snapshotError(() => openSnapshot(bufferSource(longer)));
    expect(error.message).toContain('1 bytes after the END section');
    expect(error.offset).toBe(small.bytes.length);
  });

  it('refuses a wrong magic and a foreign file', () => {
    const bad = small.bytes.slice();
    bad[1] = 0x59;
    const error = snapshotError(() => openSnapshot(bufferSource(bad, 'x.snap')));
    expect(error.message).toBe('snapshot x.snap: file header at offset 1: bad magic: not a snapshot file');
    expect(snapshotError(() => openSnapshot(bufferSource(new TextEncoder().encode('#!/bin/sh\necho not a snapshot at all\n'))))
      .message).toContain('bad magic');
  });

  it('refuses another format version, even with a valid checksum', () => {
    const bad = resign(small.bytes, (_t, body) => body);
    const view = new DataView(bad.buffer);
    view.setUint32(8, 2, true);
    // Re-sign the file header only: its own CRC at 20 covers bytes 0..19.
    const header = bad.subarray(0, 20);
    view.setUint32(20, crc32Of(header), true);
    const error = snapshotError(() => openSnapshot(bufferSource(bad)));
    expect(error.message).toContain('unsupported format version 2 (this reader supports 1)');
    expect(error.offset).toBe(8);
  });

  it('refuses another section version', () => {
    const bad = resign(small.bytes, (_t, body) => body, (type, header) => {
      if (type === SectionType.State) header.setUint16(2, 9, true);
    });
    const error = snapshotError(() => openSnapshot(bufferSource(bad)));
    expect(error.section).toBe('STATE');
    expect(error.message).toContain('unsupported section version 9');
  });

  it('a re-signed file with a bad manifest field is refused naming the field', () => {
    const cases: [Record<string, unknown>, string][] = [
      [{ frameCount: -1 }, "field 'frameCount'"],
      [{ frameBytes: 8192 }, "field 'frameBytes'"],
      [{ kind: 'partial' }, "field 'kind'"],
      [{ components: { cpu0: 'three' } }, "field 'components.cpu0'"],
      [{ parent: { id: '0123456789abcdef' } }, "field 'parent'"],
      [{ components: { cpu0: 4, uart0: 1, net0: 2 } }, "component 'cpu0' has version 3, the manifest lists 4"],
      [{ stateVersion: 5 }, "state version 1 differs from the manifest's 5"],
      [{ frameCount: 3 }, 'entry 2: frame 3 outside the 3 frames of RAM'],
    ];
    for (const [patch, message] of cases) {
      const bad = resign(small.bytes, (type, body) => type === SectionType.Manifest ? encode({ ...(decode(body) as object), ...patch }) : body);
      expect(snapshotError(() => openSnapshot(bufferSource(bad))).message).toContain(message);
    }
  });

  it('a re-signed file whose state body does not decode is refused naming the offset', () => {
    const bad = resign(small.bytes, (type, body) => (type === SectionType.State ? body.subarray(0, body.length - 1) : body));
    const error = snapshotError(() => openSnapshot(bufferSource(bad)));
    expect(error.section).toBe('STATE');
    expect(error.message).toContain('does not decode');
  });

  it('the resign helper itself produces an openable file when nothing changes', () => {
    expect(firstDifference(readAll(openSnapshot(bufferSource(resign(small.bytes, (_t, b) => b)))), smallRam)).toBe(-1);
  });
});

describe('writer refusals', () => {
  const memory = memorySource(smallRam);
  it.each([
    ['state not an object', { config, state: 5, memory }, "'state'"],
    ['state without components', { config, state: { version: 1 }, memory }, "'state.components'"],
    ['component without version', { config, state: { version: 1, components: { pic0: { irr: 1 } } }, memory }, "'state.components.pic0.version'"],
    ['config not plain', { config: { hook: () => 1 }, state, memory }, "'config.hook'"],
    ['state not plain', { config, state: { version: 1, components: { a: { version: 1, m: new Map() } } }, memory }, "'state.components.a.m'"],
    ['frames without parent', { config, state, memory: memorySource(smallRam, [1]) }, "'memory.frames' and 'parent'"],
    ['parent without frames', { config, state, memory, parent: { id: '0011223344556677' } }, "'memory.frames' and 'parent'"],
    ['bad parent id', { config, state, memory: memorySource(smallRam, [1]), parent: { id: 'xyz' } }, "'parent.id'"],
    ['frame out of range', { config, state, memory: memorySource(smallRam, [1, 7]), parent: { id: '0011223344556677' } }, "'memory.frames[1]'"],
    ['bad frame count', { config, state, memory: { frameCount: 1.5, readFrame: () => {} } }, "'memory.frameCount'"],
  ])('%s', (_name, input, field) => {
    const sink = bufferSink();
    const error = snapshotError(() => writeSnapshot(sink, input as SnapshotInput));
    expect(error.message).toContain(field);
    expect(sink.length).toBe(0);
  });

  it('a bad minSaving option', () => {
    expect(snapshotError(() => writeSnapshot(bufferSink(), { config, state, memory }, { minSaving: 0 })).message).toContain('minSaving');
  });
});

import { crc32 as crc32Of } from '../../../src/checkpoint/crc32.js';
