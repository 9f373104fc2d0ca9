/**
 * The page walker and the soft TLB (src/cpu/paging.ts, the memory region of src/cpu/cpu.ts),
 * against hand-built page tables in guest memory: 32-bit paging with 4 KiB and 4 MiB pages,
 * PAE with 4 KiB and 2 MiB pages, not-present entries at every level, reserved bits, the
 * U/S and R/W rules for CPL 0 and 3 with CR0.WP 0 and 1, accessed/dirty flags, #PF error
 * codes and CR2, global pages, INVLPG, and the TLB's architecturally allowed staleness.
 * SDM vol. 3A chapter 4 (§4.3 32-bit paging, §4.4 PAE, §4.6 access rights, §4.7 #PF,
 * §4.8 A/D flags, §4.10 TLBs).
 *
 * These tests drive the CPU's accessors directly (read*, write*, sys*, setCpl, loadCr3,
 * setControlRegisters, invalidatePage); paging-instructions.test.ts runs the same machinery
 * through MOV CRn, INVLPG and real page faults.
 */
import { describe, expect, it } from 'vitest';
import { Cr0, Cr4 } from '../../../src/cpu/paging.js';
import { VEC_GP, VEC_PF } from '../../../src/cpu/exceptions.js';
import { createBareCpu, type BareCpu } from '../../helpers/real-mode-cpu.js';

// Entry bits (SDM Tables 4-4..4-6, 4-8..4-11).
const P = 0x1, RW = 0x2, US = 0x4, A = 0x20, D = 0x40, PS = 0x80, G = 0x100;
// #PF error-code bits (SDM §4.7).
const E_P = 1, E_W = 2, E_U = 4, E_RSVD = 8;

const PD = 0x10000; // page directory (32-bit) / PDPT (PAE)
const PT = 0x11000; // page table for linear 4 MiB..8 MiB (32-bit)
const TEST_LIN = 0x00400000; // first page mapped by PT
const FRAME = 0x00200000; // where TEST_LIN's page lives
const PAGING = Cr0.PE | Cr0.PG | Cr0.ET;

interface Fault { vector: number; errorCode: number; cr2: number }

/** Run `fn`; return the guest fault it raised (with CR2), or null. */
function faultOf(vm: BareCpu, fn: () => unknown): Fault | null {
  try {
    fn();
    return null;
  } catch (e) {
    if (e !== vm.cpu.fault) throw e;
    return { vector: vm.cpu.fault.vector, errorCode: vm.cpu.fault.errorCode, cr2: vm.cpu.cr2 >>> 0 };
  }
}

/** A CPU with an empty page directory at PD and a page table at PT for linear 4..8 MiB. */
function machine(): BareCpu {
  return createBareCpu(8 << 20);
}

function enable(vm: BareCpu, cr4 = 0, wp = false): void {
  vm.cpu.loadCr3(PD);
  vm.cpu.setControlRegisters(PAGING | (wp ? Cr0.WP : 0), cr4);
}

/** 32-bit paging: TEST_LIN + k*4K → FRAME + k*4K through PT, with the given PDE/PTE flag bits. */
function map32(vm: BareCpu, pdeFlags: number, pteFlags: number, pages = 1): void {
  vm.memory.write32(PD + (TEST_LIN >>> 22) * 4, PT | pdeFlags);
  for (let k = 0; k < pages; k++) vm.memory.write32(PT + k * 4, (FRAME + k * 0x1000) | pteFlags);
}

const pde32 = (vm: BareCpu) => vm.memory.read32(PD + (TEST_LIN >>> 22) * 4);
const pte32 = (vm: BareCpu, k = 0) => vm.memory.read32(PT + k * 4);

