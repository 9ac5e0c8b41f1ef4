/**
 * Shell completion scripts for bash and zsh, generated from the command catalog: command words
 * (`ref set`), then each command's flags; file names for arguments.
 */
import type {CatalogCommand} from './commandCatalog.js'

function flagWords(c: CatalogCommand): string[] {
  const words: string[] = []
  for (const f of c.flags) {
    words.push(`--${f.name}`)
    if (f.char) words.push(`-${f.char}`)
  }
  return words
}

function shQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`
}

export function bashCompletion(cmds: CatalogCommand[], bin = 'velo'): string {
  const fn = `_${bin.replace(/[^A-Za-z0-9_]/g, '_')}_complete`
  const cases = cmds.map((c) => `    ${shQuote(c.id)}) echo ${shQuote(flagWords(c).join(' '))} ;;`).join('\n')
  return `# ${bin} completion for bash. Load it with:  source <(${bin} completion bash)
# or install it:  ${bin} completion bash > /etc/bash_completion.d/${bin}
${fn}_ids=(${cmds.map((c) => shQuote(c.id)).join(' ')})

${fn}_flags() {
  case "$1" in
${cases}
  esac
}

${fn}() {
  local cur="\${COMP_WORDS[COMP_CWORD]}" typed="" w i id cmd=""
  for ((i = 1; i < COMP_CWORD; i++)); do
    w="\${COMP_WORDS[i]}"
    [[ $w == -* ]] && continue
    typed="\${typed:+$typed }$w"
  done
  # the longest command whose words have all been typed
  for id in "\${${fn}_ids[@]}"; do
    if [[ "$typed" == "$id" || "$typed" == "$id "* ]] && ((\${#id} > \${#cmd})); then cmd="$id"; fi
  done
  COMPREPLY=()
  if [[ -n $cmd ]]; then
    if [[ $cur == -* ]]; then
      COMPREPLY=($(compgen -W "$(${fn}_flags "$cmd")" -- "$cur"))
    fi
    return 0  # arguments: file names (complete -o default)
  fi
  local next=()
  for id in "\${${fn}_ids[@]}"; do
    if [[ -z $typed ]]; then
      next+=("\${id%% *}")
    elif [[ "$id" == "$typed "* ]]; then
      w="\${id#"$typed "}"
      next+=("\${w%% *}")
    fi
  done
  COMPREPLY=($(compgen -W "$(printf '%s\\n' "\${next[@]}" | sort -u)" -- "$cur"))
}

complete -o default -F ${fn} ${bin}
`
}


export function zshCompletion(cmds: CatalogCommand[], bin = 'velo'): string {
  const fn = `_${bin.replace(/[^A-Za-z0-9_]/g, '_')}`
  const ids = cmds.map((c) => `    ${shQuote(`${c.id}:${c.summary}`)}`).join('\n')
  const cases = cmds
    .map((c) => {
      const flags = c.flags.flatMap((f) => [`--${f.name}:${f.description}`, ...(f.char ? [`-${f.char}:${f.description}`] : [])])
      return `    ${shQuote(c.id)}) flags=(${flags.map(shQuote).join(' ')}) ;;`
    })
    .join('\n')
  return `#compdef ${bin}
# ${bin} completion for zsh. Load it with:  source <(${bin} completion zsh)
# or install it as _${bin} in a directory of $fpath (e.g. ${bin} completion zsh > ~/.zfunc/_${bin}).
${fn}() {
  local -a ids flags next
  local typed="" w i id cmd="" desc
  ids=(
${ids}
  )
  for ((i = 2; i < CURRENT; i++)); do
    w=\${words[i]}
    [[ $w == -* ]] && continue
    typed="\${typed:+$typed }$w"
  done
  for id in "\${ids[@]}"; do
    id=\${id%%:*}
    if [[ "$typed" == "$id" || "$typed" == "$id "* ]] && ((\${#id} > \${#cmd})); then cmd="$id"; fi
  done
  if [[ -n $cmd ]]; then
    if [[ \${words[CURRENT]} == -* ]]; then
      case "$cmd" in
${cases}
      esac
      _describe -t flags 'flag' flags
    else
      _files
    fi
    return
  fi
  local -A seen
  for w in "\${ids[@]}"; do
    id=\${w%%:*}
    desc=\${w#*:}
    if [[ -n $typed ]]; then
      [[ "$id" == "$typed "* ]] || continue
      id=\${id#"$typed "}
    fi
    # a word that starts several commands (a topic) is offered once
    [[ $id == *" "* ]] && desc="\${id%% *} commands"
    id=\${id%% *}
    [[ -n \${seen[$id]} ]] && continue
    seen[$id]=1
    next+=("$id:$desc")
  done
  _describe -t commands 'command' next
}

if [[ $zsh_eval_context[-1] == loadautofunc ]]; then
  ${fn} "$@"
else
  compdef ${fn} ${bin}
fi
`
}
