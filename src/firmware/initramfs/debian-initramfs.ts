/**
 * Our initramfs for Debian's stock i386 kernel: a static busybox and our own /init
 * script, packed as a newc cpio archive (see cpio.ts) and optionally gzipped (gzip.ts).
 * The kernel unpacks it into rootfs and runs /init as PID 1
 * (Documentation/driver-api/early-userspace/buffer-format.rst, and
 * Documentation/filesystems/ramfs-rootfs-initramfs.rst for the /init and /dev/console
 * conventions).
 *
 * Contents (all owned by root, mtime 0, so the archive is byte-for-byte reproducible):
 *   /bin /sbin /usr /usr/bin /usr/sbin /dev /proc /sys /tmp /root /etc /mnt   directories
 *   /bin/busybox   the static i386 busybox given by the caller (mode 0755)
 *   /init          INIT_SCRIPT (mode 0755)
 *   /dev/console   char 5,1 — the kernel opens it as PID 1's stdin/stdout/stderr before
 *                  /init runs, so it must exist in the archive (devtmpfs comes later)
 *   /dev/ttyS0     char 4,64 — the first 8250 UART
 *   /etc/hostname  the host name
 *   /etc/tshv-modules  MODULE_LIST_PATH: the kernel modules /init loads, one "name path"
 *                  line each in load order (empty when the caller gives none)
 *   /lib/modules/<release>/...  the module files themselves (`modules`), e.g. Debian's
 *                  virtio and ext4 modules chosen by kernel-modules.ts
 * plus any `extraFiles`; missing parent directories are added.
 * There is no /etc/passwd: the shell runs as root directly, no login.
 */
import { type CpioEntry, writeCpio, withParentDirectories } from './cpio.js';
import type { GzipFunction } from './gzip.js';

/** The line /init prints once the system is ready, just before the shell starts. */
export const READY_MARKER = '== tshv initramfs ready ==';

/**
 * The shell prompt: PS1 is the literal '~ # ' (tilde, space, hash, space). It is fixed —
 * it does not follow the working directory — so a harness can match it exactly.
 */
export const SHELL_PROMPT = '~ # ';

/** The line /init prints after the shell exited, just before `poweroff -f`. */
export const SHELL_EXIT_MARKER = '== tshv shell exited, powering off ==';

/**
 * Start of the summary line /init prints after loading the modules:
 * "== tshv modules: <n> loaded, <m> failed ==" (always printed, also for an empty list).
 */
export const MODULES_MARKER = '== tshv modules:';

/** Where the archive lists the modules /init loads ("<name> <absolute path>" per line). */
export const MODULE_LIST_PATH = '/etc/tshv-modules';

/** Host name set by /init (and written to /etc/hostname) unless the caller gives one. */
export const DEFAULT_HOSTNAME = 'tshv';

/**
 * Produce the /init script for `hostname`. It runs under busybox ash as PID 1:
 *  1. mounts proc, sysfs and devtmpfs (Debian's kernel has DEVTMPFS but not
 *     DEVTMPFS_MOUNT, which would not apply to an initramfs anyway);
 *  2. installs busybox's applet symlinks into /bin, /sbin, /usr/bin, /usr/sbin;
 *  3. sets the host name, HOME=/root, PATH, TERM and PS1 (see SHELL_PROMPT);
 *  4. loads the modules listed in MODULE_LIST_PATH with busybox `insmod`, in order,
 *     printing "tshv: insmod <name>: ok" or "tshv: insmod <name>: FAILED: <message>" for
 *     each (a failure does not stop the boot), then the MODULES_MARKER summary line;
 *  5. prints READY_MARKER;
 *  6. runs `setsid cttyhack sh`: setsid makes a new session and cttyhack reopens the real
 *     console device (/dev/ttyS0 with console=ttyS0) as the controlling terminal, so the
 *     shell has job control (a plain `sh` on /dev/console cannot: /dev/console is never
 *     a controlling tty, and ash prints "can't access tty; job control turned off");
 *  7. when that shell exits, prints SHELL_EXIT_MARKER and powers off (PID 1 must never
 *     exit: the kernel would panic).
 * Kept as a template string (not an init.sh file) because tsc copies only .ts output to
 * dist/, and the builder must find the script in a compiled build too.
 */
export function initScript(hostname: string = DEFAULT_HOSTNAME): string {
  checkHostname(hostname);
  return `#!/bin/busybox sh
# /init of the tshv initramfs: PID 1, run by the kernel after unpacking this archive.
/bin/busybox mount -t proc proc /proc
/bin/busybox mount -t sysfs sysfs /sys
/bin/busybox mount -t devtmpfs devtmpfs /dev
/bin/busybox --install -s
export PATH=/bin:/sbin:/usr/bin:/usr/sbin
export HOME=/root
export TERM=vt100
export PS1='${SHELL_PROMPT}'
hostname ${hostname}
loaded=0
failed=0
if [ -f ${MODULE_LIST_PATH} ]; then
  while read -r name path; do
    [ -n "$name" ] || continue
    if result=$(insmod "$path" 2>&1); then
      echo "tshv: insmod $name: ok"
      loaded=$((loaded + 1))
    else
      echo "tshv: insmod $name: FAILED: $result"
      failed=$((failed + 1))
    fi
  done < ${MODULE_LIST_PATH}
fi
echo "${MODULES_MARKER} $loaded loaded, $failed failed =="
cd /root
echo
echo '${READY_MARKER}'
setsid cttyhack sh
echo '${SHELL_EXIT_MARKER}'
poweroff -f
`;
}

