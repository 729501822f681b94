// rtnetlink sockets opened inside a network namespace, for src/host/netlink.ts.
//
// Only the parts that JavaScript cannot do live here: setns(2) on the calling thread, socket(2)
// and the dump loop, and a libuv poll on event sockets. Decoding is in TypeScript
// (src/host/netlink-decode.ts); this file hands back the raw message bytes.
//
//   dumpNamespace(nsfsPath)          -> { ino, dev, link, addr, route4, route6 }   (Buffers)
//   openEventSocket(nsfsPath, rcvbuf) -> { fd, ino, dev }   non-blocking, joined to the link,
//                                         IPv4/IPv6 address and IPv4/IPv6 route groups
//   watch(fd, cb)                    -> handle; cb(errno, overflow, Buffer|null) on the loop thread
//   unwatch(handle)                  stops the poll and closes the socket at once
//   closeEventSocket(fd)             for a socket that never got a watch
//
// Errors are JS Errors with .syscall and .errno (the positive errno number).
// setns() affects only the calling thread: the thread goes back to the namespace it came from
// (opened first, from /proc/thread-self/ns/net) before anything else runs on it; if that fails
// the thread is in the wrong namespace for the rest of its life, so the process aborts.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <node_api.h>
#include <uv.h>

#ifndef NETLINK_GET_STRICT_CHK
#define NETLINK_GET_STRICT_CHK 12
#endif

#define RECV_BUFFER_BYTES (64 * 1024)
/** A dump larger than this is refused (E2BIG) rather than growing without bound. */
#define MAX_DUMP_BYTES (256 * 1024 * 1024)
/** Event bytes kept per poll callback; past this the batch is reported as an overflow. */
#define MAX_EVENT_BATCH_BYTES (4 * 1024 * 1024)
#define DUMP_TIMEOUT_SECONDS 5

#define CHECK(call)                                                       \
  do {                                                                    \
    if ((call) != napi_ok) {                                              \
      napi_throw_error(env, NULL, "netlink addon: N-API call failed: " #call); \
      return NULL;                                                        \
    }                                                                     \
  } while (0)

static napi_value throw_errno(napi_env env, const char *syscall, const char *subject, int err) {
  char message[512];
  if (subject)
    snprintf(message, sizeof message, "%s %s: %s", syscall, subject, strerror(err));
  else
    snprintf(message, sizeof message, "%s: %s", syscall, strerror(err));
  napi_value msg, error, value;
  if (napi_create_string_utf8(env, message, NAPI_AUTO_LENGTH, &msg) != napi_ok) return NULL;
  if (napi_create_error(env, NULL, msg, &error) != napi_ok) return NULL;
  if (napi_create_string_utf8(env, syscall, NAPI_AUTO_LENGTH, &value) == napi_ok)
    napi_set_named_property(env, error, "syscall", value);
  if (napi_create_int32(env, err, &value) == napi_ok) napi_set_named_property(env, error, "errno", value);
  napi_throw(env, error);
  return NULL;
}

// ---------------------------------------------------------------------------------------------
// Opening a socket inside a namespace.

struct opened {
  int fd;
  struct stat st;
  const char *failed_syscall; // set when fd < 0
  int err;
};

/**
 * socket(AF_NETLINK, NETLINK_ROUTE) created while this thread is in the namespace of nsfs_path.
 * The namespace file is opened and fstat'ed once, so the inode reported is the one entered.
 */
static struct opened open_in_namespace(const char *nsfs_path, uint32_t groups, int nonblocking, int rcvbuf) {
  struct opened r = {.fd = -1, .failed_syscall = NULL, .err = 0};
  int self = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
  if (self < 0) {
    r.failed_syscall = "open /proc/thread-self/ns/net";
    r.err = errno;
    return r;
  }
  int target = open(nsfs_path, O_RDONLY | O_CLOEXEC);
  if (target < 0) {
    r.failed_syscall = "open";
    r.err = errno;
    close(self);
    return r;
  }
  if (fstat(target, &r.st) < 0) {
    r.failed_syscall = "fstat";
    r.err = errno;
    close(target);
    close(self);
    return r;
  }
  if (setns(target, CLONE_NEWNET) < 0) {
    r.failed_syscall = "setns";
    r.err = errno;
    close(target);
    close(self);
    return r;
  }
  int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC | (nonblocking ? SOCK_NONBLOCK : 0), NETLINK_ROUTE);
  int socket_err = errno;
  if (setns(self, CLONE_NEWNET) < 0) {
    // This thread now lives in another namespace; nothing it does afterwards can be trusted.
    fprintf(stderr, "lbtopo netlink addon: setns back to the original network namespace failed: %s\n", strerror(errno));
    abort();
  }
  close(target);
  close(self);
  if (fd < 0) {
    r.failed_syscall = "socket";
    r.err = socket_err;
    return r;
  }
  int one = 1;
  if (setsockopt(fd, SOL_NETLINK, NETLINK_GET_STRICT_CHK, &one, sizeof one) < 0) {
    r.failed_syscall = "setsockopt NETLINK_GET_STRICT_CHK";
    goto fail;
  }
  if (rcvbuf > 0 && setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf) < 0) {
    r.failed_syscall = "setsockopt SO_RCVBUF";
    goto fail;
  }
  if (!nonblocking) {
    struct timeval tv = {.tv_sec = DUMP_TIMEOUT_SECONDS, .tv_usec = 0};
    if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) < 0) {
      r.failed_syscall = "setsockopt SO_RCVTIMEO";
      goto fail;
    }
  }
  struct sockaddr_nl local = {.nl_family = AF_NETLINK, .nl_pid = 0, .nl_groups = groups};
  if (bind(fd, (struct sockaddr *)&local, sizeof local) < 0) {
    r.failed_syscall = "bind";
    goto fail;
  }
  r.fd = fd;
  return r;
