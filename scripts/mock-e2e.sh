#!/usr/bin/env bash
# Runs scripts/mock-report-all.sh, then scripts/mock-query-check.sh, against a
# running server: synthetic data for every alert scenario in, read API checked.
set -euo pipefail

usage() {
  cat <<'EOF'
usage: scripts/mock-e2e.sh [options]

Report options (see mock-report-all.sh --help): --scenario --agent-count --agent-prefix
  --pause-ms --wait-alert-secs --grpc-endpoint --http-base-url --health-url --build-mode
  --auth-token --auth-token-file --print-payload --cleanup-temp
  --auto-auth             whitelist every mock agent (uses --username/--password)
Query options (see mock-query-check.sh --help): --username --password --jwt-token
  --summary-agent --summary-metric --limit
  --verbose-query         print every response body of the query check
Cleanup:
  --keep-agents           keep the mock agents; by default the last step forgets them
                          (DELETE /v1/agents/{id}: gone from /v1/agents and the whitelist,
                          their open alerts resolved; their samples stay until retention)
EOF
}

here=$(cd "$(dirname "$0")" && pwd)
report=() query=() username=admin password=changeme auto_auth=0 keep_agents=0
base=http://127.0.0.1:8080
need() { [[ $# -ge 2 ]] || { echo "error: $1 needs a value" >&2; exit 2; }; }
while [[ $# -gt 0 ]]; do
  case "$1" in
    --scenario|--pause-ms|--wait-alert-secs|--grpc-endpoint|--health-url|--build-mode|--auth-token|--auth-token-file|--agent-count)
      need "$@"; report+=("$1" "$2"); shift 2 ;;
    --agent-prefix) need "$@"; report+=("$1" "$2"); query+=("$1" "$2"); shift 2 ;;
    --http-base-url) need "$@"; report+=("$1" "$2"); query+=("$1" "$2"); base=${2%/}; shift 2 ;;
    --print-payload|--cleanup-temp) report+=("$1"); shift ;;
    --auto-auth) auto_auth=1; shift ;;
    --keep-agents) keep_agents=1; shift ;;
    --username) need "$@"; username=$2; shift 2 ;;
    --password) need "$@"; password=$2; shift 2 ;;
    --jwt-token|--summary-agent|--summary-metric|--limit) need "$@"; query+=("$1" "$2"); shift 2 ;;
    --verbose-query) query+=(--verbose); shift ;;
    -h|--help) usage; exit 0 ;;
    *) echo "error: unknown option $1" >&2; usage >&2; exit 2 ;;
  esac
done
report+=(--api-username "$username" --api-password "$password")
if [[ $auto_auth == 1 ]]; then report+=(--auto-auth); fi
query+=(--username "$username" --password "$password")

echo "== step 1: mock-report-all"
"$here/mock-report-all.sh" "${report[@]}"
echo "== step 2: mock-query-check"
"$here/mock-query-check.sh" "${query[@]}"
if [[ $keep_agents == 0 ]]; then
  echo "== step 3: forget the mock agents"
  # The scenario's ids, except cert-checker: the server's own certificate
  # checker reports under that id.
  mapfile -t agents < <("$here/mock-report-all.sh" "${report[@]}" --list-agents | grep -vx cert-checker)
  login=$(curl -sS -X POST "$base/v1/auth/login" -H 'content-type: application/json' \
    -d "{\"username\":\"$username\",\"password\":\"$password\"}")
  jwt=$(sed -n 's/.*"token":"\([^"]*\)".*/\1/p' <<<"$login")
  [[ -n $jwt ]] || { echo "error: login as $username failed: $login" >&2; exit 1; }
  for agent in "${agents[@]}"; do
    status=$(curl -sS -o /dev/null -w '%{http_code}' -X DELETE -H "Authorization: Bearer $jwt" "$base/v1/agents/$agent")
    case $status in
      200) ;;
      404) ;; # never reported (e.g. a scenario that was not run)
      *) echo "error: forgetting $agent failed (HTTP $status)" >&2; exit 1 ;;
    esac
  done
  echo "forgot ${#agents[@]} mock agents (their samples stay until retention; --keep-agents keeps them)"
fi
echo "== mock-e2e passed"
