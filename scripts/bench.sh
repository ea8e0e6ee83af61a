#!/usr/bin/env bash
# bench.sh runs the codec benchmarks of generated_test (decoding and encoding
# one Impression with the generated code, hamba/avro and goavro) and writes
# BENCHMARKS.md: the command, the machine, benchstat's table and the ratios
# the generated code is held to, computed from the median of each benchmark.
#
# Usage: scripts/bench.sh [output file, default BENCHMARKS.md]
# COUNT (default 6) sets -count. Run it on an otherwise idle machine.
set -euo pipefail

cd "$(dirname "$0")/.."
out=${1:-BENCHMARKS.md}
count=${COUNT:-6}
cmd="go test -run '^\$' -bench . -benchmem -count $count ./generated_test/"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
raw=$tmp/impression # benchstat heads its column with the file name

load=$(cut -d' ' -f1-3 /proc/loadavg)
echo "running: $cmd" >&2
go test -run '^$' -bench . -benchmem -count "$count" ./generated_test/ | tee "$raw" >&2
# The peer generators (gogen-avro, heetch/avro) live in their own module,
# bench/peers, so that they are no dependency of streamgen; its binary
# measures the generated code again beside them.
peers_cmd="(cd bench/peers && go test -run '^\$' -bench . -benchmem -count $count .)"
echo "running: $peers_cmd" >&2
(cd bench/peers && go test -run '^$' -bench . -benchmem -count "$count" .) | tee -a "$raw" >&2

# benchstat is not a dependency of the module: go run fetches it into the
# module cache; fall back to go install where go run cannot.
benchstat() {
	if go run golang.org/x/perf/cmd/benchstat@latest "$@" 2>/dev/null; then
		return
	fi
	go install golang.org/x/perf/cmd/benchstat@latest
	"$(go env GOPATH)/bin/benchstat" "$@"
}
table=$(cd "$tmp" && benchstat impression)

cpu=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)

