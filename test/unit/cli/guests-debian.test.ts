/**
 * Tests for `collectGuestModules` (guests-debian.ts): picking the initramfs's kernel
 * modules out of an unpacked lib/modules/<release> tree — here a fake tree in a temp dir
 * with hand-built ELF modules — in load order with their archive paths and bytes, built-in
 * modules (modules.builtin) left out, and failures that name the module or file. Also
 * that the initramfs recipe in the manifest changes with the module list, so a cached
 * initramfs built for another list is rebuilt.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { initramfsRecipe } from '../../../src/cli/debian-guest.js';
import { collectGuestModules, FetchFailed } from '../../../src/cli/guests-debian.js';
import { elfObject, modinfo } from '../../helpers/elf-object.js';

const RELEASE = '6.1.0-50-686';

/** A fake module file at `path` (relative to the tree) with the given .modinfo entries. */
function writeModule(tree: string, path: string, ...entries: string[]): Uint8Array {
  const bytes = elfObject([['.text', new Uint8Array([0xc3])], ['.modinfo', modinfo(...entries)]]);
  mkdirSync(dirname(join(tree, path)), { recursive: true });
  writeFileSync(join(tree, path), bytes);
  return bytes;
}

/** Run `action`, expecting a FetchFailed; returns its message. */
function fetchFailedOf(action: () => unknown): string {
  try {
    action();
  } catch (error) {
    expect(error).toBeInstanceOf(FetchFailed);
    return (error as Error).message;
  }
  throw new Error('expected a FetchFailed, nothing was thrown');
}

describe('collectGuestModules', () => {
  let tree: string;

  beforeEach(() => {
    tree = mkdtempSync(join(tmpdir(), 'tshv-modules-'));
  });
  afterEach(() => rmSync(tree, { recursive: true, force: true }));

  it('returns the wanted modules and their dependencies in load order, with archive paths and bytes', () => {
    const core = writeModule(tree, 'kernel/drivers/virtio/virtio.ko', 'depends=', 'name=virtio');
    const ring = writeModule(tree, 'kernel/drivers/virtio/virtio_ring.ko', 'depends=', 'name=virtio_ring');
    const blk = writeModule(tree, 'kernel/drivers/block/virtio_blk.ko', 'depends=virtio,virtio_ring', 'name=virtio_blk');
    const crc = writeModule(tree, 'kernel/crypto/crc32c_generic.ko', 'name=crc32c_generic');
    writeModule(tree, 'kernel/fs/unrelated.ko', 'name=unrelated');
    writeFileSync(join(tree, 'modules.builtin'), 'kernel/mm/zswap.ko\n');
    const modules = collectGuestModules(tree, RELEASE, ['virtio_blk', 'crc32c-generic']);
    expect(modules.map((m) => [m.name, m.path])).toEqual([
      ['virtio', `/lib/modules/${RELEASE}/kernel/drivers/virtio/virtio.ko`],
      ['virtio_ring', `/lib/modules/${RELEASE}/kernel/drivers/virtio/virtio_ring.ko`],
      ['virtio_blk', `/lib/modules/${RELEASE}/kernel/drivers/block/virtio_blk.ko`],
      ['crc32c_generic', `/lib/modules/${RELEASE}/kernel/crypto/crc32c_generic.ko`],
    ]);
    expect(modules.map((m) => Buffer.from(m.data))).toEqual([core, ring, blk, crc].map((b) => Buffer.from(b)));
  });

  it('finds a module whose file name uses "-" by its canonical "_" name', () => {
    writeModule(tree, 'kernel/arch/x86/crypto/crc32c-intel.ko', 'name=crc32c_intel');
    expect(collectGuestModules(tree, RELEASE, ['crc32c_intel']).map((m) => m.path))
      .toEqual([`/lib/modules/${RELEASE}/kernel/arch/x86/crypto/crc32c-intel.ko`]);
  });

  it('leaves out modules that modules.builtin lists (compiled in), even if a file is there', () => {
    writeModule(tree, 'kernel/drivers/virtio/virtio.ko', 'name=virtio');
    writeModule(tree, 'kernel/drivers/block/virtio_blk.ko', 'depends=virtio', 'name=virtio_blk');
    writeFileSync(join(tree, 'modules.builtin'), 'kernel/drivers/virtio/virtio.ko\n');
    expect(collectGuestModules(tree, RELEASE, ['virtio', 'virtio_blk']).map((m) => m.name)).toEqual(['virtio_blk']);
  });

  it('fails naming the module when a dependency is missing', () => {
    writeModule(tree, 'kernel/drivers/block/virtio_blk.ko', 'depends=virtio', 'name=virtio_blk');
    expect(fetchFailedOf(() => collectGuestModules(tree, RELEASE, ['virtio_blk'])))
      .toBe(`kernel modules in ${tree}: module virtio (needed by virtio_blk) is neither built into the kernel nor in its module tree`);
  });

  it('fails naming the file when a module is not an ELF kernel module', () => {
    mkdirSync(join(tree, 'kernel'), { recursive: true });
    writeFileSync(join(tree, 'kernel', 'broken.ko'), 'not an elf file at all, just text padding padding padding padding');
    expect(fetchFailedOf(() => collectGuestModules(tree, RELEASE, ['broken'])))
      .toMatch(new RegExp(`${join(tree, 'kernel', 'broken.ko').replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}: not an ELF file`));
  });

  it('fails when the tree has no kernel/ folder', () => {
    expect(fetchFailedOf(() => collectGuestModules(tree, RELEASE, ['virtio']))).toBe(`the module tree ${tree} has no kernel/ folder`);
  });
});

describe('the initramfs recipe and the module list', () => {
  it('changes when the wanted module list changes', async () => {
    const current = initramfsRecipe();
    vi.resetModules();
    vi.doMock('../../../src/firmware/initramfs/kernel-modules.js', async (importOriginal) => ({
      ...(await importOriginal<typeof import('../../../src/firmware/initramfs/kernel-modules.js')>()),
      DEBIAN_GUEST_MODULES: ['virtio', 'virtio_ring', 'virtio_pci'],
    }));
    try {
      const reloaded = await import('../../../src/cli/debian-guest.js');
      expect(reloaded.initramfsRecipe()).toMatch(/^[0-9a-f]{64}$/);
      expect(reloaded.initramfsRecipe()).not.toBe(current);
    } finally {
      vi.doUnmock('../../../src/firmware/initramfs/kernel-modules.js');
      vi.resetModules();
    }
    const again = await import('../../../src/cli/debian-guest.js');
    expect(again.initramfsRecipe()).toBe(current);
  });
});
