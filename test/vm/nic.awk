# The NIC checks: datagrams that came in through virtio-net and were steered
# by RPS to CPU cpu's backlog, matched to the receiver's ground truth (RECV)
# and, when a spinner held that CPU (starve_ns, SEND), to the spinner's.
# Without PROBE_OUT, judges the ground truth alone (the VM's plumbing): every
# datagram read with its kernel timestamp and, starved, seen queued by the
# spinner no earlier than that stamp. With it, each datagram has exactly one
# event on the port (the k-th of its source for the k-th it sent), and
#   quiet:   softirq.cpu = cpu; what the construction guarantees (nothing
#            held CPU cpu): the backlogs' median below max_quiet_ns, and every
#            one below the smallest backlog of the starved datagrams (those of
#            STARVED_RECV, whose events are in the same PROBE_OUT), each of
#            which waited behind the spinner
#   starved: what the construction guarantees (the spinner, SCHED_FIFO on
#            CPU cpu, let no NET_RX run there until it let go): slowestStage
#            backlog, backlogNs at least the spinner's end less the kernel's
#            stamp (within slack_ns), softirq.cpu = cpu, inKsoftirqd, and
#            waitedBehind the spinner unless the datagram waited longer after
#            the spin than during it; the backlog beyond the spin's end
#            within a tenth of starve_ns at p50
# usage: awk -v port=P -v cpu=C [-v starve_ns=D -v slack_ns=K | -v max_quiet_ns=N]
#            -f json.awk -f nic.awk [PROBE_OUT] RECV [SEND | STARVED_RECV]
# Prints one line: "pass|fail DETAIL".

FILENAME ~ /-starved\.recv$/ && !starve_ns {
	if (field($0, "i") != "")
		starved_src[field($0, "src")] = 1
	next
}

FILENAME ~ /\.recv$/ {
	# Its kernel stamps are ground truth only once the kernel stamps datagrams on arrival (udpwork.c).
	if (field($0, "ready") == "true" && field($0, "arrivalStamps") != "true")
		problem(FILENAME ": the receiver could not see the kernel stamp datagrams on arrival")
	if (field($0, "i") == "")
		next
	n = ++ngt
	gt_src[n] = field($0, "src")
	gt_seq[n] = field($0, "seq")
	gt_rank[n] = ++ngt_src[gt_src[n]]
	wait_ns = field($0, "waitNs")
	# the kernel's stamp, on CLOCK_MONOTONIC like the spinner's and the loader's
	gt_stamp[n] = wait_ns == "null" ? "" : field($0, "returnMonoNs") - wait_ns
	next
}

FILENAME ~ /\.send$/ {
	if (field($0, "i") == "")
		next
	spinner = after($0, "spinner")
	i = field($0, "i")
	sp_pid[i] = field(spinner, "pid")
	sp_comm[i] = field(spinner, "comm")
	sp_queued[i] = field(spinner, "queuedMonoNs")
	sp_end[i] = field(spinner, "endMonoNs")
	next
}

{
	probe = 1
	if (field($0, "type") != "event" || port_of(field($0, "dst")) != port)
		next
	src = field($0, "src")
	ev[src, ++nev_src[src]] = $0
}

# Counts a property of a datagram; "N/M" in the detail.
function tally(name, ok) {
	seen[name] += ok
}

function share(name) {
	return seen[name] + 0 "/" ngt
}

# The spinner's truth for datagram n; false (and a problem) when there is none.
function judge_spinner(n,    seq, hold_ns) {
	seq = gt_seq[n]
	if (!(seq in sp_pid)) {
		problem("datagram " seq ": no spinner report")
		return 0
	}
	hold_ns = sp_end[seq] - sp_queued[seq]
	if (hold_ns < starve_ns)
		problem("datagram " seq ": spinner held CPU " cpu " " ms(hold_ns) " ms after it was queued")
	if (gt_stamp[n] != "" && sp_queued[seq] < gt_stamp[n])
		problem("datagram " seq ": spinner saw a packet queued before its kernel stamp")
	behind = sp_comm[seq] "[" sp_pid[seq] "]"
	if (gt_stamp[n] != "")
		truth[++ntruth] = sp_end[seq] - gt_stamp[n]
	return 1
}

