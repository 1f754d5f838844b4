# bash completion for kiln(1)                              -*- shell-script -*-
#
# Installed as ${datarootdir}/bash-completion/completions/kiln, where
# bash-completion loads it on first use; or source it from ~/.bashrc.
# Needs no bash-completion helpers. The option lists follow each
# subcommand's --help; tests/integration/t-99-completion.sh checks that every
# option of every `kiln CMD --help` is completed here.

_kiln_commands='build copy index inspect diff digest tags list ls unpack export validate mutate append flatten rebase rm gc cache sign verify attach referrers keygen login logout version help'

_kiln_cache_opts='--cache-dir --cache-max-size --no-cache'

_kiln_remote_opts='--creds --authfile --ca-file --cert-dir --tls-verify --insecure --retries
  --chunk-size --registry-mirror --debug'

# _kiln_options CMD: the options of a subcommand.
_kiln_options()
{
    case $1 in
        build)
            echo "-f --file --build-arg --target --rootfs --tar --diff --add --layer-map --from --entrypoint --cmd --env
              --workdir --user --port --volume --label --annotation --stop-signal --author
              --platform -t --tag --source-date-epoch --compression --compression-level
              -j --jobs --no-xattrs --max-bytes --max-entries -o --output --push-jobs
              --digestfile --manifest-format --sign-by --sign-passphrase-file --sign-passphrase-fd
              -q --quiet -v --verbose -h --help $_kiln_cache_opts $_kiln_remote_opts" ;;
        mutate)
            echo "--entrypoint --cmd --env --workdir --user --port --volume --label --annotation
              --stop-signal --author --platform -t --tag --source-date-epoch -o --output
              --manifest-format --digestfile --push-jobs --sign-by --sign-passphrase-file
              --sign-passphrase-fd -q --quiet -v --verbose -h --help $_kiln_remote_opts" ;;
        append)
            echo "--rootfs --tar --diff --add --layer-map --entrypoint --cmd --env --workdir --user
              --port --volume --label --annotation --stop-signal --author --platform -t --tag
              --source-date-epoch --compression --compression-level -j --jobs --no-xattrs
              --max-bytes --max-entries -o --output --manifest-format --digestfile --push-jobs
              --sign-by --sign-passphrase-file --sign-passphrase-fd
              -q --quiet -v --verbose -h --help $_kiln_cache_opts $_kiln_remote_opts" ;;
        flatten)
            echo "--entrypoint --cmd --env --workdir --user --port --volume --label --annotation
              --stop-signal --author --platform -t --tag --source-date-epoch --compression
              --compression-level -j --jobs -o --output --manifest-format --digestfile --push-jobs
              --sign-by --sign-passphrase-file --sign-passphrase-fd
              -q --quiet -v --verbose -h --help $_kiln_cache_opts $_kiln_remote_opts" ;;
        rebase)
            echo "--old-base --new-base --entrypoint --cmd --env --workdir --user --port --volume
              --label --annotation --stop-signal --author --platform -t --tag --source-date-epoch
              -o --output --manifest-format --digestfile --push-jobs --sign-by
              --sign-passphrase-file --sign-passphrase-fd -q --quiet -v --verbose -h --help
              $_kiln_remote_opts" ;;
        copy)
            echo "--platform --digestfile --manifest-format --src-creds --dest-creds -j --jobs --copy-signatures
              --referrers --sign-by --sign-passphrase-file --sign-passphrase-fd -q --quiet -v --verbose
              -h --help $_kiln_remote_opts" ;;
        index)
            echo "-o --output --digestfile -j --jobs --sign-by --sign-passphrase-file --sign-passphrase-fd
              -q --quiet -v --verbose -h --help $_kiln_remote_opts" ;;
        inspect)
            echo "--raw --config --format --platform -h --help $_kiln_remote_opts" ;;
        digest)
            echo "--platform -h --help $_kiln_remote_opts" ;;
        tags)
            echo "-h --help $_kiln_remote_opts" ;;
        list | ls)
            echo "--format -h --help" ;;
        unpack)
            echo "--platform -q --quiet -h --help $_kiln_remote_opts" ;;
        export)
            echo "-o --output --platform -q --quiet -h --help $_kiln_remote_opts" ;;
        rm)
            echo "-q --quiet -v --verbose -h --help $_kiln_remote_opts" ;;
        gc)
            echo "-n --dry-run -h --help" ;;
        cache)
            echo "--cache-dir --cache-max-size -q --quiet -h --help" ;;
        sign)
            echo "--key --passphrase-file --passphrase-fd --identity --no-recursive -q --quiet
              -v --verbose -h --help $_kiln_remote_opts" ;;
        verify)
            echo "--key --identity --no-recursive -q --quiet -v --verbose -h --help $_kiln_remote_opts" ;;
        attach)
            echo "--artifact-type --media-type --annotation -q --quiet -v --verbose -h --help
              $_kiln_remote_opts" ;;
        referrers)
            echo "--artifact-type --json -q --quiet -v --verbose -h --help $_kiln_remote_opts" ;;
        keygen)
            echo "--output-prefix --passphrase-file --passphrase-fd -q --quiet -h --help" ;;
        validate)
            echo "--format --platform -h --help $_kiln_remote_opts" ;;
        diff)
            echo "-o --output --compression --source-date-epoch --no-xattrs -h --help" ;;
        login)
            echo "-u --username --password-stdin -h --help $_kiln_remote_opts" ;;
        logout)
            echo "--authfile -h --help" ;;
    esac
}

