/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * shoalctl internals: the command table (commands.c, its types in cmd.h;
 * help and completion from it in help.c), the RPC client (rpc.c), the
 * print layer (print.c), the local value checks (args.c) and the live
 * view, top (top.c, top_frame.c, top_view.c; top.h).
 *
 * Everything here returns 0 or -errno and prints nothing, except the
 * print layer (whose job is printing) and the boundary helpers in main.c
 * that turn codes into messages and exit statuses. Single-threaded.
 */
#ifndef SHOALCTL_H
#define SHOALCTL_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

#define SHOALCTL_DEFAULT_SOCKET "/run/shoal/ctl.sock"
#define SHOALCTL_SOCKET_ENV "SHOAL_CTL_SOCKET"
/* How long a command waits for its reply, unless its row in the command
 * table says otherwise (struct cmd.timeout_ms). */
#define SHOALCTL_TIMEOUT_MS 5000

/* Exit statuses (BRIEF §3). */
enum {
	EXIT_OK = 0,
	EXIT_FAILED = 1, /* refused by the daemon, or could not ask it */
	EXIT_USAGE = 2,  /* bad words, options or malformed values */
};

/* ---- print layer (print.c) -------------------------------------------- */

/* How one field of a result object is shown. */
enum pf_type {
	PF_UINT,     /* integer; null shows as "-" */
	PF_STR,      /* string; null shows as "-" */
	PF_BOOL,     /* yes / no */
	PF_LIST,     /* array of strings, comma-joined; empty shows as "-" */
	PF_RANGE,    /* "lo-hi" from members key and key2 */
	PF_DURATION, /* seconds as 1h02m; null shows as "-" */
	PF_EXPIRES,  /* unix time relative to now; null shows as "never" */
	PF_TIME,     /* unix time as local date and time */
	PF_INITIALS, /* a hyphenated lease behaviour as the initials of its
			words, "and" left out ("address-and-port-dependent"
			is APD); null shows as "-" */
};

/* Field flags. */
#define PF_NOTABLE 0x1  /* only in record (key: value) output */
#define PF_NORECORD 0x2 /* only in table output */

/*
 * One field, described once: key (a member of the source object; "a.b"
 * reaches into nested objects) and the text title (column heading in a
 * table, label in a record). JSON output copies key (and key2) verbatim
 * from the source; text output formats them by type.
 */
struct pfield {
	const char *key;
	const char *key2;
	const char *title;
	enum pf_type type;
	unsigned int flags;
};

struct printer;

/* Make a printer writing to out, as JSON when json is true. NULL + errno. */
struct printer *print_new(FILE *out, bool json);
/* Emit the JSON document (if any) and free the printer; 0 or -errno. */
int print_finish(struct printer *p);
bool print_is_json(const struct printer *p);

/* Array member arr_key of src as a table of fields: text columns or a JSON
 * array of projected objects. */
void print_table(struct printer *p, json_t *src, const char *arr_key,
		 const struct pfield *fields);
/* Object member obj_key of src (src itself when obj_key is NULL) as
 * "title: value" lines, or a projected JSON object under obj_key. */
void print_record(struct printer *p, json_t *src, const char *obj_key,
		  const struct pfield *fields);
/* Member key of src copied whole into the JSON document (nothing when
 * absent); nothing in text. */
void print_copy(struct printer *p, json_t *src, const char *key);
/* Scalar member key of src as a note line ("title: value") in text. */
void print_member(struct printer *p, json_t *src, const struct pfield *f);
/*
 * Object member key of src mapping names to counts as a KIND/COUNTER/VALUE
 * table: names the classify callback calls drops first (in its order),
 * then events, then unknown names; zeros are hidden in text unless all.
 * JSON copies the object whole.
 */
void print_counters(struct printer *p, json_t *src, const char *key,
		    int (*rank)(const char *name, const char **kind), bool all);
/*
 * Array member arr_key of src, whose elements each hold a counters object
 * under obj_key, as one counter table with a column per element titled
 * col_prefix and the element's col_key ("W" and worker: W0, W1, ...).
 * Rows ordered as print_counters; a row zero in every column is hidden;
 * a name an element lacks shows as 0. JSON copies the array whole.
 */
void print_counter_columns(struct printer *p, json_t *src,
			   const char *arr_key, const char *col_key,
			   const char *col_prefix, const char *obj_key,
			   int (*rank)(const char *name, const char **kind));
/* A free-text line in text mode; nothing in JSON. */
void print_note(struct printer *p, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* ---- RPC client (rpc.c) ------------------------------------------------ */

/*
 * Send one JSON-RPC request for method with params (a reference is
 * taken) over a new connection to the Unix socket path, and wait at most
 * timeout_ms (connect, send and reply together) for the reply line with
 * the same id.
 * Returns 0 with *result set (caller decrefs), 1 with *error set to the
 * daemon's error object (caller decrefs), or -errno for a local failure
 * with *what naming the stage ("connect", "send", "receive", "reply").
 */
int rpc_call(const char *path, const char *method, json_t *params,
	     int timeout_ms, json_t **result, json_t **error,
	     const char **what);

/* ---- local value checks (args.c) ------------------------------------- */

/* Single values are checked with lib/value.h's parsers directly.
 * Comma-separated prefixes into a new JSON array of strings (*out);
 * 0 or -EINVAL. */
int arg_prefix_list(const char *s, unsigned int max, json_t **out);
/*
 * A point in time as unix time into *out, given @now: digits (unix time),
 * -N followed by s, m, h or d (that long before @now), or a local date
 * and time YYYY-MM-DD[(T| )HH:MM[:SS]] (UTC with a trailing Z), the form
 * shoalctl prints. 0 or -EINVAL.
 */
int arg_time(const char *s, int64_t now, int64_t *out);

/* ---- command table (commands.c) --------------------------------------- */

struct cli {
	const char *socket;
	bool json;
};

/* Run the command named by argv[0..argc) (after the global options).
 * Returns the exit status. */
int cmd_run(struct cli *cli, int argc, char **argv);
/* Global usage lines on out. */
void cmd_usage(FILE *out);

#endif /* SHOALCTL_H */
