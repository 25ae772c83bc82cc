/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * [ctl] metrics = ADDR:PORT: GET /metrics in the Prometheus text format
 * (docs/METRICS.md), served by libmicrohttpd on the daemon's own thread.
 * MHD runs without a thread of its own (MHD_USE_EPOLL): core.c polls its
 * epoll fd beside the control socket, waits no longer than
 * metrics_timeout() and calls metrics_run() after each wait, so the
 * access handler reads the daemon's state with no lock.
 *
 * Limits: METRICS_CONN_MAX connections, each closed after
 * METRICS_TIMEOUT_S idle, METRICS_REQ_MEM bytes for a request's headers;
 * a response of at most METRICS_MAX bytes (every worker and every lease
 * fits; a text that does not is refused with 500 rather than cut).
 * Only /metrics exists (404 elsewhere) and only GET and HEAD (405).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <microhttpd.h>

#include "ctld.h"

#define METRICS_CONN_MAX 8
#define METRICS_TIMEOUT_S 10
#define METRICS_REQ_MEM (32 * 1024)
/* Generous per worker (~60 series of ~100 bytes) and per lease (~7
 * series, one with a 63-byte holder, escaped: ~1 KiB at worst). */
#define METRICS_MAX (64 * 1024 + SHOAL_MAX_WORKERS * 8 * 1024 + \
		     SHOAL_MAX_LEASES * 1024)
#define METRICS_TYPE "text/plain; version=0.0.4; charset=utf-8"

struct metrics {
	struct MHD_Daemon *mhd;
	int epfd; /* MHD's epoll fd */
	struct prom_buf buf;
};

static struct ctl_lease leases[SHOAL_MAX_LEASES];
static struct prom_lease plist[SHOAL_MAX_LEASES];
static struct ctl_hold holds[CTLD_MAX_HOLDS];

/* What prom.c formats, from the lease rules and the engine's report;
 * 0 or -errno (the store could not be read). */
static int gather(struct ctld *d, struct prom_view *v)
{
	unsigned n, nh;
	int rc;

	rc = lease_list(d, leases, SHOAL_MAX_LEASES, &n);
	if (!rc)
		rc = lease_holds(d, holds, CTLD_MAX_HOLDS, &nh);
	if (rc)
		return rc;
	*v = (struct prom_view){
		.eng = &d->eng,
		.now_ms = ctld_now_ms(),
		.generation = d->generation,
		.leases = plist,
		.n_leases = n,
		.n_held = nh,
		.fleet = d->fleet != NULL,
		.fleet_owned = d->fleet ? d->fleet->n_owned : 0,
		.fleet_valid_ms = fleet_loop_valid_ms(d),
		.fleet_etcd_up = d->fleet && d->fleet->snap.etcd_up,
	};
	for (unsigned i = 0; i < n; i++) {
		plist[i] = (struct prom_lease){ .l = &leases[i] };
		plist[i].known = engine_lease_usage(d, &leases[i],
						    &plist[i].use);
		if (leases[i].draining)
			v->n_draining++;
		else
			v->n_active++;
	}
	return 0;
}

static enum MHD_Result reply(struct MHD_Connection *conn, unsigned status,
			     const char *text, size_t len, bool copy)
{
	struct MHD_Response *r;
	enum MHD_Result ret;

	r = MHD_create_response_from_buffer(len, (void *)text, copy ?
					    MHD_RESPMEM_MUST_COPY :
					    MHD_RESPMEM_PERSISTENT);
	if (!r)
		return MHD_NO;
	if (status == MHD_HTTP_METHOD_NOT_ALLOWED)
		MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, status ==
				MHD_HTTP_OK ? METRICS_TYPE :
				"text/plain; charset=utf-8");
	ret = MHD_queue_response(conn, status, r);
	MHD_destroy_response(r);
	return ret;
}

