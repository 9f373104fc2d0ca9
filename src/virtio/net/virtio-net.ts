/**
 * virtio-net: an Ethernet NIC on a NetworkPort (VIRTIO 1.2 §5.1 "Network Device"), with
 * receiveq 0 and transmitq 1 (no control queue, no multiqueue, no checksum or segmentation
 * offloads).
 *
 * Every packet in either direction is preceded by struct virtio_net_hdr (§5.1.6): 12 bytes
 * when VERSION_1 or MRG_RXBUF is negotiated (the last two are num_buffers), 10 bytes for a
 * legacy driver without MRG_RXBUF. Transmit (§5.1.6.2): the header is skipped and the
 * frame goes to the port. Receive (§5.1.6.3/4): a frame from the port is written after a
 * zeroed header into the next receive chain; with MRG_RXBUF a frame may span several
 * chains and num_buffers in the first header says how many, otherwise one chain must hold
 * header and frame and num_buffers is 1.
 *
 * Frames that arrive when no receive buffer is available wait in a bounded backlog
 * (default 256 frames; beyond that they are dropped and counted) and are delivered when the
 * driver adds buffers (a receiveq notification). Frames outside 14..65550 bytes are dropped
 * with an error count in both directions.
 */
import type { NetworkPort } from '../../net/network-port.js';
import { ETHERNET_HEADER_BYTES, MAX_FRAME_BYTES } from '../../net/network-port.js';
import { StateError, StateReader, type SavedState } from '../../persist/persist.js';
import {
  featureBit,
  VirtioDeviceType,
  VirtioFeatureBit,
  VirtqueueError,
  type Virtqueue,
  type VirtqueueChain,
  type VirtioDevice,
  type VirtioDeviceHost,
} from '../virtio-device.js';

/** virtio-net feature bit numbers (VIRTIO 1.2 §5.1.3). */
export const enum VirtioNetFeature {
  Csum = 0,
  GuestCsum = 1,
  Mtu = 3,
  Mac = 5,
  MergeRxBuffers = 15,
  Status = 16,
  ControlQueue = 17,
}

/** Byte offsets of struct virtio_net_config (VIRTIO 1.2 §5.1.4). */
export const enum VirtioNetConfig {
  Mac = 0,
  Status = 6,
  MaxVirtqueuePairs = 8,
  /** Size of the configuration this device exposes. */
  Size = 10,
}

/** Queue indices. */
export const enum VirtioNetQueue {
  Receive = 0,
  Transmit = 1,
}

/** Status field bit: the link is up (VIRTIO_NET_S_LINK_UP). */
export const VIRTIO_NET_S_LINK_UP = 1;
/** Size of each queue. */
export const VIRTIO_NET_QUEUE_SIZE = 256;
/** Default bound of the receive backlog, in frames. */
export const VIRTIO_NET_DEFAULT_BACKLOG = 256;
/** Header size with VERSION_1 or MRG_RXBUF (includes num_buffers). */
export const VIRTIO_NET_HEADER_BYTES = 12;
/** Header size of a legacy driver without MRG_RXBUF. */
export const VIRTIO_NET_LEGACY_HEADER_BYTES = 10;
/** Offset of num_buffers in the header. */
const NUM_BUFFERS_OFFSET = 10;
/** Version of the saved state layout. */
const VIRTIO_NET_STATE_VERSION = 1;

/** Options for a virtio-net device. */
export interface VirtioNetOptions {
  /** Device and persist name (default "virtio-net"). */
  readonly name?: string;
  /** The MAC address (6 bytes). */
  readonly mac: Uint8Array;
  /** The link this NIC is plugged into. */
  readonly port: NetworkPort;
  /** Link state at power-on (default up). */
  readonly linkUp?: boolean;
  /** Most frames kept waiting for receive buffers (default 256). */
  readonly backlogFrames?: number;
  /** Log sink (default: none). */
  readonly log?: (message: string) => void;
}

/** Counters of a virtio-net device. */
export interface VirtioNetStats {
  /** Frames sent to the port. */
  txFrames: number;
  /** Transmit chains dropped: no header, bad frame size, or link down. */
  txErrors: number;
  /** Frames written into receive buffers. */
  rxFrames: number;
  /** Frames dropped on receive: backlog full, driver not ready, or link down. */
  rxDropped: number;
  /** Frames dropped on receive as malformed (bad size) or too big for the driver's buffers. */
  rxErrors: number;
}

