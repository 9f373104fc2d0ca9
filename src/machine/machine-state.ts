/**
 * The whole machine's saved state (DESIGN.md, "State"): a tree of component states keyed by
 * each component's `persistId`, each with its own version, under one small envelope:
 *
 *   { version: MACHINE_STATE_VERSION,
 *     components: { board: {...}, input0: {...}, pci0: {...}, uart0: {...}, pit: {...},
 *                   ..., cpu0: {...}, clock0: {...} } }
 *
 * Plain data only (numbers, strings, booleans, arrays, nested objects), so it survives
 * `structuredClone`, JSON and a MessagePort. Guest RAM is not in it: memory travels
 * separately, frame by frame (GuestMemory.transferableFrames / readFrame / writeFrame).
 *
 * Restoring is all or nothing. The tree is checked first (envelope version, every
 * component present, no unknown component, each entry an object with a numeric version);
 * then the components restore in the board's order, each validating all of its own state
 * before it changes anything. The Persist interface has no validate-only call, so a
 * component that refuses its state after earlier ones were applied is handled by rolling
 * the machine back: the state saved just before the restore is put back into every
 * component, and the refusal is rethrown. Either way a refused state leaves the machine as
 * it was.
 *
 * This module also holds the format of the board's own run-loop fields (BoardState), which
 * PcMachine saves as the component "board".
 */
import { type Persist, type SavedState, StateError, StateReader } from '../persist/persist.js';

/** Version of the MachineState envelope this code writes and reads. */
export const MACHINE_STATE_VERSION = 1;

/** The name errors about the tree itself carry as their component. */
export const MACHINE_STATE_COMPONENT = 'machine';

/** A whole machine's state: one saved state per component, keyed by component id. */
export interface MachineState {
  readonly version: number;
  readonly components: { readonly [persistId: string]: SavedState };
}

/** Capture every component's state. `components` must have distinct persistIds. */
export function saveMachineState(components: readonly Persist[]): MachineState {
  checkDistinctIds(components);
  const saved: Record<string, SavedState> = {};
  for (const component of components) saved[component.persistId] = component.save();
  return { version: MACHINE_STATE_VERSION, components: saved };
}

/**
 * Check the shape of untrusted `state` against `components`: the envelope version, one
 * entry for every component and none for anything else, each an object with a numeric
 * `version`. Throws StateError naming the envelope field or the component; returns the
 * state typed.
 */
export function checkMachineStateTree(components: readonly Persist[], state: unknown): MachineState {
  checkDistinctIds(components);
  const envelope = new StateReader(MACHINE_STATE_COMPONENT, state);
  envelope.version([MACHINE_STATE_VERSION]);
  envelope.object('components');
  const entries = (state as { components: Record<string, unknown> }).components;
  const known = new Set(components.map((c) => c.persistId));
  for (const id of Object.keys(entries)) {
    if (!known.has(id)) throw new StateError(MACHINE_STATE_COMPONENT, `components.${id}`, `unknown component '${id}' (this machine has ${[...known].join(', ')})`);
  }
  for (const component of components) {
    const id = component.persistId;
    if (!Object.prototype.hasOwnProperty.call(entries, id)) {
      throw new StateError(MACHINE_STATE_COMPONENT, `components.${id}`, `missing: the state has no entry for component '${id}'`);
    }
    const entry = entries[id];
    if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) {
      throw new StateError(id, '(root)', `expected an object, got ${describe(entry)}`);
    }
    const version = (entry as { version?: unknown }).version;
    if (typeof version !== 'number' || !Number.isInteger(version)) {
      throw new StateError(id, 'version', `expected an integer version, got ${describe(version)}`);
    }
  }
  return state as MachineState;
}

/**
 * Restore every component from untrusted `state`, in the order of `components` (the board's
 * restore order: see PcMachine.persistables). All or nothing: on any refusal the machine is
 * rolled back to the state it had before the call and the refusal is rethrown.
 */
