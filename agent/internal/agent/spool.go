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
type Spool struct {
	Dir      string
	MaxBytes int64
}

var spoolName = regexp.MustCompile(`^\d{8}T\d{6}\.\d{6}Z-[0-9a-f-]{36}\.json$`)

const evictedFile = "evicted.count"

func (s Spool) ensure(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	if runtime.GOOS != "windows" {
		return os.Chmod(dir, 0o700) // an existing directory too, whatever the umask
	}
	return nil
}

// Put writes a snapshot atomically (temp file, fsync, rename), then evicts the oldest files
// while the spool holds more than MaxBytes; it returns the file and how many were evicted.
func (s Spool) Put(at time.Time, id string, body []byte) (string, int, error) {
	if err := s.ensure(s.Dir); err != nil {
		return "", 0, err
	}
	name := fmt.Sprintf("%s.%06dZ-%s.json", at.UTC().Format("20060102T150405"),
		at.UTC().Nanosecond()/1000, id)
	final := filepath.Join(s.Dir, name)
	if err := writePrivate(final, body); err != nil {
		return "", 0, err
	}
	evicted, err := s.evict(final)
	return final, evicted, err
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

// evict removes the oldest snapshots (never keep) until the spool fits MaxBytes, and adds
// their number to the spool's running count of evictions.
func (s Spool) evict(keep string) (int, error) {
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
	dir := filepath.Join(s.Dir, "rejected")
	if err := s.ensure(dir); err != nil {
		return err
	}
	target := filepath.Join(dir, filepath.Base(path))
	if err := os.Rename(path, target); err != nil {
		return err
	}
	return writePrivate(strings.TrimSuffix(target, ".json")+".reason.txt", []byte(reason+"\n"))
}
