// Tests for the 8042 keyboard controller, its PS/2 keyboard and mouse: commands, queueing, IRQs, Persist.
import { describe, expect, it } from 'vitest';
import { IoBus, IrqLine } from '../../../src/bus/index.js';
import { StateError } from '../../../src/persist/persist.js';
import {
  I8042,
  I8042_CTR_AUXDIS,
  I8042_CTR_AUXINT,
  I8042_CTR_KBDDIS,
  I8042_CTR_KBDINT,
  I8042_CTR_SYS,
  I8042_CTR_XLATE,
  I8042_QUEUE_CAPACITY,
  I8042_STR_AUXDATA,
  I8042_STR_CMD,
  I8042_STR_NOT_INHIBITED,
  I8042_STR_OBF,
  I8042_STR_SYS,
  translateSet2Byte,
} from '../../../src/devices/i8042/index.js';

function makeKbc() {
  const kbdIrq = new IrqLine('irq1');
  const auxIrq = new IrqLine('irq12');
  const a20: boolean[] = [];
  let resets = 0;
  const kbc = new I8042({ kbdIrq, auxIrq, onA20: (on) => a20.push(on), onReset: () => resets++ });
  const bus = new IoBus();
  bus.register(kbc.dataPort, 0x60, 1);
  bus.register(kbc.commandPort, 0x64, 1);
  const status = () => bus.read(0x64, 1);
  const cmd = (v: number) => bus.write(0x64, 1, v);
  const data = (v: number) => bus.write(0x60, 1, v);
  /** Read every byte in the output buffer (as the Linux driver polls), with its AUXDATA flag. */
  const drain = (): [number, boolean][] => {
    const out: [number, boolean][] = [];
    for (let i = 0; i < 1000 && (status() & I8042_STR_OBF) !== 0; i++) {
      const aux = (status() & I8042_STR_AUXDATA) !== 0;
      out.push([bus.read(0x60, 1), aux]);
    }
    return out;
  };
  const bytes = () => drain().map(([b]) => b);
  const setCtr = (v: number) => {
    cmd(0x60);
    data(v);
  };
  const readCtr = () => {
    cmd(0x20);
    return bytes();
  };
  return {
    kbc, kbdIrq, auxIrq, a20, bus, status, cmd, data, drain, bytes, setCtr, readCtr,
    get resets() {
      return resets;
    },
  };
}

type Rig = ReturnType<typeof makeKbc>;

/**
 * Send `bytes` to the mouse (0xD4 before each), reading the answers after each byte as a
 * driver does (a command discards the mouse's unread output), and collect them.
 */
function toMouse(rig: Rig, ...bytes: number[]): [number, boolean][] {
  const out: [number, boolean][] = [];
  for (const b of bytes) {
    rig.cmd(0xd4);
    rig.data(b);
    out.push(...rig.drain());
  }
  return out;
}