# ratios reads raw `go test -bench` output and prints the Markdown table of
# ratios between the medians of the benchmarks it names.
ratios() {
	awk '
	/^Benchmark/ {
		name = $1
		sub(/-[0-9]+$/, "", name) # the GOMAXPROCS suffix
		for (i = 3; i < NF; i++) {
			if ($(i + 1) == "ns/op") add(name, "ns", $i)
			if ($(i + 1) == "allocs/op") add(name, "allocs", $i)
		}
	}
	function add(name, unit, v,   k) {
		k = name SUBSEP unit
		vals[k, ++n[k]] = v + 0
	}
	function median(name, unit,   k, m, i, j, a, t) {
		k = name SUBSEP unit
		m = n[k]
		if (m == 0) {
			missing = missing " " name
			return 0
		}
		for (i = 1; i <= m; i++) a[i] = vals[k, i]
		for (i = 2; i <= m; i++) { # insertion sort: awk has no portable sort
			t = a[i]
			for (j = i - 1; j >= 1 && a[j] > t; j--) a[j + 1] = a[j]
			a[j + 1] = t
		}
		return m % 2 ? a[(m + 1) / 2] : (a[m / 2] + a[m / 2 + 1]) / 2
	}
	# row prints num/den with a verdict: the ratio must be at most max, or at
	# least min (pass "" for the bound that does not apply).
	function row(what, num, den, max, min,   r, target, verdict) {
		if (den == 0) return
		r = num / den
		target = "-"; verdict = ""
		if (max != "") { target = "≤ " max "×"; verdict = r <= max + 0 ? "met" : "**missed**" }
		if (min != "") { target = "≥ " min "×"; verdict = r >= min + 0 ? "met" : "**missed**" }
		printf "| %s | %.2f× | %s | %s |\n", what, r, target, verdict
	}
	END {
		d = "BenchmarkDecode/impl="; e = "BenchmarkEncode/impl="; f = "BenchmarkDecodeFrom/impl="
		gen = median(d "generated", "ns"); hs = median(d "hamba-struct", "ns")
		hm = median(d "hamba-map", "ns"); ga = median(d "goavro", "ns")
		egen = median(e "generated", "ns"); ehs = median(e "hamba-struct", "ns")
		ehm = median(e "hamba-map", "ns"); ega = median(e "goavro", "ns")
		res = median(f "generated-resolved", "ns"); same = median(f "generated-same-schema", "ns")
		trans = median(f "generated-transcoded", "ns")
		hres = median(f "hamba-struct-resolved", "ns")
		dfrom = median("BenchmarkDecimal/op=from-bytes", "ns"); dapp = median("BenchmarkDecimal/op=append", "ns")
		j = "BenchmarkDecodeProjected/impl="
		pfull = median(j "full", "ns"); pproj = median(j "projected", "ns"); psized = median(j "projected-sized-blocks", "ns")
		pftrans = median(j "full-transcoded", "ns"); pptrans = median(j "projected-transcoded", "ns")
		p = "BenchmarkPeersDecode/impl="; q = "BenchmarkPeersEncode/impl="
		pgen = median(p "generated", "ns"); pgg = median(p "gogen-avro", "ns"); pht = median(p "heetch", "ns")
		preu = median(p "generated-reused", "ns"); reu = median(d "generated-reused", "ns")
		phs = median(p "hamba-struct", "ns"); pga = median(p "goavro", "ns")
		qgen = median(q "generated", "ns"); qgg = median(q "gogen-avro", "ns"); qht = median(q "heetch", "ns")
		print "| ratio (of median ns/op) | value | target | |"
		print "|---|---|---|---|"
		row("decode: generated / hamba-struct", gen, hs, "0.7", "")
		row("decode: goavro / generated", ga, gen, "", "4")
		row("decode: hamba-map / generated", hm, gen, "", "")
		row("encode: generated / hamba-struct", egen, ehs, "", "")
		row("encode: goavro / generated", ega, egen, "", "")
		row("encode: hamba-map / generated", ehm, egen, "", "")
		row("resolved decode (writer known at generation): generated / hamba-struct", res, hres, "0.45", "")
		row("resolved decode (writer known at generation) / plain decode (generated)", res, gen, "1.05", "")
		row("resolved decode (writer met at run time, transcoded) / plain decode", trans, gen, "", "")
		row("resolved decode (writer met at run time, transcoded): generated / hamba-struct", trans, hres, "", "")
		row("UnmarshalAvroFrom with the same schema / UnmarshalAvro", same, gen, "", "")
		row("decode: bid_price DecimalFromBytes / generated", dfrom, gen, "", "")
		row("decode: generated less DecimalFromBytes / hamba-struct (estimate)", gen - dfrom, hs, "", "")
		row("encode: bid_price AppendDecimalBytes / generated", dapp, egen, "", "")
		row("decode: projected (3 of 15 fields) / full", pproj, pfull, "", "")
		row("decode: projected, blocks sized / full", psized, pfull, "", "")
		row("decode from another writer (transcoded): projected / full", pptrans, pftrans, "", "")
		row("decode into a reused record: generated-reused / hamba-struct", reu, hs, "", "")
		row("peers binary, decode: generated / gogen-avro", pgen, pgg, "", "")
		row("peers binary, decode: generated / heetch", pgen, pht, "", "")
		row("peers binary, decode: generated / hamba-struct", pgen, phs, "", "")
		row("peers binary, decode: generated / goavro", pgen, pga, "", "")
		row("peers binary, decode into a reused record, as the engine does: generated-reused / hamba-struct", preu, phs, "0.30", "")
		row("peers binary, decode into a reused record: generated-reused / gogen-avro", preu, pgg, "0.25", "")
		row("peers binary, decode into a reused record: generated-reused / heetch", preu, pht, "0.25", "")
		row("peers binary, decode into a reused record: generated-reused / goavro", preu, pga, "0.25", "")
		row("peers binary, encode: generated / gogen-avro", qgen, qgg, "", "")
		row("peers binary, encode: generated / heetch", qgen, qht, "", "")
		printf "\nMedian allocations per decode: generated %d, hamba-struct %d, hamba-map %d, goavro %d.\n",
			median(d "generated", "allocs"), median(d "hamba-struct", "allocs"),
			median(d "hamba-map", "allocs"), median(d "goavro", "allocs")
		printf "Median allocations per encode: generated %d (target ≤ 2: %s), hamba-struct %d, hamba-map %d, goavro %d.\n",
			median(e "generated", "allocs"), median(e "generated", "allocs") <= 2 ? "met" : "**missed**",
			median(e "hamba-struct", "allocs"), median(e "hamba-map", "allocs"), median(e "goavro", "allocs")
		printf "Median allocations per decode into a reused record (strings shared in codec.Strings blocks): generated-reused %d (target 0: %s).\n",
			median(d "generated-reused", "allocs"), median(d "generated-reused", "allocs") == 0 ? "met" : "**missed**"
		printf "Peers binary, median allocations per decode: generated %d (into a new record; target ≤ 2: %s), generated-reused %d, gogen-avro %d, heetch %d; per encode: generated %d, gogen-avro %d, heetch %d.\n",
			median(p "generated", "allocs"), median(p "generated", "allocs") <= 2 ? "met" : "**missed**",
			median(p "generated-reused", "allocs"), median(p "gogen-avro", "allocs"), median(p "heetch", "allocs"),
			median(q "generated", "allocs"), median(q "gogen-avro", "allocs"), median(q "heetch", "allocs")
		printf "Median allocations per resolved decode: generated (known writer) %d, transcoded %d, hamba-struct %d.\n",
			median(f "generated-resolved", "allocs"), median(f "generated-transcoded", "allocs"),
			median(f "hamba-struct-resolved", "allocs")
		if (missing != "") {
			print "bench.sh: no results for" missing > "/dev/stderr"
			exit 1
		}
	}' "$raw"
}
ratio_table=$(ratios)

