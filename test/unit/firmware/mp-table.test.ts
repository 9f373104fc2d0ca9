/**
 * MP tables (src/firmware/mp-table.ts), read back the way an OS finds them: scan the
 * regions Linux scans for "_MP_" on 16-byte boundaries, check both checksums, follow the
 * pointer and decode every entry with a parser written here from the MP spec 1.4 layout.
 */
import { describe, expect, it } from 'vitest';
import {
  buildMpTables,
  MP_DEFAULT_BASE,
  pciInterruptEntries,
  pciInterruptSource,
  type MpTableOptions,
} from '../../../src/firmware/mp-table.js';
import { FirmwareConfigError } from '../../../src/firmware/boot-image.js';

const SIGNATURE = 0x00000633; // family 6, model 3, stepping 3
const FEATURES = 0x0080a3ff;
const BASE_OPTIONS: MpTableOptions = { cpuSignature: SIGNATURE, cpuFeatures: FEATURES };

type Parsed = ReturnType<typeof parseMp>;

/** Low 1 MiB with the writes applied. */
function lowMemory(writes: readonly { address: number; data: Uint8Array }[]): Uint8Array {
  const mem = new Uint8Array(0x100000);
  for (const w of writes) mem.set(w.data, w.address);
  return mem;
}

function sum(bytes: Uint8Array): number {
  return bytes.reduce((s, b) => (s + b) & 0xff, 0);
}

function ascii(bytes: Uint8Array): string {
  return String.fromCharCode(...bytes);
}

/** Find and decode the MP structures in `mem` (independent of the builder). */
function parseMp(mem: Uint8Array) {
  const v = new DataView(mem.buffer);
  const regions = [[0, 0x400], [0x9fc00, 0xa0000], [0xf0000, 0x100000]];
  let mpf = -1;
  for (const [lo, hi] of regions) {
    for (let a = lo; a + 16 <= hi && mpf < 0; a += 16) if (ascii(mem.subarray(a, a + 4)) === '_MP_') mpf = a;
  }
  if (mpf < 0) throw new Error('no _MP_ found');
  const floating = {
    address: mpf,
    checksum: sum(mem.subarray(mpf, mpf + 16)),
    physPtr: v.getUint32(mpf + 4, true),
    length: mem[mpf + 8],
    specRev: mem[mpf + 9],
    feature1: mem[mpf + 11],
    feature2: mem[mpf + 12],
    feature345: [mem[mpf + 13], mem[mpf + 14], mem[mpf + 15]],
  };
  const t = floating.physPtr;
  const baseLength = v.getUint16(t + 4, true);
  const header = {
    signature: ascii(mem.subarray(t, t + 4)),
    baseLength,
    specRev: mem[t + 6],
    checksum: sum(mem.subarray(t, t + baseLength)),
    oem: ascii(mem.subarray(t + 8, t + 16)),
    product: ascii(mem.subarray(t + 16, t + 28)),
    oemTablePtr: v.getUint32(t + 28, true),
    oemTableSize: v.getUint16(t + 32, true),
    entryCount: v.getUint16(t + 34, true),
    lapic: v.getUint32(t + 36, true),
    extLength: v.getUint16(t + 40, true),
    extChecksum: mem[t + 42],
  };
  const entries: Record<string, number | string>[] = [];
  let p = t + 44;
  for (let k = 0; k < header.entryCount; k++) {
    const type = mem[p];
    if (type === 0) {
      entries.push({ type, apicId: mem[p + 1], apicVersion: mem[p + 2], flags: mem[p + 3], signature: v.getUint32(p + 4, true), features: v.getUint32(p + 8, true) });
      p += 20;
    } else if (type === 1) {
      entries.push({ type, busId: mem[p + 1], busType: ascii(mem.subarray(p + 2, p + 8)) });
      p += 8;
    } else if (type === 2) {
      entries.push({ type, id: mem[p + 1], version: mem[p + 2], flags: mem[p + 3], address: v.getUint32(p + 4, true) });
      p += 8;
    } else if (type === 3 || type === 4) {
      entries.push({ type, intType: mem[p + 1], intFlags: v.getUint16(p + 2, true), srcBus: mem[p + 4], srcIrq: mem[p + 5], dest: mem[p + 6], pin: mem[p + 7] });
      p += 8;
    } else throw new Error(`unknown entry type ${type} at ${p}`);
  }
  return { floating, header, entries, parsedLength: p - t };
}

function ofType(parsed: Parsed, type: number) {
  return parsed.entries.filter((e) => e.type === type);
}

