/**
 * Prometheus metrics of one edge runtime, in a registry of its own (never prom-client's global one: the hub may
 * run in the same process with its own). Stream values are read from runtime.stats() at each scrape; the latency
 * histogram observes every frame result. Also the edge's readiness checks (GET /ready of the metrics server).
 */
import {
  type FrameResult,
  type HealthCheck,
  type HealthReport,
  type HealthStatus,
  healthReport,
  type StreamStats,
} from '@sightline/shared';
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import { VERSION } from '../version.ts';

/** What the metrics read from the runtime (an EdgeRuntime fits). */
export interface EdgeMetricsSource {
  readonly edgeId: string;
  readonly modelId: string;
  readonly provider: string;
  stats(): StreamStats[];
  thumbnailStats?(): { encoded: number; skippedBusy: number; failed: number };
  /** Every processed frame's result (an EdgeRuntime emits them): the latency histogram observes each. */
  on?(event: 'result', listener: (result: FrameResult) => void): unknown;
}

export interface EdgeMetricsOptions {
  /** Also collect the process metrics (CPU, memory, event loop lag, GC...) with prefix sightline_edge_. Default true. */
  defaultMetrics?: boolean;
}

export interface EdgeMetrics {
  /** This edge's registry: serve it (startMetricsServer) or add metrics to it. */
  readonly registry: Registry;
  /**
   * Add a gauge read at each scrape, labelled with this edge's id: `fn` returns its value (undefined leaves it
   * out). `name` gets no prefix (use sightline_edge_...). Throws when the name is taken.
   */
  registerGauge(name: string, help: string, fn: () => number | undefined): void;
  /**
   * Add a counter labelled with this edge's id that mirrors a running count kept elsewhere: `fn` returns the
   * count at each scrape (undefined leaves it unchanged) and the counter grows by the difference, so it never
   * goes down (a count that went back, its source restarted from 0, adds its new value). `name` must end in
   * `_total`. Throws when the name is taken.
   */
  registerCounter(name: string, help: string, fn: () => number | undefined): void;
  /**
   * Add a readiness check (GET /ready of the metrics server): `fn` returns its state at each call. Throws when
   * the name is taken.
   */
  registerCheck(name: string, fn: () => HealthCheck): void;
  /** Readiness: one check per stream (`stream:<id>`) and the registered ones; status = the worst of them. */
  readiness(): HealthReport;
}

const PREFIX = 'sightline_edge_';

/** Histogram buckets of the end-to-end latency (seconds): 10 ms to 10 s. */
export const LATENCY_BUCKETS = [0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.5, 0.75, 1, 2.5, 5, 10];

/**
 * A stream's readiness by its state: one failed or (re)connecting degrades the edge but leaves it ready, since the
 * other streams go on (one failing camera must not take the edge out of service); its check names the error.
 */
const STREAM_HEALTH: Record<StreamStats['state'], HealthStatus> = {
  running: 'ok',
  ended: 'ok',
  stopped: 'ok',
  starting: 'degraded',
  reconnecting: 'degraded',
  failed: 'degraded',
};

