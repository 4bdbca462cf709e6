/** `sightline hub`: start the hub; `sightline hub token ...`: manage API and enrollment tokens offline. */
import { parseArgs } from 'node:util';
import { openStore, runningHubPid, startHub, TokenService } from '@sightline/hub';
import { ID_PATTERN, ID_RULE, SightlineError } from '@sightline/shared';
import { dataDirOf, reportNewDataDir, requireDataDir } from '../data-dir.ts';
import { numberFlag, portFlag } from '../flags.ts';
import { LOG_USAGE } from '../logging.ts';
import { handleStopSignals } from '../stop-signals.ts';
import { UsageError } from '../usage-error.ts';

export const HUB_TOKEN_USAGE = `Usage: sightline hub token create --role <viewer|operator|admin|enroll> [--name <label>] [--edge <id>] [--data-dir ./data]
       sightline hub token list [--json] [--data-dir ./data]
       sightline hub token revoke <token id> [--data-dir ./data]

  --role <role>     create: viewer, operator, admin, or enroll (lets one edge enroll)
  --name <label>    create: a label for people (default: the role)
  --edge <id>       create, enroll tokens: the edge id it may enroll as (default: any)
  --data-dir <dir>  the hub's data dir (default $SIGHTLINE_DATA_DIR or ./data). "create" makes a new one when
                    missing (and says so); "list" and "revoke" refuse a missing one (exit 1)
  --json            list: print {"tokens": [{id, name, role, edgeId?, createdAt, revokedAt?, usedAt?,
                    expiresAt?, lastUsed?}, ...]}, newest first, as GET /api/v1/tokens does

"token create" prints the new token on its own last line (shown once; only a hash is kept). With PGlite it
needs the hub stopped (one process per data dir); a running hub takes POST /api/v1/tokens with an admin token.
An "enroll" token lets one edge enroll (sightline edge run --hub <url> --enroll-token <token>); --edge pins
the edge id it may enroll as.
`;

export const HUB_USAGE = `Usage: sightline hub [--port 8080] [--host 127.0.0.1] [--data-dir ./data] [--retention-days 30]
                     [--tls-cert <file> --tls-key <file>] [--redis <url>] [--public-url <url>]
       sightline hub token create | list | revoke ...   (sightline help hub token)

  --port <n>        TCP port (default $SIGHTLINE_HUB_PORT or 8080; 0 picks a free one)
  --host <addr>     interface to bind (default $SIGHTLINE_HUB_HOST or 127.0.0.1)
  --data-dir <dir>  database (PGlite), thumbnails and indexes (default $SIGHTLINE_DATA_DIR or ./data); created
                    when missing (and said so on stderr)
  --retention-days <n>  delete track points older than n days, at start and hourly; 0 keeps them
                    (default $SIGHTLINE_RETENTION_DAYS or 30)
  --tls-cert <file> PEM certificate chain (leaf first): serve HTTPS and WSS instead of HTTP (default
                    $SIGHTLINE_TLS_CERT; none: plain HTTP, e.g. behind a TLS-terminating proxy; docs/tls.md)
  --tls-key <file>  PEM private key (unencrypted) of --tls-cert (default $SIGHTLINE_TLS_KEY); both or neither
  --redis <url>     Redis for the overflow workers, redis://[user:pass@]host:port[/db] (default $REDIS_URL;
                    none: edges' overflow requests are answered "unavailable" and they infer locally); with it,
                    hubs on one PostgreSQL serve one fleet (docs/hub.md, "Several hubs")
  --public-url <url>  where other hubs send viewers of this hub's streams (default $SIGHTLINE_PUBLIC_URL, else
                    the URL this hub listens on)
${LOG_USAGE}
The store is PGlite in the data dir unless DATABASE_URL names a PostgreSQL database.

${HUB_TOKEN_USAGE}`;

const ROLES = ['viewer', 'operator', 'admin', 'enroll'] as const;

export async function runHub(argv: string[]): Promise<number> {
  if (argv[0] === 'token') return runToken(argv.slice(1));
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      port: { type: 'string' },
      host: { type: 'string' },
      'data-dir': { type: 'string' },
      'retention-days': { type: 'string' },
      'tls-cert': { type: 'string' },
      'tls-key': { type: 'string' },
      redis: { type: 'string' },
      'public-url': { type: 'string' },
    },
  });
  if (positionals.length) throw new UsageError(`unknown hub subcommand "${positionals[0]}"`, 'hub');
  const tlsCert = values['tls-cert'];
  const tlsKey = values['tls-key'];
  if ((tlsCert === undefined) !== (tlsKey === undefined)) {
    const [given, missing, env] =
      tlsCert === undefined
        ? ['--tls-key', '--tls-cert', 'SIGHTLINE_TLS_CERT']
        : ['--tls-cert', '--tls-key', 'SIGHTLINE_TLS_KEY'];
    if (!process.env[env])
      throw new UsageError(`${given} needs ${missing} (or $${env}): both or neither`, 'hub');
  }
  const port = portFlag('hub', values.port);
  const redisUrl = redisFlag(values.redis);
  const publicUrl = publicUrlFlag(values['public-url']);
  const retentionDays = retentionFlag(values['retention-days']);
  const dataDir = dataDirOf(values['data-dir']);
  const reportNew = reportNewDataDir(dataDir);
  const hub = await startHub({
    port,
    host: values.host,
    dataDir,
    retentionDays,
    tlsCert,
    tlsKey,
    redisUrl,
    ...(publicUrl ? { publicUrl } : {}),
  });
  // Before anything says the hub is up: a supervisor's SIGTERM from then on gets the clean shutdown.
  const signals = handleStopSignals();
  reportNew();
  const kept = hub.retentionDays;
  process.stdout.write(
    `Sightline hub listening on ${hub.url} (data in ${hub.dataDir}, ${hub.store.kind}; ` +
      `${kept ? `track points kept ${kept} days` : 'track points kept forever'})\n`,
  );
  if (!(await hub.tokens.list()).some((t) => t.role === 'admin' && !t.revokedAt)) {
    process.stdout.write(
      'No admin token yet: stop the hub and run "sightline hub token create --role admin" (or set one up with DATABASE_URL).\n',
    );
  }
  await signals.requested;
  await hub.close();
  signals.dispose();
  return 0;
}

