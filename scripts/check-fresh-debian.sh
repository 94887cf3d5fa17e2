#!/usr/bin/env bash
# Runs the README's two commands on a truly fresh, minimal Debian 12: a chroot made with
# `debootstrap --variant=minbase bookworm`, holding a clone of this repository at HEAD.
# A package the project needs but our own machines happen to have (as libomp-14-dev was, issue 18)
# makes one of them fail here.
#
# Usage: scripts/check-fresh-debian.sh [--only test|main|both] [--keep] [--dir DIR] [--log FILE]
#                                      [--cache FILE | --no-cache] [--refresh-cache]
#   --only WHAT     main: the README's first command (install, build, train on Fashion-MNIST);
#                   test: its second (scripts/test.sh); both (default): main, then test in the same tree
#   --keep          keep the chroot afterwards (its mounts are still removed)
#   --dir DIR       where to build the chroot (default: a new /var/tmp/sepconv-fresh.XXXXXX);
#                   an existing DIR must be empty
#   --log FILE      full log (default: DIR.log); the console gets the steps and a summary
#   --cache FILE    pristine tarball of the debootstrapped system, made on the first run and
#                   unpacked instead of running debootstrap on later ones
#                   (default: /var/cache/sepconv/bookworm-minbase-ARCH.tar)
#   --no-cache      always run debootstrap, neither read nor write a tarball
#   --refresh-cache run debootstrap and replace the tarball
# Environment: SEPCONV_* variables (e.g. SEPCONV_QUICK=1, which makes scripts/test.sh stop after
# the Release suite) and the http/https/no_proxy variables are passed into the chroot; nothing
# else of the caller's environment is.
#
# The mirror is the machine's own, read at run time from /etc/apt/sources.list.d/*.sources (the
# first URI of an enabled entry whose Suites include bookworm) or /etc/apt/sources.list. The
# chroot gets the same apt sources, the local apt settings that configure how to fetch
# (Acquire::... such as proxies, in files of /etc/apt/apt.conf.d not shipped by a package),
# /etc/apt/auth.conf.d, and /etc/resolv.conf and /etc/hosts.
# Needs root (debootstrap, mount, chroot). Exit status: 0 if every command run passed.
set -uo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
only=both keep=0 dir="" log="" use_cache=1 refresh=0
arch=$(dpkg --print-architecture 2>/dev/null || echo amd64)
cache=/var/cache/sepconv/bookworm-minbase-$arch.tar

usage() { sed -n '2,/^set -uo/{/^set -uo/d;s/^# \{0,1\}//;p}' "$0"; }
while [ $# -gt 0 ]; do
  case "$1" in
    --only) only=${2:-}; shift ;;
    --only=*) only=${1#--only=} ;;
    --keep) keep=1 ;;
    --dir) dir=${2:-}; shift ;;
    --dir=*) dir=${1#--dir=} ;;
    --log) log=${2:-}; shift ;;
    --log=*) log=${1#--log=} ;;
    --cache) cache=${2:-}; shift ;;
    --cache=*) cache=${1#--cache=} ;;
    --no-cache) use_cache=0 ;;
    --refresh-cache) refresh=1 ;;
    -h|--help) usage; exit 0 ;;
    *) echo "unknown option: $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done
case "$only" in test|main|both) ;; *) echo "--only takes test, main or both, not '$only'" >&2; exit 2 ;; esac
if [ "$(id -u)" -ne 0 ]; then
  echo "check-fresh-debian.sh must run as root (it runs debootstrap, mount and chroot): try sudo $0 $*" >&2
  exit 1
fi

# ---------------------------------------------------------------------------------------------
# The mirror: the machine's own Debian mirror for bookworm, never a host written here.
find_mirror() {
  local f
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -f "$f" ] || continue
    # deb822: paragraphs separated by blank lines; keys are case-insensitive.
    awk 'function flush() { if (deb && enabled && suite && uri != "") { print uri; found = 1; exit }
                            deb = 0; enabled = 1; suite = 0; uri = "" }
         BEGIN { enabled = 1 }
         /^[ \t]*#/ { next }
         /^[ \t]*$/ { flush(); next }
         { line = $0; key = tolower(line); sub(/:.*/, "", key); val = line; sub(/^[^:]*:[ \t]*/, "", val)
           n = split(val, w, /[ \t]+/)
           if (key == "types")   { for (i = 1; i <= n; i++) if (w[i] == "deb") deb = 1 }
           if (key == "enabled") { if (tolower(w[1]) == "no") enabled = 0 }
           if (key == "suites")  { for (i = 1; i <= n; i++) if (w[i] == "bookworm") suite = 1 }
           if (key == "uris")    { uri = w[1] } }
         END { if (!found) flush() }' "$f" | head -n1 | grep . && return 0
  done
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [ -f "$f" ] || continue
    # deb [options] URI SUITE COMPONENT...
    sed -e 's/#.*//' -e 's/\[[^]]*\]//' "$f" | awk '$1 == "deb" && $3 == "bookworm" { print $2; exit }' | grep . && return 0
  done
  return 1
}

