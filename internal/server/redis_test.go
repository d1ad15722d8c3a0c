package server

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/latch-idp/latch/clients"
	"github.com/latch-idp/latch/internal/testenv"
	"github.com/latch-idp/latch/storage"
)

func TestRedisURLErrorsNameTheVariableAndHideThePassword(t *testing.T) {
	const pw = "s3cret-Pa55"
	for _, tc := range []struct {
		name, url, want string
	}{
		{"case=not a URL", "redis://u:" + pw + "@host:6379/%zz", "not a valid URL"},
		{"case=slash in password", "redis://u:" + pw + "/x@host:6379/0", "not a valid URL"},
		{"case=bad scheme", "http://u:" + pw + "@host:6379/0", "invalid URL scheme"},
		{"case=bad database", "redis://u:" + pw + "@host:6379/zero", "invalid database number"},
		{"case=unknown option", "redis://u:" + pw + "@host:6379/0?colour=blue", "unexpected option"},
		{"case=cluster", "redis://u:" + pw + "@host1:6379?addr=host2:6379&addr=host3:6379", "Redis Cluster"},
		{"case=empty master name", "redis://u:" + pw + "@s1:26379?master_name=", "master_name is empty"},
		{"case=sentinel bad addr", "redis://u:" + pw + "@s1:26379?master_name=m&addr=" + pw, "unable to parse addr"},
		{"case=sentinel bad option", "redis://s1:26379?master_name=m&password=" + pw + "&pool_size=" + pw, "invalid pool_size number"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rdb, err := OpenRedis(tc.url)
			if err == nil {
				rdb.Close()
				t.Fatalf("OpenRedis(%q) succeeded", tc.url)
			}
			msg := err.Error()
			if !strings.HasPrefix(msg, "LATCH_REDIS_URL: ") || strings.Contains(msg, "\n") {
				t.Errorf("error %q is not one line that starts with LATCH_REDIS_URL", msg)
			}
			if !strings.Contains(msg, tc.want) {
				t.Errorf("error %q does not say %q", msg, tc.want)
			}
			if strings.Contains(msg, pw) || strings.Contains(msg, pw[:6]) {
				t.Errorf("error %q echoes the password", msg)
			}
		})
	}
}

func TestRedisURLOpensOneServerOrSentinels(t *testing.T) {
	for _, tc := range []struct {
		name, url string
		sentinel  bool
	}{
		{"case=redis", "redis://:pw@127.0.0.1:6379/3", false},
		{"case=rediss", "rediss://127.0.0.1:6380/0", false},
		{"case=sentinel", "redis://127.0.0.1:26379/0?master_name=mymaster&addr=127.0.0.2:26379", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rdb, err := OpenRedis(tc.url)
			if err != nil {
				t.Fatal(err)
			}
			defer rdb.Close()
			c, ok := rdb.(*redis.Client)
			if !ok {
				t.Fatalf("client is %T, want *redis.Client", rdb)
			}
			// A failover client's Options carry the name of its dialler, not
			// a server address.
			if got := c.Options().Addr == "FailoverClient"; got != tc.sentinel {
				t.Errorf("sentinel = %v (Addr %q), want %v", got, c.Options().Addr, tc.sentinel)
			}
		})
	}
}

