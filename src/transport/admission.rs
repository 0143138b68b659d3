//! How many SSH handshakes may be in flight. Hosts wait their turn in order; the number
//! allowed starts at the ceiling, is halved when handshakes slow down, and grows back by
//! an eighth after as many quick handshakes as it allows (TCP's congestion control,
//! applied to handshakes). Why:
//! when the other side is the bottleneck (a bastion, busy hosts, this machine), starting
//! more handshakes does not finish more per second, it only makes each one take longer
//! (Little's law) until healthy hosts miss the connect timeout.

use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::Semaphore;

/// How a handshake ended, for the controller.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Outcome {
    /// Finished after this long.
    Took(Duration),
    /// Did not finish within the connect timeout.
    TimedOut,
    /// Failed for another reason (refused, key, auth): says nothing about load.
    Failed,
}

/// The handshake queue.
pub struct Admission {
    permits: Semaphore,
    ceiling: usize,
    state: Mutex<State>,
}

struct State {
    limit: usize,
    /// Permits to retire as they come back (the limit fell while they were out).
    debt: usize,
    fastest: Option<Duration>,
    /// Quick handshakes since the limit last changed.
    quick: usize,
    /// Bumped when the limit falls: handshakes started before do not lower it again.
    epoch: u64,
}

/// A place in flight; give it back with `done` (dropping it counts as `Failed`).
pub struct Slot {
    admission: Arc<Admission>,
    epoch: u64,
}

impl Admission {
    /// At most `ceiling` (at least 1) handshakes in flight.
    pub fn new(ceiling: usize) -> Admission {
        let ceiling = ceiling.max(1);
        let limit = ceiling;
        Admission {
            permits: Semaphore::new(limit),
            ceiling,
            state: Mutex::new(State {
                limit,
                debt: 0,
                fastest: None,
                quick: 0,
                epoch: 0,
            }),
        }
    }

    /// The ceiling.
    pub fn ceiling(&self) -> usize {
        self.ceiling
    }

    /// Handshakes allowed in flight now.
    pub fn limit(&self) -> usize {
        self.state.lock().map_or(self.ceiling, |s| s.limit)
    }

    /// Waits for a place (None only if the queue was closed).
    pub async fn enter(self: &Arc<Self>) -> Option<Slot> {
        self.permits.acquire().await.ok()?.forget();
        let epoch = self.state.lock().map_or(0, |s| s.epoch);
        Some(Slot {
            admission: self.clone(),
            epoch,
        })
    }

    fn give_back(&self, s: &mut State) {
        if s.debt > 0 {
            s.debt -= 1;
        } else {
            self.permits.add_permits(1);
        }
    }

    fn record(&self, s: &mut State, epoch: u64, outcome: Outcome, limit: Duration) {
        let took = match outcome {
            Outcome::Failed => return,
            Outcome::TimedOut => None,
            Outcome::Took(d) => Some(d),
        };
        if let Some(d) = took {
            s.fastest = Some(s.fastest.map_or(d, |f| f.min(d)));
        }
        // Quick: within a quarter of the time limit (room for the slowest to still make
        // it), or twice the fastest so far when that is longer (a distant network).
        let quick_up_to = s
            .fastest
            .map_or(limit / 4, |f| (2 * f).max(limit / 4))
            .min(limit / 2);
        match took {
            Some(d) if d <= quick_up_to => {
                s.quick += 1;
                if s.quick >= s.limit && s.limit < self.ceiling {
                    s.quick = 0;
                    let grown = s.limit + (s.limit / 8).max(1);
                    self.raise(s, grown.min(self.ceiling));
                }
            }
            // Slow: halve, once for all the handshakes that were in flight together.
            _ if epoch == s.epoch => {
                let lower = (s.limit / 2).max(1);
                s.epoch += 1;
                s.quick = 0;
                let cut = s.limit - lower;
                let retired = self.permits.forget_permits(cut);
                s.debt += cut - retired;
                s.limit = lower;
            }
            _ => {}
        }
    }

    fn raise(&self, s: &mut State, to: usize) {
        for _ in s.limit..to {
            if s.debt > 0 {
                s.debt -= 1;
            } else {
                self.permits.add_permits(1);
            }
        }
        s.limit = to;
    }
}

