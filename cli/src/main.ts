/** The `sightline` command: routes subcommands and turns errors into clear messages and exit codes. */

import { VERSION } from '@sightline/edge';
import { describeError, SightlineError } from '@sightline/shared';
import { DEMO_USAGE, runDemo } from './commands/demo.ts';
import { EDGE_USAGE, runEdge } from './commands/edge.ts';
import { EVAL_USAGE, runEval } from './commands/eval.ts';
import { HUB_USAGE, runHub } from './commands/hub.ts';
import { MODELS_USAGE, runModels } from './commands/models.ts';
import { UsageError } from './usage-error.ts';

const USAGE = `Usage: sightline <command> [options]

Commands:
  demo                 hub + one edge on the sample video; prints the URL to open
  edge run             run the edge pipeline on files, RTSP or HTTP sources
  eval mot             score tracks against MOTChallenge ground truth (MOTA, IDF1, ...)
  hub                  start the hub
  models <sub>         list | verify | fetch | prepare the models in models/manifest.json
  help [command]       show help for a command

Run "sightline help <command>" for its options. Version ${VERSION}.
`;

const HELP: Record<string, string> = {
  demo: DEMO_USAGE,
  edge: EDGE_USAGE,
  eval: EVAL_USAGE,
  hub: HUB_USAGE,
  models: MODELS_USAGE,
};

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'demo':
      return runDemo(rest);
    case 'edge':
      if (rest[0] !== 'run') {
        process.stderr.write(EDGE_USAGE);
        return 2;
      }
      return runEdge(rest.slice(1));
    case 'eval':
      return runEval(rest);
    case 'hub':
      return runHub(rest);
    case 'models':
      return runModels(rest);
    case '--version':
    case '-v':
      process.stdout.write(`${VERSION}\n`);
      return 0;
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      process.stdout.write((rest[0] && HELP[rest[0]]) || USAGE);
      return 0;
    default:
      process.stderr.write(`sightline: unknown command "${command}"\n\n${USAGE}`);
      return 2;
  }
}

const argv = process.argv.slice(2);
main(argv).then(
  (code) => {
    process.exitCode = code;
    // Anything still holding the event loop after a command finished is a leak; do not hang on it.
    setTimeout(() => process.exit(code), 3000).unref();
  },
  (err: unknown) => {
    // Unknown or malformed options (node:util parseArgs) and missing arguments are usage errors: exit 2.
    const usage =
      err instanceof UsageError ||
      (err instanceof TypeError && (err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS'));
    process.stderr.write(`sightline: ${usage ? (err as Error).message : describeError(err)}\n`);
    if (usage) {
      const command = (err instanceof UsageError && err.command) || argv[0];
      const help = command && command in HELP ? `sightline help ${command}` : 'sightline help';
      process.stderr.write(`Run "${help}" for the options.\n`);
    }
    if (!(err instanceof SightlineError) && !usage && err instanceof Error && process.env.SIGHTLINE_DEBUG) {
      process.stderr.write(`${err.stack}\n`);
    }
    const code = usage ? 2 : 1;
    process.exitCode = code;
    // As on success: a handle a failed command left open must not keep the process alive.
    setTimeout(() => process.exit(code), 3000).unref();
  },
);
