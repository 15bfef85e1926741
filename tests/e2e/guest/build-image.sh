#!/usr/bin/env bash
# Build, fully offline (only Debian's apt mirror is used), a Debian bookworm
# guest image that Lima (v1.2.x, QEMU driver) can boot, and two templates
# that boot Lima's own template://docker (rootless) and
# template://docker-rootful from it. The image holds what get.docker.com and
# those templates' first scripts would install (Debian's docker.io, the
# rootless tools, the system docker disabled as template://docker leaves it).
#
# Usage: tests/e2e/guest/build-image.sh [CACHE_DIR]   (default /var/cache/pixi-lima-ci)
#
# Output: $CACHE_DIR/guest-<hash>/{disk.qcow2,vmlinuz,initrd.img,offline.yaml,docker.yaml,docker-rootful.yaml}
# (and $CACHE_DIR/debootstrap-debs/, a .deb cache that makes rebuilds faster)
# where <hash> covers this script and the templates, so a re-run skips the build.
# The last line of stdout is the absolute path of docker.yaml; progress goes to stderr.
#
# Needs root and: debootstrap, e2fsprogs (mkfs.ext4 -d), qemu-utils (qemu-img).
# Env overrides: MIRROR (Debian mirror URL), SUITE (default bookworm).
set -euo pipefail

