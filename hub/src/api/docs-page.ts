/** A readable page for the OpenAPI document: every route with its role, parameters, body and responses. */

/** `nonce` is the request's CSP nonce, put on the page's one inline <style> and <script>. */
export function apiDocsPage(nonce: string): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Sightline hub API</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style nonce="${nonce}">
  body { font: 14px/1.5 system-ui, sans-serif; margin: 2rem auto; max-width: 60rem; color: #1d2330; padding: 0 1rem; }
  h1 { font-size: 1.5rem; } h2 { font-size: 1.15rem; margin-top: 2rem; border-bottom: 1px solid #dde1e7; }
  .op { border: 1px solid #dde1e7; border-radius: 6px; margin: .75rem 0; padding: .5rem .75rem; }
  .m { display: inline-block; min-width: 4.5rem; font-weight: 600; text-transform: uppercase; }
  .get { color: #2b6cb0; } .post { color: #2f855a; } .delete { color: #c53030; } .patch { color: #b7791f; }
  code, pre { font: 12px/1.4 ui-monospace, monospace; } pre { background: #f6f7f9; padding: .5rem; overflow: auto; }
  .role { float: right; font-size: .8rem; background: #edf2f7; border-radius: 999px; padding: 0 .5rem; }
  details summary { cursor: pointer; }
</style>
</head>
<body>
<h1>Sightline hub API</h1>
<p>Every route but <code>/health</code> and <code>/ready</code> needs <code>Authorization: Bearer &lt;token&gt;</code> with at least the role shown.
Errors are JSON <code>{"error": {"code", "message"}}</code>. Machine-readable: <a href="/api/v1/openapi.json">/api/v1/openapi.json</a> (OpenAPI 3.1).</p>
<div id="ops">Loading…</div>
<script nonce="${nonce}">
const esc = (s) => String(s).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]);
function resolve(doc, schema) {
  if (schema && schema.$ref) return doc.components.schemas[schema.$ref.split('/').pop()];
  return schema;
}
function show(doc, schema) {
  return '<pre>' + esc(JSON.stringify(resolve(doc, schema), (k, v) => (v && v.$ref ? v.$ref.split('/').pop() : v), 2)) + '</pre>';
}
fetch('/api/v1/openapi.json').then((r) => r.json()).then((doc) => {
  const byTag = {};
  for (const [path, item] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(item)) (byTag[(op.tags || ['other'])[0]] ||= []).push({ path, method, op });
  }
  document.getElementById('ops').innerHTML = Object.entries(byTag).map(([tag, ops]) => '<h2>' + esc(tag) + '</h2>' + ops.map(({ path, method, op }) => {
    const params = (op.parameters || []).map((p) => '<li><code>' + esc(p.name) + '</code> (' + esc(p.in) + (p.required ? ', required' : '') + ')</li>').join('');
    const body = op.requestBody ? show(doc, Object.values(op.requestBody.content)[0].schema) : '';
    const responses = Object.entries(op.responses || {}).map(([code, r]) => '<li><b>' + esc(code) + '</b> ' + esc(r.description || '') + '</li>').join('');
    return '<div class="op"><span class="role">' + esc(op['x-required-role'] || 'public') + '</span><span class="m ' + method + '">' + method + '</span> <code>' + esc(path) + '</code><div>' + esc(op.summary || '') + '</div>' +
      '<details><summary>details</summary>' + (params ? '<p>Parameters</p><ul>' + params + '</ul>' : '') + (body ? '<p>Body</p>' + body : '') + '<p>Responses</p><ul>' + responses + '</ul></details></div>';
  }).join('')).join('');
}).catch((err) => { document.getElementById('ops').textContent = 'Could not load the OpenAPI document: ' + err.message; });
</script>
</body>
</html>`;
}
