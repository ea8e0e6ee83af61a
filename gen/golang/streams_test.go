package golang

import (
	"testing"
	"time"

	"github.com/streamgen/streamgen/gen/model"
	"github.com/streamgen/streamgen/runtime/config"
)

// TestStreams: what each stream's key, encoding and consumer strategy
// make of Run's wiring, and the per-stream aliases.
func TestStreams(t *testing.T) {
	rt, r := runtimeAlias, runtimeAlias+"."
	for _, tc := range []struct {
		name   string
		stream *model.Stream
		want   []string // in Run
		lacks  []string // in Run
	}{{
		name:   "key none, confluent, subscribe",
		stream: &model.Stream{Name: "clicks", GoName: "Clicks", Consumer: subscribe("a", "b")},
		want: []string{
			"clicksStream, err := " + r + "NewStreamInto[struct{}](e, \"clicks\", " + r + `Subscribe("a", "b"), nil, ` + r + "ConfluentAvroInto[Event](reg), sopts...)",
			"reg, err := cfg.SchemaRegistry(e)",
			`cfg.NeedRegistry("stream clicks")`,
		},
	}, {
		name:   "key string, raw, pattern",
		stream: &model.Stream{Name: "views", GoName: "Views", Key: prim(model.String), Encoding: model.Raw, Consumer: model.Consumer{Kind: model.SubscribePattern, Pattern: "^views-.*"}},
		want: []string{
			"viewsStream, err := " + r + "NewStreamInto(e, \"views\", " + r + "SubscribePattern(sgregexp.MustCompile(\"^views-.*\")), " +
				r + "StringDecoderInto, " + r + "RawAvroInto[Event](), sopts...)",
		},
		lacks: []string{"SchemaRegistry(e)", "NeedRegistry"},
	}, {
		name: "key long, single-object, assign with offsets",
		stream: &model.Stream{Name: "orders", GoName: "Orders", Key: prim(model.Long), Encoding: model.SingleObject, Consumer: model.Consumer{
			Kind:            model.Assign,
			Assign:          []model.TopicPartition{{Topic: "o", Partition: 0}, {Topic: "o", Partition: 3}},
			StartingOffsets: []model.Offset{{TopicPartition: model.TopicPartition{Topic: "o", Partition: 3}, Offset: 42}},
		}},
		want: []string{
			r + "Assign(" + r + `TopicPartition{ Partition: 0, Topic: "o", }, ` + r + `TopicPartition{ Partition: 3, Topic: "o", }).WithOffsets(map[` + rt + `.TopicPartition]int64{{ Partition: 3, Topic: "o", }: int64(42)})`,
			r + "Into(" + r + "Int64Decoder)", r + "SingleObjectInto[Event]()",
		},
		lacks: []string{"SchemaRegistry(e)", "NeedRegistry"},
	}, {
		name:   "key int",
		stream: &model.Stream{Name: "k", GoName: "K", Key: prim(model.Int), Consumer: subscribe("k")},
		want:   []string{r + "Into(" + r + "Int32Decoder)"},
	}, {
		name:   "key record",
		stream: &model.Stream{Name: "k", GoName: "K", Key: ref(&model.Named{Kind: model.Record, GoName: "Inner"}), Encoding: model.Raw, Consumer: subscribe("k")},
		want:   []string{"NewStreamInto(e, \"k\", " + r + `Subscribe("k"), ` + r + "RawAvroInto[Inner](), " + r + "RawAvroInto[Event](), sopts...)"},
	}, {
		name: "raw with a writer schema",
		stream: &model.Stream{Name: "legacy", GoName: "Legacy", Encoding: model.Raw, Consumer: subscribe("l"),
			WriterSchema: `{"type":"record","name":"Old","fields":[]}`, WriterSchemaFile: "old.avsc"},
		want: []string{
			"legacyStreamValue, err := " + r + "RawAvroFromInto[Event](LegacyWriterSchema)",
			`return sgfmt.Errorf("stream legacy: %w", err)`,
			", nil, legacyStreamValue, sopts...)",
		},
	}, {
		name: "single-object with a writer schema and pinned writers",
		stream: &model.Stream{Name: "so", GoName: "So", Encoding: model.SingleObject, Consumer: subscribe("s"),
			WriterSchema: `{"type":"record","name":"Old","fields":[]}`, WriterSchemaFile: "old.avsc",
			KnownWriters: []string{`{"type":"record","name":"V1","fields":[]}`}},
		want: []string{r + "SingleObjectInto[Event](append([]string{SoWriterSchema}, sgSoKnownWriters...)...)"},
	}, {
		name: "single-object with pinned writers",
		stream: &model.Stream{Name: "so", GoName: "So", Encoding: model.SingleObject, Consumer: subscribe("s"),
			KnownWriters: []string{`{"type":"record","name":"V1","fields":[]}`}},
		want: []string{r + "SingleObjectInto[Event](sgSoKnownWriters...)"},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			g := generate(t, streamPackage(config.Default(), tc.stream))
			run := g.fn("", "Run")
			contains(t, "Run", run, tc.want...)
			lacks(t, "Run", run, tc.lacks...)
			s := tc.stream
			for alias, want := range map[string]string{
				s.GoName + "Record": rt + ".Record", s.GoName + "Batch": rt + ".Batch", s.GoName + "Partition": rt + ".Partition",
			} {
				if got := g.typeOf(alias); got == "" {
					t.Errorf("no %s (%s)", alias, want)
				}
			}
			if got := g.fieldType("Batch", s.GoName); got != "*"+s.GoName+"Batch" {
				t.Errorf("Batch.%s is %q", s.GoName, got)
			}
		})
	}
}

