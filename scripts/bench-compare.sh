#!/usr/bin/env bash
# bench-compare.sh runs the engine's throughput and per-batch overhead
# benchmarks of two builds in turn, rounds interleaved, so a change is
# judged against its base in the same run on the same (noisy) machine.
#
# Usage: scripts/bench-compare.sh BASE-REV [ROUNDS]   (PERF_RECORDS as in
# bench-engine.sh, default here 900000)
set -euo pipefail
cd "$(dirname "$0")/.."
base=${1:?usage: scripts/bench-compare.sh BASE-REV [ROUNDS]}
rounds=${2:-3}
export PERF_RECORDS=${PERF_RECORDS:-900000}
tmp=$(mktemp -d)
trap 'git worktree remove --force "$tmp/base" >/dev/null 2>&1 || true; rm -rf "$tmp"' EXIT
git worktree add --detach "$tmp/base" "$base" >/dev/null
(cd "$tmp/base" && go test -c -o "$tmp/old.test" ./runtime/)
go test -c -o "$tmp/new.test" ./runtime/
for i in $(seq "$rounds"); do
	for v in old new; do
		echo "== $v round $i"
		(cd runtime && "$tmp/$v.test" -test.run '^$' -test.bench '^BenchmarkThroughput$' -test.benchtime 2x -test.timeout 30m | grep '^Benchmark')
		(cd runtime && "$tmp/$v.test" -test.run '^$' -test.bench '^BenchmarkBatchOverhead$' -test.benchtime 250x | grep '^Benchmark')
	done
done
