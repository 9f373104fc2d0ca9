// Helpers for the snapshot tests: guest memories with zero, text-like and random frames, a
// memory source over them, and a re-signer that rewrites a snapshot's sections with fresh
// checksums (to build files that are well-formed but semantically wrong).
import { crc32, crc32c } from '../../../src/checkpoint/crc32.js';
import type { SnapshotMemorySource } from '../../../src/checkpoint/index.js';
import { FILE_HEADER_BYTES, FRAME_ENTRY_BYTES, parseSectionHeader, SECTION_HEADER_BYTES, SectionType } from '../../../src/checkpoint/snapshot-format.js';

export const FRAME = 4096;

/** Deterministic xorshift32 generator in [0, 2^32). */
export function rng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13; s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5; s >>>= 0;
    return s;
  };
}

const WORDS = ['the', 'kernel', 'frame', 'snapshot', 'page', 'guest', 'memory', 'virtio', 'queue', 'interrupt', 'restore', 'dirty'];

/** Fills a frame with text-like bytes (compressible). */
export function fillText(frame: Uint8Array, next: () => number): void {
  let at = 0;
  while (at < frame.length) {
    const word = WORDS[next() % WORDS.length] + (next() % 5 === 0 ? '\n' : ' ');
    for (let i = 0; i < word.length && at < frame.length; i++) frame[at++] = word.charCodeAt(i);
  }
}

/** Fills a frame with random bytes (incompressible). */
export function fillRandom(frame: Uint8Array, next: () => number): void {
  const words = new Uint32Array(frame.buffer, frame.byteOffset, frame.length / 4);
  for (let i = 0; i < words.length; i++) words[i] = next();
}

/** A memory of `frameCount` frames where `kindOf(gfn)` picks zero, text or random content. */
export function makeMemory(frameCount: number, kindOf: (gfn: number) => 'zero' | 'text' | 'random', seed = 1): Uint8Array {
  const ram = new Uint8Array(frameCount * FRAME);
  const next = rng(seed);
  for (let gfn = 0; gfn < frameCount; gfn++) {
    const frame = ram.subarray(gfn * FRAME, (gfn + 1) * FRAME);
    const kind = kindOf(gfn);
    if (kind === 'text') fillText(frame, next);
    else if (kind === 'random') fillRandom(frame, next);
  }
  return ram;
}

/** A memory source over `ram`; `frames` makes it a diff source. Counts reads. */
export function memorySource(ram: Uint8Array, frames?: Iterable<number>): SnapshotMemorySource & { reads: number } {
  const source = {
    frameCount: ram.length / FRAME,
    reads: 0,
    readFrame(gfn: number, dst: Uint8Array) {
      source.reads++;
      dst.set(ram.subarray(gfn * FRAME, (gfn + 1) * FRAME));
    },
    ...(frames === undefined ? {} : { frames }),
  };
  return source;
}

/** One section as found in a file. */
export interface SectionSpan {
  type: number;
  start: number;
  bodyStart: number;
  end: number;
}

/** Walks the sections of a well-formed snapshot. */
export function sectionsOf(bytes: Uint8Array): SectionSpan[] {
  const out: SectionSpan[] = [];
  let at = FILE_HEADER_BYTES;
  while (at < bytes.length) {
    const h = parseSectionHeader(bytes.subarray(at, at + SECTION_HEADER_BYTES));
    out.push({ type: h.type, start: at, bodyStart: at + SECTION_HEADER_BYTES, end: at + SECTION_HEADER_BYTES + h.length });
    at += SECTION_HEADER_BYTES + h.length;
  }
  return out;
}

/**
 * Rebuilds a snapshot, letting `replace` swap a small section's body (MANIFEST/CONFIG/STATE) and
 * `patchHeader` edit a section header, then recomputes every checksum and the snapshot id as the
 * writer would. FRAMES sections are copied as they are.
 */
export function resign(bytes: Uint8Array, replace: (type: number, body: Uint8Array) => Uint8Array, patchHeader: (type: number, header: DataView) => void = () => {}): Uint8Array {
  const parts: Uint8Array[] = [bytes.slice(0, FILE_HEADER_BYTES)];
  let idA = crc32(parts[0]);
  let idB = crc32c(parts[0]);
  const identity = (b: Uint8Array): void => {
    idA = crc32(b, idA);
    idB = crc32c(b, idB);
  };
  for (const s of sectionsOf(bytes)) {
    const header = bytes.slice(s.start, s.bodyStart);
    const view = new DataView(header.buffer);
    let body = bytes.slice(s.bodyStart, s.end);
    if (s.type === SectionType.Manifest || s.type === SectionType.Config || s.type === SectionType.State) {
      body = replace(s.type, body);
      view.setUint32(8, body.length, true);
      view.setUint32(16, crc32(body), true);
    }
    if (s.type === SectionType.End) {
      new DataView(body.buffer).setUint32(8, idA, true);
      new DataView(body.buffer).setUint32(12, idB, true);
      view.setUint32(16, crc32(body), true);
    }
    patchHeader(s.type, view);
    view.setUint32(20, crc32(header.subarray(0, 20)), true);
    parts.push(header, body);
    if (s.type === SectionType.End) continue;
    identity(header);
    if (s.type === SectionType.Frames) {
      const count = new DataView(body.buffer).getUint32(0, true);
      identity(body.subarray(0, 4 + count * FRAME_ENTRY_BYTES));
    } else {
      identity(body);
    }
  }
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}
