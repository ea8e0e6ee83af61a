package runtime

import (
	"crypto/tls"
	"log/slog"
	"net/http"
	"runtime"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl"

	"github.com/streamgen/streamgen/runtime/config"
)

// This file owns the engine's options and their defaults.

type engineCfg struct {
	brokers         []string
	interval        time.Duration
	workers         int
	maxRate         int64
	minRate         int64
	backpressure    bool
	initialRate     int64
	pid             [3]float64
	pidMinRate      float64
	maxTaskFailures int
	taskBackoff     time.Duration
	shutdownTimeout time.Duration
	retained        int
	listeners       []BatchListener
	sides           []SideInput
	instanceID      string
	sessionTimeout  time.Duration // 0: kgo's
	outageLimit     time.Duration // 0: none
	readCommitted   bool
	metadataMaxAge  time.Duration
	tls             *tls.Config
	sasl            []sasl.Mechanism
	kgoOpts         []kgo.Opt
	logger          *slog.Logger

	// Job-level: one group, one start policy and one semantics for every
	// stream, because one batch (and one transaction) spans them all.
	job          string
	group        string
	start        StartPosition
	reset        ResetPolicy
	semantics    Semantics
	manualCommit bool
	store        OffsetStore // nil: the group's offsets in Kafka

	// onNew are called with the engine New built (OnEngine).
	onNew []func(*Engine)
	// Plug-ins (metrics): endpoints for the status server and hooks for
	// the schema registry client.
	statusHandlers map[string]http.Handler
	registryHooks  []RegistryHook
}

// defaultEngineCfg takes the engine's defaults from config.Default, the
// one place the job's defaults are written, so an engine built with no
// options behaves as a spec that sets nothing.
func defaultEngineCfg() engineCfg {
	d := config.Default()
	return engineCfg{
		interval:        d.BatchInterval,
		workers:         runtime.GOMAXPROCS(0),
		maxRate:         d.MaxRatePerPartition,
		minRate:         d.MinRatePerPartition,
		pid:             [3]float64{d.BackpressureProportional, d.BackpressureIntegral, d.BackpressureDerived},
		pidMinRate:      float64(d.BackpressureMinRate),
		maxTaskFailures: d.MaxFailures,
		taskBackoff:     d.RetryBackoff,
		shutdownTimeout: d.ShutdownTimeout,
		outageLimit:     d.OutageLimit,
		sessionTimeout:  d.SessionTimeout,
		retained:        1000,
		readCommitted:   d.Isolation == config.ReadCommitted,
		metadataMaxAge:  5 * time.Second,
		start:           d.StartFrom,
		reset:           d.ResetTo,
		semantics:       d.Semantics,
	}
}

// Opt configures an Engine.
type Opt interface{ apply(*engineCfg) }

type optFunc func(*engineCfg)

func (f optFunc) apply(c *engineCfg) { f(c) }

// Brokers sets the bootstrap brokers, host:port. Required.
func Brokers(addrs ...string) Opt {
	return optFunc(func(c *engineCfg) { c.brokers = append([]string(nil), addrs...) })
}

// BatchInterval sets how often a batch is cut (Spark's batch duration).
// Default 5s (config.Default). Memory held per partition grows with it (see
// MaxRatePerPartition), and so does the latency of every record.
func BatchInterval(d time.Duration) Opt {
	return optFunc(func(c *engineCfg) {
		if d > 0 {
			c.interval = d
		}
	})
}

// Workers sets the size of the worker pool that runs ForeachPartition
// tasks, and the number of goroutines that decode records (as many
// again). Default GOMAXPROCS. More workers than cores only helps when
// tasks block on I/O.
func Workers(n int) Opt {
	return optFunc(func(c *engineCfg) {
		if n > 0 {
			c.workers = n
		}
	})
}

// MaxRatePerPartition caps each partition at n records per second of batch
// interval (spark.streaming.kafka.maxRatePerPartition). Default 0: no cap,
// so the first batch after a long pause takes the whole backlog and
// buffered memory is unbounded (unless Backpressure bounds it). With a cap,
// fetching of a partition pauses once it buffers two batches' worth, which
// bounds memory at about 3 × n × interval records per partition (two
// buffered, one in the batch being handled) plus two fetch responses
// (kgo.FetchMaxPartitionBytes); the Engine documentation has the bound in
// bytes.
func MaxRatePerPartition(n int64) Opt {
	return optFunc(func(c *engineCfg) { c.maxRate = max(n, 0) })
}

// MinRatePerPartition is the floor of every partition's limit, in records
// per second of interval (spark.streaming.kafka.minRatePerPartition).
// Default 1: without a floor backpressure could starve partitions with
// little lag forever.
func MinRatePerPartition(n int64) Opt {
	return optFunc(func(c *engineCfg) { c.minRate = max(n, 0) })
}

