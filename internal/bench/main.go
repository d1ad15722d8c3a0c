// Command bench is latch's load generator. `make bench` (scripts/bench.sh)
// runs it against the real binary with PostgreSQL and Redis beside it:
//
//	go run ./internal/bench -issuer URL -client-id ID -client-secret S \
//	    -public-client-id ID -redirect-uri URI -email E -password P
//
// Each scenario runs at each number of connections (-connections, 16 and
// 64 by default: a worker per keep-alive HTTP connection) for a fixed
// duration after a short warm-up, and prints one line: successful requests
// per second, p50/p99 latency, errors, latch's CPU per request (read from
// /proc for its process, -pid) and the targets. -json appends the figures
// to a report that `bench compare OLD.json NEW.json` (make bench-compare)
// sets beside another, scenario by scenario. A response with an unexpected status is an error; the
// first few distinct errors are printed. Nothing here asserts a timing: the
// figures are for people to read.
//
// Two helper commands prepare and clean up the bench's own database and
// Redis database on TEST_DATABASE_URL / TEST_REDIS_URL (see setup.go).
//
// It must never be imported, and never talk to anything but the issuer it
// is given and the servers named in its environment.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

func main() {
	if len(os.Args) > 1 {
		switch os.Args[1] {
		case "prepare":
			exitOn(prepare(os.Stdout))
			return
		case "cleanup":
			exitOn(cleanup(os.Args[2:]))
			return
		case "compare":
			exitOn(compare(os.Args[2:]))
			return
		case "bare":
			exitOn(bare(os.Args[2:]))
			return
		}
	}
	exitOn(runBench(os.Args[1:]))
}

