// Tests for virtio-net: transmit, receive with and without MRG_RXBUF, the backlog and its
// bound, frame size checks, configuration (MAC, status), broken rings, Persist.
import { describe, expect, it } from 'vitest';
import type { NetworkPort } from '../../../../src/net/network-port.js';
import { StateError } from '../../../../src/persist/persist.js';
import {
  VirtioNet,
  VirtioNetConfig,
  VirtioNetFeature,
  VIRTIO_NET_S_LINK_UP,
} from '../../../../src/virtio/net/virtio-net.js';
import { featureBit, VirtioDeviceType, VirtioFeatureBit } from '../../../../src/virtio/virtio-device.js';
import { FakeHost, FakeMemory, FakeQueue } from '../fakes.js';

const MAC = Uint8Array.of(0x52, 0x54, 0x00, 0x12, 0x34, 0x56);
const BASE = featureBit(VirtioFeatureBit.Version1) | featureBit(VirtioNetFeature.Mac) | featureBit(VirtioNetFeature.Status);
const MERGE = BASE | featureBit(VirtioNetFeature.MergeRxBuffers);

/** A port that records what the NIC sends and lets the test inject frames. */
class RecordingPort implements NetworkPort {
  readonly name = 'test-port';
  readonly sent: Uint8Array[] = [];
  private handler: ((frame: Uint8Array) => void) | null = null;
  send(frame: Uint8Array): void {
    this.sent.push(frame);
  }
  onReceive(handler: (frame: Uint8Array) => void): void {
    this.handler = handler;
  }
  close(): void {}
  inject(frame: Uint8Array): void {
    this.handler!(frame);
  }
}

/** An Ethernet frame of `length` bytes with a recognisable payload. */
function frame(length: number, seed = 1): Uint8Array {
  const out = new Uint8Array(length);
  out.set([0xff, 0xff, 0xff, 0xff, 0xff, 0xff], 0);
  out.set(MAC, 6);
  for (let i = 12; i < length; i++) out[i] = (i * 13 + seed) & 0xff;
  return out;
}

function makeNet(features = MERGE, options: { backlogFrames?: number } = {}) {
  const port = new RecordingPort();
  const logs: string[] = [];
  const net = new VirtioNet({ name: 'vnet0', mac: MAC, port, log: (m) => logs.push(m), ...options });
  const memory = new FakeMemory(16 * 1024 * 1024);
  const rx = new FakeQueue(memory, 0, 256);
  const tx = new FakeQueue(memory, 1, 256);
  const host = new FakeHost();
  net.activate(features, [rx, tx], host);
  return { net, port, rx, tx, host, logs };
}

function u16(bytes: Uint8Array, offset: number): number {
  return bytes[offset]! | (bytes[offset + 1]! << 8);
}

describe('VirtioNet identity and configuration', () => {
  it('offers MAC, STATUS, MRG_RXBUF and the ring features, no offloads', () => {
    const { net } = makeNet();
    expect(net.deviceType).toBe(VirtioDeviceType.Net);
    expect(net.queueCount).toBe(2);
    expect(net.queueMaxSize(0)).toBe(256);
    expect(net.queueMaxSize(1)).toBe(256);
    expect(net.queueMaxSize(2)).toBe(0);
    const wanted = MERGE | featureBit(VirtioFeatureBit.IndirectDescriptors) | featureBit(VirtioFeatureBit.EventIndex);
    expect(net.deviceFeatures).toBe(wanted);
    expect(net.deviceFeatures & featureBit(VirtioNetFeature.Csum)).toBe(0n);
    expect(net.deviceFeatures & featureBit(VirtioNetFeature.ControlQueue)).toBe(0n);
  });

  it('exposes the MAC and link status in the configuration', () => {
    const { net, host } = makeNet();
    const mac = [0, 1, 2, 3, 4, 5].map((i) => net.configRead(VirtioNetConfig.Mac + i, 1));
    expect(mac).toEqual(Array.from(MAC));
    expect(net.configRead(VirtioNetConfig.Mac, 4)).toBe(0x12005452);
    expect(net.configRead(VirtioNetConfig.Status, 2)).toBe(VIRTIO_NET_S_LINK_UP);
    expect(net.configRead(VirtioNetConfig.MaxVirtqueuePairs, 2)).toBe(1);
    net.setLinkUp(false);
    expect(net.configRead(VirtioNetConfig.Status, 2)).toBe(0);
    expect(host.configChanges).toBe(1);
    net.setLinkUp(false);
    expect(host.configChanges).toBe(1);
    net.setLinkUp(true);
    expect(net.configRead(VirtioNetConfig.Status, 2)).toBe(VIRTIO_NET_S_LINK_UP);
    expect(host.configChanges).toBe(2);
  });

  it('ignores configuration writes and refuses a bad MAC', () => {
    const { net } = makeNet();
    net.configWrite(VirtioNetConfig.Mac, 1, 0xaa);
    expect(net.configRead(VirtioNetConfig.Mac, 1)).toBe(0x52);
    expect(() => new VirtioNet({ mac: new Uint8Array(5), port: new RecordingPort() })).toThrow(/6/);
  });
});

