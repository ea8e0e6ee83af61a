package runtime_test

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sr"
	"github.com/twmb/franz-go/pkg/sr/srfake"

	"github.com/streamgen/streamgen/generated_test/cases/evolution_v1/impressionv1"
	"github.com/streamgen/streamgen/generated_test/cases/evolution_v2/impressionv2"
	"github.com/streamgen/streamgen/generated_test/cases/evolution_v3/impressionv3"
	"github.com/streamgen/streamgen/internal/logbuf"
	"github.com/streamgen/streamgen/runtime"
)

// The reader in these tests is impressionv2.Impression, generated from
// schemas/evolution/impression_v2.avsc; v1 and v3 of the same record are
// the older and newer writers.

func evolutionAvsc(t *testing.T, v int) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "schemas", "evolution", fmt.Sprintf("impression_v%d.avsc", v)))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// idRequests counts the registry's GET /schemas/ids/{id} requests per id,
// and can fail every request while down is set.
type idRequests struct {
	mu    sync.Mutex
	byID  map[string]int
	down  atomic.Bool
	delay time.Duration
	// notYet answers this many id lookups 404, as a registry instance
	// that has not caught up with a new schema does.
	notYet atomic.Int32
}

func (c *idRequests) intercept(w http.ResponseWriter, r *http.Request) bool {
	if c.down.Load() {
		http.Error(w, `{"error_code":50001,"message":"registry is down"}`, http.StatusInternalServerError)
		return true
	}
	if id, ok := strings.CutPrefix(r.URL.Path, "/schemas/ids/"); ok {
		c.mu.Lock()
		c.byID[id]++
		c.mu.Unlock()
		if c.notYet.Add(-1) >= 0 {
			http.Error(w, `{"error_code":40403,"message":"Schema not found"}`, http.StatusNotFound)
			return true
		}
		time.Sleep(c.delay) // let concurrent lookups of the same id pile up
	}
	return false
}

func (c *idRequests) count(id int) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.byID[fmt.Sprint(id)]
}

// evolutionRegistry is an srfake registry with v1, v2 and v3 registered
// under impressions-value, counting lookups by id.
func evolutionRegistry(t *testing.T) (reg *srfake.Registry, ids [4]int, reqs *idRequests) {
	t.Helper()
	reg = srfake.New()
	t.Cleanup(reg.Close)
	for v := 1; v <= 3; v++ {
		id, _, err := reg.RegisterSchema("impressions-value", sr.Schema{Schema: evolutionAvsc(t, v)})
		if err != nil {
			t.Fatal(err)
		}
		ids[v] = id
	}
	reqs = &idRequests{byID: map[string]int{}}
	reg.Intercept(reqs.intercept)
	return reg, ids, reqs
}

func newRegistry(t *testing.T, url string) *runtime.SchemaRegistry {
	t.Helper()
	r, err := runtime.NewSchemaRegistry(url)
	if err != nil {
		t.Fatal(err)
	}
	r.MaxBackoff = 50 * time.Millisecond
	return r
}

