// Tests for the ACPI tables: an independent parser walks RSDP → RSDT/XSDT → FADT → FACS/DSDT and
// MADT in a memory image built from the writes, checks every checksum and every field we set,
// decodes the DSDT's AML into a namespace, and compares _S5_ and one device byte by byte with
// encodings worked out by hand from the ACPI spec (§20 AML grammar, §6.4 resource descriptors).
import { describe, expect, it } from 'vitest';
import { ACPI_PM_DEFAULT_S5_TYPE, ACPI_PM_PORT_COUNT } from '../../../src/devices/acpi-pm/index.js';
import { assertWritesFit, FirmwareConfigError } from '../../../src/firmware/boot-image.js';
import {
  AmlEncodeError,
  buffer,
  dwordAddressDescriptor,
  memoryTypeFlags,
  pciHostBridgeDevice,
  wordAddressDescriptor,
  buildAcpiTables,
  buildDsdtBody,
  device,
  eisaId,
  integer,
  ioPortDescriptor,
  irqDescriptor,
  method,
  name,
  nameString,
  packageOp,
  PC_ISA_DEVICES,
  pkgLength,
  returnOp,
  s5Object,
  string,
  type AcpiTables,
} from '../../../src/firmware/acpi/index.js';

const RAM = 64 << 20;

// ---------------------------------------------------------------- memory image and helpers

/** Guest RAM (the first 1 MiB and wherever the writes land) as a sparse byte map. */
class Image {
  private readonly bytes = new Map<number, number>();
  constructor(tables: AcpiTables) {
    for (const w of tables.writes) w.data.forEach((b, k) => this.bytes.set(w.address + k, b));
  }
  u8(a: number): number {
    return this.bytes.get(a) ?? 0;
  }
  u16(a: number): number {
    return this.u8(a) | (this.u8(a + 1) << 8);
  }
  u32(a: number): number {
    return (this.u16(a) | (this.u16(a + 2) << 16)) >>> 0;
  }
  u64(a: number): number {
    return this.u32(a) + this.u32(a + 4) * 2 ** 32;
  }
  ascii(a: number, n: number): string {
    let s = '';
    for (let k = 0; k < n; k++) s += String.fromCharCode(this.u8(a + k));
    return s;
  }
  slice(a: number, n: number): Uint8Array {
    const out = new Uint8Array(n);
    for (let k = 0; k < n; k++) out[k] = this.u8(a + k);
    return out;
  }
  sum(a: number, n: number): number {
    let s = 0;
    for (let k = 0; k < n; k++) s = (s + this.u8(a + k)) & 0xff;
    return s;
  }
}

interface Header {
  signature: string;
  length: number;
  revision: number;
  oemId: string;
  oemTableId: string;
  oemRevision: number;
  creatorId: string;
  creatorRevision: number;
}

/** Read a standard header and check the table's checksum. */
function header(img: Image, a: number): Header {
  const h = {
    signature: img.ascii(a, 4),
    length: img.u32(a + 4),
    revision: img.u8(a + 8),
    oemId: img.ascii(a + 10, 6),
    oemTableId: img.ascii(a + 16, 8),
    oemRevision: img.u32(a + 24),
    creatorId: img.ascii(a + 28, 4),
    creatorRevision: img.u32(a + 32),
  };
  expect(img.sum(a, h.length), `${h.signature} checksum`).toBe(0);
  return h;
}

/** Scan 0xE0000-0xFFFFF on 16-byte boundaries for a valid RSDP, as Linux does. */
function findRsdp(img: Image): number {
  for (let a = 0xe0000; a < 0x100000; a += 16) {
    if (img.ascii(a, 8) === 'RSD PTR ' && img.sum(a, 20) === 0) return a;
  }
  throw new Error('no RSDP found');
}

interface Gas {
  space: number;
  bitWidth: number;
  bitOffset: number;
  access: number;
  address: number;
}

function gas(img: Image, a: number): Gas {
  return { space: img.u8(a), bitWidth: img.u8(a + 1), bitOffset: img.u8(a + 2), access: img.u8(a + 3), address: img.u64(a + 4) };
}

/** Walk RSDP → XSDT (and RSDT) and return each table's address by signature. */
function walk(img: Image): { rsdp: number; bySignature: Map<string, number>; rsdtEntries: number[]; xsdtEntries: number[] } {
  const rsdp = findRsdp(img);
  expect(img.u8(rsdp + 15), 'RSDP revision').toBe(2);
  expect(img.u32(rsdp + 20), 'RSDP length').toBe(36);
  expect(img.sum(rsdp, 36), 'RSDP extended checksum').toBe(0);
  const rsdt = img.u32(rsdp + 16);
  const xsdt = img.u64(rsdp + 24);
  const rh = header(img, rsdt);
  const xh = header(img, xsdt);
  expect(rh.signature).toBe('RSDT');
  expect(xh.signature).toBe('XSDT');
  const rsdtEntries: number[] = [];
  for (let k = 36; k < rh.length; k += 4) rsdtEntries.push(img.u32(rsdt + k));
  const xsdtEntries: number[] = [];
  for (let k = 36; k < xh.length; k += 8) xsdtEntries.push(img.u64(xsdt + k));
  const bySignature = new Map<string, number>();
  for (const a of xsdtEntries) bySignature.set(img.ascii(a, 4), a);
  return { rsdp, bySignature, rsdtEntries, xsdtEntries };
}

// ---------------------------------------------------------------- an independent AML reader

type AmlValue =
  | { kind: 'integer'; value: bigint }
  | { kind: 'string'; value: string }
  | { kind: 'buffer'; bytes: Uint8Array }
  | { kind: 'package'; elements: AmlValue[] }
  | { kind: 'method'; args: number; body: Uint8Array }
  | { kind: 'device' };

/** Decodes the subset of AML the DSDT uses into absolute path → object. */
class AmlReader {
  readonly namespace = new Map<string, AmlValue>();
  private at = 0;
  constructor(private readonly aml: Uint8Array) {}

  run(): Map<string, AmlValue> {
    this.termList(this.aml.length, '\\');
    return this.namespace;
  }

