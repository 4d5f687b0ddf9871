# Turns the BENCH records of bench/net-run.sh into the tables bench/net.sh prints.
# Input: the lab's console (only lines starting with "BENCH " are read). Variables (-v):
#   raw=FILE   also write the per-run figures there, tab-separated
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
function add(key, v) { if (v != "" && v != "-") V[key, ++NV[key]] = v }
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
function per(x, n, dec) { return (x == "" || n == "" || n + 0 == 0) ? "-" : sprintf("%." dec "f", x / n) }

$1 != "BENCH" { next }
$2 == "info" { kv(); for (k in F) INFO[k] = F[k]; next }
$2 == "done" { kv(); done = 1; failed = F["failed"]; next }
$2 == "iperf" {
	kv()
	if (F["i"] ~ /^t/)
		next
	add(F["vmm"] SUBSEP F["test"] SUBSEP "rx", F["rx_mbps"])
	add(F["vmm"] SUBSEP F["test"] SUBSEP "retr", F["retr"])
	IP[F["vmm"], F["i"], F["test"]] = F["rx_mbps"]
	RETR[F["vmm"], F["i"], F["test"]] = F["retr"]
	RUNI[F["vmm"], F["i"]] = 1
	if (raw != "") {
		if (!rawhead++)
			print "vmm\tround\ttest\trx_mbps\ttx_mbps\tretr" >raw
		print F["vmm"] "\t" F["i"] "\t" F["test"] "\t" F["rx_mbps"] "\t" F["tx_mbps"] "\t" F["retr"] >raw
	}
	next
}
$2 == "ping" {
	kv()
	if (F["i"] ~ /^t/)
		next
	add(F["vmm"] SUBSEP "ping", F["median_ms"])
	PING[F["vmm"], F["i"]] = F["median_ms"]
	PINGR[F["vmm"], F["i"]] = F["min_ms"] "-" F["max_ms"]
	RUNI[F["vmm"], F["i"]] = 1
	if (raw != "") {
		if (!rawhead++)
			print "vmm\tround\ttest\trx_mbps\ttx_mbps\tretr" >raw
		print F["vmm"] "\t" F["i"] "\tping_median_ms\t" F["median_ms"] "\t\t" >raw
	}
	next
}
$2 == "snap" {
	kv()
	if (F["i"] ~ /^t/) {
		TPK[F["vmm"], F["i"], F["test"]] = F["rx_pk"] + F["tx_pk"]
		next
	}
	pk = F["rx_pk"] + F["tx_pk"]
	if (pk > 0) {
		add(F["vmm"] SUBSEP F["test"] SUBSEP "irq_in", F["irq_in"] / pk)
		add(F["vmm"] SUBSEP F["test"] SUBSEP "irq_out", F["irq_out"] / pk)
		add(F["vmm"] SUBSEP F["test"] SUBSEP "pk", pk)
		# Data packets: those of the direction the test sends its data in (GSO/GRO batches).
		if (F["test"] ~ /^up/ && F["tx_pk"] > 0)
			add(F["vmm"] SUBSEP F["test"] SUBSEP "bpp", F["tx_b"] / F["tx_pk"])
		else if (F["test"] ~ /^down/ && F["rx_pk"] > 0)
			add(F["vmm"] SUBSEP F["test"] SUBSEP "bpp", F["rx_b"] / F["rx_pk"])
	}
	next
}
$2 == "nic" { kv(); NIC[F["vmm"]] = "queues " F["queues"] ", mtu " F["mtu"] ", features " F["features"]; next }
$2 == "trace" {
	kv()
	T[F["vmm"], F["phase"], F["event"], F["key"]] += F["count"]
	TN[F["vmm"], F["phase"], F["event"]] += F["count"]
	TK[F["event"], F["key"]] = 1
	TRI[F["vmm"], F["i"]] = 1
	# Kicks: MMIO writes (type 2) outside the local APIC page: the virtio notify registers.
	if (F["event"] == "kvm_mmio" && F["key"] ~ /type=2$/ && F["key"] !~ /^gpa=(0x)?fee0/)
		KICK[F["vmm"], F["phase"]] += F["count"]
	next
}
$2 == "run" { kv(); if (F["status"] != 0 || F["timed_out"] != 0) BAD[F["vmm"], F["i"]] = F["status"]; next }
$2 == "azexit" { kv(); if (F["i"] !~ /^t/) add("azexit" SUBSEP F["reason"], F["count"]); AZR[F["reason"]] = 1; next }

