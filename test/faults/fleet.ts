/**
 * Fault tests with the real processes: a `sightline hub` (PGlite, or PostgreSQL of the test's own) and a
 * `sightline edge run` on looping sample video, each its own node process (so kill -9 hits it and nothing else),
 * with a TCP proxy on the edge -> hub link and, with PostgreSQL, on the hub -> database link.
 *
 * The witness of what the edge produced is its JSON-lines sink (one line per frame, written before the frame's
 * points reach the uplink's outbox); what the hub stored is read from its database once the hub has stopped.
 * `compare` turns the two into the figures docs/reliability.md reports: produced, stored, lost, duplicated.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import {
  appendFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { openStore, storeSchema } from '@sightline/hub';
import { eq } from 'drizzle-orm';
import { modelsDir } from '../e2e/helpers.ts';
import { startTcpProxy, type TcpProxy } from '../helpers/tcp-proxy.ts';
import { media } from '../helpers/wait.ts';
import { freePort, type PrivatePostgres, startPrivatePostgres } from './private-postgres.ts';

/** The seeded PRNG the synthetic batches use: the same seed picks the same fault times. */
export { prng as seeded } from '@sightline/hub/testing';

export const ROOT = resolve(import.meta.dirname, '..', '..');
const MAIN = join(ROOT, 'cli', 'src', 'main.ts');
/** Where each scenario's figures are appended (one JSON object per line) for docs/reliability.md. */
export const REPORT = join(ROOT, 'test', 'artifacts', 'faults-report.jsonl');

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Seeds each scenario runs with: FAULT_SEEDS=1,2,3 for more (default 1,2). */
export function faultSeeds(): number[] {
  const raw = process.env.FAULT_SEEDS ?? '1,2';
  const seeds = raw.split(',').map((s) => Number(s.trim()));
  if (seeds.some((s) => !Number.isInteger(s))) throw new Error(`FAULT_SEEDS expects integers, got "${raw}"`);
  return seeds;
}

/** One node process running the sightline CLI from its TypeScript sources. */
export class CliProcess {
  child?: ChildProcess;
  log = '';
  constructor(
    readonly name: string,
    readonly env: NodeJS.ProcessEnv,
    readonly nice = 0,
  ) {}

  start(args: string[]): void {
    const node = [process.execPath, '--conditions=sightline-source', '--import', 'tsx', MAIN, ...args];
    // `nice` execs node: the pid stays the node process's, and every thread it starts inherits the level.
    const argv = this.nice ? ['nice', '-n', String(this.nice), ...node] : node;
    const child = spawn(argv[0]!, argv.slice(1), {
      cwd: ROOT,
      env: this.env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const keep = (s: Buffer) => {
      this.log = (this.log + s.toString()).slice(-20_000);
    };
    child.stdout!.on('data', keep);
    child.stderr!.on('data', keep);
    this.child = child;
  }

  /** The process id (undefined before start). */
  get pid(): number | undefined {
    return this.child?.pid;
  }

  get running(): boolean {
    return !!this.child && this.child.exitCode === null && this.child.signalCode === null;
  }

  /** SIGKILL: no cleanup of any kind, as a power cut of the process. */
  async kill9(): Promise<void> {
    await this.#signal('SIGKILL');
  }

  /** SIGTERM and wait for the exit (SIGKILL after `ms`). */
  async stop(ms = 20_000): Promise<void> {
    const child = this.child;
    if (!child || !this.running) return;
    const timer = setTimeout(() => child.kill('SIGKILL'), ms);
    await this.#signal('SIGTERM');
    clearTimeout(timer);
  }

  async #signal(signal: NodeJS.Signals): Promise<void> {
    const child = this.child;
    if (!child || !this.running) return;
    const exited = new Promise<void>((r) => child.once('exit', () => r()));
    child.kill(signal);
    await exited;
  }
}

/** The environment of a CLI process: models from the tests' folder, warn-level JSON logs, no database unless given. */
export function baseEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    MODELS_DIR: modelsDir(),
    SIGHTLINE_FROM_SOURCE: '1',
    SIGHTLINE_LOG_LEVEL: 'warn',
    SIGHTLINE_LOG_FORMAT: 'json',
    ...extra,
  };
  for (const name of ['DATABASE_URL', 'SIGHTLINE_RETENTION_DAYS']) if (!(name in extra)) delete env[name];
  return env;
}

