#!/bin/sh
# In-VM test driver (busybox sh). For each attach plan, runs udplat-probe
# while udpwork receives over IPv4 and IPv6 loopback, and matches every
# datagram's event to the receiver's ground truth (compare.awk). Prints one
# "VMTEST-RESULT CHECK pass|fail|gap DETAIL" line per check and exits 1 if
# any check failed. Then auto-selection, and two --shared loaders on one hub.
# usage: driver.sh PLANS    comma-separated plans, or "none" for udpwork only

port=9999
count=20
warmup_count=2
delay_ms=5
max_diff_ns=50000
start_timeout_s=60
stop_timeout_s=10
work=/tmp/vmtest
failed=0

log() {
	echo "vmtest: $*"
}

result() {
	echo "VMTEST-RESULT $*"
	[ "$2" != fail ] || failed=1
}

alive() {
	[ -d "/proc/$1" ] && ! grep -q '^State:.*zombie' "/proc/$1/status" 2>/dev/null
}

# wait_for_line FILE PATTERN SECONDS PID: true once FILE has a line matching
# PATTERN; false after SECONDS, or as soon as PID has exited without one.
wait_for_line() {
	local tries=$(($3 * 20))

	while [ $tries -gt 0 ]; do
		grep -q "$2" "$1" 2>/dev/null && return 0
		alive "$4" || break
		sleep 0.05
		tries=$((tries - 1))
	done
	grep -q "$2" "$1" 2>/dev/null
}

# stop PID SIGNAL SECONDS: signals PID, gives it SECONDS to exit, then kills
# it; returns its exit status (137 when killed).
stop() {
	local tries=$(($3 * 20))

	kill "-$2" "$1" 2>/dev/null
	while alive "$1" && [ $tries -gt 0 ]; do
		sleep 0.05
		tries=$((tries - 1))
	done
	alive "$1" && kill -9 "$1"
	wait "$1"
}

# json_string KEY FILE: the first string value of KEY on a line of FILE
json_string() {
	sed -n "s/.*\"$1\":\"\\([^\"]*\\)\".*/\\1/p" "$2" | head -n1
}

show_file() {
	[ -s "$2" ] || return 0
	log "$1:"
	head -n "${3:-20}" "$2" | sed 's/^/    /'
}

# run_workload NAME ADDR LEN COUNT: a receiver on ADDR:$port reads COUNT
# datagrams of LEN bytes, sleeping $delay_ms before each read, into
# $work/NAME.recv.
run_workload() {
	local recv=$work/$1.recv count=$4 rpid got

	udpwork recv --bind "$2:$port" --count "$count" --delay-ms $delay_ms \
		--timeout-ms 30000 >"$recv" 2>"$recv.err" &
	rpid=$!
	if ! wait_for_line "$recv" '"ready":true' 10 $rpid; then
		log "$1: receiver did not start: $(cat "$recv.err")"
		stop $rpid KILL 1
		return 1
	fi
	if ! udpwork send --to "$2:$port" --count "$count" --len "$3" \
		--interval-us 1000 >"$work/$1.send"; then
		stop $rpid KILL 1
		return 1
	fi
	wait $rpid || log "$1: receiver failed: $(cat "$recv.err")"
	got=$(grep -c '"waitNs":[0-9]' "$recv")
	[ "$got" -eq "$count" ] && return 0
	log "$1: received $got of $count datagrams with a kernel timestamp"
	return 1
}

# run_workloads NAME COUNT: the workload over IPv4, then over IPv6
run_workloads() {
	run_workload "$1-ipv4" 127.0.0.1 64 "$2" &&
		run_workload "$1-ipv6" '[::1]' 200 "$2"
}

# The plumbing: udpwork's own ground truth, before any loader runs.
check_udpwork() {
	if run_workloads udpwork $count; then
		result udpwork pass "$(cat "$work"/udpwork-ipv*.recv | awk -F'"waitNs":' '
			NF > 1 { w = $2 + 0; n++; if (n == 1 || w < lo) lo = w; if (w > hi) hi = w }
			END { printf "%d datagrams, waitNs %.2f-%.2f ms", n, lo / 1e6, hi / 1e6 }')"
	else
		result udpwork fail "workload over loopback failed"
	fi
}

kernel_before() {
	local release
	release=$(uname -r)
	echo "${release%%-*} $1" | awk '{
		split($1, k, "."); split($2, v, ".")
		exit !(k[1] * 1000 + k[2] < v[1] * 1000 + v[2]) }'
}

# expected_gap PLAN MESSAGE: for a documented gap of PLAN on this kernel,
# prints why and returns 0 when MESSAGE names it, 2 when it does not; 1 when
# PLAN has no documented gap here.
expected_gap() {
	local plan before pattern why

	while read -r plan before pattern why; do
		case $plan in '#'* | '') continue ;; esac
		if [ "$plan" != "$1" ] || ! kernel_before "$before"; then
			continue
		fi
		echo "expected before $before: $why"
		echo "$2" | grep -Eq "$pattern" && return 0
		return 2
	done </vmtest/expected-gaps
	return 1
}

# start_loader DIR ARGS...: starts udplat-probe; true once it said hello.
start_loader() {
	local dir=$1

	shift
	mkdir -p "$dir"
	udplat-probe --format json --threshold-us 0 --port $port "$@" \
		>"$dir/probe.out" 2>"$dir/probe.err" &
	loader_pid=$!
	wait_for_line "$dir/probe.out" '"type":"hello"' $start_timeout_s $loader_pid &&
		return 0
	stop $loader_pid KILL 0
	loader_rc=$?
	return 1
}

