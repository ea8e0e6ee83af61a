// Package templates holds the starter projects of `streamgen init`: for
// each template a job spec, sample Avro schemas, a handler, a main with its
// go:generate line, a test that runs the job on an in-process Kafka, a
// go.mod, a Dockerfile, a Kubernetes manifest, and a README.md whose
// three commands run the job on the developer's machine (streamgen dev).
// They are embedded in the streamgen binary, so init needs nothing but
// the binary.
//
// Files ending in .tmpl are text/template templates of Vars (the suffix
// keeps this module's go command from compiling the Go files among them,
// and a go.mod from cutting the directory out of this module); every other
// file is copied as it is. A template's own directory is laid over common/.
// A directory named PACKAGE is the generated package's (Vars.Package): the
// hand-written files the generated code calls, such as a value's loader.
package templates

import (
	"bytes"
	"embed"
	"fmt"
	"io/fs"
	"regexp"
	"slices"
	"strings"
	"text/template"

	"github.com/streamgen/streamgen/runtime/config"
)

//go:embed all:common all:etl-warehouse all:anomaly-detector all:entity-cache all:kafka-to-kafka
var files embed.FS

// Template is a starter project.
type Template struct {
	// Name is the name init takes, also the template's directory here.
	Name string
	// Summary says in one line what job it starts.
	Summary string
	// TestNeeds is what the project's test needs besides Go, with PREFIX
	// for the job's EnvPrefix; "" for nothing.
	TestNeeds string
}

// List is every template, in the order init's usage lists them.
var List = []Template{
	{"etl-warehouse", "the warehouse ETL: impressions joined with their campaigns into Parquet files by hour, exactly once, to a directory or S3 (blob sink, a campaigns table)", ""},
	{"anomaly-detector", "the anomaly detector: flags campaigns whose impressions spike, at most once, always from the latest offsets, with a schema registry", ""},
	{"entity-cache", "the entity cache: clicks upserted into PostgreSQL keyed by impression, at least once, offsets in PostgreSQL",
		"a PostgreSQL database it may write to: set PREFIX_TEST_POSTGRES_DSN (default postgres://postgres@localhost:5432/postgres?sslmode=disable)"},
	{"kafka-to-kafka", "Kafka to Kafka: impressions enriched into a new record type on another topic, exactly once, output and offsets in one Kafka transaction, with a schema registry", ""},
}

// Lookup returns the template named name.
func Lookup(name string) (Template, bool) {
	i := slices.IndexFunc(List, func(t Template) bool { return t.Name == name })
	if i < 0 {
		return Template{}, false
	}
	return List[i], true
}

// Names returns the templates' names.
func Names() []string {
	var names []string
	for _, t := range List {
		names = append(names, t.Name)
	}
	return names
}

// Vars are what a template is rendered with.
type Vars struct {
	// Job is the job's name (the spec's name): consumer group, metrics
	// prefix, binary, image and Kubernetes object names.
	Job string
	// Module is the new project's module path.
	Module string
	// Package is the Go package the generator writes (the spec's package
	// and output directory).
	Package string
	// Version is the streamgen version go.mod requires.
	Version string
	// Replace, when set, is the directory of a streamgen checkout that
	// go.mod's replace directive points at instead of the release.
	Replace string
}

// EnvPrefix is the prefix of the job's environment variables without its
// trailing "_" (anomaly-detector: ANOMALY_DETECTOR, as in
// ANOMALY_DETECTOR_BROKERS): the runtime's own rule, config.EnvPrefix, so
// the manifests set the variables Main reads.
func (v Vars) EnvPrefix() string { return EnvPrefix(v.Job) }

// EnvPrefix is Vars.EnvPrefix for a job name.
func EnvPrefix(job string) string { return strings.TrimSuffix(config.EnvPrefix(job), "_") }

// jobName is what a job name must be here: a Kubernetes object name (DNS
// label) that is also a valid spec name, short enough for the pods'
// names.
var jobName = regexp.MustCompile(`^[a-z]([-a-z0-9]*[a-z0-9])?$`)

// CheckJob reports why job cannot name a templated job, or nil.
func CheckJob(job string) error {
	if !jobName.MatchString(job) || len(job) > 52 {
		return fmt.Errorf("%q cannot be the job's name: it names the consumer group, the binary and the Kubernetes objects, so it must be lower-case letters, digits and '-', start with a letter, not end with '-', and have at most 52 characters", job)
	}
	return nil
}

// File is a rendered file of a template.
type File struct {
	// Path is relative to the project's directory, with slashes.
	Path string
	Data []byte
}

// Render renders template name with v: its files and common's, sorted by
// path.
func Render(name string, v Vars) ([]File, error) {
	if _, ok := Lookup(name); !ok {
		return nil, fmt.Errorf("no template %q; the templates are %s", name, strings.Join(Names(), ", "))
	}
	byPath := map[string]File{}
	for _, root := range []string{"common", name} {
		err := fs.WalkDir(files, root, func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			data, err := files.ReadFile(p)
			if err != nil {
				return err
			}
			rel := strings.TrimPrefix(p, root+"/")
			if r, ok := strings.CutPrefix(rel, "PACKAGE/"); ok {
				rel = v.Package + "/" + r
			}
			if strings.HasSuffix(rel, ".tmpl") {
				rel = strings.TrimSuffix(rel, ".tmpl")
				t, err := template.New(p).Option("missingkey=error").Parse(string(data))
				if err != nil {
					return err
				}
				var b bytes.Buffer
				if err := t.Execute(&b, v); err != nil {
					return err
				}
				data = b.Bytes()
			}
			byPath[rel] = File{Path: rel, Data: data}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("template %s: %w", name, err)
		}
	}
	var out []File
	for _, f := range byPath {
		out = append(out, f)
	}
	slices.SortFunc(out, func(a, b File) int { return strings.Compare(a.Path, b.Path) })
	return out, nil
}
