// Builds our own guest ROMs from their NASM sources, or checks that the committed .bin
// files are exactly what the sources assemble to.
//
//   node guests/build.mjs               assemble every guest next to its source
//   node guests/build.mjs --out DIR     assemble every guest into DIR
//   node guests/build.mjs --check       assemble into a temp dir, compare with the
//                                       committed .bin files byte for byte
//
// Exit status: 0 success, 1 a committed image differs or is missing (--check),
// 2 nasm is not installed, 3 nasm failed on a source, 4 bad command line.
// The assembler can be overridden with the NASM environment variable.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Folder holding this script: the guests/ directory. */
export const GUESTS_DIR = dirname(fileURLToPath(import.meta.url));
/** Shared include files (port constants, serial routines); nasm needs the trailing slash. */
export const LIB_DIR = join(GUESTS_DIR, 'lib') + '/';
/** Protected-mode guest library (boot to 32-bit mode, TAP reporting, exception stubs). */
export const PM_LIB_DIR = join(GUESTS_DIR, 'pm', 'lib') + '/';

/**
 * Every image we build: its source (relative to guests/), its output (relative to the
 * output dir) and the NASM defines that make this variant.
 */
export const GUEST_IMAGES = [
  { source: 'hello/hello.asm', output: 'hello/hello.bin', defines: {} },
  { source: 'bench/bench.asm', output: 'bench/bench.bin', defines: {} },
  { source: 'bench/bench.asm', output: 'bench/bench-short.bin', defines: { REPEATS: '1' } },
  { source: 'bench/bench32.asm', output: 'bench/bench32-flat.bin', defines: {} },
  { source: 'bench/bench32.asm', output: 'bench/bench32-paged.bin', defines: { PAGING: '1' } },
  { source: 'bench/bench32.asm', output: 'bench/bench32-flat-short.bin', defines: { REPEATS: '1' } },
  { source: 'bench/bench32.asm', output: 'bench/bench32-paged-short.bin', defines: { PAGING: '1', REPEATS: '1' } },
  { source: 'pm/pm-rings.asm', output: 'pm/pm-rings.bin', defines: {} },
  { source: 'pm/pm-paging.asm', output: 'pm/pm-paging.bin', defines: {} },
  { source: 'pm/pm-exceptions.asm', output: 'pm/pm-exceptions.bin', defines: {} },
  { source: 'pm/pm-tasks.asm', output: 'pm/pm-tasks.bin', defines: {} },
  { source: 'pm/pm-v86.asm', output: 'pm/pm-v86.bin', defines: {} },
  { source: 'pm/pm-fpu.asm', output: 'pm/pm-fpu.bin', defines: {} },
  { source: 'pm/pm-triple.asm', output: 'pm/pm-triple.bin', defines: {} },
  { source: 'dirty/dirty.asm', output: 'dirty/dirty.bin', defines: {} },
  { source: 'dirty/dirty.asm', output: 'dirty/dirty-short.bin', defines: { ITERATIONS: '120', WORKING_SET_PAGES: '256', PROGRESS_EVERY: '20' } },
  { source: 'multiboot/mb-info.asm', output: 'multiboot/mb-elf.elf', defines: { FORMAT_ELF: '1' } },
  { source: 'multiboot/mb-info.asm', output: 'multiboot/mb-aout.bin', defines: {} },
];

/** Exit statuses of the command line, by meaning. */
export const EXIT = Object.freeze({ ok: 0, mismatch: 1, noNasm: 2, asmFailed: 3, usage: 4 });

/** The assembler command: $NASM when set, else `nasm` from PATH. */
export function nasmCommand() {
  return process.env.NASM || 'nasm';
}

/** True when the assembler can be started. */
export function hasNasm() {
  const probe = spawnSync(nasmCommand(), ['-v'], { encoding: 'utf8' });
  return !probe.error && probe.status === 0;
}

