#!/bin/sh
# In-VM test driver (busybox sh). For each attach plan, runs udplat-probe
# while udpwork receives over IPv4 and IPv6 loopback, and matches every
# datagram's event to the receiver's ground truth (compare.awk); then, with
# the same loader, datagrams through the virtio-net NIC, steered by RPS to
# CPU1, with CPU1 idle and with a SCHED_FIFO spinner holding it (nic.awk);
# then the send side, each with a loader of its own: datagrams sent through
# the NIC against the kernel's transmit stamps (send.awk), and datagrams sent
# and received over loopback against both ends' clocks (path.awk).
# Prints one "VMTEST-RESULT CHECK pass|fail|gap DETAIL" line per check and
# exits 1 if any check failed. Then auto-selection, and two --shared loaders
# on one hub.
# usage: driver.sh PLANS NIC
#   PLANS  comma-separated plans, or "none" for udpwork only
#   NIC    HOST_PORT:GUEST_PORT of qemu's forward (scripts/vmtest)

port=9999
count=20
warmup_count=2
delay_ms=5
# The brackets of compare.awk and path.awk: a first mark within max_stamp_ns of
# the kernel's receive stamp at p50 (test/kernel/accuracy.kernel.test.ts holds
# the host to it at p99, over hundreds of datagrams where this run has 40), a
# call's tail beyond its last mark within max_tail_ns at p50, clocks read
# through two accessors of CLOCK_MONOTONIC within slack_ns.
max_stamp_ns=3000
max_tail_ns=3000
slack_ns=1000
# The NIC: a datagram sent to the host, 10.0.2.2:$nic_host_port, comes back
# through qemu's forward and virtio-net to 10.0.2.15:$nic_port.
nic_host_port=${2%%:*}
nic_port=${2##*:}
nic_count=10
# RPS steers the NIC's packets to this CPU's backlog; the spinner holds it.
starve_cpu=1
starve_ms=5
# Quiet backlogs: their median below this, and every one below the smallest starved one.
max_quiet_backlog_ns=100000
# The send side: through the NIC, datagrams from the traced port to the
# host's discard port (they need not arrive); over loopback, to the traced
# port, each a path.
send_len=1200
discard_port=9
max_qdisc_diff_ns=10000
path_interval_us=2000
# Enough that the tails' p50 is a median of many.
path_count=100
# A plan's checks besides its own, reported as it when its loader cannot load.
plan_checks="nic-quiet nic-starved send path"
start_timeout_s=60
stop_timeout_s=10
work=/tmp/vmtest
failed=0
nic_ready=

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

# run_workload NAME BIND TO COUNT DELAY_MS [SEND-OPTIONS...]: a receiver on
# BIND reads COUNT datagrams that udpwork sends to TO, sleeping DELAY_MS
# before each read, into $work/NAME.recv; the sender's output goes to
# $work/NAME.send, its pid to $sender_pid.
run_workload() {
	local name=$1 bind=$2 to=$3 count=$4 delay=$5 recv=$work/$1.recv rpid got

	shift 5
	udpwork recv --bind "$bind" --count "$count" --delay-ms "$delay" \
		--timeout-ms 30000 >"$recv" 2>"$recv.err" &
	rpid=$!
	if ! wait_for_line "$recv" '"ready":true' 10 $rpid; then
		log "$name: receiver did not start: $(cat "$recv.err")"
		stop $rpid KILL 1
		return 1
	fi
	udpwork send --to "$to" --count "$count" "$@" \
		>"$work/$name.send" 2>"$work/$name.send.err" &
	sender_pid=$!
	if ! wait $sender_pid; then
		log "$name: sender failed: $(cat "$work/$name.send.err")"
		stop $rpid KILL 1
		return 1
	fi
	wait $rpid || log "$name: receiver failed: $(cat "$recv.err")"
	got=$(grep -c '"waitNs":[0-9]' "$recv")
	[ "$got" -eq "$count" ] && return 0
	log "$name: received $got of $count datagrams with a kernel timestamp"
	return 1
}

# run_workloads NAME COUNT: over loopback, IPv4 then IPv6
run_workloads() {
	run_workload "$1-ipv4" 127.0.0.1:$port 127.0.0.1:$port "$2" $delay_ms \
		--len 64 --interval-us 1000 &&
		run_workload "$1-ipv6" "[::1]:$port" "[::1]:$port" "$2" $delay_ms \
			--len 200 --interval-us 1000
}

# run_nic_workloads NAME: through the NIC, 10 ms apart: warm-up datagrams,
# then $nic_count with CPU1 idle (NAME-quiet), then $nic_count each of which
# waits in CPU1's backlog while the spinner holds CPU1 $starve_ms ms
# (NAME-starved).
run_nic_workloads() {
	local to=10.0.2.2:$nic_host_port bind=10.0.2.15:$nic_port

	run_workload "$1-warmup" $bind $to $warmup_count 0 --len 100 --interval-us 10000 &&
		run_workload "$1-quiet" $bind $to $nic_count 0 --len 100 --interval-us 10000 &&
		run_workload "$1-starved" $bind $to $nic_count 0 --len 100 --interval-us 10000 \
			--starve-cpu $starve_cpu --starve-ms $starve_ms
}

# compare_verdict PROBE_OUT PREFIX: compare.awk's verdict on the loopback
# datagrams of PREFIX-warmup-ipv*.recv and PREFIX-ipv*.recv.
compare_verdict() {
	awk -v port=$port -v max_stamp_ns=$max_stamp_ns -v max_tail_ns=$max_tail_ns -v slack_ns=$slack_ns \
		-f /vmtest/json.awk -f /vmtest/compare.awk "$1" "$2"-warmup-ipv*.recv "$2"-ipv*.recv
}

# nic_verdict PROBE_OUT NAME MODE: nic.awk's verdict on NAME's MODE
# (quiet or starved) datagrams; without PROBE_OUT, on the ground truth alone.
# Quiet ones are judged against the starved ones' events too.
nic_verdict() {
	local judge="-v max_quiet_ns=$max_quiet_backlog_ns" more=

	if [ "$3" = starved ]; then
		judge="-v starve_ns=$((starve_ms * 1000000)) -v slack_ns=$slack_ns"
		more=$work/$2-starved.send
	elif [ -n "$1" ]; then
		more=$work/$2-starved.recv
	fi
	awk -v port=$nic_port -v cpu=$starve_cpu $judge -f /vmtest/json.awk -f /vmtest/nic.awk \
		$1 "$work/$2-$3.recv" $more
}

# Steers the NIC as its checks need: its interrupts, and with threadirqs
# their threads, on CPU0; its packets, by RPS, into CPU1's backlog. Prints
# what it set.
steer_nic() {
	local dev irqs irq

	dev=$(basename "$(readlink /sys/class/net/eth0/device)")
	irqs=$(awk -v dev="$dev-" 'index($0, dev) { sub(":", "", $1); print $1 }' /proc/interrupts)
	if [ -z "$irqs" ]; then
		echo "no IRQ of $dev in /proc/interrupts"
		return 1
	fi
	for irq in $irqs; do
		echo 1 >"/proc/irq/$irq/smp_affinity" || return 1
	done
	printf '%x' $((1 << starve_cpu)) >/sys/class/net/eth0/queues/rx-0/rps_cpus || return 1
	echo "eth0 ($dev) IRQs $(echo $irqs) on CPU0, rps_cpus $(cat /sys/class/net/eth0/queues/rx-0/rps_cpus)"
}

# The NIC's plumbing, before any loader runs: every datagram comes back
# through virtio-net with its kernel stamp, and, starved, the spinner sees
# each in CPU1's backlog.
check_nic() {
	local steered quiet starved

	if [ -z "$nic_host_port" ] || [ ! -d /sys/class/net/eth0 ]; then
		result nic fail "no NIC: eth0 missing or no forward given"
		return
	fi
	if ! steered=$(steer_nic); then
		result nic fail "failed to steer eth0: $steered"
		return
	fi
	if ! run_nic_workloads nic; then
		result nic fail "$steered; workload through the NIC failed"
		return
	fi
	quiet=$(nic_verdict "" nic quiet)
	starved=$(nic_verdict "" nic starved)
	if [ "${quiet%% *}" = pass ] && [ "${starved%% *}" = pass ]; then
		result nic pass "$steered; quiet: ${quiet#pass }; starved: ${starved#pass }"
		nic_ready=1
	else
		result nic fail "$steered; quiet: $quiet; starved: $starved"
	fi
}

# plan_results PLAN STATUS DETAIL CHECK...: the same result for each CHECK-PLAN
plan_results() {
	local plan=$1 status=$2 detail=$3 check

	shift 3
	for check in "$@"; do
		result "$check-$plan" "$status" "$detail"
	done
}

# The NIC checks of PLAN, on the datagrams its loader saw (check_plan).
judge_nic() {
	local verdict mode src

	for mode in quiet starved; do
		verdict=$(nic_verdict "$work/$1/probe.out" "$1-nic" $mode)
		[ -n "$verdict" ] || verdict="fail no comparison: the workload failed"
		result "nic-$mode-$1" "${verdict%% *}" "${verdict#* }"
		case $verdict in fail*)
			src=$(json_string src "$work/$1-nic-$mode.recv")
			grep "\"src\":\"$src\"" "$work/$1/probe.out" >"$work/$1-nic-$mode.events"
			show_file "events of $1-nic-$mode" "$work/$1-nic-$mode.events"
			show_file "sender of $1-nic-$mode" "$work/$1-nic-$mode.send" ;;
		esac
	done
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

# The receive side of PLAN, over loopback and through the NIC; returns 1
# when its loader did not load (its other checks then report as it did).
check_plan() {
	local plan=$1 dir=$work/$1 why gap_rc chosen stop_rc verdict

	if ! start_loader "$dir" --plan "$plan" --port $nic_port; then
		why=$(expected_gap "$plan" "$(loader_error "$dir")")
		gap_rc=$?
		if [ $gap_rc -eq 0 ]; then
			result "$plan" gap "$why; loader (exit $loader_rc): $(loader_error "$dir")"
			plan_results "$plan" gap "as $plan" $plan_checks
			return 1
		fi
		result "$plan" fail "loader exit $loader_rc before hello: $(loader_error "$dir")${why:+ ($why, but the message does not say so)}"
		plan_results "$plan" fail "as $plan" $plan_checks
		show_file "loader stderr" "$dir/probe.err" 400
		return 1
	fi
	log "$plan: $(grep -m1 '"type":"hello"' "$dir/probe.out")"
	chosen=$(json_string plan "$dir/probe.out")
	why=$(expected_gap "$plan" "")
	if [ $? -ne 1 ]; then
		stop $loader_pid INT $stop_timeout_s
		result "$plan" fail "loaded although documented as a gap ($why)"
		plan_results "$plan" fail "as $plan" $plan_checks
		return 1
	fi
	if ! run_workloads "$plan-warmup" $warmup_count ||
		! run_workloads "$plan" $count; then
		log "$plan: workload failed"
	fi
	log "ICMP before nic: $(awk '/^Icmp:/ {print $2, $5}' /proc/net/snmp | tail -1)"
	[ -z "$nic_ready" ] || run_nic_workloads "$plan-nic" || log "$plan: workload through the NIC failed"
	log "ICMP after nic: $(awk '/^Icmp:/ {print $2, $5}' /proc/net/snmp | tail -1)"
	stop $loader_pid INT $stop_timeout_s
	stop_rc=$?

	verdict=$(compare_verdict "$dir/probe.out" "$work/$plan")
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
	if [ -n "$nic_ready" ]; then
		judge_nic "$plan"
	else
		plan_results "$plan" fail "the NIC's plumbing failed (check nic)" nic-quiet nic-starved
	fi
}

# The send check's datagrams, into DIR.send: through the NIC from the traced
# port, after warm-up ones (the send programs' first run).
send_workload() {
	udpwork send --bind 10.0.2.15:$port --to 10.0.2.2:$discard_port \
		--count $((warmup_count + count)) --len $send_len --interval-us 1000 --tx-stamps \
		>"$1.send" 2>"$1.send.err" &
	sender_pid=$!
	wait $sender_pid || log "${1##*/}: sender failed: $(cat "$1.send.err")"
}

# Before any send check, twice its datagrams with transmit stamps and no
# loader. udpwork reads the stamps once all are sent, so their notifications
# pile up in the error queue and the kernel's cache of sk_buffs grows: here,
# and not in the first send check, where the software stamp's notification,
# allocated before its clock is read, waited 5-9 us for a new slab page
# inside the span it measures.
grow_stamp_cache() {
	udpwork send --to 10.0.2.2:$discard_port --count $((2 * (warmup_count + count))) \
		--len $send_len --interval-us 1000 --tx-stamps >/dev/null ||
		log "failed to send datagrams with transmit stamps"
}

send_verdict() {
	awk -v port=$port -v pid=$sender_pid -v len=$send_len -v warmup=$warmup_count \
		-v max_diff_ns=$max_qdisc_diff_ns -v slack_ns=$slack_ns -f /vmtest/json.awk -f /vmtest/pairs.awk -f /vmtest/send.awk \
		"$1/probe.out" "$1.send"
}

# The path check's datagrams, into DIR.recv and DIR.send: over loopback to
# the traced port, read as they come.
path_workload() {
	run_workload "${1##*/}" 127.0.0.1:$port 127.0.0.1:$port $((warmup_count + path_count)) 0 \
		--len 64 --interval-us $path_interval_us --tx-stamps || log "${1##*/}: workload failed"
}

path_verdict() {
	awk -v port=$port -v pid=$sender_pid -v warmup=$warmup_count \
		-v max_tail_ns=$max_tail_ns -v slack_ns=$slack_ns -f /vmtest/json.awk -f /vmtest/pairs.awk -f /vmtest/path.awk \
		"$1/probe.out" "$1.recv" "$1.send"
}

# send_side_check CHECK PLAN DIRECTION: with a loader of PLAN tracing $port
# in DIRECTION, runs CHECK_workload DIR, then reports CHECK-PLAN as
# CHECK_verdict DIR judges it (DIR: $work/PLAN-CHECK, the loader's output in
# it, the workload's beside it).
send_side_check() {
	local check=$1 plan=$2 dir=$work/$2-$1 direction stop_rc verdict

	if ! start_loader "$dir" --plan "$plan" --direction "$3"; then
		result "$check-$plan" fail "loader exit $loader_rc before hello: $(loader_error "$dir")"
		show_file "loader stderr" "$dir/probe.err"
		return
	fi
	direction=$(json_string direction "$dir/probe.out")
	log "ICMP before $check: $(awk '/^Icmp:/ {print $2, $5}' /proc/net/snmp | tail -1)"
	"${check}_workload" "$dir"
	log "ICMP after $check: $(awk '/^Icmp:/ {print $2, $5}' /proc/net/snmp | tail -1)"
	stop $loader_pid INT $stop_timeout_s
	stop_rc=$?
	verdict=$("${check}_verdict" "$dir")
	if [ "$direction" != "$3" ]; then
		verdict="fail hello names direction '$direction'; ${verdict#* }"
	elif [ $stop_rc -ne 0 ]; then
		verdict="fail loader exited $stop_rc after SIGINT; ${verdict#* }"
	fi
	result "$check-$plan" "${verdict%% *}" "${verdict#* }"
	case $verdict in fail*)
		show_file "loader stderr" "$dir/probe.err"
		show_file "events of $check-$plan" "$dir/probe.out" 8
		show_file "sender of $check-$plan" "$dir.send" 8 ;;
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
	verdict=$(compare_verdict "$dir/probe.out" "$work/shared")
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
	# Everything the driver starts stays on CPU0, as on the one-CPU VM the
	# loopback checks were written for; CPU1 runs only what the NIC checks
	# are about: RPS's backlog, ksoftirqd and the spinner.
	taskset -p 1 $$ >/dev/null
	check_udpwork
	check_nic
	if [ "$1" != none ]; then
		grow_stamp_cache
		for plan in $(echo "$1" | tr , ' '); do
			check_plan "$plan" || continue
			send_side_check send "$plan" send
			send_side_check path "$plan" both
		done
		check_auto
		check_shared
	fi
	return $failed
}

main "$@"
