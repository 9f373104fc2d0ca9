/**
 * The host side of the CLI's virtio devices: disk image files opened as block backends
 * (`--disk`), the NIC's switch joined to a peer process over a Unix-domain socket
 * (`--net-listen` / `--net-connect`), and the virtio console echoed to stdout as
 * "[hvc0] ..." lines. Everything opened here is closed by `close()`.
 */
import { createServer, connect, type Server, type Socket } from 'node:net';
import { rmSync } from 'node:fs';
import type { PciDevicesConfig, VirtioDiskConfig } from '../machine/pci-board.js';
import { VirtualSwitch } from '../net/switch.js';
import type { NetworkPort } from '../net/network-port.js';
import { openImage } from '../storage/open-image.js';
import type { BlockBackend } from '../storage/block-backend.js';
import { socketChannel } from '../transport/socket-channel.js';
import type { CliConfig, NetOption } from './args.js';

/** How long `--net-connect` keeps retrying while the peer has not created its socket yet. */
export const NET_CONNECT_TIMEOUT_MS = 120_000;
const NET_CONNECT_RETRY_MS = 250;

/** The opened host resources behind a VM's virtio devices. */
export class VirtioHost {
  readonly devices: PciDevicesConfig;
  private readonly disks: BlockBackend[] = [];
  private readonly switch: VirtualSwitch | null = null;
  private server: Server | null = null;
  private socket: Socket | null = null;
  private retryTimer: ReturnType<typeof setTimeout> | null = null;
  private consoleLine = '';
  private closed = false;

  /**
   * Opens the disks of `config` (throws StorageError naming the image on a bad one, after
   * closing those already opened) and sets up the NIC and console. `stdout` receives the
   * console lines; `log` connection news and errors; `wake` is called when a frame arrives
   * (so an idle realtime run loop looks at the guest again).
   */
  constructor(config: CliConfig, private readonly stdout: (text: string) => void, private readonly log: (text: string) => void, wake: () => void) {
    const disks: VirtioDiskConfig[] = [];
    try {
      for (const disk of config.disks) {
        const backend = openImage(disk.file, { readOnly: disk.readOnly, format: disk.format });
        this.disks.push(backend);
        disks.push({ backend, serial: `vd${String.fromCharCode(0x61 + disks.length)}` });
      }
    } catch (error) {
      this.close();
      throw error;
    }
    let nics: PciDevicesConfig['nics'] = [];
    if (config.net !== undefined) {
      this.switch = new VirtualSwitch({ name: 'switch0', log });
      const port: NetworkPort = this.switch.connect('vm0');
      const guestPort = wakingPort(port, wake);
      nics = [{ port: guestPort, mac: Uint8Array.from(config.net.mac) }];
      this.joinPeer(config.net);
    }
    this.devices = {
      disks,
      nics,
      ...(config.virtioConsole ? { console: { onOutput: (bytes: Uint8Array) => this.consoleOutput(bytes) } } : {}),
    };
  }

  /** Listen on or connect to the peer's socket; the uplink joins the switch once connected. */
  private joinPeer(net: NetOption): void {
    if (net.mode === 'listen') {
      rmSync(net.socketPath, { force: true });
      this.server = createServer((socket) => {
        if (this.socket !== null) {
          this.log(`net: refusing a second peer on ${net.socketPath}`);
          socket.destroy();
          return;
        }
        this.attach(socket, net.socketPath);
      });
      this.server.on('error', (error) => this.log(`net: cannot listen on ${net.socketPath}: ${error.message}`));
      this.server.listen(net.socketPath);
      return;
    }
    const deadline = Date.now() + NET_CONNECT_TIMEOUT_MS;
    const attempt = (): void => {
      if (this.closed) return;
      const socket = connect(net.socketPath);
      socket.once('connect', () => this.attach(socket, net.socketPath));
      socket.once('error', (error) => {
        socket.destroy();
        if (this.socket === socket || this.closed) return;
        if (Date.now() > deadline) {
          this.log(`net: cannot connect to ${net.socketPath}: ${error.message}`);
          return;
        }
        this.retryTimer = setTimeout(attempt, NET_CONNECT_RETRY_MS);
      });
    };
    attempt();
  }

  private attach(socket: Socket, path: string): void {
    this.socket = socket;
    const channel = socketChannel(socket);
    channel.onClose((reason) => this.log(`net: peer on ${path} gone (${reason})`));
    this.switch!.attachChannel(channel, 'peer');
    this.log(`net: joined the peer on ${path}`);
  }

  /** Console bytes → "[hvc0] line" on stdout, one line at a time. */
  private consoleOutput(bytes: Uint8Array): void {
    this.consoleLine += new TextDecoder().decode(bytes, { stream: true });
    for (let end = this.consoleLine.indexOf('\n'); end >= 0; end = this.consoleLine.indexOf('\n')) {
      this.stdout(`[hvc0] ${this.consoleLine.slice(0, end).replace(/\r$/, '')}\n`);
      this.consoleLine = this.consoleLine.slice(end + 1);
    }
  }

  /** Flush and close the disks, drop the peer link, print an unfinished console line. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.consoleLine !== '') this.stdout(`[hvc0] ${this.consoleLine}\n`);
    if (this.retryTimer !== null) clearTimeout(this.retryTimer);
    this.socket?.destroy();
    this.server?.close();
    for (const disk of this.disks) {
      disk.flush();
      disk.close();
    }
  }
}

/** `port` with a hook that runs after each frame delivered to the guest side. */
function wakingPort(port: NetworkPort, wake: () => void): NetworkPort {
  return {
    name: port.name,
    send: (frame) => port.send(frame),
    onReceive: (handler) => port.onReceive((frame) => {
      handler(frame);
      wake();
    }),
    close: () => port.close(),
  };
}
