package golang

import (
	"fmt"
	"strings"
	"time"

	"github.com/dave/jennifer/jen"

	"github.com/streamgen/streamgen/gen/model"
	"github.com/streamgen/streamgen/gen/spec"
)

// keyType is the Go type of a stream's key; a stream without keys uses
// struct{}.
func keyType(s *model.Stream) *jen.Statement {
	if s.Key == nil {
		return jen.Struct()
	}
	return goType(s.Key)
}

func topicsOf(st *spec.Stream) string {
	switch {
	case len(st.Subscribe) > 0:
		return "topics " + strings.Join(st.Subscribe, ", ")
	case st.Pattern != "":
		return fmt.Sprintf("topics matching %q", st.Pattern)
	default:
		var ts []string
		for t := range st.Assign {
			ts = append(ts, t)
		}
		return "assigned partitions of " + strings.Join(sortedStrings(ts), ", ")
	}
}

// emitStreams writes the per-stream aliases, the job-level Batch and
// Handler, and Config with the spec's values as defaults.
func emitStreams(f *jen.File, p *model.Package) {
	for _, s := range p.Streams {
		k, v := keyType(s), goType(s.Value)
		f.Commentf("%sRecord is a record of stream %q (%s).", s.GoName, s.Spec.Name, topicsOf(s.Spec))
		f.Type().Id(s.GoName+"Record").Op("=").Qual(runtimePkg, "Record").Types(k.Clone(), v.Clone())
		f.Commentf("%sBatch is one micro-batch of stream %q: an offset range per partition.", s.GoName, s.Spec.Name)
		f.Type().Id(s.GoName+"Batch").Op("=").Qual(runtimePkg, "Batch").Types(k.Clone(), v.Clone())
		f.Commentf("%sPartition is one partition's range within a %sBatch.", s.GoName, s.GoName)
		f.Type().Id(s.GoName+"Partition").Op("=").Qual(runtimePkg, "Partition").Types(k.Clone(), v.Clone())
		f.Line()
	}
	f.Comment("Batch is one micro-batch of the job: the same batch time on every stream.")
	f.Type().Id("Batch").StructFunc(func(g *jen.Group) {
		for _, s := range p.Streams {
			g.Id(s.GoName).Op("*").Id(s.GoName + "Batch")
		}
	})
	f.Line()
	f.Comment("Handler processes the job's batches. A batch whose handler returns an error")
	f.Comment("is not committed; it is read again, with the same offset ranges, on restart.")
	f.Type().Id("Handler").Interface(
		jen.Id("ProcessBatch").Params(jen.Id("ctx").Qual("context", "Context"), jen.Id("b").Op("*").Id("Batch")).Error(),
	)
	f.Line()
	emitConfig(f, p.Spec)
}

