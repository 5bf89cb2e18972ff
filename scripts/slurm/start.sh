#!/usr/bin/env bash
# Starts a private single-node Slurm cluster (munged + slurmctld + slurmd, all as root, no
# systemd) for the test suite and the README's Slurm example; installs the Debian packages
# if they are missing. Idempotent: a cluster already running from the same folder is reused.
#
#   scripts/slurm/start.sh            # then: source "$DISTILLERY_SLURM_DIR/env.sh"
#   scripts/slurm/stop.sh             # stops exactly the processes this script started
#
# Environment (all optional):
#   DISTILLERY_SLURM_DIR   the cluster's folder (default /tmp/distillery-slurm): etc/slurm.conf,
#                          env.sh, munge/, state/, spool/, log/, run/, pids/
#   DISTILLERY_SLURM_CTLD_PORT / DISTILLERY_SLURM_SLURMD_PORT   (default 6817 / 6818)
#   DISTILLERY_SLURM_NO_INSTALL=1   fail instead of installing missing packages
#   DISTILLERY_SLURM_FRESH=1        wipe the controller state (job ids restart at 1)
#   DISTILLERY_SLURM_TIMEOUT        seconds to wait for each daemon (default 60)
# Needs root (the daemons run as root with a private munge socket). Facts behind it:
# shared/reference/slurm-single-node.md (Slurm 22.05 on Debian 12).
set -euo pipefail
set +m
B=${DISTILLERY_SLURM_DIR:-/tmp/distillery-slurm}
CTLD_PORT=${DISTILLERY_SLURM_CTLD_PORT:-6817}
SLURMD_PORT=${DISTILLERY_SLURM_SLURMD_PORT:-6818}
TIMEOUT=${DISTILLERY_SLURM_TIMEOUT:-60}
HOST=$(hostname -s)
say() { echo "slurm/start.sh: $*" >&2; }
die() { say "ERROR: $*"; exit 1; }

[ "$(id -u)" = 0 ] || die "must run as root (it starts munged, slurmctld and slurmd)"

# 1. Packages.
missing=()
for cmd in munged mungekey slurmctld slurmd sbatch; do
    command -v "$cmd" >/dev/null 2>&1 || missing+=("$cmd")
