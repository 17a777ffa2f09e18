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

func putSnapshot(t *testing.T, spool Spool, minute int) (string, string) {
	t.Helper()
	id := NewUUID()
	path, err := spool.Put(time.Date(2026, 12, 1, 10, minute, 0, 0, time.UTC), id,
		[]byte(`{"snapshot_id":"`+id+`"}`))
	if err != nil {
		t.Fatal(err)
	}
	return path, id
}

func names(paths []string) []string {
	out := make([]string, len(paths))
	for i, p := range paths {
		out[i] = filepath.Base(p)
	}
	return out
}

func TestTheGraceWindowIsKeptThenForgottenAndResentOnlyToAnotherApi(t *testing.T) {
	spool := Spool{Dir: t.TempDir(), Grace: 10 * time.Minute}
	var resent []string
	resend := func(data []byte) bool {
		var body map[string]string
		_ = json.Unmarshal(data, &body)
		resent = append(resent, body["snapshot_id"])
		return true
	}
	first, _ := putSnapshot(t, spool, 1)
	second, secondID := putSnapshot(t, spool, 2)
	third, _ := putSnapshot(t, spool, 3)
	if !spool.Acknowledged(first, "http://a", resend) || !spool.Acknowledged(second, "http://a", resend) {
		t.Fatal("acknowledged by the same api: nothing to resend, nothing can fail")
	}
	if len(resent) != 0 || len(spool.Pending()) != 1 || spool.AcknowledgingAPI() != "http://a" {
		t.Fatalf("resent %v, pending %v, api %q", resent, spool.Pending(), spool.AcknowledgingAPI())
	}
	old := time.Now().Add(-11 * time.Minute)
	kept := filepath.Join(spool.Dir, "sent", filepath.Base(first))
	if err := os.Chtimes(kept, old, old); err != nil {
		t.Fatal(err)
	}
	if got := names(spool.Window()); len(got) != 1 || got[0] != filepath.Base(second) {
		t.Fatalf("window = %v", got)
	}
	if _, err := os.Stat(kept); !os.IsNotExist(err) {
		t.Fatal("a snapshot older than the window is deleted")
	}
	if !spool.Acknowledged(third, "http://b", resend) {
		t.Fatal("resend failed")
	}
	if len(resent) != 1 || resent[0] != secondID || spool.AcknowledgingAPI() != "http://b" {
		t.Fatalf("resent %v, api %q", resent, spool.AcknowledgingAPI())
	}
}

func TestAResendThatCannotGoLeavesTheSpoolAsItWas(t *testing.T) {
	spool := Spool{Dir: t.TempDir(), Grace: time.Hour}
	first, _ := putSnapshot(t, spool, 1)
	second, _ := putSnapshot(t, spool, 2)
	spool.Acknowledged(first, "http://a", func([]byte) bool { return true })
	if spool.Acknowledged(second, "http://b", func([]byte) bool { return false }) {
		t.Fatal("the resend could not go")
	}
	if len(spool.Pending()) != 1 || spool.AcknowledgingAPI() != "http://a" || len(spool.Window()) != 1 {
		t.Fatalf("pending %v, api %q, window %v", spool.Pending(), spool.AcknowledgingAPI(), spool.Window())
	}
	noGrace := Spool{Dir: t.TempDir()}
	third, _ := putSnapshot(t, noGrace, 3)
	if !noGrace.Acknowledged(third, "http://a", nil) || len(noGrace.Pending()) != 0 || len(noGrace.Window()) != 0 {
		t.Fatal("no grace window: deleted once acknowledged")
	}
}

// site is an api that stores each snapshot_id once, as Dream does, and counts the posts.
type site struct {
	mu     sync.Mutex
	stored map[string]int
	server *httptest.Server
}

func newSite(t *testing.T) *site {
	s := &site{stored: map[string]int{}}
	s.server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		data, _ := io.ReadAll(r.Body)
		var body map[string]string
		_ = json.Unmarshal(data, &body)
		s.mu.Lock()
		s.stored[body["snapshot_id"]]++
		s.mu.Unlock()
		w.WriteHeader(http.StatusAccepted)
		_, _ = w.Write([]byte(`{"snapshot_id":"` + body["snapshot_id"] + `"}`))
	}))
	t.Cleanup(s.server.Close)
	return s
}

// count is how many times the site was sent that snapshot.
func (s *site) count(id string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stored[id]
}

func TestAfterAFailoverTheNewSiteGetsWhatTheDeadOneAcknowledged(t *testing.T) {
	a, b := newSite(t), newSite(t)
	cfg := Defaults()
	cfg.URLs, cfg.Retries, cfg.Backoff = []string{a.server.URL, b.server.URL}, 0, time.Millisecond
	agent := &Agent{Config: cfg, Sender: NewSender(cfg), Log: io.Discard}
	spool := Spool{Dir: t.TempDir(), Grace: cfg.Grace}
	var ids []string
	for minute := 1; minute <= 3; minute++ {
		_, id := putSnapshot(t, spool, minute)
		ids = append(ids, id)
	}
	report := Report{}
	agent.drain(spool, &report)
	if len(report.Sent) != 3 || len(a.stored) != 3 || len(b.stored) != 0 {
		t.Fatalf("report %+v, a %v, b %v", report, a.stored, b.stored)
	}
	a.server.Close() // site A dies before mirroring anything
	_, id := putSnapshot(t, spool, 4)
	ids = append(ids, id)
	report = Report{}
	agent.drain(spool, &report)
	if report.Exit != ExitSent || len(report.Sent) != 1 {
		t.Fatalf("report %+v", report)
	}
	for _, id := range ids {
		if b.stored[id] != 1 {
			t.Fatalf("site B holds %v, want each of %v once", b.stored, ids)
		}
	}
	_, id = putSnapshot(t, spool, 5)
	agent.drain(spool, &Report{})
	if len(b.stored) != 5 || b.stored[ids[0]] != 1 {
		t.Fatalf("B acknowledged the window already: nothing re-sent; b %v", b.stored)
	}
}

// The default window outlasts a mirror's worst lag (30 min); `grace` sets it, 0 turns it off.
func TestTheDefaultGraceWindowIsHalfAnHourAndGraceSetsIt(t *testing.T) {
	spool := Spool{Dir: t.TempDir(), Grace: Defaults().Grace}
	var kept []string
	for minute, age := range map[int]time.Duration{1: 31 * time.Minute, 2: 29 * time.Minute} {
		path, _ := putSnapshot(t, spool, minute)
		if !spool.Acknowledged(path, "http://a", nil) {
			t.Fatal("acknowledged by the first api: nothing to resend")
		}
		at := time.Now().Add(-age)
		if err := os.Chtimes(filepath.Join(spool.Dir, "sent", filepath.Base(path)), at, at); err != nil {
			t.Fatal(err)
		}
		if age < 30*time.Minute {
			kept = append(kept, filepath.Base(path))
		}
	}
	if got := names(spool.Window()); len(got) != 1 || got[0] != kept[0] {
		t.Fatalf("window = %v, want %v", got, kept)
	}
	for value, want := range map[string]time.Duration{"0": 0, "1h": time.Hour, "45m": 45 * time.Minute} {
		cfg := Defaults()
		if err := cfg.Apply(map[string][]string{"grace": {value}}); err != nil || cfg.Grace != want {
			t.Fatalf("grace=%s: %v, %v", value, cfg.Grace, err)
		}
	}
}
