/**
 * `npm run guests:debian` (node dist/src/cli/guests-debian.js): fetches Debian's stock
 * i386 kernel and a static busybox with apt, and builds our initramfs, into the cache
 * folder described in debian-guest.ts. Nothing goes into the git tree.
 *
 * Steps (each failure names the command and the tail of its stderr):
 *  1. Fast path: if `findDebianGuest()` finds a valid manifest whose files all match,
 *     print where they are and stop. If only the initramfs recipe changed (our init
 *     script or module list), rebuild the initramfs from the cached busybox and kernel
 *     modules and stop.
 *  2. Check for apt-get, apt-cache, dpkg and dpkg-deb; missing → exit 3 "skipped: ...".
 *  3. Privileges: root runs the privileged steps directly, a non-root user through
 *     `sudo -n` when that works; otherwise they are left out and the message explains
 *     what to run by hand.
 *  4. `dpkg --add-architecture i386` unless `dpkg --print-foreign-architectures` lists it.
 *  5. `apt-get update`; a failure (e.g. one unreachable security index) is only a warning,
 *     since the main index still serves — we fail later only if no candidate is found.
 *  6. Pick the newest linux-image-6.1.0-<abi>-686-unsigned with an installable candidate
 *     (apt-cache search + apt-cache policy), and busybox-static:i386's candidate.
 *  7. `apt-get download` both into debs/ (as root with -o APT::Sandbox::User=root, so apt
 *     does not try to drop to the _apt user, which could not write there), reusing a .deb
 *     already downloaded; `dpkg-deb -x` each into extract/<package>/.
 *  8. Copy vmlinuz, config and System.map of the kernel and bin/busybox out, build
 *     initramfs.cpio.gz — busybox, our /init and the kernel modules of
 *     DEBIAN_GUEST_MODULES with their dependencies (read from each module's .modinfo,
 *     since the package has no modules.dep; built-in ones per modules.builtin are left
 *     out) — and write manifest.json last (a run that fails midway leaves none).
 *
 * Exit status: 0 ready, 1 a step failed, 3 skipped (this host cannot fetch: no apt, or
 * no privileges for a needed step) — one line "skipped: <reason>" on stderr.
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildDebianInitramfsGz, type InitramfsModule } from '../firmware/initramfs/debian-initramfs.js';
import { gzipNode } from '../firmware/initramfs/gzip.js';
import {
  DEBIAN_GUEST_MODULES,
  KernelModuleError,
  moduleLoadOrder,
  moduleNameOf,
  parseModulesBuiltin,
  readModuleInfo,
  type ModuleInfo,
} from '../firmware/initramfs/kernel-modules.js';
import {
  debianCacheDir,
  describeFile,
  findDebianGuest,
  initramfsRecipe,
  isDebianGuestFound,
  MANIFEST_NAME,
  writeManifest,
  type DebianGuestManifest,
} from './debian-guest.js';

/** Exit statuses of this command. */
export const GUESTS_DEBIAN_EXIT = Object.freeze({ ok: 0, failed: 1, skipped: 3 });

/** The Debian package carrying the static i386 busybox. */
export const BUSYBOX_PACKAGE = 'busybox-static';
/** apt-cache search pattern of the kernel packages we accept. */
export const KERNEL_PACKAGE_PATTERN = '^linux-image-6\\.1\\.0-[0-9]+-686-unsigned$';
/** Folder names under extract/ for the two packages. */
const KERNEL_EXTRACT = 'linux-image';
const BUSYBOX_EXTRACT = 'busybox-static';
/** Output file names in the cache folder. */
const INITRD_NAME = 'initramfs.cpio.gz';
const BUSYBOX_NAME = 'busybox';

/** The host cannot fetch the guest (no apt, no privileges); exit 3. */
export class FetchSkipped extends Error {
  constructor(reason: string) {
    super(reason);
    this.name = 'FetchSkipped';
  }
}

/** A step failed; the message names the command and the tail of its stderr. */
export class FetchFailed extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'FetchFailed';
  }
}

// ---------------------------------------------------------------------------------------
// Parsing apt's output (pure; unit-tested)

/**
 * Kernel package names from `apt-cache search --names-only` output ("name - description"
 * lines), newest ABI first (6.1.0-50 before 6.1.0-47). Lines that do not name a
 * linux-image-6.1.0-<abi>-686-unsigned package are ignored.
 */
