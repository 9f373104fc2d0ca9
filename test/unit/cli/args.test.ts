/**
 * Tests for the command-line parser: every option, its defaults, every kind of usage
 * error (the message must name the argument) and the number/size syntax edge cases.
 */
import { describe, expect, it } from 'vitest';
import {
  REAL_GUEST_MEMORY_BYTES,
  CliUsageError,
  DEFAULT_MEMORY_BYTES,
  parseArgs,
  parseInteger,
  parseSize,
  usage,
} from '../../../src/cli/args.js';

const KiB = 1024;
const MiB = 1024 * KiB;
const GiB = 1024 * MiB;

/** Parse argv expecting a CliUsageError; returns it. */
function usageErrorOf(argv: string[]): CliUsageError {
  try {
    parseArgs(argv);
  } catch (error) {
    expect(error).toBeInstanceOf(CliUsageError);
    return error as CliUsageError;
  }
  throw new Error(`parseArgs(${JSON.stringify(argv)}) did not throw`);
}

/** Expect argv to be rejected with a one-line message that names `argument`. */
function expectRejected(argv: string[], argument: string, hint?: RegExp): void {
  const error = usageErrorOf(argv);
  expect(error.argument).toBe(argument);
  expect(error.message).toContain(argument);
  expect(error.message).not.toContain('\n');
  if (hint) expect(error.message).toMatch(hint);
}

describe('parseArgs defaults', () => {
  it('gives an empty image list and the documented defaults for no arguments', () => {
    expect(parseArgs([])).toEqual({
      loads: [],
      images: [],
      memoryBytes: DEFAULT_MEMORY_BYTES,
      exitCodeStyle: 'plain',
      debugIo: false,
      echoE9: true,
      help: false,
      noReboot: false,
      disks: [],
      virtioConsole: false,
    });
    expect(DEFAULT_MEMORY_BYTES).toBe(16 * MiB);
  });

  it('returns plain data without optional keys that were not given', () => {
    const config = parseArgs([]);
    expect('rom' in config).toBe(false);
    expect('entry' in config).toBe(false);
    expect('maxInstructions' in config).toBe(false);
    expect(JSON.parse(JSON.stringify(config))).toEqual(config);
  });
});

describe('ROM image', () => {
  it('accepts a positional ROM', () => {
    const config = parseArgs(['guests/hello/hello.bin']);
    expect(config.rom).toBe('guests/hello/hello.bin');
    expect(config.images).toEqual(['guests/hello/hello.bin']);
  });

  it('accepts --rom FILE and --rom=FILE', () => {
    expect(parseArgs(['--rom', 'a.bin']).rom).toBe('a.bin');
    expect(parseArgs(['--rom=b.bin']).rom).toBe('b.bin');
  });

  it('takes arguments after -- as positional, even with a leading dash', () => {
    expect(parseArgs(['--', '-odd.bin']).rom).toBe('-odd.bin');
  });

  it('rejects two ROMs in any spelling', () => {
    expectRejected(['a.bin', 'b.bin'], 'b.bin', /only one ROM/);
    expectRejected(['--rom', 'a.bin', 'b.bin'], 'b.bin');
    expectRejected(['a.bin', '--rom', 'b.bin'], '--rom');
    expectRejected(['--rom=a.bin', '--rom=b.bin'], '--rom');
  });

  it('rejects --rom without a value', () => {
    expectRejected(['--rom'], '--rom', /missing value/);
    expectRejected(['--rom', '--debug-io'], '--rom', /missing value/);
    expectRejected(['--rom='], '--rom', /empty value/);
  });
});

