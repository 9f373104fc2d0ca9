/**
 * Intel 8042 keyboard controller as found on PC/AT and PS/2 machines (IBM PS/2 Hardware
 * Interface Technical Reference, "Keyboard/Auxiliary Device Controller"; Intel 8042 data
 * sheet for the status register), with a PS/2 keyboard on its first port and a PS/2 mouse
 * on the auxiliary port (ps2-devices.ts).
 *
 *   port 0x60 read: output buffer        write: data (to the keyboard, or a command's byte)
 *   port 0x64 read: status register      write: controller command
 *
 * Registration: the two ports are not adjacent (0x61 belongs to system control port B),
 * so the controller exposes two IoDevice faces, `dataPort` (register at 0x60, 1 port) and
 * `commandPort` (register at 0x64, 1 port). Both faces share one Persist ('i8042').
 *
 * Status register: bit 0 OBF, 1 IBF (always 0: input is processed at once), 2 SYS (copy of
 * command byte bit 2), 3 A2 (last write went to 0x64), 4 keyboard not inhibited (always
 * 1: no key lock), 5 AUXB (output buffer holds auxiliary data), 6-7 timeout/parity (0).
 *
 * Command byte (controller RAM byte 0; 0x20-0x3F read RAM byte n, 0x60-0x7F write it):
 * bit 0 keyboard IRQ enable, 1 aux IRQ enable, 2 SYS, 4 keyboard disabled, 5 aux disabled,
 * 6 translate set 2 → set 1. Other commands: 0xA4 password test (0xF1: none), 0xA7/0xA8
 * aux disable/enable, 0xA9 aux interface test (0x00), 0xAA self test (0x55), 0xAB keyboard
 * interface test (0x00), 0xAD/0xAE keyboard disable/enable, 0xC0 input port (0x80: bit 7 =
 * keyboard not inhibited), 0xD0 read / 0xD1 write output port, 0xD2 / 0xD3 write the
 * keyboard / aux output buffer, 0xD4 next byte to the mouse, 0xDD/0xDF A20 off/on, 0xF0-0xFF
 * pulse output port bits 0-3 low (a pulse on bit 0 — e.g. 0xFE — resets the system).
 *
 * Model choices:
 * - Output: the keyboard, the mouse and the controller share one ordered queue towards the
 *   single output buffer. A byte enters the output buffer only when OBF is clear, taking
 *   the oldest queued byte whose source may send: controller responses always, keyboard
 *   bytes unless the keyboard is disabled (command byte bit 4), mouse bytes unless the aux
 *   port is disabled (bit 5) — a disabled device's bytes wait. Reading 0x60 empties the
 *   buffer and the next byte moves in at once. The queue holds I8042_QUEUE_CAPACITY bytes;
 *   beyond that bytes are dropped and counted (`droppedBytes`).
 * - Translation (command byte bit 6) applies to keyboard bytes as they enter the output
 *   buffer: the 8042's fixed table maps set-2 codes 0x00-0x7F (and 0x83 → 0x41, 0x84 →
 *   0x54) to set 1; 0xF0 is swallowed and sets bit 7 of the next translated byte; other
 *   bytes (0xE0, 0xFA, 0xAA, ...) pass unchanged. Bytes written with 0xD2 are not
 *   translated.
 * - IRQ lines are levels: IRQ 1 = OBF with keyboard-side data and command byte bit 0;
 *   IRQ 12 = OBF with aux data and bit 1. Reading 0x60 lowers the line; a next byte raises
 *   it again (a fresh edge).
 * - Output port (0xD0/0xD1): bit 0 system reset (writing 0 calls `onReset`), bit 1 A20
 *   (a change calls `onA20`), bits 4/5 read back the keyboard/aux output-buffer-full
 *   state, other bits are stored. Power-on value 0xCF (not in reset, A20 enabled, clock and
 *   data lines high). The board should OR this A20 output with port 0x92's.
 * - A byte written to 0x60 with no command waiting goes to the keyboard even while the
 *   keyboard interface is disabled (its answers wait in the queue); a command to a device
 *   discards that device's queued bytes the controller has not yet taken (PS/2 devices
 *   clear their output buffer on a command).
 * - 0xAA does not change the command byte. 0xA1 (vendor version) and any other command
 *   not listed are ignored and counted (`unsupportedCommands`); no byte is returned.
 * - Power-on command byte 0x65 (what PC firmware leaves: keyboard IRQ on, SYS set, aux port
 *   disabled, translation on); the keyboard scans, the mouse does not report.
 */

