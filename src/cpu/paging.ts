/**
 * The page walker: translation of a linear address through the guest's own page tables,
 * following Intel SDM vol. 3A chapter 4 ("Paging") as a P6-class processor implements it.
 *
 * - 32-bit paging (§4.3): CR3 → page directory → page table → 4 KiB page; with CR4.PSE a PDE
 *   with PS=1 maps a 4 MiB page. PSE-36 is not supported (CPUID does not advertise it), so in
 *   a 4 MiB PDE bits 21:13 are reserved; the PAT is not supported either, so with CR4.PSE=1
 *   bit 12 of a 4 MiB PDE and bit 7 of a PTE are reserved too. With CR4.PSE=0 no bit is
 *   reserved in 32-bit paging (and PS is ignored).
 * - PAE paging (§4.4): the four PDPTEs live in registers (`pdpte`), loaded from CR3 by
 *   `loadPdptes` when CR3 is written or PAE paging is switched on; a present PDPTE with a
 *   reserved bit (2:1, 8:5, 63:36) makes that load fail (the caller raises #GP(0)). Entries are
 *   64-bit; a PDE with PS=1 maps a 2 MiB page. MAXPHYADDR is 36 and there is no NX (IA32_EFER
 *   does not exist on P6), so bits 63:36 of a present PDE or PTE are reserved, as are bits
 *   20:12 of a 2 MiB PDE (bit 12 is the unsupported PAT bit) and bit 7 of a PTE.
 * - Access rights (§4.6): a user access (CPL 3) needs U/S=1 at every level and, to write,
 *   R/W=1 at every level; a supervisor write needs R/W=1 at every level only when CR0.WP=1.
 *   In PAE mode the PDPTEs carry no rights.
 * - Accessed and dirty flags (§4.8): written only when the access succeeds: A in every
 *   paging-structure entry used (PDE, PTE), D in the entry that maps the page on a write.
 *   Entries are read and updated through guest-physical memory (GuestMemory), so these
 *   writes mark frames dirty and invalidate decoded code like any other write.
 * - Page-fault error codes (§4.7): P (protection or reserved bit, versus not present),
 *   W/R, U/S, RSVD.
 *
 * Paging structures or pages above 4 GiB (possible with PAE's 36-bit addresses) lie outside
 * the guest-physical space we model: table reads there return all ones (so such an entry
 * is present with reserved bits set and the walk faults), and a page there is returned as
 * a physical address >= 2^32 for the caller to treat as unmapped. The A20 mask is applied
 * by the caller to the final address only.
 */
import type { LinearMemory } from './linear-memory.js';

/** CR0 bits (SDM vol. 3A §2.5). PG is bit 31: compare `(cr0 & Cr0.PG) !== 0`. */
export const enum Cr0 {
  PE = 0x1,
  MP = 0x2,
  EM = 0x4,
  TS = 0x8,
  ET = 0x10,
  NE = 0x20,
  WP = 0x10000,
  AM = 0x40000,
  NW = 0x20000000,
  CD = 0x40000000,
  PG = -0x80000000,
  /** Every bit that exists in CR0; the others are reserved (writes to them are ignored). */
  Defined = PE | MP | EM | TS | ET | NE | WP | AM | NW | CD | PG,
}

/** CR4 bits (SDM vol. 3A §2.5). */
export const enum Cr4 {
  VME = 0x1,
  PVI = 0x2,
  TSD = 0x4,
  DE = 0x8,
  PSE = 0x10,
  PAE = 0x20,
  MCE = 0x40,
  PGE = 0x80,
  PCE = 0x100,
  OSFXSR = 0x200,
  OSXMMEXCPT = 0x400,
  /** The bits this CPU implements (matching what CPUID advertises); setting any other raises #GP(0). */
  Supported = TSD | DE | PSE | PAE | PGE | PCE,
}

/** Page-fault error-code bits (SDM vol. 3A §4.7). */
export const enum PfError {
  /** 1: protection violation or reserved bit; 0: not-present entry. */
  P = 1,
  /** The access was a write. */
  W = 2,
  /** The access was made in user mode (CPL 3). */
  U = 4,
  /** A reserved bit was set in a paging-structure entry. */
  Rsvd = 8,
}

