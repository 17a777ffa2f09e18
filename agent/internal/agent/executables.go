package agent

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// Executable is one file a listed process runs, as sent in a snapshot's `executables`.
// Signer: the macOS code signature's first authority, the Windows Authenticode signer's CN,
// the Linux package owning the file ("dpkg:coreutils", "rpm:bash"); "" when there is none.
type Executable struct {
	Path      string `json:"path"`
	SizeBytes int64  `json:"size_bytes"`
	SHA256    string `json:"sha256"`
	Signer    string `json:"signer,omitempty"`
}

// cached is what is known of a file as of its size and mtime: hashed and signed once.
type cached struct {
	Size    int64  `json:"size"`
	MTimeNs int64  `json:"mtime_ns"`
	SHA256  string `json:"sha256"`
	Signer  string `json:"signer"`
}

// ExecutableFacts collects the facts, caching them by path + mtime + size in the spool dir,
// so an unchanged file is read and its signature checked once, not every five minutes.
type ExecutableFacts struct {
	cachePath string
	stat      func(string) (os.FileInfo, error)
}

// NewExecutableFacts keeps its cache beside the spool (same private directory).
func NewExecutableFacts(spoolDir string) *ExecutableFacts {
	return &ExecutableFacts{cachePath: filepath.Join(spoolDir, "executables.cache"), stat: os.Stat}
}

// maxExecutables bounds a snapshot's list (a machine runs a few hundred distinct files).
const maxExecutables = 2000

// Collect lists the distinct executables of the running processes, with their facts.
func (f *ExecutableFacts) Collect(goos string, run Runner) []Executable {
	paths := ExecutablePaths(goos, run)
	cache := map[string]cached{}
	if data, err := os.ReadFile(f.cachePath); err == nil {
		_ = json.Unmarshal(data, &cache)
	}
	fresh := map[string]cached{}
	var unsigned []string
	for _, path := range paths {
		info, err := f.stat(path)
		if err != nil || !info.Mode().IsRegular() {
			continue // gone since the listing, or a kernel thread's empty path
		}
		entry, ok := cache[path]
		if !ok || entry.Size != info.Size() || entry.MTimeNs != info.ModTime().UnixNano() {
			digest, err := hashFile(path)
			if err != nil {
				continue
			}
			entry = cached{Size: info.Size(), MTimeNs: info.ModTime().UnixNano(), SHA256: digest, Signer: "?"}
		}
		if entry.Signer == "?" {
			unsigned = append(unsigned, path)
		}
		fresh[path] = entry
		if len(fresh) >= maxExecutables {
			break
		}
	}
	if len(unsigned) > 0 {
		signers := Signers(goos, run, unsigned)
		for _, path := range unsigned {
			entry := fresh[path]
			entry.Signer = signers[path]
			fresh[path] = entry
		}
	}
	if data, err := json.Marshal(fresh); err == nil {
		_ = os.MkdirAll(filepath.Dir(f.cachePath), 0o700)
		_ = writePrivate(f.cachePath, data)
	}
	facts := make([]Executable, 0, len(fresh))
	for path, entry := range fresh {
		facts = append(facts, Executable{Path: path, SizeBytes: entry.Size, SHA256: entry.SHA256, Signer: entry.Signer})
	}
	sort.Slice(facts, func(i, j int) bool { return facts[i].Path < facts[j].Path })
	return facts
}

func hashFile(path string) (string, error) {
	file, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer file.Close()
	digest := sha256.New()
	if _, err := io.Copy(digest, file); err != nil {
		return "", err
	}
	return hex.EncodeToString(digest.Sum(nil)), nil
}

// ExecutablePaths: the files the processes really run, not argv[0] — Linux /proc/PID/exe,
// macOS `ps -axo comm=` (the kernel's proc_pidpath), Windows Win32_Process.ExecutablePath.
func ExecutablePaths(goos string, run Runner) []string {
	var paths []string
	switch goos {
	case "linux":
		matches, _ := filepath.Glob("/proc/[0-9]*/exe")
		for _, link := range matches {
			if target, err := os.Readlink(link); err == nil {
				paths = append(paths, strings.TrimSuffix(target, " (deleted)"))
			}
		}
	case "darwin":
		if out, err := run("ps", "-axo", "comm="); err == nil {
			paths = ParsePathLines(string(out))
		}
	case "windows":
		script := "Get-CimInstance Win32_Process | ForEach-Object { $_.ExecutablePath }"
		if out, err := run("powershell", "-NoProfile", "-NonInteractive", "-Command", script); err == nil {
			paths = ParsePathLines(decodeConsole(out))
		}
	}
	return unique(paths)
}

// ParsePathLines keeps the absolute paths of a one-path-per-line output.
func ParsePathLines(output string) []string {
	var paths []string
	for _, line := range strings.Split(strings.ReplaceAll(output, "\r\n", "\n"), "\n") {
		line = strings.TrimSpace(line)
		if strings.HasPrefix(line, "/") || (len(line) > 2 && line[1] == ':' && (line[2] == '\\' || line[2] == '/')) {
			paths = append(paths, line)
		}
	}
	return paths
}

func unique(items []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, item := range items {
		if item != "" && !seen[item] {
			seen[item] = true
			out = append(out, item)
		}
	}
	sort.Strings(out)
	return out
}
