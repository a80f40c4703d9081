#!/usr/bin/env bash
# Benchmarks the portal edge against nginx and Apache as reverse proxies, side by side in one
# run, and prints requests/s, p50/p99 latency and peak RSS with ratios to nginx.
#
# Layout (2 cores): every proxy under test is pinned to CPU 0, one worker each; the origin
# (nginx serving fixed 1 KiB and 20 KiB bodies) and the load generator (wrk) share CPU 1.
# All traffic stays on 127.0.0.1. nginx and Apache are told to send the security headers and
# the version-less Server header the edge sends by default, so every proxy writes the same response.
#
# Usage: bench/edge.sh [--duration 10] [--connections 64] [--idle 10000]
set -euo pipefail

DURATION=10
CONNECTIONS=64
IDLE_CONNECTIONS=10000
while [ $# -gt 0 ]; do
    case "$1" in
        --duration) DURATION="$2"; shift 2 ;;
        --connections) CONNECTIONS="$2"; shift 2 ;;
        --idle) IDLE_CONNECTIONS="$2"; shift 2 ;;
        *) echo "unknown option $1" >&2; exit 2 ;;
    esac
done

ROOT=$(cd "$(dirname "$0")/.." && pwd)
WORK=$(mktemp -d /tmp/portal-bench.XXXXXX)
chmod 755 "$WORK"
PIDS=()
cleanup() {
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    sleep 0.5
    for pid in "${PIDS[@]}"; do kill -9 "$pid" 2>/dev/null || true; done
    rm -rf "$WORK"
}
trap cleanup EXIT

ORIGIN_PORT=28701
NGINX_PORT=28702
APACHE_PORT=28703
EDGE_PORT=28704
EDGE_TLS_PORT=28705
NGINX_TLS_PORT=28706

need() { command -v "$1" >/dev/null 2>&1; }
if ! need nginx || ! need apache2 || ! need wrk || ! need taskset || ! need h2load; then
    echo "installing nginx, apache2, wrk, h2load from Debian..." >&2
    apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx apache2 wrk nghttp2-client util-linux python3 >/dev/null
fi
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

echo "building portal (release)..." >&2
(cd "$ROOT" && swift build -c release --product portal --scratch-path .build-release 2>&1 | grep -E "error|Compiling|Build" | tail -3 >&2)
PORTAL="$ROOT/.build-release/release/portal"

# --- origin: nginx serving the bodies, on CPU 1 ---------------------------------------------
mkdir -p "$WORK/origin/html" "$WORK/logs"
head -c 1024 /dev/zero | tr '\0' 'a' > "$WORK/origin/html/1k.txt"
head -c 20480 /dev/zero | tr '\0' 'b' > "$WORK/origin/html/20k.txt"
# A realistic 20 KiB page for the compression run (repetitive markup, like the portal's tables).
python3 - "$WORK/origin/html/page.html" <<'PY'
import sys
rows = "".join(f"<tr><td>Tarefa {i}</td><td>Revisar balancete da empresa {i % 37}</td><td>pendente</td></tr>\n" for i in range(260))
html = "<!DOCTYPE html><html lang=\"pt-BR\"><head><meta charset=\"utf-8\"><title>Tarefas</title></head><body><table>" + rows + "</table></body></html>\n"
open(sys.argv[1], "w").write(html[:20480])
PY
# And a 20 KiB page of varied rows (companies, CNPJs, dates, amounts), which gzip shrinks about
# 4.7 times, near the seed's 15 KB -> 4 KB; the page above shrinks 15 times.
python3 - "$WORK/origin/html/tasks.html" <<'PY'
import random, sys
rng = random.Random(2026)
first = ["Alfa", "Brasil", "Central", "Delta", "Estrela", "Forte", "Global", "Horizonte", "Ideal", "Jardim",
         "Litoral", "Minas", "Nova", "Ouro", "Prime", "Real", "Sol", "Terra", "União", "Vale"]
second = ["Comércio", "Serviços", "Transportes", "Alimentos", "Construções", "Tecnologia", "Distribuidora",
          "Indústria", "Consultoria", "Logística", "Materiais", "Saúde"]
