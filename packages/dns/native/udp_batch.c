/*
 * Batched UDP for the DNS listener (packages/dns/src/batch-udp.ts): one non-blocking socket watched
 * by a libuv poll handle on Node's own loop. When it is readable, up to `batch` datagrams are taken
 * with one recvmmsg(2) into buffers the JavaScript side owns, the JavaScript callback runs once for
 * the whole batch and writes each reply into an output slot, and the replies leave with one
 * sendmmsg(2). Nothing is allocated per datagram, here or (with the batch side's care) in
 * JavaScript, so the receive path makes no garbage for V8 to collect.
 *
 * Everything that is DNS stays in TypeScript: this file only moves bytes. Linux only (recvmmsg).
 *
 * Exports (system call failures come back as negative errno numbers, which batch-udp.ts names):
 *   open(family 4|6, address, port, rcvbufBytes) -> [fd, boundPort], or [-errno, syscall]
 *   start(fd, inBuf, outBuf, meta Int32Array, addrBuf, batch, inSlot, outSlot, onBatch, onError) -> handle
 *       inBuf  : batch * inSlot bytes, datagram i at i * inSlot
 *       outBuf : batch * outSlot bytes, reply i at i * outSlot
 *       meta   : Int32Array(2 * batch + 4): [i] = datagram i's length (-1 when it did not fit),
 *                [batch + i] = reply i's length (0 = none; set by onBatch), then counters:
 *                [2b] replies not sent (EAGAIN or error), [2b+1] datagrams cut (did not fit),
 *                [2b+2] batches, [2b+3] datagrams
 *       addrBuf: batch * 28 bytes, the sender of datagram i (struct sockaddr_in or _in6) at i * 28
 *       onBatch(count) runs once per batch; onError(-errno, syscall) for receive errors.
 *   sendTo(handle, buffer, peer) -> 0 or -errno   (peer: 28 bytes copied from addrBuf)
 *   stop(handle, done): stops watching, closes the socket, then calls done().
 */
#define NAPI_VERSION 8
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <node_api.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>

#define MAX_BATCH 256
#define PEER_BYTES 28 /* sizeof(struct sockaddr_in6) */
/* Batches taken per readiness event before yielding to the rest of the loop (timers, TCP, I/O). */
#define MAX_ROUNDS 8

typedef struct {
  int fd;
  int closing;
  uv_poll_t poll;
  napi_env env;
  napi_ref on_batch;
  napi_ref on_error;
  napi_ref on_close;
  napi_ref recv; /* `this` of the callbacks (napi_make_callback needs an object) */
  napi_ref bufs[4]; /* keep in, out, meta and addr alive while the socket is open */
  napi_async_context actx;
  uint8_t *in;
  uint8_t *out;
  int32_t *meta;
  uint8_t *addrs;
  int batch;
  size_t in_slot;
  size_t out_slot;
  struct mmsghdr rx[MAX_BATCH];
  struct iovec rx_iov[MAX_BATCH];
  struct mmsghdr tx[MAX_BATCH];
  struct iovec tx_iov[MAX_BATCH];
} batch_sock;

#define CHECK(call)                                                                                                    \
  do {                                                                                                                 \
    if ((call) != napi_ok) return throw_last(env);                                                                     \
  } while (0)

static napi_value throw_last(napi_env env) {
  const napi_extended_error_info *info = NULL;
  napi_get_last_error_info(env, &info);
  bool pending = false;
  napi_is_exception_pending(env, &pending);
  if (!pending) napi_throw_error(env, NULL, info && info->error_message ? info->error_message : "napi call failed");
  return NULL;
}

/* A failed call as open() reports it: [-errno, "syscall"] (the JavaScript side names the errno). */
static napi_value failed(napi_env env, int e, const char *syscall) {
  napi_value out, no, sc;
  if (napi_create_array_with_length(env, 2, &out) != napi_ok || napi_create_int32(env, -e, &no) != napi_ok ||
      napi_create_string_utf8(env, syscall, NAPI_AUTO_LENGTH, &sc) != napi_ok || napi_set_element(env, out, 0, no) != napi_ok ||
      napi_set_element(env, out, 1, sc) != napi_ok)
    return throw_last(env);
  return out;
}

static int arg_int(napi_env env, napi_value v, int32_t *out) { return napi_get_value_int32(env, v, out) == napi_ok; }

static int arg_bytes(napi_env env, napi_value v, uint8_t **data, size_t *len) {
  bool ok = false;
  if (napi_is_typedarray(env, v, &ok) != napi_ok || !ok) return 0;
  napi_typedarray_type type;
  size_t length, offset;
  napi_value ab;
  void *p;
  if (napi_get_typedarray_info(env, v, &type, &length, &p, &ab, &offset) != napi_ok) return 0;
  size_t elem = type == napi_int32_array ? 4 : 1;
  *data = p;
  *len = length * elem;
  return 1;
}

