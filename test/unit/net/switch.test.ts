// Tests for the learning virtual switch: learning, flooding, no echo, copies, table bound,
// aging by frame count, port close, and two switches joined over a loopback channel pair.
import { describe, expect, it } from 'vitest';
import type { NetworkPort } from '../../../src/net/network-port.js';
import { VirtualSwitch } from '../../../src/net/switch.js';
import { loopbackChannelPair } from '../../../src/transport/channel.js';

const BROADCAST = [0xff, 0xff, 0xff, 0xff, 0xff, 0xff];
const MULTICAST = [0x01, 0x00, 0x5e, 0x00, 0x00, 0x01];

/** A locally administered unicast MAC ending in `n`. */
function mac(n: number): number[] {
  return [0x02, 0, 0, 0, (n >> 8) & 0xff, n & 0xff];
}

function frame(dst: number[], src: number[], payload = 0): Uint8Array {
  const out = new Uint8Array(60);
  out.set(dst, 0);
  out.set(src, 6);
  out[12] = 0x08;
  out[14] = payload;
  return out;
}

/** A port whose received frames are recorded. */
function attach(port: NetworkPort) {
  const received: Uint8Array[] = [];
  port.onReceive((f) => received.push(f));
  return { port, received };
}

/** Wait until queued microtasks (loopback deliveries) have run. */
async function settle(): Promise<void> {
  for (let i = 0; i < 10; i++) await Promise.resolve();
}

