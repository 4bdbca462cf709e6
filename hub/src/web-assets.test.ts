import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Hono } from 'hono';
import { mountViewer } from './web-assets.ts';

const app = new Hono();
mountViewer(app);

/** The relative module URLs a module imports (static `import ... from './x.js'` and `import './x.js'`). */
const importsOf = (source: string) =>
  [...source.matchAll(/^\s*import\s+(?:[^'"]*?\s+from\s+)?['"](\.[^'"]+)['"]/gm)].map((m) => m[1]!);

describe('viewer web assets', () => {
  test('/viewer is the page, loading viewer.js as a module script', async () => {
    for (const path of ['/viewer', '/viewer/']) {
      const res = await app.request(path);
      assert.equal(res.status, 200, path);
      assert.equal(res.headers.get('content-type'), 'text/html; charset=utf-8', path);
      assert.match(await res.text(), /<script type="module" src="\/viewer\/viewer\.js"><\/script>/, path);
    }
  });

  test('every module the page loads, transitively, is served as JavaScript', async () => {
    const seen = new Set<string>();
    const queue = ['/viewer/viewer.js'];
    for (let path = queue.shift(); path; path = queue.shift()) {
      if (seen.has(path)) continue;
      seen.add(path);
      const res = await app.request(path);
      assert.equal(res.status, 200, path);
      assert.equal(res.headers.get('content-type'), 'text/javascript; charset=utf-8', path);
      assert.equal(res.headers.get('cache-control'), 'no-cache', path);
      for (const spec of importsOf(await res.text())) {
        assert.match(spec, /^\.\/[a-z-]+\.js$/, `${path} imports ${spec}: a sibling module, by its .js name`);
        queue.push(new URL(spec, `http://hub${path}`).pathname);
      }
    }
    assert.ok(seen.size > 1, `viewer.js imports its modules (${[...seen].join(', ')})`);
    const css = await app.request('/viewer/viewer.css');
    assert.equal(css.headers.get('content-type'), 'text/css; charset=utf-8');
  });

  test('serves nothing else from hub/web: not the type declarations, the tsconfig or unknown names', async () => {
    for (const file of ['types.d.ts', 'tsconfig.json', 'nope.js', '..%2Fsrc%2Fapp.ts']) {
      const res = await app.request(`/viewer/${file}`);
      assert.equal(res.status, 404, file);
      assert.equal(((await res.json()) as { error: { code: string } }).error.code, 'NOT_FOUND', file);
    }
  });
});
