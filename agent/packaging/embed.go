// Package packaging holds the service definitions `dream-agent install` writes: a systemd
// service and timer (Linux), a LaunchDaemon (macOS), a Task Scheduler task (Windows).
package packaging

import "embed"

// Files are text/template sources: .Binary, .Config, .Interval, .IntervalSeconds.
//
//go:embed dream-agent.service dream-agent.timer edu.dream.agent.plist dream-agent-task.xml
var Files embed.FS