describe('VirtualSwitch', () => {
  it('floods unknown unicast to all other ports, then forwards to the learned port only', () => {
    const sw = new VirtualSwitch();
    const a = attach(sw.connect('a'));
    const b = attach(sw.connect('b'));
    const c = attach(sw.connect('c'));
    const f1 = frame(mac(2), mac(1), 1);
    a.port.send(f1);
    expect(a.received).toEqual([]);
    expect(b.received).toEqual([f1]);
    expect(c.received).toEqual([f1]);
    expect(sw.lookup(Uint8Array.from(mac(1)))).toBe('a');
    // b answers a: a is known, so only a gets it; b is learned.
    const f2 = frame(mac(1), mac(2), 2);
    b.port.send(f2);
    expect(a.received).toEqual([f2]);
    expect(c.received).toEqual([f1]);
    // a to b is now unicast to b only.
    const f3 = frame(mac(2), mac(1), 3);
    a.port.send(f3);
    expect(b.received).toEqual([f1, f3]);
    expect(c.received).toEqual([f1]);
    expect(sw.stats.flooded).toBe(1);
  });

  it('floods broadcast and multicast to every port but the sender', () => {
    const sw = new VirtualSwitch();
    const ports = ['a', 'b', 'c', 'd'].map((n) => attach(sw.connect(n)));
    ports[0]!.port.send(frame(BROADCAST, mac(1)));
    ports[2]!.port.send(frame(MULTICAST, mac(3)));
    expect(ports.map((p) => p.received.length)).toEqual([1, 2, 1, 2]);
    // Learned addresses do not change group delivery.
    ports[1]!.port.send(frame(BROADCAST, mac(2)));
    expect(ports.map((p) => p.received.length)).toEqual([2, 2, 2, 3]);
  });

  it('never sends a frame back to its sender, even when the destination was learned there', () => {
    const sw = new VirtualSwitch();
    const a = attach(sw.connect('a'));
    const b = attach(sw.connect('b'));
    a.port.send(frame(BROADCAST, mac(1)));
    a.port.send(frame(BROADCAST, mac(5)));
    a.port.send(frame(mac(5), mac(1)));
    expect(a.received).toEqual([]);
    expect(b.received.length).toBe(2);
    expect(sw.stats.filtered).toBe(1);
  });

  it('gives each receiver its own copy', () => {
    const sw = new VirtualSwitch();
    const a = attach(sw.connect('a'));
    const b = attach(sw.connect('b'));
    const c = attach(sw.connect('c'));
    const f = frame(BROADCAST, mac(1), 9);
    a.port.send(f);
    f[14] = 0x55;
    b.received[0]![14] = 0x66;
    expect(c.received[0]![14]).toBe(9);
    expect(b.received[0]).not.toBe(c.received[0]);
  });

  it('relearns a station that moved to another port', () => {
    const sw = new VirtualSwitch();
    const a = attach(sw.connect('a'));
    const b = attach(sw.connect('b'));
    const c = attach(sw.connect('c'));
    a.port.send(frame(BROADCAST, mac(7)));
    expect(sw.lookup(Uint8Array.from(mac(7)))).toBe('a');
    b.port.send(frame(BROADCAST, mac(7)));
    expect(sw.lookup(Uint8Array.from(mac(7)))).toBe('b');
    // a got b's broadcast, b got a's; now unicast to mac 7 goes to b only.
    c.port.send(frame(mac(7), mac(9), 7));
    expect(b.received.length).toBe(2);
    expect(b.received[1]![14]).toBe(7);
    expect(a.received.length).toBe(1);
  });

  it('does not learn group source addresses', () => {
    const sw = new VirtualSwitch();
    const a = attach(sw.connect('a'));
    attach(sw.connect('b'));
    a.port.send(frame(mac(2), MULTICAST));
    expect(sw.tableSize).toBe(0);
  });

  it('ages entries by forwarded frame count', () => {
    const sw = new VirtualSwitch({ agingFrames: 3 });
    const a = attach(sw.connect('a'));
    const b = attach(sw.connect('b'));
    const c = attach(sw.connect('c'));
    a.port.send(frame(BROADCAST, mac(1))); // clock 1: mac1 learned on a
    b.port.send(frame(mac(1), mac(2))); // clock 2: unicast to a
    expect(c.received.length).toBe(1);
    b.port.send(frame(BROADCAST, mac(2))); // clock 3
    c.port.send(frame(BROADCAST, mac(3))); // clock 4: mac1 is 3 frames old, still known
    expect(sw.lookup(Uint8Array.from(mac(1)))).toBe('a');
    c.port.send(frame(BROADCAST, mac(3))); // clock 5: mac1 is now 4 frames old
    expect(sw.lookup(Uint8Array.from(mac(1)))).toBeUndefined();
    const before = c.received.length;
    b.port.send(frame(mac(1), mac(2))); // aged: flooded again
    expect(c.received.length).toBe(before + 1);
  });

  it('bounds the table, evicting the least recently seen address', () => {
    const sw = new VirtualSwitch({ macTableSize: 3 });
    const a = attach(sw.connect('a'));
    const b = attach(sw.connect('b'));
    a.port.send(frame(BROADCAST, mac(1)));
    a.port.send(frame(BROADCAST, mac(2)));
    a.port.send(frame(BROADCAST, mac(3)));
    a.port.send(frame(BROADCAST, mac(1))); // refresh 1: 2 is now the oldest
    a.port.send(frame(BROADCAST, mac(4)));
    expect(sw.tableSize).toBe(3);
    expect(sw.stats.evicted).toBe(1);
    expect(sw.lookup(Uint8Array.from(mac(2)))).toBeUndefined();
    expect(sw.lookup(Uint8Array.from(mac(1)))).toBe('a');
    expect(sw.lookup(Uint8Array.from(mac(4)))).toBe('a');
    expect(b.received.length).toBe(5);
  });

  it('drops frames of bad size and frames sent on a closed port; forgets a closed port', () => {
    const sw = new VirtualSwitch();
    const a = attach(sw.connect('a'));
    const b = attach(sw.connect('b'));
    a.port.send(new Uint8Array(13));
    a.port.send(new Uint8Array(65551));
    expect(b.received).toEqual([]);
    expect(sw.stats.dropped).toBe(2);
    b.port.send(frame(BROADCAST, mac(2)));
    expect(sw.lookup(Uint8Array.from(mac(2)))).toBe('b');
    b.port.close();
    expect(sw.portNames()).toEqual(['a']);
    expect(sw.lookup(Uint8Array.from(mac(2)))).toBeUndefined();
    b.port.send(frame(BROADCAST, mac(2)));
    expect(a.received.length).toBe(1);
    expect(sw.stats.dropped).toBe(3);
  });

  it('refuses a zero table size', () => {
    expect(() => new VirtualSwitch({ macTableSize: 0 })).toThrow(/macTableSize/);
    expect(() => new VirtualSwitch({ agingFrames: 0 })).toThrow(/agingFrames/);
  });
});

