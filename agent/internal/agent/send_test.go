package agent

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func sender(urls ...string) *Sender {
	return &Sender{URLs: urls, Key: "k1", Retries: 2, Backoff: time.Millisecond,
		MaxBackoff: 10 * time.Millisecond, Client: &http.Client{Timeout: 2 * time.Second}}
}

func api(t *testing.T, statuses ...int) (*httptest.Server, *atomic.Int32) {
	var calls atomic.Int32
	server := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := int(calls.Add(1)) - 1
		status := statuses[min(n, len(statuses)-1)]
		if r.Header.Get("Authorization") != "Bearer k1" || !strings.HasPrefix(r.Header.Get("User-Agent"), "dream-agent/") ||
			r.URL.Path != "/v1/snapshots" {
			status = http.StatusTeapot
		}
		w.WriteHeader(status)
		_, _ = w.Write([]byte(`{"snapshot_id":"00000000-0000-0000-0000-000000000001","status":"accepted"}`))
	}))
	t.Cleanup(server.Close)
	return server, &calls
}

func TestRetriesTransientErrorsThenSends(t *testing.T) {
	server, calls := api(t, 503, 429, 202)
	if outcome, reason := sender(server.URL).Post([]byte("{}")); outcome != Sent {
		t.Fatalf("%v %s", outcome, reason)
	}
	if calls.Load() != 3 {
		t.Fatalf("calls = %d", calls.Load())
	}
}

func TestMovesOnWhenAnApiIsDead(t *testing.T) {
	server, _ := api(t, 202)
	dead := httptest.NewServer(http.NotFoundHandler())
	deadURL := dead.URL
	dead.Close() // nothing listens there any more: connection refused
	s := sender(deadURL, server.URL)
	if outcome, reason := s.Post([]byte("{}")); outcome != Sent {
		t.Fatalf("%v %s", outcome, reason)
	}
	if s.preferred != 1 {
		t.Fatal("the api that answered is tried first next time")
	}
}

func TestConfigurationProblemsAreNotDowntime(t *testing.T) {
	for _, status := range []int{401, 403, 404} {
		server, calls := api(t, status)
		outcome, reason := sender(server.URL).Post([]byte("{}"))
		if outcome != Misconfigured || calls.Load() != 1 || !strings.Contains(reason, "HTTP") {
			t.Errorf("%d: %v after %d calls (%s)", status, outcome, calls.Load(), reason)
		}
	}
	if outcome, _ := sender("http://dream-agent-test.invalid").Post([]byte("{}")); outcome != Misconfigured {
		t.Errorf("a name that does not resolve: %v", outcome)
	}
	tlsServer := httptest.NewTLSServer(http.NotFoundHandler()) // a certificate no root vouches for
	defer tlsServer.Close()
	if outcome, reason := sender(tlsServer.URL).Post([]byte("{}")); outcome != Misconfigured {
		t.Errorf("an unverifiable certificate: %v %s", outcome, reason)
	}
	dead := httptest.NewServer(http.NotFoundHandler())
	dead.Close()
	if outcome, _ := sender(dead.URL).Post([]byte("{}")); outcome != Down {
		t.Errorf("connection refused is downtime: %v", outcome)
	}
	server, _ := api(t, 422)
	if outcome, _ := sender(server.URL).Post([]byte("{}")); outcome != Rejected {
		t.Errorf("422: %v", outcome)
	}
}

func TestSpoolIsPrivateOrderedAndBounded(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "spool")
	if err := os.MkdirAll(dir, 0o777); err != nil {
		t.Fatal(err)
	}
	spool := Spool{Dir: dir, MaxBytes: 2500}
	base := time.Date(2026, 12, 5, 10, 0, 0, 0, time.UTC)
	var ids []string
	evictedNow := 0
	for i := 0; i < 5; i++ {
		id := NewUUID()
		ids = append(ids, id)
		path, err := spool.Put(base.Add(time.Duration(i)*time.Second), id, []byte(strings.Repeat("x", 1000)))
		if err != nil {
			t.Fatal(err)
		}
		evicted, err := spool.Evict(path)
		if err != nil {
			t.Fatal(err)
		}
		evictedNow += evicted
	}
	pending := spool.Pending()
	if len(pending) != 2 || !strings.HasSuffix(pending[0], ids[3]+".json") || !strings.HasSuffix(pending[1], ids[4]+".json") {
		t.Fatalf("pending = %v", pending) // the newest two stay, oldest first
	}
	if evictedNow != 3 || spool.Evicted() != 3 {
		t.Fatalf("evicted %d, counted %d", evictedNow, spool.Evicted())
	}
	if runtime.GOOS != "windows" {
		info, _ := os.Stat(dir)
		file, _ := os.Stat(pending[0])
		if info.Mode().Perm() != 0o700 || file.Mode().Perm() != 0o600 {
			t.Fatalf("modes %v %v", info.Mode().Perm(), file.Mode().Perm())
		}
	}
	if !strings.HasPrefix(filepath.Base(pending[0]), "20261205T100003.000000Z-") {
		t.Fatalf("name %s is not dream collect's", filepath.Base(pending[0]))
	}
}

