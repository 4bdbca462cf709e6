/** --log-level and --log-format: taken from any command line before the command parses the rest. */
import { configureLogging, LOG_FORMATS, LOG_LEVELS, type LogFormat, type LogLevel } from '@sightline/shared';
import { UsageError } from './usage-error.ts';

/** The lines every long-running command's usage shows for the logging flags. */
export const LOG_USAGE = `  --log-level <level>   ${LOG_LEVELS.join(' | ')} (default $SIGHTLINE_LOG_LEVEL or info)
  --log-format <f>      pretty (one readable line per record; the default on a terminal) or json (JSON lines;
                        the default otherwise) (default $SIGHTLINE_LOG_FORMAT)
`;

export interface LogFlags {
  /** The command line without the logging flags. */
  argv: string[];
  level?: LogLevel;
  format?: LogFormat;
}

/**
 * Take `--log-level <level>` and `--log-format <format>` (or `--flag=value`) out of a command line, up to a `--`.
 * A missing or unknown value is a UsageError (exit 2) for `command`.
 */
export function takeLogFlags(argv: readonly string[], command?: string): LogFlags {
  const rest: string[] = [];
  const found: { level?: LogLevel; format?: LogFormat } = {};
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--') {
      rest.push(...argv.slice(i));
      break;
    }
    const m = /^--(log-level|log-format)(?:=(.*))?$/s.exec(arg);
    if (!m) {
      rest.push(arg);
      continue;
    }
    const name = m[1] as 'log-level' | 'log-format';
    let value = m[2];
    if (value === undefined) {
      value = argv[i + 1];
      if (value === undefined || value.startsWith('-')) {
        throw new UsageError(`--${name} needs a value`, command);
      }
      i++;
    }
    const allowed: readonly string[] = name === 'log-level' ? LOG_LEVELS : LOG_FORMATS;
    if (!allowed.includes(value)) {
      throw new UsageError(`--${name} expects one of ${allowed.join(', ')}, got "${value}"`, command);
    }
    if (name === 'log-level') found.level = value as LogLevel;
    else found.format = value as LogFormat;
  }
  return { argv: rest, ...found };
}

/**
 * Apply the logging flags: they win over $SIGHTLINE_LOG_LEVEL / $SIGHTLINE_LOG_FORMAT, which are set to them too
 * so worker threads and child processes started later log the same way.
 */
export function applyLogFlags(flags: Pick<LogFlags, 'level' | 'format'>): void {
  if (flags.level) process.env.SIGHTLINE_LOG_LEVEL = flags.level;
  if (flags.format) process.env.SIGHTLINE_LOG_FORMAT = flags.format;
  configureLogging({ level: flags.level, format: flags.format });
}
