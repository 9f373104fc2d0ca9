/**
 * The command-line run loop: turns argv into one PC on one host, runs it and maps how it
 * stopped onto a process exit status. All host I/O goes through an injected `CliIo`, so
 * the same code runs under `main.ts` (the real process) and in tests.
 *
 * Exit statuses (sysexits-like where one fits):
 * - guest exit value v through the debug-exit port: v clamped to 0..255 (`--exit-code=plain`;
 *   a value above 255 becomes 255 so a failure can never read as success), or QEMU's
 *   `(v << 1) | 1` in the low 8 bits (`--exit-code=qemu`);
 * - 1: the guest halted with nothing to wake it, or triple-faulted;
 * - 2: usage error, unreadable image, or an image/config the board refuses;
 * - 3: the `--max-instructions` limit was reached;
 * - 70 (EX_SOFTWARE): a host-side error while running (e.g. an unimplemented CPU feature);
 * - 130 (128 + SIGINT): Ctrl-C typed on a terminal stdin.
 *
 * Terminal input: when stdin is a TTY it is put in raw mode while the guest runs, so every
 * key (Ctrl-D, Ctrl-Z, ...) reaches the guest's COM1 — except Ctrl-C, which stops the run
 * with status 130. The previous mode is restored on every way out. When stdin is a pipe or
 * file, its bytes (0x03 included) all go to the guest.
 *
 * The run goes in slices of SLICE_INSTRUCTIONS; between slices it flushes buffered serial
 * output and yields to the event loop (`setImmediate`) so stdin data can arrive. Serial
 * input is stamped with the instruction count at which it arrived (DESIGN.md,
 * "Deterministic by default").
 */
import { dirname, join, resolve } from 'node:path';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { UnclaimedAccess } from '../bus/io-bus.js';
import { qemuDebugExitStatus } from '../devices/debug-exit/debug-exit.js';
import { BootImageError, FirmwareConfigError } from '../firmware/boot-image.js';
import { findDebianGuest, isDebianGuestFound } from './debian-guest.js';
import { MachineConfigError, type ImageLoad, type PcConfig, type PcMachine, type StopReason } from '../machine/pc.js';
import { Host } from '../vmm/host.js';
import { StorageError } from '../storage/block-backend.js';
import { VirtioHost } from './virtio-host.js';
import { CliUsageError, DEFAULT_ROM, parseArgs, usage, type CliConfig, type ExitCodeStyle } from './args.js';

/** The host services the CLI uses; `main.ts` passes the process's, tests pass fakes. */
export interface CliIo {
  /** Guest serial output (bytes) and the usage text (string). */
  readonly stdout: (s: string | Uint8Array) => void;
  /** Diagnostics: every call is one or more complete lines ending in '\n'. */
  readonly stderr: (s: string) => void;
  /** Bytes for the guest's COM1; absent means no input. */
  readonly stdin?: NodeJS.ReadableStream;
  /** Read a whole file; throws (a Node errno error, ideally) when it cannot. */
  readonly readFile: (path: string) => Uint8Array;
  /** Optional: resolves once stdout can take more output (back-pressure between slices). */
  readonly stdoutDrain?: () => Promise<void>;
}

/** Exit status: the guest halted with no way to wake it. */
export const EXIT_HALTED = 1;
/** Exit status: bad command line, unreadable or unusable image. */
export const EXIT_USAGE = 2;
/** Exit status: `--max-instructions` reached. */
export const EXIT_LIMIT = 3;
/** Exit status: an unexpected host-side error (sysexits EX_SOFTWARE). */
export const EXIT_SOFTWARE = 70;
/** Exit status: interrupted with Ctrl-C on a terminal (128 + SIGINT). */
export const EXIT_INTERRUPTED = 130;

/** Instructions run between two turns of the event loop. */
export const SLICE_INSTRUCTIONS = 1 << 20;

/** Longest host sleep while the guest idles (input wakes it earlier). */
const IDLE_WAIT_CAP_MS = 50;

/** Byte a terminal in raw mode sends for Ctrl-C. */
const CTRL_C = 0x03;
/** Bytes in one host or guest frame. */
const FRAME_BYTES = 4096;
/**
 * Frames a host needs beyond guest RAM: reserved frames, the zero frame, the dirty bitmap
 * of the full 4 GiB space, the largest ROM, with room to spare.
 */
const HOST_FRAME_OVERHEAD = 1024;
/** FramePool's hard ceiling on maxFrames (just under 2 GiB of host memory). */
const HOST_FRAME_CEILING = 524287;
/** Serial output is flushed to stdout at the end of each slice or when this much is pending. */
const SERIAL_BUFFER_BYTES = 64 * 1024;

