/** Debug exit device (isa-debug-exit style). */
export { DEBUG_EXIT_PORT, DEBUG_EXIT_PORT_COUNT, type DebugExitOptions, DebugExit, qemuDebugExitStatus } from './debug-exit.js';
