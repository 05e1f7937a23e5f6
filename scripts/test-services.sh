#!/usr/bin/env bash
# Installs and starts the real servers the scale-out tests need, all on 127.0.0.1:
#   Redis 6379 and PostgreSQL 15 on 5432 (Debian packages), Elasticsearch on 9200 (the official
#   integ-test-zip distribution from Maven Central, run as a non-root user with a small heap).
# Writes .cache/test-services.env (DIJKWACHT_TEST_{ES,PG,REDIS}_URL) for tests/conftest.py.
# Idempotent: a second run finds everything installed and running and takes about a second.
# Downloads are cached in ~/.m2 and the unpacked server under $CACHE (kept on this machine).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)

# Maven Central's newest integ-test-zip is 8.19.21 (no 9.x is published there), so the server is
# 8.x and the Python client is pinned to 8.x (a 9.x client sends compatible-with=9, which 8.x
# refuses). Elasticsearch 8 runs on Java 17, the machine's default JDK.
ES_VERSION=${DIJKWACHT_TEST_ES_VERSION:-8.19.21}
ES_JAVA_HOME=${DIJKWACHT_TEST_ES_JAVA_HOME:-$(ls -d /usr/lib/jvm/java-17-openjdk-* 2>/dev/null | head -n1)}
CACHE=${DIJKWACHT_TEST_CACHE:-/var/cache/dijkwacht-test}
ES_USER=dijkwacht-es
ES_HOME="$CACHE/elasticsearch-$ES_VERSION"
ES_RUN="$CACHE/es-run"
PG_VERSION=15
PG_DB=dijkwacht
ENV_FILE="$ROOT/.cache/test-services.env"

say() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }
die() { printf 'test-services: %s\n' "$*" >&2; exit 1; }

apt_install() {
    local missing=() pkg
    for pkg in "$@"; do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    say "installing Debian packages: ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

wait_for() {
    # wait_for SECONDS DESCRIPTION COMMAND...: poll until COMMAND succeeds.
    local seconds=$1 what=$2 deadline
    shift 2
    deadline=$((SECONDS + seconds))
    until "$@" >/dev/null 2>&1; do
        [ $SECONDS -lt $deadline ] || return 1
        sleep 0.5
    done
}

start_redis() {
    if redis-cli -h 127.0.0.1 -p 6379 ping 2>/dev/null | grep -q PONG; then return 0; fi
    say "starting Redis on 127.0.0.1:6379"
    mkdir -p "$CACHE/redis"
    # No persistence: test data is disposable and fsyncs would only slow the suite down.
    redis-server --bind 127.0.0.1 --port 6379 --daemonize yes --save "" --appendonly no \
        --dir "$CACHE/redis" --logfile "$CACHE/redis/redis.log" --pidfile "$CACHE/redis/redis.pid"
    wait_for 20 redis sh -c 'redis-cli -h 127.0.0.1 -p 6379 ping | grep -q PONG' ||
        die "Redis did not answer on 127.0.0.1:6379 (log: $CACHE/redis/redis.log)"
}

start_postgres() {
    if ! pg_lsclusters -h 2>/dev/null | awk '{print $1" "$2}' | grep -qx "$PG_VERSION main"; then
        say "creating PostgreSQL $PG_VERSION cluster"
        pg_createcluster "$PG_VERSION" main >/dev/null
    fi
    local conf="/etc/postgresql/$PG_VERSION/main/conf.d/dijkwacht-test.conf"
    if [ ! -f "$conf" ]; then
        # Loopback only; durability traded for speed because every test builds a fresh schema.
        cat >"$conf" <<'EOF'
listen_addresses = '127.0.0.1'
port = 5432
fsync = off
synchronous_commit = off
full_page_writes = off
max_connections = 200
EOF
    fi
    if ! pg_lsclusters -h | awk -v v="$PG_VERSION" '$1 == v && $2 == "main" {print $4}' | grep -q online; then
        say "starting PostgreSQL $PG_VERSION on 127.0.0.1:5432"
        pg_ctlcluster "$PG_VERSION" main start
    fi
    wait_for 30 postgres pg_isready -q -h 127.0.0.1 -p 5432 || die "PostgreSQL is not ready on 5432"
    local password_file="$CACHE/pg-password"
    if [ ! -s "$password_file" ]; then
        (umask 077 && head -c 24 /dev/urandom | base64 | tr -dc 'A-Za-z0-9' >"$password_file")
    fi
    PG_PASSWORD=$(cat "$password_file")
    # CREATEDB: tests that need a whole database of their own may create one.
    runuser -u postgres -- psql -q -v ON_ERROR_STOP=1 -d postgres >/dev/null <<EOF
SELECT 'CREATE ROLE $PG_DB LOGIN CREATEDB' WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '$PG_DB')\gexec
ALTER ROLE $PG_DB PASSWORD '$PG_PASSWORD';
SELECT 'CREATE DATABASE $PG_DB OWNER $PG_DB' WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = '$PG_DB')\gexec
EOF
}

