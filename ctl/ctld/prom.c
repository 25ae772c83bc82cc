/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The Prometheus text exposition (format 0.0.4) of what the daemon knows:
 * a pure formatter over a struct prom_view that metrics.c gathers. Every
 * metric is listed in docs/METRICS.md; names follow the Prometheus
 * conventions (shoal_ prefix, base units, counters end in _total), and
 * each family's samples are written together under its HELP and TYPE.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "ctld.h"
#include "shoal/counters.h"

/* printf into @b; once a write does not fit, b->full is set and the
 * rest is ignored (the caller refuses a full buffer). */
static void put(struct prom_buf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void put(struct prom_buf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (b->full)
		return;
	va_start(ap, fmt);
	n = vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= b->cap - b->len) {
		b->full = true;
		return;
	}
	b->len += (size_t)n;
}

static void family(struct prom_buf *b, const char *name, const char *type,
		   const char *help)
{
	put(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* @s as a label value: backslash, double quote and newline escaped. */
static void put_label(struct prom_buf *b, const char *s)
{
	for (; *s; s++) {
		if (*s == '\\' || *s == '"')
			put(b, "\\%c", *s);
		else if (*s == '\n')
			put(b, "\\n");
		else
			put(b, "%c", *s);
	}
}

/* Counter @name of worker entry @w: its value, 0 when the engine left it
 * out as zero, -1 when it may have been cut ("partial"). */
static int64_t worker_counter(json_t *w, const char *name)
{
	json_t *v = json_object_get(json_object_get(w, "counters"), name);

	if (json_is_integer(v))
		return json_integer_value(v);
	return json_is_true(json_object_get(w, "partial")) ? -1 : 0;
}

/* One sample per worker of counter @c, with @labels (", "-separated
 * label pairs to add after worker, or "") */
static void worker_samples(struct prom_buf *b, json_t *per_worker,
			   const char *name, const char *labels, unsigned c)
{
	json_t *w;
	size_t i;

	json_array_foreach(per_worker, i, w) {
		int64_t v = worker_counter(w, sh_counter_name(c));

		if (v >= 0)
			put(b, "%s{worker=\"%" JSON_INTEGER_FORMAT "\"%s} %"
			    PRId64 "\n", name,
			    json_integer_value(json_object_get(w, "worker")),
			    labels, v);
	}
}

/* A counter family split by port (inside, outside). */
static void port_family(struct prom_buf *b, json_t *pw, const char *name,
			const char *help, unsigned inside, unsigned outside)
{
	family(b, name, "counter", help);
	worker_samples(b, pw, name, ",port=\"inside\"", inside);
	worker_samples(b, pw, name, ",port=\"outside\"", outside);
}

/* Event counters with a metric of their own; the others go to
 * shoal_events_total{event=NAME}. */
static const unsigned own_metric[] = {
	SH_CNT_RX_INSIDE, SH_CNT_RX_OUTSIDE, SH_CNT_TX_INSIDE,
	SH_CNT_TX_OUTSIDE, SH_CNT_RX_INSIDE_BYTES, SH_CNT_RX_OUTSIDE_BYTES,
	SH_CNT_TX_INSIDE_BYTES, SH_CNT_TX_OUTSIDE_BYTES, SH_CNT_HANDOFF_TX,
	SH_CNT_HANDOFF_RX, SH_CNT_TO_KERNEL, SH_CNT_FROM_KERNEL,
};

/* The per-worker counters that are a metric of their own, unlabelled. */
static const struct {
	const char *name, *help;
	unsigned counter;
} single[] = {
	{ "shoal_handoff_sent_packets_total",
	  "Packets handed to the worker that owns them.", SH_CNT_HANDOFF_TX },
	{ "shoal_handoff_received_packets_total",
	  "Packets received from another worker, as their owner.",
	  SH_CNT_HANDOFF_RX },
	{ "shoal_punted_packets_total",
	  "Packets handed to Linux through the kernel mirror.",
	  SH_CNT_TO_KERNEL },
	{ "shoal_kernel_sent_packets_total",
	  "Packets from Linux sent on a data port.", SH_CNT_FROM_KERNEL },
};

static bool has_own_metric(unsigned c)
{
	for (size_t i = 0; i < sizeof(own_metric) / sizeof(own_metric[0]); i++)
		if (own_metric[i] == c)
			return true;
	return false;
}

static void workers_format(struct prom_buf *b, json_t *pw)
{
	char labels[80];
	json_t *w;
	size_t i;
	unsigned c;

	family(b, "shoal_worker_flows", "gauge", "Live flows of the worker.");
	json_array_foreach(pw, i, w)
		put(b, "shoal_worker_flows{worker=\"%" JSON_INTEGER_FORMAT
		    "\"} %" JSON_INTEGER_FORMAT "\n",
		    json_integer_value(json_object_get(w, "worker")),
		    json_integer_value(json_object_get(w, "flows")));
	port_family(b, pw, "shoal_received_packets_total",
		    "Packets received on a data port.", SH_CNT_RX_INSIDE,
		    SH_CNT_RX_OUTSIDE);
	port_family(b, pw, "shoal_received_bytes_total",
		    "Bytes of the frames received on a data port.",
		    SH_CNT_RX_INSIDE_BYTES, SH_CNT_RX_OUTSIDE_BYTES);
	port_family(b, pw, "shoal_sent_packets_total",
		    "Packets sent on a data port.", SH_CNT_TX_INSIDE,
		    SH_CNT_TX_OUTSIDE);
	port_family(b, pw, "shoal_sent_bytes_total",
		    "Bytes of the frames sent on a data port.",
		    SH_CNT_TX_INSIDE_BYTES, SH_CNT_TX_OUTSIDE_BYTES);
	family(b, "shoal_drops_total", "counter",
	       "Packets dropped, by reason (include/shoal/counters.h).");
	for (c = SH_DROP_FIRST; c < SH_DROP_MAX_; c++) {
		snprintf(labels, sizeof(labels), ",reason=\"%s\"",
			 sh_counter_name(c));
		worker_samples(b, pw, "shoal_drops_total", labels, c);
	}
	for (size_t k = 0; k < sizeof(single) / sizeof(single[0]); k++) {
		family(b, single[k].name, "counter", single[k].help);
		worker_samples(b, pw, single[k].name, "", single[k].counter);
	}
	family(b, "shoal_events_total", "counter",
	       "Other work counted by the engine, by event "
	       "(include/shoal/counters.h).");
	for (c = SH_EVENT_FIRST; c < SH_COUNTER_MAX; c++) {
		if (has_own_metric(c))
			continue;
		snprintf(labels, sizeof(labels), ",event=\"%s\"",
			 sh_counter_name(c));
		worker_samples(b, pw, "shoal_events_total", labels, c);
	}
}

static void leases_format(struct prom_buf *b, const struct prom_view *v)
{
	static const char *const states[] = { "active", "draining", "held" };
	const unsigned counts[] = { v->n_active, v->n_draining, v->n_held };
	const struct prom_lease *l;
	char a[16];
	unsigned i;

	family(b, "shoal_leases", "gauge",
	       "Leases by state; held: port ranges in their hold-down.");
	for (i = 0; i < 3; i++)
		put(b, "shoal_leases{state=\"%s\"} %u\n", states[i], counts[i]);
	family(b, "shoal_lease_info", "gauge",
	       "One per lease: its holder, kind, address and port range.");
	for (i = 0; i < v->n_leases; i++) {
		l = &v->leases[i];
		put(b, "shoal_lease_info{lease=\"%u\",holder=\"", l->l->id);
		put_label(b, l->l->holder);
		put(b, "\",kind=\"%s\",address=\"%s\",ports=\"%u-%u\","
		    "state=\"%s\"} 1\n",
		    l->l->kind == SH_LEASE_NAT ? "nat" : "socket",
		    sh_fmt_ipv4(l->l->ip, a), l->l->lo, l->l->hi,
		    l->l->draining ? "draining" : "active");
	}
	family(b, "shoal_lease_capacity_ports", "gauge",
	       "Ports in the lease's range.");
	for (i = 0; i < v->n_leases; i++)
		put(b, "shoal_lease_capacity_ports{lease=\"%u\"} %u\n",
		    v->leases[i].l->id,
		    (unsigned)v->leases[i].l->hi - v->leases[i].l->lo + 1);
	family(b, "shoal_lease_flows", "gauge",
	       "Live flows of the lease (engine's last report).");
	for (i = 0; i < v->n_leases; i++)
		if (v->leases[i].known)
			put(b, "shoal_lease_flows{lease=\"%u\"} %" PRId64 "\n",
			    v->leases[i].l->id, v->leases[i].use.flows);
	family(b, "shoal_lease_ports_in_use", "gauge",
	       "Outside ports the lease's bindings hold, by protocol "
	       "(exclusive leases; 0 for shared-port ones).");
	for (i = 0; i < v->n_leases; i++) {
		l = &v->leases[i];
		if (l->known)
			put(b, "shoal_lease_ports_in_use{lease=\"%u\","
			    "protocol=\"tcp\"} %" PRId64 "\n"
			    "shoal_lease_ports_in_use{lease=\"%u\","
			    "protocol=\"udp\"} %" PRId64 "\n", l->l->id,
			    l->use.tcp_ports, l->l->id, l->use.udp_ports);
	}
	family(b, "shoal_lease_ports_exhausted_total", "counter",
	       "New flows dropped as ports_exhausted with this lease, the "
	       "client's first, full.");
	for (i = 0; i < v->n_leases; i++)
		if (v->leases[i].known)
			put(b, "shoal_lease_ports_exhausted_total{lease=\"%u\"} %"
			    PRId64 "\n", v->leases[i].l->id,
			    v->leases[i].use.exhausted);
}

void prom_format(const struct prom_view *v, struct prom_buf *b)
{
	const struct engine_state *e = v->eng;

	b->len = 0;
	b->full = b->cap == 0;
	family(b, "shoal_build_info", "gauge",
	       "Version of shoal-ctld and of its control protocol.");
	put(b, "shoal_build_info{version=\"%s\",protocol=\"%d\"} 1\n",
	    SHOAL_VERSION, SHOAL_PROTO_VERSION);
	family(b, "shoal_lease_generation", "gauge",
	       "Generation of the committed lease set.");
	put(b, "shoal_lease_generation %" PRIu64 "\n", v->generation);
	family(b, "shoal_engine_connected", "gauge",
	       "1 while an engine is subscribed, else 0.");
	put(b, "shoal_engine_connected %d\n", e->conn_serial != 0);
	leases_format(b, v);
	if (v->fleet) {
		family(b, "shoal_fleet_slices_owned", "gauge",
		       "[fleet] slices this host owns and has proven.");
		put(b, "shoal_fleet_slices_owned %u\n", v->fleet_owned);
		family(b, "shoal_fleet_valid_seconds", "gauge",
		       "[fleet] seconds of proven ownership left (0: fenced).");
		put(b, "shoal_fleet_valid_seconds %.3f\n",
		    (double)v->fleet_valid_ms / 1000.0);
		family(b, "shoal_fleet_etcd_up", "gauge",
		       "[fleet] 1 while etcd answers, else 0.");
		put(b, "shoal_fleet_etcd_up %d\n", v->fleet_etcd_up);
	}
	if (!e->have_report)
		return;
	family(b, "shoal_engine_report_age_seconds", "gauge",
	       "Seconds since the engine's last report.");
	put(b, "shoal_engine_report_age_seconds %.3f\n",
	    (double)(v->now_ms - e->report_ms) / 1000.0);
	family(b, "shoal_engine_generation", "gauge",
	       "Lease generation the engine last reported applied.");
	put(b, "shoal_engine_generation %" PRIu64 "\n", e->report_gen);
	family(b, "shoal_engine_workers", "gauge", "The engine's workers.");
	put(b, "shoal_engine_workers %" JSON_INTEGER_FORMAT "\n", e->workers);
	if (e->have_netlink) {
		family(b, "shoal_netlink_overruns_total", "counter",
		       "Times the engine's netlink event socket overflowed "
		       "(events lost).");
		put(b, "shoal_netlink_overruns_total %" PRId64 "\n",
		    e->nl_overruns);
		family(b, "shoal_netlink_resyncs_total", "counter",
		       "Full netlink re-dumps after the first.");
		put(b, "shoal_netlink_resyncs_total %" PRId64 "\n",
		    e->nl_resyncs);
	}
	if (e->per_worker)
		workers_format(b, e->per_worker);
}