/** Create the metrics of `runtime` in a new registry. */
export function createEdgeMetrics(runtime: EdgeMetricsSource, options: EdgeMetricsOptions = {}): EdgeMetrics {
  const registry = new Registry();
  const edge = runtime.edgeId;
  // Read fresh by every metric at every scrape: stats() is cheap, and a cache could serve values from before a change.
  const stats = (): StreamStats[] => runtime.stats();

  /** A counter mirroring a monotonic per-stream count from stats(). */
  const streamCounter = (name: string, help: string, value: (s: StreamStats) => number): void => {
    new Counter({
      name: PREFIX + name,
      help,
      labelNames: ['edge', 'stream'],
      registers: [registry],
      collect() {
        this.reset();
        for (const s of stats()) this.inc({ edge, stream: s.streamId }, value(s));
      },
    });
  };
  const streamGauge = (name: string, help: string, value: (s: StreamStats) => number): void => {
    new Gauge({
      name: PREFIX + name,
      help,
      labelNames: ['edge', 'stream'],
      registers: [registry],
      collect() {
        this.reset();
        for (const s of stats()) this.set({ edge, stream: s.streamId }, value(s));
      },
    });
  };

  streamCounter('frames_decoded_total', 'Frames decoded per stream.', (s) => s.framesDecoded);
  streamCounter(
    'frames_inferred_total',
    'Frames through detection and tracking per stream.',
    (s) => s.framesInferred,
  );
  new Counter({
    name: `${PREFIX}frames_dropped_total`,
    help: 'Frames dropped before inference per stream: overflow (ring full) or stale (older than the budget).',
    labelNames: ['edge', 'stream', 'reason'],
    registers: [registry],
    collect() {
      this.reset();
      for (const s of stats()) {
        this.inc({ edge, stream: s.streamId, reason: 'overflow' }, s.droppedOverflow);
        this.inc({ edge, stream: s.streamId, reason: 'stale' }, s.droppedStale);
      }
    },
  });
  streamCounter('infer_errors_total', 'Frames whose inference failed per stream.', (s) => s.inferErrors);
  streamCounter('reconnects_total', 'Reconnect attempts per stream.', (s) => s.reconnects);
  streamGauge('stream_fps', 'Frames processed per second per stream (last few seconds).', (s) => s.fps);
  // A histogram, not quantile gauges: buckets add up across streams and edges (histogram_quantile over a sum).
  const latencyStreams = new Set<string>();
  const latency = new Histogram({
    name: `${PREFIX}stream_latency_seconds`,
    help: 'End-to-end latency per processed frame (decoder output to tracks out), per stream.',
    labelNames: ['edge', 'stream'],
    buckets: LATENCY_BUCKETS,
    registers: [registry],
    collect() {
      // Every current stream has its series (zero until its first frame); a removed stream's series goes.
      const current = new Set(stats().map((s) => s.streamId));
      for (const id of latencyStreams) {
        if (!current.has(id)) {
          this.remove({ edge, stream: id });
          latencyStreams.delete(id);
        }
      }
      for (const id of current) {
        if (!latencyStreams.has(id)) {
          this.zero({ edge, stream: id });
          latencyStreams.add(id);
        }
      }
    },
  });
  runtime.on?.('result', (r) => {
    const ms = r.timings.totalMs;
    if (ms === undefined || !(ms >= 0)) return;
    latency.observe({ edge, stream: r.streamId }, ms / 1000);
    latencyStreams.add(r.streamId);
  });
  streamGauge('active_tracks', 'Tracks reported on the latest frame per stream.', (s) => s.activeTracks);
  streamGauge('stream_up', '1 while the stream is running, else 0.', (s) => (s.state === 'running' ? 1 : 0));
  new Gauge({
    name: `${PREFIX}info`,
    help: 'This edge: its model and execution provider (value 1).',
    labelNames: ['edge', 'model', 'provider'],
    registers: [registry],
    collect() {
      this.reset();
      this.set({ edge, model: runtime.modelId, provider: runtime.provider }, 1);
    },
  });
  if (runtime.thumbnailStats) {
    const thumbs = runtime.thumbnailStats.bind(runtime);
    new Counter({
      name: `${PREFIX}thumbnails_total`,
      help: 'Track thumbnails: encoded, skipped (every encoder busy) or failed.',
      labelNames: ['edge', 'outcome'],
      registers: [registry],
      collect() {
        this.reset();
        const t = thumbs();
        this.inc({ edge, outcome: 'encoded' }, t.encoded);
        this.inc({ edge, outcome: 'skipped' }, t.skippedBusy);
        this.inc({ edge, outcome: 'failed' }, t.failed);
      },
    });
  }
  if (options.defaultMetrics ?? true) collectDefaultMetrics({ register: registry, prefix: PREFIX });

  const taken = (name: string): void => {
    if (registry.getSingleMetric(name)) throw new TypeError(`metric ${name} is already registered`);
  };
  const checks = new Map<string, () => HealthCheck>();
  const metrics: EdgeMetrics = {
    registry,
    registerGauge(name, help, fn) {
      taken(name);
      if (name.endsWith('_total'))
        throw new TypeError(`metric ${name}: a _total is a counter (registerCounter)`);
      new Gauge({
        name,
        help,
        labelNames: ['edge'],
        registers: [registry],
        collect() {
          this.reset();
          const v = fn();
          if (v !== undefined) this.set({ edge }, v);
        },
      });
    },
    registerCounter(name, help, fn) {
      taken(name);
      if (!name.endsWith('_total')) throw new TypeError(`counter ${name} must end in _total`);
      let last = 0;
      new Counter({
        name,
        help,
        labelNames: ['edge'],
        registers: [registry],
        collect() {
          const v = fn();
          if (v === undefined || !Number.isFinite(v) || v < 0) return;
          this.inc({ edge }, v >= last ? v - last : v);
          last = v;
        },
      });
    },
    registerCheck(name, fn) {
      if (checks.has(name) || name.startsWith('stream:'))
        throw new TypeError(`check ${name} is already registered`);
      checks.set(name, fn);
    },
    readiness() {
      const out: Record<string, HealthCheck> = {};
      for (const [name, fn] of checks) {
        try {
          out[name] = fn();
        } catch (err) {
          out[name] = { status: 'unavailable', detail: `check failed: ${String(err)}` };
        }
      }
      for (const s of stats()) {
        const status = STREAM_HEALTH[s.state] ?? 'degraded';
        const error = s.lastError && status !== 'ok' ? `: ${s.lastError}` : '';
        out[`stream:${s.streamId}`] = { status, detail: s.state + error };
      }
      return healthReport(VERSION, out);
    },
  };
  return metrics;
}