  private byte(): number {
    if (this.at >= this.aml.length) throw new Error('AML: ran off the end');
    return this.aml[this.at++]!;
  }

  private pkgEnd(): number {
    const start = this.at;
    const lead = this.byte();
    const follow = lead >> 6;
    let length = follow === 0 ? lead & 0x3f : lead & 0x0f;
    for (let k = 0; k < follow; k++) length |= this.byte() << (4 + 8 * k);
    return start + length;
  }

  private seg(): string {
    let s = '';
    for (let k = 0; k < 4; k++) s += String.fromCharCode(this.byte());
    return s;
  }

  /** A NameString resolved against `scopePath` (absolute, '\' or '\A.B'). */
  private nameString(scopePath: string): string {
    let base = scopePath;
    if (this.aml[this.at] === 0x5c) {
      this.at++;
      base = '\\';
    }
    while (this.aml[this.at] === 0x5e) {
      this.at++;
      base = base.includes('.') ? base.slice(0, base.lastIndexOf('.')) : '\\';
    }
    const lead = this.aml[this.at]!;
    const segs: string[] = [];
    if (lead === 0x00) this.at++;
    else if (lead === 0x2e) {
      this.at++;
      segs.push(this.seg(), this.seg());
    } else if (lead === 0x2f) {
      this.at++;
      const n = this.byte();
      for (let k = 0; k < n; k++) segs.push(this.seg());
    } else segs.push(this.seg());
    if (segs.length === 0) return base;
    return base === '\\' ? `\\${segs.join('.')}` : `${base}.${segs.join('.')}`;
  }

  private dataObject(): AmlValue {
    const op = this.byte();
    const readLe = (n: number): bigint => {
      let v = 0n;
      for (let k = 0; k < n; k++) v |= BigInt(this.byte()) << BigInt(8 * k);
      return v;
    };
    switch (op) {
      case 0x00:
        return { kind: 'integer', value: 0n };
      case 0x01:
        return { kind: 'integer', value: 1n };
      case 0x0a:
        return { kind: 'integer', value: readLe(1) };
      case 0x0b:
        return { kind: 'integer', value: readLe(2) };
      case 0x0c:
        return { kind: 'integer', value: readLe(4) };
      case 0x0e:
        return { kind: 'integer', value: readLe(8) };
      case 0x0d: {
        let s = '';
        for (let c = this.byte(); c !== 0; c = this.byte()) s += String.fromCharCode(c);
        return { kind: 'string', value: s };
      }
      case 0x11: {
        const end = this.pkgEnd();
        const size = this.dataObject();
        if (size.kind !== 'integer') throw new Error('AML: buffer size is not an integer');
        const bytes = this.aml.slice(this.at, end);
        expect(bytes.length, 'buffer size matches its byte list').toBe(Number(size.value));
        this.at = end;
        return { kind: 'buffer', bytes };
      }
      case 0x12: {
        const end = this.pkgEnd();
        const count = this.byte();
        const elements: AmlValue[] = [];
        while (this.at < end) elements.push(this.dataObject());
        expect(elements.length, 'package element count').toBe(count);
        return { kind: 'package', elements };
      }
      default:
        throw new Error(`AML: unexpected data opcode 0x${op.toString(16)} at ${this.at - 1}`);
    }
  }

  private termList(end: number, scopePath: string): void {
    while (this.at < end) {
      const op = this.byte();
      if (op === 0x08) {
        const path = this.nameString(scopePath);
        this.namespace.set(path, this.dataObject());
      } else if (op === 0x10) {
        const e = this.pkgEnd();
        const path = this.nameString(scopePath);
        this.termList(e, path);
      } else if (op === 0x5b && this.aml[this.at] === 0x82) {
        this.at++;
        const e = this.pkgEnd();
        const path = this.nameString(scopePath);
        this.namespace.set(path, { kind: 'device' });
        this.termList(e, path);
      } else if (op === 0x14) {
        const e = this.pkgEnd();
        const path = this.nameString(scopePath);
        const flags = this.byte();
        this.namespace.set(path, { kind: 'method', args: flags & 7, body: this.aml.slice(this.at, e) });
        this.at = e;
      } else {
        throw new Error(`AML: unexpected term opcode 0x${op.toString(16)} at ${this.at - 1}`);
      }
    }
    expect(this.at, `term list of ${scopePath} ends exactly at its package end`).toBe(end);
  }
}

/** Decode a resource template into plain records. */
function decodeResources(bytes: Uint8Array): { io: { min: number; max: number; align: number; len: number; decode16: boolean }[]; irqs: number[]; endTag: boolean } {
  const io: { min: number; max: number; align: number; len: number; decode16: boolean }[] = [];
  const irqs: number[] = [];
  let k = 0;
  while (k < bytes.length) {
    const tag = bytes[k]!;
    expect(tag & 0x80, 'only small descriptors').toBe(0);
    const type = tag >> 3;
    const len = tag & 7;
    const body = bytes.slice(k + 1, k + 1 + len);
    if (type === 0x0f) {
      expect(k + 2, 'end tag is last').toBe(bytes.length);
      return { io, irqs, endTag: true };
    }
    if (type === 0x08) {
      io.push({ min: body[1]! | (body[2]! << 8), max: body[3]! | (body[4]! << 8), align: body[5]!, len: body[6]!, decode16: (body[0]! & 1) === 1 });
    } else if (type === 0x04) {
      const mask = body[0]! | (body[1]! << 8);
      for (let irq = 0; irq < 16; irq++) if (mask & (1 << irq)) irqs.push(irq);
    } else throw new Error(`unexpected resource type ${type}`);
    k += 1 + len;
  }
  return { io, irqs, endTag: false };
}

function bytesOf(...values: number[]): number[] {
  return values;
}

function ascii(s: string): number[] {
  return [...s].map((c) => c.charCodeAt(0));
}

// ---------------------------------------------------------------- tests

