package gen

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/hamba/avro/v2"

	"github.com/streamgen/streamgen/gen/registry"
	"github.com/streamgen/streamgen/gen/schema"
	"github.com/streamgen/streamgen/gen/spec"
	"github.com/streamgen/streamgen/runtime/codec"
)

// Levels are the compatibility levels an offline check takes: what the
// local schemas must read (BACKWARD), be read by (FORWARD), or both (FULL).
// Every version given is checked, as the _TRANSITIVE forms would.
var Levels = []string{"BACKWARD", "FORWARD", "FULL", "BACKWARD_TRANSITIVE", "FORWARD_TRANSITIVE", "FULL_TRANSITIVE", "NONE"}

// OfflineCheck says what CheckOffline compares the local schemas with.
type OfflineCheck struct {
	// Against are .avsc files of earlier (or other) versions: each is
	// compared with the local type of its full name (or the local type
	// with that name as an alias).
	Against []string
	// Locked compares with the versions streamgen.lock pins: the registry
	// subjects' pinned versions and the value schemas of raw and
	// single-object streams.
	Locked bool
	// Level is one of Levels; "" is BACKWARD.
	Level string
}

// CheckOffline checks the local schemas (what generate reads) against the
// files and pinned versions o names, with the Avro specification's
// resolution rules, without a registry: for CI that has none. It returns
// every incompatibility; an error means it could not check.
func CheckOffline(ctx context.Context, sp *spec.Spec, o OfflineCheck) ([]Finding, error) {
	level := strings.ToUpper(o.Level)
	if level == "" {
		level = "BACKWARD"
	}
	if !slices.Contains(Levels, level) {
		return nil, fmt.Errorf("unknown compatibility level %q; want one of %s", o.Level, strings.Join(Levels, ", "))
	}
	srcs, err := sources(ctx, sp, false, true)
	if err != nil {
		return nil, err
	}
	set, err := schema.Load(srcs)
	if err != nil {
		return nil, err
	}
	var findings []Finding
	compare := func(label, name, local, old string) {
		backward := strings.HasPrefix(level, "BACKWARD") || strings.HasPrefix(level, "FULL")
		forward := strings.HasPrefix(level, "FORWARD") || strings.HasPrefix(level, "FULL")
		if backward {
			for _, e := range codec.CheckCompatible(local, old) {
				findings = append(findings, Finding{Subject: label, Msg: fmt.Sprintf("%s: the local %s cannot read it: %v", level, name, e)})
			}
		}
		if forward {
			for _, e := range codec.CheckCompatible(old, local) {
				findings = append(findings, Finding{Subject: label, Msg: fmt.Sprintf("%s: it cannot read the local %s: %v", level, name, e)})
			}
		}
	}
	for _, file := range o.Against {
		data, err := os.ReadFile(file)
		if err != nil {
			return nil, err
		}
		name, err := topName(string(data))
		if err != nil {
			return nil, fmt.Errorf("%s: %w (a schema to check against must be standalone)", file, err)
		}
		local, ok := localNamed(set, name)
		if !ok {
			findings = append(findings, Finding{Subject: file, Msg: fmt.Sprintf("no local schema defines %s (nor has it as an alias)", name), Unchecked: true})
			continue
		}
		compare(file, name, local, string(data))
	}
	if o.Locked {
		lock, err := registry.ReadLock(sp)
		if err != nil {
			return nil, err
		}
		if lock == nil {
			return nil, fmt.Errorf("%s: no such file: pin versions with streamgen schemas pull (registry subjects) or generate (raw and single-object streams)", registry.LockPath(sp))
		}
		if lock.HasRegistryPins() {
			pinned, err := registry.Locked(sp)
			if err != nil {
				return nil, err
			}
			for _, s := range pinned {
				if s.Subject == "" || !requestedBy(sp, s.Subject) {
					continue // a reference, checked within the subjects that use it
				}
				text, err := registry.Standalone(s, pinned)
				if err != nil {
					return nil, err
				}
				label := fmt.Sprintf("%s %s@%d", registry.LockFile, s.Subject, s.Version)
				local, err := localSchema(sp, set, s.Subject)
				if err != nil {
					findings = append(findings, Finding{Subject: label, Msg: err.Error(), Unchecked: true})
					continue
				}
				name, _ := topName(text)
				compare(label, name, local, text)
			}
		}
		for _, ls := range lock.Streams {
			local, ok := localNamed(set, ls.Value)
			if !ok {
				findings = append(findings, Finding{Subject: fmt.Sprintf("%s stream %s", registry.LockFile, ls.Stream), Msg: fmt.Sprintf("no local schema defines %s", ls.Value), Unchecked: true})
				continue
			}
			for _, v := range ls.Versions {
				var text bytes.Buffer
				if err := json.Compact(&text, v.Schema); err != nil {
					return nil, fmt.Errorf("%s: stream %s: a pinned schema is not JSON: %w", registry.LockPath(sp), ls.Stream, err)
				}
				compare(fmt.Sprintf("%s stream %s %s", registry.LockFile, ls.Stream, v.Fingerprint), ls.Value, local, text.String())
			}
		}
	}
	return findings, nil
}

// requestedBy reports whether the spec lists subject (a lock also pins the
// subjects those reference).
func requestedBy(sp *spec.Spec, subject string) bool {
	return slices.ContainsFunc(sp.Schemas.Registry.Subjects, func(s spec.Subject) bool { return s.Name == subject })
}

// topName is the full name of a standalone schema's top-level named type.
func topName(text string) (string, error) {
	s, err := avro.ParseWithCache(text, "", &avro.SchemaCache{})
	if err != nil {
		return "", err
	}
	n, ok := s.(avro.NamedSchema)
	if !ok {
		return "", fmt.Errorf("the schema is a %s, not a named type", s.Type())
	}
	return n.FullName(), nil
}

// localNamed returns the standalone local schema of the type named name,
// or of the one that has it as an alias (a renamed record).
func localNamed(set *schema.Set, name string) (string, bool) {
	n := set.Lookup(name)
	if n == nil {
		for _, c := range set.Named {
			if slices.Contains(c.Aliases(), name) {
				n = c
				break
			}
		}
	}
	if n == nil {
		return "", false
	}
	text, err := codec.SchemaJSON(n.(avro.Schema))
	return text, err == nil
}
