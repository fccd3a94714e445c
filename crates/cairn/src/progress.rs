//! Progress on stderr for downloads, unpacking and layer writing.
//!
//! One [`Progress`] reports for a whole command, from every thread the libraries use
//! (tokio tasks for downloads, threads for unpacking and layers):
//!
//! - `-q`: nothing (errors are printed by `main`);
//! - stderr a terminal: one bar per kind of work, shown once there is such work
//!   (downloads: bytes, rate and files; unpacking: packages; layers: bytes and layers),
//!   cleared at the end, when the command prints its summary;
//! - stderr not a terminal (CI logs): no bars and no line per item, only retries and
//!   the summaries;
//! - `-v`: also a line per download, package unpacked and layer written, printed above
//!   the bars when there are bars.
//!
//! Work the store already holds is never reported: the libraries report only what they
//! do. Bars are drawn at most 10 times a second, use no colour (so `NO_COLOR` holds) and
//! are not drawn on a dumb terminal. A chunk of a download costs a shared read of the
//! map of downloads under way and two atomic adds; indicatif locks a bar's state at
//! most once a millisecond, and draws only at its rate.

use std::collections::HashMap;
use std::io::{IsTerminal, Write};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock, RwLock};
use std::time::Duration;

use cairn_debian::{InstallReporter, LockedPackage};
use cairn_fetch::{FetchError, FetchReporter};
use cairn_image::ImageReporter;
use cairn_pypi::install::WheelReporter;
use cairn_pypi::lock::LockedWheel;
use cairn_store::StorePath;
use indicatif::{HumanBytes, MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::cli::GlobalArgs;

/// How much a command prints on stderr.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verbosity {
    /// `-q`: errors only.
    Quiet,
    /// Bars on a terminal, summaries.
    Normal,
    /// `-v`: a line per item too.
    Verbose,
}

impl Verbosity {
    pub(crate) fn of(global: &GlobalArgs) -> Self {
        if global.quiet {
            Self::Quiet
        } else if global.verbose {
            Self::Verbose
        } else {
            Self::Normal
        }
    }
}

/// Whether bars can be drawn on stderr: a terminal that can move its cursor.
fn stderr_draws_bars() -> bool {
    std::io::stderr().is_terminal() && std::env::var_os("TERM").is_none_or(|t| t != "dumb")
}

/// Reports downloads, unpacking and layer writing (see the module's documentation).
pub(crate) struct Progress {
    verbosity: Verbosity,
    /// Present when bars are drawn.
    bars: Option<Bars>,
    /// Where lines go while there are no bars: stderr (a test's buffer in tests).
    lines: Mutex<Box<dyn Write + Send>>,
    /// For the summary: what was downloaded and unpacked.
    downloads: AtomicUsize,
    bytes: AtomicU64,
    fresh: AtomicUsize,
}

/// The bars, each made when its first work is announced.
struct Bars {
    multi: MultiProgress,
    download: OnceLock<ProgressBar>,
    unpack: OnceLock<ProgressBar>,
    layers: OnceLock<ProgressBar>,
    /// Downloads under way by URL, so a retry takes back the bytes its failed attempt
    /// counted. Written at a download's start, end and retry; read for each chunk.
    in_flight: RwLock<HashMap<String, InFlight>>,
    /// Downloads `on_install_start` announced that have not started: their bytes are
    /// in the bar's length already.
    announced: AtomicUsize,
    files: Counter,
    layers_written: Counter,
}

struct InFlight {
    received: AtomicU64,
    /// Whether its size was known at the start (and so added to the bar's length);
    /// else the length grows with what arrives.
    sized: bool,
}

/// Done out of total, for a bar's message.
#[derive(Default)]
struct Counter {
    done: AtomicUsize,
    total: AtomicUsize,
}

impl Counter {
    fn message(&self, what: &str) -> String {
        format!(
            "{}/{} {what}",
            self.done.load(Ordering::Relaxed),
            self.total.load(Ordering::Relaxed)
        )
    }
}

const DOWNLOAD: &str = "{spinner} {prefix:9} [{bar:25}] {binary_bytes:>10}/{binary_total_bytes:<10} \
     {binary_bytes_per_sec:>12} {msg}";
const UNPACK: &str = "{spinner} {prefix:9} [{bar:25}] {pos}/{len} packages";
const LAYERS: &str =
    "{spinner} {prefix:9} [{bar:25}] {binary_bytes:>10}/{binary_total_bytes:<10} {msg}";

