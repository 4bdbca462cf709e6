/**
 * The overflow path's way to the hub: the uplink client, attached once it exists (the runtime, and with it the
 * inference backend, starts before the uplink does). Until then, and while the uplink is down, nothing is offloaded.
 */
import type { InferRequest, Inferred } from '@sightline/shared';
import type { OffloadTransport } from '../inference/remote-backend.ts';
import type { UplinkClient } from '../uplink/uplink-client.ts';

export class OffloadLink implements OffloadTransport {
  #client?: UplinkClient;
  readonly #answerListeners: ((answer: Inferred) => void)[] = [];
  readonly #readyListeners: ((ready: boolean) => void)[] = [];

  /** Connects the link to the uplink client (once). */
  attach(client: UplinkClient): void {
    if (this.#client) throw new Error('the offload link is already attached');
    this.#client = client;
    client.on('inferred', (answer) => {
      for (const l of this.#answerListeners) l(answer);
    });
    client.on('connected', () => {
      for (const l of this.#readyListeners) l(true);
    });
    client.on('disconnected', () => {
      for (const l of this.#readyListeners) l(false);
    });
  }

  get ready(): boolean {
    return this.#client?.connected ?? false;
  }

  sendInfer(request: InferRequest): boolean {
    return this.#client?.sendInfer(request) ?? false;
  }

  onInferred(listener: (answer: Inferred) => void): void {
    this.#answerListeners.push(listener);
  }

  onReadyChange(listener: (ready: boolean) => void): void {
    this.#readyListeners.push(listener);
  }
}
