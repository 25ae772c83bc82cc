/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * shoal-engine: the soft-unicast egress packet engine.
 *
 *   shoal-engine [EAL args] -- -c FILE
 *   shoal-engine -c FILE            (EAL args from [engine] eal)
 *
 *   shoal-engine --takeover ...    (replace the running engine, takeover.h)
 *
 * main() is the script: options and configuration (before EAL, so a bad
 * file stops start-up with file:line and no DPDK noise), the state file
 * (state.h; taking over, meet the running engine), EAL, lease set, (taking
 * over: the switch), the tables adopted or made, ports, kernel mirrors and
 * netlink, workers, READY=1 to the service manager; then the main lcore
 * serves netlink, the daemon link, the handover socket and the watchdog,
 * reloading on SIGHUP (reload.h), until SIGINT/SIGTERM or a handover;
 * STOPPING=1, stop, sync the tables, print the final counters, clean up.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_version.h>
#include <rte_ethdev.h>
#include <rte_launch.h>
#include <rte_lcore.h>
#include <rte_malloc.h>
#include <rte_pdump.h>

#include "config.h"
#include "ctl_client.h"
#include "handoff.h"
#include "hugepages.h"
#include "linux.h"
#include "log.h"
#include "notify.h"
#include "port.h"
#include "reload.h"
#include "state.h"
#include "stats.h"
#include "takeover.h"
#include "worker.h"

/* Without EAL args: hugepages when the system has as much free as the
 * 4 KiB-page fallback takes (default_eal()). */
#define SH_NOHUGE_MB 1024
#define SH_DEFAULT_EAL "-l 0-1 --no-pci --file-prefix shoal"
#define SH_DEFAULT_EAL_NOHUGE \
	"-l 0-1 --no-huge -m " RTE_STR(SH_NOHUGE_MB) " --no-pci --file-prefix shoal"
#define SH_MAX_EAL_ARGS 64

volatile bool force_quit;     /* the workers stop */
static volatile bool main_quit; /* the main loop stops */

static struct sh_config cfg;
static struct nat_lease_set leases;
static struct sh_worker workers[SH_CFG_MAX_WORKERS];
static struct rte_rcu_qsbr *qsbr;
static struct nat_steer steer[SH_SIDES]; /* read by every worker */
static struct sh_handoff *handoff;
static struct sh_reload reload;
static volatile bool reload_requested; /* SIGHUP */
static struct sh_notify notify;

/* Restart and handover (state.h, takeover.h). */
static struct sh_state state = { .fd = -1 };
static enum sh_state_found found;
static bool takeover;                /* --takeover */
static struct sh_takeover *tk;       /* ours, while taking over */
static struct sh_handover *handover; /* the running engine's side */
static struct sh_upgrade_result upgrade; /* this start's handover */
static struct nat_adopt_stats adopted;   /* summed over the workers */
static uint64_t prev_last_tx;  /* TSC of the previous process's last TX */
static bool gap_pending;       /* report the gap at our first TX */
static uint64_t launched_tsc;
static double data_ports_ms; /* of upgrade.ports_ms: the rest is mirrors */
static uint64_t neigh_saved_gen; /* FIB generation whose neighbours are saved */
static struct sh_port ports[SH_SIDES];
static struct sh_linux *lx;
static struct sh_ctl *ctl;
static int exit_code;
static int saved_argc;
static char **saved_argv;
static char self_exe[PATH_MAX];

/* Time exceeded replies per second, shared out between workers (Linux's
 * icmp_msgs_per_sec default). */
#define SH_ICMP_RATE 1000

static void signal_handler(int sig)
{
	if (sig == SIGHUP) {
		reload_requested = true;
	} else {
		force_quit = true;
		main_quit = true;
	}
}

static double ms_since(const struct timespec *t0)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)(t.tv_sec - t0->tv_sec) * 1e3 +
	       (double)(t.tv_nsec - t0->tv_nsec) / 1e6;
}

/* shoal-ctld's engine.reload (ctl_client.h). */
static int ctl_reload(void *arg, char *err, size_t errlen)
{
	return sh_reload(arg, err, errlen);
}

static void usage(FILE *f)
{
	fprintf(f, "usage: shoal-engine [EAL args] -- -c FILE\n"
		   "       shoal-engine -c FILE   (EAL args from [engine] eal)\n"
		   "       shoal-engine --check -c FILE   (validate the file, exit)\n"
		   "       shoal-engine --takeover ...    (replace the running engine,\n"
		   "                                       keeping its flows)\n"
		   "       shoal-engine --version\n");
}

/*
 * The EAL arguments when neither the command line nor [engine] eal gives
 * any. Hugepages, if a mounted hugetlbfs has at least SH_NOHUGE_MB free:
 * EAL then takes pages as it needs them, and dpdk-dumpcap and
 * dpdk-proc-info can attach (a process on 4 KiB pages has no memory they
 * can map). Else 4 KiB pages, saying why.
 */