import type { AccessSize, IoDevice } from '../../bus/io-bus.js';
import type { IrqLine } from '../../bus/irq.js';
import { type Persist, type SavedState, StateError, StateReader } from '../../persist/persist.js';
import {
  AUX_PARAMETER_COMMANDS,
  KBD_PARAMETER_COMMANDS,
  Ps2Keyboard,
  type Ps2KeyboardState,
  Ps2Mouse,
  type Ps2MouseState,
} from './ps2-devices.js';

/** Data port. */
export const I8042_DATA_PORT = 0x60;
/** Status (read) / command (write) port. */
export const I8042_COMMAND_PORT = 0x64;

// Status register.
/** Output buffer full. */
export const I8042_STR_OBF = 0x01;
/** Input buffer full (never set here). */
export const I8042_STR_IBF = 0x02;
/** System flag (command byte bit 2). */
export const I8042_STR_SYS = 0x04;
/** Last write was a command (port 0x64). */
export const I8042_STR_CMD = 0x08;
/** Keyboard not inhibited. */
export const I8042_STR_NOT_INHIBITED = 0x10;
/** Output buffer holds auxiliary-device data. */
export const I8042_STR_AUXDATA = 0x20;

// Command byte.
/** Keyboard interrupt enable. */
export const I8042_CTR_KBDINT = 0x01;
/** Aux interrupt enable. */
export const I8042_CTR_AUXINT = 0x02;
/** System flag. */
export const I8042_CTR_SYS = 0x04;
/** Keyboard interface disabled. */
export const I8042_CTR_KBDDIS = 0x10;
/** Aux interface disabled. */
export const I8042_CTR_AUXDIS = 0x20;
/** Translate set 2 to set 1. */
export const I8042_CTR_XLATE = 0x40;
/** Command byte at power-on. */
export const I8042_POWER_ON_CTR = I8042_CTR_XLATE | I8042_CTR_AUXDIS | I8042_CTR_SYS | I8042_CTR_KBDINT;

// Controller commands.
/** Read controller RAM byte 0 (the command byte); 0x21-0x3F read bytes 1-31. */
export const I8042_CMD_READ_CTR = 0x20;
/** Write the command byte; 0x61-0x7F write RAM bytes 1-31. */
export const I8042_CMD_WRITE_CTR = 0x60;
/** Password installed test. */
export const I8042_CMD_PASSWORD_TEST = 0xa4;
/** Disable aux interface. */
export const I8042_CMD_AUX_DISABLE = 0xa7;
/** Enable aux interface. */
export const I8042_CMD_AUX_ENABLE = 0xa8;
/** Aux interface test. */
export const I8042_CMD_AUX_TEST = 0xa9;
/** Controller self test. */
export const I8042_CMD_SELF_TEST = 0xaa;
/** Keyboard interface test. */
export const I8042_CMD_KBD_TEST = 0xab;
/** Disable keyboard interface. */
export const I8042_CMD_KBD_DISABLE = 0xad;
/** Enable keyboard interface. */
export const I8042_CMD_KBD_ENABLE = 0xae;
/** Read input port. */
export const I8042_CMD_READ_INPUT = 0xc0;
/** Read output port. */
export const I8042_CMD_READ_OUTPUT = 0xd0;
/** Write output port (+ byte). */
export const I8042_CMD_WRITE_OUTPUT = 0xd1;
/** Write keyboard output buffer (+ byte). */
export const I8042_CMD_WRITE_KBD_OUTPUT = 0xd2;
/** Write aux output buffer (+ byte). */
export const I8042_CMD_WRITE_AUX_OUTPUT = 0xd3;
/** Write to aux device (+ byte). */
export const I8042_CMD_WRITE_AUX = 0xd4;
/** Disable A20 (common extension). */
export const I8042_CMD_A20_OFF = 0xdd;
/** Enable A20 (common extension). */
export const I8042_CMD_A20_ON = 0xdf;
/** First "pulse output port" command (0xF0-0xFF; low nibble 0 bits are pulsed). */
export const I8042_CMD_PULSE_FIRST = 0xf0;

