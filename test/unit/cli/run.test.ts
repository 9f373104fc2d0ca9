/**
 * The CLI run loop with injected I/O: booting the default and named guests, raw loads
 * with a real-mode entry, every exit-status path (guest value plain/qemu, halt, limit,
 * usage and image errors, host errors), stderr diagnostics, and stdin reaching COM1.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { afterAll, describe, expect, it } from 'vitest';
import {
  EXIT_HALTED,
  EXIT_LIMIT,
  EXIT_USAGE,
  exitStatusFor,
  findPackageRoot,
  runCli,
  type CliIo,
} from '../../../src/cli/run.js';

const tempDir = mkdtempSync(join(tmpdir(), 'cli-run-'));
afterAll(() => rmSync(tempDir, { recursive: true, force: true }));

/** Write a tiny guest to the temp dir; returns its path. */
function guestFile(name: string, bytes: number[]): string {
  const path = join(tempDir, name);
  writeFileSync(path, new Uint8Array(bytes));
  return path;
}

/** mov al, 7; out 0xF4, al */
const EXIT_7 = guestFile('exit7.bin', [0xb0, 0x07, 0xe6, 0xf4]);
/** jmp $ */
const LOOP = guestFile('loop.bin', [0xeb, 0xfe]);
/** cli; hlt */
const HALT = guestFile('halt.bin', [0xfa, 0xf4]);
/** Echo COM1 input to COM1 output until 'q', then exit with 42. */
const ECHO = guestFile('echo.bin', [
  0xba, 0xfd, 0x03, //       start: mov dx, 0x3FD (LSR)
  0xec, //                   poll:  in al, dx
  0xa8, 0x01, //                    test al, 1 (data ready)
  0x74, 0xfb, //                    jz poll
  0xba, 0xf8, 0x03, //              mov dx, 0x3F8 (RBR/THR)
  0xec, //                          in al, dx
  0xee, //                          out dx, al
  0x3c, 0x71, //                    cmp al, 'q'
  0x75, 0xef, //                    jne start
  0xb0, 0x2a, //                    mov al, 42
  0xe6, 0xf4, //                    out 0xF4, al
  0xf4, //                          hlt
]);
/** in al, 0xEE; out 0xEE, al; mov al, 5; out 0xF4, al — touches an unclaimed port. */
const UNCLAIMED_IO = guestFile('io.bin', [0xe4, 0xee, 0xe6, 0xee, 0xb0, 0x05, 0xe6, 0xf4]);
/**
 * mov eax, cr0; or al, 1; mov cr0, eax — enters protected mode, which the CPU reports as
 * a host error while protected mode is unimplemented.
 */
const ENTER_PROTECTED_MODE = guestFile('pe.bin', [0x0f, 0x20, 0xc0, 0x0c, 0x01, 0x0f, 0x22, 0xc0, 0xeb, 0xfe]);
/** 1000 bytes: not a valid ROM size. */
const ODD_ROM = guestFile('odd.bin', new Array<number>(1000).fill(0xf4));

const BENCH_SHORT = join(findPackageRoot(), 'guests/bench/bench-short.bin');

/** Captured output of one run. */
interface Captured {
  status: number;
  stdout: string;
  stdoutChunks: number;
  stderrLines: string[];
}

/** Run the CLI with in-memory I/O and the real file system. */
async function run(argv: string[], stdin?: NodeJS.ReadableStream): Promise<Captured> {
  const out: Uint8Array[] = [];
  let stderr = '';
  const io: CliIo = {
    stdout: (s) => out.push(typeof s === 'string' ? new TextEncoder().encode(s) : s),
    stderr: (s) => {
      stderr += s;
    },
    readFile: (path) => readFileSync(path),
    ...(stdin ? { stdin } : {}),
  };
  const status = await runCli(argv, io);
  const stdout = Buffer.concat(out).toString('latin1');
  const stderrLines = stderr === '' ? [] : stderr.replace(/\n$/, '').split('\n');
  return { status, stdout, stdoutChunks: out.length, stderrLines };
}

/** Arguments that run a raw guest at 0000:7C00 with no ROM. */
function rawGuest(path: string): string[] {
  return ['--load', `${path}@0x7c00`, '--entry', '0:7c00'];
}

