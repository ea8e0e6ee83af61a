# streamgen — see README.md.
GO      ?= go
PKGS    := ./...
# Specs whose generated code is committed: examples, golden cases and the
# crash-restart harness's job.
SPECS   := $(wildcard examples/*/streamgen.yaml) $(wildcard generated_test/cases/*/streamgen.yaml) \
	internal/crashtest/job/streamgen.yaml

# Builds other than -race (vet, the generator, the other modules, and the
# go commands tests run: the crash-restart harness's programs, the
# templates' projects, which build static like their Dockerfiles) all
# build with cgo off, so that a cold build cache compiles the
# dependencies twice (-race and this), not three times. The DuckDB
# module alone needs cgo.
NOCGO   := CGO_ENABLED=0

.PHONY: all test fmt-check vet modules race fresh generate demo bench build soak tools/versitygw tools/azurite duckdb

all: test

## test: everything CI runs: formatting, vet, the repository's other
## modules, the race-enabled test suite, the DuckDB module's tests, and
## a check that regenerating the committed code changes nothing. The S3
## server and the Azure emulator the blob sink's tests run against are
## built and installed first.
test: tools/versitygw tools/azurite fmt-check vet modules fresh race duckdb

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

vet:
	$(NOCGO) $(GO) vet $(PKGS)

## modules: every other module of the repository (bench/peers, ...) builds
## and vets with its go.mod and go.sum as committed (-mod=readonly), so one
## that replaces streamgen with this checkout cannot fall behind a new
## dependency of it unnoticed; "go mod tidy" in its directory repairs it.
MODULES := $(filter-out . tools,$(patsubst %/,%,$(dir $(shell git ls-files 2>/dev/null | grep -E '(^|/)go\.mod$$'))))
modules:
	@set -e; for d in $(MODULES); do \
		echo "go build, go vet: $$d"; \
		cgo=$(NOCGO); [ $$d != internal/duckdbtest ] || cgo=CGO_ENABLED=1; \
		(cd $$d && export $$cgo GOWORK=off GOFLAGS=-mod=readonly && $(GO) build ./... && $(GO) vet ./...); \
	done

race:
	$(GO) test -race -count=1 $(PKGS)

## tools/versitygw: the S3 server (versitygw, posix backend) that
## internal/s3test runs for the blob sink's tests against s3://, built
## from the version tools/go.mod pins into bin/versitygw. Tests skip
## without it, and fail in CI.
tools/versitygw: bin/versitygw
bin/versitygw: tools/go.mod tools/go.sum
	cd tools && GOWORK=off GOFLAGS=-mod=readonly $(GO) build -o ../bin/versitygw github.com/versity/versitygw/cmd/versitygw

## tools/azurite: the Azure Blob Storage emulator (Azurite's blob
## service) that internal/azuritetest runs for the blob sink's tests
## against azblob://, installed with npm (Node.js) from the version
## tools/azurite/package-lock.json pins. Tests skip without it, and fail
## in CI.
AZURITE := tools/azurite/node_modules/.bin/azurite-blob
tools/azurite: $(AZURITE)
$(AZURITE): tools/azurite/package.json tools/azurite/package-lock.json
	@if ! command -v npm >/dev/null; then \
		echo "tools/azurite: npm (Node.js) is not installed: the azblob:// tests will skip"; \
		[ "$$CI" != true ]; exit $$?; \
	fi
	cd tools/azurite && npm ci --no-audit --no-fund --loglevel=error
	@touch $@

## duckdb: DuckDB reads the blob sink's Parquet (internal/duckdbtest, a
## module of its own: DuckDB is cgo, and the main module stays free of it).
duckdb:
	cd internal/duckdbtest && GOWORK=off GOFLAGS=-mod=readonly $(GO) test -count=1 ./...

## fresh: fails when committed generated code is out of date.
fresh:
	@set -e; for s in $(SPECS); do $(NOCGO) $(GO) run ./cmd/streamgen generate -check -spec $$s; done
	@echo "generated code is up to date ($(words $(SPECS)) specs)"

## generate: regenerate the committed examples and golden cases.
generate:
	@set -e; for s in $(SPECS); do $(GO) run ./cmd/streamgen generate -spec $$s; done
	$(GO) test ./generated_test -run 'TestGoldenErrors' -update

## demo: generate the examples from schemas/ and run the anomaly detector
## on an embedded Kafka with a producer, printing its batches.
demo:
	$(GO) generate ./examples/...
	ANOMALY_DETECTOR_MODEL_FILE=examples/anomaly-detector/model.json $(GO) run ./examples/anomaly-detector

## bench: codec benchmarks against hamba/avro and goavro, into BENCHMARKS.md,
## and engine benchmarks (throughput, per-batch overhead, peak RSS) into
## BENCHMARKS-engine.md. Run on an otherwise idle machine.
bench:
	./scripts/bench.sh
	./scripts/bench-engine.sh

## soak: the long crash-restart run (internal/crashtest): 200,000 records,
## 25 kills of a job replica per configuration, then a table of kills,
## records checked, lost and duplicated. Set CRASHTEST_DIR to keep the
## runs' logs and output.
soak:
	$(GO) test -count=1 -v -timeout 60m -run TestCrashRestart ./internal/crashtest -args -soak

build:
	$(GO) build -o bin/streamgen ./cmd/streamgen

## flake: the loop that finds flaky tests (issue 16): the tests that
## flaked before, 50 times; the runtime package 10 times with -race; and
## the graceful-stop crash row 30 times. Long: run it before calling a
## flaky test fixed, on an otherwise idle machine.
flake:
	$(GO) test -race -count=50 -run 'TestMetricsAfterRealBatches|TestLostGenerationKeepsHandledBatch|TestListenerQueueBounded' ./runtime/metrics ./runtime
	$(GO) test -race -count=10 ./runtime ./runtime/sink ./runtime/offsets
	$(GO) test -count=30 -timeout 60m -run 'TestCrashRestart/at-least-once/kafka/(sigterm|broker-kills-only)$$' ./internal/crashtest
