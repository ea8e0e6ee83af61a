// Package crashtest proves the runtime's delivery semantics the way users
// meet failure: by killing a job's processes. It is the driver of a
// harness of three programs:
//
//   - a broker (./broker): a kfake cluster on a fixed loopback port, in a
//     process of its own so it keeps its log and the group's commits
//     while jobs die, with an HTTP endpoint that injects faults through
//     kfake's control hooks (failed fetches, failed OffsetCommits, and
//     the Kafka sink's AddOffsetsToTxn, TxnOffsetCommit and EndTxn), and a
//     data directory (kfake.DataDir) so that the driver can SIGKILL it
//     and start it again on the same port, as a restarted broker;
//   - the job (./job): the generated package ./job/seqjob run through
//     runtime.RunMain, semantics and offset store chosen by its flags;
//     its handler appends every record it handles to one file per
//     process and fsyncs it before returning;
//   - this driver, which produces a known stream (records with unique
//     sequence numbers, round-robin over the partitions), runs one or two
//     replicas of the job, SIGKILLs (or, in graceful configurations,
//     SIGTERMs) one at random moments and restarts it, sometimes after
//     the group's session timeout so that the kills also fall into
//     rebalances, in some configurations fails a share of the broker's
//     fetches and commits for a few seconds or kills and restarts the
//     broker itself, or freezes a replica (SIGSTOP) until the group
//     gave its partitions to the other and resumes it as a zombie
//     (SIGCONT), restarts a job that fails by itself, and finally
//     counts every (topic, partition, offset) in the handlers' files
//     (or the sink's output) against what it produced.
//
// Broker faults must not end a job (it rides them out up to
// kafka.outageLimit, minutes): in a configuration with Faults or
// BrokerKills, a job process that exits by itself fails the run.
//
// What must hold depends on the configuration's Guarantee: at-least-once
// loses nothing (and duplicates nothing when every stop is graceful);
// at-most-once duplicates nothing and loses only batches that were in
// flight in a killed process, and their count is reported.
//
// # Adding a configuration
//
// A configuration is a row of Configurations plus, when it needs a new
// engine option, a flag value of the job program (its -semantics or
// -store switch, or a new flag). Exactly-once configurations (files
// sink, PostgreSQL sink, Kafka sink, blob sink) add a Guarantee whose
// check counts offsets in the sink's output (published files, rows,
// committed records, published objects) rather than in the handler's
// files: a case in Result.check, and a field of Configuration naming
// where the sink writes, which Run passes to the job as a flag the way it
// passes a PostgreSQL DSN and table today. The blob rows write to a
// file:// directory of the run's; a row on another store is the same row
// with BlobURL set (s3://BUCKET?region=R&endpoint=URL&use_path_style=true
// for an S3-compatible server, its credentials in the environment).
//
// # Short and long runs
//
// TestCrashRestart runs every configuration briefly in `make test`;
// `make soak` runs it with -soak: more records, more kills, a figure
// table at the end (kills survived, records checked, lost, duplicated).
package crashtest

import (
	"fmt"
	"time"
)

// Guarantee is what a configuration's semantics promise, and so what
// the harness checks after a run.
type Guarantee int

const (
	// AtLeastOnce: every produced offset handled at least once; with
	// graceful stops only, or no job kills at all, exactly once.
	AtLeastOnce Guarantee = iota
	// AtMostOnce: no offset handled twice; an offset never handled
	// belongs to a batch in flight in a process that was killed, so
	// with graceful stops only, none is lost.
	AtMostOnce
	// ExactlyOnce: every produced offset in the sink's output exactly
	// once, whatever was killed when (counted in the output, not in
	// the handlers' files).
	ExactlyOnce
)

func (g Guarantee) String() string {
	switch g {
	case AtLeastOnce:
		return "at-least-once"
	case AtMostOnce:
		return "at-most-once"
	case ExactlyOnce:
		return "exactly-once"
	}
	return fmt.Sprintf("Guarantee(%d)", int(g))
}

