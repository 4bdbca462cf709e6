/**
 * `sightline demo` (what `npm start` runs): a hub and one enrolled edge on two sample videos, tracked with DeepSORT
 * so every person carries a re-ID embedding and "find this person" searches across both streams; prints the URL.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { parseArgs } from 'node:util';
import { EdgeAgent, ensureDemoAssets } from '@sightline/edge';
import { type HubServer, startHub } from '@sightline/hub';
import { parseEdgeConfig, SightlineError } from '@sightline/shared';
import { dataDirOf, reportNewDataDir } from '../data-dir.ts';
import { durationFlag, portFlag } from '../flags.ts';
import { LOG_USAGE } from '../logging.ts';
import { ProgressPrinter } from '../progress.ts';
import { handleStopSignals } from '../stop-signals.ts';
import { UsageError } from '../usage-error.ts';

export const DEMO_USAGE = `Usage: sightline demo [options]

Fetches the default model, the re-ID model and the sample videos when they are missing (sha256-checked),
starts a hub (PGlite in the data dir), enrolls one edge with it that loops each sample video in real time as
its own stream, and prints the URL of the live viewer (with a viewer token in its fragment). People are
tracked with DeepSORT, so each carries an appearance embedding: click one in the viewer to see where else
they were seen.

  --port <n>        hub port (default 8080; 0 picks a free one)
  --data-dir <dir>  hub data and the demo edge's state (default $SIGHTLINE_DATA_DIR or ./data)
  --source <file>   use this video instead of the samples (repeat for several streams)
  --model <id>      detection model (default: the manifest's default model)
  --tracker <type>  deepsort (appearance embeddings, similar-track search) or bytetrack (motion only,
                    less CPU) (default deepsort)
  --duration <s>    stop after this many seconds (default: run until Ctrl-C)
${LOG_USAGE}
A data dir that does not exist yet is created (and said so on stderr).
`;

const DEMO_EDGE = 'demo-edge';

export async function runDemo(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      port: { type: 'string' },
      'data-dir': { type: 'string' },
      source: { type: 'string', multiple: true },
      model: { type: 'string' },
      tracker: { type: 'string' },
      duration: { type: 'string' },
    },
  });
  // Flags first: a bad value is a usage error (exit 2) before anything is downloaded or started.
  const duration = durationFlag('demo', values.duration);
  const port = portFlag('demo', values.port) ?? 8080;
  const tracker = values.tracker ?? 'deepsort';
  if (tracker !== 'deepsort' && tracker !== 'bytetrack') {
    throw new UsageError(`--tracker expects deepsort or bytetrack, got "${tracker}"`, 'demo');
  }
  const dataDir = dataDirOf(values['data-dir']);
  const sources = values.source ?? [];
  const assets = await withOfflineHint(
    ensureDemoAssets({
      model: values.model,
      media: sources.length ? false : undefined,
      reidModel: tracker === 'deepsort' ? undefined : false,
    }),
  );
  const streams = sources.length
    ? sources.map((source, i) => ({ id: streamIdOf(source, i), source }))
    : assets.media.map((m) => ({ id: m.id, source: m.path }));
  const reportNew = reportNewDataDir(dataDir);
  const hub = await startHub({ port, dataDir });
  reportNew();
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
        streams: streams.map((s) => ({ ...s, loop: true, realtime: true })),
        detector: { model: assets.modelId },
        tracker: { type: tracker },
        ...(assets.reidModelId ? { reid: { model: assets.reidModelId } } : {}),
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
  progress.release();
  signals.dispose();
  process.stdout.write('demo stopped\n');
  return 0;
}

/** A stream id from a file name ("Front Door.mp4" -> "front-door"), numbered when two would be the same. */
function streamIdOf(source: string, index: number): string {
  const stem = basename(source).replace(/\.[^.]*$/, '');
  const id = stem
    .toLowerCase()
    .replace(/[^a-z0-9_.-]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 48);
  return `${id || 'source'}-${index + 1}`;
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
