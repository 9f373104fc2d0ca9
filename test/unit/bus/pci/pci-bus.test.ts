// Tests for the PCI bus: configuration mechanism #1, the bridges, BARs, capabilities, the
// command register, INTx routing, 0xCF9 reset, assignResources, bus reset and Persist.
import { describe, expect, it } from 'vitest';
import { PCI_MMIO_BASE, PciConfigError } from '../../../../src/bus/pci/index.js';
import { Harness, RecordingCapability, TestFunction } from './pci-test-doubles.js';

describe('configuration mechanism #1', () => {
  it('reads the host bridge header at every width and offset inside the dword', () => {
    const h = new Harness();
    expect(h.read(0, 0, 0x00, 4)).toBe(0x1237_8086);
    expect(h.read(0, 0, 0x00, 2)).toBe(0x8086);
    expect(h.read(0, 0, 0x02, 2)).toBe(0x1237);
    expect([0, 1, 2, 3].map((k) => h.read(0, 0, k, 1))).toEqual([0x86, 0x80, 0x37, 0x12]);
    expect(h.read(0, 0, 0x08, 4)).toBe(0x0600_0002);
    expect(h.read(0, 0, 0x0b, 1)).toBe(0x06);
    expect(h.read(0, 0, 0x0a, 1)).toBe(0x00);
  });

  it('writes bytes and words at any offset within the dword', () => {
    const h = new Harness();
    h.write(0, 0, 0x0d, 1, 0x40); // latency timer
    h.write(0, 0, 0x0c, 1, 0x10); // cache line size
    expect(h.read(0, 0, 0x0c, 2)).toBe(0x4010);
    h.write(0, 0, 0x0c, 2, 0x2008);
    expect(h.read(0, 0, 0x0c, 4)).toBe(0x0000_2008); // header type 0 for the host bridge
    h.write(0, 0, 0x3c, 1, 0x0b);
    expect(h.read(0, 0, 0x3c, 1)).toBe(0x0b);
    h.write(0, 0, 0x3e, 2, 0xffff); // min_gnt/max_lat are read-only zero
    expect(h.read(0, 0, 0x3c, 4)).toBe(0x0000_000b);
  });

  it('keeps CONFIG_ADDRESS as a dword register with bits 1:0 and 30:24 reading zero', () => {
    const h = new Harness();
    h.io.write(0xcf8, 4, 0xffff_ffff);
    expect(h.io.read(0xcf8, 4)).toBe(0x80ff_fffc);
    h.io.write(0xcf8, 4, 0x8000_0800);
    h.io.write(0xcf8, 1, 0x00); // byte writes do not touch the address register
    h.io.write(0xcfa, 2, 0x1234);
    expect(h.io.read(0xcf8, 4)).toBe(0x8000_0800);
    expect(h.io.read(0xcf8, 2)).toBe(0xffff);
  });

  it('ignores the data window while the enable bit is clear', () => {
    const h = new Harness();
    h.io.write(0xcf8, 4, 0x0000_000c);
    expect(h.io.read(0xcfc, 4)).toBe(0xffff_ffff);
    h.io.write(0xcfc, 1, 0x55);
    expect(h.read(0, 0, 0x0c, 1)).toBe(0);
  });

  it('reads all ones for absent devices, functions and other buses', () => {
    const h = new Harness();
    h.bus.plug(new TestFunction(), 3);
    expect(h.read(2, 0, 0, 4)).toBe(0xffff_ffff);
    expect(h.read(3, 1, 0, 2)).toBe(0xffff);
    expect(h.read(31, 7, 0, 1)).toBe(0xff);
    h.select(3, 0, 0, 1);
    expect(h.io.read(0xcfc, 4)).toBe(0xffff_ffff);
    expect(h.read(3, 0, 0, 4)).toBe(0x1041_1af4);
  });
});

