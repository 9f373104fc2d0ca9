/**
 * Virtio throughput in the Debian guest (issue 6): `npm run bench` (after the kernel and
 * sharing sections) and `npm run bench -- --only virtio`.
 *
 * Two emulator processes run the dist CLI, as a user runs it (`--clock=realtime`, so guest
 * time follows the wall clock):
 *   vm1: a raw image as /dev/vda and a fresh qcow2 image (our createQcow2, clusters allocated
 *        as the guest writes) as /dev/vdb, both DISK_MIB; a virtio-net NIC listening on a
 *        Unix socket;
 *   vm2: a virtio-net NIC connected to vm1's socket (one switch spans both processes).
 * Disk rows: busybox `dd bs=1M` with O_DIRECT (oflag=direct / iflag=direct), so every 1 MiB
 * block is a request to our device rather than a page-cache copy: first DISK_MIB written
 * sequentially, then read back sequentially. Network row: vm2 pipes NET_MIB from /dev/zero
 * into `nc`, vm1's `nc -l` writes it to /dev/null; one TCP stream between the two guests.
 * Each figure is the MiB moved over the host's wall time from typing the command to the shell's next
 * prompt (Debian's busybox dd prints record counts only, no rate).
 *
 * Baselines measured in the same run on the host, so the ratio shows what the guest path
 * (Linux's driver, our virtqueue and device, the interpreter) costs: the same image format
 * read and written through our BlockBackend in 1 MiB calls; and 1514-byte frames pushed
 * through two of our switches joined by a socket channel over a Unix socket in this process.
 * The figures are reported, not judged: the issue sets no speed target for them.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { createServer, connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { findPackageRoot } from '../../src/cli/run.js';
import { findDebianGuest, isDebianGuestFound } from '../../src/cli/debian-guest.js';
import { MODULES_MARKER, READY_MARKER, SHELL_PROMPT } from '../../src/firmware/initramfs/debian-initramfs.js';
import { VirtualSwitch } from '../../src/net/switch.js';
import { createQcow2 } from '../../src/storage/qcow2/create.js';
import { createNodeFile } from '../../src/storage/node-file.js';
import { openImage } from '../../src/storage/open-image.js';
import { socketChannel } from '../../src/transport/socket-channel.js';
import { ProcessConsole } from '../helpers/process-console.js';

const MIB = 1024 * 1024;
/** MiB each disk row moves (the images are this size). */
const DISK_MIB = 128;
/** MiB the network row moves: the guests' TCP stacks run at about 1 MB/s here, see the README. */
const NET_MIB = 16;
/** Wall-clock limits: a Debian boot takes 2.5-4 minutes here, two run at once. */
const BOOT_TIMEOUT_MS = 12 * 60_000;
const COMMAND_TIMEOUT_MS = 60_000;
/** Limit per measured command: generous, the figures are what is measured. */
const TRANSFER_TIMEOUT_MS = 15 * 60_000;
const MAC1 = '52:54:00:12:34:01';
const MAC2 = '52:54:00:12:34:02';
const IP1 = '10.0.0.1';
const IP2 = '10.0.0.2';
/** Ethernet frame used by the network baseline: header plus a 1500-byte payload. */
const BASELINE_FRAME_BYTES = 1514;

/** One row of the virtio table. */
interface VirtioRow {
  readonly what: string;
  readonly guestMBps: number;
  readonly hostMBps: number;
  readonly baseline: string;
}

/** MB/s (10^6 bytes per second, as dd prints) of `bytes` in `seconds`. */
const mbps = (bytes: number, seconds: number): number => bytes / seconds / 1e6;

/** Seconds of `vm.command(line)` on the host's wall clock, and the command's answer. */
async function timedCommand(vm: ProcessConsole, line: string): Promise<{ seconds: number; answer: string }> {
  const t0 = performance.now();
  const answer = await vm.command(line, SHELL_PROMPT, TRANSFER_TIMEOUT_MS);
  return { seconds: (performance.now() - t0) / 1000, answer };
}