fail:
  r.err = errno;
  close(fd);
  return r;
}

// ---------------------------------------------------------------------------------------------
// Dumps.

struct growbuf {
  unsigned char *data;
  size_t len;
  size_t cap;
};

static int growbuf_append(struct growbuf *b, const void *bytes, size_t n, size_t limit) {
  if (n > limit || b->len > limit - n) return E2BIG;
  if (b->len + n > b->cap) {
    size_t cap = b->cap ? b->cap : 16384;
    while (cap < b->len + n) cap *= 2;
    unsigned char *grown = realloc(b->data, cap);
    if (!grown) return ENOMEM;
    b->data = grown;
    b->cap = cap;
  }
  memcpy(b->data + b->len, bytes, n);
  b->len += n;
  return 0;
}

/**
 * One NLM_F_DUMP request and every reply message with its sequence number, up to and including
 * NLMSG_DONE or NLMSG_ERROR, appended to out as they came (a stream of nlmsghdr-framed messages).
 */
static int dump(int fd, uint16_t type, uint8_t family, uint32_t seq, unsigned char *rx, struct growbuf *out) {
  struct {
    struct nlmsghdr h;
    union {
      struct ifinfomsg link;
      struct ifaddrmsg addr;
      struct rtmsg route;
    } body;
  } req;
  memset(&req, 0, sizeof req);
  size_t body = type == RTM_GETLINK ? sizeof req.body.link : type == RTM_GETADDR ? sizeof req.body.addr : sizeof req.body.route;
  req.h.nlmsg_len = NLMSG_LENGTH(body);
  req.h.nlmsg_type = type;
  req.h.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
  req.h.nlmsg_seq = seq;
  if (type == RTM_GETLINK) req.body.link.ifi_family = family;
  else if (type == RTM_GETADDR) req.body.addr.ifa_family = family;
  else req.body.route.rtm_family = family;

  struct sockaddr_nl kernel = {.nl_family = AF_NETLINK};
  ssize_t sent;
  do sent = sendto(fd, &req, req.h.nlmsg_len, 0, (struct sockaddr *)&kernel, sizeof kernel);
  while (sent < 0 && errno == EINTR);
  if (sent < 0) return errno;
  if ((size_t)sent != req.h.nlmsg_len) return EIO;

  for (;;) {
    struct sockaddr_nl from;
    struct iovec iov = {.iov_base = rx, .iov_len = RECV_BUFFER_BYTES};
    struct msghdr msg = {.msg_name = &from, .msg_namelen = sizeof from, .msg_iov = &iov, .msg_iovlen = 1};
    ssize_t n = recvmsg(fd, &msg, 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      return errno == EAGAIN || errno == EWOULDBLOCK ? ETIMEDOUT : errno;
    }
    if (msg.msg_flags & MSG_TRUNC) return EMSGSIZE;
    if (from.nl_pid != 0) continue; // not from the kernel
    int remaining = (int)n;
    int done = 0;
    for (struct nlmsghdr *h = (struct nlmsghdr *)rx; NLMSG_OK(h, remaining); h = NLMSG_NEXT(h, remaining)) {
      if (h->nlmsg_seq != seq) continue;
      size_t len = NLMSG_ALIGN(h->nlmsg_len);
      if (len > (size_t)remaining) len = (size_t)remaining;
      int err = growbuf_append(out, h, len, MAX_DUMP_BYTES);
      if (err) return err;
      if (h->nlmsg_type == NLMSG_DONE || h->nlmsg_type == NLMSG_ERROR) {
        done = 1;
        break;
      }
    }
    if (done) return 0;
    if (n == 0) return EPIPE;
  }
}