describe('ACPI tables: walk from the RSDP', () => {
  const tables = buildAcpiTables({ memoryBytes: RAM, cpuCount: 1 });
  const img = new Image(tables);
  // Walked inside each test (not at collection time) so a broken RSDP fails the tests.
  let walked: ReturnType<typeof walk> | undefined;
  const found = () => (walked ??= walk(img));

  it('the RSDP is found by the 0xE0000-0xFFFFF scan, 16-byte aligned, and matches rsdpAddress', () => {
    const { rsdp } = found();
    expect(rsdp).toBe(tables.rsdpAddress);
    expect(rsdp % 16).toBe(0);
    expect(img.ascii(rsdp + 9, 6)).toBe('TSHV  ');
  });

  it('RSDT and XSDT list the same tables: FADT and MADT', () => {
    const { rsdtEntries, xsdtEntries, bySignature } = found();
    expect(rsdtEntries).toEqual(xsdtEntries);
    expect([...bySignature.keys()].sort()).toEqual(['APIC', 'FACP']);
  });

  it('every table header carries our OEM ids, the same OEM table ID everywhere', () => {
    const { rsdp, xsdtEntries, bySignature } = found();
    const addresses = [img.u32(rsdp + 16), img.u64(rsdp + 24), ...xsdtEntries, img.u32(bySignature.get('FACP')! + 40)];
    for (const a of addresses) {
      const h = header(img, a);
      expect(h.oemId, h.signature).toBe('TSHV  ');
      expect(h.oemTableId, h.signature).toBe('TSHVPC  ');
      expect(h.creatorId, h.signature).toBe('TSHV');
      expect(h.oemRevision).toBe(1);
      expect(h.creatorRevision).toBe(1);
    }
    expect(header(img, img.u32(rsdp + 16)).revision).toBe(1);
    expect(header(img, img.u64(rsdp + 24)).revision).toBe(1);
  });

  it('FADT: revision 6.4, 276 bytes, every field we set', () => {
    const f = found().bySignature.get('FACP')!;
    const h = header(img, f);
    expect(h.length).toBe(276);
    expect(h.revision).toBe(6);
    expect(img.u8(f + 131), 'minor version').toBe(4);
    const facs = img.u32(f + 36);
    expect(facs % 64, 'FACS 64-byte aligned').toBe(0);
    expect(img.u64(f + 132), 'X_FIRMWARE_CTRL zero when FIRMWARE_CTRL is used').toBe(0);
    const dsdt = img.u32(f + 40);
    expect(img.u64(f + 140), 'X_DSDT = DSDT').toBe(dsdt);
    expect(img.u8(f + 44)).toBe(0);
    expect(img.u8(f + 45), 'PM profile').toBe(0);
    expect(img.u16(f + 46), 'SCI_INT').toBe(9);
    expect(img.u32(f + 48), 'SMI_CMD').toBe(0);
    expect([img.u8(f + 52), img.u8(f + 53), img.u8(f + 54), img.u8(f + 55)]).toEqual([0, 0, 0, 0]);
    expect(img.u32(f + 56), 'PM1a_EVT_BLK').toBe(0x600);
    expect(img.u32(f + 60), 'PM1b_EVT_BLK').toBe(0);
    expect(img.u32(f + 64), 'PM1a_CNT_BLK').toBe(0x604);
    expect(img.u32(f + 68), 'PM1b_CNT_BLK').toBe(0);
    expect(img.u32(f + 72), 'PM2_CNT_BLK').toBe(0);
    expect(img.u32(f + 76), 'PM_TMR_BLK').toBe(0x608);
    expect(img.u32(f + 80), 'GPE0_BLK').toBe(0);
    expect(img.u32(f + 84), 'GPE1_BLK').toBe(0);
    expect([img.u8(f + 88), img.u8(f + 89), img.u8(f + 90), img.u8(f + 91), img.u8(f + 92), img.u8(f + 93)]).toEqual([4, 2, 0, 4, 0, 0]);
    expect(img.u16(f + 96), 'P_LVL2_LAT > 100: no C2').toBeGreaterThan(100);
    expect(img.u16(f + 98), 'P_LVL3_LAT > 1000: no C3').toBeGreaterThan(1000);
    expect(img.u8(f + 108), 'CENTURY').toBe(0x32);
    expect(img.u16(f + 109), 'IAPC_BOOT_ARCH: LEGACY_DEVICES | 8042').toBe(0b11);
    const flags = img.u32(f + 112);
    expect(flags, 'WBINVD | PROC_C1 | SLP_BUTTON | RESET_REG_SUP').toBe((1 << 0) | (1 << 2) | (1 << 5) | (1 << 10));
    expect(flags & (1 << 4), 'fixed power button present').toBe(0);
    expect(flags & (1 << 8), '24-bit PM timer').toBe(0);
    expect(flags & (1 << 20), 'not hardware-reduced').toBe(0);
    expect(gas(img, f + 116), 'RESET_REG').toEqual({ space: 1, bitWidth: 8, bitOffset: 0, access: 1, address: 0x64 });
    expect(img.u8(f + 128), 'RESET_VALUE').toBe(0xfe);
    expect(img.u16(f + 129), 'ARM_BOOT_ARCH').toBe(0);
    expect(gas(img, f + 148)).toEqual({ space: 1, bitWidth: 32, bitOffset: 0, access: 2, address: 0x600 });
    expect(gas(img, f + 172)).toEqual({ space: 1, bitWidth: 16, bitOffset: 0, access: 2, address: 0x604 });
    expect(gas(img, f + 208)).toEqual({ space: 1, bitWidth: 32, bitOffset: 0, access: 3, address: 0x608 });
    for (const off of [160, 184, 196, 220, 232, 244, 256]) expect(gas(img, f + off).address, `GAS at ${off}`).toBe(0);
    expect(img.u64(f + 268), 'hypervisor id').toBe(0);
  });

  it('FADT follows ACPICA rules: X_ blocks equal their 32-bit fields, width = 8 × length, PM1 required', () => {
    const f = found().bySignature.get('FACP')!;
    // [legacy address offset, X GAS offset, legacy length offset]
    const blocks: [number, number, number][] = [[56, 148, 88], [60, 160, 88], [64, 172, 89], [68, 184, 89], [72, 196, 90], [76, 208, 91], [80, 220, 92], [84, 232, 93]];
    for (const [a32, x, len] of blocks) {
      const g = gas(img, f + x);
      const legacy = img.u32(f + a32);
      if (g.address !== 0 && legacy !== 0) expect(g.address, `block at ${a32}`).toBe(legacy);
      if (g.address !== 0) expect(g.bitWidth, `width of block at ${a32}`).toBe(8 * img.u8(f + len));
    }
    // Optional blocks with their own length: address and length both zero or both set.
    for (const [a32, , len] of [blocks[4]!, blocks[5]!, blocks[6]!, blocks[7]!]) {
      expect(img.u32(f + a32) === 0, `block at ${a32}`).toBe(img.u8(f + len) === 0);
    }
    expect(img.u32(f + 56)).not.toBe(0);
    expect(img.u32(f + 64)).not.toBe(0);
  });

  it('FACS: signature, 64 bytes, version 2, no waking vector', () => {
    const facs = img.u32(found().bySignature.get('FACP')! + 36);
    expect(img.ascii(facs, 4)).toBe('FACS');
    expect(img.u32(facs + 4)).toBe(64);
    expect(img.u32(facs + 12)).toBe(0);
    expect(img.u32(facs + 20)).toBe(0);
    expect(img.u8(facs + 32)).toBe(2);
  });

  it('MADT: local APIC address, PCAT_COMPAT, LAPIC, I/O APIC, overrides, LINT1 NMI', () => {
    const m = found().bySignature.get('APIC')!;
    const h = header(img, m);
    expect(h.revision).toBe(5);
    expect(img.u32(m + 36)).toBe(0xfee00000);
    expect(img.u32(m + 40)).toBe(1);
    const entries: { type: number; at: number; len: number }[] = [];
    for (let k = m + 44; k < m + h.length; k += img.u8(k + 1)) entries.push({ type: img.u8(k), at: k, len: img.u8(k + 1) });
    expect(entries.map((e) => e.type)).toEqual([0, 1, 2, 2, 4]);
    const [lapic, ioapic, iso0, iso9, nmi] = entries as [typeof entries[0], typeof entries[0], typeof entries[0], typeof entries[0], typeof entries[0]];
    expect(lapic.len).toBe(8);
    expect([img.u8(lapic.at + 2), img.u8(lapic.at + 3), img.u32(lapic.at + 4)]).toEqual([0, 0, 1]);
    expect(ioapic.len).toBe(12);
    expect([img.u8(ioapic.at + 2), img.u8(ioapic.at + 3), img.u32(ioapic.at + 4), img.u32(ioapic.at + 8)]).toEqual([0, 0, 0xfec00000, 0]);
    expect(iso0.len).toBe(10);
    expect([img.u8(iso0.at + 2), img.u8(iso0.at + 3), img.u32(iso0.at + 4), img.u16(iso0.at + 8)]).toEqual([0, 0, 2, 0]);
    // SCI: ISA 9 → GSI 9, polarity 01 (active high), trigger 11 (level) = 0x000D.
    expect([img.u8(iso9.at + 2), img.u8(iso9.at + 3), img.u32(iso9.at + 4), img.u16(iso9.at + 8)]).toEqual([0, 9, 9, 0x000d]);
    expect(nmi.len).toBe(6);
    expect([img.u8(nmi.at + 2), img.u16(nmi.at + 3), img.u8(nmi.at + 5)]).toEqual([0xff, 0, 1]);
  });

  it('DSDT: revision 2, and its AML decodes to the namespace we describe', () => {
    const d = img.u32(found().bySignature.get('FACP')! + 40);
    const h = header(img, d);
    expect(h.signature).toBe('DSDT');
    expect(h.revision).toBe(2);
    const ns = new AmlReader(img.slice(d + 36, h.length - 36)).run();
    const s5 = ns.get('\\_S5_');
    expect(s5).toEqual({ kind: 'package', elements: [5n, 5n, 0n, 0n].map((value) => ({ kind: 'integer', value })) });
    const expectDevice = (path: string, hid: AmlValue, io: [number, number, number, number][], irqs: number[]) => {
      expect(ns.get(path), path).toEqual({ kind: 'device' });
      expect(ns.get(`${path}._HID`), `${path}._HID`).toEqual(hid);
      const sta = ns.get(`${path}._STA`);
      // Method with no arguments whose body is Return (0x0F): A4 0A 0F.
      expect(sta, `${path}._STA`).toEqual({ kind: 'method', args: 0, body: Uint8Array.of(0xa4, 0x0a, 0x0f) });
      const crs = ns.get(`${path}._CRS`);
      if (io.length === 0 && irqs.length === 0) {
        expect(crs).toBeUndefined();
        return;
      }
      if (crs?.kind !== 'buffer') throw new Error(`${path}._CRS is not a buffer`);
      const r = decodeResources(crs.bytes);
      expect(r.endTag).toBe(true);
      expect(r.io.map((p) => [p.min, p.max, p.align, p.len])).toEqual(io);
      expect(r.io.every((p) => p.decode16)).toBe(true);
      expect(r.irqs).toEqual(irqs);
    };
    const eisa = (v: number): AmlValue => ({ kind: 'integer', value: BigInt(v) });
    // EISA IDs worked out by hand: 'P'=0x10 'N'=0x0E 'P'=0x10 → 0x41D0 stored big-endian, then the product bytes.
    expectDevice('\\_SB_.KBD_', eisa(0x0303d041), [[0x60, 0x60, 1, 1], [0x64, 0x64, 1, 1]], [1]);
    expectDevice('\\_SB_.MOU_', eisa(0x130fd041), [], [12]);
    expectDevice('\\_SB_.RTC_', eisa(0x000bd041), [[0x70, 0x70, 1, 2]], [8]);
    expectDevice('\\_SB_.COM1', eisa(0x0105d041), [[0x3f8, 0x3f8, 8, 8]], [4]);
    expect(ns.get('\\_SB_.COM1._UID')).toEqual({ kind: 'integer', value: 1n });
    expectDevice('\\_SB_.C000', { kind: 'string', value: 'ACPI0007' }, [], []);
    expect(ns.get('\\_SB_.C000._UID')).toEqual({ kind: 'integer', value: 0n });
  });

  it('the writes do not overlap and fit in RAM; everything sits in 0xE0000-0xEFFFF by default', () => {
    expect(() => assertWritesFit(tables.writes, RAM)).not.toThrow();
    for (const w of tables.writes) {
      expect(w.address).toBeGreaterThanOrEqual(0xe0000);
      expect(w.address + w.data.length).toBeLessThanOrEqual(0xf0000);
    }
    const covered = (a: number) => tables.reservedRegions.some((r) => a >= r.base && a < r.base + r.length);
    for (const w of tables.writes) {
      expect(covered(w.address), w.name).toBe(true);
      expect(covered(w.address + w.data.length - 1), w.name).toBe(true);
    }
    expect(tables.reservedRegions.find((r) => r.name === 'ACPI FACS')?.e820Type).toBe(2);
    expect(tables.reservedRegions.find((r) => r.name === 'ACPI tables')?.e820Type).toBe(3);
  });
});

