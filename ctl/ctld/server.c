/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The socket side: one listening Unix socket, at most SHOAL_CONN_MAX
 * connections, all non-blocking on one level-triggered epoll of its own
 * (server_fd(), which core.c's loop watches). The transport only frames:
 * lines (at most SHOAL_MSG_MAX bytes with the newline; the subscribed
 * engine may send up to ENGINE_MSG_MAX, its flows replies can be large)
 * go up in order through ops.line, a connection's end through ops.closed.
 * Output is buffered per connection up to OUT_MAX; a reader that lets it
 * overflow is dropped, so a slow client never blocks the loop.
 *
 * Each connection's role (proto.h "Roles": what it may call) is fixed at
 * accept from its SO_PEERCRED; rpc.c reads it with conn_role().
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "ctld.h"
#include "server.h"

#define ENGINE_MSG_MAX (16u << 20)
#define OUT_MAX (16u << 20)

struct conn {
	struct ctld *d;
	int fd;
	uint64_t serial;
	char *in;
	size_t in_len, in_cap, in_max;
	char *out;
	size_t out_off, out_len, out_cap;
	int64_t last_rx_ms;
	struct ucred peer; /* SO_PEERCRED at accept */
	unsigned role;     /* CTLD_MAY_*, from peer */
	uint32_t events; /* registered with epoll */
	bool waiting; /* owed a long answer: not idle (conn_set_waiting) */
	bool closing; /* close once the output is flushed */
	bool dead;    /* reaped at the end of the loop iteration */
};

struct server {
	struct server_ops ops;
	int lfd, epfd;
	gid_t gid;         /* [ctl] group */
	bool has_readers;
	gid_t readers_gid; /* [ctl] readers */
	uid_t engine_uid;  /* [ctl] engine_user */
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	struct conn *conns[SHOAL_CONN_MAX];
	uint64_t next_serial;
};

uint64_t conn_serial(const struct conn *c)
{
	return c->serial;
}

const struct ucred *conn_peer(const struct conn *c)
{
	return &c->peer;
}

unsigned conn_role(const struct conn *c)
{
	return c->role;
}

size_t conn_unsent(const struct conn *c)
{
	return c->out_len - c->out_off;
}

struct conn *conn_find(struct ctld *d, uint64_t serial)
{
	for (int i = 0; serial && i < SHOAL_CONN_MAX; i++) {
		struct conn *c = d->srv->conns[i];

		if (c && c->serial == serial && !c->dead)
			return c;
	}
	return NULL;
}

void conn_set_engine(struct conn *c)
{
	c->in_max = ENGINE_MSG_MAX;
}

void conn_set_waiting(struct conn *c, bool waiting)
{
	c->waiting = waiting;
}

void conn_close(struct conn *c)
{
	c->dead = true;
}

/* Input while open, output while some is queued. A closing connection
 * stops reading: level-triggered EOF or junk would otherwise spin. */
static void update_events(struct conn *c)
{
	uint32_t want = (c->closing ? 0 : EPOLLIN) |
			(c->out_len > c->out_off ? EPOLLOUT : 0);
	struct epoll_event ev = { .events = want, .data.ptr = c };

	if (!c->dead && want != c->events &&
	    !epoll_ctl(c->d->srv->epfd, EPOLL_CTL_MOD, c->fd, &ev))
		c->events = want;
}

static void flush(struct conn *c)
{
	while (c->out_off < c->out_len) {
		ssize_t w = send(c->fd, c->out + c->out_off,
				 c->out_len - c->out_off, MSG_NOSIGNAL);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN)
				c->dead = true;
			break;
		}
		c->out_off += (size_t)w;
	}
	if (c->out_off == c->out_len) {
		c->out_off = c->out_len = 0;
		if (c->closing)
			c->dead = true;
	}
	update_events(c);
}

/* Queue @msg as one line and try to send it. -ENOBUFS (and the
 * connection dropped) when the output buffer would pass OUT_MAX. */