describe('bridges and plugging', () => {
  it('has a 440FX host bridge and a multi-function PIIX3 ISA bridge', () => {
    const h = new Harness();
    expect(h.read(0, 0, 0x00, 4)).toBe(0x1237_8086);
    expect(h.read(0, 0, 0x0e, 1)).toBe(0x00);
    expect(h.read(1, 0, 0x00, 4)).toBe(0x7000_8086);
    expect(h.read(1, 0, 0x08, 4) >>> 8).toBe(0x060100);
    expect(h.read(1, 0, 0x0e, 1)).toBe(0x80);
    expect([0x60, 0x61, 0x62, 0x63].map((r) => h.read(1, 0, r, 1))).toEqual([0x80, 0x80, 0x80, 0x80]);
  });

  it('rejects bad and taken slots', () => {
    const h = new Harness();
    h.bus.plug(new TestFunction({ name: 'a' }), 5);
    expect(() => h.bus.plug(new TestFunction({ name: 'b' }), 5)).toThrow(/05\.0 is taken by a/);
    expect(() => h.bus.plug(new TestFunction(), 0)).toThrow(PciConfigError);
    expect(() => h.bus.plug(new TestFunction(), 1)).toThrow(PciConfigError);
    expect(() => h.bus.plug(new TestFunction(), 32)).toThrow(PciConfigError);
    expect(() => h.bus.plug(new TestFunction(), 6, 8)).toThrow(/function number 8/);
  });

  it('rejects a BAR size that is not a power of two', () => {
    const h = new Harness();
    expect(() => h.bus.plug(new TestFunction({ ioSize: 24 }), 4)).toThrow(/BAR 0 size 24/);
  });

  it('sets the multi-function bit when a device has several functions and calls attach', () => {
    const h = new Harness();
    const f0 = new TestFunction({ name: 'f0' });
    h.bus.plug(f0, 4);
    expect(h.read(4, 0, 0x0e, 1)).toBe(0x00);
    h.bus.plug(new TestFunction({ name: 'f1' }), 4, 1);
    expect(h.read(4, 0, 0x0e, 1)).toBe(0x80);
    expect(h.read(4, 1, 0x00, 2)).toBe(0x1af4);
    expect(f0.context).toBeDefined();
    expect(h.read(4, 0, 0x2c, 4)).toBe(0x0001_1af4);
    expect(h.read(4, 0, 0x3d, 1)).toBe(1);
  });
});

