/** `sightline edge run`: run the edge pipeline on one or more sources. */
import { parseArgs } from 'node:util';
import { EdgeAgent } from '@sightline/edge';
import {
  childLogger,
  DetectorConfig,
  type EdgeConfig,
  type EdgeConfigInput,
  ID_PATTERN,
  ID_RULE,
  InferenceConfig,
  loadEdgeConfig,
  parseEdgeConfig,
  StreamConfig,
} from '@sightline/shared';
import { durationFlag, hubUrlFlag, numberFlag, portFlag, providersFlag, tokenFlag } from '../flags.ts';
import { LOG_USAGE } from '../logging.ts';
import { ProgressPrinter } from '../progress.ts';
import { handleStopSignals } from '../stop-signals.ts';
import { UsageError } from '../usage-error.ts';

export const EDGE_USAGE = `Usage: sightline edge run [options]

  --source <url|file>   a video file, rtsp:// rtsps:// or http(s):// URL (repeat for more streams)
  --config <file>       YAML or JSON config file (flags below override it)
  --model <id>          detection model from models/manifest.json (default yolox_nano)
  --out <file>          write one JSON line per frame with detections and tracks
  --mot <dir>           write MOTChallenge text per stream into <dir>
  --loop                restart file sources at their end
  --unpaced             read files as fast as possible instead of at their frame rate
  --providers <list>    execution providers to try in order, e.g. tensorrt,cuda,cpu (default cpu)
  --sessions <n>        inference sessions (worker threads) (default 2, or the layout of "sightline tune")
  --threads <n>         intra-op threads per session (default 1, or the layout of "sightline tune")
  --confidence <x>      minimum detection score (default 0.5)
  --tracker <type>      bytetrack or deepsort (appearance from the re-ID model) (default bytetrack)
  --hub <url>           send tracks, thumbnails and heartbeats to a hub, e.g. http://127.0.0.1:8080
  --enroll-token <t>    one-time enrollment token from the hub admin (first start; the credential is saved)
  --hub-token <t>       this edge's credential, when not enrolling (default: the saved one)
  --hub-ca <file>       PEM CA bundle trusted for an https:// hub instead of the system CAs: a private CA, or
                        a self-signed hub's certificate itself (hub.ca in the config; docs/tls.md)
  --state-dir <dir>     saved credential and outbox of unacknowledged batches (default ./edge-state)
  --edge-id <id>        this edge's id (default: the host name)
  --metrics-port <n>    serve Prometheus metrics on http://127.0.0.1:<n>/metrics
  --whip-port <n>       take cameras published with WHIP on http://127.0.0.1:<n>/whip/<streamId>
                        (token: whip.token in the config, or $SIGHTLINE_WHIP_TOKEN)
  --frames <n>          stop each stream after n frames (a stream that ends sooner stops there)
  --duration <s>        stop after this many seconds
  --json                print stats as JSON lines on stdout instead of progress lines
${LOG_USAGE}
Exit codes:
  0   every stream ended, or the run was stopped (Ctrl-C, SIGTERM, --duration), and none failed
  1   an error before any stream started (bad config, unknown model or class, missing model file)
  2   usage error (unknown flag, bad flag value)
  3   one or more streams failed (the last line on stderr names them); the other streams ran to the end
  130 a second Ctrl-C while the shutdown was stuck
`;

/** The number flags of `edge run`, checked against the config fields they set (bad values exit 2). */
function numberFlags(
  values: Partial<Record<'frames' | 'sessions' | 'threads' | 'confidence' | 'duration', string>>,
) {
  const flag = (name: keyof typeof values, expected: string, schema: Parameters<typeof numberFlag>[4]) =>
    numberFlag('edge', name, values[name], expected, schema);
  return {
    frames: flag('frames', 'a positive integer', StreamConfig.shape.maxFrames),
    sessions: flag('sessions', 'an integer 1..64', InferenceConfig.shape.sessions),
    threads: flag('threads', 'an integer 1..64', InferenceConfig.shape.intraOpThreads),
    confidence: flag('confidence', 'a number 0..1', DetectorConfig.shape.confidence),
    duration: durationFlag('edge', values.duration),
  };
}