static const char *default_eal(void)
{
	uint64_t bytes;
	int ret = sh_hugepages_free("", &bytes);

	if (ret == 0 && bytes >= (uint64_t)SH_NOHUGE_MB << 20)
		return SH_DEFAULT_EAL;
	printf("shoal-engine: %" PRIu64 " MiB of hugepages free (%s), fewer than "
	       "%u: running on 4 KiB pages, --no-huge -m %u\n",
	       ret == 0 ? bytes >> 20 : 0,
	       ret == 0 ? "in mounted hugetlbfs" : strerror(-ret), SH_NOHUGE_MB,
	       SH_NOHUGE_MB);
	fflush(stdout); /* before EAL's lines */
	return SH_DEFAULT_EAL_NOHUGE;
}

/* Application options after "--" (or all of argv without it). */
static int parse_app_args(int argc, char **argv, const char **conf,
			  bool *check)
{
	static const struct option longopts[] = {
		{ "check", no_argument, NULL, 'k' },
		{ "takeover", no_argument, NULL, 'T' },
		{ "version", no_argument, NULL, 'V' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int opt;

	optind = 1;
	while ((opt = getopt_long(argc, argv, "c:h", longopts, NULL)) != -1) {
		switch (opt) {
		case 'c':
			*conf = optarg;
			break;
		case 'k':
			*check = true;
			break;
		case 'T':
			takeover = true;
			break;
		case 'V':
			printf("shoal-engine %s (control protocol %d, %s)\n",
			       SHOAL_VERSION, SHOAL_PROTO_VERSION, rte_version());
			exit(0);
		case 'h':
			usage(stdout);
			exit(0);
		default:
			return -EINVAL;
		}
	}
	if (optind != argc || !*conf)
		return -EINVAL;
	return 0;
}

/* Split @s on whitespace into @argv (after argv[0]); @buf keeps the text. */
static int split_eal(char *buf, char **argv, int max)
{
	int n = 1;
	char *tok, *save = NULL;

	for (tok = strtok_r(buf, " \t", &save); tok;
	     tok = strtok_r(NULL, " \t", &save)) {
		if (n == max - 1)
			return -E2BIG;
		argv[n++] = tok;
	}
	argv[n] = NULL;
	return n;
}

static void *nat_zalloc(size_t size, void *ctx)
{
	return rte_zmalloc_socket("nat", size, 64, (int)(intptr_t)ctx);
}

static void nat_free(void *p, void *ctx)
{
	(void)ctx;
	rte_free(p);
}

static int setup_port(struct sh_port *p, const struct sh_port_cfg *pc,
		      unsigned n_workers, enum sh_rss rss, struct nat_steer *st)
{
	int ret;

	ret = sh_port_attach(pc->device, &p->port_id);
	if (ret < 0)
		return ret;
	ret = sh_port_start(p->port_id, n_workers, cfg.mbufs,
			    (uint16_t)pc->mtu, rss, st);
	if (ret == -EINVAL)
		fprintf(stderr, "shoal-engine: %s: %u queue pair(s), workers = %u "
			"needs one per worker\n", pc->device,
			sh_port_max_queues(p->port_id), n_workers);
	if (ret < 0)
		return ret;
	rte_eth_macaddr_get(p->port_id, &p->mac);
	p->mtu = (uint16_t)pc->mtu;
	return 0;
}

static int setup_workers(void)
{
	size_t qsz = rte_rcu_qsbr_get_memsize(cfg.workers);
	struct sh_tunables tn;
	struct nat_params np;
	unsigned i = 0, lcore;
	uint32_t clock_base = 0;
	int peer_bit = -1;

	sh_tunables_from(&cfg, cfg.workers, &tn);
	np = tn.nat;
	np.n_workers = cfg.workers;
	np.max_flows = cfg.nat.max_flows;
	np.zalloc = nat_zalloc;
	np.free = nat_free;

	/* Per-boot secret for flow hashing and RFC 6056 port offsets. */
	if (getrandom(np.secret, sizeof(np.secret), 0) != sizeof(np.secret))
		return -errno;
	qsbr = rte_zmalloc("sh_qsbr", qsz, RTE_CACHE_LINE_SIZE);
	if (!qsbr || rte_rcu_qsbr_init(qsbr, cfg.workers) < 0)
		return -ENOMEM;
	np.steer = &steer[SH_OUTSIDE];
	if (found == SH_STATE_ADOPTABLE) {
		uint32_t expect, raw = (uint32_t)(rte_rdtsc() /
						  (rte_get_tsc_hz() / 1000));

		/* The flows' ages go on from the previous process's clock. */
		if (sh_state_clock(&state, &expect))
			clock_base = expect - raw;
	}
	if (cfg.fleet.enabled) {
		/* Marks what a fleet peer carried here (worker.h peer_flag). */
		static const struct rte_mbuf_dynflag from_peer = {
			.name = "shoal_fleet_from_peer",
		};

		peer_bit = rte_mbuf_dynflag_register(&from_peer);
		if (peer_bit < 0)
			return -rte_errno;
	}
	if (cfg.workers > 1) {
		handoff = sh_handoff_create(cfg.workers,
					    sh_handoff_ring_size(cfg.workers),
					    (int)rte_socket_id());
		if (!handoff)
			return -rte_errno;
	}
	RTE_LCORE_FOREACH_WORKER(lcore) {
		unsigned s;

		struct sh_worker *wk = &workers[i];

		if (i == cfg.workers)
			break;
		np.worker_id = i;
		np.mem_ctx = (void *)(intptr_t)rte_lcore_to_socket_id(lcore);
		np.seg = state.hdr ? sh_state_seg(&state, i) : NULL;
		if (found == SH_STATE_ADOPTABLE) {
			struct nat_adopt_stats st;

			wk->nat = nat_worker_adopt(&np, &st);
			adopted.rebuilt |= st.rebuilt;
			adopted.flows += st.flows;
			adopted.pseudo += st.pseudo;
			adopted.torn += st.torn;
			adopted.duplicate += st.duplicate;
			adopted.unbound += st.unbound;
			adopted.no_slot += st.no_slot;
		} else {
			wk->nat = nat_worker_create(&np);
		}
		if (!wk->nat)
			return -errno;
		wk->clock_base = clock_base;
		wk->peer_flag = peer_bit < 0 ? 0 : 1ull << peer_bit;
		wk->lcore = lcore;
		wk->queue = (uint16_t)i;
		wk->n_workers = (uint16_t)cfg.workers;
		wk->steer[SH_INSIDE] = &steer[SH_INSIDE];
		wk->steer[SH_OUTSIDE] = &steer[SH_OUTSIDE];
		if (handoff) {
			unsigned o;

			wk->ho_out = rte_zmalloc_socket("sh_ho_out",
				cfg.workers * sizeof(*wk->ho_out), RTE_CACHE_LINE_SIZE,
				(int)rte_lcore_to_socket_id(lcore));
			if (!wk->ho_out)
				return -ENOMEM;
			for (o = 0; o < cfg.workers; o++) {
				wk->ho_out[o].ring = sh_handoff_ring(handoff, i, o);
				wk->ho_in[o] = sh_handoff_ring(handoff, o, i);
			}
		}
		wk->leases = &leases;
		wk->fib = sh_linux_fib(lx);
		wk->resolve = sh_linux_resolve_ring(lx);
		wk->qsbr = qsbr;
		wk->qsbr_id = i;
		for (s = 0; s < SH_SIDES; s++) {
			wk->port[s] = ports[s];
			sh_bucket_init(&wk->punt[s], tn.punt_rate[s]);
		}
		sh_bucket_init(&wk->icmp, SH_ICMP_RATE / cfg.workers);
		i++;
	}
	return i < cfg.workers ? -ENODEV : 0;
}

static void set_peer(struct sh_port *p, const struct sh_port_cfg *pc)
{
	if (pc->has_next_hop_mac) {
		memcpy(p->next_hop.addr_bytes, pc->next_hop_mac, 6);
		p->has_next_hop = true;
	}
}

/*
 * One turn of the main lcore: wait up to 20 ms for netlink or control
 * input, then serve both (each never blocks). 20 ms bounds how late a
 * route change or a lease update reaches the workers, and how late a
 * quit is noticed.
 */
static void main_loop_once(void)
{
	struct pollfd pfd[4];
	nfds_t n = 0;
	int ret, fds[3];
	unsigned i, nh = handover ? sh_handover_fds(handover, fds) : 0;

	for (i = 0; i < nh; i++)
		pfd[n++] = (struct pollfd){ .fd = fds[i], .events = POLLIN };
	if (lx)
		pfd[n++] = (struct pollfd){ .fd = sh_linux_fd(lx), .events = POLLIN };
	if (ctl && sh_ctl_fd(ctl) >= 0)
		pfd[n++] = (struct pollfd){ .fd = sh_ctl_fd(ctl), .events = POLLIN };
	if (poll(pfd, n, 20) < 0 && errno != EINTR)
		usleep(20 * 1000);
	if (lx) {
		ret = sh_linux_poll(lx, workers, cfg.workers, qsbr, 0);
		if (ret < 0)
			SH_LOG(ERR, linux, "netlink: %s\n", strerror(-ret));
	}
	if (ctl) {
		struct sh_nl_stats nl;

		sh_linux_nl_stats(lx, &nl);
		sh_ctl_service(ctl, &nl);
	}
	sh_notify_tick(&notify);
}

/*
 * Before the workers start: wait a little (SH_FIRST_SET_MS) for
 * shoal-ctld's lease set, so that no worker runs a turn on the
 * configuration's set alone. That set lacks every dynamic lease and,
 * with [fleet], owns no slice at all: after a restart or a handover,
 * returns would be dropped (unsolicited, unknown_owner) until the
 * daemon's set came. Without the daemon the engine starts anyway, on
 * the configuration's set, as before.
 */
#define SH_FIRST_SET_MS 500
static void first_lease_set(void)
{
	struct timespec t0;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (!sh_ctl_has_set(ctl) && ms_since(&t0) < SH_FIRST_SET_MS &&
	       !force_quit) {
		struct pollfd p = { .fd = sh_ctl_fd(ctl), .events = POLLIN };
		struct sh_nl_stats nl;

		if (p.fd < 0 || poll(&p, 1, 10) < 0)
			usleep(10 * 1000);
		sh_linux_nl_stats(lx, &nl);
		sh_ctl_service(ctl, &nl);
	}
	if (sh_ctl_has_set(ctl))
		printf("shoal-engine: lease set from shoal-ctld in %.1f ms, "
		       "before the workers started\n", ms_since(&t0));
	else
		printf("shoal-engine: no lease set from shoal-ctld within %d ms; "
		       "starting on the configuration's\n", SH_FIRST_SET_MS);
}

static void print_ports(void)
{
	static const char *const names[SH_SIDES] = { "inside", "outside" };
	char mac[RTE_ETHER_ADDR_FMT_SIZE];
	unsigned s;

	for (s = 0; s < SH_SIDES; s++) {
		rte_ether_format_addr(mac, sizeof(mac), &ports[s].mac);
		printf("shoal-engine: %s port %u mac %s, %u queue(s) steered by %s",
		       names[s], ports[s].port_id, mac, cfg.workers,
		       steer[s].rss ? "RSS" : "handoff");
		if (ports[s].mirror_id != SH_NO_MIRROR)
			printf(", kernel mirror port %u ifindex %d, %u queue(s)",
			       ports[s].mirror_id, ports[s].mirror_ifindex,
			       ports[s].mirror_queues);
		printf("\n");
	}
	for (s = 0; s < cfg.workers; s++) {
		rte_cpuset_t cpus = rte_lcore_cpuset(workers[s].lcore);
		const char *sep = "";
		unsigned c;

		printf("shoal-engine: worker %u on lcore %u, cpu ", s,
		       workers[s].lcore);
		for (c = 0; c < CPU_SETSIZE; c++)
			if (CPU_ISSET(c, &cpus)) {
				printf("%s%u", sep, c);
				sep = ",";
			}
		printf("\n");
	}
}

/* The worker clock now (ms), as the workers compute it. */
static uint32_t worker_clock(void)
{
	return (uint32_t)(rte_rdtsc() / (rte_get_tsc_hz() / 1000)) +
	       workers[0].clock_base;
}

/* The latest TSC of a turn in which any worker translated a packet, and
 * the earliest first (worker.h first_tx_tsc). */
static uint64_t last_tx(void)
{
	uint64_t t = 0;

	for (unsigned w = 0; w < cfg.workers; w++)
		t = RTE_MAX(t, workers[w].last_tx_tsc);
	return t;
}

static uint64_t first_tx(void)
{
	uint64_t t = UINT64_MAX;

	for (unsigned w = 0; w < cfg.workers; w++)
		if (workers[w].first_tx_tsc)
			t = RTE_MIN(t, workers[w].first_tx_tsc);
	return t == UINT64_MAX ? 0 : t;
}

/* Keep the mirrors' neighbours in the state file when the FIB changed. */
static void save_neighbours(void)
{
	struct sh_neigh_seed seed[SH_STATE_NEIGH_MAX];
	uint64_t gen = sh_linux_fib_gen(lx);

	if (!state.hdr || !lx || gen == neigh_saved_gen)
		return;
	sh_state_neigh_save(&state, seed,
			    sh_linux_neigh_export(lx, ports, seed,
						  SH_STATE_NEIGH_MAX));
	neigh_saved_gen = gen;
}

/* The workers have stopped: leave the tables clean for the next process. */
static void sync_tables(void)
{
	if (!state.hdr)
		return;
	save_neighbours();
	for (unsigned w = 0; w < cfg.workers; w++)
		nat_worker_sync(workers[w].nat);
	sh_state_anchor(&state, worker_clock());
	state.hdr->last_tx_tsc = last_tx();
}

static void close_data_ports(void)
{
	for (unsigned s = 0; s < SH_SIDES; s++)
		sh_port_stop(ports[s].port_id);
}

static void close_mirrors(void)
{
	for (unsigned s = 0; s < SH_SIDES; s++)
		if (ports[s].mirror_id != SH_NO_MIRROR)
			sh_port_stop(ports[s].mirror_id);
	sh_linux_stop(lx);
	lx = NULL;
}

/* sh_handover_ops.release_mirrors. */
static void release_mirrors(void *arg)
{
	struct timespec t0;

	(void)arg;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	close_mirrors();
	SH_LOG(INFO, ctl, "handover: kernel mirrors closed in %.1f ms\n",
	       ms_since(&t0));
}

/* sh_handover_ops.release: give everything to the new engine. */
static int release(void *arg, double *stop_ms, double *release_ms,
		   uint64_t *tx_tsc, char *why, size_t len)
{
	struct timespec t0;

	(void)arg;
	(void)why;
	(void)len;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	force_quit = true;
	rte_eal_mp_wait_lcore();
	sync_tables();
	*stop_ms = ms_since(&t0);
	*tx_tsc = last_tx();
	clock_gettime(CLOCK_MONOTONIC, &t0);
	close_data_ports();
	sh_state_release(&state);
	*release_ms = ms_since(&t0);
	SH_LOG(NOTICE, ctl, "handover: workers stopped and tables synced in %.1f "
	       "ms, data ports released in %.1f ms\n", *stop_ms, *release_ms);
	return 0;
}

/* sh_handover_ops.finished. */
static void finished(void *arg, int rc, const char *why,
		     const struct sh_upgrade_result *r)
{
	(void)arg;
	if (ctl)
		sh_ctl_upgrade_done(ctl, rc, why, r);
	if (rc == 0) {
		printf("shoal-engine: handed over to pid %d (%s): forwarding gap "
		       "%.1f ms\n", r->new_pid, r->binary, r->gap_ms);
		sh_notify_mainpid(r->new_pid);
		main_quit = true;
	} else if (sh_handover_released(handover)) {
		/* Nothing to forward with: exit failed, so that the service
		 * manager restarts the engine, which recovers the tables. */
		fprintf(stderr, "shoal-engine: %s; no engine forwards now\n", why);
		exit_code = 1;
		main_quit = true;
	}
}

/* shoal-ctld's engine.upgrade: run @binary (NULL: our own) --takeover
 * with our arguments. */
static int ctl_upgrade(void *arg, const char *binary, char *err, size_t len)
{
	char *argv[SH_MAX_EAL_ARGS + 2];
	int i, n = 0;
	bool put = false;

	(void)arg;
	if (!handover) {
		snprintf(err, len, "no [engine] state: this engine cannot hand "
			 "over its flows");
		return -ENOTSUP;
	}
	if (saved_argc > SH_MAX_EAL_ARGS) {
		snprintf(err, len, "too many arguments to pass on");
		return -E2BIG;
	}
	argv[n++] = (char *)(binary ? binary : self_exe);
	/* --takeover among the application's options: after "--" if there
	 * is one, else first. */
	for (i = 1; i < saved_argc; i++) {
		if (!put && strcmp(saved_argv[i], "--") == 0) {
			argv[n++] = saved_argv[i];
			argv[n++] = (char *)"--takeover";
			put = true;
			continue;
		}
		argv[n++] = saved_argv[i];
	}
	if (!put) {
		memmove(&argv[2], &argv[1], (size_t)(n - 1) * sizeof(argv[0]));
		argv[1] = (char *)"--takeover";
		n++;
	}
	argv[n] = NULL;
	return sh_handover_spawn(handover, argv, err, len);
}

/* Before EAL: open the state file and, taking over, meet the running
 * engine (which tells its EAL prefix). Exits on failure. */
static void state_prepare(const char *conf, char *old_prefix, size_t len)
{
	char why[PATH_MAX + 256], sock[PATH_MAX];
	int ret;

	if (!cfg.state[0]) {
		if (takeover) {
			fprintf(stderr, "shoal-engine: %s: --takeover needs [engine] "
				"state\n", conf);
			exit(1);
		}
		return;
	}
	snprintf(sock, sizeof(sock), "%s%s", cfg.state, SH_CFG_STATE_SOCK_SUFFIX);
	/* Taking over, meet the running engine first: without one there is
	 * nothing to open (and no file to leave behind). */
	if (takeover) {
		tk = sh_takeover_connect(sock, &upgrade.old_pid, old_prefix, len,
					 why, sizeof(why));
		if (!tk) {
			fprintf(stderr, "shoal-engine: takeover: %s\n", why);
			exit(1);
		}
	}
	ret = sh_state_open(&state, cfg.state, cfg.workers, cfg.nat.max_flows,
			    &found, why, sizeof(why));
	if (ret < 0) {
		fprintf(stderr, "shoal-engine: [engine] state: %s\n", why);
		sh_takeover_fail(tk, why);
		exit(1);
	}
	if (takeover) {
		if (found != SH_STATE_ADOPTABLE) {
			if (found == SH_STATE_NONE)
				snprintf(why, sizeof(why), "%s: no tables to take "
					 "over", cfg.state);
			fprintf(stderr, "shoal-engine: takeover refused: %s\n", why);
			sh_takeover_fail(tk, why);
			exit(1);
		}
		return;
	}
	ret = sh_state_lock(&state, why, sizeof(why));
	if (ret < 0) {
		fprintf(stderr, "shoal-engine: %s\n", why);
		exit(1);
	}
	if (found == SH_STATE_INCOMPATIBLE) {
		/* Nothing forwards now anyway: start empty rather than not at
		 * all, keeping the old file for a look. */
		char aside[PATH_MAX + 16];

		snprintf(aside, sizeof(aside), "%s.discarded", cfg.state);
		fprintf(stderr, "shoal-engine: cannot adopt the flows of %s; "
			"starting with empty tables, old file kept as %s\n",
			why, aside);
		rename(cfg.state, aside);
		sh_state_close(&state);
		if (sh_state_open(&state, cfg.state, cfg.workers,
				  cfg.nat.max_flows, &found, why, sizeof(why)) < 0 ||
		    sh_state_lock(&state, why, sizeof(why)) < 0) {
			fprintf(stderr, "shoal-engine: %s\n", why);
			exit(1);
		}
	}
}

/* Taking over: use the other of the pair PREFIX / PREFIX-b to the running
 * engine's, so that both EALs can live at once. */
static int alternate_prefix(char **argv, int argc, const char *old,
			    char *buf, size_t len)
{
	const char *mine = "rte"; /* EAL's default */
	int i, at = -1;
	size_t n;

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--file-prefix") == 0 && i + 1 < argc) {
			at = i + 1;
			mine = argv[at];
		} else if (strncmp(argv[i], "--file-prefix=", 14) == 0) {
			at = i;
			mine = argv[i] + 14;
		}
	}
	n = strlen(mine);
	if (n > 2 && strcmp(mine + n - 2, "-b") == 0)
		n -= 2; /* the configured one is the base */
	if (strncmp(old, mine, n) == 0 && old[n] == '\0')
		snprintf(buf, len, "%.*s-b", (int)n, mine);
	else
		snprintf(buf, len, "%.*s", (int)n, mine);
	if (at < 0) {
		argv[argc++] = (char *)"--file-prefix";
		argv[argc++] = buf;
		argv[argc] = NULL;
	} else if (strncmp(argv[at], "--file-prefix=", 14) == 0) {
		static char opt[300];

		snprintf(opt, sizeof(opt), "--file-prefix=%s", buf);
		argv[at] = opt;
	} else {
		argv[at] = buf;
	}
	return argc;
}

