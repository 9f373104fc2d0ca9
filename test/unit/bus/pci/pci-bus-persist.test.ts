// Save → restore round trip of the PCI bus and rejection of corrupted state.
import { describe, expect, it } from 'vitest';
import { PCI_MMIO_BASE, type PciBusState } from '../../../../src/bus/pci/index.js';
import { StateError } from '../../../../src/persist/persist.js';
import { Harness, TestFunction } from './pci-test-doubles.js';

/** A bus with a plain function at 02.0 and a 2-vector MSI-X function at 03.0. */
function board(): { h: Harness; plain: TestFunction; msix: TestFunction } {
  const h = new Harness();
  const plain = new TestFunction({ name: 'plain', interruptPin: 2 });
  const msix = new TestFunction({ name: 'msix', msixVectors: 2 });
  h.bus.plug(plain, 2);
  h.bus.plug(msix, 3);
  return { h, plain, msix };
}

/** Every config dword of the functions on the bus, for comparison. */
function configDump(h: Harness): number[] {
  const out: number[] = [];
  for (const [d, f] of [[0, 0], [1, 0], [2, 0], [3, 0]] as const) {
    for (let off = 0; off < 0x100; off += 4) out.push(h.read(d, f, off, 4));
  }
  return out;
}

function mutate(state: PciBusState, edit: (s: any) => void): unknown {
  const copy = JSON.parse(JSON.stringify(state));
  edit(copy);
  return copy;
}

describe('PciBus Persist', () => {
  it('round-trips configuration, mappings, MSI-X state and interrupt levels', () => {
    const src = board();
    src.h.bus.assignResources();
    src.h.write(2, 0, 0x04, 2, 0x0007);
    src.h.write(0, 0, 0x0d, 1, 0x40);
    src.h.write(1, 0, 0x61, 1, 0x05); // PIRQ B → IRQ 5
    const table = (src.h.read(3, 0, 0x18, 4) & ~0xf) >>> 0;
    src.h.mmio.mmioWrite(table, 4, 0xfee0_1000);
    src.h.mmio.mmioWrite(table + 8, 4, 0x51);
    src.h.write(3, 0, 0x42, 2, 0x8000);
    src.msix.context!.signalMsix(0); // masked → pending
    src.plain.context!.setIntx(true); // device 2 INTB → PIRQ (2 + 2 - 1) mod 4 = D → IRQ 11
    src.h.select(3, 0, 0x10);
    const saved = src.h.bus.save();

    const dst = board();
    dst.h.bus.restore(JSON.parse(JSON.stringify(saved)));
    expect(dst.h.io.read(0xcf8, 4)).toBe(0x8000_1810);
    expect(dst.h.bus.save()).toEqual(saved);
    expect(configDump(dst.h)).toEqual(configDump(src.h));
    // BARs are mapped on the new buses
    dst.h.io.read(0xc003, 1);
    expect(dst.plain.io.reads.length + dst.msix.io.reads.length).toBe(1);
    expect(dst.h.mmio.claims(PCI_MMIO_BASE)).toBe(true);
    // interrupt outputs re-driven
    expect(dst.h.pinLevel(19)).toBe(false);
    expect(dst.h.isaLevel(11)).toBe(true);
    // the pending vector is delivered once unmasked
    expect(dst.h.mmio.mmioRead(table + 0x800, 4)).toBe(1);
    dst.h.mmio.mmioWrite(table + 12, 4, 0);
    expect(dst.h.messages).toEqual([{ vector: 0x51, delivery: 0, destinationMode: 0, destination: 1, level: false }]);
  });

  it('rejects corrupted state naming the field and leaves the bus unchanged', () => {
    const src = board();
    src.h.bus.assignResources();
    const saved = src.h.bus.save();
    const dst = board();
    const before = dst.h.bus.save();
    const cases: [(s: any) => void, RegExp][] = [
      [(s) => (s.version = 9), /version/],
      [(s) => (s.configAddress = 0x8000_0001), /configAddress/],
      [(s) => (s.resetControl = 0x10), /resetControl/],
      [(s) => (s.routes = [0x80, 0x80, 0x80]), /routes/],
      [(s) => (s.routes[2] = 0x40), /routes\[2\]/],
      [(s) => delete s.functions['02.0'], /functions\.02\.0/],
      [(s) => (s.functions['09.0'] = s.functions['02.0']), /functions\.09\.0/],
      [(s) => (s.functions['02.0'].command = 0x0100), /functions\.02\.0\.command/],
      [(s) => (s.functions['02.0'].bars[0] = 0xc008), /functions\.02\.0\.bars\[0\]/],
      [(s) => (s.functions['02.0'].bars[1] = 0xe000_0800), /functions\.02\.0\.bars\[1\]/],
      [(s) => (s.functions['02.0'].bars[4] = 0x1000), /functions\.02\.0\.bars\[4\]/],
      [(s) => (s.functions['02.0'].intx = 1), /functions\.02\.0\.intx/],
      [(s) => (s.functions['02.0'].msix = s.functions['03.0'].msix), /functions\.02\.0\.msix/],
      [(s) => (s.functions['03.0'].msix.table[0] = 0xfee0_0001), /msix\.table\[0\]/],
      [(s) => (s.functions['03.0'].msix.table[3] = 2), /msix\.table\[3\]/],
      [(s) => s.functions['03.0'].msix.table.pop(), /msix\.table/],
      [(s) => (s.functions['03.0'].msix.pending = [0, 2]), /msix\.pending/],
      [(s) => delete s.functions['03.0'].msix, /functions\.03\.0\.msix/],
      [(s) => (s.functions['00.0'].interruptLine = 256), /functions\.00\.0\.interruptLine/],
    ];
    for (const [edit, field] of cases) {
      const bad = mutate(saved, edit);
      let error: unknown;
      try {
        dst.h.bus.restore(bad);
      } catch (e) {
        error = e;
      }
      expect(error, String(field)).toBeInstanceOf(StateError);
      expect((error as Error).message).toMatch(field);
      expect(dst.h.bus.save()).toEqual(before);
    }
    expect(() => dst.h.bus.restore(null)).toThrow(StateError);
  });
});
