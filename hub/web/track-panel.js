/**
 * The track panel: a clicked track's stored thumbnail and times, and the similar tracks the hub's search finds
 * (POST /api/v1/search), each with its thumbnail, where and when it was seen, and its similarity.
 */
import { currentToken } from './auth.js';
import { $, esc, messageOf } from './dom.js';

/** @import { MetaTrack, SimilarTrack, StoredTrack, StreamInfo } from './types.js' */

/**
 * A JSON request to the hub's API with the viewer token; throws the API's error message on a failure status.
 * @template T the answer's JSON
 * @param {string} path
 * @param {RequestInit} [init]
 * @returns {Promise<T>}
 */
async function api(path, init = {}) {
  const res = await fetch(path, {
    ...init,
    headers: { ...(init.headers ?? {}), authorization: `Bearer ${currentToken()}` },
  });
  const body = await res.json().catch(() => ({}));
  if (!res.ok) throw new Error(body.error?.message ?? `HTTP ${res.status}`);
  return body;
}

/**
 * A thumbnail URL with the token as a query parameter (an <img> sends no authorization header).
 * @param {string | undefined} url
 */
const thumb = (url) =>
  url ? `${url}${url.includes('?') ? '&' : '?'}access_token=${encodeURIComponent(currentToken() ?? '')}` : '';

/**
 * A failed request, shown as an error (not as a grey note that looks like a result).
 * @param {unknown} err
 */
const errorNote = (err) => `<p class="error" role="alert">${esc(messageOf(err))}</p>`;

/**
 * One similar track: its thumbnail, where it was seen (stream, edge), its label, when, and the similarity.
 * @param {SimilarTrack} r
 * @returns {string}
 */
function similarFigure(r) {
  const when = r.lastSeen && Date.parse(r.lastSeen) > 0 ? new Date(r.lastSeen).toLocaleTimeString() : '';
  const img = r.thumbnail
    ? `<img alt="track ${esc(r.trackId)} on ${esc(r.streamId)}" src="${esc(thumb(r.thumbnail))}">`
    : '<div class="no-thumb">no thumbnail</div>';
  return `<figure data-track="${esc(r.id)}">${img}<figcaption><span class="stream">${esc(r.streamId)}</span>
    <span class="muted">${esc(r.edgeId)} · #${esc(r.trackId)}${r.label ? ` ${esc(r.label)}` : ''}${when ? ` · ${esc(when)}` : ''}</span>
    <span class="score">${(r.score * 100).toFixed(0)}% similar</span></figcaption></figure>`;
}

/**
 * Opens the panel on track `t` of stream `info`: its stored record, then the similar tracks.
 * @param {StreamInfo} info
 * @param {MetaTrack} t
 */
export async function showTrack(info, t) {
  const panel = $('track');
  panel.hidden = false;
  $('track-title').textContent = `${info.key} #${t.id} ${t.l}`;
  const body = $('track-body');
  body.innerHTML = '<p class="muted">Loading…</p>';
  try {
    const q = new URLSearchParams({ edgeId: info.edgeId, streamId: info.streamId, limit: '500' });
    /** @type {{ tracks: StoredTrack[] } | StoredTrack[]} */
    const list = await api(`/api/v1/tracks?${q}`);
    const tracks = 'tracks' in list ? list.tracks : list;
    const track = tracks.find((x) => x.trackId === t.id);
    if (!track) {
      body.innerHTML = '<p class="muted">Not stored yet (the edge sends tracks every half second).</p>';
      return;
    }
    body.innerHTML = `${track.thumbnail ? `<img alt="track ${t.id}" src="${esc(thumb(track.thumbnail))}">` : '<p class="muted">No thumbnail yet.</p>'}
      <p class="muted">${esc(track.label ?? t.l)} · first seen ${esc(new Date(track.firstSeen).toLocaleTimeString())} · last seen ${esc(new Date(track.lastSeen).toLocaleTimeString())}</p>
      <h3>Similar tracks</h3><div class="similar"><span class="muted">Searching…</span></div>`;
    // Looked up when the answer comes (another click may have replaced the panel's content meanwhile).
    const similar = () => /** @type {HTMLElement} */ (body.querySelector('.similar'));
    try {
      /** @type {{ results: SimilarTrack[] }} */
      const found = await api('/api/v1/search', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ track: track.id, k: 9 }),
      });
      similar().innerHTML = found.results.length
        ? found.results.map(similarFigure).join('')
        : '<span class="muted">No similar tracks.</span>';
    } catch (err) {
      similar().innerHTML = errorNote(err);
    }
  } catch (err) {
    body.innerHTML = errorNote(err);
  }
}

/** Wires the panel's close button. */
export function wireTrackPanel() {
  $('track-close').addEventListener('click', () => {
    $('track').hidden = true;
  });
}
