/** `sightline demo` (what `npm start` runs): a hub and one edge on the sample video, with the URL to open. */
import { parseArgs } from 'node:util';
import { EdgeRuntime, ensureDemoAssets } from '@sightline/edge';
import { startHub } from '@sightline/hub';
import { type EdgeConfig, parseEdgeConfig, SightlineError } from '@sightline/shared';
import { durationFlag, portFlag } from '../flags.ts';
import { ProgressPrinter } from '../progress.ts';
import { handleStopSignals } from '../stop-signals.ts';

export const DEMO_USAGE = `Usage: sightline demo [options]

Fetches the default model and the sample video when they are missing (sha256-checked), starts a hub
and one edge that loops the sample video in real time, and prints the URL of the hub's status page.

  --port <n>        hub port (default 8080; 0 picks a free one)
  --source <file>   use this video instead of the sample
  --model <id>      detection model (default: the manifest's default model)
  --duration <s>    stop after this many seconds (default: run until Ctrl-C)
`;

export async function runDemo(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      port: { type: 'string' },
      source: { type: 'string' },
      model: { type: 'string' },
      duration: { type: 'string' },
    },
  });
  // Flags first: a bad value is a usage error (exit 2) before anything is downloaded or started.
  const duration = durationFlag('demo', values.duration);
  const port = portFlag('demo', values.port) ?? 8080;
  const assets = await withOfflineHint(
    ensureDemoAssets({ model: values.model, media: values.source ? false : undefined }),
  );
  const hub = await startHub({ port });
  let config: EdgeConfig;
  try {
    config = parseEdgeConfig(
      {
        edgeId: 'demo-edge',
        streams: [{ id: 'sample', source: values.source ?? assets.mediaPath!, loop: true, realtime: true }],
        detector: { model: assets.modelId },
        hubUrl: hub.url,
      },
      'demo settings',
    );
  } catch (err) {
    await hub.close(); // a listening hub left behind would keep the process alive after the error
    throw err;
  }
  const runtime = new EdgeRuntime(config);
  try {
    await runtime.start();
  } catch (err) {
    await runtime.close();
    await hub.close();
    throw err;
  }
  process.stdout.write(`\nSightline demo running. Open ${hub.url}/ in a browser (Ctrl-C to stop).\n\n`);
  const progress = new ProgressPrinter({ stream: process.stderr });
  const signals = handleStopSignals({ out: { write: (text) => progress.note(text) } });
  progress.start(() => runtime.stats());
  await new Promise<void>((resolve) => {
    void signals.requested.then(() => resolve());
    if (duration) setTimeout(resolve, duration * 1000).unref();
  });
  progress.stop();
  await runtime.close();
  await hub.close();
  signals.dispose();
  process.stdout.write('demo stopped\n');
  return 0;
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