/** Self-test passed. */
export const I8042_SELF_TEST_OK = 0x55;
/** Interface test passed. */
export const I8042_INTERFACE_TEST_OK = 0x00;
/** Password test: no password installed. */
export const I8042_NO_PASSWORD = 0xf1;
/** Input port value: keyboard not inhibited. */
export const I8042_INPUT_PORT = 0x80;

// Output port.
/** 0 = system reset asserted. */
export const I8042_OUT_RESET = 0x01;
/** A20 gate. */
export const I8042_OUT_A20 = 0x02;
/** Keyboard output buffer full (IRQ 1 pin). */
export const I8042_OUT_KBD_OBF = 0x10;
/** Aux output buffer full (IRQ 12 pin). */
export const I8042_OUT_AUX_OBF = 0x20;
/** Output port at power-on. */
export const I8042_POWER_ON_OUTPUT_PORT = 0xcf;

/** Bytes the output queue holds. */
export const I8042_QUEUE_CAPACITY = 256;
/** Controller RAM size (byte 0 = command byte). */
export const I8042_RAM_SIZE = 32;

/** Sources of queued bytes (entry = byte | source << 8). */
const enum Source {
  Controller = 0,
  Keyboard = 1,
  ControllerAux = 2,
  Mouse = 3,
}

/** The 8042's set 2 → set 1 translation for codes 0x00-0x7F (fact table). */
const SET2_TO_SET1 = new Uint8Array([
  0xff, 0x43, 0x41, 0x3f, 0x3d, 0x3b, 0x3c, 0x58, 0x64, 0x44, 0x42, 0x40, 0x3e, 0x0f, 0x29, 0x59,
  0x65, 0x38, 0x2a, 0x70, 0x1d, 0x10, 0x02, 0x5a, 0x66, 0x71, 0x2c, 0x1f, 0x1e, 0x11, 0x03, 0x5b,
  0x67, 0x2e, 0x2d, 0x20, 0x12, 0x05, 0x04, 0x5c, 0x68, 0x39, 0x2f, 0x21, 0x14, 0x13, 0x06, 0x5d,
  0x69, 0x31, 0x30, 0x23, 0x22, 0x15, 0x07, 0x5e, 0x6a, 0x72, 0x32, 0x24, 0x16, 0x08, 0x09, 0x5f,
  0x6b, 0x33, 0x25, 0x17, 0x18, 0x0b, 0x0a, 0x60, 0x6c, 0x34, 0x35, 0x26, 0x27, 0x19, 0x0c, 0x61,
  0x6d, 0x73, 0x28, 0x74, 0x1a, 0x0d, 0x62, 0x6e, 0x3a, 0x36, 0x1c, 0x1b, 0x75, 0x2b, 0x63, 0x76,
  0x55, 0x56, 0x77, 0x78, 0x79, 0x7a, 0x0e, 0x7b, 0x7c, 0x4f, 0x7d, 0x4b, 0x47, 0x7e, 0x7f, 0x6f,
  0x52, 0x53, 0x50, 0x4c, 0x4d, 0x48, 0x01, 0x45, 0x57, 0x4e, 0x51, 0x4a, 0x37, 0x49, 0x46, 0x54,
]);
/** Set-2 break prefix. */
const SET2_BREAK_PREFIX = 0xf0;