func exitOn(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

// config is the command line of a bench run.
type config struct {
	issuer         string
	duration       time.Duration
	warmup         time.Duration
	connections    []int
	workers        int // the soak's: the first of connections
	jsonPath       string
	pprofURL       string // latch's metrics listener with its profiler
	profileDir     string
	flowWorkers    int
	flood          int // the flood scenario's concurrent sign-ins
	clientID       string
	clientSecret   string
	publicClientID string
	idTokenAlg     string // the public client's ID tokens' (labels refresh)
	redirectURI    string
	email          string
	password       string
	alg            string
	scenarios      string
	idleRSSKB      int
	soak           time.Duration
	pid            int
	tableHeader    bool
	// bare labels the rows as the bare server's (`bench bare`), which has
	// no targets.
	bare bool
}

// endpoints are the ones the bench uses, from discovery.
type endpoints struct {
	Discovery     string `json:"-"`
	Authorization string `json:"authorization_endpoint"`
	Token         string `json:"token_endpoint"`
	Introspection string `json:"introspection_endpoint"`
	JWKS          string `json:"jwks_uri"`
}

var allScenarios = []string{"crypto", "client_credentials", "introspection", "refresh", "jwks", "discovery", "code_flow", "flood"}

func runBench(args []string) error {
	var c config
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.StringVar(&c.issuer, "issuer", "", "latch's issuer URL (required)")
	fs.DurationVar(&c.duration, "duration", 5*time.Second, "measured duration of each scenario")
	fs.DurationVar(&c.warmup, "warmup", time.Second, "unmeasured warm-up before each scenario")
	conns := fs.String("connections", "16,64", "comma-separated numbers of concurrent workers (one keep-alive connection each) to run each scenario at")
	fs.StringVar(&c.jsonPath, "json", "", "append the figures to this JSON report (created if missing)")
	fs.StringVar(&c.pprofURL, "pprof", "", "base URL of latch's profiler (LATCH_PPROF=on): a CPU profile of each scenario's measured window goes to -profile-dir")
	fs.StringVar(&c.profileDir, "profile-dir", "bench-results/profiles", "where -pprof writes the profiles")
	fs.IntVar(&c.flowWorkers, "flow-workers", 8, "concurrent workers of the code flow and of the refresh set-up")
	fs.StringVar(&c.clientID, "client-id", "", "confidential client with the client_credentials grant (client_secret_basic)")
	fs.StringVar(&c.clientSecret, "client-secret", "", "its secret")
	fs.StringVar(&c.publicClientID, "public-client-id", "", "first-party public client with authorization_code and refresh_token")
	fs.StringVar(&c.idTokenAlg, "id-token-alg", "RS256", "the algorithm of that client's ID tokens (labels refresh and picks its target)")
	fs.StringVar(&c.redirectURI, "redirect-uri", "", "a redirect URI of the public client (never fetched)")
	fs.StringVar(&c.email, "email", "", "email of the user who signs in")
	fs.StringVar(&c.password, "password", "", "that user's password")
	fs.StringVar(&c.alg, "alg", "RS256", "LATCH_ACCESS_TOKEN_ALG latch runs with (labels client_credentials and picks its target)")
	fs.StringVar(&c.scenarios, "scenarios", strings.Join(allScenarios, ","), "comma-separated scenarios: "+strings.Join(allScenarios, ", "))
	fs.IntVar(&c.idleRSSKB, "idle-rss-kb", 0, "latch's idle VmRSS in KiB, printed beside its target when set")
	fs.IntVar(&c.pid, "pid", 0, "latch's process ID: its VmRSS and VmHWM after the load are printed when set")
	fs.BoolVar(&c.tableHeader, "table-header", true, "print the column header")
	fs.BoolVar(&c.bare, "bare", false, "the issuer is `bench bare`: label its rows \"bare\", without targets")
	fs.IntVar(&c.flood, "flood", 500, "concurrent sign-ins of the flood scenario")
	fs.DurationVar(&c.soak, "soak", 0, "after the scenarios, mixed traffic at 80% of its measured capacity for this long (0: none)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if c.issuer == "" {
		return errors.New("-issuer is required")
	}
	for _, f := range strings.Split(*conns, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 || n > 1024 {
			return fmt.Errorf("-connections: %q is not a number from 1 to 1024", f)
		}
		c.connections = append(c.connections, n)
	}
	c.workers = c.connections[0]
	c.issuer = strings.TrimSuffix(c.issuer, "/")
	want := strings.Split(c.scenarios, ",")
	for _, s := range want {
		if !slices.Contains(allScenarios, s) {
			return fmt.Errorf("unknown scenario %q (have %s)", s, strings.Join(allScenarios, ", "))
		}
	}
	ctx := context.Background()

	ep := endpoints{Discovery: c.issuer + "/.well-known/openid-configuration"}
	if err := discover(ctx, &ep); err != nil {
		return err
	}

	if c.tableHeader {
		fmt.Printf("Each scenario at %v concurrent workers (code flow: %d), each with its own keep-alive connection; %s warm-up, then %s measured.\n",
			c.connections, c.flowWorkers, c.warmup, c.duration)
		fmt.Printf("req/s counts successful requests (code flow: whole flows); \"latch\" is the cores latch's process used, CPU/req its CPU time per request.\n\n")
		row("scenario", "req/s", "p50", "p99", "errors", "latch", "CPU/req", "target")
	}
	if c.bare {
		fmt.Println("bare: a bare net/http server doing the least work of each endpoint, with go-redis and go-jose")
		fmt.Println("(`bench bare`, internal/bench/bare.go): what HTTP, Redis and the signature alone cost on this machine.")
	}
	if c.idleRSSKB > 0 {
		mb := float64(c.idleRSSKB) / 1024
		note := verdict(mb <= 30, "≤ 30 MB")
		if c.bare {
			note = ""
		}
		row(c.rowName("idle RSS"), fmt.Sprintf("%.1f MB", mb), "", "", "", "", "", note)
	}

	b := &bench{c: c, ep: ep}
	if c.bare && c.jsonPath != "" {
		// latch's figures of the same run, to set beside the bare ones.
		if rep, err := readReport(c.jsonPath); err == nil {
			b.latch = map[string]result{}
			for _, r := range rep.Results {
				b.latch[r.key()] = r
			}
		}
	}
	for _, s := range want {
		switch s {
		case "crypto":
			b.limits = b.cryptoLimits()
			continue
		case "code_flow":
			b.codeFlow(ctx)
			continue
		case "flood":
			b.flood(ctx)
			continue
		}
		for _, n := range c.connections {
			b.workers = n
			switch s {
			case "client_credentials":
				b.clientCredentials(ctx)
			case "introspection":
				b.introspection(ctx)
			case "refresh":
				b.refresh(ctx)
			case "jwks":
				b.get(ctx, "jwks", ep.JWKS)
			case "discovery":
				b.get(ctx, "discovery", ep.Discovery)
			}
		}
	}
	b.soak(ctx)
	if c.jsonPath != "" {
		if err := appendReport(c.jsonPath, b.results); err != nil {
			return fmt.Errorf("-json: %w", err)
		}
	}
	if c.pid > 0 && c.idleRSSKB > 0 {
		rss, hwm := procStatus(c.pid, "VmRSS"), procStatus(c.pid, "VmHWM")
		if rss > 0 {
			row(c.rowName("RSS after load"), fmt.Sprintf("%.1f MB", float64(rss)/1024), "", "", "", "", "", fmt.Sprintf("(peak %.1f MB)", float64(hwm)/1024))
		}
	}
	return nil
}

func discover(ctx context.Context, ep *endpoints) error {
	client := newClient(nil)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, ep.Discovery, nil)
	if err != nil {
		return err
	}
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("discovery: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("discovery: %s", resp.Status)
	}
	if err := json.NewDecoder(resp.Body).Decode(ep); err != nil {
		return fmt.Errorf("discovery: %w", err)
	}
	if ep.Authorization == "" || ep.Token == "" || ep.Introspection == "" || ep.JWKS == "" {
		return fmt.Errorf("discovery lacks an endpoint: %+v", *ep)
	}
	return nil
}