// TestStreamDocs: the doc comments name each stream's topics and writer
// schemas.
func TestStreamDocs(t *testing.T) {
	p := streamPackage(config.Default(),
		&model.Stream{Name: "a", GoName: "A", Consumer: subscribe("t1", "t2")},
		&model.Stream{Name: "b", GoName: "B", Consumer: model.Consumer{Kind: model.SubscribePattern, Pattern: "x.*"}},
		&model.Stream{Name: "c", GoName: "C", Encoding: model.SingleObject, Consumer: model.Consumer{Kind: model.Assign, Assign: []model.TopicPartition{{Topic: "p", Partition: 1}, {Topic: "p", Partition: 2}, {Topic: "q"}}},
			KnownWriters: []string{"{}", "[]"}, WriterSchema: "{}", WriterSchemaFile: "w.avsc"},
		&model.Stream{Name: "d", GoName: "D", Key: prim(model.Bytes), Encoding: model.Raw, Consumer: subscribe("d"), WriterSchema: "{}", WriterSchemaFile: "d.avsc"},
	)
	g := generate(t, p)
	contains(t, "streams.go", g.src["streams.go"],
		`// ARecord is a record of stream "a" (topics t1, t2).`,
		`// BRecord is a record of stream "b" (topics matching "x.*").`,
		`// CRecord is a record of stream "c" (assigned partitions of p, q).`,
		"// sgCKnownWriters are the earlier versions of com.ex.Event that streamgen.lock\n// pins for stream c",
		"var sgCKnownWriters = []string{\n\t\"{}\",\n\t\"[]\",\n}",
		"// CWriterSchema is the schema the producers of stream c write its single-object",
		"// values with (spec writerSchema w.avsc); they are resolved to com.ex.Event.",
		"// DWriterSchema is the schema the producers of stream d write its raw",
		"const DWriterSchema = \"{}\"",
		runtimeAlias+".Into("+runtimeAlias+".BytesDecoder)",
	)
	contains(t, "Run", g.fn("", "Run"), runtimeAlias+".SingleObjectInto[Event](append([]string{CWriterSchema}, sgCKnownWriters...)...)")
}

// TestConfig: JobName, DefaultConfig's assignments of what the job's
// configuration changes from config.Default, and the environment prefix
// Main documents, all from model.Job.
func TestConfig(t *testing.T) {
	job := jobConfig(func(j *config.Job) {
		j.Workers = 4
		j.BatchInterval = 1500 * time.Millisecond
		j.Brokers = []string{"${BROKERS}", "b:9092"}
		j.Semantics = config.AtMostOnce
		j.StartFrom = config.StartEarliest()
	})
	g := generate(t, streamPackage(job, &model.Stream{Name: "s", GoName: "S", Consumer: subscribe("s")}))
	contains(t, "streams.go", g.src["streams.go"], `const JobName = "orders-job"`,
		"overridden by its "+config.EnvPrefix("orders-job")+"* environment variable")
	contains(t, "DefaultConfig", g.fn("", "DefaultConfig"),
		"c := Config{"+runtimeAlias+".NewJobConfig(JobName)}",
		"c.Workers = 4",
		"c.BatchInterval = 1500 * sgtime.Millisecond",
		`c.Brokers = []string{"${BROKERS}", "b:9092"}`,
		"c.Semantics = "+configAlias+".AtMostOnce",
		"c.StartFrom = "+configAlias+".StartEarliest()",
		"c.ExpandEnv(sgos.LookupEnv)")
	lacks(t, "DefaultConfig", g.fn("", "DefaultConfig"), "c.Group", "c.MaxFailures")
	g.hasMethods(t, "Config", "EngineOpts", "StreamOpts")
	for _, fn := range []string{"Run", "Main", "MainFunc", "DefaultConfig"} {
		if g.fn("", fn) == "" {
			t.Errorf("no func %s", fn)
		}
	}
}

