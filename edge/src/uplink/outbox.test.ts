import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { Outbox } from './outbox.ts';

const dirs: string[] = [];
function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'sightline-outbox-'));
  dirs.push(dir);
  return dir;
}
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

const bytes = (n: number, fill = n) => new Uint8Array(n).fill(fill & 0xff);
const keys = (o: Outbox) => o.pending().map((e) => `${e.key.streamId}/${e.key.run}/${e.key.seq}`);
const messageFiles = (dir: string) => readdirSync(dir).filter((f) => f.endsWith('.msgpack'));

test('entries come back in append order; ack deletes the file; a reopened outbox sees the unacked ones', () => {
  const dir = tempDir();
  const a = Outbox.open({ dir });
  a.append({ streamId: 'cam1', run: 'r1', seq: 1 }, bytes(10, 1));
  a.append({ streamId: 'cam2', run: 'r1', seq: 1 }, bytes(20, 2));
  a.append({ streamId: 'cam1', run: 'r1', seq: 2 }, bytes(30, 3));
  a.append({ streamId: 'cam2', run: 'r1', seq: 2 }, bytes(40, 4));
  a.append({ streamId: 'cam1', run: 'r1', seq: 3 }, bytes(50, 5));
  assert.deepEqual(keys(a), ['cam1/r1/1', 'cam2/r1/1', 'cam1/r1/2', 'cam2/r1/2', 'cam1/r1/3']);
  assert.equal(a.size, 5);
  assert.equal(a.bytes, 150);
  assert.equal(messageFiles(dir).length, 5);

  assert.equal(a.ack('cam2', 'r1', 1), true);
  assert.equal(a.ack('cam1', 'r1', 2), true);
  assert.equal(a.ack('cam1', 'r1', 2), false, 'acking twice is a no-op');
  assert.equal(a.ack('nope', 'r1', 1), false, 'an unknown key is a no-op');
  assert.equal(messageFiles(dir).length, 3);
  assert.equal(a.size, 3);
  assert.equal(a.bytes, 100);
  assert.deepEqual(
    a.after(a.pending()[0]!.ordinal, 10).map((e) => e.key.seq),
    [2, 3],
  );
  a.close();
  assert.throws(() => a.append({ streamId: 'cam1', run: 'r1', seq: 9 }, bytes(1)), /closed/);

  const b = Outbox.open({ dir });
  assert.deepEqual(keys(b), ['cam1/r1/1', 'cam2/r1/2', 'cam1/r1/3']);
  assert.deepEqual(
    b.pending().map((e) => [...e.read()]),
    [[...bytes(10, 1)], [...bytes(40, 4)], [...bytes(50, 5)]],
  );
  assert.equal(b.bytes, 100);
  // Order continues after the reopen.
  b.append({ streamId: 'cam1', run: 'r2', seq: 1 }, bytes(5));
  assert.deepEqual(keys(b), ['cam1/r1/1', 'cam2/r1/2', 'cam1/r1/3', 'cam1/r2/1']);
  const c = Outbox.open({ dir });
  assert.deepEqual(keys(c), keys(b));
  assert.throws(() => c.append({ streamId: 'cam1', run: 'r2', seq: 1 }, bytes(5)), /already holds/);
});

test('ids with separators and odd characters survive a reopen', () => {
  const dir = tempDir();
  const a = Outbox.open({ dir });
  a.append({ streamId: 'cam-1.a_b', run: 'mfx-3k', seq: 7 }, bytes(3));
  a.append({ streamId: 'a~b/c d', run: 'r~1', seq: 12345678 }, bytes(4));
  assert.deepEqual(keys(Outbox.open({ dir })), ['cam-1.a_b/mfx-3k/7', 'a~b/c d/r~1/12345678']);
});

