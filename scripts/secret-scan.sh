#!/usr/bin/env bash
# Fails when a tracked file holds something that looks like a real credential.
#
#   scripts/secret-scan.sh              scan the files git tracks (git ls-files)
#   scripts/secret-scan.sh --untracked  also scan untracked, not ignored files (before a commit)
#
# Each finding is printed as `path:line: rule: <first 4 characters>… (N chars)`; the value itself
# is never printed in full. A line carrying the marker `secret-scan: allow` (in a comment) is
# skipped. Cargo.lock and binary files are not scanned.
#
# Rules: AWS access key ids, Alpaca key ids, PEM private key headers, GitHub and Slack tokens,
# Slack webhooks, database/broker URLs with a password, and assignments of a 16+ character
# literal to a name like api_key, secret, password, token, private_key or credentials.
# Values that are obviously fake are not reported: they name themselves (test, example, fake,
# dummy, placeholder, changeme, redacted, hunter2, ...), count up (0123456789, abcdef), are
# references rather than values (${VAR}, $(cmd), <...>, {{...}}), or do not look random (no digit
# and not mixed case, or fewer than 6 distinct characters).
set -euo pipefail

cd "$(dirname "$0")/.."

untracked=()
case "${1:-}" in
  "") ;;
  --untracked) untracked=(--untracked) ;;
  -h | --help)
    sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'
    exit 0
    ;;
  *)
    echo "secret-scan: unknown argument: $1" >&2
    exit 2
    ;;
esac

if ! git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
  echo "secret-scan: not inside a git work tree" >&2
  exit 2
fi

marker='secret-scan: allow'
pathspec=(-- . ':(exclude,glob)**/Cargo.lock')

# name | case (s = sensitive, i = insensitive) | ERE | index of the value in BASH_REMATCH
rules=(
  "aws-access-key-id|s|(^|[^A-Za-z0-9])((AKIA|ASIA)[A-Z0-9]{16})([^A-Za-z0-9]|$)|2"
  "alpaca-key-id|s|(^|[^A-Za-z0-9])((PK|AK)[A-Z0-9]{18})([^A-Za-z0-9]|$)|2"
  "private-key|s|(-----BEGIN ([A-Z0-9]+ )*PRIVATE KEY( BLOCK)?-----)|1"
  "github-token|s|((gh[pousr]_[A-Za-z0-9]{36,})|(github_pat_[A-Za-z0-9_]{40,}))|1"
  "slack-token|s|(xox[abprs]-[A-Za-z0-9-]{10,})|1"
  "slack-webhook|s|(hooks\.slack\.com/services/T[A-Za-z0-9_]+/B[A-Za-z0-9_]+/[A-Za-z0-9_]+)|1"
  "url-with-password|i|(postgres|postgresql|mysql|mariadb|redis|rediss|amqp|amqps|mongodb|mongodb\+srv)://([^:/@[:space:]\"'\`]+):([^@/[:space:]\"'\`]+)@|3"
  "secret-assignment|i|([A-Za-z0-9_.-]*(api[_.-]?key|apikey|secret|passw(or)?d|pwd|token|access[_.-]?key|private[_.-]?key|credentials?)[A-Za-z0-9_.-]*)[\"']?[[:space:]]*(:[[:space:]]*&?('static[[:space:]]+)?[A-Za-z][A-Za-z0-9_<>]*[[:space:]]*)?(=>|:=|=|:)[[:space:]]*([A-Za-z_][A-Za-z0-9_:.]*\([[:space:]]*)?(r#*)?[\"']([^\"'[:space:]]{16,})[\"']|9"
  "secret-assignment|i|^[[:space:]]*(export[[:space:]]+)?[\"']?([A-Za-z0-9_.-]*(api[_.-]?key|apikey|secret|passw(or)?d|pwd|token|access[_.-]?key|private[_.-]?key|credentials?)[A-Za-z0-9_.-]*)[\"']?[[:space:]]*(=|:)[[:space:]]*([^][(){}<>\"'[:space:]#;,]{16,})[[:space:]]*(#.*)?$|6"
)

# Values that name themselves as fake, or that refer to a value instead of being one.
# shellcheck disable=SC2016 # '${' and '$(' are literal text here
placeholders=(
  test example sample dummy fake mock placeholder changeme change_me change-me redacted
  hunter2 xxxx '****' '....' your_ your- not-a- not_a_ notreal not-real insecure lorem
  qwerty 0123456789 123456789 abcdef guest dev-only local-only
  '${' '$(' '{{' '%(' '<' '>'
)

