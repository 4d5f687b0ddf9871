# Turns the BENCH records of bench/boot-run.sh into the tables bench/boot.sh prints.
# Input: the lab's console (only lines starting with "BENCH " are read). Variables (-v):
#   raw=FILE   also write the per-run figures there, tab-separated, one line per boot
# Plain POSIX awk (Debian's default is mawk): no asort, no gensub.

function kv(    j, p) {
	delete F
	for (j = 3; j <= NF; j++) {
		p = index($j, "=")
		if (p)
			F[substr($j, 1, p - 1)] = substr($j, p + 1)
	}
}

# median/min/max of the n values in A[1..n] (sorted in place).
function sort_n(A, n,    i, j, t) {
	for (i = 2; i <= n; i++)
		for (j = i; j > 1 && A[j - 1] + 0 > A[j] + 0; j--) {
			t = A[j]; A[j] = A[j - 1]; A[j - 1] = t
		}
}
function median(A, n) {
	sort_n(A, n)
	if (n == 0)
		return ""
	return n % 2 ? A[(n + 1) / 2] : (A[n / 2] + A[n / 2 + 1]) / 2
}

# stat(vmm, metric): sets MED, MIN, MAX, N over the timed runs; MED is "" when none.
function stat(vmm, metric,    n, i, A) {
	n = 0
	for (i = 1; i <= nrun[vmm]; i++)
		if ((vmm, metric, i) in V && V[vmm, metric, i] != "")
			A[++n] = V[vmm, metric, i]
	MED = median(A, n)
	MIN = n ? A[1] : ""
	MAX = n ? A[n] : ""
	N = n
}

# tstat(vmm, metric): the same over the traced boots.
function tstat(vmm, metric,    n, i, A) {
	n = 0
	for (i = 1; i <= ntraced_runs[vmm]; i++)
		if ((vmm, metric, i) in VT && VT[vmm, metric, i] != "")
			A[++n] = VT[vmm, metric, i]
	MED = median(A, n)
	MIN = n ? A[1] : ""
	MAX = n ? A[n] : ""
	N = n
}

function fmt_num(x, dec) {
	if (x == "")
		return "-"
	return sprintf("%." dec "f", x)
}
function ratio(a, b) {
	if (a == "" || b == "" || b + 0 == 0)
		return "-"
	return sprintf("%.2f", a / b)
}
function cell(vmm, metric, dec) {
	stat(vmm, metric)
	if (MED == "")
		return "-"
	return sprintf("%s [%s-%s]", fmt_num(MED, dec), fmt_num(MIN, dec), fmt_num(MAX, dec))
}

# tmed(vmm, event, key): median over the traced boots of one histogram bucket (0 if absent).
function tmed(vmm, event, key,    i, A) {
	for (i = 1; i <= ntr[vmm]; i++)
		A[i] = ((vmm, event, key, i) in T) ? T[vmm, event, key, i] : 0
	return median(A, ntr[vmm])
}
function ttotal(vmm, event,    k, s, key) {
	s = 0
	for (k in TK) {
		split(k, key, SUBSEP)
		if (key[1] == event)
			s += tmed(vmm, event, key[2])
	}
	return s
}