/** Bits of a paging-structure entry (the low dword for PAE). */
const enum Pte {
  P = 0x1,
  RW = 0x2,
  US = 0x4,
  A = 0x20,
  D = 0x40,
  /** PS in a PDE; PAT (reserved here) in a PTE. */
  PS = 0x80,
  G = 0x100,
  /** Reserved in a 32-bit 4 MiB PDE: bits 21:13 (no PSE-36) and 12 (no PAT). */
  Rsvd4M = 0x003ff000,
  /** Reserved in a PAE 2 MiB PDE: bits 20:13 and 12 (no PAT). */
  Rsvd2M = 0x001ff000,
  /** Reserved in the high dword of a present PAE entry: bits 63:36. */
  RsvdHigh = -0x10,
  /** Reserved in the low dword of a present PDPTE: bits 2:1 and 8:5. */
  RsvdPdpte = 0x1e6,
}

/** 2^32: the size of the guest-physical space we model. */
const FOUR_GIB = 0x1_0000_0000;

/**
 * One CPU's page walker. `walk` translates; the outputs of the last successful walk are in
 * its fields. The PAE PDPTE registers live here too (lo/hi dword pairs, `pdpte[2k]` and
 * `pdpte[2k+1]` for PDPTE k).
 */
export class PageWalker {
  /** Guest-physical address of the last successful walk (may be >= 2^32 with PAE). */
  phys = 0;
  /** The translation is global (G set in the entry that maps the page, and CR4.PGE). */
  global = false;
  /** The page is larger than 4 KiB (4 MiB or 2 MiB). */
  large = false;
  /** A write with the privilege walked is allowed and the mapping entry's D flag is set. */
  writable = false;
  /** Error code of the last failed walk (PfError bits). */
  errorCode = 0;
  /** The four PAE PDPTE registers: low dword at 2k, high dword at 2k + 1. */
  readonly pdpte = new Int32Array(8);
  /** Walks performed (statistics). */
  walks = 0;

  /**
   * Translate `lin` for a read or a write (`write`) at user (`user`, CPL 3) or supervisor
   * privilege with the CPU's current CR0/CR3/CR4. True on success (outputs in the fields,
   * A/D flags written); false on a page fault (error code in `errorCode`, nothing written).
   */
  walk(c: LinearMemory, lin: number, write: boolean, user: boolean): boolean {
    this.walks++;
    const access = (write ? PfError.W : 0) | (user ? PfError.U : 0);
    if ((c.cr4 & Cr4.PAE) !== 0) return this.walkPae(c, lin, write, user, access);
    return this.walk32(c, lin, write, user, access);
  }

  /** 32-bit paging (SDM §4.3). */
  private walk32(c: LinearMemory, lin: number, write: boolean, user: boolean, access: number): boolean {
    const mem = c.memory;
    const pse = (c.cr4 & Cr4.PSE) !== 0;
    const pdeAddr = ((c.cr3 & ~0xfff) | ((lin >>> 20) & 0xffc)) >>> 0;
    const pde = mem.read32(pdeAddr) | 0;
    if ((pde & Pte.P) === 0) return this.fail(access);
    if (pse && (pde & Pte.PS) !== 0) {
      if ((pde & Pte.Rsvd4M) !== 0) return this.fail(access | PfError.P | PfError.Rsvd);
      if (!this.allowed(c, pde, write, user)) return this.fail(access | PfError.P);
      this.setFlags(c, pdeAddr, pde, write);
      this.done(c, ((pde & 0xffc00000) | (lin & 0x3fffff)) >>> 0, pde, pde, write, user, true);
      return true;
    }
    const pteAddr = ((pde & ~0xfff) | ((lin >>> 10) & 0xffc)) >>> 0;
    const pte = mem.read32(pteAddr) | 0;
    if ((pte & Pte.P) === 0) return this.fail(access);
    if (pse && (pte & Pte.PS) !== 0) return this.fail(access | PfError.P | PfError.Rsvd);
    const rights = pde & pte;
    if (!this.allowed(c, rights, write, user)) return this.fail(access | PfError.P);
    this.setFlags(c, pdeAddr, pde, false);
    this.setFlags(c, pteAddr, pte, write);
    this.done(c, ((pte & ~0xfff) | (lin & 0xfff)) >>> 0, pte, rights, write, user, false);
    return true;
  }

