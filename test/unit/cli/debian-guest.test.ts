/**
 * Tests for the Debian guest cache: where it is (HV_CACHE_DIR / XDG_CACHE_HOME / home),
 * the manifest validation (each bad field named), and `findDebianGuest` on a fake cache in
 * a temp dir — found when everything matches, skipped with a reason for each missing or
 * altered file, a stale initramfs recipe or a broken manifest. Also the pure parsers of
 * apt's output used by `npm run guests:debian`. No apt is run here.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  debianCacheDir,
  describeFile,
  findDebianGuest,
  initramfsRecipe,
  isDebianGuestFound,
  MANIFEST_NAME,
  ManifestError,
  parseManifest,
  sha256Hex,
  writeManifest,
  type DebianGuestLookup,
  type DebianGuestManifest,
} from '../../../src/cli/debian-guest.js';
import {
  candidateVersion,
  debFileName,
  kernelPackagesNewestFirst,
  kernelReleaseOf,
  listsI386,
  tail,
} from '../../../src/cli/guests-debian.js';

describe('debianCacheDir', () => {
  it('uses $HV_CACHE_DIR/debian first', () => {
    expect(debianCacheDir({ HV_CACHE_DIR: '/c', XDG_CACHE_HOME: '/x' }, '/home/u')).toBe('/c/debian');
  });
  it('else $XDG_CACHE_HOME/x86-hypervisor/debian', () => {
    expect(debianCacheDir({ XDG_CACHE_HOME: '/x' }, '/home/u')).toBe('/x/x86-hypervisor/debian');
  });
  it('else ~/.cache/x86-hypervisor/debian, treating empty variables as unset', () => {
    expect(debianCacheDir({}, '/home/u')).toBe('/home/u/.cache/x86-hypervisor/debian');
    expect(debianCacheDir({ HV_CACHE_DIR: '', XDG_CACHE_HOME: '' }, '/home/u')).toBe('/home/u/.cache/x86-hypervisor/debian');
  });
});

/** A fake but complete cache folder: files with known contents and a matching manifest. */
function makeCache(dir: string): DebianGuestManifest {
  const files: Record<string, string> = {
    'vmlinuz-6.1.0-50-686': 'kernel image bytes',
    'initramfs.cpio.gz': 'initrd bytes',
    'config-6.1.0-50-686': 'CONFIG_X86_32=y\n',
    'System.map-6.1.0-50-686': 'ffffffff B placeholder\n',
    busybox: 'busybox bytes',
  };
  for (const [name, contents] of Object.entries(files)) writeFileSync(join(dir, name), contents);
  const modulesDir = join('extract', 'linux-image', 'lib', 'modules', '6.1.0-50-686');
  mkdirSync(join(dir, modulesDir), { recursive: true });
  const manifest: DebianGuestManifest = {
    format: 1,
    kernelVersion: '6.1.0-50-686',
    packageVersions: { 'linux-image-6.1.0-50-686-unsigned': '6.1.176-1', 'busybox-static': '1:1.35.0-4+deb12u1+b1' },
    kernel: describeFile(dir, 'vmlinuz-6.1.0-50-686'),
    initrd: describeFile(dir, 'initramfs.cpio.gz'),
    config: describeFile(dir, 'config-6.1.0-50-686'),
    systemMap: describeFile(dir, 'System.map-6.1.0-50-686'),
    busybox: describeFile(dir, 'busybox'),
    modulesDir,
    initramfsRecipe: initramfsRecipe(),
  };
  writeManifest(dir, manifest);
  return manifest;
}

/** The skip reason of a lookup that must have been skipped. */
function reasonOf(lookup: DebianGuestLookup): string {
  if (isDebianGuestFound(lookup)) throw new Error(`expected a skip, found ${lookup.kernel}`);
  return lookup.skipped;
}

/** Replace fields of the manifest on disk with raw JSON values. */
function patchManifest(dir: string, patch: Record<string, unknown>): void {
  const path = join(dir, MANIFEST_NAME);
  const raw = JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;
  writeFileSync(path, JSON.stringify({ ...raw, ...patch }));
}

