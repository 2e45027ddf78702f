import Dispatch

/// Runs work across cores. Callers give each iteration its own output slot, so no state is shared.
public enum Parallel {
    /// Calls `body(i)` for `i` in `0..<count` on all cores and returns the results in order.
    public static func map<T: Sendable>(_ count: Int, _ body: @Sendable (Int) -> T) -> [T] {
        var results = [T?](repeating: nil, count: count)
        results.withUnsafeMutableBufferPointer { buffer in
            let slots = Unchecked(buffer.baseAddress!)
            DispatchQueue.concurrentPerform(iterations: count) { i in
                slots.value[i] = body(i)
            }
        }
        return results.map { $0! }
    }

    /// Splits `0..<total` into about `parts` contiguous ranges.
    public static func ranges(_ total: Int, parts: Int) -> [Range<Int>] {
        let parts = max(1, min(parts, total))
        return (0..<parts).map { k in (total * k / parts)..<(total * (k + 1) / parts) }
    }
}

/// Wraps a value that is safe to share because each task touches a disjoint part of it.
public struct Unchecked<Value>: @unchecked Sendable {
    public var value: Value
    public init(_ value: Value) { self.value = value }
}
