/** The hub's Prometheus metrics, in a registry of its own (an edge in the same process keeps its own). */
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';

export interface HubMetrics {
  registry: Registry;
  httpRequests: Counter<'method' | 'route' | 'status'>;
  httpSeconds: Histogram<'method' | 'route'>;
  authRefused: Counter<'reason'>;
  uplinkConnections: Gauge;
  uplinkMessages: Counter<'type'>;
  uplinkRejected: Counter<'code'>;
  uplinkQuarantined: Counter<'code'>;
  pointsStored: Counter;
  batchSeconds: Histogram;
  edges: Gauge<'status'>;
  mediaPublications: Gauge;
  mediaViewers: Gauge<'via'>;
  mediaWorkerRestarts: Counter;
  /** Overflow `infer` requests by outcome: queued, shed, unavailable, expired at submit; answered, failed, expired by the worker's answer. */
  overflowRequests: Counter<'outcome'>;
  overflowFrames: Counter;
  overflowAnswersDelivered: Counter;
  overflowRoundTripSeconds: Histogram;
  overflowQueueLength: Gauge<'model'>;
  overflowQueuePending: Gauge<'model'>;
  overflowTrimmed: Counter<'model'>;
  overflowMalformedAnswers: Counter;
}

/** Creates the registry; `edgeCounts` fills the per-status edge gauge at each scrape. */
export function createHubMetrics(edgeCounts: () => Promise<Record<string, number>>): HubMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'sightline_hub_' });
  const registers = [registry];
  return {
    registry,
    httpRequests: new Counter({
      name: 'sightline_hub_http_requests_total',
      help: 'HTTP requests by method, route and status.',
      labelNames: ['method', 'route', 'status'],
      registers,
    }),
    httpSeconds: new Histogram({
      name: 'sightline_hub_http_request_seconds',
      help: 'HTTP request duration.',
      labelNames: ['method', 'route'],
      buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5],
      registers,
    }),
    authRefused: new Counter({
      name: 'sightline_hub_auth_refused_total',
      help: 'Requests refused by authentication, by reason (missing, malformed, unknown, revoked, expired, used, role, rate).',
      labelNames: ['reason'],
      registers,
    }),
    uplinkConnections: new Gauge({
      name: 'sightline_hub_uplink_connections',
      help: 'Edges connected over the uplink now.',
      registers,
    }),
    uplinkMessages: new Counter({
      name: 'sightline_hub_uplink_messages_total',
      help: 'Uplink messages received, by type.',
      labelNames: ['type'],
      registers,
    }),
    uplinkRejected: new Counter({
      name: 'sightline_hub_uplink_rejected_total',
      help: 'Uplink messages refused, by error code.',
      labelNames: ['code'],
      registers,
    }),
    uplinkQuarantined: new Counter({
      name: 'sightline_hub_uplink_quarantined_total',
      help: 'Uplink batches refused for their content and quarantined (GET /api/v1/quarantine), by error code.',
      labelNames: ['code'],
      registers,
    }),
    pointsStored: new Counter({
      name: 'sightline_hub_track_points_stored_total',
      help: 'Track points inserted (replays not counted).',
      registers,
    }),
    batchSeconds: new Histogram({
      name: 'sightline_hub_uplink_batch_store_seconds',
      help: 'Time to store one uplink batch.',
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers,
    }),
    edges: new Gauge({
      name: 'sightline_hub_edges',
      help: 'Known edges by status (online, stale, offline).',
      labelNames: ['status'],
      registers,
      async collect() {
        for (const [status, n] of Object.entries(await edgeCounts())) this.set({ status }, n);
      },
    }),
    mediaPublications: new Gauge({
      name: 'sightline_hub_media_publications',
      help: 'Live video streams published by edges (WebRTC producers) now.',
      registers,
    }),
    mediaViewers: new Gauge({
      name: 'sightline_hub_media_viewers',
      help: 'Viewer sessions now, by signalling (ws, whep).',
      labelNames: ['via'],
      registers,
    }),
    mediaWorkerRestarts: new Counter({
      name: 'sightline_hub_media_worker_restarts_total',
      help: 'mediasoup workers restarted after dying.',
      registers,
    }),
    overflowRequests: new Counter({
      name: 'sightline_hub_overflow_requests_total',
      help: 'Overflow infer requests by outcome (queued, shed, unavailable, expired, answered, failed).',
      labelNames: ['outcome'],
      registers,
    }),
    overflowFrames: new Counter({
      name: 'sightline_hub_overflow_frames_offloaded_total',
      help: 'Frames queued for the overflow workers.',
      registers,
    }),
    overflowAnswersDelivered: new Counter({
      name: 'sightline_hub_overflow_answers_delivered_total',
      help: 'Worker answers relayed to a connected edge.',
      registers,
    }),
    overflowRoundTripSeconds: new Histogram({
      name: 'sightline_hub_overflow_round_trip_seconds',
      help: 'From queueing an infer request to its answer reaching the hub.',
      buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers,
    }),
    overflowQueueLength: new Gauge({
      name: 'sightline_hub_overflow_queue_length',
      help: 'Entries in a model request stream (XLEN), by model.',
      labelNames: ['model'],
      registers,
    }),
    overflowQueuePending: new Gauge({
      name: 'sightline_hub_overflow_queue_pending',
      help: 'Entries taken by a worker and not yet acknowledged, by model.',
      labelNames: ['model'],
      registers,
    }),
    overflowTrimmed: new Counter({
      name: 'sightline_hub_overflow_trimmed_total',
      help: 'Request entries trimmed off a model stream by its cap before any worker took them (never answered).',
      labelNames: ['model'],
      registers,
    }),
    overflowMalformedAnswers: new Counter({
      name: 'sightline_hub_overflow_malformed_answers_total',
      help: 'Entries of the results stream that are not a valid answer (dropped).',
      registers,
    }),
  };
}
