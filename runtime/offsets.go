package runtime

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"slices"
	"syscall"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/streamgen/streamgen/internal/backoff"
	"github.com/streamgen/streamgen/runtime/config"
)

// This file owns the offsets kept as the group's commits in Kafka
// (kafkaStore) and startOffsets, which decides where every newly owned
// partition starts.

// kafkaStore keeps offsets as the group's commits in Kafka. Partitions
// of group streams commit through the member's client, which sends the
// member id and generation, so a member that lost its partitions in a
// rebalance cannot commit over the new owner. Without group streams
// (Assign only) it commits outside the group's membership, as Spark does.
type kafkaStore struct {
	health *brokerHealth // its outage tracking; nil in tests of the store alone
	group  string
	adm    *kadm.Client
	member *kgo.Client // nil without group streams
}

func (k *kafkaStore) Load(ctx context.Context, tps []TopicPartition) (map[TopicPartition]int64, error) {
	out := make(map[TopicPartition]int64)
	if len(tps) == 0 || k.group == "" { // Assign without a group stores nothing
		return out, nil
	}
	resp, err := k.adm.FetchOffsetsForTopics(ctx, k.group, topicsOf(tps)...)
	if errors.Is(err, kerr.GroupIDNotFound) { // a group that never committed
		return out, nil
	}
	if err != nil {
		return nil, fmt.Errorf("fetching the committed offsets of group %q: %w", k.group, err)
	}
	for _, tp := range tps {
		o, ok := resp.Lookup(tp.Topic, tp.Partition)
		if !ok {
			continue
		}
		if o.Err != nil {
			return nil, fmt.Errorf("fetching the committed offset of group %q for topic %s partition %d: %w", k.group, tp.Topic, tp.Partition, o.Err)
		}
		if o.At >= 0 {
			out[tp] = o.At
		}
	}
	return out, nil
}

func (k *kafkaStore) Store(ctx context.Context, b StoredBatch) error {
	if len(b.Ranges) == 0 || k.group == "" { // Assign without a group stores nothing
		return nil
	}
	offs := untilOffsets(b.Ranges)
	// A commit is retried through errors that say nothing about the
	// batch (a coordinator moving or loading, a request timing out, a
	// dropped connection, the broker down): committing the same offsets
	// again is harmless, and failing the batch would make the job re-read
	// it. It is retried as long as the outage may last (OutageLimit, from
	// the first failure of the outage, which a commit failure starts or
	// continues), or for commitRetryFor without an engine. Errors that do
	// say something (a stale generation: another member owns the
	// partitions now; authorization) fail the commit at once.
	retry := backoff.Retry{First: 100 * time.Millisecond, Max: 2 * time.Second, Failed: func(err error, _ int) error {
		if !retriableCommit(err) {
			return err
		}
		if k.health == nil {
			return nil
		}
		k.health.failed(fmt.Sprintf("committing offsets of group %q", k.group), err)
		if oerr := k.health.over(); oerr != nil {
			return fmt.Errorf("%w; the commit's last error: %w", oerr, err)
		}
		return nil
	}}
	if k.health == nil {
		retry.For = commitRetryFor
	}
	return retry.Do(ctx, func() error { return k.commitOnce(ctx, b.Ranges, offs) })
}

// commitRetryFor bounds how long a commit is retried through retriable
// errors by a kafkaStore without an engine (whose OutageLimit bounds it
// otherwise).
const commitRetryFor = 30 * time.Second

// retriableCommit reports whether a commit's error says nothing about
// whether this instance may commit: kerr's retriable codes and lost
// connections, but not a stale generation or member.
func retriableCommit(err error) bool {
	var eof *kgo.ErrFirstReadEOF
	var ne net.Error
	switch {
	case errors.Is(err, kerr.IllegalGeneration), errors.Is(err, kerr.UnknownMemberID),
		errors.Is(err, kerr.FencedInstanceID), errors.Is(err, kerr.RebalanceInProgress):
		return false
	case kerr.IsRetriable(err), errors.As(err, &eof), errors.As(err, &ne),
		errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.ECONNREFUSED):
		return true
	}
	return false
}

func (k *kafkaStore) commitOnce(ctx context.Context, ranges []OffsetRange, offs map[TopicPartition]int64) error {
	if k.member != nil {
		return k.commitAsMember(ctx, ranges, offs)
	}
	os := make(kadm.Offsets)
	for tp, until := range offs {
		os.Add(kadm.Offset{Topic: tp.Topic, Partition: tp.Partition, At: until, LeaderEpoch: -1})
	}
	resp, err := k.adm.CommitOffsets(ctx, k.group, os)
	if err != nil {
		return &CommitError{Range: ranges[0], Err: err}
	}
	var first error
	resp.EachError(func(o kadm.OffsetResponse) {
		if first == nil {
			first = &CommitError{Range: rangeOf(ranges, TopicPartition{o.Topic, o.Partition}), Err: o.Err}
		}
	})
	return first
}

