/** Test helpers shared by the channel tests: wait for messages or for the close of a Channel. */
import type { Channel } from '../../../src/transport/channel.js';

/** Resolve when `count` messages have arrived on `channel`. */
export function collect(channel: Channel, count: number): Promise<Uint8Array[]> {
  const got: Uint8Array[] = [];
  return new Promise((resolve) => {
    channel.onMessage((m) => {
      got.push(m);
      if (got.length === count) resolve(got);
    });
  });
}

/** Resolve with the reason when `channel` closes. */
export function closed(channel: Channel): Promise<string> {
  return new Promise((resolve) => channel.onClose(resolve));
}
