// Nested page table: entry encoding, map/unmap, flags and range checks.
import { describe, expect, it } from 'vitest';
import {
  NestedPageTable,
  NptRangeError,
  NPT_ACCESSED,
  NPT_CODE,
  NPT_DIRTY,
  NPT_MMIO,
  NPT_PRESENT,
  NPT_SHARED,
  NPT_WRITABLE,
} from '../../../src/memory/index.js';

describe('NestedPageTable', () => {
  it('has the specified flag values', () => {
    expect([NPT_PRESENT, NPT_WRITABLE, NPT_ACCESSED, NPT_DIRTY, NPT_SHARED, NPT_MMIO, NPT_CODE]).toEqual([1, 2, 4, 8, 16, 32, 64]);
  });

  it('covers the whole 32-bit guest-physical space by default, all not present', () => {
    const npt = new NestedPageTable();
    expect(npt.entries.length).toBe(1 << 20);
    expect(npt.hostFrameOf(0xfffff)).toBe(-1);
    expect(npt.flagsOf(12345)).toBe(0);
  });

  it('encodes entries as (hostFrame << 12) | flags and decodes them back', () => {
    const npt = new NestedPageTable(64);
    npt.map(5, 524287, NPT_WRITABLE);
    expect(npt.entries[5]).toBe((524287 << 12) | NPT_WRITABLE | NPT_PRESENT);
    expect(npt.entries[5]).toBeGreaterThan(0);
    expect(npt.entries[5] >>> 12).toBe(524287);
    expect(npt.hostFrameOf(5)).toBe(524287);
    expect(npt.flagsOf(5)).toBe(NPT_PRESENT | NPT_WRITABLE);
  });

  it('unmaps', () => {
    const npt = new NestedPageTable(64);
    npt.map(7, 100, NPT_PRESENT);
    npt.unmap(7);
    expect(npt.entries[7]).toBe(0);
    expect(npt.hostFrameOf(7)).toBe(-1);
  });

  it('sets and clears flags without touching the frame or presence', () => {
    const npt = new NestedPageTable(64);
    npt.map(1, 42, NPT_PRESENT | NPT_SHARED);
    npt.setFlags(1, NPT_DIRTY | NPT_ACCESSED);
    expect(npt.flagsOf(1)).toBe(NPT_PRESENT | NPT_SHARED | NPT_DIRTY | NPT_ACCESSED);
    npt.clearFlags(1, NPT_SHARED | NPT_DIRTY | NPT_PRESENT);
    expect(npt.flagsOf(1)).toBe(NPT_PRESENT | NPT_ACCESSED);
    expect(npt.hostFrameOf(1)).toBe(42);
    npt.setFlags(2, NPT_DIRTY);
    expect(npt.entries[2]).toBe(0);
  });

  it('reports -1 for the frame of an MMIO entry', () => {
    const npt = new NestedPageTable(64);
    npt.map(3, 1, NPT_MMIO);
    expect(npt.hostFrameOf(3)).toBe(-1);
    expect(npt.flagsOf(3)).toBe(NPT_PRESENT | NPT_MMIO);
  });

  it('rejects out-of-range guest frames, host frames and flags, naming the field', () => {
    const npt = new NestedPageTable(64);
    expect(() => npt.map(64, 1, 0)).toThrow(NptRangeError);
    expect(() => npt.map(64, 1, 0)).toThrow(/guestFrame 64/);
    expect(() => npt.map(1, 524288, 0)).toThrow(/hostFrame 524288/);
    expect(() => npt.map(1, 2, 0x1000)).toThrow(/flags/);
    expect(() => npt.hostFrameOf(-1)).toThrow(/guestFrame -1/);
    expect(() => new NestedPageTable(0)).toThrow(/frameCount/);
  });
});
