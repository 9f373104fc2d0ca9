/**
 * The CPU's view of linear memory: the soft TLB, paging glue and control registers that
 * shape translation (SDM vol. 3 ch. 4). `Cpu` extends this class; instruction handlers reach
 * memory through `read8/16/32` and `write8/16/32` with a linear address.
 *
 * Per linear 4 KiB page the TLB holds the host byte address of the frame in the frame pool,
 * separately for reads and for writes. A write entry exists only for frames already marked
 * dirty and not holding decoded code, so steady-state writes pay nothing and self-modifying
 * code is caught by the slow path. There are two sets of tables, supervisor (CPL 0-2) and
 * user (CPL 3, allocated on first use), switched by CPL with no flush; with paging a third
 * table per set caches linear -> guest-physical pages (`physical()` for block lookups), and
 * global entries survive MOV CR3. Misses walk the guest page tables (paging.ts) and the
 * nested page table (GuestMemory).
 */
import type { GuestMemory, MemoryObserver } from '../memory/guest-memory.js';
import { NPT_CODE } from '../memory/npt.js';
import { VEC_PF as PAGING_PF, VEC_UD as PAGING_UD, VEC_GP as PAGING_GP } from './exceptions.js';
import { Cr0, Cr4, PageWalker } from './paging.js';

const TLB_PAGES = 1 << 20;
/** Filled TLB pages remembered for cheap flushes; past this a flush clears the whole tables. */
const TLB_TRACK = 1 << 16;
/** The A20 gate as an address mask (`a20Mask`). */
export const enum A20 {
  On = -1,
  Off = ~(1 << 20),
}
/** 2^32: translations at or above it (PAE) lie outside the guest-physical space. */
const FOUR_GIB = 0x1_0000_0000;

/** Per-page bookkeeping of the soft TLB (`tlbPageState`). */
const enum TlbPage {
  /** The page is in `tlbFilled`: a flush visits it. */
  Tracked = 1,
  /** Its entries come from a global translation: MOV CR3 keeps them. */
  Global = 2,
}

/** Low bits of a `tlbPhys` entry; the rest is the guest-physical page address. */
const enum PhysEntry {
  Valid = 1,
  /** Guest paging allows a write at this privilege and the mapping entry's D flag is set. */
  Writable = 2,
}

/** One privilege level's soft-TLB tables, indexed by linear page. */
class TlbSet {
  /** Host byte address of the frame for reads (0 = no entry). */
  readonly read = new Int32Array(TLB_PAGES);
  /** Host byte address for writes: only frames already dirty and not holding code. */
  readonly write = new Int32Array(TLB_PAGES);
  /** With paging: guest-physical page | PhysEntry bits (0 = no entry). */
  readonly phys = new Int32Array(TLB_PAGES);
}

/**
 * Linear-memory access for a CPU: subclasses supply fault raising, privilege changes (which
 * select the TLB set) and the code-frame hook.
 */
export abstract class LinearMemory implements MemoryObserver {
  /** Current privilege level (0-3). */
  cpl = 0;
  cr0 = 0x60000010;
  cr2 = 0;
  cr3 = 0;
  cr4 = 0;
  /** Address-line-20 mask applied to linear addresses (A20.On or A20.Off). */
  protected a20Mask: number = A20.On;

