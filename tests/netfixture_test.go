package tests

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/distribution/distribution/v3/configuration"
	"github.com/distribution/distribution/v3/registry/handlers"
	_ "github.com/distribution/distribution/v3/registry/storage/driver/inmemory"
	"github.com/elazarl/goproxy"
	"github.com/pixi-lima/pixi-lima/env"
	"github.com/sirupsen/logrus"
)

// The host side of the tests of `ca-certs` and `proxy`: a CA of the
// test's own, a Docker registry serving TLS with a certificate from it, an
// HTTP proxy that alone can resolve the fixtures' names, and a plain page
// behind that proxy. Everything listens on 127.0.0.1 only; the VM reaches
// it as 192.168.5.2 (QEMU's user-mode network maps that address to the
// host's loopback).

const (
	registryHost = "registry.pixi-lima.test" // in the certificate; only the proxy resolves it
	pageHost     = "page.pixi-lima.test"     // only the proxy resolves it
	pageBody     = "through the proxy\n"
	caFileName   = "test-ca.pem"
)

// netFixture is what startNetFixture started.
type netFixture struct {
	CAFile       string // the test CA, PEM, in the directory given to startNetFixture
	CAPool       *x509.CertPool
	RegistryPort int    // TLS registry on 127.0.0.1
	ProxyURL     string // http://127.0.0.1:P, an HTTP proxy (CONNECT and plain HTTP)
	PagePort     int    // plain HTTP page on 127.0.0.1, as page.pixi-lima.test:P through the proxy

	proxyLog *lineLog
	log      *lineLog // the registry's and the proxy's own logs
}

// ProxyLog is a copy of what the proxy was asked so far, one entry per
// request: "CONNECT host:port" or "GET http://host:port/path"; a refused
// one ends in " (refused)".
func (f *netFixture) ProxyLog() []string { return f.proxyLog.lines() }

// proxied says whether the proxy's log holds exactly entry.
func (f *netFixture) proxied(entry string) bool { return slices.Contains(f.ProxyLog(), entry) }

// RegistryAt is the registry's host:port under the given host name.
func (f *netFixture) RegistryAt(host string) string {
	return net.JoinHostPort(host, strconv.Itoa(f.RegistryPort))
}

// PageURL is the page's URL by the name only the proxy resolves.
func (f *netFixture) PageURL() string {
	return "http://" + net.JoinHostPort(pageHost, strconv.Itoa(f.PagePort)) + "/"
}

