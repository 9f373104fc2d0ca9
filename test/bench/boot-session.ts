/**
 * The guest-side script of `npm run bench:boot`, shared by both emulators: what the
 * benchmark boots, what it types, and how it reads the serial console.
 *
 * One session is: the kernel boots, our initramfs's /init prints READY_MARKER and the
 * shell prints SHELL_PROMPT (src/firmware/initramfs/debian-initramfs.ts); the harness then
 * types WORKLOAD (busybox `time` around `dd ... | md5sum`), waits for the 32-hex-digit
 * answer, then for busybox time's "real" line and the next prompt. `BootDialogue` follows
 * that from the serial bytes alone and stamps each milestone with host time
 * (performance.now()) and the emulator's instruction count at the byte that completed it,
 * so neither emulator's polling granularity enters the figures.
 */
import { createHash } from 'node:crypto';
import { READY_MARKER, SHELL_PROMPT } from '../../src/firmware/initramfs/debian-initramfs.js';

/**
 * Kernel command line of both emulators: console on the first UART, and reboot at once on
 * a panic (so a crashed guest ends its run instead of sitting in the panic loop).
 */
export const BOOT_CMDLINE = 'console=ttyS0 panic=-1';

/** MiB of zeros piped through md5sum by the default workload. */
export const DEFAULT_WORKLOAD_MIB = 8;

/** The shell line typed at the prompt (newline included). */
export function workloadCommand(mib: number): string {
  return `time sh -c 'dd if=/dev/zero bs=1M count=${mib} 2>/dev/null | md5sum'\n`;
}

/** The md5 the workload must print: MD5 of `mib` MiB of zero bytes, computed on the host. */
export function expectedWorkloadMd5(mib: number): string {
  return createHash('md5').update(new Uint8Array(mib << 20)).digest('hex');
}

/** Lines of serial output quoted when a run fails. */
export const TAIL_LINES = 20;

/** Where a session is. */
export const enum Phase { Booting, AtPrompt, Working, Answered, Done }

/** A milestone: host time (ms, performance.now()) and instructions executed so far. */
export interface Stamp { readonly ms: number; readonly instructions: number }

/** The run did not reach the next milestone in time, or the guest stopped early. */
export class BootBenchError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'BootBenchError';
  }
}

const MD5_LINE = /([0-9a-f]{32}) {2}-\r?\n/;
const REAL_LINE = /real\s+(\d+)m\s*([0-9.]+)s\r?\n/;

/**
 * Follows one session from the guest's serial bytes (see the module header). `push` is
 * called for every byte the guest sends on COM1.
 */
export class BootDialogue {
  phase = Phase.Booting;
  /** Where the first prompt completed. */
  prompt: Stamp | null = null;
  /** Where the workload line was handed to the emulator. */
  sent: Stamp | null = null;
  /** Where the md5 line completed. */
  answer: Stamp | null = null;
  /** The md5 the guest printed. */
  md5: string | null = null;
  /** Seconds busybox `time` reported ("real"), as the guest's clock saw them. */
  guestSeconds: number | null = null;
  private text = '';
  /** The kernel's panic line, once one was printed. */
  panic: string | null = null;
  private readyAt = -1;
  private sentAt = 0;

  /** `instructions()` reads the emulator's instruction counter at the moment of a byte. */
  constructor(private readonly instructions: () => number) {}

  /** Take one serial byte from the guest. */
  push(byte: number): void {
    this.text += String.fromCharCode(byte);
    if (byte === 0x0a && this.panic === null) this.checkPanic();
    switch (this.phase) {
      case Phase.Booting:
        if (this.readyAt < 0) {
          const at = this.text.indexOf(READY_MARKER, Math.max(0, this.text.length - READY_MARKER.length - 1));
          if (at >= 0) this.readyAt = at;
        } else if (this.text.endsWith(SHELL_PROMPT)) {
          this.prompt = this.stamp();
          this.phase = Phase.AtPrompt;
        }
        break;
      case Phase.Working: {
        const m = MD5_LINE.exec(this.text.slice(this.sentAt));
        if (m) {
          this.answer = this.stamp();
          this.md5 = m[1]!;
          this.phase = Phase.Answered;
        }
        break;
      }
      case Phase.Answered:
        if (this.text.endsWith(SHELL_PROMPT)) {
          const real = REAL_LINE.exec(this.text.slice(this.sentAt));
          if (real) this.guestSeconds = Number(real[1]) * 60 + Number(real[2]);
          this.phase = Phase.Done;
        }
        break;
      default:
        break;
    }
  }

