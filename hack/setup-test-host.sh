#!/usr/bin/env bash
# Prepares this host for the sandbox test suite. Idempotent; needs root.
#
#   - installs the packages the tests use (busybox-static for dir: rootfs
#     images, uidmap for newuidmap/newgidmap, gcc and libc6-dev for cgo,
#     perl for the demo and e2e pods, nginx, curl, graphviz, procps and
#     iproute2 for docs/LAB.md, passt and slirp4netns for the outbound access
#     of bridge pods, docker-registry for the image tests, which start their
#     own on a free loopback port) when they are missing;
#   - makes /dev/net/tun mode 0666, as distributions ship it (pasta and
#     slirp4netns open it as the unprivileged test users);
#   - creates sandbox-e2e (with a subordinate id range in /etc/subuid and
#     /etc/subgid) and sandbox-e2e-nosub (without one), both system users
#     with no login shell and no home;
#   - gives root a subordinate range if it has none (for hostUsers: false).
#
# It prints every change it makes, and "ok" lines for what was already there.
set -euo pipefail

if [[ $(id -u) -ne 0 ]]; then
	echo "setup-test-host.sh: must run as root (try: sudo $0)" >&2
	exit 1
fi

say() { echo "setup-test-host: $*"; }

SUB_COUNT=65536
SUB_FIRST_START=400000

# --- packages ---------------------------------------------------------------
packages=(busybox-static uidmap gcc libc6-dev perl nginx curl graphviz procps iproute2 passt slirp4netns docker-registry)
missing=()
for p in "${packages[@]}"; do
	if dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
		say "ok: package $p installed"
	else
		missing+=("$p")
	fi
done
if ((${#missing[@]})); then
	say "installing: ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update
	apt-get install -y --no-install-recommends "${missing[@]}"
	# The lab runs nginx in a pod; Debian's package starts a host service.
	if [[ " ${missing[*]} " == *" nginx "* ]] && command -v systemctl >/dev/null && systemctl disable --now nginx 2>/dev/null; then
		say "stopped and disabled the host's nginx service (the lab runs nginx in a pod)"
	fi
	# The image tests run /usr/bin/docker-registry with a config of their own
	# on a free port; the package's service (on :5000) is not used.
	if [[ " ${missing[*]} " == *" docker-registry "* ]] && command -v systemctl >/dev/null && systemctl disable --now docker-registry 2>/dev/null; then
		say "stopped and disabled the host's docker-registry service (the tests start their own)"
	fi
fi

# --- /dev/net/tun -------------------------------------------------------------
# Some machine images create it 0600; udev's default rules (and every
# mainstream distribution) make it 0666. An unprivileged user needs it for the
# user-mode network stack of bridge pods.
if [[ -c /dev/net/tun ]]; then
	mode=$(stat -c %a /dev/net/tun)
	if [[ $mode != 666 ]]; then
		chmod 0666 /dev/net/tun
		say "made /dev/net/tun mode 0666, as distributions ship it (it was $mode)"
	else
		say "ok: /dev/net/tun is mode 0666"
	fi
fi

# --- subordinate id ranges --------------------------------------------------
# has_range FILE USER: USER (by name or uid) has a line in FILE.
has_range() {
	local file=$1 user=$2 uid
	uid=$(id -u "$user")
	[[ -f $file ]] && awk -F: -v n="$user" -v u="$uid" '$1==n || $1==u {found=1} END {exit !found}' "$file"
}

# free_start: first start >= SUB_FIRST_START, in steps of SUB_COUNT, whose
# range [start, start+SUB_COUNT) overlaps no range in /etc/subuid or /etc/subgid.
free_start() {
	cat /etc/subuid /etc/subgid 2>/dev/null | awk -F: -v first="$SUB_FIRST_START" -v n="$SUB_COUNT" '
		NF >= 3 && $2 ~ /^[0-9]+$/ && $3 ~ /^[0-9]+$/ { s[++k] = $2; e[k] = $2 + $3 }
		END {
			start = first
			for (;;) {
				clash = 0
				for (i = 1; i <= k; i++)
					if (start < e[i] && s[i] < start + n) { clash = 1; break }
				if (!clash) { print start; exit }
				start += n
			}
		}'
}

add_range() {
	local user=$1 start end
	touch /etc/subuid /etc/subgid
	if has_range /etc/subuid "$user" && has_range /etc/subgid "$user"; then
		say "ok: $user has subordinate ranges: $(grep -E "^($user|$(id -u "$user")):" /etc/subuid | head -1)"
		return
	fi
	start=$(free_start)
	end=$((start + SUB_COUNT - 1))
	if ! has_range /etc/subuid "$user"; then
		usermod --add-subuids "$start-$end" "$user"
		say "added subuid range $start-$end for $user"
	fi
	if ! has_range /etc/subgid "$user"; then
		usermod --add-subgids "$start-$end" "$user"
		say "added subgid range $start-$end for $user"
	fi
}

del_ranges() {
	local user=$1 file line start count
	for file in /etc/subuid /etc/subgid; do
		[[ -f $file ]] || continue
		while IFS=: read -r _ start count; do
			[[ -n $start ]] || continue
			if [[ $file == /etc/subuid ]]; then
				usermod --del-subuids "$start-$((start + count - 1))" "$user"
			else
				usermod --del-subgids "$start-$((start + count - 1))" "$user"
			fi
			say "removed $file range $start+$count from $user (it must have none)"
		done < <(awk -F: -v n="$user" -v u="$(id -u "$user")" '$1==n || $1==u' "$file")
	done
}

# --- users ------------------------------------------------------------------
nologin=/usr/sbin/nologin
[[ -x $nologin ]] || nologin=/bin/false

ensure_user() {
	local user=$1
	if getent passwd "$user" >/dev/null; then
		say "ok: user $user exists (uid $(id -u "$user"))"
		return
	fi
	# --system: no automatic /etc/subuid entry, no home, no aging.
	useradd --system --user-group --no-create-home --home-dir /nonexistent \
		--shell "$nologin" --comment "sandbox end-to-end tests" "$user"
	say "created user $user (uid $(id -u "$user"), gid $(id -g "$user"))"
}

ensure_user sandbox-e2e
ensure_user sandbox-e2e-nosub
add_range sandbox-e2e
del_ranges sandbox-e2e-nosub
add_range root

say "done"