int conn_send(struct conn *c, json_t *msg)
{
	char *s;
	size_t n;

	if (!msg)
		return -ENOMEM;
	s = json_dumps(msg, JSON_COMPACT);
	json_decref(msg);
	if (!s)
		return -ENOMEM;
	n = strlen(s);
	if (c->dead)
		goto out;
	if (c->out_off) {
		memmove(c->out, c->out + c->out_off, c->out_len - c->out_off);
		c->out_len -= c->out_off;
		c->out_off = 0;
	}
	if (c->out_len + n + 1 > OUT_MAX) {
		c->dead = true;
		free(s);
		return -ENOBUFS;
	}
	if (c->out_len + n + 1 > c->out_cap) {
		size_t cap = c->out_cap ? c->out_cap : 4096;
		char *p;

		while (cap < c->out_len + n + 1)
			cap *= 2;
		p = realloc(c->out, cap);
		if (!p) {
			c->dead = true;
			free(s);
			return -ENOMEM;
		}
		c->out = p;
		c->out_cap = cap;
	}
	memcpy(c->out + c->out_len, s, n);
	c->out[c->out_len + n] = '\n';
	c->out_len += n + 1;
	flush(c);
out:
	free(s);
	return 0;
}

/* For refusals before a conn exists: one best-effort line, then close. */
static void refuse(int fd, const char *reason, const char *message)
{
	json_t *e = json_error(NULL, SHOAL_ERR_REFUSED, reason, message);
	char *s = e ? json_dumps(e, JSON_COMPACT) : NULL;

	if (s) {
		size_t n = strlen(s);

		s[n] = '\n'; /* json_dumps leaves room for NUL only: */
		if (send(fd, s, n + 1, MSG_NOSIGNAL | MSG_DONTWAIT) < 0)
			(void)0; /* best effort: the peer is being refused */
		s[n] = '\0';
	}
	free(s);
	json_decref(e);
	close(fd);
}

/* Is the peer in @group: the group as primary gid of the process or of
 * the user, or the user listed as a member of the group? */
static bool peer_in(gid_t group, const struct ucred *cr)
{
	struct passwd pw, *pwp = NULL;
	struct group gr, *grp = NULL;
	char pbuf[4096], gbuf[16384]; /* pw_name lives in pbuf */

	if (cr->gid == group)
		return true;
	if (getpwuid_r(cr->uid, &pw, pbuf, sizeof(pbuf), &pwp) || !pwp)
		return false;
	if (pw.pw_gid == group)
		return true;
	if (getgrgid_r(group, &gr, gbuf, sizeof(gbuf), &grp) || !grp)
		return false;
	for (char **m = gr.gr_mem; m && *m; m++)
		if (!strcmp(*m, pw.pw_name))
			return true;
	return false;
}

/* What the peer may call: root everything (admin: only root); [ctl]
 * engine_user read and be
 * the engine; the [ctl] group read and operate leases; the [ctl] readers
 * read. A peer in several gets the union; 0: none, refused. */
static unsigned peer_role(const struct server *srv, const struct ucred *cr)
{
	unsigned role = 0;

	if (cr->uid == 0)
		return CTLD_MAY_READ | CTLD_MAY_OPERATE | CTLD_MAY_ENGINE |
		       CTLD_MAY_ADMIN;
	if (cr->uid == srv->engine_uid)
		role |= CTLD_MAY_READ | CTLD_MAY_ENGINE;
	if (peer_in(srv->gid, cr))
		role |= CTLD_MAY_READ | CTLD_MAY_OPERATE;
	if (srv->has_readers && peer_in(srv->readers_gid, cr))
		role |= CTLD_MAY_READ;
	return role;
}

static void do_accept(struct ctld *d)
{
	struct server *srv = d->srv;
	struct epoll_event ev = { .events = EPOLLIN };
	struct ucred cr;
	socklen_t len = sizeof(cr);
	struct conn *c;
	unsigned role = 0;
	int fd, slot = -1;

	fd = accept4(srv->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (fd < 0)
		return;
	if (!getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &len))
		role = peer_role(srv, &cr);
	if (!role) {
		refuse(fd, SHOAL_R_PERMISSION, "peer is neither root nor in "
		       "the [ctl] group or readers, nor the engine_user");
		return;
	}
	for (int i = 0; i < SHOAL_CONN_MAX && slot < 0; i++)
		if (!srv->conns[i])
			slot = i;
	if (slot < 0) {
		refuse(fd, SHOAL_R_BUSY, "connection limit reached");
		return;
	}
	c = calloc(1, sizeof(*c));
	if (!c || !(c->in = malloc(4096))) {
		free(c);
		close(fd);
		return;
	}
	c->d = d;
	c->fd = fd;
	c->peer = cr;
	c->role = role;
	c->serial = ++srv->next_serial;
	c->in_cap = 4096;
	c->in_max = SHOAL_MSG_MAX;
	c->last_rx_ms = ctld_now_ms();
	c->events = EPOLLIN;
	ev.data.ptr = c;
	if (epoll_ctl(srv->epfd, EPOLL_CTL_ADD, fd, &ev)) {
		free(c->in);
		free(c);
		close(fd);
		return;
	}
	srv->conns[slot] = c;
}