describe('VirtualSwitch joined by a channel', () => {
  function joined() {
    const left = new VirtualSwitch({ name: 'left' });
    const right = new VirtualSwitch({ name: 'right' });
    const [ca, cb] = loopbackChannelPair();
    const upLeft = left.attachChannel(ca);
    const upRight = right.attachChannel(cb);
    const l1 = attach(left.connect('l1'));
    const l2 = attach(left.connect('l2'));
    const r1 = attach(right.connect('r1'));
    const r2 = attach(right.connect('r2'));
    return { left, right, ca, cb, upLeft, upRight, l1, l2, r1, r2 };
  }

  it('forwards broadcast across the link to every port of both switches', async () => {
    const { l1, l2, r1, r2 } = joined();
    const f = frame(BROADCAST, mac(1));
    l1.port.send(f);
    expect(l2.received).toEqual([f]);
    await settle();
    expect(r1.received).toEqual([f]);
    expect(r2.received).toEqual([f]);
    expect(l1.received).toEqual([]);
  });

  it('learns remote stations behind the uplink and forwards unicast only where needed', async () => {
    const { left, right, l1, l2, r1, r2, upLeft } = joined();
    l1.port.send(frame(BROADCAST, mac(1)));
    await settle();
    r1.port.send(frame(mac(1), mac(11)));
    await settle();
    expect(l1.received.length).toBe(1);
    expect(l2.received.length).toBe(1); // the broadcast only
    expect(r2.received.length).toBe(1); // the broadcast only
    expect(right.lookup(Uint8Array.from(mac(1)))).toBe('right.uplink0');
    expect(left.lookup(Uint8Array.from(mac(11)))).toBe(upLeft.name);
    l1.port.send(frame(mac(11), mac(1), 5));
    await settle();
    expect(r1.received.length).toBe(2); // the broadcast, then the unicast
    expect(r1.received[1]![14]).toBe(5);
    expect(r2.received.length).toBe(1);
    expect(l2.received.length).toBe(1);
  });

  it('removes the uplink port when the channel closes', async () => {
    const { left, right, cb } = joined();
    cb.close('peer went away');
    await settle();
    expect(left.portNames()).toEqual(['l1', 'l2']);
    expect(right.portNames()).toEqual(['r1', 'r2']);
  });

  it('closing the uplink port closes the channel', async () => {
    const { right, upLeft, cb } = joined();
    const reasons: string[] = [];
    cb.onClose((r) => reasons.push(r));
    upLeft.close();
    await settle();
    expect(reasons).toEqual(['left.uplink0 disconnected']);
    expect(right.portNames()).toEqual(['r1', 'r2']);
  });

  it('the uplink port monitors outgoing frames and injects frames as if from the channel', async () => {
    const { upLeft, l1, l2, r1 } = joined();
    const outgoing: Uint8Array[] = [];
    upLeft.onReceive((f) => outgoing.push(f));
    l1.port.send(frame(BROADCAST, mac(1), 3));
    expect(outgoing.map((f) => f[14])).toEqual([3]);
    await settle();
    expect(r1.received.length).toBe(1); // monitoring does not stop forwarding
    upLeft.send(frame(BROADCAST, mac(40), 4));
    expect(l1.received.map((f) => f[14])).toEqual([4]);
    expect(l2.received.map((f) => f[14])).toEqual([3, 4]);
  });
});
