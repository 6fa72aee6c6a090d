/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
#ifndef __KERNEL_FEATURES_H
#define __KERNEL_FEATURES_H

#include <stdbool.h>
#include <stddef.h>
#include <bpf/btf.h>
#include "udplat.h"

/*
 * Whether a plan can run on this kernel. Returns true, or false with the
 * reason in why ("attach failed: Operation not permitted (-1)").
 */
bool plan_available(const struct btf *vmlinux, enum plan plan, char *why, size_t whylen);

/* Picks the first available of fentry, kprobe, tracepoint; notes say why the others lost. */
enum plan choose_plan(const struct btf *vmlinux, char *notes, size_t noteslen);

const char *plan_name(enum plan plan);

/* The plan called name ("auto" included), or -1. */
int plan_from_name(const char *name);

/* The marks a plan sees as moments of their own (enum mark_bit). */
__u8 plan_marks(enum plan plan);

#endif /* __KERNEL_FEATURES_H */