describe('ACPI AML: byte-by-byte against the spec encoding', () => {
  it('\\_S5_ = Package {5, 5, 0, 0}', () => {
    const expected = bytesOf(
      0x08, // NameOp
      0x5c, ...ascii('_S5_'), // RootChar + NameSeg
      0x12, // PackageOp
      0x08, // PkgLength: 1 (itself) + 1 (NumElements) + 2 + 2 + 1 + 1
      0x04, // NumElements
      0x0a, 0x05, // BytePrefix 5
      0x0a, 0x05,
      0x00, // ZeroOp
      0x00,
    );
    expect([...s5Object(5)]).toEqual(expected);
    // And that is exactly how the DSDT body starts.
    expect([...buildDsdtBody({ devices: [] }).slice(0, expected.length)]).toEqual(expected);
  });

  it('the keyboard controller device', () => {
    const resources = bytesOf(
      0x47, 0x01, 0x60, 0x00, 0x60, 0x00, 0x01, 0x01, // IO(Decode16, 0x60, 0x60, 1, 1)
      0x47, 0x01, 0x64, 0x00, 0x64, 0x00, 0x01, 0x01, // IO(Decode16, 0x64, 0x64, 1, 1)
      0x22, 0x02, 0x00, // IRQNoFlags {1}
      0x79, 0x00, // End tag
    );
    const expected = bytesOf(
      0x5b, 0x82, // ExtOpPrefix DeviceOp
      0x37, // PkgLength 55 = 1 + 4 (name) + 10 (_HID) + 10 (_STA) + 30 (_CRS)
      ...ascii('KBD_'),
      0x08, ...ascii('_HID'), 0x0c, 0x41, 0xd0, 0x03, 0x03, // Name(_HID, EisaId("PNP0303")) as DWordConst
      0x14, 0x09, ...ascii('_STA'), 0x00, 0xa4, 0x0a, 0x0f, // Method(_STA, 0) { Return (0x0F) }
      0x08, ...ascii('_CRS'), 0x11, 0x18, 0x0a, 0x15, ...resources, // Name(_CRS, Buffer(21) {...})
    );
    expect(resources.length).toBe(21);
    const body = buildDsdtBody({ devices: [PC_ISA_DEVICES[0]!] });
    // Body = \_S5_ (15 bytes) + Scope(\_SB_) { device }: 0x10, PkgLength, '\', "_SB_", device.
    const dev = body.slice(15 + 1 + 1 + 5);
    expect([...body.slice(15, 15 + 7)]).toEqual([0x10, 1 + 5 + expected.length, 0x5c, ...ascii('_SB_')]);
    expect([...dev]).toEqual(expected);
  });
});