loader_error() {
	local msg
	msg=$(json_string message "$1/probe.out")
	[ -n "$msg" ] || msg=$(tail -n1 "$1/probe.err")
	echo "${msg:-no error message}"
}

check_plan() {
	local plan=$1 dir=$work/$1 why gap_rc chosen stop_rc verdict

	if ! start_loader "$dir" --plan "$plan"; then
		why=$(expected_gap "$plan" "$(loader_error "$dir")")
		gap_rc=$?
		if [ $gap_rc -eq 0 ]; then
			result "$plan" gap "$why; loader (exit $loader_rc): $(loader_error "$dir")"
			return
		fi
		result "$plan" fail "loader exit $loader_rc before hello: $(loader_error "$dir")${why:+ ($why, but the message does not say so)}"
		show_file "loader stderr" "$dir/probe.err" 400
		return
	fi
	log "$plan: $(grep -m1 '"type":"hello"' "$dir/probe.out")"
	chosen=$(json_string plan "$dir/probe.out")
	why=$(expected_gap "$plan" "")
	if [ $? -ne 1 ]; then
		stop $loader_pid INT $stop_timeout_s
		result "$plan" fail "loaded although documented as a gap ($why)"
		return
	fi
	if ! run_workloads "$plan-warmup" $warmup_count ||
		! run_workloads "$plan" $count; then
		log "$plan: workload failed"
	fi
	stop $loader_pid INT $stop_timeout_s
	stop_rc=$?

	verdict=$(awk -v port=$port -v max_diff_ns=$max_diff_ns -f /vmtest/compare.awk \
		"$dir/probe.out" "$work/$plan"-warmup-ipv*.recv "$work/$plan"-ipv*.recv)
	if [ -z "$verdict" ]; then
		verdict="fail no comparison: the workload failed"
	elif [ "$chosen" != "$plan" ]; then
		verdict="fail hello names plan '$chosen'; ${verdict#* }"
	elif [ $stop_rc -ne 0 ]; then
		verdict="fail loader exited $stop_rc after SIGINT; ${verdict#* }"
	elif ! grep -q '"type":"bye"' "$dir/probe.out"; then
		verdict="fail no bye after SIGINT; ${verdict#* }"
	fi
	result "$plan" "${verdict%% *}" "${verdict#* }"
	case $verdict in fail*)
		show_file "loader stderr" "$dir/probe.err"
		show_file "loader stdout (head)" "$dir/probe.out" 8 ;;
	esac
}

# Auto-selection must prefer fentry on every kernel of the matrix.
check_auto() {
	local dir=$work/auto chosen notes

	if ! start_loader "$dir"; then
		result auto fail "loader exit $loader_rc before hello: $(loader_error "$dir")"
		return
	fi
	chosen=$(json_string plan "$dir/probe.out")
	notes=$(json_string notes "$dir/probe.out")
	stop $loader_pid INT $stop_timeout_s
	if [ "$chosen" = fentry ]; then
		result auto pass "picked fentry${notes:+; notes: $notes}"
	else
		result auto fail "picked '$chosen', want fentry${notes:+; notes: $notes}"
	fi
}

# Two --shared loaders join one hub, which holds the only program set (the
# plan auto picks, fentry here): the one on the traced port measures as a
# loader of its own does, the one on another port sees nothing of it, and
# the hub exits after the last of them.
check_shared() {
	local dir=$work/shared other=$work/shared-other traced idle verdict hubs tries=40

	if ! start_loader "$dir" --shared; then
		result shared fail "loader exit $loader_rc before hello: $(loader_error "$dir")"
		return
	fi
	traced=$loader_pid
	port=$((port + 1))
	if ! start_loader "$other" --shared; then
		port=$((port - 1))
		stop $traced INT $stop_timeout_s
		result shared fail "second loader exit $loader_rc before hello: $(loader_error "$other")"
		return
	fi
	idle=$loader_pid
	port=$((port - 1))
	hubs=$(ps | grep -c '[u]dplat-probe --hub')
	if ! run_workloads shared-warmup $warmup_count || ! run_workloads shared $count; then
		log "shared: workload failed"
	fi
	stop $traced INT $stop_timeout_s
	stop $idle INT $stop_timeout_s
	while ps | grep -q '[u]dplat-probe --hub' && [ $tries -gt 0 ]; do
		sleep 0.05
		tries=$((tries - 1))
	done
	verdict=$(awk -v port=$port -v max_diff_ns=$max_diff_ns -f /vmtest/compare.awk \
		"$dir/probe.out" "$work"/shared-warmup-ipv*.recv "$work"/shared-ipv*.recv)
	if [ -z "$verdict" ]; then
		verdict="fail no comparison: the workload failed"
	elif [ "$hubs" -ne 1 ]; then
		verdict="fail $hubs hubs for two --shared loaders; ${verdict#* }"
	elif grep -q '"type":"event"' "$other/probe.out"; then
		verdict="fail the loader on another port got events; ${verdict#* }"
	elif ps | grep -q '[u]dplat-probe --hub'; then
		verdict="fail the hub outlived its last loader by 2 s; ${verdict#* }"
	fi
	result shared "${verdict%% *}" "one hub; ${verdict#* }"
	case $verdict in fail*)
		show_file "loader stderr" "$dir/probe.err"
		show_file "other loader stderr" "$other/probe.err" ;;
	esac
}

main() {
	local plan

	mkdir -p $work
	check_udpwork
	if [ "$1" != none ]; then
		for plan in $(echo "$1" | tr , ' '); do
			check_plan "$plan"
		done
		check_auto
		check_shared
	fi
	return $failed
}

main "$@"
