/**
 * Interrupt request lines: the wires between a device's interrupt output and an interrupt
 * controller input (an 8259A PIC / I/O APIC pin on the PC board, a recorder in tests).
 * A line is level-triggered: it carries a boolean level; edge-triggered controllers look
 * for the low→high transitions, which the line also counts.
 */

/** Receives the new level of a line each time it changes. */
export type IrqSink = (level: boolean) => void;

/** One interrupt request line (level-triggered wire). The board connects it to a sink. */
export class IrqLine {
  private currentLevel = false;
  private risingEdges = 0;
  private sink: IrqSink | undefined;

  /** `name` is for logs (e.g. "irq4 (uart0)"); `sink` may also be connected later. */
  constructor(readonly name: string, sink?: IrqSink) {
    this.sink = sink;
  }

  /** Current level (true = asserted). */
  get level(): boolean {
    return this.currentLevel;
  }

  /** Times the line went low→high since it was created. */
  get raiseCount(): number {
    return this.risingEdges;
  }

  /** Assert the line. */
  raise(): void {
    this.set(true);
  }

  /** Deassert the line. */
  lower(): void {
    this.set(false);
  }

  /** Drive the line to `level`; the sink is called only when the level changes. */
  set(level: boolean): void {
    if (level === this.currentLevel) return;
    this.currentLevel = level;
    if (level) this.risingEdges++;
    this.sink?.(level);
  }

  /** Raise then lower: a rising edge for an edge-triggered input (none if the line was already high); ends low. */
  pulse(): void {
    this.raise();
    this.lower();
  }

  /**
   * Connect (or replace) the sink. If the line is already high the new sink is told at
   * once, so a controller attached late does not miss an asserted line.
   */
  connect(sink: IrqSink): void {
    this.sink = sink;
    if (this.currentLevel) sink(true);
  }
}