export function kernelPackagesNewestFirst(searchOutput: string): string[] {
  const names = new Set<string>();
  for (const line of searchOutput.split('\n')) {
    const match = /^(linux-image-6\.1\.0-(\d+)-686-unsigned)(:i386)?\s/.exec(line.trim() + ' ');
    if (match) names.add(match[1]!);
  }
  return [...names].sort((a, b) => abiOf(b) - abiOf(a));
}

/** The ABI number of a linux-image-6.1.0-<abi>-686-unsigned name. */
function abiOf(name: string): number {
  return Number(/^linux-image-6\.1\.0-(\d+)-/.exec(name)![1]);
}

/** The kernel release (`uname -r`) a kernel package installs, e.g. "6.1.0-50-686". */
export function kernelReleaseOf(packageName: string): string {
  const match = /^linux-image-(6\.1\.0-\d+-686)-unsigned$/.exec(packageName);
  if (!match) throw new FetchFailed(`'${packageName}' is not a linux-image-6.1.0-<abi>-686-unsigned package name`);
  return match[1]!;
}

/** The "Candidate:" version in `apt-cache policy` output, or null for none / absent. */
export function candidateVersion(policyOutput: string): string | null {
  const match = /^\s*Candidate:\s*(\S+)\s*$/m.exec(policyOutput);
  if (!match || match[1] === '(none)') return null;
  return match[1]!;
}

/** Whether `dpkg --print-foreign-architectures` output lists i386. */
export function listsI386(foreignArchitectures: string): boolean {
  return foreignArchitectures.split(/\s+/).includes('i386');
}

/** The last `lines` non-empty lines of a command's output, for error messages. */
export function tail(text: string, lines = 12): string {
  return text.split('\n').map((l) => l.trimEnd()).filter(Boolean).slice(-lines).join('\n');
}

// ---------------------------------------------------------------------------------------
// Running commands

