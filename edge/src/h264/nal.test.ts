import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { Demuxer } from 'node-av/api';
import {
  AccessUnitBuilder,
  H264Error,
  hasParameterSets,
  NAL,
  nalType,
  parameterSetsFromExtradata,
  parseAvcC,
  profileLevelId,
  splitAnnexB,
  splitAvcc,
  splitNalUnits,
} from './nal.ts';

const dir = process.env.SIGHTLINE_MEDIA_DIR;
const mp4 = join(dir ?? '', 'vtest_h264.mp4');

const sps = Uint8Array.from([0x67, 0x4d, 0x40, 0x1f, 0xd9, 0x00, 0xc0]);
const pps = Uint8Array.from([0x68, 0xeb, 0xc5, 0x2c]);
const idr = Uint8Array.from([0x65, 0x88, 0x84, 0x00, 0x33]);
const slice = Uint8Array.from([0x41, 0x9a, 0x3b]);

function avcc(...nals: Uint8Array[]): Uint8Array {
  const out: number[] = [];
  for (const n of nals) out.push(0, 0, (n.length >> 8) & 0xff, n.length & 0xff, ...n);
  return Uint8Array.from(out);
}

function avcC(spsList: Uint8Array[], ppsList: Uint8Array[]): Uint8Array {
  const out = [1, spsList[0]![1]!, spsList[0]![2]!, spsList[0]![3]!, 0xff, 0xe0 | spsList.length];
  for (const s of spsList) out.push(s.length >> 8, s.length & 0xff, ...s);
  out.push(ppsList.length);
  for (const p of ppsList) out.push(p.length >> 8, p.length & 0xff, ...p);
  return Uint8Array.from(out);
}

/** The first video stream's extradata and first packet of a file. */
function readFile(path: string): { extradata: Uint8Array; first: Uint8Array } {
  const d = Demuxer.openSync(path);
  try {
    const s = d.video()!;
    const extradata = new Uint8Array(s.codecpar.extradata ?? new Uint8Array(0));
    for (const p of d.packetsSync(s.index)) {
      const first = new Uint8Array(p!.data!);
      p!.free();
      return { extradata, first };
    }
    throw new Error('no packet');
  } finally {
    d.closeSync();
  }
}

test('AVCC and Annex-B split into the same NAL units', () => {
  const a = splitAvcc(avcc(sps, pps, idr));
  assert.deepEqual(a.map(nalType), [NAL.SPS, NAL.PPS, NAL.IDR]);
  const annexB = Uint8Array.from([0, 0, 0, 1, ...sps, 0, 0, 1, ...pps, 0, 0, 0, 1, ...idr]);
  const b = splitAnnexB(annexB);
  assert.deepEqual(b, a);
  assert.deepEqual(splitNalUnits(annexB), a);
  assert.deepEqual(splitNalUnits(avcc(sps, pps, idr)), a);
  assert.ok(hasParameterSets(a));
  assert.ok(!hasParameterSets([slice]));
});

test('avcC: parsed, and profile-level-id from its SPS', () => {
  const c = parseAvcC(avcC([sps], [pps]));
  assert.equal(c.lengthSize, 4);
  assert.deepEqual(c.sps, [sps]);
  assert.deepEqual(c.pps, [pps]);
  assert.equal(profileLevelId(c.sps[0]!), '4d401f');
  assert.deepEqual(
    parameterSetsFromExtradata(Uint8Array.from([0, 0, 0, 1, ...sps, 0, 0, 0, 1, ...pps])).sps,
    [sps],
  );
});

