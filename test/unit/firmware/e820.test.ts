/**
 * e820 map of our PC (src/firmware/e820.ts): fixed layout for several RAM sizes, ROM alias,
 * extra reserved ranges carved out of RAM, the byte encoding, and every option rejected.
 */
import { describe, expect, it } from 'vitest';
import {
  buildE820Map,
  DEFAULT_EBDA_BASE,
  E820_MAX_RAM_BYTES,
  E820_RAM,
  E820_RESERVED,
  encodeE820Entries,
  IOAPIC_BASE,
  LOCAL_APIC_BASE,
  lowerMemoryKiB,
  upperMemoryKiB,
  usableEntryContaining,
} from '../../../src/firmware/e820.js';
import { FirmwareConfigError } from '../../../src/firmware/boot-image.js';

const MiB = 0x100000;
const RAM = E820_RAM;
const RES = E820_RESERVED;

/** Entries as [base, end, type] triples for compact comparison. */
function triples(map: readonly { base: number; length: number; type: number }[]): [number, number, number][] {
  return map.map((e) => [e.base, e.base + e.length, e.type]);
}

describe('e820 map', () => {
  it('128 MiB: conventional RAM, EBDA + legacy area reserved, RAM from 1 MiB, both APIC windows', () => {
    expect(triples(buildE820Map({ ramBytes: 128 * MiB }))).toEqual([
      [0, 0x9fc00, RAM],
      [0x9fc00, 0x100000, RES],
      [0x100000, 128 * MiB, RAM],
      [0xfec00000, 0xfec01000, RES],
      [0xfee00000, 0xfee01000, RES],
    ]);
  });

  it('several RAM sizes: sorted, non-overlapping, usable RAM = RAM minus the EBDA-to-1-MiB hole', () => {
    for (const ramBytes of [MiB, 2 * MiB, 16 * MiB + 4096, 512 * MiB, 2048 * MiB, E820_MAX_RAM_BYTES]) {
      const map = buildE820Map({ ramBytes });
      for (let k = 1; k < map.length; k++) expect(map[k].base).toBeGreaterThanOrEqual(map[k - 1].base + map[k - 1].length);
      const usable = map.filter((e) => e.type === RAM).reduce((n, e) => n + e.length, 0);
      expect(usable, `ramBytes ${ramBytes}`).toBe(ramBytes - (MiB - DEFAULT_EBDA_BASE));
      expect(map.some((e) => e.type === RAM && e.base === MiB)).toBe(ramBytes > MiB);
    }
  });

  it('a ROM alias reserves the top of the 4 GiB space', () => {
    const map = buildE820Map({ ramBytes: 64 * MiB, romAliasBytes: 0x40000 });
    expect(triples(map).at(-1)).toEqual([0xfffc0000, 0x1_0000_0000, RES]);
    expect(triples(buildE820Map({ ramBytes: 64 * MiB, romAliasBytes: 0x10000 })).at(-1)).toEqual([0xffff0000, 0x1_0000_0000, RES]);
  });

  it('extra reserved ranges split usable RAM and merge with touching reserved ranges', () => {
    const map = buildE820Map({
      ramBytes: 64 * MiB,
      reserved: [
        { name: 'hole', base: 32 * MiB, length: 0x3000 },
        { name: 'in the EBDA', base: 0x9fc00, length: 0x100 },
        { name: 'below the EBDA', base: 0x9f000, length: 0xc00 },
      ],
    });
    expect(triples(map)).toEqual([
      [0, 0x9f000, RAM],
      [0x9f000, 0x100000, RES],
      [0x100000, 32 * MiB, RAM],
      [32 * MiB, 32 * MiB + 0x3000, RES],
      [32 * MiB + 0x3000, 64 * MiB, RAM],
      [IOAPIC_BASE, IOAPIC_BASE + 0x1000, RES],
      [LOCAL_APIC_BASE, LOCAL_APIC_BASE + 0x1000, RES],
    ]);
  });

  it('ebdaBase 0xA0000 (no EBDA) gives 640 KiB of conventional memory', () => {
    const map = buildE820Map({ ramBytes: 8 * MiB, ebdaBase: 0xa0000 });
    expect(triples(map).slice(0, 2)).toEqual([[0, 0xa0000, RAM], [0xa0000, 0x100000, RES]]);
    expect(lowerMemoryKiB(map)).toBe(640);
  });

  it('mem_lower/mem_upper helpers and usableEntryContaining', () => {
    const map = buildE820Map({ ramBytes: 100 * MiB });
    expect(lowerMemoryKiB(map)).toBe(639);
    expect(upperMemoryKiB(map)).toBe(99 * 1024);
    expect(usableEntryContaining(map, MiB, 100 * MiB)?.base).toBe(MiB);
    expect(usableEntryContaining(map, MiB, 100 * MiB + 1)).toBeUndefined();
    expect(usableEntryContaining(map, 0x9f000, 0xa0000)).toBeUndefined();
    expect(upperMemoryKiB(buildE820Map({ ramBytes: MiB }))).toBe(0);
  });

  it('encodes 20-byte little-endian entries (u64 base, u64 length, u32 type)', () => {
    const map = buildE820Map({ ramBytes: 16 * MiB, romAliasBytes: 0x1000 });
    const bytes = encodeE820Entries(map);
    expect(bytes.length).toBe(map.length * 20);
    const v = new DataView(bytes.buffer);
    map.forEach((e, k) => {
      expect(v.getUint32(k * 20, true) + v.getUint32(k * 20 + 4, true) * 2 ** 32).toBe(e.base);
      expect(v.getUint32(k * 20 + 8, true) + v.getUint32(k * 20 + 12, true) * 2 ** 32).toBe(e.length);
      expect(v.getUint32(k * 20 + 16, true)).toBe(e.type);
    });
    // The ROM alias entry reaches exactly 4 GiB: length 0x1000 at 0xFFFFF000.
    const last = (map.length - 1) * 20;
    expect(v.getUint32(last, true)).toBe(0xfffff000);
    expect(v.getUint32(last + 8, true)).toBe(0x1000);
  });

  it('rejects bad options, naming the option', () => {
    const bad: [object, string][] = [
      [{ ramBytes: 64 * MiB + 1 }, 'ramBytes'],
      [{ ramBytes: MiB - 4096 }, 'ramBytes'],
      [{ ramBytes: E820_MAX_RAM_BYTES + 4096 }, 'ramBytes'],
      [{ ramBytes: 64 * MiB, ebdaBase: 0x9fc01 }, 'ebdaBase'],
      [{ ramBytes: 64 * MiB, ebdaBase: 0x7fc00 }, 'ebdaBase'],
      [{ ramBytes: 64 * MiB, romAliasBytes: 100 }, 'romAliasBytes'],
      [{ ramBytes: 64 * MiB, reserved: [{ name: 'empty', base: 0x200000, length: 0 }] }, "reserved region 'empty'"],
      [{ ramBytes: 64 * MiB, reserved: [{ name: 'past4g', base: 0xfffff000, length: 0x2000 }] }, "reserved region 'past4g'"],
    ];
    for (const [options, field] of bad) {
      expect(() => buildE820Map(options as never)).toThrow(FirmwareConfigError);
      expect(() => buildE820Map(options as never)).toThrow(`firmware options: ${field}:`);
    }
  });
});
