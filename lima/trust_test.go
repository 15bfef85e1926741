package lima

import (
	"bytes"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lima-vm/lima/pkg/limayaml"
	"github.com/lima-vm/lima/pkg/store"
	"github.com/lima-vm/lima/pkg/yqutil"

	"github.com/pixi-lima/pixi-lima/env"
	"github.com/pixi-lima/pixi-lima/env/settings"
)

// The keychains' certificates and the admin's trust settings as macOS's
// `security` prints them: one CA trusted (no settings: always), one
// denied for SSL.
func TestTrustedForSSL(t *testing.T) {
	pems := readTestdata(t, "security/find-certificate.pem")
	admin := readTestdata(t, "security/trust-settings-admin.plist")
	got, err := trustedForSSL(pems, admin, nil)
	if err != nil {
		t.Fatal(err)
	}
	all := pemCerts(pems)
	if len(all) != 2 || len(got) != 1 || got[0] != all[0] {
		t.Fatalf("trusted %d of %d certificates, want the first only", len(got), len(all))
	}
	// A certificate no trust settings list (merely in a keychain) is out.
	if got, _ := trustedForSSL(pems); len(got) != 0 {
		t.Errorf("without trust settings: %d trusted", len(got))
	}
	if _, err := trustedForSSL(pems, []byte("<plist><dict></dict></plist>")); err == nil {
		t.Error("a plist without trustList was accepted")
	}
}

