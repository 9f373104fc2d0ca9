/**
 * Our side of `npm run bench:boot`: boots the kernel and initrd on our PcMachine (the
 * board's direct Linux boot: PcConfig `kernel: { name, data, initrd: { name, data },
 * cmdline }`, entered at the kernel's 32-bit entry with no BIOS) and runs the session of
 * boot-session.ts on COM1.
 *
 * Measured span: the machine is built (RAM allocated, kernel and initrd copied in) before
 * the clock starts; the boot span runs from the first `run()` call to the prompt's last
 * serial byte, the workload span from `sendSerial` to the md5 line. Instructions are
 * `cpu.instructionCount`. Our guest clock is virtual (it follows the instruction count and
 * skips ahead over HLT), so idle time costs no host time here, and busybox `time`'s figure
 * is guest time, not wall time.
 *
 * After construction the bench checks that the kernel's protected-mode code really sits at
 * 1 MiB, where the board's loader (src/firmware/linux-boot.ts) puts it, so a board that
 * ignored `kernel` fails at once with a clear message instead of running off into zeroed
 * memory until the timeout.
 */
import type { PcConfig, PcMachine } from '../../src/machine/pc.js';
import { Host } from '../../src/vmm/host.js';
import { BootBenchError, BootDialogue, Phase, resultOf, type BootInputs, type BootResult } from './boot-session.js';

/** Instructions per run() call; milestones are stamped per byte, not per slice. */
const SLICE_INSTRUCTIONS = 1 << 22;
/** Where the board loads the kernel's protected-mode part (boot.rst: the bzImage address). */
const KERNEL_LOAD_ADDRESS = 0x10_0000;
/** Bytes compared there to tell whether the board loaded the kernel. */
const PROBE_BYTES = 256;
/** Host frames beyond guest RAM (reserved frames, dirty bitmap, ROMs), as src/cli/run.ts allows. */
const HOST_FRAME_OVERHEAD = 1024;
/** Longest host sleep while the guest idles (realtime clock only). */
const MAX_IDLE_SLEEP_MS = 50;

/** File offset of a bzImage's protected-mode part: (setup_sects + 1) * 512, 0 meaning 4. */
function protectedModeOffset(kernel: Uint8Array): number {
  const setupSects = kernel[0x1f1] === 0 ? 4 : kernel[0x1f1]!;
  return (setupSects + 1) * 512;
}

/** Whether the machine's RAM at 1 MiB holds the start of the kernel's protected-mode code. */
function boardLoadedKernel(machine: PcMachine, kernel: Uint8Array): boolean {
  const offset = protectedModeOffset(kernel);
  const expected = kernel.subarray(offset, offset + PROBE_BYTES);
  const actual = new Uint8Array(expected.length);
  machine.memory.readBytes(KERNEL_LOAD_ADDRESS, actual);
  return expected.length === PROBE_BYTES && expected.every((b, k) => b === actual[k]);
}

const sleep = (ms: number): Promise<void> => new Promise((done) => setTimeout(done, ms));

/** Boot `inputs` on our PcMachine and run the workload; throws BootBenchError on failure. */
export async function runOursBoot(inputs: BootInputs): Promise<BootResult> {
  const host = new Host({ maxFrames: Math.ceil(inputs.memoryBytes / 4096) + HOST_FRAME_OVERHEAD });
  let machine: PcMachine | null = null;
  const dialogue = new BootDialogue(() => (machine === null ? 0 : machine.cpu.instructionCount));
  const config: PcConfig = {
    memoryBytes: inputs.memoryBytes,
    kernel: { name: inputs.kernelName, data: inputs.kernel, initrd: { name: inputs.initrdName, data: inputs.initrd }, cmdline: inputs.cmdline },
    serialOut: (byte: number) => dialogue.push(byte),
    onReset: 'stop',
  };
  machine = host.createMachine('bench-boot', config);
  try {
    if (!boardLoadedKernel(machine, inputs.kernel)) {
      throw new BootBenchError(`ours: the board did not load the kernel (its protected-mode code is not at 0x${KERNEL_LOAD_ADDRESS.toString(16)} after construction)`);
    }
    return await session(machine, dialogue, inputs);
  } finally {
    host.destroyMachine('bench-boot');
  }
}

/** Run slices until the session is done; throws on a stop, a panic or a timeout. */
async function session(machine: PcMachine, dialogue: BootDialogue, inputs: BootInputs): Promise<BootResult> {
  const startInstructions = machine.cpu.instructionCount;
  const startMs = performance.now();
  let deadline = startMs + inputs.timeoutSeconds * 1000;
  for (;;) {
    const stop = machine.run(SLICE_INSTRUCTIONS);
    if (dialogue.panic !== null) throw dialogue.stuck('ours', `kernel panic (${dialogue.panic})`);
    if (dialogue.phase === Phase.AtPrompt) {
      machine.sendSerial(new TextEncoder().encode(dialogue.markSent(inputs.workloadMib)));
      deadline = performance.now() + inputs.timeoutSeconds * 1000;
    }
    if (dialogue.phase === Phase.Done) return resultOf('ours', dialogue, startMs, startInstructions);
    if (stop.kind === 'idle') await sleep(Math.min(MAX_IDLE_SLEEP_MS, Math.max(0, stop.waitMs)));
    else if (stop.kind !== 'limit') throw dialogue.stuck('ours', `the machine stopped (${JSON.stringify(stop)})`);
    if (performance.now() > deadline) throw dialogue.stuck('ours', `timed out after ${inputs.timeoutSeconds} s`);
  }
}