export interface FleetOptions {
  backend: 'pglite' | 'postgres';
  edgeId: string;
  /** Frames each edge process runs per stream before its streams end; 0 loops for ever. Default 150 (15 s of vtest). */
  frames?: number;
  /** Cut thumbnails (as a real edge does). Default false: the scenarios count points. */
  thumbnails?: boolean;
  /** Run both processes at this nice level (a soak beside other work). Default 0. */
  nice?: number;
  /** Streams on the edge (each loops the sample video). Default 2. */
  streams?: number;
  /** The uplink's batch period (ms). Default 200. */
  flushMs?: number;
}

/**
 * Prometheus text: each metric's value summed over its labels (`flat`), and the edge latency histogram's
 * cumulative counts by upper bound (`buckets`).
 */
export function parseMetrics(text: string): { flat: Record<string, number>; buckets: Map<number, number> } {
  const flat: Record<string, number> = {};
  const buckets = new Map<number, number>();
  for (const line of text.split('\n')) {
    const m = /^([a-z_]+)(\{[^}]*\})? ([0-9.e+-]+|NaN|\+Inf)$/.exec(line);
    if (!m) continue;
    const value = Number(m[3]);
    flat[m[1]!] = (flat[m[1]!] ?? 0) + value;
    const le = m[1] === 'sightline_edge_stream_latency_seconds_bucket' && /le="([^"]+)"/.exec(m[2] ?? '');
    if (le) {
      const bound = le[1] === '+Inf' ? Number.POSITIVE_INFINITY : Number(le[1]);
      buckets.set(bound, (buckets.get(bound) ?? 0) + value);
    }
  }
  return { flat, buckets };
}

/** Points an edge produced or a hub stored, keyed `stream|track|ts` (ts in ms), with how often each occurs. */
export type PointSet = Map<string, number>;

export interface Figures {
  produced: number;
  stored: number;
  /** Produced points the hub does not hold. */
  lost: number;
  /** Stored more than once. */
  duplicated: number;
  /** Stored but absent from the witness (the sink line was still in memory when the process was killed). */
  unwitnessed: number;
}

/** Hub, edge, proxies and (with PostgreSQL) the database of one scenario. */
export class Fleet {
  readonly dir: string;
  readonly hubDataDir: string;
  readonly edgeStateDir: string;
  readonly hub: CliProcess;
  readonly edge: CliProcess;
  hubPort = 0;
  metricsPort = 0;
  /** Edge -> hub. */
  uplink!: TcpProxy;
  /** Hub -> PostgreSQL (postgres backend only). */
  dbLink?: TcpProxy;
  /** Sees every chunk on the database link (e.g. to cut it right after a BEGIN). */
  onDbChunk?: (chunk: Buffer, direction: 'up' | 'down') => void;
  pg?: PrivatePostgres;
  databaseUrl = '';
  #enrollToken = '';
  /** A viewer token of the hub (for its /metrics). */
  viewerToken = '';
  #edgeRuns = 0;
  readonly witnesses: string[] = [];
  readonly frames: number;
  readonly streams: number;

  private constructor(readonly options: FleetOptions) {
    this.dir = mkdtempSync(join(tmpdir(), 'sightline-fault-'));
    this.hubDataDir = join(this.dir, 'hub');
    this.edgeStateDir = join(this.dir, 'edge-state');
    this.frames = options.frames ?? 150;
    this.streams = options.streams ?? 2;
    this.hub = new CliProcess('hub', baseEnv({}), options.nice ?? 0);
    this.edge = new CliProcess('edge', baseEnv({}), options.nice ?? 0);
  }

  static async create(options: FleetOptions): Promise<Fleet> {
    const f = new Fleet(options);
    try {
      f.hubPort = await freePort();
      f.metricsPort = await freePort();
      f.uplink = await startTcpProxy({ host: '127.0.0.1', port: f.hubPort });
      if (options.backend === 'postgres') {
        f.pg = await startPrivatePostgres();
        f.dbLink = await startTcpProxy(
          { host: '127.0.0.1', port: f.pg.port },
          { onChunk: (chunk, direction) => f.onDbChunk?.(chunk, direction) },
        );
        f.databaseUrl = `postgres://postgres@127.0.0.1:${f.dbLink.port}/postgres`;
      }
      const env = baseEnv(f.databaseUrl ? { DATABASE_URL: f.databaseUrl } : {});
      Object.assign(f.hub.env, env);
      f.#enrollToken = await f.#createToken('enroll', options.edgeId);
      f.viewerToken = await f.#createToken('viewer');
      await f.startHub();
      return f;
    } catch (err) {
      await f.dispose();
      throw err;
    }
  }

