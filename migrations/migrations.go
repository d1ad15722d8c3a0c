// Package migrations holds latch's PostgreSQL schema as versioned SQL files,
// embedded in the binary so that `latch migrate` and `latch serve` need
// nothing but the executable. storage/postgres applies them.
//
// A file, once released, is never edited: a change to the schema is a new
// file with the next version number.
package migrations

import (
	"embed"
	"fmt"
	"io/fs"
	"sort"
	"strconv"
	"strings"
)

//go:embed *.sql
var files embed.FS

// FS holds the migration files, named NNNN_description.sql.
var FS fs.FS = files

// Migration is one versioned schema change.
type Migration struct {
	Version int
	Name    string // the file name
	SQL     string
}

// All returns every migration in FS, in version order. It fails on a badly
// named file or on two files with one version, so that a mistake is caught
// by the tests rather than by a half-migrated database.
func All() ([]Migration, error) {
	entries, err := fs.ReadDir(FS, ".")
	if err != nil {
		return nil, fmt.Errorf("migrations: read: %w", err)
	}
	var out []Migration
	seen := map[int]string{}
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() || !strings.HasSuffix(name, ".sql") {
			continue
		}
		prefix, _, ok := strings.Cut(name, "_")
		v, err := strconv.Atoi(prefix)
		if !ok || err != nil || v <= 0 {
			return nil, fmt.Errorf("migrations: %s: name must be NNNN_description.sql", name)
		}
		if other, dup := seen[v]; dup {
			return nil, fmt.Errorf("migrations: %s and %s share version %d", other, name, v)
		}
		seen[v] = name
		body, err := fs.ReadFile(FS, name)
		if err != nil {
			return nil, fmt.Errorf("migrations: read %s: %w", name, err)
		}
		out = append(out, Migration{Version: v, Name: name, SQL: string(body)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Version < out[j].Version })
	return out, nil
}
