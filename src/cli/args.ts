/**
 * Command-line parsing for the node entry point, QEMU-like in spirit.
 *
 * `parseArgs` is pure: it turns argv into a plain `CliConfig` or throws a `CliUsageError`
 * whose one-line message names the offending argument. It checks syntax and ranges only;
 * whether files exist and whether a ROM has a valid size is checked when loading.
 *
 * Numbers are decimal or 0x-prefixed hex; sizes and addresses may carry a binary suffix
 * K, M or G (x1024, x1024², x1024³). Long options take their value either as the next
 * argument or after `=`; `--` ends the options.
 */

/** How the guest's debug-exit value v becomes the process exit status. */
export type ExitCodeStyle = 'plain' | 'qemu';

/** A raw image to place at a guest-physical address (`--load FILE@ADDR`). */
export interface ImageLoad {
  readonly file: string;
  readonly address: number;
}

/** A real-mode start point replacing the reset vector (`--entry SEG:OFF`). */
export interface RealModeEntry {
  readonly cs: number;
  readonly ip: number;
}

/** A virtual disk (`--disk FILE[,format=raw|qcow2|auto][,readonly]`), attached as virtio-blk. */
export interface DiskOption {
  readonly file: string;
  readonly format: 'raw' | 'qcow2' | 'auto';
  readonly readOnly: boolean;
}

/** The virtio NIC's link to a peer process's switch over a Unix-domain socket. */
export interface NetOption {
  /** `listen` creates the socket and waits for the peer; `connect` joins an existing one. */
  readonly mode: 'listen' | 'connect';
  readonly socketPath: string;
  /** MAC address, 6 bytes. */
  readonly mac: readonly number[];
}

/** Everything the command line asked for, as plain data. */
export interface CliConfig {
  /** ROM image loaded to end at 1 MiB and mirrored to end at 4 GiB. */
  readonly rom?: string;
  /** Raw images at fixed guest-physical addresses, in command-line order. */
  readonly loads: readonly ImageLoad[];
  /** Every image file given (ROM first, then loads); empty means boot the default guest. */
  readonly images: readonly string[];
  /** Guest RAM size in bytes. */
  readonly memoryBytes: number;
  /** Real-mode start instead of the reset vector. */
  readonly entry?: RealModeEntry;
  /** Mapping of the guest's exit value to the process exit status. */
  readonly exitCodeStyle: ExitCodeStyle;
  /** Stop with an error once this many instructions ran; absent means unlimited. */
  readonly maxInstructions?: number;
  /** Log port accesses that no device claims. */
  readonly debugIo: boolean;
  /** Echo the 0xE9 debug console to the host's stdout. */
  readonly echoE9: boolean;
  /** Print usage and exit. */
  readonly help: boolean;
  /** A kernel booted directly (Linux bzImage or Multiboot), like QEMU's -kernel. */
  readonly kernel?: string;
  /** Initial ramdisk (Linux) or first module (Multiboot), like QEMU's -initrd. */
  readonly initrd?: string;
  /** Kernel command line, like QEMU's -append. */
  readonly append?: string;
  /** A prepared real guest booted by name (`debian`: `npm run guests:debian`'s cache). */
  readonly guest?: 'debian';
  /** Stop instead of resetting when the guest reboots or triple-faults (QEMU's -no-reboot). */
  readonly noReboot: boolean;
  /**
   * Guest time from the instruction count (deterministic) or paced to wall time (realtime);
   * absent: realtime when stdin is a terminal, deterministic otherwise.
   */
  readonly clock?: 'deterministic' | 'realtime';
  /** Virtio disks in command-line order (/dev/vda, /dev/vdb, ... in a Linux guest). */
  readonly disks: readonly DiskOption[];
  /** A virtio NIC joined to a peer process's switch. */
  readonly net?: NetOption;
  /** A virtio console (hvc0), echoed to stdout with "[hvc0] " before each line. */
  readonly virtioConsole: boolean;
}

/** A command-line mistake; `message` is one line naming the argument at fault. */
export class CliUsageError extends Error {
  /** The argument (option name or positional text) the message is about. */
  readonly argument: string;

  constructor(argument: string, problem: string) {
    super(`${argument}: ${problem}`);
    this.name = 'CliUsageError';
    this.argument = argument;
  }
}

/** The guest booted when no image is given, relative to the repository root. */
export const DEFAULT_ROM = 'guests/hello/hello.bin';

