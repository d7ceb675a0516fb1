package stac

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"strings"
)

// HrefPolicy decides which asset hrefs GDAL may open, so that a catalog can
// never make GDAL read a local file or reach a private address.
//
// Remote items may point at http(s) or s3 only. Hosts must be in AllowHosts
// when it is set (an entry "*.example.com" allows subdomains), and must not
// resolve to loopback, link-local, private, unspecified or multicast
// addresses. Items from a local catalog may also use relative paths that stay
// inside the catalog's folder.
type HrefPolicy struct {
	AllowHosts    []string
	AllowLoopback bool // for tests that serve scenes on 127.0.0.1
	// LookupHost resolves a host name; nil means net.DefaultResolver.
	LookupHost func(ctx context.Context, host string) ([]string, error)
	// Signer, if set, signs http(s) hrefs after they pass the checks
	// (Planetary Computer SAS tokens).
	Signer Signer
}

// GDALName returns the name GDAL should open for the asset of band, or an
// error wrapping ErrHref that names the item, band and href.
func (p HrefPolicy) GDALName(ctx context.Context, it Item, band string) (string, error) {
	key, a, ok := it.Asset(band)
	if !ok {
		return "", fmt.Errorf("%w: item %s band %s", ErrMissingBand, it.ID, band)
	}
	name, err := p.resolve(ctx, it, a.Href)
	if err != nil {
		return "", fmt.Errorf("%w: item %s band %s (asset %s) href %s: %w", ErrHref, it.ID, band, key, RedactURL(a.Href), err)
	}
	return name, nil
}

func (p HrefPolicy) resolve(ctx context.Context, it Item, href string) (string, error) {
	if strings.HasPrefix(strings.ToLower(href), "/vsi") {
		return "", fmt.Errorf("GDAL virtual file system paths are not allowed")
	}
	u, err := url.Parse(href)
	if err != nil {
		return "", fmt.Errorf("not a URL: %w", err)
	}
	switch strings.ToLower(u.Scheme) {
	case "https", "http":
		if err := p.CheckHost(ctx, u.Hostname()); err != nil {
			return "", err
		}
		signed := u.String()
		if p.Signer != nil {
			if signed, err = p.Signer.Sign(ctx, signed); err != nil {
				return "", err
			}
		}
		return "/vsicurl/" + signed, nil
	case "s3":
		if u.Host == "" || strings.Trim(u.Path, "/") == "" {
			return "", fmt.Errorf("s3 href needs a bucket and a key")
		}
		if err := p.checkAllowList(u.Host); err != nil {
			return "", err
		}
		return "/vsis3/" + u.Host + "/" + strings.TrimPrefix(u.Path, "/"), nil
	case "":
		if !it.Origin.Local {
			if it.Origin.URL != "" {
				// A relative href in a remote static catalog resolves against the item's URL.
				base, err := url.Parse(it.Origin.URL)
				if err != nil {
					return "", fmt.Errorf("item URL %s: %w", it.Origin.URL, err)
				}
				abs := base.ResolveReference(u)
				if abs.Scheme == "" {
					return "", fmt.Errorf("relative href in an item without a base URL")
				}
				return p.resolve(ctx, Item{ID: it.ID, Origin: Origin{URL: abs.String()}}, abs.String())
			}
			return "", fmt.Errorf("local paths are not allowed from a remote catalog")
		}
		return localPath(it.Origin, href)
	default:
		return "", fmt.Errorf("scheme %q is not allowed (http, https, s3)", u.Scheme)
	}
}

// localPath resolves a relative href of a local item and keeps it inside the
// catalog's folder, symlinks included.
func localPath(o Origin, href string) (string, error) {
	if filepath.IsAbs(href) || strings.ContainsRune(href, 0) || strings.Contains(href, ":") {
		return "", fmt.Errorf("only relative paths are allowed in a local catalog")
	}
	root, err := filepath.EvalSymlinks(o.RootDir)
	if err != nil {
		return "", fmt.Errorf("catalog folder: %w", err)
	}
	p := filepath.Join(filepath.Dir(o.URL), filepath.FromSlash(href))
	real, err := filepath.EvalSymlinks(p)
	if err != nil {
		if os.IsNotExist(err) {
			return "", fmt.Errorf("no such file %s", p)
		}
		return "", err
	}
	real, err = filepath.Abs(real)
	if err != nil {
		return "", err
	}
	rel, err := filepath.Rel(root, real)
	if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		return "", fmt.Errorf("%s is outside the catalog folder %s", p, o.RootDir)
	}
	return real, nil
}

func (p HrefPolicy) checkAllowList(host string) error {
	if len(p.AllowHosts) == 0 {
		return nil
	}
	h := strings.ToLower(host)
	for _, a := range p.AllowHosts {
		a = strings.ToLower(a)
		if h == a || (strings.HasPrefix(a, "*.") && strings.HasSuffix(h, a[1:])) {
			return nil
		}
	}
	return fmt.Errorf("host %q is not in the allow-list", host)
}

// CheckHost applies the allow-list and the address rules to a host name.
func (p HrefPolicy) CheckHost(ctx context.Context, host string) error {
	_, err := p.ResolveHost(ctx, host)
	return err
}

// ResolveHost applies the allow-list to a host name, resolves it, and
// returns its addresses if every one of them is allowed. Dialling one of
// these addresses, rather than the name again, is what keeps a DNS answer
// that changes between the check and the connection out.
func (p HrefPolicy) ResolveHost(ctx context.Context, host string) ([]netip.Addr, error) {
	if host == "" {
		return nil, fmt.Errorf("no host")
	}
	if err := p.checkAllowList(host); err != nil {
		return nil, err
	}
	var addrs []string
	if ip, err := netip.ParseAddr(strings.Trim(host, "[]")); err == nil {
		addrs = []string{ip.String()}
	} else {
		lookup := p.LookupHost
		if lookup == nil {
			lookup = net.DefaultResolver.LookupHost
		}
		addrs, err = lookup(ctx, host)
		if err != nil {
			return nil, fmt.Errorf("resolve %s: %w", host, err)
		}
	}
	var out []netip.Addr
	for _, s := range addrs {
		ip, err := netip.ParseAddr(s)
		if err != nil {
			return nil, fmt.Errorf("host %s resolves to %q", host, s)
		}
		if err := p.checkAddr(ip.Unmap()); err != nil {
			return nil, fmt.Errorf("host %s resolves to %s: %w", host, ip, err)
		}
		out = append(out, ip.Unmap())
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("host %s has no address", host)
	}
	return out, nil
}

func (p HrefPolicy) checkAddr(ip netip.Addr) error {
	switch {
	case ip.IsLoopback():
		if p.AllowLoopback {
			return nil
		}
		return fmt.Errorf("loopback address")
	case ip.IsPrivate():
		return fmt.Errorf("private address")
	case ip.IsLinkLocalUnicast() || ip.IsLinkLocalMulticast():
		return fmt.Errorf("link-local address")
	case ip.IsUnspecified() || ip.IsMulticast() || ip.IsInterfaceLocalMulticast():
		return fmt.Errorf("non-unicast address")
	case carrierGradeNAT.Contains(ip):
		return fmt.Errorf("shared (carrier-grade NAT) address")
	}
	return nil
}

var carrierGradeNAT = netip.MustParsePrefix("100.64.0.0/10")

// RedactURL drops the query and user info of a URL, where signatures and
// tokens live, so it can be logged or put in an error.
func RedactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil || u.Scheme == "" {
		return s
	}
	u.User = nil
	if u.RawQuery != "" {
		u.RawQuery = "REDACTED"
	}
	return u.String()
}