  /** Creates a token offline (`sightline hub token create`); asynchronous, as the database link is relayed here. */
  async #createToken(role: string, edgeId?: string): Promise<string> {
    const args = ['hub', 'token', 'create', '--role', role, '--data-dir', this.hubDataDir];
    if (edgeId) args.push('--edge', edgeId);
    const child = spawn(
      process.execPath,
      ['--conditions=sightline-source', '--import', 'tsx', MAIN, ...args],
      {
        cwd: ROOT,
        env: this.hub.env,
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let out = '';
    let err = '';
    child.stdout.on('data', (s: Buffer) => (out += s));
    child.stderr.on('data', (s: Buffer) => (err += s));
    const code = await new Promise<number | null>((r) => child.once('close', r));
    if (code !== 0) throw new Error(`hub token create failed (${code}): ${err}`);
    return out.trim().split('\n').at(-1)!;
  }

  /** Starts the hub (again, on the same port and data) and waits until it is ready. */
  async startHub(): Promise<void> {
    this.hub.start(['hub', '--port', String(this.hubPort), '--data-dir', this.hubDataDir]);
    await this.#until(
      'the hub ready',
      async () => (await fetch(this.#hubUrl('/ready'))).ok,
      120_000,
      this.hub,
    );
  }

  #hubUrl(path: string): string {
    return `http://127.0.0.1:${this.hubPort}${path}`;
  }

  /** Starts an edge process; its JSON-lines witness goes to a new file per start (a restart is a new run). */
  startEdge(): void {
    const run = ++this.#edgeRuns;
    const out = join(this.dir, `witness-${run}.jsonl`);
    this.witnesses.push(out);
    const config = {
      edgeId: this.options.edgeId,
      modelsDir: modelsDir(),
      streams: Array.from({ length: this.streams }, (_, i) => ({
        id: `cam${i + 1}`,
        source: media('vtest_h264.mp4'),
        loop: true,
        realtime: true,
        ...(this.frames ? { maxFrames: this.frames } : {}),
      })),
      sinks: [{ type: 'jsonl', path: out }],
      hub: {
        url: `http://127.0.0.1:${this.uplink.port}`,
        stateDir: this.edgeStateDir,
        flushMs: this.options.flushMs ?? 200,
        ...(run === 1 ? { enrollmentToken: this.#enrollToken } : {}),
      },
      thumbnails: { enabled: this.options.thumbnails ?? false },
      metrics: { port: this.metricsPort },
      webrtc: { enabled: false },
    };
    const file = join(this.dir, `edge-${run}.json`);
    writeFileSync(file, JSON.stringify(config, null, 2));
    this.edge.start(['edge', 'run', '--config', file]);
  }

  /** The edge's Prometheus gauges and counters by name (NaN when the edge does not answer). */
  async edgeMetrics(): Promise<Record<string, number>> {
    try {
      const text = await (
        await fetch(`http://127.0.0.1:${this.metricsPort}/metrics`, { signal: AbortSignal.timeout(2000) })
      ).text();
      return parseMetrics(text).flat;
    } catch {
      return {};
    }
  }

  /** Waits until the edge's metrics answer. */
  async edgeUp(): Promise<void> {
    await this.#until(
      'the edge metrics',
      async () => (await this.edgeMetrics()).sightline_edge_outbox_messages !== undefined,
      120_000,
      this.edge,
    );
  }

  /** Frames the current edge run has written to its witness so far. */
  witnessedFrames(): number {
    const file = this.witnesses.at(-1);
    if (!file || !existsSync(file)) return 0;
    return readFileSync(file, 'utf8').split('\n').filter(Boolean).length;
  }

  /** Waits until the current edge run has decoded its frames, written every result and had every batch acked. */
  async drain(timeoutMs = 120_000): Promise<void> {
    const all = this.frames * this.streams;
    await this.#until(
      `${all} frames decoded`,
      async () => ((await this.edgeMetrics()).sightline_edge_frames_decoded_total ?? 0) >= all,
      timeoutMs,
      this.edge,
    );
    // Then results stop (the last frames leave inference), the last batch is cut, and the outbox empties.
    let quiet = 0;
    let lines = -1;
    await this.#until(
      'the outbox drained',
      async () => {
        const m = await this.edgeMetrics();
        const now = this.witnessedFrames();
        const still =
          now === lines && m.sightline_edge_outbox_messages === 0 && m.sightline_edge_uplink_connected === 1;
        lines = now;
        quiet = still ? quiet + 1 : 0;
        return quiet >= 6;
      },
      timeoutMs,
      this.edge,
    );
  }