# Options that take a value in the next word (or after '=').
_kiln_takes_value()
{
    case $1 in
        -f | --file | --build-arg | --target | \
            --rootfs | --tar | --diff | --add | --layer-map | --from | --entrypoint | --cmd | \
            --env | --workdir | --user | --port | --volume | --label | --annotation | \
            --stop-signal | --author | --platform | -t | --tag | --source-date-epoch | \
            --compression | --compression-level | -j | --jobs | --max-bytes | --max-entries | \
            -o | --output | --push-jobs | --creds | --src-creds | --dest-creds | --authfile | \
            --ca-file | --cert-dir | --retries | --chunk-size | --format | -u | --username | \
            --registry-mirror | --old-base | --new-base | --cache-dir | --cache-max-size | \
            --digestfile | --manifest-format | --key | --passphrase-file | --passphrase-fd | \
            --identity | --output-prefix | --sign-by | --sign-passphrase-file | --sign-passphrase-fd | \
            --artifact-type | --media-type)
            return 0 ;;
    esac
    return 1
}

# _kiln_add WORD...: adds candidates; one ending in '/' or ':' gets no space.
_kiln_add()
{
    local w
    for w in "$@"; do
        COMPREPLY+=("$w")
        case $w in */ | *:) _kiln_nospace=1 ;; esac
    done
}

# _kiln_words PREFIX CANDIDATES: the candidates that start with PREFIX.
_kiln_words()
{
    local prefix=$1 w
    for w in $2; do
        [[ $w == "$prefix"* ]] && _kiln_add "$w"
    done
    return 0
}

# _kiln_paths PREFIX PATHPART dirs|files: directories (with '/') or files and
# directories below PATHPART, each given back with PREFIX in front.
_kiln_paths()
{
    local prefix=$1 part=$2 kind=$3 p
    local -a found
    if [[ $kind == dirs ]]; then
        mapfile -t found < <(compgen -d -- "$part")
    else
        mapfile -t found < <(compgen -f -- "$part")
    fi
    for p in "${found[@]}"; do
        if [[ -d $p ]]; then _kiln_add "$prefix$p/"; else _kiln_add "$prefix$p"; fi
    done
}

# _kiln_ref CUR TRANSPORTS: an image reference: a transport prefix, then the
# layout directory or archive file after it (and oci:DIR: the tags in DIR).
_kiln_ref()
{
    local cur=$1 transports=$2
    case $cur in
        oci:*:*)
            # the directory ends at the first ':' (the tag may hold more)
            local dir=${cur#oci:}
            local tagpart=${dir#*:}
            dir=${dir%%:*}
            if [[ -f $dir/index.json ]]; then
                local tags
                tags=$(grep -o '"org\.opencontainers\.image\.ref\.name" *: *"[^"]*"' \
                    "$dir/index.json" 2>/dev/null | sed 's/.*: *"\(.*\)"$/\1/')
                local t
                for t in $tags; do
                    [[ $t == "$tagpart"* ]] && COMPREPLY+=("oci:$dir:$t")
                done
            fi
            ;;
        oci:*)
            [[ " $transports " == *" oci: "* ]] && _kiln_paths oci: "${cur#oci:}" dirs ;;
        oci-archive:*)
            [[ " $transports " == *" oci-archive: "* ]] &&
                _kiln_paths oci-archive: "${cur#oci-archive:}" files ;;
        docker-archive:*)
            [[ " $transports " == *" docker-archive: "* ]] &&
                _kiln_paths docker-archive: "${cur#docker-archive:}" files ;;
        docker://*) ;;
        *) _kiln_words "$cur" "$transports" ;;
    esac
    return 0
}

