# Shared by scripts/test, scripts/screenshot and scripts/bench: make sure what the tests need is
# here. On a fresh Debian machine (as root) this installs and starts it.

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"
  elif command -v sudo >/dev/null; then sudo "$@"
  else echo "need root to run: $*" >&2; return 1
  fi
}

apt_install() {
  export DEBIAN_FRONTEND=noninteractive
  as_root apt-get install -y "$@" >/dev/null 2>&1 || {
    as_root apt-get update >/dev/null && as_root apt-get install -y "$@" >/dev/null
  }
}

port_open() { (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; }

# RabbitMQ on 127.0.0.1:5672 (guest/guest).
ensure_broker() {
  if port_open 127.0.0.1 5672; then return 0; fi
  echo "RabbitMQ is not reachable on 127.0.0.1:5672: starting it"
  command -v rabbitmq-server >/dev/null || apt_install rabbitmq-server
  as_root rabbitmq-server -detached || true
  for _ in $(seq 1 60); do
    if as_root rabbitmqctl await_startup >/dev/null 2>&1 && port_open 127.0.0.1 5672; then
      echo "RabbitMQ is up"
      return 0
    fi
    sleep 2
  done
  echo "RabbitMQ did not start; see /var/log/rabbitmq" >&2
  return 1
}

# nats-server with JetStream on 127.0.0.1:4222. The tests also start private servers of their
# own (a restart test), so the binary must be on PATH even when one already listens.
ensure_nats() {
  command -v nats-server >/dev/null || apt_install nats-server
  if port_open 127.0.0.1 4222; then return 0; fi
  echo "NATS is not reachable on 127.0.0.1:4222: starting nats-server with JetStream"
  local dir="${TMPDIR:-/tmp}/switchboard-nats"
  mkdir -p "$dir"
  nohup nats-server -a 127.0.0.1 -p 4222 -js -sd "$dir" >"$dir/server.log" 2>&1 &
  for _ in $(seq 1 50); do
    if port_open 127.0.0.1 4222; then
      echo "NATS is up"
      return 0
    fi
    sleep 0.2
  done
  echo "nats-server did not start; see $dir/server.log" >&2
  return 1
}

# Xvfb, imagemagick and xdotool for the screenshot smoke test.
ensure_display_tools() {
  local missing=()
  command -v Xvfb >/dev/null || missing+=(xvfb xauth)
  command -v import >/dev/null || missing+=(imagemagick)
  command -v xdotool >/dev/null || missing+=(xdotool)
  command -v xwininfo >/dev/null || missing+=(x11-utils)
  if [ ${#missing[@]} -gt 0 ]; then
    echo "installing ${missing[*]}"
    apt_install "${missing[@]}" libvulkan1 mesa-vulkan-drivers libgl1 libegl1
  fi
}