// startNetFixture starts the CA, registry, proxy and page, and writes the
// CA as dir/test-ca.pem, owned like dir (the project root: the test user
// must read it). All of it stops when the test ends.
func startNetFixture(t testing.TB, dir string) *netFixture {
	t.Helper()
	f := &netFixture{proxyLog: &lineLog{max: 1000}, log: &lineLog{max: 400}}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("the proxy was asked:\n%s\nthe registry's and the proxy's log (tail):\n%s",
				strings.Join(f.ProxyLog(), "\n"), strings.Join(f.log.lines(), "\n"))
		}
	})

	caCert, caKey := newTestCA(t)
	caPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caCert.Raw})
	f.CAFile = filepath.Join(dir, caFileName)
	must(t, os.WriteFile(f.CAFile, caPEM, 0o644))
	if st, err := os.Stat(dir); err == nil {
		if sys, ok := st.Sys().(*syscall.Stat_t); ok {
			must(t, os.Chown(f.CAFile, int(sys.Uid), int(sys.Gid)))
		}
	}
	f.CAPool = x509.NewCertPool()
	f.CAPool.AddCert(caCert)
	serverCert := newServerCert(t, caCert, caKey)

	// The registry. Its logs go through logrus's standard logger, which
	// distribution offers no other way to set: they go to the fixture's
	// log (shown when the test fails) while it runs.
	prevOut := logrus.StandardLogger().Out
	logrus.SetOutput(f.log)
	t.Cleanup(func() { logrus.SetOutput(prevOut) })
	cfg := &configuration.Configuration{}
	cfg.Storage = configuration.Storage{
		"inmemory": configuration.Parameters{},
		"delete":   configuration.Parameters{"enabled": true},
		"maintenance": configuration.Parameters{
			"uploadpurging": map[any]any{"enabled": false},
		},
	}
	cfg.HTTP.Secret = "pixi-lima-test-registry"
	app := handlers.NewApp(context.Background(), cfg)
	t.Cleanup(func() { app.Shutdown() })
	f.RegistryPort = serveLoopback(t, "registry", app, &tls.Config{Certificates: []tls.Certificate{serverCert}}, f.log)

	// The page.
	f.PagePort = serveLoopback(t, "page", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, pageBody)
	}), nil, f.log)

	// The proxy: its own resolver knows the fixtures' names, and only them.
	resolve := func(addr string) (string, error) {
		host, port, err := net.SplitHostPort(addr)
		if err != nil {
			return "", err
		}
		if host != registryHost && host != pageHost {
			return "", fmt.Errorf("the test proxy refuses %s", addr)
		}
		return net.JoinHostPort("127.0.0.1", port), nil
	}
	dialer := &net.Dialer{Timeout: 10 * time.Second}
	dial := func(ctx context.Context, network, addr string) (net.Conn, error) {
		to, err := resolve(addr)
		if err != nil {
			return nil, err
		}
		return dialer.DialContext(ctx, network, to)
	}
	proxy := goproxy.NewProxyHttpServer()
	proxy.Logger = logPrinter{f.log}
	proxy.Tr = &http.Transport{Proxy: nil, DialContext: dial, ForceAttemptHTTP2: false}
	proxy.ConnectDial = nil
	proxy.ConnectDialWithReq = func(r *http.Request, network, addr string) (net.Conn, error) {
		return dial(r.Context(), network, addr)
	}
	proxy.OnRequest().HandleConnectFunc(func(host string, ctx *goproxy.ProxyCtx) (*goproxy.ConnectAction, string) {
		if _, err := resolve(host); err != nil {
			f.proxyLog.add("CONNECT " + host + " (refused)")
			ctx.Resp = goproxy.NewResponse(ctx.Req, goproxy.ContentTypeText, http.StatusForbidden, err.Error()+"\n")
			return goproxy.RejectConnect, host
		}
		f.proxyLog.add("CONNECT " + host)
		return goproxy.OkConnect, host
	})
	proxy.OnRequest().DoFunc(func(r *http.Request, ctx *goproxy.ProxyCtx) (*http.Request, *http.Response) {
		entry := r.Method + " " + r.URL.String()
		if _, err := resolve(hostPort(r.URL)); err != nil {
			f.proxyLog.add(entry + " (refused)")
			return r, goproxy.NewResponse(r, goproxy.ContentTypeText, http.StatusForbidden, err.Error()+"\n")
		}
		f.proxyLog.add(entry)
		return r, nil
	})
	f.ProxyURL = fmt.Sprintf("http://127.0.0.1:%d", serveLoopback(t, "proxy", proxy, nil, f.log))
	return f
}

// serveLoopback serves h on 127.0.0.1 at a free port (TLS when tlsConf is
// set) until the test ends, and returns the port.
func serveLoopback(t testing.TB, name string, h http.Handler, tlsConf *tls.Config, errLog io.Writer) int {
	t.Helper()
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	must(t, err)
	srv := &http.Server{Handler: h, TLSConfig: tlsConf, ReadHeaderTimeout: 30 * time.Second,
		ErrorLog: log.New(errLog, name+": ", 0)}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if tlsConf != nil {
			srv.ServeTLS(ln, "", "")
		} else {
			srv.Serve(ln)
		}
	}()
	t.Cleanup(func() {
		srv.Close()
		<-done
	})
	return ln.Addr().(*net.TCPAddr).Port
}

