#!/bin/bash
# run.sh - stand-in for the GitHub Actions runner's start script, served by
# the project's GitHub simulator (githubtest). As actions/runner's
# src/Misc/layoutroot/run.sh does, it runs run-helper.sh (a fresh copy of
# run-helper.sh.template) in a loop: the helper's exit code 2 relaunches it,
# 7 is passed on only with ACTIONS_RUNNER_RETURN_VERSION_DEPRECATED_EXIT_CODE=1,
# anything else ends run.sh with exit 0.
#
#   ./run.sh                      a runner set up by config.sh (.runner)
#   ./run.sh --jitconfig CONFIG   a just-in-time runner
#
# The JIT configuration may also come from ACTIONS_RUNNER_INPUT_JITCONFIG,
# which keeps it out of the process list; it reaches the listener only
# through the environment, never on a command line.
set -u

DIR=$(cd -P "$(dirname "${BASH_SOURCE[0]}")" && pwd)

args=()
while [ $# -gt 0 ]; do
	case $1 in
	--jitconfig)
		if [ $# -lt 2 ]; then
			echo "Option --jitconfig needs a value." >&2
			exit 1
		fi
		export ACTIONS_RUNNER_INPUT_JITCONFIG=$2
		shift 2
		;;
	*)
		args+=("$1")
		shift
		;;
	esac
done

helper=
trap '[ -n "$helper" ] && kill -TERM "$helper" 2>/dev/null' TERM INT
while :; do
	cp -f "$DIR/run-helper.sh.template" "$DIR/run-helper.sh"
	"$DIR/run-helper.sh" "${args[@]}" &
	helper=$!
	while :; do
		wait "$helper"
		returnCode=$?
		# wait returns early when a trapped signal arrives; wait again then.
		kill -0 "$helper" 2>/dev/null || break
	done
	helper=
	if [[ $returnCode -eq 2 ]]; then
		echo "Restarting runner..."
	elif [[ ${ACTIONS_RUNNER_RETURN_VERSION_DEPRECATED_EXIT_CODE:-} == "1" && $returnCode -eq 7 ]]; then
		echo "Exiting runner..."
		exit "$returnCode"
	else
		echo "Exiting runner..."
		exit 0
	fi
done
