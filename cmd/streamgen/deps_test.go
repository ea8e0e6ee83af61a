package main

import (
	"os/exec"
	"strings"
	"testing"
)

// TestGeneratorLinksNoEngine checks that the streamgen binary depends on the
// codec, configuration and registry pieces of the runtime only: the engine
// (package runtime) and its Kafka client (kgo, kadm) are for the jobs the
// generator writes, not for the generator.
func TestGeneratorLinksNoEngine(t *testing.T) {
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command on PATH")
	}
	out, err := exec.Command(goTool, "list", "-deps", ".").Output()
	if err != nil {
		t.Fatalf("go list -deps: %v", err)
	}
	forbidden := map[string]string{
		"github.com/streamgen/streamgen/runtime": "the engine",
		"github.com/twmb/franz-go/pkg/kgo":       "the Kafka client",
		"github.com/twmb/franz-go/pkg/kadm":      "the Kafka admin client",
	}
	var linked []string
	for _, dep := range strings.Fields(string(out)) {
		if what, bad := forbidden[dep]; bad {
			t.Errorf("cmd/streamgen links %s (%s)", dep, what)
		}
		if strings.HasPrefix(dep, "github.com/streamgen/streamgen/runtime") {
			linked = append(linked, dep)
		}
	}
	if t.Failed() {
		t.Logf("runtime packages it links: %s; `go mod why PACKAGE` shows the import chain that brings one in", strings.Join(linked, ", "))
	}
}
