/**
 * Direct kernel boot (src/machine/direct-boot.ts): format detection, the platform tables
 * every directly booted kernel gets, and the refusal of an image no loader understands.
 */
import { describe, expect, it } from 'vitest';
import { BootImageError } from '../../../src/firmware/boot-image.js';
import { buildDirectBoot, kernelFormat } from '../../../src/machine/direct-boot.js';

/** A minimal a.out-kludge Multiboot image: header at 0, load at 1 MiB, entry at the `hlt`. */
function multibootImage(): Uint8Array {
  const words = [0x1badb002, 0x00010000, (-(0x1badb002 + 0x00010000)) >>> 0, 0x100000, 0x100000, 0, 0, 0x100020];
  const image = new Uint8Array(64);
  const view = new DataView(image.buffer);
  words.forEach((w, k) => view.setUint32(k * 4, w >>> 0, true));
  image[0x20] = 0xf4;
  return image;
}

/** Bytes that carry `text` at `offset` (little-endian dword view of an ASCII magic). */
function withMagicAt(bytes: number, offset: number, text: string): Uint8Array {
  const image = new Uint8Array(bytes);
  image.set(new TextEncoder().encode(text), offset);
  return image;
}

describe('direct kernel boot', () => {
  it('recognises a bzImage by HdrS at 0x202 and Multiboot by its magic in the first 8 KiB', () => {
    expect(kernelFormat(withMagicAt(1024, 0x202, 'HdrS'))).toBe('linux');
    expect(kernelFormat(multibootImage())).toBe('multiboot');
    const late = new Uint8Array(9000);
    new DataView(late.buffer).setUint32(8192, 0x1badb002, true);
    expect(kernelFormat(late)).toBeNull();
    expect(kernelFormat(new Uint8Array(100))).toBeNull();
  });

  it('refuses an unknown image with an error naming the file and what was looked for', () => {
    const attempt = () => buildDirectBoot({ name: 'mystery.bin', data: new Uint8Array(4096) }, 64 << 20);
    expect(attempt).toThrow(BootImageError);
    expect(attempt).toThrow(/^mystery\.bin: not a Linux bzImage .* no Multiboot header/);
  });

  it('gives a Multiboot kernel the ACPI RSDP at E0000h and the MP floating pointer, both checksummed', () => {
    const image = buildDirectBoot({ name: 'mb.bin', data: multibootImage() }, 16 << 20);
    const ram = new Uint8Array(16 << 20);
    for (const w of image.writes) ram.set(w.data, w.address);
    const ascii = (at: number, n: number) => String.fromCharCode(...ram.subarray(at, at + n));
    const sum = (at: number, n: number) => ram.subarray(at, at + n).reduce((a, b) => (a + b) & 0xff, 0);
    expect(ascii(0xe0000, 8)).toBe('RSD PTR ');
    expect(sum(0xe0000, 20)).toBe(0);
    const mp = image.writes.find((w) => ascii(w.address, 4) === '_MP_');
    expect(mp).toBeDefined();
    expect(sum(mp!.address, 16)).toBe(0);
    expect(image.entry.eip).toBe(0x100020);
    expect(image.entry.eax).toBe(0x2badb002);
  });
});