describe('MP tables', () => {
  it('floating pointer: found in the EBDA KiB, checksum 0, spec 1.4, config table present, virtual wire', () => {
    const tables = buildMpTables(BASE_OPTIONS);
    const parsed = parseMp(lowMemory(tables.writes));
    expect(parsed.floating).toEqual({
      address: MP_DEFAULT_BASE,
      checksum: 0,
      physPtr: tables.configTableAddress,
      length: 1,
      specRev: 4,
      feature1: 0,
      feature2: 0,
      feature345: [0, 0, 0],
    });
    expect(tables.floatingPointerAddress).toBe(0x9fc00);
  });

  it('configuration table header: PCMP, checksum 0, IDs, LAPIC address, no OEM or extended table', () => {
    const tables = buildMpTables({ ...BASE_OPTIONS, oemId: 'ACME', productId: 'ROADRUNNER' });
    const { header, parsedLength } = parseMp(lowMemory(tables.writes));
    expect(header).toEqual({
      signature: 'PCMP', baseLength: tables.configTableBytes, specRev: 4, checksum: 0,
      oem: 'ACME    ', product: 'ROADRUNNER  ', oemTablePtr: 0, oemTableSize: 0,
      entryCount: 1 + 1 + 1 + 16 + 2, lapic: 0xfee00000, extLength: 0, extChecksum: 0,
    });
    expect(parsedLength).toBe(header.baseLength);
  });

  it('entries in ascending type order: CPU, ISA bus, I/O APIC, 16 I/O interrupts, 2 local interrupts', () => {
    const parsed = parseMp(lowMemory(buildMpTables(BASE_OPTIONS).writes));
    const types = parsed.entries.map((e) => e.type as number);
    expect(types).toEqual([...types].sort((a, b) => a - b));
    expect(ofType(parsed, 0)).toEqual([{ type: 0, apicId: 0, apicVersion: 0x14, flags: 3, signature: SIGNATURE, features: FEATURES }]);
    expect(ofType(parsed, 1)).toEqual([{ type: 1, busId: 0, busType: 'ISA   ' }]);
    expect(ofType(parsed, 2)).toEqual([{ type: 2, id: 1, version: 0x11, flags: 1, address: 0xfec00000 }]);
    const io = ofType(parsed, 3);
    expect(io[0]).toEqual({ type: 3, intType: 3, intFlags: 0, srcBus: 0, srcIrq: 0, dest: 1, pin: 0 });
    const isa = io.slice(1);
    expect(isa.map((e) => [e.srcIrq, e.pin])).toEqual([[0, 2], [1, 1], ...Array.from({ length: 13 }, (_, k) => [k + 3, k + 3])]);
    for (const e of isa) expect(e).toMatchObject({ intType: 0, intFlags: 0, srcBus: 0, dest: 1 });
    expect(ofType(parsed, 4)).toEqual([
      { type: 4, intType: 3, intFlags: 0, srcBus: 0, srcIrq: 0, dest: 0xff, pin: 0 },
      { type: 4, intType: 1, intFlags: 0, srcBus: 0, srcIrq: 0, dest: 0xff, pin: 1 },
    ]);
  });

  it('PCI bus option: PCI bus 0, ISA bus 1, extra PCI INTx entries with their polarity and trigger', () => {
    const tables = buildMpTables({
      ...BASE_OPTIONS,
      pciBus: true,
      ioApicId: 2,
      extraInterrupts: [
        { kind: 'int', sourceBus: 'pci', sourceIrq: pciInterruptSource(3, 0), ioApicPin: 16, polarity: 'low', trigger: 'level' },
        { kind: 'int', sourceBus: 'pci', sourceIrq: pciInterruptSource(31, 3), ioApicPin: 23, polarity: 'high', trigger: 'edge' },
      ],
    });
    const parsed = parseMp(lowMemory(tables.writes));
    expect(parsed.header.checksum).toBe(0);
    expect(ofType(parsed, 1)).toEqual([{ type: 1, busId: 0, busType: 'PCI   ' }, { type: 1, busId: 1, busType: 'ISA   ' }]);
    const io = ofType(parsed, 3);
    expect(io).toHaveLength(18);
    expect(io.slice(0, 16).every((e) => e.srcBus === 1 && e.dest === 2)).toBe(true);
    expect(io.slice(16)).toEqual([
      { type: 3, intType: 0, intFlags: 0b1111, srcBus: 0, srcIrq: (3 << 2) | 0, dest: 2, pin: 16 },
      { type: 3, intType: 0, intFlags: 0b0101, srcBus: 0, srcIrq: (31 << 2) | 3, dest: 2, pin: 23 },
    ]);
    expect(ofType(parsed, 4).every((e) => e.srcBus === 1)).toBe(true);
  });

  it('BIOS data area words point at the EBDA; the reserved region covers the tables', () => {
    const tables = buildMpTables(BASE_OPTIONS);
    const mem = lowMemory(tables.writes);
    const v = new DataView(mem.buffer);
    expect(v.getUint16(0x40e, true)).toBe(0x9fc0);
    expect(v.getUint16(0x413, true)).toBe(639);
    expect(tables.reserved).toEqual({ name: 'MP tables', base: 0x9fc00, length: 16 + tables.configTableBytes });
  });

  it('placed in the BIOS area instead: found by the same scan, no BDA words', () => {
    const tables = buildMpTables({ ...BASE_OPTIONS, base: 0xf5a0 * 16 });
    expect(tables.writes).toHaveLength(1);
    const parsed = parseMp(lowMemory(tables.writes));
    expect(parsed.floating.address).toBe(0xf5a00);
    expect(parsed.header.checksum).toBe(0);
  });

  it('a checksum catches any changed byte', () => {
    const tables = buildMpTables(BASE_OPTIONS);
    const mem = lowMemory(tables.writes);
    mem[tables.configTableAddress + 44 + 4] ^= 1; // processor signature
    expect(parseMp(mem).header.checksum).not.toBe(0);
  });

  it('rejects bad options, naming the option', () => {
    const bad: [Partial<MpTableOptions>, string][] = [
      [{ ioApicId: 0 }, 'ioApicId'],
      [{ ioApicId: 16 }, 'ioApicId'],
      [{ cpuSignature: -1 }, 'cpuSignature'],
      [{ base: 0x9fc08 }, 'base'],
      [{ base: 0x80000 }, 'base'],
      [{ oemId: 'TOO LONG OEM' }, 'oemId'],
      [{ extraInterrupts: [{ kind: 'int', sourceBus: 'pci', sourceIrq: 0, ioApicPin: 16 }] }, 'extraInterrupts[0]'],
      [{ extraInterrupts: [{ kind: 'int', sourceBus: 'isa', sourceIrq: 0, ioApicPin: 24 }] }, 'extraInterrupts[0]'],
      [{ pciBus: true, extraInterrupts: Array.from({ length: 120 }, () => ({ kind: 'int' as const, sourceBus: 'pci' as const, sourceIrq: 0, ioApicPin: 16 })) }, 'extraInterrupts'],
    ];
    for (const [extra, field] of bad) {
      expect(() => buildMpTables({ ...BASE_OPTIONS, ...extra })).toThrow(FirmwareConfigError);
      expect(() => buildMpTables({ ...BASE_OPTIONS, ...extra })).toThrow(`firmware options: ${field}:`);
    }
    expect(() => pciInterruptSource(32, 0)).toThrow('PCI device');
    expect(() => pciInterruptSource(0, 4)).toThrow('PCI interrupt pin');
  });
});

