import NIOCore
import NIOPosix
import Synchronization
import Testing
@testable import QBSyncDaemon

/// L3: the peer's groups from SO_PEERGROUPS' zero-padded answer, or from `/proc` only when it is still the same user.
@Suite struct PeerGroupsTests {
    @Test func theSortedListEndsWhereThePaddingBegins() {
        #expect(PeerGroups.parse([4, 27, 1001, 0, 0, 0], isEmpty: false) == [4, 27, 1001])
        #expect(PeerGroups.parse([0, 27, 0, 0], isEmpty: false) == [0, 27], "gid 0 first, then padding")
        #expect(PeerGroups.parse([0, 0, 0, 0], isEmpty: false) == [0], "only gid 0")
        #expect(PeerGroups.parse([0, 0, 0, 0], isEmpty: true) == [], "no groups at all: padding only")
        #expect(PeerGroups.parse([5, 5, 9, 0], isEmpty: false) == [5, 9])
        #expect(PeerGroups.parse([], isEmpty: false) == [])
    }

    @Test func theBufferHoldsTwoHundredFiftySixGroupsInOrder() {
        var buffer = PeerGroups.Buffer()
        buffer.words.0[0] = 10
        buffer.words.0[1] = 20
        buffer.words.3[63] = 99
        let words = buffer.array
        #expect(words.count == PeerGroups.capacity)
        #expect(MemoryLayout<PeerGroups.Buffer>.size == PeerGroups.capacity * 4)
        #expect(words[0] == 10 && words[1] == 20 && words[255] == 99)
        #expect(MemoryLayout<PeerGroups.EmptyAnswer>.size == 0)
    }

    static let status = """
        Name:\tpython3
        Pid:\t4242
        Uid:\t1000\t1000\t1000\t1000
        Gid:\t1000\t1000\t1000\t1000
        Groups:\t4 27 998 1000 
        """

    @Test func procIsTrustedOnlyForTheSameEffectiveIDs() {
        #expect(PeerGroups.parse(procStatus: Self.status, uid: 1000, gid: 1000) == [4, 27, 998, 1000])
        #expect(PeerGroups.parse(procStatus: Self.status, uid: 1001, gid: 1000) == [], "the pid now belongs to someone else")
        #expect(PeerGroups.parse(procStatus: Self.status, uid: 1000, gid: 50) == [])
        #expect(PeerGroups.parse(procStatus: "Name:\tx\n", uid: 0, gid: 0) == [], "no Uid line")
        let none = Self.status.replacingOccurrences(of: "Groups:\t4 27 998 1000 ", with: "Groups:")
        #expect(PeerGroups.parse(procStatus: none, uid: 1000, gid: 1000) == [])
    }

    @Test func procIsReadOffTheEventLoop() async throws {
        let loop = MultiThreadedEventLoopGroup.singleton.next()
        let onLoop = Mutex<Bool?>(nil)
        let credentials = PeerCredentials.UnixCredentials(pid: 4242, uid: 1000, gid: 1000)
        let groups = try await loop.flatSubmit {
            PeerGroups.fromProc(credentials, eventLoop: loop) { _ in
                onLoop.withLock { $0 = loop.inEventLoop }
                return Self.status
            }
        }.get()
        #expect(groups == [4, 27, 998, 1000])
        #expect(onLoop.withLock { $0 } == false, "the /proc read ran on the thread pool")
        let gone = try await PeerGroups.fromProc(credentials, eventLoop: loop) { _ in nil }.get()
        #expect(gone == [], "an unreadable status gives no groups")
    }
}