// Configuration is one row of the harness: how the job runs and what
// must hold.
type Configuration struct {
	Name     string
	Must     Guarantee
	JobFlags []string // the job program's flags: -semantics, -store
	// Postgres: the job keeps offsets in PostgreSQL; Run adds -dsn and a
	// table of its own to JobFlags.
	Postgres bool
	// Sink is the job's sink, "postgres", "files" or "blob"
	// (exactly-once), or "kafka" (with JobFlags' -semantics); Run passes
	// its place (a table in the DSN's database, a directory, a bucket
	// URL, OutTopic) and counts the offsets in it (the Kafka sink's
	// output records name their input offset in headers, and are read
	// read_committed; the blob sink's published objects are read back
	// whole, each record's offset found by its sequence number).
	Sink string
	// BlobURL is the blob sink's bucket (Sink "blob"): empty for a
	// file:// directory of the run's own; any other URL the job and the
	// driver open with gocloud.dev/blob (s3://BUCKET?region=R&endpoint=..,
	// credentials from the environment) gets a prefix of its own per run.
	BlobURL string
	// S3: the blob sink's bucket is on a real S3 server, a versitygw
	// the test starts (internal/s3test), which sets BlobURL and the
	// credentials' environment the job processes inherit.
	S3 bool
	// Azure: the same on Azurite, the Azure Blob Storage emulator
	// (internal/azuritetest), its account key in the environment.
	Azure bool
	// BlobFormat is the blob sink's format, "parquet" (empty) or "avro".
	// Its objects are Hive-partitioned by the hour of the records' ts.
	BlobFormat string
	// Graceful stops the job with SIGTERM instead of SIGKILL.
	Graceful bool
	// Faults are injected into the broker during the run, at random
	// moments, each for a short while.
	Faults []Fault
	// BrokerKills is how often the broker program is SIGKILLed during
	// the run, at random moments, and started again BrokerDown later
	// with its data directory, on the same port.
	BrokerKills int
	BrokerDown  time.Duration
	// SoakOnly configurations run only in the long run (-soak), which
	// keeps the short one's time down.
	SoakOnly bool
	// Replicas, when set, replaces Options.Replicas.
	Replicas int
	// EndTxnKills is how often the Kafka sink's job is SIGKILLed exactly
	// between TxnOffsetCommit and EndTxn: the broker holds its committing
	// EndTxn, the driver kills the job, then the broker commits the held
	// request or drops it, in turn.
	EndTxnKills int
	// NoJobKills: the job is never killed, only the broker (BrokerKills):
	// then at-least-once must duplicate nothing either, as a replica
	// that rides out a broker restart keeps its partitions and what it
	// handled.
	NoJobKills bool
	// Table: the job (Sink "kafka") enriches every record from a lookup
	// table (side.Table) of TableTopic, which a writer in the driver
	// keeps updating during the run; each output record carries the
	// version it looked up and its batch, and the run checks them (see
	// checkTable).
	Table bool
	// Freezes is how often a replica (of two) is frozen and resumed as a
	// zombie: stopped (SIGSTOP) until the group has expired it and the
	// other replica publishes on every partition, then continued
	// (SIGCONT). Every other freeze the job makes itself, on the driver's
	// SIGUSR1, with a batch written and not yet committed, so the zombie
	// resumes straight into a commit of partitions it lost: its sink must
	// fence it (its log then says "fenced", which the run checks). The
	// others the driver makes at a random moment. The job's -sink must
	// freeze on SIGUSR1 (blob does).
	Freezes int
	// Interval, when set, replaces the job's batch interval (200 ms, its
	// --interval): shorter, more batches for a check per batch.
	Interval time.Duration
}

// Fault is a kind of request the broker fails for a while, and what
// share of them.
type Fault struct {
	Request string // fetch or offsetcommit (see the broker program)
	Percent int
	For     time.Duration
}

