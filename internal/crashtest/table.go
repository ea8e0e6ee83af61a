package crashtest

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/streamgen/streamgen/internal/crashtest/job/seqjob"
)

// TableTopic is the lookup table's topic in configurations with Table:
// one partition, so the table's states are the prefixes of what the
// writer wrote.
const TableTopic = "tags"

// tableKeys is the table's key space (the job's -table-keys): record seq
// looks up key seq mod tableKeys.
const tableKeys = 8

// tableEvery is the writer's pace: some twenty versions per batch of
// the job (200 ms), so nearly every batch sees a new state.
const tableEvery = 10 * time.Millisecond

// tableWriter keeps updating the table's topic during a run: write n
// (n = 0, 1, ...) sets key n mod tableKeys to version n (a Sequenced of
// Seq n and Payload "v<n>"), one synchronous write at a time, so the
// topic holds them in that order. The table's state is then a number m,
// the writes 0..m-1 it applied, and the version of key k in state m is
// the last write to k below m.
type tableWriter struct {
	mu    sync.Mutex
	sent  []time.Time // by version: when its write began
	acked int
}

// run writes until ctx ends; a write that fails for another cause ends
// it with that error.
func (w *tableWriter) run(ctx context.Context, brokers string) error {
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers), kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.DisableIdempotentWrite(),
		kgo.ProducerLinger(0))
	if err != nil {
		return err
	}
	defer cl.Close()
	t := time.NewTicker(tableEvery)
	defer t.Stop()
	for n := int64(0); ; n++ {
		v := seqjob.Sequenced{Seq: n, Payload: "v" + strconv.FormatInt(n, 10)}
		val, err := v.AppendAvro(nil)
		if err != nil {
			return err
		}
		key := binary.BigEndian.AppendUint64(nil, uint64(n%tableKeys))
		w.mu.Lock()
		w.sent = append(w.sent, time.Now())
		w.mu.Unlock()
		if err := cl.ProduceSync(ctx, &kgo.Record{Topic: TableTopic, Key: key, Value: val}).FirstErr(); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("writing version %d of table key %d: %w", n, n%tableKeys, err)
		}
		w.mu.Lock()
		w.acked++
		w.mu.Unlock()
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// tableCheck is what the check of an enriched run counted.
type tableCheck struct {
	Writes   int // versions the writer wrote (acknowledged)
	Enriched int // output records checked
	Found    int // of them, with a version (the others: key not in the table yet)
	Batches  int // batches they came from
	States   int // distinct table states the batches saw, at least
	// Violations: records whose version the writer had not begun to
	// write when the record was produced, or that is not one of their
	// key's, batches that saw no single state of the table, and batches
	// that saw an older state than an earlier batch of one of their
	// partitions in the same process or in one that had ended before
	// theirs started.
	Violations int
	// Behind are batches that saw an older state than an earlier batch
	// of one of their partitions in another replica running at the same
	// time: allowed, each replica reads the table at its own pace.
	Behind int
}

// life is when a job process ran: from its start to its exit, as the
// driver saw them.
type life struct{ started, ended time.Time }

// enrichedAt is one output record's lookup (its Payload, see the job's
// enrichment).
type enrichedAt struct {
	key, version int64
	batch        string
}

func parseEnriched(payload string) (enrichedAt, error) {
	var e enrichedAt
	f := strings.Fields(payload)
	if len(f) != 4 || f[0] != "t" {
		return e, fmt.Errorf("payload %q is not \"t <key> <version> <batch>\"", payload)
	}
	var err1, err2 error
	e.key, err1 = strconv.ParseInt(f[1], 10, 64)
	e.version, err2 = strconv.ParseInt(f[2], 10, 64)
	e.batch = f[3]
	return e, errors.Join(err1, err2)
}

