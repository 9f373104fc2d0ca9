/**
 * Persist: the one interface every stateful component implements so that the VM can be
 * snapshotted, checkpointed and migrated (DESIGN.md, "State").
 *
 * `save()` returns plain data (numbers, strings, booleans, arrays, typed arrays, nested
 * plain objects) tagged with the component's state version. `restore()` treats its input
 * as untrusted: it validates every field and throws a `StateError` naming the component
 * and the field when something is wrong, leaving the component unchanged.
 */

/** Plain state: what `save()` returns. Always carries its own version. */
export interface SavedState {
  readonly version: number;
  readonly [field: string]: unknown;
}

/** A component whose state can be saved and restored. */
export interface Persist<S extends SavedState = SavedState> {
  /** Stable id of this component inside its VM (e.g. "uart0", "cpu0"). */
  readonly persistId: string;
  /** Capture the current state as plain data. */
  save(): S;
  /** Replace the current state with `state` after validating all of it. */
  restore(state: unknown): void;
}

/** Thrown when saved state is malformed; the message names component and field. */
export class StateError extends Error {
  constructor(component: string, field: string, problem: string) {
    super(`${component}: bad saved state field '${field}': ${problem}`);
    this.name = 'StateError';
  }
}

/** Helpers that validate one field of untrusted state and return it typed. */
export class StateReader {
  /** `prefix` names a nested record's fields in errors (`tr.base`); see `object()`. */
  constructor(private readonly component: string, private readonly state: unknown, private readonly prefix = '') {
    if (typeof state !== 'object' || state === null) {
      throw new StateError(component, prefix || '(root)', 'not an object');
    }
  }

  private field(name: string): unknown {
    return (this.state as Record<string, unknown>)[name];
  }

  /** Check the state version is one this component understands. */
  version(supported: readonly number[]): number {
    const v = this.field('version');
    if (typeof v !== 'number' || !supported.includes(v)) {
      throw new StateError(this.component, 'version', `unsupported version ${String(v)} (supported: ${supported.join(', ')})`);
    }
    return v;
  }

  /** An integer in [min, max]. */
  int(name: string, min: number, max: number): number {
    const v = this.field(name);
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
      throw new StateError(this.component, this.prefix + name, `expected an integer in [${min}, ${max}], got ${String(v)}`);
    }
    return v;
  }

  /** A boolean. */
  bool(name: string): boolean {
    const v = this.field(name);
    if (typeof v !== 'boolean') throw new StateError(this.component, this.prefix + name, `expected a boolean, got ${String(v)}`);
    return v;
  }

  /** A nested record, read with its own reader (errors name `component.field`). */
  object(name: string): StateReader {
    const v = this.field(name);
    if (typeof v !== 'object' || v === null || Array.isArray(v)) {
      throw new StateError(this.component, this.prefix + name, `expected an object, got ${String(v)}`);
    }
    return new StateReader(this.component, v, `${this.prefix}${name}.`);
  }

  /** An array of integers in [min, max] with a length in [minLen, maxLen]. */
  ints(name: string, min: number, max: number, minLen: number, maxLen: number): number[] {
    const v = this.field(name);
    const arr = ArrayBuffer.isView(v) ? Array.from(v as unknown as ArrayLike<number>) : v;
    if (!Array.isArray(arr) || arr.length < minLen || arr.length > maxLen) {
      throw new StateError(this.component, this.prefix + name, `expected an array of ${minLen}..${maxLen} integers`);
    }
    for (let i = 0; i < arr.length; i++) {
      const x = arr[i];
      if (typeof x !== 'number' || !Number.isInteger(x) || x < min || x > max) {
        throw new StateError(this.component, `${this.prefix}${name}[${i}]`, `expected an integer in [${min}, ${max}], got ${String(x)}`);
      }
    }
    return arr as number[];
  }
}
