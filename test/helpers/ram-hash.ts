/**
 * Test helper: one SHA-256 over a machine's RAM — every frame it carries in a snapshot or a
 * migration (GuestMemory.transferableFrames), each frame number followed by its bytes — so two
 * runs can be compared by a single string.
 */
import { createHash } from 'node:crypto';
import { FRAME_SIZE } from '../../src/memory/index.js';
import type { PcMachine } from '../../src/machine/pc.js';

/** Hex SHA-256 of the machine's transferable RAM frames (numbers and contents). */
export function ramHash(vm: PcMachine): string {
  const hash = createHash('sha256');
  const frame = new Uint8Array(FRAME_SIZE);
  const number = new Uint32Array(1);
  for (const f of vm.memory.transferableFrames()) {
    vm.memory.readFrame(f, frame);
    number[0] = f;
    hash.update(number);
    hash.update(frame);
  }
  return hash.digest('hex');
}
