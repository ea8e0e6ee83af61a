package runtime

import (
	"cmp"
	"context"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/sr"

	"github.com/streamgen/streamgen/internal/backoff"
	"github.com/streamgen/streamgen/runtime/codec"
	"github.com/streamgen/streamgen/runtime/tlsfiles"
)

// This file owns the schema registry: writer schemas by id, their cache
// and retries, the Confluent-framed decoders, the serializer, and the
// registry's health.

// ErrUnknownSchemaID is wrapped by decode errors for a schema id the
// registry does not know.
var ErrUnknownSchemaID = errors.New("schema id unknown to the registry")

// ErrTransient is wrapped by decode errors that say nothing about the
// record: the record is not bad, so whatever the DecodePolicy it is never
// skipped or dead-lettered; its batch fails and is re-read. A custom
// Decoder whose failure may pass (a lookup in another service, say)
// should wrap it; context errors count as transient too.
var ErrTransient = errors.New("transient failure")

// ErrRegistryUnavailable is wrapped by decode errors that come from the
// schema registry not answering before the job stopped. It wraps
// ErrTransient.
var ErrRegistryUnavailable = fmt.Errorf("schema registry unavailable (%w)", ErrTransient)

// ErrBadWriterSchema is wrapped by decode errors for a schema id whose
// schema the registry returned but that cannot be used: not Avro, not
// parseable, or with references that do not fit. Like an unknown id, it
// is remembered and its records go through the DecodePolicy.
var ErrBadWriterSchema = errors.New("writer schema unusable")

// permanent reports whether a lookup error will not change by asking again.
func permanent(err error) bool {
	return errors.Is(err, ErrUnknownSchemaID) || errors.Is(err, ErrBadWriterSchema)
}

// WireError is a decode error of a Confluent-framed key or value whose
// header named SchemaID.
type WireError struct {
	SchemaID int
	Err      error
}

func (e *WireError) Error() string { return fmt.Sprintf("schema id %d: %v", e.SchemaID, e.Err) }

func (e *WireError) Unwrap() error { return e.Err }

// SchemaRegistry looks up the writer schemas of Confluent-framed records
// by id: one fetch per id even when many partitions meet it at once,
// cached for the life of the job (ids are immutable). While the registry
// is unreachable or failing (errors, not answers), lookups are retried
// with backoff until it answers or ctx ends; a record is never skipped
// because the registry is down, so its batch waits, or fails and is
// re-read. Its answers are remembered: a schema (after asking a few times
// for an id it says it does not know: ErrUnknownSchemaID) or a schema it
// returned that cannot be used (ErrBadWriterSchema).
type SchemaRegistry struct {
	url string
	cl  *sr.Client

	mu   sync.Mutex
	byID map[int]*schemaEntry

	// MaxBackoff caps the wait between retries (default 10 s).
	MaxBackoff time.Duration
	// StartWait bounds how long Serializer, which a job calls as it
	// starts, waits for a registry that does not answer (default 5m,
	// the default kafka.outageLimit).
	StartWait time.Duration
	// SlowAnswer is how long a lookup's first request may go unanswered
	// before that is logged, once (default 5 s): a registry URL that
	// names a server that never answers HTTP would otherwise be silent
	// for the request timeout (30 s).
	SlowAnswer time.Duration
	// Log is told when a lookup starts retrying (then every tenth retry)
	// and when the registry answers again. Default slog.Default().
	Log *slog.Logger
	// Hook, if set, is told of every request for a writer schema (the
	// engine's, Engine.RegistryHook, counts them for metrics).
	Hook RegistryHook
}

// RegistryHook is told the outcome of each request a SchemaRegistry makes
// for a writer schema, retries included (cached ids make none). err is
// nil on success, wraps ErrUnknownSchemaID or ErrBadWriterSchema for
// answers that are not a usable schema, and is the failure otherwise.
// Calls come from decoding goroutines, concurrently: keep them cheap.
type RegistryHook interface {
	RegistryLookup(id int, err error)
}

