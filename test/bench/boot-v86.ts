/**
 * The v86 side of `npm run bench:boot`: boots the same kernel, initrd, command line and
 * RAM size in v86 (npm package `v86`, its wasm build with the x86-to-wasm JIT, in this Node
 * process) and runs the session of boot-session.ts on its first serial port.
 *
 * Measured span: v86 is built with `autostart: false`; once it reports `emulator-loaded`
 * (wasm compiled, BIOS and images copied in) the clock starts and `run()` is called. The
 * boot span ends at the prompt's last serial byte. v86 boots a bzImage through the BIOS
 * (SeaBIOS POST, then its own Linux loader), so its span includes the POST; ours enters
 * the kernel's 32-bit entry directly. v86's clocks follow host time, so time the guest
 * spends idle (HLT while waiting for a timer) counts in its wall time.
 */
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { BootBenchError, BootDialogue, Phase, resultOf, type BootInputs, type BootResult } from './boot-session.js';

/** BIOS images v86 starts from (Debian's seabios package: bios.bin, vgabios.bin). */
export interface V86Firmware {
  readonly bios: Uint8Array;
  readonly vgaBios: Uint8Array;
  /** Where they came from, for the header line. */
  readonly source: string;
}

/** The slice of v86's API this bench uses (see node_modules/v86/v86.d.ts). */
interface V86Instance {
  add_listener(event: string, listener: (value: any) => void): void;
  run(): Promise<void> | void;
  destroy(): Promise<void>;
  get_instruction_counter(): number;
  serial0_send(text: string): void;
}
type V86Constructor = new (options: Record<string, unknown>) => V86Instance;

/** Seconds allowed for v86 to compile its wasm and load the images before the clock starts. */
const LOAD_TIMEOUT_SECONDS = 120;

/** v86's constructor and the path of its wasm build; a clear error when it is not installed. */
async function loadV86(): Promise<{ V86: V86Constructor; wasmPath: string; version: string }> {
  const require = createRequire(import.meta.url);
  let packageJson: string;
  try {
    packageJson = require.resolve('v86/package.json');
  } catch {
    throw new Error('the v86 package is not installed (it is a devDependency: run `npm install`)');
  }
  const mod = (await import('v86')) as unknown as { V86: V86Constructor };
  const version = (require('v86/package.json') as { version: string }).version;
  return { V86: mod.V86, wasmPath: join(dirname(packageJson), 'build', 'v86.wasm'), version };
}

/** A fresh ArrayBuffer holding `data` (v86 takes images as ArrayBuffers). */
function bufferOf(data: Uint8Array): ArrayBuffer {
  return data.slice().buffer;
}

/** v86's package version, or null when it is not installed. */
export function v86Version(): string | null {
  try {
    return (createRequire(import.meta.url)('v86/package.json') as { version: string }).version;
  } catch {
    return null;
  }
}

/** Boot `inputs` in v86, run the workload, stop and free v86; throws BootBenchError on failure. */
export async function runV86Boot(inputs: BootInputs, firmware: V86Firmware): Promise<BootResult> {
  const { V86, wasmPath } = await loadV86();
  const emulator = new V86({
    wasm_path: wasmPath,
    bios: { buffer: bufferOf(firmware.bios) },
    vga_bios: { buffer: bufferOf(firmware.vgaBios) },
    bzimage: { buffer: bufferOf(inputs.kernel) },
    initrd: { buffer: bufferOf(inputs.initrd) },
    cmdline: inputs.cmdline,
    memory_size: inputs.memoryBytes,
    autostart: false,
  });
  try {
    return await session(emulator, inputs);
  } finally {
    await emulator.destroy();
  }
}

/** Milliseconds between reads of v86's instruction counter (it must not wrap twice between reads). */
const COUNTER_POLL_MS = 100;

/**
 * v86's instruction counter as a 53-bit count: `get_instruction_counter()` is a 32-bit
 * value that wraps (every ~4.3 billion instructions, a few seconds of JIT code), so each
 * read adds the difference modulo 2^32 to a running total. Correct as long as it is read
 * at least once per 2^32 instructions, which the COUNTER_POLL_MS interval ensures.
 */
class UnwrappedCounter {
  private last: number;
  private total = 0;
  constructor(private readonly emulator: V86Instance) {
    this.last = emulator.get_instruction_counter() >>> 0;
  }

  /** Instructions since construction. */
  read(): number {
    const now = this.emulator.get_instruction_counter() >>> 0;
    this.total += (now - this.last) >>> 0;
    this.last = now;
    return this.total;
  }
}

/** Wait for `emulator-loaded`, then run the session; settles once it is done or has failed. */
function session(emulator: V86Instance, inputs: BootInputs): Promise<BootResult> {
  let counter: UnwrappedCounter | null = null;
  const dialogue = new BootDialogue(() => (counter === null ? 0 : counter.read()));
  return new Promise<BootResult>((resolve, reject) => {
    let timer: NodeJS.Timeout | undefined;
    let poll: NodeJS.Timeout | undefined;
    let settled = false;
    let startMs = 0;
    const finish = (error: Error | null): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      clearInterval(poll);
      if (error) reject(error);
      else resolve(resultOf('v86', dialogue, startMs, 0));
    };
    const arm = (seconds: number, why: string): void => {
      clearTimeout(timer);
      timer = setTimeout(() => finish(dialogue.stuck('v86', why)), seconds * 1000);
    };
    timer = setTimeout(() => finish(new BootBenchError(`v86: did not finish loading (wasm, BIOS, images) within ${LOAD_TIMEOUT_SECONDS} s`)), LOAD_TIMEOUT_SECONDS * 1000);
    emulator.add_listener('serial0-output-byte', (byte: number) => {
      if (settled) return;
      dialogue.push(byte);
      if (dialogue.panic !== null) finish(dialogue.stuck('v86', `kernel panic (${dialogue.panic})`));
      else if (dialogue.phase === Phase.AtPrompt) {
        arm(inputs.timeoutSeconds, `timed out after ${inputs.timeoutSeconds} s`);
        emulator.serial0_send(dialogue.markSent(inputs.workloadMib));
      } else if (dialogue.phase === Phase.Done) finish(null);
    });
    emulator.add_listener('emulator-loaded', () => {
      arm(inputs.timeoutSeconds, `timed out after ${inputs.timeoutSeconds} s`);
      counter = new UnwrappedCounter(emulator);
      const live = counter;
      poll = setInterval(() => live.read(), COUNTER_POLL_MS);
      startMs = performance.now();
      Promise.resolve(emulator.run()).catch((e: unknown) => finish(e instanceof Error ? e : new Error(String(e))));
    });
  });
}
