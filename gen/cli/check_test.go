package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/sr"
	"github.com/twmb/franz-go/pkg/sr/srfake"
)

func evolution(t *testing.T, v string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "schemas", "evolution", "impression_"+v+".avsc"))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestCheckCompatibilityLevels runs streamgen check with the evolution
// series: versions registered under impressions-value, a local schema file,
// and each compatibility level. The in-process registry accepts anything,
// so every verdict here is the local check's, by the specification's rules.
func TestCheckCompatibilityLevels(t *testing.T) {
	for _, tc := range []struct {
		registered []string
		local      string
		level      sr.CompatibilityLevel
		want       []string // substrings of the findings; none = compatible
	}{
		{[]string{"v1"}, "v2", sr.CompatBackward, nil},
		{[]string{"v1"}, "v2", sr.CompatForward, []string{`FORWARD: version 1 cannot read the local schema: field "campaign_id": type changed from long to int (not promotable)`}},
		{[]string{"v1"}, "v2", sr.CompatFull, []string{`version 1 cannot read the local schema: field "campaign_id"`}},
		{[]string{"v2"}, "v1", sr.CompatBackward, []string{`BACKWARD: the local schema cannot read version 1: field "campaign_id": type changed from long to int (not promotable)`}},
		{[]string{"v2"}, "v1", sr.CompatNone, nil},
		{[]string{"v1", "v2"}, "v3", sr.CompatBackwardTransitive, nil},
		{[]string{"v1", "v2"}, "v3", sr.CompatBackward, nil},
		{[]string{"v2"}, "v3", sr.CompatForward, []string{`"TV"`, `"payload"`}},
		{[]string{"v1", "v2"}, "v3", sr.CompatForwardTransitive, []string{`version 1 cannot read the local schema: field "campaign_id"`, `version 2 cannot read`}},
	} {
		name := strings.Join(tc.registered, "+") + "→" + tc.local + "/" + tc.level.String()
		t.Run(name, func(t *testing.T) {
			reg := srfake.New()
			defer reg.Close()
			for _, v := range tc.registered {
				if _, _, err := reg.RegisterSchema("impressions-value", sr.Schema{Schema: evolution(t, v)}); err != nil {
					t.Fatal(err)
				}
			}
			if err := reg.SetCompat("impressions-value", tc.level); err != nil {
				t.Fatal(err)
			}
			dir, spec := registryDir(t, reg.URL())
			write(t, filepath.Join(dir, "impression.avsc"), evolution(t, tc.local))
			write(t, spec, strings.Replace(registrySpec, "schemas:\n", "schemas:\n  files: [impression.avsc]\n", 1))
			code, out, errs := run(t, "check", "-spec", spec)
			if len(tc.want) == 0 {
				if code != 0 || !strings.Contains(out, "compatible") {
					t.Errorf("exit %d, stdout %q, stderr:\n%s", code, out, errs)
				}
				return
			}
			if code != 1 {
				t.Errorf("exit %d, want 1; stderr:\n%s", code, errs)
			}
			for _, w := range tc.want {
				if !strings.Contains(errs, "impressions-value: ") || !strings.Contains(errs, w) {
					t.Errorf("findings lack %q:\n%s", w, errs)
				}
			}
		})
	}
}

func TestCheckNamesSubjectsWithoutLocalSchema(t *testing.T) {
	reg := srfake.New()
	defer reg.Close()
	if _, _, err := reg.RegisterSchema("clicks-value", sr.Schema{Schema: geoV1}); err != nil {
		t.Fatal(err)
	}
	dir, spec := registryDir(t, reg.URL())
	write(t, filepath.Join(dir, "impression.avsc"), evolution(t, "v1"))
	write(t, spec, strings.Replace(strings.Replace(registrySpec, "schemas:\n", "schemas:\n  files: [impression.avsc]\n", 1), "[impressions-value]", "[clicks-value]", 1))
	code, _, errs := run(t, "check", "-spec", spec)
	if code != CheckCouldNotCheck || !strings.Contains(errs, "clicks-value: no local schema for the subject") {
		t.Errorf("exit %d: %s", code, errs)
	}
}