export function restoreMachineState(components: readonly Persist[], state: unknown): void {
  const tree = checkMachineStateTree(components, state);
  const before = saveMachineState(components);
  let applied = 0;
  try {
    for (const component of components) {
      component.restore(tree.components[component.persistId]);
      applied++;
    }
  } catch (error) {
    // The refusing component changed nothing itself; the ones before it did, and restoring
    // them drove interrupt lines that later components observe, so put everything back.
    if (applied > 0) rollBack(components, before, error);
    throw error;
  }
}

/** Put `before` back into every component after a refused restore. */
function rollBack(components: readonly Persist[], before: MachineState, cause: unknown): void {
  try {
    for (const component of components) component.restore(before.components[component.persistId]);
  } catch (rollbackError) {
    // The machine's own saved state was refused: a bug in a component's save/restore pair.
    throw new Error(
      `machine: rolling back a refused restore (${messageOf(cause)}) failed: ${messageOf(rollbackError)}`,
    );
  }
}

/** A restore order with two components of one id would save one over the other. */
function checkDistinctIds(components: readonly Persist[]): void {
  const seen = new Set<string>();
  for (const component of components) {
    if (seen.has(component.persistId)) throw new Error(`machine: two components share the id '${component.persistId}'`);
    seen.add(component.persistId);
  }
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return typeof value === 'object' ? 'an object' : `${typeof value} ${String(value)}`;
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

// ---- The board's own fields ---------------------------------------------------------------

/** Component id of the board's own fields. */
export const BOARD_PERSIST_ID = 'board';
/** Version of BoardState this code writes and reads. */
export const BOARD_STATE_VERSION = 1;

/** A reset or power-off the guest asked for that the run loop has not acted on yet. */
export type PendingChipsetAction = 'none' | 'reset' | 'power-off';
const PENDING_CHIPSET_ACTIONS: readonly PendingChipsetAction[] = ['none', 'reset', 'power-off'];

/** The run loop's fields of PcMachine. */
export interface BoardState extends SavedState {
  /** RAM size, checked against the restoring machine's (the frames travel separately). */
  readonly memoryBytes: number;
  /** The guest wrote to the debug-exit port; `exitValue` is what it wrote (0 otherwise). */
  readonly exited: boolean;
  readonly exitValue: number;
  readonly pendingChipsetAction: PendingChipsetAction;
  /** Resets so far (guest requests, triple faults with onTripleFault 'reset'). */
  readonly resets: number;
}

/** Validate untrusted board state for a machine with `memoryBytes` of RAM; errors name the field. */
export function readBoardState(state: unknown, memoryBytes: number): BoardState {
  const r = new StateReader(BOARD_PERSIST_ID, state);
  const version = r.version([BOARD_STATE_VERSION]);
  const savedBytes = r.int('memoryBytes', 0, Number.MAX_SAFE_INTEGER);
  if (savedBytes !== memoryBytes) {
    throw new StateError(BOARD_PERSIST_ID, 'memoryBytes', `saved with ${savedBytes} bytes of RAM, this machine has ${memoryBytes}`);
  }
  const exited = r.bool('exited');
  const exitValue = r.int('exitValue', 0, 0xffffffff);
  if (!exited && exitValue !== 0) throw new StateError(BOARD_PERSIST_ID, 'exitValue', `${exitValue} without an exit (must be 0)`);
  const action = (state as { pendingChipsetAction?: unknown }).pendingChipsetAction;
  if (!PENDING_CHIPSET_ACTIONS.includes(action as PendingChipsetAction)) {
    throw new StateError(BOARD_PERSIST_ID, 'pendingChipsetAction', `expected one of ${PENDING_CHIPSET_ACTIONS.join(', ')}, got ${describe(action)}`);
  }
  const resets = r.int('resets', 0, Number.MAX_SAFE_INTEGER);
  return { version, memoryBytes: savedBytes, exited, exitValue, pendingChipsetAction: action as PendingChipsetAction, resets };
}
