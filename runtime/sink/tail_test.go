package sink

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/streamgen/streamgen/runtime"
)

// setRecord overwrites tp's lock file record as a publisher would have.
func setRecord(t *testing.T, f *impressions, tail end, pending runtime.OffsetRange, hasPending bool) {
	t.Helper()
	if err := os.WriteFile(f.core.lockPath(imps0), formatRecord(tail, pending, hasPending), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestFilesRecordAfterACrash: a publisher killed between announcing its
// file and linking it, or between linking it and recording it as the
// end, leaves a record the next publisher reads right.
func TestFilesRecordAfterACrash(t *testing.T) {
	t.Run("before the link", func(t *testing.T) {
		f := newFiles(t, t.TempDir())
		if err := publish(f, 1, rng("imps", 0, 0, 5)); err != nil {
			t.Fatal(err)
		}
		setRecord(t, f, end{ok: true, from: 0, until: 5}, rng("imps", 0, 5, 10), true)
		if err := publish(f, 2, rng("imps", 0, 5, 8)); err != nil {
			t.Errorf("the batch after an unpublished announcement: %v", err)
		}
	})
	t.Run("after the link", func(t *testing.T) {
		dir := t.TempDir()
		f := newFiles(t, dir)
		if err := publish(f, 1, rng("imps", 0, 0, 5)); err != nil {
			t.Fatal(err)
		}
		// The killed publisher's file is on disk; its record still says
		// pending.
		pdir := partitionDir(dir, imps0)
		if err := os.Link(filepath.Join(pdir, fileName(rng("imps", 0, 0, 5))), filepath.Join(pdir, fileName(rng("imps", 0, 5, 10)))); err != nil {
			t.Fatal(err)
		}
		setRecord(t, f, end{ok: true, from: 0, until: 5}, rng("imps", 0, 5, 10), true)
		var fe *runtime.FencedError
		if err := publish(f, 2, rng("imps", 0, 5, 8)); !errors.As(err, &fe) || fe.Stored != 10 {
			t.Errorf("a batch over the killed publisher's file: %v, want fenced at 10", err)
		}
		if err := publish(f, 3, rng("imps", 0, 10, 12)); err != nil {
			t.Errorf("the batch after the killed publisher's file: %v", err)
		}
	})
}

// TestFilesRecordIsOnlyAShortcut: a record that is garbage, or names a
// file someone removed, costs a listing and changes no decision.
func TestFilesRecordIsOnlyAShortcut(t *testing.T) {
	for name, corrupt := range map[string]func(t *testing.T, f *impressions){
		"garbage": func(t *testing.T, f *impressions) {
			if err := os.WriteFile(f.core.lockPath(imps0), []byte("not a record"), 0o644); err != nil {
				t.Fatal(err)
			}
		},
		"wrong tail": func(t *testing.T, f *impressions) {
			setRecord(t, f, end{ok: true, from: 5, until: 7}, runtime.OffsetRange{}, false)
		},
		"empty": func(t *testing.T, f *impressions) {
			if err := os.Truncate(f.core.lockPath(imps0), 0); err != nil {
				t.Fatal(err)
			}
		},
	} {
		t.Run(name, func(t *testing.T) {
			f := newFiles(t, t.TempDir())
			if err := publish(f, 1, rng("imps", 0, 0, 5)); err != nil {
				t.Fatal(err)
			}
			corrupt(t, f)
			var fe *runtime.FencedError
			if err := publish(f, 2, rng("imps", 0, 7, 9)); !errors.As(err, &fe) || fe.Stored != 5 {
				t.Errorf("a batch after a gap: %v, want fenced at 5", err)
			}
			if err := publish(f, 3, rng("imps", 0, 5, 9)); err != nil {
				t.Errorf("the next batch: %v", err)
			}
			offs, err := f.Load(context.Background(), []runtime.TopicPartition{imps0})
			if err != nil || offs[imps0] != 9 {
				t.Errorf("Load = %v, %v; want 9", offs, err)
			}
		})
	}
}
