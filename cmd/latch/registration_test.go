package main

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/latch-idp/latch/registration"
	"github.com/latch-idp/latch/secret"
)

func TestCLIRegistrationTokens(t *testing.T) {
	cliEnvFor(t)
	var created registration.TokenInfo
	t.Run("case=create prints the token once", func(t *testing.T) {
		out := mustCLI(t, "", "clients", "registration-token", "create", "--expires-in", "2h", "--max-uses", "3")
		if err := json.Unmarshal([]byte(out), &created); err != nil {
			t.Fatalf("not JSON: %s", out)
		}
		if created.ID == "" || len(created.Token) < 40 || created.MaxUses != 3 ||
			time.Until(time.Unix(created.ExpiresAt, 0)) < 119*time.Minute {
			t.Fatalf("created = %+v", created)
		}
	})
	t.Run("case=list shows it without the token", func(t *testing.T) {
		out := mustCLI(t, "", "clients", "registration-token", "list", "--json")
		if strings.Contains(out, created.Token) {
			t.Fatal("list prints the token")
		}
		var all []registration.TokenInfo
		json.Unmarshal([]byte(out), &all)
		if len(all) != 1 || all[0].ID != created.ID || all[0].Uses != 0 {
			t.Fatalf("list = %+v", all)
		}
		if table := mustCLI(t, "", "clients", "registration-token", "list"); !strings.Contains(table, created.ID) {
			t.Fatalf("table: %s", table)
		}
	})
	t.Run("case=delete, then again", func(t *testing.T) {
		mustCLI(t, "", "clients", "registration-token", "delete", created.ID)
		if _, _, err := cli(t, "", "clients", "registration-token", "delete", created.ID); err == nil || !strings.Contains(err.Error(), "no registration token") {
			t.Fatalf("second delete: %v", err)
		}
	})
	t.Run("case=usage errors", func(t *testing.T) {
		for _, args := range [][]string{
			{"clients", "registration-token"}, {"clients", "registration-token", "create", "--expires-in", "-1h"},
			{"clients", "registration-token", "delete"}, {"clients", "registration-token", "frob"},
		} {
			if _, _, err := cli(t, "", args...); !errors.Is(err, errUsage) {
				t.Errorf("latch %v: %v", args, err)
			}
		}
	})
}

// A registration token's ID is an argument of `latch clients
// registration-token delete`: it must never read as a flag.
func TestRegistrationTokenIDsNeverStartWithADash(t *testing.T) {
	box, err := secret.New([]byte(testSecret))
	if err != nil {
		t.Fatal(err)
	}
	for range 2000 {
		if iat, _ := registration.NewInitialAccessToken(box, 1, time.Hour); strings.HasPrefix(iat.ID, "-") {
			t.Fatalf("ID %q starts with a dash", iat.ID)
		}
	}
}
