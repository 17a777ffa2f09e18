// dream-agent: Dream's collector as one static file per OS. See docs/agent.md.
//
//	dream-agent [run] [--api URL]... [--key KEY] [--faculty F] [--loop]   one snapshot (or every --interval)
//	dream-agent install --api URL --key KEY --faculty F [--interval 5m]   config + service, then start it
//	dream-agent version
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime"
	"strings"
	"syscall"
	"time"

	"dream/agent/internal/agent"
)

// urls is a repeatable --api flag.
type urls []string

func (u *urls) String() string     { return strings.Join(*u, ",") }
func (u *urls) Set(v string) error { *u = append(*u, v); return nil }

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	command := "run"
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		command, args = args[0], args[1:]
	}
	switch command {
	case "version":
		fmt.Fprintln(stdout, agent.UserAgent())
		return 0
	case "run", "install":
	default:
		fmt.Fprintf(stderr, "error: unknown command %q (run, install, version)\n", command)
		return agent.ExitUsage
	}
	flags := flag.NewFlagSet("dream-agent "+command, flag.ContinueOnError)
	flags.SetOutput(stderr)
	var apis urls
	flags.Var(&apis, "api", "Dream api base URL (repeat for fallbacks: the next is tried when one is down)")
	configPath := flags.String("config", envOr("DREAM_AGENT_CONFIG", agent.DefaultConfigPath()), "configuration file (name = value lines)")
	key := flags.String("key", "", "API key with the ingest role (better: DREAM_API_KEY or the config file)")
	faculty := flags.String("faculty", "", "faculty the machine belongs to")
	host := flags.String("host", "", "host name (default: the machine's)")
	interval := flags.String("interval", "", "time between snapshots, sent with each: 30s, 5m, 1h (default 5m)")
	spoolDir := flags.String("spool-dir", "", "private directory where snapshots wait (default "+agent.DefaultSpoolDir()+")")
	spoolMax := flags.String("spool-max-bytes", "", "spool size bound; the oldest snapshots are evicted beyond it (default 64 MiB)")
	retries := flags.String("retries", "", "retry rounds per snapshot before it waits for the next run (default 3)")
	backoff := flags.String("backoff", "", "first wait between retry rounds, doubled each round (default 1s)")
	timeout := flags.String("timeout", "", "seconds to wait for an api (default 30s)")
	executables := flags.String("executables", "", "send the executables' facts: true or false (default true)")
	grace := flags.String("grace", "", "keep acknowledged snapshots this long, re-sent when another --api takes over (default 30m; 0: none)")
	loop := flags.Bool("loop", false, "run: keep collecting every --interval until stopped")
	noStart := flags.Bool("no-start", false, "install: write the files, do not enable or start the service")
	root := flags.String("root", "/", "install: write under this directory (packaging)")
	showVersion := flags.Bool("version", false, "print the version and exit")
	if err := flags.Parse(args); err != nil {
		return agent.ExitUsage
	}
	if *showVersion {
		fmt.Fprintln(stdout, agent.UserAgent())
		return 0
	}
	if flags.NArg() > 0 {
		fmt.Fprintf(stderr, "error: unexpected argument %q\n", flags.Arg(0))
		return agent.ExitUsage
	}
	cfg := agent.Defaults()
	file, err := agent.ReadConfigFile(*configPath)
	if err == nil {
		err = cfg.Apply(agent.Layer(file, os.Getenv))
	}
	given := map[string][]string{}
	if len(apis) > 0 {
		given["url"] = apis
	}
	for name, value := range map[string]*string{"key": key, "faculty": faculty, "host": host,
		"interval": interval, "spool_dir": spoolDir, "spool_max_bytes": spoolMax, "retries": retries,
		"backoff": backoff, "timeout": timeout, "executables": executables, "grace": grace} {
		if *value != "" {
			given[name] = []string{*value}
		}
	}
	if err == nil {
		err = cfg.Apply(given)
	}
	if err == nil {
		err = cfg.Check()
	}
	if err != nil {
		fmt.Fprintf(stderr, "error: %v\n", err)
		return agent.ExitUsage
	}
	if command == "install" {
		if err := agent.Install(cfg, runtime.GOOS, *root, !*noStart, agent.RunCommand, stdout); err != nil {
			fmt.Fprintf(stderr, "error: %v\n", err)
			return agent.ExitUsage
		}
		return 0
	}
	a := &agent.Agent{Config: cfg, GOOS: runtime.GOOS, Run: agent.RunCommand,
		Sender: agent.NewSender(cfg), Now: time.Now, Log: stderr}
	if cfg.Executables {
		a.Executables = agent.NewExecutableFacts(cfg.SpoolDir).Collect
	}
	if !*loop {
		report := a.RunOnce()
		line, _ := json.Marshal(report)
		fmt.Fprintln(stdout, string(line))
		return report.Exit
	}
	// SIGTERM/SIGINT end the run under way at once, waits between retries and requests
	// included (a service manager kills what outlasts its stop timeout): what was not sent
	// stays in the spool. A second signal kills as usual.
	stopped, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	context.AfterFunc(stopped, stop)
	a.Sender.Context = stopped
	for {
		started := time.Now()
		report := a.RunOnce()
		line, _ := json.Marshal(report)
		fmt.Fprintln(stderr, string(line))
		select {
		case <-stopped.Done():
			return 0
		case <-time.After(max(time.Second, cfg.Interval-time.Since(started))):
		}
	}
}

func envOr(name, fallback string) string {
	if value := os.Getenv(name); value != "" {
		return value
	}
	return fallback
}
