package flow_test

import (
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/latch-idp/latch/flow"
	"github.com/latch-idp/latch/internal/testenv"
)

func TestFlowStages(t *testing.T) {
	rdb := testenv.Redis(t)
	s := flow.NewStore(rdb, time.Minute, flow.Pages{Login: "/login", Consent: "/consent", Resume: "/oauth2/auth/resume"})
	ctx := t.Context()

	t.Run("case=a flow is found only in its stage", func(t *testing.T) {
		f := &flow.Flow{Stage: flow.StageLogin, ClientID: "app", Scopes: []string{"openid"}}
		if err := s.Create(ctx, f); err != nil {
			t.Fatal(err)
		}
		if len(f.ID) < 40 {
			t.Fatalf("flow IDs must be unguessable, got %q", f.ID)
		}
		if _, err := s.Get(ctx, f.ID, flow.StageConsent); !errors.Is(err, flow.ErrNotFound) {
			t.Fatalf("a login flow must not be accepted as a consent flow, got %v", err)
		}
		got, err := s.Get(ctx, f.ID, flow.StageLogin)
		if err != nil || got.ClientID != "app" {
			t.Fatalf("get: %v %+v", err, got)
		}
		got.Stage, got.UserID = flow.StageResume, "u1"
		if err := s.Save(ctx, got); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Get(ctx, f.ID, flow.StageLogin); !errors.Is(err, flow.ErrNotFound) {
			t.Fatal("after login the flow must not be replayed as a login flow")
		}
		if ttl := rdb.TTL(ctx, "latch:flow:"+f.ID).Val(); ttl <= 0 || ttl > time.Minute {
			t.Fatalf("flow keys carry a TTL, got %v", ttl)
		}
	})
	t.Run("case=take is single use even when racing", func(t *testing.T) {
		f := &flow.Flow{Stage: flow.StageResume}
		if err := s.Create(ctx, f); err != nil {
			t.Fatal(err)
		}
		var wins atomic.Int32
		var wg sync.WaitGroup
		for range 10 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if _, err := s.Take(ctx, f.ID, flow.StageResume); err == nil {
					wins.Add(1)
				}
			}()
		}
		wg.Wait()
		if wins.Load() != 1 {
			t.Fatalf("want exactly one take, got %d", wins.Load())
		}
		if err := s.Save(ctx, f); !errors.Is(err, flow.ErrNotFound) {
			t.Fatalf("saving a taken flow must fail, got %v", err)
		}
	})
	t.Run("case=unknown and empty IDs", func(t *testing.T) {
		for _, id := range []string{"", "nope"} {
			if _, err := s.Get(ctx, id, flow.StageLogin); !errors.Is(err, flow.ErrNotFound) {
				t.Errorf("Get(%q): %v", id, err)
			}
			if _, err := s.Take(ctx, id, flow.StageLogin); !errors.Is(err, flow.ErrNotFound) {
				t.Errorf("Take(%q): %v", id, err)
			}
		}
	})
}

func TestFlowURLs(t *testing.T) {
	s := flow.NewStore(nil, time.Minute, flow.Pages{Login: "/sign-in", Consent: "/approve", Resume: "/continue"})
	for stage, want := range map[flow.Stage]string{
		flow.StageLogin:   "/sign-in?flow=a%2Bb%26c",
		flow.StageConsent: "/approve?flow=a%2Bb%26c",
		flow.StageResume:  "/continue?flow=a%2Bb%26c",
	} {
		if got := s.URL(stage, "a+b&c"); got != want {
			t.Errorf("URL(%s) = %q, want %q", stage, got, want)
		}
	}
}