describe('ACPI AML encoder pieces', () => {
  it('PkgLength: 1 byte up to 63 total, then 2/3/4 bytes with the low nibble first', () => {
    expect([...pkgLength(0)]).toEqual([0x01]);
    expect([...pkgLength(62)]).toEqual([0x3f]);
    // 63 content bytes: 1-byte form would give 64 (too big) → 2 bytes, total 65 = 0x41.
    expect([...pkgLength(63)]).toEqual([0x41, 0x04]);
    // 0xFFD content + 2 = 0xFFF: the 2-byte maximum.
    expect([...pkgLength(0xffd)]).toEqual([0x4f, 0xff]);
    // 0xFFE content: 3 bytes, total 0x1001.
    expect([...pkgLength(0xffe)]).toEqual([0x81, 0x00, 0x01]);
    expect([...pkgLength(0x100000)]).toEqual([0xc4, 0x00, 0x00, 0x01]);
    expect(() => pkgLength(0x10000000)).toThrow(AmlEncodeError);
  });

  it('a Buffer of 100 bytes uses a 2-byte PkgLength', () => {
    const b = buffer(new Uint8Array(100));
    // BufferOp, PkgLength(2 + 2 + 100 = 104 = 0x68 → 0x48 0x06), BytePrefix 100.
    expect([...b.slice(0, 5)]).toEqual([0x11, 0x48, 0x06, 0x0a, 100]);
    expect(b.length).toBe(105);
  });

  it('integers use the shortest form', () => {
    expect([...integer(0)]).toEqual([0x00]);
    expect([...integer(1)]).toEqual([0x01]);
    expect([...integer(2)]).toEqual([0x0a, 0x02]);
    expect([...integer(0xff)]).toEqual([0x0a, 0xff]);
    expect([...integer(0x100)]).toEqual([0x0b, 0x00, 0x01]);
    expect([...integer(0x10000)]).toEqual([0x0c, 0x00, 0x00, 0x01, 0x00]);
    expect([...integer(0x1_0000_0000)]).toEqual([0x0e, 0, 0, 0, 0, 1, 0, 0, 0]);
    expect([...integer(2n ** 64n - 1n)]).toEqual([0x0e, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]);
    expect(() => integer(-1)).toThrow(AmlEncodeError);
    expect(() => integer(2n ** 64n)).toThrow(AmlEncodeError);
  });

  it('name strings: padding, root, parent, dual and multi segment', () => {
    expect([...nameString('CPU')]).toEqual(ascii('CPU_'));
    expect([...nameString('\\_SB_')]).toEqual([0x5c, ...ascii('_SB_')]);
    expect([...nameString('^^PCI0')]).toEqual([0x5e, 0x5e, ...ascii('PCI0')]);
    expect([...nameString('\\_SB.PCI0')]).toEqual([0x5c, 0x2e, ...ascii('_SB_'), ...ascii('PCI0')]);
    expect([...nameString('A.B.C')]).toEqual([0x2f, 3, ...ascii('A___B___C___')]);
    expect([...nameString('\\')]).toEqual([0x5c, 0x00]);
    expect(() => nameString('1ABC')).toThrow(/name segment/);
    expect(() => nameString('ABCDE')).toThrow(/1 to 4/);
    expect(() => nameString('ab')).toThrow(AmlEncodeError);
  });

  it('strings, EISA ids, methods and packages', () => {
    expect([...string('ACPI0007')]).toEqual([0x0d, ...ascii('ACPI0007'), 0]);
    expect(() => string('é')).toThrow(AmlEncodeError);
    expect(eisaId('PNP0A03')).toBe(0x030ad041);
    expect(() => eisaId('pnp0303')).toThrow(/EISA ID/);
    expect([...method('_PIC', { argCount: 1, serialized: true, syncLevel: 2 })]).toEqual([0x14, 0x06, ...ascii('_PIC'), 0x29]);
    expect(() => method('_X', { argCount: 8 })).toThrow(/argument count/);
    expect([...packageOp([])]).toEqual([0x12, 0x02, 0x00]);
    expect([...returnOp(integer(0))]).toEqual([0xa4, 0x00]);
    expect([...name('_ADR', integer(0))]).toEqual([0x08, ...ascii('_ADR'), 0x00]);
  });

  it('resource descriptors: IO, IRQ with flags, range checks', () => {
    expect([...ioPortDescriptor({ min: 0x3f8, max: 0x3f8, alignment: 8, length: 8, decode16: false })]).toEqual([0x47, 0x00, 0xf8, 0x03, 0xf8, 0x03, 0x08, 0x08]);
    expect([...irqDescriptor([9], { edge: false, activeLow: true, shared: true })]).toEqual([0x23, 0x00, 0x02, 0x18]);
    expect([...irqDescriptor([3, 4])]).toEqual([0x22, 0x18, 0x00]);
    expect(() => irqDescriptor([16])).toThrow(/ISA IRQ/);
    expect(() => irqDescriptor([])).toThrow(/at least one/);
    expect(() => ioPortDescriptor({ min: 0x70, max: 0x60, alignment: 1, length: 1 })).toThrow(/below minimum/);
  });

  it('nested devices (a future PCI root bridge with a child) decode with correct package ends', () => {
    const child = device('ISA_', name('_ADR', integer(0x00010000)));
    const prt = name('_PRT', packageOp([packageOp([integer(0xffff), integer(0), integer(0), integer(16)])]));
    const body = concatAll(device('\\_SB_.PCI0', name('_HID', integer(eisaId('PNP0A03'))), prt, child));
    const ns = new AmlReader(body).run();
    expect(ns.get('\\_SB_.PCI0')).toEqual({ kind: 'device' });
    expect(ns.get('\\_SB_.PCI0.ISA_._ADR')).toEqual({ kind: 'integer', value: 0x10000n });
    const p = ns.get('\\_SB_.PCI0._PRT');
    expect(p?.kind === 'package' && p.elements[0]?.kind === 'package' && p.elements[0].elements.length).toBe(4);
  });
});

