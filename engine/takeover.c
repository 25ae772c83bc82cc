/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Both sides of a handover (takeover.h). The running engine serves its
 * side from the main loop without blocking, but for the release itself;
 * the new engine's side blocks, since it has nothing else to do yet.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <rte_eal.h>

#include "log.h"
#include "nat/nat.h"
#include "takeover.h"

#define TK_MAGIC 0x53484b54u /* "SHKT" */
#define TK_CONNECT_MS 5000

enum tk_type {
	TK_HELLO = 1, /* new -> old */
	TK_READY,     /* old -> new: pid, EAL prefix in text */
	TK_HANDOVER,  /* new -> old: EAL is up, release */
	TK_RELEASED,  /* old -> new: stop/release times, tsc */
	TK_DONE,      /* new -> old: forwarding, the result */
	TK_FAIL,      /* either way: text says why */
	TK_MIRRORS,   /* old -> new: the kernel mirrors are gone */
};

struct tk_msg {
	uint32_t magic;
	uint32_t type;   /* enum tk_type */
	int32_t pid;     /* sender */
	uint32_t layout; /* sender's NAT_LAYOUT */
	uint64_t tsc;    /* RELEASED: the last forwarded packet */
	struct sh_upgrade_result r;
	char text[512];
};

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static int tk_send(int fd, enum tk_type type, const struct sh_upgrade_result *r,
		   uint64_t tsc, const char *text)
{
	struct tk_msg m = {
		.magic = TK_MAGIC, .type = type, .pid = getpid(),
		.layout = NAT_LAYOUT, .tsc = tsc,
	};

	if (r)
		m.r = *r;
	if (text)
		snprintf(m.text, sizeof(m.text), "%.*s", (int)sizeof(m.text) - 1,
			 text);
	return send(fd, &m, sizeof(m), MSG_NOSIGNAL) == (ssize_t)sizeof(m)
		       ? 0 : -errno;
}

/* One message: 1, 0 when none is there (non-blocking), -EPIPE when the
 * peer closed, -EPROTO when what came is not a message of ours. */
static int tk_recv(int fd, struct tk_msg *m)
{
	ssize_t n = recv(fd, m, sizeof(*m), MSG_DONTWAIT);

	if (n < 0)
		return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -errno;
	if (n == 0)
		return -EPIPE;
	if (n != (ssize_t)sizeof(*m) || m->magic != TK_MAGIC ||
	    m->type < TK_HELLO || m->type > TK_MIRRORS)
		return -EPROTO;
	m->text[sizeof(m->text) - 1] = '\0';
	m->r.binary[sizeof(m->r.binary) - 1] = '\0';
	return 1;
}

static int sock_addr(const char *path, struct sockaddr_un *sa)
{
	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sa->sun_path))
		return -ENAMETOOLONG;
	memcpy(sa->sun_path, path, strlen(path) + 1);
	return 0;
}

/* ---- the running engine's side ---- */

enum ho_phase { HO_IDLE, HO_TALKING, HO_RELEASED };

struct sh_handover {
	struct sh_handover_ops ops;
	int listen_fd, peer_fd;
	enum ho_phase phase;
	uint64_t deadline; /* ms; 0: no handover under way */
	pid_t child;       /* spawned new engine, 0: none */
	char binary[PATH_MAX];
	int err_fd;        /* its stderr, -1: none */
	char err_buf[1024];
	size_t err_len;
	char last_line[512];
	struct sh_upgrade_result mine; /* our part: times */
};

struct sh_handover *sh_handover_listen(const char *sock,
				       const struct sh_handover_ops *ops,
				       char *why, size_t len)
{
	struct sh_handover *h = calloc(1, sizeof(*h));
	struct sockaddr_un sa;

	if (!h || sock_addr(sock, &sa) < 0) {
		snprintf(why, len, "%s: %s", sock, h ? "path too long" : "no memory");
		free(h);
		return NULL;
	}
	h->ops = *ops;
	h->peer_fd = h->err_fd = -1;
	h->listen_fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK |
				       SOCK_CLOEXEC, 0);
	/* A socket left by a process that died is ours to replace: only
	 * the holder of the state file's lock gets here. */
	unlink(sock);
	if (h->listen_fd < 0 ||
	    bind(h->listen_fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    chmod(sock, 0600) < 0 || listen(h->listen_fd, 1) < 0) {
		snprintf(why, len, "%s: %s", sock, strerror(errno));
		if (h->listen_fd >= 0)
			close(h->listen_fd);
		free(h);
		return NULL;
	}
	return h;
}

