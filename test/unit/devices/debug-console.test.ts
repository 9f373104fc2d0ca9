// Tests for the port 0xE9 debug console: presence readback and line-buffered output.
import { describe, expect, it } from 'vitest';
import { IoBus } from '../../../src/bus/index.js';
import { DEBUG_CONSOLE_MAX_LINE, DEBUG_CONSOLE_PORT, DebugConsole } from '../../../src/devices/debug-console/index.js';

function makeConsole() {
  const lines: string[] = [];
  const device = new DebugConsole({ log: (text) => lines.push(text) });
  const bus = new IoBus();
  bus.register(device, DEBUG_CONSOLE_PORT, 1);
  const print = (text: string) => {
    for (const byte of new TextEncoder().encode(text)) bus.write(DEBUG_CONSOLE_PORT, 1, byte);
  };
  return { console: device, bus, lines, print };
}

describe('DebugConsole', () => {
  it('reads back 0xE9', () => {
    expect(makeConsole().bus.read(DEBUG_CONSOLE_PORT, 1)).toBe(0xe9);
  });

  it('emits whole lines on newline, strips CR, keeps empty lines', () => {
    const c = makeConsole();
    c.print('hello');
    expect(c.lines).toEqual([]);
    c.print(' world\r\n\nnext\n');
    expect(c.lines).toEqual(['hello world', '', 'next']);
  });

  it('decodes UTF-8 and flush() emits a partial line once', () => {
    const c = makeConsole();
    c.print('größe');
    c.console.flush();
    c.console.flush();
    expect(c.lines).toEqual(['größe']);
  });

  it('gets only the low byte of a wide write at its one port (the bus splits it)', () => {
    const c = makeConsole();
    c.bus.write(DEBUG_CONSOLE_PORT, 2, 0x0a41);
    c.console.flush();
    expect(c.lines).toEqual(['A']);
    expect(c.bus.unclaimedWrites).toBe(1);
  });

  it('sends the bytes of a wide write it receives whole low byte first', () => {
    const lines: string[] = [];
    const device = new DebugConsole({ log: (text) => lines.push(text) });
    device.ioWrite(0, 4, 0x0a434241);
    expect(lines).toEqual(['ABC']);
  });

  it('bounds the line buffer', () => {
    const c = makeConsole();
    c.print('x'.repeat(DEBUG_CONSOLE_MAX_LINE + 3) + '\n');
    expect(c.lines).toEqual(['x'.repeat(DEBUG_CONSOLE_MAX_LINE), 'xxx']);
  });
});
