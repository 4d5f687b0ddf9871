# Turns the BENCH records of bench/sandbox-run.sh into the tables bench/sandbox.sh prints.
# Input: the lab's console (only lines starting with "BENCH " are read). Variables (-v):
#   raw=FILE   also write the per-boot figures there, tab-separated
# Plain POSIX awk (Debian's default is mawk): no asort, no gensub.

function kv(    j, p) {
	delete F
	for (j = 3; j <= NF; j++) {
		p = index($j, "=")
		if (p)
			F[substr($j, 1, p - 1)] = substr($j, p + 1)
	}
}
function isnum(x) { return x ~ /^-?[0-9]+(\.[0-9]+)?$/ }

function sort_n(A, n,    i, j, t) {
	for (i = 2; i <= n; i++)
		for (j = i; j > 1 && A[j - 1] + 0 > A[j] + 0; j--) {
			t = A[j]; A[j] = A[j - 1]; A[j - 1] = t
		}
}
# med(key): median of V[key, 1..NV[key]]; sets MIN, MAX, N.
function med(key,    n, i, A) {
	n = NV[key] + 0
	for (i = 1; i <= n; i++)
		A[i] = V[key, i]
	sort_n(A, n)
	N = n
	MIN = n ? A[1] : ""
	MAX = n ? A[n] : ""
	if (n == 0)
		return ""
	return n % 2 ? A[(n + 1) / 2] : (A[n / 2] + A[n / 2 + 1]) / 2
}
function add(key, v) { if (isnum(v)) V[key, ++NV[key]] = v }

function num(x, dec) { return x == "" ? "-" : sprintf("%." dec "f", x) }
# cell(key, dec): "median [min-max]".
function cell(key, dec,    m) {
	m = med(key)
	if (m == "")
		return "-"
	if (N == 1)
		return num(m, dec)
	return sprintf("%s [%s-%s]", num(m, dec), num(MIN, dec), num(MAX, dec))
}
# paired(ph, fig): median over the timed rounds that have both levels of level2/level0.
function paired(ph, fig,    r, n, A) {
	n = 0
	for (r = 1; r <= ROUNDS[ph]; r++)
		if (((ph, fig, 2, r) in P) && ((ph, fig, 0, r) in P) && P[ph, fig, 0, r] + 0 != 0)
			A[++n] = P[ph, fig, 2, r] / P[ph, fig, 0, r]
	sort_n(A, n)
	if (n == 0)
		return ""
	return n % 2 ? A[(n + 1) / 2] : (A[n / 2] + A[n / 2 + 1]) / 2
}

# row(ph, fig, label, dec, higher_better, target): one line of the main table; the cost is
# what level 2 loses against level 0, from the ratio of the medians.
function row(ph, fig, label, dec, higher, target,    m2, m0, c2, c0, r, pr, cost, mark, spread) {
	c2 = cell(ph SUBSEP fig SUBSEP 2, dec); m2 = med(ph SUBSEP fig SUBSEP 2)
	if (m2 != "" && MIN + 0 > 0) spread = MAX / MIN - 1
	c0 = cell(ph SUBSEP fig SUBSEP 0, dec); m0 = med(ph SUBSEP fig SUBSEP 0)
	if (m0 != "" && MIN + 0 > 0 && MAX / MIN - 1 > spread) spread = MAX / MIN - 1
	if (m2 == "" && m0 == "")
		return
	r = (m2 != "" && m0 != "" && m0 + 0 != 0) ? m2 / m0 : ""
	pr = paired(ph, fig)
	cost = "-"
	mark = ""
	if (r != "") {
		cost = higher ? (1 - r) * 100 : (r - 1) * 100
		if (target) {
			mark = cost < 3 ? "met" : "NOT met"
			TGT = TGT sprintf("  %-34s level 2 / level 0 = %.3f (paired %s): cost %+.1f%% -> %s\n",
				label, r, pr == "" ? "-" : sprintf("%.3f", pr), cost, mark)
			SPREAD = SPREAD sprintf("  %-34s %.1f%%\n", label, spread * 100)
		}
		cost = sprintf("%+.1f%%", cost)
	}
	printf "%-38s %-26s %-26s %-6s %-7s %-7s %s\n", label, c2, c0,
		r == "" ? "-" : sprintf("%.3f", r), pr == "" ? "-" : sprintf("%.3f", pr), cost, mark
}

