import Testing
@testable import QBSyncDaemon

@Suite struct AccessPolicyTests {
    let policy = AccessPolicy(daemonUID: 999, controlGID: 500, readonlyGID: 600)

    func peer(uid: UInt32, gid: UInt32 = 100, groups: Set<UInt32> = []) -> PeerCredentials {
        PeerCredentials(pid: 1, uid: uid, gid: gid, groups: groups)
    }

    @Test func rootAndTheDaemonsOwnUserMayDoEverything() {
        #expect(policy.level(for: peer(uid: 0)) == .full)
        #expect(policy.level(for: peer(uid: 999)) == .full)
    }

    @Test func theControlGroupByPrimaryOrSupplementaryGroupMayDoEverything() {
        #expect(policy.level(for: peer(uid: 1000, gid: 500)) == .full)
        #expect(policy.level(for: peer(uid: 1000, groups: [7, 500])) == .full)
    }

    @Test func theReadOnlyGroupMayOnlyRead() {
        #expect(policy.level(for: peer(uid: 1000, groups: [600])) == .readOnly)
        #expect(policy.level(for: peer(uid: 1000, groups: [600, 500])) == .full)
    }

    @Test func anyoneElseMayDoNothing() {
        #expect(policy.level(for: peer(uid: 1000, groups: [1, 2])) == .none)
        let noGroups = AccessPolicy(daemonUID: 999, controlGID: nil, readonlyGID: nil)
        #expect(noGroups.level(for: peer(uid: 1000, gid: 500)) == .none)
    }
}
