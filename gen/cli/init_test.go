package cli

import (
	"bytes"
	"debug/elf"
	"errors"
	"go/format"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	goruntime "runtime"
	"strings"
	"testing"
	"time"

	"github.com/goccy/go-yaml"

	"github.com/streamgen/streamgen/gen/spec"
	"github.com/streamgen/streamgen/internal/pgtest"
	"github.com/streamgen/streamgen/templates"
)

// checkoutDir is this repository's root, the -replace of the projects the
// tests make.
func checkoutDir(t *testing.T) string {
	t.Helper()
	dir, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

// initInto runs `streamgen init` for template into dir, building against
// this checkout, and fails the test if it fails.
func initInto(t *testing.T, template, dir string, extra ...string) string {
	t.Helper()
	args := append([]string{"init", "-replace", checkoutDir(t)}, extra...)
	code, out, errs := run(t, append(args, template, dir)...)
	if code != 0 {
		t.Fatalf("streamgen init %s: exit %d: %s", template, code, errs)
	}
	return out
}

// TestInitTemplatesBuildAndPassTheirTests makes a project of every
// template outside this module, as a user would (module example.com/NAME,
// go.mod replacing streamgen with this checkout), and runs what init's
// next steps say: go mod tidy, go generate, go build, go vet and go test,
// whose run of the job on kfake must pass, not skip. The entity cache's
// test gets the PostgreSQL database of this repository's tests.
func TestInitTemplatesBuildAndPassTheirTests(t *testing.T) {
	t.Parallel() // builds a module, beside the other tests that do (see templateBinary)
	if testing.Short() {
		t.Skip("builds a module per template")
	}
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command")
	}
	for _, tmpl := range templates.List {
		t.Run(tmpl.Name, func(t *testing.T) {
			t.Parallel()
			start := time.Now()
			// CGO_ENABLED=0 as the Dockerfile builds: the binary checked
			// below is the image's, and every step shares one build cache.
			env := append(os.Environ(), "GOFLAGS="+os.Getenv("GOFLAGS")+" -mod=mod", "GOWORK=off", "GOTOOLCHAIN=local", "CGO_ENABLED=0")
			if tmpl.Name == "entity-cache" {
				env = append(env, templates.EnvPrefix(tmpl.Name)+"_TEST_POSTGRES_DSN="+pgtest.DSN(t))
			}
			dir := filepath.Join(t.TempDir(), tmpl.Name)
			initInto(t, tmpl.Name, dir, "-module", "example.com/"+tmpl.Name)
			goCmd := func(args ...string) string {
				t.Helper()
				cmd := exec.Command(goBin, args...)
				cmd.Dir, cmd.Env = dir, env
				out, err := cmd.CombinedOutput()
				if err != nil {
					t.Fatalf("go %s: %v\n%s", strings.Join(args, " "), err, out)
				}
				return string(out)
			}
			goCmd("mod", "tidy")
			if out := goCmd("generate", "./..."); !strings.Contains(out, "unchanged ") {
				t.Errorf("go generate right after init changed the generated code init wrote:\n%s", out)
			}
			// Every package, and the job's binary (the image's: static, for
			// a distroless base without libc) into a directory of its own.
			bins := t.TempDir()
			goCmd("build", "-o", bins+string(filepath.Separator), "./...")
			bin := filepath.Join(bins, tmpl.Name)
			if interp := elfInterpreter(t, bin); goruntime.GOOS == "linux" && interp != "" {
				t.Errorf("the job's binary is dynamically linked (interpreter %s): the distroless static image has no loader", interp)
			}
			goCmd("vet", "./...")
			out := goCmd("test", "-count=1", "-v", "./...")
			if !regexp.MustCompile(`(?m)^--- PASS: Test`).MatchString(out) || strings.Contains(out, "--- SKIP") || strings.Contains(out, "--- FAIL") {
				t.Errorf("go test of the %s project did not pass every test:\n%s", tmpl.Name, out)
			}
			t.Logf("init, tidy, generate, build, vet, test: %s", time.Since(start).Round(100*time.Millisecond))
		})
	}
}

// elfInterpreter returns the program interpreter (the dynamic loader) an
// ELF binary asks for, "" for a static binary.
func elfInterpreter(t *testing.T, path string) string {
	t.Helper()
	f, err := elf.Open(path)
	if err != nil {
		if goruntime.GOOS == "linux" {
			t.Fatalf("the job's binary: %v", err)
		}
		return "" // not ELF: the image is linux, this check too
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			b := make([]byte, p.Filesz)
			p.ReadAt(b, 0)
			return strings.TrimRight(string(b), "\x00")
		}
	}
	return ""
}

