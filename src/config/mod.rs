//! Configuration: one declarative table (below) is the single source for the typed
//! `Config` struct, config-file and command-line parsing, CONFIG GET/SET/REWRITE.
//! Each row: field, type, name, aliases, kind, default, flags, apply hook.
pub mod file;
pub mod types;

use types::*;
pub use types::{Choice, Kind, ObufLimit, ObufLimits, OBUF_NORMAL, OBUF_PUBSUB, OBUF_REPLICA};

/// What the server must do after an option changed at runtime.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Apply {
    Nothing,
    /// Re-bind listeners (port, tls-port, bind).
    Listeners,
    /// Rebuild the TLS server configuration.
    Tls,
    /// Check memory and evict.
    Maxmemory,
    /// Apply to the default user's password.
    Requirepass,
    /// Re-open the log file / change level.
    Logging,
    /// Change directory.
    Dir,
    /// Recompute cron frequency.
    Hz,
    /// Resize slowlog / acllog etc.
    Limits,
    /// Fit the open-file limit to maxclients (or refuse, as Redis).
    Maxclients,
    /// Turn the AOF on or off; aof-timestamp-enabled, aof-disable-auto-gc.
    Appendonly,
}

pub struct Spec {
    pub name: &'static str,
    pub aliases: &'static [&'static str],
    pub kind: Kind,
    pub default: &'static str,
    pub flags: u8,
    pub apply: Apply,
    pub set: fn(&mut Config, &str) -> Result<(), String>,
    pub get: fn(&Config) -> String,
}

macro_rules! config_table {
    ($( $field:ident : $ty:ty = $name:literal [$($alias:literal),*] $kind:expr, $def:literal, $flags:expr, $apply:ident; )*) => {
        /// Every option's current value, typed.
        #[derive(Clone)]
        pub struct Config {
            $(pub $field: $ty,)*
        }
        pub static SPECS: &[Spec] = &[
            $(Spec {
                name: $name,
                aliases: &[$($alias),*],
                kind: $kind,
                default: $def,
                flags: $flags,
                apply: Apply::$apply,
                set: |c, s| { c.$field = <$ty as ConfValue>::parse(&$kind, s)?; Ok(()) },
                get: |c| c.$field.format(&$kind),
            },)*
        ];
        impl Default for Config {
            fn default() -> Self {
                Config {
                    $($field: <$ty as ConfValue>::parse(&$kind, $def)
                        .unwrap_or_else(|e| panic!("default of {}: {}", $name, e)),)*
                }
            }
        }
    };
}

const YESNOLOCAL: &[&str] = &["no", "yes", "local"];
pub const MAXMEMORY_POLICIES: &[&str] = &[
    "volatile-lru",
    "volatile-lfu",
    "volatile-random",
    "volatile-ttl",
    "allkeys-lru",
    "allkeys-lfu",
    "allkeys-random",
    "noeviction",
];
pub const LOGLEVELS: &[&str] = &["debug", "verbose", "notice", "warning"];
pub const TLS_AUTH_CLIENTS: &[&str] = &["no", "yes", "optional"];
pub const TLS_AUTH_CLIENTS_USER: &[&str] = &["off", "CN"];
const SHUTDOWN_FLAGS: &[&str] = &["default", "save", "nosave", "now", "force"];
const I32MAX: i64 = i32::MAX as i64;
const U: i64 = i64::MAX;
const fn int(min: i64, max: i64) -> Kind {
    Kind::Int { min, max }
}
const fn mem(min: i64, max: i64) -> Kind {
    Kind::Mem { min, max }
}

