# Turns the BENCH records of bench/blk-run.sh into the tables bench/blk.sh prints.
# Input: the lab's console (only lines starting with "BENCH " are read). Variables (-v):
#   raw=FILE   also write the per-run fio figures there, tab-separated
# Plain POSIX awk (Debian's default is mawk): no asort, no gensub.

function kv(    j, p) {
	delete F
	for (j = 3; j <= NF; j++) {
		p = index($j, "=")
		if (p)
			F[substr($j, 1, p - 1)] = substr($j, p + 1)
	}
}

function sort_n(A, n,    i, j, t) {
	for (i = 2; i <= n; i++)
		for (j = i; j > 1 && A[j - 1] + 0 > A[j] + 0; j--) {
			t = A[j]; A[j] = A[j - 1]; A[j - 1] = t
		}
}
# med(key): median of the values V[key, 1..NV[key]]; sets MIN, MAX, N.
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
function add(key, v) { V[key, ++NV[key]] = v }

function num(x, dec) { return x == "" ? "-" : sprintf("%." dec "f", x) }
function ratio(a, b) { return (a == "" || b == "" || b + 0 == 0) ? "-" : sprintf("%.2f", a / b) }
# cell(key, dec, scale): "median [min-max]" of the values divided by scale.
function cell(key, dec, scale,    m) {
	m = med(key)
	if (m == "")
		return "-"
	if (N == 1)
		return num(m / scale, dec)
	return sprintf("%s [%s-%s]", num(m / scale, dec), num(MIN / scale, dec), num(MAX / scale, dec))
}

# tmed(vmm, event, key): median over the traced boots of one histogram bucket (0 if absent).
function tmed(vmm, event, key,    i, n, A, id) {
	n = 0
	for (id in TRUN)
		if (index(id, vmm SUBSEP) == 1) {
			split(id, p, SUBSEP)
			A[++n] = ((vmm, p[2], event, key) in T) ? T[vmm, p[2], event, key] : 0
		}
	sort_n(A, n)
	if (n == 0)
		return ""
	return n % 2 ? A[(n + 1) / 2] : (A[n / 2] + A[n / 2 + 1]) / 2
}
# tsum(vmm, event): median over the traced boots of an event's total.
function tsum(vmm, event,    n, A, id, k, q, s) {
	n = 0
	for (id in TRUN)
		if (index(id, vmm SUBSEP) == 1) {
			split(id, p, SUBSEP)
			s = 0
			for (k in T) {
				split(k, q, SUBSEP)
				if (q[1] == vmm && q[2] == p[2] && q[3] == event)
					s += T[k]
			}
			A[++n] = s
		}
	sort_n(A, n)
	if (n == 0)
		return ""
	return n % 2 ? A[(n + 1) / 2] : (A[n / 2] + A[n / 2 + 1]) / 2
}
function per_req(x, r) { return (x == "" || r == "" || r + 0 == 0) ? "-" : sprintf("%.3f", x / r) }

# exits_table(event, title, limit): buckets of one event, per traced boot (median), with the
# count per disk request, for both VMMs; the biggest first, at most limit rows.
function exits_table(event, title, limit,    k, q, key, keys, nk, i, j, t, a, b, v, shown) {
	nk = 0
	for (k in TK) {
		split(k, q, SUBSEP)
		if (q[1] == event)
			keys[++nk] = q[2]
	}
	if (nk == 0)
		return
	# Order by the larger of the two medians, biggest first.
	for (i = 1; i <= nk; i++) {
		a = tmed("azote", event, keys[i]); b = tmed("qemu", event, keys[i])
		W[i] = (a + 0 > b + 0) ? a + 0 : b + 0
	}
	for (i = 2; i <= nk; i++)
		for (j = i; j > 1 && W[j - 1] < W[j]; j--) {
			t = W[j]; W[j] = W[j - 1]; W[j - 1] = t
			t = keys[j]; keys[j] = keys[j - 1]; keys[j - 1] = t
		}
	printf "%s\n", title
	printf "  %-28s %12s %10s %12s %10s\n", "", "azote", "/request", "QEMU", "/request"
	a = tsum("azote", event); b = tsum("qemu", event)
	printf "  %-28s %12s %10s %12s %10s\n", "total", num(a, 0), per_req(a, REQ["azote"]), num(b, 0), per_req(b, REQ["qemu"])
	shown = 0
	for (i = 1; i <= nk && shown < limit; i++) {
		if (W[i] == 0)
			continue
		a = tmed("azote", event, keys[i]); b = tmed("qemu", event, keys[i])
		printf "  %-28s %12s %10s %12s %10s\n", keys[i], num(a, 0), per_req(a, REQ["azote"]), num(b, 0), per_req(b, REQ["qemu"])
		shown++
	}
	if (nk > shown)
		printf "  (%d smaller buckets not shown)\n", nk - shown
}

