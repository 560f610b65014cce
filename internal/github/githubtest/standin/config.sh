#!/bin/bash
# config.sh - stand-in for the GitHub Actions runner's configuration script,
# served by the project's GitHub simulator (githubtest). It takes the real
# script's command line and registers the runner with the simulator's runner
# service, found at the scheme and host of --url:
#
#   ./config.sh --url URL --token TOKEN [--name NAME] [--labels a,b]
#       [--runnergroup GROUP] [--work DIR] [--ephemeral] [--replace]
#       [--unattended] [--disableupdate] [--no-default-labels]
#   ./config.sh remove --token TOKEN
#
# Like the real runner, every option may come from the environment instead,
# as ACTIONS_RUNNER_INPUT_<NAME> (ACTIONS_RUNNER_INPUT_TOKEN, ...), which keeps
# the token out of the process list. Writes .runner and .credentials.
# Needs bash, sed, mktemp, hostname and wget (busybox has the rest). As the
# real config.sh (actions/runner src/Misc/layoutroot/config.sh), it refuses
# to run as root unless RUNNER_ALLOW_RUNASROOT is set, and stops when the
# runner's libraries (libicu) are missing.
set -u

if [ "$(id -u)" -eq 0 ] && [ -z "${RUNNER_ALLOW_RUNASROOT:-}" ]; then
	echo "Must not run with sudo"
	exit 1
fi

root=$(cd "$(dirname "$0")" && pwd)
. "$root/bin/standin.env"

if ! "$root/bin/has-libicu.sh"; then
	echo "Libicu's dependencies is missing for Dotnet Core 6.0"
	echo "Execute sudo ./bin/installdependencies.sh to install any missing Dotnet Core 6.0 dependencies."
	exit 1
fi

die() {
	echo "$*" >&2
	exit 1
}

# json_field NAME FILE: the value on the "NAME": line of a JSON file written
# one key per line.
json_field() {
	sed -n "s/^[[:space:]]*\"$1\":[[:space:]]*//p" "$2" | head -n 1 | sed 's/,[[:space:]]*$//; s/^"//; s/"$//'
}

cmd=configure
if [ "${1:-}" = remove ]; then
	cmd=remove
	shift
fi

url=${ACTIONS_RUNNER_INPUT_URL:-}
token=${ACTIONS_RUNNER_INPUT_TOKEN:-}
name=${ACTIONS_RUNNER_INPUT_NAME:-}
labels=${ACTIONS_RUNNER_INPUT_LABELS:-}
group=${ACTIONS_RUNNER_INPUT_RUNNERGROUP:-}
work=${ACTIONS_RUNNER_INPUT_WORK:-_work}
ephemeral=0
replace=0
nodefault=0
while [ $# -gt 0 ]; do
	case $1 in
	--url | --token | --name | --labels | --runnergroup | --work)
		[ $# -ge 2 ] || die "Option $1 needs a value."
		case $1 in
		--url) url=$2 ;;
		--token) token=$2 ;;
		--name) name=$2 ;;
		--labels) labels=$2 ;;
		--runnergroup) group=$2 ;;
		--work) work=$2 ;;
		esac
		shift 2
		;;
	--ephemeral) ephemeral=1; shift ;;
	--replace) replace=1; shift ;;
	--no-default-labels) nodefault=1; shift ;;
	--unattended | --disableupdate) shift ;;
	*) die "Unrecognized command-line input arguments: '$1'." ;;
	esac
done

umask 077
tmp=$(mktemp -d "${TMPDIR:-/tmp}/runner-config.XXXXXX") || die "Cannot create a temporary directory."
trap 'rm -rf "$tmp"' EXIT

# post PATH SERVICE: send $tmp/req to the runner service, answer in $tmp/resp.
post() {
	timeout 30 wget -q -O "$tmp/resp" --post-file "$tmp/req" "${2}_runner/$1" 2>"$tmp/err" ||
		die "Cannot reach the runner service at $2: $(cat "$tmp/err")"
}

kv() {
	sed -n "s/^$1=//p" "$tmp/resp" | head -n 1
}

if [ "$cmd" = remove ]; then
	[ -f "$root/.runner" ] || die "The runner is not configured."
	[ -n "$token" ] || die "Option --token is required."
	runner_id=$(json_field agentId "$root/.runner")
	service=$(json_field serverUrl "$root/.runner")
	printf 'token=%s\nrunner_id=%s\n' "$token" "$runner_id" >"$tmp/req"
	post unregister "$service"
	[ "$(kv status)" = ok ] || die "Failed to remove the runner: $(kv message)"
	rm -f "$root/.runner" "$root/.credentials"
	echo "Runner removed successfully."
	exit 0
fi

[ ! -f "$root/.runner" ] || die "Cannot configure the runner because it is already configured. To reconfigure the runner, run './config.sh remove --token TOKEN' first."
[ -n "$url" ] || die "Option --url is required."
[ -n "$token" ] || die "Option --token is required."
[ -n "$name" ] || name=$(hostname)
service=$(printf '%s\n' "$url" | sed -n 's#^\(https\{0,1\}://[^/]*\).*#\1/#p')
[ -n "$service" ] || die "Invalid --url '$url'."

printf 'token=%s\nurl=%s\nname=%s\nlabels=%s\nrunnergroup=%s\nwork=%s\nephemeral=%s\nreplace=%s\nno_default_labels=%s\nos=%s\narch=%s\nversion=%s\n' \
	"$token" "$url" "$name" "$labels" "$group" "$work" "$ephemeral" "$replace" "$nodefault" \
	"$RUNNER_OS" "$RUNNER_ARCH" "$RUNNER_VERSION" >"$tmp/req"
post register "$service"
[ "$(kv status)" = ok ] || die "Failed to configure the runner: $(kv message)"

eph=false
[ "$ephemeral" = 1 ] && eph=true
cat >"$root/.runner" <<JSON
{
  "agentId": $(kv runner_id),
  "agentName": "$(kv runner_name)",
  "poolId": $(kv pool_id),
  "poolName": "$(kv pool_name)",
  "serverUrl": "$(kv runner_url)",
  "gitHubUrl": "$url",
  "workFolder": "$work",
  "ephemeral": $eph
}
JSON
cat >"$root/.credentials" <<JSON
{
  "scheme": "OAuth",
  "data": {
    "clientId": "$(kv runner_id)",
    "clientSecret": "$(kv secret)"
  }
}
JSON
echo "Runner successfully added"
echo "Settings Saved."