/** Explains the exit statuses after the usage text of `--help`. */
const EXIT_STATUS_HELP = [
  '',
  'Exit status: the guest\'s debug-exit value (plain: clamped to 0..255; qemu: (v << 1) | 1),',
  '1 guest halted for good, 2 usage or image error, 3 instruction limit reached,',
  '70 internal error, 130 Ctrl-C on a terminal (raw mode; every other key goes to the guest).',
].join('\n');

/**
 * Run the emulator for command-line `argv` (without node and script) and return the
 * process exit status. Never throws: every failure becomes a stderr line and a status.
 */
export async function runCli(argv: string[], io: CliIo): Promise<number> {
  try {
    return await runChecked(argv, io);
  } catch (e) {
    io.stderr(`error: ${oneLine(messageOf(e))}\n`);
    return EXIT_SOFTWARE;
  }
}

/** The process exit status for guest exit value `value` under `style` (see the header). */
export function exitStatusFor(value: number, style: ExitCodeStyle): number {
  if (style === 'qemu') return qemuDebugExitStatus(value);
  return Math.min(Math.max(Math.trunc(value), 0), 255);
}

/** The repository/package root: the nearest directory above `from` holding a package.json. */
export function findPackageRoot(from: string = dirname(fileURLToPath(import.meta.url))): string {
  let dir = resolve(from);
  for (;;) {
    if (existsSync(join(dir, 'package.json'))) return dir;
    const parent = dirname(dir);
    if (parent === dir) throw new Error(`cannot find the package root (no package.json above ${from})`);
    dir = parent;
  }
}

/** The path of the guest booted when no image is given. */
export function defaultRomPath(): string {
  return join(findPackageRoot(), DEFAULT_ROM);
}

async function runChecked(argv: string[], io: CliIo): Promise<number> {
  let config: CliConfig;
  try {
    config = parseArgs(argv);
  } catch (e) {
    if (!(e instanceof CliUsageError)) throw e;
    const hint = e.message.includes('(see --help)') ? '' : ' (see --help)';
    io.stderr(`error: ${oneLine(e.message)}${hint}\n`);
    return EXIT_USAGE;
  }
  if (config.help) {
    io.stdout(`${usage()}\n${EXIT_STATUS_HELP}\n`);
    return 0;
  }
  const images = readImages(config, io);
  if (typeof images === 'string') {
    io.stderr(`error: ${images}\n`);
    return EXIT_USAGE;
  }
  let input: SerialInput | null = null;
  let virtio: VirtioHost;
  try {
    virtio = new VirtioHost(config, (text) => io.stdout(new TextEncoder().encode(text)), (text) => io.stderr(`${text}\n`), () => input?.poke());
  } catch (e) {
    if (!(e instanceof StorageError)) throw e;
    io.stderr(`error: ${oneLine(e.message)}\n`);
    return EXIT_USAGE;
  }
  const host = new Host({ maxFrames: hostFramesFor(config.memoryBytes) });
  const serial = new SerialSink(io.stdout);
  let vm: PcMachine;
  try {
    vm = host.createMachine('vm0', {
      memoryBytes: config.memoryBytes,
      ...images,
      ...(config.entry ? { entry: config.entry } : {}),
      clock: { mode: clockMode(config, io) },
      ...(clockMode(config, io) === 'realtime' ? { rtcBaseTimeSeconds: Math.floor(Date.now() / 1000) } : {}),
      onReset: config.noReboot ? 'stop' : 'reset',
      onTripleFault: config.noReboot ? 'stop' : 'reset',
      serialOut: (byte) => serial.push(byte),
      debugLog: config.echoE9 ? (line) => io.stderr(`[e9] ${line}\n`) : () => {},
      pci: virtio.devices,
      deviceLog: (line) => io.stderr(`[dev] ${line}\n`),
    });
  } catch (e) {
    virtio.close();
    if (!(e instanceof MachineConfigError || e instanceof BootImageError || e instanceof FirmwareConfigError)) throw e;
    io.stderr(`error: ${oneLine(e.message)}\n`);
    return EXIT_USAGE;
  }
  if (config.debugIo) vm.io.onUnclaimed = (access) => io.stderr(`${describeUnclaimed(access)}\n`);
  input = new SerialInput(vm, io.stdin);
  try {
    return await runSlices(vm, config, io, serial, input);
  } finally {
    serial.flush();
    input.detach();
    virtio.close();
    host.destroyMachine('vm0');
  }
}

