package registry

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/twmb/franz-go/pkg/sr"

	"github.com/streamgen/streamgen/gen/spec"
	"github.com/streamgen/streamgen/runtime/codec"
)

// LockFile is the name of the lock file, next to the spec.
const LockFile = "streamgen.lock"

// Lock records the registry schemas a build uses, so that generate runs
// offline and reproducibly until the next `streamgen schemas pull` (or
// `generate -refresh`).
type Lock struct {
	// Registry is the registry's URL, normalized (see NormalizeURL).
	Registry string `json:"registry,omitempty"`
	// Dir is the directory the pinned files are in, relative to the lock
	// file; generate -refresh pins there again.
	Dir     string      `json:"dir,omitempty"`
	Schemas []LockEntry `json:"schemas,omitempty"`
	// Streams pins the value schemas of the streams whose records do not
	// name their writer schema by a registry id (encoding raw or
	// single-object). generate keeps them: see LockStream.
	Streams []LockStream `json:"streams,omitempty"`
}

// LockStream is what streamgen.lock remembers of a stream whose records
// carry no registry id. For encoding raw it is the value schema the job
// was last generated with: generate refuses a change of it that the spec
// does not declare (writerSchema) or acknowledge, since raw records of
// the old version would be read as the new one. For single-object it is
// every value schema the stream has been generated with, oldest first:
// they are the writer schemas the generated job resolves the records'
// fingerprints against.
type LockStream struct {
	Stream   string        `json:"stream"`
	Encoding string        `json:"encoding"`
	Value    string        `json:"value"` // the value type's full name
	Versions []LockVersion `json:"versions"`
}

// LockVersion is one pinned value schema.
type LockVersion struct {
	// Fingerprint is the schema's codec.LogicalFingerprint, "0x" and 16
	// hex digits: the CRC-64-AVRO fingerprint of its canonical form with
	// its logical types kept, so that a decimal's new scale is a new
	// version.
	Fingerprint string `json:"fingerprint"`
	// Schema is the standalone schema.
	Schema json.RawMessage `json:"schema"`
}

// HasRegistryPins reports whether the lock pins registry subjects (a lock
// may hold only the pins of streams).
func (l *Lock) HasRegistryPins() bool { return l.Registry != "" || len(l.Schemas) > 0 }

// Stream returns the pins of the stream named name, or nil.
func (l *Lock) Stream(name string) *LockStream {
	for i := range l.Streams {
		if l.Streams[i].Stream == name {
			return &l.Streams[i]
		}
	}
	return nil
}

