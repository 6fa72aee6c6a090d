/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Kernel feature probes, all in one place (after libbpf-tools' trace_helpers.c). */
#ifndef __FEATURES_H
#define __FEATURES_H

#include <stdbool.h>
#include <stddef.h>
#include <bpf/btf.h>

/* 0 when an fexit program on func attaches, else the negative errno (a locked-down ftrace refuses only at attach). */
int fexit_attach_error(const struct btf *vmlinux, const char *func);

/* Whether kprobes can be created at all: a kprobe PMU or kprobe_events. */
bool kprobes_configured(void);

/* The first of names that /proc/kallsyms lacks (inlined or renamed: not kprobe-able), or NULL. */
const char *kallsyms_missing(const char *const *names, size_t n);

/* Whether the kernel's BTF has the tracepoint (its btf_trace_NAME type). */
bool tracepoint_exists(const struct btf *vmlinux, const char *name);

#endif /* __FEATURES_H */