done
if [ ${#missing[@]} -gt 0 ]; then
    [ "${DISTILLERY_SLURM_NO_INSTALL:-0}" = 1 ] && die "missing ${missing[*]} and DISTILLERY_SLURM_NO_INSTALL=1"
    command -v apt-get >/dev/null || die "missing ${missing[*]} and no apt-get to install slurmctld slurmd slurm-client munge"
    say "installing slurmctld slurmd slurm-client munge (missing: ${missing[*]})"
    # Keep the packages' own services from starting (no systemd here): a policy-rc.d that
    # denies, created only if the machine has none, removed afterwards.
    made_policy=0
    if [ ! -e /usr/sbin/policy-rc.d ]; then
        printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod 755 /usr/sbin/policy-rc.d && made_policy=1
    fi
    export DEBIAN_FRONTEND=noninteractive
    { apt-get update -qq && apt-get install -y -qq --no-install-recommends slurmctld slurmd slurm-client munge; } >&2 \
        || { [ $made_policy = 1 ] && rm -f /usr/sbin/policy-rc.d; die "apt-get install failed"; }
    [ $made_policy = 1 ] && rm -f /usr/sbin/policy-rc.d
fi

mkdir -p "$B"/{etc,munge,state,spool,log,run,pids}
chmod 755 "$B" "$B/munge"
export SLURM_CONF=$B/etc/slurm.conf
printf 'export SLURM_CONF=%q\n' "$SLURM_CONF" > "$B/env.sh"

# A recorded PID that is alive, not a zombie, and whose command line names the daemon and $B.
alive() {
    local name=$1 f="$B/pids/$1.pid" pid
    [ -f "$f" ] || return 1
    pid=$(cat "$f")
    [ -r "/proc/$pid/cmdline" ] || return 1
    grep -q '^State:[[:space:]]*Z' "/proc/$pid/status" 2>/dev/null && return 1
    tr '\0' ' ' < "/proc/$pid/cmdline" | grep -q -- "$name" || return 1
    tr '\0' ' ' < "/proc/$pid/cmdline" | grep -qF -- "$B" || return 1
}
wait_for() { # wait_for WHAT CMD...
    local what=$1; shift
    local end=$((SECONDS + TIMEOUT))
    until "$@" >/dev/null 2>&1; do
        [ $SECONDS -lt $end ] || die "$what not ready after ${TIMEOUT}s; see $B/log/"
        sleep 0.1
    done
}

if alive munged && alive slurmctld && alive slurmd && [ "${DISTILLERY_SLURM_FRESH:-0}" != 1 ] \
    && sinfo -h -n "$HOST" -o %T 2>/dev/null | grep -Eq '^(idle|mixed|allocated)'; then
    say "already running in $B"
    exit 0
fi
# Anything half-started from an earlier attempt goes first.
"$(dirname "$0")/stop.sh" >/dev/null 2>&1 || true
if [ "${DISTILLERY_SLURM_FRESH:-0}" = 1 ]; then rm -rf "$B/state" "$B/spool"; mkdir -p "$B/state" "$B/spool"; fi

# 2. munged with a private key and socket.
[ -f "$B/munge/munge.key" ] || mungekey --create --keyfile="$B/munge/munge.key"
chmod 600 "$B/munge/munge.key"
setsid nohup munged --foreground --force --socket="$B/munge/munge.socket" --key-file="$B/munge/munge.key" \
    --pid-file="$B/munge/munged.pid" --log-file="$B/munge/munged.log" --seed-file="$B/munge/munged.seed" \
    </dev/null >>"$B/log/munged.stdout" 2>&1 &
echo $! > "$B/pids/munged.pid"
munge_ok() { munge -n -S "$B/munge/munge.socket" | unmunge -S "$B/munge/munge.socket"; }
wait_for munged munge_ok

# 3. The config: this node, its topology from `slurmd -C`, 80 % of its memory.
node_line=$(slurmd -C | head -1 | sed -E 's/ Boards=[0-9]+//; s/ RealMemory=[0-9]+//')
mem_mb=$(awk '/MemTotal/ {print int($2 / 1024 * 0.8)}' /proc/meminfo)
cat > "$SLURM_CONF" <<CONF
# written by scripts/slurm/start.sh (Distillery): a private single-node cluster
ClusterName=distillery
SlurmctldHost=$HOST(127.0.0.1)
SlurmUser=root
SlurmdUser=root
SlurmctldPort=$CTLD_PORT
SlurmdPort=$SLURMD_PORT
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$B/munge/munge.socket
StateSaveLocation=$B/state
SlurmdSpoolDir=$B/spool
SlurmctldPidFile=$B/run/slurmctld.pid
SlurmdPidFile=$B/run/slurmd.pid
SlurmctldLogFile=$B/log/slurmctld.log
SlurmdLogFile=$B/log/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
MpiDefault=none
SwitchType=switch/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
ReturnToService=2
KillWait=5
MinJobAge=600
MailProg=/bin/true
$node_line NodeAddr=127.0.0.1 RealMemory=$mem_mb State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
CONF

# 4. slurmctld, then slurmd; ready when the node is idle and registered after this start.
setsid nohup slurmctld -D -f "$SLURM_CONF" </dev/null >>"$B/log/slurmctld.stdout" 2>&1 &
echo $! > "$B/pids/slurmctld.pid"
ctld_up() { scontrol ping | grep -q 'is UP'; }
wait_for slurmctld ctld_up
launched=$(date +%s)
setsid nohup slurmd -D -f "$SLURM_CONF" -N "$HOST" </dev/null >>"$B/log/slurmd.stdout" 2>&1 &
echo $! > "$B/pids/slurmd.pid"
node_idle() {
    sinfo -h -n "$HOST" -o %T | grep -qx idle || return 1
    local t
    t=$(scontrol -o show node "$HOST" | grep -o 'SlurmdStartTime=[^ ]*' | cut -d= -f2)
    [ -n "$t" ] && [ "$t" != None ] && [ "$(date -d "$t" +%s)" -ge $((launched - 1)) ]
}
wait_for "node $HOST idle" node_idle
say "cluster up in $B (node $HOST idle); export SLURM_CONF=$SLURM_CONF  (or: source $B/env.sh)"
