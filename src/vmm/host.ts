/**
 * The host: owns the frame pool that all its VMs' memory comes from, and creates, tracks
 * and destroys the VMs (the scheduler and cross-host features build on this later).
 */
import { FramePool, type FramePoolOptions } from '../memory/frame-pool.js';
import { PcMachine, type PcConfig } from '../machine/pc.js';

/** A host running any number of PCs on one frame pool. */
export class Host {
  readonly pool: FramePool;
  private readonly machines = new Map<string, PcMachine>();

  constructor(options: FramePoolOptions = {}) {
    this.pool = new FramePool(options);
  }

  /** Build a VM named `name` (unique on this host). */
  createMachine(name: string, config: PcConfig): PcMachine {
    if (this.machines.has(name)) throw new Error(`host: a VM named '${name}' already exists`);
    const vm = new PcMachine(this.pool, config);
    this.machines.set(name, vm);
    return vm;
  }

  /** The VM named `name`, if any. */
  machine(name: string): PcMachine | undefined {
    return this.machines.get(name);
  }

  /** Stop tracking a VM and give its memory back to the pool. */
  destroyMachine(name: string): void {
    const vm = this.machines.get(name);
    if (!vm) return;
    vm.dispose();
    this.machines.delete(name);
  }

  /** Names of the VMs on this host. */
  get machineNames(): string[] {
    return [...this.machines.keys()];
  }
}
