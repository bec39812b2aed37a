//! One client connection, from TCP accept to close.
//!
//! This replaces `pgwire::tokio::process_socket` (whose loop it follows) to
//! add what pgwire leaves to the application:
//!
//! - a cap on frontend message size, enforced on the byte stream before a
//!   message is buffered (pgwire accepts up to 1 GiB per message);
//! - `tls_require`: a plaintext startup is refused with 28000;
//! - failed-login throttling per peer address ([`super::throttle`]), using
//!   the outcome of the login handler;
//! - a FATAL 08P01 answer (then close) for undecodable input, as PostgreSQL
//!   does, instead of a silent hang-up;
//! - the rejection of connections over the limit with 53300 after reading
//!   their startup packet (so the client sees the error, not a reset), while
//!   still serving CancelRequests on them.

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use std::panic::AssertUnwindSafe;

use futures::{FutureExt, SinkExt, StreamExt};
use pgwire::api::auth::DefaultServerParameterProvider;
use pgwire::api::cancel::CancelHandler;
use pgwire::api::{ClientInfo, ErrorHandler, NoopHandler, PgWireConnectionState};
use pgwire::error::{ErrorInfo, PgWireError};
use pgwire::messages::{PgWireBackendMessage, PgWireFrontendMessage};
use pgwire::tokio::server::{negotiate_tls, process_error, process_message, MaybeTls, PgWireMessageServerCodec};
use pgwire::tokio::TlsAcceptor;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::time::{timeout_at, Instant};
use tokio_util::codec::{Framed, FramedParts};

use super::auth::{LoggedIn, ScramStartup, UserStore};
use super::cancel::{Backends, CancelByKey};
use super::errors::sqlstate;
use super::handler::{Prepared, QueryService};
use super::throttle::LoginThrottle;
use super::LogErrors;

/// What every connection shares.
pub(super) struct Shared {
    pub query: Arc<QueryService>,
    pub users: Arc<UserStore>,
    pub params: Arc<DefaultServerParameterProvider>,
    pub backends: Arc<Backends>,
    pub throttle: LoginThrottle,
    pub tls: Option<TlsAcceptor>,
    pub tls_require: bool,
    pub max_message_size: usize,
    pub startup_timeout: Duration,
}

/// How long a connection over the limit may take to send its startup packet.
const REJECT_TIMEOUT: Duration = Duration::from_secs(5);

type Socket = Framed<Capped<MaybeTls>, PgWireMessageServerCodec<Prepared>>;

/// Where the byte stream is in the message framing.
#[derive(Debug, Clone, Copy)]
enum Framing {
    /// Reading a header: 4 length bytes for the untyped startup packet,
    /// 1 type byte + 4 length bytes afterwards.
    Header { typed: bool, buf: [u8; 5], have: usize },
    /// Reading the body of a message of type `kind` (0 for untyped).
    Body { kind: u8, remaining: usize },
}

/// A transport that fails with `InvalidData` as soon as a frontend message
/// announces a length over the cap, before its body is read, and when a
/// message whose counts and lengths do not add up is complete (before
/// pgwire's decoder, which trusts them, sees it).
pub(super) struct Capped<S> {
    io: S,
    cap: usize,
    framing: Framing,
    /// Body of the current message, kept for the types that are checked.
    body: Vec<u8>,
    /// Password-family messages seen: the first one is a SASLInitialResponse.
    password_messages: usize,
}

fn invalid(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, format!("invalid frontend message: {what}"))
}

/// Reads a message body field by field, failing instead of panicking.
struct Fields<'a>(&'a [u8]);

