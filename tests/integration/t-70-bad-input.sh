#!/usr/bin/env bash
# Bad input: every case exits non-zero (2 = usage error, 1 = runtime failure),
# says on stderr what is wrong ("kiln: <thing>: <cause>", naming the path,
# option or value), prints nothing on stdout, creates nothing at any DEST,
# and leaves an existing DEST byte-identical.
. "$(dirname "$0")/lib.sh"
need_root
need_kiln
need python3 jq setpriv gzip

KN=$(kiln_for_nobody)

# A good small rootfs.
GOOD=$T/good
mkdir -p "$GOOD/etc"
echo hello >"$GOOD/etc/hello"

# dests DIR: -o arguments for the three kinds of output, all inside DIR
dests() { printf '%s\n' -o "oci:$1/layout:1" -o "oci-archive:$1/img.oci.tar" -o "docker-archive:$1/img.docker.tar"; }
# snapshot DIR: a listing + checksums of everything below DIR
snapshot() { (cd "$1" && find . -printf '%p %y %m %s\n' | sort && find . -type f -print0 | sort -z | xargs -0r sha256sum); }

_CASE=0
RUNAS=()   # empty: run as root; (as_nobody): run as uid 65534
# expect_error CODE NEEDLE DESC [--keep DIR] -- KILN-BUILD-ARGS...
#   NEEDLE: a fixed string that a "kiln..." stderr line must contain;
#   "re:ERE" for a regular expression.
# Runs kiln with fresh DESTs in an empty dir ($CASE_DIR, also given to the args
# as {D}) — or, with --keep DIR, with the DESTs of an existing good build in DIR,
# which must stay byte-identical. Then once more with -q: exactly one line for
# a runtime error (1), at most 3 for a usage error (2).
expect_error() {
  local code=$1 needle=$2 desc=$3; shift 3
  local keep=
  if [ "$1" = --keep ]; then keep=$2; shift 2; fi
  [ "$1" = -- ] && shift
  _CASE=$((_CASE + 1))
  local d=${keep:-$T/case$_CASE}
  mkdir -p "$d"
  [ ${#RUNAS[@]} -eq 0 ] || chown 65534:65534 "$d"
  local -a args=()
  local a
  for a in "$@"; do args+=("${a//\{D\}/$d}"); done
  local before
  before=$(snapshot "$d")
  local kiln=$KILN
  [ ${#RUNAS[@]} -eq 0 ] || kiln=$KN
  local q
  for q in "" -q; do
    run "${RUNAS[@]}" "$kiln" build $q "${args[@]}"
    local tag="$desc${q:+ (-q)}"
    if [ "$RC" = "$code" ]; then ok "$tag: exit status $code"
    else not_ok "$tag: exit status $code" "got $RC; stderr: $ERR; stdout: $OUT"; fi
    assert_eq "" "$OUT" "$tag: nothing on stdout"
    local hit
    if [ "${needle#re:}" != "$needle" ]; then
      hit=$(printf '%s\n' "$ERR" | grep -E '^kiln' | grep -E -- "${needle#re:}" || true)
    else
      hit=$(printf '%s\n' "$ERR" | grep -E '^kiln' | grep -F -- "$needle" || true)
    fi
    if [ -n "$hit" ]; then ok "$tag: stderr names '$needle'"
    else not_ok "$tag: stderr names '$needle'" "stderr: $ERR"; fi
    if [ -n "$q" ]; then
      local n
      n=$(printf '%s' "$ERR" | grep -c '' || true)
      if [ "$code" = 1 ]; then
        assert_eq 1 "$n" "$tag: exactly one line on stderr"
        assert_match '^kiln: .+: .+' "$ERR" "$tag: the line reads 'kiln: <thing>: <cause>'"
      elif [ "$n" -ge 1 ] && [ "$n" -le 3 ]; then ok "$tag: 1-3 lines on stderr (no help dump)"
      else not_ok "$tag: 1-3 lines on stderr (no help dump)" "$n lines: $ERR"; fi
    fi
    if [ -n "$keep" ]; then
      assert_eq "$before" "$(snapshot "$d")" "$tag: existing DESTs left byte-identical, nothing added"
    else
      assert_eq "" "$(ls -A "$d")" "$tag: nothing created at DEST"
    fi
  done
}

say "usage errors (exit 2)"
mapfile -t D < <(dests '{D}')
expect_error 2 --frobnicate "unknown option" -- --frobnicate --rootfs "$GOOD" "${D[@]}"
# long options are taken in full only (glibc's getopt_long would take a prefix)
expect_error 2 "unknown option '--rootf'" "--rootf is not --rootfs" -- --rootf "$GOOD" "${D[@]}"
expect_error 2 "unknown option '--rootf'" "--rootf=DIR is not --rootfs" -- "--rootf=$GOOD" "${D[@]}"
expect_error 2 "unknown option '--co' (options cannot be abbreviated: did you mean --compression or --compression-level?)" \
  "an ambiguous --co" -- --co gzip --rootfs "$GOOD" "${D[@]}"
expect_error 2 "option '--insecure' takes no value" "--insecure=1" -- --insecure=1 --rootfs "$GOOD" "${D[@]}"
expect_error 2 NOEQUALS "--env without =" -- --env NOEQUALS --rootfs "$GOOD" "${D[@]}"
expect_error 2 99999 "--port 99999" -- --port 99999 --rootfs "$GOOD" "${D[@]}"
expect_error 2 're:port' "--port 0" -- --port 0 --rootfs "$GOOD" "${D[@]}"
expect_error 2 icmp "--port 80/icmp" -- --port 80/icmp --rootfs "$GOOD" "${D[@]}"
expect_error 2 abc "--port abc" -- --port abc --rootfs "$GOOD" "${D[@]}"
expect_error 2 linux "--platform linux" -- --platform linux --rootfs "$GOOD" "${D[@]}"
expect_error 2 foo "--platform foo/bar" -- --platform foo/bar --rootfs "$GOOD" "${D[@]}"
expect_error 2 "UPPER/Case:tag" "--tag with upper case" -- --tag 'UPPER/Case:tag' --rootfs "$GOOD" "${D[@]}"
expect_error 2 "app:bad tag" "--tag with a space" -- --tag 'app:bad tag' --rootfs "$GOOD" "${D[@]}"
expect_error 2 bogus "--compression bogus" -- --compression bogus --rootfs "$GOOD" "${D[@]}"
expect_error 2 notanumber "--source-date-epoch notanumber" -- --source-date-epoch notanumber --rootfs "$GOOD" "${D[@]}"
expect_error 2 relative/vol "--volume not absolute" -- --volume relative/vol --rootfs "$GOOD" "${D[@]}"
expect_error 2 "re:--cmd|oops" "--cmd with an unterminated quote" -- --cmd "echo 'oops" --rootfs "$GOOD" "${D[@]}"
expect_error 2 "bogus:" "-o with an unknown transport" -- --rootfs "$GOOD" -o "bogus:{D}/x"
expect_error 2 "re:dokcer-archive:.*unknown transport.*oci:DIR.*oci-archive:FILE.*docker-archive:FILE.*docker://" \
  "-o with a misspelt transport: all four named" -- --rootfs "$GOOD" -o "dokcer-archive:{D}/x"
expect_error 2 "invalid port 99999" "-o docker:// with a port out of range (a usage error, not a network one)" \
  -- --rootfs "$GOOD" -o "docker://127.0.0.1:99999/x:1"
expect_error 2 "@INDEX" "-o with an @INDEX" -- --rootfs "$GOOD" -o "oci:{D}/l:@0"
expect_error 2 're:(-o|--output|output)' "no -o" -- --rootfs "$GOOD"
expect_error 2 're:(--rootfs|--tar|input)' "no inputs" -- "${D[@]}"

say "every command takes long options in full only"
for c in copy index inspect digest tags list unpack login logout diff; do
  run "$KN" "$c" --hel
  assert_eq 2 "$RC" "kiln $c --hel: usage error (exit 2)"
  assert_contains "unknown option '--hel' (options cannot be abbreviated: did you mean --help?)" "$ERR" \
    "kiln $c --hel: named as an unknown option"
  assert_eq "" "$OUT" "kiln $c --hel: no help printed"
done
run "$KN" copy --platfor linux/amd64 "oci:$T/none:1" "oci:$T/none2:1"
assert_eq 2 "$RC" "kiln copy --platfor VALUE: usage error, nothing read"
assert_contains "unknown option '--platfor'" "$ERR" "the abbreviation is named, not its value"

say "runtime errors (exit 1): inputs"
expect_error 1 "$T/nope" "missing --rootfs dir" -- --rootfs "$T/nope" "${D[@]}"
expect_error 1 "$T/nope.tar.gz" "missing --tar file" -- --tar "$T/nope.tar.gz" "${D[@]}"
python3 -c 'import random,sys; r=random.Random(42); sys.stdout.buffer.write(bytes(r.getrandbits(8) for _ in range(65536)))' >"$T/random.tar"
expect_error 1 "$T/random.tar" "corrupt tarball (random bytes)" -- --tar "$T/random.tar" "${D[@]}"
# a valid tar.gz of incompressible data, cut in half
mkdir -p "$T/big"
python3 -c 'import random,sys; r=random.Random(7); sys.stdout.buffer.write(bytes(r.getrandbits(8) for _ in range(300000)))' >"$T/big/blob"
echo small >"$T/big/small"
tar -C "$T/big" -czf "$T/full.tar.gz" .
gzip -t "$T/full.tar.gz" || fail "setup: full.tar.gz"
head -c $(( $(stat -c %s "$T/full.tar.gz") / 2 )) "$T/full.tar.gz" >"$T/half.tar.gz"
expect_error 1 "$T/half.tar.gz" "truncated .tar.gz" -- --tar "$T/half.tar.gz" "${D[@]}"
tar -C "$T/big" -cf "$T/full.tar" .
head -c 150000 "$T/full.tar" >"$T/half.tar"
expect_error 1 "$T/half.tar" "truncated plain tar (cut inside a member)" -- --tar "$T/half.tar" "${D[@]}"

say "runtime errors leave an existing DEST as it was"
EX=$T/existing
mkdir -p "$EX"
mapfile -t DX < <(dests "$EX")
kiln_build --rootfs "$GOOD" --tag keep:1 "${DX[@]}"
expect_error 1 "$T/nope" "missing --rootfs dir, existing DESTs" --keep "$EX" -- --rootfs "$T/nope" "${DX[@]}"
expect_error 1 "$T/random.tar" "corrupt tarball, existing DESTs" --keep "$EX" -- --tar "$T/random.tar" "${DX[@]}"
expect_error 1 "$T/half.tar.gz" "truncated .tar.gz, existing DESTs" --keep "$EX" -- --tar "$T/half.tar.gz" "${DX[@]}"
# a failing second input after a good first one
expect_error 1 "$T/half.tar.gz" "good --rootfs then truncated --tar, existing DESTs" --keep "$EX" -- --rootfs "$GOOD" --tar "$T/half.tar.gz" "${DX[@]}"

say "runtime errors (exit 1): outputs"
expect_error 1 "$T/nodir" "oci-archive into a missing parent dir (and nothing at the other DEST)" -- --rootfs "$GOOD" -o "oci:{D}/layout:1" -o "oci-archive:$T/nodir/sub/img.tar"
expect_error 1 "$T/nodir" "docker-archive into a missing parent dir" -- --rootfs "$GOOD" -o "docker-archive:$T/nodir/sub/img.tar" -o "oci-archive:{D}/img.tar"
assert_not_exists "$T/nodir" "the missing parent was not created"

say "runtime errors as an unprivileged user"
RUNAS=(as_nobody)
mkdir -p "$T/unr/tree/sub" "$T/unr2/tree/private"
echo a >"$T/unr/tree/readable"; echo b >"$T/unr/tree/sub/locked"; chmod 000 "$T/unr/tree/sub/locked"
echo c >"$T/unr2/tree/private/x"; chmod 700 "$T/unr2/tree/private"
expect_error 1 "locked" "unreadable file in the rootfs (as nobody)" -- --rootfs "$T/unr/tree" "${D[@]}"
expect_error 1 "private" "unreadable directory in the rootfs (as nobody)" -- --rootfs "$T/unr2/tree" "${D[@]}"
mkdir -p "$T/ro"; chmod 555 "$T/ro"
expect_error 1 "$T/ro" "oci-archive into a read-only dir (as nobody)" -- --rootfs "$GOOD" -o "oci-archive:$T/ro/img.tar" -o "oci:{D}/layout:1"
expect_error 1 "$T/ro" "oci layout into a read-only dir (as nobody)" -- --rootfs "$GOOD" -o "oci:$T/ro/layout:1" -o "docker-archive:{D}/img.tar"
assert_eq "" "$(ls -A "$T/ro")" "nothing created in the read-only dir"
tar -C "$GOOD" -czf "$T/locked.tgz" .; chmod 600 "$T/locked.tgz"
expect_error 1 "--tar $T/locked.tgz: Permission denied" "unreadable --tar file (as nobody): the cause is named" -- --tar "$T/locked.tgz" "${D[@]}"
RUNAS=()

say "full filesystem (a 64 KiB tmpfs)"
FULL=$T/full
mkdir -p "$FULL"
mount -t tmpfs -o size=64k,mode=755 tmpfs "$FULL" || fail "cannot mount a tmpfs (tests run as root)"
mkdir -p "$T/bigroot"
python3 -c 'import random,sys; r=random.Random(9); sys.stdout.buffer.write(bytes(r.getrandbits(8) for _ in range(1048576)))' >"$T/bigroot/random.bin"
expect_error 1 "$FULL" "build bigger than the filesystem" -- --rootfs "$T/bigroot" -o "oci:$FULL/layout:1" -o "oci-archive:$FULL/img.oci.tar" -o "docker-archive:$FULL/img.docker.tar"
assert_eq "" "$(ls -A "$FULL")" "nothing left in the full filesystem"
assert_eq "0" "$(df -k --output=used "$FULL" | tail -n 1 | tr -d ' ')" "the tmpfs is empty again (no unlinked-but-open leftovers)"
mkdir -p "$FULL/keep"
kiln_build --rootfs "$GOOD" -o "oci-archive:$FULL/keep/img.oci.tar"
expect_error 1 "$FULL" "full filesystem, existing oci-archive DEST" --keep "$FULL/keep" -- --rootfs "$T/bigroot" -o "oci-archive:$FULL/keep/img.oci.tar"
mkdir -p "$FULL/keep2"
kiln_build --rootfs "$GOOD" -o "oci:$FULL/keep2/layout:small"
expect_error 1 "$FULL" "full filesystem, adding to an existing oci layout" --keep "$FULL/keep2" -- --rootfs "$T/bigroot" -o "oci:$FULL/keep2/layout:big"
rm -rf "$FULL/keep" "$FULL/keep2"
# a --tar whose members are not in order is spooled to TMPDIR: a full one is named
mkdir -p "$T/unsorted/a"; cp "$T/bigroot/random.bin" "$T/unsorted/a/"; echo z >"$T/unsorted/z"
tar -C "$T/unsorted" -czf "$T/unsorted.tgz" z a
TMPDIR=$FULL expect_error 1 "--tar $T/unsorted.tgz: cannot spool its files to a temporary file in $FULL (set TMPDIR to a directory with room for them): No space left on device" \
  "--tar spooled into a full TMPDIR: the directory and TMPDIR are named" -- --tar "$T/unsorted.tgz" "${D[@]}"
assert_eq "0" "$(df -k --output=used "$FULL" | tail -n 1 | tr -d ' ')" "the spool is gone from the full TMPDIR"
umount "$FULL"

say "hostile tar members: ../evil, a/../../evil2, /etc/evil"
python3 - "$T" <<'EOF'
import io, sys, tarfile
T = sys.argv[1]
def mk(path, names):
    with tarfile.open(path, "w", format=tarfile.PAX_FORMAT) as tf:
        for n in names:
            data = ("content of %s\n" % n).encode()
            ti = tarfile.TarInfo(n); ti.size = len(data); ti.mode = 0o644
            tf.addfile(ti, io.BytesIO(data))
mk(T + "/dotdot.tar", ["ok.txt", "../evil"])
mk(T + "/dotdot2.tar", ["ok.txt", "a/../../evil2"])
mk(T + "/abs.tar", ["ok.txt", "/etc/kiln-evil"])
EOF
[ ! -e /etc/kiln-evil ] || fail "setup: /etc/kiln-evil exists already"
for t in dotdot dotdot2 abs; do
  d=$T/evil-$t
  mkdir -p "$d"
  run "$KILN" build --tar "$T/$t.tar" -o "oci:$d/layout:1"
  if [ "$RC" -eq 0 ]; then
    say "$t.tar: accepted; the layer must be normalised"
    lb=$(blob "$d/layout" "$(layout_manifest "$d/layout" | jq -r '.layers[0].digest')")
    python3 "$LIB_DIR/treeinfo.py" names "$lb" >"$T/$t.names"
    if grep -Eq '^/|(^|/)\.\.(/|$)' "$T/$t.names"; then not_ok "$t.tar: no absolute or '..' member in the layer" "$(cat "$T/$t.names")"
    else ok "$t.tar: no absolute or '..' member in the layer"; fi
    if [ "$t" = abs ]; then
      grep -qx 'etc/kiln-evil' "$T/$t.names" && ok "abs.tar: /etc/kiln-evil became etc/kiln-evil" || not_ok "abs.tar: /etc/kiln-evil became etc/kiln-evil" "$(cat "$T/$t.names")"
    else
      # the contract says '..' members are rejected
      not_ok "$t.tar: a '..' member is rejected (contract: \"'..' members rejected\")" "kiln accepted it; layer members: $(tr '\n' ' ' <"$T/$t.names")"
    fi
  else
    say "$t.tar: rejected"
    assert_eq 1 "$RC" "$t.tar: exit status 1"
    assert_match '^kiln: .*evil' "$ERR" "$t.tar: stderr names the member"
    assert_eq "" "$(ls -A "$d")" "$t.tar: nothing created at DEST"
    [ "$t" != abs ] || not_ok "abs.tar: a leading / is stripped, not an error (contract)" "stderr: $ERR"
  fi
done
assert_not_exists /etc/kiln-evil "nothing written to /etc/kiln-evil"
assert_not_exists "$T/evil" "nothing written next to the tarballs"