/** Translate one set-2 byte to set 1 as the 8042 does (without the break prefix logic). */
export function translateSet2Byte(byte: number): number {
  if (byte < 0x80) return SET2_TO_SET1[byte]!;
  if (byte === 0x83) return 0x41; // F7
  if (byte === 0x84) return 0x54; // Alt+SysRq
  return byte;
}

/** Options the board gives the controller. */
export interface I8042Options {
  /** Persist id and device name (default "i8042"). */
  readonly id?: string;
  /** IRQ 1. */
  readonly kbdIrq: IrqLine;
  /** IRQ 12. */
  readonly auxIrq: IrqLine;
  /** The guest asked for a system reset (output port bit 0 low, or pulse command 0xFE). */
  readonly onReset: () => void;
  /** The A20 output changed. */
  readonly onA20: (enabled: boolean) => void;
}

/** Saved state of the controller and both devices. */
export interface I8042State extends SavedState {
  readonly version: number;
  /** Controller RAM; byte 0 is the command byte. */
  readonly ram: number[];
  readonly outputPort: number;
  /** Command waiting for its data byte (0 = none). */
  readonly pendingCommand: number;
  readonly lastWriteWasCommand: boolean;
  readonly outputFull: boolean;
  readonly outputByte: number;
  readonly outputAux: boolean;
  /** A set-2 0xF0 was swallowed by translation; the next byte gets bit 7. */
  readonly breakPrefix: boolean;
  /** Queued bytes, oldest first: byte | source << 8 (0 controller, 1 keyboard, 2 controller-aux, 3 mouse). */
  readonly queue: number[];
  readonly droppedBytes: number;
  readonly unsupportedCommands: number;
  readonly keyboard: Ps2KeyboardState;
  readonly mouse: Ps2MouseState;
}

const I8042_STATE_VERSION = 1;
const CONTROLLER_DATA_COMMANDS: readonly number[] = [
  I8042_CMD_WRITE_OUTPUT,
  I8042_CMD_WRITE_KBD_OUTPUT,
  I8042_CMD_WRITE_AUX_OUTPUT,
  I8042_CMD_WRITE_AUX,
];

/** Port 0x60 face of the controller. */
class I8042DataPort implements IoDevice {
  readonly name: string;
  constructor(private readonly controller: I8042) {
    this.name = `${controller.name} data`;
  }
  ioRead(offset: number, _size: AccessSize): number {
    return offset === 0 ? this.controller.readData() : 0xff;
  }
  ioWrite(offset: number, _size: AccessSize, value: number): void {
    if (offset === 0) this.controller.writeData(value & 0xff);
  }
}

/** Port 0x64 face of the controller. */
class I8042CommandPort implements IoDevice {
  readonly name: string;
  constructor(private readonly controller: I8042) {
    this.name = `${controller.name} status/command`;
  }
  ioRead(offset: number, _size: AccessSize): number {
    return offset === 0 ? this.controller.readStatus() : 0xff;
  }
  ioWrite(offset: number, _size: AccessSize, value: number): void {
    if (offset === 0) this.controller.writeCommand(value & 0xff);
  }
}

/** The 8042 keyboard controller with a PS/2 keyboard and mouse. */
export class I8042 implements Persist<I8042State> {
  readonly name: string;
  readonly persistId: string;
  /** IoDevice for port 0x60 (register 1 port there). */
  readonly dataPort: IoDevice;
  /** IoDevice for port 0x64 (register 1 port there). */
  readonly commandPort: IoDevice;

  private readonly kbdIrq: IrqLine;
  private readonly auxIrq: IrqLine;
  private readonly onReset: () => void;
  private readonly onA20: (enabled: boolean) => void;
  private readonly keyboard: Ps2Keyboard;
  private readonly mouse: Ps2Mouse;