describe('32-bit paging, 4 KiB pages', () => {
  it('translates reads and writes through the page directory and page table', () => {
    const vm = machine();
    map32(vm, P | RW, P | RW, 2);
    vm.memory.write32(FRAME + 0x123, 0xcafef00d);
    enable(vm);
    expect(vm.cpu.read32(TEST_LIN + 0x123) >>> 0).toBe(0xcafef00d);
    vm.cpu.write16(TEST_LIN + 0x1ffe, 0xbeef);
    expect(vm.memory.read16(FRAME + 0x1ffe)).toBe(0xbeef);
    expect(vm.cpu.physical(TEST_LIN + 0x1abc)).toBe(FRAME + 0x1abc);
  });

  it('a read sets A in the PDE and the PTE but not D; a write then sets D in the PTE only', () => {
    const vm = machine();
    map32(vm, P | RW, P | RW);
    enable(vm);
    vm.cpu.read8(TEST_LIN);
    expect(pde32(vm) & (A | D)).toBe(A);
    expect(pte32(vm) & (A | D)).toBe(A);
    vm.cpu.write8(TEST_LIN + 1, 7);
    expect(pte32(vm) & (A | D)).toBe(A | D);
    expect(pde32(vm) & D).toBe(0);
  });

  it('a write through a cached translation whose D is clear walks again and sets D', () => {
    const vm = machine();
    map32(vm, P | RW, P | RW);
    enable(vm);
    vm.cpu.read32(TEST_LIN);
    const walks = vm.cpu.walker.walks;
    vm.cpu.read32(TEST_LIN + 4);
    expect(vm.cpu.walker.walks).toBe(walks); // the read is cached
    vm.cpu.write32(TEST_LIN + 8, 1);
    expect(vm.cpu.walker.walks).toBe(walks + 1);
    expect(pte32(vm) & D).toBe(D);
    vm.cpu.write32(TEST_LIN + 12, 2);
    expect(vm.cpu.walker.walks).toBe(walks + 1); // now D is set: cached for writes too
  });

  it('a not-present PDE faults with P=0, the access type in W/R and U/S, CR2 = the address', () => {
    const vm = machine();
    enable(vm);
    expect(faultOf(vm, () => vm.cpu.read32(TEST_LIN + 0x10))).toEqual({ vector: VEC_PF, errorCode: 0, cr2: TEST_LIN + 0x10 });
    expect(faultOf(vm, () => vm.cpu.write8(TEST_LIN + 0x20, 1))).toEqual({ vector: VEC_PF, errorCode: E_W, cr2: TEST_LIN + 0x20 });
    vm.cpu.setCpl(3);
    expect(faultOf(vm, () => vm.cpu.write8(TEST_LIN + 0x30, 1))).toEqual({ vector: VEC_PF, errorCode: E_W | E_U, cr2: TEST_LIN + 0x30 });
  });

  it('a not-present PTE faults with P=0 and writes no accessed flag in the PDE', () => {
    const vm = machine();
    map32(vm, P | RW | US, RW | US); // PTE without P
    enable(vm);
    expect(faultOf(vm, () => vm.cpu.read16(TEST_LIN + 0xffe))).toEqual({ vector: VEC_PF, errorCode: 0, cr2: TEST_LIN + 0xffe });
    expect(pde32(vm) & A).toBe(0);
  });

  it('PS in a PDE is ignored and no bit is reserved while CR4.PSE = 0', () => {
    const vm = machine();
    map32(vm, P | RW | PS, P | RW | PS); // PS in both PDE and PTE (PTE bit 7 = PAT)
    enable(vm);
    vm.memory.write8(FRAME + 5, 0x5a);
    expect(vm.cpu.read8(TEST_LIN + 5)).toBe(0x5a);
  });
});

/** The U/S and R/W rules (SDM §4.6), as explicit cases: expected error code or 'ok'. */
const RIGHTS_CASES: { pde: number; pte: number; cpl: number; wp: boolean; write: boolean; expect: number | 'ok' }[] = [
  { pde: 0, pte: 0, cpl: 0, wp: false, write: false, expect: 'ok' },
  { pde: 0, pte: 0, cpl: 0, wp: false, write: true, expect: 'ok' },
  { pde: 0, pte: 0, cpl: 0, wp: true, write: true, expect: E_P | E_W },
  { pde: RW, pte: 0, cpl: 0, wp: true, write: true, expect: E_P | E_W },
  { pde: 0, pte: RW, cpl: 0, wp: true, write: true, expect: E_P | E_W },
  { pde: RW, pte: RW, cpl: 0, wp: true, write: true, expect: 'ok' },
  { pde: 0, pte: 0, cpl: 3, wp: false, write: false, expect: E_P | E_U },
  { pde: US, pte: 0, cpl: 3, wp: false, write: false, expect: E_P | E_U },
  { pde: 0, pte: US, cpl: 3, wp: false, write: false, expect: E_P | E_U },
  { pde: US, pte: US, cpl: 3, wp: false, write: false, expect: 'ok' },
  { pde: US, pte: US, cpl: 3, wp: false, write: true, expect: E_P | E_W | E_U },
  { pde: US, pte: US | RW, cpl: 3, wp: false, write: true, expect: E_P | E_W | E_U },
  { pde: US | RW, pte: US, cpl: 3, wp: true, write: true, expect: E_P | E_W | E_U },
  { pde: US | RW, pte: US | RW, cpl: 3, wp: false, write: true, expect: 'ok' },
  { pde: US | RW, pte: US | RW, cpl: 3, wp: true, write: true, expect: 'ok' },
  { pde: RW, pte: US | RW, cpl: 3, wp: false, write: true, expect: E_P | E_W | E_U },
  // CPL 1 and 2 are supervisor levels for paging.
  { pde: 0, pte: 0, cpl: 1, wp: false, write: true, expect: 'ok' },
  { pde: 0, pte: 0, cpl: 2, wp: true, write: true, expect: E_P | E_W },
];

