import Testing
@testable import QBSyncCore

@Suite struct EnvironmentFileTests {
    @Test func parsesAssignmentsCommentsAndQuotes() {
        let parsed = EnvironmentFile.parse(
            """
            # a comment
            ; another comment
            QUICKBOOKS_CLIENT_ID=abc
              QBSYNCD_LOG_LEVEL = debug
            QUICKBOOKS_REDIRECT_URI="https://example.com/cb?a=1"
            QBSYNCD_CONTROL_GROUP='ops team'
            ESCAPED="say \\"hi\\""
            CONTINUED=one \\
            two

            """
        )
        #expect(parsed.problems == [])
        #expect(parsed.values["QUICKBOOKS_CLIENT_ID"] == "abc")
        #expect(parsed.values["QBSYNCD_LOG_LEVEL"] == "debug")
        #expect(parsed.values["QUICKBOOKS_REDIRECT_URI"] == "https://example.com/cb?a=1")
        #expect(parsed.values["QBSYNCD_CONTROL_GROUP"] == "ops team")
        #expect(parsed.values["ESCAPED"] == #"say "hi""#)
        #expect(parsed.values["CONTINUED"] == "one two")
    }

    @Test func reportsEveryMalformedLineWithItsNumber() {
        let parsed = EnvironmentFile.parse("GOOD=1\nno equals sign\n9BAD=1\nQUOTE=\"open\nTAIL=\"x\" y\n")
        #expect(parsed.values == ["GOOD": "1"])
        #expect(
            parsed.problems == [
                "line 2: expected KEY=value",
                "line 3: '9BAD' is not a valid variable name",
                "line 4: QUOTE: unterminated quote",
                "line 5: TAIL: text after the closing quote",
            ]
        )
    }

    @Test func crlfLineEndingsAreAccepted() {
        let parsed = EnvironmentFile.parse("A=1\r\nB=2\r\n")
        #expect(parsed.values == ["A": "1", "B": "2"])
    }
}