kinds = ["Ltda", "S.A.", "ME", "EPP", "EIRELI"]
tasks = ["Conferir extrato bancário", "Apurar ICMS", "Enviar DCTFWeb", "Fechar folha de pagamento", "Revisar balancete",
         "Emitir guia do DAS", "Conciliar fornecedores", "Lançar notas de entrada", "Calcular pró-labore",
         "Entregar EFD-Reinf", "Atualizar cadastro", "Arquivar contratos"]
people = ["Ana", "Bruno", "Carla", "Diego", "Elisa", "Fábio", "Gabriela", "Heitor", "Isabela", "João", "Larissa", "Marcos"]
states = ["pendente", "em andamento", "concluída", "atrasada"]
rows = []
while sum(map(len, rows)) < 22000:
    cnpj = "%02d.%03d.%03d/0001-%02d" % (rng.randrange(100), rng.randrange(1000), rng.randrange(1000), rng.randrange(100))
    state = rng.choice(states)
    rows.append(f'<tr data-id="{rng.randrange(10**6)}"><td>{rng.choice(first)} {rng.choice(second)} {rng.choice(kinds)}</td>'
                f'<td>{cnpj}</td><td>{rng.choice(tasks)}</td><td>{rng.choice(people)}</td>'
                f'<td>{rng.randrange(1, 29):02d}/{rng.randrange(1, 13):02d}/2026</td>'
                f'<td class="{state.replace(" ", "-")}">{state}</td><td>R$ {rng.randrange(100, 99999)},{rng.randrange(100):02d}</td></tr>\n')
html = ('<!DOCTYPE html><html lang="pt-BR"><head><meta charset="utf-8"><title>Tarefas do mês</title></head><body>'
        '<h1>Tarefas do mês</h1><table><thead><tr><th>Empresa</th><th>CNPJ</th><th>Tarefa</th><th>Responsável</th>'
        '<th>Prazo</th><th>Situação</th><th>Valor</th></tr></thead><tbody>\n' + "".join(rows))
open(sys.argv[1], "wb").write(html.encode()[:20480])
PY
mkdir -p "$WORK/static"
head -c 102400 /dev/urandom > "$WORK/static/100k.bin"
cat > "$WORK/origin/nginx.conf" <<CONF
worker_processes 1;
pid $WORK/origin/nginx.pid;
error_log $WORK/logs/origin-error.log;
events { worker_connections 8192; }
http {
    access_log off;
    keepalive_requests 1000000;
    server {
        listen 127.0.0.1:$ORIGIN_PORT;
        root $WORK/origin/html;
    }
}
CONF
taskset -c 1 nginx -c "$WORK/origin/nginx.conf" -g 'daemon off;' &
PIDS+=($!)

# The edge's default Content-Security-Policy; nginx and Apache are told to send it too.
CSP="default-src 'self'; img-src 'self' data: https:; style-src 'self' 'unsafe-inline'; script-src 'self'; font-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'self'; form-action 'self'"

# --- the portal edge, CPU 0 -----------------------------------------------------------------
mkdir -p "$WORK/edge/data"
cat > "$WORK/edge/portal.yaml" <<CONF
data_dir: $WORK/edge/data
log:
  level: warning
edge:
  workers: 1
  upstream_idle_connections: 256
  http_listeners: ["127.0.0.1:$EDGE_PORT"]
  https_listeners: ["127.0.0.1:$EDGE_TLS_PORT"]
  keepalive_timeout: 60
  max_keepalive_requests: 1000000
  max_connections: 20000
  access_log: $WORK/logs/edge-access.log
  sites:
    - name: bench
      hosts: ["*"]
      redirect_to_https: false
      routes:
        - path: /static/
          root: $WORK/static
        - path: /
          upstreams: ["127.0.0.1:$ORIGIN_PORT"]
CONF
# The development certificate for the unused HTTPS listener.
"$PORTAL" up --config "$WORK/edge/portal.yaml" --app-port 28799 --http-port 28798 --https-port 28797 >/dev/null 2>&1 &
UP=$!
for _ in $(seq 1 100); do [ -f "$WORK/edge/data/tls/dev-cert.pem" ] && break; sleep 0.1; done
sleep 1; kill "$UP"; wait "$UP" 2>/dev/null || true
taskset -c 0 "$PORTAL" edge --config "$WORK/edge/portal.yaml" &
PIDS+=($!)
EDGE_PID=$!

