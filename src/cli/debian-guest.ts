/**
 * Where the Debian guest (stock i386 kernel + our initramfs) lives on this host, and how
 * to tell whether a usable copy is there — without running apt. `npm run guests:debian`
 * (guests-debian.ts) fills the cache; the boot test and the CLI call `findDebianGuest()`.
 *
 * Cache layout (outside git): <cache>/debian/ where <cache> is $HV_CACHE_DIR, else
 * $XDG_CACHE_HOME/x86-hypervisor, else ~/.cache/x86-hypervisor. Inside it:
 *   manifest.json            DebianGuestManifest (below); paths in it are relative to
 *                            the debian/ folder
 *   vmlinuz-<ver>, config-<ver>, System.map-<ver>, initramfs.cpio.gz, busybox
 *   debs/                    the downloaded .deb files
 *   extract/<package>/       their dpkg-deb -x trees (the initramfs takes its kernel
 *                            modules from lib/modules/<ver>)
 *
 * The manifest is the only thing trusted: a lookup succeeds when it parses, every field
 * is valid, every listed file exists with the recorded SHA-256, and the initramfs was
 * built from the current recipe (init script, directory and module lists); anything else
 * is a `{ skipped: reason }` naming what is missing or wrong.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { isAbsolute, join, normalize } from 'node:path';
import { INITRAMFS_DIRECTORIES, initScript } from '../firmware/initramfs/debian-initramfs.js';
import { DEBIAN_GUEST_MODULES } from '../firmware/initramfs/kernel-modules.js';

/** Version of the manifest layout; a manifest of another version is ignored (refetch). */
export const MANIFEST_FORMAT = 1;
/** File name of the manifest inside the debian/ cache folder. */
export const MANIFEST_NAME = 'manifest.json';

/** One file recorded in the manifest. */
export interface ManifestFile {
  /** Path relative to the debian/ cache folder. */
  readonly path: string;
  /** Lowercase hex SHA-256 of the contents. */
  readonly sha256: string;
  readonly bytes: number;
}

/** What `npm run guests:debian` produced. */
export interface DebianGuestManifest {
  readonly format: number;
  /** Kernel release, e.g. "6.1.0-50-686" (what `uname -r` prints in the guest). */
  readonly kernelVersion: string;
  /** Debian package name → version that the files came from. */
  readonly packageVersions: Readonly<Record<string, string>>;
  readonly kernel: ManifestFile;
  readonly initrd: ManifestFile;
  readonly config: ManifestFile;
  readonly systemMap: ManifestFile;
  readonly busybox: ManifestFile;
  /** The kernel's module tree (lib/modules/<ver>), relative to the debian/ folder. */
  readonly modulesDir: string;
  /** `initramfsRecipe()` at build time; a different value means the initrd is stale. */
  readonly initramfsRecipe: string;
}

/** A usable Debian guest: absolute paths of kernel and initrd, and the manifest. */
export interface DebianGuestFound {
  readonly kernel: string;
  readonly initrd: string;
  readonly cacheDir: string;
  readonly manifest: DebianGuestManifest;
}

/** No usable guest: one line saying why (and what to run). */
export interface DebianGuestSkipped {
  readonly skipped: string;
}

/** Result of `findDebianGuest`. */
export type DebianGuestLookup = DebianGuestFound | DebianGuestSkipped;

/** Thrown by `parseManifest` for a manifest that does not have the expected shape. */
export class ManifestError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ManifestError';
  }
}

/** Environment variables the cache location depends on. */
export interface CacheEnv {
  readonly HV_CACHE_DIR?: string | undefined;
  readonly XDG_CACHE_HOME?: string | undefined;
}

/** The hint appended to skip reasons. */
const FETCH_HINT = 'run `npm run guests:debian` to fetch it';

/**
 * The debian/ cache folder: $HV_CACHE_DIR/debian, else $XDG_CACHE_HOME/x86-hypervisor/debian,
 * else <home>/.cache/x86-hypervisor/debian. Empty variables count as unset.
 */
