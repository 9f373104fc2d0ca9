/**
 * End to end: Debian's stock i386 kernel on our PC with virtio devices on PCI, driven by
 * Debian's own modules (virtio_pci, virtio_blk, virtio_net, virtio_console, ext4) that our
 * initramfs loads at boot. Two emulator processes run the dist CLI in parallel:
 *   vm1: --disk a qcow2 image (/dev/vda) and a raw image (/dev/vdb), both with an ext2
 *        file system made on the host, and a virtio-net NIC that listens on a unix socket;
 *   vm2: a NIC that connects to vm1's socket (the two NICs share one switch).
 * The guests list their PCI devices, write a line to /dev/hvc0 (the CLI echoes hvc0 on
 * stdout as "[hvc0] <line>"), ping each other and copy 8 MiB over TCP with busybox nc
 * (md5 on both ends), mount the disks, check a file the host put there, write files of
 * their own and print their md5, unmount, check that dmesg has no error or warning about
 * these devices, and power off. Then the host checks the images
 * with its own tools: `qemu-img check` on the qcow2, `e2fsck -f -n` on both file systems,
 * and `debugfs -R "dump ..."` to pull the guest's files out and compare their md5.
 *
 * Host tools: qemu-img (qemu-utils), mke2fs, debugfs and e2fsck (e2fsprogs); the test
 * fails naming a missing one (test/setup-tools.mjs installs them). The guest cache is the
 * one of test/boot/debian.test.ts: skipped with the printed reason only when it cannot be
 * fetched and CI is not "true".
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findPackageRoot } from '../../src/cli/run.js';
import { findDebianGuest, isDebianGuestFound } from '../../src/cli/debian-guest.js';
import { MODULES_MARKER, READY_MARKER, SHELL_PROMPT } from '../../src/firmware/initramfs/debian-initramfs.js';
import { ProcessConsole } from '../helpers/process-console.js';

const lookup = findDebianGuest();
const available = isDebianGuestFound(lookup);
const mustRun = process.env.CI === 'true';
if (!available) console.log(`virtio Debian test skipped: ${lookup.skipped}`);

/** Wall-clock limits: a Debian boot takes 2.5-4 minutes here, two run at once. */
const BOOT_TIMEOUT_MS = 12 * 60_000;
const COMMAND_TIMEOUT_MS = 60_000;
const TRANSFER_TIMEOUT_MS = 10 * 60_000;
const HOST_TOOL_TIMEOUT_MS = 60_000;
const MIB = 1024 * 1024;
/** Sizes of the two disk images. */
const QCOW2_DISK_BYTES = 64 * MIB;
const RAW_DISK_BYTES = 32 * MIB;
/** The two NICs' MAC addresses and IPv4 addresses. */
const MAC1 = '52:54:00:12:34:01';
const MAC2 = '52:54:00:12:34:02';
const IP1 = '10.0.0.1';
const IP2 = '10.0.0.2';
/** The file the host puts on each disk before boot, and its contents. */
const HOST_FILE = 'from-host.txt';
const HOST_TEXT = 'put here by the host with debugfs before the guest booted\n';
/** MiB of random data the guest writes to each disk, and sends over TCP. */
const DISK_RANDOM_MIB = 4;
const NET_RANDOM_MIB = 8;

/** dmesg words that mark a line as about our virtio devices (case-insensitive). */
const DEVICE_WORDS = 'virtio|vd[ab]|ext[24]|hvc|eth0|1af4';
/** What counts as trouble in such a line (the words of test/boot/debian.test.ts). */
const TROUBLE_WORDS = 'error|warn|fail|fatal|unable|bug|broken|unstable';

/**
 * What a guest command prints on success: the shell computes it, so the echoed command line
 * (which holds `echo ok-$((40+2))`, not the result) can never be mistaken for it.
 */
const OK = 'echo ok-$((40+2))';
const OK_LINE = /^ok-42\r?$/m;

/** Host tools the test needs: command and the package that has it. */
const HOST_TOOLS: ReadonlyArray<readonly [string, string]> = [
  ['qemu-img', 'qemu-utils'], ['mke2fs', 'e2fsprogs'], ['debugfs', 'e2fsprogs'], ['e2fsck', 'e2fsprogs'],
];