describe('access rights (U/S, R/W, CR0.WP)', () => {
  for (const c of RIGHTS_CASES) {
    const name = `CPL ${c.cpl}, WP=${+c.wp}, PDE ${c.pde & US ? 'U' : 'S'}${c.pde & RW ? 'W' : 'R'}, ` +
      `PTE ${c.pte & US ? 'U' : 'S'}${c.pte & RW ? 'W' : 'R'}, ${c.write ? 'write' : 'read'}: ${c.expect === 'ok' ? 'allowed' : `#PF(${c.expect})`}`;
    it(name, () => {
      const vm = machine();
      map32(vm, P | c.pde, P | c.pte);
      enable(vm, 0, c.wp);
      vm.cpu.setCpl(c.cpl);
      const lin = TEST_LIN + 0x40;
      const f = faultOf(vm, () => (c.write ? vm.cpu.write32(lin, 0x01020304) : vm.cpu.read32(lin)));
      if (c.expect === 'ok') {
        expect(f).toBeNull();
        expect(pte32(vm) & (A | D)).toBe(c.write ? A | D : A);
        if (c.write) expect(vm.memory.read32(FRAME + 0x40)).toBe(0x01020304);
      } else {
        expect(f).toEqual({ vector: VEC_PF, errorCode: c.expect, cr2: lin });
        // No accessed or dirty flag is written when the access faults.
        expect(pde32(vm) & (A | D)).toBe(0);
        expect(pte32(vm) & (A | D)).toBe(0);
        expect(vm.memory.read32(FRAME + 0x40)).toBe(0);
      }
    });
  }
});

describe('32-bit paging, 4 MiB pages (CR4.PSE)', () => {
  const BIG_LIN = 0x00c00000, BIG_FRAME = 0x00400000;
  const pdeAt = PD + (BIG_LIN >>> 22) * 4;

  it('a PDE with PS maps 4 MiB; A and D go into the PDE', () => {
    const vm = machine();
    vm.memory.write32(pdeAt, BIG_FRAME | P | RW | PS);
    vm.memory.write32(BIG_FRAME + 0x3ffffc, 0x44332211);
    enable(vm, Cr4.PSE);
    expect(vm.cpu.read32(BIG_LIN + 0x3ffffc)).toBe(0x44332211);
    expect(vm.memory.read32(pdeAt) & (A | D)).toBe(A);
    vm.cpu.write8(BIG_LIN + 0x12345, 0x99);
    expect(vm.memory.read8(BIG_FRAME + 0x12345)).toBe(0x99);
    expect(vm.memory.read32(pdeAt) & (A | D)).toBe(A | D);
  });

  for (const bit of [12, 13, 17, 21]) {
    it(`bit ${bit} of a 4 MiB PDE is reserved (no PSE-36, no PAT): #PF with P and RSVD, no flags written`, () => {
      const vm = machine();
      vm.memory.write32(pdeAt, BIG_FRAME | P | RW | PS | (1 << bit));
      enable(vm, Cr4.PSE);
      expect(faultOf(vm, () => vm.cpu.read8(BIG_LIN + 7))).toEqual({ vector: VEC_PF, errorCode: E_P | E_RSVD, cr2: BIG_LIN + 7 });
      expect(faultOf(vm, () => vm.cpu.write8(BIG_LIN + 7, 0))).toEqual({ vector: VEC_PF, errorCode: E_P | E_W | E_RSVD, cr2: BIG_LIN + 7 });
      expect(vm.memory.read32(pdeAt) & A).toBe(0);
    });
  }

  it('with CR4.PSE, PTE bit 7 (PAT, unsupported) is reserved', () => {
    const vm = machine();
    map32(vm, P | RW, P | RW | PS);
    enable(vm, Cr4.PSE);
    expect(faultOf(vm, () => vm.cpu.read8(TEST_LIN))).toEqual({ vector: VEC_PF, errorCode: E_P | E_RSVD, cr2: TEST_LIN });
  });

  it('a reserved-bit fault is reported before a protection fault (user access)', () => {
    const vm = machine();
    vm.memory.write32(pdeAt, BIG_FRAME | P | PS | (1 << 15));
    enable(vm, Cr4.PSE);
    vm.cpu.setCpl(3);
    expect(faultOf(vm, () => vm.cpu.read8(BIG_LIN))?.errorCode).toBe(E_P | E_U | E_RSVD);
  });

  it('INVLPG of any address in a 4 MiB page drops every cached 4 KiB piece of it', () => {
    const vm = machine();
    vm.memory.write32(pdeAt, BIG_FRAME | P | RW | PS);
    // (Both frames are written before paging is on: a first write to a frame replaces its
    // copy-on-write zero mapping, and such NPT changes flush the whole TLB.)
    vm.memory.write8(BIG_FRAME + 0x201000, 1);
    vm.memory.write8(0x201000, 2);
    enable(vm, Cr4.PSE);
    expect(vm.cpu.read8(BIG_LIN + 0x201000)).toBe(1);
    vm.memory.write32(pdeAt, 0x00000000 | P | RW | PS); // now maps physical 0..4 MiB
    expect(vm.cpu.read8(BIG_LIN + 0x201000)).toBe(1); // stale, as hardware may be
    vm.cpu.invalidatePage(BIG_LIN + 0x3ff000);
    expect(vm.cpu.read8(BIG_LIN + 0x201000)).toBe(2);
  });
});

