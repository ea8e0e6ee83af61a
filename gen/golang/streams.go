package golang

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/dave/jennifer/jen"

	"github.com/streamgen/streamgen/gen/model"
	"github.com/streamgen/streamgen/gen/names"
	"github.com/streamgen/streamgen/runtime/config"
)

// keyType is the Go type of a stream's key; a stream without keys uses
// struct{}.
func keyType(s *model.Stream) *jen.Statement {
	if s.Key == nil {
		return jen.Struct()
	}
	return goType(s.Key)
}

func topicsOf(c model.Consumer) string {
	switch c.Kind {
	case model.Subscribe:
		return "topics " + strings.Join(c.Topics, ", ")
	case model.SubscribePattern:
		return fmt.Sprintf("topics matching %q", c.Pattern)
	default:
		var ts []string
		for _, tp := range c.Assign {
			if !slices.Contains(ts, tp.Topic) {
				ts = append(ts, tp.Topic)
			}
		}
		return "assigned partitions of " + strings.Join(ts, ", ")
	}
}

// emitStreams writes the per-stream aliases, the job-level Batch and
// Handler, and Config with the spec's values as defaults.
func emitStreams(f *jen.File, p *model.Package) {
	for _, s := range p.Streams {
		k, v := keyType(s), streamValueType(s)
		f.Commentf("%s is a record of stream %q (%s).", names.StreamRecord(s.GoName), s.Name, topicsOf(s.Consumer))
		f.Type().Id(names.StreamRecord(s.GoName)).Op("=").Qual(runtimePkg, "Record").Types(k.Clone(), v.Clone())
		f.Commentf("%s is one micro-batch of stream %q: an offset range per partition.", names.StreamBatch(s.GoName), s.Name)
		f.Comment("Its records are reused for later batches once the handler returned (see Handler).")
		f.Type().Id(names.StreamBatch(s.GoName)).Op("=").Qual(runtimePkg, "Batch").Types(k.Clone(), v.Clone())
		f.Commentf("%s is one partition's range within a %s.", names.StreamPartition(s.GoName), names.StreamBatch(s.GoName))
		f.Type().Id(names.StreamPartition(s.GoName)).Op("=").Qual(runtimePkg, "Partition").Types(k.Clone(), v.Clone())
		f.Line()
	}
	for _, t := range p.Tables {
		f.Commentf("%s is lookup table %s: the latest %s", tableType(t), t.Name, t.Value.Named.FullName)
		f.Commentf("of each key of the compacted topic %s, which every replica reads whole.", t.Topic)
		f.Type().Id(tableType(t)).Op("=").Qual(sidePkg, "Table").Types(goType(t.Key), goType(t.Value))
		f.Line()
	}
	emitValueSettings(f, p.Values)
	f.Comment("Batch is one micro-batch of the job: the same batch time on every stream.")
	f.Type().Id("Batch").StructFunc(func(g *jen.Group) {
		for _, s := range p.Streams {
			g.Id(s.GoName).Op("*").Id(names.StreamBatch(s.GoName))
		}
		for _, t := range p.Tables {
			g.Commentf("%s is table %s as the whole batch sees it: updates show in", t.GoName, t.Name)
			g.Comment("the next batch. Call its Get, Len and All from the handler.")
			g.Id(t.GoName).Op("*").Id(tableType(t))
		}
		for _, v := range p.Values {
			g.Commentf("%s is value %s as the whole batch sees it: what %s", v.GoName, v.Name, v.Loader)
			g.Commentf("last returned, loaded again every %s; a new one shows", valueSetting(v, "Interval"))
			g.Comment("in the next batch.")
			g.Id(v.GoName).Id(v.Type)
		}
		if p.Job.Config.SinkType == config.SinkFiles {
			g.Comment("Sink is the files sink: write each partition's output with")
			g.Comment("Sink.Writer(p.OffsetRange()) from its ForeachPartition task. It")
			g.Comment("publishes one Avro file per partition and batch after ProcessBatch")
			g.Comment("returns, and those files are the job's offsets.")
			g.Id("Sink").Op("*").Qual(sinkPkg, "Files").Types(goType(p.FileSink.Value), jen.Op("*").Add(goType(p.FileSink.Value)))
		}
		if p.Job.Config.SinkType == config.SinkBlob {
			g.Comment("Sink is the blob sink: write each partition's output with")
			g.Comment("Sink.Writer(p.OffsetRange()).WriteAt(r.Offset, &v) from its")
			g.Comment("ForeachPartition task. It keeps a file per partition and Hive")
			g.Comment("partition open across batches and publishes it when a sink.roll")
			g.Comment("limit is reached (all 0: one object per partition, batch and Hive")
			g.Comment("partition), and its claims of them are the job's offsets.")
			g.Id("Sink").Op("*").Qual(sinkPkg, "Blob").Types(goType(p.FileSink.Value), jen.Op("*").Add(goType(p.FileSink.Value)))
		}
		if p.Job.Config.SinkType == config.SinkPostgres {
			g.Comment("Sink is the PostgreSQL sink: write the batch's output through it")
			g.Comment("(Exec, CopyFrom, Tx) into its Table (spec sink.table). It commits")
			g.Comment("the output with the batch's offsets, in one transaction, after")
			g.Comment("ProcessBatch returns.")
			g.Id("Sink").Op("*").Qual(sinkPkg, "Postgres")
		}
		if ks := p.KafkaSink; ks != nil {
			g.Commentf("Sink is the Kafka sink's typed writer of %s: write each output", ks.Value.Named.FullName)
			g.Comment("with Sink.Write(ctx, sink.OriginOf(r), key, &v), from ProcessBatch or")
			g.Comment("its ForeachPartition tasks. With exactly-once the batch's output")
			g.Comment("commits with its offsets, in one Kafka transaction, after ProcessBatch")
			g.Comment("returns; otherwise it is flushed before the offsets are committed.")
			g.Id("Sink").Add(kafkaWriterType(ks))
		}
	})
	f.Line()
	f.Comment("Handler processes the job's batches. A batch whose handler returns an error")
	f.Comment("is not committed; it is read again, with the same offset ranges, on restart.")
	f.Comment("")
	f.Comment("A batch and its records belong to the engine once ProcessBatch has")
	f.Comment("returned: later batches are decoded into the same records, reusing their")
	f.Comment("slices, maps and pointed-to values, so a record, or anything it holds,")
	f.Comment("must not be kept past its batch. Keep a copy instead: a value's Clone()")
	f.Comment("is a deep copy. A string taken from a record may be kept: strings are")
	f.Comment("never overwritten, but one holds on to the block of memory (8 KiB) it")
	f.Comment("shares with other records' strings, which Clone's copies do not.")
	f.Type().Id("Handler").Interface(
		jen.Id("ProcessBatch").Params(jen.Id("ctx").Qual("context", "Context"), jen.Id("b").Op("*").Id("Batch")).Error(),
	)
	f.Line()
	if (p.FileSink != nil && p.FileSink.Passthrough) || (p.KafkaSink != nil && p.KafkaSink.Passthrough) {
		emitPassthrough(f, p)
	}
	if p.Job.Config.SinkType == config.SinkBlob {
		f.Anon(cloudPkg) // s3://, gs:// and azblob:// sink URLs
	}
	emitConfig(f, p.Job)
	emitRun(f, p)
}