// Configurations are the configurations the runtime supports today.
func Configurations() []Configuration {
	alo := []string{"-semantics", "at-least-once"}
	amo := []string{"-semantics", "at-most-once"}
	kafka := []string{"-store", "kafka"}
	rolling := []string{"-sink-roll-max-records", "150", "-sink-roll-max-open", "1s", "-sink-roll-lateness", "4h"}
	pg := []string{"-store", "postgres"}
	brokerFaults := []Fault{
		{Request: "fetch", Percent: 30, For: 3 * time.Second},
		{Request: "offsetcommit", Percent: 20, For: 3 * time.Second},
	}
	// An exactly-once job commits no offsets to Kafka: its sink holds them.
	fetchFaults := brokerFaults[:1]
	// The Kafka sink's transaction requests, each failed now and then.
	txnFaults := []Fault{
		{Request: "addoffsetstotxn", Percent: 30, For: 2 * time.Second},
		{Request: "txnoffsetcommit", Percent: 30, For: 2 * time.Second},
		{Request: "endtxn", Percent: 30, For: 2 * time.Second},
		{Request: "fetch", Percent: 30, For: 2 * time.Second},
	}
	return []Configuration{
		{Name: "at-least-once/kafka/sigkill", Must: AtLeastOnce, JobFlags: join(alo, kafka)},
		{Name: "at-least-once/kafka/sigterm", Must: AtLeastOnce, JobFlags: join(alo, kafka), Graceful: true},
		{Name: "at-least-once/kafka/sigkill+faults", Must: AtLeastOnce, JobFlags: join(alo, kafka), Faults: brokerFaults},
		{Name: "at-least-once/postgres/sigkill", Must: AtLeastOnce, JobFlags: join(alo, pg), Postgres: true},
		{Name: "at-least-once/postgres/sigterm", Must: AtLeastOnce, JobFlags: join(alo, pg), Postgres: true, Graceful: true},
		{Name: "at-most-once/kafka/sigkill", Must: AtMostOnce, JobFlags: join(amo, kafka)},
		{Name: "at-most-once/kafka/sigterm", Must: AtMostOnce, JobFlags: join(amo, kafka), Graceful: true},
		{Name: "at-most-once/kafka/sigkill+faults", Must: AtMostOnce, JobFlags: join(amo, kafka), Faults: brokerFaults},
		{Name: "exactly-once/postgres-sink/sigkill", Must: ExactlyOnce, Sink: "postgres", Postgres: true},
		{Name: "exactly-once/postgres-sink/sigkill+faults", Must: ExactlyOnce, Sink: "postgres", Postgres: true, Faults: fetchFaults},
		{Name: "exactly-once/files-sink/sigkill", Must: ExactlyOnce, Sink: "files"},
		{Name: "exactly-once/files-sink/sigkill+faults", Must: ExactlyOnce, Sink: "files", Faults: fetchFaults},
		{Name: "at-least-once/kafka/broker-kills", Must: AtLeastOnce, JobFlags: join(alo, kafka), BrokerKills: 3, BrokerDown: 2 * time.Second, Replicas: 1},
		{Name: "at-least-once/kafka/broker-kills-only", Must: AtLeastOnce, JobFlags: join(alo, kafka), BrokerKills: 3, BrokerDown: 2 * time.Second, Replicas: 1, NoJobKills: true},
		{Name: "exactly-once/files-sink/broker-kills", Must: ExactlyOnce, Sink: "files", BrokerKills: 3, BrokerDown: 2 * time.Second, Replicas: 1},
		{Name: "at-most-once/kafka/broker-kills", Must: AtMostOnce, JobFlags: join(amo, kafka), BrokerKills: 3, BrokerDown: 2 * time.Second, Replicas: 1, SoakOnly: true},
		{Name: "exactly-once/postgres-sink/broker-kills", Must: ExactlyOnce, Sink: "postgres", Postgres: true, BrokerKills: 3, BrokerDown: 2 * time.Second, Replicas: 1, SoakOnly: true},
		// The blob sink on a file:// bucket: Parquet, by the hour of ts.
		// One replica, whose every restart resumes the chains it left;
		// two, which hand partitions back and forth as restarts come
		// before or after the session timeout.
		{Name: "exactly-once/blob-parquet/sigkill", Must: ExactlyOnce, Sink: "blob", Replicas: 1},
		{Name: "exactly-once/blob-parquet/sigkill+2-replicas", Must: ExactlyOnce, Sink: "blob", Replicas: 2},
		// Freezes only: a kill of the other replica would hold the
		// frozen one's partitions up until its restart.
		{Name: "exactly-once/blob-parquet/zombie", Must: ExactlyOnce, Sink: "blob", Replicas: 2, Freezes: 2, NoJobKills: true},
		// Rolling: files stay open across batches and publish at 150
		// records or 1 s open (no hour's file closes by time: the
		// records' ts cycles through four hours), so kills fall with
		// files open in every hour, restarts re-read from the oldest
		// open file and drop what published files hold, and SIGTERMs
		// publish the open files (Drain).
		{Name: "exactly-once/blob-parquet-rolling/sigkill", Must: ExactlyOnce, Sink: "blob", Replicas: 1, JobFlags: rolling},
		{Name: "exactly-once/blob-parquet-rolling/sigkill+2-replicas", Must: ExactlyOnce, Sink: "blob", Replicas: 2, JobFlags: rolling},
		{Name: "exactly-once/blob-parquet-rolling/sigterm+2-replicas", Must: ExactlyOnce, Sink: "blob", Replicas: 2, JobFlags: rolling, Graceful: true},
		{Name: "exactly-once/blob-parquet-rolling/zombie", Must: ExactlyOnce, Sink: "blob", Replicas: 2, Freezes: 2, NoJobKills: true, JobFlags: rolling},
		// The same on a real S3 server: conditional creates and
		// multipart uploads as S3 does them, a zombie fenced by them.
		{Name: "exactly-once/blob-parquet-rolling-s3/sigkill+2-replicas", Must: ExactlyOnce, Sink: "blob", S3: true, Replicas: 2, JobFlags: rolling},
		{Name: "exactly-once/blob-parquet-rolling-s3/zombie", Must: ExactlyOnce, Sink: "blob", S3: true, Replicas: 2, Freezes: 2, NoJobKills: true, JobFlags: rolling},
		// And on Azure's (Azurite): If-None-Match: * creates, copies
		// that complete asynchronously.
		{Name: "exactly-once/blob-parquet-rolling-azure/sigkill+2-replicas", Must: ExactlyOnce, Sink: "blob", Azure: true, Replicas: 2, JobFlags: rolling},
		{Name: "exactly-once/blob-parquet-rolling-azure/zombie", Must: ExactlyOnce, Sink: "blob", Azure: true, Replicas: 2, Freezes: 2, NoJobKills: true, JobFlags: rolling, SoakOnly: true},
		{Name: "exactly-once/kafka-sink/sigkill", Must: ExactlyOnce, Sink: "kafka", JobFlags: []string{"-semantics", "exactly-once"}},
		{Name: "exactly-once/kafka-sink/sigkill+txn-faults", Must: ExactlyOnce, Sink: "kafka", JobFlags: []string{"-semantics", "exactly-once"}, Faults: txnFaults},
		{Name: "exactly-once/kafka-sink/endtxn-kills", Must: ExactlyOnce, Sink: "kafka", JobFlags: []string{"-semantics", "exactly-once"}, EndTxnKills: 3, NoJobKills: true, Replicas: 1},
		{Name: "at-least-once/kafka-sink/sigkill", Must: AtLeastOnce, Sink: "kafka", JobFlags: alo},
		// One replica, so every restart's table must reach what the killed
		// process saw; two each read the table at its own pace, and a
		// partition moving to the one behind may go back (counted, allowed).
		{Name: "exactly-once/kafka-sink+table/sigkill", Must: ExactlyOnce, Sink: "kafka", JobFlags: []string{"-semantics", "exactly-once"}, Table: true, Replicas: 1, Interval: 50 * time.Millisecond},
		{Name: "exactly-once/kafka-sink+table/sigkill+txn-faults", Must: ExactlyOnce, Sink: "kafka", JobFlags: []string{"-semantics", "exactly-once"}, Table: true, Replicas: 1, Interval: 50 * time.Millisecond, Faults: txnFaults},
		{Name: "exactly-once/kafka-sink+table/sigkill+2-replicas", Must: ExactlyOnce, Sink: "kafka", JobFlags: []string{"-semantics", "exactly-once"}, Table: true, Replicas: 2, Interval: 50 * time.Millisecond},
	}
}

