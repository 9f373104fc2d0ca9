/**
 * Our protected-mode guest kernels (guests/pm/*.asm, guests/bench/bench32.asm) on the PC
 * board: each ROM starts at the reset vector, enters protected mode itself and reports
 * TAP over COM1 ("1..N", then "ok K - ..." / "not ok K - ... (got X, expected Y)") before
 * leaving through the debug-exit port with 0 when every check passed.
 *
 * For each TAP guest the test asserts: the guest exits with 0, it prints the plan "1..N"
 * with the N listed here, exactly N `ok` lines numbered 1..N, no `not ok`, no `# SKIP`
 * (our CPU is a 686 and must have everything the guests probe) and no bail-out. A
 * failing check shows the guest's own line, which names what was expected.
 *
 * pm-triple faults on purpose; the board must report the triple fault.
 *
 * The same guests are validated on QEMU (guests/pm/run-qemu.sh); see guests/README.md for
 * the checks QEMU's TCG does not implement.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { StopReason } from '../../../src/machine/pc.js';
import { Host } from '../../../src/vmm/host.js';

const GUESTS = new URL('../../../guests/', import.meta.url);
const MEMORY_BYTES = 16 << 20;
/** Generous: the largest TAP guest runs well under a million instructions. */
const INSTRUCTION_LIMIT = 50_000_000;

/** What a run produced: why it stopped (or the error the CPU threw) and the COM1 text. */
interface GuestResult {
  readonly stop: StopReason | { readonly kind: 'error'; readonly message: string };
  readonly serial: string;
}

/** Boot one ROM image from guests/ and run it until it stops. */
function runGuest(image: string, limit = INSTRUCTION_LIMIT): GuestResult {
  const rom = new Uint8Array(readFileSync(new URL(image, GUESTS)));
  const host = new Host({ maxFrames: 8192 });
  let serial = '';
  const vm = host.createMachine('pm-guest', {
    memoryBytes: MEMORY_BYTES, rom: { name: image, data: rom },
    serialOut: (b) => { serial += String.fromCharCode(b); },
  });
  try {
    return { stop: vm.run(limit), serial };
  } catch (error) {
    return { stop: { kind: 'error', message: (error as Error).message }, serial };
  } finally {
    host.destroyMachine('pm-guest');
  }
}

/**
 * The TAP guests and the number of checks each plans. The plan is written here rather
 * than trusted from the guest, so a guest that silently drops checks fails.
 */
const TAP_GUESTS = [
  ['pm/pm-rings.bin', 136],
  ['pm/pm-paging.bin', 60],
  ['pm/pm-exceptions.bin', 49],
  ['pm/pm-tasks.bin', 62],
  ['pm/pm-v86.bin', 40],
  ['pm/pm-fpu.bin', 79],
] as const;

describe.each(TAP_GUESTS)('protected-mode guest %s', (image, planned) => {
  let result: GuestResult | undefined;
  const run = (): GuestResult => (result ??= runGuest(image));

  it('exits through the debug port with 0', () => {
    const { stop, serial } = run();
    const notOk = serial.split(/\r?\n/).filter((l) => l !== '' && !l.startsWith('ok ')).join('\n');
    expect(stop, notOk).toEqual({ kind: 'exit', value: 0 });
  });

  it(`prints the plan 1..${planned}`, () => {
    const { serial } = run();
    expect(serial.split(/\r?\n/)).toContain(`1..${planned}`);
  });

  it('reports every check as ok, in order, with no failures, skips or bail-out', () => {
    const lines = run().serial.split(/\r?\n/);
    const failures = lines.filter((l) => /^not ok /.test(l) || /^Bail out!/.test(l));
    expect(failures).toEqual([]);
    const skips = lines.filter((l) => /^ok \d+ .*# SKIP/.test(l));
    expect(skips).toEqual([]);
    const numbers = lines.filter((l) => /^ok \d+ - /.test(l)).map((l) => Number(/^ok (\d+)/.exec(l)![1]));
    expect(numbers).toEqual(Array.from({ length: planned }, (_, k) => k + 1));
  });
});

/** Every image built from the protected-mode library. */
const ALL_PM_IMAGES = [
  ...TAP_GUESTS.map(([image]) => image), 'pm/pm-triple.bin',
  'bench/bench32-flat.bin', 'bench/bench32-paged.bin', 'bench/bench32-flat-short.bin', 'bench/bench32-paged-short.bin',
];

describe.each(ALL_PM_IMAGES)('image layout of %s', (image) => {
  it('is a multiple of 4 KiB up to 64 KiB whose reset slot far-jumps to F000:start inside it', () => {
    const bytes = readFileSync(new URL(image, GUESTS));
    expect(bytes.length % 4096).toBe(0);
    expect(bytes.length).toBeLessThanOrEqual(0x10000);
    const slot = bytes.length - 16;
    expect(bytes[slot]).toBe(0xea);
    expect(bytes.readUInt16LE(slot + 3)).toBe(0xf000);
    const target = bytes.readUInt16LE(slot + 1);
    expect(target).toBeGreaterThanOrEqual(0x10000 - bytes.length);
    expect(target).toBeLessThan(0x10000 - 16);
  });
});

describe('the triple-fault guest', () => {
  it("with onTripleFault: 'reset' the board resets the machine and the guest boots again", () => {
    const rom = new Uint8Array(readFileSync(new URL('pm/pm-triple.bin', GUESTS)));
    const host = new Host({ maxFrames: 8192 });
    let serial = '';
    const vm = host.createMachine('pm-triple-reset', {
      memoryBytes: MEMORY_BYTES, rom: { name: 'pm-triple.bin', data: rom }, onTripleFault: 'reset',
      serialOut: (b) => { serial += String.fromCharCode(b); },
    });
    try {
      let stop = vm.run(50_000);
      while (vm.resets < 3 && stop.kind === 'limit') stop = vm.run(50_000);
      expect(stop.kind).toBe('limit');
      expect(vm.resets).toBeGreaterThanOrEqual(3);
      // Each reset boots the ROM from the reset vector again: one banner per boot.
      const banners = serial.split('# pm-triple: triple-faulting now\r\n').length - 1;
      expect(banners === vm.resets || banners === vm.resets + 1).toBe(true);
    } finally {
      host.destroyMachine('pm-triple-reset');
    }
  });

  it('pm/pm-triple.bin ends in a triple fault that the board reports, after its banner', () => {
    const { stop, serial } = runGuest('pm/pm-triple.bin');
    expect(serial).toBe('# pm-triple: triple-faulting now\r\n');
    expect(stop).toEqual({ kind: 'triple-fault' });
  });
});

describe('protected-mode benchmark guests (short builds)', () => {
  it.each([
    ['bench/bench32-flat-short.bin', 'flat'],
    ['bench/bench32-paged-short.bin', 'paged'],
  ])('%s prints the same primes and checksum as the real-mode bench and exits with 0', (image, mode) => {
    const { stop, serial } = runGuest(image);
    expect(serial).toContain(`bench32: mode=${mode} repeats=1 primes=6179 checksum=E9D772FC\r\n`);
    expect(stop).toEqual({ kind: 'exit', value: 0 });
  });
});