config_table! {
    // --- network ---
    bind: Words = "bind" [] Kind::Special, "* -::*", NONE, Listeners;
    bind_source_addr: String = "bind-source-addr" [] Kind::Str, "", NONE, Nothing;
    port: i64 = "port" [] int(0, 65535), "6379", NONE, Listeners;
    tls_port: i64 = "tls-port" [] int(0, 65535), "0", NONE, Listeners;
    unixsocket: String = "unixsocket" [] Kind::Str, "", IMMUTABLE, Nothing;
    unixsocketperm: Octal = "unixsocketperm" [] Kind::Special, "0", IMMUTABLE, Nothing;
    tcp_backlog: i64 = "tcp-backlog" [] int(0, I32MAX), "511", IMMUTABLE, Nothing;
    tcp_keepalive: i64 = "tcp-keepalive" [] int(0, I32MAX), "300", NONE, Nothing;
    timeout: i64 = "timeout" [] int(0, I32MAX), "0", NONE, Nothing;
    protected_mode: bool = "protected-mode" [] Kind::Bool, "yes", NONE, Nothing;
    maxclients: i64 = "maxclients" [] int(1, I32MAX), "10000", NONE, Maxclients;
    io_threads: i64 = "io-threads" [] int(1, 128), "1", IMMUTABLE, Nothing;
    io_threads_do_reads: bool = "io-threads-do-reads" [] Kind::Bool, "no", IMMUTABLE, Nothing;
    // --- general ---
    daemonize: bool = "daemonize" [] Kind::Bool, "no", IMMUTABLE, Nothing;
    supervised: Choice = "supervised" [] Kind::Enum(&["no", "upstart", "systemd", "auto"]), "no", IMMUTABLE, Nothing;
    pidfile: String = "pidfile" [] Kind::Str, "", IMMUTABLE, Nothing;
    loglevel: Choice = "loglevel" [] Kind::Enum(LOGLEVELS), "notice", NONE, Logging;
    logfile: String = "logfile" [] Kind::Str, "", IMMUTABLE, Nothing;
    syslog_enabled: bool = "syslog-enabled" [] Kind::Bool, "no", IMMUTABLE, Nothing;
    syslog_ident: String = "syslog-ident" [] Kind::Str, "redis", IMMUTABLE, Nothing;
    syslog_facility: Choice = "syslog-facility" [] Kind::Enum(&["user", "local0", "local1", "local2", "local3", "local4", "local5", "local6", "local7"]), "local0", IMMUTABLE, Nothing;
    crash_log_enabled: bool = "crash-log-enabled" [] Kind::Bool, "yes", NONE, Nothing;
    crash_memcheck_enabled: bool = "crash-memcheck-enabled" [] Kind::Bool, "yes", NONE, Nothing;
    databases: i64 = "databases" [] int(1, I32MAX), "16", IMMUTABLE, Nothing;
    always_show_logo: bool = "always-show-logo" [] Kind::Bool, "no", IMMUTABLE, Nothing;
    set_proc_title: bool = "set-proc-title" [] Kind::Bool, "yes", IMMUTABLE, Nothing;
    proc_title_template: String = "proc-title-template" [] Kind::Str, "{title} {listen-addr} {server-mode}", NONE, Nothing;
    enable_protected_configs: Choice = "enable-protected-configs" [] Kind::Enum(YESNOLOCAL), "no", IMMUTABLE, Nothing;
    enable_debug_command: Choice = "enable-debug-command" [] Kind::Enum(YESNOLOCAL), "no", IMMUTABLE, Nothing;
    enable_module_command: Choice = "enable-module-command" [] Kind::Enum(YESNOLOCAL), "no", IMMUTABLE, Nothing;
    hz: i64 = "hz" [] int(0, I32MAX), "10", NONE, Hz;
    dynamic_hz: bool = "dynamic-hz" [] Kind::Bool, "yes", NONE, Nothing;
    ignore_warnings: String = "ignore-warnings" [] Kind::Str, "", NONE, Nothing;
    shutdown_timeout: i64 = "shutdown-timeout" [] int(0, I32MAX), "10", NONE, Nothing;
    shutdown_on_sigint: FlagSet = "shutdown-on-sigint" [] Kind::Enum(SHUTDOWN_FLAGS), "default", NONE, Nothing;
    shutdown_on_sigterm: FlagSet = "shutdown-on-sigterm" [] Kind::Enum(SHUTDOWN_FLAGS), "default", NONE, Nothing;
    oom_score_adj: Choice = "oom-score-adj" [] Kind::Enum(&["no", "yes", "relative", "absolute"]), "no", NONE, Nothing;
    oom_score_adj_values: Numbers = "oom-score-adj-values" [] Kind::Special, "0 200 800", NONE, Nothing;
    disable_thp: bool = "disable-thp" [] Kind::Bool, "yes", IMMUTABLE, Nothing;
    jemalloc_bg_thread: bool = "jemalloc-bg-thread" [] Kind::Bool, "yes", NONE, Nothing;
    server_cpulist: String = "server_cpulist" [] Kind::Str, "", IMMUTABLE, Nothing;
    bio_cpulist: String = "bio_cpulist" [] Kind::Str, "", IMMUTABLE, Nothing;
    aof_rewrite_cpulist: String = "aof_rewrite_cpulist" [] Kind::Str, "", IMMUTABLE, Nothing;
    bgsave_cpulist: String = "bgsave_cpulist" [] Kind::Str, "", IMMUTABLE, Nothing;
    // --- persistence (accepted; ferrokv keeps data in memory only) ---
    save: SavePoints = "save" [] Kind::Special, "3600 1 300 100 60 10000", NONE, Nothing;
    stop_writes_on_bgsave_error: bool = "stop-writes-on-bgsave-error" [] Kind::Bool, "yes", NONE, Nothing;
    rdbcompression: bool = "rdbcompression" [] Kind::Bool, "yes", NONE, Nothing;
    rdbchecksum: bool = "rdbchecksum" [] Kind::Bool, "yes", NONE, Nothing;
    rdb_del_sync_files: bool = "rdb-del-sync-files" [] Kind::Bool, "no", NONE, Nothing;
    rdb_save_incremental_fsync: bool = "rdb-save-incremental-fsync" [] Kind::Bool, "yes", NONE, Nothing;
    rdb_key_save_delay: i64 = "rdb-key-save-delay" [] int(i32::MIN as i64, I32MAX), "0", HIDDEN, Nothing;
    key_load_delay: i64 = "key-load-delay" [] int(i32::MIN as i64, I32MAX), "0", HIDDEN, Nothing;
    dbfilename: String = "dbfilename" [] Kind::Str, "dump.rdb", NONE, Nothing;
    dir: String = "dir" [] Kind::Str, "", DENY_LOADING, Dir;
    appendonly: bool = "appendonly" [] Kind::Bool, "no", DENY_LOADING, Appendonly;
    appendfilename: String = "appendfilename" [] Kind::Str, "appendonly.aof", IMMUTABLE, Nothing;
    appenddirname: String = "appenddirname" [] Kind::Str, "appendonlydir", IMMUTABLE, Nothing;
    appendfsync: Choice = "appendfsync" [] Kind::Enum(&["always", "everysec", "no"]), "everysec", NONE, Nothing;
    no_appendfsync_on_rewrite: bool = "no-appendfsync-on-rewrite" [] Kind::Bool, "no", NONE, Nothing;
    auto_aof_rewrite_percentage: i64 = "auto-aof-rewrite-percentage" [] int(0, I32MAX), "100", NONE, Nothing;
    auto_aof_rewrite_min_size: i64 = "auto-aof-rewrite-min-size" [] mem(0, U), "64mb", NONE, Nothing;
    aof_load_truncated: bool = "aof-load-truncated" [] Kind::Bool, "yes", NONE, Nothing;
    aof_use_rdb_preamble: bool = "aof-use-rdb-preamble" [] Kind::Bool, "yes", NONE, Nothing;
    aof_timestamp_enabled: bool = "aof-timestamp-enabled" [] Kind::Bool, "no", NONE, Appendonly;
    aof_rewrite_incremental_fsync: bool = "aof-rewrite-incremental-fsync" [] Kind::Bool, "yes", NONE, Nothing;
    sanitize_dump_payload: Choice = "sanitize-dump-payload" [] Kind::Enum(&["no", "yes", "clients"]), "no", NONE, Nothing;
    // --- replication (accepted and shown; links come with the replication work) ---
    replicaof: String = "replicaof" ["slaveof"] Kind::Str, "", IMMUTABLE, Nothing;
    masterauth: String = "masterauth" [] Kind::Str, "", SENSITIVE, Nothing;
    masteruser: String = "masteruser" [] Kind::Str, "", SENSITIVE, Nothing;
    replica_serve_stale_data: bool = "replica-serve-stale-data" ["slave-serve-stale-data"] Kind::Bool, "yes", NONE, Nothing;
    replica_read_only: bool = "replica-read-only" ["slave-read-only"] Kind::Bool, "yes", NONE, Nothing;
    replica_ignore_maxmemory: bool = "replica-ignore-maxmemory" ["slave-ignore-maxmemory"] Kind::Bool, "yes", NONE, Nothing;
    replica_lazy_flush: bool = "replica-lazy-flush" ["slave-lazy-flush"] Kind::Bool, "no", NONE, Nothing;
    replica_priority: i64 = "replica-priority" ["slave-priority"] int(0, I32MAX), "100", NONE, Nothing;
    replica_announced: bool = "replica-announced" [] Kind::Bool, "yes", NONE, Nothing;
    replica_announce_ip: String = "replica-announce-ip" ["slave-announce-ip"] Kind::Str, "", NONE, Nothing;
    replica_announce_port: i64 = "replica-announce-port" ["slave-announce-port"] int(0, 65535), "0", NONE, Nothing;
    repl_diskless_sync: bool = "repl-diskless-sync" [] Kind::Bool, "yes", NONE, Nothing;
    repl_diskless_sync_delay: i64 = "repl-diskless-sync-delay" [] int(0, I32MAX), "5", NONE, Nothing;
    repl_diskless_sync_max_replicas: i64 = "repl-diskless-sync-max-replicas" [] int(0, I32MAX), "0", NONE, Nothing;
    repl_diskless_load: Choice = "repl-diskless-load" [] Kind::Enum(&["disabled", "on-empty-db", "swapdb"]), "disabled", DENY_LOADING, Nothing;
    repl_ping_replica_period: i64 = "repl-ping-replica-period" ["repl-ping-slave-period"] int(1, I32MAX), "10", NONE, Nothing;
    repl_timeout: i64 = "repl-timeout" [] int(1, I32MAX), "60", NONE, Nothing;
    repl_disable_tcp_nodelay: bool = "repl-disable-tcp-nodelay" [] Kind::Bool, "no", NONE, Nothing;
    repl_backlog_size: i64 = "repl-backlog-size" [] mem(1, U), "1mb", NONE, Nothing;
    repl_backlog_ttl: i64 = "repl-backlog-ttl" [] int(0, I32MAX), "3600", NONE, Nothing;
    min_replicas_to_write: i64 = "min-replicas-to-write" ["min-slaves-to-write"] int(0, I32MAX), "0", NONE, Nothing;
    min_replicas_max_lag: i64 = "min-replicas-max-lag" ["min-slaves-max-lag"] int(0, I32MAX), "10", NONE, Nothing;
    propagation_error_behavior: Choice = "propagation-error-behavior" [] Kind::Enum(&["ignore", "panic", "panic-on-replicas"]), "ignore", NONE, Nothing;
    // --- security ---
    requirepass: String = "requirepass" [] Kind::Str, "", SENSITIVE, Requirepass;
    aclfile: String = "aclfile" [] Kind::Str, "", IMMUTABLE, Nothing;
    acllog_max_len: i64 = "acllog-max-len" [] int(0, U), "128", NONE, Limits;
    acl_pubsub_default: Choice = "acl-pubsub-default" [] Kind::Enum(&["allchannels", "resetchannels"]), "resetchannels", NONE, Nothing;
    // --- memory ---
    maxmemory: i64 = "maxmemory" [] mem(0, U), "0", NONE, Maxmemory;
    maxmemory_policy: Choice = "maxmemory-policy" [] Kind::Enum(MAXMEMORY_POLICIES), "noeviction", NONE, Maxmemory;
    maxmemory_samples: i64 = "maxmemory-samples" [] int(1, 64), "5", NONE, Nothing;
    maxmemory_eviction_tenacity: i64 = "maxmemory-eviction-tenacity" [] int(0, 100), "10", NONE, Nothing;
    maxmemory_clients: i64 = "maxmemory-clients" [] Kind::MemPct { max: U, max_pct: 100 }, "0", NONE, Nothing;
    lfu_log_factor: i64 = "lfu-log-factor" [] int(0, I32MAX), "10", NONE, Maxmemory;
    lfu_decay_time: i64 = "lfu-decay-time" [] int(0, I32MAX), "1", NONE, Maxmemory;
    lazyfree_lazy_eviction: bool = "lazyfree-lazy-eviction" [] Kind::Bool, "no", NONE, Nothing;
    lazyfree_lazy_expire: bool = "lazyfree-lazy-expire" [] Kind::Bool, "no", NONE, Nothing;
    lazyfree_lazy_server_del: bool = "lazyfree-lazy-server-del" [] Kind::Bool, "no", NONE, Nothing;
    lazyfree_lazy_user_del: bool = "lazyfree-lazy-user-del" [] Kind::Bool, "no", NONE, Nothing;
    lazyfree_lazy_user_flush: bool = "lazyfree-lazy-user-flush" [] Kind::Bool, "no", NONE, Nothing;
    activerehashing: bool = "activerehashing" [] Kind::Bool, "yes", NONE, Nothing;
    activedefrag: bool = "activedefrag" [] Kind::Bool, "no", NONE, Nothing;
    active_defrag_ignore_bytes: i64 = "active-defrag-ignore-bytes" [] mem(1, U), "100mb", NONE, Nothing;
    active_defrag_threshold_lower: i64 = "active-defrag-threshold-lower" [] int(0, 1000), "10", NONE, Nothing;
    active_defrag_threshold_upper: i64 = "active-defrag-threshold-upper" [] int(0, 1000), "100", NONE, Nothing;
    active_defrag_cycle_min: i64 = "active-defrag-cycle-min" [] int(1, 99), "1", NONE, Nothing;
    active_defrag_cycle_max: i64 = "active-defrag-cycle-max" [] int(1, 99), "25", NONE, Nothing;
    active_defrag_max_scan_fields: i64 = "active-defrag-max-scan-fields" [] int(1, U), "1000", NONE, Nothing;
    active_expire_effort: i64 = "active-expire-effort" [] int(1, 10), "1", NONE, Nothing;
    // --- limits and protocol ---
    proto_max_bulk_len: i64 = "proto-max-bulk-len" [] mem(1024 * 1024, U), "512mb", NONE, Nothing;
    client_query_buffer_limit: i64 = "client-query-buffer-limit" [] mem(1024 * 1024, U), "1gb", NONE, Nothing;
    client_output_buffer_limit: ObufLimits = "client-output-buffer-limit" [] Kind::Special, "normal 0 0 0 slave 268435456 67108864 60 pubsub 33554432 8388608 60", NONE, Nothing;
    busy_reply_threshold: i64 = "busy-reply-threshold" ["lua-time-limit"] int(0, U), "5000", NONE, Nothing;
    // --- data type encodings (thresholds) ---
    hash_max_listpack_entries: i64 = "hash-max-listpack-entries" ["hash-max-ziplist-entries"] int(0, U), "512", NONE, Nothing;
    hash_max_listpack_value: i64 = "hash-max-listpack-value" ["hash-max-ziplist-value"] int(0, U), "64", NONE, Nothing;
    list_max_listpack_size: i64 = "list-max-listpack-size" ["list-max-ziplist-size"] int(i32::MIN as i64, I32MAX), "-2", NONE, Nothing;
    list_compress_depth: i64 = "list-compress-depth" [] int(0, I32MAX), "0", NONE, Nothing;
    set_max_intset_entries: i64 = "set-max-intset-entries" [] int(0, U), "512", NONE, Nothing;
    zset_max_listpack_entries: i64 = "zset-max-listpack-entries" ["zset-max-ziplist-entries"] int(0, U), "128", NONE, Nothing;
    zset_max_listpack_value: i64 = "zset-max-listpack-value" ["zset-max-ziplist-value"] int(0, U), "64", NONE, Nothing;
    stream_node_max_bytes: i64 = "stream-node-max-bytes" [] mem(0, U), "4096", NONE, Nothing;
    stream_node_max_entries: i64 = "stream-node-max-entries" [] int(0, U), "100", NONE, Nothing;
    notify_keyspace_events: NotifyFlags = "notify-keyspace-events" [] Kind::Special, "", NONE, Nothing;
    // --- latency and slow log ---
    slowlog_log_slower_than: i64 = "slowlog-log-slower-than" [] int(-1, U), "10000", NONE, Nothing;
    slowlog_max_len: i64 = "slowlog-max-len" [] int(0, U), "128", NONE, Limits;
    latency_monitor_threshold: i64 = "latency-monitor-threshold" [] int(0, U), "0", NONE, Nothing;
    latency_tracking: bool = "latency-tracking" [] Kind::Bool, "yes", NONE, Nothing;
    latency_tracking_info_percentiles: Numbers = "latency-tracking-info-percentiles" [] Kind::Percentiles, "50 99 99.9", NONE, Nothing;
    watchdog_period: i64 = "watchdog-period" [] int(0, I32MAX), "0", HIDDEN, Nothing;
    // Accepted for compatibility with Redis 7.0 config files (no effect in ferrokv).
    loading_process_events_interval_bytes: i64 = "loading-process-events-interval-bytes" [] int(1024, I32MAX), "2097152", HIDDEN, Nothing;
    use_exit_on_panic: bool = "use-exit-on-panic" [] Kind::Bool, "no", HIDDEN, Nothing;
    aof_disable_auto_gc: bool = "aof-disable-auto-gc" [] Kind::Bool, "no", NONE, Appendonly;
    replica_ignore_disk_write_errors: bool = "replica-ignore-disk-write-errors" [] Kind::Bool, "no", NONE, Nothing;
    socket_mark_id: i64 = "socket-mark-id" [] int(0, u32::MAX as i64), "0", IMMUTABLE, Nothing;
    cluster_link_sendbuf_limit: i64 = "cluster-link-sendbuf-limit" [] mem(0, U), "0", NONE, Nothing;
    hll_sparse_max_bytes: i64 = "hll-sparse-max-bytes" [] mem(0, U), "3000", NONE, Nothing;
    tracking_table_max_keys: i64 = "tracking-table-max-keys" [] int(0, U), "1000000", NONE, Nothing;
    // --- cluster (accepted and shown; the bus comes with the cluster work) ---
    cluster_enabled: bool = "cluster-enabled" [] Kind::Bool, "no", IMMUTABLE, Nothing;
    cluster_config_file: String = "cluster-config-file" [] Kind::Str, "nodes.conf", IMMUTABLE, Nothing;
    cluster_node_timeout: i64 = "cluster-node-timeout" [] int(0, U), "15000", NONE, Nothing;
    cluster_port: i64 = "cluster-port" [] int(0, 65535), "0", IMMUTABLE, Nothing;
    cluster_replica_validity_factor: i64 = "cluster-replica-validity-factor" ["cluster-slave-validity-factor"] int(0, I32MAX), "10", NONE, Nothing;
    cluster_migration_barrier: i64 = "cluster-migration-barrier" [] int(0, I32MAX), "1", NONE, Nothing;
    cluster_allow_replica_migration: bool = "cluster-allow-replica-migration" [] Kind::Bool, "yes", NONE, Nothing;
    cluster_require_full_coverage: bool = "cluster-require-full-coverage" [] Kind::Bool, "yes", NONE, Nothing;
    cluster_replica_no_failover: bool = "cluster-replica-no-failover" ["cluster-slave-no-failover"] Kind::Bool, "no", NONE, Nothing;
    cluster_allow_reads_when_down: bool = "cluster-allow-reads-when-down" [] Kind::Bool, "no", NONE, Nothing;
    cluster_allow_pubsubshard_when_down: bool = "cluster-allow-pubsubshard-when-down" [] Kind::Bool, "yes", NONE, Nothing;
    cluster_announce_ip: String = "cluster-announce-ip" [] Kind::Str, "", NONE, Nothing;
    cluster_announce_hostname: String = "cluster-announce-hostname" [] Kind::Str, "", NONE, Nothing;
    cluster_announce_port: i64 = "cluster-announce-port" [] int(0, 65535), "0", NONE, Nothing;
    cluster_announce_bus_port: i64 = "cluster-announce-bus-port" [] int(0, 65535), "0", NONE, Nothing;
    cluster_announce_tls_port: i64 = "cluster-announce-tls-port" [] int(0, 65535), "0", NONE, Nothing;
    cluster_preferred_endpoint_type: Choice = "cluster-preferred-endpoint-type" [] Kind::Enum(&["ip", "hostname", "unknown-endpoint"]), "ip", NONE, Nothing;
    // --- TLS ---
    tls_cert_file: String = "tls-cert-file" [] Kind::Str, "", NONE, Tls;
    tls_key_file: String = "tls-key-file" [] Kind::Str, "", NONE, Tls;
    tls_key_file_pass: String = "tls-key-file-pass" [] Kind::Str, "", SENSITIVE, Tls;
    tls_client_cert_file: String = "tls-client-cert-file" [] Kind::Str, "", NONE, Tls;
    tls_client_key_file: String = "tls-client-key-file" [] Kind::Str, "", NONE, Tls;
    tls_client_key_file_pass: String = "tls-client-key-file-pass" [] Kind::Str, "", SENSITIVE, Tls;
    tls_dh_params_file: String = "tls-dh-params-file" [] Kind::Str, "", NONE, Tls;
    tls_ca_cert_file: String = "tls-ca-cert-file" [] Kind::Str, "", NONE, Tls;
    tls_ca_cert_dir: String = "tls-ca-cert-dir" [] Kind::Str, "", NONE, Tls;
    tls_auth_clients: Choice = "tls-auth-clients" [] Kind::Enum(TLS_AUTH_CLIENTS), "yes", NONE, Tls;
    tls_auth_clients_user: Choice = "tls-auth-clients-user" [] Kind::Enum(TLS_AUTH_CLIENTS_USER), "off", NONE, Nothing;
    tls_protocols: String = "tls-protocols" [] Kind::Str, "", NONE, Tls;
    tls_ciphers: String = "tls-ciphers" [] Kind::Str, "", NONE, Tls;
    tls_ciphersuites: String = "tls-ciphersuites" [] Kind::Str, "", NONE, Tls;
    tls_prefer_server_ciphers: bool = "tls-prefer-server-ciphers" [] Kind::Bool, "no", NONE, Tls;
    tls_session_caching: bool = "tls-session-caching" [] Kind::Bool, "yes", NONE, Tls;
    tls_session_cache_size: i64 = "tls-session-cache-size" [] int(0, I32MAX), "20480", NONE, Tls;
    tls_session_cache_timeout: i64 = "tls-session-cache-timeout" [] int(0, I32MAX), "300", NONE, Tls;
    tls_replication: bool = "tls-replication" [] Kind::Bool, "no", NONE, Nothing;
    tls_cluster: bool = "tls-cluster" [] Kind::Bool, "no", NONE, Nothing;
}

