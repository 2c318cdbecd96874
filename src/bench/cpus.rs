//! Giving the broker and the clients CPUs of their own while the consume
//! part runs.
//!
//! In production the broker runs on machines of its own. On a small
//! benchmark machine it shares the cores with the client it feeds, and a
//! client that works on what it reads (the processor) takes CPU from the
//! broker that a client doing nothing with a message (the bare consumer)
//! leaves to it: the ratio then measures the machine, not the processor.
//! With `--broker-pid`, the broker's threads get the first half of the
//! CPUs this process may use and every thread of this process the other
//! half, for the bare consumers and the processor alike. Threads started
//! meanwhile (librdkafka's, the processor's) inherit the half of the
//! thread that starts them. Dropping the split gives both processes every
//! CPU back.

use anyhow::{Context, bail};

/// The CPUs split between the broker and this process, until dropped.
pub struct CpuSplit {
    broker_pid: i32,
    all: Vec<usize>,
    pub broker: Vec<usize>,
    pub clients: Vec<usize>,
}

impl CpuSplit {
    /// Splits the CPUs this process may use: the broker (every thread of
    /// `broker_pid`) gets the lower half, this process the upper half.
    pub fn apply(broker_pid: i32) -> anyhow::Result<CpuSplit> {
        let all = allowed(0)?;
        if all.len() < 2 {
            bail!(
                "--broker-pid: this process may use {} CPU, and splitting needs two",
                all.len()
            );
        }
        let (broker, clients) = all.split_at(all.len() / 2);
        let split = CpuSplit {
            broker_pid,
            all: all.clone(),
            broker: broker.to_vec(),
            clients: clients.to_vec(),
        };
        pin_process(broker_pid, &split.broker)
            .with_context(|| format!("pinning the broker (pid {broker_pid})"))?;
        pin_process(std::process::id() as i32, &split.clients).context("pinning this process")?;
        Ok(split)
    }
}

impl Drop for CpuSplit {
    fn drop(&mut self) {
        for pid in [self.broker_pid, std::process::id() as i32] {
            if let Err(e) = pin_process(pid, &self.all) {
                tracing::warn!(pid, error = %e, "could not give the CPUs back");
            }
        }
    }
}

/// Pins every thread of `pid` to `cpus`.
fn pin_process(pid: i32, cpus: &[usize]) -> anyhow::Result<()> {
    let tasks = std::fs::read_dir(format!("/proc/{pid}/task"))
        .with_context(|| format!("no process {pid} to pin"))?;
    for task in tasks {
        let tid: i32 = task?
            .file_name()
            .to_string_lossy()
            .parse()
            .context("a thread id in /proc")?;
        // A thread may end between the listing and the call: only the
        // threads that still exist need pinning.
        if let Err(e) = pin_thread(tid, cpus)
            && std::path::Path::new(&format!("/proc/{pid}/task/{tid}")).exists()
        {
            return Err(e);
        }
    }
    Ok(())
}

#[cfg(target_os = "linux")]
fn pin_thread(tid: i32, cpus: &[usize]) -> anyhow::Result<()> {
    // SAFETY: cpu_set_t is plain bits; CPU_ZERO/CPU_SET write inside it
    // and sched_setaffinity only reads it.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_ZERO(&mut set);
        for &c in cpus {
            libc::CPU_SET(c, &mut set);
        }
        if libc::sched_setaffinity(tid, std::mem::size_of::<libc::cpu_set_t>(), &set) != 0 {
            return Err(std::io::Error::last_os_error())
                .with_context(|| format!("sched_setaffinity({tid})"));
        }
    }
    Ok(())
}

/// The CPUs `pid` (0: this thread) may run on.
#[cfg(target_os = "linux")]
fn allowed(pid: i32) -> anyhow::Result<Vec<usize>> {
    // SAFETY: as in pin_thread; sched_getaffinity writes inside the set.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        if libc::sched_getaffinity(pid, std::mem::size_of::<libc::cpu_set_t>(), &mut set) != 0 {
            return Err(std::io::Error::last_os_error()).context("sched_getaffinity");
        }
        Ok((0..libc::CPU_SETSIZE as usize)
            .filter(|&c| libc::CPU_ISSET(c, &set))
            .collect())
    }
}

#[cfg(not(target_os = "linux"))]
fn pin_thread(_tid: i32, _cpus: &[usize]) -> anyhow::Result<()> {
    bail!("--broker-pid pins threads, which hoso does on Linux only")
}

#[cfg(not(target_os = "linux"))]
fn allowed(_pid: i32) -> anyhow::Result<Vec<usize>> {
    bail!("--broker-pid pins threads, which hoso does on Linux only")
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    /// A child process stands in for the broker: after the split it may
    /// run only on the lower half, this process only on the upper half,
    /// and both get every CPU back when the split is dropped.
    #[test]
    fn splits_and_gives_back() {
        let all = allowed(0).unwrap();
        if all.len() < 2 {
            eprintln!("one CPU: nothing to split");
            return;
        }
        let mut child = std::process::Command::new("sleep")
            .arg("30")
            .spawn()
            .unwrap();
        let pid = child.id() as i32;
        {
            let split = CpuSplit::apply(pid).unwrap();
            assert_eq!(allowed(pid).unwrap(), split.broker);
            assert_eq!(allowed(0).unwrap(), split.clients);
            // A thread started now inherits the clients' half.
            let inherited = std::thread::spawn(|| allowed(0).unwrap()).join().unwrap();
            assert_eq!(inherited, split.clients);
            assert!(split.broker.iter().all(|c| !split.clients.contains(c)));
        }
        assert_eq!(allowed(pid).unwrap(), all);
        assert_eq!(allowed(0).unwrap(), all);
        child.kill().unwrap();
        child.wait().unwrap();
    }
}
