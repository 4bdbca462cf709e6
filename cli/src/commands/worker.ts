/** `sightline worker`: serve models to the hubs' overflow queues in Redis (frames edges could not infer in time). */
import { parseArgs } from 'node:util';
import {
  ExecutionProvider,
  ID_PATTERN,
  ID_RULE,
  InferenceConfig,
  REDIS_PREFIX_DEFAULT,
} from '@sightline/shared';
import { OverflowWorker } from '@sightline/worker';
import { z } from 'zod';
import { numberFlag } from '../flags.ts';
import { LOG_USAGE } from '../logging.ts';
import { handleStopSignals } from '../stop-signals.ts';
import { UsageError } from '../usage-error.ts';

export const WORKER_USAGE = `Usage: sightline worker --model <id> [--model <id> ...] [options]

  --model <id>        a model from models/manifest.json to serve, e.g. yolox_nano (repeat for more)
  --redis <url>       the hubs' Redis (default $REDIS_URL or redis://127.0.0.1:6379)
  --prefix <p>        key prefix of the hubs' Redis keys (default ${REDIS_PREFIX_DEFAULT})
  --provider <p>      execution provider: ${ExecutionProvider.options.join(', ')} (default cpu)
  --sessions <n>      inference sessions (worker threads) per model (default: the layout stored by
                      "sightline tune" for this host, model and provider, else 2)
  --batch <n>         frames per model call, 1..64, for models with a dynamic or rewritable batch (default:
                      the tuned batch, else 16 on cuda/tensorrt and single frames for yolox_nano on cpu)
  --models-dir <dir>  directory holding the model files (default $MODELS_DIR or models/cache)
  --id <id>           this worker's id and consumer name (default <host name>-<pid>)
  --claim-idle-ms <n> take over entries a stopped worker left after this long idle (default 10000)
${LOG_USAGE}
Takes requests from <prefix>overflow:<model> (consumer group "workers"), batches frames of many edges into
each model call, and answers on the asking hub's <prefix>results:<hub>. Entries of a worker that stopped are
taken over after --claim-idle-ms. Ctrl-C or SIGTERM answers the frames taken, deregisters and exits.

Exit codes:
  0   stopped (Ctrl-C, SIGTERM)
  1   Redis unreachable, unknown or missing model, the model cannot run on the provider, or it failed for good
  2   usage error (unknown flag, bad flag value)
  130 a second Ctrl-C while the shutdown was stuck
`;

export async function runWorker(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      model: { type: 'string', multiple: true },
      redis: { type: 'string' },
      prefix: { type: 'string' },
      provider: { type: 'string' },
      sessions: { type: 'string' },
      batch: { type: 'string' },
      'models-dir': { type: 'string' },
      id: { type: 'string' },
      'claim-idle-ms': { type: 'string' },
    },
  });
  if (positionals.length) throw new UsageError(`unexpected argument "${positionals[0]}"`, 'worker');
  const models = values.model ?? [];
  if (!models.length) throw new UsageError('worker needs at least one --model <id>', 'worker');
  const provider = values.provider;
  if (provider !== undefined && !ExecutionProvider.safeParse(provider).success) {
    throw new UsageError(
      `--provider expects one of ${ExecutionProvider.options.join(', ')}, got "${provider}"`,
      'worker',
    );
  }
  const sessions = numberFlag(
    'worker',
    'sessions',
    values.sessions,
    'an integer 1..64',
    InferenceConfig.shape.sessions,
  );
  const batchSize = numberFlag(
    'worker',
    'batch',
    values.batch,
    'an integer 1..64',
    InferenceConfig.shape.batchSize,
  );
  const claimIdleMs = numberFlag(
    'worker',
    'claim-idle-ms',
    values['claim-idle-ms'],
    'an integer 100..600000 (ms)',
    z.number().int().min(100).max(600_000),
  );
  if (values.id !== undefined && !ID_PATTERN.test(values.id)) {
    throw new UsageError(`--id expects ${ID_RULE}, got "${values.id}"`, 'worker');
  }
  if (values.redis !== undefined && !/^rediss?:\/\//i.test(values.redis)) {
    throw new UsageError(`--redis expects a redis:// or rediss:// URL, got "${values.redis}"`, 'worker');
  }
  if (values.prefix === '') throw new UsageError('--prefix expects a key prefix, got ""', 'worker');
  const worker = new OverflowWorker({
    models,
    redisUrl: values.redis,
    prefix: values.prefix,
    modelsDir: values['models-dir'],
    workerId: values.id,
    ...(claimIdleMs ? { claimIdleMs } : {}),
    // A model's stored tuning (sightline tune) sets its layout unless --sessions or --batch does.
    tuning: {},
    inference: {
      ...(provider ? { providers: [provider as ExecutionProvider] } : {}),
      ...(sessions ? { sessions } : {}),
      ...(batchSize ? { batchSize } : {}),
    },
  });
  // Throws (exit 1) for an unreachable Redis, an unknown model or one that cannot run.
  await worker.start();
  const signals = handleStopSignals();
  let failure: string | undefined;
  const failed = new Promise<void>((resolve) =>
    worker.once('failed', (model, err) => {
      failure = `the ${model} model failed: ${err.message}`;
      resolve();
    }),
  );
  process.stdout.write(
    `Sightline worker ${worker.id} serving ${worker.models.join(', ')} from ${worker.redisUrl.replace(/\/\/[^@/]*@/, '//***@')} (prefix ${worker.prefix})\n`,
  );
  await Promise.race([signals.requested, failed]);
  await worker.close();
  signals.dispose();
  if (failure) {
    process.stderr.write(`sightline: ${failure}\n`);
    return 1;
  }
  return 0;
}
