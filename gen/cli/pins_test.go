package cli

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/sr/srfake"

	"github.com/streamgen/streamgen/gen/registry"
)

func order(t *testing.T, v string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "schemas", "evolution", "order_"+v+".avsc"))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

const orderSpec = `version: 1
name: shop
schemas:
  files: [order.avsc]
streams:
  - name: orders
    subscribe: [orders]
    value: com.example.shop.Order
    encoding: ENCODING
`

// orderDir is a project whose orders stream has the encoding given, with
// order.avsc at version v.
func orderDir(t *testing.T, encoding, v string) (dir, spec string) {
	t.Helper()
	dir = t.TempDir()
	spec = filepath.Join(dir, "streamgen.yaml")
	write(t, spec, strings.Replace(orderSpec, "ENCODING", encoding, 1))
	write(t, filepath.Join(dir, "order.avsc"), order(t, v))
	return dir, spec
}

func lockedVersions(t *testing.T, dir, stream string) []string {
	t.Helper()
	l := readLock(t, dir)
	ls := l.Stream(stream)
	if ls == nil {
		t.Fatalf("streamgen.lock does not pin stream %s", stream)
	}
	var fps []string
	for _, v := range ls.Versions {
		fps = append(fps, v.Fingerprint)
	}
	return fps
}

// TestRawStreamSchemaChangeNeedsAWriterOrAnAcknowledgement is the raw
// stream of the user's first hour: the value type lost a field and gained
// another, and generate said nothing while the job read version 1's
// source into version 2's channel. Now the lock pins the value schema and
// generate refuses the change, at the stream's value, until the spec
// declares the producers' schema or acknowledges the change.
func TestRawStreamSchemaChangeNeedsAWriterOrAnAcknowledgement(t *testing.T) {
	dir, spec := orderDir(t, "raw", "v1")
	code, out, errs := run(t, "generate", "-spec", spec)
	if code != 0 || !strings.Contains(out, "streamgen.lock") {
		t.Fatalf("first generate: exit %d, stdout %q, stderr %s", code, out, errs)
	}
	v1 := lockedVersions(t, dir, "orders")
	lockBefore, _ := os.ReadFile(filepath.Join(dir, registry.LockFile))

	write(t, filepath.Join(dir, "order.avsc"), order(t, "v2"))
	for _, args := range [][]string{{"generate", "-spec", spec}, {"generate", "-check", "-spec", spec}} {
		code, _, errs = run(t, args...)
		if code != 1 || !regexp.MustCompile(`streamgen\.yaml:8:12: stream "orders" is raw-encoded and its value com\.example\.shop\.Order changed since streamgen\.lock pinned it \(fingerprint 0x[0-9a-f]{16}, now 0x[0-9a-f]{16}\)`).MatchString(errs) {
			t.Fatalf("%v after the change: exit %d, stderr %s", args, code, errs)
		}
	}
	if lockAfter, _ := os.ReadFile(filepath.Join(dir, registry.LockFile)); string(lockAfter) != string(lockBefore) {
		t.Error("a refused generate changed streamgen.lock")
	}
	now := regexp.MustCompile(`acknowledgeSchemaChange: "(0x[0-9a-f]{16})"`).FindStringSubmatch(errs)
	if now == nil {
		t.Fatalf("the error does not give the acknowledgement to add: %s", errs)
	}

	// A wrong fingerprint is named at its own position.
	write(t, spec, strings.Replace(orderSpec, "ENCODING", "raw\n    acknowledgeSchemaChange: \"0x0000000000000001\"", 1))
	code, _, errs = run(t, "generate", "-spec", spec)
	if code != 1 || !strings.Contains(errs, `streamgen.yaml:10:30: stream "orders": acknowledgeSchemaChange is 0x0000000000000001, but the value com.example.shop.Order is now `+now[1]) {
		t.Fatalf("wrong acknowledgement: exit %d, stderr %s", code, errs)
	}

	// The declared writer schema: accepted, and the lock moves on.
	write(t, filepath.Join(dir, "order_v1.avsc"), order(t, "v1"))
	write(t, spec, strings.Replace(orderSpec, "ENCODING", "raw\n    writerSchema: order_v1.avsc", 1))
	if code, _, errs = run(t, "generate", "-check", "-spec", spec); code != 1 || !strings.Contains(errs, "streamgen.lock") {
		t.Errorf("generate -check with the writer declared: exit %d, want 1 naming the lock it would write: %s", code, errs)
	}
	if code, _, errs = run(t, "generate", "-spec", spec); code != 0 {
		t.Fatalf("with writerSchema: exit %d: %s", code, errs)
	}
	if got := lockedVersions(t, dir, "orders"); len(got) != 1 || got[0] != now[1] || got[0] == v1[0] {
		t.Errorf("lock pins %v, want only %s", got, now[1])
	}

	// Or the acknowledgement, in another project.
	dir2, spec2 := orderDir(t, "raw", "v1")
	if code, _, errs = run(t, "generate", "-spec", spec2); code != 0 {
		t.Fatal(errs)
	}
	write(t, filepath.Join(dir2, "order.avsc"), order(t, "v2"))
	write(t, spec2, strings.Replace(orderSpec, "ENCODING", "raw\n    acknowledgeSchemaChange: \""+now[1]+"\"", 1))
	if code, _, errs = run(t, "generate", "-spec", spec2); code != 0 {
		t.Fatalf("acknowledged: exit %d: %s", code, errs)
	}
	if got := lockedVersions(t, dir2, "orders"); len(got) != 1 || got[0] != now[1] {
		t.Errorf("lock pins %v, want only %s", got, now[1])
	}
}