describe('I8042 controller', () => {
  it('starts with SYS set, keyboard not inhibited, an empty output buffer and both IRQs low', () => {
    const rig = makeKbc();
    expect(rig.status()).toBe(I8042_STR_SYS | I8042_STR_NOT_INHIBITED);
    expect(rig.readCtr()).toEqual([0x65]);
    expect(rig.kbdIrq.level).toBe(false);
    expect(rig.auxIrq.level).toBe(false);
  });

  it('answers the self test, interface tests, password test and input port', () => {
    const rig = makeKbc();
    rig.setCtr(0);
    rig.cmd(0xaa);
    expect(rig.status() & I8042_STR_OBF).toBe(I8042_STR_OBF);
    expect(rig.bytes()).toEqual([0x55]);
    for (const [command, answer] of [
      [0xab, 0x00],
      [0xa9, 0x00],
      [0xa4, 0xf1],
      [0xc0, 0x80],
    ] as const) {
      rig.cmd(command);
      expect(rig.bytes(), `command 0x${command.toString(16)}`).toEqual([answer]);
    }
  });

  it('reads and writes the command byte; SYS and A2 show in the status register', () => {
    const rig = makeKbc();
    rig.setCtr(I8042_CTR_XLATE | I8042_CTR_KBDDIS);
    expect(rig.status() & (I8042_STR_SYS | I8042_STR_CMD)).toBe(0);
    rig.cmd(0x20);
    expect(rig.status() & I8042_STR_CMD).toBe(I8042_STR_CMD);
    expect(rig.bytes()).toEqual([I8042_CTR_XLATE | I8042_CTR_KBDDIS]);
    rig.setCtr(I8042_CTR_SYS);
    expect(rig.status() & I8042_STR_SYS).toBe(I8042_STR_SYS);
    expect(rig.kbc.commandByte).toBe(I8042_CTR_SYS);
    // Other RAM bytes through 0x61-0x7F / 0x21-0x3F.
    rig.cmd(0x65);
    rig.data(0x77);
    rig.cmd(0x25);
    expect(rig.bytes()).toEqual([0x77]);
  });

  it('toggles the keyboard and aux disable bits with 0xAD/0xAE and 0xA7/0xA8', () => {
    const rig = makeKbc();
    rig.setCtr(0);
    rig.cmd(0xad);
    expect(rig.readCtr()).toEqual([I8042_CTR_KBDDIS]);
    rig.cmd(0xa7);
    expect(rig.readCtr()).toEqual([I8042_CTR_KBDDIS | I8042_CTR_AUXDIS]);
    rig.cmd(0xae);
    expect(rig.readCtr()).toEqual([I8042_CTR_AUXDIS]);
    rig.cmd(0xa8);
    expect(rig.readCtr()).toEqual([0]);
  });

  it('drives A20 and reset through the output port, 0xDD/0xDF and pulse commands', () => {
    const rig = makeKbc();
    rig.setCtr(0);
    rig.cmd(0xd0);
    expect(rig.bytes()).toEqual([0xcf]);
    rig.cmd(0xd1);
    rig.data(0xcd);
    expect(rig.a20).toEqual([false]);
    expect(rig.kbc.a20Enabled).toBe(false);
    rig.cmd(0xd0);
    expect(rig.bytes()).toEqual([0xcd]);
    rig.cmd(0xdf);
    rig.cmd(0xdf); // no change: no second call
    rig.cmd(0xdd);
    expect(rig.a20).toEqual([false, true, false]);
    expect(rig.resets).toBe(0);
    rig.cmd(0xff); // pulses nothing
    rig.cmd(0xfd); // pulses A20 only
    expect(rig.resets).toBe(0);
    rig.cmd(0xfe);
    expect(rig.resets).toBe(1);
    rig.cmd(0xd1);
    rig.data(0xce); // bit 0 low: reset
    expect(rig.resets).toBe(2);
    expect(rig.a20).toEqual([false, true, false, true]);
  });

  it('reports output-buffer-full bits 4/5 of the output port', () => {
    const rig = makeKbc();
    rig.setCtr(0);
    rig.cmd(0xd2);
    rig.data(0x12); // keyboard-side byte in the buffer
    rig.cmd(0xd0); // read while the buffer holds keyboard data; the answer waits behind it
    expect(rig.bytes()).toEqual([0x12, 0xcf | 0x10]);
    rig.cmd(0xd3);
    rig.data(0x34); // aux byte in the buffer
    rig.cmd(0xd0);
    expect(rig.bytes()).toEqual([0x34, 0xcf | 0x20]);
    rig.cmd(0xd0);
    expect(rig.bytes()).toEqual([0xcf]);
  });

  it('ignores and counts unsupported commands', () => {
    const rig = makeKbc();
    rig.cmd(0xa1);
    rig.cmd(0xc1);
    expect(rig.kbc.unsupportedCommands).toBe(2);
    expect(rig.status() & I8042_STR_OBF).toBe(0);
  });
});

