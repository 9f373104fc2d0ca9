/**
 * The package root (the folder holding package.json) above a bench module, whether it runs
 * from test/bench (TS) or dist/test/bench (built).
 */
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The package root above the module at `moduleUrl` (pass `import.meta.url`). */
export function packageRoot(moduleUrl: string): string {
  for (let d = dirname(fileURLToPath(moduleUrl)); ; d = dirname(d)) {
    try {
      readFileSync(resolve(d, 'package.json'));
      return d;
    } catch {
      if (dirname(d) === d) throw new Error(`bench: cannot find the package root above ${moduleUrl}`);
    }
  }
}