// newTestCA is a fresh CA: ECDSA P-256, valid from a day ago for a day
// (a guest's clock may lag the host's a little).
func newTestCA(t testing.TB) (*x509.Certificate, *ecdsa.PrivateKey) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	must(t, err)
	tmpl := &x509.Certificate{
		SerialNumber:          serial(t),
		Subject:               pkix.Name{CommonName: "pixi-lima test CA " + time.Now().Format(time.RFC3339Nano)},
		NotBefore:             time.Now().Add(-24 * time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	must(t, err)
	cert, err := x509.ParseCertificate(der)
	must(t, err)
	return cert, key
}

// newServerCert is the registry's certificate from the CA: the registry's
// name, the host as the VM sees it, and the host's loopback.
func newServerCert(t testing.TB, ca *x509.Certificate, caKey *ecdsa.PrivateKey) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	must(t, err)
	tmpl := &x509.Certificate{
		SerialNumber: serial(t),
		Subject:      pkix.Name{CommonName: registryHost},
		DNSNames:     []string{registryHost},
		IPAddresses:  []net.IP{net.ParseIP("192.168.5.2"), net.ParseIP("127.0.0.1")},
		NotBefore:    time.Now().Add(-24 * time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	must(t, err)
	return tls.Certificate{Certificate: [][]byte{der, ca.Raw}, PrivateKey: key}
}

func serial(t testing.TB) *big.Int {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 120))
	must(t, err)
	return n
}

// hostPort is u's host:port, with the scheme's default port.
func hostPort(u *url.URL) string {
	if u.Port() != "" {
		return u.Host
	}
	if u.Scheme == "https" {
		return net.JoinHostPort(u.Hostname(), "443")
	}
	return net.JoinHostPort(u.Hostname(), "80")
}

// lineLog keeps the last max lines written to it.
type lineLog struct {
	mu  sync.Mutex
	max int
	all []string
}

func (l *lineLog) add(line string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.all = append(l.all, line)
	if len(l.all) > l.max {
		l.all = slices.Delete(l.all, 0, len(l.all)-l.max)
	}
}

func (l *lineLog) Write(b []byte) (int, error) {
	for _, line := range strings.Split(strings.TrimRight(string(b), "\n"), "\n") {
		l.add(line)
	}
	return len(b), nil
}

func (l *lineLog) lines() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.all)
}

// logPrinter is goproxy's Logger writing to w.
type logPrinter struct{ w io.Writer }

func (p logPrinter) Printf(format string, args ...any) {
	fmt.Fprintf(p.w, "proxy: "+format+"\n", args...)
}

