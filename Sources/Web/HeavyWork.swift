import Dispatch
import Foundation
import Synchronization

/// Where requests do their heavy work (evaluating cohorts, ranking worklists, hashing passwords):
/// on threads of its own, a few at a time, never on the server's event loops, so `/health` and
/// the light pages answer while heavy requests queue.
///
/// Each job gets a deadline when it is admitted (after its first step on the store's threads, if
/// it has one); time spent waiting for a thread counts against it, and cohort evaluation stops
/// once it passes. When as many jobs are admitted as the queue holds, more are refused at once
/// with `Busy` (503 and `Retry-After`) rather than queued without end.
final class HeavyWork: Sendable {
    /// Jobs running at once: the machine's cores.
    let running: Int
    /// Jobs admitted (running or waiting) before more are refused: 32 per core, so a burst of
    /// users waits its turn (each within its deadline) rather than being turned away.
    let admitted: Int
    /// How long a job may take from admission (or from the end of its first step).
    let budget: Duration

    /// Jobs admitted, jobs running, and jobs waiting for a thread in order. No thread ever waits:
    /// a job is handed to the queue only when one of the running slots is free.
    private struct State {
        var admitted = 0
        var running = 0
        var waiting: [@Sendable () -> Void] = []
    }
    private let state = Mutex(State())
    private let queue = DispatchQueue(label: "phm.heavy-work", attributes: .concurrent)

    init(
        running: Int = ProcessInfo.processInfo.activeProcessorCount, admitted: Int? = nil, budget: Duration = .seconds(10)
    ) {
        self.running = max(1, running)
        self.admitted = admitted ?? max(1, running) * 32
        self.budget = budget
    }

    /// Refused because the queue is full, or the job's turn came after its deadline.
    struct Busy: Error, CustomStringConvertible {
        var description: String { "the server is busy: try again in a few seconds" }
        static let retryAfter = "5"
    }

    /// Runs `work` on a worker thread with its deadline, or throws `Busy`.
    func run<T: Sendable>(_ work: @escaping @Sendable (ContinuousClock.Instant) throws -> T) async throws -> T {
        try admit()
        defer { release() }
        let deadline = ContinuousClock.now.advanced(by: budget)
        return try await inSlot(deadline) { try work(deadline) }
    }

    /// Once the job is admitted, `first` runs on the store's threads without holding a slot
    /// (what waits on the store, such as the request's audit entry), then `work` in a slot with
    /// what `first` gave. A job refused as busy does neither. The deadline runs from the end of
    /// `first`: a wait on the store, which the light requests share, is not the heavy work's to
    /// refuse.
    func run<First: Sendable, T: Sendable>(
        first: @escaping @Sendable () throws -> First,
        _ work: @escaping @Sendable (First, ContinuousClock.Instant) throws -> T
    ) async throws -> T {
        try admit()
        defer { release() }
        let given = try await WebApp.offLoop(first)
        let deadline = ContinuousClock.now.advanced(by: budget)
        return try await inSlot(deadline) { try work(given, deadline) }
    }

    /// Counts the job in, or throws `Busy` when the queue is full.
    private func admit() throws {
        let admittedNow = state.withLock { state -> Bool in
            guard state.admitted < admitted else { return false }
            state.admitted += 1
            return true
        }
        guard admittedNow else { throw Busy() }
    }

    private func release() { state.withLock { $0.admitted -= 1 } }

    /// `work` in a slot, or `Busy` when its turn comes after the deadline.
    private func inSlot<T: Sendable>(
        _ deadline: ContinuousClock.Instant, _ work: @escaping @Sendable () throws -> T
    ) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            start { [self] in
                defer { finished() }
                guard ContinuousClock.now < deadline else { return continuation.resume(throwing: Busy()) }
                continuation.resume(with: Result { try work() })
            }
        }
    }

    /// Runs a job now if a slot is free, else queues it.
    private func start(_ job: @escaping @Sendable () -> Void) {
        let now = state.withLock { state -> Bool in
            guard state.running < running else {
                state.waiting.append(job)
                return false
            }
            state.running += 1
            return true
        }
        if now { queue.async(execute: job) }
    }

    /// A job ended: its slot goes to the longest waiting job, if any.
    private func finished() {
        let next = state.withLock { state -> (@Sendable () -> Void)? in
            guard !state.waiting.isEmpty else {
                state.running -= 1
                return nil
            }
            return state.waiting.removeFirst()
        }
        if let next { queue.async(execute: next) }
    }
}