/** Error raised when nasm rejects a source; carries its diagnostics. */
export class AssembleError extends Error {
  constructor(source, diagnostics) {
    super(`nasm failed on ${source}:\n${diagnostics}`);
    this.name = 'AssembleError';
  }
}

/** Assemble one image into outDir; returns the output path. Throws AssembleError. */
export function assembleImage(image, outDir) {
  const sourcePath = join(GUESTS_DIR, image.source);
  const outputPath = join(outDir, image.output);
  mkdirSync(dirname(outputPath), { recursive: true });
  const defineArgs = Object.entries(image.defines).map(([name, value]) => `-D${name}=${value}`);
  const args = ['-f', 'bin', '-I', LIB_DIR, '-I', PM_LIB_DIR, ...defineArgs, '-o', outputPath, sourcePath];
  const run = spawnSync(nasmCommand(), args, { encoding: 'utf8' });
  if (run.error || run.status !== 0) {
    const diagnostics = run.error ? String(run.error.message) : `${run.stderr}${run.stdout}`;
    throw new AssembleError(image.source, diagnostics.trim());
  }
  return outputPath;
}

/** Assemble every guest image into outDir; returns the output paths. */
export function buildAll(outDir) {
  return GUEST_IMAGES.map((image) => assembleImage(image, outDir));
}

/**
 * Assemble into a temporary directory and compare with the committed images.
 * Returns the list of outputs (relative to guests/) that differ or are missing.
 */
export function checkCommitted() {
  const scratch = mkdtempSync(join(tmpdir(), 'guests-check-'));
  try {
    buildAll(scratch);
    return GUEST_IMAGES.map((image) => image.output).filter(
      (output) => !sameBytes(join(scratch, output), join(GUESTS_DIR, output)),
    );
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

/** True when both files exist and hold identical bytes. */
function sameBytes(freshPath, committedPath) {
  if (!existsSync(committedPath)) return false;
  return readFileSync(freshPath).equals(readFileSync(committedPath));
}

/** Parse our small command line into { check, outDir } or throw a one-line Error. */
function parseCommandLine(argv) {
  const options = { check: false, outDir: GUESTS_DIR };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--check') options.check = true;
    else if (arg === '--out' && i + 1 < argv.length) options.outDir = resolve(argv[++i]);
    else throw new Error(`unknown or incomplete argument '${arg}' (use --check or --out DIR)`);
  }
  return options;
}

/** Command-line entry: returns the process exit status. */
function main(argv) {
  let options;
  try {
    options = parseCommandLine(argv);
  } catch (error) {
    console.error(`guests/build.mjs: ${error.message}`);
    return EXIT.usage;
  }
  if (!hasNasm()) {
    console.error(`guests/build.mjs: the assembler '${nasmCommand()}' was not found; ` +
      'install nasm (e.g. apt-get install nasm, or node test/setup-tools.mjs) to build guests');
    return EXIT.noNasm;
  }
  try {
    return options.check ? runCheck() : runBuild(options.outDir);
  } catch (error) {
    if (!(error instanceof AssembleError)) throw error;
    console.error(`guests/build.mjs: ${error.message}`);
    return EXIT.asmFailed;
  }
}

/** --check: report each image that differs from its source. */
function runCheck() {
  const differing = checkCommitted();
  for (const output of differing) {
    console.error(`guests/build.mjs: guests/${output} differs from what its source assembles to`);
  }
  if (differing.length > 0) {
    console.error('guests/build.mjs: run `node guests/build.mjs` and commit the .bin files');
    return EXIT.mismatch;
  }
  console.log(`guests/build.mjs: all ${GUEST_IMAGES.length} guest images are up to date`);
  return EXIT.ok;
}

/** Default mode: assemble every image into outDir and list what was written. */
function runBuild(outDir) {
  for (const path of buildAll(outDir)) console.log(`built ${relative(process.cwd(), path)}`);
  return EXIT.ok;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  process.exitCode = main(process.argv.slice(2));
}