// emitPassthrough writes Passthrough, the handler that copies every
// stream's values unchanged into the files, blob or Kafka sink.
func emitPassthrough(f *jen.File, p *model.Package) {
	write := "WriteBatch"
	if p.Job.Config.SinkType == config.SinkBlob {
		write = "WriteBlob"
	}
	if p.KafkaSink != nil {
		write = "WriteKafkaBatch"
		f.Comment("Passthrough is the handler that copies every stream's values, unchanged,")
		f.Comment("to the sink's topic, keyed as they were read, with headers naming each")
		f.Comment("one's source topic, partition and offset: with it")
		f.Comment("`func main() { pkg.Main(pkg.Passthrough()) }` is a complete job that")
		f.Comment("copies a topic, exactly once with semantics exactly-once.")
	} else if p.Job.Config.SinkType == config.SinkBlob {
		f.Comment("Passthrough is the handler that copies every stream's values, unchanged,")
		f.Comment("into the blob sink, one object per partition and Hive partition (rolled")
		f.Comment("across batches by the sink.roll settings), each named by the offsets it")
		f.Comment("holds: with it")
		f.Comment("`func main() { pkg.Main(pkg.Passthrough()) }` is a complete exactly-once")
		f.Comment("ETL job.")
	} else {
		f.Comment("Passthrough is the handler that copies every stream's values, unchanged,")
		f.Comment("into the files sink, one file per partition and batch: with it")
		f.Comment("`func main() { pkg.Main(pkg.Passthrough()) }` is a complete exactly-once")
		f.Comment("ETL job.")
	}
	f.Func().Id("Passthrough").Params().Id("Handler").Block(jen.Return(jen.Id("sgPassthrough").Values()))
	f.Line()
	f.Type().Id("sgPassthrough").Struct()
	f.Line()
	f.Func().Params(jen.Id("sgPassthrough")).Id("ProcessBatch").Params(jen.Id("ctx").Qual("context", "Context"), jen.Id("b").Op("*").Id("Batch")).Error().BlockFunc(func(g *jen.Group) {
		for _, s := range p.Streams {
			g.If(jen.Err().Op(":=").Qual(sinkPkg, write).Call(jen.Id("ctx"), jen.Id("b").Dot("Sink"), jen.Id("b").Dot(s.GoName)), jen.Err().Op("!=").Nil()).Block(jen.Return(jen.Err()))
		}
		g.Return(jen.Nil())
	})
	f.Line()
}

