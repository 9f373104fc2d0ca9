// Tests for MSI-X on the PCI bus: capability control, table and PBA in the BAR, masking,
// pending bits and delivery to the APIC message sink, function mask, INTx suppression.
import { describe, expect, it } from 'vitest';
import { Harness, TestFunction } from './pci-test-doubles.js';

const MSIX_CAP = 0x40;

/** A bus with a 3-vector MSI-X function at 00:03.0, resources assigned; returns the table base address. */
function setUp(): { h: Harness; f: TestFunction; table: number } {
  const h = new Harness();
  const f = new TestFunction({ msixVectors: 3 });
  h.bus.plug(f, 3);
  h.bus.assignResources();
  const table = (h.read(3, 0, 0x18, 4) & ~0xf) >>> 0;
  return { h, f, table };
}

/** Program entry `n`: physical destination `dest`, `vector`, edge, fixed. */
function program(h: Harness, table: number, n: number, dest: number, vector: number, data = vector): void {
  h.mmio.mmioWrite(table + n * 16, 4, 0xfee0_0000 | (dest << 12));
  h.mmio.mmioWrite(table + n * 16 + 4, 4, 0);
  h.mmio.mmioWrite(table + n * 16 + 8, 4, data);
}

function enable(h: Harness, functionMask = false): void {
  h.write(3, 0, MSIX_CAP + 2, 2, 0x8000 | (functionMask ? 0x4000 : 0));
}