  // Memory and the soft TLB: one set of tables for supervisor accesses (CPL 0-2) and one for
  // user accesses (CPL 3, allocated when first needed); setCpl points tlbRead/tlbWrite/tlbPhys
  // at the current set, so a privilege change costs no flush.
  mem8: Uint8Array;
  memView: DataView;
  protected readonly supTlb = new TlbSet();
  protected usrTlb: TlbSet | null = null;
  protected tlbRead: Int32Array = this.supTlb.read;
  protected tlbWrite: Int32Array = this.supTlb.write;
  protected tlbPhys: Int32Array = this.supTlb.phys;
  /** The current set is the user one. */
  protected tlbUser = false;
  protected readonly tlbFilled = new Int32Array(TLB_TRACK);
  protected tlbFilledCount = 0;
  /** TlbPage bits per linear page. */
  protected readonly tlbPageState = new Uint8Array(TLB_PAGES);
  /** Per 4 MiB linear region: some entry there came from a 4 MiB or 2 MiB page (INVLPG drops the region). */
  protected readonly tlbLargeRegion = new Uint8Array(1024);
  protected tlbHasLarge = false;
  /** The guest page walker, holding the PAE PDPTE registers. */
  readonly walker = new PageWalker();
  /** Statistics: entries into the read and write slow paths (a TLB miss or a page-crossing access). */
  readSlowCount = 0;
  writeSlowCount = 0;
  protected readonly unsubscribeGrow: () => void;

  constructor(readonly memory: GuestMemory) {
    const pool = memory.pool;
    this.mem8 = pool.bytes;
    this.memView = pool.view;
    this.unsubscribeGrow = pool.onGrow(() => {
      this.mem8 = pool.bytes;
      this.memView = pool.view;
    });
  }

  /** Raise a guest fault (throws; never returns). */
  abstract raise(vector: number, errorCode?: number): never;
  /** Change the current privilege level (must call `selectTlb` when crossing CPL 3). */
  abstract setCpl(cpl: number): void;
  /** Re-evaluate alignment checking after CR0.AM may have changed. */
  abstract updateAlignmentChecks(): void;
  /** @inheritdoc */
  abstract codeFrameWritten(guestFrame: number): void;


  /** Read a byte at a linear address. */
  read8(lin: number): number {
    const e = this.tlbRead[lin >>> 12];
    if (e !== 0) return this.mem8[e + (lin & 0xfff)];
    return this.readSlow(lin, 1);
  }

  /** Read a word (unsigned) at a linear address. */
  read16(lin: number): number {
    const e = this.tlbRead[lin >>> 12];
    const off = lin & 0xfff;
    if (e !== 0 && off !== 0xfff) return this.memView.getUint16(e + off, true);
    return this.readSlow(lin, 2);
  }

  /** Read a dword (as int32) at a linear address. */
  read32(lin: number): number {
    const e = this.tlbRead[lin >>> 12];
    const off = lin & 0xfff;
    if (e !== 0 && off <= 0xffc) return this.memView.getInt32(e + off, true);
    return this.readSlow(lin, 4) | 0;
  }

  /** Write a byte at a linear address. */
  write8(lin: number, value: number): void {
    const e = this.tlbWrite[lin >>> 12];
    if (e !== 0) { this.mem8[e + (lin & 0xfff)] = value; return; }
    this.writeSlow(lin, 1, value);
  }

  /** Write a word at a linear address. */
  write16(lin: number, value: number): void {
    const e = this.tlbWrite[lin >>> 12];
    const off = lin & 0xfff;
    if (e !== 0 && off !== 0xfff) { this.memView.setUint16(e + off, value, true); return; }
    this.writeSlow(lin, 2, value);
  }

  /** Write a dword at a linear address. */
  write32(lin: number, value: number): void {
    const e = this.tlbWrite[lin >>> 12];
    const off = lin & 0xfff;
    if (e !== 0 && off <= 0xffc) { this.memView.setInt32(e + off, value, true); return; }
    this.writeSlow(lin, 4, value);
  }

  /**
   * Guest-physical address of an instruction fetch at `lin` (the run loop's block lookup and
   * the decoder). With paging it goes through the current TLB set, walking on a miss: #PF
   * with a read's error code if the fetch is not allowed (P6 has no NX). A page translated
   * above 4 GiB (PAE) holds only FF bytes, which decode as FF /7: #UD.
   */
  physical(lin: number): number {
    if ((this.cr0 & Cr0.PG) === 0) return (lin & this.a20Mask) >>> 0;
    const e = this.tlbPhys[lin >>> 12];
    if (e !== 0) return ((e & ~0xfff) | (lin & 0xfff)) >>> 0;
    return this.fetchSlow(lin);
  }