/** dd must report `blocks` whole blocks in and out, else the row would time a failure. */
function checkCopied(answer: string, blocks: number, what: string): void {
  const whole = new RegExp(`^${blocks}\\+0 records in\\r?\\n${blocks}\\+0 records out\\r?$`, 'm');
  if (!whole.test(answer)) throw new Error(`${what}: dd did not copy ${blocks} whole 1 MiB blocks:\n${answer}`);
}

/** Wait for a Debian boot to reach the shell prompt with every module loaded. */
async function boot(vm: ProcessConsole): Promise<void> {
  await vm.waitFor(MODULES_MARKER, BOOT_TIMEOUT_MS);
  const summary = await vm.waitFor('==', COMMAND_TIMEOUT_MS);
  if (/ [1-9]\d* failed/.test(summary)) throw new Error(`kernel modules failed to load:\n${vm.tail()}`);
  await vm.waitFor(READY_MARKER, COMMAND_TIMEOUT_MS);
  await vm.waitFor(SHELL_PROMPT, COMMAND_TIMEOUT_MS);
}

/** Host baseline: `mib` MiB written then read in 1 MiB calls through our backend for `path`. */
function backendBaseline(path: string, format: 'raw' | 'qcow2', mib: number): { writeMBps: number; readMBps: number } {
  const backend = openImage(path, { format });
  const block = new Uint8Array(MIB);
  try {
    let t0 = performance.now();
    for (let k = 0; k < mib; k++) backend.write(k * MIB, block);
    backend.flush();
    const writeSeconds = (performance.now() - t0) / 1000;
    t0 = performance.now();
    for (let k = 0; k < mib; k++) backend.read(k * MIB, block);
    const readSeconds = (performance.now() - t0) / 1000;
    return { writeMBps: mbps(mib * MIB, writeSeconds), readMBps: mbps(mib * MIB, readSeconds) };
  } finally {
    backend.close();
  }
}

/** A new sparse raw image of `mib` MiB, and a new empty qcow2 image of the same size. */
function makeImages(dir: string, tag: string, mib: number): { raw: string; qcow2: string } {
  const raw = join(dir, `${tag}.img`);
  writeFileSync(raw, new Uint8Array(0));
  truncateSync(raw, mib * MIB);
  const qcow2 = join(dir, `${tag}.qcow2`);
  const file = createNodeFile(qcow2);
  try {
    createQcow2(file, { sizeBytes: mib * MIB });
  } finally {
    file.close();
  }
  return { raw, qcow2 };
}

/** A frame from `src` to `dst` (MAC numbers in the last byte), EtherType IPv4, zero payload. */
function baselineFrame(src: number, dst: number): Uint8Array {
  const frame = new Uint8Array(BASELINE_FRAME_BYTES);
  frame.set([0x52, 0x54, 0, 0x12, 0x34, dst, 0x52, 0x54, 0, 0x12, 0x34, src, 0x08, 0x00]);
  return frame;
}

/**
 * Host baseline: `mib` MiB of 1514-byte frames from a port of switch A to a port of switch B,
 * the two switches joined by socket channels over a Unix socket (the CLI's path between two
 * emulator processes), both ends in this process. Returns MB/s of frame bytes delivered.
 */
