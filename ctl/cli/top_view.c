/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * top's text view: a frame (top.h) as lines sized to the terminal. Every
 * section but the leases has a fixed most rows; the leases take what the
 * height leaves (fullest first, so the cut ones are the emptiest), each
 * with a bar as wide as the width allows.
 */
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <shoal/proto.h>

#include "top.h"

#define LINE_MAX 512
#define DROPS_SHOWN 8
#define BAR_MIN 8
#define BAR_MAX 50

struct lines {
	char (*v)[LINE_MAX];
	unsigned n, cap;
};

static void __attribute__((format(printf, 2, 3)))
add(struct lines *l, const char *fmt, ...)
{
	va_list ap;

	if (l->n == l->cap) {
		unsigned cap = l->cap ? l->cap * 2 : 64;
		char (*v)[LINE_MAX] = realloc(l->v, cap * sizeof(*v));

		if (!v)
			return;
		l->v = v;
		l->cap = cap;
	}
	va_start(ap, fmt);
	vsnprintf(l->v[l->n++], LINE_MAX, fmt, ap);
	va_end(ap);
}

/* A rate as 4 significant-ish characters: 950, 12.3k, 4.56M; "-" null. */
static const char *fmt_rate(char *buf, size_t len, json_t *v)
{
	double r = json_number_value(v);

	if (!json_is_number(v))
		snprintf(buf, len, "-");
	else if (r < 1000)
		snprintf(buf, len, "%.0f", r);
	else if (r < 1e6)
		snprintf(buf, len, "%.1fk", r / 1e3);
	else if (r < 1e9)
		snprintf(buf, len, "%.2fM", r / 1e6);
	else
		snprintf(buf, len, "%.2fG", r / 1e9);
	return buf;
}

static const char *fmt_int(char *buf, size_t len, json_t *v)
{
	if (json_is_integer(v))
		snprintf(buf, len, "%" JSON_INTEGER_FORMAT,
			 json_integer_value(v));
	else
		snprintf(buf, len, "-");
	return buf;
}

static void rates_row(struct lines *l, const char *name, json_t *r,
		      json_t *flows)
{
	static const char *const keys[] = {
		"rx_inside", "rx_outside", "tx_inside", "tx_outside", "drops",
	};
	char cell[5][16], f[24];
	size_t i;

	for (i = 0; i < 5; i++)
		fmt_rate(cell[i], sizeof(cell[i]), json_object_get(r, keys[i]));
	add(l, "%-12s %9s %9s %9s %9s %9s %10s", name, cell[0], cell[1],
	    cell[2], cell[3], cell[4], fmt_int(f, sizeof(f), flows));
}

static void workers_section(struct lines *l, json_t *frame)
{
	json_t *w;
	char name[32];
	size_t i;

	add(l, "%-12s %9s %9s %9s %9s %9s %10s", "PACKETS/S", "RX IN",
	    "RX OUT", "TX IN", "TX OUT", "DROPS", "FLOWS");
	rates_row(l, "all", json_object_get(frame, "total"),
		  json_object_get(frame, "flows"));
	json_array_foreach(json_object_get(frame, "per_worker"), i, w) {
		snprintf(name, sizeof(name), "W%" JSON_INTEGER_FORMAT
			 " lcore %" JSON_INTEGER_FORMAT,
			 json_integer_value(json_object_get(w, "worker")),
			 json_integer_value(json_object_get(w, "lcore")));
		rates_row(l, name, w, json_object_get(w, "flows"));
	}
}

static void drops_section(struct lines *l, json_t *frame)
{
	json_t *arr = json_object_get(frame, "drops"), *d;
	char r[16], t[24];
	size_t i;

	if (json_array_size(arr) == 0) {
		add(l, "no drops");
		return;
	}
	add(l, "%-24s %9s %14s", "DROP REASON", "/S", "TOTAL");
	json_array_foreach(arr, i, d) {
		if (i == DROPS_SHOWN) {
			add(l, "(%zu more reasons)", json_array_size(arr) - i);
			break;
		}
		add(l, "%-24s %9s %14s",
		    json_string_value(json_object_get(d, "reason")),
		    fmt_rate(r, sizeof(r), json_object_get(d, "rate")),
		    fmt_int(t, sizeof(t), json_object_get(d, "total")));
	}
}

/* " 42% [#####.....]" with @width columns of bar (none below BAR_MIN),
 * or why there is no fill. */
static void fmt_fill(char *buf, size_t len, json_t *row, unsigned width)
{
	json_t *fill = json_object_get(row, "fill");
	unsigned full, i;
	size_t n;
	double f;

	if (!json_is_number(fill)) {
		snprintf(buf, len, "%s",
			 json_is_null(json_object_get(row, "flows")) ?
			 "(usage not reported)" : "(shared ports)");
		return;
	}
	f = json_number_value(fill);
	if (f > 1)
		f = 1;
	n = (size_t)snprintf(buf, len, "%3.0f%%", f * 100);
	if (width < BAR_MIN || n + width + 4 > len)
		return;
	full = (unsigned)(f * width + 0.5);
	buf[n++] = ' ';
	buf[n++] = '[';
	for (i = 0; i < width; i++)
		buf[n++] = i < full ? '#' : '.';
	buf[n++] = ']';
	buf[n] = '\0';
}

