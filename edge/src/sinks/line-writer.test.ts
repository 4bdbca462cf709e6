import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { LineWriter } from './line-writer.ts';

let dir = '';
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'line-writer-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('LineWriter', () => {
  test('flush() resolves once the lines written before it are out, while writes keep arriving', async () => {
    const path = join(dir, 'busy.txt');
    const out = await LineWriter.open(path);
    let n = 0;
    let writing = true;
    // A producer that never lets the writer go idle: a few lines on every turn of the event loop.
    const produce = () => {
      if (!writing) return;
      for (let i = 0; i < 10; i++) out.write(`line ${n++} ${'x'.repeat(100)}\n`);
      setImmediate(produce);
    };
    produce();
    await new Promise((r) => setTimeout(r, 50));
    const before = n;
    let timer: NodeJS.Timeout | undefined;
    const flushed = await Promise.race([
      out.flush().then(() => true),
      new Promise<boolean>((r) => {
        timer = setTimeout(() => r(false), 3000);
      }),
    ]);
    clearTimeout(timer);
    const onDisk = (await readFile(path, 'utf8')).split('\n').length - 1;
    writing = false;
    assert.ok(flushed, `flush() still waiting after 3 s of continuous writes (${n} lines written)`);
    assert.ok(
      onDisk >= before,
      `${onDisk} lines in the file when flush() resolved, ${before} written before it`,
    );
    await out.close();
    const lines = (await readFile(path, 'utf8')).trimEnd().split('\n');
    assert.equal(lines.length, n);
    assert.equal(lines.at(-1)!.split(' ')[1], String(n - 1));
    assert.equal(out.dropped, 0);
  });

  test('flush() with nothing written resolves at once; after close() write() throws', async () => {
    const out = await LineWriter.open(join(dir, 'empty.txt'));
    await out.flush();
    out.write('a\n');
    await out.flush();
    await out.close();
    assert.equal(await readFile(join(dir, 'empty.txt'), 'utf8'), 'a\n');
    assert.throws(() => out.write('b\n'), /is closed/);
  });
});