// TestRedisSentinelServesTokensAcrossAFailover runs latch on a master that
// Sentinel monitors: OpenRedis finds the master through Sentinel, a whole
// server issues and introspects a token there, and after Sentinel promotes
// the replica the same server, not restarted, still knows the token and
// issues new ones on the new master.
func TestRedisSentinelServesTokensAcrossAFailover(t *testing.T) {
	master := startRedis(t, "master")
	replica := startRedis(t, "replica", "--replicaof", "127.0.0.1", strconv.Itoa(master))
	sentinel := startSentinel(t, master, replica)
	rurl := fmt.Sprintf("redis://127.0.0.1:%d/0?master_name=mymaster", sentinel)
	onMaster := redis.NewClient(&redis.Options{Addr: addr(master)})
	t.Cleanup(func() { onMaster.Close() })
	onReplica := redis.NewClient(&redis.Options{Addr: addr(replica)})
	t.Cleanup(func() { onReplica.Close() })

	t.Run("case=round trip through Sentinel lands on the master", func(t *testing.T) {
		rdb, err := OpenRedis(rurl)
		if err != nil {
			t.Fatal(err)
		}
		defer rdb.Close()
		ctx := t.Context()
		if err := rdb.Set(ctx, "latch:sentinel-test", "v", time.Minute).Err(); err != nil {
			t.Fatalf("SET through Sentinel: %v", err)
		}
		if got, err := rdb.Get(ctx, "latch:sentinel-test").Result(); err != nil || got != "v" {
			t.Fatalf("GET through Sentinel = %q, %v", got, err)
		}
		if got, err := onMaster.Get(ctx, "latch:sentinel-test").Result(); err != nil || got != "v" {
			t.Fatalf("GET on the master = %q, %v; want the value written through Sentinel", got, err)
		}
	})

	t.Run("case=client_credentials and introspection before and after a failover", func(t *testing.T) {
		ts := startServer(t, func(c *Config) { c.RedisURL = rurl })
		rp := ts.client(t, clients.Metadata{
			ClientName: "Sentinel Service", GrantTypes: []string{"client_credentials"},
			Scope: "api:read", TokenEndpointAuthMethod: storage.AuthMethodBasic,
		})
		token := func(t *testing.T) string {
			t.Helper()
			status, body := rp.tokenRequest(t, url.Values{"grant_type": {"client_credentials"}, "scope": {"api:read"}})
			if status != http.StatusOK || claim(body, "access_token") == "" {
				t.Fatalf("token request: %s", describe(status, body))
			}
			return claim(body, "access_token")
		}
		activeFor := func(t *testing.T, at string) {
			t.Helper()
			info := ts.introspect(t, at)
			if info["active"] != true || claim(info, "client_id") != rp.client.ID {
				t.Fatalf("introspection = %v, want active for %s", info, rp.client.ID)
			}
		}
		before := token(t)
		activeFor(t, before)
		if n, err := onMaster.DBSize(t.Context()).Result(); err != nil || n == 0 {
			t.Fatalf("master holds %d keys (%v); want the token's session", n, err)
		}

		// Replication is asynchronous: wait until the replica has every
		// write so far, then have Sentinel promote it.
		ctx := t.Context()
		if err := onMaster.Set(ctx, "latch:sentinel-test:sync", "1", time.Minute).Err(); err != nil {
			t.Fatal(err)
		}
		if n, err := onMaster.Wait(ctx, 1, 5*time.Second).Result(); err != nil || n != 1 {
			t.Fatalf("WAIT for the replica = %d, %v", n, err)
		}
		sc := redis.NewSentinelClient(&redis.Options{Addr: addr(sentinel)})
		defer sc.Close()
		if err := sc.Failover(ctx, "mymaster").Err(); err != nil {
			t.Fatalf("SENTINEL FAILOVER: %v", err)
		}
		waitFor(t, "Sentinel to name the replica master", func() error {
			got, err := sc.GetMasterAddrByName(ctx, "mymaster").Result()
			if err != nil {
				return err
			}
			if got[1] != strconv.Itoa(replica) {
				return fmt.Errorf("master is %v", got)
			}
			return nil
		})
		// The server's own client learns of the switch from Sentinel. Until
		// Sentinel demotes the old master, a write may still land there (and
		// be lost): that window is Sentinel's, so wait it out.
		attempt := 0
		waitFor(t, "the server's Redis client to write to the new master", func() error {
			attempt++
			v := strconv.Itoa(attempt)
			if err := ts.rdb.Set(ctx, "latch:sentinel-test:after", v, time.Minute).Err(); err != nil {
				return err
			}
			if got, err := onReplica.Get(ctx, "latch:sentinel-test:after").Result(); err != nil || got != v {
				return fmt.Errorf("write %s is not on the promoted replica: %q, %v", v, got, err)
			}
			return nil
		})
		t.Logf("the server wrote to the new master at attempt %d", attempt)

		activeFor(t, before)
		activeFor(t, token(t))
	})
}

