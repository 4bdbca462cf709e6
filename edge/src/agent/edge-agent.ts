/**
 * An edge as deployed: the runtime, the metrics server (with metrics.port), plus (when a hub is configured) its
 * credential, the uplink (batcher, on-disk outbox, WebSocket client) and the hub's commands. (The metrics server
 * serves the runtime's Prometheus metrics; the uplink adds its outbox and connection gauges to them.)
 *
 * Credential order: `hub.token` from the config, else the credential saved in `<hub.stateDir>/credential.json`
 * by an earlier enrollment with the same hub and edge id, else enroll now with `hub.enrollmentToken` (and save
 * the credential). All of this happens before any stream starts, so a bad token fails fast.
 */
import { join } from 'node:path';
import {
  type Command,
  childLogger,
  describeError,
  type EdgeConfig,
  type HealthCheck,
  type Hello,
  SightlineError,
} from '@sightline/shared';
import { InferencePool } from '../inference/inference-pool.ts';
import { type OverflowBackend, type OverflowStats, withOverflow } from '../inference/overflow-backend.ts';
import { type MetricsServer, startMetricsServer } from '../metrics/metrics-server.ts';
import { type HubTls, loadHubCa } from '../net/hub-tls.ts';
import { EdgeRuntime, type EdgeRuntimeOptions } from '../pipeline/edge-runtime.ts';
import { redactUrl } from '../sources/source-url.ts';
import { newRunId, UplinkBatcher } from '../uplink/batcher.ts';
import { type EdgeCredential, enrollEdge, loadCredential, saveCredential } from '../uplink/enroll.ts';
import { Journal } from '../uplink/journal.ts';
import { Outbox } from '../uplink/outbox.ts';
import { type CommandOutcome, UplinkClient } from '../uplink/uplink-client.ts';
import { VERSION } from '../version.ts';
import { EdgeMediaClient } from '../webrtc/media-client.ts';
import { WhipServer } from '../webrtc/whip-server.ts';
import { OffloadLink } from './offload-link.ts';

/** The latency budget of a stream: its stalenessMs (default 1000 ms). */
function stalenessOf(config: EdgeConfig, streamId: string): number {
  return config.streams.find((s) => s.id === streamId)?.stalenessMs ?? 1000;
}

/** Counters of the overflow path: frames run locally and offloaded, and what became of the requests. */
function registerOverflowMetrics(runtime: EdgeRuntime, overflow: OverflowBackend): void {
  const m = runtime.metrics;
  const counter = (name: string, help: string, read: (s: OverflowStats) => number) =>
    m.registerCounter(name, help, () => read(overflow.stats()));
  counter('sightline_edge_local_frames_total', 'Frames inferred by the local pool.', (s) => s.localFrames);
  counter(
    'sightline_edge_offloaded_frames_total',
    "Frames sent to the hub's overflow workers.",
    (s) => s.frames,
  );
  counter(
    'sightline_edge_offload_answered_frames_total',
    'Offloaded frames answered in time.',
    (s) => s.answeredFrames,
  );
  counter('sightline_edge_offload_bytes_total', 'Frame payload bytes offloaded.', (s) => s.bytes);
  counter(
    'sightline_edge_offload_shed_total',
    'Requests the hub shed (no worker free, queue full).',
    (s) => s.shed,
  );
  counter(
    'sightline_edge_offload_unavailable_total',
    'Requests the hub could not take (link or Redis down).',
    (s) => s.unavailable,
  );
  counter(
    'sightline_edge_offload_failed_total',
    'Requests a worker failed or that expired in the queue.',
    (s) => s.failed,
  );
  counter(
    'sightline_edge_offload_late_total',
    'Requests whose deadline passed before their answer.',
    (s) => s.late,
  );
  counter(
    'sightline_edge_offload_duplicates_total',
    'Answers that came again and were ignored.',
    (s) => s.duplicates,
  );
}

