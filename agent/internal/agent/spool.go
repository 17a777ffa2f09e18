package agent

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Spool: one JSON file per snapshot waiting to be sent, named like `dream collect`'s
// (UTC collection time, then the id) so sorting names sorts by time, and the two share a
// format. Listings name users and their files: the directory is 0700, files 0600.
//
// An acknowledged snapshot waits in sent/ for Grace (default 30 min, longer than a site's
// mirror ever lags); when another api starts acknowledging (a failover to the standby site),
// that window is posted to it again first, since the old site may have died before mirroring
// it. The api stores a snapshot_id once: a resend that did arrive stores nothing new.
type Spool struct {
	Dir      string
	MaxBytes int64
	Grace    time.Duration
}

var spoolName = regexp.MustCompile(`^\d{8}T\d{6}\.\d{6}Z-[0-9a-f-]{36}\.json$`)

const (
	evictedFile = "evicted.count"
	sentDir     = "sent"
	rejectedDir = "rejected" // refused for good, each with its .reason.txt
	apiFile     = "api.txt"  // in sent/: the api that acknowledged the window
)

// Rejected is the directory of the snapshots the api refused for good.
func (s Spool) Rejected() string { return filepath.Join(s.Dir, rejectedDir) }

func (s Spool) ensure(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	if runtime.GOOS != "windows" {
		return os.Chmod(dir, 0o700) // an existing directory too, whatever the umask
	}
	return nil
}

// fileName is a snapshot's name in the spool: its UTC collection time, then its id.
func fileName(at time.Time, id string) string {
	return fmt.Sprintf("%s.%06dZ-%s.json", at.UTC().Format("20060102T150405"),
		at.UTC().Nanosecond()/1000, id)
}

// Put writes a snapshot atomically (temp file, fsync, rename) and returns its file. It evicts
// nothing: a run drains the spool first, then Evict bounds what is still waiting.
func (s Spool) Put(at time.Time, id string, body []byte) (string, error) {
	if err := s.ensure(s.Dir); err != nil {
		return "", err
	}
	final := filepath.Join(s.Dir, fileName(at, id))
	if err := writePrivate(final, body); err != nil {
		return "", err
	}
	return final, nil
}

func writePrivate(path string, data []byte) error {
	tmp := filepath.Join(filepath.Dir(path), "."+filepath.Base(path)+"."+strconv.Itoa(os.Getpid())+".tmp")
	file, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	if runtime.GOOS != "windows" {
		_ = file.Chmod(0o600)
	}
	_, err = file.Write(data)
	if err == nil {
		err = file.Sync()
	}
	if closeErr := file.Close(); err == nil {
		err = closeErr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		_ = os.Remove(tmp)
		return err
	}
	if dir, err := os.Open(filepath.Dir(path)); err == nil {
		_ = dir.Sync()
		dir.Close()
	}
	return nil
}

// tempName is writePrivate's temporary file: "." + the final name + "." + the writer's pid + ".tmp".
var tempName = regexp.MustCompile(`^\..+\.(\d+)\.tmp$`)

// staleTempAge: a temporary file this old is left over whatever its pid says (a pid reused
// since, or one that cannot be checked): writing one takes milliseconds.
const staleTempAge = 10 * time.Minute

// RemoveStaleTemps deletes the temporary files a writer killed between write and rename left
// in the spool, sent/ and rejected/ (never renamed, never counted, they would stay for good):
// those whose process is gone, or older than staleTempAge. It returns how many.
func (s Spool) RemoveStaleTemps(now time.Time) int {
	removed := 0
	for _, dir := range []string{s.Dir, filepath.Join(s.Dir, sentDir), s.Rejected()} {
		entries, err := os.ReadDir(dir)
		if err != nil {
			continue
		}
		for _, e := range entries {
			match := tempName.FindStringSubmatch(e.Name())
			if match == nil || !e.Type().IsRegular() {
				continue
			}
			info, err := e.Info()
			if err != nil {
				continue
			}
			stale := now.Sub(info.ModTime()) > staleTempAge
			if pid, err := strconv.Atoi(match[1]); err == nil && pid != os.Getpid() && !stale {
				alive, known := processAlive(pid)
				stale = known && !alive
			}
			if stale && os.Remove(filepath.Join(dir, e.Name())) == nil {
				removed++
			}
		}
	}
	return removed
}

// Pending lists the spooled snapshots, oldest first.
func (s Spool) Pending() []string {
	entries, err := os.ReadDir(s.Dir)
	if err != nil {
		return nil
	}
	var names []string
	for _, e := range entries {
		if e.Type().IsRegular() && spoolName.MatchString(e.Name()) {
			names = append(names, e.Name())
		}
	}
	sort.Strings(names)
	paths := make([]string, len(names))
	for i, n := range names {
		paths[i] = filepath.Join(s.Dir, n)
	}
	return paths
}

