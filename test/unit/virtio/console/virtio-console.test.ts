// virtio-console behind the virtio-pci transport with a mock driver: configuration, guest
// output (transmitq), host input (receiveq) with backlog, bounds, emergency writes, Persist.
import { describe, expect, it } from 'vitest';
import { StateError } from '../../../../src/persist/persist.js';
import {
  VIRTIO_CONSOLE_INPUT_CAPACITY,
  VirtioConsole,
  VirtioConsoleConfig,
  VirtioConsoleFeature,
} from '../../../../src/virtio/console/virtio-console.js';
import { VirtioPciLayout, VirtioStatus } from '../../../../src/virtio/pci/virtio-pci.js';
import { VirtioFeatureBit, featureBit } from '../../../../src/virtio/virtio-device.js';
import { MockDriver, makeMemory } from '../virtqueue-driver.js';
import { plug } from '../pci/harness.js';

const RX_BUFFERS = 0x40000;
const TX_BUFFERS = 0x50000;

function text(s: string): Uint8Array {
  return new TextEncoder().encode(s);
}

function decode(chunks: Uint8Array[]): string {
  return chunks.map((c) => new TextDecoder().decode(c)).join('');
}

/** A console behind the transport; the driver negotiated, set both queues up and set DRIVER_OK unless `start` is false. */
function consoleRig(start = true) {
  const memory = makeMemory();
  const output: Uint8Array[] = [];
  const console = new VirtioConsole({ onOutput: (bytes) => output.push(bytes.slice()) });
  const rig = plug(console, memory);
  const rx = new MockDriver(memory, 8, 0x10000, 0x11000, 0x12000);
  const tx = new MockDriver(memory, 8, 0x20000, 0x21000, 0x22000);
  const begin = () => {
    expect(rig.modern.negotiate(featureBit(VirtioFeatureBit.Version1) | featureBit(VirtioConsoleFeature.Size))).toBe(true);
    rig.modern.setupQueue(0, rx);
    rig.modern.setupQueue(1, tx);
    rig.modern.driverOk();
  };
  if (start) begin();
  /** Posts `count` receive buffers of `size` bytes each and kicks the receive queue. */
  const postRx = (count: number, size: number, kick = true) => {
    for (let i = 0; i < count; i++) {
      const index = rx.nextFree;
      rx.makeAvailable(rx.addChain([{ address: RX_BUFFERS + index * 0x100, length: size, write: true }]));
    }
    if (kick) rig.modern.kick(0);
  };
  /** Received bytes of the used rx elements published since the last call. */
  const received = () =>
    rx.takeUsed().map(([head, length]) => new TextDecoder().decode(rx.bytesAt(RX_BUFFERS + head * 0x100, length)));
  return { ...rig, memory, console, output, rx, tx, begin, postRx, received };
}

