package config

// ExactlyOnceStore is the offsets store that commits in the same atomic
// step as sink, and whether there is one: the rule that exactly-once
// needs the output and the offsets to commit together, for a spec's
// sink.type and offsets.store. The engine states the same rule for the
// stores it is given (a TransactionalStore); the spec's validation and
// the job's configuration call this.
func ExactlyOnceStore(sink SinkType) (OffsetsStore, bool) {
	switch sink {
	case SinkFiles:
		return StoreFiles, true
	case SinkPostgres:
		return StorePostgres, true
	case SinkKafka:
		return StoreKafka, true
	case SinkBlob:
		return StoreBlob, true
	}
	return 0, false
}