  private fetchSlow(lin: number): number {
    const phys = this.translate(lin, false);
    if (phys >= FOUR_GIB) this.raise(PAGING_UD);
    return phys;
  }

  /**
   * Like `physical` but never faults and writes no CR2: -1 when a fetch at `lin` would fault
   * or lands above 4 GiB (the block cache validates page-crossing blocks with it).
   */
  codePhysical(lin: number): number {
    if ((this.cr0 & Cr0.PG) === 0) return (lin & this.a20Mask) >>> 0;
    const e = this.tlbPhys[lin >>> 12];
    if (e !== 0) return ((e & ~0xfff) | (lin & 0xfff)) >>> 0;
    const phys = this.walk(lin, false);
    return phys < 0 || phys >= FOUR_GIB ? -1 : phys;
  }

  /**
   * Guest-physical address for a data access at `lin` with the current privilege; with
   * paging a miss walks the page tables and a refused access raises #PF (CR2 = `lin`).
   * The result may be >= 2^32 (PAE): outside guest memory.
   */
  private translate(lin: number, write: boolean): number {
    if ((this.cr0 & Cr0.PG) === 0) return (lin & this.a20Mask) >>> 0;
    const e = this.tlbPhys[lin >>> 12];
    if (e !== 0 && (!write || (e & PhysEntry.Writable) !== 0)) return ((e & ~0xfff) | (lin & 0xfff)) >>> 0;
    const phys = this.walk(lin, write);
    if (phys < 0) {
      this.cr2 = lin | 0;
      this.raise(PAGING_PF, this.walker.errorCode);
    }
    return phys;
  }

  /** Walk the guest page tables and cache the result in the current set; -1 on a fault. */
  private walk(lin: number, write: boolean): number {
    const w = this.walker;
    if (!w.walk(this, lin, write, this.tlbUser)) return -1;
    if (w.phys >= FOUR_GIB) return w.phys;
    const phys = (w.phys & this.a20Mask) >>> 0;
    const page = lin >>> 12;
    this.setPageGlobal(page, w.global);
    if (w.large) {
      this.tlbLargeRegion[page >>> 10] = 1;
      this.tlbHasLarge = true;
    }
    this.tlbPhys[page] = (phys & ~0xfff) | PhysEntry.Valid | (w.writable ? PhysEntry.Writable : 0);
    return phys;
  }

  private readSlow(lin: number, size: number): number {
    this.readSlowCount++;
    if (size > 1 && ((lin & 0xfff) + size > 0x1000)) {
      let v = 0;
      for (let k = 0; k < size; k++) v |= this.readByteSlow((lin + k) | 0) << (8 * k);
      return size === 4 ? v | 0 : v >>> 0;
    }
    const phys = this.translate(lin, false);
    if (phys >= FOUR_GIB) return size === 1 ? 0xff : size === 2 ? 0xffff : -1;
    const host = this.memory.translateRead(phys);
    if (host < 0) {
      const v = size === 1 ? this.memory.read8(phys) : size === 2 ? this.memory.read16(phys) : this.memory.read32(phys);
      return v;
    }
    this.fillHost(this.tlbRead, lin, host);
    const at = host;
    return size === 1 ? this.mem8[at] : size === 2 ? this.memView.getUint16(at, true) : this.memView.getInt32(at, true);
  }

  private readByteSlow(lin: number): number {
    const e = this.tlbRead[lin >>> 12];
    if (e !== 0) return this.mem8[e + (lin & 0xfff)];
    return this.readSlow(lin, 1);
  }