// checkTable checks the output of an enriched run (every record read
// from the sink's topic) against what the writer wrote (sent: each
// version's start):
//
//   - each record looked up its own key, and carries a version of that
//     key that the writer began to write before the record was produced
//     (so before its batch committed), or -1;
//   - the records of one batch, over all its partitions, saw one state
//     of the table: some m such that each record's version is its key's
//     last write below m (-1: no write to the key below m);
//   - in each input partition's offset order, no batch saw an older
//     state than an earlier batch of the same process, or of a process
//     that had ended before its own started (lives, by process: p003):
//     the states the later one may have seen are not all below those
//     the earlier one must have seen. A process reloads the table up to
//     the topic's end before its first batch, so this holds across kills
//     too; two replicas running at once each read the table at its own
//     pace, and a partition moving to the one behind may go back (Behind).
func checkTable(read []handledAt, sent []time.Time, writes int, lives map[string]life) (tableCheck, error) {
	c := tableCheck{Writes: writes}
	const show = 10
	var errs []error
	violation := func(err error) {
		c.Violations++
		if len(errs) < show {
			errs = append(errs, err)
		}
	}
	// Each batch's states: [lo, hi], the m it may have seen.
	type states struct{ lo, hi int64 }
	batches := make(map[string]*states)
	looked := make([]enrichedAt, len(read))
	for i, h := range read {
		e, err := parseEnriched(h.payload)
		if err != nil {
			return c, fmt.Errorf("topic %s: the output of partition %d offset %d: %w", OutTopic, h.part, h.off, err)
		}
		looked[i] = e
		c.Enriched++
		at := fmt.Sprintf("partition %d offset %d (batch %s)", h.part, h.off, e.batch)
		if e.key != h.seq%tableKeys {
			violation(fmt.Errorf("%s: sequence number %d looked up table key %d, want %d", at, h.seq, e.key, h.seq%tableKeys))
			continue
		}
		lo, hi := int64(0), e.key // no write to key k below m: m <= k
		if e.version >= 0 {
			c.Found++
			switch {
			case e.version%tableKeys != e.key:
				violation(fmt.Errorf("%s: table key %d has version %d, which the writer wrote to key %d", at, e.key, e.version, e.version%tableKeys))
				continue
			case e.version >= int64(len(sent)):
				violation(fmt.Errorf("%s: table key %d has version %d, which the writer never wrote (it wrote %d)", at, e.key, e.version, len(sent)))
				continue
			case h.ts.Before(sent[e.version].Truncate(time.Millisecond)):
				violation(fmt.Errorf("%s: table key %d has version %d, whose write began at %s, after the record was produced (%s)",
					at, e.key, e.version, sent[e.version].Format(time.StampMicro), h.ts.Format(time.StampMicro)))
				continue
			}
			lo, hi = e.version+1, e.version+tableKeys
		}
		b := batches[e.batch]
		if b == nil {
			b = &states{lo, hi}
			batches[e.batch] = b
		}
		b.lo, b.hi = max(b.lo, lo), min(b.hi, hi)
	}
	c.Batches = len(batches)
	var inconsistent []string
	for id, b := range batches {
		if b.lo > b.hi {
			inconsistent = append(inconsistent, id)
		}
	}
	slices.Sort(inconsistent)
	for _, id := range inconsistent {
		violation(fmt.Errorf("batch %s saw no single state of the table: its records' versions need at least %d writes and at most %d", id, batches[id].lo, batches[id].hi))
	}
	// Each input partition in offset order.
	order := make([]int, len(read))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int {
		if d := int(read[a].part) - int(read[b].part); d != 0 {
			return d
		}
		return int(read[a].off - read[b].off)
	})
	// By process, the newest state the partition's batches so far in
	// that process must have seen.
	var seenLo map[string]int64
	var last string
	distinct := make(map[states]bool)
	for i, j := range order {
		h, e := read[j], looked[j]
		if i == 0 || h.part != read[order[i-1]].part {
			seenLo, last = make(map[string]int64), ""
		}
		b := batches[e.batch]
		if b == nil || e.batch == last {
			continue
		}
		last = e.batch
		if b.lo <= b.hi {
			distinct[*b] = true
		}
		proc, _, _ := strings.Cut(e.batch, "-")
		now, ok := lives[proc]
		if !ok {
			violation(fmt.Errorf("partition %d offset %d: batch %s of no process the driver started", h.part, h.off, e.batch))
			continue
		}
		var older, behind []string
		for p, lo := range seenLo {
			if b.hi >= lo {
				continue
			}
			if then := lives[p]; p == proc || (!then.ended.IsZero() && then.ended.Before(now.started)) {
				older = append(older, fmt.Sprintf("%s at least %d", p, lo))
			} else {
				behind = append(behind, p)
			}
		}
		if len(older) > 0 {
			slices.Sort(older)
			violation(fmt.Errorf("partition %d offset %d: batch %s saw at most %d writes of the table, earlier batches of the partition in %s",
				h.part, h.off, e.batch, b.hi, strings.Join(older, ", ")))
		} else if len(behind) > 0 {
			c.Behind++
		}
		seenLo[proc] = max(seenLo[proc], b.lo)
	}
	c.States = len(distinct)
	return c, errors.Join(errs...)
}