describe('VirtioNet transmit', () => {
  it('strips the 12-byte header and sends the frame, even when split across buffers', () => {
    const { net, port, tx } = makeNet();
    const f = frame(100);
    const hdr = new Uint8Array(12).fill(0x77);
    const joined = new Uint8Array(112);
    joined.set(hdr);
    joined.set(f, 12);
    const a = tx.add([joined.subarray(0, 12), joined.subarray(12)], []);
    const b = tx.add([joined.subarray(0, 5), joined.subarray(5, 50), joined.subarray(50)], []);
    net.queueNotify(1);
    expect(port.sent).toEqual([f, f]);
    expect(tx.used).toEqual([
      { chain: a, written: 0 },
      { chain: b, written: 0 },
    ]);
    expect(tx.notifications).toBe(1);
    expect(net.stats.txFrames).toBe(2);
  });

  it('uses the 10-byte header for a legacy driver without MRG_RXBUF', () => {
    const { net, port, tx } = makeNet(featureBit(VirtioNetFeature.Mac));
    const f = frame(60);
    const joined = new Uint8Array(70);
    joined.set(f, 10);
    tx.add([joined], []);
    net.queueNotify(1);
    expect(port.sent).toEqual([f]);
  });

  it('drops frames shorter than 14 or longer than 65550 bytes and counts them', () => {
    const { net, port, tx, logs } = makeNet();
    tx.add([new Uint8Array(12 + 13)], []);
    tx.add([new Uint8Array(12 + 65551)], []);
    tx.add([new Uint8Array(12 + 65550)], []);
    tx.add([new Uint8Array(12 + 14)], []);
    net.queueNotify(1);
    expect(port.sent.map((f) => f.length)).toEqual([65550, 14]);
    expect(net.stats.txErrors).toBe(2);
    expect(tx.used.length).toBe(4);
    expect(logs.length).toBe(2);
  });

  it('sends nothing while the link is down', () => {
    const { net, port, tx } = makeNet();
    net.setLinkUp(false);
    tx.add([new Uint8Array(12), frame(60)], []);
    net.queueNotify(1);
    expect(port.sent).toEqual([]);
    expect(tx.used.length).toBe(1);
    expect(net.stats.txErrors).toBe(1);
  });
});

