// Package ratelimit counts failures (wrong passwords, wrong codes) per key in
// Redis and locks a key out for a growing time once it has failed too often.
// One Limiter serves one purpose (for example "login-account" or
// "login-ip"); the caller decides what the key is.
//
// It must never store a key as given: keys are often email addresses or IP
// addresses, so only their SHA-256 reaches Redis. Every Redis key it writes
// carries a TTL, and counting is atomic (one Lua script), so parallel
// failures are all counted. Begin admits an attempt before its outcome is
// known and counts it while it runs, so parallel attempts cannot all pass
// the limit before the first of them fails.
package ratelimit
