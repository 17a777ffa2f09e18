package agent

import (
	"fmt"
	"strings"
)

// Signers names who signed or owns each file (see Executable.Signer); a file without one is
// absent from the map.
func Signers(goos string, run Runner, paths []string) map[string]string {
	signers := map[string]string{}
	switch goos {
	case "linux":
		if out, err := run("dpkg-query", "--version"); err == nil && len(out) > 0 {
			queried := append([]string(nil), paths...)
			for _, p := range paths { // merged /usr: dpkg may know /bin/ls for /usr/bin/ls
				if alias := usrMergeAlias(p); alias != "" {
					queried = append(queried, alias)
				}
			}
			out, _ := run("dpkg", append([]string{"-S"}, queried...)...) // exit 1 if one is unowned
			owners := ParseDpkgS(string(out))
			for _, p := range paths {
				if pkg, ok := owners[p]; ok {
					signers[p] = "dpkg:" + pkg
				} else if pkg, ok := owners[usrMergeAlias(p)]; ok {
					signers[p] = "dpkg:" + pkg
				}
			}
		} else if _, err := run("rpm", "--version"); err == nil {
			out, _ := run("rpm", append([]string{"-qf", "--queryformat", "%{NAME}\\n"}, paths...)...)
			for p, pkg := range ParseRpmQf(string(out), paths) {
				signers[p] = "rpm:" + pkg
			}
		}
	case "darwin":
		for _, p := range paths {
			out, _ := run("sh", "-c", `codesign -dv --verbose=2 "$1" 2>&1`, "sh", p)
			if signer := ParseCodesign(string(out)); signer != "" {
				signers[p] = signer
			}
		}
	case "windows":
		quoted := make([]string, len(paths))
		for i, p := range paths {
			quoted[i] = "'" + strings.ReplaceAll(p, "'", "''") + "'"
		}
		for _, batch := range batches(quoted, windowsBatchChars) {
			script := fmt.Sprintf("foreach ($p in @(%s)) { $s = Get-AuthenticodeSignature -LiteralPath $p;"+
				" \"$p`t$($s.Status)`t$($s.SignerCertificate.Subject)\" }", strings.Join(batch, ","))
			if out, err := run("powershell", "-NoProfile", "-NonInteractive", "-Command", script); err == nil {
				for p, signer := range ParseAuthenticode(decodeConsole(out)) {
					signers[p] = signer
				}
			}
		}
	}
	return signers
}

// windowsBatchChars bounds the paths of one PowerShell command: a Windows command line holds
// 32,767 characters at most, and a first run may check hundreds of files.
const windowsBatchChars = 16000

// batches splits items into runs of at most limit characters (one item alone may be longer).
func batches(items []string, limit int) [][]string {
	var out [][]string
	size := limit
	for _, item := range items {
		if size+len(item)+1 > limit {
			out = append(out, nil)
			size = 0
		}
		out[len(out)-1] = append(out[len(out)-1], item)
		size += len(item) + 1
	}
	return out
}

// usrMergeAlias is the other name of a file under a merged /usr (/usr/bin/x ↔ /bin/x).
func usrMergeAlias(path string) string {
	for _, dir := range []string{"bin/", "sbin/", "lib/", "lib64/"} {
		if rest, ok := strings.CutPrefix(path, "/usr/"+dir); ok {
			return "/" + dir + rest
		}
		if rest, ok := strings.CutPrefix(path, "/"+dir); ok {
			return "/usr/" + dir + rest
		}
	}
	return ""
}

// ParseDpkgS reads `dpkg -S PATH...`: "pkg[:arch][, pkg2]: /path" per owned file (diversion
// lines and "no path found" errors are skipped).
func ParseDpkgS(output string) map[string]string {
	owners := map[string]string{}
	for _, line := range strings.Split(output, "\n") {
		if strings.HasPrefix(line, "diversion ") {
			continue
		}
		packages, path, ok := strings.Cut(line, ": /")
		if !ok || strings.HasPrefix(line, "dpkg-query") {
			continue
		}
		first := strings.TrimSpace(strings.Split(packages, ",")[0])
		first, _, _ = strings.Cut(first, ":") // libc-bin:amd64 → libc-bin
		owners["/"+strings.TrimSpace(path)] = first
	}
	return owners
}

// ParseRpmQf reads `rpm -qf --queryformat '%{NAME}\n' PATH...`: one line per path, in order;
// "file /x is not owned by any package" for the others.
func ParseRpmQf(output string, paths []string) map[string]string {
	owners := map[string]string{}
	lines := strings.Split(strings.TrimRight(output, "\n"), "\n")
	for i, line := range lines {
		line = strings.TrimSpace(line)
		if i < len(paths) && line != "" && !strings.Contains(line, " ") {
			owners[paths[i]] = line
		}
	}
	return owners
}

// ParseCodesign reads `codesign -dv --verbose=2` (its stderr): the first Authority= line is
// the signing certificate ("Software Signing" for Apple's platform binaries, "Developer ID
// Application: Vendor (TEAMID)" for others); an ad hoc signature is "adhoc".
func ParseCodesign(output string) string {
	adhoc := false
	for _, line := range strings.Split(output, "\n") {
		line = strings.TrimSpace(line)
		if value, ok := strings.CutPrefix(line, "Authority="); ok {
			return value
		}
		if line == "Signature=adhoc" {
			adhoc = true
		}
	}
	if adhoc {
		return "adhoc"
	}
	return ""
}

// ParseAuthenticode reads "path<TAB>status<TAB>subject" lines (Get-AuthenticodeSignature):
// the subject's CN for a Valid signature ("Microsoft Windows", "Google LLC").
func ParseAuthenticode(output string) map[string]string {
	signers := map[string]string{}
	for _, line := range strings.Split(strings.ReplaceAll(output, "\r\n", "\n"), "\n") {
		parts := strings.SplitN(line, "\t", 3)
		if len(parts) != 3 || parts[1] != "Valid" {
			continue
		}
		for _, attribute := range strings.Split(parts[2], ", ") {
			if cn, ok := strings.CutPrefix(strings.TrimSpace(attribute), "CN="); ok {
				signers[parts[0]] = strings.Trim(cn, `"`)
				break
			}
		}
	}
	return signers
}
