package runtime

import (
	"context"
	"fmt"
)

// This file owns the location strategies' placement of partitions on
// workers.

// place returns the worker slot for a partition's tasks. A key keeps the
// slot it was first given, and new keys go to the least loaded slot, so
// placement is both sticky across batches and even.
func (e *Engine) place(s *source, leaders map[TopicPartition]int32, tp TopicPartition) int {
	key := "tp:" + tp.String()
	switch s.cfg.location.kind {
	case locBrokers:
		if leader, ok := leaders[tp]; ok && leader >= 0 {
			key = fmt.Sprintf("broker:%d", leader)
		}
	case locFixed:
		if host, ok := s.cfg.location.fixed[tp]; ok {
			key = "host:" + host
		}
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if slot, ok := e.slots[key]; ok {
		e.load[slot]++ // load counts partitions, so a shared key weighs more
		return slot
	}
	best := 0
	for i, l := range e.load {
		if l < e.load[best] {
			best = i
		}
	}
	e.load[best]++
	e.slots[key] = best
	return best
}

// leaders maps partitions to their leader broker for PreferBrokers; without
// a stream placed by brokers there is no metadata request. A failed lookup
// leaves partitions placed consistently rather than failing the stream.
func (e *Engine) leaders(ctx context.Context, tps []TopicPartition) map[TopicPartition]int32 {
	if len(tps) == 0 || !e.anyStream(func(s *source) bool { return s.cfg.location.kind == locBrokers }) {
		return nil
	}
	md, err := e.adm.Metadata(ctx, topicsOf(tps)...)
	if err != nil {
		return nil
	}
	out := make(map[TopicPartition]int32)
	for _, t := range md.Topics {
		for _, p := range t.Partitions {
			out[TopicPartition{t.Topic, p.Partition}] = p.Leader
		}
	}
	return out
}

func (e *Engine) anyStream(f func(*source) bool) bool {
	for _, b := range e.streams {
		if f(b.source()) {
			return true
		}
	}
	return false
}
