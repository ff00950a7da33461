//! A throwaway PostgreSQL 15 cluster for the tests of `PostgresStore`: started once per test
//! process, on a Unix socket in a temporary directory (no TCP port), a fresh database per store.
//!
//! `initdb` refuses to run as root, and the tests run as root here and in CI, so the cluster
//! runs as the `postgres` user (`runuser -u postgres --`; as the current user when that is not
//! root). A small shell supervisor owns the server: it creates the directory, runs `initdb`,
//! starts `postgres`, waits until it accepts connections and says `ready DIR`, then waits on its
//! standard input, a pipe from this process. When this process ends, however it ends (its
//! last test done, a panic, even SIGKILL), the kernel closes the pipe, and the supervisor stops
//! the server (a fast shutdown) and deletes the directory: no stray `postgres` processes stay.
//! When PostgreSQL cannot start, every test that needs it fails with the reason; none skips.

use std::io::{BufRead, BufReader};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::LazyLock;
use std::sync::atomic::{AtomicU64, Ordering};

use qbo_ordoro::{PostgresCoordinator, PostgresStore};

/// Where Debian's `postgresql-15` package puts the server's programs.
pub const PG_BIN: &str = "/usr/lib/postgresql/15/bin";

/// The supervisor, run by `sh -c` with the programs' directory as `$1`. `fsync=off`: a test
/// cluster need not survive a power cut, and it makes `CREATE DATABASE` and commits cheap.
/// `max_connections`: every test's store holds a small pool while the tests run in parallel.
const SUPERVISOR: &str = r#"
# A Ctrl-C on `cargo test` reaches the whole process group: the supervisor outlives it to clean
# up once the test process is gone (the server, which handles SIGINT itself, shuts down).
trap '' INT HUP
bin=$1
dir=$(mktemp -d /tmp/qbo-ordoro-pg.XXXXXX) || { echo "could not create a temporary directory"; exit 1; }
if ! "$bin/initdb" -D "$dir/data" -A trust -U postgres --no-sync -E UTF8 --locale=C >"$dir/initdb.log" 2>&1; then
    echo "initdb failed: $(tail -n 5 "$dir/initdb.log" | tr '\n' ' ')"; rm -rf "$dir"; exit 1
fi
"$bin/postgres" -D "$dir/data" -k "$dir" -c listen_addresses= -c fsync=off \
    -c full_page_writes=off -c max_connections=300 >"$dir/server.log" 2>&1 &
pid=$!
tries=0
until "$bin/pg_isready" -q -h "$dir"; do
    tries=$((tries + 1))
    if [ "$tries" -gt 300 ] || ! kill -0 "$pid" 2>/dev/null; then
        echo "the server did not start: $(tail -n 5 "$dir/server.log" | tr '\n' ' ')"
        kill -9 "$pid" 2>/dev/null; rm -rf "$dir"; exit 1
    fi
    sleep 0.1
done
echo "ready $dir"
read -r _ignored
kill -INT "$pid"
wait "$pid"
rm -rf "$dir"
"#;

/// The running cluster: its socket directory, and the supervisor with the pipe whose closing
/// stops it (kept open, never written, for the life of the process).
pub struct Cluster {
    socket_dir: String,
    _supervisor: Child,
    _keep_alive: ChildStdin,
    databases: AtomicU64,
}

static CLUSTER: LazyLock<Result<Cluster, String>> = LazyLock::new(start);

/// The cluster, started on first use; panics with the reason when PostgreSQL cannot start.
pub fn cluster() -> &'static Cluster {
    match &*CLUSTER {
        Ok(cluster) => cluster,
        Err(reason) => panic!("the test PostgreSQL cluster could not start: {reason}"),
    }
}

fn running_as_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|out| String::from_utf8_lossy(&out.stdout).trim() == "0")
}

fn start() -> Result<Cluster, String> {
    let postgres = std::path::Path::new(PG_BIN).join("postgres");
    if !postgres.exists() {
        return Err(format!(
            "{} is missing: install PostgreSQL 15 (Debian's `postgresql-15` package)",
            postgres.display()
        ));
    }
    let mut command = if running_as_root() {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--", "sh"]);
        c
    } else {
        Command::new("sh")
    };
    let mut supervisor = command
        .args(["-c", SUPERVISOR, "sh", PG_BIN])
        .current_dir("/")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .map_err(|e| format!("could not run the PostgreSQL supervisor (runuser, sh): {e}"))?;
    let stdout = supervisor.stdout.take().ok_or("the supervisor has no standard output")?;
    let mut line = String::new();
    BufReader::new(stdout)
        .read_line(&mut line)
        .map_err(|e| format!("could not read the supervisor's output: {e}"))?;
    let keep_alive = supervisor.stdin.take().ok_or("the supervisor has no standard input")?;
    match line.trim().strip_prefix("ready ") {
        Some(dir) => Ok(Cluster {
            socket_dir: dir.to_owned(),
            _supervisor: supervisor,
            _keep_alive: keep_alive,
            databases: AtomicU64::new(0),
        }),
        None => Err(format!("PostgreSQL did not start: {}", line.trim())),
    }
}

impl Cluster {
    /// The connection string of database `dbname` on this cluster.
    pub fn connection_string(&self, dbname: &str) -> String {
        format!("host={} user=postgres dbname={dbname}", self.socket_dir)
    }

    /// Creates a new, empty database and returns its connection string.
    pub async fn new_database(&self) -> String {
        let n = self.databases.fetch_add(1, Ordering::Relaxed);
        let name = format!("qbo_test_{n}");
        let (client, connection) =
            tokio_postgres::connect(&self.connection_string("postgres"), tokio_postgres::NoTls)
                .await
                .expect("connect to the test cluster's `postgres` database");
        let connection = tokio::spawn(connection);
        client
            .batch_execute(&format!("CREATE DATABASE {name} STRATEGY = FILE_COPY"))
            .await
            .unwrap_or_else(|e| panic!("create the test database {name}: {e}"));
        drop(client);
        let _ = connection.await;
        self.connection_string(&name)
    }
}

/// A `PostgresStore` on a new database of the test cluster.
pub async fn store() -> PostgresStore {
    let config = cluster().new_database().await;
    PostgresStore::connect(&config, 4).await.expect("open the PostgreSQL store")
}

/// A `PostgresCoordinator` on a new database of the test cluster, with a pool of
/// `max_connections`.
pub async fn coordinator_with(max_connections: usize) -> PostgresCoordinator {
    let config = cluster().new_database().await;
    PostgresCoordinator::connect(&config, max_connections).await.expect("open the coordinator")
}

/// A `PostgresCoordinator` on a new database of the test cluster.
pub async fn coordinator() -> PostgresCoordinator {
    coordinator_with(8).await
}
