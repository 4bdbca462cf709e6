/**
 * `sightline tune`: measure the inference layouts of a model on this host (the original design's
 * PerformanceOptimizer), store the fastest within the latency budget, print the table.
 */
import { parseArgs } from 'node:util';
import {
  defaultStateDir,
  describeLayout,
  formatTuningTable,
  InferencePool,
  loadModel,
  runTuning,
  storeTuning,
  tuneImage,
  tuningKey,
} from '@sightline/edge';
import { ExecutionProvider, SightlineError } from '@sightline/shared';
import { numberFlag } from '../flags.ts';
import { LOG_USAGE } from '../logging.ts';
import { ProgressBar } from '../progress.ts';
import { UsageError } from '../usage-error.ts';

export const TUNE_USAGE = `Usage: sightline tune --model <id> [options]

  --model <id>          a model from models/manifest.json, e.g. yolox_nano
  --provider <p>        execution provider: ${ExecutionProvider.options.join(', ')} (default cpu)
  --seconds <n>         measuring time per candidate layout (default 3)
  --budget-ms <ms>      latency budget: the p95 of one call must be within it (default 250)
  --max-candidates <n>  measure only the first n candidate layouts (quick checks)
  --models-dir <dir>    directory holding the model files (default $MODELS_DIR or models/cache)
  --json                print the result as JSON on stdout
${LOG_USAGE}
Measures throughput (frames/s) and p95 latency per call with the real inference pool: for dynamic-batch models
at batch 1, 2, 4, ... up to the model's maxBatch (at most 64); for the others every layout of sessions x
intra-op threads (sessions x threads <= CPUs), spinning on and off. Frames are $SIGHTLINE_MEDIA_DIR/bus.jpg
when present, else a synthetic frame. The fastest layout within the budget (else the one with the lowest p95)
is stored in <state dir>/tuning.json ($SIGHTLINE_STATE_DIR, default ~/.cache/sightline), keyed by host name,
model, the model file's sha256, provider and CPU count, with the measured table. "sightline edge run" and
"sightline worker" start with it when their config sets none of sessions, intraOpThreads, spinning and
batchSize. When the model file or the provider changed since, they measure again (1 s per layout) before
starting and store the new tuning.

Exit codes:
  0   measured and stored
  1   unknown or missing model, the provider cannot run it, or no layout could run
  2   usage error (unknown flag, bad flag value)
`;

export async function runTune(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      model: { type: 'string' },
      provider: { type: 'string' },
      seconds: { type: 'string' },
      'budget-ms': { type: 'string' },
      'max-candidates': { type: 'string' },
      'models-dir': { type: 'string' },
      json: { type: 'boolean', default: false },
    },
  });
  if (positionals.length) throw new UsageError(`unexpected argument "${positionals[0]}"`, 'tune');
  if (!values.model) throw new UsageError('tune needs --model <id>', 'tune');
  const provider = values.provider ?? 'cpu';
  if (!ExecutionProvider.safeParse(provider).success) {
    throw new UsageError(
      `--provider expects one of ${ExecutionProvider.options.join(', ')}, got "${provider}"`,
      'tune',
    );
  }
  const seconds =
    numberFlag(
      'tune',
      'seconds',
      values.seconds,
      'a number of seconds 0.1..600',
      (n) => n >= 0.1 && n <= 600,
    ) ?? 3;
  const budgetMs =
    numberFlag('tune', 'budget-ms', values['budget-ms'], 'a number of milliseconds > 0', (n) => n > 0) ?? 250;
  const maxCandidates = numberFlag(
    'tune',
    'max-candidates',
    values['max-candidates'],
    'an integer >= 1',
    (n) => Number.isInteger(n) && n >= 1,
  );
  // Throws ModelError (exit 1) for an unknown or missing model.
  const model = await loadModel(values.model, { modelsDir: values['models-dir'] });
  const image = tuneImage();
  const bar = new ProgressBar(process.stderr);
  let result: Awaited<ReturnType<typeof runTuning>>;
  try {
    result = await runTuning({
      entry: model.entry,
      modelPath: model.path,
      labels: model.labels,
      provider: provider as ExecutionProvider,
      image,
      seconds,
      budgetMs,
      factory: (o) => InferencePool.create(o),
      ...(maxCandidates ? { maxCandidates } : {}),
      onProgress: (i, total, layout, fraction) => bar.update(i, total, fraction, describeLayout(layout)),
    });
  } finally {
    bar.done();
  }
  const { tuning, table } = result;
  if (!tuning) {
    const why = table.find((r) => r.error)?.error ?? 'no call finished';
    throw new SightlineError(
      'INFERENCE_FAILED',
      `no layout of ${model.entry.id} could run on ${provider}: ${why}`,
    );
  }
  const path = storeTuning(tuning, defaultStateDir());
  if (values.json) {
    process.stdout.write(`${JSON.stringify({ path, key: tuningKey(tuning), ...tuning }, null, 2)}\n`);
    return 0;
  }
  process.stdout.write(
    `${model.entry.id} on ${provider}, ${tuning.cpus} CPUs, ${seconds} s per layout, budget p95 <= ${budgetMs} ms\n\n`,
  );
  process.stdout.write(formatTuningTable(table, tuning.layout));
  process.stdout.write(
    `\n${tuning.withinBudget ? 'best within budget' : `no layout within ${budgetMs} ms; lowest p95`}: ` +
      `${describeLayout(tuning.layout)}\nstored in ${path}\n`,
  );
  return 0;
}
