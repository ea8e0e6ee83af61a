// Command anomaly-detector flags campaigns whose impressions in a batch
// jump far above the batch's average: the seed's anomaly detector, which
// always starts at the latest offsets.
//
// With KAFKA_BROKERS (or --brokers) it runs against that cluster. Without,
// it runs on an embedded default: an in-process Kafka (kfake) with an
// 18-partition impressions topic and a producer writing Confluent-framed
// Avro impressions, for DEMO_SECONDS (default 6) seconds, printing every
// batch as Spark's batch page does.
package main

//go:generate go run github.com/streamgen/streamgen/cmd/streamgen generate

import (
	"context"
	"fmt"
	"math/big"
	"math/rand/v2"
	"os"
	"os/signal"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/streamgen/streamgen/examples/anomaly-detector/anomalies"
	"github.com/streamgen/streamgen/runtime"
)

// detector keeps nothing between batches: each batch is judged alone.
type detector struct {
	mu    sync.Mutex
	found []string
}

func (d *detector) ProcessBatch(ctx context.Context, b *anomalies.Batch) error {
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
	mean := float64(total) / float64(len(counts))
	for c, n := range counts {
		if float64(n) > 3*mean && n > 50 {
			msg := fmt.Sprintf("batch %d: campaign %d has %d impressions, %.1fx the mean of %.0f", b.Impressions.ID(), c, n, float64(n)/mean, mean)
			fmt.Println("ANOMALY", msg)
			d.mu.Lock()
			d.found = append(d.found, msg)
			d.mu.Unlock()
		}
	}
	return nil
}

func main() {
	if os.Getenv("KAFKA_BROKERS") != "" || slices.ContainsFunc(os.Args[1:], func(a string) bool { return strings.HasPrefix(strings.TrimLeft(a, "-"), "brokers") }) {
		anomalies.Main(&detector{})
		return
	}
	os.Exit(demo())
}

// demo runs the job on an in-process cluster with a producer feeding it.
func demo() int {
	seconds := 6
	if s, err := strconv.Atoi(os.Getenv("DEMO_SECONDS")); err == nil && s > 0 {
		seconds = s
	}
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(18, "impressions"))
	if err != nil {
		fmt.Fprintln(os.Stderr, "kfake:", err)
		return 1
	}
	defer cluster.Close()
	fmt.Printf("embedded Kafka at %s, topic impressions with 18 partitions; running %ds\n", cluster.ListenAddrs()[0], seconds)

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, time.Duration(seconds)*time.Second)
	defer cancel()

	cfg := anomalies.DefaultConfig()
	cfg.Brokers = cluster.ListenAddrs()
	cfg.StatusAddr = "" // a demo need not hold a port
	cfg.EngineOptions = append(cfg.EngineOptions, runtime.Listener(batchPage{}))

	go produce(ctx, cluster.ListenAddrs())
	d := &detector{}
	code := runtime.RunMain(ctx, anomalies.JobName, &cfg.JobConfig, nil, os.Stderr, func(ctx context.Context) error {
		return anomalies.Run(ctx, cfg, d)
	})
	fmt.Printf("\n%d anomalies found\n", len(d.found))
	return code
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

// produce writes impressions in the Confluent wire format (schema id 1) at
// about 3,000 a second; every third second one campaign spikes.
func produce(ctx context.Context, brokers []string) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.DefaultProduceTopic("impressions"))
	if err != nil {
		fmt.Fprintln(os.Stderr, "producer:", err)
		return
	}
	defer cl.Close()
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
		for range 30 {
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
			val, err := imp.AppendAvro([]byte{0, 0, 0, 0, 1}) // magic byte, schema id 1
			if err != nil {
				fmt.Fprintln(os.Stderr, "encode:", err)
				return
			}
			cl.Produce(ctx, &kgo.Record{Key: []byte(imp.ImpressionID), Value: val}, nil)
		}
	}
}