$1 != "BENCH" { next }
$2 == "info" { INFO = $0; sub(/^BENCH info /, "", INFO); kv(); HZ = F["user_hz"] ? F["user_hz"] : 100; next }
$2 == "cmdline" { CMDLINE = $0; sub(/^BENCH cmdline /, "", CMDLINE); next }
$2 == "labs" { kv(); LABS0 = F["at_start"]; LABS1 = F["at_end"]; HOSTCPUS = F["host_cpus"]; next }
$2 == "done" { kv(); DONE = 1; FAILED = F["failed"]; next }
$2 == "seccomp" {
	line = $0
	sub(/^BENCH seccomp /, "", line)
	KILLS = KILLS "  " line "\n"
	next
}
# "BENCH stamp phase= level= i= ev=", then (from the host side) "BENCH hostcpu ns=N": the CPU
# time the lab's QEMU had used on the host at that instant.
$2 == "stamp" { kv(); SKEY = F["phase"] SUBSEP F["level"] SUBSEP F["i"] SUBSEP F["ev"]; next }
$2 == "hostcpu" {
	kv()
	if (SKEY != "" && isnum(F["ns"]))
		HC[SKEY] = F["ns"] + 0
	SKEY = ""
	next
}
$2 == "boot" || $2 == "fio" {
	ph = $2
	kv()
	lv = F["level"]
	if (raw != "")
		printf "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", ph, lv, F["i"], F["warm"],
			F["status"], F["marker_ms"], F["kvmrun_ms"], F["exit_ms"], F["exits"], F["maxrss_kib"],
			F["iops"], F["reads"], F["az_ticks"], F["blk_ticks"], F["guest_ticks"] >raw
	if (F["warm"] == 1) {
		WARM[ph]++
		next
	}
	if (F["status"] != 0) {
		BAD[ph, lv]++
		next
	}
	GOOD[ph, lv]++
	r = F["i"] + 0
	if (r > ROUNDS[ph])
		ROUNDS[ph] = r
	nf = split("marker_ms kvmrun_ms exit_ms exits maxrss_kib iops", names, " ")
	for (k = 1; k <= nf; k++)
		if (isnum(F[names[k]])) {
			add(ph SUBSEP names[k] SUBSEP lv, F[names[k]])
			P[ph, names[k], lv, r] = F[names[k]]
		}
	# CPU time per request, in microseconds (USER_HZ ticks).
	if (isnum(F["reads"]) && F["reads"] + 0 > 0) {
		nf = split("az_ticks blk_ticks guest_ticks", names, " ")
		for (k = 1; k <= nf; k++)
			if (isnum(F[names[k]])) {
				v = F[names[k]] * 1e6 / HZ / F["reads"]
				add(ph SUBSEP names[k] SUBSEP lv, v)
				P[ph, names[k], lv, r] = v
			}
	}
	ROUND[ph, lv, r] = ph == "boot" ? F["marker_ms"] : F["iops"]
	if (ph == "fio")
		READS[lv, r] = F["reads"]
	next
}
# hc(ph, lv, r, a, b): host CPU ms the lab used from stamp a to stamp b ("" if missing).
function hc(ph, lv, r, a, b,    ka, kb) {
	ka = ph SUBSEP lv SUBSEP r SUBSEP a
	kb = ph SUBSEP lv SUBSEP r SUBSEP b
	return ((ka in HC) && (kb in HC) && HC[kb] >= HC[ka]) ? (HC[kb] - HC[ka]) / 1e6 : ""
}