describe('BARs', () => {
  it('sizes I/O and memory BARs by writing all ones', () => {
    const h = new Harness();
    h.bus.plug(new TestFunction({ ioSize: 32, memorySize: 0x4000, prefetchable: true }), 3);
    expect(h.read(3, 0, 0x10, 4)).toBe(0x0000_0001);
    expect(h.read(3, 0, 0x14, 4)).toBe(0x0000_0008);
    h.write(3, 0, 0x10, 4, 0xffff_ffff);
    h.write(3, 0, 0x14, 4, 0xffff_ffff);
    h.write(3, 0, 0x18, 4, 0xffff_ffff);
    expect(h.read(3, 0, 0x10, 4)).toBe(0xffff_ffe1);
    expect(h.read(3, 0, 0x14, 4)).toBe(0xffff_c008);
    expect(h.read(3, 0, 0x18, 4)).toBe(0); // unimplemented BAR
  });

  it('maps BARs when decode is enabled, moves them on relocation and unmaps on disable', () => {
    const h = new Harness();
    const f = new TestFunction();
    h.bus.plug(f, 3);
    h.write(3, 0, 0x10, 4, 0xc100);
    h.write(3, 0, 0x14, 4, 0xe000_1000);
    expect(h.io.read(0xc104, 1)).toBe(0xff);
    h.write(3, 0, 0x04, 2, 0x0003);
    expect(h.io.read(0xc104, 1)).toBe(0x54);
    expect(f.io.reads.at(-1)).toEqual({ offset: 4, size: 1 });
    expect(h.mmio.mmioRead(0xe000_1010, 4)).toBe(0x63626160);
    // relocation while decoding: the old ranges go, the new ones come
    h.write(3, 0, 0x10, 2, 0xc200);
    h.write(3, 0, 0x16, 2, 0xe000);
    h.write(3, 0, 0x14, 2, 0x2000);
    expect(h.io.read(0xc104, 1)).toBe(0xff);
    expect(h.io.read(0xc21f, 1)).toBe(0x6f);
    expect(h.mmio.claims(0xe000_1000)).toBe(false);
    expect(h.mmio.claims(0xe000_2000)).toBe(true);
    h.io.write(0xc202, 2, 0xbeef);
    expect(f.io.writes.at(-1)).toEqual({ offset: 2, size: 2, value: 0xbeef });
    // disable memory decode only
    h.write(3, 0, 0x04, 2, 0x0001);
    expect(h.mmio.claims(0xe000_2000)).toBe(false);
    expect(h.io.read(0xc200, 1)).toBe(0x50);
    h.write(3, 0, 0x04, 2, 0x0000);
    expect(h.io.read(0xc200, 1)).toBe(0xff);
  });

  it('does not map a BAR at address 0 or one that overlaps another device, and logs the overlap once', () => {
    const h = new Harness();
    const a = new TestFunction({ name: 'a' });
    const b = new TestFunction({ name: 'b' });
    h.bus.plug(a, 3);
    h.bus.plug(b, 4);
    h.write(3, 0, 0x04, 2, 0x0001);
    expect(h.io.read(0x0000, 1)).toBe(0xff);
    expect(a.io.reads).toHaveLength(0);
    h.write(3, 0, 0x10, 4, 0xc000);
    h.write(4, 0, 0x10, 4, 0xc000);
    h.write(4, 0, 0x04, 2, 0x0001);
    h.write(4, 0, 0x04, 2, 0x0005);
    h.write(4, 0, 0x04, 2, 0x0001);
    expect(h.logs.filter((m) => m.includes('b: BAR 0'))).toHaveLength(1);
    h.io.read(0xc000, 1);
    expect(a.io.reads).toHaveLength(1);
    expect(b.io.reads).toHaveLength(0);
    h.write(4, 0, 0x10, 4, 0xc040);
    h.io.read(0xc040, 1);
    expect(b.io.reads).toHaveLength(1);
  });
});