function port_name(p) {
	if (p ~ /^3f[89a-f]$/) return "COM1 (ttyS0)"
	if (p ~ /^2f[89a-f]$/) return "COM2 probe"
	if (p ~ /^3e[89a-f]$/) return "COM3 probe"
	if (p ~ /^2e[89a-f]$/) return "COM4 probe"
	if (p ~ /^4[0-3]$/) return "PIT i8254"
	if (p == "61") return "PC speaker / PIT gate"
	if (p == "60" || p == "64") return "i8042 keyboard ctl"
	if (p == "70") return "CMOS/RTC index"
	if (p == "71") return "CMOS/RTC data"
	if (p ~ /^(20|21|a0|a1)$/) return "PIC i8259"
	if (p ~ /^4d[01]$/) return "PIC ELCR"
	if (p == "80") return "POST / io_delay"
	if (p == "87") return "DMA page reg"
	if (p ~ /^(2e|2f|4e|4f)$/) return "Super I/O probe"
	if (p ~ /^cf[89ab]$/) return "PCI conf addr (cf8)"
	if (p ~ /^cf[cdef]$/) return "PCI conf data (cfc)"
	if (p ~ /^51[0-9a-f]$/) return "fw_cfg"
	if (p ~ /^3d[45]$/) return "VGA CRTC probe"
	if (p ~ /^f[01]$/) return "FPU error"
	if (p == "505") return "pvpanic"
	if (p ~ /^60[0-9a-f]$/) return "ACPI PM (azote)"
	if (p == "92") return "port A / A20"
	if (p == "b2" || p == "b3") return "APM / SMI cmd"
	return ""
}
function mmio_name(g) {
	if (g ~ /^fee0/) return "local APIC (xAPIC MMIO)"
	if (g ~ /^fec0/) return "IOAPIC"
	if (g ~ /^fec1/) return "IOAPIC #2 (microvm)"
	if (g ~ /^fea0/) return "ACPI GED (microvm)"
	if (g ~ /^fed0/) return "HPET"
	if (g ~ /^feb/) return "virtio-mmio"
	return ""
}
function msr_name(m) {
	if (m == "6e0") return "TSC_DEADLINE"
	if (m == "1b") return "APIC_BASE"
	if (m == "80b") return "x2APIC EOI"
	if (m == "830") return "x2APIC ICR"
	if (m == "832") return "x2APIC LVT timer"
	if (m == "838") return "x2APIC timer init count"
	if (m == "839") return "x2APIC timer current count"
	if (m == "83e") return "x2APIC timer divide"
	if (m ~ /^83[2-7]$/) return "x2APIC LVT"
	if (m ~ /^8[0-3][0-9a-f]$/) return "x2APIC register"
	if (m ~ /^4b564d0/) return "KVM paravirt"
	if (m == "10") return "TSC"
	if (m == "3b") return "TSC_ADJUST"
	if (m ~ /^c0010/) return "AMD (K7/K8/HWCR...)"
	if (m ~ /^c001/) return "AMD"
	if (m ~ /^c0000/) return "EFER/STAR/FS/GS..."
	if (m == "179") return "MCG_CAP"
	if (m ~ /^(17|8b|10a|48|49)$/) return "platform/microcode/spec"
	if (m ~ /^4[0-9a-f][0-9a-f]$/) return "MCA banks"
	if (m ~ /^3[8-9a-f][0-9a-f]$/) return "perf counters"
	if (m ~ /^1[89][0-9a-f]$/) return "perf/thermal"
	return ""
}

# hexkey(k): the hex value of a "name=hex" histogram key, lower case, without 0x.
function hexval(s) {
	sub(/^0x/, "", s)
	sub(/^0+/, "", s)
	return s == "" ? "0" : tolower(s)
}

/^BENCH info / { kv(); for (k in F) INFO[k] = F[k] }
/^BENCH cmdline / { INFO["cmdline"] = substr($0, length("BENCH cmdline ") + 1) }
/^BENCH run / {
	kv()
	vmm = F["vmm"]
	line = F["vmm"] "\t" F["i"] "\t" F["traced"] "\t" F["status"] "\t" F["marker_ms"] "\t" F["exit_ms"] "\t" F["maxrss_kib"]
	line = line "\t" (("exec_ms" in F) ? F["exec_ms"] : "-") "\t" (("az_own_kib" in F) ? F["az_own_kib"] : "-")
	line = line "\t" (("az_touched_kib" in F) ? F["az_touched_kib"] : "-")
	line = line "\t" (("own_kib" in F) ? F["own_kib"] : "-") "\t" (("guestram_kib" in F) ? F["guestram_kib"] : "-")
	line = line "\t" (("entry_ms" in F) ? F["entry_ms"] : "-")
	RAW[++nraw] = line
	if (F["traced"] == 1) {
		if (F["status"] != 0 || F["marker_ms"] == "none")
			next
		i = ++ntraced_runs[vmm]
		for (k in F)
			VT[vmm, k, i] = (F[k] == "none" ? "" : F[k])
	} else if (F["status"] != 0 || F["marker_ms"] == "none") {
		# A failed boot has no meaningful figures: listed below, left out of the statistics.
		bad++
	} else {
		i = ++nrun[vmm]
		for (k in F)
			V[vmm, k, i] = F[k]
	}
}
/^BENCH azexit / {
	kv()
	AZX[F["i"], F["reason"]] = F["count"]
	AZR[F["reason"]] = 1
}
/^BENCH trace / {
	kv()
	vmm = F["vmm"]; run = F["i"]
	if (!((vmm, run) in TRUN)) {
		TRUN[vmm, run] = ++ntr[vmm]
		if (!(vmm in TFIRST))
			TFIRST[vmm] = run
	}
	key = F["key"]
	T[vmm, F["event"], key, TRUN[vmm, run]] += F["count"]
	TK[F["event"], key] = 1
}

