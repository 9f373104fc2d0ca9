/**
 * Test helper: assemble a NASM source string to a flat binary (`nasm -f bin`), for tests
 * that are clearer written as assembly than as byte arrays. Results are cached per source
 * for the life of the test process. nasm is installed by test/setup-tools.mjs.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const cache = new Map<string, Uint8Array>();

/** Assemble `source` (full NASM text, including `bits`/`org`) and return the bytes. */
export function assemble(source: string): Uint8Array {
  const hit = cache.get(source);
  if (hit) return hit;
  const dir = mkdtempSync(join(tmpdir(), 'nasm-'));
  try {
    const src = join(dir, 'in.asm'), out = join(dir, 'out.bin');
    writeFileSync(src, source);
    try {
      execFileSync('nasm', ['-f', 'bin', '-o', out, src], { stdio: ['ignore', 'pipe', 'pipe'] });
    } catch (e) {
      const err = e as { stderr?: Buffer };
      throw new Error(`nasm failed:\n${err.stderr?.toString() ?? String(e)}\n--- source ---\n${source}`);
    }
    const bytes = new Uint8Array(readFileSync(out));
    cache.set(source, bytes);
    return bytes;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
