package storagetest

import (
	"bytes"
	"sync/atomic"
	"testing"
	"time"

	"github.com/latch-idp/latch/storage"
)

func iat(id string, maxUses int, expires time.Time) storage.InitialAccessToken {
	return storage.InitialAccessToken{ID: id, Hash: hash(id), MaxUses: maxUses, ExpiresAt: expires}
}

func registrationCases() []testCase {
	return []testCase{
		{name: "self-registered client keeps its registration token hash", run: func(t *testing.T, s Backend) {
			c := publicClient("dyn")
			c.RegistrationTokenHash = hash("rat-1")
			mustClient(t, s, c)
			got, err := s.GetClient(t.Context(), "dyn")
			noErr(t, "GetClient", err)
			if !got.SelfRegistered() || !bytes.Equal(got.RegistrationTokenHash, hash("rat-1")) {
				t.Fatalf("RegistrationTokenHash = %q", got.RegistrationTokenHash)
			}
			got.RegistrationTokenHash = hash("rat-2")
			noErr(t, "UpdateClient", s.UpdateClient(t.Context(), got))
			got, _ = s.GetClient(t.Context(), "dyn")
			if !bytes.Equal(got.RegistrationTokenHash, hash("rat-2")) {
				t.Fatalf("after update: %q", got.RegistrationTokenHash)
			}
			if other := mustClient(t, s, publicClient("cli")); other.SelfRegistered() {
				t.Fatal("a client made without a registration token counts as self-registered")
			}
		}},
		{name: "initial access tokens are used up, expire and are deleted", run: func(t *testing.T, s Backend) {
			ctx := t.Context()
			later := time.Now().Add(time.Hour)
			noErr(t, "create", s.CreateInitialAccessToken(ctx, iat("once", 1, later), effects("iat_created", "")))
			noErr(t, "create", s.CreateInitialAccessToken(ctx, iat("many", 0, later), storage.Effects{}))
			noErr(t, "create", s.CreateInitialAccessToken(ctx, iat("old", 5, time.Now().Add(-time.Second)), storage.Effects{}))
			wantErr(t, "same ID", s.CreateInitialAccessToken(ctx, iat("once", 1, later), storage.Effects{}), storage.ErrAlreadyExists)
			got, err := s.UseInitialAccessToken(ctx, hash("once"))
			noErr(t, "first use", err)
			if got.ID != "once" || got.Uses != 1 {
				t.Fatalf("used token = %+v", got)
			}
			_, err = s.UseInitialAccessToken(ctx, hash("once"))
			wantErr(t, "second use of a single-use token", err, storage.ErrNotFound)
			_, err = s.UseInitialAccessToken(ctx, hash("old"))
			wantErr(t, "expired token", err, storage.ErrNotFound)
			for range 3 {
				_, err = s.UseInitialAccessToken(ctx, hash("many"))
				noErr(t, "unlimited token", err)
			}
			list, err := s.ListInitialAccessTokens(ctx)
			noErr(t, "list", err)
			if len(list) != 3 || list[0].ID != "once" || list[1].Uses != 3 {
				t.Fatalf("list = %+v", list)
			}
			noErr(t, "delete", s.DeleteInitialAccessToken(ctx, "many", storage.Effects{}))
			_, err = s.UseInitialAccessToken(ctx, hash("many"))
			wantErr(t, "deleted token", err, storage.ErrNotFound)
			wantErr(t, "delete again", s.DeleteInitialAccessToken(ctx, "many", storage.Effects{}), storage.ErrNotFound)
		}},
		{name: "racing uses of an initial access token's last use: one wins", run: func(t *testing.T, s Backend) {
			noErr(t, "create", s.CreateInitialAccessToken(t.Context(), iat("race", 2, time.Now().Add(time.Hour)), storage.Effects{}))
			var wins atomic.Int32
			parallel(10, func(int) {
				if _, err := s.UseInitialAccessToken(t.Context(), hash("race")); err == nil {
					wins.Add(1)
				}
			})
			if wins.Load() != 2 {
				t.Fatalf("%d of 10 racing uses of a two-use token won, want 2", wins.Load())
			}
		}},
	}
}
