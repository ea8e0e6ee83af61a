package cli

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/sr"
	"github.com/twmb/franz-go/pkg/sr/srfake"
)

const orderRegistrySpec = `version: 1
name: shop
schemas:
  files: [order.avsc]
  registry:
    url: ${TEST_REGISTRY_URL}
    subjects: [orders-value]
streams:
  - name: orders
    subscribe: [orders]
    value: com.example.shop.Order
`

// TestCheckDecimalScaleChange is the decimal of the first issue: total
// went from decimal(12,2) to decimal(12,3), check said compatible, and the
// job read 19.99 as 1.999. Now check names the field and both scales.
func TestCheckDecimalScaleChange(t *testing.T) {
	reg := srfake.New()
	defer reg.Close()
	if _, _, err := reg.RegisterSchema("orders-value", sr.Schema{Schema: order(t, "v2")}); err != nil {
		t.Fatal(err)
	}
	t.Setenv("TEST_REGISTRY_URL", reg.URL())
	dir := t.TempDir()
	spec := filepath.Join(dir, "streamgen.yaml")
	write(t, spec, orderRegistrySpec)
	write(t, filepath.Join(dir, "order.avsc"), order(t, "v3_scale"))
	code, out, errs := run(t, "check", "-spec", spec)
	want := `orders-value: BACKWARD: the local schema cannot read version 1: field "total": decimal scale changed from 2 to 3 (precision 12)`
	if code != CheckIncompatible || !strings.Contains(errs, want) {
		t.Errorf("exit %d, stdout %q, stderr:\n%s\nwant %q", code, out, errs, want)
	}
}

// TestCheckExitCodes: CI tells "incompatible" (1) from "could not check"
// (3), and both from a usage error (2).
func TestCheckExitCodes(t *testing.T) {
	reg := srfake.New()
	defer reg.Close()
	if _, _, err := reg.RegisterSchema("orders-value", sr.Schema{Schema: order(t, "v1")}); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	spec := filepath.Join(dir, "streamgen.yaml")
	write(t, spec, orderRegistrySpec)
	write(t, filepath.Join(dir, "order.avsc"), order(t, "v2"))

	t.Setenv("TEST_REGISTRY_URL", reg.URL())
	if code, out, errs := run(t, "check", "-spec", spec); code != CheckCompatible || !strings.Contains(out, "compatible with the registry") {
		t.Errorf("compatible: exit %d, %q, %s", code, out, errs)
	}
	write(t, filepath.Join(dir, "order.avsc"), order(t, "v3_scale"))
	if _, _, err := reg.RegisterSchema("orders-value", sr.Schema{Schema: order(t, "v2")}); err != nil {
		t.Fatal(err)
	}
	if code, _, errs := run(t, "check", "-spec", spec); code != CheckIncompatible {
		t.Errorf("incompatible: exit %d, want %d: %s", code, CheckIncompatible, errs)
	}

	down := srfake.New()
	url := down.URL()
	down.Close()
	t.Setenv("TEST_REGISTRY_URL", url)
	if code, _, errs := run(t, "check", "-spec", spec); code != CheckCouldNotCheck || !strings.Contains(errs, "orders-value") {
		t.Errorf("registry unreachable: exit %d, want %d: %s", code, CheckCouldNotCheck, errs)
	}
	if code, _, errs := run(t, "check", "-spec", filepath.Join(dir, "missing.yaml")); code != CheckCouldNotCheck {
		t.Errorf("missing spec: exit %d, want %d: %s", code, CheckCouldNotCheck, errs)
	}
	if code, _, _ := run(t, "check", "-spce", spec); code != CheckUsage {
		t.Errorf("misspelled flag: exit %d, want %d", code, CheckUsage)
	}
	if code, _, errs := run(t, "check", "-spec", spec, "-against", filepath.Join(dir, "nope.avsc")); code != CheckCouldNotCheck || !strings.Contains(errs, "nope.avsc") {
		t.Errorf("missing -against file: exit %d: %s", code, errs)
	}
}

