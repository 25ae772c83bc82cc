/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The command table's types, shared by commands.c (the table, its
 * builders and printers, dispatch) and help.c (help, usage lines and the
 * generated bash completion, all read from the table).
 */
#ifndef SHOALCTL_CMD_H
#define SHOALCTL_CMD_H

#include "shoalctl.h"

#define OPT_MAX 10
#define POS_MAX 8

struct opt {
	const char *name;    /* "--holder" */
	const char *alt;     /* a second exact spelling ("-v"), or NULL */
	const char *metavar; /* the value's name, or NULL for a flag */
	const char *choices; /* the values it takes, space-separated (checked
				and completed), or NULL: any */
};

struct cmd;

/* One parsed command line. */
struct call {
	const struct cmd *cmd;
	struct cli *cli;
	const char *val[OPT_MAX]; /* by option index; flags get "" */
	const char *pos[POS_MAX];
	int npos;
	char why[256]; /* usage error text set by a build function */
};

struct cmd {
	const char *words;   /* "lease add" */
	const char *args;    /* what follows the words in the usage line */
	const char *summary; /* one line for help */
	const struct opt *opts;
	int min_pos, max_pos; /* positional arguments; max -1: any */
	const char *method;   /* RPC method, or NULL for a local command */
	int timeout_ms;       /* how long to wait for its reply; 0:
				 SHOALCTL_TIMEOUT_MS */
	/* Fill params from the call; -EINVAL with c->why for a usage error. */
	int (*build)(struct call *c, json_t *params);
	/* Print a successful result. */
	void (*show)(struct printer *p, json_t *result, const struct call *c);
	/* A local command's whole work; returns the exit status. */
	int (*local)(struct call *c);
	bool hidden;
};

/* The table, terminated by a row with NULL words. */
extern const struct cmd cmds[];

/* Value of the option spelled name in this call, or NULL if absent. */
const char *opt_val(const struct call *c, const char *name);
/* "usage: shoalctl [-s SOCKET] [-j] WORDS ARGS" on out, after lead. */
void usage_line(FILE *out, const char *lead, const struct cmd *cmd);
/* Does cmd's word list start with the n words w (exactly)? */
bool words_prefix(const struct cmd *cmd, char **w, int n);
/* The local commands (struct cmd.local). */
int local_help(struct call *c);
int local_completion(struct call *c);
int local_top(struct call *c); /* top.c */

#endif /* SHOALCTL_CMD_H */
