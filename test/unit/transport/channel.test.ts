// Tests for Channel: the loopback pair (order, copies, early messages, close) and the
// MessagePort channel over node:worker_threads MessageChannel ends (order, close reason,
// transfer, a port closed underneath).
import { MessageChannel, Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { ChannelError, loopbackChannelPair, messagePortChannel } from '../../../src/transport/channel.js';
import { closed, collect } from './channel-helpers.js';

async function settle(): Promise<void> {
  for (let i = 0; i < 10; i++) await Promise.resolve();
}

describe('loopbackChannelPair', () => {
  it('delivers asynchronously, in order, in both directions', async () => {
    const [a, b] = loopbackChannelPair();
    const atB: number[] = [];
    const atA: number[] = [];
    b.onMessage((m) => atB.push(m[0]!));
    a.onMessage((m) => atA.push(m[0]!));
    for (let i = 0; i < 100; i++) a.send(Uint8Array.of(i));
    b.send(Uint8Array.of(200));
    expect(atB).toEqual([]);
    expect(a.bufferedBytes).toBe(100);
    await settle();
    expect(atB).toEqual(Array.from({ length: 100 }, (_, i) => i));
    expect(atA).toEqual([200]);
    expect(a.bufferedBytes).toBe(0);
  });

  it('copies messages, so the sender may reuse its buffer', async () => {
    const [a, b] = loopbackChannelPair();
    const got = collect(b, 2);
    const buffer = Uint8Array.of(1, 2, 3);
    a.send(buffer);
    buffer[0] = 9;
    a.send(buffer.subarray(1));
    const [first, second] = await got;
    expect(Array.from(first!)).toEqual([1, 2, 3]);
    expect(Array.from(second!)).toEqual([2, 3]);
  });

  it('keeps messages that arrive before a handler for the first handler', async () => {
    const [a, b] = loopbackChannelPair();
    a.send(Uint8Array.of(1));
    a.send(Uint8Array.of(2));
    await settle();
    const got: number[] = [];
    b.onMessage((m) => got.push(m[0]!));
    expect(got).toEqual([1, 2]);
  });

  it('close reaches the peer after the messages sent before it, with the reason', async () => {
    const [a, b] = loopbackChannelPair();
    const events: string[] = [];
    b.onMessage((m) => events.push(`msg ${m[0]}`));
    b.onClose((reason) => events.push(`close ${reason}`));
    a.onClose((reason) => events.push(`local close ${reason}`));
    a.send(Uint8Array.of(1));
    a.send(Uint8Array.of(2));
    a.close('migration done');
    await settle();
    expect(events).toEqual(['local close migration done', 'msg 1', 'msg 2', 'close migration done']);
  });

  it('send after close throws ChannelError on both ends; close twice is harmless', async () => {
    const [a, b] = loopbackChannelPair();
    a.close();
    a.close('again');
    await settle();
    expect(() => a.send(Uint8Array.of(1))).toThrow(ChannelError);
    expect(() => b.send(Uint8Array.of(1))).toThrow(/closed/);
    // A close handler added after the close still hears the reason.
    expect(await closed(b)).toBe('closed');
  });

  it('messages in flight toward an end that closed are dropped', async () => {
    const [a, b] = loopbackChannelPair();
    const got: Uint8Array[] = [];
    a.onMessage((m) => got.push(m));
    b.send(Uint8Array.of(1));
    a.close();
    await settle();
    expect(got).toEqual([]);
  });
});

describe('messagePortChannel', () => {
  it('carries messages in order between two MessageChannel ends', async () => {
    const { port1, port2 } = new MessageChannel();
    const a = messagePortChannel(port1);
    const b = messagePortChannel(port2);
    const got = collect(b, 50);
    const back = collect(a, 1);
    for (let i = 0; i < 50; i++) a.send(Uint8Array.from({ length: i + 1 }, (_, j) => (i + j) & 0xff));
    b.send(Uint8Array.of(42));
    const messages = await got;
    messages.forEach((m, i) => {
      expect(m).toBeInstanceOf(Uint8Array);
      expect(m.length).toBe(i + 1);
      expect(m[0]).toBe(i);
    });
    expect(Array.from((await back)[0]!)).toEqual([42]);
    a.close();
  });

  it('sends only the bytes of a view into a larger buffer', async () => {
    const { port1, port2 } = new MessageChannel();
    const a = messagePortChannel(port1);
    const b = messagePortChannel(port2);
    const got = collect(b, 1);
    const big = Uint8Array.from({ length: 1000 }, (_, i) => i & 0xff);
    a.send(big.subarray(10, 14));
    const [m] = await got;
    expect(Array.from(m!)).toEqual([10, 11, 12, 13]);
    expect(m!.buffer.byteLength).toBe(4);
    expect(big.length).toBe(1000);
    a.close();
  });

  it('copies by default and transfers when asked', async () => {
    const { port1, port2 } = new MessageChannel();
    const copying = messagePortChannel(port1);
    const b = messagePortChannel(port2);
    const got = collect(b, 1);
    const kept = Uint8Array.of(1, 2, 3);
    copying.send(kept);
    await got;
    expect(kept.length).toBe(3);
    copying.close();

    const pair = new MessageChannel();
    const transferring = messagePortChannel(pair.port1, { transfer: true });
    const d = messagePortChannel(pair.port2);
    const got2 = collect(d, 1);
    const moved = Uint8Array.of(4, 5, 6);
    transferring.send(moved);
    expect(moved.length).toBe(0);
    expect(Array.from((await got2)[0]!)).toEqual([4, 5, 6]);
    transferring.close();
  });

  it('close propagates with its reason, after earlier messages', async () => {
    const { port1, port2 } = new MessageChannel();
    const a = messagePortChannel(port1);
    const b = messagePortChannel(port2);
    const events: string[] = [];
    const done = new Promise<void>((resolve) =>
      b.onClose((reason) => {
        events.push(`close ${reason}`);
        resolve();
      }),
    );
    b.onMessage((m) => events.push(`msg ${m[0]}`));
    a.send(Uint8Array.of(7));
    a.close('switch shut down');
    await done;
    expect(events).toEqual(['msg 7', 'close switch shut down']);
    expect(() => a.send(Uint8Array.of(1))).toThrow(ChannelError);
  });

  it('a port closed directly closes the channel on both sides', async () => {
    const { port1, port2 } = new MessageChannel();
    const a = messagePortChannel(port1);
    const b = messagePortChannel(port2);
    const both = Promise.all([closed(a), closed(b)]);
    port1.close();
    expect(await both).toEqual(['port closed', 'port closed']);
  });

  it('an unexpected value on the port closes the channel naming it', async () => {
    const { port1, port2 } = new MessageChannel();
    const b = messagePortChannel(port2);
    const reason = closed(b);
    port1.postMessage('hello');
    expect(await reason).toMatch(/unexpected value.*string/);
    port1.close();
  });

  it('works with a port handed to a real worker thread (echo)', async () => {
    const { port1, port2 } = new MessageChannel();
    const echo = `
      const { workerData } = require('node:worker_threads');
      workerData.port.on('message', (m) => {
        if (m instanceof Uint8Array) workerData.port.postMessage(m.map((b) => b + 1));
        else workerData.port.close();
      });
    `;
    const worker = new Worker(echo, { eval: true, workerData: { port: port2 }, transferList: [port2] });
    try {
      const a = messagePortChannel(port1);
      const got = collect(a, 3);
      a.send(Uint8Array.of(1, 2));
      a.send(Uint8Array.of(10));
      a.send(new Uint8Array(100_000).fill(4));
      const [m1, m2, m3] = await got;
      expect(Array.from(m1!)).toEqual([2, 3]);
      expect(Array.from(m2!)).toEqual([11]);
      expect(m3!.length).toBe(100_000);
      expect(m3!.every((b) => b === 5)).toBe(true);
      const reason = closed(a);
      a.close('bye');
      expect(await reason).toBe('bye');
    } finally {
      await worker.terminate();
    }
  });
});
