/** Where the tests find a mediasoup-worker binary (the same order as scripts/build-mediasoup-worker.mjs's users). */
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { homedir } from 'node:os';
import { dirname, join, resolve } from 'node:path';

/** MEDIASOUP_WORKER_BIN, else the build script's cache, else mediasoup's own; undefined when none exists. */
export function findMediasoupWorker(): string | undefined {
  const hubDir = resolve(import.meta.dirname, '..', '..', 'hub');
  const mediasoupDir = resolve(dirname(createRequire(join(hubDir, 'x.js')).resolve('mediasoup')), '..', '..');
  const version: string = JSON.parse(readFileSync(join(mediasoupDir, 'package.json'), 'utf8')).version;
  const candidates = [
    process.env.MEDIASOUP_WORKER_BIN,
    join(
      process.env.MEDIASOUP_WORKER_CACHE ||
        join(homedir(), '.cache', 'sightline', `mediasoup-worker-${version}`),
      'mediasoup-worker',
    ),
    join(mediasoupDir, 'worker', 'out', 'Release', 'mediasoup-worker'),
  ];
  return candidates.find((p): p is string => !!p && existsSync(p));
}
