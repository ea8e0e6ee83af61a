package cli

import (
	"context"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"os"
	"os/signal"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/hamba/avro/v2"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sr"

	"github.com/streamgen/streamgen/gen"
	"github.com/streamgen/streamgen/gen/model"
	"github.com/streamgen/streamgen/gen/schema"
	"github.com/streamgen/streamgen/gen/spec"
	"github.com/streamgen/streamgen/internal/avrorand"
	"github.com/streamgen/streamgen/internal/devenv"
	"github.com/streamgen/streamgen/runtime/config"
	"github.com/streamgen/streamgen/runtime/envsubst"
)

// dev is `streamgen dev`: a Kafka broker and a schema registry in this
// process, holding what the spec's job reads and writes, until SIGINT or
// SIGTERM.
func dev(args []string, stdout, stderr io.Writer) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return devMain(ctx, args, stdout, stderr)
}

// devMain is dev until ctx ends; tests end it themselves.
func devMain(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("dev", flag.ContinueOnError)
	fs.SetOutput(stderr)
	specPath := fs.String("spec", "streamgen.yaml", "the job spec")
	port := fs.Int("port", devenv.DefaultBrokerPort, "loopback `port` of the Kafka broker; 0 picks a free one")
	regPort := fs.Int("registry-port", devenv.DefaultRegistryPort, "loopback `port` of the schema registry; 0 picks a free one")
	partitions := fs.Int("partitions", 3, "partitions of each topic the spec names (more where a stream assigns a higher partition)")
	var extra topicFlags
	fs.Var(&extra, "topic", "a further topic to create, `NAME` or NAME:PARTITIONS (repeatable): the topics of a stream that subscribes by pattern")
	sample := fs.Int("sample", 0, "sample records to produce to each topic a stream reads, at start, generated from its schemas")
	rate := fs.Float64("rate", 0, "sample records a second to produce to each topic a stream reads, until stopped")
	data := fs.String("data", "", "a `directory` that keeps the broker's topics, records and group offsets across restarts of streamgen dev")
	fs.Usage = func() {
		fmt.Fprint(stderr, `Usage: streamgen dev [flags]

Runs a Kafka broker and a schema registry in this process, on loopback
ports, with the topics of the spec's job (its streams', its tables', its
Kafka sink's and its dead-letter topic), the streams' schemas registered, and
optionally sample records generated from them; prints the flags to give
the job, and runs until interrupted (Ctrl-C) or sent SIGTERM.

Flags:
`)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "streamgen dev: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	if *partitions < 1 || *sample < 0 || *rate < 0 {
		fmt.Fprintln(stderr, "streamgen dev: -partitions must be at least 1, -sample and -rate at least 0")
		return 2
	}
	sp, err := spec.Load(*specPath)
	if err != nil {
		return fail(stderr, err)
	}
	pkg, err := devModel(ctx, sp)
	if err != nil {
		return fail(stderr, err)
	}
	plan, err := planTopics(sp, pkg, int32(*partitions), extra)
	if err != nil {
		return fail(stderr, fmt.Errorf("streamgen dev: %w", err))
	}
	for _, n := range plan.notes {
		fmt.Fprintf(stderr, "streamgen dev: %s\n", n)
	}

	env, err := devenv.Start(devenv.Options{BrokerPort: *port, RegistryPort: *regPort, Topics: plan.topics, DataDir: *data})
	if err != nil {
		return fail(stderr, fmt.Errorf("streamgen dev: %w", err))
	}
	defer env.Close()
	fmt.Fprintf(stdout, "Kafka broker at %s, schema registry at %s\n", env.Brokers(), env.RegistryURL())
	for _, t := range slices.Sorted(maps.Keys(plan.topics)) {
		fmt.Fprintf(stdout, "topic %s: %d partitions (%s)\n", t, plan.topics[t], plan.roles[t])
	}

	samplers, err := registerSchemas(ctx, env, pkg, plan, *sample > 0 || *rate > 0, stdout)
	if err != nil {
		return fail(stderr, fmt.Errorf("streamgen dev: %w", err))
	}
	var producer *kgo.Client
	if *sample > 0 || *rate > 0 {
		if producer, err = kgo.NewClient(kgo.SeedBrokers(env.Brokers()), kgo.RecordPartitioner(kgo.ManualPartitioner())); err != nil {
			return fail(stderr, fmt.Errorf("streamgen dev: %w", err))
		}
		defer producer.Close()
	}
	if *sample > 0 {
		for _, s := range samplers {
			if err := s.produce(ctx, producer, *sample); err != nil {
				if ctx.Err() != nil { // interrupted while producing
					fmt.Fprintln(stdout, "stopped")
					return 0
				}
				return fail(stderr, fmt.Errorf("streamgen dev: %w", err))
			}
			fmt.Fprintf(stdout, "produced %d sample records to %s\n", *sample, s.topic)
		}
	}

	printJobFlags(stdout, sp, pkg, env)
	if *rate > 0 {
		fmt.Fprintf(stdout, "producing %g sample records a second to each of %s\n", *rate, strings.Join(samplerTopics(samplers), ", "))
	}
	fmt.Fprintln(stdout, "Running until interrupted (Ctrl-C) or sent SIGTERM.")

	if *rate > 0 {
		if err := produceAtRate(ctx, producer, samplers, *rate); err != nil && ctx.Err() == nil {
			return fail(stderr, fmt.Errorf("streamgen dev: %w", err))
		}
	}
	<-ctx.Done()
	fmt.Fprintln(stdout, "stopped")
	return 0
}