/**
 * Saved state. The queues belong to the transport, which calls `activate` again after a
 * restore. Not representable: receive chains already taken from the ring for a merged
 * frame still waiting for more buffers (rare: only frames larger than one buffer); the
 * frame itself is kept in the backlog, those few buffers are lost to the restored driver.
 */
export interface VirtioNetState extends SavedState {
  readonly version: number;
  readonly mac: number[];
  readonly linkUp: boolean;
  readonly activated: boolean;
  /** Negotiated features (all below bit 53, so a plain number). */
  readonly features: number;
  /** Frames waiting for receive buffers, oldest first. */
  readonly backlog: Uint8Array[];
  readonly stats: VirtioNetStats;
}

/** A virtio network device (§5.1) on a NetworkPort. */
export class VirtioNet implements VirtioDevice {
  readonly name: string;
  readonly persistId: string;
  readonly deviceType = VirtioDeviceType.Net;
  readonly deviceFeatures: bigint =
    featureBit(VirtioNetFeature.Mac) |
    featureBit(VirtioNetFeature.Status) |
    featureBit(VirtioNetFeature.MergeRxBuffers) |
    featureBit(VirtioFeatureBit.IndirectDescriptors) |
    featureBit(VirtioFeatureBit.EventIndex) |
    featureBit(VirtioFeatureBit.Version1);
  readonly queueCount = 2;
  readonly configSize = VirtioNetConfig.Size;
  readonly stats: VirtioNetStats = { txFrames: 0, txErrors: 0, rxFrames: 0, rxDropped: 0, rxErrors: 0 };

  private readonly port: NetworkPort;
  private readonly log: (message: string) => void;
  private readonly backlogLimit: number;
  private readonly config = new Uint8Array(VirtioNetConfig.Size);
  private readonly configView = new DataView(this.config.buffer);
  private readonly rxHeader = new Uint8Array(VIRTIO_NET_HEADER_BYTES);
  private readonly rxHeaderView = new DataView(this.rxHeader.buffer);

  private linkUp: boolean;
  private features = 0n;
  private activated = false;
  private broken = false;
  private host: VirtioDeviceHost | null = null;
  private rxQueue: Virtqueue | null = null;
  private txQueue: Virtqueue | null = null;
  private headerBytes = VIRTIO_NET_HEADER_BYTES;
  private mergeable = false;
  private backlog: Uint8Array[] = [];
  /** Receive chains taken for the merged frame at the head of the backlog. */
  private held: VirtqueueChain[] = [];
  private heldBytes = 0;

  /** Create the NIC and start listening on the port; throws on a MAC that is not 6 bytes. */
  constructor(options: VirtioNetOptions) {
    this.name = options.name ?? 'virtio-net';
    this.persistId = this.name;
    if (options.mac.length !== 6) throw new RangeError(`${this.name}: MAC address has ${options.mac.length} bytes, not 6`);
    const backlogLimit = options.backlogFrames ?? VIRTIO_NET_DEFAULT_BACKLOG;
    if (!Number.isInteger(backlogLimit) || backlogLimit < 0) throw new RangeError(`${this.name}: backlogFrames ${backlogLimit} is not a count`);
    this.backlogLimit = backlogLimit;
    this.port = options.port;
    this.log = options.log ?? (() => {});
    this.linkUp = options.linkUp ?? true;
    this.config.set(options.mac, VirtioNetConfig.Mac);
    this.configView.setUint16(VirtioNetConfig.MaxVirtqueuePairs, 1, true);
    this.updateStatusField();
    this.port.onReceive((frame) => this.receive(frame));
  }

  /** The MAC address in use. */
  get mac(): Uint8Array {
    return this.config.slice(VirtioNetConfig.Mac, VirtioNetConfig.Mac + 6);
  }

  /** Whether the link is up. */
  get isLinkUp(): boolean {
    return this.linkUp;
  }

  /** Frames waiting for receive buffers. */
  get backlogLength(): number {
    return this.backlog.length;
  }

