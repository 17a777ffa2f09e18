package agent

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
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
		if _, _, err := spool.Put(at, id, []byte(`{"snapshot_id":"`+id+`"}`)); err != nil {
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