async function switchBaseline(dir: string, mib: number): Promise<number> {
  const path = join(dir, 'baseline.sock');
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(path, resolve));
  const accepted = new Promise<Socket>((resolve) => server.once('connection', resolve));
  const client = connect(path);
  await new Promise<void>((resolve) => client.once('connect', resolve));
  const serverSide = await accepted;
  const switchA = new VirtualSwitch({ name: 'a' });
  const switchB = new VirtualSwitch({ name: 'b' });
  switchA.attachChannel(socketChannel(client), 'to-b');
  switchB.attachChannel(socketChannel(serverSide), 'to-a');
  const portA = switchA.connect('a0');
  const portB = switchB.connect('b0');
  const frames = Math.ceil((mib * MIB) / BASELINE_FRAME_BYTES);
  try {
    // Teach both switches where the two MACs live, so the timed frames are forwarded, not flooded.
    const learned = new Promise<void>((resolve) => portA.onReceive(() => resolve()));
    portA.send(baselineFrame(1, 2));
    portB.send(baselineFrame(2, 1));
    await learned;
    let received = 0;
    const done = new Promise<void>((resolve) => portB.onReceive(() => {
      if (++received === frames) resolve();
    }));
    const frame = baselineFrame(1, 2);
    const t0 = performance.now();
    for (let sent = 0; sent < frames; sent += 64) {
      for (let k = sent; k < Math.min(frames, sent + 64); k++) portA.send(frame);
      await new Promise((resolve) => setImmediate(resolve));
    }
    await done;
    return mbps(frames * BASELINE_FRAME_BYTES, (performance.now() - t0) / 1000);
  } finally {
    client.destroy();
    serverSide.destroy();
    server.close();
  }
}

/** The disk rows: write then read N MiB on /dev/vda (raw) and /dev/vdb (qcow2) in vm1. */
async function diskRows(vm: ProcessConsole, dir: string, mib: number): Promise<VirtioRow[]> {
  const baselineImages = makeImages(dir, 'baseline', mib);
  const rows: VirtioRow[] = [];
  for (const [device, format, image] of [['vda', 'raw', baselineImages.raw], ['vdb', 'qcow2', baselineImages.qcow2]] as const) {
    const bytes = mib * MIB;
    const write = await timedCommand(vm, `dd if=/dev/zero of=/dev/${device} bs=1M count=${mib} oflag=direct`);
    checkCopied(write.answer, mib, `write /dev/${device}`);
    await vm.command('echo 3 > /proc/sys/vm/drop_caches', SHELL_PROMPT, COMMAND_TIMEOUT_MS);
    const read = await timedCommand(vm, `dd if=/dev/${device} of=/dev/null bs=1M count=${mib} iflag=direct`);
    checkCopied(read.answer, mib, `read /dev/${device}`);
    const host = backendBaseline(image, format, mib);
    const baseline = `our ${format} backend, 1 MiB calls, on the host`;
    rows.push({ what: `virtio-blk ${format}: sequential 1 MiB writes`, guestMBps: mbps(bytes, write.seconds), hostMBps: host.writeMBps, baseline });
    rows.push({ what: `virtio-blk ${format}: sequential 1 MiB reads`, guestMBps: mbps(bytes, read.seconds), hostMBps: host.readMBps, baseline });
  }
  return rows;
}

/** The network row: N MiB over one TCP stream from vm2 to vm1. */
async function networkRow(vm1: ProcessConsole, vm2: ProcessConsole, dir: string, mib: number): Promise<VirtioRow> {
  for (const [vm, ip] of [[vm1, IP1], [vm2, IP2]] as const) {
    const answer = await vm.command(`ip addr add ${ip}/24 dev eth0 && ip link set eth0 up && echo up-$((40+2))`, SHELL_PROMPT, COMMAND_TIMEOUT_MS);
    if (!/^up-42\r?$/m.test(answer)) throw new Error(`could not configure eth0:\n${answer}`);
  }
  const ping = await vm2.command(`ping -c 2 ${IP1}`, SHELL_PROMPT, COMMAND_TIMEOUT_MS);
  if (!/2 packets received/.test(ping)) throw new Error(`the guests cannot ping each other:\n${ping}`);
  vm1.type('nc -l -p 5000 > /dev/null; echo listener-done');
  const t0 = performance.now();
  await vm2.command(`for i in 1 2 3 4 5 6 7 8 9 10; do dd if=/dev/zero bs=1M count=${mib} | nc ${IP1} 5000 && break; sleep 1; done`,
    SHELL_PROMPT, TRANSFER_TIMEOUT_MS);
  const received = await vm1.waitFor('listener-done', TRANSFER_TIMEOUT_MS);
  const seconds = (performance.now() - t0) / 1000;
  await vm1.waitFor(SHELL_PROMPT, COMMAND_TIMEOUT_MS);
  if (/retry|refused/i.test(received)) throw new Error(`the transfer did not run cleanly:\n${received}`);
  const hostMBps = await switchBaseline(dir, mib);
  return {
    what: 'virtio-net: one TCP stream between two guests', guestMBps: mbps(mib * MIB, seconds), hostMBps,
    baseline: 'our two switches over a Unix-socket channel, on the host',
  };
}

