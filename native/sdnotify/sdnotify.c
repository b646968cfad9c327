/*
 * qrpay-sdnotify: sd_notify(3) for the main Node.js process, without libsystemd.
 *
 * Why an addon: systemd's NotifyAccess=main only accepts datagrams whose
 * SCM_CREDENTIALS pid is the service's main pid. Node has no AF_UNIX SOCK_DGRAM
 * support, and a `systemd-notify` child sends with its own (short-lived) pid, so
 * PID 1 may drop or misattribute the message. This file sends the datagram from
 * the main process itself, exactly as sd_notify() does:
 *   socket(AF_UNIX, SOCK_DGRAM|SOCK_CLOEXEC) -> sendto($NOTIFY_SOCKET) -> close.
 * An address starting with '@' is an abstract socket (leading NUL byte, no
 * trailing NUL counted in the address length).
 *
 * JS API: send(socketPath: string, message: string): number
 *   returns the number of bytes sent; throws an Error whose `code` is the errno
 *   name (e.g. "ENOENT", "ECONNREFUSED") and whose message names the function.
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <node_api.h>

#define MAX_MESSAGE 4096

static const char *errno_name(int e) {
  switch (e) {
    case ENOENT: return "ENOENT";
    case ECONNREFUSED: return "ECONNREFUSED";
    case EACCES: return "EACCES";
    case EPERM: return "EPERM";
    case ENAMETOOLONG: return "ENAMETOOLONG";
    case EINVAL: return "EINVAL";
    case EAGAIN: return "EAGAIN";
    case ENOBUFS: return "ENOBUFS";
    case EAFNOSUPPORT: return "EAFNOSUPPORT";
    case EMSGSIZE: return "EMSGSIZE";
    case ENOTDIR: return "ENOTDIR";
    default: return "EIO";
  }
}

static napi_value throw_errno(napi_env env, const char *what, int e) {
  char msg[256];
  snprintf(msg, sizeof msg, "sdnotify.send: %s failed: %s (errno %d)", what, strerror(e), e);
  napi_throw_error(env, errno_name(e), msg);
  return NULL;
}

/* Reads a JS string argument into a malloc'd buffer; returns NULL with a pending exception. */
static char *get_string(napi_env env, napi_value v, const char *name, size_t max, size_t *out_len) {
  napi_valuetype t;
  if (napi_typeof(env, v, &t) != napi_ok || t != napi_string) {
    char msg[128];
    snprintf(msg, sizeof msg, "sdnotify.send: expected %s string", name);
    napi_throw_type_error(env, "EINVAL", msg);
    return NULL;
  }
  size_t len = 0;
  napi_get_value_string_utf8(env, v, NULL, 0, &len);
  if (len == 0 || len > max) {
    char msg[128];
    snprintf(msg, sizeof msg, "sdnotify.send: %s length %zu outside 1..%zu", name, len, max);
    napi_throw_range_error(env, "EINVAL", msg);
    return NULL;
  }
  char *buf = malloc(len + 1);
  if (buf == NULL) {
    napi_throw_error(env, "ENOMEM", "sdnotify.send: out of memory");
    return NULL;
  }
  napi_get_value_string_utf8(env, v, buf, len + 1, &len);
  *out_len = len;
  return buf;
}

static napi_value send_notify(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc < 2) {
    napi_throw_type_error(env, "EINVAL", "sdnotify.send: expected (socketPath, message)");
    return NULL;
  }

  struct sockaddr_un sa;
  memset(&sa, 0, sizeof sa);
  sa.sun_family = AF_UNIX;
  size_t path_len = 0;
  char *path = get_string(env, argv[0], "socketPath", sizeof sa.sun_path - 1, &path_len);
  if (path == NULL) return NULL;
  if (path[0] != '/' && path[0] != '@') {
    free(path);
    napi_throw_error(env, "EAFNOSUPPORT",
                     "sdnotify.send: socketPath must start with '/' or '@' (vsock: is not supported)");
    return NULL;
  }
  memcpy(sa.sun_path, path, path_len);
  socklen_t addr_len;
  if (path[0] == '@') {
    sa.sun_path[0] = '\0'; /* abstract namespace: the length, not a NUL, ends the name */
    addr_len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + path_len);
  } else {
    addr_len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + path_len + 1);
  }
  free(path);

  size_t msg_len = 0;
  char *msg = get_string(env, argv[1], "message", MAX_MESSAGE, &msg_len);
  if (msg == NULL) return NULL;

  int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    int e = errno;
    free(msg);
    return throw_errno(env, "socket", e);
  }
  ssize_t n;
  do {
    n = sendto(fd, msg, msg_len, MSG_NOSIGNAL | MSG_DONTWAIT, (struct sockaddr *)&sa, addr_len);
  } while (n < 0 && errno == EINTR);
  int e = errno;
  close(fd);
  free(msg);
  if (n < 0) return throw_errno(env, "sendto", e);

  napi_value result;
  napi_create_int64(env, (int64_t)n, &result);
  return result;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_value fn;
  napi_create_function(env, "send", NAPI_AUTO_LENGTH, send_notify, NULL, &fn);
  napi_set_named_property(env, exports, "send", fn);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
