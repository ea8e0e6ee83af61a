package runtime

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// This file owns the topics a job writes to (dead letters, the Kafka
// sink's), checked before the first batch.

// OutputTopic is a topic a job writes to, and the setting that names it,
// for the message when it is missing.
type OutputTopic struct {
	Topic string
	// Setting names the setting as a user gives it, such as "sink.topic
	// (--sink-topic, env JOB_SINK_TOPIC)".
	Setting string
}

// MissingTopicsError is the output topics a job found missing at start.
type MissingTopicsError struct {
	Topics []OutputTopic
}

func (e *MissingTopicsError) Error() string {
	var names []string
	for _, t := range e.Topics {
		names = append(names, fmt.Sprintf("%q (%s)", t.Topic, t.Setting))
	}
	what := "output topic " + names[0] + " does not exist"
	if len(names) > 1 {
		what = "output topics " + strings.Join(names, ", ") + " do not exist"
	}
	return what + ": the job writes there and does not create topics; create them (with the partitions and replication they need), or correct the setting"
}

// outputCheckTimeout bounds the start-time check of the output topics:
// brokers that do not answer within it are the engine's to wait for.
const outputCheckTimeout = 10 * time.Second

// CheckOutputTopics reports, before the job's first batch, which of
// topics and of its streams' dead-letter topics do not exist, as a
// *MissingTopicsError: a missing output topic would otherwise fail every
// batch (the Kafka sink's, read again and again until the outage limit)
// or end the job at its first bad record (a dead-letter topic). Brokers
// that cannot be asked now are no error here: the engine's own rule for
// unreachable brokers applies, and the topics are then found batch by
// batch. The generated Run calls it with the Kafka sink's topic.
func (e *Engine) CheckOutputTopics(ctx context.Context, topics ...OutputTopic) error {
	for _, b := range e.streams {
		cfg := b.source().cfg
		if cfg.onBad == DeadLetterBadRecords && cfg.deadLetterTopic != "" {
			topics = append(topics, OutputTopic{Topic: cfg.deadLetterTopic, Setting: "deadLetterTopic (--dead-letter-topic), the dead-letter topic of stream " + b.source().name})
		}
	}
	var names []string
	for _, t := range topics {
		if !slices.Contains(names, t.Topic) {
			names = append(names, t.Topic)
		}
	}
	if len(names) == 0 {
		return nil
	}
	c := &e.cfg
	opts := []kgo.Opt{kgo.SeedBrokers(c.brokers...)}
	if c.tls != nil {
		opts = append(opts, kgo.DialTLSConfig(c.tls.Clone()))
	}
	if len(c.sasl) > 0 {
		opts = append(opts, kgo.SASL(c.sasl...))
	}
	cl, err := kgo.NewClient(append(opts, c.kgoOpts...)...)
	if err != nil {
		return fmt.Errorf("checking the output topics: %w", err)
	}
	defer cl.Close()
	qctx, cancel := context.WithTimeout(ctx, outputCheckTimeout)
	defer cancel()
	details, err := kadm.NewClient(cl).ListTopics(qctx, names...)
	if err != nil {
		e.Logger().Warn("cannot check the output topics at start; a missing one fails its batch", "topics", strings.Join(names, ","), "err", err)
		return nil
	}
	var missing []OutputTopic
	for _, t := range topics {
		d, ok := details[t.Topic]
		if !ok || errors.Is(d.Err, kerr.UnknownTopicOrPartition) {
			if !slices.ContainsFunc(missing, func(m OutputTopic) bool { return m.Topic == t.Topic }) {
				missing = append(missing, t)
			}
		}
	}
	if len(missing) > 0 {
		return &MissingTopicsError{Topics: missing}
	}
	return nil
}
