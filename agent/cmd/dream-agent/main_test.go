//go:build unix

package main

import (
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// SIGTERM while the agent waits out an api's Retry-After: --loop returns at once, and the
// snapshot waits in the spool.
func TestSIGTERMEndsALoopWaitingToRetry(t *testing.T) {
	asked := make(chan struct{}, 100)
	server := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Retry-After", "60")
		w.WriteHeader(http.StatusServiceUnavailable)
		w.(http.Flusher).Flush()
		asked <- struct{}{}
	}))
	defer server.Close()
	dir := t.TempDir()
	spool := filepath.Join(dir, "spool")
	args := []string{"run", "--loop", "--api", server.URL, "--faculty", "law", "--host", "pc-1",
		"--config", filepath.Join(dir, "absent.conf"), "--spool-dir", spool, "--executables", "false",
		"--retries", "3", "--backoff", "1s"}
	done := make(chan int, 1)
	go func() { done <- run(args, io.Discard, io.Discard) }()
	<-asked // the signal handler is in place: the run is sending
	if err := syscall.Kill(os.Getpid(), syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case status := <-done:
		if status != 0 {
			t.Fatalf("exit %d", status)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("SIGTERM did not end the backoff (3 rounds of Retry-After: 60)")
	}
	entries, _ := os.ReadDir(spool)
	var waiting []string
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".json") {
			waiting = append(waiting, e.Name())
		}
	}
	if len(waiting) != 1 || len(asked) != 0 {
		t.Fatalf("spool %v, %d more posts after the stop", waiting, len(asked))
	}
}