/* open(family, address, port, rcvbuf) -> [fd, port], or [-errno, syscall] when a call failed */
static napi_value js_open(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  int32_t family, port, rcvbuf;
  char addr[64];
  size_t alen;
  if (argc < 4 || !arg_int(env, argv[0], &family) || !arg_int(env, argv[2], &port) || !arg_int(env, argv[3], &rcvbuf) ||
      napi_get_value_string_utf8(env, argv[1], addr, sizeof addr, &alen) != napi_ok) {
    napi_throw_type_error(env, NULL, "open(family, address, port, rcvbuf)");
    return NULL;
  }
  struct sockaddr_storage ss;
  socklen_t sslen;
  memset(&ss, 0, sizeof ss);
  if (family == 6) {
    struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
    a->sin6_family = AF_INET6;
    a->sin6_port = htons((uint16_t)port);
    if (inet_pton(AF_INET6, addr, &a->sin6_addr) != 1) return failed(env, EINVAL, "bind");
    sslen = sizeof *a;
  } else {
    struct sockaddr_in *a = (struct sockaddr_in *)&ss;
    a->sin_family = AF_INET;
    a->sin_port = htons((uint16_t)port);
    if (inet_pton(AF_INET, addr, &a->sin_addr) != 1) return failed(env, EINVAL, "bind");
    sslen = sizeof *a;
  }
  int fd = socket(family == 6 ? AF_INET6 : AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return failed(env, errno, "socket");
  if (rcvbuf > 0) setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
  if (bind(fd, (struct sockaddr *)&ss, sslen) != 0) {
    int e = errno;
    close(fd);
    return failed(env, e, "bind");
  }
  struct sockaddr_storage bound;
  socklen_t blen = sizeof bound;
  getsockname(fd, (struct sockaddr *)&bound, &blen);
  int bport = family == 6 ? ntohs(((struct sockaddr_in6 *)&bound)->sin6_port) : ntohs(((struct sockaddr_in *)&bound)->sin_port);
  napi_value out, vfd, vport;
  CHECK(napi_create_array_with_length(env, 2, &out));
  CHECK(napi_create_int32(env, fd, &vfd));
  CHECK(napi_create_int32(env, bport, &vport));
  CHECK(napi_set_element(env, out, 0, vfd));
  CHECK(napi_set_element(env, out, 1, vport));
  return out;
}

static void report_error(batch_sock *s, int e, const char *syscall) {
  napi_env env = s->env;
  napi_value fn, recv, argv[2], result;
  if (napi_get_reference_value(env, s->on_error, &fn) != napi_ok || fn == NULL) return;
  napi_get_reference_value(env, s->recv, &recv);
  napi_create_int32(env, -e, &argv[0]);
  napi_create_string_utf8(env, syscall, NAPI_AUTO_LENGTH, &argv[1]);
  if (napi_make_callback(env, s->actx, recv, fn, 2, argv, &result) != napi_ok) {
    napi_value exc;
    if (napi_get_and_clear_last_exception(env, &exc) == napi_ok) napi_fatal_exception(env, exc);
  }
}

/* Sends replies [from, to) of tx; a reply the kernel refuses (or EAGAIN: the send buffer is full) is counted and skipped. */
static void send_all(batch_sock *s, int count) {
  int k = 0;
  while (k < count) {
    int r = sendmmsg(s->fd, s->tx + k, (unsigned)(count - k), MSG_DONTWAIT);
    if (r > 0) {
      k += r;
    } else if (r < 0 && errno == EINTR) {
      continue;
    } else {
      s->meta[2 * s->batch]++;
      k++;
    }
  }
}

static void on_readable(uv_poll_t *handle, int status, int events) {
  (void)events;
  batch_sock *s = handle->data;
  if (s->closing) return;
  napi_env env = s->env;
  napi_handle_scope scope;
  if (napi_open_handle_scope(env, &scope) != napi_ok) return;
  if (status < 0) {
    report_error(s, -status, "poll");
    napi_close_handle_scope(env, scope);
    return;
  }
  const int b = s->batch;
  for (int round = 0; round < MAX_ROUNDS && !s->closing; round++) {
    for (int i = 0; i < b; i++) {
      s->rx_iov[i].iov_base = s->in + (size_t)i * s->in_slot;
      s->rx_iov[i].iov_len = s->in_slot;
      struct msghdr *h = &s->rx[i].msg_hdr;
      h->msg_name = s->addrs + (size_t)i * PEER_BYTES;
      h->msg_namelen = PEER_BYTES;
      h->msg_iov = &s->rx_iov[i];
      h->msg_iovlen = 1;
      h->msg_control = NULL;
      h->msg_controllen = 0;
      h->msg_flags = 0;
    }
    int n = recvmmsg(s->fd, s->rx, (unsigned)b, MSG_DONTWAIT, NULL);
    if (n < 0) {
      int e = errno;
      if (e == EINTR) continue;
      if (e != EAGAIN && e != EWOULDBLOCK) report_error(s, e, "recvmmsg");
      break;
    }
    if (n == 0) break;
    for (int i = 0; i < n; i++) {
      int cut = (s->rx[i].msg_hdr.msg_flags & MSG_TRUNC) != 0;
      s->meta[i] = cut ? -1 : (int32_t)s->rx[i].msg_len;
      if (cut) s->meta[2 * b + 1]++;
      s->meta[b + i] = 0;
    }
    s->meta[2 * b + 2]++;
    s->meta[2 * b + 3] += n;
    napi_value fn, recv, arg, result;
    napi_get_reference_value(env, s->on_batch, &fn);
    napi_get_reference_value(env, s->recv, &recv);
    napi_create_int32(env, n, &arg);
    if (napi_make_callback(env, s->actx, recv, fn, 1, &arg, &result) != napi_ok) {
      napi_value exc;
      if (napi_get_and_clear_last_exception(env, &exc) == napi_ok) napi_fatal_exception(env, exc);
      break;
    }
    if (s->closing) break;
    int m = 0;
    for (int i = 0; i < n; i++) {
      int32_t len = s->meta[b + i];
      if (len <= 0 || (size_t)len > s->out_slot) continue;
      s->tx_iov[m].iov_base = s->out + (size_t)i * s->out_slot;
      s->tx_iov[m].iov_len = (size_t)len;
      struct msghdr *h = &s->tx[m].msg_hdr;
      h->msg_name = s->addrs + (size_t)i * PEER_BYTES;
      h->msg_namelen = s->rx[i].msg_hdr.msg_namelen;
      h->msg_iov = &s->tx_iov[m];
      h->msg_iovlen = 1;
      h->msg_control = NULL;
      h->msg_controllen = 0;
      h->msg_flags = 0;
      m++;
    }
    if (m > 0) send_all(s, m);
    if (n < b) break;
  }
  napi_close_handle_scope(env, scope);
}

static napi_value js_start(napi_env env, napi_callback_info info) {
  size_t argc = 10;
  napi_value argv[10];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  int32_t fd, batch, in_slot, out_slot;
  uint8_t *in, *out, *meta, *addrs;
  size_t in_len, out_len, meta_len, addr_len;
  napi_valuetype t8, t9;
  if (argc < 10 || !arg_int(env, argv[0], &fd) || !arg_bytes(env, argv[1], &in, &in_len) ||
      !arg_bytes(env, argv[2], &out, &out_len) || !arg_bytes(env, argv[3], &meta, &meta_len) ||
      !arg_bytes(env, argv[4], &addrs, &addr_len) || !arg_int(env, argv[5], &batch) || !arg_int(env, argv[6], &in_slot) ||
      !arg_int(env, argv[7], &out_slot) || napi_typeof(env, argv[8], &t8) != napi_ok || t8 != napi_function ||
      napi_typeof(env, argv[9], &t9) != napi_ok || t9 != napi_function) {
    napi_throw_type_error(env, NULL, "start(fd, in, out, meta, addrs, batch, inSlot, outSlot, onBatch, onError)");
    return NULL;
  }
  if (batch < 1 || batch > MAX_BATCH || in_slot < 512 || out_slot < 512 || in_len < (size_t)batch * in_slot ||
      out_len < (size_t)batch * out_slot || meta_len < (size_t)(2 * batch + 4) * 4 || addr_len < (size_t)batch * PEER_BYTES) {
    napi_throw_range_error(env, NULL, "start: buffer sizes do not match batch and slot sizes");
    return NULL;
  }
  batch_sock *s = calloc(1, sizeof *s);
  if (s == NULL) {
    napi_throw_error(env, "ENOMEM", "udp batch: out of memory");
    return NULL;
  }
  s->fd = fd;
  s->env = env;
  s->in = in;
  s->out = out;
  s->meta = (int32_t *)meta;
  s->addrs = addrs;
  s->batch = batch;
  s->in_slot = (size_t)in_slot;
  s->out_slot = (size_t)out_slot;
  for (int i = 0; i < 4; i++) napi_create_reference(env, argv[1 + i], 1, &s->bufs[i]);
  napi_create_reference(env, argv[8], 1, &s->on_batch);
  napi_create_reference(env, argv[9], 1, &s->on_error);
  napi_value resource, name;
  napi_create_object(env, &resource);
  napi_create_reference(env, resource, 1, &s->recv);
  napi_create_string_utf8(env, "dcnet:udp-batch", NAPI_AUTO_LENGTH, &name);
  napi_async_init(env, resource, name, &s->actx);
  uv_loop_t *loop = NULL;
  napi_get_uv_event_loop(env, &loop);
  int r = uv_poll_init(loop, &s->poll, fd);
  if (r == 0) {
    s->poll.data = s;
    r = uv_poll_start(&s->poll, UV_READABLE, on_readable);
  }
  if (r != 0) {
    for (int i = 0; i < 4; i++) napi_delete_reference(env, s->bufs[i]);
    napi_delete_reference(env, s->on_batch);
    napi_delete_reference(env, s->on_error);
    napi_delete_reference(env, s->recv);
    napi_async_destroy(env, s->actx);
    free(s);
    napi_throw_error(env, uv_err_name(r), uv_strerror(r));
    return NULL;
  }
  napi_value ext;
  CHECK(napi_create_external(env, s, NULL, NULL, &ext));
  return ext;
}

static batch_sock *arg_sock(napi_env env, napi_value v) {
  void *p = NULL;
  napi_valuetype t;
  if (napi_typeof(env, v, &t) != napi_ok || t != napi_external) return NULL;
  if (napi_get_value_external(env, v, &p) != napi_ok) return NULL;
  return p;
}

/* sendTo(handle, buffer, peer) -> 0 | -errno */
static napi_value js_send_to(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  batch_sock *s = argc == 3 ? arg_sock(env, argv[0]) : NULL;
  uint8_t *buf, *peer;
  size_t len, plen;
  if (s == NULL || !arg_bytes(env, argv[1], &buf, &len) || !arg_bytes(env, argv[2], &peer, &plen) || plen < PEER_BYTES) {
    napi_throw_type_error(env, NULL, "sendTo(handle, buffer, peer)");
    return NULL;
  }
  int rc = 0;
  if (s->closing) {
    rc = -EBADF;
  } else {
    sa_family_t fam;
    memcpy(&fam, peer, sizeof fam);
    socklen_t slen = fam == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
    ssize_t w;
    do w = sendto(s->fd, buf, len, MSG_DONTWAIT, (struct sockaddr *)peer, slen);
    while (w < 0 && errno == EINTR);
    if (w < 0) rc = -errno;
  }
  napi_value out;
  CHECK(napi_create_int32(env, rc, &out));
  return out;
}

static void on_closed(uv_handle_t *handle) {
  batch_sock *s = handle->data;
  napi_env env = s->env;
  close(s->fd);
  napi_handle_scope scope;
  napi_open_handle_scope(env, &scope);
  napi_value fn, recv, result;
  if (s->on_close != NULL && napi_get_reference_value(env, s->on_close, &fn) == napi_ok && fn != NULL) {
    napi_get_reference_value(env, s->recv, &recv);
    if (napi_make_callback(env, s->actx, recv, fn, 0, NULL, &result) != napi_ok) {
      napi_value exc;
      if (napi_get_and_clear_last_exception(env, &exc) == napi_ok) napi_fatal_exception(env, exc);
    }
  }
  napi_close_handle_scope(env, scope);
  for (int i = 0; i < 4; i++) napi_delete_reference(env, s->bufs[i]);
  napi_delete_reference(env, s->on_batch);
  napi_delete_reference(env, s->on_error);
  if (s->on_close != NULL) napi_delete_reference(env, s->on_close);
  napi_delete_reference(env, s->recv);
  napi_async_destroy(env, s->actx);
  free(s);
}

/* stop(handle, done) */
static napi_value js_stop(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  batch_sock *s = argc >= 1 ? arg_sock(env, argv[0]) : NULL;
  if (s == NULL) {
    napi_throw_type_error(env, NULL, "stop(handle, done)");
    return NULL;
  }
  if (!s->closing) {
    s->closing = 1;
    napi_valuetype t;
    if (argc == 2 && napi_typeof(env, argv[1], &t) == napi_ok && t == napi_function)
      napi_create_reference(env, argv[1], 1, &s->on_close);
    uv_poll_stop(&s->poll);
    uv_close((uv_handle_t *)&s->poll, on_closed);
  }
  return NULL;
}

/* closeFd(fd): for a socket opened but never started */
static napi_value js_close_fd(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  int32_t fd;
  if (argc == 1 && arg_int(env, argv[0], &fd) && fd >= 0) close(fd);
  return NULL;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"open", NULL, js_open, NULL, NULL, NULL, napi_default, NULL},
      {"start", NULL, js_start, NULL, NULL, NULL, napi_default, NULL},
      {"sendTo", NULL, js_send_to, NULL, NULL, NULL, napi_default, NULL},
      {"stop", NULL, js_stop, NULL, NULL, NULL, napi_default, NULL},
      {"closeFd", NULL, js_close_fd, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_value batch;
  napi_create_int32(env, MAX_BATCH, &batch);
  napi_set_named_property(env, exports, "maxBatch", batch);
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
