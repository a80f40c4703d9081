import HummingbirdBcrypt
import NIOCore
import NIOPosix

/// bcrypt hashing and checking, run on a thread pool of its own: no event loop waits for it,
/// and a burst of sign-ins (each ~0.25 s of CPU) cannot hold up the database work that SQLite
/// and MariaDB run on NIO's shared thread pool.
public enum PasswordHasher {
    /// The cost factor (2^12 rounds).
    public static let cost: UInt8 = 12

    /// Started on first use and kept for the life of the process.
    private static let pool: NIOThreadPool = {
        let pool = NIOThreadPool(numberOfThreads: max(2, System.coreCount))
        pool.start()
        return pool
    }()

    public static func hash(_ password: String) async throws -> String {
        try await pool.runIfActive { Bcrypt.hash(password, cost: cost) }
    }

    public static func verify(_ password: String, hash: String) async throws -> Bool {
        try await pool.runIfActive { Bcrypt.verify(password, hash: hash) }
    }

    /// Spends the time of one real check, for an unknown account, so timing does not reveal it.
    public static func verifyDecoy(_ password: String) async throws {
        _ = try await pool.runIfActive { Bcrypt.verify(password, hash: decoyHash) }
    }

    /// Hash of a random password, made on first use (on the thread pool, in `verifyDecoy`).
    private static let decoyHash = Bcrypt.hash(PasswordGenerator.make(length: 32), cost: cost)
}
