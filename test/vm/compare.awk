# Matches udplat-probe events to udpwork's ground truth, datagram by datagram:
# per family, the k-th event on the port belongs to the k-th datagram read,
# with the same source port, length and reader pid, and its totalNs must be
# within max_diff_ns of the receiver's waitNs at p99. Datagrams of RECV files
# named *warmup* need their event but stay out of the latency figures: under
# TCG, the first run of freshly loaded BPF code costs a translation.
# usage: awk -v port=P -v max_diff_ns=N -f json.awk -f compare.awk PROBE_OUT RECV...
# Prints one line: "pass|fail DETAIL".

# Where a difference comes from: the kernel's stamp to the arrive mark, and
# the return mark to the receiver's clock read.
function split_diff(fam, k,    parts) {
	parts = "stamp to arrive "
	parts = parts (ev_arrive[fam, k] == "null" ? "?" : us(ev_arrive[fam, k] - gt_stamp_mono[fam, k]))
	parts = parts ", return to user "
	parts = parts (ev_return[fam, k] == "null" ? "?" : us(gt_return_mono[fam, k] - ev_return[fam, k]))
	return parts " us"
}

FILENAME == ARGV[1] {
	if (field($0, "type") != "event" || port_of(field($0, "dst")) != port)
		next
	fam = field($0, "family")
	families[fam] = 1
	n = ++nev[fam]
	ev_sport[fam, n] = port_of(field($0, "src"))
	ev_len[fam, n] = field($0, "len")
	ev_pid[fam, n] = field($0, "pid")
	ev_total[fam, n] = field($0, "totalNs")
	ev_arrive[fam, n] = field($0, "arriveNs")
	ev_return[fam, n] = field($0, "returnNs")
	next
}

field($0, "ready") == "true" {
	reader_pid[FILENAME] = field($0, "pid")
	next
}

field($0, "i") != "" {
	fam = substr(field($0, "src"), 1, 1) == "[" ? "ipv6" : "ipv4"
	families[fam] = 1
	n = ++ngt[fam]
	gt_sport[fam, n] = port_of(field($0, "src"))
	gt_len[fam, n] = field($0, "len")
	gt_pid[fam, n] = reader_pid[FILENAME]
	gt_wait[fam, n] = field($0, "waitNs")
	# kernel stamp and return on CLOCK_MONOTONIC, like the loader's marks
	gt_return_mono[fam, n] = field($0, "returnMonoNs")
	gt_stamp_mono[fam, n] = gt_return_mono[fam, n] - gt_wait[fam, n]
	gt_warmup[fam, n] = FILENAME ~ /warmup/
	nwarmup[fam] += gt_warmup[fam, n]
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
			what = fam " datagram " k
			if (ev_sport[fam, k] != gt_sport[fam, k] || ev_len[fam, k] != gt_len[fam, k])
				problem(what ": event has sport " ev_sport[fam, k] " len " ev_len[fam, k] \
					", datagram sport " gt_sport[fam, k] " len " gt_len[fam, k])
			if (ev_pid[fam, k] != gt_pid[fam, k])
				problem(what ": event pid " ev_pid[fam, k] ", reader pid " gt_pid[fam, k])
			if (ev_total[fam, k] == "null" || ev_total[fam, k] == "") {
				problem(what ": totalNs is " (ev_total[fam, k] == "" ? "missing" : "null"))
				continue
			}
			if (gt_warmup[fam, k])
				continue
			diff = ev_total[fam, k] - gt_wait[fam, k]
			sum += diff
			diffs[++nd] = abs(diff)
			if (abs(diff) > abs(worst)) {
				worst = diff
				worst_at = what ": " split_diff(fam, k)
			}
		}
		if (fam in families)
			matched = matched (matched ? ", " : "") fam " " nev[fam] + 0 "/" ngt[fam] + 0 \
				(nwarmup[fam] ? " (" nwarmup[fam] " warm-up)" : "")
	}
	sort_values(diffs, nd)
	detail = "events/datagrams " (matched ? matched : "none")
	if (nd)
		detail = detail "; |totalNs-waitNs| us " spread(diffs, nd) " (" worst_at "), mean totalNs-waitNs " us(sum / nd)
	if (!nd)
		problem("nothing to compare")
	else if (quantile(diffs, nd, 0.99) > max_diff_ns)
		problem("p99 above " us(max_diff_ns) " us")
	print verdict(detail)
}