// ---------------------------------------------------------------- PAE

const PDPT = 0x10000; // 32-byte aligned
const PAE_PD = 0x12000;
const PAE_PT = 0x13000;

/** PAE: PDPTE 0 → PAE_PD; PDE for TEST_LIN (index 2) → PAE_PT; PTE 0 → FRAME, with flags; hi dwords given. */
function mapPae(vm: BareCpu, pdeFlags: number, pteFlags: number, opts: { pdeHi?: number; pteHi?: number; pdpteHi?: number } = {}): void {
  vm.memory.write32(PDPT, PAE_PD | P);
  vm.memory.write32(PDPT + 4, opts.pdpteHi ?? 0);
  const pdeAt = PAE_PD + ((TEST_LIN >>> 21) & 0x1ff) * 8;
  vm.memory.write32(pdeAt, PAE_PT | pdeFlags);
  vm.memory.write32(pdeAt + 4, opts.pdeHi ?? 0);
  vm.memory.write32(PAE_PT, FRAME | pteFlags);
  vm.memory.write32(PAE_PT + 4, opts.pteHi ?? 0);
}
const paePde = (vm: BareCpu) => vm.memory.read32(PAE_PD + ((TEST_LIN >>> 21) & 0x1ff) * 8);
const paePte = (vm: BareCpu) => vm.memory.read32(PAE_PT);