test('vtest_h264.mp4: the profile-level-id its SPS says, matching the avcC header', {
  skip: dir ? false : 'SIGHTLINE_MEDIA_DIR is not set',
}, () => {
  const { extradata, first } = readFile(mp4);
  const c = parseAvcC(extradata);
  const id = profileLevelId(c.sps[0]!);
  const header = Array.from(extradata.subarray(1, 4), (b) => b.toString(16).padStart(2, '0')).join('');
  assert.equal(id, header);
  assert.equal(id, '4d401f'); // Main profile, level 3.1
  // MP4 keeps SPS/PPS out of band: the builder puts them in front of the IDR.
  const raw = splitNalUnits(first, c.lengthSize);
  assert.ok(!hasParameterSets(raw));
  const au = new AccessUnitBuilder(extradata).accessUnit(first);
  assert.deepEqual(au.slice(0, 2).map(nalType), [NAL.SPS, NAL.PPS]);
  assert.ok(au.some((n) => nalType(n) === NAL.IDR));
});

test('AccessUnitBuilder: prepends SPS/PPS only before IDRs that lack them, drops AUDs', () => {
  const b = new AccessUnitBuilder(avcC([sps], [pps]));
  assert.deepEqual(b.accessUnit(avcc(idr)).map(nalType), [NAL.SPS, NAL.PPS, NAL.IDR]);
  assert.deepEqual(b.accessUnit(avcc(slice)).map(nalType), [NAL.SLICE]);
  assert.deepEqual(b.accessUnit(avcc(Uint8Array.from([0x09, 0xf0]), slice)).map(nalType), [NAL.SLICE]);
  // In-band parameter sets are kept as they are (not doubled).
  assert.deepEqual(b.accessUnit(avcc(sps, pps, idr)).map(nalType), [NAL.SPS, NAL.PPS, NAL.IDR]);
  // No extradata: in-band ones are remembered for later IDRs.
  const inBand = new AccessUnitBuilder();
  assert.deepEqual(inBand.accessUnit(avcc(idr)).map(nalType), [NAL.IDR]);
  inBand.accessUnit(Uint8Array.from([0, 0, 0, 1, ...sps, 0, 0, 0, 1, ...pps, 0, 0, 0, 1, ...idr]));
  assert.deepEqual(inBand.accessUnit(avcc(idr)).map(nalType), [NAL.SPS, NAL.PPS, NAL.IDR]);
});

test('malformed input: clear H264Errors', () => {
  const full = avcC([sps], [pps]);
  assert.throws(
    () => parseAvcC(full.subarray(0, 4)),
    (e: Error) => e instanceof H264Error && /too short/.test(e.message),
  );
  assert.throws(() => parseAvcC(full.subarray(0, 10)), /avcC record truncated in SPS 1 of 1/);
  assert.throws(() => parseAvcC(full.subarray(0, 6 + 2 + sps.length)), /truncated before its PPS count/);
  assert.throws(() => parseAvcC(full.subarray(0, full.length - 1)), /truncated in PPS 1 of 1/);
  assert.throws(
    () => parseAvcC(Uint8Array.from([2, 0x4d, 0x40, 0x1f, 0xff, 0xe1, 0, 0])),
    /not an avcC record/,
  );
  assert.throws(() => splitAvcc(Uint8Array.from([0, 0, 0, 0, 0x65])), /zero-length NAL unit at byte 0/);
  assert.throws(() => splitAvcc(Uint8Array.from([0, 0, 0, 9, 0x65, 1])), /overruns the 6-byte packet/);
  assert.throws(() => splitAvcc(Uint8Array.from([0, 0, 0])), /truncated AVCC length prefix/);
  assert.throws(() => splitNalUnits(new Uint8Array(0)), /empty packet/);
  assert.throws(() => splitAnnexB(Uint8Array.from([1, 2, 3, 4, 5])), /no Annex-B start code/);
  // Garbage that is neither: its first "length" overruns.
  assert.throws(() => splitNalUnits(Uint8Array.from([0xde, 0xad, 0xbe, 0xef, 1, 2])), H264Error);
  assert.throws(() => profileLevelId(pps), /not an SPS/);
  assert.throws(() => profileLevelId(Uint8Array.from([0x67, 0x4d])), /SPS too short/);
  assert.throws(() => nalType(new Uint8Array(0)), /empty NAL unit/);
});
