#!/usr/bin/env bash
# Checks the read API of a running oxmon server after scripts/mock-report-all.sh:
# every call must answer HTTP 200 with err_code 0; prints a table, exits 1 otherwise.
set -euo pipefail

usage() {
  cat <<'EOF'
usage: scripts/mock-query-check.sh [options]

  --http-base-url <url>    REST base (default http://127.0.0.1:8080)
  --username <u>           login user (default admin)
  --password <p>           login password (default changeme; oxmon 0.2 generates the admin
                           password on first start, so pass the real one)
  --jwt-token <t>          use this token instead of logging in
  --agent-prefix <p>       agent id prefix used by the report (default mock)
  --summary-agent <a>      agent for the metric summary (default <prefix>-threshold)
  --summary-metric <m>     metric for the metric summary (default cpu.usage)
  --limit <n>              page size (default 20)
  --verbose                print every response body
  -h, --help               this text
EOF
}

http_base_url=http://127.0.0.1:8080 username=admin password=changeme jwt=""
agent_prefix=mock summary_agent="" summary_metric=cpu.usage limit=20 verbose=0

need() { [[ $# -ge 2 ]] || { echo "error: $1 needs a value" >&2; exit 2; }; }
while [[ $# -gt 0 ]]; do
  case "$1" in
    --http-base-url) need "$@"; http_base_url=${2%/}; shift 2 ;;
    --username) need "$@"; username=$2; shift 2 ;;
    --password) need "$@"; password=$2; shift 2 ;;
    --jwt-token) need "$@"; jwt=$2; shift 2 ;;
    --agent-prefix) need "$@"; agent_prefix=$2; shift 2 ;;
    --summary-agent) need "$@"; summary_agent=$2; shift 2 ;;
    --summary-metric) need "$@"; summary_metric=$2; shift 2 ;;
    --limit) need "$@"; limit=$2; shift 2 ;;
    --verbose) verbose=1; shift ;;
    -h|--help) usage; exit 0 ;;
    *) echo "error: unknown option $1" >&2; usage >&2; exit 2 ;;
  esac
done
[[ -n $summary_agent ]] || summary_agent="$agent_prefix-threshold"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/oxmon-query.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
failures=0
rows=()

# check NAME METHOD PATH [BODY]: records one row; the body is left in $tmp/body.
check() {
  local name=$1 method=$2 path=$3 body=${4:-} status code
  local args=(-sS -o "$tmp/body" -w '%{http_code}' -X "$method" -H 'Content-Type: application/json')
  [[ -n $jwt ]] && args+=(-H "Authorization: Bearer $jwt")
  [[ -n $body ]] && args+=(--data "$body")
  status=$(curl "${args[@]}" "$http_base_url$path" 2>"$tmp/err") || status=000
  code=$(sed -n 's/.*"err_code" *: *\([0-9-]*\).*/\1/p' "$tmp/body" 2>/dev/null | head -n1)
  local verdict=ok
  if [[ $status != 200 || ${code:-0} != 0 ]]; then verdict=FAIL; failures=$((failures + 1)); fi
  rows+=("$(printf '%-5s %-4s %-3s %-16s %s' "$verdict" "$method" "$status" "$name" "$path")")
  if [[ $verbose == 1 || $verdict == FAIL ]]; then
    echo "--- $method $path -> $status"
    cat "$tmp/body" "$tmp/err" 2>/dev/null; echo
  fi
}

enc() { local s=$1 out="" c i; for ((i = 0; i < ${#s}; i++)); do c=${s:i:1}; case $c in [a-zA-Z0-9._~-]) out+=$c ;; *) out+=$(printf '%%%02X' "'$c") ;; esac; done; printf '%s' "$out"; }

if [[ -z $jwt ]]; then
  check login POST /v1/auth/login "{\"username\":\"$username\",\"password\":\"$password\"}"
  jwt=$(tr -d '\n' <"$tmp/body" | sed -n 's/.*"token" *: *"\([^"]*\)".*/\1/p')
  [[ -n $jwt ]] || { printf '%s\n' "${rows[@]}"; echo "error: login failed; nothing else can be checked" >&2; exit 1; }
fi
check health GET /v1/health
check metric-agents GET "/v1/metrics/agents"
check metric-names GET "/v1/metrics/names"
check metrics GET "/v1/metrics?limit=$limit"
check metric-summary GET "/v1/metrics/summary?agent_id=$(enc "$summary_agent")&metric_name=$(enc "$summary_metric")"
check alert-summary GET /v1/alerts/summary
check alerts-active GET "/v1/alerts/active?limit=$limit"
check alert-history GET "/v1/alerts/history?limit=$limit"
check dashboard GET /v1/dashboard/overview

printf '%-5s %-4s %-3s %-16s %s\n' RESULT VERB ST CHECK PATH
printf '%s\n' "${rows[@]}"
if [[ $failures -gt 0 ]]; then
  echo "$failures check(s) failed" >&2
  exit 1
fi
echo "all ${#rows[@]} checks passed"