impl Slot {
    /// Gives the place back, telling how the handshake went (`limit`: its time limit).
    pub fn done(self, outcome: Outcome, limit: Duration) {
        if let Ok(mut s) = self.admission.state.lock() {
            self.admission.record(&mut s, self.epoch, outcome, limit);
        }
        // Drop gives the permit back.
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        match self.admission.state.lock() {
            Ok(mut s) => self.admission.give_back(&mut s),
            // Another thread panicked holding the lock: keep the queue moving.
            Err(_) => self.admission.permits.add_permits(1),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use tokio::time::Instant;

    const LIMIT: Duration = Duration::from_secs(10);

    /// Jobs on the simulated machine: CPU milliseconds left, and whom to tell when done.
    type Jobs = Arc<Mutex<Vec<(f64, Option<tokio::sync::oneshot::Sender<()>>)>>>;

    #[test]
    fn halves_when_slow_once_per_wave_and_grows_back_while_quick() {
        let a = Admission::new(64);
        assert_eq!(a.limit(), 64);
        let quick = Outcome::Took(Duration::from_millis(100));
        let record = |o: Outcome, epoch: u64| {
            let mut s = a.state.lock().unwrap();
            a.record(&mut s, epoch, o, LIMIT);
        };
        record(quick, 0);
        assert_eq!(a.limit(), 64);
        // Slow: more than a quarter of the 10 s limit (and twice the fastest).
        record(Outcome::Took(Duration::from_secs(3)), 0);
        assert_eq!(a.limit(), 32);
        // Another slow one from the same wave does not halve again.
        record(Outcome::TimedOut, 0);
        assert_eq!(a.limit(), 32);
        record(Outcome::TimedOut, 1);
        assert_eq!(a.limit(), 16);
        // An eighth more after a limit's worth of quick ones.
        for _ in 0..16 {
            record(quick, 2);
        }
        assert_eq!(a.limit(), 18);
        // Failures say nothing about load.
        record(Outcome::Failed, 2);
        assert_eq!(a.limit(), 18);
        // Places given back while the limit fell are retired, not reused.
        assert_eq!(a.permits.available_permits(), 18);
    }

    #[test]
    fn the_ceiling_holds() {
        let a = Admission::new(3);
        assert_eq!(a.limit(), 3);
        for _ in 0..10 {
            let mut s = a.state.lock().unwrap();
            a.record(&mut s, 0, Outcome::Took(Duration::from_millis(1)), LIMIT);
        }
        assert_eq!(a.limit(), 3);
    }

    /// One machine with 2 cores shared fairly by every job on it (processor sharing), as
    /// in bench/scale.sh where one sshd stands for every host: a handshake is 25 ms of its
    /// CPU, and each host that got in then runs 300 ms of work there. With K handshakes in
    /// flight each takes about K x 325 ms / 2 cores (Little's law): 10.4 s for K = 64.
    /// Returns (hosts timed out, most handshakes in flight).
    async fn shared_machine(hosts: usize, gate: Gate) -> (usize, usize) {
        let jobs: Jobs = Arc::default();
        let cpu = {
            let jobs = jobs.clone();
            tokio::spawn(async move {
                let tick = Duration::from_millis(5);
                loop {
                    tokio::time::sleep(tick).await;
                    let mut v = jobs.lock().unwrap();
                    if v.is_empty() {
                        continue;
                    }
                    let share = (2.0 * 5.0 / v.len() as f64).min(5.0);
                    for (left, done) in v.iter_mut() {
                        *left -= share;
                        if *left <= 0.0 {
                            if let Some(d) = done.take() {
                                let _ = d.send(());
                            }
                        }
                    }
                    v.retain(|(left, _)| *left > 0.0);
                }
            })
        };
        let gate = Arc::new(gate);
        let peak = Arc::new(AtomicUsize::new(0));
        let inflight = Arc::new(AtomicUsize::new(0));
        let mut set = tokio::task::JoinSet::new();
        for _ in 0..hosts {
            let (gate, peak, inflight) = (gate.clone(), peak.clone(), inflight.clone());
            let handshake = run_later(&jobs);
            let work = run_later(&jobs);
            set.spawn(async move {
                let held = gate.pass().await;
                let n = inflight.fetch_add(1, Ordering::SeqCst) + 1;
                peak.fetch_max(n, Ordering::SeqCst);
                let started = Instant::now();
                let outcome = match tokio::time::timeout(LIMIT, handshake(25.0)).await {
                    Ok(_) => Outcome::Took(started.elapsed()),
                    Err(_) => Outcome::TimedOut,
                };
                inflight.fetch_sub(1, Ordering::SeqCst);
                held.finish(outcome);
                if outcome != Outcome::TimedOut {
                    let _ = work(300.0).await;
                }
                outcome
            });
        }
        let mut timed_out = 0;
        while let Some(r) = set.join_next().await {
            if r.unwrap() == Outcome::TimedOut {
                timed_out += 1;
            }
        }
        cpu.abort();
        (timed_out, peak.load(Ordering::SeqCst))
    }

    /// A job to start on the shared machine later (its CPU milliseconds given then).
    fn run_later(jobs: &Jobs) -> impl FnOnce(f64) -> tokio::sync::oneshot::Receiver<()> {
        let jobs = jobs.clone();
        move |ms| {
            let (tx, rx) = tokio::sync::oneshot::channel();
            jobs.lock().unwrap().push((ms, Some(tx)));
            rx
        }
    }

    /// The adaptive queue, or a plain one (every handshake started as soon as one of 64
    /// places is free, as before).
    enum Gate {
        Adaptive(Arc<Admission>),
        Fixed(Arc<Semaphore>),
    }

    enum Held {
        Adaptive(Slot),
        Fixed(tokio::sync::OwnedSemaphorePermit),
    }

    impl Gate {
        async fn pass(&self) -> Held {
            match self {
                Gate::Adaptive(a) => Held::Adaptive(a.enter().await.unwrap()),
                Gate::Fixed(s) => Held::Fixed(s.clone().acquire_owned().await.unwrap()),
            }
        }
    }

    impl Held {
        fn finish(self, outcome: Outcome) {
            match self {
                Held::Adaptive(slot) => slot.done(outcome, LIMIT),
                Held::Fixed(permit) => drop(permit),
            }
        }
    }

    #[tokio::test(start_paused = true)]
    async fn on_a_shared_busy_machine_admission_slows_instead_of_timing_hosts_out() {
        let (timed_out, _) = shared_machine(1000, Gate::Fixed(Arc::new(Semaphore::new(64)))).await;
        assert!(
            timed_out > 0,
            "the model is too easy: a fixed 64 timed nobody out"
        );
        let (timed_out, peak) =
            shared_machine(1000, Gate::Adaptive(Arc::new(Admission::new(64)))).await;
        assert_eq!(timed_out, 0, "healthy hosts timed out");
        assert!(peak <= 64);
    }
}
