# Turns the BENCH records of bench/api-run.sh (both modes) into the tables bench/api.sh prints.
# Input: the records, possibly inside a lab console log (only lines starting with "BENCH " are
# read). Variables (-v):
#   raw=FILE   also write every record's figures there, tab-separated, one line per record
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
# median of A[1..n] (sorted in place); sets LO and HI too. "" when n is 0.
function median(A, n) {
	sort_n(A, n)
	LO = n ? A[1] : ""
	HI = n ? A[n] : ""
	if (n == 0)
		return ""
	return n % 2 ? A[(n + 1) / 2] : (A[n / 2] + A[n / 2 + 1]) / 2
}
function num(x) { return x != "" && x != "none" && x ~ /^-?[0-9.]+$/ }
function fmt(x, dec) { return x == "" ? "-" : sprintf("%." dec "f", x) }
# "median [min-max]"
function cell(m, lo, hi, dec) {
	if (m == "")
		return "-"
	return sprintf("%." dec "f [%." dec "f-%." dec "f]", m, lo, hi)
}

# --- latency records
function lat_med(kind, key,    n, r, A) {
	n = 0
	for (r = 1; r <= nround; r++)
		if ((kind, key, r) in L && num(L[kind, key, r]))
			A[++n] = L[kind, key, r]
	return median(A, n)
}

# --- boot records
function boot_med(path, key,    n, i, A) {
	n = 0
	for (i = 1; i <= nboot[path]; i++)
		if (num(B[path, key, i]))
			A[++n] = B[path, key, i]
	NB = n
	return median(A, n)
}
# median of the per-round differences api - cli (rounds where both have the figure)
function paired(key,    n, i, A, a, c) {
	n = 0
	for (i = 1; i <= maxround; i++) {
		a = "api" SUBSEP key SUBSEP i
		c = "cli" SUBSEP key SUBSEP i
		if ((a in BR) && (c in BR) && num(BR[a]) && num(BR[c]))
			A[++n] = BR[a] - BR[c]
	}
	return median(A, n)
}

/^BENCH info / {
	kv()
	if (F["mode"] == "latency")
		lat_info = $0
	else
		boot_info = $0
	sub(/^BENCH info /, "", lat_info)
	sub(/^BENCH info /, "", boot_info)
}
/^BENCH cmdline / { cmdline = substr($0, 15) }
/^BENCH done / { kv(); done[F["mode"]] = F["failed"] }

/^BENCH lat / {
	kv()
	r = F["round"] + 0
	if (r > nround)
		nround = r
	k = F["kind"]
	seen_lat = 1
	if ("failed" in F) {
		lat_failed++
		next
	}
	for (key in F)
		L[k, key, r] = F[key]
	if (raw != "")
		printf "lat\tround=%d\tkind=%s\tp50_us=%s\tp90_us=%s\tp99_us=%s\tmax_us=%s\trps=%s\tmax_at=%s\ttop=%s\n",
		    r, k, F["p50_us"], F["p90_us"], F["p99_us"], F["max_us"], F["rps"], F["max_at"], F["top"] > raw
}

/^BENCH boot / {
	kv()
	if (raw != "")
		printf "boot\tpath=%s\ti=%s\twarm=%s\tstatus=%s\tready_ms=%s\tbootsrc_ms=%s\tmachine_ms=%s\tstart_ms=%s\tkvmrun_ms=%s\tmarker_ms=%s\texit_ms=%s\tmaxrss_kib=%s\n",
		    F["path"], F["i"], F["warm"], F["status"], F["ready_ms"], F["bootsrc_ms"], F["machine_ms"],
		    F["start_ms"], F["kvmrun_ms"], F["marker_ms"], F["exit_ms"], F["maxrss_kib"] > raw
	seen_boot = 1
	if (F["warm"] == 1)
		next
	p = F["path"]
	if (F["status"] != 0 || !num(F["marker_ms"]) || F["api_ok"] == 0) {
		boot_failed[p]++
		next
	}
	nboot[p]++
	if (F["i"] + 0 > maxround)
		maxround = F["i"] + 0
	if (num(F["kvmrun_ms"]))
		F["guest_ms"] = sprintf("%.3f", F["marker_ms"] - F["kvmrun_ms"])
	for (key in F) {
		B[p, key, nboot[p]] = F[key]
		BR[p, key, F["i"] + 0] = F[key]
	}
}