unsigned sh_handover_fds(const struct sh_handover *h, int fds[2])
{
	unsigned n = 0;

	fds[n++] = h->peer_fd >= 0 ? h->peer_fd : h->listen_fd;
	if (h->err_fd >= 0)
		fds[n++] = h->err_fd;
	return n;
}

bool sh_handover_released(const struct sh_handover *h)
{
	return h->phase == HO_RELEASED;
}

/* Pass the new engine's stderr on to ours, keeping its last line. */
static void read_child_err(struct sh_handover *h)
{
	ssize_t n;

	while (h->err_fd >= 0) {
		char *nl;

		n = read(h->err_fd, h->err_buf + h->err_len,
			 sizeof(h->err_buf) - 1 - h->err_len);
		if (n <= 0) {
			if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
				close(h->err_fd);
				h->err_fd = -1;
			}
			break;
		}
		h->err_len += (size_t)n;
		h->err_buf[h->err_len] = '\0';
		while ((nl = strchr(h->err_buf, '\n')) ||
		       h->err_len == sizeof(h->err_buf) - 1) {
			size_t line = nl ? (size_t)(nl - h->err_buf) : h->err_len;

			h->err_buf[line] = '\0';
			fprintf(stderr, "[new engine %d] %s\n", (int)h->child,
				h->err_buf);
			if (line)
				snprintf(h->last_line, sizeof(h->last_line), "%.*s",
					 (int)sizeof(h->last_line) - 1, h->err_buf);
			line += nl != NULL;
			memmove(h->err_buf, h->err_buf + line, h->err_len - line);
			h->err_len -= line;
			h->err_buf[h->err_len] = '\0';
		}
	}
}

/* The handover is over: tell the engine, forget the peer. */
static void finish(struct sh_handover *h, int rc, const char *why,
		   const struct sh_upgrade_result *r)
{
	if (h->peer_fd >= 0)
		close(h->peer_fd);
	h->peer_fd = -1;
	if (rc < 0 && h->child > 0 && h->phase != HO_RELEASED) {
		/* It failed us; it must not come back later and take over. */
		kill(h->child, SIGKILL);
		waitpid(h->child, NULL, 0);
		h->child = 0;
	}
	h->deadline = 0;
	if (rc < 0)
		SH_LOG(ERR, ctl, "handover failed: %s\n", why);
	h->ops.finished(h->ops.arg, rc, why, r);
	if (h->phase != HO_RELEASED)
		h->phase = HO_IDLE;
}

/* Why the new engine went away: its exit status and last words. */
static void child_gone_reason(struct sh_handover *h, const char *what,
			      char *why, size_t len)
{
	int status = 0, i;
	pid_t got = 0;

	if (h->child <= 0) {
		snprintf(why, len, "the new engine %s", what);
		return;
	}
	/* Give it a moment to finish dying and to say why. */
	for (i = 0; i < 50 && got == 0; i++) {
		got = waitpid(h->child, &status, WNOHANG);
		if (got == 0)
			usleep(10 * 1000);
	}
	read_child_err(h);
	if (got == h->child) {
		h->child = 0;
		if (WIFEXITED(status))
			snprintf(why, len, "%.200s exited with status %d%s%.300s",
				 h->binary, WEXITSTATUS(status),
				 h->last_line[0] ? ": " : "", h->last_line);
		else
			snprintf(why, len, "%.200s killed by signal %d%s%.300s", h->binary,
				 WTERMSIG(status), h->last_line[0] ? ": " : "",
				 h->last_line);
		return;
	}
	snprintf(why, len, "%.200s %s%s%.300s", h->binary, what,
		 h->last_line[0] ? ": " : "", h->last_line);
}

