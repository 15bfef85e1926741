package lima

import (
	"encoding/json"
	"net"
	"net/url"
	"slices"
	"strings"

	"github.com/lima-vm/lima/pkg/store"

	"github.com/pixi-lima/pixi-lima/env/settings"
)

// Lima's user-mode network (pkg/networks/const.go): the host as the guest
// reaches it (host.lima.internal) and the guest's own address.
const (
	hostAddr  = "192.168.5.2"
	guestAddr = "192.168.5.15"
)

// guestNoProxy are reached directly from the guest whatever the user's
// NO_PROXY says: the host itself and the guest.
var guestNoProxy = []string{"host.lima.internal", hostAddr, guestAddr, "localhost", "127.0.0.1"}

// GuestProxy is p as the guest needs it: a proxy on the host's loopback
// is reached at the host's address, and NO_PROXY keeps traffic to the host
// and the guest itself off the proxy. No proxy stays none.
func GuestProxy(p settings.Proxy) settings.Proxy {
	if p.IsZero() {
		return settings.Proxy{}
	}
	var hosts []string
	for _, h := range append(strings.Split(p.NoProxy, ","), guestNoProxy...) {
		if h = strings.TrimSpace(h); h != "" && !slices.Contains(hosts, h) {
			hosts = append(hosts, h)
		}
	}
	return settings.Proxy{HTTP: fromGuest(p.HTTP), HTTPS: fromGuest(p.HTTPS), NoProxy: strings.Join(hosts, ",")}
}

// fromGuest rewrites a proxy URL on localhost, 127.0.0.1 or ::1 to the
// host's address, as Lima's own propagation does (pkg/cidata setupEnv).
// A value without a scheme is read as docker reads it, as http.
func fromGuest(proxy string) string {
	raw := proxy
	if proxy != "" && !strings.Contains(proxy, "://") {
		raw = "http://" + proxy
	}
	u, err := url.Parse(raw)
	if err != nil {
		return proxy
	}
	if h := u.Hostname(); h != "localhost" && h != "127.0.0.1" && h != "::1" {
		return proxy
	}
	port := u.Port()
	u.Host = hostAddr
	if port != "" {
		u.Host = net.JoinHostPort(hostAddr, port)
	}
	if raw != proxy {
		return strings.TrimPrefix(u.String(), "http://")
	}
	return u.String()
}

// proxyMarker marks the proxy's provision script in lima.yaml; the JSON of
// the guest's proxy follows it on the same line, for drift and status.
const proxyMarker = "# pixi-lima proxy "

// The drop-ins of docker's units, rootful (system) and rootless (user).
const (
	systemDropIn = "/etc/systemd/system/docker.service.d/pixi-lima-proxy.conf"
	userDropIn   = "/etc/systemd/user/docker.service.d/pixi-lima-proxy.conf"
)

// proxyProvision gives docker's daemon the guest proxy p (GuestProxy) at
// every boot, through a drop-in of its systemd unit: the daemon is not
// started from a shell, so /etc/environment does not reach it. It restarts
// docker only when the drop-ins changed, and removes them for no proxy.
// No tabs, and no backslash but the drop-in's own: Lima's lima.yaml does
// not keep a "\n" of the script as it is (TestProxyScriptSurvivesYAML).
func proxyProvision(p settings.Proxy) map[string]string {
	b, _ := json.Marshal(p)
	script := `#!/bin/sh
` + proxyMarker + string(b) + `
set -eu
conf=$(cat <<'PIXI_LIMA_PROXY'
` + dropIn(p) + `PIXI_LIMA_PROXY
)
changed=
for file in ` + systemDropIn + ` ` + userDropIn + `; do
  if [ -z "$conf" ]; then
    [ -e "$file" ] || continue
    rm -f "$file"
  else
    [ -f "$file" ] && [ "$(cat "$file")" = "$conf" ] && continue
    mkdir -p "$(dirname "$file")"
    # The user's manager reads its drop-in as the user; root's need not be readable.
    mode=644
    case $file in /etc/systemd/system/*) mode=600 ;; esac
    (umask 077 && printf '%s' "$conf" >"$file.tmp" && echo >>"$file.tmp")
    chmod "$mode" "$file.tmp"
    mv "$file.tmp" "$file"
  fi
  changed=1
done
[ -n "$changed" ] || exit 0
systemctl daemon-reload
systemctl try-restart docker.service || :
for user in $(loginctl list-users --no-legend 2>/dev/null | awk '{print $2}'); do
  systemctl --user -M "$user@" daemon-reload || :
  systemctl --user -M "$user@" try-restart docker.service || :
done
`
	return map[string]string{"mode": "system", "script": script}
}

