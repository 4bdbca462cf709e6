/** `sightline hub`: start the hub's HTTP server. */
import { parseArgs } from 'node:util';
import { startHub } from '@sightline/hub';
import { ConfigError } from '@sightline/shared';

export const HUB_USAGE = `Usage: sightline hub [--port 8080] [--host 127.0.0.1]

  --port <n>     TCP port (default $SIGHTLINE_HUB_PORT or 8080; 0 picks a free one)
  --host <addr>  interface to bind (default $SIGHTLINE_HUB_HOST or 127.0.0.1)
`;

export function parsePort(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const port = Number(value);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new ConfigError(`--port expects a number 0..65535, got "${value}"`);
  }
  return port;
}

export async function runHub(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: { port: { type: 'string' }, host: { type: 'string' } },
  });
  const hub = await startHub({ port: parsePort(values.port), host: values.host });
  process.stdout.write(`Sightline hub listening on ${hub.url}\n`);
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  await hub.close();
  return 0;
}
