/**
 * The PC/AT coprocessor-error latch: how an x87 error reaches the interrupt controller when
 * the OS uses the legacy reporting mode (CR0.NE = 0). The processor's FERR# output sets a
 * latch in the chipset that drives ISA IRQ 13; the error handler clears it by writing any
 * value to port F0h (IBM PC/AT technical reference; Intel 82371AB PIIX4 datasheet, "FERR#/
 * IGNNE#"). With CR0.NE = 1 (what Linux and every modern OS use) the processor raises #MF
 * itself and FERR# never matters.
 *
 * Model choices:
 * - the latch is set on a rising edge of FERR# and raises IRQ 13 (a level the 8259/I/O APIC
 *   see); a write to F0h clears the latch and lowers IRQ 13. FERR# still asserted after the
 *   clear does not set it again: the next error (a new rising edge) does.
 * - IGNNE# (which the PIIX asserts after the F0h write so that the handler's own FPU
 *   instructions do not wait) is not modelled: our FPU never waits on FERR#.
 * - reads of F0h return all ones (nothing drives the bus), as on the PIIX.
 */
import type { AccessSize, IoDevice } from '../../bus/io-bus.js';
import type { IrqLine } from '../../bus/irq.js';
import { type Persist, type SavedState, StateReader } from '../../persist/persist.js';

/** The port whose write clears the coprocessor-error latch. */
export const FPU_ERROR_CLEAR_PORT = 0xf0;
/** ISA IRQ of coprocessor errors. */
export const FPU_ERROR_IRQ = 13;

/** Saved state of the latch. */
export interface FpuErrorLatchState extends SavedState {
  readonly latched: boolean;
  readonly ferr: boolean;
}

/** The FERR# → IRQ 13 latch with its clear port (register it at F0h, one port). */
export class FpuErrorLatch implements IoDevice, Persist<FpuErrorLatchState> {
  readonly name = 'fpu-error';
  readonly persistId = 'fpu-error';
  private latched = false;
  private ferr = false;

  /** `irq` is ISA IRQ 13. */
  constructor(private readonly irq: IrqLine) {}

  /** The processor's FERR# output changed (wire the FPU's onFerr here). */
  setFerr(asserted: boolean): void {
    if (asserted && !this.ferr) this.setLatch(true);
    this.ferr = asserted;
  }

  /** @inheritdoc */
  ioRead(_offset: number, size: AccessSize): number {
    return size === 1 ? 0xff : size === 2 ? 0xffff : 0xffffffff;
  }

  /** @inheritdoc Any write clears the latch. */
  ioWrite(): void {
    this.setLatch(false);
  }

  /** Power-on state: latch clear, IRQ 13 low. */
  reset(): void {
    this.ferr = false;
    this.setLatch(false);
  }

  /** @inheritdoc */
  save(): FpuErrorLatchState {
    return { version: 1, latched: this.latched, ferr: this.ferr };
  }

  /** @inheritdoc */
  restore(state: unknown): void {
    const r = new StateReader(this.persistId, state);
    r.version([1]);
    const latched = r.bool('latched');
    const ferr = r.bool('ferr');
    this.ferr = ferr;
    this.setLatch(latched);
  }

  private setLatch(on: boolean): void {
    this.latched = on;
    this.irq.set(on);
  }
}
