/**
 * The signalling client: one WebSocket to the hub's /api/v1/media/view (docs/webrtc.md) that authenticates with
 * the viewer token, hands on each message, and reconnects with jittered backoff until the token is refused.
 */
/** @import { HubToViewerMessage, ViewerToHubMessage } from './types.js' */

/** Where the hub takes viewer signalling. */
const MEDIA_VIEW_PATH = '/api/v1/media/view';
/** Close codes of a refused token: none or bad; role too weak. */
const REFUSED = [4401, 4403];
/** First reconnect delay (ms), doubled after each failure up to MAX_RETRY_MS, reset by a `streams` message. */
const FIRST_RETRY_MS = 250;
const MAX_RETRY_MS = 3000;

/**
 * @typedef {object} SignallingHandlers
 * @property {() => string | null} token The token to authenticate with (read on each connect).
 * @property {() => void} onNoToken There is no token: nothing was opened.
 * @property {() => void} onConnecting A socket is opening.
 * @property {(msg: HubToViewerMessage) => void} onMessage A message from the hub (a `streams` one resets the backoff).
 * @property {(refused: string | undefined) => void} onClose The socket closed: with the reason when the token was
 *   refused (no reconnect), else undefined (a reconnect is scheduled).
 */

export class Signalling {
  /** @type {SignallingHandlers} */
  #on;
  /** @type {WebSocket | undefined} */
  #ws;
  #retryMs = FIRST_RETRY_MS;
  /** @type {number | undefined} */
  #timer;

  /** @param {SignallingHandlers} handlers */
  constructor(handlers) {
    this.#on = handlers;
  }

  /** Whether the socket is open (messages sent now go out). */
  get open() {
    return this.#ws?.readyState === WebSocket.OPEN;
  }

  /** Starts over with the shortest reconnect delay (a new token was entered). */
  resetBackoff() {
    this.#retryMs = FIRST_RETRY_MS;
  }

  /**
   * Sends a message if the socket is open; drops it otherwise.
   * @param {ViewerToHubMessage} msg
   */
  send(msg) {
    if (this.#ws?.readyState === WebSocket.OPEN) this.#ws.send(JSON.stringify(msg));
  }

  /** (Re)opens the socket, closing the current one. */
  connect() {
    const token = this.#on.token();
    if (!token) return this.#on.onNoToken();
    clearTimeout(this.#timer);
    this.#ws?.close();
    const url = `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}${MEDIA_VIEW_PATH}`;
    const socket = new WebSocket(url);
    this.#ws = socket;
    this.#on.onConnecting();
    socket.onopen = () => socket.send(JSON.stringify({ t: 'auth', token }));
    socket.onmessage = (ev) => {
      /** @type {HubToViewerMessage} */
      let msg;
      try {
        msg = JSON.parse(ev.data);
      } catch {
        return;
      }
      if (msg.t === 'streams') this.#retryMs = FIRST_RETRY_MS;
      this.#on.onMessage(msg);
    };
    socket.onclose = (ev) => {
      if (this.#ws !== socket) return;
      if (REFUSED.includes(ev.code)) return this.#on.onClose(ev.reason || String(ev.code));
      this.#on.onClose(undefined);
      // Jitter: viewers don't stampede a restarted hub.
      this.#timer = setTimeout(() => this.connect(), this.#retryMs * (0.8 + Math.random() * 0.4));
      this.#retryMs = Math.min(this.#retryMs * 2, MAX_RETRY_MS);
    };
  }
}