{
	cat <<EOF
# Codec benchmarks

Decoding and encoding one \`com.example.ads.Impression\` of 356 bytes (5
segments, 3 labels, a user agent, a decimal bid price), from
\`generated_test/bench_test.go\`:

- \`generated\`: the generated \`UnmarshalAvro\` / \`AppendAvro\` (encoding
  appends to a reused buffer), decoding into a new record each time;
- \`generated-reused\`: the generated decoder into one record again and
  again, its strings copied into a \`codec.Strings\`: what the engine does
  with the records of a batch that is over (their slices, maps, pointers
  and decimals reused, their strings in 8 KiB blocks shared by records);
- \`hamba-struct\`: hamba/avro v2 \`Unmarshal\` into / \`Marshal\` from the same
  generated struct, through its \`avro\` tags;
- \`hamba-map\`: hamba/avro v2 with \`map[string]any\`;
- \`goavro\`: linkedin/goavro v2 \`NativeFromBinary\` / \`BinaryFromNative\`,
  codec built once;
- \`BenchmarkDecodeFrom\`: data written with an older writer schema (no
  \`latency_ms\`, fields in another order): \`generated-resolved\` is the
  generated \`UnmarshalAvroFrom\`, which for this writer, a \`writerSchema\`
  of the alltypes spec and so known at generation time, runs the decoder
  generated for it; \`generated-transcoded\` is a writer first met at run
  time (a registry id): transcoding, then decoding; \`hamba-struct-resolved\`
  is hamba with the schema it resolves; \`generated-same-schema\` is
  \`UnmarshalAvroFrom\` given the reader's own schema (its fast path);
- \`BenchmarkPeers*\` (module \`bench/peers\`, one binary): the generated code
  beside the other Go code generators, gogen-avro v10.2.1 (its generated
  code, with the (writer, reader) program compiled once, as its
  \`DeserializeImpression\` does not) and heetch/avro v0.3.1 (avrogo's
  struct through a cached \`SingleDecoder\`/\`SingleEncoder\`, the body behind
  a 5-byte Confluent header), and hamba and goavro again;
- \`BenchmarkDecimal\`: the runtime's conversions of the bid price alone
  (\`codec.DecimalFromBytes\`, \`codec.AppendDecimalBytes\`), which the
  generated code calls once per datum.

Written by \`scripts/bench.sh\` on $(date -u +%Y-%m-%d). Commands, one after
the other:

    $cmd
    $peers_cmd

## Machine

- $(go version)
- nproc: $(nproc)
- CPU: ${cpu:-unknown}
- load average before the run: $load (the machine may be shared: compare
  the ± spreads below)

## Results

\`\`\`
$table
\`\`\`

## Ratios

$ratio_table
EOF
} >"$out"
echo "wrote $out" >&2
