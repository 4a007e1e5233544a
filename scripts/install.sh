#!/usr/bin/env bash
# Installs oxmon-server or oxmon-agent on a Linux host (or macOS, without a
# service): the binary from a GitHub release (or a local build with --from),
# a config written from the example unless one exists, and a hardened systemd
# unit, then enables and (re)starts it.
#
#   curl -fsSL https://raw.githubusercontent.com/oxmon/oxmon/main/scripts/install.sh | sudo bash -s -- server
#   curl -fsSL .../install.sh | sudo bash -s -- agent --server-endpoint 10.0.1.100:9090 --auth-token "$TOKEN"
#   sudo scripts/install.sh server --from target/release     # a local build
#   scripts/install.sh agent --from target/agent --prefix /tmp/root --dry-run
#
# Run it again to upgrade: the binary and unit are replaced, configs are kept.
set -euo pipefail

usage() {
  cat <<'EOF'
usage: install.sh server|agent [options]

  --version VERSION         release to install, e.g. 0.2.0 (default: latest)
  --from DIR                install DIR/oxmon-<component> (a local build, e.g. target/release
                            or target/agent) instead of downloading a release
  --repo OWNER/NAME         GitHub repository of the releases (default: $OXMON_REPO or oxmon/oxmon)
  --base-url URL            download from URL/<archive> and URL/SHA256SUMS instead (a mirror;
                            file:// works with curl); --version and --repo are then ignored
  --install-dir DIR         where the binary goes (default: /usr/local/bin)
  --config-dir DIR          where <component>.toml goes (default: /etc/oxmon)
  --data-dir DIR            server: data directory (default: /var/lib/oxmon)
  --agent-id ID             agent: reported id (default: the host name)
  --server-endpoint H:P     agent: the server's gRPC address (default: 127.0.0.1:9090)
  --auth-token TOKEN        agent: whitelist or shared token, written to <config-dir>/agent.env (0600)
  --prefix DIR              install below DIR (a staging root): no user, no chown, no systemctl
  --no-systemd              do not install the systemd unit
  --no-start                install the unit but do not enable or start it
  --dry-run                 print what would be done, change nothing
  -h, --help                this text

Configs that exist are never overwritten (the flags that fill them then have no effect).
EOF
}

die() { echo "install.sh: $*" >&2; exit 1; }
usage_error() { echo "install.sh: $*" >&2; echo "run install.sh --help for the options" >&2; exit 64; }

COMPONENT=""
VERSION=latest
FROM=""
REPO=${OXMON_REPO:-oxmon/oxmon}
BASE_URL=""
INSTALL_DIR=/usr/local/bin
CONFIG_DIR=/etc/oxmon
DATA_DIR=/var/lib/oxmon
AGENT_ID=""
SERVER_ENDPOINT=""
AUTH_TOKEN=""
PREFIX=""
SYSTEMD=1
START=1
DRY_RUN=0

need_value() { [[ $# -ge 2 && -n $2 ]] || usage_error "$1 needs a value"; }
while [[ $# -gt 0 ]]; do
  case $1 in
    server | agent)
      [[ -z $COMPONENT ]] || usage_error "give one component, not $COMPONENT and $1"
      COMPONENT=$1 ;;
    --version) need_value "$@"; VERSION=${2#v}; shift ;;
    --from) need_value "$@"; FROM=$2; shift ;;
    --repo) need_value "$@"; REPO=$2; shift ;;
    --base-url) need_value "$@"; BASE_URL=${2%/}; shift ;;
    --install-dir) need_value "$@"; INSTALL_DIR=$2; shift ;;
    --config-dir) need_value "$@"; CONFIG_DIR=$2; shift ;;
    --data-dir) need_value "$@"; DATA_DIR=$2; shift ;;
    --agent-id) need_value "$@"; AGENT_ID=$2; shift ;;
    --server-endpoint) need_value "$@"; SERVER_ENDPOINT=$2; shift ;;
    --auth-token) need_value "$@"; AUTH_TOKEN=$2; shift ;;
    --prefix) need_value "$@"; PREFIX=${2%/}; shift ;;
    --no-systemd) SYSTEMD=0 ;;
    --no-start) START=0 ;;
    --dry-run) DRY_RUN=1 ;;
    --setup-pm2 | --pm2-only) usage_error "$1: oxmon 0.2 installs a systemd unit instead of PM2 (see --help)" ;;
    -h | --help) usage; exit 0 ;;
    *) usage_error "unknown argument: $1" ;;
  esac
  shift
