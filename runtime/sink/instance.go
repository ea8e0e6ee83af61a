package sink

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/streamgen/streamgen/internal/backoff"
)

// instance is one Files value's own directory of temporary files,
// DIR/_streamgen/tmp/ID, locked for as long as the instance lives. A
// directory whose lock anyone can take belongs to a closed or killed
// instance: its files are leftovers, never another live job's batch.
type instance struct {
	dir  string
	lock *os.File // the open directory, flocked
}

// newInstance makes and locks a fresh directory under root.
func newInstance(root string) (*instance, error) {
	for {
		var id [8]byte
		_, _ = rand.Read(id[:])
		dir := filepath.Join(root, hex.EncodeToString(id[:]))
		if err := os.Mkdir(dir, 0o755); errors.Is(err, fs.ErrExist) {
			continue
		} else if err != nil {
			return nil, notWritable(dir, err)
		}
		d, err := os.Open(dir)
		if errors.Is(err, fs.ErrNotExist) { // another instance's cleanup took it
			continue
		}
		if err != nil {
			return nil, err
		}
		held, err := tryLock(d)
		if err != nil {
			d.Close()
			return nil, fmt.Errorf("files sink: locking %s: %w", dir, err)
		}
		// Between Mkdir and the lock, another instance's cleanup may have
		// seen the directory unlocked and removed it: start over then.
		if st, err := d.Stat(); !held && err == nil {
			if cur, err := os.Stat(dir); err == nil && os.SameFile(st, cur) {
				return &instance{dir: dir, lock: d}, nil
			}
		}
		d.Close()
	}
}

// close removes the instance's directory and drops its lock.
func (in *instance) close() error {
	err := os.RemoveAll(in.dir)
	if cerr := in.lock.Close(); err == nil {
		err = cerr
	}
	return err
}

// removeDead removes the directories under root of instances that are no
// longer running: what a killed job left of its last batch.
func removeDead(root string, own *instance) error {
	entries, err := os.ReadDir(root)
	if err != nil {
		return fmt.Errorf("files sink: listing %s: %w", root, err)
	}
	for _, e := range entries {
		dir := filepath.Join(root, e.Name())
		if dir == own.dir || !e.IsDir() {
			continue
		}
		d, err := os.Open(dir)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return fmt.Errorf("files sink: removing temporary files: %w", err)
		}
		held, err := tryLock(d)
		if err == nil && !held {
			err = os.RemoveAll(dir)
		}
		d.Close()
		if err != nil {
			return fmt.Errorf("files sink: removing the temporary files in %s: %w", dir, err)
		}
	}
	return nil
}

// lockPartition takes the lock that serializes publishing into one
// partition, across instances and processes, waiting while another holds
// it. Holding it is short: a listing, a link and a directory sync.
func lockPartition(ctx context.Context, path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, notWritable(path, err)
	}
	err = backoff.Retry{First: time.Millisecond, Max: 20 * time.Millisecond, Failed: func(err error, _ int) error {
		if err != errLockHeld {
			return err
		}
		return nil
	}}.Do(ctx, func() error {
		held, err := tryLock(f)
		switch {
		case err != nil:
			return fmt.Errorf("files sink: locking %s: %w", path, err)
		case held:
			return errLockHeld
		}
		return nil
	})
	if err == nil {
		return f, nil
	}
	f.Close()
	if err == errLockHeld {
		return nil, fmt.Errorf("files sink: waiting for the lock %s: %w", path, ctx.Err())
	}
	return nil, err
}

// errLockHeld: another instance or process holds a partition's lock.
var errLockHeld = errors.New("lock held")
