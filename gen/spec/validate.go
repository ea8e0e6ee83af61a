package spec

import (
	"fmt"
	"path/filepath"
	"strings"

	"github.com/streamgen/streamgen/runtime/config"
	"github.com/streamgen/streamgen/runtime/envsubst"
)

// validate applies the defaults that depend on other values and checks
// the rules that span several keys. It runs even when decoding found
// errors, so that every problem is reported at once; invalid values were
// left at their defaults and do not cascade.
func (d *decoder) validate(s *Spec) {
	d.names(s)
	d.semantics(s)
	d.stores(s)

	j := &s.Job
	if j.Group == "" && !d.has("kafka.group") {
		j.Group = s.Name
	}

	for _, st := range s.Streams {
		if st.Assign != nil && j.OffsetsStore == config.StoreKafka && !d.has("kafka.group") {
			d.errorf(d.keys[fmt.Sprintf("stream %q: assign", st.Name)], "stream %q uses assign, and offsets.store \"kafka\" commits offsets under a consumer group id: set kafka.group explicitly (assign does not join the group, so the default, the job name, could silently share committed offsets with another job of the same name), or keep offsets in postgres or files", st.Name)
		}
	}

	switch {
	case j.OnDecodeError == config.DeadLetterBadRecords && j.DeadLetterTopic == "":
		d.errorf(d.at("onDecodeError"), "onDecodeError: \"dead-letter\" needs deadLetterTopic, the topic that receives records that cannot be decoded")
	case j.OnDecodeError != config.DeadLetterBadRecords && j.DeadLetterTopic != "" && d.has("deadLetterTopic"):
		d.errorf(d.at("deadLetterTopic"), "deadLetterTopic is set but onDecodeError is %q, so no record would be written to it; set onDecodeError: dead-letter or remove deadLetterTopic", j.OnDecodeError)
	}

	if j.MaxRatePerPartition > 0 && j.MinRatePerPartition > j.MaxRatePerPartition {
		d.errorf(d.at("batch.minRatePerPartition", "batch.maxRatePerPartition"), "batch.minRatePerPartition (%d) must be <= batch.maxRatePerPartition (%d)", j.MinRatePerPartition, j.MaxRatePerPartition)
	}

	switch {
	case j.Location == config.LocationFixed && len(j.LocationFixed) == 0 && !d.has("location.fixed"):
		d.errorf(d.at("location.strategy"), "location.strategy: \"fixed\" needs location.fixed, a map of topic/partition to host or instance")
	case j.Location == config.LocationFixed && len(j.LocationFixed) == 0:
		d.errorf(d.at("location.fixed"), "location.fixed: must not be empty with strategy \"fixed\"")
	case j.Location != config.LocationFixed && d.has("location.fixed") && d.has("location.strategy"):
		d.errorf(d.at("location.fixed"), "location.fixed is only used with location.strategy \"fixed\", not %q", j.Location)
	case j.Location != config.LocationFixed && d.has("location.fixed"):
		d.errorf(d.at("location.fixed"), "location.fixed is only used with location.strategy \"fixed\"; set strategy: fixed")
	}

	if (j.TLSCert == "") != (j.TLSKey == "") && !envsubst.HasRefs(j.TLSCert+j.TLSKey) {
		d.errorf(d.at("kafka.tls.cert", "kafka.tls.key"), "kafka.tls: cert and key go together: a client certificate needs its private key; set both or neither")
	}
	switch {
	case j.SASLMechanism != "" && (j.SASLUsername == "" || j.SASLPassword == ""):
		d.errorf(d.at("kafka.sasl.mechanism"), "kafka.sasl: mechanism %q needs username and password", j.SASLMechanism)
	case j.SASLMechanism == "" && (d.has("kafka.sasl.username") || d.has("kafka.sasl.password")) && !d.has("kafka.sasl.mechanism"):
		d.errorf(d.at("kafka.sasl.username", "kafka.sasl.password"), "kafka.sasl: username and password are unused without a mechanism; set mechanism to PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512")
	}
}

