/// The version of every binary in this package.
public enum QBSyncVersion {
    public static let current = "0.1.0"
}
