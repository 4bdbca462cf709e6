/** Ingest benchmark, the hub child process: starting and stopping `sightline hub`, its admin token, /proc readings. */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const cliMain = fileURLToPath(new URL('../../cli/dist/main.js', import.meta.url));
const pglitePreload = new URL('./pglite-options-preload.mjs', import.meta.url).href;

/** VmRSS and VmHWM (MiB) of a process. */
export function procMem(pid: number): { rssMiB: number; hwmMiB: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (key: string) =>
    Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? Number.NaN);
  return { rssMiB: Math.round(kb('VmRSS') / 1024), hwmMiB: Math.round(kb('VmHWM') / 1024) };
}

/** User + system CPU seconds of a process (clock ticks of 1/100 s). */
export function procCpuS(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

export interface HubChild {
  child: ChildProcess;
  pid: number;
  url: string;
  startS: number;
  /** Last lines the hub wrote on stderr (its log), for error messages. */
  log: string[];
}

/** Environment of hub children and the token CLI: the backend, warn-level logs, the PGlite options to try. */
function hubEnv(databaseUrl: string, pgliteOptions: string): NodeJS.ProcessEnv {
  return {
    ...process.env,
    DATABASE_URL: databaseUrl,
    SIGHTLINE_LOG_LEVEL: 'warn',
    SIGHTLINE_BENCH_PGLITE_OPTIONS: pgliteOptions,
  };
}
const hubNodeArgs = (pgliteOptions: string) => (pgliteOptions ? ['--import', pglitePreload] : []);

/** Starts `sightline hub --port 0 --data-dir <dir>` (the compiled CLI that bin/sightline.js runs, without the wrapper process). */
export async function startHubChild(
  dataDir: string,
  databaseUrl: string,
  pgliteOptions: string,
): Promise<HubChild> {
  const t = performance.now();
  const child = spawn(
    process.execPath,
    [...hubNodeArgs(pgliteOptions), cliMain, 'hub', '--port', '0', '--data-dir', dataDir],
    { env: hubEnv(databaseUrl, pgliteOptions), stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const log: string[] = [];
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
    log.push(...chunk.split('\n').filter(Boolean));
    log.splice(0, Math.max(0, log.length - 20));
  });
  const url = await new Promise<string>((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error('the hub did not start within 180 s')), 180_000);
    child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
      out += chunk;
      const m = /listening on (\S+) /.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]!);
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`the hub exited (${code}) before listening:\n${log.join('\n')}`));
    });
  });
  return { child, pid: child.pid!, url, startS: (performance.now() - t) / 1000, log };
}

export async function stopHubChild(hub: HubChild): Promise<void> {
  if (hub.child.exitCode !== null) return;
  const exited = once(hub.child, 'exit');
  hub.child.kill('SIGTERM');
  await exited;
}

/** `sightline hub token create --role admin` against the data dir / database (the hub must be stopped on PGlite). */
export function createAdminToken(dataDir: string, databaseUrl: string, pgliteOptions: string): string {
  const r = spawnSync(
    process.execPath,
    [
      ...hubNodeArgs(pgliteOptions),
      cliMain,
      'hub',
      'token',
      'create',
      '--role',
      'admin',
      '--name',
      'ingest-bench',
      '--data-dir',
      dataDir,
    ],
    { env: hubEnv(databaseUrl, pgliteOptions), encoding: 'utf8' },
  );
  const token = r.stdout.trim().split('\n').at(-1) ?? '';
  if (r.status !== 0 || !token) throw new Error(`hub token create failed (${r.status}): ${r.stderr}`);
  return token;
}
