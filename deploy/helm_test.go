package deploy

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/labels"
	"sigs.k8s.io/yaml"
)

// helmBinary is helm from HELM, the PATH or Go's bin directory, where
// scripts/test.sh installs it.
func helmBinary(t *testing.T) string {
	t.Helper()
	if h := os.Getenv("HELM"); h != "" {
		return h
	}
	if h, err := exec.LookPath("helm"); err == nil {
		return h
	}
	out, err := exec.Command("go", "env", "GOPATH").Output()
	if err == nil {
		h := filepath.Join(strings.TrimSpace(string(out)), "bin", "helm")
		if _, err := os.Stat(h); err == nil {
			return h
		}
	}
	t.Fatal("helm is not installed: run ./scripts/test.sh, which installs it")
	return ""
}

func helm(t *testing.T, args ...string) string {
	t.Helper()
	cmd := exec.Command(helmBinary(t), args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("helm %s: %v\n%s%s", strings.Join(args, " "), err, out, stderr.String())
	}
	return string(out)
}

// chart is the rendered chart, each object decoded strictly into its
// Kubernetes type: a misspelt or misplaced field fails the decode.
type chart struct {
	deployment *appsv1.Deployment
	service    *corev1.Service
	pdb        *policyv1.PodDisruptionBudget
	job        *batchv1.Job
}

func render(t *testing.T, set ...string) chart {
	t.Helper()
	args := []string{"template", "rel", "helm/latch", "--namespace", "auth"}
	for _, s := range set {
		args = append(args, "--set", s)
	}
	var c chart
	for _, doc := range strings.Split(helm(t, args...), "\n---") {
		js, err := yaml.YAMLToJSON([]byte(doc))
		if err != nil {
			t.Fatalf("rendered YAML: %v\n%s", err, doc)
		}
		var head struct{ APIVersion, Kind string }
		if err := json.Unmarshal(js, &head); err != nil || head.Kind == "" {
			continue // a comment-only document
		}
		var into any
		switch head.APIVersion + " " + head.Kind {
		case "apps/v1 Deployment":
			c.deployment = &appsv1.Deployment{}
			into = c.deployment
		case "v1 Service":
			c.service = &corev1.Service{}
			into = c.service
		case "policy/v1 PodDisruptionBudget":
			c.pdb = &policyv1.PodDisruptionBudget{}
			into = c.pdb
		case "batch/v1 Job":
			c.job = &batchv1.Job{}
			into = c.job
		default:
			t.Fatalf("unexpected object %s %s", head.APIVersion, head.Kind)
		}
		dec := json.NewDecoder(bytes.NewReader(js))
		dec.DisallowUnknownFields()
		if err := dec.Decode(into); err != nil {
			t.Fatalf("%s does not decode strictly: %v", head.Kind, err)
		}
	}
	if c.deployment == nil || c.service == nil {
		t.Fatal("the chart renders no Deployment or Service")
	}
	return c
}

func TestChartPassesHelmLint(t *testing.T) {
	helm(t, "lint", "--strict", "helm/latch")
}

func TestChartRunsSeveralReplicasBehindADisruptionBudget(t *testing.T) {
	c := render(t)
	if r := c.deployment.Spec.Replicas; r == nil || *r < 2 {
		t.Errorf("replicas = %v, want several", r)
	}
	if c.pdb == nil || c.pdb.Spec.MaxUnavailable == nil || c.pdb.Spec.MaxUnavailable.IntValue() != 1 {
		t.Fatalf("no disruption budget of one pod at a time: %+v", c.pdb)
	}
	pods := labels.Set(c.deployment.Spec.Template.Labels)
	for what, sel := range map[string]map[string]string{"pdb": c.pdb.Spec.Selector.MatchLabels, "service": c.service.Spec.Selector, "deployment": c.deployment.Spec.Selector.MatchLabels} {
		if !labels.SelectorFromSet(sel).Matches(pods) {
			t.Errorf("the %s's selector %v misses latch's pods %v", what, sel, pods)
		}
	}
}