# --- nginx as reverse proxy, CPU 0 ----------------------------------------------------------
mkdir -p "$WORK/nginx"
cat > "$WORK/nginx/nginx.conf" <<CONF
worker_processes 1;
worker_cpu_affinity 01;
pid $WORK/nginx/nginx.pid;
error_log $WORK/logs/nginx-error.log;
events { worker_connections 20000; }
http {
    access_log $WORK/logs/nginx-access.log combined buffer=64k;
    keepalive_timeout 60;
    keepalive_requests 1000000;
    # The headers the edge adds by default (the seed's section 11), so both do the same work.
    server_tokens off;
    add_header X-Frame-Options "DENY" always;
    add_header X-Content-Type-Options "nosniff" always;
    add_header Referrer-Policy "strict-origin-when-cross-origin" always;
    add_header Permissions-Policy "camera=(), microphone=(), geolocation=()" always;
    add_header Content-Security-Policy "$CSP" always;
    upstream origin { server 127.0.0.1:$ORIGIN_PORT; keepalive 64; }
    gzip on;
    gzip_comp_level 6;
    gzip_types text/plain text/css application/javascript application/json;
    gzip_proxied any;
    gzip_vary on;
    server {
        listen 127.0.0.1:$NGINX_PORT;
        listen 127.0.0.1:$NGINX_TLS_PORT ssl http2;
        ssl_certificate $WORK/edge/data/tls/dev-cert.pem;
        ssl_certificate_key $WORK/edge/data/tls/dev-key.pem;
        ssl_protocols TLSv1.2 TLSv1.3;
        location /static/ { alias $WORK/static/; sendfile on; }
        location / {
            proxy_pass http://origin;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host \$host;
            proxy_set_header X-Forwarded-For \$proxy_add_x_forwarded_for;
            proxy_set_header X-Forwarded-Proto \$scheme;
        }
    }
}
CONF
taskset -c 0 nginx -c "$WORK/nginx/nginx.conf" -g 'daemon off;' &
PIDS+=($!)

# --- Apache httpd (event MPM, one child) as reverse proxy, CPU 0 ----------------------------
mkdir -p "$WORK/apache"
MODULES=/usr/lib/apache2/modules
cat > "$WORK/apache/httpd.conf" <<CONF
ServerRoot "$WORK/apache"
ServerName localhost
PidFile $WORK/apache/httpd.pid
Listen 127.0.0.1:$APACHE_PORT
LoadModule mpm_event_module $MODULES/mod_mpm_event.so
LoadModule authz_core_module $MODULES/mod_authz_core.so
LoadModule proxy_module $MODULES/mod_proxy.so
LoadModule proxy_http_module $MODULES/mod_proxy_http.so
LoadModule headers_module $MODULES/mod_headers.so
StartServers 1
ServerLimit 1
MinSpareThreads 1
MaxSpareThreads 256
ThreadLimit 256
ThreadsPerChild 256
MaxRequestWorkers 256
MaxConnectionsPerChild 0
KeepAlive On
MaxKeepAliveRequests 0
KeepAliveTimeout 60
ErrorLog $WORK/logs/apache-error.log
LogFormat "%h %l %u %t \"%r\" %>s %b \"%{Referer}i\" \"%{User-Agent}i\"" combined
CustomLog $WORK/logs/apache-access.log combined
ServerTokens Prod
Header always set X-Frame-Options "DENY"
Header always set X-Content-Type-Options "nosniff"
Header always set Referrer-Policy "strict-origin-when-cross-origin"
Header always set Permissions-Policy "camera=(), microphone=(), geolocation=()"
Header always set Content-Security-Policy "$CSP"
ProxyPreserveHost On
ProxyPass / http://127.0.0.1:$ORIGIN_PORT/ retry=0 timeout=300 keepalive=On
CONF
taskset -c 0 apache2 -f "$WORK/apache/httpd.conf" -DFOREGROUND &
PIDS+=($!)

sleep 2
for port in $ORIGIN_PORT $NGINX_PORT $APACHE_PORT $EDGE_PORT; do
    curl -sf -o /dev/null "http://127.0.0.1:$port/1k.txt" || { echo "port $port is not serving" >&2; exit 1; }
done

