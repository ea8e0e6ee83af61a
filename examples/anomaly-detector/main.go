// Command anomaly-detector flags campaigns whose impressions in a batch
// jump far above the batch's average. Only the present matters to it, so
// it always starts at the latest offsets, whatever was committed. The
// thresholds it judges by are a model in a JSON file (--model-file or
// ANOMALY_DETECTOR_MODEL_FILE, default model.json), the spec's value
// model: anomalies/model.go's LoadModel loads it before the first batch
// and again every --values-model-interval (default 30s) and on POST
// /side/model/reload, and each batch has the one it sees as b.Model.
//
// With ANOMALY_DETECTOR_BROKERS or --brokers it runs against that cluster. Without,
// it runs on an embedded default: an in-process Kafka (kfake) with an
// 18-partition impressions topic, an in-process schema registry (srfake)
// and producers writing Confluent-framed Avro impressions — a quarter of
// them with an older version of the schema, which the job resolves to its
// own — for DEMO_SECONDS (default 8) seconds, printing every batch as
// Spark's batch page does.
package main

//go:generate go run github.com/streamgen/streamgen/cmd/streamgen generate

import (
	"cmp"
	"context"
	_ "embed"
	"fmt"
	"io"
	"math/big"
	"math/rand/v2"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/hamba/avro/v2"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sr/srfake"

	"github.com/streamgen/streamgen/examples/anomaly-detector/anomalies"
	"github.com/streamgen/streamgen/runtime"
	"github.com/streamgen/streamgen/runtime/config"
)

// anomaly is a campaign whose impressions in one batch jumped far above
// the batch's mean per campaign, by the thresholds of model Model.
type anomaly struct {
	Batch, CampaignID int64
	Impressions       int
	Mean              float64
	Model             string // the model's version
}

// detector keeps nothing between batches: the model it judges a batch by
// comes with the batch.
type detector struct {
	out   io.Writer // where anomalies are printed
	mu    sync.Mutex
	found []anomaly
	read  int // impressions in the batches handled
}

func (d *detector) ProcessBatch(ctx context.Context, b *anomalies.Batch) error {
	m := b.Model // one model for the whole batch
	counts := map[int64]int{}
	var mu sync.Mutex
	err := b.Impressions.ForeachPartition(ctx, func(ctx context.Context, p anomalies.ImpressionsPartition) error {
		local := map[int64]int{}
		for rec := range p.Records() {
			local[rec.Value.CampaignID]++
		}
		mu.Lock()
		defer mu.Unlock()
		for c, n := range local {
			counts[c] += n
		}
		return nil
	})
	if err != nil || len(counts) == 0 {
		return err
	}
	total := 0
	for _, n := range counts {
		total += n
	}
	d.mu.Lock()
	d.read += total
	d.mu.Unlock()
	mean := float64(total) / float64(len(counts))
	for c, n := range counts {
		if float64(n) > m.Factor*mean && n >= m.MinImpressions {
			a := anomaly{Batch: b.Impressions.ID(), CampaignID: c, Impressions: n, Mean: mean, Model: m.Version}
			fmt.Fprintf(d.out, "ANOMALY batch %d: campaign %d has %d impressions, %.1fx the mean of %.0f (model %s)\n", a.Batch, c, n, float64(n)/mean, mean, m.Version)
			d.mu.Lock()
			d.found = append(d.found, a)
			d.mu.Unlock()
		}
	}
	return nil
}

func main() {
	if os.Getenv(config.EnvName(anomalies.JobName, "kafka.brokers")) != "" || slices.ContainsFunc(os.Args[1:], func(a string) bool { return strings.HasPrefix(strings.TrimLeft(a, "-"), "brokers") }) {
		anomalies.Main(&detector{out: os.Stdout})
		return
	}
	os.Exit(demo())
}

// demo runs the job on an in-process cluster with a producer feeding it.
func demo() int {
	seconds := 8 // the spikes come every third second: two of them, at least
	if s, err := strconv.Atoi(os.Getenv("DEMO_SECONDS")); err == nil && s > 0 {
		seconds = s
	}
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(18, "impressions"))
	if err != nil {
		fmt.Fprintln(os.Stderr, "kfake:", err)
		return 1
	}
	defer cluster.Close()
	reg := srfake.New()
	defer reg.Close()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, time.Duration(seconds)*time.Second)
	defer cancel()

	// Producers register the schema they write, as Confluent serializers do.
	p, err := newProducers(ctx, cluster.ListenAddrs(), reg.URL())
	if err != nil {
		fmt.Fprintln(os.Stderr, "producers:", err)
		return 1
	}
	defer p.cl.Close()
	fmt.Printf("embedded Kafka at %s, topic impressions with 18 partitions; embedded schema registry at %s\n", cluster.ListenAddrs()[0], reg.URL())
	fmt.Printf("producers write impressions-value schema id %d (the job's own) and id %d (an older version); running %ds\n", p.current.ID(), p.older.ID(), seconds)

	cfg := anomalies.DefaultConfig()
	cfg.Brokers = cluster.ListenAddrs()
	cfg.RegistryURL = reg.URL()
	cfg.StatusAddr = "" // a demo need not hold a port
	cfg.EngineOptions = append(cfg.EngineOptions, runtime.Listener(batchPage{}))

	fileVar := config.EnvName(anomalies.JobName, "model.file")
	if os.Getenv(fileVar) == "" {
		// Run from elsewhere than its directory (make demo sets it), the
		// demo judges by a copy of the model it ships.
		path, cleanup, err := defaultModelFile()
		if err != nil {
			fmt.Fprintln(os.Stderr, "model:", err)
			return 1
		}
		defer cleanup()
		os.Setenv(fileVar, path)
	}
	fmt.Printf("thresholds from the model in %s, reloaded every %s\n", os.Getenv(fileVar),
		cmp.Or(os.Getenv(config.EnvName(anomalies.JobName, "values.model.interval")), anomalies.ModelInterval.String()))

	go p.run(ctx)
	d := &detector{out: os.Stdout}
	code := runtime.RunMain(ctx, anomalies.JobName, &cfg.JobConfig, nil, os.Stderr, func(ctx context.Context) error {
		return anomalies.Run(ctx, cfg, d)
	})
	cancel() // the producers stop too if the job ended early
	<-p.done
	found := len(d.found)
	fmt.Printf("\n%d anomalies found; produced %d impressions with the current schema and %d with the older one;\n", found, p.n[0], p.n[1])
	fmt.Printf("the job read %d of them in its batches: an anomaly detector only cares about now, so it starts at the\n", d.read)
	fmt.Printf("latest offsets once it has joined the group, and what came after its last batch is not read\n")
	return code
}