impl Bars {
    fn new(target: ProgressDrawTarget) -> Self {
        Self {
            multi: MultiProgress::with_draw_target(target),
            download: OnceLock::new(),
            unpack: OnceLock::new(),
            layers: OnceLock::new(),
            in_flight: RwLock::new(HashMap::new()),
            announced: AtomicUsize::new(0),
            files: Counter::default(),
            layers_written: Counter::default(),
        }
    }

    /// The bar in `cell`, `length` longer and showing `message`. The first time, it is
    /// made so (below the others), and so never drawn empty.
    fn grow<'a>(
        &self,
        cell: &'a OnceLock<ProgressBar>,
        template: &str,
        prefix: &'static str,
        length: u64,
        message: String,
    ) -> &'a ProgressBar {
        let mut message = Some(message);
        let bar = cell.get_or_init(|| {
            let style = ProgressStyle::with_template(template)
                .expect("the templates are valid")
                .progress_chars("=> ")
                .tick_chars("-\\|/ ");
            let bar = ProgressBar::new(length)
                .with_style(style)
                .with_prefix(prefix)
                .with_message(message.take().unwrap_or_default());
            let bar = self.multi.add(bar);
            // Redraws while nothing arrives, so the rate and spinner stay true.
            bar.enable_steady_tick(Duration::from_millis(200));
            bar
        });
        if let Some(message) = message {
            bar.inc_length(length);
            bar.set_message(message);
        }
        bar
    }

    fn finish(&self) {
        for bar in [&self.download, &self.unpack, &self.layers]
            .into_iter()
            .filter_map(OnceLock::get)
        {
            bar.finish_and_clear();
        }
        let _ = self.multi.clear();
    }
}

impl Drop for Bars {
    /// An error leaves no bar behind on the terminal.
    fn drop(&mut self) {
        self.finish();
    }
}

impl Progress {
    /// Progress on stderr, with bars when it is a terminal.
    pub(crate) fn new(verbosity: Verbosity) -> Self {
        let bars = (verbosity != Verbosity::Quiet && stderr_draws_bars())
            .then(|| ProgressDrawTarget::stderr_with_hz(10));
        Self::with_output(verbosity, bars, Box::new(std::io::stderr()))
    }

    /// Bars drawn to `bars` when given, lines written to `lines` when there are none.
    fn with_output(
        verbosity: Verbosity,
        bars: Option<ProgressDrawTarget>,
        lines: Box<dyn Write + Send>,
    ) -> Self {
        Self {
            verbosity,
            bars: bars.map(Bars::new),
            lines: Mutex::new(lines),
            downloads: AtomicUsize::new(0),
            bytes: AtomicU64::new(0),
            fresh: AtomicUsize::new(0),
        }
    }

    pub(crate) fn verbosity(&self) -> Verbosity {
        self.verbosity
    }

    /// Prints `line` above the bars, or on its own when there are none.
    fn line(&self, line: &str) {
        match &self.bars {
            Some(bars) => {
                let _ = bars.multi.println(line);
            }
            None => self.write_line(line),
        }
    }

    fn write_line(&self, line: &str) {
        let mut lines = self
            .lines
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let _ = writeln!(lines, "{line}");
    }

    fn verbose(&self, line: impl FnOnce() -> String) {
        if self.verbosity == Verbosity::Verbose {
            self.line(&line());
        }
    }

    /// Clears the bars, before the command prints its results and summary.
    pub(crate) fn finish(&self) {
        if let Some(bars) = &self.bars {
            bars.finish();
        }
    }

    /// Clears the bars and prints how many of `total` packages were added now.
    pub(crate) fn summary(&self, total: usize) {
        self.finish();
        if self.verbosity == Verbosity::Quiet {
            return;
        }
        let fresh = self.fresh.load(Ordering::Relaxed);
        #[allow(clippy::cast_precision_loss)]
        let mib = self.bytes.load(Ordering::Relaxed) as f64 / f64::from(1 << 20);
        self.write_line(&format!(
            "{total} packages in the store: {fresh} added ({} downloads, {mib:.1} MiB), {} already there",
            self.downloads.load(Ordering::Relaxed),
            total - fresh
        ));
    }
}

/// What a line calls a download: a `.deb`'s file name, or an index's path from `dists/`.
fn download_name(url: &str) -> &str {
    if let Some(at) = url.find("/dists/") {
        return &url[at + 1..];
    }
    url.rsplit('/').find(|s| !s.is_empty()).unwrap_or(url)
}

