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
EOF
}

here=$(cd "$(dirname "$0")" && pwd)
report=() query=() username=admin password=changeme auto_auth=0
need() { [[ $# -ge 2 ]] || { echo "error: $1 needs a value" >&2; exit 2; }; }
while [[ $# -gt 0 ]]; do
  case "$1" in
    --scenario|--pause-ms|--wait-alert-secs|--grpc-endpoint|--health-url|--build-mode|--auth-token|--auth-token-file|--agent-count)
      need "$@"; report+=("$1" "$2"); shift 2 ;;
    --agent-prefix) need "$@"; report+=("$1" "$2"); query+=("$1" "$2"); shift 2 ;;
    --http-base-url) need "$@"; report+=("$1" "$2"); query+=("$1" "$2"); shift 2 ;;
    --print-payload|--cleanup-temp) report+=("$1"); shift ;;
    --auto-auth) auto_auth=1; shift ;;
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
echo "== mock-e2e passed"
