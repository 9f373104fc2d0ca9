/**
 * The two PS/2 devices behind the 8042: a keyboard (IBM PS/2 keyboard command set, scan
 * code set 2) and a mouse (IBM PS/2 mouse command set, standard 3-byte packets, device
 * id 0). Each receives the bytes the host sends through the controller and answers by
 * handing bytes to `send`, which the controller queues towards its output buffer.
 *
 * Keyboard commands: 0xFF reset (ACK, BAT passed 0xAA), 0xFE resend, 0xF6 set defaults,
 * 0xF5 disable scanning + defaults, 0xF4 enable scanning, 0xF3 typematic (+1 byte),
 * 0xF2 identify (ACK 0xAB 0x83), 0xF0 scan code set (+1 byte: 0 reports, 2 selects; sets 1
 * and 3 are refused with 0xFE), 0xEE echo, 0xED LEDs (+1 byte); anything else → 0xFE.
 * Mouse commands: 0xFF reset (ACK 0xAA 0x00), 0xFE resend, 0xF6 defaults, 0xF5/0xF4
 * disable/enable reporting, 0xF3 sample rate (+1), 0xF2 id (ACK 0x00), 0xF0 remote mode,
 * 0xEE/0xEC wrap mode on/off, 0xEB read data, 0xEA stream mode, 0xE9 status request,
 * 0xE8 resolution (+1, 0-3), 0xE7/0xE6 scaling 2:1/1:1; anything else → 0xFE.
 *
 * Model choices: no typematic repeat is generated (the host sends repeats as make codes);
 * LED, typematic and scaling settings are stored and reported only; no IntelliMouse
 * extension (the id stays 0). A command clears the device's output not yet taken by the
 * controller (done by the controller, which owns the queue).
 */

/** Acknowledge. */
export const PS2_ACK = 0xfa;
/** Resend / not acknowledged. */
export const PS2_RESEND = 0xfe;
/** Basic assurance test passed. */
export const PS2_BAT_OK = 0xaa;
/** Keyboard echo response. */
export const PS2_ECHO = 0xee;

// Keyboard commands.
/** Set LEDs (+ LED byte). */
export const KBD_CMD_SET_LEDS = 0xed;
/** Echo. */
export const KBD_CMD_ECHO = 0xee;
/** Get/set scan code set (+ set byte). */
export const KBD_CMD_SCANCODE_SET = 0xf0;
/** Identify. */
export const KBD_CMD_IDENTIFY = 0xf2;
/** Set typematic rate/delay (+ byte). */
export const KBD_CMD_TYPEMATIC = 0xf3;
/** Enable scanning. */
export const KBD_CMD_ENABLE = 0xf4;
/** Disable scanning and load defaults. */
export const KBD_CMD_DISABLE = 0xf5;
/** Load defaults. */
export const KBD_CMD_SET_DEFAULTS = 0xf6;
/** Resend the last byte. */
export const PS2_CMD_RESEND = 0xfe;
/** Reset and self-test. */
export const PS2_CMD_RESET = 0xff;
/** Identify response of an MF2 keyboard (after the ACK). */
export const KBD_ID: readonly number[] = [0xab, 0x83];
/** Default typematic byte (10.9 characters/s, 500 ms delay). */
export const KBD_DEFAULT_TYPEMATIC = 0x2b;

// Mouse commands.
/** Set scaling 1:1. */
export const AUX_CMD_SCALING_1_1 = 0xe6;
/** Set scaling 2:1. */
export const AUX_CMD_SCALING_2_1 = 0xe7;
/** Set resolution (+ byte 0-3). */
export const AUX_CMD_SET_RESOLUTION = 0xe8;
/** Status request. */
export const AUX_CMD_STATUS = 0xe9;
/** Set stream mode. */
export const AUX_CMD_STREAM_MODE = 0xea;
/** Read data (one packet). */
export const AUX_CMD_READ_DATA = 0xeb;
/** Reset wrap mode. */
export const AUX_CMD_RESET_WRAP = 0xec;
/** Set wrap (echo) mode. */
export const AUX_CMD_SET_WRAP = 0xee;
/** Set remote mode. */
export const AUX_CMD_REMOTE_MODE = 0xf0;
/** Get device id. */
export const AUX_CMD_GET_ID = 0xf2;
/** Set sample rate (+ byte). */
export const AUX_CMD_SAMPLE_RATE = 0xf3;
/** Enable data reporting. */
export const AUX_CMD_ENABLE = 0xf4;
/** Disable data reporting. */
export const AUX_CMD_DISABLE = 0xf5;
/** Set defaults. */
export const AUX_CMD_SET_DEFAULTS = 0xf6;
/** Device id of a standard PS/2 mouse. */
export const AUX_ID_STANDARD = 0x00;
/** Default sample rate (reports/s). */
export const AUX_DEFAULT_SAMPLE_RATE = 100;
/** Default resolution code (4 counts/mm). */
export const AUX_DEFAULT_RESOLUTION = 2;
/** Packet byte 0: always-one bit. */
export const AUX_PACKET_ALWAYS_ONE = 0x08;