func emitConfig(f *jen.File, job model.Job) {
	f.Commentf("JobName is the job's name (spec key name): default group id and metrics prefix.")
	f.Const().Id("JobName").Op("=").Lit(job.Name)
	f.Line()
	f.Comment("Config is the job's configuration. runtime.JobConfig and config.Job")
	f.Comment("document each field.")
	f.Type().Id("Config").Struct(jen.Qual(runtimePkg, "JobConfig"))
	f.Line()
	f.Comment("DefaultConfig returns the configuration's defaults (config.Default) with")
	f.Comment("what the spec sets, and ${VAR} and ${VAR:-default} in runtime values")
	f.Comment("(brokers, credentials, DSNs, paths) expanded from the environment now,")
	f.Comment("at start-up. Validate reports a reference that is not set.")
	f.Func().Id("DefaultConfig").Params().Id("Config").BlockFunc(func(g *jen.Group) {
		g.Id("c").Op(":=").Id("Config").Values(jen.Qual(runtimePkg, "NewJobConfig").Call(jen.Id("JobName")))
		for _, set := range specSettings(job.Config) {
			g.Id("c").Dot(set.field).Op("=").Add(set.value)
		}
		g.Id("c").Dot("ExpandEnv").Call(jen.Qual("os", "LookupEnv"))
		g.Return(jen.Id("c"))
	})
	f.Line()
}

// emitRun writes Run, which wires the streams onto the engine, and Main.
func emitRun(f *jen.File, p *model.Package) {
	emitWriterSchemas(f, p.Streams)
	f.Comment("Run runs the job until ctx is done or a batch fails. On cancellation it")
	f.Comment("stops gracefully: the in-flight batch finishes and is committed, or,")
	f.Comment("past cfg.ShutdownTimeout, is abandoned uncommitted.")
	f.Func().Id("Run").Params(jen.Id("ctx").Qual("context", "Context"), jen.Id("cfg").Id("Config"), jen.Id("h").Id("Handler")).Error().BlockFunc(func(g *jen.Group) {
		g.List(jen.Id("opts"), jen.Err()).Op(":=").Id("cfg").Dot("EngineOpts").Call()
		g.If(jen.Err().Op("!=").Nil()).Block(jen.Return(jen.Err()))
		g.List(jen.Id("sopts"), jen.Err()).Op(":=").Id("cfg").Dot("StreamOpts").Call()
		g.If(jen.Err().Op("!=").Nil()).Block(jen.Return(jen.Err()))
		if users := p.RegistryUsers(); len(users) > 0 {
			g.If(jen.Err().Op(":=").Id("cfg").Dot("NeedRegistry").CallFunc(func(g *jen.Group) {
				for _, u := range users {
					g.Lit(u)
				}
			}), jen.Err().Op("!=").Nil()).Block(jen.Return(jen.Err()))
		}
		emitStores(g, p.Job.Config, p.FileSink, p.KafkaSink)
		g.List(jen.Id("e"), jen.Err()).Op(":=").Qual(runtimePkg, "New").Call(jen.Append(jen.Id("opts"), jen.Qual(runtimePkg, "JobName").Call(jen.Id("JobName"))).Op("..."))
		g.If(jen.Err().Op("!=").Nil()).Block(jen.Return(jen.Err()))
		if usesRegistry(p) {
			g.Comment("Confluent-framed records name their writer schema by id, looked up in")
			g.Comment("the registry and resolved against the generated types.")
			g.List(jen.Id("reg"), jen.Err()).Op(":=").Id("cfg").Dot("SchemaRegistry").Call(jen.Id("e"))
			g.If(jen.Err().Op("!=").Nil()).Block(jen.Return(jen.Err()))
		}
		if ks := p.KafkaSink; ks != nil {
			emitKafkaWriter(g, ks)
		}
		for _, s := range p.Streams {
			emitStreamWiring(g, s)
		}
		if len(p.Tables) > 0 {
			emitTables(g, p.Tables)
		}
		if len(p.Values) > 0 {
			emitValues(g, p.Values)
		}
		g.Comment("A missing output topic fails the start, naming it, not every batch.")
		g.If(jen.Err().Op(":=").Id("e").Dot("CheckOutputTopics").Call(jen.Id("ctx"), jen.Id("cfg").Dot("OutputTopics").Call().Op("...")), jen.Err().Op("!=").Nil()).Block(jen.Return(jen.Err()))
		g.Return(jen.Id("e").Dot("Run").Call(jen.Id("ctx"), jen.Func().Params(jen.Id("ctx").Qual("context", "Context"), jen.Id("bs").Op("*").Qual(runtimePkg, "JobBatch")).Error().Block(
			jen.Return(jen.Id("h").Dot("ProcessBatch").Call(jen.Id("ctx"), jen.Op("&").Id("Batch").Values(jen.DictFunc(func(d jen.Dict) {
				for _, s := range p.Streams {
					d[jen.Id(s.GoName)] = jen.Id(streamVar(s)).Dot("Batch").Call(jen.Id("bs"))
				}
				for _, t := range p.Tables {
					d[jen.Id(t.GoName)] = jen.Id(tableVar(t))
				}
				for _, v := range p.Values {
					d[jen.Id(v.GoName)] = jen.Id(valueVar(v)).Dot("Get").Call()
				}
				switch {
				case p.KafkaSink != nil:
					d[jen.Id("Sink")] = jen.Id("sinkWriter")
				case p.Job.Config.SinkType != config.SinkNone:
					d[jen.Id("Sink")] = jen.Id("out")
				}
			})))),
		)))
	})
	f.Line()
	emitMain(f, p.Job.Name)
}

