/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
#ifndef __LIBBPF_LOG_H
#define __LIBBPF_LOG_H

#include <stdbool.h>

/* Routes libbpf's output to stderr, its debug lines only when verbose. */
void libbpf_log_init(bool verbose);

/* The last warning libbpf printed: it names the program and the verifier's complaint. */
const char *libbpf_last_warning(void);

#endif /* __LIBBPF_LOG_H */