describe('PAE paging', () => {
  it('translates a 4 KiB page through PDPTE, PDE and PTE, setting A then D', () => {
    const vm = machine();
    mapPae(vm, P | RW | US, P | RW | US);
    vm.memory.write32(FRAME + 0xff0, 0x600dcafe);
    enable(vm, Cr4.PAE);
    expect(vm.cpu.read32(TEST_LIN + 0xff0) >>> 0).toBe(0x600dcafe);
    expect(paePde(vm) & (A | D)).toBe(A);
    expect(paePte(vm) & (A | D)).toBe(A);
    vm.cpu.setCpl(3);
    vm.cpu.write32(TEST_LIN + 0xff4, 0x12345678);
    expect(vm.memory.read32(FRAME + 0xff4)).toBe(0x12345678);
    expect(paePte(vm) & (A | D)).toBe(A | D);
  });

  it('a PDE with PS maps a 2 MiB page (CR4.PSE not needed)', () => {
    const vm = machine();
    vm.memory.write32(PDPT, PAE_PD | P);
    const pdeAt = PAE_PD + ((TEST_LIN >>> 21) & 0x1ff) * 8;
    vm.memory.write32(pdeAt, 0x00600000 | P | RW | PS);
    vm.memory.write32(0x00600000 + 0x1ffff0, 0xa1b2c3d4);
    enable(vm, Cr4.PAE);
    expect(vm.cpu.read32(TEST_LIN + 0x1ffff0) >>> 0).toBe(0xa1b2c3d4);
    vm.cpu.write8(TEST_LIN + 0x100000, 0x42);
    expect(vm.memory.read8(0x00700000)).toBe(0x42);
    expect(vm.memory.read32(pdeAt) & (A | D)).toBe(A | D);
  });

  it('not-present PDPTE, PDE or PTE: #PF with P=0', () => {
    for (const level of ['pdpte', 'pde', 'pte']) {
      const vm = machine();
      mapPae(vm, level === 'pde' ? RW : P | RW, level === 'pte' ? RW : P | RW);
      if (level === 'pdpte') vm.memory.write32(PDPT, PAE_PD);
      enable(vm, Cr4.PAE);
      expect(faultOf(vm, () => vm.cpu.write8(TEST_LIN + 3, 1)), level).toEqual({ vector: VEC_PF, errorCode: E_W, cr2: TEST_LIN + 3 });
    }
  });

  const reserved: { name: string; opts: Parameters<typeof mapPae>[3]; pteFlags?: number }[] = [
    { name: 'PDE bit 63 (XD: no NX on P6)', opts: { pdeHi: 0x80000000 } },
    { name: 'PDE bit 36 (MAXPHYADDR 36)', opts: { pdeHi: 0x10 } },
    { name: 'PTE bit 40', opts: { pteHi: 0x100 } },
    { name: 'PTE bit 7 (PAT unsupported)', opts: {}, pteFlags: P | RW | PS },
  ];
  for (const r of reserved) {
    it(`${r.name} is reserved: #PF with P and RSVD`, () => {
      const vm = machine();
      mapPae(vm, P | RW, r.pteFlags ?? P | RW, r.opts);
      enable(vm, Cr4.PAE);
      expect(faultOf(vm, () => vm.cpu.read8(TEST_LIN))).toEqual({ vector: VEC_PF, errorCode: E_P | E_RSVD, cr2: TEST_LIN });
      expect(paePde(vm) & A).toBe(0);
    });
  }

  it('bits 20:12 of a 2 MiB PDE are reserved', () => {
    for (const bit of [12, 13, 20]) {
      const vm = machine();
      vm.memory.write32(PDPT, PAE_PD | P);
      vm.memory.write32(PAE_PD + ((TEST_LIN >>> 21) & 0x1ff) * 8, 0x00600000 | P | PS | (1 << bit));
      enable(vm, Cr4.PAE);
      expect(faultOf(vm, () => vm.cpu.read8(TEST_LIN))?.errorCode, `bit ${bit}`).toBe(E_P | E_RSVD);
    }
  });

  it('PDPTEs are loaded with CR3: a present one with reserved bits makes the load #GP(0) and changes nothing', () => {
    for (const [lo, hi] of [[PAE_PD | P | 0x2, 0], [PAE_PD | P | 0x20, 0], [PAE_PD | P, 0x10]]) {
      const vm = machine();
      mapPae(vm, P | RW, P | RW);
      enable(vm, Cr4.PAE);
      vm.memory.write32(0x14000, lo);
      vm.memory.write32(0x14004, hi);
      expect(faultOf(vm, () => vm.cpu.loadCr3(0x14000))).toEqual({ vector: VEC_GP, errorCode: 0, cr2: 0 });
      expect(vm.cpu.cr3).toBe(PDPT);
      expect(vm.cpu.read8(TEST_LIN)).toBe(0); // the old PDPTEs are still in use
    }
  });

  it('reserved bits in a not-present PDPTE are ignored', () => {
    const vm = machine();
    mapPae(vm, P | RW, P | RW);
    vm.memory.write32(PDPT + 8, 0xfffffffe);
    vm.memory.write32(PDPT + 12, 0xffffffff);
    expect(faultOf(vm, () => enable(vm, Cr4.PAE))).toBeNull();
  });

  it('enabling PAE paging with an invalid PDPTE is #GP(0), and CR0/CR4 stay as they were', () => {
    const vm = machine();
    mapPae(vm, P | RW, P | RW, { pdpteHi: 0x80000000 });
    vm.cpu.loadCr3(PDPT);
    expect(faultOf(vm, () => vm.cpu.setControlRegisters(PAGING, Cr4.PAE))?.vector).toBe(VEC_GP);
    expect(vm.cpu.cr0 & Cr0.PG).toBe(0);
    vm.cpu.setControlRegisters(Cr0.PE | Cr0.ET, Cr4.PAE);
    expect(faultOf(vm, () => vm.cpu.setControlRegisters(PAGING, Cr4.PAE))?.vector).toBe(VEC_GP);
    expect(vm.cpu.cr0 & Cr0.PG).toBe(0);
  });

  it('the PDPTE registers keep their values until CR3 is loaded again (P6)', () => {
    const vm = machine();
    mapPae(vm, P | RW, P | RW);
    enable(vm, Cr4.PAE);
    vm.memory.write32(PDPT, 0); // PDPTE 0 not present in memory now
    vm.cpu.flushTlb();
    expect(vm.cpu.read8(TEST_LIN)).toBe(0);
    vm.cpu.loadCr3(PDPT);
    expect(faultOf(vm, () => vm.cpu.read8(TEST_LIN))?.errorCode).toBe(0);
  });

  it('a page above 4 GiB reads as all ones and ignores writes; a table above 4 GiB faults (reserved bits)', () => {
    const vm = machine();
    mapPae(vm, P | RW, P | RW, { pteHi: 0x1 }); // page at 4 GiB + FRAME
    enable(vm, Cr4.PAE);
    expect(vm.cpu.read32(TEST_LIN)).toBe(-1);
    expect(vm.cpu.read16(TEST_LIN + 2)).toBe(0xffff);
    expect(vm.cpu.read8(TEST_LIN + 1)).toBe(0xff);
    vm.cpu.write32(TEST_LIN, 0);
    expect(vm.memory.read32(FRAME)).toBe(0);
    expect(vm.cpu.read32(TEST_LIN)).toBe(-1);
    const vm2 = machine();
    mapPae(vm2, P | RW, P | RW, { pdeHi: 0x2 }); // the page table at 8 GiB + PAE_PT
    enable(vm2, Cr4.PAE);
    expect(faultOf(vm2, () => vm2.cpu.read8(TEST_LIN))?.errorCode).toBe(E_P | E_RSVD);
  });
});