// emitWriterSchemas writes the writer schemas Run resolves streams' records
// against: the versions streamgen.lock pins for single-object streams and
// the spec's writerSchema of raw ones.
func emitWriterSchemas(f *jen.File, streams []*model.Stream) {
	for _, s := range streams {
		if len(s.KnownWriters) > 0 {
			f.Commentf("%s are the earlier versions of %s that streamgen.lock", knownWritersVar(s), s.Value.Named.FullName)
			f.Commentf("pins for stream %s: its single-object records name their writer by", s.Name)
			f.Comment("fingerprint, and records of these versions are resolved to the value type.")
			f.Var().Id(knownWritersVar(s)).Op("=").Index().String().ValuesFunc(func(g *jen.Group) {
				for _, w := range s.KnownWriters {
					g.Line().Lit(w)
				}
				g.Line()
			})
		}
		if s.WriterSchema != "" {
			what := "raw"
			if s.Encoding == model.SingleObject {
				what = "single-object"
			}
			f.Commentf("%s is the schema the producers of stream %s write its %s", names.StreamWriterSchema(s.GoName), s.Name, what)
			f.Commentf("values with (spec writerSchema %s); they are resolved to %s.", s.WriterSchemaFile, s.Value.Named.FullName)
			f.Const().Id(names.StreamWriterSchema(s.GoName)).Op("=").Lit(s.WriterSchema)
		}
	}
}

// emitStreamWiring writes Run's creation of stream s on the engine e, with
// its consumer strategy and its key and value decoders.
func emitStreamWiring(g *jen.Group, s *model.Stream) {
	v := streamVar(s)
	value := valueDecoder(streamValueType(s), s.Encoding)
	if s.Encoding == model.SingleObject && (len(s.KnownWriters) > 0 || s.WriterSchema != "") {
		var args []jen.Code
		if s.WriterSchema != "" {
			args = append(args, jen.Id(names.StreamWriterSchema(s.GoName)))
		}
		if len(s.KnownWriters) > 0 {
			args = append(args, jen.Id(knownWritersVar(s)).Op("..."))
		}
		if len(args) == 2 {
			args = []jen.Code{jen.Append(jen.Index().String().Values(args[0]), args[1]).Op("...")}
		}
		value = jen.Qual(runtimePkg, "SingleObjectInto").Types(streamValueType(s)).Call(args...)
	}
	if s.WriterSchema != "" && s.Encoding == model.Raw {
		g.List(jen.Id(v+"Value"), jen.Err()).Op(":=").Qual(runtimePkg, "RawAvroFromInto").Types(streamValueType(s)).Call(jen.Id(names.StreamWriterSchema(s.GoName)))
		g.If(jen.Err().Op("!=").Nil()).Block(jen.Return(jen.Qual("fmt", "Errorf").Call(jen.Lit(fmt.Sprintf("stream %s: %%w", s.Name)), jen.Err())))
		value = jen.Id(v + "Value")
	}
	newStream := jen.Qual(runtimePkg, "NewStreamInto")
	if s.Key == nil {
		newStream = newStream.Types(jen.Struct()) // a nil key decoder names no type
	}
	g.List(jen.Id(v), jen.Err()).Op(":=").Add(newStream).Call(
		jen.Id("e"), jen.Lit(s.Name), consumerStrategy(s.Consumer), keyDecoder(s), value,
		jen.Id("sopts").Op("..."),
	)
	g.If(jen.Err().Op("!=").Nil()).Block(jen.Return(jen.Err()))
}