// devModel resolves the spec's streams against their schemas, as generate
// does, without writing anything.
func devModel(ctx context.Context, sp *spec.Spec) (*model.Package, error) {
	srcs, err := gen.Sources(ctx, sp, false)
	if err != nil {
		return nil, err
	}
	set, err := schema.Load(srcs)
	if err != nil {
		return nil, err
	}
	return schema.Build(sp, set, nil)
}

// topicFlags are -topic's values.
type topicFlags []topicFlag

type topicFlag struct {
	name       string
	partitions int32 // 0: -partitions
}

func (f *topicFlags) String() string { return "" }
func (f *topicFlags) Set(v string) error {
	name, n, ok := strings.Cut(v, ":")
	t := topicFlag{name: name}
	if ok {
		p, err := strconv.ParseInt(n, 10, 32)
		if err != nil || p < 1 {
			return fmt.Errorf("%q: want NAME or NAME:PARTITIONS with at least 1 partition", v)
		}
		t.partitions = int32(p)
	}
	if name == "" {
		return fmt.Errorf("%q: no topic name", v)
	}
	*f = append(*f, t)
	return nil
}

// topicPlan is what dev creates: each topic's partitions and what it is
// for, and which topics and partitions each stream reads.
type topicPlan struct {
	topics map[string]int32
	roles  map[string]string
	// reads lists, per stream (by name), the topics it reads and, for an
	// assigned stream, the partitions (nil: every partition).
	reads map[string]map[string][]int32
	notes []string
}