func join(parts ...[]string) []string {
	var out []string
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

// Options size a run.
type Options struct {
	Records    int           // produced, round-robin over Partitions
	Partitions int           // of the topic
	Kills      int           // SIGKILLs (or SIGTERMs) of a job process
	Replicas   int           // job processes at once, 1 or 2
	KillEvery  time.Duration // mean time between kills
	// Session is the group session timeout; a killed replica is
	// restarted after up to 1.5 × Session, so some restarts come after
	// the group has expired it and rebalanced.
	Session time.Duration
	// Hold is the job's pause in each batch before and after handling it
	// (its -hold flag), which makes kills fall between storing offsets
	// and handling more often than a job as fast as this one allows.
	Hold time.Duration
	// Drain bounds the wait, after the last kill, for the job to handle
	// everything produced.
	Drain time.Duration
	// BrokerKills, when set, replaces the BrokerKills of configurations
	// that kill the broker (the soak kills it more often).
	BrokerKills int
	// Freezes, when set, replaces the Freezes of configurations that
	// freeze replicas.
	Freezes int
}

// Result is what a run counted.
type Result struct {
	Config   Configuration
	Kills    int // job processes killed (or stopped) by the driver and restarted
	Failures int // job processes that exited on their own, restarted
	// LateRestarts came after the session timeout: the group expired
	// the killed replica and gave its partitions to the other, and
	// rebalanced again at the restart.
	LateRestarts int
	// HungStops are graceful stops (SIGTERM) that had not ended after
	// 30s, although the job bounds its stop at 2s; the driver then ended
	// the process with SIGQUIT, which leaves its goroutines in its log.
	HungStops  int
	Records    int   // produced records, each checked
	Handled    int64 // records handled, duplicates included
	Lost       int   // produced offsets never handled
	Duplicated int   // handlings beyond the first
	// StoredDuplicated are the duplicates whose first handling was in a
	// batch that completed with its offsets stored (at-least-once; the
	// job's C lines): never allowed, unlike those of batches in flight
	// in a killed process.
	StoredDuplicated int
	// DeclaredDuplicated are the duplicates whose first handling was in
	// a batch left unstored by a graceful stop that failed (the job
	// exited with an error saying so, typically its shutdown timeout
	// running out while the group rebalanced): allowed at-least-once,
	// since the job did not claim to have stored them.
	DeclaredDuplicated int
	// LostBatches are the in-flight batches of killed processes that
	// lost records (at-most-once).
	LostBatches int
	Faults      string     // what the broker failed, as it reports it
	FaultsHit   int        // requests the broker failed
	BrokerKills int        // times the broker was SIGKILLed and restarted
	EndTxnKills int        // kills between TxnOffsetCommit and EndTxn
	Table       tableCheck // configurations with Table
	Elapsed     time.Duration
	// Freezes are the replicas frozen and resumed as zombies; InBatch of
	// them froze with a batch in flight, and Fenced is how many zombies'
	// logs say their sink fenced them.
	Freezes, InBatch, Fenced int
}

func (r Result) String() string {
	s := fmt.Sprintf("%-36s kills %3d (%2d late restarts)  failures %3d  records %7d  handled %7d  lost %5d (in %d batches)  duplicated %5d (%d of stored batches, %d of failed stops)  %s",
		r.Config.Name, r.Kills, r.LateRestarts, r.Failures, r.Records, r.Handled, r.Lost, r.LostBatches, r.Duplicated, r.StoredDuplicated, r.DeclaredDuplicated, r.Elapsed.Round(time.Second))
	if r.HungStops > 0 {
		s += fmt.Sprintf("  hung stops %d", r.HungStops)
	}
	if r.Faults != "" {
		s += "  broker failed: " + r.Faults
	}
	if r.BrokerKills > 0 {
		s += fmt.Sprintf("  broker killed %d times", r.BrokerKills)
	}
	if r.EndTxnKills > 0 {
		s += fmt.Sprintf("  killed in EndTxn %d times", r.EndTxnKills)
	}
	if r.Config.Freezes > 0 {
		s += fmt.Sprintf("  frozen %d times (%d in a batch), %d zombies fenced", r.Freezes, r.InBatch, r.Fenced)
	}
	if r.Config.Table {
		t := r.Table
		s += fmt.Sprintf("  table: %d writes, %d records enriched (%d found) in %d batches seeing %d state ranges, %d violations, %d batches behind another replica's",
			t.Writes, t.Enriched, t.Found, t.Batches, t.States, t.Violations, t.Behind)
	}
	return s
}