// Evict removes the oldest snapshots still waiting (never keep) until the spool fits
// MaxBytes, and adds their number to the spool's running count of evictions.
func (s Spool) Evict(keep string) (int, error) {
	if s.MaxBytes <= 0 {
		return 0, nil
	}
	pending := s.Pending()
	sizes := make([]int64, len(pending))
	var total int64
	for i, p := range pending {
		if info, err := os.Stat(p); err == nil {
			sizes[i] = info.Size()
			total += sizes[i]
		}
	}
	evicted := 0
	for i, p := range pending {
		if total <= s.MaxBytes {
			break
		}
		if p == keep {
			continue
		}
		if err := os.Remove(p); err == nil {
			total -= sizes[i]
			evicted++
		}
	}
	if evicted > 0 {
		return evicted, writePrivate(filepath.Join(s.Dir, evictedFile),
			[]byte(strconv.FormatInt(s.Evicted()+int64(evicted), 10)+"\n"))
	}
	return 0, nil
}

// Evicted is how many snapshots this spool ever evicted for lack of room.
func (s Spool) Evicted() int64 {
	data, err := os.ReadFile(filepath.Join(s.Dir, evictedFile))
	if err != nil {
		return 0
	}
	n, _ := strconv.ParseInt(strings.TrimSpace(string(data)), 10, 64)
	return n
}

// Reject moves a snapshot the api refused for good to rejected/, with the reason beside it.
func (s Spool) Reject(path, reason string) error {
	dir := s.Rejected()
	if err := s.ensure(dir); err != nil {
		return err
	}
	target := filepath.Join(dir, filepath.Base(path))
	if err := os.Rename(path, target); err != nil {
		return err
	}
	return writePrivate(strings.TrimSuffix(target, ".json")+".reason.txt", []byte(reason+"\n"))
}

// RejectBody keeps a snapshot the api refused for good, which was never spooled, in
// rejected/ with the reason beside it; it returns its file's name.
func (s Spool) RejectBody(at time.Time, id string, body []byte, reason string) (string, error) {
	dir := s.Rejected()
	if err := s.ensure(dir); err != nil {
		return "", err
	}
	name := fileName(at, id)
	target := filepath.Join(dir, name)
	if err := writePrivate(target, body); err != nil {
		return "", err
	}
	return name, writePrivate(strings.TrimSuffix(target, ".json")+".reason.txt", []byte(reason+"\n"))
}

// Acknowledged keeps a snapshot that api acknowledged in sent/ for the grace window. When the
// window was acknowledged by another api (a failover), resend posts each of its snapshots to
// this one first; false, and nothing moved, when one could not go.
func (s Spool) Acknowledged(path, api string, resend func([]byte) bool) bool {
	previous := s.AcknowledgingAPI()
	if previous != "" && previous != api {
		for _, kept := range s.Window() {
			if data, err := os.ReadFile(kept); err == nil && !resend(data) {
				return false
			}
		}
	}
	dir := filepath.Join(s.Dir, sentDir)
	if s.Grace <= 0 || s.ensure(dir) != nil {
		_ = os.Remove(path)
	} else {
		target := filepath.Join(dir, filepath.Base(path))
		if os.Rename(path, target) == nil {
			now := time.Now()
			_ = os.Chtimes(target, now, now) // the window runs from the acknowledgement
		}
	}
	if previous != api && s.ensure(dir) == nil {
		_ = writePrivate(filepath.Join(dir, apiFile), []byte(api+"\n"))
	}
	s.Window() // forget what left the window
	return true
}

// AcknowledgingAPI is the api that acknowledged the snapshots in the window ("" if none yet).
func (s Spool) AcknowledgingAPI() string {
	data, err := os.ReadFile(filepath.Join(s.Dir, sentDir, apiFile))
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(data))
}

// Window lists the acknowledged snapshots still within the grace window, oldest first, and
// deletes the older ones.
func (s Spool) Window() []string {
	dir := filepath.Join(s.Dir, sentDir)
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil
	}
	horizon := time.Now().Add(-s.Grace)
	var kept []string
	for _, e := range entries {
		if !e.Type().IsRegular() || !spoolName.MatchString(e.Name()) {
			continue
		}
		path := filepath.Join(dir, e.Name())
		if info, err := e.Info(); err != nil {
			continue
		} else if info.ModTime().Before(horizon) {
			_ = os.Remove(path)
			continue
		}
		kept = append(kept, path)
	}
	sort.Strings(kept)
	return kept
}
