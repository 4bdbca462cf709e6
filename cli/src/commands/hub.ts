/** `sightline hub`: start the hub's HTTP server. */
import { parseArgs } from 'node:util';
import { startHub } from '@sightline/hub';
import { portFlag } from '../flags.ts';
import { handleStopSignals } from '../stop-signals.ts';

export const HUB_USAGE = `Usage: sightline hub [--port 8080] [--host 127.0.0.1]

  --port <n>     TCP port (default $SIGHTLINE_HUB_PORT or 8080; 0 picks a free one)
  --host <addr>  interface to bind (default $SIGHTLINE_HUB_HOST or 127.0.0.1)
`;

export async function runHub(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: { port: { type: 'string' }, host: { type: 'string' } },
  });
  const hub = await startHub({ port: portFlag('hub', values.port), host: values.host });
  process.stdout.write(`Sightline hub listening on ${hub.url}\n`);
  const signals = handleStopSignals();
  await signals.requested;
  await hub.close();
  signals.dispose();
  return 0;
}