// procStatus reads a kB field of /proc/PID/status, 0 when unreadable.
func procStatus(pid int, field string) int {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, field+":"); ok {
			n, _ := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(rest), " kB"))
			return n
		}
	}
	return 0
}

// procCPU is the user and system CPU time the process has used so far, 0
// when unreadable.
func procCPU(pid int) time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// The fields after the command name, which may hold spaces and
	// parentheses, start with the state (field 3); utime and stime are
	// fields 14 and 15, in clock ticks of 1/100 s on Linux.
	f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
	if len(f) < 13 {
		return 0
	}
	ut, _ := strconv.Atoi(f[11])
	st, _ := strconv.Atoi(f[12])
	return time.Duration(ut+st) * 10 * time.Millisecond
}

// newClient is one worker's HTTP client: one keep-alive connection (the
// worker sends one request at a time), redirects not followed, and the
// given cookie jar (nil for none).
func newClient(jar http.CookieJar) *http.Client {
	return &http.Client{
		Transport: &http.Transport{
			MaxIdleConnsPerHost: 2,
			IdleConnTimeout:     time.Minute,
			DisableCompression:  true,
		},
		Jar:           jar,
		Timeout:       30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// errorLog counts errors and keeps the first few distinct messages.
type errorLog struct {
	mu    sync.Mutex
	n     int
	first []string
}

const keepErrors = 3

func (e *errorLog) add(err error) {
	msg := err.Error()
	e.mu.Lock()
	defer e.mu.Unlock()
	e.n++
	if len(e.first) < keepErrors && !slices.Contains(e.first, msg) {
		e.first = append(e.first, msg)
	}
}

// scenario is one measured workload. newWorker prepares worker i (outside
// the measurement) and returns the operation it repeats.
type scenario struct {
	name      string
	workers   int
	newWorker func(ctx context.Context, i int) (op func(ctx context.Context) error, err error)
	target    float64 // requests/s; 0 for none
	targetCPU time.Duration
	// targetTxt explains target; maxP99 is the latency target, 0 for none.
	targetTxt string
	maxP99    time.Duration
}

type bench struct {
	c       config
	ep      endpoints
	workers int         // of the scenario being set up
	limits  cryptoRates // zero until the crypto scenario ran
	results []result
	// latch's results of this run by key, when the bare server is measured
	latch map[string]result
}

// run measures s: every worker repeats its operation through the warm-up
// and the measured window; operations that complete inside the window are
// counted, successes with their latency.
func (b *bench) run(ctx context.Context, s scenario) {
	var latch result
	if b.c.bare {
		latch = b.latch[label(s)]
		s.name = b.c.rowName(s.name)
		s.target, s.targetCPU, s.maxP99, s.targetTxt = 0, 0, 0, ""
	}
	errs := &errorLog{}
	ops := make([]func(context.Context) error, s.workers)
	var wg sync.WaitGroup
	for i := range ops {
		wg.Go(func() {
			op, err := s.newWorker(ctx, i)
			if err != nil {
				errs.add(fmt.Errorf("set-up: %w", err))
				return
			}
			ops[i] = op
		})
	}
	wg.Wait()
	if errs.n > 0 {
		fmt.Printf("%-*s set-up failed (%d of %d workers)\n", nameWidth, label(s), errs.n, s.workers)
		for _, m := range errs.first {
			fmt.Printf("    error: %s\n", m)
		}
		return
	}

	start := time.Now().Add(b.c.warmup)
	end := start.Add(b.c.duration)
	var cpu0, cpu1 time.Duration
	if b.c.pid > 0 {
		wg.Go(func() {
			time.Sleep(time.Until(start))
			cpu0 = procCPU(b.c.pid)
			time.Sleep(time.Until(end))
			cpu1 = procCPU(b.c.pid)
		})
	}
	if b.c.pprofURL != "" {
		wg.Go(func() {
			time.Sleep(time.Until(start))
			if err := b.profile(ctx, s); err != nil {
				errs.add(fmt.Errorf("profile: %w", err))
			}
		})
	}
	runCtx, cancel := context.WithDeadline(ctx, end.Add(5*time.Second))
	defer cancel()
	lats := make([][]time.Duration, s.workers)
	for i, op := range ops {
		wg.Go(func() {
			var mine []time.Duration
			for {
				t0 := time.Now()
				if !t0.Before(end) {
					break
				}
				err := op(runCtx)
				t1 := time.Now()
				if t1.Before(start) || t1.After(end) {
					continue
				}
				if err != nil {
					errs.add(err)
					continue
				}
				mine = append(mine, t1.Sub(t0))
			}
			lats[i] = mine
		})
	}
	wg.Wait()

	all := slices.Concat(lats...)
	slices.Sort(all)
	res := result{
		Scenario: s.name, Connections: s.workers, ReqPerSec: float64(len(all)) / b.c.duration.Seconds(),
		P50us: percentile(all, 0.50).Microseconds(), P99us: percentile(all, 0.99).Microseconds(), Errors: errs.n,
		TargetRPS: s.target, TargetCPUus: float64(s.targetCPU) / float64(time.Microsecond),
	}
	cores, perReq := "-", "-"
	var cpu time.Duration
	if cpu1 > cpu0 {
		used := cpu1 - cpu0
		res.Cores = used.Seconds() / b.c.duration.Seconds()
		cores = fmt.Sprintf("%.2f", res.Cores)
		if len(all) > 0 {
			cpu = used / time.Duration(len(all))
			res.CPUus = float64(used) / float64(len(all)) / float64(time.Microsecond)
			perReq = formatDur(cpu)
		}
	}
	b.results = append(b.results, res)
	ok := (s.target == 0 || res.ReqPerSec >= s.target) && (s.targetCPU == 0 || cpu == 0 || cpu <= s.targetCPU) &&
		(s.maxP99 == 0 || percentile(all, 0.99) < s.maxP99)
	note := verdict(ok, targetText(s))
	if latch.CPUus > 0 && res.CPUus > 0 {
		note = fmt.Sprintf("latch: %s, %.2f × bare", formatDur(time.Duration(latch.CPUus*float64(time.Microsecond))), latch.CPUus/res.CPUus)
	}
	row(label(s), formatRate(res.ReqPerSec), formatDur(percentile(all, 0.50)), formatDur(percentile(all, 0.99)),
		strconv.Itoa(errs.n), cores, perReq, note)
	for _, m := range errs.first {
		fmt.Printf("    error: %s\n", m)
	}
}

// nameWidth is the width of the table's first column.
const nameWidth = 34

// row prints a line of the table.
func row(name, rate, p50, p99, errs, cores, cpu, note string) {
	line := fmt.Sprintf("%-*s %10s %9s %9s %7s %6s %8s  %s", nameWidth, name, rate, p50, p99, errs, cores, cpu, note)
	fmt.Println(strings.TrimRight(line, " "))
}

// rowName is name as the table shows it: prefixed "bare" for the bare
// server's rows.
func (c config) rowName(name string) string {
	if c.bare {
		return "bare " + name
	}
	return name
}

// label is the scenario's name in the table, with its connections.
func label(s scenario) string { return fmt.Sprintf("%s @%d", s.name, s.workers) }

// targetText lists the scenario's targets: rate, CPU per request, p99.
func targetText(s scenario) string {
	var parts []string
	if s.target > 0 {
		parts = append(parts, "≥ "+thousands(int(s.target))+"/s")
	}
	if s.targetCPU > 0 {
		parts = append(parts, "CPU ≤ "+formatDur(s.targetCPU))
	}
	if s.maxP99 > 0 {
		parts = append(parts, "p99 < "+formatDur(s.maxP99))
	}
	t := strings.Join(parts, ", ")
	if s.targetTxt != "" {
		t += " (" + s.targetTxt + ")"
	}
	return t
}

func verdict(ok bool, target string) string {
	if target == "" {
		return ""
	}
	if ok {
		return target + "  ok"
	}
	return target + "  BELOW"
}

func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(float64(len(sorted)-1) * p)
	return sorted[i]
}

func formatDur(d time.Duration) string {
	switch {
	case d == 0:
		return "-"
	case d < time.Millisecond:
		return fmt.Sprintf("%dµs", d.Microseconds())
	case d < 10*time.Millisecond:
		return fmt.Sprintf("%.2fms", float64(d)/float64(time.Millisecond))
	case d < time.Second:
		return fmt.Sprintf("%.1fms", float64(d)/float64(time.Millisecond))
	default:
		return fmt.Sprintf("%.2fs", d.Seconds())
	}
}

// formatRate prints a rate with thousands separators, and one decimal
// below 100.
func formatRate(r float64) string {
	if r < 100 {
		return fmt.Sprintf("%.1f", r)
	}
	return thousands(int(r + 0.5))
}

func thousands(n int) string {
	s := strconv.Itoa(n)
	var out []byte
	for i := range len(s) {
		if i > 0 && (len(s)-i)%3 == 0 {
			out = append(out, ',')
		}
		out = append(out, s[i])
	}
	return string(out)
}

// httpError describes an unexpected response: method, path, status and the
// start of the body (OAuth errors carry their reason there).
func httpError(req *http.Request, resp *http.Response, body []byte) error {
	b := strings.Join(strings.Fields(string(body)), " ")
	if len(b) > 160 {
		b = b[:160] + "…"
	}
	return fmt.Errorf("%s %s: %d %s", req.Method, req.URL.Path, resp.StatusCode, b)
}

// do sends req and reads the whole body, so the connection is reused.
func do(c *http.Client, req *http.Request) (*http.Response, []byte, error) {
	resp, err := c.Do(req)
	if err != nil {
		return nil, nil, err
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return nil, nil, fmt.Errorf("%s %s: reading body: %w", req.Method, req.URL.Path, err)
	}
	return resp, body, nil
}
