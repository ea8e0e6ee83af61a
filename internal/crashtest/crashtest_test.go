package crashtest

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/streamgen/streamgen/internal/azuritetest"
	"github.com/streamgen/streamgen/internal/pgtest"
	"github.com/streamgen/streamgen/internal/s3test"
)

var soak = flag.Bool("soak", false, "the long run (make soak): 200,000 records, 25 kills (6 freezes) per configuration")

// TestCrashRestart runs every configuration of the harness as separate
// processes and checks its guarantee; see the package documentation.
// Short by default; -soak runs the long version and prints its figures.
func TestCrashRestart(t *testing.T) {
	if testing.Short() {
		t.Skip("kills job processes for about two minutes")
	}
	o := Options{Records: 6000, Partitions: 12, Kills: 5, Replicas: 2, KillEvery: time.Second,
		Session: time.Second, Hold: 40 * time.Millisecond, Drain: 60 * time.Second}
	if *soak {
		o = Options{Records: 200_000, Partitions: 12, Kills: 25, Replicas: 2, KillEvery: 2 * time.Second,
			Session: 2 * time.Second, Hold: 40 * time.Millisecond, Drain: 3 * time.Minute, BrokerKills: 10, Freezes: 6}
	}
	ctx := context.Background()
	// The runs' files (broker and job logs, the handlers' output) go in
	// CRASHTEST_DIR when it is set, and are kept there.
	dir := os.Getenv("CRASHTEST_DIR")
	if dir == "" {
		dir = t.TempDir()
	}
	bin, err := Build(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	// The short run's rows wait on kills and session timeouts far more
	// than they compute, so several run side by side; the soak's rows,
	// which measure, run one at a time. Every row has its own broker,
	// ports, directories, servers and tables.
	parallel := 3
	if *soak {
		parallel = 1
	}
	if v := os.Getenv("CRASHTEST_PARALLEL"); v != "" {
		if parallel, err = strconv.Atoi(v); err != nil || parallel < 1 {
			t.Fatalf("CRASHTEST_PARALLEL=%q: want a number of rows to run at once, 1 or more", v)
		}
	}
	configs := Configurations()
	results := make([]*Result, len(configs))
	rows := make(chan struct{}, parallel)
	// A row on S3 or Azure sets the process environment for its server
	// (credentials the job and the checks read), so those run one at a
	// time each.
	var s3Rows, azureRows sync.Mutex
	var wg sync.WaitGroup
	for i, cfg := range configs {
		rows <- struct{}{} // rows start in order, at most parallel at once
		wg.Go(func() {
			defer func() { <-rows }()
			if cfg.S3 {
				s3Rows.Lock()
				defer s3Rows.Unlock()
			}
			if cfg.Azure {
				azureRows.Lock()
				defer azureRows.Unlock()
			}
			t.Run(cfg.Name, func(t *testing.T) {
				if cfg.SoakOnly && !*soak && os.Getenv("CRASHTEST_ALL") == "" {
					t.Skip("runs with -soak (or CRASHTEST_ALL=1)")
				}
				env := Env{Bin: bin, Dir: filepath.Join(dir, strings.NewReplacer("/", "-", "+", "-").Replace(cfg.Name)), Logf: t.Logf}
				if cfg.Postgres {
					env.DSN = pgtest.DSN(t)
					env.Table = pgtest.Table(t, env.DSN, "crashtest_offsets")
					pgtest.DropAtEnd(t, env.DSN, env.Table+"_out") // a sink's output table
				}
				if cfg.S3 {
					srv := s3test.Start(t)
					srv.SetEnv(t)
					cfg.BlobURL = srv.URL()
				}
				if cfg.Azure {
					srv := azuritetest.Start(t) // sets the account's environment
					cfg.BlobURL = srv.URL()
				}
				res, err := Run(ctx, env, cfg, o)
				t.Log(res)
				results[i] = &res
				if err != nil {
					t.Errorf("%s: %v\n(logs of the run: %s)", cfg.Name, err, env.Dir)
					if *soak {
						return
					}
					logTail(t, env.Dir)
				}
				if res.Kills < o.Kills && !cfg.NoJobKills {
					t.Errorf("%s: %d kills, want %d", cfg.Name, res.Kills, o.Kills)
				}
			})
		})
	}
	wg.Wait()
	if *soak {
		fmt.Printf("crash-restart soak: %d records on %d partitions, %d kills per configuration, %d replicas\n",
			o.Records, o.Partitions, o.Kills, o.Replicas)
		for _, r := range results {
			if r != nil {
				fmt.Println(*r)
			}
		}
	}
}

// logTail shows the end of each job log of a failed run.
func logTail(t *testing.T, dir string) {
	logs, _ := filepath.Glob(filepath.Join(dir, "*.log"))
	for _, l := range logs {
		b, err := os.ReadFile(l)
		if err != nil {
			continue
		}
		lines := strings.Split(strings.TrimSpace(string(b)), "\n")
		t.Logf("%s:\n%s", l, strings.Join(lines[max(len(lines)-5, 0):], "\n"))
	}
}