/** Saved state of the keyboard. */
export interface Ps2KeyboardState {
  readonly scanning: boolean;
  readonly leds: number;
  readonly typematic: number;
  /** Command waiting for its parameter byte (0 = none). */
  readonly pendingCommand: number;
  readonly lastSent: number;
}

/** Saved state of the mouse. */
export interface Ps2MouseState {
  readonly reporting: boolean;
  readonly remote: boolean;
  readonly wrap: boolean;
  readonly scaling21: boolean;
  readonly resolution: number;
  readonly sampleRate: number;
  readonly pendingCommand: number;
  readonly lastSent: number;
  /** Buttons held (bit 0 left, 1 right, 2 middle). */
  readonly buttons: number;
}

/** Keyboard commands that take a parameter byte. */
export const KBD_PARAMETER_COMMANDS: readonly number[] = [KBD_CMD_SET_LEDS, KBD_CMD_SCANCODE_SET, KBD_CMD_TYPEMATIC];
/** Mouse commands that take a parameter byte. */
export const AUX_PARAMETER_COMMANDS: readonly number[] = [AUX_CMD_SET_RESOLUTION, AUX_CMD_SAMPLE_RATE];

/** A PS/2 MF2 keyboard producing scan code set 2. */
export class Ps2Keyboard {
  private scanning = true;
  private leds = 0;
  private typematic = KBD_DEFAULT_TYPEMATIC;
  private pendingCommand = 0;
  private lastSent = 0;

  /** `send` delivers one byte towards the controller. */
  constructor(private readonly send: (byte: number) => void) {}

  /** Power-on state. */
  reset(): void {
    this.scanning = true;
    this.loadDefaults();
    this.pendingCommand = 0;
    this.lastSent = 0;
  }

  /** True while the keyboard scans keys (host input is delivered). */
  get isScanning(): boolean {
    return this.scanning;
  }

  /** LED state (bit 0 scroll, 1 num, 2 caps lock). */
  get ledState(): number {
    return this.leds;
  }

  /** Host key input (set-2 bytes); dropped while scanning is disabled. Returns bytes accepted. */
  keyInput(bytes: Uint8Array): number {
    if (!this.scanning) return 0;
    for (const byte of bytes) this.output(byte);
    return bytes.length;
  }

  /** A byte from the host. */
  receive(byte: number): void {
    if (this.pendingCommand !== 0) {
      this.receiveParameter(byte);
      return;
    }
    switch (byte) {
      case PS2_CMD_RESET:
        this.reset();
        this.output(PS2_ACK);
        this.output(PS2_BAT_OK);
        break;
      case PS2_CMD_RESEND:
        this.send(this.lastSent);
        break;
      case KBD_CMD_SET_DEFAULTS:
        this.loadDefaults();
        this.output(PS2_ACK);
        break;
      case KBD_CMD_DISABLE:
        this.loadDefaults();
        this.scanning = false;
        this.output(PS2_ACK);
        break;
      case KBD_CMD_ENABLE:
        this.scanning = true;
        this.output(PS2_ACK);
        break;
      case KBD_CMD_IDENTIFY:
        this.output(PS2_ACK);
        for (const b of KBD_ID) this.output(b);
        break;
      case KBD_CMD_ECHO:
        this.output(PS2_ECHO);
        break;
      case KBD_CMD_SET_LEDS:
      case KBD_CMD_SCANCODE_SET:
      case KBD_CMD_TYPEMATIC:
        this.pendingCommand = byte;
        this.output(PS2_ACK);
        break;
      default:
        this.output(PS2_RESEND);
    }
  }

