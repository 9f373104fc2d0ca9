/**
 * Test helper: make sure the release WASM kernels exist (dist/wasm/kernels.release.wasm),
 * building them with `npm run build:wasm` when a test file runs before the build (e.g. a
 * single test file run straight from vitest). `npm test` builds them first anyway.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';

/** Where the release module is. */
export const RELEASE_WASM = new URL('../../dist/wasm/kernels.release.wasm', import.meta.url);

/** Build the WASM kernels unless `ready()` (default: the release file exists) says they are current. */
export function ensureReleaseWasm(ready: () => boolean = () => existsSync(RELEASE_WASM)): void {
  if (ready()) return;
  const build = spawnSync('npm', ['run', 'build:wasm'], { cwd: new URL('../..', import.meta.url).pathname, encoding: 'utf8' });
  if (build.status !== 0) throw new Error(`npm run build:wasm failed:\n${build.stdout}\n${build.stderr}`);
}
