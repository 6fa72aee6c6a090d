# Matches udplat-probe events to udpwork's ground truth, datagram by datagram
# (per family, the k-th event on the port belongs to the k-th datagram read,
# with the same source port, length and reader pid), and judges each by what
# the ground truth guarantees:
#   - its last mark (return) inside the receiver's own call: after the
#     receiver's clock right before the call, before its clock right after
#     (within slack_ns: the two accessors of CLOCK_MONOTONIC), every datagram;
#   - its first mark against the kernel's receive timestamp (SO_TIMESTAMPNS,
#     taken in netif_rx right before rx, CLOCK_REALTIME, turned monotonic with
#     the receiver's two clocks read back to back after the call): never
#     before it, within max_stamp_ns at p99;
#   - the call's tail after the last mark (return to the receiver's clock)
#     within max_tail_ns at p50.
# Datagrams of RECV files named *warmup* are judged by their bracket but stay
# out of the figures: under TCG, the first run of freshly loaded BPF code
# costs a translation.
# usage: awk -v port=P -v max_stamp_ns=S -v max_tail_ns=T -v slack_ns=K
#            -f json.awk -f compare.awk PROBE_OUT RECV...
# Prints one line: "pass|fail DETAIL".

FILENAME == ARGV[1] {
	if (field($0, "type") != "event" || port_of(field($0, "dst")) != port)
		next
	fam = field($0, "family")
	families[fam] = 1
	n = ++nev[fam]
	ev_sport[fam, n] = port_of(field($0, "src"))
	ev_len[fam, n] = field($0, "len")
	ev_pid[fam, n] = field($0, "pid")
	ev_first[fam, n] = field($0, "rxNs") == "null" ? field($0, "arriveNs") : field($0, "rxNs")
	ev_return[fam, n] = field($0, "returnNs")
	next
}

field($0, "ready") == "true" {
	reader_pid[FILENAME] = field($0, "pid")
	# Its kernel stamps are ground truth only once the kernel stamps datagrams on arrival (udpwork.c).
	if (field($0, "arrivalStamps") != "true")
		problem(FILENAME ": the receiver could not see the kernel stamp datagrams on arrival")
	next
}

field($0, "i") != "" {
	fam = substr(field($0, "src"), 1, 1) == "[" ? "ipv6" : "ipv4"
	families[fam] = 1
	n = ++ngt[fam]
	gt_sport[fam, n] = port_of(field($0, "src"))
	gt_len[fam, n] = field($0, "len")
	gt_pid[fam, n] = reader_pid[FILENAME]
	gt_stamp_mono[fam, n] = field($0, "returnMonoNs") - field($0, "waitNs")
	gt_call_mono[fam, n] = field($0, "callMonoNs")
	gt_return_mono[fam, n] = field($0, "returnMonoNs")
	gt_warmup[fam, n] = FILENAME ~ /warmup/
	nwarmup[fam] += gt_warmup[fam, n]
}

# Datagram k of fam against its event; false when it has no measurable event.
function judge(fam, k, what) {
	if (ev_sport[fam, k] != gt_sport[fam, k] || ev_len[fam, k] != gt_len[fam, k])
		problem(what ": event has sport " ev_sport[fam, k] " len " ev_len[fam, k] \
			", datagram sport " gt_sport[fam, k] " len " gt_len[fam, k])
	if (ev_pid[fam, k] != gt_pid[fam, k])
		problem(what ": event pid " ev_pid[fam, k] ", reader pid " gt_pid[fam, k])
	if (ev_return[fam, k] == "null" || ev_return[fam, k] == "" || ev_first[fam, k] == "null") {
		problem(what ": no return or no first mark")
		return 0
	}
	# + 0: field() gives strings, which awk would compare as text.
	nwindow++
	if (ev_return[fam, k] + 0 < gt_call_mono[fam, k] - slack_ns || ev_return[fam, k] + 0 > gt_return_mono[fam, k] + slack_ns) {
		noutside++
		problem(what ": return " us(ev_return[fam, k] - gt_call_mono[fam, k]) " us after the call began, " \
			us(gt_return_mono[fam, k] - gt_call_mono[fam, k]) " us the call")
	}
	if (ev_first[fam, k] + 0 < gt_stamp_mono[fam, k] - slack_ns)
		problem(what ": first mark " us(gt_stamp_mono[fam, k] - ev_first[fam, k]) " us before the kernel's stamp")
	return 1
}

END {
	nfam = split("ipv4 ipv6", order, " ")
	for (fam in families)
		if (fam != "ipv4" && fam != "ipv6")
			order[++nfam] = fam
	for (f = 1; f <= nfam; f++) {
		fam = order[f]
		if (nev[fam] != ngt[fam])
			problem(fam ": " nev[fam] + 0 " events for " ngt[fam] + 0 " datagrams")
		last = nev[fam] < ngt[fam] ? nev[fam] : ngt[fam]
		for (k = 1; k <= last; k++) {
			if (!judge(fam, k, fam " datagram " k) || gt_warmup[fam, k])
				continue
			stamps[++nd] = ev_first[fam, k] - gt_stamp_mono[fam, k]
			tails[nd] = gt_return_mono[fam, k] - ev_return[fam, k]
		}
		if (fam in families)
			matched = matched (matched ? ", " : "") fam " " nev[fam] + 0 "/" ngt[fam] + 0 \
				(nwarmup[fam] ? " (" nwarmup[fam] " warm-up)" : "")
	}
	detail = "events/datagrams " (matched ? matched : "none")
	if (!nd) {
		problem("nothing to compare")
	} else {
		detail = detail "; returns inside the reader's call " nwindow - noutside "/" nwindow \
			"; " bounded_spread("stamp to first mark", stamps, nd, 0.5, max_stamp_ns) \
			"; " bounded_spread("return to user", tails, nd, 0.5, max_tail_ns)
	}
	print verdict(detail)
}