// Backpressure enables the PID rate estimator
// (spark.streaming.backpressure.enabled), which sizes batches so they are
// processed within one interval. initialRate (records/s across all
// partitions, 0 for none) limits batches until the first estimate
// (spark.streaming.backpressure.initialRate). Default off. Once a rate is
// known, it also bounds buffered records as MaxRatePerPartition does
// (fetching pauses at two batches' worth at that rate).
func Backpressure(initialRate int64) Opt {
	return optFunc(func(c *engineCfg) { c.backpressure = true; c.initialRate = max(initialRate, 0) })
}

// PIDParams overrides the backpressure estimator's gains and floor. Spark's
// defaults are proportional 1.0, integral 0.2, derivative 0.0, minRate 100.
func PIDParams(proportional, integral, derivative, minRate float64) Opt {
	return optFunc(func(c *engineCfg) {
		c.pid = [3]float64{proportional, integral, derivative}
		c.pidMinRate = minRate
	})
}

// MaxTaskFailures is how many times a ForeachPartition task may fail before
// its batch fails (spark.task.maxFailures). Default 4 (one try and three
// retries). At-most-once and exactly-once jobs try each task once: a retry
// would handle records twice, or write a failed attempt's output twice.
func MaxTaskFailures(n int) Opt {
	return optFunc(func(c *engineCfg) {
		if n > 0 {
			c.maxTaskFailures = n
		}
	})
}

// TaskRetryBackoff is the wait before the first retry of a failed task; it
// doubles on each further retry, up to 10s. Default 1s (config.Default).
func TaskRetryBackoff(d time.Duration) Opt {
	return optFunc(func(c *engineCfg) { c.taskBackoff = max(d, 0) })
}

// ShutdownTimeout bounds a graceful stop: finishing the in-flight batch,
// committing and leaving the group. Default 10 × BatchInterval. When it
// expires the handler's context is cancelled and Run returns an error.
func ShutdownTimeout(d time.Duration) Opt {
	return optFunc(func(c *engineCfg) { c.shutdownTimeout = d })
}

// RetainedBatches is how many completed BatchInfos the engine keeps for
// History (spark.streaming.ui.retainedBatches). Default 1000.
func RetainedBatches(n int) Opt {
	return optFunc(func(c *engineCfg) { c.retained = max(n, 0) })
}

// Listener adds a BatchListener. May be given more than once.
func Listener(l BatchListener) Opt {
	return optFunc(func(c *engineCfg) { c.listeners = append(c.listeners, l) })
}

// InstanceID makes this engine a static group member (KIP-345) with the
// given id, so a restart within the session timeout keeps its partitions
// without a rebalance. Default none (dynamic membership).
func InstanceID(id string) Opt {
	return optFunc(func(c *engineCfg) { c.instanceID = id })
}

// SessionTimeout is the group session timeout: how long the group's
// coordinator waits for a member's heartbeat before it expires the member
// and gives its partitions to the others. With InstanceID, a replica
// restarted within it gets its partitions back without a rebalance.
// Default 45s (config.Default, franz-go's and Kafka's); heartbeats go
// every SessionTimeout/10, at most every 3s. The broker bounds it
// (group.min.session.timeout.ms, 6s by default).
func SessionTimeout(d time.Duration) Opt {
	return optFunc(func(c *engineCfg) { c.sessionTimeout = max(d, 0) })
}

// OutageLimit is how long requests to the brokers may keep failing (a
// broker restarting, a network partition) before Run gives up with an
// *OutageError naming the group and partitions. Until then the job rides
// the outage out: franz-go and the engine retry, batches stay empty, the
// in-flight batch's offset commit is retried, and Snapshot's KafkaHealth
// says since when requests fail. Default 5m (config.Default); 0 waits
// for ever.
func OutageLimit(d time.Duration) Opt {
	return optFunc(func(c *engineCfg) { c.outageLimit = max(d, 0) })
}

// ReadCommitted reads only committed transactional records; batches then
// end at the last stable offset instead of the high watermark. It is the
// default (config.Default: a job that reads an exactly-once job's output
// must not see aborted records), unlike Kafka's own clients.
func ReadCommitted() Opt {
	return optFunc(func(c *engineCfg) { c.readCommitted = true })
}

// ReadUncommitted reads every record up to the high watermark, aborted
// transactions included (Kafka clients' default, isolation
// read_uncommitted).
func ReadUncommitted() Opt {
	return optFunc(func(c *engineCfg) { c.readCommitted = false })
}

// MetadataMaxAge bounds how long SubscribePattern takes to see a new topic
// or partition. Default 5s; lower values cost a metadata request each.
func MetadataMaxAge(d time.Duration) Opt {
	return optFunc(func(c *engineCfg) {
		if d > 0 {
			c.metadataMaxAge = d
		}
	})
}

// TLS dials brokers with the given TLS configuration (CA pool, client
// certificate). Default plaintext.
func TLS(cfg *tls.Config) Opt {
	return optFunc(func(c *engineCfg) { c.tls = cfg })
}

