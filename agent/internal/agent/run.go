package agent

import (
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"
)

// Exit statuses of one run (documented in docs/agent.md): the service managers treat only 0
// and 3 as success, so a key to fix is never mistaken for an api that is briefly down, nor a
// lost or refused snapshot for one that waits.
const (
	ExitSent          = 0 // every snapshot sent
	ExitListing       = 1 // the listing command failed
	ExitUsage         = 2 // a bad option or configuration file
	ExitDown          = 3 // no api reachable: spooled, sent by a later run
	ExitMisconfigured = 4 // refused key (401/403), wrong URL (404), DNS or TLS failure: spooled
	ExitRejected      = 5 // a snapshot refused by the api (400/413/415/422): kept in rejected/
	ExitLost          = 6 // the snapshot could be neither sent nor spooled: lost
)

// severity orders the statuses when several apply in one run: 6 > 1 > 4 > 5 > 3 > 0.
var severity = map[int]int{ExitSent: 0, ExitDown: 1, ExitRejected: 2, ExitMisconfigured: 3,
	ExitListing: 4, ExitLost: 5}

// fail records what went wrong: the most severe status wins, and its reason with it.
func (r *Report) fail(exit int, reason string) {
	if severity[exit] > severity[r.Exit] {
		r.Exit, r.Error = exit, reason
	} else if r.Error == "" {
		r.Error = reason
	}
}

// Agent is one machine's collector.
type Agent struct {
	Config Config
	GOOS   string
	Run    Runner
	Sender *Sender
	Now    func() time.Time
	Log    io.Writer
	// Executables lists the listing's executables' facts (nil: not collected).
	Executables func(goos string, run Runner) []Executable
}

// Report is what a run did, printed as one JSON line.
type Report struct {
	SnapshotID   string   `json:"snapshot_id,omitempty"`
	User         string   `json:"user,omitempty"`
	Users        []string `json:"users"`
	Executables  int      `json:"executables"`
	Sent         []string `json:"sent"`
	Rejected     []string `json:"rejected"`
	Spooled      int      `json:"spooled"`
	Evicted      int      `json:"evicted"`
	EvictedTotal int64    `json:"evicted_total"`
	Error        string   `json:"error,omitempty"`
	Exit         int      `json:"exit"`
}

// NewUUID is a random (version 4) UUID.
func NewUUID() string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err)
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// Snapshot takes the listing and builds the body of POST /v1/snapshots (dream collect's wire
// format, plus `executables` when collected).
func (a *Agent) Snapshot() (map[string]any, Report, error) {
	report := Report{Users: []string{}, Sent: []string{}, Rejected: []string{}}
	command, output, err := TakeListing(a.GOOS, a.Run)
	if err != nil {
		return nil, report, err
	}
	host := a.Config.Host
	if host == "" {
		host, _ = os.Hostname()
	}
	report.Users = append(report.Users, DetectUsers(a.GOOS, a.Run, output)...)
	report.User = PrimaryUser(report.Users)
	report.SnapshotID = NewUUID()
	body := map[string]any{
		"snapshot_id":  report.SnapshotID,
		"host":         host,
		"os":           OSName(a.GOOS),
		"user":         report.User,
		"faculty":      a.Config.Faculty,
		"collected_at": a.Now().UTC().Format(time.RFC3339Nano),
		"command":      command,
		"output":       output,
		"interval_s":   a.Config.Interval.Seconds(),
	}
	if version := OSVersion(a.GOOS, a.Run); version != "" {
		body["os_version"] = version
	}
	if a.Executables != nil {
		facts := a.Executables(a.GOOS, a.Run)
		report.Executables = len(facts)
		if len(facts) > 0 {
			body["executables"] = facts
		}
	}
	return body, report, nil
}

// RunOnce collects one snapshot, spools it and drains the spool oldest first.
func (a *Agent) RunOnce() Report {
	spool := Spool{Dir: a.Config.SpoolDir, MaxBytes: a.Config.SpoolMaxBytes, Grace: a.Config.Grace}
	// Each run is a new process: the api that accepted last is the one sent/api.txt names
	// (written on each acknowledgement, by dream collect too).
	a.Sender.Prefer(spool.AcknowledgingAPI())
	if removed := spool.RemoveStaleTemps(time.Now()); removed > 0 {
		fmt.Fprintf(a.Log, "removed %d temporary file(s) a crashed run left in %s\n", removed, spool.Dir)
	}
	body, report, err := a.Snapshot()
	if err != nil {
		report.fail(ExitListing, err.Error())
		a.drain(spool, &report) // what waits still goes
		return report
	}
	// What the full spool lost so far, for the api's fleet health (`spool_evicted` in /v1/hosts):
	// evictions this Put makes travel with the next snapshot.
	body["spool_evicted"] = spool.Evicted()
	data, _ := json.Marshal(body)
	// Named after its collected_at, not the time now (the executables took a while to hash).
	collected, _ := time.Parse(time.RFC3339Nano, body["collected_at"].(string))
	path, err := spool.Put(collected, report.SnapshotID, data)
	if err != nil { // no spool (read-only disk...): send it directly, lose nothing new
		fmt.Fprintf(a.Log, "cannot write the spool %s: %v; sending directly\n", spool.Dir, err)
		a.sendDirectly(spool, collected, data, err, &report)
	}
	a.drain(spool, &report)
	// Only what could not be sent counts against the bound: draining first sends what an
	// eviction before it would have deleted.
	if path != "" && report.Spooled > 0 {
		evicted, err := spool.Evict(path)
		report.Evicted = evicted
		report.Spooled = max(0, report.Spooled-evicted)
		if evicted > 0 {
			fmt.Fprintf(a.Log, "spool over %d bytes: evicted the %d oldest snapshot(s)\n",
				spool.MaxBytes, evicted)
		}
		if err != nil {
			fmt.Fprintf(a.Log, "cannot count the evictions in %s: %v\n", spool.Dir, err)
		}
		report.EvictedTotal = spool.Evicted()
	}
	return report
}