describe('capabilities and command register', () => {
  it('links the capabilities from 0x40 with MSI-X last and delegates body accesses', () => {
    const h = new Harness();
    const c1 = new RecordingCapability(5);
    const c2 = new RecordingCapability(16);
    h.bus.plug(new TestFunction({ capabilities: [c1, c2], msixVectors: 3 }), 3);
    expect(h.read(3, 0, 0x06, 2) & 0x10).toBe(0x10);
    const walk: [number, number][] = [];
    for (let at = h.read(3, 0, 0x34, 1); at !== 0; at = h.read(3, 0, at + 1, 1)) walk.push([at, h.read(3, 0, at, 1)]);
    expect(walk).toEqual([[0x40, 0x09], [0x48, 0x09], [0x58, 0x11]]);
    expect(h.read(3, 0, 0x44, 1)).toBe(0xc4);
    expect(c1.reads.at(-1)).toEqual({ offset: 4, size: 1 });
    expect(h.read(3, 0, 0x4c, 4)).toBe(0xc7c6c5c4);
    expect(c2.reads.at(-1)).toEqual({ offset: 4, size: 4 });
    // a dword at the capability start: ID and next from the bus, bytes 2-3 from the capability
    expect(h.read(3, 0, 0x48, 4)).toBe(0xc3c2_5809);
    h.write(3, 0, 0x50, 4, 0x1234_5678);
    expect(c2.writes).toEqual([{ offset: 8, size: 4, value: 0x1234_5678 }]);
    h.write(3, 0, 0x48, 2, 0xffff); // the header bytes are read-only
    expect(h.read(3, 0, 0x48, 2)).toBe(0x5809);
    // MSI-X capability: table size N-1 = 2, table in BAR 2 at 0, PBA in BAR 2 at 0x800
    expect(h.read(3, 0, 0x58, 4)).toBe(0x0002_0011);
    expect(h.read(3, 0, 0x5c, 4)).toBe(0x0000_0002);
    expect(h.read(3, 0, 0x60, 4)).toBe(0x0000_0802);
    expect(h.read(3, 0, 0x70, 4)).toBe(0);
  });

  it('has no capability list without capabilities', () => {
    const h = new Harness();
    h.bus.plug(new TestFunction(), 3);
    expect(h.read(3, 0, 0x06, 2) & 0x10).toBe(0);
    expect(h.read(3, 0, 0x34, 1)).toBe(0);
  });

  it('keeps the implemented command bits and tells the function', () => {
    const h = new Harness();
    const f = new TestFunction();
    h.bus.plug(f, 3);
    h.write(3, 0, 0x04, 2, 0xffff);
    expect(h.read(3, 0, 0x04, 2)).toBe(0x0407);
    expect(f.context!.command()).toBe(0x0407);
    h.write(3, 0, 0x04, 1, 0x03); // byte write keeps the high byte (InterruptDisable)
    expect(h.read(3, 0, 0x04, 2)).toBe(0x0403);
    expect(f.commandChanges).toEqual([0x0407, 0x0403]);
  });
});