  /** Plug or unplug the cable: updates the status field and raises a config-change interrupt. */
  setLinkUp(up: boolean): void {
    if (up === this.linkUp) return;
    this.linkUp = up;
    this.updateStatusField();
    if (this.activated) this.host?.configChanged();
  }

  /** Largest size of each queue. */
  queueMaxSize(index: number): number {
    return index === VirtioNetQueue.Receive || index === VirtioNetQueue.Transmit ? VIRTIO_NET_QUEUE_SIZE : 0;
  }

  /** Little-endian read of the device configuration; bytes past the end read as zero. */
  configRead(offset: number, size: 1 | 2 | 4): number {
    if (offset < 0 || offset + size > this.config.length) return 0;
    if (size === 1) return this.config[offset]!;
    if (size === 2) return this.configView.getUint16(offset, true);
    return this.configView.getUint32(offset, true);
  }

  /** The configuration is read-only: writes are logged and ignored. */
  configWrite(offset: number, size: 1 | 2 | 4, value: number): void {
    this.log(`${this.name}: ignored ${size}-byte config write of 0x${value.toString(16)} at ${offset}`);
  }

  /** Start with live queues; frames already waiting (after a restore) are delivered. */
  activate(features: bigint, queues: readonly (Virtqueue | null)[], host: VirtioDeviceHost): void {
    this.features = features;
    this.host = host;
    this.rxQueue = queues[VirtioNetQueue.Receive] ?? null;
    this.txQueue = queues[VirtioNetQueue.Transmit] ?? null;
    this.applyFeatures();
    this.activated = true;
    this.broken = false;
    this.held = [];
    this.heldBytes = 0;
    this.deliverBacklog();
  }

  /** Receive queue: buffers were added (deliver the backlog). Transmit queue: send frames. */
  queueNotify(index: number): void {
    if (!this.activated || this.broken) return;
    if (index === VirtioNetQueue.Receive) this.deliverBacklog();
    else if (index === VirtioNetQueue.Transmit) this.transmit();
  }

  /** Drop the queues, the negotiated features and waiting frames. */
  reset(): void {
    this.features = 0n;
    this.activated = false;
    this.broken = false;
    this.host = null;
    this.rxQueue = null;
    this.txQueue = null;
    this.backlog = [];
    this.held = [];
    this.heldBytes = 0;
    this.applyFeatures();
  }

  /** A frame from the port. The frame may be kept (ports hand over copies). */
  receive(frame: Uint8Array): void {
    if (frame.length < ETHERNET_HEADER_BYTES || frame.length > MAX_FRAME_BYTES) {
      this.stats.rxErrors++;
      this.log(`${this.name}: dropped a received frame of ${frame.length} bytes (outside ${ETHERNET_HEADER_BYTES}..${MAX_FRAME_BYTES})`);
      return;
    }
    if (!this.activated || this.broken || this.rxQueue === null || !this.linkUp || this.backlog.length >= this.backlogLimit) {
      this.stats.rxDropped++;
      return;
    }
    this.backlog.push(frame);
    this.deliverBacklog();
  }

  // ---- Persist ----

  /** Save MAC, link state, activation and the frames waiting for buffers. */
  save(): VirtioNetState {
    return {
      version: VIRTIO_NET_STATE_VERSION,
      mac: Array.from(this.mac),
      linkUp: this.linkUp,
      activated: this.activated,
      features: Number(this.features),
      backlog: this.backlog.map((frame) => frame.slice()),
      stats: { ...this.stats },
    };
  }