/** Reject host names the script could not quote safely (RFC 1123 label characters only). */
function checkHostname(hostname: string): void {
  if (!/^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/.test(hostname)) {
    throw new Error(`initramfs hostname ${JSON.stringify(hostname)} is not a valid host name (letters, digits, '-', 1..63 chars)`);
  }
}

/** A kernel module to put into the archive and load from /init. */
export interface InitramfsModule {
  /** Module name as printed by /init (e.g. "virtio_pci"). */
  readonly name: string;
  /** Absolute archive path, e.g. "/lib/modules/6.1.0-50-686/kernel/drivers/virtio/virtio_pci.ko". */
  readonly path: string;
  /** The .ko file. */
  readonly data: Uint8Array;
}

/** Inputs of the Debian initramfs. */
export interface DebianInitramfsOptions {
  /** The static i386 busybox binary (Debian's busybox-static:i386 /bin/busybox). */
  readonly busybox: Uint8Array;
  /** Host name; DEFAULT_HOSTNAME when omitted. */
  readonly hostname?: string;
  /** Kernel modules, in load order (dependencies first); none when omitted. */
  readonly modules?: readonly InitramfsModule[];
  /** Further members, appended after ours; parents are added as needed. */
  readonly extraFiles?: readonly CpioEntry[];
}

/** Directories created in the archive, parents first. */
export const INITRAMFS_DIRECTORIES: readonly string[] = [
  '/bin', '/sbin', '/usr', '/usr/bin', '/usr/sbin', '/dev', '/proc', '/sys', '/tmp', '/root', '/etc', '/mnt',
];

/** The members of our initramfs, in archive order. Throws if busybox is missing. */
export function debianInitramfsEntries(options: DebianInitramfsOptions): CpioEntry[] {
  if (!(options.busybox instanceof Uint8Array) || options.busybox.length === 0) {
    throw new Error('initramfs: the busybox binary is missing or empty');
  }
  const hostname = options.hostname ?? DEFAULT_HOSTNAME;
  const modules = options.modules ?? [];
  const text = new TextEncoder();
  const base: CpioEntry[] = [
    ...INITRAMFS_DIRECTORIES.map((path): CpioEntry => ({ kind: 'dir', path, perm: path === '/tmp' ? 0o1777 : 0o755 })),
    { kind: 'file', path: '/bin/busybox', perm: 0o755, data: options.busybox },
    { kind: 'file', path: '/init', perm: 0o755, data: text.encode(initScript(hostname)) },
    { kind: 'char', path: '/dev/console', perm: 0o600, major: 5, minor: 1 },
    { kind: 'char', path: '/dev/ttyS0', perm: 0o660, major: 4, minor: 64 },
    { kind: 'file', path: '/etc/hostname', perm: 0o644, data: text.encode(`${hostname}\n`) },
    { kind: 'file', path: MODULE_LIST_PATH, perm: 0o644, data: text.encode(moduleListText(modules)) },
    ...modules.map((module): CpioEntry => ({ kind: 'file', path: module.path, perm: 0o644, data: module.data })),
  ];
  return withParentDirectories([...base, ...(options.extraFiles ?? [])]);
}

/**
 * The MODULE_LIST_PATH file for `modules`: one "<name> <path>" line each, in order.
 * Throws for a name or path the /init loop could not read back (whitespace, or a path
 * outside /lib/modules/).
 */
export function moduleListText(modules: readonly InitramfsModule[]): string {
  return modules.map((module) => {
    if (!/^[A-Za-z0-9_-]+$/.test(module.name)) throw new Error(`initramfs module name ${JSON.stringify(module.name)} is not a module name`);
    if (!/^\/lib\/modules\/[^\s]+\.ko$/.test(module.path)) {
      throw new Error(`initramfs module ${module.name}: path ${JSON.stringify(module.path)} is not a .ko file under /lib/modules/ without spaces`);
    }
    return `${module.name} ${module.path}\n`;
  }).join('');
}

/** Our initramfs as an uncompressed newc archive (deterministic bytes). */
export function buildDebianInitramfs(options: DebianInitramfsOptions): Uint8Array {
  return writeCpio(debianInitramfsEntries(options));
}

/** Our initramfs gzipped with `gzip` (gzipNode in Node, a CompressionStream wrapper in a browser). */
export async function buildDebianInitramfsGz(options: DebianInitramfsOptions, gzip: GzipFunction): Promise<Uint8Array> {
  return gzip(buildDebianInitramfs(options));
}