$1 != "BENCH" { next }
$2 == "info" { kv(); for (k in F) INFO[k] = F[k]; next }
$2 == "done" { kv(); done = 1; failed = F["failed"]; next }
$2 == "fio" {
	kv()
	if (F["i"] ~ /^t/)
		next
	add(F["vmm"] SUBSEP F["job"] SUBSEP "iops", F["iops"])
	add(F["vmm"] SUBSEP F["job"] SUBSEP "bw", F["bw_kib"])
	RUNI[F["vmm"], F["i"]] = 1
	FIOV[F["vmm"], F["i"], F["job"]] = F["iops"]
	FIOB[F["vmm"], F["i"], F["job"]] = F["bw_kib"]
	if (raw != "") {
		if (!rawhead++)
			print "vmm\tround\tjob\tiops\tbw_kib" >raw
		print F["vmm"] "\t" F["i"] "\t" F["job"] "\t" F["iops"] "\t" F["bw_kib"] >raw
	}
	next
}
$2 == "run" {
	kv()
	if (F["i"] ~ /^t/) {
		if (F["status"] == 0 && F["reads"] != "none") {
			TRUN[F["vmm"], F["i"]] = 1
			TREQ[F["vmm"], F["i"]] = F["reads"] + F["writes"]
		}
		next
	}
	PHASE[F["vmm"], F["i"]] = F["phase_s"]
	if (F["irqs"] != "none" && F["reads"] != "none" && F["reads"] + F["writes"] > 0)
		IRQR[F["vmm"], F["i"]] = F["irqs"] / (F["reads"] + F["writes"])
	if (F["phase_s"] != "none")
		add(F["vmm"] SUBSEP "phase", F["phase_s"])
	next
}
$2 == "trace" { kv(); T[F["vmm"], F["i"], F["event"], F["key"]] = F["count"]; TK[F["event"], F["key"]] = 1; next }
$2 == "cpu" {
	kv()
	if (F["i"] ~ /^t/)
		next
	C[F["vmm"], F["i"], F["group"]] = F["ticks"]
	CG[F["group"]] = 1
	CSUM[F["vmm"], F["i"]] += F["ticks"]
	next
}
$2 == "labcpu" {
	kv()
	if (F["i"] ~ /^t/)
		next
	LB[F["vmm"], F["i"]] = F["busy"]; LA[F["vmm"], F["i"]] = F["all"]
	LG[F["vmm"], F["i"]] = F["guest"]; LQ[F["vmm"], F["i"]] = F["irq"]
	next
}
$2 == "azexit" { kv(); if (F["i"] !~ /^t/) add("azexit" SUBSEP F["reason"], F["count"]); AZR[F["reason"]] = 1; next }

