/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * shoal-ctld -c FILE [-f]: the lease daemon (docs/CONTROL.md). Runs in
 * the foreground (-f is accepted for symmetry; there is no daemon mode:
 * systemd or the test harness supervise it). SIGINT/SIGTERM: clean exit
 * (core.c reads them from its loop).
 */
#include <errno.h>
#include <getopt.h>
#include <libgen.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <curl/curl.h>
#include <jemalloc/jemalloc.h>

#include "ctld.h"

void ctld_log(int level, const char *fmt, ...)
{
	static const char *const names[] = { "error", "warning", "info",
						     "audit" };
	va_list ap;

	/* one line at a time: the [fleet] worker thread logs too */
	flockfile(stderr);
	fprintf(stderr, "shoal-ctld: %s: ", names[level]);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	funlockfile(stderr);
}

int64_t ctld_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void usage(FILE *f)
{
	fprintf(f, "usage: shoal-ctld -c FILE [-f]\n"
		"       shoal-ctld --check -c FILE\n"
		"       shoal-ctld --version\n"
		"  -c FILE  configuration ([slices], [lease.*], [nat], [ctl])\n"
		"  -f       stay in the foreground (the default and only mode)\n"
		"  --check  validate FILE and exit (0: valid)\n");
}

/* The database's directory, when missing: 0750 like the socket's. */
static void dbdir_create(const char *db)
{
	char dir[SH_CFG_STR_LEN];

	snprintf(dir, sizeof(dir), "%s", db);
	if (mkdir(dirname(dir), 0750) && errno != EEXIST)
		ctld_log(CTLD_WARN, "cannot create %s: %s", dir,
			 strerror(errno));
}

int main(int argc, char **argv)
{
	static struct sh_config cfg;
	static struct ctld d;
	static const struct option longopts[] = {
		{ "check", no_argument, NULL, 'k' },
		{ "version", no_argument, NULL, 'V' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *conf = NULL, *jever = "?";
	bool check = false;
	size_t jesz = sizeof(jever);
	char err[600];
	int opt, rc;

	while ((opt = getopt_long(argc, argv, "c:fh", longopts, NULL)) != -1) {
		switch (opt) {
		case 'c':
			conf = optarg;
			break;
		case 'f':
			break;
		case 'k':
			check = true;
			break;
		case 'V':
			printf("shoal-ctld %s (control protocol %d)\n",
			       SHOAL_VERSION, SHOAL_PROTO_VERSION);
			return 0;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (!conf || optind != argc) {
		usage(stderr);
		return 2;
	}
	if (sh_config_load(&cfg, conf, err, sizeof(err))) {
		ctld_log(CTLD_ERR, "%s", err);
		return 1;
	}
	if (check) {
		printf("%s: ok\n", conf);
		return 0;
	}
	d.cfg = &cfg;
	dbdir_create(cfg.ctl_database);
	rc = store_open(&d.store, cfg.ctl_database, err, sizeof(err));
	if (rc) {
		ctld_log(CTLD_ERR, "[ctl] database %s", err);
		return 1;
	}
	/* before any thread: curl_global_init is not thread-safe */
	if (curl_global_init(CURL_GLOBAL_DEFAULT)) {
		ctld_log(CTLD_ERR, "libcurl could not start");
		store_close(d.store);
		return 1;
	}
	rc = leases_init(&d);
	if (rc)
		snprintf(err, sizeof(err), "database: %s", strerror(-rc));
	if (!rc)
		rc = fleet_loop_open(&d, err, sizeof(err));
	if (!rc)
		rc = core_open(&d, err, sizeof(err));
	if (!rc)
		rc = metrics_open(&d, err, sizeof(err));
	if (rc) {
		ctld_log(CTLD_ERR, "%s", err);
		server_close(&d);
		fleet_loop_close(&d);
		store_close(d.store);
		curl_global_cleanup();
		return 1;
	}
	leases_audit(&d);
	signal(SIGPIPE, SIG_IGN);
	mallctl("version", &jever, &jesz, NULL, 0);
	ctld_log(CTLD_INFO, "listening on %s (generation %llu, %u static "
		 "leases, jemalloc %s)", cfg.ctl_sock_path,
		 (unsigned long long)d.generation, d.n_static, jever);

	ctld_notify_ready(&d);
	rc = core_run(&d);
	ctld_notify_stopping();
	if (rc)
		ctld_log(CTLD_ERR, "event loop: %s", strerror(-rc));
	metrics_close(&d);
	server_close(&d);
	fleet_loop_close(&d);
	store_close(d.store);
	curl_global_cleanup();
	json_decref(d.eng.counters);
	json_decref(d.eng.per_worker);
	ctld_log(CTLD_INFO, "stopped");
	return rc ? 1 : 0;
}
