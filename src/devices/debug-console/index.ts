/** Debug console (port 0xE9). */
export {
  DEBUG_CONSOLE_PORT,
  DEBUG_CONSOLE_PORT_COUNT,
  DEBUG_CONSOLE_READBACK,
  DEBUG_CONSOLE_MAX_LINE,
  type DebugConsoleOptions,
  DebugConsole,
} from './debug-console.js';