/** Result of a host command. */
interface HostRun {
  readonly status: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Run a host command; throws when it cannot be started. */
function host(command: string, args: readonly string[]): HostRun {
  const run = spawnSync(command, args, { encoding: 'utf8', timeout: HOST_TOOL_TIMEOUT_MS, maxBuffer: 16 * MIB });
  if (run.error) throw new Error(`could not run ${command}: ${run.error.message}`);
  return { status: run.status, stdout: run.stdout, stderr: run.stderr };
}

/** Run a host command that must succeed; throws with its output otherwise. */
function hostOk(command: string, args: readonly string[]): HostRun {
  const run = host(command, args);
  if (run.status !== 0) throw new Error(`\`${[command, ...args].join(' ')}\` failed with status ${run.status}:\n${run.stdout}\n${run.stderr}`);
  return run;
}

/** A zero-filled sparse file of `bytes` with an ext2 file system holding HOST_FILE. */
function makeExt2Image(path: string, bytes: number, label: string, hostFile: string): void {
  writeFileSync(path, new Uint8Array(0));
  truncateSync(path, bytes);
  hostOk('mke2fs', ['-q', '-F', '-t', 'ext2', '-L', label, path]);
  hostOk('debugfs', ['-w', '-R', `write ${hostFile} ${HOST_FILE}`, path]);
}

/** Copy /`name` out of the ext2 image `image` into `out` with debugfs; returns the bytes. */
function dumpFile(image: string, name: string, out: string): Buffer {
  rmSync(out, { force: true });
  hostOk('debugfs', ['-R', `dump /${name} ${out}`, image]);
  if (!existsSync(out)) throw new Error(`debugfs did not dump /${name} from ${image}`);
  return readFileSync(out);
}

/** Lowercase hex MD5. */
function md5(data: Uint8Array): string {
  return createHash('md5').update(data).digest('hex');
}

/** The md5sum lines of a guest's answer: file → hash. */
function parseMd5sum(answer: string): Map<string, string> {
  const sums = new Map<string, string>();
  for (const line of answer.split('\n')) {
    const match = /^([0-9a-f]{32})\s+(\S+)$/.exec(line.trim());
    if (match) sums.set(match[2]!, match[1]!);
  }
  return sums;
}

/** Resolve once `text` appears anywhere in the output (polling; ProcessConsole waits are cursor-based). */
async function waitForAnywhere(vm: ProcessConsole, text: string, timeoutMs: number): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!vm.output.includes(text)) {
    if (performance.now() > deadline) throw new Error(`"${text}" did not appear within ${timeoutMs} ms; last output:\n${vm.tail()}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/**
 * Wait for the boot to finish (the module summary, the ready marker, the prompt); returns
 * the console output up to the end of the module summary line.
 */
async function boot(vm: ProcessConsole): Promise<string> {
  await vm.waitFor(MODULES_MARKER, BOOT_TIMEOUT_MS);
  await vm.waitFor(READY_MARKER, COMMAND_TIMEOUT_MS);
  await vm.waitFor(SHELL_PROMPT, COMMAND_TIMEOUT_MS);
  const output = vm.output;
  return output.slice(0, output.indexOf('\n', output.indexOf(MODULES_MARKER)));
}

/** The 0xNNNN values a `cat` of sysfs ID files printed, in order. */
function sysfsIds(answer: string): string[] {
  return [...answer.matchAll(/^0x([0-9a-f]{4})\r?$/gm)].map((m) => m[1]!);
}

/**
 * "vendor:device" (lowercase hex, no 0x) of each PCI function the guest sees, sorted.
 * (Short commands: the serial terminal wraps an echoed line at 80 columns.)
 */
async function pciIds(vm: ProcessConsole): Promise<string[]> {
  await vm.command('cd /sys/bus/pci/devices', SHELL_PROMPT, COMMAND_TIMEOUT_MS);
  const count = Number((await vm.command('ls | wc -l', SHELL_PROMPT, COMMAND_TIMEOUT_MS)).trim());
  const vendors = sysfsIds(await vm.command('cat */vendor', SHELL_PROMPT, COMMAND_TIMEOUT_MS));
  const devices = sysfsIds(await vm.command('cat */device', SHELL_PROMPT, COMMAND_TIMEOUT_MS));
  await vm.command('cd', SHELL_PROMPT, COMMAND_TIMEOUT_MS);
  expect(vendors.length).toBe(count);
  expect(devices.length).toBe(count);
  return vendors.map((vendor, i) => `${vendor}:${devices[i]}`).sort();
}

/** How many times `id` occurs in `ids`. */
const countOf = (ids: readonly string[], id: string): number => ids.filter((x) => x === id).length;

describe.skipIf(!available && !mustRun)('virtio devices in the Debian guest: disks, network, console', () => {
  let dir: string;
  let vm1: ProcessConsole;
  let vm2: ProcessConsole;
  let qcow2: string;
  let raw: string;
  /** md5 the guest printed for each file it wrote, by guest path. */
  const guestSums = new Map<string, string>();

  beforeAll(async () => {
    if (!isDebianGuestFound(lookup)) throw new Error(`CI=true but the Debian guest is not available: ${lookup.skipped}`);
    for (const [tool, pkg] of HOST_TOOLS) {
      if (spawnSync(tool, ['-V']).error && spawnSync(tool, ['--version']).error) {
        throw new Error(`host tool ${tool} is missing (install the ${pkg} package; test/setup-tools.mjs does)`);
      }
    }
    dir = mkdtempSync(join(tmpdir(), 'tshv-virtio-'));
    const hostFile = join(dir, HOST_FILE);
    writeFileSync(hostFile, HOST_TEXT);
    // mke2fs cannot write into a qcow2: make the file system in a raw file, then convert.
    const qcow2Source = join(dir, 'qcow2-source.img');
    makeExt2Image(qcow2Source, QCOW2_DISK_BYTES, 'tshvqcow2', hostFile);
    qcow2 = join(dir, 'disk.qcow2');
    hostOk('qemu-img', ['convert', '-f', 'raw', '-O', 'qcow2', qcow2Source, qcow2]);
    rmSync(qcow2Source);
    raw = join(dir, 'disk.img');
    makeExt2Image(raw, RAW_DISK_BYTES, 'tshvraw', hostFile);

    // --clock=realtime: the two guests talk to each other, so both must keep wall time (the
    // deterministic clock skips an idle guest's time ahead at once, and a ping or a TCP
    // timer would expire before the other process had even run).
    const root = findPackageRoot();
    const cli = join(root, 'dist/src/cli/main.js');
    const socket = join(dir, 'net.sock');
    vm1 = new ProcessConsole(cli, [
      '--guest', 'debian', '-no-reboot', '--clock=realtime',
      '--disk', `${qcow2},format=qcow2`, '--disk', `${raw},format=raw`,
      '--net-listen', socket, '--mac', MAC1,
    ], root);
    // Let the listening side create its socket before the other side connects.
    const deadline = performance.now() + 60_000;
    while (!existsSync(socket) && performance.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 100));
    vm2 = new ProcessConsole(cli, ['--guest', 'debian', '-no-reboot', '--clock=realtime', '--net-connect', socket, '--mac', MAC2], root);
  }, 2 * 60_000);

  afterAll(() => {
    vm1?.kill();
    vm2?.kill();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('both guests boot, and every kernel module loads', async () => {
    const [log1, log2] = await Promise.all([boot(vm1), boot(vm2)]);
    for (const log of [log1, log2]) {
      expect(log).toMatch(new RegExp(`${MODULES_MARKER} [1-9]\\d* loaded, 0 failed ==`));
      expect(log).not.toContain('FAILED');
    }
    expect(log1).toContain('tshv: insmod virtio_pci: ok');
    expect(log1).toContain('tshv: insmod ext4: ok');
    const drivers = await vm1.command('ls /sys/bus/virtio/drivers', SHELL_PROMPT, COMMAND_TIMEOUT_MS);
    expect(drivers.split(/\s+/).filter(Boolean).sort()).toEqual(expect.arrayContaining(['virtio_blk', 'virtio_console', 'virtio_net']));
  }, BOOT_TIMEOUT_MS + 3 * COMMAND_TIMEOUT_MS);

  it('lspci by hand: host bridge, ISA bridge, two virtio-blk, one virtio-net, one virtio-console', async () => {
    const ids1 = await pciIds(vm1);
    const ids2 = await pciIds(vm2);
    console.log(`vm1 PCI functions: ${ids1.join(' ')}\nvm2 PCI functions: ${ids2.join(' ')}`);
    for (const ids of [ids1, ids2]) {
      expect(countOf(ids, '8086:1237')).toBe(1); // 82441FX host bridge
      expect(countOf(ids, '8086:7000')).toBe(1); // PIIX3 PCI-to-ISA bridge
      expect(countOf(ids, '1af4:1000')).toBe(1); // virtio network (transitional ID)
      expect(countOf(ids, '1af4:1003')).toBe(1); // virtio console (transitional ID)
    }
    expect(countOf(ids1, '1af4:1001')).toBe(2); // virtio block x2 (transitional ID)
    expect(countOf(ids2, '1af4:1001')).toBe(0);
  }, 10 * COMMAND_TIMEOUT_MS);

  it('the disks appear as /dev/vda (qcow2) and /dev/vdb (raw) with the image sizes', async () => {
    const sizes = await vm1.command('cat /sys/block/vda/size /sys/block/vdb/size', SHELL_PROMPT, COMMAND_TIMEOUT_MS);
    expect(sizes.trim().split(/\s+/).map(Number)).toEqual([QCOW2_DISK_BYTES / 512, RAW_DISK_BYTES / 512]);
  }, COMMAND_TIMEOUT_MS);

  it('a line written to /dev/hvc0 comes out on the host prefixed with "[hvc0] "', async () => {
    await vm1.command('echo hello-from-hvc0 > /dev/hvc0', SHELL_PROMPT, COMMAND_TIMEOUT_MS);
    await waitForAnywhere(vm1, '[hvc0] hello-from-hvc0', COMMAND_TIMEOUT_MS);
  }, 2 * COMMAND_TIMEOUT_MS);

  it('the NICs have their MAC addresses, come up and ping each other', async () => {
    expect((await vm1.command('cat /sys/class/net/eth0/address', SHELL_PROMPT, COMMAND_TIMEOUT_MS)).trim()).toBe(MAC1);
    expect((await vm2.command('cat /sys/class/net/eth0/address', SHELL_PROMPT, COMMAND_TIMEOUT_MS)).trim()).toBe(MAC2);
    for (const [vm, ip] of [[vm1, IP1], [vm2, IP2]] as const) {
      const answer = await vm.command(`ip addr add ${ip}/24 dev eth0 && ip link set eth0 up && ${OK}`, SHELL_PROMPT, COMMAND_TIMEOUT_MS);
      expect(answer).toMatch(OK_LINE);
    }
    const [ping1, ping2] = await Promise.all([
      vm1.command(`ping -c 3 ${IP2}`, SHELL_PROMPT, COMMAND_TIMEOUT_MS),
      vm2.command(`ping -c 3 ${IP1}`, SHELL_PROMPT, COMMAND_TIMEOUT_MS),
    ]);
    expect(ping1).toMatch(/3 packets transmitted, 3 packets received, 0% packet loss/);
    expect(ping2).toMatch(/3 packets transmitted, 3 packets received, 0% packet loss/);
  }, 5 * COMMAND_TIMEOUT_MS);

  it(`${NET_RANDOM_MIB} MiB over TCP with busybox nc arrive intact`, async () => {
    const made = await vm2.command(`dd if=/dev/urandom of=/tmp/s bs=1M count=${NET_RANDOM_MIB} 2>/dev/null; md5sum /tmp/s`,
      SHELL_PROMPT, TRANSFER_TIMEOUT_MS);
    const sent = parseMd5sum(made).get('/tmp/s');
    expect(sent).toMatch(/^[0-9a-f]{32}$/);
    // The listener runs in the foreground (its stdin must stay open: busybox nc stops at
    // EOF on stdin); the sender retries until the listener is up.
    vm1.type('nc -l -p 5000 > /tmp/r');
    await vm2.command(`for i in 1 2 3 4 5 6 7 8 9 10; do nc ${IP1} 5000 < /tmp/s && break; sleep 1; done`,
      SHELL_PROMPT, TRANSFER_TIMEOUT_MS);
    await vm1.waitFor(SHELL_PROMPT, TRANSFER_TIMEOUT_MS);
    const received = await vm1.command('md5sum /tmp/r; wc -c < /tmp/r', SHELL_PROMPT, COMMAND_TIMEOUT_MS);
    expect(received).toMatch(new RegExp(`^${NET_RANDOM_MIB * MIB}\\r?$`, 'm'));
    expect(parseMd5sum(received).get('/tmp/r')).toBe(sent);
  }, 3 * TRANSFER_TIMEOUT_MS);

  it('the guest mounts both ext2 disks, reads the host\'s file and writes its own', async () => {
    for (const disk of ['vda', 'vdb']) {
      const mount = await vm1.command(`mkdir -p /mnt/${disk} && mount -t ext2 /dev/${disk} /mnt/${disk} && ${OK}`,
        SHELL_PROMPT, COMMAND_TIMEOUT_MS);
      expect(mount).toMatch(OK_LINE);
      expect(await vm1.command(`cat /mnt/${disk}/${HOST_FILE}`, SHELL_PROMPT, COMMAND_TIMEOUT_MS)).toBe(HOST_TEXT);
      await vm1.command(`dd if=/dev/urandom of=/mnt/${disk}/random.bin bs=1M count=${DISK_RANDOM_MIB} 2>/dev/null`,
        SHELL_PROMPT, TRANSFER_TIMEOUT_MS);
      await vm1.command(`echo "written by the guest on /dev/${disk}" > /mnt/${disk}/note.txt`, SHELL_PROMPT, COMMAND_TIMEOUT_MS);
      const sums = parseMd5sum(await vm1.command(`md5sum /mnt/${disk}/random.bin /mnt/${disk}/note.txt`, SHELL_PROMPT, COMMAND_TIMEOUT_MS));
      for (const name of ['random.bin', 'note.txt']) {
        const sum = sums.get(`/mnt/${disk}/${name}`);
        expect(sum, `md5sum of /mnt/${disk}/${name}`).toMatch(/^[0-9a-f]{32}$/);
        guestSums.set(`${disk}/${name}`, sum!);
      }
      expect(sums.get(`/mnt/${disk}/note.txt`)).toBe(md5(Buffer.from(`written by the guest on /dev/${disk}\n`)));
    }
    await vm1.command('sync', SHELL_PROMPT, TRANSFER_TIMEOUT_MS);
    const umount = await vm1.command(`umount /mnt/vda && umount /mnt/vdb && ${OK}`, SHELL_PROMPT, TRANSFER_TIMEOUT_MS);
    expect(umount).toMatch(OK_LINE);
  }, 2 * TRANSFER_TIMEOUT_MS);

  it('the kernel logged no error or warning about the virtio devices, the disks or the NIC', async () => {
    for (const vm of [vm1, vm2]) {
      await vm.command(`D='${DEVICE_WORDS}'`, SHELL_PROMPT, COMMAND_TIMEOUT_MS);
      await vm.command(`T='${TROUBLE_WORDS}'`, SHELL_PROMPT, COMMAND_TIMEOUT_MS);
      const lines = (await vm.command('dmesg | grep -i -E "$D" | grep -i -E "$T"', SHELL_PROMPT, COMMAND_TIMEOUT_MS))
        .split('\n').filter((l) => l.trim() !== '');
      expect(lines).toEqual([]);
    }
  }, 6 * COMMAND_TIMEOUT_MS);

  it('poweroff -f ends both emulators with status 0', async () => {
    vm1.type('poweroff -f');
    vm2.type('poweroff -f');
    const [end1, end2] = await Promise.all([vm1.waitForExit(COMMAND_TIMEOUT_MS), vm2.waitForExit(COMMAND_TIMEOUT_MS)]);
    expect(end1).toEqual({ status: 0, signal: null });
    expect(end2).toEqual({ status: 0, signal: null });
  }, 2 * COMMAND_TIMEOUT_MS);

  it('the host finds a clean qcow2 and the guest\'s files on it, byte for byte', () => {
    const check = host('qemu-img', ['check', '-f', 'qcow2', qcow2]);
    expect(check.status, `${check.stdout}${check.stderr}`).toBe(0);
    expect(check.stdout).toContain('No errors were found on the image.');
    const flat = join(dir, 'disk-qcow2-flat.img');
    hostOk('qemu-img', ['convert', '-f', 'qcow2', '-O', 'raw', qcow2, flat]);
    const fsck = host('e2fsck', ['-f', '-n', flat]);
    expect(fsck.status, `${fsck.stdout}${fsck.stderr}`).toBe(0);
    for (const name of ['random.bin', 'note.txt']) {
      const data = dumpFile(flat, name, join(dir, `vda-${name}`));
      if (name === 'random.bin') expect(data.length).toBe(DISK_RANDOM_MIB * MIB);
      expect(md5(data)).toBe(guestSums.get(`vda/${name}`));
    }
  }, 3 * HOST_TOOL_TIMEOUT_MS);

  it('the host finds a clean raw image and the guest\'s files on it, byte for byte', () => {
    const fsck = host('e2fsck', ['-f', '-n', raw]);
    expect(fsck.status, `${fsck.stdout}${fsck.stderr}`).toBe(0);
    for (const name of ['random.bin', 'note.txt']) {
      const data = dumpFile(raw, name, join(dir, `vdb-${name}`));
      if (name === 'random.bin') expect(data.length).toBe(DISK_RANDOM_MIB * MIB);
      expect(md5(data)).toBe(guestSums.get(`vdb/${name}`));
    }
  }, 2 * HOST_TOOL_TIMEOUT_MS);
});