  private readonly ram = new Uint8Array(I8042_RAM_SIZE);
  private outputPort = I8042_POWER_ON_OUTPUT_PORT;
  private pendingCommand = 0;
  private lastWriteWasCommand = false;
  private outputFull = false;
  private outputByte = 0;
  private outputAux = false;
  private breakPrefix = false;
  private queue: number[] = [];
  private droppedByteCount = 0;
  private unsupportedCommandCount = 0;

  /** Create the controller in its power-on state; both IRQ lines low. */
  constructor(options: I8042Options) {
    this.name = options.id ?? 'i8042';
    this.persistId = this.name;
    this.kbdIrq = options.kbdIrq;
    this.auxIrq = options.auxIrq;
    this.onReset = options.onReset;
    this.onA20 = options.onA20;
    this.keyboard = new Ps2Keyboard((byte) => this.enqueue(byte, Source.Keyboard));
    this.mouse = new Ps2Mouse((byte) => this.enqueue(byte, Source.Mouse));
    this.dataPort = new I8042DataPort(this);
    this.commandPort = new I8042CommandPort(this);
    this.reset();
  }

  /** Power-on state of controller, keyboard and mouse (callbacks are not called). */
  reset(): void {
    this.ram.fill(0);
    this.ram[0] = I8042_POWER_ON_CTR;
    this.outputPort = I8042_POWER_ON_OUTPUT_PORT;
    this.pendingCommand = 0;
    this.lastWriteWasCommand = false;
    this.outputFull = false;
    this.outputByte = 0;
    this.outputAux = false;
    this.breakPrefix = false;
    this.queue = [];
    this.droppedByteCount = 0;
    this.unsupportedCommandCount = 0;
    this.keyboard.reset();
    this.mouse.reset();
    this.updateIrqs();
  }

  // ---- host side ----

  /**
   * Host key events as set-2 bytes (make codes, 0xF0-prefixed break codes, 0xE0 prefixes).
   * Returns how many bytes were queued: 0 while the keyboard has scanning disabled, fewer
   * than given when the queue is full.
   */
  keyboardInput(set2Bytes: Uint8Array): number {
    const before = this.droppedByteCount;
    const accepted = this.keyboard.keyInput(set2Bytes);
    this.fillOutputBuffer();
    return accepted - (this.droppedByteCount - before);
  }

  /** Host mouse motion (dy > 0 = up) and buttons; true if the mouse produced a packet. */
  mouseInput(dx: number, dy: number, buttons: number): boolean {
    const sent = this.mouse.motion(dx, dy, buttons);
    this.fillOutputBuffer();
    return sent;
  }

  /** Bytes dropped because the output queue was full. */
  get droppedBytes(): number {
    return this.droppedByteCount;
  }

  /** Controller commands ignored as unsupported. */
  get unsupportedCommands(): number {
    return this.unsupportedCommandCount;
  }

  /** The command byte (controller RAM byte 0). */
  get commandByte(): number {
    return this.ram[0]!;
  }

  /** The A20 bit of the output port. */
  get a20Enabled(): boolean {
    return (this.outputPort & I8042_OUT_A20) !== 0;
  }

  /** Keyboard LED state set by the guest (bit 0 scroll, 1 num, 2 caps lock). */
  get keyboardLeds(): number {
    return this.keyboard.ledState;
  }

  // ---- guest side ----

  /** Port 0x60 read: the output buffer (the last byte again when empty); clears OBF. */
  readData(): number {
    const value = this.outputByte;
    if (this.outputFull) {
      this.outputFull = false;
      this.updateIrqs();
      this.fillOutputBuffer();
    }
    return value;
  }

  /** Port 0x64 read: the status register. */
  readStatus(): number {
    return (
      (this.outputFull ? I8042_STR_OBF : 0) |
      (this.ram[0]! & I8042_CTR_SYS ? I8042_STR_SYS : 0) |
      (this.lastWriteWasCommand ? I8042_STR_CMD : 0) |
      I8042_STR_NOT_INHIBITED |
      (this.outputFull && this.outputAux ? I8042_STR_AUXDATA : 0)
    );
  }

