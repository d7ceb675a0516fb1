package stac

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

// DefaultSASEndpoint is Planetary Computer's token service.
const DefaultSASEndpoint = "https://planetarycomputer.microsoft.com/api/sas/v1/token"

// Signer adds credentials to an asset href before GDAL opens it.
type Signer interface {
	Sign(ctx context.Context, href string) (string, error)
}

// SASSigner signs Azure Blob Storage hrefs with Planetary Computer SAS tokens,
// one per storage account and container, cached until shortly before expiry.
type SASSigner struct {
	Endpoint   string       // "" means DefaultSASEndpoint
	HostSuffix string       // "" means ".blob.core.windows.net"
	HTTP       *http.Client // nil means http.DefaultClient
	Margin     time.Duration
	Now        func() time.Time

	mu     sync.Mutex
	tokens map[string]sasToken
}

type sasToken struct {
	token  string
	expiry time.Time
}

// Sign returns href with a SAS token appended, or href unchanged when it is
// not on blob storage.
func (s *SASSigner) Sign(ctx context.Context, href string) (string, error) {
	u, err := url.Parse(href)
	if err != nil {
		return "", fmt.Errorf("sign %s: %w", RedactURL(href), err)
	}
	suffix := s.HostSuffix
	if suffix == "" {
		suffix = ".blob.core.windows.net"
	}
	host := u.Hostname()
	if !strings.HasSuffix(host, suffix) || u.RawQuery != "" {
		return href, nil
	}
	account := strings.TrimSuffix(host, suffix)
	container, _, _ := strings.Cut(strings.TrimPrefix(u.Path, "/"), "/")
	if account == "" || container == "" {
		return "", fmt.Errorf("sign %s: cannot tell account and container", RedactURL(href))
	}
	tok, err := s.token(ctx, account, container)
	if err != nil {
		return "", err
	}
	u.RawQuery = tok
	return u.String(), nil
}

func (s *SASSigner) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

func (s *SASSigner) token(ctx context.Context, account, container string) (string, error) {
	key := account + "/" + container
	margin := s.Margin
	if margin == 0 {
		margin = 5 * time.Minute
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if t, ok := s.tokens[key]; ok && s.now().Add(margin).Before(t.expiry) {
		return t.token, nil
	}
	ep := s.Endpoint
	if ep == "" {
		ep = DefaultSASEndpoint
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimSuffix(ep, "/")+"/"+url.PathEscape(account)+"/"+url.PathEscape(container), nil)
	if err != nil {
		return "", fmt.Errorf("SAS token for %s: %w", key, err)
	}
	hc := s.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		return "", fmt.Errorf("%w: SAS token for %s: %w", ErrCatalog, key, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("%w: SAS token for %s: HTTP %d", ErrCatalog, key, resp.StatusCode)
	}
	var body struct {
		Expiry time.Time `json:"msft:expiry"`
		Token  string    `json:"token"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil || body.Token == "" {
		return "", fmt.Errorf("%w: SAS token for %s: bad response: %v", ErrCatalog, key, err)
	}
	if s.tokens == nil {
		s.tokens = map[string]sasToken{}
	}
	s.tokens[key] = sasToken{strings.TrimPrefix(body.Token, "?"), body.Expiry}
	return s.tokens[key].token, nil
}