END {
	hdr = "vmm\trun\ttraced\tstatus\tmarker_ms\texit_ms\tpeak_rss_kib\texec_to_kvm_run_ms\taz_own_rss_kib\taz_guest_touched_kib\town_rss_at_marker_kib\tguest_ram_rss_at_marker_kib\texec_to_first_entry_ms"
	if (raw != "") {
		print hdr > raw
		for (j = 1; j <= nraw; j++)
			print RAW[j] > raw
		close(raw)
	}
	printf "azote vs QEMU microvm: boot benchmark\n"
	printf "  guest: same kernel, initramfs and cmdline \"%s\", 1 vCPU, 256 MiB for both\n", INFO["cmdline"]
	printf "  where: kernel %s, %s CPU(s), THP %s (shmem %s), QEMU %s\n", INFO["host_kernel"], INFO["cpus"],
		INFO["thp"], INFO["shmem_thp"], INFO["qemu"]
	printf "  boots: %s timed and %s traced (exit counting) per VMM, alternating (ABBA order)\n",
		INFO["runs"], INFO["trace_runs"]
	printf "  times: from the instant before execve of the VMM\n\n"

	printf "== per-run figures (the traced boots come first and double as warm-up)\n"
	printf "%-5s %-3s %-3s %-3s %9s %9s %8s %8s %8s %8s %8s %8s %8s\n", "", "", "", "", "", "", "peak", "exec->", "azote", "azote", "RSS at", "marker", "exec->"
	printf "%-5s %-3s %-3s %-3s %9s %9s %8s %8s %8s %8s %8s %8s %8s\n", "vmm", "run", "trc", "st",
		"marker", "exit", "RSS", "KVM_RUN", "own RSS", "guest", "own", "guest", "entry"
	printf "%-5s %-3s %-3s %-3s %9s %9s %8s %8s %8s %8s %8s %8s %8s\n", "", "", "", "", "ms", "ms", "KiB", "ms", "KiB", "KiB", "KiB", "KiB", "ms"
	for (j = 1; j <= nraw; j++) {
		split(RAW[j], c, "\t")
		printf "%-5s %-3s %-3s %-3s %9s %9s %8s %8s %8s %8s %8s %8s %8s\n", c[1], c[2], c[3], c[4], c[5], c[6], c[7], c[8], c[9], c[10], c[11], c[12], c[13]
	}

	if (ntr["azote"] && ntr["qemu"]) {
		exit_tables()
	} else {
		printf "\n(no traced boots for both VMMs: VM exits by reason not counted)\n"
	}
	summary()
}

# Rows of one histogram: keys of EVENT, by decreasing total, with both VMMs' medians.
function collect(event,    k, key, n, i, j, t) {
	n = 0
	delete ROWK
	for (k in TK) {
		split(k, key, SUBSEP)
		if (key[1] != event)
			continue
		ROWK[++n] = key[2]
		ROWA[key[2]] = tmed("azote", event, key[2])
		ROWQ[key[2]] = tmed("qemu", event, key[2])
		ROWS[n] = -(ROWA[key[2]] + ROWQ[key[2]])
	}
	# Sort ROWK by ROWS (insertion sort on both).
	for (i = 2; i <= n; i++)
		for (j = i; j > 1 && ROWS[j - 1] > ROWS[j]; j--) {
			t = ROWS[j]; ROWS[j] = ROWS[j - 1]; ROWS[j - 1] = t
			t = ROWK[j]; ROWK[j] = ROWK[j - 1]; ROWK[j - 1] = t
		}
	return n
}

