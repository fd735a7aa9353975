import Foundation
import Testing
@testable import QBOClient

/// Values in Intuit's query language (L2): `'` as `\'` (the only escape Intuit documents), a
/// backslash never written (a `LIKE` with `%` instead), control characters refused.
@Suite struct QueryTextTests {
    @Test func quotesAreEscapedWithABackslash() {
        #expect(AccountingClient.condition("DisplayName", equals: "O'Brien") == #"DisplayName = 'O\'Brien'"#)
        #expect(AccountingClient.condition("DocNumber", equals: "SC-1") == "DocNumber = 'SC-1'")
        #expect(AccountingClient.condition("Name", equals: "Fees+Charges & 100%") == "Name = 'Fees+Charges & 100%'", "% is literal in =")
    }

    /// A value ending in a backslash escaped its own closing quote at Intuit (quickbooks-ruby#345);
    /// `\\` has no documented meaning. Neither is ever sent.
    @Test func aBackslashIsLookedUpWithLike() {
        #expect(AccountingClient.condition("Name", equals: #"Fees\Charges"#) == "Name LIKE 'Fees%Charges'")
        #expect(AccountingClient.condition("Name", equals: #"Case b\"#) == "Name LIKE 'Case b%'")
        #expect(AccountingClient.condition("Name", equals: #"O'Brien\"#) == #"Name LIKE 'O\'Brien%'"#)
        #expect(AccountingClient.likePattern("Service Charge", suffix: "%") == "'Service Charge%'")
        for value in [#"a\b"#, #"\"#, #"x\\'"#, "plain"] {
            let clause = AccountingClient.condition("Name", equals: value)
            #expect(!clause.replacingOccurrences(of: #"\'"#, with: "").contains("\\"), "\(clause)")
        }
    }

    @Test func controlCharactersAreFound() {
        #expect(AccountingClient.hasControlCharacters("Maple\u{7}Court"))
        #expect(AccountingClient.hasControlCharacters("SC-1\n"))
        #expect(AccountingClient.hasControlCharacters("tab\there"))
        #expect(AccountingClient.hasControlCharacters("del\u{7F}"))
        #expect(AccountingClient.hasControlCharacters("c1\u{85}"))
        #expect(!AccountingClient.hasControlCharacters("Café O'Brien – Nº 5 ☕"))
    }

    @Test func undeletedNameTakesIntuitsSuffixOff() {
        #expect(AccountingClient.undeletedName("Service Charge (deleted)") == "Service Charge")
        #expect(AccountingClient.undeletedName("Service Charge") == "Service Charge")
    }
}