log() { printf '[build-image] %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
self="$here/$(basename "${BASH_SOURCE[0]}")"
tmpls=(offline.yaml docker.yaml docker-rootful.yaml)
for t in "${tmpls[@]}"; do
	[ -f "$here/$t.tmpl" ] || die "template not found: $here/$t.tmpl"
done

cache_dir=${1:-/var/cache/pixi-lima-ci}
mkdir -p "$cache_dir"
cache_dir=$(cd "$cache_dir" && pwd)

hash=$(cd "$here" && cat "$self" "${tmpls[@]/%/.tmpl}" | sha256sum | cut -c1-16)
out="$cache_dir/guest-$hash"
if [ -f "$out/docker.yaml" ]; then
	log "cached image: $out"
	echo "$out/docker.yaml"
	exit 0
fi

[ "$(id -u)" = 0 ] || die "must run as root (debootstrap, chroot)"

# From here on, everything that tools print goes to stderr; fd 3 is the real
# stdout, used only for the final path.
exec 3>&1 1>&2
for c in debootstrap mkfs.ext4 qemu-img chroot sha256sum; do
	command -v "$c" >/dev/null 2>&1 || die "missing command: $c"
done

suite=${SUITE:-bookworm}
label=pixi-lima-root
# Size of the raw root filesystem (sparse). cloud-init's resizefs grows it to
# the size of the Lima disk (limayaml `disk`, default 100GiB/20GiB) on first boot.
raw_size=3G

# Find the Debian mirror configured for apt (deb822 .sources or one-line format).
find_mirror() {
	local f
	for f in /etc/apt/sources.list.d/*.sources; do
		[ -f "$f" ] || continue
		# paragraphs: take the first URIs of a paragraph whose Suites has $suite (not -security)
		awk -v suite="$suite" '
			BEGIN { RS=""; FS="\n" }
			{
				uri=""; ok=0
				for (i = 1; i <= NF; i++) {
					if ($i ~ /^URIs:/) { split($i, a, /[ \t]+/); uri=a[2] }
					if ($i ~ /^Suites:/) { n=split($i, s, /[ \t]+/); for (j = 2; j <= n; j++) if (s[j] == suite) ok=1 }
					if ($i ~ /^Enabled:[ \t]*no/) ok=0
				}
				if (ok && uri != "") { print uri; exit }
			}' "$f"
	done
	for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
		[ -f "$f" ] || continue
		awk -v suite="$suite" '
			$1 == "deb" {
				i = 2; if ($i ~ /^\[/) { while ($i !~ /\]$/) i++; i++ }
				if ($(i+1) == suite) { print $i; exit }
			}' "$f"
	done
}
mirror=${MIRROR:-$(find_mirror | head -n1)}
[ -n "$mirror" ] || die "no Debian mirror for '$suite' found in /etc/apt/sources.list{,.d}; set MIRROR="
log "mirror: $mirror (suite $suite)"

work=$(mktemp -d "$cache_dir/.guest-$hash.XXXXXX")
rootfs="$work/rootfs"
cleanup() {
	local m
	for m in dev/pts dev sys proc; do
		if mountpoint -q "$rootfs/$m" 2>/dev/null; then umount -l "$rootfs/$m" || true; fi
	done
	if grep -qF " $work/" /proc/self/mounts; then
		log "WARNING: something is still mounted under $work; not removing it"
	else
		rm -rf "$work"
	fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

packages=(
	# boot
	linux-image-amd64 initramfs-tools systemd systemd-sysv udev dbus libpam-systemd kmod
	# cloud-init (python3-cffi-backend is a virtual dependency debootstrap does not resolve)
	cloud-init python3-cffi-backend tzdata
	# Lima boot scripts / hostagent requirements
	openssh-server sudo bash diffutils procps iproute2 util-linux mount e2fsprogs
	fuse3 sshfs iptables ca-certificates
	# isc-dhcp-client is a hard dependency of cloud-init; networking is done by systemd-networkd
	isc-dhcp-client
	# container engine, and what rootless Docker needs
	docker.io rootlesskit slirp4netns uidmap dbus-user-session
)
include=$(
	IFS=,
	echo "${packages[*]}"
)

start=$(date +%s)
log "debootstrap --variant=minbase $suite (this takes a few minutes)"
# .debs are kept (checksum-verified by debootstrap) for faster rebuilds.
deb_cache="$cache_dir/debootstrap-debs"
mkdir -p "$deb_cache"
debootstrap --variant=minbase --cache-dir="$deb_cache" --include="$include" \
	"$suite" "$rootfs" "$mirror" >"$work/debootstrap.log" 2>&1 || {
	tail -n 40 "$work/debootstrap.log" >&2
	die "debootstrap failed"
}
log "debootstrap done in $(($(date +%s) - start))s"

in_root() { chroot "$rootfs" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 "$@"; }

log "configuring rootfs"
# --- filesystem, hostname, locale, DNS -------------------------------------
cat >"$rootfs/etc/fstab" <<EOF
LABEL=$label / ext4 defaults,errors=remount-ro 0 1
EOF
echo lima-guest >"$rootfs/etc/hostname"
cat >"$rootfs/etc/hosts" <<'EOF'
127.0.0.1	localhost
::1	localhost ip6-localhost ip6-loopback
EOF
echo 'LANG=C.UTF-8' >"$rootfs/etc/default/locale"
# No DNS in the guest (offline); glibc falls back to 127.0.0.1, which fails fast.
: >"$rootfs/etc/resolv.conf"
# machine-id must be unique per VM: empty => generated on first boot.
: >"$rootfs/etc/machine-id"
rm -f "$rootfs/var/lib/dbus/machine-id"
# Host keys are generated per instance by cloud-init.
rm -f "$rootfs"/etc/ssh/ssh_host_*
mkdir -p "$rootfs/etc/ssh/sshd_config.d"
cat >"$rootfs/etc/ssh/sshd_config.d/50-pixi-lima.conf" <<'EOF'
# RSA key generation is slow under TCG; cloud-init only generates these.
HostKey /etc/ssh/ssh_host_ed25519_key
HostKey /etc/ssh/ssh_host_ecdsa_key
UseDNS no
EOF
# Resume from swap is never wanted (also "noresume" on the kernel cmdline).
echo 'RESUME=none' >"$rootfs/etc/initramfs-tools/conf.d/resume"

# --- cloud-init ------------------------------------------------------------
cat >"$rootfs/etc/cloud/cloud.cfg.d/99_pixi_lima.cfg" <<'EOF'
# pixi-lima e2e guest: offline, only Lima's NoCloud cidata.
datasource_list: [NoCloud, None]
# Keep the hostname in /etc/hosts (otherwise sudo stalls on DNS).
manage_etc_hosts: localhost
# C.UTF-8 needs no locale-gen.
locale: C.UTF-8
ssh_genkeytypes: [ed25519, ecdsa]
apt:
  preserve_sources_list: true
system_info:
  network:
    renderers: [networkd]
EOF

# --- networking: systemd-networkd, configured by cloud-init ------------------
# Lima's network-config (netplan v2) names the NIC eth0; cloud-init renders
# /etc/systemd/network/10-cloud-init-eth0.network. This drop-in keeps DHCP from
# installing a default route, DNS or NTP: the guest has no internet, and
# nothing should wait on it. The slirp gateway (host.lima.internal) is on-link.
mkdir -p "$rootfs/etc/systemd/network/10-cloud-init-eth0.network.d"
cat >"$rootfs/etc/systemd/network/10-cloud-init-eth0.network.d/50-pixi-lima.conf" <<'EOF'
[Network]
IPv6AcceptRA=no
LinkLocalAddressing=no

[DHCPv4]
UseGateway=no
UseRoutes=no
UseDNS=no
UseNTP=no
UseDomains=no
UseHostname=no
EOF
mkdir -p "$rootfs/etc/systemd/system/systemd-networkd-wait-online.service.d"
cat >"$rootfs/etc/systemd/system/systemd-networkd-wait-online.service.d/50-pixi-lima.conf" <<'EOF'
[Service]
ExecStart=
ExecStart=/lib/systemd/systemd-networkd-wait-online --any --timeout=60
EOF
in_root systemctl enable systemd-networkd.service systemd-networkd.socket >/dev/null 2>&1 ||
	in_root systemctl enable systemd-networkd.service
# As template://docker leaves a VM: its script runs get.docker.com, which
# enables docker and containerd, then `systemctl disable --now docker` for
# rootless Docker; it skips both when docker is installed, as here.
# template://docker-rootful gets its docker back (docker-rootful.yaml).
in_root systemctl enable docker.socket containerd.service
in_root systemctl disable docker.service
# The rootless setup tool, where Docker's own packages put it (beside
# docker, dockerd and rootlesskit, which it looks for in its own directory).
for f in dockerd-rootless-setuptool.sh dockerd-rootless.sh; do
	[ -x "$rootfs/usr/share/docker.io/contrib/$f" ] || die "docker.io lacks contrib/$f"
	ln -sfn "/usr/share/docker.io/contrib/$f" "$rootfs/usr/bin/$f"
done
# useradd gives the Lima user subordinate ids (rootless Docker's user
# namespace) only where these files exist, as on Ubuntu's cloud images.
touch "$rootfs/etc/subuid" "$rootfs/etc/subgid"

# --- quiet guest: no periodic jobs, no time sync ------------------------------
for u in apt-daily.timer apt-daily-upgrade.timer apt-daily.service apt-daily-upgrade.service \
	dpkg-db-backup.timer e2scrub_all.timer e2scrub_reap.service fstrim.timer man-db.timer \
	logrotate.timer systemd-timesyncd.service; do
	ln -sfn /dev/null "$rootfs/etc/systemd/system/$u"
	rm -f "$rootfs"/etc/systemd/system/*.wants/"$u"
done
mkdir -p "$rootfs/etc/systemd/journald.conf.d"
cat >"$rootfs/etc/systemd/journald.conf.d/50-pixi-lima.conf" <<'EOF'
[Journal]
SystemMaxUse=64M
EOF

# Lima adds 9p mounts to /etc/fstab at their host path; Debian wipes /tmp at
# boot, which would remove mount points under /tmp before systemd mounts them.
mkdir -p "$rootfs/etc/tmpfiles.d"
echo 'd /tmp 1777 root root -' >"$rootfs/etc/tmpfiles.d/tmp.conf"

# --- ssh gate: work around a Lima v1.2.2 host agent race -------------------------
# The host agent forwards the guest agent socket over ssh as soon as ssh works,
# and re-checks it every 10s. If a check fails (agent not yet listening, or
# restarted by Lima's boot script 25-guestagent-base.sh, which takes >10s under
# TCG), it deletes the host-side socket and re-requests the same ssh forward,
# which ssh's ControlMaster treats as a duplicate: the socket never comes back,
# the guest agent stays unreachable and no port is forwarded. So keep sshd
# unreachable from outside until Lima's boot scripts are done and the guest
# agent listens; the host agent then connects once to a stable agent.
# (Lima's final "boot scripts must have finished" requirement waits for the
# same /run/lima-boot-done anyway.) Gives up after 20 min and opens ssh.
mkdir -p "$rootfs/usr/local/libexec"
cat >"$rootfs/usr/local/libexec/pixi-lima-ssh-gate" <<'EOF'
#!/bin/bash
# pixi-lima: see build-image.sh ("ssh gate").
rule=(INPUT -p tcp --dport 22 ! -i lo -m comment --comment pixi-lima-ssh-gate -j REJECT --reject-with tcp-reset)
case "${1:-}" in
close) exec iptables -w -I "${rule[@]}" ;;
open) while iptables -w -D "${rule[@]}" 2>/dev/null; do :; done; exit 0 ;;
wait) ;;
*) echo "usage: $0 close|open|wait" >&2; exit 2 ;;
esac
agent_listens() {
	python3 -c 'import socket; s = socket.socket(socket.AF_UNIX); s.settimeout(5); s.connect("/run/lima-guestagent.sock")' 2>/dev/null
}
deadline=$((SECONDS + 1200))
until [ -e /run/lima-boot-done ] && systemctl -q is-active lima-guestagent.service && agent_listens; do
	if [ "$SECONDS" -ge "$deadline" ]; then
		echo "timed out waiting for Lima boot scripts / guest agent; opening ssh anyway"
		break
	fi
	sleep 2
done
echo "opening ssh"
exec "$0" open
EOF
chmod 0755 "$rootfs/usr/local/libexec/pixi-lima-ssh-gate"
cat >"$rootfs/etc/systemd/system/pixi-lima-ssh-gate.service" <<'EOF'
[Unit]
Description=pixi-lima: keep ssh closed until Lima boot scripts and guest agent are ready
Before=ssh.service
After=local-fs.target

[Service]
Type=simple
ExecStartPre=/usr/local/libexec/pixi-lima-ssh-gate close
ExecStart=/usr/local/libexec/pixi-lima-ssh-gate wait
ExecStopPost=/usr/local/libexec/pixi-lima-ssh-gate open
RemainAfterExit=yes

[Install]
WantedBy=multi-user.target
EOF
in_root systemctl enable pixi-lima-ssh-gate.service

# --- docker ----------------------------------------------------------------
mkdir -p "$rootfs/etc/docker"
cat >"$rootfs/etc/docker/daemon.json" <<'EOF'
{
  "storage-driver": "overlay2",
  "log-driver": "json-file",
  "log-opts": {"max-size": "10m"}
}
EOF

# --- initramfs: must mount an ext4 root by LABEL from virtio-blk -------------
kmods=("$rootfs"/lib/modules/*)
if [ "${#kmods[@]}" != 1 ] || [ ! -d "${kmods[0]}" ]; then
	die "expected exactly one kernel in rootfs: ${kmods[*]}"
fi
kver=$(basename "${kmods[0]}")
log "kernel $kver: regenerating initramfs"
mount -t proc proc "$rootfs/proc"
mount -t sysfs sysfs "$rootfs/sys"
mount --bind /dev "$rootfs/dev"
in_root update-initramfs -u -k "$kver" >"$work/initramfs.log" 2>&1 || {
	tail -n 40 "$work/initramfs.log" >&2
	die "update-initramfs failed"
}
umount "$rootfs/dev" "$rootfs/sys" "$rootfs/proc"
initrd_list=$(in_root lsinitramfs "/boot/initrd.img-$kver")
for m in virtio_blk virtio_pci ext4; do
	grep -q "/$m\.ko" <<<"$initrd_list" || die "initramfs lacks $m.ko"
done

# --- kernel + initrd out, slim the rootfs ------------------------------------
install -m 0644 "$rootfs/boot/vmlinuz-$kver" "$work/vmlinuz"
install -m 0644 "$rootfs/boot/initrd.img-$kver" "$work/initrd.img"
in_root apt-get clean
rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/*.bin \
	"$rootfs"/var/log/*.log "$rootfs"/var/log/apt/* "$rootfs"/tmp/* "$rootfs"/var/tmp/*
rm -f "$rootfs/var/cache/debconf/"*-old "$rootfs/var/lib/dpkg/"*-old

# --- root filesystem image ---------------------------------------------------
log "creating ext4 image ($raw_size sparse, label $label)"
truncate -s "$raw_size" "$work/disk.raw"
mkfs.ext4 -q -F -L "$label" -d "$rootfs" "$work/disk.raw"
qemu-img convert -f raw -O qcow2 "$work/disk.raw" "$work/disk.qcow2"
rm -f "$work/disk.raw"
rm -rf "$rootfs"

# --- Lima templates ------------------------------------------------------------
for t in "${tmpls[@]}"; do
	sed -e "s|@IMAGE_DIR@|$out|g" -e "s|@ROOT_LABEL@|$label|g" "$here/$t.tmpl" >"$work/$t"
	grep -q '@[A-Z_]*@' "$work/$t" && die "unreplaced placeholder in $t"
done
rm -f "$work/debootstrap.log" "$work/initramfs.log"

# Lima runs unprivileged: world-readable files, world-executable dirs.
chmod 0644 "$work"/disk.qcow2 "$work"/vmlinuz "$work"/initrd.img "$work"/*.yaml
chmod 0755 "$work"
chmod a+rx "$cache_dir"

if ! mv -T "$work" "$out" 2>/dev/null; then
	# a concurrent build won the race
	[ -f "$out/docker.yaml" ] || die "cannot move $work to $out"
	rm -rf "$work"
fi
trap - EXIT
log "built in $(($(date +%s) - start))s: $out"
echo "$out/docker.yaml" >&3