function exit_tables(    n, j, k, a, q, ta, tq, f, rest_a, rest_q, nrest, r, p, port, rw, byport) {
	printf "\n== VM exits per boot by reason (tracepoint kvm:kvm_exit, all exits incl. those KVM handles itself; median of traced boots)\n"
	printf "%-26s %10s %10s %10s\n", "reason", "azote", "QEMU", "azote/QEMU"
	n = collect("kvm_exit")
	ta = tq = 0
	for (j = 1; j <= n; j++) {
		k = ROWK[j]; a = ROWA[k]; q = ROWQ[k]
		ta += a; tq += q
		sub(/^exit_reason=/, "", k)
		printf "%-26s %10d %10d %10s\n", k, a, q, ratio(a, q)
	}
	printf "%-26s %10d %10d %10s\n", "total", ta, tq, ratio(ta, tq)
	EXITS_A = ta; EXITS_Q = tq

	printf "\n== exits that reach the VMM process (kvm:kvm_userspace_exit) and azote's own --exit-stats\n"
	printf "%-16s %12s %14s %24s %12s\n", "", "azote", "azote", "azote --exit-stats", "QEMU"
	printf "%-16s %12s %14s %24s %12s\n", "reason", "tracepoint", "--exit-stats", "timed boots", "tracepoint"
	n = collect("kvm_userspace_exit")
	ta = tq = 0
	for (j = 1; j <= n; j++) {
		k = ROWK[j]; a = ROWA[k]; q = ROWQ[k]
		ta += a; tq += q
		r = k; sub(/^reason=/, "", r)
		printf "%-16s %12d %14s %24s %12d\n", r, a, az_traced(r), az_timed(r), q
	}
	printf "%-16s %12d %14s %24s %12d\n", "total", ta, az_traced("total"), az_timed("total"), tq
	printf "(azote's --exit-stats: in the traced boot, then median [min-max] over the timed boots;\n"
	printf " it counts KVM_RUN calls that returned an exit, not those interrupted by a signal)\n"
	UEXITS_A = ta; UEXITS_Q = tq

	printf "\n== port I/O exits by port (kvm:kvm_pio; in-kernel devices included; reads/writes)\n"
	printf "%-6s %-22s %9s %9s %9s %9s\n", "port", "device", "azote rd", "azote wr", "QEMU rd", "QEMU wr"
	n = collect("kvm_pio")
	delete byport; np = 0
	for (j = 1; j <= n; j++) {
		k = ROWK[j]
		split(k, f, ",")
		port = f[1]; sub(/^port=/, "", port); port = hexval(port)
		rw = f[2]; sub(/^rw=/, "", rw)
		if (!(port in byport)) { byport[port] = 1; PORTS[++np] = port; PA[port, 0] = PA[port, 1] = PQ[port, 0] = PQ[port, 1] = 0 }
		PA[port, rw] += ROWA[k]; PQ[port, rw] += ROWQ[k]
	}
	rest_a = rest_q = nrest = 0
	ta = tq = 0
	for (j = 1; j <= np; j++) {
		p = PORTS[j]
		a = PA[p, 0] + PA[p, 1]; q = PQ[p, 0] + PQ[p, 1]
		ta += a; tq += q
		if (a + q < 10) { rest_a += a; rest_q += q; nrest++; continue }
		printf "0x%-4s %-22s %9d %9d %9d %9d\n", p, port_name(p), PA[p, 0], PA[p, 1], PQ[p, 0], PQ[p, 1]
	}
	if (nrest)
		printf "%-29s %19d %19d\n", nrest " ports under 10 exits", rest_a, rest_q
	printf "%-29s %19d %19d\n", "total", ta, tq

	top_table("kvm_mmio", "MMIO exits by address (kvm:kvm_mmio; type 0 = unsatisfied read, 1 = read, 2 = write)", "gpa", 12)
	top_table("kvm_msr", "MSR exits by MSR (kvm:kvm_msr; write 0 = rdmsr, 1 = wrmsr), top 12", "ecx", 12)
}

function az_traced(reason) {
	return ((TFIRST["azote"] SUBSEP reason) in AZX) ? AZX[TFIRST["azote"], reason] : "-"
}

function az_timed(reason,    i, n, A) {
	n = 0
	for (i = 1; i <= nrun["azote"]; i++)
		if ((V["azote", "i", i], reason) in AZX)
			A[++n] = AZX[V["azote", "i", i], reason]
	if (!n)
		return "-"
	sort_n(A, n)
	return sprintf("%d [%d-%d]", median(A, n), A[1], A[n])
}

