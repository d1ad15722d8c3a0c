// Package server is latch's composition root. New turns a Config into a
// running latch: it picks the backends (in-memory storage and an
// in-process Redis with --dev, PostgreSQL and Redis otherwise), builds the
// services and each package's HTTP handler, mounts their routes, bootstraps
// the admin, loads the dev fixtures and starts the background workers (key
// rotation, mail delivery, cleanup of expired refresh tokens).
// ListenAndServe and Serve run it with a graceful shutdown; Close releases
// it.
//
// It is the one place that builds stores, Redis clients and services and
// hands them to the packages that use them; a new HTTP-facing package is
// built in New and added to the list its routes are mounted from. It holds
// no protocol, page or account rule of its own: those live in the packages
// it wires. Only cmd/latch imports it.
//
// Its tests are latch's end-to-end tests: a server built by New, as `latch
// serve` builds it, on its own PostgreSQL and Redis databases, driven over
// HTTP by golang.org/x/oauth2, go-oidc, a cookie-jar browser and headless
// Chromium, one file per area. harness_test.go and its harness_*_test.go
// siblings hold what they share.
package server
