import Foundation
import PHMCore
import Synchronization
import Testing

@Suite struct MemoTests {
    /// Many asking together for a missing value wait for one making rather than each making it.
    @Test func makesAValueOnceForEveryoneAskingTogether() async {
        final class Count: Sendable { let value = Mutex(0) }
        let memo = Memo<Int>(limit: 10)
        let makings = Count()
        let values = await withTaskGroup(of: Int.self) { group in
            for _ in 0..<16 {
                group.addTask {
                    memo.value("page") {
                        makings.value.withLock { $0 += 1 }
                        Thread.sleep(forTimeInterval: 0.05)
                        return 42
                    }
                }
            }
            return await group.reduce(into: [Int]()) { $0.append($1) }
        }
        #expect(values == Array(repeating: 42, count: 16))
        #expect(makings.value.withLock { $0 } == 1)
    }

    @Test func aValueThatFailsIsMadeAgainAndTheLimitStartsAfresh() throws {
        struct Failed: Error {}
        let memo = Memo<Int>(limit: 2)
        #expect(throws: Failed.self) { try memo.value("a") { () throws(Failed) -> Int in throw Failed() } }
        #expect(memo.value("a") { 1 } == 1)
        #expect(memo.value("a") { 2 } == 1)
        _ = memo.value("b") { 3 }
        _ = memo.value("c") { 4 }  // over the limit: everything kept so far is dropped
        #expect(memo.value("a") { 5 } == 5)
    }
}