describe('INTx routing', () => {
  it('drives the I/O APIC pins active-low from construction', () => {
    const h = new Harness();
    expect(h.pins).toEqual([[16, true], [17, true], [18, true], [19, true]]);
  });

  it('routes a function through its PIRQ to the ISA IRQ and I/O APIC pin, and reflects InterruptStatus', () => {
    const h = new Harness();
    const f = new TestFunction({ interruptPin: 1 });
    h.bus.plug(f, 3); // INTA of device 3 → PIRQ (3 + 1 - 1) mod 4 = D
    h.write(1, 0, 0x63, 1, 0x0b);
    f.context!.setIntx(true);
    expect(h.pinLevel(19)).toBe(false);
    expect(h.isaLevel(11)).toBe(true);
    expect(h.read(3, 0, 0x06, 2) & 0x08).toBe(0x08);
    f.context!.setIntx(false);
    expect(h.pinLevel(19)).toBe(true);
    expect(h.isaLevel(11)).toBe(false);
    expect(h.read(3, 0, 0x06, 2) & 0x08).toBe(0);
  });

  it('rotates pins across devices: device 4 INTB drives PIRQ B', () => {
    const h = new Harness();
    const f = new TestFunction({ interruptPin: 2 });
    h.bus.plug(f, 4); // (4 + 2 - 1) mod 4 = 1 → PIRQ B, pin 17
    f.context!.setIntx(true);
    expect(h.pinLevel(17)).toBe(false);
    expect(h.pinLevel(16)).toBe(true);
    expect(h.isa).toEqual([]); // routing disabled at reset
  });

  it('wire-ORs functions on one PIRQ and PIRQs on one ISA IRQ', () => {
    const h = new Harness();
    const a = new TestFunction({ name: 'a' });
    const b = new TestFunction({ name: 'b' });
    const c = new TestFunction({ name: 'c' });
    h.bus.plug(a, 4); // PIRQ A
    h.bus.plug(b, 8); // PIRQ A
    h.bus.plug(c, 6); // PIRQ C
    h.write(1, 0, 0x60, 4, 0x0b0a0b0a); // A→10, B→11, C→10, D→11
    a.context!.setIntx(true);
    b.context!.setIntx(true);
    a.context!.setIntx(false);
    expect(h.pinLevel(16)).toBe(false);
    expect(h.isaLevel(10)).toBe(true);
    c.context!.setIntx(true);
    b.context!.setIntx(false);
    expect(h.pinLevel(16)).toBe(true);
    expect(h.pinLevel(18)).toBe(false);
    expect(h.isaLevel(10)).toBe(true);
    c.context!.setIntx(false);
    expect(h.isaLevel(10)).toBe(false);
    expect(h.isa.filter(([irq]) => irq === 10)).toEqual([[10, true], [10, false]]);
  });

  it('moves the level when a PIRQ is re-routed, and treats disabled or reserved routes as unrouted', () => {
    const h = new Harness();
    const f = new TestFunction();
    h.bus.plug(f, 4); // PIRQ A
    h.write(1, 0, 0x60, 1, 0x0a);
    f.context!.setIntx(true);
    expect(h.isaLevel(10)).toBe(true);
    h.write(1, 0, 0x60, 1, 0x0b);
    expect(h.isaLevel(10)).toBe(false);
    expect(h.isaLevel(11)).toBe(true);
    h.write(1, 0, 0x60, 1, 0x02); // IRQ 2 is reserved
    expect(h.isaLevel(11)).toBe(false);
    expect(h.isaLevel(2)).toBe(false);
    h.write(1, 0, 0x60, 1, 0x8b); // disabled
    expect(h.isaLevel(11)).toBe(false);
    expect(h.read(1, 0, 0x60, 1)).toBe(0x8b);
    h.write(1, 0, 0x60, 1, 0x7b); // bits 6:4 are not implemented
    expect(h.read(1, 0, 0x60, 1)).toBe(0x0b);
    expect(h.isaLevel(11)).toBe(true);
    expect(h.pinLevel(16)).toBe(false);
  });

  it('honours Interrupt Disable while InterruptStatus still shows the pending level', () => {
    const h = new Harness();
    const f = new TestFunction();
    h.bus.plug(f, 4);
    f.context!.setIntx(true);
    expect(h.pinLevel(16)).toBe(false);
    h.write(4, 0, 0x05, 1, 0x04); // InterruptDisable
    expect(h.pinLevel(16)).toBe(true);
    expect(h.read(4, 0, 0x06, 2) & 0x08).toBe(0x08);
    h.write(4, 0, 0x05, 1, 0x00);
    expect(h.pinLevel(16)).toBe(false);
  });
});

describe('reset control at 0xCF9', () => {
  it('requests a hard reset on a rising bit 2 with bit 1 set', () => {
    const h = new Harness();
    h.io.write(0xcf9, 1, 0x02);
    expect(h.resets).toBe(0);
    expect(h.io.read(0xcf9, 1)).toBe(0x02);
    h.io.write(0xcf9, 1, 0x06);
    expect(h.resets).toBe(1);
    h.io.write(0xcf9, 1, 0x04); // soft reset: logged, not performed
    expect(h.resets).toBe(1);
    expect(h.logs.some((m) => m.includes('soft reset'))).toBe(true);
    h.io.write(0xcf9, 1, 0x06); // bit 2 already set: no rising edge
    expect(h.resets).toBe(1);
    h.io.write(0xcf9, 1, 0x00);
    h.io.write(0xcf9, 1, 0x0e);
    expect(h.resets).toBe(2);
  });

  it('does not disturb the address register', () => {
    const h = new Harness();
    h.io.write(0xcf8, 4, 0x8000_0008);
    h.io.write(0xcf9, 1, 0x02);
    expect(h.io.read(0xcf8, 4)).toBe(0x8000_0008);
  });
});

