/**
 * Page sharing on Debian guests (issue 5's "8 VMs booted from the same image — the Debian
 * guest once it boots"): `npm run bench -- --only sharing-debian [--debian-instructions N]`.
 *
 * Eight VMs boot Debian's i386 kernel with our initramfs (from `npm run guests:debian`'s
 * cache) on one host. So that they are not byte-identical copies (our machine is
 * deterministic), each gets its own RTC time (an hour apart) and its own extra kernel
 * argument, which changes what the kernel computes, allocates and logs from early on. Each
 * runs N clock ticks (default 3 G: past the XZ decompression and well into the kernel's
 * initialisation, about 70 s per VM here; the whole boot to the prompt is about 10.5 G).
 * Then the scanner runs to convergence on the live machines. Printed: populated RAM of the
 * 8 VMs, bytes saved and their share (goal >= 50 %), sharing/zero pages, passes, frames
 * hashed and scanner CPU time per 1000 frames.
 */
import { readFileSync } from 'node:fs';
import { findDebianGuest, isDebianGuestFound } from '../../src/cli/debian-guest.js';
import { FRAME_SIZE, PageSharingScanner, type GuestMemory } from '../../src/memory/index.js';
import { DEFAULT_RTC_BASE_SECONDS } from '../../src/machine/pc.js';
import { Host } from '../../src/vmm/host.js';
import { populatedFrames } from './sharing.js';

const VM_COUNT = 8;
const VM_MEMORY = 128 << 20;
const TARGET_SAVED_SHARE = 0.5;
/** Default clock ticks each VM runs. */
export const DEFAULT_DEBIAN_TICKS = 3_000_000_000;

/** Runs the Debian page-sharing scenario; returns whether the goal was met (false when skipped). */
export function runDebianSharingBench(ticks: number): boolean {
  const guest = findDebianGuest();
  if (!isDebianGuestFound(guest)) {
    console.log(`Page sharing on Debian guests: skipped (${guest.skipped})`);
    return false;
  }
  const kernel = readFileSync(guest.kernel);
  const initrd = readFileSync(guest.initrd);
  const host = new Host({ maxFrames: VM_COUNT * (VM_MEMORY / FRAME_SIZE) + 8192 });
  console.log(`Page sharing: ${VM_COUNT} Debian VMs (${VM_MEMORY >> 20} MiB each) booted from ${guest.kernel}, ${ticks.toExponential(2)} clock ticks each`);
  const memories: GuestMemory[] = [];
  const t0 = performance.now();
  for (let k = 0; k < VM_COUNT; k++) {
    const vm = host.createMachine(`debian${k}`, {
      memoryBytes: VM_MEMORY,
      kernel: { name: guest.kernel, data: kernel, initrd: { name: guest.initrd, data: initrd }, cmdline: `console=ttyS0 tshv.vm=${k}` },
      rtcBaseTimeSeconds: DEFAULT_RTC_BASE_SECONDS + k * 3600,
      serialOut: () => {},
    });
    const stop = vm.run(ticks);
    if (stop.kind !== 'limit') console.log(`  vm ${k} stopped early: ${JSON.stringify(stop)}`);
    memories.push(vm.memory);
  }
  const bootSeconds = (performance.now() - t0) / 1000;
  const populated = populatedFrames(host.pool.zeroFrame, memories);
  const scanner = new PageSharingScanner(host.pool);
  for (const memory of memories) scanner.addMemory(memory);
  const inUse = host.pool.framesInUse;
  const cpu0 = process.cpuUsage();
  scanner.scanUntilConverged(32);
  const cpu = process.cpuUsage(cpu0);
  const cpuMs = (cpu.user + cpu.system) / 1000;
  const c = scanner.counters;
  const freed = inUse - host.pool.framesInUse;
  const share = populated === 0 ? 0 : c.savedBytes / (populated * FRAME_SIZE);
  console.log(
    `  booted in ${bootSeconds.toFixed(0)} s; populated ${populated} frames (${(populated * FRAME_SIZE / 2 ** 20).toFixed(1)} MiB), ` +
      `saved ${(c.savedBytes / 2 ** 20).toFixed(1)} MiB = ${(share * 100).toFixed(1)} % ` +
      `[shared frames ${c.sharedFrames}, pages on them ${c.sharingPages}, zero pages ${c.zeroPages}], ${c.passes} passes, ` +
      `${c.framesScanned} frames hashed, ${((1000 * cpuMs) / Math.max(1, c.framesScanned)).toFixed(2)} ms CPU per 1000 frames (${scanner.frameOps.kind})`,
  );
  const exact = c.savedBytes === freed * FRAME_SIZE;
  if (!exact) console.log(`  COUNTER MISMATCH: pool freed ${freed} frames`);
  const met = share >= TARGET_SAVED_SHARE;
  console.log(`  memory saved ${(share * 100).toFixed(1)} %   goal >= ${TARGET_SAVED_SHARE * 100} %: ${met ? 'met' : 'NOT met'}`);
  for (const name of host.machineNames) host.destroyMachine(name);
  return exact && met;
}
