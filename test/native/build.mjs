// Builds the native runner of the host-CPU differential test (test/native/x86-exec.c) with
// `gcc -m32 -O1` into node_modules/.cache/x86-diff/ (git-ignored), rebuilding only when the
// source is newer than the binary. Usable from the tests (`buildNativeRunner()`) and by hand:
//
//   node test/native/build.mjs        # prints the binary's path, or why it cannot be built
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, statSync, renameSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
/** The runner's C source. */
export const RUNNER_SOURCE = resolve(here, 'x86-exec.c');
/** Where the binary goes. */
export const RUNNER_BINARY = resolve(here, '../../node_modules/.cache/x86-diff/x86-exec');

/**
 * Compiler flags: a 32-bit, non-PIE executable whose text starts at 0x40000000, so that the
 * low pages the runner maps at fixed addresses (0x00100000 code, 0x00200000 data) are free.
 */
export const GCC_ARGS = ['-m32', '-O1', '-Wall', '-Wextra', '-no-pie', '-Wl,-Ttext-segment=0x40000000'];

/**
 * Build the runner if it is missing or older than its source. Returns `{ path }` on success
 * or `{ error }` with the compiler's message (e.g. gcc or its 32-bit libraries missing).
 */
export function buildNativeRunner() {
  if (existsSync(RUNNER_BINARY) && statSync(RUNNER_BINARY).mtimeMs >= statSync(RUNNER_SOURCE).mtimeMs) {
    return { path: RUNNER_BINARY };
  }
  mkdirSync(dirname(RUNNER_BINARY), { recursive: true });
  const tmp = `${RUNNER_BINARY}.${process.pid}.tmp`;
  const run = spawnSync('gcc', [...GCC_ARGS, '-o', tmp, RUNNER_SOURCE], { encoding: 'utf8' });
  if (run.error) return { error: `cannot run gcc: ${run.error.message}` };
  if (run.status !== 0) return { error: `gcc -m32 failed (status ${run.status}):\n${run.stderr.trim()}` };
  renameSync(tmp, RUNNER_BINARY);
  return { path: RUNNER_BINARY };
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const r = buildNativeRunner();
  if (r.error) {
    console.error(`x86-exec: ${r.error}`);
    process.exit(1);
  }
  console.log(r.path);
}