describe('assignResources', () => {
  it('lays out BARs largest first, routes PIRQs, sets interrupt lines and enables decode', () => {
    const h = new Harness();
    const a = new TestFunction({ name: 'a', ioSize: 32, memorySize: 0x1000, interruptPin: 1 });
    const b = new TestFunction({ name: 'b', ioSize: 64, memorySize: 0x4000, interruptPin: 1 });
    const c = new TestFunction({ name: 'c', ioSize: 16, memorySize: 0x2000, interruptPin: 0 });
    h.bus.plug(a, 2); // INTA of device 2 → PIRQ C → 10
    h.bus.plug(b, 3); // INTA of device 3 → PIRQ D → 11
    h.bus.plug(c, 5);
    h.bus.assignResources();
    expect([0x60, 0x61, 0x62, 0x63].map((r) => h.read(1, 0, r, 1))).toEqual([10, 11, 10, 11]);
    expect(h.read(3, 0, 0x10, 4)).toBe(0xc001);
    expect(h.read(2, 0, 0x10, 4)).toBe(0xc041);
    expect(h.read(5, 0, 0x10, 4)).toBe(0xc061);
    expect(h.read(3, 0, 0x14, 4)).toBe(PCI_MMIO_BASE);
    expect(h.read(5, 0, 0x14, 4)).toBe(PCI_MMIO_BASE + 0x4000);
    expect(h.read(2, 0, 0x14, 4)).toBe(PCI_MMIO_BASE + 0x6000);
    expect(h.read(2, 0, 0x3c, 1)).toBe(10);
    expect(h.read(3, 0, 0x3c, 1)).toBe(11);
    expect(h.read(5, 0, 0x3c, 1)).toBe(0xff);
    for (const d of [2, 3, 5]) expect(h.read(d, 0, 0x04, 2)).toBe(0x0003);
    expect(h.read(0, 0, 0x04, 2)).toBe(0);
    h.io.read(0xc045, 1);
    expect(a.io.reads.at(-1)).toEqual({ offset: 5, size: 1 });
    h.mmio.mmioRead(PCI_MMIO_BASE + 0x4008, 4);
    expect(c.memory.reads.at(-1)).toEqual({ offset: 8, size: 4 });
    a.context!.setIntx(true);
    expect(h.isaLevel(10)).toBe(true);
    expect(h.pinLevel(18)).toBe(false);
    // running it again keeps the same layout mapped
    h.bus.assignResources();
    h.io.read(0xc045, 1);
    expect(a.io.reads).toHaveLength(2);
  });

  it('fails when I/O BARs do not fit below 0x10000', () => {
    const h = new Harness();
    // 0xC000-0xFFFF holds 64 BARs of 256 ports; plug 72
    for (let d = 2; d < 11; d++) for (let f = 0; f < 8; f++) h.bus.plug(new TestFunction({ name: `f${d}.${f}`, ioSize: 256 }), d, f);
    expect(() => h.bus.assignResources()).toThrow(/does not fit below 0xffff/);
  });
});

describe('bus reset', () => {
  it('returns every configuration space to power-on, unmaps BARs and resets the functions', () => {
    const h = new Harness();
    const f = new TestFunction();
    h.bus.plug(f, 4);
    h.bus.assignResources();
    f.context!.setIntx(true);
    h.write(0, 0, 0x0d, 1, 0x20);
    expect(h.pinLevel(16)).toBe(false);
    h.bus.reset();
    expect(f.resets).toBe(1);
    expect(h.read(4, 0, 0x04, 4)).toBe(0);
    expect(h.read(4, 0, 0x10, 4)).toBe(1);
    expect(h.read(4, 0, 0x3c, 1)).toBe(0);
    expect(h.read(0, 0, 0x0d, 1)).toBe(0);
    expect(h.read(1, 0, 0x60, 4)).toBe(0x80808080);
    expect(h.io.read(0xc000, 1)).toBe(0xff);
    expect(h.mmio.claims(PCI_MMIO_BASE)).toBe(false);
    expect(h.pinLevel(16)).toBe(true);
    expect(h.isaLevel(10)).toBe(false);
  });
});
