/**
 * The streams of a runtime by id, the effective config, and the control operations on them (add, remove, stop,
 * start, applyConfig), run one at a time. What a stream is and how it opens, starts and retires is the host's (the
 * runtime's): the registry decides which streams change and keeps the config in step.
 */
import {
  ConfigError,
  type EdgeConfig,
  SightlineError,
  StreamConfig,
  type StreamConfigInput,
  type StreamStats,
} from '@sightline/shared';
import type { ConfigReferences } from '../config-check.ts';
import { type ConfigPatch, planConfigChange } from './config-change.ts';

/** What the registry needs of a stream. */
export interface RegisteredStream {
  readonly config: StreamConfig & { id: string };
  readonly state: StreamStats['state'];
}

/** What the registry asks of the runtime. */
export interface StreamRegistryHost<S extends RegisteredStream> {
  /** Resolves once control operations may run; rejects with why not (not started, closed). */
  ready(): Promise<void>;
  /** Open a stream, not started yet. `carry`: the stream it replaces after a stop / start, whose counters carry on. */
  open(config: StreamConfig & { id: string }, carry?: S): S;
  /** Start a stream's source; `announce`: say 'starting' first (a stream added at run time). */
  start(stream: S, announce: boolean): void;
  /** Take a stream out of service: its queued frames are dropped, its frames in flight publish nothing. */
  retire(stream: S): Promise<void>;
  /** Mark a stream 'stopped' (before it retires: its closing source's own states are ignored then). */
  stop(stream: S): void;
  /** Throws when no stream can start again (e.g. inference stopped for good). */
  checkCanStart(): void;
  /** The stream's counters now. */
  stats(stream: S): StreamStats;
  /** Forget what other stages keep of a stream id (thumbnails): it was removed, restarted or re-tracked. */
  forget(id: string): void;
  /** Apply a live config change besides the streams (scheduler wait, thumbnails), once the config is `next`. */
  reconfigure(next: EdgeConfig, old: EdgeConfig): void;
  /** The tracker config changed: give a stream that was not restarted a new tracker (track ids restart at 1). */
  retrack(stream: S): void;
  /** A stream was removed. */
  removed(id: string): void;
  /** removeStream() is done: every stream may have ended now. */
  checkEnd(): void;
  /** applyConfig() changed something (after the streams changed). */
  applied(change: { applied: string[]; config: EdgeConfig }): void;
}

export class StreamRegistry<S extends RegisteredStream> {
  readonly #host: StreamRegistryHost<S>;
  readonly #edgeId: string;
  readonly #streams = new Map<string, S>();
  #config: EdgeConfig;
  /** The model and labels the config's names were checked against at start (for applyConfig). */
  #refs?: ConfigReferences;
  /** The control operation running now: they run one at a time. */
  #control: Promise<unknown> = Promise.resolve();

  constructor(options: { host: StreamRegistryHost<S>; config: EdgeConfig; edgeId: string }) {
    this.#host = options.host;
    this.#config = options.config;
    this.#edgeId = options.edgeId;
  }

  /** The effective config: the one given, with stream changes and applyConfig() patches applied. */
  get config(): EdgeConfig {
    return this.#config;
  }

  /** What applyConfig() checks model and class names against. */
  set references(refs: ConfigReferences) {
    this.#refs = refs;
  }

  get size(): number {
    return this.#streams.size;
  }

  get(id: string): S | undefined {
    return this.#streams.get(id);
  }

  values(): IterableIterator<S> {
    return this.#streams.values();
  }

