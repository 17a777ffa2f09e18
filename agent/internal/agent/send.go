package agent

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Outcome of sending one snapshot.
type Outcome int

const (
	// Sent: an api answered 202 (stored, or already stored under that snapshot_id).
	Sent Outcome = iota
	// Rejected: the api refuses this snapshot for good (400, 413, 415, 422): set aside.
	Rejected
	// Down: no api answered, or only with transient errors (5xx, 429, timeouts): kept.
	Down
	// Misconfigured: something only a person can fix (a refused key 401/403, a wrong URL 404,
	// a host name that does not resolve, a certificate that does not verify): kept.
	Misconfigured
	// Stopped: the agent was told to stop (SIGTERM/SIGINT) before an api accepted it: kept.
	Stopped
)

var rejectedStatuses = map[int]bool{400: true, 413: true, 415: true, 422: true}
var transientStatuses = map[int]bool{408: true, 425: true, 429: true, 500: true, 502: true, 503: true, 504: true}

// Sender posts snapshot bodies to {url}/v1/snapshots, trying the urls in turn (the last one
// that worked first) and retrying rounds with exponential backoff and jitter.
type Sender struct {
	URLs       []string
	Key        string
	Retries    int
	Backoff    time.Duration
	MaxBackoff time.Duration
	Client     *http.Client
	// Context, once done (the agent is told to stop), ends a Post at once: the wait between
	// rounds and a request under way (nil: never).
	Context   context.Context
	preferred int
}

// NewSender is a Sender with the standard client (system roots, proxy from the environment).
func NewSender(cfg Config) *Sender {
	return &Sender{URLs: cfg.URLs, Key: cfg.Key, Retries: cfg.Retries, Backoff: cfg.Backoff,
		MaxBackoff: time.Minute, Client: &http.Client{Timeout: cfg.Timeout}}
}

// Current is the api that answered last (the first url until one fails).
func (s *Sender) Current() string {
	if len(s.URLs) == 0 {
		return ""
	}
	return s.URLs[s.preferred%len(s.URLs)]
}

// Prefer makes url, when it is one of the URLs, the first tried (the api that accepted last,
// as a previous run recorded it); false when it is not one of them.
func (s *Sender) Prefer(url string) bool {
	url = strings.TrimRight(strings.TrimSpace(url), "/")
	for i, u := range s.URLs {
		if url != "" && strings.TrimRight(u, "/") == url {
			s.preferred = i
			return true
		}
	}
	return false
}

// Post sends one snapshot: its outcome and, unless Sent, why.
func (s *Sender) Post(body []byte) (Outcome, string) {
	ctx := s.Context
	if ctx == nil {
		ctx = context.Background()
	}
	var reasons []string
	for attempt := 0; ; attempt++ {
		wait := s.Backoff << attempt
		if s.MaxBackoff > 0 && (wait > s.MaxBackoff || wait <= 0) {
			wait = s.MaxBackoff
		}
		wait = time.Duration(float64(wait) * (0.5 + rand.Float64()/2)) // a lab does not retry in step
		misconfigured, down := 0, 0
		reasons = reasons[:0]
		for i := range s.URLs {
			index := (s.preferred + i) % len(s.URLs)
			outcome, reason, retryAfter := s.postTo(ctx, s.URLs[index], body)
			if ctx.Err() != nil {
				return Stopped, "stopped while sending (" + reason + ")"
			}
			switch outcome {
			case Sent:
				s.preferred = index
				return Sent, ""
			case Rejected:
				return Rejected, reason
			case Misconfigured:
				misconfigured++
			case Down:
				down++
				if retryAfter > wait {
					wait = min(retryAfter, max(s.MaxBackoff, s.Backoff))
				}
			}
			reasons = append(reasons, reason)
		}
		detail := strings.Join(reasons, "; ")
		if down == 0 || attempt >= s.Retries {
			if misconfigured > 0 {
				return Misconfigured, detail
			}
			return Down, detail
		}
		timer := time.NewTimer(wait)
		select {
		case <-ctx.Done(): // a service manager's stop timeout is shorter than Retry-After × rounds
			timer.Stop()
			return Stopped, "stopped while waiting to retry (" + detail + ")"
		case <-timer.C:
		}
	}
}

func (s *Sender) postTo(ctx context.Context, base string, body []byte) (Outcome, string, time.Duration) {
	endpoint := strings.TrimRight(base, "/") + "/v1/snapshots"
	request, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, bytes.NewReader(body))
	if err != nil {
		return Misconfigured, fmt.Sprintf("%s: %v", base, err), 0
	}
	request.Header.Set("Content-Type", "application/json")
	request.Header.Set("User-Agent", UserAgent())
	// This machine's clock when sending: the api measures its skew (dream_clock_skew_seconds).
	request.Header.Set("Date", time.Now().UTC().Format(http.TimeFormat))
	if s.Key != "" {
		request.Header.Set("Authorization", "Bearer "+s.Key)
	}
	response, err := s.Client.Do(request)
	if err != nil {
		return classifyError(err), fmt.Sprintf("%s: %v", base, err), 0
	}
	defer response.Body.Close()
	text, _ := io.ReadAll(io.LimitReader(response.Body, 2048))
	reason := fmt.Sprintf("%s: HTTP %d: %s", base, response.StatusCode, strings.TrimSpace(string(text)))
	switch code := response.StatusCode; {
	case code == http.StatusAccepted:
		var answer struct {
			SnapshotID string `json:"snapshot_id"`
		}
		if json.Unmarshal(text, &answer) != nil || answer.SnapshotID == "" {
			return Down, base + ": 202 without a snapshot_id (not a Dream api?)", 0
		}
		return Sent, "", 0
	case rejectedStatuses[code]:
		return Rejected, reason, 0
	case transientStatuses[code]:
		seconds, _ := strconv.Atoi(response.Header.Get("Retry-After"))
		return Down, reason, time.Duration(seconds) * time.Second
	default: // 401/403 a key to fix, 404/405 a wrong url, 3xx a proxy's login page...
		return Misconfigured, reason, 0
	}
}

// classifyError tells a configuration problem (the name does not resolve, the certificate does
// not verify, the url is not http) from an api that is down (refused, reset, timed out).
func classifyError(err error) Outcome {
	var dnsErr *net.DNSError
	if errors.As(err, &dnsErr) && dnsErr.IsNotFound {
		return Misconfigured
	}
	var unknownAuthority x509.UnknownAuthorityError
	var hostname x509.HostnameError
	var invalid x509.CertificateInvalidError
	var verification *tls.CertificateVerificationError
	var header tls.RecordHeaderError
	if errors.As(err, &unknownAuthority) || errors.As(err, &hostname) || errors.As(err, &invalid) ||
		errors.As(err, &verification) || errors.As(err, &header) {
		return Misconfigured
	}
	if strings.Contains(err.Error(), "unsupported protocol scheme") {
		return Misconfigured
	}
	return Down
}
