package anomalies

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestReadModel: a model file that is not a model fails to load, with
// the file and what is wrong.
func TestReadModel(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct{ body, err string }{
		{`{"version": "a", "factor": 2, "min_impressions": 5}`, ""},
		{`{"version": "a", "factor": 2, "min_impresions": 5}`, `unknown field "min_impresions"`},
		{`{"version": "a", "factor": 0, "min_impressions": -1}`, "factor 0 is not above 0\nmin_impressions -1 is below 0"},
		{`{"version": "a", "factor": 2} {}`, "more than one JSON value"},
		{`{"version": "a", "fac`, "unexpected EOF"},
	} {
		path := filepath.Join(dir, "model.json")
		if err := os.WriteFile(path, []byte(c.body), 0o644); err != nil {
			t.Fatal(err)
		}
		m, err := readModel(path)
		switch {
		case c.err == "" && (err != nil || m.Factor != 2 || m.MinImpressions != 5):
			t.Errorf("%s: %+v, %v", c.body, m, err)
		case c.err != "" && (err == nil || !strings.Contains(err.Error(), c.err) || !strings.Contains(err.Error(), path)):
			t.Errorf("%s: error %v, want one naming %s with %q", c.body, err, path, c.err)
		}
	}
	if _, err := readModel(filepath.Join(dir, "missing.json")); err == nil {
		t.Error("a missing file loads")
	}
}
