import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { test } from 'node:test';
import { handleStopSignals, SAME_CTRL_C_MS } from './stop-signals.ts';

function setup() {
  let now = 0;
  const lines: string[] = [];
  let exits = 0;
  const signals = new EventEmitter();
  const stop = handleStopSignals({
    out: { write: (text: string) => lines.push(text) },
    exitNow: () => exits++,
    now: () => now,
    signals,
  });
  return {
    stop,
    lines,
    signals,
    exits: () => exits,
    advance: (ms: number) => {
      now += ms;
    },
  };
}

test('the first SIGINT asks for a clean stop; the same Ctrl-C arriving twice is not a second one', async () => {
  const s = setup();
  s.signals.emit('SIGINT');
  assert.equal(await s.stop.requested, 'interrupted');
  assert.match(s.lines[0]!, /stopping; finishing the frames in flight \(Ctrl-C again to quit at once\)/);
  s.advance(2); // the copy bin/sightline.js forwards, or the terminal's, of the same key press
  s.signals.emit('SIGINT');
  assert.equal(s.exits(), 0);
  assert.equal(s.lines.length, 1);
});

test('a second Ctrl-C while stopping prints one line and exits at once', async () => {
  const s = setup();
  s.signals.emit('SIGINT');
  s.advance(SAME_CTRL_C_MS + 500);
  s.signals.emit('SIGINT');
  assert.equal(s.exits(), 1);
  assert.match(s.lines[1]!, /interrupted again; quitting now/);
});

test('SIGTERM stops cleanly; a repeated SIGTERM changes nothing; Ctrl-C after it still quits', async () => {
  const s = setup();
  s.signals.emit('SIGTERM');
  assert.equal(await s.stop.requested, 'terminated');
  s.advance(1000);
  s.signals.emit('SIGTERM');
  assert.equal(s.exits(), 0);
  s.signals.emit('SIGINT');
  assert.equal(s.exits(), 1);
});

test('dispose() removes the handlers', () => {
  const s = setup();
  s.stop.dispose();
  assert.equal(s.signals.listenerCount('SIGINT'), 0);
  assert.equal(s.signals.listenerCount('SIGTERM'), 0);
});
