package cli

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hamba/avro/v2"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sr"

	"github.com/streamgen/streamgen/examples/kafka-to-kafka/enrich"
	"github.com/streamgen/streamgen/internal/devenv"
	"github.com/streamgen/streamgen/internal/logbuf"
	"github.com/streamgen/streamgen/templates"
)

// devRun is a streamgen dev running in the test's process.
type devRun struct {
	out, errs   logbuf.Buffer
	code        chan int
	stop        context.CancelFunc
	brokers     string
	registryURL string
}

// startDev runs streamgen dev with args on free ports until the test ends
// (or stopDev), and waits until it says it is running.
func startDev(t *testing.T, args ...string) *devRun {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	d := &devRun{code: make(chan int, 1), stop: cancel}
	go func() {
		d.code <- devMain(ctx, append([]string{"-port", "0", "-registry-port", "0"}, args...), &d.out, &d.errs)
	}()
	t.Cleanup(func() { d.stopDev(t) })
	deadline := time.After(60 * time.Second)
	for !strings.Contains(d.out.String(), "Running until interrupted") {
		select {
		case code := <-d.code:
			d.code <- code
			t.Fatalf("streamgen dev %s: exit %d before running:\n%s%s", strings.Join(args, " "), code, d.out.String(), d.errs.String())
		case <-deadline:
			t.Fatalf("streamgen dev did not start within 60s:\n%s%s", d.out.String(), d.errs.String())
		case <-time.After(10 * time.Millisecond):
		}
	}
	m := regexp.MustCompile(`Kafka broker at (\S+), schema registry at (\S+)\n`).FindStringSubmatch(d.out.String())
	if m == nil {
		t.Fatalf("streamgen dev does not say where its broker and registry are:\n%s", d.out.String())
	}
	d.brokers, d.registryURL = m[1], m[2]
	return d
}

// stopDev ends dev as SIGINT would and checks that it stops cleanly.
func (d *devRun) stopDev(t *testing.T) {
	t.Helper()
	d.stop()
	select {
	case code := <-d.code:
		d.code <- code
		if code != 0 || !strings.HasSuffix(d.out.String(), "stopped\n") {
			t.Errorf("streamgen dev stopped with exit %d:\n%s%s", code, d.out.String(), d.errs.String())
		}
	case <-time.After(30 * time.Second):
		t.Error("streamgen dev did not stop within 30s of its interrupt")
	}
}

// jobFlags are the flags dev prints for the job.
func (d *devRun) jobFlags(t *testing.T) []string {
	t.Helper()
	_, after, ok := strings.Cut(d.out.String(), "with these flags:\n  ")
	if !ok {
		t.Fatalf("streamgen dev prints no flags for the job:\n%s", d.out.String())
	}
	line, _, _ := strings.Cut(after, "\n")
	return strings.Fields(line)
}

// readAll reads every record of topic from the start until it has n or a
// minute passes.
func readAll(t *testing.T, brokers, topic string, n int, opts ...kgo.Opt) []*kgo.Record {
	t.Helper()
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(brokers), kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart())}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var recs []*kgo.Record
	for len(recs) < n {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("%s holds %d records after a minute, want %d", topic, len(recs), n)
		}
		fs.EachRecord(func(r *kgo.Record) { recs = append(recs, r) })
	}
	return recs
}

