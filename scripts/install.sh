#!/bin/sh
# Installs a berth release: picks the platform, downloads the release tarball, checks its
# SHA-256 against the checksum file published next to it, and installs berth, its shell
# completions and man pages under a prefix (default ~/.local: no root needed).
#
#   curl -fsSL https://github.com/OWNER/berth/releases/latest/download/install.sh | sh
#   sh install.sh --version 0.1.0 --prefix /usr/local
#
# Options (or the environment variables in brackets):
#   --version V    the release to install, or `latest` (the default)        [BERTH_VERSION]
#   --prefix DIR   install to DIR/bin, DIR/share/man/man1, …; default ~/.local [BERTH_PREFIX]
#   --base-url U   where releases are: U/download/vV/ASSET, U/latest/download/LATEST
#                  (default: berth's GitHub releases)                      [BERTH_DOWNLOAD_URL]
#   --target T     a platform of its own (default: this machine's)           [BERTH_TARGET]
#
# Exit codes: 0 installed; 1 a download or check failed (nothing installed); 2 bad usage or
# a platform berth has no release for.
set -eu

version="${BERTH_VERSION:-latest}"
prefix="${BERTH_PREFIX:-${HOME:-}/.local}"
base_url="${BERTH_DOWNLOAD_URL:-https://github.com/berth-cli/berth/releases}"
target="${BERTH_TARGET:-}"

say() { printf 'berth-install: %s\n' "$*" >&2; }
die() { code=$1; shift; say "error: $*"; exit "$code"; }

while [ $# -gt 0 ]; do
  case "$1" in
    --version) [ $# -ge 2 ] || die 2 "--version needs a value"; version=$2; shift 2 ;;
    --prefix) [ $# -ge 2 ] || die 2 "--prefix needs a value"; prefix=$2; shift 2 ;;
    --base-url) [ $# -ge 2 ] || die 2 "--base-url needs a value"; base_url=$2; shift 2 ;;
    --target) [ $# -ge 2 ] || die 2 "--target needs a value"; target=$2; shift 2 ;;
    -h|--help) sed -n '2,18p' "$0" 2>/dev/null | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) die 2 "unknown option $1 (see --help)" ;;
  esac
done
[ -n "$prefix" ] || die 2 "no prefix: set --prefix (HOME is not set)"
base_url=${base_url%/}

# The platform, as a Rust target triple: the releases built (see .ci/release.yml).
if [ -z "$target" ]; then
  os=$(uname -s)
  arch=$(uname -m)
  case "$os/$arch" in
    Linux/x86_64|Linux/amd64) target=x86_64-unknown-linux-gnu ;;
    Linux/aarch64|Linux/arm64) target=aarch64-unknown-linux-gnu ;;
    Darwin/x86_64) target=x86_64-apple-darwin ;;
    Darwin/arm64|Darwin/aarch64) target=aarch64-apple-darwin ;;
    *) die 2 "berth has no release for $os on $arch; build it from source: cargo install --locked berth" ;;
  esac
fi
case "$target" in
  x86_64-unknown-linux-gnu|aarch64-unknown-linux-gnu|x86_64-apple-darwin|aarch64-apple-darwin) ;;
  *) die 2 "berth has no release for the platform $target; build it from source: cargo install --locked berth" ;;
esac

if command -v curl >/dev/null 2>&1; then
  fetch() { curl -fsSL --retry 3 --retry-delay 1 -o "$2" "$1"; }
elif command -v wget >/dev/null 2>&1; then
  fetch() { wget -q -O "$2" "$1"; }
else
  die 1 "neither curl nor wget is installed"
fi
if command -v sha256sum >/dev/null 2>&1; then
  sha256() { sha256sum "$1" | cut -d' ' -f1; }
elif command -v shasum >/dev/null 2>&1; then
  sha256() { shasum -a 256 "$1" | cut -d' ' -f1; }
else
  die 1 "neither sha256sum nor shasum is installed: the download cannot be checked"
fi

tmp=$(mktemp -d 2>/dev/null || mktemp -d -t berth-install)
trap 'rm -rf "$tmp"' EXIT INT TERM

if [ "$version" = latest ]; then
  fetch "$base_url/latest/download/LATEST" "$tmp/LATEST" || die 1 "cannot find the latest release at $base_url"
  version=$(tr -d ' \r\n' <"$tmp/LATEST")
fi
version=${version#v}
case "$version" in
  ''|*[!0-9A-Za-z.+-]*) die 1 "\"$version\" is not a release version" ;;
esac

name="berth-$version-$target"
url="$base_url/download/v$version/$name.tar.gz"
say "downloading $url"
fetch "$url" "$tmp/$name.tar.gz" || die 1 "cannot download $url (is $version a release, with a build for $target?)"
fetch "$url.sha256" "$tmp/$name.tar.gz.sha256" || die 1 "cannot download the checksum $url.sha256"
want=$(cut -d' ' -f1 <"$tmp/$name.tar.gz.sha256")
got=$(sha256 "$tmp/$name.tar.gz")
if [ "$want" != "$got" ]; then
  die 1 "the download of $name.tar.gz is corrupt: SHA-256 $got, the release says $want; nothing was installed"
fi

tar -xzf "$tmp/$name.tar.gz" -C "$tmp" || die 1 "cannot unpack $name.tar.gz"
src="$tmp/$name"
[ -x "$src/berth" ] || die 1 "$name.tar.gz holds no berth binary"

mkdir -p "$prefix/bin" "$prefix/share/man/man1" \
  "$prefix/share/bash-completion/completions" "$prefix/share/zsh/site-functions" \
  "$prefix/share/fish/vendor_completions.d" || die 1 "cannot write to $prefix (use --prefix for a folder of yours)"
# Into place by rename: a running berth (or a concurrent install) never sees half a file.
cp "$src/berth" "$prefix/bin/.berth.$$" && chmod 755 "$prefix/bin/.berth.$$" &&
  mv -f "$prefix/bin/.berth.$$" "$prefix/bin/berth" || die 1 "cannot install to $prefix/bin"
cp "$src"/man/*.1 "$prefix/share/man/man1/"
cp "$src/completions/berth.bash" "$prefix/share/bash-completion/completions/berth"
cp "$src/completions/_berth" "$prefix/share/zsh/site-functions/_berth"
cp "$src/completions/berth.fish" "$prefix/share/fish/vendor_completions.d/berth.fish"

installed=$("$prefix/bin/berth" --version 2>&1) || die 1 "berth was installed to $prefix/bin but does not run here: $installed"
say "installed $installed to $prefix/bin/berth"
case ":${PATH:-}:" in
  *":$prefix/bin:"*) ;;
  *) say "note: $prefix/bin is not on PATH; add it: export PATH=\"$prefix/bin:\$PATH\"" ;;
esac