# ---------------------------------------------------------------------------------------------
# Chroot, mounts, cleanup.
made_dir=0
if [ -z "$dir" ]; then
  dir=$(mktemp -d /var/tmp/sepconv-fresh.XXXXXX) || exit 1
  made_dir=1
else
  mkdir -p "$dir" || exit 1
  dir=$(cd "$dir" && pwd)
  [ -z "$(ls -A "$dir")" ] || { echo "--dir $dir is not empty" >&2; exit 2; }
  made_dir=1
fi
[ "$dir" != / ] || { echo "refusing to use / as the chroot" >&2; exit 2; }
[ -n "$log" ] || log=$dir.log
: >"$log" || exit 1
log=$(cd "$(dirname "$log")" && pwd)/$(basename "$log")

# Mount points under $dir, deepest first (the kernel's escaping of blanks is left as is:
# $dir has none unless --dir gave one, and then umount of the octal form fails loudly).
mounts_under() { awk -v d="$dir" '$5 == d || index($5, d "/") == 1 { print $5 }' /proc/self/mountinfo | sort -r; }

cleanup_done=0
cleanup() {
  local rc=$? pid p
  [ "$cleanup_done" = 1 ] && return
  cleanup_done=1
  trap '' INT TERM
  # Processes still running inside the chroot (a Ctrl-C leaves none, normally): ours, by pid.
  local killed=0
  for p in /proc/[0-9]*; do
    pid=${p#/proc/}
    [ "$(readlink "$p/root" 2>/dev/null)" = "$dir" ] && kill -TERM "$pid" 2>/dev/null && killed=1
  done
  [ "$killed" = 1 ] && sleep 2
  for m in $(mounts_under); do
    umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || echo "could not unmount $m" >&2
  done
  if [ -n "$(mounts_under)" ]; then
    echo "still mounted under $dir, NOT removing it:" >&2
    mounts_under >&2
  elif [ "$keep" = 1 ]; then
    echo "chroot kept in $dir (enter it with: chroot $dir /bin/bash)"
  elif [ "$made_dir" = 1 ]; then
    # --one-file-system: never follow into anything still mounted.
    rm -rf --one-file-system "$dir"
  fi
  echo "log: $log"
  exit "$rc"
}
trap cleanup EXIT
trap 'echo; echo "interrupted" >&2; exit 130' INT
trap 'exit 143' TERM

# ---------------------------------------------------------------------------------------------
# Steps, each timed and logged.
names=() results=() seconds=()
say() { echo "[$(date +%H:%M:%S)] $*" | tee -a "$log"; }
# step NAME FUNCTION...: runs it with output to the log only, records pass/fail and time.
step() {
  local name=$1 start end rc; shift
  say "$name ..."
  echo "===== $name: $*" >>"$log"
  start=$(date +%s)
  "$@" >>"$log" 2>&1 </dev/null
  rc=$?
  end=$(date +%s)
  names+=("$name"); seconds+=($((end - start)))
  if [ $rc -eq 0 ]; then results+=(pass); say "$name: pass ($((end - start)) s)"
  else
    local tail_of_log
    tail_of_log=$(awk -v h="===== $name: " 'index($0, h) == 1 { buf = "" } { buf = buf $0 "\n" } END { printf "%s", buf }' "$log" |
      tail -n 40 | sed 's/^/    /')
    results+=("FAIL ($rc)"); say "$name: FAIL, exit $rc ($((end - start)) s); end of its log:"
    echo "$tail_of_log"
  fi
  return $rc
}
summary() {
  local i total=0
  echo
  echo "Summary (fresh Debian 12 minbase chroot, $repo_head):"
  for i in "${!names[@]}"; do
    printf '  %-44s %-10s %6d s  (%s)\n' "${names[$i]}" "${results[$i]}" "${seconds[$i]}" \
      "$(date -u -d @"${seconds[$i]}" +%H:%M:%S)"
    total=$((total + seconds[i]))
  done
  printf '  %-44s %-10s %6d s\n' total "" "$total"
}

install_debootstrap() {
  command -v debootstrap >/dev/null && return 0
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends debootstrap
}

make_chroot() {
  if [ "$use_cache" = 1 ] && [ "$refresh" = 0 ] && [ -s "$cache" ]; then
    echo "unpacking $cache into $dir"
    tar -C "$dir" --numeric-owner -xpf "$cache"
    return
  fi
  debootstrap --variant=minbase bookworm "$dir" "$mirror" || return
  # debootstrap unmounts what it mounted; check, so the tarball holds no /proc.
  [ -z "$(mounts_under)" ] || { echo "debootstrap left mounts:"; mounts_under; return 1; }
  if [ "$use_cache" = 1 ]; then
    mkdir -p "$(dirname "$cache")" &&
      tar -C "$dir" --numeric-owner --one-file-system -cpf "$cache.tmp" . &&
      mv "$cache.tmp" "$cache" && echo "pristine copy saved to $cache ($(du -h "$cache" | cut -f1))"
  fi
}

configure_chroot() {
  local f base key
  # apt sources: the machine's, instead of debootstrap's one-line sources.list.
  rm -f "$dir/etc/apt/sources.list"
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.sources /etc/apt/sources.list.d/*.list; do
    [ -f "$f" ] || continue
    cp -v "$f" "$dir$f"
    # A keyring a source names (Signed-By / signed-by=) that the fresh system lacks.
    for key in $(grep -hoiE '(signed-by:[[:space:]]*|signed-by=)/[^] [:space:]]+' "$f" | sed -E 's/^[^/]*//'); do
      [ -f "$key" ] && [ ! -e "$dir$key" ] && mkdir -p "$(dirname "$dir$key")" && cp -v "$key" "$dir$key"
    done
  done
  # Local apt settings on how to fetch (proxies, Check-Valid-Until for snapshot mirrors, ...):
  # files that set Acquire:: options and that no package ships.
  for f in /etc/apt/apt.conf /etc/apt/apt.conf.d/*; do
    [ -f "$f" ] || continue
    grep -qE '^[[:space:]]*Acquire' "$f" || continue
    dpkg -S "$f" >/dev/null 2>&1 && continue
    cp -v "$f" "$dir$f"
  done
  if [ -d /etc/apt/auth.conf.d ] && [ -n "$(ls -A /etc/apt/auth.conf.d)" ]; then
    cp -a /etc/apt/auth.conf.d/. "$dir/etc/apt/auth.conf.d/" && echo "copied /etc/apt/auth.conf.d"
  fi
  cp -vL /etc/resolv.conf "$dir/etc/resolv.conf"
  cp -v /etc/hosts "$dir/etc/hosts"
}

mount_chroot() {
  mount -t proc proc "$dir/proc" &&
    { mount -t sysfs sysfs "$dir/sys" || mount --rbind /sys "$dir/sys"; } &&
    mount --rbind /dev "$dir/dev" &&
    mount --make-rslave "$dir/dev" &&
    echo "mounted:" && mounts_under
}

setup_chroot() { configure_chroot && mount_chroot; }

clone_project() {
  # Cloned outside (git is not part of a fresh system) and copied in: only what is committed.
  git -C "$repo" status --porcelain | grep -q . && echo "note: uncommitted changes in $repo are not part of the check"
  git clone -q --no-hardlinks "$repo" "$dir/root/sepconv" &&
    git -C "$dir/root/sepconv" checkout -q --detach "$repo_commit" &&
    git -C "$dir/root/sepconv" log -1 --format='%H %s'
}

# The first two ```sh blocks of the clone's README: the main job and the test suite.
readme_command() {
  awk -v want="$1" '/^```sh[[:space:]]*$/ { n++; inside = (n == want); next }
                    /^```/ { inside = 0; next }
                    inside { print }' "$dir/root/sepconv/README.md"
}

run_in_chroot() {
  local envs=(HOME=/root PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin TERM=dumb)
  local v
  for v in $(compgen -e); do
    case "$v" in SEPCONV_*|http_proxy|https_proxy|no_proxy|HTTP_PROXY|HTTPS_PROXY|NO_PROXY) envs+=("$v=${!v}") ;; esac
  done
  echo "environment: ${envs[*]}"
  echo "command: $1"
  chroot "$dir" /usr/bin/env -i "${envs[@]}" /bin/bash -c "cd /root/sepconv && $1"
}

# ---------------------------------------------------------------------------------------------
repo_commit=$(git -C "$repo" rev-parse HEAD) || { echo "$repo is not a git repository" >&2; exit 1; }
repo_head=${repo_commit:0:7}
say "fresh Debian 12 check of $repo at $repo_head; chroot $dir; log $log"
step "install debootstrap" install_debootstrap || { summary; exit 1; }
mirror=$(find_mirror) || { echo "no bookworm mirror in /etc/apt/sources.list.d/*.sources or /etc/apt/sources.list" >&2; exit 1; }
say "mirror: $mirror"
if [ "$use_cache" = 1 ] && [ "$refresh" = 0 ] && [ -s "$cache" ]; then
  step "unpack cached minbase system" make_chroot || { summary; exit 1; }
else
  step "debootstrap --variant=minbase" make_chroot || { summary; exit 1; }
fi
step "apt configuration and mounts" setup_chroot || { summary; exit 1; }
step "clone $repo_head" clone_project || { summary; exit 1; }

main_cmd=$(readme_command 1) test_cmd=$(readme_command 2)
[ -n "$main_cmd" ] && [ -n "$test_cmd" ] || { echo "could not read the two commands of README.md" >&2; exit 1; }
status=0
if [ "$only" != test ]; then
  step "README main: ${main_cmd:0:24}..." run_in_chroot "$main_cmd" || status=1
fi
if [ "$only" != main ]; then
  label="README test: $test_cmd"
  [ -n "${SEPCONV_QUICK:-}" ] && label="$label (SEPCONV_QUICK=$SEPCONV_QUICK)"
  step "$label" run_in_chroot "$test_cmd" || status=1
fi
summary | tee -a "$log"
exit $status
