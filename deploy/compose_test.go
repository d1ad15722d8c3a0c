package deploy

import (
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/compose-spec/compose-go/v2/loader"
	"github.com/compose-spec/compose-go/v2/types"
)

// loadCompose loads compose.yaml as `docker compose` does, validated
// against the Compose specification's schema.
func loadCompose(t *testing.T) *types.Project {
	t.Helper()
	dir, err := filepath.Abs(".")
	if err != nil {
		t.Fatal(err)
	}
	p, err := loader.LoadWithContext(t.Context(), types.ConfigDetails{
		WorkingDir:  dir,
		ConfigFiles: []types.ConfigFile{{Filename: filepath.Join(dir, "compose.yaml")}},
		Environment: types.Mapping{},
	}, func(o *loader.Options) { o.SetProjectName("latch", true) })
	if err != nil {
		t.Fatalf("compose.yaml does not load: %v", err)
	}
	return p
}

func TestComposeRunsLatchWithItsServicesHealthChecked(t *testing.T) {
	p := loadCompose(t)
	for _, name := range []string{"latch", "postgres", "redis", "mailpit"} {
		s, ok := p.Services[name]
		if !ok {
			t.Errorf("no service %s", name)
			continue
		}
		if s.HealthCheck == nil || len(s.HealthCheck.Test) < 2 || s.HealthCheck.Test[0] != "CMD" {
			t.Errorf("service %s has no exec health check: %+v", name, s.HealthCheck)
		}
	}
}

func TestComposeStartsLatchOnceItsServicesAreHealthy(t *testing.T) {
	latch := loadCompose(t).Services["latch"]
	for _, dep := range []string{"postgres", "redis", "mailpit"} {
		if d, ok := latch.DependsOn[dep]; !ok || d.Condition != types.ServiceConditionHealthy {
			t.Errorf("latch does not wait for %s to be healthy: %+v", dep, d)
		}
	}
	// The image is distroless: latch checks its own readiness.
	if hc := latch.HealthCheck; hc == nil || !slices.Equal([]string(hc.Test), []string{"CMD", "/usr/local/bin/latch", "healthcheck"}) {
		t.Errorf("latch's health check is not `latch healthcheck`: %+v", hc)
	}
}

func TestComposeBuildsLatchFromTheRepositoryDockerfile(t *testing.T) {
	latch := loadCompose(t).Services["latch"]
	if latch.Build == nil {
		t.Fatal("latch is not built from the repository")
	}
	df := filepath.Join(latch.Build.Context, latch.Build.Dockerfile)
	if _, err := os.Stat(df); err != nil {
		t.Fatalf("build Dockerfile %s: %v", df, err)
	}
	for _, v := range []string{"LATCH_DATABASE_URL", "LATCH_REDIS_URL", "LATCH_SECRET", "LATCH_SMTP_URL", "LATCH_ISSUER"} {
		if val := latch.Environment[v]; val == nil || *val == "" {
			t.Errorf("latch's environment lacks %s", v)
		}
	}
}