// TestDevServesTheKafkaToKafkaJob: for the Kafka-to-Kafka example (a
// Confluent-framed stream, a Kafka sink, a table), dev creates the input,
// the table's and the sink's output topics, registers the stream's schema under
// impressions-value, and produces sample records that the generated
// decoder reads through the registry as plausible impressions keyed by
// their id; it prints the job's flags and environment.
func TestDevServesTheKafkaToKafkaJob(t *testing.T) {
	d := startDev(t, "-spec", "../../examples/kafka-to-kafka/streamgen.yaml", "-sample", "40", "-partitions", "4")
	out := d.out.String()
	for _, want := range []string{
		"topic impressions: 4 partitions (stream impressions)\n",
		"topic impressions-enriched: 4 partitions (the Kafka sink's output)\n",
		"topic campaigns: 4 partitions (table campaigns)\n",
		"registered impressions-value: id 1 (com.example.ads.Impression)\n",
		"produced 40 sample records to impressions\n",
		"KAFKA_TO_KAFKA_BROKERS=" + d.brokers + " KAFKA_TO_KAFKA_REGISTRY_URL=" + d.registryURL + "\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("streamgen dev's output lacks %q:\n%s", want, out)
		}
	}
	if got, want := strings.Join(d.jobFlags(t), " "), "--brokers "+d.brokers+" --registry "+d.registryURL; got != want {
		t.Errorf("the job's flags are %q, want %q", got, want)
	}

	cl, err := kgo.NewClient(kgo.SeedBrokers(d.brokers))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	details, err := kadm.NewClient(cl).ListTopics(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, topic := range []string{"impressions", "impressions-enriched"} {
		if n := len(details[topic].Partitions); n != 4 {
			t.Errorf("topic %s has %d partitions, want 4", topic, n)
		}
	}

	reg, err := sr.NewClient(sr.URLs(d.registryURL))
	if err != nil {
		t.Fatal(err)
	}
	perPartition := map[int32]int{}
	ids := map[string]bool{}
	for _, r := range readAll(t, d.brokers, "impressions", 40) {
		perPartition[r.Partition]++
		id, body, err := new(sr.ConfluentHeader).DecodeID(r.Value)
		if err != nil {
			t.Fatalf("partition %d offset %d: %v", r.Partition, r.Offset, err)
		}
		writer, err := reg.SchemaByID(context.Background(), id)
		if err != nil {
			t.Fatalf("schema id %d: %v", id, err)
		}
		var imp enrich.Impression
		if err := imp.UnmarshalAvroFrom(writer.Schema, body); err != nil {
			t.Fatalf("partition %d offset %d: %v", r.Partition, r.Offset, err)
		}
		if string(r.Key) != imp.ImpressionID || !uuidText.MatchString(imp.ImpressionID) || !strings.HasPrefix(imp.PublisherID, "publisher_id-") {
			t.Errorf("record key %q, impression id %q, publisher %q: want the key the id, the id a UUID, the publisher made from the field's name", r.Key, imp.ImpressionID, imp.PublisherID)
		}
		if age := time.Since(imp.Timestamp); age < 0 || age > 5*time.Minute {
			t.Errorf("impression %s is timed %s, not within the last minutes", imp.ImpressionID, imp.Timestamp)
		}
		if imp.CampaignID < 0 || imp.BidPrice == nil || imp.BidPrice.Sign() < 0 {
			t.Errorf("impression %s: campaign %d, bid %v; want neither negative", imp.ImpressionID, imp.CampaignID, imp.BidPrice)
		}
		ids[imp.ImpressionID] = true
	}
	for p := range int32(4) {
		if perPartition[p] != 10 {
			t.Errorf("partition %d holds %d sample records, want 10 (every partition gets its share)", p, perPartition[p])
		}
	}
	if len(ids) < 30 {
		t.Errorf("only %d distinct impression ids among 40 samples", len(ids))
	}
}

var uuidText = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