  private receiveParameter(byte: number): void {
    const command = this.pendingCommand;
    this.pendingCommand = 0;
    if (command === KBD_CMD_SET_LEDS) {
      this.leds = byte & 0x07;
      this.output(PS2_ACK);
    } else if (command === KBD_CMD_TYPEMATIC) {
      this.typematic = byte & 0x7f;
      this.output(PS2_ACK);
    } else if (byte === 0) {
      this.output(PS2_ACK);
      this.output(0x02); // current set: always 2
    } else if (byte === 2) {
      this.output(PS2_ACK);
    } else {
      this.output(PS2_RESEND);
    }
  }

  private loadDefaults(): void {
    this.leds = 0;
    this.typematic = KBD_DEFAULT_TYPEMATIC;
  }

  private output(byte: number): void {
    this.lastSent = byte;
    this.send(byte);
  }

  /** Plain state. */
  save(): Ps2KeyboardState {
    return {
      scanning: this.scanning,
      leds: this.leds,
      typematic: this.typematic,
      pendingCommand: this.pendingCommand,
      lastSent: this.lastSent,
    };
  }

  /** Apply already-validated state. */
  load(state: Ps2KeyboardState): void {
    this.scanning = state.scanning;
    this.leds = state.leds;
    this.typematic = state.typematic;
    this.pendingCommand = state.pendingCommand;
    this.lastSent = state.lastSent;
  }
}

/** A standard PS/2 mouse (id 0, 3-byte packets). */
export class Ps2Mouse {
  private reporting = false;
  private remote = false;
  private wrap = false;
  private scaling21 = false;
  private resolution = AUX_DEFAULT_RESOLUTION;
  private sampleRate = AUX_DEFAULT_SAMPLE_RATE;
  private pendingCommand = 0;
  private lastSent = 0;
  private buttons = 0;

  /** `send` delivers one byte towards the controller. */
  constructor(private readonly send: (byte: number) => void) {}

  /** Power-on state. */
  reset(): void {
    this.loadDefaults();
    this.wrap = false;
    this.buttons = 0;
    this.pendingCommand = 0;
    this.lastSent = 0;
  }

  /** True while stream-mode reporting is on. */
  get isReporting(): boolean {
    return this.reporting && !this.remote && !this.wrap;
  }

  /** Current sample rate (reports/s). */
  get rate(): number {
    return this.sampleRate;
  }

  /**
   * Host motion: one packet when reporting in stream mode (dy > 0 = up; buttons bit 0
   * left, 1 right, 2 middle). Movement beyond -256..255 sets the overflow bit and is
   * clamped. Returns true if a packet was produced.
   */
  motion(dx: number, dy: number, buttons: number): boolean {
    this.buttons = buttons & 0x07;
    if (!this.isReporting) return false;
    this.sendPacket(dx, dy);
    return true;
  }

