package cli

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/sr"
	"github.com/twmb/franz-go/pkg/sr/srfake"
)

// The pairwise verdicts of the Impression evolution series
// (schemas/evolution; generated_test/evolution_test.go decodes them):
// can a reader version read a writer version?
//
//	reader ↓ writer →  v1    v2            v3
//	v1                 yes   no (long→int) no (long→int, TV, long payload)
//	v2                 yes   yes           only without TV and long payloads
//	v3                 yes   yes           yes
//
// BACKWARD asks whether the local (new) schema reads the registered
// versions, FORWARD whether the registered versions read the local one,
// FULL both; the plain forms check the latest version, the _TRANSITIVE
// forms every version. TestCheckEvolutionMatrix runs streamgen check for
// each history and level: the exit code, and each finding naming the
// level, the version and the field. "version N" in a finding is the
// subject's version N, the Nth schema registered, not the series' vN.

const (
	cannotReadVersion1   = `%s: the local schema cannot read version 1: field "campaign_id": type changed from long to int (not promotable)`
	version1CannotRead   = `%s: version 1 cannot read the local schema: field "campaign_id": type changed from long to int (not promotable)`
	version2CannotReadTV = `%s: version 2 cannot read the local schema: field "device": writer enum symbol "TV" is not in reader enum com.example.ads.DeviceType, which has no default (reading it fails)`
	version2CannotReadL  = `%s: version 2 cannot read the local schema: field "payload": writer union branch long matches no branch of reader union [null, string] (reading such a value fails)`
	cannotReadTV         = `%s: the local schema cannot read version %d: field "device": writer enum symbol "TV"`
	cannotReadL          = `%s: the local schema cannot read version %d: field "payload": writer union branch long`
)