  private writeSlow(lin: number, size: number, value: number): void {
    this.writeSlowCount++;
    if (size > 1 && ((lin & 0xfff) + size > 0x1000)) {
      // Both pages must allow the write before any byte lands (a precise #PF).
      if ((this.cr0 & Cr0.PG) !== 0) {
        this.translate(lin, true);
        this.translate(((lin | 0xfff) + 1) | 0, true);
      }
      for (let k = 0; k < size; k++) this.write8((lin + k) | 0, (value >>> (8 * k)) & 0xff);
      return;
    }
    const phys = this.translate(lin, true);
    if (phys >= FOUR_GIB) return;
    const host = this.memory.translateWrite(phys);
    if (host < 0) {
      if (size === 1) this.memory.write8(phys, value & 0xff);
      else if (size === 2) this.memory.write16(phys, value & 0xffff);
      else this.memory.write32(phys, value);
      return;
    }
    const at = host;
    if (size === 1) this.mem8[at] = value;
    else if (size === 2) this.memView.setUint16(at, value, true);
    else this.memView.setInt32(at, value, true);
    // Cache the writable mapping unless the frame went back to holding code meanwhile.
    if ((this.memory.npt.flagsOf(phys >>> 12) & NPT_CODE) === 0) this.fillHost(this.tlbWrite, lin, host);
  }

  // Implicit supervisor accesses (SDM vol. 3A §4.6: descriptor tables, IDT, TSS, and the
  // stack of an interrupt going to ring 0 are accessed with supervisor rights at any CPL).

  /** Read a byte at a linear address with supervisor rights. */
  sysRead8(lin: number): number {
    if (!this.tlbUser) return this.read8(lin);
    this.selectTlb(false);
    try { return this.read8(lin); } finally { this.selectTlb(true); }
  }

  /** Read a word (unsigned) at a linear address with supervisor rights. */
  sysRead16(lin: number): number {
    if (!this.tlbUser) return this.read16(lin);
    this.selectTlb(false);
    try { return this.read16(lin); } finally { this.selectTlb(true); }
  }

  /** Read a dword (as int32) at a linear address with supervisor rights. */
  sysRead32(lin: number): number {
    if (!this.tlbUser) return this.read32(lin);
    this.selectTlb(false);
    try { return this.read32(lin); } finally { this.selectTlb(true); }
  }

  /** Write a byte at a linear address with supervisor rights. */
  sysWrite8(lin: number, value: number): void {
    if (!this.tlbUser) { this.write8(lin, value); return; }
    this.selectTlb(false);
    try { this.write8(lin, value); } finally { this.selectTlb(true); }
  }

  /** Write a word at a linear address with supervisor rights. */
  sysWrite16(lin: number, value: number): void {
    if (!this.tlbUser) { this.write16(lin, value); return; }
    this.selectTlb(false);
    try { this.write16(lin, value); } finally { this.selectTlb(true); }
  }

  /** Write a dword at a linear address with supervisor rights. */
  sysWrite32(lin: number, value: number): void {
    if (!this.tlbUser) { this.write32(lin, value); return; }
    this.selectTlb(false);
    try { this.write32(lin, value); } finally { this.selectTlb(true); }
  }

  /** Point the fast paths at the user (CPL 3) or the supervisor set of TLB tables. */
  protected selectTlb(user: boolean): void {
    let set = this.supTlb;
    if (user) set = this.usrTlb ??= new TlbSet();
    this.tlbRead = set.read;
    this.tlbWrite = set.write;
    this.tlbPhys = set.phys;
    this.tlbUser = user;
  }

  // Control registers as far as paging is concerned (the instructions' own checks are in ops/system.ts).

  /**
   * Load CR3 (MOV CR3, and task switches that change it): with PAE paging the PDPTE
   * registers are loaded first (#GP(0), nothing changed, if a present one has a reserved
   * bit); non-global translations are flushed (SDM vol. 3A §4.10.4.1).
   */
  loadCr3(value: number): void {
    if ((this.cr0 & Cr0.PG) !== 0 && (this.cr4 & Cr4.PAE) !== 0 && !this.walker.loadPdptes(this, value)) this.raise(PAGING_GP, 0);
    this.cr3 = value | 0;
    this.flushNonGlobal();
  }

