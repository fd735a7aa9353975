import Testing
@testable import QBSyncDaemon

/// F3's decisions, without I/O: which connections are admitted and when a connection reads.
@Suite struct ControlAdmissionTests {
    @Test func oneUIDCannotFillTheSocket() {
        let policy = ControlAdmissionPolicy(maximum: 4, maximumPerUID: 3)
        #expect(policy.decide(open: 0, openForUID: 0, uid: 1000) == .admit)
        #expect(policy.decide(open: 3, openForUID: 2, uid: 1000) == .admit)
        guard case .refuse(let perUID) = policy.decide(open: 3, openForUID: 3, uid: 1000) else { Issue.record("admitted over the per-uid cap"); return }
        #expect(perUID.code == -32000)
        #expect(perUID.reason == "too_many_connections")
        #expect(perUID.message.contains("uid 1000"))
        guard case .refuse(let total) = policy.decide(open: 4, openForUID: 0, uid: 0) else { Issue.record("admitted over the total cap"); return }
        #expect(total.message.contains("4 control connections"))
    }

    @Test func admissionCountsAndReleases() {
        let admission = ControlAdmission()
        let policy = ControlAdmissionPolicy(maximum: 3, maximumPerUID: 2)
        #expect(admission.admit(uid: 7, policy: policy) == .admit)
        #expect(admission.admit(uid: 7, policy: policy) == .admit)
        #expect(admission.admit(uid: 7, policy: policy) != .admit, "uid 7 is at its cap")
        #expect(admission.admit(uid: 8, policy: policy) == .admit)
        #expect(admission.admit(uid: 9, policy: policy) != .admit, "the total is at its cap; a refusal takes no slot")
        admission.release(uid: 7)
        #expect(admission.admit(uid: 9, policy: policy) == .admit, "a released slot is free again")
    }

    @Test func readingStopsWhileAnswersPileUpOrTheChannelIsFull() {
        var flow = ControlBackpressure()
        #expect(flow.mayRead && flow.isIdle)
        flow.unwritten = ControlBackpressure.maximumUnwritten - 1
        #expect(flow.mayDispatch && flow.mayRead && !flow.isIdle)
        flow.unwritten = ControlBackpressure.maximumUnwritten
        #expect(!flow.mayDispatch && !flow.mayRead, "64 answers unwritten: nothing more is dispatched or read")
        flow.unwritten = 0
        flow.waiting = 1
        #expect(flow.mayDispatch && !flow.mayRead, "lines still wait: no more is read")
        flow.waiting = 0
        flow.writable = false
        #expect(!flow.mayDispatch && !flow.mayRead, "the peer does not read: neither do we")
    }
}