func TestCheckEvolutionMatrix(t *testing.T) {
	type tc struct {
		registered []int // versions, in registration order
		local      int
		level      sr.CompatibilityLevel
		want       []string // every finding, in order; none: exit 0
	}
	f := fmt.Sprintf
	var cases []tc
	add := func(registered []int, local int, level sr.CompatibilityLevel, want ...string) {
		cases = append(cases, tc{registered, local, level, want})
	}
	levels := []sr.CompatibilityLevel{sr.CompatNone, sr.CompatBackward, sr.CompatBackwardTransitive, sr.CompatForward, sr.CompatForwardTransitive, sr.CompatFull, sr.CompatFullTransitive}
	for _, l := range levels {
		// The same schema again is compatible under every level.
		add([]int{1}, 1, l)
	}
	// v1 registered, v2 about to be: adding a defaulted field and
	// widening int to long is backward compatible, not forward.
	add([]int{1}, 2, sr.CompatBackward)
	add([]int{1}, 2, sr.CompatBackwardTransitive)
	add([]int{1}, 2, sr.CompatForward, f(version1CannotRead, "FORWARD"))
	add([]int{1}, 2, sr.CompatForwardTransitive, f(version1CannotRead, "FORWARD_TRANSITIVE"))
	add([]int{1}, 2, sr.CompatFull, f(version1CannotRead, "FULL"))
	add([]int{1}, 2, sr.CompatFullTransitive, f(version1CannotRead, "FULL_TRANSITIVE"))
	add([]int{1}, 2, sr.CompatNone)
	// v1 and v2 registered, v3 about to be: v3 reads both (backward, also
	// transitively); v2 reads v3 only in part, v1 not at all, and the
	// non-transitive levels look at v2 alone.
	add([]int{1, 2}, 3, sr.CompatBackward)
	add([]int{1, 2}, 3, sr.CompatBackwardTransitive)
	add([]int{1, 2}, 3, sr.CompatForward, f(version2CannotReadTV, "FORWARD"), f(version2CannotReadL, "FORWARD"))
	add([]int{1, 2}, 3, sr.CompatForwardTransitive,
		f(version1CannotRead, "FORWARD_TRANSITIVE"),
		`FORWARD_TRANSITIVE: version 1 cannot read the local schema: field "device": writer enum symbol "TV"`,
		`FORWARD_TRANSITIVE: version 1 cannot read the local schema: field "payload": writer union branch long`,
		f(version2CannotReadTV, "FORWARD_TRANSITIVE"), f(version2CannotReadL, "FORWARD_TRANSITIVE"))
	add([]int{1, 2}, 3, sr.CompatFull, f(version2CannotReadTV, "FULL"), f(version2CannotReadL, "FULL"))
	add([]int{1, 2}, 3, sr.CompatFullTransitive,
		f(version1CannotRead, "FULL_TRANSITIVE"),
		`FULL_TRANSITIVE: version 1 cannot read the local schema: field "device"`,
		`FULL_TRANSITIVE: version 1 cannot read the local schema: field "payload"`,
		f(version2CannotReadTV, "FULL_TRANSITIVE"), f(version2CannotReadL, "FULL_TRANSITIVE"))
	add([]int{1, 2}, 3, sr.CompatNone)
	// Going back: v2 registered (as version 1), v1 local. v1 cannot read
	// v2's longs, v2 reads v1.
	add([]int{2}, 1, sr.CompatBackward, f(cannotReadVersion1, "BACKWARD"))
	add([]int{2}, 1, sr.CompatForward)
	add([]int{2}, 1, sr.CompatFull, f(cannotReadVersion1, "FULL"))
	// v3 registered (as version 1), v2 local: v2 cannot read v3's TV and
	// long payloads.
	add([]int{3}, 2, sr.CompatBackward, f(cannotReadTV, "BACKWARD", 1), f(cannotReadL, "BACKWARD", 1))
	add([]int{3}, 2, sr.CompatForward)
	// v2 then v3 registered (versions 1 and 2), v1 local: both read v1
	// (forward, also transitively); v1 reads neither, and BACKWARD names
	// the latest, version 2 (v3).
	add([]int{2, 3}, 1, sr.CompatForwardTransitive)
	add([]int{2, 3}, 1, sr.CompatBackward,
		`BACKWARD: the local schema cannot read version 2: field "campaign_id": type changed from long to int (not promotable)`,
		f(cannotReadTV, "BACKWARD", 2), f(cannotReadL, "BACKWARD", 2))

	for _, c := range cases {
		var reg []string
		for _, v := range c.registered {
			reg = append(reg, fmt.Sprint("v", v))
		}
		name := fmt.Sprintf("%s→v%d/%s", strings.Join(reg, "+"), c.local, c.level)
		t.Run(name, func(t *testing.T) {
			fake := srfake.New()
			defer fake.Close()
			for _, v := range reg {
				if _, _, err := fake.RegisterSchema("impressions-value", sr.Schema{Schema: evolution(t, v)}); err != nil {
					t.Fatal(err)
				}
			}
			if err := fake.SetCompat("impressions-value", c.level); err != nil {
				t.Fatal(err)
			}
			dir, spec := registryDir(t, fake.URL())
			write(t, filepath.Join(dir, "impression.avsc"), evolution(t, fmt.Sprint("v", c.local)))
			write(t, spec, strings.Replace(registrySpec, "schemas:\n", "schemas:\n  files: [impression.avsc]\n", 1))
			code, out, errs := run(t, "check", "-spec", spec)
			if len(c.want) == 0 {
				if code != 0 || out != "schemas are compatible with the registry\n" || errs != "" {
					t.Errorf("exit %d, stdout %q, stderr:\n%s", code, out, errs)
				}
				return
			}
			if code != 1 || out != "" {
				t.Errorf("exit %d, stdout %q; want 1 and findings on stderr", code, out)
			}
			lines := strings.Split(strings.TrimSuffix(errs, "\n"), "\n")
			if len(lines) != len(c.want) {
				t.Fatalf("%d findings, want %d:\n%s", len(lines), len(c.want), errs)
			}
			for i, w := range c.want {
				if !strings.HasPrefix(lines[i], "impressions-value: "+w) {
					t.Errorf("finding %d:\n  %s\nwant it to start with\n  impressions-value: %s", i, lines[i], w)
				}
			}
		})
	}
}
