/**
 * The decoded-block cache: basic blocks keyed by the guest-physical address of their first
 * byte (and the code-size mode), each a run of records in the decoded store.
 *
 * Lookup is a direct-mapped hash table of typed arrays (no Map on the hot path). Every
 * guest frame a block was decoded from is marked NPT_CODE in the VM's nested page table;
 * the memory layer reports any write to such a frame and `invalidateFrame` drops the
 * frame's blocks, so self-modifying code is correct by construction. When the store or the
 * block table is full everything is flushed (a later tier may evict more finely).
 *
 * Page-crossing blocks: a block never starts a second linear page, but its last instruction
 * may end on the next one, whose bytes come through another translation. That translation
 * can change (a PTE rewritten then INVLPG, another CR3, or the same first frame mapped at
 * another linear address whose next page maps elsewhere) while the first frame stays the
 * same. Such a block is cached in its slot under the mode value `mode + Crossing`, which the
 * hot lookup never matches; the miss path then reuses it only if the current translation
 * of its last byte still lands in the frame it was decoded from (`blockSecond`), so only
 * those blocks pay for a check. Both frames are marked as code.
 */
import type { GuestMemory } from '../memory/guest-memory.js';
import { NPT_CODE } from '../memory/npt.js';
import type { Cpu } from './cpu.js';
import { Ins, Seg, type DecodedStore } from './decoded.js';
import { Decoder } from './decoder.js';

/** Sizes of the lookup table and block table (a `const enum`, so the hot lookup loads no module variables). */
const enum Geometry {
  CacheBits = 16,
  CacheSize = 1 << 16,
  MaxBlocks = 1 << 16,
}
/** Added to a slot's mode for a page-crossing block (revalidated on every lookup). */
const enum SlotMode {
  Crossing = 2,
}
/** Most instructions one block may hold. */
export const MAX_BLOCK_LENGTH = 64;

/** Blocks of decoded instructions and their lookup table. */
export class BlockCache {
  /** Word offset of each block's first record in the store, and its instruction count. */
  readonly blockFirst = new Int32Array(Geometry.MaxBlocks);
  readonly blockLength = new Uint16Array(Geometry.MaxBlocks);
  /** Bytes of code each block covers. */
  private readonly blockBytes = new Uint16Array(Geometry.MaxBlocks);
  private readonly blockSlot = new Int32Array(Geometry.MaxBlocks);
  /** For a page-crossing block: the guest frame its last byte was fetched from. */
  private readonly blockSecond = new Int32Array(Geometry.MaxBlocks);
  private readonly cacheKey = new Int32Array(Geometry.CacheSize);
  private readonly cacheMode = new Int8Array(Geometry.CacheSize).fill(-1);
  private readonly cacheBlock = new Int32Array(Geometry.CacheSize);
  private blockCount = 0;
  /** Next free record (slot) in the store. */
  storeTop = 0;
  /** Blocks decoded from each guest frame (slow path only). */
  private readonly frameBlocks = new Map<number, number[]>();
  /** Statistics. */
  decodedBlocks = 0;
  flushes = 0;
  invalidations = 0;

  private readonly decoder = new Decoder();

  constructor(private readonly store: DecodedStore, private readonly memory: GuestMemory) {}

  /** The block starting at CS:`ip` (physical `phys`), decoding it on a miss. */
  lookup(cpu: Cpu, ip: number, phys: number): number {
    const mode = cpu.ipMask === 0xffff ? 0 : 1;
    const slot = (phys ^ (phys >>> Geometry.CacheBits) ^ (mode << 15)) & (Geometry.CacheSize - 1);
    if (this.cacheKey[slot] === (phys | 0) && this.cacheMode[slot] === mode) {
      const b = this.cacheBlock[slot];
      // The same bytes entered at an IP where the block would wrap past FFFF are another block.
      if (mode !== 0 || ip + this.blockBytes[b] <= 0x10000) return b;
      return this.decode(cpu, ip, phys, -1, mode);
    }
    return this.decode(cpu, ip, phys, slot, mode);
  }

  private decode(cpu: Cpu, ip: number, phys: number, slot: number, mode: number): number {
    if (slot >= 0 && this.cacheKey[slot] === (phys | 0) && this.cacheMode[slot] === mode + SlotMode.Crossing) {
      const b = this.cacheBlock[slot];
      if (this.secondPageUnchanged(cpu, ip, b, mode)) return b;
    }
    if (this.blockCount >= Geometry.MaxBlocks || (this.storeTop + MAX_BLOCK_LENGTH) * Ins.Stride > this.store.length) this.flush();
    const first = this.storeTop;
    const result = this.decoder.decodeBlock(cpu, this.store, first, ip, MAX_BLOCK_LENGTH);
    const b = this.blockCount++;
    this.blockFirst[b] = first * Ins.Stride;
    this.blockLength[b] = result.count;
    this.blockBytes[b] = this.store[(first + result.count - 1) * Ins.Stride + Ins.Next];
    this.storeTop = first + result.count;
    this.decodedBlocks++;
    if (!result.cacheable || slot < 0) {
      this.blockSlot[b] = -1;
      return b;
    }
    this.blockSlot[b] = slot;
    this.cacheKey[slot] = phys | 0;
    this.cacheMode[slot] = result.crosses ? mode + SlotMode.Crossing : mode;
    this.cacheBlock[slot] = b;
    this.watchFrame(phys >>> 12, b);
    const lastFrame = result.lastPhys >>> 12;
    this.blockSecond[b] = lastFrame;
    if (lastFrame !== phys >>> 12) this.watchFrame(lastFrame, b);
    return b;
  }

  /** Whether page-crossing block `b`, entered at `ip`, still fetches its last byte from the frame it was decoded from. */
  private secondPageUnchanged(cpu: Cpu, ip: number, b: number, mode: number): boolean {
    const bytes = this.blockBytes[b];
    if (mode === 0 && ip + bytes > 0x10000) return false;
    const lastLin = (cpu.segBase[Seg.CS] + ((ip + bytes - 1) & cpu.ipMask)) | 0;
    const phys = cpu.codePhysical(lastLin);
    return phys >= 0 && phys >>> 12 === this.blockSecond[b];
  }

  private watchFrame(frame: number, block: number): void {
    let list = this.frameBlocks.get(frame);
    if (list === undefined) {
      list = [];
      this.frameBlocks.set(frame, list);
    }
    list.push(block);
    if ((this.memory.npt.flagsOf(frame) & NPT_CODE) === 0) this.memory.markCode(frame);
  }

  /** Forget the blocks decoded from `frame`. Returns true if there were any. */
  invalidateFrame(frame: number): boolean {
    const list = this.frameBlocks.get(frame);
    if (list === undefined) return false;
    this.frameBlocks.delete(frame);
    for (const b of list) {
      const slot = this.blockSlot[b];
      if (slot >= 0 && this.cacheBlock[slot] === b && this.cacheMode[slot] !== -1) this.cacheMode[slot] = -1;
      this.blockSlot[b] = -1;
    }
    this.invalidations++;
    return true;
  }

  /** Drop every block. */
  flush(): void {
    this.cacheMode.fill(-1);
    this.frameBlocks.clear();
    this.blockCount = 0;
    this.storeTop = 0;
    this.flushes++;
  }
}
