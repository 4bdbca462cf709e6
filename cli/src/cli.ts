/**
 * The `sightline` command line: one table of every command and subcommand (its usage and what runs it), the
 * dispatch and --help / -h / `help <command>` over that table, and how errors become messages and exit codes.
 */
import { VERSION } from '@sightline/edge';
import { describeError, SightlineError } from '@sightline/shared';
import { CONFIG_USAGE, runConfigCheck, runConfigSchema } from './commands/config.ts';
import { DEMO_USAGE, runDemo } from './commands/demo.ts';
import { EDGE_USAGE, runEdge } from './commands/edge.ts';
import { ENHANCE_USAGE, runEnhance } from './commands/enhance.ts';
import { EVAL_USAGE, runEval } from './commands/eval.ts';
import { HUB_TOKEN_USAGE, HUB_USAGE, runHub, runToken } from './commands/hub.ts';
import { MODELS_USAGE, runModels } from './commands/models.ts';
import { runTune, TUNE_USAGE } from './commands/tune.ts';
import { runWorker, WORKER_USAGE } from './commands/worker.ts';
import { applyLogFlags, LOG_USAGE, takeLogFlags } from './logging.ts';
import { UsageError } from './usage-error.ts';

export const USAGE = `Usage: sightline <command> [options]

Commands:
  demo                 hub + one edge on the sample video; prints the URL to open
  edge run             run the edge pipeline on files, RTSP or HTTP sources
  eval mot             score tracks against MOTChallenge ground truth (MOTA, IDF1, ...)
  hub                  start the hub
  hub token <sub>      create | list | revoke API and enrollment tokens
  models <sub>         list | verify | fetch | prepare the models in models/manifest.json
  worker               serve models to the hubs' overflow queues in Redis
  tune                 measure inference layouts of a model on this host; store the best
  enhance <in> <out>   denoise, white-balance, stretch contrast or super-resolve a video to H.264 MP4
  config schema        print the JSON Schema of the edge config file
  config check <file>  validate an edge config file
  help [command]       show help for a command

Every command takes:
  -h, --help            print its usage
${LOG_USAGE}
Run "sightline help <command>" for its options. Version ${VERSION}.
`;

/** One command or subcommand. */
export interface Command {
  /** The words that name it, e.g. "hub token create". */
  path: string;
  /** What --help prints (stdout, exit 0). */
  usage: string;
  /**
   * Runs it with the arguments after its path; returns the exit code. A group without one (e.g. "models") prints
   * its usage to stderr and exits 2 when no subcommand follows.
   */
  run?: (argv: string[]) => Promise<number>;
}

/** Every command of the CLI: dispatch and help both come from here, so neither can miss one. */
export const COMMANDS: readonly Command[] = [
  { path: 'demo', usage: DEMO_USAGE, run: runDemo },
  { path: 'edge', usage: EDGE_USAGE },
  { path: 'edge run', usage: EDGE_USAGE, run: runEdge },
  { path: 'eval', usage: EVAL_USAGE },
  { path: 'eval mot', usage: EVAL_USAGE, run: (argv) => runEval(['mot', ...argv]) },
  { path: 'hub', usage: HUB_USAGE, run: runHub },
  { path: 'hub token', usage: HUB_TOKEN_USAGE },
  { path: 'hub token create', usage: HUB_TOKEN_USAGE, run: (argv) => runToken(['create', ...argv]) },
  { path: 'hub token list', usage: HUB_TOKEN_USAGE, run: (argv) => runToken(['list', ...argv]) },
  { path: 'hub token revoke', usage: HUB_TOKEN_USAGE, run: (argv) => runToken(['revoke', ...argv]) },
  { path: 'models', usage: MODELS_USAGE },
  { path: 'models list', usage: MODELS_USAGE, run: (argv) => runModels(['list', ...argv]) },
  { path: 'models verify', usage: MODELS_USAGE, run: (argv) => runModels(['verify', ...argv]) },
  { path: 'models fetch', usage: MODELS_USAGE, run: (argv) => runModels(['fetch', ...argv]) },
  { path: 'models prepare', usage: MODELS_USAGE, run: (argv) => runModels(['prepare', ...argv]) },
  { path: 'worker', usage: WORKER_USAGE, run: runWorker },
  { path: 'tune', usage: TUNE_USAGE, run: runTune },
  { path: 'enhance', usage: ENHANCE_USAGE, run: runEnhance },
  { path: 'config', usage: CONFIG_USAGE },
  { path: 'config schema', usage: CONFIG_USAGE, run: runConfigSchema },
  { path: 'config check', usage: CONFIG_USAGE, run: runConfigCheck },
  { path: 'help', usage: USAGE, run: async (argv) => help(argv) },
];

