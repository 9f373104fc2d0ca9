/**
 * VirtualSwitch: a learning Ethernet switch (transparent bridging as in IEEE 802.1D, without
 * spanning tree). Each connected NetworkPort is a switch port. The switch learns which port
 * each source MAC address was last seen on; a frame to a learned unicast address goes out
 * of that port only, and broadcast, multicast (group bit set) or unknown unicast frames are
 * flooded to every port but the one they came in on. A frame is never sent back out of the
 * port it arrived on, and each receiving port gets its own copy.
 *
 * The address table is bounded (least recently seen entry evicted first) and entries age
 * by the number of frames the switch forwarded since the address was last seen, not by
 * wall time, so forwarding is deterministic.
 *
 * `attachChannel` makes a Channel an uplink port: frames the switch sends out of it become
 * channel messages, and channel messages enter the switch as frames sent on it. Two
 * switches (in two workers or processes) joined by a channel pair form one segment.
 */
import { ChannelError, type Channel } from '../transport/channel.js';
import { ETHERNET_HEADER_BYTES, MAX_FRAME_BYTES, type NetworkPort } from './network-port.js';

/** Options of a switch. */
export interface VirtualSwitchOptions {
  /** Name for logs (default "switch"). */
  readonly name?: string;
  /** Most learned addresses (default 1024). */
  readonly macTableSize?: number;
  /** An address not seen for this many forwarded frames is forgotten (default 1,000,000). */
  readonly agingFrames?: number;
  /** Log sink (default: none). */
  readonly log?: (message: string) => void;
}

/** Counters of a switch. */
export interface VirtualSwitchStats {
  /** Frames accepted for forwarding. */
  forwarded: number;
  /** Frames flooded (broadcast, multicast, unknown or aged destination). */
  flooded: number;
  /** Frames dropped as too short or too long, or sent on a closed port. */
  dropped: number;
  /** Frames whose destination is on the port they came from (not sent anywhere). */
  filtered: number;
  /** Table entries evicted because the table was full. */
  evicted: number;
}

/** Where an address was last seen. */
interface MacEntry {
  port: SwitchPort;
  lastSeen: number;
}

/** A port of the switch. */
class SwitchPort implements NetworkPort {
  private handler: ((frame: Uint8Array) => void) | null = null;
  open = true;

  constructor(
    private readonly owner: VirtualSwitch,
    readonly name: string,
  ) {}

  send(frame: Uint8Array): void {
    this.owner.forward(this, frame);
  }

  onReceive(handler: (frame: Uint8Array) => void): void {
    this.handler = handler;
  }

  close(): void {
    if (!this.open) return;
    this.open = false;
    this.handler = null;
    this.owner.disconnect(this);
  }

  /** Hand a frame (already a copy) to the port's owner. */
  output(frame: Uint8Array): void {
    this.handler?.(frame);
  }
}

/** A learning Ethernet switch. */
export class VirtualSwitch {
  readonly name: string;
  readonly stats: VirtualSwitchStats = { forwarded: 0, flooded: 0, dropped: 0, filtered: 0, evicted: 0 };
  private readonly ports: SwitchPort[] = [];
  /** MAC (48-bit number) → entry; Map order is least recently seen first. */
  private readonly table = new Map<number, MacEntry>();
  private readonly macTableSize: number;
  private readonly agingFrames: number;
  private readonly log: (message: string) => void;
  /** Frames forwarded so far: the switch's clock for aging. */
  private frameClock = 0;
  private uplinks = 0;

  /** Create an empty switch; throws on a table size or aging below 1. */
  constructor(options: VirtualSwitchOptions = {}) {
    this.name = options.name ?? 'switch';
    this.macTableSize = options.macTableSize ?? 1024;
    this.agingFrames = options.agingFrames ?? 1_000_000;
    this.log = options.log ?? (() => {});
    if (!Number.isInteger(this.macTableSize) || this.macTableSize < 1) {
      throw new RangeError(`${this.name}: macTableSize ${this.macTableSize} must be a positive integer`);
    }
    if (!Number.isInteger(this.agingFrames) || this.agingFrames < 1) {
      throw new RangeError(`${this.name}: agingFrames ${this.agingFrames} must be a positive integer`);
    }
  }

  /** Connect a new port named `name`. */
  connect(name: string): NetworkPort {
    const port = new SwitchPort(this, name);
    this.ports.push(port);
    return port;
  }