/** Print the table. */
function printRows(rows: readonly VirtioRow[]): void {
  console.log(`Virtio in the Debian guest (disk rows ${DISK_MIB} MiB, network ${NET_MIB} MiB; guest MB/s over the host's wall time from command to prompt)`);
  console.log(`  ${'row'.padEnd(46)} ${'guest MB/s'.padStart(10)} ${'host MB/s'.padStart(10)} ${'guest/host'.padStart(10)}  baseline`);
  for (const row of rows) {
    console.log(`  ${row.what.padEnd(46)} ${row.guestMBps.toFixed(1).padStart(10)} ${row.hostMBps.toFixed(0).padStart(10)} ${(row.guestMBps / row.hostMBps).toFixed(4).padStart(10)}  ${row.baseline}`);
  }
}

/** How the virtio section ended. */
export type VirtioBenchOutcome = 'measured' | 'skipped' | 'failed';

/**
 * Runs the virtio section: 'skipped' when the Debian guest is not cached, 'failed' when a step
 * failed or the host finds the guest's qcow2 damaged (the reason is printed).
 */
export async function runVirtioBench(): Promise<VirtioBenchOutcome> {
  const guest = findDebianGuest();
  if (!isDebianGuestFound(guest)) {
    console.log(`Virtio in the Debian guest: skipped (${guest.skipped}; \`npm run guests:debian\` fetches it)`);
    return 'skipped';
  }
  const dir = mkdtempSync(join(tmpdir(), 'tshv-virtio-bench-'));
  const root = findPackageRoot();
  const cli = join(root, 'dist/src/cli/main.js');
  const images = makeImages(dir, 'guest', DISK_MIB);
  const socket = join(dir, 'net.sock');
  const vm1 = new ProcessConsole(cli, [
    '--guest', 'debian', '-no-reboot', '--clock=realtime',
    '--disk', `${images.raw},format=raw`, '--disk', `${images.qcow2},format=qcow2`,
    '--net-listen', socket, '--mac', MAC1,
  ], root);
  let vm2: ProcessConsole | undefined;
  try {
    const deadline = performance.now() + 60_000;
    while (!existsSync(socket) && performance.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 100));
    vm2 = new ProcessConsole(cli, ['--guest', 'debian', '-no-reboot', '--clock=realtime', '--net-connect', socket, '--mac', MAC2], root);
    await Promise.all([boot(vm1), boot(vm2)]);
    const rows = [...await diskRows(vm1, dir, DISK_MIB), await networkRow(vm1, vm2, dir, NET_MIB)];
    printRows(rows);
    const check = spawnSync('qemu-img', ['check', '-f', 'qcow2', images.qcow2], { encoding: 'utf8' });
    if (!check.error) console.log(`  qemu-img check of the guest's qcow2 after the writes: ${check.status === 0 ? 'no errors' : `status ${check.status}\n${check.stdout}${check.stderr}`}`);
    return check.error !== undefined || check.status === 0 ? 'measured' : 'failed';
  } catch (error) {
    console.log(`Virtio in the Debian guest: FAILED: ${(error as Error).message}`);
    return 'failed';
  } finally {
    vm1.kill();
    vm2?.kill();
    rmSync(dir, { recursive: true, force: true });
  }
}
