/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The print layer: one description of each field (struct pfield) renders
 * either human text (aligned columns, "title: value" records) or JSON.
 *
 * JSON mode builds one document, the projection of the daemon's result
 * through the same field lists, and writes it in print_finish(); text
 * mode writes as it goes, buffering only a table's rows to align them.
 */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <shoal/proto.h>

#include "shoalctl.h"

#define CELL_MAX 256
/* stats --all: KIND, COUNTER and a column per worker */
#define TABLE_COLS (2 + SHOAL_MAX_WORKERS)

struct printer {
	FILE *out;
	json_t *doc; /* JSON mode: the document being built; else NULL */
};

struct printer *print_new(FILE *out, bool json)
{
	struct printer *p = calloc(1, sizeof(*p));

	if (p == NULL)
		return NULL;
	p->out = out;
	if (json) {
		p->doc = json_object();
		if (p->doc == NULL) {
			free(p);
			errno = ENOMEM;
			return NULL;
		}
	}
	return p;
}

bool print_is_json(const struct printer *p)
{
	return p->doc != NULL;
}

int print_finish(struct printer *p)
{
	int rc = 0;

	if (p->doc != NULL) {
		if (json_dumpf(p->doc, p->out, JSON_INDENT(2) | JSON_SORT_KEYS |
							 JSON_ENSURE_ASCII) < 0)
			rc = -EIO;
		fputc('\n', p->out);
		json_decref(p->doc);
	}
	if (fflush(p->out) != 0)
		rc = -errno;
	free(p);
	return rc;
}

/* Member key of obj, following "a.b" into nested objects; NULL if absent. */
static json_t *get_path(json_t *obj, const char *key)
{
	char part[64];
	const char *dot;
	size_t n;

	while ((dot = strchr(key, '.')) != NULL) {
		n = (size_t)(dot - key);
		if (n >= sizeof(part))
			return NULL;
		memcpy(part, key, n);
		part[n] = '\0';
		obj = json_object_get(obj, part);
		key = dot + 1;
	}
	return json_object_get(obj, key);
}

/* Set "a.b" = v in obj, creating the intermediate objects. */
static void set_path(json_t *obj, const char *key, json_t *v)
{
	char part[64];
	const char *dot;
	json_t *sub;
	size_t n;

	while ((dot = strchr(key, '.')) != NULL) {
		n = (size_t)(dot - key);
		if (n >= sizeof(part))
			return;
		memcpy(part, key, n);
		part[n] = '\0';
		sub = json_object_get(obj, part);
		if (!json_is_object(sub)) {
			sub = json_object();
			json_object_set_new(obj, part, sub);
		}
		obj = sub;
		key = dot + 1;
	}
	json_object_set(obj, key, v != NULL ? v : json_null());
}

/* The fields of src a JSON rendering keeps, as a new object. */
static json_t *project(json_t *src, const struct pfield *fields)
{
	json_t *o = json_object();
	const struct pfield *f;

	for (f = fields; f->key != NULL; f++) {
		set_path(o, f->key, get_path(src, f->key));
		if (f->key2 != NULL)
			set_path(o, f->key2, get_path(src, f->key2));
	}
	return o;
}

static void fmt_duration(char *buf, size_t len, json_int_t s)
{
	if (s < 0)
		s = 0;
	if (s < 60)
		snprintf(buf, len, "%llds", (long long)s);
	else if (s < 3600)
		snprintf(buf, len, "%lldm%02llds", (long long)(s / 60),
			 (long long)(s % 60));
	else if (s < 86400)
		snprintf(buf, len, "%lldh%02lldm", (long long)(s / 3600),
			 (long long)(s % 3600 / 60));
	else
		snprintf(buf, len, "%lldd%02lldh", (long long)(s / 86400),
			 (long long)(s % 86400 / 3600));
}

/* A scalar as text whatever its JSON type: a daemon newer than this CLI
 * may send a number where a string was, or the reverse. */
static void fmt_any(char *buf, size_t len, json_t *v)
{
	char *dump;

	if (json_is_string(v)) {
		snprintf(buf, len, "%s", json_string_value(v));
	} else if (json_is_integer(v)) {
		snprintf(buf, len, "%" JSON_INTEGER_FORMAT,
			 json_integer_value(v));
	} else {
		dump = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
		snprintf(buf, len, "%s", dump != NULL ? dump : "?");
		free(dump);
	}
}