func planTopics(sp *spec.Spec, pkg *model.Package, partitions int32, extra topicFlags) (*topicPlan, error) {
	p := &topicPlan{topics: map[string]int32{}, roles: map[string]string{}, reads: map[string]map[string][]int32{}}
	add := func(topic string, n int32, role string) {
		p.topics[topic] = max(p.topics[topic], n)
		if p.roles[topic] == "" {
			p.roles[topic] = role
		} else if !strings.Contains(p.roles[topic], role) {
			p.roles[topic] += ", " + role
		}
	}
	for _, t := range extra {
		n := t.partitions
		if n == 0 {
			n = partitions
		}
		add(t.name, n, "-topic")
	}
	for _, st := range pkg.Streams {
		reads := map[string][]int32{}
		c := st.Consumer
		switch c.Kind {
		case model.Subscribe:
			for _, t := range c.Topics {
				add(t, partitions, "stream "+st.Name)
				reads[t] = nil
			}
		case model.Assign:
			for _, tp := range c.Assign {
				add(tp.Topic, max(partitions, tp.Partition+1), "stream "+st.Name)
				reads[tp.Topic] = append(reads[tp.Topic], tp.Partition)
			}
		case model.SubscribePattern:
			re, err := regexp.Compile(c.Pattern)
			if err != nil {
				return nil, fmt.Errorf("stream %s: pattern %q: %w", st.Name, c.Pattern, err)
			}
			for _, t := range extra {
				if re.MatchString(t.name) {
					p.roles[t.name] += ", stream " + st.Name
					reads[t.name] = nil
				}
			}
			if len(reads) == 0 {
				p.notes = append(p.notes, fmt.Sprintf("stream %s subscribes to the topics matching %q, which cannot be created from a pattern: name them with -topic", st.Name, c.Pattern))
			}
		}
		p.reads[st.Name] = reads
	}
	// A table's topic must exist, or the job does not start; empty, the
	// table is too (kfake does not compact, so none is asked for).
	for _, tb := range pkg.Tables {
		add(tb.Topic, partitions, "table "+tb.Name)
	}
	expand := func(key, v string) (string, error) {
		s, err := envsubst.Expand(v, os.LookupEnv)
		if err != nil {
			return "", fmt.Errorf("%s %q: %w", key, v, err)
		}
		return s, nil
	}
	if sp.Job.SinkType == config.SinkKafka {
		t, err := expand("sink.topic", sp.Job.SinkTopic)
		if err != nil {
			return nil, err
		}
		if t != "" {
			add(t, partitions, "the Kafka sink's output")
		}
	}
	if sp.Job.DeadLetterTopic != "" {
		t, err := expand("deadLetterTopic", sp.Job.DeadLetterTopic)
		if err != nil {
			return nil, err
		}
		if t != "" {
			add(t, partitions, "dead letters")
		}
	}
	return p, nil
}

// sampler writes sample records of one stream to one topic.
type sampler struct {
	topic      string
	partitions []int32
	next       int // round robin over partitions
	gen        *avrorand.Gen
	value      avro.Schema
	valueID    int // the registry id framing each value; 0 for raw
	keyKind    model.Kind
	key        avro.Schema // an Avro key's schema, else nil
	keyID      int
	keyField   string // the value's string field a string key copies, if any
}

// registerSchemas registers each Confluent-framed stream's value (and
// Avro key) schema under TOPIC-value (TOPIC-key), as the producers'
// serializers would, and returns a sampler per topic each stream reads.
// With samples false, a stream in an encoding it cannot write gets none.
func registerSchemas(ctx context.Context, env *devenv.Env, pkg *model.Package, plan *topicPlan, samples bool, stdout io.Writer) ([]*sampler, error) {
	var out []*sampler
	seed := uint64(time.Now().UnixNano())
	for _, st := range pkg.Streams {
		valueText := st.Value.Named.Schema
		if st.WriterSchema != "" {
			valueText = st.WriterSchema // what the stream's producers write
		}
		value, err := parseSchema(valueText)
		if err != nil {
			return nil, fmt.Errorf("stream %s: %w", st.Name, err)
		}
		var key avro.Schema
		if st.Key != nil && st.Key.Named != nil {
			if key, err = parseSchema(st.Key.Named.Schema); err != nil {
				return nil, fmt.Errorf("stream %s: key: %w", st.Name, err)
			}
		}
		for _, topic := range slices.Sorted(maps.Keys(plan.reads[st.Name])) {
			s := &sampler{topic: topic, partitions: plan.reads[st.Name][topic], gen: avrorand.NewPlausible(seed, time.Now()), value: value, key: key}
			seed++
			if s.partitions == nil {
				for p := range plan.topics[topic] {
					s.partitions = append(s.partitions, p)
				}
			}
			if st.Key != nil {
				s.keyKind = st.Key.Kind
				if st.Key.Kind == model.String {
					s.keyField = idField(st.Value.Named)
				}
			}
			switch st.Encoding {
			case model.Confluent:
				if s.valueID, err = env.Register(ctx, topic+"-value", valueText); err != nil {
					return nil, err
				}
				fmt.Fprintf(stdout, "registered %s-value: id %d (%s)\n", topic, s.valueID, st.Value.Named.FullName)
				if key != nil {
					if s.keyID, err = env.Register(ctx, topic+"-key", st.Key.Named.Schema); err != nil {
						return nil, err
					}
					fmt.Fprintf(stdout, "registered %s-key: id %d (%s)\n", topic, s.keyID, st.Key.Named.FullName)
				}
			case model.Raw:
			default:
				if !samples {
					continue // nothing to write: the topic is all the job needs
				}
				return nil, fmt.Errorf("stream %s: streamgen dev cannot write sample records in its encoding yet; run it without -sample and -rate", st.Name)
			}
			out = append(out, s)
		}
	}
	return out, nil
}