/** A config safe to show the hub: no tokens, no passwords in source URLs. */
export function redactConfig(config: EdgeConfig): Record<string, unknown> {
  const copy = JSON.parse(JSON.stringify(config)) as Record<string, unknown> & {
    hub?: Record<string, unknown>;
    whip?: Record<string, unknown>;
    streams?: { source?: string }[];
  };
  if (copy.hub) {
    delete copy.hub.token;
    delete copy.hub.enrollmentToken;
  }
  if (copy.whip) delete copy.whip.token;
  for (const s of copy.streams ?? []) {
    if (typeof s.source === 'string') s.source = redactUrl(s.source);
  }
  return copy;
}

export class EdgeAgent {
  readonly runtime: EdgeRuntime;
  readonly uplink?: UplinkClient;
  /** Live video to the hub over WebRTC (with a hub, unless webrtc.enabled is false). */
  readonly media?: EdgeMediaClient;
  /** WHIP ingest server (with config.whip). */
  readonly whip?: WhipServer;
  /** The detector's backend when overflow is on: local pool plus the hub's workers (its stats()). */
  readonly overflow?: OverflowBackend;
  readonly #batcher?: UplinkBatcher;
  readonly #outbox?: Outbox;
  readonly #journal?: Journal;
  readonly #metricsServer?: MetricsServer;
  #closed?: Promise<void>;

  private constructor(parts: {
    runtime: EdgeRuntime;
    uplink?: UplinkClient;
    batcher?: UplinkBatcher;
    outbox?: Outbox;
    journal?: Journal;
    media?: EdgeMediaClient;
    whip?: WhipServer;
    metricsServer?: MetricsServer;
    overflow?: OverflowBackend;
  }) {
    this.runtime = parts.runtime;
    this.overflow = parts.overflow;
    this.uplink = parts.uplink;
    this.media = parts.media;
    this.#batcher = parts.batcher;
    this.#outbox = parts.outbox;
    this.#journal = parts.journal;
    this.whip = parts.whip;
    this.#metricsServer = parts.metricsServer;
  }

  /** The metrics server's base URL (http://host:port) while it runs; undefined when metrics.port is unset. */
  get metricsUrl(): string | undefined {
    return this.#metricsServer?.url;
  }

