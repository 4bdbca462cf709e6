import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { describe, test } from 'node:test';
import { DownloadProgress, formatBytes } from './progress.ts';

function capture(isTTY: boolean) {
  const stream = Object.assign(new PassThrough(), { isTTY, columns: 100 });
  let text = '';
  stream.on('data', (c: Buffer) => {
    text += c.toString();
  });
  return { stream, text: () => text };
}

describe('DownloadProgress', () => {
  test('plain mode prints a line at each quarter and a final done line', () => {
    const sink = capture(false);
    let t = 0;
    const p = new DownloadProgress({ stream: sink.stream, label: 'm.onnx', total: 1000, now: () => t });
    for (let b = 100; b <= 1000; b += 100) {
      t += 10;
      p.update(b);
    }
    p.finish();
    p.finish();
    const lines = sink.text().trimEnd().split('\n');
    assert.match(lines[0]!, /m\.onnx: downloading 1000 B/);
    assert.deepEqual(
      lines.slice(1, 4).map((l) => l.match(/(\d+)%/)?.[1]),
      ['30', '50', '80'],
    );
    assert.match(lines[4]!, /m\.onnx: done, 1000 B in 0\.1 s/);
    assert.equal(lines.length, 5);
  });

  test('plain mode also prints after lineMs without a quarter crossing', () => {
    const sink = capture(false);
    let t = 0;
    const p = new DownloadProgress({
      stream: sink.stream,
      label: 'f',
      total: 1000,
      lineMs: 1000,
      now: () => t,
    });
    t = 1500;
    p.update(10);
    t = 1600;
    p.update(20);
    assert.equal(sink.text().trimEnd().split('\n').length, 2);
  });

  test('TTY mode redraws one bar with carriage returns and ends with a newline', () => {
    const sink = capture(true);
    let t = 0;
    const p = new DownloadProgress({ stream: sink.stream, label: 'm.onnx', total: 2048, now: () => t });
    t = 200;
    p.update(1024);
    t = 250;
    p.update(1500);
    p.finish('boom');
    const text = sink.text();
    assert.ok(text.startsWith('\r\u001b[K'), 'each redraw clears the line');
    assert.match(text, /m\.onnx \[#+\.+\]\s+50% 1\.0 KiB \/ 2\.0 KiB/);
    assert.ok(!text.includes('73%'), 'a redraw within redrawMs is skipped');
    assert.match(text, /m\.onnx: failed after 1\.5 KiB: boom\n$/);
  });

  test('formatBytes uses binary units and rejects negatives', () => {
    assert.equal(formatBytes(512), '512 B');
    assert.equal(formatBytes(3713911), '3.5 MiB');
    assert.throws(() => formatBytes(-1), RangeError);
  });
});