worker_pid() {  # the process that does the proxying for each server
    case "$1" in
        nginx) pgrep -f "nginx: worker process" | while read -r p; do
                   if grep -q "$WORK/nginx" "/proc/$(cut -d' ' -f4 /proc/$p/stat)/cmdline" 2>/dev/null; then echo "$p"; fi
               done | head -1 ;;
        apache) pgrep -f "apache2 -f $WORK/apache/httpd.conf" | tail -1 ;;
        edge) echo "$EDGE_PID" ;;
    esac
}
peak_rss_kib() { grep VmHWM "/proc/$1/status" | awk '{print $2}'; }
rss_kib() { grep VmRSS "/proc/$1/status" | awk '{print $2}'; }

declare -A RPS P50 P99 RSS PERCPU
run_wrk() {  # name port path
    local out
    taskset -c 1 wrk -t1 -c"$CONNECTIONS" -d2s "http://127.0.0.1:$2$3" >/dev/null 2>&1  # warm-up
    out=$(taskset -c 1 wrk -t1 -c"$CONNECTIONS" -d"${DURATION}s" --latency "http://127.0.0.1:$2$3")
    RPS[$1$3]=$(echo "$out" | awk '/Requests\/sec/ {print $2}')
    P50[$1$3]=$(echo "$out" | awk '$1=="50%" {print $2}')
    P99[$1$3]=$(echo "$out" | awk '$1=="99%" {print $2}')
    if echo "$out" | grep -q "Non-2xx\|Socket errors"; then echo "$1$3: $(echo "$out" | grep "Non-2xx\|Socket errors")" >&2; fi
}

for path in /1k.txt /20k.txt; do
    run_wrk nginx $NGINX_PORT $path
    run_wrk apache $APACHE_PORT $path
    run_wrk edge $EDGE_PORT $path
done
# Static 100 KiB file served by the proxy itself, and a 20 KiB page compressed on the way.
run_wrk nginx $NGINX_PORT /static/100k.bin
run_wrk edge $EDGE_PORT /static/100k.bin
GZIP_HEADER=(-H "Accept-Encoding: gzip")
run_wrk_gzip() {
    local out
    taskset -c 1 wrk -t1 -c"$CONNECTIONS" -d2s "${GZIP_HEADER[@]}" "http://127.0.0.1:$2/$3.html" >/dev/null 2>&1
    out=$(taskset -c 1 wrk -t1 -c"$CONNECTIONS" -d"${DURATION}s" --latency "${GZIP_HEADER[@]}" "http://127.0.0.1:$2/$3.html")
    RPS[$1/gzip-$3]=$(echo "$out" | awk '/Requests\/sec/ {print $2}')
    P50[$1/gzip-$3]=$(echo "$out" | awk '$1=="50%" {print $2}')
    P99[$1/gzip-$3]=$(echo "$out" | awk '$1=="99%" {print $2}')
}
for page in page tasks; do
    run_wrk_gzip nginx $NGINX_PORT $page
    run_wrk_gzip edge $EDGE_PORT $page
done
# New TLS connections per second: one request per connection, same ECDSA P-256 certificate.
# wrk's side of each handshake (verifying the server's signature) costs about as much as the
# server's, so CPU 1 saturates first and both servers idle part of the time. The CPU time the
# proxy itself spends is measured too: handshakes per CPU-second compare the servers' own cost.
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
run_tls() {
    local out pid before after
    pid=$(worker_pid "$1")
    before=$(cpu_ticks "$pid")
    out=$(taskset -c 1 wrk -t1 -c16 -d"${DURATION}s" -H "Connection: close" "https://127.0.0.1:$2/1k.txt")
    after=$(cpu_ticks "$pid")
    RPS[$1/tls]=$(echo "$out" | awk '/Requests\/sec/ {print $2}')
    local requests
    requests=$(echo "$out" | awk '/requests in/ {print $1}')
    PERCPU[$1/tls]=$(awk -v n="$requests" -v t="$((after - before))" -v hz="$(getconf CLK_TCK)" \
        'BEGIN { if (t > 0) printf "%.0f", n / (t / hz); else print "-" }')
}
run_tls nginx $NGINX_TLS_PORT
run_tls edge $EDGE_TLS_PORT
# Proxied 1 KiB over HTTP/2 (TLS): 16 connections with 1 and with 10 streams in flight each.
run_h2() {  # name port streams
    local out
    out=$(taskset -c 1 h2load -c16 -m"$3" -D "$DURATION" --warm-up-time=2 "https://127.0.0.1:$2/1k.txt" 2>&1)
    RPS[$1/h2m$3]=$(echo "$out" | awk '/^finished in/ {print $4}')
    if ! echo "$out" | grep -q " 0 failed, 0 errored"; then echo "$1 h2 m=$3: $(echo "$out" | grep '^requests:')" >&2; fi
}
for streams in 1 10; do
    run_h2 nginx $NGINX_TLS_PORT $streams
    run_h2 edge $EDGE_TLS_PORT $streams
