package cli

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/sr"
	"github.com/twmb/franz-go/pkg/sr/srfake"
)

// TestFilesReplaceTheSubjectsTheyDefine: schemas.files holding the next
// version of the record a registry subject holds is the layout streamgen
// check is for; generate accepts it too and generates from the files.
func TestFilesReplaceTheSubjectsTheyDefine(t *testing.T) {
	reg := srfake.New()
	defer reg.Close()
	if _, _, err := reg.RegisterSchema("impressions-value", sr.Schema{Schema: evolution(t, "v1")}); err != nil {
		t.Fatal(err)
	}
	if err := reg.SetCompat("impressions-value", sr.CompatBackward); err != nil {
		t.Fatal(err)
	}
	dir, spec := registryDir(t, reg.URL())
	write(t, filepath.Join(dir, "impression.avsc"), evolution(t, "v2"))
	write(t, spec, strings.Replace(registrySpec, "schemas:\n", "schemas:\n  files: [impression.avsc]\n", 1))

	if code, out, errs := run(t, "check", "-spec", spec); code != 0 || !strings.Contains(out, "compatible") {
		t.Errorf("check: exit %d: %s%s", code, out, errs)
	}
	code, _, errs := run(t, "generate", "-spec", spec)
	if code != 0 {
		t.Fatalf("generate: exit %d: %s", code, errs)
	}
	types, err := os.ReadFile(filepath.Join(dir, "imps", "types.go"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`Viewable\s+bool`, `CampaignID\s+int64`, `sources: streamgen.yaml, impression.avsc\n`} {
		if !regexp.MustCompile(want).Match(types) {
			t.Errorf("types.go lacks %q: not generated from the file's version 2", want)
		}
	}
}

// TestFilesAndSubjectsSharingSomeTypesDisagree: a subject whose schema
// defines a type the files define and others they do not cannot be
// combined with the files; generate and check say so alike.
func TestFilesAndSubjectsSharingSomeTypesDisagree(t *testing.T) {
	reg := srfake.New()
	defer reg.Close()
	inline := strings.Replace(impV1, `"type":"com.example.ads.GeoPoint"`, `"type":`+geoV1, 1)
	if _, _, err := reg.RegisterSchema("impressions-value", sr.Schema{Schema: inline}); err != nil {
		t.Fatal(err)
	}
	dir, spec := registryDir(t, reg.URL())
	write(t, filepath.Join(dir, "geo.avsc"), strings.Replace(geoV1, `"type":"double"}]`, `"type":"double"},{"name":"alt","type":"double","default":0}]`, 1))
	write(t, spec, strings.Replace(registrySpec, "schemas:\n", "schemas:\n  files: [geo.avsc]\n", 1))
	want := `type "com.example.ads.GeoPoint" is defined twice (first at ` + filepath.Join(dir, "geo.avsc") + `:1:1); schemas.files replaces a registry subject only when the files define every type the subject's schema does`
	for _, cmd := range []string{"generate", "check"} {
		code, _, errs := run(t, cmd, "-spec", spec)
		wantCode := 1
		if cmd == "check" {
			wantCode = CheckCouldNotCheck
		}
		if code != wantCode || !strings.Contains(errs, "registry impressions-value@1") || !strings.Contains(errs, want) {
			t.Errorf("%s: exit %d, stderr:\n%s\nwant %s", cmd, code, errs, want)
		}
	}
}
