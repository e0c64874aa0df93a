#!/usr/bin/env bash
# Apache Kafka 4.x (KRaft, one broker+controller node) on 127.0.0.1:9092, from Maven Central jars.
# Usage: infra/kafka.sh start|stop|status|kill|reset
#   start is idempotent and returns once the broker answers metadata requests.
#   kill sends SIGKILL (fault tests); reset stops it and deletes its data.
source "$(dirname "$0")/common.sh"
VERSION=4.1.1
PORT=${TIDINGS_KAFKA_PORT:-9092}
CONTROLLER_PORT=${TIDINGS_KAFKA_CONTROLLER_PORT:-9093}
# A second listener whose advertised address is a fault proxy's (tests/faults/proxy.py): a
# client bootstrapping through the proxy is told to keep talking through it.
PROXIED_PORT=${TIDINGS_KAFKA_PROXIED_PORT:-9094}
PROXY_PORT=${TIDINGS_KAFKA_PROXY_PORT:-19094}
DIR="$RUN/kafka"
PIDFILE="$DIR/kafka.pid"

configure() {
  mkdir -p "$DIR/data" "$DIR/logs"
  cat > "$DIR/server.properties" <<PROPS
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$CONTROLLER_PORT
listeners=PLAINTEXT://127.0.0.1:$PORT,CONTROLLER://127.0.0.1:$CONTROLLER_PORT,PROXIED://127.0.0.1:$PROXIED_PORT
advertised.listeners=PLAINTEXT://127.0.0.1:$PORT,PROXIED://127.0.0.1:$PROXY_PORT
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT,PROXIED:PLAINTEXT
log.dirs=$DIR/data
num.partitions=4
auto.create.topics.enable=false
offsets.topic.replication.factor=1
offsets.topic.num.partitions=4
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=4
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
num.network.threads=2
num.io.threads=2
log.flush.interval.messages=9223372036854775807
PROPS
  cat > "$DIR/log4j2.properties" <<'PROPS'
rootLogger.level = WARN
rootLogger.appenderRef.file.ref = file
appender.file.type = File
appender.file.name = file
appender.file.fileName = ${sys:kafka.logs.dir}/server.log
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = [%d] %p %m (%c)%n
logger.kafka.name = kafka
logger.kafka.level = INFO
PROPS
}

ready() { wait_ready kafka "127.0.0.1:$PORT" "$PIDFILE" "$DIR/logs" 60; }

start() {
  if running "$PIDFILE"; then ready; return; fi
  local libs; libs=$(fetch_jars "kafka-$VERSION" "$INFRA_DIR/kafka")
  configure
  if [ ! -f "$DIR/data/meta.properties" ]; then
    java -cp "$libs/*" kafka.tools.StorageTool format --ignore-formatted \
      -t "$(java -cp "$libs/*" kafka.tools.StorageTool random-uuid)" -c "$DIR/server.properties" >/dev/null
  fi
  nohup java -Xms256m -Xmx768m -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -Djava.awt.headless=true \
    -Dkafka.logs.dir="$DIR/logs" -Dlog4j2.configurationFile="$DIR/log4j2.properties" \
    -cp "$libs/*" kafka.Kafka "$DIR/server.properties" > "$DIR/logs/stdout.log" 2>&1 &
  echo $! > "$PIDFILE"
  ready
}

case "${1:-}" in
  start) start ;;
  *) dispatch kafka "127.0.0.1:$PORT" "$PIDFILE" "$DIR" "${1:-}" ;;
esac
