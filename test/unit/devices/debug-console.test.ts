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

describe('debug console saved state', () => {
  it('an unfinished line saved on one console comes out whole on another', () => {
    const first: string[] = [];
    const source = new DebugConsole({ log: (line) => first.push(line) });
    for (const c of 'hel') source.ioWrite(0, 1, c.charCodeAt(0));
    const state = structuredClone(source.save());
    const second: string[] = [];
    const target = new DebugConsole({ log: (line) => second.push(line) });
    target.restore(state);
    for (const c of 'lo\n') target.ioWrite(0, 1, c.charCodeAt(0));
    expect(first).toEqual([]);
    expect(second).toEqual(['hello']);
  });

  it('refuses a bad line or version and keeps its own line', () => {
    const lines: string[] = [];
    const console0 = new DebugConsole({ log: (line) => lines.push(line) });
    console0.ioWrite(0, 1, 0x41);
    expect(() => console0.restore({ version: 1, line: [300] })).toThrow(/debugcon0: .*'line\[0\]'/);
    expect(() => console0.restore({ version: 1, line: new Array(DEBUG_CONSOLE_MAX_LINE + 1).fill(0) })).toThrow(/'line'/);
    expect(() => console0.restore({ version: 2, line: [] })).toThrow(/'version'/);
    console0.ioWrite(0, 1, 0x0a);
    expect(lines).toEqual(['A']);
  });
});