describe('--load FILE@ADDR', () => {
  it('accepts hex, decimal and suffixed addresses, repeatedly, in order', () => {
    const config = parseArgs([
      '--load', 'kernel.bin@0x100000',
      '--load=initrd.img@16M',
      '--load', 'boot.bin@31744',
      '--load', 'low.bin@64k',
    ]);
    expect(config.loads).toEqual([
      { file: 'kernel.bin', address: 0x100000 },
      { file: 'initrd.img', address: 16 * MiB },
      { file: 'boot.bin', address: 0x7c00 },
      { file: 'low.bin', address: 64 * KiB },
    ]);
    expect(config.images).toEqual(['kernel.bin', 'initrd.img', 'boot.bin', 'low.bin']);
  });

  it('splits at the last @ so file names may contain @', () => {
    expect(parseArgs(['--load', 'a@b.bin@0x1000']).loads).toEqual([{ file: 'a@b.bin', address: 0x1000 }]);
  });

  it('lists the ROM before loaded images', () => {
    expect(parseArgs(['--load', 'x.bin@0', 'rom.bin']).images).toEqual(['rom.bin', 'x.bin']);
  });

  it('accepts the last byte of the 32-bit space and rejects 4G', () => {
    expect(parseArgs(['--load', 'x@0xFFFFFFFF']).loads[0]!.address).toBe(0xffffffff);
    expectRejected(['--load', 'x@4G'], '--load', /beyond 4G/);
    expectRejected(['--load', 'x@0x100000000'], '--load', /beyond 4G/);
  });

  it('rejects malformed values', () => {
    expectRejected(['--load', 'kernel.bin'], '--load', /FILE@ADDR/);
    expectRejected(['--load', '@0x1000'], '--load', /FILE@ADDR/);
    expectRejected(['--load', 'kernel.bin@'], '--load', /FILE@ADDR/);
    expectRejected(['--load', 'kernel.bin@0xZZ'], '--load', /bad size or address '0xZZ'/);
    expectRejected(['--load', 'kernel.bin@-5'], '--load', /bad size or address/);
    expectRejected(['--load'], '--load', /missing value/);
  });
});

describe('-m/--memory', () => {
  it('accepts suffixed, hex and plain byte sizes in every spelling', () => {
    expect(parseArgs(['-m', '16M']).memoryBytes).toBe(16 * MiB);
    expect(parseArgs(['-m', '1g']).memoryBytes).toBe(GiB);
    expect(parseArgs(['--memory', '2048K']).memoryBytes).toBe(2 * MiB);
    expect(parseArgs(['--memory=3G']).memoryBytes).toBe(3 * GiB);
    expect(parseArgs(['-m=1M']).memoryBytes).toBe(MiB);
    expect(parseArgs(['-m', '0x2000000']).memoryBytes).toBe(32 * MiB);
    expect(parseArgs(['-m', String(8 * MiB + 4096)]).memoryBytes).toBe(8 * MiB + 4096);
  });

  it('rejects sizes outside 1M..3G, naming the option', () => {
    expectRejected(['-m', '640K'], '-m', /between 1M and 3G/);
    expectRejected(['-m', String(MiB - 4096)], '-m', /between 1M and 3G/);
    expectRejected(['--memory', '3073M'], '--memory', /between 1M and 3G/);
    expectRejected(['-m', '0'], '-m', /between 1M and 3G/);
  });

  it('rejects sizes that are not a multiple of 4K', () => {
    expectRejected(['-m', String(16 * MiB + 1)], '-m', /multiple of 4K/);
    expectRejected(['-m', '1026K'], '-m', /multiple of 4K/);
  });

  it('rejects bad syntax', () => {
    for (const bad of ['16X', '16MB', '1.5G', '-1', ' 16M', '0x', 'M', '16 M']) {
      expectRejected(['-m', bad], '-m', bad.startsWith('-') ? /missing value/ : /bad size/);
    }
  });

  it('rejects a duplicate', () => {
    expectRejected(['-m', '16M', '--memory', '32M'], '--memory', /more than once/);
  });
});

describe('--entry SEG:OFF', () => {
  it('parses hex with or without 0x', () => {
    expect(parseArgs(['--entry', '0000:7C00']).entry).toEqual({ cs: 0, ip: 0x7c00 });
    expect(parseArgs(['--entry=0xF000:0xFFF0']).entry).toEqual({ cs: 0xf000, ip: 0xfff0 });
    expect(parseArgs(['--entry', '7c0:0']).entry).toEqual({ cs: 0x7c0, ip: 0 });
  });

  it('rejects malformed and out-of-range values', () => {
    expectRejected(['--entry', '7C00'], '--entry', /SEG:OFF/);
    expectRejected(['--entry', '0:7C00:1'], '--entry', /SEG:OFF/);
    expectRejected(['--entry', 'G000:0'], '--entry', /SEG:OFF/);
    expectRejected(['--entry', '10000:0'], '--entry', /at most FFFF/);
    expectRejected(['--entry', '0:10000'], '--entry', /at most FFFF/);
    expectRejected(['--entry', '0:0', '--entry', '0:1'], '--entry', /more than once/);
  });
});