// framed is v's Confluent wire format under schema id.
func framed(t *testing.T, id int, v interface{ AppendAvro([]byte) ([]byte, error) }) []byte {
	t.Helper()
	b := []byte{0, 0, 0, 0, 0}
	binary.BigEndian.PutUint32(b[1:], uint32(id))
	b, err := v.AppendAvro(b)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// probe is the v2 reader that remembers where the bytes it decoded were:
// in the record itself (the fast path) or in a transcoding buffer.
type probe struct {
	impressionv2.Impression
	src *byte
}

func (p *probe) UnmarshalAvro(b []byte) error {
	if len(b) > 0 {
		p.src = &b[0]
	}
	return p.Impression.UnmarshalAvro(b)
}

// TestConfluentAvroResolvesEachWriterVersion reads records written with
// v1 (older), v2 (the reader's own) and v3 (newer) through the registry:
// values are promoted, defaults applied, and only v2's records take the
// fast path, which decodes the record's own bytes.
func TestConfluentAvroResolvesEachWriterVersion(t *testing.T) {
	reg, ids, _ := evolutionRegistry(t)
	dec := runtime.ConfluentAvro[probe](newRegistry(t, reg.URL()))
	for _, tc := range []struct {
		name string
		id   int
		v    interface{ AppendAvro([]byte) ([]byte, error) }
		want impressionv2.Impression
		fast bool
	}{
		{"older", ids[1],
			&impressionv1.Impression{ID: "a", CampaignID: 7, Device: impressionv1.DeviceTypePhone, Country: "FR", Payload: new("p")},
			impressionv2.Impression{ID: "a", CampaignID: 7, Device: impressionv2.DeviceTypePhone, Country: "FR", Payload: new("p"), Viewable: false}, false},
		{"same", ids[2],
			&impressionv2.Impression{ID: "b", CampaignID: 1 << 40, Device: impressionv2.DeviceTypeTablet, Country: "US", Viewable: true},
			impressionv2.Impression{ID: "b", CampaignID: 1 << 40, Device: impressionv2.DeviceTypeTablet, Country: "US", Viewable: true}, true},
		{"newer", ids[3],
			&impressionv3.Impression{ID: "c", CampaignID: 9, Device: impressionv3.DeviceTypeDesktop, Payload: impressionv3.ImpressionPayloadString{Value: "q"}, Viewable: true},
			impressionv2.Impression{ID: "c", CampaignID: 9, Device: impressionv2.DeviceTypeDesktop, Country: "ZZ", Payload: new("q"), Viewable: true}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := framed(t, tc.id, tc.v)
			got, err := dec(t.Context(), b)
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(tc.want, got.Impression); d != "" {
				t.Errorf("(-want +got):\n%s", d)
			}
			if fast := got.src == &b[5]; fast != tc.fast {
				t.Errorf("fast path %v, want %v", fast, tc.fast)
			}
		})
	}
	// A v3 record v2 cannot represent fails, naming the id; the other v3
	// records keep decoding.
	b := framed(t, ids[3], &impressionv3.Impression{ID: "tv", Device: impressionv3.DeviceTypeTv})
	_, err := dec(t.Context(), b)
	var we *runtime.WireError
	if !errors.As(err, &we) || we.SchemaID != ids[3] || !strings.Contains(err.Error(), `"TV"`) {
		t.Errorf("a TV record read as v2: %v", err)
	}
}

