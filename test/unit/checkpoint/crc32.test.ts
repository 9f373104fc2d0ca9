// Tests for the snapshot checksums: published check values, native vs TypeScript CRC-32, continuation.
import { describe, expect, it } from 'vitest';
import { crc32, crc32c, crc32Ts } from '../../../src/checkpoint/crc32.js';

const check = new TextEncoder().encode('123456789');

describe('crc32 / crc32c', () => {
  it('give the published check values for "123456789"', () => {
    expect(crc32(check)).toBe(0xcbf43926);
    expect(crc32Ts(check)).toBe(0xcbf43926);
    expect(crc32c(check)).toBe(0xe3069283);
    expect(crc32(new Uint8Array(0))).toBe(0);
  });

  it('native and TypeScript CRC-32 agree on every length 0..300 and on a 64 KiB block', () => {
    let s = 12345;
    const data = Uint8Array.from({ length: 65536 }, () => (s = (s * 1103515245 + 12345) >>> 0) >>> 24);
    for (let n = 0; n <= 300; n++) expect(crc32Ts(data.subarray(7, 7 + n))).toBe(crc32(data.subarray(7, 7 + n)));
    expect(crc32Ts(data)).toBe(crc32(data));
  });

  it('continue over split input', () => {
    const data = Uint8Array.from({ length: 1000 }, (_, i) => (i * 31) & 0xff);
    for (const cut of [0, 1, 3, 4, 517, 1000]) {
      expect(crc32(data.subarray(cut), crc32(data.subarray(0, cut)))).toBe(crc32(data));
      expect(crc32c(data.subarray(cut), crc32c(data.subarray(0, cut)))).toBe(crc32c(data));
      expect(crc32Ts(data.subarray(cut), crc32Ts(data.subarray(0, cut)))).toBe(crc32(data));
    }
  });
});