// TestDevTopicsOfEveryKind: a raw stream (plain Avro bodies, generated
// from its writer schema), an assigned partition beyond -partitions, a
// pattern whose topics -topic names, and a dead-letter topic read from the
// environment with its default.
func TestDevTopicsOfEveryKind(t *testing.T) {
	dir := t.TempDir()
	impression, err := os.ReadFile("../../schemas/impression.avsc")
	if err != nil {
		t.Fatal(err)
	}
	write(t, filepath.Join(dir, "impression.avsc"), string(impression))
	write(t, filepath.Join(dir, "impression_older.avsc"), readFile(t, "../../examples/anomaly-detector/impression_older.avsc"))
	write(t, filepath.Join(dir, "streamgen.yaml"), `version: 1
name: dev-kinds
kafka:
  group: dev-kinds
schemas:
  files: [impression.avsc]
streams:
  - name: raw
    subscribe: [raw-impressions]
    value: com.example.ads.Impression
    encoding: raw
    writerSchema: impression_older.avsc
  - name: fixed
    assign: {assigned: [5]}
    key: int64
    value: com.example.ads.Impression
  - name: matched
    pattern: "^region-.*"
    value: com.example.ads.Impression
onDecodeError: dead-letter
deadLetterTopic: "${DEV_KINDS_DLQ_TEST_UNSET:-bad-impressions}"
`)
	d := startDev(t, "-spec", filepath.Join(dir, "streamgen.yaml"), "-sample", "6", "-topic", "region-eu", "-topic", "region-us:2", "-topic", "unrelated")
	out := d.out.String()
	for _, want := range []string{
		"topic assigned: 6 partitions (stream fixed)\n",
		"topic bad-impressions: 3 partitions (dead letters)\n",
		"topic raw-impressions: 3 partitions (stream raw)\n",
		"topic region-eu: 3 partitions (-topic, stream matched)\n",
		"topic region-us: 2 partitions (-topic, stream matched)\n",
		"topic unrelated: 3 partitions (-topic)\n",
		"registered assigned-value: id",
		"registered region-eu-value: id",
		"produced 6 sample records to raw-impressions\n",
		"produced 6 sample records to region-us\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("streamgen dev's output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "raw-impressions-value") || strings.Contains(out, "to unrelated") {
		t.Errorf("dev registered a raw stream's schema or wrote samples to a topic no stream reads:\n%s", out)
	}

	older := avro.MustParse(readFile(t, filepath.Join(dir, "impression_older.avsc")))
	for _, r := range readAll(t, d.brokers, "raw-impressions", 6) {
		var v map[string]any
		if err := avro.Unmarshal(older, r.Value, &v); err != nil {
			t.Fatalf("a raw sample is not the writer schema's Avro body: %v", err)
		}
	}
	for _, r := range readAll(t, d.brokers, "assigned", 6) {
		if r.Partition != 5 || len(r.Key) != 8 {
			t.Errorf("assigned sample in partition %d with a %d-byte key; want partition 5 and an int64 key", r.Partition, len(r.Key))
		}
	}
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

func TestDevErrors(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	port := fmt.Sprint(taken.Addr().(*net.TCPAddr).Port)
	spec := "../../examples/kafka-to-kafka/streamgen.yaml"
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"dev", "-spec", spec, "-registry-port", port}, 1, "choose another port with -registry-port"},
		{[]string{"dev", "-spec", spec, "-registry-port", "0", "-port", port}, 1, "choose another port with -port"},
		{[]string{"dev", "-spec", spec, "-partitions", "0"}, 2, "-partitions must be at least 1"},
		{[]string{"dev", "-spec", spec, "-topic", "x:none"}, 2, "want NAME or NAME:PARTITIONS"},
		{[]string{"dev", "-spec", "missing.yaml"}, 1, "missing.yaml"},
		{[]string{"dev", "extra"}, 2, `unexpected argument "extra"`},
		{[]string{"dev", "-h"}, 0, "-registry-port port\n    \tloopback port of the schema registry; 0 picks a free one (default 8081)"},
	} {
		code, _, errs := run(t, tc.args...)
		if code != tc.code || !strings.Contains(errs, tc.want) {
			t.Errorf("streamgen %s: exit %d, %q; want exit %d and %q", strings.Join(tc.args, " "), code, errs, tc.code, tc.want)
		}
	}
}

