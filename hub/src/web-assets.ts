/**
 * The viewer web app (hub/web/): a few static files read once at start and served under /viewer. No bundler:
 * plain ES modules that the browser loads as they are. The files hold no data; the page asks for a token.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Env, Hono } from 'hono';

const WEB_DIR = fileURLToPath(new URL('../web/', import.meta.url));

const FILES: Record<string, string> = {
  'viewer.html': 'text/html; charset=utf-8',
  'viewer.js': 'text/javascript; charset=utf-8',
  'viewer.css': 'text/css; charset=utf-8',
};

/** Serves /viewer (the page) and /viewer/<file> from hub/web. */
export function mountViewer<E extends Env>(app: Hono<E>): void {
  const bodies = new Map(Object.keys(FILES).map((f) => [f, readFileSync(WEB_DIR + f, 'utf8')]));
  const serve = (file: string) =>
    new Response(bodies.get(file), {
      headers: { 'content-type': FILES[file]!, 'cache-control': 'no-cache' },
    });
  app.get('/viewer', () => serve('viewer.html'));
  app.get('/viewer/', () => serve('viewer.html'));
  app.get('/viewer/:file', (c) => {
    const file = c.req.param('file');
    if (!bodies.has(file))
      return c.json({ error: { code: 'NOT_FOUND', message: `no file /viewer/${file}` } }, 404);
    return serve(file);
  });
}
