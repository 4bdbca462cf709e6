/** `sightline demo` (what `npm start` runs): a hub and one edge on the sample video, with the URL to open. */
import { parseArgs } from 'node:util';
import { EdgeRuntime, ensureDemoAssets } from '@sightline/edge';
import { startHub } from '@sightline/hub';
import { type EdgeConfig, parseEdgeConfig, SightlineError } from '@sightline/shared';
import { ProgressPrinter } from '../progress.ts';
import { parsePort } from './hub.ts';

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
  const duration = values.duration === undefined ? undefined : Number(values.duration);
  if (duration !== undefined && !(duration > 0))
    throw new RangeError(`--duration expects seconds > 0, got "${values.duration}"`);
  const assets = await withOfflineHint(
    ensureDemoAssets({ model: values.model, media: values.source ? false : undefined }),
  );
  const hub = await startHub({ port: parsePort(values.port) ?? 8080 });
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
  progress.start(() => runtime.stats());
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
    if (duration) setTimeout(resolve, duration * 1000).unref();
  });
  progress.stop();
  await runtime.close();
  await hub.close();
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
