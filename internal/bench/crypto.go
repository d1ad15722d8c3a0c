package main

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/crypto/argon2"
)

// cryptoLimits measures, on all cores and while latch is idle, how many
// RS256 and ES256 signatures and Argon2id hashes (latch's default
// parameters) this machine computes per second: the ceilings the roadmap's
// targets are relative to. It returns the RS256 rate.
func (b *bench) cryptoLimits() float64 {
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		panic(err)
	}
	digest := sha256.Sum256([]byte("header.payload"))
	salt := make([]byte, 16)
	rand.Read(salt)

	rs := limit("crypto: RS256 signatures", "roadmap: ~1,800–2,000/s on 2 cores", func() {
		if _, err := rsa.SignPKCS1v15(nil, rsaKey, crypto.SHA256, digest[:]); err != nil {
			panic(err)
		}
	})
	limit("crypto: ES256 signatures", "roadmap: ~57,000/s", func() {
		if _, err := ecdsa.SignASN1(rand.Reader, ecKey, digest[:]); err != nil {
			panic(err)
		}
	})
	limit("crypto: Argon2id hashes", "roadmap: ~85/s (19 MiB, t=2, p=1)", func() {
		argon2.IDKey([]byte("correct horse battery staple"), salt, 2, 19456, 1, 32)
	})
	return rs
}

// limit runs f on every core for a second and prints its rate.
func limit(name, note string, f func()) float64 {
	const d = time.Second
	f() // warm
	var n atomic.Int64
	t0 := time.Now()
	end := t0.Add(d)
	var wg sync.WaitGroup
	for range runtime.GOMAXPROCS(0) {
		wg.Go(func() {
			for time.Now().Before(end) {
				f()
				n.Add(1)
			}
		})
	}
	wg.Wait()
	rate := float64(n.Load()) / time.Since(t0).Seconds()
	fmt.Printf("%-28s %10s %9s %9s %7s %6s %8s  %s\n", name, formatRate(rate), "", "", "", "", "", note)
	return rate
}