const BY_PATH = new Map(COMMANDS.map((c) => [c.path, c]));

/** The command named by the longest run of leading words of `argv`, and the arguments after it. */
export function findCommand(argv: readonly string[]): { command?: Command; rest: string[] } {
  let found: Command | undefined;
  let used = 0;
  for (let n = 1; n <= argv.length && !argv[n - 1]!.startsWith('-'); n++) {
    const command = BY_PATH.get(argv.slice(0, n).join(' '));
    if (command) {
      found = command;
      used = n;
    }
  }
  return { command: found, rest: argv.slice(used) };
}

/** Whether a command line asks for help: -h or --help before any `--`. */
function wantsHelp(argv: readonly string[]): boolean {
  const end = argv.indexOf('--');
  return (end < 0 ? argv : argv.slice(0, end)).some((a) => a === '--help' || a === '-h');
}

/** Where runCli itself prints usage and help (the commands print to process.stdout / stderr). */
export interface CliOutput {
  stdout: { write(text: string): unknown };
  stderr: { write(text: string): unknown };
}

/** `sightline help [command...]`: the usage of that command (stdout, exit 0); an unknown one is a usage error. */
function help(words: readonly string[], io: CliOutput = process): number {
  if (!words.length) {
    io.stdout.write(USAGE);
    return 0;
  }
  const command = BY_PATH.get(words.join(' '));
  if (!command) throw new UsageError(`no command "${words.join(' ')}"`);
  io.stdout.write(command.usage);
  return 0;
}

/** Run a command line (the arguments after `sightline`); returns the exit code, throws what main reports. */
export async function runCli(argv: readonly string[], io: CliOutput = process): Promise<number> {
  const { command: first } = findCommand(argv);
  const flags = takeLogFlags(argv, first?.path);
  applyLogFlags(flags);
  const args = flags.argv;
  if (args.length === 0) return help([], io);
  if (args[0] === '--version' || args[0] === '-v') {
    io.stdout.write(`${VERSION}\n`);
    return 0;
  }
  const { command, rest } = findCommand(args);
  if (wantsHelp(args)) {
    io.stdout.write(command?.usage ?? USAGE);
    return 0;
  }
  if (!command) {
    if (args[0]!.startsWith('-')) throw new UsageError(`unknown option "${args[0]}"`);
    io.stderr.write(`sightline: unknown command "${args[0]}"\n\n${USAGE}`);
    return 2;
  }
  if (command.path === 'help') return help(rest, io);
  if (command.run) return command.run(rest);
  // A group ("models", "hub token"): a subcommand must follow.
  if (rest.length) {
    throw new UsageError(`unknown ${command.path} subcommand "${rest[0]}"`, command.path);
  }
  io.stderr.write(command.usage);
  return 2;
}

/**
 * Node's parseArgs messages without its hints about `--` ("To specify an option argument starting with a dash
 * use ..."), which do not apply to how sightline's options are written.
 */
export function cleanParseArgsMessage(message: string): string {
  const ambiguous = /^Option '(--[\w-]+)(?: <value>)?' argument is ambiguous\./.exec(message);
  if (ambiguous) {
    const flag = ambiguous[1];
    return `Option '${flag}' argument is ambiguous: ${flag} needs a value (one starting with a dash goes as ${flag}=<value>)`;
  }
  return message
    .replace(/\s*To specify (an option argument|a positional argument)[\s\S]*$/, '')
    .replace(/\.$/, '');
}

/** What main prints to stderr for an error thrown by a command, and the exit code (2: usage error, else 1). */
export function reportError(err: unknown, argv: readonly string[]): { text: string; code: number } {
  // Unknown or malformed options (node:util parseArgs) and missing arguments are usage errors: exit 2.
  const parseArgsError =
    err instanceof TypeError && Boolean((err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS'));
  const usage = err instanceof UsageError || parseArgsError;
  let text = `sightline: ${
    parseArgsError
      ? cleanParseArgsMessage((err as Error).message)
      : usage
        ? (err as Error).message
        : describeError(err)
  }\n`;
  if (usage) {
    // The command a UsageError names, else the top-level command typed (its usage covers its subcommands).
    const named = err instanceof UsageError && err.command ? BY_PATH.get(err.command) : undefined;
    const command = named ?? BY_PATH.get(argv[0] ?? '');
    const helpCommand =
      command && command.path !== 'help' ? `sightline help ${command.path}` : 'sightline help';
    text += `Run "${helpCommand}" for the options.\n`;
  }
  if (!(err instanceof SightlineError) && !usage && err instanceof Error && process.env.SIGHTLINE_DEBUG) {
    text += `${err.stack}\n`;
  }
  return { text, code: usage ? 2 : 1 };
}
