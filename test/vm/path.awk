# The path check: datagrams sent and received on this host over loopback, to
# the traced port, matched in order to the loader's events on it. Each has
# exactly one event, of kind path, with the datagram's source port and
# length, the reader's pid and the sender's, and every stage of a path
# (copy only when the plan sees the read mark). It is judged by what both
# ends' clocks guarantee: its send mark after the sender's clock right before
# its call (sendMonoNs), its return inside the receiver's call (callMonoNs to
# returnMonoNs), within slack_ns (two accessors of CLOCK_MONOTONIC), every
# datagram; and the two tails (the sender's clock to send, return to the
# receiver's clock) within max_tail_ns at p50. The first `warmup` datagrams
# stay out of the figures: under TCG, the first run of freshly loaded BPF
# code costs a translation.
# usage: awk -v port=P -v pid=SENDER_PID -v warmup=W -v max_tail_ns=T -v slack_ns=K
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
	gt_call_mono[n] = field($0, "callMonoNs")
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
	# + 0: field() gives strings, which awk would compare as text.
	if (gt_seq[n] in send_mono && field(line, "sendNs") + 0 < send_mono[gt_seq[n]] - slack_ns)
		problem(what ": send " us(send_mono[gt_seq[n]] - field(line, "sendNs")) " us before the sender's call")
	ns = field(line, "returnNs") + 0
	nwindow++
	if (ns < gt_call_mono[n] - slack_ns || ns > gt_return_mono[n] + slack_ns) {
		noutside++
		problem(what ": return outside the reader's call")
	}
	ns = field(line, "totalNs")
	return ns != "null" && ns != ""
}

# Datagram n's tails, beyond its brackets (judge_event).
function compare(n,    seq) {
	seq = gt_seq[n]
	if (!(seq in send_mono)) {
		problem("datagram " seq ": not among the sender's")
		return
	}
	entries[++nd] = field(ev[n], "sendNs") - send_mono[seq]
	exits[nd] = gt_return_mono[n] - field(ev[n], "returnNs")
	diffs[nd] = abs(field(ev[n], "totalNs") - (gt_return_mono[n] - send_mono[seq]))
}

END {
	detail = judge_in_order()
	if (!nd) {
		problem("nothing to compare")
	} else {
		detail = detail "; returns inside the reader's call " nwindow - noutside "/" nwindow \
			"; " bounded_spread("sendMonoNs to send", entries, nd, 0.5, max_tail_ns) \
			"; " bounded_spread("return to returnMonoNs", exits, nd, 0.5, max_tail_ns) \
			"; |totalNs-(returnMonoNs-sendMonoNs)| us " sorted_spread(diffs, nd)
	}
	print verdict(detail)
}
