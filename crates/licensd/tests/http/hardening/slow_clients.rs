//! Slow and stuck clients: a connection that never finishes its headers is closed after the
//! header-read timeout, a body that never completes is answered 408 after the body-read
//! timeout, and after SIGTERM the process exits within the shutdown grace even with such
//! connections open (it used to wait for them forever).

use crate::harness::{Backend, Server};
use serde_json::{Value, json};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

async fn connect(server: &Server) -> TcpStream {
    let address = server.base.trim_start_matches("http://").to_string();
    TcpStream::connect(address).await.expect("connect")
}

/// Reads until the peer closes the connection; what it sent.
async fn read_to_close(stream: &mut TcpStream, within: Duration) -> Option<String> {
    let mut received = Vec::new();
    tokio::time::timeout(within, stream.read_to_end(&mut received))
        .await
        .ok()?
        .ok()?;
    Some(String::from_utf8_lossy(&received).into_owned())
}

async fn half_header_is_disconnected(backend: Backend) {
    let server = Server::start_fresh_with(backend, &[("--header-read-timeout", "1")]).await;
    let mut stream = connect(&server).await;
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ")
        .await
        .expect("write");
    let started = Instant::now();
    let answer = read_to_close(&mut stream, Duration::from_secs(10)).await;
    assert!(answer.is_some(), "the connection was still open after 10 s");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "closed only after {:?}",
        started.elapsed()
    );
    // The server still serves everyone else.
    let status = server
        .http
        .get(server.url("/healthz"))
        .send()
        .await
        .expect("healthz")
        .status();
    assert_eq!(status, 200);
}

async fn slow_body_is_a_408(backend: Backend) {
    let server = Server::start_fresh_with(backend, &[("--body-read-timeout", "1")]).await;
    let mut stream = connect(&server).await;
    let head = format!(
        "POST /v1/products HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{{\"code\":",
        crate::harness::ADMIN_TOKEN
    );
    stream.write_all(head.as_bytes()).await.expect("write");
    let started = Instant::now();
    let mut received = vec![0u8; 4096];
    let read = tokio::time::timeout(Duration::from_secs(10), stream.read(&mut received))
        .await
        .expect("an answer within 10 s")
        .expect("read");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "answered only after {:?}",
        started.elapsed()
    );
    let text = String::from_utf8_lossy(&received[..read]).into_owned();
    assert!(text.starts_with("HTTP/1.1 408 "), "{text}");
    let body: Value = serde_json::from_str(text.split("\r\n\r\n").nth(1).unwrap_or("")).expect("json body");
    assert_eq!(
        body,
        json!({"error": {"code": "request_timeout", "message": "the request body did not arrive in time"}})
    );
}

async fn sigterm_exits_within_the_grace(backend: Backend) {
    let mut server = Server::start_fresh_with(backend, &[("--shutdown-grace", "2")]).await;
    // One client stuck in its headers, one stuck in its body.
    let mut half_header = connect(&server).await;
    half_header
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        .await
        .expect("write");
    let mut half_body = connect(&server).await;
    half_body
        .write_all(
            b"POST /v1/products HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 50\r\n\r\n{",
        )
        .await
        .expect("write");
    tokio::time::sleep(Duration::from_millis(200)).await;
    let pid = server.process().id().to_string();
    let killed = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .expect("kill");
    assert!(killed.success());
    let started = Instant::now();
    let status = loop {
        if let Some(status) = server.process().try_wait().expect("try_wait") {
            break Some(status);
        }
        if started.elapsed() > Duration::from_secs(8) {
            break None;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let status = status.expect("licensd still running 8 s after SIGTERM with a 2 s grace");
    assert!(status.success(), "{status:?}");
    assert!(
        started.elapsed() >= Duration::from_millis(1500),
        "exited before the grace: {:?}",
        started.elapsed()
    );
    // Both stuck connections are closed.
    assert!(read_to_close(&mut half_header, Duration::from_secs(2)).await.is_some());
    assert!(read_to_close(&mut half_body, Duration::from_secs(2)).await.is_some());
}

mod sqlite {
    use super::*;
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn half_header_connection_is_closed_after_the_header_timeout() {
        half_header_is_disconnected(Backend::Sqlite).await;
    }
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn body_that_never_completes_is_answered_408() {
        slow_body_is_a_408(Backend::Sqlite).await;
    }
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn sigterm_exits_within_the_grace_with_stuck_clients() {
        sigterm_exits_within_the_grace(Backend::Sqlite).await;
    }
}

mod postgres {
    use super::*;
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn half_header_connection_is_closed_after_the_header_timeout() {
        half_header_is_disconnected(Backend::Postgres).await;
    }
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn body_that_never_completes_is_answered_408() {
        slow_body_is_a_408(Backend::Postgres).await;
    }
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn sigterm_exits_within_the_grace_with_stuck_clients() {
        sigterm_exits_within_the_grace(Backend::Postgres).await;
    }
}