// parseSchema parses a standalone schema in a cache of its own: a
// writer's version of a type and the reader's share its name.
func parseSchema(text string) (avro.Schema, error) {
	return avro.ParseWithCache(text, "", &avro.SchemaCache{})
}

// idField is the first top-level string (or UUID) field of a record whose
// name ends in "id", which a string key copies, as producers key records by their
// id; "" if it has none.
func idField(n *model.Named) string {
	if n == nil {
		return ""
	}
	for _, f := range n.Fields {
		if f.Type.Kind == model.String && (f.Type.Logical == model.NoLogical || f.Type.Logical == model.UUID) && strings.HasSuffix(strings.ToLower(f.Name), "id") {
			return f.Name
		}
	}
	return ""
}

// record draws one sample record.
func (s *sampler) record() (*kgo.Record, error) {
	v := s.gen.Value(s.value)
	val, err := s.encode(s.value, s.valueID, v)
	if err != nil {
		return nil, fmt.Errorf("sample record for %s: %w", s.topic, err)
	}
	r := &kgo.Record{Topic: s.topic, Partition: s.partitions[s.next%len(s.partitions)], Value: val}
	s.next++
	switch {
	case s.key != nil:
		if r.Key, err = s.encode(s.key, s.keyID, s.gen.Value(s.key)); err != nil {
			return nil, fmt.Errorf("sample key for %s: %w", s.topic, err)
		}
	case s.keyKind == model.String || s.keyKind == model.Bytes:
		k := fmt.Sprintf("key-%d", s.next)
		if m, ok := v.(map[string]any); ok && s.keyField != "" {
			k, _ = m[s.keyField].(string)
		}
		r.Key = []byte(k)
	case s.keyKind == model.Int:
		r.Key = binary.BigEndian.AppendUint32(nil, uint32(s.next))
	case s.keyKind == model.Long:
		r.Key = binary.BigEndian.AppendUint64(nil, uint64(s.next))
	}
	return r, nil
}

// encode writes v as Avro binary, after the Confluent header when id is
// a registry id.
func (s *sampler) encode(schema avro.Schema, id int, v any) ([]byte, error) {
	var b []byte
	if id != 0 {
		var err error
		if b, err = new(sr.ConfluentHeader).AppendEncode(nil, id, nil); err != nil {
			return nil, err
		}
	}
	body, err := avro.Marshal(schema, v)
	if err != nil {
		return nil, err
	}
	return append(b, body...), nil
}

func (s *sampler) produce(ctx context.Context, cl *kgo.Client, n int) error {
	const chunk = 1000
	for n > 0 {
		recs := make([]*kgo.Record, 0, min(n, chunk))
		for range min(n, chunk) {
			r, err := s.record()
			if err != nil {
				return err
			}
			recs = append(recs, r)
		}
		if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
			return fmt.Errorf("produce to %s: %w", s.topic, err)
		}
		n -= len(recs)
	}
	return nil
}