// TestNetFixture proves the fixtures with real clients, without a VM: Go's
// HTTP client, and where a real dockerd can run, docker push and pull.
func TestNetFixture(t *testing.T) {
	dir := t.TempDir()
	f := startNetFixture(t, dir)
	b, err := os.ReadFile(filepath.Join(dir, caFileName))
	must(t, err)
	if blk, _ := pem.Decode(b); blk == nil || blk.Type != "CERTIFICATE" {
		t.Fatalf("%s is not a PEM certificate:\n%s", f.CAFile, b)
	}
	if !strings.HasPrefix(f.ProxyURL, "http://127.0.0.1:") {
		t.Errorf("ProxyURL %s", f.ProxyURL)
	}
	// Only loopback: nothing answers on the host's other address.
	if ip := hostAddress(); ip != "" {
		for _, port := range []int{f.RegistryPort, f.PagePort, portOf(t, f.ProxyURL)} {
			if c, err := net.DialTimeout("tcp", net.JoinHostPort(ip, strconv.Itoa(port)), time.Second); err == nil {
				c.Close()
				t.Errorf("port %d answers on %s too", port, ip)
			}
		}
	}

	client := func(pool *x509.CertPool, proxy string) *http.Client {
		tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}, Proxy: nil}
		if proxy != "" {
			u, err := url.Parse(proxy)
			must(t, err)
			tr.Proxy = http.ProxyURL(u)
		}
		t.Cleanup(tr.CloseIdleConnections)
		return &http.Client{Transport: tr, Timeout: 30 * time.Second}
	}
	get := func(c *http.Client, u string) (int, string, error) {
		resp, err := c.Get(u)
		if err != nil {
			return 0, "", err
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b), err
	}

	t.Run("the registry with the CA", func(t *testing.T) {
		code, body, err := get(client(f.CAPool, ""), "https://"+f.RegistryAt("127.0.0.1")+"/v2/")
		if err != nil || code != http.StatusOK {
			t.Fatalf("GET /v2/: %d %q %v", code, body, err)
		}
		// The CA as the file says, not the pool the fixture kept.
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(b) {
			t.Fatal("no certificate in the CA file")
		}
		code, _, err = get(client(pool, ""), "https://"+f.RegistryAt("127.0.0.1")+"/v2/_catalog")
		if err != nil || code != http.StatusOK {
			t.Errorf("GET /v2/_catalog with the CA file: %d %v", code, err)
		}
	})

	t.Run("the registry without the CA", func(t *testing.T) {
		_, _, err := get(client(x509.NewCertPool(), ""), "https://"+f.RegistryAt("127.0.0.1")+"/v2/")
		var unknown x509.UnknownAuthorityError
		if !errors.As(err, &unknown) || !strings.Contains(err.Error(), "x509: certificate signed by unknown authority") {
			t.Errorf("GET /v2/ without the CA: %v, want x509's unknown authority", err)
		}
	})

	t.Run("through the proxy by name", func(t *testing.T) {
		c := client(f.CAPool, f.ProxyURL)
		code, body, err := get(c, "https://"+f.RegistryAt(registryHost)+"/v2/")
		if err != nil || code != http.StatusOK {
			t.Errorf("GET https://%s/v2/ through the proxy: %d %q %v", f.RegistryAt(registryHost), code, body, err)
		}
		code, body, err = get(c, f.PageURL())
		if err != nil || code != http.StatusOK || body != pageBody {
			t.Errorf("GET %s through the proxy: %d %q %v", f.PageURL(), code, body, err)
		}
		for _, want := range []string{"CONNECT " + f.RegistryAt(registryHost), "GET " + f.PageURL()} {
			if !f.proxied(want) {
				t.Errorf("the proxy's log lacks %q: %q", want, f.ProxyLog())
			}
		}
		// Without the proxy, the names mean nothing here.
		if _, _, err := get(client(f.CAPool, ""), f.PageURL()); err == nil {
			t.Errorf("%s answered without the proxy", f.PageURL())
		}
	})

	t.Run("the proxy refuses other names", func(t *testing.T) {
		c := client(f.CAPool, f.ProxyURL)
		other := "other.pixi-lima.test:" + strconv.Itoa(f.PagePort)
		if code, _, err := get(c, "http://"+other+"/"); err != nil || code != http.StatusForbidden {
			t.Errorf("GET http://%s/ through the proxy: %d %v, want 403", other, code, err)
		}
		_, _, err := get(c, "https://"+other+"/")
		if err == nil || !strings.Contains(err.Error(), "Forbidden") {
			t.Errorf("CONNECT %s: %v, want 403 Forbidden", other, err)
		}
		// An address, too: were NO_PROXY to miss the host's address, the
		// VM's direct push would come here and fail.
		direct := f.RegistryAt("192.168.5.2")
		if _, _, err := get(c, "https://"+direct+"/v2/"); err == nil {
			t.Errorf("CONNECT %s went through", direct)
		}
		for _, want := range []string{"GET http://" + other + "/ (refused)", "CONNECT " + other + " (refused)", "CONNECT " + direct + " (refused)"} {
			if !f.proxied(want) {
				t.Errorf("the proxy's log lacks %q: %q", want, f.ProxyLog())
			}
		}
	})

	t.Run("docker push and pull with a real dockerd", func(t *testing.T) {
		dockerPushPull(t, f)
	})
}

func portOf(t testing.TB, rawURL string) int {
	u, err := url.Parse(rawURL)
	must(t, err)
	port, err := strconv.Atoi(u.Port())
	must(t, err)
	return port
}