// SASL authenticates with the given mechanisms (franz-go's pkg/sasl/plain,
// pkg/sasl/scram). Default none. Credentials stay inside the mechanism and
// are never logged by the engine.
func SASL(mechs ...sasl.Mechanism) Opt {
	return optFunc(func(c *engineCfg) { c.sasl = append(c.sasl, mechs...) })
}

// KgoOpts passes extra options to every franz-go client the engine creates,
// after the engine's own. Options that change consuming (ConsumeTopics,
// DisableAutoCommit, BlockRebalanceOnPoll, callbacks) break the engine's
// guarantees; use this for logging, hooks, timeouts and fetch sizes (the
// engine sets kgo.FetchMaxPartitionBytes to 256 KiB; see Engine on
// memory).
func KgoOpts(opts ...kgo.Opt) Opt {
	return optFunc(func(c *engineCfg) { c.kgoOpts = append(c.kgoOpts, opts...) })
}

// JobName names the job in logs and in its group's member metadata, so a
// group shared by two different jobs is detected (GroupConflictError).
// Default none: the streams' names and topics identify the job instead.
func JobName(name string) Opt { return optFunc(func(c *engineCfg) { c.job = name }) }

// Group sets the job's consumer group: one group for all its streams, as
// Kafka Streams has one per application, so adding or removing a stream
// never moves another stream's committed offsets, and one transaction can
// commit a whole batch. Required for Subscribe and SubscribePattern
// streams, and for storing the offsets of Assign streams in Kafka.
func Group(id string) Opt { return optFunc(func(c *engineCfg) { c.group = id }) }

// StartFrom sets where the job's streams start. Default StartCommitted.
func StartFrom(p StartPosition) Opt { return optFunc(func(c *engineCfg) { c.start = p }) }

// ResetTo sets what happens where the offset store has no offset for a
// partition, or one outside the partition's log (deleted by retention, or
// past its end), as Kafka's auto.offset.reset does. Default ResetEarliest.
func ResetTo(p ResetPolicy) Opt { return optFunc(func(c *engineCfg) { c.reset = p }) }

// WithSemantics sets the job's delivery semantics, which decide the order
// of handler, dead letters and offset store in every batch (see Engine).
// Default AtLeastOnce. ExactlyOnce needs a TransactionalStore.
func WithSemantics(s Semantics) Opt { return optFunc(func(c *engineCfg) { c.semantics = s }) }

// ManualCommit keeps the engine from storing batch offsets: the handler
// stores them itself, with Stream.CommitAsync (Spark's
// enable.auto.commit=false and commitAsync) or in its own system. Starting
// offsets still come from the offset store. Default off.
func ManualCommit() Opt { return optFunc(func(c *engineCfg) { c.manualCommit = true }) }

// WithOffsetStore keeps the job's offsets in s instead of the group's
// commits in Kafka. The engine loads each partition's start from s when it
// gains the partition and stores each finished batch's ranges in s.
func WithOffsetStore(s OffsetStore) Opt { return optFunc(func(c *engineCfg) { c.store = s }) }

type streamCfg struct {
	location LocationStrategy
	// onBad and deadLetterTopic: see OnDecodeError.
	onBad           DecodePolicy
	deadLetterTopic string
}

// StreamOpt configures one stream.
type StreamOpt interface{ applyStream(*streamCfg) }

type streamOptFunc func(*streamCfg)

func (f streamOptFunc) applyStream(c *streamCfg) { f(c) }

// Location sets the location strategy. Default PreferConsistent.
func Location(l LocationStrategy) StreamOpt {
	return streamOptFunc(func(c *streamCfg) { c.location = l })
}

// OnEngine calls f with the engine New builds, before New returns: how a
// plug-in that reads Engine.Snapshot (the status server, metrics) finds
// its engine. May be given more than once.
func OnEngine(f func(*Engine)) Opt {
	return optFunc(func(c *engineCfg) { c.onNew = append(c.onNew, f) })
}

// StatusHandler adds an endpoint to the status server (Status) of the
// engine it is given to, at path (exact match, such as "/metrics"): how a
// plug-in serves HTTP next to the status page without the runtime
// depending on it. The status server's own paths cannot be replaced.
func StatusHandler(path string, h http.Handler) Opt {
	return optFunc(func(c *engineCfg) {
		if c.statusHandlers == nil {
			c.statusHandlers = map[string]http.Handler{}
		}
		c.statusHandlers[path] = h
	})
}

// RegistryHooks adds hooks told of every schema registry request the
// job's SchemaRegistry makes (Engine.RegistryHook; generated code wires
// it). May be given more than once.
func RegistryHooks(h RegistryHook) Opt {
	return optFunc(func(c *engineCfg) { c.registryHooks = append(c.registryHooks, h) })
}