done
for server in nginx apache edge; do RSS[$server]=$(peak_rss_kib "$(worker_pid $server)"); done

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }'; }

echo
echo "Proxied keep-alive GET, $CONNECTIONS connections, ${DURATION}s, proxies pinned to CPU 0 ($(date -u +%Y-%m-%d), $(nproc) cores, $(uname -m))"
printf "%-8s %-8s %12s %10s %10s %14s %10s\n" body server "req/s" p50 p99 "peak RSS KiB" "vs nginx"
for path in /1k.txt /20k.txt; do
    for server in nginx apache edge; do
        printf "%-8s %-8s %12s %10s %10s %14s %10s\n" "${path#/}" "$server" "${RPS[$server$path]}" \
            "${P50[$server$path]}" "${P99[$server$path]}" "${RSS[$server]}" "$(ratio "${RPS[$server$path]}" "${RPS[nginx$path]}")"
    done
done

echo
echo "Served by the proxy itself, and compressed on the way (same run):"
printf "%-22s %-8s %12s %10s %10s %10s\n" test server "req/s" p50 p99 "vs nginx"
for server in nginx edge; do
    printf "%-22s %-8s %12s %10s %10s %10s\n" "static 100 KiB" "$server" "${RPS[$server/static/100k.bin]}" \
        "${P50[$server/static/100k.bin]}" "${P99[$server/static/100k.bin]}" "$(ratio "${RPS[$server/static/100k.bin]}" "${RPS[nginx/static/100k.bin]}")"
done
for page in page tasks; do
    label=$([ $page = page ] && echo "gzip 20 KiB HTML (15x)" || echo "gzip 20 KiB HTML (4.7x)")
    for server in nginx edge; do
        printf "%-22s %-8s %12s %10s %10s %10s\n" "$label" "$server" "${RPS[$server/gzip-$page]}" \
            "${P50[$server/gzip-$page]}" "${P99[$server/gzip-$page]}" "$(ratio "${RPS[$server/gzip-$page]}" "${RPS[nginx/gzip-$page]}")"
    done
done
for server in nginx edge; do
    printf "%-22s %-8s %12s %10s %10s %10s\n" "new TLS connections/s" "$server" "${RPS[$server/tls]}" "-" "-" \
        "$(ratio "${RPS[$server/tls]}" "${RPS[nginx/tls]}")"
done
for server in nginx edge; do
    printf "%-22s %-8s %12s %10s %10s %10s\n" "TLS conns per CPU-s" "$server" "${PERCPU[$server/tls]}" "-" "-" \
        "$(ratio "${PERCPU[$server/tls]}" "${PERCPU[nginx/tls]}")"
done

for streams in 1 10; do
    for server in nginx edge; do
        printf "%-22s %-8s %12s %10s %10s %10s\n" "HTTP/2 1 KiB, $streams stream(s)" "$server" "${RPS[$server/h2m$streams]}" "-" "-" \
            "$(ratio "${RPS[$server/h2m$streams]}" "${RPS[nginx/h2m$streams]}")"
    done
done

# --- idle keep-alive connections: memory per connection -------------------------------------
echo
echo "Idle keep-alive connections ($IDLE_CONNECTIONS, each after one request):"
for server in nginx edge; do
    port=$([ $server = nginx ] && echo $NGINX_PORT || echo $EDGE_PORT)
    pid=$(worker_pid $server)
    before=$(rss_kib "$pid")
    python3 "$ROOT/bench/idle_connections.py" 127.0.0.1 "$port" "$IDLE_CONNECTIONS" "$pid" > "$WORK/idle-$server.txt"
    during=$(tail -1 "$WORK/idle-$server.txt")
    per=$(awk -v a="$before" -v b="$during" -v n="$IDLE_CONNECTIONS" 'BEGIN { printf "%.1f", (b - a) / n }')
    printf "%-8s RSS before %8s KiB, with connections %8s KiB: %s KiB per connection\n" "$server" "$before" "$during" "$per"
done