// readmeCommands returns the three commands of a project's README.md
// (build, streamgen dev, the job), each split into words.
func readmeCommands(t *testing.T, dir string) (build string, dev, job []string) {
	t.Helper()
	readme := readFile(t, filepath.Join(dir, "README.md"))
	_, after, ok := strings.Cut(readme, "<!-- streamgen dev: run on your machine -->\n```sh\n")
	if !ok {
		t.Fatalf("the project's README.md lacks its run-on-your-machine commands:\n%s", readme)
	}
	block, _, _ := strings.Cut(after, "```")
	lines := strings.Split(strings.TrimSpace(block), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[1], "go tool streamgen dev") {
		t.Fatalf("the README's commands are not build, go tool streamgen dev, the job:\n%s", block)
	}
	return lines[0], strings.Fields(lines[1])[4:], strings.Fields(lines[2])
}

// jobArgs is the job command's arguments of a README, pointed at d's
// ports instead of dev's defaults, after checking that they begin with
// the flags dev prints (at its default ports, which the README's are) and
// that the rest are settings dev says the job also needs.
func (d *devRun) jobArgs(t *testing.T, job []string) []string {
	t.Helper()
	local := strings.NewReplacer(
		fmt.Sprintf("127.0.0.1:%d", devenv.DefaultBrokerPort), d.brokers,
		fmt.Sprintf("http://127.0.0.1:%d", devenv.DefaultRegistryPort), d.registryURL)
	args := make([]string, len(job)-1)
	for i, a := range job[1:] {
		args[i] = strings.Trim(local.Replace(a), `"`)
	}
	flags := d.jobFlags(t)
	if len(args) < len(flags) || strings.Join(args[:len(flags)], " ") != strings.Join(flags, " ") {
		t.Fatalf("the README runs the job with %v; streamgen dev prints %v", args, flags)
	}
	for i := len(flags); i < len(args); i += 2 {
		if !strings.HasPrefix(args[i], "--") || !strings.Contains(d.out.String(), "\n  "+args[i]+" ") {
			t.Errorf("the README gives the job %s, which streamgen dev does not say it needs:\n%s", args[i], d.out.String())
		}
	}
	return args
}

// TestTemplateReadmesRunTheJobWithDevsFlags: in each template's README,
// the streamgen dev command runs, and the job's command gives the job
// exactly the flags dev prints (its ports are dev's defaults), plus only
// settings that dev says the job needs besides.
func TestTemplateReadmesRunTheJobWithDevsFlags(t *testing.T) {
	for _, tmpl := range templates.List {
		t.Run(tmpl.Name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), tmpl.Name)
			initInto(t, tmpl.Name, dir)
			build, devArgs, job := readmeCommands(t, dir)
			if want := "go mod tidy && go build -o " + tmpl.Name + " ."; build != want {
				t.Errorf("the README builds with %q, want %q", build, want)
			}
			if job[0] != "./"+tmpl.Name {
				t.Errorf("the README runs %s, not the job's binary ./%s", job[0], tmpl.Name)
			}
			d := startDev(t, append([]string{"-spec", filepath.Join(dir, "streamgen.yaml")}, devArgs...)...)
			d.jobArgs(t, job)
		})
	}
}

