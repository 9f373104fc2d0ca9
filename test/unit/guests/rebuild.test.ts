/**
 * Guest ROM images: the committed .bin files must be exactly what guests/build.mjs makes
 * from the sources, and each must have the reset-vector layout the emulator expects
 * (4 KiB, far jump to F000:start in the last 16 bytes).
 *
 * Needs nasm for the rebuild check: without it the check fails in CI (CI=true) and is
 * skipped elsewhere.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const REPO_ROOT = fileURLToPath(new URL('../../..', import.meta.url));
const BUILD_SCRIPT = join(REPO_ROOT, 'guests', 'build.mjs');

/** Committed images, relative to guests/. */
const IMAGES = ['hello/hello.bin', 'bench/bench.bin', 'bench/bench-short.bin'];

const ROM_SIZE = 4096;
const RESET_SLOT_OFFSET = ROM_SIZE - 16;
const FAR_JMP_OPCODE = 0xea;
const ROM_SEGMENT = 0xf000;
/** With CS=F000 the 4 KiB image is seen at offsets F000..FFFF. */
const IMAGE_FIRST_OFFSET = 0x10000 - ROM_SIZE;

/** True when nasm (or $NASM) can be started. */
function nasmAvailable(): boolean {
  const probe = spawnSync(process.env.NASM || 'nasm', ['-v'], { stdio: 'ignore' });
  return !probe.error && probe.status === 0;
}

const hasNasm = nasmAvailable();
const inCi = process.env.CI === 'true';

/** Title that says why the rebuild check is skipped when it is. */
const REBUILD_TITLE = hasNasm || inCi
  ? 'committed .bin files match what guests/build.mjs --check assembles'
  : 'committed .bin files match their sources (skipped: nasm is not installed and CI is not set)';

describe('guest images rebuild from source', () => {
  it.skipIf(!hasNasm && !inCi)(REBUILD_TITLE, () => {
    if (!hasNasm) {
      expect.fail('nasm is required in CI (CI=true) to check the guest images; ' +
        'install it with node test/setup-tools.mjs or apt-get install nasm');
    }
    const run = spawnSync(process.execPath, [BUILD_SCRIPT, '--check'], { encoding: 'utf8' });
    expect(run.stderr, run.stdout).toBe('');
    expect(run.status).toBe(0);
  });
});

describe.each(IMAGES)('guest image %s', (image) => {
  const bytes = readFileSync(join(REPO_ROOT, 'guests', image));

  it('is exactly 4096 bytes', () => {
    expect(bytes.length).toBe(ROM_SIZE);
  });

  it('starts with a far jump to F000:start in the reset slot', () => {
    expect(bytes[RESET_SLOT_OFFSET]).toBe(FAR_JMP_OPCODE);
    const targetOffset = bytes.readUInt16LE(RESET_SLOT_OFFSET + 1);
    const targetSegment = bytes.readUInt16LE(RESET_SLOT_OFFSET + 3);
    expect(targetSegment).toBe(ROM_SEGMENT);
    expect(targetOffset).toBeGreaterThanOrEqual(IMAGE_FIRST_OFFSET);
    expect(targetOffset).toBeLessThan(IMAGE_FIRST_OFFSET + RESET_SLOT_OFFSET);
  });
});