/** Turn command-line flags (and an optional config file) into a validated EdgeConfig. */
export async function edgeConfigFromArgs(argv: string[]): Promise<{
  config: EdgeConfig;
  json: boolean;
  duration?: number;
  inferenceInput: EdgeConfigInput['inference'];
}> {
  const { values } = parseArgs({
    args: argv,
    options: {
      source: { type: 'string', multiple: true },
      config: { type: 'string' },
      model: { type: 'string' },
      out: { type: 'string' },
      mot: { type: 'string' },
      loop: { type: 'boolean' },
      unpaced: { type: 'boolean' },
      providers: { type: 'string' },
      sessions: { type: 'string' },
      threads: { type: 'string' },
      confidence: { type: 'string' },
      tracker: { type: 'string' },
      hub: { type: 'string' },
      'enroll-token': { type: 'string' },
      'hub-token': { type: 'string' },
      'hub-ca': { type: 'string' },
      'state-dir': { type: 'string' },
      'edge-id': { type: 'string' },
      'metrics-port': { type: 'string' },
      'whip-port': { type: 'string' },
      duration: { type: 'string' },
      frames: { type: 'string' },
      json: { type: 'boolean', default: false },
    },
    strict: true,
    allowPositionals: false,
  });
  if (!values.config && !values.source?.length && !values.hub && !values['whip-port'])
    throw new UsageError(
      'edge run needs at least one --source (or --hub, --whip-port or a --config file)',
      'edge',
    );
  // Every flag value is checked before the config file is read: a bad flag is a usage error (exit 2).
  const { frames: maxFrames, sessions, threads, confidence, duration } = numberFlags(values);
  const providers = providersFlag('edge', values.providers);
  const hubUrl = hubUrlFlag('edge', values.hub);
  const enrollmentToken = tokenFlag('edge', 'enroll-token', values['enroll-token']);
  const hubToken = tokenFlag('edge', 'hub-token', values['hub-token']);
  const metricsPort =
    values['metrics-port'] === undefined ? undefined : portFlag('edge', values['metrics-port']);
  const whipPort = values['whip-port'] === undefined ? undefined : portFlag('edge', values['whip-port']);
  const hubCa = values['hub-ca'];
  if (hubCa === '') throw new UsageError('--hub-ca expects a file, got ""', 'edge');
  if ((enrollmentToken || hubToken || values['state-dir'] || hubCa) && !hubUrl && !values.config) {
    throw new UsageError('--enroll-token, --hub-token, --hub-ca and --state-dir need --hub <url>', 'edge');
  }
  if (values['edge-id'] !== undefined && !ID_PATTERN.test(values['edge-id'])) {
    throw new UsageError(`--edge-id expects ${ID_RULE}, got "${values['edge-id']}"`, 'edge');
  }
  const trackers = ['bytetrack', 'deepsort'];
  if (values.tracker !== undefined && !trackers.includes(values.tracker)) {
    throw new UsageError(`--tracker expects one of ${trackers.join(', ')}, got "${values.tracker}"`, 'edge');
  }
  const base: EdgeConfigInput = values.config ? await loadEdgeConfig(values.config) : { streams: [] };
  const input: Record<string, unknown> = structuredClone(base);
  const overrides = {
    ...(values.loop ? { loop: true } : {}),
    ...(values.unpaced ? { realtime: false } : {}),
    ...(maxFrames ? { maxFrames } : {}),
  };
  if (values.source?.length) {
    input.streams = values.source.map((source, i) => ({ id: `cam${i + 1}`, source, ...overrides }));
  } else if (Object.keys(overrides).length) {
    input.streams = (base.streams ?? []).map((s) => ({ ...s, ...overrides }));
  }
  const detector = { ...(base.detector ?? {}) } as Record<string, unknown>;
  if (values.model) detector.model = values.model;
  if (confidence !== undefined) detector.confidence = confidence;
  input.detector = detector;
  const inference = { ...(base.inference ?? {}) } as Record<string, unknown>;
  if (providers) inference.providers = providers;
  if (sessions) inference.sessions = sessions;
  if (threads) inference.intraOpThreads = threads;
  input.inference = inference;
  // --tracker picks the type; settings from the config file stay when it names the same type.
  const baseTracker = base.tracker as { type?: string } | undefined;
  if (values.tracker && baseTracker?.type !== values.tracker) input.tracker = { type: values.tracker };
  const sinks = [...((base.sinks as unknown[]) ?? [])];
  if (values.out) sinks.push({ type: 'jsonl', path: values.out });
  if (values.mot) sinks.push({ type: 'mot', dir: values.mot });
  input.sinks = sinks;
  if (hubUrl || enrollmentToken || hubToken || hubCa || values['state-dir']) {
    input.hub = {
      ...((base.hub as object | undefined) ?? {}),
      ...(hubUrl ? { url: hubUrl } : {}),
      ...(enrollmentToken ? { enrollmentToken } : {}),
      ...(hubToken ? { token: hubToken } : {}),
      ...(hubCa ? { ca: hubCa } : {}),
      ...(values['state-dir'] ? { stateDir: values['state-dir'] } : {}),
    };
  }
  if (values['edge-id']) input.edgeId = values['edge-id'];
  if (metricsPort !== undefined)
    input.metrics = { ...((base.metrics as object | undefined) ?? {}), port: metricsPort };
  if (whipPort !== undefined) {
    const whip = { ...((base.whip as object | undefined) ?? {}), port: whipPort } as Record<string, unknown>;
    if (whip.token === undefined && process.env.SIGHTLINE_WHIP_TOKEN)
      whip.token = process.env.SIGHTLINE_WHIP_TOKEN;
    input.whip = whip;
  }
  return {
    config: parseEdgeConfig(input, 'edge settings'),
    json: values.json ?? false,
    duration,
    // As written: a stored tuning (sightline tune) fills the layout fields these leave to defaults.
    inferenceInput: inference as EdgeConfigInput['inference'],
  };
}