_kiln_all_transports='oci: oci-archive: docker-archive: docker://'
_kiln_platforms='linux/amd64 linux/arm64 linux/arm/v7 linux/arm/v6 linux/386 linux/ppc64le
  linux/s390x linux/riscv64 linux/mips64le linux/loong64'

# _kiln_stages: the stage names (FROM ... AS NAME) of the Dockerfile that the
# command line names with -f/--file, else of ./Dockerfile.
_kiln_stages()
{
    local f=Dockerfile i
    for ((i = 2; i < ${#words[@]} - 1; i++)); do
        case ${words[i]} in
            -f | --file) f=${words[i + 1]} ;;
            --file=*) f=${words[i]#--file=} ;;
        esac
    done
    [[ -r $f ]] || return 0
    sed -nE 's/^[[:space:]]*[Ff][Rr][Oo][Mm][[:space:]].*[[:space:]][Aa][Ss][[:space:]]+([^[:space:]]+).*/\1/p' "$f"
}

# _kiln_value CMD OPTION CUR: the values of an option.
_kiln_value()
{
    local cmd=$1 opt=$2 cur=$3
    case $opt in
        --rootfs | --cert-dir | --workdir | --cache-dir) _kiln_paths "" "$cur" dirs ;;
        --diff) _kiln_paths "" "$cur" dirs ;;
        --tar | --add | --layer-map | --authfile | --ca-file | -f | --file | --key | \
            --passphrase-file | --output-prefix | --sign-by | --sign-passphrase-file)
            _kiln_paths "" "$cur" files ;;
        --target) _kiln_words "$cur" "$(_kiln_stages)" ;;
        --from | --old-base | --new-base) _kiln_ref "$cur" "$_kiln_all_transports" ;;
        -o | --output)
            case $cmd in
                build | flatten | rebase) _kiln_ref "$cur" "$_kiln_all_transports" ;;
                index) _kiln_ref "$cur" "oci: oci-archive: docker://" ;;
                *) _kiln_paths "" "$cur" files ;;
            esac ;;
        --compression) _kiln_words "$cur" "gzip zstd none" ;;
        --format) _kiln_words "$cur" "json" ;;
        --platform) _kiln_words "$cur" "$_kiln_platforms" ;;
        --stop-signal) _kiln_words "$cur" "SIGTERM SIGINT SIGQUIT SIGKILL SIGHUP SIGUSR1 SIGUSR2" ;;
        --tls-verify) _kiln_words "$cur" "true false" ;;
        --artifact-type) _kiln_words "$cur" "spdx spdx3 cyclonedx in-toto" ;;
    esac
    return 0
}

