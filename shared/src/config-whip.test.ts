import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseEdgeConfig } from './config.ts';
import { ConfigError } from './errors.ts';

const streams = [{ source: 'a.mp4' }];

function issues(input: unknown): string[] {
  try {
    parseEdgeConfig(input);
  } catch (err) {
    assert.ok(err instanceof ConfigError, String(err));
    return [...err.issues];
  }
  assert.fail('expected a ConfigError');
}

test('whip: off by default; defaults filled in when given', () => {
  assert.equal(parseEdgeConfig({ streams }).whip, undefined);
  assert.deepEqual(parseEdgeConfig({ streams, whip: { token: 'abcdefghijklmnop' } }).whip, {
    port: 8089,
    host: '127.0.0.1',
    token: 'abcdefghijklmnop',
    allowAnonymous: false,
    maxSessions: 8,
  });
  assert.equal(parseEdgeConfig({ streams, whip: { allowAnonymous: true, port: 0 } }).whip?.port, 0);
});

test('whip: bad values name their field', () => {
  assert.deepEqual(issues({ streams, whip: {} }), [
    'whip.token: a token is required (or allowAnonymous: true)',
  ]);
  assert.match(issues({ streams, whip: { token: 'short' } }).join('\n'), /^whip\.token: .*16 characters/);
  assert.match(
    issues({ streams, whip: { token: 'abcdefghijklmnop', port: 70000 } }).join('\n'),
    /^whip\.port:/,
  );
  assert.match(issues({ streams, whip: { allowAnonymous: true, port: 1.5 } }).join('\n'), /^whip\.port:/);
  assert.match(issues({ streams, whip: { allowAnonymous: true, host: '' } }).join('\n'), /^whip\.host:/);
  assert.match(
    issues({ streams, whip: { allowAnonymous: true, maxSessions: 0 } }).join('\n'),
    /^whip\.maxSessions:/,
  );
  assert.match(issues({ streams, whip: { allowAnonymous: 'yes' } }).join('\n'), /^whip\.allowAnonymous:/);
  assert.deepEqual(issues({ streams, whip: { allowAnonymous: true, tokn: 'x' } }), [
    'whip.tokn: unknown field',
  ]);
});