function concatAll(...parts: Uint8Array[]): Uint8Array {
  return Uint8Array.from(parts.flatMap((p) => [...p]));
}

describe('buildAcpiTables options', () => {
  it('two CPUs: two LAPIC entries and two processor devices with matching UIDs', () => {
    const t = buildAcpiTables({ memoryBytes: RAM, cpuCount: 2 });
    const img = new Image(t);
    const { bySignature } = walk(img);
    const m = bySignature.get('APIC')!;
    const lapics: number[][] = [];
    for (let k = m + 44; k < m + img.u32(m + 4); k += img.u8(k + 1)) {
      if (img.u8(k) === 0) lapics.push([img.u8(k + 2), img.u8(k + 3)]);
    }
    expect(lapics).toEqual([[0, 0], [1, 1]]);
    const d = img.u32(bySignature.get('FACP')! + 40);
    const ns = new AmlReader(img.slice(d + 36, img.u32(d + 4) - 36)).run();
    expect(ns.get('\\_SB_.C001._UID')).toEqual({ kind: 'integer', value: 1n });
  });

  it('tables moved below the top of RAM: RSDP stays low, regions report FACS reserved and the rest ACPI-reclaimable', () => {
    const top = RAM - 0x10000;
    const t = buildAcpiTables({ memoryBytes: RAM, cpuCount: 1, tablesAddress: top });
    const img = new Image(t);
    const { bySignature } = walk(img);
    expect(t.rsdpAddress).toBe(0xe0000);
    expect(t.addresses.facs).toBe(top);
    expect(img.u32(bySignature.get('FACP')! + 36)).toBe(top);
    const regions = Object.fromEntries(t.reservedRegions.map((r) => [r.name, r]));
    expect(regions['ACPI FACS']).toEqual({ name: 'ACPI FACS', base: top, length: 64, e820Type: 2 });
    expect(regions['ACPI tables']!.base).toBe(top + 64);
    expect(regions['ACPI tables']!.e820Type).toBe(3);
    expect(regions['ACPI tables']!.base + regions['ACPI tables']!.length).toBeLessThanOrEqual(RAM);
    expect(() => assertWritesFit(t.writes, RAM)).not.toThrow();
  });

  it('a different PM base and SCI move every field that names them', () => {
    const t = buildAcpiTables({ memoryBytes: RAM, cpuCount: 1, pmBase: 0xb000, sciIrq: 10, ioApicId: 1 });
    const img = new Image(t);
    const { bySignature } = walk(img);
    const f = bySignature.get('FACP')!;
    expect([img.u32(f + 56), img.u32(f + 64), img.u32(f + 76), img.u16(f + 46)]).toEqual([0xb000, 0xb004, 0xb008, 10]);
    expect([gas(img, f + 148).address, gas(img, f + 172).address, gas(img, f + 208).address]).toEqual([0xb000, 0xb004, 0xb008]);
    const m = bySignature.get('APIC')!;
    expect(img.u8(m + 44 + 8 + 2)).toBe(1); // I/O APIC ID
    expect([img.u8(m + 44 + 8 + 12 + 10 + 3), img.u32(m + 44 + 8 + 12 + 10 + 4)]).toEqual([10, 10]);
  });

  it.each([
    [{ memoryBytes: 1000 }, 'memoryBytes'],
    [{ cpuCount: 0 }, 'cpuCount'],
    [{ ioApicId: 16 }, 'ioApicId'],
    [{ rsdpAddress: 0xd0000 }, 'rsdpAddress'],
    [{ rsdpAddress: 0xe0008 }, 'rsdpAddress'],
    [{ tablesAddress: 0x100010 }, 'tablesAddress'],
    [{ tablesAddress: RAM - 64 }, 'tablesAddress'],
    [{ tablesAddress: 0xe0000 }, 'tablesAddress'],
    [{ sciIrq: 16 }, 'sciIrq'],
    [{ s5SleepType: 8 }, 's5SleepType'],
  ] as const)('bad option %o is rejected naming %s', (bad, option) => {
    const build = () => buildAcpiTables({ memoryBytes: RAM, cpuCount: 1, ...bad });
    expect(build).toThrow(FirmwareConfigError);
    expect(build).toThrow(new RegExp(option));
  });

  it('a bad OEM id length is rejected', () => {
    expect(() =>
      buildAcpiTables({ memoryBytes: RAM, cpuCount: 1, oemIds: { oemId: 'TOOLONG', oemTableId: 'TSHVPC  ', oemRevision: 1, creatorId: 'TSHV', creatorRevision: 1 } }),
    ).toThrow(/OEM ID/);
  });

  it('agrees with the acpi-pm device: S5 sleep type and a 12-port block covering EVT, CNT and TMR', () => {
    const img = new Image(buildAcpiTables({ memoryBytes: RAM, cpuCount: 1 }));
    const { bySignature } = walk(img);
    const f = bySignature.get('FACP')!;
    const d = img.u32(f + 40);
    const ns = new AmlReader(img.slice(d + 36, img.u32(d + 4) - 36)).run();
    const s5 = ns.get('\\_S5_');
    expect(s5?.kind === 'package' && s5.elements[0]).toEqual({ kind: 'integer', value: BigInt(ACPI_PM_DEFAULT_S5_TYPE) });
    const base = img.u32(f + 56);
    expect(img.u32(f + 76) + img.u8(f + 91)).toBe(base + ACPI_PM_PORT_COUNT);
  });
});