static int get_string_arg(napi_env env, napi_value value, char *buf, size_t size) {
  size_t len = 0;
  if (napi_get_value_string_utf8(env, value, buf, size, &len) != napi_ok) return -1;
  if (len == 0 || len >= size - 1) return -1;
  if (strlen(buf) != len) return -1; // an embedded NUL
  return 0;
}

static napi_value buffer_from(napi_env env, const struct growbuf *b) {
  napi_value result;
  void *copy;
  if (napi_create_buffer_copy(env, b->len, b->len ? (const void *)b->data : (const void *)"", &copy, &result) != napi_ok) return NULL;
  return result;
}

static napi_value set_stat(napi_env env, napi_value object, const struct stat *st) {
  napi_value v;
  CHECK(napi_create_double(env, (double)st->st_ino, &v));
  CHECK(napi_set_named_property(env, object, "ino", v));
  CHECK(napi_create_double(env, (double)st->st_dev, &v));
  CHECK(napi_set_named_property(env, object, "dev", v));
  return object;
}

static napi_value dump_namespace(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  char path[4096];
  if (argc < 1 || get_string_arg(env, argv[0], path, sizeof path) < 0) {
    napi_throw_type_error(env, NULL, "dumpNamespace(nsfsPath): a non-empty path without NUL");
    return NULL;
  }
  struct opened o = open_in_namespace(path, 0, 0, 0);
  if (o.fd < 0) return throw_errno(env, o.failed_syscall, path, o.err);

  static const struct {
    const char *name;
    uint16_t type;
    uint8_t family;
  } dumps[] = {
      {"link", RTM_GETLINK, AF_UNSPEC},
      {"addr", RTM_GETADDR, AF_UNSPEC},
      {"route4", RTM_GETROUTE, AF_INET},
      {"route6", RTM_GETROUTE, AF_INET6},
  };
  struct growbuf out[4];
  memset(out, 0, sizeof out);
  unsigned char *rx = malloc(RECV_BUFFER_BYTES);
  int err = rx ? 0 : ENOMEM;
  const char *failed = "malloc";
  for (size_t i = 0; i < 4 && !err; i++) {
    err = dump(o.fd, dumps[i].type, dumps[i].family, (uint32_t)(i + 1), rx, &out[i]);
    if (err) failed = dumps[i].type == RTM_GETLINK ? "RTM_GETLINK dump" : dumps[i].type == RTM_GETADDR ? "RTM_GETADDR dump" : "RTM_GETROUTE dump";
  }
  free(rx);
  close(o.fd);

  napi_value result = NULL;
  if (err) {
    throw_errno(env, failed, path, err);
  } else if (napi_create_object(env, &result) == napi_ok && set_stat(env, result, &o.st)) {
    for (size_t i = 0; i < 4; i++) {
      napi_value buffer = buffer_from(env, &out[i]);
      if (!buffer || napi_set_named_property(env, result, dumps[i].name, buffer) != napi_ok) {
        result = NULL;
        break;
      }
    }
  }
  for (size_t i = 0; i < 4; i++) free(out[i].data);
  return result;
}

// ---------------------------------------------------------------------------------------------
// Events.