/** Default guest RAM: 16 MiB. */
export const DEFAULT_MEMORY_BYTES = 16 * 1024 * 1024;
/** Default guest RAM for `--guest`: 256 MiB. */
export const REAL_GUEST_MEMORY_BYTES = 256 * 1024 * 1024;
/** Smallest guest RAM accepted by `-m`: 1 MiB. */
export const MIN_MEMORY_BYTES = 1024 * 1024;
/** Largest guest RAM accepted by `-m`: 3 GiB (the rest of 4 GiB is for MMIO and ROM). */
export const MAX_MEMORY_BYTES = 3 * 1024 * 1024 * 1024;
/** Guest RAM is allocated in 4 KiB frames. */
export const MEMORY_GRANULE_BYTES = 4096;
/** First address past the 32-bit guest-physical space. */
const PHYSICAL_LIMIT = 2 ** 32;
/** Largest real-mode segment or offset. */
const MAX_REAL_MODE_WORD = 0xffff;

/** The usage text printed by `-h/--help`. */
export function usage(): string {
  return [
    'usage: x86-hypervisor [options] [ROM]',
    '',
    'Runs a PC guest. With no image, boots guests/hello/hello.bin.',
    '',
    '  ROM, --rom FILE         ROM image (multiple of 4K, at most 256K) ending at 1 MiB,',
    '                          mirrored to end at 4 GiB; the CPU starts at F000:FFF0',
    '  --load FILE@ADDR        raw image at a guest-physical address (repeatable)',
    '  -kernel FILE            boot a Linux bzImage or Multiboot kernel directly',
    '  -initrd FILE            initial ramdisk (Linux) / first module (Multiboot)',
    '  -append TEXT            kernel command line',
    '  -no-reboot              stop instead of resetting when the guest reboots',
    '  --guest debian          boot Debian\'s i386 kernel with our busybox initramfs from',
    '                          the cache of `npm run guests:debian` (console=ttyS0, 256M)',
    '  --clock=MODE            deterministic (guest time from the instruction count; the',
    '                          default unless stdin is a terminal) or realtime (wall time)',
    '  -m, --memory SIZE       guest RAM, 1M..3G, multiple of 4K (default 16M)',
    '  --disk FILE[,format=raw|qcow2|auto][,readonly]',
    '                          virtio disk backed by an image file (repeatable; vda, vdb...)',
    '  --net-listen PATH       virtio NIC on a switch shared with the peer process that',
    '  --net-connect PATH      connects to (or listens on) the Unix socket PATH',
    '  --mac XX:XX:XX:XX:XX:XX the NIC\'s MAC address (default 52:54:00:12:34:56)',
    '  --virtio-console        a virtio console (hvc0), echoed as "[hvc0] ..." lines (on',
    '                          by default when a disk or NIC is given)',
    '  --entry SEG:OFF         start in real mode at SEG:OFF (hex) instead of the reset vector',
    '  --exit-code=plain|qemu  exit status for guest value v: plain v, or (v << 1) | 1',
    '  --max-instructions N    stop with an error after N instructions (default unlimited)',
    '  --debug-io              log port accesses that no device claims',
    '  --quiet-e9              do not echo the 0xE9 debug console',
    '  -h, --help              show this text',
    '',
    'Numbers are decimal or 0x hex; SIZE and ADDR may end in K, M or G (powers of 1024).',
  ].join('\n');
}

/** Mutable accumulator used while walking argv. */
interface ParseState {
  rom?: string;
  loads: ImageLoad[];
  memoryBytes?: number;
  entry?: RealModeEntry;
  exitCodeStyle?: ExitCodeStyle;
  maxInstructions?: number;
  debugIo: boolean;
  echoE9: boolean;
  kernel?: string;
  initrd?: string;
  append?: string;
  guest?: 'debian';
  noReboot: boolean;
  clock?: 'deterministic' | 'realtime';
  disks: DiskOption[];
  net?: { mode: 'listen' | 'connect'; socketPath: string };
  mac?: number[];
  virtioConsole: boolean;
}

/** How an option consumes its value and updates the state. */
interface OptionSpec {
  readonly takesValue: boolean;
  /** `name` is the spelling the user typed, for messages. */
  readonly apply: (state: ParseState, name: string, value: string) => void;
}

/** Options by every accepted spelling. */
const OPTIONS: ReadonlyMap<string, OptionSpec> = buildOptionTable();

