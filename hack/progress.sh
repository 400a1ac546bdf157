# Sourced by hack/build-control-plane.sh and hack/build-tools.sh: timestamped progress lines on
# stderr, and a heartbeat while a long step runs so a newcomer sees the build is alive.
# Set PROGRESS_LABEL (e.g. "control-plane") before sourcing.

log() { printf '[%s %s] %s\n' "${PROGRESS_LABEL:-build}" "$(date +%H:%M:%S)" "$*" >&2; }

# Runs "$@" in the background, logging every 20 s until it ends (polled each second, so a quick
# step returns at once); fails with the command's status.
with_heartbeat() {
  local label="$1"; shift
  local start=$SECONDS
  "$@" &
  local pid=$! next=$((SECONDS + 20))
  while kill -0 "$pid" 2>/dev/null; do
    sleep 1
    if (( SECONDS >= next )) && kill -0 "$pid" 2>/dev/null; then
      log "$label: still working ($((SECONDS - start))s)"
      next=$((SECONDS + 20))
    fi
  done
  wait "$pid"
  log "$label: done in $((SECONDS - start))s"
}