// TestSingleObjectStreamPinsEveryVersion: a single-object stream's lock
// keeps each version of the value type, and the generated job knows them
// as writers; a change in logical types only, which the records'
// fingerprints cannot show, is refused.
func TestSingleObjectStreamPinsEveryVersion(t *testing.T) {
	dir, spec := orderDir(t, "single-object", "v1")
	if code, _, errs := run(t, "generate", "-spec", spec); code != 0 {
		t.Fatal(errs)
	}
	write(t, filepath.Join(dir, "order.avsc"), order(t, "v2"))
	if code, _, errs := run(t, "generate", "-spec", spec); code != 0 {
		t.Fatalf("single-object v1 to v2: exit %d: %s", code, errs)
	}
	if got := lockedVersions(t, dir, "orders"); len(got) != 2 {
		t.Errorf("lock pins %v, want versions 1 and 2", got)
	}
	streams, err := os.ReadFile(filepath.Join(dir, "shop", "streams.go"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(streams), "sgOrdersKnownWriters...") || !strings.Contains(string(streams), `\"name\":\"source\"`) {
		t.Errorf("the generated job does not resolve version 1 by fingerprint:\n%s", streams)
	}
	// Generating again changes nothing.
	if code, out, errs := run(t, "generate", "-spec", spec); code != 0 || !strings.HasPrefix(out, "unchanged") {
		t.Errorf("generate again: exit %d, stdout %q, stderr %s", code, out, errs)
	}

	write(t, filepath.Join(dir, "order.avsc"), order(t, "v3_scale"))
	code, _, errs := run(t, "generate", "-spec", spec)
	if code != 1 || !strings.Contains(errs, `streamgen.yaml:8:12: stream "orders" is single-object encoded and its value com.example.shop.Order differs from a version streamgen.lock pins`) ||
		!strings.Contains(errs, "decimal scale changed from 2 to 3") {
		t.Errorf("logical-only change: exit %d, stderr %s", code, errs)
	}
}

// TestConfluentStreamsNeedNoLock: records that name their writer by
// registry id need no pin, and generate writes no lock for them.
func TestConfluentStreamsNeedNoLock(t *testing.T) {
	dir, spec := orderDir(t, "confluent", "v1")
	if code, out, errs := run(t, "generate", "-spec", spec); code != 0 || strings.Contains(out, "streamgen.lock") {
		t.Fatalf("a confluent stream needs no lock: exit %d, stdout %q, %s", code, out, errs)
	}
	if _, err := os.Stat(filepath.Join(dir, registry.LockFile)); !os.IsNotExist(err) {
		t.Errorf("streamgen.lock written for a confluent stream: %v", err)
	}
}

// TestPinnedVersionOfAnotherScaleGetsNoDecoder: a single-object stream
// whose pinned version 1 has total at scale 2, read now as scale 3 (with
// other fields changed too, so the fingerprints differ): the generator
// writes no decoder for version 1, which would read its unscaled
// integers at the new scale; the runtime refuses that writer instead.
func TestPinnedVersionOfAnotherScaleGetsNoDecoder(t *testing.T) {
	dir, spec := orderDir(t, "single-object", "v1")
	if code, _, errs := run(t, "generate", "-spec", spec); code != 0 {
		t.Fatal(errs)
	}
	write(t, filepath.Join(dir, "order.avsc"), order(t, "v2"))
	if code, _, errs := run(t, "generate", "-spec", spec); code != 0 {
		t.Fatal(errs)
	}
	c, err := os.ReadFile(filepath.Join(dir, "shop", "codec.go"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(c), "func (r *Order) sgUnmarshalAvroFrom") {
		t.Fatal("no decoder generated for the pinned version 1 of the same scale: the premise of this test is gone")
	}

	dir, spec = orderDir(t, "single-object", "v1")
	if code, _, errs := run(t, "generate", "-spec", spec); code != 0 {
		t.Fatal(errs)
	}
	write(t, filepath.Join(dir, "order.avsc"), order(t, "v3_scale"))
	if code, _, errs := run(t, "generate", "-spec", spec); code != 0 {
		t.Fatalf("v1 to v3: exit %d: %s", code, errs)
	}
	c, err = os.ReadFile(filepath.Join(dir, "shop", "codec.go"))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(c), "func (r *Order) sgUnmarshalAvroFrom") {
		t.Errorf("a decoder was generated for a pinned version whose decimal has another scale:\n%s", c)
	}
	if code, _, errs := run(t, "check", "-spec", spec); code != CheckIncompatible || !strings.Contains(errs, "decimal scale changed from 2 to 3") {
		t.Errorf("check -locked: exit %d: %s", code, errs)
	}
}

// TestSchemasPullKeepsStreamPins: pulling the registry's subjects rewrites
// streamgen.lock but keeps what generate pinned for a raw stream, and the
// pinned build still guards the stream's value.
func TestSchemasPullKeepsStreamPins(t *testing.T) {
	reg := srfake.New()
	defer reg.Close()
	registerImpressions(t, reg)
	dir, spec := registryDir(t, reg.URL())
	write(t, spec, strings.Replace(registrySpec, "    value: com.example.ads.Impression\n", "    value: com.example.ads.Impression\n    encoding: raw\n", 1))
	if code, _, errs := run(t, "generate", "-spec", spec); code != 0 {
		t.Fatal(errs)
	}
	pinned := lockedVersions(t, dir, "impressions")
	if code, _, errs := run(t, "schemas", "pull", "-spec", spec); code != 0 {
		t.Fatal(errs)
	}
	l := readLock(t, dir)
	if !l.HasRegistryPins() || l.Stream("impressions") == nil || l.Stream("impressions").Versions[0].Fingerprint != pinned[0] {
		t.Fatalf("after schemas pull the lock is %+v, want the registry's pins and the stream's %v", l, pinned)
	}
	if code, out, errs := run(t, "generate", "-spec", spec); code != 0 || !strings.HasPrefix(out, "unchanged") {
		t.Errorf("generate from the pins: exit %d, %q, %s", code, out, errs)
	}
	// A new version registered and pulled is a change of the raw stream's value.
	registerImpV2(t, reg)
	if code, _, errs := run(t, "schemas", "pull", "-spec", spec); code != 0 {
		t.Fatal(errs)
	}
	if code, _, errs := run(t, "generate", "-spec", spec); code != 1 || !strings.Contains(errs, `stream "impressions" is raw-encoded and its value com.example.ads.Impression changed`) {
		t.Errorf("generate after pulling version 2: exit %d: %s", code, errs)
	}
}
