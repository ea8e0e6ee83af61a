package runtime

import (
	"context"
	"sync/atomic"

	"github.com/twmb/franz-go/pkg/kgo"
)

// This file owns binding a KafkaBound store (the Kafka sink) to the
// engine's clients and group member.

// bindKafka binds a KafkaBound store before the consumers open; member is
// filled in once the group member's client exists.
func (e *Engine) bindKafka(ctx context.Context, kb KafkaBound, ks *kafkaStore, member *atomic.Pointer[kgo.Client]) error {
	return kb.BindKafka(ctx, KafkaBinding{
		ClientOpts: append(e.kgoBase(), e.cfg.kgoOpts...),
		Group:      e.cfg.group,
		InstanceID: e.cfg.instanceID,
		Member: func() (string, int32) {
			cl := member.Load()
			if cl == nil {
				return "", -1
			}
			return cl.GroupMetadata()
		},
		GroupOffsets: ks,
	})
}
