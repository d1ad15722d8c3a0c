package main

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// soakTally counts what the soak saw: every answer by class, and every
// token issued, so that a token issued twice, or a refresh token that
// worked once and then not, shows.
type soakTally struct {
	ok, fail, server atomic.Int64
	mu               sync.Mutex
	issued           map[[32]byte]bool
	dup, lost        int
	first            []string
}

func (t *soakTally) token(s string) {
	if s == "" {
		return
	}
	h := sha256.Sum256([]byte(s))
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.issued[h] {
		t.dup++
	}
	t.issued[h] = true
}

func (t *soakTally) result(err error) {
	if err == nil {
		t.ok.Add(1)
		return
	}
	t.fail.Add(1)
	if strings.Contains(err.Error(), ": 5") {
		t.server.Add(1)
	}
	t.mu.Lock()
	if len(t.first) < 3 {
		t.first = append(t.first, err.Error())
	}
	t.mu.Unlock()
}

// soak runs mixed traffic (sign-ins, refreshes, client_credentials,
// introspections) paced at 80% of what the same mix reached unpaced, for
// the -soak duration, and reports errors, duplicated or lost tokens and
// the process's memory before, right after and a while after.
func (b *bench) soak(ctx context.Context) {
	if b.c.soak <= 0 {
		return
	}
	rssBefore := procStatus(b.c.pid, "VmRSS")
	calib := &soakTally{issued: map[[32]byte]bool{}}
	b.soakRun(ctx, calib, 10*time.Second, 0)
	capacity := float64(calib.ok.Load()) / 10
	rate := 0.8 * capacity
	t := &soakTally{issued: map[[32]byte]bool{}}
	b.soakRun(ctx, t, b.c.soak, rate)
	rssAfter := procStatus(b.c.pid, "VmRSS")
	time.Sleep(30 * time.Second)
	rssLater := procStatus(b.c.pid, "VmRSS")

	ok := t.server.Load() == 0 && t.dup == 0 && t.lost == 0
	row("soak (mixed, 80% paced)", formatRate(float64(t.ok.Load())/b.c.soak.Seconds()),
		"", "", strconv.FormatInt(t.fail.Load(), 10), "", "", verdict(ok, "no 5xx, no token lost or issued twice"))
	fmt.Printf("    %s at %.0f/s of a measured %.0f/s: %d answers, %d failed (%d 5xx), %d tokens issued, %d twice, %d refresh tokens lost\n",
		b.c.soak, rate, capacity, t.ok.Load()+t.fail.Load(), t.fail.Load(), t.server.Load(), len(t.issued), t.dup, t.lost)
	if rssBefore > 0 {
		fmt.Printf("    RSS %.1f MB before, %.1f MB at the end, %.1f MB 30 s later\n", float64(rssBefore)/1024, float64(rssAfter)/1024, float64(rssLater)/1024)
	}
	for _, m := range t.first {
		fmt.Printf("    error: %s\n", m)
	}
}

// soakRun runs the mix with the bench's workers for d, at most rate
// operations a second in all (0: as fast as they go).
func (b *bench) soakRun(ctx context.Context, t *soakTally, d time.Duration, rate float64) {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	var tick <-chan time.Time
	if rate > 0 {
		tk := time.NewTicker(time.Duration(float64(time.Second) / rate))
		defer tk.Stop()
		tick = tk.C
	}
	var wg sync.WaitGroup
	for w := range b.c.workers {
		wg.Go(func() { b.soakWorker(ctx, t, w, tick) })
	}
	wg.Wait()
}

// soakWorker repeats one round of the mix: a sign-in now and then, and
// otherwise a refresh, two client_credentials tokens and an introspection.
func (b *bench) soakWorker(ctx context.Context, t *soakTally, w int, tick <-chan time.Time) {
	c := newClient(nil)
	rt := ""
	form := url.Values{"grant_type": {"client_credentials"}}
	for i := 0; ; i++ {
		if tick != nil {
			select {
			case <-ctx.Done():
				return
			case <-tick:
			}
		}
		if ctx.Err() != nil {
			return
		}
		var err error
		switch {
		case rt == "" || (i+w)%40 == 0:
			var tr tokenResponse
			tr, err = b.login(ctx, c)
			t.token(tr.AccessToken)
			t.token(tr.RefreshToken)
			rt = tr.RefreshToken
		case i%4 == 1:
			var tr tokenResponse
			tr, err = postToken(ctx, c, b.ep.Token, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}, "client_id": {b.c.publicClientID}}, "", "")
			if err != nil && ctx.Err() == nil {
				t.mu.Lock()
				t.lost++ // a refresh token latch issued and never saw used
				t.mu.Unlock()
			}
			t.token(tr.AccessToken)
			t.token(tr.RefreshToken)
			rt = tr.RefreshToken
		case i%4 == 3:
			var tr tokenResponse
			if tr, err = postToken(ctx, c, b.ep.Token, form, b.c.clientID, b.c.clientSecret); err == nil {
				err = b.introspect(ctx, c, tr.AccessToken)
			}
			t.token(tr.AccessToken)
		default:
			var tr tokenResponse
			tr, err = postToken(ctx, c, b.ep.Token, form, b.c.clientID, b.c.clientSecret)
			t.token(tr.AccessToken)
		}
		if ctx.Err() != nil && errors.Is(err, context.DeadlineExceeded) {
			return // cut by the end of the run, not an answer
		}
		t.result(err)
	}
}

// introspect asks whether token is active, as the confidential client.
func (b *bench) introspect(ctx context.Context, c *http.Client, token string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, b.ep.Introspection, strings.NewReader(url.Values{"token": {token}}.Encode()))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(url.QueryEscape(b.c.clientID), url.QueryEscape(b.c.clientSecret))
	resp, body, err := do(c, req)
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), `"active":true`) {
		return httpError(req, resp, body)
	}
	return nil
}
