/** The PC's 8254 interval timer and System Control Port B (0x61). */
export * from './pit8254.js';
export { PitAccess, PitPhase, type PitCounterState, decodeCount, effectiveMode } from './pit-counter.js';
export { PIT_CLOCK_HZ, floorDiv, pitTickToNs, pitTicksAt } from './pit-time.js';