// ---------------------------------------------------------------- TLB

describe('soft TLB: flushes and staleness', () => {
  it('a changed PTE is not seen until INVLPG (the old translation may be used); then it is', () => {
    const vm = machine();
    map32(vm, P | RW, P | RW);
    vm.memory.write8(FRAME, 0x11);
    vm.memory.write8(FRAME + 0x1000, 0x22);
    enable(vm);
    expect(vm.cpu.read8(TEST_LIN)).toBe(0x11);
    vm.memory.write32(PT, (FRAME + 0x1000) | P | RW);
    expect(vm.cpu.read8(TEST_LIN)).toBe(0x11);
    vm.cpu.invalidatePage(TEST_LIN + 0x123);
    expect(vm.cpu.read8(TEST_LIN)).toBe(0x22);
  });

  it('INVLPG leaves other pages cached', () => {
    const vm = machine();
    map32(vm, P | RW, P | RW, 2);
    enable(vm);
    vm.cpu.read8(TEST_LIN);
    vm.cpu.read8(TEST_LIN + 0x1000);
    const walks = vm.cpu.walker.walks;
    vm.cpu.invalidatePage(TEST_LIN);
    vm.cpu.read8(TEST_LIN + 0x1000);
    expect(vm.cpu.walker.walks).toBe(walks);
    vm.cpu.read8(TEST_LIN);
    expect(vm.cpu.walker.walks).toBe(walks + 1);
  });

  it('MOV CR3 drops non-global translations; global ones (G with CR4.PGE) survive it', () => {
    const vm = machine();
    map32(vm, P | RW, P | RW | G, 2);
    vm.memory.write32(PT + 4, (FRAME + 0x1000) | P | RW); // page 1 not global
    vm.memory.write8(FRAME, 0x11);
    vm.memory.write8(FRAME + 0x1000, 0x22);
    vm.memory.write8(FRAME + 0x2000, 0x33);
    enable(vm, Cr4.PGE);
    expect(vm.cpu.read8(TEST_LIN)).toBe(0x11);
    expect(vm.cpu.read8(TEST_LIN + 0x1000)).toBe(0x22);
    vm.memory.write32(PT, (FRAME + 0x2000) | P | RW | G);
    vm.memory.write32(PT + 4, (FRAME + 0x2000) | P | RW);
    vm.cpu.loadCr3(PD);
    expect(vm.cpu.read8(TEST_LIN)).toBe(0x11); // global: kept
    expect(vm.cpu.read8(TEST_LIN + 0x1000)).toBe(0x33); // not global: walked again
    vm.cpu.loadCr3(PD);
    expect(vm.cpu.read8(TEST_LIN)).toBe(0x11);
  });

  it('INVLPG drops a global translation', () => {
    const vm = machine();
    map32(vm, P | RW, P | RW | G);
    vm.memory.write8(FRAME + 0x1000, 0x22);
    enable(vm, Cr4.PGE);
    vm.cpu.read8(TEST_LIN);
    vm.memory.write32(PT, (FRAME + 0x1000) | P | RW | G);
    vm.cpu.invalidatePage(TEST_LIN);
    expect(vm.cpu.read8(TEST_LIN)).toBe(0x22);
  });

  it('toggling CR4.PGE (or changing PSE/PAE) drops global translations', () => {
    for (const toggle of [Cr4.PGE, Cr4.PSE]) {
      const vm = machine();
      map32(vm, P | RW, P | RW | G);
      vm.memory.write8(FRAME + 0x1000, 0x22);
      enable(vm, Cr4.PGE);
      vm.cpu.read8(TEST_LIN);
      vm.memory.write32(PT, (FRAME + 0x1000) | P | RW | G);
      vm.cpu.setControlRegisters(vm.cpu.cr0, Cr4.PGE ^ toggle);
      expect(vm.cpu.read8(TEST_LIN), `toggle ${toggle}`).toBe(0x22);
    }
  });

  it('G is ignored while CR4.PGE = 0', () => {
    const vm = machine();
    map32(vm, P | RW, P | RW | G);
    vm.memory.write8(FRAME + 0x1000, 0x22);
    enable(vm);
    vm.cpu.read8(TEST_LIN);
    vm.memory.write32(PT, (FRAME + 0x1000) | P | RW | G);
    vm.cpu.loadCr3(PD);
    expect(vm.cpu.read8(TEST_LIN)).toBe(0x22);
  });

  it('changing CR0.WP flushes: a supervisor write to a read-only page then faults', () => {
    const vm = machine();
    map32(vm, P | RW, P);
    enable(vm);
    vm.cpu.write8(TEST_LIN, 1); // allowed with WP=0, D set, cached for writes
    vm.cpu.setControlRegisters(vm.cpu.cr0 | Cr0.WP, 0);
    expect(faultOf(vm, () => vm.cpu.write8(TEST_LIN, 2))?.errorCode).toBe(E_P | E_W);
    expect(vm.memory.read8(FRAME)).toBe(1);
  });

  it('turning paging off goes back to linear = physical', () => {
    const vm = machine();
    map32(vm, P | RW, P | RW);
    vm.memory.write8(FRAME, 0x11);
    vm.memory.write8(TEST_LIN, 0x77);
    enable(vm);
    expect(vm.cpu.read8(TEST_LIN)).toBe(0x11);
    vm.cpu.setControlRegisters(Cr0.PE | Cr0.ET, 0);
    expect(vm.cpu.read8(TEST_LIN)).toBe(0x77);
  });

  it('CPL changes switch between the user and supervisor views without flushing', () => {
    const vm = machine();
    map32(vm, P | RW | US, P | RW, 2); // page 0 supervisor-only
    vm.memory.write32(PT + 4, (FRAME + 0x1000) | P | RW | US); // page 1 user
    enable(vm);
    vm.cpu.read8(TEST_LIN);
    vm.cpu.read8(TEST_LIN + 0x1000);
    vm.cpu.setCpl(3);
    expect(faultOf(vm, () => vm.cpu.read8(TEST_LIN))?.errorCode).toBe(E_P | E_U);
    vm.cpu.read8(TEST_LIN + 0x1000);
    const walks = vm.cpu.walker.walks;
    vm.cpu.setCpl(0);
    vm.cpu.read8(TEST_LIN);
    vm.cpu.read8(TEST_LIN + 0x1000);
    vm.cpu.setCpl(3);
    vm.cpu.read8(TEST_LIN + 0x1000);
    expect(vm.cpu.walker.walks).toBe(walks); // both views still cached
  });

  it('a user-mode read does not make the page writable for a later user write to a read-only page', () => {
    const vm = machine();
    map32(vm, P | RW | US, P | US | D);
    enable(vm);
    vm.cpu.setCpl(3);
    vm.cpu.read8(TEST_LIN);
    expect(faultOf(vm, () => vm.cpu.write8(TEST_LIN, 1))?.errorCode).toBe(E_P | E_W | E_U);
  });

  it('sys accessors use supervisor rights at CPL 3', () => {
    const vm = machine();
    map32(vm, P | RW, P); // supervisor, read-only
    vm.memory.write32(FRAME + 8, 0x5eed);
    enable(vm, 0, true);
    vm.cpu.setCpl(3);
    expect(faultOf(vm, () => vm.cpu.read32(TEST_LIN + 8))?.errorCode).toBe(E_P | E_U);
    expect(vm.cpu.sysRead32(TEST_LIN + 8)).toBe(0x5eed);
    expect(vm.cpu.sysRead16(TEST_LIN + 8)).toBe(0x5eed);
    expect(vm.cpu.sysRead8(TEST_LIN + 9)).toBe(0x5e);
    // A supervisor write to a read-only page with WP=1: #PF without the U bit.
    expect(faultOf(vm, () => vm.cpu.sysWrite32(TEST_LIN + 8, 1))).toEqual({ vector: VEC_PF, errorCode: E_P | E_W, cr2: TEST_LIN + 8 });
    expect(vm.cpu.cpl).toBe(3);
    expect(faultOf(vm, () => vm.cpu.read8(TEST_LIN))?.errorCode).toBe(E_P | E_U); // back in the user view
    vm.cpu.setControlRegisters(vm.cpu.cr0 & ~Cr0.WP, 0);
    vm.cpu.sysWrite16(TEST_LIN + 8, 0x1234);
    vm.cpu.sysWrite8(TEST_LIN + 10, 0x56);
    expect(vm.memory.read32(FRAME + 8)).toBe(0x561234);
  });

  it('a write crossing into a read-only page writes nothing (precise #PF, CR2 in the second page)', () => {
    const vm = machine();
    map32(vm, P | RW, P | RW, 2);
    vm.memory.write32(PT + 4, (FRAME + 0x1000) | P); // second page read-only
    enable(vm, 0, true);
    expect(faultOf(vm, () => vm.cpu.write32(TEST_LIN + 0xffe, 0x11223344))).toEqual({ vector: VEC_PF, errorCode: E_P | E_W, cr2: TEST_LIN + 0x1000 });
    expect(vm.memory.read16(FRAME + 0xffe)).toBe(0);
    vm.cpu.write32(TEST_LIN + 0xffc, 0x11223344); // within the first page: fine
    expect(vm.memory.read32(FRAME + 0xffc)).toBe(0x11223344);
  });

  it('a read crossing pages assembles the bytes of both frames', () => {
    const vm = machine();
    map32(vm, P | RW, P | RW, 2);
    vm.memory.write32(PT + 4, 0x00300000 | P | RW); // second page elsewhere
    vm.memory.write16(FRAME + 0xffe, 0x2211);
    vm.memory.write16(0x00300000, 0x4433);
    enable(vm);
    expect(vm.cpu.read32(TEST_LIN + 0xffe)).toBe(0x44332211);
  });

  it('accessed/dirty updates are ordinary guest writes: the page-table frame is marked dirty', () => {
    const vm = machine();
    map32(vm, P | RW, P | RW);
    enable(vm);
    vm.memory.harvestDirty();
    vm.cpu.read8(TEST_LIN);
    expect(Array.from(vm.memory.harvestDirty())).toEqual([PD >>> 12, PT >>> 12]);
    vm.cpu.invalidatePage(TEST_LIN);
    vm.cpu.read8(TEST_LIN);
    expect(Array.from(vm.memory.harvestDirty())).toEqual([]); // A already set: nothing written
  });
});

