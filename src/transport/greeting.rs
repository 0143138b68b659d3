//! Knowing when a server has greeted: a stream wrapper that signals the first bytes it
//! reads. The connect timeout covers reaching a host up to its greeting (as OpenSSH's
//! ConnectTimeout does); a host that greeted is alive, and a busy one is given longer
//! for key exchange and login.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::Notify;

/// Set once the server has sent its first bytes.
#[derive(Clone, Default)]
pub struct Greeted(Arc<Notify>);

impl Greeted {
    /// Waits for the greeting (returns at once if it already came).
    pub async fn wait(&self) {
        self.0.notified().await;
    }

    /// Marks the greeting as come (tests).
    pub fn now(&self) {
        self.0.notify_one();
    }
}

/// A stream that tells `Greeted` when it first reads something.
pub struct Greeting<S> {
    inner: S,
    greeted: Option<Greeted>,
}

impl<S> Greeting<S> {
    /// Wraps `inner`.
    pub fn new(inner: S, greeted: Greeted) -> Greeting<S> {
        Greeting {
            inner,
            greeted: Some(greeted),
        }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Greeting<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let r = Pin::new(&mut this.inner).poll_read(cx, buf);
        if matches!(r, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            if let Some(g) = this.greeted.take() {
                // notify_one keeps the signal for a waiter that comes later.
                g.now();
            }
        }
        r
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Greeting<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[tokio::test]
    async fn the_first_bytes_read_signal_the_greeting() {
        let (mut server, client) = tokio::io::duplex(64);
        let greeted = Greeted::default();
        let mut stream = Greeting::new(client, greeted.clone());
        stream.write_all(b"SSH-2.0-client\r\n").await.unwrap();
        server.write_all(b"SSH-2.0-server\r\n").await.unwrap();
        let mut buf = [0u8; 4];
        stream.read_exact(&mut buf).await.unwrap();
        // Already signalled: returns at once.
        greeted.wait().await;
        assert_eq!(&buf, b"SSH-");
    }
}