describe('--exit-code', () => {
  it('accepts plain and qemu in both spellings', () => {
    expect(parseArgs(['--exit-code=qemu']).exitCodeStyle).toBe('qemu');
    expect(parseArgs(['--exit-code', 'plain']).exitCodeStyle).toBe('plain');
  });

  it('rejects other styles and duplicates', () => {
    expectRejected(['--exit-code=bochs'], '--exit-code', /'bochs' is not plain or qemu/);
    expectRejected(['--exit-code'], '--exit-code', /missing value/);
    expectRejected(['--exit-code=plain', '--exit-code=qemu'], '--exit-code', /more than once/);
  });
});

describe('--max-instructions', () => {
  it('accepts decimal and hex counts', () => {
    expect(parseArgs(['--max-instructions', '1000000']).maxInstructions).toBe(1_000_000);
    expect(parseArgs(['--max-instructions=0x100']).maxInstructions).toBe(256);
    expect(parseArgs(['--max-instructions', String(Number.MAX_SAFE_INTEGER)]).maxInstructions)
      .toBe(Number.MAX_SAFE_INTEGER);
  });

  it('rejects zero, suffixes, fractions, huge values and duplicates', () => {
    expectRejected(['--max-instructions', '0'], '--max-instructions', /at least 1/);
    expectRejected(['--max-instructions', '10M'], '--max-instructions', /bad number '10M'/);
    expectRejected(['--max-instructions', '1e6'], '--max-instructions', /bad number/);
    expectRejected(['--max-instructions', '1.5'], '--max-instructions', /bad number/);
    expectRejected(['--max-instructions', '99999999999999999999'], '--max-instructions', /too large/);
    expectRejected(['--max-instructions', '5', '--max-instructions', '6'], '--max-instructions', /more than once/);
  });
});

describe('flags', () => {
  it('sets --debug-io and --quiet-e9', () => {
    const config = parseArgs(['--debug-io', '--quiet-e9']);
    expect(config.debugIo).toBe(true);
    expect(config.echoE9).toBe(false);
  });

  it('rejects a value given to a flag', () => {
    expectRejected(['--debug-io=yes'], '--debug-io', /takes no value/);
    expectRejected(['--quiet-e9=1'], '--quiet-e9', /takes no value/);
  });
});

describe('help', () => {
  it('is recognised as -h and --help, before other problems', () => {
    expect(parseArgs(['-h']).help).toBe(true);
    expect(parseArgs(['--help']).help).toBe(true);
    expect(parseArgs(['--bogus', '--help']).help).toBe(true);
  });

  it('is not recognised after --', () => {
    expect(parseArgs(['--', '--help']).rom).toBe('--help');
  });

  it('usage mentions every option', () => {
    const text = usage();
    for (const option of ['--rom', '--load', '-m', '--memory', '--entry', '--exit-code',
      '--max-instructions', '--debug-io', '--quiet-e9', '--help']) {
      expect(text).toContain(option);
    }
  });
});

describe('unknown options', () => {
  it('names the option, without its inline value', () => {
    expectRejected(['--bogus'], '--bogus', /unknown option/);
    expectRejected(['--bogus=1'], '--bogus', /unknown option/);
    expectRejected(['-x'], '-x', /unknown option/);
    expectRejected(['-m16M'], '-m16M', /unknown option/);
  });
});

describe('parseSize and parseInteger', () => {
  it('apply binary suffixes case-insensitively', () => {
    expect(parseSize('x', '1k')).toBe(KiB);
    expect(parseSize('x', '1K')).toBe(KiB);
    expect(parseSize('x', '0x10M')).toBe(16 * MiB);
    expect(parseSize('x', '4G')).toBe(4 * GiB);
    expect(parseSize('x', '0')).toBe(0);
    expect(parseSize('x', '0XfF')).toBe(255);
  });

  it('reject overflow beyond safe integers', () => {
    expect(() => parseSize('x', '99999999999999G')).toThrow(/too large/);
  });

  it('parseInteger accepts no suffix and no sign', () => {
    expect(parseInteger('n', '42')).toBe(42);
    expect(() => parseInteger('n', '+42')).toThrow(CliUsageError);
    expect(() => parseInteger('n', '42k')).toThrow(/bad number/);
  });
});