/* @environ with SH_HANDOVER_STDERR_ENV=3 in front (an older value is
 * shadowed: getenv() finds the first), NULL-terminated, into @out. */
static char **spawn_env(char **out, size_t max)
{
	static char var[] = SH_HANDOVER_STDERR_ENV "=3";
	extern char **environ;
	size_t n = 0;

	out[n++] = var;
	for (char **e = environ; *e && n < max - 1; e++)
		out[n++] = *e;
	out[n] = NULL;
	return out;
}

int sh_handover_spawn(struct sh_handover *h, char *const argv[], char *why,
		      size_t len)
{
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	char *envp[512];
	sigset_t none, dfl;
	int pfd[2], ret;
	pid_t pid;

	if (h->deadline || h->phase != HO_IDLE) {
		snprintf(why, len, "a handover is already under way");
		return -EBUSY;
	}
	if (access(argv[0], X_OK) < 0) {
		snprintf(why, len, "%s: %s", argv[0], strerror(errno));
		return -errno;
	}
	if (pipe2(pfd, O_CLOEXEC) < 0) {
		snprintf(why, len, "pipe: %s", strerror(errno));
		return -errno;
	}
	/*
	 * posix_spawn, not fork: glibc's shares our memory until the exec
	 * (CLONE_VM | CLONE_VFORK), where a fork would copy the page tables
	 * of a gigabyte of DPDK memory and make every page the workers write
	 * copy-on-write until the child execs: a stall in forwarding.
	 * The new engine's stderr is a pipe to us (its last words become the
	 * reason if it fails); our own stderr goes with it as descriptor 3,
	 * to take over once it forwards (SH_HANDOVER_STDERR_ENV), since the
	 * pipe ends when we exit. Nothing else of ours may live on in it: an
	 * inherited TAP or packet socket would keep our ports open after we
	 * close them, and DPDK opens many descriptors without CLOEXEC.
	 */
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, STDERR_FILENO, 3);
	posix_spawn_file_actions_adddup2(&fa, pfd[1], STDERR_FILENO);
	posix_spawn_file_actions_addclosefrom_np(&fa, 4);
	posix_spawnattr_init(&attr);
	sigemptyset(&none);
	sigemptyset(&dfl);
	sigaddset(&dfl, SIGHUP);
	sigaddset(&dfl, SIGINT);
	sigaddset(&dfl, SIGTERM);
	sigaddset(&dfl, SIGPIPE);
	posix_spawnattr_setsigmask(&attr, &none);
	posix_spawnattr_setsigdefault(&attr, &dfl);
	posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK |
					POSIX_SPAWN_SETSIGDEF);
	ret = posix_spawn(&pid, argv[0], &fa, &attr, argv,
			  spawn_env(envp, sizeof(envp) / sizeof(envp[0])));
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&attr);
	close(pfd[1]);
	if (ret != 0) {
		snprintf(why, len, "cannot run %.200s: %s", argv[0], strerror(ret));
		close(pfd[0]);
		return -ret;
	}
	fcntl(pfd[0], F_SETFL, O_NONBLOCK);
	h->child = pid;
	h->err_fd = pfd[0];
	h->err_len = 0;
	h->last_line[0] = '\0';
	snprintf(h->binary, sizeof(h->binary), "%s", argv[0]);
	h->deadline = now_ms() + SH_TAKEOVER_TIMEOUT_MS;
	SH_LOG(NOTICE, ctl, "handover: started %s as pid %d\n", argv[0], (int)pid);
	return 0;
}

void sh_takeover_own_stderr(void)
{
	const char *v = getenv(SH_HANDOVER_STDERR_ENV);
	int fd = v ? atoi(v) : -1;

	if (fd <= STDERR_FILENO || fcntl(fd, F_GETFD) < 0)
		return;
	fflush(stderr);
	dup2(fd, STDERR_FILENO);
	close(fd);
	unsetenv(SH_HANDOVER_STDERR_ENV);
}