// TestSchemaRegistryOneFetchPerID decodes many records of three schema ids
// from many goroutines at once: the registry is asked once per id.
func TestSchemaRegistryOneFetchPerID(t *testing.T) {
	reg, ids, reqs := evolutionRegistry(t)
	reqs.delay = 50 * time.Millisecond
	dec := runtime.ConfluentAvro[impressionv2.Impression](newRegistry(t, reg.URL()))
	recs := [][]byte{
		framed(t, ids[1], &impressionv1.Impression{ID: "1", Device: impressionv1.DeviceTypeDesktop}),
		framed(t, ids[2], &impressionv2.Impression{ID: "2", Device: impressionv2.DeviceTypeDesktop}),
		framed(t, ids[3], &impressionv3.Impression{ID: "3", Device: impressionv3.DeviceTypeDesktop}),
	}
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for g := range 48 {
		wg.Go(func() {
			for i := range 20 {
				b := recs[(g+i)%3]
				v, err := dec(t.Context(), b)
				if err == nil && v.ID != fmt.Sprint((g+i)%3+1) {
					err = fmt.Errorf("decoded id %q", v.ID)
				}
				if err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	for v := 1; v <= 3; v++ {
		if n := reqs.count(ids[v]); n != 1 {
			t.Errorf("schema id %d (v%d) fetched %d times, want once", ids[v], v, n)
		}
	}
}

// TestSchemaRegistryUnknownID: an id the registry does not have is an
// error wrapping ErrUnknownSchemaID that names the id, remembered (ids are
// immutable) so that a run of such records asks the registry once.
func TestSchemaRegistryUnknownID(t *testing.T) {
	reg, _, reqs := evolutionRegistry(t)
	r := newRegistry(t, reg.URL())
	_, err := r.WriterSchema(t.Context(), 4242)
	if !errors.Is(err, runtime.ErrUnknownSchemaID) || !strings.Contains(err.Error(), "4242") || !strings.Contains(err.Error(), reg.URL()) {
		t.Fatalf("WriterSchema(4242): %v; want ErrUnknownSchemaID naming the id and the registry", err)
	}
	dec := runtime.ConfluentAvro[impressionv2.Impression](r)
	b := framed(t, 4242, &impressionv2.Impression{Device: impressionv2.DeviceTypePhone})
	for range 3 {
		_, err := dec(t.Context(), b)
		var we *runtime.WireError
		if !errors.As(err, &we) || we.SchemaID != 4242 || !errors.Is(err, runtime.ErrUnknownSchemaID) {
			t.Fatalf("decode: %v", err)
		}
	}
	// Asked a few times (unknownTries) in case the registry had not
	// caught up, then remembered.
	if n := reqs.count(4242); n != 4 {
		t.Errorf("unknown id fetched %d times, want 4", n)
	}
}

// TestSchemaRegistryNewIDNotYetReplicated: an id the registry first says
// it does not know, then knows (a follower catching up with a schema just
// registered), decodes without an error.
func TestSchemaRegistryNewIDNotYetReplicated(t *testing.T) {
	reg, ids, reqs := evolutionRegistry(t)
	reqs.notYet.Store(2)
	dec := runtime.ConfluentAvro[impressionv2.Impression](newRegistry(t, reg.URL()))
	v, err := dec(t.Context(), framed(t, ids[2], &impressionv2.Impression{ID: "new", Device: impressionv2.DeviceTypePhone}))
	if err != nil || v.ID != "new" {
		t.Fatalf("decode = %+v, %v; want the record once the registry knows its id", v, err)
	}
	if n := reqs.count(ids[2]); n != 3 {
		t.Errorf("fetched %d times, want 3 (two 404s, then the schema)", n)
	}
}

// TestSchemaRegistryRetriesWhileDown: while the registry answers 500, a
// lookup waits and retries, and returns the schema, without an error, once
// the registry is back.
func TestSchemaRegistryRetriesWhileDown(t *testing.T) {
	reg, ids, reqs := evolutionRegistry(t)
	reqs.down.Store(true)
	r := newRegistry(t, reg.URL())
	var logs strings.Builder // written by the decoding goroutine only
	r.Log = slog.New(slog.NewTextHandler(&logs, nil))
	dec := runtime.ConfluentAvro[impressionv2.Impression](r)
	b := framed(t, ids[1], &impressionv1.Impression{ID: "late", CampaignID: 3, Device: impressionv1.DeviceTypeTablet, Country: "NL"})
	time.AfterFunc(400*time.Millisecond, func() { reqs.down.Store(false) })
	defer func() {
		out := logs.String()
		if !strings.Contains(out, "lookup failed") || !strings.Contains(out, "registry answered") || strings.Count(out, "lookup failed") > 2 {
			t.Errorf("the outage was not logged once when it began and once when it ended:\n%s", out)
		}
	}()
	start := time.Now()
	v, err := dec(t.Context(), b)
	if err != nil {
		t.Fatalf("decode while the registry came back: %v", err)
	}
	if time.Since(start) < 400*time.Millisecond {
		t.Errorf("returned after %v, before the registry was back", time.Since(start))
	}
	if want := (impressionv2.Impression{ID: "late", CampaignID: 3, Device: impressionv2.DeviceTypeTablet, Country: "NL"}); !cmp.Equal(v, want) {
		t.Errorf("got %+v, want %+v", v, want)
	}
}

// TestSchemaRegistryRetriesWhileUnreachable: nothing listens at the
// registry's address at first (connection refused); the lookup retries
// until a registry starts there.
func TestSchemaRegistryRetriesWhileUnreachable(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()

	fake := srfake.NewRegistry()
	id, _, err := fake.RegisterSchema("impressions-value", sr.Schema{Schema: evolutionAvsc(t, 3)})
	if err != nil {
		t.Fatal(err)
	}
	r := newRegistry(t, "http://"+addr)
	started := make(chan *httptest.Server, 1)
	time.AfterFunc(300*time.Millisecond, func() {
		l, err := net.Listen("tcp", addr)
		if err != nil {
			started <- nil
			return
		}
		srv := httptest.NewUnstartedServer(fake.Handler())
		srv.Listener.Close()
		srv.Listener = l
		srv.Start()
		started <- srv
	})
	schema, err := r.WriterSchema(t.Context(), id)
	if srv := <-started; srv != nil {
		defer srv.Close()
	} else {
		t.Skip("the registry's port was taken in the meantime")
	}
	if err != nil || !strings.Contains(schema, `"TV"`) {
		t.Fatalf("WriterSchema: %q, %v", schema, err)
	}
}

// TestSchemaRegistryCancellationEndsRetries: with the registry down for
// good, cancelling the job's context ends the lookup with an error that
// says the registry was unavailable, and the id is not remembered as
// unknown.
func TestSchemaRegistryCancellationEndsRetries(t *testing.T) {
	reg, ids, reqs := evolutionRegistry(t)
	reqs.down.Store(true)
	ctx, cancel := context.WithCancel(t.Context())
	r := newRegistry(t, reg.URL())
	time.AfterFunc(200*time.Millisecond, cancel)
	done := make(chan error, 1)
	go func() {
		_, err := runtime.ConfluentAvro[impressionv2.Impression](r)(ctx, framed(t, ids[2], &impressionv2.Impression{Device: impressionv2.DeviceTypePhone}))
		done <- err
	}()
	select {
	case err := <-done:
		if !errors.Is(err, runtime.ErrRegistryUnavailable) || errors.Is(err, runtime.ErrUnknownSchemaID) || !strings.Contains(err.Error(), fmt.Sprint(ids[2])) {
			t.Errorf("decode after cancel: %v; want ErrRegistryUnavailable naming the id", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the lookup did not end with its context")
	}
}

// TestSchemaRegistryReferences: a writer schema whose enum is a schema
// reference (to another subject) is read as one standalone schema; written
// out, it is v2's schema, so v2 records take the fast path.
func TestSchemaRegistryReferences(t *testing.T) {
	reg := srfake.New()
	defer reg.Close()
	const device = `{"type":"enum","name":"DeviceType","namespace":"com.example.ads","symbols":["DESKTOP","PHONE","TABLET"]}`
	if _, _, err := reg.RegisterSchema("device-value", sr.Schema{Schema: device}); err != nil {
		t.Fatal(err)
	}
	withRef := strings.Replace(evolutionAvsc(t, 2),
		`{"type": "enum", "name": "DeviceType", "symbols": ["DESKTOP", "PHONE", "TABLET"]}`, `"com.example.ads.DeviceType"`, 1)
	if withRef == evolutionAvsc(t, 2) {
		t.Fatal("could not replace the enum with a reference")
	}
	id, _, err := reg.RegisterSchema("impressions-value", sr.Schema{Schema: withRef,
		References: []sr.SchemaReference{{Name: "com.example.ads.DeviceType", Subject: "device-value", Version: 1}}})
	if err != nil {
		t.Fatal(err)
	}
	r := newRegistry(t, reg.URL())
	schema, err := r.WriterSchema(t.Context(), id)
	if err != nil || !strings.Contains(schema, `"TABLET"`) {
		t.Fatalf("WriterSchema: %q, %v", schema, err)
	}
	b := framed(t, id, &impressionv2.Impression{ID: "r", Device: impressionv2.DeviceTypeTablet, Country: "ZZ"})
	got, err := runtime.ConfluentAvro[probe](r)(t.Context(), b)
	if err != nil {
		t.Fatal(err)
	}
	if got.Device != impressionv2.DeviceTypeTablet || got.ID != "r" || got.src != &b[5] {
		t.Errorf("got %+v (fast path %v)", got.Impression, got.src == &b[5])
	}
}

// TestSerializerRegisterOrLookUp: without register, a schema the subject
// lacks is an error naming the subject; with it, the schema is registered,
// and both then agree on the id, which Append frames records with.
func TestSerializerRegisterOrLookUp(t *testing.T) {
	reg := srfake.New()
	defer reg.Close()
	r := newRegistry(t, reg.URL())
	ctx := t.Context()
	if _, err := r.Serializer(ctx, "impressions-value", impressionv2.ImpressionSchema, false); err == nil || !strings.Contains(err.Error(), `"impressions-value"`) {
		t.Fatalf("look-up of an unregistered schema: %v", err)
	}
	if reg.SubjectExists("impressions-value") {
		t.Fatal("a look-up registered the schema")
	}
	registered, err := r.Serializer(ctx, "impressions-value", impressionv2.ImpressionSchema, true)
	if err != nil {
		t.Fatal(err)
	}
	again, err := r.Serializer(ctx, "impressions-value", impressionv2.ImpressionSchema, true)
	if err != nil {
		t.Fatal(err)
	}
	looked, err := r.Serializer(ctx, "impressions-value", impressionv2.ImpressionSchema, false)
	if err != nil {
		t.Fatal(err)
	}
	if registered.ID() != looked.ID() || registered.ID() != again.ID() {
		t.Errorf("ids: registered %d, registered again %d, looked up %d", registered.ID(), again.ID(), looked.ID())
	}
	if ss, ok := reg.GetSchema("impressions-value", 1); !ok || ss.ID != registered.ID() {
		t.Errorf("registry holds %+v", ss)
	}
	if _, ok := reg.GetSchema("impressions-value", 2); ok {
		t.Error("registering the same schema again made a new version")
	}
	in := impressionv2.Impression{ID: "s", CampaignID: 12, Device: impressionv2.DeviceTypePhone, Country: "SE", Viewable: true}
	b, err := looked.Append([]byte("prefix"), &in)
	if err != nil {
		t.Fatal(err)
	}
	b = b[len("prefix"):]
	if b[0] != 0 || int(binary.BigEndian.Uint32(b[1:5])) != looked.ID() {
		t.Fatalf("header % x, want magic 0 and id %d", b[:5], looked.ID())
	}
	out, err := runtime.ConfluentAvro[impressionv2.Impression](r)(t.Context(), b)
	if err != nil || !cmp.Equal(in, out) {
		t.Errorf("round trip: %+v, %v", out, err)
	}
}

// TestSchemaRegistryMissingReference: a schema whose reference the
// registry no longer has is unreadable for good (ErrUnknownSchemaID naming
// the reference), not retried forever.
func TestSchemaRegistryMissingReference(t *testing.T) {
	fake := srfake.New()
	defer fake.Close()
	const device = `{"type":"enum","name":"DeviceType","namespace":"com.example.ads","symbols":["DESKTOP","PHONE","TABLET"]}`
	if _, _, err := fake.RegisterSchema("device-value", sr.Schema{Schema: device}); err != nil {
		t.Fatal(err)
	}
	withRef := strings.Replace(evolutionAvsc(t, 2),
		`{"type": "enum", "name": "DeviceType", "symbols": ["DESKTOP", "PHONE", "TABLET"]}`, `"com.example.ads.DeviceType"`, 1)
	id, _, err := fake.RegisterSchema("impressions-value", sr.Schema{Schema: withRef,
		References: []sr.SchemaReference{{Name: "com.example.ads.DeviceType", Subject: "device-value", Version: 1}}})
	if err != nil {
		t.Fatal(err)
	}
	// The reference is gone, as after a hard delete in a real registry
	// (srfake refuses to delete a referenced schema).
	fake.Intercept(func(w http.ResponseWriter, r *http.Request) bool {
		if strings.HasPrefix(r.URL.Path, "/subjects/device-value/") {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusNotFound)
			fmt.Fprint(w, `{"error_code":40402,"message":"Version 1 not found."}`)
			return true
		}
		return false
	})
	r := newRegistry(t, fake.URL())
	done := make(chan error, 1)
	go func() { _, err := r.WriterSchema(t.Context(), id); done <- err }()
	select {
	case err := <-done:
		if !errors.Is(err, runtime.ErrUnknownSchemaID) || !strings.Contains(err.Error(), "device-value version 1") {
			t.Errorf("WriterSchema: %v; want ErrUnknownSchemaID naming the missing reference", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("a missing reference is retried")
	}
}

// TestSchemaRegistryStopDuringUnknownRetries: a lookup the job's stop cuts
// short while the registry does not know the id yet is transient, not an
// unknown id: it is not remembered and its record is never skipped.
func TestSchemaRegistryStopDuringUnknownRetries(t *testing.T) {
	reg, _, _ := evolutionRegistry(t)
	ctx, cancel := context.WithCancel(t.Context())
	r := newRegistry(t, reg.URL())
	time.AfterFunc(150*time.Millisecond, cancel) // during the retries of an unknown id
	_, err := r.WriterSchema(ctx, 4242)
	if !errors.Is(err, runtime.ErrRegistryUnavailable) || errors.Is(err, runtime.ErrUnknownSchemaID) {
		t.Fatalf("WriterSchema = %v; want ErrRegistryUnavailable only", err)
	}
	// Asked again (giving up at once, ctx being done) rather than
	// answered from the cache, which would return the same error value.
	if _, again := r.WriterSchema(ctx, 4242); again == err || !errors.Is(again, runtime.ErrRegistryUnavailable) {
		t.Errorf("second lookup = %v: the interrupted lookup was remembered", again)
	}
	if c := (&runtime.DecodeError{SchemaID: 4242, Err: err}).Cause(); c != "transient" {
		t.Errorf("Cause = %q, want transient", c)
	}
}

// TestSchemaRegistryUnusableSchema: a schema the registry returns whose
// references do not fit is the registry's answer, not an outage: it is
// asked for once, remembered, and its records are "unusable writer schema"
// for the DecodePolicy.
func TestSchemaRegistryUnusableSchema(t *testing.T) {
	reg := srfake.New()
	defer reg.Close()
	var hits atomic.Int32
	reg.Intercept(func(w http.ResponseWriter, r *http.Request) bool {
		w.Header().Set("Content-Type", "application/vnd.schemaregistry.v1+json")
		switch {
		case strings.HasPrefix(r.URL.Path, "/schemas/ids/99"):
			hits.Add(1)
			w.Write([]byte(`{"schema":"{\"type\":\"record\",\"name\":\"R\",\"fields\":[{\"name\":\"d\",\"type\":\"com.x.Missing\"}]}","references":[{"name":"com.x.Missing","subject":"m","version":1}]}`))
			return true
		case strings.HasPrefix(r.URL.Path, "/subjects/m/versions/1"):
			w.Write([]byte(`{"subject":"m","version":1,"id":100,"schema":"{\"type\":\"enum\",\"name\":\"Other\",\"symbols\":[\"A\"]}"}`))
			return true
		}
		return false
	})
	dec := runtime.ConfluentAvro[impressionv2.Impression](newRegistry(t, reg.URL()))
	for range 3 {
		_, err := dec(t.Context(), []byte{0, 0, 0, 0, 99, 0})
		if !errors.Is(err, runtime.ErrBadWriterSchema) || errors.Is(err, runtime.ErrTransient) {
			t.Fatalf("decode = %v; want ErrBadWriterSchema", err)
		}
		if c := (&runtime.DecodeError{SchemaID: 99, Err: err}).Cause(); c != "unusable writer schema" {
			t.Errorf("Cause = %q", c)
		}
	}
	if n := hits.Load(); n != 1 {
		t.Errorf("schema 99 fetched %d times, want once", n)
	}
}

// TestStopWhileRegistryDown: a stop is not held up by decodes waiting on
// a registry that does not answer, however many are queued: with 100
// partitions and one-record fetches, more chunks wait than the decode
// queue (shrunk to 64 for the test) holds, so the polling path blocks on
// it until the stop. Decoding stops with the stop (the records are for
// batches that will not run), so Run returns cleanly, well within its
// shutdown timeout.
func TestStopWhileRegistryDown(t *testing.T) {
	const parts, rounds, queue = 100, 1, 64
	defer runtime.SetDecodeQueue(queue)()
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(parts, "impressions"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	reg := downRegistry(t)
	r := newRegistry(t, reg.URL())
	r.Log = slog.New(slog.DiscardHandler)
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	for range rounds { // one record batch per partition and round
		var rs []*kgo.Record
		for p := range int32(parts) {
			rs = append(rs, &kgo.Record{Topic: "impressions", Partition: p, Value: []byte{0, 0, 0, 0, 7, 0}})
		}
		if err := cl.ProduceSync(context.Background(), rs...).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	cl.Close()
	e, err := runtime.New(runtime.Group("g"), runtime.Brokers(c.ListenAddrs()...), runtime.BatchInterval(50*time.Millisecond),
		runtime.ShutdownTimeout(30*time.Second), runtime.KgoOpts(kgo.FetchMaxPartitionBytes(1)))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := runtime.NewStreamInto[struct{}](e, "impressions", runtime.Subscribe("impressions"), nil, runtime.ConfluentAvroInto[impressionv2.Impression](r)); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		done <- e.Run(context.Background(), func(context.Context, *runtime.JobBatch) error { return nil })
	}()
	// More than the decode queue's chunks, one record each: the queue
	// is full and the polling path waits on it.
	waitForFetched(t, e, queue+1)
	began := time.Now()
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_ = e.Stop(sctx)
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Run = %v, want a clean stop", err)
		}
		t.Logf("stopped %s after Stop", time.Since(began).Round(time.Millisecond))
	case <-time.After(5 * time.Second):
		t.Fatal("Run still running 5 s after Stop")
	}
}

// waitForFetched waits until the engine has fetched n records across its
// partitions, or fetchWait.
func waitForFetched(t *testing.T, e *runtime.Engine, n int64) {
	t.Helper()
	deadline := time.Now().Add(fetchWait)
	for time.Now().Before(deadline) {
		var got int64
		for _, p := range e.Snapshot().Partitions {
			got += p.Fetched - p.Next
		}
		if got >= n {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	var got int64
	ps := e.Snapshot().Partitions
	for _, p := range ps {
		got += p.Fetched - p.Next
	}
	t.Fatalf("the engine fetched %d records of %d partitions in %v, not %d", got, len(ps), fetchWait, n)
}

// fetchWait bounds waitForFetched: a hundred one-record fetches from
// kfake take a second or two under -race on two cores.
const fetchWait = 90 * time.Second

// TestReadyzWhileRegistryDown: records wait for a schema registry that
// does not answer, so the job is not ready meanwhile: /readyz names the
// registry's failure, and is ready again once it answers.
func TestReadyzWhileRegistryDown(t *testing.T) {
	reg, ids, reqs := evolutionRegistry(t)
	reqs.down.Store(true)
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, "impressions"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	st := runtime.NewStatus("registry-down")
	e, err := runtime.New(runtime.Group("g"), runtime.Brokers(c.ListenAddrs()...), runtime.BatchInterval(50*time.Millisecond),
		runtime.Logger(slog.New(slog.DiscardHandler)), st.Attach())
	if err != nil {
		t.Fatal(err)
	}
	r := newRegistry(t, reg.URL())
	r.Log = slog.New(slog.DiscardHandler)
	r.Hook = e.RegistryHook()
	s, err := runtime.NewStream(e, "impressions", runtime.Subscribe("impressions"), runtime.BytesDecoder, runtime.ConfluentAvro[impressionv2.Impression](r))
	if err != nil {
		t.Fatal(err)
	}
	handled := make(chan int, 100)
	done := make(chan error, 1)
	go func() {
		done <- e.Run(context.Background(), func(_ context.Context, b *runtime.JobBatch) error {
			handled <- s.Batch(b).Len()
			return nil
		})
	}()
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	v := framed(t, ids[1], &impressionv1.Impression{ID: "waits", CampaignID: 3, Device: impressionv1.DeviceTypeTablet, Country: "NL"})
	if err := cl.ProduceSync(context.Background(), &kgo.Record{Topic: "impressions", Value: v}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	wait := func(what string, cond func() bool) {
		t.Helper()
		deadline := time.Now().Add(20 * time.Second)
		for !cond() {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s (ready: %v)", what, st.Ready())
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	wait("/readyz to name the registry", func() bool {
		err := st.Ready()
		return err != nil && strings.Contains(err.Error(), "schema registry failing since") && strings.Contains(err.Error(), "down")
	})
	reqs.down.Store(false)
	wait("the record", func() bool {
		select {
		case n := <-handled:
			return n == 1
		default:
			return false
		}
	})
	wait("/readyz ok", func() bool { return st.Ready() == nil })
	if err := e.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// TestSerializerWaitsForTheRegistry: a job that registers its output
// schema as it starts (the Kafka sink) waits for a registry that does
// not answer yet, as it waits for brokers, saying so once; the
// registry's own refusal (an unknown subject) is final at once.
func TestSerializerWaitsForTheRegistry(t *testing.T) {
	reg, _, reqs := evolutionRegistry(t)
	reqs.down.Store(true)
	r := newRegistry(t, reg.URL())
	var logs logbuf.Buffer
	r.Log = logs.Logger()
	time.AfterFunc(300*time.Millisecond, func() { reqs.down.Store(false) })
	ser, err := r.Serializer(t.Context(), "impressions-value", evolutionAvsc(t, 3), false)
	if err != nil || ser == nil {
		t.Fatalf("Serializer while the registry came back: %v", err)
	}
	if n := strings.Count(logs.String(), "cannot reach the schema registry"); n != 1 || !strings.Contains(logs.String(), "schema registry answered") {
		t.Errorf("want one warning and one recovery line:\n%s", logs.String())
	}
	start := time.Now()
	if _, err := r.Serializer(t.Context(), "no-such-subject", evolutionAvsc(t, 3), false); err == nil || time.Since(start) > 5*time.Second {
		t.Errorf("an unknown subject: %v after %v, want an error at once", err, time.Since(start))
	}
}

// TestRegistryOutageLimitEndsRun: a registry that gives no answer for
// longer than the outage limit (here, 500s; a URL naming another service
// is the same) ends Run with a *RegistryOutageError naming the failure,
// as a broker outage does, instead of batches staying empty for good.
func TestRegistryOutageLimitEndsRun(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, "impressions"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	reg := downRegistry(t)
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	if err := cl.ProduceSync(context.Background(), &kgo.Record{Topic: "impressions", Value: []byte{0, 0, 0, 0, 7, 0}}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	e, err := runtime.New(runtime.Group("g"), runtime.Brokers(c.ListenAddrs()...), runtime.BatchInterval(50*time.Millisecond),
		runtime.OutageLimit(time.Second), runtime.Logger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	r := newRegistry(t, reg.URL())
	r.Log, r.Hook = slog.New(slog.DiscardHandler), e.RegistryHook()
	if _, err := runtime.NewStreamInto[struct{}](e, "impressions", runtime.Subscribe("impressions"), nil, runtime.ConfluentAvroInto[impressionv2.Impression](r)); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second) // a guard: Run ends by itself
	defer cancel()
	err = e.Run(ctx, func(context.Context, *runtime.JobBatch) error { return nil })
	var oe *runtime.RegistryOutageError
	if !errors.As(err, &oe) || oe.Limit != time.Second || !strings.Contains(err.Error(), reg.URL()) || !strings.Contains(err.Error(), "kafka.outageLimit") {
		t.Fatalf("Run = %v, want a *RegistryOutageError naming the registry and the limit", err)
	}
}

// downRegistry is an in-process registry that answers every request with
// a 500, closed when the test ends.
func downRegistry(t *testing.T) *srfake.Registry {
	reg := srfake.New()
	t.Cleanup(reg.Close)
	reg.Intercept(func(w http.ResponseWriter, r *http.Request) bool {
		http.Error(w, `{"error_code":50001,"message":"down"}`, http.StatusInternalServerError)
		return true
	})
	return reg
}

// TestSchemaRegistrySlowAnswerIsLogged: a registry URL naming a server
// that takes requests and never answers (say, Kafka's port) is logged
// once SlowAnswer has passed, not only when the request times out.
func TestSchemaRegistrySlowAnswerIsLogged(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select { // hold the request: no answer
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(release)
	r := newRegistry(t, srv.URL)
	var logs logbuf.Buffer
	r.Log, r.SlowAnswer = logs.Logger(), 50*time.Millisecond
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() {
		defer close(done)
		r.WriterSchema(ctx, 7)
	}()
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(logs.String(), "schema registry has not answered a lookup yet") {
		if time.Now().After(deadline) {
			t.Fatalf("nothing logged of a lookup unanswered for 10s:\n%s", logs.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	if s := logs.String(); !strings.Contains(s, srv.URL) || !strings.Contains(s, "schema_id=7") {
		t.Errorf("the line does not name the registry and the id:\n%s", s)
	}
	cancel()
	<-done
}
