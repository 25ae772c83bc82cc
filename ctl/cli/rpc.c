/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The RPC client: one connection, one request, one reply line
 * (include/shoal/proto.h). Reads are bounded by REPLY_MAX and the whole
 * exchange by the caller's timeout (the command's, SHOALCTL_TIMEOUT_MS
 * unless its row says otherwise), so a stuck or chatty daemon cannot
 * hang or flood the CLI.
 */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <shoal/proto.h>

#include "shoalctl.h"

/* A lease.list reply is as long as the whole lease set (proto.h). */
#define REPLY_MAX SHOAL_ENGINE_MSG_MAX

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Wait for events on fd until deadline; 0, -ETIMEDOUT or -errno. */
static int wait_fd(int fd, short events, int64_t deadline)
{
	struct pollfd pfd = { .fd = fd, .events = events };
	int64_t left;
	int n;

	for (;;) {
		left = deadline - now_ms();
		if (left <= 0)
			return -ETIMEDOUT;
		n = poll(&pfd, 1, (int)left);
		if (n > 0)
			return 0;
		if (n == 0)
			return -ETIMEDOUT;
		if (errno != EINTR)
			return -errno;
	}
}

static int connect_unix(const char *path, int64_t deadline)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	socklen_t len = sizeof(sun);
	int fd, err;

	if (strlen(path) >= sizeof(sun.sun_path))
		return -ENAMETOOLONG;
	strcpy(sun.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == 0)
		return fd;
	/* Unix sockets report a full backlog as EAGAIN, not EINPROGRESS. */
	if (errno != EINPROGRESS && errno != EAGAIN) {
		err = -errno;
		goto fail;
	}
	err = wait_fd(fd, POLLOUT, deadline);
	if (err < 0)
		goto fail;
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0) {
		err = -errno;
		goto fail;
	}
	if (err != 0) {
		err = -err;
		goto fail;
	}
	return fd;
fail:
	close(fd);
	return err;
}

static int send_all(int fd, const char *buf, size_t len, int64_t deadline)
{
	ssize_t n;
	int err;

	while (len > 0) {
		n = send(fd, buf, len, MSG_NOSIGNAL);
		if (n > 0) {
			buf += n;
			len -= (size_t)n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno != EAGAIN)
			return -errno;
		err = wait_fd(fd, POLLOUT, deadline);
		if (err < 0)
			return err;
	}
	return 0;
}

/*
 * Read one '\n'-terminated line into buf (NUL-terminated, newline
 * stripped). *used carries bytes already buffered past the previous line
 * in and out. -EMSGSIZE past REPLY_MAX, -ECONNRESET on EOF.
 */
static int read_line(int fd, char *buf, size_t *used, int64_t deadline,
		     size_t *line_len)
{
	char *nl;
	ssize_t n;
	int err;

	for (;;) {
		nl = memchr(buf, '\n', *used);
		if (nl != NULL) {
			*nl = '\0';
			*line_len = (size_t)(nl - buf);
			return 0;
		}
		if (*used >= REPLY_MAX)
			return -EMSGSIZE;
		n = recv(fd, buf + *used, REPLY_MAX - *used, 0);
		if (n > 0) {
			*used += (size_t)n;
			continue;
		}
		if (n == 0)
			return -ECONNRESET;
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN)
			return -errno;
		err = wait_fd(fd, POLLIN, deadline);
		if (err < 0)
			return err;
	}
}

/* Check the reply envelope; 0 result, 1 error, -EPROTO malformed,
 * -EAGAIN for a notification or another id (read on). */
static int take_reply(json_t *msg, json_int_t id, json_t **result,
		      json_t **error)
{
	json_t *jid, *r, *e;
	const char *ver = NULL;

	if (!json_is_object(msg))
		return -EPROTO;
	if (json_unpack(msg, "{s:s}", "jsonrpc", &ver) < 0 ||
	    strcmp(ver, "2.0") != 0)
		return -EPROTO;
	jid = json_object_get(msg, "id");
	if (jid == NULL && json_object_get(msg, "method") != NULL)
		return -EAGAIN;
	r = json_object_get(msg, "result");
	e = json_object_get(msg, "error");
	/* The daemon answers an unparsable request with id null. */
	if (json_is_integer(jid) && json_integer_value(jid) != id)
		return -EAGAIN;
	if (!json_is_integer(jid) && !(json_is_null(jid) && e != NULL))
		return -EPROTO;
	if (r != NULL && e == NULL && json_is_object(r)) {
		*result = json_incref(r);
		return 0;
	}
	if (e != NULL && r == NULL && json_is_object(e)) {
		*error = json_incref(e);
		return 1;
	}
	return -EPROTO;
}

int rpc_call(const char *path, const char *method, json_t *params,
	     int timeout_ms, json_t **result, json_t **error,
	     const char **what)
{
	int64_t deadline = now_ms() + timeout_ms;
	json_int_t id = (json_int_t)getpid();
	char *req = NULL, *buf = NULL;
	size_t used = 0, len;
	json_t *msg;
	int fd = -1, rc;

	*result = NULL;
	*error = NULL;
	*what = "connect";
	fd = connect_unix(path, deadline);
	if (fd < 0)
		return fd;

	*what = "send";
	msg = json_pack("{s:s,s:I,s:s,s:O}", "jsonrpc", "2.0", "id", id,
			"method", method, "params", params);
	if (msg != NULL)
		req = json_dumps(msg, JSON_COMPACT);
	json_decref(msg);
	buf = malloc(REPLY_MAX + 1);
	if (req == NULL || buf == NULL) {
		rc = -ENOMEM;
		goto out;
	}
	len = strlen(req);
	req[len] = '\n'; /* json_dumps leaves no newline; reuse the NUL */
	rc = send_all(fd, req, len + 1, deadline);
	if (rc < 0)
		goto out;

	/* Replies are bounded; notifications (none expected) are skipped
	 * until the deadline. */
	for (;;) {
		json_error_t jerr;
		size_t line_len = 0;

		*what = "receive";
		rc = read_line(fd, buf, &used, deadline, &line_len);
		if (rc < 0)
			goto out;
		*what = "reply";
		msg = json_loadb(buf, line_len, JSON_REJECT_DUPLICATES, &jerr);
		if (msg == NULL) {
			rc = -EPROTO;
			goto out;
		}
		rc = take_reply(msg, id, result, error);
		json_decref(msg);
		if (rc != -EAGAIN)
			goto out;
		used -= line_len + 1;
		memmove(buf, buf + line_len + 1, used);
	}
out:
	free(req);
	free(buf);
	close(fd);
	return rc;
}
