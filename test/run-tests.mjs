// Runs the whole vitest suite and ends with one plain line "N passed, N failed".
// Exit status is non-zero when any test failed or the run itself broke.
import { spawnSync } from 'node:child_process';
import { readFileSync, mkdirSync, existsSync } from 'node:fs';

const out = 'test-results/vitest.json';
mkdirSync('test-results', { recursive: true });
const args = ['vitest', 'run', '--config', 'test/vitest.config.ts', '--reporter=default',
  '--reporter=json', `--outputFile.json=${out}`, ...process.argv.slice(2)];
const run = spawnSync('npx', args, { stdio: 'inherit' });
if (!existsSync(out)) {
  console.log('0 passed, 1 failed');
  process.exit(run.status || 1);
}
const report = JSON.parse(readFileSync(out, 'utf8'));
const passed = report.numPassedTests ?? 0;
// A test file that failed without running any test (an import or syntax error) counts as
// one failure; failed describe blocks are not counted again on top of their tests.
const brokenFiles = (report.testResults ?? []).filter((f) => f.status === 'failed' && (f.assertionResults ?? []).length === 0).length;
const failed = (report.numFailedTests ?? 0) + brokenFiles;
const skipped = (report.numPendingTests ?? 0) + (report.numTodoTests ?? 0);
console.log(`${passed} passed, ${failed} failed` + (skipped ? `, ${skipped} skipped` : ''));
process.exit(failed > 0 || run.status !== 0 ? 1 : 0);
