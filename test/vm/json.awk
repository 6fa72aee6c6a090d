# Helpers of the checks' awk files (busybox awk -f json.awk -f CHECK.awk):
# fields of the JSON lines the loader and udpwork print, problems, figures.

# The value of KEY on a JSON line: a number, null, true/false or a string.
# The first KEY of the line: for a nested object's, pass the line from it on
# (after()).
function field(line, key,    rest) {
	if (!match(line, "\"" key "\":"))
		return ""
	rest = substr(line, RSTART + RLENGTH)
	if (substr(rest, 1, 1) == "\"") {
		rest = substr(rest, 2)
		return substr(rest, 1, index(rest, "\"") - 1)
	}
	match(rest, /^[^,}]*/)
	return substr(rest, 1, RLENGTH)
}

# The line from KEY's value on, or "" without KEY.
function after(line, key) {
	if (!match(line, "\"" key "\":"))
		return ""
	return substr(line, RSTART + RLENGTH)
}

function port_of(endpoint) {
	sub(/.*:/, "", endpoint)
	return endpoint
}

# The first three problems go into the verdict; all are counted.
function problem(msg) {
	if (nproblems++ < 3)
		problems = problems (problems ? "; " : "") msg
}

function abs(x) {
	return x < 0 ? -x : x
}

function us(ns) {
	return sprintf("%.1f", ns / 1000)
}

function ms(ns) {
	return sprintf("%.2f", ns / 1e6)
}

# Sorts v[1..n] in place, ascending.
function sort_values(v, n,    i, j, t) {
	for (i = 2; i <= n; i++)
		for (j = i; j > 1 && v[j - 1] > v[j]; j--) {
			t = v[j]; v[j] = v[j - 1]; v[j - 1] = t
		}
}

# The p-quantile (0 < p <= 1) of sorted v[1..n], nearest rank.
function quantile(v, n, p) {
	return v[int(n * p + 0.999999)]
}

# "p50 A p99 B max C" of sorted v[1..n], in us.
function spread(v, n) {
	return "p50 " us(quantile(v, n, 0.5)) " p99 " us(quantile(v, n, 0.99)) " max " us(v[n])
}

# The same of v[1..n], which it sorts.
function sorted_spread(v, n) {
	sort_values(v, n)
	return spread(v, n)
}

# "NAME us p50 A p99 B max C" of v[1..n], which it sorts; a problem when its
# p-quantile (0 < p <= 1) is above max_ns.
function bounded_spread(name, v, n, p, max_ns) {
	sort_values(v, n)
	if (quantile(v, n, p) > max_ns)
		problem(name " p" p * 100 " above " us(max_ns) " us")
	return name " us " spread(v, n)
}

# "pass DETAIL", or "fail PROBLEMS (N problems); DETAIL".
function verdict(detail) {
	return (nproblems ? "fail " problems " (" nproblems " problems); " : "pass ") detail
}
