/**
 * The VM's input event queue. External inputs (serial bytes now; packets and disk
 * completions later) enter the machine only through here, each stamped with the guest
 * instruction count at which it becomes deliverable, so the same inputs at the same
 * counts give the same run (DESIGN.md, "Deterministic by default").
 */

/** Kinds of input event. */
export const enum InputKind {
  Invalid = 0,
  SerialByte = 1,
}

/** One input, deliverable once the instruction counter reaches `at`. */
export interface InputEvent {
  readonly at: number;
  readonly kind: InputKind;
  readonly value: number;
}

/** A FIFO of input events ordered by delivery time (stable for equal times). */
export class EventQueue {
  private readonly events: InputEvent[] = [];
  private head = 0;

  /** Add an event deliverable at instruction count `at` (never earlier than those queued before it). */
  push(at: number, kind: InputKind, value: number): void {
    const last = this.events.length > this.head ? this.events[this.events.length - 1].at : 0;
    this.events.push({ at: Math.max(at, last), kind, value });
  }

  /** The next event if it is due at `now`, without removing it. */
  peekDue(now: number): InputEvent | null {
    if (this.head >= this.events.length) return null;
    const e = this.events[this.head];
    return e.at <= now ? e : null;
  }

  /** Remove the event returned by peekDue. */
  shift(): void {
    this.head++;
    if (this.head > 1024 && this.head * 2 > this.events.length) {
      this.events.splice(0, this.head);
      this.head = 0;
    }
  }

  /** Instruction count of the next event, or Infinity. */
  nextAt(): number {
    return this.head < this.events.length ? this.events[this.head].at : Infinity;
  }

  /** Number of events still queued. */
  get length(): number {
    return this.events.length - this.head;
  }
}