  /** Port 0x60 write: a waiting command's data byte, otherwise a byte for the keyboard. */
  writeData(value: number): void {
    this.lastWriteWasCommand = false;
    const command = this.pendingCommand;
    this.pendingCommand = 0;
    if (command === 0) {
      this.sendToKeyboard(value);
    } else if (command >= I8042_CMD_WRITE_CTR && command < I8042_CMD_WRITE_CTR + I8042_RAM_SIZE) {
      this.ram[command - I8042_CMD_WRITE_CTR] = value;
    } else if (command === I8042_CMD_WRITE_OUTPUT) {
      this.writeOutputPort(value);
    } else if (command === I8042_CMD_WRITE_KBD_OUTPUT) {
      this.enqueue(value, Source.Controller);
    } else if (command === I8042_CMD_WRITE_AUX_OUTPUT) {
      this.enqueue(value, Source.ControllerAux);
    } else {
      this.sendToMouse(value);
    }
    this.fillOutputBuffer();
    this.updateIrqs();
  }

  /** Port 0x64 write: a controller command. */
  writeCommand(value: number): void {
    this.lastWriteWasCommand = true;
    this.pendingCommand = 0;
    this.executeCommand(value);
    this.fillOutputBuffer();
    this.updateIrqs();
  }

  private executeCommand(command: number): void {
    if (command >= I8042_CMD_READ_CTR && command < I8042_CMD_READ_CTR + I8042_RAM_SIZE) {
      this.respond(this.ram[command - I8042_CMD_READ_CTR]!);
      return;
    }
    if (command >= I8042_CMD_WRITE_CTR && command < I8042_CMD_WRITE_CTR + I8042_RAM_SIZE) {
      this.pendingCommand = command;
      return;
    }
    if (command >= I8042_CMD_PULSE_FIRST) {
      if ((command & I8042_OUT_RESET) === 0) this.onReset();
      return;
    }
    switch (command) {
      case I8042_CMD_PASSWORD_TEST:
        this.respond(I8042_NO_PASSWORD);
        break;
      case I8042_CMD_AUX_DISABLE:
        this.ram[0]! |= I8042_CTR_AUXDIS;
        break;
      case I8042_CMD_AUX_ENABLE:
        this.ram[0]! &= ~I8042_CTR_AUXDIS;
        break;
      case I8042_CMD_AUX_TEST:
      case I8042_CMD_KBD_TEST:
        this.respond(I8042_INTERFACE_TEST_OK);
        break;
      case I8042_CMD_SELF_TEST:
        this.respond(I8042_SELF_TEST_OK);
        break;
      case I8042_CMD_KBD_DISABLE:
        this.ram[0]! |= I8042_CTR_KBDDIS;
        break;
      case I8042_CMD_KBD_ENABLE:
        this.ram[0]! &= ~I8042_CTR_KBDDIS;
        break;
      case I8042_CMD_READ_INPUT:
        this.respond(I8042_INPUT_PORT);
        break;
      case I8042_CMD_READ_OUTPUT:
        this.respond(this.readOutputPort());
        break;
      case I8042_CMD_WRITE_OUTPUT:
      case I8042_CMD_WRITE_KBD_OUTPUT:
      case I8042_CMD_WRITE_AUX_OUTPUT:
      case I8042_CMD_WRITE_AUX:
        this.pendingCommand = command;
        break;
      case I8042_CMD_A20_OFF:
        this.writeOutputPort(this.outputPort & ~I8042_OUT_A20);
        break;
      case I8042_CMD_A20_ON:
        this.writeOutputPort(this.outputPort | I8042_OUT_A20);
        break;
      default:
        this.unsupportedCommandCount++;
    }
  }

  // ---- output port ----

  private readOutputPort(): number {
    return (
      (this.outputPort & ~(I8042_OUT_KBD_OBF | I8042_OUT_AUX_OBF)) |
      (this.outputFull && !this.outputAux ? I8042_OUT_KBD_OBF : 0) |
      (this.outputFull && this.outputAux ? I8042_OUT_AUX_OBF : 0)
    );
  }