done
[[ -n $COMPONENT ]] || usage_error "say what to install: server or agent"
if [[ $COMPONENT == server ]]; then
  [[ -z $AGENT_ID && -z $SERVER_ENDPOINT && -z $AUTH_TOKEN ]] ||
    usage_error "--agent-id, --server-endpoint and --auth-token are agent options"
else
  [[ $DATA_DIR == /var/lib/oxmon ]] || usage_error "--data-dir is a server option"
fi
for dir in "$INSTALL_DIR" "$CONFIG_DIR" "$DATA_DIR"; do
  [[ $dir == /* ]] || usage_error "$dir: directories must be absolute paths"
done
if [[ -n $SERVER_ENDPOINT && ! $SERVER_ENDPOINT =~ ^(https?://)?[^[:space:]/:]+:[0-9]+/?$ ]]; then
  usage_error "--server-endpoint $SERVER_ENDPOINT: expected host:port"
fi
[[ -z $AGENT_ID || $AGENT_ID =~ ^[A-Za-z0-9._-]+$ ]] || usage_error "--agent-id $AGENT_ID: use letters, digits, '.', '_' and '-'"

BIN=oxmon-$COMPONENT
UNIT=oxmon-$COMPONENT.service
# The checkout this script is in, if it is run from one (not through curl | bash).
SCRIPT_ROOT=""
if [[ -n ${BASH_SOURCE[0]:-} && -f ${BASH_SOURCE[0]} ]]; then
  SCRIPT_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
  [[ -f $SCRIPT_ROOT/config/$COMPONENT.example.toml ]] || SCRIPT_ROOT=""
fi

# === actions (printed, and skipped with --dry-run) ===

run() {
  echo "+ $*"
  [[ $DRY_RUN == 1 ]] || "$@"
}
# write_file MODE DEST: stdin to DEST, atomically.
write_file() {
  local mode=$1 dest=$2
  if [[ $DRY_RUN == 1 ]]; then
    echo "+ write $dest (mode $mode):"
    sed 's/^/    | /'
    return
  fi
  echo "+ write $dest (mode $mode)"
  local tmp
  tmp=$(mktemp "$dest.XXXXXX")
  cat >"$tmp"
  chmod "$mode" "$tmp"
  mv -f "$tmp" "$dest"
}
# install_file MODE SRC DEST: a copy renamed into place (a running binary is not overwritten in place).
install_file() {
  local mode=$1 src=$2 dest=$3
  echo "+ install -m $mode $src $dest"
  [[ $DRY_RUN == 1 ]] && return
  cp "$src" "$dest.new"
  chmod "$mode" "$dest.new"
  mv -f "$dest.new" "$dest"
}

# === where the files come from ===

platform() {
  local os arch
  case $(uname -s) in
    Linux) os=linux ;;
    Darwin) os=macos ;;
    *) die "unsupported OS $(uname -s): releases exist for Linux and macOS" ;;
  esac
  case $(uname -m) in
    x86_64 | amd64) arch=x86_64 ;;
    aarch64 | arm64) arch=aarch64 ;;
    *) die "unsupported CPU $(uname -m): releases exist for x86_64 and aarch64" ;;
  esac
  echo "$arch-$os"
}

fetch() {
  if command -v curl >/dev/null 2>&1; then
    curl -fsSL --retry 3 -o "$2" "$1"
  elif command -v wget >/dev/null 2>&1; then
    wget -q -O "$2" "$1"
  else
    die "curl or wget is needed to download $1"
  fi
}

sha256_of() {
  if command -v sha256sum >/dev/null 2>&1; then sha256sum "$1" | cut -d' ' -f1
  else shasum -a 256 "$1" | cut -d' ' -f1; fi
}

WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

# Sets SRC_BIN, SRC_CONFIG (example config) and SRC_UNIT.
SRC_BIN="" SRC_CONFIG="" SRC_UNIT=""
if [[ -n $FROM ]]; then
  SRC_BIN=$FROM/$BIN
  [[ -f $SRC_BIN ]] || die "$SRC_BIN not found (build it first: cargo build --release -p oxmon-server, or cargo build --profile agent -p oxmon-agent)"
  [[ -n $SCRIPT_ROOT ]] || die "--from needs the script run from an oxmon checkout (for the example config and unit)"
else
  PLATFORM=$(platform)
  ASSET=$BIN-$PLATFORM.tar.gz
  if [[ -n $BASE_URL ]]; then
    BASE=$BASE_URL
  elif [[ $VERSION == latest ]]; then
    BASE=https://github.com/$REPO/releases/latest/download
  else
    BASE=https://github.com/$REPO/releases/download/v$VERSION
  fi
  if [[ $DRY_RUN == 1 ]]; then
    echo "+ download $BASE/$ASSET and verify it against $BASE/SHA256SUMS"
    SRC_BIN="$ASSET:$BIN"
  else
    echo "+ download $BASE/$ASSET"
    fetch "$BASE/$ASSET" "$WORK/$ASSET" || die "download of $BASE/$ASSET failed"
    fetch "$BASE/SHA256SUMS" "$WORK/SHA256SUMS" || die "download of $BASE/SHA256SUMS failed"
    expected=$(awk -v a="$ASSET" '$2 == a || $2 == "*" a { print $1 }' "$WORK/SHA256SUMS")
    [[ -n $expected ]] || die "SHA256SUMS has no line for $ASSET"
    [[ $(sha256_of "$WORK/$ASSET") == "$expected" ]] || die "$ASSET: checksum mismatch (expected $expected)"
    echo "+ sha256 ok: $expected"
    tar -xzf "$WORK/$ASSET" -C "$WORK"
    # The archive holds one directory: <asset name without .tar.gz>/.
    dir=$WORK/${ASSET%.tar.gz}
    SRC_BIN=$dir/$BIN
    [[ -f $SRC_BIN ]] || die "$ASSET has no $BIN"
    [[ -f $dir/$COMPONENT.example.toml ]] && SRC_CONFIG=$dir/$COMPONENT.example.toml
    [[ -f $dir/$UNIT ]] && SRC_UNIT=$dir/$UNIT
  fi
fi
if [[ -n $SCRIPT_ROOT ]]; then
  [[ -n $SRC_CONFIG ]] || SRC_CONFIG=$SCRIPT_ROOT/config/$COMPONENT.example.toml
  [[ -n $SRC_UNIT ]] || SRC_UNIT=$SCRIPT_ROOT/deploy/systemd/$UNIT
fi
if [[ -z $SRC_CONFIG || -z $SRC_UNIT ]] && [[ $DRY_RUN == 0 ]]; then
  die "the example config or the systemd unit was found neither in the release archive nor in a checkout"
fi

# === install ===

if [[ -z $PREFIX && $DRY_RUN == 0 && $(id -u) != 0 ]]; then
  die "run as root (sudo), or use --prefix to stage the files elsewhere"
fi
ON_LINUX=1
[[ $(uname -s) == Linux ]] || ON_LINUX=0
if [[ $ON_LINUX == 0 && $SYSTEMD == 1 ]]; then
  echo "note: no systemd on $(uname -s); skipping the service (run $INSTALL_DIR/$BIN $CONFIG_DIR/$COMPONENT.toml)"
  SYSTEMD=0
fi
# Users, ownership and systemctl only on the live system.
LIVE=1
[[ -z $PREFIX ]] || LIVE=0

run mkdir -p "$PREFIX$INSTALL_DIR" "$PREFIX$CONFIG_DIR"
if [[ $DRY_RUN == 1 && $SRC_BIN == *:* ]]; then
  echo "+ install -m 0755 $SRC_BIN $PREFIX$INSTALL_DIR/$BIN"
else
  install_file 0755 "$SRC_BIN" "$PREFIX$INSTALL_DIR/$BIN"
fi

if [[ $COMPONENT == server && $LIVE == 1 && $ON_LINUX == 1 ]] && ! id oxmon >/dev/null 2>&1; then
  nologin=$(command -v nologin || echo /usr/sbin/nologin)
  run useradd --system --user-group --no-create-home --home-dir /var/lib/oxmon --shell "$nologin" oxmon
fi

config=$PREFIX$CONFIG_DIR/$COMPONENT.toml
if [[ -e $config ]]; then
  echo "= $config exists; kept as it is"
elif [[ -z $SRC_CONFIG ]]; then
  echo "+ write $config from the release's $COMPONENT.example.toml"
else
  # The example, with this host's values. Its agent_id is an example: unless
  # --agent-id is given it is commented out, so the host name is reported.
  if [[ $COMPONENT == server ]]; then
    awk -v dir="$DATA_DIR" '/^data_dir = / { print "data_dir = \"" dir "\""; next } { print }' "$SRC_CONFIG"
  else
    awk -v id="$AGENT_ID" -v endpoint="${SERVER_ENDPOINT:-127.0.0.1:9090}" '
      /^agent_id = / { if (id != "") print "agent_id = \"" id "\""; else print "# " $0; next }
      /^server_endpoint = / { print "server_endpoint = \"" endpoint "\""; next }
      { print }' "$SRC_CONFIG"
  fi >"$WORK/config"
  # The server's config may hold secrets: readable by its group only.
  if [[ $COMPONENT == server ]]; then mode=0640; else mode=0644; fi
  write_file "$mode" "$config" <"$WORK/config"
  if [[ $COMPONENT == server && $LIVE == 1 && $ON_LINUX == 1 ]]; then run chown root:oxmon "$config"; fi
fi

if [[ -n $AUTH_TOKEN ]]; then
  printf 'OXMON_AGENT_AUTH_TOKEN=%s\n' "$AUTH_TOKEN" | write_file 0600 "$PREFIX$CONFIG_DIR/agent.env"
fi

if [[ $COMPONENT == server && $DATA_DIR != /var/lib/oxmon ]]; then
  # The unit's StateDirectory covers /var/lib/oxmon only.
  run mkdir -p "$PREFIX$DATA_DIR"
  if [[ $LIVE == 1 ]]; then run chown oxmon:oxmon "$PREFIX$DATA_DIR"; run chmod 0750 "$PREFIX$DATA_DIR"; fi
fi

if [[ $SYSTEMD == 1 ]]; then
  unit_dir=$PREFIX/etc/systemd/system
  run mkdir -p "$unit_dir"
  # The unit names /usr/local/bin and /etc/oxmon; other directories are substituted.
  if [[ -z $SRC_UNIT ]]; then
    echo "+ write $unit_dir/$UNIT from the release archive"
  else
    sed -e "s|/usr/local/bin/|$INSTALL_DIR/|g" -e "s|/etc/oxmon/|$CONFIG_DIR/|g" "$SRC_UNIT" >"$WORK/unit"
    write_file 0644 "$unit_dir/$UNIT" <"$WORK/unit"
  fi
  if [[ $COMPONENT == server && $DATA_DIR != /var/lib/oxmon ]]; then
    run mkdir -p "$unit_dir/$UNIT.d"
    printf '[Service]\n# Written by install.sh --data-dir.\nReadWritePaths=%s\n' "$DATA_DIR" |
      write_file 0644 "$unit_dir/$UNIT.d/data-dir.conf"
  fi
  if [[ $LIVE == 1 && -d /run/systemd/system ]]; then
    run systemctl daemon-reload
    if [[ $START == 1 ]]; then
      run systemctl enable "$UNIT"
      # restart: starts it, or runs the new binary after an upgrade.
      run systemctl restart "$UNIT"
      echo "$UNIT is running: systemctl status $UNIT; journalctl -u $UNIT -f"
    else
      echo "installed; start it with: systemctl enable --now $UNIT"
    fi
  elif [[ $LIVE == 1 ]]; then
    echo "note: systemd is not running here; start $INSTALL_DIR/$BIN $CONFIG_DIR/$COMPONENT.toml yourself"
  fi
fi

if [[ $COMPONENT == server && $LIVE == 1 ]]; then
  echo "On its first start the server creates the user admin and prints a generated password once:"
  echo "  journalctl -u $UNIT | grep -i password"
fi
if [[ $DRY_RUN == 1 ]]; then echo "dry run: nothing changed"; else echo "done: $BIN installed"; fi
