/**
 * Guest memory (DESIGN.md, "Memory"): one VM's guest-physical address space, resolved through
 * its nested page table onto frames of the shared FramePool.
 *
 * - RAM is guest-physical [0, ramBytes). Every RAM frame starts mapped copy-on-write to the
 *   pool's zero frame and is populated lazily: the first write copies (allocates) a frame.
 * - ROM frames are present but neither WRITABLE nor SHARED: writes are dropped and counted.
 * - MMIO ranges dispatch to handlers; the NPT entry's frame field holds the region number + 1.
 * - Unbacked addresses read as all ones and drop writes.
 *
 * The CPU calls translateRead/translateWrite once per 4 KiB page to fill its soft TLB and then
 * uses `pool.bytes` / `pool.view` directly; observers hear when cached translations go stale.
 * Every write path (CPU slow path, DMA, loaders) goes through translateWrite, which breaks COW,
 * reports writes to code frames and marks the dirty bitmap.
 *
 * Content-based page sharing (page-sharing.ts) remaps identical frames onto one copy-on-write
 * frame with `mapSharedFrame`; observers that implement `mappingReleased` hear every mapping of
 * a host frame that goes away (COW break, replacement, dispose), which keeps its counts exact.
 */

import { FRAME_SHIFT, FRAME_SIZE, type FramePool, type HostFrame } from './frame-pool.js';
import {
  NestedPageTable,
  NPT_ACCESSED,
  NPT_CODE,
  NPT_DIRTY,
  NPT_FULL_FRAME_COUNT,
  NPT_MMIO,
  NPT_PRESENT,
  NPT_SHARED,
  NPT_WRITABLE,
} from './npt.js';
import { DirtyBitmap } from './dirty-bitmap.js';

/** A device's memory-mapped registers. `address` is the absolute guest-physical address. */
export interface MmioHandler {
  mmioRead(address: number, size: 1 | 2 | 4): number;
  mmioWrite(address: number, size: 1 | 2 | 4, value: number): void;
}

/** Told when cached translations (the CPU's soft TLB, decoded blocks) go stale. */
export interface MemoryObserver {
  /** Mappings changed (remap, COW break, unmap, reset): drop every cached translation. */
  mappingsChanged(): void;
  /** Write permission was revoked (dirty harvest, a frame newly marked as code): drop cached writable translations. */
  writesRevoked(): void;
  /** A write (by anyone: CPU slow path, DMA, loader) is about to land in a frame marked NPT_CODE; the flag is cleared right after. */
  codeFrameWritten(guestFrame: number): void;
  /**
   * Optional, for bookkeepers of shared frames (page-sharing.ts): `guestFrame` no longer maps
   * host frame `hostFrame`. `byWrite` is true for a copy-on-write break (the frame was copied,
   * or taken over as the last reference) and false when the entry was replaced (unmap, reset,
   * ROM load, alias, shareFrom, mapSharedFrame, dispose). Called after the entry changed.
   */
  mappingReleased?(guestFrame: number, hostFrame: number, byWrite: boolean): void;
}

/** Returned by translateRead/translateWrite when there is no host byte to use. */
export const NO_HOST_ADDRESS = -1;

/** Largest RAM size: everything below the top 64 KiB of the 4 GiB space (kept for the BIOS mirror). */
export const MAX_RAM_BYTES = 0x1_0000_0000 - 0x10000;

const ADDRESS_SPACE_BYTES = 0x1_0000_0000;
const PAGE_OFFSET_MASK = FRAME_SIZE - 1;
const FLAGS_MASK = 0xfff;
/** Flags an alias copies from its source: what the mapping is, not what happened to it. */
const MAPPING_KIND_FLAGS = NPT_PRESENT | NPT_WRITABLE | NPT_SHARED;

/** Thrown for an invalid guest-physical range or configuration; the message names the field and value. */
export class GuestMemoryRangeError extends Error {
  constructor(field: string, problem: string) {
    super(`guest memory: ${field}: ${problem}`);
    this.name = 'GuestMemoryRangeError';
  }
}

/** Thrown when a new mapping overlaps an existing one; the message names both. */
export class MemoryOverlapError extends Error {
  constructor(newMapping: string, existing: string) {
    super(`guest memory: ${newMapping} overlaps ${existing}`);
    this.name = 'MemoryOverlapError';
  }
}

/** One registered MMIO range. */
interface MmioRegion {
  readonly start: number;
  readonly end: number;
  readonly handler: MmioHandler;
  readonly name: string;
}

function hex(value: number): string {
  return `0x${value.toString(16)}`;
}

/** True when every byte of `bytes` is zero (4 bytes at a time where aligned). */
export function isAllZero(bytes: Uint8Array): boolean {
  const aligned = bytes.byteOffset % 4 === 0 && bytes.length % 4 === 0;
  if (aligned) {
    const words = new Uint32Array(bytes.buffer, bytes.byteOffset, bytes.length / 4);
    for (let i = 0; i < words.length; i++) if (words[i] !== 0) return false;
    return true;
  }
  for (let i = 0; i < bytes.length; i++) if (bytes[i] !== 0) return false;
  return true;
}

