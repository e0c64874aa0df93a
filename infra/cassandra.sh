#!/usr/bin/env bash
# Apache Cassandra 5.0 (one node) on 127.0.0.1:9042, from Maven Central jars, Java 17.
# Usage: infra/cassandra.sh start|stop|status|kill|reset
#   start is idempotent and returns once `SELECT release_version FROM system.local` answers.
source "$(dirname "$0")/common.sh"
VERSION=5.0.6
PORT=${TIDINGS_CASSANDRA_PORT:-9042}
DIR="$RUN/cassandra"
PIDFILE="$DIR/cassandra.pid"

configure() {
  mkdir -p "$DIR/data" "$DIR/logs"
  cat > "$DIR/cassandra.yaml" <<YAML
cluster_name: tidings-dev
num_tokens: 1
initial_token: 0
partitioner: org.apache.cassandra.dht.Murmur3Partitioner
commitlog_sync: periodic
commitlog_sync_period: 10000ms
endpoint_snitch: SimpleSnitch
seed_provider:
  - class_name: org.apache.cassandra.locator.SimpleSeedProvider
    parameters: [{seeds: "127.0.0.1:7000"}]
listen_address: 127.0.0.1
rpc_address: 127.0.0.1
storage_port: 7000
native_transport_port: $PORT
start_native_transport: true
storage_compatibility_mode: NONE
authenticator: AllowAllAuthenticator
authorizer: AllowAllAuthorizer
auto_snapshot: false
hinted_handoff_enabled: false
concurrent_reads: 8
concurrent_writes: 8
concurrent_compactors: 1
key_cache_size: 16MiB
memtable_heap_space: 128MiB
memtable_offheap_space: 128MiB
data_file_directories: [$DIR/data/data]
commitlog_directory: $DIR/data/commitlog
hints_directory: $DIR/data/hints
saved_caches_directory: $DIR/data/saved_caches
cdc_raw_directory: $DIR/data/cdc_raw
YAML
  cat > "$DIR/logback.xml" <<'XML'
<configuration>
  <appender name="FILE" class="ch.qos.logback.core.FileAppender">
    <file>${cassandra.logdir}/system.log</file>
    <encoder><pattern>%-5level [%thread] %date{ISO8601} %F:%L - %msg%n</pattern></encoder>
  </appender>
  <root level="INFO"><appender-ref ref="FILE"/></root>
</configuration>
XML
}

JVM_FLAGS=(
  -Xms1g -Xmx1g -XX:MaxDirectMemorySize=512m -Xss256k
  -XX:+UseG1GC -XX:+ParallelRefProcEnabled -XX:MaxTenuringThreshold=1 -XX:G1HeapRegionSize=16m
  -XX:MaxGCPauseMillis=300 -XX:InitiatingHeapOccupancyPercent=70 -XX:+PerfDisableSharedMem
  -Djava.net.preferIPv4Stack=true -Djdk.attach.allowAttachSelf=true
  --add-exports java.base/jdk.internal.misc=ALL-UNNAMED
  --add-exports java.management.rmi/com.sun.jmx.remote.internal.rmi=ALL-UNNAMED
  --add-exports java.rmi/sun.rmi.registry=ALL-UNNAMED --add-exports java.rmi/sun.rmi.server=ALL-UNNAMED
  --add-exports java.sql/java.sql=ALL-UNNAMED --add-exports java.base/java.lang.ref=ALL-UNNAMED
  --add-exports jdk.unsupported/sun.misc=ALL-UNNAMED
  --add-exports jdk.compiler/com.sun.tools.javac.file=ALL-UNNAMED
  --add-exports jdk.attach/sun.tools.attach=ALL-UNNAMED
  --add-opens java.base/java.lang.module=ALL-UNNAMED --add-opens java.base/jdk.internal.loader=ALL-UNNAMED
  --add-opens java.base/jdk.internal.ref=ALL-UNNAMED --add-opens java.base/jdk.internal.reflect=ALL-UNNAMED
  --add-opens java.base/jdk.internal.math=ALL-UNNAMED --add-opens java.base/jdk.internal.module=ALL-UNNAMED
  --add-opens java.base/jdk.internal.util.jar=ALL-UNNAMED
  --add-opens jdk.management/com.sun.management.internal=ALL-UNNAMED
  --add-opens java.base/sun.nio.ch=ALL-UNNAMED --add-opens java.base/java.io=ALL-UNNAMED
  --add-opens java.base/java.lang.reflect=ALL-UNNAMED --add-opens jdk.compiler/com.sun.tools.javac=ALL-UNNAMED
  --add-opens java.base/java.lang=ALL-UNNAMED --add-opens java.base/java.util=ALL-UNNAMED
  -Dio.netty.tryReflectionSetAccessible=true -Dio.netty.allocator.useCacheForAllThreads=true
  -Dio.netty.allocator.maxOrder=11
  -Dcassandra.skip_wait_for_gossip_to_settle=0 -Dcassandra.initial_token=0
  -Dcassandra-foreground=yes
)

ready() { wait_ready cassandra "127.0.0.1:$PORT" "$PIDFILE" "$DIR/logs" 120; }

start() {
  if running "$PIDFILE"; then ready; return; fi
  local libs; libs=$(fetch_jars "cassandra-$VERSION" "$INFRA_DIR/cassandra")
  configure
  nohup java "${JVM_FLAGS[@]}" \
    -Dcassandra.config="file://$DIR/cassandra.yaml" -Dcassandra.storagedir="$DIR/data" \
    -Dcassandra.logdir="$DIR/logs" -Dlogback.configurationFile="$DIR/logback.xml" \
    -cp "$libs/*" org.apache.cassandra.service.CassandraDaemon > "$DIR/logs/stdout.log" 2>&1 &
  echo $! > "$PIDFILE"
  ready
}

case "${1:-}" in
  start) start ;;
  *) dispatch cassandra "127.0.0.1:$PORT" "$PIDFILE" "$DIR" "${1:-}" ;;
esac
