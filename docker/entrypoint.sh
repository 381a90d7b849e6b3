#!/usr/bin/env bash
# Container entry point: the arguments are a `persona-api` subcommand and its flags
# (serve, migrate, reindex). exec makes the CLI PID 1, so `docker stop`'s SIGTERM reaches it.
set -euo pipefail
exec persona-api "$@"
