/**
 * The built node entry point as a real process: `node dist/src/cli/main.js` boots the
 * default guest, exits with the guest's status, reports usage errors on one stderr line,
 * and ends even while stdin stays open. Needs the compiled output (`npm test` builds it
 * first); without it the tests are skipped locally and fail under CI=true.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { findPackageRoot } from '../../../src/cli/run.js';

const root = findPackageRoot();
const mainJs = join(root, 'dist/src/cli/main.js');
const built = existsSync(mainJs);
const inCi = process.env.CI === 'true';

/** Output and status of one process run. */
interface ProcessResult {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** Run main.js with `args`; `keepStdinOpen` leaves a pipe on stdin that is never closed. */
function runMain(args: string[], keepStdinOpen = false): Promise<ProcessResult> {
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, [mainJs, ...args], {
      cwd: root,
      stdio: [keepStdinOpen ? 'pipe' : 'ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    if (!child.stdout || !child.stderr) throw new Error('spawn gave no stdout/stderr pipes');
    child.stdout.setEncoding('latin1').on('data', (s: string) => (stdout += s));
    child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
    child.on('error', fail);
    child.on('close', (status) => done({ status, stdout, stderr }));
  });
}

describe('node dist/src/cli/main.js', () => {
  if (!built && inCi) {
    it('is built before the tests run', () => {
      expect.fail(`${mainJs} is missing: run 'npx tsc -p tsconfig.json' (npm test builds it)`);
    });
    return;
  }
  /** `it`, or a skip whose title says why when the entry point is not built. */
  const itBuilt = (title: string, body: () => Promise<void>): void => {
    if (built) it(title, body);
    else it.skip(`${title} [skipped: ${mainJs} not built; run 'npx tsc -p tsconfig.json']`, body);
  };

  itBuilt('boots the hello guest: its line on stdout, status 0', async () => {
    const r = await runMain([]);
    expect(r.stdout).toBe('Hello from the hello guest!\r\n');
    expect(r.stderr).toBe('[e9] Hello from the hello guest!\n');
    expect(r.status).toBe(0);
  });

  itBuilt('--memory 7x exits 2 with exactly one stderr line', async () => {
    const r = await runMain(['--memory', '7x']);
    expect(r.status).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr.endsWith('\n')).toBe(true);
    expect(r.stderr.trimEnd().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/^error: --memory: .*7x.*\(see --help\)\n$/);
  });

  itBuilt('exits when the guest does, though stdin is still an open pipe', async () => {
    const r = await runMain(['--quiet-e9', '--exit-code=qemu'], true);
    expect(r.stdout).toBe('Hello from the hello guest!\r\n');
    expect(r.status).toBe(1);
  });
});
