/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * shoal-engine: the soft-unicast egress packet engine.
 *
 *   shoal-engine [EAL args] -- -c FILE
 *   shoal-engine -c FILE            (EAL args from [engine] eal)
 *
 * main() is the script: options and configuration (before EAL, so a bad
 * file stops start-up with file:line and no DPDK noise), EAL, lease set,
 * ports, kernel mirrors and netlink, workers, READY=1 to the service
 * manager; then the main lcore serves netlink, the daemon link and the
 * watchdog, reloading on SIGHUP (reload.h), until SIGINT/SIGTERM;
 * STOPPING=1, stop, print the final counters, clean up.
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
#include "stats.h"
#include "worker.h"

/* Without EAL args: hugepages when the system has as much free as the
 * 4 KiB-page fallback takes (default_eal()). */
#define SH_NOHUGE_MB 1024
#define SH_DEFAULT_EAL "-l 0-1 --no-pci --file-prefix shoal"
#define SH_DEFAULT_EAL_NOHUGE \
	"-l 0-1 --no-huge -m " RTE_STR(SH_NOHUGE_MB) " --no-pci --file-prefix shoal"
#define SH_MAX_EAL_ARGS 64

volatile bool force_quit;

static struct sh_config cfg;
static struct nat_lease_set leases;
static struct sh_worker workers[SH_CFG_MAX_WORKERS];
static struct rte_rcu_qsbr *qsbr;
static struct nat_steer steer[SH_SIDES]; /* read by every worker */
static struct sh_handoff *handoff;
static struct sh_reload reload;
static volatile bool reload_requested; /* SIGHUP */
static struct sh_notify notify;

/* Time exceeded replies per second, shared out between workers (Linux's
 * icmp_msgs_per_sec default). */
#define SH_ICMP_RATE 1000

static void signal_handler(int sig)
{
	if (sig == SIGHUP)
		reload_requested = true;
	else
		force_quit = true;
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

static int setup_workers(const struct sh_port ports[SH_SIDES],
			 const struct sh_linux *lx)
{
	size_t qsz = rte_rcu_qsbr_get_memsize(cfg.workers);
	struct sh_tunables tn;
	struct nat_params np;
	unsigned i = 0, lcore;

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
		wk->nat = nat_worker_create(&np);
		if (!wk->nat)
			return -errno;
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
static void main_loop_once(struct sh_linux *lx, struct sh_ctl *ctl)
{
	struct pollfd pfd[2];
	nfds_t n = 0;
	int ret;

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

static void print_ports(const struct sh_port ports[SH_SIDES])
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

int main(int argc, char **argv)
{
	char *eal_argv[SH_MAX_EAL_ARGS], eal_buf[SH_CFG_STR_LEN];
	const char *conf = NULL;
	char err[1024];
	struct sh_port ports[SH_SIDES] = { 0 };
	struct sh_linux *lx = NULL;
	struct sh_ctl *ctl = NULL;
	int i, sep = -1, eal_argc, ret;
	bool check = false;
	unsigned w;

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
	ret = rte_eal_init(eal_argc, eal_argv);
	if (ret < 0)
		rte_exit(EXIT_FAILURE, "EAL init failed: %s\n",
			 rte_strerror(rte_errno));
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

	if (nat_lease_set_from_config(&leases, &cfg) < 0)
		rte_exit(EXIT_FAILURE, "%s: lease set too large\n", conf);
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
	set_peer(&ports[SH_INSIDE], &cfg.inside);
	set_peer(&ports[SH_OUTSIDE], &cfg.outside);
	ret = sh_linux_start(&lx, &cfg, ports, cfg.workers, err, sizeof(err));
	if (ret < 0)
		rte_exit(EXIT_FAILURE, "%s: %s\n", conf, err);

	ret = setup_workers(ports, lx);
	if (ret < 0)
		rte_exit(EXIT_FAILURE, "workers: %s (need %u worker lcores)\n",
			 strerror(-ret), cfg.workers);
	sh_stats_init(workers, cfg.workers);
	sh_notify_init(&notify, workers, cfg.workers);

	print_ports(ports);
	printf("shoal-engine: flow table %u flows per worker, %.1f MiB, %.0f bytes "
	       "per flow\n", cfg.nat.max_flows,
	       (double)nat_table_bytes(cfg.nat.max_flows) / (1 << 20),
	       (double)nat_table_bytes(cfg.nat.max_flows) / cfg.nat.max_flows);
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
	for (w = 0; w < cfg.workers; w++)
		rte_eal_remote_launch(sh_worker_main, &workers[w], workers[w].lcore);

	if (cfg.ctl_socket[0]) {
		ctl = sh_ctl_create(&cfg, workers, cfg.workers, qsbr, &leases,
				    ctl_reload, &reload);
		if (!ctl)
			rte_exit(EXIT_FAILURE, "ctl client: %s\n", strerror(errno));
	}
	sh_notify_ready(&notify);
	while (!force_quit) {
		main_loop_once(lx, ctl);
		if (reload_requested) {
			reload_requested = false;
			sh_reload(&reload, err, sizeof(err));
		}
	}
	sh_notify_stopping(&notify);
	rte_eal_mp_wait_lcore();

	sh_stats_print(stdout, workers, cfg.workers);
	for (w = 0; w < SH_SIDES; w++) {
		sh_port_stop(ports[w].port_id);
		if (ports[w].mirror_id != SH_NO_MIRROR)
			sh_port_stop(ports[w].mirror_id);
	}
	sh_linux_stop(lx);
	sh_ctl_destroy(ctl);
	sh_handoff_destroy(handoff);
	for (w = 0; w < cfg.workers; w++) {
		nat_worker_destroy(workers[w].nat);
		rte_free(workers[w].ho_out);
	}
	sh_reload_fini(&reload);
	rte_free(qsbr);
	rte_pdump_uninit();
	rte_eal_cleanup();
	return 0;
}
