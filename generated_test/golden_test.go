// Package generated_test holds the generator's golden cases and the tests
// of generated code: round trips against hamba/avro, fuzzing, benchmarks.
package generated_test

import (
	"bytes"
	"context"
	"flag"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/streamgen/streamgen/gen"
	"github.com/streamgen/streamgen/gen/cli"
	"github.com/streamgen/streamgen/gen/spec"
)

var update = flag.Bool("update", false, "rewrite golden files from the generator's output")

// TestGolden regenerates every case under cases/ in-process and compares
// the result with the committed package, which `go build ./...` and
// `go vet ./...` also compile.
func TestGolden(t *testing.T) {
	specs, err := filepath.Glob("cases/*/streamgen.yaml")
	if err != nil || len(specs) == 0 {
		t.Fatalf("no golden cases found: %v", err)
	}
	for _, path := range specs {
		t.Run(filepath.Base(filepath.Dir(path)), func(t *testing.T) {
			sp, err := spec.Load(path)
			if err != nil {
				t.Fatal(err)
			}
			files, err := gen.Generate(context.Background(), sp, gen.Options{})
			if err != nil {
				t.Fatal(err)
			}
			if *update {
				changes, err := gen.Plan(files)
				if err != nil {
					t.Fatal(err)
				}
				if err := gen.Write(files, changes); err != nil {
					t.Fatal(err)
				}
				return
			}
			changes, err := gen.Plan(files)
			if err != nil {
				t.Fatal(err)
			}
			for _, c := range changes {
				if c.Action == "unchanged" {
					continue
				}
				t.Errorf("%s: would %s; the generator's output changed (run go test ./generated_test -update and review the diff)", c.Path, c.Action)
				for _, f := range files {
					if f.Path == c.Path {
						old, _ := os.ReadFile(f.Path)
						t.Logf("first difference: %s", firstDiff(string(old), string(f.Data)))
					}
				}
			}
		})
	}
}

// TestGoldenErrors runs the CLI on each bad input under testdata/errors and
// compares what it prints with stderr.txt: errors are part of the contract.
func TestGoldenErrors(t *testing.T) {
	dirs, err := filepath.Glob("testdata/errors/*")
	if err != nil || len(dirs) == 0 {
		t.Fatalf("no error cases found: %v", err)
	}
	for _, dir := range dirs {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := cli.Main([]string{"generate", "-check", "-spec", filepath.Join(dir, "streamgen.yaml")}, &stdout, &stderr)
			if code != 1 {
				t.Errorf("exit code %d, want 1", code)
			}
			golden := filepath.Join(dir, "stderr.txt")
			if *update {
				if err := os.WriteFile(golden, stderr.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatal(err)
			}
			if got := stderr.String(); got != string(want) {
				t.Errorf("stderr:\n%s\nwant:\n%s", got, want)
			}
			if stdout.Len() > 0 {
				t.Errorf("unexpected stdout: %s", stdout.String())
			}
		})
	}
}

func firstDiff(a, b string) string {
	al, bl := strings.Split(a, "\n"), strings.Split(b, "\n")
	for i := 0; i < len(al) && i < len(bl); i++ {
		if al[i] != bl[i] {
			return "line " + strconv.Itoa(i+1) + ":\n  committed: " + al[i] + "\n  generated: " + bl[i]
		}
	}
	return "length differs"
}