function describeRange(kind: string, start: number, end: number): string {
  return `${kind} [${hex(start)}, ${hex(end)})`;
}

/** One VM's guest-physical memory. */
export class GuestMemory {
  /** The host frame pool backing this memory. */
  readonly pool: FramePool;
  /** This VM's nested page table (covers the whole 4 GiB guest-physical space). */
  readonly npt: NestedPageTable;
  /** One dirty bit per guest frame, in pool memory. */
  readonly dirty: DirtyBitmap;
  /** Size of RAM, guest-physical [0, ramBytes). */
  readonly ramBytes: number;

  private readonly entries: Int32Array;
  private readonly zeroFrame: HostFrame;
  private readonly observers: MemoryObserver[] = [];
  /** MMIO regions by number; a removed region leaves null so numbers stay stable. */
  private readonly mmioRegions: (MmioRegion | null)[] = [];
  private dropped = 0;
  private disposed = false;

  /** RAM of `ramBytes` (a positive multiple of 4 KiB, at most MAX_RAM_BYTES), all mapped to the zero frame. */
  constructor(pool: FramePool, ramBytes: number) {
    if (!Number.isInteger(ramBytes) || ramBytes <= 0 || ramBytes > MAX_RAM_BYTES || ramBytes % FRAME_SIZE !== 0) {
      throw new GuestMemoryRangeError(
        'ramBytes',
        `must be a positive multiple of ${FRAME_SIZE} up to ${hex(MAX_RAM_BYTES)}, got ${ramBytes}`,
      );
    }
    this.pool = pool;
    this.ramBytes = ramBytes;
    this.npt = new NestedPageTable(NPT_FULL_FRAME_COUNT);
    this.entries = this.npt.entries;
    this.zeroFrame = pool.zeroFrame;
    this.dirty = new DirtyBitmap(pool, NPT_FULL_FRAME_COUNT);
    const ramFrames = ramBytes / FRAME_SIZE;
    pool.retain(this.zeroFrame, ramFrames);
    this.entries.fill((this.zeroFrame << FRAME_SHIFT) | NPT_PRESENT | NPT_SHARED, 0, ramFrames);
  }

  /** Writes dropped because they hit ROM or unbacked memory (one per access, or per page of a bulk write). */
  get droppedWrites(): number {
    return this.dropped;
  }

  /** Registers an observer of translation changes. */
  addObserver(observer: MemoryObserver): void {
    if (!this.observers.includes(observer)) this.observers.push(observer);
  }

  /** Unregisters an observer. */
  removeObserver(observer: MemoryObserver): void {
    const index = this.observers.indexOf(observer);
    if (index >= 0) this.observers.splice(index, 1);
  }

  // ---- Hot translation --------------------------------------------------------------------

  /** Host byte address in pool memory for reading guest-physical `address`, or NO_HOST_ADDRESS when the frame is MMIO or unbacked. Sets ACCESSED. */
  translateRead(address: number): number {
    const guestFrame = address >>> FRAME_SHIFT;
    const entry = this.entries[guestFrame];
    if ((entry & (NPT_PRESENT | NPT_MMIO)) !== NPT_PRESENT) return NO_HOST_ADDRESS;
    if ((entry & NPT_ACCESSED) === 0) this.entries[guestFrame] = entry | NPT_ACCESSED;
    return (entry & ~FLAGS_MASK) | (address & PAGE_OFFSET_MASK);
  }

  /**
   * Host byte address for writing guest-physical `address`: breaks COW (allocate + copy,
   * release old, notify mappingsChanged), reports codeFrameWritten and clears NPT_CODE, sets
   * ACCESSED|DIRTY and marks the dirty bitmap. NO_HOST_ADDRESS for MMIO, unbacked or ROM frames.
   */
  translateWrite(address: number): number {
    const guestFrame = address >>> FRAME_SHIFT;
    let entry = this.entries[guestFrame];
    if ((entry & (NPT_PRESENT | NPT_MMIO)) !== NPT_PRESENT) return NO_HOST_ADDRESS;
    if ((entry & NPT_WRITABLE) === 0) {
      if ((entry & NPT_SHARED) === 0) return NO_HOST_ADDRESS;
      entry = this.breakCopyOnWrite(guestFrame, entry);
    }
    if ((entry & NPT_CODE) !== 0) entry = this.reportCodeWrite(guestFrame);
    this.entries[guestFrame] = entry | NPT_ACCESSED | NPT_DIRTY;
    this.dirty.mark(guestFrame);
    return (entry & ~FLAGS_MASK) | (address & PAGE_OFFSET_MASK);
  }