static napi_value open_event_socket(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  char path[4096];
  if (argc < 1 || get_string_arg(env, argv[0], path, sizeof path) < 0) {
    napi_throw_type_error(env, NULL, "openEventSocket(nsfsPath, rcvbuf): a non-empty path without NUL");
    return NULL;
  }
  int32_t rcvbuf = 0;
  if (argc >= 2) {
    napi_valuetype t;
    CHECK(napi_typeof(env, argv[1], &t));
    if (t == napi_number) CHECK(napi_get_value_int32(env, argv[1], &rcvbuf));
  }
  uint32_t groups = RTMGRP_LINK | RTMGRP_IPV4_IFADDR | RTMGRP_IPV6_IFADDR | RTMGRP_IPV4_ROUTE | RTMGRP_IPV6_ROUTE;
  struct opened o = open_in_namespace(path, groups, 1, rcvbuf);
  if (o.fd < 0) return throw_errno(env, o.failed_syscall, path, o.err);
  napi_value result, v;
  if (napi_create_object(env, &result) != napi_ok || napi_create_int32(env, o.fd, &v) != napi_ok ||
      napi_set_named_property(env, result, "fd", v) != napi_ok || !set_stat(env, result, &o.st)) {
    close(o.fd);
    return NULL;
  }
  return result;
}

static napi_value close_event_socket(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  int32_t fd = -1;
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 1 || napi_get_value_int32(env, argv[0], &fd) != napi_ok || fd < 0) {
    napi_throw_type_error(env, NULL, "closeEventSocket(fd)");
    return NULL;
  }
  if (close(fd) < 0 && errno != EINTR) return throw_errno(env, "close", NULL, errno);
  return NULL;
}

struct watcher {
  uv_poll_t poll;
  int fd;
  int closed;      // unwatch() or the finalizer ran: the socket is closed
  int uv_closed;   // libuv is done with poll
  int finalized;   // the JS handle is gone
  int in_callback; // inside napi_make_callback: the async context must outlive it
  napi_env env;
  napi_ref callback;
  napi_async_context context;
};

static void maybe_free(struct watcher *w) {
  if (w->uv_closed && w->finalized) free(w);
}

static void on_uv_closed(uv_handle_t *handle) {
  struct watcher *w = handle->data;
  w->uv_closed = 1;
  maybe_free(w);
}

static void release_js(struct watcher *w) {
  if (w->callback) napi_delete_reference(w->env, w->callback);
  w->callback = NULL;
  if (w->context) napi_async_destroy(w->env, w->context);
  w->context = NULL;
}

static void stop_watcher(struct watcher *w) {
  if (w->closed) return;
  w->closed = 1;
  uv_poll_stop(&w->poll);
  // uv_close takes the fd out of epoll now (uv__platform_invalidate_fd), so closing it at once
  // is safe; an open socket would keep a deleted namespace and its devices alive.
  uv_close((uv_handle_t *)&w->poll, on_uv_closed);
  close(w->fd);
  w->fd = -1;
  // close() from inside the callback: on_poll releases these once napi_make_callback returns.
  if (!w->in_callback) release_js(w);
}

static void on_poll(uv_poll_t *handle, int status, int events) {
  (void)events;
  struct watcher *w = handle->data;
  if (w->closed) return;
  napi_env env = w->env;
  struct growbuf batch = {0};
  int overflow = 0, err = 0;
  unsigned char *rx = malloc(RECV_BUFFER_BYTES);
  if (!rx) err = ENOMEM;
  // Level-triggered: whatever is left after this batch makes the poll fire again.
  for (int i = 0; rx && i < 1024; i++) {
    ssize_t n = recv(w->fd, rx, RECV_BUFFER_BYTES, MSG_DONTWAIT);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) break;
      if (errno == ENOBUFS) { // the receive queue overflowed: events were lost
        overflow = 1;
        continue;
      }
      err = errno;
      break;
    }
    if (overflow) continue; // the caller re-dumps anyway
    if (growbuf_append(&batch, rx, (size_t)n, MAX_EVENT_BATCH_BYTES)) overflow = 1;
  }
  free(rx);
  // A socket error (ENOBUFS) shows as POLLERR, and libuv stops the handle before telling us
  // (status UV_EBADF): the recv above consumed the error, so start polling again.
  if (status < 0 && !err) {
    overflow = 1;
    int rc = uv_poll_start(&w->poll, UV_READABLE, on_poll);
    if (rc < 0) err = -rc;
  }
  // Any other socket error ends the watch (level-triggered, it would only repeat); the caller
  // hears it once and may watch again.
  if (err) uv_poll_stop(&w->poll);

  napi_handle_scope scope;
  if (napi_open_handle_scope(env, &scope) != napi_ok) {
    free(batch.data);
    return;
  }
  napi_value cb, recv_this, argv[3], ignored;
  int ok = napi_get_reference_value(env, w->callback, &cb) == napi_ok && cb != NULL &&
           napi_get_global(env, &recv_this) == napi_ok && napi_create_int32(env, err, &argv[0]) == napi_ok &&
           napi_get_boolean(env, overflow, &argv[1]) == napi_ok;
  if (ok) {
    if (batch.len) {
      argv[2] = buffer_from(env, &batch);
      ok = argv[2] != NULL;
    } else {
      ok = napi_get_null(env, &argv[2]) == napi_ok;
    }
  }
  free(batch.data);
  w->in_callback = 1;
  napi_status called = ok ? napi_make_callback(env, w->context, recv_this, cb, 3, argv, &ignored) : napi_ok;
  w->in_callback = 0;
  if (w->closed) release_js(w);
  if (called == napi_pending_exception) {
    napi_value exception;
    if (napi_get_and_clear_last_exception(env, &exception) == napi_ok) napi_fatal_exception(env, exception);
  }
  napi_close_handle_scope(env, scope);
}

