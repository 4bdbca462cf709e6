import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Hono } from 'hono';
import { isBatchContentError, isStoreUnavailable } from '../store/store-errors.ts';
import { errorResponse } from './errors.ts';

/** An error shaped like drizzle's DrizzleQueryError: SQL and parameters in the message, the driver's error as cause. */
function queryError(cause: unknown): Error {
  const err = new Error(
    'Failed query: select "edge_id" from "track_points" where "track_id" = $1\nparams: 2147483648',
    { cause },
  );
  Object.assign(err, { query: 'select "edge_id" from "track_points"', params: [2147483648] });
  return err;
}

function app(thrown: () => unknown) {
  const a = new Hono();
  a.get('/x', () => {
    throw thrown();
  });
  a.onError(errorResponse);
  return a;
}

test('an unexpected error answers 500 INTERNAL with a request id and no SQL, parameters or stack', async () => {
  const pgError = Object.assign(new Error('value "2147483648" is out of range for type integer'), {
    code: '22003',
  });
  const res = await app(() => queryError(pgError)).request('/x');
  assert.equal(res.status, 500);
  const text = await res.text();
  const body = JSON.parse(text) as { error: { code: string; message: string; requestId?: string } };
  assert.equal(body.error.code, 'INTERNAL');
  assert.equal(body.error.message, 'internal error');
  assert.match(body.error.requestId ?? '', /^[0-9a-f-]{36}$/);
  assert.equal(res.headers.get('x-request-id'), body.error.requestId);
  assert.doesNotMatch(text, /select|track_points|params|2147483648|out of range|\.ts:\d+|at /i);
});

test('a store outage answers 503 STORE_UNAVAILABLE with Retry-After', async () => {
  for (const cause of [
    Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' }),
    new Error('Connection terminated unexpectedly'),
    Object.assign(new Error('terminating connection due to administrator command'), { code: '57P01' }),
    new AggregateError([Object.assign(new Error(''), { code: 'ECONNREFUSED' })]),
  ]) {
    const res = await app(() => queryError(cause)).request('/x', { headers: { 'x-request-id': 'req-1' } });
    assert.equal(res.status, 503);
    assert.equal(res.headers.get('retry-after'), '5');
    const text = await res.text();
    const body = JSON.parse(text) as { error: { code: string; requestId?: string } };
    assert.equal(body.error.code, 'STORE_UNAVAILABLE');
    assert.equal(body.error.requestId, 'req-1');
    assert.doesNotMatch(text, /select|params/i);
  }
});

test('store errors are classified: outages retry, only content errors are malformed', () => {
  const refused = Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' });
  assert.equal(isStoreUnavailable(refused), true);
  assert.equal(isBatchContentError(refused), false);
  for (const code of ['ECONNRESET', 'ETIMEDOUT', '57P01', '08006', '53300']) {
    const e = Object.assign(new Error('x'), { code });
    assert.equal(isStoreUnavailable(queryError(e)), true, code);
    assert.equal(isBatchContentError(queryError(e)), false, code);
  }
  assert.equal(isStoreUnavailable(new Error('PGlite is closed')), true);
  assert.equal(isStoreUnavailable(new Error('timeout exceeded when trying to connect')), true);
  const invalid = Object.assign(new Error('bad'), { code: 'BATCH_INVALID' });
  assert.equal(
    isBatchContentError(invalid),
    false,
    'a plain error with a code string is not a content error',
  );
  assert.equal(
    isBatchContentError(queryError(Object.assign(new Error('out of range'), { code: '22003' }))),
    true,
  );
  assert.equal(isBatchContentError(Object.assign(new Error('disk full'), { code: 'ENOSPC' })), false);
});
