package agent

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func recorded(t *testing.T, name string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// replay answers commands from recordings: "name arg..." → testdata file ("" = fails).
func replay(t *testing.T, answers map[string]string) Runner {
	return func(name string, args ...string) ([]byte, error) {
		line := strings.TrimSpace(name + " " + strings.Join(args, " "))
		file, ok := answers[line]
		if !ok || file == "" {
			return nil, errors.New(line + ": not available")
		}
		return []byte(recorded(t, file)), nil
	}
}

func withUIDs(t *testing.T, uids map[string]int) {
	previous := lookupUID
	lookupUID = func(name string) (int, bool) { uid, ok := uids[name]; return uid, ok }
	t.Cleanup(func() { lookupUID = previous })
}

func TestLinuxUsersFromWhoWhenLogindIsAbsent(t *testing.T) {
	withUIDs(t, map[string]int{"jdoe": 1001, "alice": 1002})
	run := replay(t, map[string]string{"who": "linux/who.txt"}) // loginctl fails: no systemd
	users := DetectUsers("linux", run, "")
	// alice is at the display (:0), jdoe came in over ssh: the one at the machine comes first.
	if want := []string{"alice", "jdoe"}; !reflect.DeepEqual(users, want) {
		t.Fatalf("users = %v, want %v", users, want)
	}
}

func TestLoginctlLeavesOutRootAndGreeters(t *testing.T) {
	if got := InteractiveUsers(ParseLoginctl(recorded(t, "linux/loginctl-elogind.txt"))); !reflect.DeepEqual(got, []string{"larry"}) {
		t.Fatalf("elogind: %v", got)
	}
	sessions := ParseLoginctl(recorded(t, "linux/loginctl-gdm-ssh.txt"))
	if len(sessions) != 3 || !sessions[0].Local || sessions[1].Local {
		t.Fatalf("gdm/ssh: %+v", sessions)
	}
	if got := InteractiveUsers(sessions); !reflect.DeepEqual(got, []string{"myuser"}) {
		t.Fatalf("gdm/ssh users: %v", got)
	}
}

func TestWhoLeavesOutSystemAccounts(t *testing.T) {
	withUIDs(t, map[string]int{"jdoe": 0, "alice": 1002}) // jdoe here a system uid
	if got := InteractiveUsers(ParseWho(recorded(t, "linux/who.txt"))); !reflect.DeepEqual(got, []string{"alice"}) {
		t.Fatalf("users: %v", got)
	}
	withUIDs(t, map[string]int{}) // directory users /etc/passwd does not know are people
	if got := InteractiveUsers(ParseWho("root     tty1  2026-12-05 08:00\nldapuser pts/0 2026-12-05 09:00 (10.1.1.1)\n")); !reflect.DeepEqual(got, []string{"ldapuser"}) {
		t.Fatalf("users: %v", got)
	}
}

func TestMacOSConsoleOwnerFirstNeverRoot(t *testing.T) {
	withUIDs(t, map[string]int{})
	run := replay(t, map[string]string{"stat -f %Su /dev/console": "macos/console-owner-user.txt", "who": "macos/who.txt"})
	if got := DetectUsers("darwin", run, ""); !reflect.DeepEqual(got, []string{"jdoe", "asmith"}) {
		t.Fatalf("users: %v", got)
	}
	run = replay(t, map[string]string{"stat -f %Su /dev/console": "macos/console-owner-loginwindow.txt"})
	users := DetectUsers("darwin", run, "")
	if len(users) != 0 || PrimaryUser(users) != NobodyLoggedOn {
		t.Fatalf("login window: %v", users)
	}
}

func TestWindowsQueryUser(t *testing.T) {
	cases := map[string][]string{
		"windows/query-user-console.txt":            {"phoebe"},
		"windows/query-user-rdp.txt":                {"juurena", "lewen"},
		"windows/query-user-disconnected-first.txt": {"jdoe", "asmith"}, // active before disconnected
		"windows/query-user-de.txt":                 {"max mustermann"}, // a name with a space
		"windows/query-user-none.txt":               nil,
	}
	for file, want := range cases {
		if got := InteractiveUsers(ParseQueryUser(recorded(t, file))); !reflect.DeepEqual(got, want) {
			t.Errorf("%s: %v, want %v", file, got, want)
		}
	}
	sessions := ParseQueryUser(recorded(t, "windows/query-user-disconnected-first.txt"))
	if sessions[0].Active || !sessions[1].Active || !sessions[1].Local {
		t.Errorf("states: %+v", sessions)
	}
}

func TestWindowsFallsBackToTheDesktopShellsOwner(t *testing.T) {
	listing := recorded(t, "windows/tasklist.csv")
	run := replay(t, map[string]string{}) // no quser on Windows Home
	if got := DetectUsers("windows", run, listing); !reflect.DeepEqual(got, []string{"jdoe"}) {
		t.Fatalf("users: %v", got)
	}
}

func TestServiceAccountsAreNeverUsers(t *testing.T) {
	for _, name := range []string{"root", "SYSTEM", `NT AUTHORITY\SYSTEM`, "LAB-PC-17$", "DWM-1",
		"UMFD-0", "LOCAL SERVICE", "_mbsetupuser", "gdm", ""} {
		if !IsServiceAccount(name) {
			t.Errorf("%q should be a service account", name)
		}
	}
	for _, name := range []string{"jdoe", "max mustermann", `LAB\jdoe`} {
		if IsServiceAccount(name) {
			t.Errorf("%q is a person", name)
		}
	}
}
