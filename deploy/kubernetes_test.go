package deploy

import (
	"bytes"
	"encoding/json"
	"os"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/labels"
	"sigs.k8s.io/yaml"
)

// manifests are the objects of kubernetes/latch.yaml, each decoded
// strictly into its Kubernetes type: a misspelt or misplaced field fails
// the decode.
type manifests struct {
	deployment *appsv1.Deployment
	service    *corev1.Service
	pdb        *policyv1.PodDisruptionBudget
}

func load(t *testing.T) manifests {
	t.Helper()
	raw, err := os.ReadFile("kubernetes/latch.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var c manifests
	for _, doc := range strings.Split(string(raw), "\n---") {
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
		t.Fatal("the manifests hold no Deployment or Service")
	}
	return c
}

func TestManifestsRunSeveralReplicasBehindADisruptionBudget(t *testing.T) {
	c := load(t)
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

func TestManifestsProbeReadinessAndLiveness(t *testing.T) {
	ct := load(t).deployment.Spec.Template.Spec.Containers[0]
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

func TestManifestsRunLatchRestrictedWithSecretsByReference(t *testing.T) {
	c := load(t)
	checkRestricted(t, "deployment", c.deployment.Spec.Template.Spec)
	checkSecretRefs(t, "deployment", c.deployment.Spec.Template.Spec.Containers[0])
}