/** Result of a command that ran to completion. */
interface CommandResult {
  readonly status: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Run a command; `null` when it could not be started at all. */
function tryRun(command: string, args: readonly string[], cwd?: string): CommandResult | null {
  const run = spawnSync(command, args, {
    cwd,
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
    env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive', LC_ALL: 'C' },
  });
  if (run.error) return null;
  return { status: run.status ?? -1, stdout: run.stdout ?? '', stderr: run.stderr ?? '' };
}

/** Run a command that must succeed; throws FetchFailed naming it and its stderr tail. */
function mustRun(command: string, args: readonly string[], cwd?: string): CommandResult {
  const shown = [command, ...args].join(' ');
  const result = tryRun(command, args, cwd);
  if (result === null) throw new FetchFailed(`could not start \`${shown}\``);
  if (result.status !== 0) {
    throw new FetchFailed(`\`${shown}\` failed with status ${result.status}:\n${tail(result.stderr || result.stdout)}`);
  }
  return result;
}

/** True when `command` can be started (probed with --version). */
function commandExists(command: string): boolean {
  return tryRun(command, ['--version']) !== null;
}

/** How privileged steps are run here: directly, via sudo -n, or not at all. */
type Privilege = { readonly prefix: readonly string[] } | { readonly unavailable: string };

/** Decide how to run privileged commands. */
function privilege(): Privilege {
  if (typeof process.getuid === 'function' && process.getuid() === 0) return { prefix: [] };
  const sudo = tryRun('sudo', ['-n', 'true']);
  if (sudo !== null && sudo.status === 0) return { prefix: ['sudo', '-n'] };
  return {
    unavailable: 'not running as root and `sudo -n` is not available' +
      (sudo === null ? ' (no sudo installed)' : ' (sudo asks for a password)'),
  };
}

/** Run a privileged command (through sudo when needed). */
function runPrivileged(priv: Privilege, command: string, args: readonly string[]): CommandResult {
  if ('unavailable' in priv) throw new Error('runPrivileged called without privileges');
  const [first, ...rest] = [...priv.prefix, command, ...args];
  return mustRun(first!, rest);
}

// ---------------------------------------------------------------------------------------
// The steps

/** Line logger. */
type Log = (line: string) => void;

/** Step 2: the Debian tools must be there. */
function checkTools(): void {
  const missing = ['apt-get', 'apt-cache', 'dpkg', 'dpkg-deb'].filter((tool) => !commandExists(tool));
  if (missing.length > 0) {
    throw new FetchSkipped(`${missing.join(', ')} not found (fetching the Debian guest needs a Debian-like host with apt)`);
  }
}

/** Step 4: make sure dpkg knows the i386 architecture. */
function ensureI386(priv: Privilege, log: Log): void {
  if (listsI386(mustRun('dpkg', ['--print-foreign-architectures']).stdout)) return;
  if ('unavailable' in priv) {
    throw new FetchSkipped(`dpkg does not list the i386 architecture and ${priv.unavailable}; ` +
      'run `dpkg --add-architecture i386 && apt-get update` as root, then retry');
  }
  log('guests:debian: dpkg --add-architecture i386');
  runPrivileged(priv, 'dpkg', ['--add-architecture', 'i386']);
}

/** Step 5: refresh the package lists; failures are warnings. Returns a note for later errors. */
function updateLists(priv: Privilege, log: Log): string {
  if ('unavailable' in priv) {
    log(`guests:debian: not running apt-get update: ${priv.unavailable}; using the existing package lists`);
    return ` (apt-get update was not run: ${priv.unavailable})`;
  }
  log('guests:debian: apt-get update');
  try {
    runPrivileged(priv, 'apt-get', ['update', '-q']);
    return '';
  } catch (error) {
    if (!(error instanceof FetchFailed)) throw error;
    const [headline = '', ...details] = error.message.split('\n');
    log(`guests:debian: warning: ${headline.replace(/:$/, '')}; continuing with the package lists apt has:`);
    log(tail(details.join('\n'), 6));
    return ` (apt-get update had failed: ${tail(details.join('\n'), 3).replace(/\n/g, ' ')})`;
  }
}

/** A package and version to download. */
interface Pick {
  readonly name: string;
  readonly version: string;
}

/** Step 6: choose the kernel and busybox versions. */
function pickPackages(updateNote: string): { kernel: Pick; busybox: Pick } {
  const search = mustRun('apt-cache', ['search', '--names-only', KERNEL_PACKAGE_PATTERN]);
  const kernels = kernelPackagesNewestFirst(search.stdout);
  let kernel: Pick | null = null;
  for (const name of kernels) {
    const version = candidateVersion(mustRun('apt-cache', ['policy', `${name}:i386`]).stdout);
    if (version !== null) {
      kernel = { name, version };
      break;
    }
  }
  if (kernel === null) {
    throw new FetchFailed(`no installable linux-image-6.1.0-*-686-unsigned:i386 package found ` +
      `(apt-cache search listed ${kernels.length === 0 ? 'none' : kernels.join(', ')})${updateNote}`);
  }
  const busyboxVersion = candidateVersion(mustRun('apt-cache', ['policy', `${BUSYBOX_PACKAGE}:i386`]).stdout);
  if (busyboxVersion === null) throw new FetchFailed(`no candidate for ${BUSYBOX_PACKAGE}:i386${updateNote}`);
  return { kernel, busybox: { name: BUSYBOX_PACKAGE, version: busyboxVersion } };
}

/** The file name apt-get download gives a package (":" in the version becomes "%3a"). */
export function debFileName(pick: Pick): string {
  return `${pick.name}_${pick.version.replace(/:/g, '%3a')}_i386.deb`;
}

/** Step 7a: download one package into debsDir unless it is already there. */
function download(pick: Pick, debsDir: string, priv: Privilege, log: Log): string {
  const file = join(debsDir, debFileName(pick));
  if (existsSync(file) && tryRun('dpkg-deb', ['--info', file])?.status === 0) {
    log(`guests:debian: reusing ${file}`);
    return file;
  }
  log(`guests:debian: apt-get download ${pick.name}:i386=${pick.version}`);
  const asRoot = !('unavailable' in priv) && priv.prefix.length === 0;
  const sandbox = asRoot ? ['-o', 'APT::Sandbox::User=root'] : [];
  mustRun('apt-get', [...sandbox, 'download', '-q', `${pick.name}:i386=${pick.version}`], debsDir);
  if (!existsSync(file)) throw new FetchFailed(`apt-get download succeeded but ${file} is not there`);
  return file;
}

/** Step 7b: unpack a .deb into a fresh folder. */
function extract(deb: string, into: string, log: Log): void {
  log(`guests:debian: dpkg-deb -x ${deb}`);
  rmSync(into, { recursive: true, force: true });
  mkdirSync(into, { recursive: true });
  mustRun('dpkg-deb', ['-x', deb, into]);
}

/** Copy `from` to `cacheDir/name` (through a temporary name, so it appears whole). */
function copyOut(from: string, cacheDir: string, name: string): string {
  if (!existsSync(from)) throw new FetchFailed(`expected ${from} in the extracted package, but it is not there`);
  const temporary = join(cacheDir, `.${name}.tmp`);
  copyFileSync(from, temporary);
  renameSync(temporary, join(cacheDir, name));
  return name;
}

/** Every *.ko file under `dir`, as paths relative to `root` with '/' separators, sorted. */
function listModuleFiles(root: string, dir: string, into: string[] = []): string[] {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) listModuleFiles(root, path, into);
    else if (entry.name.endsWith('.ko')) into.push(relative(root, path).split(sep).join('/'));
  }
  return into.sort();
}