impl FetchReporter for Progress {
    fn on_download_start(&self, url: &str, size: Option<u64>) {
        let Some(bars) = &self.bars else { return };
        let mut in_flight = bars
            .in_flight
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if in_flight.contains_key(url) {
            // Another attempt of a download already counted (`on_retry` took back its bytes).
            return;
        }
        in_flight.insert(
            url.to_owned(),
            InFlight {
                received: AtomicU64::new(0),
                sized: size.is_some(),
            },
        );
        drop(in_flight);
        let announced = bars
            .announced
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1))
            .is_ok();
        if !announced {
            // Not announced (an index): counted as it starts.
            bars.files.total.fetch_add(1, Ordering::Relaxed);
            let message = bars.files.message("files");
            bars.grow(
                &bars.download,
                DOWNLOAD,
                "download",
                size.unwrap_or(0),
                message,
            );
        }
    }

    fn on_download_progress(&self, url: &str, bytes: u64) {
        let Some(bars) = &self.bars else { return };
        let sized = match bars
            .in_flight
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(url)
        {
            Some(flight) => {
                flight.received.fetch_add(bytes, Ordering::Relaxed);
                flight.sized
            }
            None => true,
        };
        if let Some(bar) = bars.download.get() {
            if !sized {
                bar.inc_length(bytes);
            }
            bar.inc(bytes);
        }
    }

    fn on_download_done(&self, url: &str, bytes: u64) {
        self.downloads.fetch_add(1, Ordering::Relaxed);
        self.bytes.fetch_add(bytes, Ordering::Relaxed);
        if let Some(bars) = &self.bars {
            bars.in_flight
                .write()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .remove(url);
            bars.files.done.fetch_add(1, Ordering::Relaxed);
            if let Some(bar) = bars.download.get() {
                bar.set_message(bars.files.message("files"));
            }
        }
        self.verbose(|| format!("downloaded {} ({})", download_name(url), HumanBytes(bytes)));
    }

    fn on_retry(&self, url: &str, error: &FetchError, wait: Duration) {
        if let Some(bars) = &self.bars
            && let Some(flight) = bars
                .in_flight
                .read()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .get(url)
            && let Some(bar) = bars.download.get()
        {
            let counted = flight.received.swap(0, Ordering::Relaxed);
            bar.dec(counted);
            if !flight.sized {
                bar.dec_length(counted);
            }
        }
        if self.verbosity != Verbosity::Quiet {
            self.line(&format!(
                "retrying in {}ms: {error} ({url})",
                wait.as_millis()
            ));
        }
    }
}

impl Progress {
    /// A package or wheel was made an object now: counted, on the unpack bar, and
    /// a line with `-v`.
    fn made(&self, line: impl FnOnce() -> String) {
        self.fresh.fetch_add(1, Ordering::Relaxed);
        if let Some(bar) = self.bars.as_ref().and_then(|b| b.unpack.get()) {
            bar.inc(1);
        }
        self.verbose(line);
    }
}

impl WheelReporter for Progress {
    fn on_wheels_start(&self, wheels: usize, downloads: usize, bytes: u64) {
        self.on_install_start(wheels, downloads, bytes);
    }

    fn on_wheel_ready(&self, wheel: &LockedWheel, _object: &StorePath, fresh: bool) {
        if fresh {
            self.made(|| format!("installed {} {}", wheel.name, wheel.version));
        }
    }
}

impl InstallReporter for Progress {
    fn on_install_start(&self, packages: usize, downloads: usize, bytes: u64) {
        let Some(bars) = &self.bars else { return };
        if packages == 0 {
            return;
        }
        if downloads > 0 {
            bars.announced.fetch_add(downloads, Ordering::Relaxed);
            bars.files.total.fetch_add(downloads, Ordering::Relaxed);
            let message = bars.files.message("files");
            bars.grow(&bars.download, DOWNLOAD, "download", bytes, message);
        }
        bars.grow(
            &bars.unpack,
            UNPACK,
            "unpack",
            packages as u64,
            String::new(),
        );
    }

    fn on_package_ready(&self, package: &LockedPackage, _object: &StorePath, fresh: bool) {
        if fresh {
            self.made(|| format!("unpacked {} {}", package.name, package.version));
        }
    }
}

impl cairn_build::StepReporter for Progress {
    fn on_step_start(&self, name: &str) {
        if self.verbosity != Verbosity::Quiet {
            self.line(&format!("running step {name}"));
        }
    }