describe('VirtioNet receive', () => {
  it('without MRG_RXBUF: one chain holds header + frame, num_buffers = 1', () => {
    const { net, port, rx } = makeNet(BASE);
    const chain = rx.add([], [6, 1514]);
    const f = frame(200);
    port.inject(f);
    expect(rx.used).toEqual([{ chain, written: 212 }]);
    const written = chain.written();
    expect(written.subarray(0, 10).every((b) => b === 0)).toBe(true);
    expect(u16(written, 10)).toBe(1);
    expect(written.subarray(12, 212)).toEqual(f);
    expect(rx.notifications).toBe(1);
    expect(net.stats.rxFrames).toBe(1);
  });

  it('without MRG_RXBUF: a chain too small for the frame is returned empty and the frame dropped', () => {
    const { net, port, rx } = makeNet(BASE);
    const small = rx.add([], [100]);
    const big = rx.add([], [2000]);
    port.inject(frame(200, 1));
    port.inject(frame(200, 2));
    expect(rx.used).toEqual([
      { chain: small, written: 0 },
      { chain: big, written: 212 },
    ]);
    expect(big.written().subarray(12, 212)).toEqual(frame(200, 2));
    expect(net.stats.rxErrors).toBe(1);
  });

  it('with MRG_RXBUF: a frame spans several chains and num_buffers counts them', () => {
    const { net, port, rx } = makeNet(MERGE);
    const chains = [rx.add([], [1000]), rx.add([], [400, 600]), rx.add([], [1000]), rx.add([], [1000])];
    const f = frame(2500);
    port.inject(f);
    // 12 + 2500 = 2512 bytes: three chains (1000 + 1000 + 512).
    expect(rx.used.map((u) => [u.chain, u.written])).toEqual([
      [chains[0], 1000],
      [chains[1], 1000],
      [chains[2], 512],
    ]);
    const first = chains[0]!.written();
    expect(u16(first, 10)).toBe(3);
    const received = new Uint8Array(2500);
    received.set(first.subarray(12, 1000), 0);
    received.set(chains[1]!.written(), 988);
    received.set(chains[2]!.written().subarray(0, 512), 1988);
    expect(received).toEqual(f);
    expect(rx.notifications).toBe(1);
    expect(rx.available).toEqual([chains[3]]);
  });

  it('with MRG_RXBUF: a small frame uses one chain with num_buffers = 1', () => {
    const { port, rx } = makeNet(MERGE);
    const chain = rx.add([], [1526]);
    port.inject(frame(60));
    expect(rx.used).toEqual([{ chain, written: 72 }]);
    expect(u16(chain.written(), 10)).toBe(1);
  });

  it('with MRG_RXBUF: when the ring runs dry mid-frame the frame completes after more buffers arrive', () => {
    const { net, port, rx } = makeNet(MERGE);
    const a = rx.add([], [1000]);
    const f = frame(1800);
    port.inject(f);
    expect(rx.used).toEqual([]);
    expect(net.backlogLength).toBe(1);
    const b = rx.add([], [1000]);
    net.queueNotify(0);
    expect(rx.used.map((u) => [u.chain, u.written])).toEqual([
      [a, 1000],
      [b, 812],
    ]);
    expect(u16(a.written(), 10)).toBe(2);
    expect(net.backlogLength).toBe(0);
  });

  it('keeps frames in a backlog when there are no buffers and delivers them in order later', () => {
    const { net, port, rx } = makeNet(MERGE);
    port.inject(frame(60, 1));
    port.inject(frame(70, 2));
    port.inject(frame(80, 3));
    expect(net.backlogLength).toBe(3);
    expect(rx.notifications).toBe(0);
    const chains = [rx.add([], [1526]), rx.add([], [1526])];
    net.queueNotify(0);
    expect(rx.used.map((u) => u.written)).toEqual([72, 82]);
    expect(chains[0]!.written().subarray(12, 72)).toEqual(frame(60, 1));
    expect(chains[1]!.written().subarray(12, 82)).toEqual(frame(70, 2));
    expect(net.backlogLength).toBe(1);
    expect(rx.notifications).toBe(1);
    rx.add([], [1526]);
    net.queueNotify(0);
    expect(rx.used.map((u) => u.written)).toEqual([72, 82, 92]);
    expect(net.backlogLength).toBe(0);
  });

  it('drops and counts frames beyond the backlog bound', () => {
    const { net, port } = makeNet(MERGE, { backlogFrames: 4 });
    for (let i = 0; i < 10; i++) port.inject(frame(60, i));
    expect(net.backlogLength).toBe(4);
    expect(net.stats.rxDropped).toBe(6);
  });

  it('drops frames of bad size with an error count', () => {
    const { net, port, rx } = makeNet(MERGE);
    rx.add([], [70000]);
    port.inject(new Uint8Array(13));
    port.inject(new Uint8Array(65551));
    expect(rx.used).toEqual([]);
    expect(net.stats.rxErrors).toBe(2);
    port.inject(frame(65550));
    expect(rx.used[0]!.written).toBe(65562);
  });

  it('drops received frames before activation, after reset and while the link is down', () => {
    const port = new RecordingPort();
    const net = new VirtioNet({ mac: MAC, port });
    port.inject(frame(60));
    expect(net.stats.rxDropped).toBe(1);
    const memory = new FakeMemory();
    const rx = new FakeQueue(memory, 0);
    net.activate(MERGE, [rx, new FakeQueue(memory, 1)], new FakeHost());
    net.setLinkUp(false);
    port.inject(frame(60));
    expect(net.stats.rxDropped).toBe(2);
    net.setLinkUp(true);
    port.inject(frame(60));
    expect(net.backlogLength).toBe(1);
    net.reset();
    expect(net.backlogLength).toBe(0);
    port.inject(frame(60));
    expect(net.stats.rxDropped).toBe(3);
  });

  it('a corrupt receive ring fails the device without throwing', () => {
    const { net, port, rx, host } = makeNet(MERGE);
    rx.corruptWith = 'avail idx jumped by 300';
    expect(() => port.inject(frame(60))).not.toThrow();
    expect(host.failures).toEqual(['receive queue: avail idx jumped by 300']);
    rx.add([], [1526]);
    net.queueNotify(0);
    expect(rx.used).toEqual([]);
  });
});