describe('I8042 keyboard', () => {
  it('answers reset and identify, raw and translated', () => {
    const rig = makeKbc();
    rig.setCtr(0);
    rig.data(0xff);
    expect(rig.bytes()).toEqual([0xfa, 0xaa]);
    rig.data(0xf2);
    expect(rig.bytes()).toEqual([0xfa, 0xab, 0x83]);
    rig.setCtr(I8042_CTR_XLATE);
    rig.data(0xf2);
    expect(rig.bytes()).toEqual([0xfa, 0xab, 0x41]);
  });

  it('sets the LEDs with 0xED + byte written back to back (both ACKs arrive)', () => {
    const rig = makeKbc();
    rig.setCtr(0);
    rig.data(0xed);
    rig.data(0x07);
    expect(rig.bytes()).toEqual([0xfa, 0xfa]);
    expect(rig.kbc.keyboardLeds).toBe(7);
  });

  it('acknowledges each byte of two-byte commands', () => {
    const rig = makeKbc();
    rig.setCtr(0);
    rig.data(0xed);
    expect(rig.bytes()).toEqual([0xfa]);
    rig.data(0x05);
    expect(rig.bytes()).toEqual([0xfa]);
    expect(rig.kbc.keyboardLeds).toBe(5);
    rig.data(0xf3);
    rig.drain();
    rig.data(0x20);
    expect(rig.bytes()).toEqual([0xfa]);
    rig.data(0xf0);
    rig.drain();
    rig.data(0x00);
    expect(rig.bytes()).toEqual([0xfa, 0x02]);
    rig.data(0xf0);
    rig.drain();
    rig.data(0x02);
    expect(rig.bytes()).toEqual([0xfa]);
    rig.data(0xf0);
    rig.drain();
    rig.data(0x03);
    expect(rig.bytes()).toEqual([0xfe]);
    rig.data(0xee);
    expect(rig.bytes()).toEqual([0xee]);
    rig.data(0x42);
    expect(rig.bytes()).toEqual([0xfe]);
    rig.data(0xfe); // resend the last byte
    expect(rig.bytes()).toEqual([0xfe]);
    rig.data(0xf2);
    rig.bytes();
    rig.data(0xfe);
    expect(rig.bytes()).toEqual([0x83]);
  });

  it('stops and restarts scanning with 0xF5/0xF4', () => {
    const rig = makeKbc();
    rig.setCtr(0);
    rig.data(0xf5);
    expect(rig.bytes()).toEqual([0xfa]);
    expect(rig.kbc.keyboardInput(new Uint8Array([0x1c]))).toBe(0);
    expect(rig.bytes()).toEqual([]);
    rig.data(0xf4);
    expect(rig.bytes()).toEqual([0xfa]);
    expect(rig.kbc.keyboardInput(new Uint8Array([0x1c, 0xf0, 0x1c]))).toBe(3);
    expect(rig.bytes()).toEqual([0x1c, 0xf0, 0x1c]);
  });

  it('discards unread key bytes when the host sends a command', () => {
    const rig = makeKbc();
    rig.setCtr(0);
    rig.kbc.keyboardInput(new Uint8Array([0x1c, 0x32, 0x21]));
    // 0x1C is already in the output buffer; 0x32 and 0x21 are still in the keyboard.
    rig.data(0xf4);
    expect(rig.bytes()).toEqual([0x1c, 0xfa]);
  });

  it('translates set 2 to set 1 when command byte bit 6 is set', () => {
    const rig = makeKbc();
    rig.setCtr(I8042_CTR_XLATE);
    // a press/release, Esc, Enter, F7, extended up-arrow press/release, left shift release
    rig.kbc.keyboardInput(new Uint8Array([0x1c, 0xf0, 0x1c, 0x76, 0x5a, 0x83, 0xe0, 0x75, 0xe0, 0xf0, 0x75, 0xf0, 0x12]));
    expect(rig.bytes()).toEqual([0x1e, 0x9e, 0x01, 0x1c, 0x41, 0xe0, 0x48, 0xe0, 0xc8, 0xaa]);
    rig.setCtr(0);
    rig.kbc.keyboardInput(new Uint8Array([0x1c, 0xf0, 0x1c]));
    expect(rig.bytes()).toEqual([0x1c, 0xf0, 0x1c]);
  });

  it('has a translation table that agrees with known key pairs and is a bijection on 0x01-0x7F', () => {
    const pairs: [number, number][] = [
      [0x16, 0x02], // 1
      [0x45, 0x0b], // 0
      [0x29, 0x39], // space
      [0x66, 0x0e], // backspace
      [0x0d, 0x0f], // tab
      [0x58, 0x3a], // caps lock
      [0x05, 0x3b], // F1
      [0x07, 0x58], // F12
      [0x78, 0x57], // F11
      [0x77, 0x45], // num lock
      [0x7c, 0x37], // keypad *
      [0x14, 0x1d], // left ctrl
      [0x11, 0x38], // left alt
      [0x59, 0x36], // right shift
    ];
    for (const [set2, set1] of pairs) expect(translateSet2Byte(set2), `set 2 0x${set2.toString(16)}`).toBe(set1);
    const images = new Set<number>();
    for (let b = 1; b < 0x80; b++) images.add(translateSet2Byte(b));
    expect(images.size).toBe(0x7f);
    expect(translateSet2Byte(0xfa)).toBe(0xfa);
  });

  it('queues keyboard bytes while the keyboard interface is disabled, but not controller answers', () => {
    const rig = makeKbc();
    rig.setCtr(I8042_CTR_KBDDIS);
    rig.kbc.keyboardInput(new Uint8Array([0x1c]));
    expect(rig.status() & I8042_STR_OBF).toBe(0);
    expect(rig.readCtr()).toEqual([I8042_CTR_KBDDIS]);
    rig.cmd(0xae);
    expect(rig.bytes()).toEqual([0x1c]);
  });

  it('keeps arrival order between key bytes and controller answers and loads one byte at a time', () => {
    const rig = makeKbc();
    rig.setCtr(0);
    rig.kbc.keyboardInput(new Uint8Array([0x1c, 0x32]));
    rig.cmd(0xd2);
    rig.data(0x99);
    rig.cmd(0x20);
    expect(rig.bus.read(0x60, 1)).toBe(0x1c);
    expect(rig.status() & I8042_STR_OBF).toBe(I8042_STR_OBF);
    expect(rig.bytes()).toEqual([0x32, 0x99, 0x00]);
    // Reading an empty buffer returns the last byte again.
    expect(rig.bus.read(0x60, 1)).toBe(0x00);
  });

  it('drops bytes beyond the queue capacity and says so', () => {
    const rig = makeKbc();
    rig.setCtr(0);
    const input = new Uint8Array(I8042_QUEUE_CAPACITY + 44).fill(0x1c);
    expect(rig.kbc.keyboardInput(input)).toBe(I8042_QUEUE_CAPACITY);
    expect(rig.kbc.droppedBytes).toBe(44);
    expect(rig.bytes().length).toBe(I8042_QUEUE_CAPACITY);
  });
});