  /**
   * Waits (up to `timeoutMs`) until the uplink is connected and acks flow again after a fault; returns how long
   * that took, measured from the call (the end of the fault).
   */
  async recovery(timeoutMs = 90_000): Promise<number> {
    const t0 = Date.now();
    const acked0 = (await this.edgeMetrics()).sightline_edge_uplink_acked_total ?? 0;
    await this.#until(
      'acks after the fault',
      async () => {
        const m = await this.edgeMetrics();
        return m.sightline_edge_uplink_connected === 1 && (m.sightline_edge_uplink_acked_total ?? 0) > acked0;
      },
      timeoutMs,
    );
    return Date.now() - t0;
  }

  async #until(what: string, check: () => Promise<boolean>, ms: number, proc?: CliProcess): Promise<void> {
    const deadline = Date.now() + ms;
    for (;;) {
      if (await check().catch(() => false)) return;
      if (proc?.child && !proc.running)
        throw new Error(
          `${proc.name} exited (${proc.child.exitCode ?? proc.child.signalCode}) waiting for ${what}:\n${proc.log.slice(-3000)}`,
        );
      if (Date.now() > deadline)
        throw new Error(
          `timed out waiting for ${what}\n--- hub:\n${this.hub.log.slice(-2000)}\n--- edge:\n${this.edge.log.slice(-2000)}`,
        );
      await sleep(250);
    }
  }

  /** Every point the edge's witnesses record: a confirmed track matched on the frame, as the uplink sends. */
  witnessed(): { points: PointSet; lastTs: Map<string, number> } {
    const points: PointSet = new Map();
    const lastTs = new Map<string, number>();
    for (const file of this.witnesses) {
      if (!existsSync(file)) continue;
      for (const line of readFileSync(file, 'utf8').split('\n')) {
        if (!line) continue;
        let r: {
          streamId: string;
          capturedAt: number;
          tracks: { trackId: number; status: string; timeSinceUpdate: number }[];
        };
        try {
          r = JSON.parse(line);
        } catch {
          continue; // a torn last line of a killed process
        }
        const ts = Math.max(0, Math.round(r.capturedAt));
        lastTs.set(r.streamId, Math.max(lastTs.get(r.streamId) ?? 0, ts));
        for (const t of r.tracks) {
          if (t.status !== 'confirmed' || t.timeSinceUpdate !== 0) continue;
          const key = `${r.streamId}|${t.trackId}|${ts}`;
          points.set(key, (points.get(key) ?? 0) + 1);
        }
      }
    }
    return { points, lastTs };
  }

  /** What the hub stored for this edge (the hub must be stopped when it runs on PGlite). */
  async stored(): Promise<PointSet> {
    const store = await openStore(
      this.databaseUrl ? { databaseUrl: this.databaseUrl } : { dataDir: this.hubDataDir },
    );
    try {
      const { trackPoints } = storeSchema;
      const rows = await store.db
        .select({ streamId: trackPoints.streamId, trackId: trackPoints.trackId, ts: trackPoints.ts })
        .from(trackPoints)
        .where(eq(trackPoints.edgeId, this.options.edgeId));
      const points: PointSet = new Map();
      for (const p of rows) {
        const key = `${p.streamId}|${p.trackId}|${p.ts.getTime()}`;
        points.set(key, (points.get(key) ?? 0) + 1);
      }
      return points;
    } finally {
      await store.close();
    }
  }

  async dispose(): Promise<void> {
    await this.edge.stop().catch(() => {});
    await this.hub.stop().catch(() => {});
    await this.uplink?.close();
    await this.dbLink?.close();
    this.pg?.dispose();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/**
 * Compares the witness with the store. `allowLost(key)` says whether a missing point lies in the documented crash
 * window (e.g. the frame in flight when the edge was killed).
 */
export function compare(
  witness: PointSet,
  stored: PointSet,
  allowLost: (key: string) => boolean = () => false,
) {
  const figures: Figures = { produced: 0, stored: 0, lost: 0, duplicated: 0, unwitnessed: 0 };
  const unexplained: string[] = [];
  for (const [key, n] of witness) {
    figures.produced += n;
    const s = stored.get(key) ?? 0;
    if (s === 0) {
      figures.lost += n;
      if (!allowLost(key)) unexplained.push(key);
    }
  }
  for (const [key, n] of stored) {
    figures.stored += n;
    if (n > 1) figures.duplicated += n - 1;
    if (!witness.has(key)) figures.unwitnessed += n;
  }
  return { figures, unexplained };
}

/** Appends one scenario's figures to the report (test/artifacts/faults-report.jsonl). */
export function report(
  entry: {
    scenario: string;
    backend: string;
    seed: number;
    faultAtMs: number;
    recoveryMs?: number;
  } & Figures,
): void {
  mkdirSync(join(ROOT, 'test', 'artifacts'), { recursive: true });
  appendFileSync(REPORT, `${JSON.stringify({ ...entry, at: new Date().toISOString() })}\n`);
}