impl Fields<'_> {
    fn take(&mut self, n: usize) -> Option<&[u8]> {
        if n > self.0.len() {
            return None;
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Some(head)
    }
    fn i16(&mut self) -> Option<i16> {
        self.take(2).map(|b| i16::from_be_bytes([b[0], b[1]]))
    }
    fn i32(&mut self) -> Option<i32> {
        self.take(4).map(|b| i32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }
    fn cstr(&mut self) -> Option<()> {
        let end = self.0.iter().position(|&b| b == 0)?;
        self.take(end + 1).map(|_| ())
    }
    fn count(&mut self) -> Option<usize> {
        usize::try_from(self.i16()?).ok()
    }
}

/// Whether the counts and lengths inside a Bind, Parse or
/// SASLInitialResponse body are consistent with its size.
fn well_formed(kind: u8, body: &[u8], first_password: bool) -> bool {
    let mut f = Fields(body);
    let ok = match kind {
        b'B' => (|| {
            f.cstr()?;
            f.cstr()?;
            for _ in 0..f.count()? {
                f.i16()?;
            }
            for _ in 0..f.count()? {
                let len = f.i32()?;
                if len >= 0 {
                    f.take(len as usize)?;
                } else if len != -1 {
                    return None;
                }
            }
            for _ in 0..f.count()? {
                f.i16()?;
            }
            Some(())
        })(),
        b'P' => (|| {
            f.cstr()?;
            f.cstr()?;
            for _ in 0..f.count()? {
                f.i32()?;
            }
            Some(())
        })(),
        b'p' if first_password => (|| {
            f.cstr()?;
            let len = f.i32()?;
            if len >= 0 {
                f.take(len as usize)?;
            } else if len != -1 {
                return None;
            }
            Some(())
        })(),
        _ => Some(()),
    };
    ok.is_some()
}

/// Message types whose bodies are checked by [`well_formed`].
fn checked(kind: u8) -> bool {
    matches!(kind, b'B' | b'P' | b'p')
}

fn too_large(len: usize, cap: usize) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!("message of {len} bytes exceeds the limit of {cap} bytes (server.max_message_size)"),
    )
}

impl<S> Capped<S> {
    fn new(io: S, cap: usize) -> Self {
        Self { io, cap, framing: Framing::Header { typed: false, buf: [0; 5], have: 0 }, body: Vec::new(), password_messages: 0 }
    }

    /// A message of type `kind` (0: untyped) is complete in `self.body`.
    fn finish(&mut self, kind: u8) -> io::Result<()> {
        if checked(kind) {
            let first_password = kind == b'p' && self.password_messages == 0;
            if kind == b'p' {
                self.password_messages += 1;
            }
            if !well_formed(kind, &self.body, first_password) {
                return Err(invalid(&format!("inconsistent lengths in a message of type {}", kind as char)));
            }
        }
        self.body.clear();
        self.framing = Framing::Header { typed: true, buf: [0; 5], have: 0 };
        Ok(())
    }