// waitFor retries try until it succeeds, for at most 15 seconds.
func waitFor(t *testing.T, what string, try func() error) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		err := try()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("waiting for %s: %v", what, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// redisServerBin is the redis-server that `make test` installs; Sentinel is
// the same binary with --sentinel.
func redisServerBin(t *testing.T) string {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		t.Fatal("redis-server is not installed: run the tests with `make test`, which installs it")
	}
	return bin
}

func addr(port int) string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(port)) }

// startRedis starts redis-server with args on a free loopback port in a
// directory of its own, waits until it answers PING and stops it when the
// test ends.
func startRedis(t *testing.T, name string, args ...string) int {
	t.Helper()
	dir := filepath.Join(t.TempDir(), name)
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	port := testenv.FreePort(t)
	args = append([]string{"--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--repl-diskless-sync-delay", "0", "--dir", dir}, args...)
	startProcess(t, name, port, args...)
	return port
}

// startProcess runs redis-server with args, waits until port answers PING
// and kills the process when the test ends.
func startProcess(t *testing.T, name string, port int, args ...string) {
	t.Helper()
	var log bytes.Buffer
	cmd := exec.Command(redisServerBin(t), args...)
	cmd.Stdout, cmd.Stderr = &log, &log
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		if t.Failed() {
			t.Logf("%s log:\n%s", name, log.String())
		}
	})
	c := redis.NewClient(&redis.Options{Addr: addr(port), MaxRetries: -1})
	defer c.Close()
	waitFor(t, name+" to answer on port "+strconv.Itoa(port), func() error {
		ctx, cancel := context.WithTimeout(t.Context(), time.Second)
		defer cancel()
		return c.Ping(ctx).Err()
	})
}

// startSentinel starts a Sentinel that monitors the master on masterPort as
// "mymaster" and returns its port once it knows the master and the replica
// on replicaPort, in sync, so that a failover can promote it.
func startSentinel(t *testing.T, masterPort, replicaPort int) int {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "sentinel")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	port := testenv.FreePort(t)
	// Sentinel rewrites its configuration file: it must be writable.
	conf := filepath.Join(dir, "sentinel.conf")
	err := os.WriteFile(conf, fmt.Appendf(nil, "port %d\nbind 127.0.0.1\ndir %s\n"+
		"sentinel monitor mymaster 127.0.0.1 %d 1\n"+
		"sentinel down-after-milliseconds mymaster 5000\n"+
		"sentinel failover-timeout mymaster 10000\n", port, dir, masterPort), 0o644)
	if err != nil {
		t.Fatal(err)
	}
	startProcess(t, "sentinel", port, conf, "--sentinel")

	ctx := t.Context()
	rc := redis.NewClient(&redis.Options{Addr: addr(replicaPort)})
	defer rc.Close()
	waitFor(t, "the replica to sync", func() error {
		info, err := rc.Info(ctx, "replication").Result()
		if err != nil {
			return err
		}
		if !strings.Contains(info, "master_link_status:up") {
			return fmt.Errorf("replica: %s", strings.Join(strings.Fields(info), " "))
		}
		return nil
	})
	s := redis.NewSentinelClient(&redis.Options{Addr: addr(port)})
	defer s.Close()
	got, err := s.GetMasterAddrByName(ctx, "mymaster").Result()
	if err != nil || len(got) != 2 || got[1] != strconv.Itoa(masterPort) {
		t.Fatalf("Sentinel names master %v (%v), want port %d", got, err, masterPort)
	}
	waitFor(t, "Sentinel to know the replica", func() error {
		rs, err := s.Replicas(ctx, "mymaster").Result()
		if err != nil {
			return err
		}
		for _, r := range rs {
			if r["port"] == strconv.Itoa(replicaPort) && r["flags"] == "slave" && r["master-link-status"] == "ok" {
				return nil
			}
		}
		return fmt.Errorf("replicas: %v", rs)
	})
	return port
}
