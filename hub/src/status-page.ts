/** The hub's status page: lists edges and their streams with live counts, refreshed every second. */

export function statusPage(): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Sightline hub</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
  body { font: 14px/1.4 system-ui, sans-serif; margin: 2rem; color: #1d2330; background: #f6f7f9; }
  h1 { font-size: 1.4rem; margin: 0 0 1rem; }
  .edge { background: #fff; border: 1px solid #dde1e7; border-radius: 8px; padding: 1rem; margin-bottom: 1rem; }
  .edge h2 { font-size: 1.1rem; margin: 0 0 .5rem; }
  .badge { display: inline-block; padding: 0 .5rem; border-radius: 999px; font-size: .8rem; color: #fff; }
  .online, .running { background: #1f9d55; } .stale, .reconnecting, .starting { background: #d69e2e; }
  .offline, .failed { background: #c53030; } .ended { background: #718096; }
  table { border-collapse: collapse; width: 100%; }
  th, td { text-align: right; padding: .25rem .5rem; border-bottom: 1px solid #edf0f3; white-space: nowrap; }
  th:first-child, td:first-child, .src { text-align: left; }
  td.src { max-width: 24rem; overflow: hidden; text-overflow: ellipsis; }
  .muted { color: #718096; }
</style>
</head>
<body>
<h1>Sightline hub</h1>
<div id="fleet"><p class="muted">Waiting for edges…</p></div>
<script>
const esc = (s) => String(s).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]);
function render(data) {
  if (!data.edges.length) return '<p class="muted">No edge has reported yet.</p>';
  return data.edges.map((e) => \`
    <section class="edge" data-edge="\${esc(e.edgeId)}">
      <h2>\${esc(e.edgeId)} <span class="badge \${esc(e.status)}">\${esc(e.status)}</span></h2>
      <p class="muted">model \${esc(e.model)} on \${esc(e.provider)} · version \${esc(e.version)} · last report \${esc(new Date(e.lastSeen).toLocaleTimeString())}</p>
      <table>
        <thead><tr><th>stream</th><th>state</th><th class="src">source</th><th>fps</th><th>frames</th><th>inferred</th><th>tracks</th><th>p50 ms</th><th>p95 ms</th><th>dropped</th><th>infer errors</th><th>reconnects</th></tr></thead>
        <tbody>\${e.streams.map((s) => \`
          <tr data-stream="\${esc(s.streamId)}">
            <td>\${esc(s.streamId)}</td><td><span class="badge \${esc(s.state)}">\${esc(s.state)}</span></td>
            <td class="src" title="\${esc(s.source)}">\${esc(s.source)}</td>
            <td>\${s.fps.toFixed(1)}</td><td>\${s.framesDecoded}</td><td class="inferred">\${s.framesInferred}</td>
            <td class="tracks">\${s.activeTracks}</td><td>\${s.latencyP50Ms.toFixed(0)}</td><td>\${s.latencyP95Ms.toFixed(0)}</td>
            <td>\${s.droppedOverflow + s.droppedStale}</td><td class="infer-errors">\${s.inferErrors}</td><td>\${s.reconnects}</td>
          </tr>\${s.lastError ? \`<tr><td colspan="12" class="muted">\${esc(s.lastError)}</td></tr>\` : ''}\`).join('')}
        </tbody>
      </table>
    </section>\`).join('');
}
async function refresh() {
  try {
    const res = await fetch('/api/v1/status');
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