// dockerPushPull proves the registry and the proxy with Debian's dockerd
// (tests/harness_test.go's startDockerd) and the real docker CLI. A
// rootful dockerd trusts a registry's CA from /etc/docker/certs.d, which
// this test leaves alone; it is given the CA as Go's SSL_CERT_FILE
// instead (its registry client takes Go's system pool), and the proxy as
// HTTPS_PROXY: both reach dockerd as its environment. 127.0.0.0/8 is an
// insecure registry to dockerd by default, so the loopback address needs
// no CA; the registry's name, through the proxy, does.
func dockerPushPull(t *testing.T, f *netFixture) {
	s := requireSetup(t)
	if os.Geteuid() != 0 {
		skipUnlessRequired(t, "starting dockerd needs root")
	}
	p := newProject(t, s, "[workspace]\nname = \"nf\"\n")
	sock := env.NewPaths(p.Root).DockerSocket("nf-docker")
	docker := func(args ...string) *exec.Cmd { return p.Command(p.Bin("docker"), args...) }

	// dockerd inherits this process's environment. Go reads the proxy
	// and the system's CAs from it once per process: read both now, so
	// that this process keeps what it had.
	http.ProxyFromEnvironment(&http.Request{URL: &url.URL{Scheme: "https", Host: "example.com"}})
	x509.SystemCertPool()
	t.Setenv("HTTPS_PROXY", f.ProxyURL)
	t.Setenv("HTTP_PROXY", f.ProxyURL)
	t.Setenv("NO_PROXY", "")
	t.Setenv("SSL_CERT_DIR", "")
	t.Setenv("SSL_CERT_FILE", "")
	logged := len(f.ProxyLog())

	byIP := f.RegistryAt("127.0.0.1") + "/e2e/bb:1"
	byName := f.RegistryAt(registryHost) + "/e2e/bb:2"

	// An engine with the system's CAs only: the loopback address works, the name fails
	// TLS as docker says it in the VM.
	stop := startDockerd(t, p, sock)
	bb, err := exec.LookPath("busybox")
	if err != nil {
		t.Fatal("busybox is not installed (tests/setup.sh installs busybox-static)")
	}
	writeFile(t, p, "img/Dockerfile", "FROM scratch\nCOPY busybox /bin/busybox\nRUN [\"/bin/busybox\", \"--install\", \"-s\", \"/bin\"]\n")
	p.MustRun(t, p.Command("cp", bb, filepath.Join(p.Root, "img", "busybox")))
	p.MustRun(t, docker("build", "-q", "--network=none", "-t", "nf/bb", "img"))
	p.MustRun(t, docker("tag", "nf/bb", byIP))
	p.MustRun(t, docker("push", byIP))
	p.MustRun(t, docker("tag", "nf/bb", byName))
	_, stderr, code := p.Run(t, docker("push", byName))
	if code == 0 || !strings.Contains(stderr, "x509: certificate signed by unknown authority") {
		t.Errorf("push to %s by an engine without the CA: exit %d, want x509's unknown authority\n%s", byName, code, stderr)
	}
	t.Logf("the push without the CA said: %s", strings.TrimSpace(stderr))
	if !f.proxied("CONNECT " + f.RegistryAt(registryHost)) {
		t.Errorf("the engine did not ask the proxy for %s: %q", f.RegistryAt(registryHost), f.ProxyLog())
	}
	stop()

	// A fresh engine with the CA: it pulls what the first pushed (every
	// blob: its store is empty), then pushes and pulls by name.
	caDir := t.TempDir()
	caFile := filepath.Join(caDir, "ca.pem")
	b, err := os.ReadFile(f.CAFile)
	must(t, err)
	must(t, os.WriteFile(caFile, b, 0o644))
	t.Setenv("SSL_CERT_FILE", caFile) // and the system's CA directory
	startDockerd(t, p, sock)
	out := p.MustRun(t, docker("pull", byIP))
	if !strings.Contains(out, "Downloaded newer image") {
		t.Errorf("docker pull %s into an empty engine:\n%s", byIP, out)
	}
	p.MustRun(t, docker("tag", byIP, byName))
	p.MustRun(t, docker("push", byName))
	p.MustRun(t, docker("rmi", byIP, byName))
	p.MustRun(t, docker("pull", byName))
	if got := p.MustRun(t, docker("run", "--rm", "--network=none", byName, "echo", "pulled through the proxy")); got != "pulled through the proxy\n" {
		t.Errorf("docker run %s printed %q", byName, got)
	}
	var connects int
	for _, e := range f.ProxyLog()[logged:] {
		switch e {
		case "CONNECT " + f.RegistryAt(registryHost):
			connects++
		default:
			t.Errorf("the proxy was asked %q", e)
		}
	}
	if connects < 2 {
		t.Errorf("the engine asked the proxy for the registry %d times: %q", connects, f.ProxyLog())
	}
}
