#!/bin/sh
# run.sh TEST [ARGS...]: runs a unit test as ctest does, with a TMPDIR of its
# own. The test fails when it leaves a temporary file in that TMPDIR, or a
# process running that inherited it, as a shell test does
# (tests/integration/lib.sh); what it left is stopped and removed.
set -u
# directly in /tmp, not below the caller's TMPDIR: a unix socket's path
# (test_diff) has to be short, and so do some of the tests' buffers
base=$(mktemp -d /tmp/kiln-unit.XXXXXX) || exit 1
mkdir -m 1777 "$base/tmp"
TMPDIR=$base/tmp "$@"
rc=$?
# processes whose environment still names the test's TMPDIR
left=
for e in /proc/[0-9]*/environ; do
  p=${e#/proc/}
  p=${p%/environ}
  [ "$p" = "$$" ] && continue
  if { tr '\0' '\n' <"$e"; } 2>/dev/null | grep -qxF "TMPDIR=$base/tmp"; then
    left="$left $p"
  fi
done
if [ -n "$left" ]; then
  echo "$1: left processes behind:" >&2
  for p in $left; do
    printf '%s: %s\n' "$p" "$({ tr '\0' ' ' <"/proc/$p/cmdline"; } 2>/dev/null)" >&2
    kill -KILL "$p" 2>/dev/null
  done
  rc=1
fi
files=$(find "$base/tmp" -mindepth 1 -maxdepth 2 | head -n 20)
if [ -n "$files" ]; then
  echo "$1: left temporary files behind in its TMPDIR:" >&2
  echo "$files" >&2
  rc=1
fi
rm -rf "$base"
exit "$rc"
