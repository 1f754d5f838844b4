#!/usr/bin/env bash
# kiln build -f: the same Dockerfiles built by docker's legacy builder
# (DOCKER_BUILDKIT=0) and by kiln, compared field by field (the container
# config) and file by file (docker export of a container of each: paths,
# types, modes, owners, link targets, contents); the kiln images are run with
# --network none. Then what docker cannot check: --chmod, errors (RUN, bad
# syntax, missing files) naming file:line with nothing written, and
# byte-identical rebuilds with SOURCE_DATE_EPOCH.
. "$(dirname "$0")/lib.sh"
need_root
need_kiln
need jq python3 tar gzip xz
[ -x /bin/busybox ] || _missing busybox
start_dockerd
CMP=$LIB_DIR/dfcompare.py

say "a small runnable base image, made by kiln, loaded into docker"
B=$T/base
mkdir -p "$B/bin" "$B/etc" "$B/tmp" "$B/var/run-target" "$B/home/app"
cp /bin/busybox "$B/bin/busybox"
for l in sh ls cat stat id echo find readlink; do ln -s busybox "$B/bin/$l"; done
ln -s /var/run-target "$B/var/run"
chmod 1777 "$B/tmp"
chown 1000:1001 "$B/home/app"
printf 'root:x:0:0:root:/root:/bin/sh\napp:x:1000:1001:app:/home/app:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n' >"$B/etc/passwd"
printf 'root:x:0:\napp:x:1001:\nstaff:x:50:\nnogroup:x:65534:\n' >"$B/etc/group"
kiln_build --rootfs "$B" --env PATH=/bin --cmd '["/bin/sh"]' --label base=yes -t kiln-df-base:1 \
  -o docker-archive:"$T/base.tar" -o oci:"$T/base-oci":1
run docker_ load -i "$T/base.tar"
[ "$RC" -eq 0 ] || fail "docker load of the base: $ERR"
BASE_ARG=(--build-arg "BASE=oci:$T/base-oci:1")

say "the build context"
C=$T/ctx
mkdir -p "$C/dir/sub" "$C/dir/empty" "$C/other" "$C/docs/deep" "$C/build/keep" "$C/build/drop" "$C/tarsrc/t/d"
printf 'a\n' >"$C/a.txt"
printf 'b\n' >"$C/b.txt"
printf 'in dir\n' >"$C/dir/f"
printf 'exec\n' >"$C/dir/sub/run.sh"
chmod 0755 "$C/dir/sub/run.sh"
chmod 0700 "$C/dir"
chmod 0750 "$C/dir/sub"
chmod 0600 "$C/dir/f"
printf 'other\n' >"$C/other/o.conf"
ln -s a.txt "$C/link-to-a"
ln -s sub "$C/dir/sublink"
printf 'hl\n' >"$C/dir/hl1"
ln "$C/dir/hl1" "$C/dir/hl2"
printf 'readme\n' >"$C/README.md"
printf 'doc\n' >"$C/docs/x.md"
printf 'deep\n' >"$C/docs/deep/y.md"
printf 'keep me\n' >"$C/docs/keep.md"
printf 'k\n' >"$C/build/keep/k"
printf 'd\n' >"$C/build/drop/d"
printf 'log\n' >"$C/debug.log"
mkdir -p "$C/rootfs/tmp" "$C/rootfs/etc/conf.d"
printf 'in tmp\n' >"$C/rootfs/tmp/in-tmp"
printf 'extra\n' >"$C/rootfs/etc/conf.d/extra.conf"
chmod 0755 "$C/rootfs/tmp"
printf 'tar file\n' >"$C/tarsrc/t/f"
printf 'tar exec\n' >"$C/tarsrc/t/d/x"
chmod 0751 "$C/tarsrc/t/d/x"
ln -s f "$C/tarsrc/t/lnk"
chown 123:456 "$C/tarsrc/t/f"
tar -C "$C/tarsrc" --numeric-owner -cf "$C/arch.tar" t
gzip -c "$C/arch.tar" >"$C/arch.tar.gz"
xz -c "$C/arch.tar" >"$C/arch.txz"
printf 'not a tar\n' | gzip -c >"$C/plain.gz"
cat >"$C/.dockerignore" <<'EOF'
# comments and blank lines are ignored