describe('MP tables: plugged PCI functions', () => {
  it('a PCI bus entry and one level/active-low entry per distinct device and pin, to I/O APIC pins 16-19', () => {
    const tables = buildMpTables({
      ...BASE_OPTIONS,
      pciFunctions: [
        { device: 5, interruptPin: 1 },
        { device: 3, interruptPin: 1 },
        { device: 3, interruptPin: 2 },
        { device: 3, interruptPin: 1 }, // another function of device 3 on INTA: same entry
        { device: 4, interruptPin: 0 }, // no INTx
      ],
    });
    const parsed = parseMp(lowMemory(tables.writes));
    expect(parsed.header.checksum).toBe(0);
    expect(parsed.floating.checksum).toBe(0);
    expect(parsed.parsedLength).toBe(parsed.header.baseLength);
    expect(ofType(parsed, 1)).toEqual([{ type: 1, busId: 0, busType: 'PCI   ' }, { type: 1, busId: 1, busType: 'ISA   ' }]);
    const pci = ofType(parsed, 3).filter((e) => e.srcBus === 0);
    // INTA of device 3 → PIRQ (3 + 1 - 1) mod 4 = D → pin 19; INTB → PIRQ A → 16; device 5 INTA → PIRQ B → 17.
    expect(pci).toEqual([
      { type: 3, intType: 0, intFlags: 0b1111, srcBus: 0, srcIrq: (3 << 2) | 0, dest: 1, pin: 19 },
      { type: 3, intType: 0, intFlags: 0b1111, srcBus: 0, srcIrq: (3 << 2) | 1, dest: 1, pin: 16 },
      { type: 3, intType: 0, intFlags: 0b1111, srcBus: 0, srcIrq: (5 << 2) | 0, dest: 1, pin: 17 },
    ]);
    expect(ofType(parsed, 3).filter((e) => e.srcBus === 1)).toHaveLength(16);
  });

  it('an empty list still describes the PCI bus; bad pins and devices are rejected', () => {
    const parsed = parseMp(lowMemory(buildMpTables({ ...BASE_OPTIONS, pciFunctions: [] }).writes));
    expect(ofType(parsed, 1).map((e) => e.busType)).toEqual(['PCI   ', 'ISA   ']);
    expect(ofType(parsed, 3)).toHaveLength(16);
    expect(() => pciInterruptEntries([{ device: 3, interruptPin: 5 }])).toThrow('pciFunctions[0]');
    expect(() => buildMpTables({ ...BASE_OPTIONS, pciFunctions: [{ device: 32, interruptPin: 1 }] })).toThrow(FirmwareConfigError);
  });
});