// TestDevRunsABuiltTemplateJob runs a user's first hour with the
// Kafka-to-Kafka template, outside this module: its README's three
// commands, as written but for the ports (free ones, not dev's defaults)
// and two flags that make the test quick (a 200ms batch interval, no
// status server): go build, streamgen dev -sample 1000, and the built job
// with the flags dev printed. Every sample impression comes out of the
// job, exactly once, enriched, on the output topic, read as a
// read_committed consumer does; then the job stops cleanly on SIGTERM.
func TestDevRunsABuiltTemplateJob(t *testing.T) {
	t.Parallel() // builds a module, beside the other tests that do (see templateBinary)
	if testing.Short() {
		t.Skip("builds a module")
	}
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command")
	}
	const name = "kafka-to-kafka"
	dir := filepath.Join(t.TempDir(), name)
	initInto(t, name, dir, "-module", "example.com/"+name)
	build, devArgs, job := readmeCommands(t, dir)
	cmd := exec.Command("sh", "-c", build)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOFLAGS="+os.Getenv("GOFLAGS")+" -mod=mod", "GOWORK=off", "GOTOOLCHAIN=local", "CGO_ENABLED=0", "PATH="+filepath.Dir(goBin)+string(os.PathListSeparator)+os.Getenv("PATH"))
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", build, err, out)
	}

	d := startDev(t, append([]string{"-spec", filepath.Join(dir, "streamgen.yaml")}, devArgs...)...)
	args := append(d.jobArgs(t, job), "--batch-interval", "200ms", "--status-addr=")
	var jobOut logbuf.Buffer
	jobCmd := exec.Command(filepath.Join(dir, name), args...)
	jobCmd.Dir, jobCmd.Stdout, jobCmd.Stderr = dir, &jobOut, &jobOut
	if err := jobCmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- jobCmd.Wait() }()
	waited := false
	defer func() {
		if !waited {
			jobCmd.Process.Kill()
			<-exited
		}
	}()

	reg, err := sr.NewClient(sr.URLs(d.registryURL))
	if err != nil {
		t.Fatal(err)
	}
	ids := func(topic string, n int, opts ...kgo.Opt) map[string]int {
		t.Helper()
		seen := map[string]int{}
		for _, r := range readAll(t, d.brokers, topic, n, opts...) {
			id, body, err := new(sr.ConfluentHeader).DecodeID(r.Value)
			if err != nil {
				t.Fatalf("%s partition %d offset %d: %v", topic, r.Partition, r.Offset, err)
			}
			s, err := reg.SchemaByID(context.Background(), id)
			if err != nil {
				t.Fatalf("%s: schema id %d: %v", topic, id, err)
			}
			var v map[string]any
			if err := avro.Unmarshal(avro.MustParse(s.Schema), body, &v); err != nil {
				t.Fatalf("%s partition %d offset %d: %v", topic, r.Partition, r.Offset, err)
			}
			imp, _ := v["impression_id"].(string)
			seen[imp]++
		}
		return seen
	}
	in := ids("impressions", 1000)
	done := make(chan map[string]int, 1)
	go func() { done <- ids("impressions-enriched", 1000, kgo.FetchIsolationLevel(kgo.ReadCommitted())) }()
	var out map[string]int
	select {
	case out = <-done:
	case err := <-exited:
		waited = true
		t.Fatalf("the job exited (%v) before writing its output:\n%s", err, jobOut.String())
	}
	for id, n := range out {
		if n != 1 || in[id] != 1 {
			t.Errorf("impression %q is %d times in the output, %d times in the input", id, n, in[id])
		}
	}
	if len(out) != len(in) {
		t.Errorf("the output holds %d impressions, the input %d", len(out), len(in))
	}

	jobCmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-exited:
		waited = true
		if err != nil {
			t.Errorf("the job exited on SIGTERM with %v:\n%s", err, jobOut.String())
		}
	case <-time.After(30 * time.Second):
		t.Errorf("the job did not stop within 30s of SIGTERM:\n%s", jobOut.String())
	}
}

// TestDevRateAndData: -rate keeps producing while dev runs, and -data
// keeps the broker's records across a restart of dev, which adds its
// samples to them.
func TestDevRateAndData(t *testing.T) {
	spec := "../../examples/kafka-to-kafka/streamgen.yaml"
	d := startDev(t, "-spec", spec, "-rate", "100")
	if !strings.Contains(d.out.String(), "producing 100 sample records a second to each of impressions\n") {
		t.Errorf("dev does not say what it produces:\n%s", d.out.String())
	}
	readAll(t, d.brokers, "impressions", 30) // 0.3s of samples, within a minute

	data := t.TempDir()
	d = startDev(t, "-spec", spec, "-sample", "7", "-data", data)
	d.stopDev(t)
	d = startDev(t, "-spec", spec, "-sample", "7", "-data", data)
	if n := len(readAll(t, d.brokers, "impressions", 14)); n != 14 {
		t.Errorf("after a restart with -data, impressions holds %d records, want 14", n)
	}
}