func readTestdata(t *testing.T, name string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func TestReadCACerts(t *testing.T) {
	dir := t.TempDir()
	pems := readTestdata(t, "security/find-certificate.pem")
	certs := pemCerts(pems)
	both := filepath.Join(dir, "both.pem")
	os.WriteFile(both, pems, 0o644)
	first := filepath.Join(dir, "first.crt")
	os.WriteFile(first, []byte(certs[0]), 0o644)
	system := func() ([]string, error) { return certs[1:], nil }
	got, err := readCACerts([]string{first, settings.SystemCAs, both}, system)
	if err != nil || len(got) != 2 || !strings.HasPrefix(got[0], "-----BEGIN CERTIFICATE-----") {
		t.Fatalf("got %d certificates, %v; want the two, deduplicated", len(got), err)
	}
	if got[0] > got[1] {
		t.Error("not sorted")
	}
	for _, bad := range []string{filepath.Join(dir, "missing.pem"), filepath.Join(dir, "junk.pem")} {
		os.WriteFile(filepath.Join(dir, "junk.pem"), []byte("not a certificate"), 0o644)
		if _, err := readCACerts([]string{bad}, system); err == nil || !strings.Contains(err.Error(), bad) {
			t.Errorf("%s: %v", bad, err)
		}
	}
	if got, _ := readCACerts(nil, system); got != nil {
		t.Errorf("none: %v", got)
	}
}

func TestMaskCredentials(t *testing.T) {
	for in, want := range map[string]string{
		"http://user:s3cret@proxy.corp:3128": "http://user:***@proxy.corp:3128",
		`time="x" level=info msg="Replacing \"http_proxy\" value \"http://u:p%40ss@127.0.0.1:3128/\" with \"http://u:p%40ss@192.168.5.2:3128/\""`: `time="x" level=info msg="Replacing \"http_proxy\" value \"http://u:***@127.0.0.1:3128/\" with \"http://u:***@192.168.5.2:3128/\""`,
		"HTTPS_PROXY=https://a:b@h ssh://git@github.com": "HTTPS_PROXY=https://a:***@h ssh://git@github.com",
		"http://proxy:3128 and http://user@h:1":          "http://proxy:3128 and http://user@h:1",
		"no url here: user:pass@host":                    "no url here: user:pass@host",
	} {
		if got := MaskCredentials(in); got != want {
			t.Errorf("MaskCredentials(%q)\n got %q\nwant %q", in, got, want)
		}
	}
}

// Every line limactl prints reaches stderr and the log masked.
func TestLimactlOutputMasked(t *testing.T) {
	var stderr bytes.Buffer
	log := filepath.Join(t.TempDir(), "log")
	f, _ := os.Create(log)
	l := Limactl{Stderr: &stderr}
	tail := l.follow(strings.NewReader("level=info msg=\"proxy http://me:hunter2@127.0.0.1:3128\"\n"), f, time.Now())
	f.Close()
	logged, _ := os.ReadFile(log)
	for what, s := range map[string]string{"stderr": stderr.String(), "log": string(logged), "tail": strings.Join(tail, "\n")} {
		if strings.Contains(s, "hunter2") || !strings.Contains(s, "http://me:***@127.0.0.1:3128") {
			t.Errorf("%s: %q", what, s)
		}
	}
}

func TestGuestProxy(t *testing.T) {
	got := GuestProxy(settings.Proxy{HTTP: "http://u:p@localhost:3128", HTTPS: "127.0.0.1:8080", NoProxy: "corp.example, localhost"})
	want := settings.Proxy{
		HTTP:    "http://u:p@192.168.5.2:3128",
		HTTPS:   "192.168.5.2:8080",
		NoProxy: "corp.example,localhost,host.lima.internal,192.168.5.2,192.168.5.15,127.0.0.1",
	}
	if got != want {
		t.Errorf("\n got %+v\nwant %+v", got, want)
	}
	if again := GuestProxy(got); again != got {
		t.Errorf("not idempotent: %+v", again)
	}
	if p := GuestProxy(settings.Proxy{HTTP: "http://[::1]:3128"}); p.HTTP != "http://192.168.5.2:3128" {
		t.Errorf("::1: %s", p.HTTP)
	}
	if p := GuestProxy(settings.Proxy{NoProxy: "x"}); !p.IsZero() || p.NoProxy != "" {
		t.Errorf("NO_PROXY alone is no proxy: %+v", p)
	}
}

// The provision script carries the proxy for drift and status, quotes it
// for systemd, and passes shellcheck.
func TestProxyProvision(t *testing.T) {
	p := GuestProxy(settings.Proxy{HTTP: `http://u:p%40"x@proxy:3128`, HTTPS: "http://proxy:3128"})
	script := proxyProvision(p)["script"]
	if strings.Contains(script, "\t") {
		t.Error("a tab: yq does not read it")
	}
	if !strings.Contains(script, `"HTTP_PROXY=http://u:p%%40\"x@proxy:3128" "http_proxy=http://u:p%%40\"x@proxy:3128"`) {
		t.Errorf("the drop-in is not quoted for systemd:\n%s", script)
	}
	inst := &store.Instance{Config: &limayaml.LimaYAML{Provision: []limayaml.Provision{{Script: script}}}}
	if got, ok := vmProxy(inst); !ok || got != p {
		t.Errorf("vmProxy = %+v, %v", got, ok)
	}
	none := proxyProvision(settings.Proxy{})["script"]
	if !strings.Contains(none, "conf=$(cat <<'PIXI_LIMA_PROXY'\nPIXI_LIMA_PROXY\n)") {
		t.Errorf("no proxy: %s", none)
	}
	sc, err := exec.LookPath("shellcheck")
	if err != nil {
		t.Log("shellcheck is not on PATH: skipped that part")
		return
	}
	for _, s := range []string{script, none} {
		file := filepath.Join(t.TempDir(), "proxy.sh")
		os.WriteFile(file, []byte(s), 0o755)
		if out, err := exec.Command(sc, file).CombinedOutput(); err != nil {
			t.Errorf("shellcheck: %v\n%s", err, out)
		}
	}
}

// A changed proxy or set of CAs is applied at the next start, and its
// message shows neither a password nor a PEM.
func TestTrustDrift(t *testing.T) {
	root := t.TempDir()
	certs := pemCerts(readTestdata(t, "security/find-certificate.pem"))
	c := settings.Config{CPUs: 2, Memory: "2GiB", Disk: "20GiB", CACertPEMs: certs,
		Proxy: settings.Proxy{HTTP: "http://me:hunter2@localhost:3128", HTTPS: "http://me:hunter2@localhost:3128"}}
	inst := vmWith(settings.Mount{Location: root, Writable: true})
	inst.Config.CACertificates.Certs = certs[:1]
	d := driftsOn(c, root, Host{OS: "linux", Arch: "amd64"}, inst)
	keys := map[string]Drift{}
	for _, x := range d {
		keys[x.Key] = x
	}
	ca, proxy := keys["ca-certs"], keys["proxy"]
	if !ca.AtStart || !strings.HasPrefix(ca.Want, "2 CAs (") || !strings.HasPrefix(ca.Have, "1 CA (") {
		t.Errorf("ca-certs drift: %+v", ca)
	}
	if !proxy.AtStart || proxy.Want != "http://me:***@192.168.5.2:3128" || proxy.Have != "none" {
		t.Errorf("proxy drift: %+v", proxy)
	}
	for _, x := range d {
		if s := x.String(); strings.Contains(s, "hunter2") || strings.Contains(s, "BEGIN") {
			t.Errorf("drift shows a secret or a PEM: %s", s)
		}
	}
	m := &Manager{Paths: env.NewPaths(root), Config: c, Stderr: io.Discard}
	expr := m.applyOn(Host{OS: "linux", Arch: "amd64"}, inst)
	for _, part := range []string{".caCerts.certs = [", ".propagateProxyEnv = false", proxyMarker} {
		if !strings.Contains(expr, part) {
			t.Errorf("applyOn lacks %s", part)
		}
	}
}

// The instance config pixi-lima makes, as Lima's own yq and limayaml read
// it: the CAs inline, the proxy script, Lima's own propagation off.
func TestTrustCreate(t *testing.T) {
	t.Setenv("LIMA_HOME", t.TempDir())
	certs := pemCerts(readTestdata(t, "security/find-certificate.pem"))
	c := settings.Config{CPUs: 2, Memory: "2GiB", Disk: "20GiB", CACertPEMs: certs,
		Proxy: settings.Proxy{HTTP: "http://u:p@localhost:3128", HTTPS: "http://u:p@localhost:3128"}}
	out, err := yqutil.EvaluateExpression(CreateExpression(c, "/src/repo"), []byte(dockerLike))
	if err != nil {
		t.Fatal(err)
	}
	y, err := limayaml.Load(out, "lima.yaml")
	if err != nil {
		t.Fatal(err)
	}
	inst := &store.Instance{Config: y}
	if got := vmCACerts(inst); len(got) != 2 {
		t.Errorf("caCerts.certs: %d certificates", len(got))
	}
	if p, ok := vmProxy(inst); !ok || p != GuestProxy(c.Proxy) {
		t.Errorf("proxy %+v, %v", p, ok)
	}
	if y.PropagateProxyEnv == nil || *y.PropagateProxyEnv {
		t.Error("propagateProxyEnv is not false")
	}
}

// Doctor's look at the guest: what GuestTrustScript prints, in either of
// cloud-init's layouts, against what lima.yaml gives the VM.
func TestGuestTrust(t *testing.T) {
	certs := pemCerts(readTestdata(t, "security/find-certificate.pem"))
	proxy := GuestProxy(settings.Proxy{HTTP: "http://me:hunter2@localhost:3128", HTTPS: "http://me:hunter2@localhost:3128"})
	inst := vmWith()
	inst.Config.CACertificates.Certs = certs[:1]
	inst.Config.Provision = append(inst.Config.Provision, limayaml.Provision{Mode: "system", Script: proxyProvision(proxy)["script"]})
	guest := func(cas []string, dropInText string) string {
		return strings.Join(cas, "") + "\n" + trustSep + "\n" + dropInText
	}
	for _, c := range []struct {
		name, out, problem, warning string
	}{
		{"as given", guest(certs[:1], dropIn(proxy)), "", ""},
		{"a CA missing", guest(nil, dropIn(proxy)), "the guest lacks 1 of the CAs", ""},
		{"an old CA left", guest(certs, dropIn(proxy)), "", "still trusts 1 CAs no longer in ca-certs"},
		{"no proxy", guest(certs[:1], ""), "does not have the proxy http://me:***@192.168.5.2:3128", ""},
	} {
		problem, warning := GuestTrust(inst, c.out)
		if (c.problem == "") != (problem == "") || !strings.Contains(problem, c.problem) ||
			(c.warning == "") != (warning == "") || !strings.Contains(warning, c.warning) {
			t.Errorf("%s: problem %q, warning %q", c.name, problem, warning)
		}
		if strings.Contains(problem+warning, "hunter2") {
			t.Errorf("%s: the password shows: %s %s", c.name, problem, warning)
		}
	}
}

// TestProxyScriptSurvivesYAML: the proxy script Lima stores is byte for
// byte the one written here, with a password and a NO_PROXY of the user's.
func TestProxyScriptSurvivesYAML(t *testing.T) {
	p := GuestProxy(settings.Proxy{HTTP: "http://me:hunter2@localhost:3128", HTTPS: "http://me:hunter2@localhost:3128", NoProxy: ".corp,10.0.0.0/8"})
	out, err := yqutil.EvaluateExpression(proxyExpression(p), []byte("{}\n"))
	if err != nil {
		t.Fatal(err)
	}
	y, err := limayaml.Load(out, "lima.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if want := proxyProvision(p)["script"]; len(y.Provision) != 1 || y.Provision[0].Script != want {
		t.Errorf("the stored script differs:\n%s\nwant:\n%s", y.Provision[0].Script, want)
	}
	if got := VMProxy(&store.Instance{Config: y}); got != p {
		t.Errorf("VMProxy reads %+v, want %+v", got, p)
	}
}