  /** Validate everything, then apply; the transport re-activates with live queues afterwards. */
  restore(state: unknown): void {
    const reader = new StateReader(this.persistId, state);
    reader.version([VIRTIO_NET_STATE_VERSION]);
    const mac = reader.ints('mac', 0, 0xff, 6, 6);
    const linkUp = reader.bool('linkUp');
    const activated = reader.bool('activated');
    const features = BigInt(reader.int('features', 0, Number.MAX_SAFE_INTEGER));
    if ((features & ~this.deviceFeatures) !== 0n) {
      throw new StateError(this.persistId, 'features', `0x${features.toString(16)} has bits the device does not offer`);
    }
    const backlog = this.readBacklog((state as Record<string, unknown>)['backlog']);
    const statsReader = reader.object('stats');
    const stats: VirtioNetStats = {
      txFrames: statsReader.int('txFrames', 0, Number.MAX_SAFE_INTEGER),
      txErrors: statsReader.int('txErrors', 0, Number.MAX_SAFE_INTEGER),
      rxFrames: statsReader.int('rxFrames', 0, Number.MAX_SAFE_INTEGER),
      rxDropped: statsReader.int('rxDropped', 0, Number.MAX_SAFE_INTEGER),
      rxErrors: statsReader.int('rxErrors', 0, Number.MAX_SAFE_INTEGER),
    };
    this.config.set(mac, VirtioNetConfig.Mac);
    this.linkUp = linkUp;
    this.updateStatusField();
    this.activated = activated;
    this.features = features;
    this.applyFeatures();
    this.broken = false;
    this.backlog = backlog;
    this.held = [];
    this.heldBytes = 0;
    Object.assign(this.stats, stats);
  }

  /** Validate the saved backlog: at most the bound, each frame a byte array of a legal size. */
  private readBacklog(value: unknown): Uint8Array[] {
    if (!Array.isArray(value) || value.length > this.backlogLimit) {
      throw new StateError(this.persistId, 'backlog', `expected an array of at most ${this.backlogLimit} frames`);
    }
    return value.map((item: unknown, i) => {
      const field = `backlog[${i}]`;
      let frame: Uint8Array;
      if (item instanceof Uint8Array) {
        frame = item.slice();
      } else if (Array.isArray(item) && item.every((b) => typeof b === 'number' && Number.isInteger(b) && b >= 0 && b <= 0xff)) {
        frame = Uint8Array.from(item as number[]);
      } else {
        throw new StateError(this.persistId, field, 'expected a byte array');
      }
      if (frame.length < ETHERNET_HEADER_BYTES || frame.length > MAX_FRAME_BYTES) {
        throw new StateError(this.persistId, field, `frame of ${frame.length} bytes outside ${ETHERNET_HEADER_BYTES}..${MAX_FRAME_BYTES}`);
      }
      return frame;
    });
  }

  // ---- transmit ----

  /** Send every available transmit chain, then notify once. */
  private transmit(): void {
    const queue = this.txQueue;
    if (queue === null) return;
    let completed = 0;
    for (let budget = queue.size; budget > 0; budget--) {
      const chain = this.pop(queue, 'transmit');
      if (chain === null) break;
      try {
        this.transmitChain(chain);
        queue.push(chain, 0);
      } catch (error) {
        if (!(error instanceof VirtqueueError)) throw error;
        this.failDevice(`transmit queue, descriptor ${chain.head}: ${error.message}`);
        return;
      }
      completed++;
    }
    if (completed > 0) queue.notify();
  }

  /** Strip the header of one transmit chain and send the frame. */
  private transmitChain(chain: VirtqueueChain): void {
    const length = chain.readableLength - this.headerBytes;
    if (length < ETHERNET_HEADER_BYTES || length > MAX_FRAME_BYTES) {
      this.stats.txErrors++;
      this.log(`${this.name}: dropped a transmit chain of ${chain.readableLength} bytes (header ${this.headerBytes} + frame ${ETHERNET_HEADER_BYTES}..${MAX_FRAME_BYTES})`);
      return;
    }
    if (!this.linkUp) {
      this.stats.txErrors++;
      return;
    }
    const frame = new Uint8Array(length);
    chain.read(this.headerBytes, frame);
    this.stats.txFrames++;
    this.port.send(frame);
  }

  // ---- receive ----

  /** Deliver waiting frames while receive buffers last; notify once if anything was used. */
  private deliverBacklog(): void {
    const queue = this.rxQueue;
    if (!this.activated || this.broken || queue === null) return;
    let used = 0;
    while (this.backlog.length > 0) {
      const frame = this.backlog[0]!;
      let chains: number;
      try {
        chains = this.mergeable ? this.deliverMerged(queue, frame) : this.deliverSingle(queue, frame);
      } catch (error) {
        if (!(error instanceof VirtqueueError)) throw error;
        this.failDevice(`receive queue: ${error.message}`);
        return;
      }
      if (chains < 0) break;
      this.backlog.shift();
      used += chains;
    }
    if (used > 0) queue.notify();
  }

