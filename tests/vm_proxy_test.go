package tests

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The steps of TestVM that prove `ca-certs` and `proxy` on a running VM,
// against the host's fixtures (startNetFixture). The VM reaches the host's
// loopback as 192.168.5.2; only the proxy resolves the *.pixi-lima.test
// names. Each takes the image e2e-busybox (buildBusybox) as given.

// untrustedRegistryFails: before the VM trusts the test CA, docker push
// and pull of the registry fail TLS verification, as docker says it.
func untrustedRegistryFails(t *testing.T, p *Project, f *netFixture) {
	t.Helper()
	defer logTook(t, "untrustedRegistryFails", time.Now())
	docker := p.Bin("docker")
	ref := f.RegistryAt("192.168.5.2") + "/e2e/busybox:1"
	p.MustRun(t, p.Command(docker, "tag", "e2e-busybox", ref))
	defer p.Run(t, p.Command(docker, "rmi", ref))
	for _, verb := range []string{"push", "pull"} {
		stdout, stderr, code := p.Run(t, p.Command(docker, verb, ref))
		if code == 0 || !tlsUntrusted(stderr) {
			t.Errorf("docker %s %s before the VM trusts the CA: exit %d, want docker's x509 error\nstdout:\n%s\nstderr:\n%s\nthe proxy was asked: %q",
				verb, ref, code, stdout, stderr, f.ProxyLog())
		}
		t.Logf("docker %s said: %s", verb, strings.TrimSpace(stderr))
	}
}

// registryWorks: with the CA in the VM's trust store, push, then pull
// (after removing the tag) and run, of 192.168.5.2:P/e2e/busybox:1, which
// NO_PROXY keeps off the proxy; and with viaProxy, the same of
// registry.pixi-lima.test:P/e2e/busybox:2, a name only the proxy resolves.
func registryWorks(t *testing.T, p *Project, f *netFixture, viaProxy bool) {
	t.Helper()
	defer logTook(t, fmt.Sprintf("registryWorks(viaProxy=%v)", viaProxy), time.Now())
	direct := f.RegistryAt("192.168.5.2")
	pushPullRun(t, p, f, direct+"/e2e/busybox:1")
	for _, e := range f.ProxyLog() {
		if strings.HasPrefix(e, "CONNECT "+direct) {
			t.Errorf("docker asked the proxy for %s (is 192.168.5.2 in NO_PROXY?): %q", direct, f.ProxyLog())
			break
		}
	}
	if !viaProxy {
		return
	}
	byName := f.RegistryAt(registryHost)
	pushPullRun(t, p, f, byName+"/e2e/busybox:2")
	if !f.proxied("CONNECT " + byName) {
		t.Errorf("the proxy's log lacks CONNECT %s: %q", byName, f.ProxyLog())
	}
}

// pushPullRun tags e2e-busybox as ref, pushes it, removes the tag, pulls
// it back and runs it; the tag is removed at the end.
func pushPullRun(t *testing.T, p *Project, f *netFixture, ref string) {
	t.Helper()
	docker := p.Bin("docker")
	mustDocker := func(args ...string) string {
		t.Helper()
		stdout, stderr, code := p.Run(t, p.Command(docker, args...))
		if code != 0 {
			t.Fatalf("docker %s: exit %d\nstdout:\n%s\nstderr:\n%s\nthe proxy was asked: %q",
				strings.Join(args, " "), code, stdout, stderr, f.ProxyLog())
		}
		return stdout
	}
	mustDocker("tag", "e2e-busybox", ref)
	defer p.Run(t, p.Command(docker, "rmi", ref))
	mustDocker("push", ref)
	mustDocker("rmi", ref)
	if out := mustDocker("pull", ref); !strings.Contains(out, "Digest: sha256:") {
		t.Errorf("docker pull %s said:\n%s", ref, out)
	}
	if got := mustDocker("run", "--rm", ref, "echo", "pulled from the registry"); got != "pulled from the registry\n" {
		t.Errorf("docker run --rm %s printed %q", ref, got)
	}
}

// buildThroughProxy: a build's RUN fetches a page by a name only the
// proxy resolves: docker passes config.json's proxies to the build as
// build args, which busybox wget honours.
func buildThroughProxy(t *testing.T, p *Project, f *netFixture) {
	t.Helper()
	defer logTook(t, "buildThroughProxy", time.Now())
	docker := p.Bin("docker")
	writeFile(t, p, "proxybuild/Dockerfile", fmt.Sprintf("FROM e2e-busybox\nRUN wget -q -O /page %s && cat /page\n", f.PageURL()))
	_, stderr, code := p.Run(t, p.Command(docker, "build", "--no-cache", "--progress=plain", "-t", "e2e-proxybuild", filepath.Join(p.Root, "proxybuild")))
	if code != 0 {
		t.Fatalf("docker build through the proxy: exit %d\n%s\nthe proxy was asked: %q", code, stderr, f.ProxyLog())
	}
	defer p.Run(t, p.Command(docker, "rmi", "e2e-proxybuild"))
	if !strings.Contains(stderr, strings.TrimSpace(pageBody)) {
		t.Errorf("the build's RUN did not print the page %q:\n%s", strings.TrimSpace(pageBody), stderr)
	}
	if !f.proxied("GET " + f.PageURL()) {
		t.Errorf("the proxy's log lacks GET %s: %q", f.PageURL(), f.ProxyLog())
	}
}

// tlsUntrusted says whether docker's stderr is its error for a registry
// whose certificate's CA it does not trust.
func tlsUntrusted(stderr string) bool {
	return strings.Contains(stderr, "x509: certificate signed by unknown authority") ||
		strings.Contains(stderr, "tls: failed to verify certificate")
}

func logTook(t *testing.T, what string, begin time.Time) {
	t.Logf("%s took %s", what, time.Since(begin).Round(time.Millisecond))
}
