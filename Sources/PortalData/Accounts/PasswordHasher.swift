import HummingbirdBcrypt
import NIOPosix

/// bcrypt hashing and checking, run on the thread pool so no event loop waits for it.
public enum PasswordHasher {
    /// The cost factor (2^12 rounds).
    public static let cost: UInt8 = 12

    public static func hash(_ password: String) async throws -> String {
        try await NIOThreadPool.singleton.runIfActive { Bcrypt.hash(password, cost: cost) }
    }

    public static func verify(_ password: String, hash: String) async throws -> Bool {
        try await NIOThreadPool.singleton.runIfActive { Bcrypt.verify(password, hash: hash) }
    }

    /// Spends the time of one real check, for an unknown account, so timing does not reveal it.
    public static func verifyDecoy(_ password: String) async throws {
        _ = try await NIOThreadPool.singleton.runIfActive { Bcrypt.verify(password, hash: decoyHash) }
    }

    /// Hash of a random password, made on first use (on the thread pool, in `verifyDecoy`).
    private static let decoyHash = Bcrypt.hash(PasswordGenerator.make(length: 32), cost: cost)
}
