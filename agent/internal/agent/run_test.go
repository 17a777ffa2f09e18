package agent

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestARunSendsTheSpoolOldestFirstThenItsOwnSnapshot(t *testing.T) {
	withUIDs(t, map[string]int{"jdoe": 1001, "alice": 1002})
	var mu sync.Mutex
	var bodies []map[string]any
	server := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		data, _ := io.ReadAll(r.Body)
		var body map[string]any
		_ = json.Unmarshal(data, &body)
		mu.Lock()
		bodies = append(bodies, body)
		mu.Unlock()
		w.WriteHeader(http.StatusAccepted)
		_, _ = w.Write([]byte(`{"snapshot_id":"x"}`))
	}))
	defer server.Close()
	cfg := Defaults()
	cfg.URLs, cfg.Faculty, cfg.Host, cfg.Interval = []string{server.URL}, "law", "pc-1", 2*time.Minute
	cfg.SpoolDir = filepath.Join(t.TempDir(), "spool")
	spool := Spool{Dir: cfg.SpoolDir}
	var waiting []string
	for i := 0; i < 2; i++ {
		id := NewUUID()
		waiting = append(waiting, id)
		at := time.Date(2026, 12, 1, 10, i, 0, 0, time.UTC)
		if _, err := spool.Put(at, id, []byte(`{"snapshot_id":"`+id+`"}`)); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(cfg.SpoolDir, "evicted.count"), []byte("5\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	a := &Agent{Config: cfg, GOOS: "linux", Sender: NewSender(cfg), Now: time.Now, Log: io.Discard,
		Run: replay(t, map[string]string{
			"ps -ww -eo pid,ppid,user:64,%cpu,%mem,vsz,rss,tty,stat,lstart,time,nlwp,comm,args": "linux/ps.txt",
			"who": "linux/who.txt",
		})}
	report := a.RunOnce()
	if report.Exit != ExitSent || len(report.Sent) != 3 || report.Sent[0] != waiting[0] ||
		report.Sent[1] != waiting[1] || report.Sent[2] != report.SnapshotID {
		t.Fatalf("report = %+v", report)
	}
	own := bodies[2]
	if own["user"] != "alice" || own["os"] != "linux" || own["host"] != "pc-1" || own["faculty"] != "law" ||
		own["interval_s"] != 120.0 || own["snapshot_id"] != report.SnapshotID || own["spool_evicted"] != 5.0 {
		t.Fatalf("body = %v", own)
	}
	if len(spool.Pending()) != 0 {
		t.Fatal("sent snapshots stay in the spool")
	}
}

// linuxAgent is an agent listing the recorded Linux ps, spooling in a new directory, sending
// to urls (one retry round, no waiting).
func linuxAgent(t *testing.T, urls ...string) *Agent {
	t.Helper()
	withUIDs(t, map[string]int{"jdoe": 1001, "alice": 1002})
	cfg := Defaults()
	cfg.URLs, cfg.Faculty, cfg.Host = urls, "law", "pc-1"
	cfg.Retries, cfg.Backoff = 0, time.Millisecond
	cfg.SpoolDir = filepath.Join(t.TempDir(), "spool")
	return &Agent{Config: cfg, GOOS: "linux", Sender: NewSender(cfg), Now: time.Now, Log: io.Discard,
		Run: replay(t, map[string]string{
			"ps -ww -eo pid,ppid,user:64,%cpu,%mem,vsz,rss,tty,stat,lstart,time,nlwp,comm,args": "linux/ps.txt",
			"who": "linux/who.txt",
		})}
}

// deadURL is a url nothing listens at (connection refused).
func deadURL() string {
	dead := httptest.NewServer(http.NotFoundHandler())
	dead.Close()
	return dead.URL
}