func TestConfigLayers(t *testing.T) {
	path := filepath.Join(t.TempDir(), "agent.conf")
	text := "# written by the installer\nurl = https://a.example\nurl = https://b.example\nkey = K\nfaculty = law\ninterval = 10m\n"
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	file, err := ReadConfigFile(path)
	if err != nil {
		t.Fatal(err)
	}
	cfg := Defaults()
	env := map[string]string{"DREAM_FACULTY": "medicine"}
	if err := cfg.Apply(Layer(file, func(n string) string { return env[n] })); err != nil {
		t.Fatal(err)
	}
	if err := cfg.Apply(map[string][]string{"interval": {"90"}}); err != nil { // a flag
		t.Fatal(err)
	}
	if len(cfg.URLs) != 2 || cfg.Key != "K" || cfg.Faculty != "medicine" || cfg.Interval != 90*time.Second {
		t.Fatalf("cfg = %+v", cfg)
	}
	if err := cfg.Check(); err != nil {
		t.Fatal(err)
	}
	bad := Defaults()
	if err := bad.Apply(Layer(map[string][]string{"urll": {"x"}}, os.Getenv)); err == nil {
		t.Fatal("an unknown setting must be an error")
	}
	if err := bad.Check(); err == nil || !strings.Contains(err.Error(), "faculty") {
		t.Fatalf("check: %v", err)
	}
}

func TestInstallWritesConfigAndServices(t *testing.T) {
	cfg := Defaults()
	cfg.URLs, cfg.Key, cfg.Faculty = []string{"https://dream.example.edu"}, "dream_k", "law"
	for _, goos := range []string{"linux", "darwin", "windows"} {
		root := t.TempDir()
		var ran [][]string
		run := func(name string, args ...string) ([]byte, error) {
			ran = append(ran, append([]string{name}, args...))
			return nil, nil
		}
		var out strings.Builder
		if err := Install(cfg, goos, root, true, run, &out); err != nil {
			t.Fatalf("%s: %v", goos, err)
		}
		where, _ := layout(goos)
		if len(ran) != len(where.Start) {
			t.Errorf("%s: ran %v", goos, ran)
		}
		for name := range where.Services {
			text, err := Render(name, where.Binary, DefaultConfigPath(), "5m0s", 300)
			if err != nil || strings.Contains(text, "{{") ||
				!(strings.Contains(text, "300") || strings.Contains(text, where.Binary)) {
				t.Errorf("%s %s: %v\n%s", goos, name, err, text)
			}
			if _, err := os.Stat(filepath.Join(root, where.Services[name][len(filepath.VolumeName(where.Services[name])):])); err != nil {
				t.Errorf("%s: %v", goos, err)
			}
		}
	}
	conf := ConfigText(cfg)
	parsed, _ := ReadConfigFile(writeTemp(t, conf))
	again := Defaults()
	if err := again.Apply(Layer(parsed, func(string) string { return "" })); err != nil || again.Key != "dream_k" {
		t.Fatalf("the written config does not read back: %v %+v", err, again)
	}
}

func writeTemp(t *testing.T, text string) string {
	path := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// busy is an api answering 503 with Retry-After: 60 and telling asked after each answer.
func busy(t *testing.T) (*httptest.Server, chan struct{}) {
	asked := make(chan struct{}, 100)
	server := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Retry-After", "60")
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = w.Write([]byte(`{"detail":"busy"}`))
		w.(http.Flusher).Flush()
		asked <- struct{}{}
	}))
	t.Cleanup(server.Close)
	return server, asked
}

func TestAStopEndsTheRetryBackoffAtOnce(t *testing.T) {
	server, asked := busy(t)
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	cfg := Defaults()
	cfg.URLs, cfg.Retries, cfg.Backoff = []string{server.URL}, 3, time.Second
	s := NewSender(cfg) // the real backoff: 60 s a round, as Retry-After asks
	s.Context = ctx
	type result struct {
		outcome Outcome
		reason  string
	}
	done := make(chan result, 1)
	go func() {
		outcome, reason := s.Post([]byte("{}"))
		done <- result{outcome, reason}
	}()
	<-asked // the first round was answered: the sender waits to retry
	stop()
	select {
	case got := <-done:
		if got.outcome != Stopped || !strings.Contains(got.reason, "stopped") {
			t.Fatalf("%v %s", got.outcome, got.reason)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the stop did not end the backoff (a service manager kills the agent after 90 s)")
	}
	if len(asked) != 0 {
		t.Fatal("a stopped sender retried")
	}
}

func TestAStoppedRunLeavesItsSnapshotInTheSpool(t *testing.T) {
	server, asked := busy(t)
	a := linuxAgent(t, server.URL)
	a.Config.Retries = 3
	a.Sender = NewSender(a.Config)
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	a.Sender.Context = ctx
	go func() { <-asked; stop() }()
	done := make(chan Report, 1)
	go func() { done <- a.RunOnce() }()
	select {
	case report := <-done:
		pending := Spool{Dir: a.Config.SpoolDir}.Pending()
		if report.Exit != ExitDown || report.Spooled != 1 || len(pending) != 1 ||
			!strings.HasSuffix(pending[0], report.SnapshotID+".json") || !strings.Contains(report.Error, "stopped") {
			t.Fatalf("report %+v, pending %v", report, pending)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the stop did not end the run")
	}
}