// sendDirectly posts the run's snapshot the spool could not hold: unless an api accepts it, or
// refuses it and it can be kept in rejected/, it is lost (exit 6).
func (a *Agent) sendDirectly(spool Spool, collected time.Time, data []byte, spoolErr error, report *Report) {
	outcome, reason := a.Sender.Post(data)
	switch outcome {
	case Sent:
		report.Sent = append(report.Sent, report.SnapshotID)
		return
	case Rejected:
		name, err := spool.RejectBody(collected, report.SnapshotID, data, reason)
		if err == nil {
			report.Rejected = append(report.Rejected, name)
			report.fail(ExitRejected, reason)
			fmt.Fprintf(a.Log, "rejected by the api, kept in %s: %s\n", spool.Rejected(), reason)
			return
		}
		reason = fmt.Sprintf("%s; cannot keep it in %s: %v", reason, spool.Rejected(), err)
	}
	report.fail(ExitLost, fmt.Sprintf("snapshot %s lost: the spool cannot hold it (%v) and no api accepted it (%s)",
		report.SnapshotID, spoolErr, reason))
	fmt.Fprintln(a.Log, report.Error)
}

func exitFor(outcome Outcome) int {
	switch outcome {
	case Down:
		return ExitDown
	case Misconfigured:
		return ExitMisconfigured
	case Rejected:
		return ExitRejected
	case Stopped: // still in the spool
		return ExitDown
	}
	return ExitSent
}

// resend posts one snapshot of the grace window again (another api took over); false when no
// api is reachable. One refused for good now needs nothing more.
func (a *Agent) resend(data []byte) bool {
	outcome, _ := a.Sender.Post(data)
	return outcome == Sent || outcome == Rejected
}

func (a *Agent) drain(spool Spool, report *Report) {
	pending := spool.Pending()
	for i, path := range pending {
		data, err := os.ReadFile(path)
		var probe map[string]any
		if err == nil {
			err = json.Unmarshal(data, &probe)
		}
		if err != nil {
			reason := fmt.Sprintf("unreadable spool file %s: %v", filepath.Base(path), err)
			if err := spool.Reject(path, reason); err != nil {
				reason += fmt.Sprintf(" (cannot move it to rejected/: %v)", err)
			}
			report.Rejected = append(report.Rejected, filepath.Base(path))
			report.fail(ExitRejected, reason)
			continue
		}
		outcome, reason := a.Sender.Post(data)
		switch outcome {
		case Sent:
			id, _ := probe["snapshot_id"].(string)
			report.Sent = append(report.Sent, id)
			if !spool.Acknowledged(path, a.Sender.Current(), a.resend) {
				report.Spooled = len(pending) - i
				reason := "re-sending the grace window to " + a.Sender.Current() + ": no api reachable"
				report.fail(ExitDown, reason)
				fmt.Fprintf(a.Log, "%s; %d snapshot(s) spooled in %s\n", reason, report.Spooled, spool.Dir)
				report.EvictedTotal = spool.Evicted()
				return
			}
		case Rejected:
			if err := spool.Reject(path, reason); err != nil { // still pending: refused again next run
				reason += fmt.Sprintf(" (cannot move it to rejected/: %v)", err)
			}
			report.Rejected = append(report.Rejected, filepath.Base(path))
			report.fail(ExitRejected, reason)
			fmt.Fprintf(a.Log, "rejected by the api, kept in %s: %s\n", spool.Rejected(), reason)
		default:
			report.Spooled = len(pending) - i
			report.fail(exitFor(outcome), reason)
			what := "api unreachable"
			switch outcome {
			case Misconfigured:
				what = "configuration to fix"
			case Stopped:
				what = "stopped"
			}
			fmt.Fprintf(a.Log, "%s (%s); %d snapshot(s) spooled in %s\n", what, reason, report.Spooled, spool.Dir)
			report.EvictedTotal = spool.Evicted()
			return
		}
	}
	report.EvictedTotal = spool.Evicted()
}