pub const TLS_AUTH_NO: Choice = Choice(0);
pub const TLS_AUTH_YES: Choice = Choice(1);
pub const TLS_AUTH_OPTIONAL: Choice = Choice(2);
pub const TLS_AUTH_USER_CN: Choice = Choice(1);

impl std::fmt::Debug for Spec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name)
    }
}

/// Find an option by name or alias, case-insensitively.
pub fn lookup(name: &str) -> Option<&'static Spec> {
    SPECS.iter().find(|s| {
        s.name.eq_ignore_ascii_case(name) || s.aliases.iter().any(|a| a.eq_ignore_ascii_case(name))
    })
}

/// Checks some options make beyond their kind (Redis's per-option validators).
pub fn validate(spec: &Spec, value: &str) -> Result<(), String> {
    if spec.name == "activedefrag" && value.eq_ignore_ascii_case("yes") {
        // No active defragmentation here: refused as by a Redis built without Redis's own
        // jemalloc (Debian's), not accepted and ignored.
        return Err("Active defragmentation cannot be enabled: it requires a Redis server compiled with a modified Jemalloc like the one shipped by default with the Redis source distribution".into());
    }
    if spec.name == "cluster-announce-hostname" {
        if value.len() >= 256 {
            return Err("Hostnames must be less than 256 characters".into());
        }
        if !value
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'.')
        {
            return Err(
                "Hostnames may only contain alphanumeric characters, hyphens or dots".into(),
            );
        }
    }
    Ok(())
}