// emitMain writes Main and MainFunc, which run the job as a program; its
// environment variables are named after jobName.
func emitMain(f *jen.File, jobName string) {
	f.Comment("Main runs the job as a program: DefaultConfig with each runtime setting")
	f.Comment("overridden by its " + config.EnvPrefix(jobName) + "* environment variable, and that by its flag")
	f.Comment("(--brokers, --group, --batch-interval, ...: --help lists them), logs in")
	f.Comment("one format (--log-format text|json, --log-level), a status server with")
	f.Comment("Prometheus metrics at /metrics, and")
	f.Comment("a graceful stop on SIGINT or SIGTERM. It exits the process.")
	f.Comment("When the job stops, Main calls the handler's Close method, if it has one.")
	f.Comment("A handler that needs the job's configuration (its databases, directories,")
	f.Comment("topics as the flags and environment set them) is made by MainFunc instead.")
	f.Func().Id("Main").Params(jen.Id("h").Id("Handler")).Block(
		jen.Id("MainFunc").Call(jen.Func().Params(jen.Qual("context", "Context"), jen.Id("Config")).Params(jen.Id("Handler"), jen.Error()).Block(
			jen.Return(jen.Id("h"), jen.Nil()),
		)),
	)
	f.Line()
	f.Comment("MainFunc is Main with the handler newHandler makes from the job's resolved")
	f.Comment("configuration: the spec's values with every flag and environment variable")
	f.Comment("applied, validated. A handler that opens the job's database, directory or")
	f.Comment("topics takes them from cfg (cfg.OffsetsDSN, cfg.SinkDir, ...), never from")
	f.Comment("DefaultConfig, which knows no flag: so it writes where the job keeps its")
	f.Comment("offsets. An error from newHandler stops the job before its first batch.")
	f.Comment("When the job stops, MainFunc calls the handler's Close method, if it has one.")
	f.Func().Id("MainFunc").Params(jen.Id("newHandler").Func().Params(jen.Id("ctx").Qual("context", "Context"), jen.Id("cfg").Id("Config")).Params(jen.Id("Handler"), jen.Error())).Block(
		jen.Id("cfg").Op(":=").Id("DefaultConfig").Call(),
		jen.Id("cfg").Dot("EngineOptions").Op("=").Append(jen.Id("cfg").Dot("EngineOptions"), jen.Qual(metricsPkg, "New").Call(jen.Id("JobName")).Dot("Options").Call().Op("...")),
		jen.Qual(runtimePkg, "Main").Call(jen.Id("JobName"), jen.Op("&").Id("cfg").Dot("JobConfig"), jen.Func().Params(jen.Id("ctx").Qual("context", "Context")).Error().Block(
			jen.List(jen.Id("h"), jen.Err()).Op(":=").Id("newHandler").Call(jen.Id("ctx"), jen.Id("cfg")),
			jen.If(jen.Err().Op("!=").Nil()).Block(jen.Return(jen.Err())),
			jen.If(jen.List(jen.Id("c"), jen.Id("ok")).Op(":=").Id("h").Assert(jen.Interface(jen.Id("Close").Params())), jen.Id("ok")).Block(
				jen.Defer().Id("c").Dot("Close").Call(),
			),
			jen.Return(jen.Id("Run").Call(jen.Id("ctx"), jen.Id("cfg"), jen.Id("h"))),
		)),
	)
}

