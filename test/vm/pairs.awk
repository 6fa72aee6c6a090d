# The send side's pairing (send.awk, path.awk): the n-th event belongs to
# the n-th datagram. The check defines judge_event(n), true when datagram
# n's event can be measured, and compare(n), which measures it.

# Judges each of the ngt datagrams' event among the nev, and compares those
# past the first `warmup`; returns "events N/M (W warm-up)".
function judge_in_order(    n) {
	if (nev != ngt)
		problem(nev + 0 " events for " ngt + 0 " datagrams")
	for (n = 1; n <= ngt && n <= nev; n++)
		if (judge_event(n) && n > warmup)
			compare(n)
	return "events " nev + 0 "/" ngt + 0 " (" warmup " warm-up)"
}
