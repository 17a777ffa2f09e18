//go:build !windows

package agent

import "strings"

// decodeConsole: Unix tools print UTF-8 (bytes that are not become U+FFFD, JSON needs UTF-8).
func decodeConsole(data []byte) string {
	return strings.ToValidUTF8(string(data), "\uFFFD")
}
