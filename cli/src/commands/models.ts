/** `sightline models list | verify | fetch | prepare`: the model catalogue from the command line. */
import { parseArgs } from 'node:util';
import { fetchModels, listModels, loadModel, prepareModel, verifyModels } from '@sightline/edge';
import { InferenceConfig } from '@sightline/shared';
import { providersFlag } from '../flags.ts';
import { LOG_USAGE } from '../logging.ts';

export const MODELS_USAGE = `Usage: sightline models <list|verify|fetch|prepare> [ids...] [options]

  list                      every model, label file and sample video, with present / verified status
  verify [ids...]           check sizes and sha256 of present files (exit 1 when any fails)
  fetch [ids...]            download missing or wrong files from their upstream URL and verify them
  prepare [id]              build TensorRT engines ahead of time (or warm the CPU session)

  --json                    (list, verify, fetch) print JSON instead of text (shapes below)
  --media                   (verify, fetch) include the sample videos
  --force                   (fetch) download again even when the file verifies
  --providers <list>        (prepare) e.g. tensorrt,cuda,cpu (default tensorrt,cuda,cpu)
${LOG_USAGE}
Files live in $MODELS_DIR (default models/cache) and $SIGHTLINE_MEDIA_DIR (default media/cache).

JSON output (stdout; download progress stays on stderr):
  list     [{id, kind, task, file, bytes, licence, url, path, status, message?}, ...]
  verify   {"results": [{id, path, status: verified|missing|corrupt|unreadable, message?}, ...], "failures": n}
  fetch    {"results": [{id, path, action: present|fetched|failed, error?}, ...], "failures": n}
`;

export async function runModels(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  const { values, positionals } = parseArgs({
    args: rest,
    allowPositionals: true,
    options: {
      json: { type: 'boolean', default: false },
      media: { type: 'boolean', default: false },
      force: { type: 'boolean', default: false },
      providers: { type: 'string' },
    },
  });
  const ids = positionals.length ? positionals : undefined;
  switch (sub) {
    case 'list':
      await listModels({ json: values.json });
      return 0;
    case 'verify':
      return (await verifyModels({ ids, media: values.media, json: values.json })).failures ? 1 : 0;
    case 'fetch':
      return (await fetchModels({ ids, media: values.media, force: values.force, json: values.json }))
        .failures
        ? 1
        : 0;
    case 'prepare': {
      const providers = providersFlag('models', values.providers ?? 'tensorrt,cuda,cpu');
      const model = await loadModel(positionals[0] ?? 'yolox_nano');
      const inference = InferenceConfig.parse({ providers });
      await prepareModel(model.entry, model.path, inference, (p) => {
        process.stderr.write(`${p.message ?? ''}\n`);
      });
      return 0;
    }
    default:
      process.stderr.write(MODELS_USAGE);
      return 2;
  }
}
