package agent

import (
	"context"
	"encoding/csv"
	"fmt"
	"os/exec"
	"strings"
	"time"
)

// Runner runs a command and returns its standard output (tests give recorded outputs).
type Runner func(name string, args ...string) ([]byte, error)

// RunCommand runs a command with a time limit; a non-zero exit is an error with its stderr.
func RunCommand(name string, args ...string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return out, fmt.Errorf("%s %s: %v: %s", name, strings.Join(args, " "), err,
			strings.TrimSpace(stderr.String()))
	}
	return out, nil
}

// DetectUsers lists the interactive users of this machine (goos: linux, darwin, windows),
// given the process listing already taken (Windows' fallback reads it).
func DetectUsers(goos string, run Runner, listing string) []string {
	var sessions []Session
	switch goos {
	case "linux":
		// logind knows graphical and ssh sessions; utmp (`who`) has them where logind does not
		// run (containers, older systems) and the terminal logins of both: take both.
		if out, err := run("loginctl", "list-sessions", "--no-legend"); err == nil {
			sessions = append(sessions, ParseLoginctl(string(out))...)
		}
		if out, err := run("who"); err == nil {
			sessions = append(sessions, ParseWho(string(out))...)
		}
	case "darwin":
		if out, err := run("stat", "-f", "%Su", "/dev/console"); err == nil {
			sessions = append(sessions, ParseConsoleOwner(string(out))...)
		}
		if out, err := run("who"); err == nil {
			for _, s := range ParseWho(string(out)) {
				s.Local = false // the console owner is the one at the screen; others are remote
				sessions = append(sessions, s)
			}
		}
	case "windows":
		// quser exits 1 with "No User exists for *" when nobody is logged on.
		if out, err := run("query", "user"); err == nil || len(out) > 0 {
			sessions = append(sessions, ParseQueryUser(decodeConsole(out))...)
		}
		if len(sessions) == 0 { // Windows Home has no quser: whoever runs the desktop shell
			sessions = append(sessions, ExplorerOwners(listing)...)
		}
	}
	return InteractiveUsers(sessions)
}

// ExplorerOwners reads `tasklist /v /fo csv` for the owners of explorer.exe (the desktop
// shell of each logged-on user); columns by position, as headers are localized.
func ExplorerOwners(tasklistCSV string) []Session {
	reader := csv.NewReader(strings.NewReader(tasklistCSV))
	reader.FieldsPerRecord = -1
	rows, err := reader.ReadAll()
	if err != nil {
		return nil
	}
	var sessions []Session
	for i, row := range rows {
		if i == 0 || len(row) < 7 || !strings.EqualFold(row[0], "explorer.exe") {
			continue
		}
		name := row[6]
		if at := strings.LastIndex(name, `\`); at >= 0 {
			name = name[at+1:]
		}
		if name != "" && !IsServiceAccount(name) && !strings.EqualFold(name, "N/A") {
			sessions = append(sessions, Session{User: name, Local: strings.EqualFold(row[2], "Console"), Active: true})
		}
	}
	return sessions
}