// emitStores writes the wiring of the spec's offset store and sink: they
// are the generated code's, so Run first refuses a configuration that
// names others (cfg.Wiring).
func emitStores(g *jen.Group, j config.Job, fs *model.FileSink, ks *model.KafkaSink) {
	g.If(jen.Err().Op(":=").Id("cfg").Dot("Wiring").Call(valueLit(j.OffsetsStore), valueLit(j.SinkType)), jen.Err().Op("!=").Nil()).Block(jen.Return(jen.Err()))
	var store jen.Code
	switch {
	case j.SinkType == config.SinkFiles:
		g.Comment("The sink keeps the offsets: the files it published are where each partition is.")
		g.List(jen.Id("out"), jen.Err()).Op(":=").Qual(sinkPkg, "NewFiles").Types(goType(fs.Value)).Call(jen.Id("cfg").Dot("SinkDir"))
		store = jen.Id("out")
	case j.SinkType == config.SinkBlob:
		g.Comment("The sink keeps the offsets: its claims of the objects it published")
		g.Comment("are where each partition is.")
		g.List(jen.Id("blobOpts"), jen.Err()).Op(":=").Qual(sinkPkg, "BlobSettings").Call(jen.Id("cfg").Dot("SinkFormat"), jen.Id("cfg").Dot("SinkPartitionBy"),
			jen.Qual(sinkPkg, "RollLimits").Values(jen.Dict{
				jen.Id("MaxRecords"):   jen.Id("cfg").Dot("SinkRollMaxRecords"),
				jen.Id("MaxBytes"):     jen.Id("cfg").Dot("SinkRollMaxBytes"),
				jen.Id("MaxOpen"):      jen.Id("cfg").Dot("SinkRollMaxOpen"),
				jen.Id("Lateness"):     jen.Id("cfg").Dot("SinkRollLateness"),
				jen.Id("MaxOpenFiles"): jen.Id("cfg").Dot("SinkRollMaxOpenFiles"),
			}))
		g.If(jen.Err().Op("!=").Nil()).Block(jen.Return(jen.Err()))
		g.List(jen.Id("out"), jen.Err()).Op(":=").Qual(sinkPkg, "OpenBlob").Types(goType(fs.Value)).Call(jen.Id("ctx"), jen.Id("cfg").Dot("SinkURL"), jen.Id("blobOpts").Op("..."))
		store = jen.Id("out")
	case j.SinkType == config.SinkKafka:
		g.Comment("The sink keeps the offsets, as the group's commits: exactly-once in each")
		g.Comment("batch's Kafka transaction with its output, else after flushing it.")
		g.List(jen.Id("out"), jen.Err()).Op(":=").Qual(sinkPkg, "NewKafka").Call(jen.Id("cfg").Dot("SinkTopic"), jen.Id("cfg").Dot("Semantics"),
			jen.Qual(sinkPkg, "TransactionalID").Call(jen.Id("cfg").Dot("SinkTransactionalID")), jen.Do(func(s *jen.Statement) {
				if ks != nil && ks.ByInput {
					s.Qual(sinkPkg, "PartitionByInput").Call()
				}
			}))
		store = jen.Id("out")
	case j.SinkType == config.SinkPostgres:
		g.Comment("The sink keeps the offsets: its transaction commits them with the output.")
		g.List(jen.Id("out"), jen.Err()).Op(":=").Qual(sinkPkg, "NewPostgres").Call(jen.Id("ctx"), jen.Id("cfg").Dot("SinkDSN"), jen.Id("cfg").Dot("Group"), jen.Id("cfg").Dot("SinkTable"), jen.Qual(offsetsPkg, "Table").Call(jen.Id("cfg").Dot("OffsetsTable")))
		store = jen.Id("out")
	case j.OffsetsStore == config.StorePostgres:
		g.List(jen.Id("offsetStore"), jen.Err()).Op(":=").Qual(offsetsPkg, "NewPostgres").Call(jen.Id("ctx"), jen.Id("cfg").Dot("OffsetsDSN"), jen.Id("cfg").Dot("Group"), jen.Qual(offsetsPkg, "Table").Call(jen.Id("cfg").Dot("OffsetsTable")))
		store = jen.Id("offsetStore")
	default:
		return
	}
	g.If(jen.Err().Op("!=").Nil()).Block(jen.Return(jen.Err()))
	g.Defer().Add(store).Dot("Close").Call()
	g.Id("opts").Op("=").Append(jen.Id("opts"), jen.Qual(runtimePkg, "WithOffsetStore").Call(store))
}

func tpLit(tp model.TopicPartition) jen.Code {
	return jen.Values(jen.Dict{jen.Id("Topic"): jen.Lit(tp.Topic), jen.Id("Partition"): jen.Lit(int(tp.Partition))})
}

// consumerStrategy writes the stream's runtime.ConsumerStrategy.
func consumerStrategy(c model.Consumer) jen.Code {
	var cs *jen.Statement
	switch c.Kind {
	case model.Subscribe:
		cs = jen.Qual(runtimePkg, "Subscribe").CallFunc(func(g *jen.Group) {
			for _, t := range c.Topics {
				g.Lit(t)
			}
		})
	case model.SubscribePattern:
		cs = jen.Qual(runtimePkg, "SubscribePattern").Call(jen.Qual("regexp", "MustCompile").Call(jen.Lit(c.Pattern)))
	default:
		cs = jen.Qual(runtimePkg, "Assign").CallFunc(func(g *jen.Group) {
			for _, tp := range c.Assign {
				g.Qual(runtimePkg, "TopicPartition").Add(tpLit(tp))
			}
		})
	}
	if len(c.StartingOffsets) > 0 {
		cs = cs.Dot("WithOffsets").Call(jen.Map(jen.Qual(runtimePkg, "TopicPartition")).Int64().Values(jen.DictFunc(func(d jen.Dict) {
			for _, o := range c.StartingOffsets {
				d[tpLit(o.TopicPartition)] = jen.Lit(o.Offset)
			}
		})))
	}
	return cs
}

// streamVar is the name of Run's local variable for stream s. The suffix
// keeps it clear of Run's other locals (ctx, cfg, e, err, ...), of the
// packages it uses (fmt, runtime, regexp) and of Go keywords, whatever the
// stream is called; stream Go names are unique, so these are too. The
// stream's value decoder, when it needs one, is streamVar + "Value".
func streamVar(s *model.Stream) string { return lowerFirst(s.GoName) + "Stream" }