  /**
   * Set CR0 and CR4 (after the instruction's own checks). When the result is PAE paging and
   * PG, CD, NW, PAE, PGE or PSE changed, the PDPTEs are loaded from CR3 first (#GP(0) and
   * nothing changed if one is invalid; SDM §4.4.1). A change of PG, WP or PE in CR0 or of
   * PGE, PSE or PAE in CR4 flushes every translation, global ones included (§4.10.4.1).
   */
  setControlRegisters(cr0: number, cr4: number): void {
    const changed0 = this.cr0 ^ cr0, changed4 = this.cr4 ^ cr4;
    const paePaging = (cr0 & Cr0.PG) !== 0 && (cr4 & Cr4.PAE) !== 0;
    if (paePaging && ((changed0 & (Cr0.PG | Cr0.CD | Cr0.NW)) !== 0 || (changed4 & (Cr4.PAE | Cr4.PGE | Cr4.PSE)) !== 0)) {
      if (!this.walker.loadPdptes(this, this.cr3)) this.raise(PAGING_GP, 0);
    }
    this.cr0 = cr0 | 0;
    this.cr4 = cr4 | 0;
    if ((changed0 & (Cr0.PG | Cr0.WP | Cr0.PE)) !== 0 || (changed4 & (Cr4.PGE | Cr4.PSE | Cr4.PAE)) !== 0) this.flushTlb();
    // Back to real mode: privilege level 0 (CS keeps its cached selector and base).
    if ((cr0 & Cr0.PE) === 0 && this.cpl !== 0) this.setCpl(0);
    if ((changed0 & 0x40000) !== 0) this.updateAlignmentChecks();
  }

  /**
   * INVLPG: drop the translations of the page holding `lin` in both sets, global or not. If
   * a 4 MiB or 2 MiB page filled entries in its 4 MiB region, the whole region is dropped
   * (one large-page TLB entry covers all of them).
   */
  invalidatePage(lin: number): void {
    const page = lin >>> 12;
    if (this.tlbLargeRegion[page >>> 10] !== 0) {
      const first = page & ~0x3ff;
      for (let p = first; p < first + 1024; p++) this.dropPage(p);
    } else {
      this.dropPage(page);
    }
  }

  // TLB bookkeeping.

  private fillHost(tlb: Int32Array, lin: number, host: number): void {
    const page = lin >>> 12;
    if (this.tlbPageState[page] === 0) this.trackPage(page, TlbPage.Tracked);
    tlb[page] = host & ~0xfff;
  }

  /** Add `page` to the flush list with state `state`. */
  private trackPage(page: number, state: number): void {
    if (this.tlbFilledCount < TLB_TRACK) this.tlbFilled[this.tlbFilledCount] = page;
    this.tlbFilledCount++;
    this.tlbPageState[page] = state;
  }

  /** Give `page` the global status of a fresh walk; entries of the other status are dropped first, so all of a page's entries share one. */
  private setPageGlobal(page: number, global: boolean): void {
    const state = global ? TlbPage.Tracked | TlbPage.Global : TlbPage.Tracked;
    const old = this.tlbPageState[page];
    if (old === state) return;
    if (old === 0) {
      this.trackPage(page, state);
      return;
    }
    this.clearPage(page);
    this.tlbPageState[page] = state;
  }

  /** Zero `page`'s entries in both sets (its bookkeeping is the caller's). */
  private clearPage(page: number): void {
    const s = this.supTlb;
    s.read[page] = 0; s.write[page] = 0; s.phys[page] = 0;
    const u = this.usrTlb;
    if (u !== null) { u.read[page] = 0; u.write[page] = 0; u.phys[page] = 0; }
  }