/** --redis: a redis:// or rediss:// URL. */
export function redisFlag(value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  let url: URL | undefined;
  try {
    url = new URL(value);
  } catch {}
  if (!url || (url.protocol !== 'redis:' && url.protocol !== 'rediss:') || !url.hostname) {
    throw new UsageError(`--redis expects a redis://host:port URL, got "${value}"`, 'hub');
  }
  return value;
}

/** --public-url: an http(s) URL other hubs redirect viewers to. */
export function publicUrlFlag(value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  let url: URL | undefined;
  try {
    url = new URL(value);
  } catch {}
  if (!url || (url.protocol !== 'http:' && url.protocol !== 'https:') || !url.hostname) {
    throw new UsageError(`--public-url expects an http(s)://host[:port] URL, got "${value}"`, 'hub');
  }
  return url.href.replace(/\/$/, '');
}

/** Longest retention accepted: 100 years (more would put the cut-off before the epoch arithmetic holds). */
const MAX_RETENTION_DAYS = 36_500;

/** --retention-days: a number of days >= 0 (0 keeps track points forever). */
export function retentionFlag(value: string | undefined): number | undefined {
  return numberFlag(
    'hub',
    'retention-days',
    value,
    `a number of days 0..${MAX_RETENTION_DAYS} (0 keeps track points forever)`,
    (n) => n >= 0 && n <= MAX_RETENTION_DAYS,
  );
}

/** `sightline hub token create | list | revoke`: argv starts with the subcommand. */
export async function runToken(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      role: { type: 'string' },
      name: { type: 'string' },
      edge: { type: 'string' },
      'data-dir': { type: 'string' },
      json: { type: 'boolean', default: false },
    },
  });
  const [sub, ...args] = positionals;
  if (sub !== 'create' && sub !== 'list' && sub !== 'revoke') {
    throw new UsageError(`expected "hub token create | list | revoke", got "${sub ?? ''}"`, 'hub token');
  }
  const role = values.role;
  if (sub === 'create' && !ROLES.includes(role as (typeof ROLES)[number])) {
    throw new UsageError(`--role expects one of ${ROLES.join(', ')}, got "${role ?? ''}"`, 'hub token');
  }
  if (sub === 'revoke' && !/^[0-9a-f]{16}$/.test(args[0] ?? '')) {
    throw new UsageError(
      `"hub token revoke" expects a token id (16 hex digits), got "${args[0] ?? ''}"`,
      'hub token',
    );
  }
  if (values.json && sub !== 'list') throw new UsageError('--json goes with "hub token list"', 'hub token');
  if (values.edge !== undefined && !ID_PATTERN.test(values.edge)) {
    throw new UsageError(`--edge expects an edge id (${ID_RULE}), got "${values.edge}"`, 'hub token');
  }
  const dataDir = dataDirOf(values['data-dir']);
  // list and revoke read a data dir: a mistyped --data-dir must not create an empty database.
  if (sub !== 'create') requireDataDir(dataDir);
  const reportNew = reportNewDataDir(dataDir);
  if (!process.env.DATABASE_URL) {
    const pid = runningHubPid(dataDir);
    if (pid !== undefined) {
      throw new SightlineError(
        'STORE_UNAVAILABLE',
        `a hub (pid ${pid}) is running on ${dataDir}: stop it first, or create the token through the API (POST /api/v1/tokens)`,
      );
    }
  }
  const store = await openStore({ dataDir });
  reportNew();
  try {
    const tokens = new TokenService(store);
    if (sub === 'list') {
      const listed = await tokens.list();
      if (values.json) {
        process.stdout.write(`${JSON.stringify({ tokens: listed }, null, 2)}\n`);
        return 0;
      }
      for (const t of listed) {
        const state = t.revokedAt ? 'revoked' : t.usedAt ? 'used' : 'active';
        process.stdout.write(
          `${t.id}  ${t.role.padEnd(8)} ${state.padEnd(7)} ${t.createdAt}  ${t.name}${t.edgeId ? ` (edge ${t.edgeId})` : ''}\n`,
        );
      }
      return 0;
    }
    if (sub === 'revoke') {
      if (!(await tokens.revoke(args[0]!))) {
        process.stderr.write(`sightline: no token ${args[0]}\n`);
        return 1;
      }
      process.stdout.write(`revoked ${args[0]}\n`);
      return 0;
    }
    const created = await tokens.create({
      role: role as (typeof ROLES)[number],
      name: values.name,
      edgeId: values.edge,
    });
    process.stdout.write(
      `Created ${created.info.role} token ${created.info.id} (shown once, keep it safe):\n${created.token}\n`,
    );
    return 0;
  } finally {
    await store.close();
  }
}
