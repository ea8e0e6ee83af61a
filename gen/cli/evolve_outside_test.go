package cli

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// The user's own job, outside this module: an Order read from a topic
// whose producers still write version 1 while the job moves to version 2.
const evolveJobTest = `package main

import (
	"context"
	"errors"
	"math/big"
	"testing"
	"time"

	"github.com/hamba/avro/v2"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"example.com/shop/shop"
	"github.com/streamgen/streamgen/runtime"
	"github.com/streamgen/streamgen/runtime/codec"
)

type got struct{ orders chan shop.Order }

func (g got) ProcessBatch(_ context.Context, b *shop.Batch) error {
	for r := range b.Orders.Records() {
		g.orders <- r.Value
	}
	return nil
}

func TestVersion1OrderReadAsVersion2(t *testing.T) {
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, "orders"))
	if err != nil {
		t.Fatal(err)
	}
	defer cluster.Close()
	v1 := avro.MustParse(V1)
	body, err := avro.Marshal(v1, map[string]any{"id": "o1", "total": big.NewRat(1999, 100), "source": "LEGACY-POS"})
	if err != nil {
		t.Fatal(err)
	}
	fp, err := codec.Fingerprint(V1)
	if err != nil {
		t.Fatal(err)
	}
	prod, err := kgo.NewClient(kgo.SeedBrokers(cluster.ListenAddrs()...))
	if err != nil {
		t.Fatal(err)
	}
	defer prod.Close()
	val := append(runtime.AppendSingleObjectHeader(nil, fp), body...)
	if err := prod.ProduceSync(context.Background(), &kgo.Record{Topic: "orders", Value: val}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	cfg := shop.DefaultConfig()
	cfg.Brokers = cluster.ListenAddrs()
	cfg.BatchInterval = 50 * time.Millisecond
	g := got{orders: make(chan shop.Order, 1)}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- shop.Run(ctx, cfg, g) }()
	select {
	case o := <-g.orders:
		if o.ID != "o1" || o.Channel != "web" || o.Total.Cmp(big.NewRat(1999, 100)) != 0 {
			t.Errorf("version 1 order read as %+v, want id o1, total 19.99, channel web (the default)", o)
		}
	case err := <-done:
		t.Fatalf("Run: %v", err)
	case <-ctx.Done():
		t.Fatal("no order read")
	}
	cancel()
	if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
		t.Fatal(err)
	}
}
`

// TestEvolvedStreamOutsideTheModule is the raw stream of the user's first
// hour, in a module of the user's own: the Order lost source and gained
// channel. Raw, generate now refuses the change (it would have read
// source's bytes into channel); single-object, the job built from version
// 2 reads a version 1 record with channel defaulted, through go test of
// the user's module.
func TestEvolvedStreamOutsideTheModule(t *testing.T) {
	t.Parallel() // builds a module, beside the other tests that do (see templateBinary)
	if testing.Short() {
		t.Skip("builds a module")
	}
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command")
	}
	dir := t.TempDir()
	spec := filepath.Join(dir, "streamgen.yaml")
	v1, v2 := order(t, "v1"), order(t, "v2")
	write(t, filepath.Join(dir, "go.mod"), "module example.com/shop\n\ngo 1.26.0\n\nrequire github.com/streamgen/streamgen v0.0.0\n\nreplace github.com/streamgen/streamgen => "+checkoutDir(t)+"\n")
	write(t, filepath.Join(dir, "main.go"), "package main\n\nimport \"example.com/shop/shop\"\n\nfunc main() { _ = shop.JobName }\n")
	write(t, filepath.Join(dir, "v1_test.go"), "package main\n\nconst V1 = `"+v1+"`\n")
	write(t, filepath.Join(dir, "job_test.go"), evolveJobTest)

	// Raw: version 1 generated, then version 2 refused.
	write(t, spec, strings.Replace(orderSpec, "ENCODING", "raw", 1))
	write(t, filepath.Join(dir, "order.avsc"), v1)
	if code, _, errs := run(t, "generate", "-spec", spec); code != 0 {
		t.Fatal(errs)
	}
	write(t, filepath.Join(dir, "order.avsc"), v2)
	code, _, errs := run(t, "generate", "-spec", spec)
	if code != 1 || !regexp.MustCompile(`streamgen\.yaml:8:12: stream "orders" is raw-encoded and its value com\.example\.shop\.Order changed since streamgen\.lock pinned it`).MatchString(errs) {
		t.Fatalf("raw, version 2: exit %d: %s", code, errs)
	}

	// Single-object: the lock pins version 1, then version 2 too.
	os.Remove(filepath.Join(dir, "streamgen.lock"))
	write(t, spec, strings.Replace(orderSpec, "ENCODING", "single-object", 1))
	write(t, filepath.Join(dir, "order.avsc"), v1)
	if code, _, errs := run(t, "generate", "-spec", spec); code != 0 {
		t.Fatal(errs)
	}
	write(t, filepath.Join(dir, "order.avsc"), v2)
	if code, _, errs := run(t, "generate", "-spec", spec); code != 0 {
		t.Fatal(errs)
	}
	env := append(os.Environ(), "GOFLAGS="+os.Getenv("GOFLAGS")+" -mod=mod", "GOWORK=off", "GOTOOLCHAIN=local", "CGO_ENABLED=0")
	goCmd := func(args ...string) string {
		t.Helper()
		cmd := exec.Command(goBin, args...)
		cmd.Dir, cmd.Env = dir, env
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("go %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	goCmd("mod", "tidy")
	out := goCmd("test", "-count=1", "-v", "./...")
	if !strings.Contains(out, "--- PASS: TestVersion1OrderReadAsVersion2") {
		t.Errorf("go test of the user's module:\n%s", out)
	}
}
