public import QBSyncCore

extension OrgID {
    /// An org id written in a test (`.test("acme")`); an invalid one is a bug in the test.
    public static func test(_ value: String) -> OrgID {
        guard let id = OrgID(value) else { preconditionFailure("'\(value)' is not an org id") }
        return id
    }
}

extension Money {
    /// A two-place decimal amount written in a test (`"1250.10"`).
    public static func test(_ text: String) -> Money {
        guard let money = Money(decimalString: text) else { preconditionFailure("'\(text)' is not an amount") }
        return money
    }
}

extension OrgParams {
    /// `{org}` for an org id the test computed.
    public static func named(_ org: String) -> OrgParams { OrgParams(org: .test(org)) }
}