// ---------------------------------------------------------------- PCI (address space descriptors, \_SB_.PCI0)

/** Large address space descriptors of a _CRS buffer, decoded from the §6.4.3.5 layout. */
interface AddressRange {
  tag: number;
  type: number;
  general: number;
  typeFlags: number;
  min: number;
  max: number;
  translation: number;
  length: number;
}

/** Walk a ResourceTemplate: small descriptors by tag length, large ones by their 16-bit length. */
function walkResources(bytes: Uint8Array): { ranges: AddressRange[]; io: number[][]; end: boolean } {
  const ranges: AddressRange[] = [];
  const io: number[][] = [];
  let k = 0;
  while (k < bytes.length) {
    const tag = bytes[k]!;
    if ((tag & 0x80) === 0) {
      const len = tag & 7;
      if (tag >> 3 === 0x0f) return { ranges, io, end: k + 2 === bytes.length };
      if (tag >> 3 === 0x08) io.push([bytes[k + 1]!, bytes[k + 2]! | (bytes[k + 3]! << 8), bytes[k + 4]! | (bytes[k + 5]! << 8), bytes[k + 6]!, bytes[k + 7]!]);
      k += 1 + len;
      continue;
    }
    const len = bytes[k + 1]! | (bytes[k + 2]! << 8);
    const width = tag === 0x88 ? 2 : tag === 0x87 ? 4 : 0;
    if (width === 0) throw new Error(`unexpected large descriptor 0x${tag.toString(16)}`);
    const field = (n: number): number => {
      let v = 0;
      for (let b = 0; b < width; b++) v += bytes[k + 6 + n * width + b]! * 2 ** (8 * b);
      return v;
    };
    ranges.push({ tag, type: bytes[k + 3]!, general: bytes[k + 4]!, typeFlags: bytes[k + 5]!, min: field(1), max: field(2), translation: field(3), length: field(4) });
    k += 3 + len;
  }
  return { ranges, io, end: false };
}