static void leases_section(struct lines *l, json_t *frame, unsigned rows,
			   unsigned width)
{
	json_t *arr = json_object_get(frame, "leases"), *e;
	/* the columns before FILL, and "100% [" "]" */
	unsigned fixed = 6 + 11 + 26 + 8 + 6 + 6 + 1 + 7;
	unsigned bar = width > fixed ? width - fixed : 0;
	char where[48], fl[24], tcp[16], udp[16], fill[BAR_MAX + 16];
	const char *state;
	size_t i;

	if (bar > BAR_MAX)
		bar = BAR_MAX;
	if (json_array_size(arr) == 0) {
		add(l, "no nat leases");
		return;
	}
	add(l, "%-5s %-10s %-25s %7s %5s %5s  %s", "LEASE", "HOLDER",
	    "ADDRESS:PORTS", "FLOWS", "TCP", "UDP", "FILL");
	json_array_foreach(arr, i, e) {
		if (i + 1 == rows && json_array_size(arr) > rows) {
			add(l, "(%zu more leases)", json_array_size(arr) - i);
			break;
		}
		snprintf(where, sizeof(where), "%s:%" JSON_INTEGER_FORMAT
			 "-%" JSON_INTEGER_FORMAT,
			 json_string_value(json_object_get(e, "ip")),
			 json_integer_value(json_object_get(e, "lo")),
			 json_integer_value(json_object_get(e, "hi")));
		fmt_fill(fill, sizeof(fill), e, bar);
		state = json_string_value(json_object_get(e, "state"));
		add(l, "%-5" JSON_INTEGER_FORMAT " %-10.10s %-25s %7s %5s %5s  "
		    "%s%s", json_integer_value(json_object_get(e, "id")),
		    json_string_value(json_object_get(e, "holder")), where,
		    fmt_int(fl, sizeof(fl), json_object_get(e, "flows")),
		    fmt_int(tcp, sizeof(tcp), json_object_get(e, "tcp_ports")),
		    fmt_int(udp, sizeof(udp), json_object_get(e, "udp_ports")),
		    fill, state && strcmp(state, "draining") == 0 ?
		    " draining" : "");
	}
}

static void clients_section(struct lines *l, json_t *frame)
{
	json_t *arr = json_object_get(frame, "clients"), *c;
	char f[24];
	size_t i;

	if (json_array_size(arr) == 0) {
		add(l, "no clients");
		return;
	}
	add(l, "%-16s %8s  %s", "BUSIEST CLIENT", "FLOWS", "OUTSIDE");
	json_array_foreach(arr, i, c)
		add(l, "%-16s %8s  %s",
		    json_string_value(json_object_get(c, "client")),
		    fmt_int(f, sizeof(f), json_object_get(c, "flows")),
		    json_string_value(json_object_get(c, "outside")));
}

static void title(struct lines *l, json_t *frame, const struct top_view *v)
{
	time_t t = (time_t)json_integer_value(json_object_get(frame, "time"));
	char when[16], flows[24], age[24];
	struct tm tm;

	localtime_r(&t, &tm);
	strftime(when, sizeof(when), "%H:%M:%S", &tm);
	if (json_object_get(frame, "error")) {
		add(l, "shoalctl top  %s  every %us%s", when, v->interval,
		    v->ansi ? "  (q quits)" : "");
		return;
	}
	add(l, "shoalctl top  %s  %" JSON_INTEGER_FORMAT " worker(s), %s "
	    "flows, report %ss old, every %us%s", when,
	    json_integer_value(json_object_get(frame, "workers")),
	    fmt_int(flows, sizeof(flows), json_object_get(frame, "flows")),
	    fmt_int(age, sizeof(age), json_object_get(frame, "report_age")),
	    v->interval, v->ansi ? "  (q quits)" : "");
}

void top_render(FILE *out, json_t *frame, const struct top_view *v)
{
	json_t *err = json_object_get(frame, "error");
	struct lines l = { 0 }, rest = { 0 };
	unsigned used, rows, i, w = v->width < LINE_MAX ? v->width :
				    LINE_MAX - 1;

	title(&l, frame, v);
	if (err) {
		add(&l, "%s", "");
		add(&l, "no figures: %s: %s",
		    json_string_value(json_object_get(err, "data")),
		    json_string_value(json_object_get(err, "message")));
	} else {
		add(&l, "%s", "");
		workers_section(&l, frame);
		add(&l, "%s", "");
		drops_section(&l, frame);
		/* The clients go after the leases, but are counted first:
		 * the leases take the rows left. */
		add(&rest, "%s", "");
		clients_section(&rest, frame);
		used = l.n + 1 + rest.n;
		rows = v->height > used + 2 ? v->height - used - 1 : 2;
		if (!v->height)
			rows = UINT32_MAX;
		add(&l, "%s", "");
		leases_section(&l, frame, rows, w);
		for (i = 0; i < rest.n; i++)
			add(&l, "%s", rest.v[i]);
	}
	for (i = 0; i < l.n && (!v->height || i < v->height); i++) {
		/* On a terminal the last row gets no newline: it would
		 * scroll the screen. */
		bool last = v->ansi && v->height && i + 1 == v->height;

		fprintf(out, "%.*s%s%s", (int)w, l.v[i], v->ansi ? "\033[K" : "",
			last ? "" : "\n");
	}
	if (v->ansi)
		fputs("\033[J", out);
	free(l.v);
	free(rest.v);
}