// RegistryHook is what a SchemaRegistry made for this engine's streams
// should have as its Hook: the engine's own account of the registry's
// health (Snapshot's Registry, /readyz) and the hooks given with the
// RegistryHooks option.
func (e *Engine) RegistryHook() RegistryHook {
	return append(registryHooks{e.registry}, e.cfg.registryHooks...)
}

// registryHealth keeps Snapshot's Registry: failing since the first
// lookup that got no answer (an error, not an unknown id or unusable
// schema), until one gets an answer.
type registryHealth struct {
	stopping *atomic.Bool // failed lookups are the job stopping
	mu       sync.Mutex
	h        RegistryHealth
}

func (r *registryHealth) RegistryLookup(_ int, err error) {
	answered := err == nil || errors.Is(err, ErrUnknownSchemaID) || errors.Is(err, ErrBadWriterSchema)
	if !answered && (errors.Is(err, context.Canceled) || r.stopping.Load()) {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if answered {
		r.h = RegistryHealth{}
		return
	}
	if r.h.FailingSince.IsZero() {
		r.h.FailingSince = time.Now()
	}
	r.h.LastError = err.Error()
}

// over reports a registry that has got no answer for longer than limit
// (the job's outage limit, kafka.outageLimit), as the brokers' outage
// does: records that need it wait, and a job that waits for good, its
// batches empty, looks alive while it reads nothing (say, a registry URL
// that names another service).
func (r *registryHealth) over(limit time.Duration) error {
	if limit <= 0 {
		return nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	h := r.h
	if h.FailingSince.IsZero() || time.Since(h.FailingSince) <= limit {
		return nil
	}
	return &RegistryOutageError{Since: h.FailingSince, For: time.Since(h.FailingSince), Limit: limit, Last: h.LastError}
}

// RegistryOutageError ends Run when schema registry lookups have got no
// answer for longer than the outage limit.
type RegistryOutageError struct {
	Since      time.Time
	For, Limit time.Duration
	Last       string // the latest failure, naming the registry
}

func (e *RegistryOutageError) Error() string {
	return fmt.Sprintf("the schema registry has not answered for %s (since %s), longer than the outage limit %s (kafka.outageLimit): the records that need it cannot be read; check the registry URL (schemas.registry.url); last failure: %s",
		e.For.Round(time.Millisecond), e.Since.UTC().Format(time.RFC3339), e.Limit, e.Last)
}

func (r *registryHealth) snapshot() RegistryHealth {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.h
}

type registryHooks []RegistryHook

func (hs registryHooks) RegistryLookup(id int, err error) {
	for _, h := range hs {
		h.RegistryLookup(id, err)
	}
}

type schemaEntry struct {
	ready  chan struct{}
	schema string
	err    error
}

// RegistryHTTPClient is the registry client option of an HTTP client that
// uses tc (nil: the defaults), as tlsfiles.HTTPClient makes it.
func RegistryHTTPClient(tc *tls.Config) sr.ClientOpt {
	return sr.HTTPClient(tlsfiles.HTTPClient(tc))
}

// NewSchemaRegistry returns a registry client for url. Lookups are bounded
// by the context each is made with (a decoder's: it ends when the job
// stops).
func NewSchemaRegistry(url string, opts ...sr.ClientOpt) (*SchemaRegistry, error) {
	cl, err := sr.NewClient(append([]sr.ClientOpt{sr.URLs(url), RegistryHTTPClient(nil)}, opts...)...)
	if err != nil {
		return nil, fmt.Errorf("schema registry %s: %w", url, err)
	}
	return &SchemaRegistry{url: url, cl: cl, byID: map[int]*schemaEntry{}, MaxBackoff: 10 * time.Second}, nil
}

// WriterSchema returns the standalone schema registered under id, with
// any schema references written in place. While the registry does not
// answer it retries until ctx ends; a caller that finds the lookup of id
// under way waits for it, or for its own ctx.
func (r *SchemaRegistry) WriterSchema(ctx context.Context, id int) (string, error) {
	r.mu.Lock()
	e, ok := r.byID[id]
	if !ok {
		e = &schemaEntry{ready: make(chan struct{})}
		r.byID[id] = e
		r.mu.Unlock()
		e.schema, e.err = r.fetch(ctx, id)
		if e.err != nil && !permanent(e.err) {
			// A transient failure (ctx ended) is not remembered: the
			// next lookup tries again.
			r.mu.Lock()
			delete(r.byID, id)
			r.mu.Unlock()
		}
		close(e.ready)
		return e.schema, e.err
	}
	r.mu.Unlock()
	select {
	case <-e.ready:
		return e.schema, e.err
	case <-ctx.Done():
		return "", fmt.Errorf("%w: %s: schema id %d: giving up as the job stops: %w", ErrRegistryUnavailable, r.url, id, ctx.Err())
	}
}

// unknownTries is how often an id the registry says it does not know is
// asked for before the answer is believed (and remembered): a schema just
// registered on the leader can take a moment to reach the instance
// answering, while producers already use its id.
const unknownTries = 4

func (r *SchemaRegistry) fetch(ctx context.Context, id int) (string, error) {
	log := r.Log
	if log == nil {
		log = slog.Default()
	}
	var schema string
	unknown, failed := 0, 0
	var warned atomic.Bool // a failure was logged: the slow answer need not be
	slow := cmp.Or(r.SlowAnswer, 5*time.Second)
	timer := time.AfterFunc(slow, func() {
		if !warned.Load() {
			log.Warn("schema registry has not answered a lookup yet; the batch waits",
				"registry", r.url, "schema_id", id, "waited", slow.String())
		}
	})
	defer timer.Stop()
	err := backoff.Retry{First: 100 * time.Millisecond, Max: r.maxBackoff(), Failed: func(err error, _ int) error {
		switch {
		case errors.Is(err, ErrBadWriterSchema):
			return err
		case errors.Is(err, ErrUnknownSchemaID):
			if unknown++; unknown >= unknownTries {
				return err
			}
		default:
			if failed++; failed%10 == 1 {
				warned.Store(true)
				log.Warn("schema registry lookup failed; the batch waits and the lookup is retried until the registry answers",
					"registry", r.url, "schema_id", id, "tries", failed, "error", err.Error())
			}
		}
		return nil
	}}.Do(ctx, func() error {
		s, err := r.fetchOnce(ctx, id)
		if r.Hook != nil {
			r.Hook.RegistryLookup(id, err)
		}
		schema = s
		return err
	})
	switch {
	case err == nil:
		if failed > 0 {
			log.Info("schema registry answered", "registry", r.url, "schema_id", id, "failed_tries", failed)
		}
		return schema, nil
	case ctx.Err() != nil && !errors.Is(err, ErrBadWriterSchema):
		// %v: the last error's kind (say, not known yet) is not the
		// outcome, which is transient.
		return "", fmt.Errorf("%w: %s: schema id %d: giving up as the job stops: %v", ErrRegistryUnavailable, r.url, id, err)
	}
	return "", err
}

func (r *SchemaRegistry) fetchOnce(ctx context.Context, id int) (string, error) {
	s, err := r.cl.SchemaByID(ctx, id)
	if err != nil {
		var re *sr.ResponseError
		if errors.As(err, &re) && re.StatusCode == http.StatusNotFound {
			return "", fmt.Errorf("%w: registry %s has no schema %d", ErrUnknownSchemaID, r.url, id)
		}
		return "", fmt.Errorf("registry %s: schema %d: %w", r.url, id, err)
	}
	if s.Type != sr.TypeAvro {
		return "", fmt.Errorf("%w: schema %d in registry %s is %s, not Avro", ErrBadWriterSchema, id, r.url, s.Type)
	}
	if len(s.References) == 0 {
		return s.Schema, nil
	}
	var refs []string
	seen := map[string]bool{}
	var collect func([]sr.SchemaReference) error
	collect = func(rs []sr.SchemaReference) error {
		for _, ref := range rs {
			key := fmt.Sprintf("%s@%d", ref.Subject, ref.Version)
			if seen[key] {
				continue
			}
			seen[key] = true
			ss, err := r.cl.SchemaByVersion(ctx, ref.Subject, ref.Version)
			if err != nil {
				var re *sr.ResponseError
				if errors.As(err, &re) && re.StatusCode == http.StatusNotFound {
					// A deleted reference does not come back: retrying
					// would hold the batch for good.
					return fmt.Errorf("%w: schema %d in registry %s references %s version %d, which the registry does not have", ErrUnknownSchemaID, id, r.url, ref.Subject, ref.Version)
				}
				return err
			}
			if err := collect(ss.References); err != nil {
				return err
			}
			refs = append(refs, ss.Schema.Schema)
		}
		return nil
	}
	if err := collect(s.References); err != nil {
		return "", err
	}
	full, err := codec.WithReferences(s.Schema, refs)
	if err != nil {
		return "", fmt.Errorf("%w: schema %d in registry %s with its references: %w", ErrBadWriterSchema, id, r.url, err)
	}
	return full, nil
}

// ConfluentAvro decodes the Confluent wire format: magic byte 0, a 4-byte
// big-endian schema id, the Avro body. With a registry, the writer schema
// is looked up by id and resolved against T's schema once per id: records
// written with older or newer compatible versions decode with the
// reader's defaults, and a writer equal to T's schema takes the
// specialized fast path. With a nil registry the body must be written with
// T's own schema (the job has no registry to ask).
func ConfluentAvro[T any, PT codec.RecordPtr[T]](reg *SchemaRegistry) Decoder[T] {
	return ConfluentAvroInto[T, PT](reg).Decoder()
}

// ConfluentAvroInto is ConfluentAvro decoding in place: what generated jobs
// use, so a record's value is decoded where the batch keeps it.
func ConfluentAvroInto[T any, PT codec.RecordPtr[T]](reg *SchemaRegistry) DecoderInto[T] {
	if reg == nil {
		return func(ctx context.Context, dst *T, b []byte) error {
			id, err := confluentHeader(b)
			if err != nil {
				return err
			}
			if err := unmarshalShared[T, PT](ctx, dst, b[5:]); err != nil {
				return &WireError{SchemaID: id, Err: err}
			}
			return nil
		}
	}
	// A zero T, not a nil PT: a type that embeds a generated record gets
	// AvroSchema by promotion, which dereferences its receiver.
	resolver := codec.NewResolver(PT(new(T)).AvroSchema())
	// cache maps a schema id to its *writerDecoder. An id whose writer
	// cannot be resolved is cached too: it stays unreadable (ids are
	// immutable), and records skipped with it must not re-resolve.
	var cache sync.Map
	return func(ctx context.Context, dst *T, b []byte) error {
		id, err := confluentHeader(b)
		if err != nil {
			return err
		}
		wd, ok := cache.Load(id)
		if !ok {
			writer, err := reg.WriterSchema(ctx, id)
			if err != nil && !permanent(err) {
				return &WireError{SchemaID: id, Err: err} // transient: not cached
			}
			d := &writerDecoder{err: err, writer: writer}
			if err == nil {
				d.res, d.err = resolver.ForWriter(writer)
				if d.err != nil && !incompatible(d.err) {
					d.err = fmt.Errorf("%w: %w", ErrBadWriterSchema, d.err)
				}
			}
			wd, _ = cache.LoadOrStore(id, d)
		}
		switch d := wd.(*writerDecoder); {
		case d.err != nil:
			err = d.err
		case d.res == nil:
			err = unmarshalShared[T, PT](ctx, dst, b[5:])
		default:
			// Through the generated type's own resolver, which has the
			// decoders generated for writers known at generation time and
			// transcodes the others (resolved above, so this is cached).
			err = PT(dst).UnmarshalAvroFrom(d.writer, b[5:])
		}
		if err != nil {
			return &WireError{SchemaID: id, Err: err}
		}
		return nil
	}
}

// writerDecoder is how ConfluentAvro reads one writer schema id: through
// UnmarshalAvroFrom with writer (res is nil when the writer is the reader's
// schema: the fast path), or not at all (err).
type writerDecoder struct {
	res    *codec.Resolution
	err    error
	writer string
}

func confluentHeader(b []byte) (int, error) {
	if len(b) < 5 {
		return 0, fmt.Errorf("%w: %d bytes, shorter than the 5-byte header", ErrBadMagic, len(b))
	}
	if b[0] != 0 {
		return 0, fmt.Errorf("%w: first byte %#x", ErrBadMagic, b[0])
	}
	return int(binary.BigEndian.Uint32(b[1:5])), nil
}

// Serializer writes values in the Confluent wire format under one schema
// id: for test producers, dead-letter output and the Kafka sink.
type Serializer struct {
	header [5]byte
	id     int
}

// Serializer looks up (or, with register, registers) schema under subject
// and returns a serializer for its id. Registering a schema the subject
// already has returns its existing id.
func (r *SchemaRegistry) Serializer(ctx context.Context, subject, schema string, register bool) (*Serializer, error) {
	s := sr.Schema{Schema: schema, Type: sr.TypeAvro}
	verb := "looking up"
	if register {
		verb = "registering"
	}
	log := r.Log
	if log == nil {
		log = slog.Default()
	}
	// A registry that does not answer (not up yet, restarting) is waited
	// for, as brokers are: one warning, then quiet retries, for up to
	// StartWait. Its answers (incompatible, unknown subject) are final.
	var ss sr.SubjectSchema
	err := backoff.Retry{
		First: 100 * time.Millisecond, Max: r.maxBackoff(), For: r.startWait(),
		Failed: func(err error, failures int) error {
			if registryAnswered(err) {
				return err
			}
			if failures == 1 {
				log.Warn("cannot reach the schema registry; retrying quietly until it answers", "registry", r.url, "subject", subject,
					"error", err.Error(), "start_wait", r.startWait().String())
			}
			return nil
		},
		Recovered: func(int) { log.Info("schema registry answered", "registry", r.url, "subject", subject) },
	}.Do(ctx, func() (err error) {
		if register {
			ss, err = r.cl.CreateSchema(ctx, subject, s)
		} else {
			ss, err = r.cl.LookupSchema(ctx, subject, s)
		}
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("schema registry %s: %s the schema under subject %q: %w", r.url, verb, subject, err)
	}
	out := &Serializer{id: ss.ID}
	binary.BigEndian.PutUint32(out.header[1:], uint32(ss.ID))
	return out, nil
}

// registryAnswered reports whether err is the registry's answer (a 4xx:
// incompatible, unknown, invalid) rather than no answer (a failed
// request, a 5xx).
func registryAnswered(err error) bool {
	var re *sr.ResponseError
	return errors.As(err, &re) && re.StatusCode < 500
}

func (r *SchemaRegistry) startWait() time.Duration {
	if r.StartWait > 0 {
		return r.StartWait
	}
	return 5 * time.Minute
}

func (r *SchemaRegistry) maxBackoff() time.Duration {
	if r.MaxBackoff > 0 {
		return r.MaxBackoff
	}
	return 10 * time.Second
}

// ID is the schema id the serializer writes.
func (s *Serializer) ID() int { return s.id }

// Append appends v in the wire format: header, then v's Avro binary.
func (s *Serializer) Append(dst []byte, v codec.Record) ([]byte, error) {
	return v.AppendAvro(s.AppendHeader(dst))
}

// AppendHeader appends the wire format's header alone (magic byte and
// schema id), for a body encoded by other means.
func (s *Serializer) AppendHeader(dst []byte) []byte { return append(dst, s.header[:]...) }