  private writeOutputPort(value: number): void {
    const before = this.outputPort;
    this.outputPort = value & ~(I8042_OUT_KBD_OBF | I8042_OUT_AUX_OBF) & 0xff;
    if (((before ^ this.outputPort) & I8042_OUT_A20) !== 0) this.onA20(this.a20Enabled);
    if ((this.outputPort & I8042_OUT_RESET) === 0) this.onReset();
  }

  // ---- devices ----

  private sendToKeyboard(byte: number): void {
    this.discardQueued(Source.Keyboard);
    this.keyboard.receive(byte);
  }

  private sendToMouse(byte: number): void {
    this.discardQueued(Source.Mouse);
    this.mouse.receive(byte);
  }

  // ---- output queue ----

  private respond(byte: number): void {
    this.enqueue(byte, Source.Controller);
  }

  private enqueue(byte: number, source: Source): void {
    if (this.queue.length >= I8042_QUEUE_CAPACITY) {
      this.droppedByteCount++;
      return;
    }
    this.queue.push((byte & 0xff) | (source << 8));
  }

  private discardQueued(source: Source): void {
    this.queue = this.queue.filter((entry) => entry >>> 8 !== source);
  }

  private mayDeliver(source: number): boolean {
    const ctr = this.ram[0]!;
    if (source === Source.Keyboard) return (ctr & I8042_CTR_KBDDIS) === 0;
    if (source === Source.Mouse) return (ctr & I8042_CTR_AUXDIS) === 0;
    return true;
  }

  /** Move the oldest deliverable queued byte into the empty output buffer. */
  private fillOutputBuffer(): void {
    while (!this.outputFull) {
      const index = this.queue.findIndex((entry) => this.mayDeliver(entry >>> 8));
      if (index < 0) break;
      const entry = this.queue[index]!;
      this.queue.splice(index, 1);
      const source = entry >>> 8;
      let byte = entry & 0xff;
      if (source === Source.Keyboard && (this.ram[0]! & I8042_CTR_XLATE) !== 0) {
        if (byte === SET2_BREAK_PREFIX) {
          this.breakPrefix = true;
          continue;
        }
        byte = translateSet2Byte(byte) | (this.breakPrefix ? 0x80 : 0);
        this.breakPrefix = false;
      }
      this.outputByte = byte;
      this.outputAux = source === Source.ControllerAux || source === Source.Mouse;
      this.outputFull = true;
    }
    this.updateIrqs();
  }

  private updateIrqs(): void {
    const ctr = this.ram[0]!;
    this.kbdIrq.set(this.outputFull && !this.outputAux && (ctr & I8042_CTR_KBDINT) !== 0);
    this.auxIrq.set(this.outputFull && this.outputAux && (ctr & I8042_CTR_AUXINT) !== 0);
  }

  // ---- Persist ----

  /** Capture controller, queue, keyboard and mouse state. */
  save(): I8042State {
    return {
      version: I8042_STATE_VERSION,
      ram: Array.from(this.ram),
      outputPort: this.outputPort,
      pendingCommand: this.pendingCommand,
      lastWriteWasCommand: this.lastWriteWasCommand,
      outputFull: this.outputFull,
      outputByte: this.outputByte,
      outputAux: this.outputAux,
      breakPrefix: this.breakPrefix,
      queue: [...this.queue],
      droppedBytes: this.droppedByteCount,
      unsupportedCommands: this.unsupportedCommandCount,
      keyboard: this.keyboard.save(),
      mouse: this.mouse.save(),
    };
  }