function top_table(event, title, field, limit,    n, j, k, a, q, ta, tq, f, v, other, name, ra, rq) {
	printf "\n== %s\n", title
	printf "%-24s %-26s %10s %10s\n", field, "", "azote", "QEMU"
	n = collect(event)
	ta = tq = ra = rq = 0
	for (j = 1; j <= n; j++) {
		k = ROWK[j]; a = ROWA[k]; q = ROWQ[k]
		ta += a; tq += q
		if (j > limit) { ra += a; rq += q; continue }
		split(k, f, ",")
		v = f[1]; sub(/^[a-z]*=/, "", v); v = hexval(v)
		other = f[2]
		name = (event == "kvm_mmio") ? mmio_name(v) : msr_name(v)
		printf "0x%-10s %-11s %-26s %10d %10d\n", v, other, name, a, q
	}
	if (n > limit)
		printf "%-50s %10d %10d\n", (n - limit) " more", ra, rq
	printf "%-50s %10d %10d\n", "total", ta, tq
}

function summary(    a, q, m) {
	printf "\n== summary: median [min-max] of the timed boots that completed (azote %d, QEMU %d);\n", nrun["azote"], nrun["qemu"]
	printf "   ratio = azote/QEMU of the medians\n"
	printf "%-40s %26s %26s %6s\n", "metric", "azote", "QEMU microvm", "ratio"
	row("start -> AZOTE-GUEST-READY on console, ms", "marker_ms", 1)
	MARK_RATIO = LAST_RATIO
	row("start -> process exit, ms", "exit_ms", 1)
	row("peak RSS (VmHWM via wait4), KiB", "maxrss_kib", 0)
	row("RSS at marker outside guest RAM, KiB", "own_kib", 0)
	row("RSS at marker in guest RAM, KiB", "guestram_kib", 0)
	printf "%-40s %26s %26s %6s\n", "azote's own view at exit:", "", "", ""
	printf "%-40s %26s %26s %6s\n", "  own RSS (RssAnon+RssFile), KiB", cell("azote", "az_own_kib", 0), "-", ""
	printf "%-40s %26s %26s %6s\n", "  guest RAM touched (RssShmem), KiB", cell("azote", "az_touched_kib", 0), "-", ""
	printf "%-40s %26s %26s %6s\n", "  exec -> first KVM_RUN, ms", cell("azote", "exec_ms", 1), "-", ""
	tstat("azote", "entry_ms"); a = MED
	tstat("qemu", "entry_ms"); q = MED
	if (a != "" || q != "")
		printf "%-40s %26s %26s %6s\n", "exec -> first guest entry (traced), ms", fmt_num(a, 1), fmt_num(q, 1), ratio(a, q)
	if (EXITS_A != "") {
		printf "%-40s %26d %26d %6s\n", "VM exits per boot (all, traced boot)", EXITS_A, EXITS_Q, ratio(EXITS_A, EXITS_Q)
		printf "%-40s %26d %26d %6s\n", "  of which reach the VMM process", UEXITS_A, UEXITS_Q, ratio(UEXITS_A, UEXITS_Q)
	}
	printf "\n== product targets (reported, not asserted; the lab runs ~50x slower than hardware)\n"
	stat("azote", "marker_ms"); a = MED; stat("qemu", "marker_ms"); q = MED
	printf "  boot to marker <= 0.8x QEMU microvm:  %sx  %s\n", ratio(a, q), verdict(a != "" && q != "" && a / q <= 0.8)
	stat("azote", "own_kib"); m = MED
	printf "  azote own RSS < 4 MiB:                %s KiB outside guest RAM at the marker  %s\n", fmt_num(m, 0), verdict(m != "" && m + 0 < 4096)
	stat("azote", "exec_ms"); m = MED
	printf "  exec to first KVM_RUN < 5 ms:         %s ms in the lab  %s\n", fmt_num(m, 1), verdict(m != "" && m + 0 < 5)
	if (bad)
		printf "\n%d timed boot(s) failed (no marker or non-zero status) and are left out: see the per-run figures\n", bad
}

function row(label, metric, dec,    a, q) {
	stat("azote", metric); a = MED
	stat("qemu", metric); q = MED
	LAST_RATIO = ratio(a, q)
	printf "%-40s %26s %26s %6s\n", label, cell("azote", metric, dec), cell("qemu", metric, dec), LAST_RATIO
}

function verdict(ok) {
	return ok ? "(met)" : "(not met)"
}