// TestInitManifests checks that each template's Go files are formatted as
// rendered, and what its Dockerfile and Kubernetes manifest promise: a static non-root image exposing the status port; a
// pod that Kubernetes probes on /healthz and /readyz, scrapes on /metrics,
// gives longer to stop than the job's shutdown timeout, names its Kafka
// static member after itself, and sets every variable the spec reads.
func TestInitManifests(t *testing.T) {
	for _, tmpl := range templates.List {
		t.Run(tmpl.Name, func(t *testing.T) {
			v := templates.Vars{Job: "my-job", Module: "example.com/my-job", Package: "myjob", Version: "v1.2.3"}
			files, err := templates.Render(tmpl.Name, v)
			if err != nil {
				t.Fatal(err)
			}
			byPath := map[string][]byte{}
			for _, f := range files {
				byPath[f.Path] = f.Data
				if strings.HasSuffix(f.Path, ".go") {
					if formatted, err := format.Source(f.Data); err != nil || !bytes.Equal(formatted, f.Data) {
						t.Errorf("%s as rendered is not gofmt-formatted (%v)", f.Path, err)
					}
				}
			}
			for _, want := range []string{"go.mod", "streamgen.yaml", "main.go", "handler.go", "main_test.go", "Dockerfile", "deploy/kubernetes.yaml", "README.md"} {
				if byPath[want] == nil {
					t.Errorf("the template writes no %s", want)
				}
			}
			sp, err := spec.Parse("streamgen.yaml", byPath["streamgen.yaml"], func(string) (string, bool) { return "", false })
			if err != nil {
				t.Fatalf("streamgen.yaml: %v", err)
			}
			if sp.Name != v.Job || sp.Package != v.Package {
				t.Errorf("streamgen.yaml names job %q, package %q; want %q, %q", sp.Name, sp.Package, v.Job, v.Package)
			}
			_, statusPort, err := net.SplitHostPort(sp.Job.StatusAddr)
			if err != nil {
				t.Fatalf("status.addr %q: %v", sp.Job.StatusAddr, err)
			}
			shutdown := sp.Job.ShutdownTimeout
			if shutdown == 0 {
				shutdown = 10 * sp.Job.BatchInterval
			}

			checkDockerfile(t, string(byPath["Dockerfile"]), v.Job, statusPort)

			prefix := templates.EnvPrefix(v.Job)
			pod := podOf(t, byPath["deploy/kubernetes.yaml"])
			ann := dig(pod, "metadata", "annotations")
			if dig(ann, "prometheus.io/scrape") != "true" || dig(ann, "prometheus.io/port") != statusPort || dig(ann, "prometheus.io/path") != "/metrics" {
				t.Errorf("the pod's Prometheus annotations are %v; want scrape true, port %s, path /metrics", ann, statusPort)
			}
			grace, _ := dig(pod, "spec", "terminationGracePeriodSeconds").(uint64)
			if time.Duration(grace)*time.Second <= shutdown {
				t.Errorf("terminationGracePeriodSeconds is %d, not longer than the job's shutdown timeout %s: Kubernetes would kill a stop in progress", grace, shutdown)
			}
			if dig(pod, "spec", "securityContext", "runAsNonRoot") != true {
				t.Error("the pod does not say runAsNonRoot")
			}
			containers, _ := dig(pod, "spec", "containers").([]any)
			if len(containers) != 1 {
				t.Fatalf("the pod has %d containers, want 1", len(containers))
			}
			c := containers[0]
			for probe, path := range map[string]string{"livenessProbe": "/healthz", "readinessProbe": "/readyz"} {
				if got := dig(c, probe, "httpGet", "path"); got != path {
					t.Errorf("%s is on %v, want %s", probe, got, path)
				}
				if got := dig(c, probe, "httpGet", "port"); got != "status" {
					t.Errorf("%s probes port %v, want the status port", probe, got)
				}
			}
			ports, _ := dig(c, "ports").([]any)
			if len(ports) != 1 || dig(ports[0], "name") != "status" || dig(ports[0], "containerPort") != uint64(mustAtoi(t, statusPort)) {
				t.Errorf("the container's ports are %v; want status, %s", ports, statusPort)
			}
			env := map[string]any{}
			envs, _ := dig(c, "env").([]any)
			for _, e := range envs {
				name, _ := dig(e, "name").(string)
				env[name] = e
			}
			if got := dig(env[prefix+"_INSTANCE_ID"], "valueFrom", "fieldRef", "fieldPath"); got != "metadata.name" {
				t.Errorf("%s_INSTANCE_ID is %v, want the pod's name (fieldRef metadata.name)", prefix, env[prefix+"_INSTANCE_ID"])
			}
			if env[prefix+"_BROKERS"] == nil {
				t.Errorf("the manifest does not set %s_BROKERS", prefix)
			}
			// Every variable of the job's that the spec reads is set: a
			// typo would leave the job on the spec's default.
			for _, m := range regexp.MustCompile(`\$\{(`+prefix+`_\w+)`).FindAllStringSubmatch(string(byPath["streamgen.yaml"]), -1) {
				if env[m[1]] == nil {
					t.Errorf("streamgen.yaml reads ${%s}, which the manifest does not set", m[1])
				}
			}
			if dir, ok := dig(env[prefix+"_SINK_DIR"], "value").(string); ok {
				mounts, _ := dig(c, "volumeMounts").([]any)
				if len(mounts) != 1 || dig(mounts[0], "mountPath") != dir {
					t.Errorf("the warehouse directory %s is not the mounted volume (%v)", dir, mounts)
				}
			}
		})
	}
}