func TestChartProbesReadinessAndLiveness(t *testing.T) {
	ct := render(t).deployment.Spec.Template.Spec.Containers[0]
	for what, p := range map[string]*corev1.Probe{"readiness": ct.ReadinessProbe, "liveness": ct.LivenessProbe} {
		if p == nil || p.HTTPGet == nil {
			t.Fatalf("no %s probe", what)
		}
		want := map[string]string{"readiness": "/readyz", "liveness": "/healthz"}[what]
		if p.HTTPGet.Path != want || p.HTTPGet.Port.String() != "http" {
			t.Errorf("%s probe %s on %s, want %s on http", what, p.HTTPGet.Path, p.HTTPGet.Port.String(), want)
		}
	}
	if ct.Ports[0].Name != "http" || ct.Ports[0].ContainerPort != 8080 {
		t.Errorf("first port %+v, want http on 8080", ct.Ports[0])
	}
}

// checkRestricted fails unless the pod runs as a non-root user, read-only,
// without privileges.
func checkRestricted(t *testing.T, what string, pod corev1.PodSpec) {
	t.Helper()
	if psc := pod.SecurityContext; psc == nil || psc.RunAsNonRoot == nil || !*psc.RunAsNonRoot || psc.RunAsUser == nil || *psc.RunAsUser == 0 {
		t.Errorf("%s: pod may run as root: %+v", what, psc)
	}
	for _, ct := range pod.Containers {
		sc := ct.SecurityContext
		if sc == nil || sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation ||
			sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem ||
			sc.Capabilities == nil || len(sc.Capabilities.Drop) != 1 || sc.Capabilities.Drop[0] != "ALL" {
			t.Errorf("%s: container %s is not restricted: %+v", what, ct.Name, sc)
		}
	}
}

// checkSecretRefs fails unless the secrets reach the container by
// reference only.
func checkSecretRefs(t *testing.T, what string, ct corev1.Container) {
	t.Helper()
	refs := map[string]string{}
	for _, e := range ct.Env {
		if e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil {
			refs[e.Name] = e.ValueFrom.SecretKeyRef.Name + "/" + e.ValueFrom.SecretKeyRef.Key
		} else if strings.Contains(e.Name, "SECRET") || strings.HasSuffix(e.Name, "_URL") && e.Name != "LATCH_HIBP_URL" {
			t.Errorf("%s: %s is set in the manifest, not from a Secret", what, e.Name)
		}
	}
	for _, v := range []string{"LATCH_SECRET", "LATCH_DATABASE_URL", "LATCH_REDIS_URL"} {
		if refs[v] == "" {
			t.Errorf("%s: %s is not read from a Secret", what, v)
		}
	}
}

func TestChartRunsLatchRestrictedWithSecretsByReference(t *testing.T) {
	c := render(t)
	checkRestricted(t, "deployment", c.deployment.Spec.Template.Spec)
	checkSecretRefs(t, "deployment", c.deployment.Spec.Template.Spec.Containers[0])
}

func TestChartMigratesInAJobBeforeTheRelease(t *testing.T) {
	c := render(t)
	if c.job == nil {
		t.Fatal("no migration Job")
	}
	if hook := c.job.Annotations["helm.sh/hook"]; hook != "pre-install,pre-upgrade" {
		t.Errorf("migration Job hook %q, want pre-install,pre-upgrade", hook)
	}
	pod := c.job.Spec.Template.Spec
	if args := pod.Containers[0].Args; len(args) != 1 || args[0] != "migrate" {
		t.Errorf("migration Job runs %v, want latch migrate", args)
	}
	checkRestricted(t, "migration job", pod)
	checkSecretRefs(t, "migration job", pod.Containers[0])
	if labels.SelectorFromSet(c.service.Spec.Selector).Matches(labels.Set(c.job.Spec.Template.Labels)) {
		t.Error("the Service would send traffic to the migration pod")
	}
	if off := render(t, "migration.enabled=false"); off.job != nil {
		t.Error("migration.enabled=false still renders the Job")
	}
}