/* Once our workers have sent something (or a second passed): report the
 * gap since the previous process's last packet. */
static void report_gap(void)
{
	uint64_t first = first_tx(), hz = rte_get_tsc_hz();

	/* Taking over, the requester waits for the answer: a second at
	 * most; after a crash, only the log does. */
	if (!first && (!tk || rte_rdtsc() - launched_tsc < hz))
		return;
	gap_pending = false;
	upgrade.gap_ms = first && prev_last_tx && first > prev_last_tx
				 ? (double)(first - prev_last_tx) * 1e3 / (double)hz
				 : -1;
	if (tk) {
		printf("shoal-engine: took over from pid %d: forwarding gap %.1f ms "
		       "(stop %.1f, release %.1f, adopt %.1f, ports %.1f of which "
		       "data ports %.1f and kernel mirrors %.1f; EAL %.1f before "
		       "the switch)\n", upgrade.old_pid, upgrade.gap_ms,
		       upgrade.stop_ms, upgrade.release_ms, upgrade.adopt_ms,
		       upgrade.ports_ms, data_ports_ms,
		       upgrade.ports_ms - data_ports_ms, upgrade.eal_ms);
		/* The old engine exits once it has DONE: our stderr must not
		 * be its pipe any more. */
		sh_takeover_own_stderr();
		sh_takeover_done(tk, &upgrade);
		tk = NULL;
	} else {
		printf("shoal-engine: forwarding again %.1f ms after the last packet "
		       "of the previous engine\n", upgrade.gap_ms);
	}
	fflush(stdout);
}