#define REPLY_CONST(c, st, s) reply(c, st, s, sizeof(s) - 1, false)

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn,
				  const char *url, const char *method,
				  const char *version, const char *upload,
				  size_t *upload_size, void **req_cls)
{
	struct ctld *d = cls;
	struct metrics *m = d->metrics;
	struct prom_view v;
	int rc;

	(void)version;
	(void)upload;
	(void)upload_size;
	(void)req_cls;
	if (strcmp(method, MHD_HTTP_METHOD_GET) &&
	    strcmp(method, MHD_HTTP_METHOD_HEAD))
		return REPLY_CONST(conn, MHD_HTTP_METHOD_NOT_ALLOWED,
				   "only GET\n");
	if (strcmp(url, "/metrics"))
		return REPLY_CONST(conn, MHD_HTTP_NOT_FOUND,
				   "not found: try /metrics\n");
	rc = gather(d, &v);
	if (rc) {
		ctld_log(CTLD_WARN, "metrics: cannot read the leases: %s",
			 strerror(-rc));
		return REPLY_CONST(conn, MHD_HTTP_INTERNAL_SERVER_ERROR,
				   "cannot read the leases\n");
	}
	prom_format(&v, &m->buf);
	if (m->buf.full) {
		ctld_log(CTLD_WARN, "metrics: text over %d bytes", METRICS_MAX);
		return REPLY_CONST(conn, MHD_HTTP_INTERNAL_SERVER_ERROR,
				   "metrics too large\n");
	}
	return reply(conn, MHD_HTTP_OK, m->buf.p, m->buf.len, true);
}

/* A non-blocking listening socket on @ip:@port (host order), or -errno. */
static int listen_on(uint32_t ip, uint16_t port)
{
	struct sockaddr_in sa = {
		.sin_family = AF_INET,
		.sin_addr.s_addr = htonl(ip),
		.sin_port = htons(port),
	};
	int fd, one = 1, rc;

	fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
	    bind(fd, (struct sockaddr *)&sa, sizeof(sa)) ||
	    listen(fd, METRICS_CONN_MAX)) {
		rc = -errno;
		close(fd);
		return rc;
	}
	return fd;
}

int metrics_open(struct ctld *d, char *err, size_t errlen)
{
	const struct sh_config *cfg = d->cfg;
	const union MHD_DaemonInfo *info = NULL;
	struct metrics *m;
	char a[16];
	int fd, rc;

	if (!cfg->ctl_metrics_port)
		return 0;
	sh_fmt_ipv4(cfg->ctl_metrics_ip, a);
	m = calloc(1, sizeof(*m));
	if (m)
		m->buf = (struct prom_buf){ .p = malloc(METRICS_MAX),
					    .cap = METRICS_MAX };
	if (!m || !m->buf.p) {
		snprintf(err, errlen, "[ctl] metrics: out of memory");
		rc = -ENOMEM;
		goto fail;
	}
	fd = listen_on(cfg->ctl_metrics_ip, cfg->ctl_metrics_port);
	if (fd < 0) {
		snprintf(err, errlen, "[ctl] metrics %s:%u: cannot listen: %s",
			 a, cfg->ctl_metrics_port, strerror(-fd));
		rc = fd;
		goto fail;
	}
	/* MHD owns @fd from here, and closes it when it stops. */
	m->mhd = MHD_start_daemon(MHD_USE_EPOLL, 0, NULL, NULL, on_request, d,
		MHD_OPTION_LISTEN_SOCKET, fd,
		MHD_OPTION_CONNECTION_LIMIT, (unsigned)METRICS_CONN_MAX,
		MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)METRICS_TIMEOUT_S,
		MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)METRICS_REQ_MEM,
		MHD_OPTION_END);
	if (!m->mhd)
		close(fd);
	else
		info = MHD_get_daemon_info(m->mhd, MHD_DAEMON_INFO_EPOLL_FD);
	if (!info) {
		snprintf(err, errlen, "[ctl] metrics %s:%u: cannot start the "
			 "HTTP server", a, cfg->ctl_metrics_port);
		rc = -EIO;
		goto fail;
	}
	m->epfd = info->epoll_fd;
	d->metrics = m;
	ctld_log(CTLD_INFO, "metrics on http://%s:%u/metrics", a,
		 cfg->ctl_metrics_port);
	return 0;
fail:
	if (m && m->mhd)
		MHD_stop_daemon(m->mhd);
	if (m)
		free(m->buf.p);
	free(m);
	return rc;
}

int metrics_fd(const struct ctld *d)
{
	return d->metrics ? d->metrics->epfd : -1;
}

int metrics_timeout(const struct ctld *d, int max_ms)
{
	MHD_UNSIGNED_LONG_LONG t;

	if (!d->metrics || MHD_get_timeout(d->metrics->mhd, &t) != MHD_YES ||
	    t >= (MHD_UNSIGNED_LONG_LONG)max_ms)
		return max_ms;
	return (int)t;
}

void metrics_run(struct ctld *d)
{
	if (d->metrics)
		MHD_run(d->metrics->mhd);
}

void metrics_close(struct ctld *d)
{
	struct metrics *m = d->metrics;

	if (!m)
		return;
	MHD_stop_daemon(m->mhd);
	free(m->buf.p);
	free(m);
	d->metrics = NULL;
}
