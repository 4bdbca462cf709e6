/** Checks of command-line flag values: every bad value is a UsageError (exit 2) naming the flag and the value. */
import { ExecutionProvider, HubLinkConfig } from '@sightline/shared';
import { UsageError } from './usage-error.ts';

/** A config schema field (zod) that checks a value. */
interface Schema {
  safeParse(value: unknown): { success: boolean };
}

/** Longest --duration: Node timers hold at most 2^31 - 1 ms (about 24.8 days). */
const MAX_DURATION_S = Math.floor((2 ** 31 - 1) / 1000);

function bad(command: string, name: string, expected: string, value: string): UsageError {
  return new UsageError(`--${name} expects ${expected}, got "${value}"`, command);
}

/**
 * The number a flag holds, or undefined when the flag is absent. `check` is the config schema field the flag sets
 * (so limits live in one place) or a predicate; `expected` says what is accepted, e.g. "an integer 1..64".
 */
export function numberFlag(
  command: string,
  name: string,
  value: string | undefined,
  expected: string,
  check: Schema | ((n: number) => boolean),
): number | undefined {
  if (value === undefined) return undefined;
  const n = value.trim() === '' ? Number.NaN : Number(value);
  const ok = Number.isFinite(n) && (typeof check === 'function' ? check(n) : check.safeParse(n).success);
  if (!ok) throw bad(command, name, expected, value);
  return n;
}

/** --port: an integer 0..65535 (0 picks a free port). */
export function portFlag(command: string, value: string | undefined): number | undefined {
  return numberFlag(
    command,
    'port',
    value,
    'a port number 0..65535',
    (n) => Number.isInteger(n) && n >= 0 && n <= 65535,
  );
}

/** --duration: seconds > 0. */
export function durationFlag(command: string, value: string | undefined): number | undefined {
  return numberFlag(
    command,
    'duration',
    value,
    `a number of seconds > 0 (at most ${MAX_DURATION_S})`,
    (n) => n > 0 && n <= MAX_DURATION_S,
  );
}

/** --providers: a comma-separated list of execution providers. */
export function providersFlag(command: string, value: string | undefined): ExecutionProvider[] | undefined {
  if (value === undefined) return undefined;
  const providers = value.split(',').map((p) => ExecutionProvider.safeParse(p.trim()));
  if (providers.some((p) => !p.success)) {
    throw bad(
      command,
      'providers',
      `a comma-separated list of ${ExecutionProvider.options.join(', ')}`,
      value,
    );
  }
  return providers.map((p) => p.data!);
}

/** --hub: the hub's http(s) base URL. */
export function hubUrlFlag(command: string, value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  if (!/^https?:\/\//i.test(value) || !HubLinkConfig.shape.url.safeParse(value).success) {
    throw bad(command, 'hub', 'an http(s) URL such as http://127.0.0.1:8080', value);
  }
  return value;
}

/** --hub-token / --enroll-token: a Sightline token (slt_...). */
export function tokenFlag(command: string, name: string, value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  if (!HubLinkConfig.shape.token.safeParse(value).success) {
    throw bad(command, name, 'a Sightline token (slt_<16 hex>_<43 chars>)', value);
  }
  return value;
}
