/// The two processes `portal up` supervises.
enum ChildRole: String, Sendable, CaseIterable {
    case app
    case edge
}

/// What happens to the supervisor, in the order it happens.
enum SupervisorEvent: Sendable {
    case exited(ChildRole, status: Int32, generation: Int)
    case restartDue(ChildRole)
    case ready
    case startupTimedOut
    case stop(signal: String)
    /// SIGHUP: pass it on to the edge, which reloads its configuration.
    case reload
    case forceKill
}