  /** Gives `guestFrame` a private writable frame; returns the new entry. Takes over the frame without copying when this mapping is its only reference. */
  private breakCopyOnWrite(guestFrame: number, entry: number): number {
    const oldFrame = (entry >>> FRAME_SHIFT) as HostFrame;
    const keptFlags = (entry & FLAGS_MASK & ~NPT_SHARED) | NPT_WRITABLE;
    if (oldFrame !== this.zeroFrame && this.pool.refCount(oldFrame) === 1) {
      const owned = (entry & ~FLAGS_MASK) | keptFlags;
      this.entries[guestFrame] = owned;
      this.notifyMappingReleased(guestFrame, oldFrame, true);
      return owned;
    }
    const newFrame = this.pool.allocate();
    if (oldFrame !== this.zeroFrame) {
      const source = oldFrame << FRAME_SHIFT;
      this.pool.bytes.copyWithin(newFrame << FRAME_SHIFT, source, source + FRAME_SIZE);
    }
    this.pool.release(oldFrame);
    const copied = (newFrame << FRAME_SHIFT) | keptFlags;
    this.entries[guestFrame] = copied;
    this.notifyMappingReleased(guestFrame, oldFrame, true);
    this.notifyMappingsChanged();
    return this.entries[guestFrame];
  }

  /** Tells observers a write is about to land in code frame `guestFrame`, then clears NPT_CODE; returns the entry. */
  private reportCodeWrite(guestFrame: number): number {
    const observers = this.observers;
    for (let i = 0; i < observers.length; i++) observers[i].codeFrameWritten(guestFrame);
    const entry = this.entries[guestFrame] & ~NPT_CODE;
    this.entries[guestFrame] = entry;
    return entry;
  }

  // ---- Scalar accesses ----------------------------------------------------------------------

  /** Reads one byte; MMIO → handler, unbacked → 0xFF. */
  read8(address: number): number {
    const host = this.translateRead(address);
    if (host !== NO_HOST_ADDRESS) return this.pool.bytes[host];
    return this.readUnmapped(address >>> 0, 1);
  }

  /** Reads a little-endian 16-bit value at any alignment; unbacked → 0xFFFF. */
  read16(address: number): number {
    if ((address & PAGE_OFFSET_MASK) > FRAME_SIZE - 2) return this.readSplit(address, 2);
    const host = this.translateRead(address);
    if (host !== NO_HOST_ADDRESS) return this.pool.view.getUint16(host, true);
    return this.readUnmapped(address >>> 0, 2);
  }

  /** Reads a little-endian 32-bit value (unsigned) at any alignment; unbacked → 0xFFFFFFFF. */
  read32(address: number): number {
    if ((address & PAGE_OFFSET_MASK) > FRAME_SIZE - 4) return this.readSplit(address, 4);
    const host = this.translateRead(address);
    if (host !== NO_HOST_ADDRESS) return this.pool.view.getUint32(host, true);
    return this.readUnmapped(address >>> 0, 4);
  }

  /** Writes one byte; MMIO → handler, ROM/unbacked → dropped and counted. */
  write8(address: number, value: number): void {
    const host = this.translateWrite(address);
    if (host !== NO_HOST_ADDRESS) {
      this.pool.bytes[host] = value;
      return;
    }
    if (!this.writeUnmapped(address >>> 0, 1, value & 0xff)) this.dropped++;
  }

  /** Writes a little-endian 16-bit value at any alignment. */
  write16(address: number, value: number): void {
    if ((address & PAGE_OFFSET_MASK) > FRAME_SIZE - 2) {
      this.writeSplit(address, 2, value);
      return;
    }
    const host = this.translateWrite(address);
    if (host !== NO_HOST_ADDRESS) {
      this.pool.view.setUint16(host, value, true);
      return;
    }
    if (!this.writeUnmapped(address >>> 0, 2, value & 0xffff)) this.dropped++;
  }

  /** Writes a little-endian 32-bit value at any alignment. */
  write32(address: number, value: number): void {
    if ((address & PAGE_OFFSET_MASK) > FRAME_SIZE - 4) {
      this.writeSplit(address, 4, value);
      return;
    }
    const host = this.translateWrite(address);
    if (host !== NO_HOST_ADDRESS) {
      this.pool.view.setUint32(host, value >>> 0, true);
      return;
    }
    if (!this.writeUnmapped(address >>> 0, 4, value >>> 0)) this.dropped++;
  }

  /** A page-crossing read, assembled byte by byte (little-endian, wrapping at 4 GiB). */
  private readSplit(address: number, size: number): number {
    let value = 0;
    for (let i = 0; i < size; i++) value |= this.read8((address + i) >>> 0) << (8 * i);
    return value >>> 0;
  }

  /** A page-crossing write, byte by byte; counts one drop if any byte was dropped. */
  private writeSplit(address: number, size: number, value: number): void {
    let anyDropped = false;
    for (let i = 0; i < size; i++) {
      const byteAddress = (address + i) >>> 0;
      const byte = (value >>> (8 * i)) & 0xff;
      const host = this.translateWrite(byteAddress);
      if (host !== NO_HOST_ADDRESS) this.pool.bytes[host] = byte;
      else if (!this.writeUnmapped(byteAddress, 1, byte)) anyDropped = true;
    }
    if (anyDropped) this.dropped++;
  }