  /** A byte from the host. */
  receive(byte: number): void {
    if (this.wrap && byte !== AUX_CMD_RESET_WRAP && byte !== PS2_CMD_RESET) {
      this.output(byte);
      return;
    }
    if (this.pendingCommand !== 0) {
      this.receiveParameter(byte);
      return;
    }
    switch (byte) {
      case PS2_CMD_RESET:
        this.reset();
        this.output(PS2_ACK);
        this.output(PS2_BAT_OK);
        this.output(AUX_ID_STANDARD);
        break;
      case PS2_CMD_RESEND:
        this.send(this.lastSent);
        break;
      case AUX_CMD_SET_DEFAULTS:
        this.loadDefaults();
        this.output(PS2_ACK);
        break;
      case AUX_CMD_DISABLE:
        this.reporting = false;
        this.output(PS2_ACK);
        break;
      case AUX_CMD_ENABLE:
        this.reporting = true;
        this.output(PS2_ACK);
        break;
      case AUX_CMD_GET_ID:
        this.output(PS2_ACK);
        this.output(AUX_ID_STANDARD);
        break;
      case AUX_CMD_REMOTE_MODE:
        this.remote = true;
        this.output(PS2_ACK);
        break;
      case AUX_CMD_STREAM_MODE:
        this.remote = false;
        this.output(PS2_ACK);
        break;
      case AUX_CMD_SET_WRAP:
        this.wrap = true;
        this.output(PS2_ACK);
        break;
      case AUX_CMD_RESET_WRAP:
        this.wrap = false;
        this.output(PS2_ACK);
        break;
      case AUX_CMD_READ_DATA:
        this.output(PS2_ACK);
        this.sendPacket(0, 0);
        break;
      case AUX_CMD_STATUS:
        this.output(PS2_ACK);
        this.output(this.statusByte());
        this.output(this.resolution);
        this.output(this.sampleRate);
        break;
      case AUX_CMD_SCALING_1_1:
        this.scaling21 = false;
        this.output(PS2_ACK);
        break;
      case AUX_CMD_SCALING_2_1:
        this.scaling21 = true;
        this.output(PS2_ACK);
        break;
      case AUX_CMD_SET_RESOLUTION:
      case AUX_CMD_SAMPLE_RATE:
        this.pendingCommand = byte;
        this.output(PS2_ACK);
        break;
      default:
        this.output(PS2_RESEND);
    }
  }

  private receiveParameter(byte: number): void {
    const command = this.pendingCommand;
    this.pendingCommand = 0;
    if (command === AUX_CMD_SET_RESOLUTION) {
      if (byte > 3) {
        this.output(PS2_RESEND);
        return;
      }
      this.resolution = byte;
    } else {
      if (byte === 0) {
        this.output(PS2_RESEND);
        return;
      }
      this.sampleRate = byte;
    }
    this.output(PS2_ACK);
  }

  /** Status byte: bit 6 remote, 5 reporting, 4 scaling 2:1, 2 left, 1 middle, 0 right. */
  private statusByte(): number {
    const b = this.buttons;
    return (
      (this.remote ? 0x40 : 0) |
      (this.reporting ? 0x20 : 0) |
      (this.scaling21 ? 0x10 : 0) |
      ((b & 1) !== 0 ? 0x04 : 0) |
      ((b & 4) !== 0 ? 0x02 : 0) |
      ((b & 2) !== 0 ? 0x01 : 0)
    );
  }

  private sendPacket(dx: number, dy: number): void {
    const xOverflow = dx < -256 || dx > 255;
    const yOverflow = dy < -256 || dy > 255;
    const x = Math.max(-256, Math.min(255, Math.trunc(dx)));
    const y = Math.max(-256, Math.min(255, Math.trunc(dy)));
    this.output(
      AUX_PACKET_ALWAYS_ONE |
        (this.buttons & 0x07) |
        (x < 0 ? 0x10 : 0) |
        (y < 0 ? 0x20 : 0) |
        (xOverflow ? 0x40 : 0) |
        (yOverflow ? 0x80 : 0),
    );
    this.output(x & 0xff);
    this.output(y & 0xff);
  }

  private loadDefaults(): void {
    this.reporting = false;
    this.remote = false;
    this.scaling21 = false;
    this.resolution = AUX_DEFAULT_RESOLUTION;
    this.sampleRate = AUX_DEFAULT_SAMPLE_RATE;
  }

  private output(byte: number): void {
    this.lastSent = byte;
    this.send(byte);
  }

  /** Plain state. */
  save(): Ps2MouseState {
    return {
      reporting: this.reporting,
      remote: this.remote,
      wrap: this.wrap,
      scaling21: this.scaling21,
      resolution: this.resolution,
      sampleRate: this.sampleRate,
      pendingCommand: this.pendingCommand,
      lastSent: this.lastSent,
      buttons: this.buttons,
    };
  }

  /** Apply already-validated state. */
  load(state: Ps2MouseState): void {
    this.buttons = state.buttons;
    this.reporting = state.reporting;
    this.remote = state.remote;
    this.wrap = state.wrap;
    this.scaling21 = state.scaling21;
    this.resolution = state.resolution;
    this.sampleRate = state.sampleRate;
    this.pendingCommand = state.pendingCommand;
    this.lastSent = state.lastSent;
  }
}
