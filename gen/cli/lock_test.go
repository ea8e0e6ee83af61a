package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/sr"
	"github.com/twmb/franz-go/pkg/sr/srfake"

	"github.com/streamgen/streamgen/gen/registry"
)

// impV2 adds a defaulted field to impV1.
const impV2 = `{"type":"record","name":"Impression","namespace":"com.example.ads","fields":[{"name":"id","type":"string"},{"name":"geo","type":"com.example.ads.GeoPoint"},{"name":"country","type":"string","default":"ZZ"}]}`

func registerImpV2(t *testing.T, reg *srfake.Registry) {
	t.Helper()
	if _, _, err := reg.RegisterSchema("impressions-value", sr.Schema{Schema: impV2,
		References: []sr.SchemaReference{{Name: "com.example.ads.GeoPoint", Subject: "geo-value", Version: 1}}}); err != nil {
		t.Fatal(err)
	}
}

func readLock(t *testing.T, dir string) registry.Lock {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, registry.LockFile))
	if err != nil {
		t.Fatal(err)
	}
	var l registry.Lock
	if err := json.Unmarshal(data, &l); err != nil {
		t.Fatal(err)
	}
	return l
}

// pinnedFiles lists the files under the lock's directory.
func pinnedFiles(t *testing.T, dir string) []string {
	t.Helper()
	m, _ := filepath.Glob(filepath.Join(dir, "schemas", "registry", "*"))
	for i := range m {
		m[i] = filepath.Base(m[i])
	}
	return m
}

// TestRefreshPinsWhatItRead: generate -refresh with a lock pins the
// versions it read, in the lock's directory, so the next plain generate
// builds the same thing instead of going back to the old pins.
func TestRefreshPinsWhatItRead(t *testing.T) {
	reg := srfake.New()
	defer reg.Close()
	registerImpressions(t, reg)
	dir, spec := registryDir(t, reg.URL())
	if code, _, errs := run(t, "schemas", "pull", "-spec", spec); code != 0 {
		t.Fatal(errs)
	}
	if code, _, errs := run(t, "generate", "-spec", spec); code != 0 {
		t.Fatal(errs)
	}
	registerImpV2(t, reg)

	code, out, errs := run(t, "generate", "-refresh", "-spec", spec)
	if code != 0 {
		t.Fatalf("-refresh: exit %d: %s", code, errs)
	}
	for _, want := range []string{"impressions-value-v2.avsc", "streamgen.lock", "removed " + filepath.ToSlash(filepath.Join(dir, "schemas", "registry", "impressions-value-v1.avsc"))} {
		if !strings.Contains(out, want) {
			t.Errorf("-refresh output lacks %q:\n%s", want, out)
		}
	}
	lock := readLock(t, dir)
	for _, e := range lock.Schemas {
		if e.Subject == "impressions-value" && e.Version != 2 {
			t.Errorf("the lock pins impressions-value version %d after -refresh, want 2", e.Version)
		}
	}
	if got := strings.Join(pinnedFiles(t, dir), " "); got != "geo-value-v1.avsc impressions-value-v2.avsc" {
		t.Errorf("pinned files %q, want the lock's", got)
	}
	types, _ := os.ReadFile(filepath.Join(dir, "imps", "types.go"))
	if !strings.Contains(string(types), "Country string") || !strings.Contains(string(types), "impressions-value@2") {
		t.Errorf("-refresh did not generate from version 2:\n%s", types)
	}
	// Offline, the plain generate builds what -refresh built.
	reg.Close()
	if code, _, errs := run(t, "generate", "-check", "-spec", spec); code != 0 {
		t.Errorf("plain generate after -refresh: exit %d: %s", code, errs)
	}
}

