// Sightline live viewer: a grid of the hub's live streams, each a tile (tile.js) with its video, overlay and
// stats; signalling over one WebSocket (signalling.js, docs/webrtc.md); the viewer token from the URL fragment
// (#token=...) or the login form (auth.js); a click on a box opens the track panel (track-panel.js). This module
// wires them to the page and exposes window.sightlineViewer for tests and curious users.
import { currentToken, showLogin, takeToken, wireLogin } from './auth.js';
import { $ } from './dom.js';
import { Signalling } from './signalling.js';
import { Tile } from './tile.js';
import { showTrack, wireTrackPanel } from './track-panel.js';

/** @import { HubToViewerMessage, Layers, StreamInfo } from './types.js' */

/** @type {Layers} */
const layers = {
  boxes: true,
  labels: true,
  ids: true,
  trails: true,
  masks: true,
  classes: true,
  segmentation: true,
};
/** @type {Map<string, Tile>} */
const tiles = new Map();

takeToken();

const signalling = new Signalling({
  token: currentToken,
  onNoToken: () => showLogin('A viewer token is needed (sightline hub token create --role viewer).'),
  onConnecting: () => setConn('connecting', 'reconnecting'),
  onMessage: onSignal,
  onClose: (refused) => {
    for (const tile of tiles.values()) tile.closePeer('hub connection lost');
    if (refused !== undefined) {
      setConn('refused', 'failed');
      showLogin(`Token refused: ${refused}`);
      return;
    }
    setConn('reconnecting', 'reconnecting');
  },
});

window.sightlineViewer = {
  layers,
  keys: () => [...tiles.keys()],
  frames: (key) => tiles.get(key)?.frames ?? [],
  stats: (key) => tiles.get(key)?.stats,
  lastDrawn: (key) => tiles.get(key)?.lastDrawn,
  segmentation: (key) => tiles.get(key)?.segmentation,
  connected: () => signalling.open,
  errors: [],
};

/**
 * The connection badge in the header.
 * @param {string} text
 * @param {string} cls badge class: live, reconnecting, failed
 */
function setConn(text, cls) {
  $('conn').textContent = text;
  $('conn').className = `badge ${cls}`;
}

/** @param {HubToViewerMessage} msg */
function onSignal(msg) {
  switch (msg.t) {
    case 'streams':
      setConn('connected', 'live');
      syncTiles(msg.streams);
      return;
    case 'offer':
      tiles.get(msg.key)?.onOffer(msg.sdp, msg.dataChannel);
      return;
    case 'error':
      window.sightlineViewer.errors.push(msg);
      if (msg.key) tiles.get(msg.key)?.setState(`error: ${msg.message}`, 'failed');
      else console.warn('hub:', msg.code, msg.message);
      return;
  }
}

/**
 * Makes the grid show exactly the listed streams, watching the ones without a peer.
 * @param {StreamInfo[]} streams
 */
function syncTiles(streams) {
  const keys = new Set(streams.map((s) => s.key));
  for (const [key, tile] of tiles) {
    if (!keys.has(key)) {
      tile.destroy();
      tiles.delete(key);
    }
  }
  for (const s of streams) {
    let tile = tiles.get(s.key);
    if (!tile) {
      tile = new Tile(s, {
        grid: $('grid'),
        layers,
        send: (msg) => signalling.send(msg),
        signallingOpen: () => signalling.open,
        onTrackClick: showTrack,
      });
      tiles.set(s.key, tile);
    } else tile.update(s);
    if (!tile.watching) tile.watch();
  }
  $('empty').hidden = tiles.size > 0;
}

wireLogin(() => {
  signalling.resetBackoff();
  signalling.connect();
});

for (const box of /** @type {NodeListOf<HTMLInputElement>} */ ($('layers').querySelectorAll('input'))) {
  const name = /** @type {keyof Layers} */ (box.name);
  box.checked = layers[name];
  box.addEventListener('change', () => {
    layers[name] = box.checked;
  });
}

wireTrackPanel();
signalling.connect();
