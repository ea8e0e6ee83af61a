package main

import (
	"os/exec"
	"strings"
	"testing"
)

// TestGeneratorLinksNoEngine checks that the generator depends on the
// codec, configuration and registry pieces of the runtime only: the engine
// (package runtime) and franz-go's Kafka clients (kgo, kadm) are for the
// jobs the generator writes, not for the generator. The streamgen binary
// links kgo only because streamgen dev (gen/cli) runs franz-go's
// in-process broker, kfake, which is built on it; it still links neither
// the engine nor kadm.
func TestGeneratorLinksNoEngine(t *testing.T) {
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command on PATH")
	}
	deps := func(pkgs ...string) []string {
		t.Helper()
		out, err := exec.Command(goTool, append([]string{"list", "-deps"}, pkgs...)...).Output()
		if err != nil {
			t.Fatalf("go list -deps: %v", err)
		}
		return strings.Fields(string(out))
	}
	check := func(what string, deps []string, forbidden map[string]string) {
		t.Helper()
		var linked []string
		for _, dep := range deps {
			if why, bad := forbidden[dep]; bad {
				t.Errorf("%s links %s (%s)", what, dep, why)
			}
			if strings.HasPrefix(dep, "github.com/streamgen/streamgen/runtime") {
				linked = append(linked, dep)
			}
		}
		if t.Failed() {
			t.Logf("runtime packages %s links: %s; `go mod why PACKAGE` shows the import chain that brings one in", what, strings.Join(linked, ", "))
		}
	}
	engine := map[string]string{
		"github.com/streamgen/streamgen/runtime": "the engine",
		"github.com/twmb/franz-go/pkg/kadm":      "the Kafka admin client",
	}
	check("cmd/streamgen", deps("."), engine)
	generator := map[string]string{"github.com/twmb/franz-go/pkg/kgo": "the Kafka client"}
	for k, v := range engine {
		generator[k] = v
	}
	check("the generator (gen/ but the command line)", deps("../../gen", "../../gen/golang", "../../gen/model", "../../gen/names", "../../gen/registry", "../../gen/schema", "../../gen/spec"), generator)

	// kgo comes in through kfake alone: nothing else of the binary's
	// imports it but the command line's dev, which runs kfake anyway.
	out, err := exec.Command(goTool, "list", "-deps", "-f", `{{.ImportPath}} {{join .Imports " "}}`, ".").Output()
	if err != nil {
		t.Fatalf("go list -deps: %v", err)
	}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		pkg, imports, _ := strings.Cut(line, " ")
		if strings.Contains(" "+imports+" ", " github.com/twmb/franz-go/pkg/kgo ") && !strings.HasPrefix(pkg, "github.com/twmb/franz-go/") && pkg != "github.com/streamgen/streamgen/gen/cli" {
			t.Errorf("%s imports kgo into the streamgen binary", pkg)
		}
	}
}
