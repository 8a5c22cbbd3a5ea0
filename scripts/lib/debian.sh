# A minimal Debian system made with debootstrap, for scripts/devenv (the build environment) and
# scripts/check-package (the clean system the package is tried on). Sourced, not run; needs
# root. The caller defines say().

# The Debian mirror: the one this host's apt already uses, unless GENFILL_MIRROR says otherwise.
debian_mirror() {
  if [ -n "${GENFILL_MIRROR:-}" ]; then echo "$GENFILL_MIRROR"; return; fi
  local m
  m=$(cat /etc/apt/sources.list.d/*.sources /etc/apt/sources.list.d/*.list /etc/apt/sources.list 2>/dev/null \
      | grep -E '^[[:space:]]*(URIs:|deb )' | grep -oE 'https?://[^ ]*/debian/?([[:space:]]|$)' \
      | head -n1 | tr -d '[:space:]' || true)
  [ -n "$m" ] || { say "cannot tell which Debian mirror to use; set GENFILL_MIRROR"; exit 1; }
  echo "${m%/}"
}

# debian_minbase SUITE DIR LOG: a minimal Debian SUITE in DIR (made in DIR.partial and moved
# there only when complete); debootstrap's output goes to LOG.
debian_minbase() {
  local suite=$1 dir=$2 log=$3 m
  if ! command -v debootstrap >/dev/null; then
    say "installing debootstrap on the host"
    apt-get update -qq && apt-get install -y -qq debootstrap >/dev/null
  fi
  m=$(debian_mirror)
  rm -rf "$dir.partial"
  # An older debootstrap may not know a newer suite by name; they all build like sid.
  local script=()
  [ -e "/usr/share/debootstrap/scripts/$suite" ] || script=(/usr/share/debootstrap/scripts/sid)
  debootstrap --variant=minbase "$suite" "$dir.partial" "$m" "${script[@]}" >"$log" 2>&1 \
    || { say "debootstrap failed; see $log"; exit 1; }
  mv "$dir.partial" "$dir"
}