/** The kernel, initrd and command line to boot directly (from -kernel or --guest), null for none, or an error line. */
function kernelFiles(config: CliConfig): { kernel: string; initrd?: string; cmdline: string } | null | string {
  if (config.guest === 'debian') {
    const found = findDebianGuest();
    if (!isDebianGuestFound(found)) return `--guest debian: ${found.skipped}`;
    return { kernel: found.kernel, initrd: found.initrd, cmdline: config.append ?? 'console=ttyS0' };
  }
  if (config.kernel === undefined) return null;
  return { kernel: config.kernel, ...(config.initrd !== undefined ? { initrd: config.initrd } : {}), cmdline: config.append ?? '' };
}

/** The clock mode asked for, or realtime when stdin is a terminal and deterministic otherwise. */
function clockMode(config: CliConfig, io: CliIo): 'deterministic' | 'realtime' {
  if (config.clock) return config.clock;
  return (io.stdin as unknown as MaybeTty | undefined)?.isTTY === true ? 'realtime' : 'deterministic';
}

/** Read the ROM, load images and kernel; returns the PcConfig parts or a one-line error. */
function readImages(config: CliConfig, io: CliIo): Pick<PcConfig, 'rom' | 'loads' | 'kernel'> | string {
  const romPath = config.images.length === 0 && config.guest === undefined ? defaultRomPath() : config.rom;
  const parts: { rom?: PcConfig['rom']; loads: ImageLoad[]; kernel?: PcConfig['kernel'] } = { loads: [] };
  const boot = kernelFiles(config);
  if (typeof boot === 'string') return boot;
  if (boot !== null) {
    const kernel = readImage(boot.kernel, 'kernel', io);
    if (typeof kernel === 'string') return kernel;
    const initrd = boot.initrd !== undefined ? readImage(boot.initrd, 'initrd', io) : undefined;
    if (typeof initrd === 'string') return initrd;
    parts.kernel = {
      name: boot.kernel, data: kernel,
      ...(initrd !== undefined ? { initrd: { name: boot.initrd!, data: initrd } } : {}),
      cmdline: boot.cmdline,
    };
  }
  if (romPath !== undefined) {
    const data = readImage(romPath, 'ROM image', io);
    if (typeof data === 'string') return data;
    parts.rom = { name: romPath, data };
  }
  for (const load of config.loads) {
    const data = readImage(load.file, 'image', io);
    if (typeof data === 'string') return data;
    parts.loads.push({ name: load.file, address: load.address, data });
  }
  return parts;
}

/** The file's bytes, or a one-line message naming the file and the OS reason. */
function readImage(path: string, what: string, io: CliIo): Uint8Array | string {
  try {
    return io.readFile(path);
  } catch (e) {
    return `cannot read ${what} '${path}': ${osReason(e)}`;
  }
}

/** "no such file or directory (ENOENT)" from a Node errno error; the message otherwise. */
function osReason(e: unknown): string {
  const errno = e as Partial<NodeJS.ErrnoException>;
  const message = oneLine(messageOf(e));
  if (typeof errno.code !== 'string') return message;
  const match = /^[A-Z0-9_]+: ([^,]+)/.exec(message);
  return match ? `${match[1]} (${errno.code})` : `${message} (${errno.code})`;
}

/** Frames the host pool may use for a VM with `memoryBytes` of RAM. */
function hostFramesFor(memoryBytes: number): number {
  return Math.min(Math.ceil(memoryBytes / FRAME_BYTES) + HOST_FRAME_OVERHEAD, HOST_FRAME_CEILING);
}

/** Run slice after slice until the guest stops for good; returns the exit status. */
async function runSlices(vm: PcMachine, config: CliConfig, io: CliIo, serial: SerialSink, input: SerialInput): Promise<number> {
  const limitAt = config.maxInstructions !== undefined ? vm.cpu.instructionCount + config.maxInstructions : Infinity;
  for (;;) {
    const budget = Math.min(SLICE_INSTRUCTIONS, limitAt - vm.cpu.instructionCount);
    let stop: StopReason;
    try {
      stop = vm.run(budget, SLICE_INSTRUCTIONS);
    } finally {
      serial.flush();
    }
    const count = vm.cpu.instructionCount;
    if (stop.kind === 'exit') return exitStatusFor(stop.value, config.exitCodeStyle);
    if (stop.kind === 'halted') {
      io.stderr(`guest halted with nothing to wake it (after ${count} instructions)\n`);
      return EXIT_HALTED;
    }
    if (stop.kind === 'triple-fault') {
      io.stderr(`guest triple-faulted (CPU shutdown) after ${count} instructions\n`);
      return EXIT_HALTED;
    }
    if (stop.kind === 'power-off') return 0;
    if (stop.kind === 'reset') {
      io.stderr(`guest reset the machine (-no-reboot) after ${count} instructions\n`);
      return 0;
    }
    if (stop.kind === 'idle') {
      await input.waitForInput(Math.min(stop.waitMs, IDLE_WAIT_CAP_MS));
      if (input.interrupted) {
        io.stderr(`interrupted (Ctrl-C) after ${count} instructions\n`);
        return EXIT_INTERRUPTED;
      }
      continue;
    }
    if (count >= limitAt) {
      io.stderr(`instruction limit reached (${count} instructions, --max-instructions)\n`);
      return EXIT_LIMIT;
    }
    await io.stdoutDrain?.();
    await new Promise<void>((done) => setImmediate(done));
    if (input.interrupted) {
      io.stderr(`interrupted (Ctrl-C) after ${count} instructions\n`);
      return EXIT_INTERRUPTED;
    }
  }
}