export function debianCacheDir(env: CacheEnv = process.env, home: string = homedir()): string {
  if (env.HV_CACHE_DIR) return join(env.HV_CACHE_DIR, 'debian');
  const base = env.XDG_CACHE_HOME ? env.XDG_CACHE_HOME : join(home, '.cache');
  return join(base, 'x86-hypervisor', 'debian');
}

/** Lowercase hex SHA-256 of some bytes. */
export function sha256Hex(data: Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

/**
 * Identity of the initramfs recipe: a SHA-256 over the init script, the directory list
 * and the list of wanted kernel modules (so adding a module rebuilds a cached initramfs).
 * The busybox binary is covered by its own manifest entry, the module files by the kernel
 * package version.
 */
export function initramfsRecipe(): string {
  return sha256Hex(new TextEncoder().encode(JSON.stringify({
    script: initScript(),
    dirs: INITRAMFS_DIRECTORIES,
    modules: DEBIAN_GUEST_MODULES,
  })));
}

/** Record a file of the cache folder (hashing it) for the manifest. */
export function describeFile(cacheDir: string, relativePath: string): ManifestFile {
  const data = readFileSync(join(cacheDir, relativePath));
  return { path: relativePath, sha256: sha256Hex(data), bytes: data.length };
}

/** Write the manifest (pretty JSON, trailing newline) into the cache folder. */
export function writeManifest(cacheDir: string, manifest: DebianGuestManifest): void {
  writeFileSync(join(cacheDir, MANIFEST_NAME), JSON.stringify(manifest, null, 2) + '\n');
}

// ---------------------------------------------------------------------------------------
// Manifest validation

/** Throw a ManifestError for `field`. */
function bad(field: string, problem: string): never {
  throw new ManifestError(`manifest field ${field}: ${problem}`);
}

/** A relative path that stays inside the cache folder. */
function checkRelativePath(field: string, value: unknown): string {
  if (typeof value !== 'string' || value.length === 0) bad(field, 'is not a non-empty string');
  if (isAbsolute(value)) bad(field, `'${value}' is absolute (must be relative to the cache folder)`);
  const normal = normalize(value);
  if (normal.startsWith('..') || value.includes('\0')) bad(field, `'${value}' leaves the cache folder`);
  return value;
}

/** A non-empty string field. */
function checkString(field: string, value: unknown): string {
  if (typeof value !== 'string' || value.length === 0) bad(field, 'is not a non-empty string');
  return value;
}

/** A ManifestFile field. */
function checkFile(field: string, value: unknown): ManifestFile {
  if (value === null || typeof value !== 'object') bad(field, 'is not an object');
  const file = value as Record<string, unknown>;
  const path = checkRelativePath(`${field}.path`, file.path);
  if (typeof file.sha256 !== 'string' || !/^[0-9a-f]{64}$/.test(file.sha256)) {
    bad(`${field}.sha256`, 'is not 64 lowercase hex digits');
  }
  if (typeof file.bytes !== 'number' || !Number.isSafeInteger(file.bytes) || file.bytes < 0) {
    bad(`${field}.bytes`, 'is not a non-negative integer');
  }
  return { path, sha256: file.sha256, bytes: file.bytes };
}

/** The packageVersions field: a non-empty object of non-empty strings. */
function checkPackageVersions(value: unknown): Record<string, string> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) bad('packageVersions', 'is not an object');
  const entries = Object.entries(value as Record<string, unknown>);
  if (entries.length === 0) bad('packageVersions', 'is empty');
  const result: Record<string, string> = {};
  for (const [name, version] of entries) result[name] = checkString(`packageVersions.${name}`, version);
  return result;
}

/**
 * Parse and validate manifest JSON text. Throws ManifestError naming the first bad field
 * (or saying the text is not JSON / has another format version).
 */
