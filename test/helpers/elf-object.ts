/**
 * Test helper: minimal little-endian ELF relocatable objects built by hand from the System V
 * ABI layout (ELF header, section contents, section header table), e.g. fake Linux kernel
 * modules with a .modinfo section for the initramfs module-selection tests.
 */
const text = new TextEncoder();

/**
 * A minimal relocatable ELF object built from the System V ABI layout: ELF header, then
 * the section contents, then the section header table with a null section, the given
 * sections and .shstrtab (last). Little-endian; 32- or 64-bit.
 */
export function elfObject(sections: ReadonlyArray<readonly [string, Uint8Array]>, is64 = false): Uint8Array {
  const headerSize = is64 ? 64 : 52;
  const shentsize = is64 ? 64 : 40;
  const names = ['', ...sections.map(([name]) => name), '.shstrtab'];
  const nameOffsets: number[] = [];
  let shstrtab = '';
  for (const name of names) {
    nameOffsets.push(shstrtab.length);
    shstrtab += `${name}\0`;
  }
  const bodies = [new Uint8Array(0), ...sections.map(([, data]) => data), text.encode(shstrtab)];
  const offsets: number[] = [];
  let at = headerSize;
  for (const body of bodies) {
    offsets.push(at);
    at += body.length;
  }
  const shoff = (at + 3) & ~3;
  const out = new Uint8Array(shoff + bodies.length * shentsize);
  const view = new DataView(out.buffer);
  out.set([0x7f, 0x45, 0x4c, 0x46, is64 ? 2 : 1, 1, 1], 0);
  view.setUint16(16, 1, true); // ET_REL
  view.setUint16(18, is64 ? 62 : 3, true); // EM_X86_64 / EM_386
  if (is64) {
    view.setBigUint64(0x28, BigInt(shoff), true);
    view.setUint16(0x34, headerSize, true);
    view.setUint16(0x3a, shentsize, true);
    view.setUint16(0x3c, bodies.length, true);
    view.setUint16(0x3e, bodies.length - 1, true);
  } else {
    view.setUint32(0x20, shoff, true);
    view.setUint16(0x28, headerSize, true);
    view.setUint16(0x2e, shentsize, true);
    view.setUint16(0x30, bodies.length, true);
    view.setUint16(0x32, bodies.length - 1, true);
  }
  bodies.forEach((body, index) => {
    out.set(body, offsets[index]!);
    const header = shoff + index * shentsize;
    view.setUint32(header, nameOffsets[index]!, true);
    view.setUint32(header + 4, index === 0 ? 0 : index === bodies.length - 1 ? 3 : 1, true); // NULL / STRTAB / PROGBITS
    if (is64) {
      view.setBigUint64(header + 0x18, BigInt(index === 0 ? 0 : offsets[index]!), true);
      view.setBigUint64(header + 0x20, BigInt(body.length), true);
    } else {
      view.setUint32(header + 0x10, index === 0 ? 0 : offsets[index]!, true);
      view.setUint32(header + 0x14, body.length, true);
    }
  });
  return out;
}

/** A .modinfo section body from "key=value" strings (NUL-separated, with NUL padding). */
export function modinfo(...entries: string[]): Uint8Array {
  return text.encode(entries.map((e) => `${e}\0`).join('') + '\0\0\0');
}
