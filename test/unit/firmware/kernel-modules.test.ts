/**
 * Tests for the kernel-module selection of our Debian initramfs (kernel-modules.ts):
 * reading .modinfo out of hand-built ELF32 and ELF64 objects, rejecting files that are not
 * modules (naming the file and offset), module names, modules.builtin, and the load order
 * (dependencies first, each once, built-ins left out, soft dependencies on aliases skipped,
 * missing modules and cycles reported with the chain that needed them).
 */
import { describe, expect, it } from 'vitest';
import {
  DEBIAN_GUEST_MODULES,
  KernelModuleError,
  moduleLoadOrder,
  moduleNameOf,
  parseModulesBuiltin,
  readModuleInfo,
  softdepPreNames,
  type ModuleCatalog,
  type ModuleInfo,
} from '../../../src/firmware/initramfs/kernel-modules.js';
import { elfObject, modinfo } from '../../helpers/elf-object.js';

const text = new TextEncoder();

/** Run `action`, expecting a KernelModuleError; returns its message. */
function moduleErrorOf(action: () => unknown): string {
  try {
    action();
  } catch (error) {
    expect(error).toBeInstanceOf(KernelModuleError);
    return (error as Error).message;
  }
  throw new Error('expected a KernelModuleError, nothing was thrown');
}

describe('readModuleInfo', () => {
  it('reads name, depends and softdep pre: from a 32-bit module', () => {
    const elf = elfObject([
      ['.text', new Uint8Array([0x90, 0xc3])],
      ['.modinfo', modinfo('license=GPL', 'softdep=pre: crypto-crc32c', 'depends=jbd2,mbcache,crc16', 'retpoline=Y', 'name=ext4', 'vermagic=6.1.0-50-686 SMP')],
    ]);
    expect(readModuleInfo(elf, 'ext4.ko')).toEqual({ name: 'ext4', depends: ['jbd2', 'mbcache', 'crc16'], softdepPre: ['crypto_crc32c'] });
  });

  it('reads a 64-bit module and an empty depends= list; canonicalises "-" to "_"', () => {
    const elf = elfObject([['.modinfo', modinfo('depends=', 'name=crc32c-intel')]], true);
    expect(readModuleInfo(elf, 'x.ko')).toEqual({ name: 'crc32c_intel', depends: [], softdepPre: [] });
  });

  it('finds .modinfo by exact name, not a section whose name only starts the same', () => {
    const elf = elfObject([
      ['.modinfo.extra', modinfo('name=wrong')],
      ['.modinfo', modinfo('name=right', 'depends=a-b')],
    ]);
    expect(readModuleInfo(elf, 'x.ko')).toEqual({ name: 'right', depends: ['a_b'], softdepPre: [] });
  });

  it('rejects a file that is not ELF, not little-endian, or of an unknown class, naming file and offset', () => {
    expect(moduleErrorOf(() => readModuleInfo(text.encode('#!/bin/sh\n'.repeat(10)), 'script.ko'))).toMatch(/script\.ko: not an ELF file .*offset 0/);
    const bigEndian = elfObject([['.modinfo', modinfo('name=a')]]);
    bigEndian[5] = 2;
    expect(moduleErrorOf(() => readModuleInfo(bigEndian, 'be.ko'))).toMatch(/be\.ko: ELF data encoding 2 at offset 5 is not little-endian/);
    const badClass = elfObject([['.modinfo', modinfo('name=a')]]);
    badClass[4] = 3;
    expect(moduleErrorOf(() => readModuleInfo(badClass, 'c.ko'))).toMatch(/c\.ko: ELF class 3 at offset 4/);
  });

  it('rejects a module without .modinfo or without name=', () => {
    expect(moduleErrorOf(() => readModuleInfo(elfObject([['.text', new Uint8Array(4)]]), 'plain.o'))).toMatch(/plain\.o: no \.modinfo section/);
    expect(moduleErrorOf(() => readModuleInfo(elfObject([['.modinfo', modinfo('depends=x')]]), 'anon.ko'))).toMatch(/anon\.ko: \.modinfo has no name= entry/);
  });

  it('rejects a section header table or section that lies past the end of the file', () => {
    const elf = elfObject([['.modinfo', modinfo('name=a')]]);
    expect(moduleErrorOf(() => readModuleInfo(elf.subarray(0, elf.length - 8), 'cut.ko'))).toMatch(/cut\.ko: .* lies past the end of the file/);
    const badSize = elf.slice();
    const view = new DataView(badSize.buffer);
    const shoff = view.getUint32(0x20, true);
    view.setUint32(shoff + 40 + 0x14, 1 << 20, true); // sh_size of section 1 (.modinfo)
    expect(moduleErrorOf(() => readModuleInfo(badSize, 'big.ko'))).toMatch(/big\.ko: contents of section 1 at offset \d+ lies past the end/);
  });
});

