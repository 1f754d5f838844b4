#!/usr/bin/env bash
# --digestfile FILE on build, copy and index: the digest printed, written to
# FILE with no newline, as skopeo copy --digestfile writes it (compared with the
# real skopeo); checked before the operation, so that an unwritable one fails
# before anything is written anywhere; replaced atomically.
. "$(dirname "$0")/lib.sh"
need_kiln
need skopeo
export SOURCE_DATE_EPOCH=1700000000
mkdir -p "$T/root"
printf 'digest me\n' >"$T/root/f.txt"

say "build --digestfile"
kiln_build --rootfs "$T/root" --digestfile "$T/build.digest" -o "oci:$T/lay:1"
D=$DIGEST
assert_eq "$D" "$(cat "$T/build.digest")" "the file holds the digest printed"
assert_eq "$(printf '%s' "$D" | wc -c)" "$(wc -c <"$T/build.digest")" "with no newline"

say "copy --digestfile, as skopeo copy --digestfile writes it"
run "$KILN" copy --digestfile "$T/copy.digest" "oci:$T/lay:1" "oci:$T/lay2:1"
assert_eq "0 $D" "$RC $OUT" "kiln copy"
run skopeo copy --digestfile "$T/skopeo.digest" "oci:$T/lay:1" "oci:$T/lay3:1"
assert_eq 0 "$RC" "skopeo copy --digestfile"; [ "$RC" -eq 0 ] || say "$ERR"
assert_eq "$(od -c "$T/skopeo.digest")" "$(od -c "$T/copy.digest")" "kiln's digest file is byte for byte skopeo's"

say "index --digestfile"
kiln_build --rootfs "$T/root" --platform linux/arm64 -o "oci:$T/arm:1"
run "$KILN" index --digestfile "$T/index.digest" -o "oci:$T/idx:1" "oci:$T/lay:1" "oci:$T/arm:1"
assert_eq 0 "$RC" "kiln index"; [ "$RC" -eq 0 ] || say "$ERR"
assert_eq "$OUT" "$(cat "$T/index.digest")" "the file holds the index digest"

say "an existing digest file is replaced whole"
printf 'an older, much longer content that must not survive in part\n' >"$T/old.digest"
run "$KILN" copy --digestfile "$T/old.digest" "oci:$T/lay:1" "oci:$T/lay4:1"
assert_eq "$D" "$(cat "$T/old.digest")" "only the new digest is left"

say "a digest file that cannot be written fails first, and nothing is written"
run "$KILN" build --rootfs "$T/root" --digestfile "$T/no/such/dir/d" -o "oci:$T/never:1"
assert_eq 2 "$RC" "build exits 2"
assert_contains "--digestfile $T/no/such/dir/d" "$ERR" "the error names the option and the file"
assert_eq "" "$(ls -A "$T" | grep -E '^never' || true)" "no layout was written"
run "$KILN" copy --digestfile "$T/no/d" "oci:$T/lay:1" "oci:$T/never2:1"
assert_eq 2 "$RC" "copy exits 2"
assert_eq "" "$(ls -A "$T" | grep -E '^never2' || true)" "nothing was copied"
assert_eq "" "$(ls -A "$T" | grep kiln-tmp || true)" "no temporary file is left beside the digest files"
