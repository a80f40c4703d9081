import Synchronization

/// Holds the runtime in force. A reload swaps in a new one; a connection checks the cheap
/// generation number at each request and fetches the new runtime only when it changed.
final class EdgeRuntimeStore: Sendable {
    private let generationCounter = Atomic<Int>(0)
    private let state: Mutex<(generation: Int, runtime: EdgeRuntime)>

    init(_ runtime: EdgeRuntime) {
        self.state = Mutex((0, runtime))
    }

    var generation: Int {
        generationCounter.load(ordering: .acquiring)
    }

    /// The runtime in force and its generation.
    var current: (generation: Int, runtime: EdgeRuntime) {
        state.withLock { $0 }
    }

    /// Makes `runtime` the one new requests use; returns the one it replaced.
    @discardableResult
    func replace(with runtime: EdgeRuntime) -> EdgeRuntime {
        let previous = state.withLock { state -> EdgeRuntime in
            let previous = state.runtime
            state = (state.generation + 1, runtime)
            return previous
        }
        generationCounter.add(1, ordering: .releasing)
        return previous
    }
}
