#!/usr/bin/env bash
# Puts Debian's Alertmanager and Pushgateway binaries under .tools/prometheus/usr/bin/ for the
# tests (tests/alert/test_alertmanager.py, tests/test_pushgateway.py), without installing
# anything on the system: `apt-get download` fetches the two .deb files into a cache folder
# and `dpkg-deb -x` unpacks them into .tools/prometheus/ (gitignored). Idempotent: once both
# binaries run, it does nothing (no network). Run by `make tools` (and so by make check/test).
#
#   scripts/prometheus-tools.sh [DEST]      DEST defaults to .tools/prometheus
#
# Debian's Alertmanager reads its default notification templates from the absolute path
# /usr/share/prometheus/alertmanager (upstream's binary embeds them) and will not start without
# them. Nothing is put there: the path inside the unpacked binary is rewritten to the relative
# path of the same length ./share/prometheus/alertmanager///, and the tests start it in
# .tools/prometheus/usr/, where that is the unpacked templates' folder.
#
# Elsewhere than Debian/Ubuntu: put the binaries (any Alertmanager >= 0.25 and Pushgateway >= 1.5)
# at DEST/usr/bin/prometheus-alertmanager and DEST/usr/bin/prometheus-pushgateway yourself.
set -u
cd "$(dirname "$0")/.."
dest=${1:-.tools/prometheus}
cache=.tools/cache/debs
packages=(prometheus-alertmanager prometheus-pushgateway)
bins=("$dest/usr/bin/prometheus-alertmanager" "$dest/usr/bin/prometheus-pushgateway")

debian_share=/usr/share/prometheus/alertmanager
relative_share=./share/prometheus/alertmanager///  # as many bytes

installed() {
  local b
  for b in "${bins[@]}"; do
    [ -x "$b" ] && "$b" --version >/dev/null 2>&1 || return 1
  done
  ! LC_ALL=C grep -qaF "$debian_share" "${bins[0]}"
}

missing() {
  echo "error: $1" >&2
  echo "  the tests need ${bins[*]}" >&2
  echo "  (Debian's packages ${packages[*]}, unpacked there, or the same binaries copied there by hand)" >&2
  exit 1
}

if installed; then
  exit 0
fi
for cmd in apt-get dpkg-deb; do
  command -v "$cmd" >/dev/null 2>&1 || missing "$cmd not found: this script fetches Debian packages"
done

mkdir -p "$cache"
sandbox=()
# As root, apt drops to the _apt user, who cannot write here: it warns and downloads as root
# anyway. Say so up front instead.
[ "$(id -u)" = 0 ] && sandbox=(-o APT::Sandbox::User=root)
download() {
  (cd "$cache" && apt-get download "${sandbox[@]}" "${packages[@]}" >/dev/null)
}
have_debs() {
  local p
  for p in "${packages[@]}"; do
    compgen -G "$cache/${p}_*.deb" >/dev/null || return 1
  done
}
if ! have_debs; then
  echo "downloading ${packages[*]} into $cache"
  if ! download; then
    if [ "$(id -u)" = 0 ]; then
      echo "apt-get download failed: running apt-get update, then trying again"
      apt-get update -qq >/dev/null || missing "apt-get update failed (no network or no Debian mirror?)"
      download || missing "apt-get download ${packages[*]} failed after apt-get update"
    else
      missing "apt-get download ${packages[*]} failed; the package lists may be stale: run 'sudo apt-get update' and make tools again"
    fi
  fi
fi

mkdir -p "$dest"
for p in "${packages[@]}"; do
  # The newest of the cached versions (a later download may have added one).
  deb=$(ls -1 "$cache/${p}"_*.deb | sort -V | tail -n 1)
  echo "unpacking $(basename "$deb") into $dest"
  dpkg-deb -x "$deb" "$dest" || missing "dpkg-deb -x $deb failed"
done
if LC_ALL=C grep -qaF "$debian_share" "${bins[0]}"; then
  command -v perl >/dev/null 2>&1 || missing "perl not found: it rewrites the templates' path in ${bins[0]}"
  size=$(stat -c %s "${bins[0]}")
  perl -0777 -pi -e "s|\Q$debian_share\E|$relative_share|g" "${bins[0]}" || missing "could not rewrite ${bins[0]}"
  [ "$(stat -c %s "${bins[0]}")" = "$size" ] || missing "rewriting the templates' path changed the size of ${bins[0]}"
fi
installed || missing "unpacked, but the binaries do not run"
for b in "${bins[@]}"; do
  echo "$b: $("$b" --version 2>&1 | head -n 1)"
done
