package runners

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"time"
)

// ErrLocked is returned when another reconcile or flush of this unit holds
// the lock past the caller's deadline.
var ErrLocked = errors.New("another reconcile of this unit is running")

// fileLock is an exclusive flock(2) on a file. The kernel drops it when the
// holding process dies, so a killed reconcile never leaves it held.
type fileLock struct{ f *os.File }

// lockPollInterval is how often a waiting caller retries the lock.
const lockPollInterval = 50 * time.Millisecond

// acquireLock takes the lock at path, waiting until ctx ends.
func acquireLock(ctx context.Context, path string) (*fileLock, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("cannot create lock folder: %w", err)
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("cannot open lock: %w", err)
	}
	t := time.NewTicker(lockPollInterval)
	defer t.Stop()
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			return &fileLock{f: f}, nil
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) && !errors.Is(err, syscall.EINTR) {
			f.Close()
			return nil, fmt.Errorf("cannot lock %s: %w", path, err)
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, fmt.Errorf("%w: %w", ErrLocked, ctx.Err())
		case <-t.C:
		}
	}
}

// release drops the lock.
func (l *fileLock) release() {
	syscall.Flock(int(l.f.Fd()), syscall.LOCK_UN)
	l.f.Close()
}
