package agent

import (
	"os/user"
	"sort"
	"strconv"
	"strings"
)

// NobodyLoggedOn is the snapshot's user when no interactive session exists (a lab machine at
// night, the login window): never the agent's own service account.
const NobodyLoggedOn = "(nobody)"

// Session is one interactive logon: who, and whether it is at the machine (console/seat) or
// remote (ssh, RDP); Active is false for a disconnected Windows session.
type Session struct {
	User   string
	Local  bool
	Active bool
}

// serviceAccounts are never a person using the machine.
var serviceAccounts = map[string]bool{
	"root": true, "system": true, "local service": true, "network service": true,
	"_mbsetupuser": true, "loginwindow": true, "gdm": true, "lightdm": true, "sddm": true,
	"nobody": true,
}

// IsServiceAccount: root, SYSTEM, a machine account (PC$), a display manager, Windows'
// per-session window/font drivers (DWM-1, UMFD-0).
func IsServiceAccount(name string) bool {
	lower := strings.ToLower(strings.TrimSpace(name))
	if i := strings.LastIndexAny(lower, `\`); i >= 0 {
		lower = lower[i+1:]
	}
	return lower == "" || serviceAccounts[lower] || strings.HasSuffix(lower, "$") ||
		strings.HasPrefix(lower, "dwm-") || strings.HasPrefix(lower, "umfd-")
}

// lookupUID resolves a local account's uid; ok is false for accounts it cannot see (directory
// users that only NSS knows: they count as people).
var lookupUID = func(name string) (int, bool) {
	u, err := user.Lookup(name)
	if err != nil {
		return 0, false
	}
	uid, err := strconv.Atoi(u.Uid)
	return uid, err == nil
}

// systemUIDBelow is the first uid of people's accounts on Linux (login.defs UID_MIN).
const systemUIDBelow = 1000

// ParseLoginctl reads `loginctl list-sessions --no-legend`: SESSION UID USER [SEAT] [TTY]...
// (newer systemd adds LEADER, CLASS, IDLE, SINCE). Sessions of system uids (greeters) and
// systemd's per-user "manager" sessions are left out.
func ParseLoginctl(output string) []Session {
	var sessions []Session
	for _, line := range strings.Split(output, "\n") {
		fields := strings.Fields(line)
		if len(fields) < 3 || fields[0] == "SESSION" {
			continue
		}
		uid, err := strconv.Atoi(fields[1])
		if err != nil || uid < systemUIDBelow || contains(fields[3:], "manager") ||
			contains(fields[3:], "manager-early") || IsServiceAccount(fields[2]) {
			continue
		}
		local := false
		for _, f := range fields[3:] {
			if strings.HasPrefix(f, "seat") || strings.HasPrefix(f, "tty") {
				local = true
			}
		}
		sessions = append(sessions, Session{User: fields[2], Local: local, Active: true})
	}
	return sessions
}

// ParseWho reads `who` (utmp): NAME LINE TIME [(HOST)]. A session is local on a virtual
// console (ttyN, console) or an X display `(:0)`; remote from a host name or address.
func ParseWho(output string) []Session {
	var sessions []Session
	for _, line := range strings.Split(output, "\n") {
		fields := strings.Fields(line)
		if len(fields) < 2 || IsServiceAccount(fields[0]) {
			continue
		}
		if uid, ok := lookupUID(fields[0]); ok && uid < systemUIDBelow {
			continue
		}
		host := ""
		if last := fields[len(fields)-1]; strings.HasPrefix(last, "(") && strings.HasSuffix(last, ")") {
			host = strings.Trim(last, "()")
		}
		tty := fields[1]
		local := strings.HasPrefix(host, ":") ||
			(host == "" && (strings.HasPrefix(tty, "tty") || tty == "console" || strings.HasPrefix(tty, ":")))
		sessions = append(sessions, Session{User: fields[0], Local: local, Active: true})
	}
	return sessions
}

// ParseConsoleOwner reads `stat -f %Su /dev/console` (macOS): the user at the screen, or root
// while the login window shows (nobody, then).
func ParseConsoleOwner(output string) []Session {
	name := strings.TrimSpace(output)
	if IsServiceAccount(name) {
		return nil
	}
	return []Session{{User: name, Local: true, Active: true}}
}

// ParseQueryUser reads Windows' `query user` (quser): a header, then one line per session,
//
//	 USERNAME              SESSIONNAME        ID  STATE   IDLE TIME  LOGON TIME
//	>jdoe                  console             1  Active      none   12/5/2026 9:00 AM
//	 asmith                                    3  Disc            5  12/5/2026 8:00 AM
//
// The user name ends where the header's second column starts (names may hold spaces); the
// session name is empty for a disconnected session, so the ID is found as the first number.
// Headers are localized (BENUTZERNAME SITZUNGSNAME...): only their positions are used.
func ParseQueryUser(output string) []Session {
	lines := strings.Split(strings.ReplaceAll(output, "\r\n", "\n"), "\n")
	if len(lines) < 2 {
		return nil
	}
	header := lines[0]
	nameEnd := secondColumn(header)
	var sessions []Session
	for _, line := range lines[1:] {
		if strings.TrimSpace(line) == "" || len(line) < 2 {
			continue
		}
		body := line[1:] // the first character is '>' on the current session, else a space
		cut := nameEnd - 1
		if cut <= 0 || cut > len(body) {
			cut = strings.IndexAny(body, " \t")
			if cut < 0 {
				cut = len(body)
			}
		}
		name := strings.TrimSpace(body[:cut])
		rest := strings.Fields(body[cut:])
		if name == "" || IsServiceAccount(name) {
			continue
		}
		session, state := "", ""
		for i, f := range rest {
			if _, err := strconv.Atoi(f); err == nil {
				if i > 0 {
					session = rest[0]
				}
				if i+1 < len(rest) {
					state = rest[i+1]
				}
				break
			}
		}
		lower := strings.ToLower(state)
		active := strings.HasPrefix(lower, "activ") || strings.HasPrefix(lower, "aktiv") ||
			strings.HasPrefix(lower, "actif")
		local := strings.EqualFold(session, "console")
		sessions = append(sessions, Session{User: name, Local: local, Active: active})
	}
	return sessions
}

// secondColumn is where a header's second word starts (0 if there is none).
func secondColumn(header string) int {
	inWord, words := false, 0
	for i, r := range header {
		if r != ' ' && r != '\t' {
			if !inWord {
				words++
				if words == 2 {
					return i
				}
			}
			inWord = true
		} else {
			inWord = false
		}
	}
	return 0
}

// InteractiveUsers orders the people logged on, without repeats: active before disconnected,
// at the machine before remote, then as the tool listed them. The first is the snapshot's user.
func InteractiveUsers(sessions []Session) []string {
	rank := func(s Session) int {
		r := 0
		if !s.Active {
			r += 2
		}
		if !s.Local {
			r++
		}
		return r
	}
	ordered := append([]Session(nil), sessions...)
	sort.SliceStable(ordered, func(i, j int) bool { return rank(ordered[i]) < rank(ordered[j]) })
	var users []string
	seen := map[string]bool{}
	for _, s := range ordered {
		key := strings.ToLower(s.User)
		if !seen[key] {
			seen[key] = true
			users = append(users, s.User)
		}
	}
	return users
}

// PrimaryUser is the snapshot's user: the first interactive user, or NobodyLoggedOn.
func PrimaryUser(users []string) string {
	if len(users) == 0 {
		return NobodyLoggedOn
	}
	return users[0]
}
