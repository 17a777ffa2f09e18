//go:build windows

package agent

import (
	"strings"
	"syscall"
	"unicode/utf16"
	"unicode/utf8"
	"unsafe"
)

var (
	kernel32            = syscall.NewLazyDLL("kernel32.dll")
	multiByteToWideChar = kernel32.NewProc("MultiByteToWideChar")
	getConsoleOutputCP  = kernel32.NewProc("GetConsoleOutputCP")
)

const cpOEM = 1 // CP_OEMCP: the code page console tools write in when no console is attached

// decodeConsole turns a console tool's output (the OEM code page: 437, 850, 866...) into
// UTF-8, as `dream collect` does; output that already is UTF-8 is kept.
func decodeConsole(data []byte) string {
	if utf8.Valid(data) {
		return string(data)
	}
	codePage, _, _ := getConsoleOutputCP.Call()
	if codePage == 0 {
		codePage = cpOEM
	}
	n, _, _ := multiByteToWideChar.Call(codePage, 0, uintptr(unsafe.Pointer(&data[0])),
		uintptr(len(data)), 0, 0)
	if n == 0 {
		return strings.ToValidUTF8(string(data), "\uFFFD")
	}
	wide := make([]uint16, n)
	multiByteToWideChar.Call(codePage, 0, uintptr(unsafe.Pointer(&data[0])), uintptr(len(data)),
		uintptr(unsafe.Pointer(&wide[0])), n)
	return string(utf16.Decode(wide))
}
