/**
 * The VM's input event queue. External inputs (serial bytes now; packets and disk
 * completions later) enter the machine only through here, each stamped with the guest
 * instruction count at which it becomes deliverable, so the same inputs at the same
 * counts give the same run (DESIGN.md, "Deterministic by default").
 */

import { type Persist, type SavedState, StateError, StateReader } from '../persist/persist.js';

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

/** Version of EventQueueState this code writes and reads. */
export const EVENT_QUEUE_STATE_VERSION = 1;

/** One saved input event (the fields of InputEvent). */
export interface SavedInputEvent {
  readonly at: number;
  readonly kind: number;
  readonly value: number;
}

/** Saved queue: the events not yet delivered, in delivery order. */
export interface EventQueueState extends SavedState {
  readonly events: readonly SavedInputEvent[];
}

/** Largest value each input kind carries (index: InputKind). */
const MAX_VALUE_OF_KIND: readonly number[] = [-1, 0xff];

/** A FIFO of input events ordered by delivery time (stable for equal times). */
export class EventQueue implements Persist<EventQueueState> {
  /** Component id in a machine's saved state. */
  readonly persistId = 'input0';
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

  /** @inheritdoc */
  save(): EventQueueState {
    const events = this.events.slice(this.head).map((e) => ({ at: e.at, kind: e.kind, value: e.value }));
    return { version: EVENT_QUEUE_STATE_VERSION, events };
  }

  /** Validate every event (known kind, value in range, delivery times never decreasing), then replace the queue. */
  restore(state: unknown): void {
    const r = new StateReader(this.persistId, state);
    r.version([EVENT_QUEUE_STATE_VERSION]);
    const raw = (state as { events?: unknown }).events;
    if (!Array.isArray(raw)) throw new StateError(this.persistId, 'events', 'expected an array');
    const events: InputEvent[] = [];
    let previousAt = 0;
    raw.forEach((item: unknown, i) => {
      const e = new StateReader(this.persistId, item, `events[${i}].`);
      const at = e.int('at', previousAt, Number.MAX_SAFE_INTEGER);
      const kind = e.int('kind', InputKind.SerialByte, MAX_VALUE_OF_KIND.length - 1) as InputKind;
      const value = e.int('value', 0, MAX_VALUE_OF_KIND[kind]!);
      events.push({ at, kind, value });
      previousAt = at;
    });
    this.events.length = 0;
    for (const e of events) this.events.push(e);
    this.head = 0;
  }
}
