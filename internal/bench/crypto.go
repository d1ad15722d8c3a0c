package main

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/crypto/argon2"
)

// cryptoLimits measures, on all cores and while latch is idle, how many
// RS256 and ES256 signatures and Argon2id hashes (latch's default
// parameters) this machine computes per second: the ceilings the targets
// are relative to.
func (b *bench) cryptoLimits() cryptoRates {
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

	var r cryptoRates
	r.rs256 = limit("crypto: RS256 signatures", "Go's crypto/rsa, RSA-2048", func() {
		if _, err := rsa.SignPKCS1v15(nil, rsaKey, crypto.SHA256, digest[:]); err != nil {
			panic(err)
		}
	})
	r.es256 = limit("crypto: ES256 signatures", "P-256", func() {
		if _, err := ecdsa.SignASN1(rand.Reader, ecKey, digest[:]); err != nil {
			panic(err)
		}
	})
	r.argon2id = limit("crypto: Argon2id hashes", "19 MiB, t=2, p=1", func() {
		argon2.IDKey([]byte("correct horse battery staple"), salt, 2, 19456, 1, 32)
	})
	return r
}

// cryptoRates are this machine's rates on all cores; zero: not measured.
type cryptoRates struct{ rs256, es256, argon2id float64 }

// Rates assumed when the crypto scenario did not run: figures of a
// 2-core machine like the one the targets were set on.
var assumedRates = cryptoRates{rs256: 1950, es256: 57000, argon2id: 85}

// rates are the measured rates, or the assumed ones.
func (b *bench) rates() cryptoRates {
	if b.limits.rs256 == 0 {
		return assumedRates
	}
	return b.limits
}

// signatureCPU is the CPU time one signature with alg takes.
func (r cryptoRates) signatureCPU(alg string) time.Duration {
	rate := r.rs256
	if alg == "ES256" {
		rate = r.es256
	}
	return time.Duration(float64(runtime.GOMAXPROCS(0)) / rate * float64(time.Second))
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
	row(name, formatRate(rate), "", "", "", "", "", note)
	return rate
}