/** Exit codes of `edge run` (besides 1 for an error before the start, 2 for a usage error and 130). */
export const EDGE_EXIT = { ok: 0, streamsFailed: 3 } as const;

/** Run an edge until its sources end, --duration passes, or SIGINT/SIGTERM. Returns the exit code ("Exit codes" in EDGE_USAGE). */
export async function runEdge(argv: string[]): Promise<number> {
  const { config, json, duration, inferenceInput } = await edgeConfigFromArgs(argv);
  childLogger('cli').debug({ config }, 'edge config');
  const progress = new ProgressPrinter({ stream: json ? process.stdout : process.stderr, json });
  const signals = handleStopSignals({ out: { write: (text) => progress.note(text) } });
  let agent: EdgeAgent;
  try {
    agent = await EdgeAgent.start(config, { inferenceInput });
  } catch (err) {
    signals.dispose();
    throw err;
  }
  const { runtime } = agent;
  const finished = new Promise<string>((resolve) => {
    // An edge managed by a hub keeps running with no stream left: the hub may add some.
    if (!config.hub) runtime.once('end', () => resolve('all sources ended'));
    void signals.requested.then(resolve);
    if (duration) setTimeout(() => resolve(`ran for ${duration} s`), duration * 1000).unref();
  });
  if (agent.metricsUrl && !json) process.stderr.write(`metrics on ${agent.metricsUrl}/metrics\n`);
  progress.start(() => runtime.stats());
  const why = await finished;
  progress.stop();
  await agent.close();
  signals.dispose();
  const stats = runtime.stats();
  progress.print(stats);
  progress.release();
  if (!json) process.stderr.write(`edge stopped: ${why}\n`);
  const failed = stats.filter((s) => s.state === 'failed');
  if (failed.length === 0) return EDGE_EXIT.ok;
  for (const s of failed)
    process.stderr.write(`stream ${s.streamId} failed: ${s.lastError ?? 'unknown error'}\n`);
  // The last line names every failed stream, for scripts and supervisors that read only that.
  process.stderr.write(
    `sightline: ${failed.length} of ${stats.length} stream(s) failed: ${failed.map((s) => s.streamId).join(', ')}\n`,
  );
  return EDGE_EXIT.streamsFailed;
}
