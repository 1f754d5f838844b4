#!/usr/bin/env zsh
# zsh-complete.zsh FPATH_DIR LINE: runs zsh's real completion system on LINE
# (as if TAB were pressed at its end) in an interactive zsh under zsh/zpty,
# with _kiln from FPATH_DIR, and prints every candidate offered, one a line.
# compadd is wrapped to print what the completion functions add (with their
# -P/-S/-p/-s affixes and IPREFIX) before adding it as usual.
emulate -L zsh
zmodload zsh/zpty || exit 2
local dir=$1 line=$2
zpty kilncomp zsh -f -i
zpty -w kilncomp 'PS1="" RPS1=""; unsetopt zle_bracketed_paste 2>/dev/null; setopt nobeep'
zpty -w kilncomp "fpath=(${(q)dir} \$fpath); autoload -Uz compinit; compinit -u -D"
zpty -w kilncomp 'zstyle ":completion:*" list-grouped false; zstyle ":completion:*" insert-tab false'
zpty -w kilncomp '_kiln_t_end() { print -r -- "<<KILN-END>>"; }; comppostfuncs=(_kiln_t_end)'
zpty -w kilncomp 'compadd() {
  if [[ ${@[1,(i)(-|--)]} == *-(O|A|D)\ * ]]; then builtin compadd "$@"; return; fi
  local -a __hits apre hpre hsuf asuf
  builtin compadd -A __hits "$@"
  zparseopts -E P:=apre p:=hpre S:=asuf s:=hsuf
  local h
  for h in $__hits; do print -r -- "<<HIT:$IPREFIX${apre[2]}${hpre[2]}$h${hsuf[2]}${asuf[2]}>>"; done
  builtin compadd "$@"
}'
zpty -w kilncomp 'print -r -- "<<KILN-READY>>"'
local all= l
integer i
# wait for the set-up to finish, then press TAB at the end of LINE
for (( i = 0; i < 500; i++ )); do
  zpty -r -t kilncomp l 2>/dev/null || { sleep 0.02; continue; }
  all+=$l
  [[ $all == *'<<KILN-READY>>'[^\"]* || $l == '<<KILN-READY>>'* ]] && break
done
all=
zpty -w -n kilncomp "$line"$'\t'
for (( i = 0; i < 500; i++ )); do
  zpty -r -t kilncomp l 2>/dev/null || { sleep 0.02; continue; }
  all+=$l
  [[ $all == *'<<KILN-END>>'* ]] && break
done
zpty -d kilncomp
local -a hits
hits=(${(f)"$(print -r -- $all | grep -o '<<HIT:[^>]*>>')"})
for l in $hits; do print -r -- ${${l#<<HIT:}%>>}; done
