#!/usr/bin/env bash
# Shell completion (contrib/completion): the bash function driven as bash
# does (COMP_WORDS split at COMP_WORDBREAKS, COMP_CWORD), zsh's real completion
# system run in a pty (zsh/zpty); in both, every option of every subcommand's
# --help is offered, so that the scripts cannot drift from the program.
. "$(dirname "$0")/lib.sh"
need_kiln
need zsh
BASH_COMP=$KILN_SOURCE_DIR/contrib/completion/kiln.bash
ZSH_DIR=$KILN_SOURCE_DIR/contrib/completion
ZSH_COMPLETE=$LIB_DIR/completion/zsh-complete.zsh
assert_file_exists "$BASH_COMP" "the bash completion exists"
assert_file_exists "$ZSH_DIR/_kiln" "the zsh completion exists"

# The subcommands, from kiln --help.
mapfile -t CMDS < <("$KILN" --help | sed -nE 's/^  ([a-z]+) .*/\1/p' | grep -v '^help$')
[ "${#CMDS[@]}" -ge 10 ] && ok "kiln --help lists ${#CMDS[@]} subcommands" || fail "no subcommands in kiln --help"
# help_options CMD: every option named in the option column of `kiln CMD --help`.
help_options() {
  "$KILN" "$1" --help | sed -nE 's/^ +(-.*)$/\1/p' | sed -E 's/   .*//' |
    { grep -oE '(^|[ ,])--?[A-Za-z][-A-Za-z0-9]*' || true; } | tr -d ' ,' | sort -u
}