  /** Read of a frame with no host byte: MMIO handler or all ones. */
  private readUnmapped(address: number, size: 1 | 2 | 4): number {
    const region = this.mmioRegionAt(address);
    if (region === null) return size === 4 ? 0xffffffff : (1 << (8 * size)) - 1;
    const value = region.handler.mmioRead(address, size);
    return size === 4 ? value >>> 0 : value & ((1 << (8 * size)) - 1);
  }

  /** Write to a frame with no writable host byte: MMIO handler (true) or dropped (false). */
  private writeUnmapped(address: number, size: 1 | 2 | 4, value: number): boolean {
    const region = this.mmioRegionAt(address);
    if (region === null) return false;
    region.handler.mmioWrite(address, size, value);
    return true;
  }

  /** The MMIO region containing `address`, or null. */
  private mmioRegionAt(address: number): MmioRegion | null {
    const entry = this.entries[address >>> FRAME_SHIFT];
    if ((entry & NPT_MMIO) === 0) return null;
    const hinted = this.mmioRegions[(entry >>> FRAME_SHIFT) - 1];
    if (hinted && address >= hinted.start && address < hinted.end) return hinted;
    for (const region of this.mmioRegions) {
      if (region && address >= region.start && address < region.end) return region;
    }
    return null;
  }

  // ---- Bulk accesses ------------------------------------------------------------------------

  /** Copies guest-physical [address, address + dst.length) into `dst` (MMIO read byte-wise, unbacked as 0xFF). */
  readBytes(address: number, dst: Uint8Array): void {
    this.checkBulkRange('readBytes', address, dst.length);
    for (let done = 0; done < dst.length; ) {
      const at = address + done;
      const chunk = Math.min(FRAME_SIZE - (at & PAGE_OFFSET_MASK), dst.length - done);
      const host = this.translateRead(at);
      if (host !== NO_HOST_ADDRESS) {
        dst.set(this.pool.bytes.subarray(host, host + chunk), done);
      } else {
        for (let i = 0; i < chunk; i++) dst[done + i] = this.readUnmapped(at + i, 1);
      }
      done += chunk;
    }
  }

  /** Copies `src` into guest-physical memory at `address` with per-frame COW/dirty/code semantics; ROM/unbacked pages are dropped (counted once per page). */
  writeBytes(address: number, src: Uint8Array): void {
    this.checkBulkRange('writeBytes', address, src.length);
    for (let done = 0; done < src.length; ) {
      const at = address + done;
      const chunk = Math.min(FRAME_SIZE - (at & PAGE_OFFSET_MASK), src.length - done);
      const host = this.translateWrite(at);
      if (host !== NO_HOST_ADDRESS) {
        this.pool.bytes.set(src.subarray(done, done + chunk), host);
      } else {
        let anyDropped = false;
        for (let i = 0; i < chunk; i++) if (!this.writeUnmapped(at + i, 1, src[done + i])) anyDropped = true;
        if (anyDropped) this.dropped++;
      }
      done += chunk;
    }
  }

  private checkBulkRange(operation: string, address: number, length: number): void {
    if (!Number.isInteger(address) || address < 0 || address + length > ADDRESS_SPACE_BYTES) {
      throw new GuestMemoryRangeError(`${operation} address`, `[${hex(address)}, +${hex(length)}) is outside the 4 GiB space`);
    }
  }

  // ---- Mapping changes ----------------------------------------------------------------------

  /** Maps fresh read-only frames holding `data` at `address` (both 4 KiB multiples), replacing what was there. Marks them dirty. */
  loadRom(address: number, data: Uint8Array): void {
    this.checkPageRange('loadRom', address, data.length);
    this.checkNoMmio(describeRange('ROM', address, address + data.length), address, data.length);
    const firstFrame = address / FRAME_SIZE;
    for (let i = 0; i * FRAME_SIZE < data.length; i++) {
      const hostFrame = this.pool.allocate();
      this.pool.bytes.set(data.subarray(i * FRAME_SIZE, (i + 1) * FRAME_SIZE), hostFrame << FRAME_SHIFT);
      this.replaceEntry(firstFrame + i, (hostFrame << FRAME_SHIFT) | NPT_PRESENT | NPT_DIRTY);
      this.dirty.mark(firstFrame + i);
    }
    this.notifyMappingsChanged();
  }

  /**
   * Maps the host frames behind [sourceAddress, +length) also at [targetAddress, +length),
   * retaining each, with the same kind flags (present/writable/shared). Writable frames become
   * true aliases; copy-on-write frames stay copy-on-write at both places. Unbacked source frames
   * leave the target unbacked. MMIO on either side is an error.
   */
  alias(targetAddress: number, sourceAddress: number, length: number): void {
    this.checkPageRange('alias target', targetAddress, length);
    this.checkPageRange('alias source', sourceAddress, length);
    if (targetAddress < sourceAddress + length && sourceAddress < targetAddress + length) {
      throw new MemoryOverlapError(
        describeRange('alias target', targetAddress, targetAddress + length),
        describeRange('its source', sourceAddress, sourceAddress + length),
      );
    }
    const targetDescription = describeRange('alias target', targetAddress, targetAddress + length);
    this.checkNoMmio(targetDescription, targetAddress, length);
    this.checkNoMmio(describeRange('alias source', sourceAddress, sourceAddress + length), sourceAddress, length);
    const sourceFrame = sourceAddress / FRAME_SIZE;
    const targetFrame = targetAddress / FRAME_SIZE;
    for (let i = 0; i < length / FRAME_SIZE; i++) {
      const entry = this.entries[sourceFrame + i];
      if ((entry & NPT_PRESENT) === 0) {
        this.replaceEntry(targetFrame + i, 0);
        continue;
      }
      this.pool.retain((entry >>> FRAME_SHIFT) as HostFrame);
      this.replaceEntry(targetFrame + i, (entry & ~FLAGS_MASK) | (entry & MAPPING_KIND_FLAGS));
    }
    this.notifyMappingsChanged();
  }

