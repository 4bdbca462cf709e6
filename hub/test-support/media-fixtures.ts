/** Extra malformed edge messages for hub/src/media/media.test.ts (kept apart so the list is easy to extend). */
export const EDGE_ERRORS_FOR_TESTS: [unknown, string][] = [
  [
    {
      t: 'publish',
      streamId: 'c',
      sdp: 'v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=rtpmap:111 opus/48000/2\r\n',
      video: { codec: 'h264' },
    },
    'SDP_INVALID',
  ],
  [{ t: 'unpublish' }, 'BAD_MESSAGE'],
];
