/**
 * `npm run bench:boot`: Debian's stock i386 kernel booted to a busybox shell, on our
 * PcMachine and on v86 (npm package `v86`, a devDependency used only here), with the same
 * kernel, initrd, command line (boot-session.ts BOOT_CMDLINE) and RAM size.
 *
 * For each emulator: seconds from starting the CPU to the first shell prompt, and the
 * instructions executed to get there; then a CPU workload typed at the prompt
 * (`time sh -c 'dd if=/dev/zero bs=1M count=N 2>/dev/null | md5sum'`), timed on the host
 * from sending the line to the md5 line, its instructions and MIPS, and the md5 checked
 * against the host's. What exactly each span covers is in boot-ours.ts and boot-v86.ts;
 * setup (reading files, building the initramfs, compiling v86's wasm, building our
 * machine) is outside every span.
 *
 * The guest comes from `npm run guests:debian`'s cache (src/cli/debian-guest.ts). For
 * development without it: `--kernel FILE` with `--initrd FILE` or `--busybox FILE` (our
 * initramfs is then built in memory from that busybox). v86 starts from Debian's SeaBIOS
 * (bios.bin, vgabios.bin): from /usr/share/seabios when the seabios package is installed,
 * else `apt-get download seabios` into the Debian guest's cache folder and `dpkg-deb -x`.
 *
 * Options: `--only v86|ours`, `--memory SIZE` (default 128M), `--timeout-seconds N` (per
 * phase: boot to prompt, workload to the next prompt; default 600), `--workload-mib N`
 * (default 8). A guest that does not reach the next step in time ends with an error and
 * the last 20 lines of its serial output. Exit status: 0 ok, 1 a run failed or printed a
 * wrong md5, 2 usage, 3 skipped (no Debian guest).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { parseSize } from '../../src/cli/args.js';
import { debianCacheDir, findDebianGuest, isDebianGuestFound } from '../../src/cli/debian-guest.js';
import { buildDebianInitramfsGz } from '../../src/firmware/initramfs/debian-initramfs.js';
import { gzipNode } from '../../src/firmware/initramfs/gzip.js';
import { runOursBoot } from './boot-ours.js';
import { BOOT_CMDLINE, DEFAULT_WORKLOAD_MIB, expectedWorkloadMd5, type BootInputs, type BootResult } from './boot-session.js';
import { runV86Boot, v86Version, type V86Firmware } from './boot-v86.js';

/** Defaults of the options. */
const DEFAULT_MEMORY = '128M';
const DEFAULT_TIMEOUT_SECONDS = 600;
/** Exit statuses. */
const EXIT_FAILED = 1;
const EXIT_USAGE = 2;
const EXIT_SKIPPED = 3;
/** Where Debian's seabios package puts its images. */
const SEABIOS_DIR = 'usr/share/seabios';

/** Parsed command line. */
interface BenchOptions {
  readonly only: 'v86' | 'ours' | null;
  readonly memoryBytes: number;
  readonly timeoutSeconds: number;
  readonly workloadMib: number;
  readonly kernel: string | null;
  readonly initrd: string | null;
  readonly busybox: string | null;
}

/** A bad command line. */
class UsageError extends Error {}

const USAGE = 'usage: npm run bench:boot -- [--only v86|ours] [--memory SIZE] [--timeout-seconds N] [--workload-mib N] [--kernel FILE (--initrd FILE | --busybox FILE)]';

/** Parse argv (without node and script). */
function parseOptions(argv: readonly string[]): BenchOptions {
  const values = new Map<string, string>();
  const known = ['--only', '--memory', '--timeout-seconds', '--workload-mib', '--kernel', '--initrd', '--busybox'];
  for (let k = 0; k < argv.length; k += 2) {
    const name = argv[k]!;
    if (!known.includes(name)) throw new UsageError(`unknown option '${name}'`);
    const value = argv[k + 1];
    if (value === undefined) throw new UsageError(`${name} needs a value`);
    if (values.has(name)) throw new UsageError(`${name} given twice`);
    values.set(name, value);
  }
  const only = values.get('--only') ?? null;
  if (only !== null && only !== 'v86' && only !== 'ours') throw new UsageError(`--only takes 'v86' or 'ours', not '${only}'`);
  const memoryBytes = parseMemory(values.get('--memory') ?? DEFAULT_MEMORY);
  const timeoutSeconds = positiveNumber('--timeout-seconds', values.get('--timeout-seconds') ?? String(DEFAULT_TIMEOUT_SECONDS));
  const workloadMib = positiveNumber('--workload-mib', values.get('--workload-mib') ?? String(DEFAULT_WORKLOAD_MIB));
  if (!Number.isInteger(workloadMib) || workloadMib > 1024) throw new UsageError(`--workload-mib must be a whole number from 1 to 1024, not '${workloadMib}'`);
  const kernel = values.get('--kernel') ?? null;
  const initrd = values.get('--initrd') ?? null;
  const busybox = values.get('--busybox') ?? null;
  if (kernel === null && (initrd !== null || busybox !== null)) throw new UsageError('--initrd and --busybox go with --kernel');
  if (kernel !== null && (initrd === null) === (busybox === null)) throw new UsageError('--kernel needs exactly one of --initrd and --busybox');
  return { only, memoryBytes, timeoutSeconds, workloadMib, kernel, initrd, busybox };
}