test('a bound drops the oldest entries, counts them, and the total survives a restart', () => {
  const dir = tempDir();
  const a = Outbox.open({ dir, maxMessages: 3 });
  for (let seq = 1; seq <= 5; seq++) a.append({ streamId: 'cam1', run: 'r1', seq }, bytes(10));
  assert.deepEqual(keys(a), ['cam1/r1/3', 'cam1/r1/4', 'cam1/r1/5']);
  assert.equal(a.dropped, 2);
  assert.equal(a.droppedTotal, 2);
  assert.equal(messageFiles(dir).length, 3);
  assert.deepEqual(JSON.parse(readFileSync(join(dir, 'outbox-meta.json'), 'utf8')), { droppedTotal: 2 });

  const b = Outbox.open({ dir, maxMessages: 3 });
  assert.equal(b.dropped, 0, 'dropped counts since this start');
  assert.equal(b.droppedTotal, 2, 'the total is persisted');
  b.append({ streamId: 'cam1', run: 'r2', seq: 1 }, bytes(10));
  assert.equal(b.dropped, 1);
  assert.equal(b.droppedTotal, 3);
  assert.deepEqual(keys(b), ['cam1/r1/4', 'cam1/r1/5', 'cam1/r2/1']);

  // A smaller bound at open trims the backlog (and counts it).
  const c = Outbox.open({ dir, maxMessages: 1 });
  assert.deepEqual(keys(c), ['cam1/r2/1']);
  assert.equal(c.dropped, 2);
  assert.equal(c.droppedTotal, 5);
});

test('the byte bound drops the oldest entries', () => {
  const dir = tempDir();
  const o = Outbox.open({ dir, maxBytes: 100 });
  for (let seq = 1; seq <= 5; seq++) o.append({ streamId: 'cam1', run: 'r1', seq }, bytes(30));
  assert.deepEqual(
    o.pending().map((e) => e.key.seq),
    [3, 4, 5],
  );
  assert.equal(o.bytes, 90);
  assert.equal(o.dropped, 2);
  // A message larger than the bound on its own is kept alone.
  o.append({ streamId: 'cam1', run: 'r1', seq: 6 }, bytes(150));
  assert.deepEqual(
    o.pending().map((e) => e.key.seq),
    [6],
  );
  assert.equal(o.dropped, 5);
});

test('temp files, unparsable and empty message files are removed at load; other files are left alone', () => {
  const dir = tempDir();
  const a = Outbox.open({ dir });
  a.append({ streamId: 'cam1', run: 'r1', seq: 1 }, bytes(8));
  a.append({ streamId: 'cam1', run: 'r1', seq: 2 }, bytes(8));
  writeFileSync(join(dir, '000000000009~cam1~r1~3.msgpack.tmp'), bytes(4)); // crash mid-write
  writeFileSync(join(dir, 'junk.msgpack'), bytes(4));
  writeFileSync(join(dir, '000000000010~cam1~r1~0.msgpack'), bytes(4)); // seq 0 is not a batch
  writeFileSync(join(dir, '000000000011~cam1~r1~4.msgpack'), new Uint8Array(0)); // empty
  writeFileSync(join(dir, '12~cam1~r1~5.msgpack'), bytes(4)); // ordinal not 12 digits
  writeFileSync(join(dir, 'outbox-meta.json.tmp'), '{');
  writeFileSync(join(dir, 'notes.txt'), 'mine');

  const b = Outbox.open({ dir });
  assert.deepEqual(keys(b), ['cam1/r1/1', 'cam1/r1/2']);
  assert.deepEqual(readdirSync(dir).sort(), [
    '000000000001~cam1~r1~1.msgpack',
    '000000000002~cam1~r1~2.msgpack',
    'notes.txt',
  ]);
});

test('appends stay fast: 2000 appends of 20 KiB and their acks', () => {
  const dir = tempDir();
  const o = Outbox.open({ dir });
  const payload = bytes(20 * 1024);
  const t0 = performance.now();
  for (let seq = 1; seq <= 2000; seq++) o.append({ streamId: 'cam1', run: 'r1', seq }, payload);
  const appendMs = (performance.now() - t0) / 2000;
  for (let seq = 1; seq <= 2000; seq++) o.ack('cam1', 'r1', seq);
  assert.equal(o.size, 0);
  assert.equal(messageFiles(dir).length, 0);
  assert.ok(appendMs < 5, `an append took ${appendMs.toFixed(2)} ms on average`);
});
