package cli

import (
	"encoding/pem"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/sr"
	"github.com/twmb/franz-go/pkg/sr/srfake"
)

const (
	geoV1 = `{"type":"record","name":"GeoPoint","namespace":"com.example.ads","fields":[{"name":"lat","type":"double"},{"name":"lon","type":"double"}]}`
	impV1 = `{"type":"record","name":"Impression","namespace":"com.example.ads","fields":[{"name":"id","type":"string"},{"name":"geo","type":"com.example.ads.GeoPoint"}]}`
)

const registrySpec = `version: 1
name: imps
schemas:
  registry:
    url: ${TEST_REGISTRY_URL}
    subjects: [impressions-value]
streams:
  - name: impressions
    subscribe: [impressions]
    value: com.example.ads.Impression
`

// registerImpressions registers GeoPoint under geo-value and Impression, which references
// it, under impressions-value.
func registerImpressions(t *testing.T, reg *srfake.Registry) (impID int) {
	t.Helper()
	if _, _, err := reg.RegisterSchema("geo-value", sr.Schema{Schema: geoV1}); err != nil {
		t.Fatal(err)
	}
	id, _, err := reg.RegisterSchema("impressions-value", sr.Schema{Schema: impV1,
		References: []sr.SchemaReference{{Name: "com.example.ads.GeoPoint", Subject: "geo-value", Version: 1}}})
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func registryDir(t *testing.T, url string) (dir, spec string) {
	t.Helper()
	t.Setenv("TEST_REGISTRY_URL", url)
	dir = t.TempDir()
	spec = filepath.Join(dir, "streamgen.yaml")
	write(t, spec, registrySpec)
	return dir, spec
}

func TestGenerateFromRegistryWithReferences(t *testing.T) {
	reg := srfake.New()
	defer reg.Close()
	id := registerImpressions(t, reg)
	dir, spec := registryDir(t, reg.URL())
	code, _, errs := run(t, "generate", "-spec", spec)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	types, err := os.ReadFile(filepath.Join(dir, "imps", "types.go"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"type Impression struct", "type GeoPoint struct", "registry impressions-value@1 (id " + strconv.Itoa(id) + ")", "registry geo-value@1"} {
		if !strings.Contains(string(types), want) {
			t.Errorf("types.go lacks %q", want)
		}
	}
}

func TestSchemasPullPinsForOfflineBuilds(t *testing.T) {
	reg := srfake.New()
	registerImpressions(t, reg)
	dir, spec := registryDir(t, reg.URL())
	code, out, errs := run(t, "schemas", "pull", "-spec", spec)
	if code != 0 {
		t.Fatalf("pull: exit %d: %s", code, errs)
	}
	for _, f := range []string{"schemas/registry/impressions-value-v1.avsc", "schemas/registry/geo-value-v1.avsc", "streamgen.lock"} {
		if !strings.Contains(out, f) {
			t.Errorf("pull output %q lacks %s", out, f)
		}
	}
	if code, _, errs := run(t, "generate", "-spec", spec); code != 0 {
		t.Fatalf("generate: %s", errs)
	}
	before, _ := os.ReadFile(filepath.Join(dir, "imps", "types.go"))

	// The registry goes away: the pinned schemas still build, identically.
	reg.Close()
	if code, _, errs := run(t, "generate", "-check", "-spec", spec); code != 0 {
		t.Fatalf("offline generate -check: exit %d: %s", code, errs)
	}
	after, _ := os.ReadFile(filepath.Join(dir, "imps", "types.go"))
	if string(before) != string(after) {
		t.Error("offline generation differs")
	}
	// -refresh asks the registry, which is down: the error names it.
	code, _, errs = run(t, "generate", "-refresh", "-spec", spec)
	if code != 1 || !strings.Contains(errs, "registry "+reg.URL()) || !strings.Contains(errs, `subject "impressions-value" (latest): unreachable`) {
		t.Errorf("refresh with the registry down: exit %d: %s", code, errs)
	}
	// A pinned file edited by hand is refused.
	pinned := filepath.Join(dir, "schemas", "registry", "geo-value-v1.avsc")
	data, _ := os.ReadFile(pinned)
	write(t, pinned, strings.Replace(string(data), "lat", "latitude", 1))
	code, _, errs = run(t, "generate", "-spec", spec)
	if code != 1 || !strings.Contains(errs, "geo-value-v1.avsc changed since it was pulled") {
		t.Errorf("tampered pin: exit %d: %s", code, errs)
	}
}

func TestRegistryErrorsNameSubjectAndURL(t *testing.T) {
	reg := srfake.New(srfake.WithAuth("Bearer right"))
	defer reg.Close()
	dir, spec := registryDir(t, reg.URL())
	// No credentials.
	code, _, errs := run(t, "generate", "-spec", spec)
	if code != 1 || !strings.Contains(errs, "registry "+reg.URL()+`: subject "impressions-value" (latest): not authorized (HTTP 401)`) {
		t.Errorf("no credentials: exit %d: %s", code, errs)
	}
	// Right token, unknown subject and version.
	write(t, spec, strings.Replace(registrySpec, "subjects: [impressions-value]", "token: Bearer-less\n    subjects: [\"impressions-value@3\"]", 1))
	code, _, errs = run(t, "generate", "-spec", spec)
	if code != 1 || !strings.Contains(errs, "not authorized (HTTP 403)") {
		t.Errorf("wrong token: exit %d: %s", code, errs)
	}
	reg2 := srfake.New()
	defer reg2.Close()
	registerImpressions(t, reg2)
	t.Setenv("TEST_REGISTRY_URL", reg2.URL())
	write(t, spec, strings.Replace(registrySpec, "[impressions-value]", `["impressions-value@3", clicks-value]`, 1))
	code, _, errs = run(t, "generate", "-spec", spec)
	if code != 1 || !strings.Contains(errs, `subject "impressions-value" version 3: no such version`) {
		t.Errorf("unknown version: exit %d: %s", code, errs)
	}
	if _, err := os.Stat(filepath.Join(dir, "imps")); !os.IsNotExist(err) {
		t.Error("output written despite a registry error")
	}
}

// TestGenerateFromRegistryOverTLS: an https registry with a private CA is
// read with schemas.registry.tls.ca, a path relative to the spec (the test
// runs elsewhere); without it the error names the registry and the
// certificate problem. The generated job's defaults are the spec's text,
// for the job to expand.
func TestGenerateFromRegistryOverTLS(t *testing.T) {
	reg := srfake.New()
	defer reg.Close()
	registerImpressions(t, reg)
	srv := httptest.NewTLSServer(reg.Handler())
	defer srv.Close()
	dir, spec := registryDir(t, srv.URL)
	ca := filepath.Join(dir, "ca.pem")
	write(t, ca, string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})))

	code, _, errs := run(t, "generate", "-spec", spec)
	if code == 0 || !strings.Contains(errs, srv.URL) || !strings.Contains(errs, "certificate") {
		t.Fatalf("without the CA: exit %d, stderr %s; want a certificate error naming the registry", code, errs)
	}
	write(t, spec, strings.Replace(registrySpec, "    subjects:", "    tls: {ca: ca.pem}\n    subjects:", 1))
	if code, _, errs := run(t, "generate", "-spec", spec); code != 0 {
		t.Fatalf("with tls.ca: exit %d: %s", code, errs)
	}
	streams, err := os.ReadFile(filepath.Join(dir, "imps", "streams.go"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`c.RegistryURL = "${TEST_REGISTRY_URL}"`, `c.RegistryCA = "ca.pem"`} {
		if !strings.Contains(string(streams), want) {
			t.Errorf("the generated DefaultConfig lacks %s", want)
		}
	}

	write(t, spec, strings.Replace(registrySpec, "    subjects:", "    tls: {ca: missing.pem}\n    subjects:", 1))
	code, _, errs = run(t, "generate", "-spec", spec, "-refresh")
	if code == 0 || !strings.Contains(errs, "streamgen.yaml:6:10: schemas.registry.tls: CA:") || !strings.Contains(errs, "missing.pem") {
		t.Errorf("missing CA file: exit %d, stderr %s; want a positioned error naming the file", code, errs)
	}
}