/* Text of one field of src. */
static void fmt_field(char *buf, size_t len, json_t *src,
		      const struct pfield *f)
{
	json_t *v = get_path(src, f->key);
	json_t *v2, *e;
	size_t i, off;
	time_t t;
	struct tm tm;

	if (v == NULL || json_is_null(v)) {
		snprintf(buf, len, "%s", f->type == PF_EXPIRES ? "never" : "-");
		return;
	}
	switch (f->type) {
	case PF_UINT:
	case PF_STR:
		fmt_any(buf, len, v);
		return;
	case PF_BOOL:
		snprintf(buf, len, "%s", json_is_true(v) ? "yes" : "no");
		return;
	case PF_LIST:
		buf[0] = '\0';
		off = 0;
		json_array_foreach(v, i, e) {
			if (off < len)
				off += (size_t)snprintf(buf + off, len - off,
							"%s%s", i ? "," : "",
							json_string_value(e));
		}
		if (off == 0)
			snprintf(buf, len, "-");
		return;
	case PF_RANGE:
		v2 = get_path(src, f->key2);
		snprintf(buf, len, "%" JSON_INTEGER_FORMAT "-%" JSON_INTEGER_FORMAT,
			 json_integer_value(v), json_integer_value(v2));
		return;
	case PF_DURATION:
		fmt_duration(buf, len, json_integer_value(v));
		return;
	case PF_EXPIRES:
		t = (time_t)json_integer_value(v);
		if (t <= time(NULL)) {
			snprintf(buf, len, "expired");
			return;
		}
		snprintf(buf, len, "in ");
		fmt_duration(buf + 3, len - 3, (json_int_t)(t - time(NULL)));
		return;
	case PF_INITIALS: {
		const char *w = json_string_value(v);

		/* bounded by the string: each turn moves past a '-' */
		for (off = 0; w != NULL && *w != '\0' && off + 1 < len;
		     w = strchr(w, '-') ? strchr(w, '-') + 1 : "")
			if (strncmp(w, "and-", 4) != 0)
				buf[off++] = (char)toupper((unsigned char)*w);
		buf[off] = '\0';
		return;
	}
	case PF_TIME:
		t = (time_t)json_integer_value(v);
		if (localtime_r(&t, &tm) == NULL ||
		    strftime(buf, len, "%Y-%m-%d %H:%M:%S", &tm) == 0)
			snprintf(buf, len, "%lld", (long long)t);
		return;
	}
	snprintf(buf, len, "?");
}

void print_table(struct printer *p, json_t *src, const char *arr_key,
		 const struct pfield *fields)
{
	json_t *arr = json_object_get(src, arr_key), *row;
	const struct pfield *cols[TABLE_COLS];
	size_t width[TABLE_COLS], ncols = 0, nrows, r, c, i;
	char *cells;

	if (p->doc != NULL) {
		json_t *out = json_array();

		json_array_foreach(arr, i, row)
			json_array_append_new(out, project(row, fields));
		json_object_set_new(p->doc, arr_key, out);
		return;
	}
	for (i = 0; fields[i].key != NULL && ncols < TABLE_COLS; i++) {
		if (fields[i].flags & PF_NOTABLE)
			continue;
		cols[ncols] = &fields[i];
		width[ncols] = strlen(fields[i].title);
		ncols++;
	}
	nrows = json_array_size(arr);
	cells = calloc(nrows * ncols + 1, CELL_MAX);
	if (cells == NULL)
		return;
	json_array_foreach(arr, r, row) {
		for (c = 0; c < ncols; c++) {
			char *cell = cells + (r * ncols + c) * CELL_MAX;

			fmt_field(cell, CELL_MAX, row, cols[c]);
			if (strlen(cell) > width[c])
				width[c] = strlen(cell);
		}
	}
	for (r = 0; r <= nrows; r++) {
		for (c = 0; c < ncols; c++) {
			const char *s = r == 0 ? cols[c]->title :
				cells + ((r - 1) * ncols + c) * CELL_MAX;

			if (c + 1 < ncols)
				fprintf(p->out, "%-*s  ", (int)width[c], s);
			else
				fprintf(p->out, "%s\n", s);
		}
	}
	free(cells);
}

void print_record(struct printer *p, json_t *src, const char *obj_key,
		  const struct pfield *fields)
{
	json_t *obj = obj_key != NULL ? json_object_get(src, obj_key) : src;
	const struct pfield *f;
	size_t width = 0;
	char cell[CELL_MAX];

	if (p->doc != NULL) {
		json_t *o = project(obj, fields);

		if (obj_key != NULL) {
			json_object_set_new(p->doc, obj_key, o);
		} else {
			json_object_update(p->doc, o);
			json_decref(o);
		}
		return;
	}
	for (f = fields; f->key != NULL; f++)
		if (!(f->flags & PF_NORECORD) && strlen(f->title) > width)
			width = strlen(f->title);
	for (f = fields; f->key != NULL; f++) {
		if (f->flags & PF_NORECORD)
			continue;
		fmt_field(cell, sizeof(cell), obj, f);
		fprintf(p->out, "%s:%*s %s\n", f->title,
			(int)(width - strlen(f->title)), "", cell);
	}
}

void print_copy(struct printer *p, json_t *src, const char *key)
{
	json_t *v = json_object_get(src, key);

	if (p->doc != NULL && v != NULL)
		json_object_set(p->doc, key, v);
}

void print_member(struct printer *p, json_t *src, const struct pfield *f)
{
	char cell[CELL_MAX];

	if (p->doc != NULL) {
		set_path(p->doc, f->key, get_path(src, f->key));
		return;
	}
	fmt_field(cell, sizeof(cell), src, f);
	fprintf(p->out, "%s: %s\n", f->title, cell);
}

/* Room for a counter table's column keys ("c0", "c1", ...). */
#define COL_KEY_MAX 24

