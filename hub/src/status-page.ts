/**
 * The hub's status page: lists edges and their streams with live counts, and the overflow workers with their live
 * rates and the queue of each model, refreshed every second. The page holds no data; its script reads
 * /api/v1/edges and /api/v1/workers (each on its own: one failing leaves the other shown) with a viewer token taken from the URL fragment (`/#token=...`, never
 * sent to the server) or typed into the page, and kept in this browser's localStorage.
 */

/** The page; `nonce` is the request's CSP nonce, put on its one inline <style> and <script>. */
export function statusPage(nonce: string): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Sightline hub</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style nonce="${nonce}">
  body { font: 14px/1.4 system-ui, sans-serif; margin: 2rem; color: #1d2330; background: #f6f7f9; }
  h1 { font-size: 1.4rem; margin: 0 0 1rem; }
  .edge { background: #fff; border: 1px solid #dde1e7; border-radius: 8px; padding: 1rem; margin-bottom: 1rem; overflow-x: auto; }
  .edge h2 { font-size: 1.1rem; margin: 0 0 .5rem; }
  .badge { display: inline-block; padding: 0 .5rem; border-radius: 999px; font-size: .8rem; color: #fff; }
  .badge.online, .badge.running, .badge.idle { background: #1f9d55; } .badge.busy { background: #3182ce; }
  .badge.stale, .badge.reconnecting, .badge.starting, .badge.stopped, .badge.saturated { background: #d69e2e; }
  .badge.offline, .badge.failed, .badge.unavailable { background: #c53030; } .badge.ended { background: #718096; }
  table.queues { width: auto; min-width: 24rem; }
  h2.section { font-size: 1.2rem; margin: 1.5rem 0 .75rem; }
  .edge h3 { font-size: 1rem; margin: 1rem 0 .5rem; }
  table { border-collapse: collapse; width: 100%; }
  th, td { text-align: right; padding: .25rem .5rem; border-bottom: 1px solid #edf0f3; white-space: nowrap; }
  th:first-child, td:first-child, .src { text-align: left; }
  td.src { max-width: 24rem; overflow: hidden; text-overflow: ellipsis; }
  .muted { color: #718096; }
  h1 a { font-size: .9rem; }
</style>
</head>
<body>
<h1>Sightline hub <a href="/viewer">live view</a></h1>
<form id="login" hidden><label>Viewer token <input id="token" size="60" autocomplete="off"></label> <button>Open</button></form>
<div id="fleet"><p class="muted">Waiting for edges…</p></div>
<h2 class="section">Overflow workers</h2>
<div id="workers"><p class="muted">Waiting for workers…</p></div>
<script nonce="${nonce}">
const esc = (s) => String(s).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]);
function render(data) {
  if (!data.edges.length) return '<p class="muted">No edge has enrolled yet.</p>';
  return data.edges.map((e) => \`
    <section class="edge" data-edge="\${esc(e.edgeId)}">
      <h2>\${esc(e.edgeId)} <span class="badge \${esc(e.status)}">\${esc(e.status)}</span></h2>
      <p class="muted">model \${esc(e.model ?? '?')} on \${esc(e.provider ?? '?')} · version \${esc(e.version)} · last heartbeat \${e.lastSeen ? esc(new Date(e.lastSeen).toLocaleTimeString()) : 'never'}\${e.load ? ' · outbox ' + e.load.outboxMessages + (e.load.outboxDropped ? ' (' + e.load.outboxDropped + ' dropped)' : '') : ''}</p>
      <table>
        <thead><tr><th>stream</th><th>state</th><th class="src">source</th><th>fps</th><th>frames</th><th>inferred</th><th>tracks now</th><th>tracks stored</th><th>p50 ms</th><th>p95 ms</th><th>dropped</th><th>infer errors</th><th>reconnects</th></tr></thead>
        <tbody>\${e.streams.map((s) => \`
          <tr data-stream="\${esc(s.streamId)}">
            <td>\${esc(s.streamId)}</td><td><span class="badge \${esc(s.state ?? 'ended')}">\${esc(s.state ?? 'gone')}</span></td>
            <td class="src" title="\${esc(s.source ?? '')}">\${esc(s.source ?? '')}</td>
            <td>\${num(s.fps, 1)}</td><td>\${num(s.framesDecoded)}</td><td class="inferred">\${num(s.framesInferred)}</td>
            <td class="tracks">\${num(s.activeTracks)}</td><td class="stored">\${s.tracksStored}</td><td>\${num(s.latencyP50Ms)}</td><td>\${num(s.latencyP95Ms)}</td>
            <td>\${s.droppedOverflow === undefined ? '–' : s.droppedOverflow + s.droppedStale}</td><td class="infer-errors">\${num(s.inferErrors)}</td><td>\${num(s.reconnects)}</td>
          </tr>\${s.lastError ? \`<tr><td colspan="13" class="muted">\${esc(s.lastError)}</td></tr>\` : ''}\`).join('')}
        </tbody>
      </table>
    </section>\`).join('');
}
function renderWorkers(data) {
  if (data.redis === 'off') return '<p class="muted">overflow off: start the hub with --redis</p>';
  if (data.redis === 'unavailable') return '<p><span class="badge unavailable">redis unavailable</span> <span class="muted">the hub cannot reach Redis: no overflow worker can be used</span></p>';
  const queues = Object.entries(data.queues ?? {});
  return \`
    <section class="edge" id="worker-list">
      \${data.workers.length ? \`<table>
        <thead><tr><th>worker</th><th>status</th><th class="src">models</th><th class="src">provider</th><th>rate fps</th><th>capacity fps</th><th>in flight</th><th>processed</th><th>failed</th><th>malformed</th><th>last heartbeat</th></tr></thead>
        <tbody>\${data.workers.map((w) => \`
          <tr data-worker="\${esc(w.id)}" title="\${esc(w.host)} pid \${esc(w.pid)}">
            <td>\${esc(w.id)}</td><td><span class="badge \${esc(w.status)}">\${esc(w.status)}</span></td>
            <td class="src models">\${esc(w.models.join(', '))}</td><td class="src provider">\${esc(w.provider)}</td>
            <td class="rate">\${num(w.rateFps, 1)}</td><td class="capacity">\${num(w.capacityFps, 1)}</td><td class="in-flight">\${num(w.inFlight)}</td>
            <td class="processed">\${num(w.processed)}</td><td class="failed">\${num(w.failed)}</td><td class="malformed">\${num(w.malformed)}</td>
            <td class="heartbeat">\${esc(new Date(w.heartbeatAt).toLocaleTimeString())} (\${num(w.heartbeatAgeMs / 1000, 1)} s ago)</td>
          </tr>\`).join('')}
        </tbody>
      </table>\` : '<p class="muted">No live worker.</p>'}
      <h3>Queues</h3>
      \${queues.length ? \`<table class="queues">
        <thead><tr><th>model</th><th>length</th><th>pending</th><th>lag</th></tr></thead>
        <tbody>\${queues.map(([model, q]) => \`
          <tr data-queue="\${esc(model)}"><td>\${esc(model)}</td><td class="length">\${num(q.length)}</td><td class="pending">\${num(q.pending)}</td><td class="lag">\${num(q.lag)}</td></tr>\`).join('')}
        </tbody>
      </table>\` : '<p class="muted">No queue yet.</p>'}
    </section>\`;
}
const num = (v, digits = 0) => (typeof v === 'number' ? v.toFixed(digits) : '–');
const fromHash = new URLSearchParams(location.hash.slice(1)).get('token');
if (fromHash) { localStorage.setItem('sightline-token', fromHash); history.replaceState(null, '', location.pathname); }
const login = document.getElementById('login');
login.addEventListener('submit', (e) => { e.preventDefault(); localStorage.setItem('sightline-token', document.getElementById('token').value.trim()); login.hidden = true; refresh(); });
const show = (id, html) => { document.getElementById(id).innerHTML = html; };
/** GETs one API path; a refused token throws an error marked refused. */
async function load(path, token) {
  const res = await fetch(path, { headers: { authorization: 'Bearer ' + token } });
  if (res.status === 401 || res.status === 403) {
    const body = await res.json().catch(() => ({}));
    throw Object.assign(new Error(body.error?.message ?? 'HTTP ' + res.status), { refused: true });
  }
  if (!res.ok) throw new Error('HTTP ' + res.status);
  return res.json();
}
async function refresh() {
  const token = localStorage.getItem('sightline-token');
  if (!token) { login.hidden = false; show('fleet', '<p class="muted">A viewer token is needed (sightline hub token create --role viewer).</p>'); show('workers', ''); return; }
  // Both at once, each on its own: one failing leaves the other shown.
  const [edges, workers] = await Promise.allSettled([load('/api/v1/edges', token), load('/api/v1/workers', token)]);
  const refused = [edges, workers].find((r) => r.status === 'rejected' && r.reason.refused);
  if (refused) { login.hidden = false; show('fleet', '<p class="muted">Token refused: ' + esc(refused.reason.message) + '</p>'); show('workers', ''); return; }
  try { show('fleet', edges.status === 'fulfilled' ? render(edges.value) : '<p class="muted">Hub unreachable: ' + esc(edges.reason.message) + '</p>'); }
  catch (err) { show('fleet', '<p class="muted">Cannot show the edges: ' + esc(err.message) + '</p>'); }
  try { show('workers', workers.status === 'fulfilled' ? renderWorkers(workers.value) : '<p class="muted">Workers unreachable: ' + esc(workers.reason.message) + '</p>'); }
  catch (err) { show('workers', '<p class="muted">Cannot show the workers: ' + esc(err.message) + '</p>'); }
}
refresh();
setInterval(refresh, 1000);
</script>
</body>
</html>`;
}
