package testenv

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"
)

// RedisServer is a redis-server process of the test's own, which the test
// may stop, freeze and start again to show what latch does in an outage.
// The shared servers of scripts/test.sh are never touched.
type RedisServer struct {
	t    testing.TB
	port int
	dir  string
	cmd  *exec.Cmd
}

// StartRedisServer starts a private redis-server on a free loopback port,
// without persistence, and stops it when the test ends. It fails the test
// when redis-server is not installed (scripts/test.sh installs it).
func StartRedisServer(t testing.TB) *RedisServer {
	t.Helper()
	s := &RedisServer{t: t, port: FreePort(t), dir: t.TempDir()}
	s.Start()
	t.Cleanup(func() { s.Stop() })
	return s
}

// URL is the server's redis:// URL.
func (s *RedisServer) URL() string { return fmt.Sprintf("redis://127.0.0.1:%d/0", s.port) }

// Start starts the server (again), on the same port, and waits until it
// answers.
func (s *RedisServer) Start() {
	s.t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		s.t.Fatalf("redis-server is not installed (scripts/test.sh installs it): %v", err)
	}
	s.cmd = exec.Command(bin, "--port", strconv.Itoa(s.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", s.dir)
	s.cmd.Stdout, s.cmd.Stderr = os.Stderr, os.Stderr
	if err := s.cmd.Start(); err != nil {
		s.t.Fatalf("start redis-server: %v", err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", s.port), time.Second)
		if err == nil {
			c.Close()
			return
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("redis-server does not listen: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Stop kills the server, as a crash would, and waits for it to be gone.
func (s *RedisServer) Stop() {
	if s.cmd == nil || s.cmd.Process == nil {
		return
	}
	s.cmd.Process.Signal(syscall.SIGCONT) // a frozen server must be able to die
	s.cmd.Process.Kill()
	s.cmd.Wait()
	s.cmd = nil
}

// Freeze stops the process without closing its socket (SIGSTOP): a hung
// server, which accepts connections and never answers.
func (s *RedisServer) Freeze() { s.signal(syscall.SIGSTOP) }

// Thaw lets a frozen server go on (SIGCONT).
func (s *RedisServer) Thaw() { s.signal(syscall.SIGCONT) }

func (s *RedisServer) signal(sig syscall.Signal) {
	s.t.Helper()
	if s.cmd == nil || s.cmd.Process == nil {
		s.t.Fatal("redis-server is not running")
	}
	if err := s.cmd.Process.Signal(sig); err != nil {
		s.t.Fatal(err)
	}
}

// PostgresServer is a PostgreSQL cluster of the test's own, which the test
// may stop and start again; the shared server is never touched.
type PostgresServer struct {
	t    testing.TB
	bin  string
	dir  string
	port int
	cmd  *exec.Cmd
}

// StartPostgresServer creates a cluster (initdb, trust authentication on
// loopback) and starts it on a free port; it is removed when the test
// ends. As root it runs as the postgres user, which PostgreSQL insists on.
func StartPostgresServer(t testing.TB) *PostgresServer {
	t.Helper()
	bins, _ := filepath.Glob("/usr/lib/postgresql/*/bin/initdb")
	if len(bins) == 0 {
		t.Fatal("PostgreSQL is not installed (scripts/test.sh installs it)")
	}
	root, err := os.MkdirTemp("", "latch-pg-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(root) })
	if err := os.Chmod(root, 0o755); err != nil {
		t.Fatal(err)
	}
	s := &PostgresServer{t: t, bin: filepath.Dir(bins[len(bins)-1]), dir: filepath.Join(root, "data"), port: FreePort(t)}
	if err := os.Mkdir(s.dir, 0o700); err != nil {
		t.Fatal(err)
	}
	s.chown(s.dir)
	if out, err := s.command("initdb", "-D", s.dir, "-A", "trust", "-U", "latch", "--no-sync").CombinedOutput(); err != nil {
		t.Fatalf("initdb: %v\n%s", err, out)
	}
	s.Start()
	t.Cleanup(func() { s.Stop() })
	return s
}

// URL is the cluster's database URL.
func (s *PostgresServer) URL() string {
	return fmt.Sprintf("postgres://latch@127.0.0.1:%d/postgres?sslmode=disable", s.port)
}

// Start starts the server (again) on the same port and waits until it
// accepts connections.
func (s *PostgresServer) Start() {
	s.t.Helper()
	if err := s.StartErr(); err != nil {
		s.t.Fatal(err)
	}
}

// StartErr is Start for a goroutine other than the test's: it returns
// what went wrong.
func (s *PostgresServer) StartErr() error {
	cmd := s.command("postgres", "-D", s.dir, "-p", strconv.Itoa(s.port), "-k", s.dir,
		"-c", "listen_addresses=127.0.0.1", "-c", "fsync=off")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start postgres: %w", err)
	}
	s.cmd = cmd
	deadline := time.Now().Add(20 * time.Second)
	for {
		out, err := s.command("pg_isready", "-h", "127.0.0.1", "-p", strconv.Itoa(s.port)).CombinedOutput()
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("postgres does not accept connections: %v %s", err, out)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Stop shuts the server down at once (SIGQUIT: immediate, as after a
// crash, with recovery at the next start) and waits for it to be gone.
func (s *PostgresServer) Stop() {
	if s.cmd == nil || s.cmd.Process == nil {
		return
	}
	// The group: as root the server runs under runuser.
	syscall.Kill(-s.cmd.Process.Pid, syscall.SIGQUIT)
	s.cmd.Wait()
	s.cmd = nil
}

// command runs a PostgreSQL program, as the postgres user when root.
func (s *PostgresServer) command(name string, args ...string) *exec.Cmd {
	path := filepath.Join(s.bin, name)
	if os.Geteuid() == 0 {
		return exec.Command("runuser", append([]string{"-u", "postgres", "--", path}, args...)...)
	}
	return exec.Command(path, args...)
}

func (s *PostgresServer) chown(path string) {
	if os.Geteuid() != 0 {
		return
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		s.t.Fatalf("no postgres user: %v", err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	if err := os.Chown(path, uid, gid); err != nil {
		s.t.Fatal(err)
	}
}

// FreePort returns a loopback port that was free a moment ago.
func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}