// names fills Package and Output from Name.
func (d *decoder) names(s *Spec) {
	if s.Package == "" && s.Name != "" && !d.has("package") {
		pkg := strings.Map(func(r rune) rune {
			switch {
			case 'a' <= r && r <= 'z', '0' <= r && r <= '9':
				return r
			case 'A' <= r && r <= 'Z':
				return r - 'A' + 'a'
			}
			return -1
		}, s.Name)
		s.PackagePos = d.at("name")
		if msg := packageErr(pkg); msg != "" {
			d.errorf(s.PackagePos, "name: cannot derive the Go package from %q: %s; set package", s.Name, msg)
		} else {
			s.Package = pkg
		}
	}
	if s.Output == "" && s.Package != "" && !d.has("output") {
		s.Output, s.OutputPos = "./"+s.Package, s.PackagePos
	}
}

// semantics checks that exactly-once has a transactional sink, and
// defaults the offsets store to the sink's with it.
func (d *decoder) semantics(s *Spec) {
	j := &s.Job
	if j.Semantics != config.ExactlyOnce || d.invalid["sink.type"] || d.invalid["offsets.store"] {
		return
	}
	want, ok := config.ExactlyOnceStore(j.SinkType)
	if !ok {
		d.errorf(d.at("semantics"), "semantics: \"exactly-once\" needs a transactional sink: with sink.type %q the output cannot commit in the same atomic step as the offsets; set sink.type to files, postgres, kafka or blob, or use at-least-once", j.SinkType)
		return
	}
	switch {
	case !d.has("offsets.store"):
		j.OffsetsStore = want
	case j.OffsetsStore == want:
	default:
		d.errorf(d.at("offsets.store"), "offsets.store: %q cannot commit in the same atomic step as sink.type %q, which semantics \"exactly-once\" needs; use offsets.store %q (or omit it: with exactly-once it defaults to the sink's store)", j.OffsetsStore, j.SinkType, want)
		return
	}
	switch j.SinkType {
	case config.SinkFiles:
		if j.OffsetsDir != "" && j.SinkDir != "" && cleanDir(j.OffsetsDir) != cleanDir(j.SinkDir) {
			d.errorf(d.at("offsets.dir"), "offsets.dir: %q differs from sink.dir %q: with exactly-once the file rename commits output and offsets together, so they must share the sink's directory; omit offsets.dir", j.OffsetsDir, j.SinkDir)
		}
	case config.SinkPostgres:
		if j.OffsetsDSN != "" && j.SinkDSN != "" && j.OffsetsDSN != j.SinkDSN {
			d.errorf(d.at("offsets.dsn"), "offsets.dsn differs from sink.dsn: with exactly-once the output and offsets commit in one PostgreSQL transaction, so they must be in the sink's database; omit offsets.dsn")
		}
	}
}

func cleanDir(s string) string {
	if envsubst.HasRefs(s) {
		return s
	}
	return filepath.Clean(s)
}

// stores fills the offsets location from the sink and checks that each
// store and sink has what it needs, and nothing it ignores.
func (d *decoder) stores(s *Spec) {
	j := &s.Job
	if j.OffsetsStore == config.StoreFiles && j.OffsetsDir == "" && j.SinkType == config.SinkFiles {
		j.OffsetsDir = j.SinkDir
	}
	if j.OffsetsStore == config.StorePostgres && j.OffsetsDSN == "" && j.SinkType == config.SinkPostgres {
		j.OffsetsDSN = j.SinkDSN
	}
	if !d.invalid["offsets.store"] && !d.invalid["semantics"] {
		d.storeKeys(j)
	}
	if !d.invalid["sink.type"] {
		d.sinkKeys(s)
	}
}