static void too_large(struct conn *c)
{
	conn_send(c, json_error(NULL, SHOAL_ERR_INVALID_REQUEST,
				SHOAL_R_TOO_LARGE, "line longer than "
				"SHOAL_MSG_MAX bytes"));
	c->in_len = 0;
	c->closing = true;
	if (!c->out_len)
		c->dead = true;
	update_events(c);
}

/* Hand every complete line to rpc.c, in order; keep the partial rest. */
static void do_lines(struct conn *c)
{
	size_t start = 0;
	char *nl;

	while (!c->dead && !c->closing &&
	       (nl = memchr(c->in + start, '\n', c->in_len - start))) {
		size_t len = (size_t)(nl - (c->in + start));

		if (len + 1 > c->in_max) {
			too_large(c);
			return;
		}
		c->d->srv->ops.line(c->d, c, c->in + start, len);
		start += len + 1;
	}
	memmove(c->in, c->in + start, c->in_len - start);
	c->in_len -= start;
	if (c->in_len >= c->in_max && !c->closing)
		too_large(c);
}

/* One read; true when it took bytes (then there may be more). */
static bool do_read(struct conn *c)
{
	ssize_t r;

	if (c->in_len == c->in_cap) {
		size_t cap = c->in_cap * 2;
		char *p;

		if (cap > c->in_max)
			cap = c->in_max;
		p = realloc(c->in, cap);
		if (!p) {
			c->dead = true;
			return false;
		}
		c->in = p;
		c->in_cap = cap;
	}
	r = recv(c->fd, c->in + c->in_len, c->in_cap - c->in_len, 0);
	if (r < 0) {
		if (errno != EAGAIN && errno != EINTR)
			c->dead = true;
		return false;
	}
	if (r == 0) {
		/* EOF: answer what is complete, then go once flushed */
		do_lines(c);
		c->closing = true;
		if (!c->out_len)
			c->dead = true;
		update_events(c);
		return false;
	}
	c->last_rx_ms = ctld_now_ms();
	c->in_len += (size_t)r;
	do_lines(c);
	return true;
}

/* The peer closed: take the complete lines it left, then drop the
 * connection. Bounded: the socket holds what the peer wrote before it
 * closed, and do_read() stops at its end (EOF or the error). */
static void drain(struct conn *c)
{
	while (!c->dead && !c->closing && do_read(c))
		;
	c->dead = true;
}

void server_reap(struct ctld *d)
{
	for (int i = 0; i < SHOAL_CONN_MAX; i++) {
		struct conn *c = d->srv->conns[i];

		if (!c || !c->dead)
			continue;
		d->srv->conns[i] = NULL;
		d->srv->ops.closed(d, c->serial);
		epoll_ctl(d->srv->epfd, EPOLL_CTL_DEL, c->fd, NULL);
		close(c->fd);
		free(c->in);
		free(c->out);
		free(c);
	}
}

void server_expire(struct ctld *d, int64_t now_ms)
{
	for (int i = 0; i < SHOAL_CONN_MAX; i++) {
		struct conn *c = d->srv->conns[i];

		if (c && !c->waiting &&
		    now_ms - c->last_rx_ms >= SHOAL_IDLE_TIMEOUT_S * 1000LL)
			c->dead = true;
	}
}

int server_fd(const struct ctld *d)
{
	return d->srv->epfd;
}

/* Whatever is ready now: accepts, reads (lines go up), writes. Never
 * blocks. 0, or -errno if epoll itself fails. */
int server_dispatch(struct ctld *d)
{
	struct epoll_event evs[32];
	int n = epoll_wait(d->srv->epfd, evs, 32, 0);

	if (n < 0)
		return errno == EINTR ? 0 : -errno;
	for (int i = 0; i < n; i++) {
		struct conn *c = evs[i].data.ptr;

		if (!c) {
			do_accept(d);
			continue;
		}
		if (c->dead)
			continue;
		/* HUP or ERR: the peer is gone, but what it sent before it
		 * closed is still to be read (the old engine's answer to an
		 * upgrade is its last line); nobody reads replies now */
		if (evs[i].events & (EPOLLHUP | EPOLLERR))
			drain(c);
		else if (evs[i].events & EPOLLIN)
			do_read(c);
		if (!c->dead && (evs[i].events & EPOLLOUT))
			flush(c);
	}
	return 0;
}

/* Resolve [ctl] readers (a group, optional) and engine_user (a user):
 * -ENOENT naming the key when absent from the system. */