// TestCheckAgainstFiles is the offline check for CI without a registry:
// the local schemas against earlier versions' files, at each level. The
// registry the spec names is down: it is not asked.
func TestCheckAgainstFiles(t *testing.T) {
	down := srfake.New()
	t.Setenv("TEST_REGISTRY_URL", down.URL())
	down.Close()
	dir := t.TempDir()
	spec := filepath.Join(dir, "streamgen.yaml")
	write(t, spec, orderRegistrySpec)
	write(t, filepath.Join(dir, "order.avsc"), order(t, "v2"))
	v1, v3 := filepath.Join(dir, "order_v1.avsc"), filepath.Join(dir, "order_v3.avsc")
	write(t, v1, order(t, "v1"))
	write(t, v3, order(t, "v3_scale"))
	imp := filepath.Join(dir, "impression.avsc")
	write(t, imp, evolution(t, "v1"))

	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"-against", v1}, CheckCompatible, "schemas are compatible with " + v1},
		{[]string{"-against", v1, "-level", "FORWARD"}, CheckIncompatible, `FORWARD: it cannot read the local com.example.shop.Order: field "source": reader field is missing from writer record com.example.shop.Order and has no default`},
		{[]string{"-against", v3}, CheckIncompatible, v3 + `: BACKWARD: the local com.example.shop.Order cannot read it: field "total": decimal scale changed from 3 to 2 (precision 12)`},
		{[]string{"-against", v1, "-against", v3, "-level", "full"}, CheckIncompatible, `FULL: it cannot read the local com.example.shop.Order: field "total": decimal scale changed from 2 to 3`},
		{[]string{"-against", imp}, CheckCouldNotCheck, "no local schema defines com.example.ads.Impression"},
		{[]string{"-against", v1, "-level", "SIDEWAYS"}, CheckCouldNotCheck, `unknown compatibility level "SIDEWAYS"`},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			code, out, errs := run(t, append([]string{"check", "-spec", spec}, tc.args...)...)
			if code != tc.code || !strings.Contains(out+errs, tc.want) {
				t.Errorf("exit %d (want %d), stdout %q, stderr:\n%s\nwant %q", code, tc.code, out, errs, tc.want)
			}
		})
	}
}

// TestCheckAgainstLock: with no registry, check compares the local
// schemas with the versions streamgen.lock pins (here, a raw stream's
// value, which generate pinned).
func TestCheckAgainstLock(t *testing.T) {
	dir, spec := orderDir(t, "raw", "v2")
	if code, _, errs := run(t, "check", "-spec", spec); code != CheckCouldNotCheck || !strings.Contains(errs, "nothing to check against") {
		t.Errorf("no registry, no lock: exit %d: %s", code, errs)
	}
	if code, _, errs := run(t, "generate", "-spec", spec); code != 0 {
		t.Fatal(errs)
	}
	if code, out, errs := run(t, "check", "-spec", spec); code != CheckCompatible || !strings.Contains(out, "compatible with the versions streamgen.lock pins") {
		t.Errorf("unchanged: exit %d, %q, %s", code, out, errs)
	}
	write(t, filepath.Join(dir, "order.avsc"), order(t, "v3_scale"))
	code, _, errs := run(t, "check", "-spec", spec)
	if code != CheckIncompatible || !strings.Contains(errs, `streamgen.lock stream orders 0x`) || !strings.Contains(errs, `field "total": decimal scale changed from 2 to 3`) {
		t.Errorf("scale changed: exit %d: %s", code, errs)
	}
}

// TestCheckLockedRegistryPins: the versions schemas pull pinned are
// checked with the registry gone.
func TestCheckLockedRegistryPins(t *testing.T) {
	reg := srfake.New()
	if _, _, err := reg.RegisterSchema("orders-value", sr.Schema{Schema: order(t, "v2")}); err != nil {
		t.Fatal(err)
	}
	t.Setenv("TEST_REGISTRY_URL", reg.URL())
	dir := t.TempDir()
	spec := filepath.Join(dir, "streamgen.yaml")
	write(t, spec, orderRegistrySpec)
	write(t, filepath.Join(dir, "order.avsc"), order(t, "v3_scale"))
	if code, _, errs := run(t, "schemas", "pull", "-spec", spec); code != 0 {
		t.Fatal(errs)
	}
	reg.Close()
	code, _, errs := run(t, "check", "-locked", "-spec", spec)
	if code != CheckIncompatible || !strings.Contains(errs, `streamgen.lock orders-value@1: BACKWARD: the local com.example.shop.Order cannot read it: field "total": decimal scale changed from 2 to 3`) {
		t.Errorf("exit %d: %s", code, errs)
	}
}