is_placeholder() {
  local value="${1,,}" word
  for word in "${placeholders[@]}"; do
    [[ "$value" == *"$word"* ]] && return 0
  done
  [[ "$value" == \$* ]] && return 0
  return 1
}

# A real key or password has a digit, or both cases, and more than a handful of characters.
looks_random() {
  local value="$1"
  [[ "$value" =~ [A-Za-z] ]] || return 1
  if ! [[ "$value" =~ [0-9] ]] && ! { [[ "$value" =~ [a-z] ]] && [[ "$value" =~ [A-Z] ]]; }; then
    return 1
  fi
  local distinct
  distinct=$(printf '%s' "$value" | fold -w1 | sort -u | wc -l)
  ((distinct >= 6))
}

# Whether a matched value should be reported, by rule.
reportable() {
  local rule="$1" value="$2"
  case "$rule" in
    private-key) return 0 ;;
    alpaca-key-id)
      [[ "$value" =~ [0-9] ]] || return 1
      ! is_placeholder "$value"
      ;;
    url-with-password)
      is_placeholder "$value" && return 1
      looks_random "$value"
      ;;
    secret-assignment)
      [[ "$value" == *://* ]] && return 1
      is_placeholder "$value" && return 1
      looks_random "$value"
      ;;
    *) ! is_placeholder "$value" ;;
  esac
}

redact() {
  local rule="$1" value="$2"
  if [[ "$rule" == private-key ]]; then
    printf '%s' "$value"
  else
    printf '%s… (%d chars)' "${value:0:4}" "${#value}"
  fi
}

hits=$(mktemp)
trap 'rm -f "$hits"' EXIT

declare -A reported=()
found=()

for entry in "${rules[@]}"; do
  # The regex itself holds '|': take the name and case from the front, the group from the end.
  rule="${entry%%|*}"
  entry="${entry#*|}"
  case_flag="${entry%%|*}"
  entry="${entry#*|}"
  group="${entry##*|}"
  regex="${entry%|*}"
  grep_flags=(-z -n -I -E)
  [[ "$case_flag" == i ]] && grep_flags+=(-i)
  status=0
  git grep "${grep_flags[@]}" "${untracked[@]}" -e "$regex" "${pathspec[@]}" >"$hits" || status=$?
  if ((status > 1)); then
    echo "secret-scan: git grep failed for rule $rule" >&2
    exit 2
  fi
  [[ -s "$hits" ]] || continue
  while IFS= read -r -d '' path && IFS= read -r -d '' lineno && IFS= read -r content; do
    [[ "$content" == *"$marker"* ]] && continue
    # A JSON pagination cursor ("next_page_token": "…", as in Alpaca's payloads) is an opaque
    # position in a result set, not a credential: the only name-based exception.
    [[ "$rule" == secret-assignment && "$content" =~ ^[[:space:]]*\"(next_)?page_token\"[[:space:]]*: ]] && continue
    [[ -z "${reported["$path:$lineno"]:-}" ]] || continue
    # Try every occurrence on the line: the first may be a placeholder, a later one real.
    rest="$content"
    while [[ -n "$rest" ]]; do
      # Case-insensitive rules match with nocasematch; the checks on the value must not.
      [[ "$case_flag" == i ]] && shopt -s nocasematch
      matched=0
      [[ "$rest" =~ $regex ]] && matched=1
      shopt -u nocasematch
      ((matched)) || break
      value="${BASH_REMATCH[$group]}"
      whole="${BASH_REMATCH[0]}"
      if reportable "$rule" "$value"; then
        found+=("$(printf '%s:%s: %s: %s' "$path" "$lineno" "$rule" "$(redact "$rule" "$value")")")
        reported["$path:$lineno"]=1
        break
      fi
      # An anchored rule matches once a line; others move past this match and look again.
      [[ "$regex" == ^* ]] && break
      prefix="${rest%%"$whole"*}"
      rest="${rest:$((${#prefix} + 1))}"
    done
  done <"$hits"
done

findings=${#found[@]}
if ((findings > 0)); then
  printf '%s\n' "${found[@]}" | sort -t: -k1,1 -k2,2n
  echo "secret-scan: $findings possible credential(s) found." >&2
  echo "secret-scan: remove them (and rotate them), or mark a false positive with a '$marker' comment on its line." >&2
  exit 1
fi
list=(--cached)
[[ ${#untracked[@]} -eq 0 ]] || list+=(--others --exclude-standard)
files=$(git ls-files "${list[@]}" "${pathspec[@]}" | wc -l)
echo "secret-scan: no credentials found ($files files scanned)"
