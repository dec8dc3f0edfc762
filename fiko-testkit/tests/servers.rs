//! Each server of the kit: start, readiness, stop (SIGKILL), restart, and clean-up on drop.

// The helpers fail the test by panicking (they are not `#[test]` fns: rust-clippy#13981).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::time::Duration;

use fiko_testkit::{
    Postgres, PostgresExporter, Prometheus, Redis, RedisExporter, TestkitError, binary, free_port,
    http_get,
};

/// Sends one inline Redis command and returns the first reply line.
fn redis_command(port: u16, command: &str) -> std::io::Result<String> {
    let mut stream = TcpStream::connect(("127.0.0.1", port))?;
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    stream.write_all(format!("{command}\r\n").as_bytes())?;
    let mut reply = Vec::new();
    let mut byte = [0_u8; 1];
    while !reply.ends_with(b"\r\n") {
        stream.read_exact(&mut byte)?;
        reply.push(byte[0]);
    }
    Ok(String::from_utf8_lossy(&reply).trim_end().to_owned())
}

fn connection_refused(port: u16) -> bool {
    TcpStream::connect(("127.0.0.1", port)).is_err()
}

/// Whether a process with this pid still exists (and is not a zombie).
fn process_alive(pid: &str) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .is_ok_and(|stat| stat.split_whitespace().nth(2).is_none_or(|s| s != "Z"))
}

/// The pids whose command line mentions `needle` (to check nothing is left behind).
fn pids_mentioning(needle: &str) -> Vec<String> {
    let mut pids = Vec::new();
    if let Ok(entries) = std::fs::read_dir("/proc") {
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if !name.bytes().all(|b| b.is_ascii_digit()) {
                continue;
            }
            let cmdline = std::fs::read(entry.path().join("cmdline")).unwrap_or_default();
            if String::from_utf8_lossy(&cmdline).contains(needle) && process_alive(&name) {
                pids.push(name);
            }
        }
    }
    pids
}

#[test]
fn missing_binary_names_the_debian_package() {
    let err = binary("fiko-no-such-binary", "fiko-no-such-package").unwrap_err();
    assert!(matches!(err, TestkitError::MissingBinary { .. }));
    let message = err.to_string();
    assert!(message.contains("`fiko-no-such-binary`"), "{message}");
    assert!(
        message.contains("apt-get install fiko-no-such-package"),
        "{message}"
    );
}

#[test]
fn binaries_are_found_including_postgres_bin_dir() {
    let initdb = binary("initdb", "postgresql").expect("postgresql is installed");
    assert!(initdb.ends_with("bin/initdb"), "{}", initdb.display());
    assert!(binary("redis-server", "redis-server").is_ok());
}

#[test]
fn free_ports_are_bindable() {
    let port = free_port();
    assert_ne!(port, 0);
    std::net::TcpListener::bind(("127.0.0.1", port)).expect("port is free");
}

#[test]
fn redis_start_stop_restart_and_config() {
    let mut redis = Redis::start_with(&[("maxmemory", "64mb")]).expect("redis starts");
    let port = redis.port();
    assert_eq!(redis.url(), format!("redis://127.0.0.1:{port}"));
    assert_eq!(redis_command(port, "SET k v").unwrap(), "+OK");
    assert_eq!(redis_command(port, "GET k").unwrap(), "$1");
    // The extra config reached the server.
    assert_eq!(
        redis_command(port, "CONFIG GET maxmemory").unwrap(),
        "*2",
        "array reply"
    );
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream.write_all(b"CONFIG GET maxmemory\r\n").unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let mut buf = [0_u8; 64];
    let n = stream.read(&mut buf).unwrap();
    assert!(String::from_utf8_lossy(&buf[..n]).contains("67108864"));

    redis.stop();
    assert!(!redis.is_running());
    assert!(connection_refused(port));
    redis.stop(); // idempotent

    redis.restart().expect("redis restarts");
    assert_eq!(redis.port(), port, "same port after restart");
    assert!(redis.is_running());
    assert_eq!(
        redis_command(port, "EXISTS k").unwrap(),
        ":0",
        "comes back empty"
    );
    redis.restart().expect("restart while running");
    assert!(redis.is_running());
}

#[test]
fn redis_is_killed_on_drop() {
    let redis = Redis::start().expect("redis starts");
    let port = redis.port();
    let needle = format!("127.0.0.1:{port}");
    assert_eq!(pids_mentioning(&needle).len(), 1, "one redis-server");
    drop(redis);
    assert!(connection_refused(port));
    assert!(pids_mentioning(&needle).is_empty(), "nothing left behind");
}

