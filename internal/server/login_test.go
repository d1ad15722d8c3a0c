package server

import (
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/latch-idp/latch/password"
	"github.com/latch-idp/latch/storage"
)

// TestPasswordHashingIsBounded pins that a flood of logins cannot make
// latch compute unbounded Argon2id hashes at once: beyond
// LATCH_HASH_CONCURRENCY a login waits LATCH_HASH_WAIT, then gets 429 and a
// "try again" page; the others succeed.
func TestPasswordHashingIsBounded(t *testing.T) {
	params := password.Params{Memory: 32 * 1024, Iterations: 2, Parallelism: 1}
	s := startServer(t, func(c *Config) {
		c.Argon2Memory, c.Argon2Iterations, c.Argon2Parallelism = int(params.Memory), int(params.Iterations), int(params.Parallelism)
		c.HashConcurrency = 1
		c.HashWait = 5 * time.Millisecond
	})
	// Users whose hashes have the server's parameters, so that every login
	// computes a full Argon2id hash.
	hash, err := password.NewHasher(params, 1, time.Minute).Hash(t.Context(), testPassword)
	if err != nil {
		t.Fatal(err)
	}
	const n = 6
	var users []storage.User
	for range n {
		u, err := s.store.CreateUser(t.Context(), storage.User{Email: "busy-" + strings.ToLower(randString(8)) + "@example.com", PasswordHash: hash, EmailVerified: true}, storage.Effects{})
		if err != nil {
			t.Fatal(err)
		}
		users = append(users, u)
	}
	// Each browser first loads the login page (for its CSRF token), then
	// all post at once.
	type attempt struct {
		b    *browser
		form form
		u    storage.User
	}
	var attempts []attempt
	for _, u := range users {
		b := s.browser()
		p := b.get(t, s.URL+"/login")
		attempts = append(attempts, attempt{b, p.formWith(t, "password"), u})
	}
	statuses := make([]int, n)
	bodies := make([]string, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i, a := range attempts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			form := url.Values{}
			for k, v := range a.form.Fields {
				form[k] = v
			}
			form.Set("email", a.u.Email)
			form.Set("password", testPassword)
			req, _ := http.NewRequest(http.MethodPost, a.form.Action.String(), strings.NewReader(form.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			resp, err := a.b.c.Do(req)
			if err != nil {
				return
			}
			defer resp.Body.Close()
			buf := make([]byte, 4096)
			k, _ := resp.Body.Read(buf)
			statuses[i], bodies[i] = resp.StatusCode, string(buf[:k])
		}()
	}
	close(start)
	wg.Wait()
	busy, ok := 0, 0
	for i, st := range statuses {
		switch st {
		case http.StatusTooManyRequests:
			busy++
			if !strings.Contains(bodies[i], "try again") {
				t.Errorf("a busy answer says to try again, got %q", bodies[i])
			}
		case http.StatusSeeOther:
			ok++
		default:
			t.Errorf("login %d: unexpected status %d", i, st)
		}
	}
	if busy == 0 || ok == 0 {
		t.Fatalf("want some logins through and some told to try again, got %d ok and %d busy", ok, busy)
	}
}
