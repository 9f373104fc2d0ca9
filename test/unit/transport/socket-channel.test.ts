// Tests for the stream-socket channel over a real Unix-domain socket in a temp dir: small
// and large messages, split writes, several messages per read, oversize messages, peer
// close (clean and mid-message), and send after close.
import { mkdtempSync, rmSync } from 'node:fs';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ChannelError } from '../../../src/transport/channel.js';
import { closed, collect } from './channel-helpers.js';
import { socketChannel } from '../../../src/transport/socket-channel.js';

let dir: string;
let server: Server | null = null;
const sockets: Socket[] = [];

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'socket-channel-'));
});

afterEach(async () => {
  for (const s of sockets.splice(0)) s.destroy();
  if (server) await new Promise<void>((resolve) => server!.close(() => resolve()));
  server = null;
  rmSync(dir, { recursive: true, force: true });
});

/** A connected pair of raw sockets over a Unix socket in the temp dir: [client, server side]. */
async function socketPair(): Promise<[Socket, Socket]> {
  const path = join(dir, 'vm.sock');
  const accepted = new Promise<Socket>((resolve) => {
    server = createServer((s) => resolve(s));
  });
  await new Promise<void>((resolve) => server!.listen(path, () => resolve()));
  const client = createConnection(path);
  await new Promise<void>((resolve) => client.once('connect', () => resolve()));
  const serverSide = await accepted;
  sockets.push(client, serverSide);
  return [client, serverSide];
}

/** A length-prefixed frame as the wire carries it. */
function wire(message: Uint8Array): Uint8Array {
  const out = new Uint8Array(4 + message.length);
  new DataView(out.buffer).setUint32(0, message.length, true);
  out.set(message, 4);
  return out;
}

function pattern(length: number, seed: number): Uint8Array {
  const out = new Uint8Array(length);
  for (let i = 0; i < length; i++) out[i] = (i * 7 + seed + (i >> 8)) & 0xff;
  return out;
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

const tick = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('socketChannel', () => {
  it('carries small, empty and large messages in order both ways', async () => {
    const [c, s] = await socketPair();
    const a = socketChannel(c);
    const b = socketChannel(s);
    const messages = [Uint8Array.of(1), new Uint8Array(0), pattern(1000, 2), pattern(5 * 1024 * 1024 + 3, 3), Uint8Array.of(9, 9)];
    const got = collect(b, messages.length);
    const back = collect(a, 1);
    for (const m of messages) a.send(m);
    b.send(Uint8Array.of(77));
    const received = await got;
    expect(received.map((m) => m.length)).toEqual(messages.map((m) => m.length));
    received.forEach((m, i) => expect(sameBytes(m, messages[i]!)).toBe(true));
    expect(Array.from((await back)[0]!)).toEqual([77]);
    a.close();
  });

  it('reassembles messages from split writes, including a split length prefix', async () => {
    const [c, s] = await socketPair();
    const b = socketChannel(s);
    const first = pattern(300, 5);
    const second = pattern(17, 6);
    const bytes = new Uint8Array([...wire(first), ...wire(second)]);
    const got = collect(b, 2);
    // Pieces: 2 bytes of the prefix, 2 more, part of the body, the rest plus a split second prefix...
    const cuts = [2, 4, 100, 305, 306, 310, bytes.length];
    let at = 0;
    for (const cut of cuts) {
      c.write(bytes.subarray(at, cut));
      at = cut;
      await tick(5);
    }
    const [m1, m2] = await got;
    expect(sameBytes(m1!, first)).toBe(true);
    expect(sameBytes(m2!, second)).toBe(true);
  });

  it('splits several messages that arrive in one read', async () => {
    const [c, s] = await socketPair();
    const b = socketChannel(s);
    const messages = Array.from({ length: 20 }, (_, i) => pattern(i * 3, i));
    const got = collect(b, 20);
    c.write(new Uint8Array(messages.flatMap((m) => [...wire(m)])));
    const received = await got;
    received.forEach((m, i) => expect(sameBytes(m, messages[i]!)).toBe(true));
  });

  it('closes with a reason naming the size when the peer announces an oversize message', async () => {
    const [c, s] = await socketPair();
    const b = socketChannel(s, { maxMessageBytes: 1024 });
    const got: Uint8Array[] = [];
    b.onMessage((m) => got.push(m));
    const reason = closed(b);
    const header = new Uint8Array(4);
    new DataView(header.buffer).setUint32(0, 4096, true);
    c.write(new Uint8Array([...wire(Uint8Array.of(1, 2)), ...header]));
    expect(await reason).toBe('incoming message of 4096 bytes exceeds the maximum of 1024 bytes');
    expect(got.map((m) => Array.from(m))).toEqual([[1, 2]]);
    // The connection is dropped: the raw peer sees it close.
    await new Promise<void>((resolve) => (c.destroyed ? resolve() : c.once('close', () => resolve())));
  });

  it('refuses to send a message above the maximum', async () => {
    const [c] = await socketPair();
    const a = socketChannel(c, { maxMessageBytes: 10 });
    expect(() => a.send(new Uint8Array(11))).toThrow(/11 bytes exceeds the maximum of 10/);
    expect(() => a.send(new Uint8Array(10))).not.toThrow();
    a.close();
  });

  it('a peer close is reported after the messages sent before it', async () => {
    const [c, s] = await socketPair();
    const a = socketChannel(c);
    const b = socketChannel(s);
    const events: string[] = [];
    const done = new Promise<void>((resolve) =>
      b.onClose((reason) => {
        events.push(`close: ${reason}`);
        resolve();
      }),
    );
    b.onMessage((m) => events.push(`msg ${m.length}`));
    const localReason = closed(a);
    a.send(pattern(100_000, 1));
    a.close('done');
    await done;
    expect(events).toEqual(['msg 100000', 'close: peer closed the connection']);
    expect(await localReason).toBe('done');
    expect(() => a.send(Uint8Array.of(1))).toThrow(ChannelError);
    expect(() => b.send(Uint8Array.of(1))).toThrow(ChannelError);
  });

  it('a peer that closes in the middle of a message is reported as truncated', async () => {
    const [c, s] = await socketPair();
    const b = socketChannel(s);
    const reason = closed(b);
    c.end(wire(pattern(100, 1)).subarray(0, 50));
    expect(await reason).toBe('peer closed the connection in the middle of a 100-byte message (50 bytes received)');
  });

  it('a destroyed socket closes the channel', async () => {
    const [c, s] = await socketPair();
    const b = socketChannel(s);
    const reason = closed(b);
    s.destroy();
    expect(await reason).toBe('socket closed');
    c.destroy();
  });

  it('reports bytes waiting in the socket buffer', async () => {
    const [c, s] = await socketPair();
    const a = socketChannel(c);
    s.pause();
    let sent = 0;
    while (a.bufferedBytes === 0 && sent < 64) {
      a.send(new Uint8Array(1024 * 1024));
      sent++;
    }
    expect(a.bufferedBytes).toBeGreaterThan(0);
    a.close();
  });

  it('rejects a bad maximum', async () => {
    const [c] = await socketPair();
    expect(() => socketChannel(c, { maxMessageBytes: -1 })).toThrow(RangeError);
  });
});
