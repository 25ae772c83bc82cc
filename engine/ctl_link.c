/* SPDX-License-Identifier: BSD-3-Clause */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <shoal/proto.h>

#include "ctl_link.h"
#include "log.h"

#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 5000
#define OUTBUF_MAX (4 * SHOAL_MSG_MAX)

int ctl_link_init(struct ctl_link *l, const char *path)
{
	memset(l, 0, sizeof(*l));
	l->out = malloc(OUTBUF_MAX);
	l->in = malloc(SHOAL_ENGINE_MSG_MAX + 1);
	if (!l->out || !l->in) {
		free(l->out);
		free(l->in);
		return -ENOMEM;
	}
	l->in[0] = '\0';
	l->path = path;
	l->fd = -1;
	l->backoff = BACKOFF_MIN_MS;
	return 0;
}

void ctl_link_fini(struct ctl_link *l)
{
	if (l->fd >= 0)
		close(l->fd);
	free(l->out);
	free(l->in);
}

static void retry_later(struct ctl_link *l, uint64_t now)
{
	l->retry_at = now + l->backoff;
	l->backoff = l->backoff * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS
						     : l->backoff * 2;
}

static void disconnect(struct ctl_link *l, const char *why)
{
	if (l->fd >= 0) {
		close(l->fd);
		SH_LOG(WARNING, ctl, "disconnected from shoal-ctld (%s); "
		       "forwarding goes on with the last lease set\n", why);
	}
	l->fd = -1;
	l->in_len = 0;
	l->in_off = 0;
	l->in[0] = '\0';
	l->out_len = 0;
	retry_later(l, ctl_now_ms());
}

bool ctl_link_connect(struct ctl_link *l, uint64_t now)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	size_t len = strnlen(l->path, sizeof(sa.sun_path));
	int fd;

	if (l->fd >= 0 || now < l->retry_at)
		return false;
	/* The config parser bounds ctl_socket to sun_path already. */
	memcpy(sa.sun_path, l->path,
	       len < sizeof(sa.sun_path) ? len : sizeof(sa.sun_path) - 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		if (fd >= 0)
			close(fd);
		retry_later(l, ctl_now_ms());
		return false;
	}
	l->fd = fd;
	return true;
}

void ctl_link_backoff_reset(struct ctl_link *l)
{
	l->backoff = BACKOFF_MIN_MS;
}

bool ctl_link_send(struct ctl_link *l, json_t *msg)
{
	char *s = json_dumps(msg, JSON_COMPACT);
	size_t n;
	bool ok = false;

	json_decref(msg);
	if (!s)
		return false;
	n = strlen(s);
	if (n + 1 <= SHOAL_MSG_MAX && l->out_len + n + 1 <= OUTBUF_MAX) {
		memcpy(l->out + l->out_len, s, n);
		l->out[l->out_len + n] = '\n';
		l->out_len += n + 1;
		ok = true;
	}
	free(s);
	return ok;
}

void ctl_link_flush(struct ctl_link *l)
{
	while (l->fd >= 0 && l->out_len) {
		ssize_t n = send(l->fd, l->out, l->out_len,
				 MSG_DONTWAIT | MSG_NOSIGNAL);

		if (n < 0) {
			if (errno != EAGAIN && errno != EINTR)
				disconnect(l, strerror(errno));
			return;
		}
		memmove(l->out, l->out + n, l->out_len - (size_t)n);
		l->out_len -= (size_t)n;
	}
}

/*
 * Lines are cut from l->in[in_off, in_len) as the caller asks for them;
 * only when none is complete is the remainder moved to the front and the
 * socket read again, until it has nothing more (EAGAIN). The buffer stays
 * NUL-terminated, so a line ends at the first newline after in_off.
 */
bool ctl_link_flush_wait(struct ctl_link *l, int timeout_ms)
{
	uint64_t end = ctl_now_ms() + (uint64_t)timeout_ms;

	for (;;) {
		struct pollfd pfd = { .fd = l->fd, .events = POLLOUT };
		uint64_t now;

		ctl_link_flush(l);
		if (l->fd < 0 || !l->out_len)
			break;
		now = ctl_now_ms();
		if (now >= end)
			break;
		/* EINTR or a timeout: the loop checks the clock again */
		(void)poll(&pfd, 1, (int)(end - now));
	}
	return l->fd >= 0 && !l->out_len;
}

char *ctl_link_recv(struct ctl_link *l)
{
	while (l->fd >= 0) {
		char *start = l->in + l->in_off, *nl = strchr(start, '\n');
		ssize_t n;

		if (nl) {
			*nl = '\0';
			l->in_off = (size_t)(nl + 1 - l->in);
			return start;
		}
		l->in_len -= l->in_off;
		memmove(l->in, start, l->in_len);
		l->in[l->in_len] = '\0';
		l->in_off = 0;
		if (l->in_len == SHOAL_ENGINE_MSG_MAX) {
			disconnect(l, "line over the protocol limit");
			return NULL;
		}
		n = recv(l->fd, l->in + l->in_len,
			 SHOAL_ENGINE_MSG_MAX - l->in_len, MSG_DONTWAIT);
		if (n == 0) {
			disconnect(l, "closed by the daemon");
			return NULL;
		}
		if (n < 0) {
			if (errno != EAGAIN && errno != EINTR)
				disconnect(l, strerror(errno));
			return NULL;
		}
		l->in_len += (size_t)n;
		l->in[l->in_len] = '\0';
	}
	return NULL;
}
