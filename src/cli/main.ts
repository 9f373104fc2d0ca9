/**
 * The node entry point (`node dist/src/cli/main.js [options] [ROM]`): wires `runCli` to
 * the real process — stdout, stderr, stdin and the file system — and sets the exit status.
 *
 * It never calls `process.exit`: it sets `process.exitCode`, closes stdin (an open pipe or
 * terminal would keep Node alive) and lets Node end once pending stdout writes are flushed. If stdout's reader goes away (EPIPE, e.g. `| head -1`), further
 * guest output is dropped and the guest runs to its own end.
 */
import { readFileSync } from 'node:fs';
import { EXIT_SOFTWARE, runCli, type CliIo } from './run.js';

/** True once writing to stdout failed; output after that is discarded. */
let stdoutBroken = false;
process.stdout.on('error', () => {
  stdoutBroken = true;
});

/** Resolves when stdout's buffer has drained (or it broke), for back-pressure between slices. */
function stdoutDrain(): Promise<void> {
  if (stdoutBroken || !process.stdout.writableNeedDrain) return Promise.resolve();
  return new Promise((done) => {
    const finish = (): void => {
      process.stdout.off('drain', finish);
      process.stdout.off('error', finish);
      process.stdout.off('close', finish);
      done();
    };
    process.stdout.on('drain', finish);
    process.stdout.on('error', finish);
    process.stdout.on('close', finish);
  });
}

/** The process's own I/O. */
const processIo: CliIo = {
  stdout: (s) => {
    if (!stdoutBroken) process.stdout.write(s);
  },
  stderr: (s) => {
    process.stderr.write(s);
  },
  stdin: process.stdin,
  readFile: (path) => readFileSync(path),
  stdoutDrain,
};

try {
  process.exitCode = await runCli(process.argv.slice(2), processIo);
} catch (e) {
  process.stderr.write(`error: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exitCode = EXIT_SOFTWARE;
} finally {
  // A paused pipe or terminal on stdin would still keep the event loop alive.
  process.stdin.destroy();
}