  /** Routes [address, address + length) to `handler`. Overlap with another MMIO range or with mapped memory is an error naming both. */
  mapMmio(address: number, length: number, handler: MmioHandler, name: string): void {
    this.checkByteRange('mapMmio', address, length);
    const end = address + length;
    const description = `MMIO range "${name}" [${hex(address)}, ${hex(end)})`;
    for (const region of this.mmioRegions) {
      if (region && address < region.end && region.start < end) {
        throw new MemoryOverlapError(description, `MMIO range "${region.name}" [${hex(region.start)}, ${hex(region.end)})`);
      }
    }
    const firstFrame = address >>> FRAME_SHIFT;
    const lastFrame = (end - 1) >>> FRAME_SHIFT;
    for (let frame = firstFrame; frame <= lastFrame; frame++) {
      const entry = this.entries[frame];
      if ((entry & NPT_PRESENT) !== 0 && (entry & NPT_MMIO) === 0) {
        throw new MemoryOverlapError(description, this.describeMappedFrame(frame));
      }
    }
    this.mmioRegions.push({ start: address, end, handler, name });
    this.rebuildMmioEntries(firstFrame, lastFrame);
    this.notifyMappingsChanged();
  }

  /** Removes the MMIO range named `name` (e.g. a PCI BAR being moved); its frames become unbacked. */
  unmapMmio(name: string): void {
    const index = this.mmioRegions.findIndex((region) => region?.name === name);
    const region = this.mmioRegions[index];
    if (index < 0 || !region) throw new GuestMemoryRangeError('unmapMmio name', `no MMIO range named "${name}"`);
    this.mmioRegions[index] = null;
    this.rebuildMmioEntries(region.start >>> FRAME_SHIFT, (region.end - 1) >>> FRAME_SHIFT);
    this.notifyMappingsChanged();
  }

  /** Makes the memory frames of [address, address + length) unbacked, releasing them (e.g. to open the VGA hole for mapMmio). MMIO frames are an error. */
  unmap(address: number, length: number): void {
    this.checkPageRange('unmap', address, length);
    this.checkNoMmio(describeRange('unmap', address, address + length), address, length);
    const firstFrame = address / FRAME_SIZE;
    for (let i = 0; i < length / FRAME_SIZE; i++) this.replaceEntry(firstFrame + i, 0);
    this.notifyMappingsChanged();
  }

  /** Sets NPT_CODE on `guestFrame` and notifies writesRevoked. No effect on unbacked or MMIO frames, or when already marked. */
  markCode(guestFrame: number): void {
    this.checkGuestFrame('markCode guestFrame', guestFrame);
    const entry = this.entries[guestFrame];
    if ((entry & (NPT_PRESENT | NPT_MMIO)) !== NPT_PRESENT || (entry & NPT_CODE) !== 0) return;
    this.entries[guestFrame] = entry | NPT_CODE;
    this.notifyWritesRevoked();
  }

  /** Returns the dirty frames (ascending) and clears them and their NPT_DIRTY flags, then notifies writesRevoked. */
  harvestDirty(): Uint32Array {
    const frames = this.dirty.harvest();
    for (let i = 0; i < frames.length; i++) this.entries[frames[i]] &= ~NPT_DIRTY;
    this.notifyWritesRevoked();
    return frames;
  }

  /**
   * Maps `source`'s host frame at `sourceFrame` here at `guestFrame` too, copy-on-write on both
   * sides (the source entry loses WRITABLE, so its observers hear writesRevoked), retaining the
   * frame. Both memories must use the same pool.
   */
  shareFrom(guestFrame: number, source: GuestMemory, sourceFrame: number): void {
    if (source.pool !== this.pool) throw new GuestMemoryRangeError('shareFrom source', 'uses a different frame pool');
    this.checkGuestFrame('shareFrom guestFrame', guestFrame);
    source.checkGuestFrame('shareFrom sourceFrame', sourceFrame);
    const sourceEntry = source.entries[sourceFrame];
    if ((sourceEntry & (NPT_PRESENT | NPT_MMIO)) !== NPT_PRESENT) {
      throw new GuestMemoryRangeError('shareFrom sourceFrame', `frame ${hex(sourceFrame)} of the source is not backed by memory`);
    }
    if ((this.entries[guestFrame] & NPT_MMIO) !== 0) {
      throw new MemoryOverlapError(`shared frame at ${hex(guestFrame << FRAME_SHIFT)}`, this.describeMappedFrame(guestFrame));
    }
    const hostFrame = (sourceEntry >>> FRAME_SHIFT) as HostFrame;
    this.pool.retain(hostFrame);
    if (source !== this || sourceFrame !== guestFrame) source.makeCopyOnWrite(sourceFrame);
    this.replaceEntry(guestFrame, (hostFrame << FRAME_SHIFT) | NPT_PRESENT | NPT_SHARED);
    this.notifyMappingsChanged();
  }