describe('VirtioConsole', () => {
  it('reports an 80x25 single-port console and offers SIZE and EMERG_WRITE but not MULTIPORT', () => {
    const { modern, console } = consoleRig(false);
    expect(modern.read(VirtioPciLayout.DeviceOffset + VirtioConsoleConfig.Cols, 2)).toBe(80);
    expect(modern.read(VirtioPciLayout.DeviceOffset + VirtioConsoleConfig.Rows, 2)).toBe(25);
    expect(modern.read(VirtioPciLayout.DeviceOffset, 4)).toBe(80 | (25 << 16));
    expect(modern.read(VirtioPciLayout.DeviceOffset + VirtioConsoleConfig.MaxNrPorts, 4)).toBe(1);
    const features = modern.deviceFeatures();
    expect(features & featureBit(VirtioConsoleFeature.Size)).not.toBe(0n);
    expect(features & featureBit(VirtioConsoleFeature.EmergencyWrite)).not.toBe(0n);
    expect(features & featureBit(VirtioConsoleFeature.Multiport)).toBe(0n);
    expect(console.queueCount).toBe(2);
  });

  it('sends transmitted chains to onOutput and returns them with nothing written', () => {
    const { tx, modern, output, context } = consoleRig();
    tx.fill(TX_BUFFERS, text('hello, '));
    tx.fill(TX_BUFFERS + 0x100, text('world'));
    tx.makeAvailable(tx.addChain([{ address: TX_BUFFERS, length: 7 }, { address: TX_BUFFERS + 0x100, length: 5 }]));
    tx.fill(TX_BUFFERS + 0x200, text('!\n'));
    tx.makeAvailable(tx.addChain([{ address: TX_BUFFERS + 0x200, length: 2 }]));
    modern.kick(1);
    expect(decode(output)).toBe('hello, world!\n');
    expect(output).toHaveLength(2);
    expect(tx.takeUsed()).toEqual([[0, 0], [2, 0]]);
    expect(context.intx).toBe(true);
    expect(modern.readIsr()).toBe(1);
  });

  it('delivers input into available receive buffers at once', () => {
    const { console, postRx, received, modern } = consoleRig();
    postRx(2, 16);
    console.input(text('ls -l\n'));
    expect(received()).toEqual(['ls -l\n']);
    expect(console.pendingInputBytes).toBe(0);
    expect(modern.readIsr()).toBe(1);
  });

  it('splits input across several receive buffers', () => {
    const { console, postRx, received } = consoleRig();
    postRx(3, 4);
    console.input(text('abcdefghij'));
    expect(received()).toEqual(['abcd', 'efgh', 'ij']);
  });

  it('keeps a backlog while there are no receive buffers and delivers it when they arrive', () => {
    const { console, postRx, received } = consoleRig();
    console.input(text('early '));
    console.input(text('bytes'));
    expect(received()).toEqual([]);
    expect(console.pendingInputBytes).toBe(11);
    postRx(1, 8);
    expect(received()).toEqual(['early by']);
    expect(console.pendingInputBytes).toBe(3);
    postRx(1, 8);
    expect(received()).toEqual(['tes']);
    expect(console.pendingInputBytes).toBe(0);
  });

  it('delivers input that arrived before DRIVER_OK once the device is activated', () => {
    const rig = consoleRig(false);
    rig.console.input(text('boot'));
    rig.begin();
    expect(rig.received()).toEqual([]);
    rig.postRx(1, 8);
    expect(rig.received()).toEqual(['boot']);
  });

  it('bounds the backlog to 64 KiB and counts dropped bytes', () => {
    const { console, postRx, received } = consoleRig();
    const big = new Uint8Array(VIRTIO_CONSOLE_INPUT_CAPACITY + 100).map((_, i) => 0x41 + (i % 26));
    console.input(big);
    expect(console.pendingInputBytes).toBe(VIRTIO_CONSOLE_INPUT_CAPACITY);
    expect(console.droppedInputBytes).toBe(100);
    postRx(1, 6);
    expect(received()).toEqual(['ABCDEF']);
  });

  it('outputs emergency writes immediately, even before the driver is ready', () => {
    const { modern, output } = consoleRig(false);
    modern.write(VirtioPciLayout.DeviceOffset + VirtioConsoleConfig.EmergencyWrite, 4, 0x21);
    expect(decode(output)).toBe('!');
  });

  it('fails the device (not the caller) when the receive ring is corrupt during input', () => {
    const { console, rx, modern, logs } = consoleRig();
    rx.setAvailIdx(50);
    expect(() => console.input(text('x'))).not.toThrow();
    expect(modern.status() & VirtioStatus.DeviceNeedsReset).not.toBe(0);
    expect(logs.at(-1)).toMatch(/virtio-console0: device needs reset: virtio-console0 queue 0: available index jumped/);
  });

  it('round-trips pending input through Persist and delivers it after restore', () => {
    const a = consoleRig();
    a.console.input(text('pending'));
    a.console.input(new Uint8Array(VIRTIO_CONSOLE_INPUT_CAPACITY)); // fills the buffer and drops 7
    const saved = a.fn.save();

    const b = plug(new VirtioConsole({ onOutput: () => {} }), a.memory);
    b.fn.restore(structuredClone(saved));
    const restored = b.fn.device as VirtioConsole;
    expect(restored.pendingInputBytes).toBe(VIRTIO_CONSOLE_INPUT_CAPACITY);
    expect(restored.droppedInputBytes).toBe(7);
    expect(b.fn.save()).toEqual(saved);
    a.postRx(1, 7, false);
    b.modern.kick(0);
    expect(a.received()).toEqual(['pending']);
  });

  it('rejects corrupted console state naming the field', () => {
    const console = new VirtioConsole({ onOutput: () => {} });
    console.input(text('keep'));
    expect(() => console.restore({ version: 1, pendingInput: [1, 300], droppedInputBytes: 0 })).toThrow(/'pendingInput\[1\]'/);
    expect(() => console.restore({ version: 1, pendingInput: new Uint8Array(VIRTIO_CONSOLE_INPUT_CAPACITY + 1), droppedInputBytes: 0 })).toThrow(StateError);
    expect(() => console.restore({ version: 1, pendingInput: [], droppedInputBytes: -1 })).toThrow(/'droppedInputBytes'/);
    expect(() => console.restore({ version: 2, pendingInput: [], droppedInputBytes: 0 })).toThrow(/'version'/);
    expect(console.pendingInputBytes).toBe(4);
  });
});
