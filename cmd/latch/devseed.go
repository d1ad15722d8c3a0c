package main

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
)

// devSeedFile, in the working directory, keeps the demo credentials of
// `latch serve --dev` the same from one start to the next.
const devSeedFile = ".latch-dev-seed"

// loadDevSeed reads the seed at path, or creates it (0600, 32 random
// bytes in hex) when there is none; created says which.
func loadDevSeed(path string) (seed []byte, created bool, err error) {
	b, err := os.ReadFile(path)
	if err == nil {
		s := strings.TrimSpace(string(b))
		if len(s) < 32 {
			return nil, false, fmt.Errorf("%s: is %d bytes; at least 32 (delete it and latch makes a new one)", path, len(s))
		}
		return []byte(s), false, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return nil, false, fmt.Errorf("%s: cannot read: %v", path, errors.Unwrap(err))
	}
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return nil, false, err
	}
	s := hex.EncodeToString(raw)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, false, fmt.Errorf("%s: cannot create: %v", path, errors.Unwrap(err))
	}
	if _, err := f.WriteString(s + "\n"); err != nil {
		f.Close()
		os.Remove(path)
		return nil, false, fmt.Errorf("%s: cannot write: %v", path, errors.Unwrap(err))
	}
	if err := f.Close(); err != nil {
		os.Remove(path)
		return nil, false, fmt.Errorf("%s: cannot write: %v", path, errors.Unwrap(err))
	}
	return []byte(s), true, nil
}
