package runtime

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/streamgen/streamgen/runtime/config"
)

// TestCheckOutputTopics: before the first batch, the output topics given
// and the streams' dead-letter topics that do not exist fail the start,
// each named with its setting; existing ones, or none, pass.
func TestCheckOutputTopics(t *testing.T) {
	addrs := newCluster(t, 1, testTopic, "enriched")
	e, err := New(Group("etl"), Brokers(addrs...), BatchInterval(50*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := NewStream(e, "impressions", Subscribe(testTopic), BytesDecoder, BytesDecoder,
		OnDecodeError(DeadLetterBadRecords), DeadLetterTopic("impressions-dlq")); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	err = e.CheckOutputTopics(ctx, OutputTopic{Topic: "enriched-typo", Setting: "sink.topic (--sink-topic)"}, OutputTopic{Topic: "enriched", Setting: "x"})
	var me *MissingTopicsError
	if !errors.As(err, &me) || len(me.Topics) != 2 {
		t.Fatalf("CheckOutputTopics = %v, want the sink's and the dead-letter topic missing", err)
	}
	for _, want := range []string{`output topics "enriched-typo" (sink.topic (--sink-topic)), "impressions-dlq" (deadLetterTopic (--dead-letter-topic), the dead-letter topic of stream impressions) do not exist`, "does not create topics"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("the error lacks %q:\n%v", want, err)
		}
	}

	cfg := NewJobConfig("kafka-to-kafka")
	cfg.SinkType, cfg.SinkTopic, cfg.OnDecodeError, cfg.DeadLetterTopic = config.SinkKafka, "enriched", DeadLetterBadRecords, "impressions-dlq"
	if err := e.CheckOutputTopics(ctx, cfg.OutputTopics()...); err == nil || !strings.Contains(err.Error(), `output topic "impressions-dlq" (--dead-letter-topic or KAFKA_TO_KAFKA_DEAD_LETTER_TOPIC (spec key deadLetterTopic)) does not exist`) {
		t.Errorf("with the configuration's topics: %v", err)
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(addrs...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	if _, err := kadm.NewClient(cl).CreateTopic(ctx, 1, 1, nil, "impressions-dlq"); err != nil {
		t.Fatal(err)
	}
	if err := e.CheckOutputTopics(ctx, cfg.OutputTopics()...); err != nil {
		t.Errorf("every output topic exists: %v", err)
	}
}