// produceAtRate produces rate records a second to each sampler's topic,
// ten times a second, until ctx ends.
func produceAtRate(ctx context.Context, cl *kgo.Client, samplers []*sampler, rate float64) error {
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	start := time.Now()
	produced := 0
	for {
		select {
		case <-ctx.Done():
			return nil
		case now := <-tick.C:
			due := int(rate*now.Sub(start).Seconds()) - produced
			if due <= 0 {
				continue
			}
			for _, s := range samplers {
				if err := s.produce(ctx, cl, due); err != nil {
					return err
				}
			}
			produced += due
		}
	}
}

func samplerTopics(ss []*sampler) []string {
	var ts []string
	for _, s := range ss {
		ts = append(ts, s.topic)
	}
	return ts
}

// specValue says what a spec's setting holds when the environment sets
// nothing: its value, or that the job has none until it is given one.
func specValue(v string) string {
	if _, err := envsubst.Expand(v, func(string) (string, bool) { return "", false }); err != nil {
		return fmt.Sprintf("required: the spec's %s has no default", v)
	}
	return fmt.Sprintf("the spec's is %q", v)
}

// printJobFlags prints the flags, and the environment, that point the
// spec's job at the broker and registry, and the settings it needs that
// dev cannot give it.
func printJobFlags(w io.Writer, sp *spec.Spec, pkg *model.Package, env *devenv.Env) {
	registry := len(pkg.RegistryUsers()) > 0
	flags := []string{"--" + config.FlagName("kafka.brokers"), env.Brokers()}
	vars := []string{config.EnvName(sp.Name, "kafka.brokers") + "=" + env.Brokers()}
	if registry {
		// --registry is the short alias of --registry-url.
		flags = append(flags, "--registry", env.RegistryURL())
		vars = append(vars, config.EnvName(sp.Name, "schemas.registry.url")+"="+env.RegistryURL())
	}
	fmt.Fprintf(w, "\nRun the job %s with these flags:\n  %s\n", sp.Name, strings.Join(flags, " "))
	fmt.Fprintf(w, "or this environment:\n  %s\n", strings.Join(vars, " "))
	j := sp.Job
	var also []string
	if j.SinkType == config.SinkFiles {
		also = append(also, fmt.Sprintf("--%s DIR (the files sink's directory; %s)", config.FlagName("sink.dir"), specValue(j.SinkDir)))
	}
	if j.SinkType == config.SinkBlob {
		also = append(also, fmt.Sprintf("--%s URL (the blob sink's location, file:///DIR on this machine; %s)", config.FlagName("sink.url"), specValue(j.SinkURL)))
	}
	if j.OffsetsStore == config.StoreFiles && j.OffsetsDir != j.SinkDir {
		also = append(also, fmt.Sprintf("--%s DIR (the offsets' directory; %s)", config.FlagName("offsets.dir"), specValue(j.OffsetsDir)))
	}
	if j.SinkType == config.SinkPostgres {
		also = append(also, fmt.Sprintf("--%s DSN (the PostgreSQL sink's database)", config.FlagName("sink.dsn")))
	}
	if j.OffsetsStore == config.StorePostgres && (j.SinkType != config.SinkPostgres || j.OffsetsDSN != j.SinkDSN) {
		also = append(also, fmt.Sprintf("--%s DSN (the PostgreSQL database of the offsets)", config.FlagName("offsets.dsn")))
	}
	if j.TLS {
		also = append(also, fmt.Sprintf("--%s=false (the spec enables TLS to the brokers; dev's broker speaks plain TCP)", config.FlagName("kafka.tls.enabled")))
	}
	if j.SASLMechanism != "" {
		also = append(also, fmt.Sprintf("--%s= (the spec sets SASL %q; dev's broker takes none)", config.FlagName("kafka.sasl.mechanism"), j.SASLMechanism))
	}
	if len(also) > 0 {
		fmt.Fprintf(w, "Give the job also, where its spec's values do not suit:\n  %s\n", strings.Join(also, "\n  "))
	}
}