// podOf returns the pod template of the manifest's StatefulSet or
// Deployment, checking that it runs at least one replica.
func podOf(t *testing.T, manifest []byte) any {
	t.Helper()
	dec := yaml.NewDecoder(bytes.NewReader(manifest))
	var pod any
	for {
		var doc map[string]any
		if err := dec.Decode(&doc); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatalf("deploy/kubernetes.yaml: %v", err)
		}
		switch doc["kind"] {
		case "StatefulSet", "Deployment":
			if r, _ := dig(doc, "spec", "replicas").(uint64); r < 1 {
				t.Errorf("the %s runs %v replicas", doc["kind"], dig(doc, "spec", "replicas"))
			}
			pod = dig(doc, "spec", "template")
		}
	}
	if pod == nil {
		t.Fatal("deploy/kubernetes.yaml has no StatefulSet or Deployment")
	}
	return pod
}

// dig follows keys through nested maps; nil where one is missing.
func dig(v any, keys ...string) any {
	for _, k := range keys {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[k]
	}
	return v
}

func mustAtoi(t *testing.T, s string) int {
	t.Helper()
	n := 0
	for _, r := range s {
		if r < '0' || r > '9' {
			t.Fatalf("%q is not a port number", s)
		}
		n = n*10 + int(r-'0')
	}
	return n
}

// checkDockerfile: two stages, a static build, a distroless non-root
// final image running the job's binary, and the status port exposed.
func checkDockerfile(t *testing.T, df, job, port string) {
	t.Helper()
	froms := regexp.MustCompile(`(?m)^FROM (\S+)`).FindAllStringSubmatch(df, -1)
	if len(froms) != 2 || !strings.Contains(froms[1][1], "distroless/static") || !strings.HasSuffix(froms[1][1], ":nonroot") {
		t.Errorf("Dockerfile stages %v: want a build stage and a distroless static nonroot image", froms)
	}
	for _, want := range []string{"CGO_ENABLED=0 go build", "\nUSER nonroot", "\nEXPOSE " + port + "\n", `ENTRYPOINT ["/` + job + `"]`, "-o /out/" + job + " ."} {
		if !strings.Contains(df, want) {
			t.Errorf("Dockerfile lacks %q:\n%s", want, df)
		}
	}
}

func TestInitRefusesANonEmptyDirectoryUnlessForced(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "etl")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	write(t, filepath.Join(dir, "notes.txt"), "mine")
	code, _, errs := run(t, "init", "-replace", checkoutDir(t), "etl-warehouse", dir)
	if code != 1 || !strings.Contains(errs, "is not empty") || !strings.Contains(errs, "-force") {
		t.Fatalf("init into a non-empty directory: exit %d, %q; want a refusal naming -force", code, errs)
	}
	if _, err := os.Stat(filepath.Join(dir, "streamgen.yaml")); err == nil {
		t.Fatal("the refused init wrote streamgen.yaml")
	}
	out := initInto(t, "etl-warehouse", dir, "-force")
	if data, _ := os.ReadFile(filepath.Join(dir, "notes.txt")); string(data) != "mine" {
		t.Errorf("init -force changed a file the template does not have: %q", data)
	}
	for _, f := range []string{"streamgen.yaml", "main.go", "deploy/kubernetes.yaml", "etl/streams.go"} {
		if !strings.Contains(out, filepath.ToSlash(filepath.Join(dir, f))) {
			t.Errorf("init's output does not list %s:\n%s", f, out)
		}
	}
	// A second -force run over its own output regenerates nothing new and
	// still succeeds.
	initInto(t, "etl-warehouse", dir, "-force")
}

