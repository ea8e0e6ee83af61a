// Package registry reads Avro schemas from a Confluent-compatible schema
// registry for the generator, pins them in a lock file so builds can run
// offline, and checks local schemas against the registry's versions.
package registry

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/twmb/franz-go/pkg/sr"

	"github.com/streamgen/streamgen/gen/spec"
	"github.com/streamgen/streamgen/runtime/codec"
	"github.com/streamgen/streamgen/runtime/tlsfiles"
)

// Schema is one registered schema version.
type Schema struct {
	Subject     string
	Version     int
	ID          int
	Text        string // the schema as registered
	References  []sr.SchemaReference
	Fingerprint uint64 // CRC-64-AVRO of the canonical form, 0 if Text needs references
}

// Label names the schema in messages and generated file headers.
func (s Schema) Label() string {
	return fmt.Sprintf("registry %s@%d (id %d)", s.Subject, s.Version, s.ID)
}

// Client reads one registry.
type Client struct {
	url string
	cl  *sr.Client
}

// New returns a client for the spec's registry with its credentials.
func New(reg *spec.Registry) (*Client, error) {
	if len(reg.Unset) > 0 {
		return nil, reg.Unset
	}
	opts := []sr.ClientOpt{sr.URLs(reg.URL)}
	// tlsfiles, not the runtime, so that the generator does not link the
	// engine and its Kafka client.
	files := tlsfiles.Files{CA: reg.TLS.CA, Cert: reg.TLS.Cert, Key: reg.TLS.Key, InsecureSkipVerify: reg.TLS.InsecureSkipVerify}
	if files.IsZero() {
		opts = append(opts, sr.HTTPClient(tlsfiles.HTTPClient(nil)))
	} else {
		tc, err := files.Config()
		if err != nil {
			return nil, &spec.Error{Pos: reg.TLSPos, Msg: fmt.Sprintf("schemas.registry.tls: %v (registry %s)", err, reg.URL)}
		}
		opts = append(opts, sr.HTTPClient(tlsfiles.HTTPClient(tc)))
	}
	switch {
	case reg.Token != "":
		opts = append(opts, sr.BearerToken(reg.Token))
	case reg.Username != "":
		opts = append(opts, sr.BasicAuth(reg.Username, reg.Password))
	}
	cl, err := sr.NewClient(opts...)
	if err != nil {
		return nil, fmt.Errorf("registry %s: %w", reg.URL, err)
	}
	return &Client{url: reg.URL, cl: cl}, nil
}

// explain says what went wrong with a request about subject, naming the
// subject, version and registry.
func (c *Client) explain(subject string, version int, err error) error {
	what := fmt.Sprintf("subject %q", subject)
	if version > 0 {
		what += fmt.Sprintf(" version %d", version)
	} else {
		what += " (latest)"
	}
	var re *sr.ResponseError
	if errors.As(err, &re) {
		switch {
		case re.StatusCode == http.StatusUnauthorized || re.StatusCode == http.StatusForbidden:
			return fmt.Errorf("registry %s: %s: not authorized (HTTP %d): check schemas.registry username/password or token", c.url, what, re.StatusCode)
		case re.ErrorCode == sr.ErrSubjectNotFound.Code:
			return fmt.Errorf("registry %s: %s: no such subject", c.url, what)
		case re.ErrorCode == sr.ErrVersionNotFound.Code:
			return fmt.Errorf("registry %s: %s: no such version", c.url, what)
		}
		return fmt.Errorf("registry %s: %s: HTTP %d: %v", c.url, what, re.StatusCode, re)
	}
	return fmt.Errorf("registry %s: %s: unreachable: %w", c.url, what, err)
}

// Fetch reads the subjects (version 0 = latest) and every schema they
// reference, referenced schemas first.
func (c *Client) Fetch(ctx context.Context, subjects []spec.Subject) ([]Schema, error) {
	var out []Schema
	seen := map[string]bool{}
	var visit func(subject string, version int, from string) error
	visit = func(subject string, version int, from string) error {
		v := version
		if v == 0 {
			v = -1 // the client's "latest"
		}
		ss, err := c.cl.SchemaByVersion(ctx, subject, v)
		if err != nil {
			err = c.explain(subject, version, err)
			if from != "" {
				err = fmt.Errorf("%w (referenced by %s)", err, from)
			}
			return err
		}
		key := fmt.Sprintf("%s@%d", ss.Subject, ss.Version)
		if seen[key] {
			return nil
		}
		seen[key] = true
		if ss.Type != sr.TypeAvro && ss.Type != 0 {
			return fmt.Errorf("registry %s: subject %q version %d is a %s schema; streamgen reads Avro", c.url, subject, ss.Version, ss.Type)
		}
		s := Schema{Subject: ss.Subject, Version: ss.Version, ID: ss.ID, Text: ss.Schema.Schema, References: ss.References}
		if s.Subject == "" {
			s.Subject = subject
		}
		for _, r := range ss.References {
			if err := visit(r.Subject, r.Version, s.Label()); err != nil {
				return err
			}
		}
		if len(ss.References) == 0 {
			s.Fingerprint, _ = codec.Fingerprint(s.Text)
		}
		out = append(out, s)
		return nil
	}
	for _, sub := range subjects {
		if err := visit(sub.Name, sub.Version, ""); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// Versions reads every version of a subject, oldest first.
func (c *Client) Versions(ctx context.Context, subject string) ([]Schema, error) {
	all, err := c.cl.Schemas(ctx, subject)
	if err != nil {
		return nil, c.explain(subject, 0, err)
	}
	out := make([]Schema, 0, len(all))
	for _, ss := range all {
		out = append(out, Schema{Subject: subject, Version: ss.Version, ID: ss.ID, Text: ss.Schema.Schema, References: ss.References})
	}
	return out, nil
}

// Compatibility is the subject's compatibility level (the global level
// when the subject has none).
func (c *Client) Compatibility(ctx context.Context, subject string) (string, error) {
	res := c.cl.Compatibility(ctx, subject)
	if len(res) == 1 && res[0].Err == nil {
		return res[0].Level.String(), nil
	}
	global := c.cl.Compatibility(ctx)
	if len(global) == 1 && global[0].Err == nil {
		return global[0].Level.String(), nil
	}
	if len(global) == 1 {
		return "", c.explain(subject, 0, global[0].Err)
	}
	return "", fmt.Errorf("registry %s: no compatibility level for %q", c.url, subject)
}

// ServerCheck asks the registry whether local is compatible with the
// subject's versions under its own rules. ok is false when the server
// does not answer the question (an older or fake registry).
func (c *Client) ServerCheck(ctx context.Context, subject, local string) (compatible bool, messages []string, ok bool) {
	res, err := c.cl.CheckCompatibility(ctx, subject, -1, sr.Schema{Schema: local, Type: sr.TypeAvro})
	if err != nil {
		return false, nil, false
	}
	return res.Is, res.Messages, true
}

// Standalone turns a registry schema with references into one standalone
// schema text: the referenced schemas are parsed first so names resolve,
// then everything is written out in place.
func Standalone(s Schema, all []Schema) (string, error) {
	if len(s.References) == 0 {
		return s.Text, nil
	}
	return standalone(s, func(subject string, version int) (Schema, bool) {
		for _, o := range all {
			if o.Subject == subject && o.Version == version {
				return o, true
			}
		}
		return Schema{}, false
	})
}