// TestDurationLit: durations are written in their largest exact unit.
func TestDurationLit(t *testing.T) {
	for d, want := range map[time.Duration]string{
		0: "0", time.Hour: "time.Hour", 90 * time.Minute: "90 * time.Minute", 1500 * time.Millisecond: "1500 * time.Millisecond",
		time.Microsecond: "time.Microsecond", 3 * time.Nanosecond: "time.Duration(int64(3))",
	} {
		if got := render(durationLit(d)); got != want {
			t.Errorf("%v: %s, want %s", d, got, want)
		}
	}
}

// TestSinks: the sink type and offset store choose the Batch's Sink, the
// wiring Run writes and whether Passthrough is generated; the Kafka
// sink's key, encoding and partitioning its writer.
func TestSinks(t *testing.T) {
	s, r := sinkAlias+".", runtimeAlias+"."
	for _, tc := range []struct {
		name        string
		set         func(*config.Job)
		kafka       *model.KafkaSink
		files       *model.FileSink // its Value is set to Event, or to Inner with other
		other       bool
		sink        string // Batch.Sink's type, "" for none
		run, lacks  []string
		passthrough string // what Passthrough writes with, "" for none
	}{{
		name:  "none",
		lacks: []string{"WithOffsetStore", "out, err", "Sink:"},
		run:   []string{"cfg.Wiring(" + configAlias + ".StoreKafka, " + configAlias + ".SinkNone)"},
	}, {
		name: "postgres offsets",
		set:  func(j *config.Job) { j.OffsetsStore = config.StorePostgres },
		run: []string{"offsetStore, err := sgoffsets.NewPostgres(ctx, cfg.OffsetsDSN, cfg.Group, sgoffsets.Table(cfg.OffsetsTable))",
			"defer offsetStore.Close()", r + "WithOffsetStore(offsetStore)"},
	}, {
		name:        "files",
		set:         func(j *config.Job) { j.SinkType = config.SinkFiles },
		files:       &model.FileSink{Passthrough: true},
		sink:        "*github.com/streamgen/streamgen/runtime/sink.Files[Event, *Event]",
		run:         []string{"out, err := " + s + "NewFiles[Event](cfg.SinkDir)", r + "WithOffsetStore(out)", "Sink: out"},
		passthrough: s + "WriteBatch(ctx, b.Sink, b.S)",
	}, {
		name:  "blob",
		set:   func(j *config.Job) { j.SinkType, j.OffsetsStore = config.SinkBlob, config.StoreBlob },
		files: &model.FileSink{Passthrough: true},
		sink:  "*github.com/streamgen/streamgen/runtime/sink.Blob[Event, *Event]",
		run: []string{"blobOpts, err := " + s + "BlobSettings(cfg.SinkFormat, cfg.SinkPartitionBy, " + s + "RollLimits{",
			"MaxOpenFiles: cfg.SinkRollMaxOpenFiles,", "Lateness:     cfg.SinkRollLateness,",
			"out, err := " + s + "OpenBlob[Event](ctx, cfg.SinkURL, blobOpts...)", r + "WithOffsetStore(out)", "Sink: out",
			"cfg.Wiring(" + configAlias + ".StoreBlob, " + configAlias + ".SinkBlob)"},
		passthrough: s + "WriteBlob(ctx, b.Sink, b.S)",
	}, {
		name:  "blob of another record (sink.value): no Passthrough",
		set:   func(j *config.Job) { j.SinkType, j.OffsetsStore = config.SinkBlob, config.StoreBlob },
		files: &model.FileSink{},
		other: true,
		sink:  "*github.com/streamgen/streamgen/runtime/sink.Blob[Inner, *Inner]",
		run:   []string{"out, err := " + s + "OpenBlob[Inner](ctx, cfg.SinkURL, blobOpts...)", "Sink: out"},
	}, {
		name:  "files of another record (sink.value): no Passthrough",
		set:   func(j *config.Job) { j.SinkType = config.SinkFiles },
		files: &model.FileSink{},
		other: true,
		sink:  "*github.com/streamgen/streamgen/runtime/sink.Files[Inner, *Inner]",
		run:   []string{"out, err := " + s + "NewFiles[Inner](cfg.SinkDir)", "Sink: out"},
	}, {
		name: "postgres",
		set:  func(j *config.Job) { j.SinkType = config.SinkPostgres },
		sink: "*github.com/streamgen/streamgen/runtime/sink.Postgres",
		run:  []string{"out, err := " + s + "NewPostgres(ctx, cfg.SinkDSN, cfg.Group, cfg.SinkTable, sgoffsets.Table(cfg.OffsetsTable))", "Sink: out"},
	}, {
		name:  "kafka passthrough, confluent, by input",
		set:   func(j *config.Job) { j.SinkType = config.SinkKafka },
		kafka: &model.KafkaSink{Key: prim(model.String), Encoding: model.Confluent, ByInput: true, Passthrough: true},
		sink:  "*github.com/streamgen/streamgen/runtime/sink.KafkaWriter[string, Event, *Event]",
		run: []string{s + "NewKafka(cfg.SinkTopic, cfg.Semantics, " + s + "TransactionalID(cfg.SinkTransactionalID), " + s + "PartitionByInput())",
			"sinkWriter, err := " + s + "ConfluentKafkaWriter[string, Event](ctx, out, reg, true)", "Sink: sinkWriter"},
		passthrough: s + "WriteKafkaBatch(ctx, b.Sink, b.S)",
	}, {
		name:  "kafka raw, no key",
		set:   func(j *config.Job) { j.SinkType = config.SinkKafka },
		kafka: &model.KafkaSink{Encoding: model.Raw},
		sink:  "*github.com/streamgen/streamgen/runtime/sink.KafkaWriter[struct{}, Event, *Event]",
		run:   []string{"sinkWriter := " + s + "RawKafkaWriter[struct{}, Event](out)"},
		lacks: []string{"PartitionByInput"},
	}, {
		name:  "kafka single-object",
		set:   func(j *config.Job) { j.SinkType = config.SinkKafka },
		kafka: &model.KafkaSink{Key: prim(model.Bytes), Encoding: model.SingleObject},
		sink:  "*github.com/streamgen/streamgen/runtime/sink.KafkaWriter[[]byte, Event, *Event]",
		run:   []string{"sinkWriter := " + s + "SingleObjectKafkaWriter[[]byte, Event](out)"},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			p := streamPackage(jobConfig(tc.set), &model.Stream{Name: "s", GoName: "S", Encoding: model.Raw, Consumer: subscribe("s")})
			if tc.kafka != nil && tc.kafka.Passthrough {
				p.Streams[0].Key = tc.kafka.Key // what Passthrough means
			}
			if tc.kafka != nil {
				tc.kafka.Value = ref(named(p, "Event"))
				p.KafkaSink = tc.kafka
			}
			if tc.files != nil {
				tc.files.Value = ref(named(p, "Event"))
				if tc.other {
					tc.files.Value = ref(named(p, "Inner"))
				}
				p.FileSink = tc.files
			}
			g := generate(t, p)
			if got := g.fieldType("Batch", "Sink"); got != tc.sink {
				t.Errorf("Batch.Sink is %q, want %q", got, tc.sink)
			}
			run := g.fn("", "Run")
			contains(t, "Run", run, tc.run...)
			lacks(t, "Run", run, tc.lacks...)
			pt := g.fn("sgPassthrough", "ProcessBatch")
			if tc.passthrough == "" {
				if pt != "" || g.fn("", "Passthrough") != "" {
					t.Error("Passthrough generated")
				}
				return
			}
			contains(t, "Passthrough", pt, tc.passthrough)
		})
	}
}

// TestUsesRegistry: a Confluent stream or Kafka sink needs the registry.
func TestUsesRegistry(t *testing.T) {
	p := streamPackage(config.Default(), &model.Stream{Name: "s", GoName: "S", Encoding: model.Raw})
	if usesRegistry(p) {
		t.Error("raw stream uses the registry")
	}
	p.KafkaSink = &model.KafkaSink{Encoding: model.Confluent}
	if !usesRegistry(p) {
		t.Error("Confluent sink does not use the registry")
	}
	p.KafkaSink = nil
	p.Streams[0].Encoding = model.Confluent
	if !usesRegistry(p) {
		t.Error("Confluent stream does not use the registry")
	}
}
