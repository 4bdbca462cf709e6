import assert from 'node:assert/strict';
import { test } from 'node:test';
import { NAL, nalType } from '../h264/nal.ts';
import { H264Depacketizer, H264Packetizer, packetizeAccessUnit } from './rtp-h264.ts';

const sps = Uint8Array.from([0x67, 0x4d, 0x40, 0x1f, 0xd9, 0x00, 0xc0]);
const pps = Uint8Array.from([0x68, 0xeb, 0xc5, 0x2c]);

function bigIdr(size: number): Uint8Array {
  const n = new Uint8Array(size);
  n[0] = 0x65;
  for (let i = 1; i < size; i++) n[i] = (i * 31 + 7) & 0xff;
  return n;
}

test('single NAL units, STAP-A for SPS+PPS, FU-A that reassembles to the original, marker on the last', () => {
  const idr = bigIdr(5000);
  const p = packetizeAccessUnit([sps, pps, idr], 1200);
  // STAP-A, then ceil(4999 / 1198) = 5 FU-A fragments.
  assert.equal(p.length, 6);
  assert.equal(p[0]!.payload[0]! & 0x1f, NAL.STAP_A);
  assert.equal(p[0]!.payload[0]! & 0x60, 0x60); // NRI of the parameter sets
  for (const x of p.slice(1)) {
    assert.equal(x.payload[0]! & 0x1f, NAL.FU_A);
    assert.ok(x.payload.length <= 1200);
  }
  assert.equal(p[1]!.payload[1]! & 0x80, 0x80, 'start bit');
  assert.equal(p[5]!.payload[1]! & 0x40, 0x40, 'end bit');
  assert.deepEqual(
    p.map((x) => x.marker),
    [false, false, false, false, false, true],
  );
  const d = new H264Depacketizer();
  let au: ReturnType<H264Depacketizer['push']>;
  p.forEach((x, i) => {
    au = d.push(x.payload, 1234, x.marker, i);
  });
  assert.ok(au!);
  assert.deepEqual(
    au!.nals.map((n) => Buffer.from(n)),
    [Buffer.from(sps), Buffer.from(pps), Buffer.from(idr)],
  );
  // A small NAL unit goes as it is.
  const small = packetizeAccessUnit([Uint8Array.from([0x41, 1, 2, 3])]);
  assert.equal(small.length, 1);
  assert.deepEqual([...small[0]!.payload], [0x41, 1, 2, 3]);
  assert.equal(small[0]!.marker, true);
  // A lone SPS is a single NAL unit packet.
  assert.equal(nalType(packetizeAccessUnit([sps, bigIdr(10)])[0]!.payload), NAL.SPS);
});

test('packetizer: sequence numbers wrap at 2^16, timestamp = (pts + offset) mod 2^32', () => {
  const pk = new H264Packetizer({ initialSequence: 65534, timestampOffset: 2 ** 32 - 1000, ssrc: 42 });
  const packets = pk.packetize([sps, pps, bigIdr(3000)], 3000);
  assert.deepEqual(
    packets.map((x) => x.header.sequenceNumber),
    [65534, 65535, 0, 1],
  );
  for (const x of packets) assert.equal(x.header.timestamp, 2000);
  assert.equal(packets[3]!.header.marker, true);
  assert.equal(packets[0]!.header.marker, false);
  assert.equal(pk.nextSequence, 2);
  assert.equal(pk.rtpTimestamp(1000), 0);
  assert.equal(pk.rtpTimestamp(2 ** 32 + 1500), 500);
  // Serialized, it is a valid RTP packet.
  const raw = packets[0]!.serialize();
  assert.equal(raw[0]! >> 6, 2);
  assert.throws(() => packetizeAccessUnit([new Uint8Array(0)]), /empty NAL unit/);
  assert.throws(() => packetizeAccessUnit([sps], 10), /MTU/);
});