function buildOptionTable(): Map<string, OptionSpec> {
  const table = new Map<string, OptionSpec>();
  const add = (names: string[], spec: OptionSpec): void => {
    for (const name of names) table.set(name, spec);
  };
  add(['--rom'], { takesValue: true, apply: (s, n, v) => setRom(s, n, v) });
  add(['--load'], { takesValue: true, apply: (s, n, v) => s.loads.push(parseLoad(n, v)) });
  add(['-m', '--memory'], { takesValue: true, apply: setMemory });
  add(['--entry'], { takesValue: true, apply: setEntry });
  add(['--exit-code'], { takesValue: true, apply: setExitCodeStyle });
  add(['--max-instructions'], { takesValue: true, apply: setMaxInstructions });
  add(['--debug-io'], { takesValue: false, apply: (s) => { s.debugIo = true; } });
  add(['--quiet-e9'], { takesValue: false, apply: (s) => { s.echoE9 = false; } });
  add(['-kernel', '--kernel'], { takesValue: true, apply: (s, n, v) => { rejectDuplicate(s.kernel !== undefined, n); s.kernel = v; } });
  add(['-initrd', '--initrd'], { takesValue: true, apply: (s, n, v) => { rejectDuplicate(s.initrd !== undefined, n); s.initrd = v; } });
  add(['-append', '--append'], { takesValue: true, apply: (s, n, v) => { rejectDuplicate(s.append !== undefined, n); s.append = v; } });
  add(['-no-reboot', '--no-reboot'], { takesValue: false, apply: (s) => { s.noReboot = true; } });
  add(['--clock'], { takesValue: true, apply: setClock });
  add(['--guest'], { takesValue: true, apply: setGuest });
  add(['--disk'], { takesValue: true, apply: (s, n, v) => s.disks.push(parseDisk(n, v)) });
  add(['--net-listen'], { takesValue: true, apply: (s, n, v) => setNet(s, n, 'listen', v) });
  add(['--net-connect'], { takesValue: true, apply: (s, n, v) => setNet(s, n, 'connect', v) });
  add(['--mac'], { takesValue: true, apply: (s, n, v) => { rejectDuplicate(s.mac !== undefined, n); s.mac = parseMac(n, v); } });
  add(['--virtio-console'], { takesValue: false, apply: (s) => { s.virtioConsole = true; } });
  return table;
}

/** Parse argv (without node and script) into a config; throws CliUsageError. */
export function parseArgs(argv: readonly string[]): CliConfig {
  if (asksForHelp(argv)) return { ...finish(emptyState()), help: true };
  const state = emptyState();
  let index = 0;
  while (index < argv.length) {
    index = consumeArgument(state, argv, index);
  }
  return finish(state);
}

/** True when -h/--help appears before any `--`. */
function asksForHelp(argv: readonly string[]): boolean {
  for (const arg of argv) {
    if (arg === '--') return false;
    if (arg === '-h' || arg === '--help') return true;
  }
  return false;
}

function emptyState(): ParseState {
  return { loads: [], debugIo: false, echoE9: true, noReboot: false, disks: [], virtioConsole: false };
}

/** Handle argv[index] (and its value if any); returns the index of the next argument. */
function consumeArgument(state: ParseState, argv: readonly string[], index: number): number {
  const arg = argv[index]!;
  if (arg === '--') {
    for (const positional of argv.slice(index + 1)) setRom(state, positional, positional);
    return argv.length;
  }
  if (!isOptionLike(arg)) {
    setRom(state, arg, arg);
    return index + 1;
  }
  const { name, inlineValue } = splitInlineValue(arg);
  const spec = OPTIONS.get(name);
  if (!spec) throw new CliUsageError(name, 'unknown option (see --help)');
  if (!spec.takesValue) {
    if (inlineValue !== undefined) throw new CliUsageError(name, 'takes no value');
    spec.apply(state, name, '');
    return index + 1;
  }
  if (inlineValue !== undefined) {
    spec.apply(state, name, requireNonEmpty(name, inlineValue));
    return index + 1;
  }
  spec.apply(state, name, takeNextValue(argv, index, name));
  return index + 2;
}

/** An argument starting with '-' (but not '-' alone) is an option. */
function isOptionLike(arg: string): boolean {
  return arg.length > 1 && arg.startsWith('-');
}

/** Split `--name=value` into name and value; other arguments have no inline value. */
function splitInlineValue(arg: string): { name: string; inlineValue?: string } {
  const equals = arg.indexOf('=');
  if (equals < 0) return { name: arg };
  return { name: arg.slice(0, equals), inlineValue: arg.slice(equals + 1) };
}

/** The argument after an option that needs a value; an option-like one does not count. */
function takeNextValue(argv: readonly string[], index: number, name: string): string {
  const value = argv[index + 1];
  if (value === undefined || isOptionLike(value)) {
    throw new CliUsageError(name, 'missing value');
  }
  return requireNonEmpty(name, value);
}

function requireNonEmpty(name: string, value: string): string {
  if (value === '') throw new CliUsageError(name, 'empty value');
  return value;
}

