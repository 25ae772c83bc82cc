/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Engine logging: one DPDK log type per component, named
 * "shoal.<component>" (RTE_LOG_DEFAULT_LOGTYPE is "shoal", set in
 * engine/meson.build), so each can be tuned on its own with EAL's
 * --log-level=shoal.ctl:debug. Each type is registered, at level INFO, in
 * its component's main file with RTE_LOG_REGISTER_SUFFIX.
 *
 * EAL writes log lines to stdout and syslog once rte_eal_init() has run
 * (to stderr before). Log state changes only, never per packet or per
 * message: count those instead. EAL-free code (engine/nat/, config.c,
 * fib.c, netlink.c) does not log; it returns errors to its caller.
 */
#ifndef SHOAL_LOG_H
#define SHOAL_LOG_H

#include <rte_log.h>

extern int sh_logtype_config; /* shoal.config: reloads */
extern int sh_logtype_ctl;   /* shoal.ctl: the link to shoal-ctld */
extern int sh_logtype_linux; /* shoal.linux: mirrors, netlink, the FIB */
extern int sh_logtype_port;  /* shoal.port: data ports and mirrors */
extern int sh_logtype_notify; /* shoal.notify: the service manager */

/* One line at RTE_LOG_@level on shoal.@component; the format ends in \n. */
#define SH_LOG(level, component, ...)                                   \
	rte_log(RTE_LOG_##level, sh_logtype_##component,                \
		"shoal-engine: " #component ": " __VA_ARGS__)

#endif /* SHOAL_LOG_H */
