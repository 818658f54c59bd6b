//! `ClientSocket`: a client's connection (TCP or Unix domain), registered with the event loop for readability
//! only. Replies are written directly; only when the kernel's send buffer is full does the
//! socket also wait for writability, and from then on it keeps both interests.
//!
//! Why not tokio's `TcpStream`: it registers every socket for reads and writes, edge
//! triggered, so each ACK that frees send-buffer space wakes the event loop with an event
//! nobody waits for. On small request/reply traffic that costs measurable CPU per request.

use std::io::{self, Write};
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::net::UnixStream;

use tokio::io::unix::AsyncFd;
use tokio::io::Interest;

/// The connected stream under a client: both kinds are read and written the same way.
pub enum Stream {
    Tcp(std::net::TcpStream),
    Unix(UnixStream),
}

impl Stream {
    /// Another handle on the same connection (to shut it down from elsewhere).
    pub fn try_clone(&self) -> io::Result<Stream> {
        Ok(match self {
            Stream::Tcp(s) => Stream::Tcp(s.try_clone()?),
            Stream::Unix(s) => Stream::Unix(s.try_clone()?),
        })
    }

    pub fn shutdown(&self, how: std::net::Shutdown) -> io::Result<()> {
        match self {
            Stream::Tcp(s) => s.shutdown(how),
            Stream::Unix(s) => s.shutdown(how),
        }
    }

    fn set_nonblocking(&self, on: bool) -> io::Result<()> {
        match self {
            Stream::Tcp(s) => s.set_nonblocking(on),
            Stream::Unix(s) => s.set_nonblocking(on),
        }
    }

    fn write(&self, data: &[u8]) -> io::Result<usize> {
        match self {
            Stream::Tcp(s) => (&*s).write(data),
            Stream::Unix(s) => (&*s).write(data),
        }
    }
}

impl AsRawFd for Stream {
    fn as_raw_fd(&self) -> RawFd {
        match self {
            Stream::Tcp(s) => s.as_raw_fd(),
            Stream::Unix(s) => s.as_raw_fd(),
        }
    }
}

pub struct ClientSocket {
    fd: Option<AsyncFd<Stream>>,
    writable_interest: bool,
}

impl ClientSocket {
    pub fn new(stream: Stream) -> io::Result<Self> {
        stream.set_nonblocking(true)?;
        Ok(ClientSocket {
            fd: Some(register(stream, Interest::READABLE)?),
            writable_interest: false,
        })
    }

    pub fn stream(&self) -> &Stream {
        self.fd.as_ref().expect("socket is registered").get_ref()
    }

    /// Reads what is available into the spare capacity of `buf`, first making room for at
    /// least `want` bytes (only once data is there, so an idle connection holds no buffer).
    /// Returns 0 at end of stream.
    pub async fn read_into(&self, buf: &mut Vec<u8>, want: usize) -> io::Result<usize> {
        let fd = self.fd.as_ref().expect("socket is registered");
        loop {
            let mut guard = fd.readable().await?;
            if buf.capacity() - buf.len() < want.max(1) {
                buf.reserve(want.max(1));
            }
            let spare = buf.spare_capacity_mut();
            let want = spare.len();
            // SAFETY: `recv` writes at most `want` bytes into the vector's spare capacity, and
            // we extend the length by exactly what it reports written.
            let n = unsafe { libc::recv(fd.as_raw_fd(), spare.as_mut_ptr().cast(), want, 0) };
            if n >= 0 {
                let n = n as usize;
                unsafe { buf.set_len(buf.len() + n) };
                if n < want {
                    // Drained: wait for the next edge instead of reading again to see EAGAIN.
                    guard.clear_ready();
                }
                return Ok(n);
            }
            let err = io::Error::last_os_error();
            match err.kind() {
                io::ErrorKind::WouldBlock => guard.clear_ready(),
                io::ErrorKind::Interrupted => {}
                _ => return Err(err),
            }
        }
    }

    /// Writes all of `data`.
    pub async fn write_all(&mut self, mut data: &[u8]) -> io::Result<()> {
        while !data.is_empty() {
            match self.try_write(data)? {
                0 => self.wait_writable().await?,
                n => data = &data[n..],
            }
        }
        Ok(())
    }

    /// Writes what the kernel takes now; 0 when the send buffer is full.
    pub fn try_write(&self, data: &[u8]) -> io::Result<usize> {
        loop {
            match self.stream().write(data) {
                Ok(0) if !data.is_empty() => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => return Ok(n),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(0),
                Err(e) => return Err(e),
            }
        }
    }

    /// Waits until the socket can take more data. Cancel-safe.
    pub async fn wait_writable(&mut self) -> io::Result<()> {
        if !self.writable_interest {
            let stream = self.fd.take().expect("socket is registered").into_inner();
            self.fd = Some(register(stream, Interest::READABLE | Interest::WRITABLE)?);
            self.writable_interest = true;
        }
        let fd = self.fd.as_ref().expect("socket is registered");
        let mut guard = fd.writable().await?;
        guard.clear_ready();
        Ok(())
    }
}

fn register(stream: Stream, interest: Interest) -> io::Result<AsyncFd<Stream>> {
    // SAFETY: the AsyncFd owns the stream, so its descriptor stays open and unchanged for as
    // long as it is registered; the stream is only ever taken back out with `into_inner`.
    unsafe { AsyncFd::register_with_interest(stream, interest) }.map_err(|e| e.into_parts().1)
}