    fn on_step_end(&self, name: &str, elapsed: std::time::Duration, ok: bool) {
        if self.verbosity != Verbosity::Quiet {
            let how = if ok { "ran" } else { "failed" };
            self.line(&format!(
                "step {name} {how} in {:.1} s",
                elapsed.as_secs_f64()
            ));
        }
    }
}

impl ImageReporter for Progress {
    fn on_layers_start(&self, count: usize, bytes: u64) {
        let Some(bars) = &self.bars else { return };
        if count == 0 {
            return;
        }
        bars.layers_written
            .total
            .fetch_add(count, Ordering::Relaxed);
        let message = bars.layers_written.message("layers");
        bars.grow(&bars.layers, LAYERS, "layers", bytes, message);
    }

    fn on_layer_written(&self, what: &str, bytes: u64, size: u64) {
        if let Some(bars) = &self.bars {
            bars.layers_written.done.fetch_add(1, Ordering::Relaxed);
            if let Some(bar) = bars.layers.get() {
                bar.inc(bytes);
                bar.set_message(bars.layers_written.message("layers"));
            }
        }
        self.verbose(|| format!("wrote layer {what} ({})", HumanBytes(size)));
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use cairn_store::Store;
    use indicatif::TermLike;

    use super::*;

    /// Bytes written, shared with the test.
    #[derive(Debug, Clone, Default)]
    struct Buffer(Arc<Mutex<Vec<u8>>>);

    impl Buffer {
        fn text(&self) -> String {
            String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
        }
    }

    impl Write for Buffer {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    /// A terminal that keeps what is written to it (cursor movements dropped).
    #[derive(Debug, Default)]
    struct Screen(Buffer);

    impl TermLike for Screen {
        fn width(&self) -> u16 {
            100
        }
        fn move_cursor_up(&self, _: usize) -> std::io::Result<()> {
            Ok(())
        }
        fn move_cursor_down(&self, _: usize) -> std::io::Result<()> {
            Ok(())
        }
        fn move_cursor_right(&self, _: usize) -> std::io::Result<()> {
            Ok(())
        }
        fn move_cursor_left(&self, _: usize) -> std::io::Result<()> {
            Ok(())
        }
        fn write_line(&self, s: &str) -> std::io::Result<()> {
            writeln!(self.0.clone(), "{s}")
        }
        fn write_str(&self, s: &str) -> std::io::Result<()> {
            write!(self.0.clone(), "{s}")
        }
        fn clear_line(&self) -> std::io::Result<()> {
            Ok(())
        }
        fn flush(&self) -> std::io::Result<()> {
            Ok(())
        }
    }

    fn package(name: &str) -> LockedPackage {
        LockedPackage {
            name: name.into(),
            version: "2.41-12".into(),
            architecture: "amd64".into(),
            repository: "trixie".into(),
            filename: format!("pool/main/{name}_2.41-12_amd64.deb"),
            size: 1 << 20,
            sha256: "0".repeat(64),
            source: name.into(),
            depends: Vec::new(),
        }
    }

    fn object(name: &str) -> StorePath {
        Store::input_path(name, &"0".repeat(64)).unwrap()
    }

    const LIBC: &str = "http://deb.example/debian/pool/main/libc6_2.41-12_amd64.deb";

    /// A fetch of two packages, one in the store already, and the layers of an image.
    fn run(progress: &Progress) {
        progress.on_package_ready(&package("base-files"), &object("base-files"), false);
        progress.on_install_start(1, 1, 1 << 20);
        progress.on_download_start(LIBC, Some(1 << 20));
        progress.on_download_progress(LIBC, 1 << 19);
        progress.on_download_progress(LIBC, 1 << 19);
        progress.on_download_done(LIBC, 1 << 20);
        progress.on_package_ready(&package("libc6"), &object("libc6"), true);
        progress.on_layers_start(1, 3 << 20);
        progress.on_layer_written("libc6 2.41-12", 3 << 20, 1 << 19);
        progress.summary(2);
    }

    const SUMMARY: &str =
        "2 packages in the store: 1 added (1 downloads, 1.0 MiB), 1 already there\n";

    #[test]
    fn verbose_prints_a_line_per_item_then_the_summary() {
        let buffer = Buffer::default();
        let progress = Progress::with_output(Verbosity::Verbose, None, Box::new(buffer.clone()));
        run(&progress);
        assert_eq!(
            buffer.text(),
            format!(
                "downloaded libc6_2.41-12_amd64.deb (1.00 MiB)\n\
                 unpacked libc6 2.41-12\n\
                 wrote layer libc6 2.41-12 (512.00 KiB)\n\
                 {SUMMARY}"
            )
        );
    }

    #[test]
    fn without_a_terminal_only_retries_and_the_summary_are_printed() {
        let buffer = Buffer::default();
        let progress = Progress::with_output(Verbosity::Normal, None, Box::new(buffer.clone()));
        let error = FetchError::Status {
            url: LIBC.into(),
            status: 503,
            attempts: 1,
        };
        progress.on_retry(LIBC, &error, Duration::from_millis(250));
        run(&progress);
        assert_eq!(
            buffer.text(),
            format!("retrying in 250ms: {error} ({LIBC})\n{SUMMARY}")
        );
    }

    #[test]
    fn quiet_prints_nothing() {
        let buffer = Buffer::default();
        let progress = Progress::with_output(Verbosity::Quiet, None, Box::new(buffer.clone()));
        let error = FetchError::Status {
            url: LIBC.into(),
            status: 503,
            attempts: 1,
        };
        progress.on_retry(LIBC, &error, Duration::from_millis(250));
        run(&progress);
        assert_eq!(buffer.text(), "");
    }

    #[test]
    fn verbose_lines_go_above_the_bars() {
        let screen = Screen::default();
        let drawn = screen.0.clone();
        let lines = Buffer::default();
        let progress = Progress::with_output(
            Verbosity::Verbose,
            Some(ProgressDrawTarget::term_like(Box::new(screen))),
            Box::new(lines.clone()),
        );
        run(&progress);
        let drawn = drawn.text();
        for line in [
            "downloaded libc6_2.41-12_amd64.deb (1.00 MiB)",
            "unpacked libc6 2.41-12",
            "wrote layer libc6 2.41-12 (512.00 KiB)",
        ] {
            assert!(drawn.contains(line), "{drawn}");
        }
        // The summary comes once the bars are gone.
        assert_eq!(lines.text(), SUMMARY);
    }

    #[test]
    fn bars_count_announced_work_and_take_back_a_failed_attempt() {
        let progress = Progress::with_output(
            Verbosity::Normal,
            Some(ProgressDrawTarget::hidden()),
            Box::new(Buffer::default()),
        );
        let bars = progress.bars.as_ref().unwrap();
        // An index of unknown size: counted when it is done.
        let index = "http://deb.example/debian/dists/trixie/InRelease";
        assert_eq!(download_name(index), "dists/trixie/InRelease");
        progress.on_download_start(index, None);
        progress.on_download_progress(index, 100);
        progress.on_download_done(index, 100);
        let download = bars.download.get().unwrap();
        assert_eq!((download.position(), download.length()), (100, Some(100)));
        assert!(bars.unpack.get().is_none(), "no unpacking yet");
        // Two packages announced; one attempt fails half-way and is tried again.
        progress.on_install_start(2, 2, 3000);
        assert_eq!(download.length(), Some(3100));
        let other = "http://deb.example/debian/pool/main/other_1_amd64.deb";
        std::thread::scope(|scope| {
            scope.spawn(|| {
                progress.on_download_start(LIBC, Some(1000));
                progress.on_download_progress(LIBC, 1000);
                progress.on_download_done(LIBC, 1000);
            });
            scope.spawn(|| {
                progress.on_download_start(other, Some(2000));
                progress.on_download_progress(other, 700);
                let error = FetchError::Status {
                    url: other.into(),
                    status: 503,
                    attempts: 1,
                };
                progress.on_retry(other, &error, Duration::ZERO);
                progress.on_download_start(other, Some(2000));
                progress.on_download_progress(other, 2000);
                progress.on_download_done(other, 2000);
            });
        });
        assert_eq!((download.position(), download.length()), (3100, Some(3100)));
        assert_eq!(bars.files.message("files"), "3/3 files");
        let unpack = bars.unpack.get().unwrap();
        progress.on_package_ready(&package("libc6"), &object("libc6"), true);
        progress.on_package_ready(&package("base-files"), &object("base-files"), false);
        assert_eq!((unpack.position(), unpack.length()), (1, Some(2)));
        // No layer to write: no layer bar.
        progress.on_layers_start(0, 0);
        assert!(bars.layers.get().is_none());
        progress.on_layers_start(2, 500);
        progress.on_layer_written("a", 200, 10);
        let layers = bars.layers.get().unwrap();
        assert_eq!((layers.position(), layers.length()), (200, Some(500)));
        assert_eq!(bars.layers_written.message("layers"), "1/2 layers");
        progress.finish();
        assert!(download.is_finished() && unpack.is_finished() && layers.is_finished());
    }
}
