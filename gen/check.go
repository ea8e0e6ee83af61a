package gen

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/hamba/avro/v2"

	"github.com/streamgen/streamgen/gen/registry"
	"github.com/streamgen/streamgen/gen/schema"
	"github.com/streamgen/streamgen/gen/spec"
	"github.com/streamgen/streamgen/runtime/codec"
)

// Finding is one schema incompatibility found by Check, or a subject it
// could not check (Unchecked).
type Finding struct {
	Subject string
	Msg     string
	// Unchecked is set when the finding says the subject could not be
	// checked (no local schema for it), not that it is incompatible.
	Unchecked bool
}

func (f Finding) String() string { return f.Subject + ": " + f.Msg }

// Check tests, for each registry subject of the spec, the local schema
// (from schemas.files, else the versions streamgen.lock pins) against the
// registry's versions of the subject under the subject's compatibility
// level, with the Avro specification's resolution rules applied locally,
// and also asks the registry's own compatibility endpoint where it answers.
// It returns every incompatibility; an error means the check could not run.
func Check(ctx context.Context, sp *spec.Spec) ([]Finding, error) {
	reg := sp.Schemas.Registry
	if reg == nil {
		return nil, fmt.Errorf("%s: schemas.registry is not set; streamgen check compares local schemas with a registry", sp.File)
	}
	// The local side is what generate reads: the schema files (the new
	// versions a team is about to register) and the subjects' pinned (or
	// latest) versions of the types the files do not define.
	srcs, err := Sources(ctx, sp, false)
	if err != nil {
		return nil, err
	}
	set, err := schema.Load(srcs)
	if err != nil {
		return nil, err
	}
	c, err := registry.New(reg)
	if err != nil {
		return nil, err
	}
	subjects := reg.Subjects
	if len(subjects) == 0 { // TopicNameStrategy for every topic the streams name
		for _, st := range sp.Streams {
			for _, t := range append(append([]string(nil), st.Subscribe...), sortedKeys(st.Assign)...) {
				subjects = append(subjects, spec.Subject{Name: t + "-value"})
			}
		}
	}
	var findings []Finding
	for _, sub := range subjects {
		local, err := localSchema(sp, set, sub.Name)
		if err != nil {
			findings = append(findings, Finding{Subject: sub.Name, Msg: err.Error(), Unchecked: true})
			continue
		}
		fs, err := checkSubject(ctx, c, sub.Name, local)
		if err != nil {
			return nil, err
		}
		findings = append(findings, fs...)
	}
	return findings, nil
}

// localSchema finds the local type a subject holds: by the topic naming
// strategy (TOPIC-value, TOPIC-key for the streams' topics), the record
// naming strategy (the full name) or topic-record naming (TOPIC-fullname).
func localSchema(sp *spec.Spec, set *schema.Set, subject string) (string, error) {
	name := ""
	for _, st := range sp.Streams {
		for _, t := range append(append([]string(nil), st.Subscribe...), sortedKeys(st.Assign)...) {
			switch subject {
			case t + "-value":
				name = st.Value
			case t + "-key":
				name = st.Key
			}
		}
	}
	if name == "" {
		for _, n := range set.Named {
			if subject == n.FullName() || strings.HasSuffix(subject, "-"+n.FullName()) {
				name = n.FullName()
			}
		}
	}
	n := set.Lookup(name)
	if n == nil {
		return "", fmt.Errorf("no local schema for the subject: it is not TOPIC-value or TOPIC-key of a stream's topic, nor a record's full name")
	}
	return codec.SchemaJSON(n.(avro.Schema))
}

func checkSubject(ctx context.Context, c *registry.Client, subject, local string) ([]Finding, error) {
	versions, err := c.Versions(ctx, subject)
	if err != nil {
		return nil, err
	}
	if len(versions) == 0 {
		return nil, nil
	}
	level, err := c.Compatibility(ctx, subject)
	if err != nil {
		return nil, err
	}
	against := versions[len(versions)-1:]
	if strings.HasSuffix(level, "_TRANSITIVE") {
		against = versions
	}
	backward := strings.HasPrefix(level, "BACKWARD") || strings.HasPrefix(level, "FULL")
	forward := strings.HasPrefix(level, "FORWARD") || strings.HasPrefix(level, "FULL")
	var findings []Finding
	for _, v := range against {
		text := v.Text
		if len(v.References) > 0 {
			refs, err := c.Fetch(ctx, refSubjects(v))
			if err != nil {
				return nil, err
			}
			if text, err = registry.Standalone(v, refs); err != nil {
				return nil, err
			}
		}
		if backward {
			for _, e := range codec.CheckCompatible(local, text) {
				findings = append(findings, Finding{Subject: subject, Msg: fmt.Sprintf("%s: the local schema cannot read version %d: %v", level, v.Version, e)})
			}
		}
		if forward {
			for _, e := range codec.CheckCompatible(text, local) {
				findings = append(findings, Finding{Subject: subject, Msg: fmt.Sprintf("%s: version %d cannot read the local schema: %v", level, v.Version, e)})
			}
		}
	}
	if level != "NONE" {
		if ok, msgs, answered := c.ServerCheck(ctx, subject, local); answered && !ok && len(findings) == 0 {
			msg := "the registry says the local schema is incompatible"
			if len(msgs) > 0 {
				msg += ": " + strings.Join(msgs, "; ")
			}
			findings = append(findings, Finding{Subject: subject, Msg: msg})
		}
	}
	return findings, nil
}

func refSubjects(s registry.Schema) []spec.Subject {
	var out []spec.Subject
	for _, r := range s.References {
		out = append(out, spec.Subject{Name: r.Subject, Version: r.Version})
	}
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
