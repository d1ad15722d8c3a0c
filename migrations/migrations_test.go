package migrations_test

import (
	"strings"
	"testing"

	"github.com/latch-idp/latch/migrations"
)

func TestAllIsOrderedWithoutGaps(t *testing.T) {
	all, err := migrations.All()
	if err != nil {
		t.Fatal(err)
	}
	if len(all) == 0 {
		t.Fatal("no migrations embedded")
	}
	for i, m := range all {
		if m.Version != i+1 {
			t.Errorf("%s: version %d, want %d (ordered, no gaps)", m.Name, m.Version, i+1)
		}
		if strings.TrimSpace(m.SQL) == "" {
			t.Errorf("%s is empty", m.Name)
		}
	}
}
