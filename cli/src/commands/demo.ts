/** `sightline demo` (what `npm start` runs): a hub and one enrolled edge on the sample video, with the URL to open. */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { EdgeAgent, ensureDemoAssets } from '@sightline/edge';
import { type HubServer, startHub } from '@sightline/hub';
import { parseEdgeConfig, SightlineError } from '@sightline/shared';
import { durationFlag, portFlag } from '../flags.ts';
import { ProgressPrinter } from '../progress.ts';
import { handleStopSignals } from '../stop-signals.ts';

export const DEMO_USAGE = `Usage: sightline demo [options]

Fetches the default model and the sample video when they are missing (sha256-checked), starts a hub
(PGlite in the data dir), enrolls one edge with it that loops the sample video in real time, and prints
the URL of the hub's status page (with a viewer token in its fragment).

  --port <n>        hub port (default 8080; 0 picks a free one)
  --data-dir <dir>  hub data and the demo edge's state (default $SIGHTLINE_DATA_DIR or ./data)
  --source <file>   use this video instead of the sample
  --model <id>      detection model (default: the manifest's default model)
  --duration <s>    stop after this many seconds (default: run until Ctrl-C)
`;

const DEMO_EDGE = 'demo-edge';

export async function runDemo(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      port: { type: 'string' },
      'data-dir': { type: 'string' },
      source: { type: 'string' },
      model: { type: 'string' },
      duration: { type: 'string' },
    },
  });
  // Flags first: a bad value is a usage error (exit 2) before anything is downloaded or started.
  const duration = durationFlag('demo', values.duration);
  const port = portFlag('demo', values.port) ?? 8080;
  const dataDir = resolve(values['data-dir'] ?? process.env.SIGHTLINE_DATA_DIR ?? './data');
  const assets = await withOfflineHint(
    ensureDemoAssets({ model: values.model, media: values.source ? false : undefined }),
  );
  const hub = await startHub({ port, dataDir });
  let agent: EdgeAgent;
  let viewerToken: string;
  try {
    viewerToken = await demoViewerToken(hub);
    const stateDir = join(dataDir, 'demo-edge');
    // First run: enroll with a fresh one-time token; later runs reuse the credential saved in stateDir.
    const enrolled = existsSync(join(stateDir, 'credential.json'));
    const enrollmentToken = enrolled
      ? undefined
      : (await hub.tokens.create({ role: 'enroll', edgeId: DEMO_EDGE, name: 'demo edge enrollment' })).token;
    const config = parseEdgeConfig(
      {
        edgeId: DEMO_EDGE,
        streams: [{ id: 'sample', source: values.source ?? assets.mediaPath!, loop: true, realtime: true }],
        detector: { model: assets.modelId },
        hub: { url: hub.url, stateDir, ...(enrollmentToken ? { enrollmentToken } : {}) },
      },
      'demo settings',
    );
    agent = await EdgeAgent.start(config);
  } catch (err) {
    await hub.close(); // a listening hub left behind would keep the process alive after the error
    throw err;
  }
  process.stdout.write(
    `\nSightline demo running. Open ${hub.url}/viewer#token=${viewerToken} in a browser (Ctrl-C to stop).\n` +
      `Fleet status: ${hub.url}/ · API docs: ${hub.url}/api/v1/docs · data in ${dataDir}\n\n`,
  );
  const progress = new ProgressPrinter({ stream: process.stderr });
  const signals = handleStopSignals({ out: { write: (text) => progress.note(text) } });
  progress.start(() => agent.runtime.stats());
  await new Promise<void>((resolve) => {
    void signals.requested.then(() => resolve());
    if (duration) setTimeout(resolve, duration * 1000).unref();
  });
  progress.stop();
  await agent.close();
  await hub.close();
  signals.dispose();
  process.stdout.write('demo stopped\n');
  return 0;
}

/** The demo's viewer token, kept in the data dir (mode 0600) and reused while it still works. */
async function demoViewerToken(hub: HubServer): Promise<string> {
  const file = join(hub.dataDir, 'demo-viewer-token');
  try {
    const saved = readFileSync(file, 'utf8').trim();
    if (typeof (await hub.tokens.verify(saved)) === 'object') return saved;
  } catch {
    // missing or unreadable: make a new one
  }
  const { token } = await hub.tokens.create({ role: 'viewer', name: 'demo viewer' });
  writeFileSync(file, `${token}\n`, { mode: 0o600 });
  return token;
}

/** On a machine that cannot download, say how to point the demo at files already on disk. */
async function withOfflineHint<T>(work: Promise<T>): Promise<T> {
  try {
    return await work;
  } catch (err) {
    if (err instanceof SightlineError && err.code === 'FETCH_FAILED') {
      throw new SightlineError(
        'FETCH_FAILED',
        `${err.message}\n  Offline? Put the files in a folder and run: MODELS_DIR=<models folder> SIGHTLINE_MEDIA_DIR=<media folder> npm start`,
        { cause: err },
      );
    }
    throw err;
  }
}
