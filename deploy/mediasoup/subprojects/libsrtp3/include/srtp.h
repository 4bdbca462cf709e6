/*
 * Sightline compat header: libsrtp 3 API on top of the system libsrtp 2 (Debian libsrtp2-dev).
 *
 * mediasoup-worker includes <srtp.h> and is written against libsrtp 3 (versatica's fork), whose
 * protect/unprotect calls take size_t lengths and a separate output buffer, whose stream removal is
 * srtp_stream_remove(), and whose error enum has two more codes. libsrtp 2 has the same crypto and
 * policy structures, so these inline adapters are all that is missing. C++ only (the worker is C++):
 * the adapters are overloads beside libsrtp 2's C functions.
 */
#ifndef SIGHTLINE_SRTP3_COMPAT_H
#define SIGHTLINE_SRTP3_COMPAT_H

#include <srtp2/srtp.h>

#ifdef __cplusplus
#include <climits>
#include <cstddef>
#include <cstdint>
#include <cstring>

/* libsrtp 3 codes that libsrtp 2 lacks (values as in libsrtp 3's enum). */
static constexpr srtp_err_status_t srtp_err_status_buffer_small = static_cast<srtp_err_status_t>(28);
static constexpr srtp_err_status_t srtp_err_status_cryptex_err = static_cast<srtp_err_status_t>(29);

namespace sightline_srtp_compat {
/*
 * libsrtp 2 works in place and may append up to SRTP_MAX_TRAILER_LEN bytes: copy the input into the
 * output buffer when they differ, check it has room for the trailer, then run the in-place call.
 */
template <typename Fn>
inline srtp_err_status_t protect(Fn fn, srtp_t ctx, const uint8_t* in, size_t inLen, uint8_t* out, size_t* outLen)
{
  if (inLen > static_cast<size_t>(INT_MAX - SRTP_MAX_TRAILER_LEN))
    return srtp_err_status_bad_param;
  if (*outLen < inLen + SRTP_MAX_TRAILER_LEN)
    return srtp_err_status_buffer_small;
  if (out != in)
    std::memmove(out, in, inLen);
  int len = static_cast<int>(inLen);
  const srtp_err_status_t err = fn(ctx, out, &len);
  if (err == srtp_err_status_ok)
    *outLen = static_cast<size_t>(len);
  return err;
}

/* Unprotect only shrinks the packet: same in-place call, copy into the output buffer if it differs. */
template <typename Fn>
inline srtp_err_status_t unprotect(Fn fn, srtp_t ctx, const uint8_t* in, size_t inLen, uint8_t* out, size_t* outLen)
{
  if (inLen > static_cast<size_t>(INT_MAX))
    return srtp_err_status_bad_param;
  if (*outLen < inLen)
    return srtp_err_status_buffer_small;
  if (out != in)
    std::memmove(out, in, inLen);
  int len = static_cast<int>(inLen);
  const srtp_err_status_t err = fn(ctx, out, &len);
  if (err == srtp_err_status_ok)
    *outLen = static_cast<size_t>(len);
  return err;
}
} // namespace sightline_srtp_compat

/* libsrtp 3: srtp_protect(ctx, rtp, rtp_len, srtp, &srtp_len, mki_index). MKI is not used by mediasoup. */
inline srtp_err_status_t srtp_protect(
  srtp_t ctx, const uint8_t* rtp, size_t rtpLen, uint8_t* srtp, size_t* srtpLen, size_t /*mkiIndex*/)
{
  return sightline_srtp_compat::protect(
    static_cast<srtp_err_status_t (*)(srtp_t, void*, int*)>(::srtp_protect), ctx, rtp, rtpLen, srtp, srtpLen);
}

inline srtp_err_status_t srtp_unprotect(srtp_t ctx, const uint8_t* srtp, size_t srtpLen, uint8_t* rtp, size_t* rtpLen)
{
  return sightline_srtp_compat::unprotect(
    static_cast<srtp_err_status_t (*)(srtp_t, void*, int*)>(::srtp_unprotect), ctx, srtp, srtpLen, rtp, rtpLen);
}

inline srtp_err_status_t srtp_protect_rtcp(
  srtp_t ctx, const uint8_t* rtcp, size_t rtcpLen, uint8_t* srtcp, size_t* srtcpLen, size_t /*mkiIndex*/)
{
  return sightline_srtp_compat::protect(
    static_cast<srtp_err_status_t (*)(srtp_t, void*, int*)>(::srtp_protect_rtcp), ctx, rtcp, rtcpLen, srtcp, srtcpLen);
}

inline srtp_err_status_t srtp_unprotect_rtcp(
  srtp_t ctx, const uint8_t* srtcp, size_t srtcpLen, uint8_t* rtcp, size_t* rtcpLen)
{
  return sightline_srtp_compat::unprotect(
    static_cast<srtp_err_status_t (*)(srtp_t, void*, int*)>(::srtp_unprotect_rtcp),
    ctx,
    srtcp,
    srtcpLen,
    rtcp,
    rtcpLen);
}

/* libsrtp 3 renamed srtp_remove_stream() to srtp_stream_remove(). */
inline srtp_err_status_t srtp_stream_remove(srtp_t session, uint32_t ssrc)
{
  return srtp_remove_stream(session, ssrc);
}
#endif /* __cplusplus */

#endif /* SIGHTLINE_SRTP3_COMPAT_H */