static int identities(struct server *srv, const struct sh_config *cfg,
		      char *err, size_t errlen)
{
	struct passwd pw, *pwp = NULL;
	struct group gr, *grp = NULL;
	char buf[16384];
	int rc;

	if (cfg->ctl_readers[0]) {
		rc = getgrnam_r(cfg->ctl_readers, &gr, buf, sizeof(buf), &grp);
		if (rc || !grp) {
			snprintf(err, errlen, "[ctl] readers = %s: no such "
				 "group", cfg->ctl_readers);
			return -ENOENT;
		}
		srv->has_readers = true;
		srv->readers_gid = gr.gr_gid;
	}
	rc = getpwnam_r(cfg->ctl_engine_user, &pw, buf, sizeof(buf), &pwp);
	if (rc || !pwp) {
		snprintf(err, errlen, "[ctl] engine_user = %s: no such user",
			 cfg->ctl_engine_user);
		return -ENOENT;
	}
	srv->engine_uid = pw.pw_uid;
	return 0;
}

/* The readers and a non-root engine_user reach the socket through ACL
 * entries (root and the group through its owner and group). */
static int grant(struct server *srv, const char *path, char *err,
		 size_t errlen)
{
	int rc = 0;

	if (srv->has_readers)
		rc = sockdir_grant(path, true, srv->readers_gid, "readers",
				   err, errlen);
	if (!rc && srv->engine_uid != 0)
		rc = sockdir_grant(path, false, srv->engine_uid,
				   "engine_user", err, errlen);
	return rc;
}

/*
 * Listen on [ctl] socket: the directory was checked by sockdir_prepare;
 * a stale socket file is removed unless a daemon answers on it. The
 * socket is created under umask 0177, then made 0660 root:GROUP, plus
 * ACL entries for [ctl] readers and a non-root engine_user.
 */
int server_open(struct ctld *d, const struct server_ops *ops, char *err,
		size_t errlen)
{
	struct server *srv = calloc(1, sizeof(*srv));
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = NULL };
	const char *path = d->cfg->ctl_sock_path;
	mode_t old;
	int rc;

	if (!srv)
		return -ENOMEM;
	srv->lfd = srv->epfd = -1;
	srv->ops = *ops;
	d->srv = srv;
	rc = sockdir_prepare(path, d->cfg->ctl_group, &srv->gid, err, errlen);
	if (!rc)
		rc = identities(srv, d->cfg, err, errlen);
	if (rc)
		return rc;
	if (strlen(path) >= sizeof(sa.sun_path)) {
		snprintf(err, errlen, "[ctl] socket: path too long");
		return -ENAMETOOLONG;
	}
	memcpy(sa.sun_path, path, strlen(path) + 1);
	memcpy(srv->path, path, strlen(path) + 1);
	srv->lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
			  0);
	if (srv->lfd < 0)
		goto fail;
	if (!connect(srv->lfd, (struct sockaddr *)&sa, sizeof(sa)) ||
	    errno == EAGAIN) {
		snprintf(err, errlen, "%s: another daemon is listening on it",
			 path);
		return -EADDRINUSE;
	}
	close(srv->lfd);
	srv->lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
			  0);
	if (srv->lfd < 0)
		goto fail;
	if (unlink(path) && errno != ENOENT)
		goto fail;
	old = umask(0177);
	rc = bind(srv->lfd, (struct sockaddr *)&sa, sizeof(sa));
	umask(old);
	if (rc || chown(path, 0, srv->gid) || chmod(path, 0660))
		goto fail;
	rc = grant(srv, path, err, errlen);
	if (rc) {
		unlink(path);
		return rc;
	}
	if (listen(srv->lfd, 128))
		goto fail;
	srv->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (srv->epfd < 0 || epoll_ctl(srv->epfd, EPOLL_CTL_ADD, srv->lfd, &ev))
		goto fail;
	return 0;
fail:
	rc = -errno;
	snprintf(err, errlen, "%s: %s", path, strerror(errno));
	return rc;
}

void server_close(struct ctld *d)
{
	struct server *srv = d->srv;

	if (!srv)
		return;
	for (int i = 0; i < SHOAL_CONN_MAX; i++)
		if (srv->conns[i])
			srv->conns[i]->dead = true;
	server_reap(d);
	if (srv->lfd >= 0) {
		close(srv->lfd);
		if (srv->epfd >= 0)
			unlink(srv->path);
	}
	if (srv->epfd >= 0)
		close(srv->epfd);
	free(srv);
	d->srv = NULL;
}
