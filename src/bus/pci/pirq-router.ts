/**
 * The PCI interrupt router of the PIIX3 (Intel 82371SB datasheet §2.2 "PCI to ISA bridge
 * configuration registers", PIRQRC[A:D] at 0x60-0x63): the four PCI interrupt lines PIRQA#-
 * PIRQD# are wired-OR, active-low lines shared by the INTx pins of the slots; each can be
 * steered to one ISA IRQ of the 8259 pair (bit 7 = routing disabled, bits 3:0 the IRQ;
 * IRQs 0, 1, 2, 8 and 13 are reserved and act as disabled). Independently, on our board
 * PIRQ n is also wired to I/O APIC input 16 + n, as the ACPI _PRT and the MP table say.
 *
 * Levels are counted per PIRQ (how many functions assert it) so one function's change costs
 * O(1); an ISA IRQ is the OR of every PIRQ routed to it. The I/O APIC pins get the
 * electrical level (high = idle) because the firmware describes them as active low.
 */

/** Number of PIRQ lines (A-D). */
export const PIRQ_COUNT = 4;
/** I/O APIC input of PIRQA#; PIRQn is on pin PIRQ_IOAPIC_BASE_PIN + n. */
export const PIRQ_IOAPIC_BASE_PIN = 16;
/** Route register value at reset: routing disabled. */
export const PIRQ_ROUTE_DISABLED = 0x80;
/** Bits of a route register that are implemented (the rest read as zero). */
export const PIRQ_ROUTE_WRITABLE = 0x8f;
const ROUTE_IRQ_MASK = 0x0f;
/** ISA IRQs a PIRQ may not be steered to (treated as disabled). */
const RESERVED_IRQS = (1 << 0) | (1 << 1) | (1 << 2) | (1 << 8) | (1 << 13);
const ISA_IRQS = 16;

/** The PIRQ a function at `device` using INTx `pin` (1 = INTA .. 4 = INTD) drives. */
export function pirqForPin(device: number, pin: number): number {
  return (device + pin - 1) % PIRQ_COUNT;
}

/** Where the router's outputs go. */
export interface PirqOutputs {
  setIsaIrq(irq: number, level: boolean): void;
  setIoApicPin(pin: number, level: boolean): void;
}

/** PIRQ route registers and the wired-OR levels of the four lines. */
export class PirqRouter {
  /** Route registers PIRQRC[A:D]. */
  readonly routes = new Uint8Array(PIRQ_COUNT).fill(PIRQ_ROUTE_DISABLED);
  /** Functions currently asserting each PIRQ. */
  private readonly asserters = new Uint16Array(PIRQ_COUNT);
  /** Level last driven on each ISA IRQ. */
  private readonly isaLevels = new Uint8Array(ISA_IRQS);

  constructor(private readonly outputs: PirqOutputs) {
    this.driveIoApicPins();
  }

  /** The ISA IRQ PIRQ `n` is steered to, or -1 when its routing is disabled. */
  routedIrq(n: number): number {
    const route = this.routes[n]!;
    const irq = route & ROUTE_IRQ_MASK;
    if ((route & PIRQ_ROUTE_DISABLED) !== 0 || (RESERVED_IRQS & (1 << irq)) !== 0) return -1;
    return irq;
  }

  /** True when some function asserts PIRQ `n`. */
  asserted(n: number): boolean {
    return this.asserters[n]! > 0;
  }

  /** One more (`assert` true) or one fewer function drives PIRQ `n`. */
  change(n: number, assert: boolean): void {
    const before = this.asserters[n]! > 0;
    if (assert) this.asserters[n]!++;
    else if (this.asserters[n]! > 0) this.asserters[n]!--;
    const after = this.asserters[n]! > 0;
    if (before === after) return;
    this.outputs.setIoApicPin(PIRQ_IOAPIC_BASE_PIN + n, !after);
    const irq = this.routedIrq(n);
    if (irq >= 0) this.refreshIsaIrq(irq);
  }

  /** Guest wrote route register `n`: the PIRQ's level moves from the old IRQ to the new one. */
  writeRoute(n: number, value: number): void {
    const oldIrq = this.routedIrq(n);
    this.routes[n] = value & PIRQ_ROUTE_WRITABLE;
    const newIrq = this.routedIrq(n);
    if (oldIrq === newIrq) return;
    if (oldIrq >= 0) this.refreshIsaIrq(oldIrq);
    if (newIrq >= 0) this.refreshIsaIrq(newIrq);
  }

  /**
   * Replace routes and assert counts at once (reset, restore) and drive every output to
   * match: all four I/O APIC pins, and each ISA IRQ whose level differs from what we drove.
   */
  load(routes: ArrayLike<number>, asserters: ArrayLike<number>): void {
    for (let n = 0; n < PIRQ_COUNT; n++) {
      this.routes[n] = routes[n]! & PIRQ_ROUTE_WRITABLE;
      this.asserters[n] = asserters[n]!;
    }
    this.driveIoApicPins();
    for (let irq = 0; irq < ISA_IRQS; irq++) this.refreshIsaIrq(irq);
  }

  private driveIoApicPins(): void {
    for (let n = 0; n < PIRQ_COUNT; n++) this.outputs.setIoApicPin(PIRQ_IOAPIC_BASE_PIN + n, !this.asserted(n));
  }

  /** Recompute ISA IRQ `irq` as the OR of the PIRQs routed to it; drive it if it changed. */
  private refreshIsaIrq(irq: number): void {
    let level = 0;
    for (let n = 0; n < PIRQ_COUNT; n++) {
      if (this.asserters[n]! > 0 && this.routedIrq(n) === irq) level = 1;
    }
    if (level === this.isaLevels[irq]) return;
    this.isaLevels[irq] = level;
    this.outputs.setIsaIrq(irq, level === 1);
  }
}
