package templates

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/goccy/go-yaml"
)

// TestSchemasAreTheRepositorys: the templates' sample schemas are copies
// of the repository's schemas/, or, for a schema only an example has, of
// the example's (kafka-to-kafka's enriched_impression.avsc is
// examples/kafka-to-kafka's), so they do not drift apart.
func TestSchemasAreTheRepositorys(t *testing.T) {
	n := 0
	fs.WalkDir(files, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || !strings.HasSuffix(p, ".avsc") {
			return err
		}
		n++
		got, _ := files.ReadFile(p)
		from := filepath.Join("schemas", filepath.Base(p))
		want, err := os.ReadFile(filepath.Join("..", from))
		if errors.Is(err, fs.ErrNotExist) {
			from = filepath.Join("examples", strings.Split(p, "/")[0], filepath.Base(p))
			want, err = os.ReadFile(filepath.Join("..", from))
		}
		if err != nil {
			t.Errorf("%s is in neither schemas/ nor its example's directory: %v", p, err)
		} else if string(got) != string(want) {
			t.Errorf("templates/%s differs from %s", p, filepath.ToSlash(from))
		}
		return nil
	})
	if n == 0 {
		t.Fatal("no .avsc file in the templates")
	}
}

// TestAnomalyDetectorModelIsTheExamples: the anomaly detector template's
// model.json is the example's, and its manifest's ConfigMap holds the
// same model, so the job judges alike wherever it runs.
func TestAnomalyDetectorModelIsTheExamples(t *testing.T) {
	want, err := os.ReadFile("../examples/anomaly-detector/model.json")
	if err != nil {
		t.Fatal(err)
	}
	got, _ := files.ReadFile("anomaly-detector/model.json")
	if !bytes.Equal(got, want) {
		t.Errorf("templates/anomaly-detector/model.json differs from examples/anomaly-detector/model.json")
	}
	rendered, err := Render("anomaly-detector", Vars{Job: "spikes", Module: "example.com/spikes", Package: "spikes", Version: "v1.0.0"})
	if err != nil {
		t.Fatal(err)
	}
	var manifest []byte
	for _, f := range rendered {
		if f.Path == "deploy/kubernetes.yaml" {
			manifest = f.Data
		}
	}
	var inMap string
	dec := yaml.NewDecoder(bytes.NewReader(manifest))
	for {
		var doc struct {
			Kind string            `yaml:"kind"`
			Data map[string]string `yaml:"data"`
		}
		if err := dec.Decode(&doc); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		if doc.Kind == "ConfigMap" {
			inMap = doc.Data["model.json"]
		}
	}
	var a, b any
	if err := json.Unmarshal(want, &a); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal([]byte(inMap), &b); err != nil || !reflect.DeepEqual(a, b) {
		t.Errorf("the manifest's ConfigMap holds model.json %q (%v), not the model the template ships", inMap, err)
	}
}

// TestEveryTemplateDirectoryIsListed: a directory here is a template of
// List (or common/), and every template of List has one.
func TestEveryTemplateDirectoryIsListed(t *testing.T) {
	entries, err := fs.ReadDir(files, ".")
	if err != nil {
		t.Fatal(err)
	}
	dirs := map[string]bool{}
	for _, e := range entries {
		dirs[e.Name()] = true
		if _, ok := Lookup(e.Name()); !ok && e.Name() != "common" {
			t.Errorf("templates/%s is embedded but not in List", e.Name())
		}
	}
	for _, tmpl := range List {
		if !dirs[tmpl.Name] {
			t.Errorf("template %s has no directory", tmpl.Name)
		}
	}
	local, _ := os.ReadDir(".")
	for _, e := range local {
		if e.IsDir() && !dirs[e.Name()] {
			t.Errorf("templates/%s is not embedded: add it to the go:embed line", e.Name())
		}
	}
}

func TestEnvPrefix(t *testing.T) {
	for job, want := range map[string]string{"anomaly-detector": "ANOMALY_DETECTOR", "etl2": "ETL2", "a.b_c": "A_B_C"} {
		if got := EnvPrefix(job); got != want {
			t.Errorf("EnvPrefix(%q) = %q, want %q", job, got, want)
		}
	}
}
