#!/usr/bin/env bash
# Stops the cluster scripts/slurm/start.sh started in $DISTILLERY_SLURM_DIR (default
# /tmp/distillery-slurm): cancels its jobs, then sends TERM (KILL after 10 s) to exactly the
# PIDs start.sh recorded (slurmd, slurmctld, munged), each only if /proc says it is that
# daemon started from that folder. Never kills by name. Idempotent.
set -uo pipefail
B=${DISTILLERY_SLURM_DIR:-/tmp/distillery-slurm}
say() { echo "slurm/stop.sh: $*" >&2; }
[ -d "$B/pids" ] || { say "nothing started in $B"; exit 0; }
export SLURM_CONF=$B/etc/slurm.conf

mine() { # mine NAME -> prints the PID when the recorded process is that daemon of $B
    local name=$1 f="$B/pids/$1.pid" pid
    [ -f "$f" ] || return 1
    pid=$(cat "$f")
    [ -r "/proc/$pid/cmdline" ] || return 1
    grep -q '^State:[[:space:]]*Z' "/proc/$pid/status" 2>/dev/null && return 1
    tr '\0' ' ' < "/proc/$pid/cmdline" | grep -q -- "$name" || return 1
    tr '\0' ' ' < "/proc/$pid/cmdline" | grep -qF -- "$B" || return 1
    echo "$pid"
}

# Running job steps outlive slurmd (slurmstepd is reparented to PID 1): cancel them first.
if mine slurmctld >/dev/null; then
    jobs=$(squeue -h -o %A 2>/dev/null | sort -u)
    if [ -n "$jobs" ]; then
        scancel $jobs 2>/dev/null || true
        end=$((SECONDS + 15))
        while [ -n "$(squeue -h -o %A 2>/dev/null)" ] && [ $SECONDS -lt $end ]; do sleep 0.2; done
    fi
fi
for name in slurmd slurmctld munged; do
    pid=$(mine "$name") || { rm -f "$B/pids/$name.pid"; continue; }
    kill -TERM "$pid" 2>/dev/null
    end=$((SECONDS + 10))
    while mine "$name" >/dev/null && [ $SECONDS -lt $end ]; do sleep 0.1; done
    if mine "$name" >/dev/null; then
        say "$name ($pid) ignored TERM; sending KILL"
        kill -KILL "$pid" 2>/dev/null
    fi
    rm -f "$B/pids/$name.pid"
    say "stopped $name ($pid)"
done