es_healthy() {
    curl -fsS "http://127.0.0.1:9200/_cluster/health?wait_for_status=yellow&timeout=1s" 2>/dev/null |
        grep -q '"status":"\(yellow\|green\)"'
}

fetch_elasticsearch() {
    [ -x "$ES_HOME/bin/elasticsearch" ] && return 0
    command -v mvn >/dev/null || apt_install maven
    local artifact="org.elasticsearch.distribution.integ-test-zip:elasticsearch:$ES_VERSION:zip"
    local zip="$HOME/.m2/repository/org/elasticsearch/distribution/integ-test-zip/elasticsearch/$ES_VERSION/elasticsearch-$ES_VERSION.zip"
    if [ ! -s "$zip" ]; then
        say "fetching $artifact from Maven Central (cached in ~/.m2)"
        mvn -q -B dependency:get -Dartifact="$artifact" -Dtransitive=false ||
            die "could not fetch $artifact with mvn (see the output above)"
    fi
    say "unpacking Elasticsearch $ES_VERSION into $CACHE"
    local tmp
    tmp=$(mktemp -d "$CACHE/unpack.XXXXXX")
    unzip -q "$zip" -d "$tmp"
    mv "$tmp/elasticsearch-$ES_VERSION" "$ES_HOME"
    rmdir "$tmp"
}

start_elasticsearch() {
    if es_healthy; then return 0; fi
    [ -n "$ES_JAVA_HOME" ] && [ -x "$ES_JAVA_HOME/bin/java" ] ||
        die "Elasticsearch $ES_VERSION needs Java 17 (openjdk-17-jre-headless); none under /usr/lib/jvm"
    command -v unzip >/dev/null || apt_install unzip
    command -v curl >/dev/null || apt_install curl
    fetch_elasticsearch
    # Elasticsearch refuses to run as root.
    id "$ES_USER" >/dev/null 2>&1 || useradd --system --no-create-home --shell /usr/sbin/nologin "$ES_USER"
    # A fresh config and data dir per start: test data is disposable, and a config that an
    # earlier start auto-configured (keystore, certificates) must not leak into this one.
    rm -rf "$ES_RUN"
    mkdir -p "$ES_RUN/data" "$ES_RUN/logs" "$ES_RUN/config"
    cp -r "$ES_HOME/config/." "$ES_RUN/config/"
    # Tests only, loopback only: security off (the 8.x integ-test zip ships x-pack-security).
    cat >"$ES_RUN/config/elasticsearch.yml" <<EOF
cluster.name: dijkwacht-test
node.name: test-node
discovery.type: single-node
network.host: 127.0.0.1
http.port: 9200
path.data: $ES_RUN/data
path.logs: $ES_RUN/logs
cluster.routing.allocation.disk.threshold_enabled: false
action.destructive_requires_name: false
xpack.security.enabled: false
EOF
    chown -R "$ES_USER" "$ES_RUN"
    chmod -R a+rX "$ES_HOME"
    say "starting Elasticsearch $ES_VERSION on 127.0.0.1:9200 (Java: $ES_JAVA_HOME)"
    runuser -u "$ES_USER" -- env ES_JAVA_HOME="$ES_JAVA_HOME" ES_PATH_CONF="$ES_RUN/config" \
        ES_JAVA_OPTS="-Xms512m -Xmx512m" \
        "$ES_HOME/bin/elasticsearch" -d -p "$ES_RUN/elasticsearch.pid" >"$ES_RUN/logs/start.log" 2>&1 ||
        die "Elasticsearch did not start (logs: $ES_RUN/logs)"
    wait_for 120 elasticsearch es_healthy ||
        die "Elasticsearch is not healthy after 180 s (logs: $ES_RUN/logs)"
}

main() {
    [ "$(id -u)" = 0 ] || die "run as root: it installs packages and starts servers"
    mkdir -p "$CACHE" "$ROOT/.cache"
    apt_install redis-server postgresql docker-compose unzip curl
    start_redis
    start_postgres
    start_elasticsearch
    cat >"$ENV_FILE.tmp" <<EOF
DIJKWACHT_TEST_REDIS_URL=redis://127.0.0.1:6379
DIJKWACHT_TEST_PG_URL=postgresql+psycopg://$PG_DB:$PG_PASSWORD@127.0.0.1:5432/$PG_DB
DIJKWACHT_TEST_ES_URL=http://127.0.0.1:9200
EOF
    mv "$ENV_FILE.tmp" "$ENV_FILE"
    say "test services up: Redis, PostgreSQL $PG_VERSION, Elasticsearch $ES_VERSION ($ENV_FILE)"
}

main "$@"
