/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Everything shoalctl says about itself comes from the command table:
 * usage lines, `help` (text or -j) and the bash completion script that
 * the build generates with `shoalctl __bash-completion`.
 */
#include <stdlib.h>
#include <string.h>

#include "cmd.h"

static const char *const globals_usage = "[-s SOCKET] [-j]";

void usage_line(FILE *out, const char *lead, const struct cmd *cmd)
{
	fprintf(out, "%sshoalctl %s %s%s%s\n", lead, globals_usage, cmd->words,
		*cmd->args ? " " : "", cmd->args);
}

bool words_prefix(const struct cmd *cmd, char **w, int n)
{
	const char *s = cmd->words;
	size_t len;
	int i;

	for (i = 0; i < n; i++) {
		len = strlen(w[i]);
		if (strncmp(s, w[i], len) != 0 || (s[len] != ' ' && s[len] != '\0'))
			return false;
		s += len;
		if (*s == ' ')
			s++;
		else if (i + 1 < n)
			return false;
	}
	return true;
}

void cmd_usage(FILE *out)
{
	const struct cmd *cmd;

	fprintf(out, "usage: shoalctl %s COMMAND [ARGS...]\n", globals_usage);
	for (cmd = cmds; cmd->words != NULL; cmd++)
		if (!cmd->hidden)
			usage_line(out, "       ", cmd);
}

int local_help(struct call *c)
{
	static const struct pfield f[] = {
		{ .key = "command", .title = "COMMAND", .type = PF_STR },
		{ .key = "usage", .title = "USAGE", .type = PF_STR },
		{ .key = "summary", .title = "SUMMARY", .type = PF_STR },
		{ 0 },
	};
	const struct cmd *cmd;
	struct printer *p;
	json_t *res, *arr;
	char line[512];
	int found = 0;

	res = json_object();
	arr = json_array();
	json_object_set_new(res, "commands", arr);
	for (cmd = cmds; cmd->words != NULL; cmd++) {
		if (cmd->hidden || !words_prefix(cmd, (char **)c->pos, c->npos))
			continue;
		snprintf(line, sizeof(line), "shoalctl %s%s%s", cmd->words,
			 *cmd->args ? " " : "", cmd->args);
		json_array_append_new(arr, json_pack("{s:s,s:s,s:s}", "command",
						     cmd->words, "usage", line,
						     "summary", cmd->summary));
		found++;
	}
	if (found == 0) {
		json_decref(res);
		fprintf(stderr, "shoalctl: help: unknown command '%s'\n",
			c->pos[0]);
		cmd_usage(stderr);
		return EXIT_USAGE;
	}
	p = print_new(stdout, c->cli->json);
	if (p == NULL) {
		json_decref(res);
		return EXIT_FAILED;
	}
	if (print_is_json(p)) {
		print_table(p, res, "commands", f);
	} else {
		json_t *e;
		size_t i;

		if (c->npos == 0)
			fprintf(stdout, "usage: shoalctl %s COMMAND [ARGS...]\n\n",
				globals_usage);
		json_array_foreach(arr, i, e) {
			fprintf(stdout, "  %s\n      %s\n",
				json_string_value(json_object_get(e, "usage")),
				json_string_value(json_object_get(e, "summary")));
		}
		if (c->npos == 0)
			fprintf(stdout,
				"\noptions (before COMMAND):\n"
				"  -s SOCKET  control socket (default $%s, "
				"else %s)\n"
				"  -j         one JSON document on stdout\n"
				"\nexit status: 0 success, 1 refused or failed, "
				"2 usage error\n",
				SHOALCTL_SOCKET_ENV, SHOALCTL_DEFAULT_SOCKET);
	}
	json_decref(res);
	return print_finish(p) < 0 ? EXIT_FAILED : EXIT_OK;
}

/* Append word to the space-separated list unless it is there already. */
static void list_add(char *list, size_t size, const char *word, size_t len)
{
	const char *s = list;
	size_t used = strlen(list);

	while (*s != '\0') {
		const char *e = strchr(s, ' ');
		size_t n = e ? (size_t)(e - s) : strlen(s);

		if (n == len && strncmp(s, word, len) == 0)
			return;
		s += n + (e != NULL);
	}
	snprintf(list + used, size - used, "%s%.*s", used ? " " : "", (int)len,
		 word);
}

/* Next words after prefix ("" or "lease ") among the visible commands. */
static void node_children(const char *prefix, char *kids, size_t size)
{
	const struct cmd *k;
	size_t plen = strlen(prefix);

	for (k = cmds; k->words != NULL; k++) {
		const char *w = k->words + plen;
		const char *e;

		if (k->hidden || strncmp(k->words, prefix, plen) != 0)
			continue;
		e = strchr(w, ' ');
		list_add(kids, size, w, e ? (size_t)(e - w) : strlen(w));
	}
}

/* "lease add" -> "/lease/add" (the script's node names). */
static void node_name(char *out, size_t size, const char *words, size_t len)
{
	char *s;

	snprintf(out, size, "%s%.*s", len ? "/" : "", (int)len, words);
	for (s = out; *s; s++)
		if (*s == ' ')
			*s = '/';
}

/*
 * The bash completion script, generated from the table: the node a
 * command line has reached (the command words typed so far) selects the
 * candidates: child words of a group, or a full command's options.
 */
