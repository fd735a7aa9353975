public import Foundation

extension LeaseRules {
    /// How long a call forwarded to its company's holder is waited for: long enough to outlast a
    /// takeover (the holder may have died just before), and never less than 30 s.
    public var forwardedCallWait: TimeInterval { max(30, failoverBound + 10) }
    /// How often a caller looks for its answer when no announcement woke it.
    public static let forwardedAnswerPoll: Duration = .seconds(1)
}