static void on_message(struct sh_handover *h, const struct tk_msg *m)
{
	char why[600];
	struct sh_upgrade_result r;
	uint64_t tsc = 0;

	switch (m->type) {
	case TK_HELLO:
		snprintf(why, sizeof(why), "%s", rte_eal_get_runtime_dir());
		SH_LOG(NOTICE, ctl, "handover: pid %d asks to take over\n", m->pid);
		tk_send(h->peer_fd, TK_READY, NULL, 0,
			strrchr(why, '/') ? strrchr(why, '/') + 1 : why);
		h->phase = HO_TALKING;
		return;
	case TK_HANDOVER:
		memset(&h->mine, 0, sizeof(h->mine));
		if (h->ops.release(h->ops.arg, &h->mine.stop_ms,
				   &h->mine.release_ms, &tsc, why,
				   sizeof(why)) < 0) {
			tk_send(h->peer_fd, TK_FAIL, NULL, 0, why);
			finish(h, -EIO, why, NULL);
			return;
		}
		h->phase = HO_RELEASED;
		tk_send(h->peer_fd, TK_RELEASED, &h->mine, tsc, NULL);
		h->ops.release_mirrors(h->ops.arg);
		tk_send(h->peer_fd, TK_MIRRORS, NULL, 0, NULL);
		return;
	case TK_DONE:
		r = m->r;
		r.old_pid = getpid();
		r.new_pid = m->pid;
		r.stop_ms = h->mine.stop_ms;
		r.release_ms = h->mine.release_ms;
		if (!r.binary[0])
			snprintf(r.binary, sizeof(r.binary), "%s", h->binary);
		finish(h, 0, "", &r);
		return;
	case TK_FAIL:
		snprintf(why, sizeof(why), "the new engine (pid %d) refused: %s",
			 m->pid, m->text);
		finish(h, -ECANCELED, why, NULL);
		return;
	default:
		finish(h, -EPROTO, "the new engine spoke out of turn", NULL);
	}
}

void sh_handover_service(struct sh_handover *h)
{
	char why[700];
	struct tk_msg m;
	int ret;

	read_child_err(h);
	if (h->peer_fd < 0) {
		int fd = accept4(h->listen_fd, NULL, NULL,
				 SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd >= 0 && h->phase == HO_RELEASED) {
			close(fd); /* nothing left to hand over */
		} else if (fd >= 0) {
			h->peer_fd = fd;
			if (!h->deadline)
				h->deadline = now_ms() + SH_TAKEOVER_TIMEOUT_MS;
		}
	}
	while (h->peer_fd >= 0 && (ret = tk_recv(h->peer_fd, &m)) != 0) {
		if (ret < 0) {
			child_gone_reason(h, h->phase == HO_RELEASED
					     ? "went away after we released the "
					       "ports" : "closed the handover",
					  why, sizeof(why));
			finish(h, ret == -EPROTO ? -EPROTO : -EPIPE, why, NULL);
			return;
		}
		on_message(h, &m);
	}
	if (h->child > 0 && h->peer_fd < 0 && h->deadline) {
		int status;

		if (waitpid(h->child, &status, WNOHANG) == h->child) {
			read_child_err(h);
			snprintf(why, sizeof(why), "%.200s exited with status %d "
				 "before the handover%s%.300s", h->binary,
				 WIFEXITED(status) ? WEXITSTATUS(status)
						   : 128 + WTERMSIG(status),
				 h->last_line[0] ? ": " : "", h->last_line);
			h->child = 0;
			finish(h, -ECHILD, why, NULL);
			return;
		}
	}
	if (h->deadline && now_ms() > h->deadline) {
		snprintf(why, sizeof(why), "no handover within %u ms",
			 SH_TAKEOVER_TIMEOUT_MS);
		finish(h, -ETIMEDOUT, why, NULL);
	}
}