describe('VirtioNet Persist', () => {
  it('round-trips MAC, link state, features, backlog and counters', () => {
    const { net, port } = makeNet(MERGE);
    port.inject(frame(60, 4));
    port.inject(frame(1514, 5));
    net.setLinkUp(false);
    const saved = net.save();
    expect(saved.backlog.length).toBe(2);
    const otherPort = new RecordingPort();
    const other = new VirtioNet({ name: 'vnet0', mac: Uint8Array.of(2, 0, 0, 0, 0, 1), port: otherPort });
    other.restore(structuredClone(saved));
    expect(other.save()).toEqual(saved);
    expect(other.mac).toEqual(MAC);
    expect(other.configRead(VirtioNetConfig.Status, 2)).toBe(0);
    // The transport re-activates after a restore: the backlog is delivered then.
    other.setLinkUp(true);
    const memory = new FakeMemory();
    const rx = new FakeQueue(memory, 0);
    rx.add([], [1526]);
    rx.add([], [1526]);
    other.activate(MERGE, [rx, new FakeQueue(memory, 1)], new FakeHost());
    expect(rx.used.map((u) => u.written)).toEqual([72, 1526]);
    expect(other.backlogLength).toBe(0);
  });

  it('accepts the backlog as plain number arrays', () => {
    const { net } = makeNet(MERGE);
    const saved = net.save();
    net.restore({ ...saved, backlog: [Array.from(frame(20))] });
    expect(net.backlogLength).toBe(1);
  });

  it('rejects corrupted state naming the field and leaves the device unchanged', () => {
    const { net, port } = makeNet(MERGE);
    port.inject(frame(60));
    const good = net.save();
    expect(() => net.restore({ ...good, version: 2 })).toThrow(StateError);
    expect(() => net.restore({ ...good, mac: [1, 2, 3] })).toThrow(/mac/);
    expect(() => net.restore({ ...good, mac: [1, 2, 3, 4, 5, 256] })).toThrow(/mac/);
    expect(() => net.restore({ ...good, linkUp: 1 })).toThrow(/linkUp/);
    expect(() => net.restore({ ...good, features: Number(featureBit(40)) })).toThrow(/features/);
    expect(() => net.restore({ ...good, backlog: [new Uint8Array(5)] })).toThrow(/backlog\[0\]/);
    expect(() => net.restore({ ...good, backlog: [[1, 2, 'x']] })).toThrow(/backlog\[0\]/);
    expect(() => net.restore({ ...good, backlog: Array.from({ length: 257 }, () => frame(60)) })).toThrow(/backlog/);
    expect(() => net.restore({ ...good, stats: { ...good.stats, rxFrames: -1 } })).toThrow(/stats\.rxFrames/);
    expect(net.save()).toEqual(good);
  });
});
