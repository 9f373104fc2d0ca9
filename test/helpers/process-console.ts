/**
 * Test helper: drive the emulator's command line (`node dist/src/cli/main.js ...`) as a
 * child process through its serial console, the way a person at a terminal would — wait
 * for text on stdout, type a line on stdin, collect a command's answer up to the next
 * prompt, wait for the process to exit. Every wait has a wall-clock timeout that kills the
 * process and fails with the tail of its output, so a stuck guest never hangs the suite.
 *
 * The boot tests run the compiled CLI rather than importing the machine: that is the
 * product as users run it, and it runs at full speed (the build inlines the CPU's
 * `const enum`s, which vitest's per-file transform cannot do across modules).
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';

/** The terminal escape busybox's shell sends after a prompt (cursor position query). */
const CURSOR_QUERY = /\x1b\[6n/g;

/** A wait that ended without the expected text or exit. */
export class ConsoleWaitError extends Error {
  constructor(what: string, reason: string, tail: string) {
    super(`${what}: ${reason}; last output:\n${tail}`);
    this.name = 'ConsoleWaitError';
  }
}

/** How the process ended. */
export interface ProcessEnd {
  readonly status: number | null;
  readonly signal: NodeJS.Signals | null;
}

/** One emulator process and its console. */
export class ProcessConsole {
  private readonly child: ChildProcessWithoutNullStreams;
  private text = '';
  private stderrText = '';
  private cursor = 0;
  private ended: ProcessEnd | null = null;
  private readonly listeners = new Set<() => void>();

  /** Start `node <script> ...args` in `cwd`. */
  constructor(script: string, args: readonly string[], cwd: string) {
    this.child = spawn(process.execPath, [script, ...args], { cwd, stdio: ['pipe', 'pipe', 'pipe'] });
    this.child.stdout.setEncoding('latin1');
    this.child.stderr.setEncoding('utf8');
    this.child.stdout.on('data', (chunk: string) => { this.text += chunk; this.notify(); });
    this.child.stderr.on('data', (chunk: string) => { this.stderrText += chunk; this.notify(); });
    this.child.on('exit', (status, signal) => { this.ended = { status, signal }; this.notify(); });
  }

  /** Everything the guest printed so far (terminal queries removed). */
  get output(): string {
    return this.text.replace(CURSOR_QUERY, '');
  }

  /** What the emulator itself wrote to stderr. */
  get diagnostics(): string {
    return this.stderrText;
  }

  /** The last `lines` lines of output and diagnostics, for error messages. */
  tail(lines = 25): string {
    const out = this.output.split('\n').slice(-lines).join('\n');
    return this.stderrText === '' ? out : `${out}\n[stderr]\n${this.stderrText.split('\n').slice(-5).join('\n')}`;
  }

  /**
   * Resolve with the text from the cursor to the end of `needle` once it appears (moving the
   * cursor past it); reject after `timeoutMs` or if the process ends first.
   */
  waitFor(needle: string, timeoutMs: number): Promise<string> {
    return this.until(`waiting for ${JSON.stringify(needle)}`, timeoutMs, () => {
      const clean = this.output;
      const at = clean.indexOf(needle, this.cursor);
      if (at < 0) return undefined;
      const answer = clean.slice(this.cursor, at + needle.length);
      this.cursor = at + needle.length;
      return answer;
    }, true);
  }

  /** Type `line` followed by Enter. */
  type(line: string): void {
    this.child.stdin.write(`${line}\n`);
  }

  /**
   * Type a shell command and resolve with what it printed: the text after the echoed
   * command line up to (not including) the next `prompt`.
   */
  async command(line: string, prompt: string, timeoutMs: number): Promise<string> {
    this.type(line);
    const answer = await this.waitFor(prompt, timeoutMs);
    const body = answer.slice(0, answer.length - prompt.length).replace(/\r/g, '');
    const echoEnd = body.indexOf('\n');
    return echoEnd >= 0 ? body.slice(echoEnd + 1) : '';
  }

  /** Resolve with the exit status once the process ends; reject (and kill it) after `timeoutMs`. */
  waitForExit(timeoutMs: number): Promise<ProcessEnd> {
    return this.until('waiting for the emulator to exit', timeoutMs, () => this.ended ?? undefined, false);
  }

  /** Kill the process if it is still running. */
  kill(): void {
    if (this.ended === null) this.child.kill('SIGKILL');
  }

  private until<T>(what: string, timeoutMs: number, check: () => T | undefined, failOnExit: boolean): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const finish = (error: Error | null, value?: T): void => {
        clearTimeout(timer);
        this.listeners.delete(poll);
        if (error) reject(error); else resolve(value as T);
      };
      const poll = (): void => {
        const value = check();
        if (value !== undefined) { finish(null, value); return; }
        if (failOnExit && this.ended !== null) finish(new ConsoleWaitError(what, `the emulator exited (${JSON.stringify(this.ended)})`, this.tail()));
      };
      const timer = setTimeout(() => {
        this.kill();
        finish(new ConsoleWaitError(what, `timed out after ${timeoutMs} ms`, this.tail()));
      }, timeoutMs);
      this.listeners.add(poll);
      poll();
    });
  }

  private notify(): void {
    for (const listener of [...this.listeners]) listener();
  }
}
