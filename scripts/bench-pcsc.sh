#!/usr/bin/env bash
# Compares the two Linux PC/SC clients on one transmit through a private
# pcscd and vpcd (BenchmarkTransmitClients in scrm/pcsc, interleaved
# rounds), then prints each client's median ns/op, B/op, allocs/op and the
# median ratio pure-Go / ebfe-cgo. Needs what scripts/test.sh needs (root).
#
#   BENCHTIME=3000x ./scripts/bench-pcsc.sh
set -euo pipefail
cd "$(dirname "$0")/.."
out=$(mktemp)
trap 'rm -f "$out"' EXIT
CARDMOD_TEST_RACE=0 CARDMOD_TEST_EXTRA=0 CARDMOD_TEST_PKGS=./scrm/pcsc ./scripts/test.sh -tags cardmod_scard \
	-run '^$' -bench BenchmarkTransmitClients -benchtime "${BENCHTIME:-3000x}" -count 1 | tee "$out"
awk '
	/^BenchmarkTransmitClients\// {
		split($1, p, "/"); c = p[2]
		for (i = 3; i <= NF; i++) {
			if ($(i) == "ns/op") ns[c] = ns[c] " " $(i-1)
			if ($(i) == "B/op") by[c] = $(i-1)
			if ($(i) == "allocs/op") al[c] = $(i-1)
		}
	}
	function median(s,   a, n, i, j, t) {
		n = split(s, a, " ")
		for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (a[j] + 0 < a[i] + 0) { t = a[i]; a[i] = a[j]; a[j] = t }
		return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
	}
	END {
		for (c in ns) printf "%-9s median %9.0f ns/op  %6s B/op  %s allocs/op\n", c, median(ns[c]), by[c], al[c]
		printf "median ratio purego/ebfe-cgo: %.2f\n", median(ns["purego"]) / median(ns["ebfe-cgo"])
	}' "$out"
