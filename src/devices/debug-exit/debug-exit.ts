/**
 * Debug exit port in the style of QEMU's isa-debug-exit device: a guest writes a value to
 * one I/O port (the board uses 0xF4) and the VM stops with an exit status derived from it.
 * Test kernels use it to report pass/fail without a shutdown path. Writes of 1, 2 or 4
 * bytes are accepted at any offset and the value (as wide as the write) goes to `onExit`;
 * reads return all ones, as from an unclaimed port.
 *
 * Width and registration: registered at DEBUG_EXIT_PORT_COUNT (1) port, as the board does,
 * a 2- or 4-byte write overhangs the device, so the I/O bus splits it into byte writes:
 * the device sees the low byte (one `onExit` call) and the other bytes are unclaimed.
 * Registered over 2 or 4 ports (QEMU's `iosize` property), it receives wide values whole.
 */

import type { AccessSize, IoDevice } from '../../bus/io-bus.js';
import { allOnes } from '../../bus/io-bus.js';

/** Conventional port of the debug exit device. */
export const DEBUG_EXIT_PORT = 0xf4;
/** Number of ports it occupies. */
export const DEBUG_EXIT_PORT_COUNT = 1;

/** Options the board gives the debug exit device. */
export interface DebugExitOptions {
  /** Name used by the bus in messages (default "debug-exit"). */
  readonly name?: string;
  /** Called with the value the guest wrote (unsigned, as wide as the write). */
  readonly onExit: (value: number) => void;
}

/**
 * The process exit status QEMU reports for a written value: QEMU exits with
 * `(value << 1) | 1`, and the host keeps only the low 8 bits of an exit status, so the
 * result is always odd (a guest cannot make QEMU report 0). Written 0 → 1, 1 → 3, 0x10 → 33.
 */
export function qemuDebugExitStatus(value: number): number {
  return ((value << 1) | 1) & 0xff;
}

/** The debug exit device (stateless, so no Persist). */
export class DebugExit implements IoDevice {
  readonly name: string;
  private readonly onExit: (value: number) => void;

  /** Create the device; `onExit` is called on every write. */
  constructor(options: DebugExitOptions) {
    this.name = options.name ?? 'debug-exit';
    this.onExit = options.onExit;
  }

  /** Reads return all ones. */
  ioRead(_offset: number, size: AccessSize): number {
    return allOnes(size);
  }

  /** A write of any width requests the exit with that value. */
  ioWrite(_offset: number, _size: AccessSize, value: number): void {
    this.onExit(value >>> 0);
  }
}
