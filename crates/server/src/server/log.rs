//! Logging in Redis's layout, through `tracing`:
//!
//! ```text
//! 12345:M 21 Nov 2026 18:59:47.123 * Ready to accept connections
//! ```
//!
//! pid, role (`M` master, `S` replica, `X` sentinel, `C` child), local time with
//! milliseconds, level mark (`.` debug, `-` verbose, `*` notice, `#` warning), message. The
//! level and destination follow `loglevel` and `logfile` (empty: stdout). tracing's levels map
//! onto Redis's: TRACE debug, DEBUG verbose, INFO notice, WARN/ERROR warning.

use std::fmt::Write as _;
use std::io::Write;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::OnceLock;

use parking_lot::Mutex;
use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::layer::{Context, Layer};
use tracing_subscriber::prelude::*;

/// Redis's verbosity levels, lowest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Verbosity {
    Debug = 0,
    Verbose = 1,
    Notice = 2,
    Warning = 3,
    Nothing = 4,
}

impl Verbosity {
    pub fn from_name(name: &str) -> Verbosity {
        match name {
            "debug" => Verbosity::Debug,
            "verbose" => Verbosity::Verbose,
            "warning" => Verbosity::Warning,
            "nothing" => Verbosity::Nothing,
            _ => Verbosity::Notice,
        }
    }
}

static VERBOSITY: AtomicU8 = AtomicU8::new(Verbosity::Notice as u8);
static ROLE: AtomicU8 = AtomicU8::new(b'M');
static SINK: OnceLock<Mutex<Box<dyn Write + Send>>> = OnceLock::new();

/// Sets the minimum level logged (`loglevel`).
pub fn set_verbosity(v: Verbosity) {
    VERBOSITY.store(v as u8, Ordering::Relaxed);
}

/// Sets the role mark (`M`, `S`, `X`, `C`).
pub fn set_role(mark: u8) {
    ROLE.store(mark, Ordering::Relaxed);
}

/// Installs the logger writing to `logfile` (stdout when empty).
pub fn init(logfile: &str, verbosity: Verbosity) -> std::io::Result<()> {
    let sink: Box<dyn Write + Send> = if logfile.is_empty() {
        Box::new(std::io::stdout())
    } else {
        Box::new(
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(logfile)?,
        )
    };
    let _ = SINK.set(Mutex::new(sink));
    set_verbosity(verbosity);
    let _ = tracing_subscriber::registry().with(RedisLayer).try_init();
    Ok(())
}

fn verbosity_of(level: &Level) -> Verbosity {
    match *level {
        Level::TRACE => Verbosity::Debug,
        Level::DEBUG => Verbosity::Verbose,
        Level::INFO => Verbosity::Notice,
        _ => Verbosity::Warning,
    }
}

struct RedisLayer;

impl<S: Subscriber> Layer<S> for RedisLayer {
    /// The level can change at run time (CONFIG SET loglevel): ask [`Self::enabled`] every
    /// time instead of letting tracing cache a call site's first answer.
    fn register_callsite(
        &self,
        _metadata: &'static tracing::Metadata<'static>,
    ) -> tracing::subscriber::Interest {
        tracing::subscriber::Interest::sometimes()
    }

    fn enabled(&self, metadata: &tracing::Metadata<'_>, _: Context<'_, S>) -> bool {
        verbosity_of(metadata.level()) as u8 >= VERBOSITY.load(Ordering::Relaxed)
    }

    fn on_event(&self, event: &Event<'_>, _: Context<'_, S>) {
        let v = verbosity_of(event.metadata().level());
        if (v as u8) < VERBOSITY.load(Ordering::Relaxed) {
            return;
        }
        let mut message = MessageVisitor(String::new());
        event.record(&mut message);
        write_line(v, &message.0);
    }
}

struct MessageVisitor(String);

impl Visit for MessageVisitor {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            let _ = write!(self.0, "{value:?}");
        } else {
            let _ = write!(self.0, " {}={value:?}", field.name());
        }
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.0.push_str(value);
        } else {
            let _ = write!(self.0, " {}={value}", field.name());
        }
    }
}

/// Writes one log line directly (also used before tracing is set up).
pub fn write_line(v: Verbosity, message: &str) {
    let mark = match v {
        Verbosity::Debug => '.',
        Verbosity::Verbose => '-',
        Verbosity::Notice => '*',
        _ => '#',
    };
    let line = format!(
        "{}:{} {} {} {}\n",
        std::process::id(),
        ROLE.load(Ordering::Relaxed) as char,
        timestamp(),
        mark,
        message
    );
    match SINK.get() {
        Some(sink) => {
            let mut w = sink.lock();
            let _ = w.write_all(line.as_bytes());
            let _ = w.flush();
        }
        None => print!("{line}"),
    }
}

/// `21 Nov 2026 18:59:47.123` in local time.
fn timestamp() -> String {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let secs = now.as_secs() as libc::time_t;
    // SAFETY: localtime_r writes only into `tm`, which we own.
    let tm = unsafe {
        let mut tm: libc::tm = std::mem::zeroed();
        libc::localtime_r(&secs, &mut tm);
        tm
    };
    format!(
        "{:02} {} {} {:02}:{:02}:{:02}.{:03}",
        tm.tm_mday,
        MONTHS[tm.tm_mon.clamp(0, 11) as usize],
        tm.tm_year + 1900,
        tm.tm_hour,
        tm.tm_min,
        tm.tm_sec,
        now.subsec_millis()
    )
}