  /** PAE paging (SDM §4.4). */
  private walkPae(c: LinearMemory, lin: number, write: boolean, user: boolean, access: number): boolean {
    const k = (lin >>> 30) << 1;
    const pdptLo = this.pdpte[k], pdptHi = this.pdpte[k + 1];
    if ((pdptLo & Pte.P) === 0) return this.fail(access);
    const pdeAddr = tableBase(pdptLo, pdptHi) + ((lin >>> 21) & 0x1ff) * 8;
    const pde = readEntry(c, pdeAddr), pdeHi = readEntry(c, pdeAddr + 4);
    if ((pde & Pte.P) === 0) return this.fail(access);
    if ((pdeHi & Pte.RsvdHigh) !== 0) return this.fail(access | PfError.P | PfError.Rsvd);
    if ((pde & Pte.PS) !== 0) {
      if ((pde & Pte.Rsvd2M) !== 0) return this.fail(access | PfError.P | PfError.Rsvd);
      if (!this.allowed(c, pde, write, user)) return this.fail(access | PfError.P);
      this.setFlags(c, pdeAddr, pde, write);
      this.done(c, (pdeHi & 0xf) * FOUR_GIB + ((pde & 0xffe00000) >>> 0) + (lin & 0x1fffff), pde, pde, write, user, true);
      return true;
    }
    const pteAddr = tableBase(pde, pdeHi) + ((lin >>> 12) & 0x1ff) * 8;
    const pte = readEntry(c, pteAddr), pteHi = readEntry(c, pteAddr + 4);
    if ((pte & Pte.P) === 0) return this.fail(access);
    if ((pteHi & Pte.RsvdHigh) !== 0 || (pte & Pte.PS) !== 0) return this.fail(access | PfError.P | PfError.Rsvd);
    const rights = pde & pte;
    if (!this.allowed(c, rights, write, user)) return this.fail(access | PfError.P);
    this.setFlags(c, pdeAddr, pde, false);
    this.setFlags(c, pteAddr, pte, write);
    this.done(c, tableBase(pte, pteHi) + (lin & 0xfff), pte, rights, write, user, false);
    return true;
  }

  /** Whether the combined rights (R/W and U/S ANDed over the levels) allow the access. */
  private allowed(c: LinearMemory, rights: number, write: boolean, user: boolean): boolean {
    if (user && (rights & Pte.US) === 0) return false;
    if (!write || (rights & Pte.RW) !== 0) return true;
    return !user && (c.cr0 & Cr0.WP) === 0;
  }

  /** Set A (and D for `dirty`) in the entry at `addr` if not already set. */
  private setFlags(c: LinearMemory, addr: number, entry: number, dirty: boolean): void {
    const want = entry | Pte.A | (dirty ? Pte.D : 0);
    if (want !== entry && addr < FOUR_GIB) c.memory.write32(addr, want);
  }

  /** Record the outputs of a successful walk. */
  private done(c: LinearMemory, phys: number, leaf: number, rights: number, write: boolean, user: boolean, large: boolean): void {
    this.phys = phys;
    this.large = large;
    this.global = (leaf & Pte.G) !== 0 && (c.cr4 & Cr4.PGE) !== 0;
    const dirty = write || (leaf & Pte.D) !== 0;
    this.writable = dirty && ((rights & Pte.RW) !== 0 || (!user && (c.cr0 & Cr0.WP) === 0));
  }

  private fail(errorCode: number): false {
    this.errorCode = errorCode;
    return false;
  }

  /**
   * Load the PDPTE registers from the 32-byte table at CR3 bits 31:5 (SDM §4.4.1). Returns
   * false, leaving the registers unchanged, if a present entry sets a reserved bit (the
   * instruction that caused the load then raises #GP(0)).
   */
  loadPdptes(c: LinearMemory, cr3: number): boolean {
    const base = (cr3 & ~0x1f) >>> 0;
    for (let k = 0; k < 4; k++) {
      const lo = c.memory.read32(base + k * 8) | 0, hi = c.memory.read32(base + k * 8 + 4) | 0;
      if ((lo & Pte.P) !== 0 && ((lo & Pte.RsvdPdpte) !== 0 || (hi & Pte.RsvdHigh) !== 0)) return false;
    }
    for (let k = 0; k < 8; k++) this.pdpte[k] = c.memory.read32(base + k * 4) | 0;
    return true;
  }
}

/** Physical address (up to 36 bits) of the 4 KiB-aligned table or page an entry points at. */
function tableBase(lo: number, hi: number): number {
  return (hi & 0xf) * FOUR_GIB + ((lo & ~0xfff) >>> 0);
}

/** One dword of a paging-structure entry; all ones outside the 4 GiB guest-physical space. */
function readEntry(c: LinearMemory, addr: number): number {
  return addr < FOUR_GIB ? c.memory.read32(addr) | 0 : -1;
}