#[test]
fn postgres_start_stop_restart_keeps_data() {
    let mut pg = Postgres::start().expect("postgres starts");
    let port = pg.port();
    assert_eq!(pg.url(), format!("postgres://fiko@127.0.0.1:{port}/fiko"));
    assert_eq!(
        pg.psql("SELECT current_user || '@' || current_database()")
            .unwrap()
            .trim(),
        "fiko@fiko"
    );
    pg.psql("CREATE TABLE t (x int); INSERT INTO t VALUES (1), (2), (3)")
        .unwrap();
    // A child of the postmaster must die with it, or a restart would find the old
    // shared memory still attached.
    let backend_pids = pg
        .psql("SELECT pid FROM pg_stat_activity WHERE backend_type = 'checkpointer'")
        .unwrap();
    let checkpointer = backend_pids.trim().to_owned();
    assert!(process_alive(&checkpointer));

    // A client session is open (and its backend busy) when the server is killed.
    let mut session = std::process::Command::new(binary("psql", "postgresql").unwrap())
        .args(["-X", "-h", "127.0.0.1", "-U", "fiko", "-d", "fiko", "-p"])
        .arg(port.to_string())
        .args(["-c", "SELECT pg_sleep(30)"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let busy = "SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'SELECT pg_sleep%'";
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while pg.psql(busy).unwrap().trim() != "1" {
        assert!(
            std::time::Instant::now() < deadline,
            "session never started"
        );
        std::thread::sleep(Duration::from_millis(20));
    }

    let started = std::time::Instant::now();
    pg.stop();
    let stopped_in = started.elapsed();
    assert!(!pg.is_running());
    assert!(connection_refused(port));
    assert!(
        !process_alive(&checkpointer),
        "children die with the server"
    );
    assert!(
        !session.wait().unwrap().success(),
        "the session lost its server"
    );
    assert!(stopped_in < Duration::from_secs(3), "{stopped_in:?}");
    assert!(pg.psql("SELECT 1").is_err());

    pg.restart().expect("postgres restarts after SIGKILL");
    assert_eq!(pg.port(), port);
    assert_eq!(
        pg.psql("SELECT sum(x) FROM t").unwrap().trim(),
        "6",
        "data kept"
    );
    pg.restart().expect("restart while running");
    assert_eq!(pg.psql("SELECT count(*) FROM t").unwrap().trim(), "3");
}

#[test]
fn postgres_leaves_no_process_and_no_directory() {
    let pg = Postgres::start().expect("postgres starts");
    let port = pg.port();
    let data_dir = pg.psql("SHOW data_directory").unwrap().trim().to_owned();
    assert!(Path::new(&data_dir).exists());
    drop(pg);
    assert!(connection_refused(port));
    assert!(!Path::new(&data_dir).exists(), "temp dir removed");
    assert!(pids_mentioning(&data_dir).is_empty(), "no postgres left");
}

#[test]
fn prometheus_starts_with_extra_files_and_reloads() {
    let rules = "groups:\n- name: kit\n  rules:\n  - record: kit:one\n    expr: vector(1)\n";
    let config =
        "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nrule_files:\n- rules/kit.yml\n";
    let prometheus = Prometheus::start(config, &[("rules/kit.yml", rules)]).expect("starts");
    assert!(prometheus.url().starts_with("http://127.0.0.1:"));
    let groups = http_get(&format!("{}/api/v1/rules", prometheus.url())).unwrap();
    assert_eq!(groups.status, 200);
    assert!(groups.body.contains("kit:one"), "{}", groups.body);
    let answer = prometheus.query("vector(42)").unwrap();
    assert!(answer.contains("\"42\""), "{answer}");
    std::fs::write(
        prometheus.dir().join("rules/kit.yml"),
        rules.replace("kit:one", "kit:two"),
    )
    .unwrap();
    prometheus.reload().unwrap();
    let groups = http_get(&format!("{}/api/v1/rules", prometheus.url())).unwrap();
    assert!(groups.body.contains("kit:two"), "{}", groups.body);
}

#[test]
fn prometheus_rejects_escaping_file_names_and_bad_config() {
    let err = Prometheus::start("global: {}\n", &[("../evil.yml", "")]).unwrap_err();
    assert!(matches!(err, TestkitError::InvalidFileName(_)), "{err}");
    let err = Prometheus::start("scrape_configs: [[[\n", &[]).unwrap_err();
    assert!(matches!(err, TestkitError::Exited { .. }), "{err}");
}

#[test]
fn redis_exporter_scrapes_redis() {
    let mut redis = Redis::start().expect("redis starts");
    let exporter = RedisExporter::start(&redis.url()).expect("exporter starts");
    let metrics = http_get(&exporter.metrics_url()).unwrap();
    assert_eq!(metrics.status, 200);
    assert!(metrics.body.contains("\nredis_up 1\n"), "{}", metrics.body);
    assert!(metrics.body.contains("\nredis_memory_max_bytes 0\n"));
    redis.stop();
    let metrics = http_get(&exporter.metrics_url()).unwrap();
    assert!(metrics.body.contains("\nredis_up 0\n"));
}

#[test]
fn postgres_exporter_scrapes_postgres() {
    let pg = Postgres::start().expect("postgres starts");
    let exporter = PostgresExporter::start(&pg.url()).expect("exporter starts");
    let metrics = http_get(&exporter.metrics_url()).unwrap();
    assert_eq!(metrics.status, 200);
    assert!(metrics.body.contains("\npg_up 1\n"), "{}", metrics.body);
}

/// The state letter of a process (`R`, `S`, `T` for stopped, ...), from `/proc/PID/stat`.
fn process_state(pid: u32) -> Option<char> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    stat.rsplit_once(')')?
        .1
        .split_whitespace()
        .next()?
        .chars()
        .next()
}

/// Whether a read on `stream` times out (no answer) rather than returning data or EOF.
fn no_answer(stream: &mut TcpStream) -> bool {
    stream
        .set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    let mut byte = [0_u8; 1];
    matches!(
        stream.read(&mut byte),
        Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut)
    )
}