describe('module names, softdep values and modules.builtin', () => {
  it('moduleNameOf strips the folder and .ko and turns "-" into "_"', () => {
    expect(moduleNameOf('kernel/arch/x86/crypto/crc32c-intel.ko')).toBe('crc32c_intel');
    expect(moduleNameOf('virtio_pci')).toBe('virtio_pci');
  });

  it('softdepPreNames takes the names between pre: and post:', () => {
    expect(softdepPreNames('pre: crc32c post: foo bar')).toEqual(['crc32c']);
    expect(softdepPreNames('post: x pre: a-b c')).toEqual(['a_b', 'c']);
    expect(softdepPreNames('post: only')).toEqual([]);
  });

  it('parseModulesBuiltin lists the canonical names, ignoring blank lines', () => {
    const names = parseModulesBuiltin('kernel/mm/zswap.ko\n\nkernel/drivers/char/hw_random/rng-core.ko\n');
    expect([...names].sort()).toEqual(['rng_core', 'zswap']);
  });
});

/** A catalog over a fixed table of modules and a built-in list. */
function catalog(modules: Record<string, Partial<ModuleInfo>>, builtin: readonly string[] = []): ModuleCatalog & { read: string[] } {
  const read: string[] = [];
  return {
    read,
    isBuiltin: (name) => builtin.includes(name),
    info: (name) => {
      const entry = modules[name];
      if (entry === undefined) return undefined;
      read.push(name);
      return { name, depends: entry.depends ?? [], softdepPre: entry.softdepPre ?? [] };
    },
  };
}

/** The shape of Debian 6.1's module graph for the modules we want (from their .modinfo). */
const DEBIAN_LIKE: Record<string, Partial<ModuleInfo>> = {
  virtio: {}, virtio_ring: {}, virtio_pci_modern_dev: {}, virtio_pci_legacy_dev: {},
  virtio_pci: { depends: ['virtio_ring', 'virtio_pci_modern_dev', 'virtio_pci_legacy_dev', 'virtio'] },
  virtio_blk: { depends: ['virtio', 'virtio_ring'] },
  failover: {}, net_failover: { depends: ['failover'] },
  virtio_net: { depends: ['virtio_ring', 'virtio', 'net_failover'] },
  virtio_console: { depends: ['virtio', 'virtio_ring'] },
  crc16: {}, mbcache: {}, crc32c_generic: {},
  jbd2: { softdepPre: ['crypto_crc32c'] },
  ext4: { depends: ['jbd2', 'mbcache', 'crc16'], softdepPre: ['crypto_crc32c'] },
};

/** True when every module comes after all of its hard dependencies in `order`. */
function dependenciesFirst(order: readonly string[], modules: Record<string, Partial<ModuleInfo>>): boolean {
  return order.every((name, index) => (modules[name]?.depends ?? []).every((dep) => order.indexOf(dep) >= 0 && order.indexOf(dep) < index));
}

describe('moduleLoadOrder', () => {
  it('orders the Debian guest modules with dependencies first, each once', () => {
    const order = moduleLoadOrder(DEBIAN_GUEST_MODULES, catalog(DEBIAN_LIKE));
    expect(new Set(order).size).toBe(order.length);
    expect([...order].sort()).toEqual(Object.keys(DEBIAN_LIKE).sort());
    expect(dependenciesFirst(order, DEBIAN_LIKE)).toBe(true);
    expect(order.indexOf('crc32c_generic')).toBeLessThan(order.indexOf('ext4'));
  });

  it('adds dependencies that were not asked for, before the module that needs them', () => {
    const order = moduleLoadOrder(['virtio_net'], catalog(DEBIAN_LIKE));
    expect(order).toEqual(['virtio_ring', 'virtio', 'failover', 'net_failover', 'virtio_net']);
  });

  it('loads a soft pre-dependency that is a real module before the module', () => {
    const modules = { a: { softdepPre: ['b'] }, b: {} };
    expect(moduleLoadOrder(['a'], catalog(modules))).toEqual(['b', 'a']);
  });

  it('leaves out built-in modules, and does not read their .modinfo', () => {
    const cat = catalog(DEBIAN_LIKE, ['virtio', 'virtio_ring', 'virtio_pci_modern_dev', 'virtio_pci_legacy_dev', 'virtio_pci']);
    const order = moduleLoadOrder(['virtio_pci', 'virtio_blk'], cat);
    expect(order).toEqual(['virtio_blk']);
    expect(cat.read).toEqual(['virtio_blk']);
  });

  it('returns nothing to load when everything is built in', () => {
    expect(moduleLoadOrder(DEBIAN_GUEST_MODULES, catalog({}, DEBIAN_GUEST_MODULES))).toEqual([]);
  });

  it('reports a missing module with the chain that needed it', () => {
    expect(moduleErrorOf(() => moduleLoadOrder(['top'], catalog({ top: { depends: ['mid'] }, mid: { depends: ['gone'] } }))))
      .toBe('module gone (needed by top -> mid) is neither built into the kernel nor in its module tree');
    expect(moduleErrorOf(() => moduleLoadOrder(['nothere'], catalog({}))))
      .toBe('module nothere (wanted by the initramfs) is neither built into the kernel nor in its module tree');
  });

  it('reports a dependency cycle', () => {
    expect(moduleErrorOf(() => moduleLoadOrder(['a'], catalog({ a: { depends: ['b'] }, b: { depends: ['a'] } }))))
      .toBe('module dependency cycle: a -> b -> a');
  });
});