  /** INVLPG of one tracked page: entries gone, still on the flush list. */
  private dropPage(page: number): void {
    if (this.tlbPageState[page] === 0) return;
    this.clearPage(page);
    this.tlbPageState[page] = TlbPage.Tracked;
  }

  /** Zero every table of both sets. */
  private clearAllTables(): void {
    const s = this.supTlb, u = this.usrTlb;
    s.read.fill(0); s.write.fill(0); s.phys.fill(0);
    if (u !== null) { u.read.fill(0); u.write.fill(0); u.phys.fill(0); }
    this.tlbPageState.fill(0);
  }

  /** Zero the write entries of one set. */
  private clearWrites(w: Int32Array): void {
    if (this.tlbFilledCount > TLB_TRACK) w.fill(0);
    else for (let k = 0; k < this.tlbFilledCount; k++) w[this.tlbFilled[k]] = 0;
  }

  /** Drop every cached translation, global ones included. */
  flushTlb(): void {
    if (this.tlbFilledCount > TLB_TRACK) {
      this.clearAllTables();
    } else {
      for (let k = 0; k < this.tlbFilledCount; k++) {
        const p = this.tlbFilled[k];
        this.clearPage(p);
        this.tlbPageState[p] = 0;
      }
    }
    this.tlbFilledCount = 0;
    if (this.tlbHasLarge) {
      this.tlbLargeRegion.fill(0);
      this.tlbHasLarge = false;
    }
  }

  /** Drop the non-global translations (MOV CR3); globals exist only while CR4.PGE = 1. */
  private flushNonGlobal(): void {
    if (this.tlbFilledCount > TLB_TRACK) {
      this.flushTlb();
      return;
    }
    let kept = 0;
    for (let k = 0; k < this.tlbFilledCount; k++) {
      const p = this.tlbFilled[k];
      if ((this.tlbPageState[p] & TlbPage.Global) !== 0) {
        this.tlbFilled[kept++] = p;
      } else {
        this.clearPage(p);
        this.tlbPageState[p] = 0;
      }
    }
    this.tlbFilledCount = kept;
  }

  /** Gate or ungate address line 20 (keyboard controller / port 0x92). */
  setA20(enabled: boolean): void {
    const mask = enabled ? A20.On : A20.Off;
    if (mask === this.a20Mask) return;
    this.a20Mask = mask;
    this.flushTlb();
  }

  /** Whether A20 is enabled. */
  get a20Enabled(): boolean {
    return this.a20Mask === A20.On;
  }

  // MemoryObserver
  /**
   * Guest-physical → host mappings changed (COW break, page sharing, unmap...): drop the cached
   * host addresses but keep the linear → guest-physical entries (`tlbPhys`, global status), so
   * a host-side remap never changes which translations the guest's TLB holds — the guest runs
   * the same whether or not (and whenever) the host remapped its memory. Without paging there
   * are no guest translations to keep, and past TLB_TRACK pages the list is lost anyway: a
   * plain flush then (it also keeps repeated calls cheap by emptying the flush list).
   */
  mappingsChanged(): void {
    if ((this.cr0 & Cr0.PG) === 0 || this.tlbFilledCount > TLB_TRACK) this.flushTlb();
    else this.clearHostEntries();
  }

  /** Zero the host-address (read and write) entries of the tracked pages in both sets; they stay on the flush list. */
  private clearHostEntries(): void {
    const s = this.supTlb, u = this.usrTlb;
    for (let k = 0; k < this.tlbFilledCount; k++) {
      const p = this.tlbFilled[k];
      s.read[p] = 0; s.write[p] = 0;
      if (u !== null) { u.read[p] = 0; u.write[p] = 0; }
    }
  }

  /** @inheritdoc */
  writesRevoked(): void {
    this.clearWrites(this.supTlb.write);
    if (this.usrTlb !== null) this.clearWrites(this.usrTlb.write);
  }
}