    /// Follows the framing over `data`, failing on an oversized length or a
    /// malformed checked message.
    fn track(&mut self, mut data: &[u8]) -> io::Result<()> {
        while !data.is_empty() {
            match &mut self.framing {
                Framing::Body { kind, remaining } => {
                    let kind = *kind;
                    let n = (*remaining).min(data.len());
                    *remaining -= n;
                    let done = *remaining == 0;
                    if checked(kind) {
                        self.body.extend_from_slice(&data[..n]);
                    }
                    data = &data[n..];
                    if done {
                        self.finish(kind)?;
                    }
                }
                Framing::Header { typed, buf, have } => {
                    let need = if *typed { 5 } else { 4 };
                    let n = (need - *have).min(data.len());
                    buf[*have..*have + n].copy_from_slice(&data[..n]);
                    *have += n;
                    data = &data[n..];
                    if *have == need {
                        let kind = if *typed { buf[0] } else { 0 };
                        let len = i32::from_be_bytes(buf[need - 4..need].try_into().expect("4 bytes"));
                        // The startup packet holds at least a protocol version.
                        let min = if *typed { 4 } else { 8 };
                        if len < min {
                            return Err(invalid(&format!("length {len}")));
                        }
                        let len = len as usize;
                        if len > self.cap {
                            return Err(too_large(len, self.cap));
                        }
                        match len - 4 {
                            0 => self.finish(kind)?,
                            remaining => self.framing = Framing::Body { kind, remaining },
                        }
                    }
                }
            }
        }
        Ok(())
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Capped<S> {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        match Pin::new(&mut this.io).poll_read(cx, buf) {
            Poll::Ready(Ok(())) => Poll::Ready(this.track(&buf.filled()[before..])),
            other => other,
        }
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Capped<S> {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().io).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_shutdown(cx)
    }
}

/// TLS negotiation, then the capped transport; `None` when the client went
/// away or spoke direct TLS to a server without TLS.
async fn open(tcp: TcpStream, tls: Option<TlsAcceptor>, cap: usize) -> io::Result<Option<Socket>> {
    let Some(socket) = negotiate_tls::<Prepared>(tcp, tls).await? else { return Ok(None) };
    let parts = socket.into_parts();
    let mut io = Capped::new(parts.io, cap);
    // Bytes read while looking for an SSLRequest are already buffered.
    io.track(&parts.read_buf)?;
    let mut new = FramedParts::new(io, parts.codec);
    new.read_buf = parts.read_buf;
    new.write_buf = parts.write_buf;
    Ok(Some(Framed::from_parts(new)))
}

async fn send_fatal(socket: &mut Socket, code: &str, message: String) {
    let info = ErrorInfo::new("FATAL".into(), code.into(), message);
    let _ = socket.send(PgWireBackendMessage::ErrorResponse(info.into())).await;
    let _ = socket.close().await;
}

/// The SQLSTATE and message for input that could not be read.
fn read_error(e: &PgWireError) -> (&'static str, String) {
    match e {
        PgWireError::IoError(io) if io.kind() == io::ErrorKind::InvalidData => (sqlstate::PROTOCOL_VIOLATION, io.to_string()),
        PgWireError::InvalidMessageType(t) => (sqlstate::PROTOCOL_VIOLATION, format!("invalid frontend message type {t}")),
        other => (sqlstate::PROTOCOL_VIOLATION, format!("invalid frontend message: {other}")),
    }
}

/// Serves one connection that holds a slot.
pub(super) async fn serve(shared: Arc<Shared>, tcp: TcpStream, peer: SocketAddr) -> io::Result<()> {
    let startup_deadline = Instant::now() + shared.startup_timeout;
    let mut socket = match timeout_at(startup_deadline, open(tcp, shared.tls.clone(), shared.max_message_size)).await {
        Ok(Ok(Some(s))) => s,
        // Gone, timed out, or unreadable before the startup packet.
        Ok(Ok(None)) | Ok(Err(_)) | Err(_) => return Ok(()),
    };
    let startup = Arc::new(ScramStartup::new(shared.users.clone(), shared.params.clone(), shared.backends.clone()));
    let cancel = Arc::new(CancelByKey(shared.backends.clone()));
    let copy = Arc::new(NoopHandler);
    loop {
        let authenticating =
            matches!(socket.state(), PgWireConnectionState::AwaitingStartup | PgWireConnectionState::AuthenticationInProgress);
        // Decoding is pgwire's; should it panic on some input after all, the
        // connection ends with an error instead of silently.
        let next = AssertUnwindSafe(socket.next()).catch_unwind();
        let next = if authenticating {
            match timeout_at(startup_deadline, next).await {
                Ok(n) => n,
                Err(_) => {
                    send_fatal(&mut socket, sqlstate::PROTOCOL_VIOLATION, "canceling authentication due to timeout".into()).await;
                    break;
                }
            }
        } else {
            next.await
        };
        let Ok(next) = next else {
            tracing::warn!(%peer, "Decoding a message panicked; closing the connection.");
            send_fatal(&mut socket, sqlstate::PROTOCOL_VIOLATION, "invalid frontend message".into()).await;
            break;
        };
        let msg = match next {
            None => break,
            Some(Ok(m)) => m,
            Some(Err(e)) => {
                let (code, message) = read_error(&e);
                tracing::debug!(%peer, error = %message, "Unreadable input; closing the connection.");
                send_fatal(&mut socket, code, message).await;
                break;
            }
        };
        match &msg {
            PgWireFrontendMessage::Terminate(_) => break,
            PgWireFrontendMessage::Startup(_) if matches!(socket.state(), PgWireConnectionState::AwaitingStartup) => {
                if shared.tls_require && !socket.is_secure() {
                    tracing::info!(%peer, "Plaintext connection refused: TLS is required.");
                    send_fatal(
                        &mut socket,
                        sqlstate::INVALID_AUTHORIZATION,
                        "TLS is required: connect with sslmode=require (server.tls_require)".into(),
                    )
                    .await;
                    break;
                }
                if let Err(remaining) = shared.throttle.check(peer.ip()) {
                    tracing::warn!(%peer, "Login refused: too many failed logins from this address.");
                    send_fatal(
                        &mut socket,
                        sqlstate::INVALID_AUTHORIZATION,
                        format!(
                            "too many failed login attempts from this address; try again in {} s",
                            remaining.as_secs().max(1)
                        ),
                    )
                    .await;
                    break;
                }
            }
            _ => {}
        }
        let is_cancel = matches!(msg, PgWireFrontendMessage::CancelRequest(_));
        let is_extended_query = match socket.state() {
            PgWireConnectionState::CopyInProgress(extended) => extended,
            _ => msg.is_extended_query(),
        };
        let result = AssertUnwindSafe(process_message(
            msg,
            &mut socket,
            startup.clone(),
            shared.query.clone(),
            shared.query.clone(),
            copy.clone(),
            cancel.clone(),
        ))
        .catch_unwind()
        .await;
        let Ok(result) = result else {
            tracing::error!(%peer, "Handling a message panicked; closing the connection.");
            send_fatal(&mut socket, sqlstate::INTERNAL_ERROR, "internal error".into()).await;
            break;
        };
        match result {
            Ok(()) => {
                if authenticating && matches!(socket.state(), PgWireConnectionState::ReadyForQuery) {
                    shared.throttle.success(peer.ip());
                    let user = socket.session_extensions().get::<LoggedIn>().map(|l| l.user.clone()).unwrap_or_default();
                    tracing::info!(%peer, user, "Logged in.");
                }
            }
            Err(mut e) => {
                if authenticating && matches!(e, PgWireError::InvalidPassword(_)) {
                    let (delay, locked) = shared.throttle.failure(peer.ip());
                    let user = socket.metadata().get("user").cloned().unwrap_or_default();
                    tracing::warn!(%peer, user, locked, "Failed login.");
                    tokio::time::sleep(delay).await;
                }
                LogErrors.on_error(&socket, &mut e);
                process_error(&mut socket, e, is_extended_query).await?;
            }
        }
        if is_cancel {
            break;
        }
    }
    Ok(())
}

/// Answers a connection over the limit: 53300 after its startup packet, or
/// the cancel it carries.
pub(super) async fn reject(shared: Arc<Shared>, tcp: TcpStream, peer: SocketAddr) {
    let _ = timeout_at(Instant::now() + REJECT_TIMEOUT, async {
        let Ok(Some(mut socket)) = open(tcp, shared.tls.clone(), shared.max_message_size).await else { return };
        match socket.next().await {
            Some(Ok(PgWireFrontendMessage::CancelRequest(request))) => {
                CancelByKey(shared.backends.clone()).on_cancel_request(request).await;
            }
            Some(Ok(_)) => {
                tracing::warn!(%peer, "Connection refused: too many connections (server.max_connections).");
                send_fatal(&mut socket, sqlstate::TOO_MANY_CONNECTIONS, "sorry, too many clients already".into()).await;
            }
            _ => {}
        }
    })
    .await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn framing_is_followed_across_chunks_and_oversize_is_refused() {
        let mut c = Capped::new((), 100);
        // Startup packet of 8 bytes, then Query 'Q' of 4+5 bytes, split oddly.
        let mut bytes = vec![0, 0, 0, 8, 0, 3, 0, 0];
        bytes.extend([b'Q', 0, 0, 0, 9, b's', b'e', b'l', b'\0', b'x']);
        for chunk in bytes.chunks(3) {
            c.track(chunk).unwrap();
        }
        assert!(matches!(c.framing, Framing::Header { typed: true, have: 0, .. }));
        let err = c.track(&[b'Q', 0, 0, 1, 0]).unwrap_err();
        assert!(err.to_string().contains("exceeds the limit"), "{err}");
        let mut c = Capped::new((), 100);
        assert!(c.track(&[0, 0, 0, 2]).is_err(), "length below 8 for a startup packet");
        // A Bind whose parameter length runs past the message.
        let mut c = Capped::new((), 1000);
        c.track(&[0, 0, 0, 8, 0, 3, 0, 0]).unwrap();
        let body = [&b"\0s\0"[..], &0i16.to_be_bytes(), &1i16.to_be_bytes(), &100i32.to_be_bytes(), b"x", &0i16.to_be_bytes()].concat();
        let mut msg = vec![b'B'];
        msg.extend(((body.len() + 4) as i32).to_be_bytes());
        msg.extend(&body);
        assert!(c.track(&msg).is_err());
        assert!(well_formed(b'B', &[&b"\0s\0"[..], &0i16.to_be_bytes(), &1i16.to_be_bytes(), &1i32.to_be_bytes(), b"x", &0i16.to_be_bytes()].concat(), false));
    }
}