_kiln()
{
    COMPREPLY=()
    _kiln_nospace=
    # bash splits words at the characters of COMP_WORDBREAKS, ':' and '='
    # among them: join "oci" ":" "dir" back into "oci:dir".
    local -a words=()
    local i w cword joinnext=
    for ((i = 0; i <= COMP_CWORD && i < ${#COMP_WORDS[@]}; i++)); do
        w=${COMP_WORDS[i]}
        if ((i > 0)) && [[ -n $joinnext || $w == ":"* || $w == "="* ]]; then
            words[${#words[@]} - 1]+=$w
        else
            words+=("$w")
        fi
        joinnext=
        [[ $w == *":" || $w == *"=" ]] && joinnext=1
    done
    ((COMP_CWORD < ${#COMP_WORDS[@]})) || words+=("")
    cword=$((${#words[@]} - 1))
    local cur=${words[cword]}
    local prev=
    ((cword > 0)) && prev=${words[cword - 1]}

    if ((cword == 1)); then
        if [[ $cur == -* ]]; then
            _kiln_words "$cur" "-h --help -V --version"
        else
            _kiln_words "$cur" "$_kiln_commands"
        fi
    else
        local cmd=${words[1]}
        [[ $cmd == ls ]] && cmd=list
        if [[ $cmd == help ]]; then
            ((cword == 2)) && _kiln_words "$cur" "$_kiln_commands"
        elif [[ $cur == --*=* ]]; then
            _kiln_value "$cmd" "${cur%%=*}" "${cur#*=}"
            local k
            for k in "${!COMPREPLY[@]}"; do COMPREPLY[k]=${cur%%=*}=${COMPREPLY[k]}; done
        elif [[ $prev == --diff && $cmd == build ]] || { ((cword > 2)) &&
            [[ ${words[cword - 2]} == --diff && $cmd == build ]]; }; then
            # --diff OLD NEW: both directories
            _kiln_paths "" "$cur" dirs
        elif _kiln_takes_value "$prev" && [[ " $(_kiln_options "$cmd") " == *" $prev "* ]]; then
            _kiln_value "$cmd" "$prev" "$cur"
        elif [[ $cur == -* ]]; then
            _kiln_words "$cur" "$(_kiln_options "$cmd")"
            [[ $cur == --tls-verify* && " $(_kiln_options "$cmd") " == *" --tls-verify "* ]] &&
                _kiln_add "--tls-verify="
        else
            # positional arguments: count those before this word
            local npos=0 j
            for ((j = 2; j < cword; j++)); do
                if [[ ${words[j]} == -* ]]; then
                    [[ ${words[j]} != *=* ]] && _kiln_takes_value "${words[j]}" && ((j++))
                    [[ ${words[j - 1]} == --diff ]] && ((j++))
                else
                    ((npos++))
                fi
            done
            case $cmd in
                build) ((npos < 1)) && _kiln_paths "" "$cur" dirs ;; # the Dockerfile CONTEXT
                copy) ((npos < 2)) && _kiln_ref "$cur" "$_kiln_all_transports" ;;
                index) _kiln_ref "$cur" "oci: oci-archive: docker-archive: docker://" ;;
                inspect | digest | validate) ((npos < 1)) && _kiln_ref "$cur" "$_kiln_all_transports" ;;
                list) ((npos < 1)) && _kiln_ref "$cur" "oci: oci-archive: docker-archive:" ;;
                unpack)
                    if ((npos < 1)); then _kiln_ref "$cur" "$_kiln_all_transports"
                    elif ((npos == 1)); then _kiln_paths "" "$cur" dirs
                    fi ;;
                tags) ((npos < 1)) && _kiln_words "$cur" "docker://" ;;
                rm) _kiln_ref "$cur" "oci: docker://" ;;
                mutate | append | flatten | rebase | export) ((npos < 1)) && _kiln_ref "$cur" "$_kiln_all_transports" ;;
                gc) ((npos < 1)) && _kiln_ref "$cur" "oci:" ;;
                cache) ((npos < 1)) && _kiln_words "$cur" "show prune wipe" ;;
                sign | verify) _kiln_words "$cur" "docker://" ;;
                attach)
                    if ((npos < 1)); then _kiln_ref "$cur" "oci: oci-archive: docker://"
                    elif ((npos == 1)); then _kiln_paths "" "$cur" files
                    fi ;;
                referrers) ((npos < 1)) && _kiln_ref "$cur" "oci: oci-archive: docker://" ;;
                diff) ((npos < 2)) && _kiln_paths "" "$cur" dirs ;;
            esac
        fi
    fi

    # readline replaces only the text after the last ':' or '=' that bash
    # split at: give back only that part of each candidate.
    local full=$cur
    local shown=${COMP_WORDS[COMP_CWORD]-}
    [[ $shown == ":" || $shown == "=" ]] && shown=
    if [[ $full != "$shown" && $full == *"$shown" ]]; then
        local strip=${full%"$shown"}
        local k
        for k in "${!COMPREPLY[@]}"; do COMPREPLY[k]=${COMPREPLY[k]#"$strip"}; done
    fi
    if [[ -n $_kiln_nospace ]]; then
        compopt -o nospace 2>/dev/null || true
    fi
    return 0
}

complete -F _kiln kiln