impl Config {
    pub fn get(&self, name: &str) -> Option<String> {
        lookup(name).map(|s| (s.get)(self))
    }
    /// Set by name, with Redis's validation; the error is the reason text only.
    pub fn set(&mut self, name: &str, value: &str) -> Result<&'static Spec, String> {
        let spec =
            lookup(name).ok_or_else(|| "Bad directive or wrong number of arguments".to_string())?;
        validate(spec, value)?;
        (spec.set)(self, value)?;
        Ok(spec)
    }
    pub fn maxmemory_policy_name(&self) -> &'static str {
        MAXMEMORY_POLICIES[self.maxmemory_policy.0 as usize]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn defaults_parse_and_print_back() {
        let c = Config::default();
        for s in SPECS {
            let printed = (s.get)(&c);
            let mut c2 = c.clone();
            (s.set)(&mut c2, &printed)
                .unwrap_or_else(|e| panic!("{}: '{}' does not parse back: {}", s.name, printed, e));
            assert_eq!((s.get)(&c2), printed, "{}", s.name);
        }
        assert_eq!(c.get("maxmemory-policy").unwrap(), "noeviction");
        assert_eq!(c.get("slave-read-only").unwrap(), "yes");
        assert_eq!(c.get("save").unwrap(), "3600 1 300 100 60 10000");
    }
    #[test]
    fn validation_messages() {
        let mut c = Config::default();
        assert_eq!(
            c.set("port", "x").unwrap_err(),
            "argument couldn't be parsed into an integer"
        );
        assert_eq!(
            c.set("port", "70000").unwrap_err(),
            "argument must be between 0 and 65535 inclusive"
        );
        assert_eq!(
            c.set("maxmemory", "lots").unwrap_err(),
            "argument must be a memory value"
        );
        assert_eq!(
            c.set("appendonly", "maybe").unwrap_err(),
            "argument must be 'yes' or 'no'"
        );
        assert!(c
            .set("maxmemory-policy", "nope")
            .unwrap_err()
            .starts_with("argument(s) must be one of the following: volatile-lru"));
        c.set("maxmemory", "1gb").unwrap();
        assert_eq!(c.maxmemory, 1 << 30);
    }
}
