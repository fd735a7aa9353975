/// Every logging metadata key the project uses, in one place.
///
/// The journald handler maps `a.b` to the field `A_B` (so `qbsync.org` becomes `QBSYNC_ORG`).
public enum LogKey {
    public static let org = "qbsync.org"
    public static let realm = "qbsync.realm"
    public static let event = "qbsync.event"
    public static let demand = "qbsync.demand"
    public static let rpcMethod = "rpc.method"
    public static let rpcID = "rpc.id"
    public static let correlationID = "rpc.correlation_id"
    public static let connection = "control.connection"
    public static let peerPID = "peer.pid"
    public static let peerUID = "peer.uid"
    public static let peerGID = "peer.gid"
    public static let error = "error"
    public static let path = "path"
}
