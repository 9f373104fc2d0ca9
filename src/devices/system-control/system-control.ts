/**
 * Two single-port legacy PC devices:
 *
 * - System control port A at 0x92 (IBM PS/2 "fast A20 and reset" port; the same bits in the
 *   Intel PIIX/ICH chipset datasheets, "Port 92h"): bit 1 = alternate A20 gate, bit 0 =
 *   fast reset (INIT_NOW), other bits stored. The port reads back what was written.
 *   Model choices: `onA20(enabled)` is called when bit 1 changes (the board ORs it with
 *   the 8042's A20 output); `onReset()` is called when bit 0 goes from 0 to 1, as the
 *   chipset datasheets specify (a guest writes 0 before it can reset again). Power-on value
 *   0x00; `reset()` returns to it without calling either callback.
 *
 * - POST code port at 0x80: firmware writes progress codes here and Linux uses it as a
 *   short I/O delay (`outb_p`). Writes are recorded (last value, total count and the last
 *   POST_HISTORY_LENGTH values); reads return the last value written. A write wider than a
 *   byte records its low byte. Cheap on purpose: no allocation per write.
 */

import type { AccessSize, IoDevice } from '../../bus/io-bus.js';
import { type Persist, type SavedState, StateError, StateReader } from '../../persist/persist.js';

/** Port of system control port A. */
export const SYSTEM_CONTROL_PORT_A = 0x92;
/** Bit 0: fast reset (acts on a 0 → 1 transition). */
export const PORT92_FAST_RESET = 0x01;
/** Bit 1: alternate A20 gate. */
export const PORT92_A20 = 0x02;

/** Port of the POST code register. */
export const POST_CODE_PORT = 0x80;
/** How many POST codes the history keeps. */
export const POST_HISTORY_LENGTH = 16;

const PORT92_STATE_VERSION = 1;
const PORT80_STATE_VERSION = 1;

/** Options the board gives port 0x92. */
export interface SystemControlPortAOptions {
  /** Persist id and device name (default "port92"). */
  readonly id?: string;
  /** Bit 1 changed. */
  readonly onA20: (enabled: boolean) => void;
  /** Bit 0 went from 0 to 1. */
  readonly onReset: () => void;
}

/** Saved state of port 0x92. */
export interface SystemControlPortAState extends SavedState {
  readonly version: number;
  readonly value: number;
}

/** System control port A (0x92): fast A20 gate and fast reset. */
export class SystemControlPortA implements IoDevice, Persist<SystemControlPortAState> {
  readonly name: string;
  readonly persistId: string;
  private readonly onA20: (enabled: boolean) => void;
  private readonly onReset: () => void;
  private value = 0;

  /** Create the port with value 0 (A20 gate off through this port). */
  constructor(options: SystemControlPortAOptions) {
    this.name = options.id ?? 'port92';
    this.persistId = this.name;
    this.onA20 = options.onA20;
    this.onReset = options.onReset;
  }

  /** Power-on value 0; callbacks are not called. */
  reset(): void {
    this.value = 0;
  }

  /** Bit 1 of the port. */
  get a20Enabled(): boolean {
    return (this.value & PORT92_A20) !== 0;
  }

  /** Reads return the stored bits (offset 0; other offsets read as all ones). */
  ioRead(offset: number, _size: AccessSize): number {
    return offset === 0 ? this.value : 0xff;
  }

  /** Store the byte; report an A20 change and a 0 → 1 edge of the reset bit. */
  ioWrite(offset: number, _size: AccessSize, value: number): void {
    if (offset !== 0) return;
    const before = this.value;
    this.value = value & 0xff;
    if (((before ^ this.value) & PORT92_A20) !== 0) this.onA20(this.a20Enabled);
    if ((before & PORT92_FAST_RESET) === 0 && (this.value & PORT92_FAST_RESET) !== 0) this.onReset();
  }

  /** Capture the port value. */
  save(): SystemControlPortAState {
    return { version: PORT92_STATE_VERSION, value: this.value };
  }

  /** Validate and apply; callbacks are not called (the board restores its own A20 state). */
  restore(state: unknown): void {
    const r = new StateReader(this.persistId, state);
    r.version([PORT92_STATE_VERSION]);
    this.value = r.int('value', 0, 0xff);
  }
}

/** Options for the POST code port. */
export interface PostCodePortOptions {
  /** Persist id and device name (default "port80"). */
  readonly id?: string;
}

/** Saved state of the POST code port. */
export interface PostCodePortState extends SavedState {
  readonly version: number;
  readonly last: number;
  readonly writes: number;
  /** The recorded codes, oldest first (at most POST_HISTORY_LENGTH, and at most `writes`). */
  readonly history: number[];
}

/** The POST diagnostic port (0x80). */
export class PostCodePort implements IoDevice, Persist<PostCodePortState> {
  readonly name: string;
  readonly persistId: string;
  private last = 0;
  private writes = 0;
  private readonly ring = new Uint8Array(POST_HISTORY_LENGTH);

  /** Create the port with no codes recorded. */
  constructor(options: PostCodePortOptions = {}) {
    this.name = options.id ?? 'port80';
    this.persistId = this.name;
  }

  /** Forget every recorded code. */
  reset(): void {
    this.last = 0;
    this.writes = 0;
    this.ring.fill(0);
  }

  /** The last code written (0 before any write). */
  get lastCode(): number {
    return this.last;
  }

  /** How many writes the port has seen. */
  get writeCount(): number {
    return this.writes;
  }

  /** The last codes written, oldest first (a fresh array; not for hot paths). */
  history(): number[] {
    const count = Math.min(this.writes, POST_HISTORY_LENGTH);
    const out: number[] = [];
    for (let i = this.writes - count; i < this.writes; i++) out.push(this.ring[i % POST_HISTORY_LENGTH]!);
    return out;
  }

  /** Reads return the last code. */
  ioRead(_offset: number, _size: AccessSize): number {
    return this.last;
  }

  /** Record the low byte of the write. */
  ioWrite(_offset: number, _size: AccessSize, value: number): void {
    const code = value & 0xff;
    this.last = code;
    this.ring[this.writes % POST_HISTORY_LENGTH] = code;
    this.writes++;
  }

  /** Capture last code, count and history. */
  save(): PostCodePortState {
    return { version: PORT80_STATE_VERSION, last: this.last, writes: this.writes, history: this.history() };
  }

  /** Validate and apply. */
  restore(state: unknown): void {
    const r = new StateReader(this.persistId, state);
    r.version([PORT80_STATE_VERSION]);
    const last = r.int('last', 0, 0xff);
    const writes = r.int('writes', 0, Number.MAX_SAFE_INTEGER);
    const history = r.ints('history', 0, 0xff, 0, POST_HISTORY_LENGTH);
    if (history.length !== Math.min(writes, POST_HISTORY_LENGTH)) {
      throw new StateError(this.persistId, 'history', `${history.length} codes for ${writes} writes`);
    }
    if (history.length > 0 && history[history.length - 1] !== last) {
      throw new StateError(this.persistId, 'history', 'newest code differs from last');
    }
    this.last = last;
    this.writes = writes;
    this.ring.fill(0);
    const first = writes - history.length;
    for (let i = 0; i < history.length; i++) this.ring[(first + i) % POST_HISTORY_LENGTH] = history[i]!;
  }
}
