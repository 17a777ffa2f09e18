package agent

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"text/template"
	"unicode/utf16"

	"dream/agent/packaging"
)

// installed is where one OS keeps the agent's files.
type installed struct {
	Binary   string
	Services map[string]string // packaging file → where it goes
	Start    [][]string
}

func layout(goos string) (installed, error) {
	switch goos {
	case "linux":
		return installed{
			Binary: "/usr/local/bin/dream-agent",
			Services: map[string]string{
				"dream-agent.service": "/etc/systemd/system/dream-agent.service",
				"dream-agent.timer":   "/etc/systemd/system/dream-agent.timer",
			},
			Start: [][]string{{"systemctl", "daemon-reload"},
				{"systemctl", "enable", "--now", "dream-agent.timer"}},
		}, nil
	case "darwin":
		plist := "/Library/LaunchDaemons/edu.dream.agent.plist"
		return installed{
			Binary:   "/usr/local/bin/dream-agent",
			Services: map[string]string{"edu.dream.agent.plist": plist},
			Start: [][]string{{"launchctl", "bootout", "system/edu.dream.agent"},
				{"launchctl", "bootstrap", "system", plist}},
		}, nil
	case "windows":
		programFiles := os.Getenv("ProgramFiles")
		if programFiles == "" {
			programFiles = `C:\Program Files`
		}
		task := filepath.Join(programData(), "dream", "dream-agent-task.xml")
		return installed{
			Binary:   filepath.Join(programFiles, "Dream", "dream-agent.exe"),
			Services: map[string]string{"dream-agent-task.xml": task},
			Start:    [][]string{{"schtasks", "/Create", "/TN", "Dream agent", "/XML", task, "/F"}},
		}, nil
	}
	return installed{}, fmt.Errorf("no installer for %q", goos)
}

// ConfigText is the configuration file the installers write (the key is why it is 0600).
func ConfigText(cfg Config) string {
	var b strings.Builder
	b.WriteString("# Dream agent settings, written by `dream-agent install`; see docs/agent.md.\n")
	for _, u := range cfg.URLs {
		fmt.Fprintf(&b, "url = %s\n", u)
	}
	if cfg.Key != "" {
		fmt.Fprintf(&b, "key = %s\n", cfg.Key)
	}
	fmt.Fprintf(&b, "faculty = %s\ninterval = %s\nspool_dir = %s\nspool_max_bytes = %d\n",
		cfg.Faculty, cfg.Interval, cfg.SpoolDir, cfg.SpoolMaxBytes)
	if cfg.Host != "" {
		fmt.Fprintf(&b, "host = %s\n", cfg.Host)
	}
	fmt.Fprintf(&b, "executables = %t\n", cfg.Executables)
	return b.String()
}

// Install copies this binary into place, writes the configuration (0600) and the OS's service
// definition under root ("/" for the machine itself), and with start enables and starts it.
func Install(cfg Config, goos, root string, start bool, run Runner, out io.Writer) error {
	where, err := layout(goos)
	if err != nil {
		return err
	}
	under := func(path string) string {
		if root == "" || root == "/" {
			return path
		}
		return filepath.Join(root, strings.TrimPrefix(path, filepath.VolumeName(path)))
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	if err := copyFile(self, under(where.Binary), 0o755); err != nil {
		return fmt.Errorf("copying the agent to %s: %w", under(where.Binary), err)
	}
	configPath := DefaultConfigPath()
	if err := os.MkdirAll(filepath.Dir(under(configPath)), 0o755); err != nil {
		return err
	}
	if err := writePrivate(under(configPath), []byte(ConfigText(cfg))); err != nil {
		return err
	}
	seconds := int(cfg.Interval.Seconds())
	for name, target := range where.Services {
		text, err := Render(name, where.Binary, configPath, cfg.Interval.String(), seconds)
		if err != nil {
			return err
		}
		data := []byte(text)
		if strings.HasSuffix(name, ".xml") { // Task Scheduler reads the UTF-16 it declares
			data = utf16LE(text)
		}
		if err := os.MkdirAll(filepath.Dir(under(target)), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(under(target), data, 0o644); err != nil {
			return err
		}
		fmt.Fprintf(out, "wrote %s\n", under(target))
	}
	fmt.Fprintf(out, "wrote %s (0600) and %s\n", under(configPath), under(where.Binary))
	if !start {
		return nil
	}
	for i, argv := range where.Start {
		if _, err := run(argv[0], argv[1:]...); err != nil && !(goos == "darwin" && i == 0) {
			return err // (launchctl bootout fails when it was not loaded: fine)
		}
	}
	fmt.Fprintln(out, "started")
	return nil
}

// Render fills one packaging template; values are XML-escaped in the .plist and .xml files.
func Render(name, binary, config, interval string, seconds int) (string, error) {
	source, err := packaging.Files.ReadFile(name)
	if err != nil {
		return "", err
	}
	tmpl, err := template.New(name).Option("missingkey=error").Parse(string(source))
	if err != nil {
		return "", err
	}
	escape := func(s string) string { return s }
	if strings.HasSuffix(name, ".xml") || strings.HasSuffix(name, ".plist") {
		escape = func(s string) string {
			var b bytes.Buffer
			_ = xml.EscapeText(&b, []byte(s))
			return b.String()
		}
	}
	var b strings.Builder
	err = tmpl.Execute(&b, map[string]string{"Binary": escape(binary), "Config": escape(config),
		"Interval": escape(interval), "IntervalSeconds": strconv.Itoa(seconds)})
	return b.String(), err
}

func utf16LE(text string) []byte {
	units := utf16.Encode([]rune(strings.ReplaceAll(text, "\n", "\r\n")))
	data := []byte{0xFF, 0xFE}
	for _, u := range units {
		data = append(data, byte(u), byte(u>>8))
	}
	return data
}

func copyFile(from, to string, mode os.FileMode) error {
	if same, _ := filepath.EvalSymlinks(from); same == to {
		return nil
	}
	if a, err := os.Stat(from); err == nil { // an MSI's custom action runs the installed copy
		if b, err := os.Stat(to); err == nil && os.SameFile(a, b) {
			return nil
		}
	}
	data, err := os.ReadFile(from)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(to), 0o755); err != nil {
		return err
	}
	tmp := to + ".new"
	if err := os.WriteFile(tmp, data, mode); err != nil {
		return err
	}
	return os.Rename(tmp, to) // a running copy keeps its inode; the next start runs the new one
}