// dropIn is the [Service] section that sets p in both cases of each
// variable, quoted for systemd ("%" is a specifier there); "" for none.
func dropIn(p settings.Proxy) string {
	if p.IsZero() {
		return ""
	}
	var env []string
	for _, kv := range [][2]string{{"HTTP_PROXY", p.HTTP}, {"HTTPS_PROXY", p.HTTPS}, {"NO_PROXY", p.NoProxy}} {
		if kv[1] == "" {
			continue
		}
		for _, name := range []string{kv[0], strings.ToLower(kv[0])} {
			v := strings.NewReplacer(`\`, `\\`, `"`, `\"`, "%", "%%").Replace(name + "=" + kv[1])
			env = append(env, `"`+v+`"`)
		}
	}
	return "[Service]\nEnvironment=" + strings.Join(env, " ") + "\n"
}

// noProxyEnv turns off Lima's propagation of limactl's proxy variables.
const noProxyEnv = ".propagateProxyEnv = false"

// proxyExpression replaces the instance's proxy script with the one for
// p, and turns off Lima's own propagation of limactl's environment, which
// would reach the guest's shells but not its docker daemon, and change with
// whichever process happens to start the VM.
func proxyExpression(p settings.Proxy) string {
	return noProxyEnv + ` | .provision = ((.provision // []) | map(select((.script // "") | contains(` +
		quote(strings.TrimSpace(proxyMarker)) + `) | not))) | .provision += [` + mustJSON(proxyProvision(p)) + "]"
}

// vmProxy is the guest proxy the instance's lima.yaml sets up; ok is
// false when it has no proxy script (a VM made before pixi-lima set one).
func vmProxy(inst *store.Instance) (p settings.Proxy, ok bool) {
	if inst == nil || inst.Config == nil {
		return p, false
	}
	for _, prov := range inst.Config.Provision {
		for _, line := range strings.Split(prov.Script, "\n") {
			if rest, found := strings.CutPrefix(line, proxyMarker); found && json.Unmarshal([]byte(rest), &p) == nil {
				return p, true
			}
		}
	}
	return p, false
}

// ShowProxy says which proxy p is, its passwords masked.
func ShowProxy(p settings.Proxy) string {
	switch {
	case p.IsZero():
		return "none"
	case p.HTTP == p.HTTPS:
		return MaskCredentials(p.HTTP)
	}
	var s []string
	if p.HTTP != "" {
		s = append(s, "http "+MaskCredentials(p.HTTP))
	}
	if p.HTTPS != "" {
		s = append(s, "https "+MaskCredentials(p.HTTPS))
	}
	return strings.Join(s, ", ")
}

// VMProxy is the guest proxy of the instance as pixi-lima wrote it, for
// status: the zero Proxy for none.
func VMProxy(inst *store.Instance) settings.Proxy {
	p, _ := vmProxy(inst)
	return p
}

// proxyDrift says how the guest's proxy changes, with NO_PROXY only when
// nothing else differs.
func proxyDrift(want, have settings.Proxy) Drift {
	d := Drift{Key: "proxy", Want: ShowProxy(want), Have: ShowProxy(have), AtStart: true}
	if d.Want == d.Have {
		d.Want += " with NO_PROXY " + quote(want.NoProxy)
		d.Have += " with NO_PROXY " + quote(have.NoProxy)
	}
	return d
}