static void finalize_watcher(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  struct watcher *w = data;
  stop_watcher(w);
  w->finalized = 1;
  maybe_free(w);
}

static napi_value watch(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  int32_t fd = -1;
  napi_valuetype t = napi_undefined;
  if (argc < 2 || napi_get_value_int32(env, argv[0], &fd) != napi_ok || fd < 0 ||
      napi_typeof(env, argv[1], &t) != napi_ok || t != napi_function) {
    napi_throw_type_error(env, NULL, "watch(fd, callback)");
    return NULL;
  }
  uv_loop_t *loop;
  CHECK(napi_get_uv_event_loop(env, (struct uv_loop_s **)&loop));
  struct watcher *w = calloc(1, sizeof *w);
  if (!w) return throw_errno(env, "calloc", NULL, ENOMEM);
  w->fd = fd;
  w->env = env;
  napi_value name, handle;
  if (napi_create_reference(env, argv[1], 1, &w->callback) != napi_ok ||
      napi_create_string_utf8(env, "lbtopo.netlinkWatch", NAPI_AUTO_LENGTH, &name) != napi_ok ||
      napi_async_init(env, NULL, name, &w->context) != napi_ok) {
    if (w->callback) napi_delete_reference(env, w->callback);
    free(w);
    napi_throw_error(env, NULL, "watch: N-API setup failed");
    return NULL;
  }
  int rc = uv_poll_init(loop, &w->poll, fd);
  if (rc == 0) {
    w->poll.data = w;
    rc = uv_poll_start(&w->poll, UV_READABLE, on_poll);
    if (rc < 0) {
      w->closed = 1;
      uv_close((uv_handle_t *)&w->poll, on_uv_closed);
      napi_delete_reference(env, w->callback);
      napi_async_destroy(env, w->context);
      w->finalized = 1; // no JS handle was made; on_uv_closed frees
      return throw_errno(env, "uv_poll_start", NULL, -rc);
    }
  } else {
    napi_delete_reference(env, w->callback);
    napi_async_destroy(env, w->context);
    free(w);
    return throw_errno(env, "uv_poll_init", NULL, -rc);
  }
  if (napi_create_external(env, w, finalize_watcher, NULL, &handle) != napi_ok) {
    stop_watcher(w); // closes fd too
    w->finalized = 1;
    napi_throw_error(env, NULL, "watch: napi_create_external failed");
    return NULL;
  }
  return handle;
}

static napi_value unwatch(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  napi_valuetype t = napi_undefined;
  void *data = NULL;
  if (argc < 1 || napi_typeof(env, argv[0], &t) != napi_ok || t != napi_external ||
      napi_get_value_external(env, argv[0], &data) != napi_ok || !data) {
    napi_throw_type_error(env, NULL, "unwatch(handle)");
    return NULL;
  }
  stop_watcher(data);
  return NULL;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"dumpNamespace", NULL, dump_namespace, NULL, NULL, NULL, napi_default, NULL},
      {"openEventSocket", NULL, open_event_socket, NULL, NULL, NULL, napi_default, NULL},
      {"closeEventSocket", NULL, close_event_socket, NULL, NULL, NULL, napi_default, NULL},
      {"watch", NULL, watch, NULL, NULL, NULL, napi_default, NULL},
      {"unwatch", NULL, unwatch, NULL, NULL, NULL, napi_default, NULL},
  };
  if (napi_define_properties(env, exports, sizeof props / sizeof props[0], props) != napi_ok) return NULL;
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
