/**
 * One pino logger for the process, on stderr so stdout stays for results. Level from SIGHTLINE_LOG_LEVEL (default
 * "info"); format from SIGHTLINE_LOG_FORMAT: "json" (JSON lines) or "pretty" (one human-readable line per record),
 * by default pretty when stderr is a terminal and JSON otherwise. `configureLogging` (the CLI's --log-level and
 * --log-format) overrides both.
 */
import { type Logger, pino } from 'pino';

export type { Logger };

/** The levels a logger can be set to, most verbose first ("silent" logs nothing). */
export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** json: one JSON object per line (numeric level, epoch ms time); pretty: `12:03:04.567 INFO  edge: message k=v`. */
export const LOG_FORMATS = ['json', 'pretty'] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];

export interface LoggingOptions {
  /** Default $SIGHTLINE_LOG_LEVEL or "info". */
  level?: LogLevel;
  /** Default $SIGHTLINE_LOG_FORMAT, else pretty when stderr is a terminal and json otherwise. */
  format?: LogFormat;
  /** Colour the level names of pretty lines. Default: when stderr is a terminal and $NO_COLOR is unset. */
  colors?: boolean;
}

let root: Logger | undefined;
let settings: LoggingOptions = {};
let writer: ((text: string) => void) | undefined;
let stderr: { write(text: string): unknown } | undefined;
/** The format and colours in force, worked out once (configureLogging starts over), not on every line. */
let output: { format: LogFormat; colors: boolean } | undefined;

/**
 * Set the level and format of the process logger. Call it before the first log line: loggers made by
 * childLogger() earlier keep the level they were made with (the format changes for every logger at once).
 */
export function configureLogging(options: LoggingOptions): void {
  if (options.level !== undefined && !LOG_LEVELS.includes(options.level)) {
    throw new RangeError(`Expected a log level (${LOG_LEVELS.join(', ')}) but received ${options.level}`);
  }
  if (options.format !== undefined && !LOG_FORMATS.includes(options.format)) {
    throw new RangeError(`Expected a log format (${LOG_FORMATS.join(', ')}) but received ${options.format}`);
  }
  settings = { ...options };
  output = undefined;
  if (root) root.level = levelSetting();
}

/** The format log lines are written in now. */
export function logFormat(): LogFormat {
  return resolvedOutput().format;
}

function resolvedOutput(): { format: LogFormat; colors: boolean } {
  if (!output) {
    const wanted = settings.format ?? process.env.SIGHTLINE_LOG_FORMAT;
    const tty = Boolean(process.stderr.isTTY);
    output = {
      format: wanted === 'json' || wanted === 'pretty' ? wanted : tty ? 'pretty' : 'json',
      colors: settings.colors ?? (tty && !process.env.NO_COLOR),
    };
  }
  return output;
}

function levelSetting(): LogLevel {
  return settings.level ?? (process.env.SIGHTLINE_LOG_LEVEL as LogLevel | undefined) ?? 'info';
}

/**
 * Send every log line (already formatted, ending in a newline) to `write` instead of stderr, e.g. a terminal
 * progress display that clears its lines, prints the log line and draws them again. Undefined restores stderr.
 */
export function setLogWriter(write: ((text: string) => void) | undefined): void {
  writer = write;
}

/** pino's destination: formats each JSON line as the current format asks, then writes it synchronously. */
const destination = {
  write(line: string): void {
    const { format, colors } = resolvedOutput();
    const text = format === 'pretty' ? formatLogLine(line, { colors }) : line;
    if (writer) {
      writer(text);
      return;
    }
    stderr ??= pino.destination({ dest: 2, sync: true });
    stderr.write(text);
  },
};

/** The process logger. */
export function logger(): Logger {
  root ??= pino({ level: levelSetting(), base: { pid: process.pid } }, destination);
  return root;
}

/** A child logger tagged with a component name. */
export function childLogger(component: string, bindings: Record<string, unknown> = {}): Logger {
  return logger().child({ component, ...bindings });
}

const LEVEL_NAMES: Record<number, string> = {
  10: 'TRACE',
  20: 'DEBUG',
  30: 'INFO',
  40: 'WARN',
  50: 'ERROR',
  60: 'FATAL',
};
/** ANSI colours of the level names. */
const LEVEL_COLORS: Record<number, string> = { 10: '90', 20: '36', 30: '32', 40: '33', 50: '31', 60: '35' };
/** Fields every record has that the pretty line shows in its own place (or not at all). */
const PLACED = new Set(['level', 'time', 'msg', 'component', 'pid', 'hostname']);

/** A field value: bare when it is a plain word or number, JSON otherwise (strings with spaces are quoted). */
function formatValue(value: unknown): string {
  if (typeof value === 'string') return /^[^\s"=]+$/.test(value) ? value : JSON.stringify(value);
  if (value !== null && typeof value === 'object' && 'message' in value && 'stack' in value) {
    return JSON.stringify(String((value as { message: unknown }).message)); // a serialized Error
  }
  return JSON.stringify(value) ?? String(value);
}

function localTime(ms: number): string {
  const d = new Date(ms);
  const two = (n: number) => String(n).padStart(2, '0');
  return `${two(d.getHours())}:${two(d.getMinutes())}:${two(d.getSeconds())}.${String(d.getMilliseconds()).padStart(3, '0')}`;
}

/**
 * One log record as a human-readable line: local time, level name, component, message, then the other fields as
 * key=value, e.g. `12:03:04.567 WARN  inference: provider missing  provider=cuda model=yolox_nano`. An error
 * record's stack follows on indented lines.
 */
export function formatLogRecord(record: Record<string, unknown>, options: { colors?: boolean } = {}): string {
  const level = typeof record.level === 'number' ? record.level : 30;
  let name = (LEVEL_NAMES[level] ?? String(record.level)).padEnd(5);
  if (options.colors && LEVEL_COLORS[level]) name = `\x1b[${LEVEL_COLORS[level]}m${name}\x1b[39m`;
  const time = typeof record.time === 'number' ? localTime(record.time) : String(record.time ?? '');
  const component = typeof record.component === 'string' ? `${record.component}: ` : '';
  const fields = Object.entries(record)
    .filter(([key, value]) => !PLACED.has(key) && value !== undefined)
    .map(([key, value]) => `${key}=${formatValue(value)}`);
  let line = `${time} ${name} ${component}${String(record.msg ?? '')}`;
  if (fields.length) line += `  ${fields.join(' ')}`;
  const stack = (record.err as { stack?: unknown } | undefined)?.stack;
  if (level >= 50 && typeof stack === 'string') {
    line += `\n${stack
      .split('\n')
      .map((l) => `    ${l.trim()}`)
      .join('\n')}`;
  }
  return `${line}\n`;
}

/** formatLogRecord of one JSON line as pino writes it; a line that is not JSON comes back unchanged. */
export function formatLogLine(line: string, options: { colors?: boolean } = {}): string {
  let record: unknown;
  try {
    record = JSON.parse(line);
  } catch {
    return line;
  }
  if (record === null || typeof record !== 'object' || Array.isArray(record)) return line;
  return formatLogRecord(record as Record<string, unknown>, options);
}
