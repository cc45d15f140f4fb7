# Shell helpers the benches share (sourced, not run).

free_port() { python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }

# Starts `skiff apiserver` alone on the memory store with its data in WORK/data, sets API to
# its pid and returns once it answers /readyz.
start_memory_apiserver() {
  local skiff=$1 work=$2 port
  port=$(free_port)
  "$skiff" --log-level warn apiserver --storage memory --data-dir "$work/data" --listen "127.0.0.1:$port" >"$work/log" 2>&1 &
  API=$!
  for _ in $(seq 100); do
    [ -f "$work/data/kubeconfig" ] && kubectl --kubeconfig "$work/data/kubeconfig" get --raw /readyz >/dev/null 2>&1 && return
    sleep 0.1
  done
}

# CPU ticks (user + system) a process has used, and its resident memory in MB.
cpu_ticks() { awk '{print $14+$15}' "/proc/$1/stat"; }
rss_mb() { awk '/VmRSS/ {printf "%.0f", $2/1024}' "/proc/$1/status"; }