END {
	if (seen_lat) {
		split(lat_info, I, " ")
		for (j in I) { q = index(I[j], "="); if (q) INFO[substr(I[j], 1, q - 1)] = substr(I[j], q + 1) }
		printf "== API request latency on the host: %s requests per loop on ONE keep-alive connection, one at a time,\n", INFO["requests"]
		printf "   %s rounds (a fresh `azote --api-sock` each, GET/PUT order alternating); median over rounds [min-max]\n", nround
		printf "   host: %s CPUs, %s other QEMU process(es) running at the start, load %s\n\n", INFO["cpus"], INFO["other_qemus"], INFO["load"]
		printf "%-22s %-20s %-20s %-22s %-24s %-22s %8s %8s\n", "request", "p50 us", "p90 us", "p99 us", "max us", "requests/s", "cli CPU", "srv CPU"
		nk = split("get put floor", K, " ")
		label["get"] = "GET /machine-config"
		label["put"] = "PUT /machine-config"
		label["floor"] = "floor (no azote)"
		for (j = 1; j <= nk; j++) {
			k = K[j]
			m50 = lat_med(k, "p50_us"); l50 = LO; h50 = HI
			m90 = lat_med(k, "p90_us"); l90 = LO; h90 = HI
			m99 = lat_med(k, "p99_us"); l99 = LO; h99 = HI
			mmx = lat_med(k, "max_us"); lmx = LO; hmx = HI
			mrps = lat_med(k, "rps"); lrps = LO; hrps = HI
			ccpu = lat_med(k, "client_cpu_us")
			scpu = lat_med(k, "server_cpu_us")
			P50[k] = m50
			printf "%-22s %-20s %-20s %-22s %-24s %-22s %8s %8s\n", label[k], cell(m50, l50, h50, 1), cell(m90, l90, h90, 1),
			    cell(m99, l99, h99, 1), cell(mmx, lmx, hmx, 0), cell(mrps, lrps, hrps, 0), fmt(ccpu, 2), fmt(scpu, 2)
		}
		printf "\n(cli/srv CPU: CPU time per request, us, of the client and of all of the server's threads, from\n"
		printf " /proc/PID/task/*/schedstat; the floor is api-client's built-in trivial server on a socketpair:\n"
		printf " what the client, the kernel's Unix sockets and two wake-ups per request cost without azote)\n"
		if (P50["floor"] != "")
			printf "azote's own share of the median request (p50 minus the floor's): GET %s us, PUT %s us\n",
			    fmt(P50["get"] - P50["floor"], 1), fmt(P50["put"] - P50["floor"], 1)
		printf "slowest requests per loop (index:us), and requests over 1 ms:\n"
		for (r = 1; r <= nround; r++)
			for (j = 1; j <= nk; j++)
				if ((K[j], "top", r) in L)
					printf "  round %d %-5s %-55s >1ms: %s\n", r, K[j], L[K[j], "top", r], L[K[j], "over1ms", r]
		if (lat_failed)
			printf "%d latency loop(s) FAILED: see the log\n", lat_failed
		printf "\n"
	}
	if (seen_boot) {
		printf "== Start to guest marker in the lab: `azote --api-sock` + PUT /boot-source, PUT /machine-config,\n"
		printf "   PUT /actions InstanceStart (bench/api-client, on one connection) vs the same VM from the command line\n"
		printf "   (--kernel --initrd --cmdline --cpus 1 --mem 256M); guest cmdline \"%s\"; %s\n", cmdline, boot_info
		printf "   ms from exec of azote; median [min-max] over %d API and %d command-line boots, alternated ABBA\n", nboot["api"], nboot["cli"]
		printf "   in the same lab: other labs sharing the host's CPUs slow both paths alike, so read the difference.\n\n"
		printf "%-30s %-26s %-26s %12s %14s\n", "from exec of azote to", "command line", "API", "API - CLI", "paired median"
		nf = split("ready_ms bootsrc_ms machine_ms start_ms kvmrun_ms marker_ms exit_ms guest_ms maxrss_kib", M, " ")
		split("API socket accepts|PUT /boot-source 204|PUT /machine-config 204|PUT /actions InstanceStart 204|first KVM_RUN (--exit-stats)|AZOTE-GUEST-READY on console|azote exited (reaped)|(first KVM_RUN -> marker)|peak RSS (KiB)", N, "|")
		for (j = 1; j <= nf; j++) {
			c = boot_med("cli", M[j]); cl = LO; ch = HI
			a = boot_med("api", M[j]); al = LO; ah = HI
			dec = M[j] == "maxrss_kib" ? 0 : 1
			d = (c != "" && a != "") ? fmt(a - c, dec) : "-"
			pd = paired(M[j])
			printf "%-30s %-26s %-26s %12s %14s\n", N[j], cell(c, cl, ch, dec), cell(a, al, ah, dec), d, fmt(pd, dec)
			MEDC[M[j]] = c; MEDA[M[j]] = a; PAIR[M[j]] = pd
		}
		printf "\nAPI overhead: exec -> InstanceStart's 204 takes %s ms (median); to the first KVM_RUN the API path is\n", fmt(MEDA["start_ms"], 1)
		printf "%s ms later than the command line (paired: %s ms), to the guest's marker %s ms (paired: %s ms).\n",
		    MEDA["kvmrun_ms"] != "" && MEDC["kvmrun_ms"] != "" ? fmt(MEDA["kvmrun_ms"] - MEDC["kvmrun_ms"], 1) : "-", fmt(PAIR["kvmrun_ms"], 1),
		    MEDA["marker_ms"] != "" && MEDC["marker_ms"] != "" ? fmt(MEDA["marker_ms"] - MEDC["marker_ms"], 1) : "-", fmt(PAIR["marker_ms"], 1)
		printf "(API - CLI: difference of the medians; paired median: median over rounds of that round's API boot minus its CLI boot)\n"
		for (p in boot_failed)
			printf "%d %s boot(s) FAILED and are left out: see the log\n", boot_failed[p], p
	}
	if ("latency" in done && done["latency"] != 0)
		printf "latency part: %s failure(s)\n", done["latency"]
	if (seen_boot && !("boot" in done))
		printf "boot part: the lab did not finish (no BENCH done record)\n"
}
