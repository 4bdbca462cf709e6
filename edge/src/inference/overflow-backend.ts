/**
 * Local inference first, the hub's overflow workers for what it cannot take now: an InferenceBackend made of the
 * local pool and a RemoteBackend. A batch goes local while the pool has a free slot; otherwise to the workers
 * while the remote side has one (connected, not in backoff, under its in-flight bound). So the pipeline (the
 * dispatcher, the scheduler's staleness budget) stays as it is, and with no worker reachable the edge runs exactly
 * as without overflow: frames it cannot take age out in the scheduler and are counted there.
 */
import { type ExecutionProvider, TypedEmitter } from '@sightline/shared';
import type { DecodeOptions } from '../adapters/types.ts';
import type { DecodedFrame, ImageBuffer } from '../frame.ts';
import type {
  InferenceBackend,
  InferenceBackendEvents,
  InferenceBackendFactory,
  InferenceBackendOptions,
} from './backend.ts';
import type { EmbedResult, InferResult } from './protocol.ts';
import { type OffloadStats, RemoteBackend, type RemoteBackendOptions } from './remote-backend.ts';

/** Frames run locally and offloaded since start, plus the remote side's counts. */
export interface OverflowStats extends OffloadStats {
  localFrames: number;
}

export class OverflowBackend extends TypedEmitter<InferenceBackendEvents> implements InferenceBackend {
  readonly maxBatch: number;
  readonly #local: InferenceBackend;
  readonly #remote: RemoteBackend;
  #localFrames = 0;

  constructor(local: InferenceBackend, remote: RemoteBackend) {
    super();
    this.#local = local;
    this.#remote = remote;
    this.maxBatch = Math.max(local.maxBatch, remote.maxBatch);
    local.on('slot', (n) => this.emit('slot', n));
    remote.on('slot', (n) => this.emit('slot', n));
    local.on('failed', (err) => this.emit('failed', err));
  }

  get provider(): ExecutionProvider | 'none' {
    return this.#local.provider;
  }

  get inputSize(): { width: number; height: number } {
    return this.#local.inputSize;
  }

  get closed(): boolean {
    return this.#local.closed;
  }

  get freeSlots(): number {
    return this.#local.freeSlots + this.#remote.freeSlots;
  }

  /** The local batch size while the pool has room, the remote one while only the workers have. */
  get batchLimit(): number {
    if (this.#local.freeSlots > 0 || this.#remote.freeSlots === 0) return this.#local.maxBatch;
    return this.#remote.maxBatch;
  }

  stats(): OverflowStats {
    return { ...this.#remote.stats(), localFrames: this.#localFrames };
  }

  infer(frames: readonly DecodedFrame[], options?: Partial<DecodeOptions>): Promise<InferResult[]> {
    if (this.#local.freeSlots === 0 && this.#remote.freeSlots > 0) {
      return this.#remote.infer(frames, options);
    }
    this.#localFrames += frames.length;
    const step = this.#local.maxBatch;
    if (frames.length <= step) return this.#local.infer(frames, options);
    // Taken when the workers were not free after all: the pool takes it in its own batch size.
    const parts: Promise<InferResult[]>[] = [];
    for (let i = 0; i < frames.length; i += step)
      parts.push(this.#local.infer(frames.slice(i, i + step), options));
    return Promise.all(parts).then((r) => r.flat());
  }

  /** Embeddings stay local. */
  embed(crops: readonly ImageBuffer[]): Promise<EmbedResult> {
    return this.#local.embed(crops);
  }

  async close(): Promise<void> {
    await Promise.all([this.#remote.close(), this.#local.close()]);
  }
}

/** What the overflow factory needs besides the local factory: see RemoteBackendOptions. */
export type OverflowFactoryOptions = Omit<RemoteBackendOptions, keyof InferenceBackendOptions>;

/**
 * Wraps a backend factory so detector models get local inference plus overflow to the hub's workers; other models
 * (re-ID, classification) stay local only. `remote` is called once per detector backend for the transport and settings.
 */
export function withOverflow(
  local: InferenceBackendFactory,
  remote: () => OverflowFactoryOptions,
  onCreated?: (backend: OverflowBackend) => void,
): InferenceBackendFactory {
  return async (options) => {
    const backend = await local(options);
    if (options.model.task !== 'detection' && options.model.task !== 'segmentation') return backend;
    const overflow = new OverflowBackend(backend, new RemoteBackend({ ...options, ...remote() }));
    onCreated?.(overflow);
    return overflow;
  };
}