describe('MSI-X', () => {
  it('starts disabled with every entry masked', () => {
    const { h, f, table } = setUp();
    expect(h.read(3, 0, MSIX_CAP + 2, 2)).toBe(0x0002);
    expect(f.context!.msixEnabled()).toBe(false);
    expect(f.context!.signalMsix(0)).toBe(false);
    for (let n = 0; n < 3; n++) expect(h.mmio.mmioRead(table + n * 16 + 12, 4)).toBe(1);
    expect(h.messages).toEqual([]);
  });

  it('stores table writes (address low bits and vector control reserved bits read zero)', () => {
    const { h, table } = setUp();
    h.mmio.mmioWrite(table + 16, 4, 0xfee0_300f);
    h.mmio.mmioWrite(table + 24, 2, 0x4041);
    h.mmio.mmioWrite(table + 26, 2, 0x0000);
    h.mmio.mmioWrite(table + 28, 4, 0xffff_fffe);
    expect(h.mmio.mmioRead(table + 16, 4)).toBe(0xfee0_300c);
    expect(h.mmio.mmioRead(table + 24, 4)).toBe(0x4041);
    expect(h.mmio.mmioRead(table + 25, 1)).toBe(0x40);
    expect(h.mmio.mmioRead(table + 28, 4)).toBe(0);
  });

  it('delivers an unmasked vector with the decoded address and data', () => {
    const { h, f, table } = setUp();
    program(h, table, 1, 0x02, 0x41);
    h.mmio.mmioWrite(table + 16 + 8, 4, 0x0000_8141); // vector 0x41, lowest priority, level
    h.mmio.mmioWrite(table + 16, 4, 0xfee0_2004); // destination 2, logical mode
    h.mmio.mmioWrite(table + 16 + 12, 4, 0);
    enable(h);
    expect(f.context!.msixEnabled()).toBe(true);
    expect(f.context!.signalMsix(1)).toBe(true);
    expect(h.messages).toEqual([{ vector: 0x41, delivery: 1, destinationMode: 1, destination: 2, level: true }]);
    expect(f.context!.signalMsix(3)).toBe(false);
  });

  it('sets the pending bit for a masked vector and delivers it when unmasked', () => {
    const { h, f, table } = setUp();
    program(h, table, 2, 0, 0x33);
    enable(h);
    const pba = table + 0x800;
    expect(f.context!.signalMsix(2)).toBe(true);
    expect(h.messages).toEqual([]);
    expect(h.mmio.mmioRead(pba, 4)).toBe(0b100);
    h.mmio.mmioWrite(pba, 4, 0); // the PBA is read-only
    expect(h.mmio.mmioRead(pba, 4)).toBe(0b100);
    h.mmio.mmioWrite(table + 2 * 16 + 12, 4, 0);
    expect(h.messages).toEqual([{ vector: 0x33, delivery: 0, destinationMode: 0, destination: 0, level: false }]);
    expect(h.mmio.mmioRead(pba, 4)).toBe(0);
  });

  it('holds every vector while the function mask is set', () => {
    const { h, f, table } = setUp();
    program(h, table, 0, 0, 0x30);
    program(h, table, 1, 0, 0x31);
    h.mmio.mmioWrite(table + 12, 4, 0);
    h.mmio.mmioWrite(table + 16 + 12, 4, 0);
    enable(h, true);
    expect(h.read(3, 0, MSIX_CAP + 2, 2)).toBe(0xc002);
    expect(f.context!.msixEnabled()).toBe(false);
    expect(f.context!.signalMsix(1)).toBe(true);
    expect(f.context!.signalMsix(0)).toBe(true);
    expect(h.messages).toEqual([]);
    expect(h.mmio.mmioRead(table + 0x800, 1)).toBe(0b11);
    h.write(3, 0, MSIX_CAP + 3, 1, 0x80); // clear the function mask, keep enable
    expect(h.messages.map((m) => m.vector)).toEqual([0x30, 0x31]);
    expect(h.mmio.mmioRead(table + 0x800, 1)).toBe(0);
  });

  it('keeps table size and BIR registers read-only', () => {
    const { h } = setUp();
    h.write(3, 0, MSIX_CAP + 2, 2, 0x07ff);
    h.write(3, 0, MSIX_CAP + 4, 4, 0xffff_ffff);
    expect(h.read(3, 0, MSIX_CAP, 4)).toBe(0x0002_0011);
    expect(h.read(3, 0, MSIX_CAP + 4, 4)).toBe(0x0000_0002);
  });

  it('passes BAR accesses outside the table and PBA to the device', () => {
    const { h, f, table } = setUp();
    expect(h.mmio.mmioRead(table + 0x400, 1)).toBe(0x50);
    h.mmio.mmioWrite(table + 0xc00, 4, 0x1234);
    expect(f.msixBar.reads).toEqual([{ offset: 0x400, size: 1 }]);
    expect(f.msixBar.writes).toEqual([{ offset: 0xc00, size: 4, value: 0x1234 }]);
    h.mmio.mmioRead(table, 4);
    expect(f.msixBar.reads).toHaveLength(1);
  });

  it('drops and logs a message whose address is not the local APIC range', () => {
    const { h, f, table } = setUp();
    h.mmio.mmioWrite(table, 4, 0x1234_0000);
    h.mmio.mmioWrite(table + 12, 4, 0);
    enable(h);
    expect(f.context!.signalMsix(0)).toBe(true);
    expect(h.messages).toEqual([]);
    expect(h.logs.some((m) => m.includes('MSI-X vector 0'))).toBe(true);
  });

  it('stops using INTx while MSI-X is enabled', () => {
    const { h, f } = setUp();
    f.context!.setIntx(true); // device 3 INTA → PIRQ D → IRQ 11, pin 19
    expect(h.pinLevel(19)).toBe(false);
    enable(h);
    expect(h.pinLevel(19)).toBe(true);
    expect(h.isaLevel(11)).toBe(false);
    h.write(3, 0, MSIX_CAP + 2, 2, 0);
    expect(h.pinLevel(19)).toBe(false);
  });

  it('rejects an MSI-X table outside a memory BAR', () => {
    const h = new Harness();
    const f = new TestFunction({ msixVectors: 300 }); // 300 × 16 bytes overrun the 4 KiB BAR
    expect(() => h.bus.plug(f, 3)).toThrow(/MSI-X table/);
  });
});