describe('runCli: booting guests', () => {
  it('boots the default hello guest: serial line on stdout, e9 line on stderr, status 0', async () => {
    const r = await run([]);
    expect(r.status).toBe(0);
    expect(r.stdout).toBe('Hello from the hello guest!\r\n');
    expect(r.stderrLines).toEqual(['[e9] Hello from the hello guest!']);
  });

  it('buffers serial output instead of writing byte by byte', async () => {
    const r = await run([]);
    expect(r.stdoutChunks).toBe(1);
  });

  it('--quiet-e9 suppresses the debug console echo', async () => {
    const r = await run(['--quiet-e9']);
    expect(r.status).toBe(0);
    expect(r.stdout).toBe('Hello from the hello guest!\r\n');
    expect(r.stderrLines).toEqual([]);
  });

  it('--exit-code=qemu maps the hello guest exit value 0 to status 1', async () => {
    const r = await run(['--exit-code=qemu']);
    expect(r.status).toBe(1);
    expect(r.stdout).toBe('Hello from the hello guest!\r\n');
  });

  it('runs a ROM given as a positional argument (bench-short)', async () => {
    const r = await run(['--quiet-e9', BENCH_SHORT]);
    expect(r.stdout).toBe('bench: repeats=1 primes=6179 checksum=E9D772FC\r\n');
    expect(r.status).toBe(0);
  });

  it('--load FILE@ADDR with --entry runs a raw guest and returns its exit value', async () => {
    const r = await run(rawGuest(EXIT_7));
    expect(r.status).toBe(7);
    expect(r.stdout).toBe('');
    expect(r.stderrLines).toEqual([]);
  });

  it('--exit-code=qemu maps exit value 7 to 15', async () => {
    const r = await run([...rawGuest(EXIT_7), '--exit-code', 'qemu']);
    expect(r.status).toBe(15);
  });

  it('--help prints the usage and exit statuses to stdout and returns 0', async () => {
    const r = await run(['--help']);
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^usage: /);
    expect(r.stdout).toMatch(/Exit status/);
    expect(r.stdout).toMatch(/130 Ctrl-C/);
    expect(r.stderrLines).toEqual([]);
  });
});