  /** Record that the workload line is being sent now; returns the line to send. */
  markSent(mib: number): string {
    this.sent = this.stamp();
    this.sentAt = this.text.length;
    this.phase = Phase.Working;
    return workloadCommand(mib);
  }

  /** The last `n` lines of everything the guest printed (escape sequences shown as \e). */
  tail(n = TAIL_LINES): string {
    if (this.text.length === 0) return '    (no serial output yet)';
    const lines = this.text.replace(/\r/g, '').replace(/\x1b/g, '\\e').split('\n');
    return lines.slice(-n).map((l) => `    | ${l}`).join('\n');
  }

  /** A BootBenchError saying what the guest was waiting for, with the serial tail. */
  stuck(emulator: string, why: string): BootBenchError {
    return new BootBenchError(`${emulator}: ${why} ${this.waitingFor()}; last ${TAIL_LINES} lines of serial output:\n${this.tail()}`);
  }

  private waitingFor(): string {
    switch (this.phase) {
      case Phase.Booting: return this.readyAt < 0 ? `before /init's ready marker '${READY_MARKER}'` : `after the ready marker but before the shell prompt '${SHELL_PROMPT}'`;
      case Phase.AtPrompt: return 'at the shell prompt, before the workload was typed';
      case Phase.Working: return 'while the md5sum workload ran (no md5 line yet)';
      case Phase.Answered: return 'after the md5 line, before the next prompt';
      default: return 'after the session ended';
    }
  }

  /** Note a "Kernel panic" line (the guest then reboots: panic= on the command line). */
  private checkPanic(): void {
    const start = this.text.lastIndexOf('\n', this.text.length - 2) + 1;
    const line = this.text.slice(start).trim();
    if (line.includes('Kernel panic')) this.panic = line;
  }

  private stamp(): Stamp {
    return { ms: performance.now(), instructions: this.instructions() };
  }
}

/** What one emulator measured. */
export interface BootResult {
  readonly emulator: string;
  /** Seconds from starting the CPU to the first shell prompt. */
  readonly bootSeconds: number;
  /** Instructions the emulator counted to the first prompt (v86: its own counter). */
  readonly bootInstructions: number;
  /** Host seconds from typing the workload to its md5 line. */
  readonly workloadSeconds: number;
  /** Instructions executed over that span. */
  readonly workloadInstructions: number;
  /** busybox `time`'s "real" figure (the guest clock), if it printed one. */
  readonly guestWorkloadSeconds: number | null;
  readonly md5: string;
}

/** A finished dialogue as a BootResult (call only once it reached Phase.Done). */
export function resultOf(emulator: string, d: BootDialogue, startMs: number, startInstructions: number): BootResult {
  if (!d.prompt || !d.sent || !d.answer || d.md5 === null) throw new Error(`${emulator}: the session is not complete`);
  return {
    emulator,
    bootSeconds: (d.prompt.ms - startMs) / 1000,
    bootInstructions: d.prompt.instructions - startInstructions,
    workloadSeconds: (d.answer.ms - d.sent.ms) / 1000,
    workloadInstructions: d.answer.instructions - d.sent.instructions,
    guestWorkloadSeconds: d.guestSeconds,
    md5: d.md5,
  };
}

/** The files and settings both emulators boot with. */
export interface BootInputs {
  /** Kernel release or file name, for the header line. */
  readonly kernelName: string;
  readonly kernel: Uint8Array;
  readonly initrd: Uint8Array;
  readonly initrdName: string;
  readonly cmdline: string;
  readonly memoryBytes: number;
  readonly workloadMib: number;
  /** Per-phase limit (boot to prompt; workload to the next prompt), in seconds. */
  readonly timeoutSeconds: number;
}