describe('direct kernel boot options', () => {
  it('-kernel, -initrd, -append, -no-reboot and --clock are taken as QEMU spells them', () => {
    const c = parseArgs(['-kernel', 'vmlinuz', '-initrd', 'initrd.gz', '-append', 'console=ttyS0 quiet', '-no-reboot', '--clock=realtime']);
    expect(c.kernel).toBe('vmlinuz');
    expect(c.initrd).toBe('initrd.gz');
    expect(c.append).toBe('console=ttyS0 quiet');
    expect(c.noReboot).toBe(true);
    expect(c.clock).toBe('realtime');
    expect(c.images).toEqual(['vmlinuz', 'initrd.gz']);
  });

  it('-initrd and -append need a kernel; --clock takes only its two modes', () => {
    expect(() => parseArgs(['-initrd', 'x'])).toThrow(/^-initrd: needs -kernel/);
    expect(() => parseArgs(['-append', 'x'])).toThrow(/^-append: needs -kernel or --guest/);
    expect(() => parseArgs(['--clock', 'fast'])).toThrow(/^--clock: 'fast' is not deterministic or realtime/);
  });

  it('--guest debian boots the cached Debian guest with 256 MiB unless -m says otherwise; it excludes -kernel', () => {
    expect(parseArgs(['--guest', 'debian'])).toMatchObject({ guest: 'debian', memoryBytes: REAL_GUEST_MEMORY_BYTES });
    expect(parseArgs(['--guest', 'debian', '-m', '64M']).memoryBytes).toBe(64 * MiB);
    expect(() => parseArgs(['--guest', 'windows'])).toThrow(/^--guest: unknown guest 'windows' \(known: debian\)/);
    expect(() => parseArgs(['--guest', 'debian', '-kernel', 'k'])).toThrow(/^--guest: cannot be combined/);
  });
});

describe('virtio devices: --disk, --net-listen/--net-connect, --mac, --virtio-console', () => {
  it('collects disks in order with their format and read-only flag, and turns the console on', () => {
    const config = parseArgs(['--guest', 'debian', '--disk', 'a.qcow2', '--disk=b.img,format=raw,readonly']);
    expect(config.disks).toEqual([
      { file: 'a.qcow2', format: 'auto', readOnly: false },
      { file: 'b.img', format: 'raw', readOnly: true },
    ]);
    expect(config.virtioConsole).toBe(true);
    expect(config.net).toBeUndefined();
  });

  it('has no virtio device unless asked', () => {
    const config = parseArgs(['--guest', 'debian']);
    expect(config.disks).toEqual([]);
    expect(config.virtioConsole).toBe(false);
    expect(parseArgs(['--virtio-console']).virtioConsole).toBe(true);
  });

  it('takes one network link with the default or a given MAC', () => {
    expect(parseArgs(['--net-listen', '/tmp/s']).net).toEqual({ mode: 'listen', socketPath: '/tmp/s', mac: [0x52, 0x54, 0x00, 0x12, 0x34, 0x56] });
    expect(parseArgs(['--net-connect=/tmp/s', '--mac', '52:54:00:AB:cd:01']).net).toEqual({ mode: 'connect', socketPath: '/tmp/s', mac: [0x52, 0x54, 0x00, 0xab, 0xcd, 0x01] });
  });

  it('rejects bad disk options, two links, bad or multicast MACs and a MAC without a link', () => {
    expectRejected(['--disk', 'a.img,format=vmdk'], '--disk', /unknown disk option 'format=vmdk'/);
    expectRejected(['--disk', ',readonly'], '--disk', /names no file/);
    expectRejected(['--net-listen', '/a', '--net-connect', '/b'], '--net-connect', /only one/);
    expectRejected(['--net-listen', '/a', '--mac', '52:54:00:12:34'], '--mac', /not a MAC address/);
    expectRejected(['--net-listen', '/a', '--mac', '01:00:5e:00:00:01'], '--mac', /multicast/);
    expectRejected(['--mac', '52:54:00:12:34:56'], '--mac', /needs --net-listen or --net-connect/);
  });
});
