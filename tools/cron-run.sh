#!/bin/sh
# newsbot's cron recipe: one scheduled `scrapy crawl nbd`, safely.
#
#   7 * * * *  /srv/newsbot/tools/cron-run.sh
#   7 * * * *  NEWSBOT_STATE_DIR=/var/lib/newsbot /srv/newsbot/tools/cron-run.sh -a columns=3,332
#
# - One instance at a time: `flock -n` on <state>/cron.lock; a run that finds the previous one
#   still going exits 75 (EX_TEMPFAIL) at once, saying so, and fetches nothing.
# - A time limit: `timeout` sends SIGTERM after NEWSBOT_RUN_LIMIT, which starts Scrapy's graceful
#   shutdown (requests in flight finish, feeds publish, the state store and the report are
#   written); only if the crawl is still running NEWSBOT_KILL_AFTER later is it killed
#   (SIGKILL; delivery survives that too, the next run settles it). Keep NEWSBOT_KILL_AFTER well
#   above DOWNLOAD_TIMEOUT (30 s), as the graceful shutdown waits for downloads in flight.
# - Logs in <state>/logs/<UTC time>.log (older than NEWSBOT_KEEP_DAYS removed), reports in
#   <state>/runs/<run id>.json, records in NEWSBOT_OUTPUT (one new file per run).
#
# Exit status: the crawl's (0 ok, 1 failed, 2 a wrong argument: the log's last line says why), 75
# another run holds the lock, 124 stopped by the time limit (gracefully), 137 killed after the
# grace period, 127 no Scrapy found.
#
# Settings (environment): NEWSBOT_DIR (the project, default: this script's parent),
# NEWSBOT_STATE_DIR (default $NEWSBOT_DIR/state), NEWSBOT_OUTPUT (default
# $NEWSBOT_DIR/out/nbd-%(time)s.jsonl), NEWSBOT_RUN_LIMIT (default 50m), NEWSBOT_KILL_AFTER
# (default 3m), NEWSBOT_KEEP_DAYS (default 30), SCRAPY (default: the project's own virtualenv,
# see below). Arguments are passed to `scrapy crawl nbd` (-a ..., -s ...).
#
# cron runs this with almost no environment (PATH=/usr/bin:/bin, no activated virtualenv), so the
# script finds Scrapy itself: $SCRAPY if set, else the scrapy of the project's virtualenv
# ($NEWSBOT_DIR/.venv, as the README creates it, or $NEWSBOT_DIR/venv), else a scrapy on PATH.
# Finding none, it says so on stderr and in a log file of the state directory, and exits 127.
set -eu

here=$(cd "$(dirname "$0")/.." && pwd)
project=${NEWSBOT_DIR:-$here}
state=${NEWSBOT_STATE_DIR:-$project/state}
output=${NEWSBOT_OUTPUT:-$project/out/nbd-%(time)s.jsonl}
limit=${NEWSBOT_RUN_LIMIT:-50m}
grace=${NEWSBOT_KILL_AFTER:-3m}
keep=${NEWSBOT_KEEP_DAYS:-30}

mkdir -p "$state/logs"
log="$state/logs/$(date -u +%Y%m%dT%H%M%SZ).log"
find "$state/logs" -name '*.log' -type f -mtime +"$keep" -exec rm -f {} + 2>/dev/null || true

# The command line is built in "$@": the arguments given stay whole, and so does a project path
# with spaces; only $SCRAPY is split on purpose (SCRAPY="python -m scrapy" works).
scrapy=
if [ -n "${SCRAPY:-}" ]; then
    :
elif [ -x "$project/.venv/bin/scrapy" ]; then
    scrapy=$project/.venv/bin/scrapy
elif [ -x "$project/venv/bin/scrapy" ]; then
    scrapy=$project/venv/bin/scrapy
elif command -v scrapy >/dev/null 2>&1; then
    scrapy=scrapy
else
    message="newsbot: no scrapy to run: no virtualenv at $project/.venv or $project/venv (create it as the README says: python3 -m venv .venv && .venv/bin/pip install -e .) and none on PATH ($PATH); set SCRAPY to the command"
    echo "$message" >&2
    echo "$(date -u '+%Y-%m-%d %H:%M:%S') [newsbot] ERROR: Run failed: $message" >>"$log"
    exit 127
fi

set -- crawl nbd -s NEWSBOT_STATE_DIR="$state" -s LOG_FILE="$log" -o "$output" "$@"
if [ -n "$scrapy" ]; then
    set -- "$scrapy" "$@"
else
    # shellcheck disable=SC2086
    set -- $SCRAPY "$@"
fi

cd "$project"
status=0
# --foreground: timeout signals Scrapy alone. Without it, timeout sends SIGTERM to Scrapy and then
# to its whole process group, and a loaded machine can deliver the two separately: Scrapy reads
# a second SIGTERM as "force an unclean shutdown" and nothing is published or reported.
flock -n -E 75 "$state/cron.lock" \
    timeout --signal=TERM --kill-after="$grace" --foreground "$limit" "$@" \
    || status=$?

case $status in
    75) echo "newsbot: another run holds $state/cron.lock; this one did nothing" >&2 ;;
    124) echo "newsbot: stopped after $limit (graceful shutdown); see $log" >&2 ;;
    137) echo "newsbot: killed $grace after the time limit; see $log" >&2 ;;
esac
exit "$status"
