// Makes sure the external tools the test suite needs are installed (today: nasm, which
// rebuilds the guest ROMs for test/unit/guests/rebuild.test.ts, a gcc that builds 32-bit
// programs, for the native runner of test/differential/host-cpu.test.ts, and qemu-utils and
// e2fsprogs for the storage tests, which fail with an install hint when they are missing).
//
//   node test/setup-tools.mjs
//
// When a tool is missing and we run as root on a Debian-like system (apt-get present),
// it is installed with apt-get. Otherwise, or if that fails, the reason is printed and the
// script still exits 0: the tests that need the tool then fail in CI or skip elsewhere.
// Fast and silent apart from one line when everything is already present.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Debian packages that provide the tools the tests need, keyed by command name. */
export const REQUIRED_TOOLS = Object.freeze({
  nasm: 'nasm',
  'gcc -m32': 'gcc-multilib',
  // Storage tests (test/unit/storage): qemu-img/qemu-io make and check images; mke2fs and
  // debugfs build and inspect ext2 file systems on disk images.
  'qemu-img': 'qemu-utils',
  'qemu-io': 'qemu-utils',
  mke2fs: 'e2fsprogs',
  debugfs: 'e2fsprogs',
});

/** True when the command can be started (probed with `-v`, which nasm and apt-get accept). */
export function commandExists(command) {
  const probe = spawnSync(command, ['-v'], { stdio: 'ignore' });
  return !probe.error;
}

/**
 * True when `gcc -m32` can compile and link a program (gcc alone is not enough: the 32-bit
 * C library and libgcc come with Debian's gcc-multilib).
 */
export function gccM32Works() {
  const dir = mkdtempSync(join(tmpdir(), 'setup-tools-'));
  try {
    const src = join(dir, 'probe.c');
    writeFileSync(src, 'int main(void) { return 0; }\n');
    const probe = spawnSync('gcc', ['-m32', '-o', join(dir, 'probe'), src], { stdio: 'ignore' });
    return !probe.error && probe.status === 0;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** True when a required tool is usable (`gcc -m32` is probed by compiling; others with `-v`). */
function toolPresent(command) {
  return command === 'gcc -m32' ? gccM32Works() : commandExists(command);
}

/** True when this process runs as root (POSIX only; false elsewhere). */
function isRoot() {
  return typeof process.getuid === 'function' && process.getuid() === 0;
}

/** Run one apt-get step non-interactively; returns true on success. */
function runAptGet(args, log) {
  log(`setup-tools: apt-get ${args.join(' ')}`);
  const run = spawnSync('apt-get', args, {
    stdio: ['ignore', 'inherit', 'inherit'],
    env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
  });
  return !run.error && run.status === 0;
}

/** Explain why a missing package cannot be installed here, or return null if it can. */
function whyCannotInstall() {
  if (!commandExists('apt-get')) return 'apt-get is not available (not a Debian-like system)';
  if (!isRoot()) return 'not running as root, so apt-get install is not possible';
  return null;
}

/** Try to install one Debian package; returns true when the command then exists. */
function installWithApt(command, debianPackage, log) {
  const obstacle = whyCannotInstall();
  if (obstacle) {
    log(`setup-tools: ${command} is missing and ${obstacle}; install the '${debianPackage}' package by hand`);
    return false;
  }
  log(`setup-tools: ${command} is missing; installing the Debian package '${debianPackage}'`);
  if (!runAptGet(['update', '-qq'], log)) log('setup-tools: apt-get update failed; trying the install anyway');
  if (!runAptGet(['install', '-y', '-qq', debianPackage], log)) {
    log(`setup-tools: apt-get install ${debianPackage} failed`);
  }
  return toolPresent(command);
}

/**
 * Ensure every required tool exists, installing missing ones when possible.
 * Returns the names of tools that are still missing (empty when all are present).
 */
export function ensureTools(log = (line) => console.log(line)) {
  const missing = [];
  for (const [command, debianPackage] of Object.entries(REQUIRED_TOOLS)) {
    if (toolPresent(command)) continue;
    if (installWithApt(command, debianPackage, log)) {
      log(`setup-tools: ${command} installed`);
    } else {
      log(`setup-tools: ${command} is still missing; tests that need it fail in CI and are skipped elsewhere`);
      missing.push(command);
    }
  }
  if (missing.length === 0) log(`setup-tools: ok (${Object.keys(REQUIRED_TOOLS).join(', ')})`);
  return missing;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  ensureTools();
}