int main(int argc, char **argv)
{
	char *eal_argv[SH_MAX_EAL_ARGS + 3], eal_buf[SH_CFG_STR_LEN];
	char old_prefix[256] = "", new_prefix[256];
	const char *conf = NULL;
	char err[PATH_MAX + 1024];
	struct timespec t0;
	int i, sep = -1, eal_argc, ret;
	bool check = false;
	unsigned w;
	ssize_t n;

	saved_argc = argc;
	saved_argv = argv;
	n = readlink("/proc/self/exe", self_exe, sizeof(self_exe) - 1);
	if (n > 0) {
		/* A binary replaced on disk (a package upgrade) reads
		 * "PATH (deleted)": PATH is the new one to run. */
		self_exe[n] = '\0';
		if (n > 10 && strcmp(self_exe + n - 10, " (deleted)") == 0)
			self_exe[n - 10] = '\0';
	}
	for (i = 1; i < argc; i++)
		if (strcmp(argv[i], "--") == 0) {
			sep = i;
			break;
		}
	if (parse_app_args(sep < 0 ? argc : argc - sep,
			   sep < 0 ? argv : argv + sep, &conf, &check) < 0) {
		usage(stderr);
		return 2;
	}
	ret = sh_config_load(&cfg, conf, err, sizeof(err));
	if (ret < 0) {
		fprintf(stderr, "shoal-engine: %s\n", err);
		return 1;
	}
	if (check) {
		/* What can be known without EAL: the file and the lease set
		 * it makes. Devices are probed only at start. */
		if (nat_lease_set_from_config(&leases, &cfg) < 0) {
			fprintf(stderr, "shoal-engine: %s: lease set too large\n",
				conf);
			return 1;
		}
		printf("%s: ok\n", conf);
		return 0;
	}
	state_prepare(conf, old_prefix, sizeof(old_prefix));

	if (sep < 0) {
		snprintf(eal_buf, sizeof(eal_buf), "%s",
			 cfg.eal[0] ? cfg.eal : default_eal());
		eal_argv[0] = argv[0];
		eal_argc = split_eal(eal_buf, eal_argv, SH_MAX_EAL_ARGS);
		if (eal_argc < 0)
			rte_exit(EXIT_FAILURE, "[engine] eal: too many arguments\n");
	} else {
		eal_argv[0] = argv[0];
		for (i = 1; i < sep && i < SH_MAX_EAL_ARGS - 1; i++)
			eal_argv[i] = argv[i];
		eal_argv[i] = NULL;
		eal_argc = i;
	}
	if (tk)
		eal_argc = alternate_prefix(eal_argv, eal_argc, old_prefix,
					    new_prefix, sizeof(new_prefix));
	clock_gettime(CLOCK_MONOTONIC, &t0);
	ret = rte_eal_init(eal_argc, eal_argv);
	if (ret < 0) {
		snprintf(err, sizeof(err), "EAL init failed: %s",
			 rte_strerror(rte_errno));
		sh_takeover_fail(tk, err);
		rte_exit(EXIT_FAILURE, "%s\n", err);
	}
	upgrade.eal_ms = ms_since(&t0);
	upgrade.new_pid = getpid();
	snprintf(upgrade.binary, sizeof(upgrade.binary), "%s", self_exe);
	/* dpdk-dumpcap asks this process to copy a port's packets; until one
	 * does, the ports have no callbacks and the workers pay nothing. */
	if (rte_pdump_init() < 0)
		fprintf(stderr, "shoal-engine: packet capture unavailable: %s\n",
			rte_strerror(rte_errno));
	if (!rte_eal_has_hugepages())
		printf("shoal-engine: no hugepages: dpdk-dumpcap and "
		       "dpdk-proc-info cannot attach (docs/CAPTURE.md)\n");

	signal(SIGINT, signal_handler);
	signal(SIGTERM, signal_handler);
	signal(SIGHUP, signal_handler);

	if (nat_lease_set_from_config(&leases, &cfg) < 0) {
		sh_takeover_fail(tk, "lease set too large");
		rte_exit(EXIT_FAILURE, "%s: lease set too large\n", conf);
	}
	if (tk) {
		/* The switch: from here the old engine forwards no more. */
		ret = sh_takeover_handover(tk, &upgrade, &prev_last_tx, err,
					   sizeof(err));
		if (ret < 0)
			rte_exit(EXIT_FAILURE, "takeover: %s\n", err);
		ret = sh_state_lock(&state, err, sizeof(err));
		if (ret < 0)
			rte_exit(EXIT_FAILURE, "takeover: %s\n", err);
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	if (state.fd >= 0) {
		ret = sh_state_map(&state, cfg.workers, cfg.nat.max_flows,
				   found != SH_STATE_ADOPTABLE, err, sizeof(err));
		if (ret < 0)
			rte_exit(EXIT_FAILURE, "[engine] state: %s\n", err);
		if (found == SH_STATE_ADOPTABLE) {
			uint8_t *klen, *key = sh_port_rss_key(&klen);

			if (!tk)
				prev_last_tx = state.hdr->last_tx_tsc;
			memcpy(key, state.hdr->rss_key[SH_OUTSIDE], SH_RSS_KEY_MAX);
			*klen = state.hdr->rss_key_len[SH_OUTSIDE];
		}
	}
	upgrade.adopt_ms = ms_since(&t0);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	ret = setup_port(&ports[SH_INSIDE], &cfg.inside, cfg.workers,
			 SH_RSS_CLIENT, &steer[SH_INSIDE]);
	if (ret < 0)
		rte_exit(EXIT_FAILURE, "%s: [inside] device %s: %s\n", conf,
			 cfg.inside.device, strerror(-ret));
	ret = setup_port(&ports[SH_OUTSIDE], &cfg.outside, cfg.workers,
			 SH_RSS_TUPLE, &steer[SH_OUTSIDE]);
	if (ret < 0)
		rte_exit(EXIT_FAILURE, "%s: [outside] device %s: %s\n", conf,
			 cfg.outside.device, strerror(-ret));
	if (state.hdr) {
		uint8_t *klen, *key = sh_port_rss_key(&klen);

		memcpy(state.hdr->rss_key[SH_OUTSIDE], key, SH_RSS_KEY_MAX);
		state.hdr->rss_key_len[SH_OUTSIDE] = *klen;
	}
	set_peer(&ports[SH_INSIDE], &cfg.inside);
	set_peer(&ports[SH_OUTSIDE], &cfg.outside);
	data_ports_ms = ms_since(&t0);
	if (tk) {
		ret = sh_takeover_wait_mirrors(tk, err, sizeof(err));
		if (ret < 0)
			rte_exit(EXIT_FAILURE, "takeover: %s\n", err);
	}
	{
		struct sh_neigh_seed seed[SH_STATE_NEIGH_MAX];
		unsigned n_seed = 0;

		if (found == SH_STATE_ADOPTABLE) {
			n_seed = RTE_MIN(__atomic_load_n(&state.hdr->n_neigh,
							 __ATOMIC_ACQUIRE),
					 (uint32_t)SH_STATE_NEIGH_MAX);
			memcpy(seed, state.hdr->neigh, n_seed * sizeof(seed[0]));
		}
		ret = sh_linux_start(&lx, &cfg, ports, cfg.workers, seed, n_seed,
				     err, sizeof(err));
	}
	if (ret < 0)
		rte_exit(EXIT_FAILURE, "%s: %s\n", conf, err);
	upgrade.ports_ms = ms_since(&t0);

	clock_gettime(CLOCK_MONOTONIC, &t0);
	ret = setup_workers();
	if (ret < 0)
		rte_exit(EXIT_FAILURE, "workers: %s (need %u worker lcores)\n",
			 strerror(-ret), cfg.workers);
	upgrade.adopt_ms += ms_since(&t0);
	upgrade.flows = adopted.flows;
	upgrade.discarded = adopted.torn + adopted.duplicate + adopted.unbound +
			    adopted.no_slot;
	sh_stats_init(workers, cfg.workers);
	sh_notify_init(&notify, workers, cfg.workers);

	print_ports();
	printf("shoal-engine: flow table %u flows per worker, %.1f MiB, %.0f bytes "
	       "per flow\n", cfg.nat.max_flows,
	       (double)nat_table_bytes(cfg.nat.max_flows) / (1 << 20),
	       (double)nat_table_bytes(cfg.nat.max_flows) / cfg.nat.max_flows);
	if (state.hdr)
		printf("shoal-engine: flow tables kept in %s (%.1f MiB)\n",
		       cfg.state, (double)state.bytes / (1 << 20));
	if (found == SH_STATE_ADOPTABLE)
		printf("shoal-engine: adopted %u flows (%u discarded: %u not whole, "
		       "%u duplicate, %u unbound, %u without a slot) and %u port "
		       "holds from %s in %.1f ms%s\n", adopted.flows,
		       (unsigned)upgrade.discarded, adopted.torn,
		       adopted.duplicate, adopted.unbound, adopted.no_slot,
		       adopted.pseudo, cfg.state, upgrade.adopt_ms,
		       adopted.rebuilt ? ", indices rebuilt (not synced: the "
					 "previous engine did not stop cleanly)"
				       : "");
	printf("shoal-engine: %u worker(s), %u lease(s), %u slice(s)\n",
	       cfg.workers, leases.n_leases, leases.n_slices);
	fflush(stdout);
	reload = (struct sh_reload){
		.cfg = &cfg,
		.workers = workers,
		.n_workers = cfg.workers,
		.qsbr = qsbr,
		.own_leases = !cfg.ctl_socket[0],
	};
	if (sh_reload_init(&reload) < 0)
		rte_exit(EXIT_FAILURE, "tunables: %s\n", strerror(ENOMEM));
	if (cfg.ctl_socket[0]) {
		ctl = sh_ctl_create(&cfg, workers, cfg.workers, qsbr, &leases,
				    ctl_reload, &reload);
		if (!ctl)
			rte_exit(EXIT_FAILURE, "ctl client: %s\n", strerror(errno));
		sh_ctl_set_upgrade(ctl, ctl_upgrade, NULL);
		first_lease_set();
	}
	launched_tsc = rte_rdtsc();
	gap_pending = found == SH_STATE_ADOPTABLE;
	for (w = 0; w < cfg.workers; w++)
		rte_eal_remote_launch(sh_worker_main, &workers[w], workers[w].lcore);

	if (state.hdr) {
		static const struct sh_handover_ops ops = {
			.release = release,
			.release_mirrors = release_mirrors,
			.finished = finished,
		};
		char sock[PATH_MAX];

		snprintf(sock, sizeof(sock), "%s%s", cfg.state,
			 SH_CFG_STATE_SOCK_SUFFIX);
		handover = sh_handover_listen(sock, &ops, err, sizeof(err));
		if (!handover)
			fprintf(stderr, "shoal-engine: handover socket: %s; "
				"--takeover cannot reach this engine\n", err);
	}
	if (tk)
		sh_notify_mainpid(getpid());
	sh_notify_ready(&notify);
	while (!main_quit) {
		main_loop_once();
		if (handover)
			sh_handover_service(handover);
		if (gap_pending)
			report_gap();
		if (state.hdr && !force_quit) {
			sh_state_anchor(&state, worker_clock());
			state.hdr->last_tx_tsc = last_tx();
			save_neighbours();
		}
		if (reload_requested) {
			reload_requested = false;
			sh_reload(&reload, err, sizeof(err));
		}
	}
	/* After a handover the service is the new engine's: no STOPPING. */
	if (!handover || !sh_handover_released(handover))
		sh_notify_stopping(&notify);
	rte_eal_mp_wait_lcore();

	sh_stats_print(stdout, workers, cfg.workers);
	if (!handover || !sh_handover_released(handover)) {
		sync_tables();
		close_data_ports();
		close_mirrors();
	}
	sh_handover_close(handover);
	sh_ctl_destroy(ctl);
	sh_handoff_destroy(handoff);
	for (w = 0; w < cfg.workers; w++) {
		nat_worker_destroy(workers[w].nat);
		rte_free(workers[w].ho_out);
	}
	sh_state_close(&state);
	sh_reload_fini(&reload);
	rte_free(qsbr);
	rte_pdump_uninit();
	rte_eal_cleanup();
	return exit_code;
}
