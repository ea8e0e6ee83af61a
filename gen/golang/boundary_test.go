package golang

import (
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// TestModelIsTheBoundary: the emitter's only input is the model. Neither
// gen/golang nor gen/model depends on the spec package, so whatever the
// emitter needs of the spec is resolved into the model by schema.Build.
func TestModelIsTheBoundary(t *testing.T) {
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("no go command")
	}
	out, err := exec.Command("go", "list", "-deps", ".", "../model").Output()
	if err != nil {
		t.Fatal(err)
	}
	deps := strings.Fields(string(out))
	if slices.Contains(deps, "github.com/streamgen/streamgen/gen/spec") {
		t.Error("gen/golang or gen/model depends on gen/spec: resolve what the emitter reads into the model instead")
	}
}