// storeKeys checks that the offsets store has what it needs and nothing
// it ignores.
func (d *decoder) storeKeys(j *config.Job) {
	storePos := d.at("offsets.store", "offsets", "semantics")
	switch j.OffsetsStore {
	case config.StorePostgres:
		if j.OffsetsDSN == "" {
			d.errorf(storePos, "offsets.store: \"postgres\" needs offsets.dsn, the database that keeps the offsets")
		}
	case config.StoreFiles:
		if j.OffsetsDir == "" {
			d.errorf(storePos, "offsets.store: \"files\" needs offsets.dir, the directory that keeps the offsets")
		}
	}
	if j.OffsetsStore != config.StorePostgres && d.has("offsets.dsn") && !envsubst.HasRefs(j.OffsetsDSN) {
		d.errorf(d.at("offsets.dsn"), "offsets.dsn is only used with offsets.store \"postgres\", not %q", j.OffsetsStore)
	}
	if j.OffsetsStore != config.StorePostgres && d.has("offsets.table") && !envsubst.HasRefs(j.OffsetsTable) {
		d.errorf(d.at("offsets.table"), "offsets.table is only used with offsets.store \"postgres\", not %q", j.OffsetsStore)
	}
	if j.OffsetsStore != config.StoreFiles && d.has("offsets.dir") && !envsubst.HasRefs(j.OffsetsDir) {
		d.errorf(d.at("offsets.dir"), "offsets.dir is only used with offsets.store \"files\", not %q", j.OffsetsStore)
	}
}

// sinkKeys checks that the sink has what it needs and nothing it
// ignores.
func (d *decoder) sinkKeys(s *Spec) {
	j := &s.Job
	typePos := d.at("sink.type", "sink")
	need := func(ok bool, key, what string) {
		if !ok {
			d.errorf(typePos, "sink.type: %q needs sink.%s, %s", j.SinkType, key, what)
		}
	}
	switch j.SinkType {
	case config.SinkFiles:
		need(j.SinkDir != "", "dir", "the directory the batches are written to")
	case config.SinkPostgres:
		need(j.SinkDSN != "", "dsn", "the database to write to")
		need(j.SinkTable != "", "table", "the table to write to")
	case config.SinkKafka:
		need(j.SinkTopic != "", "topic", "the topic to write to")
	case config.SinkBlob:
		need(j.SinkURL != "", "url", "the location the batches are written to")
	}
	for _, f := range []struct {
		key, val string
		types    string
		used     bool
	}{
		{"dir", j.SinkDir, `"files"`, j.SinkType == config.SinkFiles},
		{"dsn", j.SinkDSN, `"postgres"`, j.SinkType == config.SinkPostgres},
		{"table", j.SinkTable, `"postgres"`, j.SinkType == config.SinkPostgres},
		{"topic", j.SinkTopic, `"kafka"`, j.SinkType == config.SinkKafka},
		{"transactionalId", j.SinkTransactionalID, `"kafka" with exactly-once`, j.SinkType == config.SinkKafka && j.Semantics == config.ExactlyOnce},
		{"value", s.KafkaSink.Value, `"kafka", "files" or "blob"`, j.SinkType == config.SinkKafka || j.SinkType == config.SinkFiles || j.SinkType == config.SinkBlob},
		{"key", s.KafkaSink.Key, `"kafka"`, j.SinkType == config.SinkKafka},
		{"encoding", s.KafkaSink.Encoding, `"kafka"`, j.SinkType == config.SinkKafka},
		{"partitioning", s.KafkaSink.Partitioning, `"kafka"`, j.SinkType == config.SinkKafka},
		{"url", j.SinkURL, `"blob"`, j.SinkType == config.SinkBlob},
		{"format", j.SinkFormat, `"blob"`, j.SinkType == config.SinkBlob},
		{"partitionBy", strings.Join(j.SinkPartitionBy, ","), `"blob"`, j.SinkType == config.SinkBlob},
		{"roll.maxRecords", "", `"blob"`, j.SinkType == config.SinkBlob},
		{"roll.maxBytes", "", `"blob"`, j.SinkType == config.SinkBlob},
		{"roll.maxOpen", "", `"blob"`, j.SinkType == config.SinkBlob},
		{"roll.lateness", "", `"blob"`, j.SinkType == config.SinkBlob},
		{"roll.maxOpenFiles", "", `"blob"`, j.SinkType == config.SinkBlob},
	} {
		if !f.used && d.has("sink."+f.key) && !envsubst.HasRefs(f.val) {
			d.errorf(d.at("sink."+f.key), "sink.%s is only used with sink.type %s, not %q", f.key, f.types, j.SinkType)
		}
	}
}
