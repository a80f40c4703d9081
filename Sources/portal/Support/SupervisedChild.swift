import Foundation

/// Ties a child process started by `portal up` to its supervisor: when the supervisor is gone,
/// even after SIGKILL, the child stops itself gracefully, so no orphan keeps a port.
///
/// A watcher thread compares the parent PID once a second. (`PR_SET_PDEATHSIG` is not used: it
/// fires when the *thread* that spawned the child exits, and the supervisor spawns from a pool
/// thread that may be retired while the supervisor lives on.)
enum SupervisedChild {
    static let supervisorVariable = "PORTAL_INTERNAL_SUPERVISOR_PID"
    /// Exit status of a child that cannot start (EX_CONFIG): the supervisor gives up instead of retrying.
    static let startupFailureStatus: Int32 = 78

    static func attachToSupervisor() {
        guard let text = ProcessInfo.processInfo.environment[supervisorVariable], let supervisor = Int32(text) else {
            return
        }
        if getppid() != supervisor { exit(0) }
        // A plain thread rather than a task: it must keep watching even if every task is blocked.
        let watcher = Thread {
            while getppid() == supervisor {
                sleep(1)
            }
            kill(getpid(), SIGTERM)
            // Graceful stop gets 30 seconds; after that the process goes regardless.
            sleep(30)
            exit(1)
        }
        watcher.name = "portal-parent-watch"
        watcher.start()
    }
}