  /** Gets the credential, starts the runtime (with `options`: a stored tuning, see EdgeRuntimeOptions) and the metrics server, then the uplink. */
  static async start(
    config: EdgeConfig,
    options: Pick<EdgeRuntimeOptions, 'inferenceInput' | 'stateDir'> = {},
  ): Promise<EdgeAgent> {
    const hub = config.hub;
    // With overflow on, the detector's backend is the local pool plus the hub's workers, reached through the
    // uplink once it exists.
    const link = hub && config.overflow?.enabled ? new OffloadLink() : undefined;
    let overflow: OverflowBackend | undefined;
    const runtime: EdgeRuntime = new EdgeRuntime(
      config,
      link && config.overflow
        ? {
            ...options,
            inferenceBackend: withOverflow(
              (o) => InferencePool.create(o),
              () => ({
                transport: link,
                overflow: config.overflow!,
                deadlineOf: (f) => f.capturedAt + stalenessOf(runtime.config, f.streamId),
              }),
              (b) => {
                overflow = b;
              },
            ),
          }
        : options,
    );
    // hub.ca is read first: a missing or malformed CA bundle stops the start before anything talks to the hub.
    const tls: HubTls | undefined = hub?.ca ? loadHubCa(hub.ca) : undefined;
    const credential = hub ? await obtainCredential(config, runtime.edgeId, tls) : undefined;
    const webrtc = hub && credential && (config.webrtc?.enabled ?? true);
    // The sources must emit their packets from their first open on (and re-encode what browsers cannot play).
    if (webrtc) runtime.enablePackets();
    let outbox: Outbox | undefined;
    let journal: Journal | undefined;
    const run = newRunId();
    let whip: WhipServer | undefined;
    let metricsServer: MetricsServer | undefined;
    let uplink: UplinkClient | undefined;
    let lastDisconnect: string | undefined;
    // Readiness (GET /ready of the metrics server, opened once the runtime started): registered first, so that no
    // answer between the start of the streams and the start of the uplink says "ready" while the hub is not there.
    // (Without a hub nor a metrics port nothing reads it: the metrics stay uncreated until first used.)
    if (hub || config.metrics?.port !== undefined) {
      runtime.metrics.registerCheck('hub', (): HealthCheck => {
        if (!hub) return { status: 'ok', detail: 'not configured' };
        const stats = uplink?.stats();
        if (stats?.connected) return { status: 'ok', detail: `connected to ${hub.url}` };
        const why = lastDisconnect
          ? `disconnected from ${hub.url}: ${lastDisconnect}`
          : `connecting to ${hub.url}`;
        return {
          status: 'unavailable',
          detail: `${why}; ${stats?.outboxMessages ?? 0} batches in the outbox`,
        };
      });
    }
    try {
      if (hub && credential) {
        outbox = Outbox.open({
          dir: join(hub.stateDir, 'outbox'),
          maxMessages: hub.outboxMaxMessages,
          maxBytes: hub.outboxMaxBytes,
          durable: hub.fsync !== 'none',
        });
        // The write-ahead journal of the batcher's open windows; what an earlier run left is queued below.
        journal = Journal.open({ dir: join(hub.stateDir, 'journal'), run, fsync: hub.fsync });
      }
      await runtime.start();
      if (config.metrics?.port !== undefined) {
        metricsServer = await startMetricsServer({
          port: config.metrics.port,
          host: config.metrics.host,
          registry: runtime.metrics.registry,
          readiness: () => runtime.metrics.readiness(),
        });
        childLogger('edge').info({ url: metricsServer.url }, 'metrics server listening');
      }
      // WHIP ingest: published cameras become whip://<streamId> streams of the runtime.
      if (config.whip) {
        whip = new WhipServer({ runtime, ...config.whip });
        await whip.listen();
      }
    } catch (err) {
      await whip?.close();
      await metricsServer?.close();
      journal?.close();
      outbox?.close();
      await runtime.close();
      throw err;
    }
    let batcher: UplinkBatcher | undefined;
    if (hub && credential && outbox && journal) {
      const client = new UplinkClient({
        hubUrl: hub.url,
        token: credential.token,
        edgeId: runtime.edgeId,
        run,
        outbox,
        hello: (): Omit<Hello, 't' | 'protocol' | 'edgeId' | 'run'> => ({
          version: VERSION,
          model: runtime.modelId,
          provider: runtime.provider,
          config: redactConfig(runtime.config),
          streams: runtime.stats(),
        }),
        heartbeat: () => ({ streams: runtime.stats() }),
        onCommand: (cmd) => runCommand(runtime, cmd, (id) => batcher?.resetStream(id)),
        tls,
      });
      uplink = client;
      link?.attach(client);
      // Windows an earlier process left un-cut (killed, crashed): their batches, with that run's seqs.
      for (const b of journal.recovered) if (!outbox.has(b.streamId, b.run, b.seq)) client.send(b);
      journal.discardRecovered();
      batcher = new UplinkBatcher({
        run,
        onBatch: (b) => client.send(b),
        flushMs: hub.flushMs,
        journal,
      });
      const b = batcher;
      runtime.on('result', (r) => b.addResult(r));
      runtime.on('thumbnail', (t) => b.addThumbnail(t));
      runtime.on('stream-state', (streamId, state, error) =>
        b.addEvent(streamId, {
          kind: 'stream-state',
          ts: Date.now(),
          data: { state, ...(error ? { error } : {}) },
        }),
      );
      client.on('connected', () => {
        lastDisconnect = undefined;
      });
      client.on('disconnected', (reason) => {
        lastDisconnect = reason;
      });
      client.on('connect-failed', (reason) => {
        lastDisconnect = reason;
      });
      client.start();
      const m = runtime.metrics;
      m.registerGauge(
        'sightline_edge_uplink_connected',
        'Whether the uplink to the hub is connected (1) or not (0).',
        () => (client.stats().connected ? 1 : 0),
      );
      m.registerGauge(
        'sightline_edge_outbox_messages',
        'Batches waiting in the outbox for an ack.',
        () => client.stats().outboxMessages,
      );
      m.registerGauge(
        'sightline_edge_outbox_bytes',
        'Bytes waiting in the outbox.',
        () => client.stats().outboxBytes,
      );
      m.registerCounter(
        'sightline_edge_outbox_dropped_total',
        'Batches the outbox dropped (bound hit).',
        () => client.stats().dropped,
      );
      m.registerCounter(
        'sightline_edge_uplink_acked_total',
        'Batches acknowledged by the hub.',
        () => client.stats().acked,
      );
      if (overflow) registerOverflowMetrics(runtime, overflow);
    }
    let media: EdgeMediaClient | undefined;
    if (webrtc && hub && credential) {
      media = new EdgeMediaClient({
        hubUrl: hub.url,
        token: credential.token,
        runtime,
        holdMs: config.webrtc?.holdMs,
        maxHeldFrames: config.webrtc?.maxHeldFrames,
        mtu: config.webrtc?.mtu,
        tls,
      });
      media.start();
      const mc = media;
      runtime.metrics.registerGauge(
        'sightline_edge_webrtc_connected',
        'Whether the WebRTC media signalling socket to the hub is open (1) or not (0).',
        () => (mc.connected ? 1 : 0),
      );
      // Live video is extra: without it tracks still flow, so the edge stays ready (degraded).
      runtime.metrics.registerCheck('webrtc', () =>
        mc.connected
          ? { status: 'ok', detail: 'media signalling connected' }
          : { status: 'degraded', detail: 'media signalling not connected' },
      );
    }
    return new EdgeAgent({ runtime, uplink, batcher, outbox, journal, media, whip, metricsServer, overflow });
  }