//go:embed model.json
var shippedModel []byte

// defaultModelFile is model.json in the working directory if there is
// one, else a copy of the model shipped beside this file, in a temporary
// directory that cleanup removes.
func defaultModelFile() (path string, cleanup func(), err error) {
	if _, err := os.Stat("model.json"); err == nil {
		return "model.json", func() {}, nil
	}
	dir, err := os.MkdirTemp("", "anomaly-detector-model")
	if err != nil {
		return "", nil, err
	}
	path = filepath.Join(dir, "model.json")
	return path, func() { os.RemoveAll(dir) }, os.WriteFile(path, shippedModel, 0o644)
}

// batchPage prints each completed batch like Spark's batch page.
type batchPage struct{}

func (batchPage) BatchSubmitted(runtime.BatchInfo) {}
func (batchPage) BatchStarted(runtime.BatchInfo)   {}
func (batchPage) BatchCompleted(i runtime.BatchInfo) {
	if i.Records == 0 && i.Err == nil {
		return
	}
	runtime.WriteBatchPage(os.Stdout, i)
}

//go:embed impression_older.avsc
var olderSchema string

// producers write impressions in the Confluent wire format at about 3,000
// a second, one in four with the older schema; every third second one
// campaign spikes.
type producers struct {
	cl             *kgo.Client
	current, older *runtime.Serializer
	olderAvro      avro.Schema
	n              [2]int // written with current, older; read after done
	done           chan struct{}
}

func newProducers(ctx context.Context, brokers []string, registryURL string) (*producers, error) {
	r, err := runtime.NewSchemaRegistry(registryURL)
	if err != nil {
		return nil, err
	}
	p := &producers{done: make(chan struct{})}
	if p.older, err = r.Serializer(ctx, "impressions-value", olderSchema, true); err != nil {
		return nil, err
	}
	if p.current, err = r.Serializer(ctx, "impressions-value", anomalies.ImpressionSchema, true); err != nil {
		return nil, err
	}
	if p.olderAvro, err = avro.Parse(olderSchema); err != nil {
		return nil, err
	}
	p.cl, err = kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.DefaultProduceTopic("impressions"))
	return p, err
}

func (p *producers) run(ctx context.Context) {
	defer close(p.done)
	rng := rand.New(rand.NewPCG(1, 2))
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for n := 0; ; n++ {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		spike := time.Now().Unix()%3 == 0
		for i := range 30 {
			campaign := int64(1000 + rng.IntN(20))
			if spike && rng.IntN(2) == 0 {
				campaign = 1007
			}
			imp := anomalies.Impression{
				ImpressionID: fmt.Sprintf("imp-%d-%d", n, rng.Int64()),
				CampaignID:   campaign,
				CreativeID:   int32(rng.IntN(100)),
				PublisherID:  "pub-" + strconv.Itoa(rng.IntN(50)),
				Timestamp:    time.Now().UTC().Truncate(time.Millisecond),
				Device:       anomalies.DeviceTypePhone,
				Geo:          anomalies.GeoPoint{Lat: 41.39, Lon: 2.17, Country: "ES"},
				BidPrice:     big.NewRat(int64(rng.IntN(5000)), 1000),
				Segments:     []string{"sports"},
			}
			var val []byte
			var err error
			if i%4 == 3 {
				val, err = p.writeOlder(&imp)
				p.n[1]++
			} else {
				val, err = p.current.Append(nil, &imp)
				p.n[0]++
			}
			if err != nil {
				fmt.Fprintln(os.Stderr, "encode:", err)
				return
			}
			p.cl.Produce(ctx, &kgo.Record{Key: []byte(imp.ImpressionID), Value: val}, nil)
		}
	}
}

// writeOlder encodes imp as an older producer would: with hamba/avro and
// the older schema, which has an int campaign_id and fewer fields.
func (p *producers) writeOlder(imp *anomalies.Impression) ([]byte, error) {
	body, err := avro.Marshal(p.olderAvro, map[string]any{
		"impression_id": imp.ImpressionID, "campaign_id": int32(imp.CampaignID), "creative_id": imp.CreativeID,
		"publisher_id": imp.PublisherID, "timestamp": imp.Timestamp, "device": string(imp.Device),
		"geo":       map[string]any{"lat": imp.Geo.Lat, "lon": imp.Geo.Lon, "country": imp.Geo.Country},
		"bid_price": imp.BidPrice, "viewable": imp.Viewable, "segments": imp.Segments, "fingerprint": imp.Fingerprint,
	})
	if err != nil {
		return nil, err
	}
	return append(p.older.AppendHeader(nil), body...), nil
}
