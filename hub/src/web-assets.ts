/**
 * The viewer web app (hub/web/): its static files read once at start and served under /viewer. No bundler and no
 * build step: the page loads viewer.js as a module script, which imports its sibling modules by relative URL
 * (/viewer/<name>.js); tsc checks them through their JSDoc (hub/web/tsconfig.json). The files hold no data; the
 * page asks for a token. Module scripts come from the hub itself, which the CSP's script-src 'self' allows.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { extname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SightlineError } from '@sightline/shared';
import type { Env, Hono } from 'hono';

const WEB_DIR = fileURLToPath(new URL('../web/', import.meta.url));

/** Content types of the files served, by extension; other files in hub/web (types.d.ts, tsconfig.json) are not. */
const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
};

/** The files of `dir` to serve: name -> content type. */
function viewerFiles(dir: string): Map<string, string> {
  const files = new Map<string, string>();
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const type = CONTENT_TYPES[extname(entry.name)];
    if (entry.isFile() && type) files.set(entry.name, type);
  }
  return files;
}

/** Serves /viewer (the page) and /viewer/<file> (its modules and style sheet) from hub/web. */
export function mountViewer<E extends Env>(app: Hono<E>): void {
  const types = viewerFiles(WEB_DIR);
  if (!types.has('viewer.html'))
    throw new SightlineError('ASSET_MISSING', `mountViewer: no viewer.html in ${WEB_DIR}`);
  const bodies = new Map([...types.keys()].map((f) => [f, readFileSync(WEB_DIR + f, 'utf8')]));
  const serve = (file: string) =>
    new Response(bodies.get(file), {
      headers: { 'content-type': types.get(file)!, 'cache-control': 'no-cache' },
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
