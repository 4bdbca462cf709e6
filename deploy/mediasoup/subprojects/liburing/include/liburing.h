/*
 * Sightline compat header: the system liburing (Debian 12 has 2.3) plus the liburing >= 2.4 functions
 * mediasoup-worker calls: io_uring_major_version(), io_uring_minor_version() and io_uring_prep_sendto().
 * It wraps the real header with #include_next, so with liburing >= 2.4 installed it adds nothing.
 */
#ifndef SIGHTLINE_LIBURING_COMPAT_H
#define SIGHTLINE_LIBURING_COMPAT_H

#include_next <liburing.h>

/* liburing 2.4 added io_uring_version.h with these macros and the two version functions. */
#if !defined(IO_URING_VERSION_MAJOR)
#define SIGHTLINE_LIBURING_VERSION_MAJOR 2
#define SIGHTLINE_LIBURING_VERSION_MINOR 3

static inline int io_uring_major_version(void)
{
  return SIGHTLINE_LIBURING_VERSION_MAJOR;
}

static inline int io_uring_minor_version(void)
{
  return SIGHTLINE_LIBURING_VERSION_MINOR;
}

/* Same as liburing 2.4's: a send with a destination address (IORING_OP_SEND + addr2/addr_len, kernel >= 6.0). */
static inline void io_uring_prep_sendto(struct io_uring_sqe* sqe,
                                        int sockfd,
                                        const void* buf,
                                        size_t len,
                                        int flags,
                                        const struct sockaddr* addr,
                                        socklen_t addrlen)
{
  io_uring_prep_send(sqe, sockfd, buf, len, flags);
  io_uring_prep_send_set_addr(sqe, addr, (__u16)addrlen);
}
#endif /* !IO_URING_VERSION_MAJOR */

#endif /* SIGHTLINE_LIBURING_COMPAT_H */
