// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * vmexit STATUS: stops the VM through qemu's isa-debug-exit device
 * (iobase 0xf4), which exits qemu with (STATUS << 1) | 1. Debian kernels
 * have no /dev/port, hence a program rather than dd.
 */
#include <stdio.h>
#include <stdlib.h>
#include <sys/io.h>

#define DEBUG_EXIT_PORT 0xf4

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: vmexit STATUS\n");
		return 2;
	}
	if (ioperm(DEBUG_EXIT_PORT, 1, 1)) {
		perror("vmexit: failed to get access to port 0xf4");
		return 1;
	}
	outb(atoi(argv[1]), DEBUG_EXIT_PORT);
	fprintf(stderr, "vmexit: isa-debug-exit did not stop the VM\n");
	return 1;
}
