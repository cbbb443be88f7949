#!/usr/bin/env bash
# A one-node Slurm cluster on this machine, for trying the hydra/launcher=slurm path end to end.
#   sudo scripts/slurm/single_node.sh start    # installs slurm-wlm + munge (Debian) if missing, starts them
#   export SLURM_CONF=/tmp/unlearn-bench-slurm/slurm.conf
#   scripts/slurm/check_grid.sh                # a 2-job grid through Slurm, then the report
#   sudo scripts/slurm/single_node.sh stop
# Everything lives under $SLURM_STATE (default /tmp/unlearn-bench-slurm); /etc/slurm is not touched.
# Not for a real cluster: no accounting, no cgroups, the daemons run as root.
set -euo pipefail
STATE=${SLURM_STATE:-/tmp/unlearn-bench-slurm}
CONF=$STATE/slurm.conf
NODE=$(hostname -s)

install_packages() {
  command -v slurmctld >/dev/null && command -v munged >/dev/null && return
  [ "$(id -u)" = 0 ] || { echo "slurm-wlm and munge are missing: run this script as root to install them." >&2; exit 1; }
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q slurm-wlm munge >/dev/null
}

write_config() {
  local cpus mem_mb
  cpus=$(nproc)
  mem_mb=$(( $(awk '/MemTotal/ {print $2}' /proc/meminfo) / 1024 - 1024 ))
  mkdir -p "$STATE"/{ctld,spool,log}
  cat >"$CONF" <<CONF
ClusterName=unlearnbench
SlurmctldHost=$NODE
SlurmUser=root
AuthType=auth/munge
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
ReturnToService=2
MpiDefault=none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
StateSaveLocation=$STATE/ctld
SlurmdSpoolDir=$STATE/spool
SlurmctldPidFile=$STATE/slurmctld.pid
SlurmdPidFile=$STATE/slurmd.pid
SlurmctldLogFile=$STATE/log/slurmctld.log
SlurmdLogFile=$STATE/log/slurmd.log
NodeName=$NODE CPUs=$cpus RealMemory=$mem_mb State=UNKNOWN
PartitionName=local Nodes=$NODE Default=YES MaxTime=INFINITE State=UP
CONF
}

start() {
  install_packages
  write_config
  [ -s /etc/munge/munge.key ] || { mkdir -p /etc/munge; dd if=/dev/urandom bs=1 count=1024 of=/etc/munge/munge.key 2>/dev/null; }
  chmod 0400 /etc/munge/munge.key
  mkdir -p /run/munge /var/log/munge /var/lib/munge
  pgrep -x munged >/dev/null || munged --force
  pgrep -x slurmctld >/dev/null || slurmctld -f "$CONF"
  pgrep -x slurmd >/dev/null || slurmd -f "$CONF"
  export SLURM_CONF=$CONF
  for _ in $(seq 30); do
    if sinfo -h -o %t 2>/dev/null | grep -qE '^(idle|mix|alloc)'; then
      sinfo
      echo "Slurm is up. In your shell: export SLURM_CONF=$CONF"
      return
    fi
    scontrol update nodename="$NODE" state=resume >/dev/null 2>&1 || true
    sleep 1
  done
  echo "Slurm did not come up; see $STATE/log/." >&2
  exit 1
}

stop() {
  pkill -x slurmd || true
  pkill -x slurmctld || true
  echo "Slurm stopped (munged left running)."
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  *) echo "usage: $0 start|stop" >&2; exit 2 ;;
esac
