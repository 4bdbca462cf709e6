/**
 * Fuzzing the text parsers an edge and a hub run on what others send them: MOTChallenge files (edge/src/tracking/
 * mot-format.ts), source URLs (edge/src/sources/source-url.ts), WHIP offers (edge/src/webrtc/whip-sdp.ts) and the
 * hub's SDP bridge (hub/src/media/sdp-bridge.ts). Seeds: corpus/mot-*.txt, corpus/*.sdp.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  checkWhipOffer,
  formatMotLine,
  type MotRecord,
  parseMot,
  parseSourceUrl,
  redactUrl,
  rtpInputSdp,
} from '@sightline/edge';
import {
  parseFmtp,
  parsePublishOffer,
  parseSdp,
  parseViewerAnswer,
  parseWhepOffer,
  SdpError,
} from '@sightline/hub';
import { FormatError, SourceError } from '@sightline/shared';
import fc from 'fast-check';
import { corpusText, mutatedText, onlyThrows, params, show } from './fuzz.ts';

const MOT_SEEDS = [corpusText('mot-gt.txt'), corpusText('mot-det.txt')];
const WHIP_OFFER = corpusText('whip-offer.sdp');
const PUBLISH_OFFER = corpusText('publish-offer.sdp');

const finite = fc.double({ noNaN: true, noDefaultInfinity: true, min: -1e9, max: 1e9 }).map((v) => v || 0);
const record: fc.Arbitrary<MotRecord> = fc
  .record({
    frame: fc.integer({ min: 1, max: 1_000_000 }),
    id: fc.integer({ min: -1, max: 2 ** 31 - 1 }),
    x: finite,
    y: finite,
    w: finite.map(Math.abs),
    h: finite.map(Math.abs),
    conf: finite,
    extra: fc.array(finite, { maxLength: 3 }),
  })
  .map((r) => ({ ...r }));

describe('fuzz: MOTChallenge text', () => {
  test('mutated and arbitrary text parses or is a FormatError naming the line', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          { weight: 4, arbitrary: fc.constantFrom(...MOT_SEEDS).chain((s) => mutatedText(s, 5)) },
          fc.string({ unit: 'binary' }),
        ),
        (text) => {
          const out = onlyThrows(() => parseMot(text, 'gt.txt'), [FormatError], text);
          if (out instanceof Error) assert.match(out.message, /^gt\.txt:\d+: /);
          else
            for (const r of out) assert.ok(Number.isInteger(r.frame) && r.frame >= 1 && r.w >= 0 && r.h >= 0);
        },
      ),
      params(1500),
    );
  });

  test('generated rows read back as they were written (any spacing, blank lines, CRLF)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(record, fc.constantFrom(',', ', ', ' , '), fc.constantFrom('\n', '\r\n', '\n\n')), {
          maxLength: 30,
        }),
        (rows) => {
          const text = rows
            .map(([r, sep, eol]) => [r.frame, r.id, r.x, r.y, r.w, r.h, r.conf, ...r.extra].join(sep) + eol)
            .join('');
          assert.deepEqual(
            parseMot(text),
            rows.map(([r]) => r),
          );
        },
      ),
      params(500),
    );
  });

  test('formatMotLine output parses back to the same box within its 2 decimals', () => {
    fc.assert(
      fc.property(record, ({ frame, id, x, y, w, h, conf }) => {
        const [back] = parseMot(formatMotLine(frame, id, [x, y, x + w, y + h], conf));
        assert.ok(back);
        assert.equal(back.frame, frame);
        assert.equal(back.id, id);
        for (const [a, b] of [
          [back.x, x],
          [back.y, y],
          [back.x + back.w, x + w],
          [back.y + back.h, y + h],
        ] as const) {
          assert.ok(Math.abs(a - b) <= 0.02, `${a} vs ${b}`);
        }
      }),
      params(500),
    );
  });
});

/** A URL with a password somewhere in it, as written in a config. */
const secretUrl = fc
  .record({
    scheme: fc.constantFrom('rtsp', 'rtsps', 'RTSP', 'http', 'https', 'Http'),
    user: fc.stringMatching(/^[A-Za-z0-9._~%!$&'()*+,;=-]{0,10}$/),
    password: fc.stringMatching(/^[A-Za-z0-9._~%!$&'()*+,;=:@-]{4,20}$/),
    host: fc.constantFrom('camera.local', '10.0.0.7', '[::1]', 'cam-1.example.com'),
    port: fc.option(fc.integer({ min: 1, max: 65535 }), { nil: undefined }),
    path: fc.stringMatching(/^(\/[A-Za-z0-9._~%!$&'()*+,;=:@-]{0,8}){0,3}$/),
    query: fc.option(fc.stringMatching(/^[A-Za-z0-9=&:@/]{0,12}$/), { nil: undefined }),
  })
  // A password made only of a common word would also match harmless parts of the URL: make it stand out.
  .map((u) => ({ ...u, password: `Pw${u.password}` }));

describe('fuzz: source URLs', () => {
  test('redactUrl never shows the password of a URL with user info', () => {
    fc.assert(
      fc.property(secretUrl, (u) => {
        const url = `${u.scheme}://${u.user}:${u.password}@${u.host}${u.port ? `:${u.port}` : ''}${u.path}${u.query !== undefined ? `?${u.query}` : ''}`;
        const shown = redactUrl(url);
        assert.ok(!shown.includes(u.password), `${url} shown as ${shown}`);
        const parsed = onlyThrows(() => parseSourceUrl(url), [SourceError], url);
        const display = parsed instanceof Error ? parsed.message : parsed.display;
        assert.ok(!display.includes(u.password), `${url} shown as ${display}`);
      }),
      params(1000),
    );
  });

  test('arbitrary and mutated source strings parse or are a SourceError (TypeError only for an empty one)', () => {
    const seeds = [
      'rtsp://admin:hunter2@camera.local:554/stream1',
      'https://cdn.example.com/a/b.mp4?token=1',
      'file:///var/media/a%20b.mp4',
      './door.mp4',
      'whip://cam1',
    ];
    fc.assert(
      fc.property(
        fc.oneof(
          fc.constantFrom(...seeds).chain((s) => mutatedText(s, 3)),
          fc.string({ unit: 'binary' }),
        ),
        (url) => {
          const out = onlyThrows(() => parseSourceUrl(url), [SourceError, TypeError], url);
          if (out instanceof TypeError) assert.equal(url.trim(), '', `TypeError for ${show(url)}`);
          else if (out instanceof Error) assert.equal((out as SourceError).code, 'SOURCE_INVALID');
          else assert.ok(['file', 'rtsp', 'http', 'whip'].includes(out.kind));
        },
      ),
      params(1500),
    );
  });
});

describe('fuzz: SDP', () => {
  test('checkWhipOffer answers every text with ok or a coded refusal, never a throw', () => {
    fc.assert(
      fc.property(
        fc.oneof({ weight: 4, arbitrary: mutatedText(WHIP_OFFER, 6) }, fc.string({ unit: 'binary' })),
        (sdp) => {
          const out = onlyThrows(() => checkWhipOffer(sdp), [], sdp);
          if (out instanceof Error) return;
          if (!out.ok) {
            assert.ok(['SDP_INVALID', 'CODEC_UNSUPPORTED'].includes(out.code));
            return;
          }
          // What was accepted is an offer with one H.264 format an RTP header can carry (7-bit payload type).
          assert.ok(
            Number.isInteger(out.h264.pt) && out.h264.pt >= 0 && out.h264.pt <= 127,
            `pt ${out.h264.pt}`,
          );
          const again = checkWhipOffer(out.offer);
          assert.ok(again.ok, `the narrowed offer is refused: ${show(out.offer)}`);
          assert.equal(again.h264.pt, out.h264.pt);
          // The SDP FFmpeg is given parses as SDP with that payload type.
          const ffmpegSdp = parseSdp(rtpInputSdp('cam1', 5004, out.h264));
          assert.equal(ffmpegSdp.media[0]?.rtp[0]?.payload, out.h264.pt);
        },
      ),
      params(1500),
    );
  });

  test('a WHIP offer whose H.264 payload type is out of the 7-bit range is refused', () => {
    fc.assert(
      fc.property(
        fc.oneof(fc.integer({ min: 128, max: 2 ** 40 }), fc.constantFrom(128, 255, 65536)),
        (pt) => {
          const sdp = WHIP_OFFER.replaceAll(' 102', ` ${pt}`).replaceAll(':102 ', `:${pt} `);
          const out = checkWhipOffer(sdp);
          assert.ok(!out.ok || out.h264.pt <= 127, `accepted pt ${out.ok ? out.h264.pt : ''}`);
        },
      ),
      params(100),
    );
  });

  test('the hub SDP bridge throws only SdpError on mutated offers and answers', () => {
    const parsers = [parsePublishOffer, parseViewerAnswer, parseWhepOffer, parseSdp];
    fc.assert(
      fc.property(
        fc.oneof(
          {
            weight: 4,
            arbitrary: fc.constantFrom(PUBLISH_OFFER, WHIP_OFFER).chain((s) => mutatedText(s, 6)),
          },
          fc.string({ unit: 'binary' }),
        ),
        fc.constantFrom(...parsers.keys()),
        (sdp, which) => {
          onlyThrows(() => parsers[which]!(sdp), [SdpError], sdp);
        },
      ),
      params(1500),
    );
  });

  test('a parsed publish offer has an integer SSRC and payload type mediasoup can take', () => {
    fc.assert(
      fc.property(mutatedText(PUBLISH_OFFER, 6), (sdp) => {
        const out = onlyThrows(() => parsePublishOffer(sdp), [SdpError], sdp);
        if (out instanceof Error) return;
        const ssrc = out.video?.rtpParameters.encodings?.[0]?.ssrc;
        const pt = out.video?.rtpParameters.codecs[0]?.payloadType;
        assert.ok(
          Number.isInteger(ssrc) && ssrc! >= 0 && ssrc! <= 0xffffffff,
          `ssrc ${ssrc} from ${show(sdp)}`,
        );
        assert.ok(Number.isInteger(pt) && pt! >= 0 && pt! <= 127, `pt ${pt} from ${show(sdp)}`);
      }),
      params(1000),
    );
  });

  test('a publish offer with any SSRC and payload type numbers is refused or parsed in range', () => {
    const number = fc.oneof(
      fc.integer({ min: 0, max: 0xffffffff }),
      fc.constantFrom(128, 255, 2 ** 32, 2 ** 53, 99_999_999_999),
      fc.integer({ min: 0, max: 2 ** 48 }),
    );
    fc.assert(
      fc.property(number, number, (ssrc, pt) => {
        const sdp = PUBLISH_OFFER.replace(/a=ssrc:\d+/g, `a=ssrc:${ssrc}`)
          .replace(/(m=video \S+ \S+) 96/, `$1 ${pt}`)
          .replace(/a=(rtpmap|fmtp|rtcp-fb):96 /g, `a=$1:${pt} `);
        const out = onlyThrows(() => parsePublishOffer(sdp), [SdpError], sdp);
        if (out instanceof Error) return;
        const got = out.video?.rtpParameters;
        assert.ok(
          ssrc <= 0xffffffff && pt <= 127,
          `accepted ssrc ${got?.encodings?.[0]?.ssrc}, pt ${got?.codecs[0]?.payloadType}`,
        );
      }),
      params(300),
    );
  });

  test('parseFmtp never throws', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary' }), (s) => void onlyThrows(() => parseFmtp(s), [], s)),
      params(500),
    );
  });
});
