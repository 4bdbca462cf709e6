/** One pino logger for the process; level from SIGHTLINE_LOG_LEVEL (default "info"). */
import { type Logger, pino } from 'pino';

export type { Logger };

let root: Logger | undefined;

/** The process logger, writing JSON lines to stderr so stdout stays for results. */
export function logger(): Logger {
  root ??= pino(
    { level: process.env.SIGHTLINE_LOG_LEVEL ?? 'info', base: { pid: process.pid } },
    pino.destination({ dest: 2, sync: true }),
  );
  return root;
}

/** A child logger tagged with a component name. */
export function childLogger(component: string, bindings: Record<string, unknown> = {}): Logger {
  return logger().child({ component, ...bindings });
}
