import Synchronization

/// Values worked out once per key and kept. Keys carry what makes a value stale (a run's id),
/// so stale values are never found again; when more than `limit` are kept, all are dropped.
public final class Memo<Value: Sendable>: Sendable {
    private let values = Mutex<[String: Value]>([:])
    public let limit: Int

    public init(limit: Int) { self.limit = limit }

    /// The value for `key`, made (outside the lock) and kept when missing.
    public func value(_ key: String, _ make: () throws -> Value) rethrows -> Value {
        if let value = values.withLock({ $0[key] }) { return value }
        let value = try make()
        values.withLock {
            if $0.count >= limit { $0.removeAll() }
            $0[key] = value
        }
        return value
    }
}
