#!/bin/sh
# run.sh - stand-in for the GitHub Actions runner's start script, served by
# the project's GitHub simulator (githubtest). It starts bin/Runner.Listener
# and exits with its code: 0 after an ephemeral runner's job or on SIGTERM,
# 1 on a fatal error, 2 when the service stayed unreachable, 5 on a session
# conflict.
#
#   ./run.sh                      a runner set up by config.sh (.runner)
#   ./run.sh --jitconfig CONFIG   a just-in-time runner
#
# The JIT configuration may also come from ACTIONS_RUNNER_INPUT_JITCONFIG,
# which keeps it out of the process list; run.sh hands it to the listener
# only through the environment, never on its command line.
set -u

root=$(cd "$(dirname "$0")" && pwd)

while [ $# -gt 0 ]; do
	case $1 in
	--jitconfig)
		if [ $# -lt 2 ]; then
			echo "Option --jitconfig needs a value." >&2
			exit 1
		fi
		ACTIONS_RUNNER_INPUT_JITCONFIG=$2
		export ACTIONS_RUNNER_INPUT_JITCONFIG
		shift 2
		;;
	--once) shift ;;
	--startuptype)
		shift
		[ $# -gt 0 ] && shift
		;;
	*)
		echo "Unrecognized command-line input arguments: '$1'." >&2
		exit 1
		;;
	esac
done

if [ -z "${ACTIONS_RUNNER_INPUT_JITCONFIG:-}" ] && [ ! -f "$root/.runner" ]; then
	echo "Not configured. Run config.sh to configure the runner." >&2
	exit 1
fi

listener=
stopping=0
trap 'stopping=1; [ -n "$listener" ] && kill -TERM "$listener" 2>/dev/null' TERM INT
"$root/bin/Runner.Listener" run &
listener=$!
# A stop request that came while the listener was starting.
[ "$stopping" = 1 ] && kill -TERM "$listener" 2>/dev/null
while :; do
	wait "$listener"
	rc=$?
	# wait returns early when a trapped signal arrives; wait again then.
	kill -0 "$listener" 2>/dev/null || break
done
exit "$rc"