export function parseManifest(text: string): DebianGuestManifest {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (error) {
    throw new ManifestError(`manifest is not valid JSON (${(error as Error).message})`);
  }
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) throw new ManifestError('manifest is not a JSON object');
  const m = raw as Record<string, unknown>;
  if (m.format !== MANIFEST_FORMAT) bad('format', `is ${JSON.stringify(m.format)}, expected ${MANIFEST_FORMAT}`);
  const kernelVersion = checkString('kernelVersion', m.kernelVersion);
  if (!/^[0-9][0-9A-Za-z.+_-]*$/.test(kernelVersion)) bad('kernelVersion', `'${kernelVersion}' is not a kernel release`);
  return {
    format: MANIFEST_FORMAT,
    kernelVersion,
    packageVersions: checkPackageVersions(m.packageVersions),
    kernel: checkFile('kernel', m.kernel),
    initrd: checkFile('initrd', m.initrd),
    config: checkFile('config', m.config),
    systemMap: checkFile('systemMap', m.systemMap),
    busybox: checkFile('busybox', m.busybox),
    modulesDir: checkRelativePath('modulesDir', m.modulesDir),
    initramfsRecipe: checkString('initramfsRecipe', m.initramfsRecipe),
  };
}

/** Why a recorded file is not usable (missing, wrong size or hash), or null when it is. */
function fileProblem(cacheDir: string, field: string, file: ManifestFile): string | null {
  const path = join(cacheDir, file.path);
  if (!existsSync(path)) return `${field} file ${path} is missing`;
  const data = readFileSync(path);
  if (data.length !== file.bytes) return `${field} file ${path} has ${data.length} bytes, the manifest says ${file.bytes}`;
  if (sha256Hex(data) !== file.sha256) return `${field} file ${path} does not match its SHA-256 in the manifest`;
  return null;
}

/** Options of `findDebianGuest`. */
export interface FindDebianGuestOptions {
  /** The debian/ cache folder; `debianCacheDir()` when omitted. */
  readonly cacheDir?: string;
  /** Accept an initramfs built from an older recipe (guests-debian uses this to rebuild only it). */
  readonly ignoreRecipe?: boolean;
}

/**
 * Look for a usable Debian guest in the cache (no apt, no network): the manifest must be
 * valid, kernel, initrd, config, System.map and busybox must match their hashes, the
 * modules folder must exist and the initramfs recipe must be current.
 */
export function findDebianGuest(options: FindDebianGuestOptions = {}): DebianGuestLookup {
  const cacheDir = options.cacheDir ?? debianCacheDir();
  const manifestPath = join(cacheDir, MANIFEST_NAME);
  if (!existsSync(manifestPath)) return { skipped: `no Debian guest in ${cacheDir} (no ${MANIFEST_NAME}); ${FETCH_HINT}` };
  let manifest: DebianGuestManifest;
  try {
    manifest = parseManifest(readFileSync(manifestPath, 'utf8'));
  } catch (error) {
    if (!(error instanceof ManifestError)) throw error;
    return { skipped: `${manifestPath}: ${error.message}; ${FETCH_HINT}` };
  }
  const files = { kernel: manifest.kernel, initrd: manifest.initrd, config: manifest.config, systemMap: manifest.systemMap, busybox: manifest.busybox };
  for (const [field, file] of Object.entries(files)) {
    const problem = fileProblem(cacheDir, field, file);
    if (problem !== null) return { skipped: `${problem}; ${FETCH_HINT}` };
  }
  if (!existsSync(join(cacheDir, manifest.modulesDir))) {
    return { skipped: `modules folder ${join(cacheDir, manifest.modulesDir)} is missing; ${FETCH_HINT}` };
  }
  if (!options.ignoreRecipe && manifest.initramfsRecipe !== initramfsRecipe()) {
    return { skipped: `the initramfs in ${cacheDir} was built from an older init script; ${FETCH_HINT}` };
  }
  return { kernel: join(cacheDir, manifest.kernel.path), initrd: join(cacheDir, manifest.initrd.path), cacheDir, manifest };
}

/** True when a lookup found a usable guest. */
export function isDebianGuestFound(lookup: DebianGuestLookup): lookup is DebianGuestFound {
  return !('skipped' in lookup);
}
