import Synchronization

/// Values worked out once per key and kept. Keys carry what makes a value stale (a run's id),
/// so stale values are never found again; when more than `limit` are kept, all are dropped.
///
/// A value is made once however many ask for it together: the first makes it, the others wait
/// for it rather than each doing the same work (32 users opening the first page after a start
/// would otherwise build it 32 times over, on the same two cores).
public final class Memo<Value: Sendable>: Sendable {
    private final class Slot: Sendable {
        let value = Mutex<Value?>(nil)
    }
    private let slots = Mutex<[String: Slot]>([:])
    public let limit: Int

    public init(limit: Int) { self.limit = limit }

    /// How many keys have a value kept or being made.
    public var count: Int { slots.withLock { $0.count } }

    /// The value for `key`, made and kept when missing. A value that fails to be made is not kept.
    public func value<E: Error>(_ key: String, _ make: () throws(E) -> Value) throws(E) -> Value {
        let slot = slots.withLock { slots in
            if let slot = slots[key] { return slot }
            if slots.count >= limit { slots.removeAll() }
            let slot = Slot()
            slots[key] = slot
            return slot
        }
        return try slot.value.withLock { (value: inout Value?) throws(E) -> Value in
            if let value { return value }
            let made = try make()
            value = made
            return made
        }
    }
}