describe('runCli: stop reasons', () => {
  it('--max-instructions stops an endless loop with status 3 and one stderr line', async () => {
    const r = await run([...rawGuest(LOOP), '--max-instructions', '3000000']);
    expect(r.status).toBe(EXIT_LIMIT);
    expect(r.stderrLines).toHaveLength(1);
    expect(r.stderrLines[0]).toMatch(/instruction limit reached \(3000000 instructions/);
  });

  it('a guest that halts with interrupts off returns 1 and says so', async () => {
    const r = await run(rawGuest(HALT));
    expect(r.status).toBe(EXIT_HALTED);
    expect(r.stderrLines).toEqual(['guest halted with nothing to wake it (after 2 instructions)']);
  });

  it('a guest that enters protected mode keeps running (to the instruction limit here)', async () => {
    const r = await run([...rawGuest(ENTER_PROTECTED_MODE), '--max-instructions', '100000']);
    expect(r.status).toBe(EXIT_LIMIT);
    expect(r.stderrLines).toHaveLength(1);
    expect(r.stderrLines[0]).toMatch(/instruction limit reached/);
  });

  it('--debug-io logs each unclaimed port access to stderr', async () => {
    const r = await run([...rawGuest(UNCLAIMED_IO), '--debug-io']);
    expect(r.status).toBe(5);
    expect(r.stderrLines).toEqual([
      '[io] unclaimed read  port 0x00ee size 1',
      '[io] unclaimed write port 0x00ee size 1 value 0xff',
    ]);
  });

  it('without --debug-io unclaimed accesses are silent', async () => {
    const r = await run(rawGuest(UNCLAIMED_IO));
    expect(r.status).toBe(5);
    expect(r.stderrLines).toEqual([]);
  });
});

describe('runCli: errors', () => {
  it('a bad option returns 2 with one error line and a --help hint', async () => {
    const r = await run(['--bogus']);
    expect(r.status).toBe(EXIT_USAGE);
    expect(r.stderrLines).toEqual(['error: --bogus: unknown option (see --help)']);
    expect(r.stdout).toBe('');
  });

  it('a bad option value returns 2 with the hint added once', async () => {
    const r = await run(['--memory', '7x']);
    expect(r.status).toBe(EXIT_USAGE);
    expect(r.stderrLines).toEqual(["error: --memory: bad size or address '7x' (see --help)"]);
  });

  it('an unreadable --rom returns 2 with one line naming the path and the OS reason', async () => {
    const missing = join(tempDir, 'no-such-rom.bin');
    const r = await run(['--rom', missing]);
    expect(r.status).toBe(EXIT_USAGE);
    expect(r.stderrLines).toHaveLength(1);
    expect(r.stderrLines[0]).toContain(missing);
    expect(r.stderrLines[0]).toMatch(/no such file or directory \(ENOENT\)/);
  });

  it('an unreadable --load image returns 2 naming it', async () => {
    const missing = join(tempDir, 'no-such-image.bin');
    const r = await run(['--load', `${missing}@0x7c00`]);
    expect(r.status).toBe(EXIT_USAGE);
    expect(r.stderrLines).toHaveLength(1);
    expect(r.stderrLines[0]).toContain(missing);
  });

  it('a directory given as the ROM returns 2 with the OS reason', async () => {
    const r = await run([tempDir]);
    expect(r.status).toBe(EXIT_USAGE);
    expect(r.stderrLines).toHaveLength(1);
    expect(r.stderrLines[0]).toContain(tempDir);
    expect(r.stderrLines[0]).toMatch(/EISDIR/);
  });

  it('a ROM whose size is not a multiple of 4 KiB returns 2 naming it', async () => {
    const r = await run([ODD_ROM]);
    expect(r.status).toBe(EXIT_USAGE);
    expect(r.stderrLines).toHaveLength(1);
    expect(r.stderrLines[0]).toContain(ODD_ROM);
    expect(r.stderrLines[0]).toMatch(/multiple of 4 KiB/);
  });

  it('an image that does not fit in RAM returns 2 naming it', async () => {
    const r = await run(['--memory', '1M', '--load', `${EXIT_7}@0xFFFFE`, '--entry', '0:7c00']);
    expect(r.status).toBe(EXIT_USAGE);
    expect(r.stderrLines).toHaveLength(1);
    expect(r.stderrLines[0]).toContain(EXIT_7);
  });
});

describe('runCli: serial input', () => {
  it('feeds stdin bytes to the guest COM1 and echoes them on stdout', async () => {
    const stdin = new PassThrough();
    setTimeout(() => stdin.write('hello '), 5);
    setTimeout(() => stdin.write(Buffer.from('wor\x03ld q')), 30);
    const r = await run(rawGuest(ECHO), stdin);
    expect(r.status).toBe(42);
    expect(r.stdout).toBe('hello wor\x03ld q');
    expect(stdin.listenerCount('data')).toBe(0);
  });

  it('ignores a stdin stream that has already ended', async () => {
    const stdin = new PassThrough();
    stdin.end();
    stdin.resume();
    await new Promise((done) => stdin.once('end', done));
    const r = await run(rawGuest(EXIT_7), stdin);
    expect(r.status).toBe(7);
  });

  it('in terminal raw mode, Ctrl-C stops the run with 130 and restores the mode', async () => {
    const modes: boolean[] = [];
    const stdin = Object.assign(new PassThrough(), {
      isTTY: true,
      isRaw: false,
      setRawMode(raw: boolean) {
        modes.push(raw);
        this.isRaw = raw;
        return this;
      },
    });
    let echoed = '';
    let stderr = '';
    const io: CliIo = {
      stdout: (s) => {
        echoed += typeof s === 'string' ? s : Buffer.from(s).toString('latin1');
        // Type Ctrl-C once the guest has echoed what came before it.
        if (echoed === 'ab') stdin.write('\x03cd');
      },
      stderr: (s) => {
        stderr += s;
      },
      stdin,
      readFile: (path) => readFileSync(path),
    };
    setTimeout(() => stdin.write('ab'), 5);
    const status = await runCli(rawGuest(ECHO), io);
    expect(status).toBe(130);
    expect(echoed).toBe('ab');
    expect(modes).toEqual([true, false]);
    expect(stderr).toMatch(/^interrupted \(Ctrl-C\) after \d+ instructions\n$/);
    expect(stdin.listenerCount('data')).toBe(0);
  });
});

describe('exitStatusFor', () => {
  it('plain: passes 0..255 through and clamps the rest', () => {
    expect(exitStatusFor(0, 'plain')).toBe(0);
    expect(exitStatusFor(42, 'plain')).toBe(42);
    expect(exitStatusFor(255, 'plain')).toBe(255);
    expect(exitStatusFor(256, 'plain')).toBe(255);
    expect(exitStatusFor(0xffffffff, 'plain')).toBe(255);
    expect(exitStatusFor(-1, 'plain')).toBe(0);
  });

  it('qemu: (v << 1) | 1 in the low 8 bits', () => {
    expect(exitStatusFor(0, 'qemu')).toBe(1);
    expect(exitStatusFor(1, 'qemu')).toBe(3);
    expect(exitStatusFor(0x10, 'qemu')).toBe(33);
    expect(exitStatusFor(0x80, 'qemu')).toBe(1);
  });
});