// keyDecoder is the stream's key DecoderInto: nil for key none (the key
// stays struct{}{}, no work per record).
func keyDecoder(s *model.Stream) jen.Code {
	if s.Key == nil {
		return jen.Nil()
	}
	into := func(name string) jen.Code { return jen.Qual(runtimePkg, "Into").Call(jen.Qual(runtimePkg, name)) }
	switch s.Key.Kind {
	case model.String:
		return jen.Qual(runtimePkg, "StringDecoderInto")
	case model.Bytes:
		return into("BytesDecoder")
	case model.Int:
		return into("Int32Decoder")
	case model.Long:
		return into("Int64Decoder")
	}
	return valueDecoder(goType(s.Key), s.Encoding)
}

// valueDecoder is the DecoderInto of t, the Go type of an Avro record or
// of a projection of one: records are decoded in place, into the batch's
// Record.
func valueDecoder(t *jen.Statement, encoding model.Encoding) jen.Code {
	switch encoding {
	case model.Raw:
		return jen.Qual(runtimePkg, "RawAvroInto").Types(t).Call()
	case model.SingleObject:
		return jen.Qual(runtimePkg, "SingleObjectInto").Types(t).Call()
	}
	return jen.Qual(runtimePkg, "ConfluentAvroInto").Types(t).Call(jen.Id("reg"))
}

// kafkaWriterType is the Kafka sink's writer type.
func kafkaWriterType(ks *model.KafkaSink) *jen.Statement {
	key := jen.Struct()
	if ks.Key != nil {
		key = goType(ks.Key)
	}
	return jen.Op("*").Qual(sinkPkg, "KafkaWriter").Types(key, goType(ks.Value), jen.Op("*").Add(goType(ks.Value)))
}

// emitKafkaWriter writes the creation of Run's sinkWriter.
func emitKafkaWriter(g *jen.Group, ks *model.KafkaSink) {
	key := jen.Struct()
	if ks.Key != nil {
		key = goType(ks.Key)
	}
	types := []jen.Code{key, goType(ks.Value)}
	switch ks.Encoding {
	case model.Raw:
		g.Comment("The output's values are raw Avro: the value type's own binary, no header.")
		g.Id("sinkWriter").Op(":=").Qual(sinkPkg, "RawKafkaWriter").Types(types...).Call(jen.Id("out"))
		return
	case model.SingleObject:
		g.Comment("The output's values are single-object encoded: the marker, the value")
		g.Comment("type's schema fingerprint, its binary.")
		g.Id("sinkWriter").Op(":=").Qual(sinkPkg, "SingleObjectKafkaWriter").Types(types...).Call(jen.Id("out"))
		return
	}
	g.Comment("The output's values are Confluent-framed: the value type's schema is")
	g.Comment("registered under subject TOPIC-value (or found there) at start-up.")
	g.List(jen.Id("sinkWriter"), jen.Err()).Op(":=").Qual(sinkPkg, "ConfluentKafkaWriter").Types(types...).Call(jen.Id("ctx"), jen.Id("out"), jen.Id("reg"), jen.True())
	g.If(jen.Err().Op("!=").Nil()).Block(jen.Return(jen.Err()))
}

// knownWritersVar holds a single-object stream's pinned writer schemas.
func knownWritersVar(s *model.Stream) string { return names.Helper(s.GoName + "KnownWriters") }

// usesRegistry reports whether a stream reads Confluent-framed Avro, or
// the Kafka sink writes it.
func usesRegistry(p *model.Package) bool { return len(p.RegistryUsers()) > 0 }

func tableType(t *model.Table) string { return t.GoName + "Table" }

func tableVar(t *model.Table) string { return lowerFirst(t.GoName) + "Table" }

// emitTables writes Run's creation of the tables, which the engine loads
// before the first batch and swaps between batches.
func emitTables(g *jen.Group, tables []*model.Table) {
	g.Comment("Every replica reads each table's topic whole, outside the group; the")
	g.Comment("engine runs no batch before they caught up with the topics.")
	var vars []jen.Code
	for _, t := range tables {
		var key jen.Code
		switch t.Key.Kind {
		case model.Int:
			key = jen.Qual(runtimePkg, "Int32Decoder")
		case model.Long:
			key = jen.Qual(runtimePkg, "Int64Decoder")
		default:
			key = jen.Qual(runtimePkg, "StringDecoder")
		}
		var value jen.Code
		switch v := goType(t.Value); t.Encoding {
		case model.Raw:
			value = jen.Qual(runtimePkg, "RawAvro").Types(v).Call()
		case model.SingleObject:
			value = jen.Qual(runtimePkg, "SingleObject").Types(v).Call()
		default:
			value = jen.Qual(runtimePkg, "ConfluentAvro").Types(v).Call(jen.Id("reg"))
		}
		args := []jen.Code{jen.Lit(t.Name), jen.Lit(t.Topic), key, value}
		if t.MaxEntries > 0 {
			args = append(args, jen.Qual(sidePkg, "MaxEntries").Call(jen.Id(strconv.FormatInt(t.MaxEntries, 10))))
		}
		if t.MaxBytes > 0 {
			args = append(args, jen.Qual(sidePkg, "MaxBytes").Call(jen.Id(strconv.FormatInt(t.MaxBytes, 10))))
		}
		if t.CatchUpTimeout > 0 {
			args = append(args, jen.Qual(sidePkg, "CatchUpTimeout").Call(durationLit(t.CatchUpTimeout)))
		}
		if t.SkipBadRecords {
			args = append(args, jen.Qual(sidePkg, "SkipBadRecords").Call())
		}
		g.Id(tableVar(t)).Op(":=").Qual(sidePkg, "NewTable").Call(args...)
		vars = append(vars, jen.Id(tableVar(t)))
	}
	g.Id("e").Dot("AddSideInputs").Call(vars...)
}

