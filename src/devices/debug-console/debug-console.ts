/**
 * Debug console port 0xE9 (the Bochs "port e9 hack", also QEMU's isa-debugcon): a guest
 * writes characters one byte at a time and they appear in the host's log without any UART
 * programming. Reading the port returns 0xE9, which guests use to detect the device.
 *
 * Output is line-buffered: bytes collect until a '\n', then the line (without the '\n' and
 * without a trailing '\r') is decoded as UTF-8 and passed to `log`. `flush()` emits a
 * partial line. A line longer than DEBUG_CONSOLE_MAX_LINE bytes is emitted in pieces so a
 * guest that never writes a newline cannot grow the buffer without bound. A wider write
 * sends its bytes in order, low byte first.
 *
 * Persist: the unfinished line travels with a snapshot or migration, so a line cut by a save
 * comes out whole on the machine that goes on.
 */

import type { AccessSize, IoDevice } from '../../bus/io-bus.js';
import { StateReader, type Persist, type SavedState } from '../../persist/persist.js';

/** Conventional port of the debug console. */
export const DEBUG_CONSOLE_PORT = 0xe9;
/** Number of ports it occupies. */
export const DEBUG_CONSOLE_PORT_COUNT = 1;
/** Value a read returns (the presence check convention). */
export const DEBUG_CONSOLE_READBACK = 0xe9;
/** Longest line kept before it is emitted anyway. */
export const DEBUG_CONSOLE_MAX_LINE = 4096;

const NEWLINE = 0x0a;
const CARRIAGE_RETURN = 0x0d;

/** Version of DebugConsoleState. */
export const DEBUG_CONSOLE_STATE_VERSION = 1;

/** Saved state: the bytes of the line not yet emitted. */
export interface DebugConsoleState extends SavedState {
  readonly version: number;
  readonly line: number[];
}

/** Options the board gives the debug console. */
export interface DebugConsoleOptions {
  /** Name used by the bus in messages (default "debug-console"). */
  readonly name?: string;
  /** Receives each complete line of guest output. */
  readonly log: (text: string) => void;
}

/** The 0xE9 debug console. */
export class DebugConsole implements IoDevice, Persist<DebugConsoleState> {
  readonly name: string;
  readonly persistId = 'debugcon0';
  private readonly log: (text: string) => void;
  private readonly line = new Uint8Array(DEBUG_CONSOLE_MAX_LINE);
  private lineLength = 0;
  private readonly decoder = new TextDecoder('utf-8');

  /** Create the console; lines go to `log`. */
  constructor(options: DebugConsoleOptions) {
    this.name = options.name ?? 'debug-console';
    this.log = options.log;
  }

  /** Reads return 0xE9 in every byte. */
  ioRead(_offset: number, size: AccessSize): number {
    let value = 0;
    for (let i = 0; i < size; i++) value |= DEBUG_CONSOLE_READBACK << (8 * i);
    return value >>> 0;
  }

  /** Each byte written is one character of output. */
  ioWrite(_offset: number, size: AccessSize, value: number): void {
    for (let i = 0; i < size; i++) this.putByte((value >>> (8 * i)) & 0xff);
  }

  /** Emit the buffered partial line, if any. */
  flush(): void {
    if (this.lineLength === 0) return;
    let length = this.lineLength;
    if (this.line[length - 1] === CARRIAGE_RETURN) length--;
    const text = this.decoder.decode(this.line.subarray(0, length));
    this.lineLength = 0;
    this.log(text);
  }

  /** The unfinished line. */
  save(): DebugConsoleState {
    return { version: DEBUG_CONSOLE_STATE_VERSION, line: Array.from(this.line.subarray(0, this.lineLength)) };
  }

  /** Validate, then take the unfinished line (at most DEBUG_CONSOLE_MAX_LINE bytes). */
  restore(state: unknown): void {
    const reader = new StateReader(this.persistId, state);
    reader.version([DEBUG_CONSOLE_STATE_VERSION]);
    const line = reader.ints('line', 0, 0xff, 0, DEBUG_CONSOLE_MAX_LINE);
    this.line.set(line);
    this.lineLength = line.length;
  }

  private putByte(byte: number): void {
    if (byte === NEWLINE) {
      this.emitLine();
      return;
    }
    if (this.lineLength === DEBUG_CONSOLE_MAX_LINE) this.flush();
    this.line[this.lineLength++] = byte;
  }

  /** A newline ends the line, even an empty one. */
  private emitLine(): void {
    if (this.lineLength === 0) this.log('');
    else this.flush();
  }
}
