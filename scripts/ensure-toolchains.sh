#!/usr/bin/env bash
# Installs the Debian toolchains edgeprop drives (scripts/toolchains.txt) when they are missing.
# As root with apt-get it installs them; otherwise it lists what is missing and fails, so no
# test ever skips silently for want of a tool.
#   --only PROBE...  check just these probes (first column of toolchains.txt)
#   --soft           when it cannot install, warn and exit 0 (npm install's postinstall)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
only=()
soft=0
while [[ $# -gt 0 ]]; do
  case "$1" in
    --soft) soft=1 ;;
    --only) shift; while [[ $# -gt 0 && "$1" != --* ]]; do only+=("$1"); shift; done; continue ;;
    *) echo "ensure-toolchains: unknown argument $1" >&2; exit 2 ;;
  esac
  shift
done
missing=()
while read -r probe pkg _; do
  case "$probe" in ''|'#'*) continue ;; esac
  if [[ ${#only[@]} -gt 0 && ! " ${only[*]} " =~ " $probe " ]]; then continue; fi
  if [[ "$probe" == /* ]]; then [[ -e "$probe" ]] && continue
  else command -v "$probe" >/dev/null 2>&1 && continue; fi
  missing+=("$pkg")
done < "$here/toolchains.txt"
[[ ${#missing[@]} -eq 0 ]] && exit 0
if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null 2>&1; then
  echo "edgeprop: installing Debian packages: ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
else
  echo "edgeprop: missing Debian packages: ${missing[*]}" >&2
  echo "edgeprop: install them with: sudo apt-get install ${missing[*]}" >&2
  [[ $soft -eq 1 ]] && exit 0
  exit 1
fi