// commitAsMember commits through the group member's client, which fills
// in member id, generation (or KIP-848 epoch) and instance id.
func (k *kafkaStore) commitAsMember(ctx context.Context, ranges []OffsetRange, offs map[TopicPartition]int64) error {
	eo := make(map[string]map[int32]kgo.EpochOffset)
	for tp, until := range offs {
		if eo[tp.Topic] == nil {
			eo[tp.Topic] = make(map[int32]kgo.EpochOffset)
		}
		eo[tp.Topic][tp.Partition] = kgo.EpochOffset{Epoch: -1, Offset: until}
	}
	var (
		resp *kmsg.OffsetCommitResponse
		err  error
	)
	k.member.CommitOffsetsSync(ctx, eo, func(_ *kgo.Client, _ *kmsg.OffsetCommitRequest, r *kmsg.OffsetCommitResponse, e error) {
		resp, err = r, e
	})
	if err == nil && resp == nil {
		err = errors.New("commit was not issued (not a group member?)")
	}
	if err != nil {
		return &CommitError{Range: ranges[0], Err: err}
	}
	for _, t := range resp.Topics {
		for _, p := range t.Partitions {
			if err := kerr.ErrorForCode(p.ErrorCode); err != nil {
				return &CommitError{Range: rangeOf(ranges, TopicPartition{t.Topic, p.Partition}), Err: err}
			}
		}
	}
	return nil
}

// untilOffsets is each partition's highest UntilOffset among ranges.
func untilOffsets(ranges []OffsetRange) map[TopicPartition]int64 {
	out := make(map[TopicPartition]int64, len(ranges))
	for _, r := range ranges {
		tp := r.TopicPartition()
		if cur, ok := out[tp]; !ok || r.UntilOffset > cur {
			out[tp] = r.UntilOffset
		}
	}
	return out
}

// rangeOf is the range of ranges that stores tp's offset: the one with the
// highest UntilOffset.
func rangeOf(ranges []OffsetRange, tp TopicPartition) OffsetRange {
	best := OffsetRange{Topic: tp.Topic, Partition: tp.Partition}
	for _, r := range ranges {
		if r.TopicPartition() == tp && r.UntilOffset >= best.UntilOffset {
			best = r
		}
	}
	return best
}

func topicsOf(tps []TopicPartition) []string {
	seen := make(map[string]bool)
	for _, tp := range tps {
		seen[tp.Topic] = true
	}
	return slices.Sorted(maps.Keys(seen))
}

// logBounds are a partition's log start, its end (high watermark) and
// where "latest" is: the end, or for read_committed the last stable offset.
type logBounds struct{ start, end, latest int64 }

// bounds lists the log start, end and latest offsets of tps, failing with the topic and partition of any partition
// Kafka cannot list, or that does not exist.
func (e *Engine) bounds(ctx context.Context, tps []TopicPartition) (map[TopicPartition]logBounds, error) {
	adm, topics := e.adm, topicsOf(tps)
	starts, err := adm.ListStartOffsets(ctx, topics...)
	if err != nil {
		return nil, fmt.Errorf("listing the start offsets of %v: %w", topics, err)
	}
	ends, err := adm.ListEndOffsets(ctx, topics...)
	if err != nil {
		return nil, fmt.Errorf("listing the end offsets of %v: %w", topics, err)
	}
	latest := ends
	if e.cfg.readCommitted {
		if latest, err = adm.ListCommittedOffsets(ctx, topics...); err != nil {
			return nil, fmt.Errorf("listing the last stable offsets of %v: %w", topics, err)
		}
	}
	out := make(map[TopicPartition]logBounds, len(tps))
	for _, tp := range tps {
		s, err := listed(starts, tp)
		if err != nil {
			return nil, err
		}
		en, err := listed(ends, tp)
		if err != nil {
			return nil, err
		}
		l, err := listed(latest, tp)
		if err != nil {
			return nil, err
		}
		out[tp] = logBounds{start: s, end: en, latest: l}
	}
	return out, nil
}

// errNoSuchPartition is a partition the brokers did not list.
var errNoSuchPartition = errors.New("no such partition (is the topic missing, or smaller?)")

