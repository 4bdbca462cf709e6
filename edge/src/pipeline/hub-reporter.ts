/** Posts the edge's live stream counters to the hub once a second (until the uplink issue replaces it). */
import { childLogger, describeError, type StreamStats } from '@sightline/shared';

export interface HubReporterOptions {
  /** Hub base URL, e.g. http://127.0.0.1:8080. */
  hubUrl: string;
  edgeId: string;
  /** Called for each report. */
  snapshot: () => { version: string; model: string; provider: string; streams: StreamStats[] };
  /** Report period in ms. Default 1000. */
  intervalMs?: number;
}

export class HubReporter {
  #timer?: NodeJS.Timeout;
  #failing = false;
  #closed = false;
  #log = childLogger('hub-reporter');
  readonly #options: HubReporterOptions;
  readonly #url: string;

  constructor(options: HubReporterOptions) {
    this.#options = options;
    this.#url = new URL(`/api/v1/edges/${encodeURIComponent(options.edgeId)}/status`, options.hubUrl).href;
  }

  start(): void {
    const tick = async () => {
      await this.report();
      if (!this.#closed) this.#timer = setTimeout(tick, this.#options.intervalMs ?? 1000);
    };
    void tick();
  }

  /** Send one report now; failures are logged once per outage, never thrown. */
  async report(): Promise<boolean> {
    try {
      const res = await fetch(this.#url, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(this.#options.snapshot()),
        signal: AbortSignal.timeout(2000),
      });
      if (!res.ok) throw new Error(`hub answered ${res.status}: ${(await res.text()).slice(0, 200)}`);
      if (this.#failing) this.#log.info({ hub: this.#options.hubUrl }, 'hub reachable again');
      this.#failing = false;
      return true;
    } catch (err) {
      if (!this.#failing)
        this.#log.warn({ hub: this.#options.hubUrl, err: describeError(err) }, 'cannot report to hub');
      this.#failing = true;
      return false;
    }
  }

  close(): void {
    this.#closed = true;
    clearTimeout(this.#timer);
  }
}