describe('findDebianGuest', () => {
  let dir = '';
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'debian-guest-test-'));
  });
  afterEach(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it('skips an empty cache, saying what to run', () => {
    const reason = reasonOf(findDebianGuest({ cacheDir: dir }));
    expect(reason).toContain(`no Debian guest in ${dir} (no manifest.json)`);
    expect(reason).toContain('npm run guests:debian');
  });

  it('finds a complete cache: absolute kernel and initrd paths and the manifest', () => {
    const manifest = makeCache(dir);
    const lookup = findDebianGuest({ cacheDir: dir });
    if (!isDebianGuestFound(lookup)) throw new Error(lookup.skipped);
    expect(lookup.kernel).toBe(join(dir, 'vmlinuz-6.1.0-50-686'));
    expect(lookup.initrd).toBe(join(dir, 'initramfs.cpio.gz'));
    expect(lookup.cacheDir).toBe(dir);
    expect(lookup.manifest).toEqual(manifest);
    expect(readFileSync(lookup.kernel, 'utf8')).toBe('kernel image bytes');
  });

  it('records size and SHA-256 of each file', () => {
    const manifest = makeCache(dir);
    expect(manifest.kernel.bytes).toBe('kernel image bytes'.length);
    expect(manifest.kernel.sha256).toBe(sha256Hex(new TextEncoder().encode('kernel image bytes')));
    expect(manifest.kernel.sha256).toMatch(/^[0-9a-f]{64}$/);
  });

  it.each([
    ['kernel', 'vmlinuz-6.1.0-50-686'],
    ['initrd', 'initramfs.cpio.gz'],
    ['config', 'config-6.1.0-50-686'],
    ['systemMap', 'System.map-6.1.0-50-686'],
    ['busybox', 'busybox'],
  ])('skips when the %s file is missing', (field, name) => {
    makeCache(dir);
    rmSync(join(dir, name));
    expect(reasonOf(findDebianGuest({ cacheDir: dir }))).toContain(`${field} file ${join(dir, name)} is missing`);
  });

  it('skips when a file changed size or contents', () => {
    makeCache(dir);
    writeFileSync(join(dir, 'initramfs.cpio.gz'), 'initrd bytes!');
    expect(reasonOf(findDebianGuest({ cacheDir: dir }))).toContain('has 13 bytes, the manifest says 12');
    writeFileSync(join(dir, 'initramfs.cpio.gz'), 'INITRD bytes');
    expect(reasonOf(findDebianGuest({ cacheDir: dir }))).toContain('does not match its SHA-256');
  });

  it('skips when the modules folder is gone', () => {
    const manifest = makeCache(dir);
    rmSync(join(dir, 'extract'), { recursive: true });
    expect(reasonOf(findDebianGuest({ cacheDir: dir }))).toContain(`modules folder ${join(dir, manifest.modulesDir)} is missing`);
  });

  it('skips an initramfs built from another recipe unless told to ignore it', () => {
    makeCache(dir);
    patchManifest(dir, { initramfsRecipe: '0'.repeat(64) });
    expect(reasonOf(findDebianGuest({ cacheDir: dir }))).toContain('older init script');
    expect(isDebianGuestFound(findDebianGuest({ cacheDir: dir, ignoreRecipe: true }))).toBe(true);
  });

  it.each([
    [{ format: 2 }, 'manifest field format: is 2, expected 1'],
    [{ kernelVersion: '' }, 'manifest field kernelVersion'],
    [{ kernelVersion: 'linux' }, "'linux' is not a kernel release"],
    [{ packageVersions: {} }, 'manifest field packageVersions: is empty'],
    [{ packageVersions: { a: 3 } }, 'manifest field packageVersions.a'],
    [{ kernel: null }, 'manifest field kernel: is not an object'],
    [{ kernel: { path: '/boot/vmlinuz', sha256: 'a'.repeat(64), bytes: 1 } }, 'manifest field kernel.path'],
    [{ initrd: { path: '../x', sha256: 'a'.repeat(64), bytes: 1 } }, 'leaves the cache folder'],
    [{ config: { path: 'c', sha256: 'ABC', bytes: 1 } }, 'manifest field config.sha256'],
    [{ busybox: { path: 'b', sha256: 'a'.repeat(64), bytes: -1 } }, 'manifest field busybox.bytes'],
    [{ systemMap: undefined }, 'manifest field systemMap'],
    [{ modulesDir: '/lib/modules' }, 'manifest field modulesDir'],
  ])('skips a manifest with a bad field: %j', (patch, problem) => {
    makeCache(dir);
    patchManifest(dir, patch);
    const reason = reasonOf(findDebianGuest({ cacheDir: dir }));
    expect(reason).toContain(join(dir, MANIFEST_NAME));
    expect(reason).toContain(problem);
  });

  it('skips a manifest that is not JSON', () => {
    makeCache(dir);
    writeFileSync(join(dir, MANIFEST_NAME), '{"format": 1,');
    expect(reasonOf(findDebianGuest({ cacheDir: dir }))).toContain('manifest is not valid JSON');
  });
});