END {
	split("randread randwrite seqread", JOB, " ")
	LABEL["randread"] = "4k randread"; LABEL["randwrite"] = "4k randwrite"; LABEL["seqread"] = "1M seqread"
	split("host azote qemu", VMM, " ")
	NAME["host"] = "host"; NAME["azote"] = "azote"; NAME["qemu"] = "QEMU"

	printf "== fio: host vs azote vs QEMU (medians [min-max] of %d rounds)\n", INFO["runs"]
	printf "jobs: %s, iodepth %s, %s s + %s s ramp each; guests: %s vCPU, %s RAM, direct=1 on /dev/vda\n",
		INFO["ioengine"], INFO["iodepth"], INFO["runtime_s"], INFO["ramp_s"], INFO["cpus"], INFO["mem"]
	printf "image: %s MiB file on %s; host fio: same file, buffered (tmpfs has no O_DIRECT)\n", INFO["img_mib"], INFO["img_fs"]
	printf "machine: kernel %s, %s CPU(s); QEMU %s, %s\n\n", INFO["host_kernel"], INFO["host_cpus"], INFO["qemu"], INFO["fio"]

	printf "%-13s %-6s %-24s %-24s %-24s %10s %10s %10s\n", "job", "", "host", "azote", "QEMU", "azote/QEMU", "azote/host", "QEMU/host"
	for (j = 1; j <= 3; j++) {
		for (m = 1; m <= 2; m++) {
			metric = m == 1 ? "iops" : "bw"
			scale = m == 1 ? 1 : 1024
			dec = m == 1 ? 0 : 1
			h = med("host" SUBSEP JOB[j] SUBSEP metric)
			a = med("azote" SUBSEP JOB[j] SUBSEP metric)
			q = med("qemu" SUBSEP JOB[j] SUBSEP metric)
			MED[JOB[j], metric, "host"] = h; MED[JOB[j], metric, "azote"] = a; MED[JOB[j], metric, "qemu"] = q
			printf "%-13s %-6s %-24s %-24s %-24s %10s %10s %10s\n", m == 1 ? LABEL[JOB[j]] : "",
				m == 1 ? "IOPS" : "MiB/s",
				cell("host" SUBSEP JOB[j] SUBSEP metric, dec, scale),
				cell("azote" SUBSEP JOB[j] SUBSEP metric, dec, scale),
				cell("qemu" SUBSEP JOB[j] SUBSEP metric, dec, scale),
				ratio(a, q), ratio(a, h), ratio(q, h)
		}
	}

	printf "\n== per round (IOPS; seqread in MiB/s; phase = the guest's three fio jobs, s;\n"
	printf "   irq/req = interrupts the guest took from the disk per request it completed)\n"
	printf "%-6s %-5s %10s %10s %10s %8s %9s\n", "who", "round", "randread", "randwrite", "seqread", "phase", "irq/req"
	for (r = 1; r <= INFO["runs"]; r++)
		for (v = 1; v <= 3; v++) {
			if (!((VMM[v], r) in RUNI))
				continue
			printf "%-6s %-5s %10s %10s %10s %8s %9s\n", NAME[VMM[v]], r,
				FIOV[VMM[v], r, "randread"], FIOV[VMM[v], r, "randwrite"],
				((VMM[v], r, "seqread") in FIOB) ? num(FIOB[VMM[v], r, "seqread"] / 1024, 1) : "-",
				VMM[v] == "host" ? "" : PHASE[VMM[v], r],
				((VMM[v], r) in IRQR) ? num(IRQR[VMM[v], r], 3) : ""
		}

	printf "\n== VM exits during the fio phase (traced boots, median), per disk request the guest completed\n"
	ntr = 0
	for (id in TRUN) {
		ntr++
		split(id, p, SUBSEP)
		RQ[p[1], ++NRQ[p[1]]] = TREQ[id]
	}
	if (ntr == 0) {
		printf "(no traced boot completed: BENCH_TRACE_RUNS=0, or no tracefs)\n"
	} else {
		for (v = 2; v <= 3; v++) {
			n = NRQ[VMM[v]] + 0
			delete A
			for (i = 1; i <= n; i++) A[i] = RQ[VMM[v], i]
			sort_n(A, n)
			REQ[VMM[v]] = n ? (n % 2 ? A[(n + 1) / 2] : (A[n / 2] + A[n / 2 + 1]) / 2) : ""
		}
		printf "disk requests in the phase: azote %s, QEMU %s\n", num(REQ["azote"], 0), num(REQ["qemu"], 0)
		exits_table("kvm_userspace_exit", "exits that reach the VMM process (kvm_userspace_exit), by reason:", 8)
		exits_table("kvm_exit", "all exits (kvm_exit, most handled inside KVM), by reason:", 10)
		exits_table("kvm_mmio", "MMIO accesses (kvm_mmio; type 2 = write), by address:", 6)
		exits_table("kvm_pio", "port I/O (kvm_pio), by port:", 6)
	}

	printf "\n== CPU during the fio phase (timed boots, median share of the machine's CPU time)\n"
	printf "%-34s %8s %8s\n", "", "azote", "QEMU"
	for (v = 2; v <= 3; v++)
		for (r = 1; r <= INFO["runs"]; r++)
			if ((VMM[v], r) in LA && LA[VMM[v], r] > 0) {
				all = LA[VMM[v], r]
				add("cpu" SUBSEP VMM[v] SUBSEP "busy", 100 * LB[VMM[v], r] / all)
				add("cpu" SUBSEP VMM[v] SUBSEP "guest", 100 * LG[VMM[v], r] / all)
				add("cpu" SUBSEP VMM[v] SUBSEP "irq", 100 * LQ[VMM[v], r] / all)
				add("cpu" SUBSEP VMM[v] SUBSEP "rest", 100 * (LB[VMM[v], r] - CSUM[VMM[v], r]) / all)
				for (g in CG)
					if (index(g, VMM[v] == "azote" ? "azote" : "qemu") == 1 || index(g, "kernel:") == 1)
						add("cpu" SUBSEP VMM[v] SUBSEP g, 100 * C[VMM[v], r, g] / all)
			}
	printf "%-34s %7s%% %7s%%\n", "machine busy", num(med("cpu" SUBSEP "azote" SUBSEP "busy"), 1), num(med("cpu" SUBSEP "qemu" SUBSEP "busy"), 1)
	printf "%-34s %7s%% %7s%%\n", "  of which in guest mode (vCPU)", num(med("cpu" SUBSEP "azote" SUBSEP "guest"), 1), num(med("cpu" SUBSEP "qemu" SUBSEP "guest"), 1)
	printf "%-34s %7s%% %7s%%\n", "  of which irq + softirq", num(med("cpu" SUBSEP "azote" SUBSEP "irq"), 1), num(med("cpu" SUBSEP "qemu" SUBSEP "irq"), 1)
	printf "by thread (process:thread):\n"
	ng = 0
	for (g in CG) GL[++ng] = g
	for (i = 2; i <= ng; i++)
		for (j = i; j > 1 && GL[j - 1] > GL[j]; j--) { t = GL[j]; GL[j] = GL[j - 1]; GL[j - 1] = t }
	for (i = 1; i <= ng; i++) {
		a = med("cpu" SUBSEP "azote" SUBSEP GL[i]); q = med("cpu" SUBSEP "qemu" SUBSEP GL[i])
		if (a + 0 < 0.1 && q + 0 < 0.1)
			continue
		printf "  %-32s %7s%% %7s%%\n", GL[i], a == "" ? "-" : num(a, 1), q == "" ? "-" : num(q, 1)
	}
	printf "  %-32s %7s%% %7s%%\n", "rest (not in a thread above)", num(med("cpu" SUBSEP "azote" SUBSEP "rest"), 1), num(med("cpu" SUBSEP "qemu" SUBSEP "rest"), 1)
	printf "(a vCPU thread's share includes the guest mode time; \"main\" = a process's first thread,\n"
	printf " \"ended\" = its threads that ended during the phase, e.g. idle io_uring workers)\n"

	nr = 0
	for (r in AZR) {
		m = med("azexit" SUBSEP r)
		if (m != "")
			s = s sprintf(" %s=%s", r, num(m, 0))
	}
	if (s != "")
		printf "\nazote --exit-stats, whole boot (median of the timed boots):%s\n", s

	printf "\n== targets (reported, not asserted)\n"
	a = MED["randread", "iops", "azote"]; h = MED["randread", "iops", "host"]; q = MED["randread", "iops", "qemu"]
	printf "4k randread IOPS >= 0.90 x host: azote/host = %s -> %s\n", ratio(a, h),
		(a == "" || h == "") ? "no figure" : (a + 0 >= 0.9 * h ? "met" : "not met")
	printf "4k randread IOPS >= 1.20 x QEMU: azote/QEMU = %s -> %s\n", ratio(a, q),
		(a == "" || q == "") ? "no figure" : (a + 0 >= 1.2 * q ? "met" : "not met")
	if (!done)
		printf "\nthe run did not finish: figures are partial\n"
	else if (failed + 0)
		printf "\n%d run(s) failed: see the log\n", failed
}