/** Reject a second occurrence of a single-valued option. */
function rejectDuplicate(present: boolean, name: string): void {
  if (present) throw new CliUsageError(name, 'given more than once');
}

function setRom(state: ParseState, name: string, file: string): void {
  if (state.rom !== undefined) {
    throw new CliUsageError(name, `only one ROM image is allowed (already have '${state.rom}')`);
  }
  state.rom = requireNonEmpty(name, file);
}

function setMemory(state: ParseState, name: string, value: string): void {
  rejectDuplicate(state.memoryBytes !== undefined, name);
  state.memoryBytes = parseMemorySize(name, value);
}

function setEntry(state: ParseState, name: string, value: string): void {
  rejectDuplicate(state.entry !== undefined, name);
  state.entry = parseEntry(name, value);
}

function setGuest(state: ParseState, name: string, value: string): void {
  rejectDuplicate(state.guest !== undefined, name);
  if (value !== 'debian') throw new CliUsageError(name, `unknown guest '${value}' (known: debian)`);
  state.guest = value;
}

function setClock(state: ParseState, name: string, value: string): void {
  rejectDuplicate(state.clock !== undefined, name);
  if (value !== 'deterministic' && value !== 'realtime') {
    throw new CliUsageError(name, `'${value}' is not deterministic or realtime`);
  }
  state.clock = value;
}

function setExitCodeStyle(state: ParseState, name: string, value: string): void {
  rejectDuplicate(state.exitCodeStyle !== undefined, name);
  if (value !== 'plain' && value !== 'qemu') {
    throw new CliUsageError(name, `'${value}' is not plain or qemu`);
  }
  state.exitCodeStyle = value;
}

function setMaxInstructions(state: ParseState, name: string, value: string): void {
  rejectDuplicate(state.maxInstructions !== undefined, name);
  const count = parseInteger(name, value);
  if (count < 1) throw new CliUsageError(name, 'must be at least 1');
  state.maxInstructions = count;
}

/** Freeze the accumulated state into the public config, applying defaults. */
function finish(state: ParseState): CliConfig {
  if (state.guest !== undefined && (state.kernel !== undefined || state.initrd !== undefined || state.rom !== undefined)) {
    throw new CliUsageError('--guest', 'cannot be combined with -kernel, -initrd or a ROM');
  }
  if (state.initrd !== undefined && state.kernel === undefined) throw new CliUsageError('-initrd', 'needs -kernel');
  if (state.mac !== undefined && state.net === undefined) throw new CliUsageError('--mac', 'needs --net-listen or --net-connect');
  if (state.append !== undefined && state.kernel === undefined && state.guest === undefined) throw new CliUsageError('-append', 'needs -kernel or --guest');
  const images = [
    ...(state.rom !== undefined ? [state.rom] : []),
    ...state.loads.map((l) => l.file),
    ...(state.kernel !== undefined ? [state.kernel] : []),
    ...(state.initrd !== undefined ? [state.initrd] : []),
  ];
  return {
    ...(state.rom !== undefined ? { rom: state.rom } : {}),
    loads: state.loads,
    images,
    memoryBytes: state.memoryBytes ?? (state.guest !== undefined ? REAL_GUEST_MEMORY_BYTES : DEFAULT_MEMORY_BYTES),
    ...(state.entry !== undefined ? { entry: state.entry } : {}),
    exitCodeStyle: state.exitCodeStyle ?? 'plain',
    ...(state.maxInstructions !== undefined ? { maxInstructions: state.maxInstructions } : {}),
    debugIo: state.debugIo,
    echoE9: state.echoE9,
    help: false,
    ...(state.kernel !== undefined ? { kernel: state.kernel } : {}),
    ...(state.initrd !== undefined ? { initrd: state.initrd } : {}),
    ...(state.append !== undefined ? { append: state.append } : {}),
    ...(state.guest !== undefined ? { guest: state.guest } : {}),
    noReboot: state.noReboot,
    ...(state.clock !== undefined ? { clock: state.clock } : {}),
    disks: state.disks,
    ...(state.net !== undefined ? { net: { ...state.net, mac: state.mac ?? DEFAULT_MAC } } : {}),
    virtioConsole: state.virtioConsole || state.disks.length > 0 || state.net !== undefined,
  };
}

/** The NIC's MAC when `--mac` is not given (a locally administered QEMU-style address). */
export const DEFAULT_MAC: readonly number[] = [0x52, 0x54, 0x00, 0x12, 0x34, 0x56];

