package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"
)

// result is one measured scenario at one number of connections, as the
// JSON report keeps it.
type result struct {
	Scenario    string  `json:"scenario"`
	Connections int     `json:"connections"`
	ReqPerSec   float64 `json:"req_per_s"`
	P50us       int64   `json:"p50_us"`
	P99us       int64   `json:"p99_us"`
	Errors      int     `json:"errors"`
	Cores       float64 `json:"latch_cores,omitempty"`      // CPU latch's process used, in cores
	CPUus       float64 `json:"cpu_us_per_req,omitempty"`   // latch's CPU time per successful request
	TargetRPS   float64 `json:"target_req_per_s,omitempty"` // 0: none
	TargetCPUus float64 `json:"target_cpu_us,omitempty"`    // 0: none
}

// key names a result across reports.
func (r result) key() string { return fmt.Sprintf("%s @%d", r.Scenario, r.Connections) }

// report is what one `make bench` writes: every run of the bench binary
// appends its results to the same file.
type report struct {
	Started string   `json:"started"`
	Machine string   `json:"machine"`
	Go      string   `json:"go"`
	LoadAvg []string `json:"load_average"` // at the end of each run of the bench binary
	Results []result `json:"results"`
}

// appendReport adds results to the report in path, creating it.
func appendReport(path string, results []result) error {
	var rep report
	b, err := os.ReadFile(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		rep = report{Started: time.Now().UTC().Format(time.RFC3339), Machine: machine(), Go: runtime.Version()}
	case err != nil:
		return err
	default:
		if err := json.Unmarshal(b, &rep); err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
	}
	rep.LoadAvg = append(rep.LoadAvg, loadAvg())
	rep.Results = append(rep.Results, results...)
	out, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return os.WriteFile(path, append(out, '\n'), 0o644)
}

func readReport(path string) (report, error) {
	var rep report
	b, err := os.ReadFile(path)
	if err != nil {
		return rep, err
	}
	if err := json.Unmarshal(b, &rep); err != nil {
		return rep, fmt.Errorf("%s: %w", path, err)
	}
	return rep, nil
}

func machine() string {
	model := ""
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for line := range strings.SplitSeq(string(b), "\n") {
			if rest, ok := strings.CutPrefix(line, "model name"); ok {
				model = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(rest), ":"))
				break
			}
		}
	}
	return strings.TrimSpace(fmt.Sprintf("%d cores %s", runtime.NumCPU(), model))
}

func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return ""
	}
	f := strings.Fields(string(b))
	return strings.Join(f[:min(3, len(f))], " ")
}

// compare prints, scenario by scenario, how the report in b compares with
// the one in a: the ratio of requests per second (above 1: b is faster)
// and of CPU per request (below 1: b is leaner).
func compare(args []string) error {
	if len(args) != 2 {
		return errors.New("usage: bench compare OLD.json NEW.json")
	}
	a, err := readReport(args[0])
	if err != nil {
		return err
	}
	b, err := readReport(args[1])
	if err != nil {
		return err
	}
	old := map[string]result{}
	for _, r := range a.Results {
		old[r.key()] = r
	}
	fmt.Printf("old: %s (%s, load %s)\nnew: %s (%s, load %s)\n\n", args[0], a.Started, strings.Join(a.LoadAvg, "; "), args[1], b.Started, strings.Join(b.LoadAvg, "; "))
	fmt.Printf("%-32s %10s %10s %7s %9s %9s %7s\n", "scenario", "old req/s", "new req/s", "ratio", "old CPU", "new CPU", "ratio")
	seen := map[string]bool{}
	for _, n := range b.Results {
		k := n.key()
		seen[k] = true
		o, ok := old[k]
		if !ok {
			fmt.Printf("%-32s %10s %10s %7s %9s %9s %7s\n", k, "-", formatRate(n.ReqPerSec), "new", "-", cpuText(n.CPUus), "")
			continue
		}
		fmt.Printf("%-32s %10s %10s %7s %9s %9s %7s\n", k, formatRate(o.ReqPerSec), formatRate(n.ReqPerSec), ratio(n.ReqPerSec, o.ReqPerSec),
			cpuText(o.CPUus), cpuText(n.CPUus), ratio(n.CPUus, o.CPUus))
	}
	for _, o := range a.Results {
		if !seen[o.key()] {
			fmt.Printf("%-32s %10s %10s %7s\n", o.key(), formatRate(o.ReqPerSec), "-", "gone")
		}
	}
	return nil
}

func ratio(n, o float64) string {
	if o == 0 || n == 0 {
		return "-"
	}
	return fmt.Sprintf("%.2f", n/o)
}

func cpuText(us float64) string {
	if us == 0 {
		return "-"
	}
	return fmt.Sprintf("%.0fµs", us)
}

// profile saves a CPU profile of latch over s's measured window, from
// its profiler, as -profile-dir/SCENARIO@N.pprof (read it with go tool
// pprof).
func (b *bench) profile(ctx context.Context, s scenario) error {
	u := fmt.Sprintf("%s/debug/pprof/profile?seconds=%d", strings.TrimSuffix(b.c.pprofURL, "/"), int(b.c.duration.Seconds()))
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", u, resp.Status)
	}
	name := strings.NewReplacer(" ", "_", "(", "", ")", "", "+", "").Replace(s.name)
	if err := os.MkdirAll(b.c.profileDir, 0o755); err != nil {
		return err
	}
	f, err := os.Create(filepath.Join(b.c.profileDir, fmt.Sprintf("%s@%d.pprof", name, s.workers)))
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, resp.Body); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
