# The send check: datagrams that a sender on the traced port sent through the
# virtio-net NIC, matched in order to the loader's events from that port.
# Each has exactly one event, of kind send, with the sender's pid and the
# datagram's length, and every mark of the send side in order: send <=
# queued <= xmitStart <= xmitDone <= sent (on this NIC a datagram leaves
# within its sender's call). Its qdisc stage must be within max_diff_ns of
# the span of the kernel's transmit stamps, softwareNs - schedNs, at p99: the
# stamps are taken just before queued and just after xmitStart, so the span
# also holds the kernel's work in between, such as the software stamp's own
# notification, allocated before its clock is read. The first
# `warmup` datagrams need their event but stay out of the figure: under TCG,
# the first run of freshly loaded BPF code costs a translation.
# usage: awk -v port=P -v pid=PID -v len=L -v warmup=W -v max_diff_ns=N
#            -f json.awk -f pairs.awk -f send.awk PROBE_OUT SEND
# Prints one line: "pass|fail DETAIL".

FILENAME == ARGV[1] {
	if (field($0, "type") == "event" && port_of(field($0, "src")) == port)
		ev[++nev] = $0
	next
}

field($0, "sendMonoNs") != "" {
	n = ++ngt
	gt_sched[n] = field($0, "schedNs")
	gt_software[n] = field($0, "softwareNs")
}

# Datagram n's event: its kind, sender, length and marks.
function judge_event(n,    line, what, marks, names, i, at, last) {
	line = ev[n]
	what = "datagram " n - 1
	if (field(line, "kind") != "send")
		problem(what ": event of kind " field(line, "kind"))
	if (field(line, "pid") != pid)
		problem(what ": event pid " field(line, "pid") ", sender pid " pid)
	if (field(line, "len") != len)
		problem(what ": event len " field(line, "len") ", datagram len " len)
	marks = split("send queued xmitStart xmitDone sent", names, " ")
	for (i = 1; i <= marks; i++) {
		at = field(line, names[i] "Ns")
		if (at == "null" || at == "") {
			problem(what ": no " names[i] " mark")
			return 0
		}
		at += 0
		if (i > 1 && at < last)
			problem(what ": " names[i] " before " names[i - 1])
		last = at
	}
	return 1
}

# Datagram n's qdisc stage against its stamps.
function compare(n,    diff) {
	if (gt_sched[n] == "null" || gt_software[n] == "null") {
		problem("datagram " n - 1 ": no transmit stamp (sched " gt_sched[n] ", software " gt_software[n] ")")
		return
	}
	diff = field(ev[n], "qdiscNs") - (gt_software[n] - gt_sched[n])
	sum += diff
	diffs[++nd] = abs(diff)
	if (abs(diff) > abs(worst)) {
		worst = diff
		worst_at = "datagram " n - 1 ": stamps " us(gt_software[n] - gt_sched[n]) \
			", driver " us(field(ev[n], "driverNs")) " us"
	}
	totals[nd] = field(ev[n], "sendTotalNs") + 0
	calls[nd] = field(ev[n], "callNs") + 0
}

END {
	detail = judge_in_order() "; " \
		diff_figures("qdiscNs-(softwareNs-schedNs)", diffs, nd, sum, max_diff_ns)
	if (nd)
		detail = detail "; worst " worst_at "; sendTotal us " sorted_spread(totals, nd) \
			"; call us " sorted_spread(calls, nd)
	print verdict(detail)
}
