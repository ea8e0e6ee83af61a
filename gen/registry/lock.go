package registry

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	"github.com/twmb/franz-go/pkg/sr"

	"github.com/streamgen/streamgen/gen/spec"
	"github.com/streamgen/streamgen/runtime/codec"
)

// LockFile is the name of the lock file, next to the spec.
const LockFile = "streamgen.lock"

// Lock records the registry schemas a build uses, so that generate runs
// offline and reproducibly until the next `streamgen schemas pull`.
type Lock struct {
	Registry string      `json:"registry"`
	Schemas  []LockEntry `json:"schemas"`
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

// Pull fetches the spec's subjects and their references, writes each
// schema to dir (relative to the spec) and the lock file next to the spec.
// It returns the paths written.
func Pull(ctx context.Context, sp *spec.Spec, dir string) ([]string, error) {
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
	lock := Lock{Registry: reg.URL}
	asked := map[string]int{}
	for _, s := range reg.Subjects {
		asked[s.Name] = s.Version
	}
	var written []string
	absDir := filepath.Join(sp.Dir, dir)
	if err := os.MkdirAll(absDir, 0o755); err != nil {
		return nil, err
	}
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
		written = append(written, path)
		e := LockEntry{Subject: s.Subject, Version: s.Version, ID: s.ID, File: filepath.ToSlash(filepath.Join(dir, name)),
			Fingerprint: sha(data), References: s.References}
		if v, ok := asked[s.Subject]; ok {
			e.Requested = requested(v)
		}
		lock.Schemas = append(lock.Schemas, e)
	}
	out, err := json.MarshalIndent(lock, "", "  ")
	if err != nil {
		return nil, err
	}
	lockPath := filepath.Join(sp.Dir, LockFile)
	if err := writeFile(lockPath, append(out, '\n')); err != nil {
		return nil, err
	}
	return append(written, lockPath), nil
}

// Locked reads the lock next to the spec and the files it pins, checking
// that it pins what the spec asks for and that no file changed since the
// pull. It returns (nil, nil) when there is no lock file.
func Locked(sp *spec.Spec) ([]Schema, error) {
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
	stale := func(format string, args ...any) error {
		return fmt.Errorf("%s: %s; run streamgen schemas pull (or generate -refresh)", lockPath, fmt.Sprintf(format, args...))
	}
	if lock.Registry != sp.Schemas.Registry.URL {
		return nil, stale("pinned from %s, but the spec's registry is %s", lock.Registry, sp.Schemas.Registry.URL)
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
