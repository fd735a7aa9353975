import NIOCore
import Testing

@testable import QBSyncDaemon

/// The control connection's answer order, without a channel.
@Suite struct ResponseSlotsTests {
    static func answer(_ text: String) -> ByteBuffer { ByteBuffer(string: text + "\n") }

    static func text(_ taken: (output: ByteBuffer, count: Int)?) -> String? {
        taken.map { String(buffer: $0.output) }
    }

    @Test func answersLeaveInRequestOrderAsTheirPrefixBecomesReady() {
        var answers = ResponseSlots()
        answers.append(ready: Self.answer("1"))
        let second = answers.reserve()
        answers.append(ready: Self.answer("3"))
        let first = answers.takeReady()
        #expect(Self.text(first) == "1\n" && first?.count == 1, "the third waits behind the second")
        #expect(answers.takeReady() == nil)
        answers.fill(second, with: Self.answer("2"))
        let rest = answers.takeReady()
        #expect(Self.text(rest) == "2\n3\n" && rest?.count == 2)
        #expect(answers.isEmpty)
    }

    @Test func aQuickAnswerNeverOvertakesASlowOneBeforeIt() {
        var answers = ResponseSlots()
        let slow = answers.reserve()
        let quick = answers.reserve()
        answers.fill(quick, with: Self.answer("quick"))
        #expect(answers.takeReady() == nil)
        #expect(!answers.isEmpty)
        answers.fill(slow, with: Self.answer("slow"))
        #expect(Self.text(answers.takeReady()) == "slow\nquick\n")
    }

    @Test func aNotificationKeepsItsPlaceAndWritesNothing() {
        var answers = ResponseSlots()
        let call = answers.reserve()
        answers.append(ready: ByteBuffer())  // a client notification: no answer
        answers.append(ready: Self.answer("after"))
        answers.fill(call, with: Self.answer("call"))
        let taken = answers.takeReady()
        #expect(Self.text(taken) == "call\nafter\n")
        #expect(taken?.count == 3, "the notification's slot counts as written, for the in-flight cap")
    }

    @Test func slotNumbersKeepCountingAcrossWrites() {
        var answers = ResponseSlots()
        for round in 0..<3 {
            let a = answers.reserve()
            let b = answers.reserve()
            #expect(b == a + 1 && a == round * 2, "request numbers run on across the connection")
            answers.fill(b, with: Self.answer("b\(round)"))
            answers.fill(a, with: Self.answer("a\(round)"))
            #expect(Self.text(answers.takeReady()) == "a\(round)\nb\(round)\n")
        }
        #expect(answers.isEmpty)
    }
}