describe('parseManifest', () => {
  it('reads back what writeManifest wrote', () => {
    const dir = mkdtempSync(join(tmpdir(), 'debian-guest-test-'));
    try {
      const manifest = makeCache(dir);
      expect(parseManifest(readFileSync(join(dir, MANIFEST_NAME), 'utf8'))).toEqual(manifest);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('throws ManifestError for a JSON value that is not an object', () => {
    expect(() => parseManifest('[1]')).toThrow(ManifestError);
    expect(() => parseManifest('null')).toThrow('manifest is not a JSON object');
  });
});

describe('parsing apt output (guests:debian)', () => {
  it('lists kernel packages newest ABI first and ignores other lines', () => {
    const search = [
      'linux-image-6.1.0-9-686-unsigned - Linux 6.1 for older PCs',
      'linux-image-6.1.0-50-686-unsigned - Linux 6.1 for older PCs',
      'linux-image-6.1.0-47-686-unsigned - Linux 6.1 for older PCs',
      'linux-image-6.1.0-50-686-pae-unsigned - Linux 6.1 for modern PCs',
      'linux-image-6.1.0-50-686-unsigned-dbg - debug symbols',
      '',
    ].join('\n');
    expect(kernelPackagesNewestFirst(search)).toEqual([
      'linux-image-6.1.0-50-686-unsigned',
      'linux-image-6.1.0-47-686-unsigned',
      'linux-image-6.1.0-9-686-unsigned',
    ]);
    expect(kernelPackagesNewestFirst('')).toEqual([]);
  });

  it('maps a kernel package to its release and rejects other names', () => {
    expect(kernelReleaseOf('linux-image-6.1.0-50-686-unsigned')).toBe('6.1.0-50-686');
    expect(() => kernelReleaseOf('linux-image-6.1.0-50-686-pae-unsigned')).toThrow(/not a linux-image-6\.1\.0/);
  });

  it('reads the candidate from apt-cache policy, null for (none) or no package', () => {
    const policy = 'busybox-static:i386:\n  Installed: (none)\n  Candidate: 1:1.35.0-4+deb12u1+b1\n  Version table:\n';
    expect(candidateVersion(policy)).toBe('1:1.35.0-4+deb12u1+b1');
    expect(candidateVersion('x:i386:\n  Installed: (none)\n  Candidate: (none)\n')).toBeNull();
    expect(candidateVersion('')).toBeNull();
  });

  it('spots i386 among the foreign architectures', () => {
    expect(listsI386('i386\n')).toBe(true);
    expect(listsI386('armhf\ni386\n')).toBe(true);
    expect(listsI386('')).toBe(false);
    expect(listsI386('i386x\n')).toBe(false);
  });

  it("names the .deb the way apt-get download does (':' as %3a)", () => {
    expect(debFileName({ name: 'busybox-static', version: '1:1.35.0-4+deb12u1+b1' }))
      .toBe('busybox-static_1%3a1.35.0-4+deb12u1+b1_i386.deb');
  });

  it('keeps the last non-empty lines of an error output', () => {
    expect(tail('a\n\nb\nc  \n\n', 2)).toBe('b\nc');
  });
});
