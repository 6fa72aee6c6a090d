// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <bpf/libbpf.h>
#include "libbpf_log.h"

static bool verbose;
static char last_warning[192];

static int print_libbpf(enum libbpf_print_level level, const char *fmt,
			va_list args)
{
	va_list copy;

	if (level == LIBBPF_WARN) {
		va_copy(copy, args);
		vsnprintf(last_warning, sizeof(last_warning), fmt, copy);
		va_end(copy);
		last_warning[strcspn(last_warning, "\n")] = '\0';
	}
	if (level == LIBBPF_DEBUG && !verbose)
		return 0;
	return vfprintf(stderr, fmt, args);
}

void libbpf_log_init(bool on)
{
	verbose = on;
	libbpf_set_print(print_libbpf);
}

const char *libbpf_last_warning(void)
{
	return last_warning;
}
