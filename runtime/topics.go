package runtime

import (
	"context"
	"time"
)

// This file owns the watch on subscribed topics that do not exist yet.

// missingTopicLogEvery is how often a subscribed topic that still does not
// exist is warned about again.
const missingTopicLogEvery = time.Minute

// watchTopics warns while a topic a stream subscribes to does not exist:
// Kafka gives a member nothing for it, which would otherwise look like a
// quiet topic. It warns once, then every missingTopicLogEvery, and notes
// when the topic appears. Patterns match what exists, so only Subscribe
// topics are watched.
func (e *Engine) watchTopics(ctx context.Context) {
	stream := make(map[string]string)
	var topics []string
	for _, s := range e.sources() {
		if s.cs.kind == kindSubscribe {
			for _, t := range s.cs.topics {
				stream[t] = s.name
				topics = append(topics, t)
			}
		}
	}
	if len(topics) == 0 {
		return
	}
	warned := make(map[string]time.Time)
	tick := time.NewTicker(e.cfg.metadataMaxAge)
	defer tick.Stop()
	for {
		if details, err := e.adm.ListTopics(ctx, topics...); err == nil {
			now := time.Now()
			for _, t := range topics {
				d, ok := details[t]
				exists := ok && d.Err == nil
				last, was := warned[t]
				switch {
				case !exists && (!was || now.Sub(last) >= missingTopicLogEvery):
					e.Logger().Warn("subscribed topic does not exist; its stream gets no records until it is created",
						"topic", t, "stream", stream[t])
					warned[t] = now
				case exists && was:
					e.Logger().Info("subscribed topic exists now", "topic", t, "stream", stream[t])
					delete(warned, t)
				}
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}
