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

	if s.Kafka.Group == "" && !s.Kafka.GroupSet {
		s.Kafka.Group = s.Name
	}

	for _, st := range s.Streams {
		if st.Assign != nil && s.Offsets.Store == config.StoreKafka && !s.Kafka.GroupSet {
			d.errorf(d.keys[fmt.Sprintf("stream %q: assign", st.Name)], "stream %q uses assign, and offsets.store \"kafka\" commits offsets under a consumer group id: set kafka.group explicitly (assign does not join the group, so the default, the job name, could silently share committed offsets with another job of the same name), or keep offsets in postgres or files", st.Name)
		}
	}

	switch {
	case s.OnDecodeError == config.DecodeDeadLetter && s.DeadLetterTopic == "":
		d.errorf(d.at("onDecodeError"), "onDecodeError: \"dead-letter\" needs deadLetterTopic, the topic that receives records that cannot be decoded")
	case s.OnDecodeError != config.DecodeDeadLetter && s.DeadLetterTopic != "" && d.has("deadLetterTopic"):
		d.errorf(d.at("deadLetterTopic"), "deadLetterTopic is set but onDecodeError is %q, so no record would be written to it; set onDecodeError: dead-letter or remove deadLetterTopic", s.OnDecodeError)
	}

	b := s.Batch
	if b.MaxRatePerPartition > 0 && b.MinRatePerPartition > b.MaxRatePerPartition {
		d.errorf(d.at("batch.minRatePerPartition", "batch.maxRatePerPartition"), "batch.minRatePerPartition (%d) must be <= batch.maxRatePerPartition (%d)", b.MinRatePerPartition, b.MaxRatePerPartition)
	}

	switch {
	case s.Location.Strategy == config.LocationFixed && len(s.Location.Fixed) == 0 && !d.has("location.fixed"):
		d.errorf(d.at("location.strategy"), "location.strategy: \"fixed\" needs location.fixed, a map of topic/partition to host or instance")
	case s.Location.Strategy == config.LocationFixed && len(s.Location.Fixed) == 0:
		d.errorf(d.at("location.fixed"), "location.fixed: must not be empty with strategy \"fixed\"")
	case s.Location.Strategy != config.LocationFixed && d.has("location.fixed") && d.has("location.strategy"):
		d.errorf(d.at("location.fixed"), "location.fixed is only used with location.strategy \"fixed\", not %q", s.Location.Strategy)
	case s.Location.Strategy != config.LocationFixed && d.has("location.fixed"):
		d.errorf(d.at("location.fixed"), "location.fixed is only used with location.strategy \"fixed\"; set strategy: fixed")
	}

	tls := s.Kafka.TLS
	if (tls.Cert == "") != (tls.Key == "") && !envsubst.HasRefs(tls.Cert+tls.Key) {
		d.errorf(d.at("kafka.tls.cert", "kafka.tls.key"), "kafka.tls: cert and key go together: a client certificate needs its private key; set both or neither")
	}
	sasl := s.Kafka.SASL
	switch {
	case sasl.Mechanism != "" && (sasl.Username == "" || sasl.Password == ""):
		d.errorf(d.at("kafka.sasl.mechanism"), "kafka.sasl: mechanism %q needs username and password", sasl.Mechanism)
	case sasl.Mechanism == "" && (d.has("kafka.sasl.username") || d.has("kafka.sasl.password")) && !d.has("kafka.sasl.mechanism"):
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

// transactionalStore is the offsets store that commits in the same atomic
// step as each sink.
var transactionalStore = map[config.SinkType]config.OffsetsStore{
	config.SinkFiles: config.StoreFiles, config.SinkPostgres: config.StorePostgres, config.SinkKafka: config.StoreKafka,
}

// semantics checks that exactly-once has a transactional sink, and
// defaults the offsets store to the sink's with it.
func (d *decoder) semantics(s *Spec) {
	if s.Semantics != config.ExactlyOnce {
		return
	}
	want, ok := transactionalStore[s.Sink.Type]
	if !ok {
		d.errorf(d.at("semantics"), "semantics: \"exactly-once\" needs a transactional sink: with sink.type %q the output cannot commit in the same atomic step as the offsets; set sink.type to files, postgres or kafka, or use at-least-once", s.Sink.Type)
		return
	}
	switch {
	case !d.has("offsets.store"):
		s.Offsets.Store = want
	case s.Offsets.Store == want:
	default:
		d.errorf(d.at("offsets.store"), "offsets.store: %q cannot commit in the same atomic step as sink.type %q, which semantics \"exactly-once\" needs; use offsets.store %q (or omit it: with exactly-once it defaults to the sink's store)", s.Offsets.Store, s.Sink.Type, want)
		return
	}
	switch s.Sink.Type {
	case config.SinkFiles:
		if s.Offsets.Dir != "" && s.Sink.Dir != "" && cleanDir(s.Offsets.Dir) != cleanDir(s.Sink.Dir) {
			d.errorf(d.at("offsets.dir"), "offsets.dir: %q differs from sink.dir %q: with exactly-once the file rename commits output and offsets together, so they must share the sink's directory; omit offsets.dir", s.Offsets.Dir, s.Sink.Dir)
		}
	case config.SinkPostgres:
		if s.Offsets.DSN != "" && s.Sink.DSN != "" && s.Offsets.DSN != s.Sink.DSN {
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
	o, k := &s.Offsets, s.Sink
	if o.Store == config.StoreFiles && o.Dir == "" && k.Type == config.SinkFiles {
		o.Dir = k.Dir
	}
	if o.Store == config.StorePostgres && o.DSN == "" && k.Type == config.SinkPostgres {
		o.DSN = k.DSN
	}
	storePos := d.at("offsets.store", "offsets", "semantics")
	switch o.Store {
	case config.StorePostgres:
		if o.DSN == "" {
			d.errorf(storePos, "offsets.store: \"postgres\" needs offsets.dsn, the database that keeps the offsets")
		}
	case config.StoreFiles:
		if o.Dir == "" {
			d.errorf(storePos, "offsets.store: \"files\" needs offsets.dir, the directory that keeps the offsets")
		}
	}
	if o.Store != config.StorePostgres && d.has("offsets.dsn") && !envsubst.HasRefs(o.DSN) {
		d.errorf(d.at("offsets.dsn"), "offsets.dsn is only used with offsets.store \"postgres\", not %q", o.Store)
	}
	if o.Store != config.StoreFiles && d.has("offsets.dir") && !envsubst.HasRefs(o.Dir) {
		d.errorf(d.at("offsets.dir"), "offsets.dir is only used with offsets.store \"files\", not %q", o.Store)
	}

	typePos := d.at("sink.type", "sink")
	need := func(ok bool, key, what string) {
		if !ok {
			d.errorf(typePos, "sink.type: %q needs sink.%s, %s", k.Type, key, what)
		}
	}
	switch k.Type {
	case config.SinkFiles:
		need(k.Dir != "", "dir", "the directory the batches are written to")
	case config.SinkPostgres:
		need(k.DSN != "", "dsn", "the database to write to")
		need(k.Table != "", "table", "the table to write to")
	case config.SinkKafka:
		need(k.Topic != "", "topic", "the topic to write to")
	}
	for _, f := range []struct {
		key, val string
		types    string
		used     bool
	}{
		{"dir", k.Dir, `"files"`, k.Type == config.SinkFiles},
		{"dsn", k.DSN, `"postgres"`, k.Type == config.SinkPostgres},
		{"table", k.Table, `"postgres"`, k.Type == config.SinkPostgres},
		{"topic", k.Topic, `"kafka"`, k.Type == config.SinkKafka},
	} {
		if !f.used && d.has("sink."+f.key) && !envsubst.HasRefs(f.val) {
			d.errorf(d.at("sink."+f.key), "sink.%s is only used with sink.type %s, not %q", f.key, f.types, k.Type)
		}
	}
}
