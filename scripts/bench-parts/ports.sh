# Loopback ports for the parts that start servers (sourced by demo-cost and layer-cost).

# A free loopback port.
free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# Waits (at most $2 seconds) until a server listens on port $1.
wait_for_port() {
  for _ in $(seq $(($2 * 10))); do
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
    sleep 0.1
  done
  echo "$(basename "$0"): nothing listens on port $1 after $2 s" >&2
  return 1
}