END {
	if (raw != "")
		close(raw)
	# The lab's host CPU time: to the marker (boot), and requests per lab CPU-second (fio).
	for (l = 0; l <= 2; l += 2) {
		for (r = 1; r <= ROUNDS["boot"]; r++) {
			v = hc("boot", l, r, "start", "marker")
			if (v != "") {
				add("boot" SUBSEP "hc_marker" SUBSEP l, v)
				P["boot", "hc_marker", l, r] = v
			}
		}
		for (r = 1; r <= ROUNDS["fio"]; r++) {
			v = hc("fio", l, r, "start", "end")
			if (v != "" && v > 0 && isnum(READS[l, r])) {
				v = READS[l, r] / (v / 1000)
				add("fio" SUBSEP "hc_rps" SUBSEP l, v)
				P["fio", "hc_rps", l, r] = v
			}
		}
	}
	print "Sandbox cost: azote --seccomp-level 2 (the default) vs --seccomp-level 0, same guests, ABBA"
	print "  level 2: seccomp allowlists, arguments checked, on azote's vCPU and main threads and on"
	print "  every thread of azote-blk; level 0: no filter. azote starts azote-blk with --sandbox on at"
	print "  both levels (no azote option turns it off): its namespaces, empty root and dropped"
	print "  capabilities are in both columns, so this compares the seccomp filters only."
	if (LABS0 != "")
		printf "  Other labs: %s other QEMU process(es) on the host's %s CPUs at the start, %s at the end:\n" \
			"  the absolute figures are skewed by them; the ABBA alternation in one lab keeps the\n" \
			"  comparison fair.\n", LABS0, HOSTCPUS, LABS1
	else
		print "  Other labs may share the host's CPUs: the ABBA alternation keeps the comparison fair."
	if (CMDLINE != "")
		print "  Boot guest: test initramfs, 1 vCPU, 256 MiB, command line: " CMDLINE
	print "  fio guest: same kernel, test initramfs + fio, 1 vCPU, 512 MiB, virtio disk (azote-blk) on a"
	print "  tmpfs image; 4 KiB randread, io_uring, iodepth 32, --direct=1."
	if (INFO != "")
		print "  (" INFO ")"
	print ""
	printf "%-38s %-26s %-26s %-6s %-7s %-7s %s\n", "figure (median [min-max])", "level 2 (filters)",
		"level 0 (none)", "2/0", "paired", "cost", "< 3%?"
	printf "%-38s %-26s %-26s\n", "boot: boots", (GOOD["boot", 2] + 0) (BAD["boot", 2] ? " (+" BAD["boot", 2] " failed)" : ""),
		(GOOD["boot", 0] + 0) (BAD["boot", 0] ? " (+" BAD["boot", 0] " failed)" : "")
	row("boot", "marker_ms", "boot: exec -> marker, ms", 1, 0, 1)
	row("boot", "kvmrun_ms", "boot: exec -> first KVM_RUN, ms", 2, 0, 1)
	row("boot", "hc_marker", "boot: lab host CPU to marker, ms", 1, 0, 1)
	row("boot", "exit_ms", "boot: exec -> exit, ms", 1, 0, 0)
	row("boot", "exits", "boot: VM exits per boot", 0, 0, 0)
	row("boot", "maxrss_kib", "boot: peak RSS, KiB", 0, 0, 0)
	printf "%-38s %-26s %-26s\n", "fio: boots", (GOOD["fio", 2] + 0) (BAD["fio", 2] ? " (+" BAD["fio", 2] " failed)" : ""),
		(GOOD["fio", 0] + 0) (BAD["fio", 0] ? " (+" BAD["fio", 0] " failed)" : "")
	row("fio", "iops", "fio: 4 KiB randread IOPS", 0, 1, 1)
	row("fio", "hc_rps", "fio: requests per lab host CPU-s", 0, 1, 1)
	row("fio", "blk_ticks", "fio: azote-blk CPU, us/request", 1, 0, 0)
	row("fio", "kvmrun_ms", "fio: exec -> first KVM_RUN, ms", 2, 0, 0)
	row("fio", "marker_ms", "fio: exec -> marker, ms", 1, 0, 0)
	row("fio", "exits", "fio: VM exits per boot", 0, 0, 0)
	print ""
	print "cost: what level 2 loses against level 0, from the ratio of the medians (times, CPU,"
	print "exits: level 2 / level 0 - 1; IOPS: 1 - level 2 / level 0); paired: the median over the"
	print "rounds of each round's level 2 / level 0 (both levels ran back to back in a round)."
	print "azote-blk CPU per request: its USER_HZ ticks in the fio job over the requests vda"
	print "completed (azote's own time outside guest mode is in the raw table only: utime is"
	print "scaled, guest time is not, so their difference can come out negative)."
	print "lab host CPU: the CPU time the lab's QEMU used on the host between two points (boot:"
	print "exec -> marker; fio: the reads vda completed in the job over it). The lab's own clock"
	print "keeps running while other labs hold the host's CPUs, which stretches every in-lab"
	print "time and lowers IOPS by chance; the lab's host CPU time counts only the work done."

	for (ph = 1; ph <= 2; ph++) {
		p = ph == 1 ? "boot" : "fio"
		if (!ROUNDS[p])
			continue
		print ""
		printf "Per round, %s (%s; order 2,0 in odd rounds, 0,2 in even ones):\n", p,
			p == "boot" ? "exec -> marker, ms" : "4 KiB randread IOPS"
		printf "  %-6s %-12s %-12s %s\n", "round", "level 2", "level 0", "2/0"
		for (r = 1; r <= ROUNDS[p]; r++) {
			a = ((p, 2, r) in ROUND) ? ROUND[p, 2, r] : "-"
			b = ((p, 0, r) in ROUND) ? ROUND[p, 0, r] : "-"
			printf "  %-6s %-12s %-12s %s\n", r, a, b,
				(isnum(a) && isnum(b) && b + 0 != 0) ? sprintf("%.3f", a / b) : "-"
		}
	}

	print ""
	print "Target: the sandbox costs under 3% (reported, not asserted):"
	printf "%s", TGT == "" ? "  no figures\n" : TGT
	print "Largest spread within one level (max / min - 1): a difference smaller than this is noise:"
	printf "%s", SPREAD
	if (KILLS != "") {
		print ""
		print "SECCOMP KILLS (a forbidden syscall at level 2: a missing rule in src/sandbox/seccomp_rules_*.c):"
		printf "%s", KILLS
	}
	if (!DONE)
		print "\nThe run did not finish (no 'BENCH done' record): see the log."
	else if (FAILED + 0)
		print "\n" FAILED " boot(s) failed: see the log."
}
