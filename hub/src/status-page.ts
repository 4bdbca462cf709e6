/**
 * The hub's status page: lists edges and their streams with live counts, refreshed every second. The page holds
 * no data; its script reads /api/v1/edges with a viewer token taken from the URL fragment (`/#token=...`, never
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
  .online, .running { background: #1f9d55; } .stale, .reconnecting, .starting, .stopped { background: #d69e2e; }
  .offline, .failed { background: #c53030; } .ended { background: #718096; }
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
const num = (v, digits = 0) => (typeof v === 'number' ? v.toFixed(digits) : '–');
const fromHash = new URLSearchParams(location.hash.slice(1)).get('token');
if (fromHash) { localStorage.setItem('sightline-token', fromHash); history.replaceState(null, '', location.pathname); }
const login = document.getElementById('login');
login.addEventListener('submit', (e) => { e.preventDefault(); localStorage.setItem('sightline-token', document.getElementById('token').value.trim()); login.hidden = true; refresh(); });
async function refresh() {
  const token = localStorage.getItem('sightline-token');
  if (!token) { login.hidden = false; document.getElementById('fleet').innerHTML = '<p class="muted">A viewer token is needed (sightline hub token create --role viewer).</p>'; return; }
  try {
    const res = await fetch('/api/v1/edges', { headers: { authorization: 'Bearer ' + token } });
    if (res.status === 401 || res.status === 403) { login.hidden = false; document.getElementById('fleet').innerHTML = '<p class="muted">Token refused: ' + esc((await res.json()).error.message) + '</p>'; return; }
    document.getElementById('fleet').innerHTML = render(await res.json());
  } catch (err) {
    document.getElementById('fleet').innerHTML = '<p class="muted">Hub unreachable: ' + esc(err.message) + '</p>';
  }
}
refresh();
setInterval(refresh, 1000);
</script>
</body>
</html>`;
}
