//go:build !unix

package sink

import (
	"errors"
	"os"
)

// tryLock needs flock(2), which only Unix systems have.
func tryLock(*os.File) (bool, error) {
	return false, errors.New("the files sink needs flock(2), which this system does not have")
}
