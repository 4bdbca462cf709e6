/**
 * mediasoup workers (one per CPU core by default) and the routers on them. Streams are grouped onto routers: a
 * new router is opened round-robin across the workers when the open ones are full. A worker that dies is
 * replaced; the streams on its routers are reported lost (their edges republish).
 */
import { EventEmitter } from 'node:events';
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { availableParallelism, homedir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { childLogger, describeError, SightlineError } from '@sightline/shared';
import type * as Mediasoup from 'mediasoup';

type MS = typeof Mediasoup;
type Worker = Mediasoup.types.Worker;
type Router = Mediasoup.types.Router;

/** H.264 (Constrained Baseline, Baseline, Main, High; packetization-mode 1), VP8 and Opus. */
export const MEDIA_CODECS: Mediasoup.types.RouterRtpCodecCapability[] = [
  ...['42e01f', '42001f', '4d001f', '640c1f', '64001f'].map(
    (profileLevelId): Mediasoup.types.RouterRtpCodecCapability => ({
      kind: 'video',
      mimeType: 'video/H264',
      clockRate: 90000,
      parameters: {
        'packetization-mode': 1,
        'profile-level-id': profileLevelId,
        'level-asymmetry-allowed': 1,
      },
    }),
  ),
  { kind: 'video', mimeType: 'video/VP8', clockRate: 90000 },
  { kind: 'audio', mimeType: 'audio/opus', clockRate: 48000, channels: 2 },
];

/** The mediasoup-worker binary: $MEDIASOUP_WORKER_BIN, the build script's cache, or mediasoup's own build. */
export function findWorkerBin(): string | undefined {
  const require = createRequire(import.meta.url);
  let mediasoupDir: string | undefined;
  let version = '';
  try {
    mediasoupDir = resolve(dirname(require.resolve('mediasoup')), '..', '..');
    version = JSON.parse(readFileSync(join(mediasoupDir, 'package.json'), 'utf8')).version;
  } catch {
    mediasoupDir = undefined;
  }
  const candidates = [
    process.env.MEDIASOUP_WORKER_BIN,
    version &&
      join(
        process.env.MEDIASOUP_WORKER_CACHE ||
          join(homedir(), '.cache', 'sightline', `mediasoup-worker-${version}`),
        'mediasoup-worker',
      ),
    mediasoupDir && join(mediasoupDir, 'worker', 'out', 'Release', 'mediasoup-worker'),
  ];
  return candidates.find((p): p is string => !!p && existsSync(p));
}

/**
 * Loads mediasoup with a worker binary: sets MEDIASOUP_WORKER_BIN (read when mediasoup is first imported) to
 * the binary found. Rejects, saying why, when there is none.
 */
export async function loadMediasoup(): Promise<MS> {
  const bin = findWorkerBin();
  if (!bin) {
    throw new SightlineError(
      'MEDIA_UNAVAILABLE',
      'no mediasoup-worker binary: run `node scripts/build-mediasoup-worker.mjs` or set MEDIASOUP_WORKER_BIN',
    );
  }
  process.env.MEDIASOUP_WORKER_BIN ??= bin;
  return (await import('mediasoup')) as MS;
}

export interface WorkerPoolOptions {
  /** Number of mediasoup workers. Default os.availableParallelism(). */
  workers?: number;
  /** Streams per router. Default 8. */
  streamsPerRouter?: number;
}

/** A router and the stream keys placed on it. */
interface RouterSlot {
  router: Router;
  worker: number;
  keys: Set<string>;
}

export interface WorkerPoolEvents {
  /** The router of these streams is gone (its worker died): their producers and consumers are closed. */
  lost: [keys: string[]];
  /** A dead worker was replaced (or could not be). */
  restart: [index: number, ok: boolean];
}

export class WorkerPool extends EventEmitter<WorkerPoolEvents> {
  readonly #ms: MS;
  readonly #workers: (Worker | undefined)[];
  readonly #perRouter: number;
  readonly #slots = new Set<RouterSlot>();
  readonly #byKey = new Map<string, RouterSlot>();
  readonly #pending = new Map<string, Promise<RouterSlot>>();
  readonly #log = childLogger('media');
  #next = 0;
  #closed = false;

  private constructor(ms: MS, workers: Worker[], perRouter: number) {
    super();
    this.#ms = ms;
    this.#workers = workers;
    this.#perRouter = perRouter;
    for (const [i, w] of workers.entries()) this.#watch(w, i);
  }

  /** Starts the workers; rejects when the first cannot start. */
  static async start(ms: MS, options: WorkerPoolOptions = {}): Promise<WorkerPool> {
    const n = Math.max(1, options.workers ?? availableParallelism());
    const workers: Worker[] = [];
    try {
      for (let i = 0; i < n; i++) workers.push(await ms.createWorker({ logLevel: 'warn' }));
    } catch (err) {
      for (const w of workers) w.close();
      throw err;
    }
    return new WorkerPool(ms, workers, Math.max(1, options.streamsPerRouter ?? 8));
  }

  /** Worker pids, by index (undefined while one restarts). */
  get pids(): (number | undefined)[] {
    return this.#workers.map((w) => w?.pid);
  }

  /** The live workers. */
  get workers(): Worker[] {
    return this.#workers.filter((w): w is Worker => !!w && !w.closed);
  }

  /** The router that holds `key`, placing it on one (with room, or a new one on the next worker) if needed. */
  async routerFor(key: string): Promise<Router> {
    const have = this.#byKey.get(key);
    if (have && !have.router.closed) return have.router;
    let pending = this.#pending.get(key);
    if (!pending) {
      pending = this.#place(key).finally(() => this.#pending.delete(key));
      this.#pending.set(key, pending);
    }
    return (await pending).router;
  }

  /** The worker a router of this pool runs on. */
  workerOf(router: Router): Worker | undefined {
    for (const slot of this.#slots) if (slot.router === router) return this.#workers[slot.worker];
    return undefined;
  }

  /** Takes `key` off its router; a router left empty is closed. */
  release(key: string): void {
    const slot = this.#byKey.get(key);
    if (!slot) return;
    this.#byKey.delete(key);
    slot.keys.delete(key);
    if (slot.keys.size === 0) {
      this.#slots.delete(slot);
      slot.router.close();
    }
  }

  async #place(key: string): Promise<RouterSlot> {
    if (this.#closed) throw new SightlineError('MEDIA_WORKER_FAILED', 'the media worker pool is closed');
    let slot = [...this.#slots].find((s) => s.keys.size < this.#perRouter && !s.router.closed);
    if (!slot) {
      const n = this.#workers.length;
      let worker: Worker | undefined;
      let index = 0;
      for (let tries = 0; tries < n && !worker; tries++) {
        index = this.#next++ % n;
        const w = this.#workers[index];
        if (w && !w.closed) worker = w;
      }
      if (!worker) throw new SightlineError('MEDIA_WORKER_FAILED', 'no mediasoup worker is running');
      const router = await worker.createRouter({ mediaCodecs: MEDIA_CODECS });
      slot = { router, worker: index, keys: new Set() };
      const s = slot;
      router.observer.once('close', () => this.#routerGone(s));
      this.#slots.add(slot);
    }
    slot.keys.add(key);
    this.#byKey.set(key, slot);
    return slot;
  }

  #routerGone(slot: RouterSlot): void {
    if (!this.#slots.delete(slot)) return;
    const keys = [...slot.keys];
    for (const k of keys) if (this.#byKey.get(k) === slot) this.#byKey.delete(k);
    if (keys.length) this.emit('lost', keys);
  }

  #watch(worker: Worker, index: number): void {
    worker.on('died', (err) => {
      if (this.#closed) return;
      this.#log.error({ pid: worker.pid, err: describeError(err) }, 'mediasoup worker died; restarting it');
      this.#workers[index] = undefined;
      for (const slot of [...this.#slots]) if (slot.worker === index) this.#routerGone(slot);
      void this.#restart(index, 0);
    });
  }

  async #restart(index: number, attempt: number): Promise<void> {
    if (this.#closed) return;
    try {
      const w = await this.#ms.createWorker({ logLevel: 'warn' });
      if (this.#closed) return void w.close();
      this.#workers[index] = w;
      this.#watch(w, index);
      this.#log.info({ pid: w.pid, index }, 'mediasoup worker restarted');
      this.emit('restart', index, true);
    } catch (err) {
      this.#log.error({ index, err: describeError(err) }, 'mediasoup worker restart failed');
      this.emit('restart', index, false);
      const t = setTimeout(
        () => void this.#restart(index, attempt + 1),
        Math.min(30_000, 1000 * 2 ** attempt),
      );
      t.unref();
    }
  }

  /** Closes every router and worker. */
  close(): void {
    this.#closed = true;
    for (const w of this.#workers) w?.close();
    this.#slots.clear();
    this.#byKey.clear();
  }
}

/** Same MIME type and clock rate, and for H.264 the same profile (profile_idc) and packetization mode. */
export function sameCodec(
  a: { mimeType: string; clockRate: number; parameters?: Record<string, unknown> },
  b: { mimeType: string; clockRate: number; parameters?: Record<string, unknown> },
): boolean {
  if (a.mimeType.toLowerCase() !== b.mimeType.toLowerCase() || a.clockRate !== b.clockRate) return false;
  if (!/h264$/i.test(a.mimeType)) return true;
  const profile = (p?: Record<string, unknown>) => String(p?.['profile-level-id'] ?? '42001f').slice(0, 2);
  const mode = (p?: Record<string, unknown>) => Number(p?.['packetization-mode'] ?? 0);
  return profile(a.parameters) === profile(b.parameters) && mode(a.parameters) === mode(b.parameters);
}
