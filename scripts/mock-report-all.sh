#!/usr/bin/env bash
# Pushes synthetic metric batches for every alert scenario into a running
# oxmon server through the real gRPC ingest (oxmon-mock-report), then shows
# what the alert API reports. Flags are oxmon 0.1's; see --help.
set -euo pipefail

usage() {
  cat <<'EOF'
usage: scripts/mock-report-all.sh [options]

  --scenario <s>          all|baseline|threshold|rate|trend|cert|recovery (default all)
  --agent-count <n>       baseline agents (default 5)
  --agent-prefix <p>      agent id prefix (default mock)
  --pause-ms <n>          pause between batches (default 120)
  --grpc-endpoint <h:p>   gRPC ingest (default 127.0.0.1:9090)
  --http-base-url <url>   REST base (default http://127.0.0.1:8080)
  --health-url <url>      pre-flight check (default <base>/v1/health; failure only warns)
  --build-mode <m>        debug|release|skip: how to get oxmon-mock-report (default debug);
                          OXMON_MOCK_REPORT_BIN=<path> uses that binary instead
  --auto-auth             log in, create (or rotate) a whitelist token for every agent id,
                          and report with those tokens (for require_agent_auth = true)
  --api-username <u>      user for --auto-auth (default admin)
  --api-password <p>      password for --auto-auth (default changeme; oxmon 0.2 generates the
                          admin password on first start, so pass the real one)
  --auth-token <t>        one gRPC token for every agent
  --auth-token-file <f>   agent_id=token lines
  --wait-alert-secs <n>   wait before querying alerts (default 2)
  --print-payload         print every batch
  --cleanup-temp          delete the temporary directory at the end
  --list-agents           print the agent ids the scenario reports as, then exit
  -h, --help              this text
EOF
}

scenario=all agent_count=5 agent_prefix=mock pause_ms=120
grpc_endpoint=127.0.0.1:9090 http_base_url=http://127.0.0.1:8080 health_url=""
build_mode=debug auto_auth=0 api_username=admin api_password=changeme
auth_token="" auth_token_file="" wait_alert_secs=2 print_payload=0 cleanup_temp=0 list_agents=0

need() { [[ $# -ge 2 ]] || { echo "error: $1 needs a value" >&2; exit 2; }; }
while [[ $# -gt 0 ]]; do
  case "$1" in
    --scenario) need "$@"; scenario=$2; shift 2 ;;
    --agent-count) need "$@"; agent_count=$2; shift 2 ;;
    --agent-prefix) need "$@"; agent_prefix=$2; shift 2 ;;
    --pause-ms) need "$@"; pause_ms=$2; shift 2 ;;
    --grpc-endpoint) need "$@"; grpc_endpoint=$2; shift 2 ;;
    --http-base-url) need "$@"; http_base_url=${2%/}; shift 2 ;;
    --health-url) need "$@"; health_url=$2; shift 2 ;;
    --build-mode) need "$@"; build_mode=$2; shift 2 ;;
    --auto-auth) auto_auth=1; shift ;;
    --api-username) need "$@"; api_username=$2; shift 2 ;;
    --api-password) need "$@"; api_password=$2; shift 2 ;;
    --auth-token) need "$@"; auth_token=$2; shift 2 ;;
    --auth-token-file) need "$@"; auth_token_file=$2; shift 2 ;;
    --wait-alert-secs) need "$@"; wait_alert_secs=$2; shift 2 ;;
    --print-payload) print_payload=1; shift ;;
    --cleanup-temp) cleanup_temp=1; shift ;;
    --list-agents) list_agents=1; shift ;;
    -h|--help) usage; exit 0 ;;
    *) echo "error: unknown option $1" >&2; usage >&2; exit 2 ;;
  esac
done
[[ -n $auth_token && -n $auth_token_file ]] && { echo "error: --auth-token and --auth-token-file are exclusive" >&2; exit 2; }
[[ $build_mode =~ ^(debug|release|skip)$ ]] || { echo "error: --build-mode must be debug, release or skip" >&2; exit 2; }
[[ -n $health_url ]] || health_url="$http_base_url/v1/health"

agent_ids() {
  local i
  case $scenario in all|baseline) for ((i = 1; i <= agent_count; i++)); do printf '%s-normal-%02d\n' "$agent_prefix" "$i"; done ;; esac
  case $scenario in all|threshold) echo "$agent_prefix-threshold" ;; esac
  case $scenario in all|rate) echo "$agent_prefix-rate" ;; esac
  case $scenario in all|trend) echo "$agent_prefix-trend" ;; esac
  case $scenario in all|cert) echo "cert-checker" ;; esac
  case $scenario in all|recovery) echo "$agent_prefix-recovery" ;; esac
}
if [[ $list_agents == 1 ]]; then agent_ids; exit 0; fi

