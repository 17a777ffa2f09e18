package agent

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"testing"
	"time"
)

// deadPID is the pid of a process that has exited.
func deadPID(t *testing.T) int {
	t.Helper()
	child := exec.Command(os.Args[0], "-test.run=^$")
	if err := child.Run(); err != nil {
		t.Fatal(err)
	}
	return child.Process.Pid
}

func TestARunRemovesTheTemporaryFilesACrashedWriterLeft(t *testing.T) {
	a := linuxAgent(t, deadURL())
	spool := Spool{Dir: a.Config.SpoolDir}
	for _, dir := range []string{spool.Dir, filepath.Join(spool.Dir, "sent"), filepath.Join(spool.Dir, "rejected")} {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	temp := func(dir, name string, pid int, age time.Duration) string {
		path := filepath.Join(dir, "."+name+"."+strconv.Itoa(pid)+".tmp")
		if err := os.WriteFile(path, []byte(`{"half": `), 0o600); err != nil {
			t.Fatal(err)
		}
		at := time.Now().Add(-age)
		if err := os.Chtimes(path, at, at); err != nil {
			t.Fatal(err)
		}
		return path
	}
	snapshot := "20261201T100000.000000Z-" + NewUUID() + ".json"
	dead, alive := deadPID(t), os.Getppid() // the test's parent (go test) runs on
	crashed := []string{                    // killed between write and rename
		temp(spool.Dir, snapshot, dead, 0),
		temp(spool.Dir, "evicted.count", dead, 0),
		temp(filepath.Join(spool.Dir, "sent"), "api.txt", dead, 0),
		temp(filepath.Join(spool.Dir, "rejected"), "x.reason.txt", dead, 0),
		temp(spool.Dir, snapshot, alive, 11*time.Minute), // the pid lives on: reused since
	}
	writing := temp(spool.Dir, "20261201T100100.000000Z-"+NewUUID()+".json", alive, time.Minute) // being written
	other := filepath.Join(spool.Dir, ".keep")
	if err := os.WriteFile(other, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	report := a.RunOnce()
	if report.Exit != ExitDown || report.Spooled != 1 {
		t.Fatalf("report %+v", report)
	}
	for i, path := range crashed {
		if runtime.GOOS == "windows" && i < 4 {
			continue // a pid cannot be checked there: only the age tells
		}
		if _, err := os.Stat(path); !os.IsNotExist(err) {
			t.Errorf("%d: %s stays (%v)", i, path, err)
		}
	}
	for _, path := range []string{writing, other} {
		if _, err := os.Stat(path); err != nil {
			t.Errorf("%s: %v", path, err)
		}
	}
}