void sh_handover_close(struct sh_handover *h)
{
	struct sockaddr_un sa;
	socklen_t sl = sizeof(sa);

	if (!h)
		return;
	/* Remove the socket only if it is still ours: after a handover the
	 * path is the new engine's. */
	if (h->phase != HO_RELEASED &&
	    getsockname(h->listen_fd, (struct sockaddr *)&sa, &sl) == 0)
		unlink(sa.sun_path);
	close(h->listen_fd);
	if (h->peer_fd >= 0)
		close(h->peer_fd);
	if (h->err_fd >= 0)
		close(h->err_fd);
	free(h);
}

/* ---- the new engine's side ---- */

struct sh_takeover {
	int fd;
};

/* Wait for one message of @type, up to @ms. */
static int wait_msg(int fd, enum tk_type type, struct tk_msg *m, unsigned ms,
		    char *why, size_t len)
{
	uint64_t end = now_ms() + ms;
	int ret;

	for (;;) {
		ret = tk_recv(fd, m);
		if (ret > 0 && m->type == (uint32_t)type)
			return 0;
		if (ret > 0 && m->type == TK_FAIL) {
			snprintf(why, len, "the running engine refused: %s", m->text);
			return -ECANCELED;
		}
		if (ret < 0 || ret > 0) {
			snprintf(why, len, "the running engine %s",
				 ret == -EPIPE ? "closed the handover"
					       : "answered out of turn");
			return ret < 0 ? ret : -EPROTO;
		}
		if (now_ms() > end) {
			snprintf(why, len, "no answer from the running engine "
				 "within %u ms", ms);
			return -ETIMEDOUT;
		}
		usleep(1000);
	}
}

struct sh_takeover *sh_takeover_connect(const char *sock, int *old_pid,
					char *prefix, size_t prefix_len,
					char *why, size_t len)
{
	struct sh_takeover *t = calloc(1, sizeof(*t));
	struct sockaddr_un sa;
	struct tk_msg m;

	if (!t) {
		snprintf(why, len, "no memory");
		return NULL;
	}
	t->fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (t->fd < 0 || sock_addr(sock, &sa) < 0 ||
	    connect(t->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		snprintf(why, len, "%s: %s (is an engine running with this "
			 "state file?)", sock, strerror(errno));
		goto fail;
	}
	if (tk_send(t->fd, TK_HELLO, NULL, 0, NULL) < 0 ||
	    wait_msg(t->fd, TK_READY, &m, TK_CONNECT_MS, why, len) < 0)
		goto fail;
	*old_pid = m.pid;
	snprintf(prefix, prefix_len, "%s", m.text);
	return t;
fail:
	if (t->fd >= 0)
		close(t->fd);
	free(t);
	return NULL;
}

int sh_takeover_handover(struct sh_takeover *t, struct sh_upgrade_result *r,
			 uint64_t *last_tx_tsc, char *why, size_t len)
{
	struct tk_msg m;
	int ret;

	ret = tk_send(t->fd, TK_HANDOVER, NULL, 0, NULL);
	if (ret < 0) {
		snprintf(why, len, "handover: %s", strerror(-ret));
		return ret;
	}
	ret = wait_msg(t->fd, TK_RELEASED, &m, SH_TAKEOVER_TIMEOUT_MS, why, len);
	if (ret < 0)
		return ret;
	r->old_pid = m.pid;
	r->stop_ms = m.r.stop_ms;
	r->release_ms = m.r.release_ms;
	*last_tx_tsc = m.tsc;
	return 0;
}

int sh_takeover_wait_mirrors(struct sh_takeover *t, char *why, size_t len)
{
	struct tk_msg m;

	return wait_msg(t->fd, TK_MIRRORS, &m, TK_CONNECT_MS, why, len);
}

void sh_takeover_done(struct sh_takeover *t, const struct sh_upgrade_result *r)
{
	if (!t)
		return;
	tk_send(t->fd, TK_DONE, r, 0, NULL);
	close(t->fd);
	free(t);
}

void sh_takeover_fail(struct sh_takeover *t, const char *why)
{
	if (!t)
		return;
	tk_send(t->fd, TK_FAIL, NULL, 0, why);
	close(t->fd);
	free(t);
}