/**
 * The kernel modules for our initramfs from an unpacked module tree (lib/modules/<release>
 * of the kernel package): `wanted` and their dependencies in load order, each with its
 * archive path /lib/modules/<release>/<path in the tree> and contents. Modules listed in
 * modules.builtin are compiled in and left out. Throws FetchFailed naming the module or
 * file when a module is missing or is not a readable kernel module.
 */
export function collectGuestModules(
  modulesDir: string,
  release: string,
  wanted: readonly string[] = DEBIAN_GUEST_MODULES,
): InitramfsModule[] {
  const kernelDir = join(modulesDir, 'kernel');
  if (!existsSync(kernelDir)) throw new FetchFailed(`the module tree ${modulesDir} has no kernel/ folder`);
  const builtinFile = join(modulesDir, 'modules.builtin');
  const builtin = existsSync(builtinFile) ? parseModulesBuiltin(readFileSync(builtinFile, 'utf8')) : new Set<string>();
  const files = new Map<string, string>();
  for (const path of listModuleFiles(modulesDir, kernelDir)) files.set(moduleNameOf(path), path);
  const infos = new Map<string, ModuleInfo>();
  const contents = new Map<string, Uint8Array>();
  const info = (name: string): ModuleInfo | undefined => {
    const path = files.get(name);
    if (path === undefined) return undefined;
    let known = infos.get(name);
    if (known === undefined) {
      const data = readFileSync(join(modulesDir, path));
      known = readModuleInfo(data, join(modulesDir, path));
      infos.set(name, known);
      contents.set(name, data);
    }
    return known;
  };
  try {
    const order = moduleLoadOrder(wanted, { isBuiltin: (name) => builtin.has(name), info });
    return order.map((name) => ({ name, path: `/lib/modules/${release}/${files.get(name)!}`, data: contents.get(name)! }));
  } catch (error) {
    if (error instanceof KernelModuleError) throw new FetchFailed(`kernel modules in ${modulesDir}: ${error.message}`);
    throw error;
  }
}

/** Build initramfs.cpio.gz from the cached busybox and kernel modules; returns its name. */
async function buildInitrd(cacheDir: string, modulesDir: string, release: string, log: Log): Promise<string> {
  const modules = collectGuestModules(join(cacheDir, modulesDir), release);
  log(`guests:debian: building ${INITRD_NAME} with ${modules.length} kernel modules (${modules.map((m) => m.name).join(' ') || 'all built in'})`);
  const busybox = readFileSync(join(cacheDir, BUSYBOX_NAME));
  const gz = await buildDebianInitramfsGz({ busybox, modules }, gzipNode);
  const temporary = join(cacheDir, `.${INITRD_NAME}.tmp`);
  writeFileSync(temporary, gz);
  renameSync(temporary, join(cacheDir, INITRD_NAME));
  return INITRD_NAME;
}

/** Remove files of older kernels / packages so the cache does not grow with each release. */
function pruneOld(cacheDir: string, keep: ReadonlySet<string>, debsDir: string, keepDebs: ReadonlySet<string>): void {
  for (const name of readdirSync(cacheDir)) {
    if (/^(vmlinuz|config|System\.map)-/.test(name) && !keep.has(name)) rmSync(join(cacheDir, name), { force: true });
  }
  for (const name of readdirSync(debsDir)) {
    if (name.endsWith('.deb') && !keepDebs.has(name)) rmSync(join(debsDir, name), { force: true });
  }
}