// configField is one Config field: its Go name and type, its doc, and the
// default taken from the spec. Runtime values (env) may hold ${VAR}
// references that DefaultConfig expands when the job starts, so no secret
// is baked into generated code.
type configField struct {
	name, doc string
	typ       jen.Code
	def       jen.Code
	env       bool // a string (or []string) default to expand at start-up
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

func configFields(sp *spec.Spec) []configField {
	str := func(s string) jen.Code { return jen.Lit(s) }
	strs := func(ss []string) jen.Code {
		return jen.Index().String().ValuesFunc(func(g *jen.Group) {
			for _, s := range ss {
				g.Lit(s)
			}
		})
	}
	k, b := sp.Kafka, sp.Batch
	return []configField{
		{"Brokers", "Kafka bootstrap brokers (kafka.brokers).", jen.Index().String(), strs(k.Brokers), true},
		{"Group", "Consumer group id (kafka.group; default the job name).", jen.String(), str(k.Group), true},
		{"RegistryURL", "Schema registry URL (schemas.registry.url); empty without a registry.", jen.String(), str(registryURL(sp)), true},
		{"StartFrom", "Where to start: committed, earliest, latest or timestamp:RFC3339 (kafka.startFrom).", jen.String(), str(k.StartFrom), false},
		{"ResetTo", "Where to start when nothing is committed: earliest, latest or error (kafka.resetTo).", jen.String(), str(k.ResetTo), false},
		{"Isolation", "read_committed or read_uncommitted (kafka.isolation).", jen.String(), str(k.Isolation), false},
		{"TLS", "Enables TLS to the brokers (kafka.tls.enabled).", jen.Bool(), jen.Lit(k.TLS.Enabled), false},
		{"TLSCA", "CA certificate file (kafka.tls.ca).", jen.String(), str(k.TLS.CA), true},
		{"TLSCert", "Client certificate file (kafka.tls.cert).", jen.String(), str(k.TLS.Cert), true},
		{"TLSKey", "Client key file (kafka.tls.key).", jen.String(), str(k.TLS.Key), true},
		{"TLSInsecureSkipVerify", "Skips server certificate verification (kafka.tls.insecureSkipVerify).", jen.Bool(), jen.Lit(k.TLS.InsecureSkipVerify), false},
		{"SASLMechanism", "PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512; empty for none (kafka.sasl.mechanism).", jen.String(), str(k.SASL.Mechanism), false},
		{"SASLUsername", "SASL user (kafka.sasl.username).", jen.String(), str(k.SASL.Username), true},
		{"SASLPassword", "SASL password (kafka.sasl.password); never logged.", jen.String(), str(k.SASL.Password), true},
		{"BatchInterval", "Time between batches (batch.interval).", jen.Qual("time", "Duration"), durationLit(b.Interval), false},
		{"MaxRatePerPartition", "Records per second per partition, 0 = unlimited (batch.maxRatePerPartition).", jen.Int64(), jen.Lit(b.MaxRatePerPartition), false},
		{"MinRatePerPartition", "Lower bound of the per-partition rate (batch.minRatePerPartition).", jen.Int64(), jen.Lit(b.MinRatePerPartition), false},
		{"Backpressure", "Adapts the rate to processing time (batch.backpressure.enabled).", jen.Bool(), jen.Lit(b.Backpressure.Enabled), false},
		{"BackpressureInitialRate", "Rate of the first batch with backpressure, 0 = maxRatePerPartition.", jen.Int64(), jen.Lit(b.Backpressure.InitialRate), false},
		{"BackpressureProportional", "PID proportional gain.", jen.Float64(), jen.Lit(b.Backpressure.Proportional), false},
		{"BackpressureIntegral", "PID integral gain.", jen.Float64(), jen.Lit(b.Backpressure.Integral), false},
		{"BackpressureDerived", "PID derivative gain.", jen.Float64(), jen.Lit(b.Backpressure.Derived), false},
		{"BackpressureMinRate", "Lowest rate backpressure may set, records/s.", jen.Int64(), jen.Lit(b.Backpressure.MinRate), false},
		{"PollTimeout", "How long a fetch may wait (batch.pollTimeout).", jen.Qual("time", "Duration"), durationLit(b.PollTimeout), false},
		{"Location", "Location strategy: consistent, brokers or fixed (location.strategy).", jen.String(), str(sp.Location.Strategy), false},
		{"Workers", "Worker goroutines, 0 = GOMAXPROCS (workers).", jen.Int(), jen.Lit(sp.Workers), false},
		{"Semantics", "at-most-once, at-least-once or exactly-once (semantics).", jen.String(), str(sp.Semantics), false},
		{"OffsetsStore", "Where offsets live: kafka, postgres or files (offsets.store).", jen.String(), str(sp.Offsets.Store), false},
		{"OffsetsDSN", "PostgreSQL DSN of the offset store (offsets.dsn).", jen.String(), str(sp.Offsets.DSN), true},
		{"OffsetsDir", "Directory of the files offset store (offsets.dir).", jen.String(), str(sp.Offsets.Dir), true},
		{"SinkType", "Output sink: none, files, postgres or kafka (sink.type).", jen.String(), str(sp.Sink.Type), false},
		{"SinkDir", "Directory of the files sink (sink.dir).", jen.String(), str(sp.Sink.Dir), true},
		{"SinkDSN", "PostgreSQL DSN of the sink (sink.dsn).", jen.String(), str(sp.Sink.DSN), true},
		{"SinkTable", "PostgreSQL table of the sink (sink.table).", jen.String(), str(sp.Sink.Table), true},
		{"SinkTopic", "Kafka topic of the sink (sink.topic).", jen.String(), str(sp.Sink.Topic), true},
		{"MaxFailures", "Attempts of a partition task before its batch fails (retries.maxFailures).", jen.Int(), jen.Lit(sp.Retries.MaxFailures), false},
		{"RetryBackoff", "Wait between attempts (retries.backoff).", jen.Qual("time", "Duration"), durationLit(sp.Retries.Backoff), false},
		{"OnDecodeError", "fail, skip or dead-letter (onDecodeError).", jen.String(), str(sp.OnDecodeError), false},
		{"DeadLetterTopic", "Topic for records that fail to decode (deadLetterTopic).", jen.String(), str(sp.DeadLetterTopic), true},
		{"GracefulShutdown", "Finish and commit the in-flight batch on stop (shutdown.graceful).", jen.Bool(), jen.Lit(sp.Shutdown.Graceful), false},
		{"ShutdownTimeout", "Bound on a graceful stop, 0 = 10 x BatchInterval (shutdown.timeout).", jen.Qual("time", "Duration"), durationLit(sp.Shutdown.Timeout), false},
		{"StatusAddr", "Address of the status and metrics server, empty = off (status.addr).", jen.String(), str(sp.Status.Addr), true},
	}
}

func registryURL(sp *spec.Spec) string {
	if sp.Schemas.Registry == nil {
		return ""
	}
	return sp.Schemas.Registry.URL
}

func emitConfig(f *jen.File, sp *spec.Spec) {
	fields := configFields(sp)
	f.Commentf("JobName is the job's name (spec key name): default group id and metrics prefix.")
	f.Const().Id("JobName").Op("=").Lit(sp.Name)
	f.Line()
	f.Comment("Config is the job's configuration; DefaultConfig holds the spec's values.")
	f.Type().Id("Config").StructFunc(func(g *jen.Group) {
		for _, c := range fields {
			g.Comment(c.doc)
			g.Id(c.name).Add(c.typ)
		}
		g.Line()
		g.Id("defaultsErr").Error()
	})
	f.Line()
	f.Comment("DefaultConfig returns the spec's configuration. ${VAR} and ${VAR:-default} in")
	f.Comment("runtime values (brokers, credentials, DSNs, paths) are expanded from the")
	f.Comment("environment now, at start-up; a reference that cannot be expanded is")
	f.Comment("reported by Validate.")
	f.Func().Id("DefaultConfig").Params().Id("Config").BlockFunc(func(g *jen.Group) {
		g.Var().Id("errs").Index().Error()
		g.Id("expand").Op(":=").Func().Params(jen.Id("key"), jen.Id("s").String()).String().Block(
			jen.List(jen.Id("v"), jen.Err()).Op(":=").Qual(envPkg, "Expand").Call(jen.Id("s"), jen.Qual("os", "LookupEnv")),
			jen.If(jen.Err().Op("!=").Nil()).Block(
				jen.Id("errs").Op("=").Append(jen.Id("errs"), jen.Qual("fmt", "Errorf").Call(jen.Lit("config %s: %w"), jen.Id("key"), jen.Err())),
			),
			jen.Return(jen.Id("v")),
		)
		g.Id("c").Op(":=").Id("Config").Values(jen.DictFunc(func(d jen.Dict) {
			for _, c := range fields {
				if c.env {
					continue
				}
				d[jen.Id(c.name)] = c.def
			}
		}))
		for _, c := range fields {
			if !c.env {
				continue
			}
			if c.name == "Brokers" {
				g.For(jen.List(jen.Id("_"), jen.Id("b")).Op(":=").Range().Add(c.def)).Block(
					jen.Comment("One entry may expand to a comma-separated list."),
					jen.For(jen.List(jen.Id("_"), jen.Id("s")).Op(":=").Range().Qual("strings", "Split").Call(jen.Id("expand").Call(jen.Lit("Brokers"), jen.Id("b")), jen.Lit(","))).Block(
						jen.If(jen.Id("s").Op("=").Qual("strings", "TrimSpace").Call(jen.Id("s")), jen.Id("s").Op("!=").Lit("")).Block(
							jen.Id("c").Dot("Brokers").Op("=").Append(jen.Id("c").Dot("Brokers"), jen.Id("s")),
						),
					),
				)
				continue
			}
			g.Id("c").Dot(c.name).Op("=").Id("expand").Call(jen.Lit(c.name), c.def)
		}
		g.Id("c").Dot("defaultsErr").Op("=").Qual("errors", "Join").Call(jen.Id("errs").Op("..."))
		g.Return(jen.Id("c"))
	})
	f.Line()
	f.Comment("Validate reports defaults that could not be expanded and values the job")
	f.Comment("cannot run with.")
	f.Func().Params(jen.Id("c").Op("*").Id("Config")).Id("Validate").Params().Error().Block(
		jen.Var().Id("errs").Index().Error(),
		jen.If(jen.Id("c").Dot("defaultsErr").Op("!=").Nil()).Block(jen.Id("errs").Op("=").Append(jen.Id("errs"), jen.Id("c").Dot("defaultsErr"))),
		jen.If(jen.Len(jen.Id("c").Dot("Brokers")).Op("==").Lit(0)).Block(jen.Id("errs").Op("=").Append(jen.Id("errs"), jen.Qual("errors", "New").Call(jen.Lit("config Brokers: no broker given")))),
		jen.If(jen.Id("c").Dot("BatchInterval").Op("<=").Lit(0)).Block(jen.Id("errs").Op("=").Append(jen.Id("errs"), jen.Qual("fmt", "Errorf").Call(jen.Lit("config BatchInterval: %v is not positive"), jen.Id("c").Dot("BatchInterval")))),
		jen.If(jen.Id("c").Dot("MaxRatePerPartition").Op("<").Lit(0)).Block(jen.Id("errs").Op("=").Append(jen.Id("errs"), jen.Qual("fmt", "Errorf").Call(jen.Lit("config MaxRatePerPartition: %d is negative"), jen.Id("c").Dot("MaxRatePerPartition")))),
		jen.Return(jen.Qual("errors", "Join").Call(jen.Id("errs").Op("..."))),
	)
}
