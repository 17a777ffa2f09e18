package agent

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// judge is an api answering each snapshot_id with the status statuses gives it (202 if none).
func judge(t *testing.T, statuses map[string]int) *httptest.Server {
	server := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		data, _ := io.ReadAll(r.Body)
		var body map[string]any
		_ = json.Unmarshal(data, &body)
		id, _ := body["snapshot_id"].(string)
		status, ok := statuses[id]
		if !ok {
			status = http.StatusAccepted
		}
		w.WriteHeader(status)
		_, _ = w.Write([]byte(`{"snapshot_id":"` + id + `","detail":"refused"}`))
	}))
	t.Cleanup(server.Close)
	return server
}

// noSpool makes the agent's spool a regular file: nothing can be written in it.
func noSpool(t *testing.T, a *Agent) {
	t.Helper()
	if err := os.WriteFile(a.Config.SpoolDir, []byte("not a directory\n"), 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestASnapshotNeitherSentNorSpooledIsLost(t *testing.T) {
	a := linuxAgent(t, deadURL())
	noSpool(t, a)
	report := a.RunOnce()
	if report.Exit != ExitLost || !strings.Contains(report.Error, "lost") || len(report.Sent) != 0 {
		t.Fatalf("api down, no spool: %+v", report)
	}

	a = linuxAgent(t, judgeAll(t, http.StatusUnprocessableEntity).URL)
	noSpool(t, a)
	report = a.RunOnce()
	if report.Exit != ExitLost || !strings.Contains(report.Error, "422") || len(report.Rejected) != 0 {
		t.Fatalf("refused, and rejected/ cannot be written: %+v", report)
	}

	a = linuxAgent(t, judge(t, map[string]int{}).URL)
	noSpool(t, a)
	report = a.RunOnce()
	if report.Exit != ExitSent || len(report.Sent) != 1 || report.Sent[0] != report.SnapshotID {
		t.Fatalf("no spool, but sent directly: %+v", report)
	}
}

// judgeAll is an api answering every post with status.
func judgeAll(t *testing.T, status int) *httptest.Server {
	server := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(status)
		_, _ = w.Write([]byte(`{"detail":"refused"}`))
	}))
	t.Cleanup(server.Close)
	return server
}

func TestASnapshotRefusedForItsContentExits5AndIsKeptWithItsReason(t *testing.T) {
	a := linuxAgent(t)
	spool := Spool{Dir: a.Config.SpoolDir}
	refusedPath, refused := putSnapshot(t, spool, 1)
	a.Sender.URLs = []string{judge(t, map[string]int{refused: http.StatusRequestEntityTooLarge}).URL}
	report := a.RunOnce()
	if report.Exit != ExitRejected || !strings.Contains(report.Error, "413") ||
		len(report.Rejected) != 1 || len(report.Sent) != 1 || report.Sent[0] != report.SnapshotID {
		t.Fatalf("report %+v", report)
	}
	kept := filepath.Join(spool.Dir, "rejected", filepath.Base(refusedPath))
	reason, err := os.ReadFile(strings.TrimSuffix(kept, ".json") + ".reason.txt")
	if _, statErr := os.Stat(kept); statErr != nil || err != nil || !strings.Contains(string(reason), "413") {
		t.Fatalf("rejected/ holds %v (%v), reason %q (%v)", kept, statErr, reason, err)
	}
}

func TestTheMostSevereExitStatusWins(t *testing.T) {
	// 6 > 1 > 4 > 5 > 3 > 0, whatever the order they happen in.
	if report := (Report{}); report.Exit != ExitSent {
		t.Fatal("nothing went wrong: 0")
	}
	order := []int{ExitDown, ExitRejected, ExitMisconfigured, ExitListing, ExitLost}
	for i, first := range order {
		for j, second := range order {
			report := Report{}
			report.fail(first, "first")
			report.fail(second, "second")
			want, reason := first, "first"
			if j > i {
				want, reason = second, "second"
			}
			if report.Exit != want || report.Error != reason {
				t.Errorf("%d then %d: exit %d (%q), want %d (%q)", first, second, report.Exit, report.Error, want, reason)
			}
		}
	}

	// A refusal and an api down in one run: 5, the refused snapshot is the one to look at.
	a := linuxAgent(t)
	spool := Spool{Dir: a.Config.SpoolDir}
	_, refused := putSnapshot(t, spool, 1)
	_, down := putSnapshot(t, spool, 2)
	a.Sender.URLs = []string{judge(t, map[string]int{refused: http.StatusBadRequest, down: http.StatusServiceUnavailable}).URL}
	report := a.RunOnce()
	if report.Exit != ExitRejected || report.Spooled != 2 || len(report.Rejected) != 1 {
		t.Fatalf("refused then down: %+v", report)
	}

	// The listing failed and a spooled snapshot was refused: 1.
	a.Run = replay(t, map[string]string{})
	_, refused = putSnapshot(t, spool, 0)
	a.Sender.URLs = []string{judge(t, map[string]int{refused: http.StatusUnsupportedMediaType, down: http.StatusServiceUnavailable}).URL}
	report = a.RunOnce()
	if report.Exit != ExitListing || !strings.Contains(report.Error, "not available") || len(report.Rejected) != 1 {
		t.Fatalf("no listing, refused: %+v", report)
	}
}

func TestARefusedSnapshotTheSpoolNeverHeldIsKeptInRejected(t *testing.T) {
	spool := Spool{Dir: filepath.Join(t.TempDir(), "spool")}
	id := NewUUID()
	name, err := spool.RejectBody(time.Date(2026, 12, 1, 10, 0, 0, 5000, time.UTC), id, []byte(`{"a":1}`), "HTTP 422: no")
	if err != nil || name != "20261201T100000.000005Z-"+id+".json" {
		t.Fatalf("%s %v", name, err)
	}
	body, _ := os.ReadFile(filepath.Join(spool.Dir, "rejected", name))
	reason, _ := os.ReadFile(filepath.Join(spool.Dir, "rejected", strings.TrimSuffix(name, ".json")+".reason.txt"))
	if string(body) != `{"a":1}` || string(reason) != "HTTP 422: no\n" || len(spool.Pending()) != 0 {
		t.Fatalf("body %q, reason %q, pending %v", body, reason, spool.Pending())
	}
}
