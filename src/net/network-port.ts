/**
 * NetworkPort: one end of a virtual Ethernet link. A NIC (virtio-net) holds a port; a
 * virtual switch (src/net/switch.ts) hands out ports. Frames are whole Ethernet frames
 * (destination MAC, source MAC, EtherType, payload; no preamble and no FCS).
 */

/** Shortest frame accepted anywhere (the 14-byte Ethernet header, no payload). */
export const ETHERNET_HEADER_BYTES = 14;
/** Longest frame accepted anywhere (a 65535-byte payload plus the Ethernet header and a VLAN tag). */
export const MAX_FRAME_BYTES = 65550;

/** One end of a virtual Ethernet link. */
export interface NetworkPort {
  /** Name for logs ("vm1.eth0"). */
  readonly name: string;
  /** Send a frame from this end. The frame is not kept: the other side copies what it keeps. */
  send(frame: Uint8Array): void;
  /** Set the handler for frames arriving at this end (replaces any earlier one). The handler may keep the frame. */
  onReceive(handler: (frame: Uint8Array) => void): void;
  /** Disconnect; later sends are dropped. */
  close(): void;
}