func valueVar(v *model.Value) string { return lowerFirst(v.GoName) + "Value" }

// valueKey is the key of a value's setting: values.NAME.SETTING.
func valueKey(v *model.Value, setting string) string { return "values." + v.Name + "." + setting }

// emitValueSettings writes the job's settings of each value: its interval
// and maxAge, with the spec's as defaults, flags and variables as the
// runtime's (runtime.Setting).
func emitValueSettings(f *jen.File, values []*model.Value) {
	for _, v := range values {
		f.Commentf("%s and %s are the settings of value %s:", valueSetting(v, "Interval"), valueSetting(v, "MaxAge"), v.Name)
		f.Commentf("how often %s runs again, and how old its last good result may", v.Loader)
		f.Comment("grow while it fails before the job is unready. Main reads them as the")
		f.Commentf("runtime's settings (--%s, --%s);", config.FlagName(valueKey(v, "interval")), config.FlagName(valueKey(v, "maxAge")))
		f.Comment("a test that calls Run may set them first.")
		f.Var().Defs(
			jen.Id(valueSetting(v, "Interval")).Op("=").Qual(runtimePkg, "Setting").Call(jen.Lit(valueKey(v, "interval")), typedDuration(v.Interval),
				jen.Lit(fmt.Sprintf("how often value %s is loaded again (%s)", v.Name, v.Loader))),
			jen.Id(valueSetting(v, "MaxAge")).Op("=").Qual(runtimePkg, "Setting").Call(jen.Lit(valueKey(v, "maxAge")), typedDuration(v.MaxAge),
				jen.Lit(fmt.Sprintf("how old value %s may grow while its loads fail before the job is unready; 0 = no bound", v.Name))),
		)
		f.Line()
	}
}

// valueSetting is the exported variable of a value's setting.
func valueSetting(v *model.Value, setting string) string { return v.GoName + setting }

// typedDuration is durationLit with a type even for 0, for inference.
func typedDuration(d time.Duration) jen.Code {
	if d == 0 {
		return jen.Qual("time", "Duration").Parens(jen.Lit(0))
	}
	return durationLit(d)
}

// emitValues writes Run's creation of the values, loaded by the user's
// loaders before the first batch and swapped between batches.
func emitValues(g *jen.Group, values []*model.Value) {
	g.Comment("Each value is loaded by its loader before the first batch (the start")
	g.Comment("fails if it cannot be), again every interval, and on POST")
	g.Comment("/side/NAME/reload; a failed reload keeps the last good value.")
	var vars []jen.Code
	for _, v := range values {
		args := []jen.Code{jen.Lit(v.Name), jen.Id(v.Loader),
			jen.Qual(sidePkg, "Interval").Call(jen.Op("*").Id(valueSetting(v, "Interval"))),
			jen.Qual(sidePkg, "MaxAge").Call(jen.Op("*").Id(valueSetting(v, "MaxAge")))}
		if v.OnStaleContinue {
			args = append(args, jen.Qual(sidePkg, "OnStale").Call(jen.Qual(sidePkg, "StaleContinue")))
		}
		g.Id(valueVar(v)).Op(":=").Qual(sidePkg, "NewValue").Call(args...)
		vars = append(vars, jen.Id(valueVar(v)))
	}
	g.Id("e").Dot("AddSideInputs").Call(vars...)
}

// durationLit writes d as a readable constant expression: 5 * time.Second.
func durationLit(d time.Duration) jen.Code {
	if d == 0 {
		return jen.Lit(0)
	}
	for _, u := range []struct {
		d    time.Duration
		name string
	}{{time.Hour, "Hour"}, {time.Minute, "Minute"}, {time.Second, "Second"}, {time.Millisecond, "Millisecond"}, {time.Microsecond, "Microsecond"}} {
		if d%u.d == 0 {
			if d == u.d {
				return jen.Qual("time", u.name)
			}
			return jen.Lit(int(d/u.d)).Op("*").Qual("time", u.name)
		}
	}
	return jen.Qual("time", "Duration").Parens(jen.Lit(int64(d)))
}