// listed is tp's offset in l, or an error naming tp.
func listed(l kadm.ListedOffsets, tp TopicPartition) (int64, error) {
	o, ok := l.Lookup(tp.Topic, tp.Partition)
	switch {
	case !ok:
		return 0, &FetchError{Topic: tp.Topic, Partition: tp.Partition, Offset: -1, Err: errNoSuchPartition}
	case o.Err != nil:
		return 0, &FetchError{Topic: tp.Topic, Partition: tp.Partition, Offset: -1, Err: fmt.Errorf("listing offsets: %w", o.Err)}
	}
	return o.Offset, nil
}

// outsideLog settles an offset (from where: "the offset store" or
// "startingOffsets") outside its partition's log b: an error when it may
// not be reset, else the warning that ResetTo moves it.
func (e *Engine) outsideLog(tp TopicPartition, off int64, from string, b logBounds) error {
	if e.cfg.reset == ResetError {
		return &OffsetOutOfRangeError{TopicPartition: tp, Offset: off, From: from, Start: b.start, End: b.end}
	}
	// Past the end, a stored offset of exactly-once output is not
	// reset: whatever the job read would be written under offsets its
	// output already holds (Spark's failOnDataLoss). Before the start,
	// retention deleted records no one read; ResetTo applies, and the
	// warning says so.
	if off > b.end && e.cfg.semantics == ExactlyOnce && from == "the offset store" {
		return &OffsetOutOfRangeError{TopicPartition: tp, Offset: off, From: from, Start: b.start, End: b.end, Why: pastLogEnd}
	}
	e.Logger().Warn("offset outside the partition's log; applying resetTo",
		"topic", tp.Topic, "partition", tp.Partition, "asked", off, "from", from,
		"log_start", b.start, "log_end", b.end, "reset_to", e.cfg.reset.String())
	return nil
}

// startOffsets decides where each newly owned partition starts, exactly:
// a WithOffsets offset or the StartFrom position on the job's first
// assignment, else the offset store's, else ResetTo. A stored or explicit
// offset outside the partition's log is not clamped silently: ResetTo
// decides (ResetError fails naming the partition), and the move is logged.
func (e *Engine) startOffsets(ctx context.Context, tps []TopicPartition, first bool, explicit map[TopicPartition]int64) (map[TopicPartition]int64, error) {
	out := make(map[TopicPartition]int64, len(tps))
	if len(tps) == 0 {
		return out, nil
	}
	bounds, err := e.bounds(ctx, tps)
	if err != nil {
		return nil, err
	}
	start := e.cfg.start
	var byTime kadm.ListedOffsets
	if first && start.Kind() == config.StartFromTimestamp {
		if byTime, err = e.adm.ListOffsetsAfterMilli(ctx, start.Time().UnixMilli(), topicsOf(tps)...); err != nil {
			return nil, fmt.Errorf("listing offsets after %s: %w", start.Time().Format(time.RFC3339), err)
		}
	}
	stored, err := e.store.Load(ctx, tps)
	if err != nil {
		return nil, &OffsetStoreError{Op: "load", Err: err}
	}
	var missing []TopicPartition
	for _, tp := range tps {
		b := bounds[tp]
		off, ok := explicit[tp]
		from := "startingOffsets"
		first := first
		if _, has := stored[tp]; has && first && !ok && start.Kind() != config.StartFromCommitted && !e.policy.startOverridesStored {
			// The stored offset is the output's own position (or a
			// fenced store's): moving it would duplicate or skip output.
			e.Logger().Info("partition resumes from its stored offset: kafka.startFrom applies only to partitions with none when offsets live outside Kafka's group commits, or exactly-once",
				"topic", tp.Topic, "partition", tp.Partition, "stored", stored[tp], "start_from", start.String())
			first = false
		}
		switch {
		case first && ok:
		case first && start.Kind() == config.StartFromEarliest:
			off, ok, from = b.start, true, ""
		case first && start.Kind() == config.StartFromLatest:
			off, ok, from = b.latest, true, ""
		case first && start.Kind() == config.StartFromTimestamp:
			off, ok, from = b.latest, true, ""
			if lo, err := listed(byTime, tp); err == nil && lo >= 0 {
				off = lo
			}
		default:
			off, ok = stored[tp]
			from = "the offset store"
		}
		if ok && (off < b.start || off > b.end) {
			if err := e.outsideLog(tp, off, from, b); err != nil {
				return nil, err
			}
			ok = false
		}
		if !ok {
			switch e.cfg.reset {
			case ResetLatest:
				off = b.latest
			case ResetError:
				missing = append(missing, tp)
				continue
			default:
				off = b.start
			}
		}
		out[tp] = off
	}
	if len(missing) > 0 {
		return nil, &NoOffsetError{Group: e.cfg.group, Partitions: missing}
	}
	return out, nil
}