  /**
   * Make `channel` an uplink port: frames leaving the switch through it are sent as channel
   * messages; messages arriving become frames entering through it. The port closes when the
   * channel closes, and closing the port closes the channel. On the returned port, `send`
   * injects a frame as if it came over the channel and `onReceive` monitors outgoing frames.
   */
  attachChannel(channel: Channel, name = `${this.name}.uplink${this.uplinks++}`): NetworkPort {
    const port = this.connect(name) as SwitchPort;
    let open = true;
    let monitor: ((frame: Uint8Array) => void) | null = null;
    port.onReceive((frame) => {
      if (!open) return;
      monitor?.(frame);
      try {
        channel.send(frame);
      } catch (error) {
        if (!(error instanceof ChannelError)) throw error;
        this.stats.dropped++;
        this.log(`${this.name}: uplink ${name} dropped a frame: ${error.message}`);
      }
    });
    channel.onMessage((message) => port.send(message));
    channel.onClose((reason) => {
      open = false;
      this.log(`${this.name}: uplink ${name} closed: ${reason}`);
      port.close();
    });
    return {
      name,
      // A frame sent here enters the switch as if it came over the channel.
      send: (frame) => port.send(frame),
      // A handler here sees (a copy of) each frame going out over the channel.
      onReceive: (handler) => {
        monitor = handler;
      },
      close: () => {
        if (!open) return;
        open = false;
        port.close();
        channel.close(`${name} disconnected`);
      },
    };
  }

  /** Names of the connected ports. */
  portNames(): string[] {
    return this.ports.map((p) => p.name);
  }

  /** The port name an address was learned on (undefined when unknown or aged). */
  lookup(mac: Uint8Array): string | undefined {
    const entry = this.table.get(macKey(mac, 0));
    return entry && !this.aged(entry) ? entry.port.name : undefined;
  }

  /** Number of learned addresses (including aged ones not yet removed). */
  get tableSize(): number {
    return this.table.size;
  }

  /** Forward a frame that entered through `from` (called by the switch's own ports). */
  forward(from: SwitchPort, frame: Uint8Array): void {
    if (!from.open || frame.length < ETHERNET_HEADER_BYTES || frame.length > MAX_FRAME_BYTES) {
      this.stats.dropped++;
      return;
    }
    this.frameClock++;
    this.stats.forwarded++;
    const source = macKey(frame, 6);
    if (!isGroupAddress(frame, 6)) this.learn(source, from);
    if (isGroupAddress(frame, 0)) {
      this.flood(from, frame);
      return;
    }
    const entry = this.table.get(macKey(frame, 0));
    if (entry === undefined || this.aged(entry)) {
      if (entry !== undefined) this.table.delete(macKey(frame, 0));
      this.flood(from, frame);
      return;
    }
    if (entry.port === from) {
      this.stats.filtered++;
      return;
    }
    entry.port.output(frame.slice());
  }

  /** A port closed: forget it and its addresses (called by the switch's own ports). */
  disconnect(port: SwitchPort): void {
    const index = this.ports.indexOf(port);
    if (index >= 0) this.ports.splice(index, 1);
    for (const [mac, entry] of this.table) {
      if (entry.port === port) this.table.delete(mac);
    }
  }

  private aged(entry: MacEntry): boolean {
    return this.frameClock - entry.lastSeen > this.agingFrames;
  }

  /** Record that `mac` is behind `port`, most recently seen last in the table order. */
  private learn(mac: number, port: SwitchPort): void {
    const entry = this.table.get(mac);
    if (entry !== undefined) {
      this.table.delete(mac);
      entry.port = port;
      entry.lastSeen = this.frameClock;
      this.table.set(mac, entry);
      return;
    }
    if (this.table.size >= this.macTableSize) {
      const oldest = this.table.keys().next().value as number;
      this.table.delete(oldest);
      this.stats.evicted++;
    }
    this.table.set(mac, { port, lastSeen: this.frameClock });
  }

  /** Send a copy to every port but `from`. */
  private flood(from: SwitchPort, frame: Uint8Array): void {
    this.stats.flooded++;
    // Copy the list: a receiver may connect or close ports while we iterate.
    for (const port of this.ports.slice()) {
      if (port !== from && port.open) port.output(frame.slice());
    }
  }
}

/** The 48-bit MAC address at `offset` as a number (exact: below 2^53). */
function macKey(bytes: Uint8Array, offset: number): number {
  return (
    bytes[offset]! * 2 ** 40 +
    bytes[offset + 1]! * 2 ** 32 +
    ((bytes[offset + 2]! << 24) >>> 0) +
    (bytes[offset + 3]! << 16) +
    (bytes[offset + 4]! << 8) +
    bytes[offset + 5]!
  );
}

/** Group (broadcast/multicast) addresses have the I/G bit, bit 0 of the first byte, set. */
function isGroupAddress(bytes: Uint8Array, offset: number): boolean {
  return (bytes[offset]! & 1) !== 0;
}