  /** Validate `state` completely, then apply it and drive both IRQ lines to match. */
  restore(state: unknown): void {
    const s = this.validateState(state);
    this.ram.set(s.ram);
    this.outputPort = s.outputPort;
    this.pendingCommand = s.pendingCommand;
    this.lastWriteWasCommand = s.lastWriteWasCommand;
    this.outputFull = s.outputFull;
    this.outputByte = s.outputByte;
    this.outputAux = s.outputAux;
    this.breakPrefix = s.breakPrefix;
    this.queue = [...s.queue];
    this.droppedByteCount = s.droppedBytes;
    this.unsupportedCommandCount = s.unsupportedCommands;
    this.keyboard.load(s.keyboard);
    this.mouse.load(s.mouse);
    this.updateIrqs();
  }

  /** Check every field of untrusted state; throws StateError naming the bad field. */
  private validateState(state: unknown): I8042State {
    const r = new StateReader(this.persistId, state);
    const version = r.version([I8042_STATE_VERSION]);
    const pendingCommand = r.int('pendingCommand', 0, 0xff);
    const isRamWrite = pendingCommand >= I8042_CMD_WRITE_CTR && pendingCommand < I8042_CMD_WRITE_CTR + I8042_RAM_SIZE;
    if (pendingCommand !== 0 && !isRamWrite && !CONTROLLER_DATA_COMMANDS.includes(pendingCommand)) {
      throw new StateError(this.persistId, 'pendingCommand', `0x${pendingCommand.toString(16)} takes no data byte`);
    }
    const queue = r.ints('queue', 0, (Source.Mouse << 8) | 0xff, 0, I8042_QUEUE_CAPACITY);
    const outputPort = r.int('outputPort', 0, 0xff);
    if ((outputPort & (I8042_OUT_KBD_OBF | I8042_OUT_AUX_OBF)) !== 0) {
      throw new StateError(this.persistId, 'outputPort', 'bits 4-5 are derived from the output buffer and must be 0');
    }
    return {
      version,
      ram: [...r.ints('ram', 0, 0xff, I8042_RAM_SIZE, I8042_RAM_SIZE)],
      outputPort,
      pendingCommand,
      lastWriteWasCommand: r.bool('lastWriteWasCommand'),
      outputFull: r.bool('outputFull'),
      outputByte: r.int('outputByte', 0, 0xff),
      outputAux: r.bool('outputAux'),
      breakPrefix: r.bool('breakPrefix'),
      queue: [...queue],
      droppedBytes: r.int('droppedBytes', 0, Number.MAX_SAFE_INTEGER),
      unsupportedCommands: r.int('unsupportedCommands', 0, Number.MAX_SAFE_INTEGER),
      keyboard: this.validateKeyboard(r.object('keyboard')),
      mouse: this.validateMouse(r.object('mouse')),
    };
  }

  private validateKeyboard(r: StateReader): Ps2KeyboardState {
    return {
      scanning: r.bool('scanning'),
      leds: r.int('leds', 0, 7),
      typematic: r.int('typematic', 0, 0x7f),
      pendingCommand: this.validateDeviceCommand(r, 'keyboard.pendingCommand', KBD_PARAMETER_COMMANDS),
      lastSent: r.int('lastSent', 0, 0xff),
    };
  }

  private validateMouse(r: StateReader): Ps2MouseState {
    return {
      reporting: r.bool('reporting'),
      remote: r.bool('remote'),
      wrap: r.bool('wrap'),
      scaling21: r.bool('scaling21'),
      resolution: r.int('resolution', 0, 3),
      sampleRate: r.int('sampleRate', 1, 0xff),
      pendingCommand: this.validateDeviceCommand(r, 'mouse.pendingCommand', AUX_PARAMETER_COMMANDS),
      lastSent: r.int('lastSent', 0, 0xff),
      buttons: r.int('buttons', 0, 7),
    };
  }

  private validateDeviceCommand(r: StateReader, field: string, allowed: readonly number[]): number {
    const value = r.int('pendingCommand', 0, 0xff);
    if (value !== 0 && !allowed.includes(value)) {
      throw new StateError(this.persistId, field, `0x${value.toString(16)} takes no parameter byte`);
    }
    return value;
  }
}
