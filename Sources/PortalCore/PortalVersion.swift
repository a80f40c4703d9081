/// The version of this build of Portal, as `portal version` prints it and `/health` reports it.
public enum PortalVersion {
    /// Semantic version of the package.
    public static let current = "0.1.0"
}