/*
 * Text of a counter table: KIND, COUNTER, then one column per object of
 * objs[0..n) titled titles[i]. A row per name found in any of them,
 * ordered by rank then name; a row that is zero in every column is
 * hidden unless zeros. A name one object lacks shows as 0.
 */
static void counter_table(struct printer *p, json_t *const *objs,
			  const char *const *titles, size_t n,
			  int (*rank)(const char *name, const char **kind),
			  bool zeros)
{
	struct entry {
		const char *name, *kind;
		int rank;
		bool nonzero;
	} *ents, tmp;
	struct pfield *cols;
	char (*keys)[COL_KEY_MAX];
	size_t max = 0, ne = 0, i, j, c;
	json_t *rows, *row, *holder, *v;
	const char *name;

	for (c = 0; c < n; c++)
		max += json_object_size(objs[c]);
	ents = calloc(max + 1, sizeof(*ents));
	cols = calloc(n + 3, sizeof(*cols));
	keys = calloc(n + 1, sizeof(*keys));
	rows = json_array();
	if (ents == NULL || cols == NULL || keys == NULL || rows == NULL)
		goto out;
	/* 1. The union of the names, a few dozen: a linear search each. */
	for (c = 0; c < n; c++) {
		json_object_foreach(objs[c], name, v) {
			for (i = 0; i < ne && strcmp(ents[i].name, name); i++)
				;
			if (i == ne) {
				ents[ne].name = name;
				ents[ne].rank = rank(name, &ents[ne].kind);
				ne++;
			}
			if (json_integer_value(v) != 0)
				ents[i].nonzero = true;
		}
	}
	/* 2. Insertion sort by rank, then name. */
	for (i = 1; i < ne; i++) {
		tmp = ents[i];
		for (j = i; j > 0 && (ents[j - 1].rank > tmp.rank ||
				      (ents[j - 1].rank == tmp.rank &&
				       strcmp(ents[j - 1].name, tmp.name) > 0));
		     j--)
			ents[j] = ents[j - 1];
		ents[j] = tmp;
	}
	/* 3. The table printer on a synthetic array. */
	cols[0] = (struct pfield){ .key = "kind", .title = "KIND",
				   .type = PF_STR };
	cols[1] = (struct pfield){ .key = "name", .title = "COUNTER",
				   .type = PF_STR };
	for (c = 0; c < n; c++) {
		snprintf(keys[c], sizeof(keys[c]), "c%zu", c);
		cols[c + 2] = (struct pfield){ .key = keys[c],
					       .title = titles[c],
					       .type = PF_UINT };
	}
	for (i = 0; i < ne; i++) {
		if (!zeros && !ents[i].nonzero)
			continue;
		row = json_pack("{s:s,s:s}", "kind", ents[i].kind, "name",
				ents[i].name);
		for (c = 0; c < n; c++)
			json_object_set_new(row, keys[c], json_integer(
				json_integer_value(json_object_get(
					objs[c], ents[i].name))));
		json_array_append_new(rows, row);
	}
	holder = json_pack("{s:O}", "rows", rows);
	print_table(p, holder, "rows", cols);
	json_decref(holder);
out:
	json_decref(rows);
	free(keys);
	free(cols);
	free(ents);
}

void print_counters(struct printer *p, json_t *src, const char *key,
		    int (*rank)(const char *name, const char **kind), bool all)
{
	json_t *obj = json_object_get(src, key);
	static const char *const title = "VALUE";

	if (p->doc != NULL) {
		set_path(p->doc, key, obj);
		return;
	}
	counter_table(p, &obj, &title, 1, rank, all);
}

void print_counter_columns(struct printer *p, json_t *src,
			   const char *arr_key, const char *col_key,
			   const char *col_prefix, const char *obj_key,
			   int (*rank)(const char *name, const char **kind))
{
	json_t *arr = json_object_get(src, arr_key), *e;
	size_t n = json_array_size(arr), i;
	json_t **objs;
	char (*titles)[CELL_MAX];
	const char **tp;

	if (p->doc != NULL) {
		set_path(p->doc, arr_key, arr);
		return;
	}
	objs = calloc(n + 1, sizeof(*objs));
	titles = calloc(n + 1, sizeof(*titles));
	tp = calloc(n + 1, sizeof(*tp));
	if (objs != NULL && titles != NULL && tp != NULL) {
		json_array_foreach(arr, i, e) {
			objs[i] = json_object_get(e, obj_key);
			snprintf(titles[i], sizeof(titles[i]), "%s", col_prefix);
			fmt_any(titles[i] + strlen(titles[i]),
				sizeof(titles[i]) - strlen(titles[i]),
				json_object_get(e, col_key));
			tp[i] = titles[i];
		}
		counter_table(p, objs, tp, n, rank, false);
	}
	free(tp);
	free(titles);
	free(objs);
}

void print_note(struct printer *p, const char *fmt, ...)
{
	va_list ap;

	if (p->doc != NULL)
		return;
	va_start(ap, fmt);
	vfprintf(p->out, fmt, ap);
	va_end(ap);
	fputc('\n', p->out);
}
