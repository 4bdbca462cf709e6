import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ERROR_CODES, SightlineError, StoreError } from '@sightline/shared';
import { Hono } from 'hono';
import { httpStatusOf } from './error-status.ts';
import { errorResponse } from './errors.ts';

function appThrowing(err: Error): Hono {
  const app = new Hono();
  app.get('/x', () => {
    throw err;
  });
  app.onError(errorResponse);
  return app;
}

test('every code of the catalogue has a 4xx/5xx status or none', () => {
  for (const code of ERROR_CODES) {
    const status = httpStatusOf(code);
    assert.ok(status === undefined || (status >= 400 && status < 600), `${code} -> ${status}`);
  }
  assert.equal(httpStatusOf('EDGE_OFFLINE'), 409);
  assert.equal(httpStatusOf('INDEX_INVALID'), undefined);
});

test('a SightlineError from a service gets its code and its status', async () => {
  for (const [code, status] of [
    ['EDGE_UNKNOWN', 404],
    ['EDGE_OFFLINE', 409],
    ['EDGE_TIMEOUT', 504],
    ['VALIDATION_FAILED', 400],
    ['MEDIA_UNAVAILABLE', 503],
  ] as const) {
    const res = await appThrowing(new SightlineError(code, `because ${code}`)).request('/x');
    assert.equal(res.status, status, code);
    assert.deepEqual(await res.json(), { error: { code, message: `because ${code}` } });
  }
});

test('a code without a status, INTERNAL or a plain error is 500 INTERNAL with a request id and no details', async () => {
  for (const err of [
    new SightlineError('INDEX_INVALID', 'secret detail'),
    new SightlineError('INTERNAL', 'secret detail'),
    new Error('secret detail'),
  ]) {
    const res = await appThrowing(err).request('/x');
    assert.equal(res.status, 500);
    const body = (await res.json()) as { error: { code: string; message: string; requestId: string } };
    assert.equal(body.error.code, 'INTERNAL');
    assert.equal(body.error.message, 'internal error');
    assert.equal(res.headers.get('x-request-id'), body.error.requestId);
  }
});

test('a store outage stays 503 STORE_UNAVAILABLE with Retry-After', async () => {
  const res = await appThrowing(new StoreError('STORE_UNAVAILABLE', 'connection refused')).request('/x');
  assert.equal(res.status, 503);
  assert.equal(res.headers.get('retry-after'), '5');
  assert.equal(((await res.json()) as { error: { code: string } }).error.code, 'STORE_UNAVAILABLE');
});
