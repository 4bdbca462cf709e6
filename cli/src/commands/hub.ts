/** `sightline hub`: start the hub; `sightline hub token ...`: manage API and enrollment tokens offline. */
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { openStore, runningHubPid, startHub, TokenService } from '@sightline/hub';
import { SightlineError } from '@sightline/shared';
import { portFlag } from '../flags.ts';
import { handleStopSignals } from '../stop-signals.ts';
import { UsageError } from '../usage-error.ts';

export const HUB_USAGE = `Usage: sightline hub [--port 8080] [--host 127.0.0.1] [--data-dir ./data] [--retention-days 30]
       sightline hub token create --role <viewer|operator|admin|enroll> [--name <label>] [--edge <id>] [--data-dir ./data]
       sightline hub token list [--data-dir ./data]
       sightline hub token revoke <token id> [--data-dir ./data]

  --port <n>        TCP port (default $SIGHTLINE_HUB_PORT or 8080; 0 picks a free one)
  --host <addr>     interface to bind (default $SIGHTLINE_HUB_HOST or 127.0.0.1)
  --data-dir <dir>  database (PGlite), thumbnails and indexes (default $SIGHTLINE_DATA_DIR or ./data)
  --retention-days <n>  delete track points older than n days, checked hourly; 0 keeps them (default $SIGHTLINE_RETENTION_DAYS or 30)

The store is PGlite in the data dir unless DATABASE_URL names a PostgreSQL database.
"token create" prints the new token on its own last line (shown once; only a hash is kept). With PGlite it
needs the hub stopped (one process per data dir); a running hub takes POST /api/v1/tokens with an admin token.
An "enroll" token lets one edge enroll (sightline edge run --hub <url> --enroll-token <token>); --edge pins
the edge id it may enroll as.
`;

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
    },
  });
  if (positionals.length) throw new UsageError(`unknown hub subcommand "${positionals[0]}"`, 'hub');
  const hub = await startHub({
    port: portFlag('hub', values.port),
    host: values.host,
    dataDir: values['data-dir'],
  });
  process.stdout.write(`Sightline hub listening on ${hub.url} (data in ${hub.dataDir}, ${hub.store.kind})\n`);
  if (!(await hub.tokens.list()).some((t) => t.role === 'admin' && !t.revokedAt)) {
    process.stdout.write(
      'No admin token yet: stop the hub and run "sightline hub token create --role admin" (or set one up with DATABASE_URL).\n',
    );
  }
  const signals = handleStopSignals();
  await signals.requested;
  await hub.close();
  signals.dispose();
  return 0;
}

async function runToken(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      role: { type: 'string' },
      name: { type: 'string' },
      edge: { type: 'string' },
      'data-dir': { type: 'string' },
    },
  });
  const [sub, ...args] = positionals;
  if (sub !== 'create' && sub !== 'list' && sub !== 'revoke') {
    throw new UsageError(`expected "hub token create | list | revoke", got "${sub ?? ''}"`, 'hub');
  }
  const role = values.role;
  if (sub === 'create' && !ROLES.includes(role as (typeof ROLES)[number])) {
    throw new UsageError(`--role expects one of ${ROLES.join(', ')}, got "${role ?? ''}"`, 'hub');
  }
  if (sub === 'revoke' && !/^[0-9a-f]{16}$/.test(args[0] ?? '')) {
    throw new UsageError(
      `"hub token revoke" expects a token id (16 hex digits), got "${args[0] ?? ''}"`,
      'hub',
    );
  }
  if (values.edge !== undefined && !/^[A-Za-z0-9_.-]{1,64}$/.test(values.edge)) {
    throw new UsageError(`--edge expects an edge id (letters, digits, _ . -), got "${values.edge}"`, 'hub');
  }
  const dataDir = resolve(values['data-dir'] ?? process.env.SIGHTLINE_DATA_DIR ?? './data');
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
  try {
    const tokens = new TokenService(store);
    if (sub === 'list') {
      for (const t of await tokens.list()) {
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