describe('ACPI address space descriptors (§6.4.3.5)', () => {
  it('WordBusNumber and WordIO producer windows, byte by byte', () => {
    expect([...wordAddressDescriptor({ type: 'bus', min: 0, max: 0xff })]).toEqual(
      bytesOf(0x88, 0x0d, 0x00, 0x02, 0x0c, 0x00, 0x00, 0x00, 0x00, 0x00, 0xff, 0x00, 0x00, 0x00, 0x00, 0x01),
    );
    expect([...wordAddressDescriptor({ type: 'io', min: 0x0d00, max: 0xffff })]).toEqual(
      bytesOf(0x88, 0x0d, 0x00, 0x01, 0x0c, 0x03, 0x00, 0x00, 0x00, 0x0d, 0xff, 0xff, 0x00, 0x00, 0x00, 0xf3),
    );
  });

  it('DWordMemory with cacheability, consumer and not-fixed flags', () => {
    expect([...dwordAddressDescriptor({ type: 'memory', min: 0xe000_0000, max: 0xfebf_ffff })]).toEqual(
      bytesOf(0x87, 0x17, 0x00, 0x00, 0x0c, 0x01, 0, 0, 0, 0, 0x00, 0x00, 0x00, 0xe0, 0xff, 0xff, 0xbf, 0xfe, 0, 0, 0, 0, 0x00, 0x00, 0xc0, 0x1e),
    );
    const d = dwordAddressDescriptor({ type: 'memory', min: 0xa0000, max: 0xbffff, consumer: true, minFixed: false, typeFlags: memoryTypeFlags('prefetchable', false) });
    expect(d.length).toBe(26);
    expect([d[3], d[4], d[5]]).toEqual([0x00, 0x09, 0x06]);
    expect(memoryTypeFlags('cacheable')).toBe(0x03);
    expect([...wordAddressDescriptor({ type: 'io', min: 0, max: 0xff, subtractive: true, maxFixed: false }).slice(3, 6)]).toEqual([0x01, 0x06, 0x03]);
  });

  it('rejects values that do not fit and inverted ranges', () => {
    expect(() => wordAddressDescriptor({ type: 'io', min: 0, max: 0xffff })).toThrow(/length 65536/);
    expect(() => wordAddressDescriptor({ type: 'io', min: 0x10, max: 0x0f })).toThrow(/below minimum/);
    expect(() => dwordAddressDescriptor({ type: 'memory', min: 0, max: 2 ** 32 })).toThrow(AmlEncodeError);
  });
});

describe('ACPI \\_SB_.PCI0', () => {
  const tables = buildAcpiTables({ memoryBytes: RAM, cpuCount: 1, pci: true });
  const img = new Image(tables);
  const d = tables.addresses.dsdt;
  const ns = new AmlReader(img.slice(d + 36, header(img, d).length - 36)).run();

  it('is a PNP0A03 host bridge with _UID, _ADR and _BBN 0', () => {
    expect(ns.get('\\_SB_.PCI0')).toEqual({ kind: 'device' });
    expect(ns.get('\\_SB_.PCI0._HID')).toEqual({ kind: 'integer', value: BigInt(eisaId('PNP0A03')) });
    expect(eisaId('PNP0A03')).toBe(0x030ad041);
    for (const n of ['_UID', '_ADR', '_BBN']) expect(ns.get(`\\_SB_.PCI0.${n}`), n).toEqual({ kind: 'integer', value: 0n });
    expect(ns.get('\\_SB_.KBD_')).toEqual({ kind: 'device' });
  });

  it('_CRS: bus numbers, two I/O windows around 0xCF8-0xCFF, VGA and the PCI MMIO window, and the config ports', () => {
    const crs = ns.get('\\_SB_.PCI0._CRS');
    if (crs?.kind !== 'buffer') throw new Error('_CRS is not a buffer');
    const r = walkResources(crs.bytes);
    expect(r.end).toBe(true);
    expect(r.io).toEqual([[0x01, 0xcf8, 0xcf8, 1, 8]]);
    const summary = r.ranges.map((x) => [x.tag, x.type, x.general, x.typeFlags, x.min, x.max, x.translation, x.length]);
    expect(summary).toEqual([
      [0x88, 2, 0x0c, 0x00, 0x00, 0xff, 0, 0x100],
      [0x88, 1, 0x0c, 0x03, 0x0000, 0x0cf7, 0, 0x0cf8],
      [0x88, 1, 0x0c, 0x03, 0x0d00, 0xffff, 0, 0xf300],
      [0x87, 0, 0x0c, 0x03, 0xa0000, 0xbffff, 0, 0x20000],
      [0x87, 0, 0x0c, 0x01, 0xe000_0000, 0xfebf_ffff, 0, 0x1ec0_0000],
    ]);
  });

  it('_PRT: devices 1-31 × INTA-INTD, static GSI 16 + ((device + pin) mod 4)', () => {
    const prt = ns.get('\\_SB_.PCI0._PRT');
    if (prt?.kind !== 'package') throw new Error('_PRT is not a package');
    expect(prt.elements).toHaveLength(31 * 4);
    const entry = (k: number): bigint[] => {
      const e = prt.elements[k]!;
      if (e.kind !== 'package') throw new Error(`entry ${k} is not a package`);
      return e.elements.map((x) => (x.kind === 'integer' ? x.value : -1n));
    };
    expect(entry(0)).toEqual([0x0001ffffn, 0n, 0n, 17n]);
    expect(entry(3)).toEqual([0x0001ffffn, 3n, 0n, 16n]);
    expect(entry(4 * 2 + 1)).toEqual([0x0003ffffn, 1n, 0n, 16n]);
    expect(entry(4 * 30 + 2)).toEqual([0x001fffffn, 2n, 0n, 17n]);
    for (let k = 0; k < prt.elements.length; k++) {
      const [address, pin, source, gsi] = entry(k);
      const dev = Number(address! >> 16n);
      expect(address! & 0xffffn).toBe(0xffffn);
      expect(source).toBe(0n);
      expect(gsi).toBe(BigInt(16 + ((dev + Number(pin)) % 4)));
    }
  });

  it('is absent by default and takes another MMIO window when asked', () => {
    const plain = buildAcpiTables({ memoryBytes: RAM, cpuCount: 1 });
    const pimg = new Image(plain);
    const pd = plain.addresses.dsdt;
    const pns = new AmlReader(pimg.slice(pd + 36, header(pimg, pd).length - 36)).run();
    expect(pns.get('\\_SB_.PCI0')).toBeUndefined();
    const spec = pciHostBridgeDevice({ mmioBase: 0xc000_0000, mmioLimit: 0xcfff_ffff });
    const last = walkResources(spec.resources![5]!.slice()).ranges;
    expect(last.map((x) => [x.min, x.max, x.length])).toEqual([[0xc000_0000, 0xcfff_ffff, 0x1000_0000]]);
  });
});