#[test]
fn a_paused_redis_keeps_its_connections_but_answers_nothing_until_resumed() {
    let mut redis = Redis::start().expect("redis starts");
    let port = redis.port();
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    assert_eq!(redis.pause().unwrap(), 1, "one redis-server process");
    assert!(!redis.is_running(), "no PONG while paused");
    stream.write_all(b"PING\r\n").unwrap();
    assert!(no_answer(&mut stream), "a paused server answers nothing");
    // Not dead: new connections still reach its listen queue.
    assert!(!connection_refused(port));

    assert_eq!(redis.resume().unwrap(), 1);
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let mut pong = [0_u8; 7];
    stream.read_exact(&mut pong).unwrap();
    assert_eq!(&pong, b"+PONG\r\n", "the pending command is answered");
    assert!(redis.is_running());

    // A paused server is still killed on drop.
    redis.pause().unwrap();
    let needle = format!("127.0.0.1:{port}");
    drop(redis);
    assert!(pids_mentioning(&needle).is_empty(), "nothing left behind");
}

/// Opens a PostgreSQL session as `fiko` (trust authentication) over the wire protocol and
/// returns the stream and the pid of the backend serving it (from BackendKeyData).
fn pg_session(port: u16) -> (TcpStream, u32) {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let params = b"user\0fiko\0database\0fiko\0\0";
    let length = u32::try_from(8 + params.len()).unwrap();
    let mut startup = length.to_be_bytes().to_vec();
    startup.extend_from_slice(&196_608_u32.to_be_bytes()); // protocol 3.0
    startup.extend_from_slice(params);
    stream.write_all(&startup).unwrap();
    // Messages until ReadyForQuery ('Z'); BackendKeyData ('K') carries the backend's pid.
    let mut backend = None;
    loop {
        let mut head = [0_u8; 5];
        stream.read_exact(&mut head).unwrap();
        let length = u32::from_be_bytes([head[1], head[2], head[3], head[4]]) as usize;
        let mut body = vec![0_u8; length - 4];
        stream.read_exact(&mut body).unwrap();
        match head[0] {
            b'K' => backend = Some(u32::from_be_bytes([body[0], body[1], body[2], body[3]])),
            b'Z' => {
                return (
                    stream,
                    backend.expect("BackendKeyData before ReadyForQuery"),
                );
            }
            b'E' => panic!("startup refused: {}", String::from_utf8_lossy(&body)),
            _ => {}
        }
    }
}

#[test]
fn a_paused_postgres_stops_the_postmaster_and_every_backend_until_resumed() {
    let mut pg = Postgres::start().expect("postgres starts");
    let (mut session, backend) = pg_session(pg.port());
    assert_ne!(process_state(backend), Some('T'));

    // The postmaster, its auxiliary processes and our backend (in a process group of its
    // own): several processes, all stopped.
    let stopped = pg.pause().unwrap();
    assert!(stopped >= 3, "only {stopped} processes stopped");
    assert_eq!(process_state(backend), Some('T'), "the backend is stopped");
    assert!(!pg.is_running(), "a paused server accepts no session");
    let query = b"SELECT 1\0";
    let mut message = vec![b'Q'];
    message.extend_from_slice(&u32::try_from(4 + query.len()).unwrap().to_be_bytes());
    message.extend_from_slice(query);
    session.write_all(&message).unwrap();
    assert!(no_answer(&mut session), "a paused backend answers nothing");

    assert!(pg.resume().unwrap() >= stopped);
    assert_ne!(process_state(backend), Some('T'));
    session
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let mut kind = [0_u8; 1];
    session.read_exact(&mut kind).unwrap();
    assert_eq!(
        kind[0], b'T',
        "the pending query is answered (RowDescription)"
    );
    assert!(pg.is_running());

    // Killed while paused: the backends are let go and exit too.
    pg.pause().unwrap();
    pg.stop();
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while process_alive(&backend.to_string()) {
        assert!(
            std::time::Instant::now() < deadline,
            "backend {backend} outlived its killed server"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}
