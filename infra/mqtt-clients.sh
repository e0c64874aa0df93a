#!/usr/bin/env bash
# Installs Debian's mosquitto-clients (mosquitto_pub, mosquitto_sub): the MQTT tests use
# them as an implementation independent of Tidings' own and of paho-mqtt. Idempotent.
set -euo pipefail
if ! command -v mosquitto_sub >/dev/null || ! command -v mosquitto_pub >/dev/null; then
  apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q mosquitto-clients
fi
