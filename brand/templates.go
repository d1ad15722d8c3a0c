package brand

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"slices"
	"strings"
	"sync"
)

// Templates is a directory of template files that replace built-in ones
// (LATCH_TEMPLATES_DIR): DIR/PACKAGE/FILE replaces the file FILE of the
// package PACKAGE (login/login.html, mail/password_reset.txt,
// web/layout.html). A nil *Templates replaces nothing.
type Templates struct {
	dir fs.FS
	// files are the override files found at start; used those some
	// package has read in place of its own.
	files []string
	mu    sync.Mutex
	used  map[string]bool
}

// OpenTemplates reads the override directory dir. Empty dir: nil, no
// overrides.
func OpenTemplates(dir string) (*Templates, error) {
	if dir == "" {
		return nil, nil
	}
	fi, err := os.Stat(dir)
	if err != nil {
		return nil, fmt.Errorf("cannot read %s: %v", dir, errors.Unwrap(err))
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("%s is not a directory", dir)
	}
	t := &Templates{dir: os.DirFS(dir), used: map[string]bool{}}
	err = fs.WalkDir(t.dir, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && !strings.HasPrefix(d.Name(), ".") {
			t.files = append(t.files, p)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("cannot read %s: %v", dir, err)
	}
	return t, nil
}

// FS is builtin, the embedded files of package pkg, with every file
// root/NAME replaced by the override pkg/NAME when there is one.
func (t *Templates) FS(pkg string, builtin fs.FS, root string) fs.FS {
	if t == nil {
		return builtin
	}
	return overlay{t: t, pkg: pkg, builtin: builtin, root: root}
}

// Unused lists the override files no package read: names that replace
// nothing, a mistake an operator should hear of at start.
func (t *Templates) Unused() []string {
	if t == nil {
		return nil
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	var out []string
	for _, f := range t.files {
		if !t.used[f] {
			out = append(out, f)
		}
	}
	slices.Sort(out)
	return out
}

type overlay struct {
	t       *Templates
	pkg     string
	builtin fs.FS
	root    string
}

func (o overlay) Open(name string) (fs.File, error) {
	rel, ok := strings.CutPrefix(name, o.root+"/")
	if !ok || !fs.ValidPath(name) {
		return o.builtin.Open(name)
	}
	over := path.Join(o.pkg, rel)
	if !slices.Contains(o.t.files, over) {
		return o.builtin.Open(name)
	}
	f, err := o.t.dir.Open(over)
	if err != nil {
		return nil, err
	}
	o.t.mu.Lock()
	o.t.used[over] = true
	o.t.mu.Unlock()
	return f, nil
}

// OverrideError is a template override that cannot be used, named as the
// operator wrote it: LATCH_TEMPLATES_DIR: login/login.html: what is wrong.
type OverrideError struct {
	File string // PACKAGE/FILE under the directory
	Err  error
}

func (e *OverrideError) Error() string {
	return "LATCH_TEMPLATES_DIR: " + e.File + ": " + e.Err.Error()
}

func (e *OverrideError) Unwrap() error { return e.Err }

// Err is err about the file name of package pkg (root/NAME) read through
// t: an *OverrideError when an override replaced it, else err as is (a
// built-in template is a build defect).
func (t *Templates) Err(pkg, root, name string, err error) error {
	if over, ok := t.overridden(pkg, root, name); ok {
		return &OverrideError{File: over, Err: err}
	}
	return err
}

// Overrides lists the override files of package pkg.
func (t *Templates) Overrides(pkg string) []string {
	if t == nil {
		return nil
	}
	var out []string
	for _, f := range t.files {
		if strings.HasPrefix(f, pkg+"/") {
			out = append(out, f)
		}
	}
	return out
}

func (t *Templates) overridden(pkg, root, name string) (string, bool) {
	if t == nil {
		return "", false
	}
	rel, ok := strings.CutPrefix(name, root+"/")
	over := path.Join(pkg, rel)
	return over, ok && slices.Contains(t.files, over)
}
