package agent

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestListingCommandsAreTheCollectorsAndTravelAsCommand(t *testing.T) {
	run := replay(t, map[string]string{
		"ps -ww -eo pid,ppid,user:64,%cpu,%mem,vsz,rss,tty,stat,lstart,time,nlwp,comm,args": "linux/ps.txt",
		"tasklist /v /fo csv": "windows/tasklist.csv",
	})
	command, output, err := TakeListing("linux", run)
	if err != nil || !strings.HasPrefix(command, "ps -ww -eo pid,ppid,user:64") || !strings.Contains(output, "STARTED") {
		t.Fatalf("linux: %q %v", command, err)
	}
	if command, _, err = TakeListing("windows", run); err != nil || command != "tasklist /v /fo csv" {
		t.Fatalf("windows: %q %v", command, err)
	}
	if _, _, err = TakeListing("darwin", run); err == nil {
		t.Fatal("a failing ps must be an error")
	}
	if OSName("darwin") != "macos" || OSName("windows") != "windows" {
		t.Fatal("os names")
	}
}

func TestPackageOwnersAcrossMergedUsr(t *testing.T) {
	owners := ParseDpkgS(recorded(t, "linux/dpkg-S.txt"))
	want := map[string]string{"/bin/bash": "bash", "/usr/bin/who": "coreutils", "/bin/ls": "coreutils"}
	if !reflect.DeepEqual(owners, want) {
		t.Fatalf("owners = %v", owners)
	}
	if usrMergeAlias("/usr/bin/bash") != "/bin/bash" || usrMergeAlias("/sbin/init") != "/usr/sbin/init" ||
		usrMergeAlias("/opt/x") != "" {
		t.Fatal("aliases")
	}
	rpm := ParseRpmQf("bash\nfile /opt/x is not owned by any package\n", []string{"/usr/bin/bash", "/opt/x"})
	if !reflect.DeepEqual(rpm, map[string]string{"/usr/bin/bash": "bash"}) {
		t.Fatalf("rpm = %v", rpm)
	}
}

func TestCodeSignatureAuthorities(t *testing.T) {
	cases := map[string]string{
		"macos/codesign-apple.txt":        "Software Signing",
		"macos/codesign-developer-id.txt": "Developer ID Application: Hectic Radio Ltd (CC9Q9BH5NT)",
		"macos/codesign-adhoc.txt":        "adhoc",
		"macos/codesign-unsigned.txt":     "",
	}
	for file, want := range cases {
		if got := ParseCodesign(recorded(t, file)); got != want {
			t.Errorf("%s: %q, want %q", file, got, want)
		}
	}
	signers := ParseAuthenticode(recorded(t, "windows/authenticode.txt"))
	want := map[string]string{`C:\Windows\explorer.exe`: "Microsoft Windows",
		`C:\Program Files\Google\Chrome\Application\chrome.exe`: "Google LLC"}
	if !reflect.DeepEqual(signers, want) { // NotSigned and HashMismatch have no signer
		t.Fatalf("authenticode = %v", signers)
	}
}

func TestExecutablePathsOfMacOSAndWindows(t *testing.T) {
	run := replay(t, map[string]string{
		"ps -axo comm=": "macos/ps-comm.txt",
		"powershell -NoProfile -NonInteractive -Command Get-CimInstance Win32_Process | ForEach-Object { $_.ExecutablePath }": "windows/executable-paths.txt",
	})
	mac := ExecutablePaths("darwin", run)
	if len(mac) != 4 || mac[0] != "/Applications/Safari.app/Contents/MacOS/Safari" {
		t.Fatalf("macOS: %v", mac) // distinct, sorted, "(kernel_task)" left out
	}
	win := ExecutablePaths("windows", run)
	if !reflect.DeepEqual(win, []string{`C:\Windows\System32\svchost.exe`, `C:\Windows\explorer.exe`}) {
		t.Fatalf("windows: %v", win)
	}
}

func TestFactsAreHashedOncePerFileVersion(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "tool")
	if err := os.WriteFile(file, []byte("abc"), 0o755); err != nil {
		t.Fatal(err)
	}
	signed := 0
	run := func(name string, args ...string) ([]byte, error) {
		if name == "ps" {
			return []byte(file + "\n"), nil
		}
		signed++
		return []byte("Authority=Developer ID Application: X (ABC)\n"), nil
	}
	facts := NewExecutableFacts(filepath.Join(dir, "spool"))
	first := facts.Collect("darwin", run)
	want := Executable{Path: file, SizeBytes: 3, Signer: "Developer ID Application: X (ABC)",
		SHA256: "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"}
	if !reflect.DeepEqual(first, []Executable{want}) {
		t.Fatalf("facts = %+v", first)
	}
	facts.Collect("darwin", run)
	if signed != 1 {
		t.Fatalf("an unchanged file was checked %d times", signed)
	}
	later := time.Now().Add(time.Minute)
	if err := os.WriteFile(file, []byte("abcd"), 0o755); err != nil {
		t.Fatal(err)
	}
	_ = os.Chtimes(file, later, later)
	again := facts.Collect("darwin", run)
	if signed != 2 || again[0].SizeBytes != 4 || again[0].SHA256 == want.SHA256 {
		t.Fatalf("a changed file must be read again: %+v (%d)", again, signed)
	}
}

func TestWindowsSignersOfManyFilesFitItsCommandLines(t *testing.T) {
	var paths []string
	for i := 0; i < 600; i++ {
		paths = append(paths, fmt.Sprintf(`C:\Program Files\Vendor %03d\%s\app.exe`, i, strings.Repeat("x", 80)))
	}
	commands := 0
	run := func(name string, args ...string) ([]byte, error) {
		commands++
		if line := name + " " + strings.Join(args, " "); len(line) >= 32767 {
			t.Fatalf("a command line of %d characters", len(line))
		}
		var out strings.Builder
		for _, p := range paths {
			if strings.Contains(args[len(args)-1], "'"+p+"'") {
				out.WriteString(p + "\tValid\tCN=Vendor, O=Vendor\n")
			}
		}
		return []byte(out.String()), nil
	}
	signers := Signers("windows", run, paths)
	if commands < 2 || len(signers) != len(paths) || signers[paths[599]] != "Vendor" {
		t.Fatalf("%d commands, %d signers", commands, len(signers))
	}
}