describe('fast paths', () => {
  it('unpaged: repeated reads and writes of a page stay off the slow paths', () => {
    const vm = machine();
    const c = vm.cpu;
    c.write32(0x5000, 1);
    c.read32(0x5000);
    const r = c.readSlowCount, w = c.writeSlowCount;
    for (let k = 0; k < 1000; k += 4) {
      c.write32(0x5000 + k, k);
      expect(c.read32(0x5000 + k)).toBe(k);
    }
    expect(c.readSlowCount).toBe(r);
    expect(c.writeSlowCount).toBe(w);
  });

  it('paged: after the first access of a page, reads and writes hit the TLB', () => {
    const vm = machine();
    map32(vm, P | RW | US, P | RW | US);
    enable(vm);
    const c = vm.cpu;
    for (const cpl of [0, 3]) {
      c.setCpl(cpl);
      c.write32(TEST_LIN, 1);
      c.read32(TEST_LIN);
      const r = c.readSlowCount, w = c.writeSlowCount, walks = c.walker.walks;
      for (let k = 0; k < 1000; k += 4) {
        c.write32(TEST_LIN + k, k);
        expect(c.read32(TEST_LIN + k)).toBe(k);
        c.write8(TEST_LIN + k, 1);
        c.write16(TEST_LIN + k + 2, 2);
        expect(c.read16(TEST_LIN + k + 2)).toBe(2);
        expect(c.read8(TEST_LIN + k)).toBe(1);
      }
      expect(c.readSlowCount, `CPL ${cpl}`).toBe(r);
      expect(c.writeSlowCount, `CPL ${cpl}`).toBe(w);
      expect(c.walker.walks).toBe(walks);
    }
    expect(vm.memory.read32(FRAME + 996)).toBe(0x00020000 | (996 & 0xff00) | 1);
  });
});
