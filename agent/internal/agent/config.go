// Package agent is Dream's collector agent: it lists the machine's processes with the command
// native to its OS, names the interactive user, spools the snapshot privately and sends it to
// the first Dream api that answers. Standard library only, so the binary builds offline.
package agent

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"
)

// Version is set at build time (-ldflags "-X dream/agent/internal/agent.Version=...").
var Version = "dev"

// UserAgent names the agent and its version to the api (its logs and fleet views).
func UserAgent() string {
	return fmt.Sprintf("dream-agent/%s (%s/%s)", Version, runtime.GOOS, runtime.GOARCH)
}

// Config is what one run needs: where to send, with which key, for which faculty.
type Config struct {
	URLs          []string
	Key           string
	Faculty       string
	Host          string
	Interval      time.Duration
	SpoolDir      string
	SpoolMaxBytes int64
	Grace         time.Duration // acknowledged snapshots kept, re-sent after a failover
	Retries       int
	Backoff       time.Duration
	Timeout       time.Duration
	Executables   bool
}

// DefaultConfigPath is where the installers write the configuration (URL, key, faculty).
func DefaultConfigPath() string {
	if runtime.GOOS == "windows" {
		return filepath.Join(programData(), "dream", "agent.conf")
	}
	return "/etc/dream/agent.conf"
}

// DefaultSpoolDir is the agent's private spool (it runs as root/SYSTEM).
func DefaultSpoolDir() string {
	switch runtime.GOOS {
	case "windows":
		return filepath.Join(programData(), "dream", "spool")
	case "darwin":
		return "/Library/Application Support/dream/spool"
	}
	return "/var/spool/dream-agent"
}

func programData() string {
	if dir := os.Getenv("ProgramData"); dir != "" {
		return dir
	}
	return `C:\ProgramData`
}

// Defaults are the settings nobody gave.
func Defaults() Config {
	return Config{
		Interval:      5 * time.Minute,
		SpoolDir:      DefaultSpoolDir(),
		SpoolMaxBytes: 64 << 20,
		Grace:         30 * time.Minute,
		Retries:       3,
		Backoff:       time.Second,
		Timeout:       30 * time.Second,
		Executables:   true,
	}
}

// ReadConfigFile reads `name = value` lines (# comments); `url` may repeat. A missing file is
// no error: flags and the environment may say everything.
func ReadConfigFile(path string) (map[string][]string, error) {
	values := map[string][]string{}
	file, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return values, nil
	}
	if err != nil {
		return nil, err
	}
	defer file.Close()
	scanner := bufio.NewScanner(file)
	for number := 1; scanner.Scan(); number++ {
		line := strings.TrimSpace(scanner.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		name, value, ok := strings.Cut(line, "=")
		if !ok {
			return nil, fmt.Errorf("%s:%d: expected `name = value`, got %q", path, number, line)
		}
		name = strings.ToLower(strings.TrimSpace(name))
		values[name] = append(values[name], strings.TrimSpace(value))
	}
	return values, scanner.Err()
}

// Settings of the file and the environment, by name; flags override both (see Apply).
var settingNames = []string{
	"url", "key", "faculty", "host", "interval", "spool_dir", "spool_max_bytes", "retries",
	"backoff", "timeout", "executables", "grace",
}

// Layer merges the file's values with DREAM_* variables (the environment wins).
func Layer(file map[string][]string, getenv func(string) string) map[string][]string {
	merged := map[string][]string{}
	for _, name := range settingNames {
		if values, ok := file[name]; ok {
			merged[name] = values
		}
		env := getenv(envName(name))
		if env != "" {
			if name == "url" {
				merged[name] = splitList(env)
			} else {
				merged[name] = []string{env}
			}
		}
	}
	for name := range file {
		if _, known := merged[name]; !known && !contains(settingNames, name) {
			merged["!unknown"] = append(merged["!unknown"], name)
		}
	}
	return merged
}

func envName(setting string) string {
	if setting == "key" {
		return "DREAM_API_KEY" // the same variable as `dream collect`
	}
	return "DREAM_" + strings.ToUpper(setting)
}

func splitList(text string) []string {
	var out []string
	for _, part := range strings.FieldsFunc(text, func(r rune) bool { return r == ',' || r == ' ' }) {
		out = append(out, part)
	}
	return out
}

func contains(list []string, item string) bool {
	for _, x := range list {
		if x == item {
			return true
		}
	}
	return false
}

// Apply sets the config's fields from named values (file + environment, or flags).
func (c *Config) Apply(values map[string][]string) error {
	if unknown := values["!unknown"]; len(unknown) > 0 {
		return fmt.Errorf("unknown setting(s) %s", strings.Join(unknown, ", "))
	}
	for name, list := range values {
		if len(list) == 0 || name == "!unknown" {
			continue
		}
		last := list[len(list)-1]
		var err error
		switch name {
		case "url":
			c.URLs = nil
			for _, item := range list {
				c.URLs = append(c.URLs, splitList(item)...)
			}
		case "key":
			c.Key = last
		case "faculty":
			c.Faculty = last
		case "host":
			c.Host = last
		case "spool_dir":
			c.SpoolDir = last
		case "interval":
			c.Interval, err = ParseInterval(last)
		case "backoff":
			c.Backoff, err = ParseInterval(last)
		case "timeout":
			c.Timeout, err = ParseInterval(last)
		case "grace":
			if c.Grace = 0; strings.TrimSpace(last) != "0" {
				c.Grace, err = ParseInterval(last)
			}
		case "retries":
			c.Retries, err = strconv.Atoi(last)
			if err == nil && c.Retries < 0 {
				err = errors.New("must be 0 or more")
			}
		case "spool_max_bytes":
			c.SpoolMaxBytes, err = strconv.ParseInt(last, 10, 64)
			if err == nil && c.SpoolMaxBytes < 1024 {
				err = errors.New("must be at least 1024")
			}
		case "executables":
			c.Executables, err = strconv.ParseBool(last)
		}
		if err != nil {
			return fmt.Errorf("%s = %q: %v", name, last, err)
		}
	}
	return nil
}

// Check says what is missing before anything runs (a configuration error, exit 2).
func (c *Config) Check() error {
	var missing []string
	if len(c.URLs) == 0 {
		missing = append(missing, "url (--api, DREAM_URL or `url =` in the config file)")
	}
	if c.Faculty == "" {
		missing = append(missing, "faculty (--faculty, DREAM_FACULTY or `faculty =`)")
	}
	if len(missing) > 0 {
		return fmt.Errorf("missing %s", strings.Join(missing, "; "))
	}
	for _, u := range c.URLs {
		if !strings.HasPrefix(u, "http://") && !strings.HasPrefix(u, "https://") {
			return fmt.Errorf("url %q: must start with http:// or https://", u)
		}
	}
	if c.Interval < time.Second || c.Interval > 24*time.Hour {
		return fmt.Errorf("interval %s: must be between 1s and 24h", c.Interval)
	}
	return nil
}

// ParseInterval reads 90, 30s, 5m, 1h or 1h30m (a bare number is seconds).
func ParseInterval(text string) (time.Duration, error) {
	text = strings.TrimSpace(strings.ToLower(text))
	if seconds, err := strconv.ParseFloat(text, 64); err == nil {
		if seconds <= 0 {
			return 0, errors.New("must be positive")
		}
		return time.Duration(seconds * float64(time.Second)), nil
	}
	d, err := time.ParseDuration(text)
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("%q is not an interval such as 90, 30s, 5m or 1h30m", text)
	}
	return d, nil
}
