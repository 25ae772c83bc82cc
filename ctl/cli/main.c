/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * shoalctl: the command-line front-end of shoal-ctld.
 *
 *   shoalctl [-s SOCKET] [-j] COMMAND [ARGS...]     (shoalctl help)
 *
 * main() reads the global options and hands the rest to the command
 * table (commands.c). Exit status: 0 success, 1 refused or failed,
 * 2 usage error.
 */
#include <stdlib.h>
#include <string.h>

#include <shoal/proto.h>

#include "shoalctl.h"

int main(int argc, char **argv)
{
	struct cli cli = { 0 };
	const char *env = getenv(SHOALCTL_SOCKET_ENV);
	int i;

	cli.socket = env != NULL && *env != '\0' ? env : SHOALCTL_DEFAULT_SOCKET;
	/* Global options come before the command words, spelled exactly. */
	for (i = 1; i < argc && argv[i][0] == '-'; i++) {
		if (strcmp(argv[i], "-j") == 0) {
			cli.json = true;
		} else if (strcmp(argv[i], "-s") == 0 && i + 1 < argc &&
			   argv[i + 1][0] != '\0') {
			cli.socket = argv[++i];
		} else if (strcmp(argv[i], "--version") == 0) {
			printf("shoalctl %s (control protocol %d)\n",
			       SHOAL_VERSION, SHOAL_PROTO_VERSION);
			return 0;
		} else if (strcmp(argv[i], "-h") == 0 ||
			   strcmp(argv[i], "--help") == 0) {
			static char help[] = "help";
			char *words[] = { help };

			return cmd_run(&cli, 1, words);
		} else {
			fprintf(stderr, "shoalctl: %s '%s'\n",
				strcmp(argv[i], "-s") == 0 ?
					"missing SOCKET after" :
					"unknown option",
				argv[i]);
			cmd_usage(stderr);
			return EXIT_USAGE;
		}
	}
	return cmd_run(&cli, argc - i, argv + i);
}