# Datagram n's event against the issue's figures.
function judge_event(n,    line, what, backlog_ns, softirq, behind_line) {
	line = ev[gt_src[n], gt_rank[n]]
	what = "datagram " gt_seq[n]
	backlog_ns = field(line, "backlogNs")
	if (backlog_ns == "null" || backlog_ns == "") {
		problem(what ": backlogNs is " (backlog_ns == "" ? "missing" : "null"))
		return
	}
	backlog_ns += 0
	backlogs[++nb] = backlog_ns
	if (backlog_ns > worst_ns) {
		worst_ns = backlog_ns
		worst_at = gt_seq[n]
	}
	softirq = after(line, "softirq")
	tally("cpu", field(softirq, "cpu") == cpu)
	tally("ksoftirqd", field(softirq, "inKsoftirqd") == "true")
	if (field(softirq, "cpu") != cpu)
		problem(what ": softirq.cpu " field(softirq, "cpu") ", want " cpu)
	if (!starve_ns)
		return
	tally("slowest", field(line, "slowestStage") == "backlog")
	if (field(line, "slowestStage") != "backlog")
		problem(what ": slowestStage " field(line, "slowestStage"))
	if (field(softirq, "inKsoftirqd") != "true")
		problem(what ": NET_RX not in ksoftirqd")
	if (!(gt_seq[n] in sp_end) || gt_stamp[n] == "")
		return
	held_ns = sp_end[gt_seq[n]] - gt_stamp[n]
	beyond[++nbeyond] = backlog_ns - held_ns
	if (backlog_ns < held_ns - slack_ns)
		problem(what ": backlog " ms(backlog_ns) " ms, shorter than the spin after its stamp, " ms(held_ns) " ms")
	behind_line = after(softirq, "waitedBehind")
	if (field(behind_line, "pid") == sp_pid[gt_seq[n]] && field(behind_line, "comm") == sp_comm[gt_seq[n]])
		tally("behind", 1)
	else if (backlog_ns - held_ns < held_ns)
		problem(what ": waitedBehind " (behind_line ~ /^null/ ? "null" : \
			field(behind_line, "comm") "[" field(behind_line, "pid") "]"))
}

# The smallest backlog of the starved datagrams' events, or "" without any.
function starved_min(    src, k, ns, min) {
	min = ""
	for (src in starved_src)
		for (k = 1; k <= nev_src[src]; k++) {
			ns = field(ev[src, k], "backlogNs")
			if (ns != "null" && ns != "" && (min == "" || ns + 0 < min))
				min = ns + 0
		}
	return min
}

# The quiet backlogs (sorted backlogs[1..nb]) against the construction.
function judge_quiet(    min) {
	if (quantile(backlogs, nb, 0.5) >= max_quiet_ns)
		problem("quiet backlog p50 " us(quantile(backlogs, nb, 0.5)) " us, want below " us(max_quiet_ns) " us")
	min = starved_min()
	if (min == "")
		problem("no starved datagram's event to compare with")
	else if (backlogs[nb] >= min)
		problem("quiet backlog " us(backlogs[nb]) " us (datagram " worst_at ") not below the smallest starved one, " us(min) " us")
	else
		quiet_below = "; every one below the smallest starved backlog, " ms(min) " ms"
}

END {
	for (n = 1; n <= ngt; n++) {
		tally("stamped", gt_stamp[n] != "")
		if (gt_stamp[n] == "")
			problem("datagram " gt_seq[n] ": no kernel timestamp")
		if (starve_ns && !judge_spinner(n))
			continue
		if (!probe)
			continue
		if ((gt_src[n], gt_rank[n]) in ev)
			judge_event(n)
		else
			problem("datagram " gt_seq[n] ": no event")
	}
	for (src in ngt_src)
		if (nev_src[src] > ngt_src[src])
			problem(nev_src[src] " events from " src " for " ngt_src[src] " datagrams")
	if (!ngt)
		problem("no datagram read")

	if (!probe) {
		detail = ngt " datagrams read, " share("stamped") " with a kernel stamp"
		if (starve_ns && ntruth) {
			sort_values(truth, ntruth)
			detail = detail "; spinner " behind " held CPU " cpu " " ms(starve_ns) \
				" ms after each was queued; spin end - kernel stamp ms min " ms(truth[1]) \
				" p50 " ms(quantile(truth, ntruth, 0.5)) " max " ms(truth[ntruth])
		}
		print verdict(detail)
		exit
	}
	detail = "events " nb + 0 "/" ngt
	if (nb) {
		sort_values(backlogs, nb)
		if (!starve_ns)
			judge_quiet()
		if (starve_ns)
			detail = detail "; backlog ms min " ms(backlogs[1]) " p50 " ms(quantile(backlogs, nb, 0.5)) \
				" max " ms(backlogs[nb]) " (spin " ms(starve_ns) " ms); slowest backlog " share("slowest")
		else
			detail = detail "; backlog us min " us(backlogs[1]) " p50 " us(quantile(backlogs, nb, 0.5)) \
				" max " us(backlogs[nb]) " (datagram " worst_at ")" quiet_below
		detail = detail "; softirq on CPU " cpu " " share("cpu") ", in ksoftirqd " share("ksoftirqd")
	}
	if (starve_ns)
		detail = detail ", waited behind " behind " " share("behind")
	if (nbeyond) {
		sort_values(beyond, nbeyond)
		if (quantile(beyond, nbeyond, 0.5) > starve_ns / 10)
			problem("backlog beyond the spin p50 " us(quantile(beyond, nbeyond, 0.5)) " us, above a tenth of the spin")
		detail = detail "; backlog - (spin end - kernel stamp) us p50 " \
			us(quantile(beyond, nbeyond, 0.5)) " max " us(beyond[nbeyond])
	}
	print verdict(detail)
}