/** RAM size: a whole number of MiB from 16M to 1G (our host's frame pool stays under 2 GiB with room). */
function parseMemory(text: string): number {
  let bytes: number;
  try {
    bytes = parseSize('--memory', text);
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  if (bytes % (1 << 20) !== 0 || bytes < 16 << 20 || bytes > 2 ** 30) throw new UsageError(`--memory '${text}' must be a whole number of MiB from 16M to 1G`);
  return bytes;
}

function positiveNumber(name: string, text: string): number {
  const value = Number(text);
  if (!/^[0-9]+(\.[0-9]+)?$/.test(text) || !(value > 0)) throw new UsageError(`${name} takes a positive number, not '${text}'`);
  return value;
}

// ---------------------------------------------------------------------------------------
// Guest files

/** The kernel and initrd to boot, or a skip reason. */
async function bootFiles(options: BenchOptions): Promise<{ kernel: string; kernelData: Uint8Array; initrdName: string; initrd: Uint8Array; cacheDir: string } | { skipped: string }> {
  if (options.kernel !== null) {
    const kernelData = readInput('--kernel', options.kernel);
    if (options.initrd !== null) {
      return { kernel: options.kernel, kernelData, initrdName: options.initrd, initrd: readInput('--initrd', options.initrd), cacheDir: debianCacheDir() };
    }
    const busybox = readInput('--busybox', options.busybox!);
    const initrd = await buildDebianInitramfsGz({ busybox }, gzipNode);
    return { kernel: options.kernel, kernelData, initrdName: `our initramfs around ${options.busybox}`, initrd, cacheDir: debianCacheDir() };
  }
  const guest = findDebianGuest();
  if (!isDebianGuestFound(guest)) return { skipped: `${guest.skipped} (or pass --kernel FILE with --initrd FILE or --busybox FILE)` };
  return {
    kernel: guest.kernel,
    kernelData: new Uint8Array(readFileSync(guest.kernel)),
    initrdName: guest.initrd,
    initrd: new Uint8Array(readFileSync(guest.initrd)),
    cacheDir: guest.cacheDir,
  };
}

/** A file's bytes; a UsageError naming the option and the OS reason otherwise. */
function readInput(option: string, path: string): Uint8Array {
  try {
    return new Uint8Array(readFileSync(path));
  } catch (e) {
    throw new UsageError(`${option}: cannot read '${path}' (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
}

/**
 * Debian's SeaBIOS images for v86: /usr/share/seabios when the seabios package is
 * installed; else a copy extracted earlier into <cacheDir>/extract/seabios; else
 * `apt-get download seabios` into <cacheDir>/debs and `dpkg-deb -x` it there. Throws an
 * error naming the failed command and the tail of its stderr.
 */
export function seabiosFirmware(cacheDir: string): V86Firmware {
  const system = join('/', SEABIOS_DIR);
  if (hasSeabios(system)) return readSeabios(system);
  const extracted = join(cacheDir, 'extract', 'seabios');
  if (!hasSeabios(join(extracted, SEABIOS_DIR))) {
    const debs = join(cacheDir, 'debs');
    mkdirSync(debs, { recursive: true });
    let deb = findSeabiosDeb(debs);
    if (deb === null) {
      // apt drops to the _apt user for downloads unless told not to; as root that user
      // may not be able to write into our cache folder.
      const sandbox = process.getuid?.() === 0 ? ['-o', 'APT::Sandbox::User=root'] : [];
      runTool('apt-get', [...sandbox, 'download', 'seabios'], debs);
      deb = findSeabiosDeb(debs);
      if (deb === null) throw new Error(`apt-get download seabios reported success but left no seabios_*.deb in ${debs}`);
    }
    mkdirSync(extracted, { recursive: true });
    runTool('dpkg-deb', ['-x', deb, extracted], debs);
    if (!hasSeabios(join(extracted, SEABIOS_DIR))) throw new Error(`${deb} has no ${SEABIOS_DIR}/bios.bin and vgabios.bin`);
  }
  return readSeabios(join(extracted, SEABIOS_DIR));
}

function hasSeabios(dir: string): boolean {
  return existsSync(join(dir, 'bios.bin')) && existsSync(join(dir, 'vgabios.bin'));
}

function readSeabios(dir: string): V86Firmware {
  return { bios: new Uint8Array(readFileSync(join(dir, 'bios.bin'))), vgaBios: new Uint8Array(readFileSync(join(dir, 'vgabios.bin'))), source: join(dir, 'bios.bin') };
}

function findSeabiosDeb(dir: string): string | null {
  const debs = readdirSync(dir).filter((f) => /^seabios_.*\.deb$/.test(f)).sort();
  return debs.length === 0 ? null : join(dir, debs[debs.length - 1]!);
}

/** Run a host tool; throws naming the command and the tail of its stderr when it fails. */
function runTool(command: string, args: readonly string[], cwd: string): void {
  const r = spawnSync(command, args, { cwd, encoding: 'utf8' });
  if (r.error) throw new Error(`cannot run ${command}: ${r.error.message}`);
  if (r.status !== 0) {
    const tail = (r.stderr || r.stdout || '').trim().split('\n').slice(-5).join(' | ');
    throw new Error(`\`${command} ${args.join(' ')}\` (in ${cwd}) failed with status ${r.status}: ${tail}`);
  }
}

// ---------------------------------------------------------------------------------------
// Output

/** One emulator's outcome. */
type Outcome = { readonly kind: 'ok'; readonly result: BootResult } | { readonly kind: 'failed' | 'not run'; readonly reason: string };

const fmt = (x: number | null | undefined, digits = 2): string => (x === null || x === undefined ? '-' : x.toFixed(digits));
const count = (x: number | undefined): string => (x === undefined ? '-' : x.toLocaleString('en-US'));
const ratio = (a: number | undefined, b: number | undefined): string => (a === undefined || b === undefined || b === 0 ? '-' : `${(a / b).toFixed(2)}x`);
const mips = (r: BootResult | undefined): number | undefined => (r === undefined ? undefined : r.workloadInstructions / r.workloadSeconds / 1e6);

/** Print the comparison table and the summary line; returns whether every run that ran passed. */
function report(ours: Outcome, v86: Outcome, expectedMd5: string): boolean {
  const o = ours.kind === 'ok' ? ours.result : undefined;
  const v = v86.kind === 'ok' ? v86.result : undefined;
  const md5 = (r: BootResult | undefined): string => (r === undefined ? '-' : r.md5 === expectedMd5 ? 'ok' : `WRONG ${r.md5}`);
  const rows: [string, string, string, string][] = [
    ['boot to prompt (s)', fmt(o?.bootSeconds), fmt(v?.bootSeconds), ratio(o?.bootSeconds, v?.bootSeconds)],
    ['instructions to prompt', count(o?.bootInstructions), count(v?.bootInstructions), ratio(o?.bootInstructions, v?.bootInstructions)],
    ['MIPS to prompt', fmt(o && o.bootInstructions / o.bootSeconds / 1e6, 1), fmt(v && v.bootInstructions / v.bootSeconds / 1e6, 1), ''],
    ['workload, host (s)', fmt(o?.workloadSeconds), fmt(v?.workloadSeconds), ratio(o?.workloadSeconds, v?.workloadSeconds)],
    ['workload, guest `time` (s)', fmt(o?.guestWorkloadSeconds), fmt(v?.guestWorkloadSeconds), ''],
    ['workload instructions', count(o?.workloadInstructions), count(v?.workloadInstructions), ''],
    ['workload MIPS', fmt(mips(o), 1), fmt(mips(v), 1), ratio(mips(o), mips(v))],
    ['md5 of the answer', md5(o), md5(v), ''],
  ];
  console.log(`  ${''.padEnd(28)} ${'ours'.padStart(14)} ${'v86'.padStart(14)} ${'ours/v86'.padStart(9)}`);
  for (const [label, a, b, c] of rows) console.log(`  ${label.padEnd(28)} ${a.padStart(14)} ${b.padStart(14)} ${c.padStart(9)}`);
  for (const [name, out] of [['ours', ours], ['v86', v86]] as const) {
    if (out.kind === 'failed') console.log(`  FAILED (${name}): ${out.reason}`);
    else if (out.kind === 'not run') console.log(`  ${name}: ${out.reason}`);
  }
  const wrong = [o, v].some((r) => r !== undefined && r.md5 !== expectedMd5);
  console.log(summary(ours, v86, o, v, wrong));
  return !wrong && ours.kind !== 'failed' && v86.kind !== 'failed';
}

function summary(ours: Outcome, v86: Outcome, o: BootResult | undefined, v: BootResult | undefined, wrong: boolean): string {
  if (wrong) return 'summary: a guest printed a wrong md5 — the emulator that did miscomputes';
  if (o && v) {
    return `summary: ours reaches the prompt in ${fmt(o.bootSeconds, 1)} s, ${(o.bootSeconds / v.bootSeconds).toFixed(2)}x v86's ${fmt(v.bootSeconds, 1)} s; `
      + `the md5 workload takes ${fmt(o.workloadSeconds)} s, ${(o.workloadSeconds / v.workloadSeconds).toFixed(2)}x v86's ${fmt(v.workloadSeconds)} s`;
  }
  const one = o ?? v;
  if (one) {
    const other = o ? v86 : ours;
    return `summary: ${one.emulator} reaches the prompt in ${fmt(one.bootSeconds, 1)} s and runs the workload in ${fmt(one.workloadSeconds)} s; ${o ? 'v86' : 'ours'}: ${other.kind === 'ok' ? '' : other.reason.split('\n')[0]}`;
  }
  return 'summary: no emulator completed the session';
}

// ---------------------------------------------------------------------------------------

/** Run one side, turning its errors into an outcome. */
async function attempt(run: () => Promise<BootResult>): Promise<Outcome> {
  try {
    return { kind: 'ok', result: await run() };
  } catch (e) {
    return { kind: 'failed', reason: (e as Error).message };
  }
}

async function main(): Promise<number> {
  let options: BenchOptions;
  try {
    options = parseOptions(process.argv.slice(2));
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    console.error(`bench:boot: ${e.message}\n${USAGE}`);
    return EXIT_USAGE;
  }
  let files: Awaited<ReturnType<typeof bootFiles>>;
  try {
    files = await bootFiles(options);
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    console.error(`bench:boot: ${e.message}`);
    return EXIT_USAGE;
  }
  if ('skipped' in files) {
    console.error(`bench:boot: skipped: ${files.skipped}`);
    return EXIT_SKIPPED;
  }
  const inputs: BootInputs = {
    kernelName: basename(files.kernel), kernel: files.kernelData, initrd: files.initrd, initrdName: files.initrdName,
    cmdline: BOOT_CMDLINE, memoryBytes: options.memoryBytes, workloadMib: options.workloadMib, timeoutSeconds: options.timeoutSeconds,
  };
  const expectedMd5 = expectedWorkloadMd5(options.workloadMib);
  console.log('Debian i386 boot to a busybox shell, ours vs v86 (test/bench/boot.ts)');
  console.log(`  kernel    ${files.kernel} (${(files.kernelData.length / 1e6).toFixed(1)} MB)`);
  console.log(`  initrd    ${files.initrdName} (${(files.initrd.length / 1e6).toFixed(1)} MB)`);
  console.log(`  cmdline   "${BOOT_CMDLINE}", RAM ${options.memoryBytes >> 20} MiB, per-phase timeout ${options.timeoutSeconds} s`);
  console.log(`  workload  dd ${options.workloadMib} MiB of zeros | md5sum (expected ${expectedMd5})`);

  let v86: Outcome = { kind: 'not run', reason: 'not run (--only ours)' };
  if (options.only !== 'ours') {
    v86 = await attempt(async () => {
      const firmware = seabiosFirmware(files.cacheDir);
      console.log(`  v86       ${v86Version() ?? '(not installed)'}, wasm JIT, BIOS ${firmware.source}`);
      return runV86Boot(inputs, firmware);
    });
  }
  let ours: Outcome = { kind: 'not run', reason: 'not run (--only v86)' };
  if (options.only !== 'v86') ours = await attempt(() => runOursBoot(inputs));
  return report(ours, v86, expectedMd5) ? 0 : EXIT_FAILED;
}

process.exitCode = await main();