# bash_complete LINE: the candidates _kiln gives for LINE (cursor at its end),
# with COMP_WORDS split as bash splits them: at blanks, and with each character
# of COMP_WORDBREAKS that occurs (':' and '=' here) a word of its own.
bash_complete() {
  bash --norc --noprofile -c '
    . "$1"
    line=$2
    words=() cur=""
    for ((i = 0; i < ${#line}; i++)); do
      c=${line:i:1}
      case $c in
        " ") [ -n "$cur" ] && words+=("$cur"); cur="" ;;
        ":" | "=") [ -n "$cur" ] && words+=("$cur"); words+=("$c"); cur="" ;;
        *) cur+=$c ;;
      esac
    done
    # the word under the cursor: empty after a blank; after ":" or "=" that
    # break character is the current word, as in bash
    case $line in *" ") words+=("") ;; *[:=]) ;; *) words+=("$cur") ;; esac
    COMP_WORDS=("${words[@]}")
    COMP_CWORD=$((${#words[@]} - 1))
    COMP_LINE=$line COMP_POINT=${#line}
    _kiln kiln "${words[COMP_CWORD]}" "${words[COMP_CWORD-1]}"
    [ "${#COMPREPLY[@]}" -eq 0 ] || printf "%s\n" "${COMPREPLY[@]}"
  ' bash "$BASH_COMP" "$1" | sort -u
}
# (zsh adds the '/' of a directory itself: drop it, but not from "docker://")
zsh_complete() { zsh -f "$ZSH_COMPLETE" "$ZSH_DIR" "$1" | sed -E 's#([^/])/$#\1#' | sort -u; }
# expect SHELL LINE EXPECTED...: the candidates are exactly EXPECTED (sorted).
expect() {
  local sh=$1 line=$2; shift 2
  local want got
  want=$(printf '%s\n' "$@" | sort -u | tr '\n' ' ')
  got=$("${sh}_complete" "$line" | tr '\n' ' ')
  assert_eq "$want" "$got" "$sh: '$line' completes to: $want"
}

# a work directory with layouts, archives and plain directories to complete
W=$T/work
mkdir -p "$W/lay/blobs" "$W/rootfs/etc" "$W/other"
printf '%s\n' '{"schemaVersion":2,"manifests":[' \
  '{"digest":"sha256:0000","annotations":{"org.opencontainers.image.ref.name":"1.0"}},' \
  '{"digest":"sha256:1111","annotations":{"org.opencontainers.image.ref.name":"latest"}}]}' >"$W/lay/index.json"
# podman's names hold ':' and '/': the directory ends at the first ':'
mkdir -p "$W/pod/blobs"
printf '%s\n' '{"schemaVersion":2,"manifests":[' \
  '{"digest":"sha256:0000","annotations":{"org.opencontainers.image.ref.name":"localhost/x:1"}},' \
  '{"digest":"sha256:1111","annotations":{"org.opencontainers.image.ref.name":"localhost/x:2"}}]}' >"$W/pod/index.json"
: >"$W/img.tar"; : >"$W/image.oci.tar"
printf '%s\n' 'FROM scratch AS base' 'COPY x /x' 'from base as final' >"$W/Dockerfile"
printf '%s\n' 'FROM scratch AS other-stage' >"$W/other/alt.df"
cd "$W" || exit 1

say "installed where bash-completion and zsh look"
if [ -f "$KILN_BUILD_DIR/cmake_install.cmake" ]; then
  need cmake
  run cmake --install "$KILN_BUILD_DIR" --prefix "$T/prefix"
  assert_eq 0 "$RC" "cmake --install"; [ "$RC" -eq 0 ] || say "$ERR"
  assert_same_file "$BASH_COMP" "$T/prefix/share/bash-completion/completions/kiln" "share/bash-completion/completions/kiln"
  assert_same_file "$ZSH_DIR/_kiln" "$T/prefix/share/zsh/vendor-completions/_kiln" "share/zsh/vendor-completions/_kiln"
else
  not_ok "KILN_BUILD_DIR=$KILN_BUILD_DIR is a CMake build directory"
fi

say "syntax"
check "bash -n kiln.bash" bash -n "$BASH_COMP"
check "zsh -n _kiln" zsh -n "$ZSH_DIR/_kiln"
check "sourcing kiln.bash registers the completion" bash --norc -c ". '$BASH_COMP' && complete -p kiln | grep -q -- '-F _kiln'"

say "bash: subcommands, options, values, transports and paths after them"
for sh in bash zsh; do
  [ $sh = zsh ] && say "zsh (zsh/zpty, compinit): the same cases"
  expect $sh "kiln " "${CMDS[@]}" help ls
  expect $sh "kiln in" index inspect
  expect $sh "kiln build --comp" --compression --compression-level
  expect $sh "kiln build --compression " gzip zstd none
  expect $sh "kiln diff --compression " gzip zstd none
  expect $sh "kiln build --platform linux/arm" linux/arm64 linux/arm/v7 linux/arm/v6
  expect $sh "kiln inspect --format " json
  expect $sh "kiln build -o " oci: oci-archive: docker-archive: docker://
  expect $sh "kiln build --output d" docker-archive: docker://
  expect $sh "kiln list " oci: oci-archive: docker-archive:
  expect $sh "kiln ls oci-" oci-archive:
  expect $sh "kiln index -o " oci: oci-archive: docker://
  expect $sh "kiln tags " docker://
  expect $sh "kiln help ins" inspect
  expect $sh "kiln build --target " base final
  expect $sh "kiln build -f other/alt.df --target " other-stage
done
# after a ':' bash replaces only what follows it (COMP_WORDBREAKS); zsh the whole word
expect bash "kiln build -o oci:" lay/ pod/ rootfs/ other/
expect bash "kiln copy oci:l" lay/
expect bash "kiln copy oci:lay:" 1.0 latest
expect bash "kiln copy oci:lay:la" latest
expect bash "kiln copy oci:pod:loc" localhost/x:1 localhost/x:2
expect bash "kiln copy oci:pod:localhost/x:" 1 2
expect bash "kiln build -o docker-archive:im" img.tar image.oci.tar
expect bash "kiln build --from oci-archive:image" image.oci.tar
expect bash "kiln build --rootfs " lay/ pod/ rootfs/ other/
expect bash "kiln build --rootfs ro" rootfs/
expect bash "kiln build --diff other " lay/ pod/ rootfs/ other/
expect bash "kiln build --tar im" img.tar image.oci.tar
expect bash "kiln unpack oci:lay " lay/ pod/ rootfs/ other/
expect bash "kiln build --compression=z" zstd
expect bash "kiln build --tls-verify=" true false
expect zsh "kiln build -o oci:" oci:lay oci:pod oci:rootfs oci:other
expect zsh "kiln build --tls-verify=" --tls-verify=true --tls-verify=false
expect zsh "kiln copy oci:lay:" oci:lay:1.0 oci:lay:latest
expect zsh "kiln copy oci:pod:loc" oci:pod:localhost/x:1 oci:pod:localhost/x:2
expect zsh "kiln build -o docker-archive:im" docker-archive:img.tar docker-archive:image.oci.tar
expect zsh "kiln build --rootfs ro" rootfs
expect zsh "kiln unpack oci:lay o" other

say "every option of every subcommand's --help is completed, by both scripts"
for c in "${CMDS[@]}"; do
  help_options "$c" >"$T/help.$c"
  # the short options are offered after '-', the long ones after '--'
  for sh in bash zsh; do
    { "${sh}_complete" "kiln $c -"; "${sh}_complete" "kiln $c --"; } | sed 's/=$//' | sort -u >"$T/$sh.$c"
    missing=$(comm -23 "$T/help.$c" "$T/$sh.$c" | tr '\n' ' ')
    if [ -s "$T/help.$c" ] || [ "$c" = version ]; then
      assert_eq "" "$missing" "$sh: every option of 'kiln $c --help' is completed ($(wc -l <"$T/help.$c") options)"
    else
      not_ok "kiln $c --help lists its options"
    fi
    # and nothing the program does not know
    extra=$(comm -13 "$T/help.$c" "$T/$sh.$c" | tr '\n' ' ')
    assert_eq "" "$extra" "$sh: no option of 'kiln $c' is completed that its --help does not list"
  done
done
