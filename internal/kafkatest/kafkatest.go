// Package kafkatest gives the runtime's subpackages' tests an in-process
// Kafka (kfake) and a producer for it.
package kafkatest

import (
	"context"
	"strconv"
	"testing"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sr"
	"github.com/twmb/franz-go/pkg/sr/srfake"
)

// Cluster starts a one-broker kfake cluster with topics of partitions
// partitions each, closed when the test ends, and returns its addresses
// and a producer that writes to the partition each record names.
func Cluster(tb testing.TB, partitions int32, topics ...string) ([]string, *kgo.Client) {
	tb.Helper()
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(partitions, topics...))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(c.Close)
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(cl.Close)
	return c.ListenAddrs(), cl
}

// Produce writes n records to each partition of topic in [0, parts), with
// values "0", "1", ..., the record's index in its partition.
func Produce(tb testing.TB, cl *kgo.Client, topic string, parts int32, n int) {
	tb.Helper()
	var rs []*kgo.Record
	for p := range parts {
		for i := range n {
			rs = append(rs, &kgo.Record{Topic: topic, Partition: p, Value: []byte(strconv.Itoa(i))})
		}
	}
	if err := cl.ProduceSync(context.Background(), rs...).FirstErr(); err != nil {
		tb.Fatal(err)
	}
}

// Registry starts an in-process schema registry (srfake), closed when the
// test ends, holding each schema of ids at its id (subject "id-N",
// version 1), and returns its URL: a test that frames records with those
// ids by hand gives it to the job, which resolves every id it reads.
func Registry(tb testing.TB, ids map[int]string) string {
	tb.Helper()
	reg := srfake.New()
	tb.Cleanup(reg.Close)
	for id, schema := range ids {
		reg.SeedSchema("id-"+strconv.Itoa(id), 1, id, sr.Schema{Schema: schema})
	}
	return reg.URL()
}