  /** Turns a writable entry copy-on-write (ROM stays ROM) and tells observers writes were revoked. */
  private makeCopyOnWrite(guestFrame: number): void {
    const entry = this.entries[guestFrame];
    if ((entry & NPT_WRITABLE) === 0) return;
    this.entries[guestFrame] = (entry & ~NPT_WRITABLE) | NPT_SHARED;
    this.notifyWritesRevoked();
  }

  /**
   * Content-preserving remap for page sharing (page-sharing.ts): maps the existing host frame
   * `hostFrame` at `guestFrame` copy-on-write (NPT_PRESENT | NPT_SHARED), retaining it, and
   * releases the frame mapped there before. `guestFrame` must be a RAM-like frame (writable or
   * already copy-on-write; not ROM, MMIO or unbacked) and `hostFrame` an allocated frame (the
   * pool's zero frame included); mapping a frame onto itself just makes the entry copy-on-write
   * (and reports no mappingReleased).
   *
   * The caller guarantees two things this method cannot check cheaply: the bytes of
   * `hostFrame` equal the bytes now mapped at `guestFrame` (so the guest sees no change), and
   * no mapping of `hostFrame` anywhere is writable (so nobody can change it under the guest:
   * every later write goes through the COW break). Because the content is unchanged, the
   * entry keeps its ACCESSED, DIRTY and CODE flags (decoded blocks stay valid and a later write
   * is still reported) and the dirty bitmap is not touched. Observers hear mappingReleased for
   * the old frame and then mappingsChanged (the soft TLB may hold the old host address).
   */
  mapSharedFrame(guestFrame: number, hostFrame: HostFrame): void {
    this.checkGuestFrame('mapSharedFrame guestFrame', guestFrame);
    const oldEntry = this.entries[guestFrame];
    if ((oldEntry & (NPT_PRESENT | NPT_MMIO)) !== NPT_PRESENT || (oldEntry & (NPT_WRITABLE | NPT_SHARED)) === 0) {
      const kind = (oldEntry & NPT_PRESENT) === 0 ? 'unbacked' : (oldEntry & NPT_MMIO) !== 0 ? 'MMIO' : 'ROM';
      throw new GuestMemoryRangeError('mapSharedFrame guestFrame', `frame ${hex(guestFrame)} is ${kind}, not writable or copy-on-write memory`);
    }
    if (this.pool.refCount(hostFrame) === 0) {
      throw new GuestMemoryRangeError('mapSharedFrame hostFrame', `host frame ${hostFrame} is not allocated`);
    }
    this.pool.retain(hostFrame);
    const keptFlags = oldEntry & (NPT_ACCESSED | NPT_DIRTY | NPT_CODE);
    this.entries[guestFrame] = (hostFrame << FRAME_SHIFT) | NPT_PRESENT | NPT_SHARED | keptFlags;
    const oldFrame = (oldEntry >>> FRAME_SHIFT) as HostFrame;
    this.pool.release(oldFrame);
    if (oldFrame !== hostFrame) this.notifyMappingReleased(guestFrame, oldFrame, false);
    this.notifyMappingsChanged();
  }

  /** Maps each RAM frame in `frames` back to the zero frame (releasing the old one), marks it dirty, and notifies mappingsChanged. */
  resetFrames(frames: ArrayLike<number>): void {
    const ramFrames = this.ramBytes / FRAME_SIZE;
    for (let i = 0; i < frames.length; i++) {
      const frame = frames[i];
      if (!Number.isInteger(frame) || frame < 0 || frame >= ramFrames) {
        throw new GuestMemoryRangeError(`resetFrames frames[${i}]`, `${frame} is not a RAM frame (0..${ramFrames - 1})`);
      }
    }
    const zeroEntry = (this.zeroFrame << FRAME_SHIFT) | NPT_PRESENT | NPT_SHARED;
    for (let i = 0; i < frames.length; i++) {
      const frame = frames[i];
      if (this.mapsZeroFrame(frame)) continue;
      this.pool.retain(this.zeroFrame);
      this.replaceEntry(frame, zeroEntry | NPT_DIRTY);
      this.dirty.mark(frame);
    }
    this.notifyMappingsChanged();
  }

  // ---- Frame transfer (snapshots, migration) -----------------------------------------------

  /** Number of RAM frames: guest-physical [0, ramBytes) is frames [0, ramFrameCount). */
  get ramFrameCount(): number {
    return this.ramBytes / FRAME_SIZE;
  }