/** Parse `FILE[,format=raw|qcow2|auto][,readonly]`; the first comma separates the file. */
function parseDisk(name: string, text: string): DiskOption {
  const [file, ...options] = text.split(',');
  if (file === undefined || file === '') throw new CliUsageError(name, `'${text}' names no file`);
  let format: DiskOption['format'] = 'auto';
  let readOnly = false;
  for (const option of options) {
    if (option === 'readonly') readOnly = true;
    else if (option === 'format=raw' || option === 'format=qcow2' || option === 'format=auto') format = option.slice(7) as DiskOption['format'];
    else throw new CliUsageError(name, `unknown disk option '${option}' (known: format=raw|qcow2|auto, readonly)`);
  }
  return { file, format, readOnly };
}

function setNet(state: ParseState, name: string, mode: 'listen' | 'connect', socketPath: string): void {
  if (state.net !== undefined) throw new CliUsageError(name, 'only one of --net-listen / --net-connect, once');
  state.net = { mode, socketPath };
}

/** Parse a MAC address `XX:XX:XX:XX:XX:XX` (hex); a multicast address is refused. */
function parseMac(name: string, text: string): number[] {
  if (!/^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/i.test(text)) throw new CliUsageError(name, `'${text}' is not a MAC address XX:XX:XX:XX:XX:XX`);
  const bytes = text.split(':').map((part) => parseInt(part, 16));
  if ((bytes[0]! & 1) !== 0) throw new CliUsageError(name, `'${text}' is a multicast address`);
  return bytes;
}

const SIZE_SUFFIX_SHIFT: Readonly<Record<string, number>> = { K: 10, M: 20, G: 30 };

/**
 * Parse a byte count or address: decimal or 0x hex, optional K/M/G suffix (case-insensitive).
 * `name` is the option the value belongs to, for the error message.
 */
export function parseSize(name: string, text: string): number {
  const match = /^(0x[0-9a-f]+|[0-9]+)([kmg]?)$/i.exec(text);
  if (!match) throw new CliUsageError(name, `bad size or address '${text}'`);
  const base = Number(match[1]);
  const shift = SIZE_SUFFIX_SHIFT[match[2]!.toUpperCase()] ?? 0;
  const bytes = base * 2 ** shift;
  if (!Number.isSafeInteger(bytes)) throw new CliUsageError(name, `'${text}' is too large`);
  return bytes;
}

/** Parse a plain integer count: decimal or 0x hex, no suffix. */
export function parseInteger(name: string, text: string): number {
  if (!/^(0x[0-9a-f]+|[0-9]+)$/i.test(text)) {
    throw new CliUsageError(name, `bad number '${text}'`);
  }
  const value = Number(text);
  if (!Number.isSafeInteger(value)) throw new CliUsageError(name, `'${text}' is too large`);
  return value;
}

/** Parse and range-check a RAM size for -m/--memory. */
function parseMemorySize(name: string, text: string): number {
  const bytes = parseSize(name, text);
  if (bytes < MIN_MEMORY_BYTES || bytes > MAX_MEMORY_BYTES) {
    throw new CliUsageError(name, `memory size '${text}' must be between 1M and 3G`);
  }
  if (bytes % MEMORY_GRANULE_BYTES !== 0) {
    throw new CliUsageError(name, `memory size '${text}' must be a multiple of 4K`);
  }
  return bytes;
}

/** Parse `FILE@ADDR`; the last '@' separates, so file names may contain '@'. */
function parseLoad(name: string, text: string): ImageLoad {
  const at = text.lastIndexOf('@');
  if (at <= 0 || at === text.length - 1) {
    throw new CliUsageError(name, `'${text}' is not FILE@ADDR`);
  }
  const address = parseSize(name, text.slice(at + 1));
  if (address >= PHYSICAL_LIMIT) {
    throw new CliUsageError(name, `address in '${text}' is beyond 4G`);
  }
  return { file: text.slice(0, at), address };
}

/** Parse `SEG:OFF`, both hex (0x optional), each at most FFFF. */
function parseEntry(name: string, text: string): RealModeEntry {
  const match = /^(?:0x)?([0-9a-f]+):(?:0x)?([0-9a-f]+)$/i.exec(text);
  if (!match) throw new CliUsageError(name, `'${text}' is not SEG:OFF in hex (e.g. F000:FFF0)`);
  const cs = parseInt(match[1]!, 16);
  const ip = parseInt(match[2]!, 16);
  if (cs > MAX_REAL_MODE_WORD || ip > MAX_REAL_MODE_WORD) {
    throw new CliUsageError(name, `'${text}': segment and offset must each be at most FFFF`);
  }
  return { cs, ip };
}