  /**
   * Stops the runtime (frames in flight finish), cuts the last batch into the outbox, closes the uplink and the
   * metrics server. Batches not yet acked stay in the outbox for the next start. Safe to call twice.
   */
  close(): Promise<void> {
    this.#closed ??= (async () => {
      await this.whip?.close();
      await this.media?.close();
      await this.runtime.close();
      await this.#metricsServer?.close();
      this.#batcher?.flush();
      this.#batcher?.close();
      this.#journal?.close();
      await this.uplink?.close();
      this.#outbox?.close();
    })();
    return this.#closed;
  }
}

async function obtainCredential(
  config: EdgeConfig,
  edgeId: string,
  tls: HubTls | undefined,
): Promise<EdgeCredential> {
  const hub = config.hub!;
  if (hub.token) return { hubUrl: hub.url, edgeId, token: hub.token };
  const saved = await loadCredential(hub.stateDir);
  if (saved && saved.edgeId === edgeId && sameHub(saved.hubUrl, hub.url)) return saved;
  if (!hub.enrollmentToken) {
    throw new SightlineError(
      'CONFIG_INVALID',
      `edge "${edgeId}" has no credential for ${hub.url} in ${hub.stateDir}: give hub.token, or an enrollment token (--enroll-token) to enroll`,
    );
  }
  const credential = await enrollEdge({ hubUrl: hub.url, enrollmentToken: hub.enrollmentToken, edgeId, tls });
  await saveCredential(hub.stateDir, credential);
  childLogger('edge').info({ hub: hub.url, edge: edgeId }, 'enrolled with the hub; credential saved');
  return credential;
}

function sameHub(a: string, b: string): boolean {
  try {
    return new URL(a).origin === new URL(b).origin;
  } catch {
    return false;
  }
}

/** Runs one hub command against the runtime; failures become ok:false with the error's code. */
async function runCommand(
  runtime: EdgeRuntime,
  cmd: Command,
  forgetStream: (streamId: string) => void,
): Promise<CommandOutcome> {
  const streamId = typeof cmd.args.streamId === 'string' ? cmd.args.streamId : '';
  try {
    switch (cmd.op) {
      case 'addStream':
        await runtime.addStream(cmd.args as never);
        break;
      case 'removeStream':
        await runtime.removeStream(streamId);
        forgetStream(streamId);
        break;
      case 'startStream':
        await runtime.startStream(streamId);
        break;
      case 'stopStream':
        await runtime.stopStream(streamId);
        break;
      case 'applyConfig': {
        const { applied } = await runtime.applyConfig(cmd.args as never);
        return { ok: true, data: { applied, config: redactConfig(runtime.config) } };
      }
    }
    return { ok: true, data: { config: redactConfig(runtime.config) } };
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    return {
      ok: false,
      error: { code: typeof code === 'string' ? code : 'COMMAND_FAILED', message: describeError(err) },
    };
  }
}