describe('I8042 interrupts', () => {
  it('raises IRQ 1 for keyboard bytes only when enabled, and lowers it when 0x60 is read', () => {
    const rig = makeKbc();
    rig.setCtr(0);
    rig.kbc.keyboardInput(new Uint8Array([0x1c, 0x32]));
    expect(rig.kbdIrq.level).toBe(false);
    rig.setCtr(I8042_CTR_KBDINT);
    expect(rig.kbdIrq.level).toBe(true);
    expect(rig.kbdIrq.raiseCount).toBe(1);
    expect(rig.bus.read(0x60, 1)).toBe(0x1c);
    // The next byte moved in: the line fell and rose again (a new edge).
    expect(rig.kbdIrq.level).toBe(true);
    expect(rig.kbdIrq.raiseCount).toBe(2);
    expect(rig.bus.read(0x60, 1)).toBe(0x32);
    expect(rig.kbdIrq.level).toBe(false);
    expect(rig.auxIrq.raiseCount).toBe(0);
  });

  it('raises IRQ 12 for aux data only when the aux interrupt is enabled', () => {
    const rig = makeKbc();
    rig.setCtr(I8042_CTR_KBDINT);
    rig.cmd(0xd3);
    rig.data(0x5a);
    expect(rig.status() & (I8042_STR_OBF | I8042_STR_AUXDATA)).toBe(I8042_STR_OBF | I8042_STR_AUXDATA);
    expect(rig.kbdIrq.level).toBe(false);
    expect(rig.auxIrq.level).toBe(false);
    rig.bus.read(0x60, 1);
    rig.setCtr(I8042_CTR_KBDINT | I8042_CTR_AUXINT);
    rig.cmd(0xd3);
    rig.data(0xa5);
    expect(rig.auxIrq.level).toBe(true);
    expect(rig.kbdIrq.level).toBe(false);
    expect(rig.bus.read(0x60, 1)).toBe(0xa5);
    expect(rig.auxIrq.level).toBe(false);
  });

  it('raises IRQ 1 for controller answers (keyboard side) when enabled', () => {
    const rig = makeKbc();
    rig.setCtr(I8042_CTR_KBDINT);
    rig.cmd(0xaa);
    expect(rig.kbdIrq.level).toBe(true);
    expect(rig.bus.read(0x60, 1)).toBe(0x55);
    expect(rig.kbdIrq.level).toBe(false);
  });
});

