/**
 * Prometheus metrics of one edge runtime, in a registry of its own (never prom-client's global one: the hub may
 * run in the same process with its own). Stream values are read from runtime.stats() at each scrape.
 */
import type { StreamStats } from '@sightline/shared';
import { Counter, collectDefaultMetrics, Gauge, Registry } from 'prom-client';

/** What the metrics read from the runtime (an EdgeRuntime fits). */
export interface EdgeMetricsSource {
  readonly edgeId: string;
  readonly modelId: string;
  readonly provider: string;
  stats(): StreamStats[];
  thumbnailStats?(): { encoded: number; skippedBusy: number; failed: number };
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
}

const PREFIX = 'sightline_edge_';

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
  new Gauge({
    name: `${PREFIX}stream_latency_seconds`,
    help: 'End-to-end latency (decoder output to tracks) per stream, over the last few hundred frames.',
    labelNames: ['edge', 'stream', 'quantile'],
    registers: [registry],
    collect() {
      this.reset();
      for (const s of stats()) {
        this.set({ edge, stream: s.streamId, quantile: '0.5' }, s.latencyP50Ms / 1000);
        this.set({ edge, stream: s.streamId, quantile: '0.95' }, s.latencyP95Ms / 1000);
      }
    },
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

  return {
    registry,
    registerGauge(name, help, fn) {
      if (registry.getSingleMetric(name)) throw new Error(`metric ${name} is already registered`);
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
  };
}