/** Collects guest serial bytes and hands them to stdout in chunks. */
class SerialSink {
  private readonly buffer = new Uint8Array(SERIAL_BUFFER_BYTES);
  private length = 0;

  constructor(private readonly write: (bytes: Uint8Array) => void) {}

  push(byte: number): void {
    this.buffer[this.length++] = byte;
    if (this.length === this.buffer.length) this.flush();
  }

  /** Write out what is pending (as a copy: the writer may keep it). */
  flush(): void {
    if (this.length === 0) return;
    const chunk = this.buffer.slice(0, this.length);
    this.length = 0;
    this.write(chunk);
  }
}

/** The TTY face of a stdin stream, when it has one. */
interface MaybeTty {
  isTTY?: boolean;
  isRaw?: boolean;
  setRawMode?: (raw: boolean) => unknown;
  readableEnded?: boolean;
  readable?: boolean;
}

/** Feeds stdin to the guest's COM1, and owns the terminal's raw mode while running. */
class SerialInput {
  /** Ctrl-C was typed on a terminal. */
  interrupted = false;
  private readonly stream?: NodeJS.ReadableStream;
  private readonly restoreRaw?: () => void;
  private readonly onData = (chunk: string | Uint8Array): void => this.receive(chunk);

  constructor(private readonly vm: PcMachine, stream: NodeJS.ReadableStream | undefined) {
    if (!stream) return;
    const tty = stream as unknown as MaybeTty;
    if (tty.readableEnded === true || tty.readable === false) return;
    this.stream = stream;
    if (tty.isTTY === true && typeof tty.setRawMode === 'function') {
      const wasRaw = tty.isRaw === true;
      tty.setRawMode(true);
      this.restoreRaw = () => tty.setRawMode!(wasRaw);
    }
    stream.on('data', this.onData);
    stream.resume();
  }

  private wake: (() => void) | null = null;

  /** Resolve after `ms` milliseconds, or earlier when input arrives. */
  waitForInput(ms: number): Promise<void> {
    return new Promise<void>((done) => {
      const timer = setTimeout(finish, ms);
      const self = this;
      function finish(): void {
        clearTimeout(timer);
        self.wake = null;
        done();
      }
      this.wake = finish;
    });
  }

  /** Something other than stdin (a network frame) has work for the guest: end an idle wait. */
  poke(): void {
    this.wake?.();
  }

  private receive(chunk: string | Uint8Array): void {
    let bytes = typeof chunk === 'string' ? new TextEncoder().encode(chunk) : chunk;
    if (this.restoreRaw) {
      const ctrlC = bytes.indexOf(CTRL_C);
      if (ctrlC >= 0) {
        this.interrupted = true;
        bytes = bytes.subarray(0, ctrlC);
      }
    }
    if (bytes.length > 0) this.vm.sendSerial(bytes);
    this.wake?.();
  }

  /** Stop reading (so the process can exit) and restore the terminal mode. */
  detach(): void {
    if (!this.stream) return;
    this.stream.removeListener('data', this.onData);
    this.stream.pause();
    this.restoreRaw?.();
  }
}

/** One --debug-io line for an unclaimed port access. */
function describeUnclaimed(access: UnclaimedAccess): string {
  const port = `0x${access.port.toString(16).padStart(4, '0')}`;
  if (access.kind === 'read') return `[io] unclaimed read  port ${port} size ${access.size}`;
  const value = `0x${(access.value ?? 0).toString(16).padStart(access.size * 2, '0')}`;
  return `[io] unclaimed write port ${port} size ${access.size} value ${value}`;
}

function messageOf(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/** Collapse a message to one line. */
function oneLine(text: string): string {
  return text.replace(/\s*\n\s*/g, ' ').trim();
}