  /** Open every stream of the config, then start them (at start()). */
  openAll(): void {
    for (const c of this.#config.streams) this.#open({ ...c, id: c.id! });
    for (const s of this.#streams.values()) this.#host.start(s, false);
  }

  /** Resolves when the control operation running now (if any) and those queued are done. */
  settled(): Promise<void> {
    return this.#control.then(() => {});
  }

  /**
   * Add a stream and start it. The config is validated with the StreamConfig schema (ConfigError naming the bad
   * fields); an id already in use is a ConfigError too; without an id the first free camN is used.
   */
  addStream(input: StreamConfigInput): Promise<StreamStats> {
    return this.#controlOp(() => {
      const parsed = StreamConfig.safeParse(input);
      if (!parsed.success) {
        throw new ConfigError(
          'Invalid stream',
          parsed.error.issues.flatMap((i) =>
            i.code === 'unrecognized_keys'
              ? i.keys.map((k) => `${[...i.path, k].join('.')}: unknown field`)
              : [`${i.path.length ? i.path.join('.') : '(root)'}: ${i.message}`],
          ),
        );
      }
      const config = parsed.data;
      if (config.id !== undefined && this.#streams.has(config.id)) {
        throw new ConfigError('Invalid stream', [`id: stream "${config.id}" already exists`]);
      }
      let n = this.#streams.size + 1;
      while (config.id === undefined) {
        if (!this.#streams.has(`cam${n}`)) config.id = `cam${n}`;
        n++;
      }
      this.#config = { ...this.#config, streams: [...this.#config.streams, config] };
      return this.#host.stats(this.#launch({ ...config, id: config.id }));
    });
  }

  /** Remove a stream: it retires and disappears from the streams and config.streams. */
  removeStream(id: string): Promise<void> {
    return this.#controlOp(async () => {
      const s = this.#stream(id);
      await this.#host.retire(s);
      this.#streams.delete(id);
      this.#host.forget(id);
      this.#config = { ...this.#config, streams: this.#config.streams.filter((c) => c.id !== id) };
      this.#host.removed(id);
      this.#host.checkEnd();
    });
  }

  /** Stop a stream ('stopped', then it retires); stopping a stopped stream does nothing. */
  stopStream(id: string): Promise<StreamStats> {
    return this.#controlOp(async () => {
      const s = this.#stream(id);
      if (s.state !== 'stopped') {
        this.#host.stop(s);
        await this.#host.retire(s);
      }
      return this.#host.stats(s);
    });
  }

  /** Start a stopped, ended or failed stream again, as a new stream carrying its counters; a live one is left alone. */
  startStream(id: string): Promise<StreamStats> {
    return this.#controlOp(async () => {
      const old = this.#stream(id);
      if (!['stopped', 'ended', 'failed'].includes(old.state)) return this.#host.stats(old);
      this.#host.checkCanStart();
      await this.#host.retire(old);
      this.#host.forget(id);
      const s = this.#open(old.config, old);
      this.#host.start(s, false);
      return this.#host.stats(s);
    });
  }

  /**
   * Change the config while running (see EdgeRuntime.applyConfig): streams diffed by id (added, removed,
   * restarted), the rest applied by the host. Resolves with the dotted paths changed.
   */
  applyConfig(patch: ConfigPatch): Promise<{ applied: string[] }> {
    return this.#controlOp(async () => {
      const plan = planConfigChange(this.#config, patch, this.#refs);
      const next = plan.config;
      for (const id of plan.streams.removed) {
        const s = this.#streams.get(id);
        if (!s) continue;
        await this.#host.retire(s);
        this.#streams.delete(id);
        this.#host.forget(id);
        this.#host.removed(id);
      }
      const old = this.#config;
      this.#config = next;
      this.#host.reconfigure(next, old);
      const byId = new Map(next.streams.map((c) => [c.id!, c]));
      for (const id of plan.streams.restarted) {
        const prev = this.#streams.get(id);
        if (!prev) continue;
        await this.#host.retire(prev);
        this.#host.forget(id);
        // A changed stream is a new stream under the same id: fresh counters.
        this.#launch({ ...byId.get(id)!, id });
      }
      if (plan.trackerChanged) {
        for (const s of this.#streams.values()) {
          if (!plan.streams.restarted.includes(s.config.id)) this.#host.retrack(s);
        }
      }
      for (const id of plan.streams.added) this.#launch({ ...byId.get(id)!, id });
      if (plan.applied.length) this.#host.applied({ applied: plan.applied, config: next });
      return { applied: plan.applied };
    });
  }

  /** Run a control operation after the one before it, once the host is ready. */
  #controlOp<T>(op: () => T | Promise<T>): Promise<T> {
    const run = this.#control.then(async () => {
      await this.#host.ready();
      return op();
    });
    this.#control = run.catch(() => {});
    return run;
  }

  #open(config: StreamConfig & { id: string }, carry?: S): S {
    const s = this.#host.open(config, carry);
    this.#streams.set(config.id, s);
    return s;
  }

  /** Open a stream added (or replaced) at run time, announce it as 'starting', start it. */
  #launch(config: StreamConfig & { id: string }): S {
    const s = this.#open(config);
    this.#host.start(s, true);
    return s;
  }

  #stream(id: string): S {
    const s = typeof id === 'string' ? this.#streams.get(id) : undefined;
    if (!s) throw new SightlineError('STREAM_UNKNOWN', `no stream "${String(id)}" on edge ${this.#edgeId}`);
    return s;
  }
}