END {
	nt = split(INFO["tests"], TEST, ",")
	LABEL["up1"] = "guest->host, 1 stream"; LABEL["up4"] = "guest->host, 4 streams"
	LABEL["down1"] = "host->guest, 1 stream"; LABEL["down4"] = "host->guest, 4 streams"
	LABEL["ping"] = "ping guest->TAP end"
	split("azote qemu", VMM, " ")
	NAME["azote"] = "azote"; NAME["qemu"] = "QEMU"

	printf "== iperf3 and ping over a TAP device: azote vs QEMU (medians [min-max] of %d rounds)\n", INFO["runs"]
	printf "guests: %s vCPU, %s RAM, Debian 6.1 kernel; iperf3 %s, -t %s -O %s, server on the TAP end (10.0.2.1);\n",
		INFO["cpus"], INFO["mem"], INFO["iperf3"], INFO["time_s"], INFO["omit_s"]
	printf "ping: busybox, %s echoes %s s apart; machine: kernel %s, %s CPU(s); QEMU %s\n",
		INFO["ping_count"], INFO["ping_interval"], INFO["host_kernel"], INFO["host_cpus"], INFO["qemu"]
	printf "azote: virtio-net served by azote-net (vhost-user), TAP; QEMU: -netdev tap,vhost=off -device virtio-net-pci\n\n"

	printf "%-24s %-7s %-24s %-24s %10s\n", "test", "", "azote", "QEMU", "azote/QEMU"
	for (t = 1; t <= nt; t++) {
		a = med("azote" SUBSEP TEST[t] SUBSEP "rx"); q = med("qemu" SUBSEP TEST[t] SUBSEP "rx")
		MED[TEST[t], "azote"] = a; MED[TEST[t], "qemu"] = q
		printf "%-24s %-7s %-24s %-24s %10s\n", LABEL[TEST[t]], "Gbit/s",
			cell("azote" SUBSEP TEST[t] SUBSEP "rx", 3, 1000), cell("qemu" SUBSEP TEST[t] SUBSEP "rx", 3, 1000), ratio(a, q)
	}
	a = med("azote" SUBSEP "ping"); q = med("qemu" SUBSEP "ping")
	MED["ping", "azote"] = a; MED["ping", "qemu"] = q
	printf "%-24s %-7s %-24s %-24s %10s\n", LABEL["ping"], "rtt ms",
		cell("azote" SUBSEP "ping", 3, 1), cell("qemu" SUBSEP "ping", 3, 1), ratio(a, q)
	printf "(Gbit/s: what the receiver got, iperf3's summary; ping: median round trip of each boot)\n"

	printf "\n== per round (Mbit/s, receiver side; retr = TCP retransmits of the sender; ping median ms)\n"
	printf "%-6s %-5s", "who", "round"
	for (t = 1; t <= nt; t++)
		printf " %14s", TEST[t]
	printf " %8s %14s\n", "ping", "ping min-max"
	for (r = 1; r <= INFO["runs"]; r++)
		for (v = 1; v <= 2; v++) {
			if (!((VMM[v], r) in RUNI))
				continue
			printf "%-6s %-5s", NAME[VMM[v]], r
			for (t = 1; t <= nt; t++)
				printf " %14s", ((VMM[v], r, TEST[t]) in IP) ? sprintf("%.0f (%s)", IP[VMM[v], r, TEST[t]], RETR[VMM[v], r, TEST[t]]) : "-"
			printf " %8s %14s\n", ((VMM[v], r) in PING) ? PING[VMM[v], r] : "-", ((VMM[v], r) in PINGR) ? PINGR[VMM[v], r] : "-"
		}

	printf "\n== interrupts per packet in the guest (timed boots, median; packets = eth0 rx + tx,\n"
	printf "   GSO/GRO batches as the guest counts them; bytes/pkt = of the data direction)\n"
	printf "%-24s %10s %10s %10s %10s %10s %10s %10s %10s\n", "", "azote", "", "", "", "QEMU", "", "", ""
	printf "%-24s %10s %10s %10s %10s %10s %10s %10s %10s\n", "test", "packets", "bytes/pkt", "rx irq/pk", "tx irq/pk",
		"packets", "bytes/pkt", "rx irq/pk", "tx irq/pk"
	for (t = 1; t <= nt + 1; t++) {
		tn = t <= nt ? TEST[t] : "ping"
		printf "%-24s", LABEL[tn]
		for (v = 1; v <= 2; v++)
			printf " %10s %10s %10s %10s", num(med(VMM[v] SUBSEP tn SUBSEP "pk"), 0), num(med(VMM[v] SUBSEP tn SUBSEP "bpp"), 0),
				num(med(VMM[v] SUBSEP tn SUBSEP "irq_in"), 3), num(med(VMM[v] SUBSEP tn SUBSEP "irq_out"), 3)
		printf "\n"
	}

	printf "\n== VM exits per packet during each phase (traced boots; kicks = MMIO writes to the device,\n"
	printf "   i.e. outside the local APIC page; exits = every kvm_exit; to VMM = kvm_userspace_exit)\n"
	ntr = 0
	for (k in TRI)
		ntr++
	if (ntr == 0) {
		printf "(no traced boot: BENCH_TRACE_RUNS=0, or no tracefs)\n"
	} else {
		printf "%-24s %10s %10s %10s %10s %10s %10s %10s %10s\n", "", "azote", "", "", "", "QEMU", "", "", ""
		printf "%-24s %10s %10s %10s %10s %10s %10s %10s %10s\n", "phase", "packets", "kicks/pk", "exits/pk", "to VMM/pk",
			"packets", "kicks/pk", "exits/pk", "to VMM/pk"
		for (t = 1; t <= nt + 1; t++) {
			tn = t <= nt ? TEST[t] : "ping"
			printf "%-24s", LABEL[tn]
			for (v = 1; v <= 2; v++) {
				pk = ""
				for (k in TPK) {
					split(k, q3, SUBSEP)
					if (q3[1] == VMM[v] && q3[3] == tn)
						pk = TPK[k]
				}
				printf " %10s %10s %10s %10s", num(pk, 0), per(KICK[VMM[v], tn], pk, 3),
					per(TN[VMM[v], tn, "kvm_exit"], pk, 2), per(TN[VMM[v], tn, "kvm_userspace_exit"], pk, 3)
			}
			printf "\n"
		}
		# The biggest exit reasons and MMIO addresses over all phases, per VMM.
		TITLE["kvm_exit"] = "exits by reason (kvm_exit)"
		TITLE["kvm_userspace_exit"] = "exits that reach the VMM process (kvm_userspace_exit), by reason"
		TITLE["kvm_mmio"] = "MMIO accesses (kvm_mmio; type 2 = write), by address"
		TITLE["kvm_pio"] = "port I/O (kvm_pio; rw 1 = write), by port"
		split("kvm_exit kvm_userspace_exit kvm_mmio kvm_pio", EVN, " ")
		for (ev = 1; ev <= 4; ev++) {
			evn = EVN[ev]
			printf "%s, all phases together, biggest:\n", TITLE[evn]
			for (v = 1; v <= 2; v++) {
				delete S; delete SK; ns = 0
				for (k in T) {
					split(k, q4, SUBSEP)
					if (q4[1] == VMM[v] && q4[3] == evn)
						S[q4[4]] += T[k]
				}
				for (k in S) { SK[++ns] = k }
				for (i = 2; i <= ns; i++)
					for (j = i; j > 1 && S[SK[j - 1]] < S[SK[j]]; j--) { tt = SK[j]; SK[j] = SK[j - 1]; SK[j - 1] = tt }
				s = ""
				for (i = 1; i <= ns && i <= 6; i++)
					s = s sprintf("  %s: %d", SK[i], S[SK[i]])
				printf "  %-6s%s\n", NAME[VMM[v]], s == "" ? " -" : s
			}
		}
	}
	for (v = 1; v <= 2; v++)
		if (VMM[v] in NIC)
			printf "%s guest's NIC: %s\n", NAME[VMM[v]], NIC[VMM[v]]

	s = ""
	for (r in AZR) {
		m = med("azexit" SUBSEP r)
		if (m != "")
			s = s sprintf(" %s=%s", r, num(m, 0))
	}
	if (s != "")
		printf "\nazote --exit-stats, whole boot (median of the timed boots):%s\n", s

	printf "\n== targets (reported, not asserted)\n"
	for (t = 1; t <= nt; t++) {
		a = MED[TEST[t], "azote"]; q = MED[TEST[t], "qemu"]
		printf "%-24s throughput >= 1.20 x QEMU: azote/QEMU = %s -> %s\n", LABEL[TEST[t]], ratio(a, q),
			(a == "" || q == "") ? "no figure" : (a + 0 >= 1.2 * q ? "met" : "not met")
	}
	a = MED["ping", "azote"]; q = MED["ping", "qemu"]
	printf "%-24s round trip <= 0.80 x QEMU: azote/QEMU = %s -> %s\n", LABEL["ping"], ratio(a, q),
		(a == "" || q == "") ? "no figure" : (a + 0 <= 0.8 * q ? "met" : "not met")
	if (!done)
		printf "\nthe run did not finish: figures are partial\n"
	else if (failed + 0)
		printf "\n%d run(s) failed: see the log\n", failed
}