int local_completion(struct call *c)
{
	const struct cmd *cmd, *k;
	const struct opt *o;
	char node[128], prefix[128], kids[1024];
	const char *sp;
	FILE *out = stdout;

	(void)c;
	fprintf(out,
		"# bash completion for shoalctl.\n"
		"# Generated from shoalctl's command table by "
		"'shoalctl __bash-completion'; do not edit.\n"
		"_shoalctl()\n{\n"
		"\tlocal cur=${COMP_WORDS[COMP_CWORD]} "
		"prev=${COMP_WORDS[COMP_CWORD-1]}\n"
		"\tlocal node=\"\" words=\"\" w i\n"
		"\tcase $prev in\n"
		"\t-s) COMPREPLY=($(compgen -f -- \"$cur\")); return ;;\n");
	/* Options with a fixed set of values offer them (each option
	 * once); the other options that take a value: nothing sensible to
	 * offer. */
	kids[0] = '\0';
	for (cmd = cmds; cmd->words != NULL; cmd++)
		for (o = cmd->opts; o != NULL && o->name != NULL; o++) {
			size_t before = strlen(kids);

			if (o->choices == NULL)
				continue;
			list_add(kids, sizeof(kids), o->name, strlen(o->name));
			if (strlen(kids) != before)
				fprintf(out, "\t%s) COMPREPLY=($(compgen -W "
					"\"%s\" -- \"$cur\")); return ;;\n",
					o->name, o->choices);
		}
	kids[0] = '\0';
	for (cmd = cmds; cmd->words != NULL; cmd++)
		for (o = cmd->opts; o != NULL && o->name != NULL; o++)
			if (o->metavar != NULL && o->choices == NULL)
				list_add(kids, sizeof(kids), o->name,
					 strlen(o->name));
	if (kids[0] != '\0') {
		char *s;

		for (s = kids; *s; s++)
			if (*s == ' ')
				*s = '|';
		fprintf(out, "\t%s) return ;;\n", kids);
	}
	fprintf(out, "\tesac\n"
		     "\tfor ((i = 1; i < COMP_CWORD; i++)); do\n"
		     "\t\tw=${COMP_WORDS[i]}\n"
		     "\t\tcase \"$node/$w\" in\n"
		     "\t\t/-s) i=$((i + 1)) ;;\n");
	/* Every prefix of every command's words is a node. */
	for (cmd = cmds; cmd->words != NULL; cmd++) {
		if (cmd->hidden)
			continue;
		for (sp = cmd->words;; sp++) {
			size_t len = (size_t)(sp - cmd->words);

			/* Each node once: skip one an earlier command made. */
			for (k = cmds; k != cmd; k++)
				if (strncmp(k->words, cmd->words, len) == 0 &&
				    (k->words[len] == ' ' ||
				     k->words[len] == '\0'))
					break;
			if ((*sp == ' ' || *sp == '\0') && k == cmd) {
				node_name(node, sizeof(node), cmd->words, len);
				fprintf(out, "\t\t\"%s\") node=\"$node/$w\" ;;\n",
					node);
			}
			if (*sp == '\0')
				break;
		}
	}
	fprintf(out, "\t\tesac\n\tdone\n\tcase $node in\n");
	/* Groups: their child words (the top level also its options). */
	kids[0] = '\0';
	list_add(kids, sizeof(kids), "-s", 2);
	list_add(kids, sizeof(kids), "-j", 2);
	node_children("", kids, sizeof(kids));
	fprintf(out, "\t\"\") words=\"%s\" ;;\n", kids);
	for (cmd = cmds; cmd->words != NULL; cmd++) {
		if (cmd->hidden)
			continue;
		for (sp = strchr(cmd->words, ' '); sp != NULL;
		     sp = strchr(sp + 1, ' ')) {
			size_t len = (size_t)(sp - cmd->words);

			/* Emit a group once: at its first command. */
			for (k = cmds; k != cmd; k++)
				if (strncmp(k->words, cmd->words, len + 1) == 0)
					break;
			if (k != cmd)
				continue;
			snprintf(prefix, sizeof(prefix), "%.*s", (int)len + 1,
				 cmd->words);
			node_name(node, sizeof(node), cmd->words, len);
			kids[0] = '\0';
			node_children(prefix, kids, sizeof(kids));
			fprintf(out, "\t\"%s\") words=\"%s\" ;;\n", node, kids);
		}
	}
	/* Full commands: their options; help takes command words. */
	for (cmd = cmds; cmd->words != NULL; cmd++) {
		if (cmd->hidden)
			continue;
		kids[0] = '\0';
		for (o = cmd->opts; o != NULL && o->name != NULL; o++) {
			list_add(kids, sizeof(kids), o->name, strlen(o->name));
			if (o->alt != NULL)
				list_add(kids, sizeof(kids), o->alt,
					 strlen(o->alt));
		}
		if (cmd->max_pos < 0)
			node_children("", kids, sizeof(kids));
		node_name(node, sizeof(node), cmd->words, strlen(cmd->words));
		fprintf(out, "\t\"%s\") words=\"%s\" ;;\n", node, kids);
	}
	fprintf(out, "\tesac\n"
		     "\tCOMPREPLY=($(compgen -W \"$words\" -- \"$cur\"))\n"
		     "}\n"
		     "complete -F _shoalctl shoalctl\n");
	return fflush(out) == 0 ? EXIT_OK : EXIT_FAILED;
}
