#!/usr/bin/env bash
# fetch.sh — re-fetch the vendored browser libraries of the chat page from the npm registry:
# each package's release tarball, checked against its SHA-256 below, and the few files the page
# uses (plus the licences) copied into apps/web/vendor/<name>-<version>/. Then every file here
# is checked against SHA256SUMS. The build never runs this: the files are committed, so building
# r1 needs neither npm nor the network. To upgrade: change a version and its tarball hash (from
# `npm view NAME@VERSION dist.tarball` and sha256sum of the download), run this, fix the page's
# paths (apps/web/index.html, apps/web/app.js), run with --update-sums, and rerun the browser tests.
# Usage: apps/web/vendor/fetch.sh [--update-sums]     (needs curl, tar, sha256sum)
set -euo pipefail
cd "$(dirname "$0")"
REGISTRY=${NPM_REGISTRY:-https://registry.npmjs.org}

# name version tarball-sha256 files (paths inside the tarball's package/ folder)
PACKAGES=(
  "marked 18.3.0 ac4b23ef5425d83f7aad00a81640d29e5b0fd81a6361a30fa96b4b8bb228ad24 LICENSE lib/marked.umd.js"
  "katex 0.19.1 24da5a599eb2fcede2e270b99a6ff48bca816beecc95feeb84e8cccbd1bb34fd LICENSE dist/katex.min.js dist/katex.min.css dist/fonts/*.woff2"
  "dompurify 3.5.0 faa5f2bfe2814384b83d6edb4ed66812fbfdb2a654b4d59edd4b12304058ec20 LICENSE LICENSE-MPL dist/purify.min.js"
)

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for p in "${PACKAGES[@]}"; do
  read -r name version sum files <<<"$p"
  tgz="$tmp/$name-$version.tgz"
  curl -fsSL "$REGISTRY/$name/-/$name-$version.tgz" -o "$tgz"
  echo "$sum  $tgz" | sha256sum -c --quiet - || { echo "fetch.sh: $name-$version: tarball checksum mismatch" >&2; exit 1; }
  mkdir -p "$tmp/$name"
  tar -xzf "$tgz" -C "$tmp/$name"
  dest="$name-$version"
  rm -rf "$dest"
  mkdir -p "$dest"
  for f in $files; do
    for src in "$tmp/$name"/package/$f; do
      rel=${src#"$tmp/$name"/package/}
      rel=${rel#dist/}
      rel=${rel#lib/}
      mkdir -p "$dest/$(dirname "$rel")"
      cp "$src" "$dest/$rel"
    done
  done
  echo "fetched $dest"
done
if [ "${1:-}" = --update-sums ]; then
  find . -type f ! -name fetch.sh ! -name README.md ! -name SHA256SUMS | LC_ALL=C sort | xargs sha256sum >SHA256SUMS
  echo "SHA256SUMS updated"
fi
sha256sum -c --quiet SHA256SUMS && echo "all files match SHA256SUMS"
