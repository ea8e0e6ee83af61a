package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/sr"
	"github.com/twmb/franz-go/pkg/sr/srfake"
)

// TestReadmeCheckExampleIsWhatCheckPrints: the finding the README shows
// for streamgen check is one that check prints, word for word: version 1
// of the evolution series registered after version 2, under BACKWARD.
func TestReadmeCheckExampleIsWhatCheckPrints(t *testing.T) {
	data, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, after, ok := strings.Cut(string(data), "<!-- check example: gen/cli/check_test.go --> `")
	if !ok {
		t.Fatal("README.md lacks the check example the test marks")
	}
	example, _, _ := strings.Cut(after, "`")

	reg := srfake.New()
	defer reg.Close()
	if _, _, err := reg.RegisterSchema("impressions-value", sr.Schema{Schema: evolution(t, "v2")}); err != nil {
		t.Fatal(err)
	}
	if err := reg.SetCompat("impressions-value", sr.CompatBackward); err != nil {
		t.Fatal(err)
	}
	dir, spec := registryDir(t, reg.URL())
	write(t, filepath.Join(dir, "impression.avsc"), evolution(t, "v1"))
	write(t, spec, strings.Replace(registrySpec, "schemas:\n", "schemas:\n  files: [impression.avsc]\n", 1))
	code, _, errs := run(t, "check", "-spec", spec)
	if code != 1 || !strings.Contains(errs, example+"\n") {
		t.Errorf("check: exit %d, printed:\n%s\nthe README shows:\n%s", code, errs, example)
	}
}
