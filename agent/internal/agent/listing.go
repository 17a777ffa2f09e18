package agent

import (
	"fmt"
	"os"
	"regexp"
	"strings"
)

// The listing commands are `dream collect`'s (src/dream/collector.py), so the api parses an
// agent's snapshot exactly as a collector's: on Linux the `-o` keyword list travels in
// `command` and the api reads the columns by it.
var listingCommands = map[string][]string{
	"linux":   {"ps", "-ww", "-eo", "pid,ppid,user:64,%cpu,%mem,vsz,rss,tty,stat,lstart,time,nlwp,comm,args"},
	"darwin":  {"ps", "auxww"},
	"windows": {"tasklist", "/v", "/fo", "csv"},
}

// OSName is the api's name for a Go GOOS.
func OSName(goos string) string {
	if goos == "darwin" {
		return "macos"
	}
	return goos
}

// ListingCommand is the argv of the OS's listing command.
func ListingCommand(goos string) ([]string, error) {
	argv, ok := listingCommands[goos]
	if !ok {
		return nil, fmt.Errorf("unsupported OS %q: Linux, macOS or Windows only", goos)
	}
	return argv, nil
}

// TakeListing runs the listing command: the command line as sent, and its output as text.
func TakeListing(goos string, run Runner) (string, string, error) {
	argv, err := ListingCommand(goos)
	if err != nil {
		return "", "", err
	}
	out, err := run(argv[0], argv[1:]...)
	if err != nil {
		return "", "", err
	}
	text := decodeConsole(out)
	if strings.TrimSpace(text) == "" {
		return "", "", fmt.Errorf("%s printed nothing", strings.Join(argv, " "))
	}
	return strings.Join(argv, " "), text, nil
}

var windowsVer = regexp.MustCompile(`(\d+\.\d+\.\d+(?:\.\d+)?)`)

// OSVersion is the release as a person reads it: Debian's PRETTY_NAME, "macOS 14.5",
// Windows' "10.0.22631.4037"; "" when unknown (the field is optional).
func OSVersion(goos string, run Runner) string {
	switch goos {
	case "linux":
		data, err := os.ReadFile("/etc/os-release")
		if err == nil {
			for _, line := range strings.Split(string(data), "\n") {
				if value, ok := strings.CutPrefix(line, "PRETTY_NAME="); ok {
					return clip(strings.Trim(strings.TrimSpace(value), `"`), 200)
				}
			}
		}
	case "darwin":
		if out, err := run("sw_vers", "-productVersion"); err == nil {
			return "macOS " + strings.TrimSpace(string(out))
		}
	case "windows":
		if out, err := run("cmd", "/c", "ver"); err == nil {
			if m := windowsVer.FindString(string(out)); m != "" {
				return m
			}
		}
	}
	return ""
}

func clip(text string, n int) string {
	if len(text) > n {
		return text[:n]
	}
	return text
}