  /**
   * Whether `guestFrame` is RAM whose content travels with the machine (snapshot, migration):
   * a frame below `ramBytes` that is private or copy-on-write memory. ROM (loaded from the
   * same image on both sides), MMIO ranges and holes are not transferred.
   */
  isTransferableFrame(guestFrame: number): boolean {
    if (!Number.isInteger(guestFrame) || guestFrame < 0 || guestFrame >= this.ramFrameCount) return false;
    const entry = this.entries[guestFrame];
    return (entry & (NPT_PRESENT | NPT_MMIO)) === NPT_PRESENT && (entry & (NPT_WRITABLE | NPT_SHARED)) !== 0;
  }

  /** The transferable frames (see isTransferableFrame), ascending. Same config ⇒ same list. */
  transferableFrames(): Uint32Array {
    const count = this.ramFrameCount;
    let n = 0;
    for (let frame = 0; frame < count; frame++) if (this.isTransferableFrame(frame)) n++;
    const frames = new Uint32Array(n);
    n = 0;
    for (let frame = 0; frame < count; frame++) if (this.isTransferableFrame(frame)) frames[n++] = frame;
    return frames;
  }

  /**
   * Copies the FRAME_SIZE bytes of transferable frame `guestFrame` into `dst` at `dstOffset`.
   * A side-effect-free read: no ACCESSED flag, no dirty mark, no copy-on-write break.
   */
  readFrame(guestFrame: number, dst: Uint8Array, dstOffset = 0): void {
    this.checkTransferable('readFrame guestFrame', guestFrame);
    this.checkFrameBuffer('readFrame dst', dst, dstOffset);
    const host = (this.entries[guestFrame] >>> FRAME_SHIFT) << FRAME_SHIFT;
    dst.set(this.pool.bytes.subarray(host, host + FRAME_SIZE), dstOffset);
  }

  /**
   * Replaces the content of transferable frame `guestFrame` with the FRAME_SIZE bytes of `src`
   * at `srcOffset` (the receiving side of a snapshot restore or a migration). An all-zero
   * frame maps the pool's zero frame again; other content goes into a private frame (written
   * in place when the frame already is one, else a new frame replaces the copy-on-write
   * mapping). Decoded code on the frame is invalidated (codeFrameWritten) and cached
   * translations are dropped when the mapping changes. The frame is NOT marked dirty: the
   * content arrives from outside the guest, and dirty tracking starts afresh after a restore.
   */
  writeFrame(guestFrame: number, src: Uint8Array, srcOffset = 0): void {
    this.checkTransferable('writeFrame guestFrame', guestFrame);
    this.checkFrameBuffer('writeFrame src', src, srcOffset);
    const data = src.subarray(srcOffset, srcOffset + FRAME_SIZE);
    const entry = this.entries[guestFrame];
    if (isAllZero(data)) {
      if (this.mapsZeroFrame(guestFrame)) return;
      this.pool.retain(this.zeroFrame);
      this.replaceEntry(guestFrame, (this.zeroFrame << FRAME_SHIFT) | NPT_PRESENT | NPT_SHARED);
      this.notifyMappingsChanged();
      return;
    }
    if ((entry & NPT_WRITABLE) !== 0) {
      if ((entry & NPT_CODE) !== 0) this.reportCodeWrite(guestFrame);
      this.pool.bytes.set(data, (entry >>> FRAME_SHIFT) << FRAME_SHIFT);
      return;
    }
    const hostFrame = this.pool.allocate();
    this.pool.bytes.set(data, hostFrame << FRAME_SHIFT);
    this.replaceEntry(guestFrame, (hostFrame << FRAME_SHIFT) | NPT_PRESENT | NPT_WRITABLE);
    this.notifyMappingsChanged();
  }

  private checkTransferable(field: string, guestFrame: number): void {
    if (!this.isTransferableFrame(guestFrame)) {
      throw new GuestMemoryRangeError(field, `${guestFrame} is not a transferable RAM frame (RAM frames 0..${this.ramFrameCount - 1}, not ROM or MMIO)`);
    }
  }

  private checkFrameBuffer(field: string, buffer: Uint8Array, offset: number): void {
    if (!Number.isInteger(offset) || offset < 0 || offset + FRAME_SIZE > buffer.length) {
      throw new GuestMemoryRangeError(field, `needs ${FRAME_SIZE} bytes at offset ${offset}, buffer holds ${buffer.length}`);
    }
  }

  /** Whether `guestFrame` is a memory mapping of the zero frame (reads as zeros; resetting it changes nothing). */
  mapsZeroFrame(guestFrame: number): boolean {
    const entry = this.entries[guestFrame];
    return (entry & (NPT_PRESENT | NPT_MMIO)) === NPT_PRESENT && entry >>> FRAME_SHIFT === this.zeroFrame;
  }

