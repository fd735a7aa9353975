import QBOClient
import Testing

@Suite struct RealmLimiterTests {
    func retryAfter(_ error: any Error) -> Int? {
        if case .overBudget(let seconds) = error as? QBOClientError { return seconds }
        return nil
    }

    @Test func theMinuteBudgetIsPerRealm() async throws {
        let limiter = RealmLimiter(budget: .init(perMinute: 3, perSecond: 100, concurrent: 100, batchesPerMinute: 100, maximumWait: .zero))
        for _ in 0..<3 {
            try await limiter.acquire(realmID: "a")
            limiter.release(realmID: "a")
        }
        await #expect { try await limiter.acquire(realmID: "a") } throws: { (1...61).contains(retryAfter($0) ?? -1) }
        try await limiter.acquire(realmID: "b")
    }

    @Test func concurrencyIsBoundedAndReleased() async throws {
        let limiter = RealmLimiter(budget: .init(perMinute: 100, perSecond: 100, concurrent: 1, batchesPerMinute: 100, maximumWait: .zero))
        try await limiter.acquire(realmID: "a")
        await #expect { try await limiter.acquire(realmID: "a") } throws: { retryAfter($0) != nil }
        limiter.release(realmID: "a")
        try await limiter.acquire(realmID: "a")
    }

    @Test func aThrottledRealmIsRefusedAtOnceForItsRetryAfter() async throws {
        let limiter = RealmLimiter()
        limiter.block(realmID: "a", seconds: 60)
        await #expect { try await limiter.acquire(realmID: "a") } throws: { (59...61).contains(retryAfter($0) ?? -1) }
        try await limiter.acquire(realmID: "other")
    }

    @Test func batchesHaveTheirOwnBudget() async throws {
        let limiter = RealmLimiter(budget: .init(perMinute: 100, perSecond: 100, concurrent: 100, batchesPerMinute: 1, maximumWait: .zero))
        try await limiter.acquire(realmID: "a", batch: true)
        limiter.release(realmID: "a")
        try await limiter.acquire(realmID: "a")
        limiter.release(realmID: "a")
        await #expect { try await limiter.acquire(realmID: "a", batch: true) } throws: { retryAfter($0) != nil }
    }
}