/** Steps 2–8: fetch everything and write the manifest. */
async function fetchDebianGuest(cacheDir: string, log: Log): Promise<DebianGuestManifest> {
  checkTools();
  const priv = privilege();
  ensureI386(priv, log);
  const updateNote = updateLists(priv, log);
  const picks = pickPackages(updateNote);
  log(`guests:debian: kernel ${picks.kernel.name} ${picks.kernel.version}, ${BUSYBOX_PACKAGE} ${picks.busybox.version}`);
  const debsDir = join(cacheDir, 'debs');
  const extractDir = join(cacheDir, 'extract');
  mkdirSync(debsDir, { recursive: true });
  rmSync(join(cacheDir, MANIFEST_NAME), { force: true });
  const kernelDeb = download(picks.kernel, debsDir, priv, log);
  const busyboxDeb = download(picks.busybox, debsDir, priv, log);
  extract(kernelDeb, join(extractDir, KERNEL_EXTRACT), log);
  extract(busyboxDeb, join(extractDir, BUSYBOX_EXTRACT), log);
  const release = kernelReleaseOf(picks.kernel.name);
  const boot = join(extractDir, KERNEL_EXTRACT, 'boot');
  const kernel = copyOut(join(boot, `vmlinuz-${release}`), cacheDir, `vmlinuz-${release}`);
  const config = copyOut(join(boot, `config-${release}`), cacheDir, `config-${release}`);
  const systemMap = copyOut(join(boot, `System.map-${release}`), cacheDir, `System.map-${release}`);
  const busybox = copyOut(join(extractDir, BUSYBOX_EXTRACT, 'bin', 'busybox'), cacheDir, BUSYBOX_NAME);
  const modulesDir = join('extract', KERNEL_EXTRACT, 'lib', 'modules', release);
  if (!existsSync(join(cacheDir, modulesDir))) throw new FetchFailed(`the kernel package has no ${modulesDir}`);
  const initrd = await buildInitrd(cacheDir, modulesDir, release, log);
  pruneOld(cacheDir, new Set([kernel, config, systemMap]), debsDir,
    new Set([debFileName(picks.kernel), debFileName(picks.busybox)]));
  const manifest: DebianGuestManifest = {
    format: 1,
    kernelVersion: release,
    packageVersions: { [picks.kernel.name]: picks.kernel.version, [BUSYBOX_PACKAGE]: picks.busybox.version },
    kernel: describeFile(cacheDir, kernel),
    initrd: describeFile(cacheDir, initrd),
    config: describeFile(cacheDir, config),
    systemMap: describeFile(cacheDir, systemMap),
    busybox: describeFile(cacheDir, busybox),
    modulesDir,
    initramfsRecipe: initramfsRecipe(),
  };
  writeManifest(cacheDir, manifest);
  return manifest;
}

/**
 * The manifest of a cache that is complete and intact but whose initramfs was built from
 * an older recipe (our init script changed), or null.
 */
function staleInitrdManifest(cacheDir: string): DebianGuestManifest | null {
  const lookup = findDebianGuest({ cacheDir, ignoreRecipe: true });
  return isDebianGuestFound(lookup) && lookup.manifest.initramfsRecipe !== initramfsRecipe() ? lookup.manifest : null;
}

/** Print where the guest is. */
function reportReady(manifest: DebianGuestManifest, cacheDir: string, log: Log): void {
  log(`guests:debian: ready (kernel ${manifest.kernelVersion})`);
  log(`  kernel   ${join(cacheDir, manifest.kernel.path)}`);
  log(`  initrd   ${join(cacheDir, manifest.initrd.path)}`);
  log(`  modules  ${join(cacheDir, manifest.modulesDir)}`);
}

/** Command-line entry: returns the exit status. */
export async function main(log: Log = (line) => console.log(line), warn: Log = (line) => console.error(line)): Promise<number> {
  const cacheDir = debianCacheDir();
  const lookup = findDebianGuest({ cacheDir });
  if (isDebianGuestFound(lookup)) {
    reportReady(lookup.manifest, cacheDir, log);
    return GUESTS_DEBIAN_EXIT.ok;
  }
  log(`guests:debian: ${lookup.skipped.replace(/; run `npm run guests:debian`.*$/, '')}`);
  try {
    mkdirSync(cacheDir, { recursive: true });
    const stale = staleInitrdManifest(cacheDir);
    if (stale !== null) {
      const initrd = await buildInitrd(cacheDir, stale.modulesDir, stale.kernelVersion, log);
      const manifest = { ...stale, initrd: describeFile(cacheDir, initrd), initramfsRecipe: initramfsRecipe() };
      writeManifest(cacheDir, manifest);
      reportReady(manifest, cacheDir, log);
      return GUESTS_DEBIAN_EXIT.ok;
    }
    reportReady(await fetchDebianGuest(cacheDir, log), cacheDir, log);
    return GUESTS_DEBIAN_EXIT.ok;
  } catch (error) {
    if (error instanceof FetchSkipped) {
      warn(`skipped: ${error.message}`);
      return GUESTS_DEBIAN_EXIT.skipped;
    }
    if (error instanceof FetchFailed) {
      warn(`guests:debian: failed: ${error.message}`);
      return GUESTS_DEBIAN_EXIT.failed;
    }
    throw error;
  }
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  process.exitCode = await main();
}