describe('I8042 mouse', () => {
  it('answers reset, id and status requests with aux data', () => {
    const rig = makeKbc();
    rig.setCtr(0);
    expect(toMouse(rig, 0xff)).toEqual([
      [0xfa, true],
      [0xaa, true],
      [0x00, true],
    ]);
    expect(toMouse(rig, 0xf2).map(([b]) => b)).toEqual([0xfa, 0x00]);
    expect(toMouse(rig, 0xe9).map(([b]) => b)).toEqual([0xfa, 0x00, 0x02, 100]);
    expect(toMouse(rig, 0xf3, 40, 0xe8, 3, 0xe7, 0xf4).map(([b]) => b)).toEqual([0xfa, 0xfa, 0xfa, 0xfa, 0xfa, 0xfa]);
    expect(toMouse(rig, 0xe9).map(([b]) => b)).toEqual([0xfa, 0x30, 0x03, 40]);
    expect(toMouse(rig, 0xe6, 0xf5, 0xe9).map(([b]) => b)).toEqual([0xfa, 0xfa, 0xfa, 0x00, 0x03, 40]);
    expect(toMouse(rig, 0xe8, 9).map(([b]) => b)).toEqual([0xfa, 0xfe]);
    expect(toMouse(rig, 0x00).map(([b]) => b)).toEqual([0xfe]);
  });

  it('passes the Linux-style IntelliMouse probe as a plain PS/2 mouse', () => {
    const rig = makeKbc();
    rig.setCtr(0);
    expect(toMouse(rig, 0xf3, 200, 0xf3, 100, 0xf3, 80, 0xf2).map(([b]) => b)).toEqual([0xfa, 0xfa, 0xfa, 0xfa, 0xfa, 0xfa, 0xfa, 0x00]);
  });

  it('echoes in wrap mode until 0xEC', () => {
    const rig = makeKbc();
    rig.setCtr(0);
    expect(toMouse(rig, 0xee, 0x12, 0xf4).map(([b]) => b)).toEqual([0xfa, 0x12, 0xf4]);
    expect(toMouse(rig, 0xec, 0xf2).map(([b]) => b)).toEqual([0xfa, 0xfa, 0x00]);
  });

  it('discards unread mouse output when the host sends the mouse a byte', () => {
    const rig = makeKbc();
    rig.setCtr(I8042_CTR_AUXDIS);
    rig.cmd(0xd4);
    rig.data(0xf2); // ACK + id wait behind the disabled port
    rig.cmd(0xd4);
    rig.data(0xe9); // discards them
    rig.cmd(0xa8);
    expect(rig.bytes()).toEqual([0xfa, 0x00, 0x02, 100]);
  });

  it('reports motion packets when enabled in stream mode and holds them while the aux port is disabled', () => {
    const rig = makeKbc();
    rig.setCtr(I8042_CTR_AUXDIS);
    expect(rig.kbc.mouseInput(1, 1, 0)).toBe(false); // reporting off
    rig.cmd(0xd4);
    rig.data(0xf4);
    expect(rig.kbc.mouseInput(5, -3, 1)).toBe(true);
    expect(rig.drain()).toEqual([]); // the ACK and the packet wait behind the disabled port
    rig.cmd(0xa8);
    expect(rig.drain()).toEqual([
      [0xfa, true],
      [0x29, true],
      [0x05, true],
      [0xfd, true],
    ]);
    expect(toMouse(rig, 0xf0, 0xeb).map(([b]) => b)).toEqual([0xfa, 0xfa, 0x09, 0x00, 0x00]);
  });

  it('loops a byte back as aux data with 0xD3 (Linux AUX loop test)', () => {
    const rig = makeKbc();
    rig.setCtr(I8042_CTR_AUXDIS);
    rig.cmd(0xd3);
    rig.data(0x5a);
    expect(rig.drain()).toEqual([[0x5a, true]]);
  });
});