  /** One chain holds header + frame. Returns chains used, or -1 when none is available. */
  private deliverSingle(queue: Virtqueue, frame: Uint8Array): number {
    const chain = this.pop(queue, 'receive');
    if (chain === null) return -1;
    const total = this.headerBytes + frame.length;
    if (chain.writableLength < total) {
      this.stats.rxErrors++;
      this.log(`${this.name}: receive buffer of ${chain.writableLength} bytes cannot hold a ${frame.length}-byte frame; dropped`);
      queue.push(chain, 0);
      return 1;
    }
    this.writeHeader(chain, 1);
    chain.write(this.headerBytes, frame);
    queue.push(chain, total);
    this.stats.rxFrames++;
    return 1;
  }

  /**
   * MRG_RXBUF: take chains until header + frame fit, then fill them in order; num_buffers
   * in the first header counts them. Returns chains used, or -1 when the ring ran dry
   * (chains taken so far are held for the next receive notification).
   */
  private deliverMerged(queue: Virtqueue, frame: Uint8Array): number {
    const header = this.headerBytes;
    const total = header + frame.length;
    while (this.heldBytes < total) {
      if (this.held.length >= queue.size) return this.dropHeld(queue, frame);
      const chain = this.pop(queue, 'receive');
      if (chain === null) return -1;
      this.held.push(chain);
      this.heldBytes += chain.writableLength;
      if (this.held.length === 1 && chain.writableLength < header) return this.dropHeld(queue, frame);
    }
    const chains = this.held;
    this.writeHeader(chains[0]!, chains.length);
    let done = 0;
    for (let i = 0; i < chains.length; i++) {
      const chain = chains[i]!;
      const start = i === 0 ? header : 0;
      const n = Math.min(chain.writableLength - start, frame.length - done);
      chain.write(start, frame.subarray(done, done + n));
      done += n;
      queue.push(chain, start + n);
    }
    this.held = [];
    this.heldBytes = 0;
    this.stats.rxFrames++;
    return chains.length;
  }

  /** The driver's buffers cannot take this frame: give the held chains back empty and drop it. */
  private dropHeld(queue: Virtqueue, frame: Uint8Array): number {
    const chains = this.held;
    this.stats.rxErrors++;
    this.log(`${this.name}: ${chains.length} receive buffers (${this.heldBytes} bytes) cannot hold a ${frame.length}-byte frame; dropped`);
    for (const chain of chains) queue.push(chain, 0);
    this.held = [];
    this.heldBytes = 0;
    return chains.length;
  }

  /** Write a zeroed header with num_buffers (when the header has that field). */
  private writeHeader(chain: VirtqueueChain, buffers: number): void {
    this.rxHeader.fill(0);
    if (this.headerBytes === VIRTIO_NET_HEADER_BYTES) this.rxHeaderView.setUint16(NUM_BUFFERS_OFFSET, buffers, true);
    chain.write(0, this.rxHeader.subarray(0, this.headerBytes));
  }

  // ---- helpers ----

  /** Pop a chain; a corrupt ring fails the device and yields null. */
  private pop(queue: Virtqueue, which: string): VirtqueueChain | null {
    try {
      return queue.pop();
    } catch (error) {
      if (!(error instanceof VirtqueueError)) throw error;
      this.failDevice(`${which} queue: ${error.message}`);
      return null;
    }
  }

  /** Header size and receive mode follow the negotiated features. */
  private applyFeatures(): void {
    const has = (bit: number): boolean => (this.features & featureBit(bit)) !== 0n;
    this.mergeable = has(VirtioNetFeature.MergeRxBuffers);
    this.headerBytes = this.mergeable || has(VirtioFeatureBit.Version1) ? VIRTIO_NET_HEADER_BYTES : VIRTIO_NET_LEGACY_HEADER_BYTES;
  }

  private updateStatusField(): void {
    this.configView.setUint16(VirtioNetConfig.Status, this.linkUp ? VIRTIO_NET_S_LINK_UP : 0, true);
  }

  /** Mark the device broken and tell the transport why. */
  private failDevice(reason: string): void {
    this.broken = true;
    this.log(`${this.name}: ${reason}`);
    this.host?.fail(reason);
  }
}