  /** Releases every frame and the dirty bitmap. The memory is unusable afterwards. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    for (let frame = 0; frame < this.entries.length; frame++) {
      const entry = this.entries[frame];
      if ((entry & (NPT_PRESENT | NPT_MMIO)) !== NPT_PRESENT) continue;
      this.entries[frame] = 0;
      this.pool.release((entry >>> FRAME_SHIFT) as HostFrame);
      this.notifyMappingReleased(frame, entry >>> FRAME_SHIFT, false);
    }
    this.entries.fill(0);
    this.mmioRegions.length = 0;
    this.dirty.dispose();
    this.notifyMappingsChanged();
    this.observers.length = 0;
  }

  // ---- Helpers ------------------------------------------------------------------------------

  /** Replaces the entry of `guestFrame`: reports a code frame being overwritten, releases the old host frame. */
  private replaceEntry(guestFrame: number, newEntry: number): void {
    const oldEntry = this.entries[guestFrame];
    if ((oldEntry & NPT_CODE) !== 0) this.reportCodeWrite(guestFrame);
    this.entries[guestFrame] = newEntry;
    if ((oldEntry & (NPT_PRESENT | NPT_MMIO)) === NPT_PRESENT) {
      const oldFrame = (oldEntry >>> FRAME_SHIFT) as HostFrame;
      this.pool.release(oldFrame);
      this.notifyMappingReleased(guestFrame, oldFrame, false);
    }
  }

  /** Points every frame in [firstFrame, lastFrame] at the first MMIO region touching it, or unbacked. */
  private rebuildMmioEntries(firstFrame: number, lastFrame: number): void {
    for (let frame = firstFrame; frame <= lastFrame; frame++) {
      const frameStart = frame * FRAME_SIZE;
      const index = this.mmioRegions.findIndex((r) => r !== null && r.start < frameStart + FRAME_SIZE && frameStart < r.end);
      this.entries[frame] = index < 0 ? 0 : ((index + 1) << FRAME_SHIFT) | NPT_PRESENT | NPT_MMIO;
    }
  }

  private describeMappedFrame(frame: number): string {
    const start = frame * FRAME_SIZE;
    if (start < this.ramBytes) return describeRange('RAM', 0, this.ramBytes);
    const entry = this.entries[frame];
    if ((entry & NPT_MMIO) !== 0) return describeRange('MMIO page', start, start + FRAME_SIZE);
    const kind = (entry & (NPT_WRITABLE | NPT_SHARED)) === 0 ? 'ROM page' : 'mapped page';
    return describeRange(kind, start, start + FRAME_SIZE);
  }

  private checkNoMmio(description: string, address: number, length: number): void {
    const firstFrame = address / FRAME_SIZE;
    for (let i = 0; i < length / FRAME_SIZE; i++) {
      if ((this.entries[firstFrame + i] & NPT_MMIO) !== 0) {
        const region = this.mmioRegionsTouching(firstFrame + i);
        throw new MemoryOverlapError(description, region ?? this.describeMappedFrame(firstFrame + i));
      }
    }
  }

  private mmioRegionsTouching(frame: number): string | null {
    const frameStart = frame * FRAME_SIZE;
    const region = this.mmioRegions.find((r) => r !== null && r.start < frameStart + FRAME_SIZE && frameStart < r.end);
    return region ? `MMIO range "${region.name}" [${hex(region.start)}, ${hex(region.end)})` : null;
  }

  private checkByteRange(operation: string, address: number, length: number): void {
    if (!Number.isInteger(address) || address < 0 || address >= ADDRESS_SPACE_BYTES) {
      throw new GuestMemoryRangeError(`${operation} address`, `${address} is outside the 4 GiB space`);
    }
    if (!Number.isInteger(length) || length <= 0 || address + length > ADDRESS_SPACE_BYTES) {
      throw new GuestMemoryRangeError(`${operation} length`, `${length} at ${hex(address)} must be positive and end within 4 GiB`);
    }
  }

  private checkPageRange(operation: string, address: number, length: number): void {
    this.checkByteRange(operation, address, length);
    if (address % FRAME_SIZE !== 0) throw new GuestMemoryRangeError(`${operation} address`, `${hex(address)} is not a multiple of ${FRAME_SIZE}`);
    if (length % FRAME_SIZE !== 0) throw new GuestMemoryRangeError(`${operation} length`, `${hex(length)} is not a multiple of ${FRAME_SIZE}`);
  }

  private checkGuestFrame(field: string, guestFrame: number): void {
    if (!Number.isInteger(guestFrame) || guestFrame < 0 || guestFrame >= this.entries.length) {
      throw new GuestMemoryRangeError(field, `${guestFrame} out of range (0..${this.entries.length - 1})`);
    }
  }

  private notifyMappingsChanged(): void {
    const observers = this.observers;
    for (let i = 0; i < observers.length; i++) observers[i].mappingsChanged();
  }

  /** Tells the observers that implement `mappingReleased` that `guestFrame` stopped mapping `hostFrame`. */
  private notifyMappingReleased(guestFrame: number, hostFrame: number, byWrite: boolean): void {
    const observers = this.observers;
    for (let i = 0; i < observers.length; i++) observers[i].mappingReleased?.(guestFrame, hostFrame, byWrite);
  }

  private notifyWritesRevoked(): void {
    const observers = this.observers;
    for (let i = 0; i < observers.length; i++) observers[i].writesRevoked();
  }
}