describe('I8042 driver-style probe', () => {
  it('gives the answers the Linux i8042/atkbd/psmouse probe sequence checks', () => {
    const rig = makeKbc();
    rig.kbc.keyboardInput(new Uint8Array([0x1c])); // a stale key press to flush
    expect(rig.bytes().length).toBe(1);
    rig.cmd(0xaa);
    expect(rig.bytes()).toEqual([0x55]);
    const ctr = rig.readCtr()[0]!;
    expect(rig.readCtr()).toEqual([ctr]);
    // Disable both ports and their interrupts while probing.
    rig.setCtr((ctr | I8042_CTR_KBDDIS | I8042_CTR_AUXDIS) & ~(I8042_CTR_KBDINT | I8042_CTR_AUXINT));
    // AUX loop test, polled: the byte must come back flagged as aux data.
    rig.cmd(0xd3);
    rig.data(0x5a);
    expect(rig.drain()).toEqual([[0x5a, true]]);
    // Active-multiplexing probe: a plain loop echoes 0x56 (not 0xA9), so no MUX.
    for (const b of [0xf0, 0x56]) {
      rig.cmd(0xd3);
      rig.data(b);
      expect(rig.drain()).toEqual([[b, true]]);
    }
    rig.cmd(0xa7);
    expect(rig.readCtr()[0]! & I8042_CTR_AUXDIS).toBe(I8042_CTR_AUXDIS);
    rig.cmd(0xa8);
    expect(rig.readCtr()[0]! & I8042_CTR_AUXDIS).toBe(0);
    // AUX IRQ delivery test.
    rig.setCtr((ctr | I8042_CTR_AUXINT) & ~I8042_CTR_AUXDIS);
    rig.cmd(0xd3);
    rig.data(0xa5);
    expect(rig.auxIrq.level).toBe(true);
    expect(rig.status() & I8042_STR_AUXDATA).toBe(I8042_STR_AUXDATA);
    expect(rig.bus.read(0x60, 1)).toBe(0xa5);
    // Ports enabled with interrupts; keyboard probe through IRQ 1.
    rig.setCtr(I8042_CTR_XLATE | I8042_CTR_SYS | I8042_CTR_KBDINT | I8042_CTR_AUXINT);
    const kbdBytes: number[] = [];
    const takeKbd = () => {
      while (rig.kbdIrq.level) kbdBytes.push(rig.bus.read(0x60, 1));
    };
    rig.data(0xf2);
    takeKbd();
    rig.data(0xf5);
    takeKbd();
    rig.data(0xf3);
    takeKbd();
    rig.data(0x00);
    takeKbd();
    rig.data(0xf4);
    takeKbd();
    expect(kbdBytes).toEqual([0xfa, 0xab, 0x41, 0xfa, 0xfa, 0xfa, 0xfa]);
    // Mouse probe through IRQ 12.
    const auxBytes: number[] = [];
    for (const b of [0xff, 0xf2, 0xe8, 0x00, 0xe6, 0xe6, 0xe6, 0xe9, 0xf3, 100, 0xf4]) {
      rig.cmd(0xd4);
      rig.data(b);
      while (rig.auxIrq.level) auxBytes.push(rig.bus.read(0x60, 1));
    }
    expect(auxBytes).toEqual([0xfa, 0xaa, 0x00, 0xfa, 0x00, 0xfa, 0xfa, 0xfa, 0xfa, 0xfa, 0xfa, 0x00, 0x00, 100, 0xfa, 0xfa, 0xfa]);
    expect(rig.kbc.mouseInput(1, 0, 0)).toBe(true);
    expect(rig.auxIrq.level).toBe(true);
  });
});