func TestTheSpoolFileIsNamedAfterTheSnapshotsCollectionTime(t *testing.T) {
	a := linuxAgent(t, deadURL())
	clock := time.Date(2026, 12, 1, 10, 0, 0, 123456000, time.UTC)
	a.Now = func() time.Time { clock = clock.Add(time.Minute); return clock } // hashing takes time
	a.Executables = func(string, Runner) []Executable { a.Now(); return nil }
	report := a.RunOnce()
	pending := Spool{Dir: a.Config.SpoolDir}.Pending()
	if report.Exit != ExitDown || len(pending) != 1 {
		t.Fatalf("report %+v, pending %v", report, pending)
	}
	data, err := os.ReadFile(pending[0])
	if err != nil {
		t.Fatal(err)
	}
	var body map[string]any
	if err := json.Unmarshal(data, &body); err != nil {
		t.Fatal(err)
	}
	collected, err := time.Parse(time.RFC3339Nano, body["collected_at"].(string))
	if err != nil {
		t.Fatal(err)
	}
	want := collected.Format("20060102T150405.000000Z") + "-" + report.SnapshotID + ".json"
	if filepath.Base(pending[0]) != want {
		t.Fatalf("spooled as %s, collected_at %s", filepath.Base(pending[0]), body["collected_at"])
	}
}

func TestARunThatReachesTheApiSendsWhatTheSpoolBoundWouldHaveEvicted(t *testing.T) {
	s := newSite(t)
	a := linuxAgent(t, s.server.URL)
	a.Config.SpoolMaxBytes = 1024 // less than one listing
	spool := Spool{Dir: a.Config.SpoolDir}
	_, waiting := putSnapshot(t, spool, 1) // spooled while the api was down
	report := a.RunOnce()
	if report.Exit != ExitSent || report.Evicted != 0 || report.EvictedTotal != 0 || len(report.Sent) != 2 ||
		report.Sent[0] != waiting || s.count(waiting) != 1 {
		t.Fatalf("report %+v, stored %v", report, s.stored)
	}
}

func TestWhatCannotBeSentIsEvictedOldestFirstAfterTheDrain(t *testing.T) {
	a := linuxAgent(t, deadURL())
	a.Config.SpoolMaxBytes = 1024
	spool := Spool{Dir: a.Config.SpoolDir}
	putSnapshot(t, spool, 1)
	putSnapshot(t, spool, 2)
	report := a.RunOnce()
	pending := spool.Pending()
	if report.Exit != ExitDown || report.Evicted != 2 || report.EvictedTotal != 2 || report.Spooled != 1 ||
		len(pending) != 1 || !strings.HasSuffix(pending[0], report.SnapshotID+".json") {
		t.Fatalf("report %+v, pending %v", report, pending)
	}
}

func TestTheApiThatAcceptedIsTriedFirstByTheNextRun(t *testing.T) {
	var firstPosts atomic.Int32
	first := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		firstPosts.Add(1)
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	defer first.Close()
	second := newSite(t)
	a := linuxAgent(t, first.URL, second.server.URL)
	if report := a.RunOnce(); report.Exit != ExitSent || firstPosts.Load() != 1 {
		t.Fatalf("report %+v, %d posts to the first url", report, firstPosts.Load())
	}
	next := *a // the next run: another process, a new sender
	next.Sender = NewSender(a.Config)
	report := next.RunOnce()
	if report.Exit != ExitSent || firstPosts.Load() != 1 || second.count(report.SnapshotID) != 1 {
		t.Fatalf("report %+v, %d posts to the first url", report, firstPosts.Load())
	}

	// The file dream collect writes (no newline) names it too; a url not configured is ignored.
	spool := Spool{Dir: a.Config.SpoolDir}
	for _, named := range []string{first.URL, "http://elsewhere.example"} {
		if err := os.WriteFile(filepath.Join(spool.Dir, "sent", "api.txt"), []byte(named), 0o600); err != nil {
			t.Fatal(err)
		}
		before := firstPosts.Load()
		next.Sender = NewSender(a.Config)
		next.RunOnce()
		if firstPosts.Load() != before+1 {
			t.Fatalf("sent/api.txt names %s: %d posts to the first url, want %d", named, firstPosts.Load(), before+1)
		}
	}
}