// TestPullRemovesPinsItNoLongerNeeds: pulling a newer version removes the
// older version's file, which the lock no longer names; a file edited by
// hand is kept and named.
func TestPullRemovesPinsItNoLongerNeeds(t *testing.T) {
	reg := srfake.New()
	defer reg.Close()
	registerImpressions(t, reg)
	dir, spec := registryDir(t, reg.URL())
	if code, _, errs := run(t, "schemas", "pull", "-spec", spec, "-dir", "pins"); code != 0 {
		t.Fatal(errs)
	}
	registerImpV2(t, reg)
	// Pulled again without -dir: into the lock's directory.
	code, out, errs := run(t, "schemas", "pull", "-spec", spec)
	if code != 0 {
		t.Fatal(errs)
	}
	if !strings.Contains(out, "removed "+filepath.ToSlash(filepath.Join(dir, "pins", "impressions-value-v1.avsc"))) {
		t.Errorf("pull output lacks the removal:\n%s", out)
	}
	m, _ := filepath.Glob(filepath.Join(dir, "pins", "*"))
	if len(m) != 2 || !strings.HasSuffix(m[0], "geo-value-v1.avsc") || !strings.HasSuffix(m[1], "impressions-value-v2.avsc") {
		t.Errorf("pinned files after the second pull: %v", m)
	}
	if _, err := os.Stat(filepath.Join(dir, "schemas")); !os.IsNotExist(err) {
		t.Error("pull without -dir did not pin where the lock pins")
	}

	// An old pin edited by hand is not removed.
	write(t, spec, strings.Replace(registrySpec, "[impressions-value]", `["impressions-value@1"]`, 1))
	if code, _, errs := run(t, "schemas", "pull", "-spec", spec); code != 0 {
		t.Fatal(errs)
	}
	v1 := filepath.Join(dir, "pins", "impressions-value-v1.avsc")
	data, _ := os.ReadFile(v1)
	write(t, v1, string(data)+" ")
	write(t, spec, registrySpec)
	code, _, errs = run(t, "schemas", "pull", "-spec", spec)
	if code != 0 || !strings.Contains(errs, "kept, though no longer pinned, because edited since pulled: "+filepath.ToSlash(v1)) {
		t.Errorf("edited stale pin: exit %d, stderr %q", code, errs)
	}
	if _, err := os.Stat(v1); err != nil {
		t.Errorf("edited pin removed: %v", err)
	}
}

// TestPinnedBuildNeedsNoRegistrySettings: with a lock, generate runs
// offline with none of the registry's variables set (URL, credentials);
// commands that contact the registry still name what is missing. URLs are
// compared normalized: a trailing slash is the same registry.
func TestPinnedBuildNeedsNoRegistrySettings(t *testing.T) {
	reg := srfake.New()
	registerImpressions(t, reg)
	dir, spec := registryDir(t, reg.URL())
	withAuth := strings.Replace(registrySpec, "    subjects:", "    username: ${TEST_SR_USER}\n    password: ${TEST_SR_PASSWORD}\n    subjects:", 1)
	t.Setenv("TEST_SR_USER", "u")
	t.Setenv("TEST_SR_PASSWORD", "p")
	write(t, spec, withAuth)
	if code, _, errs := run(t, "schemas", "pull", "-spec", spec); code != 0 {
		t.Fatal(errs)
	}
	if code, _, errs := run(t, "generate", "-spec", spec); code != 0 {
		t.Fatal(errs)
	}
	reg.Close()

	// The same registry written with a trailing slash, or in capitals.
	for _, u := range []string{reg.URL() + "/", strings.ToUpper(strings.TrimPrefix(reg.URL(), "http://")) + "/"} {
		if !strings.HasPrefix(u, "http") {
			u = "http://" + u
		}
		t.Setenv("TEST_REGISTRY_URL", u)
		if code, _, errs := run(t, "generate", "-check", "-spec", spec); code != 0 {
			t.Errorf("url %s: exit %d: %s", u, code, errs)
		}
	}
	// Another registry is not.
	t.Setenv("TEST_REGISTRY_URL", "http://elsewhere:8081")
	if code, _, errs := run(t, "generate", "-check", "-spec", spec); code != 1 || !strings.Contains(errs, "but the spec's registry is http://elsewhere:8081") {
		t.Errorf("another registry: exit %d: %s", code, errs)
	}

	// Nothing set.
	for _, v := range []string{"TEST_REGISTRY_URL", "TEST_SR_USER", "TEST_SR_PASSWORD"} {
		os.Unsetenv(v) // t.Setenv restores them
	}
	if code, _, errs := run(t, "generate", "-check", "-spec", spec); code != 0 {
		t.Errorf("pinned build with no registry variable set: exit %d: %s", code, errs)
	}
	for _, args := range [][]string{{"generate", "-refresh"}, {"schemas", "pull"}, {"check"}} {
		code, _, errs := run(t, append(args, "-spec", spec)...)
		for _, want := range []string{spec + ":5:10: schemas.registry.url: environment variable TEST_REGISTRY_URL is not set", spec + ":6:15: schemas.registry.username: environment variable TEST_SR_USER is not set"} {
			wantCode := 1
			if args[0] == "check" {
				wantCode = CheckCouldNotCheck
			}
			if code != wantCode || !strings.Contains(errs, want) {
				t.Errorf("%v: exit %d, stderr lacks %q:\n%s", args, code, want, errs)
			}
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "imps", "types.go")); err != nil {
		t.Fatal(err)
	}
}