func TestInitNamesFromDirAndFlags(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "click-cache")
	out := initInto(t, "entity-cache", dir)
	gomod, _ := os.ReadFile(filepath.Join(dir, "go.mod"))
	if !strings.HasPrefix(string(gomod), "module click-cache\n") || !strings.Contains(string(gomod), "require github.com/streamgen/streamgen v0.0.0\n") ||
		!strings.Contains(string(gomod), "replace github.com/streamgen/streamgen => "+checkoutDir(t)+"\n") || !strings.Contains(string(gomod), "\ntool github.com/streamgen/streamgen/cmd/streamgen\n") {
		t.Errorf("go.mod:\n%s", gomod)
	}
	sp, err := spec.Load(filepath.Join(dir, "streamgen.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if sp.Name != "click-cache" || sp.Package != "clickcache" {
		t.Errorf("job %q, package %q; want click-cache, clickcache", sp.Name, sp.Package)
	}
	if !strings.Contains(out, "go mod tidy") || !strings.Contains(out, "go generate ./...") || !strings.Contains(out, "go test ./...") {
		t.Errorf("init's next steps:\n%s", out)
	}

	dir = filepath.Join(t.TempDir(), "x")
	initInto(t, "anomaly-detector", dir, "-module", "example.com/ads/spikes", "-name", "spikes", "-package", "spk", "-version", "v0.4.0")
	gomod, _ = os.ReadFile(filepath.Join(dir, "go.mod"))
	main, _ := os.ReadFile(filepath.Join(dir, "main.go"))
	if !strings.HasPrefix(string(gomod), "module example.com/ads/spikes\n") || !strings.Contains(string(gomod), "require github.com/streamgen/streamgen v0.4.0\n") ||
		!strings.Contains(string(main), `"example.com/ads/spikes/spk"`) {
		t.Errorf("go.mod:\n%s\nmain.go:\n%s", gomod, main)
	}
	k8s, _ := os.ReadFile(filepath.Join(dir, "deploy", "kubernetes.yaml"))
	if !strings.Contains(string(k8s), "SPIKES_INSTANCE_ID") || !strings.Contains(string(k8s), "name: spikes\n") {
		t.Errorf("the manifest does not use the job's name:\n%s", k8s)
	}
}

// TestInitIntoTheCurrentDirectory: "." names the job and module after
// the directory itself, and the next steps need no cd.
func TestInitIntoTheCurrentDirectory(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "spike-alerts")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	checkout := checkoutDir(t)
	t.Chdir(dir)
	code, out, errs := run(t, "init", "-replace", checkout, "anomaly-detector", ".")
	if code != 0 {
		t.Fatalf("streamgen init anomaly-detector .: exit %d: %s", code, errs)
	}
	if strings.Contains(out, "cd ") {
		t.Errorf("the next steps say cd:\n%s", out)
	}
	sp, err := spec.Load("streamgen.yaml")
	if err != nil {
		t.Fatal(err)
	}
	gomod, _ := os.ReadFile("go.mod")
	if sp.Name != "spike-alerts" || !strings.HasPrefix(string(gomod), "module spike-alerts\n") {
		t.Errorf("job %q, go.mod:\n%s\nwant both named spike-alerts", sp.Name, gomod)
	}
	if _, err := os.Stat(filepath.Join("spikealerts", "streams.go")); err != nil {
		t.Errorf("the package was not generated: %v", err)
	}
}

func TestInitErrors(t *testing.T) {
	tmp := t.TempDir()
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"init", "kafka-to-s3", filepath.Join(tmp, "a")}, 2, `no template "kafka-to-s3"; the templates are etl-warehouse, anomaly-detector, entity-cache, kafka-to-kafka`},
		{[]string{"init", "etl-warehouse"}, 2, "want TEMPLATE and DIR"},
		{[]string{"init", "-replace", checkoutDir(t), "etl-warehouse", filepath.Join(tmp, "My_ETL")}, 1, `"My_ETL" cannot be the job's name`},
		{[]string{"init", "-replace", checkoutDir(t), "-package", "type", "etl-warehouse", filepath.Join(tmp, "b")}, 1, `"type" cannot be the generated package's name`},
		{[]string{"init", "-replace", tmp, "etl-warehouse", filepath.Join(tmp, "c")}, 1, "is not a streamgen checkout"},
		{[]string{"init", "-replace", checkoutDir(t), "-module", `example.com/"x`, "etl-warehouse", filepath.Join(tmp, "e")}, 1, "cannot be a module path"},
		{[]string{"init", "-version", "latest", "etl-warehouse", filepath.Join(tmp, "f")}, 1, `-version "latest" is not a module version`},
		// A test binary is a development build: no version to require.
		{[]string{"init", "etl-warehouse", filepath.Join(tmp, "d")}, 1, "development build"},
	} {
		code, _, errs := run(t, tc.args...)
		if code != tc.code || !strings.Contains(errs, tc.want) {
			t.Errorf("streamgen %s: exit %d, %q; want exit %d and %q", strings.Join(tc.args, " "), code, errs, tc.code, tc.want)
		}
	}
}
