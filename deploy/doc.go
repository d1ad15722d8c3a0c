// Package deploy holds no code: its tests check the deployment files
// beside it (compose.yaml, the Kubernetes manifests, the Grafana dashboard's and the
// alert rules' syntax) with the tools that run without Docker or a
// cluster. It is a Go module of its own so that latch's own module does not
// depend on the Kubernetes and Compose libraries.
package deploy