*.log
**/*.md
!docs/keep.md
build
!build/keep
tarsrc
EOF

# ------------------------------------------------------------------ the cases
cat >"$C/Dockerfile.config" <<'EOF'
ARG BASE=kiln-df-base:1
FROM $BASE
ARG VERSION=1.0
ARG EMPTY
ENV APP_HOME=/opt/app PATH=/opt/app/bin:$PATH
ENV LEGACY value with  spaces
ENV QUOTED="a b" SINGLE='$NOT' ESC=x\ y DEF=${EMPTY:-default} ALT=${VERSION:+set}
ENV OLD=$APP_HOME APP_HOME=/srv/app NEW=$APP_HOME
LABEL org.example.version=$VERSION "with space"="v 2" legacy=1
LABEL single value of legacy form
WORKDIR /data
WORKDIR sub/dir
WORKDIR ..
USER app:staff
EXPOSE 80 53/udp 8000-8002/tcp
VOLUME /v1 /v2
VOLUME ["/v3", "/v 4"]
STOPSIGNAL SIGINT
HEALTHCHECK --interval=5s --timeout=3s --start-period=1m30s --retries=4 CMD echo healthy
SHELL ["/bin/sh", "-ec"]
ENTRYPOINT echo "entry $APP_HOME"
CMD ["ignored", "by", "the", "shell", "form"]
ONBUILD COPY a.txt /onbuild/
ONBUILD ENV FROM_TRIGGER=1
MAINTAINER Kiln Test <kt@example.com>
EOF

cat >"$C/Dockerfile.copy" <<'EOF'
ARG BASE=kiln-df-base:1
FROM $BASE
# a file into an existing directory, a new path, a directory's contents
COPY a.txt /etc
COPY a.txt /new/path/renamed.txt
COPY dir /copied-dir
COPY dir/ /tmp
COPY other/o.conf /tmp/
# several sources, globs, a symlink named as a source (followed)
COPY a.txt b.txt /multi/
COPY *.txt /glob/
COPY d?r/s* /glob2/
COPY link-to-a /followed
# owners: numeric, names from the stage's /etc/passwd and /etc/group
COPY --chown=1234:5678 a.txt /own/numeric
COPY --chown=app:staff dir /own/named/deep/
COPY --chown=app:1001 a.txt /home/app/
COPY --chown=nobody:nogroup other /own/other/
# relative to WORKDIR, through a symlinked directory
WORKDIR /work
COPY a.txt rel.txt
COPY b.txt ./
COPY a.txt /var/run/through-link.txt
# the whole context, .dockerignore applied
COPY . /ctx/
COPY ["other/o.conf", "/json form/"]
# a tree over /: existing directories take the source's metadata, as docker's untar does
COPY rootfs/ /
EOF

cat >"$C/Dockerfile.add" <<'EOF'
ARG BASE=kiln-df-base:1
FROM $BASE
ADD arch.tar /plain/
ADD arch.tar.gz /gz
ADD arch.txz /xz/
ADD plain.gz /notatar/
ADD --chown=app:staff a.txt /added/
ADD dir /added-dir
EOF

cat >"$C/Dockerfile.multi" <<'EOF'
ARG BASE=kiln-df-base:1
FROM $BASE AS builder
ENV STAGE=builder
COPY dir /build/out
COPY a.txt /build/out/a.txt
WORKDIR /build

FROM builder AS middle
COPY b.txt /build/out/
LABEL stage=middle

FROM scratch
COPY --from=builder /build/out /app
COPY --from=0 /bin/busybox /bin/busybox
COPY --from=middle /build/out/b.txt /etc/passwd /etc/group /files/
COPY --from=middle /var/run/ /from-link/
ENV PATH=/bin
CMD ["/bin/busybox", "echo", "scratch-ok"]
EOF

cat >"$C/Dockerfile.escape" <<'EOF'
# escape=`
ARG BASE=kiln-df-base:1
FROM $BASE
COPY a.txt `
     b.txt `
     /esc/
ENV P=C:\dir X=`$lit
LABEL l="two `
words"
CMD echo escaped
EOF

cat >"$C/Dockerfile.args" <<'EOF'
ARG BASE=kiln-df-base:1
ARG SRC=a.txt
FROM $BASE
ARG SRC
ARG DEST=/dest-default
ARG UNSET
ENV FROM_ARG=$SRC UNSET=${UNSET:-none}
COPY $SRC ${DEST}/
EOF

ok_cases=()
# build_both NAME [extra args for both]: docker and kiln build Dockerfile.NAME
build_both() {
  local name=$1; shift
  run env DOCKER_BUILDKIT=0 "$DOCKER" build -q -f "$C/Dockerfile.$name" -t "d-$name" "$@" "$C"
  if [ "$RC" -ne 0 ]; then not_ok "docker build $name" "$ERR"; return 1; fi
  run "$KILN" build -f "$C/Dockerfile.$name" "${BASE_ARG[@]}" "$@" -t "k-$name" \
    -o docker-archive:"$T/k-$name.tar" "$C"
  if [ "$RC" -ne 0 ]; then not_ok "kiln build $name" "$ERR"; return 1; fi
  ok "$name: docker and kiln build it"
  run docker_ load -i "$T/k-$name.tar"
  if [ "$RC" -ne 0 ]; then not_ok "docker load k-$name" "$ERR"; return 1; fi
  compare "$name"
}
compare() {
  local name=$1
  docker_ image inspect "d-$name" >"$T/d-$name.json"
  docker_ image inspect "k-$name" >"$T/k-$name.json"
  check "$name: config Env Entrypoint Cmd WorkingDir User ExposedPorts Volumes Labels StopSignal Healthcheck Shell OnBuild" \
    python3 "$CMP" config "$T/d-$name.json" "$T/k-$name.json"
  local c
  for c in d k; do
    docker_ rm -f "x-$c-$name" >/dev/null 2>&1 || true
    docker_ create --name "x-$c-$name" "$c-$name" >/dev/null
    docker_ export -o "$T/$c-$name.fs.tar" "x-$c-$name"
    docker_ rm "x-$c-$name" >/dev/null
  done
  check "$name: filesystems (paths, types, modes, owners, targets, contents)" \
    python3 "$CMP" fs "$T/d-$name.fs.tar" "$T/k-$name.fs.tar"
}

say "Dockerfile.config: ENV ARG LABEL WORKDIR USER EXPOSE VOLUME STOPSIGNAL HEALTHCHECK SHELL ENTRYPOINT CMD ONBUILD MAINTAINER"
if build_both config; then
  assert_eq "$(jq -r '.[0].Author' "$T/d-config.json")" "$(jq -r '.[0].Author' "$T/k-config.json")" "config: Author (MAINTAINER)"
  run docker_ run --rm --network none k-config
  assert_eq "entry /srv/app" "$OUT" "config: the kiln image runs its shell-form ENTRYPOINT"
  assert_eq "$(docker_ run --rm --network none d-config)" "$OUT" "config: same output as docker's image"
fi

say "Dockerfile.copy: files, directories, globs, symlinks, --chown, WORKDIR, .dockerignore"
if build_both copy; then
  run docker_ run --rm --network none k-copy cat /own/named/deep/sub/run.sh /ctx/docs/keep.md
  assert_eq "$(printf 'exec\nkeep me')" "$OUT" "copy: the kiln image runs and has the files"
  assert_eq "1000:50 750" "$(docker_ run --rm --network none k-copy stat -c '%u:%g %a' /own/named/deep/sub)" "copy: --chown=app:staff resolved through the stage's passwd and group"
fi

say "Dockerfile.add: local tarballs (plain, gzip, xz) extracted, other files copied"
if build_both add; then
  assert_eq "123:456" "$(docker_ run --rm --network none k-add stat -c '%u:%g' /gz/t/f)" "add: the tarball's owners are kept"
fi

say "Dockerfile.multi: stages, FROM stage, COPY --from=name|index, FROM scratch"
if build_both multi; then
  assert_eq "scratch-ok" "$(docker_ run --rm --network none k-multi 2>&1)" "multi: the scratch image runs"
fi
say "--target"
if build_both multi --target middle; then
  assert_eq "middle" "$(jq -r '.[0].Config.Labels.stage' "$T/k-multi.json")" "--target middle: the stage's label"
fi

say "Dockerfile.escape: # escape=\` and backquote continuations"
build_both escape || true

say "Dockerfile.args: ARG scoping and --build-arg"
build_both args --build-arg SRC=b.txt --build-arg DEST=/given || true
run "$KILN" build -f "$C/Dockerfile.args" "${BASE_ARG[@]}" --build-arg NOT_DECLARED=1 \
  -o docker-archive:"$T/unused.tar" "$C"
assert_eq 0 "$RC" "unused --build-arg: the build succeeds"
assert_contains "build-args [NOT_DECLARED] were not consumed" "$ERR" "unused --build-arg: a warning names it"

say "an image of configuration only (FROM scratch, no layer); CONTEXT/Dockerfile by default"
C2=$T/ctx2
mkdir -p "$C2"
printf 'FROM scratch\nENV A=1\nLABEL only=config\nCMD ["/nothing"]\n' >"$C2/Dockerfile"
run env DOCKER_BUILDKIT=0 "$DOCKER" build -q -t d-configonly "$C2"
[ "$RC" -eq 0 ] || not_ok "docker build configonly" "$ERR"
run "$KILN" build -t k-configonly -o docker-archive:"$T/k-configonly.tar" "$C2"
if [ "$RC" -eq 0 ] && docker_ load -i "$T/k-configonly.tar" >/dev/null; then
  ok "configonly: kiln builds CONTEXT/Dockerfile without -f, and docker loads it"
  docker_ image inspect d-configonly >"$T/d-configonly.json"
  docker_ image inspect k-configonly >"$T/k-configonly.json"
  check "configonly: config" python3 "$CMP" config "$T/d-configonly.json" "$T/k-configonly.json"
  assert_eq 0 "$(jq '.[0].RootFS.Layers // [] | length' "$T/k-configonly.json")" "configonly: no layer"
else
  not_ok "kiln build configonly" "$ERR"
fi

say "ONBUILD triggers of a base image run at FROM, and are not inherited"
printf 'ARG BASE=d-config\nFROM $BASE\nCOPY b.txt /after-trigger\nHEALTHCHECK NONE\nENTRYPOINT ["/bin/echo"]\n' >"$C/Dockerfile.child"
run env DOCKER_BUILDKIT=0 "$DOCKER" build -q -f "$C/Dockerfile.child" -t d-child "$C"
[ "$RC" -eq 0 ] || not_ok "docker build child" "$ERR"
run "$KILN" build -f "$C/Dockerfile.child" --build-arg "BASE=docker-archive:$T/k-config.tar" \
  -t k-child -o docker-archive:"$T/k-child.tar" "$C"
if [ "$RC" -eq 0 ] && docker_ load -i "$T/k-child.tar" >/dev/null; then
  ok "child: kiln builds FROM an image with ONBUILD triggers"
  compare child
else
  not_ok "kiln build child" "$ERR"
fi

say "--chmod (docker's legacy builder refuses it; checked in the running image)"
printf 'ARG BASE=x\nFROM $BASE\nCOPY --chmod=0750 a.txt dir /chmod/\nCOPY --chmod=4755 --chown=1:2 b.txt /chmod/suid\n' >"$C/Dockerfile.chmod"
kiln_build -f "$C/Dockerfile.chmod" "${BASE_ARG[@]}" -t k-chmod -o docker-archive:"$T/k-chmod.tar" "$C"
docker_ load -i "$T/k-chmod.tar" >/dev/null
assert_eq "$(printf '750 0:0 /chmod/a.txt\n750 0:0 /chmod/f\n750 0:0 /chmod/sub\n4755 1:2 /chmod/suid')" \
  "$(docker_ run --rm --network none k-chmod stat -c '%a %u:%g %n' /chmod/a.txt /chmod/f /chmod/sub /chmod/suid)" \
  "--chmod applies to files and directories copied"

say "COPY --from=IMAGE (kiln expands variables in --from, as BuildKit does; the legacy builder does not)"
printf 'ARG BASE=x\nFROM scratch\nARG BASE\nCOPY --from=$BASE /etc/group /bin/busybox /from-image/\nCMD ["/from-image/busybox", "cat", "/from-image/group"]\n' >"$C/Dockerfile.fromimage"
kiln_build -f "$C/Dockerfile.fromimage" "${BASE_ARG[@]}" -t k-fromimage -o docker-archive:"$T/k-fromimage.tar" "$C"
docker_ load -i "$T/k-fromimage.tar" >/dev/null
assert_eq "$(cat "$B/etc/group")" "$(docker_ run --rm --network none k-fromimage)" "COPY --from=image: the files of the image"

say "BuildKit's platform ARGs (the legacy builder has none): prebuilt artifacts per platform"
printf 'FROM scratch\nARG TARGETARCH TARGETVARIANT\nCOPY a.txt /arch-${TARGETARCH}${TARGETVARIANT}\n' >"$C/Dockerfile.platform"
kiln_build -f "$C/Dockerfile.platform" --platform linux/armv7 -o oci:"$T/plat" "$C"
run "$KILN" unpack oci:"$T/plat" "$T/plat-root"
assert_file_exists "$T/plat-root/arch-armv7" "--platform linux/armv7: TARGETARCH=arm, TARGETVARIANT=v7"
assert_eq "arm v7" "$(layout_config "$T/plat" | jq -r '.architecture + " " + .variant')" "--platform linux/armv7: the image's platform"

say "errors name file:line and the instruction; nothing is written"
bad() { # NAME EXPECTED_RC EXPECTED_MESSAGE DOCKERFILE_TEXT
  printf '%s' "$4" >"$C/Dockerfile.bad"
  run "$KILN" build -f "$C/Dockerfile.bad" "${BASE_ARG[@]}" -o oci:"$T/bad-out" -o docker-archive:"$T/bad.tar" "$C"
  assert_eq "$2" "$RC" "$1: exit $2"
  assert_contains "$3" "$ERR" "$1: the message"
  if [ -e "$T/bad-out" ] || [ -e "$T/bad.tar" ]; then not_ok "$1: nothing written"; else ok "$1: nothing written"; fi
  if ls -d "${TMPDIR:-/tmp}"/kiln-dockerfile-* >/dev/null 2>&1; then not_ok "$1: temporary trees removed" "$(ls -d "${TMPDIR:-/tmp}"/kiln-dockerfile-*)"; else ok "$1: temporary trees removed"; fi
}
bad "RUN" 2 "Dockerfile.bad:3: RUN: kiln runs no commands: build the artifact first and COPY it" \
  $'ARG BASE=x\nFROM $BASE\nRUN make install\nCOPY a.txt /\n'
bad "unknown instruction" 2 "Dockerfile.bad:2: FROB: unknown instruction" $'FROM scratch\nFROB x\n'
bad "bad substitution" 2 "Dockerfile.bad:2: ENV: syntax error: missing '}'" $'FROM scratch\nENV A=${B\n'
bad "bad substitution in --chown" 2 "Dockerfile.bad:2: COPY: syntax error: missing '}'" $'FROM scratch\nCOPY --chown=${X a.txt /\n'
bad "heredoc" 2 "Dockerfile.bad:2: COPY: heredocs" $'FROM scratch\nCOPY <<EOF /x\nhi\nEOF\n'
bad "missing source" 1 "Dockerfile.bad:2: COPY: file not found in build context or excluded by .dockerignore: debug.log" \
  $'FROM scratch\nCOPY debug.log /\n'
bad "unknown user" 1 "Dockerfile.bad:3: COPY: can't find uid for user nosuch" \
  $'ARG BASE=x\nFROM $BASE\nCOPY --chown=nosuch a.txt /\n'
bad "ADD URL" 2 "Dockerfile.bad:2: ADD: https://example.com/f: kiln does not download" \
  $'FROM scratch\nADD https://example.com/f /f\n'
bad "no FROM" 2 "Dockerfile.bad:1: COPY: no build stage yet" $'COPY a.txt /\n'
# an ADDed tarball is bounded like a --tar input: a 1 GiB sparse member, 2,000 members
mkdir -p "$T/bombsrc"; truncate -s 1G "$T/bombsrc/holes"
tar -S -C "$T/bombsrc" -czf "$C/bomb.tgz" holes
python3 -c 'import io,sys,tarfile
with tarfile.open(sys.argv[1], "w") as t:
    for i in range(2000): t.addfile(tarfile.TarInfo("f%d" % i), io.BytesIO(b""))' "$C/many.tar"
printf 'FROM scratch\nADD bomb.tgz /b/\n' >"$C/Dockerfile.bomb"
printf 'FROM scratch\nADD many.tar /m/\n' >"$C/Dockerfile.many"
run "$KILN" build -f "$C/Dockerfile.bomb" --max-bytes 10000000 -o oci:"$T/bomb-out" "$C"
assert_eq 1 "$RC" "ADD of a tarball expanding beyond --max-bytes: refused"
assert_contains "Dockerfile.bomb:2: ADD: " "$ERR" "… naming the line"
assert_contains "(--max-bytes): refusing a possible tar bomb" "$ERR" "… and the bound"
assert_not_exists "$T/bomb-out" "… writing nothing"
run "$KILN" build -f "$C/Dockerfile.many" --max-entries 1000 -o oci:"$T/many-out" "$C"
assert_eq 1 "$RC" "ADD of a tarball of more than --max-entries members: refused"
assert_contains "(--max-entries): refusing a possible tar bomb" "$ERR" "… naming the bound"
assert_not_exists "$T/many-out" "… writing nothing"
rm -f "$C/bomb.tgz" "$C/many.tar"
printf 'FROM scratch\nLABEL from=stdin\n' >"$T/stdin.df"
set +e
"$KILN" build -f - -o oci:"$T/stdin-oci" "$C" <"$T/stdin.df" >/dev/null 2>"$T/stdin.err"
RC=$?
set -e
assert_eq 0 "$RC" "-f - reads the Dockerfile from stdin"
run "$KILN" build -f "$C/Dockerfile.config" -o oci:"$T/x"
assert_eq 2 "$RC" "-f without CONTEXT: usage error"
run "$KILN" build --rootfs "$B" -o oci:"$T/x" "$C"
assert_eq 2 "$RC" "--rootfs with a CONTEXT: usage error"

say "without root: the same bytes as with root (owners come from the Dockerfile, not the disk)"
C3=$T/ctx3
mkdir -p "$C3/d/sub" "$T/nr-out"
printf 'hi\n' >"$C3/f"
printf 'x\n' >"$C3/d/sub/x"
printf 'ARG BASE\nFROM $BASE AS a\nCOPY --chown=app:staff f /home/app/\nWORKDIR /w\nCOPY d /w/d\nFROM a\nCOPY --from=a /w/d/sub /copied\n' >"$C3/Dockerfile"
chmod -R a+rX "$C3"
chmod 777 "$T/nr-out"
run as_nobody env SOURCE_DATE_EPOCH=1700000000 "$(kiln_for_nobody)" build "${BASE_ARG[@]}" -o oci-archive:"$T/nr-out/nobody.tar" "$C3"
assert_eq 0 "$RC" "as nobody: kiln build -f succeeds"
kiln_build --source-date-epoch 1700000000 "${BASE_ARG[@]}" -o oci-archive:"$T/nr-out/root.tar" "$C3"
assert_same_file "$T/nr-out/root.tar" "$T/nr-out/nobody.tar" "as nobody: identical bytes to the root build"

say "reproducible: SOURCE_DATE_EPOCH gives the same bytes on rebuild"
export SOURCE_DATE_EPOCH=1700000000
kiln_build -f "$C/Dockerfile.copy" "${BASE_ARG[@]}" -t r:1 -o oci-archive:"$T/r1.tar" "$C"
D1=$DIGEST
touch "$C/a.txt" "$C/dir/f"
kiln_build -f "$C/Dockerfile.copy" "${BASE_ARG[@]}" -t r:1 -o oci-archive:"$T/r2.tar" "$C"
assert_eq "$D1" "$DIGEST" "rebuild: same manifest digest"
assert_same_file "$T/r1.tar" "$T/r2.tar" "rebuild: identical archive bytes"
unset SOURCE_DATE_EPOCH