// Encode returns the lock as written to streamgen.lock.
func (l *Lock) Encode() ([]byte, error) {
	out, err := json.MarshalIndent(l, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(out, '\n'), nil
}

// LockEntry is one pinned schema version and the file that holds it.
type LockEntry struct {
	Subject string `json:"subject"`
	// Requested is the version the spec asks for: a number, or "latest".
	Requested   string               `json:"requested,omitempty"`
	Version     int                  `json:"version"`
	ID          int                  `json:"id"`
	File        string               `json:"file"` // relative to the lock file
	Fingerprint string               `json:"sha256"`
	References  []sr.SchemaReference `json:"references,omitempty"`
}

func requested(v int) string {
	if v == 0 {
		return "latest"
	}
	return strconv.Itoa(v)
}

// DefaultDir is where schemas pull writes the pinned files, relative to
// the spec, unless told otherwise.
const DefaultDir = "schemas/registry"

// Pulled is what Pull did: the files it wrote (the lock last), and the
// files of the previous lock it removed because the new lock no longer
// pins them.
type Pulled struct {
	Written, Removed []string
	// Kept are files of the previous lock that the new one no longer
	// pins but that were edited since they were pulled, so Pull left them.
	Kept []string
}

// Pull fetches the spec's subjects and their references, writes each
// schema to dir (relative to the spec), writes the lock file next to the
// spec, and removes the files the previous lock pinned that the new one
// does not (the version 1 file after version 2 is pulled), so the lock and
// the files agree.
func Pull(ctx context.Context, sp *spec.Spec, dir string) (*Pulled, error) {
	reg := sp.Schemas.Registry
	if reg == nil {
		return nil, fmt.Errorf("%s: schemas.registry is not set; nothing to pull", sp.File)
	}
	c, err := New(reg)
	if err != nil {
		return nil, err
	}
	fetched, err := c.Fetch(ctx, reg.Subjects)
	if err != nil {
		return nil, err
	}
	old, _ := readLock(sp) // a broken previous lock is replaced; its files stay
	lock := Lock{Registry: NormalizeURL(reg.URL), Dir: filepath.ToSlash(dir)}
	if old != nil {
		lock.Streams = old.Streams // generate's pins, not the registry's
	}
	asked := map[string]int{}
	for _, s := range reg.Subjects {
		asked[s.Name] = s.Version
	}
	res := &Pulled{}
	absDir := filepath.Join(sp.Dir, dir)
	if err := os.MkdirAll(absDir, 0o755); err != nil {
		return nil, err
	}
	pinned := map[string]bool{}
	for _, s := range fetched {
		name := fmt.Sprintf("%s-v%d.avsc", s.Subject, s.Version)
		data := []byte(s.Text)
		var pretty bytes.Buffer
		if json.Indent(&pretty, data, "", "  ") == nil {
			data = append(pretty.Bytes(), '\n')
		}
		path := filepath.Join(absDir, name)
		if err := writeFile(path, data); err != nil {
			return nil, err
		}
		res.Written = append(res.Written, path)
		e := LockEntry{Subject: s.Subject, Version: s.Version, ID: s.ID, File: filepath.ToSlash(filepath.Join(dir, name)),
			Fingerprint: sha(data), References: s.References}
		if v, ok := asked[s.Subject]; ok {
			e.Requested = requested(v)
		}
		pinned[filepath.Clean(path)] = true
		lock.Schemas = append(lock.Schemas, e)
	}
	out, err := lock.Encode()
	if err != nil {
		return nil, err
	}
	lockPath := filepath.Join(sp.Dir, LockFile)
	if err := writeFile(lockPath, out); err != nil {
		return nil, err
	}
	res.Written = append(res.Written, lockPath)
	if old != nil {
		for _, e := range old.Schemas {
			path := filepath.Clean(filepath.Join(sp.Dir, filepath.FromSlash(e.File)))
			if pinned[path] {
				continue
			}
			data, err := os.ReadFile(path)
			switch {
			case err != nil:
				// already gone
			case sha(data) != e.Fingerprint:
				res.Kept = append(res.Kept, path)
			case os.Remove(path) == nil:
				res.Removed = append(res.Removed, path)
			}
		}
	}
	return res, nil
}

// PinnedDir returns the directory, relative to the spec, that the spec's
// lock file pins its files in; ok is false when there is no lock.
func PinnedDir(sp *spec.Spec) (dir string, ok bool, err error) {
	lock, err := readLock(sp)
	if lock == nil || err != nil || !lock.HasRegistryPins() {
		return "", false, err
	}
	switch {
	case lock.Dir != "":
		return filepath.FromSlash(lock.Dir), true, nil
	case len(lock.Schemas) > 0: // a lock written before Dir was recorded
		return filepath.FromSlash(path.Dir(lock.Schemas[0].File)), true, nil
	}
	return DefaultDir, true, nil
}

// ReadLock reads the lock next to the spec; nil, nil when there is none.
func ReadLock(sp *spec.Spec) (*Lock, error) { return readLock(sp) }

// LockPath is where the spec's lock file is.
func LockPath(sp *spec.Spec) string { return filepath.Join(sp.Dir, LockFile) }

// readLock reads the lock next to the spec; nil, nil when there is none.
func readLock(sp *spec.Spec) (*Lock, error) {
	lockPath := filepath.Join(sp.Dir, LockFile)
	data, err := os.ReadFile(lockPath)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var lock Lock
	if err := json.Unmarshal(data, &lock); err != nil {
		return nil, fmt.Errorf("%s: %w", lockPath, err)
	}
	return &lock, nil
}

// NormalizeURL returns a registry URL in the form locks record and compare:
// scheme and host in lower case, no default port, no trailing slash.
func NormalizeURL(u string) string {
	pu, err := url.Parse(strings.TrimSpace(u))
	if err != nil || pu.Host == "" {
		return strings.TrimRight(u, "/")
	}
	pu.Scheme = strings.ToLower(pu.Scheme)
	pu.Host = strings.ToLower(pu.Host)
	if port := pu.Port(); port == "80" && pu.Scheme == "http" || port == "443" && pu.Scheme == "https" {
		pu.Host = pu.Hostname()
	}
	pu.Path = strings.TrimRight(pu.Path, "/")
	pu.RawPath = ""
	return pu.String()
}

// Locked reads the lock next to the spec and the files it pins, checking
// that it pins what the spec asks for and that no file changed since the
// pull. It returns (nil, nil) when there is no lock file.
func Locked(sp *spec.Spec) ([]Schema, error) {
	lock, err := readLock(sp)
	if lock == nil || err != nil || !lock.HasRegistryPins() {
		return nil, err
	}
	lockPath := filepath.Join(sp.Dir, LockFile)
	stale := func(format string, args ...any) error {
		return fmt.Errorf("%s: %s; run streamgen schemas pull (or generate -refresh)", lockPath, fmt.Sprintf(format, args...))
	}
	// The URL is compared when it is known: a pinned build needs no
	// variable of the registry's set (spec.Registry.Unset).
	if u := sp.Schemas.Registry.URL; u != "" && NormalizeURL(lock.Registry) != NormalizeURL(u) {
		return nil, stale("pinned from %s, but the spec's registry is %s", lock.Registry, u)
	}
	for _, want := range sp.Schemas.Registry.Subjects {
		found := false
		for _, e := range lock.Schemas {
			if e.Subject == want.Name && e.Requested == requested(want.Version) {
				found = true
			}
		}
		if !found {
			return nil, stale("subject %s@%s is not pinned", want.Name, requested(want.Version))
		}
	}
	var out []Schema
	for _, e := range lock.Schemas {
		text, err := os.ReadFile(filepath.Join(sp.Dir, filepath.FromSlash(e.File)))
		if err != nil {
			return nil, stale("%v", err)
		}
		if sha(text) != e.Fingerprint {
			return nil, stale("%s changed since it was pulled (sha256 differs)", e.File)
		}
		s := Schema{Subject: e.Subject, Version: e.Version, ID: e.ID, Text: string(text), References: e.References}
		if len(s.References) == 0 {
			s.Fingerprint, _ = codec.Fingerprint(s.Text)
		}
		out = append(out, s)
	}
	return out, nil
}

func writeFile(path string, data []byte) error {
	if old, err := os.ReadFile(path); err == nil && bytes.Equal(old, data) {
		return nil
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

func sha(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}