describe('I8042 Persist', () => {
  /** A controller with a bit of everything in flight. */
  function busy(rig: Rig): void {
    rig.setCtr(I8042_CTR_XLATE | I8042_CTR_KBDINT | I8042_CTR_AUXINT);
    toMouse(rig, 0xf4);
    rig.kbc.keyboardInput(new Uint8Array([0x1c, 0xf0]));
    rig.bus.read(0x60, 1); // 0x1E delivered; 0xF0 is now swallowed as a pending break prefix
    rig.kbc.mouseInput(3, 4, 2);
    rig.kbc.keyboardInput(new Uint8Array([0x32]));
    rig.data(0xed); // drops the unread 0x32; the keyboard ACKs and waits for the LED byte
    rig.cmd(0xd4); // the controller waits for a byte for the mouse
  }

  /** Drive the same sequence on a rig and record everything observable. */
  function continueAndTrace(rig: Rig): number[] {
    const out: number[] = [];
    const observe = () => out.push(rig.status(), rig.kbdIrq.level ? 1 : 0, rig.auxIrq.level ? 1 : 0);
    observe();
    rig.data(0xe9); // to the mouse
    observe();
    for (const [b, aux] of rig.drain()) out.push(b, aux ? 1 : 0);
    rig.data(0x02); // LED byte to the keyboard
    rig.kbc.keyboardInput(new Uint8Array([0xf0, 0x32, 0x76]));
    observe();
    for (const [b, aux] of rig.drain()) out.push(b, aux ? 1 : 0);
    out.push(rig.kbc.keyboardLeds, rig.kbc.commandByte);
    return out;
  }

  it('restores into a fresh instance that continues identically', () => {
    const a = makeKbc();
    busy(a);
    const state = structuredClone(a.kbc.save());
    const b = makeKbc();
    b.kbc.restore(state);
    expect(b.kbdIrq.level).toBe(a.kbdIrq.level);
    expect(b.auxIrq.level).toBe(a.auxIrq.level);
    const ta = continueAndTrace(a);
    expect(ta.length).toBeGreaterThan(20);
    expect(continueAndTrace(b)).toEqual(ta);
  });

  it('rejects corrupted state naming the field and leaves the controller unchanged', () => {
    const a = makeKbc();
    busy(a);
    const good = a.kbc.save();
    const b = makeKbc();
    const before = b.kbc.save();
    const cases: [string, Record<string, unknown>][] = [
      ['queue[0]', { queue: [0x400] }],
      ['ram', { ram: new Array(31).fill(0) }],
      ['pendingCommand', { pendingCommand: 0xaa }],
      ['outputPort', { outputPort: 0xff }],
      ['keyboard.pendingCommand', { keyboard: { ...good.keyboard, pendingCommand: 0xf4 } }],
      ['mouse.resolution', { mouse: { ...good.mouse, resolution: 4 } }],
      ['mouse', { mouse: null }],
      ['version', { version: 2 }],
    ];
    for (const [field, patch] of cases) {
      const bad = { ...good, ...patch };
      expect(() => b.kbc.restore(bad), field).toThrow(StateError);
      expect(() => b.kbc.restore(bad), field).toThrow(`'${field}'`);
      expect(b.kbc.save()).toEqual(before);
    }
  });

  it('reset returns to the power-on state', () => {
    const rig = makeKbc();
    busy(rig);
    rig.kbc.reset();
    expect(rig.kbdIrq.level).toBe(false);
    expect(rig.auxIrq.level).toBe(false);
    expect(rig.kbc.save()).toEqual(makeKbc().kbc.save());
  });
});
