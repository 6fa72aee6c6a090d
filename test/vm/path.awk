# The path check: datagrams sent and received on this host over loopback, to
# the traced port, matched in order to the loader's events on it. Each has
# exactly one event, of kind path, with the datagram's source port and
# length, the reader's pid and the sender's, and every stage of a path
# (copy only when the plan sees the read mark). Its totalNs must be within
# max_diff_ns at p99 of the two ends' clocks: the receiver's returnMonoNs
# minus the sender's sendMonoNs. The first `warmup` datagrams need their
# event but stay out of the figure: under TCG, the first run of freshly
# loaded BPF code costs a translation.
# usage: awk -v port=P -v pid=SENDER_PID -v warmup=W -v max_diff_ns=N
#            -f json.awk -f pairs.awk -f path.awk PROBE_OUT RECV SEND
# Prints one line: "pass|fail DETAIL".

FILENAME == ARGV[1] {
	if (field($0, "type") == "hello") {
		marks = after($0, "marks")
		sees_read = index(substr(marks, 1, index(marks, "]")), "\"read\"") > 0
	} else if (field($0, "type") == "event" && port_of(field($0, "dst")) == port)
		ev[++nev] = $0
	next
}

field($0, "ready") == "true" {
	reader_pid = field($0, "pid")
	next
}

FILENAME ~ /\.recv$/ && field($0, "i") != "" {
	n = ++ngt
	gt_sport[n] = port_of(field($0, "src"))
	gt_len[n] = field($0, "len")
	gt_seq[n] = field($0, "seq")
	gt_return_mono[n] = field($0, "returnMonoNs")
	next
}

field($0, "sendMonoNs") != "" {
	send_mono[field($0, "i")] = field($0, "sendMonoNs")
}

# Datagram n's event: its kind, ends, and stages.
function judge_event(n,    line, what, stages, names, i, ns) {
	line = ev[n]
	what = "datagram " gt_seq[n]
	if (field(line, "kind") != "path")
		problem(what ": event of kind " field(line, "kind"))
	if (port_of(field(line, "src")) != gt_sport[n] || field(line, "len") != gt_len[n])
		problem(what ": event has sport " port_of(field(line, "src")) " len " field(line, "len") \
			", datagram sport " gt_sport[n] " len " gt_len[n])
	if (field(line, "pid") != reader_pid)
		problem(what ": event pid " field(line, "pid") ", reader pid " reader_pid)
	if (field(after(line, "sender"), "pid") != pid)
		problem(what ": event's sender pid " field(after(line, "sender"), "pid") ", sender pid " pid)
	stages = split("sendStack qdisc driver wire stack queue copy total call", names, " ")
	for (i = 1; i <= stages; i++) {
		ns = field(line, names[i] "Ns")
		if (names[i] == "copy" && !sees_read) {
			if (ns != "null")
				problem(what ": copy " ns " although the plan does not see the read mark")
		} else if (ns == "null" || ns == "")
			problem(what ": no " names[i] " stage")
	}
	ns = field(line, "totalNs")
	return ns != "null" && ns != ""
}

# Datagram n's total against both ends' clocks, and where a difference
# comes from: the sender's clock read to send, and return to the receiver's.
function compare(n,    seq, diff) {
	seq = gt_seq[n]
	if (!(seq in send_mono)) {
		problem("datagram " seq ": not among the sender's")
		return
	}
	diff = field(ev[n], "totalNs") - (gt_return_mono[n] - send_mono[seq])
	sum += diff
	diffs[++nd] = abs(diff)
	entries[nd] = field(ev[n], "sendNs") - send_mono[seq]
	exits[nd] = gt_return_mono[n] - field(ev[n], "returnNs")
}

END {
	detail = judge_in_order() "; " \
		diff_figures("totalNs-(returnMonoNs-sendMonoNs)", diffs, nd, sum, max_diff_ns)
	if (nd)
		detail = detail "; sendMonoNs to send us " sorted_spread(entries, nd) \
			"; return to returnMonoNs us " sorted_spread(exits, nd)
	print verdict(detail)
}
