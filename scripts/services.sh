#!/usr/bin/env bash
# Make sure Redis and PostgreSQL answer on 127.0.0.1 (the tests use the real servers).
# Starts them when installed but stopped; fails with one clear line when they are absent.
set -euo pipefail
say() { printf '[services] %s\n' "$*"; }
die() { printf '[services] ERROR: %s\n' "$*" >&2; exit 1; }

tcp_up() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
wait_up() { for _ in $(seq 1 60); do tcp_up "$1" && return 0; sleep 0.5; done; return 1; }

if ! tcp_up 6379; then
  command -v redis-server >/dev/null 2>&1 ||
    die "Redis is not installed: apt-get install -y redis-server"
  say "starting Redis"
  mkdir -p /var/lib/redis /var/log/redis
  redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
    --dir /var/lib/redis --logfile /var/log/redis/ci.log >/dev/null
  wait_up 6379 || die "Redis did not come up on 127.0.0.1:6379 (see /var/log/redis/ci.log)"
fi

if ! tcp_up 5432; then
  command -v pg_ctlcluster >/dev/null 2>&1 ||
    die "PostgreSQL is not installed: apt-get install -y postgresql"
  say "starting PostgreSQL"
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | sort -V | tail -n1)" main start ||
    die "PostgreSQL failed to start (pg_lsclusters shows its state)"
  wait_up 5432 || die "PostgreSQL did not come up on 127.0.0.1:5432"
fi

# The tests use database 'test' (trust auth as postgres).
if command -v psql >/dev/null 2>&1 &&
   ! psql -h 127.0.0.1 -U postgres -d test -Atc 'select 1' >/dev/null 2>&1; then
  psql -h 127.0.0.1 -U postgres -Atc 'create database test' >/dev/null ||
    die "cannot create database 'test' on 127.0.0.1:5432 as postgres"
fi
say "Redis 127.0.0.1:6379 and PostgreSQL 127.0.0.1:5432 are up"
