package main

import (
	"context"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sr/srfake"

	"github.com/streamgen/streamgen/examples/anomaly-detector/anomalies"
	"github.com/streamgen/streamgen/internal/logbuf"
	"github.com/streamgen/streamgen/runtime"
	"github.com/streamgen/streamgen/runtime/config"
)

// writeModel replaces the model file as a batch job should: another file
// renamed over it, so that the job never reads it half written.
func writeModel(t *testing.T, path, body string) {
	t.Helper()
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

// TestModelReloads runs the detector as Main does (RunMain; its model,
// the spec's value model, loaded by LoadModel from its model.file
// setting) on kfake and srfake,
// against traffic in which campaign 1007 spikes (about 7 times the mean)
// and campaign 1003 rises a little (about 1.9 times). Model v1 (factor 3,
// at least 50) flags 1007 alone. The test rewrites the file with v2
// (factor 1.5, at least 10) and asks for a reload (POST
// /side/model/reload): from one batch on, every anomaly is v2's, and 1003
// is flagged too; no batch mixes the two. Then it writes a corrupt file:
// the job logs a WARN and goes on judging with v2.
func TestModelReloads(t *testing.T) {
	path := filepath.Join(t.TempDir(), "model.json")
	writeModel(t, path, `{"version": "v1", "factor": 3, "min_impressions": 50}`)
	t.Setenv(config.EnvName(anomalies.JobName, "model.file"), path)
	t.Setenv(config.EnvName(anomalies.JobName, "values.model.interval"), "1h") // reloads come from POST /side/model/reload

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(6, "impressions"))
	if err != nil {
		t.Fatal(err)
	}
	defer cluster.Close()
	reg := srfake.New()
	defer reg.Close()
	registry, err := runtime.NewSchemaRegistry(reg.URL())
	if err != nil {
		t.Fatal(err)
	}
	ser, err := registry.Serializer(ctx, "impressions-value", anomalies.ImpressionSchema, true)
	if err != nil {
		t.Fatal(err)
	}
	producer, err := kgo.NewClient(kgo.SeedBrokers(cluster.ListenAddrs()...), kgo.DefaultProduceTopic("impressions"))
	if err != nil {
		t.Fatal(err)
	}
	defer producer.Close()

	cfg := anomalies.DefaultConfig()
	cfg.Brokers, cfg.RegistryURL = cluster.ListenAddrs(), reg.URL()
	var log logbuf.Buffer
	d := &detector{out: io.Discard}
	exited := make(chan int, 1)
	go func() {
		exited <- runtime.RunMain(ctx, anomalies.JobName, &cfg.JobConfig, []string{"--status-addr=127.0.0.1:0", "--batch-interval=100ms"}, &log, func(ctx context.Context) error {
			return anomalies.Run(ctx, cfg, d)
		})
	}()

	round := 0
	produce := func() {
		t.Helper()
		// Two impressions of each of ten campaigns, 100 more of 1007 and
		// 25 more of 1003.
		var recs []*kgo.Record
		for i := range 145 {
			campaign := int64(1000 + i%10)
			switch {
			case i >= 45:
				campaign = 1007
			case i >= 20:
				campaign = 1003
			}
			imp := anomalies.Impression{
				ImpressionID: fmt.Sprintf("imp-%d-%d", round, i),
				CampaignID:   campaign,
				Timestamp:    time.Now().UTC().Truncate(time.Millisecond),
				Device:       anomalies.DeviceTypePhone,
				BidPrice:     big.NewRat(1, 1000),
			}
			val, err := ser.Append(nil, &imp)
			if err != nil {
				t.Fatal(err)
			}
			recs = append(recs, &kgo.Record{Key: []byte(imp.ImpressionID), Value: val})
		}
		round++
		if err := producer.ProduceSync(ctx, recs...).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	found := func() []anomaly {
		d.mu.Lock()
		defer d.mu.Unlock()
		return append([]anomaly(nil), d.found...)
	}
	// until produces until cond holds of the anomalies found.
	until := func(what string, cond func([]anomaly) bool) {
		t.Helper()
		deadline := time.After(60 * time.Second)
		for !cond(found()) {
			produce()
			select {
			case code := <-exited:
				t.Fatalf("the job exited with %d before %s:\n%s", code, what, log.String())
			case <-deadline:
				t.Fatalf("no %s in 60s; found %+v\n%s", what, found(), log.String())
			case <-time.After(50 * time.Millisecond):
			}
		}
	}
	// flagged holds once model flagged campaign in n batches.
	flagged := func(model string, campaign int64, n int) func([]anomaly) bool {
		return func(as []anomaly) bool {
			batches := map[int64]bool{}
			for _, a := range as {
				if a.Model == model && a.CampaignID == campaign {
					batches[a.Batch] = true
				}
			}
			return len(batches) >= n
		}
	}
	// The status server's address, once Main logs it.
	var m []string
	for deadline := time.Now().Add(30 * time.Second); m == nil; {
		m = regexp.MustCompile(`msg="serving status".* addr=(\S+)`).FindStringSubmatch(log.String())
		select {
		case code := <-exited:
			t.Fatalf("the job exited with %d:\n%s", code, log.String())
		default:
		}
		if m == nil && time.Now().After(deadline) {
			t.Fatalf("no status address logged:\n%s", log.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	reload := func() {
		t.Helper()
		resp, err := http.Post("http://"+m[1]+"/side/model/reload", "", nil)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusAccepted {
			t.Fatalf("POST /side/model/reload: %s", resp.Status)
		}
	}

	until("anomalies of model v1 in 3 batches", flagged("v1", 1007, 3))
	writeModel(t, path, `{"version": "v2", "factor": 1.5, "min_impressions": 10}`)
	reload()
	until("anomalies of campaign 1003 by model v2 in 3 batches", flagged("v2", 1003, 3))

	byBatch := map[int64]string{}
	lastV1, firstV2 := int64(-1), int64(1<<62)
	for _, a := range found() {
		if v, ok := byBatch[a.Batch]; ok && v != a.Model {
			t.Errorf("batch %d was judged by models %s and %s", a.Batch, v, a.Model)
		}
		byBatch[a.Batch] = a.Model
		switch a.Model {
		case "v1":
			lastV1 = max(lastV1, a.Batch)
			if a.CampaignID != 1007 {
				t.Errorf("model v1 flagged %+v; only 1007 is above its factor 3", a)
			}
		case "v2":
			firstV2 = min(firstV2, a.Batch)
		default:
			t.Errorf("anomaly %+v of no model the test wrote", a)
		}
	}
	if lastV1 >= firstV2 {
		t.Errorf("model v1 judged batch %d, after model v2 judged batch %d", lastV1, firstV2)
	}

	// A corrupt model: the job keeps v2, logs a WARN, and goes on.
	writeModel(t, path, `{"version": "v3", "factor": `)
	reload()
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(log.String(), "level=WARN msg=\"side input value failed to load") {
		if time.Now().After(deadline) {
			t.Fatalf("no WARN of the corrupt model:\n%s", log.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	if !strings.Contains(log.String(), "side_input=model") || !strings.Contains(log.String(), "unexpected EOF") {
		t.Errorf("the WARN does not name the model and its error:\n%s", log.String())
	}
	after := len(found())
	until("anomalies of 1003 in 3 batches after the corrupt model", func(as []anomaly) bool { return flagged("v2", 1003, 3)(as[after:]) })
	for _, a := range found()[after:] {
		if a.Model != "v2" {
			t.Errorf("after the corrupt model, %+v: want the last good one, v2", a)
		}
	}

	cancel()
	if code := <-exited; code != 0 {
		t.Errorf("the job exited with %d:\n%s", code, log.String())
	}
}
