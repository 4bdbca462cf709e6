#!/usr/bin/env node
// The sightline command. Runs the compiled JavaScript (cli/dist, built by `npm install` / `npm run build`);
// with SIGHTLINE_FROM_SOURCE=1, or when nothing is built, runs the TypeScript sources through tsx instead.
// Termination signals are forwarded to that process.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { constants } from 'node:os';
import { fileURLToPath } from 'node:url';

const compiled = fileURLToPath(new URL('../cli/dist/main.js', import.meta.url));
const source = fileURLToPath(new URL('../cli/src/main.ts', import.meta.url));
const fromSource = process.env.SIGHTLINE_FROM_SOURCE === '1' || !existsSync(compiled);
const args = fromSource ? ['--conditions=sightline-source', '--import', 'tsx', source] : [compiled];
const child = spawn(process.execPath, [...args, ...process.argv.slice(2)], { stdio: 'inherit' });
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.on(signal, () => child.kill(signal));
}
child.on('error', (err) => {
  console.error(`sightline: cannot start node: ${err.message}`);
  process.exit(1);
});
// A command that died of a signal exits as a shell would report it: 128 + the signal number (130 for SIGINT).
child.on('exit', (code, signal) =>
  process.exit(code ?? (signal ? 128 + (constants.signals[signal] ?? 0) : 0)),
);
