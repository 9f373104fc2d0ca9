/**
 * Helpers for the storage tests: temporary directories, deterministic byte patterns and a
 * seeded PRNG, and wrappers around qemu-img / qemu-io (from Debian's qemu-utils, installed
 * by test/setup-tools.mjs). A missing tool makes the calling test fail with the install
 * command; these tests are never skipped.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Throw (failing the test) with an install hint when `tool` cannot be started. */
export function requireTool(tool: string): void {
  const probe = spawnSync(tool, ['--version'], { stdio: 'ignore' });
  if (probe.error) {
    throw new Error(`${tool} is not installed: run \`node test/setup-tools.mjs\` as root or \`apt-get install qemu-utils\` (it provides qemu-img and qemu-io)`);
  }
}

/** Run a tool and return its stdout; a non-zero exit throws with its stderr. */
export function run(tool: string, args: string[]): string {
  requireTool(tool);
  try {
    return execFileSync(tool, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (e) {
    const err = e as { status?: number; stdout?: string; stderr?: string };
    throw new Error(`${tool} ${args.join(' ')} exited with ${err.status}:\n${err.stdout ?? ''}${err.stderr ?? String(e)}`);
  }
}

/** `qemu-img <args>`. */
export function qemuImg(...args: string[]): string {
  return run('qemu-img', args);
}

/** `qemu-io -f <format> -c <command>... <path>`. */
export function qemuIo(path: string, format: 'raw' | 'qcow2', ...commands: string[]): string {
  return run('qemu-io', ['-f', format, ...commands.flatMap((c) => ['-c', c]), path]);
}

/** Result of `qemu-img check`: exit status and the parsed JSON report. */
export interface CheckResult {
  status: number;
  report: { 'check-errors': number; corruptions?: number; leaks?: number; 'corruptions-fixed'?: number; 'leaks-fixed'?: number };
  text: string;
}

/** Run `qemu-img check --output=json` (exit 0 = clean, 2 = corruptions, 3 = leaks). */
export function qemuCheck(path: string): CheckResult {
  requireTool('qemu-img');
  const out = spawnSync('qemu-img', ['check', '--output=json', '-f', 'qcow2', path], { encoding: 'utf8' });
  const text = `${out.stdout}${out.stderr}`;
  let report: CheckResult['report'];
  try {
    report = JSON.parse(out.stdout);
  } catch {
    throw new Error(`qemu-img check printed no JSON (exit ${out.status}):\n${text}`);
  }
  return { status: out.status ?? -1, report, text };
}

/** `qemu-img info --output=json` parsed. */
export function qemuInfo(path: string): Record<string, unknown> {
  return JSON.parse(qemuImg('info', '--output=json', path)) as Record<string, unknown>;
}

/** A fresh temporary directory and a function removing it. */
export function tempDir(prefix: string): { dir: string; path: (name: string) => string; remove: () => void } {
  const dir = mkdtempSync(join(tmpdir(), `${prefix}-`));
  return { dir, path: (name) => join(dir, name), remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** A small seeded PRNG (xorshift32), so random tests are reproducible from their seed. */
export class Prng {
  private state: number;
  constructor(seed: number) {
    this.state = seed >>> 0 || 0x9e3779b9;
  }
  /** Next 32-bit value. */
  next(): number {
    let x = this.state;
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    this.state = x >>> 0;
    return this.state;
  }
  /** Integer in [0, n). */
  below(n: number): number {
    return Math.floor((this.next() / 0x1_0000_0000) * n);
  }
}

/** `length` bytes of a deterministic pattern derived from `seed` (never all zero). */
export function pattern(length: number, seed: number): Uint8Array {
  const rng = new Prng(seed * 2654435761 + 1);
  const out = new Uint8Array(length);
  for (let i = 0; i < length; i++) out[i] = rng.next() & 0xff;
  if (length > 0) out[0] |= 1;
  return out;
}

/** Index of the first differing byte, or -1 when equal (for readable assertion failures). */
export function firstDifference(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return i;
  return a.length === b.length ? -1 : n;
}

/** Assert two byte arrays are equal, reporting the first difference (fast on large arrays). */
export function expectSameBytes(actual: Uint8Array, expected: Uint8Array, what = 'bytes'): void {
  const at = firstDifference(actual, expected);
  if (at !== -1) {
    throw new Error(`${what} differ at byte ${at} (lengths ${actual.length} / ${expected.length}): got ${actual[at]}, expected ${expected[at]}`);
  }
}