root=$(cd "$(dirname "$0")/.." && pwd)
tmp=$(mktemp -d "${TMPDIR:-/tmp}/oxmon-mock.XXXXXX")
if [[ $cleanup_temp == 1 ]]; then trap 'rm -rf "$tmp"' EXIT; fi

# --- the reporter binary -------------------------------------------------
if [[ -n ${OXMON_MOCK_REPORT_BIN:-} ]]; then
  reporter=$OXMON_MOCK_REPORT_BIN
else
  target=${CARGO_TARGET_DIR:-$root/target}
  case $build_mode in
    debug|release)
      # Cargo's own progress goes to stderr: a first build takes minutes.
      echo "==> building oxmon-mock-report ($build_mode; the first build takes a few minutes, later ones seconds)"
      profile=(); [[ $build_mode == release ]] && profile=(--release)
      (cd "$root" && cargo build "${profile[@]}" -p oxmon-server --bin oxmon-mock-report)
      reporter=$target/$build_mode/oxmon-mock-report ;;
    skip) reporter=$(command -v oxmon-mock-report || echo "$target/debug/oxmon-mock-report") ;;
  esac
fi
[[ -x $reporter ]] || { echo "error: reporter binary not found at $reporter" >&2; exit 1; }

# --- REST helpers ----------------------------------------------------------
jwt=""
# json_string FIELD: the string value of FIELD in the JSON on stdin (the
# last one if the key repeats; callers pass objects where it does not).
json_string() { tr -d '\n' | sed -n "s/.*\"$1\" *: *\"\([^\"]*\)\".*/\1/p"; }
status="" body=""
api() { # METHOD PATH [BODY] -> sets $status (HTTP code) and $body
  local method=$1 path=$2 data=${3:-}
  local args=(-sS -o "$tmp/body" -w '%{http_code}' -X "$method" -H 'Content-Type: application/json')
  [[ -n $jwt ]] && args+=(-H "Authorization: Bearer $jwt")
  [[ -n $data ]] && args+=(--data "$data")
  : >"$tmp/body"
  status=$(curl "${args[@]}" "$http_base_url$path") || status=000
  body=$(cat "$tmp/body")
}

if curl -fsS -m 5 "$health_url" >/dev/null 2>&1; then
  echo "server healthy at $health_url"
else
  echo "warning: health check failed at $health_url; trying anyway" >&2
fi


login() {
  api POST /v1/auth/login "{\"username\":\"$api_username\",\"password\":\"$api_password\"}"
  [[ $status == 200 ]] || { echo "error: login as $api_username failed (HTTP $status): $body" >&2; exit 1; }
  jwt=$(json_string token <<<"$body")
}

if [[ $auto_auth == 1 ]]; then
  login
  auth_token_file=$tmp/agent-tokens
  : >"$auth_token_file"
  for agent in $(agent_ids); do
    api POST /v1/agents/whitelist "{\"agent_id\":\"$agent\",\"description\":\"mock-report-all\"}"
    if [[ $status == 409 ]]; then
      api GET '/v1/agents/whitelist?limit=1000'
      id=$(tr '{' '\n' <<<"$body" | grep "\"agent_id\":\"$agent\"" | json_string id || true)
      [[ -n $id ]] || { echo "error: $agent exists but is not in the whitelist listing" >&2; exit 1; }
      api POST "/v1/agents/whitelist/$id/token"
    fi
    [[ $status =~ ^20[01]$ ]] || { echo "error: whitelisting $agent failed (HTTP $status): $body" >&2; exit 1; }
    token=$(json_string token <<<"$body")
    [[ -n $token ]] || { echo "error: no token for $agent in: $body" >&2; exit 1; }
    echo "$agent=$token" >>"$auth_token_file"
  done
  echo "whitelisted $(wc -l <"$auth_token_file") agents; tokens in $auth_token_file"
fi

# --- report ----------------------------------------------------------------
args=(--server-endpoint "$grpc_endpoint" --scenario "$scenario" --agent-count "$agent_count"
      --agent-prefix "$agent_prefix" --pause-ms "$pause_ms")
[[ -n $auth_token ]] && args+=(--auth-token "$auth_token")
[[ -n $auth_token_file ]] && args+=(--auth-token-file "$auth_token_file")
[[ $print_payload == 1 ]] && args+=(--print-payload)
echo "==> reporting scenario '$scenario' to $grpc_endpoint"
"$reporter" "${args[@]}"

# --- what the server made of it ---------------------------------------------
echo "==> waiting ${wait_alert_secs}s for the alert engine, then reading the alert API"
sleep "$wait_alert_secs"
if [[ -z $jwt && $api_password != changeme ]]; then login; fi
if [[ -n $jwt ]]; then
  api GET /v1/alerts/summary
  echo "alert summary (HTTP $status): $body"
  if [[ $auto_auth == 1 ]]; then
    api GET '/v1/alerts/active?limit=50'
    echo "active alerts (HTTP $status): $body"
  fi
else
  echo "(pass --auto-auth or --api-password to see the alert summary)"
fi
echo "mock report done"
