// Fetches and builds the real guests the test suite boots (today: Debian's i386 kernel and
// our busybox initramfs, via dist/src/cli/guests-debian.js, i.e. `npm run guests:debian`).
// Runs after the build and before vitest in `npm test`. Never fails the run by itself:
// when the guest cannot be prepared it prints why, and the boot test then reports it
// (skipped on a machine without Debian's package tools, failed under CI=true).
import { spawnSync } from 'node:child_process';

const run = spawnSync(process.execPath, ['dist/src/cli/guests-debian.js'], { stdio: ['ignore', 'inherit', 'inherit'] });
if (run.error) console.log(`prepare-guests: could not run the Debian guest script: ${run.error.message}`);
else if (run.status === 3) console.log('prepare-guests: Debian guest skipped (see the reason above)');
else if (run.status !== 0) console.log(`prepare-guests: Debian guest script failed with status ${run.status}; the boot test will report it`);
